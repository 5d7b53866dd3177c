/* The teaching outputs: tensor names (and where they show: the listing,
 * explain mode, pictures, error messages), op attributes and constants in
 * the listing, grids, explain mode's rules with their numbers in text,
 * Markdown and JSON Lines, the graph as JSON, and the SVG and DOT pictures
 * with their width limit.  The ops with formulas and attributes are custom
 * ones defined here, so the expected text does not depend on the built-in
 * ops' descriptors. */
#include "common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a custom op y = 3 x with a formula and an attribute ---------------- */
static tg_status triple_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    (void)n;
    gin[0] = tg_mul_scalar(tp, g, 3.0);
    return TG_OK;
}
static int triple_attrs(const tg_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "factor=3");
}
static const tg_op k_triple = {.name = "triple",
                               .arity = 1,
                               .backward = triple_backward,
                               .formula = "dx += 3 * g",
                               .attrs = triple_attrs};
/* the same without formula and attributes: explain falls back */
static const tg_op k_plain = {.name = "plain3", .arity = 1, .backward = triple_backward};

static tg_tensor *record3(tg_tape *tp, const tg_op *op, tg_tensor *x)
{
    if (!tg_tape_check_inputs(tp, op->name, 1, &x)) return NULL;
    tg_tensor *y = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!y) return NULL;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++)
        tg_tensor_set_flat(y, i, 3 * tg_tensor_get_flat(x, i));
    return tg_tape_record(tp, op, 1, &x, y, NULL, 0, 0, NULL);
}

/* What f (a memstream) holds, as a string the caller frees. */
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} capture;
static void cap_open(capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    ck_assert_ptr_nonnull(c->f);
}
static char *cap_close(capture *c)
{
    fclose(c->f);
    return c->buf;
}

