/* User tensors against the tapes that recorded them (issue 18): a tensor
 * freed, modified or never recorded before backward, a gradient freed by
 * hand, a gradient's own gradient, backward of an output that depends on no
 * parameter, and the names errors of the higher-order calls carry. */
#include "common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* An allocator that counts live blocks, so a test can see that everything it
 * made was released (a leak shows without LeakSanitizer) and when. */
static long g_live;
static void *count_malloc(size_t n, void *c)
{
    (void)c;
    void *p = malloc(n);
    if (p) __atomic_add_fetch(&g_live, 1, __ATOMIC_RELAXED); /* threads too */
    return p;
}
static void *count_realloc(void *p, size_t n, void *c)
{
    (void)c;
    void *q = realloc(p, n);
    if (q && !p) __atomic_add_fetch(&g_live, 1, __ATOMIC_RELAXED);
    return q;
}
static void count_free(void *p, void *c)
{
    (void)c;
    if (p) __atomic_sub_fetch(&g_live, 1, __ATOMIC_RELAXED);
    free(p);
}
static const tg_allocator k_counting = {count_malloc, count_realloc, count_free, NULL};

/* Sets the thread's last error to something unrelated, so a test can see
 * that a call set it. */
static void last_error_unrelated(void)
{
    ck_assert_ptr_null(tg_tensor_new(TG_F64, -1, NULL));
    ck_assert_int_eq(tg_last_status(), TG_ERR_SHAPE);
}

/* ---- item 5: a parameter freed between recording and backward ------------ */
START_TEST(test_backward_freed_parameter)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *p = tt_param(2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, x, p));
    ck_assert_ptr_nonnull(y);
    tg_tensor_free(p); /* the tape still holds it: released at reset */
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_TAPE);
    ck_assert_str_eq(tg_tape_error(tp),
                     "backward: parameter $1 f64[2,3] was freed (tg_tensor_free) after it was "
                     "recorded [node 2]");
    const long before_reset = g_live;
    tg_tape_reset(tp); /* the last holder lets go: p is freed now */
    ck_assert_int_lt(g_live, before_reset);
    tg_tensor_free(x);
    tg_tape_free(tp);
    ck_assert_int_eq(g_live, 0);
    tg_set_allocator(NULL);
}
END_TEST

/* An input that is not a parameter may be freed once recorded: the tape
 * keeps its data until reset, so the gradient is still right; a new op on it
 * is an error. */
START_TEST(test_freed_input_kept_until_reset)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *p = tt_param(2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, x, p));
    tg_tensor_free(x);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("dy/dp", tg_tensor_grad(p), TT_VALUES(1, 2, 3, 4, 5, 6), 6, 0, 0);
    /* freeing it again is an error, not a double free */
    last_error_unrelated();
    tg_tensor_free(x);
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_tensor_free: the tensor was freed already (a tape that "
                                      "recorded it keeps it until tg_tape_reset or tg_tape_free)");
    ck_assert_ptr_null(tg_exp(tp, x));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_TAPE);
    ck_assert_str_eq(tg_tape_error(tp),
                     "exp: input 0 was freed (tg_tensor_free) after a tape recorded it [node 2]");
    tg_tape_free(tp);
    tg_tensor_free(p);
    ck_assert_int_eq(g_live, 0);
    tg_set_allocator(NULL);
}
END_TEST

/* Held by two tapes: freed when the second lets go. */
START_TEST(test_freed_tensor_two_tapes)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    tg_tape *a = tg_tape_new(NULL), *b = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    ck_assert_ptr_nonnull(tg_exp(a, x));
    ck_assert_ptr_nonnull(tg_exp(b, x));
    tg_tensor_free(x);
    tg_tape_free(a);
    ck_assert_double_eq(tg_tensor_get_flat(x, 2), 3); /* b still holds it */
    tg_tape_free(b);
    ck_assert_int_eq(g_live, 0);
    tg_set_allocator(NULL);
}
END_TEST

/* Freed by one thread while other threads' tapes hold it: the last tape to
 * let go frees it, whichever thread that is (run under ThreadSanitizer
 * too: the count of holds is atomic). */
