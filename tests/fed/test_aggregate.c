/* Federated aggregation rules (src/fed/aggregate.c) on hand-computed
 * cases: weights, ties, even counts, the trimmed mean's cut, Krum's scores
 * and choice, the refusals of rg_agg_check, and Krum against far-away
 * attackers where the mean fails. */
#include "support.h"
#include "fed/aggregate.h"
#include <math.h>
#include <string.h>

static rg_agg_spec spec(const char *text)
{
    rg_agg_spec a;
    assert_int_equal(rg_agg_parse(text, &a), RG_OK);
    return a;
}

static void expect_usage(rg_status s, const char *needle)
{
    assert_int_equal(s, RG_EUSAGE);
    if (!strstr(rg_last_error(), needle)) fail_msg("'%s' does not name '%s'", rg_last_error(), needle);
}

static void test_parse(void **state)
{
    rg_agg_spec a = spec("mean");
    assert_int_equal(a.kind, RG_AGG_MEAN);
    assert_int_equal(rg_agg_needs_all(&a), 0);
    a = spec("median");
    assert_int_equal(a.kind, RG_AGG_MEDIAN);
    assert_int_equal(rg_agg_needs_all(&a), 1);
    a = spec("trimmed:0.2");
    assert_int_equal(a.kind, RG_AGG_TRIMMED);
    assert_true(a.beta == 0.2);
    a = spec("krum:3");
    assert_int_equal(a.kind, RG_AGG_KRUM);
    assert_int_equal(a.f, 3);
    a = spec("multikrum:2,5");
    assert_int_equal(a.kind, RG_AGG_MULTIKRUM);
    assert_int_equal(a.f, 2);
    assert_int_equal(a.m, 5);
    const char *bad[] = { "", "avg", "mean:1", "trimmed", "trimmed:", "trimmed:0.5", "trimmed:-0.1", "trimmed:x",
                          "krum", "krum:", "krum:-1", "krum:1.5", "multikrum:2", "multikrum:2,0", "multikrum:,3",
                          "multikrum:2,3x", "medianx" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_usage(rg_agg_parse(bad[i], &a), "--aggregate");
    expect_usage(rg_agg_parse("trimmed:0.7", &a), "[0, 0.5)");
    expect_usage(rg_agg_parse("avg", &a), "'avg'");
}

static void test_check_refusals(void **state)
{
    rg_agg_spec a = spec("krum:2");
    expect_usage(rg_agg_check(&a, 6), "2F+3 = 7");       /* Blanchard et al.: n >= 2f+3 */
    assert_int_equal(rg_agg_check(&a, 7), RG_OK);
    a = spec("multikrum:1,5");
    assert_int_equal(rg_agg_check(&a, 6), RG_OK);
    expect_usage(rg_agg_check(&a, 5), "n-F = 4");        /* m <= n - f */
    expect_usage(rg_agg_check(&a, 4), "2F+3 = 5");
    a = spec("mean");
    expect_usage(rg_agg_check(&a, 0), "no client update");
    assert_int_equal(rg_agg_check(&a, 1), RG_OK);
    /* a cut that leaves nothing (beta = 0.5 passes no parser, but a spec
     * built by hand must still be refused) */
    a = (rg_agg_spec){ .kind = RG_AGG_TRIMMED, .beta = 0.5 };
    expect_usage(rg_agg_check(&a, 4), "leaves none");
    a.beta = 0.49;
    assert_int_equal(rg_agg_check(&a, 4), RG_OK);
    /* rg_aggregate refuses what rg_agg_check refuses */
    float x = 1, *u[1] = { &x }, out;
    a = spec("krum:0");
    assert_int_equal(rg_aggregate(&a, (const float *const *)u, NULL, 1, 1, &out), RG_EUSAGE);
}

static void test_mean_weights(void **state)
{
    const float u0[2] = { 1, 2 }, u1[2] = { 3, 6 };
    const float *u[2] = { u0, u1 };
    const double w[2] = { 1, 3 };
    float out[2];
    rg_agg_spec a = spec("mean");
    assert_int_equal(rg_aggregate(&a, u, w, 2, 2, out), RG_OK);
    assert_true(out[0] == 2.5f && out[1] == 5.0f);      /* (1*1 + 3*3)/4, (1*2 + 3*6)/4 */
    assert_int_equal(rg_aggregate(&a, u, NULL, 2, 2, out), RG_OK);
    assert_true(out[0] == 2.0f && out[1] == 4.0f);
    const double zero[2] = { 0, 0 }, neg[2] = { 1, -1 };
    expect_usage(rg_aggregate(&a, u, zero, 2, 2, out), "sum to 0");
    expect_usage(rg_aggregate(&a, u, neg, 2, 2, out), "client 1");
}

static void test_median_odd_even_ties(void **state)
{
    /* columns: odd n = 3 {3,1,2} -> 2; ties {1,1,5} -> 1 */
    const float a0[2] = { 3, 1 }, a1[2] = { 1, 5 }, a2[2] = { 2, 1 };
    const float *u3[3] = { a0, a1, a2 };
    float out[2];
    rg_agg_spec a = spec("median");
    const double w[3] = { 100, 1, 1 };          /* the median ignores weights */
    assert_int_equal(rg_aggregate(&a, u3, w, 3, 2, out), RG_OK);
    assert_true(out[0] == 2.0f && out[1] == 1.0f);
    /* even n = 4: the mean of the two middle values {4,1,3,2} -> 2.5 */
    const float b0 = 4, b1 = 1, b2 = 3, b3 = 2;
    const float *u4[4] = { &b0, &b1, &b2, &b3 };
    assert_int_equal(rg_aggregate(&a, u4, NULL, 4, 1, out), RG_OK);
    assert_true(out[0] == 2.5f);
}

static void test_trimmed(void **state)
{
    /* n = 5, beta = 0.25: floor(1.25) = 1 cut from each end */
    const float v[5] = { 100, 1, 2, 3, -100 };
    const float *u[5] = { v, v + 1, v + 2, v + 3, v + 4 };
    float out;
    rg_agg_spec a = spec("trimmed:0.25");
    assert_int_equal(rg_aggregate(&a, u, NULL, 5, 1, &out), RG_OK);
    assert_true(out == 2.0f);
    /* beta = 0.4: floor(2.0) = 2 cut, the median remains */
    a = spec("trimmed:0.4");
    assert_int_equal(rg_aggregate(&a, u, NULL, 5, 1, &out), RG_OK);
    assert_true(out == 2.0f);
    /* beta = 0.19: floor(0.95) = 0, the plain mean (1.2) */
    a = spec("trimmed:0.19");
    assert_int_equal(rg_aggregate(&a, u, NULL, 5, 1, &out), RG_OK);
    assert_true(out == 1.2f);
}

static void test_krum_scores_and_ties(void **state)
{
    /* f = 0, n = 3, one coordinate {0, 1, 3}: each score is the squared
     * distance to the nearest other (n-f-2 = 1): 1, 1, 4.  The tie between
     * clients 0 and 1 goes to 0. */
    const float v[3] = { 0, 1, 3 };
    const float *u[3] = { v, v + 1, v + 2 };
    rg_agg_spec a = spec("krum:0");
    int sel[5];
    double score[5];
    assert_int_equal(rg_agg_krum_select(&a, u, 3, 1, sel, score), RG_OK);
    assert_true(score[0] == 1.0 && score[1] == 1.0 && score[2] == 4.0);
    assert_int_equal(sel[0], 0);
    float out;
    assert_int_equal(rg_aggregate(&a, u, NULL, 3, 1, &out), RG_OK);
    assert_true(out == 0.0f);
    /* multikrum:0,2: the plain mean of clients 0 and 1 */
    a = spec("multikrum:0,2");
    assert_int_equal(rg_aggregate(&a, u, NULL, 3, 1, &out), RG_OK);
    assert_true(out == 0.5f);
    /* f = 1, n = 5, 2-d: scores sum the 2 nearest */
    const float p[5][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 }, { 5, 5 }, { -4, 0 } };
    const float *w[5] = { p[0], p[1], p[2], p[3], p[4] };
    a = spec("krum:1");
    assert_int_equal(rg_agg_krum_select(&a, w, 5, 2, sel, score), RG_OK);
    /* 0: {1,1}=2; 1: {1,2}=3; 2: {1,2}=3; 3: {41,41}=82; 4: {16,17}=33 */
    const double want[5] = { 2, 3, 3, 82, 33 };
    for (int i = 0; i < 5; i++) assert_true(score[i] == want[i]);
    assert_int_equal(sel[0], 0);
    a = spec("multikrum:1,3");
    assert_int_equal(rg_agg_krum_select(&a, w, 5, 2, sel, NULL), RG_OK);
    assert_int_equal(sel[0], 0);
    assert_int_equal(sel[1], 1);   /* tie 1 vs 2: lower index first */
    assert_int_equal(sel[2], 2);
}

