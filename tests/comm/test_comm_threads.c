/* The threads communicator: n ranks on n pthreads of one process.  Every
 * collective is checked against a serial rank-order computation done here,
 * bitwise, on sizes 1-4 and lengths that do not divide evenly; then split,
 * iallreduce, send/recv (whole and in pieces), idle, abort and a barrier
 * stress.  Worker threads cannot
 * use cmocka's asserts (they longjmp), so they record the first failure and
 * abort the world, which wakes their peers; main asserts after the join.
 * alarm() bounds the whole run in case a wait hangs. */
#include "support.h"
#include "core/core.h"
#include "comm/comm.h"
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct ctx {
    rg_comm *c;
    int rank, size;
    const void *arg;
    int failed;
    char why[512];
} ctx;

typedef void (*body_fn)(ctx *cx);

/* On failure: record, abort the world so no peer waits forever, return. */
#define T_CHECK(x)                                                                  \
    do {                                                                            \
        if (!(x)) {                                                                 \
            if (!cx->failed) {                                                      \
                snprintf(cx->why, sizeof cx->why, "%s:%d: %s (last error: %s)",     \
                         __FILE__, __LINE__, #x, rg_last_error());                  \
                cx->failed = 1;                                                     \
            }                                                                       \
            rg_comm_abort(cx->c, RG_ECOMM, "a test check failed on a peer");        \
            return;                                                                 \
        }                                                                           \
    } while (0)

typedef struct { ctx *cx; body_fn fn; } start;

static void *thread_main(void *p)
{
    start *s = p;
    s->fn(s->cx);
    return NULL;
}

/* Runs fn on n threads, one per rank of the given handles, and asserts that
 * none failed. */
static void run_on(rg_comm **ranks, int n, body_fn fn, const void *arg)
{
    ctx cx[8];
    start st[8];
    pthread_t t[8];
    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        cx[i] = (ctx){ .c = ranks[i], .rank = i, .size = n, .arg = arg };
        st[i] = (start){ &cx[i], fn };
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &st[i]), 0);
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    /* Every failure: the first is on whichever rank, the rest follow it. */
    char all[8 * 600] = "";
    for (int i = 0; i < n; i++)
        if (cx[i].failed)
            snprintf(all + strlen(all), sizeof all - strlen(all), "\n  rank %d of %d: %s", i, n, cx[i].why);
    if (all[0]) fail_msg("%s", all);
}

static void run_world(int n, body_fn fn, const void *arg)
{
    rg_comm *ranks[8];
    assert_int_equal(rg_comm_threads_create(n, ranks), RG_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rg_comm_rank(ranks[i]), i);
        assert_int_equal(rg_comm_size(ranks[i]), n);
    }
    run_on(ranks, n, fn, arg);
    for (int i = 0; i < n; i++) rg_comm_free(ranks[i]);
}

/* Rank r's element i: values of very different magnitudes, so that another
 * summation order gives different bits for some elements. */
static double gen(int r, size_t i)
{
    uint64_t x = (uint64_t)(r + 1) * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    double u = (double)(x >> 11) / 9007199254740992.0;        /* [0, 1) */
    return (u - 0.5) * pow(10.0, (double)((x >> 3) % 9) - 4);  /* 1e-4 .. 1e4 */
}

static const size_t LENS[] = { 0, 1, 7, 513, 100003 };
#define NLENS (sizeof LENS / sizeof LENS[0])

typedef struct { size_t n; int avg; int f64; } ar_arg;

