/*
 * train.c — rg_train: a training run of one process, from the options to
 * the result.  It resolves the configuration, checks the data and the
 * outputs, makes the partition and the batch schedule, picks the strategy,
 * reads a checkpoint to resume from, opens the log, starts the worker
 * threads (worker.c trains), and after them checks the final figures,
 * saves the model and ends the log.  It also holds what world rank 0's
 * first worker reports during the run (the callbacks, the epoch events)
 * and the final figures' policy.
 *
 * Invariant: every process passes the same agreements (rg_dist_agree) in
 * the same order, so that a process that fails before training tells the
 * others instead of leaving them waiting in their first collective; only
 * world rank 0 writes the log, the checkpoints and the saved model, and
 * each is opened only after every input has been checked.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/dist.h"
#include "train/run.h"
#include "fed/cstore.h"
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rg_status check_dataset(const rg_model *m, const rg_dataset *ds, const char *role)
{
    if (!ds) return RG_OK;
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s (%s set) has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), role, rg_dataset_features(ds), rg_model_inputs(m));
    int reg = rg_model_classes(m) == 0;
    if (reg ? !rg_dataset_targets(ds) : !rg_dataset_y(ds))
        return rg_error(RG_EDATA, "%s (%s set) has no %s", rg_dataset_name(ds), role,
                        reg ? "numeric targets: a regression loss (mse, mae) needs them" : "labels");
    if (rg_model_loss(m) == RG_LOSS_BCE && rg_dataset_classes(ds) > 2)
        return rg_error(RG_EDATA, "%s (%s set): labels go up to %d but binary cross-entropy (--loss bce, a last "
                        "layer dense(1, sigmoid)) takes 0 and 1", rg_dataset_name(ds), role, rg_dataset_classes(ds) - 1);
    if ((size_t)rg_dataset_classes(ds) > rg_model_classes(m))
        return rg_error(RG_EDATA, "%s (%s set): labels go up to %d but the model has %zu outputs",
                        rg_dataset_name(ds), role, rg_dataset_classes(ds) - 1, rg_model_outputs(m));
    return RG_OK;
}

/* The directory path is in ("." for a bare name). */
static void parent_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
}

/* An output file's directory must exist and be writable, and the file must
 * not be a directory: found before training, not after it. */
