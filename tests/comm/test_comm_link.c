/* The emulated link: results are the wrapped communicator's, bit for bit;
 * every operation lasts at least what the link's model says (a lower
 * bound: a sleep cannot end early, so this is no timing race); parsing
 * takes the units and names --link on a mistake; a message in pieces is
 * paced as one. */
#include "support.h"
#include "core/core.h"
#include "comm/comm.h"
#include "comm/link.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_parse(void **state)
{
    (void)state;
    rg_link l;
    assert_int_equal(rg_link_parse("1gbit,50us", &l), RG_OK);
    assert_true(l.bits_per_s == 1e9 && fabs(l.latency_s - 50e-6) < 1e-15);
    assert_int_equal(rg_link_parse("2.5Gbit,1ms", &l), RG_OK);
    assert_true(l.bits_per_s == 2.5e9 && fabs(l.latency_s - 1e-3) < 1e-15);
    assert_int_equal(rg_link_parse("100mbit,0", &l), RG_OK);
    assert_true(l.bits_per_s == 1e8 && l.latency_s == 0.0);
    assert_int_equal(rg_link_parse("", &l), RG_OK);
    assert_true(l.bits_per_s == 0.0);
    const char *bad[] = { "1gbit", "1gbps,50us", "0gbit,1us", "-1gbit,1us", "1gbit,-2us", "1gbit,5parsecs", ",5us" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(rg_link_parse(bad[i], &l), RG_EUSAGE);
        assert_non_null(strstr(rg_last_error(), "--link"));
    }
    /* 2 messages and 1 MB at 1 Gbit/s, 50 us: 100 us + 8 ms */
    assert_true(fabs(rg_link_seconds(&(rg_link){ 1e9, 50e-6 }, 2, 1e6) - 8.1e-3) < 1e-12);
}

typedef struct job { rg_comm *c; float *buf; double seconds; rg_status st; } job;

static void *all_reduce(void *p)
{
    job *j = p;
    double t0 = rg_now();
    j->st = rg_comm_allreduce(j->c, j->buf, 25000, RG_REDUCE_SUM);
    if (j->st == RG_OK) j->st = rg_comm_barrier(j->c);
    j->seconds = rg_now() - t0;
    return NULL;
}

/* Two threads all-reduce 25,000 floats over a 100 Mbit/s, 1 ms link: the
 * same sums as without it, in at least the ring's 2 ms of latency and 8 ms
 * for its 100 kB, then the barrier's 2 ms. */
static void test_paced_and_exact(void **state)
{
    (void)state;
    rg_link link = { 1e8, 1e-3 };
    float *a[2], *b[2];
    for (int pass = 0; pass < 2; pass++) {
        rg_comm *ranks[2];
        assert_int_equal(rg_comm_threads_create(2, ranks), RG_OK);
        float **bufs = pass ? b : a;
        for (int k = 0; k < 2; k++) {
            bufs[k] = malloc(25000 * sizeof(float));
            for (int i = 0; i < 25000; i++) bufs[k][i] = rg_rng_uniform(3, RG_RNG_USER, (uint64_t)k, (uint64_t)i);
            if (pass) {
                rg_comm *w;
                assert_int_equal(rg_comm_link(ranks[k], &link, 1, &w), RG_OK);
                ranks[k] = w;
            }
        }
        job j[2];
        pthread_t t[2];
        for (int k = 0; k < 2; k++) {
            j[k] = (job){ ranks[k], bufs[k], 0, RG_OK };
            pthread_create(&t[k], NULL, all_reduce, &j[k]);
        }
        for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(j[k].st, RG_OK);
            rg_comm_free(ranks[k]);
        }
        if (pass) {
            double want = rg_link_seconds(&link, 2, 25000.0 * 4) + rg_link_seconds(&link, 2, 0);
            print_message("paced: %.2f ms (the link's model: %.2f ms)\n", j[0].seconds * 1e3, want * 1e3);
            assert_true(j[0].seconds >= want && j[1].seconds >= want);
        }
    }
    for (int k = 0; k < 2; k++) assert_memory_equal(a[k], b[k], 25000 * sizeof(float));
    for (int k = 0; k < 2; k++) { free(a[k]); free(b[k]); }
}

/* A message in pieces through the link: paced as one message of their
 * total size, delivered piece by piece. */
static void test_pieces(void **state)
{
    (void)state;
    rg_link link = { 1e8, 1e-3 };
    rg_comm *ranks[2];
    assert_int_equal(rg_comm_threads_create(2, ranks), RG_OK);
    for (int k = 0; k < 2; k++) {
        rg_comm *w;
        assert_int_equal(rg_comm_link(ranks[k], &link, 1, &w), RG_OK);
        ranks[k] = w;
    }
    enum { N = 25000 };
    int h = 42, hg = 0;
    float *body = malloc(N * sizeof *body), *got = calloc(N, sizeof *got);
    for (int i = 0; i < N; i++) body[i] = (float)i;
    rg_piece out[2] = { { &h, sizeof h }, { body, N * sizeof *body } }, in[2] = { { &hg, sizeof hg }, { got, N * sizeof *got } };
    double t0 = rg_now();
    assert_int_equal(rg_comm_sendv(ranks[0], out, 2, 1, 7), RG_OK);   /* a send never waits for the receiver */
    double took = rg_now() - t0, want = rg_link_seconds(&link, 1, sizeof h + N * sizeof *body);
    assert_int_equal(rg_comm_recvv(ranks[1], in, 2, 0, 7), RG_OK);
    print_message("sendv paced: %.2f ms (the link's model: %.2f ms)\n", took * 1e3, want * 1e3);
    assert_true(took >= want);
    assert_int_equal(hg, 42);
    assert_memory_equal(body, got, N * sizeof *body);
    for (int k = 0; k < 2; k++) rg_comm_free(ranks[k]);
    free(body);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_paced_and_exact),
        cmocka_unit_test(test_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
