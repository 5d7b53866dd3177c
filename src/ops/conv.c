/* 2-d convolution (NCHW) through im2col + gemm: the three recorded ops and
 * their kernels.  The public entry points (conv2d, conv2d_ex, conv1d,
 * conv_transpose2d) and the validation of a convolution's geometry are in
 * conv_api.c; the public im2col / col2im ops and flatten in conv_cols.c.
 *
 * Convention: tapegrad's conv2d is a cross-correlation, as in PyTorch and as
 * in the index formula of seed 002 section 2:
 *
 *   y[n,f,i,j] = b[f] + sum_{c,p,q} w[f,c,p,q] x[n,c, i*SH - PH + p, j*SW - PW + q]
 *
 * (x is zero outside the image).  With dilation (DH, DW) tap p reads row
 * i*SH - PH + p*DH; with G groups, filter f sees only the C/G channels of its
 * group, f / (F/G), and w is (F, C/G, KH, KW).  The kernel is not flipped.  Its gradient
 * with respect to x is then a true convolution of dy with w (a correlation
 * with the flipped kernel): seed 002 eq. 24-25.
 *
 * Three recorded ops do all the work, each bilinear in its two tensor inputs
 * and each one's backward written with the other two, so derivatives of any
 * order go through convolution:
 *
 *   conv(x, w)         = the correlation above              [N,F,OH,OW]
 *   input_grad(g, w)   = (d conv / d x)^T g   = col2im(W^T G)   [N,C,H,W]
 *   weight_grad(x, g)  = (d conv / d w)^T g   = G A^T           [F,C,KH,KW]
 *
 * where A = im2col(x) is the (C*KH*KW) x (N*OH*OW) column matrix of seed 002
 * (kernels/im2col.h), W is w as an F x (C*KH*KW) matrix and G is g as an
 * F x (N*OH*OW) matrix.  The gemms run one image at a time (see "the three
 * maps on raw data", conv_maps.c), writing into the result directly.  With
 * <a, b> the sum of the elementwise product:
 *
 *   <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
 *
 * and the backward rules below are read off this identity.  Groups split
 * each map into G independent ones on contiguous blocks (the channels of a
 * group, its filters, its rows of w), so the kernels loop over the groups
 * around the same per-image gemms. */
#include "../core/internal.h"
#include "../kernels/im2col.h"
#include "conv.h"

typedef tg__conv_attr conv_attr;

static tg_tensor *conv_weight_grad(tg_tape *tp, tg_tensor *x, tg_tensor *gy, const conv_attr *at);

/* t + u, either NULL for zero */
static tg_tensor *add_opt(tg_tape *tp, tg_tensor *t, tg_tensor *u)
{
    return !t ? u : !u ? t : tg_add(tp, t, u);
}

/* ---- conv: y = conv(x, w) + b ---------------------------------------------
 * dx = input_grad(g, w), dw = weight_grad(x, g), db[f] = sum_{n,i,j} g[n,f,i,j]. */
static tg_status conv_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *w = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_input_grad_op(tp, g, w, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = conv_weight_grad(tp, x, g, at);
    if (tg_node_num_inputs(n) == 3 && tg_node_needs_grad(n, 2))
        gin[2] = tg_sum(tp, g, 3, (const int[]){0, 2, 3}, false);
    return TG_OK;
}
/* Each input's gradient straight into its buffer (blk: one image's column
 * block, arena scratch). */
static tg_status conv_direct(tg_tape *tp, const tg_node *n, const tg_tensor *gy, tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0], *w = n->in[1];
    const tg_dtype dt = gy->dtype;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) tg__conv_dx_into(dt, at, gy->data, w->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) tg__conv_dw_into(dt, at, x->data, gy->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    if (n->n_in == 3 && (d = tg_grad_sink_buffer(k, 2, &acc)))
        tg__conv_db_into(dt, &at->g, at->F, gy->data, d->data, acc);
    return tg_tape_status(tp);
}
/* bilinear in (x, w), plus b: conv(tx, w) + conv(x, tw) + tb */
static tg_status conv_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *w = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = tg__conv2d_op(tp, tin[0], w, NULL, at);
    if (tin[1]) t = add_opt(tp, t, tg__conv2d_op(tp, x, tin[1], NULL, at));
    if (tg_node_num_inputs(n) == 3 && tin[2]) {
        const tg_tensor *y = tg_node_output(n);
        tg_tensor *tb = tg_reshape(tp, tin[2], 4, (const int64_t[]){1, at->F, 1, 1});
        t = t ? tg_add(tp, t, tb) : tg_broadcast_to(tp, tb, y->ndim, y->shape);
    }
    *tout = t;
    return TG_OK;
}

