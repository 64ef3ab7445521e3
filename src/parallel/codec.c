/*
 * codec.c — gradient codecs: the spec, the table of kinds, error
 * feedback, and the dense ones (fp16, bf16, sign).
 *
 * Error feedback (Seide et al. 2014; Karimireddy et al. 2019): a worker
 * adds its residual to its gradient, sends the compressed sum, and keeps
 * what the message left out as its next residual: p = g + e; e = p -
 * decode(encode(p)).  So nothing a worker computed is lost, only delayed.
 * It needs a contractive codec, ||p - C(p)||^2 <= (1 - delta)||p||^2, or
 * the residual outgrows what it is added to: top-k, random-k (unscaled:
 * delta = k/n), sign and PowerSGD are; QSGD is not (its variance is up to
 * min(n/L^2, sqrt(n)/L) ||p||^2: about 28x at L = 8 on 50,890 weights,
 * where the residual was 3.7x the gradient after one step, 10^5x its
 * first size after 90, and the run learnt nothing), so --error-feedback
 * on with qsgd is refused.
 *
 * Invariant: every worker builds a message of the same length (msg_n
 * floats: values, and indices or bits stored in float slots), so one
 * all-gather moves them; decoding sums the workers in rank order.
 */
#include "parallel/codec_impl.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const codec_kind *kind_of(rg_codec_kind k)
{
    switch (k) {
    case RG_CODEC_FP16: return &rg_codec_fp16;
    case RG_CODEC_BF16: return &rg_codec_bf16;
    case RG_CODEC_SIGN: return &rg_codec_sign;
    case RG_CODEC_TOPK: return &rg_codec_topk;
    case RG_CODEC_RANDK: return &rg_codec_randk;
    case RG_CODEC_QSGD: return &rg_codec_qsgd;
    case RG_CODEC_POWERSGD: return &rg_codec_powersgd;
    case RG_CODEC_DGC: return &rg_codec_dgc;
    case RG_CODEC_NONE: break;
    }
    return NULL;
}

rg_status rg_codec_parse(const char *text, const char *ef, rg_codec_spec *out)
{
    int which;
    return rg_codec_parse_at(text, ef, out, &which);
}

rg_status rg_codec_parse_at(const char *text, const char *ef, rg_codec_spec *out, int *which)
{
    memset(out, 0, sizeof *out);
    *which = 0;
    const char *colon = strchr(text, ':'), *arg = colon ? colon + 1 : NULL;
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    static const struct { const char *name; rg_codec_kind kind; int arg, ef; } names[] = {
        {"none", RG_CODEC_NONE, 0, 0}, {"fp16", RG_CODEC_FP16, 0, 0}, {"bf16", RG_CODEC_BF16, 0, 0},
        {"sign", RG_CODEC_SIGN, 0, 1}, {"topk", RG_CODEC_TOPK, 1, 1}, {"randk", RG_CODEC_RANDK, 1, 1},
        {"qsgd", RG_CODEC_QSGD, 1, 0}, {"powersgd", RG_CODEC_POWERSGD, 1, 1}, {"dgc", RG_CODEC_DGC, 1, 0},
    };
    int found = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (strlen(names[i].name) == klen && !strncmp(text, names[i].name, klen)) found = i;
    if (found < 0 || (names[found].arg != (arg != NULL)))
        return rg_error(RG_EUSAGE, "--compress: '%s' is not one of none, fp16, bf16, sign, topk:RATIO, randk:RATIO, "
                        "qsgd:LEVELS, powersgd:RANK, dgc:RATIO", text);
    out->kind = names[found].kind;
    char *end = NULL;
    if (out->kind == RG_CODEC_TOPK || out->kind == RG_CODEC_RANDK || out->kind == RG_CODEC_DGC) {
        out->ratio = strtod(arg, &end);
        if (*end || !(out->ratio > 0.0 && out->ratio <= 1.0))
            return rg_error(RG_EUSAGE, "--compress %s: RATIO must be in (0, 1]", text);
    } else if (arg) {
        long v = strtol(arg, &end, 10), hi = out->kind == RG_CODEC_QSGD ? 127 : 64;
        if (*end || v < 1 || v > hi)
            return rg_error(RG_EUSAGE, "--compress %s: %s must be an integer in [1, %ld]", text,
                            out->kind == RG_CODEC_QSGD ? "LEVELS" : "RANK", hi);
        if (out->kind == RG_CODEC_QSGD) out->levels = (int)v;
        else out->rank = (int)v;
    }
    *which = 1;
    if (!strcmp(ef, "on")) out->error_feedback = 1;
    else if (!strcmp(ef, "auto")) out->error_feedback = names[found].ef;
    else if (strcmp(ef, "off")) return rg_error(RG_EUSAGE, "--error-feedback: '%s' is not auto, on or off", ef);
    if (out->kind == RG_CODEC_NONE && out->error_feedback)
        return rg_error(RG_EUSAGE, "--error-feedback on needs a --compress codec: nothing is left out without one");
    if (out->kind == RG_CODEC_DGC && out->error_feedback)
        return rg_error(RG_EUSAGE, "--error-feedback on with --compress dgc: its accumulation is its error feedback");
    if (out->kind == RG_CODEC_QSGD && out->error_feedback)
        return rg_error(RG_EUSAGE, "--error-feedback on with --compress %s: QSGD is unbiased but not contractive (its "
                        "error can be many times the gradient: up to min(n/L^2, sqrt(n)/L) times its squared norm), "
                        "so the residual grows without bound and the run learns nothing; leave --error-feedback off "
                        "(qsgd's default: unbiased, it needs none)", text);
    *which = 0;
    return RG_OK;
}

