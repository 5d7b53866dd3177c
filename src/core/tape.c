/* The tape: a Wengert list of nodes, the arena that holds every tape-owned
 * tensor, the sticky error, and value ids (the slots the backward pass keeps
 * gradients in).  Nothing here knows about any particular op.  What is read
 * back from a tape (status, usage, nodes, printing), anomaly mode and the
 * growth warning are in tape_query.c; struct tg_tape is in tape_priv.h. */
#include "internal.h"
#include "tape_priv.h"

#include <stdio.h>

static void rg_note(tg_tape *tp, int32_t id, bool rg);

/* Lets go of every user tensor the tape holds (tg__tensor_release): on a
 * scalar tape 100,000 headers apart in memory, each an atomic update, which
 * waits for the one before; ask for the headers ahead. */
static void tape_release_users(tg_tape *tp)
{
    for (size_t u = 0; u < tp->map_n; u++) {
        if (u + 16 < tp->map_n)
            TG_PREFETCH(tp->user_by_order[u + 16], offsetof(struct tg_tensor, holds), 1);
        tg__tensor_release(tp->user_by_order[u]);
    }
}

tg_tape *tg_tape_new(const tg_tape_options *opts)
{
    tg_tape *tp = tg__calloc(1, sizeof *tp);
    if (!tp) {
        tg__set_last(TG_ERR_NOMEM, "tg_tape_new: out of memory");
        return NULL;
    }
    tg_tape_options o = {0};
    if (opts) o = *opts;
    tg__arena_init(&tp->arena, o.arena_chunk, o.arena_limit, true);
    tg__arena_init(&tp->links, o.arena_chunk, 0, false);
    tp->epoch = 1;
    tp->rg_ok = true;
    tp->recording = true;
    tp->anomaly = o.anomaly;
    tp->err_node = -1;
    tp->bw_node = -1;
    tg_rng_seed(&tp->rng, o.seed);
    tp->mallocs = 1;
    tp->warn = o.on_warning;
    tp->warn_ctx = o.warning_ctx;
    tp->growth_warning = o.growth_warning ? o.growth_warning : TG_GROWTH_WARNING_DEFAULT;
    return tp;
}

void tg_tape_free(tg_tape *tp)
{
    if (!tp) return;
    tape_release_users(tp);
    tg__arena_free(&tp->arena);
    tg__arena_free(&tp->links);
    tg__free(tp->nodes);
    tg__free(tp->map_keys);
    tg__free(tp->map_vals);
    tg__free(tp->user_by_order);
    tg__free(tp->user_ids_order);
    tg__free(tp->user_version);
    tg__free(tp->rg);
    tg__tape_names_free(tp);
    tg_tape_free(tp->scratch);
    tg__free(tp);
}

void tg_tape_reset(tg_tape *tp)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tape_reset: tape is NULL");
        return;
    }
    tg__arena_reset(&tp->arena);
    tg__arena_reset(&tp->links);
    tp->epoch++;
    tp->status = TG_OK;
    tp->msg[0] = '\0';
    tp->err_node = -1;
    tp->n_nodes = 0;
    tp->n_values = 0;
    tp->n_tensors = 0;
    tape_release_users(tp);
    if (tp->map_n) memset(tp->map_keys, 0, tp->map_cap * sizeof *tp->map_keys);
    tp->map_n = 0;
    tp->n_retained = 0;
    tp->rg_n = 0;
    tp->rg_ok = true;
    tp->recording = true;
    tp->dep = NULL;
    tp->n_dep = 0;
    tp->bw_node = -1;
    tp->op = NULL;
    tp->n_backward = 0;
    tp->bw_values = 0;
    tp->n_names = 0;
}

void tg_tape_fail(tg_tape *tp, tg_status s, const char *fmt, ...)
{
    if (!fmt) { /* the failure still stands, with a message saying why it has no other */
        tg_tape_fail(tp, s, "%s", "tape_fail: fmt is NULL");
        return;
    }
    if (!tp) { /* no tape: the message goes where calls without one put theirs */
        char m[sizeof tp->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        tg__set_last(s == TG_OK ? TG_ERR_ARG : s, "%s", m);
        return;
    }
    if (tp->status != TG_OK) return;
    tp->status = s == TG_OK ? TG_ERR_ARG : s;
    tp->err_node = tp->n_nodes;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tp->msg, sizeof tp->msg, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < sizeof tp->msg)
        snprintf(tp->msg + k, sizeof tp->msg - (size_t)k, " [node %lld]", (long long)tp->n_nodes);
}

