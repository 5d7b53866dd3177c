/* The playground expression language: tokens, [..] literals, and the
 * variables box (an environment of named user tensors). */
#include "expr_lex.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_lex_fail(pg_lexer *L, const pg_tok *at, const char *fmt, ...)
{
    if (L->failed) return;
    L->failed = true;
    L->err->line = at ? at->line : 0;
    L->err->col = at ? at->col : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err->msg, sizeof L->err->msg, fmt, ap);
    va_end(ap);
}

bool pg_tok_is(const pg_tok *t, char op)
{
    return t->kind == PG_OP && t->op == op;
}

void pg_tok_text(const pg_tok *t, char *buf, size_t size)
{
    size_t n = t->len < size - 1 ? t->len : size - 1;
    memcpy(buf, t->s, n);
    buf[n] = '\0';
}

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

/* digits [. digits] [e [+-] digits], or . digits: strtod alone would also
 * take "inf", "nan" and hexadecimal, which are not numbers here. */
static size_t number_length(const char *s)
{
    size_t i = 0, digits = 0;
    while (isdigit((unsigned char)s[i])) i++, digits++;
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i])) i++, digits++;
    }
    if (digits == 0) return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (isdigit((unsigned char)s[j])) {
            while (isdigit((unsigned char)s[j])) j++;
            i = j;
        }
    }
    return i;
}

static void lex_number(pg_lexer *L, pg_tok *t)
{
    t->len = number_length(t->s);
    char buf[64];
    if (t->len >= sizeof buf) {
        pg_lex_fail(L, t, "number too long");
        t->kind = PG_END;
        return;
    }
    memcpy(buf, t->s, t->len);
    buf[t->len] = '\0';
    t->kind = PG_NUM;
    t->num = strtod(buf, NULL);
}

/* Reads one token at L->p into t, advancing the position. */
static void lex_one(pg_lexer *L, pg_tok *t)
{
    for (;;) {
        while (*L->p == ' ' || *L->p == '\t' || *L->p == '\r') L->p++;
        if (*L->p != '#') break;
        while (*L->p && *L->p != '\n') L->p++; /* a comment */
    }
    memset(t, 0, sizeof *t);
    t->s = L->p;
    t->line = L->line;
    t->col = (int)(L->p - L->line_start) + 1;
    char c = *L->p;
    if (c == '\0') {
        t->kind = PG_END;
        return;
    }
    if (c == '\n' || c == ';') {
        t->kind = PG_SEP;
        t->len = 1;
        L->p++;
        if (c == '\n') L->line++, L->line_start = L->p;
        return;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)L->p[1]))) {
        lex_number(L, t);
    } else if (is_name_start(c)) {
        while (is_name_start(t->s[t->len]) || isdigit((unsigned char)t->s[t->len])) t->len++;
        t->kind = PG_NAME;
        if (t->len > PG_NAME_MAX) pg_lex_fail(L, t, "name longer than %d characters", PG_NAME_MAX);
    } else if (strchr("+-*/^@()[],=", c)) {
        t->kind = PG_OP;
        t->op = c;
        t->len = 1;
    } else {
        if (isprint((unsigned char)c))
            pg_lex_fail(L, t, "unexpected character '%c'", c);
        else
            pg_lex_fail(L, t, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
        t->kind = PG_END;
    }
    L->p = t->s + t->len;
}

void pg_lex_init(pg_lexer *L, const char *src, pg_error *err)
{
    memset(L, 0, sizeof *L);
    L->p = src;
    L->line_start = src;
    L->line = 1;
    L->err = err;
    memset(err, 0, sizeof *err);
    lex_one(L, &L->t);
}

void pg_lex_next(pg_lexer *L)
{
    if (L->t.kind == PG_END) return;
    lex_one(L, &L->t);
}

pg_tok pg_lex_peek(const pg_lexer *L)
{
    pg_lexer copy = *L;
    pg_error scratch;
    copy.err = &scratch;
    copy.failed = true; /* a bad character after is reported when reached */
    pg_tok t;
    if (L->t.kind == PG_END) return L->t;
    lex_one(&copy, &t);
    return t;
}

