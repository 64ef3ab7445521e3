/* The trainer end to end: the reference model learns Fashion-MNIST on a
 * subset, runs are reproducible bit for bit, dropout masks follow the sample
 * id, early stopping stops and restores the best weights, a diverging run
 * stops with RG_ENONFINITE and writes no checkpoint, schedules give the
 * documented learning rates, and max-norm holds. */
#include "support.h"
#include "regula.h"
#include "nn/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Three Gaussian blobs in 6 dimensions; noise > 0 flips that share of labels. */
static rg_dataset *blobs(size_t n, uint64_t seed, double noise)
{
    float *x = malloc(n * 6 * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        for (int j = 0; j < 6; j++)
            x[i * 6 + j] = (j == c ? 1.5f : 0.0f) + (rg_rng_uniform(seed, RG_RNG_USER, i, (uint64_t)j) - 0.5f) * 2.0f;
        y[i] = c;
        if (rg_rng_uniform(seed, RG_RNG_USER + 1, i, 0) < noise) y[i] = (int32_t)((c + 1) % 3);
    }
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, y, n, 6, &ds), RG_OK);
    free(x);
    free(y);
    return ds;
}

static void config(rg_config *c, const char *model)
{
    rg_config_defaults(c);
    assert_int_equal(rg_config_set(c, "model", model), RG_OK);
    assert_int_equal(rg_config_set(c, "log-every", "0"), RG_OK);
}

static rg_model *model_for(const rg_config *c, size_t d)
{
    rg_model *m;
    if (rg_model_create(c->model, d, c->seed, &m) != RG_OK) fail_msg("%s", rg_last_error());
    return m;
}

static void test_reference_model_learns_fashion_mnist(void **state)
{
    const char *dir = getenv("REGULA_FASHION_MNIST_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir ? dir : "/usr/share/datasets/fashion-mnist");
    if (!rgt_exists(path)) skip();
    rg_dataset *full, *test_full, *train, *test;
    assert_int_equal(rg_dataset_open("fashion-mnist", "train", &(rg_data_opts){0}, &full), RG_OK);
    assert_int_equal(rg_dataset_open("fashion-mnist", "test", &(rg_data_opts){0}, &test_full), RG_OK);
    assert_int_equal(rg_dataset_slice(full, 0, 12000, &train), RG_OK);
    assert_int_equal(rg_dataset_slice(test_full, 0, 2000, &test), RG_OK);
    rg_dataset_free(full);
    rg_dataset_free(test_full);
    rg_config c;
    config(&c, "dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)");
    assert_int_equal(rg_config_set(&c, "epochs", "3"), RG_OK);
    rg_model *m = model_for(&c, 784);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, train, NULL, test, NULL, NULL, &r), RG_OK);
    /* the full run reaches about 0.78-0.80; a fifth of the data for 3 epochs
     * reaches about 0.75; chance is 0.10 */
    print_message("fashion-mnist subset: test_acc %.4f test_loss %.4f\n", r.test_acc, r.test_loss);
    assert_true(r.test_acc > 0.70);
    assert_true(r.test_loss < 1.2);
    assert_int_equal(r.epochs_run, 3);
    rg_model_free(m);
    rg_dataset_free(train);
    rg_dataset_free(test);
}

