/*
 * comm_mpi.c — the `mpi` backend.  The only file that includes <mpi.h>,
 * and only when CMake found MPI (RG_HAVE_MPI); without it the mpi entry
 * points fail with a message saying so.  The processes x threads world
 * that runs over it (and over rg_comm_self) is comm_hier.c.
 *
 * mpi: one rg_comm wraps one duplicated MPI_Comm whose error handler returns
 * (MPI_ERRORS_RETURN).  No MPI call blocks (MPI_Comm_split, MPI_Finalize
 * and the shared-memory window's MPI_Comm_split_type, MPI_Win_allocate_shared
 * and MPI_Win_free do, each after a timed barrier and under a watchdog
 * that ends the process should it not return in time): every op starts
 * non-blocking requests or raises shared-memory counters and
 * completes them in mpi_wait_for, which spins on MPI_Test for 1 ms, then
 * naps (up to 1 ms), and gives up after --comm-timeout
 * (rg_comm_mpi_set_timeout).  Then it names the failed rank: shortly before
 * the timeout it pings the ranks it waits for on g_probe, a communicator of
 * its own, and every rank waiting in mpi_wait_for answers pings; the silent
 * ones are named (all answering: one more timeout, then "no progress").  A
 * stopped and a dead rank are silent alike; a survivor waits too, so it
 * answers and is not blamed.  The verdict goes to every process, which stops
 * at its next wait instead of timing out in turn (and blaming the first,
 * gone by then).  From then on (g_broken) every op fails at once with the
 * verdict, frees skip MPI_Comm_free, finalize skips MPI_Finalize, and
 * buffers MPI may still name are kept (g_kept); after a timeout verdict MPI
 * is never called again, after a stop verdict (a peer's own non-finite
 * stop: every rank alive) only the goodbye of stop_farewell is.
 * Reductions are ours, over point-to-point messages, in rank order (see
 * RED_SEG).  Counts are size_t here and int in MPI: reductions and broadcast
 * go in segments; allgather and reduce_scatter refuse blocks over INT_MAX.
 * One thread at a time calls MPI (MPI_THREAD_SERIALIZED), which is why the
 * state above can be plain globals; a thread that must not (a hierarchical
 * world's worker) asks for an abort instead (g_asked), and the MPI thread
 * ends the job at its next wait, op, service or finalize.
 *
 * An abort with a note (a worker's own non-finite stop: rg_comm_abort_note)
 * ends nothing: a stop verdict, with the status, the message and the note,
 * goes to every process (stop_job), and each one's next wait returns that
 * status, as after a timeout; every peer is alive, so finalize still talks:
 * rank 0, the one that writes the log, says goodbye once it is done, and
 * the others wait for that before they exit (an exit with a failure code
 * makes the launcher kill the rest, rank 0 with its log half-written).
 * MPI_Abort is the fallback: a verdict that cannot be sent, a goodbye that
 * does not come within --comm-timeout.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/comm_impl.h"
#include "comm/link.h"
#include "comm/spin.h"
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef RG_HAVE_MPI
#include <mpi.h>
#endif

int rg_comm_mpi_launched(void)
{
    /* Open MPI, PMI-1/2 (MPICH, Intel MPI), PMIx (Open MPI 5, srun),
     * MPICH's hydra and MVAPICH each set at least one of these. */
    static const char *const vars[] = {
        "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK",
        "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE"
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

#ifdef RG_HAVE_MPI

/* A copy of a sent message, kept until MPI is done with it. */
typedef struct mpi_send {
    struct mpi_send *next;
    MPI_Request r;
    unsigned char data[];
} mpi_send;

typedef struct mpi_impl {
    MPI_Comm comm;
    int deterministic;          /* kept for the interface: every mpi sum is in rank order */
    int tag_ub;                 /* largest user tag: the reductions' tags lie above */
    unsigned red_seq;           /* reductions started: picks their tags */
    int *world;                 /* size entries: each rank's rank in MPI_COMM_WORLD */
    MPI_Request *reqs;          /* 2 * size entries, for the blocking collectives */
    mpi_send *sends;            /* outstanding sends, newest first */
    struct mpi_req *pending;    /* started allreduces not complete, oldest first */
    void *scratch;              /* the reductions' receive buffer */
    size_t scratch_bytes;
    struct shm_area *shm;       /* the shared-memory reductions' window, once made */
    int shm_state;              /* 0 not decided, 1 every rank on this machine, -1 messages */
    int shm_want;               /* REGULA_MPI_SHM was not 0 when this communicator was made */
} mpi_impl;

static int g_mpi_inited_by_us;
static const rg_comm_ops mpi_ops;

/* Failure detection, shared by every mpi communicator of the process (only
 * one thread calls MPI at a time, so plain globals).  g_probe carries the
 * pings, pongs and verdicts, apart from every communicator's traffic. */
enum { TAG_PING = 1, TAG_PONG, TAG_VERDICT, TAG_STOP, TAG_BYE, TAG_NOTE };
#define VERDICT_MAX 480
#define SPIN_NS 1000000             /* MPI_Test flat out for 1 ms, then nap */
#define NAP_MIN_NS 20000
#define NAP_MAX_NS 1000000
#define ABORT_GRACE_NS 100000000    /* 100 ms for the launcher to forward the message */
static double g_timeout = 30.0;
static MPI_Comm g_probe = MPI_COMM_NULL;
static int g_wrank, g_wsize;        /* in MPI_COMM_WORLD */
static int g_seq;                   /* the current ping round */
static unsigned char *g_answered;   /* g_wsize entries: answered round g_seq */
static mpi_send *g_ctl;             /* pings, pongs and verdicts in flight */
static atomic_int g_broken;         /* a peer failed or stopped: every op fails at once */
static rg_status g_broken_status = RG_ECOMM;
static char g_broken_msg[VERDICT_MAX];
/* A stop verdict (stop_job): the ranks are alive, finalize still talks.
 * Its note, rg_comm_mpi_stop_note's; g_bye: rank 0 said goodbye. */
static int g_stop, g_bye;
static unsigned char g_note[RG_COMM_NOTE_MAX];
static size_t g_note_n;
/* A stop verdict's message: status, note length, note, then the text. */
typedef struct stop_msg {
    int status, note_n;
    unsigned char note[RG_COMM_NOTE_MAX];
    char text[VERDICT_MAX];
} stop_msg;
/* After a failure, memory MPI may still name (a request's buffer) is kept
 * on this list, never freed: MPI is not called again to say it is done. */
typedef struct kept { struct kept *next; void *p; } kept;
static kept *g_kept;
static void keep(void *p)
{
    kept *k = p ? rg_malloc(sizeof *k) : NULL;
    if (k) { k->p = p; k->next = g_kept; g_kept = k; }
}

int rg_comm_mpi_available(void) { return 1; }

static rg_status broken(void) { return rg_error(g_broken_status, "%s", g_broken_msg); }

rg_status rg_comm_mpi_halted(void) { return atomic_load(&g_broken) ? broken() : RG_OK; }

static void nap(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    nanosleep(&ts, NULL);
}

/* The CLI's exit codes (regula.h), so mpirun's status tells what failed. */
static int exit_code(rg_status s)
{
    switch (s) {
    case RG_OK: return 0;
    case RG_EUSAGE: return 2;
    case RG_EDATA:
    case RG_EIO: return 3;
    case RG_ENONFINITE: return 4;
    case RG_ECOMM: return 5;
    case RG_ENOMEM: return 1;
    }
    return 1;
}

/* Ends the whole job, from the thread that calls MPI: the message to the
 * log callback first (rg_set_log), since nobody returns to print it, then
 * MPI_Abort with the CLI's exit code for status.  One of the two places
 * the library exits (the other: the watchdog of a blocking call). */
static void end_job(MPI_Comm comm, rg_status status, const char *msg)
{
    rg_log("%s", msg[0] ? msg : rg_status_str(status));
    fflush(NULL);
    nap(ABORT_GRACE_NS);
    MPI_Abort(comm, exit_code(status));
}

/* An abort asked for by a thread that must not call MPI
 * (rg_comm_mpi_abort_later): the thread that calls MPI ends the job at its
 * next wait (mpi_wait_for polls), op, rg_comm_mpi_service or finalize. */
static atomic_int g_asked;          /* 0 none, 1 being written, 2 asked */
static rg_status g_asked_status;
static char g_asked_msg[512];
static unsigned char g_asked_note[RG_COMM_NOTE_MAX];
static size_t g_asked_note_n;       /* > 0: a stop (stop_job), not an end */

static void stop_job(rg_status status, const char *msg, const void *note, size_t n);
static void notes_send(void);

void rg_comm_mpi_abort_asked(void)
{
    if (atomic_load(&g_asked) != 2 || atomic_load(&g_broken)) return;
    if (g_asked_note_n) stop_job(g_asked_status, g_asked_msg, g_asked_note, g_asked_note_n);
    else end_job(MPI_COMM_WORLD, g_asked_status, g_asked_msg);
}

/* The top of every wait and op: a peer's failure or stop, or this
 * process's own asked for by another thread (then 1: fail with broken()). */
static int op_begin(void)
{
    rg_comm_mpi_abort_asked();
    if (atomic_load(&g_broken)) return 1;
    notes_send();
    return 0;
}


/* Adds world rank r, the k-th of n, to a message's list "1, 2 and 3"
 * (names of cap bytes, len so far; a list too long for it is cut). */
static void rank_list(char *names, size_t cap, size_t *len, int r, int k, int n)
{
    if (*len < cap - 16)
        *len += (size_t)snprintf(names + *len, cap - *len, "%s%d", k == 0 ? "" : k == n - 1 ? " and " : ", ", r);
}

/* ------------------------------------------------------------ blocking calls */

/* MPI_Comm_split, the window's MPI_Comm_split_type, MPI_Win_allocate_shared
 * and MPI_Win_free, and MPI_Finalize have no timed form.  Each follows a
 * timed barrier, which leaves a peer that stops in between: this rank
 * would then wait inside MPI for good, where no timeout of ours runs
 * (dead_peer's easgd-async case did, about 1 run in 60 on a 2-core Zen 3:
 * rank 1 stopped between the barrier and MPI_Comm_split_type of the first
 * shared-memory window).  So a blocking call is armed (block_arm,
 * block_disarm): a thread of its own, the watchdog, started at the first
 * such call, wakes when --comm-timeout has passed and, if the call has not
 * returned, logs the verdict and ends the process with the comm failure's
 * exit code, 5; the launcher ends the others.  It cannot tell the other
 * ranks first (the MPI thread is inside MPI: MPI_THREAD_SERIALIZED), nor
 * which peer is missing: with one peer it names it, with more all of them.
 * It counts the time this process waits, in ticks: a tick that took far
 * longer means the process itself was stopped (SIGSTOP, then the
 * launcher's SIGCONT as it ends the job), and counts as one tick, so a
 * stopped rank woken inside the call does not at once blame its peers. */
#define DOG_TICK_NS 50000000        /* 50 ms */
static pthread_mutex_t g_dog_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_dog_cv;
static int g_dog_state;             /* 0 no watchdog yet, 1 running, -1 it could not start */
static uint64_t g_dog_arm;          /* arms and disarms so far: odd while a call is armed */
static int64_t g_dog_since;         /* when the armed call began (rg_now_ns) */
static char g_dog_msg[VERDICT_MAX];

static void *dog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_dog_mu);
    for (;;) {
        while (!(g_dog_arm & 1)) pthread_cond_wait(&g_dog_cv, &g_dog_mu);
        uint64_t arm = g_dog_arm;
        int64_t last = g_dog_since, waited = 0, limit = (int64_t)(g_timeout * 1e9);
        while (g_dog_arm == arm && waited < limit) {
            int64_t next = last + DOG_TICK_NS;
            struct timespec at = { (time_t)(next / 1000000000), (long)(next % 1000000000) };
            pthread_cond_timedwait(&g_dog_cv, &g_dog_mu, &at);
            int64_t now = rg_now_ns(), gap = now - last;
            waited += gap < 4 * DOG_TICK_NS ? gap : DOG_TICK_NS;
            last = now;
        }
        if (g_dog_arm == arm) {
            rg_log("%s", g_dog_msg);
            fflush(NULL);
            _exit(exit_code(RG_ECOMM));
        }
    }
    return NULL;
}

