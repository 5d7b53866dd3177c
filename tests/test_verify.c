/* The verification toolkit (tapegrad/verify.h, tapegrad/check_asserts.h):
 * - delta localisation on small versions of the five seed networks, each
 *   with one planted error in its hand backprop: the report must name
 *   exactly that tensor, and classify every other entry;
 * - Hessians, Jacobians and Hessian-vector products against closed forms
 *   (Rosenbrock, softmax, matmul, the fast-dropout unit) to 1e-10 in f64;
 * - gradgradcheck over every differentiable op;
 * - the f32/f64 replay and gradcheck's f32 mode;
 * - the memory report; the Check assertion helpers' messages. */
#include "common.h"

#include <tapegrad/check_asserts.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RTOL   1e-10 /* hand formula against autodiff, f64 */

static double sg(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static void fill(double *v, int n, uint64_t seed, double lo, double hi)
{
    tg_rng r;
    tg_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * tg_rng_uniform(&r);
}

/* ==========================================================================
 * Delta localisation on the seed networks.
 * A fully connected net of L layers: z_l = a_{l-1} W_l (+ b_l), a_l = f(z_l),
 * f = sigmoid (the last layer: sigmoid, identity, or logits into softmax
 * cross-entropy).  The hand backprop is plain C; a plant corrupts one hand
 * quantity right where it is computed, so everything computed from it later
 * inherits the error, as in a real derivation.
 * ========================================================================== */
enum { MAXL = 3, MAXE = 64 };
typedef enum loss_kind { L_SSE, L_BCE, L_LOGLIK, L_SOFTMAX_CE } loss_kind;
typedef enum plant_kind {
    P_NONE,
    P_DA_OUT_SIGN,   /* seed 000 eq. 13 as printed: dL/do = -t/o - (1-t)/(1-o) */
    P_DZ_SIGPRIME_A, /* seed 000 eq. 11 as printed: f'(o) = s(o)(1-s(o)) at layer */
    P_DB_ONE_SAMPLE, /* bias gradient of layer from sample 0 only (no sum over p) */
    P_DZ_EQ17,       /* seed 002 eq. 17 as printed: sum_{j=i}^K instead of j != i */
    P_DW_NO_INPUT,   /* dE/dw = delta, the factor x forgotten */
    P_DZ_NO_SIGPRIME /* the hidden delta without the sigmoid derivative */
} plant_kind;

typedef struct net_spec {
    int L, P;
    int N[MAXL + 1];
    bool bias;
    bool sig_out; /* sigmoid on the last layer (else identity / logits) */
    loss_kind loss;
    plant_kind plant;
    int plant_layer; /* 1..L */
    uint64_t seed;
} net_spec;

typedef struct net {
    net_spec s;
    tg_tape *tp;
    tg_tensor *x, *t, *W[MAXL + 1], *b[MAXL + 1]; /* user-owned */
    tg_tensor *z[MAXL + 1], *a[MAXL + 1], *loss;  /* tape */
    double hx[64], ht[64], hW[MAXL + 1][64], hb[MAXL + 1][64];
    double hz[MAXL + 1][64], ha[MAXL + 1][64];
    /* the entries, in walk order, and their hand tensors */
    int n;
    tg_delta_entry e[MAXE];
    char labels[MAXE][40];
    int planted;     /* index of the corrupted entry, -1 */
    bool corrupting; /* the plant feeds the hand values computed after it */
} net;

#define AT(m, cols, r, c) ((m)[(r) * (cols) + (c)])

static void add_entry(net *nt, tg_tensor *t, const double *hand, const char *what, int layer,
                      bool planted)
{
    ck_assert_int_lt(nt->n, MAXE);
    int i = nt->n++;
    if (strcmp(what, "delta") == 0)
        snprintf(nt->labels[i], sizeof nt->labels[i], "delta_%d = dL/dz_%d", layer, layer);
    else
        snprintf(nt->labels[i], sizeof nt->labels[i], "dL/d%s_%d", what, layer);
    nt->e[i].tensor = t;
    nt->e[i].hand = tt_from(TG_F64, tg_tensor_ndim(t), tg_tensor_shape(t), hand);
    nt->e[i].label = nt->labels[i];
    if (planted) nt->planted = i;
}

static void net_build(net *nt, const net_spec *s)
{
    memset(nt, 0, sizeof *nt);
    nt->s = *s;
    nt->planted = -1;
    const int L = s->L, P = s->P;
    const int *N = s->N;
    fill(nt->hx, P * N[0], s->seed, -1, 1);
    if (s->loss == L_SOFTMAX_CE) { /* one-hot rows, classes 0, 1, 0, ... */
        for (int p = 0; p < P; p++)
            for (int c = 0; c < N[L]; c++) AT(nt->ht, N[L], p, c) = c == p % 2;
    } else {
        fill(nt->ht, P * N[L], s->seed + 1, 0.05, 0.95);
    }
    for (int l = 1; l <= L; l++) {
        fill(nt->hW[l], N[l - 1] * N[l], s->seed + 10 + l, -1.5, 1.5);
        fill(nt->hb[l], N[l], s->seed + 20 + l, -0.5, 0.5);
    }

    /* Hand forward. */
    memcpy(nt->ha[0], nt->hx, sizeof(double) * (size_t)(P * N[0]));
    for (int l = 1; l <= L; l++) {
        bool act = l < L || s->sig_out;
        for (int p = 0; p < P; p++)
            for (int o = 0; o < N[l]; o++) {
                double v = s->bias ? nt->hb[l][o] : 0;
                for (int i = 0; i < N[l - 1]; i++)
                    v += AT(nt->ha[l - 1], N[l - 1], p, i) * AT(nt->hW[l], N[l], i, o);
                AT(nt->hz[l], N[l], p, o) = v;
                AT(nt->ha[l], N[l], p, o) = act ? sg(v) : v;
            }
    }

    /* The same network on a tape. */
    tg_tape *tp = nt->tp = tg_tape_new(NULL);
    ck_assert_ptr_nonnull(tp);
    nt->x = tt_from(TG_F64, 2, TT_SHAPE(P, N[0]), nt->hx);
    nt->t = tt_from(TG_F64, 2, TT_SHAPE(P, N[L]), nt->ht);
    tg_tensor *a = nt->x;
    for (int l = 1; l <= L; l++) {
        nt->W[l] = tt_from(TG_F64, 2, TT_SHAPE(N[l - 1], N[l]), nt->hW[l]);
        tg_tensor_set_requires_grad(nt->W[l], true);
        tg_tensor *z = tg_matmul(tp, a, nt->W[l]);
        if (s->bias) {
            nt->b[l] = tt_from(TG_F64, 1, TT_SHAPE(N[l]), nt->hb[l]);
            tg_tensor_set_requires_grad(nt->b[l], true);
            z = tg_add(tp, z, nt->b[l]);
        }
        nt->z[l] = z;
        bool act = l < L || s->sig_out;
        nt->a[l] = act ? tg_sigmoid(tp, z) : z;
        a = nt->a[l];
    }
    switch (s->loss) {
    case L_SSE:
        nt->loss = tg_sse(tp, nt->a[L], nt->t);
        break;
    case L_BCE:
        nt->loss = tg_bce(tp, nt->a[L], nt->t, TG_REDUCE_SUM);
        break;
    case L_LOGLIK: /* seed 001: C = sum y log h + (1-y) log(1-h), maximised */
        nt->loss = tg_neg(tp, tg_bce(tp, nt->a[L], nt->t, TG_REDUCE_SUM));
        break;
    case L_SOFTMAX_CE:
        nt->loss = tg_softmax_cross_entropy(tp, nt->z[L], nt->t, TG_REDUCE_SUM);
        break;
    }
    ck_assert_msg(nt->loss != NULL, "%s", tg_tape_error(tp));

    /* Hand backward, one quantity at a time, entries in walk order. */
    double da[64], dz[64], dW[64], db[64];
    const double *aL = nt->ha[L], *t = nt->ht;
    int nL = P * N[L];
    nt->corrupting = s->plant != P_DB_ONE_SAMPLE && s->plant != P_DW_NO_INPUT;
    if (s->loss == L_SOFTMAX_CE) {
        /* eqs 16-20: dE/dz = y - t (one-hot t), y = softmax(z) by rows */
        for (int p = 0; p < P; p++) {
            double m = -INFINITY, sum = 0, y[8];
            for (int c = 0; c < N[L]; c++) m = fmax(m, AT(nt->hz[L], N[L], p, c));
            for (int c = 0; c < N[L]; c++) sum += y[c] = exp(AT(nt->hz[L], N[L], p, c) - m);
            for (int c = 0; c < N[L]; c++) {
                y[c] /= sum;
                AT(dz, N[L], p, c) = y[c] - AT(t, N[L], p, c);
            }
            if (s->plant == P_DZ_EQ17 && s->plant_layer == L)
                for (int i = 0; i < N[L]; i++) { /* -t_i(1 - y_i) + sum_{j=i}^K t_j y_i */
                    double v = -AT(t, N[L], p, i) * (1 - y[i]);
                    for (int j = i; j < N[L]; j++) v += AT(t, N[L], p, j) * y[i];
                    AT(dz, N[L], p, i) = v;
                }
        }
    } else {
        for (int k = 0; k < nL; k++) {
            double o = aL[k];
            switch (s->loss) {
            case L_SSE:
                da[k] = o - t[k];
                break;
            case L_BCE: /* eq 13, right form */
                da[k] = s->plant == P_DA_OUT_SIGN ? -t[k] / o - (1 - t[k]) / (1 - o)
                                                  : -t[k] / o + (1 - t[k]) / (1 - o);
                break;
            default: /* d/dh of y log h + (1 - y) log(1 - h) */
                da[k] = t[k] / o - (1 - t[k]) / (1 - o);
                break;
            }
            dz[k] = s->sig_out ? da[k] * o * (1 - o) : da[k];
        }
        add_entry(nt, nt->a[L], da, "a", L, s->plant == P_DA_OUT_SIGN);
    }
    for (int l = L; l >= 1; l--) {
        int ni = N[l - 1], no = N[l];
        bool planted_dz =
            l == s->plant_layer &&
            (s->plant == P_DZ_EQ17 || s->plant == P_DZ_SIGPRIME_A || s->plant == P_DZ_NO_SIGPRIME);
        add_entry(nt, nt->z[l], dz, "delta", l, planted_dz);
        if (s->bias) {
            for (int o = 0; o < no; o++) {
                db[o] = 0;
                int np = s->plant == P_DB_ONE_SAMPLE && s->plant_layer == l ? 1 : P;
                for (int p = 0; p < np; p++) db[o] += AT(dz, no, p, o);
            }
            add_entry(nt, nt->b[l], db, "b", l, s->plant == P_DB_ONE_SAMPLE && s->plant_layer == l);
        }
        for (int i = 0; i < ni; i++)
            for (int o = 0; o < no; o++) {
                double v = 0;
                for (int p = 0; p < P; p++)
                    v += (s->plant == P_DW_NO_INPUT && s->plant_layer == l
                              ? 1.0
                              : AT(nt->ha[l - 1], ni, p, i)) *
                         AT(dz, no, p, o);
                AT(dW, no, i, o) = v;
            }
        add_entry(nt, nt->W[l], dW, "W", l, s->plant == P_DW_NO_INPUT && s->plant_layer == l);
        /* da_{l-1} = dz W^T, then dz_{l-1} = da (.) f'(z_{l-1}) */
        for (int p = 0; p < P; p++)
            for (int i = 0; i < ni; i++) {
                double v = 0;
                for (int o = 0; o < no; o++) v += AT(dz, no, p, o) * AT(nt->hW[l], no, i, o);
                AT(da, ni, p, i) = v;
            }
        add_entry(nt, l > 1 ? nt->a[l - 1] : nt->x, da, "a", l - 1, false);
        if (l == 1) break;
        for (int k = 0; k < P * ni; k++) {
            double o = nt->ha[l - 1][k];
            double fp = o * (1 - o);
            if (s->plant_layer == l - 1 && s->plant == P_DZ_SIGPRIME_A) fp = sg(o) * (1 - sg(o));
            if (s->plant_layer == l - 1 && s->plant == P_DZ_NO_SIGPRIME) fp = 1;
            dz[k] = da[k] * fp;
        }
    }
}

static void net_free(net *nt)
{
    for (int i = 0; i < nt->n; i++) tg_tensor_free((tg_tensor *)nt->e[i].hand);
    tg_tape_free(nt->tp);
    tg_tensor_free(nt->x);
    tg_tensor_free(nt->t);
    for (int l = 1; l <= MAXL; l++) {
        tg_tensor_free(nt->W[l]);
        tg_tensor_free(nt->b[l]);
    }
}

/* Builds the net twice, without and with the plant: without, every entry
 * agrees (so the check is not vacuous); with, the planted entry is the
 * first divergence, the entries before it agree, and those after it are
 * not informative (the plant feeds them) or agree (it does not). */
static void check_localises(const net_spec *spec, const char *expect_label)
{
    net_spec clean = *spec;
    clean.plant = P_NONE;
    net nt;
    net_build(&nt, &clean);
    tg_delta_result res[MAXE];
    int first = 7;
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, nt.n, nt.e, RTOL, 0, res, &first), TG_OK);
    ck_assert_int_eq(first, -1);
    for (int i = 0; i < nt.n; i++) {
        ck_assert_int_eq(res[i].verdict, TG_DELTA_AGREES);
        ck_assert_int_eq(res[i].rank, i); /* the entries are listed in walk order */
        ck_assert_msg(!res[i].cmp.vacuous, "%s: vacuous", nt.e[i].label);
    }
    tg_ck_assert_deltas(nt.tp, nt.loss, nt.n, nt.e, RTOL, 0);
    net_free(&nt);

    net_build(&nt, spec);
    ck_assert_int_ge(nt.planted, 0);
    ck_assert_str_eq(nt.e[nt.planted].label, expect_label);
    tg_status st = tg_delta_check(nt.tp, nt.loss, nt.n, nt.e, RTOL, 0, res, &first);
    char text[4096];
    tg_delta_report_format(text, sizeof text, nt.n, nt.e, res);
    ck_assert_msg(st == TG_ERR_NUMERIC, "status %s\n%s", tg_strerror(st), text);
    ck_assert_msg(first == nt.planted, "first %d, planted %d (%s)\n%s", first, nt.planted,
                  expect_label, text);
    char want[80];
    snprintf(want, sizeof want, "first divergence: %s, element [", expect_label);
    ck_assert_msg(strstr(text, want) != NULL, "report lacks '%s':\n%s", want, text);
    for (int i = 0; i < nt.n; i++) {
        tg_delta_verdict v = res[i].verdict, e;
        if (i < nt.planted)
            e = TG_DELTA_AGREES;
        else if (i == nt.planted)
            e = TG_DELTA_DIVERGES;
        else if (nt.corrupting)
            e = TG_DELTA_NOT_INFORMATIVE;
        else /* a sibling at the same position agrees outright */
            e = res[i].position == res[nt.planted].position ? TG_DELTA_AGREES
                                                            : TG_DELTA_AGREES_UPSTREAM;
        ck_assert_msg(v == e, "entry %d (%s): %s, expected %s\n%s", i, nt.e[i].label,
                      tg_delta_verdict_name(v), tg_delta_verdict_name(e), text);
    }
    net_free(&nt);
}

