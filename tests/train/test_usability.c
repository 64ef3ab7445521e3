/* What a user sees of a run, from the library's side (issue 14): the final
 * figures of the training and validation sets whenever they exist; a final
 * figure that is not finite fails the run (or, under --skip-nonfinite,
 * leaves its samples out); the log spells NaN "NaN" and writes null only
 * for a figure that does not exist; the callbacks see every step and
 * epoch; out of memory is not blamed on the data; the options that change
 * nothing are listed; choices take any case; other tools' option names
 * get a hint. */
#include "support.h"
#include "regula.h"
#include "train/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Three separable classes in 4 features; `big` puts 3e38 in sample 4. */
static rg_dataset *blobs(size_t n, int big)
{
    float *x = malloc(n * 4 * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++)
            x[i * 4 + j] = (j == (int)(i % 3) ? 2.0f : 0.0f) + rg_rng_uniform(9, RG_RNG_USER, i, (uint64_t)j) * 0.5f;
        y[i] = (int32_t)(i % 3);
    }
    if (big) x[4 * 4 + 1] = 3e38f;
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, y, n, 4, &ds), RG_OK);
    free(x);
    free(y);
    return ds;
}

static void config(rg_config *c)
{
    rg_config_defaults(c);
    assert_int_equal(rg_config_set(c, "model", "dense(8, relu) dense(3, softmax)"), RG_OK);
    assert_int_equal(rg_config_set(c, "log-every", "0"), RG_OK);
    assert_int_equal(rg_config_set(c, "epochs", "3"), RG_OK);
    assert_int_equal(rg_config_set(c, "batch", "16"), RG_OK);
    assert_int_equal(rg_config_set(c, "lr", "0.05"), RG_OK);
}

static rg_model *model_for(const rg_config *c)
{
    rg_model *m;
    if (rg_model_create(c->model, 4, c->seed, &m) != RG_OK) fail_msg("%s", rg_last_error());
    return m;
}

typedef struct seen { int steps, epochs, last_epoch; double acc, val_loss; } seen;
static void on_step(const rg_step_stats *s, void *ud)
{
    seen *v = ud;
    v->steps++;
    v->acc = s->acc;
    assert_true(s->done <= s->total);
}
static void on_epoch(const rg_epoch_stats *e, void *ud)
{
    seen *v = ud;
    v->epochs++;
    v->last_epoch = e->epoch;
    v->val_loss = e->val_loss;
}

/* No test set (a CSV alone) and --val-split: the training and validation
 * figures are reported; before, both were NaN without a test set. */
static void test_figures_without_a_test_set(void **state)
{
    (void)state;
    rg_dataset *tr = blobs(120, 0), *val = blobs(30, 0);
    rg_config c;
    config(&c);
    rg_model *m = model_for(&c);
    seen v = { 0 };
    rg_callbacks cb = { on_step, on_epoch, &v };
    rg_train_result r;
    assert_int_equal(rg_train_cb(&c, m, tr, val, NULL, &cb, &r), RG_OK);
    assert_true(isfinite(r.train_loss) && isfinite(r.train_acc) && r.train_acc > 0.9);
    assert_true(isfinite(r.val_loss) && isfinite(r.val_acc) && r.val_acc > 0.9);
    assert_true(isnan(r.test_loss) && isnan(r.test_acc));
    assert_int_equal(v.epochs, 3);
    assert_int_equal(v.last_epoch, 3);
    assert_int_equal(v.steps, 3 * 8);
    assert_true(v.acc > 0.0 && v.acc <= 1.0);
    assert_true(fabs(v.val_loss - r.val_loss) < 1e-12);   /* the last epoch's is the final model's */
    /* without any other set, the training set's figures still */
    rg_model *m2 = model_for(&c);
    assert_int_equal(rg_train(&c, m2, tr, NULL, NULL, NULL, NULL, &r), RG_OK);
    assert_true(isfinite(r.train_loss) && isnan(r.val_loss));
    rg_model_free(m);
    rg_model_free(m2);
    rg_dataset_free(tr);
    rg_dataset_free(val);
}

