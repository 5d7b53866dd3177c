/* The playground's expression language: variables given as literals, and a
 * formula recorded on a tapegrad tape.
 *
 * Variables:  w = 0.5; x = [1, 2]; W = [[1, 2], [3, 4]]
 *   (statements separated by ';' or new lines; numbers, vectors, matrices,
 *   any nesting up to TG_MAX_DIMS; each becomes a named f64 user tensor that
 *   requires grad).
 * Formula:    z = W @ x + b; sigmoid(z)
 *   (statements separated by ';' or new lines; `name = expr` names an
 *   intermediate; the last statement is the output).  Operators, loosest
 *   first: + -, * / @, unary -, ^ (right-associative); calls f(a, ...) of
 *   the functions listed by pg_expr_functions; [..] literals are constants.
 *
 * It lives beside the playground (web/), not in the library: it is a
 * teaching notation, not an API a C program would build on.  Errors are
 * never a crash: a pg_error gives the line, column and reason. */
#ifndef PG_EXPR_H
#define PG_EXPR_H

#include <tapegrad.h>

/* Where and why a text was refused.  line and col count from 1; 0 when the
 * error has no position (out of memory). */
typedef struct pg_error {
    int line, col;
    char msg[240];
} pg_error;

/* The variables: names and their user tensors (owned by the env). */
typedef struct pg_env pg_env;

pg_env *pg_env_new(void);
/* Frees the variables and the formula's constants.  NULL is ignored. */
void pg_env_free(pg_env *env);
/* Parses the variables box into env (which must be empty); 0 on success,
 * -1 with err set. */
int pg_env_parse(pg_env *env, const char *src, pg_error *err);
int pg_env_count(const pg_env *env);
const char *pg_env_name(const pg_env *env, int i);
tg_tensor *pg_env_tensor(const pg_env *env, int i);
/* Replaces variable i's tensor by t for the next recordings (the caller
 * keeps owning t; gradient checks substitute copies this way); NULL puts
 * the env's own tensor back. */
void pg_env_substitute(pg_env *env, int i, tg_tensor *t);
/* Frees the constants that recordings made ([..] literals, numbers given to
 * functions); call it after resetting the tapes they were recorded on. */
void pg_env_drop_consts(pg_env *env);

/* Records formula on tp with env's variables and returns its output (a
 * tensor of tp or a variable), or NULL with err set: a parse error, or the
 * op's error (tg_tape_error) at the column of the operator or call. */
tg_tensor *pg_expr_record(tg_tape *tp, const char *formula, pg_env *env, pg_error *err);

/* The names of the functions a formula may call, NULL-terminated. */
const char *const *pg_expr_functions(void);

#endif
