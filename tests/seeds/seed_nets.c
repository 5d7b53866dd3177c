/* The seed documents' formulas, by hand, against autodiff.  See seed_nets.h.
 *
 * Layout: row bookkeeping and small tape helpers first, then one section
 * per seed document.  In each section the hand computations are plain C
 * loops over double arrays (the point is to check the document's algebra,
 * not tapegrad against itself); the tape side builds the same network from
 * tapegrad ops and reads the quantity with tg_grad: on a pre-activation for
 * a delta, on a weight for a weight gradient.
 *
 * Matrices are row-major double arrays.  A layer's weights are stored
 * W[in][out] (n = o @ W) unless a section says otherwise. */
#include "seed_nets.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define AT(M, ncol, r, c) ((M)[(r) * (ncol) + (c)])

static const double k_pi = 3.14159265358979323846;

/* ======================================================================
 * Rows
 * ====================================================================== */

void sn_rows_free(sn_rows *rows)
{
    if (!rows) return;
    free(rows->v);
    free(rows->nets);
    rows->v = NULL;
    rows->nets = NULL;
    rows->n = rows->cap = 0;
    rows->n_nets = rows->cap_nets = 0;
}

const char *sn_rows_net_desc(const sn_rows *rows, int seed, const char *name)
{
    if (!rows || !name) return NULL;
    for (int i = 0; i < rows->n_nets; i++)
        if (rows->nets[i].seed == seed && strcmp(rows->nets[i].name, name) == 0)
            return rows->nets[i].desc;
    return NULL;
}

bool sn_rows_net(sn_rows *rows, int seed, const char *name, const char *desc)
{
    if (!rows || !name || !desc) return false;
    if (sn_rows_net_desc(rows, seed, name)) return true;
    if (rows->n_nets == rows->cap_nets) {
        int cap = rows->cap_nets ? 2 * rows->cap_nets : 16;
        sn_net *nv = realloc(rows->nets, (size_t)cap * sizeof *nv);
        if (!nv) return false;
        rows->nets = nv;
        rows->cap_nets = cap;
    }
    sn_net *n = &rows->nets[rows->n_nets++];
    n->seed = seed;
    snprintf(n->name, sizeof n->name, "%s", name);
    snprintf(n->desc, sizeof n->desc, "%s", desc);
    return true;
}

void sn_row_set_net(sn_row *r, const char *net)
{
    if (!r) return;
    snprintf(r->net, sizeof r->net, "%s", net ? net : "");
    if (r->n > 1)
        snprintf(r->where, sizeof r->where, "%s[%d]", r->net, r->elem);
    else
        snprintf(r->where, sizeof r->where, "%s", r->net);
}

/* One seed's run: its tape, the user-owned tensors to free at the end, and
 * a tag appended to equation labels (the loss or activation variant). */
typedef struct sn_ctx {
    tg_tape *tp;
    sn_rows *rows;
    int seed;
    const char *tag;
    const char *net; /* the network the rows are evaluated on */
    tg_tensor *owned[256];
    int n_owned;
    bool ok;
} sn_ctx;

static bool ctx_init(sn_ctx *c, sn_rows *rows, int seed)
{
    memset(c, 0, sizeof *c);
    c->rows = rows;
    c->seed = seed;
    c->tp = tg_tape_new(NULL);
    c->ok = c->tp != NULL;
    return c->ok;
}

/* Forget the tape's nodes between independent networks of one seed. */
static void ctx_reset(sn_ctx *c)
{
    if (c->tp && tg_tape_status(c->tp) != TG_OK) {
        fprintf(stderr, "seed %03d: tape error: %s\n", c->seed, tg_tape_error(c->tp));
        c->ok = false;
    }
    if (c->tp) tg_tape_reset(c->tp);
    for (int i = 0; i < c->n_owned; i++) tg_tensor_free(c->owned[i]);
    c->n_owned = 0;
    c->net = NULL;
}

static bool ctx_done(sn_ctx *c)
{
    ctx_reset(c);
    tg_tape_free(c->tp);
    c->tp = NULL;
    return c->ok;
}

static sn_row *row_new(sn_ctx *c, const char *eq, const char *what, sn_verdict v)
{
    sn_rows *rs = c->rows;
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 64;
        sn_row *nv = realloc(rs->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            c->ok = false;
            return NULL;
        }
        rs->v = nv;
        rs->cap = cap;
    }
    sn_row *r = &rs->v[rs->n++];
    memset(r, 0, sizeof *r);
    r->seed = c->seed;
    if (c->tag)
        snprintf(r->eq, sizeof r->eq, "%s [%s]", eq, c->tag);
    else
        snprintf(r->eq, sizeof r->eq, "%s", eq);
    snprintf(r->what, sizeof r->what, "%s", what);
    r->verdict = v;
    r->broken = !c->ok || (c->tp && tg_tape_status(c->tp) != TG_OK);
    return r;
}

/* The row shows element elem of n; where names it on the current network. */
static void row_at(sn_ctx *c, sn_row *r, int elem, int n)
{
    r->elem = elem;
    r->n = n;
    sn_row_set_net(r, c->net);
}

/* Name the network the next rows are evaluated on and list it once, with
 * its shape and input point (printf-style). */
static void net(sn_ctx *c, const char *name, const char *fmt, ...)
{
    char desc[sizeof((sn_net *)0)->desc];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(desc, sizeof desc, fmt, ap);
    va_end(ap);
    c->net = name;
    if (!sn_rows_net(c->rows, c->seed, name, desc)) c->ok = false;
}

/* "(v0, v1, ...)" with 3 significant digits, into buf (for net()). */
static const char *vstr(char *buf, size_t size, const double *v, int n)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%.3g", i ? ", " : "", v[i]);
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

/* The row's values are a matrix with `cols` columns: name the element
 * shown by its row and column, net[r,c]. */
static sn_row *at_rc(sn_row *r, int cols)
{
    if (r && cols > 0 && r->n > cols)
        snprintf(r->where, sizeof r->where, "%s[%d,%d]", r->net, r->elem / cols, r->elem % cols);
    return r;
}

/* The row's element is the input point x = xs[elem] (no network). */
static void at_x(sn_row *r, const double *xs)
{
    if (!r) return;
    r->net[0] = '\0';
    snprintf(r->where, sizeof r->where, "x=%.5g", xs[r->elem]);
}

/* Normwise relative error of h against a; *worst = index of the largest
 * difference.  Any NaN makes the error NaN (never a pass). */
static double rel_err(const double *h, const double *a, int n, int *worst, double *scale)
{
    double maxa = 0, maxd = -1;
    bool nan = false;
    int w = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(h[i] - a[i]);
        if (isnan(d)) nan = true;
        if (d > maxd) {
            maxd = d;
            w = i;
        }
        if (fabs(a[i]) > maxa) maxa = fabs(a[i]);
    }
    if (worst) *worst = w;
    if (scale) *scale = maxa;
    if (nan || n == 0) return NAN;
    if (maxa == 0) return maxd == 0 ? 0 : INFINITY;
    return maxd / maxa;
}

/* The formula as printed agrees with autodiff. */
static sn_row *agree(sn_ctx *c, const char *eq, const char *what, const double *hand,
                     const double *ad, int n)
{
    sn_row *r = row_new(c, eq, what, SN_AGREES);
    if (!r) return NULL;
    int w;
    r->err = rel_err(hand, ad, n, &w, &r->scale);
    r->hand = hand[w];
    r->autodiff = ad[w];
    row_at(c, r, w, n);
    return r;
}

/* The formula as printed is wrong: printed against autodiff (the size of the
 * error, which must equal `documented`), corrected against autodiff.  The
 * three values shown are at one element, where the printed formula is
 * furthest from autodiff, so that the row can be checked by hand. */
static sn_row *erratum(sn_ctx *c, const char *eq, const char *what, const double *printed,
                       const double *corrected, const double *ad, int n, double documented,
                       const char *correction)
{
    sn_row *r = row_new(c, eq, what, SN_ERRATUM);
    if (!r) return NULL;
    int wp;
    r->err = rel_err(corrected, ad, n, NULL, &r->scale);
    r->printed_err = rel_err(printed, ad, n, &wp, NULL);
    r->printed = printed[wp];
    r->hand = corrected[wp];
    r->autodiff = ad[wp];
    r->documented = documented;
    snprintf(r->correction, sizeof r->correction, "%s", correction);
    row_at(c, r, wp, n);
    return r;
}

/* The document says "approximately": measure the approximation against the
 * exact value. */
static sn_row *approx(sn_ctx *c, const char *eq, const char *what, double approx_v, double exact,
                      double documented, const char *note)
{
    sn_row *r = row_new(c, eq, what, SN_APPROX);
    if (!r) return NULL;
    row_at(c, r, 0, 1);
    r->printed = r->hand = approx_v;
    r->autodiff = exact;
    r->scale = fabs(exact);
    r->printed_err = r->err = fabs(approx_v - exact) / fabs(exact);
    r->documented = documented;
    snprintf(r->correction, sizeof r->correction, "%s", note);
    return r;
}

sn_row *sn_rows_add(sn_rows *rows, int seed, const char *eq, const char *what, sn_verdict v,
                    const double *hand, const double *printed, const double *ad, int n,
                    double documented, const char *correction)
{
    /* A context without a tape: the row is made by the same agree/erratum
     * as every row of this file (same measure, same worst element). */
    if (!rows || !hand || !ad || (v == SN_ERRATUM && !printed) || v == SN_APPROX) return NULL;
    sn_ctx c;
    memset(&c, 0, sizeof c);
    c.rows = rows;
    c.seed = seed;
    c.ok = true;
    const int before = rows->n;
    if (v == SN_ERRATUM)
        erratum(&c, eq, what, printed, hand, ad, n, documented, correction ? correction : "");
    else
        agree(&c, eq, what, hand, ad, n);
    return rows->n > before ? &rows->v[rows->n - 1] : NULL;
}

bool sn_row_holds(const sn_row *r, char *why, size_t why_size)
{
    char tmp[8];
    if (!why) {
        why = tmp;
        why_size = sizeof tmp;
    }
    why[0] = '\0';
    if (r->broken) {
        snprintf(why, why_size, "a tape op failed while computing this row");
        return false;
    }
    if (!(r->scale > 1e-12) || !isfinite(r->scale)) {
        snprintf(why, why_size, "vacuous: the reference value is %g", r->scale);
        return false;
    }
    bool doc_ok =
        r->documented > 0 && fabs(r->printed_err - r->documented) <= SN_DOC_RTOL * r->documented;
    switch (r->verdict) {
    case SN_AGREES:
        if (!(r->err <= SN_AGREE_RTOL)) {
            snprintf(why, why_size, "hand %.17g vs autodiff %.17g: rel err %.3g > %g", r->hand,
                     r->autodiff, r->err, SN_AGREE_RTOL);
            return false;
        }
        return true;
    case SN_ERRATUM:
        if (!(r->err <= SN_AGREE_RTOL)) {
            snprintf(why, why_size, "corrected form %.17g vs autodiff %.17g: rel err %.3g > %g",
                     r->hand, r->autodiff, r->err, SN_AGREE_RTOL);
            return false;
        }
        if (!(r->printed_err > SN_ERRATUM_MIN)) {
            snprintf(why, why_size, "printed form agrees (rel err %.3g): not an erratum",
                     r->printed_err);
            return false;
        }
        if (!doc_ok) {
            snprintf(why, why_size, "printed form off by %.6g, documented %.6g", r->printed_err,
                     r->documented);
            return false;
        }
        return true;
    case SN_APPROX:
        if (!doc_ok || !isfinite(r->printed_err)) {
            snprintf(why, why_size, "approximation off by %.6g, documented %.6g", r->printed_err,
                     r->documented);
            return false;
        }
        return true;
    }
    return false;
}

/* Does a token of an eq label ("17-19", "6,", "1.5") name `label`? */
static bool token_covers(const char *tok, size_t len, const char *label)
{
    char buf[40];
    if (len >= sizeof buf) return false;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    if (strcmp(buf, label) == 0) return true;
    int a, b, l, used = 0;
    if (sscanf(buf, "%d-%d%n", &a, &b, &used) == 2 && (size_t)used == len &&
        sscanf(label, "%d%n", &l, &used) == 1 && (size_t)used == strlen(label))
        return a <= l && l <= b;
    return false;
}

bool sn_rows_cover(const sn_rows *rows, int seed, const char *const *labels, char *missing,
                   size_t missing_size)
{
    for (const char *const *lab = labels; *lab; lab++) {
        bool found = false;
        for (int i = 0; i < rows->n && !found; i++) {
            if (rows->v[i].seed != seed) continue;
            /* The equation list is the comma-separated head of the label:
             * "6, 9 [sq]" names 6 and 9, "13 middle" names 13, "25-28"
             * names 25 to 28; what follows the first plain space is a note. */
            const char *s = rows->v[i].eq;
            while (*s && !found) {
                size_t len = strcspn(s, " ,");
                if (len) found = token_covers(s, len, *lab);
                s += len;
                if (s[0] != ',') break;
                s += strspn(s, ", ");
            }
        }
        if (!found) {
            if (missing) snprintf(missing, missing_size, "%s", *lab);
            return false;
        }
    }
    return true;
}

/* ======================================================================
 * Tape helpers
 * ====================================================================== */

/* A user-owned f64 matrix (rows x cols), freed with the context. */
static tg_tensor *mat(sn_ctx *c, int rows, int cols, const double *v)
{
    int64_t shape[2] = {rows, cols};
    tg_tensor *t = tg_tensor_from_f64(TG_F64, 2, shape, v);
    if (!t || c->n_owned == (int)(sizeof c->owned / sizeof c->owned[0])) {
        tg_tensor_free(t);
        c->ok = false;
        return NULL;
    }
    c->owned[c->n_owned++] = t;
    return t;
}

/* Values of t into out[n]; NaN (and the context marked failed) if t is
 * missing or has the wrong size, so the row cannot pass. */
static void rd(sn_ctx *c, tg_tensor *t, double *out, int n)
{
    if (!t || tg_tensor_numel(t) != n || tg_tensor_to_f64(t, out) != TG_OK) {
        c->ok = false;
        for (int i = 0; i < n; i++) out[i] = NAN;
    }
}

/* d y / d x (y one element) into out[n]. */
static void gr(sn_ctx *c, tg_tensor *y, tg_tensor *x, double *out, int n)
{
    tg_tensor *g = (y && x) ? tg_grad(c->tp, y, x, false) : NULL;
    rd(c, g, out, n);
}

/* Sum of column col of a 2-D tensor: a one-element y whose gradient is one
 * column of a Jacobian. */
static tg_tensor *colsum(sn_ctx *c, tg_tensor *t, int col)
{
    return tg_sum_all(c->tp, tg_slice(c->tp, t, 1, col, col + 1, 1));
}

