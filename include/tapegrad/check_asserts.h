/* tapegrad: Check-style assertions for tensors and gradients.
 *
 * Header-only, for the user's own Check (libcheck) suites: each macro runs a
 * comparison and, on failure, fails the current test with the full report
 * as its message (worst index, both values, the error).  Include after
 * <check.h> or on its own (it includes it):
 *
 *     #include <tapegrad.h>
 *     #include <tapegrad/check_asserts.h>
 *
 *     START_TEST(my_delta) {
 *         ...
 *         tg_ck_assert_close(hand_delta, tg_grad(tp, L, n_k, false), 1e-10, 0);
 *         tg_ck_assert_gradcheck(my_fn, NULL, 2, inputs);
 *     }
 *     END_TEST
 *
 * Every macro evaluates each argument once.  The _at variants take the
 * file and line to report (for wrappers that forward their caller's). */
#ifndef TAPEGRAD_CHECK_ASSERTS_H
#define TAPEGRAD_CHECK_ASSERTS_H

#include "export.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "verify.h"

/* Size of the message buffer (Check formats messages into BUFSIZ bytes). */
#define TG_CK_MSG 4096

/* ---- implementation: each returns true on success, else writes msg ------- */
static inline bool tg_ck__close(const char *what, const tg_tensor *a, const tg_tensor *b,
                                double rtol, double atol, char *msg, size_t size)
{
    tg_compare_report r;
    if (!a || !b) {
        snprintf(msg, size, "%s: NULL tensor (a=%p b=%p)", what, (const void *)a, (const void *)b);
        return false;
    }
    if (tg_compare(a, b, rtol, atol, &r)) return true;
    tg_compare_report_format(msg, size, what, &r);
    return false;
}

static inline bool tg_ck__values(const char *what, const tg_tensor *a, const double *expect,
                                 int64_t n, double rtol, double atol, char *msg, size_t size)
{
    if (!a || !expect) {
        snprintf(msg, size, "%s: tensor or expected values are NULL", what);
        return false;
    }
    if (tg_tensor_numel(a) != n) {
        snprintf(msg, size, "%s: %lld elements, expected %lld", what, (long long)tg_tensor_numel(a),
                 (long long)n);
        return false;
    }
    tg_tensor *e = tg_tensor_from_f64(TG_F64, tg_tensor_ndim(a), tg_tensor_shape(a), expect);
    if (!e) {
        snprintf(msg, size, "%s: %s", what, tg_last_error());
        return false;
    }
    bool ok = tg_ck__close(what, a, e, rtol, atol, msg, size);
    tg_tensor_free(e);
    return ok;
}

static inline bool tg_ck__grad(const char *what, tg_tape *tp, tg_tensor *y, tg_tensor *x,
                               const tg_tensor *hand, double rtol, double atol, char *msg,
                               size_t size)
{
    tg_tensor *g = tg_grad(tp, y, x, false);
    if (!g) {
        snprintf(msg, size, "%s: tg_grad failed: %s", what, tg_tape_error(tp));
        return false;
    }
    return tg_ck__close(what, hand, g, rtol, atol, msg, size);
}

static inline bool tg_ck__gradcheck(const char *what, bool second, tg_fn fn, void *ctx, int n,
                                    tg_tensor *const *inputs, const tg_gradcheck_options *opts,
                                    bool allow_vacuous, char *msg, size_t size)
{
    tg_compare_report *rep = (tg_compare_report *)calloc(n > 0 ? (size_t)n : 1, sizeof *rep);
    if (!rep) {
        snprintf(msg, size, "%s: out of memory", what);
        return false;
    }
    tg_status st = second ? tg_gradgradcheck(fn, ctx, n, inputs, opts, rep)
                          : tg_gradcheck(fn, ctx, n, inputs, opts, rep);
    bool ok = st == TG_OK;
    size_t len = 0;
    msg[0] = '\0';
    if (st != TG_OK && st != TG_ERR_NUMERIC) {
        snprintf(msg, size, "%s: could not run: %s (%s)", what, tg_last_error(), tg_strerror(st));
    } else {
        for (int i = 0; i < n; i++) {
            if (!rep[i].numel) continue;
            const char *why;
            if (!rep[i].ok)
                why = NULL; /* the report says FAIL and where */
            else if (rep[i].vacuous && !allow_vacuous)
                why = "vacuous: both sides ~0 everywhere";
            else if (rep[i].n_skipped >= rep[i].numel)
                why = "every element at a kink";
            else
                continue; /* this input passed */
            ok = false;
            char label[160];
            snprintf(label, sizeof label, "%s: %s input %d%s%s", what,
                     second ? "gradgradcheck" : "gradcheck", i, why ? ": " : "", why ? why : "");
            if (len < size) len += tg_compare_report_format(msg + len, size - len, label, &rep[i]);
        }
    }
    free(rep);
    return ok;
}

