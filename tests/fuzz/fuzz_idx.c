/* libFuzzer harness for the IDX loader: the first input byte picks how the
 * rest is read (as images or labels, plain or gzip-compressed); the rest is
 * the file.  Loading must not crash, leak or read out of bounds, and must
 * end in a result or an error with a message.  A result must agree with the
 * file: the shape from the header and each value the byte times the scale
 * (checked against a direct decoding of the plain bytes).  A "plain" input
 * that starts with gzip's magic is a raw gzip file, which the loader
 * inflates (and may reject: a cut trailer, bytes after the last member); a
 * result is then checked against what zlib's gzread makes of it. */
#include <tapegrad.h>

#include <string.h>
#include <zlib.h>

#include "fuzz_file.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t mode = data[0];
    data++;
    size--;
    char path[128];
    const bool gz = mode & 2;
    fuzz_path(gz ? "in.idx.gz" : "in.idx", path, sizeof path);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g != NULL);
        CHECK(size == 0 || gzwrite(g, data, (unsigned)size) == (int)size);
        CHECK(gzclose(g) == Z_OK);
    } else {
        fuzz_write(path, data, size);
    }

    /* a raw gzip input: the content is what gzread inflates (up to 1 MiB;
     * beyond that a result is only checked to exist) */
    uint8_t *inflated = NULL;
    bool unchecked = false;
    if (!gz && size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        gzFile g = gzopen(path, "rb");
        CHECK(g != NULL);
        inflated = malloc(1 << 20);
        CHECK(inflated != NULL);
        int r = gzread(g, inflated, 1 << 20);
        uint8_t more;
        unchecked = r < 0 || (r == 1 << 20 && gzread(g, &more, 1) > 0);
        gzclose(g);
        data = inflated;
        size = r < 0 ? 0 : (size_t)r;
    }

    if (mode & 1) {
        int64_t n = -1;
        int32_t *lab = tg_idx_load_labels(path, &n);
        if (!lab) {
            CHECK(n == 0);
            CHECK(tg_last_status() != TG_OK && tg_last_error()[0] != '\0');
        } else if (!unchecked) {
            /* a 1-d u8 file: magic 0x00000801, one extent, the bytes */
            CHECK(size >= 8 && be32(data) == 0x801 && (int64_t)be32(data + 4) == n);
            CHECK((size_t)n == size - 8);
            for (int64_t i = 0; i < n; i++) CHECK(lab[i] == data[8 + i]);
        }
        tg_idx_labels_free(lab);
        free(inflated);
        return 0;
    }
    const tg_dtype dt = (mode & 4) ? TG_F32 : TG_F64;
    const double scale = (mode & 8) ? 1.0 / 255.0 : 1.0;
    tg_tensor *t = tg_idx_load(path, dt, scale);
    if (!t) {
        CHECK(tg_last_status() != TG_OK && tg_last_error()[0] != '\0');
    } else if (!unchecked) {
        CHECK(size >= 4 && (be32(data) & 0xffffff00u) == 0x800);
        const int nd = (int)(be32(data) & 0xff);
        CHECK(tg_tensor_ndim(t) == nd && tg_tensor_dtype(t) == dt);
        size_t off = 4 + 4 * (size_t)nd;
        CHECK(size >= off);
        for (int d = 0; d < nd; d++)
            CHECK(tg_tensor_shape(t)[d] == (int64_t)be32(data + 4 + 4 * d));
        CHECK((size_t)tg_tensor_numel(t) == size - off);
        for (int64_t i = 0; i < tg_tensor_numel(t); i++) {
            double want =
                dt == TG_F32 ? (double)(float)(data[off + i] * scale) : data[off + i] * scale;
            CHECK(tg_tensor_get_flat(t, i) == want);
        }
    }
    tg_tensor_free(t);
    free(inflated);
    return 0;
}
