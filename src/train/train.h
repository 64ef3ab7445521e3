/*
 * train.h — layer 5, internal: what train.c shares with config.c and
 * resume.c (training checkpoints).
 */
#ifndef RG_TRAIN_H
#define RG_TRAIN_H

#include "core/core.h"

struct rg_st;
struct rg_st_tensor_in;

/* RG_OK when a run configured as c may resume from a checkpoint whose
 * configuration is saved_json (rg_config_json of the run that wrote it):
 * every option must match except outputs, --workers, --threads,
 * --shard-optimizer, checkpoint options and --comm-timeout.  Otherwise
 * RG_EUSAGE naming `what` (the checkpoint file), the option and both values. */
/* Resets those free options to their defaults: what a checkpoint stores,
 * so two runs that trained the same thing write the same bytes. */
void rg_config_resume_normalise(rg_config *c);
rg_status rg_config_resume_check(const rg_config *c, const char *saved_json, const char *what);

/* checkpoint.c: the model's tensors as rg_model_save writes them (pointing
 * into its arena; *t and *names are the caller's to rg_free), and loading
 * them from an open file (tensors "train.*" and "optimizer.*" of a
 * training checkpoint are not the model's and are left alone). */
rg_status rg_model_st_tensors(const rg_model *m, struct rg_st_tensor_in **t, char **names, size_t *n);
rg_status rg_model_load_st(rg_model *m, const struct rg_st *st);

/* ------------------------------------------------ training checkpoints */

/* Counters (u) and figures (d) of a training run between two steps: all
 * a resumed run needs, with the weights, to continue bit for bit. */
enum {
    CK_STEP,            /* steps done (the next step's number) */
    CK_EPOCH,           /* the epoch in progress, 0-based */
    CK_EPOCH_STEP,      /* steps of it done */
    CK_SAMPLES,         /* the data cursor: global samples consumed */
    CK_WORLD,           /* workers of the run that wrote it */
    CK_OPT_STEPS,       /* updates the optimizer took (skipped steps excluded) */
    CK_SKIPPED,         /* steps skipped for a non-finite value, in all */
    CK_EPOCH_SKIPPED,   /* ... in the epoch in progress */
    CK_RUN_SKIPPED,     /* ... in a row, up to now */
    CK_EPOCH_SAMPLES,   /* samples of the epoch in progress */
    CK_WAIT,            /* early stopping: epochs without improvement */
    CK_BEST_EPOCH,      /* early stopping: epoch of the best weights, 0 = none */
    CK_EPOCHS_RUN,      /* epochs completed */
    CK_NSTATE,          /* optimizer moment arenas */
    CK_PARAMS,          /* parameters */
    CK_HAS_BEST,        /* train.best holds the best weights */
    CK_NU
};
enum { CD_LOSS_SUM, CD_REG_SUM, CD_BEST_METRIC, CD_LR, CK_ND };
/* per-worker figures of the epoch in progress */
enum { WA_SAMPLES, WA_LOSS, WA_CORRECT, WA_DIV_SUM, WA_DIV_COUNT, WA_N };

typedef struct rg_ckpt {
    uint64_t u[CK_NU];
    double d[CK_ND];
    float *state[2];        /* optimizer moments, [P] each */
    float *best;            /* [P] when u[CK_HAS_BEST] */
    double *lambda;         /* [world] per-worker strength factors */
    double *wacc;           /* [world * WA_N] */
} rg_ckpt;

/* Allocates the arrays of ck for u[CK_PARAMS], u[CK_NSTATE], u[CK_WORLD]
 * and u[CK_HAS_BEST] (zeroed). */
rg_status rg_ckpt_alloc(rg_ckpt *ck);
void rg_ckpt_free(rg_ckpt *ck);

/* Writes DIR/ckpt-<step>.safetensors (step = u[CK_STEP], 12 digits): the
 * model's weights under their usual names (so `eval --load` and `--init`
 * read it), "optimizer.<i>", "train.best", "train.lambda",
 * "train.workers", "train.counters", "train.figures", and metadata
 * "kind": "training", the configuration and a checksum over every tensor
 * and metadata value.  Atomic (rg_st_write); refuses non-finite weights.
 * Then deletes all but the newest `keep` checkpoints of DIR. */
rg_status rg_ckpt_write(const char *dir, const rg_model *m, const rg_config *c, const rg_ckpt *ck, int keep);

/* Finds the newest valid checkpoint of dir, loads its weights into m and
 * its state into ck (allocated; rg_ckpt_free).  A checkpoint that cannot be
 * read, fails its checksum or is inconsistent is skipped with a warning
 * (rg_log) naming the file, and the one before it is tried.  *found = 0
 * (RG_OK) when dir holds no checkpoint, or does not exist.  RG_EUSAGE when
 * the newest readable checkpoint trained something else (config mismatch:
 * not a corruption, so no fallback); RG_EDATA when every checkpoint of dir
 * is unreadable.  path (cap bytes) receives the file used. */
rg_status rg_ckpt_load(const char *dir, const rg_config *c, rg_model *m, rg_ckpt *ck, int *found,
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

#endif
