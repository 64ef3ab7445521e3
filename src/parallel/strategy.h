/*
 * strategy.h — layer 4: how the workers of a data-parallel run combine
 * their work at each step.
 *
 * A strategy is a unit with its own state and an ops table, registered in
 * strategy.c.  The trainer calls it at fixed points of every step; between
 * them it does the same thing for every strategy:
 *
 *   trainer   npass forward/backward passes (local penalty first), each
 *             into the arena ops->pass_arena gives (if set), each
 *             followed by ops->pass_done (if set)
 *   exchange  the workers' gradients become the aggregated gradient of
 *             the region of the arena this worker updates
 *   trainer   the global penalty, on that region (never communicated);
 *             on a whole region, in the same pass, what agree measures
 *             (the sum of squares for the clip, the largest element)
 *   agree     the step's figures (loss, penalty, non-finite workers) and
 *             the verdict on the gradient the update would take: the same
 *             on every worker
 *   trainer   the non-finite policy: stop, skip, or go on
 *   update    clip, optimizer, constraints over the region; every
 *             worker's weights in sync again; the update's own verdict
 *             (a strategy with clip_in_update: the clip's factor applied
 *             by the optimizer as it reads the gradient, one pass)
 *
 * Each worker's gradient arena is followed by RG_GRAD_TAIL floats: the
 * trainer writes its step figures there (RG_TAIL_*), so that a strategy
 * that sums gradients sums the figures in the same message.
 *
 * What comes next fits the same points (docs/design.md, "Adding a
 * strategy"): local SGD and elastic averaging communicate in update
 * (every H steps) and not in exchange; a parameter server's exchange is a
 * push and a pull, its region empty (the servers own the penalty and the
 * optimizer), and its server ranks run ops->serve instead of steps; a
 * codec sits inside exchange with its residuals in the strategy's state.
 */
#ifndef RG_STRATEGY_H
#define RG_STRATEGY_H
#include "comm/comm.h"
#include "nn/model.h"
#include "parallel/codec.h"
#include "fed/fed.h"

/* the step figures in the gradient's tail */
enum { RG_TAIL_LOSS, RG_TAIL_REG, RG_TAIL_BAD, RG_TAIL_BADRANK };
/* ps: the staleness histogram's length */
#define RG_STALE_HIST 16

/* A step's figures: the worker's own before agree, the world's after. */
typedef struct rg_figures {
    double loss;        /* sum of the step's sample losses */
    double reg;         /* penalties: the local ones summed, plus the global one */
    double bad;         /* workers whose own loss or gradient was not finite (or
                           beyond the optimizer's limit) */
    double bad_rank;    /* (world rank + 1) of that worker when bad == 1 */
} rg_figures;

/* One step's exchange, from exchange to update. */
typedef struct rg_exchange {
    uint64_t step;      /* in: the global step, from 0 */
    int full_sync;      /* in: after this step every worker must hold the same
                           weights, state and figures (the epoch's last step,
                           a checkpoint's): strategies that step locally sync
                           (not set for a strategy that deals: see until) */
    int idle;           /* in (update): a local step without samples, or
                           skipped: no optimizer step, but any sync is joined */
    float lr;           /* in: this step's learning rate (update) */
    float share;        /* in (update): this worker's samples over the step's */
    double hits;        /* in (update): this worker's own figure of the step's
                           predictions: correct ones (classification), or the
                           sum of its outputs' absolute errors (regression) */
    float *grad;        /* out of exchange: the aggregated gradient of the
                           region [lo, hi) this worker updates (grad[0] is
                           element lo), its figures pending until agree */
    size_t lo, hi;
    double penalty;     /* in: the global penalty's value over the region */
    int penalised;      /* in: the global penalty's gradient was added */
    rg_figures fig;     /* out of agree: the world's figures */
    int over;           /* out of agree: the gradient the update would take
                           is not finite or beyond the optimizer's limit */
    int broke;          /* out of update: it wrote a NaN/Inf weight or moment */
    int local;          /* out of exchange: nothing was exchanged; the gradient
                           and figures are this worker's own (its own mean) */
    int synced;         /* out of update, local steps: every worker now holds
                           the same weights and state (the trainer then sums
                           the figures since the last sync) */
    double after;       /* out of update: a penalty the update itself applied
                           (the elastic force), for the figures */
    uint64_t until;     /* in, a strategy that deals (s->deals): the step the
                           next full sync comes before (the epoch's end or a
                           checkpoint's); the trainer computes it, the strategy
                           says when this worker has reached it (synced, once
                           every part of the steps before it is dealt and in) */
    uint64_t next;      /* out of update, s->deals: the step this worker takes
                           next, its part in s->part0; with synced set, until:
                           every worker then takes its own part of it */
    unsigned measured;  /* in (agree): what the trainer measured over the
                           whole gradient, after the global penalty
                           (RG_MEASURE_* of nn/model.h), in the pass that
                           added it */
    double sumsq;       /* ... its sum of squares (in double, in order) */
    float maxabs;       /* ... its largest |element| (+Inf: NaN or Inf) */
    float gscale;       /* out of agree: the clip's factor, for an update
                           that applies it as it reads (1: none to apply) */
} rg_exchange;


