/*
 * leader_check.h — which thread calls MPI, checked from outside the library
 * (leader_check.c, a PMPI shim): only the leader may.  Free of <mpi.h>.
 */
#ifndef RG_LEADER_CHECK_H
#define RG_LEADER_CHECK_H
/* From now on the calling thread is the one that may call MPI (at first,
 * the thread that called MPI_Init_thread). */
void lc_set_leader(void);
/* MPI calls made so far by another thread (each also printed). */
int lc_violations(void);
#endif
