/*
 * plan.c — the resolved configuration: every option as a typed value, and
 * every check that involves more than one option, in one place.  Checks of
 * a single option's range are config.c's (check_ranges); checks that need
 * the data or the worker count are the trainer's, at set-up.
 */
#include "train/plan.h"
#include "fed/cstore.h"
#include <stdlib.h>
#include <string.h>

/* A failed check: the message, and the option at fault. */
static rg_status at(int *option, const char *name, rg_status st)
{
    if (option) *option = rg_option_index(name);
    return st;
}

static rg_status resolve_optimizer(const rg_config *c, rg_plan *p, int *option)
{
    rg_opt_config *o = &p->opt;
    memset(o, 0, sizeof *o);
    if (!strcmp(c->optimizer, "sgd")) o->kind = RG_OPT_SGD;
    else if (!strcmp(c->optimizer, "adam")) o->kind = RG_OPT_ADAM;
    else if (!strcmp(c->optimizer, "adamw")) o->kind = RG_OPT_ADAMW;
    else if (!strcmp(c->optimizer, "rmsprop")) o->kind = RG_OPT_RMSPROP;
    else return at(option, "optimizer", rg_error(RG_EUSAGE, "--optimizer: unknown value '%s' (expected sgd, adam, adamw or rmsprop)",
                                                c->optimizer));
    p->loss = !strcmp(c->loss, "crossentropy") ? RG_LOSS_XENT : !strcmp(c->loss, "bce") ? RG_LOSS_BCE
            : !strcmp(c->loss, "mse") ? RG_LOSS_MSE : !strcmp(c->loss, "mae") ? RG_LOSS_MAE : -1;
    o->momentum = (float)c->momentum;
    o->nesterov = c->nesterov;
    o->beta1 = (float)c->beta1;
    o->beta2 = (float)c->beta2;
    o->eps = (float)c->eps;
    o->rho = (float)c->rho;
    o->weight_decay = (float)c->weight_decay;
    /* --nesterov without momentum is plain SGD: a warning (rg_config_noops), not an error */
    p->lr = (rg_lr_schedule){ .kind = !strcmp(c->lr_schedule, "step") ? RG_LR_STEP
                                      : !strcmp(c->lr_schedule, "cosine") ? RG_LR_COSINE
                                      : !strcmp(c->lr_schedule, "plateau") ? RG_LR_PLATEAU : RG_LR_CONSTANT,
                              .lr = c->lr, .warmup = c->warmup, .step_epochs = c->lr_step_epochs,
                              .gamma = c->lr_gamma, .lr_min = c->lr_min, .patience = c->lr_patience };
    if (p->lr.kind == RG_LR_PLATEAU && !(c->lr_gamma < 1.0))
        return at(option, "lr-gamma", rg_error(RG_EUSAGE, "--lr-gamma %g: --lr-schedule plateau cuts the rate by "
                                               "this factor, which must be below 1 (e.g. 0.1)", c->lr_gamma));
    return RG_OK;
}

