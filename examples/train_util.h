/* Helpers shared by the Fashion-MNIST examples (fashion_mlp, fashion_cnn,
 * fast_dropout): command-line flags, loading the dataset (or generating a
 * tiny synthetic one), test accuracy, a progress line per epoch, the learning
 * curve as CSV and, when gnuplot is installed, as PNG.
 *
 * The training loops themselves stay in each example, in plain sight: these
 * helpers only do the bookkeeping around them. */
#ifndef TRAIN_UTIL_H
#define TRAIN_UTIL_H

#include <tapegrad.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Where the Debian package dataset-fashion-mnist puts the IDX files. */
#define TU_FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* The flags every example takes.  Fields hold the defaults the example sets
 * before tu_parse_args. */
typedef struct tu_args {
    int epochs;          /* --epochs N */
    const char *csv;     /* --csv PATH: learning curve (NULL: none) */
    const char *data;    /* --data DIR */
    int threads;         /* --threads N: OpenBLAS threads (the examples default to 1:
                          * a second thread gains little at these sizes and
                          * collapses when the cores are shared) */
    uint64_t seed;       /* --seed N: weights and shuffling */
    bool synthetic;      /* --synthetic: tiny generated dataset, smoke test (1 epoch
                          * unless --epochs is given) */
    int64_t train_limit; /* --train-size N: use the first N training images (0: all;
                          * --synthetic always makes 2048, or 1024 images for a CNN) */
    const char *save;    /* --save FILE: the trained parameters, as safetensors */
    const char *load;    /* --load FILE: start from these parameters */
    bool eval;           /* --eval: only evaluate (with --load: a saved model) */
} tu_args;

/* Parses argv into a (which holds the defaults).  Returns 0 to go on, 1 on a
 * bad flag (message printed), 2 after printing the usage for --help.  usage
 * is the example's one-paragraph description. */
int tu_parse_args(int argc, char **argv, tu_args *a, const char *usage);
/* A whole decimal integer in [lo, hi] (nothing else in s), or false. */
bool tu_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Sets OpenBLAS's thread count (no-op without OpenBLAS), and says on stderr
 * when OpenBLAS runs generic kernels this CPU outgrows, with the remedy
 * (tg_gemm_slow_kernels). */
void tu_set_threads(int n);

/* A dataset in memory: images as f32 tensors shaped (N, 784) for an MLP or
 * (N, 1, 28, 28) for a CNN, pixels scaled to [0, 1]; labels in 0..9. */
typedef struct tu_data {
    tg_tensor *xtr, *xte;
    int32_t *ytr, *yte;
    int64_t ntr, nte;
} tu_data;

typedef enum tu_layout { TU_FLAT = 0, TU_IMAGES = 1 } tu_layout;

/* Loads Fashion-MNIST from dir (the four *-ubyte.gz files).  On failure
 * prints which file is missing and how to install the package, and returns
 * non-zero.  train_limit > 0 keeps the first train_limit training images. */
int tu_load_fashion(const char *dir, tu_layout layout, int64_t train_limit, tu_data *d);
/* A tiny learnable stand-in (ntr + nte images): each class is a fixed random
 * prototype image plus noise, so a network can fit it in a few steps. */
int tu_make_synthetic(tu_layout layout, int64_t ntr, int64_t nte, uint64_t seed, tu_data *d);
/* Loads whichever of the two a asks for. */
int tu_load(const tu_args *a, tu_layout layout, tu_data *d);
void tu_data_free(tu_data *d);

/* Class of each row of logits z (N, C): counts how many equal labels. */
int64_t tu_count_correct(const tg_tensor *z, const int32_t *labels, int64_t n);

/* A model's forward pass for evaluation: the logits (N, 10) of x on tp. */
typedef tg_tensor *(*tu_forward_fn)(tg_tape *tp, tg_tensor *x, void *ctx);
/* Accuracy of forward on (x, y) in batches of batch rows, on tp (reset
 * before each batch).  Returns -1 on a tape error (printed). */
double tu_accuracy(tg_tape *tp, const tg_tensor *x, const int32_t *y, int64_t batch,
                   tu_forward_fn forward, void *ctx);
