/*
 * gemm_fixed.c — the matrix product of --deterministic: the same bits on
 * every x86-64 CPU, whatever its vector width.
 *
 * Every element of C is one chain of fused multiply-adds over k in order,
 *     s = 0;  for k = 0 .. K-1:  s = fma(a_ik, b_kj, s)
 *     c_ij = alpha * s            (beta == 0)
 *     c_ij = alpha * s + beta * c_ij, rounded after each operation
 * and nothing else.  The vector kernels give each column j a lane of its
 * own (8 with AVX2, 16 with AVX-512) and never add lanes together, so a
 * lane computes exactly the scalar chain; the scalar path uses fmaf, which
 * is correctly rounded in hardware or in glibc's software alike.  So the
 * result does not depend on the instruction set taken, the tiling, or the
 * CPU.  OpenBLAS, by contrast, picks its kernel (and with it the order of
 * the sums) by CPU and OPENBLAS_CORETYPE.
 *
 * The kernels tile C in rows by vectors of columns, keeping the tile's
 * sums in registers over the whole k loop: AVX-512 in 8 rows by 3 vectors
 * (4 by 4 where 4 rows or fewer are left), reading B as stored in place
 * with masked loads at its edge and packing only a transposed B; AVX2 in
 * 4 rows by 2 vectors, packing a panel of B as K contiguous rows where
 * many rows of C reuse a deep one; both row by row where K is small
 * (<= 16 with AVX2, <= 4 with AVX-512).  The
 * edges of C are masked, not computed another way.  rg_sgemm_fixed_shards
 * (AVX-512, AVX2) makes the same chains for each shard of a --deterministic
 * step's rows and sums the shards in its tree before C is written (AVX2
 * from packed copies of A and B where many tiles read them).  This
 * file is compiled with
 * -ffp-contract=off (as all of regula is): the compiler fuses nothing
 * itself.
 */
#include "core/core.h"
#include "kernels/kernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gemm_args {
    int ta, tb, M, N, K;
    float alpha, beta;
    const float *A;
    int lda;
    const float *B;   /* K rows of N, row stride ldb; tb: N rows of K */
    int ldb;
    float *C;
    int ldc;
} gemm_args;

static inline float a_at(const gemm_args *g, int i, int k)
{
    return g->ta ? g->A[(size_t)k * (size_t)g->lda + (size_t)i] : g->A[(size_t)i * (size_t)g->lda + (size_t)k];
}

static inline float b_at(const gemm_args *g, int k, int j)
{
    return g->tb ? g->B[(size_t)j * (size_t)g->ldb + (size_t)k] : g->B[(size_t)k * (size_t)g->ldb + (size_t)j];
}

static inline float finish(const gemm_args *g, float s, const float *c)
{
    float r = g->alpha * s;
    return g->beta == 0.0f ? r : r + g->beta * *c;
}

/* Every element, one at a time. */
static void scalar_all(const gemm_args *g)
{
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) {
            float s = 0.0f;
            for (int k = 0; k < g->K; k++) s = fmaf(a_at(g, i, k), b_at(g, k, j), s);
            float *c = g->C + (size_t)i * (size_t)g->ldc + (size_t)j;
            *c = finish(g, s, c);
        }
}

/* The vector kernels: rows [i, i + rows) (rows <= 4) by columns
 * [j, j + cols) (cols <= 2 vectors), the 8 sums in registers over the
 * whole k loop; B's columns come as K rows of 2 vectors (p, row stride ps),
 * zero past cols.  A missing row repeats the last (not stored); missing
 * columns are masked off.  Lanes never meet, so each is the scalar chain.
 * Each is written once for A as stored (a[r][k]) and once transposed
 * (a[r][k * lda]), so that the k loop holds no test of ta.  The finish
 * skips what cannot change a bit: alpha * s when alpha is 1 (1 * x is x,
 * NaNs included, which arithmetic makes quiet) and beta * c when beta is 1. */
#define A_ROW(i, r, rows) ((i) + ((r) < (rows) ? (r) : (rows) - 1))

/* element (r, k) of the tile's A is a[r][k * as] */
static inline void tile_rows_n(const gemm_args *g, int i, int rows, const float **a, size_t *as, int R)
{
    for (int r = 0; r < R; r++) {
        size_t row = (size_t)A_ROW(i, r, rows);
        a[r] = g->ta ? g->A + row : g->A + row * (size_t)g->lda;
    }
    *as = g->ta ? (size_t)g->lda : 1;
}

