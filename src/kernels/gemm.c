/*
 * gemm.c — every matrix product of regula goes through rg_sgemm.  With
 * OpenBLAS it is one cblas_sgemm call; the reference kernel is a plain
 * i-k-j loop that the tests compare against.  Row-major throughout.
 */
#include "core/core.h"
#include "kernels/kernels.h"

#ifdef RG_HAVE_OPENBLAS
#include <cblas.h>
#endif

void rg_sgemm_ref(int ta, int tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * (size_t)ldc;
        if (beta == 0.0f) for (int j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f) for (int j = 0; j < N; j++) c[j] *= beta;
        for (int k = 0; k < K; k++) {
            /* no skipping of a == 0: 0 * Inf must give NaN here as in BLAS,
             * or the two builds would find non-finite values differently */
            float a = alpha * (ta ? A[(size_t)k * (size_t)lda + (size_t)i] : A[(size_t)i * (size_t)lda + (size_t)k]);
            if (!tb) {
                const float *b = B + (size_t)k * (size_t)ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * (size_t)ldb + (size_t)k];
            }
        }
    }
}

static int fixed_on;

void rg_sgemm_set_fixed(int on) { __atomic_store_n(&fixed_on, on != 0, __ATOMIC_RELAXED); }

void rg_sgemm(int ta, int tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc)
{
    if (M == 0 || N == 0) return;
    if (__atomic_load_n(&fixed_on, __ATOMIC_RELAXED)) {
        rg_sgemm_fixed(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#ifdef RG_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    rg_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

int rg_blas_set_threads(int n)
{
#ifdef RG_HAVE_OPENBLAS
    if (n > 0) openblas_set_num_threads(n);
    return openblas_get_num_threads();
#else
    (void)n;
    return 1;
#endif
}

const char *rg_blas_name(void)
{
    if (__atomic_load_n(&fixed_on, __ATOMIC_RELAXED)) return rg_sgemm_fixed_name();
#ifdef RG_HAVE_OPENBLAS
    return "openblas";
#else
    return "reference";
#endif
}
