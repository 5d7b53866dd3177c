/* Optimizers: three steps of SGD (plain, momentum, weight decay) and Adam
 * against hand-computed updates, allocation-free steps, zero_grad,
 * convergence on a quadratic, errors. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* loss = sum_i a_i w_i^2 / 2 + sum_i c_i w_i over two parameters w1 (2,2)
 * and w2 (3), so grad = a w + c depends on w and every step differs. */
#define NA 4
#define NB 3
#define NW (NA + NB)
static const double k_a[NW] = {1.0, 2.0, 0.5, 3.0, 1.5, 0.25, 4.0};
static const double k_c[NW] = {0.1, -0.2, 0.3, 0.0, -0.5, 1.0, 0.05};
static const double k_w0[NW] = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 0.1};

typedef struct world {
    tg_tensor *w1, *w2, *a1, *c1, *a2, *c2;
    tg_tape *tp;
} world;

static void world_init(world *w, tg_dtype dt)
{
    w->w1 = tt_from(dt, 2, TT_SHAPE(2, 2), k_w0);
    w->w2 = tt_from(dt, 1, TT_SHAPE(NB), k_w0 + NA);
    w->a1 = tt_from(dt, 2, TT_SHAPE(2, 2), k_a);
    w->c1 = tt_from(dt, 2, TT_SHAPE(2, 2), k_c);
    w->a2 = tt_from(dt, 1, TT_SHAPE(NB), k_a + NA);
    w->c2 = tt_from(dt, 1, TT_SHAPE(NB), k_c + NA);
    tg_tensor_set_requires_grad(w->w1, true);
    tg_tensor_set_requires_grad(w->w2, true);
    w->tp = tg_tape_new(NULL);
}

static void world_free(world *w)
{
    tg_tensor *ts[] = {w->w1, w->w2, w->a1, w->c1, w->a2, w->c2};
    for (int i = 0; i < 6; i++) tg_tensor_free(ts[i]);
    tg_tape_free(w->tp);
}

static tg_tensor *quad(tg_tape *tp, tg_tensor *w, tg_tensor *a, tg_tensor *c)
{
    return tg_add(tp, tg_mul_scalar(tp, tg_sum_all(tp, tg_mul(tp, a, tg_square(tp, w))), 0.5),
                  tg_sum_all(tp, tg_mul(tp, c, w)));
}

/* Forward + backward; w2 takes part only when use_w2 (otherwise its .grad
 * keeps whatever it had, NULL before its first use). */
static double forward_backward(world *w, bool use_w2)
{
    tg_tape_reset(w->tp);
    tg_tensor *l = quad(w->tp, w->w1, w->a1, w->c1);
    if (use_w2) l = tg_add(w->tp, l, quad(w->tp, w->w2, w->a2, w->c2));
    ck_assert_msg(l != NULL, "%s", tg_tape_error(w->tp));
    ck_assert_int_eq(tg_backward(w->tp, l), TG_OK);
    return tg_tensor_get_flat(l, 0);
}

typedef struct hyper {
    bool adam;
    double lr, momentum, wd, b1, b2, eps;
} hyper;

/* The documented update rules (optim.h) in plain loops.  in_use[i] says
 * whether element i's parameter had a gradient at this step. */
typedef struct hand_state {
    double w[NW], v[NW], m[NW];
    int64_t t[NW];
} hand_state;

static void hand_step(hand_state *s, const hyper *h, const bool *in_use)
{
    for (int i = 0; i < NW; i++) {
        if (!in_use[i]) continue;
        double g = k_a[i] * s->w[i] + k_c[i] + h->wd * s->w[i];
        if (!h->adam) {
            if (h->momentum > 0) {
                s->v[i] = h->momentum * s->v[i] + g;
                g = s->v[i];
            }
            s->w[i] -= h->lr * g;
        } else {
            int64_t t = ++s->t[i];
            s->m[i] = h->b1 * s->m[i] + (1 - h->b1) * g;
            s->v[i] = h->b2 * s->v[i] + (1 - h->b2) * g * g;
            double mh = s->m[i] / (1 - pow(h->b1, (double)t));
            double vh = s->v[i] / (1 - pow(h->b2, (double)t));
            s->w[i] -= h->lr * mh / (sqrt(vh) + h->eps);
        }
    }
}

