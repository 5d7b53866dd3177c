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
    /* PyTorch's state_dict names; the weights are (in, out), the transpose of
     * an nn.Linear weight (out, in) */
    static const char *const names[2 * NLAYER] = {"fc1.weight", "fc1.bias",   "fc2.weight",
                                                  "fc2.bias",   "fc3.weight", "fc3.bias"};
    const tu_classifier c = {.prog = "fashion_mlp",
                             .run = "mlp",
                             .title = "fashion_mlp: MLP 784-256-128-10 on Fashion-MNIST",
                             .forward = forward,
                             .model = &m,
                             .nparams = 2 * NLAYER,
                             .params = params,
                             .param_names = names,
                             .batch = BATCH,
                             .eval_batch = 500};
    rc = tu_train_classifier(&a, &d, &c);
    for (int l = 0; l < NLAYER; l++) {
        tg_tensor_free(m.w[l]);
        tg_tensor_free(m.b[l]);
    }
    tu_data_free(&d);
    return rc;
}