int tg__conv_geom_attrs(const tg__conv_geom *g, int64_t G, char *buf, size_t size)
{
    char d[48] = "", gr[32] = "";
    if (g->DH != 1 || g->DW != 1)
        snprintf(d, sizeof d, ", dilation=(%lld,%lld)", (long long)g->DH, (long long)g->DW);
    if (G != 1) snprintf(gr, sizeof gr, ", groups=%lld", (long long)G);
    return snprintf(buf, size, "kernel=(%lld,%lld), stride=(%lld,%lld), padding=(%lld,%lld)%s%s",
                    (long long)g->KH, (long long)g->KW, (long long)g->SH, (long long)g->SW,
                    (long long)g->PH, (long long)g->PW, d, gr);
}

static int conv_attrs(const tg_node *n, char *buf, size_t size)
{
    const conv_attr *at = tg_node_saved(n);
    return tg__conv_geom_attrs(&at->g, at->G, buf, size);
}

static const tg_op k_conv2d = {
    .name = "conv2d",
    .arity = -1,
    .backward = conv_backward,
    .direct = conv_direct,
    .scalar = NULL,
    .jvp = conv_jvp,
    .formula =
        "dx += conv_transpose2d(g, w);  dw += sum_n correlate(x_n, g_n);  db += sum_{n,i,j} g",
    .attrs = conv_attrs};

/* ---- input_grad(g, w): v = W^T G scattered back by col2im ----------------
 * linear in g and in w:  <input_grad(g, w), vbar> = <g, conv(vbar, w)>, so
 * dg = conv(vbar, w) and dw = weight_grad(vbar, g). */
static tg_status input_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *vbar,
                                     tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *gy = tg_node_input(n, 0), *w = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_op(tp, vbar, w, NULL, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = conv_weight_grad(tp, vbar, gy, at);
    return TG_OK;
}
/* dg (+)= conv(vbar, w), dw (+)= weight_grad(vbar, g). */
static tg_status input_grad_direct(tg_tape *tp, const tg_node *n, const tg_tensor *vbar,
                                   tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *gy = n->in[0], *w = n->in[1];
    const tg_dtype dt = vbar->dtype;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) tg__conv_into(dt, at, vbar->data, w->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) tg__conv_dw_into(dt, at, vbar->data, gy->data, d->data, acc, &blk);
    return tg_tape_status(tp);
}
/* bilinear: input_grad(tg, w) + input_grad(g, tw) */
static tg_status input_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *gy = tg_node_input(n, 0), *w = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = tg__conv2d_input_grad_op(tp, tin[0], w, at);
    if (tin[1]) t = add_opt(tp, t, tg__conv2d_input_grad_op(tp, gy, tin[1], at));
    *tout = t;
    return TG_OK;
}
static const tg_op k_conv2d_input_grad = {
    .name = "conv2d_input_grad",
    .arity = 2,
    .backward = input_grad_backward,
    .direct = input_grad_direct,
    .scalar = NULL,
    .jvp = input_grad_jvp,
    .formula =
        "da += conv2d(g, b);  db += conv2d_weight_grad(g, a)  (a: the output gradient, b: w)",
    .attrs = conv_attrs};

/* ---- weight_grad(x, g): G A^T --------------------------------------------
 * linear in x and in g:  <weight_grad(x, g), mbar> = <g, conv(x, mbar)>, so
 * dx = input_grad(g, mbar) and dg = conv(x, mbar). */
static tg_status weight_grad_backward(tg_tape *tp, const tg_node *n, tg_tensor *mbar,
                                      tg_tensor **gin)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *gy = tg_node_input(n, 1);
    if (tg_node_needs_grad(n, 0)) gin[0] = tg__conv2d_input_grad_op(tp, gy, mbar, at);
    if (tg_node_needs_grad(n, 1)) gin[1] = tg__conv2d_op(tp, x, mbar, NULL, at);
    return TG_OK;
}
/* dx (+)= input_grad(g, mbar), dg (+)= conv(x, mbar). */
static tg_status weight_grad_direct(tg_tape *tp, const tg_node *n, const tg_tensor *mbar,
                                    tg_grad_sink *k)
{
    const conv_attr *at = tg_node_saved(n);
    const tg_tensor *x = n->in[0];
    const tg_dtype dt = mbar->dtype;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return tg_tape_status(tp);
    const tg_tensor *gy = n->in[1];
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (d) tg__conv_dx_into(dt, at, gy->data, mbar->data, d->data, acc, &blk);
    if (!tg__tape_ok(tp)) return tg_tape_status(tp);
    d = tg_grad_sink_buffer(k, 1, &acc);
    if (d) tg__conv_into(dt, at, x->data, mbar->data, d->data, acc, &blk);
    return tg_tape_status(tp);
}
/* bilinear: weight_grad(tx, g) + weight_grad(x, tg) */
static tg_status weight_grad_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin,
                                 tg_tensor **tout)
{
    const conv_attr *at = tg_node_saved(n);
    tg_tensor *x = tg_node_input(n, 0), *gy = tg_node_input(n, 1), *t = NULL;
    if (tin[0]) t = conv_weight_grad(tp, tin[0], gy, at);
    if (tin[1]) t = add_opt(tp, t, conv_weight_grad(tp, x, tin[1], at));
    *tout = t;
    return TG_OK;
}
static const tg_op k_conv2d_weight_grad = {
    .name = "conv2d_weight_grad",
    .arity = 2,
    .backward = weight_grad_backward,
    .direct = weight_grad_direct,
    .scalar = NULL,
    .jvp = weight_grad_jvp,
    .formula = "da += conv2d_input_grad(b, g);  db += conv2d(a, g)  (a: x, b: the output gradient)",
    .attrs = conv_attrs};

