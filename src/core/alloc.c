/* The one allocation hook every heap allocation of the library goes through,
 * so that users can plug in their own allocator and tests can make the Nth
 * allocation fail (out-of-memory injection). */
#include "internal.h"

#include <stdlib.h>

static void *default_malloc(size_t n, void *ctx)
{
    (void)ctx;
    return malloc(n);
}
static void *default_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    return realloc(p, n);
}
static void default_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static tg_allocator g_alloc = {default_malloc, default_realloc, default_free, NULL};

void tg_set_allocator(const tg_allocator *a)
{
    if (!a || !a->malloc_fn || !a->realloc_fn || !a->free_fn) {
        g_alloc = (tg_allocator){default_malloc, default_realloc, default_free, NULL};
        return;
    }
    g_alloc = *a;
}

void *tg__malloc(size_t n)
{
    return g_alloc.malloc_fn(n ? n : 1, g_alloc.ctx);
}

void *tg__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = tg__malloc(n * size);
    if (p && n && size) memset(p, 0, n * size);
    return p;
}

void *tg__realloc(void *p, size_t n)
{
    return g_alloc.realloc_fn(p, n ? n : 1, g_alloc.ctx);
}

void tg__free(void *p)
{
    if (p) g_alloc.free_fn(p, g_alloc.ctx);
}
