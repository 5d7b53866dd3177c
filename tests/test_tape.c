/* The tape: reset and reuse, stats, the allocation-free steady state, the
 * arena limit, printing and DOT export, anomaly mode, stale tensors after
 * reset. */
#include "common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/core/internal.h" /* tg__tensor_live_on: a probe that sets no error */

/* A small two-layer network built from elementwise ops and sums (no matmul,
 * so this suite depends on the core alone). */
static tg_tensor *tiny_net(tg_tape *tp, tg_tensor *x, tg_tensor *w1, tg_tensor *w2)
{
    tg_tensor *h = tg_sigmoid(tp, tg_sum(tp, tg_mul(tp, x, w1), 1, (int[]){1}, false));
    tg_tensor *o = tg_tanh(tp, tg_mul(tp, h, w2));
    return tg_sum_all(tp, tg_square(tp, o));
}

START_TEST(test_reset_and_stats)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(4, 3), 1, -1, 1);
    tg_tensor *w1 = tt_param(2, TT_SHAPE(4, 3), 2, -1, 1);
    tg_tensor *w2 = tt_param(1, TT_SHAPE(4), 3, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tape_stats s0 = tg_tape_usage(tp);
    ck_assert_int_eq(s0.nodes, 0);
    tg_tensor *loss = tiny_net(tp, x, w1, w2);
    ck_assert_ptr_nonnull(loss);
    tg_tape_stats s1 = tg_tape_usage(tp);
    ck_assert_int_eq(s1.nodes, 7);
    ck_assert_int_eq(s1.tensors, 7);
    ck_assert_uint_gt(s1.bytes_in_use, 0);
    ck_assert_uint_ge(s1.high_water, s1.bytes_in_use);
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    double first = tg_tensor_get_flat(tg_tensor_grad(w2), 0);
    tg_tape_reset(tp);
    tg_tape_stats s2 = tg_tape_usage(tp);
    ck_assert_int_eq(s2.nodes, 0);
    ck_assert_uint_eq(s2.bytes_in_use, 0);
    ck_assert_uint_ge(s2.high_water, s1.bytes_in_use); /* the mark survives reset */
    /* the tape is fully usable again and gives the same answer */
    loss = tiny_net(tp, x, w1, w2);
    ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    ck_assert(tg_tensor_get_flat(tg_tensor_grad(w2), 0) == first);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w1);
    tg_tensor_free(w2);
}
END_TEST

/* ---- counting allocator ------------------------------------------------------- */
static long g_allocs;
static void *cnt_malloc(size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return realloc(p, n);
}
static void cnt_free(void *p, void *c)
{
    (void)c;
    free(p);
}

/* DESIGN.md: "a training loop's steady state allocates nothing".  Steps of
 * reset + forward + backward + SGD update, counting every heap allocation of
 * the library after the first steps. */
START_TEST(test_steady_state_allocates_nothing)
{
    tg_allocator al = {cnt_malloc, cnt_realloc, cnt_free, NULL};
    tg_set_allocator(&al);
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(8, 5), 1, -1, 1);
    tg_tensor *w1 = tt_param(2, TT_SHAPE(8, 5), 2, -1, 1);
    tg_tensor *w2 = tt_param(1, TT_SHAPE(8), 3, -1, 1);
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_chunk = 1024}); /* force chunk growth */
    long per_step[6];
    for (int step = 0; step < 6; step++) {
        long before = g_allocs;
        tg_tape_reset(tp);
        tg_tensor *loss = tiny_net(tp, x, w1, w2);
        ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
        for (int64_t i = 0; i < tg_tensor_numel(w1); i++)
            tg_tensor_set_flat(
                w1, i, tg_tensor_get_flat(w1, i) - 0.1 * tg_tensor_get_flat(tg_tensor_grad(w1), i));
        per_step[step] = g_allocs - before;
    }
    ck_assert_int_gt(per_step[0], 0); /* the first step does allocate */
    for (int step = 2; step < 6; step++)
        ck_assert_msg(per_step[step] == 0, "step %d made %ld allocations", step, per_step[step]);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w1);
    tg_tensor_free(w2);
    tg_set_allocator(NULL);
}
END_TEST

