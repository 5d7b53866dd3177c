/* The smallest worked example: y = sigmoid(x @ w + b), its tape and its
 * gradients, checked against the hand formula dy/dw = y (1 - y) x. */
#include <tapegrad.h>

#include <math.h>

int main(void)
{
    tg_tensor *x = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){1, 2}, (double[]){1.0, 2.0});
    tg_tensor *w = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){2, 1}, (double[]){0.5, -0.25});
    tg_tensor *b = tg_tensor_from_f64(TG_F64, 2, (int64_t[]){1, 1}, (double[]){0.1});
    tg_tensor_set_requires_grad(w, true);
    tg_tensor_set_requires_grad(b, true);

    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *z = tg_add(tp, tg_matmul(tp, x, w), b);
    tg_tensor *y = tg_sigmoid(tp, z);
    int rc = 0;
    if (!y || tg_backward(tp, y) != TG_OK) {
        fprintf(stderr, "error: %s\n", tg_tape_error(tp));
        rc = 1;
        goto out;
    }
    puts("The tape (Wengert list):");
    tg_tape_print(tp, stdout);
    puts("");
    tg_tensor_print(stdout, "y", y, 0);
    tg_tensor_print(stdout, "dy/dw", tg_tensor_grad(w), 0);
    tg_tensor_print(stdout, "dy/db", tg_tensor_grad(b), 0);
    tg_tensor_print(stdout, "dy/dz", tg_grad(tp, y, z, false), 0);

    /* by hand: dy/dw_i = y (1 - y) x_i */
    double yv = tg_tensor_get_flat(y, 0), d = yv * (1 - yv);
    double err = fmax(fabs(tg_tensor_get_flat(tg_tensor_grad(w), 0) - d * 1.0),
                      fabs(tg_tensor_get_flat(tg_tensor_grad(w), 1) - d * 2.0));
    printf("\nhand formula y(1-y)x = (%.6f, %.6f); max difference %.1e\n", d, 2 * d, err);
    rc = err < 1e-15 ? 0 : 1;
out:
    tg_tape_free(tp);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(b);
    return rc;
}