static inline void tile_rows(const gemm_args *g, int i, int rows, const float *a[4], size_t *as)
{
    tile_rows_n(g, i, rows, a, as, 4);
}

/* 16 ones, then zeros: an AVX2 mask of n lanes (1 <= n <= 8) starts at 16 - n */
static const int32_t lane_ones[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

#define TILE_K_LOOP(V, LOAD, SET1, FMA, AS)                                              \
    for (int k = 0; k < g->K; k++) {                                                  \
        const float *pk = p + (size_t)k * ps;                                          \
        V b0 = LOAD(pk), b1 = LOAD(pk + sizeof(V) / 4);                                \
        __asm__("" : "+v"(b0), "+v"(b1)); /* in registers: 2 loads a k, not 8 */       \
        for (int r = 0; r < 4; r++) {                                                  \
            V x = SET1(a[r][(size_t)k * (AS)]);                                        \
            s[r][0] = FMA(x, b0, s[r][0]);                                             \
            s[r][1] = FMA(x, b1, s[r][1]);                                             \
        }                                                                              \
    }

__attribute__((target("avx2,fma"))) static void finish_avx2(const gemm_args *g, int i, int rows, int j, int cols,
                                                            __m256 s[4][2])
{
    __m256 al = _mm256_set1_ps(g->alpha), be = _mm256_set1_ps(g->beta);
    for (int h = 0; h < 2; h++) {
        int n = cols - h * 8;
        if (n <= 0) break;
        __m256i m = _mm256_loadu_si256((const __m256i *)(lane_ones + 16 - (n < 8 ? n : 8)));
        for (int r = 0; r < rows; r++) {
            float *c = g->C + (size_t)(i + r) * (size_t)g->ldc + (size_t)(j + h * 8);
            __m256 v = g->alpha == 1.0f ? s[r][h] : _mm256_mul_ps(al, s[r][h]);
            if (n >= 8) {
                if (g->beta == 1.0f) v = _mm256_add_ps(v, _mm256_loadu_ps(c));
                else if (g->beta != 0.0f) v = _mm256_add_ps(v, _mm256_mul_ps(be, _mm256_loadu_ps(c)));
                _mm256_storeu_ps(c, v);
                continue;
            }
            if (g->beta == 1.0f) v = _mm256_add_ps(v, _mm256_maskload_ps(c, m));
            else if (g->beta != 0.0f) v = _mm256_add_ps(v, _mm256_mul_ps(be, _mm256_maskload_ps(c, m)));
            _mm256_maskstore_ps(c, m, v);
        }
    }
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const gemm_args *g, int i, int rows, int j, int cols,
                                                          const float *p, size_t ps)
{
    __m256 s[4][2];
    for (int r = 0; r < 4; r++) s[r][0] = s[r][1] = _mm256_setzero_ps();
    const float *a[4];
    size_t as;
    tile_rows(g, i, rows, a, &as);
    if (as == 1) TILE_K_LOOP(__m256, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, 1)
    else TILE_K_LOOP(__m256, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, as)
    finish_avx2(g, i, rows, j, cols, s);
}

/* AVX-512: a tile of R (4 or 8) rows by V vectors of 16 columns (V <= 4
 * with 4 rows, <= 3 with 8: at most 24 sums and 3 of B's vectors in the 32
 * registers), the R V sums in registers over the whole k loop (16 or 24
 * chains in flight on a whole tile: more than the FMA's latency on two
 * pipes needs), R broadcasts of A and V loads of B for R V FMAs a k.  B's
 * columns come as K rows at p, row stride ps, read in place (B as stored)
 * or packed; the last vector's lanes past cols are masked off, in the
 * loads (so a row of B is never read past its end) and the stores. */
#define T5_R 8
#define T5_V 4

__attribute__((target("avx512f"))) static inline __mmask16 mask16(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

__attribute__((target("avx512f"), always_inline)) static inline void finish_avx512(const gemm_args *g, int i, int rows,
                                                                                   int j, int cols,
                                                                                   __m512 s[T5_R][T5_V], const int R,
                                                                                   const int V)
{
    __m512 al = _mm512_set1_ps(g->alpha), be = _mm512_set1_ps(g->beta);
#pragma GCC unroll 4
    for (int h = 0; h < V; h++) {
        __mmask16 m = mask16(cols - h * 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {   /* constant indices: s stays in registers */
            if (r >= rows) break;
            float *c = g->C + (size_t)(i + r) * (size_t)g->ldc + (size_t)(j + h * 16);
            __m512 v = g->alpha == 1.0f ? s[r][h] : _mm512_mul_ps(al, s[r][h]);
            if (g->beta == 1.0f) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
            else if (g->beta != 0.0f) v = _mm512_add_ps(v, _mm512_mul_ps(be, _mm512_maskz_loadu_ps(m, c)));
            _mm512_mask_storeu_ps(c, m, v);
        }
    }
}

/* The k loop of a tile of R rows and V vectors; AS: a's stride over k (1 or as). */
#define T5_K_LOOP(R, V, AS)                                                                               \
    for (int k = 0; k < K; k++) {                                                                         \
        const float *pk = p + (size_t)k * ps;                                                             \
        __m512 b[T5_V];                                                                                   \
        _Pragma("GCC unroll 4") for (int q = 0; q < (V); q++) {                                           \
            b[q] = q + 1 < (V) ? _mm512_loadu_ps(pk + 16 * q) : _mm512_maskz_loadu_ps(last, pk + 16 * q); \
            __asm__("" : "+v"(b[q])); /* in registers: V loads a k, not R V */                             \
        }                                                                                                 \
        _Pragma("GCC unroll 8") for (int r = 0; r < (R); r++) {                                           \
            __m512 x = _mm512_set1_ps(a[r][(size_t)k * (AS)]);                                            \
            _Pragma("GCC unroll 4") for (int q = 0; q < (V); q++) s[r][q] = _mm512_fmadd_ps(x, b[q], s[r][q]); \
        }                                                                                                 \
    }

__attribute__((target("avx512f"), always_inline)) static inline void tile_avx512_rv(const gemm_args *g, int i,
                                                                                    int rows, int j, int cols,
                                                                                    const float *p, size_t ps,
                                                                                    const int R, const int V)
{
    __m512 s[T5_R][T5_V];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int q = 0; q < V; q++) s[r][q] = _mm512_setzero_ps();
    const float *a[T5_R];
    size_t as;
    tile_rows_n(g, i, rows, a, &as, R);
    __mmask16 last = mask16(cols - 16 * (V - 1));
    const int K = g->K;
    if (as == 1) T5_K_LOOP(R, V, 1)
    else T5_K_LOOP(R, V, as)
    finish_avx512(g, i, rows, j, cols, s, R, V);
}

/* rows <= 4: 4 rows by up to 4 vectors; else 8 rows by up to 3 */
__attribute__((target("avx512f"))) static void tile_avx512(const gemm_args *g, int i, int rows, int j, int cols,
                                                          const float *p, size_t ps)
{
    int v = (cols + 15) / 16;
    if (rows > 4) {
        if (v == 1) tile_avx512_rv(g, i, rows, j, cols, p, ps, 8, 1);
        else if (v == 2) tile_avx512_rv(g, i, rows, j, cols, p, ps, 8, 2);
        else tile_avx512_rv(g, i, rows, j, cols, p, ps, 8, 3);
        return;
    }
    if (v == 1) tile_avx512_rv(g, i, rows, j, cols, p, ps, 4, 1);
    else if (v == 2) tile_avx512_rv(g, i, rows, j, cols, p, ps, 4, 2);
    else if (v == 3) tile_avx512_rv(g, i, rows, j, cols, p, ps, 4, 3);
    else tile_avx512_rv(g, i, rows, j, cols, p, ps, 4, 4);
}

/* The shallow products (B as stored, K <= SHALLOW_K with AVX2,
 * SHALLOW_K_AVX512 with AVX-512: the dW of a pass of a few rows), where a
 * tile would spend more on its setup and finish than on its k loop
 * (AVX-512's tiles of 8 rows by 3 vectors do better from K = 8 on: 64 x
 * 784 x K, the reference model's dW, ran 98 against 76 GFLOP/s at K = 8,
 * 61 against 68 at K = 4): C row by row, SHALLOW_V vectors of columns at a time (the
 * edge one vector at a time, masked), each lane one chain over k of B's
 * rows read in place.  The same chain per element, so the same bits as a
 * tile. */
#define SHALLOW_K 16
#define SHALLOW_K_AVX512 4
#define SHALLOW_V 8   /* vectors of C a block: 8 chains in flight hide the FMA's latency */

/* alpha * s + beta * c, skipping what cannot change a bit (see above) */
#define FINISH(V, MUL, ADD, CLOAD)                                                                        \
    V v = alpha1 ? sum : MUL(al, sum);                                                                 \
    if (beta1) v = ADD(v, CLOAD);                                                                      \
    else if (!beta0) v = ADD(v, MUL(be, CLOAD));

__attribute__((target("avx2,fma"))) static void shallow_avx2(const gemm_args *g)
{
    const int K = g->K, N = g->N;
    const size_t ldb = (size_t)g->ldb, as = g->ta ? (size_t)g->lda : 1;
    const int alpha1 = g->alpha == 1.0f, beta1 = g->beta == 1.0f, beta0 = g->beta == 0.0f;
    const __m256 al = _mm256_set1_ps(g->alpha), be = _mm256_set1_ps(g->beta);
    for (int i = 0; i < g->M; i++) {
        const float *a = g->ta ? g->A + i : g->A + (size_t)i * (size_t)g->lda;   /* a_ik at a[k * as] */
        float *c = g->C + (size_t)i * (size_t)g->ldc;
        int j = 0;
        for (; j + 8 * SHALLOW_V <= N; j += 8 * SHALLOW_V) {
            __m256 s[SHALLOW_V];
            for (int q = 0; q < SHALLOW_V; q++) s[q] = _mm256_setzero_ps();
            const float *b = g->B + j;
            for (int k = 0; k < K; k++, b += ldb) {
                __m256 x = _mm256_set1_ps(a[(size_t)k * as]);
                for (int q = 0; q < SHALLOW_V; q++) s[q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + 8 * q), s[q]);
            }
            for (int q = 0; q < SHALLOW_V; q++) {
                __m256 sum = s[q];
                FINISH(__m256, _mm256_mul_ps, _mm256_add_ps, _mm256_loadu_ps(c + j + 8 * q))
                _mm256_storeu_ps(c + j + 8 * q, v);
            }
        }
        for (; j < N; j += 8) {
            int n = N - j < 8 ? N - j : 8;
            __m256i m = _mm256_loadu_si256((const __m256i *)(lane_ones + 16 - n));
            __m256 sum = _mm256_setzero_ps();
            const float *b = g->B + j;
            for (int k = 0; k < K; k++, b += ldb)
                sum = _mm256_fmadd_ps(_mm256_set1_ps(a[(size_t)k * as]), _mm256_maskload_ps(b, m), sum);
            FINISH(__m256, _mm256_mul_ps, _mm256_add_ps, _mm256_maskload_ps(c + j, m))
            _mm256_maskstore_ps(c + j, m, v);
        }
    }
}

__attribute__((target("avx512f"))) static void shallow_avx512(const gemm_args *g)
{
    const int K = g->K, N = g->N;
    const size_t ldb = (size_t)g->ldb, as = g->ta ? (size_t)g->lda : 1;
    const int alpha1 = g->alpha == 1.0f, beta1 = g->beta == 1.0f, beta0 = g->beta == 0.0f;
    const __m512 al = _mm512_set1_ps(g->alpha), be = _mm512_set1_ps(g->beta);
    for (int i = 0; i < g->M; i++) {
        const float *a = g->ta ? g->A + i : g->A + (size_t)i * (size_t)g->lda;   /* a_ik at a[k * as] */
        float *c = g->C + (size_t)i * (size_t)g->ldc;
        int j = 0;
        for (; j + 16 * SHALLOW_V <= N; j += 16 * SHALLOW_V) {
            __m512 s[SHALLOW_V];
            for (int q = 0; q < SHALLOW_V; q++) s[q] = _mm512_setzero_ps();
            const float *b = g->B + j;
            for (int k = 0; k < K; k++, b += ldb) {
                __m512 x = _mm512_set1_ps(a[(size_t)k * as]);
                for (int q = 0; q < SHALLOW_V; q++) s[q] = _mm512_fmadd_ps(x, _mm512_loadu_ps(b + 16 * q), s[q]);
            }
            for (int q = 0; q < SHALLOW_V; q++) {
                __m512 sum = s[q];
                FINISH(__m512, _mm512_mul_ps, _mm512_add_ps, _mm512_loadu_ps(c + j + 16 * q))
                _mm512_storeu_ps(c + j + 16 * q, v);
            }
        }
        for (; j < N; j += 16) {
            int n = N - j < 16 ? N - j : 16;
            __mmask16 m = n == 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
            __m512 sum = _mm512_setzero_ps();
            const float *b = g->B + j;
            for (int k = 0; k < K; k++, b += ldb)
                sum = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)k * as]), _mm512_maskz_loadu_ps(m, b), sum);
            FINISH(__m512, _mm512_mul_ps, _mm512_add_ps, _mm512_maskz_loadu_ps(m, c + j))
            _mm512_mask_storeu_ps(c + j, m, v);
        }
    }
}

