/* The graph as one JSON object (tg_tape_write_json): every value with its
 * ref, name, shape, numbers and gradient, every node with its op, attributes,
 * inputs, output and rule, so a browser can draw the graph and step through
 * the backward pass with explain mode's JSON events. */
#include "internal.h"

#include <stdio.h>

static void json_numbers(FILE *f, const tg_tensor *t, int64_t small)
{
    if (!t || t->numel > small) {
        fputs("null", f);
        return;
    }
    fputc('[', f);
    for (int64_t i = 0; i < t->numel; i++) {
        double v = tg_tensor_get_flat(t, i);
        if (i) fputc(',', f);
        if (isfinite(v))
            fprintf(f, "%.17g", v);
        else
            fputs("null", f);
    }
    fputc(']', f);
}

static void json_value(FILE *f, const tg_tape *tp, const tg_tensor *t, const char *kind,
                       int64_t small, bool first)
{
    char r[TG_REF_BUF];
    fputs(first ? "\n  {\"ref\":" : ",\n  {\"ref\":", f);
    tg__json_string(f, tg__tape_ref_plain(tp, t, r, sizeof r));
    fputs(",\"name\":", f);
    tg__json_string(f, tg__tensor_name_copy(t, r, sizeof r) ? r : NULL);
    fprintf(f, ",\"kind\":\"%s\",\"shape\":[", kind);
    for (int d = 0; d < t->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    fprintf(f, "],\"dtype\":\"%s\",\"values\":", t->dtype == TG_F32 ? "f32" : "f64");
    json_numbers(f, t, small);
    fputs(",\"grad\":", f);
    json_numbers(f, t->grad && t->grad->numel == t->numel ? t->grad : NULL, small);
    fputc('}', f);
}

/* Was constant c already listed: an input of an earlier node, or earlier
 * in node i? */
static bool const_seen(const tg_tape *tp, int64_t i, int k)
{
    const tg_tensor *c = tg__tape_node(tp, i)->in[k];
    for (int64_t j = 0; j <= i; j++) {
        const tg_node *n = tg__tape_node(tp, j);
        for (int m = 0; m < (j == i ? k : n->n_in); m++)
            if (n->in[m] == c) return true;
    }
    return false;
}

static void json_node(FILE *f, const tg_tape *tp, int64_t i, bool first)
{
    const tg_node *n = tg__tape_node(tp, i);
    char r[TG_REF_BUF], a[256];
    fprintf(f, "%s\n  {\"index\":%lld,\"op\":", first ? "" : ",", (long long)i);
    tg__json_string(f, n->op->name);
    a[0] = '\0';
    if (n->op->attrs && n->op->attrs(n, a, sizeof a) < 0) a[0] = '\0';
    fputs(",\"attrs\":", f);
    tg__json_string(f, a);
    fputs(",\"inputs\":[", f);
    for (int k = 0; k < n->n_in; k++) {
        if (k) fputc(',', f);
        tg__json_string(f, tg__tape_ref_plain(tp, n->in[k], r, sizeof r));
    }
    fputs("],\"out\":", f);
    tg__json_string(f, tg__tape_ref_plain(tp, n->out, r, sizeof r));
    fputs(",\"formula\":", f);
    tg__json_string(f, n->op->formula);
    fputc('}', f);
}

tg_status tg_tape_write_json(const tg_tape *tp, FILE *f, int64_t small_numel)
{
    if (!tp || !f) {
        tg__set_last(TG_ERR_NULL, "tape_write_json: %s is NULL", !tp ? "tape" : "f");
        return TG_ERR_NULL;
    }
    bool first = true;
    fputs("{\"values\":[", f);
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++, first = false)
        json_value(f, tp, tg__tape_user(tp, u), "user", small_numel, first);
    const int64_t nn = tg__tape_num_nodes(tp);
    /* constants first (a node's inputs come before it), then each output */
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(tp, i);
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *t = n->in[k];
            if (t->magic != TG_MAGIC_TAPE || t->node >= 0 || const_seen(tp, i, k)) continue;
            json_value(f, tp, t, "const", small_numel, first);
            first = false;
        }
    }
    for (int64_t i = 0; i < nn; i++, first = false)
        json_value(f, tp, tg__tape_node(tp, i)->out, "tape", small_numel, first);
    fputs("\n],\"nodes\":[", f);
    for (int64_t i = 0; i < nn; i++) json_node(f, tp, i, i == 0);
    fputs("\n]}\n", f);
    if (ferror(f)) {
        tg__set_last(TG_ERR_IO, "tape_write_json: write error");
        return TG_ERR_IO;
    }
    return TG_OK;
}
