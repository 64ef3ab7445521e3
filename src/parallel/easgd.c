/*
 * easgd.c — elastic averaging SGD (--strategy easgd --sync-every TAU
 * --elastic ALPHA; Zhang, Choromanska and LeCun 2015), synchronous.
 *
 * Every worker steps on its own replica with its own mean gradient; every
 * TAU steps each worker i and the centre variable c pull towards each
 * other:  w_i -= alpha (w_i - c),  c += alpha sum_i (w_i - c)  (one
 * all-reduce of the differences; every worker keeps the same copy of c).
 * The pull is a penalty: the gradient step of (rho / 2) ||w_i - c||^2 with
 * rho = alpha / lr, whose value joins the step's reg_loss.  ALPHA 0 means
 * 0.9 / workers (the paper's beta = 0.9).
 *
 * An epoch's last step and a checkpoint's are a full sync: every worker
 * takes the centre and the optimizers' moments are averaged, so
 * validation, early stopping, the checkpoint and the saved model are the
 * centre.  The asynchronous form, with the centre on a rank of its own,
 * is easgd_async.c.
 *
 * With --compress the differences w_i - c go through the codec (with
 * error feedback, a worker's residual joins its next difference): each
 * worker pulls itself by its own exact difference, and the centre moves
 * by the decoded sum, the same on every worker.
 */
#include "parallel/strategy.h"
#include <string.h>

typedef struct easgd {
    rg_strategy base;
    long tau;
    double alpha;
    float *centre;       /* [P] the same on every worker */
    float *diff;         /* [P] w_i - c, then their sum */
} easgd;

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    easgd *e = (easgd *)s;
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    e->tau = env->sync_every;
    e->alpha = env->elastic > 0.0 ? env->elastic : 0.9 / (double)s->world;
    s->local_from = 0;
    e->centre = rg_calloc(P ? P : 1, sizeof(float));
    e->diff = rg_calloc(P ? P : 1, sizeof(float));
    if (!e->centre || !e->diff) return rg_error(RG_ENOMEM, "out of memory setting up worker %d", s->rank);
    if (s->world > 1 && (st = rg_strat_codec(s, env)) != RG_OK) return st;
    if ((st = rg_strat_broadcast(s)) != RG_OK) return st;
    memcpy(e->centre, rg_model_params(s->m), P * sizeof(float));
    return RG_OK;
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    rg_strat_region_whole(s, x);
    x->local = 1;
    return RG_OK;
}

/* The elastic pull of every worker and the centre; its penalty's value. */
static rg_status pull(easgd *e, rg_exchange *x)
{
    rg_strategy *s = &e->base;
    size_t P = rg_model_param_count(s->m);
    float *w = rg_model_params(s->m), a = (float)e->alpha;
    double d2 = 0.0;
    for (size_t i = 0; i < P; i++) {
        e->diff[i] = w[i] - e->centre[i];
        d2 += (double)e->diff[i] * e->diff[i];
    }
    for (size_t i = 0; i < P; i++) w[i] -= a * e->diff[i];
    x->after = x->lr > 0.0f ? e->alpha / (double)x->lr * 0.5 * d2 : 0.0;
    rg_status st = RG_OK;
    if (s->codec) {
        st = RG_TIMED(s, rg_codec_reduce(s->codec, e->diff, x->step, &s->bytes, &s->dense));
    } else if (s->world > 1) {
        st = RG_TIMED(s, rg_comm_allreduce(s->comm, e->diff, P, RG_REDUCE_SUM));
        s->bytes += 2.0 * (double)(s->world - 1) / (double)s->world * (double)P * sizeof(float);
    }
    for (size_t i = 0; i < P; i++) e->centre[i] += a * e->diff[i];
    return st;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    easgd *e = (easgd *)s;
    rg_strat_update_local(s, x);
    uint64_t n = x->step + 1;
    if (n % (uint64_t)e->tau && !x->full_sync) return RG_OK;
    rg_status st = pull(e, x);
    if (st != RG_OK || !x->full_sync) return st;
    /* a full sync: every worker is the centre, with the mean moments */
    memcpy(rg_model_params(s->m), e->centre, rg_model_param_count(s->m) * sizeof(float));
    double kept = s->bytes;
    for (int i = 0; st == RG_OK && i < rg_optimizer_state_count(s->opt); i++)
        st = RG_TIMED(s, rg_comm_allreduce(s->comm, rg_optimizer_state(s->opt, i), rg_model_param_count(s->m),
                                           RG_REDUCE_AVG));
    double moments = 2.0 * (double)(s->world - 1) / (double)s->world * (double)rg_optimizer_state_count(s->opt) *
                     (double)rg_model_param_count(s->m) * sizeof(float);
    if (s->world > 1) s->bytes = kept + moments;
    if (s->codec) s->dense += moments;   /* sent whole either way */
    x->synced = 1;
    return st;
}

static void easgd_free(rg_strategy *s)
{
    easgd *e = (easgd *)s;
    rg_free(e->centre);
    rg_free(e->diff);
}

/* a checkpoint follows a full sync: the centre is every worker's weights */
static void restore_state(rg_strategy *s, float *const *src)
{
    easgd *e = (easgd *)s;
    rg_strat_restore_whole(s, src);
    memcpy(e->centre, rg_model_params(s->m), rg_model_param_count(s->m) * sizeof(float));
}

const rg_strategy_ops rg_strategy_easgd = {
    .name = "easgd", .size = sizeof(easgd), .init = init, .exchange = exchange, .agree = rg_strat_agree_whole,
    .update = update, .gather_state = rg_strat_gather_whole, .restore_state = restore_state, .free = easgd_free,
};
