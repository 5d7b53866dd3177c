/* Internal definitions shared by the core, the ops and the kernels.
 * Not installed; nothing here is public API. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "tapegrad.h"
#include "tg_config.h"
#include "../kernels/stream.h"
#include "checked.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#define TG_MAGIC_USER 0x55534552u /* "USER" */
#define TG_MAGIC_TAPE 0x54415045u /* "TAPE" */
#define TG_ALIGN      64

struct tg_tensor {
    /* 72 bytes on 64-bit targets: a scalar tape makes one per op, so the
     * headers are a large part of its memory (docs/design.md, "What one
     * recorded op takes").  The extents are not in the header: a tensor's
     * own block holds them right after it (ndim entries, none for a 0-d
     * tensor; tg__tensor_extents), then, for a small tape tensor, its data,
     * so a 0-d f64 tape tensor takes 80 bytes in all. */
    uint32_t magic;
    tg_dtype dtype;
    int32_t id;         /* tape-owned: value id; user-owned: a hint (core/tape.c) */
    int8_t ndim;        /* 0..TG_MAX_DIMS */
    bool requires_grad; /* user: the flag; tape: depends on a requires_grad leaf */
    bool retain;        /* tape-owned: tg_retain_grad */
    bool view;          /* tape-owned: data shared with another tensor (reshape) */
    /* ndim extents: tg__tensor_extents(t) for a tensor of the library's
     * making; a header on the stack points at storage of its own or borrows
     * the extents of the tensor it describes (never NULL then: a 0-d
     * tensor's pointer is valid and never read) */
    int64_t *shape;
    int64_t numel;
    void *data;
    tg_tape *tape; /* owner; NULL for user-owned */
    /* One field, read according to magic (no tensor needs both, and the
     * header stays small).  Read epoch only when magic is TG_MAGIC_TAPE
     * and spare only when it is TG_MAGIC_USER: code that handles both kinds
     * (header_of in core/backward.c) must not copy one into the other. */
    union {
        uint64_t epoch; /* tape-owned: tape epoch at creation */
        /* user-owned parameter: a second buffer of grad's size, made by the
         * first tg_backward that needs it and freed with the tensor.  The
         * sweep writes the new gradient into it, then swaps it with
         * grad->data (core/backward.c); NULL until then */
        void *spare;
    };
    /* One field read according to magic again: node only when magic is
     * TG_MAGIC_TAPE, version and holds only when it is TG_MAGIC_USER (a user
     * tensor has no producing node; sharing the 8 bytes keeps the header at
     * 72).  Code that handles both kinds must not copy one into the other. */
    union {
        int64_t node; /* tape-owned: index of the producing node, -1 = leaf */
        struct {
            /* user-owned: the data version, bumped by every library call
             * that writes the data (tg__bump_version), so backward can tell
             * a recorded input was changed since (the tape saves the version
             * at first use) */
            uint32_t version;
            /* user-owned, atomic: TG_HOLD times the number of tapes that
             * have recorded the tensor and not yet let go (reset or freed),
             * plus the TG_HOLD_* flags.  tg_tensor_free of a held tensor
             * only marks it freed; the last tape to let go frees it
             * (tg__tensor_hold/release), so a tape never reads freed
             * memory and can report the free. */
            uint32_t holds;
        };
    };
    tg_tensor *grad;
};
_Static_assert(sizeof(void *) != 8 || sizeof(struct tg_tensor) == 72,
               "the tensor header takes 72 bytes on 64-bit targets");
_Static_assert(sizeof(struct tg_tensor) % sizeof(int64_t) == 0,
               "the extents after the header are aligned");

/* The flags in a user tensor's holds, below the count. */
#define TG_HOLD_FREED 1u /* tg_tensor_free was called; a tape still holds it */
#define TG_HOLD_GRAD  2u /* a parameter's .grad: freed with its parameter only */
#define TG_HOLD       4u /* one tape's hold */

/* A library call is about to write t's data (a tape tensor has no version:
 * its node field is not one). */
static inline void tg__bump_version(tg_tensor *t)
{
    if (t->magic == TG_MAGIC_USER) t->version++;
}

/* Was user tensor t freed by the user while a tape held it? */
static inline bool tg__tensor_freed(const tg_tensor *t)
{
    return __atomic_load_n(&t->holds, __ATOMIC_ACQUIRE) & TG_HOLD_FREED;
}

