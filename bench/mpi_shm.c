/*
 * mpi_shm.c — what the all-reduce between MPI processes of one machine
 * costs through shared memory, against messages (issue 11).
 *
 * Times, per call, the sum of one float buffer over all processes:
 *   shm     rg_comm_allreduce on an MPI world: regula's reduction through
 *           MPI-3 shared memory (MPI_Win_allocate_shared), what
 *           `mpirun regula train` runs on one machine;
 *   msg     the same on a world made with REGULA_MPI_SHM=0: regula's
 *           reduction over point-to-point messages, summed in rank order
 *           (what it ran before, and runs across machines).
 * (<mpi.h> stays in comm_mpi.c alone, so MPI_Allreduce itself is not timed
 * here: tests/mpi/bench_mpi_allreduce.c and docs/design.md compare with it.)
 * Sizes: the reference model's gradient (50,890 floats, 204 KB) and the
 * 1024-wide model's (1,863,690 floats, 7.5 MB), unless --n N.
 *
 * Usage: mpiexec -n 2 build/mpi_shm [--n N] [--reps R]
 * Prints per size and method the median µs per call over R timed blocks
 * (rank 0's clock; each block starts at a barrier), and whether shm and
 * msg gave the same bits; exits 1 if they did not.
 */
#include "../src/comm/comm.h"
#include "../src/core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int g_rank;

static void fill(float *buf, size_t n, int rank)
{
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i * 2654435761u + (size_t)rank * 40503u) % 1000u) * 1e-3f - 0.5f;
}

/* Median µs per call of `method` over reps blocks of `calls` calls. */
static double time_method(int method, rg_comm *shm, rg_comm *msg, float *buf, size_t n, int reps, int calls)
{
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        rg_comm_barrier(shm);
        double t0 = rg_now();
        for (int c = 0; c < calls; c++) {
            rg_comm_allreduce(method == 0 ? shm : msg, buf, n, RG_REDUCE_SUM);
            if (c % 8 == 7) fill(buf, n, g_rank);    /* keep the values bounded */
        }
        t[r] = (rg_now() - t0) / calls * 1e6;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t[reps / 2];
    free(t);
    return m;
}

/* The sums of shm and msg of one fill, compared bit for bit. */
static int agree(rg_comm *shm, rg_comm *msg, size_t n)
{
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    fill(a, n, g_rank);
    fill(b, n, g_rank);
    rg_comm_allreduce(shm, a, n, RG_REDUCE_SUM);
    rg_comm_allreduce(msg, b, n, RG_REDUCE_SUM);
    int same = !memcmp(a, b, n * sizeof *a);
    free(a);
    free(b);
    return same;
}

static int run_size(rg_comm *shm, rg_comm *msg, size_t n, int reps)
{
    float *buf = malloc(n * sizeof *buf);
    fill(buf, n, g_rank);
    int calls = n < 100000 ? 200 : 10, P = rg_comm_size(shm);
    static const char *names[] = { "shm", "msg" };
    double us[2];
    for (int m = 0; m < 2; m++) time_method(m, shm, msg, buf, n, 2, calls);   /* warm up */
    for (int m = 0; m < 2; m++) us[m] = time_method(m, shm, msg, buf, n, reps, calls);
    int same = agree(shm, msg, n);
    if (g_rank == 0) {
        for (int m = 0; m < 2; m++)
            printf("mpi_shm P=%d n=%zu %s median %9.1f us/call  %6.2f GB/s of buffer\n", P, n, names[m], us[m],
                   n * sizeof(float) / us[m] * 1e-3);
        printf("mpi_shm P=%d n=%zu shm %s (shared memory %s), msg's bits %s\n", P, n, "path",
               rg_comm_mpi_shared_memory(shm) ? "on" : "OFF", same ? "equal" : "DIFFER");
    }
    free(buf);
    return same;
}

int main(int argc, char **argv)
{
    size_t sizes[2] = { 50890, 1863690 };
    int nsizes = 2, reps = 9;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) { sizes[0] = strtoull(argv[++i], NULL, 10); nsizes = 1; }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else { fprintf(stderr, "usage: mpiexec -n P mpi_shm [--n N] [--reps R]\n"); return 2; }
    }
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK) { fprintf(stderr, "mpi_shm: %s\n", rg_last_error()); return 1; }
    rg_comm *shm, *msg;
    if (rg_comm_mpi_world(&shm) != RG_OK) { fprintf(stderr, "mpi_shm: %s\n", rg_last_error()); return 1; }
    setenv("REGULA_MPI_SHM", "0", 1);
    if (rg_comm_mpi_world(&msg) != RG_OK) { fprintf(stderr, "mpi_shm: %s\n", rg_last_error()); return 1; }
    g_rank = rg_comm_rank(shm);
    int ok = 1;
    for (int k = 0; k < nsizes; k++) ok &= run_size(shm, msg, sizes[k], reps);
    rg_comm_free(msg);
    rg_comm_free(shm);
    rg_comm_mpi_finalize();
    return ok ? 0 : 1;
}