/* ---- a strict JSON checker (RFC 8259 grammar, no extensions) ------------- */
static const char *json_value(const char *p, int depth);
static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}
static const char *json_str(const char *p)
{
    if (*p++ != '"') return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p != '\\') continue;
        p++;
        if (*p == 'u') {
            for (int i = 1; i <= 4; i++)
                if (!isxdigit((unsigned char)p[i])) return NULL;
            p += 4;
        } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
            return NULL;
        }
    }
    return p + 1;
}
static const char *json_num(const char *p)
{
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    if (*p == '0')
        p++;
    else
        while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    return p;
}
static const char *json_seq(const char *p, char close, bool obj, int depth)
{
    p = json_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
        if (obj) {
            if (!(p = json_str(json_ws(p)))) return NULL;
            p = json_ws(p);
            if (*p++ != ':') return NULL;
        }
        if (!(p = json_value(p, depth + 1))) return NULL;
        p = json_ws(p);
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}
static const char *json_value(const char *p, int depth)
{
    p = json_ws(p);
    if (depth > 64) return NULL;
    if (*p == '{') return json_seq(p, '}', true, depth);
    if (*p == '[') return json_seq(p, ']', false, depth);
    if (*p == '"') return json_str(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    return json_num(p);
}
/* Is s exactly one JSON value (surrounding white space allowed)? */
static bool json_ok(const char *s, size_t n)
{
    const char *e = json_value(s, 0);
    if (!e || e > s + n) return false;
    while (e < s + n && (*e == ' ' || *e == '\n' || *e == '\t' || *e == '\r')) e++;
    return e == s + n;
}

START_TEST(test_json_checker_rejects)
{
    /* the checker itself: it must be able to fail */
    const char *bad[] = {"{\"a\":1,}", "[1 2]",       "{\"a\" 1}", "\"x\ny\"",
                         "[01]",       "{\"a\":nan}", "[1]]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!json_ok(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
    const char *good = "{\"a\":[1,-2.5e-3,\"q\\\"\\u00e9\",null,true],\"b\":{}}";
    ck_assert(json_ok(good, strlen(good)));
}
END_TEST

/* ---- names ------------------------------------------------------------------ */
START_TEST(test_names)
{
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(2), (double[]){1, 2});
    ck_assert_ptr_null(tg_tensor_name(w));
    char name[8] = "W2";
    ck_assert_int_eq(tg_tensor_set_name(w, name), TG_OK);
    name[0] = 'X'; /* the name is a copy */
    ck_assert_str_eq(tg_tensor_name(w), "W2");
    ck_assert_int_eq(tg_tensor_set_name(w, "W3"), TG_OK); /* renamed */
    ck_assert_str_eq(tg_tensor_name(w), "W3");
    ck_assert_int_eq(tg_tensor_set_name(w, ""), TG_OK); /* "" removes it */
    ck_assert_ptr_null(tg_tensor_name(w));
    ck_assert_int_eq(tg_tensor_set_name(w, "W"), TG_OK);
    ck_assert_int_eq(tg_tensor_set_name(w, "0123456789012345678901234567890"), TG_OK); /* 31 */
    ck_assert_int_eq(tg_tensor_set_name(w, "01234567890123456789012345678901"), TG_ERR_ARG);
    ck_assert_str_eq(tg_tensor_name(w), "0123456789012345678901234567890"); /* kept */

    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *h = tg_exp(tp, w);
    ck_assert_ptr_null(tg_tensor_name(h));
    ck_assert_int_eq(tg_tensor_set_name(h, "h"), TG_OK);
    ck_assert_str_eq(tg_tensor_name(h), "h");
    ck_assert_int_eq(tg_tensor_set_name(h, NULL), TG_OK);
    ck_assert_ptr_null(tg_tensor_name(h));
    ck_assert_int_eq(tg_tensor_set_name(h, "h"), TG_OK);
    /* reset forgets the tape's names: the same node made again is unnamed */
    tg_tape_reset(tp);
    tg_tensor *h2 = tg_exp(tp, w);
    ck_assert_ptr_null(tg_tensor_name(h2));
    ck_assert_str_eq(tg_tensor_name(w), "0123456789012345678901234567890"); /* a user's stays */
    tg_tape_free(tp);
    tg_tensor_free(w); /* and goes with the tensor (ASan's leak check sees it) */
}
END_TEST

/* Threads name, rename and free their own tensors and print a tape that
 * reads a shared named parameter, all through the one table of user names:
 * each must keep seeing its own names (and ASan sees no use after free). */
static tg_tensor *g_shared;
static void *name_worker(void *arg)
{
    const int me = (int)(intptr_t)arg;
    char b[24], want[24];
    FILE *null = fopen("/dev/null", "w");
    bool ok = null != NULL;
    for (int round = 0; round < 200 && ok; round++) {
        tg_tensor *t = tt_from(TG_F64, 1, TT_SHAPE(1), (double[]){me});
        snprintf(want, sizeof want, "t%d_%d", me, round);
        ok = tg_tensor_set_name(t, want) == TG_OK;
        tg_tape *tp = tg_tape_new(NULL);
        tg_tensor *y = tg_mul(tp, t, g_shared);
        tg_tape_print(tp, null);
        ok = ok && y && tg_tensor_name(t) && !strcmp(tg_tensor_name(t), want);
        snprintf(b, sizeof b, "u%d_%d", me, round);
        ok = ok && tg_tensor_set_name(t, b) == TG_OK;
        tg_tape_free(tp);
        tg_tensor_free(t);
    }
    if (null) fclose(null);
    return ok ? arg : NULL;
}

START_TEST(test_names_threads)
{
    enum { N = 4 };
    g_shared = tt_from(TG_F64, 1, TT_SHAPE(1), (double[]){2});
    tg_tensor_set_name(g_shared, "shared");
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, name_worker, (void *)(intptr_t)(i + 1)), 0);
    for (int i = 0; i < N; i++) {
        void *r = NULL;
        ck_assert_int_eq(pthread_join(th[i], &r), 0);
        ck_assert_ptr_eq(r, (void *)(intptr_t)(i + 1));
    }
    ck_assert_str_eq(tg_tensor_name(g_shared), "shared");
    tg_tensor_free(g_shared);
}
END_TEST

