/*
 * ps.c — a parameter server with bounded staleness (--strategy ps
 * --servers S --staleness K [--staleness-lr] [--pull-first]).
 *
 * The last S ranks are servers; server j holds the j-th of S equal runs
 * of the weight arena and the optimizer's state for it.  The other ranks
 * are workers, which alone train; the trainer's collectives (figures,
 * validation, checkpoints) run on theirs, s->team.  A worker's step:
 * compute its part of the step's gradient on the weights it holds (its
 * samples' gradient over the step's batch, as in a synchronous step:
 * s->summed), push each shard of it to its server, pull the weights of
 * its next step.  A server applies each push (one optimizer step on its
 * shard, with, under --reg-scope global, the worker's share of the
 * penalty's gradient, at the weights the push is applied to (K = 0: the
 * step's): penalties never travel),
 * and answers worker k's pull for step t once k's own pushes are in and
 * every push of step t - K - 1 is: no step starts more than K steps
 * after the oldest unfinished one (stale synchronous parallel).  A step's
 * staleness is t minus the steps finished in the weights it read, 0 .. K.
 * --pull-first (K > 0): the pull asks for k's pushes but the last, and
 * comes first, so that the server answers it before it applies that push
 * and the worker does not wait for its optimizer step (staleness 1 at
 * least but after a full sync, or for a dealt part of the same step).
 *
 * Who takes which part of a step: at K = 0, or on a skewed partition
 * (each worker's data its own), worker k takes part k of every step.  At
 * K > 0 on one pool of data, server 0 deals the parts (s->deals): a
 * worker's pull asks it for the next part not yet dealt before the next
 * full sync, which it answers with the part, its step and its shard of the
 * weights; the worker then pulls that step's other shards.  A free worker
 * takes the next part, so a slow one takes fewer, and the bound holds for
 * parts as for steps.  After a full sync (and at the start) worker k takes
 * part k of the first step, unasked.
 *
 * K = 0 is bulk-synchronous: the server sums a step's pushes and takes
 * one optimizer step when the last is in, and a pull for step t waits for
 * that step of t - 1: every worker reads the same weights, and the run is
 * the synchronous all-reduce's with any optimizer (the pushes summed in
 * their order of arrival).  With K > 0 each push is an optimizer step;
 * --staleness-lr scales its learning rate by 1 / (staleness + 1).
 *
 * A full sync (the epoch's last step, a checkpoint's) is a pull that waits
 * for every worker's push; the server answers all of them from a snapshot
 * taken at the first answer (weights, moments, step count), so every
 * worker, the validation, a checkpoint and the saved model see one model.
 * Server 0 sends its staleness counts of the epoch with its reply to
 * worker 0's full sync.
 *
 * With --compress (not powersgd or dgc, which need collectives) a push
 * carries each shard through its own part of the worker's codec (its
 * residual kept under error feedback); the server decodes it, then adds
 * the global penalty's gradient: the penalty is never compressed or sent.
 *
 * Servers poll the workers (rg_comm_probe), a push before a pull (with
 * --pull-first a pull before a push), and idle when nothing came
 * (rg_comm_idle: on threads till a message comes).  Messages
 * are rg_comm_sendv/recv(v) over s->net: threads of one process, or MPI
 * processes; a header and a shard travel without a staging copy (the
 * reply's weights land in the model's).  Under processes x threads each
 * process is one worker or server: a worker's threads take parts t of its
 * part of each step (parts k * T + t of the step's W * T), their gradients
 * summed (rg_strat_group_sum), and its thread 0 pushes the sum and pulls
 * for them, handing them the reply and the weights; a server's thread 0
 * holds its shard (its other threads idle).  Not reproducible bit for bit:
 * pushes apply in the order they arrive.
 */
#include "parallel/strategy.h"
#include <string.h>

enum { T_PUSH = 11, T_PULL, T_WEIGHTS, T_STATE, T_STATE_REPLY };