static void test_runs_are_reproducible(void **state)
{
    rg_dataset *ds = blobs(300, 1, 0.0);
    rg_config c;
    config(&c, "dense(16, relu) dropout(0.3) dense(3, softmax, l2=0.001)");
    assert_int_equal(rg_config_set(&c, "epochs", "2"), RG_OK);
    assert_int_equal(rg_config_set(&c, "batch", "16"), RG_OK);
    rg_model *a = model_for(&c, 6), *b = model_for(&c, 6);
    assert_int_equal(rg_train(&c, a, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    assert_int_equal(rg_train(&c, b, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    assert_memory_equal(rg_model_params(a), rg_model_params(b), rg_model_param_count(a) * sizeof(float));
    /* another seed: another run */
    assert_int_equal(rg_config_set(&c, "seed", "2"), RG_OK);
    rg_model *d = model_for(&c, 6);
    assert_int_equal(rg_train(&c, d, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    assert_memory_not_equal(rg_model_params(a), rg_model_params(d), rg_model_param_count(a) * sizeof(float));
    rg_model_free(a); rg_model_free(b); rg_model_free(d);
    rg_dataset_free(ds);
}

static void test_dropout_mask_follows_sample_id(void **state)
{
    rg_model *m;
    assert_int_equal(rg_model_create("dense(32, linear) dropout(0.5) dense(4)", 6, 3, &m), RG_OK);
    float x[2 * 6], xs[2 * 6], p[2 * 4], ps[2 * 4];
    for (int i = 0; i < 12; i++) x[i] = (float)(i + 1) * 0.1f;
    memcpy(xs, x + 6, 6 * sizeof(float));
    memcpy(xs + 6, x, 6 * sizeof(float));
    uint64_t ids[2] = {1234, 99}, ids_swapped[2] = {99, 1234};
    rg_pass pass = { .seed = 5, .step = 17, .sample_ids = ids, .training = 1, .grad_scale = 1 };
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 2, &pass, 0, NULL, NULL, p), RG_OK);
    pass.sample_ids = ids_swapped;
    assert_int_equal(rg_model_forward_backward(m, xs, NULL, 2, &pass, 0, NULL, NULL, ps), RG_OK);
    /* same sample id → same mask, wherever it sits in the batch */
    assert_memory_equal(p, ps + 4, 4 * sizeof(float));
    assert_memory_equal(p + 4, ps, 4 * sizeof(float));
    /* another step → another mask */
    pass.step = 18;
    pass.sample_ids = ids;
    float p2[8];
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 2, &pass, 0, NULL, NULL, p2), RG_OK);
    assert_memory_not_equal(p, p2, sizeof p);
    /* training off → no dropout: the output does not depend on the step */
    pass.training = 0;
    float q1[8], q2[8];
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 2, &pass, 0, NULL, NULL, q1), RG_OK);
    pass.step = 1;
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 2, &pass, 0, NULL, NULL, q2), RG_OK);
    assert_memory_equal(q1, q2, sizeof q1);
    rg_model_free(m);
}

static void test_dropout_rate(void **state)
{
    /* identity weights, inputs of one: the dropout layer's output is the
     * mask itself, 0 or 1/(1-rate), and the share of zeros is the rate */
    rg_model *m;
    assert_int_equal(rg_model_create("dense(256, linear, bias=false) dropout(0.3) dense(2)", 256, 3, &m), RG_OK);
    float *w;
    assert_int_equal(rg_model_dense(m, 0, NULL, NULL, &w, NULL), RG_OK);
    memset(w, 0, 256 * 256 * sizeof(float));
    for (int i = 0; i < 256; i++) w[i * 256 + i] = 1.0f;
    float *x = malloc(64 * 256 * sizeof(float));
    for (int i = 0; i < 64 * 256; i++) x[i] = 1.0f;
    rg_pass pass = { .seed = 1, .step = 0, .training = 1, .grad_scale = 1 };
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 64, &pass, 0, NULL, NULL, NULL), RG_OK);
    const float *h = m->out_ptr[1];
    size_t zeros = 0;
    for (int i = 0; i < 64 * 256; i++) {
        assert_true(h[i] == 0.0f || fabsf(h[i] - 1.0f / 0.7f) < 1e-6f);
        zeros += h[i] == 0.0f;
    }
    assert_true(fabs((double)zeros / (64 * 256) - 0.3) < 0.015);
    rg_model_free(m);
    free(x);
}

/* Reads the val_loss of every epoch from a log. */
static int read_val_losses(const char *path, double *out, int max)
{
    size_t n;
    char *text = rgt_read(path, &n);
    assert_non_null(text);
    int k = 0;
    for (char *p = text; (p = strstr(p, "\"event\":\"epoch\"")) && k < max; p++) {
        char *v = strstr(p, "\"val_loss\":");
        assert_non_null(v);
        out[k++] = strtod(v + 11, NULL);
    }
    free(text);
    return k;
}