/* ---- [..] literals ------------------------------------------------------- */

typedef struct literal {
    double *vals;
    int64_t n, cap;
    int64_t shape[TG_MAX_DIMS];
    int kind[TG_MAX_DIMS]; /* per depth: 0 unseen, 1 numbers, 2 lists */
    int ndim;
} literal;

static bool literal_push(pg_lexer *L, literal *lit, double v)
{
    if (lit->n == PG_LITERAL_MAX) {
        pg_lex_fail(L, &L->t, "literal with more than %d elements", PG_LITERAL_MAX);
        return false;
    }
    if (lit->n == lit->cap) {
        int64_t cap = lit->cap ? 2 * lit->cap : 16;
        double *p = realloc(lit->vals, (size_t)cap * sizeof *p);
        if (!p) {
            pg_lex_fail(L, NULL, "out of memory");
            return false;
        }
        lit->vals = p;
        lit->cap = cap;
    }
    lit->vals[lit->n++] = v;
    return true;
}

/* A number with an optional sign at the current token. */
static bool signed_number(pg_lexer *L, double *v)
{
    double sign = 1;
    if (pg_tok_is(&L->t, '-') || pg_tok_is(&L->t, '+')) {
        sign = L->t.op == '-' ? -1 : 1;
        pg_lex_next(L);
    }
    if (L->t.kind != PG_NUM) {
        pg_lex_fail(L, &L->t, "expected a number");
        return false;
    }
    *v = sign * L->t.num;
    pg_lex_next(L);
    return true;
}

static bool literal_element(pg_lexer *L, literal *lit, int depth);

/* One [..] list at depth (the current token is its '['). */
static bool literal_list(pg_lexer *L, literal *lit, int depth)
{
    pg_tok open = L->t;
    if (depth >= TG_MAX_DIMS) {
        pg_lex_fail(L, &open, "more than %d nested lists", TG_MAX_DIMS);
        return false;
    }
    if (depth + 1 > lit->ndim) lit->ndim = depth + 1;
    pg_lex_next(L);
    int64_t count = 0;
    if (pg_tok_is(&L->t, ']')) {
        pg_lex_fail(L, &open, "empty list");
        return false;
    }
    for (;;) {
        if (!literal_element(L, lit, depth + 1)) return false;
        count++;
        if (pg_tok_is(&L->t, ',')) {
            pg_lex_next(L);
            continue;
        }
        if (pg_tok_is(&L->t, ']')) break;
        pg_lex_fail(L, &L->t, "expected ',' or ']' in the list opened at column %d", open.col);
        return false;
    }
    if (lit->shape[depth] == 0) {
        lit->shape[depth] = count;
    } else if (lit->shape[depth] != count) {
        pg_lex_fail(L, &open, "this list has %lld elements, the first at its level had %lld",
                    (long long)count, (long long)lit->shape[depth]);
        return false;
    }
    pg_lex_next(L);
    return true;
}

static bool literal_element(pg_lexer *L, literal *lit, int depth)
{
    int kind = pg_tok_is(&L->t, '[') ? 2 : 1;
    if (depth < TG_MAX_DIMS) {
        if (lit->kind[depth] && lit->kind[depth] != kind) {
            pg_lex_fail(L, &L->t, "a list mixes numbers and lists");
            return false;
        }
        lit->kind[depth] = kind;
    }
    if (kind == 2) return literal_list(L, lit, depth);
    double v;
    return signed_number(L, &v) && literal_push(L, lit, v);
}

tg_tensor *pg_literal(pg_lexer *L)
{
    literal lit;
    memset(&lit, 0, sizeof lit);
    tg_tensor *t = NULL;
    if (!pg_tok_is(&L->t, '[')) {
        double v;
        if (signed_number(L, &v)) t = tg_tensor_scalar(TG_F64, v);
    } else if (literal_list(L, &lit, 0)) {
        t = tg_tensor_from_f64(TG_F64, lit.ndim, lit.shape, lit.vals);
    }
    if (!t && !L->failed) pg_lex_fail(L, NULL, "%s", tg_last_error());
    free(lit.vals);
    return t;
}

