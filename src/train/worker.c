/*
 * worker.c — one worker of a training run: its epochs and its steps.
 *
 * A step reads as the algorithm (train_step): take this step's samples;
 * forward and backward, the local penalty starting the gradient; exchange;
 * the global penalty on the part of the weights this worker updates; agree
 * on the step's figures and verdict; the non-finite policy; update; then
 * the running figures, the log, the checkpoint.  The strategy
 * (src/parallel/) decides what exchange, agree and update do; the
 * regularization unit (src/reg/) where and how strongly the penalty
 * applies; the batch schedule (src/data/batch.c) which samples a worker
 * takes.
 *
 * Invariants: the epoch's order is a pure function of (seed, epoch), of
 * (seed, epoch, worker) for a fixed partition, and a dropout mask of
 * (step, sample id), so which mask a sample gets never depends on the
 * worker count.  Every decision (stop or skip on a non-finite value, early
 * stopping) is taken on agreed figures, so every worker takes it at the
 * same step.  The counters and sums (w->st) are the same on every worker.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/dist.h"
#include "data/data.h"
#include "train/run.h"
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

/* --skip-nonfinite gives up after this many skipped steps in a row: the
 * weights themselves have gone bad, and skipping cannot mend them */
#define RG_SKIP_LIMIT 100

/* a worker's figures of an epoch, all-gathered at its end */
enum { WS_SAMPLES, WS_LOSS, WS_CORRECT, WS_COMPUTE, WS_COMM, WS_BYTES, WS_DIV, WS_ABS, WS_SQ, WS_N };

typedef struct worker {
    rg_run *r;
    const rg_plan *p;
    int t, g, W;                /* thread in this process; rank and size among the
                                   workers that train (the world but servers) */
    rg_comm *comm;              /* theirs: the strategy's team */
    rg_strategy *s;
    rg_model *m;                /* the strategy's: a replica or a view */
    rg_reg reg;                 /* scope and this worker's copy of the strengths */
    rg_run_state st;            /* counters and sums (no arrays: those are gathered) */
    double mine[WA_N];          /* this worker's figures of the epoch in progress */
    double *wacc;               /* [W x WA_N]: every worker's, at a checkpoint */
    float *extra;               /* [W x extra_n]: every worker's strategy state, at a checkpoint */
    size_t extra_n;
    uint64_t *order;            /* the epoch's order: every sample (iid) or its part */
    const rg_deal *deal;        /* the epoch's samples as the strategy dealt them, or NULL */
    uint64_t steps;             /* the epoch's steps: the schedule's or the deal's */
    size_t list_n;
    uint64_t *ids;              /* one pass's rows: ids, features, labels or targets */
    float *xb;
    int32_t *yb;
    float *tb, *zb;             /* regression: the rows' targets, and outputs */
    float *best;                /* early stopping's copy of the weights */
    float own_lim;              /* the limit of this worker's own gradient test */
    int stopped;                /* every worker stops at this step (no abort) */
    uint64_t note[3];           /* its own stop on a local step: step, epoch, skipped
                                   (the abort's note: rank 0 logs it; note[0] 0: none) */
    int stopped_early;          /* early stopping ended the run */
    double t_epoch, t_ckpt;     /* this epoch's start; its time in checkpoints */
    uint64_t samples_t0;        /* samples of the epoch done before this process began it */
    uint64_t logged;            /* the last step event's step (dealt parts: worker 0
                                   may take two parts of one step; it logs the first) */
    rg_run_state synced;        /* local steps: the world's counters and sums at the
                                   last sync (st holds this worker's since then) */
} worker;

typedef struct step {
    uint64_t es;                /* this step of the epoch, from 0 */
    size_t b_step;              /* samples all workers take */
    float inv_b;                /* 1 / b_step: the gradient's scale (of a synchronous step) */
    int local;                  /* a local step: each worker its own mean and figures */
    double loss, reg;           /* this worker's data loss sum and local penalty */
    size_t samples, correct;
    double abs, sq;             /* regression: the outputs' absolute, squared errors */
    int measured;               /* the divergence policy measures this step */
    double div;
    int skipped;
    rg_exchange x;
} step;

/* ------------------------------------------------------------ one step */

/* A pass's figures: into its tail (loss, penalty, the non-finite verdict
 * from its gradient's largest |g|) and the step's sums; rows [at, at + nb)
 * of the buffers are its. */
static void note_pass(worker *w, step *k, float *tail, double l, double reg, float maxabs, size_t at, size_t nb,
                      size_t correct)
{
    int bad = !isfinite(l) || !(maxabs <= w->own_lim);
    tail[RG_TAIL_LOSS] = (float)l;
    tail[RG_TAIL_REG] = (float)reg;
    tail[RG_TAIL_BAD] = bad ? 1.0f : 0.0f;
    tail[RG_TAIL_BADRANK] = bad ? (float)(w->g + 1) : 0.0f;
    k->loss += l;
    k->reg += reg;
    k->samples += nb;
    k->correct += correct;
    for (size_t i = at; w->tb && i < at + nb; i++) {
        double e = (double)w->zb[i] - (double)w->tb[i];
        k->abs += fabs(e);
        k->sq += e * e;
    }
}

/* Gathers pass `pass`'s rows into the worker's buffers from row `at` on;
 * returns how many. */
static size_t take_rows(worker *w, const step *k, int pass, size_t at)
{
    const rg_run *r = w->r;
    size_t lo, hi, d = rg_dataset_features(r->train);
    const uint64_t *order = w->deal ? w->deal->order : w->order;
    if (w->deal) lo = w->deal->start[k->es], hi = w->deal->start[k->es + 1];
    else if (w->p->iid) rg_schedule_slice(&r->sched, k->es, w->s->part0 + pass, w->s->parts, &lo, &hi);
    else rg_schedule_window(&r->sched, w->g, k->es, &lo, &hi);
    const int32_t *Y = rg_dataset_y(r->train);
    const float *T = rg_dataset_targets(r->train);
    enum { AHEAD = 4 };   /* rows in flight: a random row misses the cache */
    for (size_t i = 0; i < AHEAD && i < hi - lo; i++) rg_dataset_prefetch(r->train, (size_t)order[lo + i]);
    for (size_t i = 0; i < hi - lo; i++) {
        uint64_t id = order[lo + i];
        if (i + AHEAD < hi - lo) rg_dataset_prefetch(r->train, (size_t)order[lo + i + AHEAD]);
        w->ids[at + i] = id;
        rg_dataset_row(r->train, (size_t)id, w->xb + (at + i) * d);   /* bytes scaled here */
        if (Y) w->yb[at + i] = w->deal ? rg_deal_label(w->deal, k->es, Y[id]) : Y[id];
        else w->tb[at + i] = T[id];
    }
    return hi - lo;
}

/* One forward/backward pass: its gradient in the arena, the local penalty
 * starting it (weighted by this pass's share of the step's samples), its
 * figures in the arena's tail. */
