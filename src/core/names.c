/* Tensor names (tg_tensor_set_name), for the teaching outputs: the tape
 * listing, explain mode, the pictures and error messages say "W2 ($3)".
 * The tensor header has no room for a name (it stays 72 bytes: a scalar
 * tape makes one per op), so names live beside it:
 *   - a tape tensor's on its tape, keyed by value id, the string in the
 *     links arena: reset forgets them with the epoch and a training loop
 *     that names its tensors every step allocates nothing new;
 *   - a user tensor's in one table for the process, keyed by the tensor,
 *     behind a lock (tapes on several threads may print the same parameter)
 *     and dropped when the tensor is freed. */
#include "internal.h"
#include "tape_priv.h"

typedef struct {
    const tg_tensor *key;
    char *name; /* malloc'd: tg_tensor_name's pointer stays valid while the table grows */
} user_name;

static user_name *g_names;
static size_t g_n, g_cap;
static size_t g_count; /* atomic copy of g_n: freeing a tensor skips the lock when 0 */
static int g_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&g_lock, __ATOMIC_RELAXED)) {
        }
}

static void unlock(void)
{
    __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE);
}

/* Index of t in the user table, or g_n; under the lock. */
static size_t user_find(const tg_tensor *t)
{
    size_t i = 0;
    while (i < g_n && g_names[i].key != t) i++;
    return i;
}

static void user_remove(size_t i)
{
    tg__free(g_names[i].name);
    g_names[i] = g_names[--g_n];
    __atomic_store_n(&g_count, g_n, __ATOMIC_RELEASE);
}

static tg_status user_set(const tg_tensor *t, const char *name)
{
    char *copy = NULL;
    if (name) {
        copy = tg__malloc(strlen(name) + 1);
        if (!copy) {
            tg__set_last(TG_ERR_NOMEM, "tensor_set_name: out of memory for the name");
            return TG_ERR_NOMEM;
        }
        strcpy(copy, name);
    }
    lock();
    size_t i = user_find(t);
    if (i < g_n && !copy) {
        user_remove(i);
    } else if (i < g_n) {
        tg__free(g_names[i].name);
        g_names[i].name = copy;
    } else if (copy && g_n == g_cap) {
        size_t cap = g_cap ? 2 * g_cap : 16, bytes;
        user_name *p = tg__mul_size(cap, sizeof *p, &bytes) ? tg__realloc(g_names, bytes) : NULL;
        if (!p) {
            unlock();
            tg__free(copy);
            tg__set_last(TG_ERR_NOMEM, "tensor_set_name: out of memory for the name table");
            return TG_ERR_NOMEM;
        }
        g_names = p;
        g_cap = cap;
    }
    if (i == g_n && copy) {
        g_names[g_n++] = (user_name){t, copy};
        __atomic_store_n(&g_count, g_n, __ATOMIC_RELEASE);
    }
    unlock();
    return TG_OK;
}

void tg__tensor_forget_name(const tg_tensor *t)
{
    if (!__atomic_load_n(&g_count, __ATOMIC_ACQUIRE)) return;
    lock();
    size_t i = user_find(t);
    if (i < g_n) user_remove(i);
    if (!g_n) { /* the last name gone: the table too, so a leak check sees nothing */
        tg__free(g_names);
        g_names = NULL;
        g_cap = 0;
    }
    unlock();
}

/* Index of value id in tp's name table, or tp->n_names. */
static size_t tape_find(const tg_tape *tp, int32_t id)
{
    size_t i = 0;
    while (i < tp->n_names && tp->name_ids[i] != id) i++;
    return i;
}

