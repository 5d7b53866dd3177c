/* Check assertions over the seed checks' rows (shared by the seed suites). */
#ifndef TT_SEED_ASSERTS_H
#define TT_SEED_ASSERTS_H

#include "seed_nets.h"

/* Fails the current Check test unless the row holds as its verdict says:
 * agreement to 1e-10 relative in f64; an erratum off by the documented amount
 * AND its corrected form agreeing to 1e-10; an approximation's measured error
 * equal to the documented one. */
void sn_ck_assert_row(const sn_row *r);

#endif