static rg_status compute(worker *w, step *k, int pass)
{
    size_t nb = take_rows(w, k, pass, 0), P = rg_model_param_count(w->m);
    /* a synchronous step: the gradient of the world's mean; a local one:
     * of this worker's own */
    float scale = !k->local || w->s->summed ? k->inv_b : nb ? 1.0f / (float)nb : 0.0f;
    float strength = rg_reg_strength(&w->reg, w->g, nb, scale);
    if (w->deal) strength *= w->deal->factor[k->es];   /* a dealt step's own (a client's --mu-adapt) */
    /* the gradient starts at the penalty's, or the backward pass overwrites
     * it (no zeroing pass); an empty share has no backward: zeroed */
    int start = rg_reg_starts(&w->reg) && !k->measured;
    double reg = start ? rg_model_start_grad(w->m, strength) : 0.0;
    if (!start && nb == 0) rg_model_zero_grad(w->m);
    /* a dealt step's draws are keyed by what it is, not by when it runs */
    rg_pass ps = { .seed = w->p->seed, .step = w->deal ? w->deal->key[k->es] : w->st.n.step, .sample_ids = w->ids, .training = 1,
                   .label_smoothing = (float)w->p->label_smoothing, .grad_scale = scale, .overwrite = !start,
                   .class_weight = w->r->class_weight, .targets = w->tb };
    double l = 0.0;
    size_t correct = 0;
    rg_status st = rg_model_forward_backward(w->m, w->xb, w->tb ? NULL : w->yb, nb, &ps, 1, &l, &correct, w->zb);
    if (st != RG_OK)   /* a label out of range is the data's fault; out of memory is not */
        return st == RG_EDATA ? rg_error_prefix(st, "%s: worker %d: ", rg_dataset_name(w->r->train), w->g) : st;
    /* divergence: the data gradient is kept before the worker's own penalty joins it */
    if (k->measured) reg = rg_reg_own(&w->reg, w->m, strength);
    note_pass(w, k, rg_model_grads(w->m) + P, l, reg, rg_max_abs(rg_model_grads(w->m), P), 0, nb, correct);
    return RG_OK;
}

/* Whether this step's passes run as one (compute_shards): the strategy
 * said so (its shards all here, and env.fuse_ok: no penalty starting each
 * pass's gradient, none measured from it); it then keeps no slot for a
 * pass of its own. */
static int fusable(const worker *w, const step *k)
{
    if (!w->s->fuse) return 0;
    RG_ASSERT(w->p->iid && !w->deal && !k->local && !k->measured && !rg_reg_starts(&w->reg) && k->b_step);
    return 1;
}

/* The passes of a --deterministic step as one (rg_model_forward_backward_shards):
 * each shard's figures in a tail of its own, summed in the shards' tree
 * into the arena's, as the passes and the exchange would; the same bits. */
static rg_status compute_shards(worker *w, step *k)
{
    int S = w->s->npass;
    size_t rows[RG_FUSE_MAX_SHARDS + 1] = { 0 }, correct[RG_FUSE_MAX_SHARDS], P = rg_model_param_count(w->m);
    double loss[RG_FUSE_MAX_SHARDS];
    float maxabs[RG_FUSE_MAX_SHARDS], tails[RG_FUSE_MAX_SHARDS * RG_GRAD_TAIL];
    for (int i = 0; i < S; i++) rows[i + 1] = rows[i] + take_rows(w, k, i, rows[i]);
    rg_pass ps = { .seed = w->p->seed, .step = w->st.n.step, .sample_ids = w->ids, .training = 1,
                   .label_smoothing = (float)w->p->label_smoothing, .grad_scale = k->inv_b, .overwrite = 1,
                   .class_weight = w->r->class_weight, .targets = w->tb };
    rg_status st = rg_model_forward_backward_shards(w->m, w->xb, w->tb ? NULL : w->yb, rows, S, &ps, loss, correct,
                                                    maxabs, w->zb);
    if (st != RG_OK)
        return st == RG_EDATA ? rg_error_prefix(st, "%s: worker %d: ", rg_dataset_name(w->r->train), w->g) : st;
    for (int i = 0; i < S; i++)   /* no penalty starts a fused pass (fuse_ok) */
        note_pass(w, k, tails + (size_t)i * RG_GRAD_TAIL, loss[i], 0.0, maxabs[i], rows[i], rows[i + 1] - rows[i],
                  correct[i]);
    rg_tree_sum(tails, RG_GRAD_TAIL, RG_GRAD_TAIL, S, 0, S, rg_model_grads(w->m) + P);
    return RG_OK;
}

/* How far this worker's data gradient strays from the average's. */
static double divergence(worker *w, const step *k)
{
    double total = 0.0;   /* the strength of the penalty all workers added */
    for (int q = 0; q < w->W; q++) {
        size_t lo, hi;
        rg_schedule_window(&w->r->sched, q, k->es, &lo, &hi);
        total += w->reg.lambda[q] * (double)(hi - lo) * (double)k->inv_b;
    }
    return rg_reg_diverged(&w->reg, w->m, k->x.grad, (double)k->b_step / (double)k->samples, total);
}

/* Says why training stops at this step (every worker says the same). */
static rg_status stop_message(const worker *w, const step *k)
{
    unsigned long long step1 = (unsigned long long)w->st.n.step + 1;
    int epoch = (int)w->st.n.epoch + 1, bad = (int)k->x.fig.bad;
    const char *unit = w->p->fed ? "round" : "epoch";   /* regula fed's epoch is a round */
    char hint[96];
    snprintf(hint, sizeof hint, "try a lower %s, or --skip-nonfinite", rg_plan_lower(w->p));
    char lim[160] = "";
    if (w->s->limit < FLT_MAX)
        snprintf(lim, sizeof lim, " (an element beyond %.3g counts: the %s optimizer's moments would overflow)",
                 (double)w->s->limit, w->p->c->optimizer);
    const char *own_lim = w->own_lim < FLT_MAX ? lim : "";
    double reg = k->x.fig.reg;
    if (w->p->skip_nonfinite)
        return rg_error(RG_ENONFINITE, "training stopped: %d steps in a row had a non-finite loss or gradient "
                        "(--skip-nonfinite skips at most %d; the weights have gone bad); last at step %llu (%s %d)",
                        RG_SKIP_LIMIT + 1, RG_SKIP_LIMIT, step1, unit, epoch);
    if (bad == 0 && k->x.over && w->W > 1 && !k->x.local)
        return rg_error(RG_ENONFINITE, "training stopped: the summed gradient overflowed at step %llu (%s %d; "
                        "every worker's own was finite)%s; %s", step1, unit, epoch, lim, hint);
    if (bad == 0 && k->x.over)
        return rg_error(RG_ENONFINITE, "training stopped: the gradient with the penalty's overflowed at step %llu "
                        "(%s %d)%s; %s", step1, unit, epoch, lim, hint);
    if (bad == 0 && !isfinite(reg))
        return rg_error(RG_ENONFINITE, "training stopped: the penalty is not finite at step %llu (%s %d): "
                        "the weights have grown too large; %s", step1, unit, epoch, hint);
    if (bad == 0)
        return rg_error(RG_ENONFINITE, "training stopped: the step's loss overflowed a float at step %llu (%s %d; "
                        "every worker's own was finite); %s", step1, unit, epoch, hint);
    if (bad == 1 && k->x.fig.bad_rank >= 1.0)
        return rg_error(RG_ENONFINITE, "training stopped: non-finite loss or gradient at step %llu (%s %d, "
                        "worker %d)%s; %s", step1, unit, epoch, (int)k->x.fig.bad_rank - 1, own_lim, hint);
    /* (deterministic shards are counted one by one) */
    return rg_error(RG_ENONFINITE, "training stopped: non-finite loss or gradient at step %llu (%s %d, "
                    "%d %s)%s; %s", step1, unit, epoch, bad, w->s->parts != w->W ? "shards" : "workers", own_lim, hint);
}