/* A test set with one sample whose outputs overflow: the final test loss
 * is NaN, which fails the run and saves nothing; --skip-nonfinite leaves
 * that sample out of the figures instead. */
static void test_nonfinite_final_figures(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    rg_dataset *tr = blobs(90, 0), *bad = blobs(30, 1);
    rg_config c;
    config(&c);
    assert_int_equal(rg_config_set(&c, "save", rgt_path(dir, "m.safetensors")), RG_OK);
    assert_int_equal(rg_config_set(&c, "log", rgt_path(dir, "log.jsonl")), RG_OK);
    rg_model *m = model_for(&c);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, tr, NULL, bad, NULL, NULL, &r), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "test loss is NaN"));
    assert_true(isnan(r.test_loss) && isfinite(r.train_loss));
    assert_false(rgt_exists(rgt_path(dir, "m.safetensors")));
    char *log = rgt_read(rgt_path(dir, "log.jsonl"), NULL);
    assert_non_null(strstr(log, "\"event\":\"end\",\"stopped\":\"nonfinite_outputs\",\"test_loss\":\"NaN\""));
    assert_non_null(strstr(log, "\"val_loss\":null"));   /* no held-out validation set: no such figure */
    free(log);
    rg_model_free(m);

    assert_int_equal(rg_config_set(&c, "skip-nonfinite", NULL), RG_OK);
    m = model_for(&c);
    assert_int_equal(rg_train(&c, m, tr, NULL, bad, NULL, NULL, &r), RG_OK);
    assert_int_equal(r.left_out, 1);
    assert_true(isfinite(r.test_loss) && r.test_acc > 0.9);
    assert_true(rgt_exists(rgt_path(dir, "m.safetensors")));
    log = rgt_read(rgt_path(dir, "log.jsonl"), NULL);
    assert_non_null(strstr(log, "\"left_out\":1"));
    free(log);
    rg_model_free(m);
    rg_dataset_free(tr);
    rg_dataset_free(bad);
    rgt_rmtree(dir);
    free(dir);
}

/* Regression figures: a model y = 3 a - 2 b + 1 set by hand, on targets
 * that miss it by known errors: eval's MAE, RMSE and loss are those of
 * the errors, prediction gives the outputs, and a training run of rate 0
 * on two workers reports the same for its training and validation sets
 * (every epoch's too), accuracy NaN. */
static void on_reg_epoch(const rg_epoch_stats *e, void *ud)
{
    double *v = ud;
    v[0] = e->val_mae;
    v[1] = e->val_rmse;
    v[2] = e->acc;
    v[3] = e->mae;
}