/* Seed 000: 4 layers (3-4-3-2), sigmoid, no bias, cross-entropy; delta_j
 * with eq. 11's f'(o_j) in place of o_j(1 - o_j). */
START_TEST(test_delta_seed000)
{
    net_spec s = {.L = 3,
                  .P = 1,
                  .N = {3, 4, 3, 2},
                  .sig_out = true,
                  .loss = L_BCE,
                  .plant = P_DZ_SIGPRIME_A,
                  .plant_layer = 2,
                  .seed = 100};
    check_localises(&s, "delta_2 = dL/dz_2");
    /* and eq. 13's sign slip at the output (the worked example) */
    s.plant = P_DA_OUT_SIGN;
    check_localises(&s, "dL/da_3");
}
END_TEST

/* Seed 001: L layers with bias (3-4-3-2), two samples, the log-likelihood
 * cost; the bias gradient of layer 2 from one sample only.  Everything
 * after it was computed from the right delta: "agrees (upstream)". */
START_TEST(test_delta_seed001)
{
    net_spec s = {.L = 3,
                  .P = 2,
                  .N = {3, 4, 3, 2},
                  .bias = true,
                  .sig_out = true,
                  .loss = L_LOGLIK,
                  .plant = P_DB_ONE_SAMPLE,
                  .plant_layer = 2,
                  .seed = 200};
    check_localises(&s, "dL/db_2");
}
END_TEST

