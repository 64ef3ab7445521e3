/*
 * algo_scaffold.c — SCAFFOLD (Karimireddy et al. 2020, option II):
 * control variates correct each client's drift.  The server keeps c, each
 * client that has taken part its own c_i (zero before).  A client's step
 * takes the gradient g − c_i + c; after its K local steps at rate η,
 *
 *   Δc_i = −c + (w_g − w_c) / (K η),   c_i ← c_i + Δc_i,
 *
 * and the server moves w_g ← w_g + η_s Δ̄ (the sample-weighted mean
 * update) and c ← c + (1/C) Σ_{i sampled} Δc_i (C: every client).  Every
 * worker computes the Δc_i of every sampled client from its update (which
 * the per-client path gathers), so the c_i need not travel between
 * workers; a real client would send Δc_i beside its update (bytes_up
 * counts both, bytes_down w_g and c).
 */
#include "fed/fed.h"
#include <string.h>

/* g + (c − c_i); the client's own state is zero before it first trains */
static double correct(const rg_fed_ctx *x, const float *w, float *grad)
{
    (void)w;
    const float *c = x->server, *ci = x->mine;
    for (size_t q = 0; q < x->P; q++) grad[q] += c[q] - ci[q];
    return 0.0;
}

static void server(const rg_fed_ctx *x, const float *delta)
{
    size_t P = x->P;
    float *c = x->server, *sum = x->server + P, lr = (float)x->f->server_lr;
    memset(sum, 0, P * sizeof *sum);
    for (size_t j = 0; j < x->round->m; j++) {
        if (!x->upd[j]) continue;
        float inv = 1.0f / ((float)x->round->steps[j] * x->lr);
        for (size_t q = 0; q < P; q++) {
            float dc = -c[q] - x->upd[j][q] * inv;   /* (w_g − w_c) / (K η) − c */
            x->state[j][q] += dc;
            sum[q] += dc;
        }
    }
    float inv_c = 1.0f / (float)x->clients;
    for (size_t q = 0; q < P; q++) {
        x->wg[q] += lr * delta[q];
        c[q] += sum[q] * inv_c;
    }
}

const rg_fed_algo_ops rg_fed_scaffold = { .name = "scaffold", .client_state = 1, .server_state = 2,
                                          .server_kept = 1, .per_client = 1,
                                          .extra = 1, .client_grad = correct, .server_step = server };
