/*
 * strategy.c — the table of strategies, the choice a run makes, and what
 * several strategies share: setting up a worker's model and optimizer,
 * the verdict on a gradient every worker holds whole, and the update of a
 * whole replica.
 *
 * Adding a strategy: a file in this folder with its state (starting with
 * rg_strategy) and its ops, one line in g_table, and, when a run should
 * pick it by itself, one rule in rg_strategy_choose (docs/design.md).
 */
#include "parallel/strategy.h"
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

static const rg_strategy_ops *const g_table[] = {
    &rg_strategy_allreduce, &rg_strategy_shared, &rg_strategy_zero, &rg_strategy_det,
    &rg_strategy_localsgd, &rg_strategy_easgd, &rg_strategy_hogwild, &rg_strategy_ps,
    &rg_strategy_easgd_async, &rg_strategy_fed,
};

const rg_strategy_ops *rg_strategy_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_table / sizeof *g_table; i++)
        if (!strcmp(g_table[i]->name, name)) return g_table[i];
    return NULL;
}

/* Threads of one process share one copy of the weights when they outgrow a
 * core's L2 cache (1 MiB here): the cache then holds one copy instead of W
 * (1024-wide model, 2 threads: 1.60x against 1.39x, README).  Smaller
 * weights stay replicated: each fits a core's own cache, and sharing would
 * move every updated line between cores (reference model: 1.26x shared,
 * 1.4-1.7x replicated).  Under MPI every worker keeps a replica. */
#define RG_SHARE_ABOVE ((size_t)1 << 20)

const rg_strategy_ops *rg_strategy_choose(const rg_strat_choice *c)
{
    if (c->name && strcmp(c->name, "allreduce")) return rg_strategy_find(c->name);
    if (c->deterministic) return &rg_strategy_det;
    if (c->threads > 1 && c->processes == 1 && c->params * sizeof(float) > RG_SHARE_ABOVE) return &rg_strategy_shared;
    /* ZeRO-1 needs the whole averaged gradient nowhere, which the
     * divergence policy does need */
    if (c->shard_optimizer && c->threads * c->processes > 1 && !c->divergence) return &rg_strategy_zero;
    return &rg_strategy_allreduce;
}

rg_status rg_strategy_create(const rg_strategy_ops *ops, const rg_strat_env *env, rg_strategy **out)
{
    *out = NULL;
    rg_strategy *s = rg_calloc(1, ops->size);
    if (!s) return rg_error(RG_ENOMEM, "out of memory setting up worker %d", rg_comm_rank(env->comm));
    s->ops = ops;
    rg_status st = ops->init(s, env);
    if (st != RG_OK) {
        rg_strategy_free(s);
        return st;
    }
    *out = s;
    return RG_OK;
}

void rg_strategy_free(rg_strategy *s)
{
    if (!s) return;
    if (s->ops->free) s->ops->free(s);
    rg_codec_free(s->codec);
    rg_free(s->blocks);
    rg_optimizer_free(s->opt);
    if (s->own_model) rg_model_free(s->m);
    if (s->own_team) rg_comm_free(s->team);
    if (s->group) rg_comm_free(s->group);
    rg_free(s);
}

rg_status rg_strat_setup(rg_strategy *s, const rg_strat_env *env, int share_weights, size_t lo, size_t hi,
                         size_t opt_n)
{
    s->comm = env->comm;
    s->team = env->comm;
    s->rank = rg_comm_rank(env->comm);
    s->world = rg_comm_size(env->comm);
    s->thread = env->thread;
    s->clip = env->clip;
    s->npass = 1;
    s->part0 = s->rank;
    s->parts = s->world;
    s->local_from = UINT64_MAX;
    rg_status st = RG_OK;
    if (env->thread == 0) {
        s->m = env->root;
    } else {
        st = share_weights ? rg_model_share(env->root, &s->m) : rg_model_clone(env->root, &s->m);
        s->own_model = st == RG_OK;
    }
    if (st == RG_OK) st = rg_optimizer_create(env->opt, opt_n ? opt_n : 1, &s->opt);
    if (st != RG_OK) return st;
    s->opt_lo = lo;
    s->opt_hi = hi;
    s->limit = rg_optimizer_grad_limit(s->opt);
    return RG_OK;
}

rg_status rg_strat_codec(rg_strategy *s, const rg_strat_env *env)
{
    if (!env->codec || env->codec->kind == RG_CODEC_NONE) return RG_OK;
    int nd = rg_model_dense_count(s->m);
    s->blocks = rg_calloc((size_t)(nd ? nd : 1), sizeof *s->blocks);
    if (!s->blocks) return rg_error(RG_ENOMEM, "out of memory: --compress");
    float *base = rg_model_params(s->m);
    for (int i = 0; i < nd; i++) {
        float *w;
        rg_model_dense(s->m, i, &s->blocks[i].rows, &s->blocks[i].cols, &w, NULL);
        s->blocks[i].offset = (size_t)(w - base);
    }
    s->bytes_per_step = 0.0;   /* counted as sent, step by step */
    return rg_codec_create(env->codec, rg_model_param_count(s->m), s->blocks, nd, env->seed, s->comm, &s->codec);
}

