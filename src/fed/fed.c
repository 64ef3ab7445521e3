/*
 * fed.c — the federated round as a strategy (`regula fed`): a round is
 * the trainer's epoch, every step a local step of the trainer.
 *
 * At a round's start (deal) the worker computes the round's plan
 * (round.c) and hands the trainer its samples; its replica holds the
 * global weights w_g.  Each of its clients trains from w_g with a fresh
 * optimizer (zero moments, step 0, as in the papers' clients): the
 * trainer's steps (forward/backward, the local penalty, the non-finite
 * guard, the optimizer) on the client's batches.  The algorithm
 * (algo*.c) adds its terms to the client's gradient in exchange (FedProx's
 * mu (w - w_g), SCAFFOLD's c - c_i, FedDyn's); their value joins the
 * step's penalty figure.  When a client's last step is done, its update
 * w_c - w_g is kept (n_c times it summed, or in its slot under
 * --deterministic and for algorithms that need every client's) and the
 * replica goes back to w_g.  The round's last step, a full sync on every
 * worker, aggregates (server.c) and takes the algorithm's server step on
 * the weighted mean update, less, under --reg-scope global, the penalty's
 * gradient at w_g times lr x the clients' mean local steps.  Then every
 * replica holds the new w_g, and the round's figures are the world's.
 * The server's state and the clients' (SCAFFOLD's c_i, FedDyn's g_i, kept
 * for every client that has taken part, in the worker's store: memory or
 * a scratch file, cstore.c) are replicated on every worker, which updates
 * them alike from the gathered updates.  A checkpoint at a
 * round's end takes them from world rank 0 (save_fed, after every worker
 * has checked that its own are the same), and a resumed run puts them
 * back after init (load_fed).
 *
 * Invariant: between rounds every worker holds w_g and a fresh optimizer;
 * nothing of a client outlives its round but its own state in the store,
 * so memory grows with the clients of a round, not with all clients
 * (with the store on disk, the stateful algorithms' too).
 */
#include "parallel/strategy.h"
#include "fed/dp.h"
#include "kernels/kernels.h"
#include "fed/cstore.h"
#include "comm/dist.h"
#include <math.h>
#include <string.h>
#include <time.h>

typedef struct fed {
    rg_strategy base;
    rg_fed_setup f;
    const rg_parts *parts;
    size_t batch, P;
    int shuffle, classes;
    uint64_t seed;
    float *global;             /* [P] w_g */
    float *delta;              /* [P] the aggregated update */
    const rg_fed_algo_ops *algo;
    float *server;             /* [server_state x P] */
    rg_cstore *store;          /* each client's own state (client_state x P), once it has trained */
    float **cview;             /* [m]: the round's clients' states, from the store */
    const float **upd;         /* [m] the server step's view of the updates */
    float **ust;               /* [m] ... and of the sampled clients' states */
    double *factor;            /* [C] each client's strength factor (--mu-adapt) */
    double *weight, *raw;      /* [C] its samples; divergence: its last raw figure */
    rg_fed_agg agg;
    rg_round round;
    rg_deal deal;
    uint64_t es;               /* the round's step in progress */
    size_t cur;                /* this worker's client in progress (its own index) */
    double loss, hits, seen;   /* that client's figures so far (hits: rg_exchange's) */
    int regression;            /* its accuracy is an MAE (hits: absolute errors) */
    double *cl;                /* [3m]: each sampled client's mean loss, drift, accuracy */
    double *scratch;           /* [3m] */
    rg_round_stats report;
} fed;

/* A client starts: the global weights, a fresh optimizer. */
static void client_start(fed *f)
{
    rg_strategy *s = &f->base;
    memcpy(rg_model_params(s->m), f->global, f->P * sizeof(float));
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++)
        memset(rg_optimizer_state(s->opt, i), 0, f->P * sizeof(float));
    rg_optimizer_set_steps(s->opt, 0);
    f->loss = f->hits = f->seen = 0.0;
}

/* Passes over this worker's clients that take no step (no samples). */
static void skip_empty(fed *f)
{
    while (f->cur < f->deal.mine && f->deal.first[f->cur + 1] == f->deal.first[f->cur]) f->cur++;
}

