/* Seed 002: Jin 2016, MLP with bias, batched form, softmax (eqs 1-20, 1.1-1.6).
 *
 * Every formula of ../shared/seeds/002_36241a395fb81be0.txt is a row computed by
 * seed_nets.c (hand formula in plain loops against tapegrad autodiff);
 * seed_suite.c asserts each row, that the document's equations (below) are
 * all covered, and the number of errata found; the tests here are this
 * seed's own. */
#include <math.h>

#include "common.h"
#include "seed_suite.h"

/* Every equation of the document, in its own numbering. */
static const char *const k_labels[] = {"1",  "2",  "3",   "4",   "5",   "6",   "7",   "8",  "9",
                                       "10", "11", "12",  "13",  "14",  "15",  "16",  "17", "18",
                                       "19", "20", "1.1", "1.2", "1.4", "1.5", "1.6", NULL};

int main(void)
{
    static const sn_suite s = {2, sn_seed002, 52, k_labels, 6, 0, NULL};
    return sn_suite_main(&s);
}
