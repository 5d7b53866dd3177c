/* Data-parallel training over MPI (include/tapegrad/dist.h).
 *
 * The library talks on a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN,
 * so neither its messages nor its error handling mix with the caller's.
 *
 * Every collective is non-blocking and waited for by polling (MPI_Test) up
 * to a deadline: a rank that never joins (it failed, exited, or is stuck)
 * becomes an error on the ranks that wait instead of a hang.  MPI cannot
 * cancel a collective, so after a timeout the buffers it was given stay
 * allocated (MPI may still write into them) and every later call fails.
 *
 * Before any data moves, the ranks exchange a short header (which call,
 * how many calls of that kind so far, the local check's status, the
 * parameter list's digest): a rank whose own checks failed, a parameter
 * list that differs, or a rank in another call is then the same error on
 * every rank, and no data is exchanged.
 *
 * The gradient mean is a reduce-scatter then an all-gather, each bucket's
 * elements split into size chunks: rank r receives every rank's chunk r
 * (MPI_Ialltoall), sums them in rank order and divides by size, then every
 * rank receives every reduced chunk (MPI_Iallgather).  MPI_Allreduce would
 * move as many bytes, but its summation order is the implementation's
 * choice (it may change with the message size or the number of ranks, and
 * ranks are not promised the same bits); here each element is summed once,
 * in a fixed order, and copied to all. */
#include "dist.h"

#include <math.h>
#include <mpi.h>
#include <time.h>

enum { KIND_BCAST, KIND_ALLREDUCE, KIND_COUNT };
static const char *const k_kind_fn[KIND_COUNT] = {"tg_dist_broadcast", "tg_dist_allreduce_grads"};

/* Each dtype's tensors are exchanged apart, f32 first. */
static const tg_dtype k_dtypes[2] = {TG_F32, TG_F64};

/* The header each rank sends before a collective's data. */
enum { H_KIND, H_SEQ, H_STATUS, H_BAD, H_N, H_SIG, H_LEN };

/* A bucket is never over 1 GiB: its element counts then fit MPI's int. */
#define BUCKET_BYTES_MAX ((size_t)1 << 30)

static struct {
    bool on, we_init, broken;
    MPI_Comm comm;
    int rank, size;
    double timeout;
    size_t bucket_bytes;
    int64_t seq[KIND_COUNT];
    /* buffers MPI reads and writes while a collective is pending: the
     * library's own, never the user's tensors (see the top of the file) */
    int64_t mine[H_LEN], *headers;        /* headers: size * H_LEN */
    unsigned char *send, *recv, *reduced; /* bucket_bytes + 8 size each */
} g;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static tg_status mpi_error(const char *fn, const char *call, int rc)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "MPI error %d", rc);
    tg__set_last(TG_ERR_IO, "%s: %s: %s", fn, call, s);
    return TG_ERR_IO;
}

/* Waits for a pending collective until the deadline.  Open MPI progresses
 * non-blocking collectives only inside MPI calls, so the wait polls: at
 * once at first (an exchange usually completes soon after the last rank
 * joins), then with doubling pauses up to a cap (pause_ns) so that a rank
 * waiting for a slower one leaves the CPU to it. */
static tg_status wait_for(const char *fn, const char *call, MPI_Request *req)
{
    const double t0 = now();
    long polls = 0, pause_ns = 1000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            g.broken = true;
            return mpi_error(fn, "MPI_Test", rc);
        }
        if (done) return TG_OK;
        if (now() - t0 > g.timeout) {
            g.broken = true;
            tg__set_last(TG_ERR_IO,
                         "%s: %s: not every rank joined within %g s (a rank failed, exited or is "
                         "stuck); the communicator is unusable now: report the error and exit",
                         fn, call, g.timeout);
            return TG_ERR_IO;
        }
        if (++polls > 1000) {
            nanosleep(&(struct timespec){0, pause_ns}, NULL);
            if (pause_ns < 200000) pause_ns *= 2;
        }
    }
}

static tg_status started(const char *fn, const char *call, int rc, MPI_Request *req)
{
    if (rc != MPI_SUCCESS) {
        g.broken = true;
        return mpi_error(fn, call, rc);
    }
    return wait_for(fn, call, req);
}

static bool usable(const char *fn, tg_status st)
{
    if (!g.on) {
        if (st == TG_OK) tg__set_last(TG_ERR_ARG, "%s: call tg_dist_init first", fn);
        return false;
    }
    if (g.broken) {
        tg__set_last(TG_ERR_IO,
                     "%s: an earlier collective failed; the communicator is unusable: report "
                     "the error and exit",
                     fn);
        return false;
    }
    return true;
}