/* A stop every worker takes at this step (the figures were agreed; a
 * worker's own stop on a local step is not: it stops the others through
 * rg_comm_abort_note, with its status, message and note).  An agreed stop is
 * reported (result, log's end event) by thread 0; a local one by the worker
 * that stops, in whichever thread, the first of its process to claim it
 * (its message is the run's: others may stop on their own at another
 * step); its peers are woken by the abort and report nothing.  Under mpirun
 * the log is rank 0's: a stop in another process reaches it as the abort's
 * note, which rank 0 logs once its workers are done (train.c). */
static void stop_result(worker *w, const step *k)
{
    rg_run *r = w->r;
    w->stopped = !k->x.local;
    if (!w->stopped) {
        w->note[0] = w->st.n.step + 1;
        w->note[1] = w->st.n.epoch + 1;
        w->note[2] = w->st.n.skipped;
    }
    if (w->stopped && w->t != 0) return;
    /* the claim and the end event under the log's lock: no event of a
     * thread still training follows the end (rg_run_log) */
    if (w->g == 0 || k->x.local) rg_run_peer_skips(r);   /* before the end */
    FILE *log = w->g == 0 || k->x.local ? rg_run_log(r) : NULL;
    if (w->stopped || atomic_exchange(&r->stop_claimed, 1) == 0) {
        if (!w->stopped) snprintf(r->stop_msg, sizeof r->stop_msg, "%s", rg_last_error());
        r->result.nonfinite_step = w->st.n.step + 1;
        r->result.epochs_run = (int)w->st.n.epochs_run;
        r->result.best_epoch = (int)w->st.n.best_epoch;
        r->result.skipped = w->st.n.skipped;
        if (log) {
            rg_log_stopped(log, w->st.n.step + 1, (int)w->st.n.epoch + 1, w->st.n.skipped);
            r->log_ended = 1;
        }
    }
    if (log) rg_run_log_done(r);
}

/* The non-finite policy: skip the update everywhere (RG_OK, k->skipped),
 * or stop everywhere (RG_ENONFINITE, the same on every worker).  On a
 * local step the figures are this worker's: it skips alone (and logs its
 * skip), or stops all. */
static rg_status nonfinite(worker *w, step *k)
{
    if (w->p->skip_nonfinite && w->st.n.run_skipped < RG_SKIP_LIMIT) {
        w->st.n.skipped++;
        w->st.n.epoch_skipped++;
        w->st.n.run_skipped++;
        k->skipped = 1;
        int who = k->x.fig.bad == 1.0 && k->x.fig.bad_rank >= 1.0 ? (int)k->x.fig.bad_rank - 1 : -1;
        FILE *log = w->g == 0 || k->x.local ? rg_run_log(w->r) : NULL;
        if (log) {
            rg_log_skip(log, w->st.n.step + 1, (int)w->st.n.epoch + 1, who, w->st.n.skipped);
            rg_run_log_done(w->r);
        } else if (k->x.local && rg_dist_rank() != 0) {
            /* the log is rank 0's: it writes this skip when the note comes */
            uint64_t note[4] = { w->st.n.step + 1, w->st.n.epoch + 1, (uint64_t)(int64_t)who, w->st.n.skipped };
            rg_dist_post(note, sizeof note);
        }
        return RG_OK;
    }
    rg_status st = stop_message(w, k);
    stop_result(w, k);
    return st;
}

/* An update that wrote NaN or Inf cannot be undone: every worker stops. */
static rg_status broke(worker *w, const step *k)
{
    rg_status st = w->p->fed   /* regula fed: a client's optimizer step, or the server's at the round's end */
        ? rg_error(RG_ENONFINITE, "training stopped: step %llu (round %d: a client's step, or the server's at the "
                   "round's end) made a weight, the optimizer's or the server's state non-finite%s; try a lower --lr or "
                   "--server-lr", (unsigned long long)w->st.n.step + 1, (int)w->st.n.epoch + 1,
                   w->p->skip_nonfinite ? " (an update already made cannot be skipped)" : "")
        : rg_error(RG_ENONFINITE, "training stopped: the update of step %llu (epoch %d) made a weight or the "
                   "optimizer's state non-finite%s; try a lower --lr", (unsigned long long)w->st.n.step + 1,
                   (int)w->st.n.epoch + 1, w->p->skip_nonfinite ? " (an update already made cannot be skipped)" : "");
    stop_result(w, k);
    return st;
}

/* After a sync of local steps: the world's counters and sums are the last
 * sync's plus every worker's since (one small all-reduce), so that every
 * worker holds them again, as after a synchronous step. */
static rg_status sync_figures(worker *w)
{
    rg_run_state *a = &w->st, *b = &w->synced;
    double d[5] = { a->f.loss - b->f.loss, a->f.reg - b->f.reg, (double)(a->n.epoch_samples - b->n.epoch_samples),
                    (double)(a->n.skipped - b->n.skipped), (double)(a->n.epoch_skipped - b->n.epoch_skipped) };
    if (w->W > 1) {
        rg_status st = rg_comm_allreduce_f64(w->comm, d, 5, RG_REDUCE_SUM);
        if (st != RG_OK) return st;
    }
    a->f.loss = b->f.loss + d[0];
    a->f.reg = b->f.reg + d[1];
    a->n.epoch_samples = b->n.epoch_samples + (uint64_t)d[2];
    a->n.skipped = b->n.skipped + (uint64_t)d[3];
    a->n.epoch_skipped = b->n.epoch_skipped + (uint64_t)d[4];
    *b = *a;
    return RG_OK;
}

/* A kept step: the running figures, the step event, the progress bar.
 * (A local step counts this worker's samples: sync_figures sums them.) */