/* Element (r, col) of a 2-D tensor as a one-element tensor. */
static tg_tensor *elem(sn_ctx *c, tg_tensor *t, int r, int col)
{
    tg_tensor *row = tg_slice(c->tp, t, 0, r, r + 1, 1);
    return tg_sum_all(c->tp, tg_slice(c->tp, row, 1, col, col + 1, 1));
}

static tg_tensor *sum(sn_ctx *c, tg_tensor *t)
{
    return tg_sum_all(c->tp, t);
}

/* ======================================================================
 * Hand helpers (plain loops)
 * ====================================================================== */

static double sg(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Fixed small values from a seeded generator (exact across machines). */
static void fill(double *v, int n, uint64_t seed, double lo, double hi)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * tg_rng_uniform(&r);
}

/* z[p][o] = b[o] + sum_i a[p][i] W[i][o]  (b may be NULL). */
static void h_linear(int P, int nin, int nout, const double *a, const double *W, const double *b,
                     double *z)
{
    for (int p = 0; p < P; p++)
        for (int o = 0; o < nout; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < nin; i++) s += AT(a, nin, p, i) * AT(W, nout, i, o);
            AT(z, nout, p, o) = s;
        }
}

static void h_sigmoid(int n, const double *z, double *o)
{
    for (int i = 0; i < n; i++) o[i] = sg(z[i]);
}

/* ======================================================================
 * Seed 000 (Tanaka 2013): 4-layer sigmoid net without bias, eqs 1-24;
 * fast dropout, eqs 25-44.
 * ====================================================================== */

enum { S0H = 3, S0I = 4, S0J = 3, S0K = 2 };

/* Eqs 1-24 for one loss (ce: cross-entropy eq 4, else squared eq 3). */
static void s0_plain(sn_ctx *c, bool ce)
{
    c->tag = ce ? "CE" : "sq";
    double oh[S0H], W1[S0H * S0I], W2[S0I * S0J], W3[S0J * S0K], t[S0K];
    fill(oh, S0H, 11, -1, 1);
    fill(W1, S0H * S0I, 12, -1.5, 1.5);
    fill(W2, S0I * S0J, 13, -1.5, 1.5);
    fill(W3, S0J * S0K, 14, -2, 2);
    fill(t, S0K, 15, 0.05, 0.95);
    char b1[96], b2[64];
    net(c, "A", "sigmoid net 3-4-3-2, no bias: input o_h = %s, target t = %s (weights seeded)",
        vstr(b1, sizeof b1, oh, S0H), vstr(b2, sizeof b2, t, S0K));

    /* Hand forward, eqs 1-2 at each layer. */
    double n_i[S0I], o_i[S0I], n_j[S0J], o_j[S0J], n_k[S0K], o_k[S0K];
    h_linear(1, S0H, S0I, oh, W1, NULL, n_i);
    h_sigmoid(S0I, n_i, o_i);
    h_linear(1, S0I, S0J, o_i, W2, NULL, n_j);
    h_sigmoid(S0J, n_j, o_j);
    h_linear(1, S0J, S0K, o_j, W3, NULL, n_k);
    h_sigmoid(S0K, n_k, o_k);

    /* The same network on the tape. */
    tg_tape *tp = c->tp;
    tg_tensor *T_oh = mat(c, 1, S0H, oh), *T_W1 = mat(c, S0H, S0I, W1),
              *T_W2 = mat(c, S0I, S0J, W2), *T_W3 = mat(c, S0J, S0K, W3), *T_t = mat(c, 1, S0K, t);
    tg_tensor *tn_i = tg_matmul(tp, T_oh, T_W1), *to_i = tg_sigmoid(tp, tn_i);
    tg_tensor *tn_j = tg_matmul(tp, to_i, T_W2), *to_j = tg_sigmoid(tp, tn_j);
    tg_tensor *tn_k = tg_matmul(tp, to_j, T_W3), *to_k = tg_sigmoid(tp, tn_k);
    tg_tensor *L = ce ? tg_bce(tp, to_k, T_t, TG_REDUCE_SUM) : tg_sse(tp, to_k, T_t);

    double a[64], h[64], pr[64];

    /* Eqs 1-2: the forward pass. */
    rd(c, to_k, a, S0K);
    agree(c, "1, 2", "o_k = f(sum_j w_jk o_j), forward", o_k, a, S0K);

    /* Eqs 3 / 4: the loss.  Printed with t_j, o_j under sum_k: the summand
     * does not depend on k, so it is K times one term; the best choice of
     * the free index j is still wrong. */
    double Lh = 0;
    for (int k = 0; k < S0K; k++)
        Lh += ce ? -(t[k] * log(o_k[k]) + (1 - t[k]) * log(1 - o_k[k]))
                 : 0.5 * (t[k] - o_k[k]) * (t[k] - o_k[k]);
    double La;
    rd(c, L, &La, 1);
    double best = NAN;
    for (int j = 0; j < S0K; j++) {
        double term = ce ? -(t[j] * log(o_k[j]) + (1 - t[j]) * log(1 - o_k[j]))
                         : 0.5 * (t[j] - o_k[j]) * (t[j] - o_k[j]);
        double v = S0K * term;
        if (isnan(best) || fabs(v - La) < fabs(best - La)) best = v;
    }
    erratum(c, ce ? "4" : "3", "loss value (printed t_j, o_j under sum_k)", &best, &Lh, &La, 1,
            ce ? 0.3585 : 0.9913, "index: t_k, o_k inside sum_k");

    /* Eq 10 / 13: dL/do_k. */
    gr(c, L, to_k, a, S0K);
    if (!ce) {
        for (int k = 0; k < S0K; k++) h[k] = o_k[k] - t[k];
        agree(c, "10", "dL/do_k = o_k - t_k", h, a, S0K);
    } else {
        for (int k = 0; k < S0K; k++) {
            pr[k] = -t[k] / o_k[k] - (1 - t[k]) / (1 - o_k[k]);
            h[k] = -t[k] / o_k[k] + (1 - t[k]) / (1 - o_k[k]);
        }
        erratum(c, "13 middle", "dL/do_k = -t/o - (1-t)/(1-o)", pr, h, a, S0K, 2.184,
                "sign: -t/o + (1-t)/(1-o)");
        for (int k = 0; k < S0K; k++) h[k] = (o_k[k] - t[k]) / (o_k[k] * (1 - o_k[k]));
        agree(c, "13 right", "dL/do_k = (o_k - t_k)/(o_k(1 - o_k))", h, a, S0K);
    }

    /* Eq 11 / 14: do_k/dn_k, printed f'(o_k): f' must be taken at n_k. */
    gr(c, sum(c, to_k), tn_k, a, S0K);
    for (int k = 0; k < S0K; k++) {
        pr[k] = sg(o_k[k]) * (1 - sg(o_k[k]));
        h[k] = o_k[k] * (1 - o_k[k]);
    }
    erratum(c, ce ? "14" : "11", "do_k/dn_k = f'(o_k) = o_k(1 - o_k)", pr, h, a, S0K, 0.5236,
            "argument: f'(n_k) = o_k(1 - o_k)");

    /* Eqs 6 and 9 / 12: the output delta. */
    double dk[S0K];
    for (int k = 0; k < S0K; k++)
        dk[k] = ce ? o_k[k] - t[k] : (o_k[k] - t[k]) * o_k[k] * (1 - o_k[k]);
    gr(c, L, tn_k, a, S0K);
    agree(c, ce ? "6, 12" : "6, 9", ce ? "delta_k = o_k - t_k" : "delta_k = (o-t) o (1-o)", dk, a,
          S0K);

    /* Eq 7: dn_k/dw_jk = o_j (every column of the Jacobian of sum_k n_k). */
    gr(c, sum(c, tn_k), T_W3, a, S0J * S0K);
    for (int j = 0; j < S0J; j++)
        for (int k = 0; k < S0K; k++) AT(h, S0K, j, k) = o_j[j];
    at_rc(agree(c, "7", "dn_k/dw_jk = o_j", h, a, S0J * S0K), S0K);

    /* Eqs 5, 8: dL/dw_jk = delta_k o_j. */
    for (int j = 0; j < S0J; j++)
        for (int k = 0; k < S0K; k++) AT(h, S0K, j, k) = dk[k] * o_j[j];
    gr(c, L, T_W3, a, S0J * S0K);
    at_rc(agree(c, "5, 8", "dL/dw_jk = delta_k o_j", h, a, S0J * S0K), S0K);

    /* Eq 16: the bracket sum_k delta_k w_jk is dL/do_j. */
    double bj[S0J], dj[S0J];
    for (int j = 0; j < S0J; j++) {
        bj[j] = 0;
        for (int k = 0; k < S0K; k++) bj[j] += dk[k] * AT(W3, S0K, j, k);
        dj[j] = bj[j] * o_j[j] * (1 - o_j[j]);
    }
    gr(c, L, to_j, a, S0J);
    agree(c, "16", "sum_k delta_k w_jk = dL/do_j", bj, a, S0J);

    /* Eqs 17, 19: the hidden delta (same form for both losses). */
    gr(c, L, tn_j, a, S0J);
    agree(c, "17, 19", "delta_j = [sum_k delta_k w_jk] o_j(1-o_j)", dj, a, S0J);

    /* Eqs 15, 18: dL/dw_ij = delta_j o_i. */
    for (int i = 0; i < S0I; i++)
        for (int j = 0; j < S0J; j++) AT(h, S0J, i, j) = dj[j] * o_i[i];
    gr(c, L, T_W2, a, S0I * S0J);
    at_rc(agree(c, "15, 18", "dL/dw_ij = delta_j o_i", h, a, S0I * S0J), S0J);

    /* Eqs 21-22, 24: one layer further down. */
    double bi[S0I], di[S0I];
    for (int i = 0; i < S0I; i++) {
        bi[i] = 0;
        for (int j = 0; j < S0J; j++) bi[i] += dj[j] * AT(W2, S0J, i, j);
        di[i] = bi[i] * o_i[i] * (1 - o_i[i]);
    }
    gr(c, L, to_i, a, S0I);
    agree(c, "21, 22", "sum_j delta_j w_ij = dL/do_i", bi, a, S0I);
    gr(c, L, tn_i, a, S0I);
    agree(c, "24", "delta_i = [sum_j delta_j w_ij] o_i(1-o_i)", di, a, S0I);

    /* Eqs 20, 23: dL/dw_hi = delta_i o_h. */
    for (int hh = 0; hh < S0H; hh++)
        for (int i = 0; i < S0I; i++) AT(h, S0I, hh, i) = di[i] * oh[hh];
    gr(c, L, T_W1, a, S0H * S0I);
    at_rc(agree(c, "20, 23", "dL/dw_hi = delta_i o_h", h, a, S0H * S0I), S0I);

    c->tag = NULL;
    ctx_reset(c);
}

/* ---- fast dropout ------------------------------------------------------ */

enum { S0DI = 3, S0DJ = 4, S0DK = 2 };
static const double k_keep = 0.8; /* p: probability that an edge is kept */

/* One fast-dropout layer by hand: eqs 26-28 and o = sigmoid(n'). */
static void h_fd_layer(int nin, int nout, double p, const double *o_in, const double *W, double *mu,
                       double *s2, double *np, double *o)
{
    for (int k = 0; k < nout; k++) {
        /* eq 27 with per-edge keep probabilities p_jk (all equal to p). */
        double m = 0, s = 0;
        for (int j = 0; j < nin; j++) {
            double pjk = p, w = AT(W, nout, j, k);
            m += pjk * w * o_in[j];
            s += pjk * (1 - pjk) * w * w * o_in[j] * o_in[j];
        }
        mu[k] = m;
        s2[k] = s;
        np[k] = m / sqrt(1 + s * k_pi / 8);
        o[k] = sg(np[k]);
    }
}

/* The same layer on the tape, from matmul, mul, square, sqrt, div, sigmoid. */
typedef struct fd_tape {
    tg_tensor *mu, *s2, *np, *o;
} fd_tape;

static fd_tape t_fd_layer(sn_ctx *c, double p, tg_tensor *o_in, tg_tensor *W)
{
    tg_tape *tp = c->tp;
    fd_tape r;
    r.mu = tg_mul_scalar(tp, tg_matmul(tp, o_in, W), p);
    r.s2 = tg_mul_scalar(tp, tg_matmul(tp, tg_square(tp, o_in), tg_square(tp, W)), p * (1 - p));
    tg_tensor *den = tg_sqrt(tp, tg_add_scalar(tp, tg_mul_scalar(tp, r.s2, k_pi / 8), 1.0));
    r.np = tg_div(tp, r.mu, den);
    r.o = tg_sigmoid(tp, r.np);
    return r;
}

double sn_dropout_closed(int J, double p, const double *w, const double *o)
{
    double mu, s2, np, out;
    h_fd_layer(J, 1, p, o, w, &mu, &s2, &np, &out);
    return out;
}

double sn_dropout_exact(int J, double p, const double *w, const double *o, double *total_prob)
{
    double e = 0, tot = 0;
    for (unsigned long m = 0; m < (1ul << J); m++) {
        double prob = 1, x = 0;
        for (int j = 0; j < J; j++) {
            if (m >> j & 1u) {
                prob *= p;
                x += w[j] * o[j];
            } else {
                prob *= 1 - p;
            }
        }
        e += prob * sg(x);
        tot += prob;
    }
    if (total_prob) *total_prob = tot;
    return e;
}

/* E[sigmoid(x)] for x ~ N(mu, s2), by the trapezoid rule on +-12 sd (the
 * integrand is smooth and the tails below 1e-30, so this is exact to
 * rounding): isolates the probit step sigmoid(x) ~ Phi(x sqrt(pi/8)). */
static double gauss_sigmoid(double mu, double s2)
{
    double sd = sqrt(s2), hstep = sd / 400, acc = 0;
    int n = 2 * 12 * 400;
    for (int i = 0; i <= n; i++) {
        double x = mu - 12 * sd + i * hstep, z = (x - mu) / sd;
        double wgt = (i == 0 || i == n) ? 0.5 : 1.0;
        acc += wgt * sg(x) * exp(-0.5 * z * z);
    }
    return acc * hstep / (sd * sqrt(2 * k_pi));
}

/* The fast-dropout network of eqs 25-44, as a row location. */
static void s0_net_b(sn_ctx *c, const double *oi, const double *t)
{
    char b1[96], b2[64];
    net(c, "B", "fast-dropout net 3-4-2, keep p = %.1f: input o_i = %s, target t = %s", k_keep,
        vstr(b1, sizeof b1, oi, S0DI), vstr(b2, sizeof b2, t, S0DK));
}