static int dog_start(void)
{
    pthread_condattr_t a;
    pthread_attr_t ta;
    pthread_t t;
    if (pthread_condattr_init(&a) != 0) return 0;
    int ok = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&g_dog_cv, &a) == 0;
    pthread_condattr_destroy(&a);
    if (!ok || pthread_attr_init(&ta) != 0) return 0;
    ok = pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED) == 0 && pthread_create(&t, &ta, dog_main, NULL) == 0;
    pthread_attr_destroy(&ta);
    return ok;
}

/* REGULA_MPI_STALL=RANK:CALL (tests): world rank RANK stops itself
 * (SIGSTOP) as it enters CALL, a peer that stops after the timed barrier. */
static void stall_hook(const char *what)
{
    const char *e = getenv("REGULA_MPI_STALL");
    char *end;
    long r = e ? strtol(e, &end, 10) : -1;
    if (e && end != e && *end == ':' && r == g_wrank && !strcmp(end + 1, what)) raise(SIGSTOP);
}

/* The verdict should `what` not return: the peers are c's (NULL: every
 * rank of MPI_COMM_WORLD), world ranks in the message. */
static void dog_verdict(const rg_comm *c, const char *what)
{
    char names[160] = "";
    size_t len = 0;
    int P = c ? c->size : g_wsize, me = c ? c->rank : g_wrank, k = 0, one = -1;
    for (int j = 0; j < P; j++) {
        if (j == me) continue;
        int r = c ? ((const mpi_impl *)c->impl)->world[j] : j;
        one = r;
        rank_list(names, sizeof names, &len, r, k++, P - 1);
    }
    if (k == 1)
        (void)!snprintf(g_dog_msg, sizeof g_dog_msg, "rank %d stopped answering: no reply within %g s (--comm-timeout; "
                        "rank %d was waiting in %s, which MPI gives no timeout)", one, g_timeout, g_wrank, what);
    else
        (void)!snprintf(g_dog_msg, sizeof g_dog_msg, "rank %d: %s did not return within %g s (--comm-timeout): one of "
                        "ranks %s stopped answering (MPI gives the call no timeout, and does not say which)",
                        g_wrank, what, g_timeout, names);
}

/* Before a blocking call: the watchdog ends the process if it has not
 * returned within --comm-timeout (block_disarm). */
static void block_arm(const rg_comm *c, const char *what)
{
    pthread_mutex_lock(&g_dog_mu);
    if (g_dog_state == 0) g_dog_state = dog_start() ? 1 : -1;
    if (g_dog_state > 0 && !(g_dog_arm & 1)) {
        dog_verdict(c, what);
        g_dog_since = rg_now_ns();
        g_dog_arm++;
        pthread_cond_signal(&g_dog_cv);
    }
    pthread_mutex_unlock(&g_dog_mu);
    stall_hook(what);
}

static void block_disarm(void)
{
    pthread_mutex_lock(&g_dog_mu);
    if (g_dog_arm & 1) {
        g_dog_arm++;
        if (g_dog_state > 0) pthread_cond_signal(&g_dog_cv);
    }
    pthread_mutex_unlock(&g_dog_mu);
}

/* Seconds between the pings and the verdict: the part of the timeout left
 * to a live peer to answer (it answers within a nap, ~1 ms, once it waits). */
static int64_t grace_ns(double timeout)
{
    double g = timeout / 10;
    g = g > 1.0 ? 1.0 : g < 0.05 ? 0.05 : g;
    return (int64_t)((g > timeout / 2 ? timeout / 2 : g) * 1e9);
}

/* Frees the sends MPI is done with; a send MPI reports as failed is done. */
static void sends_reap(mpi_send **list)
{
    for (mpi_send **pp = list; *pp;) {
        mpi_send *x = *pp;
        int done = 1;
        if (MPI_Test(&x->r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) done = 1;
        if (done) { *pp = x->next; rg_free(x); }
        else pp = &x->next;
    }
}

/* A control message to world rank `to`.  Lost when memory is short: a lost
 * ping reads as no answer, a lost verdict as the peer's own timeout. */
static int ctl_send(int to, int tag, const void *p, size_t bytes)
{
    mpi_send *x = rg_malloc(sizeof *x + bytes);
    if (!x) return 0;
    memcpy(x->data, p, bytes);
    if (MPI_Isend(x->data, (int)bytes, MPI_BYTE, to, tag, g_probe, &x->r) != MPI_SUCCESS) {
        rg_free(x);
        return 0;
    }
    x->next = g_ctl;
    g_ctl = x;
    return 1;
}

static void ctl_flush(int64_t until)
{
    for (sends_reap(&g_ctl); g_ctl && rg_now_ns() < until; sends_reap(&g_ctl)) nap(NAP_MIN_NS);
}

static void become_broken(rg_status status, const char *msg)
{
    if (atomic_load(&g_broken)) return;
    g_broken_status = status;
    size_t n = strnlen(msg, sizeof g_broken_msg - 1);   /* longer ones cut */
    memcpy(g_broken_msg, msg, n);
    g_broken_msg[n] = '\0';
    atomic_store(&g_broken, 1);     /* after the message: abort may read both from another thread */
}

/* This process stopped, by a peer's stop verdict or its own: the note for
 * rg_comm_mpi_stop_note, and every op fails from now on with status, msg. */
static void set_stop(rg_status status, const char *msg, const void *note, size_t n)
{
    memcpy(g_note, note, n);
    g_note_n = n;
    g_stop = 1;
    become_broken(status, msg);
}

/* A peer's stop verdict: its status, message and note, this process's. */
static void take_stop(const stop_msg *v, int count)
{
    if (atomic_load(&g_broken)) return;
    size_t n = v->note_n > 0 && v->note_n <= RG_COMM_NOTE_MAX ? (size_t)v->note_n : 0;
    char text[VERDICT_MAX];
    size_t len = (size_t)count - offsetof(stop_msg, text);
    memcpy(text, v->text, len);
    text[len ? len - 1 : 0] = '\0';
    set_stop(v->status > RG_OK && v->status <= RG_ECOMM ? (rg_status)v->status : RG_ECOMM, text, v->note, n);
}

/* ------------------------------------------------------------ notes to rank 0 */

/* Small notes that any thread of any process posts for world rank 0 (a
 * worker's own skip on a local step, which only rank 0's log can tell):
 * queued (g_out), sent on g_probe by the MPI thread at its next wait or op
 * (op_begin), taken in by rank 0's probe_service (g_in) and read by
 * rg_comm_mpi_take from any thread, under g_note_mu.  One that finds the
 * queue full or comes after a failure is dropped: notes are news for the
 * log, never state a run depends on. */
#define NOTES_MAX 256
typedef struct note_q {
    size_t n, head;
    size_t len[NOTES_MAX];
    unsigned char b[NOTES_MAX][RG_COMM_NOTE_MAX];
} note_q;
static pthread_mutex_t g_note_mu = PTHREAD_MUTEX_INITIALIZER;
static note_q g_out, g_in;
static atomic_int g_out_n;          /* g_out.n, read without the lock */

static void q_push(note_q *q, const void *p, size_t n)
{
    if (q->n == NOTES_MAX || n == 0 || n > RG_COMM_NOTE_MAX) return;
    size_t at = (q->head + q->n++) % NOTES_MAX;
    q->len[at] = n;
    memcpy(q->b[at], p, n);
}

static size_t q_pop(note_q *q, void *p, size_t cap)
{
    if (q->n == 0) return 0;
    size_t n = q->len[q->head];
    if (n <= cap) memcpy(p, q->b[q->head], n);
    q->head = (q->head + 1) % NOTES_MAX;
    q->n--;
    return n <= cap ? n : 0;
}

int rg_comm_mpi_post(const void *note, size_t bytes)
{
    if (bytes == 0 || bytes > RG_COMM_NOTE_MAX || atomic_load(&g_broken)) return 0;
    pthread_mutex_lock(&g_note_mu);
    int ok = g_out.n < NOTES_MAX;
    q_push(&g_out, note, bytes);
    atomic_store(&g_out_n, (int)g_out.n);
    pthread_mutex_unlock(&g_note_mu);
    return ok;
}

size_t rg_comm_mpi_take(void *note, size_t bytes)
{
    pthread_mutex_lock(&g_note_mu);
    size_t n = q_pop(&g_in, note, bytes);
    pthread_mutex_unlock(&g_note_mu);
    return n;
}

static void notes_in(const void *p, size_t n)
{
    pthread_mutex_lock(&g_note_mu);
    q_push(&g_in, p, n);
    pthread_mutex_unlock(&g_note_mu);
}

/* The MPI thread sends the posted notes (rank 0 keeps its own). */
static void notes_send(void)
{
    if (atomic_load(&g_out_n) == 0 || g_probe == MPI_COMM_NULL) return;
    unsigned char b[RG_COMM_NOTE_MAX];
    size_t n;
    pthread_mutex_lock(&g_note_mu);
    while ((n = q_pop(&g_out, b, sizeof b)) > 0) {
        if (g_wrank == 0) q_push(&g_in, b, n);
        else ctl_send(0, TAG_NOTE, b, n);
    }
    atomic_store(&g_out_n, 0);
    pthread_mutex_unlock(&g_note_mu);
}

/* Answers pings, collects the pongs of round g_seq, takes in a verdict.
 * Returns 1 once a peer's verdict has arrived (then g_broken). */
static int probe_service(void)
{
    if (g_probe == MPI_COMM_NULL) return 0;
    for (;;) {
        int flag = 0, count = 0;
        MPI_Message msg;
        MPI_Status st;
        if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, g_probe, &flag, &msg, &st) != MPI_SUCCESS || !flag) break;
        union { char b[sizeof(int) + VERDICT_MAX]; stop_msg v; } u;
        char *buf = u.b;
        MPI_Get_count(&st, MPI_BYTE, &count);
        int least = st.MPI_TAG == TAG_STOP ? (int)offsetof(stop_msg, text) + 1 : st.MPI_TAG == TAG_NOTE ? 1 : (int)sizeof(int);
        if (count < least || (size_t)count > sizeof u) {
            /* not one of ours: consume it whole */
            void *junk = rg_malloc(count > 0 ? (size_t)count : 1);
            if (junk) MPI_Mrecv(junk, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
            rg_free(junk);
            continue;
        }
        if (MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) continue;
        if (st.MPI_TAG == TAG_NOTE) {
            notes_in(buf, (size_t)count);
            continue;
        }
        int head;
        memcpy(&head, buf, sizeof head);
        if (st.MPI_TAG == TAG_PING) {
            ctl_send(st.MPI_SOURCE, TAG_PONG, &head, sizeof head);
        } else if (st.MPI_TAG == TAG_PONG) {
            if (head == g_seq && st.MPI_SOURCE >= 0 && st.MPI_SOURCE < g_wsize) g_answered[st.MPI_SOURCE] = 1;
        } else if (st.MPI_TAG == TAG_VERDICT) {
            buf[count - 1] = '\0';
            if (g_stop) return 1;                   /* a stop came first: its status stands */
            become_broken(RG_ECOMM, buf + sizeof head);
            if (head) rg_log("%s", g_broken_msg);     /* the reporter, rank 0 being the failed one */
            return 1;
        } else if (st.MPI_TAG == TAG_STOP) {
            take_stop(&u.v, count);
            return 1;
        } else if (st.MPI_TAG == TAG_BYE) {
            g_bye = 1;
        }
    }
    sends_reap(&g_ctl);
    return 0;
}

