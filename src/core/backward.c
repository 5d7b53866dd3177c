/* The generic backward pass: tg_backward, tg_grad and tg_vjp mark their
 * targets, run the reverse sweep (sweep.c) and write what it leaves.  It
 * knows nothing about any particular op. */
#include "sweep.h"

static bool check_start(tg_tape *tp, const char *what, const tg_tensor *y)
{
    if (!tp) return false;
    if (!tg__tape_ok(tp)) return false;
    if (!y) {
        tg_tape_fail(tp, TG_ERR_NULL, "%s: output is NULL", what);
        return false;
    }
    tg_tensor *const in[1] = {(tg_tensor *)y};
    return tg_tape_check_inputs(tp, what, 1, in);
}

/* The spare gradient buffer (struct tg_tensor) of t, the tape's user
 * tensor $u; false on out of memory (tape error set). */
static bool make_spare(tg_tape *tp, tg_tensor *t, size_t u)
{
    t->spare = tg__malloc((size_t)t->numel * tg_dtype_size(t->dtype));
    if (!t->spare) {
        tg_tape_fail(tp, TG_ERR_NOMEM,
                     "backward: out of memory for a second gradient buffer of %lld elements "
                     "(parameter $%zu)",
                     (long long)t->numel, u);
        return false;
    }
    return true;
}

/* Does t's gradient storage still fit it?  A user tensor's extents can
 * change (never its ndim or dtype): tg_batches_next shows a shorter last
 * batch through the same tensor, and a gradient or spare made at one size
 * must not be written at another. */
static bool grad_fits(const tg_tensor *t)
{
    return t->grad && tg_tensor_same_shape(t->grad, t);
}

/* Storage for t's gradient: a new tensor when it has none, else new data
 * for the .grad tensor it has (installed by grad_install: the .grad tensor
 * a user may hold stays the same).  NULL and the tape error on out of
 * memory. */
static void *grad_make(tg_tape *tp, const tg_tensor *t)
{
    void *p = t->grad ? tg__calloc(t->numel ? (size_t)t->numel : 1, tg_dtype_size(t->dtype))
                      : (void *)tg_tensor_new(t->dtype, t->ndim, t->shape);
    if (!p)
        tg_tape_fail(tp, TG_ERR_NOMEM, "backward: out of memory for a gradient of %lld elements",
                     (long long)t->numel);
    else if (!t->grad)
        ((tg_tensor *)p)->holds = TG_HOLD_GRAD; /* its parameter's: tg_tensor_free refuses it */
    return p;
}
static void grad_drop(const tg_tensor *t, void *p)
{
    if (t->grad) {
        tg__free(p);
    } else {
        tg__free(((tg_tensor *)p)->data);
        tg__free(p);
    }
}
static void grad_install(tg_tensor *t, void *p)
{
    if (!t->grad) {
        t->grad = p;
        return;
    }
    tg__free(t->grad->data);
    t->grad->data = p;
    for (int d = 0; d < t->ndim; d++) t->grad->shape[d] = t->shape[d];
    t->grad->numel = t->numel;
}

/* The first recorded use of user tensor t: node *node's input *k; false
 * when no node has it as an input. */
static bool first_use(const tg_tape *tp, const tg_tensor *t, int64_t *node, int *k)
{
    const int64_t nn = tg__tape_num_nodes(tp);
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *nd = tg__tape_node(tp, i);
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] == t) {
                *node = i;
                *k = j;
                return true;
            }
    }
    return false;
}

/* Has the tape's user tensor $u been written since the tape first used it?
 * Then a rule would read other data than the op computed with (or, on a
 * scalar tape, the recorded values would disagree with the tensor): an
 * error naming the op and input that recorded it.  A tensor no node uses
 * (registered by a recording that then failed) affects no gradient. */
static bool user_modified(tg_tape *tp, const char *what, size_t u)
{
    const tg_tensor *t = tg__tape_user(tp, u);
    const uint32_t was = tg__tape_user_version(tp, u);
    int64_t node;
    int k;
    if (t->version == was || !first_use(tp, t, &node, &k)) return false;
    char d[TG_SHAPE_BUF + 8], r[TG_REF_BUF];
    tg_tape_fail(tp, TG_ERR_TAPE,
                 "%s: input %d of %s (node %lld), %s %s, was modified after it was recorded "
                 "(version %u, now %u)",
                 what, k, tg__tape_node(tp, node)->op->name, (long long)node,
                 tg__tape_ref(tp, t, r, sizeof r), tg_tensor_describe(t, d, sizeof d),
                 (unsigned)was, (unsigned)t->version);
    return true;
}