static inline bool tg_ck__deltas(tg_tape *tp, tg_tensor *loss, int n, const tg_delta_entry *entries,
                                 double rtol, double atol, char *msg, size_t size)
{
    tg_delta_result *res = (tg_delta_result *)calloc(n > 0 ? (size_t)n : 1, sizeof *res);
    if (!res) {
        snprintf(msg, size, "delta check: out of memory");
        return false;
    }
    tg_status st = tg_delta_check(tp, loss, n, entries, rtol, atol, res, NULL);
    if (st == TG_ERR_NUMERIC)
        tg_delta_report_format(msg, size, n, entries, res);
    else if (st != TG_OK)
        snprintf(msg, size, "delta check could not run: %s", tg_last_error());
    free(res);
    return st == TG_OK;
}

/* ---- the assertions ---------------------------------------------------------- */
#define TG_CK__RUN_AT(file, line, call)                                                            \
    do {                                                                                           \
        char tg_ck__msg[TG_CK_MSG] = "";                                                           \
        bool tg_ck__ok = (call);                                                                   \
        ck_assert_msg(tg_ck__ok, "%s:%d:\n%s", (file), (line), tg_ck__msg);                        \
    } while (0)

/* a and b agree elementwise: |a - b| <= atol + rtol |b|, same shape. */
#define tg_ck_assert_close_at(file, line, what, a, b, rtol, atol)                                  \
    TG_CK__RUN_AT(file, line, tg_ck__close(what, a, b, rtol, atol, tg_ck__msg, TG_CK_MSG))
#define tg_ck_assert_close(a, b, rtol, atol)                                                       \
    tg_ck_assert_close_at(__FILE__, __LINE__, #a " vs " #b, a, b, rtol, atol)

/* a (n elements) against a plain array of doubles (hand values). */
#define tg_ck_assert_values_at(file, line, what, a, expect, n, rtol, atol)                         \
    TG_CK__RUN_AT(file, line, tg_ck__values(what, a, expect, n, rtol, atol, tg_ck__msg, TG_CK_MSG))
#define tg_ck_assert_values(a, expect, n, rtol, atol)                                              \
    tg_ck_assert_values_at(__FILE__, __LINE__, #a, a, expect, n, rtol, atol)

/* The hand gradient dy/dx (hand, x's shape) against autodiff's tg_grad. */
#define tg_ck_assert_grad_matches(tp, y, x, hand, rtol, atol)                                      \
    TG_CK__RUN_AT(__FILE__, __LINE__,                                                              \
                  tg_ck__grad("d" #y "/d" #x, tp, y, x, hand, rtol, atol, tg_ck__msg, TG_CK_MSG))

/* tg_gradcheck passes for every checked input, and no check is vacuous
 * (_ex: options, and whether a vacuous check is accepted). */
#define tg_ck_assert_gradcheck_ex(fn, ctx, n, inputs, opts, allow_vacuous)                         \
    TG_CK__RUN_AT(__FILE__, __LINE__,                                                              \
                  tg_ck__gradcheck(#fn, false, fn, ctx, n, inputs, opts, allow_vacuous,            \
                                   tg_ck__msg, TG_CK_MSG))
#define tg_ck_assert_gradcheck(fn, ctx, n, inputs)                                                 \
    tg_ck_assert_gradcheck_ex(fn, ctx, n, inputs, NULL, false)

/* The same with tg_gradgradcheck (second derivatives). */
#define tg_ck_assert_gradgradcheck_ex(fn, ctx, n, inputs, opts, allow_vacuous)                     \
    TG_CK__RUN_AT(__FILE__, __LINE__,                                                              \
                  tg_ck__gradcheck(#fn, true, fn, ctx, n, inputs, opts, allow_vacuous, tg_ck__msg, \
                                   TG_CK_MSG))
#define tg_ck_assert_gradgradcheck(fn, ctx, n, inputs)                                             \
    tg_ck_assert_gradgradcheck_ex(fn, ctx, n, inputs, NULL, false)

/* Every hand adjoint agrees (tg_delta_check); the message on failure is the
 * localisation report. */
#define tg_ck_assert_deltas(tp, loss, n, entries, rtol, atol)                                      \
    TG_CK__RUN_AT(__FILE__, __LINE__,                                                              \
                  tg_ck__deltas(tp, loss, n, entries, rtol, atol, tg_ck__msg, TG_CK_MSG))

#endif
