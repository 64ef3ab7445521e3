/*
 * kernels.c — `make bench-kernels`: what each matrix-product library gives
 * on the shapes regula's models run, on one core, beside the core's FMA
 * peak measured in the same run.
 *
 * For every dense layer of the reference model (784-64-10, batch 32) and
 * the 1024-wide model (784-1024-1024-10, batch 128) three products, as
 * regula's layers call them (row-major, W stored [out, in]):
 *   fwd  Y[B, out]  = X[B, in] W^T             (rg_sgemm 0, 1)
 *   dX   dX[B, in]  = dY[B, out] W             (rg_sgemm 0, 0)
 *   dW   dW[out, in] = dY^T X                  (rg_sgemm 1, 0)
 * timed with OpenBLAS (linked, cblas_sgemm: what regula uses), BLIS
 * (cblas_sgemm from Debian's libblis, opened at run time) and LIBXSMM
 * (Debian's libxsmm, linked statically when the build found it: a kernel
 * JIT-generated for the shape by libxsmm_smmdispatch; "-" where it
 * generates none, such as a transposed first operand), regula's
 * fixed-order kernel of --deterministic (rg_sgemm_fixed, on the CPU's
 * widest path) and its reference loop (rg_sgemm_ref); the last column
 * names the kernel regula's --gemm auto takes for the shape (gemm.c's
 * rule, on this CPU).  Beside the two models, a 256- and a 512-wide one
 * (batch 64) locate the rule's bound, and the reference and 1024-wide
 * models' shards over 2 and 4 workers show the rule's choice holding for
 * a worker's rows; last, the products of one of --deterministic's 8 shards
 * of a step (4 and 16 rows; "fwd Wt": the forward product reading W
 * transposed, as those passes do).  Each figure is the median of 5 timed
 * rounds of about 50 ms, in GFLOP/s (2 M N K flops a product) and as a
 * share of the FMA peak of the widest vectors the core has.
 *
 * Usage: bench_kernels [--quick] [--peak] [--cpu-time] [--det] [--fwd] [--bounds]
 *   --quick     one short round each, the reference loop on small shapes
 *               only (the test)
 *   --peak      the FMA peak alone
 *   --cpu-time  timed by the thread's CPU time, for a loaded machine
 *   --det       the --deterministic shards' products alone
 *   --fwd       the forward products alone: OpenBLAS on W as stored
 *               against W transposed and LIBXSMM on the copy, and whether
 *               --gemm auto holds the layer (gemm.c's rg_sgemm_pick_held);
 *               WRONG where the held forward differs from OpenBLAS's
 *   --bounds    the shapes that locate the AVX2 rule's bounds alone (a
 *               784-80-10 model at batch 32: 62,720 weights; a 784-10 one
 *               at batch 128: a weight gradient of 784 inputs; the input
 *               gradients of 784 x 64 and 784 x 80 layers)
 * An unknown option exits 2.
 * Exits 1 when a library's product differs from OpenBLAS's by more than
 * 1e-4 of its largest value (the test, bench_kernels_quick, checks it).
 * Environment: OPENBLAS_CORETYPE is reported (unset is what users get).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "regula.h"
#include "kernels/kernels.h"   /* rg_transpose */
#ifdef RG_HAVE_XSMM
#include <libxsmm.h>
#endif

/* --cpu-time: the thread's CPU time instead of the wall clock, so that the
 * time another process takes the core is not counted (a loaded machine) */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int rounds = 5, quick, wrong;
static double round_seconds = 0.05;

/* ------------------------------------------------------------ FMA peak */

#define FMA_CHAINS(T, fma, set1)                                                                                   \
    T a0 = set1(1.0f), a1 = set1(1.1f), a2 = set1(1.2f), a3 = set1(1.3f), a4 = set1(1.4f), a5 = set1(1.5f);       \
    T a6 = set1(1.6f), a7 = set1(1.7f), a8 = set1(1.8f), a9 = set1(1.9f), a10 = set1(2.0f), a11 = set1(2.1f);     \
    T m = set1(0.9999999f), c = set1(1e-7f);                                                                        \
    for (long i = 0; i < iters; i++) {                                                                              \
        a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);                             \
        a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);                             \
        a8 = fma(a8, m, c); a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c);                         \
    }