bool tg__tape_ok(const tg_tape *tp)
{
    return tp && tp->status == TG_OK;
}

/* Out of line, so that the callers on the recording path inline. */
static void *block_failed(tg_tape *tp, const tg_arena *a, size_t n)
{
    tg_tape_fail(tp, TG_ERR_NOMEM, "arena: cannot allocate %zu bytes%s (in use %zu, limit %zu)", n,
                 a == &tp->links ? " of node inputs" : "", a->in_use, a->limit);
    return NULL;
}

static inline void *tape_scratch(tg_tape *tp, size_t n)
{
    void *p = tg__arena_alloc(&tp->arena, n);
    return p ? p : block_failed(tp, &tp->arena, n);
}

void *tg__tape_scratch(tg_tape *tp, size_t n)
{
    return tape_scratch(tp, n);
}

static inline void *links_alloc(tg_tape *tp, size_t n)
{
    if (tp->arena.limit) return tape_scratch(tp, n);
    void *p = tg__arena_alloc(&tp->links, n);
    /* Recording a scalar tape streams writes through three arrays: the
     * arena (tensors), the links and the nodes, each into lines not yet
     * cached, and stalls once the stores waiting for them fill the store
     * buffer.  Asking for the lines some ops ahead, for writing, has them
     * cached by the time the stores arrive. */
    TG_PREFETCH(p, 512, 1);
    return p ? p : block_failed(tp, &tp->links, n);
}

/* Is t, a header that says "TAPE", one tp made in this epoch?  The epoch
 * alone would not tell if reset simply rewound the arena: the same graph
 * built again puts each new header where the old one was, and a tensor kept
 * from before would read the new header.  The tensor arena keeps its chunks
 * and starts every block of one epoch at another address modulo 16 than
 * those of the epoch before (core/arena.c), so a tensor kept across one
 * reset reads memory the tape still owns, at an address where no header of
 * this epoch starts: its own old header (epoch past), or the inside of a new
 * block.  TG_NO_ASAN: it reads a stale header, which sanitizer builds poison
 * (the error is the report). */
static inline TG_NO_ASAN bool tape_tensor_live(const tg_tensor *t, const tg_tape *tp)
{
    return t->tape == tp && t->epoch == tp->epoch;
}

TG_NO_ASAN bool tg__tensor_live_on(const tg_tensor *t, const tg_tape *tp)
{
    if (!t) return false;
    if (t->magic == TG_MAGIC_USER) return true;
    return t->magic == TG_MAGIC_TAPE && tape_tensor_live(t, tp);
}

/* Does p point into tp's tensor arena (any chunk, any epoch)?  Only on the
 * error path: there a tensor that failed the check is stale when it lies in
 * the tape's own memory, whatever that memory holds now. */
static bool in_arena(const tg_tape *tp, const void *p)
{
    const uintptr_t a = (uintptr_t)p;
    for (const tg_chunk *c = tp->arena.first; c; c = c->next)
        if (a >= (uintptr_t)c->mem && a - (uintptr_t)c->mem < c->size) return true;
    return false;
}

TG_NO_ASAN tg_status tg__tape_check_live(const tg_tape *tp, const char *what, const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "%s: tensor is NULL", what);
        return TG_ERR_NULL;
    }
    if (t->magic == TG_MAGIC_USER && !tg__tensor_freed(t)) return TG_OK;
    if (t->magic == TG_MAGIC_TAPE && tape_tensor_live(t, tp)) return TG_OK;
    if (in_arena(tp, t))
        tg__set_last(TG_ERR_TAPE, "%s: the tensor is stale (created before the last tg_tape_reset)",
                     what);
    else if (t->magic == TG_MAGIC_TAPE && t->tape != tp)
        tg__set_last(TG_ERR_TAPE, "%s: the tensor belongs to another tape", what);
    else if (t->magic == TG_MAGIC_USER)
        tg__set_last(TG_ERR_TAPE, "%s: the tensor was freed (tg_tensor_free)", what);
    else
        tg__set_last(TG_ERR_TAPE, "%s: not a live tensor (freed?)", what);
    return tg_last_status();
}