static void test_early_stopping_restores_best(void **state)
{
    /* training labels are clean, validation labels mostly wrong: validation
     * loss rises once the model learns, so early stopping must fire */
    rg_dataset *tr = blobs(300, 1, 0.0), *val = blobs(150, 2, 0.9);
    char *dir = rgt_tmpdir();
    rg_config c;
    config(&c, "dense(16, relu) dense(3, softmax)");
    assert_int_equal(rg_config_set(&c, "epochs", "30"), RG_OK);
    assert_int_equal(rg_config_set(&c, "early-stop", "2"), RG_OK);
    assert_int_equal(rg_config_set(&c, "lr", "0.01"), RG_OK);
    assert_int_equal(rg_config_set(&c, "log", rgt_path(dir, "log.jsonl")), RG_OK);
    rg_model *m = model_for(&c, 6);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, tr, val, NULL, NULL, NULL, &r), RG_OK);
    assert_true(r.stopped_early);
    assert_true(r.epochs_run < 30);
    assert_int_equal(r.epochs_run, r.best_epoch + 2);   /* patience 2 */
    double vl[64];
    int k = read_val_losses(rgt_path(dir, "log.jsonl"), vl, 64);
    assert_int_equal(k, r.epochs_run);
    for (int e = 0; e < k; e++) assert_true(vl[r.best_epoch - 1] <= vl[e]);
    /* the weights are those of the best epoch */
    double now;
    assert_int_equal(rg_evaluate(m, val, 64, &now, NULL), RG_OK);
    assert_true(fabs(now - vl[r.best_epoch - 1]) < 1e-6 * fabs(now));
    rg_model_free(m);
    /* without restoring, the weights are the last epoch's */
    assert_int_equal(rg_config_set(&c, "no-restore-best", NULL), RG_OK);
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, tr, val, NULL, NULL, NULL, &r), RG_OK);
    k = read_val_losses(rgt_path(dir, "log.jsonl"), vl, 64);
    assert_int_equal(rg_evaluate(m, val, 64, &now, NULL), RG_OK);
    assert_true(fabs(now - vl[k - 1]) < 1e-6 * fabs(now));
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(tr);
    rg_dataset_free(val);
}

/* Reads one number field of every epoch event. */
static int read_epoch_field(const char *path, const char *key, double *out, int max)
{
    char *text = rgt_read(path, NULL), pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    int k = 0;
    for (char *p = text; (p = strstr(p, "\"event\":\"epoch\"")) && k < max; p++)
        out[k++] = strtod(strstr(p, pat) + strlen(pat), NULL);
    free(text);
    return k;
}

static void test_early_stopping_on_val_acc_and_min_delta(void **state)
{
    rg_dataset *tr = blobs(300, 1, 0.0), *val = blobs(150, 2, 0.9);
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "acc.jsonl");
    rg_config c;
    config(&c, "dense(16, relu) dense(3, softmax)");
    rg_config_set(&c, "epochs", "30");
    rg_config_set(&c, "early-stop", "2");
    rg_config_set(&c, "lr", "0.01");
    rg_config_set(&c, "monitor", "val_acc");
    rg_config_set(&c, "log", log);
    rg_model *m = model_for(&c, 6);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, tr, val, NULL, NULL, NULL, &r), RG_OK);
    assert_true(r.stopped_early);
    double acc[64], now;
    int k = read_epoch_field(log, "val_acc", acc, 64);
    assert_int_equal(k, r.epochs_run);
    for (int e = 0; e < k; e++) assert_true(acc[r.best_epoch - 1] >= acc[e]);   /* the highest, not the lowest loss */
    assert_int_equal(rg_evaluate(m, val, 64, NULL, &now), RG_OK);
    assert_float_equal(now, acc[r.best_epoch - 1], 1e-9);
    rg_model_free(m);
    /* a min-delta no change can beat: only the first epoch ever counts */
    rg_config_set(&c, "min-delta", "10");
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, tr, val, NULL, NULL, NULL, &r), RG_OK);
    assert_int_equal(r.best_epoch, 1);
    assert_int_equal(r.epochs_run, 3);
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(tr);
    rg_dataset_free(val);
}

static void test_no_shuffle_takes_samples_in_order(void **state)
{
    /* with --no-shuffle the first step trains on samples 0..9: its logged
     * loss is the initial model's loss on exactly those */
    rg_dataset *ds = blobs(40, 3, 0.0);
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "o.jsonl");
    rg_config c;
    config(&c, "dense(3, softmax)");
    rg_config_set(&c, "batch", "10");
    rg_config_set(&c, "epochs", "1");
    rg_config_set(&c, "log-every", "1");
    rg_config_set(&c, "log", log);
    rg_config_set(&c, "no-shuffle", NULL);
    rg_model *m0 = model_for(&c, 6), *m = model_for(&c, 6);
    double sum;
    rg_pass pass = { .grad_scale = 1.0f };
    assert_int_equal(rg_model_forward_backward(m0, rg_dataset_x(ds), rg_dataset_y(ds), 10, &pass, 0, &sum, NULL, NULL), RG_OK);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    char *text = rgt_read(log, NULL);
    double first = strtod(strstr(strstr(text, "\"event\":\"step\""), "\"loss\":") + 7, NULL);
    free(text);
    assert_float_equal(first, sum / 10, 1e-6 * fabs(first));
    rg_model_free(m0);
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(ds);
}