/* What sampled client j sends in place of its honest update u: an
 * attacker's (--attack signflip, noise), clipped to --dp-clip. */
static void client_sends(const fed *f, float *u, size_t j)
{
    int c = (int)f->round.client[j];
    const rg_attack_spec *a = &f->f.attack;
    if (a->kind != RG_ATTACK_NONE && rg_attack_is_attacker(a, f->seed, c))
        rg_attack_update(a, u, f->P, f->seed, f->round.round, c);
    if (f->f.dp_clip > 0.0) rg_dp_clip(u, f->P, f->f.dp_clip);
}

/* A client's last step is done: its update kept, its figures noted. */
static void client_done(fed *f)
{
    rg_strategy *s = &f->base;
    size_t j = (size_t)s->rank + f->cur * (size_t)s->world, P = f->P;
    const float *w = rg_model_params(s->m), *g = f->global;
    float n = (float)f->round.trained[j];
    int slot = f->agg.deterministic;
    float *out = slot ? f->agg.slots + f->cur * P : f->agg.sum;
    double drift = 0.0;
    for (size_t q = 0; q < P; q++) {
        float d = w[q] - g[q];
        drift += (double)d * (double)d;
        out[q] = slot ? d : out[q] + n * d;
    }
    if (slot) client_sends(f, out, j);
    f->cl[j] = f->seen > 0.0 ? f->loss / f->seen : NAN;
    f->cl[f->round.m + j] = sqrt(drift);
    f->cl[2 * f->round.m + j] = f->seen > 0.0 ? f->hits / f->seen : NAN;
    f->cur++;
    client_start(f);
    skip_empty(f);
}

/* --mu-adapt: each client's factor, from the policies of --reg-adapt
 * (reg.c) over the clients, normalised to a sample-weighted mean of 1;
 * none and divergence start at 1. */
static rg_status factors_init(fed *f, const rg_strat_env *env)
{
    size_t C = (size_t)f->f.clients, K = env->classes > 0 ? (size_t)env->classes : 1;
    f->classes = env->classes;
    f->regression = !env->labels;
    rg_adapt a = f->f.mu_adapt;
    f->factor = rg_calloc(C, sizeof *f->factor);
    f->weight = rg_calloc(C, sizeof *f->weight);
    f->raw = rg_calloc(C, sizeof *f->raw);
    size_t *n = rg_calloc(C, sizeof *n);
    double *hist = a == RG_ADAPT_SKEW ? rg_calloc(C * K, sizeof *hist) : NULL;
    rg_status st = f->factor && f->weight && f->raw && n && (hist || a != RG_ADAPT_SKEW) ? RG_OK : RG_ENOMEM;
    for (size_t c = 0; st == RG_OK && c < C; c++) {
        n[c] = f->parts->offset[c + 1] - f->parts->offset[c];
        f->weight[c] = (double)n[c];
        for (size_t i = f->parts->offset[c]; hist && env->labels && i < f->parts->offset[c + 1]; i++)
            hist[c * K + (size_t)env->labels[f->parts->ids[i]]] += 1.0;
    }
    if (st == RG_OK) {
        rg_reg_raw(a, C, n, hist, (int)K, f->raw);
        rg_reg_scale(C, f->weight, f->raw, f->factor);
        if (a == RG_ADAPT_NONE) for (size_t c = 0; c < C; c++) f->factor[c] = 1.0;
    }
    rg_free(n);
    rg_free(hist);
    return st;
}

/* --mu-adapt divergence, after a round: a client that trained gets
 * 1 + ||u_c - mean|| / ||mean|| of its update against the round's mean
 * (the others keep their last), and the factors are normalised again. */
static void factors_round(fed *f)
{
    if (f->f.mu_adapt != RG_ADAPT_DIVERGENCE) return;
    double nn = 0.0;
    for (size_t q = 0; q < f->P; q++) nn += (double)f->delta[q] * (double)f->delta[q];
    for (size_t j = 0; j < f->round.m && nn > 0.0; j++) {
        if (!f->upd[j]) continue;
        double dd = 0.0;
        for (size_t q = 0; q < f->P; q++) {
            double e = (double)f->upd[j][q] - (double)f->delta[q];
            dd += e * e;
        }
        f->raw[f->round.client[j]] = 1.0 + sqrt(dd / nn);
    }
    rg_reg_scale((size_t)f->f.clients, f->weight, f->raw, f->factor);
}

