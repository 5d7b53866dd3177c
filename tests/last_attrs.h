/* The attribute printers' checks shared by the tangent-rule suites
 * (test_tangents_a.c, test_tangents_b.c): ATTRS records one op and compares
 * the attributes its node prints (tg_op.attrs) with the expected text.
 * Included by a test file after common.h; the tape accessors are the
 * library's internal ones. */
#ifndef TT_LAST_ATTRS_H
#define TT_LAST_ATTRS_H

#include "../src/core/internal.h"

#include <string.h>

/* The attributes of the last node recorded on tp. */
static inline const char *last_attrs(tg_tape *tp, const char *op, char *buf, size_t size)
{
    const int64_t nn = tg__tape_num_nodes(tp);
    ck_assert_int_gt(nn, 0);
    const tg_node *nd = tg__tape_node(tp, nn - 1);
    ck_assert_str_eq(tg_node_op(nd)->name, op);
    ck_assert_msg(tg_node_op(nd)->attrs != NULL, "%s has no attribute printer", op);
    const int len = tg_node_op(nd)->attrs(nd, buf, size);
    ck_assert_int_eq(len, (int)strlen(buf));
    return buf;
}

#define ATTRS(tp, call, op, want)                                                                  \
    do {                                                                                           \
        char b_[160];                                                                              \
        ck_assert_msg((call) != NULL, "%s: %s", op, tg_tape_error(tp));                            \
        ck_assert_str_eq(last_attrs(tp, op, b_, sizeof b_), want);                                 \
    } while (0)

#endif
