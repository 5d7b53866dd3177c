/* Bookkeeping for the Fashion-MNIST examples: see train_util.h. */
#include "train_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef TRAIN_HAVE_OPENBLAS
void openblas_set_num_threads(int n); /* OpenBLAS's own thread-pool size */
#endif

/* ---- flags ----------------------------------------------------------------- */

bool tu_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int tu_parse_args(int argc, char **argv, tu_args *a, const char *usage)
{
    bool epochs_given = false;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("%s\n\n"
                   "flags:\n"
                   "  --epochs N      training epochs (default %d)\n"
                   "  --csv PATH      write the learning curve (one row per epoch) to PATH;\n"
                   "                  with gnuplot on PATH, also a plot next to it (.png)\n"
                   "  --data DIR      the Fashion-MNIST *-ubyte.gz files (default %s)\n"
                   "  --threads N     OpenBLAS threads (default %d)\n"
                   "  --seed N        seed of the weights and the shuffling (default %llu)\n"
                   "  --train-size N  train on the first N training images only\n"
                   "  --synthetic     a tiny generated dataset instead (a smoke test, no files)\n"
                   "  --save FILE     after training, write the parameters (safetensors)\n"
                   "  --load FILE     start from the parameters in FILE (as --save wrote)\n"
                   "  --eval          only evaluate the (loaded) model on the test set\n",
                   usage, a->epochs, a->data, a->threads, (unsigned long long)a->seed);
            return 2;
        }
        if (!strcmp(f, "--synthetic")) {
            a->synthetic = true;
            continue;
        }
        if (!strcmp(f, "--eval")) {
            a->eval = true;
            continue;
        }
        static const char *const valued[] = {"--epochs",     "--threads", "--seed", "--csv",
                                             "--train-size", "--data",    "--save", "--load"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) known |= !strcmp(f, valued[k]);
        if (!known) {
            fprintf(stderr, "%s: unknown flag %s (see --help)\n", argv[0], f);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", argv[0], f);
            return 1;
        }
        bool ok = true;
        if (!strcmp(f, "--epochs")) {
            ok = tu_parse_i64(v, 1, 100000, &n);
            if (ok) a->epochs = (int)n;
            epochs_given = true;
        } else if (!strcmp(f, "--threads")) {
            ok = tu_parse_i64(v, 1, 1024, &n);
            if (ok) a->threads = (int)n;
        } else if (!strcmp(f, "--seed")) {
            ok = tu_parse_i64(v, 0, INT64_MAX, &n);
            if (ok) a->seed = (uint64_t)n;
        } else if (!strcmp(f, "--train-size")) {
            ok = tu_parse_i64(v, 1, INT64_MAX, &n);
            if (ok) a->train_limit = n;
        } else if (!strcmp(f, "--csv")) {
            a->csv = v;
        } else if (!strcmp(f, "--save")) {
            a->save = v;
        } else if (!strcmp(f, "--load")) {
            a->load = v;
        } else { /* --data */
            a->data = v;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad value for %s: '%s'\n", argv[0], f, v);
            return 1;
        }
        i++;
    }
    if (a->synthetic && !epochs_given) a->epochs = 1; /* a smoke test: one short epoch */
    return 0;
}

void tu_set_threads(int n)
{
#ifdef TRAIN_HAVE_OPENBLAS
    openblas_set_num_threads(n > 0 ? n : 1);
#else
    (void)n; /* the built-in gemm is single-threaded */
#endif
    char advice[512];
    if (tg_gemm_slow_kernels(advice, sizeof advice)) fprintf(stderr, "note: %s\n", advice);
}

/* ---- data ------------------------------------------------------------------ */

/* The IDX images (N, 28, 28) as (N, 784) or (N, 1, 28, 28), first `keep` rows
 * (0: all).  A copy: tensors own their storage. */
static tg_tensor *relayout(const tg_tensor *img, tu_layout layout, int64_t keep)
{
    const int64_t n = keep > 0 && keep < tg_tensor_dim(img, 0) ? keep : tg_tensor_dim(img, 0);
    if (layout == TU_FLAT)
        return tg_tensor_from(TG_F32, 2, (const int64_t[]){n, 784}, tg_tensor_data_const(img));
    return tg_tensor_from(TG_F32, 4, (const int64_t[]){n, 1, 28, 28}, tg_tensor_data_const(img));
}