START_TEST(test_arena_limit)
{
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_limit = 4096});
    tg_tensor *big = tg_tensor_new(TG_F64, 1, TT_SHAPE(1000)); /* 8000 bytes */
    tg_tensor *small = tg_tensor_new(TG_F64, 1, TT_SHAPE(4));
    ck_assert_ptr_null(tg_exp(tp, big));
    tt_assert_tape_error(tp, TG_ERR_NOMEM, "arena", "limit 4096");
    /* later ops return NULL and keep the first error */
    ck_assert_ptr_null(tg_exp(tp, small));
    tt_assert_tape_error(tp, TG_ERR_NOMEM, "arena");
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_str_eq(tg_tape_error(tp), "");
    ck_assert_ptr_nonnull(tg_exp(tp, small));
    /* the user's tensor was not touched */
    ck_assert(tg_tensor_get_flat(big, 999) == 0.0);
    tg_tape_free(tp);
    tg_tensor_free(big);
    tg_tensor_free(small);
}
END_TEST

START_TEST(test_print_and_dot)
{
    tg_tensor *x = tt_from(TG_F32, 1, TT_SHAPE(2), TT_VALUES(0.5, -1));
    tg_tensor *w = tt_from(TG_F32, 1, TT_SHAPE(2), TT_VALUES(2, 3));
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_sigmoid(tp, tg_mul(tp, x, w)));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tg_tape_print(tp, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "$0 = input  f32[2]"));
    ck_assert_ptr_nonnull(strstr(buf, "$1 = input (requires grad)  f32[2]"));
    ck_assert_ptr_nonnull(strstr(buf, "%0 = mul($0, $1)  f32[2]"));
    ck_assert_ptr_nonnull(strstr(buf, "%1 = sigmoid(%0)  f32[2]"));
    ck_assert_ptr_nonnull(strstr(buf, "%2 = sum(%1)  f32[]"));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(tg_tape_write_dot(tp, f, 4), TG_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "digraph tape"));
    ck_assert_ptr_nonnull(strstr(buf, "u1 -> n0"));
    ck_assert_ptr_nonnull(strstr(buf, "n0 -> n1"));
    ck_assert_ptr_nonnull(strstr(buf, "grad")); /* w's gradient is shown */
    free(buf);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_anomaly_mode)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, -1, 2));
    tg_tape *tp = tg_tape_new(&(tg_tape_options){.anomaly = true});
    tg_tensor *e = tg_exp(tp, x);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(tg_log(tp, tg_neg(tp, x))); /* log(-1) = NaN at index 0 */
    tt_assert_tape_error(tp, TG_ERR_NUMERIC, "log", "NaN", "index 0", "f64[3]");
    ck_assert_int_eq(tg_tape_error_node(tp), 2);
    /* off: the NaN goes through silently, as IEEE arithmetic says */
    tg_tape_reset(tp);
    tg_tape_set_anomaly(tp, false);
    tg_tensor *l = tg_log(tp, tg_neg(tp, x));
    ck_assert_ptr_nonnull(l);
    ck_assert(isnan(tg_tensor_get_flat(l, 0)));
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

START_TEST(test_stale_and_foreign_tensors)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    tg_tape *a = tg_tape_new(NULL), *b = tg_tape_new(NULL);
    tg_tensor *ya = tg_exp(a, x);
    ck_assert_ptr_null(tg_exp(b, ya));
    tt_assert_tape_error(b, TG_ERR_TAPE, "exp", "another tape");
    tg_tape_reset(a);
    ck_assert_ptr_null(tg_exp(a, ya));
    tt_assert_tape_error(a, TG_ERR_TAPE, "exp", "stale");
    /* a user-owned tensor is fine on both tapes */
    tg_tape_reset(a);
    tg_tape_reset(b);
    ck_assert_ptr_nonnull(tg_exp(a, x));
    ck_assert_ptr_nonnull(tg_exp(b, x));
    tg_tape_free(a);
    tg_tape_free(b);
    tg_tensor_free(x);
}
END_TEST

/* Issue 18, item 4: reset rewound the arena, the same graph built again put
 * each new tensor at the address of the old one, and a tensor kept from
 * before the reset passed for the new one: add(y_old, x) computed
 * neg(x) + x.  It must be TG_ERR_TAPE "stale". */
