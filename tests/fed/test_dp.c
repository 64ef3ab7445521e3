/* Differential privacy for federated rounds (src/fed/dp.c): clipping, the
 * keyed Gaussian noise's moments and reproducibility, and the RDP
 * accountant against values published by TF Privacy, Google's
 * dp_accounting and Opacus. */
#include "support.h"
#include "fed/dp.h"
#include <math.h>
#include <string.h>

static void test_clip(void **state)
{
    float u[2] = { 3, 4 };
    assert_true(rg_dp_clip(u, 2, 1.0) == 5.0);
    double n = sqrt((double)u[0] * u[0] + (double)u[1] * u[1]);
    assert_true(n <= 1.0 + 1e-7 && n >= 1.0 - 1e-6);
    assert_true(fabs(u[0] - 0.6) < 1e-7 && fabs(u[1] - 0.8) < 1e-7);   /* direction kept */
    /* inside the ball: untouched, bit for bit */
    float v[3] = { 0.1f, -0.2f, 0.3f }, keep[3];
    memcpy(keep, v, sizeof v);
    double before = rg_dp_clip(v, 3, 10.0);
    assert_true(fabs(before - sqrt(0.14)) < 1e-7);
    assert_memory_equal(v, keep, sizeof v);
    float z[4] = { 0 };
    assert_true(rg_dp_clip(z, 4, 1.0) == 0.0);
}

static void test_noise_moments_and_keys(void **state)
{
    enum { P = 200001 };                 /* odd: the last pair is half used */
    float *x = calloc(P, sizeof *x), *y = calloc(P, sizeof *y);
    rg_dp_noise(x, P, 2.0, 42, 7);
    double s = 0, s2 = 0, s4 = 0;
    for (size_t j = 0; j < P; j++) { s += x[j]; s2 += (double)x[j] * x[j]; s4 += pow(x[j], 4); }
    double mean = s / P, var = s2 / P - mean * mean;
    /* N(0, 4): the mean within 5 standard errors, the variance within 2%,
     * the kurtosis (3 for a normal) within 5% */
    assert_true(fabs(mean) < 5 * 2.0 / sqrt(P));
    assert_true(fabs(var - 4.0) < 0.08);
    assert_true(fabs(s4 / P / (var * var) - 3.0) < 0.15);
    /* keyed: the same (seed, round) gives the same bits, a prefix the same
     * values, and adding is adding */
    rg_dp_noise(y, P, 2.0, 42, 7);
    assert_memory_equal(x, y, P * sizeof *x);
    float small[5] = { 1, 1, 1, 1, 1 };
    rg_dp_noise(small, 5, 2.0, 42, 7);
    for (int j = 0; j < 5; j++) assert_true(fabsf(small[j] - 1.0f - x[j]) < 1e-6f);
    memset(y, 0, P * sizeof *y);
    rg_dp_noise(y, P, 2.0, 42, 8);
    assert_memory_not_equal(x, y, 64 * sizeof *x);
    memset(y, 0, P * sizeof *y);
    rg_dp_noise(y, P, 2.0, 43, 7);
    assert_memory_not_equal(x, y, 64 * sizeof *x);
    free(x);
    free(y);
}

static void expect_close(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("%s: %.17g, published %.17g (relative %.3g)", what, got, want, fabs(got - want) / fabs(want));
}

/* TF Privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py
 * (test_compute_dp_sgd_privacy, as of commit 8b3d8e1 "Improve numerical
 * stability of RDP computation", 2024): compute_dp_sgd_privacy(n, batch,
 * noise_multiplier, epochs, delta) with q = batch/n, steps = ceil(epochs *
 * n / batch), over its orders — rg_rdp_epsilon's.  The published epsilon
 * and the optimal order, which the last case has fractional (1.25). */
static void test_accountant_tf_privacy(void **state)
{
    static const struct { double n, batch, sigma, epochs, delta, eps, order; } c[] = {
        { 60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0 },
        { 100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0 },
        { 100000000, 1024, 0.1, 10, 1e-7, 5907982.3113984, 1.25 },
    };
    double orders[72];
    int n = 0;
    const double few[10] = { 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5 };
    for (int k = 0; k < 10; k++) orders[n++] = few[k];
    for (int a = 5; a < 64; a++) orders[n++] = a;
    orders[n++] = 128; orders[n++] = 256; orders[n++] = 512;
    for (int i = 0; i < 3; i++) {
        double q = c[i].batch / c[i].n, best = 0;
        long steps = (long)ceil(c[i].epochs * c[i].n / c[i].batch);
        double e = rg_rdp_epsilon(q, c[i].sigma, steps, c[i].delta);
        expect_close(e, c[i].eps, 1e-12, "TF Privacy compute_dp_sgd_privacy");
        assert_true(rg_rdp_epsilon_orders(q, c[i].sigma, steps, c[i].delta, orders, n, &best) == e);
        assert_true(best == c[i].order);
    }
}

