/* The playground expression language: a formula recorded on a tape.
 *
 * A recursive-descent parser that records as it parses: each operator or
 * call becomes the tapegrad op it names, so the tape is the formula's
 * Wengert list and the browser shows the library's own graph.  A plain
 * number stays a number until it meets a tensor, so `1 - y` records one
 * rsub_scalar node rather than a constant tensor and a sub. */
#include "expr_lex.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A value: a tensor, or a number when t is NULL. */
typedef struct val {
    tg_tensor *t;
    double num;
} val;

typedef struct local {
    char name[PG_NAME_MAX + 1];
    val v;
    int line;
} local;

typedef struct parser {
    pg_lexer L;
    tg_tape *tp;
    pg_env *env;
    local *locals;
    int nlocal;
    int depth;
} parser;

typedef enum fn_kind {
    FK_UNARY,
    FK_SUM,
    FK_MEAN,
    FK_SOFTMAX,
    FK_LOG_SOFTMAX,
    FK_LOGSUMEXP,
    FK_MATMUL,
    FK_TRANSPOSE,
    FK_DOT,
    FK_SSE,
    FK_MSE,
    FK_BCE,
    FK_CROSS_ENTROPY,
    FK_MAXIMUM,
    FK_MINIMUM,
} fn_kind;

typedef struct fn_entry {
    const char *name;
    fn_kind kind;
    int min_args, max_args;
    tg_tensor *(*unary)(tg_tape *, tg_tensor *);
} fn_entry;

#define UNARY(name)                                                                                \
    {                                                                                              \
#name, FK_UNARY, 1, 1, tg_##name                                                           \
    }
static const fn_entry fns[] = {
    UNARY(sigmoid),
    UNARY(tanh),
    UNARY(relu),
    UNARY(exp),
    UNARY(log),
    UNARY(sqrt),
    UNARY(sin),
    UNARY(cos),
    UNARY(tan),
    UNARY(abs),
    UNARY(square),
    UNARY(softplus),
    UNARY(asin),
    UNARY(acos),
    UNARY(atan),
    UNARY(sinh),
    UNARY(cosh),
    UNARY(asinh),
    UNARY(acosh),
    UNARY(atanh),
    UNARY(erf),
    UNARY(expm1),
    UNARY(log1p),
    UNARY(log2),
    UNARY(log10),
    UNARY(exp2),
    UNARY(cbrt),
    UNARY(reciprocal),
    UNARY(rsqrt),
    UNARY(silu),
    UNARY(gelu),
    UNARY(softsign),
    UNARY(mish),
    {"sum", FK_SUM, 1, 2, NULL},
    {"mean", FK_MEAN, 1, 2, NULL},
    {"softmax", FK_SOFTMAX, 1, 2, NULL},
    {"log_softmax", FK_LOG_SOFTMAX, 1, 2, NULL},
    {"logsumexp", FK_LOGSUMEXP, 1, 2, NULL},
    {"matmul", FK_MATMUL, 2, 2, NULL},
    {"transpose", FK_TRANSPOSE, 1, 1, NULL},
    {"dot", FK_DOT, 2, 2, NULL},
    {"sse", FK_SSE, 2, 2, NULL},
    {"mse", FK_MSE, 2, 2, NULL},
    {"bce", FK_BCE, 2, 2, NULL},
    {"cross_entropy", FK_CROSS_ENTROPY, 2, 2, NULL},
    {"maximum", FK_MAXIMUM, 2, 2, NULL},
    {"minimum", FK_MINIMUM, 2, 2, NULL},
};
#undef UNARY
#define N_FNS ((int)(sizeof fns / sizeof fns[0]))

static const fn_entry *find_fn(const char *name)
{
    for (int i = 0; i < N_FNS; i++)
        if (strcmp(fns[i].name, name) == 0) return &fns[i];
    return NULL;
}

bool pg_is_function(const char *name)
{
    return find_fn(name) != NULL;
}

const char *const *pg_expr_functions(void)
{
    static const char *names[N_FNS + 1];
    for (int i = 0; i < N_FNS; i++) names[i] = fns[i].name;
    names[N_FNS] = NULL;
    return names;
}

static const val fail_val = {NULL, 0};