/* These passes visit every parameter's header, the last one also its
 * .grad's header and data: on a scalar tape 100,000 of each, apart in
 * memory.  Ask for them ahead, each from the one fetched before (header 16
 * on, its .grad 8 on, that one's data 4 on). */
static inline void prefetch_user_ahead(const tg_tape *tp, size_t u, size_t nu)
{
    if (u + 16 < nu) TG_PREFETCH(tg__tape_user(tp, u + 16), 0, 0);
}

static inline void prefetch_grad_ahead(const tg_tape *tp, size_t u, size_t nu)
{
    prefetch_user_ahead(tp, u, nu);
    if (u + 8 < nu && tg__tape_user(tp, u + 8)->grad)
        TG_PREFETCH(tg__tape_user(tp, u + 8)->grad, 0, 0);
    if (u + 4 < nu && tg__tape_user(tp, u + 4)->grad)
        TG_PREFETCH(tg__tape_user(tp, u + 4)->grad->data, 0, 1);
}

/* Parameter t, the tape's user tensor $u, as a target of backward: its
 * value is marked in s->dep, and its spare is made when the sweep uses
 * spares; false (tape error set) when it was freed, or on out of memory. */
static bool mark_parameter(tg_tape *tp, sweep *s, tg_tensor *t, size_t u, int32_t id)
{
    /* its .grad could never be read: the user gave the tensor up (the tape
     * keeps its memory until it lets go) */
    if (tg__tensor_freed(t)) {
        char d[TG_SHAPE_BUF + 8], r[TG_REF_BUF];
        tg_tape_fail(tp, TG_ERR_TAPE,
                     "backward: parameter %s %s was freed (tg_tensor_free) after it "
                     "was recorded",
                     tg__tape_ref(tp, t, r, sizeof r), tg_tensor_describe(t, d, sizeof d));
        return false;
    }
    s->dep[id] = true;
    /* a spare is made at .grad's size, once there is a .grad: a parameter
     * y does not depend on gets none (its .grad stays NULL), so a spare for
     * it would be remade every step; one that may not fit the tensor now is
     * remade */
    if (t->spare && !grad_fits(t)) {
        tg__free(t->spare);
        t->spare = NULL;
    }
    return !(s->spares && t->numel > 1 && !t->spare && t->grad && !make_spare(tp, t, u));
}

/* The targets of tg_backward in s->dep: every parameter (and retained
 * tensor, and y when retained); false on error (tape error set).  The
 * parameters are the targets, so "depends on a target" is "required grad
 * when made", kept by the tape as it records, as long as no parameter flag
 * has changed since its first use and nothing is retained; then the forward
 * pass is skipped (s->dep_ready). */
static bool mark_backward_targets(tg_tape *tp, sweep *s, const tg_tensor *y)
{
    size_t nu = tg__tape_num_users(tp), nrg;
    const uint8_t *rg = tg__tape_rg(tp, &nrg);
    s->dep_ready = rg && tg__tape_num_retained(tp) == 0;
    for (size_t u = 0; u < nu; u++) {
        tg_tensor *t = tg__tape_user(tp, u);
        const int32_t id = tg__tape_user_id(tp, u);
        prefetch_user_ahead(tp, u, nu);
        if (t->version != tg__tape_user_version(tp, u) && user_modified(tp, "backward", u))
            return false;
        if (t->requires_grad && !mark_parameter(tp, s, t, u, id)) return false;
        if (s->dep_ready && ((size_t)id >= nrg || rg[id] != t->requires_grad)) s->dep_ready = false;
    }
    if (s->dep_ready) memcpy(s->dep, rg, (size_t)s->nv < nrg ? (size_t)s->nv : nrg);
    /* retained intermediates: a search of every node, only if there are any */
    const int64_t nn = tg__tape_num_retained(tp) ? tg__tape_num_nodes(tp) : 0;
    for (int64_t i = 0; i < nn; i++) {
        tg_tensor *t = tg__tape_node(tp, i)->out;
        if (t->retain && t->id < s->nv) s->dep[t->id] = true;
    }
    if (y->magic == TG_MAGIC_TAPE && y->retain) s->dep[y->id] = true;
    return true;
}

