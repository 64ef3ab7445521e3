/* Kernels: rg_sgemm (OpenBLAS when built with it) agrees with the reference
 * kernel for every transpose combination, odd shapes, alpha/beta and leading
 * dimensions; softmax cross-entropy agrees with a direct double formula. */
#include "support.h"
#include "regula.h"
#include "kernels/kernels.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *a, size_t n, uint64_t k)
{
    for (size_t i = 0; i < n; i++) a[i] = rg_rng_uniform(k, RG_RNG_USER, 0, i) * 2.0f - 1.0f;
}

static void test_gemm_matches_reference(void **state)
{
    const int shapes[][3] = { {1, 1, 1}, {32, 64, 784}, {10, 64, 32}, {64, 784, 32}, {7, 13, 5}, {33, 17, 65}, {128, 3, 1} };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                size_t na = (size_t)(ta ? K : M) * (size_t)lda, nb = (size_t)(tb ? N : K) * (size_t)ldb, nc = (size_t)M * (size_t)ldc;
                float *A = malloc(na * 4), *B = malloc(nb * 4), *C1 = malloc(nc * 4), *C2 = malloc(nc * 4);
                fill(A, na, 1); fill(B, nb, 2); fill(C1, nc, 3);
                memcpy(C2, C1, nc * 4);
                rg_sgemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C1, ldc);
                rg_sgemm_ref(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C2, ldc);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double a = C1[i * ldc + j], b = C2[i * ldc + j];
                        if (fabs(a - b) > 1e-5 * sqrt((double)K) + 1e-5 * fabs(b))
                            fail_msg("gemm %dx%dx%d ta=%d tb=%d at (%d,%d): %g vs %g", M, N, K, ta, tb, i, j, a, b);
                    }
                free(A); free(B); free(C1); free(C2);
            }
}

static void test_gemm_beta_zero_ignores_nan(void **state)
{
    /* beta = 0 must overwrite C even if it holds NaN (BLAS semantics) */
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    rg_sgemm_ref(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    assert_float_equal(C[0], 1, 0); assert_float_equal(C[3], 4, 0);
    float D[4] = {NAN, NAN, NAN, NAN};
    rg_sgemm(0, 0, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, D, 2);
    assert_memory_equal(C, D, sizeof C);
}

static void test_softmax_xent(void **state)
{
    enum { n = 4, k = 5 };
    float z[n * k], p[n * k], dz[n * k];
    int32_t y[n] = {0, 4, 2, 2};
    fill(z, n * k, 9);
    z[3] = 80.0f; /* large logit: must stay finite */
    for (int ls10 = 0; ls10 <= 2; ls10++) {
        float ls = 0.1f * (float)ls10;
        size_t correct = 0;
        double got = rg_softmax_xent(z, y, n, k, ls, 0.5f, p, dz, &correct);
        double want = 0;
        size_t want_correct = 0;
        for (int i = 0; i < n; i++) {
            double m = -INFINITY, s = 0;
            int arg = 0;
            for (int j = 0; j < k; j++) if (z[i * k + j] > m) { m = z[i * k + j]; arg = j; }
            for (int j = 0; j < k; j++) s += exp(z[i * k + j] - m);
            want_correct += arg == y[i];
            for (int j = 0; j < k; j++) {
                double t = (j == y[i] ? 1.0 - ls : 0.0) + ls / k;
                double lp = z[i * k + j] - m - log(s);
                want -= t * lp;
                assert_true(fabs(p[i * k + j] - exp(lp)) < 1e-6);
                assert_true(fabs(dz[i * k + j] - 0.5 * (exp(lp) - t)) < 1e-6);
            }
        }
        assert_true(isfinite(got));
        assert_true(fabs(got - want) < 1e-5 * fabs(want));
        assert_int_equal(correct, want_correct);
    }
}

/* rg_all_finite: every NaN and Inf found at every position (vector lanes
 * and the scalar tail), extremes of the finite range and -0 accepted. */
static void test_all_finite(void **state)
{
    (void)state;
    float x[67];
    for (int i = 0; i < 67; i++) x[i] = (float)i - 30.0f;
    x[3] = FLT_MAX;
    x[4] = -FLT_MAX;
    x[5] = FLT_MIN / 4.0f;   /* subnormal */
    x[6] = -0.0f;
    assert_true(rg_all_finite(x, 67));
    assert_true(rg_all_finite(x, 0));
    const float bad[3] = { NAN, INFINITY, -INFINITY };
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 67; i++) {
            float keep = x[i];
            x[i] = bad[b];
            assert_false(rg_all_finite(x, 67));
            assert_true(rg_all_finite(x, (size_t)i));   /* only the elements before it */
            x[i] = keep;
        }
}

