/* NumPy broadcasting: shapes aligned at the right, an extent of 1 stretches. */
#include "internal.h"

bool tg__broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb, int *nout,
                         int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t ea = ia >= 0 ? sa[ia] : 1, eb = ib >= 0 ? sb[ib] : 1;
        if (ea != eb && ea != 1 && eb != 1) return false;
        out[i] = ea == 1 ? eb : ea;
    }
    *nout = n;
    return true;
}

void tg__broadcast_strides(int n, const int64_t *s, int nout, const int64_t *out, int64_t *strides)
{
    int64_t st = 1;
    for (int i = nout - 1; i >= 0; i--) {
        int k = n - nout + i;
        if (k < 0 || s[k] == 1) {
            strides[i] = 0;
        } else {
            strides[i] = st;
        }
        /* checked: a shape whose extents' product is out of range has a 0
         * extent (tensors are bounded), so no element is ever read with
         * these strides, and the product must not overflow on the way */
        if (k >= 0 && !tg__mul_i64(st, s[k], &st)) st = 0;
        (void)out;
    }
}
