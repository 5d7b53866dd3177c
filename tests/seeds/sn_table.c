/* The derivations table as text, Markdown and JSON.  See sn_table.h.
 *
 * Every writer appends to one growing string (sn_buf), so the same code
 * serves the terminal (examples/derivations.c) and the browser playground,
 * which has no FILE to write to. */
#include "sn_table.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed002_cnn.h"

/* ---- a growing string ------------------------------------------------ */

typedef struct sn_buf {
    char *s;
    size_t len, cap;
    bool oom;
} sn_buf;

static void bput(sn_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->s && (size_t)k < room) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)k) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

static char *bdone(sn_buf *b)
{
    if (!b->oom && !b->s) bput(b, "%s", "");
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* ---- what every format shares ------------------------------------------ */

static const char *const k_titles[5] = {
    "Tanaka 2013: a 4-layer sigmoid net (eqs 1-24), fast dropout (eqs 25-44)",
    "Backpropagation 2017: an L-layer net with bias, log-likelihood cost",
    "Jin 2016: MLP and softmax (sec. 1), CNN (sec. 2, eqs 21-29, im2col)",
    "Knight 2017: the sigmoid derivative, a worked example, squared error",
    "Eglen 2024: a two-layer net and the delta rule",
};

static const char *verdict_name(sn_verdict v)
{
    return v == SN_ERRATUM ? "erratum" : v == SN_APPROX ? "approx" : "agrees";
}

/* The value shown as hand: the formula as printed (or the approximation). */
static double shown_hand(const sn_row *r)
{
    return r->verdict == SN_AGREES ? r->hand : r->printed;
}

static double shown_err(const sn_row *r)
{
    return r->verdict == SN_AGREES ? r->err : r->printed_err;
}

typedef struct sn_counts {
    int n, agree, errata, approx, bad;
} sn_counts;

static sn_counts count(const sn_rows *rows)
{
    sn_counts k = {rows->n, 0, 0, 0, 0};
    for (int i = 0; i < rows->n; i++) {
        const sn_row *r = &rows->v[i];
        k.errata += r->verdict == SN_ERRATUM;
        k.approx += r->verdict == SN_APPROX;
        k.bad += !sn_row_holds(r, NULL, 0);
    }
    k.agree = k.n - k.errata - k.approx;
    return k;
}

int sn_rows_bad(const sn_rows *rows)
{
    return rows ? count(rows).bad : 0;
}

/* ---- text -------------------------------------------------------------- */

enum { W_EQ = 14, W_WHERE = 10, W_NUM = 13, W_ERR = 8, W_VERDICT = 7, MAX_LINES = 12 };

/* Greedy word wrap of s into lines of at most w characters (a longer word
 * is cut); returns the number of lines, each as (start, length). */
static int wrap(const char *s, int w, const char *start[MAX_LINES], int len[MAX_LINES])
{
    int n = 0;
    while (*s == ' ') s++;
    while (*s && n < MAX_LINES) {
        int take = (int)strlen(s);
        if (take > w) {
            take = w;
            for (int k = w; k > 0; k--)
                if (s[k] == ' ') {
                    take = k;
                    break;
                }
        }
        int l = take;
        while (l > 0 && s[l - 1] == ' ') l--;
        start[n] = s;
        len[n++] = l;
        s += take;
        while (*s == ' ') s++;
    }
    return n;
}

/* s wrapped to width - indent, every line but the first indented (the
 * first is indented by first). */
static void put_wrapped(sn_buf *b, const char *s, int width, int first, int indent)
{
    const char *st[MAX_LINES];
    int ln[MAX_LINES];
    int n = wrap(s, width - indent, st, ln);
    for (int i = 0; i < n; i++) bput(b, "%*s%.*s\n", i ? indent : first, "", ln[i], st[i]);
}

static int what_width(int width)
{
    return width - (W_EQ + 1 + 1 + W_WHERE + 1 + W_NUM + 1 + W_NUM + 1 + W_ERR + 1 + W_VERDICT);
}

static void text_header(sn_buf *b, int seed, int width)
{
    char head[160];
    snprintf(head, sizeof head, "seed %03d: %s", seed, k_titles[seed]);
    bput(b, "\n");
    put_wrapped(b, head, width, 0, 10);
    bput(b, "%-*s %-*s %-*s %*s %*s %*s %s\n", W_EQ, "eq", what_width(width), "what", W_WHERE,
         "where", W_NUM, "hand", W_NUM, "autodiff", W_ERR, "rel.err", "verdict");
    for (int i = 0; i < width; i++) bput(b, "-");
    bput(b, "\n");
}

static void text_row(sn_buf *b, const sn_row *r, int width)
{
    const int ww = what_width(width);
    const char *es[MAX_LINES], *ws[MAX_LINES];
    int el[MAX_LINES], wl[MAX_LINES];
    int ne = wrap(r->eq, W_EQ, es, el), nw = wrap(r->what, ww, ws, wl);
    int lines = ne > nw ? ne : nw;
    char why[256];
    bool ok = sn_row_holds(r, why, sizeof why);
    for (int i = 0; i < lines; i++) {
        bput(b, "%-*.*s %-*.*s", W_EQ, i < ne ? el[i] : 0, i < ne ? es[i] : "", ww,
             i < nw ? wl[i] : 0, i < nw ? ws[i] : "");
        if (i == 0) {
            const char *v = !ok                        ? "FAIL"
                            : r->verdict == SN_ERRATUM ? "ERRATUM"
                                                       : verdict_name(r->verdict);
            bput(b, " %-*.*s %*.7g %*.7g %*.1e %s", W_WHERE, W_WHERE, r->where[0] ? r->where : "-",
                 W_NUM, shown_hand(r), W_NUM, r->autodiff, W_ERR, shown_err(r), v);
        } else {
            /* no trailing blanks on continuation lines */
            while (b->len > 0 && b->s[b->len - 1] == ' ') b->len--;
        }
        bput(b, "\n");
    }
    char note[400];
    const int ind = W_EQ + 1;
    if (r->verdict == SN_ERRATUM) {
        snprintf(note, sizeof note, "-> corrected: %s; gives %.7g here (rel.err %.1e)",
                 r->correction, r->hand, r->err);
        put_wrapped(b, note, width, ind, ind + 3);
    } else if (r->verdict == SN_APPROX) {
        snprintf(note, sizeof note, "-> autodiff column: %s", r->correction);
        put_wrapped(b, note, width, ind, ind + 3);
    }
    if (!ok) {
        snprintf(note, sizeof note, "-> FAIL: %s", why);
        put_wrapped(b, note, width, ind, ind + 3);
    }
}

static void text_nets(sn_buf *b, const sn_rows *rows, int seed, int width)
{
    bool any = false;
    for (int i = 0; i < rows->n_nets; i++) {
        const sn_net *n = &rows->nets[i];
        if (n->seed != seed) continue;
        if (!any) bput(b, "where:\n");
        any = true;
        char line[300];
        snprintf(line, sizeof line, "%s = %s", n->name, n->desc);
        put_wrapped(b, line, width, 2, 6);
    }
}

static void summary_line(char *out, size_t size, sn_counts k)
{
    snprintf(out, size,
             "%d checks: %d agree, %d errata (printed formula wrong, corrected one agrees), %d "
             "approximations measured; %d unexpected.",
             k.n, k.agree, k.errata, k.approx, k.bad);
}

static void text_all(sn_buf *b, const sn_rows *rows, int width)
{
    static const char *const intro =
        "Backpropagation by hand (the seed documents) against tapegrad autodiff, in f64. "
        "Each row evaluates the document's formula (hand) and autodiff at the same element: "
        "where = network[element] or network[row,col], 0-based, over the values the row "
        "compares (the networks and their input points are listed under each seed). rel.err = "
        "max_i "
        "|hand_i - autodiff_i| / max_i |autodiff_i|; agreement means <= 1e-10. For an "
        "erratum, hand is the formula as printed; the line under it gives the correction and "
        "its value at the same element.";
    put_wrapped(b, intro, width, 0, 0);
    int seed = -1;
    for (int i = 0; i < rows->n; i++) {
        const sn_row *r = &rows->v[i];
        if (r->seed != seed) {
            if (seed >= 0) text_nets(b, rows, seed, width);
            seed = r->seed;
            text_header(b, seed, width);
        }
        text_row(b, r, width);
    }
    if (seed >= 0) text_nets(b, rows, seed, width);
    char sum[200];
    summary_line(sum, sizeof sum, count(rows));
    bput(b, "\n");
    put_wrapped(b, sum, width, 0, 0);
}

/* ---- Markdown ---------------------------------------------------------- */

/* s inside a code span in a table cell: '|' escaped, '`' replaced. */
static void md_code(sn_buf *b, const char *s)
{
    bput(b, "`");
    for (; *s; s++) {
        if (*s == '|')
            bput(b, "\\|");
        else
            bput(b, "%c", *s == '`' ? '\'' : *s);
    }
    bput(b, "`");
}

static void md_row(sn_buf *b, const sn_row *r)
{
    char why[256];
    bool ok = sn_row_holds(r, why, sizeof why);
    bput(b, "| %s | ", r->eq);
    md_code(b, r->what);
    bput(b, " | %s | %.7g | %.7g | %.1e | ", r->where[0] ? r->where : "-", shown_hand(r),
         r->autodiff, shown_err(r));
    if (!ok) bput(b, "**FAIL** (%s) ", why);
    if (r->verdict == SN_ERRATUM) {
        bput(b, "**erratum**; corrected: ");
        md_code(b, r->correction);
        bput(b, " gives %.7g (rel. err %.1e)", r->hand, r->err);
    } else if (r->verdict == SN_APPROX) {
        bput(b, "approximation; autodiff column: %s", r->correction);
    } else {
        bput(b, "agrees");
    }
    bput(b, " |\n");
}

static void md_all(sn_buf *b, const sn_rows *rows)
{
    bput(b, "# The seed documents' formulas against autodiff\n\n"
            "Each row evaluates the document's formula (hand) and tapegrad's autodiff at the "
            "same element, named in *where* as network[element] or network[row,col] (0-based, "
            "over the values compared; the networks are listed under each table). rel. err = "
            "max_i |hand_i - autodiff_i| / max_i |autodiff_i|, in f64; agreement means "
            "<= 1e-10. For an erratum, hand is the formula as printed, and the verdict gives "
            "the correction and its value at the same element.\n");
    int seed = -1;
    for (int i = 0; i <= rows->n; i++) {
        const sn_row *r = i < rows->n ? &rows->v[i] : NULL;
        if (seed >= 0 && (!r || r->seed != seed)) {
            bput(b, "\nWhere:\n\n");
            for (int k = 0; k < rows->n_nets; k++)
                if (rows->nets[k].seed == seed)
                    bput(b, "- **%s**: %s\n", rows->nets[k].name, rows->nets[k].desc);
        }
        if (!r) break;
        if (r->seed != seed) {
            seed = r->seed;
            bput(b, "\n## Seed %03d: %s\n\n", seed, k_titles[seed]);
            bput(b, "| eq | what | where | hand | autodiff | rel. err | verdict |\n"
                    "|---|---|---|--:|--:|--:|---|\n");
        }
        md_row(b, r);
    }
    char sum[200];
    summary_line(sum, sizeof sum, count(rows));
    bput(b, "\n%s\n", sum);
}

/* ---- JSON -------------------------------------------------------------- */

static void js_str(sn_buf *b, const char *s)
{
    bput(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            bput(b, "\\%c", ch);
        else if (ch < 0x20)
            bput(b, "\\u%04x", ch);
        else
            bput(b, "%c", ch);
    }
    bput(b, "\"");
}

/* A number, or null for NaN and infinities (JSON has neither). */
static void js_num(sn_buf *b, double v)
{
    if (isfinite(v))
        bput(b, "%.17g", v);
    else
        bput(b, "null");
}

static void js_row(sn_buf *b, const sn_row *r)
{
    char why[256];
    bool ok = sn_row_holds(r, why, sizeof why);
    bput(b, "{\"seed\": %d, \"eq\": ", r->seed);
    js_str(b, r->eq);
    bput(b, ", \"what\": ");
    js_str(b, r->what);
    bput(b, ", \"net\": ");
    js_str(b, r->net);
    bput(b, ", \"elem\": %d, \"n\": %d, \"where\": ", r->elem, r->n);
    js_str(b, r->where);
    bput(b, ", \"hand\": ");
    js_num(b, shown_hand(r));
    bput(b, ", \"autodiff\": ");
    js_num(b, r->autodiff);
    bput(b, ", \"rel_err\": ");
    js_num(b, shown_err(r));
    bput(b, ", \"verdict\": \"%s\", \"holds\": %s, \"why\": ", verdict_name(r->verdict),
         ok ? "true" : "false");
    js_str(b, why);
    bput(b, ", \"correction\": ");
    if (r->verdict == SN_AGREES)
        bput(b, "null");
    else
        js_str(b, r->correction);
    bput(b, ", \"corrected\": ");
    if (r->verdict == SN_ERRATUM)
        js_num(b, r->hand);
    else
        bput(b, "null");
    bput(b, ", \"corrected_rel_err\": ");
    if (r->verdict == SN_ERRATUM)
        js_num(b, r->err);
    else
        bput(b, "null");
    bput(b, "}");
}

static void js_all(sn_buf *b, const sn_rows *rows)
{
    bput(b,
         "{\"title\": \"the seed documents' formulas against tapegrad autodiff (f64)\",\n"
         " \"agree_rtol\": %g,\n \"seeds\": [",
         SN_AGREE_RTOL);
    bool first = true;
    for (int s = 0; s < 5; s++) {
        bool has = false;
        for (int i = 0; i < rows->n && !has; i++) has = rows->v[i].seed == s;
        if (!has) continue;
        bput(b, "%s\n  {\"seed\": %d, \"title\": ", first ? "" : ",", s);
        js_str(b, k_titles[s]);
        bput(b, ", \"nets\": [");
        bool fn = true;
        for (int k = 0; k < rows->n_nets; k++) {
            if (rows->nets[k].seed != s) continue;
            bput(b, "%s{\"name\": ", fn ? "" : ", ");
            js_str(b, rows->nets[k].name);
            bput(b, ", \"desc\": ");
            js_str(b, rows->nets[k].desc);
            bput(b, "}");
            fn = false;
        }
        bput(b, "]}");
        first = false;
    }
    bput(b, "],\n \"rows\": [");
    for (int i = 0; i < rows->n; i++) {
        bput(b, "%s\n  ", i ? "," : "");
        js_row(b, &rows->v[i]);
    }
    sn_counts k = count(rows);
    bput(b,
         "],\n \"summary\": {\"checks\": %d, \"agree\": %d, \"errata\": %d, \"approx\": %d, "
         "\"unexpected\": %d}}\n",
         k.n, k.agree, k.errata, k.approx, k.bad);
}

/* ---- entry points ------------------------------------------------------ */

bool sn_run(sn_rows *rows, int only)
{
    if (!rows || only < -1 || only > 4) return false;
    bool (*const runs[5])(sn_rows *) = {sn_seed000, sn_seed001, sn_seed002, sn_seed003, sn_seed004};
    bool ran = true;
    for (int s = 0; s < 5; s++) {
        if (only >= 0 && only != s) continue;
        ran = runs[s](rows) && ran;
        /* seed 002 section 2 (the CNN) right after its section 1 */
        if (s == 2) ran = sn_seed002_cnn(rows) && ran;
    }
    return ran;
}

char *sn_table(const sn_rows *rows, sn_format fmt, int width)
{
    if (!rows) return NULL;
    if (width < SN_WIDTH_MIN) width = SN_WIDTH_MIN;
    if (width > SN_WIDTH_MAX) width = SN_WIDTH_MAX;
    sn_buf b = {0};
    if (fmt == SN_JSON)
        js_all(&b, rows);
    else if (fmt == SN_MARKDOWN)
        md_all(&b, rows);
    else
        text_all(&b, rows, width);
    return bdone(&b);
}

char *sn_derivations(sn_format fmt, int width, int only, int *status)
{
    if (status) *status = 1;
    if (only < -1 || only > 4) return NULL;
    sn_rows rows = {0};
    bool ran = sn_run(&rows, only);
    char *s = sn_table(&rows, fmt, width);
    if (status) *status = (ran && sn_rows_bad(&rows) == 0) ? 0 : 1;
    sn_rows_free(&rows);
    return s;
}
