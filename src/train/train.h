/*
 * train.h — layer 5, internal: what the trainer's files share: the
 * resume rules of the configuration (config.c), evaluation (eval.c), the
 * training state and its checkpoints (state.c), the checkpoint writer
 * (writer.c) and the log (log.c).
 */
#ifndef RG_TRAIN_H
#define RG_TRAIN_H

#include "core/core.h"

struct rg_st;
struct rg_st_tensor_in;
struct rg_comm;

/* eval.c: the figures of m on ds (rg_evaluate_figures'), computed by
 * every worker of comm on a run of chunks; every worker gets the same
 * figures, and they do not depend on the worker count.  A sample whose
 * outputs are not finite makes its figures NaN (rg_evaluate refuses it). */
rg_status rg_eval_world(rg_model *m, struct rg_comm *comm, const rg_dataset *ds, rg_eval_figures *f);
/* rg_eval_world; with skip, the samples whose outputs are not finite are
 * left out of the figures (which are NaN when none is left) and their
 * count is added to *left_out (when not NULL). */
rg_status rg_eval_world_skip(rg_model *m, struct rg_comm *comm, const rg_dataset *ds, int skip, rg_eval_figures *f,
                             uint64_t *left_out);

/* RG_OK when a run configured as c may resume from a checkpoint whose
 * configuration is saved_json (rg_config_json of the run that wrote it):
 * every option must match except outputs, --workers, --threads,
 * --shard-optimizer, checkpoint options and --comm-timeout, and --epochs
 * when the schedule does not depend on the run's length.  Otherwise
 * RG_EUSAGE naming `what` (the checkpoint file), the option and both values. */
/* Resets those free options to their defaults: what a checkpoint stores,
 * so two runs that trained the same thing write the same bytes. */
void rg_config_resume_normalise(rg_config *c);
rg_status rg_config_resume_check(const rg_config *c, const char *saved_json, const char *what);

/* ------------------------------------------------ the training state */

/* Everything the loop carries from one step to the next, and nothing else:
 * with the weights, all a resumed run needs to go on bit for bit.  The
 * loop works on these fields; a checkpoint stores rg_counters and rg_sums
 * as they are ("train.counters", "train.figures": the field order is the
 * file format). */
typedef struct rg_counters {
    uint64_t step;            /* steps done (the next step's number) */
    uint64_t epoch;           /* the epoch in progress, 0-based */
    uint64_t epoch_step;      /* steps of it done */
    uint64_t samples;         /* the data cursor: global samples consumed */
    uint64_t world;           /* workers of the run that wrote it */
    uint64_t opt_steps;       /* updates the optimizer took (skipped steps excluded) */
    uint64_t skipped;         /* steps skipped for a non-finite value, in all */
    uint64_t epoch_skipped;   /* ... in the epoch in progress */
    uint64_t run_skipped;     /* ... in a row, up to now */
    uint64_t epoch_samples;   /* samples of the epoch in progress */
    uint64_t wait;            /* early stopping: epochs without improvement */
    uint64_t best_epoch;      /* early stopping: epoch of the best weights, 0 = none */
    uint64_t epochs_run;      /* epochs completed */
    uint64_t nstate;          /* optimizer moment arenas */
    uint64_t params;          /* parameters */
    uint64_t has_best;        /* best holds the best weights */
} rg_counters;
typedef struct rg_sums {
    double loss;              /* the epoch's running (loss + penalty) x samples */
    double reg;               /* ... penalty x samples */
    double best_metric;       /* early stopping (NaN: none yet) */
    double lr;                /* the rate last used */
    /* the plateau schedule (whole numbers as doubles: the tensor is one array) */
    double plateau_best;      /* best --monitor figure (NaN: none yet) */
    double plateau_wait;      /* epochs since it improved */
    double plateau_cuts;      /* cuts of the rate so far */
} rg_sums;
#define RG_COUNTERS (sizeof(rg_counters) / sizeof(uint64_t))
#define RG_SUMS (sizeof(rg_sums) / sizeof(double))

