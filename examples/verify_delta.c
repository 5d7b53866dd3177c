/* Delta localisation on seed 000's network (Tanaka 2013): four layers
 * h (3) -> i (4) -> j (3) -> k (2), sigmoid units, no bias, cross-entropy
 * loss (eq. 4).  Every delta and weight gradient of the derivation is
 * computed by hand in plain C and handed to tg_delta_check, twice:
 *
 *   1. with eq. 13 as it should read, dL/do_k = -t/o + (1-t)/(1-o): every
 *      hand value agrees with autodiff;
 *   2. with eq. 13 as printed, -t/o - (1-t)/(1-o) (a sign slip), and the
 *      output delta taken by the chain rule of eq. 6 from it: the report
 *      points at dL/do_k and marks everything upstream "not informative".
 *
 * With --more it also prints the other tools of docs/verification.md: the
 * Hessian of the Rosenbrock function, a gradgradcheck, the f32/f64 replay
 * and the memory report of the B1 graph.  Exits non-zero when a result is
 * not what the text says. */
#include <tapegrad.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { H = 3, I = 4, J = 3, K = 2 };

static double sg(double x)
{
    return 1 / (1 + exp(-x));
}

static void fill(double *v, int n, uint64_t seed, double lo, double hi)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * tg_rng_uniform(&r);
}

/* o_out = sigmoid(o_in @ W), W stored (in, out) as the seed's w_jk. */
static void layer(int nin, int nout, const double *o_in, const double *W, double *n, double *o)
{
    for (int k = 0; k < nout; k++) {
        n[k] = 0;
        for (int j = 0; j < nin; j++) n[k] += o_in[j] * W[j * nout + k];
        o[k] = sg(n[k]);
    }
}

/* dL/dW[j][k] = delta[k] o[j] (eqs 8, 18, 23); dL/do[j] = sum_k delta_k w_jk
 * (eqs 16, 21); next delta = that times o(1-o) (eqs 19, 24). */
static void back(int nin, int nout, const double *o_in, const double *W, const double *delta,
                 double *dW, double *do_in, double *delta_in)
{
    for (int j = 0; j < nin; j++) {
        do_in[j] = 0;
        for (int k = 0; k < nout; k++) {
            dW[j * nout + k] = delta[k] * o_in[j];
            do_in[j] += delta[k] * W[j * nout + k];
        }
        delta_in[j] = do_in[j] * o_in[j] * (1 - o_in[j]);
    }
}

typedef struct hand {
    double dok[K], dk[K], dW3[J * K], doj[J], dj[J], dW2[I * J], doi[I], di[I], dW1[H * I];
} hand;