/* Seed 002: MLP with bias (4-5-3), three samples, softmax cross-entropy;
 * the output delta by eq. 17 as printed. */
START_TEST(test_delta_seed002)
{
    net_spec s = {.L = 2,
                  .P = 3,
                  .N = {4, 5, 3},
                  .bias = true,
                  .loss = L_SOFTMAX_CE,
                  .plant = P_DZ_EQ17,
                  .plant_layer = 2,
                  .seed = 300};
    check_localises(&s, "delta_2 = dL/dz_2");
}
END_TEST

/* Seed 003: one sigmoid unit with bias, squared error; dE/dw without the
 * factor x.  Its sibling dE/dx (same matmul) agrees. */
START_TEST(test_delta_seed003)
{
    net_spec s = {.L = 1,
                  .P = 1,
                  .N = {3, 1},
                  .bias = true,
                  .sig_out = true,
                  .loss = L_SSE,
                  .plant = P_DW_NO_INPUT,
                  .plant_layer = 1,
                  .seed = 400};
    check_localises(&s, "dL/dW_1");
}
END_TEST

/* Seed 004: two layers (2-3-2), identity output, squared error; the hidden
 * delta without the sigmoid derivative. */
START_TEST(test_delta_seed004)
{
    net_spec s = {.L = 2,
                  .P = 1,
                  .N = {2, 3, 2},
                  .loss = L_SSE,
                  .plant = P_DZ_NO_SIGPRIME,
                  .plant_layer = 1,
                  .seed = 500};
    check_localises(&s, "delta_1 = dL/dz_1");
}
END_TEST

/* Two siblings wrong at once (both operands of one matmul): both diverge,
 * the first one listed is reported first. */
START_TEST(test_delta_siblings_and_errors)
{
    net_spec s = {.L = 2, .P = 1, .N = {2, 3, 2}, .loss = L_SSE, .seed = 600};
    net nt;
    net_build(&nt, &s);
    /* entries: dL/da_2, delta_2, dL/dW_2, dL/da_1, delta_1, dL/dW_1, dL/da_0 */
    ck_assert_int_eq(nt.n, 7);
    tg_tensor_set_flat((tg_tensor *)nt.e[2].hand, 1, 0.5);
    tg_tensor_set_flat((tg_tensor *)nt.e[3].hand, 0, -3.0);
    tg_delta_result res[8];
    int first;
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, nt.n, nt.e, RTOL, 0, res, &first),
                     TG_ERR_NUMERIC);
    ck_assert_int_eq(first, 2);
    ck_assert_int_eq(res[2].verdict, TG_DELTA_DIVERGES);
    ck_assert_int_eq(res[3].verdict, TG_DELTA_DIVERGES);
    ck_assert_int_eq(res[2].position, res[3].position);
    ck_assert_int_eq(res[2].cmp.worst_index, 1);
    ck_assert_int_eq(res[3].cmp.worst_index, 0);
    ck_assert_double_eq(res[3].cmp.worst_a, -3.0);
    ck_assert_int_eq(res[4].verdict, TG_DELTA_AGREES_UPSTREAM);
    ck_assert_str_eq(res[0].ref, "%2"); /* identity output: z_2 itself, node 2 */
    ck_assert_str_eq(res[2].ref, "$2"); /* W_2: the third input used (x, W_1, W_2) */
    /* the loss itself: its adjoint is 1, position after the last node */
    tg_tensor *one = tt_from(TG_F64, 0, NULL, TT_VALUES(1.0));
    tg_delta_entry le = {nt.loss, one, "dL/dL"};
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, 1, &le, 0, 0, res, &first), TG_OK);
    ck_assert_int_eq(res[0].position, tg_tape_usage(nt.tp).nodes);

    /* bad calls: clear statuses and messages, nothing written to the tape */
    tg_delta_entry bad = {nt.W[1], one, "W1 vs scalar"};
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, 1, &bad, RTOL, 0, res, NULL), TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "W1 vs scalar"));
    tg_tensor *stray = tt_from(TG_F64, 0, NULL, TT_VALUES(2.0));
    tg_delta_entry off = {stray, one, "stray"};
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, 1, &off, RTOL, 0, res, NULL), TG_ERR_TAPE);
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.a[2], 1, &le, RTOL, 0, res, NULL), TG_ERR_NOT_SCALAR);
    ck_assert_int_eq(tg_delta_check(NULL, nt.loss, 1, &le, RTOL, 0, res, NULL), TG_ERR_NULL);
    ck_assert_int_eq(tg_delta_check(nt.tp, nt.loss, 1, NULL, RTOL, 0, res, NULL), TG_ERR_NULL);
    ck_assert_int_eq(tg_tape_status(nt.tp), TG_OK);
    tg_tensor_free(one);
    tg_tensor_free(stray);
    net_free(&nt);
}
END_TEST

/* ==========================================================================
 * Higher order against closed forms.
 * ========================================================================== */

/* Extended Rosenbrock f = sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2, a = 1,
 * b = 100, written with whole-tensor ops (slices): its Hessian is
 * tridiagonal, H_ii = 2 - 4b x_{i+1} + 12 b x_i^2 (i < n-1) + 2b (i > 0),
 * H_i,i+1 = -4 b x_i. */
static tg_tensor *rosenbrock(tg_tape *tp, tg_tensor *x)
{
    int64_t n = tg_tensor_numel(x);
    tg_tensor *x0 = tg_slice(tp, x, 0, 0, n - 1, 1), *x1 = tg_slice(tp, x, 0, 1, n, 1);
    tg_tensor *d = tg_sub(tp, x1, tg_square(tp, x0));
    tg_tensor *e = tg_rsub_scalar(tp, 1.0, x0);
    return tg_sum_all(tp, tg_add(tp, tg_mul_scalar(tp, tg_square(tp, d), 100.0), tg_square(tp, e)));
}