/* per-worker figures of the epoch in progress: a row of wacc (regression:
 * WA_CORRECT 0, the output's absolute and squared errors in WA_ABS and
 * WA_SQ; WA_BYTES and WA_DENSE the bytes the exchange sent at some steps
 * only and what an uncompressed one would have sent, so that a resumed
 * epoch's bytes_sent and compression count the whole epoch.  Checkpoints
 * before those hold rows of WA_OLD_N or WA_OLD2_N: the rest read as 0) */
enum { WA_SAMPLES, WA_LOSS, WA_CORRECT, WA_DIV_SUM, WA_DIV_COUNT, WA_ABS, WA_SQ, WA_BYTES, WA_DENSE, WA_N };
#define WA_OLD_N WA_ABS
#define WA_OLD2_N WA_BYTES

typedef struct rg_run_state {
    rg_counters n;
    rg_sums f;
    float *moments[2];        /* [params] each: the optimizer's, whole */
    float *best;              /* [params] when n.has_best */
    double *lambda;           /* [world] per-worker strength factors */
    double *wacc;             /* [world x WA_N] */
    float *extra;             /* [world x extra_n]: each worker's strategy state
                                 (a codec's residual, PowerSGD's Q), when extra_n */
    uint64_t extra_n;
    struct rg_fed_state *fed; /* regula fed: the state its rounds keep (fed.*
                                 tensors), or NULL when it keeps none */
} rg_run_state;

/* Allocates the arrays for n.params, n.nstate, n.world, n.has_best and
 * extra_n (zeroed; fed NULL); rg_state_free frees them, and fed. */
rg_status rg_state_alloc(rg_run_state *s);
void rg_state_free(rg_run_state *s);

/* Writes DIR/ckpt-<step>.safetensors (step = n.step, 12 digits): the
 * model's weights under their usual names (so `eval --load` and `--init`
 * read it), "optimizer.<i>", "train.best", "train.lambda",
 * "train.workers", "train.counters", "train.figures", and metadata
 * "kind": "training", the configuration and a checksum over every tensor
 * and metadata value.  Atomic (rg_st_write); refuses non-finite weights.
 * Then deletes all but the newest `keep` checkpoints of DIR. */
rg_status rg_ckpt_write(const char *dir, const rg_model *m, const rg_config *c, const rg_run_state *ck, int keep);

/* Finds the newest valid checkpoint of dir, loads its weights into m and
 * its state into ck (allocated; rg_state_free).  A checkpoint that cannot be
 * read, fails its checksum or is inconsistent is skipped with a warning
 * (rg_log) naming the file, and the one before it is tried.  *found = 0
 * (RG_OK) when dir holds no checkpoint, or does not exist.  RG_EUSAGE when
 * the newest readable checkpoint trained something else (config mismatch:
 * not a corruption, so no fallback); RG_EDATA when every checkpoint of dir
 * is unreadable.  path (cap bytes) receives the file used. */
rg_status rg_ckpt_load(const char *dir, const rg_config *c, rg_model *m, rg_run_state *ck, int *found,
                       char *path, size_t cap);

/* The checksum a training checkpoint's metadata holds: FNV-1a 64 over its
 * tensors (by name: name, dtype, shape, bytes) and its other metadata (by
 * key).  Tests re-sign a file they damaged on purpose with it. */
uint64_t rg_ckpt_checksum(const struct rg_st *st);

/* Makes dir (one level) if missing and checks it is a writable directory:
 * before training, so that rg_ckpt_write finds it. */
rg_status rg_ckpt_dir_ready(const char *dir);
/* How many checkpoints dir holds, and the newest's file name. */
rg_status rg_ckpt_count(const char *dir, size_t *n, char *newest, size_t cap);

/* Removes temporary files a killed writer left in dir (<name>.tmp.<pid>). */
void rg_ckpt_clean(const char *dir);

/* ------------------------------------------------ the writer (writer.c) */