static void test_regression_figures(void **state)
{
    (void)state;
    enum { N = 50 };
    float x[2 * N], t[N], err[N];
    double abs = 0.0, sq = 0.0;
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 7) - 3.0f;
        x[2 * i + 1] = (float)(i % 5) * 0.5f;
        err[i] = i % 4 == 0 ? 2.0f : i % 2 ? 0.5f : -0.25f;
        t[i] = 3.0f * x[2 * i] - 2.0f * x[2 * i + 1] + 1.0f + err[i];
        abs += fabs((double)err[i]);
        sq += (double)err[i] * err[i];
    }
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_targets(x, t, N, 2, &ds), RG_OK);
    rg_model *m;
    assert_int_equal(rg_model_create("dense(1)", 2, 1, &m), RG_OK);
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_MSE), RG_OK);
    float *w, *b;
    size_t o, in;
    assert_int_equal(rg_model_dense(m, 0, &o, &in, &w, &b), RG_OK);
    w[0] = 3.0f, w[1] = -2.0f, b[0] = 1.0f;
    rg_eval_figures f;
    assert_int_equal(rg_evaluate_figures(m, ds, 16, &f), RG_OK);
    assert_true(fabs(f.mae - abs / N) < 1e-6 && fabs(f.rmse - sqrt(sq / N)) < 1e-6);
    assert_true(fabs(f.loss - sq / N) < 1e-6 && isnan(f.acc));
    float out[N];
    assert_int_equal(rg_predict_proba(m, ds, 16, NULL, out), RG_OK);
    for (int i = 0; i < N; i++) assert_true(fabsf(out[i] - (t[i] - err[i])) < 1e-5f);

    rg_config c;
    config(&c);
    assert_int_equal(rg_config_set(&c, "loss", "mse"), RG_OK);
    assert_int_equal(rg_config_set(&c, "lr", "0"), RG_OK);
    assert_int_equal(rg_config_set(&c, "workers", "2"), RG_OK);
    assert_int_equal(rg_config_set(&c, "model", "dense(1)"), RG_OK);
    double v[4];
    rg_callbacks cb = { NULL, on_reg_epoch, v };
    rg_train_result r;
    assert_int_equal(rg_train_cb(&c, m, ds, ds, NULL, &cb, &r), RG_OK);
    assert_true(fabs(r.train_mae - abs / N) < 1e-6 && fabs(r.train_rmse - sqrt(sq / N)) < 1e-6);
    assert_true(fabs(r.val_mae - abs / N) < 1e-6 && fabs(r.val_rmse - sqrt(sq / N)) < 1e-6);
    assert_true(isnan(r.train_acc) && isnan(r.test_mae));
    assert_true(fabs(v[0] - abs / N) < 1e-6 && fabs(v[1] - sqrt(sq / N)) < 1e-6);
    assert_true(isnan(v[2]) && fabs(v[3] - abs / N) < 1e-5);   /* the epoch's running MAE: the same weights */
    rg_model_free(m);
    rg_dataset_free(ds);
}

/* null: no such figure; "NaN": computed, not a number. */
static void test_log_spells_nan(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    rg_epoch_stats e = { .epoch = 2, .loss = NAN, .reg_loss = 0.5, .acc = 0.25, .val_loss = INFINITY, .val_acc = 0.5,
                         .samples_per_s = 10, .seconds = 1, .lr = 0.1 };
    double per[WL_N * 2] = { 3, 0, /* samples */ 1.5, NAN, /* worker_loss */ 1, 1, 0, 0, 0, 0, 0, 0 };
    rg_log_epoch(f, &e, 1, 0, 0, 2, per, 0.0, NULL);
    e.val_loss = e.val_acc = NAN;
    rg_log_epoch(f, &e, 0, 0, 0, 2, per, 0.0, NULL);
    rg_train_result r = { .test_loss = NAN, .test_acc = NAN, .train_loss = -INFINITY, .train_acc = 0.5,
                          .val_loss = NAN, .val_acc = NAN };
    rg_log_end(f, &r, 0, 1, 0, NULL);
    rewind(f);
    char buf[3][2048];
    for (int i = 0; i < 3; i++) assert_non_null(fgets(buf[i], sizeof buf[i], f));
    fclose(f);
    assert_non_null(strstr(buf[0], "\"loss\":\"NaN\""));
    assert_non_null(strstr(buf[0], "\"val_loss\":\"Infinity\""));
    assert_non_null(strstr(buf[0], "\"worker_loss\":[1.5,null]"));   /* worker 1 had no samples */
    assert_non_null(strstr(buf[1], "\"val_loss\":null,\"val_acc\":null"));
    assert_non_null(strstr(buf[2], "\"test_loss\":null"));
    assert_non_null(strstr(buf[2], "\"train_loss\":\"-Infinity\""));
    assert_non_null(strstr(buf[2], "\"val_loss\":\"NaN\""));
}

/* An allocator that refuses anything over 1 MB: the model's workspace for
 * a chunk of 1024 wide rows. */
static void *small_alloc(size_t n, void *ud) { (void)ud; return n > (1u << 20) ? NULL : malloc(n); }
static void small_free(void *p, void *ud) { (void)ud; free(p); }

