/* The playground's entry points (web/playground.c): each returns a
 * malloc'd JSON text, freed with pg_free; never NULL except out of memory. */
#ifndef PG_PLAYGROUND_H
#define PG_PLAYGROUND_H

/* Parses the variables and records the formula: {"ok":true,"output",
 * "vars","graph"} or {"ok":false,"box","line","col","error"}. */
char *pg_evaluate(const char *formula, const char *vars);
/* The backward pass of the current formula: {"ok","vars" (with "grad"),
 * "graph","events"} where events are explain mode's JSON objects. */
char *pg_backward(void);
/* Central differences of the current formula beside autodiff, per element,
 * and tg_gradcheck's verdict: {"ok","rows":[..],"gradcheck":{..}}. */
char *pg_gradcheck(void);
/* The seed documents' hand formulas beside autodiff (derivations --json). */
char *pg_seed_table(void);
void pg_free(char *p);

#endif