static tg_optim *make(const hyper *h, int n, tg_tensor *const *ps)
{
    return h->adam ? tg_adam_new(n, ps, h->lr, h->b1, h->b2, h->eps, h->wd)
                   : tg_sgd_new(n, ps, h->lr, h->momentum, h->wd);
}

static const hyper k_cases[] = {
    {false, 0.1, 0, 0, 0, 0, 0},            /* plain SGD */
    {false, 0.1, 0.9, 0, 0, 0, 0},          /* momentum */
    {false, 0.05, 0.9, 0.01, 0, 0, 0},      /* momentum + weight decay */
    {false, 0.2, 0, 0.1, 0, 0, 0},          /* weight decay alone */
    {true, 0.01, 0.9, 0, 0.9, 0.999, 1e-8}, /* Adam */
    {true, 0.05, 0, 0.1, 0.8, 0.99, 1e-3},  /* Adam + weight decay, big eps */
};

/* Three steps against the hand rule, to 1e-12.  In the second scenario w2
 * gets no gradient at step 1: it must be left alone, and its Adam bias
 * correction must count its own steps (t = 1 at its first update). */
START_TEST(test_against_hand)
{
    for (int c = 0; c < (int)(sizeof k_cases / sizeof k_cases[0]); c++)
        for (int late = 0; late < 2; late++) {
            const hyper *h = &k_cases[c];
            world w;
            world_init(&w, TG_F64);
            tg_tensor *ps[] = {w.w1, w.w2};
            tg_optim *o = make(h, 2, ps);
            ck_assert_msg(o != NULL, "%s", tg_last_error());
            hand_state s = {0};
            memcpy(s.w, k_w0, sizeof s.w);
            for (int step = 1; step <= 3; step++) {
                bool use_w2 = !late || step > 1;
                tg_optim_zero_grad(o);
                forward_backward(&w, use_w2);
                bool in_use[NW];
                for (int i = 0; i < NW; i++) in_use[i] = i < NA || use_w2;
                ck_assert_int_eq(tg_optim_step(o), TG_OK);
                hand_step(&s, h, in_use);
                char what[64];
                snprintf(what, sizeof what, "case %d%s step %d: w1", c, late ? " late" : "", step);
                tt_assert_values(what, w.w1, s.w, NA, 1e-12, 1e-14);
                what[strlen(what) - 1] = '2';
                tt_assert_values(what, w.w2, s.w + NA, NB, 1e-12, 1e-14);
            }
            tg_optim_free(o);
            world_free(&w);
        }
}
END_TEST

/* Numbers worked out on paper, independent of the rule's code above:
 * loss w^2 / 2 from w = 1, lr 0.1, momentum 0.9:
 *   v = 1,    w = 0.9;   v = 0.9 + 0.9 = 1.8,  w = 0.72;
 *   v = 1.62 + 0.72 = 2.34,  w = 0.486.
 * Adam's first step moves each weight by lr g / (|g| + eps): about lr,
 * against the gradient, whatever the gradient's size. */
START_TEST(test_paper_values)
{
    tg_tensor *w = tt_from(TG_F64, 1, TT_SHAPE(1), TT_VALUES(1.0));
    tg_tensor_set_requires_grad(w, true);
    tg_optim *o = tg_sgd_new(1, &w, 0.1, 0.9, 0);
    tg_tape *tp = tg_tape_new(NULL);
    const double expect[3] = {0.9, 0.72, 0.486};
    for (int s = 0; s < 3; s++) {
        tg_tape_reset(tp);
        ck_assert_int_eq(tg_backward(tp, tg_mul_scalar(tp, tg_sum_all(tp, tg_square(tp, w)), 0.5)),
                         TG_OK);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        ck_assert_msg(fabs(tg_tensor_get_flat(w, 0) - expect[s]) < 1e-15, "step %d: %.17g", s + 1,
                      tg_tensor_get_flat(w, 0));
    }
    tg_optim_free(o);
    tg_tensor_free(w);

    tg_tensor *v = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1, 1, 1));
    tg_tensor *scale = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(1e-3, 5, -200));
    tg_tensor_set_requires_grad(v, true);
    o = tg_adam_new(1, &v, 0.01, 0.9, 0.999, 1e-12, 0);
    tg_tape_reset(tp);
    ck_assert_int_eq(tg_backward(tp, tg_sum_all(tp, tg_mul(tp, scale, v))), TG_OK);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    tt_assert_values("adam first step", v, TT_VALUES(0.99, 0.99, 1.01), 3, 1e-9, 0);
    tg_optim_free(o);
    tg_tensor_free(v);
    tg_tensor_free(scale);
    tg_tape_free(tp);
}
END_TEST

