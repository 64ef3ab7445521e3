/*
 * train.c — the trainer: synchronous data parallelism over a communicator,
 * evaluation and prediction.
 *
 * Every worker (a thread; under MPI, each process runs --workers threads)
 * holds a replica of the model and its own optimizer.  One step:
 *
 *   gather its share of the global batch by sample id
 *   → start the gradient: the local-scope penalty (own strength), or zeros
 *   → forward/backward: gradient of (sum of its sample losses) / B_step
 *   → all-reduce gradients + step statistics (one call, fixed rank order)
 *   → global-scope penalty gradient, added once, never communicated
 *   → clip → optimizer → max-norm
 *
 * B_step is the number of samples all workers processed in the step, so the
 * gradient is the sample-weighted average.  Replicas start from rank 0's
 * weights and apply identical updates, so they stay bitwise equal.
 *
 * Invariants: the epoch's order is a pure function of (seed, epoch) — of
 * (seed, epoch, worker) for a fixed partition; a dropout mask of (step,
 * sample id); so the sample→mask mapping never depends on the worker count.
 * Every decision (stop on non-finite, early stopping) is taken on
 * all-reduced figures, so all workers take it at the same step.  Only world
 * rank 0 writes the log and the checkpoint, opened after every input was
 * checked; the checkpoint is written atomically.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/dist.h"
#include "data/partition.h"
#include "nn/model.h"
#include "train/train.h"
#include <float.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- JSON lines */

static void jnum(FILE *f, const char *key, double v)
{
    if (isfinite(v)) fprintf(f, ",\"%s\":%.9g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

static void jarray(FILE *f, const char *key, const double *v, int n)
{
    fprintf(f, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) fprintf(f, "%s%.6g", i ? "," : "", v[i]);
        else fprintf(f, "%snull", i ? "," : "");
    }
    fputc(']', f);
}

/* ------------------------------------------------------------ helpers */

/* Fisher–Yates over ids driven by (seed, purpose, epoch, i). */
static void shuffle_ids(uint64_t *ids, size_t n, uint64_t seed, uint32_t purpose, int epoch)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t r[4];
        rg_rng4(seed, purpose, (uint64_t)epoch, i - 1, r);
        uint64_t x = ((uint64_t)r[0] << 32) | r[1];
        size_t j = (size_t)(x % (uint64_t)i);
        uint64_t t = ids[i - 1]; ids[i - 1] = ids[j]; ids[j] = t;
    }
}

static double lr_at(const rg_config *c, uint64_t step, int epoch0, uint64_t total_steps)
{
    double lr = c->lr;
    if (c->warmup > 0 && step < (uint64_t)c->warmup)
        return lr * (double)(step + 1) / (double)c->warmup;
    if (!strcmp(c->lr_schedule, "step")) {
        long k = c->lr_step_epochs > 0 ? epoch0 / c->lr_step_epochs : 0;
        return lr * pow(c->lr_gamma, (double)k);
    }
    if (!strcmp(c->lr_schedule, "cosine")) {
        uint64_t w = (uint64_t)(c->warmup > 0 ? c->warmup : 0);
        double span = total_steps > w ? (double)(total_steps - w) : 1.0;
        double pos = (double)(step - w) / span;
        if (pos > 1.0) pos = 1.0;
        return c->lr_min + (lr - c->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * pos));
    }
    return lr;
}

static rg_status check_dataset(const rg_model *m, const rg_dataset *ds, const char *role)
{
    if (!ds) return RG_OK;
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s (%s set) has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), role, rg_dataset_features(ds), rg_model_inputs(m));
    if (!rg_dataset_y(ds))
        return rg_error(RG_EDATA, "%s (%s set) has no labels", rg_dataset_name(ds), role);
    if ((size_t)rg_dataset_classes(ds) > rg_model_outputs(m))
        return rg_error(RG_EDATA, "%s (%s set): labels go up to %d but the model has %zu outputs",
                        rg_dataset_name(ds), role, rg_dataset_classes(ds) - 1, rg_model_outputs(m));
    return RG_OK;
}

static rg_status opt_config(const rg_config *c, rg_opt_config *oc)
{
    memset(oc, 0, sizeof *oc);
    if (!strcmp(c->optimizer, "sgd")) oc->kind = RG_OPT_SGD;
    else if (!strcmp(c->optimizer, "adam")) oc->kind = RG_OPT_ADAM;
    else if (!strcmp(c->optimizer, "adamw")) oc->kind = RG_OPT_ADAMW;
    else return rg_error(RG_EUSAGE, "--optimizer: unknown value '%s' (expected sgd, adam or adamw)", c->optimizer);
    oc->momentum = (float)c->momentum;
    oc->nesterov = c->nesterov;
    oc->beta1 = (float)c->beta1;
    oc->beta2 = (float)c->beta2;
    oc->eps = (float)c->eps;
    oc->weight_decay = (float)c->weight_decay;
    if (oc->nesterov && oc->momentum == 0.0f)
        return rg_error(RG_EUSAGE, "--nesterov needs --momentum > 0");
    return RG_OK;
}

/* ------------------------------------------------------------ evaluation */

/* Sum of data losses and count of correct predictions over rows [lo, hi);
 * or, with classes != NULL, the argmax class of each row.  strict: a row
 * whose outputs are not finite (NaN or Inf) is an error naming it, since
 * neither a loss nor a class can be read from it; else such a row's NaN
 * flows into the loss (a training run's validation figures say so). */
static rg_status eval_range(rg_model *m, const rg_dataset *ds, size_t lo, size_t hi, size_t batch, int strict,
                            double *loss_sum, size_t *correct, int32_t *classes)
{
    size_t d = rg_dataset_features(ds), k = rg_model_outputs(m);
    if (d != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), d, rg_model_inputs(m));
    const float *x = rg_dataset_x(ds);
    const int32_t *y = classes ? NULL : rg_dataset_y(ds);
    if (!classes && !y) return rg_error(RG_EDATA, "%s has no labels to evaluate against", rg_dataset_name(ds));
    if (batch == 0) batch = 256;
    float *probs = rg_malloc(batch * k * sizeof(float));
    if (!probs) return rg_error(RG_ENOMEM, "out of memory: outputs of a batch of %zu", batch);
    rg_pass pass = { .training = 0, .grad_scale = 1.0f };
    rg_status st = RG_OK;
    *loss_sum = 0.0;
    for (size_t s = lo; s < hi; s += batch) {
        size_t nb = hi - s < batch ? hi - s : batch;
        double l = 0.0;
        st = rg_model_forward_backward(m, x + s * d, y ? y + s : NULL, nb, &pass, 0, &l, correct, probs);
        if (st != RG_OK) break;
        if (strict && !rg_all_finite(probs, nb * k)) {
            size_t i = 0;
            while (rg_all_finite(probs + i * k, k)) i++;
            st = rg_error(RG_ENONFINITE, "sample %zu: the model's outputs are not finite (NaN or infinite): "
                          "its input or the model's weights overflow a float", s + i);
            break;
        }
        *loss_sum += l;
        if (classes)
            for (size_t i = 0; i < nb; i++) {
                const float *p = probs + i * k;
                size_t arg = 0;
                for (size_t j = 1; j < k; j++) if (p[j] > p[arg]) arg = j;
                classes[s + i] = (int32_t)arg;
            }
    }
    rg_free(probs);
    if (st != RG_OK) return rg_error_prefix(st, "%s: ", rg_dataset_name(ds));
    return RG_OK;
}

rg_status rg_evaluate(rg_model *m, const rg_dataset *ds, size_t batch, double *loss, double *acc)
{
    size_t n = rg_dataset_size(ds), correct = 0;
    double sum;
    rg_status st = eval_range(m, ds, 0, n, batch, 1, &sum, &correct, NULL);
    if (st != RG_OK) return st;
    if (loss) *loss = n ? sum / (double)n + rg_model_penalty(m, 1.0f, NULL) : NAN;
    if (acc) *acc = n ? (double)correct / (double)n : NAN;
    return RG_OK;
}

rg_status rg_predict(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes)
{
    double sum;
    return eval_range(m, ds, 0, rg_dataset_size(ds), batch, 1, &sum, NULL, classes);
}

/* ------------------------------------------------------------ training */

enum { TAIL_LOSS, TAIL_REG, TAIL_BAD, TAIL_BADRANK };   /* in the RG_GRAD_TAIL */
/* --skip-nonfinite gives up after this many skipped steps in a row: the
 * weights themselves have gone bad, and skipping cannot mend them */
#define RG_SKIP_LIMIT 100
enum { WS_SAMPLES, WS_LOSS, WS_CORRECT, WS_COMPUTE, WS_COMM, WS_BYTES, WS_DIV, WS_N };

