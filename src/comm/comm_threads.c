/*
 * comm_threads.c — the `threads` communicator: a world of n ranks inside one
 * process, one thread per rank, collectives through shared memory.
 *
 * Every collective has one shape: each rank publishes its arguments in its
 * slot, barrier, ranks read (and for all-reduce, write) each other's buffers
 * directly, barrier.  Invariant: a rank touches another rank's buffer or slot
 * only between the first and the last barrier of a collective, and a slot
 * field written before a collective's first barrier ("pre" fields: ptr, n,
 * op, root, color, key, ok) is read by others only before its last.  So
 * after the last barrier a rank may return and its caller may reuse the
 * buffer, and the next collective may rewrite the slot.  "Post" fields (sub,
 * sub_ok), written between a collective's first and last barrier, may be
 * read after the last: the next collective rewrites them only after its
 * first barrier.
 *
 * All-reduce: rank r owns element slice r.  It reduces that slice over all
 * ranks' buffers, ((x0 + x1) + x2) + ... in rank order, and writes the
 * result into every rank's buffer.  Nobody else touches slice r, so each
 * element is summed by exactly one rank in one fixed order: results are
 * bitwise reproducible whatever the timing, and equal on all ranks.

 * Barrier: a central arrival counter and a generation.  Waiters spin on the
 * generation for REGULA_SPIN microseconds (default 50), then sleep on a
 * condvar so an oversubscribed machine does not burn.  Measured on the
 * 2-core target: a spinning waiter leaves 0.13 µs after the last arrival, a
 * sleeping one 12-40 µs (median; 57 µs p90), as long as a small training
 * step.  Spinning for about one wake's cost loses at most 2x to an oracle.
 *
 * Abort: the world made by rg_comm_threads_create and every world split from
 * it form a family sharing one abort record.  A rank that finds it set while
 * waiting bails out, but first waits until no peer is inside a collective of
 * that world (`busy`): a peer may still be using the bailing rank's buffer,
 * which its caller may free once we return.  A peer checks the record after
 * each barrier, before it touches anything, so the wait is short.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/spin.h"
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CACHE_LINE 64
#define BLOCK 1024            /* elements reduced at a time: the partial sums stay in L1 */
#define MSG_MAX 512

struct tworld;

typedef struct tfamily {
    atomic_int status;          /* RG_OK until the first abort */
    char msg[MSG_MAX];          /* written once, under mu, before status */
    pthread_mutex_t mu;         /* guards msg, worlds */
    struct tworld *worlds;      /* every live world of the family */
    atomic_int handles;         /* live handles on any of its worlds */
} tfamily;

typedef struct tslot {
    alignas(CACHE_LINE) const void *ptr;   /* pre: the rank's buffer */
    size_t n;                   /* pre: elements or bytes */
    int op, root;                /* pre */
    int color, key, ok;         /* pre: split */
    int sub_ok;                 /* post: split, this rank's part succeeded */
    struct tworld *sub;         /* post: split, the world a group leader made */
    atomic_int busy;            /* 1 while the rank is inside a collective */
} tslot;

typedef struct tmsg {
    struct tmsg *next;
    int src, tag;
    size_t bytes;
    unsigned char data[];
} tmsg;

/* Messages to one rank, from any rank, in arrival order. */
typedef struct tinbox {
    alignas(CACHE_LINE) pthread_mutex_t mu;
    pthread_cond_t cv;
    tmsg *head, *tail;
    atomic_uint posted;         /* bumped per arrival: what a spinning recv watches */
    int sleeping;               /* under mu */
} tinbox;

typedef struct tworld {
    alignas(CACHE_LINE) atomic_uint gen;   /* barrier generation: waiters spin here */
    alignas(CACHE_LINE) atomic_int count;  /* arrivals in this generation */
    atomic_int sleepers;        /* waiters on cv */
    atomic_int refs;            /* handles alive */
    int n;
    int64_t spin_ns;
    pthread_mutex_t mu;         /* the sleeping side of the barrier */
    pthread_cond_t cv;
    tfamily *fam;
    struct tworld *fam_next, *fam_prev;    /* under fam->mu */
    tslot *slots;               /* [n] */
    tinbox *inbox;              /* [n], by destination */
    void *raw;                  /* the allocation holding all of the above */
} tworld;

/* A non-blocking all-reduce, run at the wait or at the handle's next
 * blocking collective. */
typedef struct treq {
    struct treq *next;
    float *buf;
    size_t n;
    rg_reduce_op op;
    int done;
    rg_status st;
    char msg[MSG_MAX];
} treq;

/* One rank's handle; used by one thread only. */
typedef struct thandle {
    rg_comm base;               /* first: rg_comm * and thandle * convert */
    tworld *w;
    treq *reqs;                 /* outstanding requests, in start order */
    unsigned seen;              /* t_idle: the inbox's posted count when it last returned */
} thandle;