typedef struct push_hdr { uint64_t step, idle; float lr, share; } push_hdr;
/* a pull: for `step` (or a full sync before it), once the sender's first
 * `pushes` pushes are in; to server 0 with `until` > 0, a request for the
 * next part dealt before step `until` (`from`: the step after the last
 * full sync, whose parts went out unasked) */
typedef struct pull_msg { uint64_t step, full, pushes, until, from, part; } pull_msg;
typedef struct reply_hdr { uint64_t broke, step, part, full; double hist[RG_STALE_HIST]; } reply_hdr;

typedef struct ps {
    rg_strategy base;
    int S, workers;                  /* servers, workers */
    int server;                      /* this rank's server index, or -1 */
    long K;
    int staleness_lr, global_penalty;
    int early;                       /* --pull-first (K > 0): pulls answered before the push sent with them */
    size_t chunk;                    /* a shard's length (the last may be short) */
    size_t msg;                      /* a message's largest size */
    char *buf;                       /* a message */
    uint64_t pushes;                 /* a worker's: pushes sent ... */
    uint64_t from;                   /* ... the step after the last full sync (its
                                        parts went out unasked); server 0's: the
                                        last it was told */
    /* a server's */
    uint64_t *pushed;                /* per worker: its pushes applied */
    uint64_t done;                   /* steps finished: every push of every step before it in */
    uint32_t *count;                 /* pushes in of steps done .. done + K, by step mod K + 1 */
    int started;                     /* done is set (by the first push) */
    uint64_t next;                   /* server 0, dealing: the next part, as step * workers + part */
    long *stale;                     /* per worker, 2 each: the staleness of its reads, by
                                        their number mod 2 (push i was computed on read i,
                                        and read i + 1 may be answered before it is in) */
    uint64_t *reads;                 /* per worker: its reads (the first, from rank 0's
                                        broadcast or the resumed weights, unanswered) */
    pull_msg *pending;               /* per worker: a pull waiting (step, full); full 2: none */
    float *acc;                      /* K = 0: the step's pushes summed ... */
    int acc_n, acc_live;             /* ... how many, and whether any had samples */
    float *snap, *snap_m[2];         /* a full sync's weights and moments */
    uint64_t snap_steps, snap_for;   /* ... its step count, and the step it was taken for */
    rg_codec *dec;                   /* --compress: decodes its shard's pushes (part `server`) ... */
    float *g;                        /* ... into this */
    float *pen;                      /* the global penalty's gradient on the shard ... */
    uint64_t pen_step;               /* ... K = 0: at the weights of this step's first push */
    int broke;                       /* an update made a weight or moment non-finite */
    double hist[RG_STALE_HIST];
} ps;

static size_t shard_lo(const ps *p, int j, size_t P) { size_t lo = (size_t)j * p->chunk; return lo < P ? lo : P; }
static size_t shard_n(const ps *p, int j, size_t P)
{
    size_t hi = (size_t)(j + 1) * p->chunk;
    return (hi < P ? hi : P) - shard_lo(p, j, P);
}
static int server_rank(const ps *p, int j) { return p->workers + j; }

static rg_status alloc_server(ps *p)
{
    size_t n = p->chunk ? p->chunk : 1, W = (size_t)p->workers;
    p->pushed = rg_calloc(W, sizeof *p->pushed);
    p->count = rg_calloc((size_t)p->K + 1, sizeof *p->count);
    p->stale = rg_calloc(2 * W, sizeof *p->stale);
    p->reads = rg_calloc(W, sizeof *p->reads);
    p->pending = rg_calloc(W, sizeof *p->pending);
    p->acc = rg_calloc(n, sizeof(float));
    p->snap = rg_calloc(n, sizeof(float));
    p->pen = rg_calloc(n, sizeof(float));
    p->g = rg_calloc(n, sizeof(float));
    for (int i = 0; i < 2; i++) p->snap_m[i] = rg_calloc(n, sizeof(float));
    if (!p->pushed || !p->count || !p->stale || !p->reads || !p->pending || !p->acc || !p->snap || !p->pen || !p->g ||
        !p->snap_m[0] || !p->snap_m[1])
        return rg_error(RG_ENOMEM, "out of memory setting up parameter server %d", p->server);
    for (size_t k = 0; k < W; k++) p->pending[k].full = 2, p->reads[k] = 1;
    p->snap_for = p->pen_step = UINT64_MAX;
    return RG_OK;
}

