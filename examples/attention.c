/* attention: one block of causal self-attention learning a toy sequence task,
 * "recall the last marked digit".
 *
 * A sequence holds --length digits, each of them marked with probability
 * 1/4 (tokens 0-9 are plain digits, 10-19 the marked digits 0-9).  At every
 * position the network must say which digit was marked last, at or before
 * that position, or "none yet" (printed '-'):
 *     input     5   5  [6]  2   7   0   7  [7] [5] [0]  9   5
 *     target    -   -   6   6   6   6   6   7   5   0   0   0
 * A position may only look at itself and the positions before it (the causal
 * mask), and among the marked ones it must pick the latest: the attention
 * scores have to weigh the token (marked or not) and the position (how
 * recent).  --no-mask drops the mask: the network then has to learn from the
 * position embeddings not to look ahead, and gets there more slowly and less
 * exactly.
 *
 * The model (one head, pre-layer-norm residual block, d = --dim):
 *   x       = E[token] + P[position]                      (tg_embedding twice)
 *   a       = layer_norm(x)                               (tg_layer_norm)
 *   q, k, v = a Wq, a Wk, a Wv
 *   s       = q k^T / sqrt(d); s[i,j] = -inf where j > i  (tg_masked_fill)
 *   x       = x + softmax(s) v Wo                         (tg_softmax over j)
 *   logits  = layer_norm(x) Wout + bout                   (11 classes: 0-9, none)
 * trained with the mean softmax cross-entropy over every position of a fresh
 * random batch each step (Adam).  Every --every steps it prints the mean
 * training loss and the accuracy on a held-out set of 512 sequences; at the
 * end a few held-out sequences with the answers and where the last position
 * looked.
 *
 *   attention [--steps N] [--seed N] [--lr X] [--every N] [--dim N]
 *             [--length N] [--batch N] [--no-mask]
 *
 * Exits non-zero unless the loss fell (the mean of the last --every steps
 * under 3/4 of the first step's loss) and the held-out accuracy rose, so a
 * short run is a test. */
#include "train_util.h"

#include <tapegrad.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NTOKEN = 20, NCLASS = 11, NONE = 10, NEVAL = 512 };

typedef struct options {
    int64_t steps, every, dim, length, batch;
    double lr;
    uint64_t seed;
    bool mask;
} options;

/* 0: go on; 1: bad flag (printed); 2: --help printed */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("attention: one block of causal self-attention learning to recall the last\n"
                   "marked digit at each position (Adam, a fresh random batch each step).\n\n"
                   "flags:\n"
                   "  --steps N   training steps (default %lld)\n"
                   "  --seed N    seed of the weights and the data (default %llu)\n"
                   "  --lr X      Adam's learning rate (default %g)\n"
                   "  --every N   print the mean loss of every N steps and the held-out\n"
                   "              accuracy (default %lld)\n"
                   "  --dim N     embedding width d (default %lld)\n"
                   "  --length N  digits per sequence (default %lld)\n"
                   "  --batch N   sequences per step (default %lld)\n"
                   "  --no-mask   no causal mask: every position sees the whole sequence\n",
                   (long long)o->steps, (unsigned long long)o->seed, o->lr, (long long)o->every,
                   (long long)o->dim, (long long)o->length, (long long)o->batch);
            return 2;
        }
        if (!strcmp(f, "--no-mask")) {
            o->mask = false;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "attention: unknown flag %s or missing value (see --help)\n", f);
            return 1;
        }
        const char *v = argv[++i]; /* the flag's value */
        int64_t n = 0;
        bool ok = true;
        if (!strcmp(f, "--steps"))
            ok = tu_parse_i64(v, 1, 1000000, &o->steps);
        else if (!strcmp(f, "--every"))
            ok = tu_parse_i64(v, 1, 1000000, &o->every);
        else if (!strcmp(f, "--dim"))
            ok = tu_parse_i64(v, 1, 4096, &o->dim);
        else if (!strcmp(f, "--length"))
            ok = tu_parse_i64(v, 1, 1024, &o->length);
        else if (!strcmp(f, "--batch"))
            ok = tu_parse_i64(v, 1, 4096, &o->batch);
        else if (!strcmp(f, "--seed")) {
            ok = tu_parse_i64(v, 0, INT64_MAX, &n);
            o->seed = (uint64_t)n;
        } else if (!strcmp(f, "--lr")) {
            char *end;
            errno = 0;
            o->lr = strtod(v, &end);
            ok = !errno && end != v && !*end && o->lr >= 0 && o->lr <= 10;
        } else {
            fprintf(stderr, "attention: unknown flag %s (see --help)\n", f);
            return 1;
        }
        if (!ok) {
            fprintf(stderr, "attention: bad value for %s: %s (see --help)\n", f, v);
            return 1;
        }
    }
    return 0;
}

