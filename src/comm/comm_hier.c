/*
 * comm_hier.c — the hierarchical world, P processes x T threads
 * (rg_comm_hier_create), over any process communicator: rg_comm_mpi_world
 * across processes, or rg_comm_self for a pure shared-memory world of T
 * threads.  It needs no MPI and does not include <mpi.h>: it reaches the
 * process communicator through its ops table only.
 *
 * The T handles of a process share one hier_shared.  A collective is
 * a few rounds of a spin-then-sleep barrier; between rounds every thread
 * works on disjoint memory.  An allreduce: publish buffers | each thread
 * sums its slice of all T buffers, in thread order, into thread 0's |
 * thread 0 runs the process-level allreduce | the others copy it back |.
 * Invariant: only thread 0 (the leader) calls the process communicator
 * (abort excepted: it must end the job even while the leader is blocked),
 * and the leader writes the shared status only after a collective's first
 * barrier, so readers of the previous status (who read it before entering
 * the next collective) never race with it.  It does not sit on
 * comm_threads: a threads allreduce, the MPI step and a threads broadcast
 * of data and status would take about twice the barriers and one more
 * full copy per thread than this fused form.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/comm_impl.h"
#include "comm/spin.h"
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* dst[k] = ((src[0][k] + src[1][k]) + ...) for k in [lo, hi), summed in
 * index order whatever the vector width, so results are reproducible. */
static void sum_rank_order(void *dst, void *const *src, int m, size_t lo, size_t hi, int dbl)
{
    if (hi <= lo) return;
    if (dbl) {
        double *d = dst;
        const double *s0 = src[0];
        if (d != s0) memcpy(d + lo, s0 + lo, (hi - lo) * sizeof *d);
        for (int i = 1; i < m; i++) {
            const double *s = src[i];
            for (size_t k = lo; k < hi; k++) d[k] += s[k];
        }
    } else {
        float *d = dst;
        const float *s0 = src[0];
        if (d != s0) memcpy(d + lo, s0 + lo, (hi - lo) * sizeof *d);
        for (int i = 1; i < m; i++) {
            const float *s = src[i];
            for (size_t k = lo; k < hi; k++) d[k] += s[k];
        }
    }
}

#define MSG_MAX 512

/* A world and every world split from it share one abort record. */
typedef struct hier_family {
    atomic_int refs;            /* hier_shared objects alive */
    atomic_int state;           /* 0 none, 1 being written, 2 aborted */
    rg_status st;               /* written once, before state = 2 */
    char msg[MSG_MAX];
} hier_family;

typedef struct hier_slot {
    void *out;            /* this thread's result buffer */
    const void *in;       /* this thread's input buffer */
    size_t n;             /* elements or bytes, to catch disagreement */
    int op;               /* reduce op or broadcast root, likewise */
    int color, key;       /* split */
    rg_comm *made;        /* split: the handle made for this thread */
} hier_slot;

/* The barrier: a central arrival counter and a generation.  Waiters spin on
 * the generation for spin_ns (REGULA_SPIN microseconds, as in the threads
 * backend) because waking a sleeping thread costs ~55 us here, as long as a
 * small training step; then they sleep, so an oversubscribed core does not
 * burn.  Sleepers wake every few ms to look for an abort in the family. */
typedef struct hier_shared {
    atomic_uint gen, arrived;
    atomic_int sleepers;
    atomic_int working;   /* threads between two barriers of a collective */
    atomic_int refs;      /* handles alive */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t spin_ns;
    hier_family *fam;
    rg_comm *proc;        /* the process communicator: leader only */
    int owns_proc;
    int T, P, p;
    hier_slot *slot;      /* T entries; slot[t] written only by thread t, except .made */
    rg_status st;         /* leader's verdict, see the invariant on top */
    char msg[MSG_MAX];
    int scratch_ok;       /* reduce_scatter: leader's allocation succeeded */
    void *scratch;        /* leader-owned */
    size_t scratch_bytes;
} hier_shared;

typedef struct hier_handle {
    rg_comm c;
    hier_shared *sh;
    int t;
} hier_handle;

static const rg_comm_ops hier_ops;

static int aborted(const hier_shared *s) { return atomic_load(&s->fam->state) != 0; }

/* This thread's message and status from the family's abort record.  A
 * leader across processes first ends (or, with a note, stops) the job if
 * a worker asked it to (hier_abort): it is the one thread that may call MPI. */