static const rg_comm_ops threads_ops;

/* ------------------------------------------------------------ the world */

static size_t round_line(size_t n) { return (n + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1); }

/* Unlinks w from its family and frees it.  The family outlives it. */
static void world_destroy(tworld *w)
{
    tfamily *f = w->fam;
    pthread_mutex_lock(&f->mu);
    if (w->fam_prev) w->fam_prev->fam_next = w->fam_next;
    else f->worlds = w->fam_next;
    if (w->fam_next) w->fam_next->fam_prev = w->fam_prev;
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < w->n; i++) {
        tinbox *ib = &w->inbox[i];
        for (tmsg *m = ib->head, *next; m; m = next) {
            next = m->next;
            rg_free(m);
        }
        pthread_mutex_destroy(&ib->mu);
        pthread_cond_destroy(&ib->cv);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    rg_free(w->raw);
}

/* The family goes with its last handle, and with it any world a split
 * interrupted by an abort left with references nobody will drop. */
static void family_release(tfamily *f)
{
    if (atomic_fetch_sub_explicit(&f->handles, 1, memory_order_acq_rel) != 1) return;
    while (f->worlds) world_destroy(f->worlds);
    pthread_mutex_destroy(&f->mu);
    rg_free(f);
}

/* A world of n ranks in family f, with n handles to come. */
static tworld *world_new(int n, int64_t spin_ns, tfamily *f)
{
    size_t wsz = round_line(sizeof(tworld)), ssz, isz, total;
    if (!rg_mul_ok((size_t)n, sizeof(tslot), &ssz) || !rg_mul_ok((size_t)n, sizeof(tinbox), &isz)
        || !rg_add_ok(wsz, ssz, &total) || !rg_add_ok(total, isz, &total)
        || !rg_add_ok(total, CACHE_LINE, &total))
        return NULL;
    unsigned char *raw = rg_malloc(total);
    if (!raw) return NULL;
    unsigned char *base = (unsigned char *)(((uintptr_t)raw + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
    memset(base, 0, total - CACHE_LINE);
    tworld *w = (tworld *)base;
    w->raw = raw;
    w->n = n;
    w->spin_ns = spin_ns;
    w->slots = (tslot *)(base + wsz);
    w->inbox = (tinbox *)(base + wsz + ssz);
    atomic_init(&w->gen, 0);
    atomic_init(&w->count, 0);
    atomic_init(&w->sleepers, 0);
    atomic_init(&w->refs, n);
    for (int i = 0; i < n; i++) {
        atomic_init(&w->slots[i].busy, 0);
        atomic_init(&w->inbox[i].posted, 0);
    }
    int ok = pthread_mutex_init(&w->mu, NULL) == 0;
    ok = (pthread_cond_init(&w->cv, NULL) == 0) & ok;
    for (int i = 0; i < n; i++) {
        ok = (pthread_mutex_init(&w->inbox[i].mu, NULL) == 0) & ok;
        ok = (pthread_cond_init(&w->inbox[i].cv, NULL) == 0) & ok;
    }
    /* pthread_*_init cannot fail with default attributes on Linux; if one
     * did, the world is unusable and freeing it is the only option. */
    w->fam = f;
    pthread_mutex_lock(&f->mu);
    w->fam_next = f->worlds;
    if (f->worlds) f->worlds->fam_prev = w;
    f->worlds = w;
    pthread_mutex_unlock(&f->mu);
    if (!ok) {
        world_destroy(w);
        return NULL;
    }
    return w;
}

rg_status rg_comm_threads_create(int n, rg_comm **ranks)
{
    if (n < 1) return rg_error(RG_EUSAGE, "threads communicator: %d ranks asked for, need at least 1", n);
    tfamily *f = rg_calloc(1, sizeof *f);
    if (!f) return rg_error(RG_ENOMEM, "out of memory creating a threads communicator of %d ranks", n);
    atomic_init(&f->status, RG_OK);
    atomic_init(&f->handles, n);
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        rg_free(f);
        return rg_error(RG_ENOMEM, "threads communicator: cannot create a mutex");
    }
    tworld *w = world_new(n, rg_spin_from_env(), f);
    if (!w) {
        pthread_mutex_destroy(&f->mu);
        rg_free(f);
        return rg_error(RG_ENOMEM, "out of memory creating a threads communicator of %d ranks", n);
    }
    for (int i = 0; i < n; i++) {
        thandle *h = rg_calloc(1, sizeof *h);
        if (!h) {
            for (int j = 0; j < i; j++) { rg_free(ranks[j]); ranks[j] = NULL; }   /* the caller may free them */
            world_destroy(w);
            pthread_mutex_destroy(&f->mu);
            rg_free(f);
            return rg_error(RG_ENOMEM, "out of memory creating a threads communicator of %d ranks", n);
        }
        h->base.ops = &threads_ops;
        h->base.rank = i;
        h->base.size = n;
        h->base.impl = w;
        h->w = w;
        ranks[i] = &h->base;
    }
    return RG_OK;
}

static void t_free(rg_comm *c)
{
    thandle *h = (thandle *)c;
    for (treq *q = h->reqs, *next; q; q = next) {
        next = q->next;
        rg_free(q);
    }
    tworld *w = h->w;
    tfamily *f = w->fam;
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) world_destroy(w);
    rg_free(h);
    family_release(f);
}