/* Eqs 26-44 for one loss. */
static void s0_dropout(sn_ctx *c, bool ce)
{
    c->tag = ce ? "CE" : "sq";
    const double p = k_keep;
    double oi[S0DI], W1[S0DI * S0DJ], W2[S0DJ * S0DK], t[S0DK];
    fill(oi, S0DI, 21, 0.1, 0.9);
    fill(W1, S0DI * S0DJ, 22, -2, 2);
    fill(W2, S0DJ * S0DK, 23, -2, 2);
    fill(t, S0DK, 24, 0.05, 0.95);
    s0_net_b(c, oi, t);

    double mu_j[S0DJ], s2_j[S0DJ], np_j[S0DJ], o_j[S0DJ];
    double mu_k[S0DK], s2_k[S0DK], np_k[S0DK], o_k[S0DK];
    h_fd_layer(S0DI, S0DJ, p, oi, W1, mu_j, s2_j, np_j, o_j);
    h_fd_layer(S0DJ, S0DK, p, o_j, W2, mu_k, s2_k, np_k, o_k);

    tg_tape *tp = c->tp;
    tg_tensor *T_oi = mat(c, 1, S0DI, oi), *T_W1 = mat(c, S0DI, S0DJ, W1),
              *T_W2 = mat(c, S0DJ, S0DK, W2), *T_t = mat(c, 1, S0DK, t);
    fd_tape hj = t_fd_layer(c, p, T_oi, T_W1);
    fd_tape ok = t_fd_layer(c, p, hj.o, T_W2);
    tg_tensor *L = ce ? tg_bce(tp, ok.o, T_t, TG_REDUCE_SUM) : tg_sse(tp, ok.o, T_t);

    double a[64], h[64], pr[64];

    if (!ce) { /* forward rows: loss independent, listed once */
        double mu2[S0DK];
        for (int k = 0; k < S0DK; k++) { /* eq 27, right form: p sum_j w_jk o_j */
            mu2[k] = 0;
            for (int j = 0; j < S0DJ; j++) mu2[k] += AT(W2, S0DK, j, k) * o_j[j];
            mu2[k] *= p;
        }
        rd(c, ok.mu, a, S0DK);
        agree(c, "27", "mu_k = sum_j p_jk w_jk o_j", mu_k, a, S0DK);
        agree(c, "27", "mu_k = p sum_j w_jk o_j", mu2, a, S0DK);
        rd(c, ok.s2, a, S0DK);
        agree(c, "28", "s_k^2 = p(1-p) sum_j w_jk^2 o_j^2", s2_k, a, S0DK);
        rd(c, ok.np, a, S0DK);
        agree(c, "26", "n'_k = mu_k / sqrt(1 + pi s_k^2/8)", np_k, a, S0DK);
        rd(c, hj.o, a, S0DJ);
        agree(c, "25-28", "hidden o_j = sigmoid(n'_j), forward", o_j, a, S0DJ);
    }

    /* Eqs 30-31 with 34-35 (squared) or 36-37 (cross entropy). */
    double dk[S0DK], tk[S0DK];
    for (int k = 0; k < S0DK; k++) {
        double D = 1 + s2_k[k] * k_pi / 8;
        double g = ce ? o_k[k] - t[k] : (o_k[k] - t[k]) * o_k[k] * (1 - o_k[k]);
        dk[k] = g / sqrt(D);
        tk[k] = g * (-k_pi / 16 * mu_k[k] / pow(D, 1.5));
    }
    gr(c, L, ok.mu, a, S0DK);
    agree(c, ce ? "30, 36" : "30, 34", "delta_k = dL/dmu_k", dk, a, S0DK);
    gr(c, L, ok.s2, a, S0DK);
    agree(c, ce ? "31, 37" : "31, 35", "tau_k = dL/ds_k^2", tk, a, S0DK);

    if (!ce) {
        /* Eq 32: dmu_k/dw_jk = p o_j;  eq 33: ds_k^2/dw_jk = 2p(1-p) w_jk o_j^2. */
        for (int j = 0; j < S0DJ; j++)
            for (int k = 0; k < S0DK; k++) AT(h, S0DK, j, k) = p * o_j[j];
        gr(c, sum(c, ok.mu), T_W2, a, S0DJ * S0DK);
        at_rc(agree(c, "32", "dmu_k/dw_jk = p o_j", h, a, S0DJ * S0DK), S0DK);
        for (int j = 0; j < S0DJ; j++)
            for (int k = 0; k < S0DK; k++)
                AT(h, S0DK, j, k) = 2 * p * (1 - p) * AT(W2, S0DK, j, k) * o_j[j] * o_j[j];
        gr(c, sum(c, ok.s2), T_W2, a, S0DJ * S0DK);
        at_rc(agree(c, "33", "ds_k^2/dw_jk = 2p(1-p) w_jk o_j^2", h, a, S0DJ * S0DK), S0DK);
    }

    /* Eq 29: dL/dw_jk = delta_k dmu/dw + tau_k ds^2/dw. */
    for (int j = 0; j < S0DJ; j++)
        for (int k = 0; k < S0DK; k++)
            AT(h, S0DK, j, k) =
                dk[k] * p * o_j[j] + tk[k] * 2 * p * (1 - p) * AT(W2, S0DK, j, k) * o_j[j] * o_j[j];
    gr(c, L, T_W2, a, S0DJ * S0DK);
    at_rc(agree(c, "29", "dL/dw_jk = delta_k p o_j + tau_k 2p(1-p)w o^2", h, a, S0DJ * S0DK), S0DK);

    if (!ce) {
        /* Eq 41, the table of partial derivatives at the hidden layer. */
        double J_mu[S0DJ * S0DK], J_s2[S0DJ * S0DK], col[S0DJ];
        for (int k = 0; k < S0DK; k++) {
            gr(c, colsum(c, ok.mu, k), hj.o, col, S0DJ);
            for (int j = 0; j < S0DJ; j++) AT(J_mu, S0DK, j, k) = col[j];
            gr(c, colsum(c, ok.s2, k), hj.o, col, S0DJ);
            for (int j = 0; j < S0DJ; j++) AT(J_s2, S0DK, j, k) = col[j];
        }
        /* Printed with w_ij, a weight of the layer below whose index i is
         * free: take the i that fits best; it is still wrong. */
        double best_mu = INFINITY, best_s2 = INFINITY, pm[S0DJ * S0DK], ps[S0DJ * S0DK];
        for (int i = 0; i < S0DI; i++) {
            double cm[S0DJ * S0DK], cs[S0DJ * S0DK];
            for (int j = 0; j < S0DJ; j++)
                for (int k = 0; k < S0DK; k++) {
                    double wij = AT(W1, S0DJ, i, j);
                    AT(cm, S0DK, j, k) = p * wij;
                    AT(cs, S0DK, j, k) = 2 * p * (1 - p) * wij * wij * o_j[j];
                }
            double em = rel_err(cm, J_mu, S0DJ * S0DK, NULL, NULL);
            double es = rel_err(cs, J_s2, S0DJ * S0DK, NULL, NULL);
            if (em < best_mu) {
                best_mu = em;
                memcpy(pm, cm, sizeof pm);
            }
            if (es < best_s2) {
                best_s2 = es;
                memcpy(ps, cs, sizeof ps);
            }
        }
        for (int j = 0; j < S0DJ; j++)
            for (int k = 0; k < S0DK; k++) AT(h, S0DK, j, k) = p * AT(W2, S0DK, j, k);
        at_rc(erratum(c, "41 a", "dmu_k/do_j = p w_ij", pm, h, J_mu, S0DJ * S0DK, 1.849,
                      "index: p w_jk"),
              S0DK);
        for (int j = 0; j < S0DJ; j++)
            for (int k = 0; k < S0DK; k++)
                AT(h, S0DK, j, k) =
                    2 * p * (1 - p) * AT(W2, S0DK, j, k) * AT(W2, S0DK, j, k) * o_j[j];
        at_rc(erratum(c, "41 b", "ds_k^2/do_j = 2p(1-p) w_ij^2 o_j", ps, h, J_s2, S0DJ * S0DK,
                      0.7129, "index: 2p(1-p) w_jk^2 o_j"),
              S0DK);
        for (int j = 0; j < S0DJ; j++) h[j] = 1 / sqrt(1 + s2_j[j] * k_pi / 8);
        gr(c, sum(c, hj.np), hj.mu, a, S0DJ);
        agree(c, "41 c", "dn'_j/dmu_j = (1 + s_j^2 pi/8)^(-1/2)", h, a, S0DJ);
        for (int j = 0; j < S0DJ; j++)
            h[j] = -k_pi / 16 * mu_j[j] / pow(1 + s2_j[j] * k_pi / 8, 1.5);
        gr(c, sum(c, hj.np), hj.s2, a, S0DJ);
        agree(c, "41 d", "dn'_j/ds_j^2 = -pi/16 mu_j (1+s^2 pi/8)^(-3/2)", h, a, S0DJ);
        for (int j = 0; j < S0DJ; j++) h[j] = o_j[j] * (1 - o_j[j]);
        gr(c, sum(c, hj.o), hj.np, a, S0DJ);
        agree(c, "41 e", "do_j/dn'_j = o_j(1 - o_j)", h, a, S0DJ);
    }

    /* Eq 44 (and the bracket of 39-40): alpha_j = dL/do_j. */
    double al[S0DJ], dj[S0DJ], tj[S0DJ];
    for (int j = 0; j < S0DJ; j++) {
        al[j] = 0;
        for (int k = 0; k < S0DK; k++) {
            double w = AT(W2, S0DK, j, k);
            al[j] += dk[k] * p * w + tk[k] * 2 * p * (1 - p) * w * w * o_j[j];
        }
        double D = 1 + s2_j[j] * k_pi / 8;
        dj[j] = al[j] * o_j[j] * (1 - o_j[j]) / sqrt(D);
        /* eq 43 as printed has no mu_j: dn'_j/ds_j^2 (eq 41) carries one. */
        pr[j] = -al[j] * k_pi / 16 * o_j[j] * (1 - o_j[j]) / pow(D, 1.5);
        tj[j] = pr[j] * mu_j[j];
    }
    gr(c, L, hj.o, a, S0DJ);
    agree(c, "39, 44", "alpha_j = sum_k {delta_k p w_jk + tau_k 2p(1-p)..}", al, a, S0DJ);
    gr(c, L, hj.mu, a, S0DJ);
    agree(c, "42", "delta_j = alpha_j o_j(1-o_j)/(1+s_j^2 pi/8)^(1/2)", dj, a, S0DJ);
    gr(c, L, hj.s2, a, S0DJ);
    erratum(c, "43", "tau_j = -alpha_j pi/16 o_j(1-o_j)/(..)^(3/2)", pr, tj, a, S0DJ, 2.426,
            "missing factor mu_j");

    /* Eq 38: dL/dw_ij = delta_j p o_i + tau_j 2p(1-p) w_ij o_i^2;
     * eq 40: the same through alpha_j and the eq 41 entries. */
    double h40[S0DI * S0DJ];
    for (int i = 0; i < S0DI; i++)
        for (int j = 0; j < S0DJ; j++) {
            double w = AT(W1, S0DJ, i, j), D = 1 + s2_j[j] * k_pi / 8;
            double dmu = p * oi[i], ds2 = 2 * p * (1 - p) * w * oi[i] * oi[i];
            AT(h, S0DJ, i, j) = dj[j] * dmu + tj[j] * ds2;
            AT(h40, S0DJ, i, j) = al[j] * o_j[j] * (1 - o_j[j]) *
                                  (dmu / sqrt(D) - k_pi / 16 * mu_j[j] / pow(D, 1.5) * ds2);
        }
    gr(c, L, T_W1, a, S0DI * S0DJ);
    at_rc(agree(c, "38", "dL/dw_ij = delta_j p o_i + tau_j 2p(1-p)w_ij o_i^2", h, a, S0DI * S0DJ),
          S0DJ);
    at_rc(agree(c, "40", "dL/dw_ij, chain through n'_j (mu_j and s_j^2)", h40, a, S0DI * S0DJ),
          S0DJ);

    c->tag = NULL;
    ctx_reset(c);
}

/* Eq 25: the closed form against the exact expectation over every mask. */
static void s0_eq25(sn_ctx *c)
{
    /* (a) the output units of the network above (J = 4 hidden inputs). */
    double oi[S0DI], W1[S0DI * S0DJ], W2[S0DJ * S0DK];
    fill(oi, S0DI, 21, 0.1, 0.9);
    fill(W1, S0DI * S0DJ, 22, -2, 2);
    fill(W2, S0DJ * S0DK, 23, -2, 2);
    double t[S0DK];
    fill(t, S0DK, 24, 0.05, 0.95);
    s0_net_b(c, oi, t);
    double mu[S0DJ], s2[S0DJ], np[S0DJ], oj[S0DJ];
    h_fd_layer(S0DI, S0DJ, k_keep, oi, W1, mu, s2, np, oj);
    const double ps[2] = {k_keep, 0.5};
    const double doc_a[2] = {1.333e-3, 1.936e-3};
    for (int ip = 0; ip < 2; ip++) {
        double worst = -1, ap = 0, ex = 0;
        int wk = 0;
        for (int k = 0; k < S0DK; k++) {
            double w[S0DJ];
            for (int j = 0; j < S0DJ; j++) w[j] = AT(W2, S0DK, j, k);
            double e = sn_dropout_exact(S0DJ, ps[ip], w, oj, NULL);
            double cf = sn_dropout_closed(S0DJ, ps[ip], w, oj);
            if (fabs(cf - e) / fabs(e) > worst) {
                worst = fabs(cf - e) / fabs(e);
                ap = cf;
                ex = e;
                wk = k;
            }
        }
        char what[100];
        snprintf(what, sizeof what, "E_z[sigmoid] ~ sigmoid(n'_k), J=4, p=%.1f", ps[ip]);
        sn_row *r = approx(c, "25", what, ap, ex, doc_a[ip], "exact E over all 2^J masks");
        if (r) row_at(c, r, wk, S0DK); /* the output unit o_k shown */
    }
    /* (b) a wider layer: the Gaussian approximation of the sum improves. */
    enum { JW = 16 };
    double w[JW], o[JW];
    fill(w, JW, 31, -1, 1);
    fill(o, JW, 32, 0.1, 0.9);
    net(c, "C",
        "one fast-dropout unit with J = 16 inputs o_j in [0.1, 0.9], w_j in [-1, 1] "
        "(seeded), p = 0.5");
    double e = sn_dropout_exact(JW, 0.5, w, o, NULL), cf = sn_dropout_closed(JW, 0.5, w, o);
    approx(c, "25", "E_z[sigmoid] ~ sigmoid(n'), J=16, p=0.5", cf, e, 7.688e-4,
           "exact E over all 2^16 masks");
    /* (c) the probit step alone: sigmoid(n') against E[sigmoid(x)], x Gaussian. */
    double mm, ss, nn, oo;
    h_fd_layer(JW, 1, 0.5, o, w, &mm, &ss, &nn, &oo);
    approx(c, "25", "probit step: sigmoid(n') ~ E_N(mu,s2)[sigmoid]", oo, gauss_sigmoid(mm, ss),
           7.497e-4, "Gaussian integral, J=16, p=0.5");
    c->net = NULL;
}

