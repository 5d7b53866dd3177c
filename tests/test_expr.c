/* The playground's expression language (web/expr.c): formulas record the
 * same graph as the ops called by hand, their gradients pass finite
 * differences, and bad text is an error with a position, never a crash. */
#include "common.h"

#include "expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The env of vars, or a failed test naming the error. */
static pg_env *env_of(const char *vars)
{
    pg_env *env = pg_env_new();
    pg_error err;
    ck_assert_ptr_nonnull(env);
    ck_assert_msg(pg_env_parse(env, vars, &err) == 0, "variables '%s': %d:%d: %s", vars, err.line,
                  err.col, err.msg);
    return env;
}

static tg_tensor *record_ok(tg_tape *tp, const char *formula, pg_env *env)
{
    pg_error err;
    tg_tensor *y = pg_expr_record(tp, formula, env, &err);
    ck_assert_msg(y != NULL, "formula '%s': %d:%d: %s", formula, err.line, err.col, err.msg);
    return y;
}

/* Variables and named intermediates carry their names onto the tape (the
 * graph, explain mode and error messages show them). */
START_TEST(test_names)
{
    pg_env *env = env_of("w = 0.5; x = 2; b = -1.5");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = record_ok(tp, "z = w*x + b\nsigmoid(z)", env);
    ck_assert_str_eq(tg_tensor_name(pg_env_tensor(env, 0)), "w");
    ck_assert_str_eq(tg_tensor_name(pg_env_tensor(env, 2)), "b");
    ck_assert_ptr_null(tg_tensor_name(y));
    pg_error err;
    ck_assert_ptr_null(pg_expr_record(tp, "q = w + [1, 2, 3]\nq + [1, 2]", env, &err));
    ck_assert_msg(err.line == 2 && err.col == 3 && strstr(err.msg, "do not broadcast") != NULL,
                  "%d:%d %s", err.line, err.col, err.msg);
    tg_tape_reset(tp);
    tg_tensor *z = record_ok(tp, "z = w*x + b\nz", env);
    ck_assert_str_eq(tg_tensor_name(z), "z");
    tg_tape_free(tp);
    pg_env_free(env);
}
END_TEST

/* sigmoid(w*x + b) from the formula and from the ops called by hand: the
 * same values and gradients, bit for bit (the same ops in the same order). */
START_TEST(test_sigmoid_neuron_matches_ops)
{
    pg_env *env = env_of("w = 0.5; x = 2\nb = -1.5");
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = record_ok(tp, "sigmoid(w*x + b)", env);
    ck_assert_int_eq(tg_backward(tp, y), TG_OK);

    tg_tensor *w = tg_tensor_scalar(TG_F64, 0.5), *x = tg_tensor_scalar(TG_F64, 2);
    tg_tensor *b = tg_tensor_scalar(TG_F64, -1.5);
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(x, true);
    tg_tensor_set_requires_grad(b, true);
    tg_tape *tq = tg_tape_new(NULL);
    tg_tensor *z = tg_sigmoid(tq, tg_add(tq, tg_mul(tq, w, x), b));
    ck_assert_int_eq(tg_backward(tq, z), TG_OK);

    ck_assert(tg_tensor_get_flat(y, 0) == tg_tensor_get_flat(z, 0));
    tg_tensor *mine[] = {w, x, b};
    for (int i = 0; i < 3; i++) {
        double g = tg_tensor_get_flat(tg_tensor_grad(pg_env_tensor(env, i)), 0);
        ck_assert_msg(g == tg_tensor_get_flat(tg_tensor_grad(mine[i]), 0), "d/d%s: %.17g",
                      pg_env_name(env, i), g);
    }
    /* and the formula by hand: y = sigmoid(-0.5), dy/dw = y (1 - y) x */
    double s = 1 / (1 + exp(0.5));
    double dw = tg_tensor_get_flat(tg_tensor_grad(pg_env_tensor(env, 0)), 0);
    ck_assert_msg(fabs(dw - s * (1 - s) * 2) <= 1e-15 * fabs(dw), "dw %.17g", dw);
    tg_tape_free(tq);
    tg_tensor_free(w), tg_tensor_free(x), tg_tensor_free(b);
    tg_tape_free(tp);
    pg_env_free(env);
}
END_TEST