/* ------------------------------------------------------------ abort */

static int aborted(const tworld *w, memory_order mo)
{
    return atomic_load_explicit(&w->fam->status, mo) != RG_OK;
}

static rg_status abort_error(const tworld *w)
{
    rg_status s = (rg_status)atomic_load_explicit(&w->fam->status, memory_order_acquire);
    return rg_error(s, "%s", w->fam->msg);
}

static rg_status t_abort(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    (void)note;   /* one process: its trainer reports the stop itself */
    (void)bytes;
    tfamily *f = ((thandle *)c)->w->fam;
    char copy[MSG_MAX];
    snprintf(copy, sizeof copy, "%s", msg && *msg ? msg : "a peer aborted");
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->status, memory_order_relaxed) == RG_OK) {
        memcpy(f->msg, copy, sizeof copy);
        atomic_store_explicit(&f->status, (int)status, memory_order_seq_cst);
    }
    /* Wake every sleeper; each rechecks the status under its mutex. */
    for (tworld *w = f->worlds; w; w = w->fam_next) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < w->n; i++) {
            pthread_mutex_lock(&w->inbox[i].mu);
            pthread_cond_broadcast(&w->inbox[i].cv);
            pthread_mutex_unlock(&w->inbox[i].mu);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rg_error(status, "%s", copy);
}

/* ------------------------------------------------------------ barrier */

/* Blocks the caller until every rank of w arrived.  Returns nonzero if the
 * family was aborted, checked (seq_cst) after the barrier completes, so a
 * rank that gets 0 may read peers' buffers: see bail(). */
static int barrier(tworld *w)
{
    /* Cannot advance before our own arrival, so this is our generation. */
    unsigned g = atomic_load_explicit(&w->gen, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&w->count, 1, memory_order_acq_rel) == w->n - 1) {
        atomic_store_explicit(&w->count, 0, memory_order_relaxed);
        atomic_store_explicit(&w->gen, g + 1, memory_order_seq_cst);
        /* seq_cst pairs with the sleeper's increment then recheck: either
         * it sees the new generation or we see it and wake it. */
        if (atomic_load_explicit(&w->sleepers, memory_order_seq_cst) > 0) {
            pthread_mutex_lock(&w->mu);
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
    } else {
        int64_t start = 0, t;
        unsigned i = 0;
        int doze = w->spin_ns == 0;
        while (!doze && atomic_load_explicit(&w->gen, memory_order_acquire) == g) {
            if ((++i & 63) == 0) {
                if (aborted(w, memory_order_relaxed)) break;
                t = rg_now_ns();
                if (!start) start = t;
                else if (t - start >= w->spin_ns) doze = 1;
            }
            rg_cpu_relax();
        }
        if (doze) {
            pthread_mutex_lock(&w->mu);
            atomic_fetch_add_explicit(&w->sleepers, 1, memory_order_seq_cst);
            while (atomic_load_explicit(&w->gen, memory_order_seq_cst) == g && !aborted(w, memory_order_seq_cst))
                pthread_cond_wait(&w->cv, &w->mu);
            atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_relaxed);
            pthread_mutex_unlock(&w->mu);
        }
    }
    return aborted(w, memory_order_seq_cst);
}

/* Entering a collective: fails at once on an aborted family; otherwise marks
 * the rank busy (seq_cst, before its first barrier) until leave() or bail(). */
static rg_status enter(tworld *w, int rank)
{
    if (aborted(w, memory_order_acquire)) return abort_error(w);
    atomic_store_explicit(&w->slots[rank].busy, 1, memory_order_seq_cst);
    return RG_OK;
}

static void leave(tworld *w, int rank)
{
    atomic_store_explicit(&w->slots[rank].busy, 0, memory_order_release);
}

/* Leaving a collective of an aborted family early.  A peer still busy may be
 * reading or writing our buffer, so wait for every peer to leave first.  Why
 * this suffices: a peer touches buffers only after a barrier() that returned 0,
 * i.e. whose seq_cst status load missed the abort; that load follows its
 * busy=1 store, and ours (below) follows our sight of the abort, so if we
 * see busy==0 the peer's load must see the abort.  Busy peers are either
 * computing (briefly) or in a wait that sees the abort: no deadlock. */