/* --compress: every rank makes the split codec of S parts, one a shard
 * (a server decodes with its own part alone). */
static rg_status make_codec(ps *p, const rg_strat_env *env, size_t P, int rank)
{
    size_t *cut = rg_calloc((size_t)p->S + 1, sizeof *cut);
    if (!cut) return rg_error(RG_ENOMEM, "out of memory: --compress");
    for (int j = 0; j <= p->S; j++) cut[j] = j < p->S ? shard_lo(p, j, P) : P;
    rg_codec **c = p->server >= 0 ? &p->dec : &p->base.codec;
    rg_status st = rg_codec_create_split(env->codec, cut, p->S, env->seed, rank, c);
    rg_free(cut);
    return st;
}

static rg_status init(rg_strategy *s, const rg_strat_env *env)
{
    ps *p = (ps *)s;
    size_t P = rg_model_param_count(env->root);
    rg_strat_net(s, env);   /* in net: processes in a group */
    int W = s->net_size, rank = s->net_rank;
    p->S = env->servers;
    p->workers = W - p->S;
    p->server = rank >= p->workers && (s->group_t == 1 || env->thread == 0) ? rank - p->workers : -1;
    p->K = env->staleness;
    p->staleness_lr = env->staleness_lr;
    p->early = p->K > 0 && env->pull_first;
    p->global_penalty = env->global_penalty;
    p->chunk = (P + (size_t)p->S - 1) / (size_t)p->S;
    size_t lo = p->server >= 0 ? shard_lo(p, p->server, P) : 0, n = p->server >= 0 ? shard_n(p, p->server, P) : 0;
    rg_status st = rg_strat_setup(s, env, 0, lo, lo + n, n);
    if (st != RG_OK) return st;
    s->local_from = 0;   /* each worker its own figures, its part of the step's gradient */
    s->summed = 1;
    s->serving = rank >= p->workers;
    s->deals = p->K > 0 && env->iid;
    p->from = UINT64_MAX;
    p->msg = sizeof(reply_hdr) + sizeof(push_hdr) + sizeof(uint64_t) + p->chunk * 2 * sizeof(float);
    p->buf = rg_malloc(p->msg);
    if (!p->buf) return rg_error(RG_ENOMEM, "out of memory setting up worker %d", rank);
    if (s->serving && (st = alloc_server(p)) != RG_OK) return st;
    if (env->codec && env->codec->kind != RG_CODEC_NONE && (st = make_codec(p, env, P, rank)) != RG_OK) return st;
    if ((st = rg_strat_broadcast(s)) != RG_OK) return st;   /* every rank starts from rank 0's weights */
    if ((st = rg_strat_team(s)) != RG_OK) return st;        /* the trainer's collectives: the workers alone */
    return rg_strat_group(s);
}

/* ------------------------------------------------------------ a worker */

static rg_status exchange(rg_strategy *s, rg_exchange *x)
{
    x->grad = rg_model_grads(s->m);   /* its own: the servers add the global penalty */
    rg_strat_tail_figures(x, x->grad + rg_model_param_count(s->m));
    x->lo = x->hi = 0;
    x->local = 1;
    return RG_OK;
}

/* The verdict on the worker's own gradient; the global penalty's value,
 * for the figures, at the weights it pulled. */