static int load_pair(const char *dir, const char *images, const char *labels, tu_layout layout,
                     int64_t keep, tg_tensor **x, int32_t **y, int64_t *n)
{
    char pi[4096], pl[4096];
    snprintf(pi, sizeof pi, "%s/%s", dir, images);
    snprintf(pl, sizeof pl, "%s/%s", dir, labels);
    const char *paths[2] = {pi, pl};
    for (int k = 0; k < 2; k++) {
        if (access(paths[k], R_OK) != 0) {
            fprintf(stderr,
                    "cannot read %s: %s\n"
                    "Fashion-MNIST is in the Debian package dataset-fashion-mnist:\n"
                    "    sudo apt-get install dataset-fashion-mnist\n"
                    "(it installs the four *-ubyte.gz files under %s).\n"
                    "Elsewhere, download them from "
                    "https://github.com/zalandoresearch/fashion-mnist (data/fashion)\n"
                    "and pass --data DIR; or try --synthetic for a smoke test without data.\n",
                    paths[k], strerror(errno), TU_FASHION_DIR);
            return 1;
        }
    }
    tg_tensor *img = tg_idx_load(pi, TG_F32, 1.0 / 255.0);
    if (!img) {
        fprintf(stderr, "%s: %s\n", pi, tg_last_error());
        return 1;
    }
    if (tg_tensor_ndim(img) != 3 || tg_tensor_dim(img, 1) != 28 || tg_tensor_dim(img, 2) != 28) {
        char buf[64];
        fprintf(stderr, "%s: expected images of 28x28, got %s\n", pi,
                tg_tensor_describe(img, buf, sizeof buf));
        tg_tensor_free(img);
        return 1;
    }
    int64_t nl = 0;
    int32_t *lab = tg_idx_load_labels(pl, &nl);
    if (!lab) {
        fprintf(stderr, "%s: %s\n", pl, tg_last_error());
        tg_tensor_free(img);
        return 1;
    }
    if (nl != tg_tensor_dim(img, 0)) {
        fprintf(stderr, "%s has %lld labels for %lld images\n", pl, (long long)nl,
                (long long)tg_tensor_dim(img, 0));
        tg_tensor_free(img);
        tg_idx_labels_free(lab);
        return 1;
    }
    for (int64_t i = 0; i < nl; i++) {
        if (lab[i] < 0 || lab[i] > 9) {
            fprintf(stderr, "%s: label %d at %lld is not a class 0..9\n", pl, lab[i], (long long)i);
            tg_tensor_free(img);
            tg_idx_labels_free(lab);
            return 1;
        }
    }
    *x = relayout(img, layout, keep);
    tg_tensor_free(img);
    if (!*x) {
        fprintf(stderr, "%s: %s\n", pi, tg_last_error());
        tg_idx_labels_free(lab);
        return 1;
    }
    *y = lab;
    *n = tg_tensor_dim(*x, 0);
    return 0;
}

int tu_load_fashion(const char *dir, tu_layout layout, int64_t train_limit, tu_data *d)
{
    memset(d, 0, sizeof *d);
    if (load_pair(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", layout,
                  train_limit, &d->xtr, &d->ytr, &d->ntr) ||
        load_pair(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", layout, 0, &d->xte,
                  &d->yte, &d->nte)) {
        tu_data_free(d);
        return 1;
    }
    return 0;
}

/* Each class c has a prototype image P_c (uniform [0, 1)); an example of
 * class c is clamp(P_c + 0.5 N(0, 1)) per pixel: noisy enough that one step
 * does not fit it, separable enough that one epoch must lower the loss. */