__attribute__((target("avx2,fma"))) static float fma256(long iters)
{
    FMA_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx512f"))) static float fma512(long iters)
{
    FMA_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

static volatile float sink;

/* GFLOP/s of 12 independent FMA chains of `width` floats: the best of 5
 * rounds of about 25 ms (a peak is what the core can do, so the best, not
 * the median: a round the scheduler interrupted is not the core's). */
static double fma_peak(int width)
{
    long iters = 20000000 / (width / 8);
    double best = 0.0;
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        sink = width == 16 ? fma512(iters) : fma256(iters);
        double g = 12.0 * 2.0 * width * (double)iters / (now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

/* ------------------------------------------------------------ products */

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                               float *, int);
static cblas_sgemm_fn blis_sgemm;

typedef struct shape { const char *model, *what; int layer, ta, tb, M, N, K; } shape;

enum { LIB_OPENBLAS, LIB_BLIS, LIB_XSMM, LIB_FIXED, LIB_REF, NLIB };
static const char *lib_name[NLIB] = {"openblas", "blis", "libxsmm", "fixed-order", "reference"};

/* One product of s with library lib; 0 when the library has no kernel. */
typedef struct operands { const float *A, *B; float *C; int lda, ldb, ldc; } operands;

#ifdef RG_HAVE_XSMM
/* Row-major C = op(A) op(B) is column-major C' = op(B)' op(A)': the
 * kernel takes B first.  NULL when LIBXSMM generates none. */
static libxsmm_smmfunction xsmm_kernel(const shape *s, const operands *o)
{
    int flags = (s->tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s->ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    float alpha = 1.0f, beta = 0.0f;
    libxsmm_blasint m = s->N, n = s->M, k = s->K, lda = o->ldb, ldb = o->lda, ldc = o->ldc;
    return libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, NULL);
}
#endif

static int product(int lib, const shape *s, const operands *o, void *kernel)
{
    switch (lib) {
    case LIB_OPENBLAS:
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                    s->K, 1.0f, o->A, o->lda, o->B, o->ldb, 0.0f, o->C, o->ldc);
        return 1;
    case LIB_BLIS:
        if (!blis_sgemm) return 0;
        blis_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                   s->K, 1.0f, o->A, o->lda, o->B, o->ldb, 0.0f, o->C, o->ldc);
        return 1;
    case LIB_XSMM:
#ifdef RG_HAVE_XSMM
        if (!kernel) return 0;
        ((libxsmm_smmfunction)kernel)(o->B, o->A, o->C);
        return 1;
#else
        (void)kernel;
        return 0;
#endif
    case LIB_FIXED:
        rg_sgemm_fixed(s->ta, s->tb, s->M, s->N, s->K, 1.0f, o->A, o->lda, o->B, o->ldb, 0.0f, o->C, o->ldc);
        return 1;
    default:
        rg_sgemm_ref(s->ta, s->tb, s->M, s->N, s->K, 1.0f, o->A, o->lda, o->B, o->ldb, 0.0f, o->C, o->ldc);
        return 1;
    }
}

/* GFLOP/s of lib on s (median of the rounds), 0 when it has no kernel;
 * *err the largest |C - C_openblas| relative to max |C_openblas|. */
static double time_product(int lib, const shape *s, const operands *o, const float *want, double *err)
{
    void *kernel = NULL;
    if (quick && lib == LIB_REF && (double)s->M * s->N * s->K > 1e7) return 0.0;   /* seconds each */
#ifdef RG_HAVE_XSMM
    if (lib == LIB_XSMM && !(kernel = (void *)xsmm_kernel(s, o))) return 0.0;
#endif
    if (!product(lib, s, o, kernel)) return 0.0;
    double big = 0.0, d = 0.0;
    for (long i = 0; i < (long)s->M * s->N; i++) {
        big = fmax(big, fabs(want[i]));
        d = fmax(d, fabs((double)o->C[i] - want[i]));
    }
    *err = big > 0.0 ? d / big : d;
    double flops = 2.0 * s->M * s->N * (double)s->K, r[16];
    long reps = 1;
    double t0 = now();
    product(lib, s, o, kernel);
    double one = now() - t0;
    reps = one > 0.0 ? (long)(round_seconds / one) + 1 : 1000;
    for (int k = 0; k < rounds; k++) {
        t0 = now();
        for (long i = 0; i < reps; i++) product(lib, s, o, kernel);
        r[k] = flops * (double)reps / (now() - t0) / 1e9;
    }
    for (int i = 1; i < rounds; i++)
        for (int j = i; j > 0 && r[j] < r[j - 1]; j--) { double t = r[j]; r[j] = r[j - 1]; r[j - 1] = t; }
    return r[rounds / 2];
}

static float *random_floats(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return x;
}

/* The operands of s: A is M x K (K x M when ta), B K x N (N x K when tb). */
static void bench_shape(const shape *s, double peak)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    float *A = random_floats((size_t)s->M * s->K, 1), *B = random_floats((size_t)s->K * s->N, 2);
    float *C = calloc((size_t)s->M * s->N, sizeof(float)), *want = calloc((size_t)s->M * s->N, sizeof(float));
    operands o = {A, B, want, lda, ldb, s->N};
    product(LIB_OPENBLAS, s, &o, NULL);
    o.C = C;
    printf("| %s | %d %s | %d x %d x %d |", s->model, s->layer, s->what, s->M, s->N, s->K);
    double best = 0.0;
    int who = -1;
    for (int lib = 0; lib < NLIB; lib++) {
        double err = 0.0, g = time_product(lib, s, &o, want, &err);
        if (g <= 0.0) { printf(" - |"); continue; }
        printf(" %.1f (%.0f%%)%s |", g, 100.0 * g / peak, err > 1e-4 ? " WRONG" : "");
        wrong |= err > 1e-4;
        if (err <= 1e-4 && g > best) { best = g; who = lib; }
    }
    /* what regula's --gemm auto takes for it (gemm.c's rule, this CPU) */
    printf(" %s | %s |\n", who >= 0 ? lib_name[who] : "-",
           rg_kernel_name(rg_sgemm_kernel(s->ta, s->tb, s->M, s->N, s->K, 1.0f, 0.0f)));
    free(A); free(B); free(C); free(want);
}