enum { N_HOLDERS = 4 };
static pthread_barrier_t g_recorded, g_freed;
static tg_tensor *g_shared;
static double g_sums[N_HOLDERS];
static void *holder(void *arg)
{
    const int k = (int)(intptr_t)arg;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *w = tg_tensor_full(TG_F64, 1, TT_SHAPE(3), (double)k);
    tg_tensor_set_requires_grad(w, true);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, g_shared, w));
    pthread_barrier_wait(&g_recorded);
    pthread_barrier_wait(&g_freed);
    /* backward still reads the tensor (mul's rule for w) */
    const tg_status st = tg_backward(tp, y);
    g_sums[k] =
        st == TG_OK ? tg_tensor_get_flat(tg_tensor_grad(w), 2) + tg_tensor_get_flat(y, 0) : -1;
    tg_tape_free(tp); /* one of these frees the tensor */
    tg_tensor_free(w);
    return NULL;
}

START_TEST(test_freed_while_held_by_threads)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    g_shared = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    ck_assert_int_eq(pthread_barrier_init(&g_recorded, NULL, N_HOLDERS + 1), 0);
    ck_assert_int_eq(pthread_barrier_init(&g_freed, NULL, N_HOLDERS + 1), 0);
    pthread_t th[N_HOLDERS];
    for (int k = 0; k < N_HOLDERS; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, holder, (void *)(intptr_t)k), 0);
    pthread_barrier_wait(&g_recorded);
    tg_tensor_free(g_shared);
    pthread_barrier_wait(&g_freed);
    for (int k = 0; k < N_HOLDERS; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < N_HOLDERS; k++) ck_assert_double_eq(g_sums[k], 3 + 6.0 * k);
    pthread_barrier_destroy(&g_recorded);
    pthread_barrier_destroy(&g_freed);
    ck_assert_int_eq(__atomic_load_n(&g_live, __ATOMIC_RELAXED), 0);
    tg_set_allocator(NULL);
}
END_TEST

/* ---- item 12: a gradient with its own gradient ---------------------------- */
START_TEST(test_gradient_of_gradient_freed)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *p = tt_param(1, TT_SHAPE(16), 3, -1, 1);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, p))), TG_OK);
    tg_tensor *g = tg_tensor_grad(p);
    ck_assert_int_eq(tg_tensor_set_requires_grad(g, true), TG_OK);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, g))), TG_OK);
    ck_assert_ptr_nonnull(tg_tensor_grad(g));
    tg_tape_free(tp);
    tg_tensor_free(p); /* and its gradient, and that one's gradient */
    ck_assert_int_eq(g_live, 0);
    tg_set_allocator(NULL);
}
END_TEST

/* ---- item 14: nothing requires grad --------------------------------------- */
START_TEST(test_backward_without_requires_grad)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, x, x));
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_ARG);
    ck_assert_str_eq(tg_tape_error(tp),
                     "backward: the output f64[] depends on no tensor that requires grad (call "
                     "tg_tensor_set_requires_grad on the parameters) [node 2]");
    ck_assert_ptr_null(tg_tensor_grad(x)); /* documented: no gradient is NULL */
    /* the error is the tape's, until reset; the flag set afterwards is seen
     * (the sweep then makes its forward pass: the flags changed) */
    tg_tape_reset(tp);
    y = tg_sum_all(tp, tg_mul(tp, x, x));
    tg_tensor_set_requires_grad(x, true);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tt_assert_values("dy/dx", tg_tensor_grad(x), TT_VALUES(2, 4, 6), 3, 0, 0);
    /* a parameter on the tape that y does not use is not enough */
    tg_tensor *c = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 1, 1));
    tg_tensor *y2 = tg_sum_all(tp, tg_exp(tp, c));
    ck_assert_int_eq(tg_backward(tp, y2), TG_ERR_ARG);
    tt_assert_tape_error(tp, TG_ERR_ARG, "depends on no tensor that requires grad");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(c);
}
END_TEST