/* tu_accuracy that also folds every predicted class, in order, into *digest
 * (FNV-1a, 64 bits): two models that agree on every prediction have equal
 * digests, which is what --save / --load --eval runs compare. */
double tu_evaluate(tg_tape *tp, const tg_tensor *x, const int32_t *y, int64_t batch,
                   tu_forward_fn forward, void *ctx, uint64_t *digest);

/* The batch's labels as the TG_I64 tensor the loss takes, in *lab (free it
 * with tg_tensor_free).  *lab is remade only when the batch size changes
 * (the short last batch), so a step allocates nothing in steady state. */
tg_tensor *tu_batch_labels(tg_tensor **lab, const int32_t *y, int64_t n);

/* Wall clock in seconds (monotonic). */
double tu_now(void);

/* Progress of a training run: a bar on stderr during an epoch (only when
 * stderr is a terminal) and one line per epoch on stdout; rows of the CSV. */
typedef struct tu_progress {
    const char *name; /* printed at the start of each line */
    int epochs;
    int64_t examples_per_epoch;
    double t_start, t_epoch, train_seconds;
    double loss_sum;
    int64_t seen, correct;
    bool tty;
    FILE *csv; /* not owned */
} tu_progress;

/* Opens a learning-curve CSV and writes its header
 *   run,epoch,train_loss,train_acc,test_acc,train_seconds,examples_per_s
 * (one row per epoch; several runs may share a file).  NULL path: NULL. */
FILE *tu_curve_open(const char *path);

/* Starts a run named name (its lines and CSV rows are tagged with it); csv
 * may be NULL. */
void tu_progress_begin(tu_progress *p, const char *name, int epochs, int64_t examples_per_epoch,
                       FILE *csv);
void tu_progress_epoch_begin(tu_progress *p);
/* After each training batch: its mean loss, its size and how many of it the
 * network classified right (its training accuracy, before the update). */
void tu_progress_batch(tu_progress *p, int epoch, double mean_loss, int64_t n, int64_t correct);
/* Ends an epoch (call before evaluating, so evaluation time is not counted as
 * training time). */
void tu_progress_epoch_end(tu_progress *p);
/* Prints the epoch's line and writes its CSV row. */
void tu_progress_report(tu_progress *p, int epoch, double test_acc);

/* Plots the learning curves of csv_path (as written above; the runs named in
 * runs[0..nruns-1]) into png_path with gnuplot, if gnuplot is on PATH:
 * training loss on top, train and test accuracy below.  Returns true if a
 * PNG was written; a missing gnuplot is not an error (a note says how to get
 * the plot). */
bool tu_plot_png(const char *csv_path, const char *png_path, const char *title, int nruns,
                 const char *const *runs);
/* "curve.csv" -> "curve.png" into buf. */
const char *tu_png_name(const char *csv_path, char *buf, size_t size);

/* A classifier to train: its forward pass (logits from a batch) and its
 * user-owned parameters (requires_grad set). */
typedef struct tu_classifier {
    const char *prog;  /* "fashion_mlp": prefixes messages */
    const char *run;   /* "mlp": the run's name in the CSV and plot */
    const char *title; /* the plot's title */
    tu_forward_fn forward;
    void *model;
    int nparams;
    tg_tensor *const *params;
    /* Each parameter's name in a --save / --load file: PyTorch's state_dict
     * names ("fc1.weight", "fc1.bias", ...). */
    const char *const *param_names;
    int64_t batch, eval_batch;
} tu_classifier;
/* With --load, the parameters are read from the file first (by name; shapes
 * must match).  With --eval, only the test accuracy and the predictions'
 * digest are printed.  With --save, the trained parameters are written
 * (safetensors) and the digest printed. */
/* The training loop the examples share: SGD lr 0.01 momentum 0.9 (as
 * ../shared/peers/torch_fashion.py), mean softmax cross-entropy, batches
 * reshuffled every epoch, one tape for training steps and one for
 * evaluation (each keeps the arena of its own batch size, so neither
 * allocates in steady state); progress lines, the CSV curve and its PNG.
 * With --synthetic it also checks that training did something.  Returns the
 * process exit status. */
int tu_train_classifier(const tu_args *a, const tu_data *d, const tu_classifier *c);

#endif