/* held: the forward product reads W transposed (rg_sgemm 0, 0), as
 * --deterministic's passes do (rg_model_hold) */
static int layer_shapes_as(const char *model, const int *dims, int nd, int batch, int held, shape *out)
{
    int n = 0;
    for (int l = 0; l + 1 < nd; l++) {
        int in = dims[l], o = dims[l + 1];
        out[n++] = (shape){model, held ? "fwd Wt" : "fwd", l + 1, 0, !held, batch, o, in};
        if (l > 0) out[n++] = (shape){model, "dX", l + 1, 0, 0, batch, in, o};   /* the first layer's input needs none */
        out[n++] = (shape){model, "dW", l + 1, 1, 0, o, in, batch};
    }
    return n;
}

static int layer_shapes(const char *model, const int *dims, int nd, int batch, shape *out)
{
    return layer_shapes_as(model, dims, nd, batch, 0, out);
}

/* ------------------------------------------------ --fwd: the forward held */

/* The forward Y = X W^T two ways, as a step runs it: OpenBLAS on W as
 * stored [out, in] (rg_sgemm 0, 1), or W transposed once (rg_transpose,
 * what rg_model_hold does at a step's first forward) and LIBXSMM's kernel
 * on the copy (rg_sgemm 0, 0).  Each part timed alone, and the two of the
 * held forward together: its figure counts the transpose against the
 * product's flops, as a step pays it (once per step and worker). */
