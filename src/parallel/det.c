/*
 * det.c — deterministic shards (--deterministic): bits that depend on the
 * shard count S and never on the worker count W.
 *
 * The global batch is cut into S fixed shards; worker g computes shards
 * g*S/W .. (g+1)*S/W - 1, each in a pass of its own, and keeps each
 * shard's gradient (and figures, in the tail).  The exchange gathers all S
 * and sums them in a fixed pairwise tree that depends only on S.  Cost: S
 * forward/backward passes of B/S rows instead of one per worker, and an
 * all-gather of S gradients instead of an all-reduce of one.
 *
 * One worker holding every shard (fuse) runs them as one pass instead
 * (rg_model_forward_backward_shards: the products over all the step's
 * rows, each shard's weight gradient summed in the tree tile by tile):
 * the same bits, without S slots of the whole model written and summed.
 */
#include "parallel/strategy.h"
#include <stdlib.h>
#include <string.h>

typedef struct det {
    rg_strategy base;
    int S;
    float *shards;              /* [npass x (P + tail)]: this worker's shards */
    float *gathered;            /* [S x (P + tail)] when W > 1 */
} det;

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    det *d = (det *)s;
    size_t P = rg_model_param_count(env->root), PT = P + RG_GRAD_TAIL;
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    s->clip_in_update = 1;   /* update is rg_strat_update_whole */
    int W = s->world, S = env->det_shards;
    d->S = S;
    s->npass = S / W;
    s->part0 = s->rank * S / W;
    s->parts = S;
    const char *f = getenv("REGULA_DET_FUSE");   /* "0": the passes one by one (tests, measurements) */
    s->fuse = env->fuse_ok && W == 1 && S > 1 && S <= RG_FUSE_MAX_SHARDS && !(f && !strcmp(f, "0"));
    d->shards = s->fuse ? NULL : rg_calloc((size_t)s->npass * PT, sizeof(float));
    d->gathered = W > 1 ? rg_calloc((size_t)S * PT, sizeof(float)) : NULL;
    if ((!s->fuse && !d->shards) || (W > 1 && !d->gathered))
        return rg_error(RG_ENOMEM, "out of memory setting up worker %d", s->rank);
    if (W > 1) s->bytes_per_step = (double)(W - 1) / (double)W * (double)S * (double)PT * sizeof(float);
    return rg_strat_broadcast(s);
}

/* each pass writes its gradient straight into its shard's slot */
static float *pass_arena(rg_strategy *s, int pass)
{
    det *d = (det *)s;
    return d->shards + (size_t)pass * (rg_model_param_count(s->m) + RG_GRAD_TAIL);
}

/* one worker: the sums this pass completes, now (all but the last) */
static void pass_done(rg_strategy *s, int pass)
{
    det *d = (det *)s;
    if (s->world == 1 && pass + 1 < d->S)
        rg_tree_sum(d->shards, rg_model_param_count(s->m) + RG_GRAD_TAIL, rg_model_param_count(s->m) + RG_GRAD_TAIL,
                    d->S, pass, pass + 1, NULL);
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    det *d = (det *)s;
    size_t PT = rg_model_param_count(s->m) + RG_GRAD_TAIL;
    float *all = d->shards, *g = rg_model_grads(s->m);
    if (s->fused) {   /* the trainer's one pass summed the shards in the tree */
        rg_strat_region_whole(s, x);
        return RG_OK;
    }
    if (s->world > 1) {
        rg_status st = RG_TIMED(s, rg_comm_allgather(s->comm, d->shards, (size_t)s->npass * PT, d->gathered));
        if (st != RG_OK) return st;
        all = d->gathered;
    }
    /* one worker: all but the last pass's sums are made (pass_done) */
    rg_tree_sum(all, PT, PT, d->S, s->world == 1 ? d->S - 1 : 0, d->S, g);
    rg_strat_region_whole(s, x);
    return RG_OK;
}

static void det_free(rg_strategy *s)
{
    det *d = (det *)s;
    rg_free(d->shards);
    rg_free(d->gathered);
}

const rg_strategy_ops rg_strategy_det = {
    .name = "deterministic", .size = sizeof(det), .init = init, .pass_arena = pass_arena, .pass_done = pass_done, .exchange = exchange,
    .agree = rg_strat_agree_whole, .update = rg_strat_update_whole, .gather_state = rg_strat_gather_whole,
    .restore_state = rg_strat_restore_whole, .free = det_free,
};