/* Turns an op's NULL result into the tape's error at the operator. */
static val op_result(parser *P, tg_tensor *t, const pg_tok *at)
{
    if (!t) {
        const char *msg = tg_tape_error(P->tp);
        pg_lex_fail(&P->L, at, "%s", msg && *msg ? msg : "the op failed");
    }
    return (val){t, 0};
}

/* A number as a 0-d constant tensor (for an op that takes tensors only). */
static tg_tensor *as_tensor(parser *P, val v, const pg_tok *at)
{
    if (v.t) return v.t;
    tg_tensor *t = tg_tensor_scalar(TG_F64, v.num);
    if (!t || !pg_env_keep_const(P->env, t)) {
        pg_lex_fail(&P->L, at, "out of memory");
        return NULL;
    }
    return t;
}

/* Reshapes t to ndim extents; for matmul's vectors. */
static tg_tensor *reshape(parser *P, tg_tensor *t, int ndim, int64_t a, int64_t b)
{
    int64_t shape[2] = {a, b};
    return t ? tg_reshape(P->tp, t, ndim, shape) : NULL;
}

/* a @ b with NumPy's vectors: a vector on the left is a row, on the right
 * a column, and the added axis is removed from the result. */
static val matmul(parser *P, val a, val b, const pg_tok *at)
{
    int na = a.t ? tg_tensor_ndim(a.t) : 0, nb = b.t ? tg_tensor_ndim(b.t) : 0;
    if (na == 0 || nb == 0 || na > 2 || nb > 2) {
        pg_lex_fail(&P->L, at, "matmul takes vectors and matrices, got %d and %d dimensions", na,
                    nb);
        return fail_val;
    }
    tg_tensor *x = a.t, *y = b.t;
    if (na == 1) x = reshape(P, x, 2, 1, tg_tensor_dim(x, 0));
    if (nb == 1) y = reshape(P, y, 2, tg_tensor_dim(y, 0), 1);
    tg_tensor *r = x && y ? tg_matmul(P->tp, x, y) : NULL;
    if (r && na == 1 && nb == 1) {
        r = tg_reshape(P->tp, r, 0, NULL);
    } else if (r && na == 1 && tg_tensor_ndim(r) == 2) {
        r = reshape(P, r, 1, tg_tensor_dim(r, 1), 0);
    } else if (r && nb == 1) {
        r = reshape(P, r, 1, tg_tensor_dim(r, 0), 0);
    }
    return op_result(P, r, at);
}

static double fold(char op, double a, double b)
{
    switch (op) {
    case '+':
        return a + b;
    case '-':
        return a - b;
    case '*':
        return a * b;
    case '/':
        return a / b;
    default:
        return pow(a, b);
    }
}

static val binop(parser *P, char op, val a, val b, const pg_tok *at)
{
    if (P->L.failed) return fail_val;
    if (op == '@') return matmul(P, a, b, at);
    if (!a.t && !b.t) return (val){NULL, fold(op, a.num, b.num)};
    tg_tape *tp = P->tp;
    tg_tensor *r = NULL;
    if (!b.t) { /* tensor op number */
        switch (op) {
        case '+':
            r = tg_add_scalar(tp, a.t, b.num);
            break;
        case '-':
            r = tg_add_scalar(tp, a.t, -b.num);
            break;
        case '*':
            r = tg_mul_scalar(tp, a.t, b.num);
            break;
        case '/':
            r = tg_mul_scalar(tp, a.t, 1.0 / b.num);
            break;
        default:
            r = tg_pow_scalar(tp, a.t, b.num);
            break;
        }
        return op_result(P, r, at);
    }
    if (!a.t && op != '^') { /* number op tensor */
        switch (op) {
        case '+':
            r = tg_add_scalar(tp, b.t, a.num);
            break;
        case '-':
            r = tg_rsub_scalar(tp, a.num, b.t);
            break;
        case '*':
            r = tg_mul_scalar(tp, b.t, a.num);
            break;
        default:
            r = tg_rdiv_scalar(tp, a.num, b.t);
            break;
        }
        return op_result(P, r, at);
    }
    tg_tensor *x = as_tensor(P, a, at);
    if (!x) return fail_val;
    switch (op) {
    case '+':
        r = tg_add(tp, x, b.t);
        break;
    case '-':
        r = tg_sub(tp, x, b.t);
        break;
    case '*':
        r = tg_mul(tp, x, b.t);
        break;
    case '/':
        r = tg_div(tp, x, b.t);
        break;
    default:
        r = tg_pow(tp, x, b.t);
        break;
    }
    return op_result(P, r, at);
}