/* The header exchange (see the top of the file).  st and bad: this rank's
 * own check; on its failure the last error is already set. */
static tg_status agree(int kind, tg_status st, int bad, int n, tg_tensor *const *ts)
{
    const char *fn = k_kind_fn[kind];
    g.mine[H_KIND] = kind;
    g.mine[H_SEQ] = ++g.seq[kind];
    g.mine[H_STATUS] = st;
    g.mine[H_BAD] = bad;
    g.mine[H_N] = n;
    g.mine[H_SIG] = st == TG_OK ? tg__dist_signature(n, ts) : 0;
    MPI_Request req;
    int rc =
        MPI_Iallgather(g.mine, H_LEN, MPI_INT64_T, g.headers, H_LEN, MPI_INT64_T, g.comm, &req);
    tg_status wst = started(fn, "MPI_Iallgather", rc, &req);
    if (wst != TG_OK) return wst;
    if (st != TG_OK) return st;
    const char *what = kind == KIND_BCAST ? "tensor" : "parameter";
    for (int r = 0; r < g.size; r++) {
        const int64_t *h = g.headers + (size_t)r * H_LEN;
        if (h[H_KIND] != kind || h[H_SEQ] != g.mine[H_SEQ]) {
            tg__set_last(TG_ERR_ARG,
                         "%s: rank %d is in call %lld of %s, this rank (%d) in call %lld of %s: "
                         "every rank must make the same calls",
                         fn, r, (long long)h[H_SEQ],
                         h[H_KIND] >= 0 && h[H_KIND] < KIND_COUNT ? k_kind_fn[h[H_KIND]] : "?",
                         g.rank, (long long)g.mine[H_SEQ], fn);
            return TG_ERR_ARG;
        }
        if (h[H_STATUS] != TG_OK) {
            tg_status rst = (tg_status)h[H_STATUS];
            tg__set_last(rst, "%s: rank %d failed its checks (%s, %s %lld); nothing was exchanged",
                         fn, r, tg_strerror(rst), what, (long long)h[H_BAD]);
            return rst;
        }
        if (h[H_N] != n || h[H_SIG] != g.mine[H_SIG]) {
            tg__set_last(TG_ERR_SHAPE,
                         "%s: rank %d's %ss differ from this rank's (%d) in number (%lld there, "
                         "%d here), dtype or shape; nothing was exchanged",
                         fn, r, what, g.rank, (long long)h[H_N], n);
            return TG_ERR_SHAPE;
        }
    }
    return TG_OK;
}

/* Copies m elements of dtype dt between the tensors (their gradients when
 * grads) and buf, starting at element *off of tensor *i and skipping
 * tensors of other dtypes; to_buf gives the direction.  Advances *i, *off. */
static void walk(tg_tensor *const *ts, int n, tg_dtype dt, bool grads, int *i, int64_t *off,
                 int64_t m, unsigned char *buf, bool to_buf)
{
    const size_t es = tg_dtype_size(dt);
    while (m > 0 && *i < n) {
        tg_tensor *t = grads ? ts[*i]->grad : ts[*i];
        if (ts[*i]->dtype != dt || *off >= t->numel) {
            ++*i, *off = 0;
            continue;
        }
        const int64_t k = t->numel - *off < m ? t->numel - *off : m;
        unsigned char *p = (unsigned char *)t->data + (size_t)*off * es;
        if (to_buf) {
            memcpy(buf, p, (size_t)k * es);
        } else {
            memcpy(p, buf, (size_t)k * es);
            tg__bump_version(t);
        }
        buf += (size_t)k * es;
        m -= k;
        *off += k;
    }
}

/* The elements of dtype dt in the list (the gradients' when grads). */
static int64_t count(tg_tensor *const *ts, int n, tg_dtype dt)
{
    int64_t c = 0;
    for (int i = 0; i < n; i++)
        if (ts[i]->dtype == dt) c += ts[i]->numel;
    return c;
}

