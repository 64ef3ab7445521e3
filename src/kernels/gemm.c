/*
 * gemm.c — every matrix product of regula goes through rg_sgemm, which
 * hands it to one kernel: OpenBLAS's cblas_sgemm, a LIBXSMM kernel
 * JIT-generated for the shape, regula's fixed-order kernel (while
 * --deterministic has it on) or the plain i-k-j reference loop (a build
 * without OpenBLAS; the tests compare against it).  Row-major throughout.
 *
 * Which kernel takes a product is a pure function of the setting (--gemm
 * auto|openblas|libxsmm), the product's shape and transposes, alpha and
 * beta, and the CPU's instruction set (rg_sgemm_pick): never of a timing
 * taken at run time, so a run gives the same bits run after run.  The
 * rule of auto, from `make bench-kernels` on an AMD Zen 5 (AVX-512, one
 * core, OPENBLAS_CORETYPE unset; README "Matrix products" has the tables),
 * and for AVX2 on an AMD Zen 3:
 *   - LIBXSMM where it has a kernel (B not transposed: the input gradient
 *     dY W and the weight gradient dY^T X; it generates none for the
 *     forward X W^T with W stored [out, in]), alpha is 1, beta 0 or 1, and
 *     the layer is small: the product's two dimensions other than the
 *     batch (N K of a plain product, whose batch is M; M N of a transposed
 *     first operand, whose batch is K) hold at most RG_XSMM_MAX_WEIGHTS
 *     (2^19) on AVX-512.  On every such product of the reference model and of 256-
 *     and 512-wide ones (up to 784 x 512 = 401,408 weights) LIBXSMM
 *     reached 74-97% of the FMA peak where OpenBLAS reached 56-86%, and
 *     81-96% against 26-35% on the 1024-wide model's last layer (10
 *     outputs); on the reference model's shards of 16 and 8 rows (2 and 4
 *     workers) as fast or faster, but for its first weight gradient at 16
 *     rows (87% both, or OpenBLAS 6% ahead);
 *   - OpenBLAS everywhere else on AVX-512: on the 1024-wide model's 784 x 1024 and
 *     1024 x 1024 layers (802,816 and 1,048,576 weights) at its batch of
 *     128, LIBXSMM was slower on the input gradient in two runs of three
 *     (45-48% against 71-72%), and on the weight gradients now faster, now
 *     slower (73-89% against 75-85%);
 *   - on AVX2 (LIBXSMM generating AVX2 code: measured on an AMD Zen 3,
 *     2 cores shared with other work, by CPU time, medians of 5 runs of
 *     `bench_kernels --cpu-time` and 5-10 of `--bounds`, 2026-12-03; README "Matrix
 *     products"), a second set of bounds: LIBXSMM for the products of
 *     layers of at most RG_XSMM2_MAX_WEIGHTS (50,176 = 784 x 64) weights,
 *     a weight gradient only where the layer has at most RG_XSMM2_MAX_DW_IN
 *     (784) inputs.  By the medians, LIBXSMM's AVX2 code won every product of the
 *     reference model at 32, 16 and 8 rows (1.6-4.9x OpenBLAS; 4.6-8x at
 *     4; the input gradient of a 784 x 64 layer 1.16x, ahead in 5 runs of
 *     5) and the other models' last layers' (10 outputs) input gradients
 *     (1.4-2.8x); at 32 rows and more it lost every product of the
 *     256 x 256 (65,536 weights: 0.81-0.87x) and larger layers
 *     (0.29-0.84x), and the 784 x 80 layer's input gradient in 4 runs of
 *     5 (62,720 weights: 0.98x; its weight gradient won, 1.54x); the
 *     weight gradient of 10 outputs won at 256 to 784 inputs (1.50-1.73x
 *     at 64 rows, 1.45x at 128) and lost at 1024 (0.62x at 128 rows);
 *   - on a CPU older than AVX2 OpenBLAS everywhere: not measured.
 * The batch takes no part in the rule, so every worker's shard of a batch
 * (whatever its rows) takes the kernel the whole batch would, and the
 * log can name each layer's kernels once.  The price: on the 1024 x 1024
 * layer at 32 rows (4 workers) LIBXSMM would have been faster on AVX-512,
 * and on AVX2 the 1024-wide model's last weight gradient at 32 and 16
 * rows (1.14x, ahead in 3 runs of 5; 1.17x) and its first at 16 (1.62x).
 *
 * The forward X W^T has a LIBXSMM kernel once W is copied transposed: the
 * trainer holds the model over a step's passes (rg_model_hold), and a
 * layer's forward runs as the plain product X (W^T) on the copy when
 * rg_sgemm_pick_held says so: when the rule above gives that product to
 * LIBXSMM and the copy pays for itself, which `bench_kernels --fwd`
 * measured (the transpose once a step and worker, then LIBXSMM, against
 * OpenBLAS on W as stored; README "Matrix products"):
 *   - at least RG_HELD_MIN_OUT (16) outputs: of 10 shapes with 10, the
 *     held forward was slower on 8 (14-46% of the peak against 22-71%),
 *     faster only at 128 rows or 16 inputs;
 *   - at most RG_HELD_MAX_WEIGHTS (2^16) weights: the transpose takes
 *     about 3.5 us for the reference model's 50,176 (in cache), 24-30 us
 *     for 200,704 and 460-650 us for the 1024-wide model's layers; with
 *     it the 784 x 512 and 512 x 512 layers lost or tied at 64 rows
 *     (51-63% against 56-71%), and the 784 x 256 one was ahead in two
 *     runs of three and behind in one (65-75% against 66-69%): no clear
 *     lead;
 *   - at least RG_HELD_MIN_ROWS (32) rows a worker's step (the batch over
 *     the workers, the same for every worker, so all of them decide
 *     alike): the reference model's first layer went from OpenBLAS's
 *     48-51% to 74-76% at 32 rows and 62-68% to 83-88% at 128; at 16 it
 *     was ahead in two runs of three, behind in one (53-62% against
 *     55-58%: no clear lead), and at 8 it lost (38-47% against 68-74%).
 * On AVX2 auto holds nothing: the held forward lost on every layer of the
 * reference, 1024-wide, 256- and 512-wide models at every row count
 * measured (medians of 5 runs 0.24-0.85x OpenBLAS; the transpose alone
 * took about 21 us for the reference model's first layer), and won only
 * on a 32 x 16 layer (1.6x) and, not clearly, a 784 x 32 one (ahead in 4
 * runs of 5, median 0.98x).
 * A held forward is another kernel, so other bits; --gemm openblas holds
 * nothing (its bits stay af1c4ab's); libxsmm holds every layer.
 */