/* Where a tensor's extents live in its own block: right after the header. */
static inline int64_t *tg__tensor_extents(tg_tensor *t)
{
    return (int64_t *)(void *)(t + 1);
}

/* 40 bytes on 64-bit targets: a scalar tape records one per op, and its
 * reverse sweep reads them back, so every byte here is paid twice.  All that
 * a node has besides its op and output sits in one block of the tape's
 * links arena, its links, which in points into:
 *   - a scalar node's n_in + 1 recorded values (tg__node_values),
 *   - the n_in input pointers (in points at the first),
 *   - their n_in value ids, int32_t (tg__node_in_id),
 *   - at the next 16-byte boundary the saved_size bytes of attributes
 *     (tg__node_saved),
 *   - at the next 8-byte boundary the n_aux aux tensor pointers
 *     (tg__node_aux).
 * in is NULL when the block would be empty.  The tape is the output's (a
 * node's output is always a tensor of its tape). */
struct tg_node {
    const tg_op *op;
    tg_tensor **in;
    tg_tensor *out;
    int n_in;
    int32_t out_id; /* out->id, kept here so a sweep need not load out */
    /* bytes of attributes (0: none), at most TG_NODE_SAVED_MAX (tg_tape_record) */
    uint32_t saved_size;
    /* the aux count (at most TG_NODE_AUX_MAX) and the scalar flags share a word */
    unsigned n_aux : 16;
    unsigned f32_mask : 9; /* scalar nodes: bit i set when input i is f32, bit 8 the output */
    unsigned scalar : 1;   /* op->scalar applies: inputs and output one element each */
};
_Static_assert(sizeof(void *) != 8 || sizeof(struct tg_node) == 40,
               "a node takes 40 bytes on 64-bit targets");
/* What a node's narrow fields hold (tg_tape_record refuses more). */
#define TG_NODE_SAVED_MAX UINT32_MAX
#define TG_NODE_AUX_MAX   65535

/* Byte offsets in a links block (see struct tg_node) of a node with n_in
 * inputs, scalar or not: of the input pointers, of the attributes, of the
 * aux pointers, and the block's size.  The block itself is 16-byte aligned
 * (an arena block). */
static inline size_t tg__links_in_off(int n_in, bool scalar)
{
    return scalar ? ((size_t)n_in + 1) * sizeof(double) : 0;
}
static inline size_t tg__links_saved_off(int n_in, bool scalar)
{
    const size_t end =
        tg__links_in_off(n_in, scalar) + (size_t)n_in * (sizeof(tg_tensor *) + sizeof(int32_t));
    return (end + 15) & ~(size_t)15;
}
static inline size_t tg__links_aux_off(int n_in, bool scalar, size_t saved_size)
{
    return (tg__links_saved_off(n_in, scalar) + saved_size + 7) & ~(size_t)7;
}
static inline size_t tg__links_size(int n_in, bool scalar, size_t saved_size, int n_aux)
{
    if (!saved_size && !n_aux) /* no padding after the ids */
        return tg__links_in_off(n_in, scalar) +
               (size_t)n_in * (sizeof(tg_tensor *) + sizeof(int32_t));
    return tg__links_aux_off(n_in, scalar, saved_size) + (size_t)n_aux * sizeof(tg_tensor *);
}

/* The start of a node's links block (its in is not NULL). */
static inline unsigned char *tg__node_links(const tg_node *n)
{
    return (unsigned char *)(void *)n->in - tg__links_in_off(n->n_in, n->scalar);
}

/* The value id of input k < n->n_in: stored after the input pointers. */
static inline int32_t tg__node_in_id(const tg_node *n, int k)
{
    return ((const int32_t *)(const void *)(n->in + n->n_in))[k];
}

/* A scalar node's recorded values: the n_in inputs', then the output's,
 * stored just before its input pointers (core/tape.c). */
static inline const double *tg__node_values(const tg_node *n)
{
    return (const double *)(const void *)n->in - (n->n_in + 1);
}

/* The node's attributes (NULL for none). */
static inline void *tg__node_saved(const tg_node *n)
{
    return n->saved_size ? tg__node_links(n) + tg__links_saved_off(n->n_in, n->scalar) : NULL;
}