/* ---- item 15: an input modified between recording and backward ------------ */
typedef void (*mutator)(tg_tensor *t);
static void m_set_flat(tg_tensor *t)
{
    tg_tensor_set_flat(t, 0, 9);
}
static void m_set(tg_tensor *t)
{
    tg_tensor_set(t, (const int64_t[]){1, 2}, 9);
}
static void m_fill(tg_tensor *t)
{
    tg_tensor_fill(t, 9);
}
static void m_copy(tg_tensor *t)
{
    tg_tensor *s = tg_tensor_full(TG_F32, 2, TT_SHAPE(2, 3), 9); /* cast into t */
    ck_assert_int_eq(tg_tensor_copy(t, s), TG_OK);
    tg_tensor_free(s);
}
static void m_fill_uniform(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tensor_fill_uniform(t, &r, 0, 1);
}
static void m_fill_normal(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    tg_tensor_fill_normal(t, &r, 0, 1);
}
static void m_init_uniform(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_uniform(t, &r, 0, 1), TG_OK);
}
static void m_init_normal(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_normal(t, &r, 0, 1), TG_OK);
}
static void m_init_xavier(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_xavier_uniform(t, &r), TG_OK);
}
static void m_init_xavier_normal(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_xavier_normal(t, &r), TG_OK);
}
static void m_init_he(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_he_uniform(t, &r), TG_OK);
}
static void m_init_he_normal(tg_tensor *t)
{
    tg_rng r;
    tg_rng_seed(&r, 1);
    ck_assert_int_eq(tg_init_he_normal(t, &r), TG_OK);
}
static void m_mark(tg_tensor *t)
{
    double *d = tg_tensor_data(t);
    d[0] = 9; /* through the pointer: the library cannot see it ... */
    ck_assert_int_eq(tg_tensor_mark_modified(t), TG_OK); /* ... unless told */
}
static void m_safetensors(tg_tensor *t)
{
    const char *path = "tg_test_user.safetensors";
    tg_tensor *s = tg_tensor_full(TG_F64, 2, TT_SHAPE(2, 3), 9);
    const char *names[1] = {"a"};
    ck_assert_int_eq(tg_safetensors_save(path, 1, names, &s), TG_OK);
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, names, &t), TG_OK);
    tg_tensor_free(s);
    remove(path);
}
static const struct {
    const char *name;
    mutator m;
} k_mutators[] = {
    {"tg_tensor_set_flat", m_set_flat},
    {"tg_tensor_set", m_set},
    {"tg_tensor_fill", m_fill},
    {"tg_tensor_copy", m_copy},
    {"tg_tensor_fill_uniform", m_fill_uniform},
    {"tg_tensor_fill_normal", m_fill_normal},
    {"tg_init_uniform", m_init_uniform},
    {"tg_init_normal", m_init_normal},
    {"tg_init_xavier_uniform", m_init_xavier},
    {"tg_init_xavier_normal", m_init_xavier_normal},
    {"tg_init_he_uniform", m_init_he},
    {"tg_init_he_normal", m_init_he_normal},
    {"tg_tensor_mark_modified", m_mark},
    {"tg_safetensors_load_into", m_safetensors},
};

/* y = sum(a * w): dy/dw is a as recorded; a changed afterwards would give a
 * wrong gradient, so backward refuses. */
START_TEST(test_modified_input)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 3), TT_VALUES(1, 2, 3, 4, 5, 6));
    tg_tensor *w = tt_param(2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, w, a));
    ck_assert_ptr_nonnull(y);
    k_mutators[_i].m(a);
    ck_assert_msg(tg_backward(tp, y) == TG_ERR_TAPE, "%s: backward did not fail",
                  k_mutators[_i].name);
    tt_assert_tape_error(tp, TG_ERR_TAPE,
                         "backward: input 1 of mul (node 0), $1 f64[2,3], was modified after it "
                         "was recorded (version ");
    ck_assert_ptr_null(tg_tensor_grad(w)); /* nothing written */
    /* tg_grad reads the same recorded inputs */
    tg_tape_reset(tp);
    y = tg_sum_all(tp, tg_mul(tp, w, a));
    k_mutators[_i].m(a);
    ck_assert_ptr_null(tg_grad(tp, y, w, false));
    tt_assert_tape_error(tp, TG_ERR_TAPE,
                         "grad: input 1 of mul (node 0), $1 f64[2,3], was modified");
    tg_tape_free(tp);
    tg_tensor_free(a);
    tg_tensor_free(w);
}
END_TEST