/* What every worker of this process shares (read-only while training). */
typedef struct shared {
    const rg_config *c;
    rg_model *m;                /* the caller's model: start and result */
    const rg_dataset *train, *val, *test;
    rg_progress_fn progress;
    void *ud;
    rg_opt_config oc;
    int threads, world;         /* workers in this process, in all */
    rg_comm **ranks;            /* one handle per thread */
    int iid;                    /* global batch split (no fixed owner) */
    rg_parts parts;             /* owners, for skewed partitions */
    int local_scope, adapt;     /* adapt: 0 none, 1 size, 2 skew, 3 divergence */
    double *lambda;             /* per-worker strength factor, [world] */
    FILE *log;                  /* world rank 0 only */
    const rg_ckpt *ck;          /* the state to resume from, or NULL */
    const char *ck_dir;         /* where checkpoints go, or NULL */
    rg_optimizer **opts;        /* each thread's optimizer ([threads]): the
                                   checkpoint writer reads shared-weight slices */
    rg_train_result result;     /* filled by world rank 0 ... and thread 0 */
    rg_status status[RG_MAX_WORKERS];     /* per thread */
} shared;
/* Workers only read *s while training, except status[t] and result (each
 * written by one thread) and the log (world rank 0). */

typedef struct worker {
    shared *s;
    int t;                      /* thread index in this process */
} worker;

static int improved(const rg_config *c, double v, double best)
{
    if (!isfinite(v)) return 0;
    if (!isfinite(best)) return 1;
    if (!strcmp(c->monitor, "val_acc")) return v > best + c->min_delta;
    return v < best - c->min_delta;
}

/* The four step figures a worker adds to the exchange: its loss sum, its
 * penalty, whether its loss or gradient is non-finite, and then its rank + 1. */
static void step_figures(float *out, double loss, double reg, int grad_ok, int g)
{
    int bad = !isfinite(loss) || !grad_ok;
    out[TAIL_LOSS] = (float)loss;
    out[TAIL_REG] = (float)reg;
    out[TAIL_BAD] = bad ? 1.0f : 0.0f;
    out[TAIL_BADRANK] = bad ? (float)(g + 1) : 0.0f;
}

/* Samples worker k owns (skewed partitions). */
static size_t part_n(const shared *s, int k) { return s->parts.offset[k + 1] - s->parts.offset[k]; }

/* λ factors normalised so that their sample-weighted mean is 1, into out. */
static void normalise_lambda(const shared *s, const double *raw, double *out)
{
    double num = 0.0, den = 0.0;
    for (int k = 0; k < s->world; k++) {
        double n = s->iid ? 1.0 : (double)part_n(s, k);
        num += n;
        den += n * raw[k];
    }
    for (int k = 0; k < s->world; k++) out[k] = den > 0.0 ? raw[k] * num / den : 1.0;
}

/* Initial per-worker strengths from the partition (size, skew). */
static void initial_lambda(shared *s)
{
    int W = s->world;
    double raw[RG_MAX_WORKERS];
    for (int k = 0; k < W; k++) raw[k] = 1.0;
    if (s->adapt == 1 && !s->iid) {
        for (int k = 0; k < W; k++) raw[k] = part_n(s, k) ? 1.0 / (double)part_n(s, k) : 0.0;
    } else if (s->adapt == 2 && !s->iid) {
        /* 1 + KL(worker's label mix || global label mix) */
        int C = rg_dataset_classes(s->train);
        const int32_t *y = rg_dataset_y(s->train);
        double *g = rg_calloc((size_t)C, sizeof *g), *w = rg_calloc((size_t)C, sizeof *w);
        if (g && w) {
            size_t N = rg_dataset_size(s->train);
            for (size_t i = 0; i < N; i++) g[y[i]] += 1.0 / (double)N;
            for (int k = 0; k < W; k++) {
                size_t n = part_n(s, k);
                memset(w, 0, (size_t)C * sizeof *w);
                for (size_t i = s->parts.offset[k]; i < s->parts.offset[k + 1]; i++) w[y[s->parts.ids[i]]] += 1.0 / (double)n;
                double kl = 0.0;
                for (int c = 0; c < C; c++) if (w[c] > 0.0 && g[c] > 0.0) kl += w[c] * log(w[c] / g[c]);
                raw[k] = 1.0 + kl;
            }
        }
        rg_free(g);
        rg_free(w);
    }
    normalise_lambda(s, raw, s->lambda);
}

/* Worker k's samples in step `step` of the epoch, as [lo, hi) of its list. */
static void part_window(const shared *s, int k, size_t b_loc, uint64_t step, size_t *lo, size_t *hi)
{
    size_t n = part_n(s, k);
    size_t a = (size_t)step * b_loc;
    *lo = a < n ? a : n;
    *hi = a + b_loc < n ? a + b_loc : n;
}

static void tree_sum(float *bufs, size_t stride, size_t n, int S)
{
    /* pairwise, in a fixed order that depends only on S */
    for (int w = 1; w < S; w *= 2)
        for (int j = 0; j + w < S; j += 2 * w) {
            float *a = bufs + (size_t)j * stride;
            const float *b = bufs + (size_t)(j + w) * stride;
            for (size_t i = 0; i < n; i++) a[i] += b[i];
        }
}

/* Distributed evaluation: the set is cut into chunks of EVAL_CHUNK rows
 * fixed by the data alone; every worker evaluates a run of whole chunks,
 * and the chunks' sums are added in chunk order.  So every figure is the
 * same bits for any worker count (--deterministic promises it; it costs
 * nothing elsewhere).  Every worker gets the same totals.  Returns mean
 * loss + penalty and accuracy. */
#define EVAL_CHUNK 1024
static rg_status eval_dist(rg_model *m, rg_comm *comm, const rg_dataset *ds, double *loss, double *acc)
{
    int g = rg_comm_rank(comm), W = rg_comm_size(comm);
    size_t n = rg_dataset_size(ds), C = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    size_t c_lo = C * (size_t)g / (size_t)W, c_hi = C * (size_t)(g + 1) / (size_t)W;
    double *sums = rg_calloc(2 * (C ? C : 1), sizeof *sums);   /* per chunk: loss sum, correct */
    if (!sums) return rg_error(RG_ENOMEM, "out of memory evaluating %s", rg_dataset_name(ds));
    rg_status st = RG_OK;
    for (size_t k = c_lo; k < c_hi && st == RG_OK; k++) {
        size_t lo = k * EVAL_CHUNK, hi = lo + EVAL_CHUNK < n ? lo + EVAL_CHUNK : n, correct = 0;
        st = eval_range(m, ds, lo, hi, EVAL_CHUNK, 0, &sums[2 * k], &correct, NULL);
        sums[2 * k + 1] = (double)correct;
    }
    /* read the weights before the collective: after it, a peer sharing them
     * may already be writing (restoring the best ones) */
    double penalty = rg_model_penalty(m, 1.0f, NULL);
    /* one contributor per chunk, zeros elsewhere: the sum is exact */
    if (st == RG_OK && W > 1) st = rg_comm_allreduce_f64(comm, sums, 2 * C, RG_REDUCE_SUM);
    double l = 0.0, right = 0.0;
    for (size_t k = 0; k < C; k++) { l += sums[2 * k]; right += sums[2 * k + 1]; }
    rg_free(sums);
    if (st != RG_OK) return st;
    *loss = n > 0 ? l / (double)n + penalty : NAN;
    *acc = n > 0 ? right / (double)n : NAN;
    return RG_OK;
}

/* The checkpoint writer of world rank 0: a snapshot of the state (a copy of
 * the model and of every array) written by a background thread while
 * training goes on, so a checkpoint costs the step a copy, not a file
 * write and two fsyncs (README: 9 ms each for the reference model here).
 * At most one write is in flight: the next checkpoint, and the end of
 * training, first wait for it and report its failure. */
/* A job on a helper thread (a checkpoint write, the final save) while the
 * thread that started it may go on or wait.  Waiting, it answers peers'
 * liveness pings under MPI: a slow disk is not a dead process. */
typedef struct bg_job {
    rg_status (*fn)(void *arg);
    void *arg;
    pthread_t th;
    int running;
    atomic_int done;
    rg_status st;
    char msg[1024];             /* the helper thread's message (errors are per thread) */
} bg_job;

static void *bg_main(void *p)
{
    bg_job *j = p;
    j->st = j->fn(j->arg);
    snprintf(j->msg, sizeof j->msg, "%s", j->st != RG_OK ? rg_last_error() : "");
    atomic_store(&j->done, 1);
    return NULL;
}

static rg_status bg_start(bg_job *j, rg_status (*fn)(void *), void *arg)
{
    j->fn = fn;
    j->arg = arg;
    atomic_store(&j->done, 0);
    if (pthread_create(&j->th, NULL, bg_main, j) != 0) return rg_error(RG_ENOMEM, "cannot start a helper thread");
    j->running = 1;
    return RG_OK;
}

/* Waits for the job; with report, its failure becomes this thread's error. */
static rg_status bg_wait(bg_job *j, int report)
{
    if (!j->running) return RG_OK;
    while (rg_dist_process() && !atomic_load(&j->done)) {
        rg_dist_service();
        struct timespec nap = { 0, 1000000 };
        nanosleep(&nap, NULL);
    }
    pthread_join(j->th, NULL);
    j->running = 0;
    if (report && j->st != RG_OK) return rg_error(j->st, "%s", j->msg);
    return RG_OK;
}

typedef struct ck_writer {
    shared *s;
    rg_model *snap;             /* weights as they were at the snapshot */
    rg_ckpt ck;                 /* arrays owned here */
    bg_job job;                 /* the write in flight */
} ck_writer;

static rg_status ck_write(void *arg)
{
    ck_writer *w = arg;
    return rg_ckpt_write(w->s->ck_dir, w->snap, w->s->c, &w->ck, w->s->c->keep);
}