static rg_status resolve_parallel(const rg_config *c, rg_plan *p, int *option)
{
    if (rg_partition_parse(c->partition, &p->partition) != RG_OK) return at(option, "partition", RG_EUSAGE);
    p->iid = p->partition.kind == RG_PART_IID;
    p->scope = !strcmp(c->reg_scope, "local") ? RG_SCOPE_LOCAL : RG_SCOPE_GLOBAL;
    p->adapt = !strcmp(c->reg_adapt, "size") ? RG_ADAPT_SIZE : !strcmp(c->reg_adapt, "skew") ? RG_ADAPT_SKEW
             : !strcmp(c->reg_adapt, "divergence") ? RG_ADAPT_DIVERGENCE : RG_ADAPT_NONE;
    p->worker_batch = !strcmp(c->worker_batch, "equal") ? RG_WB_EQUAL : RG_WB_PROPORTIONAL;
    if (p->adapt != RG_ADAPT_NONE && p->scope != RG_SCOPE_LOCAL)
        return at(option, "reg-adapt", rg_error(RG_EUSAGE, "--reg-adapt %s needs --reg-scope local: a global penalty "
                                                "has one strength", c->reg_adapt));
    if (p->adapt != RG_ADAPT_NONE && p->iid)
        return at(option, "reg-adapt", rg_error(RG_EUSAGE, "--reg-adapt %s needs a skewed --partition (dirichlet, "
                                                "quantity or shards): with iid every worker sees the same data",
                                                c->reg_adapt));
    /* --worker-batch with iid changes nothing (every worker takes an equal
     * share of each batch, and no part runs dry): a warning (rg_config_noops) */
    p->deterministic = c->deterministic;
    p->gemm = !strcmp(c->gemm, "openblas") ? RG_GEMM_OPENBLAS : !strcmp(c->gemm, "libxsmm") ? RG_GEMM_LIBXSMM
                                                                                          : RG_GEMM_AUTO;
    p->det_shards = c->det_shards;
    p->shard_optimizer = c->shard_optimizer;
    if (p->deterministic && !p->iid && !c->clients)
        return at(option, "deterministic", rg_error(RG_EUSAGE, "--deterministic needs --partition iid"));
    if (p->deterministic && c->batch < c->det_shards && !c->clients)
        return at(option, "det-shards", rg_error(RG_EUSAGE, "--deterministic: --batch %ld is smaller than "
                                                 "--det-shards %d", c->batch, c->det_shards));
    return RG_OK;
}

/* --compress-update: Adam moves into the codec (each worker's own
 * moments, its update compressed); the optimizer runs plain SGD on the
 * mean update.  The penalty's gradient must go through Adam with the
 * data's, so it is each worker's own (--reg-scope local). */
static rg_status compress_update(const rg_config *c, rg_plan *p, int *option)
{
    const char *why = NULL;
    if (p->codec.kind == RG_CODEC_NONE || p->codec.kind == RG_CODEC_DGC)
        why = "needs a --compress codec other than dgc (the update is what it compresses)";
    else if (p->opt.kind != RG_OPT_ADAM || p->opt.weight_decay != 0.0f)
        why = "moves Adam into the codec: it needs --optimizer adam (without --weight-decay)";
    else if (p->strategy != RG_STRAT_ALLREDUCE || p->deterministic || p->shard_optimizer)
        why = "compresses the gradient exchange of --strategy allreduce (not with --deterministic or "
              "--shard-optimizer)";
    else if (p->scope != RG_SCOPE_LOCAL)
        why = "needs --reg-scope local: the penalty's gradient must go through each worker's Adam with the data's";
    else if (c->clip_norm > 0.0)
        why = "no gradient is summed to clip (--clip-norm): the workers' Adam updates are what is compressed and "
              "averaged, each already scaled by Adam (drop --clip-norm, or --compress-update to clip the summed "
              "gradient)";
    if (why) return at(option, "compress-update", rg_error(RG_EUSAGE, "--compress-update: %s", why));
    p->codec.adam = 1;
    p->codec.beta1 = p->opt.beta1;
    p->codec.beta2 = p->opt.beta2;
    p->codec.eps = p->opt.eps;
    p->opt.kind = RG_OPT_SGD;
    p->opt.momentum = 0.0f;
    return RG_OK;
}