static val parse_expr(parser *P);

/* An axis argument: a whole number. */
static bool axis_arg(parser *P, val v, const pg_tok *at, int *axis)
{
    if (v.t || v.num != (double)(int)v.num) {
        pg_lex_fail(&P->L, at, "the axis must be a whole number");
        return false;
    }
    *axis = (int)v.num;
    return true;
}

static tg_tensor *reduce_call(parser *P, const fn_entry *f, val *args, int n, const pg_tok *at)
{
    tg_tape *tp = P->tp;
    tg_tensor *x = as_tensor(P, args[0], at);
    int axis = -1;
    if (!x || (n == 2 && !axis_arg(P, args[1], at, &axis))) return NULL;
    switch (f->kind) {
    case FK_SUM:
        return n == 1 ? tg_sum_all(tp, x) : tg_sum(tp, x, 1, &axis, false);
    case FK_MEAN:
        return n == 1 ? tg_mean_all(tp, x) : tg_mean(tp, x, 1, &axis, false);
    case FK_SOFTMAX:
        return tg_softmax(tp, x, axis);
    case FK_LOG_SOFTMAX:
        return tg_log_softmax(tp, x, axis);
    default:
        return tg_logsumexp(tp, x, n == 1 ? 0 : 1, &axis, false);
    }
}

static tg_tensor *binary_call(parser *P, const fn_entry *f, val *args, const pg_tok *at)
{
    tg_tape *tp = P->tp;
    tg_tensor *a = as_tensor(P, args[0], at);
    tg_tensor *b = a ? as_tensor(P, args[1], at) : NULL;
    if (!b) return NULL;
    switch (f->kind) {
    case FK_DOT: {
        tg_tensor *m = tg_mul(tp, a, b);
        return m ? tg_sum_all(tp, m) : NULL;
    }
    case FK_SSE:
        return tg_sse(tp, a, b);
    case FK_MSE:
        return tg_mse(tp, a, b);
    case FK_BCE:
        return tg_bce(tp, a, b, TG_REDUCE_SUM);
    case FK_CROSS_ENTROPY:
        return tg_softmax_cross_entropy(tp, a, b, TG_REDUCE_SUM);
    case FK_MAXIMUM:
        return tg_maximum(tp, a, b);
    default:
        return tg_minimum(tp, a, b);
    }
}

static val apply_fn(parser *P, const fn_entry *f, val *args, int n, const pg_tok *at)
{
    if (P->L.failed) return fail_val;
    if (f->kind == FK_MATMUL) return matmul(P, args[0], args[1], at);
    if (f->kind == FK_UNARY) {
        tg_tensor *x = as_tensor(P, args[0], at);
        return x ? op_result(P, f->unary(P->tp, x), at) : fail_val;
    }
    if (f->kind == FK_TRANSPOSE) {
        tg_tensor *x = as_tensor(P, args[0], at);
        if (x && tg_tensor_ndim(x) != 2) {
            pg_lex_fail(&P->L, at, "transpose needs a matrix, got %d dimension(s)",
                        tg_tensor_ndim(x));
            return fail_val;
        }
        return x ? op_result(P, tg_transpose(P->tp, x, 0, 1), at) : fail_val;
    }
    tg_tensor *r =
        f->kind <= FK_LOGSUMEXP ? reduce_call(P, f, args, n, at) : binary_call(P, f, args, at);
    return P->L.failed ? fail_val : op_result(P, r, at);
}

