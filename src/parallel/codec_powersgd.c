/*
 * codec_powersgd.c — PowerSGD (Vogels, Karimireddy and Jaggi 2019),
 * powersgd:K: each weight matrix M (rows x cols) of the gradient is sent
 * as a rank-K product, found by one step of power iteration warm-started
 * from the previous step's Q:
 *
 *   P = M Q  (all-reduced: the sum over workers);  P = orthonormal(P)
 *   Q = M^T P  (all-reduced);  the sum of the Ms ~ P Q^T
 *
 * Two all-reduces a step, of sum(rows x K) and sum(cols x K) floats; the
 * biases and anything outside the matrices go whole in the second.  With
 * error feedback (the default) each worker keeps M - P Q^T / W, its part
 * of what the approximation left out.  Q starts keyed (seed, block), the
 * same on every worker, and is part of what a checkpoint keeps.
 */
#include "parallel/codec_impl.h"
#include <math.h>
#include <string.h>

/* floats outside every block (sent whole) */
static int in_block(const rg_codec *c, size_t i)
{
    for (int b = 0; b < c->nblocks; b++)
        if (i >= c->blocks[b].offset && i < c->blocks[b].offset + c->blocks[b].rows * c->blocks[b].cols) return 1;
    return 0;
}

static rg_status psgd_init(rg_codec *c)
{
    size_t K = (size_t)c->spec.rank;
    for (int b = 0; b < c->nblocks; b++) {
        c->p_n += c->blocks[b].rows * K;
        c->q_n += c->blocks[b].cols * K;
    }
    for (size_t i = 0; i < c->n; i++) c->whole_n += !in_block(c, i);
    c->q = rg_calloc(c->q_n ? c->q_n : 1, sizeof(float));
    c->pbuf = rg_calloc(c->p_n ? c->p_n : 1, sizeof(float));
    c->qbuf = rg_calloc(c->q_n + c->whole_n + 1, sizeof(float));
    if (!c->q || !c->pbuf || !c->qbuf) return rg_error(RG_ENOMEM, "out of memory: --compress powersgd");
    rg_codec_reset(c);   /* Q as it starts */
    return RG_OK;
}

/* Gram-Schmidt on the K columns of P (rows x K, row-major), in double. */
static void orthonormalise(float *P, size_t rows, size_t K)
{
    for (size_t j = 0; j < K; j++) {
        for (size_t i = 0; i < j; i++) {
            double d = 0.0;
            for (size_t r = 0; r < rows; r++) d += (double)P[r * K + j] * P[r * K + i];
            for (size_t r = 0; r < rows; r++) P[r * K + j] -= (float)(d * P[r * K + i]);
        }
        double n2 = 0.0;
        for (size_t r = 0; r < rows; r++) n2 += (double)P[r * K + j] * P[r * K + j];
        float inv = n2 > 1e-30 ? (float)(1.0 / sqrt(n2)) : 0.0f;
        for (size_t r = 0; r < rows; r++) P[r * K + j] *= inv;
    }
}

static rg_status psgd_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    (void)step;
    int K = c->spec.rank;
    float *P = c->pbuf, *Q = c->q;
    for (int b = 0; b < c->nblocks; b++) {   /* P = M Q */
        const rg_codec_block *bl = &c->blocks[b];
        rg_sgemm(0, 0, (int)bl->rows, K, (int)bl->cols, 1.0f, p + bl->offset, (int)bl->cols, Q, K, 0.0f, P, K);
        P += bl->rows * (size_t)K;
        Q += bl->cols * (size_t)K;
    }
    *bytes += rg_codec_ring(c, c->p_n);
    rg_status st = c->world > 1 ? rg_comm_allreduce(c->comm, c->pbuf, c->p_n, RG_REDUCE_SUM) : RG_OK;
    if (st != RG_OK) return st;
    float *Qm = c->qbuf, *whole = c->qbuf + c->q_n;
    P = c->pbuf;
    for (int b = 0; b < c->nblocks; b++) {   /* Q = M^T orthonormal(P) */
        const rg_codec_block *bl = &c->blocks[b];
        orthonormalise(P, bl->rows, (size_t)K);
        rg_sgemm(1, 0, (int)bl->cols, K, (int)bl->rows, 1.0f, p + bl->offset, (int)bl->cols, P, K, 0.0f, Qm, K);
        P += bl->rows * (size_t)K;
        Qm += bl->cols * (size_t)K;
    }
    for (size_t i = 0, w = 0; i < c->n; i++)
        if (!in_block(c, i)) whole[w++] = p[i];
    *bytes += rg_codec_ring(c, c->q_n + c->whole_n);
    if (c->world > 1 && (st = rg_comm_allreduce(c->comm, c->qbuf, c->q_n + c->whole_n, RG_REDUCE_SUM)) != RG_OK)
        return st;
    memcpy(c->q, c->qbuf, c->q_n * sizeof(float));   /* the next step starts from it */
    for (size_t i = 0, w = 0; i < c->n; i++)
        if (!in_block(c, i)) c->mine[i] = p[i], p[i] = whole[w++];
    P = c->pbuf;
    Q = c->q;
    for (int b = 0; b < c->nblocks; b++) {   /* the sum ~ P Q^T; this worker's share of it */
        const rg_codec_block *bl = &c->blocks[b];
        rg_sgemm(0, 1, (int)bl->rows, (int)bl->cols, K, 1.0f, P, K, Q, K, 0.0f, p + bl->offset, (int)bl->cols);
        for (size_t i = 0; i < bl->rows * bl->cols; i++) c->mine[bl->offset + i] = p[bl->offset + i] / (float)c->world;
        P += bl->rows * (size_t)K;
        Q += bl->cols * (size_t)K;
    }
    return RG_OK;
}

static size_t psgd_state_size(const rg_codec *c) { return c->q_n; }
static float *psgd_state(rg_codec *c) { return c->q; }

const codec_kind rg_codec_powersgd = { "powersgd", psgd_init, psgd_reduce, psgd_state_size, psgd_state, NULL, NULL };
