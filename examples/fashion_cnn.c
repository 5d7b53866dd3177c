/* fashion_cnn: the B4 convolutional network of ../shared/BENCHMARKS.md
 * learning Fashion-MNIST with tapegrad:
 *
 *   1x28x28 -> conv 8@5x5 stride 1 pad 2 -> relu        (8x28x28)
 *           -> conv 16@5x5 stride 2 pad 2 -> relu       (16x14x14)
 *           -> flatten -> dense 3136->10 -> softmax cross-entropy
 *
 * Setup (the same as ../shared/peers/torch_fashion.py, so the two can be
 * compared): weights N(0, 1)/sqrt(fan_in) (fan_in = C*KH*KW for a kernel),
 * biases zero, mean softmax cross-entropy, SGD lr 0.01 momentum 0.9,
 * batches of 64 reshuffled every epoch, f32.  Prints a line per epoch (loss,
 * accuracy, examples per second, time left) and the final test accuracy;
 * --csv writes the learning curve.
 *
 *   fashion_cnn [--epochs N] [--csv PATH] [--data DIR] [--threads N] [--seed N]
 *   fashion_cnn --synthetic     (a smoke test on generated data, no files) */
#include "train_util.h"

#include <math.h>
#include <stdlib.h>

enum { NPARAM = 6, BATCH = 64 };

typedef struct cnn {
    tg_tensor *w1, *b1; /* conv 1: (8, 1, 5, 5), (8) */
    tg_tensor *w2, *b2; /* conv 2: (16, 8, 5, 5), (16) */
    tg_tensor *w3, *b3; /* dense: (3136, 10), (10) */
} cnn;

static tg_tensor *forward(tg_tape *tp, tg_tensor *x, void *ctx)
{
    const cnn *m = ctx;
    tg_tensor *h = tg_relu(tp, tg_conv2d(tp, x, m->w1, m->b1, 1, 1, 2, 2)); /* (N, 8, 28, 28) */
    h = tg_relu(tp, tg_conv2d(tp, h, m->w2, m->b2, 2, 2, 2, 2));            /* (N, 16, 14, 14) */
    return tg_linear(tp, tg_flatten(tp, h), m->w3, m->b3);                  /* (N, 10) */
    /* ops return NULL once the tape is in error: one check at the end suffices */
}

/* A parameter: zeros, then N(0, 1/fan_in) for a weight (fan_in > 0). */
static tg_tensor *param(tg_tensor **slot, tg_rng *r, int ndim, const int64_t *shape, int64_t fan_in)
{
    tg_tensor *t = tg_tensor_zeros(TG_F32, ndim, shape);
    if (!t) return NULL;
    if (fan_in > 0) tg_init_normal(t, r, 0.0, 1.0 / sqrt((double)fan_in));
    tg_tensor_set_requires_grad(t, true);
    return *slot = t;
}

int main(int argc, char **argv)
{
    tu_args a = {.epochs = 12, .data = TU_FASHION_DIR, .threads = 1, .seed = 0};
    int rc = tu_parse_args(argc, argv, &a,
                           "fashion_cnn: the B4 CNN (conv 8@5x5, relu, conv 16@5x5 stride 2,\n"
                           "relu, dense 3136->10) on Fashion-MNIST, SGD lr 0.01 momentum 0.9,\n"
                           "batch 64.");
    if (rc) return rc == 2 ? 0 : 2;
    tu_set_threads(a.threads);

    tu_data d;
    if (tu_load(&a, TU_IMAGES, &d)) return 1;

    /* parameters: user-owned tensors that tg_backward writes gradients for */
    cnn m = {0};
    tg_rng rng;
    tg_rng_seed(&rng, a.seed);
    tg_tensor *params[NPARAM] = {
        param(&m.w1, &rng, 4, (const int64_t[]){8, 1, 5, 5}, 1 * 5 * 5),
        param(&m.b1, &rng, 1, (const int64_t[]){8}, 0),
        param(&m.w2, &rng, 4, (const int64_t[]){16, 8, 5, 5}, 8 * 5 * 5),
        param(&m.b2, &rng, 1, (const int64_t[]){16}, 0),
        param(&m.w3, &rng, 2, (const int64_t[]){3136, 10}, 3136),
        param(&m.b3, &rng, 1, (const int64_t[]){10}, 0),
    };
    for (int i = 0; i < NPARAM; i++) {
        if (!params[i]) {
            fprintf(stderr, "fashion_cnn: %s\n", tg_last_error());
            return 1;
        }
    }
    /* PyTorch's state_dict names; the conv weights (out, in, kh, kw) are
     * PyTorch's layout, the dense weight (in, out) the transpose of its */
    static const char *const names[NPARAM] = {"conv1.weight", "conv1.bias", "conv2.weight",
                                              "conv2.bias",   "fc.weight",  "fc.bias"};
    const tu_classifier c = {.prog = "fashion_cnn",
                             .run = "cnn",
                             .title = "fashion_cnn: the B4 CNN on Fashion-MNIST",
                             .forward = forward,
                             .model = &m,
                             .nparams = NPARAM,
                             .params = params,
                             .param_names = names,
                             .batch = BATCH,
                             .eval_batch = 250};
    rc = tu_train_classifier(&a, &d, &c);
    for (int i = 0; i < NPARAM; i++) tg_tensor_free(params[i]);
    tu_data_free(&d);
    return rc;
}