/* The node's n_aux aux tensor pointers (NULL for none). */
static inline tg_tensor **tg__node_aux(const tg_node *n)
{
    return n->n_aux ? (tg_tensor **)(void *)(tg__node_links(n) +
                                             tg__links_aux_off(n->n_in, n->scalar, n->saved_size))
                    : NULL;
}

/* ---- allocation (core/alloc.c): every heap allocation goes here -------- */
void *tg__malloc(size_t n);
void *tg__calloc(size_t n, size_t size);
void *tg__realloc(void *p, size_t n);
void tg__free(void *p);

/* ---- AddressSanitizer ------------------------------------------------------ */
/* In sanitizer builds the arena poisons the memory it has not handed out in
 * the current epoch (core/arena.c), so a read of a stale tape tensor is
 * reported; the liveness check itself reads headers with TG_NO_ASAN. */
#if defined(__SANITIZE_ADDRESS__)
#define TG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_ASAN 1
#endif
#endif
#if defined(TG_ASAN)
#include <sanitizer/asan_interface.h>
#define TG_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define TG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define TG_NO_ASAN        __attribute__((no_sanitize_address))
#else
#define TG_ASAN           0
#define TG_POISON(p, n)   ((void)(p), (void)(n))
#define TG_UNPOISON(p, n) ((void)(p), (void)(n))
#define TG_NO_ASAN
#endif

/* ---- arena (core/arena.c) ------------------------------------------------ */
typedef struct tg_chunk {
    struct tg_chunk *next;
    size_t size, used;
    unsigned char *mem; /* TG_ALIGN-aligned start inside the block */
} tg_chunk;
typedef struct tg_arena {
    tg_chunk *head;  /* chunk being filled */
    tg_chunk *first; /* chunk list, oldest first */
    size_t in_use, high_water, reserved, limit, chunk_size;
    int64_t mallocs;
    /* The tape's tensor arena (core/tape.c) is "stable": reset keeps its
     * chunks (a stale tensor's header stays readable) and flips skew
     * between 0 and 8, the address of every small block modulo 16, so no
     * block of one epoch starts where one of the epoch before did. */
    bool stable;
    size_t skew;
} tg_arena;
/* stable: see tg_arena. */
void tg__arena_init(tg_arena *a, size_t chunk_size, size_t limit, bool stable);
/* Small blocks (headers, index arrays, attributes, a small tensor with its
 * header) sit at 16-byte steps (8-byte aligned at least) so a scalar-sized
 * graph does not waste most of its memory on padding; blocks of
 * TG_ARENA_BIG bytes or more (tensor data) are TG_ALIGN-aligned for vector
 * loads. */
#define TG_ARENA_BIG 256
/* Every case but the fast one of tg__arena_alloc (core/arena.c). */
void *tg__arena_alloc_slow(tg_arena *a, size_t n);
/* NULL when out of memory or over the limit.  The common case of a scalar
 * tape, a small block that fits the current chunk of an arena without a
 * limit, is inline: a scalar op makes two or three blocks.  Chunk offsets
 * stay at skew modulo 16, so it needs no padding. */
static inline void *tg__arena_alloc(tg_arena *a, size_t n)
{
    tg_chunk *h = a->head;
    if (n < TG_ARENA_BIG && h && !a->limit) {
        const size_t r = (n + 15) & ~(size_t)15;
        if (h->size - h->used >= r) {
            void *p = h->mem + h->used;
            h->used += r;
            a->in_use += r;
            if (a->in_use > a->high_water) a->high_water = a->in_use;
            TG_UNPOISON(p, n);
            return p;
        }
    }
    return tg__arena_alloc_slow(a, n);
}
void tg__arena_reset(tg_arena *a);
void tg__arena_free(tg_arena *a);

