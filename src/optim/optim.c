/*
 * optim.c — SGD (momentum, Nesterov), Adam, AdamW and RMSprop over flat arenas.
 * The moments are arenas of the same length as the parameters, so one update
 * is one flat loop and a checkpoint saves them as they are.  The update rules
 * are PyTorch's, term for term (the reference test checks 10 steps of each).
 * Weight decay is always decoupled: w -= lr * wd * w before the update.
 *
 * Overflow: each update pass also tests what it writes (weights and
 * moments) for NaN/Inf and says so, and rg_optimizer_grad_limit gives the
 * largest gradient element an update can take without overflowing its
 * moments: the trainer checks a step's gradient against it before the
 * update, so a step that would corrupt the state is refused, not taken.
 */
#include "core/core.h"
#include <float.h>
#include <math.h>
#include <string.h>

struct rg_optimizer {
    rg_opt_config c;
    size_t n;
    uint64_t t;          /* steps taken */
    int n_state;
    float *state[2];     /* SGD: momentum buffer; Adam: m, v; RMSprop: mean square, momentum buffer */
};

rg_status rg_optimizer_create(const rg_opt_config *c, size_t n, rg_optimizer **out)
{
    *out = NULL;
    rg_optimizer *o = rg_calloc(1, sizeof *o);
    if (!o) return rg_error(RG_ENOMEM, "out of memory creating the optimizer");
    o->c = *c;
    o->n = n;
    o->n_state = c->kind == RG_OPT_SGD ? (c->momentum != 0.0f)
               : c->kind == RG_OPT_RMSPROP ? 1 + (c->momentum != 0.0f) : 2;
    for (int i = 0; i < o->n_state; i++) {
        o->state[i] = rg_calloc(n, sizeof(float));
        if (!o->state[i]) { rg_optimizer_free(o); return rg_error(RG_ENOMEM, "out of memory: optimizer state for %zu parameters", n); }
    }
    *out = o;
    return RG_OK;
}

void rg_optimizer_free(rg_optimizer *o)
{
    if (!o) return;
    for (int i = 0; i < 2; i++) rg_free(o->state[i]);
    rg_free(o);
}

int rg_optimizer_state_count(const rg_optimizer *o) { return o->n_state; }
float *rg_optimizer_state(rg_optimizer *o, int i) { return i >= 0 && i < o->n_state ? o->state[i] : NULL; }
uint64_t rg_optimizer_steps(const rg_optimizer *o) { return o->t; }
void rg_optimizer_set_steps(rg_optimizer *o, uint64_t t) { o->t = t; }

/* The running max of |x| as bits, which orders like |x| with every NaN
 * above Inf: one and and one max a value in the update's own loop (three
 * compares cost the reference model's Adam pass 40%, this 10%).  A value
 * is NaN or Inf when the max reaches 0x7f800000. */
static inline uint32_t top_bits(uint32_t top, float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b &= 0x7fffffffu;
    return b > top ? b : top;
}
#define RG_NONFINITE_BITS 0x7f800000u

/* The gradient element as the update reads it: times the clip's factor k
 * (the product rg_clip_global_norm would have stored), or as it is.  The
 * steps below are written once and compiled twice (SCALED 0 and 1), so
 * the unscaled loop has no multiply and no test. */
#define G(i) (SCALED ? g[i] * k : g[i])
#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE int sgd_step(rg_optimizer *o, float *restrict p, const float *restrict g, float lr, float k,
                           const int SCALED)
{
    size_t n = o->n;
    float decay = 1.0f - lr * o->c.weight_decay;
    float mu = o->c.momentum;
    uint32_t top = 0;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) {
            p[i] = p[i] * decay - lr * G(i);
            top = top_bits(top, p[i]);
        }
        return top >= RG_NONFINITE_BITS;
    }
    float *restrict buf = o->state[0];
    if (o->t == 1) { /* PyTorch starts the buffer at the first gradient */
        if (SCALED) for (size_t i = 0; i < n; i++) buf[i] = G(i);
        else memcpy(buf, g, n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++) buf[i] = mu * buf[i] + G(i);
    }
    if (o->c.nesterov)
        for (size_t i = 0; i < n; i++) {
            p[i] = p[i] * decay - lr * (G(i) + mu * buf[i]);
            top = top_bits(top_bits(top, p[i]), buf[i]);
        }
    else
        for (size_t i = 0; i < n; i++) {
            p[i] = p[i] * decay - lr * buf[i];
            top = top_bits(top_bits(top, p[i]), buf[i]);
        }
    return top >= RG_NONFINITE_BITS;
}