static tg_status tape_set(tg_tape *tp, int32_t id, const char *name)
{
    size_t i = tape_find(tp, id);
    if (!name) {
        if (i < tp->n_names) {
            tp->n_names--;
            tp->name_ids[i] = tp->name_ids[tp->n_names];
            tp->name_strs[i] = tp->name_strs[tp->n_names];
        }
        return TG_OK;
    }
    const size_t len = strlen(name) + 1;
    char *copy =
        tp->arena.limit ? tg__arena_alloc(&tp->arena, len) : tg__arena_alloc(&tp->links, len);
    if (!copy) {
        tg__set_last(TG_ERR_NOMEM, "tensor_set_name: out of memory for the name (arena limit?)");
        return TG_ERR_NOMEM;
    }
    memcpy(copy, name, len);
    if (i == tp->n_names && i == tp->cap_names) {
        size_t cap = tp->cap_names ? 2 * tp->cap_names : 16, bytes;
        if (!tg__mul_size(cap, sizeof *tp->name_strs, &bytes)) bytes = SIZE_MAX;
        int32_t *ids = tg__realloc(tp->name_ids, cap * sizeof *ids); /* smaller than bytes */
        if (ids) tp->name_ids = ids;
        const char **strs = ids ? tg__realloc(tp->name_strs, bytes) : NULL;
        if (!strs) {
            tg__set_last(TG_ERR_NOMEM, "tensor_set_name: out of memory for the name table");
            return TG_ERR_NOMEM;
        }
        tp->name_strs = strs;
        tp->cap_names = cap;
        tp->mallocs++;
    }
    if (i == tp->n_names) tp->name_ids[tp->n_names++] = id;
    tp->name_strs[i] = copy;
    return TG_OK;
}

void tg__tape_names_free(tg_tape *tp)
{
    tg__free(tp->name_ids);
    tg__free(tp->name_strs);
}

/* The name's checks: a length a reference can show, and no control
 * characters (a name is printed inside one line of text, DOT, JSON, SVG). */
static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len > TG_NAME_MAX) {
        tg__set_last(TG_ERR_ARG, "tensor_set_name: name \"%.*s...\" is %zu bytes long; at most %d",
                     12, name, len, TG_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            tg__set_last(TG_ERR_ARG,
                         "tensor_set_name: name has a control character (0x%02x at byte %zu)",
                         (unsigned)(unsigned char)name[i], i);
            return false;
        }
    return true;
}

/* TG_NO_ASAN: a stale tape tensor's header is read to report it (the
 * sanitizer builds poison it; the error is the report). */
TG_NO_ASAN tg_status tg_tensor_set_name(tg_tensor *t, const char *name)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tensor_set_name: tensor is NULL");
        return TG_ERR_NULL;
    }
    if (name && !name[0]) name = NULL;
    if (name && !name_ok(name)) return TG_ERR_ARG;
    if (t->magic == TG_MAGIC_USER) {
        if (tg__tensor_freed(t)) {
            tg__set_last(TG_ERR_TAPE, "tensor_set_name: the tensor was freed (tg_tensor_free)");
            return TG_ERR_TAPE;
        }
        return user_set(t, name);
    }
    if (t->magic != TG_MAGIC_TAPE || !tg__tensor_live_on(t, t->tape)) {
        tg__set_last(TG_ERR_TAPE, "tensor_set_name: not a live tensor (freed, or stale)");
        return TG_ERR_TAPE;
    }
    return tape_set(t->tape, t->id, name);
}

TG_NO_ASAN const char *tg_tensor_name(const tg_tensor *t)
{
    if (!t) {
        tg__set_last(TG_ERR_NULL, "tensor_name: tensor is NULL");
        return NULL;
    }
    if (t->magic == TG_MAGIC_TAPE) {
        if (!tg__tensor_live_on(t, t->tape)) {
            tg__set_last(TG_ERR_TAPE, "tensor_name: not a live tensor (freed, or stale)");
            return NULL;
        }
        const tg_tape *tp = t->tape;
        if (!tp->n_names) return NULL;
        size_t i = tape_find(tp, t->id);
        return i < tp->n_names ? tp->name_strs[i] : NULL;
    }
    if (t->magic != TG_MAGIC_USER || !__atomic_load_n(&g_count, __ATOMIC_ACQUIRE)) return NULL;
    lock();
    size_t i = user_find(t);
    const char *s = i < g_n ? g_names[i].name : NULL;
    unlock();
    return s;
}

bool tg__tensor_name_copy(const tg_tensor *t, char *buf, size_t n)
{
    if (n) buf[0] = '\0';
    if (t->magic == TG_MAGIC_TAPE) {
        const char *s = tg_tensor_name(t);
        if (s && n) snprintf(buf, n, "%s", s);
        return s != NULL;
    }
    if (t->magic != TG_MAGIC_USER || !__atomic_load_n(&g_count, __ATOMIC_ACQUIRE)) return false;
    lock();
    size_t i = user_find(t);
    bool found = i < g_n;
    if (found && n) snprintf(buf, n, "%s", g_names[i].name);
    unlock();
    return found;
}