START_TEST(test_stale_after_reset_same_graph)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y_old = tg_neg(tp, x);
    ck_assert_ptr_nonnull(y_old);
    tg_tape_reset(tp);
    tg_tensor *y = tg_neg(tp, x); /* the same graph again */
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_null(tg_add(tp, y_old, x));
    tt_assert_tape_error(tp, TG_ERR_TAPE, "add", "input 0", "stale");
    /* and the scalar version (a B1-like tape), over several resets */
    tg_tensor *s = tg_tensor_scalar(TG_F64, 1.5);
    for (int r = 0; r < 6; r++) {
        tg_tape_reset(tp);
        tg_tensor *a = tg_mul(tp, s, s);
        tg_tensor *b = tg_add(tp, a, s);
        ck_assert_ptr_nonnull(b);
        tg_tape_reset(tp);
        tg_tensor *a2 = tg_mul(tp, s, s);
        ck_assert_ptr_nonnull(tg_add(tp, a2, s));
        ck_assert_ptr_null(tg_add(tp, b, s));
        tt_assert_tape_error(tp, TG_ERR_TAPE, "add", "input 0", "stale");
    }
#if TG_ASAN
    /* a sanitizer build reports any other read of a stale tensor */
    tg_tape_reset(tp);
    tg_tensor *z = tg_exp(tp, x);
    tg_tape_reset(tp);
    ck_assert(__asan_address_is_poisoned(z));
    ck_assert(__asan_address_is_poisoned((const char *)z + sizeof(struct tg_tensor) - 1));
#endif
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(s);
}
END_TEST

/* A random graph of tensors of assorted ranks, extents (0-d scalars, small
 * tensors whose data sits with the header, big ones) and both dtypes, made
 * by ops and by tg_tape_alloc; the tensors go to out[0..n). */
static int random_graph(tg_tape *tp, tg_rng *r, tg_tensor *const *users, int nusers,
                        tg_tensor **out, int cap)
{
    int n = 0;
    while (n < cap) {
        const uint64_t k = tg_rng_next(r) % 6;
        tg_tensor *t = NULL;
        if (k < 2) {
            const int nd = (int)(tg_rng_next(r) % 5);
            int64_t shape[4];
            for (int i = 0; i < nd; i++) {
                const bool big = i == 0 && tg_rng_next(r) % 4 == 0;
                shape[i] = (int64_t)(tg_rng_next(r) % (big ? 300 : 4));
            }
            t = tg_tape_alloc(tp, tg_rng_next(r) % 2 ? TG_F32 : TG_F64, nd, shape);
            if (t) tg_tensor_fill(t, 0.25);
        } else if (k < 4) {
            t = tg_exp(tp, users[tg_rng_next(r) % (uint64_t)nusers]);
        } else if (n > 0) {
            tg_tensor *a = out[tg_rng_next(r) % (uint64_t)n];
            t = k == 4 ? tg_neg(tp, a) : tg_sum_all(tp, a);
        }
        if (t) out[n++] = t;
        ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    }
    return n;
}

/* Whatever the new epoch builds (another graph, other shapes, scalars, big
 * tensors), no tensor of the epoch before the reset passes for a live one,
 * over many resets; the check reads memory the tape still owns (run under
 * AddressSanitizer: the arena grew over several chunks and was rewound). */