static int run_delta(bool printed_eq13, bool quiet)
{
    double oh[H], W1[H * I], W2[I * J], W3[J * K], t[K];
    fill(oh, H, 11, -1, 1);
    fill(W1, H * I, 12, -1.5, 1.5);
    fill(W2, I * J, 13, -1.5, 1.5);
    fill(W3, J * K, 14, -2, 2);
    fill(t, K, 15, 0.05, 0.95);

    /* The hand derivation. */
    double ni[I], oi[I], nj[J], oj[J], nk[K], ok[K];
    layer(H, I, oh, W1, ni, oi);
    layer(I, J, oi, W2, nj, oj);
    layer(J, K, oj, W3, nk, ok);
    hand h;
    for (int k = 0; k < K; k++) {
        h.dok[k] = printed_eq13 ? -t[k] / ok[k] - (1 - t[k]) / (1 - ok[k]) /* eq 13 as printed */
                                : -t[k] / ok[k] + (1 - t[k]) / (1 - ok[k]);
        h.dk[k] = h.dok[k] * ok[k] * (1 - ok[k]); /* eq 6: dL/do_k do_k/dn_k */
    }
    back(J, K, oj, W3, h.dk, h.dW3, h.doj, h.dj);
    back(I, J, oi, W2, h.dj, h.dW2, h.doi, h.di);
    double doh[H], dh[H];
    back(H, I, oh, W1, h.di, h.dW1, doh, dh);

    /* The same network on a tape. */
    tg_tensor *T_oh = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){1, H}, oh);
    tg_tensor *T_W1 = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){H, I}, W1);
    tg_tensor *T_W2 = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){I, J}, W2);
    tg_tensor *T_W3 = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){J, K}, W3);
    tg_tensor *T_t = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){1, K}, t);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *n_i = tg_matmul(tp, T_oh, T_W1), *o_i = tg_sigmoid(tp, n_i);
    tg_tensor *n_j = tg_matmul(tp, o_i, T_W2), *o_j = tg_sigmoid(tp, n_j);
    tg_tensor *n_k = tg_matmul(tp, o_j, T_W3), *o_k = tg_sigmoid(tp, n_k);
    tg_tensor *L = tg_bce(tp, o_k, T_t, TG_REDUCE_SUM);
    if (!L) {
        fprintf(stderr, "tape: %s\n", tg_tape_error(tp));
        return 1;
    }
    if (!printed_eq13 && !quiet) {
        printf("The tape:\n");
        tg_tape_print(tp, stdout);
        printf("\n");
    }

    struct {
        tg_tensor *t;
        const double *v;
        const char *label;
    } rows[] = {
        {o_k, h.dok, "dL/do_k (eq 13)"},  {n_k, h.dk, "delta_k (eq 6)"},
        {T_W3, h.dW3, "dL/dw_jk (eq 8)"}, {o_j, h.doj, "dL/do_j (eq 16)"},
        {n_j, h.dj, "delta_j (eq 19)"},   {T_W2, h.dW2, "dL/dw_ij (eq 18)"},
        {n_i, h.di, "delta_i (eq 24)"},   {T_W1, h.dW1, "dL/dw_hi (eq 23)"},
    };
    enum { NE = sizeof rows / sizeof rows[0] };
    tg_delta_entry e[NE];
    tg_delta_result res[NE];
    for (int r = 0; r < NE; r++) {
        e[r].tensor = rows[r].t;
        e[r].hand = tg_tensor_from_f64(TG_F64, tg_tensor_ndim(rows[r].t),
                                       tg_tensor_shape(rows[r].t), rows[r].v);
        e[r].label = rows[r].label;
    }
    int first = -1;
    tg_status st = tg_delta_check(tp, L, NE, e, 1e-10, 0, res, &first);
    printf("%s:\n", printed_eq13 ? "Eq. 13 as printed (sign slip)" : "Eq. 13 corrected");
    tg_delta_report_print(stdout, NE, e, res);

    /* What the text promises. */
    int bad = 0;
    if (!printed_eq13) {
        bad = st != TG_OK || first != -1;
    } else {
        bad = st != TG_ERR_NUMERIC || first != 0;
        for (int r = 1; r < NE; r++) bad |= res[r].verdict != TG_DELTA_NOT_INFORMATIVE;
    }
    for (int r = 0; r < NE; r++) tg_tensor_free((tg_tensor *)e[r].hand);
    tg_tape_free(tp);
    tg_tensor_free(T_oh);
    tg_tensor_free(T_W1);
    tg_tensor_free(T_W2);
    tg_tensor_free(T_W3);
    tg_tensor_free(T_t);
    if (bad) fprintf(stderr, "verify_delta: the report is not what the example says\n");
    return bad;
}

/* ---- --more: the other tools ------------------------------------------------ */
/* Extended Rosenbrock from whole-tensor ops (the B2 form). */
static tg_tensor *rosenbrock(tg_tape *tp, tg_tensor *x)
{
    int64_t n = tg_tensor_numel(x);
    tg_tensor *x0 = tg_slice(tp, x, 0, 0, n - 1, 1), *x1 = tg_slice(tp, x, 0, 1, n, 1);
    tg_tensor *d = tg_sub(tp, x1, tg_square(tp, x0));
    tg_tensor *e = tg_rsub_scalar(tp, 1.0, x0);
    return tg_sum_all(tp, tg_add(tp, tg_mul_scalar(tp, tg_square(tp, d), 100.0), tg_square(tp, e)));
}

static tg_tensor *fn_rosen(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return rosenbrock(tp, in[0]);
}

/* The B1 form: the same function from one-element operations. */
static tg_tensor *rosen_scalar(tg_tape *tp, int n, tg_tensor *const *x)
{
    tg_tensor *f = NULL;
    for (int i = 0; i + 1 < n; i++) {
        tg_tensor *d = tg_sub(tp, x[i + 1], tg_square(tp, x[i]));
        tg_tensor *term = tg_add(tp, tg_mul_scalar(tp, tg_square(tp, d), 100.0),
                                 tg_square(tp, tg_rsub_scalar(tp, 1.0, x[i])));
        f = f ? tg_add(tp, f, term) : term;
    }
    return f;
}

static tg_tensor *fn_mlp(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *h = tg_sigmoid(tp, tg_matmul(tp, in[0], in[1]));
    return tg_bce(tp, tg_sigmoid(tp, tg_matmul(tp, h, in[2])), in[3], TG_REDUCE_SUM);
}

static tg_tensor *fn_cancel(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *y = tg_add_scalar(tp, tg_add_scalar(tp, in[0], 1e4), -1e4);
    return tg_sum_all(tp, tg_square(tp, y));
}

