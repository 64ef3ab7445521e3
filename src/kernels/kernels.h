/*
 * kernels.h — layer 1, internal: elementwise kernels over raw float buffers.
 * A kernel does no I/O, allocates nothing and knows no communication.
 * Backward kernels accumulate or overwrite as their comment says.
 */
#ifndef RG_KERNELS_H
#define RG_KERNELS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { RG_ACT_LINEAR, RG_ACT_RELU, RG_ACT_TANH, RG_ACT_SIGMOID, RG_ACT_GELU, RG_ACT_SOFTMAX,
               RG_ACT_LEAKY_RELU, RG_ACT_ELU } rg_act;

/* leaky_relu's slope below 0 (PyTorch's default) and elu's alpha */
#define RG_LEAKY_SLOPE 0.01f
#define RG_ELU_ALPHA 1.0f

/* y = act(y) in place over n rows of d (softmax is per row). */
void rg_act_forward(rg_act a, float *y, size_t n, size_t d, float *pre);
/* dy *= act'(.) elementwise, given the activation output y and, where the
 * derivative needs it, the pre-activation pre (gelu).  Not for softmax. */
void rg_act_backward(rg_act a, float *dy, const float *y, const float *pre, size_t count);

/* A dense layer's activation and the dropout after it, fused (training):
 * over n rows of d, y = act(y) in place (as rg_act_forward, pre for gelu)
 * and out = y * mask, each row finished before the next, so a row is read
 * once while it is in cache.  Not for softmax. */
void rg_act_dropout_forward(rg_act a, float *y, float *pre, const float *mask, float *out, size_t n, size_t d);
/* Their backward and the bias gradient in one pass over n rows of d:
 * dy = (dy * mask) * act'(.) (mask NULL: no dropout), the very operations
 * of the dropout's and rg_act_backward's passes in their order, then
 * gb[j] += dy[i][j] row by row (gb NULL: no bias).  Not for softmax. */
void rg_act_dropout_backward(rg_act a, float *dy, const float *y, const float *pre, const float *mask, float *gb,
                             size_t n, size_t d);

/* p = softmax(z) row by row (p may alias z). */
void rg_softmax_rows(const float *z, float *p, size_t n, size_t k);
/* Softmax cross-entropy over n rows of k logits z.  Writes p = softmax(z).
 * If y != NULL (labels already range-checked) returns the sum of losses
 * against the target (1-ls)*onehot + ls/k, writes dz = scale*(p - target)
 * when dz != NULL and adds the count of argmax == label to *correct. */
double rg_softmax_xent(const float *z, const int32_t *y, size_t n, size_t k, float ls,
                       float scale, float *p, float *dz, size_t *correct);

/* Binary cross-entropy from n logits z against labels y in {0, 1} (range
 * checked), smoothed to t = y (1 - ls) + ls / 2 (Keras'): returns the sum
 * of max(z, 0) - z t + log1p(e^-|z|), which never overflows; writes
 * p = sigmoid(z), dz = scale (p - t) when dz != NULL, and adds the count
 * of (p > 0.5) == y to *correct.  y == NULL: p only. */
double rg_sigmoid_bce(const float *z, const int32_t *y, size_t n, float ls, float scale, float *p, float *dz,
                      size_t *correct);
/* Regression losses over n outputs z against float targets t: the sum of
 * (z - t)^2 (mse) or |z - t| (mae), with dz = scale * 2 (z - t) or
 * scale * sign(z - t) (0 at 0, as PyTorch) when dz != NULL; *abs_sum
 * (when not NULL) gets the sum of |z - t|, *sq_sum of (z - t)^2. */
double rg_mse(const float *z, const float *t, size_t n, float scale, float *dz, double *abs_sum);
double rg_mae(const float *z, const float *t, size_t n, float scale, float *dz, double *sq_sum);

/* 1 when no element of x[0..n) is NaN or infinite: a test of the exponent
 * bits, which vectorises. */
int rg_all_finite(const float *x, size_t n);
/* The largest |x[i]| of x[0..n) (0 when n == 0); +Inf when any element is
 * NaN or infinite.  One pass that vectorises, as rg_all_finite. */
float rg_max_abs(const float *x, size_t n);

/* --deterministic's pairwise tree over S buffers (bufs + j * stride, n
 * floats each), in a fixed shape that depends only on S: the sum (j, w),
 * buffer j = buffer j + buffer j + w, joins the halves of buffers
 * [j, min(j + 2w, S)); the last, (0, top), goes to out (S == 1: a copy).
 * Makes the sums whose buffers were not all done ([0, prev)) and now are
 * ([0, done)), level by level: two sums of one level touch disjoint
 * buffers, and a sum comes after those below it whatever the calls, so
 * making them as buffers fill gives the bits of making them all at the
 * end (prev 0, done S).  The buffers are overwritten with partial sums. */
void rg_tree_sum(float *bufs, size_t stride, size_t n, int S, int prev, int done, float *restrict out);

/* A --deterministic step's weight gradient, its S shards summed:
 * C (M, N) = the sum, in rg_tree_sum's tree, over the shards s of
 * A_s^T B_s, where A holds K rows of M (element (i, k) of A^T at
 * A[k * lda + i]), B K rows of N, and shard s the rows k in
 * [ks[s], ks[s + 1]); each shard's element is the chain rg_sgemm_fixed
 * makes (alpha 1, beta 0: +0 for an empty shard), so C has the bits of S
 * products summed by rg_tree_sum, without writing them.  maxabs[s] is
 * raised to rg_max_abs of shard s's product.  Returns 0 (and does
 * nothing) on the scalar path (rg_sgemm_fixed_width 1): the caller then
 * makes the products and sums them. */
#define RG_FIXED_MAX_SHARDS 64
int rg_sgemm_fixed_shards(int M, int N, const float *A, int lda, const float *B, int ldb, const size_t *ks, int S,
                          float *C, int ldc, float *maxabs);

/* dst (cols, rows) = src (rows, cols) transposed, both row-major with
 * rows of cols and rows floats: a copy of the bits, 8 x 8 blocks at a time. */
void rg_transpose(const float *src, size_t rows, size_t cols, float *dst);

/* gemm.c's rule for --gemm auto: LIBXSMM for the products of a layer of
 * at most this many weights (on AVX-512; see gemm.c and README "Matrix
 * products" for the measurements it comes from). */
#define RG_XSMM_MAX_WEIGHTS 524288
#define RG_XSMM_MAX_WEIGHTS_TEXT "524288"
/* ... and on AVX2 (gemm.c's essay): LIBXSMM for the products of a layer of
 * at most this many weights, its weight gradient only where the layer has
 * at most this many inputs */
#define RG_XSMM2_MAX_WEIGHTS 50176
#define RG_XSMM2_MAX_WEIGHTS_TEXT "50176"
#define RG_XSMM2_MAX_DW_IN 784
#define RG_XSMM2_MAX_DW_IN_TEXT "784"
/* the held forward (rg_sgemm_pick_held; AVX-512 alone): at least this many outputs, at
 * most this many weights, at least this many rows a pass */
#define RG_HELD_MIN_OUT 16
#define RG_HELD_MIN_OUT_TEXT "16"
#define RG_HELD_MAX_WEIGHTS 65536
#define RG_HELD_MAX_WEIGHTS_TEXT "65536"
#define RG_HELD_MIN_ROWS 32
#define RG_HELD_MIN_ROWS_TEXT "32"

/* gemm_fixed.c: "fixed-order avx512", "... avx2" or "... scalar". */
const char *rg_sgemm_fixed_name(void);
#endif