/* The three ops are reached from the public entry points (conv_api.c),
 * which validate the geometry, and from each other's backward rules, with
 * shapes that follow from it; a mismatch (tg__expect_shape4) means a
 * gradient of the wrong shape was handed in (a bug), reported as a shape
 * error rather than read out of bounds. */
tg_tensor *tg__conv2d_op(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                         const conv_attr *at)
{
    tg_tensor *in[3] = {x, w, bias};
    const int n_in = bias ? 3 : 2;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, k_conv2d.name, n_in, in)) return NULL;
    if (!tg__same_dtype(tp, k_conv2d.name, x, w)) return NULL;
    const int64_t F = at->F;
    if (!tg__expect_shape4(tp, "conv2d", "the input", x, g->N, g->C, g->H, g->W) ||
        !tg__expect_shape4(tp, "conv2d", "the weight", w, F, g->C / at->G, g->KH, g->KW))
        return NULL;
    const tg_dtype dt = x->dtype;
    const int64_t L = g->OH * g->OW;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){g->N, F, g->OH, g->OW});
    if (!out) return NULL;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return NULL;
    /* Each image's product y[n] = W A_n goes straight into the NCHW output,
     * onto the bias copied in first (beta 1).  The column block A_n is made
     * in cache and not kept: the weight gradient remakes it, which is cheaper
     * than writing and rereading the whole batch's matrix. */
    if (bias)
        TG_DISPATCH(dt, T, {
            const T *bv = bias->data;
            T *o = out->data;
            for (int64_t nf = 0; nf < g->N * F; nf++)
                for (int64_t l = 0; l < L; l++) o[nf * L + l] = bv[nf % F];
        });
    tg__conv_into(dt, at, x->data, w->data, out->data, bias != NULL, &blk);
    return tg_tape_record(tp, &k_conv2d, n_in, in, out, at, sizeof *at, 0, NULL);
}

tg_tensor *tg__conv2d_input_grad_op(tg_tape *tp, tg_tensor *gy, tg_tensor *w, const conv_attr *at)
{
    tg_tensor *in[2] = {gy, w};
    const char *name = k_conv2d_input_grad.name;
    const tg__conv_geom *g = &at->g;
    if (!tg_tape_check_inputs(tp, name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, name, gy, w)) return NULL;
    const int64_t F = at->F;
    if (!tg__expect_shape4(tp, name, "the weight", w, F, g->C / at->G, g->KH, g->KW) ||
        !tg__expect_shape4(tp, name, "the output gradient", gy, g->N, F, g->OH, g->OW))
        return NULL;
    const tg_dtype dt = gy->dtype;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    if (!out) return NULL;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return NULL;
    tg__conv_dx_into(dt, at, gy->data, w->data, out->data, false, &blk);
    return tg_tape_record(tp, &k_conv2d_input_grad, 2, in, out, at, sizeof *at, 0, NULL);
}

static tg_tensor *conv_weight_grad(tg_tape *tp, tg_tensor *x, tg_tensor *gy, const conv_attr *at)
{
    tg_tensor *in[2] = {x, gy};
    const char *name = k_conv2d_weight_grad.name;
    const tg__conv_geom *g = &at->g;
    const int64_t F = at->F;
    if (!tg_tape_check_inputs(tp, name, 2, in)) return NULL;
    if (!tg__same_dtype(tp, name, x, gy)) return NULL;
    if (!tg__expect_shape4(tp, name, "the input", x, g->N, g->C, g->H, g->W) ||
        !tg__expect_shape4(tp, name, "the output gradient", gy, g->N, F, g->OH, g->OW))
        return NULL;
    const tg_dtype dt = x->dtype;
    tg_tensor *out = tg_tape_alloc(tp, dt, 4, (const int64_t[]){F, g->C / at->G, g->KH, g->KW});
    if (!out) return NULL;
    tg__conv_blk blk;
    if (!tg__conv_blk_make(tp, dt, at, &blk)) return NULL;
    tg__conv_dw_into(dt, at, x->data, gy->data, out->data, false, &blk);
    return tg_tape_record(tp, &k_conv2d_weight_grad, 2, in, out, at, sizeof *at, 0, NULL);
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_conv[] = {&k_conv2d, &k_conv2d_input_grad, &k_conv2d_weight_grad, NULL};