/* fresh[u]: this call makes .grad storage for parameter $u, which has none,
 * or none that fits it (a tensor whose extents changed: its gradient is
 * replaced, also when accumulating).  All of it is made before any is
 * installed, so out of memory leaves every .grad as it was (and no .grad
 * where there was none).  NULL on out of memory (tape error set). */
static bool *make_grad_storage(tg_tape *tp, const sweep *s)
{
    const size_t nu = tg__tape_num_users(tp);
    bool *fresh = tg__tape_scratch(tp, nu + 1);
    if (!fresh) return NULL;
    size_t nmake = 0;
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(tp, u);
        prefetch_user_ahead(tp, u, nu);
        /* a parameter y does not depend on keeps its .grad, NULL if it
         * has none (PyTorch's None): zeros would read as a gradient */
        fresh[u] =
            t->requires_grad && tg__sweep_reached(s, tg__tape_user_id(tp, u)) && !grad_fits(t);
        nmake += fresh[u];
    }
    if (!nmake) return fresh;
    void **made = tg__tape_scratch(tp, nmake * sizeof *made);
    if (!made) return NULL;
    size_t k = 0;
    for (size_t u = 0; u < nu && k < nmake; u++) {
        if (!fresh[u]) continue;
        if (!(made[k] = grad_make(tp, tg__tape_user(tp, u)))) {
            for (size_t v = 0, j = 0; j < k; v++)
                if (fresh[v]) grad_drop(tg__tape_user(tp, v), made[j++]);
            return NULL;
        }
        k++;
    }
    k = 0;
    for (size_t u = 0; u < nu && k < nmake; u++)
        if (fresh[u]) grad_install(tg__tape_user(tp, u), made[k++]);
    return fresh;
}

/* Replaces parameter t's .grad data by its adjoint (value id) after a direct
 * sweep: the adjoint's bytes as they are (a scalar tape has 100,000
 * parameters: no header is made for each). */
static void replace_grad_direct(const sweep *s, tg_tensor *t, int32_t id)
{
    const size_t bytes = (size_t)t->numel * tg_dtype_size(t->dtype);
    void *src = id >= 0 && id < s->nv ? adj_data(s, id) : NULL;
    if (!bytes) return;
    if (src && src == t->spare) {
        /* the sweep wrote it into the spare: swap, no copy (the old .grad
         * data is the next sweep's spare) */
        t->spare = t->grad->data;
        t->grad->data = src;
    } else if (src) {
        memcpy(t->grad->data, src, bytes); /* adopted, arena or its slot */
    } else {
        memset(t->grad->data, 0, bytes); /* IEEE zeros */
    }
}

/* Writes each parameter's adjoint into its .grad (made by
 * make_grad_storage): replaced, or with accumulate added to unless fresh. */
static void write_parameter_grads(tg_tape *tp, sweep *s, bool accumulate, const bool *fresh)
{
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++) {
        tg_tensor *t = tg__tape_user(tp, u);
        prefetch_grad_ahead(tp, u, nu);
        const int32_t id = tg__tape_user_id(tp, u);
        if (!t->requires_grad || !tg__sweep_reached(s, id)) continue;
        t->grad->version++; /* written below (tg__bump_version: always a user tensor) */
        const bool add = accumulate && !fresh[u];
        if (s->direct && !add) {
            replace_grad_direct(s, t, id);
            continue;
        }
        tg_tensor h, *g = tg__sweep_adjoint(tp, s, id, t, &h);
        if (add) {
            if (g) tg__add_inplace(t->grad, g);
        } else if (g) {
            tg_tensor_copy(t->grad, g); /* one pass, not a clear and an add */
        } else {
            tg_tensor_fill(t->grad, 0.0);
        }
    }
}

/* Points each retained intermediate's .grad at its tape adjoint (zeros when
 * it has none; with accumulate, a tape copy of the old one plus it); false
 * on error (tape error set). */
