/* Seed 002, section 2 (back propagation of a CNN): the Check suite for the
 * hand computations of eqs. 21-29 and the im2col U = W A + b in
 * seed002_cnn.c (see seed002_cnn.h and docs/seeds/002-cnn.md).  The same
 * checks are printed as rows by examples/derivations.c. */
#include "common.h"
#include "seed002_cnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the Check suite --------------------------------------------------------- */
START_TEST(test_seed002_cnn_case)
{
    s2_result r;
    bool ran = seed002_cnn_run(&s2_cases[_i], &r);
    ck_assert_msg(ran, "%s: %s", s2_cases[_i].name, r.error);
    ck_assert_int_eq(r.n, S2_N_CHECKS);
    ck_assert_int_eq(S2_N_CHECKS, 13);
    /* every case has several depths into layer 1: the printed eq. 23 is
     * wrong by far more than rounding */
    ck_assert_msg(r.eq23_printed_rel > 1e-2, "eq 23 as printed: %.3g", r.eq23_printed_rel);
    for (int c = 0; c < r.n; c++)
        ck_assert_msg(r.c[c].ok, "%s: eq %s (%s): max abs err %.3g, max rel err %.3g",
                      s2_cases[_i].name, r.c[c].eq, r.c[c].what, r.c[c].max_abs, r.c[c].max_rel);
}
END_TEST

/* The checks can fail: a wrong top delta (E scaled by 1.001) is caught by
 * every gradient comparison, and a flipped forward kernel (a true
 * convolution instead of the document's correlation) by the forward. */
START_TEST(test_seed002_cnn_discriminates)
{
    /* forward with a flipped kernel: u = sum w_{(K+1-p)(K+1-q)dm} y_{(p+i-1)(q+j-1)d} */
    const int H = 5, W = 5, K = 3;
    double y[25], w[9], b[1] = {0.25}, u[9], uf[9], wflip[9];
    for (int k = 0; k < 25; k++) y[k] = sin(k + 1.0);
    for (int k = 0; k < 9; k++) w[k] = cos(3.0 * k);
    for (int p = 1; p <= K; p++)
        for (int q = 1; q <= K; q++)
            WGT(wflip, K, 1, 1, p, q, 1, 1) = WGT(w, K, 1, 1, K + 1 - p, K + 1 - q, 1, 1);
    s2_hand_forward(1, H, W, 1, y, K, 1, w, b, u);
    s2_hand_forward(1, H, W, 1, y, K, 1, wflip, b, uf);
    tg_tensor *x = s2_to_nchw(y, 1, H, W, 1), *wt = s2_to_fckk(w, K, 1, 1);
    tg_tensor *bt = tg_tensor_from_f64(TG_F64, 1, (const int64_t[]){1}, b);
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *out = tg_conv2d(tp, x, wt, bt, 1, 1, 0, 0);
    tg_tensor *hu = s2_to_nchw(u, 1, 3, 3, 1), *huf = s2_to_nchw(uf, 1, 3, 3, 1);
    ck_assert(tg_compare(out, hu, S2_RTOL, S2_ATOL, NULL));
    ck_assert(!tg_compare(out, huf, S2_RTOL, S2_ATOL, NULL));
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(wt);
    tg_tensor_free(bt);
    tg_tensor_free(hu);
    tg_tensor_free(huf);

    /* a 1e-9 relative perturbation (ten times the tolerance) of one hand value fails the comparison
     */
    s2_result r;
    tg_tensor *a = tg_tensor_from_f64(TG_F64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3});
    tg_tensor *c =
        tg_tensor_from_f64(TG_F64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3 * (1 + 1e-9)});
    memset(&r, 0, sizeof r);
    s2_add_check(&r, "x", "perturbed", a, c);
    ck_assert_int_eq(r.failed, 1);
    tg_tensor_free(a);
    tg_tensor_free(c);
}
END_TEST

/* The output size W2 = (W1 - K + 2P)/S + 1 of the document needs a floor
 * when S does not divide W1 - K + 2P (erratum); tapegrad floors. */
