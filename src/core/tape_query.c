/* What is read back from a tape: its status and error, its memory usage,
 * the accessors the backward sweeps use, node inspection and explain mode's
 * settings (printing is in tape_print.c), plus anomaly mode, which inspects
 * each value as it is made, and the lending of scratch tapes to
 * tg_checkpoint with their accounting, and the growth warning tg_backward
 * checks.  None of it records anything; it lives apart from
 * tape.c, which builds the tape, so that each file keeps one purpose.  Both
 * see struct tg_tape through tape_priv.h. */
#include "internal.h"
#include "tape_priv.h"

#include <stdio.h>

/* The growth warning needs this many tg_backward calls since the last reset
 * besides the growth: a few on one tape are normal (gradient accumulation,
 * a gradient penalty), hundreds are a loop that forgot the reset. */
#define TG_GROWTH_WARNING_CALLS 8

/* ---- the growth warning -------------------------------------------------- */
static void warn_stderr(const tg_tape *tp, const char *msg, void *ctx)
{
    (void)tp, (void)ctx;
    fprintf(stderr, "tapegrad: warning: %s\n", msg);
}

/* A training loop that forgets tg_tape_reset records every step on the same
 * tape, which grows without bound and says nothing: the symptom is
 * tg_backward called again and again on a tape that keeps growing.  Checked
 * once per tg_backward, never on the recording path. */
void tg__tape_note_backward(tg_tape *tp)
{
    const size_t in_use = tp->arena.in_use + tp->links.in_use;
    tp->bw_values = tp->n_values;
    if (tp->n_backward++ == 0) {
        tp->growth_base = in_use;
        return;
    }
    if (tp->warned || tp->n_backward < TG_GROWTH_WARNING_CALLS || in_use < tp->growth_base ||
        in_use - tp->growth_base < tp->growth_warning)
        return;
    tp->warned = true;
    char msg[400];
    snprintf(msg, sizeof msg,
             "tape memory grew by %.1f MB over %lld tg_backward calls without tg_tape_reset "
             "(%.1f MB in use); call tg_tape_reset before each step of a training loop, or set "
             "tg_tape_options.growth_warning to SIZE_MAX if the growth is intended",
             (double)(in_use - tp->growth_base) / 1e6, (long long)tp->n_backward,
             (double)in_use / 1e6);
    (tp->warn ? tp->warn : warn_stderr)(tp, msg, tp->warn_ctx);
}

/* ---- status, error, options ---------------------------------------------- */
tg_status tg_tape_status(const tg_tape *tp)
{
    return tp ? tp->status : TG_ERR_NULL;
}

const char *tg_tape_error(const tg_tape *tp)
{
    return tp ? tp->msg : "tape is NULL";
}

int64_t tg_tape_error_node(const tg_tape *tp)
{
    return tp ? tp->err_node : -1;
}

void tg_tape_set_anomaly(tg_tape *tp, bool on)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tape_set_anomaly: tape is NULL");
        return;
    }
    tp->anomaly = on;
}

tg_rng *tg_tape_rng(tg_tape *tp)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tape_rng: tape is NULL");
        return NULL;
    }
    return &tp->rng;
}

bool tg__tape_recording(const tg_tape *tp)
{
    return tp->recording;
}

void tg__tape_set_recording(tg_tape *tp, bool on)
{
    tp->recording = on;
}

bool tg__tape_anomaly(const tg_tape *tp)
{
    return tp->anomaly;
}

/* ---- usage and the internal accessors ------------------------------------- */
tg_tape_stats tg_tape_usage(const tg_tape *tp)
{
    tg_tape_stats s = {0};
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tape_usage: tape is NULL");
        return s;
    }
    s.nodes = tp->n_nodes;
    s.tensors = tp->n_tensors;
    s.bytes_in_use = tp->arena.in_use + tp->links.in_use;
    s.high_water = tp->arena.high_water + tp->links.high_water;
    s.bytes_reserved = tp->arena.reserved + tp->links.reserved;
    s.mallocs = tp->mallocs + tp->arena.mallocs + tp->links.mallocs;
    return s;
}

/* ---- tg_checkpoint's scratch tapes ---------------------------------------- */
tg_tape *tg__tape_take_scratch(tg_tape *tp)
{
    tg_tape *s = tp->scratch;
    tp->scratch = NULL;
    if (!s) {
        /* a tape with a limit lends the room it has left: its own limit */
        const size_t limit = tp->arena.limit;
        const size_t room = limit > tp->arena.in_use ? limit - tp->arena.in_use : 1;
        s = tg_tape_new(
            &(tg_tape_options){.arena_limit = limit ? room : 0, .growth_warning = SIZE_MAX});
        if (!s) return NULL;
    }
    s->anomaly = tp->anomaly;
    s->arena.high_water = s->arena.in_use; /* this use's peak only */
    s->links.high_water = s->links.in_use;
    return s;
}