static void account(worker *w, const step *k, double batch_loss)
{
    rg_run *r = w->r;
    size_t counted = k->local ? k->samples : k->b_step;
    batch_loss += k->x.after;   /* a penalty the update applied (the elastic pull) */
    w->st.n.run_skipped = 0;
    w->mine[WA_SAMPLES] += (double)k->samples;
    w->mine[WA_LOSS] += k->loss;
    w->mine[WA_CORRECT] += (double)k->correct;
    w->mine[WA_ABS] += k->abs;
    w->mine[WA_SQ] += k->sq;
    if (k->measured && k->samples) {
        w->mine[WA_DIV_SUM] += k->div;
        w->mine[WA_DIV_COUNT] += 1.0;
    }
    w->st.f.loss += batch_loss * (double)counted;
    w->st.f.reg += (k->x.fig.reg + k->x.after) * (double)counted;
    w->st.n.epoch_samples += counted;
    if (w->g != 0) return;
    if (k->local) {   /* other processes' skips and stops come from local steps alone (thread 0 calls MPI) */
        if (r->log && w->t == 0) rg_dist_service();
        rg_run_peer_skips(r);
    }
    uint64_t step1 = w->st.n.step + 1;
    FILE *log = w->p->log_every > 0 && step1 % (uint64_t)w->p->log_every == 0 && step1 != w->logged ? rg_run_log(r) : NULL;
    if (log) {
        rg_log_step(log, step1, (int)w->st.n.epoch + 1, batch_loss, w->st.f.lr);
        rg_run_log_done(r);
        w->logged = step1;
    }
    if (w->st.n.epoch_samples)
        rg_run_step_done(r, (int)w->st.n.epoch + 1, w->st.n.epoch_samples, w->st.f.loss / (double)w->st.n.epoch_samples,
                         w->mine[w->tb ? WA_ABS : WA_CORRECT], w->mine[WA_SAMPLES]);
}

/* --straggler: this worker takes `factor` times as long to compute. */
static void straggle(double factor, double seconds) { rg_sleep((factor - 1.0) * seconds); }

/* One step: the algorithm. */
static rg_status train_step(worker *w, step *k)
{
    rg_strategy *s = w->s;
    const rg_strategy_ops *ops = s->ops;
    rg_status st;
    k->b_step = w->deal ? w->deal->total[k->es] : rg_schedule_size(&w->r->sched, k->es);
    k->inv_b = 1.0f / (float)k->b_step;
    k->local = w->st.n.step >= s->local_from;
    k->x.step = w->st.n.step;
    k->measured = rg_reg_measures(&w->reg, k->es);
    double t0 = rg_now();
    /* the weights change only after the passes: the forward reads the
     * kernels the rule holds transposed, copied once a step (every kernel
     * in --deterministic's passes; none with one pass, to keep its bits) */
    int hold = !w->p->deterministic || s->npass > 1;
    size_t rows = (size_t)((w->p->batch + w->r->world - 1) / w->r->world);
    st = hold ? rg_model_hold(w->m, 1, rows) : RG_OK;
    s->fused = st == RG_OK && fusable(w, k);
    if (s->fused) st = compute_shards(w, k);                 /* the passes as one */
    for (int i = 0; i < s->npass && st == RG_OK && !s->fused; i++) {   /* forward, backward, local penalty */
        float *own = ops->pass_arena ? rg_model_swap_grads(w->m, ops->pass_arena(s, i)) : NULL;
        st = compute(w, k, i);
        if (own) rg_model_swap_grads(w->m, own);
        if (st == RG_OK && ops->pass_done) ops->pass_done(s, i);
    }
    if (hold) rg_model_hold(w->m, 0, 0);
    if (st != RG_OK) return st;
    if (w->g == w->p->straggler_rank) straggle(w->p->straggler_factor, rg_now() - t0);
    if ((st = ops->exchange(s, &k->x)) != RG_OK) return st;  /* every worker's gradient into one */
    if (k->measured && k->samples) k->div = divergence(w, k);
    k->x.penalised = rg_reg_is_global(&w->reg);
    /* the global penalty; on the whole arena, in the same pass, what agree measures */
    int whole = k->x.lo == 0 && k->x.hi == rg_model_param_count(w->m);
    k->x.measured = whole ? rg_strat_measures(s, k->x.penalised) : 0;
    if (k->x.measured)
        k->x.penalty = rg_reg_global_measured(&w->reg, w->m, k->x.grad, k->x.measured, &k->x.sumsq, &k->x.maxabs);
    else
        k->x.penalty = rg_reg_global(&w->reg, w->m, k->x.grad, k->x.lo, k->x.hi);
    if ((st = ops->agree(s, &k->x)) != RG_OK) return st;     /* the same figures and verdict everywhere */
    k->x.idle = k->local && k->samples == 0;
    double batch_loss = k->x.idle ? 0.0 : k->x.fig.loss / (double)(k->local ? k->samples : k->b_step) + k->x.fig.reg;
    if (!k->x.idle && (k->x.fig.bad > 0.0 || k->x.over || !isfinite(batch_loss))) {
        st = nonfinite(w, k);                                 /* stop, or skip */
        if (st != RG_OK || !k->local) return st;
        k->x.idle = 1;                                        /* skipped alone: still joins the syncs */
    }
    w->st.f.lr = rg_lr_at(&w->p->lr, w->st.n.step, (int)w->st.n.epoch, (uint64_t)w->st.f.plateau_cuts);
    k->x.lr = (float)w->st.f.lr;
    k->x.share = k->x.idle ? 0.0f : (float)k->samples * k->inv_b;
    k->x.hits = w->tb ? k->abs : (double)k->correct;
    if ((st = ops->update(s, &k->x)) != RG_OK) return st;    /* optimizer, constraints, weights in sync */
    if (k->x.broke) return broke(w, k);
    if (!k->skipped) account(w, k, batch_loss);
    /* another process's stop (or failure) taken in between waits (rank 0
     * services every step, account): a local step meets no wait till its
     * next sync, which may be far, and the stopper waits for rank 0's end
     * event only --comm-timeout; every thread of the process ends here */
    if (k->local && (st = rg_dist_halted()) != RG_OK) return st;
    if (!k->local) w->synced = w->st;   /* a synchronous step: every worker's figures are the world's */
    return k->local && k->x.synced ? sync_figures(w) : RG_OK;
}

/* ------------------------------------------------------------ checkpoints */

/* The checkpoint in flight is on disk, and its event in the log (the log
 * is not held while the write ends). */
static rg_status writer_wait(worker *w)
{
    int wrote;
    rg_status st = rg_writer_wait(w->r->writer, &wrote);
    FILE *log = wrote ? rg_run_log(w->r) : NULL;
    if (log) {
        const rg_counters *n = &rg_writer_state(w->r->writer)->n;
        rg_log_checkpoint(log, n->step, n->samples);
        rg_run_log_done(w->r);
    }
    return st;
}

/* A training checkpoint: every worker joins (its figures of the epoch, its
 * part of the optimizer's moments); world rank 0 snapshots the state and
 * hands it to its writer. */