/* f32 parameters: updated in double and rounded, agreeing with f64 to f32
 * precision over the three steps. */
START_TEST(test_f32_params)
{
    for (int c = 0; c < (int)(sizeof k_cases / sizeof k_cases[0]); c++) {
        world w;
        world_init(&w, TG_F32);
        tg_tensor *ps[] = {w.w1, w.w2};
        tg_optim *o = make(&k_cases[c], 2, ps);
        hand_state s = {0};
        memcpy(s.w, k_w0, sizeof s.w);
        bool all[NW];
        for (int i = 0; i < NW; i++) all[i] = true;
        for (int step = 0; step < 3; step++) {
            forward_backward(&w, true);
            ck_assert_int_eq(tg_optim_step(o), TG_OK);
            hand_step(&s, &k_cases[c], all);
        }
        ck_assert_int_eq(tg_tensor_dtype(w.w1), TG_F32);
        tt_assert_values("f32 w1", w.w1, s.w, NA, 1e-5, 1e-6);
        tt_assert_values("f32 w2", w.w2, s.w + NA, NB, 1e-5, 1e-6);
        tg_optim_free(o);
        world_free(&w);
    }
}
END_TEST

START_TEST(test_zero_grad)
{
    world w;
    world_init(&w, TG_F64);
    tg_tensor *ps[] = {w.w1, w.w2};
    tg_optim *o = tg_sgd_new(2, ps, 0.1, 0, 0);
    forward_backward(&w, false); /* w2 has no gradient yet */
    ck_assert_ptr_null(tg_tensor_grad(w.w2));
    tg_tensor *g = tg_tensor_grad(w.w1);
    ck_assert(tg_tensor_get_flat(g, 0) != 0);
    tg_optim_zero_grad(o);                     /* skips w2 */
    ck_assert_ptr_eq(tg_tensor_grad(w.w1), g); /* storage kept */
    tt_assert_values("zeroed", g, TT_VALUES(0, 0, 0, 0), 4, 0, 0);
    ck_assert_ptr_null(tg_tensor_grad(w.w2));
    /* a zero gradient: a plain SGD step changes nothing */
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    tt_assert_values("unchanged", w.w1, k_w0, NA, 0, 0);
    tt_assert_values("unchanged", w.w2, k_w0 + NA, NB, 0, 0);
    tg_optim_zero_grad(NULL);
    tg_optim_free(o);
    world_free(&w);
}
END_TEST

/* ---- a step allocates nothing --------------------------------------------------- */
static long g_allocs;
static void *count_malloc(size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return realloc(p, n);
}
static void count_free(void *p, void *c)
{
    (void)c;
    free(p);
}

START_TEST(test_step_allocates_nothing)
{
    tg_set_allocator(&(tg_allocator){count_malloc, count_realloc, count_free, NULL});
    for (int c = 0; c < (int)(sizeof k_cases / sizeof k_cases[0]); c++) {
        world w;
        world_init(&w, c % 2 ? TG_F32 : TG_F64);
        tg_tensor *ps[] = {w.w1, w.w2};
        long before = g_allocs;
        tg_optim *o = make(&k_cases[c], 2, ps);
        ck_assert_int_gt(g_allocs, before); /* the counter does count */
        forward_backward(&w, true);
        before = g_allocs;
        for (int s = 0; s < 3; s++) {
            tg_optim_zero_grad(o);
            ck_assert_int_eq(tg_optim_step(o), TG_OK);
        }
        tg_optim_set_lr(o, 0.5 * tg_optim_lr(o));
        ck_assert_int_eq(g_allocs, before);
        tg_optim_free(o);
        world_free(&w);
    }
    tg_set_allocator(NULL);
}
END_TEST

/* Both optimizers drive a badly conditioned quadratic to its minimum
 * w* = -c / a. */