START_TEST(test_stale_after_reset_any_graph)
{
    enum { N = 300 };
    tg_rng r;
    tg_rng_seed(&r, 18);
    tg_tensor *users[4] = {
        tg_tensor_scalar(TG_F64, 0.5),
        tt_rand(TG_F64, 1, TT_SHAPE(5), 1, -1, 1),
        tt_rand(TG_F32, 2, TT_SHAPE(3, 2), 2, -1, 1),
        tt_rand(TG_F64, 2, TT_SHAPE(40, 30), 3, -1, 1),
    };
    for (int chunk = 0; chunk < 2; chunk++) {
        /* a small first chunk: the arena grows over many chunks */
        tg_tape *tp = tg_tape_new(&(tg_tape_options){.arena_chunk = chunk ? 0 : 512});
        tg_tensor *old[N], *now[N];
        int n_old = random_graph(tp, &r, users, 4, old, N);
        for (int epoch = 0; epoch < 8; epoch++) {
            tg_tape_reset(tp);
            int n_now = random_graph(tp, &r, users, 4, now, N / 2 + (int)(tg_rng_next(&r) % N / 2));
            for (int i = 0; i < n_old; i++)
                ck_assert_msg(!tg__tensor_live_on(old[i], tp),
                              "epoch %d: tensor %d of the epoch before passes for a live one",
                              epoch, i);
            for (int i = 0; i < n_now; i++) ck_assert(tg__tensor_live_on(now[i], tp));
            /* and through the public API, the error an op gives */
            tg_tensor *probe = old[tg_rng_next(&r) % (uint64_t)n_old];
            ck_assert_ptr_null(tg_neg(tp, probe));
            tt_assert_tape_error(tp, TG_ERR_TAPE, "neg", "input 0", "stale");
            memcpy(old, now, sizeof now);
            n_old = n_now;
        }
        tg_tape_free(tp);
    }
    for (int i = 0; i < 4; i++) tg_tensor_free(users[i]);
}
END_TEST

/* Issue 18, item 16: a training loop that forgets tg_tape_reset grows the
 * tape without bound.  The tape warns once, through its hook, and not when
 * the loop resets or the warning is off. */
static int g_warnings;
static char g_warning[512];
static void count_warning(const tg_tape *tp, const char *msg, void *ctx)
{
    (void)tp;
    ck_assert_ptr_eq(ctx, &g_warnings);
    g_warnings++;
    snprintf(g_warning, sizeof g_warning, "%s", msg);
}

/* steps of a small training loop on tp, with or without the reset */
static void train(tg_tape *tp, tg_tensor *w, int steps, bool reset)
{
    for (int step = 0; step < steps; step++) {
        if (reset) tg_tape_reset(tp);
        tg_tensor *loss = tg_sum_all(tp, tg_square(tp, tg_tanh(tp, w)));
        ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
    }
}

