/* tapegrad: the verification toolkit.
 *
 * - Delta comparison with localisation: hand-computed adjoints (deltas,
 *   weight gradients) for several recorded tensors, compared with the
 *   engine's in tape order from the loss backwards; the report names the
 *   first tensor where the hand value diverges and marks everything upstream
 *   of it as "not informative" (a hand value computed from a wrong one
 *   inherits its error).
 * - Higher order: Hessian-vector products (reverse over reverse), full
 *   Jacobians (forward or reverse mode) and Hessians (forward or reverse
 *   over reverse) of small problems, and tg_gradgradcheck.
 * - Precision: the same function replayed in f32 and in f64, with the gap of
 *   every recorded tensor, so rounding is not mistaken for a formula error.
 * - Memory: what each node keeps for backward, and the arena high-water mark.
 * - Report formatting into a buffer (used by tapegrad/check_asserts.h). */
#ifndef TAPEGRAD_VERIFY_H
#define TAPEGRAD_VERIFY_H

#include "export.h"

#include "gradcheck.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- delta comparison with localisation ---------------------------------- */

/* One hand-computed adjoint: hand = d loss / d tensor, same shape (dtypes
 * may differ; compared as doubles).  tensor is any tensor recorded on the
 * tape: an op's output (a pre-activation n_k: its adjoint is the delta) or
 * a user-owned input used by some op (a weight: its adjoint is the weight
 * gradient). */
typedef struct tg_delta_entry {
    tg_tensor *tensor;
    const tg_tensor *hand;
    const char *label; /* "delta_k (eq 12)"; NULL prints "#i" */
} tg_delta_entry;

typedef enum tg_delta_verdict {
    TG_DELTA_AGREES = 0,      /* matches, and nothing nearer the loss diverges */
    TG_DELTA_DIVERGES,        /* the first mismatch walking back from the loss */
    TG_DELTA_NOT_INFORMATIVE, /* mismatch upstream of the first divergence: it
                                 may only inherit that error */
    TG_DELTA_AGREES_UPSTREAM  /* matches, though upstream of a divergence (a
                                 hand value not computed from the wrong one) */
} tg_delta_verdict;

/* "agrees", "DIVERGES", "not informative", "agrees (upstream)". */
TG_API const char *tg_delta_verdict_name(tg_delta_verdict v);

typedef struct tg_delta_result {
    tg_delta_verdict verdict;
    /* Where the engine's adjoint is complete in the reverse sweep: the index
     * of the earliest node that consumes the tensor (its adjoint is final
     * once the sweep has passed that node); the loss itself gets the loss
     * node + 1, a tensor the loss does not use gets -1.  The walk from the
     * loss visits entries by decreasing position; entries at the same
     * position (the two operands of one matmul, say) are siblings and are
     * judged together. */
    int64_t position;
    int rank;              /* 0 = visited first (nearest the loss) */
    char ref[24];          /* as tg_tape_print names it: "%7" (an op's output),
                              "$2" (an input, in first-use order) */
    tg_compare_report cmp; /* a = hand, b = engine */
} tg_delta_result;

/* Compares entries[i].hand with the engine's d loss / d entries[i].tensor
 * (one-element loss, seed 1) elementwise, |hand - engine| <= atol + rtol
 * |engine|, and classifies each entry.  results[n] (in entry order) and
 * first (the index of the first diverging entry, -1 if none; may be NULL)
 * are written.  Returns TG_OK when every entry agrees, TG_ERR_NUMERIC when
 * some entry diverges, another status when the check could not run (a NULL
 * argument, a tensor not recorded on tp, a shape mismatch, the tape in
 * error; tg_last_error says which).  The adjoints are computed on tp (its
 * arena grows; nothing is recorded and no .grad is touched). */
TG_API tg_status tg_delta_check(tg_tape *tp, tg_tensor *loss, int n, const tg_delta_entry *entries,
                                double rtol, double atol, tg_delta_result *results, int *first);