bool tg__tape_before_backward(const tg_tape *tp, const tg_tensor *t)
{
    return t->magic == TG_MAGIC_TAPE && t->id >= 0 && t->id < tp->bw_values;
}

/* ---- tape-owned tensors -------------------------------------------------- */
static tg_tensor *alloc_tensor(tg_tape *tp, tg_dtype dt, int ndim, const int64_t *shape, void *view,
                               bool index)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tg_tape_alloc: tape is NULL");
        return NULL;
    }
    if (!tg__tape_ok(tp)) return NULL;
    /* inside an op, a failure names the op (its output shape may be too
     * big); called by the user, tg_tape_alloc */
    const char *who = tp->op ? tp->op : "tg_tape_alloc";
    if (dt == TG_I64 && !index) {
        /* data only: every tape tensor may meet a float kernel or get a
         * gradient (tg__tape_alloc_index makes the exception) */
        tg_tape_fail(tp, TG_ERR_DTYPE, "%s: dtype i64 is data only; tape tensors are f32 or f64",
                     who);
        return NULL;
    }
    if (dt != TG_F32 && dt != TG_F64 && dt != TG_I64) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: unknown dtype %d", who, (int)dt);
        return NULL;
    }
    if (ndim < 0 || ndim > TG_MAX_DIMS) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %d dimensions (0 to %d allowed)", who, ndim,
                     TG_MAX_DIMS);
        return NULL;
    }
    if (ndim && !shape) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: shape is NULL for %d dimensions", who, ndim);
        return NULL;
    }
    int64_t n;
    if (!tg__extents_product(ndim, shape, TG_NUMEL_MAX, &n)) {
        char s[TG_SHAPE_BUF];
        tg__dims_str(ndim, shape, s, sizeof s);
        int neg = 0;
        while (neg < ndim && shape[neg] >= 0) neg++;
        if (neg < ndim)
            tg_tape_fail(tp, TG_ERR_SHAPE, "%s: extent %lld of axis %d is negative in %s", who,
                         (long long)shape[neg], neg, s);
        else
            tg_tape_fail(tp, TG_ERR_SHAPE, "%s: a tensor of shape %s would have over %lld elements",
                         who, s, (long long)TG_NUMEL_MAX);
        return NULL;
    }
    /* The header and its ndim extents take one arena block; a small tensor
     * (a scalar of a scalar tape) has its data in the same block, after the
     * extents: one bump instead of two, 80 bytes for a 0-d f64.  Its data is
     * then 8-byte aligned, enough for either dtype (and all the arena
     * promises for blocks that small: core/internal.h, TG_ARENA_BIG). */
    const size_t bytes = (size_t)n * tg_dtype_size(dt);
    const size_t head = sizeof(tg_tensor) + (size_t)ndim * sizeof(int64_t);
    const bool joint = !view && bytes < TG_ALIGN;
    tg_tensor *t = tape_scratch(tp, joint ? head + bytes : head);
    if (!t) return NULL;
    TG_PREFETCH(t, 1024, 1); /* the blocks of the ops to come (see links_alloc) */
    void *data = view    ? view
                 : joint ? (void *)((unsigned char *)t + head)
                         : tape_scratch(tp, bytes);
    if (!data) return NULL;
    /* every field set once (no memset of the whole header first) */
    t->magic = TG_MAGIC_TAPE;
    t->dtype = dt;
    t->ndim = ndim;
    t->shape = tg__tensor_extents(t);
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = n;
    t->data = data;
    t->tape = tp;
    t->epoch = tp->epoch;
    t->id = tp->n_values++;
    t->node = -1;
    t->requires_grad = false;
    t->retain = false;
    t->view = view != NULL;
    t->grad = NULL;
    tp->n_tensors++;
    return t;
}

tg_tensor *tg_tape_alloc(tg_tape *tp, tg_dtype dt, int ndim, const int64_t *shape)
{
    return alloc_tensor(tp, dt, ndim, shape, NULL, false);
}

