/* Explain mode: the backward sweep narrates what it does, for people
 * learning backpropagation (read beside seed 004's delta rule) and for
 * anyone debugging a custom op.  Each node states its rule (the op's
 * formula) with the numbers it uses, so a student can redo the step by
 * hand: as text, as a Markdown handout (a section per node), or as JSON
 * Lines for a program (the browser playground steps through them). */
#include "internal.h"

/* Markdown: every block (heading, paragraph, code block, list item) ends
 * with a blank line, so any block may follow any other. */

/* Values of a small tensor (a matrix as a grid, its rows after newlines
 * and indent), or norm/min/max of a large one, into buf; in JSON mode a
 * JSON tensor object. */
static char *summary(const tg_explain *e, const tg_tensor *t, const char *indent, char *buf,
                     size_t n)
{
    if (!n) return buf;
    if (e->fmt == TG_EXPLAIN_JSON) return tg__json_tensor(t, e->small, buf, n);
    if (t->numel <= e->small && tg__fmt_values(t, 6, indent, buf, n)) return buf;
    double sq = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = tg_tensor_get_flat(t, i);
        sq += v * v;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    snprintf(buf, n, "norm %.6g, min %.6g, max %.6g", sqrt(sq), lo, hi);
    return buf;
}

/* A tensor as the narration names it in a formula's place: its name, or
 * its Wengert-list ref. */
static char *short_ref(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n)
{
    if (!tg__tensor_name_copy(t, buf, n)) tg__tape_ref_plain(tp, t, buf, n);
    return buf;
}

/* What goes between "=" and a value: nothing before a grid's newline. */
#define SEP(v) ((v)[0] == '\n' ? "" : " ")

/* The letter a formula uses for input k: x for a one-input op, else a, b, ... */
static const char *input_letter(int n_in, int k, char *buf, size_t n)
{
    if (n_in == 1)
        snprintf(buf, n, "x");
    else if (k < 26)
        snprintf(buf, n, "%c", 'a' + k);
    else
        snprintf(buf, n, "in%d", k);
    return buf;
}

void tg__explain_begin(tg_tape *tp, const char *what, const tg_tensor *y, const tg_tensor *seed)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    char r[TG_REF_BUF], s[TG_REF_BUF], d[TG_SHAPE_BUF + 8], v[1024];
    tg__tape_ref(tp, y, r, sizeof r);
    tg_tensor_describe(y, d, sizeof d);
    if (e->fmt == TG_EXPLAIN_JSON) {
        fputs("{\"event\":\"begin\",\"what\":", e->f);
        tg__json_string(e->f, what);
        fputs(",\"y\":", e->f);
        tg__json_string(e->f, tg__tape_ref_plain(tp, y, r, sizeof r));
        /* the seed's values alone: y's shape is in the graph */
        fputs(",\"seed\":", e->f);
        if (seed->numel > e->small) fputs("null", e->f);
        for (int64_t i = 0; i < seed->numel && seed->numel <= e->small; i++) {
            const double x = tg_tensor_get_flat(seed, i);
            fputs(i ? "," : "[", e->f);
            if (isfinite(x))
                fprintf(e->f, "%.17g", x);
            else
                fputs("null", e->f); /* JSON has no NaN or Inf */
        }
        fputs(seed->numel > e->small ? "}\n" : seed->numel ? "]}\n" : "[]}\n", e->f);
        return;
    }
    summary(e, seed, "    ", v, sizeof v);
    short_ref(tp, y, s, sizeof s);
    if (e->fmt == TG_EXPLAIN_MARKDOWN)
        fprintf(e->f,
                v[0] == '\n'
                    ? "## Reverse sweep (%s) from `%s` %s\n\nSeed d%s/d%s:\n\n```text%s\n```\n\n"
                    : "## Reverse sweep (%s) from `%s` %s\n\nSeed: d%s/d%s = `%s`\n\n",
                what, r, d, s, s, v);
    else
        fprintf(e->f, "%s: reverse sweep from %s %s, seed d%s/d%s = %s\n", what, r, d, s, s, v);
}

/* "%5 h = sigmoid(z)" or "%2 = mean(%1, axis=1)": the node as the
 * listing writes it. */
static void node_head(FILE *f, const tg_tape *tp, int64_t i, const tg_node *nd)
{
    char r[TG_REF_BUF], a[256];
    fprintf(f, "%%%lld", (long long)i);
    if (tg__tensor_name_copy(nd->out, r, sizeof r)) fprintf(f, " %s", r);
    fprintf(f, " = %s(", nd->op->name);
    for (int k = 0; k < nd->n_in; k++)
        fprintf(f, "%s%s", k ? ", " : "", short_ref(tp, nd->in[k], r, sizeof r));
    a[0] = '\0';
    if (nd->op->attrs && nd->op->attrs(nd, a, sizeof a) < 0) a[0] = '\0';
    fprintf(f, "%s%s)", a[0] && nd->n_in ? ", " : "", a);
}

/* The numbers the rule uses: g, y and each input, one a line (grids below
 * their label). */
static void node_numbers(const tg_explain *e, const tg_tape *tp, const tg_node *nd,
                         const tg_tensor *g, const char *lead)
{
    char v[2048], l[16], r[TG_REF_BUF];
    char indent[32];
    snprintf(indent, sizeof indent, "%s    ", lead);
    summary(e, g, indent, v, sizeof v);
    fprintf(e->f, "%sg =%s%s\n", lead, SEP(v), v);
    summary(e, nd->out, indent, v, sizeof v);
    fprintf(e->f, "%sy =%s%s\n", lead, SEP(v), v);
    for (int k = 0; k < nd->n_in; k++) {
        summary(e, nd->in[k], indent, v, sizeof v);
        fprintf(e->f, "%s%s = %s =%s%s\n", lead, input_letter(nd->n_in, k, l, sizeof l),
                short_ref(tp, nd->in[k], r, sizeof r), SEP(v), v);
    }
}