/* rg_sgemm_fixed_shards, AVX-512: a tile of C, 8 rows by 3 vectors, made
 * shard after shard, each shard's 24 sums in registers over its k (its
 * chains, as rg_sgemm_fixed makes them), then folded into a stack of
 * partial sums as a binary counter does: shard s joins the top once for
 * each trailing 1 bit of s, the lower shards' sum on the left (the sum
 * (j, w) of rg_tree_sum, whose tree is the same: blocks of 2^l aligned
 * shards, the rest joined from the right), and at the end the partial
 * sums left are joined from the smallest up.  Each shard's |sums| join
 * its lane-wise maximum (as bits: rg_max_abs's order) before the fold. */
#define SH_R 8
#define SH_V 3
#define SH_LEVELS 7   /* partial sums a stack holds: S <= 127 */

typedef struct shard_args {
    const float *A, *B;   /* A: K rows of M (a_ik at A[k * lda + i]); B: K rows of N */
    size_t lda, ldb, ldc;
    const size_t *ks;     /* shard s: k in [ks[s], ks[s + 1]) */
    int S;
    float *C;
} shard_args;

__attribute__((target("avx512f"))) static void shards_tile_avx512(const shard_args *g, int i, int rows, int j, int cols,
                                                                 __m512i *mx)
{
    __m512 stk[SH_LEVELS][SH_R][SH_V];
    const float *a[SH_R];
    __mmask16 m[SH_V];
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    for (int r = 0; r < SH_R; r++) a[r] = g->A + A_ROW(i, r, rows);
    for (int q = 0; q < SH_V; q++) m[q] = mask16(cols - 16 * q);
    for (int sh = 0; sh < g->S; sh++) {
        __m512 acc[SH_R][SH_V];
#pragma GCC unroll 8
        for (int r = 0; r < SH_R; r++)
#pragma GCC unroll 3
            for (int q = 0; q < SH_V; q++) acc[r][q] = _mm512_setzero_ps();
        for (size_t k = g->ks[sh]; k < g->ks[sh + 1]; k++) {
            const float *bk = g->B + k * g->ldb + (size_t)j;
            __m512 b[SH_V];
#pragma GCC unroll 3
            for (int q = 0; q < SH_V; q++) {
                b[q] = _mm512_maskz_loadu_ps(m[q], bk + 16 * q);
                __asm__("" : "+v"(b[q]));
            }
#pragma GCC unroll 8
            for (int r = 0; r < SH_R; r++) {
                __m512 x = _mm512_set1_ps(a[r][k * g->lda]);
#pragma GCC unroll 3
                for (int q = 0; q < SH_V; q++) acc[r][q] = _mm512_fmadd_ps(x, b[q], acc[r][q]);
            }
        }
        __m512i t = mx[sh];
#pragma GCC unroll 8
        for (int r = 0; r < SH_R; r++)
#pragma GCC unroll 3
            for (int q = 0; q < SH_V; q++)
                t = _mm512_max_epu32(t, _mm512_and_si512(_mm512_castps_si512(acc[r][q]), magnitude));
        mx[sh] = t;
        int lv = 0;
        for (unsigned n = (unsigned)sh; n & 1u; n >>= 1, lv++)
#pragma GCC unroll 8
            for (int r = 0; r < SH_R; r++)
#pragma GCC unroll 3
                for (int q = 0; q < SH_V; q++) acc[r][q] = _mm512_add_ps(stk[lv][r][q], acc[r][q]);
        memcpy(stk[lv], acc, sizeof acc);
    }
    __m512 out[SH_R][SH_V];
    int have = 0;
    for (int lv = 0; lv < SH_LEVELS; lv++) {
        if (!((unsigned)g->S >> lv & 1u)) continue;
        if (!have) memcpy(out, stk[lv], sizeof out);
        else
            for (int r = 0; r < SH_R; r++)
                for (int q = 0; q < SH_V; q++) out[r][q] = _mm512_add_ps(stk[lv][r][q], out[r][q]);
        have = 1;
    }
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < SH_V; q++)
            if (m[q]) _mm512_mask_storeu_ps(g->C + (size_t)(i + r) * g->ldc + (size_t)(j + 16 * q), m[q], out[r][q]);
}