/* The clients' state's store (--client-state): auto takes the disk when
 * the full state, every client's, would pass RG_CSTORE_AUTO_BYTES, and
 * world rank 0 says so (memory, the usual, goes unsaid). */
static rg_status open_store(fed *f, size_t m)
{
    size_t per = (size_t)f->algo->client_state * f->P;
    double full = (double)f->f.clients * (double)per * sizeof(float);
    rg_cstore_kind kind = rg_fed_store_kind(&f->f, f->P);
    if (f->f.client_store == RG_CSTORE_AUTO && kind == RG_CSTORE_DISK && f->base.rank == 0)
        rg_log("regula fed: --client-state auto: on disk, in a scratch file in %s (%d clients x %zu floats = "
               "%.2f GB, over 1 GiB: memory holds a round's clients' alone)", f->f.state_dir, f->f.clients, per,
               full / 1e9);
    return rg_cstore_open(&f->store, kind, f->f.state_dir, (size_t)f->f.clients, per, m);
}

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    fed *f = (fed *)s;
    size_t P = rg_model_param_count(env->root);
    rg_status st = rg_strat_setup(s, env, 0, 0, P, P);
    if (st != RG_OK) return st;
    s->local_from = 0;   /* every step is a client's own */
    f->f = *env->fed;
    f->parts = env->clients;
    f->batch = env->batch;
    f->shuffle = env->shuffle;
    f->seed = env->seed;
    f->P = P;
    f->algo = f->f.algo;
    size_t m = rg_fed_sampled(&f->f), per = (m + (size_t)s->world - 1) / (size_t)s->world;
    /* every client's update, in its slot: for the bits, for the algorithm, or to measure its divergence */
    int slots = f->f.deterministic || f->algo->per_client || f->f.mu_adapt == RG_ADAPT_DIVERGENCE ||
                rg_fed_per_client(&f->f);
    f->agg = (rg_fed_agg){ .comm = s->comm, .g = s->rank, .W = s->world, .P = P, .deterministic = slots, .per = per,
                           .f = &f->f, .seed = f->seed };
    size_t ss = (size_t)f->algo->server_state, cs = (size_t)f->algo->client_state;
    f->server = rg_calloc(ss ? ss * P : 1, sizeof(float));
    f->cview = rg_calloc(m, sizeof *f->cview);
    f->upd = rg_calloc(m, sizeof *f->upd);
    f->ust = rg_calloc(m, sizeof *f->ust);
    if (!f->server || !f->cview || !f->upd || !f->ust || factors_init(f, env) != RG_OK)
        return rg_error(RG_ENOMEM, "out of memory: federated worker %d's %s state", s->rank, f->algo->name);
    if (cs && (st = open_store(f, m)) != RG_OK) return st;
    f->global = rg_calloc(P, sizeof(float));
    f->delta = rg_calloc(P, sizeof(float));
    f->cl = rg_calloc(3 * m, sizeof *f->cl);
    f->scratch = rg_calloc(3 * m, sizeof *f->scratch);
    if (slots) {
        f->agg.slots = rg_calloc(per * P, sizeof(float));
        f->agg.all = rg_calloc((size_t)s->world * per * P, sizeof(float));
    } else {
        f->agg.sum = rg_calloc(P, sizeof(float));
    }
    if (!f->global || !f->delta || !f->cl || !f->scratch || (slots ? !f->agg.slots || !f->agg.all : !f->agg.sum))
        return rg_error(RG_ENOMEM, "out of memory: federated worker %d (%zu clients a round, %zu parameters)", s->rank,
                        m, P);
    st = rg_strat_broadcast(s);
    rg_fed_ctx cx = { .f = &f->f, .P = P, .clients = f->f.clients, .wg = rg_model_params(s->m), .server = f->server };
    if (st == RG_OK && f->algo->server_init) f->algo->server_init(&cx);
    return st;
}