/* name(args): the current token is the '(' after the name. */
static val parse_call(parser *P, const pg_tok *name_tok, const char *name)
{
    const fn_entry *f = find_fn(name);
    if (!f) {
        if (pg_env_lookup(P->env, name))
            pg_lex_fail(&P->L, name_tok, "'%s' is a variable, not a function", name);
        else
            pg_lex_fail(&P->L, name_tok, "unknown function '%s'", name);
        return fail_val;
    }
    pg_lex_next(&P->L);
    val args[2] = {fail_val, fail_val};
    int n = 0;
    while (!P->L.failed && !pg_tok_is(&P->L.t, ')')) {
        if (n == f->max_args) {
            pg_lex_fail(&P->L, &P->L.t, "%s takes at most %d argument(s)", name, f->max_args);
            return fail_val;
        }
        args[n++] = parse_expr(P);
        if (pg_tok_is(&P->L.t, ',')) {
            pg_lex_next(&P->L);
        } else if (!pg_tok_is(&P->L.t, ')')) {
            pg_lex_fail(&P->L, &P->L.t, "expected ',' or ')' in the call of %s", name);
        }
    }
    if (P->L.failed) return fail_val;
    if (n < f->min_args) {
        pg_lex_fail(&P->L, &P->L.t, "%s takes %d argument(s), got %d", name, f->min_args, n);
        return fail_val;
    }
    pg_lex_next(&P->L);
    return apply_fn(P, f, args, n, name_tok);
}

static val lookup_name(parser *P, const pg_tok *tok, const char *name)
{
    for (int i = P->nlocal - 1; i >= 0; i--)
        if (strcmp(P->locals[i].name, name) == 0) return P->locals[i].v;
    tg_tensor *t = pg_env_lookup(P->env, name);
    if (t) return (val){t, 0};
    if (find_fn(name))
        pg_lex_fail(&P->L, tok, "'%s' is a function: call it as %s(x)", name, name);
    else
        pg_lex_fail(&P->L, tok, "unknown name '%s' (give it a value in the variables box)", name);
    return fail_val;
}

static val parse_primary(parser *P)
{
    pg_tok t = P->L.t;
    if (t.kind == PG_NUM) {
        pg_lex_next(&P->L);
        return (val){NULL, t.num};
    }
    if (t.kind == PG_NAME) {
        char name[PG_NAME_MAX + 1];
        pg_tok_text(&t, name, sizeof name);
        pg_lex_next(&P->L);
        if (pg_tok_is(&P->L.t, '(')) return parse_call(P, &t, name);
        return lookup_name(P, &t, name);
    }
    if (pg_tok_is(&t, '(')) {
        pg_lex_next(&P->L);
        val v = parse_expr(P);
        if (!P->L.failed && !pg_tok_is(&P->L.t, ')'))
            pg_lex_fail(&P->L, &P->L.t, "expected ')' to close the '(' at column %d", t.col);
        pg_lex_next(&P->L);
        return P->L.failed ? fail_val : v;
    }
    if (pg_tok_is(&t, '[')) {
        tg_tensor *c = pg_literal(&P->L);
        if (c && !pg_env_keep_const(P->env, c)) pg_lex_fail(&P->L, &t, "out of memory");
        return P->L.failed ? fail_val : (val){c, 0};
    }
    if (t.kind == PG_END)
        pg_lex_fail(&P->L, &t, "the formula ends where a value was expected");
    else if (t.kind == PG_SEP)
        pg_lex_fail(&P->L, &t, "the statement ends where a value was expected");
    else
        pg_lex_fail(&P->L, &t, "expected a value, found '%c'", t.op);
    return fail_val;
}

static val parse_unary(parser *P);

/* primary ['^' unary]: right-associative, and tighter than unary minus
 * (-x^2 is -(x^2)) as in mathematics. */
static val parse_power(parser *P)
{
    val a = parse_primary(P);
    if (P->L.failed || !pg_tok_is(&P->L.t, '^')) return a;
    pg_tok op = P->L.t;
    pg_lex_next(&P->L);
    val b = parse_unary(P);
    return binop(P, '^', a, b, &op);
}

static val parse_unary(parser *P)
{
    if (!pg_tok_is(&P->L.t, '-') && !pg_tok_is(&P->L.t, '+')) return parse_power(P);
    pg_tok op = P->L.t;
    if (++P->depth > PG_DEPTH_MAX) {
        pg_lex_fail(&P->L, &op, "nested more than %d deep", PG_DEPTH_MAX);
        return fail_val;
    }
    pg_lex_next(&P->L);
    val v = parse_unary(P);
    P->depth--;
    if (P->L.failed || op.op == '+') return v;
    if (!v.t) return (val){NULL, -v.num};
    return op_result(P, tg_neg(P->tp, v.t), &op);
}