static rg_status hier_abort_status(const hier_handle *h)
{
    hier_family *f = h->sh->fam;
    while (atomic_load(&f->state) != 2) sched_yield();      /* the writer is mid-copy */
    if (h->t == 0 && h->sh->P > 1) rg_comm_mpi_abort_asked();
    return rg_error(f->st, "%s", f->msg);
}

/* Leaves the work phase, waits for every thread, enters the next one.
 * 1 when the family was aborted: then it returns only once no thread of
 * this world is still working, since a worker may be reading the caller's
 * buffer.  A worker checks for an abort right after it starts working, so
 * either the bailing thread sees it working or it sees the abort. */
static int hbar_wait(hier_shared *s)
{
    atomic_fetch_sub(&s->working, 1);
    unsigned g = atomic_load(&s->gen);     /* before arriving: the last arriver bumps it */
    if (atomic_fetch_add(&s->arrived, 1) + 1 == (unsigned)s->T) {
        atomic_store(&s->arrived, 0);
        atomic_fetch_add(&s->gen, 1);
        /* A waiter registers as a sleeper before it checks gen under the
         * lock, so either we see it here or it sees the new gen. */
        if (atomic_load(&s->sleepers) > 0) {
            pthread_mutex_lock(&s->mu);
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
    } else {
        int64_t deadline = 0;
        for (unsigned i = 1;; i++) {
            if (atomic_load_explicit(&s->gen, memory_order_acquire) != g || aborted(s)) break;
            rg_cpu_relax();
            if ((i & 63) == 0) {
                int64_t t = rg_now_ns();
                if (!deadline) deadline = t + s->spin_ns;
                if (t >= deadline) break;
            }
        }
        if (atomic_load(&s->gen) == g && !aborted(s)) {
            atomic_fetch_add(&s->sleepers, 1);
            pthread_mutex_lock(&s->mu);
            while (atomic_load(&s->gen) == g && !aborted(s)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 5000000;
                if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            }
            pthread_mutex_unlock(&s->mu);
            atomic_fetch_sub(&s->sleepers, 1);
        }
    }
    atomic_fetch_add(&s->working, 1);
    if (!aborted(s)) return 0;
    atomic_fetch_sub(&s->working, 1);
    while (atomic_load(&s->working) > 0) sched_yield();
    atomic_fetch_add(&s->working, 1);      /* op_leave takes it back */
    return 1;
}

/* Every collective starts with op_enter and ends with op_leave. */
static int op_enter(hier_shared *s)
{
    atomic_fetch_add(&s->working, 1);
    if (!aborted(s)) return 0;
    atomic_fetch_sub(&s->working, 1);
    return 1;
}
static rg_status op_leave(hier_shared *s, rg_status st)
{
    atomic_fetch_sub(&s->working, 1);
    return st;
}
/* Bails out of a collective after hbar_wait found an abort. */
static rg_status op_abort(const hier_handle *h) { return op_leave(h->sh, hier_abort_status(h)); }

/* Leader: records a process-level failure for every thread to return. */
static void hier_verdict(hier_shared *s, rg_status st)
{
    s->st = st;
    if (st != RG_OK) snprintf(s->msg, sizeof s->msg, "%s", rg_last_error());
}

/* Every thread: the leader's verdict, with its message on this thread too. */
static rg_status hier_status(const hier_handle *h)
{
    rg_status st = h->sh->st;
    if (st != RG_OK && h->t != 0) rg_error(st, "%s", h->sh->msg);
    return st;
}

/* After the first barrier: RG_ECOMM on every thread when the threads of
 * this process passed different sizes, ops or roots (MPI cannot check
 * across processes; a mismatch there is undefined). */
static rg_status hier_agree(const hier_handle *h, const char *what)
{
    const hier_slot *sl = h->sh->slot;
    for (int i = 1; i < h->sh->T; i++)
        if (sl[i].n != sl[0].n || sl[i].op != sl[0].op)
            return rg_error(RG_ECOMM, "%s: rank %d passed (%zu, %d) but rank %d passed (%zu, %d)", what,
                            h->c.rank - h->t, sl[0].n, sl[0].op, h->c.rank - h->t + i, sl[i].n, sl[i].op);
    return RG_OK;
}

/* A disagreement found after the first barrier: one more barrier, so no
 * thread rewrites its slot while another still reads it. */
static rg_status hier_disagree(const hier_handle *h, rg_status st)
{
    if (hbar_wait(h->sh)) return op_abort(h);
    return op_leave(h->sh, st);
}

static rg_status hier_allreduce_any(rg_comm *c, void *buf, size_t n, rg_reduce_op op, int dbl)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    int T = s->T, t = h->t;
    size_t es = dbl ? sizeof(double) : sizeof(float);
    if (op_enter(s)) return hier_abort_status(h);
    s->slot[t].out = buf;
    s->slot[t].n = n;
    s->slot[t].op = (int)op;
    if (hbar_wait(s)) return op_abort(h);    /* 1: every buffer published */
    rg_status st = hier_agree(h, "allreduce");
    if (st != RG_OK) return hier_disagree(h, st);
    void *src[T];
    for (int i = 0; i < T; i++) src[i] = s->slot[i].out;
    size_t lo = chunk_lo(n, (size_t)T, (size_t)t), hi = chunk_lo(n, (size_t)T, (size_t)t + 1);
    sum_rank_order(src[0], src, T, lo, hi, dbl);
    if (hbar_wait(s)) return op_abort(h);    /* 2: the process sum is in thread 0's buffer */
    if (t == 0)
        hier_verdict(s, s->P > 1 ? (dbl ? rg_comm_allreduce_f64(s->proc, buf, n, RG_REDUCE_SUM)
                                        : rg_comm_allreduce(s->proc, buf, n, RG_REDUCE_SUM)) : RG_OK);
    if (hbar_wait(s)) return op_abort(h);    /* 3: the world sum is in thread 0's buffer */
    st = hier_status(h);
    if (st == RG_OK && t != 0 && n) memcpy(buf, src[0], n * es);
    if (hbar_wait(s)) return op_abort(h);    /* 4: thread 0's buffer is its own again */
    if (st == RG_OK && op == RG_REDUCE_AVG) divide(buf, n, c->size, dbl);
    return op_leave(s, st);
}