static rg_status checkpoint(worker *w)
{
    rg_run *r = w->r;
    double t0 = rg_now();
    rg_run_state *dst = r->writer ? rg_writer_state(r->writer) : NULL;
    rg_status st = RG_OK;
    /* the previous write is done (and good) before its buffers are reused;
     * the all-reduce below keeps every other worker out of them till then */
    if (w->g == 0) st = writer_wait(w);
    w->mine[WA_BYTES] = w->s->bytes;   /* the epoch's so far, for a resumed run's figures */
    w->mine[WA_DENSE] = w->s->dense;
    memset(w->wacc, 0, (size_t)w->W * WA_N * sizeof *w->wacc);
    memcpy(w->wacc + (size_t)w->g * WA_N, w->mine, sizeof w->mine);
    if (st == RG_OK && w->W > 1) st = rg_comm_allreduce_f64(w->comm, w->wacc, (size_t)w->W * WA_N, RG_REDUCE_SUM);
    if (st == RG_OK) st = w->s->ops->gather_state(w->s, dst ? dst->moments : NULL);
    if (st == RG_OK && w->extra_n) {   /* every worker's codec state, to rank 0 */
        float *mine = w->extra + (size_t)w->g * w->extra_n;
        rg_codec_state_save(w->s->codec, mine);
        if (w->W > 1) st = rg_comm_allgather(w->comm, mine, w->extra_n, w->extra);
    }
    if (st == RG_OK && w->s->ops->save_fed) {   /* regula fed's server and clients */
        struct rg_fed_state *fs = dst && w->g == 0 ? rg_writer_fed(r->writer) : NULL;
        st = w->s->ops->save_fed(w->s, fs);
        if (st == RG_OK && dst && w->g == 0 && !fs) st = rg_error(RG_ENOMEM, "out of memory writing a checkpoint");
    }
    if (st == RG_OK && w->g == 0) {
        w->st.n.opt_steps = rg_optimizer_steps(w->s->opt);
        w->st.n.nstate = (uint64_t)rg_optimizer_state_count(w->s->opt);
        w->st.n.params = rg_model_param_count(w->m);
        memcpy(dst->wacc, w->wacc, (size_t)w->W * WA_N * sizeof *w->wacc);
        memcpy(dst->lambda, w->reg.lambda, (size_t)w->W * sizeof *w->reg.lambda);
        if (w->best) memcpy(dst->best, w->best, rg_model_param_count(w->m) * sizeof(float));
        float *x = rg_writer_extra(r->writer, w->extra_n);
        if (w->extra_n && !x) st = rg_error(RG_ENOMEM, "out of memory writing a checkpoint");
        if (x) memcpy(x, w->extra, (size_t)w->W * w->extra_n * sizeof(float));
        if (st == RG_OK) st = rg_writer_start(r->writer, w->m, &w->st.n, &w->st.f);
    }
    /* one copy of the weights: nobody writes it before rank 0 has its
     * snapshot (Hogwild has no exchange that would hold them back) */
    if (st == RG_OK && w->s->shares_weights) st = rg_comm_barrier(w->comm);
    w->t_ckpt += rg_now() - t0;
    return st;
}

/* ------------------------------------------------------------ epochs */

/* The epoch's order (or the strategy's deal), and its figures from
 * zero, or, for the epoch a checkpoint stopped in, from the checkpoint. */
static rg_status epoch_begin(worker *w, int epoch, int resumed)
{
    const rg_plan *p = w->p;
    w->t_epoch = rg_now();
    w->t_ckpt = 0.0;
    w->s->comm_seconds = 0.0;
    /* a resumed epoch's bytes go on from the checkpoint's (its time and
     * staleness counts are this process's: README, Log format) */
    w->s->bytes = resumed ? w->mine[WA_BYTES] : 0.0;
    w->s->dense = resumed ? w->mine[WA_DENSE] : 0.0;
    memset(w->s->staleness, 0, sizeof w->s->staleness);
    w->samples_t0 = resumed ? w->st.n.epoch_samples : 0;
    if (!resumed) {
        w->st.n.epoch = (uint64_t)epoch;
        w->st.n.epoch_step = 0;
        w->st.n.epoch_samples = 0;
        w->st.n.epoch_skipped = 0;
        w->st.f.loss = w->st.f.reg = 0.0;
        w->st.f.lr = p->lr.lr;
        memset(w->mine, 0, sizeof w->mine);
    }
    w->synced = w->st;   /* the world's, as every epoch begins (or resumes) */
    w->steps = w->r->sched.steps;
    if (w->s->ops->deal) {
        rg_status st = w->s->ops->deal(w->s, (uint64_t)epoch, &w->deal);
        if (st == RG_OK) w->steps = w->deal->steps;
        /* a dealt epoch is checkpointed at its end only (plan.c), and its
         * length may differ with another worker count: it is done */
        if (resumed) w->st.n.epoch_step = w->steps;
        return st;
    }
    if (p->iid) {
        rg_epoch_order(w->order, NULL, w->list_n, p->shuffle, p->seed, RG_RNG_SHUFFLE, epoch);
    } else {
        const rg_parts *pt = &w->r->parts;
        rg_epoch_order(w->order, pt->ids + pt->offset[w->g], w->list_n, p->shuffle, p->seed,
                       RG_RNG_SHUFFLE + 256u * (uint32_t)(w->g + 1), epoch);
    }
    return RG_OK;
}

static int improved(const rg_plan *p, double v, double best)
{
    if (!isfinite(v)) return 0;
    if (!isfinite(best)) return 1;
    if (p->monitor == RG_MONITOR_VAL_ACC) return v > best + p->min_delta;
    return v < best - p->min_delta;
}

/* The figure --monitor names: the validation set's (val), or else the
 * epoch's own on its training samples. */
static double monitored(const rg_plan *p, const rg_epoch_stats *e, int val)
{
    switch (p->monitor) {
    case RG_MONITOR_VAL_ACC: return val ? e->val_acc : e->acc;
    case RG_MONITOR_VAL_MAE: return val ? e->val_mae : e->mae;
    case RG_MONITOR_VAL_LOSS:
    default: return val ? e->val_loss : e->loss;
    }
}

/* The best epoch so far, after the epoch's validation: the one early
 * stopping restores and --save-best writes, by --monitor on the
 * validation set or, without one, on the epoch's training figures (as
 * Keras' ModelCheckpoint on "loss").  *better: this epoch is it.  Returns
 * 1 to stop early. */
static int best_epoch(worker *w, const rg_epoch_stats *e, int *better)
{
    const rg_plan *p = w->p;
    double v = monitored(p, e, w->r->val != NULL);
    *better = improved(p, v, w->st.f.best_metric);
    if (*better) {
        w->st.f.best_metric = v;
        w->st.n.best_epoch = (uint64_t)e->epoch;
        if (w->best && (!w->s->shares_weights || w->t == 0))
            memcpy(w->best, rg_model_params(w->m), rg_model_param_count(w->m) * sizeof(float));
        w->st.n.wait = 0;
        return 0;
    }
    return p->early_stop > 0 && ++w->st.n.wait >= (uint64_t)p->early_stop;
}