START_TEST(test_growth_warning)
{
    tg_tensor *w = tt_param(1, TT_SHAPE(1 << 14), 1, -1, 1); /* 128 KiB a tensor */
    const tg_tape_options warn = {
        .growth_warning = 1 << 20, .on_warning = count_warning, .warning_ctx = &g_warnings};
    /* reset every step: never, however long the loop */
    g_warnings = 0;
    tg_tape *tp = tg_tape_new(&warn);
    train(tp, w, 100, true);
    ck_assert_int_eq(g_warnings, 0);
    /* forgotten: once the tape has grown by 1 MiB over 8 backward calls, and
     * only once */
    train(tp, w, 4, false);
    ck_assert_int_eq(g_warnings, 0);
    train(tp, w, 60, false);
    ck_assert_int_eq(g_warnings, 1);
    ck_assert_ptr_nonnull(strstr(g_warning, "without tg_tape_reset"));
    ck_assert_ptr_nonnull(strstr(g_warning, "growth_warning"));
    tg_tape_reset(tp);
    train(tp, w, 60, false);
    ck_assert_int_eq(g_warnings, 1);
    tg_tape_free(tp);
    /* a few backward calls on one tape (gradient accumulation) are fine */
    tp = tg_tape_new(&warn);
    train(tp, w, 7, false);
    ck_assert_int_eq(g_warnings, 1);
    tg_tape_free(tp);
    /* turned off */
    tg_tape_options off = warn;
    off.growth_warning = SIZE_MAX;
    tp = tg_tape_new(&off);
    train(tp, w, 60, false);
    ck_assert_int_eq(g_warnings, 1);
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

/* With no hook the warning goes to stderr, once, at the default threshold. */
START_TEST(test_growth_warning_default)
{
    FILE *err = tmpfile();
    ck_assert_ptr_nonnull(err);
    fflush(stderr);
    ck_assert_int_ge(dup2(fileno(err), 2), 0);               /* this forked test's stderr */
    tg_tensor *w = tt_param(1, TT_SHAPE(1 << 17), 1, -1, 1); /* 1 MiB a tensor */
    tg_tape *tp = tg_tape_new(NULL);
    train(tp, w, 40, false); /* a few MiB a step: past 64 MiB */
    tg_tape_free(tp);
    tg_tensor_free(w);
    fflush(stderr);
    char buf[1024] = {0};
    rewind(err);
    size_t n = fread(buf, 1, sizeof buf - 1, err);
    buf[n] = '\0';
    ck_assert_msg(strncmp(buf, "tapegrad: warning: tape memory grew by ", 39) == 0, "stderr: %s",
                  buf);
    ck_assert_ptr_null(strstr(buf + 1, "tapegrad: warning")); /* once */
    fclose(err);
}
END_TEST

START_TEST(test_tape_rng_seeded)
{
    tg_tape *a = tg_tape_new(&(tg_tape_options){.seed = 5});
    tg_tape *b = tg_tape_new(&(tg_tape_options){.seed = 5});
    ck_assert_uint_eq(tg_rng_next(tg_tape_rng(a)), tg_rng_next(tg_tape_rng(b)));
    tg_tape_free(a);
    tg_tape_free(b);
    tg_tape_free(NULL);
    tg_tape_reset(NULL);
    ck_assert_int_eq(tg_tape_status(NULL), TG_ERR_NULL);
}
END_TEST

/* Explain mode narrates the sweep: each node, its rule, each contribution,
 * and the running total where a value fans out; it changes no gradient. */
START_TEST(test_explain_mode)
{
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(0.5, -1.0));
    tg_tensor_set_requires_grad(x, true);
    tg_tape *tp = tg_tape_new(NULL);
    /* y = sum(x * x + tanh(x)): x reaches y along three paths (built one op a
     * statement so the node numbers do not depend on argument evaluation order) */
    tg_tensor *sq = tg_mul(tp, x, x);
    tg_tensor *th = tg_tanh(tp, x);
    tg_tensor *y = tg_sum_all(tp, tg_add(tp, sq, th));
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tg_tensor *plain = tg_tensor_clone(tg_tensor_grad(x));

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tg_tape_set_explain(tp, f, TG_EXPLAIN_TEXT, 4);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "backward: reverse sweep from %3 f64[], seed d%3/d%3 = [1]"));
    /* the node, its rule (the op's formula), then the numbers it uses */
    ck_assert_ptr_nonnull(strstr(buf, "  %1 = tanh($0)  f64[2]\n    rule: "));
    ck_assert_ptr_nonnull(strstr(buf, "\n      g = [1, 1]\n      y = ["));
    ck_assert_ptr_nonnull(strstr(buf, "-> input 0 $0: + "));
    ck_assert_ptr_nonnull(strstr(buf, "total ")); /* x's contributions are summed */
    ck_assert_ptr_nonnull(strstr(buf, "4 nodes visited"));
    tt_assert_close("explain changes nothing", tg_tensor_grad(x), plain, 0, 0);
    free(buf);

    /* Markdown: a section per node, a line per contribution; large tensors
     * summarised */
    buf = NULL;
    f = open_memstream(&buf, &len);
    tg_tape_set_explain(tp, f, TG_EXPLAIN_MARKDOWN, 1);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "### `%1 = tanh($0)` f64[2]\n\nRule: `"));
    ck_assert_ptr_nonnull(strstr(buf, "\ng = norm "));
    int rows = 0;
    for (char *p = buf; (p = strstr(p, "\n- into input ")); p++) rows++;
    ck_assert_int_eq(rows, 6); /* sum, add (2), tanh, mul (2: x twice) */
    free(buf);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(plain);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tape");
    TCase *tc = tcase_create("tape");
    tcase_add_test(tc, test_reset_and_stats);
    tcase_add_test(tc, test_steady_state_allocates_nothing);
    tcase_add_test(tc, test_arena_limit);
    tcase_add_test(tc, test_print_and_dot);
    tcase_add_test(tc, test_anomaly_mode);
    tcase_add_test(tc, test_stale_and_foreign_tensors);
    tcase_add_test(tc, test_stale_after_reset_same_graph);
    tcase_add_test(tc, test_stale_after_reset_any_graph);
    tcase_add_test(tc, test_growth_warning);
    tcase_add_test(tc, test_growth_warning_default);
    tcase_add_test(tc, test_tape_rng_seeded);
    tcase_add_test(tc, test_explain_mode);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