double rg_codec_ring(const rg_codec *c, size_t n)
{
    int W = c->counted ? c->counted : c->world;
    return 2.0 * (double)(W - 1) / (double)W * (double)n * sizeof(float);
}

rg_status rg_codec_gather(rg_codec *c, double *bytes)
{
    *bytes += (double)((c->counted ? c->counted : c->world) - 1) * (double)c->msg_n * sizeof(float);
    if (c->world == 1) {
        memcpy(c->all, c->msg, c->msg_n * sizeof(float));
        return RG_OK;
    }
    return rg_comm_allgather(c->comm, c->msg, c->msg_n, c->all);
}

rg_status rg_codec_gather_reduce(rg_codec *c, float *p, uint64_t step, double *bytes)
{
    c->kind->encode(c, p, step);
    rg_status st = rg_codec_gather(c, bytes);
    if (st != RG_OK) return st;
    memset(p, 0, c->n * sizeof(float));
    for (int w = 0; w < c->world; w++) c->kind->decode_add(c, c->all + (size_t)w * c->msg_n, p, step);
    return RG_OK;
}

/* c's image of its message and residual, then its kind's buffers: *out,
 * or c freed and *out NULL. */
static rg_status finish_create(rg_codec *c, rg_codec **out)
{
    RG_ASSERT(c->kind);
    c->mine = rg_calloc(c->n ? c->n : 1, sizeof(float));
    c->residual = c->spec.error_feedback ? rg_calloc(c->n ? c->n : 1, sizeof(float)) : NULL;
    c->adam = c->spec.adam ? rg_calloc(2 * c->n + 2, sizeof(float)) : NULL;
    int ok = c->mine && (c->residual || !c->spec.error_feedback) && (c->adam || !c->spec.adam);
    rg_status st = ok ? c->kind->init(c) : rg_error(RG_ENOMEM, "out of memory: --compress");
    if (st != RG_OK) rg_codec_free(c), c = NULL;
    *out = c;
    return st;
}

rg_status rg_codec_create(const rg_codec_spec *spec, size_t n, const rg_codec_block *blocks, int nblocks,
                          uint64_t seed, rg_comm *comm, rg_codec **out)
{
    *out = NULL;
    rg_codec *c = rg_calloc(1, sizeof *c);
    if (!c) return rg_error(RG_ENOMEM, "out of memory: --compress");
    *c = (rg_codec){ .kind = kind_of(spec->kind), .spec = *spec, .comm = comm, .rank = rg_comm_rank(comm),
                     .world = rg_comm_size(comm), .n = n, .seed = seed, .blocks = blocks, .nblocks = nblocks };
    c->counted = c->world > 1 ? c->world : 2;
    return finish_create(c, out);
}

