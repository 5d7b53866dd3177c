/* Forward mode for every op: each OC_DIRECT row of op_cases.h is recorded
 * with x and every float constant it reads (K->c, the matrices, the conv
 * weights, the targets) as inputs with random tangents, and tg_jvp's
 * tangent of the output is compared
 *   - with reverse mode: <w, J t> against sum_i <J_i^T w, t_i> (tg_vjp),
 *     for a random w, to 1e-12 relative: the two modes are independent
 *     implementations of the same derivative;
 *   - with central differences of the row's call along the tangents,
 *     element by element.
 * Every input slot of every op thus gets a tangent, so a rule that drops
 * one input's term fails here.  A new op's rows run here without any
 * change to this file.  An op without its own tangent rule takes the
 * double-vjp fallback (src/core/forward.c), which this suite then checks
 * instead. */
#include "common.h"
#include "op_cases.h"

/* K's float tensors that may carry a tangent (ninf is -inf: none). */
static int float_consts(const oc_consts *K, tg_tensor **out)
{
    int n = 0;
    tg_tensor *all[] = {K->c, K->w16, K->wconv, K->bconv, K->t17};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) out[n++] = all[i];
    return n;
}

/* Tangents a row's call cannot carry, zeroed (both modes agree there, the
 * finite differences see something else):
 *   - batch_norm_eval reads its running statistics (cut from K->c) as
 *     constants, as PyTorch's buffers: no derivative flows to them;
 *   - the masked class of K->t17 (column 16) meets log p = -inf: a target
 *     tangent there has no finite derivative. */
static void zero_undefined_tangents(const oc_case *c, const oc_consts *K, int n,
                                    tg_tensor *const *xs, tg_tensor *const *ts)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(c->id, "batch_norm_eval") == 0 && xs[i] == K->c) tg_tensor_fill(ts[i], 0.0);
        if (xs[i] == K->t17)
            for (int64_t r = 0; r < 4; r++) tg_tensor_set_flat(ts[i], 17 * r + 16, 0.0);
    }
}

/* sum(w * y) over a fresh tape for the inputs perturbed by s * tangents;
 * the perturbation is undone before returning. */
static void eval_perturbed(const oc_case *c, const oc_consts *K, int n, tg_tensor *const *xs,
                           tg_tensor *const *ts, double s, tg_tensor *yout)
{
    for (int i = 0; i < n; i++) {
        double *d = tg_tensor_f64(xs[i]);
        const double *t = tg_tensor_f64(ts[i]);
        for (int64_t k = 0; k < tg_tensor_numel(xs[i]); k++) d[k] += s * t[k];
    }
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = c->f(tp, xs[0], NULL, K);
    ck_assert_msg(y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_numel(y), tg_tensor_numel(yout));
    memcpy(tg_tensor_f64(yout), tg_tensor_f64(y), (size_t)tg_tensor_numel(y) * sizeof(double));
    tg_tape_free(tp);
    for (int i = 0; i < n; i++) {
        double *d = tg_tensor_f64(xs[i]);
        const double *t = tg_tensor_f64(ts[i]);
        for (int64_t k = 0; k < tg_tensor_numel(xs[i]); k++) d[k] -= s * t[k];
    }
}