/* What a wait waits for: n requests (Testall), or with n < 0 a message from
 * src with tag on c (Improbe, for recv).  The ranks a timeout pings are c's
 * (peer < 0) or just peer; without c, every rank of MPI_COMM_WORLD. */
typedef struct waiter {
    rg_comm *c;
    const char *what;           /* "allreduce", ...: for messages */
    int peer;
    int n;
    MPI_Request *r;
    int src, tag;
    MPI_Message msg;
    MPI_Status status;
    const struct shm_area *shm; /* else: every rank's counter of shm up to its seq */
    int world;                  /* the second ping round: every rank of MPI_COMM_WORLD */
} waiter;

static int shm_all_up(const struct shm_area *s, int P);

/* MPICH's MPI_STATUSES_IGNORE is (MPI_Status *)1, which GCC 12 takes for
 * an array of no bytes that MPI_Testall's `MPI_Status []` will be written
 * to (-Wstringop-overflow); MPI never writes through it. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
static int wait_test(waiter *w, int *done)
{
    if (w->shm) { *done = shm_all_up(w->shm, w->c->size); return MPI_SUCCESS; }
    if (w->n >= 0) return MPI_Testall(w->n, w->r, done, MPI_STATUSES_IGNORE);
    return MPI_Improbe(w->src, w->tag, ((mpi_impl *)w->c->impl)->comm, done, &w->msg, &w->status);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static int wait_members(const waiter *w) { return w->c && !w->world ? w->c->size : g_wsize; }
static int wait_self(const waiter *w) { return w->c && !w->world ? w->c->rank : g_wrank; }
static int wait_world(const waiter *w, int j) { return w->c && !w->world ? ((mpi_impl *)w->c->impl)->world[j] : j; }
static int wait_asks(const waiter *w, int j)
{
    return j != wait_self(w) && (w->world || w->peer < 0 || j == w->peer);
}

static void ping_round(const waiter *w)
{
    if (g_probe == MPI_COMM_NULL) return;
    g_seq++;
    memset(g_answered, 0, (size_t)g_wsize);
    for (int j = 0; j < wait_members(w); j++)
        if (wait_asks(w, j)) ctl_send(wait_world(w, j), TAG_PING, &g_seq, sizeof g_seq);
}

static int silent_count(const waiter *w)
{
    int k = 0;
    if (g_probe == MPI_COMM_NULL) return 0;
    for (int j = 0; j < wait_members(w); j++) k += wait_asks(w, j) && !g_answered[wait_world(w, j)];
    return k;
}

/* The end of a wait that failed: the verdict (the silent ranks of the last
 * ping round, if any) goes to every other process, so that they stop too
 * and none of them blames a survivor that has left; MPI is not called again. */
static rg_status declare(const waiter *w, int silent, int err, double waited)
{
    char msg[VERDICT_MAX], names[160] = "";
    size_t len = 0;
    int lowest_alive = -1, zero_silent = 0, k = 0;
    for (int j = 0; j < wait_members(w) && silent; j++) {
        if (!wait_asks(w, j) || g_answered[wait_world(w, j)]) continue;
        int r = wait_world(w, j);
        zero_silent |= r == 0;
        rank_list(names, sizeof names, &len, r, k++, silent);
    }
    char why[MPI_MAX_ERROR_STRING] = "";
    int wl = 0;
    if (err != MPI_SUCCESS && MPI_Error_string(err, why, &wl) != MPI_SUCCESS) snprintf(why, sizeof why, "MPI error code %d", err);
    if (silent && err == MPI_SUCCESS)
        (void)!snprintf(msg, sizeof msg, "rank%s %s stopped answering: no reply within %g s (--comm-timeout; rank %d was waiting in %s)",
                 silent > 1 ? "s" : "", names, g_timeout, g_wrank, w->what);
    else if (silent)
        (void)!snprintf(msg, sizeof msg, "rank%s %s stopped answering: %s failed on rank %d (%s) and no reply came within %g s",
                 silent > 1 ? "s" : "", names, w->what, g_wrank, why, waited);
    else if (err != MPI_SUCCESS)
        (void)!snprintf(msg, sizeof msg, "rank %d: %s failed: %s", g_wrank, w->what, why);
    else if (g_probe == MPI_COMM_NULL)
        (void)!snprintf(msg, sizeof msg, "rank %d: %s: no reply within %g s (--comm-timeout)", g_wrank, w->what, waited);
    else
        (void)!snprintf(msg, sizeof msg, "rank %d: %s made no progress in %.0f s although every rank answers "
                 "(are the ranks in different collectives?)", g_wrank, w->what, waited);
    become_broken(RG_ECOMM, msg);
    if (g_probe != MPI_COMM_NULL) {
        /* with rank 0 gone, the lowest survivor says it: rank 0 reports shared failures */
        for (int r = 0; r < g_wsize && lowest_alive < 0 && zero_silent; r++) {
            int gone = 0;
            for (int j = 0; j < wait_members(w); j++)
                gone |= wait_world(w, j) == r && wait_asks(w, j) && !g_answered[r];
            if (!gone) lowest_alive = r;
        }
        char buf[sizeof(int) + VERDICT_MAX];
        size_t n = strlen(g_broken_msg) + 1;
        memcpy(buf + sizeof(int), g_broken_msg, n);
        for (int r = 0; r < g_wsize; r++) {
            if (r == g_wrank) continue;
            int head = r == lowest_alive;
            memcpy(buf, &head, sizeof head);
            ctl_send(r, TAG_VERDICT, buf, sizeof(int) + n);
        }
        ctl_flush(rg_now_ns() + grace_ns(g_timeout));
        if (lowest_alive == g_wrank) rg_log("%s", g_broken_msg);
    }
    return broken();
}

/* This process stops the job with status (a worker's own non-finite stop)
 * without ending it: the stop verdict, with msg and the note, to every
 * other process (each one's next wait returns status), and this process's
 * ops fail from now on as theirs do.  A verdict that cannot be sent ends
 * the job instead (end_job): a peer left out would wait for its timeout
 * and blame this rank. */