START_TEST(test_converges)
{
    const hyper hs[] = {
        {false, 0.1, 0.9, 0, 0, 0, 0},
        {false, 0.2, 0, 0, 0, 0, 0},
        {true, 0.05, 0, 0, 0.9, 0.999, 1e-8},
    };
    for (int c = 0; c < 3; c++) {
        world w;
        world_init(&w, TG_F64);
        tg_tensor *ps[] = {w.w1, w.w2};
        tg_optim *o = make(&hs[c], 2, ps);
        double lmin = 0;
        for (int i = 0; i < NW; i++) lmin -= k_c[i] * k_c[i] / (2 * k_a[i]);
        double l0 = forward_backward(&w, true) - lmin, l = l0;
        for (int s = 0; s < 400; s++) {
            ck_assert_int_eq(tg_optim_step(o), TG_OK);
            tg_optim_zero_grad(o);
            l = forward_backward(&w, true) - lmin;
            if (c == 1) ck_assert(l <= l0); /* plain SGD with lr < 2/max a is monotone */
        }
        ck_assert_msg(l < 1e-6 * l0, "case %d: excess loss %.3g from %.3g", c, l, l0);
        for (int i = 0; i < NA; i++)
            ck_assert(fabs(tg_tensor_get_flat(w.w1, i) + k_c[i] / k_a[i]) < 1e-3);
        tg_optim_free(o);
        world_free(&w);
    }
}
END_TEST

START_TEST(test_errors)
{
    tg_tensor *p = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    tg_tensor *ps[] = {p, p};
    tg_tensor *nul[] = {p, NULL};
    ck_assert_ptr_null(tg_sgd_new(1, NULL, 0.1, 0, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    ck_assert_ptr_null(tg_sgd_new(2, nul, 0.1, 0, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "parameter 1"));
    ck_assert_ptr_null(tg_sgd_new(-1, ps, 0.1, 0, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_ptr_null(tg_adam_new(2, ps, 0.1, 0.9, 0.999, 1e-8, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "same tensor"));
    const double bad_sgd[][3] = {{-1, 0, 0},     {NAN, 0, 0},  {0.1, 1.0, 0},
                                 {0.1, -0.5, 0}, {0.1, 0, -1}, {INFINITY, 0, 0}};
    for (int i = 0; i < 6; i++) {
        ck_assert_ptr_null(tg_sgd_new(1, ps, bad_sgd[i][0], bad_sgd[i][1], bad_sgd[i][2]));
        ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "sgd"));
    }
    const double bad_adam[][5] = {{-1, 0.9, 0.999, 1e-8, 0},   {0.1, 1, 0.999, 1e-8, 0},
                                  {0.1, 0.9, 1, 1e-8, 0},      {0.1, 0.9, 0.999, 0, 0},
                                  {0.1, 0.9, 0.999, 1e-8, -1}, {0.1, NAN, 0.999, 1e-8, 0}};
    for (int i = 0; i < 6; i++) {
        ck_assert_ptr_null(tg_adam_new(1, ps, bad_adam[i][0], bad_adam[i][1], bad_adam[i][2],
                                       bad_adam[i][3], bad_adam[i][4]));
        ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "adam"));
    }
    /* a tape-owned tensor dies at the next reset: not a parameter */
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *tt = tg_mul_scalar(tp, p, 2);
    ck_assert_ptr_null(tg_sgd_new(1, &tt, 0.1, 0, 0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_TAPE);
    tg_tape_free(tp);
    /* an empty list is a valid (idle) optimizer */
    tg_optim *o = tg_sgd_new(0, NULL, 0.1, 0, 0);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tg_optim_step(o), TG_OK);
    tg_optim_set_lr(o, -3); /* refused: kept */
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert(tg_optim_lr(o) == 0.1);
    tg_optim_set_lr(o, 0.01);
    ck_assert(tg_optim_lr(o) == 0.01);
    tg_optim_free(o);
    ck_assert_int_eq(tg_optim_step(NULL), TG_ERR_NULL);
    ck_assert(tg_optim_lr(NULL) == 0);
    tg_optim_set_lr(NULL, 1);
    tg_optim_free(NULL);
    tg_tensor_free(p);
}
END_TEST

/* A tg_batches batch tensor marked requires_grad is a valid parameter whose
 * shape changes (issue 18, item 2): an optimizer made on the short last
 * batch (3 elements) used to run its state buffers past their end at the
 * next full batch (6 elements).  A stateful optimizer now refuses a
 * parameter whose element count differs from its state's, naming the
 * parameter and both counts, and changes nothing: not the parameter, not
 * its state, not the other parameters (the step is all or nothing).  Plain
 * SGD keeps no state and follows the shape. */
