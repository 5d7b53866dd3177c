/* The playground's entry points, called from the page (web/app.js) through
 * WebAssembly, and natively by web/pg_cli.c (the browser test's reference).
 *
 * Each returns a JSON text the caller frees with pg_free.  One formula is
 * current at a time: pg_evaluate records it, pg_backward runs the backward
 * pass over it (narrated by explain mode as JSON Lines: the Step button
 * replays those events), pg_gradcheck differences it. */
#include "playground.h"

#include "expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensors of at most this many elements carry their values in the JSON. */
#define PG_SMALL 64
/* Variables a gradient check handles (the page has a handful). */
#define PG_VARS_CHECKED 64

static struct {
    tg_tape *tp;
    pg_env *env;
    char *formula;
    tg_tensor *out;
} g;

void pg_free(char *p)
{
    free(p);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A number as JSON (which has no NaN or Infinity: those become strings). */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fprintf(f, "\"%s\"", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
}

/* {"shape":[..],"values":[..]} of t (values only when small). */
static void json_tensor(FILE *f, const tg_tensor *t)
{
    fputs("{\"shape\":[", f);
    for (int i = 0; i < tg_tensor_ndim(t); i++)
        fprintf(f, "%s%lld", i ? "," : "", (long long)tg_tensor_shape(t)[i]);
    fputs("],\"values\":[", f);
    int64_t n = tg_tensor_numel(t);
    for (int64_t i = 0; i < n && n <= PG_SMALL * 16; i++) {
        if (i) fputc(',', f);
        json_number(f, tg_tensor_get_flat(t, i));
    }
    fputs("]}", f);
}

/* A memory stream: the JSON is written here and handed to the caller. */
typedef struct text {
    FILE *f;
    char *buf;
    size_t len;
} text;

static bool text_open(text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    return t->f != NULL;
}

static char *text_close(text *t)
{
    fclose(t->f);
    return t->buf;
}

static char *error_json(const char *box, int line, int col, const char *msg)
{
    text t;
    if (!text_open(&t)) return NULL;
    fprintf(t.f, "{\"ok\":false,\"box\":\"%s\",\"line\":%d,\"col\":%d,\"error\":", box, line, col);
    json_string(t.f, msg);
    fputs("}", t.f);
    return text_close(&t);
}

/* Forgets the current formula: the tape first (it holds the variables). */
static void forget(void)
{
    if (g.tp) tg_tape_reset(g.tp);
    pg_env_free(g.env);
    g.env = NULL;
    free(g.formula);
    g.formula = NULL;
    g.out = NULL;
}

static void json_vars(FILE *f, bool grads)
{
    fputs("[", f);
    for (int i = 0; i < pg_env_count(g.env); i++) {
        tg_tensor *t = pg_env_tensor(g.env, i);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_string(f, pg_env_name(g.env, i));
        fputs(",\"value\":", f);
        json_tensor(f, t);
        if (grads) {
            fputs(",\"grad\":", f);
            if (tg_tensor_grad(t))
                json_tensor(f, tg_tensor_grad(t));
            else
                fputs("null", f);
        }
        fputs("}", f);
    }
    fputs("]", f);
}

char *pg_evaluate(const char *formula, const char *vars)
{
    forget();
    if (!formula || !vars) return error_json("formula", 0, 0, "no formula or variables given");
    if (!g.tp) g.tp = tg_tape_new(NULL);
    g.env = pg_env_new();
    g.formula = malloc(strlen(formula) + 1);
    if (!g.tp || !g.env || !g.formula) return error_json("formula", 0, 0, "out of memory");
    strcpy(g.formula, formula);
    pg_error err;
    if (pg_env_parse(g.env, vars, &err) != 0) {
        char *r = error_json("variables", err.line, err.col, err.msg);
        forget();
        return r;
    }
    g.out = pg_expr_record(g.tp, formula, g.env, &err);
    if (!g.out) {
        char *r = error_json("formula", err.line, err.col, err.msg);
        forget();
        return r;
    }
    text t;
    if (!text_open(&t)) return NULL;
    fputs("{\"ok\":true,\"output\":", t.f);
    json_tensor(t.f, g.out);
    fputs(",\"vars\":", t.f);
    json_vars(t.f, false);
    fputs(",\"graph\":", t.f);
    tg_tape_write_json(g.tp, t.f, PG_SMALL);
    fputs("}", t.f);
    return text_close(&t);
}

/* The explain events (JSON Lines) as the elements of a JSON array. */
static void json_lines_array(FILE *f, const char *lines)
{
    fputs("[", f);
    bool first = true;
    for (const char *p = lines; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            if (!first) fputc(',', f);
            fwrite(p, 1, n, f);
            first = false;
        }
        p += n + (end ? 1 : 0);
    }
    fputs("]", f);
}