/* The strategies that do not exchange every step, and what they need. */
static rg_status resolve_strategy(const rg_config *c, rg_plan *p, int *option)
{
    p->strategy = !strcmp(c->strategy, "local-sgd") ? RG_STRAT_LOCAL_SGD : !strcmp(c->strategy, "easgd") ? RG_STRAT_EASGD
                : !strcmp(c->strategy, "hogwild") ? RG_STRAT_HOGWILD : !strcmp(c->strategy, "ps") ? RG_STRAT_PS
                : !strcmp(c->strategy, "easgd-async") ? RG_STRAT_EASGD_ASYNC : RG_STRAT_ALLREDUCE;
    p->sync_every = c->sync_every;
    p->servers = p->strategy == RG_STRAT_PS ? c->servers : p->strategy == RG_STRAT_EASGD_ASYNC ? 1 : 0;
    p->staleness = c->staleness;
    p->staleness_lr = c->staleness_lr;
    p->pull_first = c->pull_first;
    p->sync_warmup = c->sync_warmup;
    p->local_moments = c->local_moments;
    p->elastic = c->elastic;
    int which;
    /* --error-feedback without a codec has nothing to keep: a warning
     * (rg_config_noops), so the codec is not asked about it */
    const char *ef = strcmp(c->compress, "none") ? c->error_feedback : "auto";
    if (rg_codec_parse_at(c->compress, ef, &p->codec, &which) != RG_OK)
        return at(option, which ? "error-feedback" : "compress", RG_EUSAGE);
    if (p->codec.kind == RG_CODEC_DGC) {
        /* the momentum moves into the codec (corrected, masked); the
         * optimizer runs plain SGD on the sum */
        if (p->opt.kind != RG_OPT_SGD || p->opt.nesterov)
            return at(option, "compress", rg_error(RG_EUSAGE, "--compress %s: Deep Gradient Compression corrects SGD's "
                                                   "momentum (--optimizer sgd, no --nesterov)", c->compress));
        p->codec.momentum = p->opt.momentum;
        p->codec.warmup_epochs = c->dgc_warmup;
        p->opt.momentum = 0.0f;
    }
    if (c->compress_update && compress_update(c, p, option) != RG_OK) return RG_EUSAGE;
    int weights = p->strategy == RG_STRAT_LOCAL_SGD || p->strategy == RG_STRAT_EASGD, ps = p->strategy == RG_STRAT_PS;
    if (p->codec.kind != RG_CODEC_NONE && ((p->strategy != RG_STRAT_ALLREDUCE && !weights && !ps) ||
                                           p->deterministic || p->shard_optimizer))
        return at(option, "compress", rg_error(RG_EUSAGE, "--compress %s: compresses what --strategy allreduce, "
                                               "local-sgd, easgd and ps exchange (not with --deterministic, "
                                               "--shard-optimizer or --strategy %s)", c->compress, c->strategy));
    if (ps && (p->codec.kind == RG_CODEC_POWERSGD || p->codec.kind == RG_CODEC_DGC))
        return at(option, "compress", rg_error(RG_EUSAGE, "--compress %s: needs a collective (an all-reduce of every "
                                               "worker's factors or top-k); a parameter server's push goes to one "
                                               "server (take topk, randk, qsgd, sign, fp16 or bf16)", c->compress));
    if (p->codec.kind == RG_CODEC_DGC && weights)
        return at(option, "compress", rg_error(RG_EUSAGE, "--compress %s: Deep Gradient Compression corrects "
                                               "gradients; --strategy %s exchanges weights (take topk)",
                                               c->compress, c->strategy));
    if (p->strategy == RG_STRAT_ALLREDUCE) return RG_OK;
    const char *why = NULL;
    if (p->deterministic) why = "--deterministic has its own exchange (allreduce)";
    else if (p->shard_optimizer) why = "--shard-optimizer is a way of all-reducing";
    else if (p->adapt == RG_ADAPT_DIVERGENCE) why = "--reg-adapt divergence measures the exchanged gradient, which it does not exchange";
    else if (p->strategy == RG_STRAT_HOGWILD && (p->opt.kind != RG_OPT_SGD || p->opt.momentum != 0.0f))
        why = "hogwild updates the shared weights with plain SGD (--optimizer sgd, no --momentum)";
    if (why) return at(option, "strategy", rg_error(RG_EUSAGE, "--strategy %s: %s", c->strategy, why));
    return RG_OK;
}

/* regula fed: robust aggregation, attacks, DP, heterogeneous clients;
 * --aggregate checked against the clients a round samples */