/* The round's plan and this worker's part of it; its replica holds w_g. */
static rg_status deal(rg_strategy *s, uint64_t epoch, const rg_deal **out)
{
    fed *f = (fed *)s;
    rg_deal_free(&f->deal);
    rg_round_free(&f->round);
    rg_status st = rg_round_plan(&f->round, &f->f, f->parts, f->batch, s->world, f->seed, epoch);
    if (st == RG_OK)
        st = rg_deal_make(&f->deal, &f->round, f->parts, f->batch, s->rank, s->world, f->shuffle, f->seed, f->factor);
    if (st != RG_OK) return st;
    if (f->store && (st = rg_cstore_begin(f->store, f->round.client, f->round.trained, f->round.m, f->cview)) != RG_OK)
        return st;
    f->deal.attack = &f->f.attack;
    f->deal.classes = f->classes;
    memcpy(f->global, rg_model_params(s->m), f->P * sizeof(float));
    if (f->agg.sum) memset(f->agg.sum, 0, f->P * sizeof(float));
    if (f->agg.slots) memset(f->agg.slots, 0, f->agg.per * f->P * sizeof(float));
    memset(f->cl, 0, 3 * f->round.m * sizeof *f->cl);
    f->es = 0;
    f->cur = 0;
    client_start(f);
    skip_empty(f);
    *out = &f->deal;
    return RG_OK;
}

/* The worker's own gradient; the algorithm's terms join it (FedProx's
 * pull towards w_g, SCAFFOLD's correction, FedDyn's). */
static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    fed *f = (fed *)s;
    rg_strat_region_whole(s, x);
    x->local = 1;
    if (!f->algo->client_grad || f->deal.start[f->es + 1] == f->deal.start[f->es]) return RG_OK;
    size_t j = (size_t)s->rank + f->cur * (size_t)s->world;
    rg_fed_ctx cx = { .f = &f->f, .P = f->P, .clients = f->f.clients, .wg = f->global, .server = f->server,
                      .mine = f->store ? f->cview[j] : NULL, .factor = f->factor[f->round.client[j]] };
    x->fig.reg += f->algo->client_grad(&cx, rg_model_params(s->m), x->grad);
    return RG_OK;
}

/* The server step's view of the round: each sampled client's update (on
 * the per-client path) and its own state (the round's views of the
 * store), which a checkpoint still being written may not see change:
 * this waits for it, answering peers meanwhile. */
static void round_view(fed *f)
{
    for (size_t j = 0; j < f->round.m; j++) {
        int took = f->round.trained[j] > 0;
        f->upd[j] = took && f->agg.deterministic ? rg_fed_client_update(&f->agg, j) : NULL;
        f->ust[j] = f->store ? f->cview[j] : NULL;
    }
    if (!f->store) return;
    while (rg_cstore_busy(f->store)) {
        rg_dist_service();
        struct timespec nap = { 0, 1000000 };
        nanosleep(&nap, NULL);
    }
    rg_cstore_hold(f->store);
}

/* The global penalty's step size: lr x the clients' mean local steps
 * (weighted by the samples they trained on). */
static float penalty_eta(const fed *f, float lr)
{
    double n = 0.0, tau = 0.0;
    for (size_t j = 0; j < f->round.m; j++) {
        n += (double)f->round.trained[j];
        tau += (double)f->round.trained[j] * (double)f->round.steps[j];
    }
    return n > 0.0 ? lr * (float)(tau / n) : 0.0f;
}

/* The server's step on w_g, the same on every worker: the algorithm's,
 * then the global penalty's.  A server that keeps moments of the update
 * (FedAdam, FedYogi, FedAvgM) takes the penalty's step inside the update
 * it steps on, so that its moments see the penalised objective: stepped
 * after, a raw penalty step is outweighed by the normalised (or
 * accumulated) data step, and the model ends less regularised.  A kept
 * round (no report, or too few for --aggregate's rule) takes none: w_g,
 * the server's state (momentum, moments, SCAFFOLD's c and c_i, FedDyn's h
 * and g_i) and --mu-adapt divergence's figures stay as they were, and the
 * replica gets w_g back. */