static rg_status bail(tworld *w, int rank)
{
    atomic_store_explicit(&w->slots[rank].busy, 0, memory_order_seq_cst);
    (void)aborted(w, memory_order_seq_cst);
    for (int k = 0; k < w->n; k++) {
        unsigned spins = 0;
        while (atomic_load_explicit(&w->slots[k].busy, memory_order_seq_cst))
            if ((++spins & 1023) == 0) sched_yield();
            else rg_cpu_relax();
    }
    return abort_error(w);
}

/* After the first barrier: do all ranks agree on the sizes (and op, root)?
 * Every rank reads the same slots, so every rank gets the same answer. */
static rg_status agree(const tworld *w, const char *what, const char *unit, int check_op, int check_root)
{
    static const char *ops[] = { "sum", "avg" };
    const tslot *s = w->slots;
    for (int k = 1; k < w->n; k++) {
        if (s[k].n != s[0].n)
            return rg_error(RG_ECOMM, "%s: rank 0 passed %zu %s, rank %d passed %zu (every rank must pass the same count)",
                            what, s[0].n, unit, k, s[k].n);
        if (check_op && s[k].op != s[0].op)
            return rg_error(RG_ECOMM, "%s: rank 0 asked for %s, rank %d for %s (every rank must ask for the same)",
                            what, ops[s[0].op == RG_REDUCE_AVG], k, ops[s[k].op == RG_REDUCE_AVG]);
        if (check_root && s[k].root != s[0].root)
            return rg_error(RG_ECOMM, "%s: rank 0 names root %d, rank %d names root %d (every rank must name the same root)",
                            what, s[0].root, k, s[k].root);
    }
    if (check_root && (s[0].root < 0 || s[0].root >= w->n))
        return rg_error(RG_EUSAGE, "%s from rank %d in a world of %d", what, s[0].root, w->n);
    return RG_OK;
}

/* A collective that found an error every rank agrees on: the closing
 * barrier keeps the slots stable until every rank has read them. */
static rg_status fail_together(tworld *w, int rank, rg_status st)
{
    char msg[MSG_MAX];
    snprintf(msg, sizeof msg, "%s", rg_last_error());
    if (barrier(w)) return bail(w, rank);
    leave(w, rank);
    return rg_error(st, "%s", msg);
}

/* ------------------------------------------------------------ reduction kernels */

/* restrict: the compiler vectorises without alias checks.  Sums are done
 * per element in rank order; (d + o) for rank 1 is x1 + x0, which IEEE
 * addition makes bitwise equal to x0 + x1. */
#define RG_THREADS_KERNELS(T, SUF)                                                      \
    static void add2_##SUF(T *restrict t, const T *restrict a, const T *restrict b, size_t m) \
    {                                                                                   \
        for (size_t i = 0; i < m; i++) t[i] = a[i] + b[i];                              \
    }                                                                                   \
    static void add1_##SUF(T *restrict t, const T *restrict a, size_t m)               \
    {                                                                                   \
        for (size_t i = 0; i < m; i++) t[i] += a[i];                                    \
    }                                                                                   \
    /* t / n, correctly rounded: for a power of two, t * (1/n) is the same. */          \
    static void scale_##SUF(T *restrict t, size_t m, int n)                             \
    {                                                                                   \
        if ((n & (n - 1)) == 0) {                                                       \
            const T inv = (T)1 / (T)n;                                                  \
            for (size_t i = 0; i < m; i++) t[i] *= inv;                                 \
        } else {                                                                        \
            for (size_t i = 0; i < m; i++) t[i] /= (T)n;                                \
        }                                                                               \
    }                                                                                   \
    /* Two ranks: both buffers get the sum, in one pass. */                           \
    static void push2_##SUF(T *restrict d, T *restrict o, size_t m, int avg)            \
    {                                                                                   \
        if (avg)                                                                        \
            for (size_t i = 0; i < m; i++) d[i] = o[i] = (d[i] + o[i]) * (T)0.5;        \
        else                                                                            \
            for (size_t i = 0; i < m; i++) d[i] = o[i] = d[i] + o[i];                   \
    }                                                                                   \
    /* dst[lo, hi) = rank-order reduction of elements off + [lo, hi) of every          \
     * rank's slot buffer (dst may be one of them); dst NULL: into all of them. */      \
    static void reduce_##SUF(T *dst, const tslot *s, int n, size_t off, size_t lo, size_t hi, int avg) \
    {                                                                                   \
        T t[BLOCK];                                                                     \
        for (size_t b = lo; b < hi; b += BLOCK) {                                       \
            size_t m = hi - b < BLOCK ? hi - b : BLOCK;                                 \
            const T *x0 = (const T *)s[0].ptr + off + b;                                \
            if (n == 1) memcpy(t, x0, m * sizeof(T));                                   \
            else add2_##SUF(t, x0, (const T *)s[1].ptr + off + b, m);                   \
            for (int k = 2; k < n; k++) add1_##SUF(t, (const T *)s[k].ptr + off + b, m); \
            if (avg) scale_##SUF(t, m, n);                                              \
            if (dst) memcpy(dst + b, t, m * sizeof(T));                                 \
            else for (int k = 0; k < n; k++) memcpy((T *)s[k].ptr + off + b, t, m * sizeof(T)); \
        }                                                                               \
    }

