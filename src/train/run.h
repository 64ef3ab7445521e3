/*
 * run.h — layer 5, internal: what the workers of one process share during
 * a training run (train.c sets it up, worker.c trains on it).
 */
#ifndef RG_RUN_H
#define RG_RUN_H
#include "core/core.h"
#include "comm/comm.h"
#include "data/batch.h"
#include "parallel/strategy.h"
#include "train/plan.h"
#include "train/train.h"

/* Read-only while the workers run, except status[t] and result (each
 * written by one thread) and the log and writer (world rank 0's thread 0). */
typedef struct rg_run {
    const rg_plan *p;
    const rg_config *c;
    rg_model *m;                /* the caller's model: start and result */
    const rg_dataset *train, *val, *test;
    rg_progress_fn progress;
    void *ud;
    int threads, world;         /* workers in this process, in all */
    rg_comm **ranks;            /* one handle per thread */
    rg_comm *paced;             /* --link under MPI: the paced process
                                   communicator, freed after the handles */
    const rg_strategy_ops *strategy;
    rg_parts parts;             /* owners, for skewed partitions */
    rg_schedule sched;          /* which samples each worker takes at each step */
    double *share;              /* [world] each worker's share of an epoch's penalty */
    double *lambda0;            /* [world] strengths at the start */
    FILE *log;                  /* world rank 0 only */
    rg_writer *writer;          /* world rank 0, with checkpoints: its arrays are
                                   the destination every worker gathers into */
    const rg_run_state *ck;     /* the state to resume from, or NULL */
    rg_train_result result;     /* filled by world rank 0's thread 0 */
    rg_status status[RG_MAX_WORKERS];   /* per thread */
} rg_run;

/* Trains as worker thread t of this process (worker.c). */
rg_status rg_run_worker(rg_run *r, int t);
#endif