/* rg_max_abs: the largest magnitude at every position, +Inf for any NaN
 * or Inf, 0 for nothing. */
static void test_max_abs(void **state)
{
    (void)state;
    float x[67];
    for (int i = 0; i < 67; i++) x[i] = (float)i * 0.25f - 8.0f;
    assert_true(rg_max_abs(x, 0) == 0.0f);
    assert_true(rg_max_abs(x, 67) == 8.5f);
    for (int i = 0; i < 67; i++) {
        float keep = x[i];
        x[i] = -1e30f;
        assert_true(rg_max_abs(x, 67) == 1e30f);
        x[i] = NAN;
        assert_true(rg_max_abs(x, 67) == INFINITY);
        x[i] = -INFINITY;
        assert_true(rg_max_abs(x, 67) == INFINITY);
        x[i] = keep;
    }
}

/* ReLU must not turn an overflowed (NaN) pre-activation into a clean 0,
 * forward or backward; -Inf is a true ReLU 0. */
static void test_relu_keeps_nan(void **state)
{
    (void)state;
    float y[4] = { NAN, -INFINITY, -0.0f, 3.0f }, dy[4] = { 1, 1, 1, 1 };
    rg_act_forward(RG_ACT_RELU, y, 1, 4, NULL);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 0.0f && y[2] == 0.0f && y[3] == 3.0f);
    rg_act_backward(RG_ACT_RELU, dy, y, NULL, 4);
    assert_true(dy[0] == 1.0f && dy[1] == 0.0f && dy[2] == 0.0f && dy[3] == 1.0f);
}

/* leaky_relu and elu keep a NaN too, forward and backward; -Inf goes to
 * their limits (-Inf and -alpha); the values are PyTorch's formulas. */
static void test_leaky_elu_keep_nan(void **state)
{
    (void)state;
    rg_act acts[2] = { RG_ACT_LEAKY_RELU, RG_ACT_ELU };
    for (int a = 0; a < 2; a++) {
        float y[5] = { NAN, -INFINITY, -2.0f, 0.0f, 3.0f }, dy[5] = { 1, 1, 1, 1, 1 };
        rg_act_forward(acts[a], y, 1, 5, NULL);
        assert_true(isnan(y[0]));
        assert_true(y[3] == 0.0f && y[4] == 3.0f);
        if (a == 0) {
            assert_true(y[1] == -INFINITY);
            assert_float_equal(y[2], -0.02, 1e-7);
        } else {
            assert_true(y[1] == -1.0f);
            assert_float_equal(y[2], expm1(-2.0), 1e-7);
        }
        rg_act_backward(acts[a], dy, y, NULL, 5);
        assert_true(dy[0] == 1.0f && dy[4] == 1.0f);
        assert_float_equal(dy[2], a == 0 ? 0.01 : exp(-2.0), 1e-7);
        /* at 0 both take the left derivative, as PyTorch does */
        assert_float_equal(dy[3], a == 0 ? 0.01 : 1.0, 1e-7);
    }
}

/* Binary cross-entropy from the logit: finite for any finite logit (the
 * naive -log(sigmoid(z)) is -log(0) = Inf past z = -104), exact in its
 * small part (log1p), the probability never 0/0; a NaN logit stays NaN. */
