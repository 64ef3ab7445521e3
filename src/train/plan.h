/*
 * plan.h — layer 5, internal: the resolved configuration.  rg_plan_resolve
 * turns the options (text, as the user gave them) into typed values once,
 * with every check that involves more than one option; the trainer reads
 * only the plan, so no string is compared once training starts.
 */
#ifndef RG_PLAN_H
#define RG_PLAN_H
#include "core/core.h"
#include "data/batch.h"
#include "data/partition.h"
#include "optim/schedule.h"
#include "parallel/codec.h"
#include "comm/link.h"
#include "reg/reg.h"
#include "fed/fed.h"

typedef enum { RG_MONITOR_VAL_LOSS, RG_MONITOR_VAL_ACC, RG_MONITOR_VAL_MAE } rg_monitor;
/* --strategy: allreduce is the synchronous family (which of its members a
 * run takes is rg_strategy_choose's); the others name one strategy */
typedef enum { RG_STRAT_ALLREDUCE, RG_STRAT_LOCAL_SGD, RG_STRAT_EASGD, RG_STRAT_HOGWILD, RG_STRAT_PS,
               RG_STRAT_EASGD_ASYNC } rg_strat_kind;

typedef struct rg_plan {
    const rg_config *c;          /* the options as given (the log and checkpoints keep them) */
    rg_opt_config opt;
    int loss;                    /* an rg_loss, or -1: the model's own (--loss auto) */
    rg_lr_schedule lr;           /* total_steps: set by the trainer once it knows the data */
    rg_partition partition;
    int iid;                     /* partition.kind == RG_PART_IID */
    rg_scope scope;
    rg_adapt adapt;
    rg_worker_batch worker_batch;
    rg_strat_kind strategy;
    long sync_every, sync_warmup;
    int local_moments;
    double elastic;
    int servers;                 /* serving ranks: ps's servers, easgd-async's centre (else 0) */
    long staleness;
    int staleness_lr;
    int pull_first;
    rg_codec_spec codec;
    rg_link link;
    int straggler_rank;          /* -1: none */
    double straggler_factor;
    rg_monitor monitor;
    double min_delta;
    long early_stop;             /* patience, 0 = off */
    int restore_best;
    double clip, label_smoothing;
    int deterministic, det_shards, shard_optimizer, skip_nonfinite, shuffle;
    rg_gemm gemm;                /* --gemm: the kernels outside --deterministic */
    long batch, epochs, log_every, checkpoint_every;
    uint64_t seed;
    const char *ck_dir;          /* where checkpoints go, or NULL */
    int ck_epoch;                /* a checkpoint at each epoch's end too */
    const char *save_best;       /* --save-best FILE, or NULL */
    int fed;                     /* regula fed: clients, rounds for epochs */
    rg_fed_setup fed_setup;
} rg_plan;

/* Resolves c into p (which borrows c).  On failure *option (if not NULL)
 * is the index in rg_options() of the option at fault, -1 when none. */
rg_status rg_plan_resolve(const rg_config *c, rg_plan *p, int *option);

/* What to lower when a value turns non-finite: "--lr or --clip-norm", and
 * --server-lr first when the fed server's own step may have grown the
 * weights (the next round's clients then blow up on them, and lowering
 * their --lr would not help). */
const char *rg_plan_lower(const rg_plan *p);

/* config.c: the index in rg_options() of an option by name, -1 if none. */
int rg_option_index(const char *name);
#endif