static void body_allreduce(ctx *cx)
{
    const ar_arg *a = cx->arg;
    size_t n = a->n;
    int N = cx->size;
    for (int rep = 0; rep < 2; rep++) {
        if (a->f64) {
            double *b = malloc((n ? n : 1) * sizeof *b);
            T_CHECK(b);
            for (size_t i = 0; i < n; i++) b[i] = gen(cx->rank, i);
            T_CHECK(rg_comm_allreduce_f64(cx->c, b, n, a->avg ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_OK);
            size_t bad = n;
            for (size_t i = 0; i < n && bad == n; i++) {
                double s = gen(0, i);
                for (int k = 1; k < N; k++) s += gen(k, i);
                if (a->avg) s /= N;
                if (memcmp(&s, &b[i], sizeof s)) bad = i;
            }
            free(b);
            T_CHECK(bad == n);
        } else {
            float *b = malloc((n ? n : 1) * sizeof *b);
            T_CHECK(b);
            for (size_t i = 0; i < n; i++) b[i] = (float)gen(cx->rank, i);
            T_CHECK(rg_comm_allreduce(cx->c, b, n, a->avg ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_OK);
            size_t bad = n;
            for (size_t i = 0; i < n && bad == n; i++) {
                float s = (float)gen(0, i);
                for (int k = 1; k < N; k++) s += (float)gen(k, i);
                if (a->avg) s /= (float)N;
                if (memcmp(&s, &b[i], sizeof s)) bad = i;
            }
            free(b);
            T_CHECK(bad == n);
        }
    }
}

static void test_allreduce(void **state)
{
    for (int f64 = 0; f64 <= 1; f64++)
        for (int N = 1; N <= 4; N++)
            for (size_t l = 0; l < NLENS; l++)
                for (int avg = 0; avg <= 1; avg++) {
                    ar_arg a = { LENS[l], avg, f64 };
                    run_world(N, body_allreduce, &a);
                }
}

/* The rank-order check above would pass by luck if order did not matter:
 * make sure it does for these inputs. */
static void test_order_matters(void **state)
{
    size_t differ = 0;
    for (size_t i = 0; i < 100003; i++) {
        float fwd = (((float)gen(0, i) + (float)gen(1, i)) + (float)gen(2, i)) + (float)gen(3, i);
        float rev = (((float)gen(3, i) + (float)gen(2, i)) + (float)gen(1, i)) + (float)gen(0, i);
        differ += memcmp(&fwd, &rev, sizeof fwd) != 0;
    }
    assert_true(differ > 1000);
}

/* Small integers sum exactly: a known answer independent of gen(). */
static void body_known(ctx *cx)
{
    float b[7];
    int N = cx->size;
    for (int i = 0; i < 7; i++) b[i] = (float)((cx->rank + 1) * (i + 1));
    T_CHECK(rg_comm_allreduce(cx->c, b, 7, RG_REDUCE_SUM) == RG_OK);
    for (int i = 0; i < 7; i++) T_CHECK(b[i] == (float)(N * (N + 1) / 2 * (i + 1)));
    for (int i = 0; i < 7; i++) b[i] = (float)((cx->rank + 1) * (i + 1));
    T_CHECK(rg_comm_allreduce(cx->c, b, 7, RG_REDUCE_AVG) == RG_OK);
    for (int i = 0; i < 7; i++) T_CHECK(b[i] == (float)(N + 1) / 2 * (float)(i + 1));
}

static void test_known_values(void **state)
{
    for (int N = 1; N <= 4; N++) run_world(N, body_known, NULL);
}

static void body_broadcast(ctx *cx)
{
    size_t n = *(const size_t *)cx->arg;
    unsigned char *b = malloc(n ? n : 1);
    T_CHECK(b);
    for (int root = 0; root < cx->size; root++) {
        for (size_t i = 0; i < n; i++)
            b[i] = cx->rank == root ? (unsigned char)(i * 7 + (size_t)root) : 0xEE;
        T_CHECK(rg_comm_broadcast(cx->c, b, n, root) == RG_OK);
        for (size_t i = 0; i < n; i++)
            if (b[i] != (unsigned char)(i * 7 + (size_t)root)) {
                free(b);
                T_CHECK(!"broadcast delivered the root's bytes");
            }
    }
    free(b);
    T_CHECK(rg_comm_broadcast(cx->c, NULL, 0, cx->size) == RG_EUSAGE);
}

static void test_broadcast(void **state)
{
    for (int N = 1; N <= 4; N++)
        for (size_t l = 0; l < NLENS; l++) run_world(N, body_broadcast, &LENS[l]);
}

static void body_allgather(ctx *cx)
{
    size_t n = *(const size_t *)cx->arg;
    int N = cx->size;
    float *in = malloc((n ? n : 1) * sizeof *in), *out = malloc((n ? n : 1) * (size_t)N * sizeof *out);
    T_CHECK(in && out);
    for (size_t i = 0; i < n; i++) in[i] = (float)gen(cx->rank, i);
    T_CHECK(rg_comm_allgather(cx->c, in, n, out) == RG_OK);
    size_t bad = 0;
    for (int k = 0; k < N; k++)
        for (size_t i = 0; i < n; i++) bad += out[(size_t)k * n + i] != (float)gen(k, i);
    /* In place: our input is our block of out. */
    for (size_t i = 0; i < n * (size_t)N; i++) out[i] = -1;
    for (size_t i = 0; i < n; i++) out[(size_t)cx->rank * n + i] = (float)gen(cx->rank, i);
    T_CHECK(rg_comm_allgather(cx->c, out + (size_t)cx->rank * n, n, out) == RG_OK);
    for (int k = 0; k < N; k++)
        for (size_t i = 0; i < n; i++) bad += out[(size_t)k * n + i] != (float)gen(k, i);
    free(in);
    free(out);
    T_CHECK(bad == 0);
}

static void test_allgather(void **state)
{
    for (int N = 1; N <= 4; N++)
        for (size_t l = 0; l < NLENS; l++) run_world(N, body_allgather, &LENS[l]);
}

typedef struct { size_t n_each; int avg; } rs_arg;

static void body_reduce_scatter(ctx *cx)
{
    const rs_arg *a = cx->arg;
    size_t m = a->n_each;
    int N = cx->size, r = cx->rank;
    float *in = calloc((m ? m : 1) * (size_t)N, sizeof *in), *out = calloc(m ? m : 1, sizeof *out);
    T_CHECK(in && out);
    for (size_t i = 0; i < m * (size_t)N; i++) in[i] = (float)gen(r, i);
    T_CHECK(rg_comm_reduce_scatter(cx->c, in, m, out, a->avg ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_OK);
    size_t bad = 0;
    for (size_t i = 0; i < m; i++) {
        size_t j = (size_t)r * m + i;
        float s = (float)gen(0, j);
        for (int k = 1; k < N; k++) s += (float)gen(k, j);
        if (a->avg) s /= (float)N;
        bad += memcmp(&s, &out[i], sizeof s) != 0;
    }
    free(in);
    free(out);
    T_CHECK(bad == 0);
}

static void test_reduce_scatter(void **state)
{
    for (int N = 1; N <= 4; N++)
        for (size_t l = 0; l < NLENS; l++)
            for (int avg = 0; avg <= 1; avg++) {
                rs_arg a = { LENS[l], avg };
                run_world(N, body_reduce_scatter, &a);
            }
}

/* Mismatched sizes are RG_ECOMM on every rank, naming both; the world still
 * works afterwards. */
static void body_mismatch(ctx *cx)
{
    float b[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    rg_status st = rg_comm_allreduce(cx->c, b, cx->rank == 1 ? 6 : 5, RG_REDUCE_SUM);
    T_CHECK(st == RG_ECOMM);
    T_CHECK(strstr(rg_last_error(), "5") && strstr(rg_last_error(), "6"));
    T_CHECK(rg_comm_allreduce(cx->c, b, 8, cx->rank == 1 ? RG_REDUCE_AVG : RG_REDUCE_SUM) == RG_ECOMM);
    T_CHECK(rg_comm_broadcast(cx->c, b, 4, cx->rank) == RG_ECOMM);
    T_CHECK(rg_comm_allreduce(cx->c, b, 8, RG_REDUCE_SUM) == RG_OK);
    T_CHECK(b[0] == (float)cx->size);
}

static void test_mismatch(void **state)
{
    run_world(2, body_mismatch, NULL);
    run_world(3, body_mismatch, NULL);
}

/* Split 4 (or 6) ranks by parity with keys reversing the order, then run
 * collectives on both halves at once, many times. */
static void body_split(ctx *cx)
{
    int r = cx->rank, N = cx->size, color = r % 2;
    rg_comm *sub = NULL;
    T_CHECK(rg_comm_split(cx->c, color, -r, &sub) == RG_OK && sub);
    int m = (N - color + 1) / 2;   /* members of my color */
    T_CHECK(rg_comm_size(sub) == m);
    /* Members r = color, color+2, ... with keys -r: the highest rank first. */
    int want = (N - 1 - color) / 2 * 2 + color;
    int expect_rank = (want - r) / 2;
    T_CHECK(rg_comm_rank(sub) == expect_rank);
    float b[300];
    int ok = 1;
    for (int it = 0; it < 2000 && ok; it++) {
        for (int i = 0; i < 300; i++) b[i] = (float)(r + it + i);
        if (rg_comm_allreduce(sub, b, it % 2 ? 300 : 3, RG_REDUCE_SUM) != RG_OK) ok = 0;
        /* sum over my color's ranks of (r + it + i) */
        int sr = 0;
        for (int k = color; k < N; k += 2) sr += k;
        if (b[2] != (float)(sr + m * (it + 2))) ok = 0;
    }
    T_CHECK(ok);
    /* A world-wide collective still works alongside. */
    float one = 1;
    T_CHECK(rg_comm_allreduce(cx->c, &one, 1, RG_REDUCE_SUM) == RG_OK && one == (float)N);
    /* Equal keys order by parent rank; a split of a split works. */
    rg_comm *all = NULL, *again = NULL;
    T_CHECK(rg_comm_split(cx->c, 7, 0, &all) == RG_OK);
    T_CHECK(rg_comm_rank(all) == r && rg_comm_size(all) == N);
    T_CHECK(rg_comm_split(sub, 0, 0, &again) == RG_OK && rg_comm_size(again) == m);
    T_CHECK(rg_comm_barrier(again) == RG_OK);
    rg_comm_free(again);
    rg_comm_free(all);
    rg_comm_free(sub);
}

static void test_split(void **state)
{
    run_world(4, body_split, NULL);
    run_world(3, body_split, NULL);
    run_world(6, body_split, NULL);
}

/* Requests complete in start order whatever the order of the waits, and a
 * blocking collective completes pending ones first. */
static void body_iallreduce(ctx *cx)
{
    int N = cx->size;
    float a[5], b[200], c[3];
    for (int i = 0; i < 5; i++) a[i] = (float)(cx->rank + i);
    for (int i = 0; i < 200; i++) b[i] = (float)(cx->rank * i);
    rg_comm_req *ra, *rb, *rc;
    T_CHECK(rg_comm_iallreduce(cx->c, a, 5, RG_REDUCE_SUM, &ra) == RG_OK);
    T_CHECK(rg_comm_iallreduce(cx->c, b, 200, RG_REDUCE_AVG, &rb) == RG_OK);
    if (cx->rank % 2) {
        T_CHECK(rg_comm_wait(cx->c, rb) == RG_OK);
        T_CHECK(rg_comm_wait(cx->c, ra) == RG_OK);
    } else {
        T_CHECK(rg_comm_wait(cx->c, ra) == RG_OK);
        T_CHECK(rg_comm_wait(cx->c, rb) == RG_OK);
    }
    for (int i = 0; i < 5; i++) T_CHECK(a[i] == (float)(N * (N - 1) / 2 + N * i));
    for (int i = 0; i < 200; i++) T_CHECK(b[i] == (float)(N * (N - 1) / 2 * i) / (float)N);
    for (int i = 0; i < 3; i++) c[i] = 1;
    T_CHECK(rg_comm_iallreduce(cx->c, c, 3, RG_REDUCE_SUM, &rc) == RG_OK);
    if (cx->rank == 0) T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
    T_CHECK(rg_comm_wait(cx->c, rc) == RG_OK);
    if (cx->rank != 0) T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
    T_CHECK(c[0] == (float)N);
}

static void test_iallreduce(void **state)
{
    for (int N = 1; N <= 3; N++) run_world(N, body_iallreduce, NULL);
    rg_comm *self;
    rg_comm_req *req;
    float x = 2;
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_iallreduce(self, &x, 1, RG_REDUCE_SUM, &req), RG_OK);
    assert_int_equal(rg_comm_wait(self, req), RG_OK);
    assert_float_equal(x, 2, 0);
    rg_comm_free(self);
}

static void body_pingpong(ctx *cx)
{
    int peer = 1 - cx->rank;
    uint64_t v = 0;
    for (int i = 0; i < 2000; i++) {
        if ((i % 2) == cx->rank) {
            v++;
            T_CHECK(rg_comm_send(cx->c, &v, sizeof v, peer, 5) == RG_OK);
        } else {
            T_CHECK(rg_comm_recv(cx->c, &v, sizeof v, peer, 5) == RG_OK);
        }
    }
    T_CHECK(v == 2000);
}

/* Everyone sends first (sends never wait), then receives; tags match out of
 * order; a large message; a size mismatch names both sizes. */
static void body_ring(ctx *cx)
{
    int N = cx->size, r = cx->rank, next = (r + 1) % N, prev = (r + N - 1) % N;
    int x = 100 + r, y = 200 + r, got;
    T_CHECK(rg_comm_send(cx->c, &x, sizeof x, next, 1) == RG_OK);
    T_CHECK(rg_comm_send(cx->c, &y, sizeof y, next, 2) == RG_OK);
    T_CHECK(rg_comm_recv(cx->c, &got, sizeof got, prev, 2) == RG_OK && got == 200 + prev);
    T_CHECK(rg_comm_recv(cx->c, &got, sizeof got, prev, 1) == RG_OK && got == 100 + prev);
    size_t n = 100003;
    float *big = malloc(n * sizeof *big);
    T_CHECK(big);
    for (size_t i = 0; i < n; i++) big[i] = (float)gen(r, i);
    rg_status s1 = rg_comm_send(cx->c, big, n * sizeof *big, next, 3);
    rg_status s2 = rg_comm_recv(cx->c, big, n * sizeof *big, prev, 3);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += big[i] != (float)gen(prev, i);
    free(big);
    T_CHECK(s1 == RG_OK && s2 == RG_OK && bad == 0);
    double d = 1;
    T_CHECK(rg_comm_send(cx->c, &d, 8, next, 4) == RG_OK);
    T_CHECK(rg_comm_recv(cx->c, &got, 4, prev, 4) == RG_ECOMM);
    T_CHECK(strstr(rg_last_error(), "expected 4 bytes") && strstr(rg_last_error(), "has 8"));
    T_CHECK(rg_comm_send(cx->c, &d, 8, N, 4) == RG_EUSAGE);
}

/* probe: nothing before the message, the message by tag and sender, and
 * nothing once it is received; a sender out of range is refused. */
static void body_probe(ctx *cx)
{
    int ready = -1, v = 7 + cx->rank;
    if (cx->rank == 1) {
        T_CHECK(rg_comm_probe(cx->c, 0, 9, &ready) == RG_OK && ready == 0);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);   /* rank 0 sends */
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        T_CHECK(rg_comm_probe(cx->c, 0, 8, &ready) == RG_OK && ready == 0);   /* another tag */
        T_CHECK(rg_comm_probe(cx->c, 0, 9, &ready) == RG_OK && ready == 1);
        T_CHECK(rg_comm_probe(cx->c, 0, 9, &ready) == RG_OK && ready == 1);   /* still there */
        T_CHECK(rg_comm_recv(cx->c, &v, sizeof v, 0, 9) == RG_OK && v == 7);
        T_CHECK(rg_comm_probe(cx->c, 0, 9, &ready) == RG_OK && ready == 0);
        T_CHECK(rg_comm_probe(cx->c, 2, 9, &ready) == RG_EUSAGE);
    } else {
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        T_CHECK(rg_comm_send(cx->c, &v, sizeof v, 1, 9) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
    }
}

/* A message in pieces (sendv, recvv): a header and a body land where each
 * belongs, an empty piece included; the pieces were copied at the send;
 * either end may be a plain send or recv of the whole; recvv's size check
 * is recv's, and a mismatch leaves the pieces alone. */
static void body_pieces(ctx *cx)
{
    int N = cx->size, r = cx->rank, next = (r + 1) % N, prev = (r + N - 1) % N;
    enum { NB = 5003 };
    int hdr = 100 + r, got = -1;
    float body[NB], in[NB], whole[1 + NB];
    for (int i = 0; i < NB; i++) body[i] = (float)gen(r, (size_t)i);
    rg_piece out[3] = { { &hdr, sizeof hdr }, { NULL, 0 }, { body, sizeof body } };
    T_CHECK(rg_comm_sendv(cx->c, out, 3, next, 1) == RG_OK);
    hdr = -1, body[0] = -1.0f;   /* sendv copied them */
    rg_piece back[2] = { { &got, sizeof got }, { in, sizeof in } };
    T_CHECK(rg_comm_recvv(cx->c, back, 2, prev, 1) == RG_OK && got == 100 + prev);
    int bad = 0;
    for (int i = 0; i < NB; i++) bad += in[i] != (float)gen(prev, (size_t)i);
    T_CHECK(bad == 0);
    /* sendv to a plain recv: the pieces end to end; send to recvv: split */
    hdr = 100 + r, body[0] = (float)gen(r, 0);
    T_CHECK(rg_comm_sendv(cx->c, out, 3, next, 2) == RG_OK);
    T_CHECK(rg_comm_recv(cx->c, whole, sizeof whole, prev, 2) == RG_OK);
    memcpy(&got, whole, sizeof got);
    T_CHECK(got == 100 + prev && whole[1] == (float)gen(prev, 0) && whole[NB] == (float)gen(prev, NB - 1));
    T_CHECK(rg_comm_send(cx->c, whole, sizeof whole, next, 3) == RG_OK);
    T_CHECK(rg_comm_recvv(cx->c, back, 2, prev, 3) == RG_OK);
    T_CHECK(in[NB - 1] == (float)gen((prev + N - 1) % N, NB - 1));   /* what prev got from its prev */
    /* a short message: consumed, named, the pieces untouched */
    got = -7, in[0] = -7.0f;
    T_CHECK(rg_comm_sendv(cx->c, out, 1, next, 4) == RG_OK);
    T_CHECK(rg_comm_recvv(cx->c, back, 2, prev, 4) == RG_ECOMM && got == -7 && in[0] == -7.0f);
    T_CHECK(strstr(rg_last_error(), "has 4") != NULL);
    T_CHECK(rg_comm_sendv(cx->c, out, 3, N, 4) == RG_EUSAGE && rg_comm_recvv(cx->c, back, 2, -1, 4) == RG_EUSAGE);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* idle: with nothing coming it waits out its time (a nap would not); a
 * message wakes it long before; one that came before the call, since the
 * last return, makes it return at once, and once seen it does not; an
 * abort wakes it with its status. */
static void body_idle(ctx *cx)
{
    struct timespec ms20 = { 0, 20 * 1000 * 1000 };
    int v = 5;
    if (cx->rank == 1) {
        double t0 = now_s();
        T_CHECK(rg_comm_idle(cx->c, 0.05, 0.0) == RG_OK && now_s() - t0 >= 0.05);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);   /* rank 0 sends in 20 ms */
        t0 = now_s();
        T_CHECK(rg_comm_idle(cx->c, 10.0, 0.0) == RG_OK && now_s() - t0 < 5.0);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);   /* rank 0 sent again between the two */
        t0 = now_s();
        T_CHECK(rg_comm_idle(cx->c, 10.0, 0.0) == RG_OK && now_s() - t0 < 5.0);
        t0 = now_s();
        T_CHECK(rg_comm_idle(cx->c, 0.03, 0.0) == RG_OK && now_s() - t0 >= 0.03);   /* both seen */
        T_CHECK(rg_comm_recv(cx->c, &v, sizeof v, 0, 1) == RG_OK && rg_comm_recv(cx->c, &v, sizeof v, 0, 1) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);   /* rank 0 aborts in 20 ms */
        T_CHECK(rg_comm_idle(cx->c, 10.0, 0.0) == RG_EDATA && strstr(rg_last_error(), "stop idling"));
    } else {
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        nanosleep(&ms20, NULL);
        T_CHECK(rg_comm_send(cx->c, &v, sizeof v, 1, 1) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        T_CHECK(rg_comm_send(cx->c, &v, sizeof v, 1, 1) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        T_CHECK(rg_comm_barrier(cx->c) == RG_OK);
        nanosleep(&ms20, NULL);
        rg_comm_abort(cx->c, RG_EDATA, "stop idling");
    }
}

static void test_send_recv(void **state)
{
    run_world(2, body_idle, NULL);
    run_world(2, body_pingpong, NULL);
    for (int N = 1; N <= 3; N++) run_world(N, body_pieces, NULL);
    run_world(2, body_probe, NULL);
    for (int N = 1; N <= 4; N++) run_world(N, body_ring, NULL);
}

/* Rank 0 aborts while the others wait: in a barrier, a recv, an all-reduce
 * (modes 0-2); in the parent while rank 0 aborts through its sub-communicator
 * (3); in a sub-communicator's barrier and a recv (4).  They wake with its
 * status and message, and every later call fails the same way. */
static void body_abort(ctx *cx)
{
    int mode = *(const int *)cx->arg;
    rg_comm *sub = NULL;
    T_CHECK(rg_comm_split(cx->c, cx->rank == 0 ? 0 : 1, 0, &sub) == RG_OK);
    if (cx->rank == 0) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        char msg[64];
        nanosleep(&ts, NULL);
        /* msg may be the caller's own rg_last_error(): check that case. */
        rg_error(RG_EDATA, "train-images.gz: truncated");
        snprintf(msg, sizeof msg, "%s", rg_last_error());
        T_CHECK(rg_comm_abort(mode == 3 ? sub : cx->c, RG_EDATA, rg_last_error()) == RG_EDATA);
        T_CHECK(strcmp(rg_last_error(), msg) == 0);
    } else {
        rg_status st;
        float b[4096] = { 0 };
        int x;
        if (mode == 0 || mode == 3) st = rg_comm_barrier(cx->c);
        else if (mode == 1) st = rg_comm_recv(cx->c, &x, sizeof x, 0, 9);
        else if (mode == 2) st = rg_comm_allreduce(cx->c, b, 4096, RG_REDUCE_SUM);
        else if (cx->rank == 1) st = rg_comm_barrier(sub);   /* rank 2 never comes */
        else st = rg_comm_recv(sub, &x, sizeof x, 0, 9);     /* nobody sends */
        T_CHECK(st == RG_EDATA);
        T_CHECK(strcmp(rg_last_error(), "train-images.gz: truncated") == 0);
    }
    T_CHECK(rg_comm_barrier(cx->c) == RG_EDATA);
    T_CHECK(rg_comm_barrier(sub) == RG_EDATA);
    float y = 1;
    T_CHECK(rg_comm_allreduce(cx->c, &y, 1, RG_REDUCE_SUM) == RG_EDATA);
    T_CHECK(rg_comm_send(cx->c, &y, sizeof y, 0, 1) == RG_EDATA);
    T_CHECK(strcmp(rg_last_error(), "train-images.gz: truncated") == 0);
    rg_comm_free(sub);
}

static void test_abort(void **state)
{
    for (int mode = 0; mode < 5; mode++) {
        run_world(3, body_abort, &mode);
        /* and with waits that sleep at once */
        setenv("REGULA_SPIN", "0", 1);
        run_world(3, body_abort, &mode);
        unsetenv("REGULA_SPIN");
    }
}

/* Back-to-back small all-reduces: every generation of the barrier is used,
 * with ranks racing into the next one. */
static void body_stress(ctx *cx)
{
    int N = cx->size, iters = *(const int *)cx->arg, ok = 1;
    for (int it = 0; it < iters && ok; it++) {
        float v[2] = { (float)(cx->rank + it), 1 };
        if (rg_comm_allreduce(cx->c, v, 2, RG_REDUCE_SUM) != RG_OK) ok = 0;
        if (v[0] != (float)(N * (N - 1) / 2 + N * it) || v[1] != (float)N) ok = 0;
    }
    T_CHECK(ok);
}

static void test_stress(void **state)
{
    int iters = 10000, few = 1000;
    run_world(2, body_stress, &iters);
    run_world(3, body_stress, &few);    /* more ranks than cores: spins time out */
    setenv("REGULA_SPIN", "0", 1);
    run_world(2, body_stress, &few);    /* every wait sleeps on the condvar */
    unsetenv("REGULA_SPIN");
}

static void test_create_errors(void **state)
{
    rg_comm *c[1];
    assert_int_equal(rg_comm_threads_create(0, c), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "0 ranks"));
}

int main(void)
{
    alarm(240);   /* a hung wait fails the test instead of blocking ctest */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_matters),
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_allreduce),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_allgather),
        cmocka_unit_test(test_reduce_scatter),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_iallreduce),
        cmocka_unit_test(test_send_recv),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