static val parse_product(parser *P)
{
    val a = parse_unary(P);
    while (!P->L.failed && P->L.t.kind == PG_OP && strchr("*/@", P->L.t.op)) {
        pg_tok op = P->L.t;
        pg_lex_next(&P->L);
        val b = parse_unary(P);
        a = binop(P, op.op, a, b, &op);
    }
    return a;
}

static val parse_expr(parser *P)
{
    if (++P->depth > PG_DEPTH_MAX) {
        pg_lex_fail(&P->L, &P->L.t, "nested more than %d deep", PG_DEPTH_MAX);
        return fail_val;
    }
    val a = parse_product(P);
    while (!P->L.failed && (pg_tok_is(&P->L.t, '+') || pg_tok_is(&P->L.t, '-'))) {
        pg_tok op = P->L.t;
        pg_lex_next(&P->L);
        val b = parse_product(P);
        a = binop(P, op.op, a, b, &op);
    }
    P->depth--;
    return a;
}

/* `name = expr`: the current token is the name. */
static val parse_assignment(parser *P)
{
    pg_tok t = P->L.t;
    local *l = &P->locals[P->nlocal];
    pg_tok_text(&t, l->name, sizeof l->name);
    if (find_fn(l->name) || pg_env_lookup(P->env, l->name)) {
        pg_lex_fail(&P->L, &t, "'%s' is a %s; name the intermediate otherwise", l->name,
                    find_fn(l->name) ? "function" : "variable");
        return fail_val;
    }
    for (int i = 0; i < P->nlocal; i++)
        if (strcmp(P->locals[i].name, l->name) == 0) {
            pg_lex_fail(&P->L, &t, "'%s' is already defined on line %d", l->name,
                        P->locals[i].line);
            return fail_val;
        }
    if (P->nlocal == PG_LOCALS_MAX) {
        pg_lex_fail(&P->L, &t, "more than %d named intermediates", PG_LOCALS_MAX);
        return fail_val;
    }
    pg_lex_next(&P->L); /* the name */
    pg_lex_next(&P->L); /* '=' */
    val v = parse_expr(P);
    if (P->L.failed) return fail_val;
    l->v = v;
    l->line = t.line;
    P->nlocal++;
    /* A tape tensor takes the name; a variable keeps its own. */
    if (v.t && tg_tensor_tape(v.t)) tg_tensor_set_name(v.t, l->name);
    return v;
}

tg_tensor *pg_expr_record(tg_tape *tp, const char *formula, pg_env *env, pg_error *err)
{
    local locals[PG_LOCALS_MAX];
    parser P = {.tp = tp, .env = env, .locals = locals};
    pg_lex_init(&P.L, formula, err);
    val last = fail_val;
    pg_tok last_start = P.L.t;
    int statements = 0;
    while (!P.L.failed) {
        while (P.L.t.kind == PG_SEP) pg_lex_next(&P.L);
        if (P.L.t.kind == PG_END || P.L.failed) break;
        last_start = P.L.t;
        pg_tok after = pg_lex_peek(&P.L);
        bool assign = P.L.t.kind == PG_NAME && pg_tok_is(&after, '=');
        last = assign ? parse_assignment(&P) : parse_expr(&P);
        statements++;
        if (!P.L.failed && P.L.t.kind != PG_SEP && P.L.t.kind != PG_END) {
            if (pg_tok_is(&P.L.t, '='))
                pg_lex_fail(&P.L, &P.L.t, "'=' names an intermediate: name = expression");
            else
                pg_lex_fail(&P.L, &P.L.t, "expected an operator or the end of the statement");
        }
    }
    if (!P.L.failed && statements == 0) pg_lex_fail(&P.L, &last_start, "the formula is empty");
    if (!P.L.failed && !last.t)
        pg_lex_fail(&P.L, &last_start, "the formula is the constant %g: it uses no variable",
                    last.num);
    return P.L.failed ? NULL : last.t;
}