RG_THREADS_KERNELS(float, f32)
RG_THREADS_KERNELS(double, f64)

static void reduce_any(size_t esz, void *dst, const tslot *s, int n, size_t off, size_t lo, size_t hi, int avg)
{
    if (esz == sizeof(float)) reduce_f32(dst, s, n, off, lo, hi, avg);
    else reduce_f64(dst, s, n, off, lo, hi, avg);
}

/* ------------------------------------------------------------ collectives */

static rg_status allreduce_now(thandle *h, void *buf, size_t n, rg_reduce_op op, size_t esz, const char *what);

/* Runs the handle's pending non-blocking operations, in start order, so that
 * collectives complete in the order they were started. */
static void req_run(thandle *h, treq *q)
{
    if (q->done) return;
    q->st = allreduce_now(h, q->buf, q->n, q->op, sizeof(float), "iallreduce");
    if (q->st != RG_OK) snprintf(q->msg, sizeof q->msg, "%s", rg_last_error());
    q->done = 1;
}

static void flush(thandle *h)
{
    for (treq *q = h->reqs; q; q = q->next) req_run(h, q);
}

/* Slice r of [0, n) for N ranks, cut at cache lines of the element type. */
static void slice(size_t n, int N, int r, size_t esz, size_t *lo, size_t *hi)
{
    size_t per_line = CACHE_LINE / esz;
    size_t chunk = (n + (size_t)N - 1) / (size_t)N;
    chunk = (chunk + per_line - 1) / per_line * per_line;
    size_t a = (size_t)r * chunk;
    *lo = a < n ? a : n;
    *hi = n - *lo < chunk ? n : *lo + chunk;
}

static rg_status allreduce_now(thandle *h, void *buf, size_t n, rg_reduce_op op, size_t esz, const char *what)
{
    tworld *w = h->w;
    int r = h->base.rank, N = w->n, avg = op == RG_REDUCE_AVG;
    rg_status st;
    if ((st = enter(w, r)) != RG_OK) return st;
    tslot *me = &w->slots[r];
    me->ptr = buf;
    me->n = n;
    me->op = (int)op;
    if (barrier(w)) return bail(w, r);
    if ((st = agree(w, what, "elements", 1, 0)) != RG_OK) return fail_together(w, r, st);
    /* Rank r reduces slice r and writes the result into every rank's
     * buffer: only r touches slice r of any buffer, so one barrier closes
     * it.  Pushing beats having each rank pull the other slices afterwards
     * (3.2 against 18.7 µs for 50,890 floats on 2 cores): a pull writes
     * lines the peer has just read, paying a cross-core invalidation for
     * every line on top of the transfer. */
    size_t lo, hi;
    slice(n, N, r, esz, &lo, &hi);
    if (N == 1)
        ;   /* the sum and the average of one buffer are the buffer */
    else if (N == 2 && esz == sizeof(float))
        push2_f32((float *)buf + lo, (float *)w->slots[1 - r].ptr + lo, hi - lo, avg);
    else if (N == 2)
        push2_f64((double *)buf + lo, (double *)w->slots[1 - r].ptr + lo, hi - lo, avg);
    else
        reduce_any(esz, NULL, w->slots, N, 0, lo, hi, avg);
    if (barrier(w)) return bail(w, r);
    leave(w, r);
    return RG_OK;
}

static rg_status t_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op)
{
    thandle *h = (thandle *)c;
    flush(h);
    return allreduce_now(h, buf, n, op, sizeof(float), "allreduce");
}

static rg_status t_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op)
{
    thandle *h = (thandle *)c;
    flush(h);
    return allreduce_now(h, buf, n, op, sizeof(double), "allreduce_f64");
}

/* How broadcast, allgather and reduce-scatter open: finish pending
 * non-blocking work, enter, publish this rank's buffer and arguments, wait
 * for every rank, and check that all passed the same ones.  On failure the
 * world has already been left (bail / fail_together). */
static rg_status open_collective(thandle *h, const void *ptr, size_t n, int op, int root, const char *what,
                                 const char *unit, int check_op, int check_root)
{
    tworld *w = h->w;
    int r = h->base.rank;
    rg_status st;
    flush(h);
    if ((st = enter(w, r)) != RG_OK) return st;
    w->slots[r].ptr = ptr;
    w->slots[r].n = n;
    w->slots[r].op = op;
    w->slots[r].root = root;
    if (barrier(w)) return bail(w, r);
    if ((st = agree(w, what, unit, check_op, check_root)) != RG_OK) return fail_together(w, r, st);
    return RG_OK;
}