#include "core/core.h"
#include "kernels/kernels.h"

#ifdef RG_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef RG_HAVE_LIBXSMM
#include <libxsmm.h>
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
static int choice = RG_GEMM_AUTO;

void rg_sgemm_set_fixed(int on) { __atomic_store_n(&fixed_on, on != 0, __ATOMIC_RELAXED); }

int rg_sgemm_has_libxsmm(void)
{
#ifdef RG_HAVE_LIBXSMM
    return 1;
#else
    return 0;
#endif
}

rg_status rg_sgemm_set_choice(rg_gemm g)
{
    if (g != RG_GEMM_AUTO && g != RG_GEMM_OPENBLAS && g != RG_GEMM_LIBXSMM)
        return rg_error(RG_EUSAGE, "--gemm: unknown choice %d", (int)g);
    if (g == RG_GEMM_LIBXSMM && !rg_sgemm_has_libxsmm())
        return rg_error(RG_EUSAGE, "--gemm libxsmm: this regula was built without LIBXSMM (install libxsmm-dev and "
                                   "rebuild; --gemm auto or openblas work without it)");
    __atomic_store_n(&choice, (int)g, __ATOMIC_RELAXED);
    return RG_OK;
}

rg_gemm rg_sgemm_choice(void) { return (rg_gemm)__atomic_load_n(&choice, __ATOMIC_RELAXED); }

/* The instruction set LIBXSMM generates code for on this CPU (its own
 * CPUID reading, which LIBXSMM_TARGET may narrow): the rule of auto has a
 * set of bounds for each of AVX-512 and AVX2, measured on each.  The same
 * answer every call. */
static rg_isa xsmm_isa(void)
{
#ifdef RG_HAVE_LIBXSMM
    static int known = -1;
    int v = __atomic_load_n(&known, __ATOMIC_ACQUIRE);
    if (v < 0) {
        int arch = libxsmm_get_target_archid();
        v = arch >= LIBXSMM_X86_AVX512 ? RG_ISA_AVX512 : arch >= LIBXSMM_X86_AVX2 ? RG_ISA_AVX2 : RG_ISA_OLDER;
        __atomic_store_n(&known, v, __ATOMIC_RELEASE);
    }
    return (rg_isa)v;
#else
    return RG_ISA_OLDER;
#endif
}

/* The rule (the essay above).  Pure: the same arguments, the same kernel. */
rg_kernel rg_sgemm_pick(rg_gemm g, rg_isa isa, int ta, int tb, int M, int N, int K, float alpha, float beta)
{
#ifndef RG_HAVE_OPENBLAS
    (void)g; (void)isa; (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)alpha; (void)beta;
    return RG_KERNEL_REFERENCE;
#else
    int has_kernel = rg_sgemm_has_libxsmm() && !tb && alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
    if (!has_kernel || g == RG_GEMM_OPENBLAS) return RG_KERNEL_OPENBLAS;
    if (g == RG_GEMM_LIBXSMM) return RG_KERNEL_LIBXSMM;
    double weights = ta ? (double)M * N : (double)N * K;   /* the dimensions other than the batch */
    int xsmm = isa == RG_ISA_AVX512 ? weights <= RG_XSMM_MAX_WEIGHTS
             : isa == RG_ISA_AVX2   ? weights <= RG_XSMM2_MAX_WEIGHTS && (!ta || N <= RG_XSMM2_MAX_DW_IN)
                                    : 0;
    return xsmm ? RG_KERNEL_LIBXSMM : RG_KERNEL_OPENBLAS;
#endif
}

