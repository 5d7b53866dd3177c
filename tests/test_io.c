/* safetensors (round trip, a file written by Python, corrupt files), IDX
 * datasets (gzip'd and plain, bad headers, truncation) and mini-batches. */
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- files -------------------------------------------------------------------------- */
/* The fixtures of tests/data (written by tests/data/make_fixtures.py):
 * $TG_TEST_DATA, or data/ next to this source file (meson compiles it with a
 * path relative to the build directory, where meson test runs). */
static void fixture(char *buf, size_t n, const char *name)
{
    const char *env = getenv("TG_TEST_DATA");
    if (env) {
        snprintf(buf, n, "%s/%s", env, name);
    } else {
        const char *f = __FILE__, *slash = strrchr(f, '/');
        int dir = slash ? (int)(slash - f) : 1;
        snprintf(buf, n, "%.*s/data/%s", dir, slash ? f : ".", name);
    }
    ck_assert_msg(access(buf, R_OK) == 0,
                  "fixture %s not found (run from the build directory or set TG_TEST_DATA)", buf);
}

/* A scratch directory per test (tests may run in forked processes). */
static char g_dir[64];
static void scratch_setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tg_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}
static void scratch_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}
static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)sz + 1);
    ck_assert_uint_eq(fread(p, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return p;
}

/* A safetensors file from a header text and a data buffer. */
static void write_st(const char *path, const char *json, const void *data, size_t ndata)
{
    size_t hl = strlen(json);
    unsigned char *b = malloc(8 + hl + ndata + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    if (ndata) memcpy(b + 8 + hl, data, ndata);
    write_bytes(path, b, 8 + hl + ndata);
    free(b);
}

/* ---- safetensors ---------------------------------------------------------------------- */
static bool same_bits(const tg_tensor *a, const tg_tensor *b)
{
    return tg_tensor_dtype(a) == tg_tensor_dtype(b) && tg_tensor_same_shape(a, b) &&
           !memcmp(tg_tensor_data_const(a), tg_tensor_data_const(b),
                   (size_t)tg_tensor_numel(a) * tg_dtype_size(tg_tensor_dtype(a)));
}

START_TEST(test_st_round_trip)
{
    static const struct {
        int ndim;
        int64_t shape[4];
    } shapes[] = {{0, {0}}, {1, {0}}, {1, {3}}, {2, {2, 3}}, {3, {2, 0, 4}}, {4, {1, 2, 3, 4}}};
    const char *names[2 * NELEM(shapes) + 1];
    tg_tensor *ts[2 * NELEM(shapes) + 1];
    char nbuf[2 * NELEM(shapes)][32];
    int n = 0;
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < NELEM(shapes); s++, n++) {
            /* names not in sorted order, so the writer's sort is exercised */
            snprintf(nbuf[n], sizeof nbuf[n], "%c.t%d", d ? 'a' : 'z', s);
            names[n] = nbuf[n];
            ts[n] = tt_rand(d ? TG_F32 : TG_F64, shapes[s].ndim, shapes[s].shape, 100 + n, -5, 5);
        }
    /* special values survive bit for bit; a name with a quote and a newline */
    ts[n] = tt_from(TG_F64, 1, TT_SHAPE(5), TT_VALUES(-0.0, INFINITY, -INFINITY, NAN, 1e-310));
    names[n++] = "odd \"name\"\n\\ \xc3\xa9";
    char path[128];
    tmp_path(path, sizeof path, "rt.safetensors");
    ck_assert_int_eq(tg_safetensors_save(path, n, names, ts), TG_OK);
    /* the header length is a multiple of 8 and the buffer holds exactly the data */
    size_t sz;
    unsigned char *raw = read_bytes(path, &sz);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    ck_assert_uint_eq(hl % 8, 0);
    size_t data = 0;
    for (int i = 0; i < n; i++)
        data += (size_t)tg_tensor_numel(ts[i]) * tg_dtype_size(tg_tensor_dtype(ts[i]));
    ck_assert_uint_eq(sz, 8 + hl + data);
    free(raw);

    tg_named_tensors nt;
    ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_OK);
    ck_assert_int_eq(nt.n, n);
    for (int i = 1; i < nt.n; i++) ck_assert_int_lt(strcmp(nt.names[i - 1], nt.names[i]), 0);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < nt.n && strcmp(nt.names[k], names[i])) k++;
        ck_assert_msg(k < nt.n, "%s missing", names[i]);
        ck_assert_msg(same_bits(nt.tensors[k], ts[i]), "%s differs", names[i]);
    }
    tg_named_tensors_free(&nt);
    ck_assert_int_eq(nt.n, 0);
    tg_named_tensors_free(&nt); /* idempotent */

    /* into existing tensors, converting dtypes: f32 entry -> f64 tensor */
    tg_tensor *dst = tg_tensor_new(TG_F64, 2, TT_SHAPE(2, 3));
    tg_tensor *dst0 = tg_tensor_new(TG_F32, 0, NULL);
    const char *want[] = {"a.t3", "z.t0"};
    tg_tensor *into[] = {dst, dst0};
    ck_assert_int_eq(tg_safetensors_load_into(path, 2, want, into), TG_OK);
    for (int i = 0; i < 6; i++)
        ck_assert(tg_tensor_get_flat(dst, i) == tg_tensor_get_flat(ts[NELEM(shapes) + 3], i));
    ck_assert(tg_tensor_get_flat(dst0, 0) == (float)tg_tensor_get_flat(ts[0], 0));
    tg_tensor_free(dst);
    tg_tensor_free(dst0);
    /* an empty file (no tensors) round-trips too */
    ck_assert_int_eq(tg_safetensors_save(path, 0, NULL, NULL), TG_OK);
    ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_OK);
    ck_assert_int_eq(nt.n, 0);
    tg_named_tensors_free(&nt);
    for (int i = 0; i < n; i++) tg_tensor_free(ts[i]);
}
END_TEST

START_TEST(test_st_into_errors)
{
    char path[128];
    tmp_path(path, sizeof path, "into.safetensors");
    tg_tensor *a = tt_from(TG_F64, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *b = tt_from(TG_F32, 1, TT_SHAPE(3), TT_VALUES(5, 6, 7));
    const char *names[] = {"a", "b"};
    tg_tensor *ts[] = {a, b};
    ck_assert_int_eq(tg_safetensors_save(path, 2, names, ts), TG_OK);
    tg_tensor *x = tg_tensor_full(TG_F64, 1, TT_SHAPE(3), 9);
    tg_tensor *y = tg_tensor_full(TG_F64, 2, TT_SHAPE(4, 1), 9);
    tg_tensor *dst[] = {x, y};
    /* b fits x, a does not fit y: nothing is written */
    ck_assert_int_eq(tg_safetensors_load_into(path, 2, names + 0, (tg_tensor *[]){y, x}),
                     TG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "'a'"));
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "(2,2)"));
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "(4,1)"));
    tt_assert_values("x untouched", x, TT_VALUES(9, 9, 9), 3, 0, 0);
    ck_assert_int_eq(tg_safetensors_load_into(path, 2, (const char *[]){"b", "c"}, dst), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "no entry named 'c'"));
    tt_assert_values("x untouched", x, TT_VALUES(9, 9, 9), 3, 0, 0);
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *[]){"b"}, dst), TG_OK);
    tt_assert_values("x", x, TT_VALUES(5, 6, 7), 3, 0, 0);
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *[]){NULL}, dst), TG_ERR_NULL);
    ck_assert_int_eq(tg_safetensors_load_into(NULL, 1, names, dst), TG_ERR_NULL);
    ck_assert_int_eq(tg_safetensors_load_into(path, -1, names, dst), TG_ERR_ARG);
    /* writer errors */
    ck_assert_int_eq(tg_safetensors_save(path, 2, (const char *[]){"a", "a"}, ts), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "twice"));
    ck_assert_int_eq(tg_safetensors_save(path, 1, (const char *[]){"__metadata__"}, ts),
                     TG_ERR_ARG);
    ck_assert_int_eq(tg_safetensors_save(path, 1, names, (tg_tensor *[]){NULL}), TG_ERR_NULL);
    ck_assert_int_eq(tg_safetensors_save(NULL, 1, names, ts), TG_ERR_NULL);
    ck_assert_int_eq(tg_safetensors_save("/nonexistent-dir/x.safetensors", 1, names, ts),
                     TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "/nonexistent-dir/x.safetensors"));
    /* the failed saves left the file as it was */
    tg_named_tensors nt;
    ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_OK);
    ck_assert_int_eq(nt.n, 2);
    tg_named_tensors_free(&nt);
    ck_assert_int_eq(tg_safetensors_load("/nonexistent-dir/x", &nt), TG_ERR_IO);
    ck_assert_int_eq(tg_safetensors_load(path, NULL), TG_ERR_NULL);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(x);
    tg_tensor_free(y);
}
END_TEST