static rg_status t_broadcast(rg_comm *c, void *buf, size_t bytes, int root)
{
    thandle *h = (thandle *)c;
    tworld *w = h->w;
    int r = c->rank;
    rg_status st;
    if ((st = open_collective(h, buf, bytes, 0, root, "broadcast", "bytes", 0, 1)) != RG_OK) return st;
    if (r != root && bytes) memcpy(buf, w->slots[root].ptr, bytes);
    if (barrier(w)) return bail(w, r);
    leave(w, r);
    return RG_OK;
}

static rg_status t_allgather(rg_comm *c, const float *in, size_t n, float *out)
{
    thandle *h = (thandle *)c;
    tworld *w = h->w;
    int r = c->rank, N = w->n;
    size_t total;
    rg_status st;
    if ((st = open_collective(h, in, n, 0, 0, "allgather", "elements", 0, 0)) != RG_OK) return st;
    if (!rg_mul_ok(n, (size_t)N, &total) || !rg_mul_ok(total, sizeof(float), &total))
        return fail_together(w, r, rg_error(RG_ENOMEM, "allgather: %d ranks x %zu elements overflows", N, n));
    /* in may be our own block of out, which peers are reading: then there
     * is nothing to copy, and writing it (even the same values) would race.
     * No other block of out may overlap in. */
    for (int k = 0; k < N; k++) {
        float *dst = out + (size_t)k * n;
        if (n && dst != w->slots[k].ptr) memmove(dst, w->slots[k].ptr, n * sizeof(float));
    }
    if (barrier(w)) return bail(w, r);
    leave(w, r);
    return RG_OK;
}

static rg_status t_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    thandle *h = (thandle *)c;
    tworld *w = h->w;
    int r = c->rank, N = w->n;
    size_t total;
    rg_status st;
    if ((st = open_collective(h, in, n_each, (int)op, 0, "reduce_scatter", "elements per rank", 1, 0)) != RG_OK)
        return st;
    if (!rg_mul_ok(n_each, (size_t)N, &total) || !rg_mul_ok(total, sizeof(float), &total))
        return fail_together(w, r, rg_error(RG_ENOMEM, "reduce_scatter: %d ranks x %zu elements overflows", N, n_each));
    reduce_f32(out, w->slots, N, (size_t)r * n_each, 0, n_each, op == RG_REDUCE_AVG);
    if (barrier(w)) return bail(w, r);
    leave(w, r);
    return RG_OK;
}

static rg_status t_barrier(rg_comm *c)
{
    thandle *h = (thandle *)c;
    rg_status st;
    flush(h);
    if ((st = enter(h->w, c->rank)) != RG_OK) return st;
    if (barrier(h->w)) return bail(h->w, c->rank);
    leave(h->w, c->rank);
    return RG_OK;
}

/* Every rank publishes (color, key); each group's leader (its new rank 0)
 * makes the group's world; after the second barrier every member takes it.
 * Each rank allocates what it may need before the first barrier, so that a
 * failure anywhere is known to all and all fail together. */
static rg_status t_split(rg_comm *c, int color, int key, rg_comm **out)
{
    thandle *h = (thandle *)c;
    tworld *w = h->w;
    int r = c->rank, N = w->n;
    rg_status st;
    *out = NULL;
    flush(h);
    if ((st = enter(w, r)) != RG_OK) return st;
    tslot *me = &w->slots[r];
    thandle *nh = rg_calloc(1, sizeof *nh);
    int *members = rg_malloc((size_t)N * sizeof(int));   /* N*sizeof(int) < sizeof(tslot[N]), which fit */
    me->color = color;
    me->key = key;
    me->ok = nh && members;
    if (barrier(w)) {
        rg_free(nh);
        rg_free(members);
        return bail(w, r);
    }
    int all_ok = 1, m = 0, myrank = 0;
    for (int k = 0; k < N; k++) all_ok &= w->slots[k].ok;
    if (all_ok) {
        /* Members by (key, rank): insertion in rank order, after equal keys. */
        for (int k = 0; k < N; k++) {
            if (w->slots[k].color != color) continue;
            int j = m++;
            while (j > 0 && w->slots[members[j - 1]].key > w->slots[k].key) {
                members[j] = members[j - 1];
                j--;
            }
            members[j] = k;
        }
        for (int j = 0; j < m; j++)
            if (members[j] == r) myrank = j;
    }
    me->sub = NULL;
    me->sub_ok = 1;
    if (all_ok && myrank == 0) {
        me->sub = world_new(m, w->spin_ns, w->fam);
        me->sub_ok = me->sub != NULL;
    }
    if (barrier(w)) {
        /* Members that passed the barrier may have taken the world: it
         * stays, and goes with the family if its references never drop. */
        rg_free(nh);
        rg_free(members);
        return bail(w, r);
    }
    int good = all_ok;
    for (int k = 0; k < N; k++) good &= w->slots[k].sub_ok;
    if (good) {
        tworld *sub = w->slots[members[0]].sub;
        nh->base.ops = &threads_ops;
        nh->base.rank = myrank;
        nh->base.size = m;
        nh->base.impl = sub;
        nh->w = sub;
        atomic_fetch_add_explicit(&w->fam->handles, 1, memory_order_relaxed);
        *out = &nh->base;
    } else {
        if (me->sub) world_destroy(me->sub);   /* every rank saw !good: no member took it */
        rg_free(nh);
    }
    rg_free(members);
    leave(w, r);
    return good ? RG_OK : rg_error(RG_ENOMEM, "split: out of memory making a sub-communicator (on some rank)");
}