void rg_codec_free(rg_codec *c)
{
    if (!c) return;
    for (int j = 0; j < c->nparts; j++) rg_codec_free(c->parts[j]);
    rg_free(c->parts);
    rg_free(c->cut);
    rg_free(c->residual);
    rg_free(c->mine);
    rg_free(c->msg);
    rg_free(c->all);
    rg_free(c->idx);
    rg_free(c->scratch);
    rg_free(c->q);
    rg_free(c->pbuf);
    rg_free(c->qbuf);
    rg_free(c->adam);
    rg_free(c);
}

/* --compress-update: g becomes this worker's Adam update direction
 * m^ / (sqrt(v^) + eps), over the workers, from its own moments (m, v and
 * the step count t in c->adam; t is kept in two floats of 24 bits). */
static void adam_update(rg_codec *c, float *g)
{
    float *m = c->adam, *v = c->adam + c->n, *tf = c->adam + 2 * c->n;
    double t = (double)tf[0] + (double)tf[1] * 16777216.0 + 1.0;
    tf[0] = (float)fmod(t, 16777216.0);
    tf[1] = (float)floor(t / 16777216.0);
    float b1 = c->spec.beta1, b2 = c->spec.beta2;
    double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    for (size_t i = 0; i < c->n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        g[i] = (float)(((double)m[i] / c1) / (sqrt((double)v[i] / c2) + (double)c->spec.eps) / (double)c->world);
    }
}

rg_status rg_codec_reduce(rg_codec *c, float *g, uint64_t step, double *bytes, double *dense)
{
    if (c->adam) adam_update(c, g);
    float *e = c->residual;
    if (e) for (size_t i = 0; i < c->n; i++) e[i] = g[i] += e[i];   /* p = g + e, kept in e for now */
    rg_status st = c->kind->reduce(c, g, step, bytes);
    if (e) for (size_t i = 0; i < c->n; i++) e[i] -= c->mine[i];      /* e = p - decode(encode(p)) */
    *dense += rg_codec_ring(c, c->n);
    return st;
}

/* A codec of one part of n floats, alone: its messages go point to point. */
static rg_status create_solo(const rg_codec_spec *spec, size_t n, uint64_t seed, int rank, int part, rg_codec **out)
{
    *out = NULL;
    rg_codec *c = rg_calloc(1, sizeof *c);
    if (!c) return rg_error(RG_ENOMEM, "out of memory: --compress");
    *c = (rg_codec){ .kind = kind_of(spec->kind), .spec = *spec, .rank = rank, .world = 1, .part = part, .n = n,
                     .seed = seed };
    return finish_create(c, out);
}

rg_status rg_codec_create_split(const rg_codec_spec *spec, const size_t *cut, int nparts, uint64_t seed, int rank,
                                rg_codec **out)
{
    *out = NULL;
    const codec_kind *k = kind_of(spec->kind);
    RG_ASSERT(k && nparts > 0);
    if (!k->encode) return rg_error(RG_EUSAGE, "--compress %s exchanges collectively (all-reduce); a message sent to "
                                    "one peer cannot carry it", k->name);
    rg_codec *c = rg_calloc(1, sizeof *c);
    if (!c) return rg_error(RG_ENOMEM, "out of memory: --compress");
    *c = (rg_codec){ .kind = k, .spec = *spec, .rank = rank, .world = 1, .seed = seed, .n = cut[nparts] - cut[0] };
    c->parts = rg_calloc((size_t)nparts, sizeof *c->parts);
    c->cut = rg_calloc((size_t)nparts + 1, sizeof *c->cut);
    rg_status st = c->parts && c->cut ? RG_OK : rg_error(RG_ENOMEM, "out of memory: --compress");
    if (st == RG_OK) c->nparts = nparts;   /* rg_codec_free walks parts[0 .. nparts) */
    for (int j = 0; st == RG_OK && j <= nparts; j++) c->cut[j] = cut[j];
    for (int j = 0; st == RG_OK && j < nparts; j++) st = create_solo(spec, cut[j + 1] - cut[j], seed, rank, j, &c->parts[j]);
    if (st != RG_OK) rg_codec_free(c), c = NULL;
    *out = c;
    return st;
}

