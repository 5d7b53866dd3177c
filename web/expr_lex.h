/* The playground expression language's tokens, literals and environment
 * (shared by expr.c, which records formulas, and expr_lex.c). */
#ifndef PG_EXPR_LEX_H
#define PG_EXPR_LEX_H

#include "expr.h"

#include <stdbool.h>

#define PG_NAME_MAX    TG_NAME_MAX
#define PG_DEPTH_MAX   64     /* nesting of parentheses and unary minus */
#define PG_LITERAL_MAX 100000 /* elements of one [..] literal */
#define PG_VARS_MAX    256
#define PG_LOCALS_MAX  256

typedef enum pg_tok_kind { PG_END, PG_NUM, PG_NAME, PG_OP, PG_SEP } pg_tok_kind;

typedef struct pg_tok {
    pg_tok_kind kind;
    const char *s; /* the token's text in the source */
    size_t len;
    double num; /* PG_NUM */
    char op;    /* PG_OP: one of + - * / ^ @ ( ) [ ] , = */
    int line, col;
} pg_tok;

typedef struct pg_lexer {
    const char *p, *line_start;
    int line;
    pg_tok t;      /* the current token */
    pg_error *err; /* the first error only */
    bool failed;
} pg_lexer;

typedef struct pg_var {
    char *name;
    tg_tensor *own, *sub;
} pg_var;

struct pg_env {
    pg_var vars[PG_VARS_MAX];
    int n;
    tg_tensor **consts;
    int nconst, capconst;
};

void pg_lex_init(pg_lexer *L, const char *src, pg_error *err);
/* Moves to the next token (sets failed on a character that is none). */
void pg_lex_next(pg_lexer *L);
/* The token after the current one, without moving. */
pg_tok pg_lex_peek(const pg_lexer *L);
/* Sets the error (the first one only) at tok's position. */
void pg_lex_fail(pg_lexer *L, const pg_tok *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool pg_tok_is(const pg_tok *t, char op);
/* Copies tok's text, at most PG_NAME_MAX characters, into buf. */
void pg_tok_text(const pg_tok *t, char *buf, size_t size);

/* Parses a number (an optional sign) or a [..] literal at the current token
 * into a new f64 user tensor; NULL with the error set. */
tg_tensor *pg_literal(pg_lexer *L);

/* A variable's tensor (its substitute when one is set), or NULL. */
tg_tensor *pg_env_lookup(const pg_env *env, const char *name);
/* Keeps t to free with the env's constants; false (t freed) out of memory. */
bool pg_env_keep_const(pg_env *env, tg_tensor *t);
/* True when name is one of the formula functions. */
bool pg_is_function(const char *name);

#endif