START_TEST(test_hessian_rosenbrock)
{
    enum { N = 6 };
    const double b = 100;
    double xv[N], H[N * N] = {0};
    for (int i = 0; i < N; i++) xv[i] = 1 + 0.5 * sin(i); /* the B1 point */
    for (int i = 0; i < N; i++) {
        if (i < N - 1) {
            H[i * N + i] += 2 - 4 * b * xv[i + 1] + 12 * b * xv[i] * xv[i];
            H[i * N + i + 1] = H[(i + 1) * N + i] = -4 * b * xv[i];
        }
        if (i > 0) H[i * N + i] += 2 * b;
    }
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(N), xv);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *f = rosenbrock(tp, x);
    tg_tensor *Hx = tg_hessian(tp, f, x);
    ck_assert_msg(Hx != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_tensor_ndim(Hx), 2);
    ck_assert_int_eq(tg_tensor_dim(Hx, 0), N);
    tg_ck_assert_values(Hx, H, N * N, RTOL, 0);

    /* The Hessian-vector product agrees with H v. */
    double vv[N], Hv[N];
    fill(vv, N, 7, -1, 1);
    for (int i = 0; i < N; i++) {
        Hv[i] = 0;
        for (int j = 0; j < N; j++) Hv[i] += H[i * N + j] * vv[j];
    }
    tg_tensor *v = tt_from(TG_F64, 1, TT_SHAPE(N), vv), *out = NULL;
    ck_assert_int_eq(tg_hvp(tp, f, 1, &x, &v, &out, false), TG_OK);
    tg_ck_assert_values(out, Hv, N, RTOL, 0);
    /* a direction of the wrong shape is a clean error */
    tg_tensor *v2 = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    ck_assert_int_ne(tg_hvp(tp, f, 1, &x, &v2, &out, false), TG_OK);
    tt_assert_tape_error(tp, TG_ERR_SHAPE, "hvp", "direction 0");
    ck_assert_ptr_null(tg_hessian(tp, f, x)); /* the tape is in error */
    tg_tensor_free(v2);
    tg_tensor_free(v);
    tg_tensor_free(Hx);
    tg_tensor_free(x);
    tg_tape_free(tp);
}
END_TEST

/* Seed 002 eqs 15-20: the Jacobian of softmax is diag(y) - y y^T. */
START_TEST(test_jacobian_softmax)
{
    enum { K = 5 };
    double xv[K], y[K], J[K * K], m = -INFINITY, s = 0;
    fill(xv, K, 21, -2, 2);
    for (int i = 0; i < K; i++) m = fmax(m, xv[i]);
    for (int i = 0; i < K; i++) s += y[i] = exp(xv[i] - m);
    for (int i = 0; i < K; i++) y[i] /= s;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) J[i * K + j] = (i == j ? y[i] : 0) - y[i] * y[j];
    tg_tensor *x = tt_from(TG_F64, 1, TT_SHAPE(K), xv);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *sm = tg_softmax(tp, x, 0);
    tg_tensor *Jx = tg_jacobian(tp, sm, x);
    ck_assert_msg(Jx != NULL, "%s", tg_tape_error(tp));
    tg_ck_assert_values(Jx, J, K * K, RTOL, 0);
    /* rows of a batch do not interact: the Jacobian of a (2, K) softmax over
     * the last axis is block diagonal with the same blocks */
    tg_tensor *x2 = tt_from(TG_F64, 2, TT_SHAPE(2, K), (double[2 * K]){0});
    for (int i = 0; i < K; i++) {
        tg_tensor_set_flat(x2, i, xv[i]);
        tg_tensor_set_flat(x2, K + i, xv[i]);
    }
    tg_tensor *J2 = tg_jacobian(tp, tg_softmax(tp, x2, 1), x2);
    ck_assert_ptr_nonnull(J2);
    for (int r = 0; r < 2 * K; r++)
        for (int c = 0; c < 2 * K; c++) {
            double e = r / K == c / K ? J[(r % K) * K + c % K] : 0;
            double g = tg_tensor_get_flat(J2, r * 2 * K + c);
            ck_assert_msg(fabs(g - e) <= RTOL * fabs(e) + 1e-300, "J2[%d,%d] %.17g vs %.17g", r, c,
                          g, e);
        }
    tg_tensor_free(J2);
    tg_tensor_free(x2);
    tg_tensor_free(Jx);
    tg_tensor_free(x);
    tg_tape_free(tp);
}
END_TEST

/* f(A, B) = 1/2 ||A B||^2: grad_A = (AB) B^T, grad_B = A^T (AB); in the
 * direction (U, V) the Hessian-vector product is
 *   H_A = (U B + A V) B^T + (A B) V^T,  H_B = U^T (A B) + A^T (U B + A V). */
static void mm(int m, int k, int n, const double *a, bool ta, const double *b, bool tb, double *c)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = s;
        }
}

START_TEST(test_hvp_matmul)
{
    enum { M = 3, K = 4, N = 2 };
    double A[M * K], B[K * N], U[M * K], V[K * N];
    fill(A, M * K, 31, -1, 1);
    fill(B, K * N, 32, -1, 1);
    fill(U, M * K, 33, -1, 1);
    fill(V, K * N, 34, -1, 1);
    double AB[M * N], UB[M * N], AV[M * N], S[M * N], HA[M * K], HB[K * N], t1[M * K], t2[K * N];
    mm(M, K, N, A, false, B, false, AB);
    mm(M, K, N, U, false, B, false, UB);
    mm(M, K, N, A, false, V, false, AV);
    for (int i = 0; i < M * N; i++) S[i] = UB[i] + AV[i];
    mm(M, N, K, S, false, B, true, HA);  /* (UB + AV) B^T */
    mm(M, N, K, AB, false, V, true, t1); /* (AB) V^T */
    for (int i = 0; i < M * K; i++) HA[i] += t1[i];
    mm(K, M, N, U, true, AB, false, HB); /* U^T (AB) */
    mm(K, M, N, A, true, S, false, t2);  /* A^T (UB + AV) */
    for (int i = 0; i < K * N; i++) HB[i] += t2[i];

    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(M, K), A),
              *b = tt_from(TG_F64, 2, TT_SHAPE(K, N), B);
    tg_tensor *u = tt_from(TG_F64, 2, TT_SHAPE(M, K), U),
              *v = tt_from(TG_F64, 2, TT_SHAPE(K, N), V);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *f = tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, tg_matmul(tp, a, b))), 0.5);
    tg_tensor *xs[2] = {a, b}, *vs[2] = {u, v}, *out[2];
    ck_assert_int_eq(tg_hvp(tp, f, 2, xs, vs, out, false), TG_OK);
    tg_ck_assert_values(out[0], HA, M * K, RTOL, 0);
    tg_ck_assert_values(out[1], HB, K * N, RTOL, 0);
    /* the transposed-operand form gives the same (A^T stored as (K, M)) */
    tg_tape_reset(tp);
    double At[K * M], Ut[K * M];
    for (int i = 0; i < M; i++)
        for (int p = 0; p < K; p++) At[p * M + i] = A[i * K + p], Ut[p * M + i] = U[i * K + p];
    tg_tensor *at = tt_from(TG_F64, 2, TT_SHAPE(K, M), At),
              *ut = tt_from(TG_F64, 2, TT_SHAPE(K, M), Ut);
    f = tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, tg_matmul_t(tp, at, b, true, false))), 0.5);
    tg_tensor *xs2[2] = {at, b}, *vs2[2] = {ut, v};
    ck_assert_int_eq(tg_hvp(tp, f, 2, xs2, vs2, out, false), TG_OK);
    double HAt[K * M];
    for (int i = 0; i < M; i++)
        for (int p = 0; p < K; p++) HAt[p * M + i] = HA[i * K + p];
    tg_ck_assert_values(out[0], HAt, K * M, RTOL, 0);
    tg_ck_assert_values(out[1], HB, K * N, RTOL, 0);
    tg_tensor_free(at);
    tg_tensor_free(ut);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(u);
    tg_tensor_free(v);
    tg_tape_free(tp);
}
END_TEST

/* Seed 000 eqs 25-28, one unit: o = s(n'), n' = mu / S, S = sqrt(1 + c s2),
 * c = pi/8, mu = p sum w_j o_j, s2 = q sum w_j^2 o_j^2, q = p(1-p).  With
 * a_j = p o_j and b_j = ds2/dw_j = 2 q w_j o_j^2:
 *   dn'/dw_j = a_j / S - (c/2) mu b_j / S^3
 *   d2n'/dw_j dw_k = -(c/2)(a_j b_k + a_k b_j) / S^3
 *                    - c q mu o_j^2 [j = k] / S^3 + (3c^2/4) mu b_j b_k / S^5
 *   d2o/dw_j dw_k = s'(n') d2n' + s''(n') dn'_j dn'_k,
 * s' = o(1-o), s'' = o(1-o)(1-2o). */