tg_tensor *tg__tape_alloc_index(tg_tape *tp, int ndim, const int64_t *shape)
{
    return alloc_tensor(tp, TG_I64, ndim, shape, NULL, true);
}

tg_tensor *tg__tape_alloc_view(tg_tape *tp, const tg_tensor *src, int ndim, const int64_t *shape)
{
    return alloc_tensor(tp, src->dtype, ndim, shape, src->data, false);
}

tg_tensor *tg__tape_wrap(tg_tape *tp, const tg_tensor *like, void *data)
{
    return alloc_tensor(tp, like->dtype, like->ndim, like->shape, data, false);
}

/* ---- value ids of user-owned tensors ------------------------------------ */
/* Tensors allocated one after another (a scalar tape's variables) land in
 * neighbouring buckets, so registering them walks the table in order
 * instead of missing the cache once per tensor; the address's megabyte is
 * mixed in, so tensors at a large power-of-two stride still spread. */
static size_t hash_ptr(const void *p, size_t cap)
{
    const uint64_t x = (uint64_t)(uintptr_t)p;
    return (size_t)((x >> 4) + (x >> 20) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static bool map_grow(tg_tape *tp)
{
    size_t cap = tp->map_cap ? tp->map_cap * 2 : 64;
    const tg_tensor **keys = tg__calloc(cap, sizeof *keys);
    int32_t *vals = tg__calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        tg__free(keys);
        tg__free(vals);
        return false;
    }
    tp->mallocs += 2;
    for (size_t i = 0; i < tp->map_cap; i++) {
        if (!tp->map_keys[i]) continue;
        size_t h = hash_ptr(tp->map_keys[i], cap);
        while (keys[h]) h = (h + 1) & (cap - 1);
        keys[h] = tp->map_keys[i];
        vals[h] = tp->map_vals[i];
    }
    tg__free(tp->map_keys);
    tg__free(tp->map_vals);
    tp->map_keys = keys;
    tp->map_vals = vals;
    tp->map_cap = cap;
    return true;
}

/* A user tensor's id field is a hint: its slot in the first-use list of the
 * tape that last registered it.  A hint that names t's own slot on tp is
 * proof (the list holds each tensor once); anything else falls back to the
 * map.  Several tapes in several threads may read one user tensor, so the
 * hint is read and written atomically (relaxed: it carries no other data). */
static int32_t user_hint(const tg_tensor *t)
{
    return __atomic_load_n(&t->id, __ATOMIC_RELAXED);
}

int32_t tg__tape_value_id_lookup(const tg_tape *tp, const tg_tensor *t)
{
    if (!t) return -1;
    if (t->magic == TG_MAGIC_TAPE) return tg__tensor_live_on(t, tp) ? t->id : -1;
    const int32_t u = user_hint(t);
    if (u >= 0 && (size_t)u < tp->map_n && tp->user_by_order[u] == t) return tp->user_ids_order[u];
    if (!tp->map_cap) return -1;
    size_t h = hash_ptr(t, tp->map_cap);
    while (tp->map_keys[h]) {
        if (tp->map_keys[h] == t) return tp->map_vals[h];
        h = (h + 1) & (tp->map_cap - 1);
    }
    return -1;
}

int32_t tg__tape_value_id(tg_tape *tp, tg_tensor *t)
{
    int32_t id = tg__tape_value_id_lookup(tp, t);
    if (id >= 0 || t->magic == TG_MAGIC_TAPE) return id;
    if ((tp->map_n + 1) * 2 > tp->map_cap && !map_grow(tp)) return -1;
    /* keep the user tensors in first-use order for printing and backward */
    if (tp->map_n >= tp->cap_users) {
        size_t cap = tp->cap_users ? tp->cap_users * 2 : 32;
        tg_tensor **u = tg__realloc(tp->user_by_order, cap * sizeof *u);
        if (!u) return -1;
        tp->user_by_order = u; /* larger is harmless if the next step fails */
        int32_t *ids = tg__realloc(tp->user_ids_order, cap * sizeof *ids);
        if (!ids) return -1;
        tp->user_ids_order = ids;
        uint32_t *ver = tg__realloc(tp->user_version, cap * sizeof *ver);
        if (!ver) return -1;
        tp->user_version = ver;
        tp->mallocs += 3;
        tp->cap_users = cap;
    }
    size_t h = hash_ptr(t, tp->map_cap);
    while (tp->map_keys[h]) h = (h + 1) & (tp->map_cap - 1);
    tp->map_keys[h] = t;
    tp->map_vals[h] = tp->n_values++;
    tp->user_ids_order[tp->map_n] = tp->map_vals[h];
    tp->user_version[tp->map_n] = t->version;
    tg__tensor_hold(t);
    rg_note(tp, tp->map_vals[h], t->requires_grad);
    __atomic_store_n(&t->id, (int32_t)tp->map_n, __ATOMIC_RELAXED);
    tp->user_by_order[tp->map_n++] = t;
    return tp->map_vals[h];
}

/* Room for rg[i]; false (and rg_ok false) on out of memory. */
static bool rg_grow(tg_tape *tp, size_t i)
{
    size_t cap = tp->rg_cap ? tp->rg_cap * 2 : 1024;
    if (cap <= i) cap = i + 1;
    uint8_t *b = tg__realloc(tp->rg, cap);
    if (!b) {
        tp->rg_ok = false; /* the sweep computes it instead */
        return false;
    }
    tp->mallocs++;
    tp->rg = b;
    tp->rg_cap = cap;
    return true;
}

static void rg_note(tg_tape *tp, int32_t id, bool rg)
{
    if (!tp->rg_ok || id < 0) return;
    const size_t i = (size_t)id;
    if (i >= tp->rg_n) {
        if (i >= tp->rg_cap && !rg_grow(tp, i)) return;
        /* ids made in between: constants (usually none: a node's output
         * takes the next id, so no call for nothing) */
        if (i > tp->rg_n) memset(tp->rg + tp->rg_n, 0, i - tp->rg_n);
        tp->rg_n = i + 1;
    }
    tp->rg[i] = rg;
}

const uint8_t *tg__tape_rg(const tg_tape *tp, size_t *n)
{
    *n = tp->rg_n;
    return tp->rg_ok ? tp->rg : NULL;
}

void tg__tape_clear_rg(tg_tape *tp, tg_tensor *t)
{
    t->requires_grad = false;
    if (t->magic == TG_MAGIC_TAPE && t->node >= 0) rg_note(tp, t->id, false);
}

/* ---- inputs and recording ----------------------------------------------- */
/* Why input i failed the liveness check (the error path of the below). */
static TG_NO_ASAN void fail_input(tg_tape *tp, const char *op_name, int i, const tg_tensor *t)
{
    if (in_arena(tp, t))
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "%s: input %d is stale (created before the last tg_tape_reset)", op_name, i);
    else if (t->magic == TG_MAGIC_TAPE && t->tape != tp)
        tg_tape_fail(tp, TG_ERR_TAPE, "%s: input %d belongs to another tape", op_name, i);
    else
        tg_tape_fail(tp, TG_ERR_TAPE, "%s: input %d is not a live tensor (freed?)", op_name, i);
}

