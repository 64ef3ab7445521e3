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
#include "reg/reg.h"
#include "fed/aggregate.h"
#include "fed/attack.h"
#include <stdatomic.h>

typedef struct rg_fed_algo_ops rg_fed_algo_ops;

/* The settings of a federated run, resolved (plan.c). */
typedef struct rg_fed_setup {
    int clients;               /* --clients */
    double sample;             /* --sample: fraction drawn per round */
    long local_epochs;         /* --local-epochs (when local_steps == 0) */
    long local_steps;          /* --local-steps, 0: local epochs */
    const rg_fed_algo_ops *algo;
    double mu;                 /* fedprox: the proximal term's strength */
    double alpha;              /* feddyn: the dynamic regulariser's strength */
    double server_lr;          /* the server's step on the mean update */
    double server_momentum;    /* fedavg, fedprox: the server's momentum (FedAvgM) */
    double beta1, beta2, tau;  /* fedadam, fedyogi: the server's moments' decays and epsilon */
    int server_penalty;        /* --reg-scope global: the server applies the
                                  L1/L2 penalty to the aggregated model */
    int deterministic;         /* aggregate client by client in a fixed order */
    rg_adapt mu_adapt;         /* per-client strength of mu and (local scope) L1/L2 */
    rg_agg_spec agg;           /* --aggregate: how the server combines the updates */
    rg_attack_spec attack;     /* --attack, --attackers: simulated Byzantine clients */
    double dp_clip, dp_noise;  /* --dp-clip C (0: off), --dp-noise SIGMA: DP-FedAvg */
    double dp_delta;           /* --dp-delta: the delta epsilon is reported at */
    double dropout;            /* --client-dropout: a sampled client fails to report */
    double straggler;          /* --straggler-frac: a sampled client does part of its work */
    int client_store;          /* --client-state: an rg_cstore_kind (cstore.h), auto included */
    const char *state_dir;     /* --client-state-dir, resolved: where disk's scratch file goes */
} rg_fed_setup;

/* 1 when the server needs every client's update, not their weighted sum:
 * a robust rule, an attack to apply, DP's clipping. */
int rg_fed_per_client(const rg_fed_setup *f);

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
    unsigned char *flip;       /* [m] 1: the client trains on flipped labels (labelflip) */
    size_t dropped;            /* sampled clients that fail to report (--client-dropout) */
    size_t stragglers;         /* sampled clients that do part of their work (--straggler-frac) */
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
    unsigned char *flip;       /* [steps]: 1 when the step's client flips its labels */
    float *factor;             /* [steps]: the strength factor of the step's client
                                  (--mu-adapt; 1 when idle) for its local penalty */
    size_t *total;             /* [steps]: samples every worker takes at step s */
    size_t *first;             /* [mine + 1]: the first step of each of its clients */
    size_t mine;               /* its clients: sampled j = g, g + W, ... */
    const rg_attack_spec *attack;   /* what a flipping client does to a label ... */
    int classes;               /* ... among this many classes */
} rg_deal;
/* The label step s trains on: y, or an attacking client's flipped label
 * (--attack labelflip).  The trainer asks; what an attack does stays here. */
int32_t rg_deal_label(const rg_deal *d, uint64_t s, int32_t y);
rg_status rg_deal_make(rg_deal *d, const rg_round *r, const rg_parts *parts, size_t b, int g, int W, int shuffle,
                       uint64_t seed, const double *factor);
void rg_deal_free(rg_deal *d);

/* ---- the algorithms (algo*.c): a unit each, in algo.c's table ---- */

/* What an algorithm sees.  At a client's step: the global weights w_g,
 * the server's state (server_state arrays of P) and the client's own
 * (client_state arrays of P, zero until it first trains), all read-only.
 * At the server's step: the round's mean update delta, every sampled
 * client's update (upd[j], NULL for one that trained nothing) and local
 * steps, and the states to update. */
typedef struct rg_fed_ctx {
    const rg_fed_setup *f;
    size_t P;
    int clients;               /* C, all of them */
    float *wg;                 /* [P] */
    float *server;             /* [server_state x P] */
    float *mine;               /* [client_state x P]: this client's, or NULL */
    double factor;             /* this client's strength factor (--mu-adapt; else 1) */
    const rg_round *round;     /* the server's step */
    const float *const *upd;   /* [m]: each sampled client's w_c - w_g */
    float **state;             /* [m]: each sampled client's own state (written) */
    float lr;                  /* the clients' learning rate this round */
} rg_fed_ctx;