/* The report, one line per entry in walk order (loss first), then the
 * diverging entry's worst element in full. */
TG_API void tg_delta_report_print(FILE *f, int n, const tg_delta_entry *entries,
                                  const tg_delta_result *results);

/* ---- higher order -------------------------------------------------------- */

/* Hessian-vector product of a one-element y: out[i] = sum_j
 * (d^2 y / dx_i dx_j) vs[j], computed reverse over reverse: the gradient is
 * recorded (create-graph mode), dotted with vs, and differentiated again.
 * vs[j] has xs[j]'s shape and dtype.  out[i] is tape-owned; with
 * create_graph the product is itself recorded (third order). */
TG_API tg_status tg_hvp(tg_tape *tp, tg_tensor *y, int n, tg_tensor *const *xs,
                        tg_tensor *const *vs, tg_tensor **out, bool create_graph);
/* How tg_jacobian_ex and tg_hessian_ex sweep the tape. */
typedef enum tg_jac_mode {
    TG_JAC_AUTO = 0, /* the way with fewer sweeps (see each call) */
    TG_JAC_FORWARD,  /* a column per sweep: tg_jvp with the unit tangent e_j */
    TG_JAC_REVERSE   /* a row per sweep: tg_vjp with the unit seed e_i */
} tg_jac_mode;

/* The full Jacobian dy/dx as a user-owned 2-d tensor (numel(y), numel(x))
 * in x's dtype, J[i, j] = d y_i / d x_j (flat row-major indices).  Forward
 * mode when numel(x) < numel(y) (numel(x) forward sweeps), else reverse
 * (numel(y) reverse sweeps).  For small problems.  NULL on error (the
 * tape's error says why). */
TG_API tg_tensor *tg_jacobian(tg_tape *tp, tg_tensor *y, tg_tensor *x);
/* The same by the given mode (TG_JAC_AUTO: tg_jacobian's choice). */
TG_API tg_tensor *tg_jacobian_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, tg_jac_mode mode);
/* The Hessian of a one-element y with respect to x, (numel(x), numel(x)),
 * user-owned: the Jacobian of the recorded gradient, forward over reverse
 * (a jvp of the gradient per element of x). */
TG_API tg_tensor *tg_hessian(tg_tape *tp, tg_tensor *y, tg_tensor *x);
/* The same by mode: TG_JAC_FORWARD (and AUTO) forward over reverse,
 * TG_JAC_REVERSE reverse over reverse (a vjp of the gradient per element). */
TG_API tg_tensor *tg_hessian_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, tg_jac_mode mode);

/* Second derivatives against finite differences of gradients.  With
 * f = sum(out * r) (r fixed random; f = out for a one-element output) and
 * fixed random directions u_i, the scalar G(x) = sum_i <df/dx_i, u_i> is
 * built with the gradient recorded (create-graph mode) and tg_gradcheck
 * checks dG/dx_j = sum_i (d^2 f / dx_j dx_i) u_i, the analytic side reverse
 * over reverse, the numeric side central differences of G, i.e. of the
 * gradient.  Which inputs are checked, the options, the reports and the
 * return value are tg_gradcheck's (opts->seed also seeds r and u). */
TG_API tg_status tg_gradgradcheck(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                                  const tg_gradcheck_options *opts, tg_compare_report *reports);
TG_API tg_status tg_gradgradcheck_print(FILE *f, tg_fn fn, void *ctx, int n,
                                        tg_tensor *const *inputs, const tg_gradcheck_options *opts);

/* ---- precision: replay in f32 and in f64 ---------------------------------- */

/* One tensor of the replay: an input ($i) or a node's output (%i), its
 * value and its adjoint (d out / d tensor) in f32 against f64. */