static void batch_grad(tg_tape *tp, tg_tensor *x, tg_tensor *w)
{
    tg_tape_reset(tp);
    /* loss = sum(x^2)/2 + sum(w^2)/2: grad x = x, grad w = w */
    tg_tensor *l = tg_add(tp, tg_sum_all(tp, tg_square(tp, x)), tg_sum_all(tp, tg_square(tp, w)));
    l = tg_mul_scalar(tp, l, 0.5);
    ck_assert_msg(l != NULL, "%s", tg_tape_error(tp));
    ck_assert_int_eq(tg_backward(tp, l), TG_OK);
}

START_TEST(test_shape_change_refused)
{
    double d[15];
    for (int i = 0; i < 15; i++) d[i] = 0.1 * (i + 1);
    tg_tensor *data = tt_from(TG_F64, 2, TT_SHAPE(5, 3), d);
    const int32_t labels[5] = {0, 1, 0, 1, 0};
    for (int c = 0; c < (int)(sizeof k_cases / sizeof k_cases[0]); c++) {
        tg_batches *b = tg_batches_new(data, labels, 2, false, false, 1);
        ck_assert_ptr_nonnull(b);
        tg_tensor *x, *w = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, -2));
        const int32_t *y;
        int64_t n;
        tg_tensor_set_requires_grad(w, true);
        tg_tape *tp = tg_tape_new(NULL);
        ck_assert(tg_batches_next(b, &x, &y, &n) && n == 2);
        ck_assert(tg_batches_next(b, &x, &y, &n) && n == 2);
        ck_assert(tg_batches_next(b, &x, &y, &n) && n == 1); /* the short last batch */
        tg_tensor_set_requires_grad(x, true);
        tg_tensor *ps[] = {w, x};
        tg_optim *o = make(&k_cases[c], 2, ps);
        ck_assert_ptr_nonnull(o);
        batch_grad(tp, x, w);
        ck_assert_int_eq(tg_optim_step(o), TG_OK);
        tg_batches_reset(b);
        ck_assert(tg_batches_next(b, &x, &y, &n) && n == 2); /* 6 elements now */
        batch_grad(tp, x, w);
        const bool stateful = k_cases[c].adam || k_cases[c].momentum > 0;
        double w_before[2], x_before[6];
        for (int i = 0; i < 2; i++) w_before[i] = tg_tensor_get_flat(w, i);
        for (int i = 0; i < 6; i++) x_before[i] = tg_tensor_get_flat(x, i);
        tg_status st = tg_optim_step(o);
        if (!stateful) {
            /* plain SGD: x -= lr (x + wd x), w likewise */
            ck_assert_int_eq(st, TG_OK);
            const double f = 1 - k_cases[c].lr * (1 + k_cases[c].wd);
            for (int i = 0; i < 6; i++)
                ck_assert_double_eq_tol(tg_tensor_get_flat(x, i), f * x_before[i], 1e-15);
        } else {
            ck_assert_int_eq(st, TG_ERR_SHAPE);
            ck_assert_int_eq(tg_last_status(), TG_ERR_SHAPE);
            ck_assert_str_eq(tg_last_error(),
                             "optim_step: parameter 1 (2,3) has 6 elements but its optimizer "
                             "state was made for 3 (its shape changed since the optimizer was "
                             "created)");
            for (int i = 0; i < 2; i++) ck_assert(tg_tensor_get_flat(w, i) == w_before[i]);
            for (int i = 0; i < 6; i++) ck_assert(tg_tensor_get_flat(x, i) == x_before[i]);
            /* back to the state's shape, the optimizer works again */
            ck_assert(tg_batches_next(b, &x, &y, &n) && n == 2);
            ck_assert(tg_batches_next(b, &x, &y, &n) && n == 1);
            batch_grad(tp, x, w);
            ck_assert_int_eq(tg_optim_step(o), TG_OK);
        }
        tg_optim_free(o);
        tg_tape_free(tp);
        tg_tensor_free(w);
        tg_batches_free(b);
    }
    tg_tensor_free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_against_hand);
    tcase_add_test(tc, test_paper_values);
    tcase_add_test(tc, test_f32_params);
    tcase_add_test(tc, test_zero_grad);
    tcase_add_test(tc, test_step_allocates_nothing);
    tcase_add_test(tc, test_converges);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_shape_change_refused);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