/* The case: a scalar tape, whose rules work on recorded values, is
 * checked the same way; the message gives both versions. */
START_TEST(test_modified_input_message)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tg_tensor_scalar(TG_F64, 2);
    tg_tensor *c = tg_tensor_scalar(TG_F64, 3);
    tg_tensor_set_requires_grad(x, true);
    /* y = x^2 c */
    tg_tensor *y = tg_mul(tp, tg_mul(tp, x, x), c);
    tg_tensor_set_flat(c, 0, 15);
    tg_tensor_set_flat(c, 0, 16);
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_TAPE);
    ck_assert_str_eq(tg_tape_error(tp), "backward: input 1 of mul (node 1), $1 f64[], was modified "
                                        "after it was recorded (version 0, now 2) [node 2]");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(c);
}
END_TEST

/* A parameter changed by the optimiser: a second backward on the same tape
 * is refused; the usual loop (reset after the step) is legal. */
START_TEST(test_modified_by_optimiser)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *w = tt_param(1, TT_SHAPE(4), 2, -1, 1);
    tg_optim *o = tg_sgd_new(1, &w, 0.1, 0, 0);
    for (int step = 0; step < 3; step++) {
        tg_tape_reset(tp);
        tg_tensor *y = tg_sum_all(tp, tg_square(tp, w));
        ck_assert_int_eq(tg_backward(tp, y), TG_OK);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        if (step == 2) {
            ck_assert_int_eq(tg_backward(tp, y), TG_ERR_TAPE);
            tt_assert_tape_error(tp, TG_ERR_TAPE,
                                 "input 0 of square (node 0), $0 f64[4], was "
                                 "modified after it was recorded");
        }
    }
    tg_optim_free(o);
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

/* The batch iterator writes the next batch into the same tensor. */
START_TEST(test_modified_by_batches)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *d = tt_iota(TG_F64, 2, TT_SHAPE(4, 3));
    tg_tensor *w = tt_param(1, TT_SHAPE(3), 2, -1, 1);
    tg_batches *b = tg_batches_new(d, NULL, 2, false, false, 1);
    tg_tensor *x;
    const int32_t *lab;
    int64_t n;
    ck_assert(tg_batches_next(b, &x, &lab, &n));
    tg_tensor *y = tg_sum_all(tp, tg_mul(tp, x, w));
    ck_assert(tg_batches_next(b, &x, &lab, &n));
    ck_assert_int_eq(tg_backward(tp, y), TG_ERR_TAPE);
    tt_assert_tape_error(tp, TG_ERR_TAPE, "input 0 of mul (node 0), $0 f64[2,3], was modified");
    tg_batches_free(b);
    tg_tape_free(tp);
    tg_tensor_free(d);
    tg_tensor_free(w);
}
END_TEST

/* ---- item 17: freeing what the library owns ------------------------------- */
START_TEST(test_free_gradient_or_tape_tensor)
{
    tg_set_allocator(&k_counting);
    g_live = 0;
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *p = tt_param(1, TT_SHAPE(3), 3, -1, 1);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_square(tp, p))), TG_OK);
    last_error_unrelated();
    tg_tensor_free(tg_tensor_grad(p)); /* a no-op that says so */
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(),
                     "tg_tensor_free: a gradient is owned by its parameter; it is freed with it");
    ck_assert_double_eq(tg_tensor_get_flat(tg_tensor_grad(p), 0), 2 * tg_tensor_get_flat(p, 0));
    tg_tensor *e = tg_exp(tp, p);
    last_error_unrelated();
    tg_tensor_free(e); /* the same for a tape tensor */
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_str_eq(tg_last_error(), "tg_tensor_free: a tape-owned tensor is freed by "
                                      "tg_tape_reset or tg_tape_free");
    ck_assert_int_eq(tg_tape_status(tp), TG_OK);
    ck_assert_ptr_nonnull(tg_exp(tp, e));
    tg_tape_free(tp);
    tg_tensor_free(p);
    ck_assert_int_eq(g_live, 0);
    tg_set_allocator(NULL);
}
END_TEST

