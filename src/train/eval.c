/*
 * eval.c — evaluation and prediction: a model's figures on a labelled set
 * (loss, and accuracy or, for a regression loss, MAE and RMSE: one set of
 * sums, the loss choosing which figures they give), the class of each
 * sample and its probabilities (or its output), and the evaluation a
 * training run makes on all its workers.
 *
 * Invariant: a figure never depends on how many workers computed it.  The
 * set is cut into chunks fixed by the data alone, and the chunks' sums are
 * added in chunk order (a worker takes a run of whole chunks).
 */
#include "core/core.h"
#include "comm/comm.h"
#include "data/data.h"
#include "nn/model.h"
#include "train/train.h"
#include <math.h>
#include <string.h>

/* What an evaluation adds up over its rows: the data losses, the correct
 * predictions (classification) or the absolute and squared errors of the
 * output (regression), and the rows left out. */
typedef struct sums {
    double loss, correct, abs, sq;
    size_t left;
} sums;

/* A batch's rows [0, nb) into a: its loss sum l and correct count c, and
 * with targets t its outputs' errors (z: the outputs, one per row). */
static void add_rows(sums *a, double l, size_t c, const float *z, const float *t, size_t nb)
{
    a->loss += l;
    a->correct += (double)c;
    for (size_t i = 0; t && i < nb; i++) {
        double e = (double)z[i] - (double)t[i];
        a->abs += fabs(e);
        a->sq += e * e;
    }
}

/* A batch with a row whose outputs are not finite, row by row: the sums of
 * the rows that are, and a count of those left out (--skip-nonfinite's
 * final figures). */
static rg_status skip_rows(rg_model *m, const float *x, const int32_t *y, const float *t, size_t nb,
                           float *probs, sums *a)
{
    size_t d = rg_model_inputs(m), k = rg_model_outputs(m);
    for (size_t i = 0; i < nb; i++) {
        double l = 0.0;
        size_t c = 0;
        rg_pass pass = { .training = 0, .grad_scale = 1.0f, .targets = t ? t + i : NULL };
        rg_status st = rg_model_forward_backward(m, x + i * d, y ? y + i : NULL, 1, &pass, 0, &l, &c, probs);
        if (st != RG_OK) return st;
        if (!isfinite(l) || !rg_all_finite(probs, k)) {
            a->left++;
            continue;
        }
        add_rows(a, l, c, probs, t ? t + i : NULL, 1);
    }
    return RG_OK;
}

/* The first row of a batch whose outputs are not finite, as an error. */
static rg_status not_finite(const float *probs, size_t k, size_t first)
{
    size_t i = 0;
    while (rg_all_finite(probs + i * k, k)) i++;
    return rg_error(RG_ENONFINITE, "sample %zu: the model's outputs are not finite (NaN or infinite): "
                    "its input or the model's weights overflow a float", first + i);
}

/* How a row whose outputs are not finite (NaN or Inf) is taken: neither a
 * loss nor a class can be read from it. */
typedef enum { ROW_FLOWS, ROW_FAILS, ROW_LEFT_OUT } row_policy;

/* What a prediction writes, for rows [0, n) of the set: the argmax class
 * of each row and its probabilities (n x outputs; regression: the
 * outputs), each when not NULL. */
typedef struct predicted {
    int32_t *classes;
    float *proba;
} predicted;

/* A batch's predictions (probs: its nb rows' outputs) into out, from row s. */
static void put_predictions(const predicted *out, const float *probs, size_t s, size_t nb, size_t k, int bce)
{
    if (out->proba && !bce) memcpy(out->proba + s * k, probs, nb * k * sizeof *probs);
    if (out->proba && bce)   /* two classes from one output */
        for (size_t i = 0; i < nb; i++) {
            out->proba[2 * (s + i)] = 1.0f - probs[i];
            out->proba[2 * (s + i) + 1] = probs[i];
        }
    if (out->classes)
        for (size_t i = 0; i < nb; i++) {
            const float *p = probs + i * k;
            size_t arg = 0;   /* the first of equal ones */
            for (size_t j = 1; j < k; j++) if (p[j] > p[arg]) arg = j;
            if (bce) arg = p[0] > 0.5f;   /* the probability of class 1 */
            out->classes[s + i] = (int32_t)arg;
        }
}