/* Every op starts here, so a NULL tape is reported here once for all of
 * them (on the thread's last error: there is no tape to hold it). */
TG_NO_ASAN bool tg_tape_check_inputs(tg_tape *tp, const char *op_name, int n, tg_tensor *const *in)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "%s: tape is NULL", op_name ? op_name : "(op)");
        return false;
    }
    if (tp->status != TG_OK) return false;
    if (!op_name) {
        tg_tape_fail(tp, TG_ERR_NULL, "check_inputs: op_name is NULL");
        return false;
    }
    if (n < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input count %d is negative", op_name, n);
        return false;
    }
    if (n > 0 && !in) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: input array is NULL", op_name);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const tg_tensor *t = in[i];
        if (!t) {
            tg_tape_fail(tp, TG_ERR_NULL, "%s: input %d is NULL", op_name, i);
            return false;
        }
        /* A tape tensor is i64 only when an index op made it
         * (tg__tape_alloc_index: tg_argmax, never recorded), so these checks
         * keep the integer dtype away from every op's float kernels
         * (TG_DISPATCH is f32/f64) and gradients. */
        if (t->magic == TG_MAGIC_TAPE && tape_tensor_live(t, tp) && t->dtype == TG_I64) {
            char d[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_DTYPE,
                         "%s: input %d is %s: an integer tensor is data only (the op takes "
                         "f32 or f64)",
                         op_name, i, tg_tensor_describe(t, d, sizeof d));
            return false;
        }
        if (t->magic == TG_MAGIC_USER) {
            if (!tg__tensor_freed(t) && t->dtype != TG_I64) continue;
            if (!tg__tensor_freed(t)) { /* i64 */
                char d[TG_SHAPE_BUF + 8];
                tg_tape_fail(tp, TG_ERR_DTYPE,
                             "%s: input %d is %s: an integer tensor is data only (the op takes "
                             "f32 or f64)",
                             op_name, i, tg_tensor_describe(t, d, sizeof d));
                return false;
            }
            tg_tape_fail(tp, TG_ERR_TAPE,
                         "%s: input %d was freed (tg_tensor_free) after a tape recorded it",
                         op_name, i);
            return false;
        }
        if (t->magic == TG_MAGIC_TAPE && tape_tensor_live(t, tp)) continue;
        fail_input(tp, op_name, i, t);
        return false;
    }
    tp->op = op_name;
    return true;
}

