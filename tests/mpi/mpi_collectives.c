/*
 * The mpi backend, one rank per process: every collective on known results
 * for lengths 0, 1, 7 and 100003, sum and avg, in MPI's mode and in
 * deterministic mode (bitwise the serial rank-order sum, equal over
 * repeats), split, and the errors that must not hang.  Run by ctest under
 * mpiexec with 1 to 4 processes; prints "N passed, M failed".
 */
#include "comm/comm.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_pass, g_fail;
#define CHECK(cond) do { \
    if (cond) g_pass++; \
    else { g_fail++; fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, #cond); } \
} while (0)

static const size_t lens[] = { 0, 1, 7, 100003 };
enum { NLENS = 4 };
#define MAXN ((size_t)100003)

static float value(int rank, size_t i)
{
    uint64_t h = (uint64_t)rank * 0x9E3779B97F4A7C15ull + i * 0xC2B2AE3D27D4EB4Full + 777;
    h ^= h >> 31; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 29;
    float x = (float)((int64_t)(h % 2000001) - 1000000) * 1e-3f;
    return (h >> 40) % 3 == 0 ? x * 1000.0f : x;
}

static void check_allreduce(rg_comm *c, float *f, double *d)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    for (int li = 0; li < NLENS; li++) {
        size_t n = lens[li];
        for (int avg = 0; avg < 2; avg++) {
            rg_reduce_op op = avg ? RG_REDUCE_AVG : RG_REDUCE_SUM;
            for (size_t i = 0; i < n; i++) { f[i] = (float)(r + 1) + (float)(i % 13); d[i] = f[i] * 0.5; }
            CHECK(rg_comm_allreduce(c, f, n, op) == RG_OK);
            CHECK(rg_comm_allreduce_f64(c, d, n, op) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < n; i++) {
                float s = (float)(W * (W + 1) / 2) + (float)W * (float)(i % 13);
                double sd = (double)s * 0.5;
                if (avg) { s /= (float)W; sd /= W; }
                bad += f[i] != s || d[i] != sd;
            }
            CHECK(bad == 0);
        }
    }
}

/* Deterministic mode: the serial ((x0 + x1) + x2) + ... bit for bit. */
static void check_deterministic(rg_comm *c, float *f, float *g)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    CHECK(rg_comm_set_deterministic(c, 1) == RG_OK);
    for (int li = 0; li < NLENS; li++) {
        size_t n = lens[li];
        int bad = 0;
        for (int rep = 0; rep < 3; rep++) {
            for (size_t i = 0; i < n; i++) f[i] = value(r, i);
            CHECK(rg_comm_allreduce(c, f, n, RG_REDUCE_SUM) == RG_OK);
            if (rep == 0) { if (n) memcpy(g, f, n * sizeof *f); }
            else bad += n && memcmp(g, f, n * sizeof *f) != 0;
        }
        for (size_t i = 0; i < n; i++) {
            float s = value(0, i);
            for (int q = 1; q < W; q++) s += value(q, i);
            bad += memcmp(&s, &f[i], sizeof s) != 0;
        }
        CHECK(bad == 0);
        /* f64 and avg take the same path */
        double dv[7];
        for (int i = 0; i < 7; i++) dv[i] = (double)value(r, (size_t)i) * 1e-7;
        CHECK(rg_comm_allreduce_f64(c, dv, 7, RG_REDUCE_AVG) == RG_OK);
        for (int i = 0; i < 7; i++) {
            double s = (double)value(0, (size_t)i) * 1e-7;
            for (int q = 1; q < W; q++) s += (double)value(q, (size_t)i) * 1e-7;
            s /= W;
            bad += memcmp(&s, &dv[i], sizeof s) != 0;
        }
        CHECK(bad == 0);
    }
    /* MPI's own sum agrees to rounding */
    CHECK(rg_comm_set_deterministic(c, 0) == RG_OK);
    for (size_t i = 0; i < MAXN; i++) f[i] = value(r, i);
    CHECK(rg_comm_allreduce(c, f, MAXN, RG_REDUCE_SUM) == RG_OK);
    int far = 0;
    for (size_t i = 0; i < MAXN; i++) {
        float dsum = g[i], tol = 0.25f * (float)(W * W);   /* a few ulps of |sum| <= W * 1e6 */
        far += f[i] - dsum > tol || dsum - f[i] > tol;
    }
    CHECK(far == 0);
}

