/*
 * comm.h — layer 3, internal: the communicator.  Strategies talk to peers
 * only through this interface; the math below never sees it.  A backend
 * fills in the ops table.  The `self` backend is a world of one: every
 * collective is the identity, so single-worker training runs the same code
 * path as N workers.
 */
#ifndef RG_COMM_H
#define RG_COMM_H
#include "regula.h"

typedef enum { RG_REDUCE_SUM, RG_REDUCE_AVG } rg_reduce_op;

typedef struct rg_comm rg_comm;
/* threads backend addition: an outstanding non-blocking operation (opaque;
 * each backend casts it to its own private struct, none completes this tag) */
typedef struct rg_comm_req rg_comm_req;
/* One piece of a message sent or received in pieces (rg_comm_sendv,
 * rg_comm_recvv); a sender's pieces are only read. */
typedef struct rg_piece { void *base; size_t bytes; } rg_piece;
typedef struct rg_comm_ops {
    rg_status (*allreduce)(rg_comm *c, float *buf, size_t n, rg_reduce_op op);
    rg_status (*allreduce_f64)(rg_comm *c, double *buf, size_t n, rg_reduce_op op);
    rg_status (*broadcast)(rg_comm *c, void *buf, size_t bytes, int root);
    rg_status (*allgather)(rg_comm *c, const float *in, size_t n, float *out);
    rg_status (*reduce_scatter)(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op);
    rg_status (*barrier)(rg_comm *c);
    rg_status (*split)(rg_comm *c, int color, int key, rg_comm **out);
    void (*free)(rg_comm *c);
    /* ---- threads backend additions (src/comm/comm_threads.c) ----------
     * A backend may leave these NULL: the front door then answers RG_EUSAGE
     * ("... not supported by this communicator"). */
    rg_status (*iallreduce)(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req);
    rg_status (*wait)(rg_comm *c, rg_comm_req *req);
    rg_status (*send)(rg_comm *c, const void *buf, size_t bytes, int dst, int tag);
    rg_status (*recv)(rg_comm *c, void *buf, size_t bytes, int src, int tag);
    rg_status (*abort)(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes);
    /* 1 in *ready when a message from src with tag is waiting (recv will
     * not block); never blocks.  Threads and mpi backends. */
    rg_status (*probe)(rg_comm *c, int src, int tag, int *ready);
    /* send and recv of a message in pieces; NULL: the front door stages
     * the message in one buffer and calls send or recv. */
    rg_status (*sendv)(rg_comm *c, const rg_piece *v, int n, int dst, int tag);
    rg_status (*recvv)(rg_comm *c, const rg_piece *v, int n, int src, int tag);
    /* blocks until a message to this rank arrives (see rg_comm_idle);
     * NULL: the front door naps */
    rg_status (*idle)(rg_comm *c, double wait);
    /* ---- end threads backend additions ---- */
} rg_comm_ops;

struct rg_comm {
    const rg_comm_ops *ops;
    int rank, size;
    void *impl;
};