/* The file written by tests/data/make_fixtures.py (Python's json + struct):
 * the values are those of its TENSORS table. */
START_TEST(test_st_python_fixture)
{
    char path[512];
    fixture(path, sizeof path, "py_tensors.safetensors");
    tg_named_tensors nt;
    ck_assert_msg(tg_safetensors_load(path, &nt) == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(nt.n, 5);
    const char *sorted[] = {"conv.w", "empty", "layer1.bias", "layer1.weight", "scale"};
    for (int i = 0; i < 5; i++) ck_assert_str_eq(nt.names[i], sorted[i]);
    tg_tensor *conv = nt.tensors[0], *empty = nt.tensors[1], *bias = nt.tensors[2];
    tg_tensor *weight = nt.tensors[3], *scale = nt.tensors[4];
    ck_assert_int_eq(tg_tensor_dtype(conv), TG_F64);
    ck_assert_int_eq(tg_tensor_ndim(conv), 4);
    ck_assert(tg_tensor_same_shape(conv, nt.tensors[0]));
    const double cw[] = {1e-300, -0.0, 7.25, -1e300};
    for (int i = 0; i < 4; i++) {
        ck_assert(tg_tensor_get_flat(conv, i) == cw[i]);
        ck_assert_int_eq(tg_tensor_dim(conv, i), i < 2 ? 1 : 2);
    }
    ck_assert(signbit(tg_tensor_get_flat(conv, 1)));
    ck_assert_int_eq(tg_tensor_dtype(empty), TG_F32);
    ck_assert_int_eq(tg_tensor_ndim(empty), 2);
    ck_assert_int_eq(tg_tensor_dim(empty, 0), 0);
    ck_assert_int_eq(tg_tensor_dim(empty, 1), 4);
    ck_assert_int_eq(tg_tensor_dtype(bias), TG_F64);
    tt_assert_values("layer1.bias", bias, TT_VALUES(1.0 / 3.0, -2.5, 1e10), 3, 0, 0);
    ck_assert_int_eq(tg_tensor_dtype(weight), TG_F32);
    ck_assert_int_eq(tg_tensor_dim(weight, 0), 2);
    ck_assert_int_eq(tg_tensor_dim(weight, 1), 3);
    const float wv[] = {0.5f, -1.25f, 2.0f, 3.5f, -0.125f, 0.001f};
    for (int i = 0; i < 6; i++) ck_assert(tg_tensor_f32(weight)[i] == wv[i]);
    ck_assert_int_eq(tg_tensor_ndim(scale), 0);
    ck_assert(tg_tensor_get_flat(scale, 0) == 3.141592653589793);
    tg_named_tensors_free(&nt);

    /* a BF16 entry: an error naming it; the F32 entry beside it loads alone */
    fixture(path, sizeof path, "py_bf16.safetensors");
    ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_ERR_DTYPE);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "'h'"));
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "BF16"));
    ck_assert_int_eq(nt.n, 0);
    ck_assert_ptr_null(nt.tensors);
    tg_tensor *a = tg_tensor_new(TG_F64, 1, TT_SHAPE(1));
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *[]){"a"}, &a), TG_OK);
    ck_assert(tg_tensor_get_flat(a, 0) == 2.0);
    ck_assert_int_eq(tg_safetensors_load_into(path, 1, (const char *[]){"h"}, &a), TG_ERR_DTYPE);
    tg_tensor_free(a);
}
END_TEST

/* A small valid file cut at every length: each is an error with a message. */
START_TEST(test_st_truncated)
{
    char path[128], cut[128];
    tmp_path(path, sizeof path, "full.safetensors");
    tmp_path(cut, sizeof cut, "cut.safetensors");
    tg_tensor *a = tt_from(TG_F32, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *b = tt_from(TG_F64, 0, NULL, TT_VALUES(5));
    ck_assert_int_eq(
        tg_safetensors_save(path, 2, (const char *[]){"a", "b"}, (tg_tensor *[]){a, b}), TG_OK);
    size_t sz;
    unsigned char *raw = read_bytes(path, &sz);
    for (size_t len = 0; len < sz; len++) {
        write_bytes(cut, raw, len);
        tg_named_tensors nt;
        tg_status st = tg_safetensors_load(cut, &nt);
        ck_assert_msg(st == TG_ERR_IO, "length %zu of %zu: status %s", len, sz, tg_strerror(st));
        ck_assert_msg(tg_last_error()[0] != '\0', "length %zu: no message", len);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), cut));
        ck_assert_int_eq(nt.n, 0);
        ck_assert_ptr_null(nt.names);
        ck_assert_int_eq(tg_safetensors_load_into(cut, 1, (const char *[]){"a"}, &a), TG_ERR_IO);
    }
    tt_assert_values("a untouched", a, TT_VALUES(1, 2, 3, 4), 4, 0, 0);
    /* trailing bytes after the last tensor are an error too */
    unsigned char *more = malloc(sz + 3);
    memcpy(more, raw, sz);
    memset(more + sz, 0, 3);
    write_bytes(cut, more, sz + 3);
    tg_named_tensors nt;
    ck_assert_int_eq(tg_safetensors_load(cut, &nt), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "cover"));
    free(more);
    free(raw);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* Handmade headers: each must fail with the status and a message naming the
 * problem. */
START_TEST(test_st_corrupt_table)
{
    static const struct {
        const char *json;
        size_t ndata;
        tg_status st;
        const char *msg;
    } cases[] = {
        {"", 0, TG_ERR_IO, "expected '{'"},
        {"[]", 0, TG_ERR_IO, "expected '{'"},
        {"{", 0, TG_ERR_IO, "header"},
        {"{}x", 0, TG_ERR_IO, "after the header"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, TG_ERR_IO,
         "expected '}'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, TG_ERR_IO,
         "header"},
        {"{\"a:{}}", 0, TG_ERR_IO, "unterminated string"},
        {"{\"a\\q\":{}}", 0, TG_ERR_IO, "bad escape"},
        {"{\"a\\u12\":{}}", 0, TG_ERR_IO, "\\u escape"},
        {"{\"a\\ud800\":{}}", 0, TG_ERR_IO, "surrogate"},
        {"{\"a\\u0000\":{}}", 0, TG_ERR_IO, "NUL"},
        {"{\"a\":{}}", 0, TG_ERR_IO, "entry 'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, TG_ERR_IO, "data_offsets"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TG_ERR_IO, "dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, TG_ERR_IO, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, TG_ERR_IO,
         "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, TG_ERR_IO,
         "fraction"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, TG_ERR_IO,
         "leading zero"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
         TG_ERR_IO, "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         TG_ERR_IO, "dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         TG_ERR_IO, "twice"},
        {"{\"a\":{\"dtype\":\"X99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TG_ERR_IO,
         "unknown dtype"},
        {"{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TG_ERR_DTYPE,
         "entry 'a' has dtype I32"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, TG_ERR_IO,
         "outside the 4-byte buffer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, TG_ERR_IO,
         "outside"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, TG_ERR_IO,
         "needs 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
         TG_ERR_IO, "entry 'a': shape (4294967296,4294967296): the element count overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, TG_ERR_IO, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, TG_ERR_IO, "gap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, TG_ERR_IO, "appears twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, TG_ERR_IO,
         "cover 4 bytes of a 8-byte buffer"},
        {"{\"__metadata__\":{\"k\":1}}", 0, TG_ERR_IO, "strings"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, TG_ERR_IO, "twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":"
         "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}",
         4, TG_ERR_IO, "too deep"},
    };
    char path[128];
    tmp_path(path, sizeof path, "bad.safetensors");
    unsigned char data[16] = {0};
    for (int c = 0; c < NELEM(cases); c++) {
        write_st(path, cases[c].json, data, cases[c].ndata);
        tg_named_tensors nt;
        tg_status st = tg_safetensors_load(path, &nt);
        ck_assert_msg(st == cases[c].st, "case %d (%s): status %s, expected %s: %s", c,
                      cases[c].json, tg_strerror(st), tg_strerror(cases[c].st), tg_last_error());
        ck_assert_msg(strstr(tg_last_error(), cases[c].msg) != NULL,
                      "case %d (%s): message '%s' lacks '%s'", c, cases[c].json, tg_last_error(),
                      cases[c].msg);
        ck_assert_int_eq(nt.n, 0);
    }
    /* the header length itself: larger than the file, and absurdly large */
    const uint64_t lens[] = {100, UINT64_MAX, (uint64_t)1 << 63};
    for (int i = 0; i < 3; i++) {
        unsigned char b[16] = {0};
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)(lens[i] >> (8 * k));
        memcpy(b + 8, "{}      ", 8);
        write_bytes(path, b, 16);
        tg_named_tensors nt;
        ck_assert_int_eq(tg_safetensors_load(path, &nt), TG_ERR_IO);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "exceeds the file size 16"));
    }
}
END_TEST