char *pg_backward(void)
{
    if (!g.out) return error_json("formula", 0, 0, "evaluate a formula first");
    text ex;
    if (!text_open(&ex)) return NULL;
    tg_tape_set_explain(g.tp, ex.f, TG_EXPLAIN_JSON, PG_SMALL);
    tg_status st = tg_backward(g.tp, g.out);
    tg_tape_set_explain(g.tp, NULL, TG_EXPLAIN_JSON, PG_SMALL);
    char *events = text_close(&ex);
    text t;
    if (!text_open(&t)) {
        free(events);
        return NULL;
    }
    if (st != TG_OK) {
        fputs("{\"ok\":false,\"box\":\"formula\",\"line\":0,\"col\":0,\"error\":", t.f);
        char msg[600], shape[64];
        if (st == TG_ERR_NOT_SCALAR)
            snprintf(msg, sizeof msg,
                     "the output is %s, not one number: the backward pass starts from a "
                     "scalar; wrap the formula in sum(...) or mean(...)",
                     tg_tensor_describe(g.out, shape, sizeof shape));
        else
            snprintf(msg, sizeof msg, "%s", tg_tape_error(g.tp));
        json_string(t.f, msg);
    } else {
        fputs("{\"ok\":true,\"vars\":", t.f);
        json_vars(t.f, true);
        fputs(",\"graph\":", t.f);
        tg_tape_write_json(g.tp, t.f, PG_SMALL);
    }
    fputs(",\"events\":", t.f);
    json_lines_array(t.f, events);
    fputs("}", t.f);
    free(events);
    return text_close(&t);
}

/* The formula's value with every variable replaced by its copy in xs,
 * recorded on the scratch tape sp. */
static double value_at(tg_tape *sp, tg_tensor **xs)
{
    int n = pg_env_count(g.env);
    for (int i = 0; i < n; i++) pg_env_substitute(g.env, i, xs[i]);
    tg_tape_reset(sp);
    pg_error err;
    tg_tensor *y = pg_expr_record(sp, g.formula, g.env, &err);
    for (int i = 0; i < n; i++) pg_env_substitute(g.env, i, NULL);
    return y ? tg_tensor_get_flat(y, 0) : NAN;
}

/* tg_fn for tg_gradcheck: the formula on its inputs. */
static tg_tensor *formula_fn(tg_tape *tp, tg_tensor *const *inputs, void *ctx)
{
    (void)ctx;
    int n = pg_env_count(g.env);
    for (int i = 0; i < n; i++) pg_env_substitute(g.env, i, inputs[i]);
    pg_error err;
    tg_tensor *y = pg_expr_record(tp, g.formula, g.env, &err);
    for (int i = 0; i < n; i++) pg_env_substitute(g.env, i, NULL);
    return y;
}

/* One row per element: d out / d x[k] by autodiff and by central
 * differences with the step h = 1e-6 max(1, |x|). */
