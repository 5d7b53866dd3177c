/* XOR with seed 001's 2-2-1 sigmoid network: the whole training loop of a
 * tapegrad program in one page.  Prints the tape once, then the loss as it
 * falls, then the four predictions.  The tensors are named (W1, h, y, ...),
 * so every listing, narration and picture speaks the lecture's language.
 *   xor --explain         narrates a step's backward pass: each node's rule
 *                         with its numbers
 *   xor --explain-md      the same as a Markdown handout
 *   xor --dot FILE        writes that step's graph for Graphviz (values and
 *                         gradients), rendered to FILE.png when `dot` is
 *                         installed
 *   xor --svg FILE        the same picture as SVG, without Graphviz
 *   xor --step N          which step the narration and pictures show
 *                         (default 0, the first: both show the same one)
 *   xor --save FILE       writes the trained parameters (safetensors)
 *   xor --load FILE       starts from saved parameters; with --eval, only
 *                         prints their predictions */
#include <tapegrad.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* t named, for the listing, the narration and the pictures. */
static tg_tensor *named(tg_tensor *t, const char *name)
{
    if (t) tg_tensor_set_name(t, name);
    return t;
}

/* sigmoid(sigmoid(x @ W1 + b1) @ W2 + b2); with keep, the intermediates keep
 * their gradients, which the pictures show */
static tg_tensor *forward(tg_tape *tp, tg_tensor *x, tg_tensor *const p[4], bool keep)
{
    tg_tensor *z1 = named(tg_add(tp, tg_matmul(tp, x, p[0]), p[1]), "z1");
    tg_tensor *h = named(tg_sigmoid(tp, z1), "h");
    tg_tensor *z2 = named(tg_add(tp, tg_matmul(tp, h, p[2]), p[3]), "z2");
    tg_tensor *y = named(tg_sigmoid(tp, z2), "o");
    tg_tensor *const mid[] = {z1, h, z2, y};
    for (int i = 0; keep && y && i < 4; i++) tg_retain_grad(tp, mid[i]);
    return y;
}

/* dot -Tpng FILE -o FILE.png, if Graphviz is installed (a path with a
 * quote is not passed to the shell). */
static void render_png(const char *dot_path)
{
    if (strchr(dot_path, '\'') || system("command -v dot >/dev/null 2>&1") != 0) {
        printf("(install graphviz to render it: dot -Tpng %s -o %s.png)\n", dot_path, dot_path);
        return;
    }
    char cmd[4096 + 64];
    snprintf(cmd, sizeof cmd, "dot -Tpng '%s' -o '%s.png'", dot_path, dot_path);
    if (system(cmd) == 0) printf("rendered %s.png\n", dot_path);
}

/* The picture of the step --explain narrates: DOT (and PNG) or SVG. */
static void write_pictures(const tg_tape *tp, const char *dot_path, const char *svg_path)
{
    FILE *f = dot_path ? fopen(dot_path, "w") : NULL;
    if (f) {
        tg_tape_write_dot(tp, f, 8);
        fclose(f);
        printf("wrote %s\n", dot_path);
        render_png(dot_path);
    }
    f = svg_path ? fopen(svg_path, "w") : NULL;
    if (f) {
        tg_tape_write_svg(tp, f, &(tg_picture_options){.small_numel = 8});
        fclose(f);
        printf("wrote %s\n", svg_path);
    }
}