static int synth(tu_layout layout, int64_t n, const float *proto, tg_rng *r, tg_tensor **x,
                 int32_t **y)
{
    *x = layout == TU_FLAT ? tg_tensor_new(TG_F32, 2, (const int64_t[]){n, 784})
                           : tg_tensor_new(TG_F32, 4, (const int64_t[]){n, 1, 28, 28});
    *y = malloc(sizeof(int32_t) * (size_t)n);
    if (!*x || !*y) return 1;
    float *px = tg_tensor_f32(*x);
    for (int64_t i = 0; i < n; i++) {
        const int32_t c = (int32_t)(tg_rng_next(r) % 10);
        (*y)[i] = c;
        for (int k = 0; k < 784; k++) {
            double v = proto[c * 784 + k] + 0.5 * tg_rng_normal(r);
            px[i * 784 + k] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
    }
    return 0;
}

int tu_make_synthetic(tu_layout layout, int64_t ntr, int64_t nte, uint64_t seed, tu_data *d)
{
    memset(d, 0, sizeof *d);
    float *proto = malloc(sizeof(float) * 10 * 784);
    if (!proto) return 1;
    tg_rng r;
    tg_rng_seed(&r, seed ^ 0x5eed5eedULL);
    for (int k = 0; k < 10 * 784; k++) proto[k] = (float)tg_rng_uniform(&r);
    int rc = synth(layout, ntr, proto, &r, &d->xtr, &d->ytr) ||
             synth(layout, nte, proto, &r, &d->xte, &d->yte);
    free(proto);
    if (rc) {
        fprintf(stderr, "out of memory making the synthetic dataset\n");
        tu_data_free(d);
        return 1;
    }
    d->ntr = ntr;
    d->nte = nte;
    return 0;
}

int tu_load(const tu_args *a, tu_layout layout, tu_data *d)
{
    const double t0 = tu_now();
    int rc;
    if (a->synthetic) {
        /* the CNN's steps cost more: half as many images keep it under 5 s */
        rc = tu_make_synthetic(layout, layout == TU_FLAT ? 2048 : 1024, 256, a->seed, d);
        if (!rc) printf("synthetic data: ");
    } else {
        rc = tu_load_fashion(a->data, layout, a->train_limit, d);
        if (!rc) printf("Fashion-MNIST from %s: ", a->data);
    }
    if (!rc)
        printf("%lld train / %lld test images (%.2f s)\n", (long long)d->ntr, (long long)d->nte,
               tu_now() - t0);
    return rc;
}

void tu_data_free(tu_data *d)
{
    tg_tensor_free(d->xtr);
    tg_tensor_free(d->xte);
    free(d->ytr);
    free(d->yte);
    memset(d, 0, sizeof *d);
}

/* ---- evaluation ------------------------------------------------------------ */

/* The class of row i of logits z (rows of c): the first largest entry. */
static int64_t row_argmax(const tg_tensor *z, int64_t i, int64_t c)
{
    int64_t best = 0;
    double bv = tg_tensor_get_flat(z, i * c);
    for (int64_t k = 1; k < c; k++) {
        const double v = tg_tensor_get_flat(z, i * c + k);
        if (v > bv) bv = v, best = k;
    }
    return best;
}

int64_t tu_count_correct(const tg_tensor *z, const int32_t *labels, int64_t n)
{
    const int64_t c = tg_tensor_dim(z, -1);
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) correct += row_argmax(z, i, c) == labels[i];
    return correct;
}

/* Folds each row's predicted class of logits z (n, C) into an FNV-1a digest. */
static uint64_t fold_predictions(uint64_t h, const tg_tensor *z, int64_t n)
{
    const int64_t c = tg_tensor_dim(z, -1);
    for (int64_t i = 0; i < n; i++) h = (h ^ (uint64_t)row_argmax(z, i, c)) * 0x100000001b3u;
    return h;
}

double tu_accuracy(tg_tape *tp, const tg_tensor *x, const int32_t *y, int64_t batch,
                   tu_forward_fn forward, void *ctx)
{
    return tu_evaluate(tp, x, y, batch, forward, ctx, NULL);
}

double tu_evaluate(tg_tape *tp, const tg_tensor *x, const int32_t *y, int64_t batch,
                   tu_forward_fn forward, void *ctx, uint64_t *digest)
{
    if (digest) *digest = 0xcbf29ce484222325u;
    tg_batches *it = tg_batches_new(x, y, batch, false, false, 0);
    if (!it) {
        fprintf(stderr, "evaluation: %s\n", tg_last_error());
        return -1;
    }
    tg_tensor *xb;
    const int32_t *yb;
    int64_t n, correct = 0, total = 0;
    double acc = -1;
    while (tg_batches_next(it, &xb, &yb, &n)) {
        tg_tape_reset(tp);
        tg_tensor *z = forward(tp, xb, ctx);
        if (!z) {
            fprintf(stderr, "evaluation: %s\n", tg_tape_error(tp));
            goto out;
        }
        correct += tu_count_correct(z, yb, n);
        if (digest) *digest = fold_predictions(*digest, z, n);
        total += n;
    }
    acc = total ? (double)correct / (double)total : 0.0;
out:
    tg_tape_reset(tp);
    tg_batches_free(it);
    return acc;
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress ---------------------------------------------------------------- */

static void fmt_time(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e7) s = 0;
    const long t = lround(s);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

FILE *tu_curve_open(const char *path)
{
    if (!path) return NULL;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s (no learning curve)\n", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "run,epoch,train_loss,train_acc,test_acc,train_seconds,examples_per_s\n");
    return f;
}

void tu_progress_begin(tu_progress *p, const char *name, int epochs, int64_t examples_per_epoch,
                       FILE *csv)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->epochs = epochs;
    p->examples_per_epoch = examples_per_epoch;
    p->csv = csv;
    p->tty = isatty(STDERR_FILENO) != 0;
    p->t_start = tu_now();
}

