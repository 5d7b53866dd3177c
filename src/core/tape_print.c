/* The tape as text and Graphviz DOT: the Wengert list with names, op
 * attributes and small constants' values, and a picture sized for a slide.
 * Read-only, through the tape accessors of internal.h. */
#include "internal.h"

#include <stdio.h>

/* ---- references ------------------------------------------------------------ */
/* How the Wengert list names a tensor: $u (user, in first-use order), %n
 * (output of node n), cN (a tape constant made outside any node). */
char *tg__tape_ref_plain(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n)
{
    if (t->magic == TG_MAGIC_USER) {
        const size_t nu = tg__tape_num_users(tp);
        for (size_t u = 0; u < nu; u++)
            if (tg__tape_user(tp, u) == t) {
                snprintf(buf, n, "$%zu", u);
                return buf;
            }
        snprintf(buf, n, "$?");
    } else if (t->node >= 0) {
        snprintf(buf, n, "%%%lld", (long long)t->node);
    } else {
        snprintf(buf, n, "c%d", t->id);
    }
    return buf;
}

char *tg__tape_ref(const tg_tape *tp, const tg_tensor *t, char *buf, size_t n)
{
    char name[TG_NAME_MAX + 1], ref[32];
    tg__tape_ref_plain(tp, t, ref, sizeof ref);
    if (tg__tensor_name_copy(t, name, sizeof name))
        snprintf(buf, n, "%s (%s)", name, ref);
    else
        snprintf(buf, n, "%s", ref);
    return buf;
}

/* A node's attributes through its op's printer ("axis=1"), "" without. */
static char *node_attrs(const tg_node *nd, char *buf, size_t n)
{
    buf[0] = '\0';
    if (nd->op->attrs && nd->op->attrs(nd, buf, n) < 0) buf[0] = '\0';
    return buf;
}

/* ---- the Wengert list ------------------------------------------------------- */
/* An operand as the listing shows it: its name, or its ref; a small tape
 * constant with its value ("c21=0.5"), which the listing defines nowhere. */
static void print_operand(FILE *f, const tg_tape *tp, const tg_tensor *t)
{
    char b[TG_REF_BUF], v[128];
    if (tg__tensor_name_copy(t, b, sizeof b)) {
        fputs(b, f);
        return;
    }
    fputs(tg__tape_ref_plain(tp, t, b, sizeof b), f);
    if (t->magic != TG_MAGIC_TAPE || t->node >= 0 || t->numel > 4) return;
    if (t->ndim == 0)
        fprintf(f, "=%.6g", tg_tensor_get_flat(t, 0));
    else if (tg__fmt_values(t, 6, "", v, sizeof v) && !strchr(v, '\n'))
        fprintf(f, "=%s", v);
}

void tg_tape_print(const tg_tape *tp, FILE *f)
{
    if (!tp || !f) {
        tg__set_last(TG_ERR_NULL, "tape_print: %s is NULL", !tp ? "tape" : "f");
        return;
    }
    char d[TG_SHAPE_BUF + 8], name[TG_NAME_MAX + 2], a[256];
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(tp, u);
        name[0] = ' ';
        if (!tg__tensor_name_copy(t, name + 1, sizeof name - 1)) name[0] = '\0';
        fprintf(f, "$%zu%s = input%s  %s\n", u, name, t->requires_grad ? " (requires grad)" : "",
                tg_tensor_describe(t, d, sizeof d));
    }
    const int64_t nn = tg__tape_num_nodes(tp);
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(tp, i);
        name[0] = ' ';
        if (!tg__tensor_name_copy(n->out, name + 1, sizeof name - 1)) name[0] = '\0';
        fprintf(f, "%%%lld%s = %s(", (long long)i, name, n->op->name);
        for (int k = 0; k < n->n_in; k++) {
            if (k) fputs(", ", f);
            print_operand(f, tp, n->in[k]);
        }
        if (node_attrs(n, a, sizeof a)[0]) fprintf(f, "%s%s", n->n_in ? ", " : "", a);
        fprintf(f, ")  %s\n", tg_tensor_describe(n->out, d, sizeof d));
    }
    if (tg_tape_status(tp) != TG_OK) fprintf(f, "error: %s\n", tg_tape_error(tp));
}

/* ---- layers, shared with the SVG writer ------------------------------------- */
int64_t tg__picture_layers(const tg_tape *tp, int32_t *node_layer, int64_t *widest)
{
    const int64_t nn = tg__tape_num_nodes(tp);
    int64_t depth = 0;
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(tp, i);
        int32_t l = 1;
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *t = n->in[k];
            if (t->magic == TG_MAGIC_TAPE && t->node >= 0 && t->node < i &&
                node_layer[t->node] + 1 > l)
                l = node_layer[t->node] + 1;
        }
        node_layer[i] = l;
        depth = l > depth ? l : depth;
    }
    *widest = (int64_t)tg__tape_num_users(tp);
    for (int32_t l = 1; l <= depth; l++) {
        int64_t w = 0;
        for (int64_t i = 0; i < nn; i++) w += node_layer[i] == l;
        *widest = w > *widest ? w : *widest;
    }
    return depth + 1;
}