static void stop_job(rg_status status, const char *msg, const void *note, size_t n)
{
    if (atomic_load(&g_broken)) return;
    notes_send();   /* the skips before it: on g_probe, they reach rank 0 first */
    stop_msg v = { .status = (int)status, .note_n = (int)(n <= RG_COMM_NOTE_MAX ? n : 0) };
    memcpy(v.note, note, (size_t)v.note_n);
    snprintf(v.text, sizeof v.text, "%s", msg);
    int sent = g_probe != MPI_COMM_NULL;
    size_t bytes = offsetof(stop_msg, text) + strlen(v.text) + 1;
    for (int r = 0; r < g_wsize && sent; r++)
        sent = r == g_wrank || ctl_send(r, TAG_STOP, &v, bytes);
    if (!sent) end_job(MPI_COMM_WORLD, status, msg);
    set_stop(status, msg, v.note, (size_t)v.note_n);
    ctl_flush(rg_now_ns() + grace_ns(g_timeout));
}

/* Completes w within --comm-timeout.  Spins on MPI_Test for SPIN_NS (a
 * blocking MPI call spins too), then naps, up to 1 ms; meanwhile answers
 * the pings of peers that time out first.  At the timeout less a grace it
 * pings the ranks it waits for; the silent ones are declared failed at the
 * timeout.  If all answer (a peer alive but itself waiting on a failed rank
 * elsewhere, whose verdict comes in its own timeout), it waits one more
 * timeout, then pings every rank of the job, and gives up naming the
 * silent ones (a worker a parameter server waits on), or, if all answer,
 * saying that no rank is silent. */
static rg_status mpi_wait_for(waiter *w)
{
    if (op_begin()) return broken();
    int done = 0, rc = wait_test(w, &done);
    if (rc == MPI_SUCCESS && done) return RG_OK;
    double timeout = g_timeout;
    int64_t t_ns = (int64_t)(timeout * 1e9), grace = grace_ns(timeout);
    int64_t now = rg_now_ns(), start = now, spin_end = now + SPIN_NS, nap_ns = NAP_MIN_NS;
    int64_t probe_at = now + t_ns - grace, answer_by = 0;
    int rounds = 0, err = MPI_SUCCESS;
    for (unsigned i = 1;; i++) {
        if (rc != MPI_SUCCESS) {
            if (err == MPI_SUCCESS) probe_at = now;      /* name the rank if one is gone */
            err = rc;
        } else if (done) {
            return RG_OK;
        }
        if ((i & 63) == 0 || err != MPI_SUCCESS || now >= spin_end) {
            if (op_begin() || probe_service()) return broken();
            now = rg_now_ns();
            if (answer_by) {
                int silent = silent_count(w);
                if (silent == 0 || now >= answer_by) {
                    if (silent || err != MPI_SUCCESS || ++rounds == 2)
                        return declare(w, silent, err, (double)(now - start) * 1e-9);
                    /* those waited for answer, but may wait on a rank that does
                     * not (a parameter server on a stopped worker): the next
                     * round asks every rank, so that one is named */
                    w->world = 1;
                    answer_by = 0;
                    probe_at = now + t_ns - grace;
                }
            } else if (now >= probe_at) {
                if (g_probe == MPI_COMM_NULL) return declare(w, 0, err, (double)(now - start) * 1e-9);
                ping_round(w);
                answer_by = now + grace;
            }
            if (now >= spin_end) {
                nap(nap_ns);
                nap_ns = nap_ns * 2 > NAP_MAX_NS ? NAP_MAX_NS : nap_ns * 2;
            }
        }
        if (err == MPI_SUCCESS) rc = wait_test(w, &done);
    }
}

/* A wait for n requests of c; peer as in waiter. */
static rg_status mpi_complete(rg_comm *c, int n, MPI_Request *r, int peer, const char *what)
{
    waiter w = { .c = c, .what = what, .peer = peer, .n = n, .r = r };
    return mpi_wait_for(&w);
}

/* An MPI call that failed at once, with n requests of the op started (left
 * to MPI): one ping round, so that a silent peer, if any, is named. */
static rg_status mpi_start_failed(rg_comm *c, int rc, int n, MPI_Request *r, const char *what)
{
    if (atomic_load(&g_broken)) return broken();
    waiter w = { .c = c, .what = what, .peer = -1, .n = n, .r = r };
    int64_t now = rg_now_ns();
    ping_round(&w);
    for (int64_t end = now + grace_ns(g_timeout); silent_count(&w) && rg_now_ns() < end; nap(NAP_MIN_NS))
        if (probe_service()) return broken();
    return declare(&w, silent_count(&w), rc, (double)(rg_now_ns() - now) * 1e-9);
}

static void *mpi_scratch(mpi_impl *m, size_t bytes)
{
    if (bytes > m->scratch_bytes) {
        void *p = rg_malloc(bytes);
        if (!p) return NULL;
        rg_free(m->scratch);
        m->scratch = p;
        m->scratch_bytes = bytes;
    }
    return m->scratch;
}

/* Reductions are ours, over point-to-point messages: rank j receives every
 * rank's chunk j, sums them in rank order ((x0 + x1) + x2) + ..., and the
 * sums are gathered (two rounds, a ring's traffic); a short vector goes
 * whole to every rank, which sums all of it (one round).  Either way the
 * result is bitwise the serial rank-order sum on every rank, run to run.
 * Open MPI 4.1's MPI_Iallreduce in place takes a binomial tree on a few
 * ranks, ~1.5x the blocking call's time; this matches the blocking call,
 * and its MPI_Reduce_scatter_block is ~10x slower than this. */
#define RED_SEG ((size_t)1 << 22)       /* elements per segment: bounds the scratch */
#define RED_SHORT 4096                  /* bytes: below, the whole vector goes to everyone */
/* Each reduction has tags of its own, tag and tag + 1 for its two rounds,
 * from the reductions started on the communicator (alike on every rank),
 * so the rounds of reductions in flight together never match each other's
 * messages, whatever order the ranks complete them in. */
#define RED_TAGS 1024
static int red_tag(mpi_impl *m) { return m->tag_ub + 1 + 2 * (int)(m->red_seq++ % RED_TAGS); }

/* The part of rank j in a reduction of len elements (each > 0: blocks of
 * `each`, the reduce_scatter layout; whole: the short form). */
static void red_part(size_t len, size_t each, int whole, int P, int j, size_t *lo, size_t *n)
{
    if (whole) { *lo = 0; *n = len; }
    else if (each) { *lo = (size_t)j * each; *n = each; }
    else { *lo = chunk_lo(len, (size_t)P, (size_t)j); *n = chunk_lo(len, (size_t)P, (size_t)j + 1) - *lo; }
}

/* Round 1: every other rank's part `me` of v into slot j of recv, our part
 * j of v to rank j.  Returns the requests started; *rc the error. */
static int red_start(rg_comm *c, const char *v, size_t len, size_t each, int whole, int dbl, char *recv,
                     int tag, MPI_Request *r, int *rc)
{
    mpi_impl *m = c->impl;
    int P = c->size, me = c->rank, k = 0;
    size_t es = dbl ? sizeof(double) : sizeof(float), lo, n, mlo, mine;
    MPI_Datatype t = dbl ? MPI_DOUBLE : MPI_FLOAT;
    red_part(len, each, whole, P, me, &mlo, &mine);
    *rc = MPI_SUCCESS;
    for (int j = 0; j < P && *rc == MPI_SUCCESS; j++) {
        if (j == me) continue;
        red_part(len, each, whole, P, j, &lo, &n);
        if (mine && (*rc = MPI_Irecv(recv + (size_t)j * mine * es, (int)mine, t, j, tag, m->comm, &r[k])) == MPI_SUCCESS) k++;
        if (n && *rc == MPI_SUCCESS && (*rc = MPI_Isend(v + lo * es, (int)n, t, j, tag, m->comm, &r[k])) == MPI_SUCCESS) k++;
    }
    return k;
}

/* dst[k] = ((src[0][k] + src[1][k]) + ...) for k < n, as sum_rank_order
 * sums, a block at a time, so that dst may be one of the sources. */
static void sum_parts(void *dst, void *const *src, int m, size_t n, int dbl)
{
    enum { B = 512 };
    if (m == 2) {       /* one pass: element k is read before it is written */
        if (dbl) {
            double *d = dst;
            const double *a = src[0], *b = src[1];
            for (size_t k = 0; k < n; k++) d[k] = a[k] + b[k];
        } else {
            float *d = dst;
            const float *a = src[0], *b = src[1];
            for (size_t k = 0; k < n; k++) d[k] = a[k] + b[k];
        }
        return;
    }
    for (size_t k0 = 0; k0 < n; k0 += B) {
        size_t b = n - k0 < B ? n - k0 : B;
        if (dbl) {
            double t[B];
            memcpy(t, (const double *)src[0] + k0, b * sizeof *t);
            for (int i = 1; i < m; i++) {
                const double *s = (const double *)src[i] + k0;
                for (size_t k = 0; k < b; k++) t[k] += s[k];
            }
            memcpy((double *)dst + k0, t, b * sizeof *t);
        } else {
            float t[B];
            memcpy(t, (const float *)src[0] + k0, b * sizeof *t);
            for (int i = 1; i < m; i++) {
                const float *s = (const float *)src[i] + k0;
                for (size_t k = 0; k < b; k++) t[k] += s[k];
            }
            memcpy((float *)dst + k0, t, b * sizeof *t);
        }
    }
}

/* After round 1: the rank-order sum of our part into out, which may be our
 * part of v itself or lie apart from it; else the part is copied first. */
static void red_sum(const rg_comm *c, const char *v, size_t len, size_t each, int whole, int dbl, char *recv, void *out)
{
    int P = c->size, me = c->rank;
    size_t es = dbl ? sizeof(double) : sizeof(float), lo, n;
    red_part(len, each, whole, P, me, &lo, &n);
    void *src[P];
    for (int j = 0; j < P; j++) src[j] = recv + (size_t)j * n * es;
    const char *own = v + lo * es, *o = out;
    if (o == own || o + n * es <= own || own + n * es <= o) src[me] = (void *)own;
    else if (n) memcpy(src[me], own, n * es);
    sum_parts(out, src, P, n, dbl);
}

