#include "seed_asserts.h"

#include <check.h>
#include <math.h>

void sn_ck_assert_row(const sn_row *r)
{
    char why[256];
    bool holds = sn_row_holds(r, why, sizeof why);
    ck_assert_msg(holds, "seed %03d eq %s (%s): %s", r->seed, r->eq, r->what, why);
    /* The same facts, spelled out (sn_row_holds is not taken on trust). */
    ck_assert_msg(!r->broken, "eq %s: a tape op failed", r->eq);
    ck_assert_msg(r->scale > 1e-12, "eq %s: vacuous comparison", r->eq);
    if (r->verdict == SN_APPROX) {
        ck_assert_msg(fabs(r->printed_err - r->documented) <= SN_DOC_RTOL * r->documented,
                      "eq %s: measured %.6g, documented %.6g", r->eq, r->printed_err,
                      r->documented);
        return;
    }
    ck_assert_msg(r->err <= SN_AGREE_RTOL, "eq %s: hand %.17g autodiff %.17g rel %.3g", r->eq,
                  r->hand, r->autodiff, r->err);
    if (r->verdict == SN_ERRATUM) {
        ck_assert_msg(r->printed_err > SN_ERRATUM_MIN, "eq %s: printed form agrees", r->eq);
        ck_assert_msg(fabs(r->printed_err - r->documented) <= SN_DOC_RTOL * r->documented,
                      "eq %s: printed form off by %.6g, documented %.6g", r->eq, r->printed_err,
                      r->documented);
    }
}