static void test_bce_stable(void **state)
{
    (void)state;
    float z[5] = { 1e5f, -1e5f, 30.0f, 0.0f, NAN }, p[5], dz[5];
    int32_t y[5] = { 0, 0, 1, 1, 1 };
    size_t right = 0;
    double l0 = rg_sigmoid_bce(z, y, 1, 0.0f, 1.0f, p, dz, &right);
    assert_float_equal(l0, 1e5, 1e-3);
    assert_true(p[0] == 1.0f && dz[0] == 1.0f);
    double l1 = rg_sigmoid_bce(z + 1, y + 1, 1, 0.0f, 1.0f, p + 1, dz + 1, &right);
    assert_true(l1 == 0.0 && p[1] == 0.0f && dz[1] == 0.0f);
    double l2 = rg_sigmoid_bce(z + 2, y + 2, 1, 0.0f, 1.0f, p + 2, dz + 2, &right);
    if (rgt_reldiff(l2, log1p(exp(-30.0)), 1e-30) > 1e-6) fail_msg("loss at z = 30: %.9g", l2);
    double l3 = rg_sigmoid_bce(z + 3, y + 3, 1, 0.2f, 1.0f, p + 3, dz + 3, &right);
    assert_float_equal(l3, log(2.0), 1e-7);                 /* any target at z = 0 */
    assert_float_equal(dz[3], 0.5 - 0.9, 1e-7);              /* p - (y (1 - ls) + ls / 2) */
    assert_int_equal(right, 2);                              /* z = 0 is class 0 */
    double l4 = rg_sigmoid_bce(z + 4, y + 4, 1, 0.0f, 1.0f, p + 4, dz + 4, &right);
    assert_true(isnan(l4) && isnan(p[4]) && isnan(dz[4]));
    /* regression: sums, gradients, and the other figure */
    float o[3] = { 1.0f, -2.0f, 0.5f }, t[3] = { 0.0f, 1.0f, 0.5f }, g[3];
    double other = 0.0;
    assert_float_equal(rg_mse(o, t, 3, 0.5f, g, &other), 1.0 + 9.0, 1e-12);
    assert_float_equal(other, 4.0, 1e-12);
    assert_true(g[0] == 1.0f && g[1] == -3.0f && g[2] == 0.0f);
    other = 0.0;
    assert_float_equal(rg_mae(o, t, 3, 0.5f, g, &other), 4.0, 1e-12);
    assert_float_equal(other, 10.0, 1e-12);
    assert_true(g[0] == 0.5f && g[1] == -0.5f && g[2] == 0.0f);
}

/* The loss keeps its small part beside large logits: logits (1e5, 1e5-20)
 * have a loss of log(1 + e^-20) ~ 2.06e-9 for class 0, which
 * (m + lse) - z in float would round to 0. */
static void test_xent_large_logits(void **state)
{
    (void)state;
    float z[2] = { 1e5f, 1e5f - 20.0f }, p[2];
    for (int c = 0; c < 2; c++)
        for (int ls10 = 0; ls10 <= 1; ls10++) {
            int32_t y = c;
            float ls = 0.1f * (float)ls10;
            double got = rg_softmax_xent(z, &y, 1, 2, ls, 1.0f, p, NULL, NULL);
            double gap = (double)z[0] - (double)z[1], lse = log1p(exp(-gap));
            double want = (1.0 - ls + ls / 2) * (c == 0 ? lse : gap + lse) + ls / 2 * (c == 0 ? gap + lse : lse);
            if (rgt_reldiff(got, want, 1e-30) > 1e-5) fail_msg("class %d, ls %g: loss %.9g, want %.9g", c, ls, got, want);
        }
}

/* The reference GEMM computes 0 * Inf as NaN, as BLAS does: both builds
 * find an overflow alike. */