/* Valid files the reader must accept: escapes in names, metadata, unknown
 * keys, whitespace, entries listed in any order. */
START_TEST(test_st_valid_variants)
{
    char path[128];
    tmp_path(path, sizeof path, "ok.safetensors");
    const float vals[3] = {1.5f, -2.0f, 0.25f};
    const char *json = " {\n \"__metadata__\" : {\"a\\\"b\":\"c\"},"
                       "\"z\":{\"data_offsets\":[0,4],\"shape\":[],\"dtype\":\"F32\",\"extra\":"
                       "[1,{\"x\":null},true,-2.5e3]},\t"
                       "\"caf\\u00e9 \\ud83d\\ude00\" : {\"dtype\":\"F32\",\"shape\":[2,1],"
                       "\"data_offsets\":[4,12]} }   ";
    write_st(path, json, vals, sizeof vals);
    tg_named_tensors nt;
    ck_assert_msg(tg_safetensors_load(path, &nt) == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(nt.n, 2);
    ck_assert_str_eq(nt.names[0], "caf\xc3\xa9 \xf0\x9f\x98\x80");
    ck_assert_str_eq(nt.names[1], "z");
    tt_assert_values("café", nt.tensors[0], TT_VALUES(-2.0, 0.25), 2, 0, 0);
    tt_assert_values("z", nt.tensors[1], TT_VALUES(1.5), 1, 0, 0);
    tg_named_tensors_free(&nt);
}
END_TEST

/* ---- safetensors: where a save goes, and what a load reads from ------------------------- */
static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The names in the scratch directory, sorted and joined by spaces: a
 * temporary file left behind by a save shows up here. */
static void dir_listing(char *buf, size_t n)
{
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    char names[32][64];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        ck_assert_int_lt(k, 32);
        snprintf(names[k++], sizeof names[0], "%.63s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)k, sizeof names[0], cmp_name);
    buf[0] = '\0';
    for (int i = 0; i < k; i++) {
        if (i) strncat(buf, " ", n - strlen(buf) - 1);
        strncat(buf, names[i], n - strlen(buf) - 1);
    }
}

static tg_status save_one(const char *path, tg_tensor *t)
{
    return tg_safetensors_save(path, 1, (const char *const[]){"w"}, &t);
}

/* The first value of the one tensor "w" a file holds. */
static double first_value(const char *path)
{
    tg_named_tensors nt;
    ck_assert_msg(tg_safetensors_load(path, &nt) == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(nt.n, 1);
    ck_assert_str_eq(nt.names[0], "w");
    double v = tg_tensor_get_flat(nt.tensors[0], 0);
    tg_named_tensors_free(&nt);
    return v;
}

static bool is_symlink(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Issue 18, item 13: a save through a symbolic link replaces the file the
 * link points to and leaves the link a link (a chain of links, a relative
 * target resolved from the link's own directory, a dangling link whose
 * target the save creates); a loop of links is an error. */
START_TEST(test_st_save_symlink)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(10, 20));
    tg_tensor *c = tt_from(TG_F32, 1, TT_SHAPE(2), TT_VALUES(30, 40));
    char real[128], link[128], sub[128], sublink[128], dang[128], made[128], loop1[128], loop2[128],
        got[160];
    tmp_path(real, sizeof real, "real.st");
    tmp_path(link, sizeof link, "link.st");
    ck_assert_int_eq(save_one(real, a), TG_OK);
    ck_assert_int_eq(symlink("real.st", link), 0);
    ck_assert_msg(save_one(link, b) == TG_OK, "%s", tg_last_error());
    ck_assert_msg(is_symlink(link), "the save replaced the link with a file");
    ssize_t r = readlink(link, got, sizeof got - 1);
    ck_assert_int_eq(r, 7);
    got[r] = '\0';
    ck_assert_str_eq(got, "real.st");
    ck_assert(first_value(real) == 10);

    tmp_path(sub, sizeof sub, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    tmp_path(sublink, sizeof sublink, "sub/l.st");
    ck_assert_int_eq(symlink("../link.st", sublink), 0);
    ck_assert_msg(save_one(sublink, c) == TG_OK, "%s", tg_last_error());
    ck_assert(is_symlink(sublink) && is_symlink(link));
    ck_assert(first_value(real) == 30);
    ck_assert(first_value(sublink) == 30);

    tmp_path(dang, sizeof dang, "dangling.st");
    tmp_path(made, sizeof made, "made.st");
    ck_assert_int_eq(symlink("made.st", dang), 0);
    ck_assert_msg(save_one(dang, a) == TG_OK, "%s", tg_last_error());
    ck_assert(is_symlink(dang));
    ck_assert(first_value(made) == 1);

    tmp_path(loop1, sizeof loop1, "loop1");
    tmp_path(loop2, sizeof loop2, "loop2");
    ck_assert_int_eq(symlink("loop2", loop1), 0);
    ck_assert_int_eq(symlink("loop1", loop2), 0);
    ck_assert_int_eq(save_one(loop1, a), TG_ERR_IO);
    ck_assert_msg(strstr(tg_last_error(), loop1) && strstr(tg_last_error(), "symbolic link"), "%s",
                  tg_last_error());
    ck_assert(is_symlink(loop1) && is_symlink(loop2));

    char list[512];
    dir_listing(list, sizeof list);
    ck_assert_str_eq(list, "dangling.st link.st loop1 loop2 made.st real.st sub");
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
}
END_TEST

/* Issue 18, item 13: the temporary file has a name of its own, so a file
 * or directory under the old fixed name "<path>.tmp" neither blocks a save
 * nor is overwritten by it; the saved file gets the mode a newly created
 * file would (0666 less the umask). */
START_TEST(test_st_save_tmp_name)
{
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(10, 20));
    char path[128], old[128];
    tmp_path(path, sizeof path, "m.st");
    tmp_path(old, sizeof old, "m.st.tmp");
    write_bytes(old, "keep", 4);
    ck_assert_msg(save_one(path, a) == TG_OK, "%s", tg_last_error());
    ck_assert(first_value(path) == 1);
    ck_assert_msg(access(old, F_OK) == 0, "the save removed %s", old);
    size_t n;
    unsigned char *kept = read_bytes(old, &n);
    ck_assert_uint_eq(n, 4);
    ck_assert(!memcmp(kept, "keep", 4));
    free(kept);
    ck_assert_int_eq(unlink(old), 0);
    ck_assert_int_eq(mkdir(old, 0700), 0);
    ck_assert_msg(save_one(path, b) == TG_OK, "%s", tg_last_error());
    ck_assert(first_value(path) == 10);
    ck_assert_int_eq(rmdir(old), 0);

    mode_t um = umask(027);
    tg_status st = save_one(path, a);
    umask(um);
    ck_assert_int_eq(st, TG_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0640);
    char list[256];
    dir_listing(list, sizeof list);
    ck_assert_str_eq(list, "m.st");
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

typedef struct saver {
    const char *path;
    tg_tensor *t;
    int failures;
    char err[256];
} saver;

static void *save_loop(void *arg)
{
    saver *s = arg;
    for (int i = 0; i < 25; i++)
        if (save_one(s->path, s->t) != TG_OK) {
            s->failures++;
            snprintf(s->err, sizeof s->err, "%s", tg_last_error());
        }
    return NULL;
}

/* Issue 18, item 13: two threads saving to one path at once both succeed,
 * and the file is then one complete save (all of one tensor's values). */
START_TEST(test_st_save_concurrent)
{
    char path[128];
    tmp_path(path, sizeof path, "c.st");
    const int64_t n = 1 << 16;
    saver s[2] = {{path, tg_tensor_full(TG_F64, 1, &n, 1.0), 0, ""},
                  {path, tg_tensor_full(TG_F64, 1, &n, 2.0), 0, ""}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, save_loop, &s[i]), 0);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(s[i].failures == 0, "saver %d: %d failures: %s", i, s[i].failures, s[i].err);
    tg_named_tensors nt;
    ck_assert_msg(tg_safetensors_load(path, &nt) == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(nt.n, 1);
    ck_assert_int_eq(tg_tensor_numel(nt.tensors[0]), n);
    double v = tg_tensor_get_flat(nt.tensors[0], 0);
    ck_assert(v == 1.0 || v == 2.0);
    for (int64_t i = 0; i < n; i++) ck_assert(tg_tensor_get_flat(nt.tensors[0], i) == v);
    tg_named_tensors_free(&nt);
    char list[256];
    dir_listing(list, sizeof list);
    ck_assert_str_eq(list, "c.st");
    for (int i = 0; i < 2; i++) tg_tensor_free(s[i].t);
}
END_TEST

/* A child process writes p[0, n) into a new FIFO at path. */
static pid_t fifo_feed(const char *path, const void *p, size_t n)
{
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY);
        if (fd >= 0) {
            ssize_t w = write(fd, p, n);
            (void)w;
            close(fd);
        }
        _exit(0);
    }
    return pid;
}

/* Waits for the writer (released first, should the loader not have opened
 * the FIFO) and removes the FIFO. */
static void fifo_done(const char *path, pid_t pid)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd >= 0) close(fd);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(unlink(path), 0);
}

