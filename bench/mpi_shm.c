/*
 * mpi_shm.c — does an intra-node all-reduce through MPI-3 shared memory
 * (MPI_Win_allocate_shared) pay against what regula does today?  (issue 11)
 *
 * Times, per call, the sum of one float buffer over all processes of one
 * machine, three ways:
 *   regula  rg_comm_allreduce on the MPI world: regula's own reduction over
 *           point-to-point messages, summed in rank order, with the
 *           --comm-timeout watchdog (what `mpirun regula train` runs);
 *   mpi     the MPI library's MPI_Allreduce (Open MPI: shared memory, no
 *           timeout);
 *   shm     a window from MPI_Win_allocate_shared: each process copies its
 *           buffer into its slot, a barrier, each sums its 1/P of the slots
 *           in rank order into a result area, a barrier, each copies the
 *           result out (the same bits as regula's rank-order sum).
 * Sizes: the reference model's gradient (50,890 floats, 204 KB) and the
 * 1024-wide model's (1,863,690 floats, 7.5 MB), unless --n N.
 *
 * Usage: mpiexec -n 2 build/mpi_shm [--n N] [--reps R]
 * Prints per size and method: median µs per call over R timed blocks.
 * Checks that the three agree exactly; exits 1 if they do not.
 */
#include "../src/comm/comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    MPI_Comm node;
    MPI_Win win;
    float *base;    /* P slots of n floats, then the result area of n */
    int rank, size;
    size_t n;
} shm_ctx;

static void shm_open(shm_ctx *s, size_t n)
{
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &s->node);
    MPI_Comm_rank(s->node, &s->rank);
    MPI_Comm_size(s->node, &s->size);
    s->n = n;
    MPI_Aint bytes = s->rank == 0 ? (MPI_Aint)((size_t)(s->size + 1) * n * sizeof(float)) : 0;
    float *mine;
    MPI_Win_allocate_shared(bytes, sizeof(float), MPI_INFO_NULL, s->node, &mine, &s->win);
    MPI_Aint got;
    int unit;
    MPI_Win_shared_query(s->win, 0, &got, &unit, &s->base);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win);
}

static void shm_close(shm_ctx *s)
{
    MPI_Win_unlock_all(s->win);
    MPI_Win_free(&s->win);
    MPI_Comm_free(&s->node);
}

static void shm_fence(shm_ctx *s)
{
    MPI_Win_sync(s->win);
    MPI_Barrier(s->node);
    MPI_Win_sync(s->win);
}

static void shm_allreduce(shm_ctx *s, float *buf)
{
    size_t n = s->n, P = (size_t)s->size, r = (size_t)s->rank;
    float *result = s->base + P * n;
    memcpy(s->base + r * n, buf, n * sizeof(float));
    shm_fence(s);
    size_t lo = n * r / P, hi = n * (r + 1) / P;
    for (size_t i = lo; i < hi; i++) {
        float acc = s->base[i];
        for (size_t k = 1; k < P; k++) acc += s->base[k * n + i];
        result[i] = acc;
    }
    shm_fence(s);
    memcpy(buf, result, n * sizeof(float));
    /* nobody may overwrite a slot before everyone has read the result */
    shm_fence(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(float *buf, size_t n, int rank)
{
    for (size_t i = 0; i < n; i++) buf[i] = (float)((i * 2654435761u + (size_t)rank * 40503u) % 1000u) * 1e-3f - 0.5f;
}

/* Median µs per call of `method` over reps blocks of `calls` calls. */
static double time_method(int method, rg_comm *world, shm_ctx *s, float *buf, size_t n, int reps, int calls)
{
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int c = 0; c < calls; c++) {
            if (method == 0) rg_comm_allreduce(world, buf, n, RG_REDUCE_SUM);
            else if (method == 1) MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            else shm_allreduce(s, buf);
            if (c % 8 == 7) fill(buf, n, s->rank);    /* keep the values bounded */
        }
        t[r] = (MPI_Wtime() - t0) / calls * 1e6;
    }
    MPI_Allreduce(MPI_IN_PLACE, t, reps, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t[reps / 2];
    free(t);
    return m;
}

/* The three methods' sums of one fill, compared bit for bit (rank 0's verdict). */
static int agree(rg_comm *world, shm_ctx *s, size_t n)
{
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    fill(a, n, s->rank);
    fill(b, n, s->rank);
    rg_comm_allreduce(world, a, n, RG_REDUCE_SUM);
    shm_allreduce(s, b);
    int same = !memcmp(a, b, n * sizeof *a);
    free(a);
    free(b);
    return same;
}

static int run_size(rg_comm *world, size_t n, int reps)
{
    shm_ctx s;
    shm_open(&s, n);
    float *buf = malloc(n * sizeof *buf);
    fill(buf, n, s.rank);
    int calls = n < 100000 ? 200 : 10;
    static const char *names[] = { "regula", "mpi", "shm" };
    double us[3];
    for (int m = 0; m < 3; m++) time_method(m, world, &s, buf, n, 2, calls);   /* warm up */
    for (int m = 0; m < 3; m++) us[m] = time_method(m, world, &s, buf, n, reps, calls);
    int same = agree(world, &s, n);
    if (s.rank == 0) {
        for (int m = 0; m < 3; m++)
            printf("mpi_shm P=%d n=%zu %-6s median %9.1f us/call  %6.2f GB/s of buffer\n", s.size, n, names[m], us[m],
                   n * sizeof(float) / us[m] * 1e-3);
        printf("mpi_shm P=%d n=%zu shm sum %s regula's bits\n", s.size, n, same ? "equals" : "DIFFERS FROM");
    }
    free(buf);
    shm_close(&s);
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
    rg_comm *world;
    if (rg_comm_mpi_world(&world) != RG_OK) { fprintf(stderr, "mpi_shm: %s\n", rg_last_error()); return 1; }
    int ok = 1;
    for (int k = 0; k < nsizes; k++) ok &= run_size(world, sizes[k], reps);
    rg_comm_free(world);
    rg_comm_mpi_finalize();
    return ok ? 0 : 1;
}