typedef struct formula_ctx {
    const char *formula;
    pg_env *env;
} formula_ctx;

/* tg_fn: the formula recorded with the gradcheck's inputs as its variables. */
static tg_tensor *formula_fn(tg_tape *tp, tg_tensor *const *inputs, void *ctx)
{
    formula_ctx *c = ctx;
    for (int i = 0; i < pg_env_count(c->env); i++) pg_env_substitute(c->env, i, inputs[i]);
    pg_error err;
    tg_tensor *y = pg_expr_record(tp, c->formula, c->env, &err);
    for (int i = 0; i < pg_env_count(c->env); i++) pg_env_substitute(c->env, i, NULL);
    return y;
}

static const struct {
    const char *vars, *formula;
} k_graded[] = {
    {"w = 0.5; x = 2; b = -1", "sigmoid(w*x + b)"},
    {"W = [[0.1, -0.2], [0.3, 0.4]]; x = [1, 2]; b = [0.1, -0.2]", "sum(tanh(W @ x + b))"},
    {"W = [[0.1, -0.2], [0.3, 0.4]]; x = [1, 2]; t = [0, 1]",
     "o = sigmoid(W @ x); sum((o - t)^2) / 2"},
    {"z = [0.5, -1, 2]; t = [0, 0, 1]", "cross_entropy(z, t)"},
    {"z = [[0.5, -1, 2], [1, 0, -1]]", "sum(softmax(z) * [[1, 2, 3], [3, 2, 1]])"},
    {"a = 1.5; b = [0.2, 0.7]", "sum(a ^ b + b ^ 2 - 1 / b + exp(-b) * log(a))"},
    {"x = [0.3, 0.6]; W = [[1, 2], [3, 4], [5, 6]]", "mean(relu(x @ transpose(W)) + 0.1)"},
    {"p = [0.2, 0.9]; t = [0, 1]", "bce(p, t) + mse(p, t) + sse(p, t) + dot(p, t)"},
    {"x = [[1, 2], [3, 4]]", "sum(logsumexp(x, 1)) + sum(log_softmax(x, 0) * [[1, 2], [3, 4]])"},
};

/* Every formula against central differences (tg_gradcheck: both rule sets
 * of every op too). */
START_TEST(test_formulas_gradcheck)
{
    formula_ctx c = {k_graded[_i].formula, env_of(k_graded[_i].vars)};
    tg_tensor *in[8];
    int n = pg_env_count(c.env);
    for (int i = 0; i < n; i++) in[i] = pg_env_tensor(c.env, i);
    tt_gradcheck(c.formula, formula_fn, &c, n, in);
    pg_env_free(c.env);
}
END_TEST

/* The value of a formula of scalars, read back. */
static double value_of(const char *vars, const char *formula)
{
    pg_env *env = env_of(vars);
    tg_tape *tp = tg_tape_new(NULL);
    double v = tg_tensor_get_flat(record_ok(tp, formula, env), 0);
    tg_tape_free(tp);
    pg_env_free(env);
    return v;
}

/* Precedence and associativity as in mathematics. */
START_TEST(test_precedence)
{
    const char *v = "x = 3; y = 2";
    ck_assert(value_of(v, "-x^2") == -9);
    ck_assert(value_of(v, "x*2^3^2") == 3 * 512);
    ck_assert(value_of(v, "x - y - 1") == 0);
    ck_assert(value_of(v, "x / y / 3") == 0.5);
    ck_assert(value_of(v, "1 - x * y + 4") == -1);
    ck_assert(value_of(v, "(1 - x) * y") == -4);
    ck_assert(value_of(v, "x ^ -1") == 1.0 / 3);
    ck_assert(value_of(v, "2 ^ y") == 4);
    ck_assert(value_of(v, "h = x + y  # a comment\nh * h") == 25);
    ck_assert(value_of(v, "h = x # only the intermediate\nh") == 3);
    ck_assert(value_of("x = [1, 2]; W = [[1, 2], [3, 4]]", "sum(W @ x)") == 5 + 11);
    ck_assert(value_of("x = [1, 2]; W = [[1, 2], [3, 4]]", "sum(x @ W)") == 7 + 10);
    ck_assert(value_of("x = [1, 2]", "matmul(x, x)") == 5);
    ck_assert(value_of("x = [[1, 2], [3, 4]]", "sum(sum(x, 0) * [1, 10])") == 4 + 60);
    ck_assert(value_of("x = [1e-1, .5E1]", "sum(x)") == 0.1 + 5);
}
END_TEST