struct rg_fed_algo_ops {
    const char *name;
    int client_state, server_state;   /* arrays of P floats each */
    int server_kept;           /* the first server_kept of them outlive a round (the
                                  rest is the step's scratch): a checkpoint keeps them */
    int per_client;            /* the server needs every client's update, not their sum */
    int adaptive;              /* the server's step keeps moments of the update (FedAdam,
                                  FedYogi): under --reg-scope global the penalty's step
                                  goes into the update it sees, not after it */
    int extra;                 /* arrays of P a client receives and sends beside w_g and
                                  its update (SCAFFOLD's c and Δc_i): the bytes counted */
    /* Adds the algorithm's terms to a client's gradient at w; returns the
     * value of the penalty they stand for (0 if none), for the figures. */
    double (*client_grad)(const rg_fed_ctx *x, const float *w, float *grad);
    /* Called once before the first round: initial server state. */
    void (*server_init)(const rg_fed_ctx *x);
    /* The server's step: w_g += what the round's updates say (delta: the
     * sample-weighted mean update); the states updated. */
    void (*server_step)(const rg_fed_ctx *x, const float *delta);
};
/* The table: fedavg, fedprox, scaffold, feddyn, fedadam, fedyogi. */
const rg_fed_algo_ops *rg_fed_algo_find(const char *name);
/* what several share: w_g += lr x (momentum ? v = beta v + delta : delta) */
void rg_fed_server_sgd(const rg_fed_ctx *x, const float *delta);
/* 1 when the server's step keeps moments of the update (FedAdam, FedYogi,
 * FedAvgM): under --reg-scope global it then steps on the penalised update. */
int rg_fed_server_has_moments(const rg_fed_setup *f);
/* 1 when --server-lr scales a server step that can take the model beyond
 * where the clients took it (FedAdam, FedYogi, momentum, --server-lr > 1):
 * a value that turns non-finite may then be the server's doing. */
int rg_fed_server_lr_risky(const rg_fed_setup *f);
/* The server's arrays of P a checkpoint keeps: the algorithm's
 * server_kept, none for fedavg's and fedprox's unused momentum. */
size_t rg_fed_server_kept(const rg_fed_setup *f);

#define RG_FED_ROUND_N 21

/* ---- ckpt.c (fed.c fills it, the trainer writes it): what a run keeps
 * between rounds besides w_g, so that --resume goes on bitwise.  Every
 * worker holds the same, and world rank 0's is written, as tensors
 * "fed.server" F32 [server_n, P], "fed.clients" U64 [n] (ascending),
 * "fed.client_state" F32 [n, client_n, P] and "fed.divergence" F64
 * [clients], each only when it has something (a checkpoint of fedavg or
 * fedprox without momentum or divergence has none, as before they existed). */
typedef struct rg_fed_state {
    uint64_t P;
    uint64_t server_n;         /* arrays of P in server */
    float *server;             /* [server_n x P]: c, h, FedAdam's m and v, the momentum */
    uint64_t n, client_n;      /* clients with state of their own; arrays of P each */
    uint64_t *ids;             /* [n] those clients, ascending */
    float *client;             /* [n x client_n x P]: SCAFFOLD's c_i, FedDyn's g_i; NULL
                                  when store holds them (a checkpoint being written) */
    struct rg_cstore *store;   /* the run's store of the clients' states (cstore.h), read
                                  a client at a time (rg_fed_state_read), or NULL */
    uint64_t clients;          /* C when raw is kept, else 0 */
    double *raw;               /* [clients]: --mu-adapt divergence's last figure of each */
    size_t cap_server, cap_n, cap_client, cap_raw;   /* what the arrays hold room for */
    atomic_int loaded;         /* a resumed run's workers that have put it in place */
    char *src;                 /* a checkpoint read: client NULL, the states in this file ... */
    uint64_t src_at;           /* ... from this byte on (as fed.client_state) */
    int has_round;             /* round holds the checkpoint's round's figures (fed.round) */
    uint64_t rounds;           /* a checkpoint read: the rounds up to fed.round's, its own included */
    double round[RG_FED_ROUND_N];   /* rg_round_stats, packed (rg_fed_round_pack) */
} rg_fed_state;
/* The round's figures (the epoch event's "fed") as RG_FED_ROUND_N
 * doubles, the tensor fed.round, and back: a run resumed from a round's
 * checkpoint reports that round again (it validates it again) with them. */