static void test_gemm_ref_zero_times_inf(void **state)
{
    (void)state;
    float A[2] = { 0.0f, 1.0f }, B[2] = { INFINITY, 1.0f }, C[1] = { 0.0f };
    rg_sgemm_ref(0, 0, 1, 1, 2, 1.0f, A, 2, B, 1, 0.0f, C, 1);
    assert_true(isnan(C[0]));
    C[0] = 0.0f;
    rg_sgemm(0, 0, 1, 1, 2, 1.0f, A, 2, B, 1, 0.0f, C, 1);
    assert_true(isnan(C[0]));
}

static void test_activations_forward(void **state)
{
    float y[5] = {-2, -0.5f, 0, 0.5f, 2}, pre[5];
    float r[5]; memcpy(r, y, sizeof r);
    rg_act_forward(RG_ACT_RELU, r, 1, 5, pre);
    assert_float_equal(r[0], 0, 0); assert_float_equal(r[4], 2, 0);
    float g[5]; memcpy(g, y, sizeof g);
    rg_act_forward(RG_ACT_GELU, g, 1, 5, pre);
    assert_float_equal(g[4], 2.0 * 0.5 * (1 + erf(2 / sqrt(2.0))), 1e-6);
    float s[5]; memcpy(s, y, sizeof s);
    rg_act_forward(RG_ACT_SIGMOID, s, 1, 5, pre);
    assert_float_equal(s[2], 0.5, 1e-7);
    float sm[5]; memcpy(sm, y, sizeof sm);
    rg_act_forward(RG_ACT_SOFTMAX, sm, 1, 5, pre);
    double tot = 0; for (int i = 0; i < 5; i++) tot += sm[i];
    assert_float_equal(tot, 1.0, 1e-6);
}

/* The fused activation + dropout (forward) and dropout + act' + bias
 * gradient (backward) give bit for bit what the separate passes give, for
 * every activation, with and without a mask and a bias, NaN included. */
static void test_act_dropout_fused(void **state)
{
    enum { n = 5, d = 37 };   /* odd: vector lanes and a scalar tail */
    static const rg_act acts[] = { RG_ACT_LINEAR, RG_ACT_RELU, RG_ACT_LEAKY_RELU, RG_ACT_ELU,
                                   RG_ACT_TANH, RG_ACT_SIGMOID, RG_ACT_GELU };
    float z[n * d], mask[n * d], g0[n * d];
    fill(z, n * d, 21);
    fill(g0, n * d, 22);
    for (int i = 0; i < n * d; i++) {
        z[i] *= 3.0f;
        mask[i] = (i * 7) % 3 ? 2.0f : 0.0f;
    }
    z[3] = NAN;
    z[4] = 0.0f;
    z[5] = -0.0f;
    g0[6] = NAN;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        /* forward: act pass, then the dropout pass */
        float y1[n * d], pre1[n * d], out1[n * d], y2[n * d], pre2[n * d], out2[n * d];
        memcpy(y1, z, sizeof z);
        memcpy(y2, z, sizeof z);
        rg_act_forward(acts[a], y1, n, d, pre1);
        for (int i = 0; i < n * d; i++) out1[i] = y1[i] * mask[i];
        rg_act_dropout_forward(acts[a], y2, pre2, mask, out2, n, d);
        assert_memory_equal(y1, y2, sizeof y1);
        assert_memory_equal(out1, out2, sizeof out1);
        if (acts[a] == RG_ACT_GELU) assert_memory_equal(pre1, pre2, sizeof pre1);
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            float d1[n * d], d2[n * d], gb1[d], gb2[d];
            memcpy(d1, g0, sizeof g0);
            memcpy(d2, g0, sizeof g0);
            fill(gb1, d, 23);
            memcpy(gb2, gb1, sizeof gb1);
            if (with_mask) for (int i = 0; i < n * d; i++) d1[i] *= mask[i];
            rg_act_backward(acts[a], d1, y1, pre1, n * d);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++) gb1[j] += d1[i * d + j];
            rg_act_dropout_backward(acts[a], d2, y1, pre1, with_mask ? mask : NULL, gb2, n, d);
            assert_memory_equal(d1, d2, sizeof d1);
            assert_memory_equal(gb1, gb2, sizeof gb1);
            memcpy(d2, g0, sizeof g0);   /* no bias: the same delta */
            rg_act_dropout_backward(acts[a], d2, y1, pre1, with_mask ? mask : NULL, NULL, n, d);
            assert_memory_equal(d1, d2, sizeof d1);
        }
    }
}