int main(int argc, char **argv)
{
    const char *dot_path = NULL, *svg_path = NULL, *save = NULL, *load = NULL;
    bool eval = false;
    int explain = -1; /* -1 off, else a tg_explain_format */
    long step = 0;    /* the step narrated and drawn */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dot") && i + 1 < argc)
            dot_path = argv[++i];
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
            svg_path = argv[++i];
        else if (!strcmp(argv[i], "--step") && i + 1 < argc)
            step = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--save") && i + 1 < argc)
            save = argv[++i];
        else if (!strcmp(argv[i], "--load") && i + 1 < argc)
            load = argv[++i];
        else if (!strcmp(argv[i], "--eval"))
            eval = true;
        else if (!strcmp(argv[i], "--explain"))
            explain = TG_EXPLAIN_TEXT;
        else if (!strcmp(argv[i], "--explain-md"))
            explain = TG_EXPLAIN_MARKDOWN;
        else {
            fprintf(stderr,
                    "usage: %s [--explain | --explain-md] [--dot FILE] [--svg FILE] [--step N]\n"
                    "       [--save FILE] [--load FILE [--eval]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (step < 0 || step > 3000) {
        fprintf(stderr, "xor: --step %ld: the steps are 0 to 3000\n", step);
        return 2;
    }
    const double xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, ts[] = {0, 1, 1, 0};
    tg_tensor *x = named(tg_tensor_from_f64(TG_F64, 2, (int64_t[]){4, 2}, xs), "x");
    tg_tensor *t = named(tg_tensor_from_f64(TG_F64, 2, (int64_t[]){4, 1}, ts), "t");

    /* 2-2-1: w1 (2,2), b1 (1,2), w2 (2,1), b2 (1,1); a fixed seed */
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    const int64_t shapes[4][2] = {{2, 2}, {1, 2}, {2, 1}, {1, 1}};
    tg_tensor *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = tg_tensor_new(TG_F64, 2, shapes[i]);
        tg_tensor_fill_uniform(p[i], &rng, -1.0, 1.0);
        tg_tensor_set_requires_grad(p[i], true);
        tg_tensor_set_name(p[i], (const char *const[]){"W1", "b1", "W2", "b2"}[i]);
    }
    /* PyTorch's state_dict names; the weights are (in, out), the transpose of
     * an nn.Linear weight */
    static const char *const names[4] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    if (load && tg_safetensors_load_into(load, 4, names, p) != TG_OK) {
        fprintf(stderr, "xor: --load %s: %s\n", load, tg_last_error());
        return 1;
    }

    tg_tape *tp = tg_tape_new(NULL);
    const double lr = 2.0;
    int rc = 0;
    for (int epoch = 0; epoch <= (eval ? -1 : 3000); epoch++) {
        tg_tape_reset(tp); /* rewinds the arena: no allocation after the first steps */
        const bool shown = epoch == step;
        tg_tensor *loss = named(tg_sse(tp, forward(tp, x, p, shown), t), "loss");
        /* the shown step's backward pass, narrated (seed 004's delta rule at work) */
        if (shown && explain >= 0) tg_tape_set_explain(tp, stdout, explain, 8);
        tg_status st = loss ? tg_backward(tp, loss) : tg_tape_status(tp);
        tg_tape_set_explain(tp, NULL, TG_EXPLAIN_TEXT, 0);
        if (st != TG_OK) {
            fprintf(stderr, "error: %s\n", tg_tape_error(tp));
            rc = 1;
            break;
        }
        if (epoch == 0) {
            puts("The tape of one training step (the Wengert list):");
            tg_tape_print(tp, stdout);
            puts("");
        }
        if (epoch % 300 == 0) printf("epoch %4d  loss %.6f\n", epoch, tg_tensor_get_flat(loss, 0));
        /* before the update: the values and gradients the narration used */
        if (shown) write_pictures(tp, dot_path, svg_path);
        /* plain SGD: w -= lr * dL/dw */
        for (int i = 0; i < 4; i++) {
            double *w = tg_tensor_f64(p[i]);
            const double *g = tg_tensor_f64(tg_tensor_grad(p[i]));
            for (int64_t k = 0; k < tg_tensor_numel(p[i]); k++) w[k] -= lr * g[k];
        }
    }
    if (!rc) {
        tg_tape_reset(tp);
        tg_tensor *y = forward(tp, x, p, false);
        puts("\n x1 x2 | target | output");
        int correct = 0;
        for (int i = 0; i < 4; i++) {
            double o = tg_tensor_get_flat(y, i);
            correct += (o > 0.5) == (ts[i] > 0.5);
            printf("  %g  %g |   %g    | %.4f\n", xs[2 * i], xs[2 * i + 1], ts[i], o);
        }
        printf("%d of 4 correct\n", correct);
        /* every digit, the line --save and --load --eval runs are compared by */
        printf("xor: predictions on 4 inputs: %.17g %.17g %.17g %.17g\n", tg_tensor_get_flat(y, 0),
               tg_tensor_get_flat(y, 1), tg_tensor_get_flat(y, 2), tg_tensor_get_flat(y, 3));
        rc = correct == 4 ? 0 : 1;
    }
    if (!rc && save) {
        if (tg_safetensors_save(save, 4, names, p) != TG_OK) {
            fprintf(stderr, "xor: --save %s: %s\n", save, tg_last_error());
            rc = 1;
        } else {
            printf("xor: saved 4 tensors to %s\n", save);
        }
    }
    tg_tape_free(tp);
    for (int i = 0; i < 4; i++) tg_tensor_free(p[i]);
    tg_tensor_free(x);
    tg_tensor_free(t);
    return rc;
}