START_TEST(test_hessian_fast_dropout)
{
    enum { J = 4 };
    const double p = 0.8, q = p * (1 - p), c = 3.14159265358979323846 / 8;
    double w[J], oj[J];
    fill(w, J, 41, -1.5, 1.5);
    fill(oj, J, 42, 0.1, 0.9);
    double mu = 0, s2 = 0, a[J], b[J], dn[J], H[J * J];
    for (int j = 0; j < J; j++) {
        mu += p * w[j] * oj[j];
        s2 += q * w[j] * w[j] * oj[j] * oj[j];
        a[j] = p * oj[j];
        b[j] = 2 * q * w[j] * oj[j] * oj[j];
    }
    double S = sqrt(1 + c * s2), o = sg(mu / S);
    for (int j = 0; j < J; j++) dn[j] = a[j] / S - c / 2 * mu * b[j] / (S * S * S);
    for (int j = 0; j < J; j++)
        for (int k = 0; k < J; k++) {
            double d2 = -c / 2 * (a[j] * b[k] + a[k] * b[j]) / (S * S * S) +
                        0.75 * c * c * mu * b[j] * b[k] / pow(S, 5);
            if (j == k) d2 -= c * q * mu * oj[j] * oj[j] / (S * S * S);
            H[j * J + k] = o * (1 - o) * d2 + o * (1 - o) * (1 - 2 * o) * dn[j] * dn[k];
        }
    tg_tensor *tw = tt_from(TG_F64, 2, TT_SHAPE(J, 1), w),
              *to = tt_from(TG_F64, 2, TT_SHAPE(1, J), oj);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *tmu = tg_mul_scalar(tp, tg_matmul(tp, to, tw), p);
    tg_tensor *ts2 = tg_mul_scalar(tp, tg_matmul(tp, tg_square(tp, to), tg_square(tp, tw)), q);
    tg_tensor *tn = tg_div(tp, tmu, tg_sqrt(tp, tg_add_scalar(tp, tg_mul_scalar(tp, ts2, c), 1.0)));
    tg_tensor *tout = tg_sigmoid(tp, tn);
    tg_tensor *Hw = tg_hessian(tp, tout, tw);
    ck_assert_msg(Hw != NULL, "%s", tg_tape_error(tp));
    tg_ck_assert_values(Hw, H, J * J, RTOL, 0);
    tg_tensor_free(Hw);
    tg_tensor_free(tw);
    tg_tensor_free(to);
    tg_tape_free(tp);
}
END_TEST

/* ==========================================================================
 * gradgradcheck over every differentiable op.  Each op's output is cubed
 * (and summed against gradcheck's random r), so that even an op linear in
 * its inputs has a non-zero second derivative (a square would not do for
 * sqrt): the check then runs the op's backward rule recorded (create-graph
 * mode) and differentiates it again.
 * ========================================================================== */
typedef struct gg_case {
    const char *name;
    int n;
    int ndim[3];
    int64_t shape[3][4];
    double lo, hi; /* input range */
    tg_tensor *(*f)(tg_tape *tp, tg_tensor *const *in);
} gg_case;

#define F(name) static tg_tensor *name(tg_tape *tp, tg_tensor *const *in)
F(f_add)
{
    return tg_add(tp, in[0], in[1]);
}
F(f_sub)
{
    return tg_sub(tp, in[0], in[1]);
}
F(f_mul)
{
    return tg_mul(tp, in[0], in[1]);
}
F(f_div)
{
    return tg_div(tp, in[0], in[1]);
}
F(f_pow)
{
    return tg_pow(tp, in[0], in[1]);
}
F(f_maximum)
{
    return tg_maximum(tp, in[0], in[1]);
}
F(f_minimum)
{
    return tg_minimum(tp, in[0], in[1]);
}
F(f_add_scalar)
{
    return tg_add_scalar(tp, in[0], 0.7);
}
F(f_mul_scalar)
{
    return tg_mul_scalar(tp, in[0], -1.3);
}
F(f_rsub_scalar)
{
    return tg_rsub_scalar(tp, 2.0, in[0]);
}
F(f_rdiv_scalar)
{
    return tg_rdiv_scalar(tp, 1.5, in[0]);
}
F(f_pow_scalar)
{
    return tg_pow_scalar(tp, in[0], 2.5);
}
F(f_neg)
{
    return tg_neg(tp, in[0]);
}
F(f_exp)
{
    return tg_exp(tp, in[0]);
}
F(f_log)
{
    return tg_log(tp, in[0]);
}
F(f_sqrt)
{
    return tg_sqrt(tp, in[0]);
}
F(f_square)
{
    return tg_square(tp, in[0]);
}
F(f_abs)
{
    return tg_abs(tp, in[0]);
}
F(f_sigmoid)
{
    return tg_sigmoid(tp, in[0]);
}
F(f_tanh)
{
    return tg_tanh(tp, in[0]);
}
F(f_relu)
{
    return tg_relu(tp, in[0]);
}
F(f_softplus)
{
    return tg_softplus(tp, in[0]);
}
F(f_cast)
{
    return tg_cast(tp, in[0], TG_F64);
}
F(f_sum_all)
{
    return tg_sum_all(tp, in[0]);
}
F(f_mean_all)
{
    return tg_mean_all(tp, in[0]);
}
F(f_sum_axes)
{
    return tg_sum(tp, in[0], 1, (const int[]){1}, false);
}
F(f_mean_axes)
{
    return tg_mean(tp, in[0], 2, (const int[]){0, 2}, true);
}
F(f_max)
{
    return tg_max(tp, in[0], 1, false);
}
F(f_sum_to)
{
    return tg_sum_to(tp, in[0], 2, TT_SHAPE(1, 4));
}
F(f_reshape)
{
    return tg_reshape(tp, in[0], 2, TT_SHAPE(4, -1));
}
F(f_permute)
{
    return tg_permute_dims(tp, in[0], 3, (const int[]){2, 0, 1});
}
F(f_transpose)
{
    return tg_transpose(tp, in[0], 0, 1);
}
F(f_slice)
{
    return tg_slice(tp, in[0], 1, 1, 4, 2);
}
F(f_embed)
{
    return tg_embed(tp, in[0], 2, TT_SHAPE(3, 7), 1, 1, 2);
}
F(f_concat)
{
    return tg_concat(tp, 2, in, 0);
}
F(f_broadcast_to)
{
    return tg_broadcast_to(tp, in[0], 3, TT_SHAPE(2, 3, 4));
}
F(f_matmul)
{
    return tg_matmul(tp, in[0], in[1]);
}
F(f_matmul_batched)
{
    return tg_matmul(tp, in[0], in[1]);
}
F(f_matmul_t)
{
    return tg_matmul_t(tp, in[0], in[1], true, true);
}
F(f_softmax)
{
    return tg_softmax(tp, in[0], 1);
}
F(f_log_softmax)
{
    return tg_log_softmax(tp, in[0], -1);
}
F(f_sse)
{
    return tg_sse(tp, in[0], in[1]);
}
F(f_mse)
{
    return tg_mse(tp, in[0], in[1]);
}
F(f_bce)
{
    return tg_bce(tp, in[0], in[1], TG_REDUCE_MEAN);
}
F(f_bce_logits)
{
    return tg_bce_logits(tp, in[0], in[1], TG_REDUCE_SUM);
}
F(f_softmax_ce)
{
    return tg_softmax_cross_entropy(tp, in[0], in[1], TG_REDUCE_MEAN);
}
F(f_softmax_ce_labels)
{
    static const int32_t labels[3] = {2, 0, 3};
    return tt_xent_labels(tp, in[0], labels, 3, TG_REDUCE_SUM);
}
F(f_conv2d)
{
    return tg_conv2d(tp, in[0], in[1], in[2], 2, 1, 1, 1);
}
F(f_im2col)
{
    return tg_im2col(tp, in[0], 2, 2, 1, 1, 1, 0);
}
F(f_col2im)
{
    return tg_col2im_to(tp, in[0], 4, (const int64_t[4]){1, 2, 3, 3}, 2, 2, 1, 1, 0, 0);
}
F(f_max_pool2d)
{
    return tg_max_pool2d(tp, in[0], 2, 2, 2, 2, 0, 0);
}
F(f_avg_pool2d)
{
    return tg_avg_pool2d(tp, in[0], 3, 3, 2, 2, 1, 1);
}
F(f_flatten)
{
    return tg_flatten(tp, in[0]);
}
#undef F

