/* Seed 001: L-layer net with bias weights, log-likelihood cost (eqs 1-15).
 *
 * Every formula of ../shared/seeds/001_e72219ab9be5a39d.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff);
 * seed_suite.c asserts each row, that the document's equations (below) are
 * all covered, and the number of errata found; the tests here are this
 * seed's own. */
#include <math.h>

#include "common.h"
#include "seed_suite.h"

/* Every equation of the document, in its own numbering. */
static const char *const k_labels[] = {"1", "2",  "3",  "4",  "5",  "6",  "7",  "8",
                                       "9", "10", "11", "12", "13", "14", "15", NULL};

int main(void)
{
    static const sn_suite s = {1, sn_seed001, 27, k_labels, 3, 0, NULL};
    return sn_suite_main(&s);
}