bool sn_seed000(sn_rows *rows)
{
    sn_ctx c;
    if (!ctx_init(&c, rows, 0)) return false;
    s0_plain(&c, false);
    s0_plain(&c, true);
    s0_eq25(&c);
    s0_dropout(&c, false);
    s0_dropout(&c, true);
    return ctx_done(&c);
}

/* ======================================================================
 * Seed 001 (2017): L-layer net with bias weights w_0, sigmoid, cost
 * C = sum_p sum_nL c(y, h) with c the log-likelihood of eq 12 (maximised).
 * Layers 0 (input, a^0 = x) .. L (output, h = a^L); W^l is N_l x N_{l+1}
 * (w^l_{n_l n_{l+1}}), b^l holds the bias weights w^l_{0 n_{l+1}}.
 * ====================================================================== */

enum { S1L = 3, S1N = 4, S1P = 3, S1M = S1P * S1N };

typedef struct s1_net {
    int L, P, N[S1L + 1];
    double W[S1L][S1N * S1N], b[S1L][S1N], Y[S1M];
    double z[S1L + 1][S1M], a[S1L + 1][S1M]; /* [p][n]; z[0] unused, a[0] = x */
    tg_tensor *tW[S1L], *tb[S1L], *tZ[S1L + 1], *tA[S1L + 1], *tc, *tC;
} s1_net;

/* Fixed weights and data, the hand forward pass (eq 1) and the tape. */
static void s1_build(sn_ctx *c, s1_net *n, int L, const int *N, int P, uint64_t seed)
{
    memset(n, 0, sizeof *n);
    n->L = L;
    n->P = P;
    memcpy(n->N, N, (size_t)(L + 1) * sizeof *N);
    fill(n->a[0], P * N[0], seed, -1.5, 1.5);
    for (int l = 0; l < L; l++) {
        fill(n->W[l], N[l] * N[l + 1], seed + 10 + l, -1.5, 1.5);
        fill(n->b[l], N[l + 1], seed + 20 + l, -0.5, 0.5);
    }
    for (int i = 0; i < P * N[L]; i++) /* binary labels */
        n->Y[i] = (double)((i * 7 + (int)seed) % 3 == 0);
    for (int l = 0; l < L; l++) {
        h_linear(P, N[l], N[l + 1], n->a[l], n->W[l], n->b[l], n->z[l + 1]);
        h_sigmoid(P * N[l + 1], n->z[l + 1], n->a[l + 1]);
    }
    tg_tape *tp = c->tp;
    n->tA[0] = mat(c, P, N[0], n->a[0]);
    for (int l = 0; l < L; l++) {
        n->tW[l] = mat(c, N[l], N[l + 1], n->W[l]);
        n->tb[l] = mat(c, 1, N[l + 1], n->b[l]);
        n->tZ[l + 1] = tg_add(tp, tg_matmul(tp, n->tA[l], n->tW[l]), n->tb[l]);
        n->tA[l + 1] = tg_sigmoid(tp, n->tZ[l + 1]);
    }
    /* eq 12: c = y log h + (1 - y) log(1 - h), one per (p, n_L). */
    tg_tensor *tY = mat(c, P, N[L], n->Y), *H = n->tA[L];
    n->tc = tg_add(tp, tg_mul(tp, tY, tg_log(tp, H)),
                   tg_mul(tp, tg_rsub_scalar(tp, 1.0, tY), tg_log(tp, tg_rsub_scalar(tp, 1.0, H))));
    n->tC = sum(c, n->tc); /* eq 2 */
}

/* List an s1_net as the location of the next rows. */
static void s1_net_name(sn_ctx *c, const s1_net *n, const char *name)
{
    char shape[32] = "", bx[160], by[64];
    for (int l = 0; l <= n->L; l++) {
        size_t u = strlen(shape);
        snprintf(shape + u, sizeof shape - u, "%s%d", l ? "-" : "", n->N[l]);
    }
    net(c, name, "sigmoid net %s with bias, P = %d points: x = %s (row-major), y = %s", shape, n->P,
        vstr(bx, sizeof bx, n->a[0], n->P * n->N[0]), vstr(by, sizeof by, n->Y, n->P * n->N[n->L]));
}

/* One step of eq 9's first line (eqs 7-8): d_here[p][n] =
 * fp[p][n] sum_m w[n][m] d_next[p][m]. */
static void h_back(int P, int nh, int nn, const double *fp, const double *W, const double *dn,
                   double *dh)
{
    for (int p = 0; p < P; p++)
        for (int i = 0; i < nh; i++) {
            double s = 0;
            for (int m = 0; m < nn; m++) s += AT(W, nn, i, m) * AT(dn, nn, p, m);
            AT(dh, nh, p, i) = AT(fp, nh, p, i) * s;
        }
}

/* d[l][p][n] = d c / d z^{p,l}_n for one cost term c^{p0}_{nL} (p0 >= 0),
 * or for the sum over n_L of c^p_{nL} (p0 < 0), by the recursion of eq 9
 * starting from dc/dz^L = y - h (eq 12).  sig_form: f'(z) written a(1-a)
 * (eq 13) instead of computed from z (eq 9). */
static void s1_deltas(const s1_net *n, int p0, int nL, bool sig_form, double d[][S1M])
{
    int L = n->L, P = n->P;
    for (int p = 0; p < P; p++)
        for (int m = 0; m < n->N[L]; m++) {
            double v = AT(n->Y, n->N[L], p, m) - AT(n->a[L], n->N[L], p, m);
            bool on = p0 < 0 || (p == p0 && m == nL);
            AT(d[L], n->N[L], p, m) = on ? v : 0.0;
        }
    for (int l = L - 1; l >= 1; l--) {
        double fp[S1M];
        for (int i = 0; i < P * n->N[l]; i++) {
            double zz = n->z[l][i], aa = n->a[l][i];
            fp[i] = sig_form ? aa * (1 - aa) : sg(zz) * (1 - sg(zz));
        }
        h_back(P, n->N[l], n->N[l + 1], fp, n->W[l], d[l + 1], d[l]);
    }
}

/* dC/dw^l_0 (eq 9 b) and dC/dw^l (eq 9 c) from deltas d. */
static void s1_wgrads(const s1_net *n, int l, double d[][S1M], double *gb, double *gw)
{
    int ni = n->N[l], no = n->N[l + 1];
    for (int o = 0; o < no; o++) {
        gb[o] = 0;
        for (int p = 0; p < n->P; p++) gb[o] += AT(d[l + 1], no, p, o);
        for (int i = 0; i < ni; i++) {
            double s = 0;
            for (int p = 0; p < n->P; p++) s += AT(n->a[l], ni, p, i) * AT(d[l + 1], no, p, o);
            AT(gw, no, i, o) = s;
        }
    }
}

/* Sum of row p of a 2-D tape tensor. */
static tg_tensor *rowsum(sn_ctx *c, tg_tensor *t, int p)
{
    return tg_sum_all(c->tp, tg_slice(c->tp, t, 0, p, p + 1, 1));
}

/* Appends n values to a growing pair of arrays (hand h, autodiff a). */
typedef struct acc {
    double h[2048], a[2048];
    int n;
} acc;

static void acc_add(acc *x, const double *h, const double *a, int n)
{
    for (int i = 0; i < n; i++) {
        if (x->n == 2048) { /* full: poison the row rather than drop values */
            x->h[2047] = NAN;
            return;
        }
        x->h[x->n] = h[i];
        x->a[x->n++] = a[i];
    }
}

static void s1_general(sn_ctx *c)
{
    static const int N[S1L + 1] = {3, 4, 3, 2};
    s1_net n;
    s1_build(c, &n, S1L, N, S1P, 100);
    s1_net_name(c, &n, "A");
    int L = n.L, P = n.P;
    static acc x; /* large: keep off the stack */
    double a[S1M * S1N], h[S1M * S1N];

    /* Eq 1: pre-activations of every layer. */
    x.n = 0;
    for (int l = 1; l <= L; l++) {
        rd(c, n.tZ[l], a, P * N[l]);
        acc_add(&x, n.z[l], a, P * N[l]);
    }
    agree(c, "1", "z^{l+1} = w_0 + sum_n w a^l, every layer", x.h, x.a, x.n);

    /* Eqs 2 and 12: the cost, a log-likelihood. */
    double Ch = 0, Ca;
    for (int i = 0; i < P * N[L]; i++)
        Ch += n.Y[i] * log(n.a[L][i]) + (1 - n.Y[i]) * log(1 - n.a[L][i]);
    rd(c, n.tC, &Ca, 1);
    agree(c, "2, 12", "C = sum_p sum_n y log h + (1-y) log(1-h)", &Ch, &Ca, 1);

    /* Eq 12's claim, first line of eq 13: dc/dz^L = y - h. */
    double dsum[S1L + 1][S1M];
    s1_deltas(&n, -1, 0, false, dsum);
    gr(c, n.tC, n.tZ[L], a, P * N[L]);
    at_rc(agree(c, "13 a", "dc^p_nL/dz^{p,L}_nL = y - h", dsum[L], a, P * N[L]), N[L]);

    /* Eqs 5, 6: dz/dw_0 = 1 and dz/dw = a, one data point at a time. */
    x.n = 0;
    static acc x6;
    x6.n = 0;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < P; p++) {
            tg_tensor *zp = rowsum(c, n.tZ[l + 1], p);
            double ones[S1N];
            for (int o = 0; o < N[l + 1]; o++) ones[o] = 1.0;
            gr(c, zp, n.tb[l], a, N[l + 1]);
            acc_add(&x, ones, a, N[l + 1]);
            for (int i = 0; i < N[l]; i++)
                for (int o = 0; o < N[l + 1]; o++) AT(h, N[l + 1], i, o) = AT(n.a[l], N[l], p, i);
            gr(c, zp, n.tW[l], a, N[l] * N[l + 1]);
            acc_add(&x6, h, a, N[l] * N[l + 1]);
        }
    agree(c, "5", "dz^{p,l+1}_n / dw^l_{0n} = 1", x.h, x.a, x.n);
    agree(c, "6", "dz^{p,l+1}_n / dw^l_{in} = a^{p,l}_i", x6.h, x6.a, x6.n);

    /* Eq 8: dz^{l+2}_m / dz^{l+1}_n = w^{l+1}_{nm} f'(z^{l+1}_n). */
    x.n = 0;
    for (int l = 1; l + 1 <= L; l++)
        for (int m = 0; m < N[l + 1]; m++) {
            for (int p = 0; p < P; p++)
                for (int i = 0; i < N[l]; i++) {
                    double zz = AT(n.z[l], N[l], p, i);
                    AT(h, N[l], p, i) = AT(n.W[l], N[l + 1], i, m) * sg(zz) * (1 - sg(zz));
                }
            gr(c, colsum(c, n.tZ[l + 1], m), n.tZ[l], a, P * N[l]);
            acc_add(&x, h, a, P * N[l]);
        }
    agree(c, "8", "dz^{l+2}_m/dz^{l+1}_n = w^{l+1}_nm f'(z^{l+1}_n)", x.h, x.a, x.n);

    /* Eqs 4, 7 and 9 a, one cost term c^p_nL at a time; eq 3 sums them. */
    static acc x7, x4;
    x7.n = x4.n = 0;
    double g3[S1L][S1N * S1N];
    memset(g3, 0, sizeof g3);
    for (int p = 0; p < P; p++)
        for (int m = 0; m < N[L]; m++) {
            double d[S1L + 1][S1M];
            s1_deltas(&n, p, m, false, d);
            tg_tensor *cpm = elem(c, n.tc, p, m);
            for (int l = 1; l < L; l++) {
                gr(c, cpm, n.tZ[l], a, P * N[l]);
                acc_add(&x7, d[l], a, P * N[l]);
            }
            for (int l = 0; l < L; l++) {
                double gb[S1N], gw[S1N * S1N];
                s1_wgrads(&n, l, d, gb, gw);
                for (int i = 0; i < N[l] * N[l + 1]; i++) g3[l][i] += gw[i];
                gr(c, cpm, n.tW[l], a, N[l] * N[l + 1]);
                acc_add(&x4, gw, a, N[l] * N[l + 1]);
            }
        }
    agree(c, "7, 9 a", "dc^p_nL/dz^{l+1} = f' sum w dc/dz^{l+2}, per term", x7.h, x7.a, x7.n);
    agree(c, "4", "dc^p_nL/dw^l = dc/dz^{p,l+1} a^{p,l}, per term", x4.h, x4.a, x4.n);
    x.n = 0;
    for (int l = 0; l < L; l++) {
        gr(c, n.tC, n.tW[l], a, N[l] * N[l + 1]);
        acc_add(&x, g3[l], a, N[l] * N[l + 1]);
    }
    agree(c, "3", "dC/dw = sum_p sum_nL dc^p_nL/dw", x.h, x.a, x.n);

    /* Eq 9 b, c and their sigmoid form eq 13 b-d, for every layer. */
    double dsig[S1L + 1][S1M];
    s1_deltas(&n, -1, 0, true, dsig);
    static acc xb, xw, xd, xbs, xws;
    xb.n = xw.n = xd.n = xbs.n = xws.n = 0;
    for (int l = 0; l < L; l++) {
        double gb[S1N], gw[S1N * S1N], gbs[S1N], gws[S1N * S1N];
        s1_wgrads(&n, l, dsum, gb, gw);
        s1_wgrads(&n, l, dsig, gbs, gws);
        gr(c, n.tC, n.tb[l], a, N[l + 1]);
        acc_add(&xb, gb, a, N[l + 1]);
        acc_add(&xbs, gbs, a, N[l + 1]);
        gr(c, n.tC, n.tW[l], a, N[l] * N[l + 1]);
        acc_add(&xw, gw, a, N[l] * N[l + 1]);
        acc_add(&xws, gws, a, N[l] * N[l + 1]);
        if (l >= 1) {
            gr(c, n.tC, n.tZ[l], a, P * N[l]);
            acc_add(&xd, dsig[l], a, P * N[l]);
        }
    }
    agree(c, "9 b", "dC/dw^l_0n = sum_p sum_nL dc/dz^{p,l+1}_n", xb.h, xb.a, xb.n);
    agree(c, "9 c", "dC/dw^l_in = sum_p a^{p,l}_i sum_nL dc/dz", xw.h, xw.a, xw.n);
    agree(c, "13 b", "dc/dz^{l-1} = a(1-a) sum_nl w dc/dz^l (sigmoid)", xd.h, xd.a, xd.n);
    agree(c, "13 c", "dC/dw^{l-2}_0 with sigmoid deltas", xbs.h, xbs.a, xbs.n);
    agree(c, "13 d", "dC/dw^{l-2} with sigmoid deltas", xws.h, xws.a, xws.n);

    /* Eq 10: the same system read from the last layer (l = L). */
    gr(c, n.tC, n.tZ[L - 1], a, P * N[L - 1]);
    agree(c, "10 a", "dc/dz^{L-1} = f'(z^{L-1}) sum_nL w^{L-1} dc/dz^L", dsum[L - 1], a,
          P * N[L - 1]);
    double gb[S1N], gw[S1N * S1N];
    s1_wgrads(&n, L - 2, dsum, gb, gw);
    gr(c, n.tC, n.tb[L - 2], a, N[L - 1]);
    agree(c, "10 b", "dC/dw^{L-2}_0 = sum_p sum_nL dc/dz^{L-1}", gb, a, N[L - 1]);
    gr(c, n.tC, n.tW[L - 2], a, N[L - 2] * N[L - 1]);
    at_rc(agree(c, "10 c", "dC/dw^{L-2} = sum_p a^{L-2} sum_nL dc/dz^{L-1}", gw, a,
                N[L - 2] * N[L - 1]),
          N[L - 1]);
    ctx_reset(c);
}