static void test_nonfinite_stops_without_checkpoint(void **state)
{
    rg_dataset *ds = blobs(90, 1, 0.0);
    char *dir = rgt_tmpdir();
    rg_config c;
    config(&c, "dense(8, relu) dense(3, softmax)");
    assert_int_equal(rg_config_set(&c, "optimizer", "sgd"), RG_OK);
    assert_int_equal(rg_config_set(&c, "lr", "1e30"), RG_OK);
    assert_int_equal(rg_config_set(&c, "save", rgt_path(dir, "m.safetensors")), RG_OK);
    rg_model *m = model_for(&c, 6);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "non-finite loss or gradient at step"));
    assert_true(r.nonfinite_step > 0);
    assert_false(rgt_exists(rgt_path(dir, "m.safetensors")));
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(ds);
}

/* A sample of features 1e22 gives a finite loss and gradient (~1e21) that
 * Adam's second moment cannot hold: the step is judged by its update and
 * stops (or, with --skip-nonfinite, is skipped and the state stays finite,
 * so its checkpoint can be written), one worker as with several. */
static void test_gradient_beyond_the_optimizer(void **state)
{
    rg_dataset *base = blobs(64, 1, 0.0), *ds;
    float *x = malloc(64 * 6 * sizeof(float));
    int32_t *y = malloc(64 * sizeof(int32_t));
    memcpy(x, rg_dataset_x(base), 64 * 6 * sizeof(float));
    memcpy(y, rg_dataset_y(base), 64 * sizeof(int32_t));
    for (int j = 0; j < 6; j++) x[5 * 6 + j] = 1e22f;
    assert_int_equal(rg_dataset_from_arrays(x, y, 64, 6, &ds), RG_OK);
    char *dir = rgt_tmpdir();
    rg_config c;
    config(&c, "dense(8, relu) dense(3, softmax)");
    rg_config_set(&c, "batch", "16");
    rg_config_set(&c, "epochs", "2");
    rg_config_set(&c, "no-shuffle", NULL);
    rg_model *m = model_for(&c, 6);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r), RG_ENONFINITE);
    if (!strstr(rg_last_error(), "non-finite loss or gradient at step 1 (epoch 1, worker 0) (an element beyond 9.22e+18"))
        fail_msg("message: %s", rg_last_error());
    assert_int_equal(r.nonfinite_step, 1);
    rg_model_free(m);
    rg_config_set(&c, "skip-nonfinite", NULL);
    rg_config_set(&c, "checkpoint-every", "3");
    rg_config_set(&c, "checkpoint-dir", dir);
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r), RG_OK);
    assert_int_equal(r.skipped, 2);   /* the step holding sample 5, in each epoch */
    assert_true(rgt_exists(rgt_path(dir, "ckpt-000000000006.safetensors")));   /* finite moments */
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    free(x);
    free(y);
    rg_dataset_free(ds);
    rg_dataset_free(base);
}

/* An update that itself overflows (a learning rate of 3e38) stops at that
 * step, naming it, even with --skip-nonfinite: it cannot be undone. */
static void test_overflowing_update_stops(void **state)
{
    rg_dataset *base = blobs(60, 1, 0.0), *ds;
    float *x = malloc(60 * 6 * sizeof(float));
    memcpy(x, rg_dataset_x(base), 60 * 6 * sizeof(float));
    for (int i = 0; i < 60 * 6; i++) x[i] *= 1000.0f;
    assert_int_equal(rg_dataset_from_arrays(x, rg_dataset_y(base), 60, 6, &ds), RG_OK);
    for (int skip = 0; skip < 2; skip++) {
        rg_config c;
        config(&c, "dense(3, softmax)");
        rg_config_set(&c, "optimizer", "sgd");
        rg_config_set(&c, "lr", "3e38");
        if (skip) rg_config_set(&c, "skip-nonfinite", NULL);
        rg_model *m = model_for(&c, 6);
        rg_train_result r;
        assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r), RG_ENONFINITE);
        if (!strstr(rg_last_error(), "the update of step 1 (epoch 1) made a weight or the optimizer's state non-finite"))
            fail_msg("message: %s", rg_last_error());
        assert_int_equal(skip, strstr(rg_last_error(), "cannot be skipped") != NULL);
        assert_int_equal(r.nonfinite_step, 1);
        rg_model_free(m);
    }
    free(x);
    rg_dataset_free(ds);
    rg_dataset_free(base);
}

