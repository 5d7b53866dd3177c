/* tapegrad: gradient checking by finite differences, and tensor comparison
 * with a readable report. */
#ifndef TAPEGRAD_GRADCHECK_H
#define TAPEGRAD_GRADCHECK_H

#include "export.h"

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A comparison of two same-shaped tensors (or of one input's analytic and
 * numeric gradient). */
typedef struct tg_compare_report {
    bool ok;             /* every element within tolerance */
    bool shape_mismatch; /* shapes differ: nothing else is meaningful */
    int64_t numel;
    int64_t n_failed;        /* elements out of tolerance */
    int64_t n_skipped;       /* elements skipped (gradcheck: at a kink) */
    bool vacuous;            /* both sides ~0 everywhere: the check proves little */
    int64_t worst_index;     /* flat index of the largest violation (or abs error) */
    double worst_a, worst_b; /* the two values there (a = analytic/hand, b = reference) */
    double worst_abs;        /* |a - b| there */
    double worst_rel;        /* |a - b| / max(|b|, tiny) there */
    double max_abs;          /* largest |a - b| over all elements */
    double max_rel;          /* largest relative error over elements with |b| > atol */
    /* gradcheck of an f32 input: a is the f32 graph's analytic gradient, b
     * central differences of the same function evaluated on f64 copies of
     * the inputs (differencing in f32 would drown in rounding). */
    bool f32_vs_f64;
    /* gradcheck only: the op's direct first-order rule (tg_op.direct) and
     * its op-built rule (tg_op.backward, run with create_graph) gave
     * different analytic gradients (beyond rounding): rules_index is the
     * first such element, rules_direct and rules_built the two values. */
    bool rules_disagree;
    int64_t rules_index;
    double rules_direct, rules_built;
} tg_compare_report;

/* allclose: |a - b| <= atol + rtol |b| elementwise.  report may be NULL.
 * Returns true when every element passes and the shapes match. */
TG_API bool tg_compare(const tg_tensor *a, const tg_tensor *b, double rtol, double atol,
                       tg_compare_report *report);
/* Writes a few lines describing the report (label names what was compared). */
TG_API void tg_compare_report_print(FILE *f, const char *label, const tg_compare_report *r);

/* A function to check: builds its output on tp from inputs[0..n-1] and
 * returns it (any shape; a non-scalar output is checked through the scalar
 * sum(out * r) with a fixed random r). */
typedef tg_tensor *(*tg_fn)(tg_tape *tp, tg_tensor *const *inputs, void *ctx);

typedef struct tg_gradcheck_options {
    double eps;  /* central-difference step (default 1e-6) */
    double atol; /* default 1e-6 */
    double rtol; /* default 1e-5 */
    /* An element whose one-sided slopes differ by more than kink_tol
     * (relative to their size) has a kink within eps: it is skipped and
     * counted.  Default 1e-3; a negative value disables skipping. */
    double kink_tol;
    uint64_t seed; /* for the projection r of non-scalar outputs */
} tg_gradcheck_options;

/* Checks d out / d inputs[i] for every input with requires_grad (all
 * inputs when none has it; unchecked inputs' reports say numel = 0).  Inputs
 * must be user-owned.  reports[n] may be NULL.  Returns TG_OK when every
 * checked element passes; TG_ERR_NUMERIC when some element fails; another
 * status when the function could not be evaluated (msg says why).  The
 * inputs' values are restored.
 *
 * f32 inputs: the analytic gradient comes from the f32 graph as built, the
 * numeric one from central differences of fn evaluated on f64 copies of
 * every input (fn must build its graph in its inputs' dtype), and each
 * report says so (f32_vs_f64).  The comparison then measures the f32
 * backward against the exact derivative, so the default tolerances become
 * rtol 1e-4, atol 1e-5 (about 840 and 84 f32 epsilons: the rounding of a
 * few dozen f32 ops); options given explicitly are used as given. */
TG_API tg_status tg_gradcheck(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                              const tg_gradcheck_options *opts, tg_compare_report *reports);
/* Like tg_gradcheck, also writing a per-input report to f (NULL = none). */
TG_API tg_status tg_gradcheck_print(FILE *f, tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                                    const tg_gradcheck_options *opts);

#ifdef __cplusplus
}
#endif
#endif