/* Waits for the write in flight; its failure becomes this thread's error. */
static rg_status ck_writer_wait(ck_writer *w)
{
    if (!w || !w->job.running) return RG_OK;
    rg_status st = bg_wait(&w->job, 1);
    if (st == RG_OK && w->s->log)
        fprintf(w->s->log, "{\"event\":\"checkpoint\",\"step\":%llu,\"samples\":%llu}\n",
                (unsigned long long)w->ck.u[CK_STEP], (unsigned long long)w->ck.u[CK_SAMPLES]);
    return st;
}

static void ck_writer_free(ck_writer *w)
{
    if (!w) return;
    /* a stop on another path (non-finite, a peer's failure): the write in
     * flight ends as it may; its status is not this stop's */
    bg_wait(&w->job, 0);
    rg_model_free(w->snap);
    rg_ckpt_free(&w->ck);
    rg_free(w);
}

/* Takes a training checkpoint: a collective of every worker (the
 * per-worker figures, and the optimizer's slices when they are spread);
 * world rank 0 snapshots the state and hands it to its writer thread.
 * ck->u and ck->d are filled by the caller. */
static rg_status save_checkpoint(shared *s, ck_writer **wp, rg_comm *comm, rg_model *m, rg_optimizer *opt,
                                 const float *best, const double *lam, const rg_ckpt *ck, const double *mine,
                                 int sharded, int shared_w, size_t chunk)
{
    int g = rg_comm_rank(comm), W = rg_comm_size(comm), ns = rg_optimizer_state_count(opt);
    size_t P = rg_model_param_count(m);
    rg_status st = RG_OK;
    double *wacc = rg_calloc((size_t)W * WA_N, sizeof *wacc);
    float *gath = NULL;
    if (!wacc) return rg_error(RG_ENOMEM, "out of memory writing a checkpoint");
    memcpy(wacc + (size_t)g * WA_N, mine, WA_N * sizeof *wacc);
    if (W > 1 && (st = rg_comm_allreduce_f64(comm, wacc, (size_t)W * WA_N, RG_REDUCE_SUM)) != RG_OK) goto out;
    if (sharded && !(gath = rg_calloc(chunk * (size_t)W, sizeof(float)))) {
        st = rg_error(RG_ENOMEM, "out of memory writing a checkpoint");
        goto out;
    }
    ck_writer *w = NULL;
    if (g == 0) {
        /* the previous write must be done (and good) before its buffers are reused */
        if ((st = ck_writer_wait(*wp)) != RG_OK) goto out;
        if (!*wp) {
            if (!(w = rg_calloc(1, sizeof *w))) { st = rg_error(RG_ENOMEM, "out of memory writing a checkpoint"); goto out; }
            w->s = s;
            w->ck.u[CK_PARAMS] = P;
            w->ck.u[CK_NSTATE] = (uint64_t)ns;
            w->ck.u[CK_WORLD] = (uint64_t)W;
            w->ck.u[CK_HAS_BEST] = best != NULL;
            if ((st = rg_model_clone(m, &w->snap)) != RG_OK || (st = rg_ckpt_alloc(&w->ck)) != RG_OK) {
                ck_writer_free(w);
                goto out;
            }
            *wp = w;
        }
        w = *wp;
        memcpy(w->ck.u, ck->u, sizeof ck->u);
        memcpy(w->ck.d, ck->d, sizeof ck->d);
        w->ck.u[CK_HAS_BEST] = best != NULL;
        memcpy(rg_model_params(w->snap), rg_model_params(m), P * sizeof(float));
        memcpy(w->ck.wacc, wacc, (size_t)W * WA_N * sizeof *wacc);
        memcpy(w->ck.lambda, lam, (size_t)W * sizeof *lam);
        if (best) memcpy(w->ck.best, best, P * sizeof(float));
    }
    for (int i = 0; i < ns; i++) {
        if (sharded) {
            /* ZeRO-1: every worker holds a slice of the moments */
            if ((st = rg_comm_allgather(comm, rg_optimizer_state(opt, i), chunk, gath)) != RG_OK) goto out;
            if (g == 0) memcpy(w->ck.state[i], gath, P * sizeof(float));
        } else if (shared_w && g == 0) {
            /* shared weights: thread k's optimizer holds slice k (peers wait
             * in the barrier below until this copy is done) */
            for (int k = 0; k < W; k++) {
                size_t lo = (size_t)k * chunk, hi = lo + chunk;
                if (lo > P) lo = P;
                if (hi > P) hi = P;
                memcpy(w->ck.state[i] + lo, rg_optimizer_state(s->opts[k], i), (hi - lo) * sizeof(float));
            }
        } else if (g == 0) {
            memcpy(w->ck.state[i], rg_optimizer_state(opt, i), P * sizeof(float));
        }
    }
    if (g == 0) {
        if ((st = bg_start(&w->job, ck_write, w)) != RG_OK) goto out;
    }
    /* with shared weights nobody updates them (or its moments) before
     * thread 0 has copied them */
    if (shared_w) st = rg_comm_barrier(comm);
out:
    rg_free(wacc);
    rg_free(gath);
    return st;
}

