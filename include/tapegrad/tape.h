/* tapegrad: the tape (Wengert list), its arena, errors, stats and printing. */
#ifndef TAPEGRAD_TAPE_H
#define TAPEGRAD_TAPE_H

#include "export.h"

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A warning about a tape: something that is not an error yet but likely a
 * mistake (see growth_warning below).  msg is one line, no newline; it is
 * valid during the call only. */
typedef void (*tg_warning_fn)(const tg_tape *tp, const char *msg, void *ctx);

/* The default of tg_tape_options.growth_warning: 64 MiB. */
#define TG_GROWTH_WARNING_DEFAULT ((size_t)64 << 20)

typedef struct tg_tape_options {
    /* Arena limit in bytes (tensor data + tensor headers + saved state);
     * 0 = unlimited.  Exceeding it is a clean TG_ERR_NOMEM. */
    size_t arena_limit;
    /* Size of the first arena chunk (0 = 64 KiB). */
    size_t arena_chunk;
    /* Check every op's output (and every gradient) for NaN/Inf and stop with
     * TG_ERR_NUMERIC naming the first op that produced one. */
    bool anomaly;
    /* Seed of the tape's own RNG (dropout masks and the like). */
    uint64_t seed;
    /* Forgetting tg_tape_reset in a training loop makes the tape grow
     * without bound.  The tape warns once (through on_warning) when, at a
     * tg_backward, it is the 8th or later since the last reset (or since the
     * tape was made) and the arena has grown by at least growth_warning bytes
     * since the first of them.  0 = TG_GROWTH_WARNING_DEFAULT; SIZE_MAX =
     * never warn. */
    size_t growth_warning;
    /* Where the tape's warnings go, with warning_ctx; NULL prints them to
     * stderr as "tapegrad: warning: <msg>". */
    tg_warning_fn on_warning;
    void *warning_ctx;
} tg_tape_options;

/* A new empty tape; opts may be NULL for defaults.  NULL on out of memory. */
TG_API tg_tape *tg_tape_new(const tg_tape_options *opts);
TG_API void tg_tape_free(tg_tape *tp);
/* Forget every node and tape-owned tensor and clear the error; keeps the
 * memory, so a loop of reset + forward + backward allocates nothing after
 * its first steps.  Tape-owned tensors from before are invalid afterwards:
 * an op given one made before the last reset fails with TG_ERR_TAPE
 * ("stale"); docs/api.md says what is caught and what is not. */
TG_API void tg_tape_reset(tg_tape *tp);

/* The first error is sticky: every later op returns NULL without effect. */
TG_API tg_status tg_tape_status(const tg_tape *tp);
/* Message of the first error ("matmul: (3,4) @ (5,2): inner dimensions
 * differ"), or "" when there is none. */
TG_API const char *tg_tape_error(const tg_tape *tp);
/* Index of the node during which the error happened (-1 if none or outside
 * any node). */
TG_API int64_t tg_tape_error_node(const tg_tape *tp);

TG_API void tg_tape_set_anomaly(tg_tape *tp, bool on);
/* The tape's RNG (seeded from options.seed). */
TG_API tg_rng *tg_tape_rng(tg_tape *tp);

typedef struct tg_tape_stats {
    int64_t nodes;         /* nodes recorded */
    int64_t tensors;       /* tape-owned tensors alive */
    size_t bytes_in_use;   /* arena bytes in use now */
    size_t high_water;     /* most arena bytes ever in use at once */
    size_t bytes_reserved; /* arena bytes held (chunks) */
    int64_t mallocs;       /* heap allocations made by this tape so far */
} tg_tape_stats;
/* What the tape holds and has used (tg_tape_stats above); zeros and
 * TG_ERR_NULL in tg_last_error() for a NULL tape. */
TG_API tg_tape_stats tg_tape_usage(const tg_tape *tp);
/* The name before the tg_<object>_<verb> pattern (a function cannot take
 * the type's name tg_tape_stats): deprecated, removed in the next release. */
TG_API TG_DEPRECATED("use tg_tape_usage") tg_tape_stats tg_tape_get_stats(const tg_tape *tp);

/* The Wengert list as text, one node a line:
 *   %7 = sigmoid(%6)  f32[128,512]
 * User-owned inputs print as $0, $1, ... */
TG_API void tg_tape_print(const tg_tape *tp, FILE *f);

/* Explain mode: while f is set, every backward sweep on this tape
 * (tg_backward, tg_grad, tg_vjp) writes what it does, step by step: for each
 * node it visits, the gradient arriving at its output, the rule applied (the
 * op's formula, "dx += g * y * (1 - y)", with the numbers of g, y and the
 * inputs), and the contribution sent to each input with the running total
 * when an input receives several.  Tensors of at most small_numel elements
 * show their values (matrices as grids), larger ones norm/min/max.  Text, a
 * Markdown handout (a section per node), or JSON Lines, one object per event:
 *   {"event":"begin","what":"backward","y":"%5","seed":[1]}   (null when large)
 *   {"event":"node","node":5,"op":"sigmoid","out":"%5","name":"h"|null,
 *    "attrs":"","formula":"..."|null,"inputs":["%4"],"g":{"shape":[..],"values":[..]}}
 *   {"event":"contrib","node":5,"input":0,"in":"%4","contrib":{..},"total":{..}|null}
 *   {"event":"end","steps":6,"status":"ok"|"<error message>"}
 * A tensor object has "values" when small, else "norm", "min" and "max".
 * f NULL turns it off. */
typedef enum tg_explain_format {
    TG_EXPLAIN_TEXT = 0,
    TG_EXPLAIN_MARKDOWN = 1,
    TG_EXPLAIN_JSON = 2
} tg_explain_format;
TG_API void tg_tape_set_explain(tg_tape *tp, FILE *f, tg_explain_format fmt, int64_t small_numel);

/* Graphviz DOT of the graph, sized for a slide (at most 1280 px wide at 96
 * dpi; left to right when the graph is shallow, top to bottom when it is
 * long); tensors show their names, and with at most small_numel elements
 * their values and gradients (a parameter's .grad, a retained tensor's). */
TG_API tg_status tg_tape_write_dot(const tg_tape *tp, FILE *f, int64_t small_numel);

/* The graph as one JSON object, for a browser to draw and step through:
 *   {"values":[{"ref":"$0","name":"x"|null,"kind":"user"|"tape"|"const",
 *     "shape":[..],"dtype":"f64","values":[..]|null,"grad":[..]|null},...],
 *    "nodes":[{"index":0,"op":"mul","attrs":"","inputs":["$0","$1"],
 *     "out":"%0","formula":"..."|null},...]}
 * values and grad are given for tensors of at most small_numel elements. */
TG_API tg_status tg_tape_write_json(const tg_tape *tp, FILE *f, int64_t small_numel);

/* What tg_tape_write_svg draws. */
typedef struct tg_picture_options {
    int64_t small_numel; /* tensors of at most this many elements show values */
    int max_width;       /* the width limit in pixels; 0 = 1280 (a slide) */
} tg_picture_options;
/* The graph as a standalone SVG picture without Graphviz: one box per value
 * (name or ref, op, shape, value and gradient when small) in layers (a
 * value's layer is its longest path from an input), arrows from inputs to
 * outputs, scaled down to max_width.  opts NULL: small_numel 4, 1280 px. */
TG_API tg_status tg_tape_write_svg(const tg_tape *tp, FILE *f, const tg_picture_options *opts);

#ifdef __cplusplus
}
#endif
#endif
