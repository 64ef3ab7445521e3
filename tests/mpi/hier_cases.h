/*
 * hier_cases.h — the checks one thread of a hierarchical world (P processes
 * x T threads) runs, with known results for every collective and split.
 * Shared by tests/comm/test_comm_hier.c (over rg_comm_self, no MPI) and
 * tests/mpi/mpi_hier.c (over the MPI world).  Counts instead of asserting:
 * cmocka's asserts are not for worker threads.
 */
#ifndef RG_HIER_CASES_H
#define RG_HIER_CASES_H
#include "comm/comm.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int hc_pass, hc_fail, hc_arrived;

#define HC_CHECK(rank, cond) do { \
    if (cond) atomic_fetch_add(&hc_pass, 1); \
    else { atomic_fetch_add(&hc_fail, 1); fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", (rank), __FILE__, __LINE__, #cond); } \
} while (0)

typedef struct hc_worker { rg_comm *c; int P, T, p, t; } hc_worker;

/* A float with varied magnitude, so summation order shows in the bits. */
static float hc_value(int rank, size_t i)
{
    uint64_t h = (uint64_t)rank * 0x9E3779B97F4A7C15ull + i * 0xC2B2AE3D27D4EB4Full + 12345;
    h ^= h >> 31; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 29;
    float x = (float)((int64_t)(h % 2000001) - 1000000) * 1e-3f;
    return (h >> 40) % 3 == 0 ? x * 1000.0f : x;
}

static void *hc_run(void *arg)
{
    hc_worker *w = arg;
    rg_comm *c = w->c;
    int P = w->P, T = w->T, p = w->p, t = w->t, W = P * T;
    int r = p * T + t;
    HC_CHECK(r, rg_comm_rank(c) == r);
    HC_CHECK(r, rg_comm_size(c) == W);
    static const size_t lens[] = { 0, 1, 7, 100003 };
    size_t maxn = 100003;
    float *f = malloc((size_t)W * maxn * sizeof *f), *g = malloc((size_t)W * maxn * sizeof *g);
    double *d = malloc(maxn * sizeof *d);
    if (!f || !g || !d) { HC_CHECK(r, !"out of memory"); free(f); free(g); free(d); return NULL; }

    /* allreduce: sum and avg, float and double */
    for (size_t li = 0; li < 4; li++) {
        size_t n = lens[li];
        for (int avg = 0; avg < 2; avg++) {
            rg_reduce_op op = avg ? RG_REDUCE_AVG : RG_REDUCE_SUM;
            for (size_t i = 0; i < n; i++) { f[i] = (float)(r + 1) + (float)(i % 13); d[i] = f[i]; }
            HC_CHECK(r, rg_comm_allreduce(c, f, n, op) == RG_OK);
            HC_CHECK(r, rg_comm_allreduce_f64(c, d, n, op) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                float s = (float)(W * (W + 1) / 2) + (float)W * (float)(i % 13);
                double sd = s;
                if (avg) { s /= (float)W; sd /= W; }
                bad += f[i] != s || d[i] != sd;
            }
            HC_CHECK(r, bad == 0);
        }
    }

    /* deterministic: bitwise the serial sum, threads in order then processes
     * in order, and equal over repeats */
    HC_CHECK(r, rg_comm_set_deterministic(c, 1) == RG_OK);
    {
        size_t n = 100003;
        int bad = 0;
        for (int rep = 0; rep < 3; rep++) {
            for (size_t i = 0; i < n; i++) f[i] = hc_value(r, i);
            HC_CHECK(r, rg_comm_allreduce(c, f, n, RG_REDUCE_SUM) == RG_OK);
            if (rep == 0) memcpy(g, f, n * sizeof *f);
            else bad += memcmp(g, f, n * sizeof *f) != 0;
        }
        for (size_t i = 0; i < n; i++) {
            float total = 0;
            for (int q = 0; q < P; q++) {
                float ps = hc_value(q * T, i);
                for (int u = 1; u < T; u++) ps += hc_value(q * T + u, i);
                total = q == 0 ? ps : total + ps;
            }
            bad += memcmp(&total, &f[i], sizeof total) != 0;
        }
        HC_CHECK(r, bad == 0);
    }
    HC_CHECK(r, rg_comm_set_deterministic(c, 0) == RG_OK);

    /* broadcast from every root, including other processes' non-leaders */
    for (int root = 0; root < W; root++) {
        unsigned char b[1000];
        for (size_t i = 0; i < sizeof b; i++) b[i] = r == root ? (unsigned char)(root * 7 + i) : 0;
        HC_CHECK(r, rg_comm_broadcast(c, b, sizeof b, root) == RG_OK);
        int bad = 0;
        for (size_t i = 0; i < sizeof b; i++) bad += b[i] != (unsigned char)(root * 7 + i);
        HC_CHECK(r, bad == 0);
        HC_CHECK(r, rg_comm_broadcast(c, b, 0, root) == RG_OK);
    }
    HC_CHECK(r, rg_comm_broadcast(c, f, 4, W) == RG_EUSAGE);

    /* allgather */
    static const size_t glens[] = { 1, 7, 1000 };
    for (size_t li = 0; li < 3; li++) {
        size_t n = glens[li];
        for (size_t i = 0; i < n; i++) g[i] = (float)(r * 10000) + (float)i;
        for (size_t i = 0; i < (size_t)W * n; i++) f[i] = -1;
        HC_CHECK(r, rg_comm_allgather(c, g, n, f) == RG_OK);
        int bad = 0;
        for (int q = 0; q < W; q++)
            for (size_t i = 0; i < n; i++) bad += f[(size_t)q * n + i] != (float)(q * 10000) + (float)i;
        HC_CHECK(r, bad == 0);
    }

    /* reduce_scatter: rank b gets the sum of everyone's block b */
    for (size_t li = 0; li < 3; li++) {
        size_t n = glens[li];
        for (int avg = 0; avg < 2; avg++) {
            for (int b = 0; b < W; b++)
                for (size_t i = 0; i < n; i++) f[(size_t)b * n + i] = (float)((r + 1) * (b + 1)) + (float)(i % 5);
            HC_CHECK(r, rg_comm_reduce_scatter(c, f, n, g, avg ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                float s = (float)((r + 1) * W * (W + 1) / 2) + (float)W * (float)(i % 5);
                if (avg) s /= (float)W;
                bad += g[i] != s;
            }
            HC_CHECK(r, bad == 0);
        }
    }

    /* barrier: every thread of this process arrived before anyone leaves */
    for (int round = 1; round <= 3; round++) {
        atomic_fetch_add(&hc_arrived, 1);
        HC_CHECK(r, rg_comm_barrier(c) == RG_OK);
        HC_CHECK(r, atomic_load(&hc_arrived) >= round * T);
        HC_CHECK(r, rg_comm_barrier(c) == RG_OK);
    }

    /* split inside a process, threads in reverse order */
    rg_comm *sub = NULL;
    HC_CHECK(r, rg_comm_split(c, p, -t, &sub) == RG_OK);
    if (sub) {
        HC_CHECK(r, rg_comm_size(sub) == T && rg_comm_rank(sub) == T - 1 - t);
        float x = (float)(t + 1);
        HC_CHECK(r, rg_comm_allreduce(sub, &x, 1, RG_REDUCE_SUM) == RG_OK);
        HC_CHECK(r, x == (float)(T * (T + 1) / 2));
        unsigned char b = (unsigned char)(rg_comm_rank(sub) == 0 ? 42 + p : 0);
        HC_CHECK(r, rg_comm_broadcast(sub, &b, 1, 0) == RG_OK);
        HC_CHECK(r, b == 42 + p);
        rg_comm_free(sub);
    }
    /* split into whole processes by parity */
    sub = NULL;
    HC_CHECK(r, rg_comm_split(c, p % 2, r, &sub) == RG_OK);
    if (sub) {
        int np = (P - p % 2 + 1) / 2;
        HC_CHECK(r, rg_comm_size(sub) == np * T && rg_comm_rank(sub) == (p / 2) * T + t);
        float x = (float)(r + 1);
        HC_CHECK(r, rg_comm_allreduce(sub, &x, 1, RG_REDUCE_SUM) == RG_OK);
        float want = 0;
        for (int q = p % 2; q < P; q += 2)
            for (int u = 0; u < T; u++) want += (float)(q * T + u + 1);
        HC_CHECK(r, x == want);
        rg_comm_free(sub);
    }
    /* split by thread across processes: supported only when P == 1 */
    sub = NULL;
    rg_status st = rg_comm_split(c, t, 0, &sub);
    HC_CHECK(r, P == 1 ? st == RG_OK && rg_comm_size(sub) == 1 : st == RG_EUSAGE && sub == NULL);
    rg_comm_free(sub);
    /* the world still works after a refused split */
    float one = 1;
    HC_CHECK(r, rg_comm_allreduce(c, &one, 1, RG_REDUCE_SUM) == RG_OK && one == (float)W);

    free(f);
    free(g);
    free(d);
    return NULL;
}
#endif