/* Issue 18, messages: a directory is reported as one (it was "out of
 * memory reading 9223372036854775807 bytes"); a file whose size is not
 * known up front is read to its end: a FIFO loads, and a procfs file (size
 * 0 in stat) is judged on its real content (it was "0 bytes"). */
START_TEST(test_st_not_regular)
{
    char want[256];
    tg_named_tensors nt;
    tg_tensor *a = tt_from(TG_F64, 1, TT_SHAPE(2), TT_VALUES(1, 2));
    ck_assert_int_eq(tg_safetensors_load(g_dir, &nt), TG_ERR_IO);
    snprintf(want, sizeof want, "safetensors_load: %s: is a directory", g_dir);
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_int_eq(tg_safetensors_load_into(g_dir, 1, (const char *const[]){"w"}, &a), TG_ERR_IO);
    snprintf(want, sizeof want, "safetensors_load_into: %s: is a directory", g_dir);
    ck_assert_str_eq(tg_last_error(), want);

    char path[128], fifo[128];
    tmp_path(path, sizeof path, "f.st");
    tmp_path(fifo, sizeof fifo, "fifo.st");
    const int64_t n = 50000; /* more than a pipe holds at once */
    tg_tensor *big = tg_tensor_full(TG_F64, 1, &n, 3.5);
    ck_assert_int_eq(save_one(path, big), TG_OK);
    size_t sz;
    unsigned char *raw = read_bytes(path, &sz);
    pid_t pid = fifo_feed(fifo, raw, sz);
    tg_status st = tg_safetensors_load(fifo, &nt);
    fifo_done(fifo, pid);
    ck_assert_msg(st == TG_OK, "%s", tg_last_error());
    ck_assert_int_eq(nt.n, 1);
    ck_assert_int_eq(tg_tensor_numel(nt.tensors[0]), n);
    ck_assert(tg_tensor_get_flat(nt.tensors[0], n - 1) == 3.5);
    tg_named_tensors_free(&nt);
    pid = fifo_feed(fifo, raw, sz - 1);
    st = tg_safetensors_load(fifo, &nt);
    fifo_done(fifo, pid);
    ck_assert_int_eq(st, TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "outside the 399999-byte buffer"));
    free(raw);

    /* /proc/self/cmdline: the test's own command line, not a safetensors file */
    const char *proc = "/proc/self/cmdline";
    FILE *f = fopen(proc, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_lt(len, sizeof buf);
    if (len < 8) {
        snprintf(want, sizeof want,
                 "safetensors_load: %s: file is %zu bytes, shorter than the 8-byte header length",
                 proc, len);
    } else {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
        snprintf(want, sizeof want,
                 "safetensors_load: %s: header length %llu exceeds the file size %zu", proc,
                 (unsigned long long)hl, len);
    }
    ck_assert_int_eq(tg_safetensors_load(proc, &nt), TG_ERR_IO);
    ck_assert_str_eq(tg_last_error(), want);
    tg_tensor_free(a);
    tg_tensor_free(big);
}
END_TEST