typedef struct rg_strategy rg_strategy;

/* What a strategy is set up with. */
typedef struct rg_strat_env {
    rg_comm *comm;             /* this worker's handle to the world */
    int thread;                /* this worker's thread in its process */
    rg_model *root;            /* the caller's model: thread 0 trains it */
    const rg_opt_config *opt;
    double clip;               /* --clip-norm, 0 = off */
    int det_shards;            /* deterministic: shards of a global batch */
    long sync_every;           /* local-sgd: steps between averages; easgd: tau */
    long sync_warmup;          /* local-sgd: synchronous steps first */
    int local_moments;         /* local-sgd: moments averaged at full syncs only */
    double elastic;            /* easgd: alpha, 0 = 0.9 / workers */
    const rg_codec_spec *codec; /* --compress (allreduce and shared take one) */
    uint64_t seed;             /* keys the codecs' draws */
    int servers;               /* ps: the last `servers` ranks serve */
    long staleness;            /* ps: a worker runs at most this many steps
                                  ahead of the slowest */
    int staleness_lr;          /* ps: an update scaled by 1 / (staleness + 1) */
    int pull_first;            /* ps, K > 0: pulls answered before the push sent with them */
    int global_penalty;        /* ps: the servers add the global penalty */
    const rg_fed_setup *fed;   /* fed: the federated settings */
    const rg_parts *clients;   /* fed: each client's samples */
    size_t batch;              /* fed: the clients' local batch */
    int shuffle;               /* fed: local epochs reshuffled */
    int iid;                   /* the training set is one pool that every
                                  worker reads (no skewed partition): a
                                  strategy may deal any part of a batch to any worker */
    const int32_t *labels;     /* fed: the training labels (--mu-adapt skew), or NULL */
    int classes;
    int fuse_ok;               /* deterministic: every step's passes can run as one
                                  (iid, no penalty starting a pass's gradient,
                                  none measured from it): see fuse */
} rg_strat_env;

typedef struct rg_strategy_ops {
    const char *name;
    size_t size;               /* of its state, which starts with rg_strategy */
    /* Sets up this worker: its model (a replica of the root's weights, or a
     * view of them), its optimizer over the part it updates, its buffers. */
    rg_status (*init)(rg_strategy *s, const rg_strat_env *env);
    /* Optional: the strategy deals each epoch's data itself (a federated
     * round): at the epoch's start, this worker's samples, its window at
     * each step and the epoch's length, the same on every worker
     * (borrowed until the next call).  Without it the trainer's batch
     * schedule does. */
    rg_status (*deal)(rg_strategy *s, uint64_t epoch, const rg_deal **out);
    /* Optional: where pass `pass` of this step leaves its gradient and
     * tail (P + RG_GRAD_TAIL floats) instead of the model's arena, which
     * the trainer swaps in for the pass (rg_model_swap_grads). */
    float *(*pass_arena)(rg_strategy *s, int pass);
    /* Optional: pass `pass` of this step is done (its gradient where
     * pass_arena said). */
    void (*pass_done)(rg_strategy *s, int pass);
    rg_status (*exchange)(rg_strategy *s, rg_exchange *x);
    rg_status (*agree)(rg_strategy *s, rg_exchange *x);
    rg_status (*update)(rg_strategy *s, rg_exchange *x);
    /* Checkpoints: every worker joins; the whole moments go to dst[i]
     * ([P] each), which only world rank 0's process passes (NULL
     * elsewhere) and which no one else touches meanwhile. */
    rg_status (*gather_state)(rg_strategy *s, float *const *dst);
    /* Resume: this worker's part of the whole moments src[i]. */
    void (*restore_state)(rg_strategy *s, float *const *src);
    /* Optional (regula fed): what it keeps between epochs besides the
     * weights, the same on every worker.  save_fed: every worker joins
     * (they check that they hold the same); world rank 0's fills out
     * (NULL elsewhere).  load_fed: from a checkpoint's (NULL: it had
     * none), which rg_fed_state_check has passed. */
    rg_status (*save_fed)(rg_strategy *s, rg_fed_state *out);
    rg_status (*load_fed)(rg_strategy *s, const rg_fed_state *in);
    /* Optional, for strategies with serving ranks (s->serving): such a
     * rank runs serve instead of the epochs, until every worker has
     * called leave (after its last step, or on a stop every worker took). */
    rg_status (*serve)(rg_strategy *s);
    rg_status (*leave)(rg_strategy *s);
    void (*free)(rg_strategy *s);
} rg_strategy_ops;

