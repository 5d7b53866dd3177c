/* The thread count of the kernels (include/tapegrad/threads.h)
 * and the choice of threads for one loop (parallel.h). */
#include "parallel.h"

#include "internal.h"
#include "tapegrad/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#if TG_HAVE_OPENMP
#include <omp.h>
#endif

/* The setting; 0 until set or first read (then the default). */
static _Atomic int g_threads;
static _Atomic bool g_force;
#if TG_HAVE_OPENMP
/* Set in a child process after fork(): GNU OpenMP's thread pool is not
 * carried into the child, and a parallel region there would wait for
 * threads that do not exist.  The child runs its kernels on one thread
 * (PyTorch does the same). */
static _Atomic bool g_forked;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_store(&g_forked, true);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}
#endif

static int default_threads(void)
{
#if TG_HAVE_OPENMP
    const int n = omp_get_max_threads();
#else
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n < 1 ? 1 : n > TG_MAX_THREADS ? TG_MAX_THREADS : (int)n;
}

tg_status tg_set_num_threads(int n)
{
    if (n < 0 || n > TG_MAX_THREADS) {
        tg__set_last(TG_ERR_ARG, "tg_set_num_threads: n is %d, must be 0 (the default) or 1..%d", n,
                     TG_MAX_THREADS);
        return TG_ERR_ARG;
    }
    const int use = n == 0 ? default_threads() : n;
    /* OpenBLAS itself stays on one thread (kernels/gemm.c says why): the
     * products are cut into pieces for these threads instead */
    atomic_store(&g_threads, use);
    return TG_OK;
}

int tg_get_num_threads(void)
{
    int n = atomic_load(&g_threads);
    if (n == 0) {
        n = default_threads();
        atomic_store(&g_threads, n);
    }
    return n;
}

bool tg_have_openmp(void)
{
    return TG_HAVE_OPENMP;
}

bool tg__par_force(bool on)
{
    return atomic_exchange(&g_force, on);
}

bool tg__par_forced(void)
{
    return atomic_load_explicit(&g_force, memory_order_relaxed);
}

int tg__par_threads(int64_t work, int64_t min_work)
{
#if TG_HAVE_OPENMP
    const bool force = atomic_load_explicit(&g_force, memory_order_relaxed);
    if (!force && work < min_work) return 1;
    if (atomic_load_explicit(&g_forked, memory_order_relaxed) || omp_in_parallel()) return 1;
    const int n = tg_get_num_threads();
    if (n > 1) pthread_once(&g_atfork_once, register_atfork);
    return n;
#else
    (void)work, (void)min_work;
    return 1;
#endif
}
