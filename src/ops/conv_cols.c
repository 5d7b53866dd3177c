/* The public im2col / col2im ops and flatten.  im2col and col2im are each
 * other's adjoint, so each one's backward is the other and derivatives of
 * any order stay within these two ops; they share the geometry checks and
 * the arena scratch of conv2d (conv.c, declared in conv.h), and live apart
 * from it so conv.c holds the convolution alone. */
#include "../core/internal.h"
#include "../kernels/im2col.h"
#include "conv.h"

/* ---- im2col / col2im as ops: each one's backward is the other -------------- */
typedef struct cols_attr {
    tg__conv_geom g;
} cols_attr;

static tg_tensor *im2col_op(tg_tape *tp, tg_tensor *x, const tg__conv_geom *g);
static tg_tensor *col2im_op(tg_tape *tp, tg_tensor *cols, const tg__conv_geom *g);

/* y = A x (a 0/1 matrix): dx = A^T g = col2im(g) */
static tg_status im2col_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const cols_attr *at = tg_node_saved(n);
    gin[0] = col2im_op(tp, g, &at->g);
    return TG_OK;
}
static tg_status im2col_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const cols_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    void *work = tg__conv_scratch(tp, g->dtype, tg__conv_work_len(&at->g));
    if (work) tg__col2im(g->dtype, &at->g, g->data, d->data, acc, work);
    return tg_tape_status(tp);
}
/* linear: im2col of the tangent */
static tg_status im2col_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const cols_attr *at = tg_node_saved(n);
    *tout = im2col_op(tp, tin[0], &at->g);
    return TG_OK;
}
static int cols_attrs(const tg_node *n, char *buf, size_t size)
{
    const cols_attr *at = tg_node_saved(n);
    return tg__conv_geom_attrs(&at->g, 1, buf, size);
}
static const tg_op k_im2col = {.name = "im2col",
                               .arity = 1,
                               .backward = im2col_backward,
                               .direct = im2col_direct,
                               .scalar = NULL,
                               .jvp = im2col_jvp,
                               .formula = "dx += col2im(g)",
                               .attrs = cols_attrs};

/* y = A^T c: dc = A g = im2col(g) */
static tg_status col2im_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    const cols_attr *at = tg_node_saved(n);
    gin[0] = im2col_op(tp, g, &at->g);
    return TG_OK;
}
static tg_status col2im_direct(tg_tape *tp, const tg_node *n, const tg_tensor *g, tg_grad_sink *k)
{
    const cols_attr *at = tg_node_saved(n);
    bool acc;
    tg_tensor *d = tg_grad_sink_buffer(k, 0, &acc);
    if (!d) return tg_tape_status(tp);
    void *work = tg__conv_scratch(tp, g->dtype, tg__conv_work_len(&at->g));
    if (!work) return tg_tape_status(tp);
    if (!acc) {
        tg__im2col(g->dtype, &at->g, g->data, d->data, work);
        return TG_OK;
    }
    void *c = tg__conv_scratch(tp, g->dtype, d->numel);
    if (!c) return tg_tape_status(tp);
    tg__im2col(g->dtype, &at->g, g->data, c, work);
    TG_DISPATCH(g->dtype, T, {
        const T *restrict cv = c;
        T *restrict dv = d->data;
        for (int64_t i = 0; i < d->numel; i++) dv[i] += cv[i];
    });
    return TG_OK;
}
/* linear: col2im of the tangent */
static tg_status col2im_jvp(tg_tape *tp, const tg_node *n, tg_tensor *const *tin, tg_tensor **tout)
{
    const cols_attr *at = tg_node_saved(n);
    *tout = col2im_op(tp, tin[0], &at->g);
    return TG_OK;
}
static const tg_op k_col2im = {.name = "col2im",
                               .arity = 1,
                               .backward = col2im_backward,
                               .direct = col2im_direct,
                               .scalar = NULL,
                               .jvp = col2im_jvp,
                               .formula = "dx += im2col(g)",
                               .attrs = cols_attrs};

static tg_tensor *im2col_op(tg_tape *tp, tg_tensor *x, const tg__conv_geom *g)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_im2col.name, 1, in)) return NULL;
    if (!tg__expect_shape4(tp, "im2col", "the input", x, g->N, g->C, g->H, g->W)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, x->dtype, 2,
                                   (const int64_t[]){tg__conv_geom_rows(g), tg__conv_geom_cols(g)});
    if (!out) return NULL;
    void *work = tg__conv_scratch(tp, x->dtype, tg__conv_work_len(g));
    if (!work) return NULL;
    tg__im2col(x->dtype, g, x->data, out->data, work);
    cols_attr at = {*g};
    return tg_tape_record(tp, &k_im2col, 1, in, out, &at, sizeof at, 0, NULL);
}