START_TEST(test_names_many)
{
    enum { N = 40 };
    tg_tensor *t[N];
    char b[16];
    for (int i = 0; i < N; i++) {
        t[i] = tt_from(TG_F64, 1, TT_SHAPE(1), (double[]){i});
        snprintf(b, sizeof b, "t%d", i);
        ck_assert_int_eq(tg_tensor_set_name(t[i], b), TG_OK);
    }
    for (int i = 0; i < N; i += 2) tg_tensor_free(t[i]);
    for (int i = 1; i < N; i += 2) {
        snprintf(b, sizeof b, "t%d", i);
        ck_assert_str_eq(tg_tensor_name(t[i]), b);
        tg_tensor_free(t[i]);
    }
}
END_TEST

/* ---- the listing ---------------------------------------------------------- */
START_TEST(test_print_names_attrs_constants)
{
    tg_tensor *x = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_name(x, "W2");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_tape_alloc(tp, TG_F64, 0, NULL); /* a constant made outside any node */
    tg_tensor_set_flat(c, 0, 0.5);
    tg_tensor *y = record3(tp, &k_triple, x);
    tg_tensor_set_name(y, "z");
    tg_tensor *s = tg_sum_all(tp, tg_mul(tp, y, c));
    ck_assert_ptr_nonnull(s);
    capture cp;
    cap_open(&cp);
    tg_tape_print(tp, cp.f);
    char *out = cap_close(&cp);
    ck_assert_ptr_nonnull(strstr(out, "$0 W2 = input (requires grad)  f64[2,2]\n"));
    ck_assert_ptr_nonnull(strstr(out, "%0 z = triple(W2, factor=3)  f64[2,2]\n"));
    ck_assert_msg(strstr(out, "%1 = mul(z, c0=0.5)  f64[2,2]\n") != NULL, "%s", out);
    free(out);
    tg_tape_free(tp);
    tg_tensor_free(x);
}
END_TEST

/* ---- grids ------------------------------------------------------------------- */
START_TEST(test_grids)
{
    tg_tensor *m = tt_from(TG_F64, 2, TT_SHAPE(2, 3), (double[]){1, -2.5, 3, 40, 5, 6});
    tg_tensor *col = tt_from(TG_F64, 2, TT_SHAPE(3, 1), (double[]){1, 2, 3});
    tg_tensor_set_requires_grad(m, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_add(tp, record3(tp, &k_plain, m), m));
    capture cp;
    cap_open(&cp);
    tg_tape_set_explain(tp, cp.f, TG_EXPLAIN_TEXT, 8);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
    char *out = cap_close(&cp);
    /* a matrix: a row a line, columns right-aligned */
    ck_assert_msg(strstr(out, "      x = $0 =\n          [ 1, -2.5, 3]\n          [40,    5, 6]\n"),
                  "%s", out);
    free(out);

    /* a column on one line, transposed; a vector on one line */
    tg_tape_reset(tp);
    tg_tensor *v = tt_from(TG_F64, 1, TT_SHAPE(3), (double[]){1, 2, 3});
    tg_tensor_set_requires_grad(v, true);
    tg_tensor *vc = tg_reshape(tp, v, 2, TT_SHAPE(3, 1));
    tg_tensor_set_name(vc, "v_col");
    y = tg_sum_all(tp, tg_mul(tp, col, vc));
    cap_open(&cp);
    tg_tape_set_explain(tp, cp.f, TG_EXPLAIN_TEXT, 8);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);
    tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
    out = cap_close(&cp);
    ck_assert_msg(strstr(out, "[1, 2, 3]^T") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "x = $0 = [1, 2, 3]\n") != NULL, "%s", out);
    free(out);
    tg_tape_free(tp);
    tg_tensor_free(m);
    tg_tensor_free(col);
    tg_tensor_free(v);
}
END_TEST

/* ---- explain mode --------------------------------------------------------- */
/* W (2,2) -> z = triple(W) -> p = plain3(z) -> s = sum(p): the rules of a
 * custom op with a formula and of one without, on a named graph. */