rg_status rg_comm_self(rg_comm **out);
void rg_comm_free(rg_comm *c);
static inline int rg_comm_rank(const rg_comm *c) { return c->rank; }
static inline int rg_comm_size(const rg_comm *c) { return c->size; }
/* Sum or average of buf over all ranks, in place. */
rg_status rg_comm_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op);
rg_status rg_comm_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op);
/* Root's bytes to every rank. */
rg_status rg_comm_broadcast(rg_comm *c, void *buf, size_t bytes, int root);
/* out (size*n) = concatenation of every rank's in (n), by rank. */
rg_status rg_comm_allgather(rg_comm *c, const float *in, size_t n, float *out);
/* in (size*n_each): rank r receives the reduction of every rank's block r. */
rg_status rg_comm_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op);
rg_status rg_comm_barrier(rg_comm *c);
/* Ranks with the same color form a new communicator, ordered by key. */
rg_status rg_comm_split(rg_comm *c, int color, int key, rg_comm **out);
/* ---- mpi backend (src/comm/comm_mpi.c) ----------------------------------
 * Built with MPI when CMake finds it (RG_HAVE_MPI); otherwise the MPI calls
 * below fail with RG_EUSAGE and rg_comm_mpi_available() is 0.  The
 * hierarchical world further down (src/comm/comm_hier.c) needs no MPI: it
 * works over any process communicator.
 * mpi communicators implement every op.  Reductions (allreduce, its f64 and
 * non-blocking forms, reduce_scatter) sum in rank order ((x0 + x1) + x2) +
 * ... over point-to-point messages, so they are always bitwise reproducible;
 * iallreduce starts the first of its two rounds, and its wait or the
 * communicator's next collective or recv completes it (pending ones first,
 * oldest first; a vector over 4 Mi elements completes at the call, and so
 * does one over 4 KiB on a communicator whose ranks share a machine, or
 * before its first such reduction has found out: see
 * rg_comm_mpi_shared_memory); send
 * copies the message and returns (MPI_Isend); recv probes first so a
 * wrong-sized message is consumed; tags run from 0 to MPI_TAG_UB - 2048 (the
 * reductions take the top ones); counts over INT_MAX are segmented
 * (reductions, broadcast) or refused (allgather, reduce_scatter, send).  No
 * op waits for a peer longer than the timeout (rg_comm_mpi_set_timeout):
 * then the ranks that do not answer a ping are declared failed, RG_ECOMM
 * "rank R stopped answering: ..." on every process, and MPI is not called
 * again (every op fails at once with that message; free and finalize skip
 * MPI).  A rank answers pings only while it waits inside an op or calls
 * rg_comm_mpi_service (the trainer does while it waits for a checkpoint
 * write or the final save), so a process that spends longer than the
 * timeout otherwise outside communication (uneven evaluation, slow data
 * loading) is declared failed too.  abort cannot
 * wake a peer blocked inside MPI, so it ends the whole job with MPI_Abort
 * and the CLI's exit code for the status (2..5), its message handed to the
 * log callback first; after a timeout it only returns the status (everyone
 * has the verdict).  abort with a note (rg_comm_abort_note) stops every
 * process instead of ending them.  Call it only from the thread that calls
 * MPI; a hierarchical world's workers go through their leader (below). */
/* 1 when this library was built with MPI. */
int rg_comm_mpi_available(void);
/* 1 when this process was started by mpirun/mpiexec/srun with a PMI
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK, MPI_LOCALNRANKS set), so a
 * front end can pick the mpi backend by itself. */
int rg_comm_mpi_launched(void);
/* MPI_Init_thread asking for MPI_THREAD_SERIALIZED (any one thread may call
 * MPI at a time: the hierarchical world's leader need not be the main
 * thread); RG_ECOMM if the library offers less.  RG_EUSAGE, naming the MPI
 * this library is linked against, when the launcher started another number
 * of processes than MPI sees (OMPI_COMM_WORLD_SIZE, PMI_SIZE): the other
 * MPI's mpiexec, which would make N worlds of one.  Idempotent.  Call from
 * the main thread before any other rg_comm_mpi_*; argc/argv may be NULL. */
rg_status rg_comm_mpi_init(int *argc, char ***argv);
/* A communicator over a duplicate of MPI_COMM_WORLD, with errors returned
 * (RG_ECOMM, message naming the rank) instead of aborting. */
rg_status rg_comm_mpi_world(rg_comm **out);
/* Seconds an mpi op may wait for a peer before the peer is declared failed
 * (RG_ECOMM naming it); the next wait of every mpi communicator uses it.
 * The last tenth (at most 1 s) is the grace a pinged rank has to answer.
 * A wait whose peers all answer waits once more, then fails with "no
 * progress".  Default 30. */
void rg_comm_mpi_set_timeout(double seconds);
/* Answers peers' liveness pings (and takes in a verdict) for a process
 * that waits outside communication, e.g. for its checkpoint writer: call
 * it every millisecond or so, from the thread that calls MPI.  A waiter
 * that is answered waits up to a second timeout before "no progress".
 * No-op without MPI, before the first communicator, or after a failure. */
void rg_comm_mpi_service(void);
/* RG_OK, or, once a verdict is in (a peer's stop: RG_ENONFINITE; a failed
 * peer: RG_ECOMM), that verdict as an error.  Any thread may ask: it reads
 * what the thread that calls MPI took in, and calls no MPI. */
