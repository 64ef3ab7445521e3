/*
 * log.c — the JSON-lines log (--log): one JSON object per line, each with
 * an "event".  Every event is built here, through cJSON, and written by
 * world rank 0 only.
 *
 * Numbers keep their short forms (%.9g for figures, %.6g in per-worker
 * arrays, integers exact); a figure that is not finite is written null.
 */
#include "core/core.h"
#include "train/train.h"
#include "parallel/strategy.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* a figure: nine significant digits, or null when not finite */
static void add_fig(cJSON *o, const char *key, double v)
{
    char buf[64];
    if (isfinite(v)) snprintf(buf, sizeof buf, "%.9g", v);
    else snprintf(buf, sizeof buf, "null");
    cJSON_AddRawToObject(o, key, buf);
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

static void add_array(cJSON *o, const char *key, const double *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) {
        char buf[64];
        if (isfinite(v[i])) snprintf(buf, sizeof buf, "%.6g", v[i]);
        else snprintf(buf, sizeof buf, "null");
        cJSON_AddItemToArray(a, cJSON_CreateRaw(buf));
    }
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

void rg_log_epoch(FILE *f, const rg_epoch_stats *e, uint64_t skipped, int W, const double *per, double compression,
                  const double *staleness)
{
    cJSON *o = event("epoch");
    if (!o) return;
    add_u64(o, "epoch", (uint64_t)e->epoch);
    add_fig(o, "loss", e->loss);
    add_fig(o, "reg_loss", e->reg_loss);
    add_fig(o, "acc", e->acc);
    add_fig(o, "val_loss", e->val_loss);
    add_fig(o, "val_acc", e->val_acc);
    add_fig(o, "samples_per_s", e->samples_per_s);
    add_fig(o, "seconds", e->seconds);
    add_fig(o, "lr", e->lr);
    add_u64(o, "workers", (uint64_t)W);
    add_u64(o, "skipped", skipped);
    static const char *const names[WL_N] = { "samples", "worker_loss", "lambda", "compute_seconds", "comm_seconds",
                                             "bytes_sent" };
    for (int k = 0; k < WL_N; k++) add_array(o, names[k], per + (size_t)k * (size_t)W, W);
    if (compression > 0.0) add_fig(o, "compression", compression);
    int n = RG_STALE_HIST;   /* [steps read 0, 1, ... steps stale]: up to the last nonzero */
    while (staleness && n > 1 && staleness[n - 1] == 0.0) n--;
    if (staleness) add_array(o, "staleness", staleness, n);
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

void rg_log_end(FILE *f, const rg_train_result *r)
{
    cJSON *o = event("end");
    if (!o) return;
    add_fig(o, "test_loss", r->test_loss);
    add_fig(o, "test_acc", r->test_acc);
    add_fig(o, "train_loss", r->train_loss);
    add_fig(o, "train_acc", r->train_acc);
    add_u64(o, "epochs_run", (uint64_t)r->epochs_run);
    cJSON_AddBoolToObject(o, "stopped_early", r->stopped_early != 0);
    add_u64(o, "best_epoch", (uint64_t)r->best_epoch);
    add_u64(o, "steps", r->steps);
    add_u64(o, "skipped", r->skipped);
    emit(f, o);
}
