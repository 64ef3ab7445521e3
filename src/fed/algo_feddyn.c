/*
 * algo_feddyn.c — FedDyn (Acar et al. 2021): a dynamic regulariser makes
 * each client's stationary points those of the global objective.  Client
 * i keeps g_i (the gradient of its loss at its last model; zero before it
 * first trains) and minimises
 *
 *   L_i(w) − <g_i, w> + α/2 ||w − w_g||²,
 *
 * then g_i ← g_i − α (w_i − w_g).  The server keeps h:
 *
 *   h   ← h − (α / C) Σ_{i sampled} (w_i − w_g)     (C: every client)
 *   w_g ← w_g + Δ̄ − h / α                           (Δ̄: the weighted mean update)
 *
 * (--feddyn-alpha α; --server-lr does not apply).  Every worker updates
 * every sampled client's g_i from its update, which the per-client path
 * gathers.
 */
#include "fed/fed.h"
#include <string.h>

static double dyn_grad(const rg_fed_ctx *x, const float *w, float *grad)
{
    float a = (float)x->f->alpha;
    const float *gi = x->mine;
    double sq = 0.0, lin = 0.0;
    for (size_t q = 0; q < x->P; q++) {
        float d = w[q] - x->wg[q];
        grad[q] += a * d - gi[q];
        sq += (double)d * (double)d;
        lin += (double)gi[q] * (double)w[q];
    }
    return 0.5 * x->f->alpha * sq - lin;
}

static void server(const rg_fed_ctx *x, const float *delta)
{
    size_t P = x->P;
    float a = (float)x->f->alpha, *h = x->server, *sum = x->server + P;
    memset(sum, 0, P * sizeof *sum);
    for (size_t j = 0; j < x->round->m; j++) {
        if (!x->upd[j]) continue;
        for (size_t q = 0; q < P; q++) {
            sum[q] += x->upd[j][q];
            x->state[j][q] -= a * x->upd[j][q];
        }
    }
    float k = a / (float)x->clients, inv_a = 1.0f / a;
    for (size_t q = 0; q < P; q++) {
        h[q] -= k * sum[q];
        x->wg[q] += delta[q] - h[q] * inv_a;
    }
}

const rg_fed_algo_ops rg_fed_feddyn = { .name = "feddyn", .client_state = 1, .server_state = 2,
                                        .server_kept = 1, .per_client = 1,
                                        .client_grad = dyn_grad, .server_step = server };
