/* Times rg_comm_allreduce on the mpi backend: median of many calls, for
 * each length given (default 50890 and 1860000 floats, an MLP's gradient
 * and a larger model's), in MPI's mode and deterministic mode.
 * Usage: mpiexec -n 2 bench_mpi_allreduce [reps] [n ...] */
#include "comm/comm.h"
#include "core/core.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    rg_comm *c;
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&c) != RG_OK) {
        fprintf(stderr, "bench_mpi_allreduce: %s\n", rg_last_error());
        return 1;
    }
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    size_t def[] = { 50890, 1860000 }, nn = argc > 2 ? (size_t)(argc - 2) : 2;
    double *t = malloc((size_t)reps * sizeof *t);
    for (size_t k = 0; k < nn; k++) {
        size_t n = argc > 2 ? (size_t)atol(argv[2 + k]) : def[k];
        float *buf = malloc(n * sizeof *buf);
        for (size_t i = 0; i < n; i++) buf[i] = 1e-6f * (float)(i % 1000);
        for (int det = 0; det < 2; det++) {
            rg_comm_set_deterministic(c, det);
            for (int i = 0; i < 10; i++) rg_comm_allreduce(c, buf, n, RG_REDUCE_AVG);
            for (int i = 0; i < reps; i++) {
                rg_comm_barrier(c);
                double t0 = rg_now();
                if (rg_comm_allreduce(c, buf, n, RG_REDUCE_AVG) != RG_OK) {
                    fprintf(stderr, "bench_mpi_allreduce: %s\n", rg_last_error());
                    return 1;
                }
                t[i] = rg_now() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            double med[3] = { t[reps / 2], t[reps / 10], t[reps - 1 - reps / 10] };
            double all[3] = { med[0], med[1], med[2] };     /* averaged over ranks */
            rg_comm_allreduce_f64(c, all, 3, RG_REDUCE_AVG);
            if (rg_comm_rank(c) == 0)
                printf("%d ranks, %9zu floats, %-13s: median %8.1f us (p10 %8.1f, p90 %8.1f), %6.2f GB/s algbw\n",
                       rg_comm_size(c), n, det ? "deterministic" : "MPI_Allreduce", all[0] * 1e6, all[1] * 1e6,
                       all[2] * 1e6, (double)n * 4 / all[0] * 1e-9);
        }
        free(buf);
    }
    free(t);
    rg_comm_free(c);
    rg_comm_mpi_finalize();
    return 0;
}