/* What every strategy's state begins with; the trainer reads it. */
struct rg_strategy {
    const rg_strategy_ops *ops;
    rg_comm *comm;
    int rank, world, thread;
    rg_model *m;               /* this worker's model */
    rg_optimizer *opt;         /* over [opt_lo, opt_hi) of the arena */
    size_t opt_lo, opt_hi;
    float limit;               /* the largest gradient element the optimizer takes */
    double clip;
    int clip_in_update;        /* update is rg_strat_update_whole: agree leaves
                                  the clip's factor to it (x->gscale) */
    int npass, part0, parts;   /* passes of a step: parts part0 .. part0+npass-1
                                  of `parts` of an iid global batch */
    int fuse;                  /* deterministic, every shard on this worker, and
                                  env->fuse_ok: the trainer runs each step's
                                  passes as one (rg_model_forward_backward_shards),
                                  the shards' tree summed into the arena as it
                                  goes, and says so in fused (no slots kept) */
    int fused;
    uint64_t local_from;       /* steps from this one on are local: each worker
                                  takes its own mean, and exchanges nothing in
                                  exchange (UINT64_MAX: never) */
    int deals;                 /* the strategy deals the parts of the steps to
                                  whichever worker is free (x->next): a worker
                                  takes the steps it is dealt between full syncs,
                                  not every step (a parameter server, K > 0) */
    int summed;                /* ... but its gradient is its part of the
                                  step's (scaled by 1 / the step's samples,
                                  its penalty's strength by its share), as in
                                  a synchronous step: a parameter server sums
                                  the pushes */
    double bytes_per_step;     /* handed to collectives each step, as a ring would send them */
    double bytes;              /* ... and at some steps only, this epoch (the trainer resets it) */
    double comm_seconds;       /* in collectives, this epoch (the trainer resets it) */
    double t0;                 /* RG_TIMED: when the collective began */
    int own_model;             /* m is this strategy's to free */
    rg_codec *codec;           /* compresses the exchange, or NULL */
    rg_codec_block *blocks;    /* its matrices (the dense kernels) */
    double dense;              /* this epoch: what an uncompressed exchange would send */
    int shares_weights;        /* the threads of a process train one copy of
                                  the weights: thread 0 alone writes them
                                  outside update (restoring the best ones) */
    rg_comm *team;             /* the ranks that train (every rank but the
                                  serving ones): the trainer's collectives */
    int own_team;              /* team is this strategy's to free */
    int serving;               /* this rank serves (ops->serve), trains not */
    double staleness[RG_STALE_HIST];   /* ps, on the team's rank 0: the epoch's
                                  pushes by staleness (the last counts that
                                  many and more), added at each full sync (the
                                  trainer zeroes it as an epoch begins) */
    const rg_round_stats *round; /* fed, after a round's full sync: its clients'
                                  figures (the epoch event's "fed") */
    /* Strategies whose workers talk point to point (ps, easgd-async) use
     * net, whose ranks are their workers and servers.  Under processes x
     * threads (a group) each process is one of them: its threads take
     * their parts of its steps in step, their gradients summed
     * (rg_strat_group_sum), and thread 0 talks for it over the process
     * communicator.  rg_strat_net sets these four; other strategies
     * leave them 0 (and group NULL). */
    rg_comm *net;              /* comm; in a group, the process communicator on
                                  thread 0, NULL on the others */
    int net_rank, net_size;    /* this worker's rank in net (in a group its
                                  process's, on every thread), and net's size */
    rg_comm *group;            /* a group: this process's threads; else NULL */
    int group_t;               /* a group: threads per process; else 1 */
};

/* The registered strategies, and the one a run takes: deterministic shards
 * under --deterministic; else with several worker threads of one process
 * and weights over 1 MiB, shared weights; else --shard-optimizer (not with
 * the divergence policy) ZeRO-1; else all-reduce of replicas. */
extern const rg_strategy_ops rg_strategy_allreduce, rg_strategy_shared, rg_strategy_zero, rg_strategy_det;
extern const rg_strategy_ops rg_strategy_localsgd, rg_strategy_easgd, rg_strategy_hogwild, rg_strategy_ps,
    rg_strategy_easgd_async, rg_strategy_fed;