static rg_status server_step(fed *f, float lr)
{
    rg_strategy *s = &f->base;
    float *w = rg_model_params(s->m), *pen = rg_model_grads(s->m);
    size_t P = f->P;
    int penalise = f->f.server_penalty && rg_model_has_penalty(s->m);
    int inside = penalise && rg_fed_server_has_moments(&f->f);
    if (f->agg.kept) {   /* (the round's clients' states stay as they were: none is committed) */
        memcpy(w, f->global, P * sizeof(float));
        return RG_OK;
    }
    round_view(f);
    float eta = penalise ? penalty_eta(f, lr) : 0.0f;
    if (penalise) {   /* at w_g, as a synchronous step takes it at the step's start */
        memcpy(w, f->global, P * sizeof(float));
        memset(pen, 0, P * sizeof(float));
        rg_model_penalty(s->m, 1.0f, pen);
    }
    if (inside)   /* the update less the penalty's step, in pen's place (delta stays the mean update) */
        for (size_t q = 0; q < P; q++) pen[q] = f->delta[q] - eta * pen[q];
    rg_fed_ctx cx = { .f = &f->f, .P = P, .clients = f->f.clients, .wg = f->global, .server = f->server,
                      .round = &f->round, .upd = f->upd, .state = f->ust, .lr = lr };
    f->algo->server_step(&cx, inside ? pen : f->delta);
    rg_status st = f->store ? rg_cstore_commit(f->store, f->round.client, f->round.trained, f->round.m) : RG_OK;
    if (st != RG_OK) return st;
    factors_round(f);
    if (penalise && !inside)
        for (size_t q = 0; q < P; q++) f->global[q] -= eta * pen[q];
    memcpy(w, f->global, P * sizeof(float));
    rg_model_apply_constraints(s->m);
    memcpy(f->global, w, P * sizeof(float));
    return RG_OK;
}

/* DP-FedAvg's epsilon after `rounds` rounds at --dp-delta: the accountant
 * keeps no state, each round's figure is the rounds so far's.  lgamma
 * sets the global signgam: worker 0 alone calls this. */
static double round_epsilon(const fed *f, long rounds)
{
    double q = (double)rg_fed_sampled(&f->f) / (double)f->f.clients;
    return rg_rdp_epsilon(q, f->f.dp_noise, rounds, f->f.dp_delta);
}

/* The round's clients' figures, every worker's, summarised. */
static rg_status summarise(fed *f)
{
    rg_strategy *s = &f->base;
    size_t m = f->round.m, n = 0;
    rg_status st = s->world > 1 ? rg_comm_allreduce_f64(s->comm, f->cl, 3 * m, RG_REDUCE_SUM) : RG_OK;
    if (st != RG_OK) return st;
    double *loss = f->scratch, *drift = f->scratch + m, *acc = f->scratch + 2 * m, *tmp = f->cl;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < m; j++)
        if (f->round.trained[j]) {
            loss[n] = f->cl[j];
            drift[n] = f->cl[m + j];
            acc[n] = f->cl[2 * m + j];
            lo = fmin(lo, f->factor[f->round.client[j]]);
            hi = fmax(hi, f->factor[f->round.client[j]]);
            n++;
        }
    rg_fed_summary a, b, c;
    rg_fed_summarise(loss, n, 0, tmp, &a);
    rg_fed_summarise(drift, n, 0, tmp, &b);
    rg_fed_summarise(acc, n, !f->regression, tmp, &c);   /* the lowest accuracy, the highest MAE */
    double bytes = (double)f->P * sizeof(float) * (double)(1 + f->algo->extra);
    f->report = (rg_round_stats){ .clients = (int)m, .trained = (int)n, .client_loss_mean = a.mean,
                                  .client_loss_std = a.std, .client_loss_worst = a.worst, .drift_mean = b.mean,
                                  .drift_std = b.std, .drift_worst = b.worst, .bytes_down = (double)m * bytes,
                                  .bytes_up = (double)n * bytes, .factor_min = n ? lo : NAN, .factor_max = n ? hi : NAN,
                                  .dropped = (int)f->round.dropped, .stragglers = (int)f->round.stragglers,
                                  .kept = f->agg.kept, .dp = f->f.dp_clip > 0.0, .client_acc_mean = c.mean,
                                  .client_acc_std = c.std, .client_acc_worst = c.worst };
    for (size_t j = 0; j < m; j++) f->report.samples += (double)f->round.trained[j];
    if (f->f.dp_clip > 0.0 && s->rank == 0)   /* (worker 0 alone: round_epsilon) */
        f->report.epsilon = round_epsilon(f, (long)f->round.round + 1);
    s->round = &f->report;
    return RG_OK;
}