/* --save-best: world rank 0 writes the weights of an epoch that beat the
 * best so far (atomically, as --save; peers' pings answered meanwhile). */
static rg_status save_best(const worker *w, int epoch)
{
    rg_status st = rg_save_serviced(w->m, w->p->save_best);
    return st == RG_OK ? st : rg_error_prefix(st, "--save-best (epoch %d): ", epoch);
}

/* Reduce on plateau after the epoch's validation: a cut of the rate after
 * lr_patience epochs without improvement of the monitored figure (Keras'
 * count), then the wait starts again.  Every worker decides alike. */
static void plateau(worker *w, const rg_epoch_stats *e)
{
    const rg_plan *p = w->p;
    if (p->lr.kind != RG_LR_PLATEAU) return;
    rg_sums *f = &w->st.f;
    double v = monitored(p, e, 1);
    if (improved(p, v, f->plateau_best)) {
        f->plateau_best = v;
        f->plateau_wait = 0.0;
        return;
    }
    if (++f->plateau_wait < (double)p->lr.patience) return;
    f->plateau_wait = 0.0;
    if (rg_lr_can_cut(&p->lr, (uint64_t)f->plateau_cuts)) f->plateau_cuts += 1.0;
}

/* The epoch's figures: every worker's, the validation set's; the
 * strengths' adaptation; the epoch event.  1 in *stop to stop early. */
static rg_status epoch_end(worker *w, int epoch, int *stop)
{
    rg_run *r = w->r;
    int W = w->W;
    double secs = rg_now() - w->t_epoch, t_comm = w->s->comm_seconds + w->t_ckpt;
    double mean_div = w->mine[WA_DIV_COUNT] > 0.0 ? w->mine[WA_DIV_SUM] / w->mine[WA_DIV_COUNT] : 0.0;
    float mine[WS_N] = { (float)w->mine[WA_SAMPLES], (float)w->mine[WA_LOSS], (float)w->mine[WA_CORRECT],
                         (float)(secs - t_comm), (float)t_comm,
                         (float)(w->s->bytes_per_step * (double)w->steps + w->s->bytes), (float)mean_div,
                         (float)w->mine[WA_ABS], (float)w->mine[WA_SQ] };
    float *all = rg_malloc((size_t)W * WS_N * sizeof(float));
    double *per = rg_malloc((size_t)W * WL_N * sizeof(double));
    if (!all || !per) { rg_free(all); rg_free(per); return rg_error(RG_ENOMEM, "out of memory"); }
    rg_status st = RG_OK;
    if (W > 1) st = rg_comm_allgather(w->comm, mine, WS_N, all);
    else memcpy(all, mine, sizeof mine);
    double n = (double)w->st.n.epoch_samples, correct = 0.0, abs = 0.0, sq = 0.0, div[RG_MAX_WORKERS];
    for (int k = 0; k < W; k++) {
        const float *a = all + (size_t)k * WS_N;
        correct += a[WS_CORRECT];
        abs += a[WS_ABS];
        sq += a[WS_SQ];
        div[k] = a[WS_DIV];
        double v[WL_N] = { a[WS_SAMPLES], a[WS_SAMPLES] > 0 ? a[WS_LOSS] / a[WS_SAMPLES] : NAN, w->reg.lambda[k],
                           a[WS_COMPUTE], a[WS_COMM], a[WS_BYTES] };
        for (int q = 0; q < WL_N; q++) per[(size_t)q * (size_t)W + (size_t)k] = v[q];
    }
    int reg = w->tb != NULL, any = n > 0;
    rg_epoch_stats e = { .epoch = epoch + 1, .loss = any ? w->st.f.loss / n : NAN, .reg_loss = any ? w->st.f.reg / n : NAN,
                         .acc = any && !reg ? correct / n : NAN, .val_loss = NAN, .val_acc = NAN,
                         .samples_per_s = (n - (double)w->samples_t0) / secs, .seconds = secs, .lr = w->st.f.lr,
                         .mae = any && reg ? abs / n : NAN, .rmse = any && reg ? sqrt(sq / n) : NAN,
                         .val_mae = NAN, .val_rmse = NAN, .round = w->s->round };
    rg_eval_figures vf;
    if (st == RG_OK && r->val && (st = rg_eval_world(w->m, w->comm, r->val, &vf)) == RG_OK) {
        e.val_loss = vf.loss;
        e.val_acc = vf.acc;
        e.val_mae = vf.mae;
        e.val_rmse = vf.rmse;
    }
    if (st == RG_OK) {
        rg_reg_adapt_epoch(&w->reg, div);   /* every worker the same: its own copy */
        w->st.n.epochs_run = (uint64_t)epoch + 1;
        if (w->g == 0)
            rg_run_epoch_done(r, &e, w->st.n.epoch_skipped, W, per, w->s->bytes > 0.0 ? w->s->dense / w->s->bytes : 0.0,
                              w->p->strategy == RG_STRAT_PS ? w->s->staleness : NULL);
        int better;
        *stop = best_epoch(w, &e, &better);
        plateau(w, &e);
        if (better && w->p->save_best && w->g == 0) st = save_best(w, epoch + 1);
        /* one copy of the weights: nobody writes it before thread 0 has
         * kept or written the best ones (Hogwild has no exchange that would wait) */
        if (st == RG_OK && w->s->shares_weights && (w->p->early_stop > 0 || w->p->save_best))
            st = rg_comm_barrier(w->comm);
    }
    rg_free(all);
    rg_free(per);
    return st;
}

/* ------------------------------------------------------------ set-up and end */

/* Rows one pass takes at most. */
static size_t pass_rows(const worker *w)
{
    const rg_schedule *sc = &w->r->sched;
    if (w->s->ops->deal) return sc->batch;   /* a dealt window: a client's local batch */
    if (w->p->iid && w->s->fuse) return sc->batch;   /* all the passes of a step at once */
    if (w->p->iid) return (sc->batch + (size_t)w->s->parts - 1) / (size_t)w->s->parts;
    if (sc->mode == RG_WB_EQUAL) return sc->b_loc;
    size_t most = 0, lo, hi;
    for (uint64_t s = 0; s < sc->steps; s++) {
        rg_schedule_window(sc, w->g, s, &lo, &hi);
        if (hi - lo > most) most = hi - lo;
    }
    return most ? most : 1;
}

/* A resumed run: the counters and sums, this worker's part of the
 * moments, early stopping's copy, the strengths, and its figures of the
 * epoch in progress (another worker count: worker 0 carries the totals
 * so far; the accuracy stays exact, the per-worker split restarts). */
