/*
 * codec_quant.c — QSGD (Alistarh et al. 2017), qsgd:L: each value becomes
 * one of 2L + 1 levels of the vector's norm, rounded up or down at random
 * so that the mean is the value itself (unbiased):
 *
 *   q_i = sign(p_i) ||p|| xi_i / L,  xi_i = floor(l) + [u < l - floor(l)],
 *   l = L |p_i| / ||p||,  u uniform, keyed (seed, step, worker, i)
 *
 * A message is the norm and one signed byte a value (L <= 127), gathered
 * by every worker and summed in rank order.  Never with error feedback:
 * it is unbiased already, and not contractive (its error can be many
 * times the value), so a residual would grow without bound (codec.c).
 */
#include "parallel/codec_impl.h"
#include <math.h>
#include <string.h>

static rg_status qsgd_init(rg_codec *c)
{
    c->msg_n = 1 + (c->n + 3) / 4;
    c->msg = rg_calloc(c->msg_n, sizeof(float));
    c->all = rg_calloc(c->msg_n * (size_t)c->world, sizeof(float));
    if (!c->msg || !c->all) return rg_error(RG_ENOMEM, "out of memory: --compress qsgd");
    return RG_OK;
}

static void qsgd_encode(rg_codec *c, const float *p, uint64_t step)
{
    int L = c->spec.levels;
    double n2 = 0.0;
    for (size_t i = 0; i < c->n; i++) n2 += (double)p[i] * p[i];
    float norm = (float)sqrt(n2);
    int8_t *q = (int8_t *)(c->msg + 1);
    c->msg[0] = norm;
    memset(q, 0, (c->msg_n - 1) * sizeof(float));
    uint64_t key = ((uint64_t)c->rank << 40) | ((uint64_t)c->part << 32);
    for (size_t i = 0; i < c->n; i += 4) {
        uint32_t r[4];
        rg_rng4(c->seed, RG_RNG_CODEC, step, key | (i / 4), r);
        for (size_t j = i; j < i + 4 && j < c->n; j++) {
            double l = norm > 0.0f ? (double)L * fabs((double)p[j]) / (double)norm : 0.0;
            if (!(l >= 0.0 && l <= (double)L)) l = l > (double)L ? (double)L : 0.0;   /* Inf norm, rounding */
            double lo = floor(l), u = (double)(r[j - i] >> 8) * (1.0 / 16777216.0);
            int xi = (int)lo + (u < l - lo);
            if (xi > L) xi = L;
            q[j] = (int8_t)(p[j] < 0.0f ? -xi : xi);
            c->mine[j] = (float)q[j] * norm / (float)L;
        }
    }
}

static void qsgd_decode(rg_codec *c, const float *m, float *p, uint64_t step)
{
    (void)step;
    int L = c->spec.levels;
    const int8_t *q = (const int8_t *)(m + 1);
    for (size_t i = 0; i < c->n; i++) p[i] += (float)q[i] * m[0] / (float)L;
}

const codec_kind rg_codec_qsgd = { "qsgd", qsgd_init, rg_codec_gather_reduce, NULL, NULL, qsgd_encode, qsgd_decode };