static rg_status agree(rg_strategy *s, rg_exchange *x)
{
    rg_status st = rg_strat_agree_whole(s, x);
    if (((ps *)s)->global_penalty) x->fig.reg += rg_model_penalty(s->m, 1.0f, NULL);
    return st;
}

/* Shard j of the gradient as a push's body (*len floats): the gradient
 * itself, or through the codec when there is one (an idle push sends
 * zeros and leaves the residual alone). */
static const float *push_body(ps *p, const rg_exchange *x, int j, size_t lo, size_t n, size_t *len)
{
    rg_strategy *s = &p->base;
    *len = n;
    if (!s->codec) return x->grad + lo;
    *len = rg_codec_msg_len(s->codec, j);
    s->dense += (double)(sizeof(push_hdr) + n * sizeof(float));
    const float *msg = (const float *)p->buf;
    if (x->idle) memset(p->buf, 0, *len * sizeof(float));
    else rg_codec_encode(s->codec, j, x->grad + lo, x->step, &msg);
    return msg;
}

/* The header and the body go as one message, copied once (no staging). */
static rg_status push(ps *p, const rg_exchange *x)
{
    rg_strategy *s = &p->base;
    size_t P = rg_model_param_count(s->m);
    for (int j = 0; j < p->S; j++) {
        size_t lo = shard_lo(p, j, P), n = shard_n(p, j, P), len;
        push_hdr h = { x->step, (uint64_t)x->idle, x->lr, x->share };
        const float *body = push_body(p, x, j, lo, n, &len);
        rg_piece v[2] = { { &h, sizeof h }, { (void *)(uintptr_t)body, len * sizeof(float) } };
        rg_status st = rg_comm_sendv(s->net, v, 2, server_rank(p, j), T_PUSH);
        if (st != RG_OK) return st;
        s->bytes += (double)(sizeof h + len * sizeof(float));
    }
    return RG_OK;
}

/* Pull q from servers j0 .. j1-1, in two halves: ask (the requests
 * out), then take (their shards of the weights; server j0's reply header
 * in *h0). */
static rg_status pull_ask(ps *p, const pull_msg *q, int j0, int j1)
{
    rg_strategy *s = &p->base;
    rg_status st = RG_OK;
    for (int j = j0; j < j1 && st == RG_OK; j++) {
        st = rg_comm_send(s->net, q, sizeof *q, server_rank(p, j), T_PULL);
        s->bytes += (double)sizeof *q;
        if (s->codec) s->dense += (double)sizeof *q;
    }
    return st;
}

static rg_status pull_take(ps *p, int j0, int j1, reply_hdr *h0)
{
    rg_strategy *s = &p->base;
    size_t P = rg_model_param_count(s->m);
    rg_status st = RG_OK;
    for (int j = j0; j < j1 && st == RG_OK; j++) {
        reply_hdr h;   /* the weights straight into the model's */
        rg_piece v[2] = { { &h, sizeof h }, { rg_model_params(s->m) + shard_lo(p, j, P), shard_n(p, j, P) * sizeof(float) } };
        st = rg_comm_recvv(s->net, v, 2, server_rank(p, j), T_WEIGHTS);
        if (st != RG_OK) break;
        if (j == j0) *h0 = h;
        h0->broke |= h.broke;
        for (int i = 0; h.full && j == 0 && i < RG_STALE_HIST; i++) s->staleness[i] += h.hist[i];   /* since the last */
    }
    return st;
}

static rg_status pull(ps *p, const pull_msg *q, int j0, int j1, reply_hdr *h0)
{
    rg_status st = pull_ask(p, q, j0, j1);
    return st == RG_OK ? pull_take(p, j0, j1, h0) : st;
}

/* Dealt parts: server 0 says which part comes next (or the full sync),
 * with its shard; then the other servers' shards of that step.  With
 * --pull-first the first request went out before the push (`early`). */
