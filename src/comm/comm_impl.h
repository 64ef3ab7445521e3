/*
 * comm_impl.h — layer 3, internal to the comm backends: the little that the
 * mpi backend (comm_mpi.c) and the processes x threads world (comm_hier.c)
 * share.  Nothing above src/comm/ includes it.  It names no MPI type, so
 * comm_hier.c builds without MPI.
 */
#ifndef RG_COMM_IMPL_H
#define RG_COMM_IMPL_H
#include "comm/comm.h"
#include <stddef.h>

/* Element i of [0, n) split into m near-equal chunks: chunk j's start. */
static inline size_t chunk_lo(size_t n, size_t m, size_t j) { return j * (n / m) + (j < n % m ? j : n % m); }

static inline void divide(void *buf, size_t n, int size, int dbl)
{
    if (dbl) {
        double *d = buf;
        for (size_t k = 0; k < n; k++) d[k] /= (double)size;
    } else {
        float *f = buf;
        for (size_t k = 0; k < n; k++) f[k] /= (float)size;
    }
}

/* comm_mpi.c: records rg_comm_set_deterministic's setting on an mpi
 * communicator (its splits inherit it); a no-op for any other backend. */
void rg_comm_mpi_note_deterministic(rg_comm *c, int on);

/* comm_mpi.c: abort for a thread that must not call MPI now: MPI runs at
 * MPI_THREAD_SERIALIZED, one thread at a time, and a hierarchical world's
 * leader may be inside it.  When c is an mpi communicator this records an
 * abort of the whole job with status's exit code and msg (the first
 * request wins), calls no MPI, and returns 1; the thread that does call
 * MPI ends the job at its next MPI wait (its loop polls for this),
 * rg_comm_mpi_service, op or rg_comm_mpi_finalize, or at
 * rg_comm_mpi_abort_asked; with a note (rg_comm_abort_note) it stops the
 * job instead, telling every process.  After a timeout verdict nothing ends the job:
 * every process stops by itself.  A --link wrapper (comm_link.c) is seen
 * through.  For any other communicator (one whose abort any thread may
 * call) it does nothing and returns 0. */
int rg_comm_mpi_abort_later(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes);
/* comm_mpi.c: for the thread that calls MPI: ends the job if another
 * thread asked (rg_comm_mpi_abort_later); otherwise returns at once. */
void rg_comm_mpi_abort_asked(void);
#endif