static bool write_retained_grads(tg_tape *tp, sweep *s, bool accumulate)
{
    const int64_t nn = tg__tape_num_retained(tp) ? tg__tape_num_nodes(tp) : 0;
    for (int64_t i = 0; i < nn; i++) {
        tg_tensor *t = tg__tape_node(tp, i)->out;
        if (!t->retain || t->id >= s->nv) continue;
        tg_tensor *g = tg__sweep_adjoint(tp, s, t->id, t, NULL);
        if (!g && tg__tape_ok(tp)) g = tg__const_full(tp, t->dtype, t->ndim, t->shape, 0.0);
        if (!g) return false;
        if (accumulate && t->grad) {
            tg_tensor *sum = tg__const_copy(tp, t->grad);
            if (!sum) return false;
            tg__add_inplace(sum, g);
            g = sum;
        }
        t->grad = g;
    }
    return true;
}

tg_status tg_backward_ex(tg_tape *tp, tg_tensor *y, const tg_backward_options *opts)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "backward: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!check_start(tp, "backward", y)) return tg_tape_status(tp);
    tg__tape_note_backward(tp);
    tg_backward_options o = {0};
    if (opts) o = *opts;
    sweep s;
    if (!tg__sweep_init(tp, &s)) return tg_tape_status(tp);
    /* Replacing .grad in a direct sweep (explain off; not from inside a
     * rule of another sweep on this tape), each parameter of more than one
     * element gets its adjoint written into its spare buffer, swapped into
     * .grad after the sweep.  Spares are made before the sweep, once per
     * parameter: running out of memory then changes nothing. */
    s.spares = !o.accumulate && !tg__tape_explain(tp) && !tg__tape_dep(tp);
    s.need_dep = true;
    if (!mark_backward_targets(tp, &s, y)) return tg_tape_status(tp);
    if (tg__sweep_run(tp, "backward", y, o.seed, false, &s) != TG_OK) return tg_tape_status(tp);
    /* Write the results: parameters get user-owned storage (replaced or
     * accumulated), retained intermediates point at their tape adjoint.
     * Storage is made for every parameter before any is written, so an
     * allocation failure leaves all gradients as they were.  Nothing the
     * user sees has changed until here: the sweep wrote spares only. */
    const bool *fresh = make_grad_storage(tp, &s);
    if (!fresh) return tg_tape_status(tp);
    write_parameter_grads(tp, &s, o.accumulate, fresh);
    if (!write_retained_grads(tp, &s, o.accumulate)) return tg_tape_status(tp);
    return TG_OK;
}

tg_status tg_backward(tg_tape *tp, tg_tensor *y)
{
    return tg_backward_ex(tp, y, NULL);
}

tg_status tg_retain_grad(tg_tape *tp, tg_tensor *t)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "retain_grad: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    /* Its errors are the thread's, not the tape's: a mark asked for too
     * late, or on the wrong tensor, spoils nothing already recorded, so the
     * graph stays usable. */
    const tg_status st = tg__tape_check_live(tp, "retain_grad", t);
    if (st != TG_OK) return st;
    /* a user tensor gets .grad when it requires grad: nothing to mark */
    if (t->magic == TG_MAGIC_USER) return TG_OK;
    if (tg__tape_before_backward(tp, t)) {
        char r[TG_REF_BUF], d[TG_SHAPE_BUF + 8];
        tg__set_last(TG_ERR_ARG,
                     "retain_grad: %s %s was recorded before the last tg_backward on this tape, "
                     "which kept no gradient for it; call tg_retain_grad before tg_backward",
                     tg__tape_ref(tp, t, r, sizeof r), tg_tensor_describe(t, d, sizeof d));
        return TG_ERR_ARG;
    }
    if (!t->retain) tg__tape_note_retained(tp);
    t->retain = true;
    return TG_OK;
}

/* What an x that y does not depend on gets (tg__vjp's allow_unused, and
 * tg_grad_options.allow_unused). */
typedef enum {
    UNUSED_ZEROS_IF_RECORDED, /* tg__vjp(false): zeros, an error if never recorded */
    UNUSED_ZEROS,             /* zeros */
    UNUSED_ERROR              /* the public default: an error */
} unused_mode;

/* The advice the public calls add to their "does not depend" errors. */
static const char k_allow_unused[] = "; set tg_grad_options.allow_unused to get zeros for it";