/* 8 honest clients near the true update, 2 attackers sending -10 times it:
 * Krum and the median stay near the truth, the mean is dragged past zero. */
static void test_krum_resists_far_attackers(void **state)
{
    enum { N = 10, P = 64, F = 2 };
    static float buf[N][P];
    const float *u[N];
    float truth[P], out[P];
    for (int j = 0; j < P; j++) truth[j] = 1.0f + 0.01f * (float)j;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < P; j++) {
            float jitter = 0.05f * (rg_rng_uniform(7, RG_RNG_USER, (uint64_t)i, (uint64_t)j) - 0.5f);
            buf[i][j] = i < N - F ? truth[j] + jitter : -10.0f * truth[j];
        }
        u[i] = buf[i];
    }
    const char *robust[] = { "krum:2", "multikrum:2,4", "median", "trimmed:0.2" };
    for (size_t r = 0; r < 4; r++) {
        rg_agg_spec a = spec(robust[r]);
        assert_int_equal(rg_aggregate(&a, u, NULL, N, P, out), RG_OK);
        for (int j = 0; j < P; j++)
            if (fabsf(out[j] - truth[j]) > 0.05f) fail_msg("%s: coordinate %d is %g, truth %g", robust[r], j, out[j], truth[j]);
    }
    rg_agg_spec a = spec("mean");
    assert_int_equal(rg_aggregate(&a, u, NULL, N, P, out), RG_OK);
    for (int j = 0; j < P; j++) assert_true(out[j] < 0.0f);   /* 0.8*t - 0.2*10t = -1.2t */
}