void tu_progress_epoch_begin(tu_progress *p)
{
    p->loss_sum = 0;
    p->seen = p->correct = 0;
    p->t_epoch = tu_now();
}

void tu_progress_batch(tu_progress *p, int epoch, double mean_loss, int64_t n, int64_t correct)
{
    p->loss_sum += mean_loss * (double)n;
    p->seen += n;
    p->correct += correct;
    /* the bar: redrawn every 1/32 of an epoch, only on a terminal (a log file
     * gets the epoch lines alone) */
    const int64_t step = p->examples_per_epoch / 32 > 0 ? p->examples_per_epoch / 32 : 1;
    if (!p->tty || (p->seen / step == (p->seen - n) / step && p->seen < p->examples_per_epoch))
        return;
    const double frac = (double)p->seen / (double)p->examples_per_epoch;
    const double el = tu_now() - p->t_epoch;
    const double rate = el > 0 ? (double)p->seen / el : 0;
    char left[32];
    fmt_time(rate > 0 ? (double)(p->examples_per_epoch - p->seen) / rate : 0, left, sizeof left);
    char bar[33];
    const int fill = (int)(frac * 32);
    for (int i = 0; i < 32; i++) bar[i] = i < fill ? '#' : '.';
    bar[32] = 0;
    fprintf(stderr, "\r%s epoch %d/%d [%s] %3.0f%% loss %.4f acc %.4f %6.0f ex/s %s left ", p->name,
            epoch, p->epochs, bar, 100 * frac, p->loss_sum / (double)p->seen,
            (double)p->correct / (double)p->seen, rate, left);
    fflush(stderr);
}

void tu_progress_epoch_end(tu_progress *p)
{
    p->train_seconds += tu_now() - p->t_epoch;
    p->t_epoch = tu_now() - p->t_epoch; /* now the epoch's duration */
}

void tu_progress_report(tu_progress *p, int epoch, double test_acc)
{
    if (p->tty) fprintf(stderr, "\r%*s\r", 110, "");
    const double loss = p->seen ? p->loss_sum / (double)p->seen : NAN;
    const double tacc = p->seen ? (double)p->correct / (double)p->seen : NAN;
    const double rate = p->t_epoch > 0 ? (double)p->seen / p->t_epoch : 0;
    /* time left: the mean wall time per epoch so far (evaluation included) */
    const double el = tu_now() - p->t_start;
    char left[32];
    fmt_time(el / epoch * (p->epochs - epoch), left, sizeof left);
    printf("%s epoch %2d/%d  loss %.4f  train acc %.4f  test acc %.4f  %6.0f ex/s  "
           "%.1f s  left %s\n",
           p->name, epoch, p->epochs, loss, tacc, test_acc, rate, p->t_epoch, left);
    fflush(stdout);
    if (p->csv) {
        fprintf(p->csv, "%s,%d,%.6f,%.6f,%.6f,%.3f,%.1f\n", p->name, epoch, loss, tacc, test_acc,
                p->train_seconds, rate);
        fflush(p->csv);
    }
}

/* ---- the plot ----------------------------------------------------------------- */

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && len + strlen(prog) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, prog);
            if (access(buf, X_OK) == 0) return true;
        }
        path += len;
        if (*path == ':') path++;
    }
    return false;
}