__attribute__((target("avx512f"))) static void shards_avx512(const shard_args *g, int M, int N, float *maxabs)
{
    __m512i mx[RG_FIXED_MAX_SHARDS];
    for (int s = 0; s < g->S; s++) mx[s] = _mm512_setzero_si512();
    for (int j = 0; j < N; j += 16 * SH_V)   /* B's panel of the step's rows stays in cache over i */
        for (int i = 0; i < M; i += SH_R)
            shards_tile_avx512(g, i, M - i < SH_R ? M - i : SH_R, j, N - j < 16 * SH_V ? N - j : 16 * SH_V, mx);
    for (int s = 0; s < g->S; s++) {
        uint32_t top = (uint32_t)_mm512_reduce_max_epu32(mx[s]), v;
        float f = INFINITY;
        if (top < 0x7f800000u) { v = top; memcpy(&f, &v, sizeof f); }
        maxabs[s] = f > maxabs[s] ? f : maxabs[s];
    }
}

/* AVX2: the same in tiles of 4 rows by 2 vectors (8 sums: the 16
 * registers hold them, B's 2 vectors and a broadcast). */
#define SH2_R 4
#define SH2_V 2

__attribute__((target("avx2,fma"))) static inline __m256i mask8(int n)
{
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(lane_ones + 16 - n));
}

