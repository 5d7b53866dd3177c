/* fashion_mlp: a 784-256-128-10 multilayer perceptron (relu hidden units)
 * learning Fashion-MNIST with tapegrad, the whole training loop on one page.
 *
 * Setup (the same as ../shared/peers/torch_fashion.py, so the two can be
 * compared): weights N(0, 1)/sqrt(fan_in), biases zero, mean softmax
 * cross-entropy, SGD lr 0.01 momentum 0.9, batches of 64 reshuffled every
 * epoch, f32.  Prints a line per epoch (loss, accuracy, examples per second,
 * time left) and the final test accuracy; --csv writes the learning curve.
 *
 *   fashion_mlp [--epochs N] [--csv PATH] [--data DIR] [--threads N] [--seed N]
 *   fashion_mlp --synthetic     (a smoke test on generated data, no files) */
#include "train_util.h"

#include <math.h>
#include <stdlib.h>

enum { NLAYER = 3, BATCH = 64 };
static const int64_t sizes[NLAYER + 1] = {784, 256, 128, 10};

typedef struct mlp {
    tg_tensor *w[NLAYER]; /* (in, out): the layer is x @ w + b */
    tg_tensor *b[NLAYER]; /* (out) */
} mlp;

/* logits = relu(relu(x W1 + b1) W2 + b2) W3 + b3 */
static tg_tensor *forward(tg_tape *tp, tg_tensor *x, void *ctx)
{
    const mlp *m = ctx;
    tg_tensor *h = x;
    for (int l = 0; l < NLAYER; l++) {
        h = tg_linear(tp, h, m->w[l], m->b[l]);
        if (l < NLAYER - 1) h = tg_relu(tp, h);
    }
    return h; /* ops return NULL once the tape is in error: one check at the end suffices */
}

int main(int argc, char **argv)
{
    tu_args a = {.epochs = 12, .data = TU_FASHION_DIR, .threads = 1, .seed = 0};
    int rc = tu_parse_args(argc, argv, &a,
                           "fashion_mlp: an MLP 784-256-128-10 (relu) on Fashion-MNIST,\n"
                           "SGD lr 0.01 momentum 0.9, batch 64.");
    if (rc) return rc == 2 ? 0 : 2;
    tu_set_threads(a.threads);

    tu_data d;
    if (tu_load(&a, TU_FLAT, &d)) return 1;

    /* parameters: user-owned tensors that tg_backward writes gradients for */
    mlp m = {{0}, {0}};
    tg_tensor *params[2 * NLAYER];
    tg_rng rng;
    tg_rng_seed(&rng, a.seed);
    for (int l = 0; l < NLAYER; l++) {
        m.w[l] = tg_tensor_new(TG_F32, 2, (const int64_t[]){sizes[l], sizes[l + 1]});
        m.b[l] = tg_tensor_zeros(TG_F32, 1, (const int64_t[]){sizes[l + 1]});
        if (!m.w[l] || !m.b[l]) {
            fprintf(stderr, "fashion_mlp: %s\n", tg_last_error());
            return 1;
        }
        tg_init_normal(m.w[l], &rng, 0.0, 1.0 / sqrt((double)sizes[l]));
        tg_tensor_set_requires_grad(m.w[l], true);
        tg_tensor_set_requires_grad(m.b[l], true);
        params[2 * l] = m.w[l];
        params[2 * l + 1] = m.b[l];
    }
    tg_optim *opt = tg_sgd_new(2 * NLAYER, params, 0.01, 0.9, 0.0);
    tg_batches *batches = tg_batches_new(d.xtr, d.ytr, BATCH, true, false, a.seed);
    /* one tape for training steps, one for evaluation: each keeps the arena
     * of its own batch size, so neither allocates in steady state */
    tg_tape *tp = tg_tape_new(NULL), *etp = tg_tape_new(NULL);
    if (!opt || !batches || !tp || !etp) {
        fprintf(stderr, "fashion_mlp: %s\n", tg_last_error());
        return 1;
    }

    FILE *csv = tu_curve_open(a.csv);
    tu_progress pr;
    tu_progress_begin(&pr, "mlp", a.epochs, d.ntr, csv);
    double first_loss = NAN, last_loss = NAN, acc = 0;
    for (int epoch = 1; epoch <= a.epochs && !rc; epoch++) {
        tu_progress_epoch_begin(&pr);
        if (epoch > 1) tg_batches_reset(batches); /* a new order every epoch */
        tg_tensor *x;
        const int32_t *y;
        int64_t n;
        while (tg_batches_next(batches, &x, &y, &n)) {
            tg_tape_reset(tp); /* forget the last step's graph, keep its memory */
            tg_tensor *z = forward(tp, x, &m);
            tg_tensor *loss = tg_softmax_cross_entropy_labels(tp, z, y, n, TG_REDUCE_MEAN);
            tg_optim_zero_grad(opt);
            if (!loss || tg_backward(tp, loss) != TG_OK || tg_optim_step(opt) != TG_OK) {
                fprintf(stderr, "fashion_mlp: %s\n", tg_tape_error(tp));
                rc = 1;
                break;
            }
            last_loss = tg_tensor_get_flat(loss, 0);
            if (isnan(first_loss)) first_loss = last_loss;
            tu_progress_batch(&pr, epoch, last_loss, n, tu_count_correct(z, y, n));
        }
        tu_progress_epoch_end(&pr);
        if (rc) break;
        acc = tu_accuracy(etp, d.xte, d.yte, 500, forward, &m);
        if (acc < 0) rc = 1;
        tu_progress_report(&pr, epoch, acc);
    }
    if (csv) fclose(csv);

    if (!rc) {
        printf("fashion_mlp: test accuracy %.4f after %d epochs, %.1f s of training "
               "(%d thread%s)\n",
               acc, a.epochs, pr.train_seconds, a.threads, a.threads > 1 ? "s" : "");
        if (a.csv) {
            char png[4096];
            const char *runs[] = {"mlp"};
            tu_plot_png(a.csv, tu_png_name(a.csv, png, sizeof png),
                        "fashion_mlp: MLP 784-256-128-10 on Fashion-MNIST", 1, runs);
        }
        /* The smoke test passes when training did something: the epoch's last
         * batch loss below the first one's, and well above chance on held-out
         * data of the same generator. */
        if (a.synthetic) {
            const bool ok = last_loss < 0.5 * first_loss && acc > 0.5;
            printf("synthetic check: loss %.4f -> %.4f, test accuracy %.4f: %s\n", first_loss,
                   last_loss, acc, ok ? "ok" : "FAILED");
            rc = ok ? 0 : 1;
        }
    }
    tg_tape_free(tp);
    tg_tape_free(etp);
    tg_batches_free(batches);
    tg_optim_free(opt);
    for (int l = 0; l < NLAYER; l++) {
        tg_tensor_free(m.w[l]);
        tg_tensor_free(m.b[l]);
    }
    tu_data_free(&d);
    return rc;
}