const char *tu_png_name(const char *csv_path, char *buf, size_t size)
{
    const char *dot = strrchr(csv_path, '.');
    const char *slash = strrchr(csv_path, '/');
    const size_t stem =
        dot && (!slash || dot > slash) ? (size_t)(dot - csv_path) : strlen(csv_path);
    snprintf(buf, size, "%.*s.png", (int)stem, csv_path);
    return buf;
}

bool tu_plot_png(const char *csv_path, const char *png_path, const char *title, int nruns,
                 const char *const *runs)
{
    if (!csv_path || !png_path) return false;
    if (!on_path("gnuplot")) {
        printf("learning curve in %s (install gnuplot for a plot of it as PNG)\n", csv_path);
        return false;
    }
    /* gnuplot strings are single-quoted: refuse paths that would break out */
    if (strchr(csv_path, '\'') || strchr(png_path, '\'') || strchr(title, '\'')) {
        printf("learning curve in %s (not plotted: a quote in the file name)\n", csv_path);
        return false;
    }
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        printf("learning curve in %s (could not start gnuplot)\n", csv_path);
        return false;
    }
    fprintf(g,
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
            "{ set terminal pngcairo size 900,800 } else { set terminal png size 900,800 }\n"
            "set termoption noenhanced\n" /* an underscore is an underscore */
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set key autotitle columnhead\n"
            "set grid\n"
            "set multiplot layout 2,1 title '%s'\n"
            "set xlabel 'epoch'\n"
            "set ylabel 'training loss'\n",
            png_path, title);
    /* one series per run: rows whose first column is the run's name */
    fprintf(g, "plot ");
    for (int i = 0; i < nruns; i++)
        fprintf(g,
                "%s'%s' using 2:(strcol(1) eq '%s' ? $3 : NaN) with linespoints lc %d "
                "title '%s'",
                i ? ", " : "", csv_path, runs[i], i + 1, runs[i]);
    fprintf(g, "\nset ylabel 'accuracy'\nset key bottom right\nplot ");
    for (int i = 0; i < nruns; i++)
        fprintf(g,
                "%s'%s' using 2:(strcol(1) eq '%s' ? $5 : NaN) with linespoints lc %d "
                "title '%s test', "
                "'%s' using 2:(strcol(1) eq '%s' ? $4 : NaN) with lines dashtype 2 lc %d "
                "title '%s train'",
                i ? ", " : "", csv_path, runs[i], i + 1, runs[i], csv_path, runs[i], i + 1,
                runs[i]);
    fprintf(g, "\nunset multiplot\nset output\n");
    const int rc = pclose(g);
    if (rc != 0 || access(png_path, R_OK) != 0) {
        printf("learning curve in %s (gnuplot failed, no plot)\n", csv_path);
        return false;
    }
    printf("learning curve in %s, plotted in %s\n", csv_path, png_path);
    return true;
}

/* --load: the parameters by name from a file --save wrote. */
static int load_params(const tu_args *a, const tu_classifier *c)
{
    if (tg_safetensors_load_into(a->load, c->nparams, c->param_names, c->params) != TG_OK) {
        fprintf(stderr, "%s: --load %s: %s\n", c->prog, a->load, tg_last_error());
        return 1;
    }
    printf("%s: loaded %d tensors from %s\n", c->prog, c->nparams, a->load);
    return 0;
}

/* The test accuracy and the predictions' digest, the line --save and
 * --load --eval runs are compared by. */
static int report_predictions(tg_tape *etp, const tu_data *d, const tu_classifier *c)
{
    uint64_t digest;
    const double acc =
        tu_evaluate(etp, d->xte, d->yte, c->eval_batch, c->forward, c->model, &digest);
    if (acc < 0) return 1;
    printf("%s: predictions on %lld test images: accuracy %.6f, digest %016llx\n", c->prog,
           (long long)d->nte, acc, (unsigned long long)digest);
    return 0;
}

/* --save: the parameters under their state_dict names. */
static int save_params(const tu_args *a, const tu_classifier *c)
{
    if (tg_safetensors_save(a->save, c->nparams, c->param_names, c->params) != TG_OK) {
        fprintf(stderr, "%s: --save %s: %s\n", c->prog, a->save, tg_last_error());
        return 1;
    }
    printf("%s: saved %d tensors to %s\n", c->prog, c->nparams, a->save);
    return 0;
}

