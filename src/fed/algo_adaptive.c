/*
 * algo_adaptive.c — adaptive server optimizers (Reddi et al. 2021,
 * "Adaptive Federated Optimization", Algorithm 2): the clients train as in
 * FedAvg; the server treats the round's mean update Δ as a pseudo-gradient
 * (with the sign of a step) and keeps moments of it:
 *
 *   m ← β1 m + (1 − β1) Δ
 *   v ← β2 v + (1 − β2) Δ²                        (FedAdam)
 *   v ← v − (1 − β2) Δ² sign(v − Δ²)              (FedYogi)
 *   w_g ← w_g + η m / (√v + τ)
 *
 * with m = 0 and v = τ² at the start, and no bias correction, as there
 * (--server-lr η, --server-beta1/2, --server-eps τ).
 */
#include "fed/fed.h"
#include <math.h>

static void init_moments(const rg_fed_ctx *x)
{
    float t2 = (float)(x->f->tau * x->f->tau), *v = x->server + x->P;
    for (size_t q = 0; q < x->P; q++) x->server[q] = 0.0f, v[q] = t2;
}

static void step(const rg_fed_ctx *x, const float *delta, int yogi)
{
    float b1 = (float)x->f->beta1, b2 = (float)x->f->beta2, lr = (float)x->f->server_lr, tau = (float)x->f->tau;
    float *m = x->server, *v = x->server + x->P;
    for (size_t q = 0; q < x->P; q++) {
        float d = delta[q], d2 = d * d;
        m[q] = b1 * m[q] + (1.0f - b1) * d;
        if (yogi) v[q] = v[q] - (1.0f - b2) * d2 * (v[q] > d2 ? 1.0f : v[q] < d2 ? -1.0f : 0.0f);
        else v[q] = b2 * v[q] + (1.0f - b2) * d2;
        x->wg[q] += lr * m[q] / (sqrtf(v[q]) + tau);
    }
}

static void adam_step(const rg_fed_ctx *x, const float *delta) { step(x, delta, 0); }
static void yogi_step(const rg_fed_ctx *x, const float *delta) { step(x, delta, 1); }

const rg_fed_algo_ops rg_fed_fedadam = { .name = "fedadam", .server_state = 2, .server_kept = 2, .adaptive = 1,
                                         .server_init = init_moments,
                                         .server_step = adam_step };
const rg_fed_algo_ops rg_fed_fedyogi = { .name = "fedyogi", .server_state = 2, .server_kept = 2, .adaptive = 1,
                                         .server_init = init_moments,
                                         .server_step = yogi_step };
