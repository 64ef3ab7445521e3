/*
 * localsgd.c — local SGD (--strategy local-sgd --sync-every H): every
 * worker takes H steps on its own replica, with its own mean gradient and
 * its own optimizer, then the weights and the optimizer's moments are
 * averaged.  --sync-warmup N: the first N steps are synchronous all-reduce
 * steps (post-local SGD, Lin et al. 2020).  An epoch's last step and a
 * checkpoint's are syncs too, so validation, early stopping and
 * checkpoints always see one model.
 *
 * The optimizer's moments are averaged with the weights: after a sync every
 * replica is the same again (weights and state), which a checkpoint needs,
 * and then H = 1 with SGD (momentum too: its buffer is linear in the
 * gradients) and equal shares of each batch is all-reduce to float
 * rounding: the mean of one step from the same weights with each worker's
 * mean gradient is one step with the batch's mean gradient.  Adam's moments are not linear in the gradient, so with Adam
 * H = 1 is model averaging, not all-reduce.  It costs (1 + moments) times
 * the bytes of a weight average, every H steps.
 */
#include "parallel/strategy.h"

typedef struct localsgd {
    rg_strategy base;
    long H;
} localsgd;

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    localsgd *l = (localsgd *)s;
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    l->H = env->sync_every;
    s->local_from = (uint64_t)env->sync_warmup;
    return rg_strat_broadcast(s);
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    if (x->step < s->local_from) {   /* warm-up: a synchronous step */
        size_t P = rg_model_param_count(s->m);
        s->bytes += 2.0 * (double)(s->world - 1) / (double)s->world * (double)(P + RG_GRAD_TAIL) * sizeof(float);
        return rg_strategy_allreduce.exchange(s, x);
    }
    rg_strat_region_whole(s, x);     /* its own gradient and figures */
    x->local = 1;
    return RG_OK;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    localsgd *l = (localsgd *)s;
    rg_strat_update_local(s, x);
    if (!x->local) return RG_OK;     /* replicas stayed equal */
    uint64_t n = x->step + 1 - s->local_from;
    x->synced = n % (uint64_t)l->H == 0 || x->full_sync;
    return x->synced ? rg_strat_average(s) : RG_OK;
}

const rg_strategy_ops rg_strategy_localsgd = {
    .name = "local-sgd", .size = sizeof(localsgd), .init = init, .exchange = exchange,
    .agree = rg_strat_agree_whole, .update = update, .gather_state = rg_strat_gather_whole,
    .restore_state = rg_strat_restore_whole,
};