static rg_status check_output(const char *opt, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return rg_error(RG_EIO, "%s %s: is a directory; give a file name", opt, path);
    char dir[4096];
    parent_of(path, dir, sizeof dir);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rg_error(RG_EIO, "%s %s: the directory '%s' does not exist", opt, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rg_error(RG_EIO, "%s %s: cannot write in '%s': %s", opt, path, dir, strerror(errno));
    return RG_OK;
}

/* ------------------------------------------------------------ the run's set-up */

/* --strategy ps and easgd-async under mpirun with worker threads: each
 * process is one worker or server, its threads in step (the strategy
 * layer's groups), so the serving ranks are whole processes. */
static int grouped(void) { return rg_dist_process() != NULL; }
static int serving_ranks(const rg_plan *p, int threads) { return p->servers * (grouped() ? threads : 1); }

/* --strategy ps and easgd-async: the last ranks serve (ps's --servers,
 * easgd-async's centre), the others train; under mpirun with threads,
 * the last processes. */
static rg_status check_servers(const rg_run *r)
{
    int all = r->world + r->p->servers, ps = r->p->strategy == RG_STRAT_PS, procs = rg_dist_size();
    const char *name = r->c->strategy;
    if (grouped() && r->threads > 1 && procs <= r->p->servers)
        return rg_error(RG_EUSAGE, "--strategy %s under mpirun with --workers %d: each process is one %s, its "
                        "threads in step; run %d processes or more (there %s %d)", name, r->threads,
                        ps ? "worker or server (the last --servers)" : "worker or the centre (the last)",
                        r->p->servers + 1, procs == 1 ? "is" : "are", procs);
    if (r->world < 1 && ps)
        return rg_error(RG_EUSAGE, "--strategy ps --servers %d: the servers are the last %d of the %d workers, and at "
                        "least one must be left to train: give --workers %d or more%s", r->p->servers, r->p->servers,
                        all, r->p->servers + 1, rg_dist_size() > 1 ? " (or more processes)" : "");
    if (r->world < 1)
        return rg_error(RG_EUSAGE, "--strategy %s: the centre is the last of the %d workers, and at least one must be "
                        "left to train: give --workers 2 or more%s", name, all,
                        rg_dist_size() > 1 ? " (or more processes)" : "");
    if (ps && rg_model_has_maxnorm(r->m))
        return rg_error(RG_EUSAGE, "--strategy ps: each server holds a slice of the weights, and a max-norm "
                        "constraint needs whole rows; drop maxnorm from --model or take another --strategy");
    return RG_OK;
}

/* --straggler names a rank that does not train: past the workers, or
 * one of the ranks that serve (ps's servers, easgd-async's centre). */
static rg_status straggler_out_of_range(const rg_run *r)
{
    int w = r->world, s = serving_ranks(r->p, r->threads);
    char serve[128] = "";
    if (s == 1)
        snprintf(serve, sizeof serve, "; rank %d is the %s, which does not train", w,
                 r->p->strategy == RG_STRAT_PS ? "server" : "centre");
    else if (s > 1)
        snprintf(serve, sizeof serve, "; ranks %d to %d %s, which do not train", w, w + s - 1,
                 r->p->strategy == RG_STRAT_PS ? "are the servers" : "are the centre's process");
    return rg_error(RG_EUSAGE, "--straggler %s: there are %d workers (ranks 0 to %d)%s", r->c->straggler, w, w - 1,
                    serve);
}

/* Checks that need the data or the worker count. */
static rg_status check_world(const rg_run *r)
{
    const rg_config *c = r->c;
    size_t N = rg_dataset_size(r->train);
    if (N == 0) return rg_error(RG_EDATA, "%s: no training samples", rg_dataset_name(r->train));
    if (c->early_stop > 0 && !r->val)
        return rg_error(RG_EUSAGE, "--early-stop needs a validation set (--val-split, or a test set to validate on)");
    if (r->p->lr.kind == RG_LR_PLATEAU && !r->val)
        return rg_error(RG_EUSAGE, "--lr-schedule plateau needs a validation set (--val-split, or a test set to "
                        "validate on): it watches --monitor");
    /* before the counts below: with every rank serving, r->world is 0 or
     * less, which they would report as "-2 workers" */
    if (r->p->servers) {
        rg_status st = check_servers(r);
        if (st != RG_OK) return st;
    }
    if (r->world > RG_MAX_WORKERS)
        return rg_error(RG_EUSAGE, "--workers: %d workers in all (%d processes x %d); at most %d", r->world,
                        rg_dist_size(), r->threads, RG_MAX_WORKERS);
    if ((size_t)r->world > N)
        return rg_error(RG_EUSAGE, "--workers: %d workers but only %zu training samples", r->world, N);
    if (r->p->fed && (size_t)c->clients > N)
        return rg_error(RG_EUSAGE, "--clients %d: only %zu training samples to share among them", c->clients, N);
    if (r->p->fed && r->p->fed_setup.attack.kind == RG_ATTACK_LABELFLIP && rg_dataset_classes(r->train) < 2)
        return rg_error(RG_EUSAGE, "--attack labelflip: the data has no class labels to flip (a regression)");
    if (c->deterministic && c->det_shards % r->world && !r->p->fed)
        return rg_error(RG_EUSAGE, "--deterministic: %d workers do not divide --det-shards %d", r->world, c->det_shards);
    if (r->p->straggler_rank >= r->world) return straggler_out_of_range(r);
    if (r->p->strategy == RG_STRAT_HOGWILD && rg_dist_size() > 1)
        return rg_error(RG_EUSAGE, "--strategy hogwild: worker threads of one process share the weights; under "
                        "mpirun there are %d processes (run it without mpirun, with --workers)", rg_dist_size());
    return RG_OK;
}

/* Each worker's share of an epoch's penalty, and the strengths the
 * adaptation policy starts from.  A synchronous step applies sum_k
 * lambda_k b_k / B; a local step, to the average of the replicas, the mean
 * lambda_k of the workers that have samples. */
static rg_status strengths(rg_run *r)
{
    int W = r->world;
    r->share = rg_calloc((size_t)W, sizeof *r->share);
    r->lambda0 = rg_calloc((size_t)W, sizeof *r->lambda0);
    if (!r->share || !r->lambda0) return rg_error(RG_ENOMEM, "out of memory");
    for (int k = 0; k < W; k++) r->lambda0[k] = 1.0;
    if (r->p->adapt == RG_ADAPT_NONE) return RG_OK;   /* skewed (plan.c) */
    const rg_schedule *sc = &r->sched;
    int local = r->p->strategy != RG_STRAT_ALLREDUCE;
    for (uint64_t s = 0; s < sc->steps; s++) {
        double b = (double)rg_schedule_size(sc, s), active = 0.0;
        for (int k = 0; k < W && local; k++) {
            size_t lo, hi;
            rg_schedule_window(sc, k, s, &lo, &hi);
            active += hi > lo;
        }
        for (int k = 0; k < W; k++) {
            size_t lo, hi;
            rg_schedule_window(sc, k, s, &lo, &hi);
            r->share[k] += local ? (hi > lo) / active : (double)(hi - lo) / b;
        }
    }
    int C = rg_dataset_classes(r->train);
    size_t *n = rg_calloc((size_t)W, sizeof *n);
    double *hist = rg_calloc((size_t)W * (size_t)(C > 0 ? C : 1), sizeof *hist);
    rg_reg reg;
    rg_status st = n && hist ? rg_reg_init(&reg, r->p->scope, r->p->adapt, W, 0, 1, r->share, 0)
                             : rg_error(RG_ENOMEM, "out of memory");
    if (st == RG_OK) {
        const int32_t *y = rg_dataset_y(r->train);
        for (int k = 0; k < W; k++) {
            n[k] = rg_schedule_part_size(sc, k);
            for (size_t i = r->parts.offset[k]; y && i < r->parts.offset[k + 1]; i++)
                hist[(size_t)k * (size_t)C + (size_t)y[r->parts.ids[i]]] += 1.0;
        }
        rg_reg_adapt_start(&reg, n, hist, C);
        memcpy(r->lambda0, reg.lambda, (size_t)W * sizeof *r->lambda0);
        rg_reg_free(&reg);
    }
    rg_free(n);
    rg_free(hist);
    return st;
}

/* The partition, the batch schedule, the strengths, the strategy. */
static rg_status prepare(rg_run *r, rg_plan *p)
{
    const rg_config *c = r->c;
    size_t N = rg_dataset_size(r->train);
    rg_status st = check_world(r);
    /* the data's owners: the workers (a skewed partition), or under
     * regula fed the clients, whose rounds the fed strategy deals itself
     * (the schedule then only sizes the batch) */
    int owners = p->fed ? p->fed_setup.clients : r->world;
    if (st == RG_OK && (!p->iid || p->fed))
        st = rg_partition_make(rg_dataset_y(r->train), N, rg_dataset_classes(r->train), &p->partition, owners,
                               c->seed, &r->parts);
    int skewed = !p->iid && !p->fed;
    if (st == RG_OK)
        st = rg_schedule_make(&r->sched, N, (size_t)c->batch, r->world, skewed ? &r->parts : NULL, p->worker_batch);
    if (st == RG_OK) st = strengths(r);
    if (st != RG_OK) return st;
    p->lr.total_steps = r->sched.steps * (uint64_t)p->epochs;
    p->codec.steps_per_epoch = r->sched.steps;   /* DGC's warm-up counts epochs */
    rg_strat_choice ch = { .name = c->strategy, .deterministic = p->deterministic, .shard_optimizer = p->shard_optimizer,
                           .divergence = p->adapt == RG_ADAPT_DIVERGENCE, .threads = r->threads,
                           .processes = rg_dist_size(), .params = rg_model_param_count(r->m) };
    r->strategy = p->fed ? &rg_strategy_fed : rg_strategy_choose(&ch);
    r->ranks = rg_calloc((size_t)r->threads, sizeof *r->ranks);
    if (!r->ranks) return rg_error(RG_ENOMEM, "out of memory");
    rg_blas_set_threads(c->threads);
    return RG_OK;
}

/* A checkpoint found by --resume must fit this run: the same data (its
 * cursor lands on a step boundary of this batch size), and with a skewed
 * partition the same workers (each owns its data). */
static rg_status check_resume(const rg_run *r, const rg_run_state *ck, const char *path)
{
    const rg_config *c = r->c;
    size_t N = rg_dataset_size(r->train);
    uint64_t B = (uint64_t)c->batch < N ? (uint64_t)c->batch : N;
    uint64_t e = ck->n.epoch, k = ck->n.epoch_step;
    if (!r->p->iid && !r->p->fed && ck->n.world != (uint64_t)r->world)
        return rg_error(RG_EUSAGE, "--resume: %s was written by %llu workers; with --partition %s each worker owns "
                        "its own samples, so the run must go on with %llu workers (it has %d)", path,
                        (unsigned long long)ck->n.world, c->partition, (unsigned long long)ck->n.world, r->world);
    if (ck->extra_n && ck->n.world != (uint64_t)r->world)
        return rg_error(RG_EUSAGE, "--resume: %s keeps each of its %llu workers' --compress state (residuals); the run "
                        "must go on with %llu workers (it has %d)", path, (unsigned long long)ck->n.world,
                        (unsigned long long)ck->n.world, r->world);
    if (r->p->fed) {   /* the server's and clients' state: what this run's algorithm keeps */
        rg_status st = rg_fed_state_check(&r->p->fed_setup, rg_model_param_count(r->m), ck->fed, path);
        if (st != RG_OK) return st;
    }
    const char *unit = r->p->fed ? "round" : "epoch";
    if (e >= (uint64_t)r->p->epochs)
        return rg_error(RG_EUSAGE, "--resume: %s is in %s %llu, past --%ss %ld: a resumed run goes on from its "
                        "checkpoint (give --%ss %llu or more)", path, unit, (unsigned long long)e + 1, unit,
                        r->p->epochs, unit, (unsigned long long)e + 1);
    /* regula fed: checkpoints fall on rounds' ends (the cursor counts dealt samples) */
    if (r->p->iid && !r->p->fed) {
        uint64_t spe = (N + B - 1) / B, at = k * B < N ? k * B : N;
        if (k > spe || ck->n.samples != e * N + at)
            return rg_error(RG_EUSAGE, "--resume: %s stopped at %llu samples (epoch %llu, step %llu of it), which is not "
                            "where %zu training samples in batches of %llu would be: the training data changed", path,
                            (unsigned long long)ck->n.samples, (unsigned long long)e + 1, (unsigned long long)k,
                            N, (unsigned long long)B);
    }
    return RG_OK;
}

/* Checkpoints of another run in the directory would be pruned as "newer"
 * than ours and picked by a later --resume: refused. */
static rg_status check_ck_dir(const rg_config *c, const char *dir)
{
    size_t n = 0;
    char newest[64] = "";
    struct stat a, b;
    int same = c->resume[0] && stat(c->resume, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
    rg_status st = rg_ckpt_count(dir, &n, newest, sizeof newest);
    if (st == RG_OK && n > 0 && !same)
        st = rg_error(RG_EUSAGE, "--checkpoint-dir %s already holds %zu checkpoint%s (newest %s) of another run: "
                      "continue that run with --resume %s, or give an empty directory", dir, n, n == 1 ? "" : "s",
                      newest, dir);
    if (st == RG_OK) rg_ckpt_clean(dir);
    return st;
}

/* --resume names the directory of the checkpoints: a checkpoint file
 * given instead is the user's slip, said as such (not as a bad
 * --checkpoint-dir, which --resume stands in for). */
static rg_status check_resume_dir(const char *dir)
{
    struct stat sb;
    if (!dir[0] || stat(dir, &sb) != 0 || S_ISDIR(sb.st_mode)) return RG_OK;
    char parent[4096];
    parent_of(dir, parent, sizeof parent);
    return rg_error(RG_EUSAGE, "--resume %s: a file, not a directory: --resume takes the directory the checkpoints "
                    "are in (--resume %s) and continues from the newest valid one there (to start from this file's "
                    "weights alone, give --init %s)", dir, parent, dir);
}

/* World rank 0: the outputs can be written, and the checkpoint to resume
 * from (the directory may exist only on its machine) is read. */
static rg_status outputs(rg_run *r, rg_run_state *ck, int *found, char *path, size_t cap)
{
    const rg_config *c = r->c;
    const char *dir = r->p->ck_dir;
    rg_status st = check_resume_dir(c->resume);
    if (st == RG_OK && r->p->fed) st = rg_fed_store_check(&r->p->fed_setup, rg_model_param_count(r->m));
    if (st != RG_OK) return st;
    if ((c->save[0] && (st = check_output("--save", c->save)) != RG_OK) ||
        (c->save_best[0] && (st = check_output("--save-best", c->save_best)) != RG_OK) ||
        (c->log[0] && (st = check_output("--log", c->log)) != RG_OK) ||
        (dir && (st = rg_ckpt_dir_ready(dir)) != RG_OK))
        return st;
    if (c->resume[0]) {
        st = rg_ckpt_load(c->resume, c, r->m, ck, found, path, cap);
        if (st == RG_OK && *found) st = check_resume(r, ck, path);
        if (st == RG_OK && !*found) {
            struct stat sb;
            rg_log("--resume %s: %s; starting from the beginning", c->resume,
                   stat(c->resume, &sb) == 0 ? "no checkpoint there yet" : "no such directory (yet)");
        }
    }
    if (st == RG_OK && dir) st = check_ck_dir(c, dir);
    return st;
}

/* regula fed's state, as rank 0 read it, to every process. */
static rg_status share_fed(rg_comm *pc, rg_run_state *ck)
{
    rg_fed_state *f = ck->fed;
    /* rank 0 read the clients' states lazily (they stayed in the file): it sends them, so it holds them */
    rg_status st = f && rg_comm_rank(pc) == 0 ? rg_fed_state_materialise(f) : RG_OK;
    st = rg_dist_agree(st);
    if (st != RG_OK) return st;
    uint64_t hdr[8] = { f != NULL };
    if (f) memcpy(hdr + 1, (uint64_t[7]){ f->P, f->server_n, f->n, f->client_n, f->clients, (uint64_t)f->has_round,
                                          f->rounds }, sizeof(uint64_t[7]));
    st = rg_comm_broadcast(pc, hdr, sizeof hdr, 0);
    if (st != RG_OK || !hdr[0]) return st;
    if (rg_comm_rank(pc) != 0) {
        if (!(f = ck->fed = rg_calloc(1, sizeof *f))) return rg_error(RG_ENOMEM, "out of memory");
        if ((st = rg_fed_state_size(f, hdr[1], hdr[2], hdr[3], hdr[4], hdr[5])) != RG_OK) return st;
        f->has_round = (int)hdr[6];
        f->rounds = hdr[7];
    }
    if (f->has_round && (st = rg_comm_broadcast(pc, f->round, sizeof f->round, 0)) != RG_OK) return st;
    size_t P = (size_t)f->P, per = (size_t)f->client_n * P;
    if (f->server_n && (st = rg_comm_broadcast(pc, f->server, (size_t)f->server_n * P * sizeof(float), 0)) != RG_OK)
        return st;
    if (f->n && ((st = rg_comm_broadcast(pc, f->ids, (size_t)f->n * sizeof(uint64_t), 0)) != RG_OK ||
                 (st = rg_comm_broadcast(pc, f->client, (size_t)f->n * per * sizeof(float), 0)) != RG_OK))
        return st;
    return f->clients ? rg_comm_broadcast(pc, f->raw, (size_t)f->clients * sizeof(double), 0) : RG_OK;
}

/* Rank 0 read the checkpoint: every other process gets the same state. */
static rg_status share_resume(rg_model *m, rg_run_state *ck, int *found)
{
    rg_comm *pc = rg_dist_process();
    uint64_t hdr[2 + RG_COUNTERS];
    hdr[0] = (uint64_t)*found;
    hdr[1] = ck->extra_n;
    memcpy(hdr + 2, &ck->n, sizeof ck->n);
    rg_status st = rg_comm_broadcast(pc, hdr, sizeof hdr, 0);
    if (st != RG_OK) return st;
    *found = (int)hdr[0];
    if (!*found) return RG_OK;
    if (rg_comm_rank(pc) != 0) {
        memcpy(&ck->n, hdr + 2, sizeof ck->n);
        ck->extra_n = hdr[1];
        if ((st = rg_state_alloc(ck)) != RG_OK) return st;
    }
    size_t P = (size_t)ck->n.params, W = (size_t)ck->n.world;
    if (P != rg_model_param_count(m)) return rg_error(RG_ECOMM, "rank 0's checkpoint does not fit this model");
    if ((st = rg_comm_broadcast(pc, &ck->f, sizeof ck->f, 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, rg_model_params(m), P * sizeof(float), 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, ck->lambda, W * sizeof(double), 0)) != RG_OK ||
        (st = rg_comm_broadcast(pc, ck->wacc, W * WA_N * sizeof(double), 0)) != RG_OK)
        return st;
    for (int i = 0; i < (int)ck->n.nstate; i++)
        if ((st = rg_comm_broadcast(pc, ck->moments[i], P * sizeof(float), 0)) != RG_OK) return st;
    if (ck->best && (st = rg_comm_broadcast(pc, ck->best, P * sizeof(float), 0)) != RG_OK) return st;
    if (ck->extra_n && (st = rg_comm_broadcast(pc, ck->extra, W * (size_t)ck->extra_n * sizeof(float), 0)) != RG_OK)
        return st;
    return share_fed(pc, ck);
}

/* World rank 0: the log (appended to by a resumed run) and its first
 * events; the checkpoint writer. */
static rg_status open_outputs(rg_run *r, const char *ck_path)
{
    const rg_config *c = r->c;
    if (r->p->ck_dir) {
        rg_optimizer *o = NULL;   /* how many moment arenas: the optimizer knows */
        rg_status st = rg_optimizer_create(&r->p->opt, 1, &o);
        if (st == RG_OK)
            st = rg_writer_create(&r->writer, r->p->ck_dir, c, r->m, rg_optimizer_state_count(o), r->world,
                                  c->early_stop > 0);
        rg_optimizer_free(o);
        if (st != RG_OK) return st;
    }
    if (!c->log[0]) return RG_OK;
    r->log = fopen(c->log, r->ck ? "a" : "w");
    if (!r->log) return rg_error(RG_EIO, "--log %s: cannot open for writing", c->log);
    rg_log_run lr = { .c = c, .params = rg_model_param_count(r->m), .train_samples = rg_dataset_size(r->train),
                      .spec = rg_model_spec(r->m), .strategy = r->strategy->name, .workers = r->world,
                      .servers = r->p->servers,
                      .processes = rg_dist_size(), .m = r->m,
                      .rows = (c->batch + r->world - 1) / r->world,
                      /* the set early stopping and the val_* figures watch:
                       * "test" when it is the test set (it then helped pick the model) */
                      .validation = !r->val ? "none" : r->val == r->test ? "test" : "held-out" };
    rg_log_config(r->log, &lr);
    if (r->ck) rg_log_resume(r->log, ck_path, &r->ck->n);
    return RG_OK;
}

/* ------------------------------------------------------------ what rank 0 reports */

void rg_run_step_done(const rg_run *r, int epoch, uint64_t done, double loss, double fig, double seen)
{
    size_t total = rg_dataset_size(r->train);
    if (r->progress) r->progress(epoch, (size_t)done, total, loss, r->ud);
    if (!r->cb.step) return;
    int reg = rg_dataset_targets(r->train) != NULL;
    rg_step_stats s = { .epoch = epoch, .done = (size_t)done, .total = total, .loss = loss,
                        .acc = seen > 0.0 && !reg ? fig / seen : NAN, .mae = seen > 0.0 && reg ? fig / seen : NAN };
    r->cb.step(&s, r->cb.ud);
}

void rg_run_epoch_done(rg_run *r, const rg_epoch_stats *e, uint64_t skipped, int W, const double *per,
                       double compression, const double *staleness)
{
    FILE *log = rg_run_log(r);
    if (log) {
        rg_log_epoch(log, e, r->val != NULL, rg_model_classes(r->m) == 0, skipped, W, per, compression, staleness);
        rg_run_log_done(r);
    }
    if (r->cb.epoch) r->cb.epoch(e, r->cb.ud);
}

FILE *rg_run_log(rg_run *r)
{
    if (!r->log) return NULL;
    pthread_mutex_lock(&r->log_mu);
    if (!r->log_ended) return r->log;
    pthread_mutex_unlock(&r->log_mu);
    return NULL;
}

void rg_run_log_done(rg_run *r) { pthread_mutex_unlock(&r->log_mu); }

void rg_run_peer_skips(rg_run *r)
{
    uint64_t n[4];
    while (r->log && rg_dist_take(n, sizeof n) == sizeof n) {
        FILE *log = rg_run_log(r);
        if (!log) continue;
        rg_log_skip(log, n[0], (int)n[1], (int)(int64_t)n[2], n[3]);
        rg_run_log_done(r);
    }
}

/* The validation set's final figures are its own only when it is not the
 * test set (without --val-split the test set is watched). */
static int held_out(const rg_run *r) { return r->val && r->val != r->test; }

static void fig_put(const rg_eval_figures *f, double *loss, double *acc, double *mae, double *rmse)
{
    *loss = f->loss;
    *acc = f->acc;
    *mae = f->mae;
    *rmse = f->rmse;
}

rg_status rg_run_final_figures(const rg_run *r, rg_model *m, rg_comm *comm, rg_train_result *res)
{
    int skip = r->p->skip_nonfinite;
    uint64_t left = 0;
    rg_status st = RG_OK;
    rg_eval_figures f[3];
    /* the final model on its own training data (no dropout) too: the gap
     * to the test or validation figures */
    const rg_dataset *sets[3] = { r->test, held_out(r) ? r->val : NULL, r->train };
    for (int k = 0; k < 3 && st == RG_OK; k++)
        if (sets[k]) st = rg_eval_world_skip(m, comm, sets[k], skip, &f[k], &left);
    if (st != RG_OK) return st;
    if (r->test) fig_put(&f[0], &res->test_loss, &res->test_acc, &res->test_mae, &res->test_rmse);
    if (held_out(r)) fig_put(&f[1], &res->val_loss, &res->val_acc, &res->val_mae, &res->val_rmse);
    fig_put(&f[2], &res->train_loss, &res->train_acc, &res->train_mae, &res->train_rmse);
    res->left_out = left;
    return RG_OK;
}

/* A final figure that is not finite is a failure: the model's outputs
 * overflow a float on that set's samples (under --skip-nonfinite, on every
 * one of them, since the others were left out).  Every process holds the
 * same figures, so every one reaches the same verdict. */
static rg_status check_figures(const rg_run *r)
{
    const rg_train_result *x = &r->result;
    if (x->epochs_run == 0) return RG_OK;   /* this process only served (ps, easgd-async): no figures */
    /* the figure beside the loss: accuracy, or a regression's RMSE (which
     * overflows before the MAE does) */
    int reg = rg_model_classes(r->m) == 0;
    const struct { const char *role; const rg_dataset *ds; double loss, fig; } sets[] = {
        { "test", r->test, x->test_loss, reg ? x->test_rmse : x->test_acc },
        { "validation", held_out(r) ? r->val : NULL, x->val_loss, reg ? x->val_rmse : x->val_acc },
        { "training", r->train, x->train_loss, reg ? x->train_rmse : x->train_acc },
    };
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        if (!sets[i].ds || (isfinite(sets[i].loss) && isfinite(sets[i].fig))) continue;
        return rg_error(RG_ENONFINITE, "training ended with a model whose %s loss is %s: its outputs are not finite "
                        "on %s of %s (the %s set)%s; try a lower %s%s", sets[i].role,
                        isnan(sets[i].loss) ? "NaN" : "infinite", r->p->skip_nonfinite ? "every sample" : "some samples",
                        rg_dataset_name(sets[i].ds), sets[i].role, r->c->save[0] ? ", so --save wrote nothing" : "",
                        rg_plan_lower(r->p),
                        r->p->skip_nonfinite ? "" : ", or --skip-nonfinite to leave such samples out of the figures");
    }
    return RG_OK;
}

/* ------------------------------------------------------------ the workers */

typedef struct thread_arg {
    rg_run *r;
    int t;
} thread_arg;

static void *thread_main(void *arg)
{
    thread_arg *a = arg;
    a->r->status[a->t] = rg_run_worker(a->r, a->t);
    return NULL;
}

/* A worker of another process stopped on its own (worker.c, stop_result):
 * its abort's note, step, epoch and skipped steps, is the run's result and,
 * on rank 0, its log's end event, unless a worker here wrote one. */
static void peer_stopped(rg_run *r)
{
    uint64_t note[3];
    if (rg_dist_stop_note(note, sizeof note) != sizeof note || atomic_load(&r->stop_claimed)) return;
    rg_run_peer_skips(r);
    r->result.nonfinite_step = note[0];
    r->result.skipped = note[2];
    FILE *log = rg_run_log(r);
    if (!log) return;
    rg_log_stopped(log, note[0], (int)note[1], note[2]);
    r->log_ended = 1;
    rg_run_log_done(r);
}

/* Runs every worker thread of this process (thread 0 on this one); the
 * first real failure wins over the RG_ECOMM of the workers it woke, and a
 * non-finite stop claimed on a local step (worker.c) over another's. */
static rg_status run_workers(rg_run *r)
{
    pthread_t tids[RG_MAX_WORKERS];
    thread_arg args[RG_MAX_WORKERS];
    for (int t = 1; t < r->threads; t++) {
        args[t] = (thread_arg){ r, t };
        if (pthread_create(&tids[t], NULL, thread_main, &args[t]) != 0) {
            /* the threads already started would wait for this one for ever */
            rg_comm_abort(r->ranks[0], RG_ENOMEM, "cannot start a worker thread");
            for (int k = 1; k < t; k++) pthread_join(tids[k], NULL);
            return rg_error(RG_ENOMEM, "cannot start worker thread %d", t);
        }
    }
    r->status[0] = rg_run_worker(r, 0);
    for (int t = 1; t < r->threads; t++) pthread_join(tids[t], NULL);
    rg_status st = r->status[0];
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rg_last_error());
    for (int t = 0; t < r->threads && st == RG_ECOMM; t++)
        if (r->status[t] != RG_OK && r->status[t] != RG_ECOMM) st = r->status[t];
    /* workers that stopped on their own local steps: the one the log reports */
    if (st == RG_ENONFINITE && r->stop_msg[0]) snprintf(msg, sizeof msg, "%s", r->stop_msg);
    if (st == RG_ENONFINITE) peer_stopped(r);
    return rg_error(st, "%s", msg);
}