static rg_status hier_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op) { return hier_allreduce_any(c, buf, n, op, 0); }
static rg_status hier_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op) { return hier_allreduce_any(c, buf, n, op, 1); }

static rg_status hier_broadcast(rg_comm *c, void *buf, size_t bytes, int root)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    int T = s->T, t = h->t;
    if (root < 0 || root >= c->size)
        return rg_error(RG_EUSAGE, "broadcast from rank %d in a world of %d", root, c->size);
    if (op_enter(s)) return hier_abort_status(h);
    int rp = root / T, rt = root % T;
    s->slot[t].out = buf;
    s->slot[t].n = bytes;
    s->slot[t].op = root;
    if (hbar_wait(s)) return op_abort(h);    /* 1 */
    rg_status st = hier_agree(h, "broadcast (bytes, root)");
    if (st != RG_OK) return hier_disagree(h, st);
    void *from = s->slot[s->p == rp ? rt : 0].out;
    if (t == 0) hier_verdict(s, s->P > 1 ? rg_comm_broadcast(s->proc, from, bytes, rp) : RG_OK);
    if (hbar_wait(s)) return op_abort(h);    /* 2: `from` holds root's bytes */
    st = hier_status(h);
    if (st == RG_OK && buf != from && bytes) memcpy(buf, from, bytes);
    if (hbar_wait(s)) return op_abort(h);    /* 3 */
    return op_leave(s, st);
}

static rg_status hier_allgather(rg_comm *c, const float *in, size_t n, float *out)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    int T = s->T, t = h->t;
    size_t total;
    if (!rg_mul_ok((size_t)c->size, n, &total))
        return rg_error(RG_ENOMEM, "allgather of %zu floats from %d ranks overflows", n, c->size);
    if (op_enter(s)) return hier_abort_status(h);
    s->slot[t].out = out;
    s->slot[t].n = n;
    s->slot[t].op = 0;
    float *base = out + (size_t)s->p * T * n;   /* this process's blocks */
    /* The leader's own block first, by memmove: its `in` may alias any part
     * of its `out`, which the others write into next. */
    if (t == 0 && n && in != base) memmove(base, in, n * sizeof *in);
    if (hbar_wait(s)) return op_abort(h);    /* 1 */
    rg_status st = hier_agree(h, "allgather");
    if (st != RG_OK) return hier_disagree(h, st);
    float *lead = s->slot[0].out;
    if (t != 0 && n) memcpy(lead + ((size_t)s->p * T + t) * n, in, n * sizeof *in);
    if (hbar_wait(s)) return op_abort(h);    /* 2: the process's blocks are in place */
    if (t == 0) hier_verdict(s, s->P > 1 && n ? rg_comm_allgather(s->proc, base, (size_t)T * n, out) : RG_OK);
    if (hbar_wait(s)) return op_abort(h);    /* 3 */
    st = hier_status(h);
    if (st == RG_OK && t != 0 && n) memcpy(out, lead, total * sizeof *out);
    if (hbar_wait(s)) return op_abort(h);    /* 4 */
    return op_leave(s, st);
}