/* ---- errors (core/error.c) ---------------------------------------------- */
void tg__set_last(tg_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void tg__clear_last(void);
/* "(3,4)"; cut at an extent with ",...)" when buf is too small. */
char *tg__shape_str(const tg_tensor *t, char *buf, size_t n);
/* The same for ndim extents (shape may be NULL only when ndim is 0). */
char *tg__dims_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* Room for any shape string: TG_MAX_DIMS extents of up to 20 characters
 * ("-9223372036854775808"), the commas, the parentheses and the NUL. */
#define TG_SHAPE_BUF (2 + TG_MAX_DIMS * 21)

/* ---- tape internals (core/tape.c) ---------------------------------------- */
bool tg__tape_ok(const tg_tape *tp);
/* tg_backward's check for a loop that forgot tg_tape_reset (core/tape.c). */
void tg__tape_note_backward(tg_tape *tp);
/* Is t usable on tp (user-owned, or tape-owned by tp in this epoch)? */
bool tg__tensor_live_on(const tg_tensor *t, const tg_tape *tp);
/* Are new ops being recorded (false inside a plain backward pass)? */
bool tg__tape_recording(const tg_tape *tp);
void tg__tape_set_recording(tg_tape *tp, bool on);
/* Arena memory for op-internal scratch that lives until reset. */
void *tg__tape_scratch(tg_tape *tp, size_t n);
/* Put prefix in front of the tape's error message, if it has an error and
 * the message does not start with prefix already (core/tape_query.c). */
void tg__tape_error_prefix(tg_tape *tp, const char *prefix);
/* A tape tensor sharing src's data (same element count; for reshape).  Safe
 * because ops never write their inputs. */
tg_tensor *tg__tape_alloc_view(tg_tape *tp, const tg_tensor *src, int ndim, const int64_t *shape);
/* A tape-owned TG_I64 tensor (index results: tg_argmax); never an op's
 * input (tg_tape_check_inputs refuses it), so it never gets a gradient. */
tg_tensor *tg__tape_alloc_index(tg_tape *tp, int ndim, const int64_t *shape);
/* A tape tensor (a view) of like's shape and dtype over data that lives at
 * least as long as the tape's arena. */
tg_tensor *tg__tape_wrap(tg_tape *tp, const tg_tensor *like, void *data);
int32_t tg__tape_value_id(tg_tape *tp, tg_tensor *t);                    /* -1 on OOM */
int32_t tg__tape_value_id_lookup(const tg_tape *tp, const tg_tensor *t); /* -1 if unknown */
/* A scratch tape for tg_checkpoint (core/checkpoint.c): the one tp keeps,
 * else a new one (NULL on out of memory); tp's anomaly mode, and under an
 * arena limit the room tp has left as its limit.  Given back when done:
 * tp keeps it, reset, for the next use (one at a time; none under a
 * limit), or it is freed. */
tg_tape *tg__tape_take_scratch(tg_tape *tp);
void tg__tape_give_scratch(tg_tape *tp, tg_tape *s);
/* A scratch tape used bytes of arena at its peak while tp held what it
 * holds now: raise tp's high water to cover both, so tg_tape_usage says
 * what the whole computation took at once. */
void tg__tape_note_nested(tg_tape *tp, size_t bytes);
size_t tg__tape_num_users(const tg_tape *tp);
tg_tensor *tg__tape_user(const tg_tape *tp, size_t i); /* first-use order */
int32_t tg__tape_user_id(const tg_tape *tp, size_t i); /* its value id */
/* Its data version when the tape first used it (struct tg_tensor). */
uint32_t tg__tape_user_version(const tg_tape *tp, size_t i);
/* A tape takes (registering a user tensor) and lets go of (reset, free) a
 * hold on it (core/tensor.c); the last release of a tensor the user freed
 * frees it. */
void tg__tensor_hold(tg_tensor *t);
void tg__tensor_release(tg_tensor *t);
/* Per value id, whether it required grad when made (n entries; ids past n:
 * 0), or NULL when the tape could not keep it (core/tape.c rg_note). */
const uint8_t *tg__tape_rg(const tg_tape *tp, size_t *n);
/* t->requires_grad = false, kept in step with the above (tg_detach). */
void tg__tape_clear_rg(tg_tape *tp, tg_tensor *t);
/* Is t usable on tp?  TG_OK, or the reason as the thread's last error (not
 * the tape's: for calls whose errors leave the tape usable), what naming
 * the call. */
tg_status tg__tape_check_live(const tg_tape *tp, const char *what, const tg_tensor *t);
/* Was tape tensor t (live on tp) made before the last tg_backward on tp? */
bool tg__tape_before_backward(const tg_tape *tp, const tg_tensor *t);
/* tg_retain_grad counts its calls, so backward skips the search when none. */
void tg__tape_note_retained(tg_tape *tp);
int64_t tg__tape_num_retained(const tg_tape *tp);
int64_t tg__tape_num_nodes(const tg_tape *tp);
tg_node *tg__tape_node(const tg_tape *tp, int64_t i);
int32_t tg__tape_num_values(const tg_tape *tp);
/* The current backward's "depends on a target" flags (NULL outside). */
const bool *tg__tape_dep(const tg_tape *tp);
int32_t tg__tape_dep_count(const tg_tape *tp);
void tg__tape_set_dep(tg_tape *tp, const bool *dep, int32_t n);
/* Is anomaly mode on (every computed tensor checked for NaN/Inf)? */
bool tg__tape_anomaly(const tg_tape *tp);
/* Anomaly mode check of a freshly computed tensor. */
bool tg__anomaly_check(tg_tape *tp, const char *what, const tg_tensor *t);
/* The same, naming the ranges of the tensors in (a node's inputs). */
bool tg__anomaly_check_with(tg_tape *tp, const char *what, int n_in, tg_tensor *const *in,
                            const tg_tensor *t);
/* The backward sweep names the node whose rule runs (-1: none), so anomaly
 * mode can say where a non-finite gradient came from; returns the previous. */
int64_t tg__tape_set_backward_node(tg_tape *tp, int64_t node);

/* Explain mode (core/explain.c): the backward sweep narrates its steps. */
typedef struct tg_explain {
    FILE *f;
    tg_explain_format fmt;
    int64_t small; /* tensors up to this many elements print their values */
} tg_explain;
const tg_explain *tg__tape_explain(const tg_tape *tp); /* NULL when off */
/* How messages and explain mode name a tensor: its Wengert-list name ("%3",
 * "$0", "c7"), after its name when it has one ("W2 ($3)"), into buf. */
char *tg__tape_ref(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n);
/* The Wengert-list name alone ("%3", "$0", "c7"). */
char *tg__tape_ref_plain(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n);
/* Room for either: a name, a space, and a ref in parentheses. */
#define TG_REF_BUF (TG_NAME_MAX + 32)

/* Names (core/names.c).  Copies t's name into buf (n > TG_NAME_MAX) and
 * returns true, or returns false (buf "") when t has none. */
bool tg__tensor_name_copy(const tg_tensor *t, char *buf, size_t n);
/* A user tensor is being freed: its name goes with it. */
void tg__tensor_forget_name(const tg_tensor *t);
/* tg_tape_free: the tape's name table (the names are in its arena). */
void tg__tape_names_free(tg_tape *tp);

/* Value formatting for the teaching outputs (core/valuefmt.c). */
/* t's values (digits significant) into buf: a vector or a 1-row matrix on
 * one line "[1, 2]", a column as "[1, 2]^T", a matrix as rows on lines,
 * each after a newline and indent "[1, 2]".  False (buf holding what
 * fitted) when it does not fit in n bytes. */
bool tg__fmt_values(const tg_tensor *t, int digits, const char *indent, char *buf, size_t n);
/* t as a JSON object {"shape":[..],"values":[..]} when it has at most small
 * elements and fits in n bytes, else {"shape":[..],"norm":..,"min":..,"max":..}. */
char *tg__json_tensor(const tg_tensor *t, int64_t small, char *buf, size_t n);
/* s as a JSON string, quoted and escaped; NULL as null. */
void tg__json_string(FILE *f, const char *s);
/* A C string escaped for a DOT label or XML text (quotes, <, >, &, \). */
void tg__xml_string(FILE *f, const char *s);
/* The pictures' layout (core/tape_print.c): node_layer[i] = 1 + the longest
 * path from an input to node i's output (inputs are layer 0); returns the
 * number of layers and sets *widest to the most values in one layer. */
int64_t tg__picture_layers(const tg_tape *tp, int32_t *node_layer, int64_t *widest);
/* Left to right (true) or top to bottom, for a slide-shaped picture. */
bool tg__picture_left_to_right(int64_t layers, int64_t widest);
void tg__explain_begin(tg_tape *tp, const char *what, const tg_tensor *y, const tg_tensor *seed);
void tg__explain_node(tg_tape *tp, int64_t i, const tg_node *nd, const tg_tensor *g);
/* The values or norm/min/max of t as explain mode prints them. */
char *tg__explain_summary(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n);
/* One contribution (already summarised: accumulation may reuse its storage)
 * and the input's total after it (NULL for a first contribution). */
void tg__explain_contrib(tg_tape *tp, const tg_node *nd, const tg_tensor *g, int k,
                         const char *contrib, const tg_tensor *total);
void tg__explain_end(tg_tape *tp, int64_t steps, tg_status st);

/* tg_tape_record for the library's own ops, which have validated their
 * inputs (tg_tape_check_inputs) and allocated out with tg_tape_alloc on tp
 * already: the same recording without checking all of it a second time
 * (saved_size and n_aux within TG_NODE_SAVED_MAX and TG_NODE_AUX_MAX). */
tg_tensor *tg__tape_record_checked(tg_tape *tp, const tg_op *op, int n_in, tg_tensor *const *in,
                                   tg_tensor *out, const void *saved, size_t saved_size, int n_aux,
                                   tg_tensor *const *aux);

/* tg_vjp with its errors under the name of the call the user made
 * (core/backward.c): "grad", "hvp", "hessian".  allow_unused: an x no
 * recorded op used gets zeros (tg_gradcheck, whose function may ignore an
 * input) instead of the error tg_grad and tg_vjp give for it. */
tg_status tg__vjp(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed, int n,
                  tg_tensor *const *xs, tg_tensor **out, bool create_graph, bool allow_unused);

/* tg_jvp with its errors under the name of the call the user made
 * (core/forward.c): "jvp", "jacobian", "hessian". */
tg_status tg__jvp(tg_tape *tp, const char *what, int n, tg_tensor *const *xs, tg_tensor *const *ts,
                  int m, tg_tensor *const *ys, tg_tensor **out, bool create_graph);

/* ---- op helpers (core/opsupport.c) ---------------------------------------- */
/* Check dtypes agree; sets the tape error naming op and shapes. */
bool tg__same_dtype(tg_tape *tp, const char *op, const tg_tensor *a, const tg_tensor *b);
/* Is t 4-d of shape (a,b,c,d)?  Else a shape error "op: what is (..),
 * expected (a,b,c,d)": the internal conv and pool ops check a gradient
 * handed in against the shape their geometry implies. */
bool tg__expect_shape4(tg_tape *tp, const char *op, const char *what, const tg_tensor *t, int64_t a,
                       int64_t b, int64_t c, int64_t d);
/* Normalise axis (negative from the end) against ndim; error names op. */
bool tg__norm_axis(tg_tape *tp, const char *op, const tg_tensor *x, int axis, int *out);
/* Zeros / a constant-filled tape tensor (not recorded: a constant). */
tg_tensor *tg__const_full(tg_tape *tp, tg_dtype dt, int ndim, const int64_t *shape, double v);
/* A tape-owned leaf copy of src's values. */
tg_tensor *tg__const_copy(tg_tape *tp, const tg_tensor *src);
/* The scalar rule of an op whose gradient is g itself (reshape, cast, ...). */
void tg__scalar_identity(const tg_node *n, const tg_scalar_args *a, double *gin);
/* Accumulate a into b's values in place: b += a (same shape and dtype). */
void tg__add_inplace(tg_tensor *b, const tg_tensor *a);
/* A broadcasting binary op's forward: validate a and b (tape, dtype, shapes
 * that broadcast), allocate the broadcast output of a's dtype, run kernel
 * and record it with op (no saved attribute). */
typedef void tg__bin_kernel_fn(tg_tensor *out, const tg_tensor *a, const tg_tensor *b);
tg_tensor *tg__binary_op(tg_tape *tp, const tg_op *op, tg__bin_kernel_fn *kernel, tg_tensor *a,
                         tg_tensor *b);
/* g summed back to the shape of input i of node n (the adjoint of the
 * broadcast), g itself when the shapes agree, NULL for a NULL g. */
tg_tensor *tg__grad_to_input(tg_tape *tp, const tg_node *n, int i, tg_tensor *g);

/* The tangent rule of an op whose Jacobian is diagonal (an elementwise
 * unary op: out[k] depends on in[k] alone), so J t = J^T t: its own
 * backward rule with the tangent as the output gradient. */
tg_status tg__jvp_diagonal(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout);

/* ---- broadcasting (core/broadcast.c) -------------------------------------- */
/* Broadcast shape of a and b; false if incompatible. */
bool tg__broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb, int *nout,
                         int64_t *out);