/* World rank 0's checkpoint writer: it owns a snapshot of the weights and
 * the state's arrays, which a checkpoint fills, and writes them from a
 * helper thread (at most one write in flight). */
typedef struct rg_writer rg_writer;
rg_status rg_writer_create(rg_writer **w, const char *dir, const rg_config *c, const rg_model *m, int nstate,
                           int world, int has_best);
/* The arrays a checkpoint fills (moments, best, lambda, wacc): free to
 * write once rg_writer_wait has returned. */
rg_run_state *rg_writer_state(rg_writer *w);
/* The write in flight is done (*wrote: there was one, and it is on disk:
 * the caller logs its "checkpoint" event, rg_writer_state's step and
 * samples); its failure is this thread's error. */
rg_status rg_writer_wait(rg_writer *w, int *wrote);
/* The writer's strategy state, [world x n] floats (made at the first call). */
float *rg_writer_extra(rg_writer *w, uint64_t n);
/* The writer's federated state (made empty at the first call; NULL when
 * memory runs out), for the strategy to fill before rg_writer_start. */
struct rg_fed_state *rg_writer_fed(rg_writer *w);
/* Snapshots m's weights and the counters and sums, and starts writing. */
rg_status rg_writer_start(rg_writer *w, const rg_model *m, const rg_counters *n, const rg_sums *f);
void rg_writer_free(rg_writer *w);
/* rg_model_save, answering MPI peers' pings while the file is written. */
rg_status rg_save_serviced(const rg_model *m, const char *path);

/* --class-weight (weights.c): one weight per output of m into *out
 * (rg_malloc'd; NULL without --class-weight): "balanced" from train's
 * class counts, or a file's, one per line in class order.  Errors name
 * the file and line. */
rg_status rg_class_weights(const rg_config *c, const rg_dataset *train, const rg_model *m, float **out);

/* ------------------------------------------------ the log (log.c) */

/* What the config event reports besides the configuration. */
typedef struct rg_log_run {
    const rg_config *c;
    size_t params, train_samples;
    const char *spec, *strategy;
    int workers, processes;
    int servers;              /* ps: serving ranks besides the workers (0: none) */
    const char *validation;   /* "held-out", "test" (the test set watched) or "none" */
    rg_model *m;              /* its dense layers: which kernel each product takes */
    long rows;                /* a worker's rows of a batch (the shapes the log names) */
} rg_log_run;

/* per-worker arrays of an epoch event, in this order */
enum { WL_SAMPLES, WL_LOSS, WL_LAMBDA, WL_COMPUTE, WL_COMM, WL_BYTES, WL_N };

void rg_log_config(FILE *f, const rg_log_run *r);
void rg_log_resume(FILE *f, const char *from, const rg_counters *n);
void rg_log_step(FILE *f, uint64_t step, int epoch, double loss, double lr);
void rg_log_skip(FILE *f, uint64_t step, int epoch, int worker, uint64_t skipped);
void rg_log_checkpoint(FILE *f, uint64_t step, uint64_t samples);
/* per: [WL_N x W], the per-worker arrays; compression: the exchange's
 * ratio of uncompressed to sent bytes (0: no codec, not written);
 * staleness: a parameter server's steps of the epoch by staleness
 * (RG_STALE_HIST counts, the last "that many or more"; NULL: none);
 * has_val: there is a validation set (else its figures are null);
 * regression: the figures are loss, mae and rmse instead of loss and acc */
void rg_log_epoch(FILE *f, const rg_epoch_stats *e, int has_val, int regression, uint64_t skipped, int W,
                  const double *per, double compression, const double *staleness);
/* an end event of a run stopped for a non-finite value at step (from 1) */
void rg_log_stopped(FILE *f, uint64_t step, int epoch, uint64_t skipped);
/* the end event: has_test, has_val say which figures exist (the others are
 * null); stopped, when not NULL, says why the run failed at its end
 * ("nonfinite_outputs": a final figure is not finite) */
void rg_log_end(FILE *f, const rg_train_result *r, int has_test, int has_val, int regression, const char *stopped);

#endif
