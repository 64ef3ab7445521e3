/*
 * fed.h — layer 4, federated learning: simulated clients, each owning a
 * part of the training data, trained a round at a time on the trainer's
 * workers (`regula fed`).
 *
 * A round is the trainer's epoch and the fed strategy (fed.c) is a
 * strategy like local SGD: every step of the round is a local step of
 * the trainer (forward/backward, penalties, optimizer, non-finite guard),
 * on the samples the round's plan (round.c) deals to the worker.  The
 * plan is a pure function of (seed, round): the sampled clients, who
 * trains them (sampled client j: worker j mod W), each client's local
 * batches.  The strategy resets the replica to the global weights and
 * the optimizer to a fresh state when a client starts, keeps the
 * client's update when it ends, and at the round's last step aggregates
 * every client's update (server.c) and takes the server's step, so that
 * every worker holds the new global model for validation, early stopping
 * and checkpoints.
 */
#ifndef RG_FED_H
#define RG_FED_H
#include "core/core.h"
#include "comm/comm.h"
#include "data/partition.h"

typedef enum { RG_FED_FEDAVG, RG_FED_FEDPROX } rg_fed_algo;

/* The settings of a federated run, resolved (plan.c). */
typedef struct rg_fed_setup {
    int clients;               /* --clients */
    double sample;             /* --sample: fraction drawn per round */
    long local_epochs;         /* --local-epochs (when local_steps == 0) */
    long local_steps;          /* --local-steps, 0: local epochs */
    rg_fed_algo algo;
    double mu;                 /* fedprox: the proximal term's strength */
    int server_penalty;        /* --reg-scope global: the server applies the
                                  L1/L2 penalty to the aggregated model */
    int deterministic;         /* aggregate client by client in a fixed order */
} rg_fed_setup;

/* ---- round.c: the round's plan, the same on every worker ---- */

/* The sampled clients of a round: m of C, drawn without replacement by
 * (seed, round) alone (so the same for any worker count), ascending. */
typedef struct rg_round {
    uint64_t round;
    size_t m;                  /* clients sampled */
    uint32_t *client;          /* [m] */
    uint64_t *steps;           /* [m] local steps each takes */
    uint64_t *trained;         /* [m] samples each trains on (its batches' sum) */
    uint64_t length;           /* the round's steps: the busiest worker's (>= 1) */
} rg_round;

/* How many clients a round samples: sample x C rounded, at least 1. */
size_t rg_fed_sampled(const rg_fed_setup *f);
/* The plan of round `round`: its clients and their local steps (b: the
 * local batch, --batch) for W workers. */
rg_status rg_round_plan(rg_round *r, const rg_fed_setup *f, const rg_parts *parts, size_t b, int W, uint64_t seed,
                        uint64_t round);
void rg_round_free(rg_round *r);

/* Worker g's part of a round: its sample ids in the order it takes
 * them (each client's local epochs, reshuffled by (seed, round, client,
 * local epoch) unless shuffle is 0), its window at each step, and the key
 * of each step's random draws (dropout), unique to (round, client, local
 * step) so a sample's mask does not depend on the worker count. */
typedef struct rg_deal {
    uint64_t steps;            /* the round's length (every worker's) */
    uint64_t *order;
    size_t *start;             /* [steps + 1]: step s takes order[start[s] .. start[s+1]) */
    uint64_t *key;             /* [steps] */
    size_t *total;             /* [steps]: samples every worker takes at step s */
    size_t *first;             /* [mine + 1]: the first step of each of its clients */
    size_t mine;               /* its clients: sampled j = g, g + W, ... */
} rg_deal;
rg_status rg_deal_make(rg_deal *d, const rg_round *r, const rg_parts *parts, size_t b, int g, int W, int shuffle,
                       uint64_t seed);
void rg_deal_free(rg_deal *d);

/* ---- server.c: aggregation and the server's step ---- */

/* The round's aggregation: on entry sum holds this worker's
 * sum_c n_c (w_c - w_g) over its clients, or, deterministic, slots holds
 * its clients' n_c (w_c - w_g), slot i of [per x P] for its i-th client.
 * On return delta holds sum_c n_c (w_c - w_g) / sum_c n_c over every
 * sampled client of the round (0 when none trained), the same bits on
 * every worker; *bytes adds what a ring would send. */
typedef struct rg_fed_agg {
    rg_comm *comm;
    int g, W;
    size_t P;
    int deterministic;
    float *sum;                /* [P] */
    float *slots, *all;        /* deterministic: [per x P], [W x per x P] */
    size_t per;                /* slots per worker: ceil(m / W) */
} rg_fed_agg;
rg_status rg_fed_aggregate(rg_fed_agg *a, const rg_round *r, float *delta, double *bytes);

/* A summary of the round's clients' figures: mean, standard deviation and
 * the mean of the worst 10% (the highest; at least one client). */
typedef struct rg_fed_summary {
    double mean, std, worst;
} rg_fed_summary;
void rg_fed_summarise(const double *v, size_t n, double *scratch, rg_fed_summary *out);
#endif
