/*
 * hogwild.c — Hogwild (--strategy hogwild; Niu et al. 2011): worker
 * threads of one process over one copy of the weights, each stepping with
 * its own mean gradient and plain SGD, without locks or any exchange.
 *
 * The races it accepts, by design: a thread's forward and backward passes
 * read weights that other threads are writing (a pass may see a mix of
 * two updates); two threads updating the same weight at once may lose one
 * of the two updates (each is a relaxed atomic load and store, never a
 * torn float).  Nothing else is shared without synchronisation:
 * gradients, workspaces, figures and the data are each thread's own, and
 * the epoch's last step and a checkpoint's end with a barrier (a full
 * sync), after which thread 0 applies max-norm and validation reads
 * weights no one writes.  ThreadSanitizer is told of these races only
 * (tests/tsan.supp names hogwild_update); everything else stays checked.
 *
 * Not reproducible: which updates collide depends on timing.  A resumed
 * run goes on from the checkpoint's weights correctly, but not to the same
 * bits.
 */
#include "parallel/strategy.h"

typedef struct hogwild {
    rg_strategy base;
    float weight_decay;
} hogwild;

/* (one process: the trainer refuses hogwild under mpirun) */
static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 1, 0, P, P);
    ((hogwild *)s)->weight_decay = env->opt->weight_decay;
    s->shares_weights = 1;
    s->local_from = 0;
    return st;
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    rg_strat_region_whole(s, x);
    x->local = 1;
    return RG_OK;
}

/* w -= lr (g + wd w), one relaxed atomic load and store per weight: a
 * collision may lose an update, never tear a float.  1 if it wrote a NaN
 * or Inf. */
__attribute__((noinline)) static int hogwild_update(float *w, const float *g, size_t n, float lr, float decay)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float v;
        __atomic_load(&w[i], &v, __ATOMIC_RELAXED);
        v = v * decay - lr * g[i];
        __atomic_store(&w[i], &v, __ATOMIC_RELAXED);
        bad |= !(v - v == 0.0f);
    }
    return bad;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    rg_optimizer_set_steps(s->opt, rg_optimizer_steps(s->opt) + 1);   /* idle too: every worker the same count */
    if (!x->idle) {
        x->broke = hogwild_update(rg_model_params(s->m), x->grad, rg_model_param_count(s->m), x->lr,
                                  1.0f - x->lr * ((hogwild *)s)->weight_decay);
    }
    if (!x->full_sync) return RG_OK;
    /* every thread has stopped writing; then max-norm, then everyone goes on */
    rg_status st = RG_TIMED(s, rg_comm_barrier(s->comm));
    if (st == RG_OK && rg_model_has_maxnorm(s->m)) {
        if (s->thread == 0) rg_model_apply_constraints(s->m);
        st = rg_comm_barrier(s->comm);
    }
    x->synced = 1;
    return st;
}

/* plain SGD keeps no moments: only the barrier, so that nobody writes the
 * weights before world rank 0 has copied them */
static rg_status gather_state(rg_strategy *s, float *const *dst)
{
    (void)dst;
    return rg_comm_barrier(s->comm);
}

static void restore_state(rg_strategy *s, float *const *src)
{
    (void)s;
    (void)src;
}

const rg_strategy_ops rg_strategy_hogwild = {
    .name = "hogwild", .size = sizeof(hogwild), .init = init, .exchange = exchange,
    .agree = rg_strat_agree_whole, .update = update, .gather_state = gather_state, .restore_state = restore_state,
};