static rg_status restore(worker *w, const rg_run_state *ck)
{
    w->st.n = ck->n;
    w->st.f = ck->f;
    if ((int)ck->n.nstate == rg_optimizer_state_count(w->s->opt)) w->s->ops->restore_state(w->s, ck->moments);
    rg_optimizer_set_steps(w->s->opt, ck->n.opt_steps);
    if (w->best && ck->best) memcpy(w->best, ck->best, rg_model_param_count(w->m) * sizeof(float));
    int same_world = ck->n.world == (uint64_t)w->W;
    if (same_world) memcpy(w->reg.lambda, ck->lambda, (size_t)w->W * sizeof *ck->lambda);
    if (ck->extra_n == w->extra_n && w->extra_n && same_world)   /* check_resume refuses the rest */
        rg_codec_state_load(w->s->codec, ck->extra + (size_t)w->g * w->extra_n);
    memset(w->mine, 0, sizeof w->mine);
    for (uint64_t k = 0; k < ck->n.world; k++) {
        const double *a = ck->wacc + k * WA_N;
        if (same_world ? k != (uint64_t)w->g : w->g != 0) continue;
        for (int q = 0; q < WA_N; q++)   /* the divergence is each worker's own */
            if (same_world || q < WA_DIV_SUM || q > WA_DIV_COUNT) w->mine[q] += a[q];
    }
    w->st.n.world = (uint64_t)w->W;
    rg_status st = w->s->ops->load_fed ? w->s->ops->load_fed(w->s, ck->fed) : RG_OK;
    if (st == RG_OK && ck->fed) rg_fed_state_loaded(ck->fed, w->r->threads);   /* regula fed */
    return st;
}

/* The parameter servers add the global penalty at the weights each push
 * is applied to, also for one training worker, whose reads may lack its
 * own pushes (K > 0): its pass must not start the gradient with it. */
static int server_penalty(const rg_run *r)
{
    return r->p->strategy == RG_STRAT_PS && r->p->scope == RG_SCOPE_GLOBAL && rg_model_has_penalty(r->m);
}

/* This worker's strategy; its team's rank and size. */
static rg_status strategy(worker *w)
{
    rg_run *r = w->r;
    const rg_plan *p = w->p;
    rg_strat_env env = { .comm = r->ranks[w->t], .thread = w->t, .root = r->m, .opt = &p->opt, .clip = p->clip,
                         .det_shards = p->det_shards, .sync_every = p->sync_every, .sync_warmup = p->sync_warmup,
                         .local_moments = p->local_moments,
                         .elastic = p->elastic, .codec = &p->codec, .seed = p->seed, .servers = p->servers,
                         .staleness = p->staleness, .staleness_lr = p->staleness_lr,
                         .pull_first = p->pull_first,
                         .global_penalty = server_penalty(r) || (p->scope == RG_SCOPE_GLOBAL &&
                                                                 rg_model_has_penalty(r->m) && r->world > 1),
                         .fed = &p->fed_setup, .clients = &r->parts, .batch = r->sched.batch, .shuffle = p->shuffle, .iid = p->iid,
                         .labels = rg_dataset_y(r->train), .classes = rg_dataset_classes(r->train),
                         .fuse_ok = p->iid && !p->fed && p->adapt != RG_ADAPT_DIVERGENCE &&
                                    !(p->scope == RG_SCOPE_LOCAL && rg_model_has_penalty(r->m)) };
    rg_status st = rg_strategy_create(r->strategy, &env, &w->s);
    if (st != RG_OK) return st;
    w->m = w->s->m;
    w->comm = w->s->team;
    w->g = rg_comm_rank(w->comm);
    w->W = rg_comm_size(w->comm);
    return RG_OK;
}

static rg_status setup(worker *w)
{
    rg_run *r = w->r;
    const rg_plan *p = w->p;
    size_t P = rg_model_param_count(w->m), d = rg_dataset_features(r->train);
    int fused = w->W == 1 && !p->deterministic && !server_penalty(r);
    rg_status st = rg_reg_init(&w->reg, p->scope, p->adapt, w->W, fused, rg_model_has_penalty(w->m),
                     r->share, P);
    if (st != RG_OK) return st;
    memcpy(w->reg.lambda, r->lambda0, (size_t)w->W * sizeof *r->lambda0);
    w->own_lim = p->clip > 0.0 ? FLT_MAX : w->s->limit;
    w->list_n = w->s->ops->deal ? 0 : p->iid ? rg_dataset_size(r->train) : rg_schedule_part_size(&r->sched, w->g);
    size_t cap = pass_rows(w);
    w->order = rg_calloc(w->list_n ? w->list_n : 1, sizeof *w->order);
    w->ids = rg_calloc(cap, sizeof *w->ids);
    w->xb = rg_calloc(cap * d, sizeof *w->xb);
    w->yb = rg_calloc(cap, sizeof *w->yb);
    if (rg_dataset_targets(r->train)) {
        w->tb = rg_calloc(cap, sizeof *w->tb);
        w->zb = rg_calloc(cap, sizeof *w->zb);   /* one output per row */
    }
    w->wacc = rg_calloc((size_t)w->W * WA_N, sizeof *w->wacc);
    w->best = p->early_stop > 0 ? rg_calloc(P, sizeof *w->best) : NULL;
    w->extra_n = w->s->codec ? rg_codec_state_size(w->s->codec) : 0;
    w->extra = w->extra_n && p->ck_dir ? rg_calloc((size_t)w->W * w->extra_n, sizeof *w->extra) : NULL;
    if (!w->order || !w->ids || !w->xb || !w->yb || !w->wacc || (rg_dataset_targets(r->train) && (!w->tb || !w->zb)) || (p->early_stop > 0 && !w->best) ||
        (w->extra_n && p->ck_dir && !w->extra))
        return rg_error(RG_ENOMEM, "out of memory setting up worker %d", w->g);
    w->st.n.world = (uint64_t)w->W;
    w->st.f.best_metric = NAN;
    w->st.f.plateau_best = NAN;
    return r->ck ? restore(w, r->ck) : RG_OK;
}

/* After the last epoch: the last checkpoint on disk, the best weights back,
 * the state proven finite, the final figures. */