static void check_allgather(rg_comm *c, float *f, float *g)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    for (int li = 0; li < NLENS; li++) {
        size_t n = lens[li];
        for (int inplace = 0; inplace < 2; inplace++) {
            for (size_t i = 0; i < (size_t)W * n; i++) f[i] = -1;
            float *in = inplace ? f + (size_t)r * n : g;
            for (size_t i = 0; i < n; i++) in[i] = (float)(r * 200000) + (float)i;
            CHECK(rg_comm_allgather(c, in, n, f) == RG_OK);
            int bad = 0;
            for (int q = 0; q < W; q++)
                for (size_t i = 0; i < n; i++) bad += f[(size_t)q * n + i] != (float)(q * 200000) + (float)i;
            CHECK(bad == 0);
        }
    }
    CHECK(rg_comm_allgather(c, g, (size_t)INT_MAX + 1, f) == RG_EUSAGE);
}

static void check_reduce_scatter(rg_comm *c, float *f, float *g)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    for (int det = 0; det < 2; det++) {
        CHECK(rg_comm_set_deterministic(c, det) == RG_OK);
        for (int li = 0; li < NLENS; li++) {
            size_t n = lens[li];
            for (int mode = 0; mode < 3; mode++) {   /* sum, avg, sum in place */
                for (int b = 0; b < W; b++)
                    for (size_t i = 0; i < n; i++) f[(size_t)b * n + i] = (float)((r + 1) * (b + 1)) + (float)(i % 5);
                float *out = mode == 2 ? f : g;
                CHECK(rg_comm_reduce_scatter(c, f, n, out, mode == 1 ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_OK);
                int bad = 0;
                for (size_t i = 0; i < n; i++) {
                    float s = (float)((r + 1) * W * (W + 1) / 2) + (float)W * (float)(i % 5);
                    if (mode == 1) s /= (float)W;
                    bad += out[i] != s;
                }
                CHECK(bad == 0);
            }
        }
    }
    /* deterministic: each block bitwise the serial rank-order sum */
    CHECK(rg_comm_set_deterministic(c, 1) == RG_OK);
    for (int li = 0; li < NLENS; li++) {
        size_t n = lens[li];
        for (size_t i = 0; i < (size_t)W * n; i++) f[i] = value(r, i);
        CHECK(rg_comm_reduce_scatter(c, f, n, g, RG_REDUCE_SUM) == RG_OK);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            float s = value(0, (size_t)r * n + i);
            for (int q = 1; q < W; q++) s += value(q, (size_t)r * n + i);
            bad += memcmp(&s, &g[i], sizeof s) != 0;
        }
        CHECK(bad == 0);
    }
    CHECK(rg_comm_set_deterministic(c, 0) == RG_OK);
    CHECK(rg_comm_reduce_scatter(c, f, (size_t)INT_MAX + 1, g, RG_REDUCE_SUM) == RG_EUSAGE);
}

static void check_broadcast(rg_comm *c, float *f)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    for (int root = 0; root < W; root++) {
        for (int li = 0; li < NLENS; li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < n; i++) f[i] = r == root ? (float)(root * 1000) + (float)i : 0;
            CHECK(rg_comm_broadcast(c, f, n * sizeof *f, root) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < n; i++) bad += f[i] != (float)(root * 1000) + (float)i;
            CHECK(bad == 0);
        }
    }
    CHECK(rg_comm_broadcast(c, f, 4, W) == RG_EUSAGE);
    CHECK(rg_comm_broadcast(c, f, 4, -1) == RG_EUSAGE);
}

