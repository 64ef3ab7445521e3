/*
 * codec_sparse.c — sparsifying codecs: top-k and random-k.
 *
 * topk:R  each worker sends its k = R*n largest magnitudes: the k values,
 *         then their k indices in as few bytes as n needs (2 up to 65,536
 *         values, 3 up to 2^24, else 4; little-endian, packed, the
 *         message padded to whole floats); everyone all-gathers the W
 *         messages and adds them up in rank order.  Ties at the k-th
 *         magnitude go to the lower index, so the choice is a pure
 *         function of the gradient.
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

/* Bytes an index of [0, n) takes in a message. */
static size_t index_bytes(size_t n)
{
    return n <= ((size_t)1 << 16) ? 2 : n <= ((size_t)1 << 24) ? 3 : 4;
}

size_t rg_codec_pairs_len(size_t n, size_t k)
{
    return k + (k * index_bytes(n) + sizeof(float) - 1) / sizeof(float);
}

/* The j-th index of a message of k values over n */
static uint32_t index_at(const float *m, size_t n, size_t k, size_t j)
{
    size_t w = index_bytes(n);
    const unsigned char *b = (const unsigned char *)(m + k) + j * w;
    uint32_t ix = 0;
    for (size_t i = 0; i < w; i++) ix |= (uint32_t)b[i] << (8 * i);
    return ix;
}

static void set_index(float *m, size_t n, size_t k, size_t j, uint32_t ix)
{
    size_t w = index_bytes(n);
    unsigned char *b = (unsigned char *)(m + k) + j * w;
    for (size_t i = 0; i < w; i++) b[i] = (unsigned char)(ix >> (8 * i));
}

static rg_status topk_init(rg_codec *c)
{
    c->k = k_of(c);
    c->msg_n = rg_codec_pairs_len(c->n, c->k);
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

/* p[index] += value for each of a message's k (index, value) pairs */
static void scatter_add(const float *m, size_t n, size_t k, float *p)
{
    for (size_t j = 0; j < k; j++) p[index_at(m, n, k, j)] += m[j];
}

void rg_codec_pick(const float *v, size_t n, size_t k, float *scratch, float *msg)
{
    for (size_t i = 0; i < n; i++) scratch[i] = fabsf(v[i]);
    float t = kth_largest(scratch, n, k);
    size_t taken = 0;
    /* above the threshold first, then ties in index order (scratch marks
     * the taken ones: a magnitude is never negative) */
    for (size_t i = 0; i < n; i++) scratch[i] = 0.0f;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n && taken < k; i++) {
            float a = fabsf(v[i]);
            if (pass == 0 ? !(a > t) : !(a == t) || scratch[i] != 0.0f) continue;
            set_index(msg, n, k, taken, (uint32_t)i);
            msg[taken] = v[i];
            scratch[i] = -1.0f;
            taken++;
        }
    for (; taken < k; taken++) {   /* fewer values than k: zeros at index 0 */
        set_index(msg, n, k, taken, 0);
        msg[taken] = 0.0f;
    }
    /* the padding after the last index, so that a message is a function of v */
    unsigned char *end = (unsigned char *)(msg + k) + k * index_bytes(n);
    memset(end, 0, (size_t)((unsigned char *)(msg + rg_codec_pairs_len(n, k)) - end));
}

void rg_codec_scatter_sum(const rg_codec *c, size_t k, float *p)
{
    memset(p, 0, c->n * sizeof(float));
    for (int w = 0; w < c->world; w++) scatter_add(c->all + (size_t)w * c->msg_n, c->n, k, p);
}

static void topk_encode(rg_codec *c, const float *p, uint64_t step)
{
    (void)step;
    rg_codec_pick(p, c->n, c->k, c->scratch, c->msg);
    memset(c->mine, 0, c->n * sizeof(float));
    scatter_add(c->msg, c->n, c->k, c->mine);
}

static void topk_decode(rg_codec *c, const float *m, float *p, uint64_t step)
{
    (void)step;
    scatter_add(m, c->n, c->k, p);
}

const codec_kind rg_codec_topk = { "topk", topk_init, rg_codec_gather_reduce, NULL, NULL, topk_encode, topk_decode };

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
        rg_rng4(c->seed, RG_RNG_CODEC, step, ((uint64_t)c->part << 40) | j, r);   /* a split codec's parts draw apart */
        size_t t = (size_t)((((uint64_t)r[0] << 32) | r[1]) % (uint64_t)(j + 1));
        if (c->scratch[t] != 0.0f) t = j;
        c->scratch[t] = 1.0f;
        c->idx[got++] = (uint32_t)t;
    }
}