static rg_status pull_dealt(ps *p, rg_exchange *x, reply_hdr *h, int early)
{
    pull_msg q = { 0, 0, p->pushes, x->until, p->from, 0 };
    reply_hdr r;
    rg_status st = early ? RG_OK : pull_ask(p, &q, 0, 1);
    if (st == RG_OK) st = pull_take(p, 0, 1, h);
    pull_msg rest = { h->step, h->full, p->pushes - (uint64_t)early, 0, 0, 0 };
    if (st == RG_OK && (st = pull(p, &rest, 1, p->S, &r)) == RG_OK && p->S > 1) h->broke |= r.broke;
    return st;
}

/* What a dealt reply says this worker takes next (in a group, each
 * thread its own part of the process's). */
static void dealt(ps *p, rg_exchange *x, const reply_hdr *h)
{
    rg_strategy *s = &p->base;
    x->next = h->step;
    s->part0 = h->full ? rg_comm_rank(s->team) : s->group ? (int)h->part * s->group_t + s->thread : (int)h->part;
    if (h->full) p->from = h->step;
}

/* A group: thread 0's reply and the weights it pulled, to every thread. */
static rg_status hand_on(ps *p, reply_hdr *h)
{
    rg_strategy *s = &p->base;
    rg_status st = rg_comm_broadcast(s->group, h, sizeof *h, 0);
    if (st == RG_OK) st = rg_comm_broadcast(s->group, rg_model_params(s->m), rg_model_param_count(s->m) * sizeof(float), 0);
    return st;
}

/* Push this step's gradient, pull the next step's weights (the next part
 * dealt, or the full sync): the pull asks for this push to be in.  With
 * --pull-first (K > 0) the pull goes first and asks only for this
 * worker's earlier pushes, and a server answers it before it applies this
 * push (poll_worker): the worker waits for the copies of the weights, not
 * for the server's receiving this push and its optimizer step, which run
 * while the worker computes its next part; the read lacks the worker's
 * own last push (staleness 1 at least, but after a full sync, which waits
 * for every push, where the bound held the answer back, or where the
 * worker's next part, dealt, is of the same step). */
static rg_status talk(ps *p, rg_exchange *x, reply_hdr *hp)
{
    rg_strategy *s = &p->base;
    reply_hdr h = { 0 };
    int early = p->early;
    pull_msg q = { x->step + 1, (uint64_t)x->full_sync, p->pushes + (uint64_t)!early, 0, 0, 0 };
    pull_msg d = { 0, 0, p->pushes, x->until, p->from, 0 };
    rg_status st = early ? RG_TIMED(s, pull_ask(p, s->deals ? &d : &q, 0, s->deals ? 1 : p->S)) : RG_OK;
    if (st == RG_OK) st = RG_TIMED(s, push(p, x));
    p->pushes++;
    if (st == RG_OK && s->deals) st = RG_TIMED(s, pull_dealt(p, x, &h, early));
    else if (st == RG_OK) st = RG_TIMED(s, early ? pull_take(p, 0, p->S, &h) : pull(p, &q, 0, p->S, &h));
    *hp = h;
    return st;
}

static rg_status update(rg_strategy *s, rg_exchange *x)
{
    ps *p = (ps *)s;
    reply_hdr h = { 0 };
    if (p->from == UINT64_MAX) p->from = x->step;   /* the run's first step: parts unasked */
    rg_status st = rg_strat_group_sum(s, x, 0);      /* a group: the process's part of the step */
    if (st == RG_OK && s->net) st = talk(p, x, &h);
    if (st == RG_OK && s->group) st = RG_TIMED(s, hand_on(p, &h));
    if (st == RG_OK && s->deals) dealt(p, x, &h);
    x->broke = h.broke != 0;
    x->synced = s->deals ? h.full != 0 : x->full_sync;
    return st;
}

static rg_status leave(rg_strategy *s)
{
    ps *p = (ps *)s;
    return s->net ? rg_strat_leave(s, p->workers, p->S) : RG_OK;
}