static rg_status hier_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    int T = s->T, t = h->t;
    size_t total, bytes;
    /* scratch: the process sum of all blocks, then (P > 1) this process's T blocks */
    if (!rg_mul_ok((size_t)c->size + (size_t)T, n_each, &total) || !rg_mul_ok(total, sizeof(float), &bytes))
        return rg_error(RG_ENOMEM, "reduce_scatter of %zu floats per rank over %d ranks overflows", n_each, c->size);
    if (op_enter(s)) return hier_abort_status(h);
    s->slot[t].in = in;
    s->slot[t].n = n_each;
    s->slot[t].op = (int)op;
    if (t == 0) {
        s->scratch_ok = 1;
        if (bytes > s->scratch_bytes) {
            void *p = rg_malloc(bytes);
            if (p) { rg_free(s->scratch); s->scratch = p; s->scratch_bytes = bytes; }
            else s->scratch_ok = 0;
        }
    }
    if (hbar_wait(s)) return op_abort(h);    /* 1: inputs published, scratch ready */
    rg_status st = hier_agree(h, "reduce_scatter");
    if (st != RG_OK) return hier_disagree(h, st);
    int ok = s->scratch_ok;
    float *sum = s->scratch, *mine = sum + (size_t)c->size * n_each;
    size_t n = (size_t)c->size * n_each;
    if (ok) {
        void *src[T];
        for (int i = 0; i < T; i++) src[i] = (void *)s->slot[i].in;
        sum_rank_order(sum, src, T, chunk_lo(n, (size_t)T, (size_t)t), chunk_lo(n, (size_t)T, (size_t)t + 1), 0);
    }
    if (hbar_wait(s)) return op_abort(h);    /* 2 */
    if (t == 0) {
        if (!ok) hier_verdict(s, rg_error(RG_ENOMEM, "rank %d: out of memory for a reduce_scatter of %zu floats", c->rank, n));
        else if (s->P > 1) hier_verdict(s, rg_comm_reduce_scatter(s->proc, sum, (size_t)T * n_each, mine, RG_REDUCE_SUM));
        else hier_verdict(s, RG_OK);
    }
    if (hbar_wait(s)) return op_abort(h);    /* 3 */
    st = hier_status(h);
    if (st == RG_OK && n_each) {
        const float *block = (s->P > 1 ? mine : sum + (size_t)s->p * T * n_each) + (size_t)t * n_each;
        memcpy(out, block, n_each * sizeof *out);
    }
    if (hbar_wait(s)) return op_abort(h);    /* 4: scratch may be reallocated again */
    if (st == RG_OK && op == RG_REDUCE_AVG) divide(out, n_each, c->size, 0);
    return op_leave(s, st);
}

static rg_status hier_barrier_op(rg_comm *c)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    if (op_enter(s)) return hier_abort_status(h);
    if (hbar_wait(s)) return op_abort(h);
    if (h->t == 0) hier_verdict(s, s->P > 1 ? rg_comm_barrier(s->proc) : RG_OK);
    if (hbar_wait(s)) return op_abort(h);
    return op_leave(s, hier_status(h));
}

/* No overlap: the allreduce runs now and the request is complete (NULL). */
static rg_status hier_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    *req = NULL;
    return hier_allreduce_any(c, buf, n, op, 0);
}
static rg_status hier_wait(rg_comm *c, rg_comm_req *req) { return RG_OK; }

/* Wakes every thread of the family (sleepers poll, so worlds split off
 * wake within a few ms), then, across processes, the process communicator's
 * own abort: for MPI that ends the job, since a leader may be blocked in
 * it (with a note, a stop: every process told, none ended; comm_mpi.c).  Only the leader may call an mpi process communicator (MPI is
 * SERIALIZED, and the leader may be inside it right now), so a worker asks
 * it to (rg_comm_mpi_abort_later), before anyone can read the abort: the
 * leader then ends the job wherever it meets the abort, in a barrier here
 * (hier_abort_status), in its MPI wait loop, or at its next MPI call. */
