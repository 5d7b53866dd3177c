/* char_rnn: a character-level LSTM built from tapegrad ops, trained by
 * truncated backpropagation through time on a small text the repository
 * ships (examples/data/tiny.txt, written for this example; MIT like the rest
 * of the repository).  It learns to predict each next character; the loss
 * (mean cross-entropy per character, in nats) falls from ln(vocabulary) and is
 * printed every --every steps; at the end the network writes a short text of
 * its own from a prompt.
 *
 * The model, one LSTM layer of --hidden units (Hochreiter & Schmidhuber, with
 * a forget gate), on one-hot characters x_t:
 *   [i f g o] = [x_t h_{t-1}] W + b                (one product for the four gates)
 *   i, f, o = sigmoid(.),  g = tanh(.)
 *   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
 *   logits_t = h_t Wy + by
 * The text is cut into --batch streams read side by side; each training step
 * unrolls --bptt characters of every stream on a fresh (reset) tape, runs
 * backward through the whole unrolled window, and carries (h, c) into the
 * next window as plain data: the gradient stops at the window's edge (that
 * is what truncated means), the state does not.
 *
 *   char_rnn [--steps N] [--text FILE] [--seed N] [--lr X] [--every N]
 *            [--hidden N] [--bptt N] [--batch N] [--sample N] [--temperature X]
 *
 * Exits non-zero unless the loss fell (the mean of the last --every steps
 * under 3/4 of the first step's loss), so a short run is a test. */
#include "train_util.h"

#include <tapegrad.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CHAR_RNN_TEXT
#define CHAR_RNN_TEXT "examples/data/tiny.txt"
#endif

typedef struct options {
    int64_t steps, every, hidden, bptt, batch, sample;
    double lr, temperature;
    uint64_t seed;
    const char *text;
} options;

static bool parse_f64(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

/* 0: go on; 1: bad flag (printed); 2: --help printed */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("char_rnn: a character-level LSTM (built from ops) learning a small text,\n"
                   "truncated backpropagation through time, Adam.\n\n"
                   "flags:\n"
                   "  --steps N        training steps (default %lld)\n"
                   "  --text FILE      the text to learn (default %s)\n"
                   "  --seed N         seed of the weights and the sampling (default %llu)\n"
                   "  --lr X           Adam's learning rate (default %g)\n"
                   "  --every N        print the mean loss of every N steps (default %lld)\n"
                   "  --hidden N       LSTM units (default %lld)\n"
                   "  --bptt N         characters unrolled per step (default %lld)\n"
                   "  --batch N        streams of the text read side by side (default %lld)\n"
                   "  --sample N       characters to write at the end (default %lld)\n"
                   "  --temperature X  0: always the likeliest character; else sample from\n"
                   "                   softmax(logits / X) (default %g)\n",
                   (long long)o->steps, o->text, (unsigned long long)o->seed, o->lr,
                   (long long)o->every, (long long)o->hidden, (long long)o->bptt,
                   (long long)o->batch, (long long)o->sample, o->temperature);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "char_rnn: unknown flag %s or missing value (see --help)\n", f);
            return 1;
        }
        const char *v = argv[++i]; /* the flag's value */
        int64_t n = 0;
        bool ok = true;
        if (!strcmp(f, "--steps"))
            ok = tu_parse_i64(v, 1, 1000000, &o->steps);
        else if (!strcmp(f, "--every"))
            ok = tu_parse_i64(v, 1, 1000000, &o->every);
        else if (!strcmp(f, "--hidden"))
            ok = tu_parse_i64(v, 1, 4096, &o->hidden);
        else if (!strcmp(f, "--bptt"))
            ok = tu_parse_i64(v, 1, 1024, &o->bptt);
        else if (!strcmp(f, "--batch"))
            ok = tu_parse_i64(v, 1, 1024, &o->batch);
        else if (!strcmp(f, "--sample"))
            ok = tu_parse_i64(v, 0, 100000, &o->sample);
        else if (!strcmp(f, "--seed")) {
            ok = tu_parse_i64(v, 0, INT64_MAX, &n);
            o->seed = (uint64_t)n;
        } else if (!strcmp(f, "--lr"))
            ok = parse_f64(v, 0.0, 10.0, &o->lr);
        else if (!strcmp(f, "--temperature"))
            ok = parse_f64(v, 0.0, 100.0, &o->temperature);
        else if (!strcmp(f, "--text"))
            o->text = v;
        else {
            fprintf(stderr, "char_rnn: unknown flag %s (see --help)\n", f);
            return 1;
        }
        if (!ok) {
            fprintf(stderr, "char_rnn: bad value for %s: %s (see --help)\n", f, v);
            return 1;
        }
    }
    return 0;
}