static int run_more(void)
{
    int bad = 0;
    enum { N = 4 };
    double xv[N];
    for (int i = 0; i < N; i++) xv[i] = 1 + 0.5 * sin(i);
    tg_tensor *x = tg_tensor_from_f64(TG_F64, 1, (int64_t[]){N}, xv);

    /* Hessian against its closed form. */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *f = rosenbrock(tp, x);
    tg_tensor *Hx = tg_hessian(tp, f, x);
    double Hc[N * N] = {0};
    for (int i = 0; i < N; i++) {
        if (i < N - 1) {
            Hc[i * N + i] += 2 - 400 * xv[i + 1] + 1200 * xv[i] * xv[i];
            Hc[i * N + i + 1] = Hc[(i + 1) * N + i] = -400 * xv[i];
        }
        if (i > 0) Hc[i * N + i] += 200;
    }
    tg_tensor *Hct = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){N, N}, Hc);
    printf("\nHessian of the Rosenbrock function at x_i = 1 + 0.5 sin(i), n = %d:\n", N);
    tg_tensor_print(stdout, "tg_hessian", Hx, 0);
    tg_compare_report r;
    bad |= !tg_compare(Hx, Hct, 1e-10, 0, &r);
    tg_compare_report_print(stdout, "tg_hessian vs closed form", &r);
    tg_tensor_free(Hct);
    tg_tensor_free(Hx);
    tg_tape_free(tp);

    /* gradgradcheck. */
    printf("\ngradgradcheck of the Rosenbrock function:\n");
    tg_tensor *in[1] = {x};
    bad |= tg_gradgradcheck_print(stdout, fn_rosen, NULL, 1, in, NULL) != TG_OK;

    /* Replay of an f32 network in f64. */
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    tg_tensor *mi[4] = {tg_tensor_rand(TG_F32, 2, (int64_t[]){2, 3}, &rng),
                        tg_tensor_randn(TG_F32, 2, (int64_t[]){3, 4}, &rng),
                        tg_tensor_randn(TG_F32, 2, (int64_t[]){4, 2}, &rng),
                        tg_tensor_rand(TG_F32, 2, (int64_t[]){2, 2}, &rng)};
    tg_replay_report rep;
    printf("\nAn f32 network replayed in f64:\n");
    bad |= tg_replay_f64(fn_mlp, NULL, 4, mi, 0, &rep) != TG_OK;
    tg_replay_report_print(stdout, &rep);
    bad |= rep.n_flagged != 0;
    tg_replay_report_free(&rep);
    /* A function that is fine in f64 and not in f32: (x + 1e4) - 1e4. */
    tg_tensor *small = tg_tensor_from_f64(TG_F64, 1, (int64_t[]){3}, (double[]){1e-3, 2e-3, 3e-3});
    printf("\n(x + 1e4) - 1e4, squared and summed, replayed:\n");
    bad |= tg_replay_f64(fn_cancel, NULL, 1, &small, 0, &rep) != TG_OK;
    tg_replay_report_print(stdout, &rep);
    bad |= rep.first_flagged != 2; /* $0, %0, then %1: the cancellation */
    tg_replay_report_free(&rep);
    tg_tensor_free(small);
    printf("\ngradcheck of the same f32 network (the weights):\n");
    tg_tensor_set_requires_grad(mi[1], true);
    tg_tensor_set_requires_grad(mi[2], true);
    bad |= tg_gradcheck_print(stdout, fn_mlp, NULL, 4, mi, NULL) != TG_OK;
    for (int i = 0; i < 4; i++) tg_tensor_free(mi[i]);

    /* The memory report of the B1 graph (n = 4). */
    tg_tensor *xs[N];
    for (int i = 0; i < N; i++) {
        xs[i] = tg_tensor_scalar(TG_F64, xv[i]);
        tg_tensor_set_requires_grad(xs[i], true);
    }
    tp = tg_tape_new(NULL);
    f = rosen_scalar(tp, N, xs);
    bad |= !f || tg_backward(tp, f) != TG_OK;
    printf("\nMemory report of the B1 graph (scalar Rosenbrock, n = %d), after backward:\n", N);
    tg_tape_print_ex(tp, stdout, TG_PRINT_MEMORY);
    tg_tape_free(tp);
    for (int i = 0; i < N; i++) tg_tensor_free(xs[i]);
    tg_tensor_free(x);
    if (bad) fprintf(stderr, "verify_delta --more: a check failed\n");
    return bad;
}

int main(int argc, char **argv)
{
    bool more = argc > 1 && strcmp(argv[1], "--more") == 0;
    int bad = run_delta(false, more);
    printf("\n");
    bad |= run_delta(true, more);
    if (more) bad |= run_more();
    return bad ? 1 : 0;
}
