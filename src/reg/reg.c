/*
 * reg.c — regularization's scope and per-worker strength.
 *
 * Global scope: the penalty's gradient is added once, after the exchange,
 * to the aggregated gradient of the parameters a worker updates; it is
 * never communicated.  Local scope: each worker starts its gradient with
 * its own penalty, strength lambda_k x (its samples / the step's), so that
 * with lambda_k = 1 the exchange sums exactly the global penalty.  In a
 * world of one the two are the same sum, and the global penalty starts the
 * gradient too (one pass over the weights instead of two), except under
 * --deterministic, whose bits must not depend on the worker count.
 *
 * Per-worker strength: lambda_k = lambda x f_k.  Over an epoch, step s
 * applies sum_k f_k b_k(s) / B(s); so f is normalised to a mean of 1
 * weighted by share_k = sum_s b_k(s) / B(s), and the epoch applies the
 * configured penalty on average, whatever the batch split.  (Weighting by
 * part sizes, as before, is right only when every worker takes its
 * proportional share of every batch.)
 */
#include "reg/reg.h"
#include "nn/model.h"
#include <math.h>
#include <string.h>

rg_status rg_reg_init(rg_reg *r, rg_scope scope, rg_adapt adapt, int workers, int fused, int has_penalty,
                      const double *share, size_t P)
{
    memset(r, 0, sizeof *r);
    r->scope = scope;
    r->adapt = adapt;
    r->workers = workers;
    r->fused = fused;
    r->has_penalty = has_penalty;
    r->share = share;
    r->lambda = rg_calloc((size_t)workers, sizeof *r->lambda);
    if (adapt == RG_ADAPT_DIVERGENCE) {
        r->own = rg_calloc(P ? P : 1, sizeof *r->own);
        r->unit = rg_calloc(P ? P : 1, sizeof *r->unit);
    }
    if (!r->lambda || (adapt == RG_ADAPT_DIVERGENCE && (!r->own || !r->unit))) {
        rg_reg_free(r);
        return rg_error(RG_ENOMEM, "out of memory: per-worker strengths");
    }
    for (int k = 0; k < workers; k++) r->lambda[k] = 1.0;
    return RG_OK;
}

void rg_reg_free(rg_reg *r)
{
    rg_free(r->lambda);
    rg_free(r->own);
    rg_free(r->unit);
    r->lambda = NULL;
    r->own = r->unit = NULL;
}

void rg_reg_scale(size_t count, const double *weight, const double *raw, double *out)
{
    double num = 0.0, den = 0.0;
    for (size_t k = 0; k < count; k++) {
        num += weight[k];
        den += weight[k] * raw[k];
    }
    for (size_t k = 0; k < count; k++) out[k] = den > 0.0 ? raw[k] * num / den : 1.0;
}

void rg_reg_normalise(rg_reg *r, const double *raw) { rg_reg_scale((size_t)r->workers, r->share, raw, r->lambda); }

/* 1 + KL(p || q) of two label histograms (counts) */
static double one_plus_kl(const double *p, const double *q, int classes)
{
    double np = 0.0, nq = 0.0, kl = 0.0;
    for (int c = 0; c < classes; c++) { np += p[c]; nq += q[c]; }
    for (int c = 0; c < classes; c++)
        if (p[c] > 0.0 && q[c] > 0.0) kl += p[c] / np * log((p[c] / np) / (q[c] / nq));
    return 1.0 + kl;
}

void rg_reg_raw(rg_adapt adapt, size_t count, const size_t *n, const double *hist, int classes, double *raw)
{
    double *all = adapt == RG_ADAPT_SKEW ? rg_calloc(classes > 0 ? (size_t)classes : 1, sizeof *all) : NULL;
    for (size_t k = 0; k < count && all; k++)
        for (int c = 0; c < classes; c++) all[c] += hist[k * (size_t)classes + (size_t)c];
    for (size_t k = 0; k < count; k++) {
        if (adapt == RG_ADAPT_SIZE) raw[k] = n[k] ? 1.0 / (double)n[k] : 0.0;
        else if (adapt == RG_ADAPT_SKEW) raw[k] = n[k] && all ? one_plus_kl(hist + k * (size_t)classes, all, classes) : 1.0;
        else raw[k] = 1.0;
    }
    rg_free(all);
}

void rg_reg_adapt_start(rg_reg *r, const size_t *n, const double *hist, int classes)
{
    if (r->adapt != RG_ADAPT_SIZE && r->adapt != RG_ADAPT_SKEW) return;
    double raw[RG_MAX_WORKERS];
    rg_reg_raw(r->adapt, (size_t)r->workers, n, hist, classes, raw);
    rg_reg_normalise(r, raw);
}

void rg_reg_adapt_epoch(rg_reg *r, const double *div)
{
    if (r->adapt != RG_ADAPT_DIVERGENCE) return;
    double raw[RG_MAX_WORKERS];
    for (int k = 0; k < r->workers; k++) raw[k] = 1.0 + div[k];
    rg_reg_normalise(r, raw);
}

int rg_reg_starts(const rg_reg *r)
{
    return r->has_penalty && (r->scope == RG_SCOPE_LOCAL || (r->fused && r->scope == RG_SCOPE_GLOBAL));
}
int rg_reg_is_global(const rg_reg *r) { return r->has_penalty && r->scope == RG_SCOPE_GLOBAL && !r->fused; }

float rg_reg_strength(const rg_reg *r, int g, size_t nb, float inv_b_step)
{
    return (float)(r->lambda[g] * (double)nb * (double)inv_b_step);
}

double rg_reg_global(const rg_reg *r, const rg_model *m, float *g, size_t lo, size_t hi)
{
    if (!rg_reg_is_global(r)) return 0.0;
    if (lo == 0 && hi == rg_model_param_count(m)) return rg_model_penalty(m, 1.0f, g);
    return rg_model_penalty_range(m, 1.0f, g, lo, hi);
}

double rg_reg_global_measured(const rg_reg *r, const rg_model *m, float *g, unsigned what, double *sumsq,
                              float *maxabs)
{
    return rg_model_penalty_measured(m, 1.0f, g, rg_reg_is_global(r), what, sumsq, maxabs);
}

int rg_reg_measures(const rg_reg *r, uint64_t epoch_step)
{
    return r->adapt == RG_ADAPT_DIVERGENCE && epoch_step % RG_REG_DIV_EVERY == 0;
}

double rg_reg_own(rg_reg *r, rg_model *m, float strength)
{
    size_t P = rg_model_param_count(m);
    memcpy(r->own, rg_model_grads(m), P * sizeof(float));
    return r->has_penalty ? rg_model_penalty(m, strength, rg_model_grads(m)) : 0.0;
}

double rg_reg_diverged(const rg_reg *r, rg_model *m, const float *avg, double own_scale, double total_strength)
{
    size_t P = rg_model_param_count(m);
    memset(r->unit, 0, P * sizeof(float));
    if (r->has_penalty) rg_model_penalty(m, 1.0f, r->unit);
    /* ||own x scale - (avg - s * unit)|| / ||avg - s * unit||: data gradients only */
    double dd = 0.0, nn = 0.0;
    for (size_t i = 0; i < P; i++) {
        double a = (double)avg[i] - total_strength * (double)r->unit[i];
        double e = (double)r->own[i] * own_scale - a;
        dd += e * e;
        nn += a * a;
    }
    return nn > 0.0 ? sqrt(dd / nn) : 0.0;
}
