/* Seed 002, section 2 (back propagation of a CNN): equations 21-29 and the
 * im2col formulation U = W A + b, computed by hand in the document's own
 * notation and compared with tapegrad's autodiff in f64 (seed002_cnn.c; the
 * page is docs/seeds/002-cnn.md).
 *
 * Two views of the same checks: seed002_cnn_run fills an s2_result per case
 * (elementwise tolerances, used by the Check suite test_seed002_cnn.c), and
 * sn_seed002_cnn appends one sn_row per check of every case (the normwise
 * measure of seed_nets.h, printed by examples/derivations.c).  Neither
 * depends on Check. */
#ifndef TT_SEED002_CNN_H
#define TT_SEED002_CNN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <tapegrad.h>

#include "seed_nets.h"

typedef enum s2_act { S2_SIGMOID, S2_RELU } s2_act;

typedef struct s2_case {
    const char *name;  /* long description */
    const char *label; /* short name (the rows name the case cnn1, cnn2, ...) */
    s2_act act;
    int N;          /* examples (the document's equations are per example) */
    int H0, W0, D0; /* input y^0 */
    int K0, D1;     /* layer 0: K0 x K0 x D0 x D1 weights */
    int K1, D2;     /* layer 1: K1 x K1 x D1 x D2 weights */
    uint64_t seed;
    /* Size of the eq. 23 erratum on this case as written on
     * docs/seeds/002-cnn.md (4 significant digits): the row's printed_err
     * must equal it to SN_DOC_RTOL. */
    double eq23_documented;
} s2_case;

typedef struct s2_check {
    const char *eq;   /* "24", "27 (k=0)", ... */
    const char *what; /* one short line */
    double max_abs;   /* largest |hand - tapegrad| */
    double max_rel;   /* largest relative error over elements with |ref| > 1e-300 */
    int64_t numel;
    bool ok; /* within rtol S2_RTOL (atol S2_ATOL) everywhere, not all zeros */
} s2_check;

/* Checks per case (every case makes all of them). */
#define S2_N_CHECKS   13
#define S2_MAX_CHECKS 16

typedef struct s2_result {
    int n;
    s2_check c[S2_MAX_CHECKS];
    int failed;
    char error[160]; /* non-empty when the network could not be built */
    /* Size of erratum 3: eq. 23 as printed (weight without the input-depth
     * index, read as the first depth slice w_{(p-i+1)(q-j+1)1d}) against
     * autodiff, as max |printed - autodiff| / max |autodiff|. */
    double eq23_printed_rel;
} s2_result;

/* Tolerances of the s2_check comparisons: relative 1e-10, absolute 1e-15
 * (exact zeros, e.g. relu-masked deltas, compare exactly). */
#define S2_RTOL 1e-10
#define S2_ATOL 1e-15

/* 1-based document indices into a row-major (n, i, j, d) array */
#define ACT(a, H, W, D, n, i, j, d) (a)[(((int64_t)(n) * (H) + (i)-1) * (W) + (j)-1) * (D) + (d)-1]
/* 1-based (p, q, d, m) into a K x K x Din x Dout array */
#define WGT(a, K, Din, Dout, p, q, d, m)                                                           \
    (a)[((((p)-1) * (K) + (q)-1) * (Din) + (d)-1) * (Dout) + (m)-1]

/* The cases the suite and the demo run (sigmoid and relu, square and
 * non-square images, one and several depths, one and two examples). */
extern const s2_case s2_cases[];
extern const int s2_n_cases;

/* Runs every check of one case; r->failed counts the failures.  Returns
 * false (with r->error) when the network could not be built. */
bool seed002_cnn_run(const s2_case *cs, s2_result *r);
/* Runs every case and prints one line per check to f (NULL = silent).
 * Returns the number of failed checks (a case that could not run counts 1). */
int seed002_cnn_report(FILE *f);

/* Rows of the derivations table: the output-size erratum, then the
 * S2_N_CHECKS checks of every case (eq. 23 as an SN_ERRATUM row), seed 2.
 * Returns false if a tape or allocation failed (the rows made so far are
 * kept). */
bool sn_seed002_cnn(sn_rows *rows);
/* The number of rows sn_seed002_cnn appends when everything runs. */
#define SN_SEED002_CNN_ROWS 40

/* Building blocks, exposed so the suite can show the checks discriminate. */
/* The document's forward, u_{ijm} = sum_{p,q,d} w_{pqdm} y_{(p+i-1)(q+j-1)d} + b_m
 * (valid, stride 1), arrays in the document's layout. */
void s2_hand_forward(int N, int H, int W, int D, const double *y, int K, int M, const double *w,
                     const double *b, double *u);
/* (n, i, j, d) document layout -> a user-owned NCHW tensor */
tg_tensor *s2_to_nchw(const double *a, int N, int H, int W, int D);
/* (p, q, d, m) document layout -> a user-owned (F = m, C = d, KH = p, KW = q) tensor */
tg_tensor *s2_to_fckk(const double *w, int K, int Din, int Dout);
/* Appends one check of hand against ad to r (elementwise, S2_RTOL/S2_ATOL). */
void s2_add_check(s2_result *r, const char *eq, const char *what, const tg_tensor *hand,
                  const tg_tensor *ad);

#endif