/* The tile's operands: a_ik at a0[(i - tile's i) + k * as], b_kj at
 * b0[(j - tile's j) + k * bs]: A and B as stored, or packed copies. */
typedef struct shard_tile { const float *a0, *b0; size_t as, bs; } shard_tile;

__attribute__((target("avx2,fma"))) static void shards_tile_avx2(const shard_args *g, const shard_tile *op, int i,
                                                                int rows, int j, int cols, __m256i *mx)
{
    __m256 stk[SH_LEVELS][SH2_R][SH2_V];
    const float *a[SH2_R];
    __m256i m[SH2_V];
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    const size_t as = op->as, bs = op->bs;
    for (int r = 0; r < SH2_R; r++) a[r] = op->a0 + A_ROW(0, r, rows);
    for (int q = 0; q < SH2_V; q++) m[q] = mask8(cols - 8 * q);
    for (int sh = 0; sh < g->S; sh++) {
        __m256 acc[SH2_R][SH2_V];
        for (int r = 0; r < SH2_R; r++)
            for (int q = 0; q < SH2_V; q++) acc[r][q] = _mm256_setzero_ps();
        for (size_t k = g->ks[sh]; k < g->ks[sh + 1]; k++) {
            const float *bk = op->b0 + k * bs;
            __m256 b0 = _mm256_maskload_ps(bk, m[0]), b1 = _mm256_maskload_ps(bk + 8, m[1]);
            __asm__("" : "+v"(b0), "+v"(b1));
            for (int r = 0; r < SH2_R; r++) {
                __m256 x = _mm256_set1_ps(a[r][k * as]);
                acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
            }
        }
        __m256i t = mx[sh];
        for (int r = 0; r < SH2_R; r++)
            for (int q = 0; q < SH2_V; q++)
                t = _mm256_max_epu32(t, _mm256_and_si256(_mm256_castps_si256(acc[r][q]), magnitude));
        mx[sh] = t;
        int lv = 0;
        for (unsigned n = (unsigned)sh; n & 1u; n >>= 1, lv++)
            for (int r = 0; r < SH2_R; r++)
                for (int q = 0; q < SH2_V; q++) acc[r][q] = _mm256_add_ps(stk[lv][r][q], acc[r][q]);
        memcpy(stk[lv], acc, sizeof acc);
    }
    __m256 out[SH2_R][SH2_V];
    int have = 0;
    for (int lv = 0; lv < SH_LEVELS; lv++) {
        if (!((unsigned)g->S >> lv & 1u)) continue;
        if (!have) memcpy(out, stk[lv], sizeof out);
        else
            for (int r = 0; r < SH2_R; r++)
                for (int q = 0; q < SH2_V; q++) out[r][q] = _mm256_add_ps(stk[lv][r][q], out[r][q]);
        have = 1;
    }
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < SH2_V && cols > 8 * q; q++)
            _mm256_maskstore_ps(g->C + (size_t)(i + r) * g->ldc + (size_t)(j + 8 * q), m[q], out[r][q]);
}