#define S1(a)                                                                                      \
    {                                                                                              \
        a                                                                                          \
    }
#define SH(...)                                                                                    \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
static const gg_case k_gg[] = {
    {"add (broadcast)", 2, {2, 1}, {SH(3, 4), SH(4)}, -1, 1, f_add},
    {"sub (broadcast)", 2, {2, 2}, {SH(3, 1), SH(1, 4)}, -1, 1, f_sub},
    {"mul (broadcast)", 2, {2, 2}, {SH(3, 4), SH(3, 1)}, -1, 1, f_mul},
    {"div", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, 0.5, 2, f_div},
    {"pow", 2, {2, 1}, {SH(2, 3), SH(3)}, 0.5, 2, f_pow},
    {"maximum", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, -1, 1, f_maximum},
    {"minimum", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, -1, 1, f_minimum},
    {"add_scalar", 1, {2}, {SH(2, 3)}, -1, 1, f_add_scalar},
    {"mul_scalar", 1, {2}, {SH(2, 3)}, -1, 1, f_mul_scalar},
    {"rsub_scalar", 1, {2}, {SH(2, 3)}, -1, 1, f_rsub_scalar},
    {"rdiv_scalar", 1, {2}, {SH(2, 3)}, 0.5, 2, f_rdiv_scalar},
    {"pow_scalar", 1, {2}, {SH(2, 3)}, 0.5, 2, f_pow_scalar},
    {"neg", 1, {1}, {S1(5)}, -1, 1, f_neg},
    {"exp", 1, {1}, {S1(5)}, -1, 1, f_exp},
    {"log", 1, {1}, {S1(5)}, 0.5, 2, f_log},
    {"sqrt", 1, {1}, {S1(5)}, 0.5, 2, f_sqrt},
    {"square", 1, {1}, {S1(5)}, -1, 1, f_square},
    {"abs", 1, {1}, {S1(5)}, -1, 1, f_abs},
    {"sigmoid", 1, {1}, {S1(5)}, -2, 2, f_sigmoid},
    {"tanh", 1, {1}, {S1(5)}, -2, 2, f_tanh},
    {"relu", 1, {1}, {S1(5)}, -1, 1, f_relu},
    {"softplus", 1, {1}, {S1(5)}, -2, 2, f_softplus},
    {"cast", 1, {1}, {S1(5)}, -1, 1, f_cast},
    {"sum_all", 1, {2}, {SH(2, 3)}, -1, 1, f_sum_all},
    {"mean_all", 1, {2}, {SH(2, 3)}, -1, 1, f_mean_all},
    {"sum axes", 1, {3}, {SH(2, 3, 2)}, -1, 1, f_sum_axes},
    {"mean axes keepdim", 1, {3}, {SH(2, 3, 2)}, -1, 1, f_mean_axes},
    {"max", 1, {2}, {SH(3, 4)}, -1, 1, f_max},
    {"sum_to", 1, {2}, {SH(3, 4)}, -1, 1, f_sum_to},
    {"reshape", 1, {2}, {SH(2, 4)}, -1, 1, f_reshape},
    {"permute", 1, {3}, {SH(2, 3, 2)}, -1, 1, f_permute},
    {"transpose", 1, {2}, {SH(2, 3)}, -1, 1, f_transpose},
    {"slice", 1, {2}, {SH(2, 5)}, -1, 1, f_slice},
    {"embed", 1, {2}, {SH(3, 3)}, -1, 1, f_embed},
    {"concat", 2, {2, 2}, {SH(1, 3), SH(2, 3)}, -1, 1, f_concat},
    {"broadcast_to", 1, {2}, {SH(3, 1)}, -1, 1, f_broadcast_to},
    {"matmul", 2, {2, 2}, {SH(2, 3), SH(3, 2)}, -1, 1, f_matmul},
    {"matmul batched", 2, {3, 2}, {SH(2, 2, 3), SH(3, 2)}, -1, 1, f_matmul_batched},
    {"matmul_t", 2, {2, 2}, {SH(3, 2), SH(4, 3)}, -1, 1, f_matmul_t},
    {"softmax", 1, {2}, {SH(2, 4)}, -2, 2, f_softmax},
    {"log_softmax", 1, {2}, {SH(2, 4)}, -2, 2, f_log_softmax},
    {"sse", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, -1, 1, f_sse},
    {"mse", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, -1, 1, f_mse},
    {"bce", 2, {1, 1}, {S1(4), S1(4)}, 0.2, 0.8, f_bce},
    {"bce_logits", 2, {1, 1}, {S1(4), S1(4)}, 0.2, 0.8, f_bce_logits},
    {"softmax_cross_entropy", 2, {2, 2}, {SH(2, 3), SH(2, 3)}, 0.1, 1, f_softmax_ce},
    {"softmax_cross_entropy_labels", 1, {2}, {SH(3, 4)}, -1, 1, f_softmax_ce_labels},
    {"conv2d", 3, {4, 4, 1}, {SH(1, 2, 4, 3), SH(2, 2, 2, 2), S1(2)}, -1, 1, f_conv2d},
    {"im2col", 1, {4}, {SH(1, 2, 3, 3)}, -1, 1, f_im2col},
    {"col2im", 1, {2}, {SH(8, 4)}, -1, 1, f_col2im},
    {"max_pool2d", 1, {4}, {SH(1, 2, 4, 4)}, -1, 1, f_max_pool2d},
    {"avg_pool2d", 1, {4}, {SH(1, 1, 4, 5)}, -1, 1, f_avg_pool2d},
    {"flatten", 1, {4}, {SH(2, 1, 2, 2)}, -1, 1, f_flatten},
};

static tg_tensor *gg_squared(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    const gg_case *c = ctx;
    tg_tensor *y = c->f(tp, in);
    return tg_mul(tp, tg_square(tp, y), y);
}

START_TEST(test_gradgradcheck_every_op)
{
    const gg_case *c = &k_gg[_i];
    tg_tensor *in[3] = {NULL, NULL, NULL};
    for (int k = 0; k < c->n; k++)
        in[k] =
            tt_param(c->ndim[k], c->shape[k], 1000 + 10 * (uint64_t)_i + (uint64_t)k, c->lo, c->hi);
    tg_compare_report rep[3];
    tg_status st = tg_gradgradcheck(gg_squared, (void *)c, c->n, in, NULL, rep);
    for (int k = 0; k < c->n; k++) {
        if (!rep[k].ok || rep[k].vacuous) {
            char label[96];
            snprintf(label, sizeof label, "gradgradcheck %s input %d", c->name, k);
            tg_compare_report_print(stderr, label, &rep[k]);
        }
    }
    ck_assert_msg(st == TG_OK, "%s: %s (%s)", c->name, tg_strerror(st), tg_last_error());
    for (int k = 0; k < c->n; k++) {
        ck_assert_msg(rep[k].numel > 0 && !rep[k].vacuous, "%s input %d: vacuous", c->name, k);
        ck_assert_msg(rep[k].n_skipped < rep[k].numel, "%s: all at kinks", c->name);
    }
    /* and through the Check assertion */
    tg_ck_assert_gradgradcheck(gg_squared, (void *)c, c->n, in);
    for (int k = 0; k < c->n; k++) tg_tensor_free(in[k]);
}
END_TEST