static tg_tensor *col2im_op(tg_tape *tp, tg_tensor *cols, const tg__conv_geom *g)
{
    tg_tensor *in[1] = {cols};
    if (!tg_tape_check_inputs(tp, k_col2im.name, 1, in)) return NULL;
    const int64_t R = tg__conv_geom_rows(g), NL = tg__conv_geom_cols(g);
    if (cols->ndim != 2 || cols->shape[0] != R || cols->shape[1] != NL) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "col2im: columns %s must be (%lld,%lld) = (C*KH*KW, N*OH*OW) for image "
                     "(%lld,%lld,%lld,%lld), kernel %lldx%lld, stride (%lld,%lld), padding "
                     "(%lld,%lld)",
                     tg__shape_str(cols, s, sizeof s), (long long)R, (long long)NL, (long long)g->N,
                     (long long)g->C, (long long)g->H, (long long)g->W, (long long)g->KH,
                     (long long)g->KW, (long long)g->SH, (long long)g->SW, (long long)g->PH,
                     (long long)g->PW);
        return NULL;
    }
    tg_tensor *out = tg_tape_alloc(tp, cols->dtype, 4, (const int64_t[]){g->N, g->C, g->H, g->W});
    if (!out) return NULL;
    void *work = tg__conv_scratch(tp, cols->dtype, tg__conv_work_len(g));
    if (!work) return NULL;
    tg__col2im(cols->dtype, g, cols->data, out->data, false, work);
    cols_attr at = {*g};
    return tg_tape_record(tp, &k_col2im, 1, in, out, &at, sizeof at, 0, NULL);
}

tg_tensor *tg_im2col(tg_tape *tp, tg_tensor *x, int kh, int kw, int stride_h, int stride_w,
                     int pad_h, int pad_w)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, k_im2col.name, 1, in)) return NULL;
    if (!tg__conv_expect_4d(tp, "im2col", "input", x, "(N,C,H,W)")) return NULL;
    tg__conv_geom g;
    if (!tg__conv_geom_from_args(tp, "im2col", x, kh, kw, stride_h, stride_w, pad_h, pad_w, &g) ||
        !tg__conv_geom_sizes_ok(tp, "im2col", &g, -1, 1))
        return NULL;
    return im2col_op(tp, x, &g);
}

tg_tensor *tg_col2im_to(tg_tape *tp, tg_tensor *cols, int ndim, const int64_t *image_shape, int kh,
                        int kw, int stride_h, int stride_w, int pad_h, int pad_w)
{
    tg_tensor *in[1] = {cols};
    if (!tg_tape_check_inputs(tp, k_col2im.name, 1, in)) return NULL;
    if (!image_shape && ndim > 0) {
        tg_tape_fail(tp, TG_ERR_NULL, "col2im: image shape is NULL");
        return NULL;
    }
    if (ndim != 4) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "col2im: image shape has %d dimensions, not 4 (N,C,H,W)",
                     ndim);
        return NULL;
    }
    for (int d = 0; d < 4; d++)
        if (image_shape[d] < 0) {
            tg_tape_fail(tp, TG_ERR_SHAPE, "col2im: image shape (%lld,%lld,%lld,%lld) is invalid",
                         (long long)image_shape[0], (long long)image_shape[1],
                         (long long)image_shape[2], (long long)image_shape[3]);
            return NULL;
        }
    /* The geometry is built against a header carrying the image shape only:
     * tg__conv_geom_from_args reads nothing but the extents. */
    int64_t img_shape[4];
    for (int d = 0; d < 4; d++) img_shape[d] = image_shape[d];
    tg_tensor img = {.ndim = 4, .shape = img_shape};
    tg__conv_geom g;
    if (!tg__conv_geom_from_args(tp, "col2im", &img, kh, kw, stride_h, stride_w, pad_h, pad_w,
                                 &g) ||
        !tg__conv_geom_sizes_ok(tp, "col2im", &g, -1, 1))
        return NULL;
    return col2im_op(tp, cols, &g);
}

tg_tensor *tg_col2im(tg_tape *tp, tg_tensor *cols, const int64_t image_shape[4], int kh, int kw,
                     int stride_h, int stride_w, int pad_h, int pad_w)
{
    return tg_col2im_to(tp, cols, 4, image_shape, kh, kw, stride_h, stride_w, pad_h, pad_w);
}

/* ---- flatten: (N, d1, ..., dk) -> (N, d1 * ... * dk), a reshape ------------- */
tg_tensor *tg_flatten(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, "flatten", 1, in)) return NULL;
    if (x->ndim < 1) {
        tg_tape_fail(tp, TG_ERR_SHAPE, "flatten: a 0-d tensor has no batch axis");
        return NULL;
    }
    /* checked: a tensor with no elements may carry extents whose product
     * is out of range (where it could be made), and whether it is refused
     * must not depend on which axis holds the 0 */
    int64_t n, rest = 0;
    if (!tg__extents_product(x->ndim, x->shape, TG_NUMEL_MAX, &n)) {
        char s[TG_SHAPE_BUF];
        tg_tape_fail(tp, TG_ERR_SHAPE,
                     "flatten: %s: the product of its non-zero extents exceeds %lld",
                     tg__shape_str(x, s, sizeof s), (long long)TG_NUMEL_MAX);
        return NULL;
    }
    (void)tg__extents_product(x->ndim - 1, x->shape + 1, TG_NUMEL_MAX, &rest); /* within n's */
    return tg_reshape(tp, x, 2, (const int64_t[]){x->shape[0], rest});
}

/* Every built-in op descriptor of this file, in the op registry
 * (src/ops/registry.c), which tests/test_op_coverage.c checks. */
#include "registry.h"
const tg_op *const tg__ops_conv_cols[] = {&k_im2col, &k_col2im, NULL};
