/* The suite every seed document's test shares (test_seed00N.c): each row
 * seed_nets.c computes must hold as its verdict says, the document's
 * equations must all have a row, and the errata and approximations found
 * are the ones documented on docs/seeds/00N.md.  A seed's file gives these
 * numbers and adds its own tests. */
#ifndef TT_SEED_SUITE_H
#define TT_SEED_SUITE_H

#include "seed_nets.h"

#include <check.h>

typedef struct sn_suite {
    int seed;                     /* the document's number, 0 for seed 000 */
    bool (*run)(sn_rows *rows);   /* computes the rows (sn_seed00N) */
    int n_rows;                   /* how many rows it computes */
    const char *const *labels;    /* the document's equations, NULL-terminated */
    int n_errata, n_approx;       /* documented on docs/seeds/00N.md */
    void (*add_tests)(TCase *tc); /* the seed's own tests, or NULL */
} sn_suite;

/* The rows, computed once in sn_suite_main before Check forks the tests. */
extern sn_rows sn_suite_rows;

/* Computes the rows, runs the shared tests and the seed's own, frees the
 * rows; returns the exit status. */
int sn_suite_main(const sn_suite *s);

#endif
