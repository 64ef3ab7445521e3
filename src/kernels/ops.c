/*
 * ops.c — elementwise activations and the softmax cross-entropy.  Each loop is
 * a flat pass over a contiguous buffer so the compiler can vectorise it.
 * The fused kernels (activation + dropout + bias gradient; softmax +
 * cross-entropy + its gradient) do per element exactly the operations of
 * the separate passes, in the same order, in fewer passes: the bits are
 * those of the passes they replace.
 * Softmax cross-entropy works from logits (log-sum-exp with the row max
 * subtracted), so it stays finite for any finite logits.
 */
#include "kernels/kernels.h"
#include <math.h>
#include <string.h>

static inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

void rg_act_forward(rg_act a, float *y, size_t n, size_t d, float *pre)
{
    size_t count = n * d;
    switch (a) {
    case RG_ACT_LINEAR:
        break;
    case RG_ACT_RELU:
        /* !(y <= 0), not y > 0: a NaN stays NaN (an overflowed input must
         * not come out of the layer as a clean 0) */
        for (size_t i = 0; i < count; i++) y[i] = !(y[i] <= 0.0f) ? y[i] : 0.0f;
        break;
    case RG_ACT_LEAKY_RELU:
        /* the same test as relu's: a NaN goes through as NaN */
        for (size_t i = 0; i < count; i++) y[i] = !(y[i] <= 0.0f) ? y[i] : RG_LEAKY_SLOPE * y[i];
        break;
    case RG_ACT_ELU:
        /* expm1 keeps alpha*(e^x - 1) exact near 0; a NaN stays NaN */
        for (size_t i = 0; i < count; i++) y[i] = !(y[i] <= 0.0f) ? y[i] : RG_ELU_ALPHA * expm1f(y[i]);
        break;
    case RG_ACT_TANH:
        for (size_t i = 0; i < count; i++) y[i] = tanhf(y[i]);
        break;
    case RG_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    case RG_ACT_GELU:
        for (size_t i = 0; i < count; i++) { pre[i] = y[i]; y[i] = gelu(y[i]); }
        break;
    case RG_ACT_SOFTMAX:
        rg_softmax_rows(y, y, n, d);
        break;
    }
}

void rg_act_backward(rg_act a, float *dy, const float *y, const float *pre, size_t count)
{
    switch (a) {
    case RG_ACT_LINEAR:
    case RG_ACT_SOFTMAX: /* only ever the last layer, folded into the loss */
        break;
    case RG_ACT_RELU:
        for (size_t i = 0; i < count; i++) dy[i] = !(y[i] <= 0.0f) ? dy[i] : 0.0f;
        break;
    case RG_ACT_LEAKY_RELU:
        /* the output has the input's sign (slope > 0) */
        for (size_t i = 0; i < count; i++) dy[i] = !(y[i] <= 0.0f) ? dy[i] : RG_LEAKY_SLOPE * dy[i];
        break;
    case RG_ACT_ELU:
        /* below 0, d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha */
        for (size_t i = 0; i < count; i++) dy[i] = !(y[i] <= 0.0f) ? dy[i] : dy[i] * (y[i] + RG_ELU_ALPHA);
        break;
    case RG_ACT_TANH:
        for (size_t i = 0; i < count; i++) dy[i] *= 1.0f - y[i] * y[i];
        break;
    case RG_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++) dy[i] *= y[i] * (1.0f - y[i]);
        break;
    case RG_ACT_GELU:
        for (size_t i = 0; i < count; i++) {
            float x = pre[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
            dy[i] *= cdf + x * pdf;
        }
        break;
    }
}