/* Everything up to the workers' start; every process passes the same
 * agreements. */
static rg_status set_up(rg_run *r, rg_plan *p, rg_run_state *ck, char *ck_path, size_t cap)
{
    int found = 0;
    rg_status st = prepare(r, p);
    if (st == RG_OK) st = rg_class_weights(r->c, r->train, r->m, &r->class_weight);
    if (st == RG_OK && rg_dist_rank() == 0) st = outputs(r, ck, &found, ck_path, cap);
    /* a process that left now would leave the others waiting in their
     * first collective: all agree before going on */
    if ((st = rg_dist_agree(st)) != RG_OK) return st;
    if (r->c->resume[0] && rg_dist_process() && rg_dist_size() > 1 && (st = share_resume(r->m, ck, &found)) != RG_OK)
        return st;
    if (found) r->ck = ck;
    st = rg_dist_workers(r->threads, &p->link, r->ranks, &r->paced);
    if (st == RG_OK && rg_dist_rank() == 0) st = open_outputs(r, ck_path);
    /* a failure making the communicators or opening the log stops every
     * process alike */
    return rg_dist_agree(st);
}

static void tear_down(rg_run *r)
{
    rg_writer_free(r->writer);
    if (r->log) fclose(r->log);
    if (r->ranks)
        for (int t = 0; t < r->threads; t++) rg_comm_free(r->ranks[t]);
    rg_comm_free(r->paced);
    rg_free(r->ranks);
    rg_free(r->share);
    rg_free(r->lambda0);
    rg_free(r->class_weight);
    rg_schedule_free(&r->sched);
    rg_partition_free(&r->parts);
}

