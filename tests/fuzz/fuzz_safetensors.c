/* libFuzzer harness for the safetensors loader: the input bytes are the
 * file.  Whatever they are, loading must not crash, leak or read out of
 * bounds, and must end in TG_OK or an error with a message.  A file that
 * loads is saved again and reloaded: the second load must give the same
 * names, shapes, dtypes and bit-identical data (the round trip is lossless),
 * and tg_safetensors_load_into must fill a tensor of the first entry's shape
 * with the same values. */
#include <tapegrad.h>

#include <string.h>

#include "fuzz_file.h"

static bool bit_equal(const tg_tensor *a, const tg_tensor *b)
{
    return tg_tensor_same_shape(a, b) && tg_tensor_dtype(a) == tg_tensor_dtype(b) &&
           memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b),
                  (size_t)tg_tensor_numel(a) * tg_dtype_size(tg_tensor_dtype(a))) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in_path[128], out_path[128];
    fuzz_path("in.safetensors", in_path, sizeof in_path);
    fuzz_path("out.safetensors", out_path, sizeof out_path);
    fuzz_write(in_path, data, size);

    tg_named_tensors a = {0};
    tg_status st = tg_safetensors_load(in_path, &a);
    if (st != TG_OK) {
        CHECK(tg_last_status() == st);
        CHECK(tg_last_error()[0] != '\0');
        CHECK(a.n == 0 && a.names == NULL && a.tensors == NULL);
        tg_named_tensors_free(&a);
        return 0;
    }
    for (int i = 0; i < a.n; i++) CHECK(a.names[i] && a.tensors[i]);

    /* round trip */
    st = tg_safetensors_save(out_path, a.n, (const char *const *)a.names, a.tensors);
    CHECK(st == TG_OK);
    tg_named_tensors b = {0};
    CHECK(tg_safetensors_load(out_path, &b) == TG_OK);
    CHECK(b.n == a.n);
    for (int i = 0; i < a.n; i++) {
        int j = 0;
        while (j < b.n && strcmp(a.names[i], b.names[j]) != 0) j++;
        CHECK(j < b.n);
        CHECK(bit_equal(a.tensors[i], b.tensors[j]));
    }
    if (a.n > 0) {
        /* f64 for a float entry; an I64 entry loads only into an i64 tensor */
        const tg_dtype dt = tg_tensor_dtype(a.tensors[0]) == TG_I64 ? TG_I64 : TG_F64;
        tg_tensor *t =
            tg_tensor_new(dt, tg_tensor_ndim(a.tensors[0]), tg_tensor_shape(a.tensors[0]));
        CHECK(t != NULL);
        const char *name = a.names[0];
        CHECK(tg_safetensors_load_into(in_path, 1, &name, &t) == TG_OK);
        for (int64_t k = 0; k < tg_tensor_numel(t); k++) {
            double x = tg_tensor_get_flat(t, k), y = tg_tensor_get_flat(a.tensors[0], k);
            CHECK(x == y || (x != x && y != y));
        }
        tg_tensor_free(t);
    }
    tg_named_tensors_free(&a);
    tg_named_tensors_free(&b);
    unlink(out_path);
    return 0;
}