/* Element strides of a tensor of shape (n, s) seen with the broadcast shape
 * (nout, out): 0 along broadcast axes. */
void tg__broadcast_strides(int n, const int64_t *s, int nout, const int64_t *out, int64_t *strides);

/* ---- typed kernels: one body, instantiated for float and double ---------- */
/* Float dtypes only: every op refuses any other dtype in its operand checks,
 * before it dispatches, so the last arm is unreachable; should a new dtype
 * get through, it stops on the assert rather than being read as float. */
#define TG_DISPATCH(dt, T, ...)                                                                    \
    do {                                                                                           \
        if ((dt) == TG_F64) {                                                                      \
            typedef double T;                                                                      \
            __VA_ARGS__                                                                            \
        } else if ((dt) == TG_F32) {                                                               \
            typedef float T;                                                                       \
            __VA_ARGS__                                                                            \
        } else {                                                                                   \
            assert(!"TG_DISPATCH: a dtype that is not f32 or f64");                                \
        }                                                                                          \
    } while (0)

/* Element k of a buffer of es-byte elements (dtype-generic code). */
#define TG_AT(p, k, es)     ((const char *)(p) + (size_t)(k) * (es))
#define TG_AT_MUT(p, k, es) ((char *)(p) + (size_t)(k) * (es))

