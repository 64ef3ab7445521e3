/*
 * dist.h — layer 3, internal: the process's distributed runtime (what the
 * public rg_dist_* do, plus what the trainer needs of it).  The trainer
 * calls these and the rg_comm ops, never an MPI-specific function.
 */
#ifndef RG_DIST_H
#define RG_DIST_H
#include "comm/comm.h"
#include "comm/link.h"

/* The process communicator (MPI world) or NULL when not under mpirun. */
rg_comm *rg_dist_process(void);
/* After a stop of the processes (rg_comm_abort_note, in this process or
 * another): its note in note (RG_COMM_NOTE_MAX bytes) and its length; 0
 * when none (and without MPI). */
size_t rg_dist_stop_note(void *note, size_t bytes);
/* A note for world rank 0 (rg_comm_mpi_post), and on rank 0 the oldest
 * one that came (rg_comm_mpi_take); without MPI none goes and none comes. */
int rg_dist_post(const void *note, size_t bytes);
size_t rg_dist_take(void *note, size_t bytes);
/* Answers peers' liveness pings while this process waits outside
 * communication (for its checkpoint writer, say); a no-op without MPI. */
void rg_dist_service(void);
/* RG_OK, or the verdict this process has taken in (rg_comm_mpi_halted). */
rg_status rg_dist_halted(void);
/* The world of workers of this process: `threads` handles into ranks, over
 * the process communicator (processes x threads), or threads alone, or a
 * world of one.  With a link (bits_per_s > 0) the exchanges between
 * processes (with threads alone: between threads) are paced to it; *hold
 * then receives what the caller frees after every handle (or NULL). */
rg_status rg_dist_workers(int threads, const rg_link *link, rg_comm **ranks, rg_comm **hold);
#endif