static rg_status worker_run(shared *s, int t)
{
    const rg_config *c = s->c;
    rg_comm *comm = s->ranks[t];
    int g = rg_comm_rank(comm), W = rg_comm_size(comm), lead = g == 0;
    size_t N = rg_dataset_size(s->train), d = rg_dataset_features(s->train);
    const float *X = rg_dataset_x(s->train);
    const int32_t *Y = rg_dataset_y(s->train);
    size_t B = (size_t)c->batch < N ? (size_t)c->batch : N;
    int det = c->deterministic, S = det ? c->det_shards : 1;
    size_t b_loc = s->iid ? (B + (size_t)W - 1) / (size_t)W : (B / (size_t)W ? B / (size_t)W : 1);
    size_t cap = det ? (B + (size_t)S - 1) / (size_t)S : b_loc;   /* rows in one pass */
    /* Local scope: the penalty starts each worker's gradient.  In a world of
     * one that is the same sum as the global scope, in one pass fewer; but
     * not under --deterministic, whose bits must not depend on the count. */
    int penalty_first = s->local_scope || (W == 1 && !det);
    int has_penalty = rg_model_has_penalty(s->m);
    int has_maxnorm = rg_model_has_maxnorm(s->m);

    rg_model *m = s->m;
    rg_optimizer *opt = NULL;
    uint64_t *order = NULL, *ids = NULL;
    float *xb = NULL, *best = NULL, *shards = NULL, *gathered = NULL, *pre = NULL, *gslice = NULL;
    int32_t *yb = NULL;
    double *lam = NULL;
    ck_writer *writer = NULL;   /* world rank 0's checkpoint writer */
    rg_status st = RG_OK;
    /* Threads of one process (no MPI) share one copy of the weights when
     * the weights outgrow a core's L2 cache (1 MiB here): each worker has
     * its own gradient and workspace and updates a 1/W slice of the weights
     * with 1/W of the optimizer state, so the cache holds one copy instead
     * of W (1024-wide model, 2 threads: 1.60x against 1.39x, README).  Smaller
     * weights stay replicated: each fits a core's own cache, and sharing
     * would move every updated line between cores (reference model: 1.26x
     * shared, 1.4-1.7x replicated).  Under MPI every worker keeps a
     * replica.  The caller's model is thread 0's either way. */
    int shared_w = s->threads > 1 && !rg_dist_process() &&
                   rg_model_param_count(s->m) * sizeof(float) > ((size_t)1 << 20);
    if (t > 0 && (st = shared_w ? rg_model_share(s->m, &m) : rg_model_clone(s->m, &m)) != RG_OK) goto fail;
    size_t P = rg_model_param_count(m), PT = P + RG_GRAD_TAIL;
    float *params = rg_model_params(m), *grads = rg_model_grads(m);
    /* --shard-optimizer (ZeRO stage 1): reduce-scatter the gradient, each
     * worker updates a 1/W slice with 1/W of the optimizer state, then
     * all-gather the weights: the bytes of an all-reduce, 1/W of the
     * optimizer work and state.  Three collectives a step instead of one,
     * so on these small models it is slower (README); it pays where the
     * optimizer state is what does not fit.  Slices are whole cache lines;
     * the arenas' padding (RG_ARENA_PAD, zeros) absorbs the rounding.  Not
     * under --deterministic (fixed shards) or --reg-adapt divergence (needs
     * the whole averaged gradient on every worker). */
    int sharded = W > 1 && !det && s->adapt != 3 && c->shard_optimizer && !shared_w;
    /* This worker's slice of the arena, [sh_lo, sh_hi), for either kind of
     * split update: multiples of 16 floats (the arena itself is only
     * malloc-aligned, so a boundary line may be shared), the last short. */
    size_t chunk = ((P + (size_t)W - 1) / (size_t)W + 15) / 16 * 16;
    size_t g_lo = (size_t)g * chunk;
    size_t sh_lo = g_lo < P ? g_lo : P, sh_hi = g_lo + chunk < P ? g_lo + chunk : P;
    RG_ASSERT(!sharded || chunk * (size_t)W <= P + RG_ARENA_PAD);
    size_t opt_n = sharded ? chunk : shared_w ? sh_hi - sh_lo : P;
    if ((st = rg_optimizer_create(&s->oc, opt_n ? opt_n : 1, &opt)) != RG_OK) goto fail;
    /* A step is judged by whether its update can be done: a gradient
     * element beyond the optimizer's limit (Adam keeps g*g) counts as
     * non-finite.  A worker's own gradient is held to it unless clipping
     * comes between (the clipped sum is checked instead). */
    float lim = rg_optimizer_grad_limit(opt), own_lim = c->clip_norm > 0.0 ? FLT_MAX : lim;
    if (sharded && !(gslice = rg_calloc(chunk, sizeof *gslice))) {
        st = rg_error(RG_ENOMEM, "out of memory setting up worker %d", g);
        goto fail;
    }
    size_t list_n = s->iid ? N : part_n(s, g);
    order = rg_calloc(list_n ? list_n : 1, sizeof *order);
    ids = rg_calloc(cap, sizeof *ids);
    xb = rg_calloc(cap * d, sizeof *xb);
    yb = rg_calloc(cap, sizeof *yb);
    best = c->early_stop > 0 ? rg_calloc(P, sizeof *best) : NULL;
    if (det) shards = rg_calloc((size_t)S * PT, sizeof *shards);
    if (det && W > 1) gathered = rg_calloc((size_t)S * PT, sizeof *gathered);
    if (s->adapt == 3) pre = rg_calloc(P, sizeof *pre);
    /* this worker's copy of the strengths: the divergence policy rewrites
     * them each epoch, while peers may still be reading theirs */
    lam = rg_calloc((size_t)W, sizeof *lam);
    if (lam) memcpy(lam, s->lambda, (size_t)W * sizeof *lam);
    if (!order || !ids || !xb || !yb || (c->early_stop > 0 && !best) || (det && !shards) || (det && W > 1 && !gathered) || !lam || (s->adapt == 3 && !pre)) {
        st = rg_error(RG_ENOMEM, "out of memory setting up worker %d", g);
        goto fail;
    }
    /* replicas start from world rank 0's weights (after every clone is made) */
    if (W > 1 && !shared_w && ((st = rg_comm_barrier(comm)) != RG_OK ||
                               (st = rg_comm_broadcast(comm, params, P * sizeof(float), 0)) != RG_OK))
        goto fail;
    s->opts[t] = opt;
    /* a resumed run: this worker's part of the optimizer's moments (the
     * checkpoint holds them whole), its early-stopping copy, the strengths */
    const rg_ckpt *ck = s->ck;
    int same_world = ck && ck->u[CK_WORLD] == (uint64_t)W;
    if (ck) {
        for (int i = 0; i < (int)ck->u[CK_NSTATE] && i < rg_optimizer_state_count(opt); i++) {
            float *dst = rg_optimizer_state(opt, i);
            if (sharded || shared_w) {
                size_t lo = g_lo < P ? g_lo : P, hi = g_lo + chunk < P ? g_lo + chunk : P;
                memcpy(dst, ck->state[i] + lo, (hi - lo) * sizeof(float));
            } else {
                memcpy(dst, ck->state[i], P * sizeof(float));
            }
        }
        rg_optimizer_set_steps(opt, ck->u[CK_OPT_STEPS]);
        if (best && ck->best) memcpy(best, ck->best, P * sizeof(float));
        if (same_world) memcpy(lam, ck->lambda, (size_t)W * sizeof *lam);
    }

    uint64_t steps_per_epoch;
    if (s->iid) steps_per_epoch = (N + B - 1) / B;
    else {
        steps_per_epoch = 0;
        for (int k = 0; k < W; k++) {
            uint64_t sk = (part_n(s, k) + b_loc - 1) / b_loc;
            if (sk > steps_per_epoch) steps_per_epoch = sk;
        }
    }
    uint64_t total_steps = steps_per_epoch * (uint64_t)c->epochs, step = ck ? ck->u[CK_STEP] : 0;
    uint64_t samples_done = ck ? ck->u[CK_SAMPLES] : 0, skipped = ck ? ck->u[CK_SKIPPED] : 0;
    uint64_t run_skipped = ck ? ck->u[CK_RUN_SKIPPED] : 0;
    double best_metric = ck ? ck->d[CD_BEST_METRIC] : NAN;
    long wait = ck ? (long)ck->u[CK_WAIT] : 0;
    int epoch0 = ck ? (int)ck->u[CK_EPOCH] : 0;
    rg_train_result r = { .test_loss = NAN, .test_acc = NAN, .train_loss = NAN, .train_acc = NAN };
    if (ck) {
        r.best_epoch = (int)ck->u[CK_BEST_EPOCH];
        r.epochs_run = (int)ck->u[CK_EPOCHS_RUN];
        r.steps = step;
    }
    double bytes_per_step = W > 1 ? 2.0 * (double)(W - 1) / (double)W * (double)PT * sizeof(float) : 0.0;
    if (det) bytes_per_step = W > 1 ? (double)(W - 1) / (double)W * (double)S * (double)PT * sizeof(float) : 0.0;

    for (int epoch = epoch0; epoch < c->epochs; epoch++) {
        double t0 = rg_now(), t_comm = 0.0, loss_sum = 0.0, reg_sum = 0.0, lr = c->lr, div_sum = 0.0;
        size_t my_samples = 0, my_correct = 0, all_samples = 0;
        double my_loss = 0.0;
        int div_count = 0;
        uint64_t es0 = 0, epoch_skipped = 0;
        size_t samples_t0 = 0;   /* of this epoch, before this process started it (a resume) */
        if (ck && epoch == epoch0) {
            /* the epoch in progress when the checkpoint was written */
            es0 = ck->u[CK_EPOCH_STEP];
            loss_sum = ck->d[CD_LOSS_SUM];
            reg_sum = ck->d[CD_REG_SUM];
            lr = ck->d[CD_LR];
            all_samples = (size_t)ck->u[CK_EPOCH_SAMPLES];
            epoch_skipped = ck->u[CK_EPOCH_SKIPPED];
            samples_t0 = all_samples;
            if (same_world) {
                const double *a = ck->wacc + (size_t)g * WA_N;
                my_samples = (size_t)a[WA_SAMPLES];
                my_loss = a[WA_LOSS];
                my_correct = (size_t)a[WA_CORRECT];
                div_sum = a[WA_DIV_SUM];
                div_count = (int)a[WA_DIV_COUNT];
            } else if (g == 0) {
                /* another worker count: worker 0 carries the epoch's totals so
                 * far (the accuracy stays exact; the per-worker split restarts) */
                for (uint64_t k = 0; k < ck->u[CK_WORLD]; k++) {
                    const double *a = ck->wacc + k * WA_N;
                    my_samples += (size_t)a[WA_SAMPLES];
                    my_loss += a[WA_LOSS];
                    my_correct += (size_t)a[WA_CORRECT];
                }
            }
        }
        if (s->iid) {
            for (size_t i = 0; i < N; i++) order[i] = i;
            if (c->shuffle) shuffle_ids(order, N, c->seed, RG_RNG_SHUFFLE, epoch);
        } else {
            memcpy(order, s->parts.ids + s->parts.offset[g], list_n * sizeof *order);
            if (c->shuffle) shuffle_ids(order, list_n, c->seed, RG_RNG_SHUFFLE + 256u * (uint32_t)(g + 1), epoch);
        }
        for (uint64_t es = es0; es < steps_per_epoch; es++, step++) {
            if (t == 0 && rg_hook_set()) {
                /* kill tests (a no-op otherwise): what was written is on disk */
                if ((st = ck_writer_wait(writer)) != RG_OK) goto fail;
                rg_hook_point("step");
            }
            /* this step's global batch: B_step samples in all */
            size_t b_step, b0 = 0, nb_global = 0;
            if (s->iid) {
                b0 = (size_t)es * B;
                nb_global = N - b0 < B ? N - b0 : B;
                b_step = nb_global;
            } else {
                b_step = 0;
                for (int k = 0; k < W; k++) {
                    size_t lo, hi;
                    part_window(s, k, b_loc, es, &lo, &hi);
                    b_step += hi - lo;
                }
            }
            float scale = 1.0f / (float)b_step;
            double data_loss = 0.0, reg_local = 0.0;
            size_t mine = 0, step_correct = 0;   /* counted once the step is kept */
            double div_step = 0.0;
            int has_div = 0;
            /* passes: one per owned shard (deterministic) or one */
            int p_lo = det ? g * S / W : 0, p_hi = det ? (g + 1) * S / W : 1;
            for (int sh = p_lo; sh < p_hi; sh++) {
                size_t lo, hi;
                const uint64_t *src;
                if (s->iid) {
                    int parts = det ? S : W, me = det ? sh : g;
                    lo = b0 + nb_global * (size_t)me / (size_t)parts;
                    hi = b0 + nb_global * (size_t)(me + 1) / (size_t)parts;
                    src = order;
                } else {
                    part_window(s, g, b_loc, es, &lo, &hi);
                    src = order;
                }
                size_t nb = hi - lo;
                for (size_t i = 0; i < nb; i++) {
                    uint64_t id = src[lo + i];
                    ids[i] = id;
                    memcpy(xb + i * d, X + id * d, d * sizeof(float));
                    yb[i] = Y[id];
                }
                /* a local penalty rides in this worker's (or shard's) gradient,
                 * weighted by its share of the step's samples */
                float strength = (float)(lam[g] * (double)nb * (double)scale);
                /* the gradient starts at the local penalty's, or the backward
                 * pass overwrites it (no zeroing pass); an empty share has no
                 * backward, so it is zeroed */
                int start = penalty_first && has_penalty;
                double reg = start ? rg_model_start_grad(m, strength) : 0.0;
                if (!start && nb == 0) rg_model_zero_grad(m);
                rg_pass pass = { .seed = c->seed, .step = step, .sample_ids = ids, .training = 1,
                                 .label_smoothing = (float)c->label_smoothing, .grad_scale = scale,
                                 .overwrite = !start };
                double l = 0.0;
                if ((st = rg_model_forward_backward(m, xb, yb, nb, &pass, 1, &l, &step_correct, NULL)) != RG_OK) {
                    rg_error_prefix(st, "%s: worker %d: ", rg_dataset_name(s->train), g);
                    goto fail;
                }
                data_loss += l;
                reg_local += reg;
                mine += nb;
                if (det) {
                    step_figures(grads + P, l, reg, rg_max_abs(grads, P) <= own_lim, g);
                    memcpy(shards + (size_t)(sh - p_lo) * PT, grads, PT * sizeof(float));
                }
            }
            if (s->adapt == 3 && es % 8 == 0) memcpy(pre, grads, P * sizeof(float));
            double tc = rg_now();
            double tl[4];   /* the step's loss sum, penalty, non-finite count, bad rank */
            int sum_bad = 0;   /* every worker's own gradient was fine, but the gradient the
                                  update takes (summed, penalised, clipped) is not */
            double shard_norm = 0.0;   /* --shard-optimizer: the global norm, for clipping */
            if (det) {
                /* gather every shard's gradient, sum them in a fixed tree */
                float *all = shards;
                if (W > 1) {
                    if ((st = rg_comm_allgather(comm, shards, (size_t)(S / W) * PT, gathered)) != RG_OK) goto fail;
                    all = gathered;
                }
                tree_sum(all, PT, PT, S);
                memcpy(grads, all, PT * sizeof(float));
                for (int k = 0; k < 4; k++) tl[k] = grads[P + (size_t)k];
            } else if (sharded) {
                /* a global penalty's gradient goes into this worker's own
                 * block only: the block the reduce-scatter hands back to it,
                 * so it is added once and never leaves the worker */
                double pen = penalty_first ? reg_local
                                           : rg_model_penalty_range(m, 1.0f, grads + sh_lo, sh_lo, sh_hi);
                float f[4];
                step_figures(f, data_loss, pen, rg_max_abs(grads, P) <= own_lim, g);
                for (int k = 0; k < 4; k++) tl[k] = f[k];
                if ((st = rg_comm_allreduce_f64(comm, tl, 4, RG_REDUCE_SUM)) != RG_OK ||
                    (st = rg_comm_reduce_scatter(comm, grads, chunk, gslice, RG_REDUCE_SUM)) != RG_OK)
                    goto fail;
                /* no worker holds the whole sum: each tests its slice, and the
                 * slices' verdicts (and squared norms, for clipping) are summed */
                size_t own = sh_hi - sh_lo;
                double chk[2] = { 0.0, 0.0 };
                if (c->clip_norm > 0.0)
                    for (size_t i = 0; i < own; i++) chk[0] += (double)gslice[i] * gslice[i];
                else
                    chk[1] = rg_max_abs(gslice, own) > lim;
                if ((st = rg_comm_allreduce_f64(comm, chk, 2, RG_REDUCE_SUM)) != RG_OK) goto fail;
                shard_norm = sqrt(chk[0]);
                sum_bad = tl[TAIL_BAD] == 0.0 &&
                          (chk[1] > 0.0 || !isfinite(shard_norm) || (c->clip_norm > lim && shard_norm > lim));
            } else {
                float *tail = grads + P;
                step_figures(tail, data_loss, reg_local, rg_max_abs(grads, P) <= own_lim, g);
                if (W > 1 && (st = rg_comm_allreduce(comm, grads, PT, RG_REDUCE_SUM)) != RG_OK) goto fail;
                for (int k = 0; k < 4; k++) tl[k] = tail[k];
            }
            t_comm += rg_now() - tc;
            if (s->adapt == 3 && es % 8 == 0 && mine > 0) {
                /* how far this worker's own gradient is from the average:
                 * ||g_own - g_avg|| / ||g_avg||, g_own rescaled to its samples */
                double k = (double)b_step / (double)mine, dd = 0.0, nn = 0.0;
                for (size_t i = 0; i < P; i++) {
                    double a = (double)pre[i] * k - (double)grads[i];
                    dd += a * a;
                    nn += (double)grads[i] * grads[i];
                }
                div_step = nn > 0.0 ? sqrt(dd / nn) : 0.0;
                has_div = 1;
            }
            double reg = penalty_first || sharded ? tl[TAIL_REG] : rg_model_penalty(m, 1.0f, grads);
            if (!sharded && tl[TAIL_BAD] == 0.0) {
                /* the gradient the update takes: every worker holds the same
                 * one, so every worker reaches the same verdict */
                if (c->clip_norm > 0.0) {
                    double norm = rg_clip_global_norm(grads, P, c->clip_norm);
                    /* clipped, no element exceeds min(norm, clip) */
                    sum_bad = !isfinite(norm) || (fmin(norm, c->clip_norm) > lim && rg_max_abs(grads, P) > lim);
                } else if (W > 1 || !penalty_first) {
                    /* summed, or penalised since each worker's own test */
                    sum_bad = rg_max_abs(grads, P) > lim;
                }
            }
            double batch_loss = tl[TAIL_LOSS] / (double)b_step + reg;
            /* steps are numbered from 1 in messages and in the log, as the
             * step events count them */
            unsigned long long step1 = (unsigned long long)step + 1;
            if ((tl[TAIL_BAD] > 0.0 || sum_bad || !isfinite(batch_loss)) && c->skip_nonfinite && run_skipped < RG_SKIP_LIMIT) {
                /* every worker saw the same figures: all skip this update */
                skipped++;
                epoch_skipped++;
                run_skipped++;
                if (lead && s->log) {
                    int bad = (int)tl[TAIL_BAD];
                    fprintf(s->log, "{\"event\":\"skip\",\"step\":%llu,\"epoch\":%d,\"worker\":%d,\"skipped\":%llu}\n",
                            step1, epoch + 1, bad == 1 && tl[TAIL_BADRANK] >= 1.0 ? (int)tl[TAIL_BADRANK] - 1 : -1,
                            (unsigned long long)skipped);
                }
                goto step_done;
            }
            if (tl[TAIL_BAD] > 0.0 || sum_bad || !isfinite(batch_loss)) {
                r.nonfinite_step = step1;
                int bad = (int)tl[TAIL_BAD];
                const char *hint = "try a lower --lr or --clip-norm, or --skip-nonfinite";
                char lim_note[160] = "";
                if (lim < FLT_MAX)
                    snprintf(lim_note, sizeof lim_note, " (an element beyond %.3g counts: the %s optimizer's moments "
                             "would overflow)", (double)lim, c->optimizer);
                if (c->skip_nonfinite)
                    rg_error(RG_ENONFINITE, "training stopped: %d steps in a row had a non-finite loss or gradient "
                             "(--skip-nonfinite skips at most %d; the weights have gone bad); last at step %llu (epoch %d)",
                             RG_SKIP_LIMIT + 1, RG_SKIP_LIMIT, step1, epoch + 1);
                else if (bad == 0 && sum_bad && W > 1)
                    rg_error(RG_ENONFINITE, "training stopped: the summed gradient overflowed at step %llu (epoch %d; "
                             "every worker's own was finite)%s; %s", step1, epoch + 1, lim_note, hint);
                else if (bad == 0 && sum_bad)
                    rg_error(RG_ENONFINITE, "training stopped: the gradient with the penalty's overflowed at step %llu "
                             "(epoch %d)%s; %s", step1, epoch + 1, lim_note, hint);
                else if (bad == 0 && !isfinite(reg))
                    rg_error(RG_ENONFINITE, "training stopped: the penalty is not finite at step %llu (epoch %d): "
                             "the weights have grown too large; %s", step1, epoch + 1, hint);
                else if (bad == 0)
                    rg_error(RG_ENONFINITE, "training stopped: the step's loss overflowed a float at step %llu (epoch %d; "
                             "every worker's own was finite); %s", step1, epoch + 1, hint);
                else if (bad == 1 && tl[TAIL_BADRANK] >= 1.0)
                    rg_error(RG_ENONFINITE, "training stopped: non-finite loss or gradient at step %llu (epoch %d, worker %d)%s; %s",
                             step1, epoch + 1, (int)tl[TAIL_BADRANK] - 1, own_lim < FLT_MAX ? lim_note : "", hint);
                else
                    rg_error(RG_ENONFINITE, "training stopped: non-finite loss or gradient at step %llu (epoch %d, %d workers)%s; %s",
                             step1, epoch + 1, bad, own_lim < FLT_MAX ? lim_note : "", hint);
                st = RG_ENONFINITE;
                if (lead && s->log)
                    fprintf(s->log, "{\"event\":\"end\",\"stopped\":\"nonfinite\",\"step\":%llu,\"epoch\":%d,\"skipped\":%llu}\n",
                            step1, epoch + 1, (unsigned long long)skipped);
                if (t == 0) s->result = r;
                goto out;   /* every worker saw the same figures: all stop here */
            }
            run_skipped = 0;
            my_samples += mine;
            my_loss += data_loss;
            my_correct += step_correct;
            if (has_div) { div_sum += div_step; div_count++; }
            lr = lr_at(c, step, epoch, total_steps);
            int post_bad = 0;   /* the update wrote a non-finite weight or moment */
            if (sharded) {
                /* ZeRO-1: this worker updates its slice with its slice of the
                 * optimizer state, then every worker gathers every slice */
                size_t own = sh_hi - sh_lo;
                if (c->clip_norm > 0.0 && shard_norm > c->clip_norm) {
                    float kc = (float)(c->clip_norm / (shard_norm + 1e-6));
                    for (size_t i = 0; i < own; i++) gslice[i] *= kc;
                }
                /* a slice whose update went bad marks its first weight NaN (they
                 * are lost anyway): the gather takes the verdict to everyone */
                if (rg_optimizer_step(opt, params + g_lo, gslice, (float)lr) && own) params[g_lo] = NAN;
                double t_c = rg_now();
                if ((st = rg_comm_allgather(comm, params + g_lo, chunk, params)) != RG_OK) goto fail;
                t_comm += rg_now() - t_c;
                for (int k = 0; k < W; k++)
                    if ((size_t)k * chunk < P && isnan(params[(size_t)k * chunk])) post_bad = 1;
            } else if (shared_w) {
                /* every worker holds the whole summed gradient; each updates
                 * its own slice of the one weight arena, then all wait until
                 * every slice is written before the next forward pass */
                /* nobody writes a weight while a peer may still read it (the
                 * penalty above reads them all) */
                double t_c = rg_now();
                if ((st = rg_comm_barrier(comm)) != RG_OK) goto fail;
                t_comm += rg_now() - t_c;
                float verdict = sh_hi > sh_lo && rg_optimizer_step(opt, params + sh_lo, grads + sh_lo, (float)lr);
                t_c = rg_now();
                /* every slice written (a barrier), and every slice's verdict */
                if ((st = rg_comm_allreduce(comm, &verdict, 1, RG_REDUCE_SUM)) != RG_OK) goto fail;
                post_bad = verdict > 0.0f;
                if (has_maxnorm) {
                    if (t == 0) rg_model_apply_constraints(m);
                    if ((st = rg_comm_barrier(comm)) != RG_OK) goto fail;
                }
                t_comm += rg_now() - t_c;
            } else {
                post_bad = rg_optimizer_step(opt, params, grads, (float)lr);
            }
            if (post_bad) {
                /* the same verdict on every worker (the same update, or the
                 * verdicts exchanged above) */
                r.nonfinite_step = step1;
                st = rg_error(RG_ENONFINITE, "training stopped: the update of step %llu (epoch %d) made a weight or the "
                              "optimizer's state non-finite%s; try a lower --lr", step1, epoch + 1,
                              c->skip_nonfinite ? " (an update already made cannot be skipped)" : "");
                if (lead && s->log)
                    fprintf(s->log, "{\"event\":\"end\",\"stopped\":\"nonfinite\",\"step\":%llu,\"epoch\":%d,\"skipped\":%llu}\n",
                            step1, epoch + 1, (unsigned long long)skipped);
                if (t == 0) s->result = r;
                goto out;
            }
            if (!shared_w) rg_model_apply_constraints(m);
            loss_sum += batch_loss * (double)b_step;
            reg_sum += reg * (double)b_step;
            all_samples += b_step;
            if (lead && s->log && c->log_every > 0 && (step + 1) % (uint64_t)c->log_every == 0)
                fprintf(s->log, "{\"event\":\"step\",\"step\":%llu,\"epoch\":%d,\"loss\":%.9g,\"lr\":%.9g}\n",
                        (unsigned long long)(step + 1), epoch + 1, batch_loss, lr);
            if (lead && s->progress) s->progress(epoch + 1, all_samples, N, loss_sum / (double)all_samples, s->ud);
        step_done:
            samples_done += b_step;
            if (s->ck_dir && (step + 1) % (uint64_t)c->checkpoint_every == 0) {   /* ck_dir: every > 0 */
                rg_ckpt ckw;
                memset(&ckw, 0, sizeof ckw);
                ckw.u[CK_STEP] = step + 1;
                ckw.u[CK_EPOCH] = (uint64_t)epoch;
                ckw.u[CK_EPOCH_STEP] = es + 1;
                ckw.u[CK_SAMPLES] = samples_done;
                ckw.u[CK_WORLD] = (uint64_t)W;
                ckw.u[CK_OPT_STEPS] = rg_optimizer_steps(opt);
                ckw.u[CK_SKIPPED] = skipped;
                ckw.u[CK_EPOCH_SKIPPED] = epoch_skipped;
                ckw.u[CK_RUN_SKIPPED] = run_skipped;
                ckw.u[CK_EPOCH_SAMPLES] = all_samples;
                ckw.u[CK_WAIT] = (uint64_t)wait;
                ckw.u[CK_BEST_EPOCH] = (uint64_t)r.best_epoch;
                ckw.u[CK_EPOCHS_RUN] = (uint64_t)r.epochs_run;
                ckw.u[CK_NSTATE] = (uint64_t)rg_optimizer_state_count(opt);
                ckw.u[CK_PARAMS] = P;
                ckw.d[CD_LOSS_SUM] = loss_sum;
                ckw.d[CD_REG_SUM] = reg_sum;
                ckw.d[CD_BEST_METRIC] = best_metric;
                ckw.d[CD_LR] = lr;
                double mine_acc[WA_N] = { (double)my_samples, my_loss, (double)my_correct, div_sum, (double)div_count };
                double tc2 = rg_now();
                if ((st = save_checkpoint(s, &writer, comm, m, opt, best, lam, &ckw, mine_acc, sharded, shared_w, chunk)) != RG_OK)
                    goto fail;
                t_comm += rg_now() - tc2;
            }
        }
        double secs = rg_now() - t0;
        /* per-worker figures to everyone (rank 0 logs them) */
        float mine_stats[WS_N] = { (float)my_samples, (float)my_loss, (float)my_correct, (float)(secs - t_comm),
                                   (float)t_comm, (float)(bytes_per_step * (double)steps_per_epoch),
                                   div_count ? (float)(div_sum / div_count) : 0.0f };
        float *all_stats = rg_malloc((size_t)W * WS_N * sizeof(float));
        if (!all_stats) { st = rg_error(RG_ENOMEM, "out of memory"); goto fail; }
        if (W > 1) st = rg_comm_allgather(comm, mine_stats, WS_N, all_stats);
        else memcpy(all_stats, mine_stats, sizeof mine_stats);
        if (st != RG_OK) { rg_free(all_stats); goto fail; }
        double correct_all = 0.0, lambda_now[RG_MAX_WORKERS];
        for (int k = 0; k < W; k++) { correct_all += all_stats[k * WS_N + WS_CORRECT]; lambda_now[k] = lam[k]; }
        rg_epoch_stats e = { .epoch = epoch + 1, .loss = all_samples ? loss_sum / (double)all_samples : NAN,
                             .reg_loss = all_samples ? reg_sum / (double)all_samples : NAN,
                             .acc = all_samples ? correct_all / (double)all_samples : NAN,
                             .val_loss = NAN, .val_acc = NAN, .samples_per_s = (double)(all_samples - samples_t0) / secs,
                             .seconds = secs, .lr = lr };
        if (s->val && (st = eval_dist(m, comm, s->val, &e.val_loss, &e.val_acc)) != RG_OK) { rg_free(all_stats); goto fail; }
        if (s->adapt == 3 && !s->iid) {
            /* divergence: strength grows with how far a worker's gradient strays */
            double raw[RG_MAX_WORKERS];
            for (int k = 0; k < W; k++) raw[k] = 1.0 + all_stats[k * WS_N + WS_DIV];
            normalise_lambda(s, raw, lam);   /* every worker the same: its own copy */
        }
        r.epochs_run = epoch + 1;
        r.steps = step;
        r.skipped = skipped;
        if (lead && s->log) {
            FILE *f = s->log;
            double v[RG_MAX_WORKERS];
            fprintf(f, "{\"event\":\"epoch\",\"epoch\":%d", e.epoch);
            jnum(f, "loss", e.loss);
            jnum(f, "reg_loss", e.reg_loss);
            jnum(f, "acc", e.acc);
            jnum(f, "val_loss", e.val_loss);
            jnum(f, "val_acc", e.val_acc);
            jnum(f, "samples_per_s", e.samples_per_s);
            jnum(f, "seconds", e.seconds);
            jnum(f, "lr", e.lr);
            fprintf(f, ",\"workers\":%d,\"skipped\":%llu", W, (unsigned long long)epoch_skipped);
            for (int k = 0; k < W; k++) v[k] = all_stats[k * WS_N + WS_SAMPLES];
            jarray(f, "samples", v, W);
            for (int k = 0; k < W; k++) {
                double n = all_stats[k * WS_N + WS_SAMPLES];
                v[k] = n > 0 ? all_stats[k * WS_N + WS_LOSS] / n : NAN;
            }
            jarray(f, "worker_loss", v, W);
            jarray(f, "lambda", lambda_now, W);
            for (int k = 0; k < W; k++) v[k] = all_stats[k * WS_N + WS_COMPUTE];
            jarray(f, "compute_seconds", v, W);
            for (int k = 0; k < W; k++) v[k] = all_stats[k * WS_N + WS_COMM];
            jarray(f, "comm_seconds", v, W);
            for (int k = 0; k < W; k++) v[k] = all_stats[k * WS_N + WS_BYTES];
            jarray(f, "bytes_sent", v, W);
            fputs("}\n", f);
            fflush(f);
        }
        rg_free(all_stats);
        if (c->early_stop > 0) {
            double v = !strcmp(c->monitor, "val_acc") ? e.val_acc : e.val_loss;
            if (improved(c, v, best_metric)) {
                best_metric = v;
                r.best_epoch = e.epoch;
                if (!shared_w || t == 0) memcpy(best, params, P * sizeof(float));
                wait = 0;
            } else if (++wait >= c->early_stop) {
                r.stopped_early = 1;
                break;
            }
        }
    }
    /* the last checkpoint is on disk (or its failure reported) before the end */
    if ((st = ck_writer_wait(writer)) != RG_OK) goto fail;
    if (c->early_stop > 0 && c->restore_best && r.best_epoch > 0 && r.best_epoch != r.epochs_run &&
        (!shared_w || t == 0))
        memcpy(params, best, P * sizeof(float));
    if (shared_w && (st = rg_comm_barrier(comm)) != RG_OK) goto fail;   /* restored before anyone evaluates */
    /* a run that succeeds leaves finite weights and optimizer state (each
     * step's checks make this hold; here it is proven, once) */
    int state_ok = rg_all_finite(params, P);
    for (int i = 0; i < rg_optimizer_state_count(opt); i++)
        state_ok &= rg_all_finite(rg_optimizer_state(opt, i), opt_n);
    if (!state_ok) {
        st = rg_error(RG_ENONFINITE, "training ended with non-finite %s (worker %d)",
                      rg_all_finite(params, P) ? "optimizer state" : "weights", g);
        goto fail;
    }
    if (c->early_stop == 0) r.best_epoch = r.epochs_run;
    if (s->test && (st = eval_dist(m, comm, s->test, &r.test_loss, &r.test_acc)) != RG_OK) goto fail;
    /* with a test set, also the final model on its own training data (no
     * dropout): the train-test gap of the final report */
    if (s->test && (st = eval_dist(m, comm, s->train, &r.train_loss, &r.train_acc)) != RG_OK) goto fail;
    if (t == 0) s->result = r;
out:
    ck_writer_free(writer);
    rg_optimizer_free(opt);
    rg_free(order); rg_free(ids); rg_free(xb); rg_free(yb); rg_free(best); rg_free(shards); rg_free(pre);
    rg_free(gathered); rg_free(gslice); rg_free(lam);
    if (m != s->m) rg_model_free(m);
    return st;
fail:
    /* wake every peer: nobody waits forever for a worker that is gone */
    if (W > 1) rg_comm_abort(comm, st, rg_last_error());
    goto out;
}

