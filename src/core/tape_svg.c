/* The graph as a standalone SVG picture (tg_tape_write_svg), so a teacher
 * gets a slide without Graphviz.  A layered layout, the simplest that reads
 * as a computation: a value's layer is its longest path from an input, so
 * every arrow goes forward; within a layer, boxes are ordered by the mean
 * position of their inputs (one barycentre pass), which untangles the
 * usual feed-forward net.  Layers run left to right or top to bottom,
 * whichever a 16:9 slide shows larger (a long graph goes down, a shallow
 * one across); the picture is scaled down to the width limit through its
 * viewBox. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_LINES  12  /* text lines in a box: title, shape, a few grid rows */
#define LINE_CHARS 80  /* longer lines are cut */
#define CHAR_W     7.2 /* monospace 12 px: the advance of one character */
#define LINE_H     15.0
#define PAD        8.0
#define GAP_LAYER  56.0
#define GAP_BOX    18.0

typedef struct {
    const tg_tensor *t;
    const tg_node *nd; /* the node making t; NULL for an input or constant */
    int32_t layer;
    double key, x, y, w, h;
} box;

typedef struct {
    const tg_tape *tp;
    int64_t small;
    box *b;
    int32_t *by_id; /* value id -> box, -1 when the value has none */
    int64_t nb;
    int32_t nv;
} layout;

typedef char text_lines[MAX_LINES][LINE_CHARS + 1];

/* One line of a box's text, cut at LINE_CHARS (a cut line is still
 * readable; the box is sized to it). */
static void set_line(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, LINE_CHARS + 1, fmt, ap);
    va_end(ap);
}

/* The rows of a value as fmt_values writes it: one, or a grid's; returns
 * how many (at most max), each pointing into v, cut at its newline. */
static int split_rows(char *v, char **rows, int max)
{
    if (v[0] != '\n') {
        rows[0] = v;
        return 1;
    }
    int n = 0;
    for (char *r = v + 1; r && n < max; n++) {
        rows[n] = r;
        r = strchr(r, '\n');
        if (r) *r++ = '\0';
    }
    return n;
}

/* A value and its gradient (grad NULL: none) as lines after line n: a
 * grid's rows under each other, the gradient's beside the value's;
 * returns the new line count. */
static int add_value_lines(text_lines L, int n, const tg_tensor *t, const tg_tensor *grad)
{
    char v[1024], g[1024], *vr[MAX_LINES], *gr[MAX_LINES];
    tg__fmt_values(t, 4, "", v, sizeof v);
    const int nv = split_rows(v, vr, MAX_LINES);
    int ng = 0, wide = 0;
    if (grad) {
        tg__fmt_values(grad, 4, "", g, sizeof g);
        ng = split_rows(g, gr, MAX_LINES);
    }
    for (int i = 0; i < nv; i++) wide = (int)strlen(vr[i]) > wide ? (int)strlen(vr[i]) : wide;
    for (int i = 0; i < (nv > ng ? nv : ng) && n < MAX_LINES; i++)
        set_line(L[n++], "%s%-*s%s%s", i ? "  " : "= ", wide, i < nv ? vr[i] : "",
                 i < ng ? (i ? "        " : "   grad ") : "", i < ng ? gr[i] : "");
    return n;
}

/* The box's text: who it is, its shape, its value and gradient when small. */
static int box_text(const layout *lo, const box *bx, text_lines L)
{
    char name[TG_NAME_MAX + 1], ref[32], a[256], d[TG_SHAPE_BUF + 8];
    const tg_tensor *t = bx->t;
    tg__tape_ref_plain(lo->tp, t, ref, sizeof ref);
    const bool named = tg__tensor_name_copy(t, name, sizeof name);
    int n = 0;
    if (bx->nd) {
        a[0] = '\0';
        if (bx->nd->op->attrs && bx->nd->op->attrs(bx->nd, a, sizeof a) < 0) a[0] = '\0';
        set_line(L[n++], "%s = %s%s%s%s", named ? name : ref, bx->nd->op->name, a[0] ? "(" : "", a,
                 a[0] ? ")" : "");
    } else {
        set_line(L[n++], "%s", named ? name : ref);
    }
    if (named)
        set_line(L[n++], "%s  %s", ref, tg_tensor_describe(t, d, sizeof d));
    else
        set_line(L[n++], "%s", tg_tensor_describe(t, d, sizeof d));
    if (t->numel > lo->small) return n;
    return add_value_lines(L, n, t, t->grad && t->grad->numel == t->numel ? t->grad : NULL);
}

