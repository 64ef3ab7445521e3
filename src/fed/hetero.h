/*
 * hetero.h — layer 4, federated: heterogeneous clients (FedProx's setting,
 * Li et al. 2020).  A sampled client may fail to report (--client-dropout
 * P) or be a straggler that does only a random share of its local work
 * (--straggler-frac F); the server then weighs its update by the samples
 * it actually trained on.  Every draw is keyed by (seed, round, client),
 * so any rank and any worker count agree.
 */
#ifndef RG_FED_HETERO_H
#define RG_FED_HETERO_H
#include "core/core.h"

/* 1 when client, sampled at round, fails to report: probability p, drawn
 * from (seed, RG_RNG_DROPCLIENT, round, client). */
int rg_fed_dropped(double p, uint64_t seed, uint64_t round, int client);

/* The share of its local work client does at round: 1 for most; with
 * probability frac it is a straggler and the share is uniform in (0, 1].
 * Drawn from (seed, RG_RNG_STRAGGLER, round, client). */
double rg_fed_work_share(double frac, uint64_t seed, uint64_t round, int client);

/* The local steps a share of `steps` amounts to: ceil(share * steps), at
 * least 1 when steps >= 1. */
long rg_fed_work_steps(double share, long steps);

#endif