/* The sums of rows [lo, hi) into *a; or, with out != NULL, the
 * predictions of each row.  A row whose outputs are not finite is an
 * error naming it (ROW_FAILS), is left out and counted (ROW_LEFT_OUT), or
 * lets its NaN flow into the loss (ROW_FLOWS: a training run's validation
 * figures say so). */
static rg_status eval_range(rg_model *m, const rg_dataset *ds, size_t lo, size_t hi, size_t batch, row_policy policy,
                            sums *a, const predicted *out)
{
    size_t d = rg_dataset_features(ds), k = rg_model_outputs(m);
    if (d != rg_model_inputs(m))
        return rg_error(RG_EDATA, "%s has %zu features per sample but the model takes %zu",
                        rg_dataset_name(ds), d, rg_model_inputs(m));
    int regression = rg_model_classes(m) == 0;
    const int32_t *y = out || regression ? NULL : rg_dataset_y(ds);
    const float *t = out || !regression ? NULL : rg_dataset_targets(ds);
    if (!out && !y && !t)
        return rg_error(RG_EDATA, "%s has no %s to evaluate against", rg_dataset_name(ds),
                        regression ? "numeric targets" : "labels");
    if (batch == 0) batch = 256;
    /* a batch's rows as floats, when the set holds bytes (else read in place) */
    int bytes = rg_dataset_feature_bytes(ds) < sizeof(float);
    float *rows = bytes ? rg_malloc(batch * d * sizeof(float)) : NULL;
    float *probs = rg_malloc(batch * k * sizeof(float));
    if (!probs || (bytes && !rows)) {
        rg_free(rows);
        rg_free(probs);
        return rg_error(RG_ENOMEM, "out of memory: outputs of a batch of %zu", batch);
    }
    /* the weights stay as they are: the layers the rule holds read their
     * kernels transposed, copied once for the whole range (unless the
     * caller holds the model already) */
    int hold = !m->held;
    rg_status st = hold ? rg_model_hold(m, 1, batch) : RG_OK;
    memset(a, 0, sizeof *a);
    for (size_t s = lo; s < hi && st == RG_OK; s += batch) {
        size_t nb = hi - s < batch ? hi - s : batch, c = 0;
        double l = 0.0;
        const float *x = rg_dataset_rows_at(ds, s, nb, rows);
        rg_pass pass = { .training = 0, .grad_scale = 1.0f, .targets = t ? t + s : NULL };
        st = rg_model_forward_backward(m, x, y ? y + s : NULL, nb, &pass, 0, &l, &c, probs);
        if (st == RG_OK && policy != ROW_FLOWS && !rg_all_finite(probs, nb * k)) {
            if (policy == ROW_FAILS) st = not_finite(probs, k, s);
            else st = skip_rows(m, x, y ? y + s : NULL, t ? t + s : NULL, nb, probs, a);
            continue;
        }
        if (st == RG_OK) add_rows(a, l, c, probs, t ? t + s : NULL, nb);
        if (st == RG_OK && out) put_predictions(out, probs, s, nb, k, rg_model_loss(m) == RG_LOSS_BCE);
    }
    if (hold) rg_model_hold(m, 0, 0);
    rg_free(probs);
    rg_free(rows);
    /* the sample and a label out of range are the data's; out of memory is
     * the model's (its workspace), whatever set it was evaluating */
    if (st == RG_EDATA || st == RG_ENONFINITE) return rg_error_prefix(st, "%s: ", rg_dataset_name(ds));
    return st;
}

/* The figures of the sums over `counted` rows: the loss and, by m's
 * loss, accuracy or MAE and RMSE (NaN where there is no such figure). */
static void figures_of(const rg_model *m, const sums *a, double counted, double penalty, rg_eval_figures *f)
{
    int regression = rg_model_classes(m) == 0, any = counted > 0;
    f->loss = any ? a->loss / counted + penalty : NAN;
    f->acc = any && !regression ? a->correct / counted : NAN;
    f->mae = any && regression ? a->abs / counted : NAN;
    f->rmse = any && regression ? sqrt(a->sq / counted) : NAN;
}

rg_status rg_evaluate_figures(rg_model *m, const rg_dataset *ds, size_t batch, rg_eval_figures *f)
{
    sums a;
    rg_status st = eval_range(m, ds, 0, rg_dataset_size(ds), batch, ROW_FAILS, &a, NULL);
    if (st == RG_OK) figures_of(m, &a, (double)rg_dataset_size(ds), rg_model_penalty(m, 1.0f, NULL), f);
    return st;
}

