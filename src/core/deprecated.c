/* Public names kept for one release after a rename to the tg_<object>_<verb>
 * pattern, each forwarding to its new name (declared with TG_DEPRECATED in
 * the public headers; tests/test_deprecated.c calls each). */
#include "internal.h"

tg_status tg_save_safetensors(const char *path, int n, const char *const *names,
                              tg_tensor *const *tensors)
{
    return tg_safetensors_save(path, n, names, tensors);
}

tg_status tg_load_safetensors(const char *path, tg_named_tensors *out)
{
    return tg_safetensors_load(path, out);
}

tg_status tg_load_safetensors_into(const char *path, int n, const char *const *names,
                                   tg_tensor *const *tensors)
{
    return tg_safetensors_load_into(path, n, names, tensors);
}

tg_tape_stats tg_tape_get_stats(const tg_tape *tp)
{
    return tg_tape_usage(tp);
}