/* A wrong second derivative is caught: a custom cube op whose backward is
 * right in value (3 x^2 g) but built from a detached x, so create-graph
 * mode records a gradient whose own derivative misses the 6 x g term. */
static tg_status cube_backward(tg_tape *tp, const tg_node *n, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = tg_detach(tp, tg_node_input(n, 0));
    gin[0] = tg_mul(tp, g, tg_mul_scalar(tp, tg_square(tp, x), 3.0));
    return gin[0] ? TG_OK : tg_tape_status(tp);
}
static const tg_op k_bad_cube = {.name = "bad_cube", .arity = 1, .backward = cube_backward};

static tg_tensor *bad_cube(tg_tape *tp, tg_tensor *x)
{
    tg_tensor *in[1] = {x};
    if (!tg_tape_check_inputs(tp, "bad_cube", 1, in)) return NULL;
    tg_tensor *out = tg_tape_alloc(tp, tg_tensor_dtype(x), tg_tensor_ndim(x), tg_tensor_shape(x));
    if (!out) return NULL;
    for (int64_t i = 0; i < tg_tensor_numel(x); i++) {
        double v = tg_tensor_get_flat(x, i);
        tg_tensor_set_flat(out, i, v * v * v);
    }
    return tg_tape_record(tp, &k_bad_cube, 1, in, out, NULL, 0, 0, NULL);
}

static tg_tensor *fn_bad_cube(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return bad_cube(tp, in[0]);
}

START_TEST(test_gradgradcheck_catches)
{
    tg_tensor *x = tt_param(1, TT_SHAPE(4), 77, 0.5, 1.5);
    tg_compare_report rep;
    /* first derivatives are right ... */
    ck_assert_int_eq(tg_gradcheck(fn_bad_cube, NULL, 1, &x, NULL, &rep), TG_OK);
    /* ... second derivatives are not, and the report shows where */
    ck_assert_int_eq(tg_gradgradcheck(fn_bad_cube, NULL, 1, &x, NULL, &rep), TG_ERR_NUMERIC);
    ck_assert(!rep.ok);
    ck_assert_int_eq(rep.n_failed, 4);
    ck_assert_double_eq(rep.worst_a, 0.0); /* the detached x: analytic 0 */
    /* the message an assertion would print names the worst element */
    char msg[TG_CK_MSG];
    ck_assert(!tg_ck__gradcheck("bad_cube", true, fn_bad_cube, NULL, 1, &x, NULL, false, msg,
                                sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "bad_cube: gradgradcheck input 0: FAIL"));
    ck_assert_ptr_nonnull(strstr(msg, "worst at ["));
    tg_tensor_free(x);
}
END_TEST

/* ==========================================================================
 * Precision: f32 against f64.
 * ========================================================================== */
static tg_tensor *fn_mlp(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *h = tg_sigmoid(tp, tg_add(tp, tg_matmul(tp, in[0], in[1]), in[2]));
    return tg_mean_all(tp, tg_square(tp, tg_sub(tp, tg_matmul(tp, h, in[3]), in[4])));
}

START_TEST(test_replay_rounding)
{
    tg_tensor *in[5] = {
        tt_rand(TG_F32, 2, TT_SHAPE(3, 4), 1, -1, 1), tt_rand(TG_F32, 2, TT_SHAPE(4, 5), 2, -1, 1),
        tt_rand(TG_F32, 1, TT_SHAPE(5), 3, -1, 1), tt_rand(TG_F32, 2, TT_SHAPE(5, 2), 4, -1, 1),
        tt_rand(TG_F32, 2, TT_SHAPE(3, 2), 5, -1, 1)};
    tg_replay_report rep;
    ck_assert_int_eq(tg_replay_f64(fn_mlp, NULL, 5, in, 0, &rep), TG_OK);
    ck_assert_int_eq(rep.n, 5 + 7); /* 5 inputs, 7 nodes */
    ck_assert_int_eq(rep.n_flagged, 0);
    ck_assert_int_eq(rep.first_flagged, -1);
    ck_assert(!rep.structure_differs);
    double worst = 0;
    for (int k = 0; k < rep.n; k++) {
        /* f32 inputs convert exactly: no value gap at the inputs */
        if (k < 5) ck_assert_double_eq(rep.e[k].gap, 0.0);
        worst = fmax(worst, fmax(rep.e[k].gap, rep.e[k].adj_gap));
    }
    /* rounding is there but small: a few f32 epsilons */
    ck_assert_double_gt(worst, 0);
    ck_assert_double_lt(worst, 1e-5);
    ck_assert_str_eq(rep.e[5].label, "%0 = matmul  (3,5)");
    tg_replay_report_free(&rep);
    for (int k = 0; k < 5; k++) tg_tensor_free(in[k]);
}
END_TEST

/* (x + 1e4) - 1e4 in f32 loses most of x's digits: the gap starts at the
 * second add_scalar (%1), not at the nodes before it; the input's adjoint
 * (computed from the damaged values) is flagged too. */
static tg_tensor *fn_cancel(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    tg_tensor *y = tg_add_scalar(tp, tg_add_scalar(tp, in[0], 1e4), -1e4);
    return tg_sum_all(tp, tg_mul(tp, y, y));
}

START_TEST(test_replay_flags_cancellation)
{
    tg_tensor *x = tt_rand(TG_F64, 1, TT_SHAPE(6), 9, 0.001, 0.002);
    tg_replay_report rep;
    ck_assert_int_eq(tg_replay_f64(fn_cancel, NULL, 1, &x, 0, &rep), TG_OK);
    ck_assert_int_gt(rep.n_flagged, 0);
    /* entries: $0, %0 add 1e4, %1 add -1e4, %2 mul, %3 sum */
    ck_assert_int_eq(rep.n, 5);
    ck_assert_int_eq(rep.first_flagged, 2);
    ck_assert_double_lt(rep.e[1].gap, 1e-6); /* x + 1e4 itself is fine */
    ck_assert_double_gt(rep.e[2].gap, 1e-3);
    ck_assert_double_gt(rep.e[0].gap, 0); /* f64 inputs round to f32 */
    tg_replay_report_free(&rep);
    tg_replay_report_free(&rep); /* idempotent */
    ck_assert_int_eq(tg_replay_f64(NULL, NULL, 1, &x, 0, &rep), TG_ERR_NULL);
    tg_tensor_free(x);
}
END_TEST

/* gradcheck of an f32 graph: f32 analytic gradient against differences in
 * f64, and the report says so; a wrong f32 backward still fails. */
static tg_tensor *fn_cube(tg_tape *tp, tg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return tg_sum_all(tp, tg_mul(tp, tg_square(tp, in[0]), in[0]));
}