/* ---- out-of-memory injection ------------------------------------------------------------ */
static long g_count, g_fail_at;
static void *inj_malloc(size_t n, void *c)
{
    (void)c;
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *inj_realloc(void *p, size_t n, void *c)
{
    (void)c;
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void inj_free(void *p, void *c)
{
    (void)c;
    free(p);
}

/* Each allocation of save, load, load_into, IDX loading and batching fails
 * in turn: a clean TG_ERR_NOMEM (or NULL with that status), never a crash,
 * and no leak (LSan). */
START_TEST(test_io_oom)
{
    char path[128], idx[512];
    tmp_path(path, sizeof path, "oom.safetensors");
    fixture(idx, sizeof idx, "images3x2x3.idx.gz");
    tg_tensor *a = tt_from(TG_F32, 2, TT_SHAPE(2, 2), TT_VALUES(1, 2, 3, 4));
    tg_tensor *b = tt_from(TG_F64, 1, TT_SHAPE(3), TT_VALUES(5, 6, 7));
    tg_tensor *ts[] = {a, b};
    const char *names[] = {"w.a", "w.b"};
    ck_assert_int_eq(tg_safetensors_save(path, 2, names, ts), TG_OK);
    tg_set_allocator(&(tg_allocator){inj_malloc, inj_realloc, inj_free, NULL});
    int failures = 0;
    for (g_fail_at = 1;; g_fail_at++) {
        g_count = 0;
        char p2[128];
        tmp_path(p2, sizeof p2, "oom2.safetensors");
        tg_status s1 = tg_safetensors_save(p2, 2, names, ts);
        tg_named_tensors nt;
        tg_status s2 = tg_safetensors_load(path, &nt);
        if (s2 == TG_OK) tg_named_tensors_free(&nt);
        tg_status s3 = tg_safetensors_load_into(path, 2, names, ts);
        tg_tensor *im = tg_idx_load(idx, TG_F32, 1.0);
        tg_status s4 = im ? TG_OK : tg_last_status();
        tg_batches *bt = im ? tg_batches_new(im, NULL, 2, true, false, 1) : NULL;
        tg_status s5 = bt || !im ? TG_OK : tg_last_status();
        tg_batches_free(bt);
        tg_tensor_free(im);
        tg_status all[] = {s1, s2, s3, s4, s5};
        bool any = false;
        for (int i = 0; i < 5; i++) {
            ck_assert_msg(all[i] == TG_OK || all[i] == TG_ERR_NOMEM,
                          "fail at %ld: call %d: status %s", g_fail_at, i, tg_strerror(all[i]));
            any |= all[i] != TG_OK;
        }
        if (g_count < g_fail_at) break; /* every allocation has been failed once */
        failures += any;
    }
    tg_set_allocator(NULL);
    ck_assert_int_gt(failures, 10);
    char list[256]; /* no temporary file left by a failed save */
    dir_listing(list, sizeof list);
    ck_assert_str_eq(list, "oom.safetensors oom2.safetensors");
    tt_assert_values("a", a, TT_VALUES(1, 2, 3, 4), 4, 0, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
}
END_TEST

/* ---- IDX ---------------------------------------------------------------------------------- */
static const unsigned char k_pixels[18] = {0,  17, 255, 128, 1,   254, 3,  5,  7,
                                           11, 13, 17,  200, 100, 50,  25, 12, 6};
static const int32_t k_labels[3] = {9, 0, 4};

START_TEST(test_idx_fixtures)
{
    const char *imgs[] = {"images3x2x3.idx.gz", "images3x2x3.idx"};
    const char *labs[] = {"labels3.idx.gz", "labels3.idx"};
    for (int g = 0; g < 2; g++) {
        char path[512];
        fixture(path, sizeof path, imgs[g]);
        for (int d = 0; d < 2; d++) {
            double scale = d ? 1.0 / 255.0 : 1.0;
            tg_tensor *t = tg_idx_load(path, d ? TG_F32 : TG_F64, scale);
            ck_assert_msg(t != NULL, "%s", tg_last_error());
            ck_assert_int_eq(tg_tensor_dtype(t), d ? TG_F32 : TG_F64);
            ck_assert_int_eq(tg_tensor_ndim(t), 3);
            ck_assert_int_eq(tg_tensor_dim(t, 0), 3);
            ck_assert_int_eq(tg_tensor_dim(t, 1), 2);
            ck_assert_int_eq(tg_tensor_dim(t, 2), 3);
            for (int i = 0; i < 18; i++) {
                double want = d ? (double)(float)(k_pixels[i] * scale) : k_pixels[i];
                ck_assert_msg(tg_tensor_get_flat(t, i) == want, "pixel %d: %.9g, expected %.9g", i,
                              tg_tensor_get_flat(t, i), want);
            }
            tg_tensor_free(t);
        }
        fixture(path, sizeof path, labs[g]);
        int64_t n = -1;
        int32_t *lab = tg_idx_load_labels(path, &n);
        ck_assert_msg(lab != NULL, "%s", tg_last_error());
        ck_assert_int_eq(n, 3);
        for (int i = 0; i < 3; i++) ck_assert_int_eq(lab[i], k_labels[i]);
        tg_idx_labels_free(lab);
        /* a label file read as images is a 1-d tensor; images as labels: an error */
        tg_tensor *t = tg_idx_load(path, TG_F64, 1);
        ck_assert_int_eq(tg_tensor_ndim(t), 1);
        tg_tensor_free(t);
        fixture(path, sizeof path, imgs[g]);
        ck_assert_ptr_null(tg_idx_load_labels(path, &n));
        ck_assert_int_eq(n, 0);
        ck_assert_ptr_nonnull(strstr(tg_last_error(), "3 dimensions"));
    }
}
END_TEST

static void write_gz(const char *path, const void *p, size_t n)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    if (n) ck_assert_int_eq(gzwrite(g, p, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

START_TEST(test_idx_errors)
{
    unsigned char good[16 + 18];
    memcpy(good, "\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x03", 16);
    memcpy(good + 16, k_pixels, 18);
    char path[128];
    tmp_path(path, sizeof path, "bad.idx");
    static const struct {
        int at; /* byte to change (-1: none) */
        unsigned char v;
        size_t len; /* bytes written */
        const char *msg;
    } cases[] = {
        {0, 0x01, 34, "bad magic 0x01000803"},
        {1, 0x08, 34, "bad magic"},
        {2, 0x09, 34, "element type 0x09"},
        {2, 0x0D, 34, "only 0x08"},
        {3, 0x00, 34, "0 dimensions"},
        {3, 0x09, 34, "9 dimensions"},
        {-1, 0, 33, "truncated: the header says (3,2,3) = 18 bytes, got 17"},
        {-1, 0, 16, "got 0"},
        {-1, 0, 10, "truncated header"},
        {-1, 0, 3, "shorter than the 4-byte IDX magic"},
        {-1, 0, 0, "shorter than"},
        {7, 0x04, 34, "got 18"},                      /* 4 images announced, 3 present */
        {7, 0x02, 34, "continues past the 12 bytes"}, /* 2 announced, 3 present */
        {5, 0x10, 34, "got 18"}, /* a large count (under the size cap: see test_idx_size_cap) */
    };
    for (int gz = 0; gz < 2; gz++)
        for (int c = 0; c < NELEM(cases); c++) {
            unsigned char b[34];
            memcpy(b, good, 34);
            if (cases[c].at >= 0) b[cases[c].at] = cases[c].v;
            if (gz)
                write_gz(path, b, cases[c].len);
            else
                write_bytes(path, b, cases[c].len);
            ck_assert_ptr_null(tg_idx_load(path, TG_F32, 1.0));
            ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
            ck_assert_msg(strstr(tg_last_error(), cases[c].msg) && strstr(tg_last_error(), path),
                          "%s case %d: message '%s' lacks '%s'", gz ? "gz" : "raw", c,
                          tg_last_error(), cases[c].msg);
        }
    /* a gzip stream cut short, and one with a corrupt body */
    write_gz(path, good, 34);
    size_t sz;
    unsigned char *z = read_bytes(path, &sz);
    write_bytes(path, z, sz - 12);
    ck_assert_ptr_null(tg_idx_load(path, TG_F64, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    ck_assert(tg_last_error()[0]);
    for (size_t i = 10; i < sz - 8; i++) z[i] ^= 0x5A;
    write_bytes(path, z, sz);
    ck_assert_ptr_null(tg_idx_load(path, TG_F64, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    free(z);
    /* arguments */
    ck_assert_ptr_null(tg_idx_load("/nonexistent-dir/x.idx", TG_F64, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "/nonexistent-dir/x.idx"));
    ck_assert_ptr_null(tg_idx_load(NULL, TG_F64, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    write_bytes(path, good, 34);
    ck_assert_ptr_null(tg_idx_load(path, TG_F64, NAN));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_ptr_null(tg_idx_load(path, (tg_dtype)7, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_DTYPE);
    int64_t n;
    ck_assert_ptr_null(tg_idx_load_labels(path, NULL));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    ck_assert_ptr_null(tg_idx_load_labels(NULL, &n));
    /* an empty data set is fine */
    write_bytes(path, "\x00\x00\x08\x01\x00\x00\x00\x00", 8);
    int32_t *lab = tg_idx_load_labels(path, &n);
    ck_assert_ptr_nonnull(lab);
    ck_assert_int_eq(n, 0);
    tg_idx_labels_free(lab);
}
END_TEST

/* One gzip member of p[0, n), in memory (free() it). */
static unsigned char *gz_member(const void *p, size_t n, size_t *zn)
{
    z_stream s = {0};
    ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&s, (uLong)n);
    unsigned char *z = malloc(cap);
    s.next_in = (Bytef *)(uintptr_t)p;
    s.avail_in = (uInt)n;
    s.next_out = z;
    s.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
    *zn = s.total_out;
    ck_assert_int_eq(deflateEnd(&s), Z_OK);
    return z;
}

/* How many times needle occurs in hay. */
static int occurrences(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) k++;
    return k;
}

/* The image file of test_idx_errors: (3,2,3) of k_pixels. */
static void good_idx(unsigned char b[34])
{
    memcpy(b, "\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x03", 16);
    memcpy(b + 16, k_pixels, 18);
}

/* Loading path as images fails with TG_ERR_IO, a message holding what and
 * naming the path once. */
static void expect_idx_io_error(const char *path, const char *what, const char *why)
{
    ck_assert_msg(tg_idx_load(path, TG_F64, 1.0) == NULL, "%s: loaded", why);
    ck_assert_msg(tg_last_status() == TG_ERR_IO, "%s: status %s: %s", why,
                  tg_strerror(tg_last_status()), tg_last_error());
    ck_assert_msg(strstr(tg_last_error(), what), "%s: message '%s' lacks '%s'", why,
                  tg_last_error(), what);
    ck_assert_msg(occurrences(tg_last_error(), path) == 1,
                  "%s: message '%s' names the path %d times", why, tg_last_error(),
                  occurrences(tg_last_error(), path));
}

/* Issue 18, item 6: a gzip member whose trailer (CRC-32 and length) is cut
 * or wrong, or that is followed by anything but another member (garbage,
 * zero padding, a partial header), is an error; concatenated members are
 * legal gzip and read as one stream.  Errors name the path once. */
START_TEST(test_idx_gz_integrity)
{
    unsigned char good[34];
    good_idx(good);
    char path[128];
    tmp_path(path, sizeof path, "g.idx.gz");
    size_t zn;
    unsigned char *z = gz_member(good, 34, &zn);
    unsigned char *b = malloc(zn + 64);
    for (size_t cut = 1; cut <= 8; cut++) {
        write_bytes(path, z, zn - cut);
        char why[64];
        snprintf(why, sizeof why, "trailer cut by %zu bytes", cut);
        expect_idx_io_error(path, "gzip", why);
        int64_t n = -1;
        ck_assert_ptr_null(tg_idx_load_labels(path, &n));
        ck_assert_int_eq(n, 0);
    }
    for (size_t at = zn - 8; at < zn; at++) {
        memcpy(b, z, zn);
        b[at] ^= 0x01;
        write_bytes(path, b, zn);
        expect_idx_io_error(path, at < zn - 4 ? "CRC" : "length", "a wrong trailer");
    }
    memcpy(b, z, zn);
    for (size_t i = 10; i < zn - 8; i++) b[i] ^= 0x5A;
    write_bytes(path, b, zn);
    expect_idx_io_error(path, "gzip", "a corrupt body");
    static const struct {
        const char *bytes;
        size_t n;
    } tails[] = {{"garbage", 7}, {"\0\0\0\0\0\0\0\0", 8}, {"\n", 1}, {"\x1f", 1}, {"\x1f\x8b", 2}};
    for (int t = 0; t < NELEM(tails); t++) {
        memcpy(b, z, zn);
        memcpy(b + zn, tails[t].bytes, tails[t].n);
        write_bytes(path, b, zn + tails[t].n);
        expect_idx_io_error(path, "gzip", "bytes after the member");
    }
    /* members of 20 + 0 + 14 bytes, as `cat a.gz b.gz c.gz` makes */
    size_t n1, n2, n3;
    unsigned char *z1 = gz_member(good, 20, &n1), *z2 = gz_member(good, 0, &n2),
                  *z3 = gz_member(good + 20, 14, &n3);
    unsigned char *cat = malloc(n1 + n2 + n3);
    memcpy(cat, z1, n1);
    memcpy(cat + n1, z2, n2);
    memcpy(cat + n1 + n2, z3, n3);
    write_bytes(path, cat, n1 + n2 + n3);
    tg_tensor *t = tg_idx_load(path, TG_F64, 1.0);
    ck_assert_msg(t != NULL, "%s", tg_last_error());
    ck_assert_int_eq(tg_tensor_numel(t), 18);
    for (int i = 0; i < 18; i++) ck_assert(tg_tensor_get_flat(t, i) == k_pixels[i]);
    tg_tensor_free(t);
    /* the good member alone loads */
    write_bytes(path, z, zn);
    t = tg_idx_load(path, TG_F64, 1.0);
    ck_assert_msg(t != NULL, "%s", tg_last_error());
    tg_tensor_free(t);
    free(cat);
    free(z1);
    free(z2);
    free(z3);
    free(b);
    free(z);
}
END_TEST

static size_t g_max_alloc;
static void *max_malloc(size_t n, void *c)
{
    (void)c;
    if (n > g_max_alloc) g_max_alloc = n;
    return malloc(n);
}
static void *max_realloc(void *p, size_t n, void *c)
{
    (void)c;
    if (n > g_max_alloc) g_max_alloc = n;
    return realloc(p, n);
}
static const tg_allocator k_max_alloc = {max_malloc, max_realloc, inj_free, NULL};

/* Issue 18, item 7: the size the header declares is checked before
 * anything is allocated: against a cap on the result's bytes (default
 * TG_IDX_MAX_BYTES_DEFAULT, tg_idx_options.max_bytes to change it), and for
 * a plain file against the file's length. */
START_TEST(test_idx_size_cap)
{
    char path[128], want[320];
    tmp_path(path, sizeof path, "bomb.idx.gz");
    /* (1,16384,16384): 256 MiB of bytes, 2 GiB as f64; only 18 are present */
    unsigned char h[34];
    good_idx(h);
    memcpy(h + 4, "\x00\x00\x00\x01\x00\x00\x40\x00\x00\x00\x40\x00", 12);
    write_gz(path, h, 34);
    g_max_alloc = 0;
    tg_set_allocator(&k_max_alloc);
    tg_tensor *t = tg_idx_load(path, TG_F64, 1.0);
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tg_last_status(), TG_ERR_NOMEM);
    snprintf(want, sizeof want,
             "idx_load: %s: the header's shape (1,16384,16384) needs 2147483648 bytes as f64, "
             "over the limit of 1073741824 (tg_idx_options.max_bytes)",
             path);
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_uint_lt(g_max_alloc, 1 << 20);
    ck_assert_int_eq(TG_IDX_MAX_BYTES_DEFAULT, (int64_t)1 << 30);

    /* raised, the same file gets as far as its missing data */
    tg_idx_options big = {.max_bytes = (int64_t)4 << 30};
    g_max_alloc = 0;
    tg_set_allocator(&k_max_alloc);
    t = tg_idx_load_ex(path, TG_F64, 1.0, &big);
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "truncated"));
    ck_assert_uint_lt(g_max_alloc, 1 << 20);

    /* the cap is on the result: 18 pixels are 144 bytes as f64, 72 as f32 */
    unsigned char good[34];
    good_idx(good);
    tmp_path(path, sizeof path, "small.idx");
    write_bytes(path, good, 34);
    tg_idx_options o = {.max_bytes = 144};
    t = tg_idx_load_ex(path, TG_F64, 1.0, &o);
    ck_assert_msg(t != NULL, "%s", tg_last_error());
    tg_tensor_free(t);
    o.max_bytes = 143;
    ck_assert_ptr_null(tg_idx_load_ex(path, TG_F64, 1.0, &o));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "needs 144 bytes as f64, over the limit of 143"));
    t = tg_idx_load_ex(path, TG_F32, 1.0, &o);
    ck_assert_msg(t != NULL, "%s", tg_last_error());
    tg_tensor_free(t);
    o.max_bytes = -1;
    ck_assert_ptr_null(tg_idx_load_ex(path, TG_F32, 1.0, &o));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    t = tg_idx_load_ex(path, TG_F32, 1.0, NULL); /* NULL: the defaults */
    ck_assert_msg(t != NULL, "%s", tg_last_error());
    tg_tensor_free(t);

    /* labels: 4 bytes each */
    write_bytes(path, "\x00\x00\x08\x01\x00\x00\x00\x03\x09\x00\x04", 11);
    int64_t n = -1;
    o.max_bytes = 11;
    ck_assert_ptr_null(tg_idx_load_labels_ex(path, &n, &o));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NOMEM);
    snprintf(want, sizeof want,
             "idx_load_labels: %s: the header's shape (3) needs 12 bytes as int32 labels, over "
             "the limit of 11 (tg_idx_options.max_bytes)",
             path);
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_int_eq(n, 0);
    o.max_bytes = 12;
    int32_t *lab = tg_idx_load_labels_ex(path, &n, &o);
    ck_assert_msg(lab != NULL, "%s", tg_last_error());
    ck_assert_int_eq(n, 3);
    tg_idx_labels_free(lab);
    write_gz(path, "\x00\x00\x08\x01\x10\x00\x00\x01\x09", 9); /* 2^28 + 1 labels */
    ck_assert_ptr_null(tg_idx_load_labels(path, &n));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NOMEM);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "over the limit of 1073741824"));

    /* 0xFF000003 images: a plain file is judged on its length first (the
     * precise diagnosis), a gzip'd one, whose length says nothing, on the cap */
    good_idx(good);
    good[4] = 0xFF;
    write_bytes(path, good, 34);
    ck_assert_ptr_null(tg_idx_load(path, TG_F32, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "got 18"));
    write_gz(path, good, 34);
    ck_assert_ptr_null(tg_idx_load(path, TG_F32, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NOMEM);
    ck_assert_ptr_nonnull(
        strstr(tg_last_error(), "(4278190083,2,3) needs 102676561992 bytes as f32"));
    /* a plain file declaring 16 MiB and holding 18 bytes: rejected from its length */
    memcpy(good + 4, "\x00\x00\x00\x01\x00\x00\x10\x00\x00\x00\x10\x00", 12);
    write_bytes(path, good, 34);
    g_max_alloc = 0;
    tg_set_allocator(&k_max_alloc);
    t = tg_idx_load(path, TG_F32, 1.0);
    tg_set_allocator(NULL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    snprintf(want, sizeof want,
             "idx_load: %s: truncated: the header says (1,4096,4096) = 16777216 bytes, got 18",
             path);
    ck_assert_str_eq(tg_last_error(), want);
    ck_assert_uint_lt(g_max_alloc, 1 << 20);
}
END_TEST

/* Issue 18, messages: a directory is reported as one; a FIFO (no size
 * known up front) is read to its end, plain or gzip'd. */
START_TEST(test_idx_not_regular)
{
    char want[256];
    ck_assert_ptr_null(tg_idx_load(g_dir, TG_F32, 1.0));
    ck_assert_int_eq(tg_last_status(), TG_ERR_IO);
    snprintf(want, sizeof want, "idx_load: %s: is a directory", g_dir);
    ck_assert_str_eq(tg_last_error(), want);
    int64_t n = -1;
    ck_assert_ptr_null(tg_idx_load_labels(g_dir, &n));
    snprintf(want, sizeof want, "idx_load_labels: %s: is a directory", g_dir);
    ck_assert_str_eq(tg_last_error(), want);

    unsigned char good[34];
    good_idx(good);
    size_t zn;
    unsigned char *z = gz_member(good, 34, &zn);
    char fifo[128];
    tmp_path(fifo, sizeof fifo, "fifo.idx");
    for (int gz = 0; gz < 2; gz++) {
        pid_t pid = fifo_feed(fifo, gz ? z : good, gz ? zn : 34);
        tg_tensor *t = tg_idx_load(fifo, TG_F64, 1.0);
        fifo_done(fifo, pid);
        ck_assert_msg(t != NULL, "%s", tg_last_error());
        ck_assert_int_eq(tg_tensor_numel(t), 18);
        for (int i = 0; i < 18; i++) ck_assert(tg_tensor_get_flat(t, i) == k_pixels[i]);
        tg_tensor_free(t);
    }
    pid_t pid = fifo_feed(fifo, good, 33);
    tg_tensor *t = tg_idx_load(fifo, TG_F64, 1.0);
    fifo_done(fifo, pid);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "= 18 bytes, got 17"));
    free(z);
}
END_TEST

/* ---- mini-batches -------------------------------------------------------------------------- */
/* data (10, 2) with row i = (i, 100 + i), labels[i] = 1000 + i */
static tg_tensor *batch_data(tg_dtype dt, int64_t n, int32_t *labels)
{
    tg_tensor *t = tg_tensor_new(dt, 2, TT_SHAPE(n, 2));
    for (int64_t i = 0; i < n; i++) {
        tg_tensor_set_flat(t, 2 * i, (double)i);
        tg_tensor_set_flat(t, 2 * i + 1, 100.0 + (double)i);
        labels[i] = 1000 + (int32_t)i;
    }
    return t;
}

/* One epoch: the row indices in visiting order, and the batch sizes; also
 * checks each row matches its label. */
static int epoch(tg_batches *b, int64_t *order, int64_t *sizes)
{
    int nb = 0, k = 0;
    tg_tensor *x;
    const int32_t *y;
    int64_t n;
    while (tg_batches_next(b, &x, &y, &n)) {
        ck_assert_int_eq(tg_tensor_dim(x, 0), n);
        ck_assert_int_eq(tg_tensor_dim(x, 1), 2);
        ck_assert_int_eq(tg_tensor_numel(x), 2 * n);
        for (int64_t r = 0; r < n; r++) {
            int64_t i = (int64_t)tg_tensor_get_flat(x, 2 * r);
            ck_assert(tg_tensor_get_flat(x, 2 * r + 1) == 100.0 + (double)i);
            ck_assert_int_eq(y[r], 1000 + i);
            order[k++] = i;
        }
        sizes[nb++] = n;
    }
    ck_assert(!tg_batches_next(b, &x, &y, &n)); /* stays at the end */
    ck_assert_ptr_null(x);
    ck_assert_int_eq(n, 0);
    return nb;
}

static void assert_permutation(const int64_t *order, int64_t n)
{
    bool seen[64] = {false};
    for (int64_t i = 0; i < n; i++) {
        ck_assert(order[i] >= 0 && order[i] < n);
        ck_assert_msg(!seen[order[i]], "index %lld visited twice", (long long)order[i]);
        seen[order[i]] = true;
    }
}

START_TEST(test_batches_in_order)
{
    int32_t lab[10];
    tg_tensor *d = batch_data(TG_F32, 10, lab);
    int64_t order[10], sizes[10];
    tg_batches *b = tg_batches_new(d, lab, 3, false, false, 0);
    ck_assert_int_eq(epoch(b, order, sizes), 4);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(order[i], i);
    ck_assert(sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 3 && sizes[3] == 1);
    tg_batches_reset(b);
    ck_assert_int_eq(epoch(b, order, sizes), 4); /* full batches again after the short one */
    ck_assert_int_eq(sizes[0], 3);
    tg_batches_free(b);
    b = tg_batches_new(d, lab, 3, false, true, 0); /* drop_last */
    ck_assert_int_eq(epoch(b, order, sizes), 3);
    tg_batches_free(b);
    b = tg_batches_new(d, lab, 5, false, true, 0); /* divides: nothing dropped */
    ck_assert_int_eq(epoch(b, order, sizes), 2);
    tg_batches_free(b);
    b = tg_batches_new(d, lab, 25, true, false, 0); /* larger than the data */
    ck_assert_int_eq(epoch(b, order, sizes), 1);
    ck_assert_int_eq(sizes[0], 10);
    assert_permutation(order, 10);
    tg_batches_free(b);
    b = tg_batches_new(d, lab, 25, true, true, 0);
    ck_assert_int_eq(epoch(b, order, sizes), 0);
    tg_batches_free(b);
    /* without labels */
    b = tg_batches_new(d, NULL, 4, false, false, 0);
    tg_tensor *x;
    const int32_t *y = (const int32_t *)1;
    int64_t n;
    ck_assert(tg_batches_next(b, &x, &y, &n));
    ck_assert_ptr_null(y);
    ck_assert_int_eq(n, 4);
    tg_batches_free(b);
    tg_tensor_free(d);
}
END_TEST

START_TEST(test_batches_shuffled)
{
    int32_t lab[37];
    tg_tensor *d = batch_data(TG_F64, 37, lab);
    int64_t o1[37], o2[37], o3[37], o4[37], sizes[37];
    tg_batches *a = tg_batches_new(d, lab, 8, true, false, 42);
    tg_batches *b = tg_batches_new(d, lab, 8, true, false, 42);
    tg_batches *c = tg_batches_new(d, lab, 8, true, false, 43);
    ck_assert_int_eq(epoch(a, o1, sizes), 5);
    ck_assert_int_eq(sizes[4], 5);
    assert_permutation(o1, 37);
    int64_t id[37];
    for (int i = 0; i < 37; i++) id[i] = i;
    ck_assert(memcmp(o1, id, sizeof o1) != 0); /* shuffled */
    epoch(b, o2, sizes);
    ck_assert(!memcmp(o1, o2, sizeof o1)); /* same seed, same order */
    epoch(c, o3, sizes);
    assert_permutation(o3, 37);
    ck_assert(memcmp(o1, o3, sizeof o1) != 0); /* another seed, another order */
    /* epoch 2 differs from epoch 1, and is the same for the same seed */
    tg_batches_reset(a);
    tg_batches_reset(b);
    epoch(a, o3, sizes);
    epoch(b, o4, sizes);
    assert_permutation(o3, 37);
    ck_assert(memcmp(o1, o3, sizeof o1) != 0);
    ck_assert(!memcmp(o3, o4, sizeof o3));
    /* reset in the middle of an epoch starts a full new one */
    tg_batches_reset(a);
    tg_tensor *x;
    ck_assert(tg_batches_next(a, &x, NULL, NULL));
    tg_batches_reset(a);
    ck_assert_int_eq(epoch(a, o3, sizes), 5);
    assert_permutation(o3, 37);
    /* every position sees every index over many epochs: first element uniform-ish */
    int first[37] = {0};
    for (int e = 0; e < 3700; e++) {
        tg_batches_reset(c);
        int64_t n;
        const int32_t *y;
        ck_assert(tg_batches_next(c, &x, &y, &n));
        first[y[0] - 1000]++;
    }
    for (int i = 0; i < 37; i++) /* mean 100, sd ~10 */
        ck_assert_msg(first[i] > 50 && first[i] < 150, "index %d first %d times", i, first[i]);
    tg_batches_free(a);
    tg_batches_free(b);
    tg_batches_free(c);
    tg_tensor_free(d);
}
END_TEST

static long g_allocs;
static void *count_malloc(size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *c)
{
    (void)c;
    g_allocs++;
    return realloc(p, n);
}

/* The batch tensor is one user tensor whose first extent shrinks for a
 * short last batch and grows back at the next epoch.  With requires_grad
 * set (the gradient of a loss with respect to its input images), its .grad
 * must follow: the right shape and values after every backward, replaced
 * rather than accumulated across a change of shape, the same .grad tensor
 * throughout, and never written past its storage (a gradient first made
 * for the short batch, then a full one: the case ASan would flag).
 * loss = sum(x^2), so dloss/dx = 2x exactly. */
static void check_batch_grad(tg_tensor *x, tg_backward_options *o, double k, const char *what)
{
    tg_tape *tp = tg_tape_new(NULL);
    tg_tensor *loss = tg_sum_all(tp, tg_square(tp, x));
    ck_assert_msg(tg_backward_ex(tp, loss, o) == TG_OK, "%s: %s", what, tg_tape_error(tp));
    const tg_tensor *g = tg_tensor_grad(x);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(tg_tensor_ndim(g), tg_tensor_ndim(x));
    for (int d = 0; d < tg_tensor_ndim(x); d++)
        ck_assert_int_eq(tg_tensor_dim(g, d), tg_tensor_dim(x, d));
    for (int64_t i = 0; i < tg_tensor_numel(x); i++)
        ck_assert_msg(tg_tensor_get_flat(g, i) == k * tg_tensor_get_flat(x, i),
                      "%s: element %lld is %g, %gx is %g", what, (long long)i,
                      tg_tensor_get_flat(g, i), k, k * tg_tensor_get_flat(x, i));
    tg_tape_free(tp);
}

START_TEST(test_batches_requires_grad)
{
    const tg_dtype dt = _i ? TG_F32 : TG_F64;
    tg_tensor *data = tt_iota(dt, 2, TT_SHAPE(5, 3)); /* batches of 2, 2, 1 rows */
    tg_batches *b = tg_batches_new(data, NULL, 2, false, false, 1);
    ck_assert_ptr_nonnull(b);
    tg_tensor *x;
    tg_backward_options acc = {.accumulate = true};
    /* epoch 1: the short batch first gets a gradient */
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    ck_assert_int_eq(tg_tensor_dim(x, 0), 1);
    tg_tensor_set_requires_grad(x, true);
    check_batch_grad(x, NULL, 2, "short batch, first gradient");
    const tg_tensor *g0 = tg_tensor_grad(x);
    /* epoch 2: full batches (the gradient must grow), then the short one */
    tg_batches_reset(b);
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    check_batch_grad(x, NULL, 2, "full batch after a short one");
    check_batch_grad(x, NULL, 2, "full batch again (the two buffers)");
    check_batch_grad(x, &acc, 4, "accumulating at an unchanged shape: 2x + 2x");
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    ck_assert(tg_batches_next(b, &x, NULL, NULL));
    check_batch_grad(x, &acc, 2, "accumulating across a change of shape replaces");
    ck_assert_ptr_eq(tg_tensor_grad(x), g0); /* the same .grad tensor throughout */
    tg_batches_free(b);
    tg_tensor_free(data);
}
END_TEST

START_TEST(test_batches_no_alloc_and_errors)
{
    tg_set_allocator(&(tg_allocator){count_malloc, count_realloc, inj_free, NULL});
    int32_t lab[10];
    tg_tensor *d = batch_data(TG_F32, 10, lab);
    tg_batches *b = tg_batches_new(d, lab, 4, true, false, 1);
    long before = g_allocs;
    int64_t order[10], sizes[10];
    for (int e = 0; e < 3; e++) {
        epoch(b, order, sizes);
        tg_batches_reset(b);
    }
    ck_assert_int_eq(g_allocs, before);
    tg_batches_free(b);
    tg_set_allocator(NULL);
    ck_assert_ptr_null(tg_batches_new(NULL, lab, 4, true, false, 1));
    ck_assert_int_eq(tg_last_status(), TG_ERR_NULL);
    ck_assert_ptr_null(tg_batches_new(d, lab, 0, true, false, 1));
    ck_assert_int_eq(tg_last_status(), TG_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tg_last_error(), "(10,2)"));
    tg_tensor *s = tg_tensor_scalar(TG_F64, 1);
    ck_assert_ptr_null(tg_batches_new(s, lab, 4, true, false, 1));
    ck_assert_int_eq(tg_last_status(), TG_ERR_SHAPE);
    tg_tensor *e = tg_tensor_new(TG_F64, 2, TT_SHAPE(0, 3)); /* no rows: no batches */
    b = tg_batches_new(e, NULL, 4, true, false, 1);
    ck_assert_ptr_nonnull(b);
    ck_assert(!tg_batches_next(b, NULL, NULL, NULL));
    tg_batches_reset(b);
    ck_assert(!tg_batches_next(b, NULL, NULL, NULL));
    tg_batches_free(b);
    ck_assert(!tg_batches_next(NULL, NULL, NULL, NULL));
    tg_batches_reset(NULL);
    tg_batches_free(NULL);
    tg_tensor_free(s);
    tg_tensor_free(e);
    tg_tensor_free(d);
}
END_TEST