#define TG_EXP(x)    _Generic((x), float : expf, default : exp)(x)
#define TG_LOG(x)    _Generic((x), float : logf, default : log)(x)
#define TG_LOG1P(x)  _Generic((x), float : log1pf, default : log1p)(x)
#define TG_SQRT(x)   _Generic((x), float : sqrtf, default : sqrt)(x)
#define TG_TANH(x)   _Generic((x), float : tanhf, default : tanh)(x)
#define TG_FABS(x)   _Generic((x), float : fabsf, default : fabs)(x)
#define TG_POW(x, y) _Generic((x), float : powf, default : pow)(x, y)
/* Any libm function f of one argument: fn##f for float, fn for double (a
 * unary op's expression names the function it needs without a wrapper). */
#define TG_LIBM(fn, x) _Generic((x), float : fn##f, default : fn)(x)

#define TG_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* TG_CLONES before a hot elementwise kernel builds it three times, for
 * baseline x86-64 (SSE2), x86-64-v3 (AVX2) and x86-64-v4 (AVX-512), and the
 * dynamic loader picks the one the CPU runs (GCC/clang function
 * multiversioning over glibc's ifunc).  The library is built for the
 * baseline, so without this an f32 sigmoid runs four lanes wide on a CPU
 * with sixteen.  Every version computes the same bits: the library is
 * compiled as ISO C (-std=c11), which leaves floating-point contraction off
 * (no version fuses a*b + c), and no cloned loop reorders a sum.  Off under
 * ThreadSanitizer, whose runtime is not ready when the loader resolves the
 * versions (the process crashes), and without glibc. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TG_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TG_TSAN_ 1
#endif
#if TG_HAVE_CLONES && defined(__GLIBC__) && !defined(TG_TSAN_)
#define TG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TG_CLONES
#endif

/* A hint to fetch the cache line at byte offset off from p, for writing (w
 * 1) or reading (0), ahead of a loop that streams through memory (the
 * recording of a scalar tape writes about 170 bytes per op, the reverse
 * sweep reads most of them back).  Never faults: the address may lie past
 * the block, so it is formed as an integer.  (Without -mprfchw, gcc makes
 * a write hint a plain prefetch.) */
#define TG_PREFETCH(p, off, w)                                                                     \
    __builtin_prefetch((const void *)((uintptr_t)(p) + (uintptr_t)(intptr_t)(off)), (w))

/* n' = p a / sqrt(1 + (pi/8) p (1-p) q), the fused elementwise end of
 * tg_fast_dropout_linear (ops/fast_dropout.c). */
tg_tensor *tg__fast_dropout_scale(tg_tape *tp, tg_tensor *a, tg_tensor *q, double p);

#endif