/* The mean over the ranks of g.send's m elements of dt, in place. */
static tg_status mean_bucket(const char *fn, tg_dtype dt, int64_t m)
{
    const size_t es = tg_dtype_size(dt);
    const MPI_Datatype type = dt == TG_F32 ? MPI_FLOAT : MPI_DOUBLE;
    const int chunk = (int)((m + g.size - 1) / g.size);
    const int64_t padded = (int64_t)chunk * g.size;
    memset(g.send + (size_t)m * es, 0, (size_t)(padded - m) * es);
    MPI_Request req;
    int rc = MPI_Ialltoall(g.send, chunk, type, g.recv, chunk, type, g.comm, &req);
    tg_status st = started(fn, "MPI_Ialltoall", rc, &req);
    if (st != TG_OK) return st;
    /* g.recv holds rank j's part of chunk g.rank at j * chunk: summed in
     * rank order, in the gradients' own precision */
    if (dt == TG_F32) {
        const float *in = (const float *)(void *)g.recv;
        float *out = (float *)(void *)g.reduced;
        for (int k = 0; k < chunk; k++) {
            float s = in[k];
            for (int j = 1; j < g.size; j++) s += in[(size_t)j * (size_t)chunk + (size_t)k];
            out[k] = s / (float)g.size;
        }
    } else {
        const double *in = (const double *)(void *)g.recv;
        double *out = (double *)(void *)g.reduced;
        for (int k = 0; k < chunk; k++) {
            double s = in[k];
            for (int j = 1; j < g.size; j++) s += in[(size_t)j * (size_t)chunk + (size_t)k];
            out[k] = s / (double)g.size;
        }
    }
    rc = MPI_Iallgather(g.reduced, chunk, type, g.send, chunk, type, g.comm, &req);
    return started(fn, "MPI_Iallgather", rc, &req);
}

tg_status tg_dist_init(int *argc, char ***argv, const tg_dist_options *opts)
{
    const char *fn = "tg_dist_init";
    double timeout = TG_DIST_TIMEOUT_DEFAULT;
    size_t bucket = TG_DIST_BUCKET_BYTES_DEFAULT;
    if (opts) {
        if (!(opts->timeout_seconds >= 0) || isinf(opts->timeout_seconds)) {
            tg__set_last(TG_ERR_ARG, "%s: timeout_seconds %g must be finite and >= 0 (0: %g s)", fn,
                         opts->timeout_seconds, TG_DIST_TIMEOUT_DEFAULT);
            return TG_ERR_ARG;
        }
        if (opts->bucket_bytes && opts->bucket_bytes < 64) {
            tg__set_last(TG_ERR_ARG, "%s: bucket_bytes %zu is below 64 (0: %zu)", fn,
                         opts->bucket_bytes, TG_DIST_BUCKET_BYTES_DEFAULT);
            return TG_ERR_ARG;
        }
        if (opts->timeout_seconds > 0) timeout = opts->timeout_seconds;
        if (opts->bucket_bytes) bucket = opts->bucket_bytes;
    }
    if (bucket > BUCKET_BYTES_MAX) bucket = BUCKET_BYTES_MAX;
    if (g.on || g.broken) {
        tg__set_last(TG_ERR_ARG, "%s: already initialised (tg_dist_finalize first)", fn);
        return TG_ERR_ARG;
    }
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) {
        tg__set_last(TG_ERR_ARG, "%s: MPI was finalised already; it cannot start again", fn);
        return TG_ERR_ARG;
    }
    bool we_init = false;
    if (!inited) {
        int provided = 0;
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_error(fn, "MPI_Init_thread", rc);
        we_init = true;
    }
    /* MPI_Comm_dup reports through MPI_COMM_WORLD's handler (fatal by
     * default): made to return for this call only, the caller's restored */
    MPI_Errhandler old;
    MPI_Comm comm = MPI_COMM_NULL;
    MPI_Comm_get_errhandler(MPI_COMM_WORLD, &old);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, old);
    MPI_Errhandler_free(&old);
    if (rc != MPI_SUCCESS) {
        tg_status st = mpi_error(fn, "MPI_Comm_dup", rc);
        if (we_init) MPI_Finalize();
        return st;
    }
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* a bucket padded to a multiple of size elements: up to size - 1 more */
    const size_t bytes = bucket + (size_t)size * sizeof(double);
    int64_t *headers = tg__malloc((size_t)size * H_LEN * sizeof *headers);
    unsigned char *send = tg__malloc(bytes), *recv = tg__malloc(bytes);
    unsigned char *reduced = tg__malloc(bucket / (size_t)size + 2 * sizeof(double));
    if (!headers || !send || !recv || !reduced) {
        tg__free(headers), tg__free(send), tg__free(recv), tg__free(reduced);
        MPI_Comm_free(&comm);
        if (we_init) MPI_Finalize();
        tg__set_last(TG_ERR_NOMEM, "%s: out of memory for buckets of %zu bytes", fn, bucket);
        return TG_ERR_NOMEM;
    }
    memset(&g, 0, sizeof g);
    g.on = true;
    g.we_init = we_init;
    g.comm = comm;
    g.rank = rank;
    g.size = size;
    g.timeout = timeout;
    g.bucket_bytes = bucket;
    g.headers = headers;
    g.send = send;
    g.recv = recv;
    g.reduced = reduced;
    return TG_OK;
}