/* Checkpoints: the team's rank 0 asks every server for its snapshot's
 * moments (taken at this full sync) and step count. */
static rg_status gather_state(rg_strategy *s, float *const *dst)
{
    ps *p = (ps *)s;
    if (rg_comm_rank(s->team) != 0) return RG_OK;
    size_t P = rg_model_param_count(s->m);
    int ns = rg_optimizer_state_count(s->opt);
    for (int j = 0; j < p->S; j++) {
        size_t n = shard_n(p, j, P);
        uint64_t ask = 1, steps;
        rg_status st = rg_comm_send(s->net, &ask, sizeof ask, server_rank(p, j), T_STATE);
        if (st == RG_OK)
            st = rg_comm_recv(s->net, p->buf, sizeof steps + (size_t)ns * n * sizeof(float), server_rank(p, j),
                              T_STATE_REPLY);
        if (st != RG_OK) return st;
        memcpy(&steps, p->buf, sizeof steps);
        rg_optimizer_set_steps(s->opt, steps);   /* what the checkpoint stores */
        for (int i = 0; dst && i < ns; i++)
            memcpy(dst[i] + shard_lo(p, j, P), p->buf + sizeof steps + (size_t)i * n * sizeof(float), n * sizeof(float));
    }
    return RG_OK;
}

/* Resume: a server's part of the moments (the trainer sets the steps). */
static void restore_state(rg_strategy *s, float *const *src)
{
    for (int i = 0; s->serving && i < rg_optimizer_state_count(s->opt); i++)
        memcpy(rg_optimizer_state(s->opt, i), src[i] + s->opt_lo, (s->opt_hi - s->opt_lo) * sizeof(float));
}

/* ------------------------------------------------------------ a server */

/* A push of step t is in: a step is done once every part of it is (the
 * first push the server sees is of the run's first step). */
static void count(ps *p, uint64_t t)
{
    size_t R = (size_t)p->K + 1;
    if (!p->started) p->done = t, p->started = 1;
    p->count[t % R]++;
    while (p->count[p->done % R] == (uint32_t)p->workers) p->count[p->done++ % R] = 0;
}

/* The worker's share of the global penalty's gradient added to its push
 * g: at K = 0 at the step's weights (taken at its first push, kept for
 * the others); at K > 0 at the weights the push is applied to (pushes of
 * several steps interleave), straight into g, in the same pass. */
static void add_penalty(ps *p, const push_hdr *h, float *g)
{
    rg_strategy *s = &p->base;
    size_t n = s->opt_hi - s->opt_lo;
    if (p->K > 0) {
        rg_model_penalty_range(s->m, h->share, g, s->opt_lo, s->opt_hi);
        return;
    }
    if (h->step != p->pen_step) {
        memset(p->pen, 0, n * sizeof(float));
        rg_model_penalty_range(s->m, 1.0f, p->pen, s->opt_lo, s->opt_hi);
        p->pen_step = h->step;
    }
    for (size_t i = 0; i < n; i++) g[i] += h->share * p->pen[i];
}

static void step_shard(ps *p, const float *g, float lr)
{
    rg_strategy *s = &p->base;
    p->broke |= rg_optimizer_step(s->opt, rg_model_params(s->m) + s->opt_lo, g, lr);
}

/* K = 0: the step's sum; its optimizer step once every worker pushed. */
static void accumulate(ps *p, const push_hdr *h, const float *g)
{
    rg_strategy *s = &p->base;
    size_t n = s->opt_hi - s->opt_lo;
    for (size_t i = 0; !h->idle && i < n; i++) p->acc[i] += g[i];
    p->acc_live |= !h->idle;
    if (++p->acc_n < p->workers) return;
    if (p->acc_live) step_shard(p, p->acc, h->lr);
    else rg_optimizer_set_steps(s->opt, rg_optimizer_steps(s->opt) + 1);
    memset(p->acc, 0, n * sizeof(float));
    p->acc_n = p->acc_live = 0;
    p->done = h->step + 1;
    p->started = 1;
}