/* Eq 11: one output neuron, no inner sum over n_L. */
static void s1_one_output(sn_ctx *c)
{
    static const int N[S1L + 1] = {3, 4, 3, 1};
    s1_net n;
    s1_build(c, &n, S1L, N, S1P, 200);
    s1_net_name(c, &n, "B");
    int L = n.L, P = n.P;
    double d[S1L + 1][S1M], h[S1M * S1N], a[S1M * S1N];
    s1_deltas(&n, -1, 0, false, d);
    for (int p = 0; p < P; p++) /* no sum: the single output weight */
        for (int i = 0; i < N[L - 1]; i++) {
            double zz = AT(n.z[L - 1], N[L - 1], p, i);
            AT(h, N[L - 1], p, i) = sg(zz) * (1 - sg(zz)) * AT(n.W[L - 1], 1, i, 0) * d[L][p];
        }
    gr(c, n.tC, n.tZ[L - 1], a, P * N[L - 1]);
    at_rc(agree(c, "11 a", "dc^p/dz^{L-1} = f'(z^{L-1}) w^{L-1} dc^p/dz^L", h, a, P * N[L - 1]),
          N[L - 1]);
    double gb[S1N], gw[S1N * S1N];
    s1_wgrads(&n, L - 2, d, gb, gw);
    gr(c, n.tC, n.tb[L - 2], a, N[L - 1]);
    agree(c, "11 b", "dC/dw^{L-2}_0 = sum_p dc^p/dz^{L-1}", gb, a, N[L - 1]);
    gr(c, n.tC, n.tW[L - 2], a, N[L - 2] * N[L - 1]);
    at_rc(agree(c, "11 c", "dC/dw^{L-2} = sum_p a^{L-2} dc^p/dz^{L-1}", gw, a, N[L - 2] * N[L - 1]),
          N[L - 1]);
    ctx_reset(c);
}

/* Eq 14: a two-layer network (input x = a^0, hidden 1, output 2). */
static void s1_two_layer(sn_ctx *c)
{
    static const int N[3] = {3, 4, 2};
    s1_net n;
    s1_build(c, &n, 2, N, S1P, 300);
    s1_net_name(c, &n, "C");
    int P = n.P;
    enum { Q = 3, H = 4, O = 2 };
    /* First line, per cost term c^p_{n2}: printed with the sum over n_l of
     * w^1_{n1 n_l} times dc_{n2}/dz_{n2}, whose summand does not involve n_l;
     * the term depends on z^1 only through w^1_{n1 n2}. */
    double pr[S1P * O * H], h[S1P * O * H], a[S1P * O * H], col[S1P * H];
    for (int p = 0; p < P; p++)
        for (int m = 0; m < O; m++) {
            double d[S1L + 1][S1M];
            s1_deltas(&n, p, m, false, d);
            gr(c, elem(c, n.tc, p, m), n.tZ[1], col, P * H);
            for (int i = 0; i < H; i++) {
                double zz = AT(n.z[1], H, p, i), fp = sg(zz) * (1 - sg(zz));
                double rowsum_w = 0;
                for (int k = 0; k < O; k++) rowsum_w += AT(n.W[1], O, i, k);
                double dc = AT(d[2], O, p, m);
                int at = (p * O + m) * H + i;
                pr[at] = fp * rowsum_w * dc;
                h[at] = fp * AT(n.W[1], O, i, m) * dc;
                a[at] = AT(col, H, p, i);
            }
        }
    erratum(c, "14 a", "dc_n2/dz^1_n1 = f' sum_{n_l} w_{n1 n_l} dc_n2/dz_n2", pr, h, a, P * O * H,
            0.7677, "index: sum over n_2 of w_{n1 n2} dc_nL/dz_n2");
    double d[S1L + 1][S1M], gb[S1N], gw[S1N * S1N];
    s1_deltas(&n, -1, 0, false, d);
    s1_wgrads(&n, 0, d, gb, gw);
    gr(c, n.tC, n.tb[0], a, H);
    agree(c, "14 b", "dC/dw^0_0n1 = sum_p sum_n2 dc_n2/dz^1_n1", gb, a, H);
    gr(c, n.tC, n.tW[0], a, Q * H);
    at_rc(agree(c, "14 c", "dC/dw^0_qn1 = sum_p x_q sum_nL dc/dz^1", gw, a, Q * H), H);
    ctx_reset(c);
}

/* Eq 15: the 2-2-1 network, here with P = 3 data points. */
static void s1_221(sn_ctx *c)
{
    static const int N[3] = {2, 2, 1};
    s1_net n;
    s1_build(c, &n, 2, N, S1P, 400);
    s1_net_name(c, &n, "D");
    int P = n.P;
    double a[8], h[8], pr[8];
    /* hidden: a^{p,1}_{n1}; output weights v = w^1_{n1}; r^p = y^p - h^p. */
    for (int which = 0; which < 2; which++) { /* 0: bias w^0_0n1, 1: w^0_qn1 */
        int cnt = which ? 2 * 2 : 2;
        for (int at = 0; at < cnt; at++) {
            int q = which ? at / 2 : -1, n1 = which ? at % 2 : at;
            double full = 0, two = 0;
            for (int p = 0; p < P; p++) {
                double ap = AT(n.a[1], 2, p, n1), r = n.Y[p] - n.a[2][p];
                double term = (which ? AT(n.a[0], 2, p, q) : 1.0) * ap * (1 - ap) * r;
                full += term;
                if (p < 2) two += term; /* the printed sum_{p=1}^{2} */
            }
            h[at] = n.W[1][n1] * full;
            pr[at] = n.W[1][n1] * two;
        }
        gr(c, n.tC, which ? n.tW[0] : n.tb[0], a, cnt);
        if (which)
            erratum(c, "15 b", "dC/dw^0_qn1 = w^1_n1 sum_{p=1}^2 x a(1-a)(y-h)", pr, h, a, cnt,
                    0.4184, "sum over p = 1..P, not 1..2");
        else
            erratum(c, "15 a", "dC/dw^0_0n1 = w^1_n1 sum_{p=1}^2 a(1-a)(y-h)", pr, h, a, cnt,
                    0.4007, "sum over p = 1..P, not 1..2");
    }
    /* The closing remark: v (the output layer) needs no backpropagation. */
    double gv[2], gv0 = 0;
    for (int n1 = 0; n1 < 2; n1++) {
        gv[n1] = 0;
        for (int p = 0; p < P; p++) gv[n1] += AT(n.a[1], 2, p, n1) * (n.Y[p] - n.a[2][p]);
    }
    for (int p = 0; p < P; p++) gv0 += n.Y[p] - n.a[2][p];
    gr(c, n.tC, n.tW[1], a, 2);
    agree(c, "15 v", "dC/dv_n1 = sum_p a^{p,1}_n1 (y^p - h^p)", gv, a, 2);
    gr(c, n.tC, n.tb[1], a, 1);
    agree(c, "15 v", "dC/dv_0 = sum_p (y^p - h^p)", &gv0, a, 1);
    ctx_reset(c);
}

bool sn_seed001(sn_rows *rows)
{
    sn_ctx c;
    if (!ctx_init(&c, rows, 1)) return false;
    s1_general(&c);
    s1_one_output(&c);
    s1_two_layer(&c);
    s1_221(&c);
    return ctx_done(&c);
}

/* ======================================================================
 * Seed 002 (Jin 2016), MLP part: eqs 1-20 and sections 1.2-1.6.  (The CNN
 * part, eqs 21-29, is tests/seeds/test_seed002_cnn.c.)
 * The document's W^k is n^{k+1} x n^k with u^{k+1} = W^k y^k + b^k, so
 * w^k_ij joins node j of layer k to node i of layer k+1.  The hand code
 * keeps that orientation; the tape stores its transpose (u = y @ W^T + b).
 * Layers are numbered 1 (input) .. L (output); data points are rows.
 * ====================================================================== */

enum { S2L = 4, S2N = 3, S2M = 4, S2A = S2M * S2N };

typedef struct s2_net {
    int L, M, N[S2L + 1];
    bool relu;
    double scale; /* E = scale sum (t - y)^2: 1/n in eq 1, 1 in section 1.5 */
    double W[S2L][S2N * S2N], Wt[S2L][S2N * S2N], b[S2L][S2N];
    double u[S2L + 1][S2A], y[S2L + 1][S2A], fp[S2L + 1][S2A], t[S2A];
    double d[S2L + 1][S2A]; /* hand deltas, eqs 3 and 8 */
    tg_tensor *tW[S2L], *tb[S2L], *tU[S2L + 1], *tY[S2L + 1], *tE;
} s2_net;

/* The hand side: weights, forward pass (section 1.2) and deltas. */
static void s2_hand(s2_net *n, const int *N, int M, bool relu, double scale, uint64_t seed)
{
    memset(n, 0, sizeof *n);
    n->L = S2L;
    n->M = M;
    n->relu = relu;
    n->scale = scale;
    memcpy(n->N, N, sizeof n->N);
    fill(n->y[1], M * N[1], seed, -1, 1);
    fill(n->t, M * N[S2L], seed + 1, 0.1, 0.9);
    for (int k = 1; k < S2L; k++) {
        fill(n->W[k], N[k + 1] * N[k], seed + 10 + (uint64_t)k, -1.5, 1.5);
        fill(n->b[k], N[k + 1], seed + 20 + (uint64_t)k, -0.3, 0.5);
        for (int i = 0; i < N[k + 1]; i++)
            for (int j = 0; j < N[k]; j++) AT(n->Wt[k], N[k + 1], j, i) = AT(n->W[k], N[k], i, j);
    }
    /* Section 1.2: u^k = W^{k-1} y^{k-1} + b^{k-1}, y^k = phi(u^k), and
     * phi'(u^k) from y^k: y(1-y) for the sigmoid, [y > 0] for relu. */
    for (int k = 2; k <= S2L; k++) {
        for (int m = 0; m < M; m++)
            for (int i = 0; i < N[k]; i++) {
                double s = n->b[k - 1][i];
                for (int j = 0; j < N[k - 1]; j++)
                    s += AT(n->W[k - 1], N[k - 1], i, j) * AT(n->y[k - 1], N[k - 1], m, j);
                AT(n->u[k], N[k], m, i) = s;
            }
        for (int e = 0; e < M * N[k]; e++) {
            double uu = n->u[k][e], yy = relu ? (uu > 0 ? uu : 0.0) : sg(uu);
            n->y[k][e] = yy;
            n->fp[k][e] = relu ? (yy > 0 ? 1.0 : 0.0) : yy * (1 - yy);
        }
    }
    /* Eq 3 (section 1.5: the same with scale 1): delta^L = -2 scale (t - y) phi'. */
    for (int e = 0; e < M * N[S2L]; e++)
        n->d[S2L][e] = -2 * scale * (n->t[e] - n->y[S2L][e]) * n->fp[S2L][e];
    /* Eq 8: delta^k_i = sum_j delta^{k+1}_j w^k_ji phi'(u^k_i). */
    for (int k = S2L - 1; k >= 2; k--)
        for (int m = 0; m < M; m++)
            for (int i = 0; i < N[k]; i++) {
                double s = 0;
                for (int j = 0; j < N[k + 1]; j++)
                    s += AT(n->d[k + 1], N[k + 1], m, j) * AT(n->W[k], N[k], j, i);
                AT(n->d[k], N[k], m, i) = s * AT(n->fp[k], N[k], m, i);
            }
}

/* A relu net is only a fair test if some units are dead (phi' = 0) and
 * deltas still reach every layer; otherwise the checks compare zeros. */
static bool s2_relu_fair(const s2_net *n)
{
    int dead = 0;
    for (int k = 2; k < S2L; k++)
        for (int e = 0; e < n->M * n->N[k]; e++) dead += n->fp[k][e] == 0;
    for (int k = 2; k <= S2L; k++) {
        int live = 0;
        for (int e = 0; e < n->M * n->N[k]; e++) live += n->d[k][e] != 0;
        if (live == 0 || (k == S2L && live < n->M * n->N[k])) return false;
    }
    return dead > 0;
}

/* Hand side, then the same network on the tape. */
static void s2_build(sn_ctx *c, s2_net *n, const int *N, int M, bool relu, double scale,
                     uint64_t seed)
{
    s2_hand(n, N, M, relu, scale, seed);
    for (int tries = 0; relu && !s2_relu_fair(n) && tries < 100; tries++)
        s2_hand(n, N, M, relu, scale, seed += 1000);
    tg_tape *tp = c->tp;
    n->tY[1] = mat(c, M, N[1], n->y[1]);
    for (int k = 1; k < S2L; k++) {
        n->tW[k] = mat(c, N[k], N[k + 1], n->Wt[k]);
        n->tb[k] = mat(c, 1, N[k + 1], n->b[k]);
        n->tU[k + 1] = tg_add(tp, tg_matmul(tp, n->tY[k], n->tW[k]), n->tb[k]);
        n->tY[k + 1] = relu ? tg_relu(tp, n->tU[k + 1]) : tg_sigmoid(tp, n->tU[k + 1]);
    }
    tg_tensor *tt = mat(c, M, N[S2L], n->t);
    n->tE = tg_mul_scalar(tp, sum(c, tg_square(tp, tg_sub(tp, tt, n->tY[S2L]))), scale);
}

