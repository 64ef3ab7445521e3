/*
 * --comm-timeout on the mpi backend, without signals (tests/mpi/dead_peer.sh
 * has the signals).  The last rank plays the failing peer by sleeping
 * outside MPI:
 *   slow:     late by half the timeout, then by just under it (pinged while
 *             asleep, it answers once back, before the verdict): nobody is
 *             blamed, MPI ends normally.
 *   sleeper:  asleep for three timeouts: every other rank gets RG_ECOMM
 *             naming it, in the timeout, and no other rank; every later op
 *             fails at once; the sleeper, back, gets the verdict at its
 *             first op that waits, instead of timing out; free and finalize
 *             return at once (no MPI_Finalize).
 *   deadlock: every rank alive but in a recv nobody sends: all answer the
 *             pings, so they give up after two timeouts, "no progress".
 * Usage: mpiexec -n P timeout_mpi slow|sleeper|deadlock; every rank prints
 * "timeout_mpi rank R: N passed, M failed".  After a failure MPI is not
 * finalized and mpirun may say so: ctest reads these lines, not its status.
 */
#include "comm/comm.h"
#include "core/core.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static int g_rank, g_pass, g_fail;
#define CHECK(cond) do { \
    if (cond) g_pass++; \
    else { g_fail++; fprintf(stderr, "rank %d: %s:%d: check failed: %s (%s)\n", g_rank, __FILE__, __LINE__, #cond, rg_last_error()); } \
} while (0)

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {}
}

static int names_only(const char *msg, int rank)
{
    char want[64];
    snprintf(want, sizeof want, "rank %d stopped answering: ", rank);
    return strncmp(msg, want, strlen(want)) == 0;
}

static void slow(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    rg_comm_mpi_set_timeout(4.0);        /* pings at 3.6 s, verdict at 4 s */
    static const double late[] = { 2.0, 3.75 };
    for (int i = 0; i < 2; i++) {
        float x = 1;
        if (r == W - 1) sleep_s(late[i]);
        CHECK(rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM) == RG_OK);
        CHECK(x == (float)W);
    }
    CHECK(rg_comm_barrier(c) == RG_OK);
}

static void sleeper(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    float x = 1;
    rg_comm_mpi_set_timeout(1.0);
    char want[128];
    snprintf(want, sizeof want, "rank %d stopped answering: no reply within 1 s (--comm-timeout", W - 1);
    if (r == W - 1) {
        sleep_s(3.0);
        double t0 = rg_now();
        /* its first allreduce may still complete: the others' messages of
         * theirs are there; the first op that waits finds the verdict */
        rg_status st = RG_OK;
        for (int k = 0; k < 3 && st == RG_OK; k++) st = rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);
        CHECK(st == RG_ECOMM);
        CHECK(strstr(rg_last_error(), want) != NULL);
        CHECK(rg_now() - t0 < 0.5);
    } else {
        double t0 = rg_now();
        CHECK(rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM) == RG_ECOMM);
        double dt = rg_now() - t0;
        CHECK(strstr(rg_last_error(), want) != NULL);
        CHECK(names_only(rg_last_error(), W - 1));
        CHECK(dt > 0.85 && dt < 1.5);
        printf("timeout_mpi rank %d: %.2f s: %s\n", r, dt, rg_last_error());
        /* MPI is not touched again: every op fails at once, same message */
        t0 = rg_now();
        CHECK(rg_comm_barrier(c) == RG_ECOMM && strstr(rg_last_error(), want) != NULL);
        CHECK(rg_comm_broadcast(c, &x, sizeof x, 0) == RG_ECOMM);
        float all[64];
        CHECK(W > 64 || rg_comm_allgather(c, &x, 1, all) == RG_ECOMM);
        CHECK(rg_comm_send(c, &x, sizeof x, 0, 1) == RG_ECOMM);
        CHECK(rg_comm_recv(c, &x, sizeof x, 0, 1) == RG_ECOMM);
        CHECK(rg_now() - t0 < 0.1);
    }
}

static void deadlock(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    float x = 0;
    rg_comm_mpi_set_timeout(0.5);
    double t0 = rg_now();
    CHECK(rg_comm_recv(c, &x, sizeof x, (r + 1) % W, 7) == RG_ECOMM);
    double dt = rg_now() - t0;
    CHECK(strstr(rg_last_error(), "made no progress") != NULL);
    CHECK(strstr(rg_last_error(), "stopped answering") == NULL);
    CHECK(dt > 0.4 && dt < 1.6);
    printf("timeout_mpi rank %d: %.2f s: %s\n", r, dt, rg_last_error());
}

int main(int argc, char **argv)
{
    rg_comm *c = NULL;
    const char *mode = argc > 1 ? argv[1] : "";
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&c) != RG_OK) {
        fprintf(stderr, "timeout_mpi: %s\n", rg_last_error());
        return 1;
    }
    g_rank = rg_comm_rank(c);
    int W = rg_comm_size(c);
    double t0 = rg_now();
    if (W < 2) printf("timeout_mpi: needs 2 ranks or more\n");
    else if (!strcmp(mode, "slow")) slow(c);
    else if (!strcmp(mode, "sleeper")) sleeper(c);
    else if (!strcmp(mode, "deadlock")) deadlock(c);
    else { fprintf(stderr, "usage: timeout_mpi slow|sleeper|deadlock\n"); return 2; }
    double t1 = rg_now();
    rg_comm_free(c);
    rg_comm_mpi_finalize();
    if (strcmp(mode, "slow") != 0) CHECK(rg_now() - t1 < 0.5);    /* nothing waits on the way out */
    else CHECK(g_pass > 0);
    printf("timeout_mpi rank %d: %d passed, %d failed\n", g_rank, g_pass, g_fail);
    fflush(stdout);
    /* Open MPI and MPICH's hydra end the job when a process leaves without
     * MPI_Finalize: nobody leaves before the sleeper is done, and each
     * says its result before it waits (said after, a rank could be killed
     * by the first to leave before saying it) */
    if (!strcmp(mode, "sleeper") && W > 1) sleep_s(4.5 - (rg_now() - t0));
    if (!strcmp(mode, "deadlock") && W > 1) sleep_s(2.5 - (rg_now() - t0));
    return g_fail != 0;
}