/* A's columns [i, i + SH2_R) as K rows of SH2_R at ap (the last block's
 * missing columns left unread); B's columns [j, j + cols) as K rows of
 * 8 SH2_V at bp.  A layer's activations and deltas are rows of its width
 * apart: 4 KB for 1024, so the 4 columns of A and 16 of B a tile reads
 * over a shard's rows fall into one set of L1 (8 ways) and are fetched
 * from L2 again each time; packed, they are a few contiguous lines. */
#define SHARD_PACK_MIN 64
#define SHARD_PACK_B_MIN 256

static void shards_pack_a(const shard_args *g, int M, size_t K, float *ap)
{
    for (size_t k = 0; k < K; k++)
        for (int i = 0; i < M; i++)
            ap[((size_t)(i / SH2_R) * K + k) * SH2_R + (size_t)(i % SH2_R)] = g->A[k * g->lda + (size_t)i];
}

static void shards_pack_b(const shard_args *g, size_t K, int j, int cols, float *bp)
{
    const float *b = g->B + (size_t)j;
    if (cols == 8 * SH2_V)   /* a whole panel: copies of a constant size, inlined */
        for (size_t k = 0; k < K; k++) memcpy(bp + k * 8 * SH2_V, b + k * g->ldb, 8 * SH2_V * sizeof(float));
    else
        for (size_t k = 0; k < K; k++) memcpy(bp + k * 8 * SH2_V, b + k * g->ldb, (size_t)cols * sizeof(float));
}

