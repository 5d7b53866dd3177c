/* derivations: every formula of the five seed documents (../shared/seeds,
 * backpropagation derived by hand) computed by hand in plain loops and
 * compared with tapegrad's autodiff, printed as a table.
 *
 *     ./build/examples/derivations              the table, under 120 columns
 *     ./build/examples/derivations --width 150  wrapped to another width
 *     ./build/examples/derivations --markdown   a table per seed, for notes
 *     ./build/examples/derivations --json       every row as one JSON object
 *     ./build/examples/derivations 3            one seed only (0..4)
 *
 * Each row: the equation in the document's numbering, what it computes,
 * where it is evaluated (network[element]; the networks and their input
 * points are listed under each seed), the hand value and the autodiff value
 * at that element, the normwise relative error and the verdict.  For an
 * erratum the hand column holds the formula as printed; the next line gives
 * the correction and its value at the same element.  Seed 2's CNN section
 * (seed002_cnn.c) follows its MLP rows.  Needs no data.
 *
 * The table itself is tests/seeds/sn_table.c, shared with the browser
 * playground.  Exit status: 0 if every row holds (agreements to 1e-10
 * relative in f64, errata off by exactly the documented amount with the
 * corrected formula agreeing), 1 otherwise, 2 for a bad argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_table.h"

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--width N | --markdown | --json] [-v] [seed 0..4]\n"
            "  --width N   wrap the text table to N columns (%d..%d, default %d)\n"
            "  -v          accepted for compatibility (corrections are always shown)\n",
            prog, SN_WIDTH_MIN, SN_WIDTH_MAX, SN_WIDTH_DEFAULT);
    return 2;
}

int main(int argc, char **argv)
{
    sn_format fmt = SN_TEXT;
    int only = -1, width = SN_WIDTH_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-v") == 0) {
            continue;
        } else if (strcmp(a, "--markdown") == 0) {
            fmt = SN_MARKDOWN;
        } else if (strcmp(a, "--json") == 0) {
            fmt = SN_JSON;
        } else if (strcmp(a, "--width") == 0 && i + 1 < argc) {
            char *end;
            long w = strtol(argv[++i], &end, 10);
            if (*end || w < SN_WIDTH_MIN || w > SN_WIDTH_MAX) {
                fprintf(stderr, "%s: --width %s: not a number in %d..%d\n", argv[0], argv[i],
                        SN_WIDTH_MIN, SN_WIDTH_MAX);
                return 2;
            }
            width = (int)w;
        } else if (a[0] >= '0' && a[0] <= '4' && a[1] == '\0') {
            only = a[0] - '0';
        } else {
            return usage(argv[0]);
        }
    }
    sn_rows rows = {0};
    bool ran = sn_run(&rows, only);
    char *out = sn_table(&rows, fmt, width);
    int bad = sn_rows_bad(&rows);
    sn_rows_free(&rows);
    if (!out) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return EXIT_FAILURE;
    }
    fputs(out, stdout);
    free(out);
    if (!ran) fprintf(stderr, "a tape failed while running the checks.\n");
    return (bad == 0 && ran) ? EXIT_SUCCESS : EXIT_FAILURE;
}