tg_tensor *tg_tape_record(tg_tape *tp, const tg_op *op, int n_in, tg_tensor *const *in,
                          tg_tensor *out, const void *saved, size_t saved_size, int n_aux,
                          tg_tensor *const *aux)
{
    const char *name = op && op->name ? op->name : "";
    if (!tp || !op || !op->name || !out || (n_in > 0 && !in) || (n_aux > 0 && !aux)) {
        tg_tape_fail(tp, TG_ERR_NULL, "record%s%s: %s is NULL", *name ? " " : "", name,
                     !tp               ? "tape"
                     : !op             ? "op"
                     : !op->name       ? "op->name"
                     : !out            ? "out"
                     : n_in > 0 && !in ? "in"
                                       : "aux");
        return NULL;
    }
    if (!tg__tape_ok(tp)) return NULL;
    if (n_in < 0 || n_aux < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "record %s: %s count %d is negative",
                     op && op->name ? op->name : "(op)", n_in < 0 ? "input" : "aux",
                     n_in < 0 ? n_in : n_aux);
        return NULL;
    }
    /* the node keeps these sizes in narrow fields (struct tg_node): the
     * library's own ops stay far below, a custom op is told */
    if (saved_size > TG_NODE_SAVED_MAX || n_aux > TG_NODE_AUX_MAX) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "record %s: %zu bytes of attributes and %d aux tensors (at most %lu and %d)",
                     op->name, saved_size, n_aux, (unsigned long)TG_NODE_SAVED_MAX,
                     TG_NODE_AUX_MAX);
        return NULL;
    }
    if (!op || !op->name || !out || (n_in && !in) || (n_aux && !aux) ||
        (op->arity >= 0 && op->arity != n_in)) {
        tg_tape_fail(tp, TG_ERR_ARG, "record %s: bad descriptor, output or input count %d",
                     op && op->name ? op->name : "(op)", n_in);
        return NULL;
    }
    /* an i64 tape tensor is an index result (tg_argmax), not tg_tape_alloc's */
    if (!tg__tensor_live_on(out, tp) || out->magic != TG_MAGIC_TAPE || out->dtype == TG_I64) {
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "record %s: the output must come from tg_tape_alloc on this "
                     "tape",
                     op->name);
        return NULL;
    }
    if (!tg_tape_check_inputs(tp, op->name, n_in, in)) return NULL;
    return tg__tape_record_checked(tp, op, n_in, in, out, saved, saved_size, n_aux, aux);
}

/* Room for one more node (out of line: rare); false on out of memory. */
static bool nodes_grow(tg_tape *tp, const tg_op *op)
{
    int64_t cap = tp->cap_nodes ? tp->cap_nodes * 2 : 256;
    tg_node *nn = tg__realloc(tp->nodes, (size_t)cap * sizeof *nn);
    if (!nn) {
        tg_tape_fail(tp, TG_ERR_NOMEM, "%s: out of memory growing the node list", op->name);
        return false;
    }
    tp->mallocs++;
    tp->nodes = nn;
    tp->cap_nodes = cap;
    return true;
}