/* ---- item 18: a gradient with respect to a tensor the tape never saw ------ */
START_TEST(test_grad_of_unrecorded_tensor)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_param(2, TT_SHAPE(2, 3), 1, -1, 1);
    tg_tensor *z = tt_param(2, TT_SHAPE(3, 2), 2, -1, 1);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, x));
    ck_assert_ptr_null(tg_grad(tp, y, z, false));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_TAPE);
    ck_assert_str_eq(tg_tape_error(tp), "grad: xs[0] f64[3,2] is not on this tape (no recorded "
                                        "op used it); set tg_grad_options.allow_unused to get "
                                        "zeros for it [node 2]");
    /* on the tape but not used by y: an error too, zeros with allow_unused
     * (issue 24, item 7) */
    tg_tape_reset(tp);
    y = tg_sum_all(tp, tg_square(tp, x));
    ck_assert_ptr_nonnull(tg_exp(tp, z));
    ck_assert_ptr_null(tg_grad(tp, y, z, false));
    ck_assert_int_eq(tg_tape_status(tp), TG_ERR_ARG);
    tg_tape_reset(tp);
    y = tg_sum_all(tp, tg_square(tp, x));
    ck_assert_ptr_nonnull(tg_exp(tp, z));
    tg_tensor *g = tg_grad_ex(tp, y, z, &(tg_grad_options){.allow_unused = true});
    ck_assert_ptr_nonnull(g);
    ck_assert_double_eq(tg_tensor_get_flat(g, 0), 0);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(z);
}
END_TEST

/* ---- the higher-order calls name themselves --------------------------------- */
START_TEST(test_hessian_hvp_names)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 1, -1, 1);
    tg_tensor *v = tt_rand(TG_F64, 1, TT_SHAPE(3), 2, -1, 1);
    ck_assert_ptr_null(tg_hessian(tp, NULL, x));
    ck_assert_str_eq(tg_tape_error(tp), "hessian: output is NULL [node 0]");
    tg_tape_reset(tp);
    tg_tensor *out = NULL;
    ck_assert_int_eq(tg_hvp(tp, NULL, 1, &x, &v, &out, false), TG_ERR_NULL);
    ck_assert_str_eq(tg_tape_error(tp), "hvp: output is NULL [node 0]");
    tg_tape_reset(tp);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, x));
    ck_assert_ptr_null(tg_hessian(tp, y, v));
    ck_assert_str_eq(tg_tape_error(tp),
                     "hessian: xs[0] f64[3] is not on this tape (no recorded op used it) [node 2]");
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("user");
    TCase *tc = tcase_create("user tensors and backward");
    tcase_add_test(tc, test_backward_freed_parameter);
    tcase_add_test(tc, test_freed_input_kept_until_reset);
    tcase_add_test(tc, test_freed_tensor_two_tapes);
    tcase_add_test(tc, test_freed_while_held_by_threads);
    tcase_add_test(tc, test_gradient_of_gradient_freed);
    tcase_add_test(tc, test_backward_without_requires_grad);
    tcase_add_loop_test(tc, test_modified_input, 0,
                        (int)(sizeof k_mutators / sizeof k_mutators[0]));
    tcase_add_test(tc, test_modified_input_message);
    tcase_add_test(tc, test_modified_by_optimiser);
    tcase_add_test(tc, test_modified_by_batches);
    tcase_add_test(tc, test_free_gradient_or_tape_tensor);
    tcase_add_test(tc, test_grad_of_unrecorded_tensor);
    tcase_add_test(tc, test_hessian_hvp_names);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