static void check_split(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    rg_comm *sub = NULL;
    /* by parity, in reverse rank order */
    CHECK(rg_comm_split(c, r % 2, -r, &sub) == RG_OK);
    if (sub) {
        int same = (W - r % 2 + 1) / 2, above = 0;
        for (int q = r + 2; q < W; q += 2) above++;
        CHECK(rg_comm_size(sub) == same);
        CHECK(rg_comm_rank(sub) == above);
        float x = (float)(r + 1);
        CHECK(rg_comm_allreduce(sub, &x, 1, RG_REDUCE_SUM) == RG_OK);
        float want = 0;
        for (int q = r % 2; q < W; q += 2) want += (float)(q + 1);
        CHECK(x == want);
        /* deterministic mode is inherited */
        CHECK(rg_comm_set_deterministic(c, 1) == RG_OK);
        rg_comm *sub2 = NULL;
        CHECK(rg_comm_split(sub, 0, 0, &sub2) == RG_OK);
        if (sub2) {
            CHECK(rg_comm_size(sub2) == same);
            rg_comm_free(sub2);
        }
        CHECK(rg_comm_set_deterministic(c, 0) == RG_OK);
        rg_comm_free(sub);
    }
    /* a negative color is refused on that rank only, and nobody hangs */
    sub = NULL;
    rg_status st = rg_comm_split(c, r == 0 ? -1 : 5, 0, &sub);
    CHECK(r == 0 ? st == RG_EUSAGE : st == RG_OK && rg_comm_size(sub) == W - 1);
    rg_comm_free(sub);
    CHECK(rg_comm_barrier(c) == RG_OK);
}

static void check_iallreduce(rg_comm *c, float *f, float *g)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    for (int det = 0; det < 2; det++) {
        CHECK(rg_comm_set_deterministic(c, det) == RG_OK);
        for (int li = 0; li < NLENS; li++) {
            size_t n = lens[li];
            /* two in flight at once, completed in order */
            rg_comm_req *q1 = NULL, *q2 = NULL;
            for (size_t i = 0; i < n; i++) { f[i] = (float)(r + 1); g[i] = (float)(i % 3); }
            CHECK(rg_comm_iallreduce(c, f, n, RG_REDUCE_SUM, &q1) == RG_OK);
            CHECK(rg_comm_iallreduce(c, g, n, RG_REDUCE_AVG, &q2) == RG_OK);
            CHECK(rg_comm_wait(c, q1) == RG_OK);
            CHECK(rg_comm_wait(c, q2) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += f[i] != (float)(W * (W + 1) / 2) || g[i] != (float)W * (float)(i % 3) / (float)W;
            CHECK(bad == 0);
        }
    }
    CHECK(rg_comm_set_deterministic(c, 0) == RG_OK);
}

/* Every rank sends to every rank (itself too) before receiving anything,
 * 4 MiB messages included: send must not wait for the receiver. */
