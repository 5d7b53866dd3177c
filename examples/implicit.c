/* Implicit differentiation with a custom function rule (tg_function_call).
 *
 * A small "deep equilibrium" layer: its output is the fixed point
 *     z* = tanh(W z* + U x + b),   i.e. the root of f(z, theta) = z - tanh(W z + U x + b),
 * found by Newton's method.  Its derivative comes from the implicit function
 * theorem, not from the iterations: with d = 1 - z*^2 (tanh' at the root)
 * and J = df/dz = I - diag(d) W,
 *     dz* = J^-1 diag(d) (dW z* + dU x + db + U dx),
 * so the vector-Jacobian product of a cotangent g solves one linear system,
 *     lambda = J^-T g,  u = d * lambda:  gW = u z*^T, gU = u x^T, gb = u, gx = U^T u,
 * and the Jacobian-vector product another.  The forward runs with recording
 * off, so the tape holds one node for the whole solve, however many
 * iterations it took.
 *
 * The program prints the gradient of L = sum(c * z*) and checks it
 *   1. against central finite differences of the whole solve,
 *   2. against reverse mode through the unrolled Newton iterations,
 *   3. against the tangent rule (tg_jvp): <c, Jt> with Jt = dz*(theta; t), the
 *      derivative of z* along t, equals <dL/dtheta, t>,
 * and exits non-zero if any disagrees. */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>

enum { N = 4, M = 3, MAX_NEWTON = 50, N_PARAMS = 4 };

typedef struct deq {
    tg_tensor *eye; /* I (N, N): a constant, reached through ctx */
    int iters;      /* Newton steps the last forward took */
} deq;

/* d = 1 - t^2 and J = I - diag(d) W (row i of W scaled by d_i) */
static tg_tensor *jacobian_z(tg_tape *tp, tg_tensor *eye, tg_tensor *w, tg_tensor *t, tg_tensor **d)
{
    *d = tg_add_scalar(tp, tg_neg(tp, tg_square(tp, t)), 1.0);
    return tg_sub(tp, eye, tg_mul(tp, *d, w));
}

/* One Newton step z - J^-1 (z - tanh(W z + U x + b)); *res = max |residual| */
static tg_tensor *newton_step(tg_tape *tp, tg_tensor *eye, tg_tensor *const *th, tg_tensor *z,
                              double *res)
{
    tg_tensor *pre =
        tg_add(tp, tg_add(tp, tg_matmul(tp, th[0], z), tg_matmul(tp, th[1], th[3])), th[2]);
    tg_tensor *t = tg_tanh(tp, pre), *d;
    tg_tensor *r = tg_sub(tp, z, t);
    if (!r) return NULL;
    *res = 0;
    for (int i = 0; i < N; i++) *res = fmax(*res, fabs(tg_tensor_get_flat(r, i)));
    return tg_sub(tp, z, tg_solve(tp, jacobian_z(tp, eye, th[0], t, &d), r));
}

/* Newton from z = 0 until a step starts from a residual below 1e-13 (it
 * lands on the root to rounding: the convergence is quadratic), or for
 * exactly `steps` steps when steps > 0 (the unrolled run repeats the
 * forward's); recorded or not as the tape is. */
static tg_tensor *solve(tg_tape *tp, tg_tensor *eye, tg_tensor *const *th, int steps, int *taken)
{
    tg_tensor *z = tg_tape_alloc(tp, TG_F64, 2, (int64_t[]){N, 1});
    if (!z) return NULL;
    for (int i = 0; i < N; i++) tg_tensor_set_flat(z, i, 0.0);
    int k = 0;
    while (k < (steps > 0 ? steps : MAX_NEWTON)) {
        double res;
        z = newton_step(tp, eye, th, z, &res);
        k++;
        if (!z) return NULL;
        if (steps == 0 && res <= 1e-13) break;
    }
    if (taken) *taken = k;
    return z;
}

static tg_status deq_forward(tg_tape *tp, const tg_function_args *a, tg_tensor **out,
                             tg_tensor **saved)
{
    (void)saved;
    deq *c = a->ctx;
    out[0] = solve(tp, c->eye, a->in, 0, &c->iters);
    return out[0] ? TG_OK : tg_tape_status(tp);
}

/* lambda = J^-T g, u = d * lambda: gW = u z^T, gU = u x^T, gb = u, gx = U^T u */
static tg_status deq_vjp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *gout,
                         tg_tensor **gin)
{
    const deq *c = a->ctx;
    tg_tensor *z = a->out[0], *d;
    tg_tensor *jz = jacobian_z(tp, c->eye, a->in[0], z, &d); /* tanh(W z + U x + b) = z */
    tg_tensor *u = tg_mul(tp, d, tg_solve(tp, tg_transpose(tp, jz, 0, 1), gout[0]));
    gin[0] = tg_matmul_t(tp, u, z, false, true);
    gin[1] = tg_matmul_t(tp, u, a->in[3], false, true);
    gin[2] = u;
    gin[3] = tg_matmul_t(tp, a->in[1], u, true, false);
    return TG_OK;
}

