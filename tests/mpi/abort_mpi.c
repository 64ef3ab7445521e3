/* rg_comm_abort on the mpi backend ends the whole job with the CLI's exit
 * code for the status, even while the other ranks wait in a collective,
 * and hands its message to the log callback first.  ctest runs it under
 * mpiexec and expects exit status 4 (RG_ENONFINITE) and the message. */
#include "comm/comm.h"
#include <stdio.h>

static void to_stderr(const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "logged: %s\n", msg);
}

int main(int argc, char **argv)
{
    rg_set_log(to_stderr, NULL);
    rg_comm *c;
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&c) != RG_OK) {
        fprintf(stderr, "abort_mpi: %s\n", rg_last_error());
        return 1;
    }
    float x = 1;
    if (rg_comm_rank(c) == rg_comm_size(c) - 1) {
        fprintf(stderr, "abort_mpi: rank %d aborts on purpose\n", rg_comm_rank(c));
        rg_comm_abort(c, RG_ENONFINITE, "loss became NaN at step 3");
    } else {
        rg_comm_allreduce(c, &x, 1, RG_REDUCE_SUM);   /* never completes */
    }
    fprintf(stderr, "abort_mpi: rank %d is still running\n", rg_comm_rank(c));
    rg_comm_free(c);
    rg_comm_mpi_finalize();
    return 0;
}