static void check_send_recv(rg_comm *c)
{
    int r = rg_comm_rank(c), W = rg_comm_size(c);
    static const size_t sizes[] = { 0, 1, 4u << 20 };
    unsigned char *buf = malloc(4u << 20);
    if (!buf) { CHECK(!"out of memory"); return; }
    for (int si = 0; si < 3; si++) {
        size_t bytes = sizes[si];
        for (int dst = 0; dst < W; dst++) {
            for (size_t i = 0; i < bytes; i++) buf[i] = (unsigned char)(r * 31 + dst * 7 + i);
            CHECK(rg_comm_send(c, buf, bytes, dst, 10 + si) == RG_OK);
            memset(buf, 0, bytes);          /* send copied it */
        }
        /* receive in reverse rank order: matching is by (source, tag) */
        for (int src = W - 1; src >= 0; src--) {
            CHECK(rg_comm_recv(c, buf, bytes, src, 10 + si) == RG_OK);
            int bad = 0;
            for (size_t i = 0; i < bytes; i++) bad += buf[i] != (unsigned char)(src * 31 + r * 7 + i);
            CHECK(bad == 0);
        }
    }
    /* two messages on one (source, tag) arrive in sending order */
    int a = 1, b = 2, x = 0;
    CHECK(rg_comm_send(c, &a, sizeof a, (r + 1) % W, 3) == RG_OK);
    CHECK(rg_comm_send(c, &b, sizeof b, (r + 1) % W, 3) == RG_OK);
    CHECK(rg_comm_recv(c, &x, sizeof x, (r + W - 1) % W, 3) == RG_OK && x == 1);
    CHECK(rg_comm_recv(c, &x, sizeof x, (r + W - 1) % W, 3) == RG_OK && x == 2);
    /* a message in pieces: sendv to recvv, to a plain recv, and send to recvv */
    int p = (r + W - 1) % W, h = 10 + r, hg = 0;
    double body[3] = { r, r + 0.5, r + 0.25 }, bg[3] = { 0 };
    unsigned char whole[sizeof h + sizeof body];
    rg_piece out[2] = { { &h, sizeof h }, { body, sizeof body } }, in[2] = { { &hg, sizeof hg }, { bg, sizeof bg } };
    CHECK(rg_comm_sendv(c, out, 2, (r + 1) % W, 5) == RG_OK);
    CHECK(rg_comm_recvv(c, in, 2, p, 5) == RG_OK && hg == 10 + p && bg[0] == p && bg[2] == p + 0.25);
    CHECK(rg_comm_sendv(c, out, 2, (r + 1) % W, 6) == RG_OK);
    CHECK(rg_comm_recv(c, whole, sizeof whole, p, 6) == RG_OK);
    memcpy(&hg, whole, sizeof hg);
    CHECK(hg == 10 + p);
    CHECK(rg_comm_send(c, whole, sizeof whole, (r + 1) % W, 7) == RG_OK);
    CHECK(rg_comm_recvv(c, in, 2, p, 7) == RG_OK && hg == 10 + (p + W - 1) % W && bg[1] == (p + W - 1) % W + 0.5);
    /* a message of the wrong size is consumed and named */
    double big = 1.5;
    CHECK(rg_comm_send(c, &big, sizeof big, (r + 1) % W, 4) == RG_OK);
    CHECK(rg_comm_recv(c, &x, sizeof x, (r + W - 1) % W, 4) == RG_ECOMM);
    CHECK(strstr(rg_last_error(), "expected 4 bytes, the message has 8") != NULL);
    CHECK(rg_comm_send(c, &a, sizeof a, (r + 1) % W, 4) == RG_OK);
    CHECK(rg_comm_recv(c, &x, sizeof x, (r + W - 1) % W, 4) == RG_OK && x == 1);
    /* bad peers and tags are refused locally */
    CHECK(rg_comm_send(c, &a, sizeof a, W, 0) == RG_EUSAGE);
    CHECK(rg_comm_recv(c, &x, sizeof x, -1, 0) == RG_EUSAGE);
    CHECK(rg_comm_send(c, &a, sizeof a, 0, -5) == RG_EUSAGE);
    CHECK(rg_comm_barrier(c) == RG_OK);
    free(buf);
}

int main(int argc, char **argv)
{
    rg_comm *c = NULL;
    CHECK(rg_comm_mpi_available() == 1);
    CHECK(rg_comm_mpi_launched() == 1);
    if (rg_comm_mpi_init(&argc, &argv) != RG_OK || rg_comm_mpi_init(&argc, &argv) != RG_OK ||
        rg_comm_mpi_world(&c) != RG_OK) {
        fprintf(stderr, "mpi_collectives: %s\n", rg_last_error());
        return 1;
    }
    g_rank = rg_comm_rank(c);
    int W = rg_comm_size(c);
    float *f = malloc((size_t)W * MAXN * sizeof *f), *g = malloc((size_t)W * MAXN * sizeof *g);
    double *d = malloc(MAXN * sizeof *d);
    if (!f || !g || !d) return 1;

    check_allreduce(c, f, d);
    check_deterministic(c, f, g);
    check_allgather(c, f, g);
    check_reduce_scatter(c, f, g);
    check_broadcast(c, f);
    check_split(c);
    check_iallreduce(c, f, g);
    check_send_recv(c);
    CHECK(rg_comm_barrier(c) == RG_OK);

    double counts[2] = { g_pass, g_fail };
    if (rg_comm_allreduce_f64(c, counts, 2, RG_REDUCE_SUM) != RG_OK) {
        fprintf(stderr, "mpi_collectives: %s\n", rg_last_error());
        return 1;
    }
    if (g_rank == 0) printf("mpi_collectives (%d processes): %.0f passed, %.0f failed\n", W, counts[0], counts[1]);
    free(f);
    free(g);
    free(d);
    rg_comm_free(c);
    rg_comm_mpi_finalize();
    return counts[1] != 0 || counts[0] == 0;
}
