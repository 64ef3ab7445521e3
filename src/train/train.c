/*
 * train.c — the trainer loop, evaluation and prediction.
 *
 * One step: gather the batch by sample id → forward/backward (data loss,
 * gradient of its batch mean) → exchange through the communicator → global
 * penalty gradient (never communicated) → clip → optimizer → constraints.
 * The loss reported is data loss + penalty, as Keras reports it.
 *
 * Invariants: the training order of epoch e is a pure function of
 * (seed, e); a dropout mask of (step, sample id); so a run is reproducible
 * bit for bit from its configuration.  Outputs (log, checkpoint) are opened
 * only after every input has been checked, and the checkpoint is written
 * atomically at the end.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "nn/model.h"
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- JSON lines */

typedef struct { FILE *f; } jlog;

static void jnum(FILE *f, const char *key, double v)
{
    if (isfinite(v)) fprintf(f, ",\"%s\":%.9g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

/* ------------------------------------------------------------ helpers */

/* The epoch's sample order: Fisher–Yates driven by (seed, SHUFFLE, epoch, i). */
static void epoch_order(uint64_t *order, size_t n, uint64_t seed, int epoch, int shuffle)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    for (size_t i = n - 1; i > 0; i--) {
        uint32_t r[4];
        rg_rng4(seed, RG_RNG_SHUFFLE, (uint64_t)epoch, i, r);
        uint64_t x = ((uint64_t)r[0] << 32) | r[1];
        size_t j = (size_t)(x % (uint64_t)(i + 1));
        uint64_t t = order[i]; order[i] = order[j]; order[j] = t;
    }
}

static double lr_at(const rg_config *c, uint64_t step, int epoch0, uint64_t total_steps)
{
    double lr = c->lr;
    if (c->warmup > 0 && step < (uint64_t)c->warmup)
        return lr * (double)(step + 1) / (double)c->warmup;
    if (!strcmp(c->lr_schedule, "step")) {
        long k = c->lr_step_epochs > 0 ? epoch0 / c->lr_step_epochs : 0;
        return lr * pow(c->lr_gamma, (double)k);
    }
    if (!strcmp(c->lr_schedule, "cosine")) {
        uint64_t w = (uint64_t)(c->warmup > 0 ? c->warmup : 0);
        double span = total_steps > w ? (double)(total_steps - w) : 1.0;
        double pos = (double)(step - w) / span;
        if (pos > 1.0) pos = 1.0;
        return c->lr_min + (lr - c->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * pos));
    }
    return lr;
}

static rg_status check_dataset(const rg_model *m, const rg_dataset *ds, const char *role)
{
    if (!ds) return RG_OK;
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s (%s set) has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), role, rg_dataset_features(ds), rg_model_inputs(m));
    if (!rg_dataset_y(ds))
        return rg_error(RG_EDATA, "%s (%s set) has no labels", rg_dataset_name(ds), role);
    if ((size_t)rg_dataset_classes(ds) > rg_model_outputs(m))
        return rg_error(RG_EDATA, "%s (%s set): labels go up to %d but the model has %zu outputs",
                        rg_dataset_name(ds), role, rg_dataset_classes(ds) - 1, rg_model_outputs(m));
    return RG_OK;
}

static rg_status opt_config(const rg_config *c, rg_opt_config *oc)
{
    memset(oc, 0, sizeof *oc);
    if (!strcmp(c->optimizer, "sgd")) oc->kind = RG_OPT_SGD;
    else if (!strcmp(c->optimizer, "adam")) oc->kind = RG_OPT_ADAM;
    else if (!strcmp(c->optimizer, "adamw")) oc->kind = RG_OPT_ADAMW;
    else return rg_error(RG_EUSAGE, "--optimizer: unknown value '%s' (expected sgd, adam or adamw)", c->optimizer);
    oc->momentum = (float)c->momentum;
    oc->nesterov = c->nesterov;
    oc->beta1 = (float)c->beta1;
    oc->beta2 = (float)c->beta2;
    oc->eps = (float)c->eps;
    oc->weight_decay = (float)c->weight_decay;
    if (oc->nesterov && oc->momentum == 0.0f)
        return rg_error(RG_EUSAGE, "--nesterov needs --momentum > 0");
    return RG_OK;
}