/* dz = J^-1 (d * (dW z + dU x + db + U dx)) */
static tg_status deq_jvp(tg_tape *tp, const tg_function_args *a, tg_tensor *const *tin,
                         tg_tensor **tout)
{
    const deq *c = a->ctx;
    tg_tensor *z = a->out[0], *d, *da = NULL;
    tg_tensor *terms[N_PARAMS] = {tin[0] ? tg_matmul(tp, tin[0], z) : NULL,
                                  tin[1] ? tg_matmul(tp, tin[1], a->in[3]) : NULL, tin[2],
                                  tin[3] ? tg_matmul(tp, a->in[1], tin[3]) : NULL};
    for (int i = 0; i < N_PARAMS; i++)
        if (terms[i]) da = da ? tg_add(tp, da, terms[i]) : terms[i];
    tg_tensor *jz = jacobian_z(tp, c->eye, a->in[0], z, &d);
    tout[0] = da ? tg_solve(tp, jz, tg_mul(tp, d, da)) : NULL;
    return TG_OK;
}

static const tg_function k_deq = {
    .name = "deq_fixed_point", .forward = deq_forward, .vjp = deq_vjp, .jvp = deq_jvp};

/* L = sum(c * z*) through the custom rule, on tp; NULL on error */
static tg_tensor *loss_implicit(tg_tape *tp, deq *ctx, tg_tensor *const *th, tg_tensor *cw)
{
    tg_tensor *z;
    if (tg_function_call(tp, &k_deq, ctx, N_PARAMS, th, 1, &z) != TG_OK) return NULL;
    return tg_sum_all(tp, tg_mul(tp, z, cw));
}

static double loss_value(deq *ctx, tg_tensor *const *th, tg_tensor *cw)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *l = loss_implicit(tp, ctx, th, cw);
    const double v = l ? tg_tensor_get_flat(l, 0) : NAN;
    tg_tape_free(tp);
    return v;
}

static const char *const k_names[N_PARAMS] = {"W", "U", "b", "x"};

/* Worst relative difference of a against b over the parameters, with the
 * largest gradient as the scale (one element's small gradient is not a
 * large relative error). */
static double worst_rel(tg_tensor *const *a, tg_tensor *const *b)
{
    double worst = 0, scale = 0;
    for (int p = 0; p < N_PARAMS; p++)
        for (int64_t i = 0; i < tg_tensor_numel(b[p]); i++)
            scale = fmax(scale, fabs(tg_tensor_get_flat(b[p], i)));
    for (int p = 0; p < N_PARAMS; p++)
        for (int64_t i = 0; i < tg_tensor_numel(a[p]); i++)
            worst = fmax(worst,
                         fabs(tg_tensor_get_flat(a[p], i) - tg_tensor_get_flat(b[p], i)) / scale);
    return worst;
}

/* Central differences of the whole solve, h = 1e-6, into fd[p] */
static void finite_differences(deq *ctx, tg_tensor *const *th, tg_tensor *cw, tg_tensor **fd)
{
    const double h = 1e-6;
    for (int p = 0; p < N_PARAMS; p++) {
        fd[p] = tg_tensor_zeros(TG_F64, tg_tensor_ndim(th[p]), tg_tensor_shape(th[p]));
        for (int64_t i = 0; i < tg_tensor_numel(th[p]); i++) {
            const double v = tg_tensor_get_flat(th[p], i);
            tg_tensor_set_flat(th[p], i, v + h);
            const double up = loss_value(ctx, th, cw);
            tg_tensor_set_flat(th[p], i, v - h);
            const double down = loss_value(ctx, th, cw);
            tg_tensor_set_flat(th[p], i, v);
            tg_tensor_set_flat(fd[p], i, (up - down) / (2 * h));
        }
    }
}

typedef struct run {
    tg_tensor *grad[N_PARAMS]; /* user-owned copies */
    int64_t nodes;
    size_t bytes;
    double loss;
} run;

/* Gradient through the custom rule (unrolled: through `steps` recorded
 * Newton steps instead); false on error. */
static bool gradient(deq *ctx, tg_tensor *const *th, tg_tensor *cw, int unrolled_steps, run *r)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *l =
        unrolled_steps
            ? tg_sum_all(tp, tg_mul(tp, solve(tp, ctx->eye, th, unrolled_steps, NULL), cw))
            : loss_implicit(tp, ctx, th, cw);
    tg_tensor *g[N_PARAMS];
    const bool ok = l && tg_vjp(tp, l, NULL, N_PARAMS, th, g, false) == TG_OK;
    if (!ok) fprintf(stderr, "implicit: %s\n", tg_tape_error(tp));
    for (int p = 0; ok && p < N_PARAMS; p++) r->grad[p] = tg_tensor_clone(g[p]);
    r->nodes = tg_tape_usage(tp).nodes;
    r->bytes = tg_tape_usage(tp).high_water;
    r->loss = ok ? tg_tensor_get_flat(l, 0) : NAN;
    tg_tape_free(tp);
    return ok;
}