static const struct {
    const char *vars, *formula;
    int line, col;
    const char *msg;
} k_bad[] = {
    {"w = 1", "sigmoid(w*x + b", 1, 11, "unknown name 'x'"},
    {"w = 1", "sigmoid(w +", 1, 12, "ends where a value was expected"},
    {"w = 1", "w ** 2", 1, 4, "expected a value, found '*'"},
    {"w = 1", "foo(w)", 1, 1, "unknown function 'foo'"},
    {"w = 1", "w(2)", 1, 1, "'w' is a variable, not a function"},
    {"w = 1", "exp + w", 1, 1, "'exp' is a function"},
    {"w = [1, 2]", "w + [1, 2, 3]", 1, 3, "do not broadcast"},
    {"w = [1, 2]", "w @ [1, 2, 3]", 1, 3, "matmul"},
    {"w = [1, 2]", "w @ 2", 1, 3, "matmul takes vectors and matrices"},
    {"w = [1, 2]", "sum(w, 0.5)", 1, 1, "whole number"},
    {"w = [1, 2]", "sum(w, 0, 1)", 1, 11, "at most 2"},
    {"w = [1, 2]", "softmax()", 1, 9, "takes 1 argument"},
    {"w = [1, 2]", "sum(w, 3)", 1, 1, "axis"},
    {"w = [1, 2]", "transpose(w)", 1, 1, "transpose needs a matrix"},
    {"w = 1", "1 + 2", 1, 1, "constant 3"},
    {"w = 1", "", 1, 1, "empty"},
    {"w = 1", " ;\n ; ", 1, 2, "empty"},
    {"w = 1", "w $ 2", 1, 3, "unexpected character '$'"},
    {"w = 1", "w \x01", 1, 3, "unexpected byte 0x01"},
    {"w = 1", "w = 2\nw", 1, 1, "'w' is a variable"},
    {"w = 1", "h = w\nh = 2*w\nh", 2, 1, "already defined on line 1"},
    {"w = 1", "exp = w", 1, 1, "function"},
    {"w = 1", "w + 1 = 2", 1, 7, "'=' names an intermediate"},
    {"w = 1", "w 2", 1, 3, "expected an operator"},
    {"w = 1", "(w + 1", 1, 7, "expected ')' to close the '(' at column 1"},
    {"w = 1", "w + [1, [2]]", 1, 9, "mixes numbers and lists"},
    {"w = 1", "w + [[1, 2], [3]]", 1, 14, "this list has 1 elements"},
    {"w = 1", "w + []", 1, 5, "empty list"},
    {"w = 1", "w + [1 2]", 1, 8, "expected ',' or ']'"},
    {"w = 1", "w + [w]", 1, 6, "expected a number"},
    {"w = 1", "w + 1234567890123456789012345678901234567890123456789012345678901234567", 1, 5,
     "number too long"},
    {"w = 1", "\n\n  sqrt(w", 3, 9, "expected ',' or ')'"},
    {"w = 1", "w + a234567890123456789012345678901234", 1, 5, "name longer than 31"},
    {"w = ", "w", 1, 5, "expected a number"},
    {"w = 1; w = 2", "w", 1, 8, "defined twice"},
    {"exp = 1", "exp", 1, 1, "function name"},
    {"w 1", "w", 1, 3, "expected '='"},
    {"w = 1 2", "w", 1, 7, "expected ';' or a new line"},
    {"w = [[1, 2], [3]]", "w", 1, 14, "the first at its level had 2"},
    {"= 1", "w", 1, 1, "expected a variable name"},
    {"w = [[[[[[[[[1]]]]]]]]]", "w", 1, 13, "more than 8 nested lists"},
    {"w = [1, 2]; x = [1, 2, 3]", "w + x", 1, 3, "(2) and (3)"},
};

