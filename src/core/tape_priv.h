/* struct tg_tape, shared by the files that build and read a tape (tape.c,
 * tape_query.c, and names.c for its names) and by no other: everywhere else the tape is
 * opaque and read through the tg__tape_* accessors of internal.h. */
#ifndef TG_CORE_TAPE_PRIV_H
#define TG_CORE_TAPE_PRIV_H

#include "internal.h"

struct tg_tape {
    tg_arena arena;
    /* each node's input pointers and ids, apart from the tensors: the
     * sweeps walk them node after node, and packed together they stream
     * (a tape with an arena limit keeps them in the arena, one account) */
    tg_arena links;
    uint64_t epoch;
    tg_status status;
    char msg[512];
    int64_t err_node;

    tg_node *nodes;
    int64_t n_nodes, cap_nodes;
    int32_t n_values; /* ids handed out (tape tensors and user tensors) */
    int64_t n_tensors;

    /* user-owned tensor -> value id, open addressing, cleared on reset */
    const tg_tensor **map_keys;
    int32_t *map_vals;
    size_t map_cap, map_n;
    int32_t *user_ids_order; /* ids of user tensors in first-use order */
    tg_tensor **user_by_order;
    uint32_t *user_version; /* their data versions at first use */
    size_t cap_users;

    bool recording;
    bool anomaly;
    /* the op being built: named by tg_tape_check_inputs, cleared when it is
     * recorded, so an allocation that fails in between names it */
    const char *op;
    const bool *dep;
    int32_t n_dep;
    int64_t bw_node;    /* node whose backward rule is running, -1 outside */
    tg_explain explain; /* explain mode: where and how (f NULL: off) */
    tg_rng rng;
    int64_t mallocs;
    int64_t n_retained; /* tg_retain_grad calls since the last reset */

    /* rg[id]: did value id require grad when it was made (a node's output:
     * any input did; a user tensor: its flag at first use; else 0)?  For
     * tg_backward that is exactly which values depend on a target, unless
     * a flag changed since or a tensor is retained, so the sweep can skip
     * its forward pass over the nodes.  rg_ok false: not kept (out of
     * memory growing it), the sweep makes the pass. */
    uint8_t *rg;
    size_t rg_n, rg_cap;
    bool rg_ok;

    /* The growth warning (tg_tape_options.growth_warning): tg_backward calls
     * since the last reset, the bytes in use at the first of them, and
     * whether the warning was given (once per tape). */
    tg_warning_fn warn;
    void *warn_ctx;
    size_t growth_warning;
    int64_t n_backward;
    size_t growth_base;
    /* n_values when the last tg_backward since the reset started: a tape
     * tensor with a smaller id was there for it (tg_retain_grad) */
    int32_t bw_values;
    bool warned;
    /* tg_tensor_set_name of tape tensors: value id -> name (copied into the
     * links arena, so reset forgets them with the rest of the epoch) */
    int32_t *name_ids;
    const char **name_strs;
    size_t n_names, cap_names;
    /* A scratch tape of tg_checkpoint's (core/checkpoint.c) kept between
     * its uses, reset, so recomputing a segment reuses its memory instead
     * of faulting fresh pages in every step; NULL when none is kept or it
     * is in use.  Freed with the tape. */
    tg_tape *scratch;
};

#endif