tg_tensor *tu_batch_labels(tg_tensor **lab, const int32_t *y, int64_t n)
{
    if (!*lab || tg_tensor_numel(*lab) != n) {
        tg_tensor_free(*lab);
        *lab = tg_tensor_new(TG_I64, 1, &n);
        if (!*lab) return NULL;
    }
    int64_t *d = tg_tensor_i64(*lab);
    for (int64_t i = 0; i < n; i++) d[i] = y[i];
    tg_tensor_mark_modified(*lab);
    return *lab;
}

int tu_train_classifier(const tu_args *a, const tu_data *d, const tu_classifier *c)
{
    int rc = 0;
    tg_tensor *lab = NULL; /* the batch's labels (batch_labels) */
    tg_optim *opt = tg_sgd_new(c->nparams, c->params, 0.01, 0.9, 0.0);
    tg_batches *batches = tg_batches_new(d->xtr, d->ytr, c->batch, true, false, a->seed);
    /* one tape for training steps, one for evaluation: each keeps the arena
     * of its own batch size, so neither allocates in steady state */
    tg_tape *tp = tg_tape_new(NULL), *etp = tg_tape_new(NULL);
    if (!opt || !batches || !tp || !etp) {
        fprintf(stderr, "%s: %s\n", c->prog, tg_last_error());
        rc = 1;
        goto out;
    }
    if (a->load && (rc = load_params(a, c))) goto out;
    if (a->eval) {
        rc = report_predictions(etp, d, c);
        goto out;
    }

    FILE *csv = tu_curve_open(a->csv);
    tu_progress pr;
    tu_progress_begin(&pr, c->run, a->epochs, d->ntr, csv);
    double first_loss = NAN, last_loss = NAN, acc = 0;
    for (int epoch = 1; epoch <= a->epochs && !rc; epoch++) {
        tu_progress_epoch_begin(&pr);
        if (epoch > 1) tg_batches_reset(batches); /* a new order every epoch */
        tg_tensor *x;
        const int32_t *y;
        int64_t n;
        while (tg_batches_next(batches, &x, &y, &n)) {
            tg_tape_reset(tp); /* forget the last step's graph, keep its memory */
            tg_tensor *z = c->forward(tp, x, c->model);
            tg_tensor *loss =
                tg_softmax_cross_entropy_index(tp, z, tu_batch_labels(&lab, y, n), TG_REDUCE_MEAN);
            /* no zero_grad: tg_backward replaces .grad (PyTorch's backward
             * adds to it, hence its optimizer.zero_grad()) */
            if (!loss || tg_backward(tp, loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
                fprintf(stderr, "%s: %s\n", c->prog, tg_tape_error(tp));
                rc = 1;
                break;
            }
            last_loss = tg_tensor_get_flat(loss, 0);
            if (isnan(first_loss)) first_loss = last_loss;
            tu_progress_batch(&pr, epoch, last_loss, n, tu_count_correct(z, y, n));
        }
        tu_progress_epoch_end(&pr);
        if (rc) break;
        acc = tu_accuracy(etp, d->xte, d->yte, c->eval_batch, c->forward, c->model);
        if (acc < 0) rc = 1;
        tu_progress_report(&pr, epoch, acc);
    }
    if (csv) fclose(csv);

    if (!rc) {
        printf("%s: test accuracy %.4f after %d epochs, %.1f s of training (%d thread%s)\n",
               c->prog, acc, a->epochs, pr.train_seconds, a->threads, a->threads > 1 ? "s" : "");
        if (a->csv) {
            char png[4096];
            const char *runs[] = {c->run};
            tu_plot_png(a->csv, tu_png_name(a->csv, png, sizeof png), c->title, 1, runs);
        }
        /* The smoke test passes when training did something: the epoch's last
         * batch loss below the first one's, and well above chance on held-out
         * data of the same generator. */
        if (a->synthetic) {
            const bool ok = last_loss < 0.5 * first_loss && acc > 0.5;
            printf("synthetic check: loss %.4f -> %.4f, test accuracy %.4f: %s\n", first_loss,
                   last_loss, acc, ok ? "ok" : "FAILED");
            rc = ok ? 0 : 1;
        }
    }
    if (!rc && a->save && !(rc = save_params(a, c))) rc = report_predictions(etp, d, c);
out:
    tg_tensor_free(lab);
    tg_tape_free(tp);
    tg_tape_free(etp);
    tg_batches_free(batches);
    tg_optim_free(opt);
    return rc;
}