static void difference_rows(FILE *f, tg_tape *sp, tg_tensor **xs)
{
    bool first = true;
    for (int i = 0; i < pg_env_count(g.env); i++) {
        const tg_tensor *grad = tg_tensor_grad(pg_env_tensor(g.env, i));
        for (int64_t k = 0; k < tg_tensor_numel(xs[i]); k++) {
            double x = tg_tensor_get_flat(xs[i], k), h = 1e-6 * fmax(1.0, fabs(x));
            tg_tensor_set_flat(xs[i], k, x + h);
            double fp = value_at(sp, xs);
            tg_tensor_set_flat(xs[i], k, x - h);
            double fm = value_at(sp, xs);
            tg_tensor_set_flat(xs[i], k, x);
            double num = (fp - fm) / (2 * h), ad = grad ? tg_tensor_get_flat(grad, k) : 0.0;
            double scale = fmax(fabs(ad), fabs(num));
            fprintf(f, "%s{\"var\":", first ? "" : ",");
            json_string(f, pg_env_name(g.env, i));
            fprintf(f, ",\"index\":%lld,\"autodiff\":", (long long)k);
            json_number(f, ad);
            fputs(",\"numeric\":", f);
            json_number(f, num);
            fputs(",\"rel_err\":", f);
            json_number(f, scale > 0 ? fabs(ad - num) / scale : 0.0);
            fputs("}", f);
            first = false;
        }
    }
}

/* tg_gradcheck over every variable: its verdict (both rule sets of every
 * op against central differences). */
static void gradcheck_verdict(FILE *f, tg_tensor **xs)
{
    int n = pg_env_count(g.env);
    tg_compare_report reports[PG_VARS_CHECKED];
    tg_status st = tg_gradcheck(formula_fn, NULL, n, xs, NULL, reports);
    fprintf(f, "{\"status\":\"%s\",\"message\":", st == TG_OK ? "ok" : tg_strerror(st));
    char msg[400] = "";
    for (int i = 0; i < n && st == TG_ERR_NUMERIC; i++)
        if (!reports[i].ok) {
            snprintf(msg, sizeof msg, "%s[%lld]: autodiff %.10g, differences %.10g",
                     pg_env_name(g.env, i), (long long)reports[i].worst_index, reports[i].worst_a,
                     reports[i].worst_b);
            break;
        }
    json_string(f, st == TG_OK || st == TG_ERR_NUMERIC ? msg : tg_last_error());
    fputs("}", f);
}

char *pg_gradcheck(void)
{
    if (!g.out) return error_json("formula", 0, 0, "evaluate a formula first");
    int n = pg_env_count(g.env);
    if (tg_tensor_numel(g.out) != 1 || n > PG_VARS_CHECKED)
        return error_json("formula", 0, 0,
                          n > PG_VARS_CHECKED ? "too many variables to check"
                                              : "the gradient check needs a one-element output "
                                                "(wrap the formula in sum(...))");
    if (tg_backward(g.tp, g.out) != TG_OK) return error_json("formula", 0, 0, tg_tape_error(g.tp));
    tg_tensor *xs[PG_VARS_CHECKED];
    tg_tape *sp = tg_tape_new(NULL);
    int made = 0;
    while (sp && made < n && (xs[made] = tg_tensor_clone(pg_env_tensor(g.env, made))) != NULL &&
           tg_tensor_set_requires_grad(xs[made], true) == TG_OK)
        made++;
    char *r = NULL;
    text t;
    if (made == n && text_open(&t)) {
        fputs("{\"ok\":true,\"rows\":[", t.f);
        difference_rows(t.f, sp, xs);
        fputs("],\"gradcheck\":", t.f);
        gradcheck_verdict(t.f, xs);
        fputs("}", t.f);
        r = text_close(&t);
    }
    tg_tape_free(sp);
    for (int i = 0; i < made; i++) tg_tensor_free(xs[i]);
    return r ? r : error_json("formula", 0, 0, "out of memory");
}
