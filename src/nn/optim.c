/* Optimizers over a list of user-owned parameters.  All state (momentum
 * buffers, Adam moments, step counts) is allocated at creation, so a step
 * allocates nothing and a training loop stays allocation-free.
 *
 * A parameter's shape can change after creation (a tg_batches batch tensor
 * marked requires_grad shrinks at the short last batch).  State sized for
 * another element count belongs to another tensor: a step refuses it, as
 * PyTorch does, rather than resizing it (which would silently restart or
 * truncate the moments).  Plain SGD keeps no state and follows the shape.
 *
 * The state is kept in double whatever the parameter's dtype: an f32
 * network then accumulates its moments without extra rounding, and an f64
 * one is updated exactly as the formulas below say. */
#include "../core/internal.h"

typedef enum { OPT_SGD, OPT_ADAM } opt_kind;

struct tg_optim {
    opt_kind kind;
    int n;
    tg_tensor **params;
    double **buf1;  /* SGD: velocity; Adam: first moment m (per parameter) */
    double **buf2;  /* Adam: second moment v */
    int64_t *steps; /* Adam: updates made to each parameter (bias correction) */
    int64_t *numel; /* element count each parameter's state buffers were sized for */
    double lr, momentum, weight_decay, beta1, beta2, eps;
};

static bool bad_real(double x)
{
    return !isfinite(x);
}

/* Validates the parameter list and allocates the optimizer with nbuf state
 * buffers per parameter. */
static tg_optim *optim_new(const char *fn, opt_kind kind, int n, tg_tensor *const *params, int nbuf)
{
    if (n < 0 || (n > 0 && !params)) {
        tg__set_last(n < 0 ? TG_ERR_ARG : TG_ERR_NULL, "%s: %d parameters, list %s", fn, n,
                     params ? "given" : "NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            tg__set_last(TG_ERR_NULL, "%s: parameter %d is NULL", fn, i);
            return NULL;
        }
        if (params[i]->dtype == TG_I64) {
            /* data only: no gradient, and the update is float arithmetic */
            tg__set_last(TG_ERR_DTYPE,
                         "%s: parameter %d is an i64 tensor; parameters are f32 or f64", fn, i);
            return NULL;
        }
        if (params[i]->magic != TG_MAGIC_USER) {
            /* A tape-owned tensor dies at the next tg_tape_reset. */
            tg__set_last(TG_ERR_TAPE,
                         "%s: parameter %d is tape-owned; parameters must be user-owned", fn, i);
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (params[j] == params[i]) {
                tg__set_last(TG_ERR_ARG,
                             "%s: parameters %d and %d are the same tensor (it would be updated "
                             "twice)",
                             fn, j, i);
                return NULL;
            }
    }
    tg_optim *o = tg__calloc(1, sizeof *o);
    if (!o) goto nomem;
    o->kind = kind;
    o->n = n;
    o->params = tg__calloc((size_t)n, sizeof *o->params);
    o->steps = tg__calloc((size_t)n, sizeof *o->steps);
    o->numel = tg__calloc((size_t)n, sizeof *o->numel);
    if (!o->params || !o->steps || !o->numel) goto nomem;
    if (nbuf >= 1 && !(o->buf1 = tg__calloc((size_t)n, sizeof *o->buf1))) goto nomem;
    if (nbuf >= 2 && !(o->buf2 = tg__calloc((size_t)n, sizeof *o->buf2))) goto nomem;
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        o->numel[i] = params[i]->numel;
        size_t ne = (size_t)params[i]->numel;
        if (nbuf >= 1 && !(o->buf1[i] = tg__calloc(ne, sizeof(double)))) goto nomem;
        if (nbuf >= 2 && !(o->buf2[i] = tg__calloc(ne, sizeof(double)))) goto nomem;
    }
    return o;
nomem:
    tg_optim_free(o);
    tg__set_last(TG_ERR_NOMEM, "%s: out of memory for the state of %d parameters", fn, n);
    return NULL;
}