/* List an s2_net as the location of the next rows. */
static void s2_net_name(sn_ctx *c, const s2_net *n, const char *name)
{
    char by[160], bt[96];
    net(c, name, "%s net %d-%d-%d-%d with bias, M = %d: y^1 = %s, t = %s (row-major)",
        n->relu ? "relu" : "sigmoid", n->N[1], n->N[2], n->N[3], n->N[4], n->M,
        vstr(by, sizeof by, n->y[1], n->M * n->N[1]), vstr(bt, sizeof bt, n->t, n->M * n->N[S2L]));
}

/* Autodiff dE/dW^k (tape layout [in][out]) returned in the document's
 * layout [out][in]. */
static void s2_gradW(sn_ctx *c, s2_net *n, int k, double *g)
{
    double a[S2N * S2N];
    int ni = n->N[k], no = n->N[k + 1];
    gr(c, n->tE, n->tW[k], a, ni * no);
    for (int i = 0; i < no; i++)
        for (int j = 0; j < ni; j++) AT(g, ni, i, j) = AT(a, no, j, i);
}

/* Hand dE/dw^k_ij = sum_m delta^{(m)k+1}_i y^{(m)k}_j (eqs 10 and 14). */
static void s2_handW(const s2_net *n, int k, const double *dnext, double *g)
{
    int ni = n->N[k], no = n->N[k + 1];
    for (int i = 0; i < no; i++)
        for (int j = 0; j < ni; j++) {
            double s = 0;
            for (int m = 0; m < n->M; m++) s += AT(dnext, no, m, i) * AT(n->y[k], ni, m, j);
            AT(g, ni, i, j) = s;
        }
}

static const int k_s2N[S2L + 1] = {0, 2, 3, 3, 2};

/* Sections 1.2-1.4, one input vector: eqs 1-12 and the update rule. */
static void s2_single(sn_ctx *c, bool relu)
{
    c->tag = relu ? "relu" : "sigm";
    const int *N = k_s2N, L = S2L;
    static s2_net n;
    /* Eq 1 with its n read as the number of output nodes (section 1.4 uses
     * i, j as node indices); see s2_batch_reading for the other reading. */
    s2_build(c, &n, N, 1, relu, 1.0 / N[L], relu ? 77 : 50);
    s2_net_name(c, &n, relu ? "B" : "A");
    static acc x;
    double a[S2A * S2N], h[S2A * S2N];

    x.n = 0;
    for (int k = 2; k <= L; k++) {
        rd(c, n.tY[k], a, N[k]);
        acc_add(&x, n.y[k], a, N[k]);
    }
    agree(c, "1.2", "y^k = phi(W^{k-1} y^{k-1} + b^{k-1}), forward", x.h, x.a, x.n);
    x.n = 0;
    for (int k = 2; k <= L; k++) {
        gr(c, sum(c, n.tY[k]), n.tU[k], a, N[k]);
        acc_add(&x, n.fp[k], a, N[k]);
    }
    agree(c, "1.2", relu ? "phi'(u^k) = y^k > 0" : "phi'(u^k) = y^k (1 - y^k)", x.h, x.a, x.n);

    double Eh = 0, Ea;
    for (int i = 0; i < N[L]; i++) Eh += (n.t[i] - n.y[L][i]) * (n.t[i] - n.y[L][i]);
    Eh /= N[L];
    rd(c, n.tE, &Ea, 1);
    agree(c, "1", "E = 1/n sum_i (t_i - y^L_i)^2", &Eh, &Ea, 1);
    if (!relu) { /* the library's mean squared error is the same loss */
        tg_tensor *tt = mat(c, 1, N[L], n.t);
        rd(c, tg_mse(c->tp, n.tY[L], tt), &Ea, 1);
        agree(c, "1", "E = 1/n sum_i (t_i - y^L_i)^2 vs tg_mse", &Eh, &Ea, 1);
    }

    gr(c, n.tE, n.tU[L], a, N[L]);
    agree(c, "2, 3", "delta^L_j = -2/n (t_j - y^L_j) phi'(u^L_j)", n.d[L], a, N[L]);

    s2_gradW(c, &n, L - 1, a);
    s2_handW(&n, L - 1, n.d[L], h);
    at_rc(agree(c, "4, 5", "dE/dw^{L-1}_ij = delta^L_i y^{L-1}_j", h, a, N[L] * N[L - 1]),
          N[L - 1]);

    gr(c, n.tE, n.tU[2], a, N[2]);
    agree(c, "6-8", "delta^k_i = sum_j delta^{k+1}_j w^k_ji phi'(u^k_i)", n.d[2], a, N[2]);
    gr(c, n.tE, n.tU[L - 1], a, N[L - 1]);
    agree(c, "6-8", "delta^k at k = L-1 (the text says k < L-1)", n.d[L - 1], a, N[L - 1]);

    /* The matrix form, written as its own loops: W^T first, then times. */
    x.n = 0;
    for (int k = 2; k < L; k++) {
        double WT[S2N * S2N], v[S2N];
        for (int i = 0; i < N[k + 1]; i++)
            for (int j = 0; j < N[k]; j++) AT(WT, N[k + 1], j, i) = AT(n.W[k], N[k], i, j);
        for (int j = 0; j < N[k]; j++) {
            v[j] = 0;
            for (int i = 0; i < N[k + 1]; i++) v[j] += AT(WT, N[k + 1], j, i) * n.d[k + 1][i];
            v[j] *= n.fp[k][j];
        }
        gr(c, n.tE, n.tU[k], a, N[k]);
        acc_add(&x, v, a, N[k]);
    }
    agree(c, "8", "delta^k = (W^kT delta^{k+1}) * phi'(u^k)", x.h, x.a, x.n);

    static acc xb, xu, xub;
    x.n = xb.n = xu.n = xub.n = 0;
    const double lr = 0.1; /* the document's Delta w and Delta b */
    for (int k = 1; k < L; k++) {
        double g[S2N * S2N], gh[S2N * S2N], du[S2N * S2N], dua[S2N * S2N];
        s2_gradW(c, &n, k, g);
        s2_handW(&n, k, n.d[k + 1], gh);
        acc_add(&x, gh, g, N[k + 1] * N[k]);
        /* W^k <= W^k - delta^{k+1} y^kT Delta w: the change made. */
        for (int e = 0; e < N[k + 1] * N[k]; e++) {
            du[e] = -(n.d[k + 1][e / N[k]] * n.y[k][e % N[k]]) * lr;
            dua[e] = -g[e] * lr;
        }
        acc_add(&xu, du, dua, N[k + 1] * N[k]);
        gr(c, n.tE, n.tb[k], a, N[k + 1]);
        acc_add(&xb, n.d[k + 1], a, N[k + 1]);
        for (int i = 0; i < N[k + 1]; i++) {
            du[i] = -n.d[k + 1][i] * lr;
            dua[i] = -a[i] * lr;
        }
        acc_add(&xub, du, dua, N[k + 1]);
    }
    agree(c, "9, 10", "dE/dw^k_ij = delta^{k+1}_i y^k_j, every layer", x.h, x.a, x.n);
    agree(c, "11, 12", "dE/db^k_i = delta^{k+1}_i, every layer", xb.h, xb.a, xb.n);
    agree(c, "1.4 update", "W^k <= W^k - delta^{k+1} y^kT Delta w (step)", xu.h, xu.a, xu.n);
    agree(c, "1.4 update", "b^k <= b^k - delta^{k+1} Delta b (step)", xub.h, xub.a, xub.n);

    if (!relu) {
        /* Section 1.1 names w^i_kj the weight between node k of layer i and
         * node j of layer i+1: the transpose of what eqs 8-10 and
         * u = W y use.  On the square W^2, eq 10 laid out that way: */
        double g[S2N * S2N], gh[S2N * S2N], gp[S2N * S2N];
        s2_gradW(c, &n, 2, g);
        s2_handW(&n, 2, n.d[3], gh);
        for (int r = 0; r < 3; r++)
            for (int q = 0; q < 3; q++) AT(gp, 3, r, q) = n.d[3][q] * n.y[2][r];
        at_rc(erratum(c, "1.1", "w^i_kj: k in layer i, j in layer i+1 (eq 10)", gp, gh, g, 9,
                      0.8400, "w^i_kj: k in layer i+1, j in layer i"),
              3);
    }
    c->tag = NULL;
    ctx_reset(c);
}

/* Eq 3 in section 1.3's own reading: one output node, n training data, the
 * prediction for data point j is y_j. */
static void s2_batch_reading(sn_ctx *c)
{
    static const int N[S2L + 1] = {0, 2, 3, 3, 1};
    static s2_net n;
    s2_build(c, &n, N, S2M, false, 1.0 / S2M, 60);
    s2_net_name(c, &n, "C");
    double a[S2M];
    gr(c, n.tE, n.tU[S2L], a, S2M);
    agree(c, "1, 3", "delta^L_j = -2/n (t_j - y_j) phi', n data points", n.d[S2L], a, S2M);
    ctx_reset(c);
}

/* Section 1.5: M inputs at once, E without the 1/n. */
static void s2_multi(sn_ctx *c, bool relu)
{
    c->tag = relu ? "relu" : "sigm";
    const int *N = k_s2N, L = S2L, M = S2M;
    static s2_net n;
    s2_build(c, &n, N, M, relu, 1.0, relu ? 91 : 90);
    s2_net_name(c, &n, relu ? "E" : "D");
    static acc x;
    double a[S2A * S2N], h[S2A * S2N], pr[S2A];

    x.n = 0;
    for (int k = 2; k <= L; k++) {
        rd(c, n.tU[k], a, M * N[k]);
        acc_add(&x, n.u[k], a, M * N[k]);
    }
    agree(c, "1.5 fwd", "u^(m)k = W^{k-1} y^(m)k-1 + b^{k-1}, all m", x.h, x.a, x.n);

    double Eh = 0, Ea, Em = 0;
    for (int e = 0; e < M * N[L]; e++) Eh += (n.t[e] - n.y[L][e]) * (n.t[e] - n.y[L][e]);
    rd(c, n.tE, &Ea, 1);
    agree(c, "1.5 E", "E = sum_m sum_i (t^(m)_i - y^(m)L_i)^2", &Eh, &Ea, 1);
    /* Printed E = [1 ... 1](T - Y)^T (T - Y): a 1 x M row, whose entries sum
     * to |sum_m (t^(m) - y^(m))|^2, cross terms included.  The sum of
     * squares is the trace of (T - Y)^T (T - Y). */
    double G[S2M * S2M];
    for (int m1 = 0; m1 < M; m1++)
        for (int m2 = 0; m2 < M; m2++) {
            double s = 0;
            for (int i = 0; i < N[L]; i++)
                s += (AT(n.t, N[L], m1, i) - AT(n.y[L], N[L], m1, i)) *
                     (AT(n.t, N[L], m2, i) - AT(n.y[L], N[L], m2, i));
            AT(G, M, m1, m2) = s;
        }
    double ones_G_ones = 0, trace = 0;
    for (int m1 = 0; m1 < M; m1++) {
        trace += AT(G, M, m1, m1);
        for (int m2 = 0; m2 < M; m2++) ones_G_ones += AT(G, M, m1, m2);
    }
    Em = trace;
    (void)pr;
    erratum(c, "1.5 E", "E = [1 ... 1](T - Y)^T (T - Y), entries summed", &ones_G_ones, &Em, &Ea, 1,
            relu ? 1.986 : 1.390, "E = trace((T - Y)^T (T - Y))");

    gr(c, n.tE, n.tU[L], a, M * N[L]);
    at_rc(agree(c, "1.5 Delta^L", "delta^(i)L = -2(t - y) . phi'(u), Delta^L", n.d[L], a, M * N[L]),
          N[L]);

    x.n = 0;
    static acc xb;
    xb.n = 0;
    for (int k = 1; k < L; k++) {
        double g[S2N * S2N];
        s2_gradW(c, &n, k, g);
        s2_handW(&n, k, n.d[k + 1], h);
        acc_add(&x, h, g, N[k + 1] * N[k]);
        double gb[S2N];
        for (int i = 0; i < N[k + 1]; i++) {
            gb[i] = 0;
            for (int m = 0; m < M; m++) gb[i] += AT(n.d[k + 1], N[k + 1], m, i);
        }
        gr(c, n.tE, n.tb[k], a, N[k + 1]);
        acc_add(&xb, gb, a, N[k + 1]);
    }
    agree(c, "13, 14", "dE/dw^k_ij = sum_m delta^(m)k+1_i y^(m)k_j", x.h, x.a, x.n);
    agree(c, "1.5 bias", "dE/db^k_i = sum_m delta^(m)k+1_i (implied)", xb.h, xb.a, xb.n);

    /* dE/dW = Delta^k Y^kT as printed, on the square W^2 where it can be
     * formed: Delta^2 Y^2T; the right one is Delta^3 Y^2T. */
    double g[S2N * S2N], pw[S2N * S2N];
    s2_gradW(c, &n, 2, g);
    s2_handW(&n, 2, n.d[3], h);
    s2_handW(&n, 2, n.d[2], pw);
    at_rc(erratum(c, "1.5 dE/dW", "dE/dW = Delta^k Y^kT", pw, h, g, 9, relu ? 0.5977 : 0.9099,
                  "dE/dW^k = Delta^{k+1} Y^kT"),
          3);
    c->tag = NULL;
    ctx_reset(c);
}