START_TEST(test_tangent_rules)
{
    const oc_case *c = NULL;
    for (int i = -1, k = 0; k <= _i; k++) c = oc_next(&i, OC_DIRECT);
    ck_assert_ptr_nonnull(c);
    oc_consts *K = oc_consts_new();
    tg_tensor *xs[8], *ts[8];
    xs[0] = tt_param(4, TT_SHAPE(2, 2, 4, 4), 5101 + _i, 0.2, 2);
    const int n = 1 + float_consts(K, xs + 1);
    for (int i = 0; i < n; i++)
        ts[i] = tt_rand(TG_F64, tg_tensor_ndim(xs[i]), tg_tensor_shape(xs[i]), 6101 + 13 * _i + i,
                        -1, 1);
    zero_undefined_tangents(c, K, n, xs, ts);

    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = c->f(tp, xs[0], NULL, K);
    ck_assert_msg(y != NULL, "%s: %s", c->id, tg_tape_error(tp));
    tg_tensor *jt = NULL;
    ck_assert_msg(tg_jvp(tp, n, xs, ts, 1, &y, &jt, false) == TG_OK, "%s (%s): %s", c->id, c->op,
                  tg_tape_error(tp));
    tt_assert_shape(jt, tg_tensor_ndim(y), tg_tensor_shape(y));

    /* reverse mode: <w, J t> = sum_i <J_i^T w, t_i> */
    tg_tensor *w = tt_rand(TG_F64, tg_tensor_ndim(y), tg_tensor_shape(y), 7101 + _i, -1, 1);
    tg_tensor *gs[8] = {0};
    ck_assert_msg(
        tg_vjp_ex(tp, y, n, xs, gs, &(tg_grad_options){.seed = w, .allow_unused = true}) == TG_OK,
        "%s: %s", c->id, tg_tape_error(tp));
    double fwd = 0, rev = 0, scale = 0;
    for (int64_t k = 0; k < tg_tensor_numel(y); k++) {
        const double p = tg_tensor_get_flat(w, k) * tg_tensor_get_flat(jt, k);
        fwd += p;
        scale += fabs(p);
    }
    for (int i = 0; i < n; i++)
        for (int64_t k = 0; k < tg_tensor_numel(xs[i]); k++) {
            /* a zero tangent adds nothing, also where the gradient is
             * infinite (the masked class above) */
            const double t = tg_tensor_get_flat(ts[i], k);
            const double p = t == 0 ? 0 : tg_tensor_get_flat(gs[i], k) * t;
            rev += p;
            scale += fabs(p);
        }
    ck_assert_msg(fabs(fwd - rev) <= 1e-12 * scale + 1e-300,
                  "%s (%s): forward <w, J t> %.17g, reverse %.17g", c->id, c->op, fwd, rev);

    /* central differences along the tangents, element by element */
    const double h = 1e-6;
    tg_tensor *yp = tg_tensor_new(TG_F64, tg_tensor_ndim(y), tg_tensor_shape(y));
    tg_tensor *ym = tg_tensor_new(TG_F64, tg_tensor_ndim(y), tg_tensor_shape(y));
    eval_perturbed(c, K, n, xs, ts, h, yp);
    eval_perturbed(c, K, n, xs, ts, -h, ym);
    for (int64_t k = 0; k < tg_tensor_numel(y); k++) {
        const double fd = (tg_tensor_get_flat(yp, k) - tg_tensor_get_flat(ym, k)) / (2 * h);
        const double a = tg_tensor_get_flat(jt, k);
        ck_assert_msg(fabs(fd - a) <= 1e-5 * (1 + fabs(fd)),
                      "%s (%s): element %lld: tangent %.10g, finite differences %.10g", c->id,
                      c->op, (long long)k, a, fd);
    }
    tg_tensor_free(yp);
    tg_tensor_free(ym);
    tg_tensor_free(w);
    tg_tape_free(tp);
    for (int i = 0; i < n; i++) tg_tensor_free(ts[i]);
    tg_tensor_free(xs[0]);
    oc_consts_free(K);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jvp");
    TCase *tc = tcase_create("op_cases");
    tcase_set_timeout(tc, 300);
    int n = 0;
    for (int i = -1; oc_next(&i, OC_DIRECT);) n++;
    if (n < 50) { /* the table lost its rows: this suite would check nothing */
        fprintf(stderr, "jvp: only %d OC_DIRECT rows in op_cases.h\n", n);
        return 1;
    }
    tcase_add_loop_test(tc, test_tangent_rules, 0, n);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