rg_status rg_evaluate(rg_model *m, const rg_dataset *ds, size_t batch, double *loss, double *acc)
{
    rg_eval_figures f;
    rg_status st = rg_evaluate_figures(m, ds, batch, &f);
    if (st != RG_OK) return st;
    if (loss) *loss = f.loss;
    if (acc) *acc = f.acc;
    return RG_OK;
}

rg_status rg_predict(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes)
{
    sums a;
    predicted out = { classes, NULL };
    return eval_range(m, ds, 0, rg_dataset_size(ds), batch, ROW_FAILS, &a, &out);
}

rg_status rg_predict_proba(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes, float *proba)
{
    sums a;
    predicted out = { classes, proba };
    return eval_range(m, ds, 0, rg_dataset_size(ds), batch, ROW_FAILS, &a, &out);
}

/* Distributed evaluation: the set is cut into chunks of EVAL_CHUNK rows
 * fixed by the data alone; every worker evaluates a run of whole chunks,
 * and the chunks' sums are added in chunk order.  So every figure is the
 * same bits for any worker count (--deterministic promises it; it costs
 * nothing elsewhere).  Every worker gets the same totals.  Returns mean
 * loss + penalty and accuracy over the samples counted. */
#define EVAL_CHUNK 1024
enum { CH_LOSS, CH_RIGHT, CH_ABS, CH_SQ, CH_LEFT, CH_N };   /* per chunk: loss sum, correct, errors, left out */
rg_status rg_eval_world_skip(rg_model *m, rg_comm *comm, const rg_dataset *ds, int skip, rg_eval_figures *f,
                             uint64_t *left_out)
{
    int g = rg_comm_rank(comm), W = rg_comm_size(comm);
    size_t n = rg_dataset_size(ds), C = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    size_t c_lo = C * (size_t)g / (size_t)W, c_hi = C * (size_t)(g + 1) / (size_t)W;
    double *ch = rg_calloc(CH_N * (C ? C : 1), sizeof *ch);
    if (!ch) return rg_error(RG_ENOMEM, "out of memory evaluating %s", rg_dataset_name(ds));
    rg_status st = RG_OK;
    for (size_t k = c_lo; k < c_hi && st == RG_OK; k++) {
        size_t lo = k * EVAL_CHUNK, hi = lo + EVAL_CHUNK < n ? lo + EVAL_CHUNK : n;
        sums a;
        st = eval_range(m, ds, lo, hi, EVAL_CHUNK, skip ? ROW_LEFT_OUT : ROW_FLOWS, &a, NULL);
        double v[CH_N] = { a.loss, a.correct, a.abs, a.sq, (double)a.left };
        memcpy(ch + CH_N * k, v, sizeof v);
    }
    /* read the weights before the collective: after it, a peer sharing them
     * may already be writing (restoring the best ones) */
    double penalty = rg_model_penalty(m, 1.0f, NULL);
    /* one contributor per chunk, zeros elsewhere: the sum is exact */
    if (st == RG_OK && W > 1) st = rg_comm_allreduce_f64(comm, ch, CH_N * C, RG_REDUCE_SUM);
    sums all = { 0 };
    double left = 0.0;
    for (size_t k = 0; k < C; k++) {
        all.loss += ch[CH_N * k + CH_LOSS];
        all.correct += ch[CH_N * k + CH_RIGHT];
        all.abs += ch[CH_N * k + CH_ABS];
        all.sq += ch[CH_N * k + CH_SQ];
        left += ch[CH_N * k + CH_LEFT];
    }
    rg_free(ch);
    /* 1024 rows at a time, whatever --batch says: say so */
    if (st == RG_ENOMEM) return rg_error_prefix(st, "evaluating in chunks of %d samples: ", EVAL_CHUNK);
    if (st != RG_OK) return st;
    figures_of(m, &all, (double)n - left, penalty, f);
    if (left_out) *left_out += (uint64_t)left;
    return RG_OK;
}

rg_status rg_eval_world(rg_model *m, rg_comm *comm, const rg_dataset *ds, rg_eval_figures *f)
{
    return rg_eval_world_skip(m, comm, ds, 0, f, NULL);
}