void tg__tape_give_scratch(tg_tape *tp, tg_tape *s)
{
    /* under a limit the room lent changes with every use: no keeping */
    if (tp->scratch || tp->arena.limit) {
        tg_tape_free(s);
        return;
    }
    tg_tape_reset(s);
    tp->scratch = s;
}

void tg__tape_note_nested(tg_tape *tp, size_t bytes)
{
    /* tg_tape_usage reports the sum of both arenas' high waters, so the
     * tensor arena's absorbs what the links' does not already cover */
    const size_t now = tp->arena.in_use + tp->links.in_use;
    if (now + bytes > tp->arena.high_water + tp->links.high_water)
        tp->arena.high_water = now + bytes - tp->links.high_water;
}

size_t tg__tape_num_users(const tg_tape *tp)
{
    return tp->map_n;
}
tg_tensor *tg__tape_user(const tg_tape *tp, size_t i)
{
    return tp->user_by_order[i];
}
int32_t tg__tape_user_id(const tg_tape *tp, size_t i)
{
    return tp->user_ids_order[i];
}
uint32_t tg__tape_user_version(const tg_tape *tp, size_t i)
{
    return tp->user_version[i];
}

void tg__tape_note_retained(tg_tape *tp)
{
    tp->n_retained++;
}
int64_t tg__tape_num_retained(const tg_tape *tp)
{
    return tp->n_retained;
}

int64_t tg__tape_num_nodes(const tg_tape *tp)
{
    return tp->n_nodes;
}

tg_node *tg__tape_node(const tg_tape *tp, int64_t i)
{
    return &tp->nodes[i];
}

int32_t tg__tape_num_values(const tg_tape *tp)
{
    return tp->n_values;
}

const bool *tg__tape_dep(const tg_tape *tp)
{
    return tp->dep;
}

int32_t tg__tape_dep_count(const tg_tape *tp)
{
    return tp->n_dep;
}

void tg__tape_set_dep(tg_tape *tp, const bool *dep, int32_t n)
{
    tp->dep = dep;
    tp->n_dep = n;
}

/* ---- anomaly mode ---------------------------------------------------------- */
int64_t tg__tape_set_backward_node(tg_tape *tp, int64_t node)
{
    int64_t prev = tp->bw_node;
    tp->bw_node = node;
    return prev;
}

/* Appends "; <label> f64[2,3] in [min, max]" to buf at *k (NaNs left out of
 * the range and flagged), so the message shows what the failing op was fed. */