static tg_tensor *named_graph(tg_tape *tp, tg_tensor *w)
{
    tg_tensor *z = record3(tp, &k_triple, w);
    tg_tensor_set_name(z, "z");
    tg_tensor *p = record3(tp, &k_plain, z);
    tg_tensor *s = tg_sum_all(tp, p);
    tg_tensor_set_name(s, "loss");
    return s;
}

static char *explain_run(tg_tensor *w, tg_explain_format fmt, int64_t small)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *s = named_graph(tp, w);
    capture cp;
    cap_open(&cp);
    tg_tape_set_explain(tp, cp.f, fmt, small);
    ck_assert_int_eq(tg_backward(tp, s), TG_OK);
    tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
    tg_tape_free(tp);
    return cap_close(&cp);
}

START_TEST(test_explain_text)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_name(w, "W");
    char *out = explain_run(w, TG_EXPLAIN_TEXT, 4);
    ck_assert_msg(strstr(out, "backward: reverse sweep from loss (%2) f64[], seed dloss/dloss = "
                              "[1]\n") != NULL,
                  "%s", out);
    /* the rule and the numbers a student recomputes it from */
    ck_assert_msg(strstr(out, "  %0 z = triple(W, factor=3)  f64[2,2]\n"
                              "    rule: dx += 3 * g\n"
                              "      g =\n"
                              "          [3, 3]\n"
                              "          [3, 3]\n"
                              "      y =\n"
                              "          [3,  6]\n"
                              "          [9, 12]\n") != NULL,
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "      x = W =\n          [1, 2]\n          [3, 4]\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "    -> input 0 W ($0): +\n        [9, 9]\n        [9, 9]\n"));
    /* an op without a formula: its name */
    ck_assert_ptr_nonnull(strstr(out, "  %1 = plain3(z)  f64[2,2]\n    rule: plain3 backward\n"));
    ck_assert_ptr_nonnull(strstr(out, "  3 nodes visited\n"));
    free(out);
    /* large tensors summarised */
    out = explain_run(w, TG_EXPLAIN_TEXT, 1);
    ck_assert_ptr_nonnull(strstr(out, "      x = W = norm 5.47723, min 1, max 4\n"));
    free(out);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_explain_markdown)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_name(w, "W");
    char *out = explain_run(w, TG_EXPLAIN_MARKDOWN, 4);
    ck_assert_msg(strstr(out, "## Reverse sweep (backward) from `loss (%2)` f64[]\n\n"
                              "Seed: dloss/dloss = `[1]`\n\n") != NULL,
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\n\n### `%0 z = triple(W, factor=3)` f64[2,2]\n\n"
                                      "Rule: `dx += 3 * g`\n\n```text\ng =\n    [3, 3]\n"));
    /* a grid contribution in a code block; a line inline */
    ck_assert_ptr_nonnull(strstr(out,
                                 "\nInto input 0, `W ($0)` (its first contribution):\n\n```text\n"
                                 "contribution:\n[9, 9]\n[9, 9]\n```\n\n"));
    free(out);
    /* summaries are one line: a contribution is a list item */
    out = explain_run(w, TG_EXPLAIN_MARKDOWN, 1);
    ck_assert_msg(strstr(out, "- into input 0, `W ($0)`: + `norm 18, min 9, max 9` (its first "
                              "contribution)\n\n") != NULL,
                  "%s", out);
    /* every code fence closed */
    int fences = 0;
    for (char *p = out; (p = strstr(p, "```")); p += 3) fences++;
    ck_assert_int_eq(fences % 2, 0);
    ck_assert_ptr_nonnull(strstr(out, "\n\n3 nodes visited.\n"));
    free(out);
    tg_tensor_free(w);
}
END_TEST