/* <c, Jt> by the tangent rule (Jt: the derivative of z* along t) against
 * <dL/dtheta, t> */
static double jvp_check(deq *ctx, tg_tensor *const *th, tg_tensor *cw, tg_tensor *const *grad,
                        tg_rng *rng)
{
    tg_tensor *t[N_PARAMS];
    double want = 0;
    for (int p = 0; p < N_PARAMS; p++) {
        t[p] = tg_tensor_randn(TG_F64, tg_tensor_ndim(th[p]), tg_tensor_shape(th[p]), rng);
        for (int64_t i = 0; i < tg_tensor_numel(t[p]); i++)
            want += tg_tensor_get_flat(grad[p], i) * tg_tensor_get_flat(t[p], i);
    }
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *z, *tz;
    double got = NAN;
    if (tg_function_call(tp, &k_deq, ctx, N_PARAMS, th, 1, &z) == TG_OK &&
        tg_jvp(tp, N_PARAMS, th, t, 1, &z, &tz, false) == TG_OK) {
        got = 0;
        for (int i = 0; i < N; i++) got += tg_tensor_get_flat(cw, i) * tg_tensor_get_flat(tz, i);
    } else {
        fprintf(stderr, "implicit: %s\n", tg_tape_error(tp));
    }
    tg_tape_free(tp);
    for (int p = 0; p < N_PARAMS; p++) tg_tensor_free(t[p]);
    printf("tangent rule: <c, Jt> = %.15f, <dL/dtheta, t> = %.15f\n", got, want);
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

static void free_run(run *r)
{
    for (int p = 0; p < N_PARAMS; p++) tg_tensor_free(r->grad[p]);
}

int main(void)
{
    tg_rng rng;
    tg_rng_seed(&rng, 20);
    const int64_t shapes[N_PARAMS][2] = {{N, N}, {N, M}, {N, 1}, {M, 1}};
    const double scale[N_PARAMS] = {0.6 / N, 0.8, 0.5, 1.0}; /* W small: a contraction */
    tg_tensor *th[N_PARAMS];
    for (int p = 0; p < N_PARAMS; p++) {
        th[p] = tg_tensor_randn(TG_F64, 2, shapes[p], &rng);
        for (int64_t i = 0; i < tg_tensor_numel(th[p]); i++)
            tg_tensor_set_flat(th[p], i, scale[p] * tg_tensor_get_flat(th[p], i));
    }
    tg_tensor *cw = tg_tensor_randn(TG_F64, 2, (int64_t[]){N, 1}, &rng);
    deq ctx = {.eye = tg_tensor_zeros(TG_F64, 2, (int64_t[]){N, N})};
    for (int i = 0; i < N; i++) tg_tensor_set_flat(ctx.eye, i * N + i, 1.0);

    run imp = {0}, unr = {0};
    tg_tensor *fd[N_PARAMS] = {0};
    int rc = 1;
    if (!gradient(&ctx, th, cw, 0, &imp)) goto out;
    const int iters = ctx.iters;
    printf("z* = tanh(W z* + U x + b), N = %d, M = %d: Newton converged in %d steps\n", N, M,
           iters);
    printf("L = sum(c * z*) = %.15f\n\n", imp.loss);
    for (int p = 0; p < N_PARAMS; p++) {
        char name[16];
        snprintf(name, sizeof name, "dL/d%s", k_names[p]);
        tg_tensor_print(stdout, name, imp.grad[p], 0);
    }
    puts("");
    if (!gradient(&ctx, th, cw, iters, &unr)) goto out;
    finite_differences(&ctx, th, cw, fd);
    const double e_fd = worst_rel(imp.grad, fd), e_unr = worst_rel(imp.grad, unr.grad);
    const double e_jvp = jvp_check(&ctx, th, cw, imp.grad, &rng);
    printf("implicit vs central differences of the solve: %.2e (relative, tolerance 1e-7)\n", e_fd);
    printf("implicit vs the unrolled iterations:           %.2e (relative, tolerance 1e-10)\n",
           e_unr);
    printf("tangent rule vs the vjp:                       %.2e (relative, tolerance 1e-12)\n",
           e_jvp);
    printf("\ntape: implicit %lld nodes, %zu bytes at most; unrolled %lld nodes, %zu bytes\n",
           (long long)imp.nodes, imp.bytes, (long long)unr.nodes, unr.bytes);
    const bool ok = e_fd < 1e-7 && e_unr < 1e-10 && e_jvp < 1e-12;
    puts(ok ? "all agree" : "DISAGREE");
    rc = ok ? 0 : 1;
out:
    free_run(&imp);
    free_run(&unr);
    for (int p = 0; p < N_PARAMS; p++) {
        tg_tensor_free(th[p]);
        tg_tensor_free(fd[p]);
    }
    tg_tensor_free(cw);
    tg_tensor_free(ctx.eye);
    return rc;
}