void rg_codec_encode(rg_codec *c, int part, const float *g, uint64_t step, const float **msg)
{
    rg_codec *q = c->parts[part];
    float *e = q->residual;
    if (e) for (size_t i = 0; i < q->n; i++) e[i] += g[i];   /* p = g + e, kept in e for now */
    q->kind->encode(q, e ? e : g, step);
    if (e) for (size_t i = 0; i < q->n; i++) e[i] -= q->mine[i];
    *msg = q->msg;
}

size_t rg_codec_msg_len(const rg_codec *c, int part) { return c->parts[part]->msg_n; }

void rg_codec_decode(rg_codec *c, int part, const float *msg, float *p, uint64_t step)
{
    rg_codec *q = c->parts[part];
    memset(p, 0, q->n * sizeof(float));
    q->kind->decode_add(q, msg, p, step);
}

size_t rg_codec_state_size(const rg_codec *c)
{
    if (c->nparts) {
        size_t n = 0;
        for (int j = 0; j < c->nparts; j++) n += rg_codec_state_size(c->parts[j]);
        return n;
    }
    return (c->residual ? c->n : 0) + (c->kind->state_size ? c->kind->state_size(c) : 0) + (c->adam ? 2 * c->n + 2 : 0);
}

void rg_codec_state_save(const rg_codec *c, float *out)
{
    for (int j = 0; j < c->nparts; j++) rg_codec_state_save(c->parts[j], out), out += rg_codec_state_size(c->parts[j]);
    if (c->residual) memcpy(out, c->residual, c->n * sizeof(float)), out += c->n;
    if (c->kind->state_size)
        memcpy(out, c->kind->state((rg_codec *)c), c->kind->state_size(c) * sizeof(float)), out += c->kind->state_size(c);
    if (c->adam) memcpy(out, c->adam, (2 * c->n + 2) * sizeof(float));
}

void rg_codec_reset(rg_codec *c)
{
    for (int j = 0; j < c->nparts; j++) rg_codec_reset(c->parts[j]);
    if (c->residual) memset(c->residual, 0, c->n * sizeof(float));
    if (c->adam) memset(c->adam, 0, (2 * c->n + 2) * sizeof(float));   /* Adam starts again, step count too */
    if (c->kind == &rg_codec_powersgd) {   /* Q as it started */
        for (size_t i = 0; i < c->q_n; i++) c->q[i] = rg_rng_uniform(c->seed, RG_RNG_CODEC, 0, i) * 2.0f - 1.0f;
    } else if (c->kind->state_size) {      /* DGC: no momentum, nothing accumulated */
        memset(c->kind->state(c), 0, c->kind->state_size(c) * sizeof(float));
    }
}

int rg_codec_finite(const rg_codec *c)
{
    int ok = !c->residual || rg_all_finite(c->residual, c->n);
    for (int j = 0; j < c->nparts; j++) ok &= rg_codec_finite(c->parts[j]);
    if (c->kind->state_size) ok &= rg_all_finite(c->kind->state((rg_codec *)c), c->kind->state_size(c));
    if (c->adam) ok &= rg_all_finite(c->adam, 2 * c->n + 2);
    return ok;
}

void rg_codec_state_load(rg_codec *c, const float *in)
{
    for (int j = 0; j < c->nparts; j++) rg_codec_state_load(c->parts[j], in), in += rg_codec_state_size(c->parts[j]);
    if (c->residual) memcpy(c->residual, in, c->n * sizeof(float)), in += c->n;
    if (c->kind->state_size) memcpy(c->kind->state(c), in, c->kind->state_size(c) * sizeof(float)), in += c->kind->state_size(c);
    if (c->adam) memcpy(c->adam, in, (2 * c->n + 2) * sizeof(float));
}

/* ------------------------------------------------------ dense: 16-bit floats */

/* Message buffers of msg_n floats for this worker and all. */
static rg_status buffers(rg_codec *c, size_t msg_n)
{
    c->msg_n = msg_n ? msg_n : 1;
    c->msg = rg_calloc(c->msg_n, sizeof(float));
    c->all = rg_calloc(c->msg_n * (size_t)c->world, sizeof(float));
    if (!c->msg || !c->all) return rg_error(RG_ENOMEM, "out of memory: --compress messages");
    return RG_OK;
}

