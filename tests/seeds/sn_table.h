/* The derivations table: the rows of seed_nets.c and seed002_cnn.c (every
 * hand formula of the five seed documents against autodiff) as text,
 * Markdown or JSON.
 *
 * Each row shows the formula and autodiff at the same element, named by its
 * network and index (where: "A[3]"; the networks and their input points are
 * listed under each seed).  For an erratum, hand is the formula as printed,
 * and the correction and its value at that element follow.
 *
 * No dependency on Check, on files or on a terminal: the writers return a
 * malloc'd string, so the WebAssembly playground links this file with
 * seed_nets.c, seed002_cnn.c and the library, and calls sn_derivations. */
#ifndef TT_SN_TABLE_H
#define TT_SN_TABLE_H

#include <stdbool.h>

#include "seed_nets.h"

typedef enum sn_format {
    SN_TEXT = 0, /* aligned columns, wrapped to a width */
    SN_MARKDOWN, /* a table per seed, for lecture notes */
    SN_JSON      /* one object: title, seeds (with networks), rows, summary */
} sn_format;

/* The JSON object:
 *   {"title": str, "agree_rtol": 1e-10,
 *    "seeds": [{"seed": 0..4, "title": str, "nets": [{"name": "A", "desc": str}]}],
 *    "rows": [{"seed", "eq", "what", "net" ("" if none), "elem", "n", "where",
 *              "hand" (the formula as printed; for approx the approximation),
 *              "autodiff", "rel_err" (normwise, of hand),
 *              "verdict": "agrees" | "erratum" | "approx", "holds": bool,
 *              "why" (why it does not hold, else ""),
 *              "correction" (erratum: the fix; approx: what autodiff is; else null),
 *              "corrected", "corrected_rel_err" (erratum only, else null)}],
 *    "summary": {"checks", "agree", "errata", "approx", "unexpected"}}
 * hand, autodiff and corrected are at the same element; NaN and infinities
 * are written as null. */

/* Text width: the default keeps every line under 120 columns. */
#define SN_WIDTH_DEFAULT 116
#define SN_WIDTH_MIN     80
#define SN_WIDTH_MAX     400

/* Run the checks of one seed (0..4) or of all (-1), appending their rows;
 * seed 002's CNN section follows its MLP rows.  Returns false if a tape or
 * an allocation failed (the rows made so far are kept). */
bool sn_run(sn_rows *rows, int only);

/* The number of rows that do not hold (sn_row_holds). */
int sn_rows_bad(const sn_rows *rows);

/* The rows formatted (width: text only, clamped to SN_WIDTH_MIN..MAX), as a
 * malloc'd string the caller frees; NULL if rows is NULL or out of memory. */
char *sn_table(const sn_rows *rows, sn_format fmt, int width);

/* One call for the playground: run seed `only` (-1: all), format the rows,
 * free them.  *status (may be NULL): 0 if every row holds, 1 if a row does
 * not hold or a tape failed.  Returns a malloc'd string or NULL (out of
 * memory, or only outside -1..4). */
char *sn_derivations(sn_format fmt, int width, int only, int *status);

#endif