tg_optim *tg_sgd_new(int n, tg_tensor *const *params, double lr, double momentum,
                     double weight_decay)
{
    if (bad_real(lr) || lr < 0 || bad_real(momentum) || momentum < 0 || momentum >= 1 ||
        bad_real(weight_decay) || weight_decay < 0) {
        tg__set_last(TG_ERR_ARG,
                     "sgd: lr %g, momentum %g, weight_decay %g: need lr >= 0, momentum in "
                     "[0, 1), weight_decay >= 0",
                     lr, momentum, weight_decay);
        return NULL;
    }
    /* Plain SGD keeps no state; the velocity buffers exist only with momentum. */
    tg_optim *o = optim_new("sgd", OPT_SGD, n, params, momentum > 0 ? 1 : 0);
    if (!o) return NULL;
    o->lr = lr;
    o->momentum = momentum;
    o->weight_decay = weight_decay;
    return o;
}

tg_optim *tg_adam_new(int n, tg_tensor *const *params, double lr, double beta1, double beta2,
                      double eps, double weight_decay)
{
    if (bad_real(lr) || lr < 0 || bad_real(beta1) || beta1 < 0 || beta1 >= 1 || bad_real(beta2) ||
        beta2 < 0 || beta2 >= 1 || bad_real(eps) || eps <= 0 || bad_real(weight_decay) ||
        weight_decay < 0) {
        tg__set_last(TG_ERR_ARG,
                     "adam: lr %g, beta1 %g, beta2 %g, eps %g, weight_decay %g: need lr >= 0, "
                     "betas in [0, 1), eps > 0, weight_decay >= 0",
                     lr, beta1, beta2, eps, weight_decay);
        return NULL;
    }
    tg_optim *o = optim_new("adam", OPT_ADAM, n, params, 2);
    if (!o) return NULL;
    o->lr = lr;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    return o;
}

void tg_optim_zero_grad(tg_optim *o)
{
    if (!o) {
        tg__set_last(TG_ERR_NULL, "optim_zero_grad: optimizer is NULL");
        return;
    }
    for (int i = 0; i < o->n; i++) tg_tensor_zero_grad(o->params[i]);
}

/* The fewest parameter elements an update splits among threads (measured: docs/performance.md,
 * "Thread thresholds: elementwise and reductions"). */
#define TG_OPTIM_MIN_WORK ((int64_t)1 << 15)

/* A gradient of another dtype than its parameter's: read element by
 * element (never made by tg_backward, which gives .grad the parameter's
 * dtype; kept for safety). */
static double grad_at(const tg_tensor *gt, int64_t k)
{
    return tg_tensor_get_flat(gt, k);
}

/* g = grad + wd w;  v = mu v + g;  w -= lr v   (mu = 0: w -= lr g)
 * The loops over the usual case (the gradient in the parameter's dtype) are
 * plain, with restrict pointers and the momentum test outside, so that they
 * vectorise; the arithmetic per element is the same. */
TG_CLONES static void sgd_param(const tg_optim *o, int i, tg_tensor *w, const tg_tensor *gt)
{
    const double lr = o->lr, mu = o->momentum, wd = o->weight_decay;
    double *restrict v = o->buf1 ? o->buf1[i] : NULL;
    tg__bump_version(w); /* a tape that recorded w must see the change */
    const int64_t n = w->numel;
    TG_DISPATCH(w->dtype, T, {
        T *restrict x = (T *)w->data;
        const T *restrict gd = gt->dtype == w->dtype ? (const T *)gt->data : NULL;
        if (gd && v) {
            TG_ELEM_LOOP(n, TG_OPTIM_MIN_WORK, k,
                         const double g = (double)gd[k] + wd * (double)x[k];
                         v[k] = mu * v[k] + g; x[k] = (T)((double)x[k] - lr * v[k]););
        } else if (gd) {
            TG_ELEM_LOOP(n, TG_OPTIM_MIN_WORK, k,
                         const double g = (double)gd[k] + wd * (double)x[k];
                         x[k] = (T)((double)x[k] - lr * g););
        } else {
            TG_ELEM_LOOP(n, TG_OPTIM_MIN_WORK, k,
                         const double g0 = grad_at(gt, k) + wd * (double)x[k];
                         const double g = v ? (v[k] = mu * v[k] + g0) : g0;
                         x[k] = (T)((double)x[k] - lr * g););
        }
    });
}

