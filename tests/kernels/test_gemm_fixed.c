/* The fixed-order product of --deterministic: every element is the chain
 * s = fma(a_ik, b_kj, s) over k in order, then alpha * s (+ beta * c), bit
 * for bit, for every transpose, shape (the vector tiles and their scalar
 * edges), alpha and beta; on the path REGULA_ISA asks for (ctest runs this
 * test three times: the CPU's widest path, avx2 and scalar), so each path
 * is the same chain. */
#include "support.h"
#include "regula.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, unsigned s)
{
    float *x = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 3.0f;
    }
    return x;
}

/* the definition, one element at a time */
static void chain(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s = fmaf(ta ? A[k * lda + i] : A[i * lda + k], tb ? B[j * ldb + k] : B[k * ldb + j], s);
            float r = alpha * s, *c = &C[i * ldc + j];
            *c = beta == 0.0f ? r : r + beta * *c;
        }
}

static void test_every_element_is_one_chain(void **state)
{
    (void)state;
    const int shapes[][3] = { {1, 1, 1}, {4, 16, 7}, {4, 32, 784}, {5, 33, 64}, {32, 64, 784}, {32, 10, 64},
                              {13, 47, 29}, {64, 784, 32}, {3, 100, 1}, {8, 48, 0},
                              {64, 784, 4}, {10, 64, 4}, {37, 96, 65}, {4, 64, 130}, {9, 40, 3},
                              /* AVX-512's 8-row tiles of 3 vectors reading B in place, masked at its
                               * edge (a --deterministic shard of the 1024-wide model, smaller): 16
                               * rows, 200 = 4 x 48 + 8 columns, deep and shallow; 5-7 rows left
                               * in an 8-row tile; 4-row tiles of 4 vectors, the last partial */
                              {16, 200, 300}, {16, 200, 16}, {23, 50, 20}, {7, 97, 9}, {3, 61, 17}, {4, 64, 2} };
    /* alpha 1 and beta 1 take the finish without their products */
    const float ab[][2] = { {1.0f, 0.0f}, {0.5f, 1.0f}, {-1.25f, 0.3f}, {1.0f, 1.0f} };
    long checked = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < 4; v++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;   /* padded rows */
                float *A = rnd((size_t)(ta ? K : M) * lda, 1 + (unsigned)s), *B = rnd((size_t)(tb ? N : K) * ldb, 7);
                float *C = rnd((size_t)M * ldc, 9), *D = malloc((size_t)M * ldc * sizeof(float) + 4);
                memcpy(D, C, (size_t)M * ldc * sizeof(float));
                rg_sgemm_fixed(ta, tb, M, N, K, ab[v][0], A, lda, B, ldb, ab[v][1], C, ldc);
                chain(ta, tb, M, N, K, ab[v][0], A, lda, B, ldb, ab[v][1], D, ldc);
                if (memcmp(C, D, (size_t)M * ldc * sizeof(float)) != 0)
                    fail_msg("%dx%dx%d ta %d tb %d alpha %g beta %g: not the chain's bits (width %d)", M, N, K, ta,
                             tb, ab[v][0], ab[v][1], rg_sgemm_fixed_width());
                checked += (long)M * N;
                free(A); free(B); free(C); free(D);
            }
    print_message("%ld elements, path of width %d: every one the chain's bits\n", checked, rg_sgemm_fixed_width());
}

/* REGULA_ISA picks the path (so that the three runs of this test do run
 * three paths), and rg_sgemm takes it only while it is switched on. */
static void test_path_and_switch(void **state)
{
    (void)state;
    const char *e = getenv("REGULA_ISA");
    int w = rg_sgemm_fixed_width();
    if (e && !strcmp(e, "scalar")) assert_int_equal(w, 1);
    else if (e && !strcmp(e, "avx2")) assert_true(w == 8 || w == 1);
    else assert_true(w == 16 || w == 8 || w == 1);
    assert_null(strstr(rg_blas_name(), "fixed"));
    rg_sgemm_set_fixed(1);
    assert_non_null(strstr(rg_blas_name(), "fixed-order"));
    float a[3] = {1e8f, 1.0f, -1e8f}, b[3] = {1.0f, 1.0f, 1.0f}, c = 0.0f;
    rg_sgemm(0, 0, 1, 1, 3, 1.0f, a, 3, b, 1, 0.0f, &c, 1);
    assert_true(c == 0.0f);   /* the chain in order: (1e8 + 1) - 1e8 = 0 in float */
    rg_sgemm_set_fixed(0);
    assert_null(strstr(rg_blas_name(), "fixed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_element_is_one_chain),
        cmocka_unit_test(test_path_and_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