typedef struct fwd_case { const float *X, *W; float *Wt, *Y; int M, N, K; void *kernel; } fwd_case;
enum { FWD_OPENBLAS, FWD_TRANSPOSE, FWD_XSMM, FWD_HELD, FWD_N };

static void fwd_run(const fwd_case *c, int what)
{
    if (what == FWD_OPENBLAS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->N, c->K, 1.0f, c->X, c->K, c->W, c->K, 0.0f,
                    c->Y, c->N);
        return;
    }
    if (what != FWD_XSMM) rg_transpose(c->W, (size_t)c->N, (size_t)c->K, c->Wt);
#ifdef RG_HAVE_XSMM
    if (what != FWD_TRANSPOSE) ((libxsmm_smmfunction)c->kernel)(c->Wt, c->X, c->Y);
#endif
}

/* seconds of one run of `what`: the median of the rounds */
static double fwd_seconds(const fwd_case *c, int what)
{
    double t0 = now(), r[16];
    fwd_run(c, what);
    double one = now() - t0;
    long reps = one > 0.0 ? (long)(round_seconds / one) + 1 : 1000;
    for (int k = 0; k < rounds; k++) {
        t0 = now();
        for (long i = 0; i < reps; i++) fwd_run(c, what);
        r[k] = (now() - t0) / (double)reps;
    }
    for (int i = 1; i < rounds; i++)
        for (int j = i; j > 0 && r[j] < r[j - 1]; j--) { double t = r[j]; r[j] = r[j - 1]; r[j - 1] = t; }
    return r[rounds / 2];
}

static void bench_fwd(const char *model, int layer, int M, int out, int in, double peak)
{
    float *X = random_floats((size_t)M * in, 1), *W = random_floats((size_t)out * in, 2);
    float *Wt = malloc((size_t)out * in * sizeof(float)), *Y = malloc((size_t)M * out * sizeof(float));
    fwd_case c = {X, W, Wt, Y, M, out, in, NULL};
    printf("| %s | %d | %d x %d x %d |", model, layer, M, out, in);
    double flops = 2.0 * M * out * (double)in, t[FWD_N] = {0};
    t[FWD_OPENBLAS] = fwd_seconds(&c, FWD_OPENBLAS);
    t[FWD_TRANSPOSE] = fwd_seconds(&c, FWD_TRANSPOSE);
#ifdef RG_HAVE_XSMM
    float alpha = 1.0f, beta = 0.0f;
    int flags = 0;
    libxsmm_blasint m = out, n = M, k = in, lda = out, ldb = in, ldc = out;
    c.kernel = (void *)libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, NULL);
    if (c.kernel) {
        t[FWD_XSMM] = fwd_seconds(&c, FWD_XSMM);
        t[FWD_HELD] = fwd_seconds(&c, FWD_HELD);
    }
#endif
    if (t[FWD_HELD] > 0.0) {   /* the held forward against OpenBLAS's */
        float *want = malloc((size_t)M * out * sizeof(float));
        fwd_case o = c;
        o.Y = want;
        fwd_run(&o, FWD_OPENBLAS);
        fwd_run(&c, FWD_HELD);
        double big = 0.0, d = 0.0;
        for (size_t i = 0; i < (size_t)M * out; i++) {
            big = fmax(big, fabs(want[i]));
            d = fmax(d, fabs((double)Y[i] - want[i]));
        }
        if (d > 1e-4 * big) { wrong = 1; printf(" WRONG"); }
        free(want);
    }
    printf(" %.1f (%.0f%%) | %.2f |", flops / t[FWD_OPENBLAS] / 1e9, 100.0 * flops / t[FWD_OPENBLAS] / 1e9 / peak,
           t[FWD_TRANSPOSE] * 1e6);
    for (int w = FWD_XSMM; w <= FWD_HELD; w++)
        if (t[w] > 0.0) printf(" %.1f (%.0f%%) |", flops / t[w] / 1e9, 100.0 * flops / t[w] / 1e9 / peak);
        else printf(" - |");
    printf(" %s |\n", rg_sgemm_held_forward(out, in, M, 0.0f) ? "held, libxsmm" : "as stored, openblas");
    free(X); free(W); free(Wt); free(Y);
}

