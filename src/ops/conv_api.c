/* The public convolutions: conv2d, conv2d_ex (dilation, groups), conv1d and
 * conv_transpose2d, and the validation of a convolution's geometry that
 * they share with im2col and col2im (conv_cols.c).  Each checks its
 * arguments, failing on the tape with a message that names the op and the
 * shapes, and records one of the ops of conv.c:
 *
 *   conv2d, conv2d_ex, conv1d    conv(x, w) + b        (conv1d: H = 1)
 *   conv_transpose2d             input_grad(x, w) + b  (the adjoint of conv)
 *
 * so every derivative of these goes through the three ops of conv.c. */
#include "../core/internal.h"
#include "conv.h"

bool tg__conv_geom_too_large(tg_tape *tp, const char *op, const tg__conv_geom *g, const char *what)
{
    tg_tape_fail(tp, TG_ERR_SHAPE,
                 "%s: input (%lld,%lld,%lld,%lld), kernel %lldx%lld, stride (%lld,%lld), padding "
                 "(%lld,%lld): the %s would have more than %lld elements",
                 op, (long long)g->N, (long long)g->C, (long long)g->H, (long long)g->W,
                 (long long)g->KH, (long long)g->KW, (long long)g->SH, (long long)g->SW,
                 (long long)g->PH, (long long)g->PW, what, (long long)TG_NUMEL_MAX);
    return false;
}

/* Stride, padding and dilation of op on input shown; false (tape failed)
 * when one is out of range. */
static bool conv_args_ok(tg_tape *tp, const char *op, const tg_tensor *shown, int sh, int sw,
                         int ph, int pw, int dh, int dw)
{
    char s[TG_SHAPE_BUF];
    if (sh < 1 || sw < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: stride (%d,%d) must be >= 1", op,
                     tg__shape_str(shown, s, sizeof s), sh, sw);
        return false;
    }
    if (ph < 0 || pw < 0) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: padding (%d,%d) must be >= 0", op,
                     tg__shape_str(shown, s, sizeof s), ph, pw);
        return false;
    }
    if (dh < 1 || dw < 1) {
        tg_tape_fail(tp, TG_ERR_ARG, "%s: input %s: dilation (%d,%d) must be >= 1", op,
                     tg__shape_str(shown, s, sizeof s), dh, dw);
        return false;
    }
    return true;
}

bool tg__conv_geom_from_args_dil(tg_tape *tp, const char *op, const tg_tensor *shown,
                                 const int64_t nchw[4], int64_t kh, int64_t kw, int sh, int sw,
                                 int ph, int pw, int dh, int dw, tg__conv_geom *g)
{
    char s[TG_SHAPE_BUF];
    if (!conv_args_ok(tp, op, shown, sh, sw, ph, pw, dh, dw)) return false;
    if (kh < 1 || kw < 1) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: input %s: kernel %lldx%lld must be at least 1x1", op,
                     tg__shape_str(shown, s, sizeof s), (long long)kh, (long long)kw);
        return false;
    }
    switch (tg__conv_geom_make_dil(g, nchw, kh, kw, sh, sw, ph, pw, dh, dw)) {
    case TG__GEOM_OK:
        return true;
    case TG__GEOM_FIT: /* the padded extents are within TG_NUMEL_MAX */
        if (dh == 1 && dw == 1)
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: kernel %lldx%lld is larger than the padded input %lldx%lld (input "
                         "%s, padding (%d,%d))",
                         op, (long long)kh, (long long)kw, (long long)(g->H + 2 * (int64_t)ph),
                         (long long)(g->W + 2 * (int64_t)pw), tg__shape_str(shown, s, sizeof s), ph,
                         pw);
        else
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: kernel %lldx%lld with dilation (%d,%d) does not fit the padded "
                         "input %lldx%lld (input %s, padding (%d,%d))",
                         op, (long long)kh, (long long)kw, dh, dw,
                         (long long)(g->H + 2 * (int64_t)ph), (long long)(g->W + 2 * (int64_t)pw),
                         tg__shape_str(shown, s, sizeof s), ph, pw);
        return false;
    default:
        return tg__conv_geom_too_large(tp, op, g, "padded input");
    }
}