rg_status rg_comm_mpi_halted(void);
/* MPI_Finalize, if rg_comm_mpi_init initialised MPI, after a barrier under
 * the timeout (MPI_Finalize waits for every process, with no timeout of its
 * own); skipped after a timeout or a stop.  After a stop rank 0 says
 * goodbye to every process, which waits for it (up to the timeout, then
 * MPI_Abort), so that no process exits with its failure code, which makes
 * the launcher kill the others, before rank 0 has written its log.  Free
 * every mpi communicator first. */
void rg_comm_mpi_finalize(void);
/* After a stop (rg_comm_abort_note) by this process or a peer's: copies its
 * note into note (bytes at least RG_COMM_NOTE_MAX) and returns its length;
 * 0 when there was none. */
size_t rg_comm_mpi_stop_note(void *note, size_t bytes);
/* A note of 1 to RG_COMM_NOTE_MAX bytes for world rank 0, from any thread
 * (a worker's own skip, for rank 0's log): queued, and sent by the thread
 * that calls MPI at its next wait or op; rank 0 takes it in at one of its
 * waits or rg_comm_mpi_service.  1 when queued; 0 when dropped (a full
 * queue of 256, after a failure or stop, or without MPI). */
int rg_comm_mpi_post(const void *note, size_t bytes);
/* On world rank 0: the oldest note taken in, into note, and its length;
 * 0 when none (any thread). */
size_t rg_comm_mpi_take(void *note, size_t bytes);
/* 1 when c is an mpi communicator whose allreduces of more than 4 KiB go
 * through MPI-3 shared memory (every rank on one machine, decided at the
 * first such allreduce, unless REGULA_MPI_SHM was 0 when c was made),
 * else 0.  The sums are the message path's bits either way. */
int rg_comm_mpi_shared_memory(const rg_comm *c);
/* ---- end mpi backend ---------------------------------------------------- */
/* ---- the hierarchical world (src/comm/comm_hier.c) -----------------------
 * Deterministic mode: when on, allreduce, allreduce_f64 and reduce_scatter
 * sum in rank order ((x0 + x1) + x2) + ..., so results are bitwise
 * reproducible run to run and equal a serial rank-order sum.  A local
 * setting: every rank must set the same value before the next collective.
 * self, threads and mpi communicators already reduce in that order (no-op;
 * a hierarchical world passes it to its process communicator). */
rg_status rg_comm_set_deterministic(rg_comm *c, int on);
/* Hierarchical world of P processes x T threads, world rank = p*T + t, size
 * P*T, over process_comm (rank p of P; typically rg_comm_mpi_world, or
 * rg_comm_self for a pure shared-memory world of T threads).  Called once
 * per process by one thread; fills ranks[0..threads-1], one handle per
 * worker thread, which then uses only its own handle.  Collectives reduce
 * among the T threads in thread order, then thread 0 (the leader, the only
 * thread that touches process_comm) runs the process-level collective, then
 * the result is shared back.  process_comm is borrowed: free it after every
 * handle.  Each handle is freed by rg_comm_free; the last frees the state.
 * split supports groups inside one process, and groups made of whole
 * processes whose keys keep rank order; other splits fail with RG_EUSAGE.
 * Threads of one process passing different sizes or roots get RG_ECOMM.
 * iallreduce completes at the call (NULL request); send/recv only with
 * one thread per process (rank = process), else see rg_comm_hier_lead.  abort wakes every thread of the world and of worlds split
 * from it (RG_* status and message, as in the threads backend), then, with
 * more than one process, the process communicator's abort ends the job
 * (with a note, rg_comm_abort_note, stops it: every process told).
 * Only the leader calls an mpi process communicator (MPI is SERIALIZED and
 * the leader may be inside it), so a worker's abort returns, and the
 * leader ends (or stops) the job with the worker's exit code, message and
 * note wherever it meets the abort first: a collective of the world, its MPI wait loop
 * (which polls for it), rg_comm_mpi_service, its next mpi op, or
 * rg_comm_mpi_finalize.  A split's process communicator is freed by the
 * split world's leader, whichever handle goes last. */
rg_status rg_comm_hier_create(rg_comm *process_comm, int threads, rg_comm **ranks);
/* For strategies whose workers talk point to point (ps, easgd-async),
 * which under processes x threads make each process one of their workers:
 * 1 when c is a handle of a hierarchical world of more than one thread
 * per process, with *threads its T and *lead its process communicator on
 * thread 0 (NULL on the others, which must not call it); 0 otherwise
 * (then c's own send and recv serve). */