void rg_fed_round_pack(const rg_round_stats *r, double *out);
void rg_fed_round_unpack(const double *in, rg_round_stats *r);
/* Sizes s for (P, server_n, n, client_n, clients), keeping what room it
 * has: RG_ENOMEM (s as it was) when memory runs out. */
rg_status rg_fed_state_size(rg_fed_state *s, uint64_t P, uint64_t server_n, uint64_t n, uint64_t client_n,
                            uint64_t clients);
void rg_fed_state_free(rg_fed_state *s);
/* n bytes of the tensor fed.client_state ([n, client_n, P] F32) from byte
 * off into buf, from client or, a client at a time, from store (ctx: the
 * rg_fed_state; off and n multiples of 4): the checkpoint writer's source. */
rg_status rg_fed_state_read(const void *ctx, size_t off, void *buf, size_t n);
/* Each of s's clients' states (client_n x P floats), from client or a
 * client at a time from the checkpoint file src, handed to put(ctx, id,
 * state); RG_EIO naming the file. */
rg_status rg_fed_state_each(const rg_fed_state *s, rg_status (*put)(void *ctx, size_t id, const float *x), void *ctx);
/* A resumed run's worker has put s's clients' states in its store: the
 * last of the process's threads to do so drops the copy read from the
 * checkpoint (it would otherwise last the run). */
void rg_fed_state_loaded(rg_fed_state *s, int threads);
/* client filled from src (a process that sends them to others has them
 * in memory: under mpirun, rank 0 of a resumed run). */
rg_status rg_fed_state_materialise(rg_fed_state *s);
/* RG_OK when s (NULL: a checkpoint without federated state) is what a
 * run of f with P parameters keeps; else RG_EDATA naming path and what
 * differs. */
rg_status rg_fed_state_check(const rg_fed_setup *f, size_t P, const rg_fed_state *s, const char *path);

/* ---- server.c: aggregation and the server's step ---- */

/* The round's aggregation: on entry sum holds this worker's
 * sum_c n_c (w_c - w_g) over its clients, or, deterministic (and for the
 * algorithms that need every client's update), slots holds its clients'
 * w_c - w_g, slot i of [per x P] for its i-th client, which every worker
 * then holds in all (rg_fed_client_update finds client j's).
 * On return delta holds sum_c n_c (w_c - w_g) / sum_c n_c over every
 * sampled client of the round (0 and kept set when none trained), the same bits on
 * every worker; *bytes adds what a ring would send.  A robust rule
 * (--aggregate) combines the reporting clients' updates instead (too few
 * for it: delta 0 and kept set); under DP (--dp-clip) delta is the sum of
 * the clipped updates, each counted once, plus N(0, (SIGMA C)^2) per
 * coordinate keyed by (seed, round), over the clients sampled. */
typedef struct rg_fed_agg {
    rg_comm *comm;
    int g, W;
    size_t P;
    int deterministic;
    float *sum;                /* [P] */
    float *slots, *all;        /* deterministic: [per x P], [W x per x P] */
    size_t per;                /* slots per worker: ceil(m / W) */
    const rg_fed_setup *f;     /* the rule (--aggregate) and DP's noise */
    uint64_t seed;
    int kept;                  /* set when no client, or too few for the rule, reported: delta is
                                  0, and the server keeps the model and its state (no step) */
} rg_fed_agg;
rg_status rg_fed_aggregate(rg_fed_agg *a, const rg_round *r, float *delta, double *bytes);
/* After rg_fed_aggregate on the per-client path: sampled client j's update. */
const float *rg_fed_client_update(const rg_fed_agg *a, size_t j);

/* A summary of the round's clients' figures: mean, standard deviation and
 * the mean of the worst 10% (at least one client): the highest, or with
 * low_worse the lowest (an accuracy). */
typedef struct rg_fed_summary {
    double mean, std, worst;
} rg_fed_summary;
void rg_fed_summarise(const double *v, size_t n, int low_worse, double *scratch, rg_fed_summary *out);
#endif
