/*
 * leader_check.c — a PMPI shim linked into the MPI test programs: every MPI
 * function that src/comm/comm_mpi.c calls is defined here, checks which
 * thread calls it, and passes on to its PMPI_ twin.  regula runs MPI at
 * MPI_THREAD_SERIALIZED and keeps one thread on it (in a processes x
 * threads world, the leader, thread 0), so a call from any other thread is
 * a bug, even when it happens not to overlap another: each one prints
 * "leader_check: MPI_X from a thread that is not the leader" (tests fail
 * on that line) and is counted (lc_violations).
 *
 * The leader is the thread that called MPI_Init_thread until a test names
 * another (lc_set_leader).  MPI_Initialized, MPI_Finalized and
 * MPI_Query_thread are not wrapped: the standard lets any thread call them.
 * A test file, so it may include <mpi.h>; the library's sources may not
 * (tests/comm/layout.sh).
 */
#include "leader_check.h"
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static pthread_t g_leader;
static atomic_int g_has_leader, g_violations;

void lc_set_leader(void)
{
    g_leader = pthread_self();
    atomic_store(&g_has_leader, 1);
}

int lc_violations(void) { return atomic_load(&g_violations); }

static void check(const char *name)
{
    if (!atomic_load(&g_has_leader) || pthread_equal(pthread_self(), g_leader)) return;
    atomic_fetch_add(&g_violations, 1);
    fprintf(stderr, "leader_check: %s from a thread that is not the leader\n", name);
}

#define WRAP(name, params, args) \
    int name params { check(#name); return P##name args; }

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    lc_set_leader();
    return PMPI_Init_thread(argc, argv, required, provided);
}
WRAP(MPI_Abort, (MPI_Comm comm, int code), (comm, code))
WRAP(MPI_Finalize, (void), ())
WRAP(MPI_Test, (MPI_Request *r, int *flag, MPI_Status *st), (r, flag, st))
WRAP(MPI_Testall, (int n, MPI_Request r[], int *flag, MPI_Status st[]), (n, r, flag, st))
WRAP(MPI_Isend, (const void *b, int n, MPI_Datatype t, int to, int tag, MPI_Comm c, MPI_Request *r), (b, n, t, to, tag, c, r))
WRAP(MPI_Irecv, (void *b, int n, MPI_Datatype t, int from, int tag, MPI_Comm c, MPI_Request *r), (b, n, t, from, tag, c, r))
WRAP(MPI_Improbe, (int from, int tag, MPI_Comm c, int *flag, MPI_Message *m, MPI_Status *st), (from, tag, c, flag, m, st))
WRAP(MPI_Mrecv, (void *b, int n, MPI_Datatype t, MPI_Message *m, MPI_Status *st), (b, n, t, m, st))
WRAP(MPI_Imrecv, (void *b, int n, MPI_Datatype t, MPI_Message *m, MPI_Request *r), (b, n, t, m, r))
WRAP(MPI_Get_count, (const MPI_Status *st, MPI_Datatype t, int *n), (st, t, n))
WRAP(MPI_Ibcast, (void *b, int n, MPI_Datatype t, int root, MPI_Comm c, MPI_Request *r), (b, n, t, root, c, r))
WRAP(MPI_Iallgather, (const void *sb, int sn, MPI_Datatype st, void *rb, int rn, MPI_Datatype rt, MPI_Comm c, MPI_Request *r),
     (sb, sn, st, rb, rn, rt, c, r))
WRAP(MPI_Ibarrier, (MPI_Comm c, MPI_Request *r), (c, r))
WRAP(MPI_Comm_idup, (MPI_Comm c, MPI_Comm *out, MPI_Request *r), (c, out, r))
WRAP(MPI_Comm_split, (MPI_Comm c, int color, int key, MPI_Comm *out), (c, color, key, out))
WRAP(MPI_Comm_free, (MPI_Comm *c), (c))
WRAP(MPI_Comm_rank, (MPI_Comm c, int *r), (c, r))
WRAP(MPI_Comm_size, (MPI_Comm c, int *n), (c, n))
WRAP(MPI_Comm_group, (MPI_Comm c, MPI_Group *g), (c, g))
WRAP(MPI_Group_translate_ranks, (MPI_Group a, int n, const int ra[], MPI_Group b, int rb[]), (a, n, ra, b, rb))
WRAP(MPI_Group_free, (MPI_Group *g), (g))
WRAP(MPI_Comm_set_errhandler, (MPI_Comm c, MPI_Errhandler e), (c, e))
WRAP(MPI_Comm_get_attr, (MPI_Comm c, int key, void *v, int *flag), (c, key, v, flag))
WRAP(MPI_Error_string, (int code, char *s, int *len), (code, s, len))
