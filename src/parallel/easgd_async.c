/*
 * easgd_async.c — asynchronous elastic averaging SGD (--strategy
 * easgd-async --sync-every TAU --elastic ALPHA; Zhang, Choromanska and
 * LeCun 2015, Algorithm 1) with the centre variable on a rank of its own.
 *
 * The last rank holds the centre c and trains nothing; the others are the
 * workers (the trainer's collectives run on theirs, s->team).  A worker
 * steps on its own replica with its own mean gradient and optimizer, and
 * every TAU of its steps sends the centre its weights w_i and gets back
 * the centre as it was: it moves w_i -= alpha (w_i - c), the centre
 * c += alpha (w_i - c), in the order the workers come, none waiting for
 * another.  The move is the gradient step of the penalty (rho / 2)
 * ||w_i - c||^2, rho = alpha / lr, whose value joins reg_loss.  ALPHA 0
 * means 0.9 / workers.
 *
 * Under processes x threads each process is one worker (the centre's
 * too): its threads take their parts of its steps in step, their
 * gradients averaged (rg_strat_group_sum), so that they hold the same
 * replica and moments, and its thread 0 meets the centre for them and
 * hands them the centre it got back (the centre's other threads idle).
 *
 * An epoch's last step and a checkpoint's are a full sync: the centre
 * waits for every worker's weights (moving for each), answers all with
 * the centre, every worker takes it, and the workers average their
 * optimizers' moments; validation, early stopping, the checkpoint and the
 * saved model are the centre.  With one worker it is synchronous EASGD
 * exactly (tested).  Not reproducible with more: the moves apply in the
 * order the workers come.
 */
#include "parallel/strategy.h"
#include <string.h>

enum { T_WEIGHTS = 11, T_CENTRE };

typedef struct hdr { uint64_t step, full; } hdr;

typedef struct aeasgd {
    rg_strategy base;
    long tau;
    double alpha;
    int workers, centre_rank;
    char *msg;            /* a header and P floats */
    float *centre;        /* the centre's: c */
    int full_n;           /* the centre's: workers in the full sync so far */
} aeasgd;

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    aeasgd *e = (aeasgd *)s;
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    rg_strat_net(s, env);
    e->workers = s->net_size - 1;
    e->centre_rank = s->net_size - 1;
    e->tau = env->sync_every;
    e->alpha = env->elastic > 0.0 ? env->elastic : 0.9 / (double)e->workers;
    s->local_from = 0;
    s->serving = s->net_rank == e->centre_rank;
    int holds = s->serving && s->net;   /* the centre's thread 0 */
    e->msg = rg_malloc(sizeof(hdr) + (P ? P : 1) * sizeof(float));
    e->centre = holds ? rg_calloc(P ? P : 1, sizeof(float)) : NULL;
    if (!e->msg || (holds && !e->centre)) return rg_error(RG_ENOMEM, "out of memory setting up worker %d", s->rank);
    if ((st = rg_strat_broadcast(s)) != RG_OK) return st;
    if (holds) memcpy(e->centre, rg_model_params(s->m), P * sizeof(float));
    if ((st = rg_strat_team(s)) != RG_OK) return st;
    return rg_strat_group(s);
}

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    rg_strat_region_whole(s, x);
    x->local = 1;
    return RG_OK;
}

/* ------------------------------------------------------------ a worker */

/* Sends the centre this worker's weights; gets back the centre (as it
 * was before this worker's move, or after everyone's at a full sync). */
static rg_status meet(aeasgd *e, rg_exchange *x, float *c)
{
    rg_strategy *s = &e->base;
    size_t P = rg_model_param_count(s->m), bytes = sizeof(hdr) + P * sizeof(float);
    hdr h = { x->step, (uint64_t)x->full_sync };
    rg_status st = RG_OK;
    if (s->net) {   /* in a group, thread 0 for the process, which then hands it c */
        memcpy(e->msg, &h, sizeof h);
        memcpy(e->msg + sizeof h, rg_model_params(s->m), P * sizeof(float));
        st = RG_TIMED(s, rg_comm_send(s->net, e->msg, bytes, e->centre_rank, T_WEIGHTS));
        if (st == RG_OK) st = RG_TIMED(s, rg_comm_recv(s->net, c, P * sizeof(float), e->centre_rank, T_CENTRE));
        s->bytes += 2.0 * (double)P * sizeof(float);
    }
    if (st == RG_OK && s->group) st = RG_TIMED(s, rg_comm_broadcast(s->group, c, P * sizeof(float), 0));
    return st;
}