/* Section 1.6: softmax with cross entropy, eqs 15-20. */
enum { S2K = 4, S2S = 3 };
static void s2_softmax(sn_ctx *c)
{
    const int K = S2K, NS = S2S;
    double X[S2S * S2K], T[S2S * S2K], Tu[S2S * S2K], Y[S2S * S2K];
    fill(X, NS * K, 70, -2, 2);
    for (int m = 0; m < NS; m++) /* one-hot targets */
        for (int i = 0; i < K; i++) AT(T, K, m, i) = (i == (m * 3 + 1) % K) ? 1.0 : 0.0;
    fill(Tu, NS * K, 71, 0.05, 0.6); /* targets that do not sum to 1 */
    char bx[200];
    net(c, "F", "softmax of 3 rows of 4 logits x = %s, one-hot targets",
        vstr(bx, sizeof bx, X, NS * K));
    for (int m = 0; m < NS; m++) {
        double mx = AT(X, K, m, 0), s = 0;
        for (int i = 1; i < K; i++) mx = fmax(mx, AT(X, K, m, i));
        for (int i = 0; i < K; i++) s += exp(AT(X, K, m, i) - mx);
        for (int i = 0; i < K; i++) AT(Y, K, m, i) = exp(AT(X, K, m, i) - mx) / s;
    }
    tg_tape *tp = c->tp;
    tg_tensor *tX = mat(c, NS, K, X), *tT = mat(c, NS, K, T), *tTu = mat(c, NS, K, Tu);
    tg_tensor *tY = tg_softmax(tp, tX, 1);
    /* E = sum_m E^(m), E^(m) = -sum_i t_i ln y_i, from ops as printed. */
    tg_tensor *Erow = tg_neg(tp, tg_sum(tp, tg_mul(tp, tT, tg_log(tp, tY)), 1, (int[]){1}, false));
    tg_tensor *E = sum(c, Erow);
    tg_tensor *Eu = tg_neg(tp, sum(c, tg_mul(tp, tTu, tg_log(tp, tY))));
    double a[S2S * S2K], h[S2S * S2K], pr[S2S * S2K], Eh = 0, Ea;

    rd(c, tY, a, NS * K);
    at_rc(agree(c, "1.6", "y_k = exp(x_k) / sum_i exp(x_i)", Y, a, NS * K), K);
    for (int e = 0; e < NS * K; e++) Eh -= T[e] * log(Y[e]);
    rd(c, E, &Ea, 1);
    agree(c, "1.6", "E = sum_i E^(i), E^(i) = -sum_k t_k ln y_k", &Eh, &Ea, 1);
    rd(c, tg_softmax_cross_entropy(tp, tX, tT, TG_REDUCE_SUM), &Ea, 1);
    agree(c, "1.6", "E vs tg_softmax_cross_entropy", &Eh, &Ea, 1);

    /* Eq 16's two factors. */
    for (int e = 0; e < NS * K; e++) h[e] = -T[e] / Y[e];
    gr(c, E, tY, a, NS * K);
    /* dE/dy_j at t_j = 0 is 0; compare only where it is defined and nonzero:
     * the hand form is -t_j/y_j everywhere. */
    at_rc(agree(c, "16", "dE^(m)/dy_j = -t_j / y_j", h, a, NS * K), K);
    static acc x;
    x.n = 0;
    for (int j = 0; j < K; j++) {
        double col[S2S * S2K];
        for (int m = 0; m < NS; m++)
            for (int i = 0; i < K; i++)
                AT(h, K, m, i) = AT(Y, K, m, j) * ((i == j) - AT(Y, K, m, i));
        gr(c, colsum(c, tY, j), tX, col, NS * K);
        acc_add(&x, h, col, NS * K);
    }
    agree(c, "16", "dy_j/dx_i = y_j (1[i=j] - y_i)", x.h, x.a, x.n);

    /* Eqs 15-20 against dE/dx. */
    double g[S2S * S2K], gu[S2S * S2K];
    gr(c, E, tX, g, NS * K);
    gr(c, Eu, tX, gu, NS * K);
    double h19u[S2S * S2K];
    for (int pass = 0; pass < 6; pass++) {
        for (int m = 0; m < NS; m++)
            for (int i = 0; i < K; i++) {
                double ti = AT(T, K, m, i), yi = AT(Y, K, m, i), v = 0, sumt = 0;
                for (int j = 0; j < K; j++) sumt += AT(T, K, m, j);
                switch (pass) {
                case 0: /* eq 16: sum_j dE/dy_j dy_j/dx_i */
                    for (int j = 0; j < K; j++) {
                        double tj = AT(T, K, m, j), yj = AT(Y, K, m, j);
                        v += (-tj / yj) * yj * ((i == j) - yi);
                    }
                    break;
                case 1: /* eq 17 as printed: sum from j = i to K */
                case 2: /* eq 17 corrected: sum over j != i */
                    v = -ti / yi * (yi - yi * yi);
                    for (int j = 0; j < K; j++) {
                        bool in = pass == 1 ? j >= i : j != i;
                        if (in) v += AT(T, K, m, j) / AT(Y, K, m, j) * AT(Y, K, m, j) * yi;
                    }
                    break;
                case 3: /* eq 18 */
                    v = -ti * (1 - yi);
                    for (int j = 0; j < K; j++)
                        if (j != i) v += AT(T, K, m, j) * yi;
                    break;
                case 4: /* eq 19 */
                    v = -ti + sumt * yi;
                    /* and with targets that do not sum to 1 */
                    {
                        double su = 0;
                        for (int j = 0; j < K; j++) su += AT(Tu, K, m, j);
                        AT(h19u, K, m, i) = -AT(Tu, K, m, i) + su * yi;
                    }
                    break;
                case 5: /* eq 20 (t one-hot) */
                    v = -ti + yi;
                    break;
                }
                if (pass == 1)
                    AT(pr, K, m, i) = v;
                else
                    AT(h, K, m, i) = v;
            }
        switch (pass) {
        case 0:
            at_rc(agree(c, "15, 16", "dE/dx^(m)_i = sum_j dE^(m)/dy_j dy_j/dx_i", h, g, NS * K), K);
            break;
        case 2:
            at_rc(erratum(c, "17", "-t_i/y_i (y_i - y_i^2) + sum_{j=i}^K t_j y_i", pr, h, g, NS * K,
                          0.8362, "sum over j != i"),
                  K);
            break;
        case 3:
            at_rc(agree(c, "18", "-t_i (1 - y_i) + sum_{j!=i} t_j y_i", h, g, NS * K), K);
            break;
        case 4:
            at_rc(agree(c, "19", "-t_i + sum_j t_j y_i", h, g, NS * K), K);
            at_rc(agree(c, "19", "-t_i + sum_j t_j y_i, t not summing to 1", h19u, gu, NS * K), K);
            break;
        case 5:
            at_rc(agree(c, "20", "dE/dx_i = y_i - t_i (t one-hot)", h, g, NS * K), K);
            break;
        }
    }
    ctx_reset(c);
}

bool sn_seed002(sn_rows *rows)
{
    sn_ctx c;
    if (!ctx_init(&c, rows, 2)) return false;
    s2_single(&c, false);
    s2_single(&c, true);
    s2_batch_reading(&c);
    s2_multi(&c, false);
    s2_multi(&c, true);
    s2_softmax(&c);
    return ctx_done(&c);
}

/* ======================================================================
 * Seed 003 (Knight 2017): the sigmoid derivative line by line (eq 1), the
 * worked example (eqs 2-3), partial derivatives (eqs 4-5), the hidden
 * delta (eqs 6-7), the chain rule and the squared-error derivative (eq 8).
 * The document's delta is y - y_hat times sigma': minus dE/dx for
 * E = 1/2 (y - y_hat)^2, so deltas are compared with -tg_grad.
 * ====================================================================== */

/* A 1 x n tensor from n values. */
static tg_tensor *vec(sn_ctx *c, int n, const double *v)
{
    return mat(c, 1, n, v);
}

static void s3_sigmoid_lines(sn_ctx *c)
{
    enum { NX = 5 };
    const double xs[NX] = {-2.5, -1.28, 0.0, 0.7, 3.1};
    tg_tensor *tx = vec(c, NX, xs);
    double a[NX], h[NX], pr[NX];
    gr(c, sum(c, tg_sigmoid(c->tp, tx)), tx, a, NX);
    for (int line = 3; line <= 10; line++) {
        for (int i = 0; i < NX; i++) {
            double e = exp(-xs[i]), q = 1 + e;
            switch (line) {
            case 3: /* (-1)(1+e^-x)^-2 d/dx(1+e^-x), the inner derivative -e^-x */
                h[i] = -1 / (q * q) * (-e);
                break;
            case 4: /* as printed: (-1)(1+e^-x)^-2 (e^-x) */
                pr[i] = -1 / (q * q) * e;
                h[i] = -1 / (q * q) * (-e);
                break;
            case 5:
                h[i] = -pow(q, -2) * (-e);
                break;
            case 6:
                h[i] = e / (q * q);
                break;
            case 7:
                h[i] = 1 / q * (e / q);
                break;
            case 8:
                h[i] = 1 / q * ((q - 1) / q);
                break;
            case 9:
                h[i] = 1 / q * (1 - 1 / q);
                break;
            case 10:
                h[i] = sg(xs[i]) * (1 - sg(xs[i]));
                break;
            }
        }
        char eq[16], what[100];
        snprintf(eq, sizeof eq, "1 line %d", line);
        static const char *const txt[] = {
            "(-1)(1+e^-x)^-2 d/dx(1+e^-x)",  "(-1)(1+e^-x)^-2 (e^-x)",
            "-(1+e^-x)^-2 (-e^-x)",          "e^-x / (1+e^-x)^2",
            "1/(1+e^-x) * e^-x/(1+e^-x)",    "1/(1+e^-x) * ((1+e^-x)-1)/(1+e^-x)",
            "1/(1+e^-x) * (1 - 1/(1+e^-x))", "sigma(x) (1 - sigma(x))"};
        snprintf(what, sizeof what, "d sigma/dx = %s", txt[line - 3]);
        if (line == 4)
            at_x(erratum(c, eq, what, pr, h, a, NX, 2.0, "sign: d/dx(1+e^-x) = -e^-x"), xs);
        else
            at_x(agree(c, eq, what, h, a, NX), xs);
    }
    ctx_reset(c);
}

static void s3_worked_example(sn_ctx *c)
{
    tg_tape *tp = c->tp;
    const double y = 1.0, yhat = 0.21, x = -1.28;
    double a, h, pr;

    /* Eq 2: "E = 0.79" is the residual y - y_hat; the error of eq 8 is
     * 1/2 (y - y_hat)^2. */
    double one = y, yh = yhat;
    rd(c, tg_sse(tp, vec(c, 1, &yh), vec(c, 1, &one)), &a, 1);
    pr = 0.79;
    h = 0.5 * (y - yhat) * (y - yhat);
    sn_row *r = erratum(c, "2", "E = 0.79 for y = 1, y_hat = 0.21", &pr, &h, &a, 1, 1.532,
                        "E = 1/2 (y - y_hat)^2 = 0.312");
    if (r) snprintf(r->where, sizeof r->where, "y_hat=0.21");

    /* Eq 3: sigma(-1.28) is 0.2176, not 0.21. */
    tg_tensor *tx = vec(c, 1, &x);
    tg_tensor *sx = tg_sigmoid(tp, tx);
    rd(c, sx, &a, 1);
    pr = yhat;
    h = sg(x);
    at_x(erratum(c, "3", "sigma(-1.28) = y_hat = 0.21", &pr, &h, &a, 1, 3.471e-2,
                 "sigma(-1.28) = 0.21755"),
         &x);

    /* Eq 3: delta = (y - y_hat) sigma'(x) = 0.131 at x = -1.28 with
     * y_hat = sigma(x); the 0.131 comes from the rounded 0.21. */
    tg_tensor *E = tg_sse(tp, sx, vec(c, 1, &one));
    gr(c, E, tx, &a, 1);
    a = -a;
    pr = 0.131;
    h = (y - sg(x)) * sg(x) * (1 - sg(x));
    at_x(erratum(c, "3", "delta = (y - y_hat) sigma(x)(1 - sigma(x)) = 0.131", &pr, &h, &a, 1,
                 1.644e-2,
                 "(y - sigma(x)) sigma(x)(1 - sigma(x)) at x = -1.28, y = 1 (0.131 used the "
                 "rounded 0.21)"),
         &x);

    /* ... and where y_hat really is 0.21, x = ln(0.21/0.79), the
     * document's arithmetic (0.79)(0.21)(0.79) is the delta. */
    double x21 = log(0.21 / 0.79);
    tg_tensor *tx21 = vec(c, 1, &x21);
    gr(c, tg_sse(tp, tg_sigmoid(tp, tx21), vec(c, 1, &one)), tx21, &a, 1);
    a = -a;
    h = (1 - 0.21) * 0.21 * (1 - 0.21);
    at_x(agree(c, "3", "(0.79)(0.21)(0.79) at x = logit(0.21)", &h, &a, 1), &x21);
    ctx_reset(c);
}

static void s3_partials(sn_ctx *c)
{
    tg_tape *tp = c->tp;
    enum { NV = 3 };
    const double xv[NV] = {0.5, -1.25, 2.0}, yv[NV] = {1.5, 0.75, -0.5};
    net(c, "P", "f = x^2 + xy + y^2 at the points (x, y) = (0.5, 1.5), (-1.25, 0.75), (2, -0.5)");
    tg_tensor *tx = vec(c, NV, xv), *ty = vec(c, NV, yv);
    tg_tensor *f =
        sum(c, tg_add(tp, tg_add(tp, tg_square(tp, tx), tg_mul(tp, tx, ty)), tg_square(tp, ty)));
    double a[NV], h[NV];
    for (int i = 0; i < NV; i++) h[i] = 2 * xv[i] + yv[i];
    gr(c, f, tx, a, NV);
    agree(c, "4", "df/dx (x^2 + xy + y^2) = 2x + y", h, a, NV);
    for (int i = 0; i < NV; i++) h[i] = xv[i] + 2 * yv[i];
    gr(c, f, ty, a, NV);
    agree(c, "5", "df/dy (x^2 + xy + y^2) = x + 2y", h, a, NV);

    /* h1 = x1 W^h1_x1 + x2 W^h1_x2 (and h2): dh/dx are the weights. */
    const double xin[2] = {0.3, -0.8}, W[4] = {0.7, -1.1, 0.4, 0.9}; /* W[i][h] = W^h_xi */
    net(c, "Q", "h = x W, x = (0.3, -0.8), W = ((0.7, -1.1), (0.4, 0.9)); [i] = (k, i) row-major");
    tg_tensor *tX = vec(c, 2, xin), *tW = mat(c, 2, 2, W);
    tg_tensor *hh = tg_matmul(tp, tX, tW);
    double jac[4], hj[4], col[2];
    for (int k = 0; k < 2; k++) {
        gr(c, elem(c, hh, 0, k), tX, col, 2);
        for (int i = 0; i < 2; i++) {
            jac[k * 2 + i] = col[i];
            hj[k * 2 + i] = AT(W, 2, i, k);
        }
    }
    agree(c, "4-5 (h1, h2)", "dh_k/dx_i = W^hk_xi", hj, jac, 4);
    ctx_reset(c);
}