typedef struct tg_replay_entry {
    char label[80]; /* "$0 input  (1,3)", "%3 = sigmoid  (1,4)" */
    int64_t node;   /* node index, -1 for an input */
    int input;      /* input index, -1 for a node */
    int64_t numel;
    double gap;     /* value gap, normwise relative: max|v32 - v64| / max|v64| */
    double max_abs; /* max|v32 - v64| */
    int64_t worst_index;
    double v32, v64; /* the values at worst_index */
    double adj_gap;  /* the same for the adjoint (0 when both are zero) */
    double adj_max_abs;
    bool flagged; /* gap or adj_gap > threshold: more than rounding explains */
} tg_replay_entry;

typedef struct tg_replay_report {
    int n;              /* entries: the inputs, then every node in tape order */
    tg_replay_entry *e; /* owned; tg_replay_report_free */
    double threshold;
    int n_flagged;
    /* Where the gap starts (index into e, -1 if nothing is flagged): the
     * first entry in tape order whose value gap exceeds the threshold
     * (errors in values propagate forward); if no value does, the last
     * whose adjoint gap does (errors in adjoints propagate backward). */
    int first_flagged;
    bool structure_differs; /* the two tapes recorded different ops (a
                               dtype-dependent branch in fn): nodes are
                               compared up to the first difference */
} tg_replay_report;

/* Evaluates fn twice, on f32 and on f64 copies of the inputs (whatever
 * their dtype; fn must build its graph in its inputs' dtype), and compares
 * every input and every recorded tensor, value and adjoint, node by node.
 * The adjoints are those of the output (a non-scalar output is projected on
 * a fixed random r as in tg_gradcheck).  An entry is flagged when a gap
 * exceeds threshold (<= 0: 1e-4, about 840 f32 epsilons, beyond what the
 * rounding of a few dozen f32 ops gives).  Returns TG_OK (flags or not; see
 * rep->n_flagged) or the status of a failure (tg_last_error says why).  The
 * inputs are not touched. */
TG_API tg_status tg_replay_f64(tg_fn fn, void *ctx, int n, tg_tensor *const *inputs,
                               double threshold, tg_replay_report *rep);
TG_API void tg_replay_report_print(FILE *f, const tg_replay_report *rep);
TG_API void tg_replay_report_free(tg_replay_report *rep);

/* ---- memory report (core/tape_report.c) ------------------------------------ */

typedef struct tg_node_memory {
    size_t out_bytes;   /* the node's output values */
    size_t attr_bytes;  /* attributes copied at record time (shapes, axes, ...) */
    size_t aux_bytes;   /* tensors saved only for backward (a max mask, ...):
                           aux tensors that are neither an input nor the output */
    size_t input_bytes; /* tape-owned inputs it references: backward may read
                           them, so they stay alive until reset */
    size_t user_bytes;  /* user-owned inputs it references (user memory) */
    size_t saved_bytes; /* attr_bytes + aux_bytes: what the op stored for backward */
} tg_node_memory;

/* The memory of node i (0 <= i < nodes).  TG_ERR_ARG for a bad index. */
TG_API tg_status tg_tape_node_memory(const tg_tape *tp, int64_t i, tg_node_memory *m);

enum {
    TG_PRINT_MEMORY = 1 /* per node: output, attrs, aux, inputs kept; arena totals */
};
/* tg_tape_print with options: flags 0 prints exactly tg_tape_print's list;
 * TG_PRINT_MEMORY adds the bytes each node keeps for backward and a summary
 * with the arena's bytes in use, high-water mark and reserve. */
TG_API void tg_tape_print_ex(const tg_tape *tp, FILE *f, unsigned flags);

/* ---- report text into a buffer -------------------------------------------- */
/* The text tg_compare_report_print writes, into buf (always NUL-terminated,
 * truncated to size); returns the length the full text needs. */
TG_API size_t tg_compare_report_format(char *buf, size_t size, const char *label,
                                       const tg_compare_report *r);
TG_API size_t tg_delta_report_format(char *buf, size_t size, int n, const tg_delta_entry *entries,
                                     const tg_delta_result *results);

#ifdef __cplusplus
}
#endif
#endif