/* g = grad + wd w;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 * w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (Kingma & Ba, alg. 1) */
TG_CLONES static void adam_param(tg_optim *o, int i, tg_tensor *w, const tg_tensor *gt)
{
    const double b1 = o->beta1, b2 = o->beta2, wd = o->weight_decay, lr = o->lr, eps = o->eps;
    const int64_t t = ++o->steps[i];
    const double c1 = 1.0 - pow(b1, (double)t), c2 = 1.0 - pow(b2, (double)t);
    double *restrict m = o->buf1[i], *restrict v = o->buf2[i];
    const int64_t n = w->numel;
    tg__bump_version(w);
    TG_DISPATCH(w->dtype, T, {
        T *restrict x = (T *)w->data;
        const T *restrict gd = gt->dtype == w->dtype ? (const T *)gt->data : NULL;
        TG_ELEM_LOOP(n, TG_OPTIM_MIN_WORK, k,
                     const double g = (gd ? (double)gd[k] : grad_at(gt, k)) + wd * (double)x[k];
                     m[k] = b1 * m[k] + (1.0 - b1) * g; v[k] = b2 * v[k] + (1.0 - b2) * g * g;
                     x[k] = (T)((double)x[k] - lr * (m[k] / c1) / (sqrt(v[k] / c2) + eps)););
    });
}

/* Why parameter i cannot be updated now (TG_OK if it can, or if it has no
 * gradient and is skipped), with the message set. */
static tg_status check_param(const tg_optim *o, int i)
{
    const tg_tensor *w = o->params[i], *g = w->grad;
    char a[TG_SHAPE_BUF], b[TG_SHAPE_BUF];
    if (!g) return TG_OK;
    if (g->numel != w->numel) {
        tg__set_last(TG_ERR_SHAPE, "optim_step: parameter %d %s has a gradient of shape %s", i,
                     tg__shape_str(w, a, sizeof a), tg__shape_str(g, b, sizeof b));
        return TG_ERR_SHAPE;
    }
    if (o->buf1 && w->numel != o->numel[i]) {
        tg__set_last(TG_ERR_SHAPE,
                     "optim_step: parameter %d %s has %lld elements but its optimizer state was "
                     "made for %lld (its shape changed since the optimizer was created)",
                     i, tg__shape_str(w, a, sizeof a), (long long)w->numel, (long long)o->numel[i]);
        return TG_ERR_SHAPE;
    }
    return TG_OK;
}

tg_status tg_optim_step(tg_optim *o)
{
    if (!o) {
        tg__set_last(TG_ERR_NULL, "optim_step: optimizer is NULL");
        return TG_ERR_NULL;
    }
    /* Every parameter is checked before any is updated: a refused step
     * leaves all parameters and all state as they were. */
    for (int i = 0; i < o->n; i++) {
        tg_status st = check_param(o, i);
        if (st != TG_OK) return st;
    }
    for (int i = 0; i < o->n; i++) {
        tg_tensor *w = o->params[i];
        const tg_tensor *g = w->grad;
        if (!g) continue; /* never reached by a backward: no update, no state change */
        if (o->kind == OPT_SGD)
            sgd_param(o, i, w, g);
        else
            adam_param(o, i, w, g);
    }
    return TG_OK;
}

void tg_optim_set_lr(tg_optim *o, double lr)
{
    if (!o) {
        tg__set_last(TG_ERR_NULL, "optim_set_lr: optimizer is NULL");
        return;
    }
    if (bad_real(lr) || lr < 0) {
        tg__set_last(TG_ERR_ARG, "optim_set_lr: learning rate %g is not finite and >= 0 (kept %g)",
                     lr, o->lr);
        return;
    }
    o->lr = lr;
}

double tg_optim_lr(const tg_optim *o)
{
    if (!o) tg__set_last(TG_ERR_NULL, "optim_lr: optimizer is NULL");
    return o ? o->lr : 0.0;
}

void tg_optim_free(tg_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (o->buf1) tg__free(o->buf1[i]);
        if (o->buf2) tg__free(o->buf2[i]);
    }
    tg__free(o->buf1);
    tg__free(o->buf2);
    tg__free(o->params);
    tg__free(o->steps);
    tg__free(o->numel);
    tg__free(o);
}