static void bench_fwd_model(const char *model, const int *dims, int nd, int batch, double peak)
{
    for (int l = 0; l + 1 < nd; l++) bench_fwd(model, l + 1, batch, dims[l + 1], dims[l], peak);
}

static void bench_fwd_all(double peak)
{
    static const int ref[] = {784, 64, 10}, wide[] = {784, 1024, 1024, 10};
    static const int w256[] = {784, 256, 256, 10}, w512[] = {784, 512, 512, 10};
    printf("The forward X W^T: OpenBLAS on W as stored, the transpose of W alone (microseconds), LIBXSMM on W "
           "transposed alone, and the two together (the held forward, as a step pays it); GFLOP/s (share of the "
           "peak)\n\n");
    printf("| model | layer | M x N x K | openblas X W^T | transpose (us) | libxsmm X Wt | transpose + libxsmm | auto "
           "takes |\n|---|---|---|---|---|---|---|---|\n");
    bench_fwd_model("reference", ref, 3, 32, peak);
    bench_fwd_model("1024-wide", wide, 4, 128, peak);
    bench_fwd_model("256-wide", w256, 4, 64, peak);
    bench_fwd_model("512-wide", w512, 4, 64, peak);
    bench_fwd_model("reference, 2 workers", ref, 3, 16, peak);
    bench_fwd_model("reference, 4 workers", ref, 3, 8, peak);
    bench_fwd_model("1024-wide, 4 workers", wide, 4, 32, peak);
    /* the rule's bounds: narrow layers (16 and 32 outputs), the reference
     * model at batch 128, the 256-wide one at 32 rows */
    static const int narrow[] = {784, 32, 16, 10};
    bench_fwd_model("784-32-16-10", narrow, 4, 32, peak);
    bench_fwd_model("reference, batch 128", ref, 3, 128, peak);
    bench_fwd_model("256-wide, batch 32", w256, 4, 32, peak);
}

static void open_blis(void)
{
    const char *paths[] = {"/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
                           "/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                           "/usr/lib/x86_64-linux-gnu/blis-serial/libblis.so.4", "libblis.so.4"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths && !blis_sgemm; i++) {
        void *h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        blis_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
        void (*threads)(long) = (void (*)(long))dlsym(h, "bli_thread_set_num_threads");
        if (threads) threads(1);
        if (blis_sgemm) printf("BLIS: %s\n", paths[i]);
    }
    if (!blis_sgemm) printf("BLIS: not installed (apt-get install libblis-dev)\n");
}

int main(int argc, char **argv)
{
    int det_only = 0, peak_only = 0, fwd_only = 0, bounds_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) { rounds = 1; round_seconds = 0.002; quick = 1; }
        else if (!strcmp(argv[i], "--cpu-time")) clock_id = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(argv[i], "--det")) det_only = 1;
        else if (!strcmp(argv[i], "--peak")) peak_only = 1;
        else if (!strcmp(argv[i], "--fwd")) fwd_only = 1;
        else if (!strcmp(argv[i], "--bounds")) bounds_only = 1;
        else { fprintf(stderr, "bench_kernels: unknown option '%s'\n", argv[i]); return 2; }
    }
    if (peak_only) {   /* for bench/run.sh: the peak alone, GFLOP/s */
        double p256 = fma_peak(8), p512 = __builtin_cpu_supports("avx512f") ? fma_peak(16) : 0.0;
        printf("%.1f\n", p512 > p256 ? p512 : p256);
        return 0;
    }
    openblas_set_num_threads(1);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("OpenBLAS %s, OPENBLAS_CORETYPE=%s\n", openblas_get_config(), ct ? ct : "(unset)");
    open_blis();
#ifdef RG_HAVE_XSMM
    libxsmm_init();
    printf("LIBXSMM: %s (JIT for this CPU: %s)\n", LIBXSMM_VERSION, libxsmm_get_target_arch());
