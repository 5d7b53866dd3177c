/* The tape's memory report: per node, what it keeps for backward (its
 * output, the attributes copied at record time, aux tensors saved only for
 * backward, the inputs it references), and the arena's totals.  Read-only;
 * the numbers are the tensors' payloads (the arena rounds each block up to
 * 16 bytes and aligns large ones to 64, which the summary shows as the
 * difference to bytes in use). */
#include "internal.h"

static size_t payload(const tg_tensor *t)
{
    return (size_t)t->numel * tg_dtype_size(t->dtype);
}

static bool is_in_or_out(const tg_node *nd, const tg_tensor *t)
{
    if (t == nd->out) return true;
    for (int k = 0; k < nd->n_in; k++)
        if (nd->in[k] == t) return true;
    return false;
}

tg_status tg_tape_node_memory(const tg_tape *tp, int64_t i, tg_node_memory *m)
{
    if (!tp || !m) {
        tg__set_last(TG_ERR_NULL, "tape_node_memory: %s is NULL", !tp ? "tape" : "m");
        return TG_ERR_NULL;
    }
    if (i < 0 || i >= tg__tape_num_nodes(tp)) return TG_ERR_ARG;
    const tg_node *nd = tg__tape_node(tp, i);
    memset(m, 0, sizeof *m);
    m->out_bytes = payload(nd->out);
    m->attr_bytes = nd->saved_size;
    tg_tensor *const *aux = tg__node_aux(nd);
    for (int k = 0; k < nd->n_aux; k++)
        if (aux[k] && !is_in_or_out(nd, aux[k])) m->aux_bytes += payload(aux[k]);
    for (int k = 0; k < nd->n_in; k++) {
        /* an input used twice (x * x) is one tensor */
        bool dup = false;
        for (int j = 0; j < k && !dup; j++) dup = nd->in[j] == nd->in[k];
        if (dup) continue;
        if (nd->in[k]->magic == TG_MAGIC_USER)
            m->user_bytes += payload(nd->in[k]);
        else
            m->input_bytes += payload(nd->in[k]);
    }
    m->saved_bytes = m->attr_bytes + m->aux_bytes;
    return TG_OK;
}

void tg_tape_print_ex(const tg_tape *tp, FILE *f, unsigned flags)
{
    if (!tp || !f) {
        tg__set_last(TG_ERR_NULL, "tape_print_ex: %s is NULL", !tp ? "tape" : "f");
        return;
    }
    if (!(flags & TG_PRINT_MEMORY)) {
        tg_tape_print(tp, f);
        return;
    }
    char d[TG_SHAPE_BUF + 8], line[160];
    size_t nu = tg__tape_num_users(tp);
    for (size_t u = 0; u < nu; u++) {
        const tg_tensor *t = tg__tape_user(tp, u);
        fprintf(f, "$%zu = input%s  %s\n", u, t->requires_grad ? " (requires grad)" : "",
                tg_tensor_describe(t, d, sizeof d));
    }
    fprintf(f, "%-44s %9s %7s %7s %9s\n", "node", "output B", "attrs B", "aux B", "inputs B");
    size_t tot_out = 0, tot_attr = 0, tot_aux = 0;
    int64_t nn = tg__tape_num_nodes(tp);
    for (int64_t i = 0; i < nn; i++) {
        const tg_node *nd = tg__tape_node(tp, i);
        tg_node_memory m;
        tg_tape_node_memory(tp, i, &m);
        int k = snprintf(line, sizeof line, "%%%lld = %s(", (long long)i, nd->op->name);
        for (int j = 0; j < nd->n_in && k > 0 && (size_t)k < sizeof line; j++) {
            const tg_tensor *t = nd->in[j];
            char ref[24];
            if (t->magic == TG_MAGIC_USER) {
                snprintf(ref, sizeof ref, "$?");
                for (size_t u = 0; u < nu; u++)
                    if (tg__tape_user(tp, u) == t) snprintf(ref, sizeof ref, "$%zu", u);
            } else if (t->node >= 0) {
                snprintf(ref, sizeof ref, "%%%lld", (long long)t->node);
            } else {
                snprintf(ref, sizeof ref, "c%d", t->id);
            }
            k += snprintf(line + k, sizeof line - (size_t)k, "%s%s", j ? ", " : "", ref);
        }
        if (k > 0 && (size_t)k < sizeof line)
            snprintf(line + k, sizeof line - (size_t)k, ")  %s",
                     tg_tensor_describe(nd->out, d, sizeof d));
        fprintf(f, "%-44s %9zu %7zu %7zu %9zu\n", line, m.out_bytes, m.attr_bytes, m.aux_bytes,
                m.input_bytes + m.user_bytes);
        tot_out += m.out_bytes;
        tot_attr += m.attr_bytes;
        tot_aux += m.aux_bytes;
    }
    tg_tape_stats s = tg_tape_usage(tp);
    fprintf(f,
            "memory: %lld nodes; outputs %zu B, attributes %zu B, aux tensors %zu B saved for "
            "backward\n",
            (long long)nn, tot_out, tot_attr, tot_aux);
    fprintf(f,
            "arena: %zu B in use (the rest: tensor headers, node lists, constants, alignment), "
            "high-water %zu B, reserved %zu B\n",
            s.bytes_in_use, s.high_water, s.bytes_reserved);
    if (tg_tape_status(tp) != TG_OK) fprintf(f, "error: %s\n", tg_tape_error(tp));
}