static tg_status vjp_run(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed, int n,
                         tg_tensor *const *xs, tg_tensor **out, bool create_graph,
                         unused_mode unused)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "vjp: tape is NULL");
        return TG_ERR_NULL;
    }
    if (!tg__tape_ok(tp)) return TG_ERR_STATE;
    if (!check_start(tp, what, y)) return tg_tape_status(tp);
    if (n > 0 && (!xs || !out)) { /* n < 0: tg_tape_check_inputs says so */
        tg_tape_fail(tp, TG_ERR_NULL, "%s: inputs or outputs array is NULL", what);
        return tg_tape_status(tp);
    }
    if (!tg_tape_check_inputs(tp, what, n, xs)) return tg_tape_status(tp);
    sweep s;
    if (!tg__sweep_init(tp, &s)) return tg_tape_status(tp);
    for (int i = 0; i < n; i++) {
        int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        if (id < 0 && unused != UNUSED_ZEROS) {
            /* no op used it, so y cannot depend on it: a zero gradient
             * would hide a mix-up of tensors */
            char d[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_TAPE,
                         "%s: xs[%d] %s is not on this tape (no recorded op used it)%s", what, i,
                         tg_tensor_describe(xs[i], d, sizeof d),
                         unused == UNUSED_ERROR ? k_allow_unused : "");
            return tg_tape_status(tp);
        }
        if (id >= 0 && id < s.nv) s.dep[id] = true;
    }
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++)
        if (tg__tape_user(tp, u)->version != tg__tape_user_version(tp, u) &&
            user_modified(tp, what, u))
            return tg_tape_status(tp);
    if (tg__sweep_run(tp, what, y, seed, create_graph, &s) != TG_OK) return tg_tape_status(tp);
    for (int i = 0; i < n; i++) {
        int32_t id = tg__tape_value_id_lookup(tp, xs[i]);
        if (unused == UNUSED_ERROR && !tg__sweep_reached(&s, id)) {
            /* no gradient reached it: y does not depend on it */
            char d[TG_SHAPE_BUF + 8];
            tg_tape_fail(tp, TG_ERR_ARG, "%s: the output does not depend on xs[%d] %s%s", what, i,
                         tg_tensor_describe(xs[i], d, sizeof d), k_allow_unused);
            return tg_tape_status(tp);
        }
        tg_tensor *g = tg__sweep_adjoint(tp, &s, id, xs[i], NULL);
        if (!g && tg__tape_ok(tp))
            g = tg__const_full(tp, xs[i]->dtype, xs[i]->ndim, xs[i]->shape, 0.0);
        if (!g) return tg_tape_status(tp);
        out[i] = g;
    }
    return TG_OK;
}

tg_status tg__vjp(tg_tape *tp, const char *what, tg_tensor *y, const tg_tensor *seed, int n,
                  tg_tensor *const *xs, tg_tensor **out, bool create_graph, bool allow_unused)
{
    return vjp_run(tp, what, y, seed, n, xs, out, create_graph,
                   allow_unused ? UNUSED_ZEROS : UNUSED_ZEROS_IF_RECORDED);
}

tg_status tg_vjp_ex(tg_tape *tp, tg_tensor *y, int n, tg_tensor *const *xs, tg_tensor **out,
                    const tg_grad_options *opts)
{
    tg_grad_options o = {0};
    if (opts) o = *opts;
    return vjp_run(tp, "vjp", y, o.seed, n, xs, out, o.create_graph,
                   o.allow_unused ? UNUSED_ZEROS : UNUSED_ERROR);
}

tg_status tg_vjp(tg_tape *tp, tg_tensor *y, const tg_tensor *seed, int n, tg_tensor *const *xs,
                 tg_tensor **out, bool create_graph)
{
    return tg_vjp_ex(tp, y, n, xs, out,
                     &(tg_grad_options){.seed = seed, .create_graph = create_graph});
}

tg_tensor *tg_grad_ex(tg_tape *tp, tg_tensor *y, tg_tensor *x, const tg_grad_options *opts)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "grad: tape is NULL");
        return NULL;
    }
    tg_grad_options o = {0};
    if (opts) o = *opts;
    tg_tensor *g = NULL;
    tg_tensor *xs[1] = {x};
    if (vjp_run(tp, "grad", y, o.seed, 1, xs, &g, o.create_graph,
                o.allow_unused ? UNUSED_ZEROS : UNUSED_ERROR) != TG_OK)
        return NULL;
    return g;
}

tg_tensor *tg_grad(tg_tape *tp, tg_tensor *y, tg_tensor *x, bool create_graph)
{
    return tg_grad_ex(tp, y, x, &(tg_grad_options){.create_graph = create_graph});
}
