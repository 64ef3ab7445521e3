/* The hierarchical world over MPI: every process of the mpiexec runs T = 2
 * worker threads (neither is the main thread, so MPI must be SERIALIZED),
 * and the P x 2 ranks check every collective against known results.  While
 * they run, only thread 0 (the leader) may call MPI: leader_check.c, linked
 * in, counts every call from another thread as a failure. */
#include "hier_cases.h"
#include "leader_check.h"
#include <pthread.h>

static void *run(void *arg)
{
    hc_worker *w = arg;
    if (w->t == 0) lc_set_leader();
    return hc_run(w);
}

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
        pthread_create(&th[t], NULL, run, &w[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    lc_set_leader();
    for (int t = 0; t < T; t++) rg_comm_free(ranks[t]);
    if (lc_violations()) atomic_fetch_add(&hc_fail, lc_violations());

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