tg_tensor *tg__tape_record_checked(tg_tape *tp, const tg_op *op, int n_in, tg_tensor *const *in,
                                   tg_tensor *out, const void *saved, size_t saved_size, int n_aux,
                                   tg_tensor *const *aux)
{
    if (tp->status != TG_OK) return NULL;
    tp->op = NULL; /* built: later allocations are not its */
    if (tp->anomaly && !tg__anomaly_check_with(tp, op->name, n_in, in, out)) return NULL;
    bool rg = false;
    for (int i = 0; i < n_in; i++) rg = rg || in[i]->requires_grad;
    out->requires_grad = rg;
    if (!tp->recording) return out; /* inside a plain backward: a constant */
    rg_note(tp, out->id, rg);

    if (tp->n_nodes == tp->cap_nodes && !nodes_grow(tp, op)) return NULL;
    /* the scalar rule applies when every input and the output hold one
     * element (shapes may differ: (1,) + (1, 1) is a scalar node too) */
    bool scalar = op->scalar && n_in > 0 && n_in <= TG_SCALAR_MAX_INPUTS && out->numel == 1;
    for (int i = 0; i < n_in && scalar; i++) scalar = in[i]->numel == 1;
    uint16_t f32_mask = 0;
    tg_tensor **lin = NULL;
    const size_t links = tg__links_size(n_in, scalar, saved_size, n_aux);
    unsigned char *b = NULL;
    if (links) {
        /* the node's links in one block (struct tg_node): a scalar node
         * keeps its values first, so its reverse step reads no tensor, and
         * the attributes beside the inputs are read with them */
        b = links_alloc(tp, links);
        if (!b) return NULL;
        lin = (tg_tensor **)(void *)(b + tg__links_in_off(n_in, scalar));
    }
    if (n_in) {
        double *vals = (double *)(void *)b;
        int32_t *ids = (int32_t *)(void *)(lin + n_in); /* where tg__node_in_id reads them */
        if (scalar) {
            for (int i = 0; i < n_in; i++) {
                const bool f32 = in[i]->dtype == TG_F32;
                vals[i] = f32 ? *(const float *)in[i]->data : *(const double *)in[i]->data;
                f32_mask |= (uint16_t)(f32 << i);
            }
            const bool f32 = out->dtype == TG_F32;
            vals[n_in] = f32 ? *(const float *)out->data : *(const double *)out->data;
            f32_mask |= (uint16_t)(f32 << 8);
        }
        for (int i = 0; i < n_in; i++) {
            lin[i] = in[i];
            /* a live tape tensor carries its id; a user tensor is looked up */
            ids[i] = in[i]->magic == TG_MAGIC_TAPE ? in[i]->id : tg__tape_value_id(tp, in[i]);
            if (ids[i] < 0) {
                tg_tape_fail(tp, TG_ERR_NOMEM, "%s: out of memory registering input %d", op->name,
                             i);
                return NULL;
            }
        }
    }
    if (saved_size) {
        if (!saved) {
            tg_tape_fail(tp, TG_ERR_NULL, "record %s: saved is NULL with size %zu", op->name,
                         saved_size);
            return NULL;
        }
        memcpy(b + tg__links_saved_off(n_in, scalar), saved, saved_size);
    }
    if (n_aux) {
        tg_tensor **a = (tg_tensor **)(void *)(b + tg__links_aux_off(n_in, scalar, saved_size));
        for (int i = 0; i < n_aux; i++) a[i] = aux[i];
    }
    /* Written in place, each field once: a node built on the stack and
     * copied into the array would be read back in 16-byte pieces before its
     * narrower stores land, a store-forwarding stall on every op. */
    tg_node *const nd = tp->nodes + tp->n_nodes;
    TG_PREFETCH(nd, 16 * sizeof *nd, 1); /* see links_alloc */
    nd->op = op;
    nd->in = lin;
    nd->out = out;
    nd->n_in = n_in;
    nd->out_id = out->id;
    nd->saved_size = (uint32_t)saved_size; /* checked: tg_tape_record */
    nd->n_aux = (unsigned)n_aux & TG_NODE_AUX_MAX;
    nd->f32_mask = f32_mask & 0x1ffu;
    nd->scalar = scalar;
    out->node = tp->n_nodes++;
    return out;
}
