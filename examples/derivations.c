/* derivations: every formula of the five seed documents (../shared/seeds,
 * backpropagation derived by hand) computed by hand in plain loops and
 * compared with tapegrad's autodiff, printed as a table.
 *
 *     ./build/examples/derivations        table of all checks
 *     ./build/examples/derivations -v     also the corrected value of each erratum
 *     ./build/examples/derivations 3      one seed only (0..4)
 *
 * Seed 2 has two sections: the MLP and softmax (seed_nets.c) and the CNN,
 * eqs. 21-29 and im2col, on three networks (seed002_cnn.c); the CNN rows
 * prefix their text with the network's short name.
 *
 * Each row: the seed, the equation in the document's numbering, what it
 * computes, the hand value and the autodiff value at the element where they
 * differ most, the normwise relative error, and the verdict.  For an erratum
 * the hand column holds the formula as printed and its error; the verdict
 * gives the correction and the corrected formula's error.  Needs no data.
 *
 * Exit status: 0 if every row holds (agreements to 1e-10 relative in f64,
 * errata off by exactly the documented amount with the corrected formula
 * agreeing), 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed002_cnn.h"
#include "seed_nets.h"

int main(int argc, char **argv)
{
    bool verbose = false;
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (argv[i][0] >= '0' && argv[i][0] <= '4' && argv[i][1] == '\0')
            only = argv[i][0] - '0';
        else {
            fprintf(stderr, "usage: %s [-v] [seed 0..4]\n", argv[0]);
            return 2;
        }
    }
    bool (*const runs[5])(sn_rows *) = {sn_seed000, sn_seed001, sn_seed002, sn_seed003, sn_seed004};
    sn_rows rows = {0};
    bool ran = true;
    for (int s = 0; s < 5; s++) {
        if (only >= 0 && only != s) continue;
        ran = runs[s](&rows) && ran;
        /* seed 002 section 2 (the CNN) right after its section 1 */
        if (s == 2) ran = sn_seed002_cnn(&rows) && ran;
    }

    printf("Backpropagation by hand (the seed documents) against tapegrad autodiff, f64.\n"
           "rel.err = max_i |hand_i - autodiff_i| / max_i |autodiff_i|; agreement means "
           "<= %g.\nFor an erratum, 'hand' is the formula as printed.\n",
           SN_AGREE_RTOL);
    int bad = sn_print_table(stdout, &rows, verbose);
    int n_err = 0, n_apx = 0;
    for (int i = 0; i < rows.n; i++) {
        n_err += rows.v[i].verdict == SN_ERRATUM;
        n_apx += rows.v[i].verdict == SN_APPROX;
    }
    printf("\n%d checks: %d agree, %d errata (printed formula wrong, corrected one agrees), "
           "%d approximations measured; %d unexpected.\n",
           rows.n, rows.n - n_err - n_apx, n_err, n_apx, bad);
    if (!ran) printf("a tape failed while running the checks.\n");
    sn_rows_free(&rows);
    return (bad == 0 && ran) ? EXIT_SUCCESS : EXIT_FAILURE;
}