static rg_status init16(rg_codec *c) { return buffers(c, (c->n + 1) / 2); }

/* float to IEEE half, to nearest (ties to even), saturating at +-65504;
 * by hand, as compilers without _Float16 on x86 (clang 14) need (checked
 * against GCC's _Float16 on 20 million random floats) */
static uint16_t to_fp16(float v)
{
    if (v > 65504.0f) v = 65504.0f;
    if (v < -65504.0f) v = -65504.0f;
    uint32_t x;
    memcpy(&x, &v, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t mant = x & 0x7fffffu;
    int e = (int)((x >> 23) & 0xffu) - 127 + 15;
    if (((x >> 23) & 0xffu) == 0xffu) return (uint16_t)(sign | 0x7e00u);   /* NaN */
    if (e <= 0) {                                                          /* a half subnormal, or 0 */
        if (e < -10) return sign;
        mant |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static float from_fp16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (e == 0) {
        float f = (float)mant * 5.9604644775390625e-8f;   /* mant x 2^-24 */
        return sign ? -f : f;
    }
    if (e == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((e + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t to_bf16(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);   /* a NaN stays one */
    u += 0x7fffu + ((u >> 16) & 1u);                                              /* to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

static void encode16(rg_codec *c, const float *p, int bf)
{
    uint16_t *m = (uint16_t *)c->msg;
    for (size_t i = 0; i < c->n; i++) {
        m[i] = bf ? to_bf16(p[i]) : to_fp16(p[i]);
        c->mine[i] = bf ? from_bf16(m[i]) : from_fp16(m[i]);
    }
}

static void decode16(const rg_codec *c, const float *msg, float *p, int bf)
{
    const uint16_t *m = (const uint16_t *)msg;
    for (size_t i = 0; i < c->n; i++) p[i] += bf ? from_bf16(m[i]) : from_fp16(m[i]);
}

static void fp16_encode(rg_codec *c, const float *p, uint64_t step) { (void)step; encode16(c, p, 0); }
static void bf16_encode(rg_codec *c, const float *p, uint64_t step) { (void)step; encode16(c, p, 1); }
static void fp16_decode(rg_codec *c, const float *m, float *p, uint64_t step) { (void)step; decode16(c, m, p, 0); }
static void bf16_decode(rg_codec *c, const float *m, float *p, uint64_t step) { (void)step; decode16(c, m, p, 1); }

const codec_kind rg_codec_fp16 = { "fp16", init16, rg_codec_gather_reduce, NULL, NULL, fp16_encode, fp16_decode };
const codec_kind rg_codec_bf16 = { "bf16", init16, rg_codec_gather_reduce, NULL, NULL, bf16_encode, bf16_decode };

/* ------------------------------------------------------ sign */

/* Message: the mean magnitude, then one bit a value (1: negative). */
static rg_status sign_init(rg_codec *c) { return buffers(c, 1 + (c->n + 31) / 32); }

static void sign_encode(rg_codec *c, const float *p, uint64_t step)
{
    (void)step;
    double l1 = 0.0;
    for (size_t i = 0; i < c->n; i++) l1 += fabs((double)p[i]);
    float scale = c->n ? (float)(l1 / (double)c->n) : 0.0f;
    uint32_t *bits = (uint32_t *)(c->msg + 1);
    c->msg[0] = scale;
    memset(bits, 0, (c->msg_n - 1) * sizeof(uint32_t));
    for (size_t i = 0; i < c->n; i++) {
        int neg = p[i] < 0.0f;
        bits[i / 32] |= (uint32_t)neg << (i % 32);
        c->mine[i] = neg ? -scale : scale;
    }
}

static void sign_decode(rg_codec *c, const float *m, float *p, uint64_t step)
{
    (void)step;
    const uint32_t *b = (const uint32_t *)(m + 1);
    for (size_t i = 0; i < c->n; i++) p[i] += (b[i / 32] >> (i % 32) & 1u) ? -m[0] : m[0];
}

const codec_kind rg_codec_sign = { "sign", sign_init, rg_codec_gather_reduce, NULL, NULL, sign_encode, sign_decode };