bool tg__conv_geom_from_args(tg_tape *tp, const char *op, const tg_tensor *x, int64_t kh,
                             int64_t kw, int sh, int sw, int ph, int pw, tg__conv_geom *g)
{
    return tg__conv_geom_from_args_dil(tp, op, x, x->shape, kh, kw, sh, sw, ph, pw, 1, 1, g);
}

/* The sizes geometry g implies, each at most TG_NUMEL_MAX, checked once
 * when an op validates it: for a convolution (F filters, G groups) the
 * output and the kernels' scratch, for im2col and col2im (F < 0) the column
 * matrix (C*KH*KW) x (N*OH*OW); for all the kernels' work area. */
bool tg__conv_geom_sizes_ok(tg_tape *tp, const char *op, const tg__conv_geom *g, int64_t F,
                            int64_t G)
{
    int64_t n;
    if (F >= 0 &&
        !tg__extents_product(4, (const int64_t[]){g->N, F, g->OH, g->OW}, TG_NUMEL_MAX, &n))
        return tg__conv_geom_too_large(tp, op, g, "output");
    if (F < 0 && !tg__extents_product(6, (const int64_t[]){g->C, g->KH, g->KW, g->N, g->OH, g->OW},
                                      TG_NUMEL_MAX, &n))
        return tg__conv_geom_too_large(tp, op, g, "column matrix");
    if (!tg__conv_geom_kernel_ok(g)) return tg__conv_geom_too_large(tp, op, g, "work area");
    if (F >= 0 && !tg__conv_blk_len(&(tg__conv_attr){.g = *g, .F = F, .G = G}, &n))
        return tg__conv_geom_too_large(tp, op, g, "column block of one image");
    return true;
}

bool tg__conv_expect_4d(tg_tape *tp, const char *op, const char *what, const tg_tensor *t,
                        const char *axes)
{
    if (t->ndim == 4) return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %s %s must be 4-d %s", op, what,
                 tg__shape_str(t, s, sizeof s), axes);
    return false;
}

/* The options with their defaults: a zero field means 1 for stride,
 * dilation and groups (0 for padding), so that a zero-initialised struct,
 * or NULL, is a plain convolution. */
static tg_conv2d_opts opts_resolve(const tg_conv2d_opts *o)
{
    tg_conv2d_opts r = o ? *o : (tg_conv2d_opts){0};
    r.stride_h = r.stride_h ? r.stride_h : 1;
    r.stride_w = r.stride_w ? r.stride_w : 1;
    r.dilation_h = r.dilation_h ? r.dilation_h : 1;
    r.dilation_w = r.dilation_w ? r.dilation_w : 1;
    r.groups = r.groups ? r.groups : 1;
    return r;
}

/* Do G groups split C channels, and F filters (what names them: "input"
 * or "weight")?  Otherwise the tape fails naming op and t. */
static bool groups_divide(tg_tape *tp, const char *op, const char *what, const char *of,
                          const tg_tensor *t, int64_t n, int G)
{
    if (G < 1) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_ARG, "%s: %s %s: groups %d must be >= 1", op, what,
                     tg__shape_str(t, s, sizeof s), G);
        return false;
    }
    if (n % G == 0) return true;
    char s[TG_SHAPE_BUF];
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %s %s has %lld %s, not divisible by groups %d", op, what,
                 tg__shape_str(t, s, sizeof s), (long long)n, of, G);
    return false;
}

/* Checks a convolution of x (N,C,H,W) by w (F,C/G,KH,KW) with bias (F) or
 * NULL and options r (resolved), and builds the attr of its ops; xu and wu
 * are the tensors as the caller gave them (conv1d's are 3-d), which the
 * messages name.  x, w and bias are checked inputs of one dtype. */
