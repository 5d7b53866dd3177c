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
 *   fashion_mlp --synthetic     (a smoke test on generated data, no files)
 *   mpirun -np 2 fashion_mlp --dist [flags]   (data-parallel, docs/distributed.md) */
#include "train_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- --dist: data-parallel training over MPI (docs/distributed.md) ----------
 * Under `mpirun -np R fashion_mlp --dist`, each rank trains a copy of the
 * model on its shard of every global batch of 64 (tg_batches_shard) and
 * averages the gradients after tg_backward (tg_dist_allreduce_grads), so
 * all copies take the same steps; rank 0 evaluates and prints. */
static int train_dist(const tu_args *a, const tu_data *d, const tu_classifier *c)
{
    const int rank = tg_dist_rank(), size = tg_dist_size();
    int rc = tg_dist_broadcast(c->nparams, c->params) != TG_OK; /* rank 0's initial weights */
    tg_optim *opt = tg_sgd_new(c->nparams, c->params, 0.01, 0.9, 0.0);
    tg_batches *batches = tg_batches_new(d->xtr, d->ytr, c->batch, true, false, a->seed);
    tg_tape *tp = tg_tape_new(NULL), *etp = tg_tape_new(NULL);
    tg_tensor *lab = NULL; /* the batch's labels (tu_batch_labels) */
    if (rc || !opt || !batches || !tp || !etp || tg_batches_shard(batches, rank, size) != TG_OK) {
        fprintf(stderr, "%s: rank %d: %s\n", c->prog, rank, tg_last_error());
        rc = 1;
    }
    double acc = 0, train_seconds = 0;
    for (int epoch = 1; epoch <= a->epochs && !rc; epoch++) {
        if (epoch > 1) tg_batches_reset(batches);
        const double t0 = tu_now();
        double loss_sum = 0;
        int64_t seen = 0, n;
        tg_tensor *x;
        const int32_t *y;
        while (!rc && tg_batches_next(batches, &x, &y, &n)) {
            tg_tape_reset(tp);
            tg_tensor *loss = tg_softmax_cross_entropy_index(
                tp, c->forward(tp, x, c->model), tu_batch_labels(&lab, y, n), TG_REDUCE_MEAN);
            if (!loss || tg_backward(tp, loss) != TG_OK) {
                fprintf(stderr, "%s: rank %d: %s\n", c->prog, rank, tg_tape_error(tp));
                rc = 1;
            } else if (tg_dist_allreduce_grads(c->nparams, c->params) != TG_OK ||
                       tg_optim_step(opt) != TG_OK) {
                fprintf(stderr, "%s: rank %d: %s\n", c->prog, rank, tg_last_error());
                rc = 1;
            } else {
                loss_sum += tg_tensor_get_flat(loss, 0) * (double)n;
                seen += n;
            }
        }
        const double dt = tu_now() - t0;
        train_seconds += dt;
        if (rc || rank != 0) continue;
        acc = tu_accuracy(etp, d->xte, d->yte, c->eval_batch, c->forward, c->model);
        printf("%s epoch %2d/%d  loss %.4f (rank 0's shard)  test acc %.4f  %.1f s\n", c->run,
               epoch, a->epochs, seen ? loss_sum / (double)seen : NAN, acc, dt);
        fflush(stdout);
    }
    if (!rc && rank == 0)
        printf("%s: test accuracy %.4f after %d epochs, %.1f s of training on %d rank%s "
               "(%.2f s per epoch)\n",
               c->prog, acc, a->epochs, train_seconds, size, size > 1 ? "s" : "",
               train_seconds / a->epochs);
    tg_tape_free(tp);
    tg_tape_free(etp);
    tg_tensor_free(lab);
    tg_batches_free(batches);
    tg_optim_free(opt);
    return rc;
}

int main(int argc, char **argv)
{
    tu_args a = {.epochs = 12, .data = TU_FASHION_DIR, .threads = 1, .seed = 0};
    /* --dist (see train_dist): MPI starts first; ranks other than 0 print nothing */
    bool dist = false;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--dist")) {
            dist = true;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
            argc--;
            break;
        }
    if (dist && tg_dist_init(&argc, &argv, NULL) != TG_OK) {
        fprintf(stderr, "fashion_mlp: %s\n", tg_last_error());
        return 1;
    }
    if (dist && tg_dist_rank() != 0 && !freopen("/dev/null", "w", stdout)) return 1;
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
    rc = dist ? train_dist(&a, &d, &c) : tu_train_classifier(&a, &d, &c);
    if (dist && tg_dist_finalize() != TG_OK) {
        fprintf(stderr, "fashion_mlp: %s\n", tg_last_error());
        rc = 1;
    }
    for (int l = 0; l < NLAYER; l++) {
        tg_tensor_free(m.w[l]);
        tg_tensor_free(m.b[l]);
    }
    tu_data_free(&d);
    return rc;
}
