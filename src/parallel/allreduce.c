/*
 * allreduce.c — synchronous data parallelism over replicas: every worker
 * holds the whole model and a whole optimizer; one all-reduce a step sums
 * the gradients and the step's figures (in the gradient's tail), and every
 * worker applies the same update to the same sum, so replicas stay
 * bitwise equal.  The default.
 */
#include "parallel/strategy.h"

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    s->clip_in_update = 1;   /* update is rg_strat_update_whole */
    if (s->world > 1)
        s->bytes_per_step = 2.0 * (double)(s->world - 1) / (double)s->world * (double)(P + RG_GRAD_TAIL) * sizeof(float);
    if (st == RG_OK) st = rg_strat_codec(s, env);
    if (st == RG_OK) st = rg_strat_broadcast(s);
    return st;
}

/* The figures first, whole; then, when every worker's own gradient is
 * sound, the gradient through the codec (a bad one would stay in the
 * residuals for good; a step that is skipped leaves the codec as it was). */
static rg_status compressed(rg_strategy *s, rg_exchange *x)
{
    size_t P = rg_model_param_count(s->m);
    float *g = rg_model_grads(s->m);
    rg_status st = RG_OK;
    if (s->world > 1) {
        st = RG_TIMED(s, rg_comm_allreduce(s->comm, g + P, RG_GRAD_TAIL, RG_REDUCE_SUM));
        s->bytes += 2.0 * (double)(s->world - 1) / (double)s->world * RG_GRAD_TAIL * sizeof(float);
    }
    if (st == RG_OK && g[P + RG_TAIL_BAD] == 0.0f)
        st = RG_TIMED(s, rg_codec_reduce(s->codec, g, x->step, &s->bytes, &s->dense));
    rg_strat_region_whole(s, x);
    return st;
}

/* A decoded sum the update cannot take (beyond the optimizer's limit):
 * what the codec carried over went into it, so it is dropped too. */
static rg_status agree(rg_strategy *s, rg_exchange *x)
{
    rg_status st = rg_strat_agree_whole(s, x);
    if (s->codec && x->over) rg_codec_reset(s->codec);
    return st;
}

rg_status rg_strat_allreduce_plain(rg_strategy *s, rg_exchange *x)
{
    size_t n = rg_model_param_count(s->m) + RG_GRAD_TAIL;
    rg_status st = RG_OK;
    if (s->world > 1) st = RG_TIMED(s, rg_comm_allreduce(s->comm, rg_model_grads(s->m), n, RG_REDUCE_SUM));
    rg_strat_region_whole(s, x);
    return st;
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    return s->codec ? compressed(s, x) : rg_strat_allreduce_plain(s, x);
}

const rg_strategy_ops rg_strategy_allreduce = {
    .name = "allreduce", .size = sizeof(rg_strategy), .init = init, .exchange = exchange, .agree = agree,
    .update = rg_strat_update_whole, .gather_state = rg_strat_gather_whole, .restore_state = rg_strat_restore_whole,
};
