/* Explain mode: the backward sweep narrates what it does, for people
 * learning backpropagation (read beside seed 004's delta rule) and for
 * anyone debugging a custom op.  Text lines, or rows of a Markdown table. */
#include "internal.h"

/* Values of a small tensor, or norm/min/max of a large one, into buf. */
static char *summary(const tg_explain *e, const tg_tensor *t, char *buf, size_t n)
{
    if (!n) return buf;
    size_t k = 0;
    if (t->numel <= e->small) {
        k += (size_t)snprintf(buf + k, n - k, "[");
        for (int64_t i = 0; i < t->numel && k < n; i++)
            k +=
                (size_t)snprintf(buf + k, n - k, "%s%.6g", i ? ", " : "", tg_tensor_get_flat(t, i));
        if (k < n) snprintf(buf + k, n - k, "]");
        return buf;
    }
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

void tg__explain_begin(tg_tape *tp, const char *what, const tg_tensor *y, const tg_tensor *seed)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    char r[32], d[TG_SHAPE_BUF + 8], v[512];
    tg__tape_ref(tp, y, r, sizeof r);
    tg_tensor_describe(y, d, sizeof d);
    summary(e, seed, v, sizeof v);
    if (e->fmt == TG_EXPLAIN_MARKDOWN) {
        fprintf(e->f, "Reverse sweep (%s) from `%s` %s, seeded with %s.\n\n", what, r, d, v);
        fputs(
            "| node | rule | gradient at its output | into input | contribution | total so far |\n"
            "|---|---|---|---|---|---|\n",
            e->f);
    } else {
        fprintf(e->f, "%s: reverse sweep from %s %s, seed d%s/d%s = %s\n", what, r, d, r, r, v);
    }
}

void tg__explain_node(tg_tape *tp, int64_t i, const tg_node *nd, const tg_tensor *g)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e || e->fmt == TG_EXPLAIN_MARKDOWN) return; /* Markdown: one row per contribution */
    char r[32], d[TG_SHAPE_BUF + 8], v[512];
    fprintf(e->f, "  %%%lld = %s(", (long long)i, nd->op->name);
    for (int k = 0; k < nd->n_in; k++)
        fprintf(e->f, "%s%s", k ? ", " : "", tg__tape_ref(tp, nd->in[k], r, sizeof r));
    fprintf(e->f, ")  %s: gradient at its output %s; rule: %s backward\n",
            tg_tensor_describe(nd->out, d, sizeof d), summary(e, g, v, sizeof v), nd->op->name);
}

char *tg__explain_summary(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (e) return summary(e, t, buf, n);
    if (n) buf[0] = '\0';
    return buf;
}

void tg__explain_contrib(tg_tape *tp, const tg_node *nd, const tg_tensor *g, int k, const char *v,
                         const tg_tensor *total)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    char r[32], s[512];
    tg__tape_ref(tp, nd->in[k], r, sizeof r);
    if (total) summary(e, total, s, sizeof s);
    if (e->fmt == TG_EXPLAIN_MARKDOWN) {
        char o[32], gs[512];
        fprintf(e->f, "| `%s` = %s | %s backward | %s | %d: `%s` | %s | %s |\n",
                tg__tape_ref(tp, nd->out, o, sizeof o), nd->op->name, nd->op->name,
                summary(e, g, gs, sizeof gs), k, r, v, total ? s : "(first)");
    } else {
        fprintf(e->f, "    -> input %d %s: + %s%s%s\n", k, r, v, total ? "  total " : "",
                total ? s : "");
    }
}

void tg__explain_end(tg_tape *tp, int64_t steps, tg_status st)
{
    const tg_explain *e = tg__tape_explain(tp);
    if (!e) return;
    if (e->fmt == TG_EXPLAIN_MARKDOWN) fputc('\n', e->f);
    if (st == TG_OK)
        fprintf(e->f, "%s%lld nodes visited%s\n", e->fmt == TG_EXPLAIN_MARKDOWN ? "" : "  ",
                (long long)steps, e->fmt == TG_EXPLAIN_MARKDOWN ? ".\n" : "");
    else
        fprintf(e->f, "  stopped: %s\n", tg_tape_error(tp));
}