/* Round 2 of an allreduce (not the short form): every part to every rank. */
static int red_gather(rg_comm *c, char *v, size_t len, int dbl, int tag, MPI_Request *r, int *rc)
{
    mpi_impl *m = c->impl;
    int P = c->size, me = c->rank, k = 0;
    size_t es = dbl ? sizeof(double) : sizeof(float), lo, n, mlo, mine;
    MPI_Datatype t = dbl ? MPI_DOUBLE : MPI_FLOAT;
    red_part(len, 0, 0, P, me, &mlo, &mine);
    *rc = MPI_SUCCESS;
    for (int j = 0; j < P && *rc == MPI_SUCCESS; j++) {
        if (j == me) continue;
        red_part(len, 0, 0, P, j, &lo, &n);
        if (n && (*rc = MPI_Irecv(v + lo * es, (int)n, t, j, tag + 1, m->comm, &r[k])) == MPI_SUCCESS) k++;
        if (mine && *rc == MPI_SUCCESS && (*rc = MPI_Isend(v + mlo * es, (int)mine, t, j, tag + 1, m->comm, &r[k])) == MPI_SUCCESS) k++;
    }
    return k;
}

static size_t red_recv_bytes(const rg_comm *c, size_t len, size_t each, int whole, int dbl)
{
    size_t lo, n;
    red_part(len, each, whole, c->size, c->rank, &lo, &n);
    return (size_t)c->size * (n ? n : 1) * (dbl ? sizeof(double) : sizeof(float));
}

/* One segment of an allreduce, in place, with recv as scratch. */
static rg_status red_segment(rg_comm *c, char *v, size_t len, int dbl, char *recv, MPI_Request *r)
{
    int whole = len * (dbl ? sizeof(double) : sizeof(float)) <= RED_SHORT, rc;
    int tag = red_tag(c->impl), k = red_start(c, v, len, 0, whole, dbl, recv, tag, r, &rc);
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, k, r, "allreduce");
    rg_status st = mpi_complete(c, k, r, -1, "allreduce");
    if (st != RG_OK) return st;
    size_t lo, n;
    red_part(len, 0, whole, c->size, c->rank, &lo, &n);
    red_sum(c, v, len, 0, whole, dbl, recv, v + lo * (dbl ? sizeof(double) : sizeof(float)));
    if (whole) return RG_OK;
    k = red_gather(c, v, len, dbl, tag, r, &rc);
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, k, r, "allreduce");
    return mpi_complete(c, k, r, -1, "allreduce");
}

/* A non-blocking allreduce: round 1 started, the rest when it completes,
 * at its wait or at the next collective or recv on its communicator, which
 * completes every pending one first, in the order they were started: round
 * 2 starts only when a rank gets there, so a rank must not wait in another
 * op for a peer that waits for that round.  A vector of more than one
 * segment completes at the call (NULL request). */
typedef struct mpi_req {
    struct mpi_req *next;       /* the communicator's pending ones, oldest first */
    float *buf;
    size_t n;
    rg_reduce_op op;
    int whole, tag, nreq, done;
    rg_status st;
    char *recv;
    MPI_Request r[];
} mpi_req;

static rg_status req_finish(rg_comm *c, mpi_req *q)
{
    rg_status st = mpi_complete(c, q->nreq, q->r, -1, "allreduce");
    if (st == RG_OK) {
        size_t lo, n;
        red_part(q->n, 0, q->whole, c->size, c->rank, &lo, &n);
        red_sum(c, (const char *)q->buf, q->n, 0, q->whole, 0, q->recv, q->buf + lo);
        if (!q->whole) {
            int rc, k = red_gather(c, (char *)q->buf, q->n, 0, q->tag, q->r, &rc);
            st = rc != MPI_SUCCESS ? mpi_start_failed(c, rc, k, q->r, "allreduce") : mpi_complete(c, k, q->r, -1, "allreduce");
        }
    }
    if (st == RG_OK && q->op == RG_REDUCE_AVG) divide(q->buf, q->n, c->size, 0);
    q->done = 1;
    q->st = st;
    return st;
}

/* Completes the pending allreduces, oldest first, up to `last` (NULL: all). */
static rg_status pending_finish(rg_comm *c, mpi_req *last)
{
    mpi_impl *m = c->impl;
    while (m->pending) {
        mpi_req *q = m->pending;
        m->pending = q->next;
        rg_status st = req_finish(c, q);
        if (st != RG_OK) return st;
        if (q == last) break;
    }
    return RG_OK;
}
#define PENDING_FIRST(c) do { \
    if (((mpi_impl *)(c)->impl)->pending) { rg_status st_ = pending_finish((c), NULL); if (st_ != RG_OK) return st_; } \
} while (0)

/* Reductions through shared memory.  When every rank of a communicator is
 * on one machine, an allreduce of more than RED_SHORT bytes goes through a
 * window from MPI_Win_allocate_shared instead of messages: each rank copies
 * its vector into its slot and raises its counter; once every counter is
 * up, each sums its chunk of the slots in rank order into the result area
 * (the bits of the message path) and raises its counter again; once all
 * are up, each copies the result out.  The next reduction's first wait
 * tells a rank that everyone has read the result, so there are two waits a
 * segment of SHM_SLOT bytes.  The waits are mpi_wait_for's, with
 * --comm-timeout, pings and verdicts.  The window is made at the first
 * such reduction (after a timed barrier, since the calls that make it
 * block), every rank agreeing; REGULA_MPI_SHM=0 when a communicator is
 * made keeps it on messages.  Windows
 * are freed at rg_comm_mpi_finalize after its timed barrier, in the order
 * they were made (MPI_Win_free waits for the window's every rank). */
#define SHM_SLOT ((size_t)4 << 20)      /* bytes a rank's slot holds at most */
#define SHM_LINE 64                     /* one counter per cache line */
typedef struct shm_area {
    struct shm_area *next;              /* every window made, oldest first */
    MPI_Win win;
    MPI_Comm node;
    char *base;                         /* P counters, P slots, the result */
    size_t slot;                        /* bytes in a slot */
    uint64_t seq;                       /* how often this rank raised its counter */
} shm_area;
static shm_area *g_shm;

static rg_status mpi_barrier(rg_comm *c);
static rg_status mpi_allreduce_any(rg_comm *c, void *buf, size_t n, rg_reduce_op op, int dbl);

static _Atomic uint64_t *shm_counter(const shm_area *s, int j) { return (_Atomic uint64_t *)(void *)(s->base + (size_t)j * SHM_LINE); }
static char *shm_slot(const shm_area *s, int P, int j) { return s->base + (size_t)P * SHM_LINE + (size_t)j * s->slot; }

static int shm_all_up(const shm_area *s, int P)
{
    for (int j = 0; j < P; j++)
        if (atomic_load_explicit(shm_counter(s, j), memory_order_acquire) < s->seq) return 0;
    return 1;
}

/* Raises our counter and waits for everyone's. */
static rg_status shm_step(rg_comm *c, shm_area *s)
{
    atomic_store_explicit(shm_counter(s, c->rank), ++s->seq, memory_order_release);
    if (shm_all_up(s, c->size)) return RG_OK;
    waiter w = { .c = c, .what = "allreduce (shared memory)", .peer = -1, .n = 0, .shm = s };
    return mpi_wait_for(&w);
}

/* The window for slots of `slot` bytes; NULL when MPI could not make it
 * here.  Every rank makes the collective call, whatever fails around it.
 * MPI aligns a window to less than a cache line: the area starts at the
 * first line boundary in it (the same offset in every process, whose
 * mappings all start at a page). */
static shm_area *shm_make(rg_comm *c, MPI_Comm node, size_t slot)
{
    int P = c->size, unit;
    MPI_Aint bytes = c->rank == 0 ? (MPI_Aint)((size_t)(P + 1) * SHM_LINE + (size_t)(P + 1) * slot) : 0, got;
    MPI_Win win;
    char *mine, *base = NULL;
    block_arm(c, "MPI_Win_allocate_shared");
    int rc = MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, node, &mine, &win);
    block_disarm();
    if (rc != MPI_SUCCESS) return NULL;
    MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN);
    shm_area *s = rg_calloc(1, sizeof *s);
    if (!s || MPI_Win_shared_query(win, 0, &got, &unit, &base) != MPI_SUCCESS || !base) {
        rg_free(s);     /* the window is left to MPI: freeing it would wait for every rank */
        return NULL;
    }
    s->win = win;
    s->base = base + (SHM_LINE - (uintptr_t)base % SHM_LINE) % SHM_LINE;
    if (c->rank == 0)
        for (int j = 0; j < P; j++) atomic_init(shm_counter(s, j), 0);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
    s->node = node;
    s->slot = slot;
    return s;
}

/* 1 when every rank of c voted yes (a timed sum over messages). */
static int shm_agree(rg_comm *c, int yes, rg_status *st)
{
    float v = yes ? 1.0f : 0.0f;
    *st = mpi_allreduce_any(c, &v, 1, RG_REDUCE_SUM, 0);
    return *st == RG_OK && v == (float)c->size;
}

/* The bytes of a slot for vectors of `bytes`: a power of two from 256 KiB
 * to SHM_SLOT, so that a communicator grows its window a few times at most. */
static size_t shm_slot_for(size_t bytes)
{
    size_t slot = (size_t)256 << 10;
    while (slot < bytes && slot < SHM_SLOT) slot *= 2;
    return slot;
}

/* Makes m->shm ready for `bytes` a rank, or decides on messages for good.
 * Every rank makes every collective call (the split, the window) and then
 * votes, so ranks that differ (REGULA_MPI_SHM, a failed allocation) agree
 * on messages instead of waiting in different calls. */