static rg_status resolve_fed_robust(const rg_config *c, rg_plan *p, int *option)
{
    rg_fed_setup *f = &p->fed_setup;
    rg_status st = rg_agg_parse(c->aggregate, &f->agg);
    if (st == RG_OK) st = rg_agg_check(&f->agg, (int)rg_fed_sampled(f));
    if (st != RG_OK) return at(option, "aggregate", st);
    if ((st = rg_attack_parse(c->attack, c->attackers, &f->attack)) != RG_OK) return at(option, "attack", st);
    f->attack.clients = c->clients;
    f->dp_clip = c->dp_clip;
    f->dp_noise = c->dp_noise;
    f->dp_delta = c->dp_delta;
    f->dropout = c->client_dropout;
    f->straggler = c->straggler_frac;
    f->client_store = !strcmp(c->client_state, "memory") ? RG_CSTORE_MEMORY
                    : !strcmp(c->client_state, "disk") ? RG_CSTORE_DISK : RG_CSTORE_AUTO;
    const char *tmp = getenv("TMPDIR");
    f->state_dir = c->client_state_dir[0] ? c->client_state_dir : tmp && *tmp ? tmp : "/tmp";
    const char *opt = NULL, *why = NULL;
    if (f->attack.kind != RG_ATTACK_NONE && c->attackers <= 0.0)
        opt = "attackers", why = "--attack needs the share of the clients that attack, a FRACTION > 0";
    else if (f->attack.kind == RG_ATTACK_NONE && c->attackers > 0.0)
        opt = "attack", why = "--attackers needs an attack to simulate: signflip, labelflip or noise:SIGMA";
    else if (c->dp_noise > 0.0 && c->dp_clip <= 0.0)
        opt = "dp-noise", why = "the noise is SIGMA x --dp-clip C: give --dp-clip C > 0";
    else if (c->dp_clip > 0.0 && f->agg.kind != RG_AGG_MEAN)
        opt = "dp-clip", why = "DP-FedAvg's noise is calibrated to the sum of the clipped updates: --aggregate mean";
    else if (c->dp_clip > 0.0 && (!strcmp(c->algo, "scaffold") || !strcmp(c->algo, "feddyn")))
        opt = "dp-clip", why = "scaffold's and feddyn's clients send state of their own that DP does not cover";
    if (why) return at(option, opt, rg_error(RG_EUSAGE, "regula fed: --%s: %s", opt, why));
    return RG_OK;
}

/* regula fed: the clients' settings, and what a round cannot take (a
 * step count that depends on how the clients are dealt to workers) */
