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
 *
 * --local-moments: a sync averages the weights alone, and each worker
 * keeps its own moments (Adam's two, momentum's buffer) until a full sync
 * (an epoch's end, a checkpoint), which averages them too, so checkpoints
 * still hold one state.  A sync then costs one weight-sized all-reduce:
 * with Adam a third of the bytes.  Each replica's moments then follow its
 * own gradients, as a lone worker's would between syncs (post-local SGD
 * keeps its momentum buffers local too, Lin et al. 2020); with SGD and
 * momentum, H = 1 is then no longer all-reduce.
 *
 * With --compress, a sync sends through the codec what the weights changed
 * since the last one (with error feedback: Basu et al.'s
 * Qsparse-local-SGD), and every worker adds the mean of the decoded
 * changes to the weights it held at the last sync, so the replicas are
 * equal again.  The optimizer's moments are not sent at such a sync: each
 * worker keeps its own until a full sync (an epoch's end, a checkpoint),
 * which averages them whole.  A lossy moment would break Adam: its second
 * moment lies below fp16's range and below what top-k would ever pick.
 * The warm-up's synchronous steps are not compressed.
 */
#include "parallel/strategy.h"
#include <string.h>

typedef struct localsgd {
    rg_strategy base;
    long H;
    int local_moments;   /* --local-moments: the moments averaged at full syncs only */
    int fresh;           /* with a codec: the anchor is to be taken at the next local step */
    float *anchor;       /* [P] the weights at the last sync */
    float *delta;        /* [P] their change since */
} localsgd;

static rg_status codec_init(localsgd *l, const rg_strat_env *env)
{
    rg_strategy *s = &l->base;
    size_t P = rg_model_param_count(s->m);
    l->fresh = 1;
    rg_status st = rg_strat_codec(s, env);
    if (st != RG_OK || !s->codec) return st;
    l->anchor = rg_calloc(P ? P : 1, sizeof(float));
    l->delta = rg_calloc(P ? P : 1, sizeof(float));
    return l->anchor && l->delta ? RG_OK : rg_error(RG_ENOMEM, "out of memory: --compress on worker %d", s->rank);
}

/* A sync through the codec: the anchor plus the workers' mean change;
 * at a full sync the moments' mean too. */
static rg_status compressed_average(localsgd *l, const rg_exchange *x)
{
    rg_strategy *s = &l->base;
    size_t P = rg_model_param_count(s->m);
    float *w = rg_model_params(s->m), W = (float)s->world;
    for (size_t j = 0; j < P; j++) l->delta[j] = w[j] - l->anchor[j];
    rg_status st = RG_TIMED(s, rg_codec_reduce(s->codec, l->delta, x->step, &s->bytes, &s->dense));
    for (size_t j = 0; st == RG_OK && j < P; j++) w[j] = l->anchor[j] + l->delta[j] / W;
    /* an uncompressed sync would send the moments too */
    double ring = 2.0 * (double)(s->world - 1) / (double)s->world * (double)P * sizeof(float);
    s->dense += ring * rg_optimizer_state_count(s->opt);
    for (int i = 0; st == RG_OK && x->full_sync && i < rg_optimizer_state_count(s->opt); i++) {
        st = RG_TIMED(s, rg_comm_allreduce(s->comm, rg_optimizer_state(s->opt, i), P, RG_REDUCE_AVG));
        s->bytes += ring;
    }
    l->fresh = 1;
    return st;
}

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    localsgd *l = (localsgd *)s;
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    l->H = env->sync_every;
    l->local_moments = env->local_moments;
    s->local_from = (uint64_t)env->sync_warmup;
    if (s->world > 1 && (st = codec_init(l, env)) != RG_OK) return st;
    return rg_strat_broadcast(s);
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    if (x->step < s->local_from) {   /* warm-up: a synchronous step */
        size_t P = rg_model_param_count(s->m);
        s->bytes += 2.0 * (double)(s->world - 1) / (double)s->world * (double)(P + RG_GRAD_TAIL) * sizeof(float);
        return rg_strat_allreduce_plain(s, x);
    }
    localsgd *l = (localsgd *)s;
    if (s->codec && l->fresh) {   /* every replica's weights the same here */
        memcpy(l->anchor, rg_model_params(s->m), rg_model_param_count(s->m) * sizeof(float));
        l->fresh = 0;
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
    if (!x->synced) return RG_OK;
    if (s->codec) return compressed_average(l, x);
    return l->local_moments && !x->full_sync ? rg_strat_average_weights(s) : rg_strat_average(s);
}

static void localsgd_free(rg_strategy *s)
{
    localsgd *l = (localsgd *)s;
    rg_free(l->anchor);
    rg_free(l->delta);
}

const rg_strategy_ops rg_strategy_localsgd = {
    .name = "local-sgd", .size = sizeof(localsgd), .init = init, .exchange = exchange,
    .agree = rg_strat_agree_whole, .update = update, .gather_state = rg_strat_gather_whole,
    .restore_state = rg_strat_restore_whole, .free = localsgd_free,
};
