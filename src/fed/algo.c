/*
 * algo.c — the federated algorithms' table, and the two that need no
 * state of their own: FedAvg (McMahan et al. 2017) and FedProx (Li et al.
 * 2020), each with the server's plain step, or with momentum (FedAvgM,
 * Hsu et al. 2019).
 *
 * An algorithm is a unit (rg_fed_algo_ops): the terms it adds to a
 * client's gradient, and the server's step from the round's updates.
 * The fed strategy (fed.c) calls it at those two points and keeps the
 * states it asks for (server_state arrays of P, replicated on every
 * worker; client_state arrays of P per client that has taken part).
 * Adding one: a file with its ops, one line in g_algos, its name among
 * --algo's choices (config.c).
 */
#include "fed/fed.h"
#include <string.h>

extern const rg_fed_algo_ops rg_fed_fedadam, rg_fed_fedyogi, rg_fed_scaffold, rg_fed_feddyn;

void rg_fed_server_sgd(const rg_fed_ctx *x, const float *delta)
{
    float lr = (float)x->f->server_lr, beta = (float)x->f->server_momentum, *v = x->server;
    if (beta == 0.0f) {
        for (size_t q = 0; q < x->P; q++) x->wg[q] += lr * delta[q];
        return;
    }
    for (size_t q = 0; q < x->P; q++) {
        v[q] = beta * v[q] + delta[q];
        x->wg[q] += lr * v[q];
    }
}

int rg_fed_server_has_moments(const rg_fed_setup *f)
{
    return f->algo->adaptive || (f->algo->server_step == rg_fed_server_sgd && f->server_momentum != 0.0);
}

int rg_fed_server_lr_risky(const rg_fed_setup *f)
{
    /* FedAdam and FedYogi move a weight by up to eta whatever the update;
     * momentum by up to eta / (1 - beta) of it; a plain step at eta > 1
     * overshoots the clients' own mean.  FedDyn has no eta. */
    if (rg_fed_server_has_moments(f)) return 1;
    return f->algo != &rg_fed_feddyn && f->server_lr > 1.0;
}

size_t rg_fed_server_kept(const rg_fed_setup *f)
{
    /* FedAvgM's v stays 0 and unused without --server-momentum */
    if (f->algo->server_step == rg_fed_server_sgd && f->server_momentum == 0.0) return 0;
    return (size_t)f->algo->server_kept;
}

/* FedProx: mu/2 ||w - w_g||^2 in the client's loss */
static double prox_grad(const rg_fed_ctx *x, const float *w, float *grad)
{
    double mu_c = x->f->mu * x->factor;   /* --mu-adapt: this client's */
    float mu = (float)mu_c;
    double sq = 0.0;
    if (mu == 0.0f) return 0.0;   /* mu 0 is FedAvg, bit for bit */
    for (size_t q = 0; q < x->P; q++) {
        float d = w[q] - x->wg[q];
        grad[q] += mu * d;
        sq += (double)d * (double)d;
    }
    return 0.5 * mu_c * sq;
}

const rg_fed_algo_ops rg_fed_fedavg = { .name = "fedavg", .server_state = 1, .server_kept = 1,
                                        .server_step = rg_fed_server_sgd };
const rg_fed_algo_ops rg_fed_fedprox = { .name = "fedprox", .server_state = 1, .server_kept = 1,
                                         .client_grad = prox_grad,
                                         .server_step = rg_fed_server_sgd };

static const rg_fed_algo_ops *const g_algos[] = {
    &rg_fed_fedavg, &rg_fed_fedprox, &rg_fed_scaffold, &rg_fed_feddyn, &rg_fed_fedadam, &rg_fed_fedyogi,
};

const rg_fed_algo_ops *rg_fed_algo_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_algos / sizeof *g_algos; i++)
        if (!strcmp(g_algos[i]->name, name)) return g_algos[i];
    return NULL;
}