static void append_range(char *buf, size_t size, size_t *k, const char *label, const tg_tensor *t)
{
    if (*k >= size) return;
    char d[TG_SHAPE_BUF + 8];
    double lo = INFINITY, hi = -INFINITY;
    int64_t nan = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = tg_tensor_get_flat(t, i);
        if (isnan(v)) {
            nan++;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    int w;
    if (t->numel == 0)
        w = snprintf(buf + *k, size - *k, "; %s %s empty", label,
                     tg_tensor_describe(t, d, sizeof d));
    else if (nan == t->numel)
        w = snprintf(buf + *k, size - *k, "; %s %s all NaN", label,
                     tg_tensor_describe(t, d, sizeof d));
    else
        w = snprintf(buf + *k, size - *k, "; %s %s in [%.6g, %.6g]%s", label,
                     tg_tensor_describe(t, d, sizeof d), lo, hi, nan ? " with NaN" : "");
    if (w > 0) *k += (size_t)w;
}

/* Anomaly mode: the first non-finite element of a freshly computed tensor
 * stops the tape.  The message names the node, its op and the range of each
 * input; during a backward sweep (tp->bw_node >= 0) it says so and names the
 * forward node whose derivative rule produced the value, and tg_tape_error_node
 * gives that node. */
static bool anomaly_check_op(tg_tape *tp, const char *what, int n_in, tg_tensor *const *in,
                             const tg_tensor *t)
{
    int64_t bad = -1;
    double v = 0;
    for (int64_t i = 0; i < t->numel && bad < 0; i++) {
        v = tg_tensor_get_flat(t, i);
        if (!isfinite(v)) bad = i;
    }
    if (bad < 0) return true;
    if (tp->status != TG_OK) return false;
    char d[TG_SHAPE_BUF + 8];
    const char *kind = isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
    const int64_t node = tp->bw_node >= 0 ? tp->bw_node : tp->n_nodes;
    size_t k = 0;
    int w;
    if (tp->bw_node >= 0) {
        /* the node as the user named its output: "sigmoid, h" */
        char who[TG_NAME_MAX + 64], name[TG_NAME_MAX + 1];
        const bool named = tg__tensor_name_copy(tp->nodes[node].out, name, sizeof name);
        snprintf(who, sizeof who, "%s%s%s", tp->nodes[node].op->name, named ? ", " : "",
                 named ? name : "");
        w = snprintf(tp->msg, sizeof tp->msg,
                     "anomaly: during backward of node %lld (%s): %s produced %s at flat index "
                     "%lld of %s",
                     (long long)node, who, what, kind, (long long)bad,
                     tg_tensor_describe(t, d, sizeof d));
    } else
        w = snprintf(
            tp->msg, sizeof tp->msg, "anomaly: node %lld (%s) produced %s at flat index %lld of %s",
            (long long)node, what, kind, (long long)bad, tg_tensor_describe(t, d, sizeof d));
    if (w > 0) k = (size_t)w;
    for (int i = 0; i < n_in; i++) {
        char label[24];
        snprintf(label, sizeof label, "input %d", i);
        append_range(tp->msg, sizeof tp->msg, &k, label, in[i]);
    }
    if (k < sizeof tp->msg)
        snprintf(tp->msg + k, sizeof tp->msg - k, " [node %lld]", (long long)node);
    tp->status = TG_ERR_NUMERIC;
    tp->err_node = node;
    return false;
}

bool tg__anomaly_check(tg_tape *tp, const char *what, const tg_tensor *t)
{
    return anomaly_check_op(tp, what, 0, NULL, t);
}

bool tg__anomaly_check_with(tg_tape *tp, const char *what, int n_in, tg_tensor *const *in,
                            const tg_tensor *t)
{
    return anomaly_check_op(tp, what, n_in, in, t);
}

/* ---- node inspection ------------------------------------------------------- */
const tg_op *tg_node_op(const tg_node *n)
{
    if (!n) {
        tg__set_last(TG_ERR_NULL, "node_op: node is NULL");
        return NULL;
    }
    return n->op;
}
int tg_node_num_inputs(const tg_node *n)
{
    if (!n) {
        tg__set_last(TG_ERR_NULL, "node_num_inputs: node is NULL");
        return 0;
    }
    return n->n_in;
}
tg_tensor *tg_node_input(const tg_node *n, int i)
{
    if (!n) tg__set_last(TG_ERR_NULL, "node_input: node is NULL");
    return n && i >= 0 && i < n->n_in ? n->in[i] : NULL;
}
tg_tensor *tg_node_output(const tg_node *n)
{
    if (!n) {
        tg__set_last(TG_ERR_NULL, "node_output: node is NULL");
        return NULL;
    }
    return n->out;
}
bool tg_node_needs_grad(const tg_node *n, int i)
{
    if (!n) tg__set_last(TG_ERR_NULL, "node_needs_grad: node is NULL");
    if (!n || i < 0 || i >= n->n_in) return false;
    const tg_tape *tp = n->out->tape; /* a node's output is its tape's tensor */
    if (!tp->dep) return true;
    int32_t id = tg__node_in_id(n, i);
    return id >= 0 && id < tp->n_dep && tp->dep[id];
}
const void *tg_node_saved(const tg_node *n)
{
    if (!n) {
        tg__set_last(TG_ERR_NULL, "node_saved: node is NULL");
        return NULL;
    }
    return tg__node_saved(n);
}
tg_tensor *tg_node_aux(const tg_node *n, int i)
{
    if (!n) tg__set_last(TG_ERR_NULL, "node_aux: node is NULL");
    return n && i >= 0 && i < n->n_aux ? tg__node_aux(n)[i] : NULL;
}
int tg_node_num_aux(const tg_node *n)
{
    if (!n) {
        tg__set_last(TG_ERR_NULL, "node_num_aux: node is NULL");
        return 0;
    }
    return n->n_aux;
}

/* ---- explain mode ------------------------------------------------------------ */
void tg_tape_set_explain(tg_tape *tp, FILE *f, tg_explain_format fmt, int64_t small_numel)
{
    if (!tp) {
        tg__set_last(TG_ERR_NULL, "tape_set_explain: tape is NULL");
        return;
    }
    if ((unsigned)fmt > TG_EXPLAIN_JSON) {
        tg__set_last(TG_ERR_ARG,
                     "tape_set_explain: format %d is none of TG_EXPLAIN_TEXT, _MARKDOWN, _JSON",
                     (int)fmt);
        return;
    }
    tp->explain = (tg_explain){f, fmt, small_numel >= 0 ? small_numel : 0};
}

const tg_explain *tg__tape_explain(const tg_tape *tp)
{
    return tp->explain.f ? &tp->explain : NULL;
}
/* ---- error context ------------------------------------------------------------ */
/* Put prefix in front of the tape's error message (once), so an error from
 * inside a user callback says where it came from; the message is cut at
 * the buffer's end if needed. */
void tg__tape_error_prefix(tg_tape *tp, const char *prefix)
{
    if (tp->status == TG_OK) return;
    const size_t n = strlen(prefix), cap = sizeof tp->msg;
    if (n >= cap || strncmp(tp->msg, prefix, n) == 0) return;
    const size_t len = strlen(tp->msg);
    const size_t keep = len + n < cap ? len : cap - 1 - n;
    memmove(tp->msg + n, tp->msg, keep);
    memcpy(tp->msg, prefix, n);
    tp->msg[n + keep] = '\0';
}