tg_status tg_dist_finalize(void)
{
    if (!g.on) return TG_OK;
    if (g.broken) {
        /* MPI_Finalize would wait for the rank that never joined; the
         * buffers stay: MPI may still write into them */
        g.on = false;
        tg__set_last(TG_ERR_IO, "tg_dist_finalize: a collective failed earlier: MPI is left "
                                "running (MPI_Finalize would wait for the failed rank); exit "
                                "with a failure status and mpirun stops the other ranks");
        return TG_ERR_IO;
    }
    MPI_Comm_free(&g.comm);
    tg__free(g.headers);
    tg__free(g.send);
    tg__free(g.recv);
    tg__free(g.reduced);
    const bool we_init = g.we_init;
    memset(&g, 0, sizeof g);
    if (we_init) {
        int rc = MPI_Finalize();
        if (rc != MPI_SUCCESS) return mpi_error("tg_dist_finalize", "MPI_Finalize", rc);
    }
    return TG_OK;
}

int tg_dist_rank(void)
{
    return g.on ? g.rank : 0;
}

int tg_dist_size(void)
{
    return g.on ? g.size : 1;
}

tg_status tg_dist_broadcast(int n, tg_tensor *const *tensors)
{
    const char *fn = "tg_dist_broadcast";
    int bad;
    tg_status st = tg__dist_check_list(fn, "tensor", n, tensors, false, &bad);
    if (!usable(fn, st)) return st != TG_OK ? st : tg_last_status();
    st = agree(KIND_BCAST, st, bad, n, tensors);
    if (st != TG_OK) return st;
    for (int d = 0; d < 2; d++) {
        const tg_dtype dt = k_dtypes[d];
        const size_t es = tg_dtype_size(dt);
        const int64_t cap = (int64_t)(g.bucket_bytes / es);
        int i = 0, ri = 0;
        int64_t off = 0, roff = 0;
        for (int64_t left = count(tensors, n, dt); left > 0;) {
            const int64_t m = left < cap ? left : cap;
            if (g.rank == 0) walk(tensors, n, dt, false, &i, &off, m, g.send, true);
            MPI_Request req;
            int rc =
                MPI_Ibcast(g.send, (int)m, dt == TG_F32 ? MPI_FLOAT : MPI_DOUBLE, 0, g.comm, &req);
            st = started(fn, "MPI_Ibcast", rc, &req);
            if (st != TG_OK) return st;
            if (g.rank != 0) walk(tensors, n, dt, false, &ri, &roff, m, g.send, false);
            left -= m;
        }
    }
    return TG_OK;
}

tg_status tg_dist_allreduce_grads(int n, tg_tensor *const *params)
{
    const char *fn = "tg_dist_allreduce_grads";
    int bad;
    tg_status st = tg__dist_check_list(fn, "parameter", n, params, true, &bad);
    if (!usable(fn, st)) return st != TG_OK ? st : tg_last_status();
    st = agree(KIND_ALLREDUCE, st, bad, n, params);
    if (st != TG_OK || g.size == 1) return st; /* the mean over one rank: the gradient itself */
    for (int d = 0; d < 2; d++) {
        const tg_dtype dt = k_dtypes[d];
        const size_t es = tg_dtype_size(dt);
        const int64_t cap = (int64_t)(g.bucket_bytes / es);
        int i = 0, ri = 0;
        int64_t off = 0, roff = 0;
        for (int64_t left = count(params, n, dt); left > 0;) {
            const int64_t m = left < cap ? left : cap;
            walk(params, n, dt, true, &i, &off, m, g.send, true);
            st = mean_bucket(fn, dt, m);
            if (st != TG_OK) return st;
            walk(params, n, dt, true, &ri, &roff, m, g.send, false);
            left -= m;
        }
    }
    return TG_OK;
}