/* Worker k's push (its header and shard in msg): its gradient and its
 * share of the global penalty's; an optimizer step (at K = 0 the step's
 * sum), the learning rate scaled by 1/(staleness + 1) when asked; its
 * staleness counted. */
static void apply(ps *p, int k, char *msg)
{
    push_hdr h;
    memcpy(&h, msg, sizeof h);
    float *g = (float *)(msg + sizeof h);
    if (p->dec && !h.idle) {
        rg_codec_decode(p->dec, p->server, g, p->g, h.step);
        g = p->g;
    }
    long stale = p->stale[2 * k + (int)(p->pushed[k] % 2)];   /* of the read it was computed on */
    p->pushed[k]++;
    if (!h.idle) p->hist[stale < RG_STALE_HIST - 1 ? stale : RG_STALE_HIST - 1] += 1.0;
    if (!h.idle && p->global_penalty) add_penalty(p, &h, g);
    if (p->K == 0) return accumulate(p, &h, g);
    count(p, h.step);
    if (h.idle) return;
    step_shard(p, g, p->staleness_lr ? h.lr / (float)(stale + 1) : h.lr);
}

static void snapshot(ps *p, uint64_t step)
{
    rg_strategy *s = &p->base;
    size_t n = s->opt_hi - s->opt_lo;
    memcpy(p->snap, rg_model_params(s->m) + s->opt_lo, n * sizeof(float));
    for (int i = 0; i < rg_optimizer_state_count(s->opt); i++)
        memcpy(p->snap_m[i], rg_optimizer_state(s->opt, i), n * sizeof(float));
    p->snap_steps = rg_optimizer_steps(s->opt);
    p->snap_for = step;
}

/* Answers worker k's pending pull when the staleness bound allows it. */
static rg_status answer(ps *p, int k)
{
    rg_strategy *s = &p->base;
    pull_msg q = p->pending[k];
    /* a full sync waits for every step before it; step t for those before
     * t - K (none while t <= K) */
    uint64_t low = p->done, need = q.full ? q.step : q.step < (uint64_t)p->K ? 0 : q.step - (uint64_t)p->K;
    if (q.full == 2 || p->pushed[k] < q.pushes || !p->started || low < need) return RG_OK;
    if (q.full && p->snap_for != q.step) snapshot(p, q.step);   /* the first to be answered */
    size_t n = s->opt_hi - s->opt_lo;
    reply_hdr h = { (uint64_t)p->broke, q.step, q.part, q.full, { 0 } };
    if (q.full && k == 0 && p->server == 0) {   /* worker 0 reports the epoch's counts */
        memcpy(h.hist, p->hist, sizeof h.hist);
        memset(p->hist, 0, sizeof p->hist);
    }
    rg_piece v[2] = { { &h, sizeof h }, { q.full ? p->snap : rg_model_params(s->m) + s->opt_lo, n * sizeof(float) } };
    p->stale[2 * k + (int)(p->reads[k]++ % 2)] = (long)(q.step - (low < q.step ? low : q.step));
    p->pending[k].full = 2;
    return rg_comm_sendv(s->net, v, 2, k, T_WEIGHTS);
}

static rg_status receive_push(ps *p, int k)
{
    rg_strategy *s = &p->base;
    size_t n = p->dec ? rg_codec_msg_len(p->dec, p->server) : s->opt_hi - s->opt_lo;
    size_t bytes = sizeof(push_hdr) + n * sizeof(float);
    rg_status st = rg_comm_recv(s->net, p->buf, bytes, k, T_PUSH);
    if (st == RG_OK) apply(p, k, p->buf);
    return st;
}