/* ------------------------------------------------------------ non-blocking */

static rg_status t_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    thandle *h = (thandle *)c;
    if (aborted(h->w, memory_order_acquire)) return abort_error(h->w);
    treq *q = rg_calloc(1, sizeof *q);
    if (!q) return rg_error(RG_ENOMEM, "out of memory starting an iallreduce");
    q->buf = buf;
    q->n = n;
    q->op = op;
    treq **tail = &h->reqs;
    while (*tail) tail = &(*tail)->next;
    *tail = q;
    *req = (rg_comm_req *)q;
    return RG_OK;
}

static rg_status t_wait(rg_comm *c, rg_comm_req *req)
{
    thandle *h = (thandle *)c;
    treq *want = (treq *)req, **at = &h->reqs;
    while (*at && *at != want) at = &(*at)->next;
    if (!*at) return rg_error(RG_EUSAGE, "wait: the request was not started on this communicator, or was already waited for");
    /* Complete it and everything started before it, in start order. */
    for (treq *q = h->reqs; q != want; q = q->next) req_run(h, q);
    req_run(h, want);
    rg_status st = want->st;
    if (st != RG_OK) rg_error(st, "%s", want->msg);
    *at = want->next;
    rg_free(want);
    return st;
}

/* ------------------------------------------------------------ point to point */

/* A message is one allocation: the pieces copied in end to end. */
static rg_status t_sendv(rg_comm *c, const rg_piece *v, int n, int dst, int tag)
{
    tworld *w = ((thandle *)c)->w;
    size_t bytes = 0, total;
    if (dst < 0 || dst >= w->n) return rg_error(RG_EUSAGE, "send to rank %d in a world of %d", dst, w->n);
    if (aborted(w, memory_order_acquire)) return abort_error(w);
    for (int i = 0; i < n; i++)
        if (!rg_add_ok(bytes, v[i].bytes, &bytes)) return rg_error(RG_ENOMEM, "send of %d pieces: size overflows", n);
    if (!rg_add_ok(sizeof(tmsg), bytes, &total)) return rg_error(RG_ENOMEM, "send of %zu bytes: size overflows", bytes);
    tmsg *m = rg_malloc(total);
    if (!m) return rg_error(RG_ENOMEM, "out of memory sending %zu bytes to rank %d", bytes, dst);
    m->next = NULL;
    m->src = c->rank;
    m->tag = tag;
    m->bytes = bytes;
    for (size_t at = 0, i = 0; i < (size_t)n; at += v[i].bytes, i++)
        if (v[i].bytes) memcpy(m->data + at, v[i].base, v[i].bytes);
    tinbox *ib = &w->inbox[dst];
    pthread_mutex_lock(&ib->mu);
    if (ib->tail) ib->tail->next = m;
    else ib->head = m;
    ib->tail = m;
    atomic_fetch_add_explicit(&ib->posted, 1, memory_order_release);
    if (ib->sleeping) pthread_cond_broadcast(&ib->cv);
    pthread_mutex_unlock(&ib->mu);
    return RG_OK;
}

static rg_status t_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    rg_piece v = { (void *)(uintptr_t)buf, bytes };
    return t_sendv(c, &v, 1, dst, tag);
}

/* Unlinks the first message from src with tag; call with ib->mu held. */
static tmsg *inbox_take(tinbox *ib, int src, int tag)
{
    tmsg *prev = NULL;
    for (tmsg *m = ib->head; m; prev = m, m = m->next) {
        if (m->src != src || m->tag != tag) continue;
        if (prev) prev->next = m->next;
        else ib->head = m->next;
        if (ib->tail == m) ib->tail = prev;
        return m;
    }
    return NULL;
}