static void test_out_of_memory_is_not_the_data(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *csv = rgt_path(dir, "d.csv");
    FILE *f = fopen(csv, "w");
    for (int i = 0; i < 1100; i++) fprintf(f, "%d,%d,1,2,3\n", i % 3, i % 7);
    fclose(f);
    rg_dataset *ds;
    rg_data_opts o = { .label_column = 0 };
    assert_int_equal(rg_dataset_load_csv(csv, &o, &ds), RG_OK);
    rg_model *m;
    assert_int_equal(rg_model_create("dense(400, relu) dense(3, softmax)", 4, 1, &m), RG_OK);
    rg_set_allocator(small_alloc, small_free, NULL);
    double loss, acc;
    rg_status st = rg_evaluate(m, ds, 1024, &loss, &acc);
    rg_set_allocator(NULL, NULL, NULL);
    assert_int_equal(st, RG_ENOMEM);
    assert_null(strstr(rg_last_error(), "d.csv"));
    assert_non_null(strstr(rg_last_error(), "the model's workspace for a batch of 1024 samples"));
    rg_model_free(m);
    rg_dataset_free(ds);
    rgt_rmtree(dir);
    free(dir);
}

static int has_line(const char *lines, const char *start)
{
    for (const char *p = lines; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, start, strlen(start))) return 1;
    return 0;
}

/* rg_config_noops of the defaults with pairs of options set (NULL ends). */
static char *noops_of(int processes, const char *const *kv)
{
    rg_config c;
    rg_config_defaults(&c);
    for (; kv[0]; kv += 2) assert_int_equal(rg_config_set(&c, kv[0], kv[1]), RG_OK);
    if (rg_config_validate(&c) != RG_OK) fail_msg("%s", rg_last_error());
    return rg_config_noops(&c, processes);
}

/* One worker: easgd still trains otherwise (a centre that follows it),
 * ps and easgd-async are refused (no warning first), local-sgd and
 * hogwild are plain training; an option another requires is not named;
 * --link under hogwild sends nothing. */
static void test_noops_strategies(void)
{
    static const char *const easgd[] = { "strategy", "easgd", NULL }, *const async[] = { "strategy", "easgd-async", NULL },
        *const ps[] = { "strategy", "ps", "optimizer", "sgd", NULL }, *const local[] = { "strategy", "local-sgd", NULL },
        *const update[] = { "compress", "topk:0.01", "compress-update", NULL, "reg-scope", "local", NULL },
        *const hog[] = { "optimizer", "sgd", "workers", "2", "strategy", "hogwild", "link", "1gbit,50us", NULL };
    const char *const *none[] = { easgd, async, ps, update };
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        char *s = noops_of(1, none[i]);
        if (s[0]) fail_msg("--%s %s: warned\n%s", none[i][0], none[i][1] ? none[i][1] : "", s);
        free(s);
    }
    char *s = noops_of(1, local);
    assert_true(has_line(s, "--strategy local-sgd has no effect: one worker"));
    free(s);
    s = noops_of(1, hog);
    assert_true(has_line(s, "--link 1gbit,50us has no effect: --strategy hogwild"));
    free(s);
}

/* One rule: an option that has nothing to act on is listed (a warning),
 * not refused; defaults never are. */
