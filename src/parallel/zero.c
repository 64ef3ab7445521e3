/*
 * zero.c — ZeRO stage 1 (--shard-optimizer): each worker keeps 1/W of the
 * optimizer state and updates 1/W of the weights.
 *
 *   exchange  reduce-scatter: worker g receives the summed gradient of its
 *             block [g*chunk, (g+1)*chunk), the arena's padding (zeros)
 *             absorbing the rounding
 *   (trainer) the global penalty's gradient on that block only: added once,
 *             never sent
 *   agree     one all-reduce of the step's figures, the block's penalty,
 *             its squared norm (clipping) and its verdict (no worker holds
 *             the whole sum); then the block is clipped
 *   update    the block's update, then an all-gather of every block
 *
 * The bytes of an all-reduce, 1/W of the optimizer's work and state; three
 * collectives a step instead of one, so on small models it is slower
 * (README); it pays where the optimizer state is what does not fit.
 * Blocks are whole cache lines (16 floats).
 */
#include "parallel/strategy.h"
#include <float.h>
#include <math.h>
#include <string.h>

typedef struct zero {
    rg_strategy base;
    size_t chunk, g_lo;         /* the block, and where it starts in the arena */
    float *gslice;              /* [chunk]: the block's summed gradient */
    float *gath;                /* [chunk * W]: gathered state, checkpoints */
    rg_figures own;             /* this worker's figures, until agree */
    double norm;                /* the whole gradient's norm (clipping) */
} zero;

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    zero *z = (zero *)s;
    size_t P = rg_model_param_count(env->root), W = (size_t)rg_comm_size(env->comm);
    z->chunk = ((P + W - 1) / W + 15) / 16 * 16;
    z->g_lo = (size_t)rg_comm_rank(env->comm) * z->chunk;
    RG_ASSERT(z->chunk * W <= P + RG_ARENA_PAD);
    size_t lo = z->g_lo < P ? z->g_lo : P, hi = z->g_lo + z->chunk < P ? z->g_lo + z->chunk : P;
    rg_status st = rg_strat_setup(s, env, 0, lo, hi, z->chunk);
    if (st != RG_OK) return st;
    if (!(z->gslice = rg_calloc(z->chunk, sizeof(float))))
        return rg_error(RG_ENOMEM, "out of memory setting up worker %d", s->rank);
    s->bytes_per_step = 2.0 * (double)(W - 1) / (double)W * (double)(P + RG_GRAD_TAIL) * sizeof(float);
    return rg_strat_broadcast(s);
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    zero *z = (zero *)s;
    float *g = rg_model_grads(s->m), *tail = g + rg_model_param_count(s->m);
    rg_exchange mine = { 0 };
    rg_strat_tail_figures(&mine, tail);
    z->own = mine.fig;
    memset(tail, 0, RG_GRAD_TAIL * sizeof(float));   /* figures travel in agree */
    x->grad = z->gslice;
    x->lo = s->opt_lo;
    x->hi = s->opt_hi;
    return RG_TIMED(s, rg_comm_reduce_scatter(s->comm, g, z->chunk, z->gslice, RG_REDUCE_SUM));
}

static rg_status agree(rg_strategy *s, rg_exchange *x)
{
    zero *z = (zero *)s;
    size_t own = s->opt_hi - s->opt_lo;
    double v[6] = { z->own.loss, z->own.reg + x->penalty, z->own.bad, z->own.bad_rank, 0.0, 0.0 };
    if (s->clip > 0.0)
        for (size_t i = 0; i < own; i++) v[4] += (double)z->gslice[i] * z->gslice[i];
    else
        v[5] = rg_max_abs(z->gslice, own) > s->limit;
    rg_status st = RG_TIMED(s, rg_comm_allreduce_f64(s->comm, v, 6, RG_REDUCE_SUM));
    if (st != RG_OK) return st;
    x->fig = (rg_figures){ v[0], v[1], v[2], v[3] };
    z->norm = sqrt(v[4]);
    x->over = x->fig.bad == 0.0 && (v[5] > 0.0 || !isfinite(z->norm) || (s->clip > s->limit && z->norm > s->limit));
    if (!x->over && s->clip > 0.0 && z->norm > s->clip) {
        float k = (float)(s->clip / (z->norm + 1e-6));
        for (size_t i = 0; i < own; i++) z->gslice[i] *= k;
    }
    return RG_OK;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    zero *z = (zero *)s;
    float *params = rg_model_params(s->m);
    size_t P = rg_model_param_count(s->m), own = s->opt_hi - s->opt_lo;
    /* a block whose update went bad marks its first weight NaN (they are
     * lost anyway): the gather takes the verdict to everyone */
    if (rg_optimizer_step(s->opt, params + z->g_lo, z->gslice, x->lr) && own) params[z->g_lo] = NAN;
    rg_status st = RG_TIMED(s, rg_comm_allgather(s->comm, params + z->g_lo, z->chunk, params));
    x->broke = 0;
    for (int k = 0; st == RG_OK && k < s->world; k++)
        if ((size_t)k * z->chunk < P && isnan(params[(size_t)k * z->chunk])) x->broke = 1;
    rg_model_apply_constraints(s->m);
    return st;
}

static rg_status gather_state(rg_strategy *s, float *const *dst)
{
    zero *z = (zero *)s;
    size_t P = rg_model_param_count(s->m);
    if (!z->gath && !(z->gath = rg_calloc(z->chunk * (size_t)s->world, sizeof(float))))
        return rg_error(RG_ENOMEM, "out of memory writing a checkpoint");
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++) {
        rg_status st = rg_comm_allgather(s->comm, rg_optimizer_state(s->opt, i), z->chunk, z->gath);
        if (st != RG_OK) return st;
        if (dst && s->rank == 0) memcpy(dst[i], z->gath, P * sizeof(float));
    }
    return RG_OK;
}

static void restore_state(rg_strategy *s, float *const *src)
{
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++)
        memcpy(rg_optimizer_state(s->opt, i), src[i] + s->opt_lo, (s->opt_hi - s->opt_lo) * sizeof(float));
}

static void zero_free(rg_strategy *s)
{
    zero *z = (zero *)s;
    rg_free(z->gslice);
    rg_free(z->gath);
}

const rg_strategy_ops rg_strategy_zero = {
    .name = "zero", .size = sizeof(zero), .init = init, .exchange = exchange, .agree = agree, .update = update,
    .gather_state = gather_state, .restore_state = restore_state, .free = zero_free,
};
