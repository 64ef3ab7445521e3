/* The hierarchical world over MPI: every process of the mpiexec runs T = 2
 * worker threads (neither is the main thread, so MPI must be SERIALIZED),
 * and the P x 2 ranks check every collective against known results. */
#include "hier_cases.h"
#include <pthread.h>

enum { T = 2 };

int main(int argc, char **argv)
{
    rg_comm *world = NULL, *ranks[T];
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&world) != RG_OK) {
        fprintf(stderr, "mpi_hier: %s\n", rg_last_error());
        return 1;
    }
    int P = rg_comm_size(world), p = rg_comm_rank(world);
    if (rg_comm_hier_create(world, T, ranks) != RG_OK) {
        fprintf(stderr, "mpi_hier: %s\n", rg_last_error());
        return 1;
    }
    pthread_t th[T];
    hc_worker w[T];
    for (int t = 0; t < T; t++) {
        w[t] = (hc_worker){ ranks[t], P, T, p, t };
        pthread_create(&th[t], NULL, hc_run, &w[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) rg_comm_free(ranks[t]);

    double counts[2] = { atomic_load(&hc_pass), atomic_load(&hc_fail) };
    if (rg_comm_allreduce_f64(world, counts, 2, RG_REDUCE_SUM) != RG_OK) {
        fprintf(stderr, "mpi_hier: %s\n", rg_last_error());
        return 1;
    }
    if (p == 0) printf("mpi_hier (%d processes x %d threads): %.0f passed, %.0f failed\n", P, T, counts[0], counts[1]);
    rg_comm_free(world);
    rg_comm_mpi_finalize();
    return counts[1] != 0 || counts[0] == 0;
}