static void measure(const layout *lo, box *bx)
{
    text_lines L;
    const int n = box_text(lo, bx, L);
    size_t wide = 0;
    for (int i = 0; i < n; i++) wide = strlen(L[i]) > wide ? strlen(L[i]) : wide;
    bx->w = (double)wide * CHAR_W + 2 * PAD;
    bx->h = n * LINE_H + PAD;
}

static int32_t box_of(const layout *lo, const tg_tensor *t)
{
    const int32_t id =
        t->magic == TG_MAGIC_USER ? tg__tape_value_id_lookup(lo->tp, t) : (int32_t)t->id;
    return id >= 0 && id < lo->nv ? lo->by_id[id] : -1;
}

static void add_box(layout *lo, const tg_tensor *t, const tg_node *nd, int32_t layer)
{
    const int32_t id =
        t->magic == TG_MAGIC_USER ? tg__tape_value_id_lookup(lo->tp, t) : (int32_t)t->id;
    if (id < 0 || id >= lo->nv || lo->by_id[id] >= 0) return;
    lo->by_id[id] = (int32_t)lo->nb;
    lo->b[lo->nb++] = (box){.t = t, .nd = nd, .layer = layer, .key = (double)lo->nb};
}

/* The boxes: each node's output in its layer, each input and constant in
 * the layer before its first consumer (short arrows: a bias used late in
 * the graph sits beside the node that adds it). */
static void collect(layout *lo, const int32_t *node_layer)
{
    const size_t nu = tg__tape_num_users(lo->tp);
    for (size_t u = 0; u < nu; u++) add_box(lo, tg__tape_user(lo->tp, u), NULL, INT32_MAX);
    const int64_t nn = tg__tape_num_nodes(lo->tp);
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(lo->tp, i);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]->magic == TG_MAGIC_TAPE && n->in[k]->node < 0)
                add_box(lo, n->in[k], NULL, INT32_MAX);
    }
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *n = tg__tape_node(lo->tp, i);
        add_box(lo, n->out, n, node_layer[i]);
        for (int k = 0; k < n->n_in; k++) {
            const int32_t in = box_of(lo, n->in[k]);
            if (in >= 0 && !lo->b[in].nd && lo->b[in].layer > node_layer[i] - 1)
                lo->b[in].layer = node_layer[i] - 1;
        }
    }
    for (int64_t j = 0; j < lo->nb; j++)
        if (lo->b[j].layer == INT32_MAX) lo->b[j].layer = 0;
}

static int by_key(const void *pa, const void *pb)
{
    const box *a = *(box *const *)pa, *b = *(box *const *)pb;
    return (a->key > b->key) - (a->key < b->key);
}

/* Orders layer l's boxes (in tmp) by the mean slot of their inputs, and
 * writes each box's slot into key; returns how many the layer has. */
static int64_t order_layer(layout *lo, box **tmp, int32_t l)
{
    int64_t m = 0;
    for (int64_t j = 0; j < lo->nb; j++) {
        box *bx = &lo->b[j];
        if (bx->layer != l) continue;
        if (bx->nd && bx->nd->n_in) {
            double s = 0;
            int c = 0;
            for (int k = 0; k < bx->nd->n_in; k++) {
                const int32_t in = box_of(lo, bx->nd->in[k]);
                if (in >= 0) s += lo->b[in].key, c++;
            }
            bx->key = c ? s / c + 1e-9 * (double)j : (double)j;
        }
        tmp[m++] = bx;
    }
    qsort(tmp, (size_t)m, sizeof *tmp, by_key);
    for (int64_t j = 0; j < m; j++) tmp[j]->key = (double)j - (double)(m - 1) / 2;
    return m;
}