/* The forward of a layer of out x in weights (stored [out, in]) on a copy
 * of W transposed once a step for passes of `rows` rows (the essay);
 * auto holds on AVX-512 alone. */
int rg_sgemm_pick_held(rg_gemm g, rg_isa isa, int out, int in, int rows, float beta)
{
    if (rg_sgemm_pick(g, isa, 0, 0, rows, out, in, 1.0f, beta) != RG_KERNEL_LIBXSMM) return 0;
    if (g == RG_GEMM_LIBXSMM) return 1;
    return isa == RG_ISA_AVX512 && out >= RG_HELD_MIN_OUT && (double)out * in <= RG_HELD_MAX_WEIGHTS &&
           rows >= RG_HELD_MIN_ROWS;
}

int rg_sgemm_held_forward(int out, int in, int rows, float beta)
{
    if (__atomic_load_n(&fixed_on, __ATOMIC_RELAXED)) return 0;
    return rg_sgemm_pick_held(rg_sgemm_choice(), xsmm_isa(), out, in, rows, beta);
}

const char *rg_kernel_name(rg_kernel k)
{
    switch (k) {
    case RG_KERNEL_OPENBLAS: return "openblas";
    case RG_KERNEL_LIBXSMM: return "libxsmm";
    case RG_KERNEL_FIXED: return "fixed-order";
    default: return "reference";
    }
}

rg_kernel rg_sgemm_kernel(int ta, int tb, int M, int N, int K, float alpha, float beta)
{
    if (__atomic_load_n(&fixed_on, __ATOMIC_RELAXED)) return RG_KERNEL_FIXED;
    return rg_sgemm_pick(rg_sgemm_choice(), xsmm_isa(), ta, tb, M, N, K, alpha, beta);
}

#ifdef RG_HAVE_LIBXSMM
/* Row-major C = op(A) B is column-major C' = B' op(A)': LIBXSMM's kernel
 * (cached by LIBXSMM per shape, leading dimensions, beta and flags) takes
 * B first.  0 when it generates none; the caller then takes OpenBLAS. */
static int xsmm_sgemm(int ta, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
                      float *C, int ldc)
{
    int flags = ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0;
    float one = 1.0f;
    libxsmm_blasint m = N, n = M, k = K, la = ldb, lb = lda, lc = ldc;
    libxsmm_smmfunction f = libxsmm_smmdispatch(m, n, k, &la, &lb, &lc, &one, &beta, &flags, NULL);
    if (!f) return 0;
    f(B, A, C);
    return 1;
}
#endif

void rg_sgemm(int ta, int tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc)
{
    if (M == 0 || N == 0) return;
    rg_kernel k = rg_sgemm_kernel(ta, tb, M, N, K, alpha, beta);
    if (k == RG_KERNEL_FIXED) {
        rg_sgemm_fixed(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#ifdef RG_HAVE_LIBXSMM
    if (k == RG_KERNEL_LIBXSMM && K > 0 && xsmm_sgemm(ta, M, N, K, A, lda, B, ldb, beta, C, ldc)) return;
#endif
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
#ifndef RG_HAVE_OPENBLAS
    return "reference";
#else
    if (!rg_sgemm_has_libxsmm()) return "openblas (built without libxsmm)";
    switch (rg_sgemm_choice()) {
    case RG_GEMM_OPENBLAS: return "openblas";
    case RG_GEMM_LIBXSMM:
        return "libxsmm where it has a kernel (B not transposed: dX, dW, and the forward on W transposed once a "
               "step), openblas elsewhere";
    default:
        switch (xsmm_isa()) {
        case RG_ISA_AVX512:
            return "auto: libxsmm for dX and dW of layers of at most " RG_XSMM_MAX_WEIGHTS_TEXT
                   " weights and for the forward on W transposed once a step of layers of at least "
                   RG_HELD_MIN_OUT_TEXT " outputs and at most " RG_HELD_MAX_WEIGHTS_TEXT
                   " weights (batches of at least " RG_HELD_MIN_ROWS_TEXT " rows a worker), openblas elsewhere";
        case RG_ISA_AVX2:
            return "auto: libxsmm for dX of layers of at most " RG_XSMM2_MAX_WEIGHTS_TEXT
                   " weights and their dW where they have at most " RG_XSMM2_MAX_DW_IN_TEXT
                   " inputs (the rule for AVX2), openblas elsewhere";
        default: return "auto: openblas (libxsmm is taken on AVX-512 and AVX2 only)";
        }
    }
#endif
}