static rg_status round_end(fed *f, rg_exchange *x)
{
    rg_strategy *s = &f->base;
    rg_status st = RG_TIMED(s, rg_fed_aggregate(&f->agg, &f->round, f->delta, &s->bytes));
    if (st == RG_OK) st = summarise(f);
    if (st == RG_OK) st = server_step(f, x->lr);
    if (st != RG_OK) return st;
    /* a server step that overflowed (w_g or the server's state not finite) cannot be undone, even under
     * --skip-nonfinite: every worker took the same step, so every worker stops here (exit 4), not at the end */
    size_t kept = rg_fed_server_kept(&f->f) * f->P;
    x->broke = !rg_all_finite(f->global, f->P) || (kept && !rg_all_finite(f->server, kept));
    client_start(f);   /* a fresh optimizer for the next round */
    x->synced = 1;
    return RG_OK;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    fed *f = (fed *)s;
    const rg_deal *d = &f->deal;
    size_t nb = d->start[f->es + 1] - d->start[f->es];
    if (!x->idle) rg_strat_update_whole(s, x);
    if (x->broke) return RG_OK;
    if (!x->idle) {
        f->loss += x->fig.loss;
        f->hits += x->hits;
        f->seen += (double)nb;
    }
    if (f->cur < d->mine && d->first[f->cur + 1] == f->es + 1) client_done(f);
    f->es++;
    return f->es == d->steps ? round_end(f, x) : RG_OK;
}

/* ---- checkpoints: the state a round leaves (ckpt.c) ---- */

/* FNV-1a of what every worker should hold alike (the clients' states
 * read a client at a time through the round's first view). */
static rg_status state_hash(const fed *f, uint64_t *out)
{
    size_t P = f->P, per = (size_t)f->algo->client_state * P;
    uint64_t h = rg_fnv1a(RG_FNV_INIT, f->server, rg_fed_server_kept(&f->f) * P * sizeof(float));
    float *buf = f->store && f->f.clients ? rg_malloc((per ? per : 1) * sizeof(float)) : NULL;
    if (f->store && !buf) return rg_error(RG_ENOMEM, "out of memory: a client's state (%zu floats)", per);
    rg_status st = RG_OK;
    for (int c = 0; f->store && st == RG_OK && c < f->f.clients; c++)
        if (rg_cstore_has(f->store, (size_t)c) && (st = rg_cstore_read(f->store, (size_t)c, 0, buf, per)) == RG_OK) {
            h = rg_fnv1a(h, &c, sizeof c);
            h = rg_fnv1a(h, buf, per * sizeof(float));
        }
    rg_free(buf);
    if (f->f.mu_adapt == RG_ADAPT_DIVERGENCE) h = rg_fnv1a(h, f->raw, (size_t)f->f.clients * sizeof(double));
    *out = h;
    return st;
}

/* World rank 0's state is written for all: every worker updates its own
 * alike from the gathered updates, and says so at each checkpoint. */
static rg_status same_everywhere(fed *f)
{
    rg_strategy *s = &f->base;
    if (s->world == 1) return RG_OK;
    uint64_t mine = 0, first;
    rg_status st = state_hash(f, &mine);
    first = mine;
    if (st == RG_OK) st = rg_comm_broadcast(s->comm, &first, sizeof first, 0);
    double differ = first != mine;
    if (st == RG_OK) st = rg_comm_allreduce_f64(s->comm, &differ, 1, RG_REDUCE_SUM);
    if (st == RG_OK && differ > 0.0)
        st = rg_error(RG_ECOMM, "regula fed: %.0f of %d workers hold another %s state than world rank 0 at round %llu's "
                      "end: not writing a checkpoint that would not resume", differ, s->world, f->algo->name,
                      (unsigned long long)f->round.round + 1);
    return st;
}