/* Places every box; sets the picture's natural size. */
static void place(layout *lo, box **tmp, int32_t layers, bool lr, double *W, double *H)
{
    double along = 0, across_max = 0;
    for (int32_t l = 0; l < layers; l++) {
        const int64_t m = order_layer(lo, tmp, l);
        double thick = 0, across = 0;
        for (int64_t j = 0; j < m; j++) {
            measure(lo, tmp[j]);
            thick = fmax(thick, lr ? tmp[j]->w : tmp[j]->h);
            across += (lr ? tmp[j]->h : tmp[j]->w) + (j ? GAP_BOX : 0);
        }
        double pos = -across / 2;
        for (int64_t j = 0; j < m; j++) {
            box *bx = tmp[j];
            if (lr) {
                bx->x = along + (thick - bx->w) / 2;
                bx->y = pos;
                pos += bx->h + GAP_BOX;
            } else {
                bx->y = along + (thick - bx->h) / 2;
                bx->x = pos;
                pos += bx->w + GAP_BOX;
            }
        }
        across_max = fmax(across_max, across);
        along += thick + (m ? GAP_LAYER : 0);
    }
    /* shift the centred cross axis into the picture, with a margin */
    for (int64_t j = 0; j < lo->nb; j++) {
        if (lr) {
            lo->b[j].x += PAD;
            lo->b[j].y += across_max / 2 + PAD;
        } else {
            lo->b[j].x += across_max / 2 + PAD;
            lo->b[j].y += PAD;
        }
    }
    *W = (lr ? along - GAP_LAYER : across_max) + 2 * PAD;
    *H = (lr ? across_max : along - GAP_LAYER) + 2 * PAD;
}

/* A line of a box in a <text>: XML-escaped, its spaces no-break ones, since
 * SVG collapses runs of spaces and a grid's columns need every one. */
static void svg_text(FILE *f, const char *s)
{
    char one[2] = {0, 0};
    for (; *s; s++) {
        one[0] = *s;
        if (*s == ' ')
            fputs("&#160;", f);
        else
            tg__xml_string(f, one);
    }
}

static void draw_box(FILE *f, const layout *lo, const box *bx)
{
    const char *fill = bx->nd ? "#dbeafe"
                       : bx->t->magic == TG_MAGIC_USER
                           ? (bx->t->requires_grad ? "#ffe4b5" : "#e5e7eb")
                           : "#f3f4f6";
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" fill=\"%s\" "
            "stroke=\"#334155\"/>\n",
            bx->x, bx->y, bx->w, bx->h, fill);
    text_lines L;
    const int n = box_text(lo, bx, L);
    for (int i = 0; i < n; i++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>", bx->x + PAD,
                bx->y + PAD / 2 + LINE_H * (i + 0.8), i == 0 ? " font-weight=\"bold\"" : "");
        svg_text(f, L[i]);
        fputs("</text>\n", f);
    }
}

static void draw_edges(FILE *f, const layout *lo, bool lr)
{
    for (int64_t j = 0; j < lo->nb; j++) {
        const box *to = &lo->b[j];
        if (!to->nd) continue;
        for (int k = 0; k < to->nd->n_in; k++) {
            const int32_t in = box_of(lo, to->nd->in[k]);
            if (in < 0) continue;
            const box *from = &lo->b[in];
            double x1 = lr ? from->x + from->w : from->x + from->w / 2;
            double y1 = lr ? from->y + from->h / 2 : from->y + from->h;
            double x2 = lr ? to->x : to->x + to->w / 2, y2 = lr ? to->y + to->h / 2 : to->y;
            double c = GAP_LAYER / 2;
            fprintf(f,
                    "<path d=\"M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f\" fill=\"none\" "
                    "stroke=\"#475569\" marker-end=\"url(#arrow)\"/>\n",
                    x1, y1, lr ? x1 + c : x1, lr ? y1 : y1 + c, lr ? x2 - c : x2, lr ? y2 : y2 - c,
                    x2, y2);
        }
    }
}