static void node_json(const tg_explain *e, const tg_tape *tp, int64_t i, const tg_node *nd,
                      const tg_tensor *g)
{
    char r[TG_REF_BUF], a[256], v[2048];
    fprintf(e->f, "{\"event\":\"node\",\"node\":%lld,\"op\":", (long long)i);
    tg__json_string(e->f, nd->op->name);
    fputs(",\"out\":", e->f);
    tg__json_string(e->f, tg__tape_ref_plain(tp, nd->out, r, sizeof r));
    fputs(",\"name\":", e->f);
    tg__json_string(e->f, tg__tensor_name_copy(nd->out, r, sizeof r) ? r : NULL);
    a[0] = '\0';
    if (nd->op->attrs && nd->op->attrs(nd, a, sizeof a) < 0) a[0] = '\0';
    fputs(",\"attrs\":", e->f);
    tg__json_string(e->f, a);
    fputs(",\"formula\":", e->f);
    tg__json_string(e->f, nd->op->formula);
    fputs(",\"inputs\":[", e->f);
    for (int k = 0; k < nd->n_in; k++) {
        if (k) fputc(',', e->f);
        tg__json_string(e->f, tg__tape_ref_plain(tp, nd->in[k], r, sizeof r));
    }
    fprintf(e->f, "],\"g\":%s}\n", summary(e, g, "", v, sizeof v));
}

void tg__explain_node(tg_tape *tp, int64_t i, const tg_node *nd, const tg_tensor *g)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    if (e->fmt == TG_EXPLAIN_JSON) {
        node_json(e, tp, i, nd, g);
        return;
    }
    char d[TG_SHAPE_BUF + 8], fb[96];
    const char *rule = nd->op->formula;
    if (!rule) {
        snprintf(fb, sizeof fb, "%s backward", nd->op->name);
        rule = fb;
    }
    tg_tensor_describe(nd->out, d, sizeof d);
    if (e->fmt == TG_EXPLAIN_MARKDOWN) {
        fputs("### `", e->f);
        node_head(e->f, tp, i, nd);
        fprintf(e->f, "` %s\n\nRule: `%s`\n\n```text\n", d, rule);
        node_numbers(e, tp, nd, g, "");
        fputs("```\n\n", e->f);
        return;
    }
    fputs("  ", e->f);
    node_head(e->f, tp, i, nd);
    fprintf(e->f, "  %s\n    rule: %s\n", d, rule);
    node_numbers(e, tp, nd, g, "      ");
}

char *tg__explain_summary(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (e) return summary(e, t, e->fmt == TG_EXPLAIN_MARKDOWN ? "" : "        ", buf, n);
    if (n) buf[0] = '\0';
    return buf;
}

void tg__explain_contrib(tg_tape *tp, const tg_node *nd, const tg_tensor *g, int k, const char *v,
                         const tg_tensor *total)
{
    (void)g;
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    char r[TG_REF_BUF], s[2048];
    if (total) summary(e, total, e->fmt == TG_EXPLAIN_MARKDOWN ? "" : "        ", s, sizeof s);
    if (e->fmt == TG_EXPLAIN_JSON) {
        fprintf(e->f, "{\"event\":\"contrib\",\"node\":%lld,\"input\":%d,\"in\":",
                (long long)nd->out->node, k);
        tg__json_string(e->f, tg__tape_ref_plain(tp, nd->in[k], r, sizeof r));
        fprintf(e->f, ",\"contrib\":%s,\"total\":%s}\n", v, total ? s : "null");
        return;
    }
    tg__tape_ref(tp, nd->in[k], r, sizeof r);
    if (e->fmt == TG_EXPLAIN_MARKDOWN) {
        /* a grid needs a code block; a line reads well inline */
        if (strchr(v, '\n') || (total && strchr(s, '\n')))
            fprintf(e->f, "Into input %d, `%s`%s:\n\n```text\ncontribution:%s%s%s%s%s\n```\n\n", k,
                    r, total ? "" : " (its first contribution)", SEP(v), v,
                    total ? "\ntotal so far:" : "", total ? SEP(s) : "", total ? s : "");
        else
            fprintf(e->f, "- into input %d, `%s`: + `%s`%s%s%s\n\n", k, r, v,
                    total ? ", total so far `" : " (its first contribution)", total ? s : "",
                    total ? "`" : "");
        return;
    }
    fprintf(e->f, "    -> input %d %s: +%s%s%s%s%s\n", k, r, SEP(v), v, total ? "  total" : "",
            total ? SEP(s) : "", total ? s : "");
}

void tg__explain_end(tg_tape *tp, int64_t steps, tg_status st)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    if (e->fmt == TG_EXPLAIN_JSON) {
        fprintf(e->f, "{\"event\":\"end\",\"steps\":%lld,\"status\":", (long long)steps);
        tg__json_string(e->f, st == TG_OK ? "ok" : tg_tape_error(tp));
        fputs("}\n", e->f);
        return;
    }
    if (e->fmt == TG_EXPLAIN_MARKDOWN) {
        if (st == TG_OK)
            fprintf(e->f, "%lld nodes visited.\n\n", (long long)steps);
        else
            fprintf(e->f, "**Stopped:** %s\n\n", tg_tape_error(tp));
        return;
    }
    if (st == TG_OK)
        fprintf(e->f, "  %lld nodes visited\n", (long long)steps);
    else
        fprintf(e->f, "  stopped: %s\n", tg_tape_error(tp));
}