/* A checkpoint found by --resume must fit this run: the same data (its
 * cursor lands on a step boundary of this batch size), and with a skewed
 * partition the same workers (each owns its data). */
static rg_status check_resume(const shared *s, const rg_ckpt *ck, const char *path)
{
    const rg_config *c = s->c;
    size_t N = rg_dataset_size(s->train);
    uint64_t B = (uint64_t)c->batch < N ? (uint64_t)c->batch : N;
    uint64_t e = ck->u[CK_EPOCH], k = ck->u[CK_EPOCH_STEP];
    if (!s->iid && ck->u[CK_WORLD] != (uint64_t)s->world)
        return rg_error(RG_EUSAGE, "--resume: %s was written by %llu workers; with --partition %s each worker owns "
                        "its own samples, so the run must go on with %llu workers (it has %d)", path,
                        (unsigned long long)ck->u[CK_WORLD], c->partition, (unsigned long long)ck->u[CK_WORLD], s->world);
    if (e >= (uint64_t)c->epochs)
        return rg_error(RG_EDATA, "%s: epoch %llu is past --epochs %ld", path, (unsigned long long)e + 1, c->epochs);
    if (s->iid) {
        uint64_t spe = (N + B - 1) / B, at = k * B < N ? k * B : N;
        if (k > spe || ck->u[CK_SAMPLES] != e * N + at)
            return rg_error(RG_EUSAGE, "--resume: %s stopped at %llu samples (epoch %llu, step %llu of it), which is not "
                            "where %zu training samples in batches of %llu would be: the training data changed", path,
                            (unsigned long long)ck->u[CK_SAMPLES], (unsigned long long)e + 1, (unsigned long long)k,
                            N, (unsigned long long)B);
    }
    return RG_OK;
}