bool tg__picture_left_to_right(int64_t layers, int64_t widest)
{
    /* boxes are about twice as wide as tall; a slide is 16:9: choose the
     * direction whose picture is nearer that shape */
    if (widest < 1) widest = 1;
    const double lr = 2.0 * (double)layers / (double)widest;
    const double tb = 2.0 * (double)widest / (double)layers;
    return fabs(log(lr / (16.0 / 9))) <= fabs(log(tb / (16.0 / 9)));
}

/* ---- Graphviz DOT ------------------------------------------------------------ */
/* s inside a DOT "..." label: quotes and backslashes escaped, newlines as \n. */
static void dot_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\l", f);
        else
            fputc(*s, f);
    }
}

static void dot_values(FILE *f, const tg_tensor *t, int64_t small)
{
    char v[1024];
    if (t->numel > small) return;
    fputs("\\l", f);
    tg__fmt_values(t, 4, "", v, sizeof v);
    dot_text(f, v[0] == '\n' ? v + 1 : v);
    if (t->grad && t->grad->numel == t->numel) {
        tg__fmt_values(t->grad, 4, "", v, sizeof v);
        fputs(v[0] == '\n' ? "\\lgrad" : "\\lgrad ", f);
        dot_text(f, v);
    }
}

static void dot_label_head(FILE *f, const tg_tape *tp, const tg_tensor *t, const char *op)
{
    char name[TG_NAME_MAX + 1], ref[32], d[TG_SHAPE_BUF + 8];
    tg__tape_ref_plain(tp, t, ref, sizeof ref);
    if (tg__tensor_name_copy(t, name, sizeof name)) {
        dot_text(f, name);
        fprintf(f, "%s%s (%s)", op ? " = " : "", op ? op : "", ref);
    } else {
        fprintf(f, "%s%s%s", ref, op ? " = " : "", op ? op : "");
    }
    fprintf(f, "\\l%s", tg_tensor_describe(t, d, sizeof d));
}

static void dot_nodes(const tg_tape *tp, FILE *f, int64_t small)
{
    const int64_t nn = tg__tape_num_nodes(tp);
    char a[256], op[300];
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(tp, i);
        snprintf(op, sizeof op, node_attrs(n, a, sizeof a)[0] ? "%s(%s)" : "%s", n->op->name, a);
        fprintf(f, "  n%lld [shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\", label=\"",
                (long long)i);
        dot_label_head(f, tp, n->out, op);
        dot_values(f, n->out, small);
        fputs("\\l\"];\n", f);
        for (int k = 0; k < n->n_in; k++) {
            const tg_tensor *t = n->in[k];
            if (t->magic == TG_MAGIC_USER) {
                char r[32];
                fprintf(f, "  u%s -> n%lld;\n", tg__tape_ref_plain(tp, t, r, sizeof r) + 1,
                        (long long)i);
            } else if (t->node >= 0) {
                fprintf(f, "  n%lld -> n%lld;\n", (long long)t->node, (long long)i);
            } else {
                fprintf(f, "  c%d [shape=box, style=filled, fillcolor=\"#f0f0f0\", label=\"",
                        t->id);
                dot_label_head(f, tp, t, NULL);
                dot_values(f, t, small);
                fprintf(f, "\\l\"];\n  c%d -> n%lld;\n", t->id, (long long)i);
            }
        }
    }
}

tg_status tg_tape_write_dot(const tg_tape *tp, FILE *f, int64_t small_numel)
{
    if (!tp || !f) {
        tg__set_last(TG_ERR_NULL, "tape_write_dot: %s is NULL", !tp ? "tape" : "f");
        return TG_ERR_NULL;
    }
    const int64_t nn = tg__tape_num_nodes(tp);
    size_t bytes;
    int32_t *layer = NULL;
    if (nn && (!tg__mul_size((size_t)nn, sizeof *layer, &bytes) || !(layer = tg__malloc(bytes)))) {
        tg__set_last(TG_ERR_NOMEM, "tape_write_dot: out of memory for %lld nodes' layers",
                     (long long)nn);
        return TG_ERR_NOMEM;
    }
    int64_t widest = 1;
    const int64_t layers = tg__picture_layers(tp, layer, &widest);
    tg__free(layer);
    /* size: at most 1280 x 720 px at 96 dpi, a slide; dot scales down to it */
    fprintf(f,
            "digraph tape {\n  rankdir=%s;\n  size=\"13.33,7.5\";\n  dpi=96;\n"
            "  node [fontname=\"monospace\", fontsize=10];\n",
            tg__picture_left_to_right(layers, widest) ? "LR" : "TB");
    const size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(tp, u);
        fprintf(f, "  u%zu [shape=box, style=filled, fillcolor=\"%s\", label=\"", u,
                t->requires_grad ? "#ffe4b5" : "#e0e0e0");
        dot_label_head(f, tp, t, NULL);
        dot_values(f, t, small_numel);
        fputs("\\l\"];\n", f);
    }
    dot_nodes(tp, f, small_numel);
    fputs("}\n", f);
    if (ferror(f)) {
        tg__set_last(TG_ERR_IO, "tape_write_dot: write error");
        return TG_ERR_IO;
    }
    return TG_OK;
}