static rg_status shm_ready(rg_comm *c, size_t bytes)
{
    mpi_impl *m = c->impl;
    size_t slot = shm_slot_for(bytes);
    if (m->shm && m->shm->slot >= slot) return RG_OK;
    rg_status st = mpi_barrier(c);      /* the calls below block: everyone is there first */
    if (st != RG_OK) return st;
    MPI_Comm node = MPI_COMM_NULL;
    if (m->shm) {
        node = m->shm->node;            /* grow: the old window goes, its node stays */
        MPI_Win_unlock_all(m->shm->win);
        block_arm(c, "MPI_Win_free");
        MPI_Win_free(&m->shm->win);
        block_disarm();
        shm_area **p = &g_shm;
        while (*p != m->shm) p = &(*p)->next;
        *p = m->shm->next;
        rg_free(m->shm);
        m->shm = NULL;
    } else {
        int size = 0;
        block_arm(c, "MPI_Comm_split_type");
        int rc = MPI_Comm_split_type(m->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        block_disarm();
        if (rc == MPI_SUCCESS) MPI_Comm_size(node, &size);
        if (!shm_agree(c, m->shm_want && size == c->size, &st)) {
            if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
            m->shm_state = -1;
            return st;
        }
    }
    shm_area *s = shm_make(c, node, slot);
    if (!shm_agree(c, s != NULL, &st)) {
        /* Not every rank has the window: it is left to MPI (MPI_Win_free
         * would wait for the ranks without it), and so is node. */
        if (s) MPI_Win_unlock_all(s->win);
        rg_free(s);
        m->shm_state = -1;
        return st;
    }
    shm_area **p = &g_shm;
    while (*p) p = &(*p)->next;
    *p = m->shm = s;
    m->shm_state = 1;
    return RG_OK;
}

/* One segment of an allreduce through the window, in place. */
static rg_status shm_segment(rg_comm *c, char *v, size_t len, int dbl)
{
    shm_area *s = ((mpi_impl *)c->impl)->shm;
    int P = c->size, me = c->rank;
    size_t es = dbl ? sizeof(double) : sizeof(float);
    size_t lo = chunk_lo(len, (size_t)P, (size_t)me), n = chunk_lo(len, (size_t)P, (size_t)me + 1) - lo;
    char *result = shm_slot(s, P, P);
    memcpy(shm_slot(s, P, me), v, len * es);
    rg_status st = shm_step(c, s);      /* every vector is in, and the last result read */
    if (st != RG_OK) return st;
    void *src[P];
    for (int j = 0; j < P; j++) src[j] = shm_slot(s, P, j) + lo * es;
    sum_parts(result + lo * es, src, P, n, dbl);
    st = shm_step(c, s);                /* every chunk is summed */
    if (st != RG_OK) return st;
    memcpy(v, result, len * es);
    return RG_OK;
}

/* 1 (and *st RG_OK) when this allreduce goes through shared memory. */
static int shm_use(rg_comm *c, size_t bytes, rg_status *st)
{
    mpi_impl *m = c->impl;
    *st = RG_OK;
    if (c->size == 1 || bytes <= RED_SHORT || m->shm_state < 0) return 0;
    *st = shm_ready(c, bytes);
    return *st == RG_OK && m->shm_state > 0;
}

static rg_status shm_allreduce(rg_comm *c, char *buf, size_t n, int dbl)
{
    size_t es = dbl ? sizeof(double) : sizeof(float), per = ((mpi_impl *)c->impl)->shm->slot / es;
    for (size_t off = 0; off < n; off += per) {
        rg_status st = shm_segment(c, buf + off * es, n - off < per ? n - off : per, dbl);
        if (st != RG_OK) return st;
    }
    return RG_OK;
}

/* At finalize, after its timed barrier: every window, oldest first. */
static void shm_free_all(void)
{
    while (g_shm) {
        shm_area *s = g_shm;
        g_shm = s->next;
        MPI_Win_unlock_all(s->win);
        MPI_Win_free(&s->win);
        if (s->node != MPI_COMM_NULL) MPI_Comm_free(&s->node);
        rg_free(s);
    }
}

static rg_status mpi_allreduce_any(rg_comm *c, void *buf, size_t n, rg_reduce_op op, int dbl)
{
    mpi_impl *m = c->impl;
    if (atomic_load(&g_broken)) return broken();
    PENDING_FIRST(c);
    size_t es = dbl ? sizeof(double) : sizeof(float);
    rg_status st0;
    if (shm_use(c, n * es, &st0)) {
        rg_status st = shm_allreduce(c, buf, n, dbl);
        if (st != RG_OK) return st;
    } else if (st0 != RG_OK) {
        return st0;
    } else if (c->size > 1 && n > 0) {
        size_t seg0 = n < RED_SEG ? n : RED_SEG;
        char *recv = mpi_scratch(m, red_recv_bytes(c, seg0, 0, seg0 * es <= RED_SHORT, dbl));
        if (!recv) return rg_error(RG_ENOMEM, "rank %d: out of memory for an allreduce of %zu elements", c->rank, n);
        for (size_t off = 0; off < n; off += RED_SEG) {
            size_t len = n - off < RED_SEG ? n - off : RED_SEG;
            rg_status st = red_segment(c, (char *)buf + off * es, len, dbl, recv, m->reqs);
            if (st != RG_OK) return st;
        }
    }
    if (op == RG_REDUCE_AVG) divide(buf, n, c->size, dbl);
    return RG_OK;
}

static rg_status mpi_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op) { return mpi_allreduce_any(c, buf, n, op, 0); }
static rg_status mpi_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op) { return mpi_allreduce_any(c, buf, n, op, 1); }

/* Segments keep every MPI count an int. */
#define MPI_SEG ((size_t)1 << 30)

static rg_status mpi_broadcast(rg_comm *c, void *buf, size_t bytes, int root)
{
    mpi_impl *m = c->impl;
    if (root < 0 || root >= c->size)
        return rg_error(RG_EUSAGE, "broadcast from rank %d in a world of %d", root, c->size);
    if (atomic_load(&g_broken)) return broken();
    PENDING_FIRST(c);
    for (size_t off = 0; off < bytes; off += MPI_SEG) {
        size_t len = bytes - off < MPI_SEG ? bytes - off : MPI_SEG;
        int rc = MPI_Ibcast((char *)buf + off, (int)len, MPI_BYTE, root, m->comm, m->reqs);
        if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, 0, m->reqs, "broadcast");
        rg_status st = mpi_complete(c, 1, m->reqs, -1, "broadcast");
        if (st != RG_OK) return st;
    }
    return RG_OK;
}

static rg_status mpi_allgather(rg_comm *c, const float *in, size_t n, float *out)
{
    mpi_impl *m = c->impl;
    if (n > INT_MAX) return rg_error(RG_EUSAGE, "allgather of %zu floats per rank: MPI counts stop at %d", n, INT_MAX);
    if (n == 0) return RG_OK;
    if (atomic_load(&g_broken)) return broken();
    PENDING_FIRST(c);
    /* In place: our block first, so `in` may alias any part of `out`. */
    float *mine = out + (size_t)c->rank * n;
    if (in != mine) memmove(mine, in, n * sizeof *in);
    int rc = MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, (int)n, MPI_FLOAT, m->comm, m->reqs);
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, 0, m->reqs, "allgather");
    return mpi_complete(c, 1, m->reqs, -1, "allgather");
}

static rg_status mpi_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    mpi_impl *m = c->impl;
    if (n_each > INT_MAX) return rg_error(RG_EUSAGE, "reduce_scatter of %zu floats per rank: MPI counts stop at %d", n_each, INT_MAX);
    if (n_each == 0) return RG_OK;
    if (atomic_load(&g_broken)) return broken();
    PENDING_FIRST(c);
    size_t bytes;
    char *recv = rg_mul_ok((size_t)c->size * sizeof(float), n_each, &bytes) ? mpi_scratch(m, bytes) : NULL;
    if (!recv) return rg_error(RG_ENOMEM, "rank %d: out of memory for a reduce_scatter of %zu floats per rank", c->rank, n_each);
    int rc, k = red_start(c, (const char *)in, n_each * (size_t)c->size, n_each, 0, 0, recv, red_tag(m), m->reqs, &rc);
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, k, m->reqs, "reduce_scatter");
    /* out may alias in: written only once every send is done */
    rg_status st = mpi_complete(c, k, m->reqs, -1, "reduce_scatter");
    if (st != RG_OK) return st;
    red_sum(c, (const char *)in, n_each * (size_t)c->size, n_each, 0, 0, recv, out);
    if (op == RG_REDUCE_AVG) divide(out, n_each, c->size, 0);
    return RG_OK;
}

static rg_status mpi_barrier(rg_comm *c)
{
    mpi_impl *m = c->impl;
    if (atomic_load(&g_broken)) return broken();
    PENDING_FIRST(c);
    int rc = MPI_Ibarrier(m->comm, m->reqs);
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, 0, m->reqs, "barrier");
    return mpi_complete(c, 1, m->reqs, -1, "barrier");
}

/* Waits (timed) for the outstanding sends of m. */
static rg_status sends_complete(rg_comm *c)
{
    mpi_impl *m = c->impl;
    while (m->sends) {
        mpi_send *x = m->sends;
        rg_status st = mpi_complete(c, 1, &x->r, -1, "sending");
        if (st != RG_OK) return st;
        m->sends = x->next;
        rg_free(x);
    }
    return RG_OK;
}

static void mpi_free(rg_comm *c)
{
    mpi_impl *m = c->impl;
    int done = 0;
    if (!atomic_load(&g_broken)) MPI_Finalized(&done);
    if (!atomic_load(&g_broken) && !done) rg_comm_mpi_abort_asked();
    if (!atomic_load(&g_broken) && !done) sends_complete(c);
    if (!atomic_load(&g_broken) && !done && m->comm != MPI_COMM_NULL) MPI_Comm_free(&m->comm);
    if (atomic_load(&g_broken)) {
        /* MPI may still name the scratch, the sends and the requests */
        keep(m);
    } else {
        mpi_send *x = m->sends;
        while (x) { mpi_send *next = x->next; rg_free(x); x = next; }
        rg_free(m->world);
        rg_free(m->reqs);
        rg_free(m->scratch);
        rg_free(m);
    }
    rg_free(c);
}