/* ------------------------------------------------------------ evaluation */

static rg_status eval_pass(rg_model *m, const rg_dataset *ds, size_t batch, double *loss, double *acc, int32_t *classes)
{
    size_t n = rg_dataset_size(ds), d = rg_dataset_features(ds), k = rg_model_outputs(m);
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), d, rg_model_inputs(m));
    const float *x = rg_dataset_x(ds);
    const int32_t *y = classes ? NULL : rg_dataset_y(ds);
    if (!classes && !y) return rg_error(RG_EDATA, "%s has no labels to evaluate against", rg_dataset_name(ds));
    if (batch == 0) batch = 256;
    float *probs = classes ? rg_malloc(batch * k * sizeof(float)) : NULL;
    if (classes && !probs) return rg_error(RG_ENOMEM, "out of memory");
    rg_pass pass = { .seed = 0, .step = 0, .sample_ids = NULL, .training = 0, .label_smoothing = 0.0f, .grad_scale = 1.0f };
    double total = 0.0;
    size_t correct = 0;
    rg_status st = RG_OK;
    for (size_t s = 0; s < n; s += batch) {
        size_t nb = n - s < batch ? n - s : batch;
        double l = 0.0;
        st = rg_model_forward_backward(m, x + s * d, y ? y + s : NULL, nb, &pass, 0, &l, &correct, probs);
        if (st != RG_OK) break;
        total += l;
        if (classes)
            for (size_t i = 0; i < nb; i++) {
                const float *p = probs + i * k;
                size_t arg = 0;
                for (size_t j = 1; j < k; j++) if (p[j] > p[arg]) arg = j;
                classes[s + i] = (int32_t)arg;
            }
    }
    rg_free(probs);
    if (st != RG_OK) return rg_error_prefix(st, "%s: ", rg_dataset_name(ds));
    if (loss) *loss = n ? total / (double)n + rg_model_penalty(m, 1.0f, NULL) : NAN;
    if (acc) *acc = n ? (double)correct / (double)n : NAN;
    return RG_OK;
}

rg_status rg_evaluate(rg_model *m, const rg_dataset *ds, size_t batch, double *loss, double *acc)
{
    return eval_pass(m, ds, batch, loss, acc, NULL);
}

rg_status rg_predict(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes)
{
    return eval_pass(m, ds, batch, NULL, NULL, classes);
}

/* -------------------------------------------------------------- training */

typedef struct {
    rg_optimizer *opt;
    rg_comm *comm;
    uint64_t *order, *ids;
    float *xb, *best;
    int32_t *yb;
    FILE *log;
} train_state;

static void state_free(train_state *s)
{
    rg_optimizer_free(s->opt);
    rg_comm_free(s->comm);
    rg_free(s->order);
    rg_free(s->ids);
    rg_free(s->xb);
    rg_free(s->yb);
    rg_free(s->best);
    if (s->log) fclose(s->log);
}

static int improved(const rg_config *c, double v, double best)
{
    if (!isfinite(v)) return 0;
    if (!isfinite(best)) return 1;
    if (!strcmp(c->monitor, "val_acc")) return v > best + c->min_delta;
    return v < best - c->min_delta;
}