/* Each line one JSON object of the documented events, in order. */
START_TEST(test_explain_json)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_name(w, "W");
    char *out = explain_run(w, TG_EXPLAIN_JSON, 4);
    int lines = 0, nodes = 0, contribs = 0;
    for (char *l = out; *l;) {
        char *e = strchr(l, '\n');
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(json_ok(l, (size_t)(e - l)), "not JSON: %.*s", (int)(e - l), l);
        nodes += !strncmp(l, "{\"event\":\"node\",", 16);
        contribs += !strncmp(l, "{\"event\":\"contrib\",", 19);
        lines++;
        l = e + 1;
    }
    ck_assert_int_eq(lines, 1 + 3 + 3 + 1);
    ck_assert_int_eq(nodes, 3);
    ck_assert_int_eq(contribs, 3);
    const char *begin = "{\"event\":\"begin\",\"what\":\"backward\",\"y\":\"%2\",\"seed\":[1]}\n";
    ck_assert_msg(!strncmp(out, begin, strlen(begin)), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"node\",\"node\":0,\"op\":\"triple\","
                                      "\"out\":\"%0\",\"name\":\"z\",\"attrs\":\"factor=3\","
                                      "\"formula\":\"dx += 3 * g\",\"inputs\":[\"$0\"],"
                                      "\"g\":{\"shape\":[2,2],\"values\":[3,3,3,3]}}\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"name\":null,\"attrs\":\"\",\"formula\":null,"));
    ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"contrib\",\"node\":0,\"input\":0,\"in\":\"$0\","
                                      "\"contrib\":{\"shape\":[2,2],\"values\":[9,9,9,9]},"
                                      "\"total\":null}\n"));
    ck_assert_ptr_nonnull(strstr(out, "{\"event\":\"end\",\"steps\":3,\"status\":\"ok\"}\n"));
    free(out);
    /* summarised when large */
    out = explain_run(w, TG_EXPLAIN_JSON, 1);
    ck_assert_ptr_nonnull(strstr(out, "\"g\":{\"shape\":[2,2],\"norm\":6,\"min\":3,\"max\":3}"));
    free(out);
    tg_tensor_free(w);
}
END_TEST

/* ---- the graph as JSON -------------------------------------------------- */
START_TEST(test_write_json)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    ck_assert_int_eq(tg_tensor_set_name(w, "W\"<2>"), TG_OK); /* escaped in JSON */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *c = tg_tape_alloc(tp, TG_F64, 0, NULL);
    tg_tensor_set_flat(c, 0, 0.5);
    tg_tensor *s = tg_sum_all(tp, tg_mul(tp, named_graph(tp, w), c));
    ck_assert_int_eq(tg_backward(tp, s), TG_OK);
    capture cp;
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_json(tp, cp.f, 4), TG_OK);
    char *out = cap_close(&cp);
    ck_assert_msg(json_ok(out, strlen(out)), "not JSON: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "{\"ref\":\"$0\",\"name\":\"W\\\"<2>\",\"kind\":\"user\","
                                      "\"shape\":[2,2],\"dtype\":\"f64\",\"values\":[1,2,3,4],"
                                      "\"grad\":[4.5,4.5,4.5,4.5]}"));
    ck_assert_ptr_nonnull(strstr(out, "{\"ref\":\"c0\",\"name\":null,\"kind\":\"const\","
                                      "\"shape\":[],\"dtype\":\"f64\",\"values\":[0.5],"));
    ck_assert_ptr_nonnull(strstr(out, "{\"index\":0,\"op\":\"triple\",\"attrs\":\"factor=3\","
                                      "\"inputs\":[\"$0\"],\"out\":\"%0\","
                                      "\"formula\":\"dx += 3 * g\"}"));
    free(out);
    /* large values left out */
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_json(tp, cp.f, 0), TG_OK);
    out = cap_close(&cp);
    ck_assert(json_ok(out, strlen(out)));
    ck_assert_ptr_nonnull(strstr(out, "\"values\":null,\"grad\":null"));
    free(out);
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