static rg_status hier_abort(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    hier_family *f = s->fam;
    char copy[MSG_MAX];
    snprintf(copy, sizeof copy, "%s", msg ? msg : "");
    int expect = 0;
    if (atomic_compare_exchange_strong(&f->state, &expect, 1)) {
        f->st = status;
        memcpy(f->msg, copy, sizeof copy);
        int asked = s->P > 1 && h->t != 0 && rg_comm_mpi_abort_later(s->proc, status, copy, note, bytes);
        atomic_store(&f->state, 2);
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (s->P > 1 && !asked) rg_comm_abort_note(s->proc, status, copy, note, bytes);
    }
    return rg_error(status, "%s", copy);
}

static void hier_destroy(hier_shared *s)
{
    if (s->owns_proc && s->proc) rg_comm_free(s->proc);
    if (atomic_fetch_sub(&s->fam->refs, 1) == 1) rg_free(s->fam);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rg_free(s->scratch);
    rg_free(s->slot);
    rg_free(s);
}

static void hier_free(rg_comm *c)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    /* Only the leader calls the process communicator, so it frees one the
     * world owns (a split's), whichever handle goes last. */
    if (h->t == 0 && s->owns_proc) {
        rg_comm_free(s->proc);
        s->proc = NULL;
    }
    rg_free(h);
    if (atomic_fetch_sub(&s->refs, 1) == 1) hier_destroy(s);
}

/* The T handles of one process over proc, in family fam (NULL: a new one).
 * proc is freed with the last handle when owns_proc (also when this fails). */
static rg_status hier_make(rg_comm *proc, int owns_proc, int threads, hier_family *fam, rg_comm **ranks)
{
    if (threads < 1) {
        if (owns_proc) rg_comm_free(proc);
        return rg_error(RG_EUSAGE, "a hierarchical world needs at least 1 thread per process, not %d", threads);
    }
    int P = rg_comm_size(proc), p = rg_comm_rank(proc);
    if ((long long)P * threads > INT_MAX) {
        if (owns_proc) rg_comm_free(proc);
        return rg_error(RG_EUSAGE, "%d processes x %d threads is too many ranks", P, threads);
    }
    hier_shared *s = rg_calloc(1, sizeof *s);
    hier_slot *slot = rg_calloc((size_t)threads, sizeof *slot);
    hier_handle **hs = rg_calloc((size_t)threads, sizeof *hs);
    hier_family *nf = fam ? NULL : rg_calloc(1, sizeof *nf);
    int ok = s && slot && hs && (fam || nf);
    for (int t = 0; ok && t < threads; t++) ok = (hs[t] = rg_calloc(1, sizeof **hs)) != NULL;
    if (ok && pthread_mutex_init(&s->mu, NULL) != 0) ok = 0;
    if (ok && pthread_cond_init(&s->cv, NULL) != 0) { pthread_mutex_destroy(&s->mu); ok = 0; }
    if (!ok) {
        for (int t = 0; hs && t < threads; t++) rg_free(hs[t]);
        rg_free(hs);
        rg_free(s);
        rg_free(slot);
        rg_free(nf);
        if (owns_proc) rg_comm_free(proc);
        return rg_error(RG_ENOMEM, "out of memory creating a world of %d threads", threads);
    }
    if (nf) {
        atomic_init(&nf->refs, 0);
        atomic_init(&nf->state, 0);
        fam = nf;
    }
    atomic_fetch_add(&fam->refs, 1);
    s->fam = fam;
    s->proc = proc;
    s->owns_proc = owns_proc;
    s->T = threads;
    s->P = P;
    s->p = p;
    s->slot = slot;
    s->spin_ns = rg_spin_from_env();
    atomic_init(&s->arrived, 0);
    atomic_init(&s->gen, 0);
    atomic_init(&s->sleepers, 0);
    atomic_init(&s->working, 0);
    atomic_init(&s->refs, threads);
    for (int t = 0; t < threads; t++) {
        hier_handle *h = hs[t];
        h->sh = s;
        h->t = t;
        h->c.ops = &hier_ops;
        h->c.rank = p * threads + t;
        h->c.size = P * threads;
        h->c.impl = h;
        ranks[t] = &h->c;
    }
    rg_free(hs);
    return RG_OK;
}