/* A trained model saved and reloaded into fresh parameters gives the same
 * predictions, bit for bit (issue 5: "a saved model reloads to the same
 * predictions"). */
static tg_tensor *mlp_logits(tg_tape *tp, tg_tensor *x, tg_tensor *const p[4])
{
    tg_tensor *h = tg_relu(tp, tg_linear(tp, x, p[0], p[1]));
    return tg_linear(tp, h, p[2], p[3]);
}

START_TEST(test_st_model_reload_same_predictions)
{
    const int64_t shapes[4][2] = {{6, 5}, {5, 0}, {5, 3}, {3, 0}};
    const char *names[4] = {"l1.w", "l1.b", "l2.w", "l2.b"};
    tg_tensor *p[4], *q[4];
    tg_rng r;
    tg_rng_seed(&r, 77);
    for (int i = 0; i < 4; i++) {
        int nd = shapes[i][1] ? 2 : 1;
        p[i] = tg_tensor_new(TG_F32, nd, shapes[i]);
        q[i] = tg_tensor_new(TG_F32, nd, shapes[i]); /* fresh: zeros */
        ck_assert(p[i] && q[i]);
        tg_init_normal(p[i], &r, 0, 0.5);
        tg_tensor_set_requires_grad(p[i], true);
    }
    tg_tensor *x = tt_rand(TG_F32, 2, TT_SHAPE(4, 6), 78, -1, 1);
    /* a few SGD steps, so the saved values are trained ones */
    int32_t labels[4] = {0, 2, 1, 2};
    tg_optim *opt = tg_sgd_new(4, p, 0.1, 0.9, 0.0);
    tg_tape *tp = tg_tape_new(NULL);
    for (int step = 0; step < 5; step++) {
        tg_tape_reset(tp);
        tg_tensor *loss = tt_xent_labels(tp, mlp_logits(tp, x, p), labels, 4, TG_REDUCE_MEAN);
        ck_assert_int_eq(tg_backward(tp, loss), TG_OK);
        ck_assert_int_eq(tg_optim_step(opt), TG_OK);
    }
    tg_tape_reset(tp);
    tg_tensor *before = tg_tensor_clone(mlp_logits(tp, x, p));
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors");
    ck_assert_int_eq(tg_safetensors_save(path, 4, names, p), TG_OK);
    ck_assert_int_eq(tg_safetensors_load_into(path, 4, names, q), TG_OK);
    tg_tape_reset(tp);
    tg_tensor *after = mlp_logits(tp, x, q);
    tt_assert_close("predictions after reload", after, before, 0, 0);
    tg_tape_free(tp);
    tg_optim_free(opt);
    tg_tensor_free(before);
    tg_tensor_free(x);
    for (int i = 0; i < 4; i++) {
        tg_tensor_free(p[i]);
        tg_tensor_free(q[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("safetensors");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, test_st_round_trip);
    tcase_add_test(tc, test_st_model_reload_same_predictions);
    tcase_add_test(tc, test_st_into_errors);
    tcase_add_test(tc, test_st_python_fixture);
    tcase_add_test(tc, test_st_truncated);
    tcase_add_test(tc, test_st_corrupt_table);
    tcase_add_test(tc, test_st_valid_variants);
    tcase_add_test(tc, test_st_save_symlink);
    tcase_add_test(tc, test_st_save_tmp_name);
    tcase_add_test(tc, test_st_save_concurrent);
    tcase_add_test(tc, test_st_not_regular);
    tcase_add_test(tc, test_io_oom);
    suite_add_tcase(s, tc);
    tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, test_idx_fixtures);
    tcase_add_test(tc, test_idx_errors);
    tcase_add_test(tc, test_idx_gz_integrity);
    tcase_add_test(tc, test_idx_size_cap);
    tcase_add_test(tc, test_idx_not_regular);
    suite_add_tcase(s, tc);
    tc = tcase_create("batches");
    tcase_add_test(tc, test_batches_in_order);
    tcase_add_test(tc, test_batches_shuffled);
    tcase_add_test(tc, test_batches_no_alloc_and_errors);
    tcase_add_loop_test(tc, test_batches_requires_grad, 0, 2);
    suite_add_tcase(s, tc);
    return tt_run(s);
}
