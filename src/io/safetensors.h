/* What the three safetensors files share (safetensors_write.c: saving;
 * safetensors_json.c: the bounded parser of the JSON header;
 * safetensors_read.c: reading and validating a file, loading): the parser's
 * state, a parsed header entry, and the byte-order helpers.  Internal
 * (tg__), never in include/.
 *
 * Saving and loading tensors in the safetensors format (Hugging Face), so
 * Python tools can read what tapegrad trains and tapegrad can read tensors
 * written by Python.
 *
 * The format, in our words: a file starts with an unsigned 64-bit
 * little-endian integer N, the length of a header that follows as N bytes of
 * UTF-8 JSON.  The header is one object mapping each tensor name to
 * {"dtype": "F32" | "F64" | "BF16" | ..., "shape": [d0, d1, ...],
 * "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
 * string to string.  After the header comes the byte buffer; [begin, end) are
 * byte offsets into it (not into the file), the data being row-major and
 * little-endian.  The reference implementation requires the entries, sorted
 * by begin, to tile the buffer exactly (no overlap, no gap, nothing left
 * over), and pads the header with spaces so the buffer starts 8-aligned; we
 * do both.
 *
 * Everything read from a file is distrusted: the header length is checked
 * against the file size, the JSON is parsed by the small bounded parser of
 * safetensors_json.c (no recursion beyond a fixed depth, every read checked
 * against the end of the header), and each entry's offsets against the
 * buffer and its shape before a byte of data is touched. */
#ifndef TG_IO_SAFETENSORS_H
#define TG_IO_SAFETENSORS_H

#include "../core/internal.h"

#define META_KEY "__metadata__"

typedef struct dtype_info {
    const char *name;
    size_t size;
} dtype_info;

typedef struct jparser {
    const char *p, *end;
    const char *path;
    char err[200]; /* first error; set once */
} jparser;

/* One header entry. */
typedef struct entry {
    char *name;
    const dtype_info *dtype; /* NULL: unknown dtype string (an error) */
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    uint64_t begin, end;
} entry;

typedef struct header {
    entry *e;
    int n, cap;
} header;

/* Is the host little-endian (the file always is)? */
bool tg__st_host_little_endian(void);
/* Copies n elements of size es from src to dst, reversing the bytes of each
 * on a big-endian host. */
void tg__st_copy_le(void *dst, const void *src, size_t n, size_t es);
/* Frees h's entries and names; h becomes empty. */
void tg__st_header_free(header *h);
/* Parses the header object at j into h; false on a bad one (j->err set,
 * *oom when out of memory). */
bool tg__st_parse_header(jparser *j, header *h, bool *oom);

#endif