typedef struct model {
    int64_t dim;
    tg_tensor *tok, *pos;         /* embeddings (NTOKEN, d), (length, d) */
    tg_tensor *ln1_w, *ln1_b;     /* (d) */
    tg_tensor *wq, *wk, *wv, *wo; /* (d, d) */
    tg_tensor *ln2_w, *ln2_b;     /* (d) */
    tg_tensor *wout, *bout;       /* (d, NCLASS), (NCLASS) */
    tg_tensor *positions;         /* TG_I64 (length): 0, 1, ..., length - 1 (data) */
    tg_tensor *mask;              /* (length, length): 1 where j > i (data), or NULL */
} model;
enum { NPARAM = 12 };

/* The logits (B, length, NCLASS) of tokens (B, length) (TG_I64); with att,
 * also the attention weights (B, length, length). */
static tg_tensor *forward(tg_tape *tp, const model *m, const tg_tensor *tokens, tg_tensor **att)
{
    tg_tensor *x = tg_add(tp, tg_embedding(tp, m->tok, tokens, -1),
                          tg_embedding(tp, m->pos, m->positions, -1)); /* (B, L, d) */
    tg_tensor *a = tg_layer_norm(tp, x, 1, m->ln1_w, m->ln1_b, 1e-5);
    tg_tensor *q = tg_matmul(tp, a, m->wq), *k = tg_matmul(tp, a, m->wk),
              *v = tg_matmul(tp, a, m->wv);
    tg_tensor *s = tg_mul_scalar(tp, tg_matmul_t(tp, q, k, false, true),
                                 1.0 / sqrt((double)m->dim)); /* (B, L, L): s[b,i,j] = q_i . k_j */
    if (m->mask) s = tg_masked_fill(tp, s, m->mask, -INFINITY); /* (L, L) broadcasts over B */
    tg_tensor *w = tg_softmax(tp, s, -1);
    if (att) *att = w;
    x = tg_add(tp, x, tg_matmul(tp, tg_matmul(tp, w, v), m->wo));
    tg_tensor *z = tg_layer_norm(tp, x, 1, m->ln2_w, m->ln2_b, 1e-5);
    return tg_add(tp, tg_matmul(tp, z, m->wout), m->bout); /* tg_linear takes 2-d x only */
}

/* n random sequences into tokens (n, L) and their answers into labels (n*L):
 * each digit is marked with probability 1/4. */
static void make_batch(tg_rng *rng, int64_t n, int64_t L, tg_tensor *tokens, tg_tensor *labels)
{
    int64_t *tok = tg_tensor_i64(tokens), *lab = tg_tensor_i64(labels);
    for (int64_t b = 0; b < n; b++) {
        int64_t recalled = NONE;
        for (int64_t i = 0; i < L; i++) {
            const int64_t digit = (int64_t)(tg_rng_uniform(rng) * 10.0);
            const bool marked = tg_rng_uniform(rng) < 0.25;
            tok[b * L + i] = marked ? digit + 10 : digit;
            if (marked) recalled = digit;
            lab[b * L + i] = recalled;
        }
    }
    tg_tensor_mark_modified(tokens);
    tg_tensor_mark_modified(labels);
}

/* Fraction of positions whose likeliest class is the label; -1 on error. */
static double accuracy(const tg_tensor *logits, const tg_tensor *labels)
{
    const int64_t n = tg_tensor_numel(labels);
    const float *z = tg_tensor_data_const(logits);
    const int64_t *lab = tg_tensor_data_const(labels);
    int64_t right = 0;
    for (int64_t r = 0; r < n; r++) {
        int best = 0;
        for (int c = 1; c < NCLASS; c++)
            if (z[r * NCLASS + c] > z[r * NCLASS + best]) best = c;
        right += best == lab[r];
    }
    return (double)right / (double)n;
}

static char class_char(int64_t c)
{
    return c == NONE ? '-' : (char)('0' + c);
}

/* label, then row without its trailing spaces, then a newline */
static void put_row(const char *label, char *row)
{
    size_t n = strlen(row);
    while (n > 0 && row[n - 1] == ' ') row[--n] = '\0';
    printf("%s%s\n", label, row);
}