/* Takes ownership of comm (freed on failure too). */
static rg_status mpi_wrap(MPI_Comm comm, int deterministic, rg_comm **out)
{
    rg_comm *c = rg_calloc(1, sizeof *c);
    mpi_impl *m = rg_calloc(1, sizeof *m);
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (m) {
        m->comm = comm;
        m->world = rg_calloc((size_t)size, sizeof(int));
        m->reqs = rg_calloc(2 * (size_t)size, sizeof(MPI_Request));
    }
    MPI_Group g = MPI_GROUP_NULL, wg = MPI_GROUP_NULL;
    int ok = c && m && m->world && m->reqs;
    if (ok) {
        int *ids = rg_calloc((size_t)size, sizeof(int));
        ok = ids && MPI_Comm_group(comm, &g) == MPI_SUCCESS && MPI_Comm_group(MPI_COMM_WORLD, &wg) == MPI_SUCCESS;
        for (int j = 0; ok && j < size; j++) ids[j] = j;
        ok = ok && MPI_Group_translate_ranks(g, size, ids, wg, m->world) == MPI_SUCCESS;
        if (g != MPI_GROUP_NULL) MPI_Group_free(&g);
        if (wg != MPI_GROUP_NULL) MPI_Group_free(&wg);
        rg_free(ids);
    }
    if (!ok) {
        if (m) { rg_free(m->world); rg_free(m->reqs); }
        rg_free(m);
        rg_free(c);
        MPI_Comm_free(&comm);
        return rg_error(RG_ENOMEM, "out of memory creating an MPI communicator of %d ranks", size);
    }
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    int *ub = NULL, has = 0;
    MPI_Comm_get_attr(comm, MPI_TAG_UB, &ub, &has);
    m->tag_ub = (has && ub ? *ub : 32767) - 2 * RED_TAGS;     /* the standard's minimum, less ours */
    m->deterministic = deterministic;
    const char *e = getenv("REGULA_MPI_SHM");
    /* the counters are atomics shared between processes: lock-free ones only */
    m->shm_want = !(e && !strcmp(e, "0")) && ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2;
    c->ops = &mpi_ops;
    c->rank = rank;
    c->size = size;
    c->impl = m;
    *out = c;
    return RG_OK;
}

static rg_status mpi_split(rg_comm *c, int color, int key, rg_comm **out)
{
    mpi_impl *m = c->impl;
    MPI_Comm sub = MPI_COMM_NULL;
    /* MPI_Comm_split has no timed form: a timed barrier first, so that every
     * rank is known to be there, which leaves only a failure in between. */
    rg_status st = mpi_barrier(c);
    if (st != RG_OK) return st;
    /* A negative color still takes part (MPI_UNDEFINED), so peers do not hang. */
    block_arm(c, "MPI_Comm_split");
    int rc = MPI_Comm_split(m->comm, color < 0 ? MPI_UNDEFINED : color, key, &sub);
    block_disarm();
    if (rc != MPI_SUCCESS) return mpi_start_failed(c, rc, 0, m->reqs, "split");
    if (color < 0) return rg_error(RG_EUSAGE, "rank %d: split color %d: colors must be >= 0", c->rank, color);
    return mpi_wrap(sub, m->deterministic, out);
}

static rg_status mpi_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    mpi_impl *m = c->impl;
    *req = NULL;
    if (n > RED_SEG || n == 0 || c->size == 1 || (m->shm_state >= 0 && n * sizeof(float) > RED_SHORT))
        return mpi_allreduce_any(c, buf, n, op, 0);    /* shared memory, or more than a segment: at the call */
    if (atomic_load(&g_broken)) return broken();
    int whole = n * sizeof(float) <= RED_SHORT;
    size_t bytes = red_recv_bytes(c, n, 0, whole, 0);
    mpi_req *q = rg_calloc(1, sizeof *q + 2 * (size_t)c->size * sizeof(MPI_Request));
    char *recv = rg_malloc(bytes);
    if (!q || !recv) {
        rg_free(q);
        rg_free(recv);
        return rg_error(RG_ENOMEM, "rank %d: out of memory starting an allreduce", c->rank);
    }
    q->buf = buf;
    q->n = n;
    q->op = op;
    q->whole = whole;
    q->recv = recv;
    q->tag = red_tag(m);
    int rc;
    q->nreq = red_start(c, (const char *)buf, n, 0, whole, 0, recv, q->tag, q->r, &rc);
    if (rc != MPI_SUCCESS) {
        keep(q);
        keep(recv);
        return mpi_start_failed(c, rc, q->nreq, q->r, "allreduce");
    }
    mpi_req **tail = &m->pending;
    while (*tail) tail = &(*tail)->next;
    *tail = q;
    *req = (rg_comm_req *)q;
    return RG_OK;
}

static rg_status mpi_wait(rg_comm *c, rg_comm_req *req)
{
    mpi_req *q = (mpi_req *)req;
    rg_status st = q->done ? q->st : pending_finish(c, q);
    if (!(q->done && q->st == RG_OK) && atomic_load(&g_broken)) {
        /* MPI may still name them */
        keep(q);
        keep(q->recv);
        return st != RG_OK ? st : broken();
    }
    rg_free(q->recv);
    rg_free(q);
    return st;
}

static rg_status mpi_check_peer(const rg_comm *c, const char *what, int peer, int tag, size_t bytes)
{
    const mpi_impl *m = c->impl;
    if (peer < 0 || peer >= c->size) return rg_error(RG_EUSAGE, "%s rank %d in a world of %d", what, peer, c->size);
    if (tag < 0 || tag > m->tag_ub) return rg_error(RG_EUSAGE, "%s rank %d: tag %d is outside 0..%d", what, peer, tag, m->tag_ub);
    if (bytes > INT_MAX) return rg_error(RG_EUSAGE, "%s rank %d: %zu bytes, MPI messages stop at %d", what, peer, bytes, INT_MAX);
    return RG_OK;
}

/* Copies the pieces into one buffer and returns: MPI_Send may wait for
 * the receiver (rendezvous), and the interface promises that any order of
 * sends and receives works. */
static rg_status mpi_sendv_op(rg_comm *c, const rg_piece *v, int n, int dst, int tag)
{
    mpi_impl *m = c->impl;
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        if (!rg_add_ok(bytes, v[i].bytes, &bytes)) return rg_error(RG_EUSAGE, "send to rank %d: size overflows", dst);
    rg_status st = mpi_check_peer(c, "send to", dst, tag, bytes);
    if (st != RG_OK) return st;
    if (op_begin()) return broken();
    sends_reap(&m->sends);
    mpi_send *x = rg_malloc(sizeof *x + bytes);
    if (!x) return rg_error(RG_ENOMEM, "rank %d: out of memory sending %zu bytes to rank %d", c->rank, bytes, dst);
    for (size_t at = 0, i = 0; i < (size_t)n; at += v[i].bytes, i++)
        if (v[i].bytes) memcpy(x->data + at, v[i].base, v[i].bytes);
    int rc = MPI_Isend(x->data, (int)bytes, MPI_BYTE, dst, tag, m->comm, &x->r);
    if (rc != MPI_SUCCESS) {
        rg_free(x);
        return mpi_start_failed(c, rc, 0, NULL, "send");
    }
    x->next = m->sends;
    m->sends = x;
    return RG_OK;
}

static rg_status mpi_send_op(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    rg_piece v = { (void *)(uintptr_t)buf, bytes };
    return mpi_sendv_op(c, &v, 1, dst, tag);
}

static rg_status mpi_recv_op(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    mpi_impl *m = c->impl;
    rg_status st = mpi_check_peer(c, "recv from", src, tag, bytes);
    if (st != RG_OK) return st;
    PENDING_FIRST(c);
    /* Probe first: a message of the wrong size is still consumed whole. */
    waiter w = { .c = c, .what = "recv", .peer = src, .n = -1, .src = src, .tag = tag };
    if ((st = mpi_wait_for(&w)) != RG_OK) return st;
    int count = 0;
    MPI_Get_count(&w.status, MPI_BYTE, &count);
    int fits = count >= 0 && (size_t)count == bytes;
    void *into = fits ? buf : rg_malloc(count > 0 ? (size_t)count : 1);
    if (!into) return rg_error(RG_ENOMEM, "rank %d: out of memory discarding a %d-byte message", c->rank, count);
    int rc = MPI_Imrecv(into, count, MPI_BYTE, &w.msg, m->reqs);
    st = rc != MPI_SUCCESS ? mpi_start_failed(c, rc, 0, m->reqs, "recv") : mpi_complete(c, 1, m->reqs, src, "recv");
    if (st != RG_OK) { if (!fits) keep(into); return st; }
    if (!fits) rg_free(into);
    sends_reap(&m->sends);
    if (!fits)
        return rg_error(RG_ECOMM, "rank %d: recv from rank %d (tag %d) expected %zu bytes, the message has %d",
                        c->rank, src, tag, bytes, count);
    return RG_OK;
}