static bool conv_prepare(tg_tape *tp, const char *op, const tg_tensor *xu, const tg_tensor *wu,
                         const tg_tensor *x, const tg_tensor *w, const tg_tensor *bias,
                         const tg_conv2d_opts *r, tg__conv_attr *at)
{
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    const int G = r->groups;
    const int64_t C = x->shape[1], F = w->shape[0];
    if (!groups_divide(tp, op, "input", "channels", xu, C, G) ||
        !groups_divide(tp, op, "weight", "filters", wu, F, G))
        return false;
    if (C / G != w->shape[1]) {
        if (G == 1)
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: input %s has %lld channels but weight %s expects %lld", op,
                         tg__shape_str(xu, s, sizeof s), (long long)C,
                         tg__shape_str(wu, t, sizeof t), (long long)w->shape[1]);
        else
            tg_tape_fail(tp, TG_ERR_SHAPE,
                         "%s: input %s has %lld channels, %lld per group of %d, but weight %s "
                         "expects %lld",
                         op, tg__shape_str(xu, s, sizeof s), (long long)C, (long long)(C / G), G,
                         tg__shape_str(wu, t, sizeof t), (long long)w->shape[1]);
        return false;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != F)) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: bias %s must be 1-d with %lld elements, one per filter of weight %s", op,
                     tg__shape_str(bias, s, sizeof s), (long long)F,
                     tg__shape_str(wu, t, sizeof t));
        return false;
    }
    *at = (tg__conv_attr){.F = F, .G = G};
    return tg__conv_geom_from_args_dil(tp, op, xu, x->shape, w->shape[2], w->shape[3], r->stride_h,
                                       r->stride_w, r->pad_h, r->pad_w, r->dilation_h,
                                       r->dilation_w, &at->g) &&
           tg__conv_geom_sizes_ok(tp, op, &at->g, F, G);
}

/* The inputs of op checked: present, one dtype, x and w of ndim. */
static bool conv_inputs_ok(tg_tape *tp, const char *op, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                           int ndim, const char *xaxes, const char *waxes)
{
    tg_tensor *in[3] = {x, w, bias};
    if (!tg_tape_check_inputs(tp, op, bias ? 3 : 2, in)) return false;
    if (!tg__same_dtype(tp, op, x, w)) return false;
    if (bias && !tg__same_dtype(tp, op, x, bias)) return false;
    if (ndim == 4)
        return tg__conv_expect_4d(tp, op, "input", x, xaxes) &&
               tg__conv_expect_4d(tp, op, "weight", w, waxes);
    char s[TG_SHAPE_BUF];
    const tg_tensor *bad = x->ndim != ndim ? x : w->ndim != ndim ? w : NULL;
    if (!bad) return true;
    tg_tape_fail(tp, TG_ERR_SHAPE, "%s: %s %s must be %d-d %s", op, bad == x ? "input" : "weight",
                 tg__shape_str(bad, s, sizeof s), ndim, bad == x ? xaxes : waxes);
    return false;
}

tg_tensor *tg_conv2d_ex(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                        const tg_conv2d_opts *o)
{
    if (!conv_inputs_ok(tp, "conv2d", x, w, bias, 4, "(N,C,H,W)", "(F,C/groups,KH,KW)"))
        return NULL;
    const tg_conv2d_opts r = opts_resolve(o);
    tg__conv_attr at;
    if (!conv_prepare(tp, "conv2d", x, w, x, w, bias, &r, &at)) return NULL;
    return tg__conv2d_op(tp, x, w, bias, &at);
}