/* ---- pictures --------------------------------------------------------------- */
/* Every <tag> closed by </tag> in order, or self-closing; no stray < or &. */
static bool xml_balanced(const char *s)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = s; (p = strchr(p, '<'));) {
        const char *e = strchr(p, '>');
        if (!e) return false;
        for (const char *q = p + 1; q < e; q++)
            if (*q == '<') return false;
        if (p[1] == '/') {
            size_t n = strcspn(p + 2, ">");
            if (!depth || strlen(stack[depth - 1]) != n || strncmp(stack[depth - 1], p + 2, n))
                return false;
            depth--;
        } else if (e[-1] != '/') {
            size_t n = strcspn(p + 1, " >");
            if (depth == 64 || n >= 32) return false;
            memcpy(stack[depth], p + 1, n);
            stack[depth++][n] = '\0';
        }
        p = e + 1;
    }
    for (const char *p = s; (p = strchr(p, '&')); p++)
        if (strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) && strncmp(p, "&amp;", 5) &&
            strncmp(p, "&quot;", 6) && strncmp(p, "&#", 2))
            return false;
    return depth == 0;
}

START_TEST(test_xml_checker_rejects)
{
    ck_assert(xml_balanced("<svg><g><rect/></g><text>a &lt; b</text></svg>"));
    ck_assert(!xml_balanced("<svg><g></svg>"));
    ck_assert(!xml_balanced("<svg><text>a < b</text></svg>"));
    ck_assert(!xml_balanced("<svg><text>a & b</text></svg>"));
}
END_TEST

static double svg_width(const char *svg)
{
    const char *w = strstr(svg, " width=\"");
    ck_assert_ptr_nonnull(w);
    return strtod(w + 8, NULL);
}

START_TEST(test_svg)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_name(w, "W<&>");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *s = named_graph(tp, w);
    ck_assert_int_eq(tg_backward(tp, s), TG_OK);
    capture cp;
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_svg(tp, cp.f, NULL), TG_OK);
    char *out = cap_close(&cp);
    ck_assert(!strncmp(out, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
    ck_assert_msg(xml_balanced(out), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, ">W&lt;&amp;&gt;</text>"));
    ck_assert_ptr_nonnull(strstr(out, ">z&#160;=&#160;triple(factor=3)</text>"));
    ck_assert_ptr_nonnull(strstr(out, "grad&#160;[9,&#160;9]"));
    ck_assert_int_eq(strstr(out, "<rect x=") ? 1 : 0, 1);
    int boxes = 0, edges = 0;
    for (char *p = out; (p = strstr(p, "<rect x=")); p++) boxes++;
    for (char *p = out; (p = strstr(p, "marker-end=")); p++) edges++;
    ck_assert_int_eq(boxes, 4); /* W and three nodes */
    ck_assert_int_eq(edges, 3);
    ck_assert_double_le(svg_width(out), 1280);
    free(out);

    /* a long chain, wider than the limit left to right: scaled to it */
    tg_tape_reset(tp);
    tg_tensor *x = w;
    for (int i = 0; i < 30; i++) x = tg_exp(tp, tg_mul_scalar(tp, x, 0.01));
    for (int limit = 200; limit <= 1280; limit += 1080) {
        cap_open(&cp);
        tg_picture_options o = {.small_numel = 4, .max_width = limit};
        ck_assert_int_eq(tg_tape_write_svg(tp, cp.f, &o), TG_OK);
        out = cap_close(&cp);
        ck_assert(xml_balanced(out));
        ck_assert_double_le(svg_width(out), limit);
        ck_assert_double_gt(svg_width(out), limit / 4.0);
        free(out);
    }
    /* an empty tape: an empty picture */
    tg_tape_reset(tp);
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_svg(tp, cp.f, NULL), TG_OK);
    out = cap_close(&cp);
    ck_assert(xml_balanced(out));
    free(out);
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