START_TEST(test_seed002_output_size)
{
    tg_tape *tp = tg_tape_new(NULL);
    struct {
        int W1, K, P, S, expect;
    } cases[] = {
        {7, 3, 1, 2, 4}, {28, 5, 2, 1, 28}, {28, 5, 2, 2, 14}, {6, 3, 0, 2, 2}, {8, 3, 1, 3, 3}};
    for (int k = 0; k < 5; k++) {
        tg_tensor *x =
            tg_tensor_zeros(TG_F64, 4, (const int64_t[]){1, 1, cases[k].W1, cases[k].W1});
        tg_tensor *w = tg_tensor_ones(TG_F64, 4, (const int64_t[]){1, 1, cases[k].K, cases[k].K});
        tg_tensor *y = tg_conv2d(tp, x, w, NULL, cases[k].S, cases[k].S, cases[k].P, cases[k].P);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(tg_tensor_dim(y, 2), cases[k].expect);
        ck_assert_int_eq(tg_tensor_dim(y, 3), cases[k].expect);
        tg_tensor_free(x);
        tg_tensor_free(w);
    }
    tg_tape_free(tp);
}
END_TEST

/* Every row of the derivations table for this section holds: agreements to
 * SN_AGREE_RTOL normwise, and the errata (output size, eq. 23 per case) off
 * by exactly the size written on docs/seeds/002-cnn.md with the corrected
 * formula agreeing.  The row count is pinned: 1 output-size row and 13
 * checks for each of the 3 cases. */
START_TEST(test_seed002_cnn_rows)
{
    sn_rows rows = {0};
    ck_assert_msg(sn_seed002_cnn(&rows), "a tape failed while making the rows");
    ck_assert_int_eq(rows.n, SN_SEED002_CNN_ROWS);
    ck_assert_int_eq(SN_SEED002_CNN_ROWS, 1 + 13 * s2_n_cases);
    int n_err = 0;
    for (int i = 0; i < rows.n; i++) {
        char why[256];
        const sn_row *r = &rows.v[i];
        ck_assert_int_eq(r->seed, 2);
        ck_assert_msg(sn_row_holds(r, why, sizeof why), "eq %s (%s): %s", r->eq, r->what, why);
        n_err += r->verdict == SN_ERRATUM;
    }
    ck_assert_int_eq(n_err, 1 + s2_n_cases);
    /* every equation of the section and the im2col part has a row */
    static const char *const labels[] = {"sizes", "fwd", "21", "22", "23",     "24",     "25",
                                         "26",    "27",  "28", "29", "im2col", "U=WA+b", NULL};
    char missing[40];
    ck_assert_msg(sn_rows_cover(&rows, 2, labels, missing, sizeof missing), "no row for %s",
                  missing);
    sn_rows_free(&rows);
}
END_TEST

/* The rows can fail: a row whose hand value is off by ten times the
 * tolerance, an eq. 23 row whose documented size is off by 1%, and a
 * vacuous row are all rejected by sn_row_holds. */
START_TEST(test_seed002_cnn_rows_discriminate)
{
    sn_rows rows = {0};
    ck_assert(sn_seed002_cnn(&rows));
    int checked = 0;
    for (int i = 0; i < rows.n; i++) {
        sn_row r = rows.v[i];
        if (r.verdict == SN_AGREES) {
            r.err = 10 * SN_AGREE_RTOL;
            ck_assert(!sn_row_holds(&r, NULL, 0));
            r = rows.v[i];
            r.scale = 0;
            ck_assert(!sn_row_holds(&r, NULL, 0));
        } else {
            r.documented *= 1.01;
            ck_assert(!sn_row_holds(&r, NULL, 0));
        }
        checked++;
    }
    ck_assert_int_eq(checked, SN_SEED002_CNN_ROWS);
    sn_rows_free(&rows);
}
END_TEST

START_TEST(test_seed002_cnn_report_quiet)
{
    ck_assert_int_eq(seed002_cnn_report(NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seed002_cnn");
    TCase *tc = tcase_create("eqs21_29");
    tcase_add_loop_test(tc, test_seed002_cnn_case, 0, s2_n_cases);
    tcase_add_test(tc, test_seed002_cnn_discriminates);
    tcase_add_test(tc, test_seed002_output_size);
    tcase_add_test(tc, test_seed002_cnn_rows);
    tcase_add_test(tc, test_seed002_cnn_rows_discriminate);
    tcase_add_test(tc, test_seed002_cnn_report_quiet);
    suite_add_tcase(s, tc);
    if (getenv("SEED002_CNN_PRINT")) seed002_cnn_report(stdout);
    return tt_run(s);
}