ALWAYS_INLINE int adam_step(rg_optimizer *o, float *restrict p, const float *restrict g, float lr, float k,
                            const int SCALED)
{
    size_t n = o->n;
    float b1 = o->c.beta1, b2 = o->c.beta2, eps = o->c.eps;
    double t = (double)o->t;
    float bc1 = (float)(1.0 - pow((double)b1, t));
    float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    float step = lr / bc1, inv_bc2 = 1.0f / bc2_sqrt;
    float decay = 1.0f - lr * o->c.weight_decay;
    float *restrict m = o->state[0], *restrict v = o->state[1];
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        float gi = G(i);
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) * inv_bc2 + eps);
        /* the weight and the second moment: |m| never exceeds the largest
         * gradient taken, which the trainer bounds */
        top = top_bits(top_bits(top, p[i]), vi);
    }
    return top >= RG_NONFINITE_BITS;
}

/* PyTorch's RMSprop (centered=False): the mean square starts at 0 and has
 * no bias correction; with momentum the buffer (from 0) takes g / avg. */
ALWAYS_INLINE int rmsprop_step(rg_optimizer *o, float *restrict p, const float *restrict g, float lr, float k,
                               const int SCALED)
{
    size_t n = o->n;
    float rho = o->c.rho, eps = o->c.eps, mu = o->c.momentum;
    float decay = 1.0f - lr * o->c.weight_decay;
    float *restrict sq = o->state[0], *restrict buf = o->state[1];
    uint32_t top = 0;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) {
            float gi = G(i);
            float si = rho * sq[i] + (1.0f - rho) * gi * gi;
            sq[i] = si;
            p[i] = p[i] * decay - lr * gi / (sqrtf(si) + eps);
            top = top_bits(top_bits(top, p[i]), si);
        }
        return top >= RG_NONFINITE_BITS;
    }
    for (size_t i = 0; i < n; i++) {
        float gi = G(i);
        float si = rho * sq[i] + (1.0f - rho) * gi * gi;
        sq[i] = si;
        float bi = mu * buf[i] + gi / (sqrtf(si) + eps);
        buf[i] = bi;
        p[i] = p[i] * decay - lr * bi;
        top = top_bits(top_bits(top_bits(top, p[i]), si), bi);
    }
    return top >= RG_NONFINITE_BITS;
}

static int step_plain(rg_optimizer *o, float *p, const float *g, float lr)
{
    if (o->c.kind == RG_OPT_SGD) return sgd_step(o, p, g, lr, 1.0f, 0);
    if (o->c.kind == RG_OPT_RMSPROP) return rmsprop_step(o, p, g, lr, 1.0f, 0);
    return adam_step(o, p, g, lr, 1.0f, 0);
}

static int step_scaled(rg_optimizer *o, float *p, const float *g, float lr, float k)
{
    if (o->c.kind == RG_OPT_SGD) return sgd_step(o, p, g, lr, k, 1);
    if (o->c.kind == RG_OPT_RMSPROP) return rmsprop_step(o, p, g, lr, k, 1);
    return adam_step(o, p, g, lr, k, 1);
}
#undef G

int rg_optimizer_step(rg_optimizer *o, float *params, const float *grads, float lr)
{
    o->t++;
    return step_plain(o, params, grads, lr);
}

int rg_optimizer_step_scaled(rg_optimizer *o, float *params, const float *grads, float scale, float lr)
{
    o->t++;
    return scale == 1.0f ? step_plain(o, params, grads, lr) : step_scaled(o, params, grads, lr, scale);
}

float rg_optimizer_grad_limit(const rg_optimizer *o)
{
    if (o->c.kind != RG_OPT_SGD)
        /* Adam and RMSprop keep g*g: with every |g| <= 2^63, v stays a
         * convex mix of values <= 2^126, far from FLT_MAX (~2^128), whatever
         * beta2 or rho; RMSprop's g / sqrt(v) is at most 1 / sqrt(1 - rho) */
        return 0x1p63f;
    if (o->c.momentum == 0.0f) return FLT_MAX;
    /* |buf| <= max|g| / (1 - momentum): keep it a float, with room */
    return (float)(0.25 * (double)FLT_MAX * (1.0 - (double)o->c.momentum));
}

float rg_clip_factor(double norm, double max_norm)
{
    /* PyTorch's clip_grad_norm_: coefficient max / (norm + 1e-6) */
    return max_norm > 0.0 && norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
}

double rg_clip_global_norm(float *grads, size_t n, double max_norm)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
    double norm = sqrt(s);
    if (max_norm > 0.0 && norm > max_norm) {
        float k = rg_clip_factor(norm, max_norm);
        for (size_t i = 0; i < n; i++) grads[i] *= k;
    }
    return norm;
}