/* The whole file into a NUL-terminated buffer (free it); NULL on failure. */
static char *read_file(const char *path, int64_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 4096 + 1;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, 4096, f);
        n += got;
    } while (got == 4096);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = (int64_t)n;
    return buf;
}

typedef struct lstm {
    int64_t vocab, hidden;
    tg_tensor *w;  /* (vocab + hidden, 4 hidden): [x h] -> the gates i, f, g, o */
    tg_tensor *b;  /* (4 hidden) */
    tg_tensor *wy; /* (hidden, vocab) */
    tg_tensor *by; /* (vocab) */
} lstm;

/* One step of the cell: (h, c) <- cell(x, h, c), recorded on tp. */
static void lstm_cell(tg_tape *tp, const lstm *m, tg_tensor *x, tg_tensor **h, tg_tensor **c)
{
    const int64_t H = m->hidden;
    tg_tensor *xh = tg_concat(tp, 2, (tg_tensor *[]){x, *h}, 1);
    tg_tensor *z = tg_linear(tp, xh, m->w, m->b); /* (B, 4H) */
    tg_tensor *i = tg_sigmoid(tp, tg_slice(tp, z, 1, 0, H, 1));
    tg_tensor *f = tg_sigmoid(tp, tg_slice(tp, z, 1, H, 2 * H, 1));
    tg_tensor *g = tg_tanh(tp, tg_slice(tp, z, 1, 2 * H, 3 * H, 1));
    tg_tensor *o = tg_sigmoid(tp, tg_slice(tp, z, 1, 3 * H, 4 * H, 1));
    *c = tg_add(tp, tg_mul(tp, f, *c), tg_mul(tp, i, g));
    *h = tg_mul(tp, o, tg_tanh(tp, *c));
}

/* Scales every gradient by max_norm / (their joint L2 norm) when that norm
 * is larger: one unlucky window cannot throw the weights far (a recurrent
 * net's gradient can grow with the window's length). */
static void clip_grads(int n, tg_tensor *const *p, double max_norm)
{
    double ss = 0;
    for (int k = 0; k < n; k++) {
        const float *g = tg_tensor_f32(tg_tensor_grad(p[k]));
        for (int64_t j = 0; g && j < tg_tensor_numel(p[k]); j++) ss += (double)g[j] * g[j];
    }
    const double norm = sqrt(ss);
    if (!(norm > max_norm)) return;
    const float s = (float)(max_norm / norm);
    for (int k = 0; k < n; k++) {
        float *g = tg_tensor_f32(tg_tensor_grad(p[k]));
        for (int64_t j = 0; g && j < tg_tensor_numel(p[k]); j++) g[j] *= s;
    }
}

/* The index of a character drawn from softmax(logits / temperature), or the
 * likeliest one for temperature 0. */
static int64_t pick(const tg_tensor *logits, int64_t V, double temperature, tg_rng *rng)
{
    int64_t best = 0;
    for (int64_t k = 1; k < V; k++)
        if (tg_tensor_get_flat(logits, k) > tg_tensor_get_flat(logits, best)) best = k;
    if (temperature <= 0) return best;
    const double top = tg_tensor_get_flat(logits, best);
    double total = 0;
    for (int64_t k = 0; k < V; k++)
        total += exp((tg_tensor_get_flat(logits, k) - top) / temperature);
    double u = tg_rng_uniform(rng) * total;
    for (int64_t k = 0; k < V; k++) {
        u -= exp((tg_tensor_get_flat(logits, k) - top) / temperature);
        if (u < 0) return k;
    }
    return best;
}

/* Writes n characters after the prompt, one tape step per character (the
 * state carried as data, as in training, with a batch of one). */
static int generate(const lstm *m, const char *prompt, int64_t n, double temperature,
                    const int *index_of, const char *chars, tg_rng *rng)
{
    const int64_t V = m->vocab, H = m->hidden;
    tg_tensor *x = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){1, V});
    tg_tensor *h0 = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){1, H});
    tg_tensor *c0 = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){1, H});
    tg_tape *tp = tg_tape_new(NULL);
    int rc = x && h0 && c0 && tp ? 0 : 1;
    if (rc) fprintf(stderr, "char_rnn: %s\n", tg_last_error());
    int64_t next = index_of[(unsigned char)prompt[0]];
    const int64_t plen = (int64_t)strlen(prompt);
    fputs(prompt, stdout);
    for (int64_t t = 0; !rc && t < plen - 1 + n; t++) {
        tg_tape_reset(tp);
        tg_tensor_fill(x, 0);
        tg_tensor_set_flat(x, next, 1);
        tg_tensor *h = h0, *c = c0;
        lstm_cell(tp, m, x, &h, &c);
        tg_tensor *logits = tg_linear(tp, h, m->wy, m->by);
        if (!logits || tg_tensor_copy(h0, h) != TG_OK || tg_tensor_copy(c0, c) != TG_OK) {
            fprintf(stderr, "char_rnn: %s\n",
                    tg_tape_status(tp) ? tg_tape_error(tp) : tg_last_error());
            rc = 1;
            break;
        }
        if (t + 1 < plen) { /* still reading the prompt */
            next = index_of[(unsigned char)prompt[t + 1]];
            continue;
        }
        next = pick(logits, V, temperature, rng);
        putchar(chars[next]);
    }
    putchar('\n');
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(h0);
    tg_tensor_free(c0);
    return rc;
}

