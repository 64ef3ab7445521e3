/*
 * The mpi backend's own reductions (point-to-point, rank order): bitwise
 * the serial ((x0 + x1) + x2) + ... on every rank at the lengths where the
 * algorithm changes (the short form up to 4 KiB, the two-round form, a
 * vector of two segments, fewer elements than ranks), float and double,
 * reduce_scatter in place; and non-blocking allreduces whose waits sit in
 * different places on different ranks, around a blocking one (each
 * reduction's messages carry tags of their own).  All of it through
 * shared memory (every rank on one machine), then over messages
 * (REGULA_MPI_SHM=0), and over messages when the ranks' REGULA_MPI_SHM
 * differ.  Run by ctest under
 * mpiexec with 1 to 4 processes; prints "N passed, M failed".
 */
#include "comm/comm.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_pass, g_fail;
#define CHECK(cond) do { \
    if (cond) g_pass++; \
    else { g_fail++; fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, #cond); } \
} while (0)

static float value(int rank, size_t i)
{
    uint64_t h = (uint64_t)rank * 0x9E3779B97F4A7C15ull + i * 0xC2B2AE3D27D4EB4Full + 99;
    h ^= h >> 31; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 29;
    return (float)((int64_t)(h % 2000001) - 1000000) * 1e-3f * ((h >> 40) % 3 == 0 ? 997.0f : 1.0f);
}

static int same_f(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static int same_d(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Serial rank-order sum of element i over W ranks. */
static float sum_f(int W, size_t i)
{
    float s = value(0, i);
    for (int q = 1; q < W; q++) s += value(q, i);
    return s;
}
static double sum_d(int W, size_t i)
{
    double s = (double)value(0, i) * 1e-3;
    for (int q = 1; q < W; q++) s += (double)value(q, i) * 1e-3;
    return s;
}

static void check_lengths(rg_comm *c, float *f, double *d)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    size_t lens[] = { 1, 2, 3, 1023, 1024, 1025, 4097, 50890, ((size_t)1 << 22) + 3 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (size_t i = 0; i < n; i++) f[i] = value(r, i);
        CHECK(rg_comm_allreduce(c, f, n, RG_REDUCE_SUM) == RG_OK);
        int bad = 0;
        for (size_t i = 0; i < n; i++) bad += !same_f(f[i], sum_f(W, i));
        CHECK(bad == 0);
        if (n > 100000) continue;
        for (size_t i = 0; i < n; i++) d[i] = (double)value(r, i) * 1e-3;
        CHECK(rg_comm_allreduce_f64(c, d, n, RG_REDUCE_SUM) == RG_OK);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += !same_d(d[i], sum_d(W, i));
        CHECK(bad == 0);
    }
}

/* reduce_scatter in place (out == in): block r of the sum, bit for bit. */
static void check_reduce_scatter(rg_comm *c, float *f)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    size_t each = 777;
    for (size_t i = 0; i < (size_t)W * each; i++) f[i] = value(r, i);
    CHECK(rg_comm_reduce_scatter(c, f, each, f, RG_REDUCE_SUM) == RG_OK);
    int bad = 0;
    for (size_t i = 0; i < each; i++) bad += !same_f(f[i], sum_f(W, (size_t)r * each + i));
    CHECK(bad == 0);
}

/* Two non-blocking allreduces and a blocking one between their starts and
 * waits; even ranks wait before the blocking one, odd ranks after. */
static void check_in_flight(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    enum { N = 3000, M = 5 };
    static float a[N], b[M], x[N];
    for (size_t i = 0; i < N; i++) { a[i] = value(r, i); x[i] = value(r, i + 7); }
    for (size_t i = 0; i < M; i++) b[i] = value(r, i + 1);
    rg_comm_req *qa = NULL, *qb = NULL;
    CHECK(rg_comm_iallreduce(c, a, N, RG_REDUCE_SUM, &qa) == RG_OK);
    CHECK(rg_comm_iallreduce(c, b, M, RG_REDUCE_SUM, &qb) == RG_OK);
    if (r % 2 == 0) {
        CHECK(rg_comm_wait(c, qb) == RG_OK);
        CHECK(rg_comm_wait(c, qa) == RG_OK);
    }
    CHECK(rg_comm_allreduce(c, x, N, RG_REDUCE_SUM) == RG_OK);
    if (r % 2 == 1) {
        CHECK(rg_comm_wait(c, qa) == RG_OK);
        CHECK(rg_comm_wait(c, qb) == RG_OK);
    }
    int bad = 0;
    for (size_t i = 0; i < N; i++) bad += !same_f(a[i], sum_f(W, i)) + !same_f(x[i], sum_f(W, i + 7));
    for (size_t i = 0; i < M; i++) {
        float s = value(0, i + 1);
        for (int q = 1; q < W; q++) s += value(q, i + 1);
        bad += !same_f(b[i], s);
    }
    CHECK(bad == 0);
}

int main(int argc, char **argv)
{
    rg_comm *c = NULL;
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_world(&c) != RG_OK) {
        fprintf(stderr, "mpi_reductions: %s\n", rg_last_error());
        return 1;
    }
    g_rank = rg_comm_rank(c);
    int W = rg_comm_size(c);
    size_t nmax = ((size_t)1 << 22) + 3;
    float *f = malloc(nmax * sizeof *f);
    double *d = malloc(100000 * sizeof *d);
    if (!f || !d) return 1;
    check_lengths(c, f, d);
    check_reduce_scatter(c, f);
    check_in_flight(c);
    /* every rank here is on this machine: the sums above went through
     * shared memory; again over messages, on a communicator made with
     * REGULA_MPI_SHM=0 */
    CHECK(rg_comm_mpi_shared_memory(c) == (W > 1));
    rg_comm *m = NULL;
    setenv("REGULA_MPI_SHM", "0", 1);
    CHECK(rg_comm_mpi_world(&m) == RG_OK);
    if (m) {
        check_lengths(m, f, d);
        check_in_flight(m);
        CHECK(rg_comm_mpi_shared_memory(m) == 0);
        rg_comm_free(m);
    }
    /* ranks that disagree (REGULA_MPI_SHM=0 on rank 0 alone) vote for
     * messages instead of waiting in different calls */
    setenv("REGULA_MPI_SHM", g_rank == 0 ? "0" : "1", 1);
    m = NULL;
    CHECK(rg_comm_mpi_world(&m) == RG_OK);
    if (m) {
        check_in_flight(m);
        CHECK(rg_comm_mpi_shared_memory(m) == 0);
        rg_comm_free(m);
    }
    double counts[2] = { g_pass, g_fail };
    if (rg_comm_allreduce_f64(c, counts, 2, RG_REDUCE_SUM) != RG_OK) {
        fprintf(stderr, "mpi_reductions: %s\n", rg_last_error());
        return 1;
    }
    if (g_rank == 0) printf("mpi_reductions (%d processes): %.0f passed, %.0f failed\n", W, counts[0], counts[1]);
    free(f);
    free(d);
    rg_comm_free(c);
    rg_comm_mpi_finalize();
    return counts[1] != 0 || counts[0] == 0;
}