int rg_comm_hier_lead(rg_comm *c, rg_comm **lead, int *threads);
/* ---- end hierarchical world --------------------------------------------- */
/* ---- threads backend (src/comm/comm_threads.c) ---------------------------
 * A world of n ranks inside one process: ranks[i] is the handle that rank i's
 * thread uses, and only that thread.  Each handle is freed by rg_comm_free;
 * the shared state goes with the last one.  Collectives sum in rank order
 * (((x0 + x1) + x2) + ...), so results are bitwise reproducible and equal on
 * every rank.  Waits spin before they sleep: REGULA_SPIN=<microseconds>
 * (default 50; 0 = sleep at once) bounds the spinning, read at creation.
 * Ranks of a collective passing different sizes, ops or roots all get
 * RG_ECOMM naming the disagreement (no hang).  On any error the buffers'
 * contents are unspecified. */
rg_status rg_comm_threads_create(int n, rg_comm **ranks);
/* Non-blocking all-reduce: buf must be left alone until rg_comm_wait(req)
 * returns, which frees req.  Collectives, blocking or not, complete in the
 * order they were started, and every rank must start them in the same order.
 * threads and self: the reduction runs at the wait (or at the handle's next
 * blocking collective, which completes pending ones first), so there is no
 * overlap with computation; a NULL request is complete. */
rg_status rg_comm_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req);
rg_status rg_comm_wait(rg_comm *c, rg_comm_req *req);
/* Point to point, matched by (source, tag) in sending order.  send copies
 * buf and returns at once (never waits for the receiver, so any order of
 * sends and receives is deadlock free); recv blocks until a message from
 * src with tag arrives.  A message whose size is not `bytes` is consumed and
 * recv returns RG_ECOMM naming both sizes. */
rg_status rg_comm_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag);
rg_status rg_comm_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag);
/* send and recv of one message in n pieces: sendv's are sent end to end,
 * recvv's are filled in order; either side may be a plain send or recv of
 * the total size, and recvv's size check is send's.  The threads and mpi
 * backends copy each piece straight into the message and threads out of
 * it (a header and a body: no staging buffer, one copy fewer each way). */
rg_status rg_comm_sendv(rg_comm *c, const rg_piece *v, int n, int dst, int tag);
rg_status rg_comm_recvv(rg_comm *c, const rg_piece *v, int n, int src, int tag);
/* *ready = 1 when a message from src with tag waits to be received, 0 when
 * not yet; never blocks (a server polls its clients with it; under MPI it
 * also answers peers' liveness pings). */
rg_status rg_comm_probe(rg_comm *c, int src, int tag, int *ready);
/* A poller with nothing to do (a parameter server): threads block until a
 * message to this rank has arrived since the previous rg_comm_idle
 * returned (at once if one has), an abort (its status), or `wait` seconds;
 * a sender wakes it.  Other backends nap `nap` seconds. */
rg_status rg_comm_idle(rg_comm *c, double wait, double nap);
/* A worker that fails calls this so its peers do not wait forever: every
 * pending and future collective, send and recv on every rank of c's world
 * (threads: the world made by rg_comm_threads_create and every communicator
 * split from it) returns `status` (RG_ECOMM if RG_OK is passed) with
 * rg_last_error() set to msg.  The first abort wins.  Returns status, with
 * the caller's rg_last_error() set to msg too (msg may be rg_last_error()).
 * self: nothing to wake. */
rg_status rg_comm_abort(rg_comm *c, rg_status status, const char *msg);
/* rg_comm_abort with a note of at most RG_COMM_NOTE_MAX bytes (a worker's
 * own stop: what its trainer would have logged).  Across mpi processes the
 * job is not ended but stopped: status, msg and the note go to every
 * process, whose next wait or op returns status with msg (every later one
 * too, as after a timeout), and rg_comm_mpi_stop_note gives the note; the
 * processes exit by themselves, rank 0 last to finish (see
 * rg_comm_mpi_finalize).  Other backends: rg_comm_abort. */
#define RG_COMM_NOTE_MAX 64
rg_status rg_comm_abort_note(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes);
/* ---- end threads backend ---- */
#endif