static rg_status mpi_probe_op(rg_comm *c, int src, int tag, int *ready)
{
    mpi_impl *m = c->impl;
    rg_status st = mpi_check_peer(c, "probe of", src, tag, 0);
    if (st != RG_OK) return st;
    if (op_begin()) return broken();
    probe_service();   /* a rank that polls answers pings like one that waits */
    int flag = 0;
    if (MPI_Iprobe(src, tag, m->comm, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return rg_error(RG_ECOMM, "rank %d: MPI_Iprobe of rank %d failed", c->rank, src);
    *ready = flag != 0;
    return RG_OK;
}

/* MPI cannot wake a peer blocked inside a collective (the standard has no
 * fault tolerance), and a job that hangs is the worse failure, so this ends
 * the whole job (end_job); with a note (a worker's own stop, which leaves
 * no peer blocked for good: each waits in our loop) it tells every process
 * instead (stop_job).  Called by the thread that calls MPI; any other
 * thread asks it to (rg_comm_mpi_abort_later). */
static rg_status mpi_abort(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg ? msg : "");
    /* After a timeout every process has the verdict and stops by itself,
     * with the status returned; MPI is not called again. */
    if (atomic_load(&g_broken)) return rg_error(status, "%s", copy);
    if (note && bytes) {
        stop_job(status, copy, note, bytes);
        return rg_error(status, "%s", copy);
    }
    end_job(((mpi_impl *)c->impl)->comm, status, copy);
    return rg_error(status, "%s", copy);      /* not reached */
}

int rg_comm_mpi_abort_later(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    /* --link wraps the process communicator: its abort would call MPI */
    for (rg_comm *in; (in = rg_comm_link_inner(c));) c = in;
    if (c->ops != &mpi_ops) return 0;
    int expect = 0;
    if (atomic_compare_exchange_strong(&g_asked, &expect, 1)) {
        g_asked_status = status;
        snprintf(g_asked_msg, sizeof g_asked_msg, "%s", msg ? msg : "");
        g_asked_note_n = note && bytes <= RG_COMM_NOTE_MAX ? bytes : 0;
        if (g_asked_note_n) memcpy(g_asked_note, note, g_asked_note_n);
        atomic_store(&g_asked, 2);      /* after the message: the MPI thread reads both */
    }
    return 1;
}

static const rg_comm_ops mpi_ops = {
    mpi_allreduce, mpi_allreduce_f64, mpi_broadcast, mpi_allgather,
    mpi_reduce_scatter, mpi_barrier, mpi_split, mpi_free,
    mpi_iallreduce, mpi_wait, mpi_send_op, mpi_recv_op, mpi_abort, mpi_probe_op,
    mpi_sendv_op, NULL /* recvv: staged by the front door */, NULL /* idle: a nap */
};

/* Open MPI and MPICH install side by side (Debian): a regula linked
 * against one but started by the other's mpiexec comes up as N worlds of
 * one, each training alone and writing the same files.  The launcher says
 * how many processes it started; MPI must see as many. */
static rg_status launcher_agrees(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *e = getenv(vars[i]);
        char *end;
        long want = e && *e ? strtol(e, &end, 10) : 0;
        if (want <= 0 || *end) continue;
        int size = 0, len = 0;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size == want) return RG_OK;
        char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
        MPI_Get_library_version(lib, &len);
        lib[strcspn(lib, ",\n")] = '\0';
        for (char *q = lib; *q; q++) if (*q == '\t') *q = ' ';      /* MPICH's "Version:\t4.0.2" */
        return rg_error(RG_EUSAGE, "the launcher started %ld processes (%s=%s) but MPI sees %d: this regula is linked "
                        "against %s; start it with that MPI's mpiexec", want, vars[i], e, size, lib);
    }
    return RG_OK;
}

rg_status rg_comm_mpi_init(int *argc, char ***argv)
{
    int inited = 0, done = 0, provided = 0;
    MPI_Finalized(&done);
    if (done) return rg_error(RG_EUSAGE, "MPI was already finalized; it cannot be started twice in one process");
    MPI_Initialized(&inited);
    if (inited) {
        MPI_Query_thread(&provided);
    } else {
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) return rg_error(RG_ECOMM, "MPI_Init_thread failed (error %d)", rc);
        g_mpi_inited_by_us = 1;
    }
    if (provided < MPI_THREAD_SERIALIZED)
        return rg_error(RG_ECOMM, "this MPI library offers thread level %d; regula needs MPI_THREAD_SERIALIZED (%d) "
                        "so that a worker thread can lead a process's collectives", provided, MPI_THREAD_SERIALIZED);
    return launcher_agrees();
}

rg_status rg_comm_mpi_world(rg_comm **out)
{
    int inited = 0, done = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&done);
    if (!inited || done) return rg_error(RG_EUSAGE, "MPI is not running: call rg_comm_mpi_init first");
    if (atomic_load(&g_broken)) return broken();
    MPI_Comm dup = MPI_COMM_NULL, probe = MPI_COMM_NULL;
    MPI_Request r[2];
    int n = 0, first = g_probe == MPI_COMM_NULL;
    /* the first call also makes the probe communicator */
    int rc = first ? MPI_Comm_idup(MPI_COMM_WORLD, &probe, &r[n++]) : MPI_SUCCESS;
    if (rc == MPI_SUCCESS) rc = MPI_Comm_idup(MPI_COMM_WORLD, &dup, &r[n++]);
    if (rc != MPI_SUCCESS) return rg_error(RG_ECOMM, "MPI_Comm_idup(MPI_COMM_WORLD) failed (error %d)", rc);
    if (first) {
        MPI_Comm_rank(MPI_COMM_WORLD, &g_wrank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_wsize);
        rg_free(g_answered);
        if (!(g_answered = rg_calloc((size_t)g_wsize, 1)))
            return rg_error(RG_ENOMEM, "out of memory starting MPI with %d ranks", g_wsize);
    }
    waiter w = { .c = NULL, .what = "MPI_Comm_idup(MPI_COMM_WORLD)", .peer = -1, .n = n, .r = r };
    rg_status st = mpi_wait_for(&w);
    if (st != RG_OK) return st;
    if (first) {
        MPI_Comm_set_errhandler(probe, MPI_ERRORS_RETURN);
        g_probe = probe;
    }
    return mpi_wrap(dup, 0, out);
}

size_t rg_comm_mpi_stop_note(void *note, size_t bytes)
{
    if (!atomic_load(&g_broken) || !g_stop || bytes < g_note_n) return 0;
    memcpy(note, g_note, g_note_n);
    return g_note_n;
}

/* After a stop verdict: rank 0 (the log's) says goodbye, done with its
 * log and messages; the others wait for that, answering pings, since the
 * launcher ends the job at the first exit with a failure code.  No goodbye
 * within --comm-timeout: the job ends here (MPI_Abort), so nothing hangs. */
static void stop_farewell(void)
{
    int64_t until = rg_now_ns() + (int64_t)(g_timeout * 1e9);
    if (g_wrank == 0) {
        int bye = 0;
        stall_hook("goodbye");      /* tests: a rank 0 that never says it */
        for (int r = 1; r < g_wsize; r++) ctl_send(r, TAG_BYE, &bye, sizeof bye);
        ctl_flush(until);
        return;
    }
    while (!g_bye && rg_now_ns() < until) {
        probe_service();
        if (!g_bye) nap(NAP_MAX_NS);
    }
    if (!g_bye) {
        char msg[VERDICT_MAX + 96];
        snprintf(msg, sizeof msg, "rank %d: rank 0 did not end the stop within %g s (--comm-timeout): %s", g_wrank,
                 g_timeout, g_broken_msg);
        end_job(MPI_COMM_WORLD, g_broken_status, msg);
    }
    ctl_flush(rg_now_ns() + grace_ns(g_timeout));
}

void rg_comm_mpi_finalize(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done) rg_comm_mpi_abort_asked();       /* before the barrier, which the asker's peers may never join */
    if (!done && g_stop && g_probe != MPI_COMM_NULL) stop_farewell();
    if (g_mpi_inited_by_us && !done && g_probe != MPI_COMM_NULL && !atomic_load(&g_broken)) {
        /* MPI_Finalize waits for every process with no timeout: a timed
         * barrier first finds a peer that stopped after the last collective */
        MPI_Request r;
        waiter w = { .c = NULL, .what = "the barrier before MPI_Finalize", .peer = -1, .n = 1, .r = &r };
        if (MPI_Ibarrier(g_probe, &r) != MPI_SUCCESS) become_broken(RG_ECOMM, "MPI_Ibarrier before MPI_Finalize failed");
        else mpi_wait_for(&w);
        if (!atomic_load(&g_broken)) {
            ctl_flush(rg_now_ns() + grace_ns(g_timeout));
            block_arm(NULL, "MPI_Finalize");     /* and the windows' MPI_Win_free */
            shm_free_all();
            MPI_Comm_free(&g_probe);
        }
    }
    /* after a failure MPI_Finalize could wait forever for the failed rank */
    if (g_mpi_inited_by_us && !done && !atomic_load(&g_broken)) MPI_Finalize();
    block_disarm();
    g_mpi_inited_by_us = 0;
}

void rg_comm_mpi_set_timeout(double seconds) { g_timeout = seconds; }
void rg_comm_mpi_service(void)
{
    if (!op_begin()) probe_service();
}

int rg_comm_mpi_shared_memory(const rg_comm *c)
{
    return c->ops == &mpi_ops && ((const mpi_impl *)c->impl)->shm_state > 0;
}

void rg_comm_mpi_note_deterministic(rg_comm *c, int on)
{
    if (c->ops == &mpi_ops) ((mpi_impl *)c->impl)->deterministic = on != 0;
}

#else /* !RG_HAVE_MPI */

int rg_comm_mpi_available(void) { return 0; }
int rg_comm_mpi_shared_memory(const rg_comm *c) { (void)c; return 0; }
static rg_status no_mpi(void)
{
    return rg_error(RG_EUSAGE, "this regula was built without MPI; install an MPI (Debian: libopenmpi-dev openmpi-bin) and rebuild");
}
rg_status rg_comm_mpi_init(int *argc, char ***argv) { return no_mpi(); }
rg_status rg_comm_mpi_world(rg_comm **out) { return no_mpi(); }
void rg_comm_mpi_finalize(void) {}
void rg_comm_mpi_set_timeout(double seconds) { (void)seconds; }
void rg_comm_mpi_service(void) {}
rg_status rg_comm_mpi_halted(void) { return RG_OK; }
void rg_comm_mpi_note_deterministic(rg_comm *c, int on) {}
int rg_comm_mpi_abort_later(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes) { return 0; }
size_t rg_comm_mpi_stop_note(void *note, size_t bytes) { (void)note; (void)bytes; return 0; }
int rg_comm_mpi_post(const void *note, size_t bytes) { (void)note; (void)bytes; return 0; }
size_t rg_comm_mpi_take(void *note, size_t bytes) { (void)note; (void)bytes; return 0; }
void rg_comm_mpi_abort_asked(void) {}

#endif /* RG_HAVE_MPI */