/* Google dp_accounting, python/dp_accounting/dp_accounting/rdp/
 * rdp_privacy_accountant_test.py (commit 0b109e9):
 * test_compute_rdp_poisson_sampled_gaussian, the RDP of 50 steps at
 * q = 0.01, sigma = 2.5 at integer and fractional orders (given to 9
 * digits); and test_compute_epsilon_delta_gaussian, the unsampled
 * Gaussian with sigma = 4.530877117 chosen to be exactly (1, 1e-6)-DP over
 * orders 1.000, 1.001, ..., 99.999. */
static void test_accountant_dp_accounting(void **state)
{
    const double order[5] = { 1.5, 2.5, 5, 50, 100 };
    const double rdp[5] = { 6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02 };
    for (int k = 0; k < 5; k++) expect_close(50 * rg_rdp_sgm(0.01, 2.5, order[k]), rdp[k], 5e-9, "dp_accounting RDP");
    assert_true(isinf(rg_rdp_sgm(0.01, 2.5, INFINITY)));
    enum { N = 99000 };
    double *orders = malloc(N * sizeof *orders);
    for (int i = 0; i < N; i++) orders[i] = 0.001 * (i + 1000);
    expect_close(rg_rdp_epsilon_orders(1.0, 4.530877117, 1, 1e-6, orders, N, NULL), 1.0, 1e-7, "dp_accounting Gaussian");
    free(orders);
}

/* Opacus, opacus/tests/accountants_test.py (test_rdp_accountant): 2250
 * steps at q = 0.04, sigma = 1.5, delta = 1e-5 over Opacus's default
 * orders 1.1, 1.2, ..., 10.9, 12, ..., 63: epsilon 7.32911117143, at the
 * fractional order 3.9.  Opacus sums the fractional series with each
 * term's sign (rg_rdp_sgm_signed); dp_accounting's absolute values give a
 * larger, still valid bound, 3e-5 above it here. */
static void test_accountant_opacus(void **state)
{
    double orders[99 + 52], rdp[99 + 52], best;
    int n = 0;
    for (int x = 1; x < 100; x++) orders[n++] = 1 + x / 10.0;
    for (int a = 12; a < 64; a++) orders[n++] = a;
    for (int k = 0; k < n; k++) rdp[k] = 2250 * rg_rdp_sgm_signed(0.04, 1.5, orders[k]);
    expect_close(rg_rdp_to_epsilon(orders, rdp, n, 1e-5, &best), 7.32911117143, 1e-11, "Opacus");
    assert_true(fabs(best - 3.9) < 1e-12);
    double upper = rg_rdp_epsilon_orders(0.04, 1.5, 2250, 1e-5, orders, n, NULL);
    assert_true(upper > 7.32911117143 && upper < 7.32911117143 * (1 + 1e-4));
    /* at integer orders the two series are the same sum */
    for (int a = 2; a < 64; a++) assert_true(rg_rdp_sgm_signed(0.04, 1.5, a) == rg_rdp_sgm(0.04, 1.5, a));
}

static void test_accountant_monotone_and_edges(void **state)
{
    double prev = 0;
    for (long steps = 1; steps <= 100000; steps *= 10) {          /* more rounds: more epsilon */
        double e = rg_rdp_epsilon(0.01, 1.1, steps, 1e-5);
        assert_true(e > prev);
        prev = e;
    }
    prev = INFINITY;
    for (double sigma = 0.5; sigma <= 8; sigma *= 2) {             /* more noise: less */
        double e = rg_rdp_epsilon(0.01, sigma, 1000, 1e-5);
        assert_true(e < prev);
        prev = e;
    }
    prev = 0;
    for (double q = 0.001; q <= 1.0; q *= 10) {                    /* more sampled: more */
        double e = rg_rdp_epsilon(q, 1.0, 100, 1e-5);
        assert_true(e > prev);
        prev = e;
    }
    assert_true(rg_rdp_epsilon(0.01, 1.0, 100, 1e-3) < rg_rdp_epsilon(0.01, 1.0, 100, 1e-6));
    assert_true(rg_rdp_epsilon(0.0, 1.0, 100, 1e-5) == 0.0);
    assert_true(rg_rdp_epsilon(0.1, 1.0, 0, 1e-5) == 0.0);
    assert_true(isinf(rg_rdp_epsilon(0.1, 0.0, 10, 1e-5)));
    /* q = 1: the plain Gaussian, alpha / (2 sigma^2) */
    assert_true(fabs(rg_rdp_sgm(1.0, 2.0, 3.0) - 3.0 / 8.0) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_noise_moments_and_keys),
        cmocka_unit_test(test_accountant_tf_privacy),
        cmocka_unit_test(test_accountant_dp_accounting),
        cmocka_unit_test(test_accountant_opacus),
        cmocka_unit_test(test_accountant_monotone_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