#else
    printf("LIBXSMM: not built in (apt-get install libxsmm-dev, then make bench-kernels)\n");
#endif
    double p256 = fma_peak(8), p512 = __builtin_cpu_supports("avx512f") ? fma_peak(16) : 0.0;
    double peak = p512 > p256 ? p512 : p256;
    printf("Timed by %s\n", clock_id == CLOCK_MONOTONIC ? "the wall clock" : "the thread's CPU time (--cpu-time)");
    printf("FMA peak, one core: %.1f GFLOP/s with 256-bit vectors", p256);
    if (p512 > 0.0) printf(", %.1f with 512-bit", p512);
    printf("; the shares below are of %.1f\n\n", peak);
    if (fwd_only) {
        bench_fwd_all(peak);
        if (wrong) fprintf(stderr, "bench_kernels: a held forward differs from OpenBLAS's (WRONG above)\n");
        return wrong;
    }
    printf("GFLOP/s (share of the peak); M x N x K of the row-major product\n\n");
    printf("| model | layer | M x N x K | openblas | blis | libxsmm | fixed-order (--deterministic) | reference | fastest "
           "| auto takes |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    shape sh[96];
    static const int ref[] = {784, 64, 10}, wide[] = {784, 1024, 1024, 10};
    static const int w256[] = {784, 256, 256, 10}, w512[] = {784, 512, 512, 10};
    int n = layer_shapes("reference", ref, 3, 32, sh);
    n += layer_shapes("1024-wide", wide, 4, 128, sh + n);
    /* between them, where the rule's bound on a layer's weights lies
     * (784 x 256 = 200,704 under it, 784 x 512 over, 512 x 512 on it) */
    n += layer_shapes("256-wide", w256, 4, 64, sh + n);
    n += layer_shapes("512-wide", w512, 4, 64, sh + n);
    /* a worker's shard: the reference batch over 2 and 4 workers, the
     * 1024-wide one's over 4 (the rule takes no account of the batch) */
    n += layer_shapes("reference, 2 workers", ref, 3, 16, sh + n);
    n += layer_shapes("reference, 4 workers", ref, 3, 8, sh + n);
    n += layer_shapes("1024-wide, 4 workers", wide, 4, 32, sh + n);
    /* the AVX2 rule's bounds (gemm.c): a layer of 62,720 weights, between
     * the reference model's 50,176 and the 256-wide model's 65,536; the
     * weight gradient of 784 inputs at batch 128, beside the 1024-wide
     * model's last layer (1024 inputs) */
    static const int w80[] = {784, 80, 10}, lin[] = {784, 10};
    if (bounds_only) n = 0;
    n += layer_shapes("784-80-10", w80, 3, 32, sh + n);
    n += layer_shapes("784-10, batch 128", lin, 2, 128, sh + n);
    /* the input gradients 784 x 64 and 784 x 80 layers would have after
     * another (a first layer has none) */
    sh[n++] = (shape){"reference, as a hidden layer", "dX", 1, 0, 0, 32, 784, 64};
    sh[n++] = (shape){"784-80-10, as a hidden layer", "dX", 1, 0, 0, 32, 784, 80};
    /* --deterministic, 1 worker: a step is 8 shards (--det-shards) of
     * batch / 8 rows, the forward reading W transposed */
    if (det_only) n = 0;
    if (!bounds_only) n += layer_shapes_as("reference, --deterministic shard", ref, 3, 32 / 8, 1, sh + n);
    if (!bounds_only) n += layer_shapes_as("1024-wide, --deterministic shard", wide, 4, 128 / 8, 1, sh + n);
    for (int i = 0; i < n; i++) bench_shape(&sh[i], peak);
#ifdef RG_HAVE_XSMM
    libxsmm_finalize();
#endif
    if (wrong) fprintf(stderr, "bench_kernels: a library's product differs from OpenBLAS's (WRONG above)\n");
    return wrong;
}