/* The elastic move towards the centre c (the worker's side), its penalty's value. */
static void move(aeasgd *e, rg_exchange *x, const float *c)
{
    rg_strategy *s = &e->base;
    size_t P = rg_model_param_count(s->m);
    float *w = rg_model_params(s->m), a = (float)e->alpha;
    double d2 = 0.0;
    for (size_t i = 0; i < P; i++) {
        float d = w[i] - c[i];
        d2 += (double)d * d;
        w[i] -= a * d;
    }
    x->after = x->lr > 0.0f ? e->alpha / (double)x->lr * 0.5 * d2 : 0.0;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    aeasgd *e = (aeasgd *)s;
    rg_status st = rg_strat_group_sum(s, x, 1);
    if (st != RG_OK) return st;
    rg_strat_update_local(s, x);
    if ((x->step + 1) % (uint64_t)e->tau && !x->full_sync) return RG_OK;
    size_t P = rg_model_param_count(s->m);
    float *c = (float *)(e->msg + sizeof(hdr));   /* the reply lands after the header */
    st = meet(e, x, c);
    if (st != RG_OK) return st;
    if (!x->full_sync) {
        move(e, x, c);
        return RG_OK;
    }
    /* a full sync: every worker is the centre, with the mean moments */
    move(e, x, c);   /* the figure: its pull this time */
    memcpy(rg_model_params(s->m), c, P * sizeof(float));
    int W = rg_comm_size(s->team);
    for (int i = 0; st == RG_OK && W > 1 && i < rg_optimizer_state_count(s->opt); i++) {
        st = RG_TIMED(s, rg_comm_allreduce(s->team, rg_optimizer_state(s->opt, i), P, RG_REDUCE_AVG));
        s->bytes += 2.0 * (double)(W - 1) / (double)W * (double)P * sizeof(float);
    }
    x->synced = 1;
    return st;
}

static rg_status leave(rg_strategy *s)
{
    aeasgd *e = (aeasgd *)s;
    return s->net ? rg_strat_leave(s, e->centre_rank, 1) : RG_OK;
}

/* ------------------------------------------------------------ the centre */

/* Worker k's weights: the centre moves towards them; the reply is the
 * centre before the move, or at a full sync, once every worker is in, the
 * centre after all of them, to each. */
static rg_status centre_poll(rg_strategy *s, int k, int *busy)
{
    aeasgd *e = (aeasgd *)s;
    size_t P = rg_model_param_count(s->m);
    int ready;
    rg_status st = rg_comm_probe(s->net, k, T_WEIGHTS, &ready);
    if (st != RG_OK || !ready) return st;
    *busy = 1;
    if ((st = rg_comm_recv(s->net, e->msg, sizeof(hdr) + P * sizeof(float), k, T_WEIGHTS)) != RG_OK) return st;
    hdr h;
    memcpy(&h, e->msg, sizeof h);
    float *w = (float *)(e->msg + sizeof h), a = (float)e->alpha;
    if (!h.full && (st = rg_comm_send(s->net, e->centre, P * sizeof(float), k, T_CENTRE)) != RG_OK) return st;
    for (size_t i = 0; i < P; i++) e->centre[i] += a * (w[i] - e->centre[i]);
    if (!h.full || ++e->full_n < e->workers) return RG_OK;
    e->full_n = 0;
    for (int j = 0; j < e->workers && st == RG_OK; j++)
        st = rg_comm_send(s->net, e->centre, P * sizeof(float), j, T_CENTRE);
    return st;
}

/* (the centre's other threads, in a group, have nothing to do) */
static rg_status serve(rg_strategy *s)
{
    aeasgd *e = (aeasgd *)s;
    return e->centre ? rg_strat_serve(s, e->workers, centre_poll) : RG_OK;
}

/* a checkpoint follows a full sync: the centre is every worker's weights
 * (the centre's rank takes them from the saved model it starts from) */
static void restore_state(rg_strategy *s, float *const *src)
{
    if (!s->serving) rg_strat_restore_whole(s, src);
}

static void aeasgd_free(rg_strategy *s)
{
    aeasgd *e = (aeasgd *)s;
    rg_free(e->msg);
    rg_free(e->centre);
}

const rg_strategy_ops rg_strategy_easgd_async = {
    .name = "easgd-async", .size = sizeof(aeasgd), .init = init, .exchange = exchange, .agree = rg_strat_agree_whole,
    .update = update, .gather_state = rg_strat_gather_whole, .restore_state = restore_state, .serve = serve,
    .leave = leave, .free = aeasgd_free,
};