rg_status rg_strat_broadcast(rg_strategy *s)
{
    if (s->world == 1) return RG_OK;
    /* after every clone of this process is made: the broadcast writes
     * thread 0's weights, which the clones copy */
    rg_status st = rg_comm_barrier(s->comm);
    if (st == RG_OK)
        st = rg_comm_broadcast(s->comm, rg_model_params(s->m), rg_model_param_count(s->m) * sizeof(float), 0);
    return st;
}

void rg_strat_tic(rg_strategy *s) { s->t0 = rg_now(); }

rg_status rg_strat_toc(rg_strategy *s, rg_status st)
{
    s->comm_seconds += rg_now() - s->t0;
    return st;
}

void rg_strat_tail_figures(rg_exchange *x, const float *tail)
{
    x->fig = (rg_figures){ tail[RG_TAIL_LOSS], tail[RG_TAIL_REG], tail[RG_TAIL_BAD], tail[RG_TAIL_BADRANK] };
}

void rg_strat_region_whole(rg_strategy *s, rg_exchange *x)
{
    float *g = rg_model_grads(s->m);
    size_t P = rg_model_param_count(s->m);
    rg_strat_tail_figures(x, g + P);
    x->grad = g;
    x->lo = 0;
    x->hi = P;
}

unsigned rg_strat_measures(const rg_strategy *s, int penalised)
{
    /* with the clip, the largest element is wanted only past the limit: a pass then */
    if (s->clip > 0.0) return RG_MEASURE_SUMSQ;
    return s->parts > 1 || penalised ? RG_MEASURE_MAX : 0;
}

/* The largest |element| of the gradient: measured, or a pass of its own. */
static float max_abs(const rg_exchange *x, size_t P)
{
    return x->measured & RG_MEASURE_MAX ? x->maxabs : rg_max_abs(x->grad, P);
}

/* The clip: the norm (measured, or a pass), the factor k, and the verdict.
 * Clipped, no element exceeds min(norm, clip): the largest of the clipped
 * gradient is the largest |g| times k, rounded (rounding keeps the order),
 * so it is known without scaling.  The scaling itself is left to the update
 * (clip_in_update) or made here, in place. */
static void clip(rg_strategy *s, rg_exchange *x, size_t P)
{
    double sumsq = 0.0;
    if (x->measured & RG_MEASURE_SUMSQ) sumsq = x->sumsq;
    else for (size_t i = 0; i < P; i++) sumsq += (double)x->grad[i] * x->grad[i];
    double norm = sqrt(sumsq);
    float k = rg_clip_factor(norm, s->clip);
    x->over = !isfinite(norm) || (fmin(norm, s->clip) > s->limit && max_abs(x, P) * k > s->limit);
    if (k == 1.0f || s->clip_in_update) {
        x->gscale = k;
        return;
    }
    for (size_t i = 0; i < P; i++) x->grad[i] *= k;
}

rg_status rg_strat_agree_whole(rg_strategy *s, rg_exchange *x)
{
    size_t P = rg_model_param_count(s->m);
    x->fig.reg += x->penalty;
    x->over = 0;
    x->gscale = 1.0f;
    if (x->fig.bad > 0.0) return RG_OK;
    if (s->clip > 0.0) clip(s, x, P);
    else if (s->parts > 1 || x->penalised)
        /* a sum of several gradients, or penalised since each worker's own
         * test: the same test on the same gradient everywhere */
        x->over = max_abs(x, P) > s->limit;
    return RG_OK;
}

rg_status rg_strat_update_whole(rg_strategy *s, rg_exchange *x)
{
    float k = s->clip_in_update ? x->gscale : 1.0f;
    x->broke = rg_optimizer_step_scaled(s->opt, rg_model_params(s->m), x->grad, k, x->lr);
    rg_model_apply_constraints(s->m);
    return RG_OK;
}

rg_status rg_strat_update_local(rg_strategy *s, rg_exchange *x)
{
    if (!x->idle) return rg_strat_update_whole(s, x);
    /* no step, but counted: every worker's optimizer keeps the same step
     * count (Adam's bias correction), as a checkpoint stores one */
    rg_optimizer_set_steps(s->opt, rg_optimizer_steps(s->opt) + 1);
    return RG_OK;
}

rg_status rg_strat_average_weights(rg_strategy *s)
{
    size_t P = rg_model_param_count(s->m);
    if (s->world == 1) return RG_OK;
    rg_status st = RG_TIMED(s, rg_comm_allreduce(s->comm, rg_model_params(s->m), P, RG_REDUCE_AVG));
    s->bytes += 2.0 * (double)(s->world - 1) / (double)s->world * (double)P * sizeof(float);
    return st;
}