/* An output file's directory must exist and be writable, and the file must
 * not be a directory: found before training, not after it. */
static rg_status check_output(const char *opt, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return rg_error(RG_EIO, "%s %s: is a directory; give a file name", opt, path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rg_error(RG_EIO, "%s %s: the directory '%s' does not exist", opt, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rg_error(RG_EIO, "%s %s: cannot write in '%s': %s", opt, path, dir, strerror(errno));
    return RG_OK;
}

/* Rank 0 read the checkpoint: every other process gets the same state. */
static rg_status share_resume(rg_model *m, rg_ckpt *ck, int *found)
{
    rg_comm *pc = rg_dist_process();
    int root = rg_comm_rank(pc) == 0;
    uint64_t hdr[CK_NU + 1];
    rg_status st;
    hdr[0] = (uint64_t)*found;
    memcpy(hdr + 1, ck->u, sizeof ck->u);
    if ((st = rg_comm_broadcast(pc, hdr, sizeof hdr, 0)) != RG_OK) return st;
    *found = (int)hdr[0];
    if (!*found) return RG_OK;
    if (!root) {
        memcpy(ck->u, hdr + 1, sizeof ck->u);
        if ((st = rg_ckpt_alloc(ck)) != RG_OK) return st;
    }
    size_t P = (size_t)ck->u[CK_PARAMS], W = (size_t)ck->u[CK_WORLD];
    if (P != rg_model_param_count(m)) return rg_error(RG_ECOMM, "rank 0's checkpoint does not fit this model");
    if ((st = rg_comm_broadcast(pc, ck->d, sizeof ck->d, 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, rg_model_params(m), P * sizeof(float), 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, ck->lambda, W * sizeof(double), 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, ck->wacc, W * WA_N * sizeof(double), 0)) != RG_OK)
        return st;
    for (int i = 0; i < (int)ck->u[CK_NSTATE]; i++)
        if ((st = rg_comm_broadcast(pc, ck->state[i], P * sizeof(float), 0)) != RG_OK) return st;
    if (ck->best && (st = rg_comm_broadcast(pc, ck->best, P * sizeof(float), 0)) != RG_OK) return st;
    return RG_OK;
}


/* The final save: under MPI the other processes wait for rank 0 meanwhile,
 * so it runs as a job and this thread answers their pings. */
typedef struct save_args {
    const rg_model *m;
    const char *path;
} save_args;

static rg_status save_fn(void *arg)
{
    const save_args *a = arg;
    return rg_model_save(a->m, a->path);
}

static rg_status save_serviced(const rg_model *m, const char *path)
{
    if (!rg_dist_process() || rg_dist_size() == 1) return rg_model_save(m, path);
    save_args a = { m, path };
    bg_job j = { 0 };
    rg_status st = bg_start(&j, save_fn, &a);
    return st == RG_OK ? bg_wait(&j, 1) : st;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    w->s->status[w->t] = worker_run(w->s, w->t);
    return NULL;
}

rg_status rg_train(const rg_config *c, rg_model *m, const rg_dataset *train,
                   const rg_dataset *val, const rg_dataset *test,
                   rg_progress_fn progress, void *ud, rg_train_result *res)
{
    rg_train_result r0 = { .test_loss = NAN, .test_acc = NAN, .train_loss = NAN, .train_acc = NAN };
    if (res) *res = r0;
    /* every exit before the workers start goes through agree_setup, the
     * first collective of every process (rg_dist_agree too) */
    rg_status st = rg_config_validate(c);
    if (st == RG_OK) rg_dist_set_timeout(c->comm_timeout);
    if (st == RG_OK) st = check_dataset(m, train, "training");
    if (st == RG_OK) st = check_dataset(m, val, "validation");
    if (st == RG_OK) st = check_dataset(m, test, "test");
    size_t N = rg_dataset_size(train);
    if (st == RG_OK && N == 0) st = rg_error(RG_EDATA, "%s: no training samples", rg_dataset_name(train));
    if (st == RG_OK && c->early_stop > 0 && !val)
        st = rg_error(RG_EUSAGE, "--early-stop needs a validation set (--val-split, or a test set to validate on)");
    if (st != RG_OK) return rg_dist_agree(st);

    shared *s = rg_calloc(1, sizeof *s);
    if (!s) return rg_dist_agree(rg_error(RG_ENOMEM, "out of memory"));
    s->c = c; s->m = m; s->train = train; s->val = val; s->test = test;
    s->progress = progress; s->ud = ud;
    s->threads = c->workers;
    s->world = s->threads * rg_dist_size();
    s->local_scope = !strcmp(c->reg_scope, "local");
    s->adapt = !strcmp(c->reg_adapt, "size") ? 1 : !strcmp(c->reg_adapt, "skew") ? 2 : !strcmp(c->reg_adapt, "divergence") ? 3 : 0;
    rg_partition part;
    pthread_t *tids = NULL;
    worker *ws = NULL;
    rg_ckpt ck;
    memset(&ck, 0, sizeof ck);
    int found = 0;
    char ck_path[4200] = "";
    if ((st = opt_config(c, &s->oc)) != RG_OK) goto agree;
    if ((st = rg_partition_parse(c->partition, &part)) != RG_OK) goto agree;
    s->iid = part.kind == RG_PART_IID;
    if (s->world > RG_MAX_WORKERS) {
        st = rg_error(RG_EUSAGE, "--workers: %d workers in all (%d processes x %d); at most %d", s->world,
                      rg_dist_size(), s->threads, RG_MAX_WORKERS);
        goto agree;
    }
    if ((size_t)s->world > N) {
        st = rg_error(RG_EUSAGE, "--workers: %d workers but only %zu training samples", s->world, N);
        goto agree;
    }
    if (c->deterministic) {
        if (!s->iid) { st = rg_error(RG_EUSAGE, "--deterministic needs --partition iid"); goto agree; }
        if (c->det_shards % s->world) {
            st = rg_error(RG_EUSAGE, "--deterministic: %d workers do not divide --det-shards %d", s->world, c->det_shards);
            goto agree;
        }
        if (c->batch < c->det_shards) {
            st = rg_error(RG_EUSAGE, "--deterministic: --batch %ld is smaller than --det-shards %d", c->batch, c->det_shards);
            goto agree;
        }
    }
    if (!s->iid && (st = rg_partition_make(rg_dataset_y(train), N, rg_dataset_classes(train), &part, s->world,
                                           c->seed, &s->parts)) != RG_OK)
        goto agree;
    s->lambda = rg_calloc((size_t)s->world, sizeof *s->lambda);
    s->ranks = rg_calloc((size_t)s->threads, sizeof *s->ranks);
    tids = rg_calloc((size_t)s->threads, sizeof *tids);
    ws = rg_calloc((size_t)s->threads, sizeof *ws);
    if (!s->lambda || !s->ranks || !tids || !ws) { st = rg_error(RG_ENOMEM, "out of memory"); goto agree; }
    initial_lambda(s);
    rg_blas_set_threads(c->threads);
    if (!(s->opts = rg_calloc((size_t)s->threads, sizeof *s->opts))) { st = rg_error(RG_ENOMEM, "out of memory"); goto agree; }
    if (c->checkpoint_every > 0) s->ck_dir = c->checkpoint_dir[0] ? c->checkpoint_dir : c->resume;
    if (rg_dist_rank() == 0 && ((c->save[0] && (st = check_output("--save", c->save)) != RG_OK) ||
                                (c->log[0] && (st = check_output("--log", c->log)) != RG_OK) ||
                                (s->ck_dir && (st = rg_ckpt_dir_ready(s->ck_dir)) != RG_OK)))
        goto agree;
    if (c->resume[0] && rg_dist_rank() == 0) {
        /* rank 0 reads the checkpoint (the directory may exist only on its
         * machine) and hands the state to every other process below */
        st = rg_ckpt_load(c->resume, c, m, &ck, &found, ck_path, sizeof ck_path);
        if (st == RG_OK && found) st = check_resume(s, &ck, ck_path);
        if (st == RG_OK && !found) {
            struct stat sb;
            rg_log("--resume %s: %s; starting from the beginning", c->resume,
                   stat(c->resume, &sb) == 0 ? "no checkpoint there yet" : "no such directory (yet)");
        }
    }
    if (st == RG_OK && s->ck_dir && rg_dist_rank() == 0) {
        /* checkpoints of another run in the directory would be pruned as
         * "newer" than ours and picked by a later --resume: refuse */
        size_t n = 0;
        char newest[64] = "";
        struct stat a, b;
        int same = c->resume[0] && stat(c->resume, &a) == 0 && stat(s->ck_dir, &b) == 0 &&
                   a.st_dev == b.st_dev && a.st_ino == b.st_ino;
        if ((st = rg_ckpt_count(s->ck_dir, &n, newest, sizeof newest)) == RG_OK && n > 0 && !same)
            st = rg_error(RG_EUSAGE, "--checkpoint-dir %s already holds %zu checkpoint%s (newest %s) of another run: "
                          "continue that run with --resume %s, or give an empty directory", s->ck_dir, n,
                          n == 1 ? "" : "s", newest, s->ck_dir);
        if (st == RG_OK) rg_ckpt_clean(s->ck_dir);
    }
agree:
    /* MPI has no timeout: a process that left now would leave the others
     * waiting in their first collective, so all agree before going on */
    if ((st = rg_dist_agree(st)) != RG_OK) goto done;
    if (c->resume[0] && rg_dist_process() && rg_dist_size() > 1 && (st = share_resume(m, &ck, &found)) != RG_OK) goto done;
    if (found) s->ck = &ck;
    st = rg_dist_workers(s->threads, s->ranks);
    if (st == RG_OK && c->log[0] && rg_dist_rank() == 0) {
        s->log = fopen(c->log, found ? "a" : "w");   /* a resumed run goes on with its log */
        if (!s->log) {
            st = rg_error(RG_EIO, "--log %s: cannot open for writing", c->log);
        } else {
            char *cj = rg_config_json(c);
            /* the set early stopping and the epochs' val_* figures watch:
             * "test" when it is the test set (it then helped pick the model) */
            const char *validation = !val ? "none" : val == test ? "test" : "held-out";
            fprintf(s->log, "{\"event\":\"config\",\"version\":\"%s\",\"config_hash\":\"%016llx\",\"params\":%zu,"
                    "\"model\":\"%s\",\"blas\":\"%s\",\"train_samples\":%zu,\"workers\":%d,\"processes\":%d,"
                    "\"validation\":\"%s\",\"config\":%s}\n",
                    RG_VERSION, (unsigned long long)rg_config_hash(c), rg_model_param_count(m), rg_model_spec(m),
                    rg_blas_name(), N, s->world, rg_dist_size(), validation, cj ? cj : "null");
            free(cj);
            if (found)
                fprintf(s->log, "{\"event\":\"resume\",\"from\":\"%s\",\"step\":%llu,\"epoch\":%llu,\"samples\":%llu,"
                        "\"workers_before\":%llu}\n", ck_path, (unsigned long long)ck.u[CK_STEP],
                        (unsigned long long)ck.u[CK_EPOCH] + 1, (unsigned long long)ck.u[CK_SAMPLES],
                        (unsigned long long)ck.u[CK_WORLD]);
            fflush(s->log);
        }
    }
    /* a failure making the communicators or opening the log stops every
     * process alike */
    if ((st = rg_dist_agree(st)) != RG_OK) goto done;

    for (int t = 1; t < s->threads; t++) {
        ws[t] = (worker){ s, t };
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0) {
            /* the threads already started would wait for this one forever */
            rg_comm_abort(s->ranks[0], RG_ENOMEM, "cannot start a worker thread");
            for (int k = 1; k < t; k++) pthread_join(tids[k], NULL);
            st = rg_error(RG_ENOMEM, "cannot start worker thread %d", t);
            goto done;
        }
    }
    s->status[0] = worker_run(s, 0);
    for (int t = 1; t < s->threads; t++) pthread_join(tids[t], NULL);
    st = s->status[0];
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rg_last_error());
    /* the first real error wins over the ECOMM of the workers it woke */
    for (int t = 0; t < s->threads && st == RG_ECOMM; t++)
        if (s->status[t] != RG_OK && s->status[t] != RG_ECOMM) st = s->status[t];
    rg_error(st, "%s", msg);
    if (st == RG_OK && c->save[0] && rg_dist_rank() == 0) st = save_serviced(m, c->save);
    if (s->log) {
        if (st == RG_OK) {
            const rg_train_result *r = &s->result;
            fprintf(s->log, "{\"event\":\"end\"");
            jnum(s->log, "test_loss", r->test_loss);
            jnum(s->log, "test_acc", r->test_acc);
            jnum(s->log, "train_loss", r->train_loss);
            jnum(s->log, "train_acc", r->train_acc);
            fprintf(s->log, ",\"epochs_run\":%d,\"stopped_early\":%s,\"best_epoch\":%d,\"steps\":%llu,\"skipped\":%llu}\n",
                    r->epochs_run, r->stopped_early ? "true" : "false", r->best_epoch, (unsigned long long)r->steps,
                    (unsigned long long)r->skipped);
        }
    }
    if (res) *res = s->result;
done:
    if (s->log) {
        if (fflush(s->log) != 0 && st == RG_OK) st = rg_error(RG_EIO, "--log %s: write failed", c->log);
        fclose(s->log);
    }
    if (s->ranks) for (int t = 0; t < s->threads; t++) rg_comm_free(s->ranks[t]);
    rg_free(s->ranks);
    rg_free(s->lambda);
    rg_free(s->opts);
    rg_ckpt_free(&ck);
    rg_free(tids);
    rg_free(ws);
    rg_partition_free(&s->parts);
    rg_free(s);
    return st;
}