/* Eqs 6-7, the chain rule and eq 8 on small sigmoid networks. */
static void s3_backprop(sn_ctx *c)
{
    tg_tape *tp = c->tp;
    /* Eq 6: x (2) -> hidden net inputs h (2), sigmoid -> output (1). */
    const double x[2] = {0.6, -0.4}, W1[4] = {0.8, -0.5, 0.3, 1.2}, W2[2] = {1.1, -0.7};
    const double y = 1.0;
    net(c, "N6", "sigmoid net 2-2-1, no bias: x = (0.6, -0.4), y = 1");
    double ah[2], sh[2], zo = 0;
    h_linear(1, 2, 2, x, W1, NULL, ah);
    h_sigmoid(2, ah, sh);
    for (int j = 0; j < 2; j++) zo += sh[j] * W2[j];
    double yhat = sg(zo), d_o = -(y - yhat) * yhat * (1 - yhat);
    tg_tensor *tah = tg_matmul(tp, vec(c, 2, x), mat(c, 2, 2, W1));
    tg_tensor *tzo = tg_matmul(tp, tg_sigmoid(tp, tah), mat(c, 2, 1, W2));
    tg_tensor *tyh = tg_sigmoid(tp, tzo);
    tg_tensor *E = tg_sse(tp, tyh, vec(c, 1, &y));
    double a[4], h[4], pr[4];
    gr(c, E, tzo, a, 1);
    agree(c, "dE/dz_j", "dE/dz_j = dE/dy_j dy_j/dz_j = -(y - y_hat) y_hat(1-y_hat)", &d_o, a, 1);
    for (int j = 0; j < 2; j++) h[j] = W2[j] * d_o * sg(ah[j]) * (1 - sg(ah[j]));
    gr(c, E, tah, a, 2);
    agree(c, "6", "delta^h = W^h_j delta^o f'(h)", h, a, 2);

    /* Eq 7: g (3 inputs) -> net inputs p_i = sum_j v_ij g_j -> h_i =
     * sigma(p_i) -> E = 1/2 sum_i (t_i - h_i)^2. */
    const double g[3] = {0.2, -0.9, 0.5}, V[6] = {0.4, -1.3, 0.9, 0.2, -0.6, 1.5}; /* [j][i] */
    const double t[2] = {0.1, 0.8};
    net(c, "N7", "sigmoid layer 3-2: g = (0.2, -0.9, 0.5), t = (0.1, 0.8)");
    double p[2], hi[2];
    h_linear(1, 3, 2, g, V, NULL, p);
    h_sigmoid(2, p, hi);
    tg_tensor *tg = vec(c, 3, g);
    tg_tensor *tpi = tg_matmul(tp, tg, mat(c, 3, 2, V));
    tg_tensor *E7 = tg_sse(tp, tg_sigmoid(tp, tpi), vec(c, 2, t));
    for (int j = 0; j < 3; j++) {
        h[j] = pr[j] = 0;
        for (int i = 0; i < 2; i++) {
            double sp = hi[i] * (1 - hi[i]), dE_dout = hi[i] - t[i], dE_dnet = dE_dout * sp;
            h[j] += sp * AT(V, 2, j, i) * dE_dout;  /* h_i: the unit's output */
            pr[j] += sp * AT(V, 2, j, i) * dE_dnet; /* h_i: its net input, as in eq 6 */
        }
    }
    gr(c, E7, tg, a, 3);
    agree(c, "7", "dE/dg_j = sum_i sigma'(h_i) v_ij dE/dh_i, h_i output", h, a, 3);
    erratum(c, "7", "the same with h_i the net input (as above eq 6)", pr, h, a, 3, 0.7654,
            "dE/dh_i w.r.t. the unit's output");

    /* The chain rule: F(x) = f(g(x)), F' = f'(g(x)) g'(x), f = sigma,
     * g = x^2. */
    const double xc[3] = {-1.2, 0.3, 0.9};
    tg_tensor *txc = vec(c, 3, xc);
    gr(c, sum(c, tg_sigmoid(tp, tg_square(tp, txc))), txc, a, 3);
    for (int i = 0; i < 3; i++) h[i] = sg(xc[i] * xc[i]) * (1 - sg(xc[i] * xc[i])) * 2 * xc[i];
    at_x(agree(c, "chain rule", "F'(x) = f'(g(x)) g'(x), f = sigma, g = x^2", h, a, 3), xc);

    /* Eq 8: E = 1/2 sum_mu (y^mu - y_hat^mu)^2 over three patterns. */
    const double ym[3] = {1.0, 0.0, 0.4}, yhm[3] = {0.21, 0.35, 0.9};
    net(c, "M", "3 patterns: y = (1, 0, 0.4), y_hat = (0.21, 0.35, 0.9)");
    tg_tensor *tyhm = vec(c, 3, yhm);
    gr(c, tg_sse(tp, tyhm, vec(c, 3, ym)), tyhm, a, 3);
    for (int i = 0; i < 3; i++) {
        pr[i] = ym[i] - yhm[i];   /* lines 2-3: 2(1/2) sum (y - y_hat) */
        h[i] = -(ym[i] - yhm[i]); /* the last line */
    }
    erratum(c, "8", "dE/dy_hat = 2(1/2) sum (y - y_hat) (lines 2-3)", pr, h, a, 3, 2.0,
            "chain rule factor -1: -(y - y_hat)");
    agree(c, "8", "dE/dy_hat = -(y^mu - y_hat^mu) (last line)", h, a, 3);
    ctx_reset(c);
}

bool sn_seed003(sn_rows *rows)
{
    sn_ctx c;
    if (!ctx_init(&c, rows, 3)) return false;
    s3_sigmoid_lines(&c);
    s3_worked_example(&c);
    s3_partials(&c);
    s3_backprop(&c);
    return ctx_done(&c);
}

/* ======================================================================
 * Seed 004 (Eglen 2024): two-layer net, inputs i (p), hidden j (q),
 * outputs k (r), no bias, transfer function g (sigmoid or identity),
 * E = 1/2 sum_k (t_k - y_k)^2.  The document's delta is minus dE/da.
 * ====================================================================== */

enum { S4I = 3, S4J = 4, S4K = 2 };

static void s4_net(sn_ctx *c, bool sigm)
{
    c->tag = sigm ? "sigm" : "id";
    tg_tape *tp = c->tp;
    double yi[S4I], W1[S4I * S4J], W2[S4J * S4K], t[S4K];
    fill(yi, S4I, 41, -1, 1);
    fill(W1, S4I * S4J, 42, -1.5, 1.5);
    fill(W2, S4J * S4K, 43, -1.5, 1.5);
    fill(t, S4K, 44, 0.1, 0.9);
    char b1[96], b2[64];
    net(c, "A", "net 3-4-2, no bias, g = sigmoid [sigm] or identity [id]: y_i = %s, t = %s",
        vstr(b1, sizeof b1, yi, S4I), vstr(b2, sizeof b2, t, S4K));
    /* Eqs 1-4 by hand; g' from the transfer function. */
    double aj[S4J], yj[S4J], gj[S4J], ak[S4K], yk[S4K], gk[S4K];
    h_linear(1, S4I, S4J, yi, W1, NULL, aj);
    for (int j = 0; j < S4J; j++) {
        yj[j] = sigm ? sg(aj[j]) : aj[j];
        gj[j] = sigm ? yj[j] * (1 - yj[j]) : 1.0;
    }
    h_linear(1, S4J, S4K, yj, W2, NULL, ak);
    for (int k = 0; k < S4K; k++) {
        yk[k] = sigm ? sg(ak[k]) : ak[k];
        gk[k] = sigm ? yk[k] * (1 - yk[k]) : 1.0;
    }
    tg_tensor *tW1 = mat(c, S4I, S4J, W1), *tW2 = mat(c, S4J, S4K, W2);
    tg_tensor *taj = tg_matmul(tp, vec(c, S4I, yi), tW1);
    tg_tensor *tyj = sigm ? tg_sigmoid(tp, taj) : taj;
    tg_tensor *tak = tg_matmul(tp, tyj, tW2);
    tg_tensor *tyk = sigm ? tg_sigmoid(tp, tak) : tak;
    tg_tensor *E = tg_sse(tp, tyk, vec(c, S4K, t));

    static acc x;
    double a[64], h[64];
    x.n = 0;
    rd(c, taj, a, S4J);
    acc_add(&x, aj, a, S4J);
    rd(c, tyj, a, S4J);
    acc_add(&x, yj, a, S4J);
    rd(c, tak, a, S4K);
    acc_add(&x, ak, a, S4K);
    rd(c, tyk, a, S4K);
    acc_add(&x, yk, a, S4K);
    agree(c, "1-4", "a_j, y_j = g(a_j), a_k, y_k = g(a_k), forward", x.h, x.a, x.n);
    double Eh = 0, Ea;
    for (int k = 0; k < S4K; k++) Eh += 0.5 * (t[k] - yk[k]) * (t[k] - yk[k]);
    rd(c, E, &Ea, 1);
    agree(c, "5", "E = 1/2 sum_k (t_k - y_k)^2", &Eh, &Ea, 1);

    /* Step 2a: hidden-to-output weights w_qr. */
    double dW2[S4J * S4K], dk[S4K];
    gr(c, E, tW2, dW2, S4J * S4K);
    for (int q = 0; q < S4J; q++)
        for (int r = 0; r < S4K; r++) {
            double s = 0;
            for (int k = 0; k < S4K; k++) /* dy_k/dw_qr = [k = r] g'(a_r) y_q */
                s += (t[k] - yk[k]) * (k == r ? gk[r] * yj[q] : 0.0);
            AT(h, S4K, q, r) = -s;
        }
    at_rc(agree(c, "2a i", "dE/dw_qr = -sum_k (t_k - y_k) dy_k/dw_qr", h, dW2, S4J * S4K), S4K);
    x.n = 0;
    for (int k = 0; k < S4K; k++) {
        double jac[S4J * S4K];
        gr(c, colsum(c, tyk, k), tW2, jac, S4J * S4K);
        for (int q = 0; q < S4J; q++)
            for (int r = 0; r < S4K; r++) AT(h, S4K, q, r) = k == r ? gk[r] * yj[q] : 0.0;
        acc_add(&x, h, jac, S4J * S4K);
    }
    agree(c, "2a ii", "dy_k/dw_qr = g'(a_r) y_q if k = r, else 0", x.h, x.a, x.n);
    for (int q = 0; q < S4J; q++)
        for (int r = 0; r < S4K; r++) AT(h, S4K, q, r) = yj[q];
    gr(c, sum(c, tak), tW2, a, S4J * S4K);
    at_rc(agree(c, "2a iii", "da_r/dw_qr = y_q (partial trick)", h, a, S4J * S4K), S4K);
    for (int q = 0; q < S4J; q++)
        for (int r = 0; r < S4K; r++) AT(h, S4K, q, r) = -(t[r] - yk[r]) * gk[r] * yj[q];
    at_rc(agree(c, "2a iv", "dE/dw_qr = -(t_r - y_r) g'(a_r) y_q", h, dW2, S4J * S4K), S4K);
    for (int k = 0; k < S4K; k++) dk[k] = gk[k] * (t[k] - yk[k]);
    gr(c, E, tak, a, S4K);
    for (int k = 0; k < S4K; k++) a[k] = -a[k];
    agree(c, "2a v", "delta_k = g'(a_k)(t_k - y_k) = -dE/da_k", dk, a, S4K);
    for (int q = 0; q < S4J; q++)
        for (int r = 0; r < S4K; r++) AT(h, S4K, q, r) = -dk[r] * yj[q];
    at_rc(agree(c, "2a vi", "dE/dw_qr = -delta_r y_q", h, dW2, S4J * S4K), S4K);

    /* Steps 2b-2c: input-to-hidden weights w_pq. */
    x.n = 0;
    for (int k = 0; k < S4K; k++) {
        double col[S4J];
        gr(c, colsum(c, tyk, k), tyj, col, S4J);
        for (int q = 0; q < S4J; q++) h[q] = gk[k] * AT(W2, S4K, q, k);
        acc_add(&x, h, col, S4J);
    }
    agree(c, "2b i", "dy_k/dy_q = g'(a_k) w_qk", x.h, x.a, x.n);
    for (int pp = 0; pp < S4I; pp++)
        for (int q = 0; q < S4J; q++) AT(h, S4J, pp, q) = gj[q] * yi[pp];
    gr(c, sum(c, tyj), tW1, a, S4I * S4J);
    at_rc(agree(c, "2b ii", "dy_q/dw_pq = g'(a_q) y_p", h, a, S4I * S4J), S4J);
    double dW1[S4I * S4J], dq[S4J];
    gr(c, E, tW1, dW1, S4I * S4J);
    for (int line = 1; line <= 3; line++) {
        for (int pp = 0; pp < S4I; pp++)
            for (int q = 0; q < S4J; q++) {
                double s = 0;
                for (int k = 0; k < S4K; k++) {
                    double w = AT(W2, S4K, q, k);
                    if (line == 1)
                        s += (t[k] - yk[k]) * gk[k] * w * gj[q] * yi[pp];
                    else if (line == 2)
                        s += (t[k] - yk[k]) * gk[k] * w;
                    else
                        s += dk[k] * w;
                }
                AT(h, S4J, pp, q) = line == 1 ? -s : -yi[pp] * gj[q] * s;
            }
        static const char *const txt[] = {"dE/dw_pq = -sum_k (t-y) g'(a_k) w_qk g'(a_q) y_p",
                                          "dE/dw_pq = -y_p g'(a_q) sum_k (t-y) g'(a_k) w_qk",
                                          "dE/dw_pq = -y_p g'(a_q) sum_k delta_k w_qk"};
        char eq[16];
        snprintf(eq, sizeof eq, "2b iii.%d", line);
        at_rc(agree(c, eq, txt[line - 1], h, dW1, S4I * S4J), S4J);
    }
    for (int q = 0; q < S4J; q++) {
        dq[q] = 0;
        for (int k = 0; k < S4K; k++) dq[q] += dk[k] * AT(W2, S4K, q, k);
        dq[q] *= gj[q];
    }
    gr(c, E, taj, a, S4J);
    for (int q = 0; q < S4J; q++) a[q] = -a[q];
    agree(c, "2b iv", "delta_q = g'(a_q) sum_k delta_k w_qk = -dE/da_q", dq, a, S4J);
    for (int pp = 0; pp < S4I; pp++)
        for (int q = 0; q < S4J; q++) AT(h, S4J, pp, q) = -dq[q] * yi[pp];
    at_rc(agree(c, "2b v", "dE/dw_pq = -delta_q y_p", h, dW1, S4I * S4J), S4J);

    /* The learning rule Delta w = -eta dE/dw, both layers. */
    const double eta = 0.25;
    x.n = 0;
    for (int q = 0; q < S4J; q++)
        for (int r = 0; r < S4K; r++) {
            double hv = eta * dk[r] * yj[q], av = -eta * AT(dW2, S4K, q, r);
            acc_add(&x, &hv, &av, 1);
        }
    for (int pp = 0; pp < S4I; pp++)
        for (int q = 0; q < S4J; q++) {
            double hv = eta * dq[q] * yi[pp], av = -eta * AT(dW1, S4J, pp, q);
            acc_add(&x, &hv, &av, 1);
        }
    agree(c, "1.1 rule", "Delta w = -eta dE/dw = eta delta y (both layers)", x.h, x.a, x.n);
    c->tag = NULL;
    ctx_reset(c);
}

bool sn_seed004(sn_rows *rows)
{
    sn_ctx c;
    if (!ctx_init(&c, rows, 4)) return false;
    s4_net(&c, true);
    s4_net(&c, false);
    return ctx_done(&c);
}