void rg_act_dropout_forward(rg_act a, float *y, float *pre, const float *mask, float *out, size_t n, size_t d)
{
    if (a == RG_ACT_RELU || a == RG_ACT_LINEAR) {   /* one loop: the common layers */
        int relu = a == RG_ACT_RELU;
        for (size_t i = 0; i < n * d; i++) {
            float v = relu && y[i] <= 0.0f ? 0.0f : y[i];   /* !(y <= 0): a NaN stays NaN */
            y[i] = v;
            out[i] = v * mask[i];
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rg_act_forward(a, y + i * d, 1, d, pre ? pre + i * d : NULL);
        for (size_t j = 0; j < d; j++) out[i * d + j] = y[i * d + j] * mask[i * d + j];
    }
}

/* One row of rg_act_dropout_backward for relu or linear: one loop. */
static inline void relu_row_backward(int relu, float *restrict dy, const float *restrict y,
                                     const float *restrict mask, float *restrict gb, size_t d)
{
    for (size_t j = 0; j < d; j++) {
        float g = mask ? dy[j] * mask[j] : dy[j];
        g = relu && y[j] <= 0.0f ? 0.0f : g;
        dy[j] = g;
        if (gb) gb[j] += g;
    }
}

void rg_act_dropout_backward(rg_act a, float *dy, const float *y, const float *pre, const float *mask, float *gb,
                             size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        float *di = dy + i * d;
        const float *mi = mask ? mask + i * d : NULL;
        if (a == RG_ACT_RELU || a == RG_ACT_LINEAR) {
            relu_row_backward(a == RG_ACT_RELU, di, y + i * d, mi, gb, d);
            continue;
        }
        if (mi) for (size_t j = 0; j < d; j++) di[j] *= mi[j];
        rg_act_backward(a, di, y + i * d, pre ? pre + i * d : NULL, d);
        if (gb) for (size_t j = 0; j < d; j++) gb[j] += di[j];
    }
}

void rg_softmax_rows(const float *z, float *p, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        const float *zi = z + i * k;
        float *pi = p + i * k;
        float m = zi[0];
        for (size_t j = 1; j < k; j++) m = zi[j] > m ? zi[j] : m;
        float s = 0.0f;
        for (size_t j = 0; j < k; j++) { pi[j] = expf(zi[j] - m); s += pi[j]; }
        float inv = 1.0f / s;
        for (size_t j = 0; j < k; j++) pi[j] *= inv;
    }
}

double rg_softmax_xent(const float *z, const int32_t *y, size_t n, size_t k, float ls,
                       float scale, float *p, float *dz, size_t *correct)
{
    double total = 0.0;
    size_t right = 0;
    float off = ls / (float)k, on = 1.0f - ls + off;
    for (size_t i = 0; i < n; i++) {
        const float *zi = z + i * k;
        float *pi = p + i * k;
        size_t arg = 0;
        float m = zi[0];
        for (size_t j = 1; j < k; j++) if (zi[j] > m) { m = zi[j]; arg = j; }
        /* one pass for the exponentials, their sum and the rest: lse =
         * log(1 + the other terms), log1p keeping a sum far below float's
         * epsilon that log(s) would round to 0 */
        float s = 0.0f;
        double rest = 0.0;
        for (size_t j = 0; j < k; j++) {
            pi[j] = expf(zi[j] - m);
            s += pi[j];
            rest += j == arg ? 0.0 : (double)pi[j];
        }
        float inv = 1.0f / s;
        double lse = log1p(rest);
        if (!y || !dz) for (size_t j = 0; j < k; j++) pi[j] *= inv;
        if (!y) continue;
        size_t c = (size_t)y[i];
        right += arg == c;
        /* loss = -sum_j t_j (z_j - m - lse) = lse + sum_j t_j (m - z_j), with
         * sum_j t_j = 1.  m - z_j is formed in double (exact for floats of
         * similar size), so a small loss is not lost against logits of 1e5
         * and more, as (m + lse) - z_c in float would lose it. */
        double li = lse;
        if (ls == 0.0f) {
            li += (double)m - (double)zi[c];
        } else {
            double gap = 0.0;
            for (size_t j = 0; j < k; j++) gap += (double)m - (double)zi[j];
            li += (double)off * gap + (double)(on - off) * ((double)m - (double)zi[c]);
        }
        total += li;
        if (dz) {   /* the probabilities and their gradient in one pass */
            float *di = dz + i * k;
            for (size_t j = 0; j < k; j++) {
                pi[j] *= inv;
                di[j] = scale * (pi[j] - off);
            }
            di[c] -= scale * (on - off);
        }
    }
    if (correct) *correct += right;
    return total;
}

double rg_sigmoid_bce(const float *z, const int32_t *y, size_t n, float ls, float scale, float *p, float *dz,
                      size_t *correct)
{
    double total = 0.0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        float zi = z[i];
        /* e^-|z| <= 1: neither branch overflows; a NaN stays NaN */
        float e = expf(-fabsf(zi));
        p[i] = zi >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        if (!y) continue;
        float t = (float)y[i] * (1.0f - ls) + 0.5f * ls;
        right += (p[i] > 0.5f) == (y[i] == 1);   /* the class predict gives */
        total += (double)(zi > 0.0f ? zi : 0.0f) - (double)zi * t + log1p((double)e);
        if (dz) dz[i] = scale * (p[i] - t);
    }
    if (correct) *correct += right;
    return total;
}