static rg_status finish(worker *w)
{
    rg_run *r = w->r;
    const rg_plan *p = w->p;
    float *params = rg_model_params(w->m);
    size_t P = rg_model_param_count(w->m);
    rg_status st = w->g == 0 ? writer_wait(w) : RG_OK;
    rg_train_result res = { .test_loss = NAN, .test_acc = NAN, .train_loss = NAN, .train_acc = NAN,
                            .val_loss = NAN, .val_acc = NAN, .test_mae = NAN, .test_rmse = NAN, .val_mae = NAN,
                            .val_rmse = NAN, .train_mae = NAN, .train_rmse = NAN,
                            .epochs_run = (int)w->st.n.epochs_run, .best_epoch = (int)w->st.n.best_epoch,
                            .steps = w->st.n.step, .skipped = w->st.n.skipped };
    res.stopped_early = w->stopped_early;
    if (st != RG_OK) return st;
    if (p->early_stop > 0 && p->restore_best && res.best_epoch > 0 && res.best_epoch != res.epochs_run &&
        (!w->s->shares_weights || w->t == 0))
        memcpy(params, w->best, P * sizeof(float));
    if (w->s->shares_weights && (st = rg_comm_barrier(w->comm)) != RG_OK) return st;   /* before anyone reads them */
    if (p->early_stop == 0 && !p->save_best) res.best_epoch = res.epochs_run;
    int ok = rg_all_finite(params, P), codec_ok = !w->s->codec || rg_codec_finite(w->s->codec);
    for (int i = 0; i < rg_optimizer_state_count(w->s->opt); i++)
        ok &= rg_all_finite(rg_optimizer_state(w->s->opt, i), w->s->opt_hi - w->s->opt_lo);
    if (!ok || !codec_ok)
        return rg_error(RG_ENONFINITE, "training ended with non-finite %s (worker %d)",
                        !rg_all_finite(params, P) ? "weights" : !codec_ok ? "--compress state" : "optimizer state", w->g);
    if ((st = rg_run_final_figures(r, w->m, w->comm, &res)) != RG_OK) return st;
    if (w->t == 0) r->result = res;
    return RG_OK;
}

/* A training checkpoint is due once the run's step `done` (counted from
 * 1), the epoch's step `es` (from 1), is done: every --checkpoint-every
 * steps, and with --checkpoint-every-epoch after an epoch's last step
 * (before its validation: a run resumed there validates the epoch again,
 * and an epoch that ends on a multiple of N has one checkpoint). */
static int ck_due(const worker *w, uint64_t done, uint64_t es)
{
    const rg_plan *p = w->p;
    if (!p->ck_dir) return 0;
    return (p->checkpoint_every > 0 && done % (uint64_t)p->checkpoint_every == 0) ||
           (p->ck_epoch && es == w->steps);
}

/* The kill tests' point before each step (a no-op otherwise): what was
 * written is on disk. */
static rg_status hook(worker *w)
{
    if (w->t != 0 || !rg_hook_set()) return RG_OK;
    rg_status st = w->g == 0 ? writer_wait(w) : RG_OK;
    if (st == RG_OK) rg_hook_point("step");
    return st;
}

/* The next step of the epoch, and a checkpoint when one is due after it. */
static rg_status one_step(worker *w)
{
    rg_status st = hook(w);
    if (st != RG_OK) return st;
    step k = { .es = w->st.n.epoch_step };
    /* local steps end in a full sync where every worker must agree */
    k.x.full_sync = k.es + 1 == w->steps || ck_due(w, w->st.n.step + 1, k.es + 1);
    if ((st = train_step(w, &k)) != RG_OK) return st;
    w->st.n.samples += k.b_step;
    w->st.n.step++;
    w->st.n.epoch_step++;
    return ck_due(w, w->st.n.step, w->st.n.epoch_step) ? checkpoint(w) : RG_OK;
}

/* A strategy that deals the steps' parts (s->deals): from one full sync
 * to the next (the epoch's end or a checkpoint's), this worker trains the
 * parts it is dealt, its step counters those of each part's step; at the
 * sync they are the world's again. */
static rg_status dealt_steps(worker *w)
{
    uint64_t first = w->st.n.step - w->st.n.epoch_step, from = w->st.n.epoch_step, until = from + 1;
    while (until < w->steps && !ck_due(w, first + until, until)) until++;
    for (;;) {
        rg_status st = hook(w);
        step k = { .es = w->st.n.epoch_step };
        k.x.until = first + until;
        if (st != RG_OK || (st = train_step(w, &k)) != RG_OK) return st;
        if (!k.x.synced) {
            w->st.n.step = k.x.next;
            w->st.n.epoch_step = k.x.next - first;
            continue;
        }
        for (uint64_t es = from; es < until; es++) w->st.n.samples += rg_schedule_size(&w->r->sched, es);
        w->st.n.step = first + until;
        w->st.n.epoch_step = until;
        return ck_due(w, w->st.n.step, w->st.n.epoch_step) ? checkpoint(w) : RG_OK;
    }
}

/* The epochs; 0 or an error. */
static rg_status epochs(worker *w)
{
    const rg_plan *p = w->p;
    rg_run *r = w->r;
    int first = r->ck ? (int)r->ck->n.epoch : 0;
    for (int epoch = first; epoch < (int)p->epochs; epoch++) {
        rg_status st;
        if ((st = epoch_begin(w, epoch, r->ck && epoch == first)) != RG_OK) return st;
        while (w->st.n.epoch_step < w->steps)
            if ((st = w->s->deals ? dealt_steps(w) : one_step(w)) != RG_OK) return st;
        if ((st = epoch_end(w, epoch, &w->stopped_early)) != RG_OK) return st;
        if (w->stopped_early) break;
    }
    return RG_OK;
}

/* A serving rank (a parameter server): its part of a resumed state, then
 * it serves until every worker has left. */
static rg_status serve(worker *w)
{
    if (w->r->ck && (int)w->r->ck->n.nstate == rg_optimizer_state_count(w->s->opt)) {
        w->s->ops->restore_state(w->s, w->r->ck->moments);
        rg_optimizer_set_steps(w->s->opt, w->r->ck->n.opt_steps);
    }
    return w->s->ops->serve(w->s);
}

rg_status rg_run_worker(rg_run *r, int t)
{
    worker w = { .r = r, .p = r->p, .t = t };
    rg_comm *comm = r->ranks[t];
    rg_status st = strategy(&w);
    if (st == RG_OK && w.s->serving) {
        st = serve(&w);
    } else {
        if (st == RG_OK) st = setup(&w);
        if (st == RG_OK) st = epochs(&w);
        if (st == RG_OK) st = finish(&w);
        /* the serving ranks wait for every worker to leave */
        if ((st == RG_OK || w.stopped) && w.s->ops->leave) {
            rg_status left = w.s->ops->leave(w.s);
            if (st == RG_OK) st = left;
        }
    }
    /* a failure no other worker saw: wake every peer, nobody waits for ever
     * for a worker that is gone (a non-finite stop every worker took alike
     * needs no waking; one of its own tells them what to log) */
    if (st != RG_OK && !w.stopped && rg_comm_size(comm) > 1)
        rg_comm_abort_note(comm, st, rg_last_error(), w.note, st == RG_ENONFINITE && w.note[0] ? sizeof w.note : 0);
    rg_reg_free(&w.reg);
    rg_strategy_free(w.s);
    rg_free(w.order); rg_free(w.ids); rg_free(w.xb); rg_free(w.yb); rg_free(w.tb); rg_free(w.zb); rg_free(w.wacc); rg_free(w.best);
    rg_free(w.extra);
    return st;
}