static rg_status train_run(const rg_config *c, rg_model *m, const rg_dataset *train, const rg_dataset *val,
                           const rg_dataset *test, rg_progress_fn progress, void *ud, const rg_callbacks *cb,
                           rg_train_result *res)
{
    rg_train_result r0 = { .test_loss = NAN, .test_acc = NAN, .train_loss = NAN, .train_acc = NAN, .val_loss = NAN,
                           .val_acc = NAN, .test_mae = NAN, .test_rmse = NAN, .val_mae = NAN, .val_rmse = NAN,
                           .train_mae = NAN, .train_rmse = NAN };
    if (res) *res = r0;
    rg_plan p;
    /* every exit before the workers start goes through an agreement, the
     * first collective of every process (rg_dist_agree too) */
    rg_status st = rg_config_validate(c);
    if (st == RG_OK) st = rg_plan_resolve(c, &p, NULL);
    if (st == RG_OK) rg_dist_set_timeout(c->comm_timeout);
    if (st == RG_OK && p.loss >= 0) st = rg_model_set_loss(m, (rg_loss)p.loss);
    if (st == RG_OK) st = check_dataset(m, train, "training");
    if (st == RG_OK) st = check_dataset(m, val, "validation");
    if (st == RG_OK) st = check_dataset(m, test, "test");
    if (st != RG_OK) return rg_dist_agree(st);

    rg_run *r = rg_calloc(1, sizeof *r);
    if (!r) return rg_dist_agree(rg_error(RG_ENOMEM, "out of memory"));
    *r = (rg_run){ .p = &p, .c = c, .m = m, .train = train, .val = val, .test = test, .progress = progress, .ud = ud,
                   .threads = c->workers, .world = c->workers * rg_dist_size() - serving_ranks(&p, c->workers), .result = r0 };
    if (cb) r->cb = *cb;
    if (pthread_mutex_init(&r->log_mu, NULL) != 0) {
        rg_free(r);
        return rg_dist_agree(rg_error(RG_ENOMEM, "out of memory (a mutex)"));
    }
    rg_run_state ck;
    memset(&ck, 0, sizeof ck);
    char ck_path[4200] = "";
    /* --deterministic: the fixed-order products, the same bits on every CPU;
     * else --gemm's kernels (validated: LIBXSMM only when built in) */
    rg_gemm gemm_before = rg_sgemm_choice();
    rg_sgemm_set_fixed(p.deterministic);
    rg_sgemm_set_choice(p.gemm);
    st = set_up(r, &p, &ck, ck_path, sizeof ck_path);
    if (st == RG_OK) st = run_workers(r);
    const char *stopped = NULL;   /* why a run that trained to its end failed there */
    if (st == RG_OK && (st = check_figures(r)) != RG_OK) stopped = "nonfinite_outputs";
    if (st == RG_OK && c->save[0] && rg_dist_rank() == 0) st = rg_save_serviced(m, c->save);
    if (r->log) {   /* the skips of other processes' workers, still on their way */
        rg_dist_service();
        rg_run_peer_skips(r);
    }
    if ((st == RG_OK || stopped) && r->log) rg_log_end(r->log, &r->result, test != NULL, held_out(r), rg_model_classes(r->m) == 0, stopped);
    if (r->log && fflush(r->log) != 0 && st == RG_OK) st = rg_error(RG_EIO, "--log %s: write failed", c->log);
    if (res && (st == RG_OK || st == RG_ENONFINITE)) *res = r->result;
    tear_down(r);
    rg_sgemm_set_fixed(0);
    rg_sgemm_set_choice(gemm_before);
    rg_state_free(&ck);
    pthread_mutex_destroy(&r->log_mu);
    rg_free(r);
    return st;
}

rg_status rg_train(const rg_config *c, rg_model *m, const rg_dataset *train, const rg_dataset *val,
                   const rg_dataset *test, rg_progress_fn progress, void *ud, rg_train_result *res)
{
    return train_run(c, m, train, val, test, progress, ud, NULL, res);
}

rg_status rg_train_cb(const rg_config *c, rg_model *m, const rg_dataset *train, const rg_dataset *val,
                      const rg_dataset *test, const rg_callbacks *cb, rg_train_result *res)
{
    return train_run(c, m, train, val, test, NULL, NULL, cb, res);
}