START_TEST(test_dot)
{
    tg_tensor *w = tt_from(TG_F64, 2, TT_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_name(w, "W\"1");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *s = named_graph(tp, w);
    ck_assert_int_eq(tg_backward(tp, s), TG_OK);
    capture cp;
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_dot(tp, cp.f, 4), TG_OK);
    char *out = cap_close(&cp);
    ck_assert_ptr_nonnull(strstr(out, "size=\"13.33,7.5\";"));
    /* a chain of three nodes after one input: long, so top to bottom */
    ck_assert_msg(strstr(out, "rankdir=TB;") != NULL, "%s", out);
    /* lines left-justified (\l), so a grid's columns stay aligned */
    ck_assert_msg(strstr(out, "label=\"W\\\"1 ($0)\\lf64[2,2]\\l[1, 2]\\l[3, 4]\\lgrad\\l[9, 9]\\l"
                              "[9, 9]\\l\"") != NULL,
                  "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "label=\"z = triple(factor=3) (%0)\\lf64[2,2]"));
    free(out);
    /* a shallow, wide graph: left to right */
    tg_tape_reset(tp);
    tg_tensor *a = tg_exp(tp, w), *b = tg_sin(tp, w), *c = tg_cos(tp, w), *d = tg_tanh(tp, w);
    ck_assert_ptr_nonnull(tg_add(tp, tg_add(tp, a, b), tg_add(tp, c, d)));
    cap_open(&cp);
    ck_assert_int_eq(tg_tape_write_dot(tp, cp.f, 4), TG_OK);
    out = cap_close(&cp);
    ck_assert_msg(strstr(out, "rankdir=LR;") != NULL, "%s", out);
    free(out);
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

/* ---- error messages name tensors ----------------------------------------- */
START_TEST(test_names_in_errors)
{
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(2), (double[]){1, -1});
    tg_tensor_set_requires_grad(w, true);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *h = tg_exp(tp, w);
    tg_tensor_set_name(h, "h");
    tg_tensor *s = tg_sum_all(tp, h);
    ck_assert_int_eq(tg_backward(tp, s), TG_OK);
    ck_assert_int_eq(tg_retain_grad(tp, h), TG_ERR_ARG);
    ck_assert_msg(strstr(tg_last_error(), "retain_grad: h (%0) f64[2] was recorded before") != NULL,
                  "%s", tg_last_error());
    /* a parameter changed between forward and backward, named */
    tg_tape_reset(tp);
    tg_tensor_set_name(w, "W1");
    s = tg_sum_all(tp, tg_exp(tp, w));
    tg_tensor_set_flat(w, 0, 2.0);
    ck_assert_int_eq(tg_backward(tp, s), TG_ERR_TAPE);
    ck_assert_msg(strstr(tg_tape_error(tp),
                         "backward: input 0 of exp (node 0), W1 ($0) f64[2], was "
                         "modified after it was recorded") != NULL,
                  "%s", tg_tape_error(tp));
    tg_tensor_set_flat(w, 0, 1.0);
    /* anomaly mode names the node's output */
    tg_tape_reset(tp);
    tg_tape_set_anomaly(tp, true);
    tg_tensor *r = tg_sqrt(tp, w); /* sqrt(-1): NaN in forward already */
    (void)r;
    tg_tape_reset(tp);
    tg_tensor *z = tg_mul_scalar(tp, w, 0.0);
    tg_tensor *q = tg_sqrt(tp, tg_abs(tp, z)); /* sqrt(0) fine; its derivative is Inf */
    tg_tensor_set_name(q, "root");
    ck_assert_int_ne(tg_backward(tp, tg_sum_all(tp, q)), TG_OK);
    ck_assert_msg(strstr(tg_tape_error(tp), "during backward of node 2 (sqrt, root)") != NULL, "%s",
                  tg_tape_error(tp));
    tg_tape_free(tp);
    tg_tensor_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("teach");
    TCase *tc = tcase_create("teach");
    tcase_add_test(tc, test_json_checker_rejects);
    tcase_add_test(tc, test_xml_checker_rejects);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_names_many);
    tcase_add_test(tc, test_names_threads);
    tcase_add_test(tc, test_print_names_attrs_constants);
    tcase_add_test(tc, test_grids);
    tcase_add_test(tc, test_explain_text);
    tcase_add_test(tc, test_explain_markdown);
    tcase_add_test(tc, test_explain_json);
    tcase_add_test(tc, test_write_json);
    tcase_add_test(tc, test_svg);
    tcase_add_test(tc, test_dot);
    tcase_add_test(tc, test_names_in_errors);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
