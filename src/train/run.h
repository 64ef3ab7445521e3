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
#include <pthread.h>
#include <stdatomic.h>

/* Read-only while the workers run, except status[t] and result (each
 * written by one thread) and the log and writer (world rank 0's thread 0;
 * on a local step, the log's skip and stop events come from the worker
 * that skips or stops, in whichever thread: each event is one fprintf).
 * The log's end event is its last line: every event the workers write
 * goes through rg_run_log, under log_mu, and none once it is written
 * (the other threads train on until the stop reaches them). */
typedef struct rg_run {
    const rg_plan *p;
    const rg_config *c;
    rg_model *m;                /* the caller's model: start and result */
    const rg_dataset *train, *val, *test;
    rg_progress_fn progress;    /* rg_train's callback, and its ud */
    void *ud;
    rg_callbacks cb;            /* rg_train_cb's */
    int threads, world;         /* workers in this process, in all */
    rg_comm **ranks;            /* one handle per thread */
    rg_comm *paced;             /* --link under MPI: the paced process
                                   communicator, freed after the handles */
    const rg_strategy_ops *strategy;
    rg_parts parts;             /* owners, for skewed partitions */
    rg_schedule sched;          /* which samples each worker takes at each step */
    double *share;              /* [world] each worker's share of an epoch's penalty */
    double *lambda0;            /* [world] strengths at the start */
    float *class_weight;        /* [outputs] --class-weight's, or NULL */
    FILE *log;                  /* world rank 0 only */
    rg_writer *writer;          /* world rank 0, with checkpoints: its arrays are
                                   the destination every worker gathers into */
    const rg_run_state *ck;     /* the state to resume from, or NULL */
    rg_train_result result;     /* filled by world rank 0's thread 0, or by the
                                   worker that claimed a stop (stop_claimed) */
    atomic_int stop_claimed;    /* a worker of this process reported a non-finite stop */
    char stop_msg[1024];        /* ... on a local step: its message, the one the run returns */
    pthread_mutex_t log_mu;     /* held for each event the workers write */
    int log_ended;              /* under log_mu: a worker wrote the end event */
    rg_status status[RG_MAX_WORKERS];   /* per thread */
} rg_run;

/* The log for one event from a worker, locked till rg_run_log_done: NULL
 * (and nothing locked) when there is no log or its end event is written. */
FILE *rg_run_log(rg_run *r);
void rg_run_log_done(rg_run *r);
/* On world rank 0 under MPI: the skips that workers of other processes
 * took alone (their notes, rg_dist_take) into the log as they came; none
 * once the end event is written.  Any thread, not holding the log. */
void rg_run_peer_skips(rg_run *r);

/* Trains as worker thread t of this process (worker.c). */
rg_status rg_run_worker(rg_run *r, int t);

/* What world rank 0's first worker reports (train.c; worker.c calls them):
 * after a kept step, the epoch so far (done samples, running loss, and its
 * own correct predictions out of seen samples) to the callbacks; after an
 * epoch, its figures to the log and the callbacks (per, skipped, W,
 * compression and staleness as rg_log_epoch takes them). */
void rg_run_step_done(const rg_run *r, int epoch, uint64_t done, double loss, double correct, double seen);
void rg_run_epoch_done(rg_run *r, const rg_epoch_stats *e, uint64_t skipped, int W, const double *per,
                       double compression, const double *staleness);
/* The final model's figures on the test, validation (when it is not the
 * test set) and training sets, computed by every worker of comm; with
 * --skip-nonfinite the samples whose outputs are not finite are left out
 * (counted in res->left_out). */
rg_status rg_run_final_figures(const rg_run *r, rg_model *m, rg_comm *comm, rg_train_result *res);
#endif