tg_tensor *tg_conv2d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride_h,
                     int stride_w, int pad_h, int pad_w)
{
    if (!conv_inputs_ok(tp, "conv2d", x, w, bias, 4, "(N,C,H,W)", "(F,C,KH,KW)")) return NULL;
    /* the arguments as given: a stride of 0 is an error here, not the
     * default it is in tg_conv2d_opts */
    const tg_conv2d_opts r = {stride_h, stride_w, pad_h, pad_w, 1, 1, 1};
    tg__conv_attr at;
    if (!conv_prepare(tp, "conv2d", x, w, x, w, bias, &r, &at)) return NULL;
    return tg__conv2d_op(tp, x, w, bias, &at);
}

tg_tensor *tg_conv1d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias, int stride, int pad,
                     int dilation, int groups)
{
    if (!conv_inputs_ok(tp, "conv1d", x, w, bias, 3, "(N,C,L)", "(F,C/groups,K)")) return NULL;
    /* as a 2-d convolution of (N,C,1,L) by (F,C/groups,1,K) */
    const int64_t xs[4] = {x->shape[0], x->shape[1], 1, x->shape[2]};
    const int64_t ws[4] = {w->shape[0], w->shape[1], 1, w->shape[2]};
    const tg_tensor x4 = {.ndim = 4, .shape = (int64_t *)xs},
                    w4 = {.ndim = 4, .shape = (int64_t *)ws};
    const tg_conv2d_opts r = {1, stride, 0, pad, 1, dilation, groups};
    tg__conv_attr at;
    if (!conv_prepare(tp, "conv1d", x, w, &x4, &w4, bias, &r, &at)) return NULL;
    tg_tensor *y = tg__conv2d_op(tp, tg_reshape(tp, x, 4, xs), tg_reshape(tp, w, 4, ws), bias, &at);
    if (!y) return NULL;
    return tg_reshape(tp, y, 3, (const int64_t[]){y->shape[0], y->shape[1], y->shape[3]});
}

/* One axis of conv_transpose2d's output: (in - 1) s - 2 p + (k - 1) d + op
 * + 1 into *out; false when that overflows (then it is beyond any limit). */
static bool transpose_extent(int64_t in, int64_t k, int s, int p, int d, int op, int64_t *out)
{
    int64_t a, b;
    return tg__mul_i64(in - 1, s, &a) && tg__muladd_i64(k - 1, d, a, &b) &&
           tg__add_i64(b, (int64_t)op + 1 - 2 * (int64_t)p, out);
}

/* The output extents of conv_transpose2d into oshape (N, F, OH, OW), F the
 * output channels; false (tape failed) when x has no pixels to spread, the
 * extents are below 1 or too large, or output_padding is out of range. */
static bool transpose_shape(tg_tape *tp, const tg_tensor *x, const tg_tensor *w,
                            const tg_conv2d_opts *r, int oph, int opw, int64_t oshape[4])
{
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    const char *op = "conv_transpose2d";
    if (oph < 0 || opw < 0 || oph >= r->stride_h || opw >= r->stride_w) {
        tg_tape_fail(tp, TG_ERR_ARG,
                     "%s: input %s: output padding (%d,%d) must be >= 0 and less than the stride "
                     "(%d,%d)",
                     op, tg__shape_str(x, s, sizeof s), oph, opw, r->stride_h, r->stride_w);
        return false;
    }
    if (x->shape[2] == 0 || x->shape[3] == 0) {
        /* (H - 1) s would be negative: no pixel to spread, no output size */
        tg_tape_fail(tp, TG_ERR_EMPTY, "%s: input %s has no pixels to spread", op,
                     tg__shape_str(x, s, sizeof s));
        return false;
    }
    int64_t n;
    oshape[0] = x->shape[0];
    const bool fits = tg__mul_i64(w->shape[1], r->groups, &oshape[1]) &&
                      transpose_extent(x->shape[2], w->shape[2], r->stride_h, r->pad_h,
                                       r->dilation_h, oph, &oshape[2]) &&
                      transpose_extent(x->shape[3], w->shape[3], r->stride_w, r->pad_w,
                                       r->dilation_w, opw, &oshape[3]);
    if (fits && (oshape[2] < 1 || oshape[3] < 1)) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: input %s, weight %s, stride (%d,%d), padding (%d,%d), dilation "
                     "(%d,%d), output padding (%d,%d): the output would be %lldx%lld, not at "
                     "least 1x1",
                     op, tg__shape_str(x, s, sizeof s), tg__shape_str(w, t, sizeof t), r->stride_h,
                     r->stride_w, r->pad_h, r->pad_w, r->dilation_h, r->dilation_w, oph, opw,
                     (long long)oshape[2], (long long)oshape[3]);
        return false;
    }
    if (fits && tg__extents_product(4, oshape, TG_NUMEL_MAX, &n)) return true;
    tg_tape_fail(tp, TG_ERR_SHAPE,
                 "%s: input %s, weight %s, stride (%d,%d), padding (%d,%d), dilation (%d,%d), "
                 "groups %d: the output would have more than %lld elements",
                 op, tg__shape_str(x, s, sizeof s), tg__shape_str(w, t, sizeof t), r->stride_h,
                 r->stride_w, r->pad_h, r->pad_w, r->dilation_h, r->dilation_w, r->groups,
                 (long long)TG_NUMEL_MAX);
    return false;
}

