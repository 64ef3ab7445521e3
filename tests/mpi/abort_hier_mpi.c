/*
 * A worker thread that is not the leader aborts a processes x threads world
 * under MPI: the job still ends with its exit code (4, RG_ENONFINITE) and
 * its message, and no thread but the leader ever calls MPI (MPI runs at
 * MPI_THREAD_SERIALIZED; leader_check.c, linked in, reports any other).
 * Each process runs 2 threads: the main thread is thread 0, the leader.
 * In the last process thread 1 aborts while its leader is
 *   wait:     inside an MPI wait (a recv nobody sends), polling;
 *   service:  answering pings (rg_comm_mpi_service), as the trainer does
 *             while rank 0 waits for a checkpoint write;
 *   barrier:  in a collective of the world, waiting for thread 1;
 *   late:     past the last collective: it joins thread 1 and finalizes.
 * The other processes' threads wait in an allreduce that never completes.
 * In the first three the leader must end the job right there, never
 * returning.  Usage: mpiexec -n P abort_hier_mpi MODE; expect_abort.sh
 * checks the status, the logged message and that nothing says "still
 * running".
 */
#include "comm/comm.h"
#include "leader_check.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *g_mode;
static int g_victim;        /* this is the last process: its thread 1 aborts */

static void to_stderr(const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "logged: %s\n", msg);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Thread 1: let the leader get where the mode puts it, then fail. */
static void *thread1(void *arg)
{
    rg_comm *c = arg;
    float x = 1;
    if (!g_victim || !strcmp(g_mode, "late")) rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);
    if (!g_victim) {
        rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);      /* never completes */
        return NULL;
    }
    sleep_ms(100);
    fprintf(stderr, "abort_hier_mpi: thread 1 aborts on purpose (mode %s)\n", g_mode);
    rg_comm_abort(c, RG_ENONFINITE, "loss became NaN at step 3");
    return NULL;
}

/* Thread 0, the leader: where the mode says; returns what it got. */
static rg_status thread0(rg_comm *world, rg_comm *c)
{
    float x = 1;
    if (!g_victim || !strcmp(g_mode, "late")) {
        rg_status st = rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);
        if (st != RG_OK || !strcmp(g_mode, "late")) return st;
        return rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);    /* never completes */
    }
    if (!strcmp(g_mode, "wait")) return rg_comm_recv(world, &x, sizeof x, rg_comm_rank(world), 7);
    if (!strcmp(g_mode, "barrier")) return rg_comm_barrier(c);
    for (int i = 0; i < 10000; i++) {       /* service: 10 s at most */
        rg_comm_mpi_service();
        sleep_ms(1);
    }
    return RG_OK;
}

int main(int argc, char **argv)
{
    rg_set_log(to_stderr, NULL);
    rg_comm *world, *ranks[2];
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&world) != RG_OK ||
        rg_comm_hier_create(world, 2, ranks) != RG_OK) {
        fprintf(stderr, "abort_hier_mpi: %s\n", rg_last_error());
        return 1;
    }
    g_mode = argc > 1 ? argv[1] : "wait";
    if (strcmp(g_mode, "wait") && strcmp(g_mode, "service") && strcmp(g_mode, "barrier") && strcmp(g_mode, "late")) {
        fprintf(stderr, "usage: abort_hier_mpi wait|service|barrier|late\n");
        return 2;
    }
    rg_comm_mpi_set_timeout(5.0);       /* a wait that missed the abort returns in 10 s */
    int p = rg_comm_rank(world);
    g_victim = p == rg_comm_size(world) - 1;
    pthread_t th;
    if (pthread_create(&th, NULL, thread1, ranks[1]) != 0) return 1;
    rg_status st = thread0(world, ranks[0]);
    if (g_victim && strcmp(g_mode, "late"))     /* the job should have ended in there */
        fprintf(stderr, "abort_hier_mpi: process %d is still running: its leader came back from the %s (%s)\n",
                p, g_mode, rg_last_error());
    pthread_join(th, NULL);
    for (int t = 0; t < 2; t++) rg_comm_free(ranks[t]);
    rg_comm_free(world);
    rg_comm_mpi_finalize();
    fprintf(stderr, "abort_hier_mpi: process %d is still running (status %d: %s; %d MPI calls off the leader)\n",
            p, (int)st, rg_last_error(), lc_violations());
    return 0;
}