/* ---- the environment --------------------------------------------------- */

pg_env *pg_env_new(void)
{
    return calloc(1, sizeof(pg_env));
}

void pg_env_drop_consts(pg_env *env)
{
    if (!env) return;
    for (int i = 0; i < env->nconst; i++) tg_tensor_free(env->consts[i]);
    env->nconst = 0;
}

void pg_env_free(pg_env *env)
{
    if (!env) return;
    pg_env_drop_consts(env);
    free(env->consts);
    for (int i = 0; i < env->n; i++) {
        free(env->vars[i].name);
        tg_tensor_free(env->vars[i].own);
    }
    free(env);
}

bool pg_env_keep_const(pg_env *env, tg_tensor *t)
{
    if (env->nconst == env->capconst) {
        int cap = env->capconst ? 2 * env->capconst : 16;
        tg_tensor **p = realloc(env->consts, (size_t)cap * sizeof *p);
        if (!p) {
            tg_tensor_free(t);
            return false;
        }
        env->consts = p;
        env->capconst = cap;
    }
    env->consts[env->nconst++] = t;
    return true;
}

int pg_env_count(const pg_env *env)
{
    return env ? env->n : 0;
}

const char *pg_env_name(const pg_env *env, int i)
{
    return env && i >= 0 && i < env->n ? env->vars[i].name : NULL;
}

tg_tensor *pg_env_tensor(const pg_env *env, int i)
{
    return env && i >= 0 && i < env->n ? env->vars[i].own : NULL;
}

void pg_env_substitute(pg_env *env, int i, tg_tensor *t)
{
    if (env && i >= 0 && i < env->n) env->vars[i].sub = t;
}

tg_tensor *pg_env_lookup(const pg_env *env, const char *name)
{
    for (int i = 0; i < env->n; i++)
        if (strcmp(env->vars[i].name, name) == 0)
            return env->vars[i].sub ? env->vars[i].sub : env->vars[i].own;
    return NULL;
}

/* One `name = literal` statement of the variables box. */
static bool env_statement(pg_lexer *L, pg_env *env)
{
    pg_tok name_tok = L->t;
    char name[PG_NAME_MAX + 1];
    if (name_tok.kind != PG_NAME) {
        pg_lex_fail(L, &name_tok, "expected a variable name (as in w = 0.5)");
        return false;
    }
    pg_tok_text(&name_tok, name, sizeof name);
    if (pg_is_function(name)) {
        pg_lex_fail(L, &name_tok, "'%s' is a function name; choose another", name);
        return false;
    }
    if (pg_env_lookup(env, name)) {
        pg_lex_fail(L, &name_tok, "'%s' is defined twice", name);
        return false;
    }
    if (env->n == PG_VARS_MAX) {
        pg_lex_fail(L, &name_tok, "more than %d variables", PG_VARS_MAX);
        return false;
    }
    pg_lex_next(L);
    if (!pg_tok_is(&L->t, '=')) {
        pg_lex_fail(L, &L->t, "expected '=' after '%s'", name);
        return false;
    }
    pg_lex_next(L);
    tg_tensor *t = pg_literal(L);
    if (!t) return false;
    char *copy = malloc(strlen(name) + 1);
    if (!copy || tg_tensor_set_requires_grad(t, true) != TG_OK) {
        free(copy);
        tg_tensor_free(t);
        pg_lex_fail(L, NULL, "out of memory");
        return false;
    }
    strcpy(copy, name);
    tg_tensor_set_name(t, name);
    env->vars[env->n++] = (pg_var){copy, t, NULL};
    return true;
}

int pg_env_parse(pg_env *env, const char *src, pg_error *err)
{
    pg_lexer L;
    pg_lex_init(&L, src, err);
    while (!L.failed) {
        while (L.t.kind == PG_SEP) pg_lex_next(&L);
        if (L.t.kind == PG_END || L.failed) break;
        if (!env_statement(&L, env)) break;
        if (L.t.kind != PG_SEP && L.t.kind != PG_END)
            pg_lex_fail(&L, &L.t, "expected ';' or a new line after the value");
    }
    return L.failed ? -1 : 0;
}