/* The fused softmax cross-entropy's probabilities are bit for bit
 * rg_softmax_rows', with and without a gradient, and its gradient is
 * scale * (p - target) from those very probabilities. */
static void test_softmax_xent_fused_bits(void **state)
{
    enum { n = 6, k = 10 };
    float z[n * k], p0[n * k], p1[n * k], p2[n * k], dz[n * k];
    int32_t y[n] = { 0, 9, 3, 3, 5, 1 };
    fill(z, n * k, 31);
    for (int i = 0; i < n * k; i++) z[i] *= 20.0f;
    rg_softmax_rows(z, p0, n, k);
    for (int ls10 = 0; ls10 <= 1; ls10++) {
        float ls = 0.1f * (float)ls10, scale = 1.0f / 32.0f, off = ls / (float)k, on = 1.0f - ls + off;
        double l1 = rg_softmax_xent(z, y, n, k, ls, scale, p1, NULL, NULL);
        double l2 = rg_softmax_xent(z, y, n, k, ls, scale, p2, dz, NULL);
        assert_memory_equal(p0, p1, sizeof p0);
        assert_memory_equal(p0, p2, sizeof p0);
        assert_memory_equal(&l1, &l2, sizeof l1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                float want = scale * (p0[i * k + j] - off);
                if (j == y[i]) want -= scale * (on - off);
                assert_memory_equal(&want, &dz[i * k + j], sizeof want);
            }
    }
    rg_softmax_xent(z, NULL, n, k, 0.0f, 1.0f, p1, dz, NULL);   /* no labels: p only */
    assert_memory_equal(p0, p1, sizeof p0);
}

/* rg_transpose moves every element to its place (pairs of 8 x 8 blocks
 * down 16 columns, a last block of 8 columns, and the edges), bit for bit:
 * a NaN's payload and -0 included. */
static void test_transpose(void **state)
{
    (void)state;
    const size_t shapes[][2] = { {1, 1}, {8, 8}, {64, 784}, {10, 64}, {13, 21}, {3, 17}, {17, 3}, {16, 9},
                                 {24, 40}, {20, 56}, {1024, 24} };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t R = shapes[s][0], C = shapes[s][1];
        float *a = malloc(R * C * 4), *t = malloc(R * C * 4);
        fill(a, R * C, 5 + s);
        uint32_t nan = 0x7fc01234u;
        memcpy(&a[R * C / 2], &nan, 4);
        a[0] = -0.0f;
        rg_transpose(a, R, C, t);
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++)
                if (memcmp(&t[j * R + i], &a[i * C + j], 4) != 0)
                    fail_msg("%zu x %zu: element (%zu, %zu) not moved to (%zu, %zu)", R, C, i, j, j, i);
        free(a);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_matches_reference),
        cmocka_unit_test(test_gemm_beta_zero_ignores_nan),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_activations_forward),
        cmocka_unit_test(test_leaky_elu_keep_nan),
        cmocka_unit_test(test_bce_stable),
        cmocka_unit_test(test_all_finite),
        cmocka_unit_test(test_max_abs),
        cmocka_unit_test(test_relu_keeps_nan),
        cmocka_unit_test(test_xent_large_logits),
        cmocka_unit_test(test_gemm_ref_zero_times_inf),
        cmocka_unit_test(test_act_dropout_fused),
        cmocka_unit_test(test_softmax_xent_fused_bits),
        cmocka_unit_test(test_transpose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
