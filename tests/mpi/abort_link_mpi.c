/*
 * A worker thread's abort when --link wraps the process communicator:
 * rg_comm_mpi_abort_later must see through the wrapper to the mpi
 * communicator, else (as before) the worker thread calls the wrapper's
 * abort and so MPI itself, which only the leader may (MPI is SERIALIZED
 * and the leader may be inside it).  Rank 0 asks through the wrapper, as
 * comm_hier's worker does; the job must then end at rank 0's next op, with
 * the status's exit code (3; MPICH's hydra may report 9, the kill of the
 * other rank).
 * Usage: mpiexec -n 2 abort_link_mpi (ctest checks the status and output).
 */
#include "comm/comm.h"
#include "comm/comm_impl.h"
#include "comm/link.h"
#include "core/core.h"
#include <stdio.h>

int main(int argc, char **argv)
{
    rg_comm *w = NULL, *l = NULL;
    rg_link link;
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&w) != RG_OK ||
        rg_link_parse("10gbit,5us", &link) != RG_OK || rg_comm_link(w, &link, 0, &l) != RG_OK) {
        fprintf(stderr, "abort_link_mpi: setup failed: %s\n", rg_last_error());
        return 1;
    }
    rg_comm_mpi_set_timeout(10.0);
    if (rg_comm_rank(w) == 0) {
        int asked = rg_comm_mpi_abort_later(l, RG_EDATA, "abort_link_mpi: asked through the link", NULL, 0);
        printf("abort_link_mpi: %s\n", asked ? "asked" : "not asked: the link hid the mpi communicator");
        fflush(stdout);
        if (!asked) return 1;
    }
    rg_status st = rg_comm_barrier(l);       /* rank 0 ends the job here */
    printf("abort_link_mpi rank %d: the job went on (%s)\n", rg_comm_rank(w), rg_status_str(st));
    rg_comm_free(l);
    rg_comm_free(w);
    rg_comm_mpi_finalize();
    return 0;
}