static rg_status save_fed(rg_strategy *s, rg_fed_state *out)
{
    fed *f = (fed *)s;
    rg_status st = same_everywhere(f);
    if (st != RG_OK || !out) return st;
    size_t P = f->P, C = (size_t)f->f.clients, n = f->store ? rg_cstore_count(f->store) : 0;
    int div = f->f.mu_adapt == RG_ADAPT_DIVERGENCE;
    /* the clients' states stay in the store: the writer reads them from it
     * a client at a time (it pins the store; the next server step waits) */
    st = rg_fed_state_size(out, P, rg_fed_server_kept(&f->f), n, 0, div ? C : 0);
    if (st != RG_OK) return st;
    out->client_n = n ? (uint64_t)f->algo->client_state : 0;
    out->store = n ? f->store : NULL;
    if (out->server_n) memcpy(out->server, f->server, (size_t)out->server_n * P * sizeof(float));
    for (size_t c = 0, i = 0; n && c < C; c++)
        if (rg_cstore_has(f->store, c)) out->ids[i++] = c;
    if (div) memcpy(out->raw, f->raw, C * sizeof(double));
    rg_fed_round_pack(&f->report, out->round);   /* the round just ended (checkpoints fall on rounds' ends) */
    out->has_round = 1;
    return RG_OK;
}

static rg_status put_client(void *store, size_t id, const float *x) { return rg_cstore_put(store, id, x); }

/* A resumed run: the state as the checkpoint's round left it (checked
 * against this run by rg_fed_state_check before). */
static rg_status load_fed(rg_strategy *s, const rg_fed_state *in)
{
    fed *f = (fed *)s;
    if (!in) return RG_OK;
    if (in->has_round) {   /* the resumed round's figures, for its event again */
        rg_fed_round_unpack(in->round, &f->report);
        s->round = &f->report;
        /* at this run's --dp-delta, which may differ from the checkpoint's:
         * the event follows this run's config; the same bits when not */
        if (f->report.dp && s->rank == 0)
            f->report.epsilon = round_epsilon(f, (long)in->rounds);
    }
    size_t P = f->P, C = (size_t)f->f.clients;
    if (in->server_n) memcpy(f->server, in->server, (size_t)in->server_n * P * sizeof(float));
    /* the clients' states a client at a time: from the checkpoint file, or the copy read from it */
    rg_status st = in->n ? rg_fed_state_each(in, put_client, f->store) : RG_OK;
    if (st != RG_OK) return st;
    if (in->clients == C && C) {   /* divergence: the factors from the figures, as after the round */
        memcpy(f->raw, in->raw, C * sizeof(double));
        rg_reg_scale(C, f->weight, f->raw, f->factor);
    }
    return RG_OK;
}

static void free_fed(rg_strategy *s)
{
    fed *f = (fed *)s;
    rg_deal_free(&f->deal);
    rg_round_free(&f->round);
    rg_free(f->global);
    rg_free(f->delta);
    rg_free(f->cl);
    rg_free(f->scratch);
    rg_free(f->agg.sum);
    rg_free(f->agg.slots);
    rg_free(f->agg.all);
    rg_free(f->server);
    rg_cstore_close(f->store);
    rg_free(f->cview);
    rg_free(f->upd);
    rg_free(f->ust);
    rg_free(f->factor);
    rg_free(f->weight);
    rg_free(f->raw);
}

const rg_strategy_ops rg_strategy_fed = {
    .name = "fed", .size = sizeof(fed), .init = init, .deal = deal, .exchange = exchange,
    .agree = rg_strat_agree_whole, .update = update, .gather_state = rg_strat_gather_whole,
    .restore_state = rg_strat_restore_whole, .save_fed = save_fed, .load_fed = load_fed, .free = free_fed,
};