rg_status rg_comm_hier_create(rg_comm *process_comm, int threads, rg_comm **ranks)
{
    return hier_make(process_comm, 0, threads, NULL, ranks);
}

/* split, decided identically on every rank from everyone's (color, key). */
typedef struct member { int key, rank; } member;
static int member_cmp(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Ranks of `color`'s group sorted by (key, rank), into m; returns the count. */
static int group_of(const int *col, const int *key, int W, int color, member *m)
{
    int k = 0;
    for (int r = 0; r < W; r++)
        if (col[r] == color) m[k++] = (member){ key[r], r };
    qsort(m, (size_t)k, sizeof *m, member_cmp);
    return k;
}

/* 0: inside one process; 1: whole processes, threads in order; -1: neither. */
static int group_shape(const member *m, int k, int T)
{
    int inside = 1;
    for (int i = 0; i < k; i++) inside &= m[i].rank / T == m[0].rank / T;
    if (inside) return 0;
    if (k % T) return -1;
    for (int i = 0; i < k; i++)
        if (m[i].rank % T != i % T || m[i].rank / T != m[i - i % T].rank / T) return -1;
    return 1;
}

/* Leader: makes every handle this process's threads get from the split. */
static rg_status hier_split_lead(hier_shared *s, const int *col, const int *key)
{
    int T = s->T, P = s->P, W = P * T;
    member *m = rg_calloc((size_t)W, sizeof *m);
    if (!m) return rg_error(RG_ENOMEM, "out of memory splitting a world of %d ranks", W);
    /* Cross-process groups are numbered by their lowest member's rank, so
     * every process numbers them alike; every leader joins one proc split. */
    int ncross = 0, mycross = -1, myorder = 0;
    rg_status st = RG_OK;
    for (int r = 0; r < W && st == RG_OK; r++) {
        int k = group_of(col, key, W, col[r], m);
        int lowest = W;
        for (int i = 0; i < k; i++) lowest = m[i].rank < lowest ? m[i].rank : lowest;
        if (lowest != r) continue;            /* each group once */
        int shape = group_shape(m, k, T);
        if (shape < 0) {
            st = rg_error(RG_EUSAGE, "split color %d: a group of a %d x %d world must lie inside one process "
                          "or be whole processes with keys in thread order", col[r], P, T);
        } else if (shape == 1) {
            for (int i = 0; i < k; i += T)
                if (m[i].rank / T == s->p) { mycross = ncross; myorder = i / T; }
            ncross++;
        }
    }
    rg_comm *sub = NULL;
    if (st == RG_OK && ncross > 0) {
        st = rg_comm_split(s->proc, mycross >= 0 ? mycross : ncross + s->p, myorder, &sub);
        if (st == RG_OK && mycross < 0) { rg_comm_free(sub); sub = NULL; }
    }
    /* Handles: one hier per group touching this process, in this family. */
    for (int t = 0; t < T; t++) s->slot[t].made = NULL;
    for (int t = 0; t < T && st == RG_OK; t++) {
        if (s->slot[t].made) continue;
        int k = group_of(col, key, W, col[s->p * T + t], m);
        rg_comm *made[T];
        if (group_shape(m, k, T) == 1) {
            st = hier_make(sub, 1, T, s->fam, made);
            sub = NULL;
            for (int i = 0; st == RG_OK && i < T; i++) s->slot[i].made = made[i];
        } else {
            rg_comm *self;
            st = rg_comm_self(&self);
            if (st == RG_OK) st = hier_make(self, 1, k, s->fam, made);
            for (int i = 0; st == RG_OK && i < k; i++) s->slot[m[i].rank % T].made = made[i];
        }
    }
    if (st != RG_OK) {
        for (int t = 0; t < T; t++) { rg_comm_free(s->slot[t].made); s->slot[t].made = NULL; }
        if (sub) rg_comm_free(sub);
    }
    rg_free(m);
    return st;
}

static rg_status hier_split(rg_comm *c, int color, int key, rg_comm **out)
{
    hier_handle *h = c->impl;
    hier_shared *s = h->sh;
    int T = s->T, t = h->t, W = c->size;
    *out = NULL;
    if (op_enter(s)) return hier_abort_status(h);
    s->slot[t].color = color;
    s->slot[t].key = key;
    if (hbar_wait(s)) return op_abort(h);    /* 1 */
    if (t == 0) {
        /* Everyone's (color, key) as exact doubles, summed into place. */
        double *g = rg_calloc(2 * (size_t)W, sizeof *g);
        int *ck = rg_calloc(2 * (size_t)W, sizeof *ck);
        rg_status st = g && ck ? RG_OK : rg_error(RG_ENOMEM, "out of memory splitting a world of %d ranks", W);
        if (st == RG_OK) {
            for (int i = 0; i < T; i++) {
                g[2 * (s->p * T + i)] = s->slot[i].color;
                g[2 * (s->p * T + i) + 1] = s->slot[i].key;
            }
            if (s->P > 1) st = rg_comm_allreduce_f64(s->proc, g, 2 * (size_t)W, RG_REDUCE_SUM);
        }
        if (st == RG_OK) {
            for (int r = 0; r < W; r++) { ck[r] = (int)g[2 * r]; ck[W + r] = (int)g[2 * r + 1]; }
            st = hier_split_lead(s, ck, ck + W);
        }
        rg_free(g);
        rg_free(ck);
        hier_verdict(s, st);
    }
    if (hbar_wait(s)) return op_abort(h);    /* 2 */
    rg_status st = hier_status(h);
    if (st == RG_OK) *out = s->slot[t].made;
    return op_leave(s, st);
}

/* Point to point: with one thread per process (the parameter server's
 * MPI worlds) a rank is its process, and the process communicator, which
 * that thread leads, carries the message. */
static rg_status hier_p2p(rg_comm *c, const char *what, rg_comm **proc)
{
    hier_handle *h = c->impl;
    if (h->sh->T != 1)
        return rg_error(RG_EUSAGE, "%s between worker threads of several processes is not supported (one thread "
                        "per process: --workers 1 under mpirun)", what);
    if (aborted(h->sh)) return hier_abort_status(h);
    *proc = h->sh->proc;
    return RG_OK;
}

static rg_status hier_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    rg_comm *proc = NULL;
    rg_status st = hier_p2p(c, "send", &proc);
    return st == RG_OK ? rg_comm_send(proc, buf, bytes, dst, tag) : st;
}

