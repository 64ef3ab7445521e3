/*
 * log.c — the JSON-lines log (--log): one JSON object per line, each with
 * an "event".  Every event is built here, through cJSON, and written by
 * world rank 0 only.
 *
 * Numbers keep their short forms (%.9g for figures, %.6g in per-worker
 * arrays, integers exact).  Two kinds of "no number" are kept apart:
 * null means there is no such figure (no validation set, a worker without
 * samples), and a figure that was computed but is not finite is the
 * string "NaN", "Infinity" or "-Infinity".  JSON has no NaN; those strings
 * are the spellings of JavaScript and Python, which their Number() and
 * float() read back, as do strtod and R's as.numeric.
 */
#include "core/core.h"
#include "train/train.h"
#include "parallel/strategy.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* v with `digits` significant digits, or its non-finite string (quoted) */
static cJSON *number(double v, int digits)
{
    char buf[64];
    if (isnan(v)) return cJSON_CreateString("NaN");
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    return cJSON_CreateRaw(buf);
}

/* a figure: nine significant digits, or its non-finite string */
static void add_fig(cJSON *o, const char *key, double v) { cJSON_AddItemToObject(o, key, number(v, 9)); }

/* a figure that may not exist: null when not `present` */
static void add_opt(cJSON *o, const char *key, int present, double v)
{
    if (present) add_fig(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* A set's figures under prefix ("", "val_", "test_", "train_"): its loss
 * and, by the run's loss, accuracy ("acc") or a regression's "mae" and
 * "rmse"; all null when the set is not `present`.  v: loss, acc, mae, rmse. */
static void add_set(cJSON *o, const char *prefix, int present, int regression, const double v[4])
{
    static const char *const names[4] = { "loss", "acc", "mae", "rmse" };
    char key[32];
    for (int i = 0; i < 4; i++) {
        if (regression ? i == 1 : i >= 2) continue;
        snprintf(key, sizeof key, "%s%s", prefix, names[i]);
        add_opt(o, key, present, v[i]);
    }
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

/* a per-worker array: six digits; null where a worker has no figure
 * (present[k] == 0; present NULL: every worker has one) */
static void add_array(cJSON *o, const char *key, const double *v, const double *present, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, present && present[i] == 0.0 ? cJSON_CreateNull() : number(v[i], 6));
}

static cJSON *event(const char *name)
{
    cJSON *o = cJSON_CreateObject();
    if (o) cJSON_AddStringToObject(o, "event", name);
    return o;
}

/* Writes the event as one line and frees it.  Out of memory loses the
 * line, never the run: the log is a report, and the end says so. */
static void emit(FILE *f, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    if (text) fprintf(f, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

/* Which kernel (rg_sgemm_kernel) each dense layer's products take, as
 * rg_model_forward_backward calls them on a worker's r->rows rows: the
 * forward X W^T (fwd_wt: on W transposed once a step, rg_model_hold), the
 * input gradient dY W (none for the first layer) and the weight gradient
 * dY^T X. */
static void add_kernels(cJSON *o, const rg_log_run *r)
{
    cJSON *a = cJSON_AddArrayToObject(o, "kernels");
    int rows = (int)(r->rows > 0 ? r->rows : 1);
    for (int i = 0; a && r->m && i < rg_model_dense_count(r->m); i++) {
        size_t out, in;
        float *w, *b;
        cJSON *l = cJSON_CreateObject();
        if (!l || rg_model_dense(r->m, i, &out, &in, &w, &b) != RG_OK) { cJSON_Delete(l); break; }
        int O = (int)out, I = (int)in;
        cJSON_AddNumberToObject(l, "layer", i + 1);
        cJSON_AddNumberToObject(l, "in", I);
        cJSON_AddNumberToObject(l, "out", O);
        float beta = b ? 1.0f : 0.0f;
        int held = rg_sgemm_held_forward(O, I, rows, beta);   /* on W transposed once a step */
        cJSON_AddStringToObject(l, "fwd", rg_kernel_name(rg_sgemm_kernel(0, !held, rows, O, I, 1.0f, beta)));
        if (held) cJSON_AddBoolToObject(l, "fwd_wt", 1);
        if (i > 0) cJSON_AddStringToObject(l, "dX", rg_kernel_name(rg_sgemm_kernel(0, 0, rows, I, O, 1.0f, 0.0f)));
        cJSON_AddStringToObject(l, "dW", rg_kernel_name(rg_sgemm_kernel(1, 0, O, I, rows, 1.0f, 1.0f)));
        cJSON_AddItemToArray(a, l);
    }
}

void rg_log_config(FILE *f, const rg_log_run *r)
{
    cJSON *o = event("config");
    if (!o) return;
    cJSON_AddStringToObject(o, "version", RG_VERSION);
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)rg_config_hash(r->c));
    cJSON_AddStringToObject(o, "config_hash", hash);
    add_u64(o, "params", r->params);
    cJSON_AddStringToObject(o, "model", r->spec);
    cJSON_AddStringToObject(o, "blas", rg_blas_name());
    add_kernels(o, r);
    add_u64(o, "train_samples", r->train_samples);
    add_u64(o, "workers", (uint64_t)r->workers);
    add_u64(o, "processes", (uint64_t)r->processes);
    if (r->servers) add_u64(o, "servers", (uint64_t)r->servers);
    cJSON_AddStringToObject(o, "strategy", r->strategy);
    cJSON_AddStringToObject(o, "validation", r->validation);
    char *cj = rg_config_json(r->c);
    cJSON_AddRawToObject(o, "config", cj ? cj : "null");
    free(cj);
    emit(f, o);
    fflush(f);
}

void rg_log_resume(FILE *f, const char *from, const rg_counters *n)
{
    cJSON *o = event("resume");
    if (!o) return;
    cJSON_AddStringToObject(o, "from", from);
    add_u64(o, "step", n->step);
    add_u64(o, "epoch", n->epoch + 1);
    add_u64(o, "samples", n->samples);
    add_u64(o, "workers_before", n->world);
    emit(f, o);
    fflush(f);
}

void rg_log_step(FILE *f, uint64_t step, int epoch, double loss, double lr)
{
    cJSON *o = event("step");
    if (!o) return;
    add_u64(o, "step", step);
    add_u64(o, "epoch", (uint64_t)epoch);
    add_fig(o, "loss", loss);
    add_fig(o, "lr", lr);
    emit(f, o);
}

void rg_log_skip(FILE *f, uint64_t step, int epoch, int worker, uint64_t skipped)
{
    cJSON *o = event("skip");
    if (!o) return;
    add_u64(o, "step", step);
    add_u64(o, "epoch", (uint64_t)epoch);
    cJSON_AddNumberToObject(o, "worker", worker);
    add_u64(o, "skipped", skipped);
    emit(f, o);
}

void rg_log_checkpoint(FILE *f, uint64_t step, uint64_t samples)
{
    cJSON *o = event("checkpoint");
    if (!o) return;
    add_u64(o, "step", step);
    add_u64(o, "samples", samples);
    emit(f, o);
}

/* regula fed: the round's clients, an object "fed" of the epoch event;
 * a round in which no client trained has no client figures (null) */
static void add_summary(cJSON *o, const char *key, int present, double mean, double std, double worst)
{
    cJSON *x = cJSON_AddObjectToObject(o, key);
    if (!x) return;
    add_opt(x, "mean", present, mean);
    add_opt(x, "std", present, std);
    add_opt(x, "worst10", present, worst);
}

static void add_round(cJSON *o, const rg_round_stats *r, int regression)
{
    cJSON *x = cJSON_AddObjectToObject(o, "fed");
    if (!x) return;
    add_u64(x, "clients", (uint64_t)r->clients);
    add_u64(x, "trained", (uint64_t)r->trained);
    add_fig(x, "samples", r->samples);
    add_u64(x, "dropped", (uint64_t)r->dropped);
    add_u64(x, "stragglers", (uint64_t)r->stragglers);
    if (r->kept) cJSON_AddTrueToObject(x, "kept");
    if (r->dp) add_fig(x, "epsilon", r->epsilon);
    int any = r->trained > 0;
    add_summary(x, "client_loss", any, r->client_loss_mean, r->client_loss_std, r->client_loss_worst);
    add_summary(x, "client_drift", any, r->drift_mean, r->drift_std, r->drift_worst);
    add_summary(x, regression ? "client_mae" : "client_acc", any, r->client_acc_mean, r->client_acc_std,
                r->client_acc_worst);
    add_fig(x, "bytes_up", r->bytes_up);
    add_fig(x, "bytes_down", r->bytes_down);
    cJSON *f = cJSON_AddObjectToObject(x, "strength");
    if (f) {
        add_opt(f, "min", any, r->factor_min);
        add_opt(f, "max", any, r->factor_max);
    }
}

void rg_log_epoch(FILE *f, const rg_epoch_stats *e, int has_val, int regression, uint64_t skipped, int W,
                  const double *per, double compression, const double *staleness)
{
    cJSON *o = event("epoch");
    if (!o) return;
    const double *samples = per + (size_t)WL_SAMPLES * (size_t)W;
    double counted = 0.0;   /* samples the epoch's figures count: none when every step was skipped */
    for (int k = 0; k < W; k++) counted += samples[k];
    add_u64(o, "epoch", (uint64_t)e->epoch);
    add_set(o, "", counted > 0, regression, (const double[4]){ e->loss, e->acc, e->mae, e->rmse });
    add_opt(o, "reg_loss", counted > 0, e->reg_loss);
    add_set(o, "val_", has_val, regression, (const double[4]){ e->val_loss, e->val_acc, e->val_mae, e->val_rmse });
    add_fig(o, "samples_per_s", e->samples_per_s);
    add_fig(o, "seconds", e->seconds);
    add_fig(o, "lr", e->lr);
    add_u64(o, "workers", (uint64_t)W);
    add_u64(o, "skipped", skipped);
    static const char *const names[WL_N] = { "samples", "worker_loss", "lambda", "compute_seconds", "comm_seconds",
                                             "bytes_sent" };
    for (int k = 0; k < WL_N; k++)
        add_array(o, names[k], per + (size_t)k * (size_t)W, k == WL_LOSS ? samples : NULL, W);
    if (compression > 0.0) add_fig(o, "compression", compression);
    int n = RG_STALE_HIST;   /* [steps read 0, 1, ... steps stale]: up to the last nonzero */
    while (staleness && n > 1 && staleness[n - 1] == 0.0) n--;
    if (staleness) add_array(o, "staleness", staleness, NULL, n);
    if (e->round) add_round(o, e->round, regression);
    emit(f, o);
    fflush(f);
}

void rg_log_stopped(FILE *f, uint64_t step, int epoch, uint64_t skipped)
{
    cJSON *o = event("end");
    if (!o) return;
    cJSON_AddStringToObject(o, "stopped", "nonfinite");
    add_u64(o, "step", step);
    add_u64(o, "epoch", (uint64_t)epoch);
    add_u64(o, "skipped", skipped);
    emit(f, o);
}

void rg_log_end(FILE *f, const rg_train_result *r, int has_test, int has_val, int regression, const char *stopped)
{
    cJSON *o = event("end");
    if (!o) return;
    if (stopped) cJSON_AddStringToObject(o, "stopped", stopped);
    add_set(o, "test_", has_test, regression, (const double[4]){ r->test_loss, r->test_acc, r->test_mae, r->test_rmse });
    add_set(o, "train_", 1, regression, (const double[4]){ r->train_loss, r->train_acc, r->train_mae, r->train_rmse });
    add_set(o, "val_", has_val, regression, (const double[4]){ r->val_loss, r->val_acc, r->val_mae, r->val_rmse });
    add_u64(o, "epochs_run", (uint64_t)r->epochs_run);
    cJSON_AddBoolToObject(o, "stopped_early", r->stopped_early != 0);
    add_u64(o, "best_epoch", (uint64_t)r->best_epoch);
    add_u64(o, "steps", r->steps);
    add_u64(o, "skipped", r->skipped);
    add_u64(o, "left_out", r->left_out);
    emit(f, o);
}