int main(int argc, char **argv)
{
    options o = {.steps = 300,
                 .every = 25,
                 .dim = 32,
                 .length = 12,
                 .batch = 32,
                 .lr = 0.01,
                 .seed = 1,
                 .mask = true};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 2 ? 0 : 2;
    const int64_t B = o.batch, L = o.length, D = o.dim;
    printf("attention: recall the last marked digit; sequences of %lld, d = %lld, batches of %lld, "
           "%s\n",
           (long long)L, (long long)D, (long long)B,
           o.mask ? "causal mask" : "NO mask (--no-mask)");

    /* ---- parameters ---- */
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    model m = {.dim = D};
    const int64_t dd[2] = {D, D};
    m.tok = tg_tensor_randn(TG_F32, 2, (const int64_t[]){NTOKEN, D}, &rng);
    m.pos = tg_tensor_randn(TG_F32, 2, (const int64_t[]){L, D}, &rng);
    m.ln1_w = tg_tensor_ones(TG_F32, 1, &D);
    m.ln1_b = tg_tensor_zeros(TG_F32, 1, &D);
    m.wq = tg_tensor_new(TG_F32, 2, dd);
    m.wk = tg_tensor_new(TG_F32, 2, dd);
    m.wv = tg_tensor_new(TG_F32, 2, dd);
    m.wo = tg_tensor_new(TG_F32, 2, dd);
    m.ln2_w = tg_tensor_ones(TG_F32, 1, &D);
    m.ln2_b = tg_tensor_zeros(TG_F32, 1, &D);
    m.wout = tg_tensor_new(TG_F32, 2, (const int64_t[]){D, NCLASS});
    m.bout = tg_tensor_zeros(TG_F32, 1, (const int64_t[]){NCLASS});
    tg_tensor *params[NPARAM] = {m.tok, m.pos, m.ln1_w, m.ln1_b, m.wq,   m.wk,
                                 m.wv,  m.wo,  m.ln2_w, m.ln2_b, m.wout, m.bout};
    for (int p = 0; p < NPARAM; p++)
        if (!params[p] || tg_tensor_set_requires_grad(params[p], true) != TG_OK) {
            fprintf(stderr, "attention: %s\n", tg_last_error());
            return 1;
        }
    tg_tensor *const dense[5] = {m.wq, m.wk, m.wv, m.wo, m.wout};
    for (int p = 0; p < 5; p++) tg_init_xavier_uniform(dense[p], &rng);

    /* ---- data: positions, the mask, a training batch, the held-out set ---- */
    m.positions = tg_tensor_arange(TG_I64, 0, (double)L, 1);
    if (o.mask) {
        m.mask = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){L, L});
        for (int64_t i = 0; m.mask && i < L; i++)
            for (int64_t j = i + 1; j < L; j++) tg_tensor_set_flat(m.mask, i * L + j, 1.0);
    }
    tg_tensor *tokens = tg_tensor_zeros(TG_I64, 2, (const int64_t[]){B, L});
    tg_tensor *labels = tg_tensor_zeros(TG_I64, 1, (const int64_t[]){B * L});
    tg_tensor *etokens = tg_tensor_zeros(TG_I64, 2, (const int64_t[]){NEVAL, L});
    tg_tensor *elabels = tg_tensor_zeros(TG_I64, 1, (const int64_t[]){NEVAL * L});
    tg_optim *opt = tg_adam_new(NPARAM, params, o.lr, 0.9, 0.999, 1e-8, 0.0);
    tg_tape *tp = tg_tape_new(NULL), *etp = tg_tape_new(NULL);
    if (!m.positions || (o.mask && !m.mask) || !tokens || !labels || !etokens || !elabels || !opt ||
        !tp || !etp) {
        fprintf(stderr, "attention: %s\n", tg_last_error());
        return 1;
    }
    tg_rng data_rng;
    tg_rng_seed(&data_rng, o.seed + 1000);
    make_batch(&data_rng, NEVAL, L, etokens, elabels); /* drawn first: the same for every run */

    double first = NAN, window = 0, last_mean = NAN, acc0 = NAN, acc = NAN;
    for (int64_t step = 1; step <= o.steps && !rc; step++) {
        make_batch(&data_rng, B, L, tokens, labels);
        tg_tape_reset(tp);
        tg_tensor *logits = forward(tp, &m, tokens, NULL);
        tg_tensor *loss = tg_softmax_cross_entropy_index(
            tp, tg_reshape(tp, logits, 2, (const int64_t[]){B * L, NCLASS}), labels,
            TG_REDUCE_MEAN);
        /* ops return NULL once the tape is in error: one check covers the forward */
        if (!loss || tg_backward(tp, loss) != TG_OK) {
            fprintf(stderr, "attention: step %lld: %s\n", (long long)step, tg_tape_error(tp));
            rc = 1;
            break;
        }
        if (tg_optim_step(opt) != TG_OK) {
            fprintf(stderr, "attention: %s\n", tg_last_error());
            rc = 1;
            break;
        }
        const double l = tg_tensor_get_flat(loss, 0);
        window += l;
        const bool report = step == 1 || step % o.every == 0 || step == o.steps;
        if (!report) continue;
        /* held-out accuracy, on the second tape (its arena keeps its own size) */
        tg_tape_reset(etp);
        tg_tensor *elogits = forward(etp, &m, etokens, NULL);
        if (!elogits) {
            fprintf(stderr, "attention: %s\n", tg_tape_error(etp));
            rc = 1;
            break;
        }
        acc = accuracy(elogits, elabels);
        if (step == 1) {
            first = last_mean = l;
            acc0 = acc;
            printf("step %5d  loss %.4f  held-out acc %.4f  (a uniform guess: ln %d = %.4f)\n", 1,
                   l, acc, NCLASS, log((double)NCLASS));
            window = 0;
            continue;
        }
        const int64_t nwin = step % o.every ? step % o.every : o.every;
        last_mean = window / (double)(step <= o.every ? nwin - 1 : nwin);
        printf("step %5lld  loss %.4f  held-out acc %.4f\n", (long long)step, last_mean, acc);
        fflush(stdout);
        window = 0;
    }

    if (!rc) { /* three held-out sequences, and where their last position looks */
        tg_tape_reset(etp);
        tg_tensor *att = NULL, *elogits = forward(etp, &m, etokens, &att);
        if (!elogits) {
            fprintf(stderr, "attention: %s\n", tg_tape_error(etp));
            rc = 1;
        }
        static char row[4 * 1024 + 1]; /* 4 characters a position */
        for (int64_t b = 0; !rc && b < 3; b++) {
            const int64_t *tok = tg_tensor_i64(etokens) + b * L;
            const int64_t *lab = tg_tensor_i64(elabels) + b * L;
            const float *z = (const float *)tg_tensor_data_const(elogits) + b * L * NCLASS;
            for (int64_t i = 0; i < L; i++)
                snprintf(row + 4 * i, 5, tok[i] >= 10 ? " [%d]" : "  %d ", (int)(tok[i] % 10));
            put_row("\ninput   ", row);
            for (int64_t i = 0; i < L; i++) snprintf(row + 4 * i, 5, "  %c ", class_char(lab[i]));
            put_row("target  ", row);
            for (int64_t i = 0; i < L; i++) {
                int best = 0;
                for (int c = 1; c < NCLASS; c++)
                    if (z[i * NCLASS + c] > z[i * NCLASS + best]) best = c;
                snprintf(row + 4 * i, 5, "  %c ", class_char(best));
            }
            put_row("output  ", row);
            for (int64_t j = 0; j < L; j++) /* percent, rounded: 0 to 100 */
                snprintf(row + 4 * j, 5, "%3d ",
                         (int)lround(100.0 * tg_tensor_get_flat(att, (b * L + L - 1) * L + j)));
            put_row("last position's attention (%):\n        ", row);
        }
    }
    if (!rc) {
        const bool fell = last_mean < 0.75 * first;
        const bool rose = acc > acc0;
        printf("\nattention: loss %.4f -> %.4f, held-out accuracy %.4f -> %.4f over %lld steps: "
               "%s\n",
               first, last_mean, acc0, acc, (long long)o.steps,
               fell && rose ? "it learnt" : "it did NOT learn (loss under 3/4, accuracy up)");
        rc = fell && rose ? 0 : 1;
    }
    tg_tape_free(tp);
    tg_tape_free(etp);
    tg_optim_free(opt);
    for (int p = 0; p < NPARAM; p++) tg_tensor_free(params[p]);
    tg_tensor_free(m.positions);
    tg_tensor_free(m.mask);
    tg_tensor_free(tokens);
    tg_tensor_free(labels);
    tg_tensor_free(etokens);
    tg_tensor_free(elabels);
    return rc;
}