static rg_status hier_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    rg_comm *proc = NULL;
    rg_status st = hier_p2p(c, "recv", &proc);
    return st == RG_OK ? rg_comm_recv(proc, buf, bytes, src, tag) : st;
}

static rg_status hier_probe(rg_comm *c, int src, int tag, int *ready)
{
    rg_comm *proc = NULL;
    rg_status st = hier_p2p(c, "probe", &proc);
    return st == RG_OK ? rg_comm_probe(proc, src, tag, ready) : st;
}

static rg_status hier_sendv(rg_comm *c, const rg_piece *v, int n, int dst, int tag)
{
    rg_comm *proc = NULL;
    rg_status st = hier_p2p(c, "send", &proc);
    return st == RG_OK ? rg_comm_sendv(proc, v, n, dst, tag) : st;
}

static rg_status hier_recvv(rg_comm *c, const rg_piece *v, int n, int src, int tag)
{
    rg_comm *proc = NULL;
    rg_status st = hier_p2p(c, "recv", &proc);
    return st == RG_OK ? rg_comm_recvv(proc, v, n, src, tag) : st;
}

int rg_comm_hier_lead(rg_comm *c, rg_comm **lead, int *threads)
{
    if (c->ops != &hier_ops) return 0;
    hier_handle *h = c->impl;
    if (h->sh->T == 1) return 0;
    *lead = h->t == 0 ? h->sh->proc : NULL;
    *threads = h->sh->T;
    return 1;
}

static const rg_comm_ops hier_ops = {
    hier_allreduce, hier_allreduce_f64, hier_broadcast, hier_allgather,
    hier_reduce_scatter, hier_barrier_op, hier_split, hier_free,
    hier_iallreduce, hier_wait, hier_send, hier_recv, hier_abort, hier_probe,
    hier_sendv, hier_recvv, NULL /* idle: a nap */
};

rg_status rg_comm_set_deterministic(rg_comm *c, int on)
{
    if (c->ops == &hier_ops) {
        /* Threads already sum in thread order; the leader owns the process comm. */
        hier_handle *h = c->impl;
        return h->t == 0 ? rg_comm_set_deterministic(h->sh->proc, on) : RG_OK;
    }
    rg_comm_mpi_note_deterministic(c, on);
    return RG_OK;
}
