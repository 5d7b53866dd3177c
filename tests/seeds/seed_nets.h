/* The seed documents as test oracles: each formula of the five tutorials in
 * ../shared/seeds, computed by hand in plain C loops over double arrays and
 * compared with what autodiff gives for the same quantity on a tape built
 * from tapegrad ops.
 *
 * Every check produces one row.  The Check suites (test_seed00N.c) assert the
 * rows; examples/derivations.c prints them as a table.  Both call the same
 * sn_seedN functions, so each formula is written exactly once, here.
 *
 * Error measure (all rows): the normwise relative error
 *     err = max_i |h_i - a_i| / max_i |a_i|
 * of a hand value h against the autodiff value a (for a vector quantity the
 * table shows the element where the difference is largest, and names it).
 * sn_table.h prints the rows (text, Markdown, JSON). */
#ifndef TT_SEED_NETS_H
#define TT_SEED_NETS_H

#include <stdbool.h>
#include <stdio.h>

#include <tapegrad.h>

/* A formula that is right must match autodiff to this, in f64. */
#define SN_AGREE_RTOL 1e-10
/* A printed formula counts as wrong only if it is off by more than this
 * (far above rounding: the errata found are all > 1e-3). */
#define SN_ERRATUM_MIN 1e-6
/* A measured discrepancy must equal the size stated on the seed's page
 * (written there to 4 significant digits) to this relative tolerance. */
#define SN_DOC_RTOL 1e-3

typedef enum sn_verdict {
    SN_AGREES = 0, /* the formula as printed matches autodiff */
    SN_ERRATUM,    /* the printed formula differs; the corrected one matches */
    SN_APPROX      /* the document says "approximately": error measured */
} sn_verdict;

typedef struct sn_row {
    int seed;           /* 0..4: the document */
    char eq[40];        /* the document's equation number or section */
    char what[100];     /* what the formula computes */
    sn_verdict verdict; /* what the check is expected to find */
    /* The hand value (for an erratum: the corrected formula) against autodiff,
     * at the worst element; err is the normwise relative error. */
    double hand, autodiff, err;
    /* Where: the network (a short name listed in sn_rows.nets, "" if none)
     * and the element shown, elem of the n values compared (row-major, in
     * the order the row lists them); hand, autodiff and printed are all at
     * that element.  where is the compact form ("A[3]", "x=-1.28"). */
    char net[12];
    int elem, n;
    char where[40];
    double scale; /* max_i |a_i|: guards against vacuous comparisons of zeros */
    /* Erratum: the formula as printed and its error against autodiff; the
     * element shown is where the printed formula is furthest from autodiff
     * (hand is then the corrected formula there).
     * Approx: printed = the approximation, autodiff = the exact value. */
    double printed, printed_err;
    double documented;    /* the size of the error stated on the seed's page */
    char correction[120]; /* erratum / approx: the fix or the reference, briefly */
    bool broken;          /* a tape op failed while computing the row */
} sn_row;

/* A network (or input point) that rows are evaluated on. */
typedef struct sn_net {
    int seed;
    char name[12];  /* as in sn_row.net: "A", "cnn1" */
    char desc[240]; /* its shape and input point, one line */
} sn_net;

typedef struct sn_rows {
    sn_row *v;
    int n, cap;
    sn_net *nets;
    int n_nets, cap_nets;
} sn_rows;

void sn_rows_free(sn_rows *rows);

/* Record the network `name` of a seed (once: a name already listed is kept)
 * with a one-line description of its shape and input point.  Returns false
 * on bad arguments or out of memory. */
bool sn_rows_net(sn_rows *rows, int seed, const char *name, const char *desc);
/* The description of a seed's network, or NULL. */
const char *sn_rows_net_desc(const sn_rows *rows, int seed, const char *name);

/* Set a row's network and format its where field from net and elem. */
void sn_row_set_net(sn_row *r, const char *net);

/* Run every check of one seed document and append its rows.  Returns false
 * if a tape or allocation failed (the rows made so far are kept). */
bool sn_seed000(sn_rows *rows);
bool sn_seed001(sn_rows *rows);
bool sn_seed002(sn_rows *rows);
bool sn_seed003(sn_rows *rows);
bool sn_seed004(sn_rows *rows);

/* Append one row computed outside this file (seed002_cnn.c): hand against
 * ad over n values, with the same error measure and worst-element choice as
 * every other row.  v is SN_AGREES or SN_ERRATUM; for an erratum hand is the
 * corrected formula, printed the formula as printed, documented the size
 * stated on the seed's page and correction the fix in a few words (printed,
 * documented and correction are ignored for SN_AGREES).  The row has no
 * network until sn_row_set_net names one.  Returns the row, or NULL on bad
 * arguments or out of memory. */
sn_row *sn_rows_add(sn_rows *rows, int seed, const char *eq, const char *what, sn_verdict v,
                    const double *hand, const double *printed, const double *ad, int n,
                    double documented, const char *correction);

/* Whether a row holds: for SN_AGREES, err <= SN_AGREE_RTOL and the autodiff
 * value is not all zeros; for SN_ERRATUM, additionally the printed form is
 * off by more than SN_ERRATUM_MIN and by the documented amount; for
 * SN_APPROX, the measured error equals the documented one.  On failure a
 * reason is written into why (may be NULL). */
bool sn_row_holds(const sn_row *r, char *why, size_t why_size);

/* Whether the rows of a seed name every one of the labels (equation numbers
 * or sections) in the NULL-terminated list, by prefix match of the row's eq
 * field; the first missing label is written into missing. */
bool sn_rows_cover(const sn_rows *rows, int seed, const char *const *labels, char *missing,
                   size_t missing_size);

/* Seed 000 eq. 25 helpers, exposed for the tests: the exact expectation of
 * sigmoid(sum_j z_j w_j o_j) over all 2^J masks z_j ~ Bernoulli(p), and the
 * total probability of the masks enumerated (must be 1). */
double sn_dropout_exact(int J, double p, const double *w, const double *o, double *total_prob);
/* The closed form sigmoid(mu / sqrt(1 + pi s^2 / 8)) of eqs. 25-28. */
double sn_dropout_closed(int J, double p, const double *w, const double *o);

#endif