/* eval and predict refuse a sample whose outputs are not finite instead
 * of reporting a NaN loss or class 0 for it. */
static void test_eval_refuses_nonfinite_outputs(void **state)
{
    rg_dataset *base = blobs(300, 1, 0.0), *ds;
    float *x = malloc(300 * 6 * sizeof(float));
    memcpy(x, rg_dataset_x(base), 300 * 6 * sizeof(float));
    for (int j = 0; j < 6; j++) x[277 * 6 + j] = 3e38f;
    assert_int_equal(rg_dataset_from_arrays(x, rg_dataset_y(base), 300, 6, &ds), RG_OK);
    rg_config c;
    config(&c, "dense(8, relu) dense(3, softmax)");
    rg_model *m = model_for(&c, 6);
    float *w;
    size_t units, in;
    assert_int_equal(rg_model_dense(m, 0, &units, &in, &w, NULL), RG_OK);
    for (size_t i = 0; i < units * in; i++) w[i] = fabsf(w[i]);   /* 3e38 x w sums past FLT_MAX */
    double loss, acc;
    assert_int_equal(rg_evaluate(m, base, 0, &loss, &acc), RG_OK);
    assert_int_equal(rg_evaluate(m, ds, 0, &loss, &acc), RG_ENONFINITE);
    if (!strstr(rg_last_error(), "sample 277: the model's outputs are not finite")) fail_msg("%s", rg_last_error());
    int32_t *classes = malloc(300 * sizeof(int32_t));
    assert_int_equal(rg_predict(m, ds, 100, classes), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "sample 277:"));
    free(classes);
    rg_model_free(m);
    free(x);
    rg_dataset_free(ds);
    rg_dataset_free(base);
}

/* lr of every step from a log written with --log-every 1 */
static int read_step_lrs(const char *path, double *out, int max)
{
    char *text = rgt_read(path, NULL);
    int k = 0;
    for (char *p = text; (p = strstr(p, "\"event\":\"step\"")) && k < max; p++)
        out[k++] = strtod(strstr(p, "\"lr\":") + 5, NULL);
    free(text);
    return k;
}

static void test_lr_schedules(void **state)
{
    rg_dataset *ds = blobs(40, 1, 0.0);    /* batch 10 → 4 steps an epoch */
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "s.jsonl");
    rg_config c;
    config(&c, "dense(3, softmax)");
    rg_config_set(&c, "batch", "10");
    rg_config_set(&c, "epochs", "4");
    rg_config_set(&c, "lr", "0.1");
    rg_config_set(&c, "log-every", "1");
    rg_config_set(&c, "log", log);
    double lr[64];

    rg_config_set(&c, "warmup", "4");
    rg_model *m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    assert_int_equal(read_step_lrs(log, lr, 64), 16);
    assert_float_equal(lr[0], 0.025, 1e-9);
    assert_float_equal(lr[3], 0.1, 1e-9);
    assert_float_equal(lr[15], 0.1, 1e-9);
    rg_model_free(m);

    rg_config_set(&c, "warmup", "0");
    rg_config_set(&c, "lr-schedule", "step");
    rg_config_set(&c, "lr-step-epochs", "2");
    rg_config_set(&c, "lr-gamma", "0.5");
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    read_step_lrs(log, lr, 64);
    assert_float_equal(lr[7], 0.1, 1e-9);
    assert_float_equal(lr[8], 0.05, 1e-9);
    rg_model_free(m);

    rg_config_set(&c, "lr-schedule", "cosine");
    rg_config_set(&c, "lr-min", "0.01");
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    read_step_lrs(log, lr, 64);
    assert_float_equal(lr[0], 0.1, 1e-9);
    assert_float_equal(lr[8], 0.01 + 0.09 * 0.5 * (1 + cos(3.14159265358979 * 0.5)), 1e-7);
    assert_float_equal(lr[15], 0.01 + 0.09 * 0.5 * (1 + cos(3.14159265358979 * 15.0 / 16.0)), 1e-7);
    for (int i = 1; i < 16; i++) assert_true(lr[i] <= lr[i - 1]);
    rg_model_free(m);

    /* plateau: a --min-delta no epoch can beat makes every epoch after the
     * first one without improvement: with patience 2 the rate is cut after
     * epochs 3 and 5 (Keras' count), the second cut stops at the floor,
     * and a third would change nothing */
    rg_config_set(&c, "lr-schedule", "plateau");
    rg_config_set(&c, "lr-patience", "2");
    rg_config_set(&c, "lr-gamma", "0.5");
    rg_config_set(&c, "lr-min", "0.03");
    rg_config_set(&c, "min-delta", "100");
    rg_config_set(&c, "epochs", "8");
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_EUSAGE);   /* it watches a validation set */
    assert_non_null(strstr(rg_last_error(), "--lr-schedule plateau needs a validation set"));
    assert_int_equal(rg_train(&c, m, ds, ds, NULL, NULL, NULL, NULL), RG_OK);
    assert_int_equal(read_step_lrs(log, lr, 64), 32);
    for (int i = 0; i < 32; i++) assert_float_equal(lr[i], i < 12 ? 0.1 : i < 20 ? 0.05 : 0.03, 1e-9);
    rg_model_free(m);
    /* an improving figure is never cut: separable blobs, loss falling */
    rg_config_set(&c, "min-delta", "0");
    rg_config_set(&c, "lr-patience", "1");
    m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, ds, NULL, NULL, NULL, NULL), RG_OK);
    assert_int_equal(read_step_lrs(log, lr, 64), 32);
    for (int i = 0; i < 32; i++) assert_float_equal(lr[i], 0.1, 1e-9);
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(ds);
}