static rg_status resolve_fed(const rg_config *c, rg_plan *p, int *option)
{
    if (c->clients == 0) return RG_OK;
    p->fed = 1;
    p->epochs = c->rounds;
    p->fed_setup = (rg_fed_setup){ .clients = c->clients, .sample = c->sample, .local_steps = c->local_steps,
                                   .local_epochs = c->local_epochs ? c->local_epochs : 1,
                                   .algo = rg_fed_algo_find(c->algo), .mu = c->mu, .alpha = c->feddyn_alpha,
                                   .server_lr = c->server_lr, .server_momentum = c->server_momentum,
                                   .beta1 = c->server_beta1, .beta2 = c->server_beta2, .tau = c->server_eps,
                                   .mu_adapt = !strcmp(c->mu_adapt, "size") ? RG_ADAPT_SIZE
                                             : !strcmp(c->mu_adapt, "skew") ? RG_ADAPT_SKEW
                                             : !strcmp(c->mu_adapt, "divergence") ? RG_ADAPT_DIVERGENCE : RG_ADAPT_NONE,
                                   .server_penalty = p->scope == RG_SCOPE_GLOBAL, .deterministic = c->deterministic };
    /* --reg-scope global: the server's, on the aggregated model; local: each client's own */
    if (p->scope == RG_SCOPE_GLOBAL) p->scope = RG_SCOPE_SERVER;
    const char *opt = NULL, *why = NULL;
    int plain = !strcmp(c->algo, "fedavg") || !strcmp(c->algo, "fedprox");
    int adaptive = !strcmp(c->algo, "fedadam") || !strcmp(c->algo, "fedyogi");
    if (!p->fed_setup.algo)
        opt = "algo", why = "unknown algorithm";
    else if (c->server_momentum > 0.0 && !plain)
        opt = "server-momentum",
        why = adaptive ? "the server's momentum is fedavg's and fedprox's (FedAvgM); fedadam and fedyogi keep moments "
                         "of their own (--server-beta1, --server-beta2)"
            : !strcmp(c->algo, "scaffold") ? "the server's momentum is fedavg's and fedprox's (FedAvgM); scaffold's "
                                             "server takes the plain step w += --server-lr x update"
                                           : "the server's momentum is fedavg's and fedprox's (FedAvgM); feddyn's "
                                             "server step is its own (w += update - h / alpha)";
    else if (c->local_epochs > 0 && c->local_steps > 0)
        opt = "local-steps", why = "give --local-epochs or --local-steps, not both";
    else if (p->strategy != RG_STRAT_ALLREDUCE)
        opt = "strategy", why = "a federated round is its own strategy";
    else if (p->codec.kind != RG_CODEC_NONE)
        opt = "compress", why = "clients send their whole updates";
    else if (p->adapt != RG_ADAPT_NONE)
        opt = "reg-adapt", why = "per-client strength is not built yet";
    else if (p->shard_optimizer)
        opt = "shard-optimizer", why = "each client trains a whole replica";
    else if (c->warmup > 0 || p->lr.kind == RG_LR_COSINE)
        opt = c->warmup > 0 ? "warmup" : "lr-schedule",
        why = "a schedule by steps would depend on how the clients are dealt to workers (step and plateau count rounds)";
    else if (c->checkpoint_every > 0)
        opt = "checkpoint-every", why = "a round's steps depend on how the clients are dealt to workers: checkpoint "
                                        "at each round's end with --checkpoint-every-epoch";
    if (why) return at(option, opt, rg_error(RG_EUSAGE, "regula fed: --%s: %s", opt, why));
    return resolve_fed_robust(c, p, option);
}

/* --link and --straggler: what a study of slow networks and slow workers uses */
static rg_status resolve_emulation(const rg_config *c, rg_plan *p, int *option)
{
    if (rg_link_parse(c->link, &p->link) != RG_OK) return at(option, "link", RG_EUSAGE);
    p->straggler_rank = -1;
    p->straggler_factor = 1.0;
    if (!c->straggler[0]) return RG_OK;
    char *end;
    long r = strtol(c->straggler, &end, 10);
    double f = *end == ':' ? strtod(end + 1, &end) : 0.0;
    if (*end || r < 0 || r >= RG_MAX_WORKERS || !(f >= 1.0 && f <= 1000.0))
        return at(option, "straggler", rg_error(RG_EUSAGE, "--straggler %s: expected RANK:FACTOR, a worker rank and a "
                                                "slow-down in [1, 1000], such as 1:4", c->straggler));
    p->straggler_rank = (int)r;
    p->straggler_factor = f;
    return RG_OK;
}

static rg_status resolve_outputs(const rg_config *c, rg_plan *p, int *option)
{
    int every = c->checkpoint_every > 0 || c->checkpoint_every_epoch;
    const char *which = c->checkpoint_every > 0 ? "checkpoint-every" : "checkpoint-every-epoch";
    if (every && !c->checkpoint_dir[0] && !c->resume[0])
        return at(option, which, rg_error(RG_EUSAGE, "--%s needs --checkpoint-dir (or --resume DIR)", which));
    if (c->checkpoint_dir[0] && !every)
        return at(option, "checkpoint-dir", rg_error(RG_EUSAGE, "--checkpoint-dir %s needs --checkpoint-every N "
                                                     "(steps between checkpoints) or --checkpoint-every-epoch",
                                                     c->checkpoint_dir));
    if (c->proba && c->top > 0)
        return at(option, "top", rg_error(RG_EUSAGE, "--proba and --top %ld print different tables (every class's "
                                          "probability, or the %ld most likely classes): give one", c->top, c->top));
    p->checkpoint_every = c->checkpoint_every;
    p->ck_dir = every ? (c->checkpoint_dir[0] ? c->checkpoint_dir : c->resume) : NULL;
    if (c->save_best[0] && !strcmp(c->save_best, c->save))
        return at(option, "save-best", rg_error(RG_EUSAGE, "--save-best %s is --save's file too: the final model would "
                                                "overwrite the best one; give two names", c->save_best));
    p->ck_epoch = c->checkpoint_every_epoch;
    p->save_best = c->save_best[0] ? c->save_best : NULL;
    p->log_every = c->log_every;
    return RG_OK;
}

