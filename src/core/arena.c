/* The tape's arenas: bump allocators over a list of chunks.  Reset rewinds
 * them.  A plain arena (node links), when a step needed more than one chunk,
 * replaces them at reset with a single chunk big enough for the whole step,
 * so the steady state of a training loop allocates nothing.
 *
 * A stable arena (tensors) keeps its chunks instead, and lays out each epoch
 * at another offset: a tape tensor kept across tg_tape_reset points at its
 * old header, in memory the tape still owns, at an address where no block of
 * the new epoch starts, so the liveness check (core/tape.c) reads the old
 * header or sees the address is not a block of this epoch, and never takes
 * a new tensor for it.  Its steady state allocates nothing either: the same
 * step lays out the same way every second epoch, in the same chunks. */
#include "internal.h"

static tg_chunk *chunk_new(tg_arena *a, size_t size)
{
    size_t total = sizeof(tg_chunk) + size + TG_ALIGN;
    if (total < size) return NULL;
    tg_chunk *c = tg__malloc(total);
    if (!c) return NULL;
    a->mallocs++;
    uintptr_t p = (uintptr_t)(c + 1);
    p = (p + TG_ALIGN - 1) & ~(uintptr_t)(TG_ALIGN - 1);
    c->mem = (unsigned char *)p;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    a->reserved += size;
    TG_POISON(c->mem, size); /* handed out block by block */
    return c;
}

static void chunk_free(tg_chunk *c)
{
    TG_UNPOISON(c->mem, c->size);
    tg__free(c);
}

void tg__arena_init(tg_arena *a, size_t chunk_size, size_t limit, bool stable)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : (size_t)64 << 10;
    a->limit = limit;
    a->stable = stable;
}

/* Padding before a block at c's bump pointer: big blocks TG_ALIGN-aligned,
 * small ones at the arena's skew modulo 16 (see TG_ARENA_BIG and tg_arena in
 * core/internal.h). */
static size_t pad_for(const tg_arena *a, const tg_chunk *c, bool big)
{
    const uintptr_t p = (uintptr_t)(c->mem + c->used);
    if (big) return (size_t)(((p + TG_ALIGN - 1) & ~(uintptr_t)(TG_ALIGN - 1)) - p);
    return (size_t)((a->skew - p) & 15);
}

void *tg__arena_alloc_slow(tg_arena *a, size_t n)
{
    const bool big = n >= TG_ARENA_BIG;
    if (n > SIZE_MAX - 2 * TG_ALIGN) return NULL;
    size_t rounded = (n + 15) & ~(size_t)15;
    /* after a big block, the bump pointer goes back to the skew so the
     * inline path, which adds no padding, keeps small blocks there */
    const size_t tail = big ? a->skew : 0;
    const size_t need = rounded + tail;
    if (a->limit && (need > a->limit || a->in_use > a->limit - need)) return NULL;
    tg_chunk *c = a->head;
    while (c && c->size - c->used < pad_for(a, c, big) + need)
        c = c->next; /* later chunks are empty */
    if (!c) {
        size_t size = a->chunk_size;
        if (a->reserved > size) size = a->reserved; /* grow geometrically */
        if (size < need + 16) size = need + 16;     /* room for the skew too */
        c = chunk_new(a, size);
        if (!c) return NULL;
        if (!a->first) {
            a->first = c;
        } else {
            tg_chunk *last = a->first;
            while (last->next) last = last->next;
            last->next = c;
        }
    }
    a->head = c;
    size_t pad = pad_for(a, c, big);
    void *p = c->mem + c->used + pad;
    c->used += pad + need;
    a->in_use += pad + need;
    if (a->in_use > a->high_water) a->high_water = a->in_use;
    TG_UNPOISON(p, n);
    return p;
}

void tg__arena_reset(tg_arena *a)
{
    if (!a->stable && a->first && a->first->next) {
        /* Several chunks: coalesce into one big enough for the largest step
         * seen (the high-water mark plus slack for alignment): one malloc
         * now, none in later steps of the same size.  Sizing by the mark
         * rather than by the chunks held drops the slack of geometric growth.
         * On failure keep the list. */
        size_t total = a->high_water + a->high_water / 8; /* padding may differ by layout */
        if (total < a->chunk_size) total = a->chunk_size;
        tg_chunk *big = chunk_new(a, total);
        if (big) {
            for (tg_chunk *c = a->first, *n; c; c = n) {
                n = c->next;
                a->reserved -= c->size;
                chunk_free(c);
            }
            a->first = big;
        }
    }
    if (a->stable) a->skew ^= 8;
    /* every chunk starts at the skew (the inline path adds no padding) */
    for (tg_chunk *c = a->first; c; c = c->next) {
        TG_POISON(c->mem, c->used);
        c->used = a->skew;
    }
    a->head = a->first;
    a->in_use = 0;
}

void tg__arena_free(tg_arena *a)
{
    for (tg_chunk *c = a->first, *n; c; c = n) {
        n = c->next;
        chunk_free(c);
    }
    a->first = a->head = NULL;
    a->reserved = a->in_use = 0;
}