__attribute__((target("avx2,fma"))) static void shards_avx2(const shard_args *g, int M, int N, float *maxabs)
{
    __m256i mx[RG_FIXED_MAX_SHARDS];
    for (int s = 0; s < g->S; s++) mx[s] = _mm256_setzero_si256();
    size_t K = g->ks[g->S], blocks = (size_t)(M + SH2_R - 1) / SH2_R;
    /* packed where a copy is read by many tiles over deep shards (A by
     * the panels of B, a panel by the blocks of A) and can be had, else
     * read in place: the same chains */
    int deep = K >= SHARD_PACK_MIN, pa = deep && N >= SHARD_PACK_MIN, pb = deep && M >= SHARD_PACK_B_MIN;
    float *ap = pa ? rg_malloc(blocks * SH2_R * K * sizeof(float)) : NULL;
    float *bp = pb ? rg_malloc(K * 8 * SH2_V * sizeof(float)) : NULL;
    if (ap) shards_pack_a(g, M, K, ap);
    for (int j = 0; j < N; j += 8 * SH2_V) {
        int cols = N - j < 8 * SH2_V ? N - j : 8 * SH2_V;
        if (bp) shards_pack_b(g, K, j, cols, bp);
        for (int i = 0; i < M; i += SH2_R) {
            shard_tile t = { ap ? ap + (size_t)(i / SH2_R) * K * SH2_R : g->A + i, bp ? bp : g->B + j,
                             ap ? SH2_R : g->lda, bp ? 8 * SH2_V : g->ldb };
            shards_tile_avx2(g, &t, i, M - i < SH2_R ? M - i : SH2_R, j, cols, mx);
        }
    }
    rg_free(ap);
    rg_free(bp);
    for (int s = 0; s < g->S; s++) {
        uint32_t lanes[8], top = 0;
        _mm256_storeu_si256((__m256i *)lanes, mx[s]);
        for (int l = 0; l < 8; l++) top = lanes[l] > top ? lanes[l] : top;
        float f = INFINITY;
        if (top < 0x7f800000u) memcpy(&f, &top, sizeof f);
        maxabs[s] = f > maxabs[s] ? f : maxabs[s];
    }
}

int rg_sgemm_fixed_shards(int M, int N, const float *A, int lda, const float *B, int ldb, const size_t *ks, int S,
                          float *C, int ldc, float *maxabs)
{
    int W = rg_sgemm_fixed_width();
    if (W == 1 || S < 1 || S > RG_FIXED_MAX_SHARDS || M <= 0 || N <= 0) return 0;
    shard_args g = { A, B, (size_t)lda, (size_t)ldb, (size_t)ldc, ks, S, C };
    if (W == 16) shards_avx512(&g, M, N, maxabs);
    else shards_avx2(&g, M, N, maxabs);
    return 1;
}

typedef void (*tile_fn)(const gemm_args *, int, int, int, int, const float *, size_t);