static void test_maxnorm_holds(void **state)
{
    rg_dataset *ds = blobs(120, 1, 0.0);
    rg_config c;
    config(&c, "dense(8, relu, maxnorm=0.5) dense(3, softmax)");
    rg_config_set(&c, "lr", "0.05");
    rg_config_set(&c, "epochs", "3");
    rg_model *m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_OK);
    float *w;
    size_t out, in;
    assert_int_equal(rg_model_dense(m, 0, &out, &in, &w, NULL), RG_OK);
    int at_limit = 0;
    for (size_t o = 0; o < out; o++) {
        double s = 0;
        for (size_t i = 0; i < in; i++) s += (double)w[o * in + i] * w[o * in + i];
        assert_true(sqrt(s) <= 0.5 + 1e-5);
        at_limit += sqrt(s) > 0.499;
    }
    assert_true(at_limit > 0);   /* the constraint was active */
    rg_model_free(m);
    rg_dataset_free(ds);
}

static void test_input_checks(void **state)
{
    rg_dataset *ds = blobs(30, 1, 0.0);
    rg_config c;
    config(&c, "dense(2, softmax)");   /* 3 classes, 2 outputs */
    rg_model *m = model_for(&c, 6);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_EDATA);
    assert_non_null(strstr(rg_last_error(), "labels go up to 2 but the model has 2 outputs"));
    rg_model_free(m);
    config(&c, "dense(3, softmax)");
    m = model_for(&c, 5);
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_EDATA);
    assert_non_null(strstr(rg_last_error(), "6 features per sample but the model takes 5"));
    rg_model_free(m);
    m = model_for(&c, 6);
    rg_config_set(&c, "early-stop", "3");
    assert_int_equal(rg_train(&c, m, ds, NULL, NULL, NULL, NULL, NULL), RG_EUSAGE);
    rg_model_free(m);
    rg_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_beyond_the_optimizer),
        cmocka_unit_test(test_overflowing_update_stops),
        cmocka_unit_test(test_eval_refuses_nonfinite_outputs),
        cmocka_unit_test(test_reference_model_learns_fashion_mnist),
        cmocka_unit_test(test_runs_are_reproducible),
        cmocka_unit_test(test_dropout_mask_follows_sample_id),
        cmocka_unit_test(test_dropout_rate),
        cmocka_unit_test(test_early_stopping_restores_best),
        cmocka_unit_test(test_early_stopping_on_val_acc_and_min_delta),
        cmocka_unit_test(test_no_shuffle_takes_samples_in_order),
        cmocka_unit_test(test_nonfinite_stops_without_checkpoint),
        cmocka_unit_test(test_lr_schedules),
        cmocka_unit_test(test_maxnorm_holds),
        cmocka_unit_test(test_input_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