static void test_nonfinite_and_order(void **state)
{
    float v[3] = { 1, NAN, 2 };
    const float *u[3] = { v, v + 1, v + 2 };
    float out;
    rg_agg_spec a = spec("median");
    assert_int_equal(rg_aggregate(&a, u, NULL, 3, 1, &out), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "client 1"));
    /* the coordinate-wise rules do not depend on the clients' order */
    enum { N = 9, P = 33 };
    static float b[N][P];
    const float *fw[N], *bw[N];
    float o1[P], o2[P];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < P; j++) b[i][j] = rg_rng_uniform(3, RG_RNG_USER, (uint64_t)i, (uint64_t)j) - 0.5f;
        fw[i] = b[i];
        bw[N - 1 - i] = b[i];
    }
    const char *rules[] = { "median", "trimmed:0.3", "krum:3" };
    for (int r = 0; r < 3; r++) {
        a = spec(rules[r]);
        assert_int_equal(rg_aggregate(&a, fw, NULL, N, P, o1), RG_OK);
        assert_int_equal(rg_aggregate(&a, bw, NULL, N, P, o2), RG_OK);
        assert_memory_equal(o1, o2, sizeof o1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_check_refusals),
        cmocka_unit_test(test_mean_weights),
        cmocka_unit_test(test_median_odd_even_ties),
        cmocka_unit_test(test_trimmed),
        cmocka_unit_test(test_krum_scores_and_ties),
        cmocka_unit_test(test_krum_resists_far_attackers),
        cmocka_unit_test(test_nonfinite_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
