/*
 * codec_sparse.c — sparsifying codecs: top-k and random-k.
 *
 * topk:R  each worker sends its k = R*n largest magnitudes as (index,
 *         value) pairs (the index's bits in a float slot); everyone
 *         all-gathers the W messages and adds them up in rank order.
 *         Ties at the k-th magnitude go to the lower index, so the choice
 *         is a pure function of the gradient.
 * randk:R every worker draws the same k indices, keyed by (seed, step), so
 *         only the values travel, by all-reduce; no index is sent.
 *
 * Sent values are exact (what is not sent is the residual, with error
 * feedback).
 */
#include "parallel/codec_impl.h"
#include <math.h>
#include <string.h>

static size_t k_of(const rg_codec *c)
{
    double k = floor(c->spec.ratio * (double)c->n + 0.5);
    if (k < 1.0) k = 1.0;
    return (size_t)k < c->n ? (size_t)k : c->n;
}

/* ------------------------------------------------------------ top-k */

static rg_status topk_init(rg_codec *c)
{
    c->k = k_of(c);
    c->msg_n = 2 * c->k;
    c->msg = rg_calloc(c->msg_n, sizeof(float));
    c->all = rg_calloc(c->msg_n * (size_t)c->world, sizeof(float));
    c->scratch = rg_calloc(c->n ? c->n : 1, sizeof(float));
    if (!c->msg || !c->all || !c->scratch) return rg_error(RG_ENOMEM, "out of memory: --compress topk");
    return RG_OK;
}

/* The k-th largest (k from 1) of a[0..n), which is reordered: a
 * quickselect with a three-way partition (duplicates end it at once) and
 * the median of three as pivot. */
static float kth_largest(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n, want = k - 1;   /* [lo, hi), positions in descending order */
    while (hi - lo > 1) {
        float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
        float pivot = x > y ? (y > z ? y : (x > z ? z : x)) : (x > z ? x : (y > z ? z : y));
        size_t lt = lo, i = lo, gt = hi;   /* [lo, lt) > pivot, [lt, gt) == pivot, [gt, hi) < pivot */
        while (i < gt) {
            float v = a[i];
            if (v > pivot) { a[i++] = a[lt]; a[lt++] = v; }
            else if (v < pivot) { a[i] = a[--gt]; a[gt] = v; }
            else i++;
        }
        if (want < lt) hi = lt;
        else if (want >= gt) lo = gt;
        else return pivot;
    }
    return a[lo];
}

static rg_status topk_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    (void)step;
    for (size_t i = 0; i < c->n; i++) c->scratch[i] = fabsf(p[i]);
    float t = kth_largest(c->scratch, c->n, c->k);
    size_t taken = 0;
    memset(c->mine, 0, c->n * sizeof(float));
    /* above the threshold first, then ties in index order */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->n && taken < c->k; i++) {
            float a = fabsf(p[i]);
            if (pass == 0 ? !(a > t) : !(a == t) || c->mine[i] != 0.0f) continue;
            uint32_t ix = (uint32_t)i;
            memcpy(&c->msg[2 * taken], &ix, 4);
            c->msg[2 * taken + 1] = p[i];
            c->mine[i] = p[i];
            taken++;
        }
    for (; taken < c->k; taken++) {   /* fewer distinct values than k: pad with zeros at index 0 */
        uint32_t zero = 0;
        memcpy(&c->msg[2 * taken], &zero, 4);
        c->msg[2 * taken + 1] = 0.0f;
    }
    rg_status st = rg_codec_gather(c, bytes);
    if (st != RG_OK) return st;
    memset(p, 0, c->n * sizeof(float));
    for (int w = 0; w < c->world; w++) {
        const float *m = c->all + (size_t)w * c->msg_n;
        for (size_t j = 0; j < c->k; j++) {
            uint32_t ix;
            memcpy(&ix, &m[2 * j], 4);
            p[ix] += m[2 * j + 1];
        }
    }
    return RG_OK;
}

const codec_kind rg_codec_topk = { "topk", topk_init, topk_reduce, NULL, NULL };

/* ------------------------------------------------------------ random-k */

static rg_status randk_init(rg_codec *c)
{
    c->k = k_of(c);
    c->msg_n = c->k;
    c->msg = rg_calloc(c->k, sizeof(float));
    c->idx = rg_calloc(c->k, sizeof(uint32_t));
    c->scratch = rg_calloc(c->n ? c->n : 1, sizeof(float));   /* marks of the drawn indices */
    c->all = rg_calloc(1, sizeof(float));
    if (!c->msg || !c->idx || !c->scratch || !c->all) return rg_error(RG_ENOMEM, "out of memory: --compress randk");
    return RG_OK;
}

/* k distinct indices of [0, n), the same on every worker (Floyd's). */
static void draw(rg_codec *c, uint64_t step)
{
    size_t n = c->n, k = c->k, got = 0;
    memset(c->scratch, 0, n * sizeof(float));
    for (size_t j = n - k; j < n; j++) {
        uint32_t r[4];
        rg_rng4(c->seed, RG_RNG_CODEC, step, j, r);
        size_t t = (size_t)((((uint64_t)r[0] << 32) | r[1]) % (uint64_t)(j + 1));
        if (c->scratch[t] != 0.0f) t = j;
        c->scratch[t] = 1.0f;
        c->idx[got++] = (uint32_t)t;
    }
}

static rg_status randk_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    draw(c, step);
    memset(c->mine, 0, c->n * sizeof(float));
    for (size_t j = 0; j < c->k; j++) {
        c->msg[j] = p[c->idx[j]];
        c->mine[c->idx[j]] = p[c->idx[j]];
    }
    *bytes += rg_codec_ring(c, c->k);
    rg_status st = c->world > 1 ? rg_comm_allreduce(c->comm, c->msg, c->k, RG_REDUCE_SUM) : RG_OK;
    memset(p, 0, c->n * sizeof(float));
    for (size_t j = 0; j < c->k; j++) p[c->idx[j]] = c->msg[j];
    return st;
}

const codec_kind rg_codec_randk = { "randk", randk_init, randk_reduce, NULL, NULL };