tg_tensor *tg_conv_transpose2d(tg_tape *tp, tg_tensor *x, tg_tensor *w, tg_tensor *bias,
                               const tg_conv2d_opts *o, int output_padding_h, int output_padding_w)
{
    const char *op = "conv_transpose2d";
    if (!conv_inputs_ok(tp, op, x, w, bias, 4, "(N,C,H,W)", "(C,F/groups,KH,KW)")) return NULL;
    const tg_conv2d_opts r = opts_resolve(o);
    char s[TG_SHAPE_BUF], t[TG_SHAPE_BUF];
    if (!conv_args_ok(tp, op, x, r.stride_h, r.stride_w, r.pad_h, r.pad_w, r.dilation_h,
                      r.dilation_w))
        return NULL;
    if (x->shape[1] != w->shape[0]) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "%s: input %s has %lld channels but weight %s expects %lld",
                     op, tg__shape_str(x, s, sizeof s), (long long)x->shape[1],
                     tg__shape_str(w, t, sizeof t), (long long)w->shape[0]);
        return NULL;
    }
    if (!groups_divide(tp, op, "input", "channels", x, x->shape[1], r.groups)) return NULL;
    /* y is the input gradient of the convolution of y's shape by w, whose
     * output has x's shape: oshape is that convolution's input */
    int64_t oshape[4];
    if (!transpose_shape(tp, x, w, &r, output_padding_h, output_padding_w, oshape)) return NULL;
    if (bias && (bias->ndim != 1 || bias->shape[0] != oshape[1])) {
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "%s: bias %s must be 1-d with %lld elements, one per output channel of "
                     "weight %s with groups %d",
                     op, tg__shape_str(bias, s, sizeof s), (long long)oshape[1],
                     tg__shape_str(w, t, sizeof t), r.groups);
        return NULL;
    }
    tg__conv_attr at = {.F = x->shape[1], .G = r.groups};
    if (!tg__conv_geom_from_args_dil(tp, op, x, oshape, w->shape[2], w->shape[3], r.stride_h,
                                     r.stride_w, r.pad_h, r.pad_w, r.dilation_h, r.dilation_w,
                                     &at.g) ||
        !tg__conv_geom_sizes_ok(tp, op, &at.g, at.F, at.G))
        return NULL;
    /* output_padding < stride: the convolution of oshape gives x's extents */
    tg_tensor *y = tg__conv2d_input_grad_op(tp, x, w, &at);
    if (!y || !bias) return y;
    return tg_add(tp, y, tg_reshape(tp, bias, 4, (const int64_t[]){1, oshape[1], 1, 1}));
}