static void test_noops(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    char *s = rg_config_noops(&c, 1);
    assert_string_equal(s, "");
    free(s);
    static const char *const set[][2] = {
        { "momentum", "0.9" }, { "monitor", "val_acc" }, { "min-delta", "0.01" }, { "no-restore-best", NULL },
        { "partition", "dirichlet:0.5" }, { "sync-every", "4" }, { "sync-warmup", "10" }, { "local-moments", NULL }, { "elastic", "0.2" },
        { "error-feedback", "on" }, { "det-shards", "4" }, { "comm-timeout", "5" }, { "lr-gamma", "0.5" },
        { "header", NULL }, { "keep", "5" }, { "servers", "2" }, { "dgc-warmup", "1" }, { "rho", "0.9" },
        { "lr-patience", "3" },
    };
    for (size_t i = 0; i < sizeof set / sizeof *set; i++) assert_int_equal(rg_config_set(&c, set[i][0], set[i][1]), RG_OK);
    if (rg_config_validate(&c) != RG_OK) fail_msg("%s", rg_last_error());
    s = rg_config_noops(&c, 1);
    for (size_t i = 0; i < sizeof set / sizeof *set; i++) {
        char start[64];
        snprintf(start, sizeof start, "--%s%s%s has no effect: ", set[i][0], set[i][1] ? " " : "",
                 set[i][1] ? set[i][1] : "");
        if (!has_line(s, start)) fail_msg("no line for --%s in:\n%s", set[i][0], s);
    }
    free(s);
    /* 2 processes: --partition and --comm-timeout act */
    s = rg_config_noops(&c, 2);
    assert_false(has_line(s, "--partition"));
    assert_false(has_line(s, "--comm-timeout"));
    free(s);
    /* --nesterov without momentum was an error: now plain sgd, and said */
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "optimizer", "sgd"), RG_OK);
    assert_int_equal(rg_config_set(&c, "nesterov", NULL), RG_OK);
    assert_int_equal(rg_config_set(&c, "worker-batch", "equal"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_OK);
    s = rg_config_noops(&c, 2);
    assert_true(has_line(s, "--nesterov has no effect: without --momentum"));
    assert_true(has_line(s, "--worker-batch equal has no effect: with --partition iid"));
    free(s);
    test_noops_strategies();
}

/* --optimizer Adam is adam; --partition Dirichlet:0.5 is dirichlet:0.5;
 * JSON the same. */
static void test_choices_take_any_case(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "optimizer", "Adam"), RG_OK);
    assert_string_equal(c.optimizer, "adam");
    assert_int_equal(rg_config_set(&c, "lr-schedule", "COSINE"), RG_OK);
    assert_string_equal(c.lr_schedule, "cosine");
    assert_int_equal(rg_config_set(&c, "partition", "Dirichlet:0.5"), RG_OK);
    assert_string_equal(c.partition, "dirichlet:0.5");
    assert_int_equal(rg_config_set(&c, "progress", "Lines"), RG_OK);
    assert_string_equal(c.progress, "lines");
    assert_int_equal(rg_config_set(&c, "optimizer", "Adamax"), RG_EUSAGE);
    char *dir = rgt_tmpdir();
    const char *path = rgt_path(dir, "c.json");
    rgt_write(path, "{\"optimizer\": \"SGD\"}", 20);
    assert_int_equal(rg_config_load_json(&c, path), RG_OK);
    assert_string_equal(c.optimizer, "sgd");
    rgt_rmtree(dir);
    free(dir);
}

/* Keras' and PyTorch's names get regula's. */
static void test_other_tools_names(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        { "learning-rate", "--lr" }, { "learning_rate", "--lr" }, { "batch-size", "--batch" },
        { "validation-split", "--val-split" }, { "patience", "--early-stop" }, { "dropout", "dropout(0.5)" },
    };
    rg_config c;
    rg_config_defaults(&c);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        assert_int_equal(rg_config_set(&c, names[i][0], "1"), RG_EUSAGE);
        if (!strstr(rg_last_error(), names[i][1])) fail_msg("--%s: %s", names[i][0], rg_last_error());
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_without_a_test_set),
        cmocka_unit_test(test_nonfinite_final_figures),
        cmocka_unit_test(test_regression_figures),
        cmocka_unit_test(test_log_spells_nan),
        cmocka_unit_test(test_out_of_memory_is_not_the_data),
        cmocka_unit_test(test_noops),
        cmocka_unit_test(test_choices_take_any_case),
        cmocka_unit_test(test_other_tools_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