/* A regression loss (mse, mae) has targets, not classes: the options
 * that weigh, split or watch classes have nothing to act on. */
static rg_status resolve_task(const rg_config *c, rg_plan *p, int *option)
{
    int reg = p->loss == RG_LOSS_MSE || p->loss == RG_LOSS_MAE;
    if (reg && c->class_weight[0])
        return at(option, "class-weight", rg_error(RG_EUSAGE, "--class-weight %s: weighs classes, and --loss %s is a "
                                                   "regression (numeric targets, no classes)", c->class_weight, c->loss));
    if (reg && !strcmp(c->monitor, "val_acc"))
        return at(option, "monitor", rg_error(RG_EUSAGE, "--monitor val_acc: --loss %s is a regression, which has no "
                                              "accuracy; watch val_loss or val_mae", c->loss));
    if (!reg && !strcmp(c->monitor, "val_mae"))
        return at(option, "monitor", rg_error(RG_EUSAGE, "--monitor val_mae: the mean absolute error is a regression's "
                                              "(--loss mse or mae); watch val_loss or val_acc"));
    if (reg && c->clients > 0 && !strcmp(c->mu_adapt, "skew"))
        return at(option, "mu-adapt", rg_error(RG_EUSAGE, "--mu-adapt skew: measures each client's mix of classes, and "
                                               "--loss %s is a regression (no classes); give size or divergence",
                                               c->loss));
    if (reg && (p->partition.kind == RG_PART_DIRICHLET || p->partition.kind == RG_PART_SHARDS || p->adapt == RG_ADAPT_SKEW))
        return at(option, p->adapt == RG_ADAPT_SKEW ? "reg-adapt" : "partition",
                  rg_error(RG_EUSAGE, "--%s %s: skews or measures the classes among workers, and --loss %s is a "
                           "regression (no classes); give --partition iid or quantity:A",
                           p->adapt == RG_ADAPT_SKEW ? "reg-adapt" : "partition",
                           p->adapt == RG_ADAPT_SKEW ? c->reg_adapt : c->partition, c->loss));
    return RG_OK;
}

const char *rg_plan_lower(const rg_plan *p)
{
    return p->fed && rg_fed_server_lr_risky(&p->fed_setup) ? "--server-lr, --lr or --clip-norm" : "--lr or --clip-norm";
}

rg_status rg_plan_resolve(const rg_config *c, rg_plan *p, int *option)
{
    memset(p, 0, sizeof *p);
    if (option) *option = -1;
    p->c = c;
    rg_status st;
    if ((st = resolve_optimizer(c, p, option)) != RG_OK || (st = resolve_parallel(c, p, option)) != RG_OK ||
        (st = resolve_strategy(c, p, option)) != RG_OK || (st = resolve_emulation(c, p, option)) != RG_OK ||
        (st = resolve_outputs(c, p, option)) != RG_OK || (st = resolve_task(c, p, option)) != RG_OK)
        return st;
    p->monitor = !strcmp(c->monitor, "val_acc") ? RG_MONITOR_VAL_ACC
               : !strcmp(c->monitor, "val_mae") ? RG_MONITOR_VAL_MAE : RG_MONITOR_VAL_LOSS;
    p->min_delta = c->min_delta;
    p->early_stop = c->early_stop;
    p->restore_best = c->restore_best;
    p->clip = c->clip_norm;
    p->label_smoothing = c->label_smoothing;
    p->skip_nonfinite = c->skip_nonfinite;
    p->shuffle = c->shuffle;
    p->batch = c->batch;
    p->epochs = c->epochs;
    p->seed = c->seed;
    return resolve_fed(c, p, option);
}