START_TEST(test_gradcheck_f32_mode)
{
    tg_tensor *in[5] = {
        tt_rand(TG_F32, 2, TT_SHAPE(3, 4), 1, -1, 1), tt_rand(TG_F32, 2, TT_SHAPE(4, 5), 2, -1, 1),
        tt_rand(TG_F32, 1, TT_SHAPE(5), 3, -1, 1), tt_rand(TG_F32, 2, TT_SHAPE(5, 2), 4, -1, 1),
        tt_rand(TG_F32, 2, TT_SHAPE(3, 2), 5, -1, 1)};
    tg_compare_report rep[5];
    ck_assert_int_eq(tg_gradcheck(fn_mlp, NULL, 5, in, NULL, rep), TG_OK);
    for (int k = 0; k < 5; k++) {
        ck_assert(rep[k].f32_vs_f64 && rep[k].ok && !rep[k].vacuous);
        ck_assert_int_eq(rep[k].numel, tg_tensor_numel(in[k]));
    }
    char text[512];
    tg_compare_report_format(text, sizeof text, "f32", &rep[1]);
    ck_assert_ptr_nonnull(strstr(text, "f32 analytic gradient against central differences "
                                       "evaluated in f64"));
    tg_ck_assert_gradcheck(fn_mlp, NULL, 5, in);
    /* the f32 side is really the f32 graph: its error shows at f64 tolerances */
    tg_gradcheck_options tight = {.rtol = 1e-12, .atol = 1e-14};
    ck_assert_int_eq(tg_gradcheck(fn_mlp, NULL, 5, in, &tight, rep), TG_ERR_NUMERIC);
    /* a wrong backward in f32 fails */
    tg_tensor *x = tt_rand(TG_F32, 1, TT_SHAPE(4), 8, 0.5, 1.5);
    ck_assert_int_eq(tg_gradcheck(fn_cube, NULL, 1, &x, NULL, rep), TG_OK);
    ck_assert_int_eq(tg_gradcheck(fn_bad_cube, NULL, 1, &x, NULL, rep), TG_OK);
    ck_assert_int_eq(tg_gradgradcheck(fn_bad_cube, NULL, 1, &x, NULL, rep), TG_ERR_NUMERIC);
    ck_assert(rep[0].f32_vs_f64);
    tg_tensor_free(x);
    for (int k = 0; k < 5; k++) tg_tensor_free(in[k]);
}
END_TEST

/* ==========================================================================
 * Memory report.
 * ========================================================================== */
START_TEST(test_memory_report)
{
    tg_tensor *x = tt_rand(TG_F64, 2, TT_SHAPE(3, 4), 1, -1, 1);
    tg_tensor *w = tt_param(2, TT_SHAPE(4, 5), 2, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *z = tg_matmul(tp, x, w);     /* %0 */
    tg_tensor *h = tg_sigmoid(tp, z);       /* %1 */
    tg_tensor *m = tg_max(tp, h, 1, false); /* %2: saves an arg-max mask */
    tg_tensor *L = tg_sum_all(tp, m);       /* %3 */
    ck_assert_ptr_nonnull(L);
    tg_node_memory mm0, mm1, mm2;
    ck_assert_int_eq(tg_tape_node_memory(tp, 0, &mm0), TG_OK);
    ck_assert_int_eq(tg_tape_node_memory(tp, 1, &mm1), TG_OK);
    ck_assert_int_eq(tg_tape_node_memory(tp, 2, &mm2), TG_OK);
    ck_assert_uint_eq(mm0.out_bytes, 3 * 5 * 8);
    ck_assert_uint_eq(mm0.user_bytes, (3 * 4 + 4 * 5) * 8);
    ck_assert_uint_eq(mm0.input_bytes, 0);
    ck_assert_uint_gt(mm0.attr_bytes, 0); /* matmul records its flags */
    ck_assert_uint_eq(mm1.input_bytes, 3 * 5 * 8);
    ck_assert_uint_eq(mm1.attr_bytes, 0);
    ck_assert_uint_eq(mm2.aux_bytes, 3 * 5 * 8); /* the mask, shaped like h */
    ck_assert_uint_eq(mm2.saved_bytes, mm2.attr_bytes + mm2.aux_bytes);
    ck_assert_int_eq(tg_tape_node_memory(tp, 4, &mm0), TG_ERR_ARG);
    ck_assert_int_eq(tg_tape_node_memory(tp, -1, &mm0), TG_ERR_ARG);
    ck_assert_int_eq(tg_tape_node_memory(NULL, 0, &mm0), TG_ERR_NULL);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    tg_tape_print_ex(tp, f, TG_PRINT_MEMORY);
    char buf[4096];
    rewind(f);
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "%2 = max(%1)  f64[3]"));
    ck_assert_ptr_nonnull(strstr(buf, "high-water"));
    char hw[64];
    snprintf(hw, sizeof hw, "high-water %zu B", tg_tape_usage(tp).high_water);
    ck_assert_msg(strstr(buf, hw) != NULL, "'%s' not in:\n%s", hw, buf);
    /* flags 0 is tg_tape_print */
    FILE *f1 = tmpfile(), *f2 = tmpfile();
    tg_tape_print_ex(tp, f1, 0);
    tg_tape_print(tp, f2);
    ck_assert_int_eq(ftell(f1), ftell(f2));
    fclose(f1);
    fclose(f2);
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
}
END_TEST

/* ==========================================================================
 * The Check assertion helpers: their failure messages.
 * ========================================================================== */
START_TEST(test_check_assert_messages)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2, 3));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 2.5, 3));
    char msg[TG_CK_MSG];
    ck_assert(tg_ck__close("a vs a", a, a, 0, 0, msg, sizeof msg));
    ck_assert(!tg_ck__close("a vs b", a, b, 1e-10, 0, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "a vs b: FAIL  3 elements, 1 out of tolerance"));
    ck_assert_ptr_nonnull(strstr(msg, "worst at [1]: 2 vs 2.5  abs err 0.5  rel err 0.2"));
    ck_assert(!tg_ck__values("v", a, TT_VALUES(1, 2), 2, 0, 0, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "3 elements, expected 2"));
    ck_assert(!tg_ck__close("null", a, NULL, 0, 0, msg, sizeof msg));
    /* a truncated buffer stays a string, and the full length is returned */
    char small[16];
    tg_compare_report r;
    ck_assert(!tg_compare(a, b, 0, 0, &r));
    size_t need = tg_compare_report_format(small, sizeof small, "a vs b", &r);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_uint_gt(need, 100);
    ck_assert_uint_eq(tg_compare_report_format(msg, sizeof msg, "a vs b", &r), need);
    ck_assert_uint_eq(strlen(msg), need);
    tg_ck_assert_close(a, a, 0, 0);
    tg_ck_assert_values(b, TT_VALUES(1, 2.5, 3), 3, 0, 0);
    /* the gradient assertion */
    tg_tensor *x = tt_param(1, TT_SHAPE(3), 5, -1, 1);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *y = tg_sum_all(tp, tg_square(tp, x));
    tg_tensor *two_x = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(0, 0, 0));
    for (int i = 0; i < 3; i++) tg_tensor_set_flat(two_x, i, 2 * tg_tensor_get_flat(x, i));
    tg_ck_assert_grad_matches(tp, y, x, two_x, RTOL, 0);
    ck_assert(!tg_ck__grad("dy/dx", tp, y, x, a, RTOL, 0, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "dy/dx: FAIL"));
    tg_tape_free(tp);
    tg_tensor_free(two_x);
    tg_tensor_free(x);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("delta");
    tcase_add_test(tc, test_delta_seed000);
    tcase_add_test(tc, test_delta_seed001);
    tcase_add_test(tc, test_delta_seed002);
    tcase_add_test(tc, test_delta_seed003);
    tcase_add_test(tc, test_delta_seed004);
    tcase_add_test(tc, test_delta_siblings_and_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("higher_order");
    tcase_add_test(tc, test_hessian_rosenbrock);
    tcase_add_test(tc, test_jacobian_softmax);
    tcase_add_test(tc, test_hvp_matmul);
    tcase_add_test(tc, test_hessian_fast_dropout);
    tcase_add_loop_test(tc, test_gradgradcheck_every_op, 0, LEN(k_gg));
    tcase_add_test(tc, test_gradgradcheck_catches);
    suite_add_tcase(s, tc);
    tc = tcase_create("precision");
    tcase_add_test(tc, test_replay_rounding);
    tcase_add_test(tc, test_replay_flags_cancellation);
    tcase_add_test(tc, test_gradcheck_f32_mode);
    suite_add_tcase(s, tc);
    tc = tcase_create("report");
    tcase_add_test(tc, test_memory_report);
    tcase_add_test(tc, test_check_assert_messages);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
