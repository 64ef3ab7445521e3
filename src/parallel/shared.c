/*
 * shared.c — worker threads of one process over one copy of the weights.
 *
 * Each worker has its own gradient arena and workspace (rg_model_share)
 * and an optimizer over its own slice of the arena.  The exchange is an
 * all-reduce of gradients and figures, as for replicas; then each worker
 * updates its slice, between a barrier after the exchange (nobody writes
 * a weight a peer may still read: the global penalty reads them all) and
 * an all-reduce of the slices' verdicts (every slice written before the
 * next forward pass).  Max-norm, which rescales whole rows across slices,
 * is thread 0's, fenced by one more barrier.
 *
 * Slices are multiples of 16 floats (a cache line; the arena is only
 * malloc-aligned, so a boundary line may be shared), the last short.
 */
#include "parallel/strategy.h"
#include <string.h>

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    size_t P = rg_model_param_count(env->root), W = (size_t)rg_comm_size(env->comm);
    size_t chunk = ((P + W - 1) / W + 15) / 16 * 16, lo = (size_t)rg_comm_rank(env->comm) * chunk;
    size_t sh_lo = lo < P ? lo : P, sh_hi = lo + chunk < P ? lo + chunk : P;
    rg_status st = rg_strat_setup(s, env, 1, sh_lo, sh_hi, sh_hi - sh_lo);
    s->shares_weights = 1;
    s->bytes_per_step = 2.0 * (double)(W - 1) / (double)W * (double)(P + RG_GRAD_TAIL) * sizeof(float);
    return st == RG_OK ? rg_strat_codec(s, env) : st;
}

/* the exchange and the verdict are the replicas' (an all-reduce of
 * gradients and figures, or the codec) */
static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    return rg_strategy_allreduce.exchange(s, x);
}

static rg_status agree(rg_strategy *s, rg_exchange *x)
{
    return rg_strategy_allreduce.agree(s, x);
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    float *params = rg_model_params(s->m);
    rg_status st = RG_TIMED(s, rg_comm_barrier(s->comm));
    if (st != RG_OK) return st;
    float verdict = s->opt_hi > s->opt_lo &&
                    rg_optimizer_step(s->opt, params + s->opt_lo, x->grad + s->opt_lo, x->lr);
    rg_strat_tic(s);
    st = rg_comm_allreduce(s->comm, &verdict, 1, RG_REDUCE_SUM);
    if (st == RG_OK && rg_model_has_maxnorm(s->m)) {
        if (s->thread == 0) rg_model_apply_constraints(s->m);
        st = rg_comm_barrier(s->comm);
    }
    x->broke = verdict > 0.0f;
    return rg_strat_toc(s, st);
}

/* one process (no MPI): each worker copies its own slice into the same
 * destination, and nobody goes on until every slice is there */
static rg_status gather_state(rg_strategy *s, float *const *dst)
{
    for (int i = 0; dst && i < rg_optimizer_state_count(s->opt); i++)
        memcpy(dst[i] + s->opt_lo, rg_optimizer_state(s->opt, i), (s->opt_hi - s->opt_lo) * sizeof(float));
    return rg_comm_barrier(s->comm);
}

static void restore_state(rg_strategy *s, float *const *src)
{
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++)
        memcpy(rg_optimizer_state(s->opt, i), src[i] + s->opt_lo, (s->opt_hi - s->opt_lo) * sizeof(float));
}

const rg_strategy_ops rg_strategy_shared = {
    .name = "shared", .size = sizeof(rg_strategy), .init = init, .exchange = exchange, .agree = agree,
    .update = update, .gather_state = gather_state, .restore_state = restore_state,
};
