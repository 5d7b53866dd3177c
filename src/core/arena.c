/* The tape's arena: a bump allocator over a list of chunks.  Reset rewinds it;
 * when a step needed more than one chunk, reset replaces them with a single
 * chunk big enough for the whole step, so the steady state of a training
 * loop allocates nothing. */
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
    return c;
}

void tg__arena_init(tg_arena *a, size_t chunk_size, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : (size_t)64 << 10;
    a->limit = limit;
}

/* The alignment rule of blocks: see TG_ARENA_BIG in core/internal.h. */
static size_t pad_for(const tg_chunk *c, size_t align)
{
    uintptr_t p = (uintptr_t)(c->mem + c->used);
    return (size_t)(((p + align - 1) & ~(uintptr_t)(align - 1)) - p);
}

void *tg__arena_alloc_slow(tg_arena *a, size_t n)
{
    const size_t align = n >= TG_ARENA_BIG ? TG_ALIGN : 16;
    if (n > SIZE_MAX - 2 * TG_ALIGN) return NULL;
    size_t rounded = (n + 15) & ~(size_t)15;
    if (a->limit && (rounded > a->limit || a->in_use > a->limit - rounded)) return NULL;
    tg_chunk *c = a->head;
    while (c && c->size - c->used < pad_for(c, align) + rounded)
        c = c->next; /* later chunks are empty */
    if (!c) {
        size_t size = a->chunk_size;
        if (a->reserved > size) size = a->reserved; /* grow geometrically */
        if (size < rounded) size = rounded;
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
    size_t pad = pad_for(c, align);
    void *p = c->mem + c->used + pad;
    c->used += pad + rounded;
    a->in_use += pad + rounded;
    if (a->in_use > a->high_water) a->high_water = a->in_use;
    return p;
}

void tg__arena_reset(tg_arena *a)
{
    if (a->first && a->first->next) {
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
                tg__free(c);
            }
            a->first = big;
        }
    }
    for (tg_chunk *c = a->first; c; c = c->next) c->used = 0;
    a->head = a->first;
    a->in_use = 0;
}

void tg__arena_free(tg_arena *a)
{
    for (tg_chunk *c = a->first, *n; c; c = n) {
        n = c->next;
        tg__free(c);
    }
    a->first = a->head = NULL;
    a->reserved = a->in_use = 0;
}