rg_status rg_train(const rg_config *c, rg_model *m, const rg_dataset *train,
                   const rg_dataset *val, const rg_dataset *test,
                   rg_progress_fn progress, void *ud, rg_train_result *res)
{
    rg_train_result r = { .test_loss = NAN, .test_acc = NAN, .best_epoch = 0 };
    if (res) *res = r;
    rg_status st = rg_config_validate(c);
    if (st != RG_OK) return st;
    if ((st = check_dataset(m, train, "training")) != RG_OK) return st;
    if ((st = check_dataset(m, val, "validation")) != RG_OK) return st;
    if ((st = check_dataset(m, test, "test")) != RG_OK) return st;
    size_t N = rg_dataset_size(train), d = rg_dataset_features(train), P = rg_model_param_count(m);
    if (N == 0) return rg_error(RG_EDATA, "%s: no training samples", rg_dataset_name(train));
    if (c->early_stop > 0 && !val)
        return rg_error(RG_EUSAGE, "--early-stop needs a validation set (--val-split, or a test set to validate on)");
    rg_opt_config oc;
    if ((st = opt_config(c, &oc)) != RG_OK) return st;
    size_t B = (size_t)c->batch;
    if (B > N) B = N;
    rg_blas_set_threads(c->threads);

    train_state s = {0};
    if ((st = rg_optimizer_create(&oc, P, &s.opt)) != RG_OK) goto done;
    if ((st = rg_comm_self(&s.comm)) != RG_OK) goto done;
    s.order = rg_calloc(N, sizeof *s.order);
    s.ids = rg_calloc(B, sizeof *s.ids);
    s.xb = rg_calloc(B * d, sizeof *s.xb);
    s.yb = rg_calloc(B, sizeof *s.yb);
    s.best = c->early_stop > 0 ? rg_calloc(P, sizeof *s.best) : NULL;
    if (!s.order || !s.ids || !s.xb || !s.yb || (c->early_stop > 0 && !s.best)) {
        st = rg_error(RG_ENOMEM, "out of memory setting up training");
        goto done;
    }
    if (c->log[0]) {
        s.log = fopen(c->log, "w");
        if (!s.log) { st = rg_error(RG_EIO, "--log %s: cannot open for writing", c->log); goto done; }
        char *cj = rg_config_json(c);
        fprintf(s.log, "{\"event\":\"config\",\"version\":\"%s\",\"config_hash\":\"%016llx\",\"params\":%zu,"
                "\"model\":\"%s\",\"blas\":\"%s\",\"train_samples\":%zu,\"config\":%s}\n",
                RG_VERSION, (unsigned long long)rg_config_hash(c), P, rg_model_spec(m), rg_blas_name(), N,
                cj ? cj : "null");
        free(cj);
        fflush(s.log);
    }

    const float *X = rg_dataset_x(train);
    const int32_t *Y = rg_dataset_y(train);
    float *params = rg_model_params(m), *grads = rg_model_grads(m);
    uint64_t steps_per_epoch = (N + B - 1) / B, step = 0;
    uint64_t total_steps = steps_per_epoch * (uint64_t)c->epochs;
    double best_metric = NAN;
    long wait = 0;

    for (int epoch = 0; epoch < c->epochs; epoch++) {
        double t0 = rg_now();
        epoch_order(s.order, N, c->seed, epoch, c->shuffle);
        double loss_sum = 0.0, reg_sum = 0.0, lr = c->lr;
        size_t correct = 0;
        for (size_t b0 = 0; b0 < N; b0 += B, step++) {
            size_t nb = N - b0 < B ? N - b0 : B;
            for (size_t i = 0; i < nb; i++) {
                uint64_t id = s.order[b0 + i];
                s.ids[i] = id;
                memcpy(s.xb + i * d, X + id * d, d * sizeof(float));
                s.yb[i] = Y[id];
            }
            rg_pass pass = { .seed = c->seed, .step = step, .sample_ids = s.ids, .training = 1,
                             .label_smoothing = (float)c->label_smoothing, .grad_scale = 1.0f / (float)nb };
            /* Regularization scope: a penalty that is local to the worker
             * starts its gradient; a global one is added once after the
             * exchange and never communicated.  In a world of one they are
             * the same sum, so the single pass wins. */
            int local = rg_comm_size(s.comm) == 1;
            double reg = local ? rg_model_start_grad(m, 1.0f) : (rg_model_zero_grad(m), 0.0);
            double data_loss = 0.0;
            if ((st = rg_model_forward_backward(m, s.xb, s.yb, nb, &pass, 1, &data_loss, &correct, NULL)) != RG_OK) {
                rg_error_prefix(st, "%s: ", rg_dataset_name(train));
                goto done;
            }
            if ((st = rg_comm_allreduce(s.comm, grads, P, RG_REDUCE_SUM)) != RG_OK) goto done;
            if (!local) reg = rg_model_penalty(m, 1.0f, grads);
            double batch_loss = data_loss / (double)nb + reg;
            if (!isfinite(batch_loss)) {
                r.nonfinite_step = step;
                st = rg_error(RG_ENONFINITE, "training stopped: non-finite loss at step %llu (epoch %d, worker 0); "
                              "try a lower --lr or --clip-norm",
                              (unsigned long long)step, epoch + 1);
                if (s.log) fprintf(s.log, "{\"event\":\"end\",\"stopped\":\"nonfinite\",\"step\":%llu,\"epoch\":%d}\n",
                                   (unsigned long long)step, epoch + 1);
                goto done;
            }
            if (c->clip_norm > 0.0) rg_clip_global_norm(grads, P, c->clip_norm);
            lr = lr_at(c, step, epoch, total_steps);
            rg_optimizer_step(s.opt, params, grads, (float)lr);
            rg_model_apply_constraints(m);
            loss_sum += batch_loss * (double)nb;
            reg_sum += reg * (double)nb;
            if (s.log && c->log_every > 0 && (step + 1) % (uint64_t)c->log_every == 0)
                fprintf(s.log, "{\"event\":\"step\",\"step\":%llu,\"epoch\":%d,\"loss\":%.9g,\"lr\":%.9g}\n",
                        (unsigned long long)(step + 1), epoch + 1, batch_loss, lr);
            if (progress) progress(epoch + 1, b0 + nb, N, loss_sum / (double)(b0 + nb), ud);
        }
        double secs = rg_now() - t0;
        rg_epoch_stats e = { .epoch = epoch + 1, .loss = loss_sum / (double)N, .reg_loss = reg_sum / (double)N,
                             .acc = (double)correct / (double)N, .val_loss = NAN, .val_acc = NAN,
                             .samples_per_s = (double)N / secs, .seconds = secs, .lr = lr };
        if (val && (st = rg_evaluate(m, val, 1024, &e.val_loss, &e.val_acc)) != RG_OK) goto done;
        r.epochs_run = epoch + 1;
        r.steps = step;
        if (s.log) {
            fprintf(s.log, "{\"event\":\"epoch\",\"epoch\":%d", e.epoch);
            jnum(s.log, "loss", e.loss);
            jnum(s.log, "reg_loss", e.reg_loss);
            jnum(s.log, "acc", e.acc);
            jnum(s.log, "val_loss", e.val_loss);
            jnum(s.log, "val_acc", e.val_acc);
            jnum(s.log, "samples_per_s", e.samples_per_s);
            jnum(s.log, "seconds", e.seconds);
            jnum(s.log, "lr", e.lr);
            fprintf(s.log, ",\"workers\":1}\n");
            fflush(s.log);
        }
        if (c->early_stop > 0) {
            double v = !strcmp(c->monitor, "val_acc") ? e.val_acc : e.val_loss;
            if (improved(c, v, best_metric)) {
                best_metric = v;
                r.best_epoch = e.epoch;
                memcpy(s.best, params, P * sizeof(float));
                wait = 0;
            } else if (++wait >= c->early_stop) {
                r.stopped_early = 1;
                break;
            }
        }
    }
    if (c->early_stop > 0 && c->restore_best && r.best_epoch > 0 && r.best_epoch != r.epochs_run)
        memcpy(params, s.best, P * sizeof(float));
    if (c->early_stop == 0) r.best_epoch = r.epochs_run;
    if (test && (st = rg_evaluate(m, test, 1024, &r.test_loss, &r.test_acc)) != RG_OK) goto done;
    if (c->save[0] && (st = rg_model_save(m, c->save)) != RG_OK) goto done;
    if (s.log) {
        fprintf(s.log, "{\"event\":\"end\"");
        jnum(s.log, "test_loss", r.test_loss);
        jnum(s.log, "test_acc", r.test_acc);
        fprintf(s.log, ",\"epochs_run\":%d,\"stopped_early\":%s,\"best_epoch\":%d,\"steps\":%llu}\n", r.epochs_run,
                r.stopped_early ? "true" : "false", r.best_epoch, (unsigned long long)r.steps);
    }
done:
    if (s.log && fflush(s.log) != 0 && st == RG_OK) st = rg_error(RG_EIO, "--log %s: write failed", c->log);
    state_free(&s);
    if (res) *res = r;
    return st;
}