static void randk_encode(rg_codec *c, const float *p, uint64_t step)
{
    draw(c, step);
    memset(c->mine, 0, c->n * sizeof(float));
    for (size_t j = 0; j < c->k; j++) {
        c->msg[j] = p[c->idx[j]];
        c->mine[c->idx[j]] = p[c->idx[j]];
    }
}

static void randk_decode(rg_codec *c, const float *m, float *p, uint64_t step)
{
    draw(c, step);
    for (size_t j = 0; j < c->k; j++) p[c->idx[j]] += m[j];
}

/* the values at the indices every worker drew alike, summed by all-reduce */
static rg_status randk_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    randk_encode(c, p, step);
    *bytes += rg_codec_ring(c, c->k);
    rg_status st = c->world > 1 ? rg_comm_allreduce(c->comm, c->msg, c->k, RG_REDUCE_SUM) : RG_OK;
    memset(p, 0, c->n * sizeof(float));
    for (size_t j = 0; j < c->k; j++) p[c->idx[j]] = c->msg[j];
    return st;
}

const codec_kind rg_codec_randk = { "randk", randk_init, randk_reduce, NULL, NULL, randk_encode, randk_decode };

/* ------------------------------------------------------------ DGC */

/* Deep Gradient Compression (Lin et al. 2018), dgc:R.  Each worker keeps a
 * momentum u and an accumulation v: u = m u + g; v += u; it sends the
 * top-k of v and clears v and u where it sent (momentum factor masking:
 * a sent value's momentum must not push it again).  The optimizer then
 * runs plain SGD on the sum: the momentum is here (the trainer moves
 * --momentum into the codec).  Warm-up: over the first E epochs the
 * messages are denser, 25%, 6.25%, 1.56%, ... of the values, until R. */
static size_t dgc_k(const rg_codec *c, uint64_t step)
{
    double density = c->spec.ratio;
    uint64_t epoch = c->spec.steps_per_epoch ? step / c->spec.steps_per_epoch : 0;
    if ((long)epoch < c->spec.warmup_epochs) {
        double d = pow(0.25, (double)epoch + 1.0);
        if (d > density) density = d;
    }
    double k = floor(density * (double)c->n + 0.5);
    if (k < 1.0) k = 1.0;
    return (size_t)k < c->n ? (size_t)k : c->n;
}

static rg_status dgc_init(rg_codec *c)
{
    size_t kmax = dgc_k(c, 0) > k_of(c) ? dgc_k(c, 0) : k_of(c);
    size_t len = rg_codec_pairs_len(c->n, kmax);
    c->msg = rg_calloc(len, sizeof(float));
    c->all = rg_calloc(len * (size_t)c->world, sizeof(float));
    c->scratch = rg_calloc(c->n ? c->n : 1, sizeof(float));
    c->q = rg_calloc(2 * (c->n ? c->n : 1), sizeof(float));   /* u, then v */
    if (!c->msg || !c->all || !c->scratch || !c->q) return rg_error(RG_ENOMEM, "out of memory: --compress dgc");
    c->q_n = 2 * c->n;
    return RG_OK;
}

static rg_status dgc_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    float *u = c->q, *v = c->q + c->n, m = c->spec.momentum;
    for (size_t i = 0; i < c->n; i++) {
        u[i] = m * u[i] + p[i];
        v[i] += u[i];
    }
    c->k = dgc_k(c, step);
    c->msg_n = rg_codec_pairs_len(c->n, c->k);
    rg_codec_pick(v, c->n, c->k, c->scratch, c->msg);
    for (size_t j = 0; j < c->k; j++) {
        uint32_t ix = index_at(c->msg, c->n, c->k, j);
        u[ix] = v[ix] = 0.0f;
    }
    rg_status st = rg_codec_gather(c, bytes);
    if (st == RG_OK) rg_codec_scatter_sum(c, c->k, p);
    return st;
}

static size_t dgc_state_size(const rg_codec *c) { return c->q_n; }
static float *dgc_state(rg_codec *c) { return c->q; }

const codec_kind rg_codec_dgc = { "dgc", dgc_init, dgc_reduce, dgc_state_size, dgc_state, NULL, NULL };
