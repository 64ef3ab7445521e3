/*
 * dist.c — the distributed runtime of one process: the process
 * communicator when the program was started by mpirun (MPI), or none, and
 * the world of workers the trainer runs on top of it.  Everything above
 * the comm layer reaches MPI only through here and the rg_comm ops table.
 *
 * Invariant: g_process is NULL unless rg_dist_init found a launcher and
 * MPI started; then it is a duplicate of MPI_COMM_WORLD, freed (and MPI
 * finalized) by rg_dist_finalize.  Every process runs the same sequence
 * of agreements (rg_dist_agree), so one that fails before training tells
 * the others instead of leaving them waiting in their first collective.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/dist.h"
#include <string.h>

static rg_comm *g_process;   /* MPI world when launched under mpirun */

rg_status rg_dist_init(int *argc, char ***argv)
{
    if (g_process || !rg_comm_mpi_launched()) return RG_OK;
    if (!rg_comm_mpi_available())
        return rg_error(RG_EUSAGE, "started by mpirun, but this regula was built without MPI");
    rg_status st = rg_comm_mpi_init(argc, argv);
    if (st == RG_OK) st = rg_comm_mpi_world(&g_process);
    return st;
}

void rg_dist_finalize(void)
{
    if (!g_process) return;
    rg_comm_free(g_process);
    g_process = NULL;
    rg_comm_mpi_finalize();
}

int rg_dist_rank(void) { return g_process ? rg_comm_rank(g_process) : 0; }
int rg_dist_size(void) { return g_process ? rg_comm_size(g_process) : 1; }
void rg_dist_set_timeout(double seconds) { rg_comm_mpi_set_timeout(seconds); }
rg_comm *rg_dist_process(void) { return g_process; }
size_t rg_dist_stop_note(void *note, size_t bytes) { return g_process ? rg_comm_mpi_stop_note(note, bytes) : 0; }
int rg_dist_post(const void *note, size_t bytes) { return g_process ? rg_comm_mpi_post(note, bytes) : 0; }
size_t rg_dist_take(void *note, size_t bytes) { return g_process ? rg_comm_mpi_take(note, bytes) : 0; }

void rg_dist_service(void)
{
    if (g_process) rg_comm_mpi_service();
}

rg_status rg_dist_halted(void) { return g_process ? rg_comm_mpi_halted() : RG_OK; }

rg_status rg_dist_agree(rg_status st)
{
    if (!g_process) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rg_last_error());
    double v[2] = { st != RG_OK, st != RG_OK ? (double)rg_comm_rank(g_process) : 0.0 };
    if (rg_comm_allreduce_f64(g_process, v, 2, RG_REDUCE_SUM) != RG_OK) return RG_ECOMM;
    if (st != RG_OK) return rg_error(st, "%s", msg);
    if (v[0] == 1.0)
        return rg_error(RG_ECOMM, "process %.0f failed to set up training (its message is on its standard error)", v[1]);
    if (v[0] > 1.0)
        return rg_error(RG_ECOMM, "%.0f processes failed to set up training (their messages are on their standard error)", v[0]);
    return RG_OK;
}

rg_status rg_dist_workers(int threads, const rg_link *link, rg_comm **ranks, rg_comm **hold)
{
    *hold = NULL;
    int paced = link && link->bits_per_s > 0.0;
    if (g_process) {
        rg_comm *proc = g_process;
        rg_status st = paced ? rg_comm_link(g_process, link, 0, hold) : RG_OK;
        if (st == RG_OK && paced) proc = *hold;
        return st == RG_OK ? rg_comm_hier_create(proc, threads, ranks) : st;
    }
    rg_status st = threads > 1 ? rg_comm_threads_create(threads, ranks) : rg_comm_self(&ranks[0]);
    for (int t = 0; st == RG_OK && paced && t < threads; t++) {
        rg_comm *wrapped;
        if ((st = rg_comm_link(ranks[t], link, 1, &wrapped)) == RG_OK) ranks[t] = wrapped;
    }
    return st;
}