static rg_status state_reply(ps *p, int k)
{
    rg_strategy *s = &p->base;
    uint64_t ask;
    rg_status st = rg_comm_recv(s->net, &ask, sizeof ask, k, T_STATE);
    size_t n = s->opt_hi - s->opt_lo, ns = (size_t)rg_optimizer_state_count(s->opt);
    memcpy(p->buf, &p->snap_steps, sizeof p->snap_steps);
    for (size_t i = 0; i < ns; i++) memcpy(p->buf + sizeof(uint64_t) + i * n * sizeof(float), p->snap_m[i], n * sizeof(float));
    return st == RG_OK ? rg_comm_send(s->net, p->buf, sizeof(uint64_t) + ns * n * sizeof(float), k, T_STATE_REPLY) : st;
}

/* Server 0, a worker asking for its next part: the next one before the
 * full sync at q->until, or that sync when every part before it is dealt.
 * The first step after a sync went out unasked, a part a worker. */
static void deal(ps *p, pull_msg *q)
{
    uint64_t W = (uint64_t)p->workers;
    if (q->from != p->from) p->from = q->from, p->next = (q->from + 1) * W;
    q->full = p->next >= q->until * W;
    q->step = q->full ? q->until : p->next / W;
    q->part = q->full ? 0 : p->next++ % W;
}

/* Worker k's pull, if one came: pending until answer says it may go. */
static rg_status take_pull(ps *p, int k, int *busy)
{
    rg_strategy *s = &p->base;
    int ready;
    rg_status st = RG_OK;
    if (p->pending[k].full == 2 && (st = rg_comm_probe(s->net, k, T_PULL, &ready)) == RG_OK && ready) {
        st = rg_comm_recv(s->net, &p->pending[k], sizeof(pull_msg), k, T_PULL);
        if (p->pending[k].until) deal(p, &p->pending[k]);
        *busy = 1;
    }
    return st;
}

/* What worker k sent, if anything, and its pending pull answered when it
 * may be: a push before a pull, or with --pull-first a pull (answered if
 * it may be) before a push, so the worker does not wait for the push's
 * optimizer step (see update). */
static rg_status poll_worker(rg_strategy *s, int k, int *busy)
{
    ps *p = (ps *)s;
    int ready, early = p->early;
    rg_status st = early ? take_pull(p, k, busy) : RG_OK;
    if (st == RG_OK && early) st = answer(p, k);
    if (st == RG_OK && (st = rg_comm_probe(s->net, k, T_PUSH, &ready)) == RG_OK && ready &&
        (st = receive_push(p, k)) == RG_OK)
        *busy = 1;
    if (st == RG_OK && !early) st = take_pull(p, k, busy);
    if (st == RG_OK && (st = rg_comm_probe(s->net, k, T_STATE, &ready)) == RG_OK && ready) {
        st = state_reply(p, k);
        *busy = 1;
    }
    return st == RG_OK ? answer(p, k) : st;
}

/* (a server's other threads, in a group, have nothing to do) */
static rg_status serve(rg_strategy *s)
{
    ps *p = (ps *)s;
    return p->server >= 0 ? rg_strat_serve(s, p->workers, poll_worker) : RG_OK;
}

static void ps_free(rg_strategy *s)
{
    ps *p = (ps *)s;
    rg_free(p->buf);
    rg_free(p->pushed);
    rg_free(p->count);
    rg_free(p->stale);
    rg_free(p->reads);
    rg_free(p->pending);
    rg_free(p->acc);
    rg_free(p->snap);
    rg_free(p->pen);
    rg_free(p->g);
    rg_codec_free(p->dec);
    rg_free(p->snap_m[0]);
    rg_free(p->snap_m[1]);
}

const rg_strategy_ops rg_strategy_ps = {
    .name = "ps", .size = sizeof(ps), .init = init, .exchange = exchange, .agree = agree, .update = update,
    .gather_state = gather_state, .restore_state = restore_state, .serve = serve, .leave = leave, .free = ps_free,
};