/* Waits for the first message from src with tag and unlinks it: in *out. */
static rg_status t_take(rg_comm *c, int src, int tag, tmsg **out)
{
    tworld *w = ((thandle *)c)->w;
    tinbox *ib = &w->inbox[c->rank];
    int64_t deadline = 0;
    tmsg *m;
    pthread_mutex_lock(&ib->mu);
    while (!(m = inbox_take(ib, src, tag))) {
        if (aborted(w, memory_order_acquire)) {
            pthread_mutex_unlock(&ib->mu);
            return abort_error(w);
        }
        int64_t t = w->spin_ns ? rg_now_ns() : 0;
        if (w->spin_ns && !deadline) deadline = t + w->spin_ns;
        if (w->spin_ns && t < deadline) {
            /* Spin outside the lock until something arrives. */
            unsigned seen = atomic_load_explicit(&ib->posted, memory_order_relaxed), i = 0;
            pthread_mutex_unlock(&ib->mu);
            while (atomic_load_explicit(&ib->posted, memory_order_acquire) == seen) {
                if ((++i & 63) == 0 && (aborted(w, memory_order_relaxed) || rg_now_ns() >= deadline)) break;
                rg_cpu_relax();
            }
            pthread_mutex_lock(&ib->mu);
        } else {
            ib->sleeping++;
            pthread_cond_wait(&ib->cv, &ib->mu);
            ib->sleeping--;
        }
    }
    pthread_mutex_unlock(&ib->mu);
    *out = m;
    return RG_OK;
}

/* The message's bytes copied out piece by piece, straight where they go. */
static rg_status t_recvv(rg_comm *c, const rg_piece *v, int n, int src, int tag)
{
    tworld *w = ((thandle *)c)->w;
    if (src < 0 || src >= w->n) return rg_error(RG_EUSAGE, "recv from rank %d in a world of %d", src, w->n);
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        if (!rg_add_ok(bytes, v[i].bytes, &bytes)) return rg_error(RG_EUSAGE, "recv of %d pieces: size overflows", n);
    tmsg *m;
    rg_status st = t_take(c, src, tag, &m);
    if (st != RG_OK) return st;
    if (m->bytes != bytes)
        st = rg_error(RG_ECOMM, "recv from rank %d, tag %d: expected %zu bytes, the message has %zu (discarded)",
                      src, tag, bytes, m->bytes);
    for (size_t at = 0, i = 0; st == RG_OK && i < (size_t)n; at += v[i].bytes, i++)
        if (v[i].bytes) memcpy(v[i].base, m->data + at, v[i].bytes);
    rg_free(m);
    return st;
}

static rg_status t_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    rg_piece v = { buf, bytes };
    return t_recvv(c, &v, 1, src, tag);
}

static rg_status t_probe(rg_comm *c, int src, int tag, int *ready)
{
    tworld *w = ((thandle *)c)->w;
    if (src < 0 || src >= w->n) return rg_error(RG_EUSAGE, "probe of rank %d in a world of %d", src, w->n);
    if (aborted(w, memory_order_acquire)) return abort_error(w);
    tinbox *ib = &w->inbox[c->rank];
    pthread_mutex_lock(&ib->mu);
    *ready = 0;
    for (tmsg *m = ib->head; m && !*ready; m = m->next) *ready = m->src == src && m->tag == tag;
    pthread_mutex_unlock(&ib->mu);
    return RG_OK;
}

/* Sleeps on the inbox's condition variable (t_sendv wakes it) unless a
 * message came since the last call returned: posted is read under the
 * inbox's mutex, under which senders bump it, so no wake-up is lost. */
static rg_status t_idle(rg_comm *c, double wait)
{
    thandle *h = (thandle *)c;
    tworld *w = h->w;
    tinbox *ib = &w->inbox[c->rank];
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);   /* the condition variable's clock */
    double end = (double)until.tv_nsec * 1e-9 + (wait > 0.0 ? wait : 0.0);
    until.tv_sec += (time_t)end;
    until.tv_nsec = (long)((end - (double)(time_t)end) * 1e9);
    int rc = 0;
    pthread_mutex_lock(&ib->mu);
    while (rc == 0 && atomic_load_explicit(&ib->posted, memory_order_relaxed) == h->seen && !aborted(w, memory_order_acquire)) {
        ib->sleeping++;
        rc = pthread_cond_timedwait(&ib->cv, &ib->mu, &until);
        ib->sleeping--;
    }
    h->seen = atomic_load_explicit(&ib->posted, memory_order_relaxed);
    pthread_mutex_unlock(&ib->mu);
    return aborted(w, memory_order_acquire) ? abort_error(w) : RG_OK;
}

static const rg_comm_ops threads_ops = {
    .allreduce = t_allreduce,
    .allreduce_f64 = t_allreduce_f64,
    .broadcast = t_broadcast,
    .allgather = t_allgather,
    .reduce_scatter = t_reduce_scatter,
    .barrier = t_barrier,
    .split = t_split,
    .free = t_free,
    .iallreduce = t_iallreduce,
    .wait = t_wait,
    .send = t_send,
    .recv = t_recv,
    .abort = t_abort,
    .probe = t_probe,
    .sendv = t_sendv,
    .recvv = t_recvv,
    .idle = t_idle,
};