double rg_mse(const float *z, const float *t, size_t n, float scale, float *dz, double *abs_sum)
{
    double total = 0.0, a = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)z[i] - (double)t[i];
        total += r * r;
        a += fabs(r);
        if (dz) dz[i] = scale * 2.0f * (float)r;
    }
    if (abs_sum) *abs_sum += a;
    return total;
}

double rg_mae(const float *z, const float *t, size_t n, float scale, float *dz, double *sq_sum)
{
    double total = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)z[i] - (double)t[i];
        total += fabs(r);
        q += r * r;
        /* sign(r), NaN for a NaN: the non-finite check must see it */
        if (dz) dz[i] = r > 0.0 ? scale : r < 0.0 ? -scale : r == 0.0 ? 0.0f : (float)r;
    }
    if (sq_sum) *sq_sum += q;
    return total;
}

float rg_max_abs(const float *x, size_t n)
{
    /* |x| as bits orders like |x| as a number, and every NaN sorts above
     * Inf: an integer max, which vectorises */
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, sizeof b);
        b &= 0x7fffffffu;
        top = b > top ? b : top;
    }
    if (top >= 0x7f800000u) return INFINITY;
    float v;
    memcpy(&v, &top, sizeof v);
    return v;
}

int rg_all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

/* ------------------------------------------------------------ transpose */

typedef float v8f __attribute__((vector_size(32)));

/* One 8 x 8 block in three rounds of shuffles (the compiler picks the
 * instructions the build's -march has); every element is moved, never
 * computed. */
static void transpose8(const float *src, size_t ls, float *dst, size_t ld)
{
    v8f r[8], t[8];
    for (int i = 0; i < 8; i++) memcpy(&r[i], src + (size_t)i * ls, sizeof r[i]);
    /* __builtin_shufflevector: GCC 12 and clang both have it */
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
    for (int i = 0; i < 8; i += 2) {
        t[i] = SHUF(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = SHUF(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            r[i + h] = SHUF(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            r[i + h + 2] = SHUF(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int h = 0; h < 4; h++) {
        t[h] = SHUF(r[h], r[h + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        t[h + 4] = SHUF(r[h], r[h + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
#undef SHUF
    /* t[0..7] hold columns 0, 2, 1, 3, 4, 6, 5, 7 */
    static const int col[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int i = 0; i < 8; i++) memcpy(dst + (size_t)col[i] * ld, &t[i], sizeof t[i]);
}

void rg_transpose(const float *src, size_t rows, size_t cols, float *dst)
{
    size_t r8 = rows / 8 * 8, c8 = cols / 8 * 8, c16 = cols / 16 * 16;
    /* 16 columns of src (a cache line) at a time, written down 16 rows of
     * dst in order: both sides move through whole lines */
    for (size_t j = 0; j < c16; j += 16)
        for (size_t i = 0; i < r8; i += 8) {
            transpose8(src + i * cols + j, cols, dst + j * rows + i, rows);
            transpose8(src + i * cols + j + 8, cols, dst + (j + 8) * rows + i, rows);
        }
    if (c16 < c8)
        for (size_t i = 0; i < r8; i += 8) transpose8(src + i * cols + c16, cols, dst + c16 * rows + i, rows);
    for (size_t i = 0; i < rows; i++)   /* the edges */
        for (size_t j = i < r8 ? c8 : 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
}

void rg_tree_sum(float *bufs, size_t stride, size_t n, int S, int prev, int done, float *restrict out)
{
    if (S == 1 && done == 1) memcpy(out, bufs, n * sizeof(float));
    for (int w = 1; w < S; w *= 2)
        for (int j = 0; j + w < S; j += 2 * w) {
            int ready = j + 2 * w < S ? j + 2 * w : S;
            if (ready <= prev || ready > done) continue;
            float *a = j == 0 && 2 * w >= S ? out : bufs + (size_t)j * stride;
            const float *x = bufs + (size_t)j * stride, *b = bufs + (size_t)(j + w) * stride;
            for (size_t i = 0; i < n; i++) a[i] = x[i] + b[i];
        }
}