rg_status rg_strat_average(rg_strategy *s)
{
    size_t P = rg_model_param_count(s->m);
    double ring = 2.0 * (double)(s->world - 1) / (double)s->world * (double)P * sizeof(float);
    rg_status st = rg_strat_average_weights(s);
    for (int i = 0; s->world > 1 && st == RG_OK && i < rg_optimizer_state_count(s->opt); i++) {
        st = RG_TIMED(s, rg_comm_allreduce(s->comm, rg_optimizer_state(s->opt, i), P, RG_REDUCE_AVG));
        s->bytes += ring;
    }
    return st;
}

rg_status rg_strat_gather_whole(rg_strategy *s, float *const *dst)
{
    /* world rank 0's optimizer holds the whole state */
    size_t P = rg_model_param_count(s->m);
    for (int i = 0; dst && s->rank == 0 && i < rg_optimizer_state_count(s->opt); i++)
        memcpy(dst[i], rg_optimizer_state(s->opt, i), P * sizeof(float));
    return RG_OK;
}

void rg_strat_restore_whole(rg_strategy *s, float *const *src)
{
    size_t P = rg_model_param_count(s->m);
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++)
        memcpy(rg_optimizer_state(s->opt, i), src[i], P * sizeof(float));
}

/* ------------------------------------------------------------ serving ranks */

void rg_strat_net(rg_strategy *s, const rg_strat_env *env)
{
    rg_comm *lead;
    int T;
    s->net = env->comm;
    s->net_rank = rg_comm_rank(env->comm);
    s->net_size = rg_comm_size(env->comm);
    s->group_t = 1;
    if (!rg_comm_hier_lead(env->comm, &lead, &T)) return;
    s->net = lead;
    s->net_rank = rg_comm_rank(env->comm) / T;
    s->net_size = rg_comm_size(env->comm) / T;
    s->group_t = T;
}

rg_status rg_strat_group(rg_strategy *s)
{
    if (s->group_t == 1) return RG_OK;
    return rg_comm_split(s->comm, s->net_rank, s->thread, &s->group);
}

rg_status rg_strat_group_sum(rg_strategy *s, rg_exchange *x, int mean)
{
    if (!s->group) return RG_OK;
    size_t P = rg_model_param_count(s->m);
    float tail = x->grad[P], share = x->idle ? 0.0f : x->share;   /* the tail's first float carries the share */
    if (share == 0.0f) memset(x->grad, 0, P * sizeof(float));   /* idle, or skipped: maybe not finite */
    else if (mean)
        for (size_t i = 0; i < P; i++) x->grad[i] *= share;
    x->grad[P] = share;
    rg_status st = rg_comm_allreduce(s->group, x->grad, P + 1, RG_REDUCE_SUM);
    share = x->grad[P];
    x->grad[P] = tail;
    if (st != RG_OK) return st;
    if (mean && share > 0.0f)
        for (size_t i = 0; i < P; i++) x->grad[i] /= share;
    x->share = share;
    x->idle = share == 0.0f;
    return RG_OK;
}

rg_status rg_strat_team(rg_strategy *s)
{
    rg_status st = rg_comm_split(s->comm, s->serving, s->rank, &s->team);
    if (st != RG_OK) return st;
    s->own_team = 1;
    s->part0 = rg_comm_rank(s->team);   /* the iid batch's parts: the workers' */
    s->parts = rg_comm_size(s->team);
    return RG_OK;
}

rg_status rg_strat_serve(rg_strategy *s, int workers, rg_strat_poll_fn poll)
{
    int left = 0, idle = 0;
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1000UL);   /* a nap of 20 us, not the default 50 us more */
#endif
    while (left < workers) {
        int busy = 0;
        for (int k = 0; k < workers; k++) {
            int ready;
            rg_status st = poll(s, k, &busy);
            if (st == RG_OK && (st = rg_comm_probe(s->net, k, RG_TAG_LEAVE, &ready)) == RG_OK && ready) {
                uint64_t bye;
                st = rg_comm_recv(s->net, &bye, sizeof bye, k, RG_TAG_LEAVE);
                left++;
                busy = 1;
            }
            if (st != RG_OK) return st;
        }
        if (busy) { idle = 0; continue; }
        /* nothing for a while: leave the cores to the workers till a message
         * comes (threads: woken by it; other backends: a 20 us nap) */
        rg_status st = ++idle > 64 ? rg_comm_idle(s->net, 2e-3, 20e-6) : RG_OK;
        if (st != RG_OK) return st;
    }
    return RG_OK;
}

rg_status rg_strat_leave(rg_strategy *s, int first, int n)
{
    uint64_t bye = 1;
    for (int j = 0; j < n; j++) {
        rg_status st = rg_comm_send(s->net, &bye, sizeof bye, first + j, RG_TAG_LEAVE);
        if (st != RG_OK) return st;
    }
    return RG_OK;
}