int main(int argc, char **argv)
{
    options o = {.steps = 300,
                 .every = 25,
                 .hidden = 128,
                 .bptt = 32,
                 .batch = 16,
                 .sample = 300,
                 .lr = 0.01,
                 .temperature = 0.5,
                 .seed = 1,
                 .text = CHAR_RNN_TEXT};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 2 ? 0 : 2;

    /* ---- the text and its alphabet ---- */
    int64_t len = 0;
    char *text = read_file(o.text, &len);
    if (!text) {
        fprintf(stderr, "char_rnn: cannot read %s: %s (--text FILE)\n", o.text, strerror(errno));
        return 1;
    }
    int index_of[256];
    char chars[256];
    int64_t V = 0;
    for (int k = 0; k < 256; k++) index_of[k] = -1;
    for (int64_t j = 0; j < len; j++) index_of[(unsigned char)text[j]] = 0;
    for (int k = 0; k < 256; k++)
        if (index_of[k] == 0) {
            index_of[k] = (int)V;
            chars[V++] = (char)k;
        }
    /* --batch streams, each of span characters (and its next one) */
    const int64_t B = o.batch, T = o.bptt, H = o.hidden, span = (len - 1) / B;
    if (span < T) {
        fprintf(stderr,
                "char_rnn: %s has %lld characters: too short for --batch %lld streams of "
                "--bptt %lld characters\n",
                o.text, (long long)len, (long long)B, (long long)T);
        free(text);
        return 1;
    }
    const char *base = strrchr(o.text, '/');
    printf("char_rnn: %s, %lld characters, %lld distinct; LSTM %lld units, %lld streams, "
           "%lld characters a step\n",
           base ? base + 1 : o.text, (long long)len, (long long)V, (long long)H, (long long)B,
           (long long)T);

    /* ---- parameters (user-owned; tg_backward writes their .grad) ---- */
    lstm m = {.vocab = V, .hidden = H};
    m.w = tg_tensor_new(TG_F32, 2, (const int64_t[]){V + H, 4 * H});
    m.b = tg_tensor_zeros(TG_F32, 1, (const int64_t[]){4 * H});
    m.wy = tg_tensor_new(TG_F32, 2, (const int64_t[]){H, V});
    m.by = tg_tensor_zeros(TG_F32, 1, (const int64_t[]){V});
    tg_tensor *params[4] = {m.w, m.b, m.wy, m.by};
    tg_rng rng;
    tg_rng_seed(&rng, o.seed);
    for (int k = 0; k < 4; k++)
        if (!params[k] || tg_tensor_set_requires_grad(params[k], true) != TG_OK) {
            fprintf(stderr, "char_rnn: %s\n", tg_last_error());
            return 1;
        }
    tg_init_xavier_uniform(m.w, &rng);
    tg_init_xavier_uniform(m.wy, &rng);
    /* forget gate bias 1: the cell starts by keeping its state (Gers et al.) */
    for (int64_t j = H; j < 2 * H; j++) tg_tensor_set_flat(m.b, j, 1.0);

    /* ---- the data of a step: T one-hot inputs (B, V), T*B labels, the state ---- */
    tg_tensor *xs[1024] = {0};
    for (int64_t t = 0; t < T; t++) xs[t] = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){B, V});
    tg_tensor *labels = tg_tensor_zeros(TG_I64, 1, (const int64_t[]){T * B});
    tg_tensor *h0 = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){B, H});
    tg_tensor *c0 = tg_tensor_zeros(TG_F32, 2, (const int64_t[]){B, H});
    tg_tensor **hs = calloc((size_t)T, sizeof *hs);
    tg_optim *opt = tg_adam_new(4, params, o.lr, 0.9, 0.999, 1e-8, 0.0);
    tg_tape *tp = tg_tape_new(NULL);
    if (!labels || !h0 || !c0 || !hs || !opt || !tp || !xs[T - 1]) {
        fprintf(stderr, "char_rnn: %s\n", tg_last_error());
        return 1;
    }

    double first = NAN, window = 0, last_mean = NAN;
    int64_t pos = 0; /* offset of this window in every stream */
    for (int64_t step = 1; step <= o.steps && !rc; step++) {
        if (pos + T > span) { /* back to the streams' start, with a fresh state */
            pos = 0;
            tg_tensor_fill(h0, 0);
            tg_tensor_fill(c0, 0);
        }
        /* stream s reads text[s*span + pos + t] and predicts the character after it */
        int64_t *lab = tg_tensor_i64(labels);
        for (int64_t t = 0; t < T; t++) {
            float *x = tg_tensor_f32(xs[t]);
            memset(x, 0, (size_t)(B * V) * sizeof *x);
            for (int64_t s = 0; s < B; s++) {
                const int64_t at = s * span + pos + t;
                x[s * V + index_of[(unsigned char)text[at]]] = 1.0f;
                lab[t * B + s] = index_of[(unsigned char)text[at + 1]];
            }
            tg_tensor_mark_modified(xs[t]);
        }
        tg_tensor_mark_modified(labels);
        pos += T;

        /* forward: unroll the window, then one output layer over all of it */
        tg_tape_reset(tp);
        tg_tensor *h = h0, *c = c0;
        for (int64_t t = 0; t < T; t++) {
            lstm_cell(tp, &m, xs[t], &h, &c);
            hs[t] = h;
        }
        tg_tensor *logits = tg_linear(tp, tg_concat(tp, (int)T, hs, 0), m.wy, m.by); /* (T*B, V) */
        tg_tensor *loss = tg_softmax_cross_entropy_index(tp, logits, labels, TG_REDUCE_MEAN);
        /* ops return NULL once the tape is in error: one check covers the whole window */
        if (!loss || tg_backward(tp, loss) != TG_OK) {
            fprintf(stderr, "char_rnn: step %lld: %s\n", (long long)step, tg_tape_error(tp));
            rc = 1;
            break;
        }
        /* the state goes on as data (after backward: a recorded input must not
         * change before it) */
        if (tg_tensor_copy(h0, h) != TG_OK || tg_tensor_copy(c0, c) != TG_OK) {
            fprintf(stderr, "char_rnn: %s\n", tg_last_error());
            rc = 1;
            break;
        }
        clip_grads(4, params, 5.0);
        if (tg_optim_step(opt) != TG_OK) {
            fprintf(stderr, "char_rnn: %s\n", tg_last_error());
            rc = 1;
            break;
        }
        const double l = tg_tensor_get_flat(loss, 0);
        if (step == 1) { /* alone on its line: the loss before any update */
            first = last_mean = l;
            printf("step %5d  loss %.4f  (ln %lld = %.4f: a uniform guess)\n", 1, l, (long long)V,
                   log((double)V));
            continue;
        }
        window += l;
        if (step % o.every == 0 || step == o.steps) {
            const int64_t nwin = step % o.every ? step % o.every : o.every;
            const int64_t from = step - nwin + 1 > 2 ? step - nwin + 1 : 2;
            last_mean = window / (double)(step - from + 1);
            printf("step %5lld  loss %.4f  (mean of steps %lld-%lld)\n", (long long)step, last_mean,
                   (long long)from, (long long)step);
            fflush(stdout);
            window = 0;
        }
    }

    if (!rc && o.sample > 0) {
        /* the prompt: "The clerk" if the text has its letters, else its first 9 characters */
        char prompt[10] = "The clerk";
        for (int k = 0; prompt[k]; k++)
            if (index_of[(unsigned char)prompt[k]] < 0) {
                snprintf(prompt, sizeof prompt, "%.9s", text);
                break;
            }
        printf("\nsampled (temperature %g) after the prompt \"%s\":\n", o.temperature, prompt);
        rc = generate(&m, prompt, o.sample, o.temperature, index_of, chars, &rng);
    }
    if (!rc) {
        const bool fell = last_mean < 0.75 * first;
        printf("\nchar_rnn: loss %.4f -> %.4f over %lld steps: %s\n", first, last_mean,
               (long long)o.steps, fell ? "it fell" : "it did NOT fall below 3/4 of the first");
        rc = fell ? 0 : 1;
    }
    tg_tape_free(tp);
    tg_optim_free(opt);
    free(hs);
    for (int64_t t = 0; t < T; t++) tg_tensor_free(xs[t]);
    tg_tensor_free(labels);
    tg_tensor_free(h0);
    tg_tensor_free(c0);
    for (int k = 0; k < 4; k++) tg_tensor_free(params[k]);
    free(text);
    return rc;
}
