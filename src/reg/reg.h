/*
 * reg.h — layer 2, internal: where and how strongly the penalties apply in a
 * data-parallel step.  The penalties themselves (L1, L2 on each dense
 * kernel) are the model's; this unit owns their scope and the per-worker
 * strengths, and applies them at exactly two points of a step: when a
 * worker starts its gradient (local scope), and on the aggregated
 * gradient after the exchange (global scope).
 */
#ifndef RG_REG_H
#define RG_REG_H
#include "core/core.h"

/* RG_SCOPE_SERVER: a strategy applies the penalty itself, once per round
 * on the aggregated model (a federated server, --reg-scope global of
 * regula fed); the steps never do. */
typedef enum { RG_SCOPE_GLOBAL, RG_SCOPE_LOCAL, RG_SCOPE_SERVER } rg_scope;
typedef enum { RG_ADAPT_NONE, RG_ADAPT_SIZE, RG_ADAPT_SKEW, RG_ADAPT_DIVERGENCE } rg_adapt;

/* Every 8th step of an epoch measures the divergence policy's figure. */
#define RG_REG_DIV_EVERY 8

/* One worker's view (each worker holds its own: the divergence policy
 * rewrites the strengths each epoch while a peer may still read its own). */
typedef struct rg_reg {
    rg_scope scope;
    rg_adapt adapt;
    int workers;
    int fused;             /* a world of one, not deterministic: the global
                              penalty starts the gradient (one pass fewer) */
    int has_penalty;       /* the model has an L1 or L2 term */
    double *lambda;        /* [workers] strength factors, owned */
    const double *share;   /* [workers] each worker's share of an epoch's
                              penalty: sum over steps of b_k / B (borrowed) */
    float *own, *unit;     /* divergence: [P] scratch (own data gradient,
                              the penalty's gradient at strength 1) */
} rg_reg;

/* share: the weights of the normalisation (see rg_reg_normalise), [workers];
 * P: parameters, for the divergence scratch. */
rg_status rg_reg_init(rg_reg *r, rg_scope scope, rg_adapt adapt, int workers, int fused, int has_penalty,
                      const double *share, size_t P);
void rg_reg_free(rg_reg *r);

/* Strength factors lambda_k = raw_k * c, c such that the share-weighted mean
 * is 1: the penalty applied over an epoch, sum_s sum_k lambda_k b_k(s)/B(s),
 * is what one global penalty would apply (the configured strength). */
void rg_reg_normalise(rg_reg *r, const double *raw);
/* The same for any owners (regula fed's clients): out_k = raw_k x c with
 * sum_k weight_k out_k = sum_k weight_k (1 for all when that is 0). */
void rg_reg_scale(size_t count, const double *weight, const double *raw, double *out);
/* The raw factors of the policies that decide at the start, for `count`
 * owners: size 1/n_k (0 for an empty one), skew 1 + KL(hist_k || the
 * whole set's) (1 for an empty one); 1 for the others.  hist: [count x
 * classes] label counts (skew only; out of memory: 1 for all). */
void rg_reg_raw(rg_adapt adapt, size_t count, const size_t *n, const double *hist, int classes, double *raw);
/* The policies that decide at the start: size (1/n_k) and skew (1 + KL of
 * worker k's label mix against the whole set's); hist is [workers x
 * classes] of label counts, n the part sizes.  No-op for other policies. */
void rg_reg_adapt_start(rg_reg *r, const size_t *n, const double *hist, int classes);
/* Divergence: after an epoch, the mean figure of every worker ([workers]). */
void rg_reg_adapt_epoch(rg_reg *r, const double *div);

/* The penalty starts worker g's gradient (local scope, or fused): its
 * strength is lambda_g x nb / B_step, its share of the step's samples. */
int rg_reg_starts(const rg_reg *r);
float rg_reg_strength(const rg_reg *r, int g, size_t nb, float inv_b_step);
/* The global penalty (global scope, not fused): its gradient is added to
 * g[0 .. hi-lo), the aggregated gradient of parameters [lo, hi), and its
 * value over that range returned; 0 otherwise. */
double rg_reg_global(const rg_reg *r, const rg_model *m, float *g, size_t lo, size_t hi);
/* The same over the whole arena (lo 0, hi P), measuring `what` of the
 * gradient it leaves in the same pass (rg_model_penalty_measured): also
 * when there is no global penalty to add. */
double rg_reg_global_measured(const rg_reg *r, const rg_model *m, float *g, unsigned what, double *sumsq,
                              float *maxabs);
/* 1 when rg_reg_global adds something: the gradient changed after each
 * worker's own check. */
int rg_reg_is_global(const rg_reg *r);

/* Divergence, measured on a step where rg_reg_measures(step) is true: the
 * worker computes its data gradient alone (no penalty start), hands it to
 * rg_reg_own (which keeps it and adds the worker's own penalty, strength
 * as rg_reg_strength), then after the exchange rg_reg_diverged compares it,
 * scaled to the step (B_step / nb), with the aggregated data gradient
 * (the aggregated gradient less the penalty all workers added: total
 * strength sum_k lambda_k b_k / B_step). */
int rg_reg_measures(const rg_reg *r, uint64_t epoch_step);
double rg_reg_own(rg_reg *r, rg_model *m, float strength);
double rg_reg_diverged(const rg_reg *r, rg_model *m, const float *avg, double own_scale, double total_strength);
#endif