/* Each bad text: NULL, with its line, column and reason. */
START_TEST(test_bad_inputs)
{
    pg_env *env = pg_env_new();
    pg_error err;
    const char *where = "variables";
    if (pg_env_parse(env, k_bad[_i].vars, &err) == 0) {
        tg_tape *tp = tg_tape_new(NULL);
        where = "formula";
        ck_assert_msg(pg_expr_record(tp, k_bad[_i].formula, env, &err) == NULL, "'%s' passed",
                      k_bad[_i].formula);
        tg_tape_free(tp);
    }
    ck_assert_msg(err.line == k_bad[_i].line && err.col == k_bad[_i].col &&
                      strstr(err.msg, k_bad[_i].msg) != NULL,
                  "%s of case %d: got %d:%d '%s', want %d:%d '%s'", where, _i, err.line, err.col,
                  err.msg, k_bad[_i].line, k_bad[_i].col, k_bad[_i].msg);
    pg_env_free(env);
}
END_TEST

/* Deep nesting is refused before the stack runs out. */
START_TEST(test_deep_nesting)
{
    enum { N = 20000 };
    char *s = malloc(2 * N + 2);
    pg_env *env = env_of("w = 1");
    tg_tape *tp = tg_tape_new(NULL);
    pg_error err;
    const char *open[] = {"(", "-", "exp(", "["};
    for (int k = 0; k < LEN(open); k++) {
        memset(s, open[k][0], N);
        if (k == 2)
            for (int i = 0; i + 4 <= N; i += 4) memcpy(s + i, "exp(", 4);
        strcpy(s + N, "w");
        ck_assert_ptr_null(pg_expr_record(tp, s, env, &err));
        ck_assert_msg(strstr(err.msg, "nested") != NULL, "%s", err.msg);
        tg_tape_reset(tp);
    }
    tg_tape_free(tp);
    pg_env_free(env);
    free(s);
}
END_TEST

/* Random texts made of the language's pieces: each is a value or an error
 * with a position and a reason (under ASan/UBSan: no bad access either). */
START_TEST(test_fuzz_random_texts)
{
    static const char *pieces[] = {"w",   "x",
                                   "W",   "b",
                                   "h",   "=",
                                   "+",   "-",
                                   "*",   "/",
                                   "^",   "@",
                                   "(",   ")",
                                   "[",   "]",
                                   ",",   ";",
                                   "\n",  "1",
                                   "0.5", "2e3",
                                   "sum", "sigmoid(",
                                   "exp", "mean(",
                                   "$",   "softmax(",
                                   " ",   "1e",
                                   ".",   "#",
                                   "\t",  "cross_entropy("};
    pg_env *env = env_of("w = 0.5; x = [1, 2]; W = [[1, 2], [3, 4]]; b = -1");
    tg_tape *tp = tg_tape_new(NULL);
    tg_rng r;
    tg_rng_seed(&r, 21);
    char buf[256];
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = 0;
        int n = 1 + (int)(tg_rng_next(&r) % 16);
        for (int k = 0; k < n; k++) {
            const char *p = pieces[tg_rng_next(&r) % LEN(pieces)];
            if (len + strlen(p) >= sizeof buf) break;
            memcpy(buf + len, p, strlen(p));
            len += strlen(p);
        }
        buf[len] = '\0';
        pg_error err;
        tg_tensor *y = pg_expr_record(tp, buf, env, &err);
        if (y) {
            ok++;
        } else {
            ck_assert_msg(err.msg[0] != '\0' && err.line >= 1 && err.col >= 1, "'%s': %d:%d '%s'",
                          buf, err.line, err.col, err.msg);
        }
        tg_tape_reset(tp);
        pg_env_drop_consts(env);
    }
    ck_assert_int_gt(ok, 10); /* some texts are formulas: the fuzzer reaches the ops */
    for (int it = 0; it < 5000; it++) {
        size_t len = tg_rng_next(&r) % 40;
        for (size_t k = 0; k < len; k++) buf[k] = (char)(1 + tg_rng_next(&r) % 255);
        buf[len] = '\0';
        pg_env *e = pg_env_new();
        pg_error err;
        if (pg_env_parse(e, buf, &err) != 0)
            ck_assert_msg(err.msg[0] && err.col >= 1, "vars: %d '%s'", err.col, err.msg);
        pg_env_free(e);
    }
    tg_tape_free(tp);
    pg_env_free(env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_sigmoid_neuron_matches_ops);
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_formulas_gradcheck, 0, LEN(k_graded));
    tcase_add_test(tc, test_precedence);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_bad_inputs, 0, LEN(k_bad));
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_fuzz_random_texts);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