typedef struct rg_strat_choice {
    const char *name;          /* --strategy: "allreduce" (the synchronous
                                  family, chosen below) or one strategy */
    int deterministic, shard_optimizer, divergence, threads, processes;
    size_t params;
} rg_strat_choice;
const rg_strategy_ops *rg_strategy_choose(const rg_strat_choice *c);
const rg_strategy_ops *rg_strategy_find(const char *name);

/* Makes this worker's strategy (ops->init); rg_strategy_free undoes it. */
rg_status rg_strategy_create(const rg_strategy_ops *ops, const rg_strat_env *env, rg_strategy **out);
void rg_strategy_free(rg_strategy *s);

/* ---- shared by the strategies (strategy.c) ---- */
/* A replica of the root's weights for this thread (the root itself on
 * thread 0), the optimizer over [lo, hi), and the verdict's limit. */
rg_status rg_strat_setup(rg_strategy *s, const rg_strat_env *env, int share_weights, size_t lo, size_t hi,
                         size_t opt_n);
/* The codec of env->codec for this worker's gradient (no-op for none). */
rg_status rg_strat_codec(rg_strategy *s, const rg_strat_env *env);
/* allreduce's exchange without its codec: the plain sum. */
rg_status rg_strat_allreduce_plain(rg_strategy *s, rg_exchange *x);
/* Every replica starts from world rank 0's weights. */
rg_status rg_strat_broadcast(rg_strategy *s);
/* Figures from a summed tail; the region is the whole arena, whose
 * gradient is the model's (with its summed tail). */
void rg_strat_tail_figures(rg_exchange *x, const float *tail);
void rg_strat_region_whole(rg_strategy *s, rg_exchange *x);
/* agree for a gradient every worker holds whole: the penalty, clipping
 * and the verdict, with no communication. */
rg_status rg_strat_agree_whole(rg_strategy *s, rg_exchange *x);
/* What rg_strat_agree_whole will measure over the gradient (RG_MEASURE_*),
 * when the global penalty is added (penalised) or not. */
unsigned rg_strat_measures(const rg_strategy *s, int penalised);
/* update of a whole replica: the optimizer, then the constraints. */
rg_status rg_strat_update_whole(rg_strategy *s, rg_exchange *x);
/* the same for a local step, which may be idle (no samples, or skipped
 * alone): then no update, but the optimizer's step count still moves. */
rg_status rg_strat_update_local(rg_strategy *s, rg_exchange *x);
/* Averages the weights and the optimizer's moments of every worker (an
 * all-reduce each; the bytes counted): replicas equal again. */
rg_status rg_strat_average(rg_strategy *s);
/* The weights alone (one all-reduce): each worker keeps its moments. */
rg_status rg_strat_average_weights(rg_strategy *s);
/* The checkpoint ops of strategies whose rank 0 holds the whole state. */
rg_status rg_strat_gather_whole(rg_strategy *s, float *const *dst);
void rg_strat_restore_whole(rg_strategy *s, float *const *src);
/* net, net_rank, net_size and group_t for env->comm, for the strategies
 * that talk point to point (at any point of init: it reads env alone;
 * the group itself is made by rg_strat_group, a collective of every
 * rank, after the team). */
void rg_strat_net(rg_strategy *s, const rg_strat_env *env);
rg_status rg_strat_group(rg_strategy *s);
/* A group's step: every thread's gradient (x->grad, [0, P)) summed, or
 * with mean set averaged by the threads' shares (each thread's own mean
 * weighted by its samples); x->share their sum, x->idle when it is 0.
 * Every thread then holds the same gradient.  A no-op outside a group. */
rg_status rg_strat_group_sum(rg_strategy *s, rg_exchange *x, int mean);
/* Strategies with serving ranks (s->serving set): the team, the others. */
rg_status rg_strat_team(rg_strategy *s);
/* A serving rank's loop: polls workers 0 .. workers-1 of net in turn (poll sets
 * *busy when it handled something) until every one has left
 * (rg_strat_leave, to serving ranks first .. first+n-1); naps 20 us when
 * nothing came for a while.  Tags from 11 up are the strategies'. */
#define RG_TAG_LEAVE 10
typedef rg_status (*rg_strat_poll_fn)(rg_strategy *s, int worker, int *busy);
rg_status rg_strat_serve(rg_strategy *s, int workers, rg_strat_poll_fn poll);
rg_status rg_strat_leave(rg_strategy *s, int first, int n);
/* A collective, timed into comm_seconds. */
#define RG_TIMED(s, call) (rg_strat_tic(s), rg_strat_toc(s, (call)))
void rg_strat_tic(rg_strategy *s);
rg_status rg_strat_toc(rg_strategy *s, rg_status st);
#endif