/* B's columns [j, j + cols) as K rows of width floats, zero past cols. */
static void pack(const gemm_args *g, int j, int cols, int width, float *p)
{
    if (cols < width)
        for (int k = 0; k < g->K; k++) memset(p + (size_t)k * (size_t)width + cols, 0, (size_t)(width - cols) * sizeof(float));
    if (!g->tb && cols == 16) {   /* AVX2's whole panels: copies of a constant size, inlined (not a call a row) */
        for (int k = 0; k < g->K; k++)
            memcpy(p + (size_t)k * (size_t)width, g->B + (size_t)k * (size_t)g->ldb + (size_t)j, 16 * sizeof(float));
        return;
    }
    if (!g->tb) {
        for (int k = 0; k < g->K; k++)
            memcpy(p + (size_t)k * (size_t)width, g->B + (size_t)k * (size_t)g->ldb + (size_t)j, (size_t)cols * sizeof(float));
        return;
    }
    for (int c = 0; c < cols; c++) {   /* B's row j + c is column c of the panel */
        const float *b = g->B + (size_t)(j + c) * (size_t)g->ldb;
        for (int k = 0; k < g->K; k++) p[(size_t)k * (size_t)width + (size_t)c] = b[k];
    }
}

static int isa_width = -1;    /* 16, 8 or 1 floats a lane group; -1: not chosen yet */

int rg_sgemm_fixed_width(void)
{
    int w = __atomic_load_n(&isa_width, __ATOMIC_RELAXED);
    if (w > 0) return w;
    const char *e = getenv("REGULA_ISA");   /* tests force each path */
    int avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2") &&
                                                            __builtin_cpu_supports("fma");
    if (e && !strcmp(e, "scalar")) w = 1;
    else if (e && !strcmp(e, "avx2")) w = avx2 ? 8 : 1;
    else w = avx512 ? 16 : avx2 ? 8 : 1;
    __atomic_store_n(&isa_width, w, __ATOMIC_RELAXED);
    return w;
}


const char *rg_sgemm_fixed_name(void)
{
    int w = rg_sgemm_fixed_width();
    return w == 16 ? "fixed-order avx512" : w == 8 ? "fixed-order avx2" : "fixed-order scalar";
}

/* Panels of up to this many floats are packed on the stack (K <= 64 with
 * AVX-512's 64 columns, 85 with its 48, 256 with AVX2's 16); larger ones in one allocation per
 * product. */
#define PANEL_STACK 4096

/* 0, or 1 when the panel could not be had (then the scalar path, the
 * same bits). */
/* The rows of the tile at row i: 8 (AVX-512, more than 4 rows left), else 4. */
static int tile_height(int W, int left)
{
    if (W == 16 && left > 4) return left < 8 ? left : 8;
    return left < 4 ? left : 4;
}

static int run_vector(const gemm_args *g, int W)
{
    tile_fn tile = W == 16 ? tile_avx512 : tile_avx2;
    /* a panel's columns: AVX-512's 8-row tiles take 3 vectors, its 4-row ones 4 */
    int pw = W == 16 ? (g->M > 4 ? 48 : 64) : 2 * W;
    size_t need = (size_t)(g->K ? g->K : 1) * (size_t)pw;
    float stack[PANEL_STACK], *p = need <= PANEL_STACK ? stack : NULL;
    for (int j = 0; j < g->N; j += pw) {
        int cols = g->N - j < pw ? g->N - j : pw;
        /* a panel of B read in place when its rows are whole and either few
         * rows of C reuse it or it is few rows deep (a dW of a small batch);
         * else packed once for every row (no TLB miss a k).  AVX-512 masks
         * its loads, so reads any panel of B as stored in place. */
        int direct = !g->tb && (W == 16 || (cols == pw && (g->M <= 8 || g->K <= 64)));
        if (!direct && !p && !(p = rg_malloc(need * sizeof(float)))) return 1;
        if (!direct) pack(g, j, cols, pw, p);
        const float *b = direct ? g->B + j : p;
        size_t bs = direct ? (size_t)g->ldb : (size_t)pw;
        for (int i = 0, h; i < g->M; i += h) tile(g, i, h = tile_height(W, g->M - i), j, cols, b, bs);
    }
    if (p != stack) rg_free(p);
    return 0;
}

static void run(const gemm_args *g)
{
    int W = rg_sgemm_fixed_width();
    if (W > 1 && !g->tb && g->K <= (W == 16 ? SHALLOW_K_AVX512 : SHALLOW_K)) {
        if (W == 16) shallow_avx512(g);
        else shallow_avx2(g);
        return;
    }
    if (W == 1 || run_vector(g, W)) scalar_all(g);
}

void rg_sgemm_fixed(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc)
{
    gemm_args g = {ta, tb, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
    run(&g);
}