static tg_status write_svg(FILE *f, layout *lo, int32_t *node_layer, int max_width)
{
    int64_t widest = 1;
    const int32_t layers = (int32_t)tg__picture_layers(lo->tp, node_layer, &widest);
    (void)widest;
    collect(lo, node_layer);
    box **tmp = tg__malloc((size_t)(lo->nb ? lo->nb : 1) * sizeof *tmp);
    if (!tmp) {
        tg__set_last(TG_ERR_NOMEM, "tape_write_svg: out of memory for the layout");
        return TG_ERR_NOMEM;
    }
    /* both directions, then the one a 16:9 slide max_width wide shows larger */
    double W = 2 * PAD, H = 2 * PAD, W2 = W, H2 = H;
    bool lr = true;
    if (lo->nb) {
        place(lo, tmp, layers, false, &W2, &H2);
        place(lo, tmp, layers, true, &W, &H);
        const double slide_h = max_width * 9.0 / 16;
        lr = fmin(max_width / W, slide_h / H) >= fmin(max_width / W2, slide_h / H2);
        if (!lr) place(lo, tmp, layers, false, &W, &H);
    }
    tg__free(tmp);
    const double scale = W > max_width ? max_width / W : 1.0;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.1f %.1f\" font-family=\"monospace\" font-size=\"12\">\n"
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
            "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0 0 L10 5 L0 10 "
            "z\" fill=\"#475569\"/></marker></defs>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            floor(W * scale), ceil(H * scale), W, H);
    draw_edges(f, lo, lr);
    for (int64_t j = 0; j < lo->nb; j++) draw_box(f, lo, &lo->b[j]);
    fputs("</svg>\n", f);
    return TG_OK;
}

tg_status tg_tape_write_svg(const tg_tape *tp, FILE *f, const tg_picture_options *opts)
{
    if (!tp || !f) {
        tg__set_last(TG_ERR_NULL, "tape_write_svg: %s is NULL", !tp ? "tape" : "f");
        return TG_ERR_NULL;
    }
    tg_picture_options o = opts ? *opts : (tg_picture_options){4, 0};
    if (o.max_width < 0 || (o.max_width > 0 && o.max_width < 64)) {
        tg__set_last(TG_ERR_ARG, "tape_write_svg: max_width %d px is too small (0 or >= 64)",
                     o.max_width);
        return TG_ERR_ARG;
    }
    if (!o.max_width) o.max_width = 1280;
    layout lo = {.tp = tp, .small = o.small_numel, .nv = tg__tape_num_values(tp)};
    const int64_t nn = tg__tape_num_nodes(tp);
    /* a box per value at most: every value id has one box or none */
    size_t b1, b2, b3;
    const size_t nv = lo.nv ? (size_t)lo.nv : 1;
    bool ok = tg__mul_size(nv, sizeof *lo.b, &b1) && tg__mul_size(nv, sizeof *lo.by_id, &b2) &&
              tg__mul_size(nn ? (size_t)nn : 1, sizeof(int32_t), &b3);
    int32_t *node_layer = NULL;
    if (ok) {
        lo.b = tg__malloc(b1);
        lo.by_id = tg__malloc(b2);
        node_layer = tg__malloc(b3);
    }
    tg_status st = TG_ERR_NOMEM;
    if (ok && lo.b && lo.by_id && node_layer) {
        for (int32_t i = 0; i < lo.nv; i++) lo.by_id[i] = -1;
        st = write_svg(f, &lo, node_layer, o.max_width);
    } else {
        tg__set_last(TG_ERR_NOMEM, "tape_write_svg: out of memory for %lld nodes", (long long)nn);
    }
    tg__free(lo.b);
    tg__free(lo.by_id);
    tg__free(node_layer);
    if (st == TG_OK && ferror(f)) {
        tg__set_last(TG_ERR_IO, "tape_write_svg: write error");
        st = TG_ERR_IO;
    }
    return st;
}
