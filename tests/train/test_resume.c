/* Training checkpoints that hold what the writer never writes: a moment or
 * an early-stopping copy of Inf or NaN, re-signed so that the checksum
 * passes (a bug, or a hand-edited file).  --resume treats such a file as
 * damaged: it warns naming the tensor and falls back to the checkpoint
 * before it, or fails with RG_EDATA when there is none.  regula fed's
 * state (fed.*): resumed bitwise, damage, and a state the run does not keep. */
#include "support.h"
#include "regula.h"
#include "fed/fed.h"
#include "io/safetensors.h"
#include "train/train.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rg_dataset *g_ds;

static int setup(void **state)
{
    (void)state;
    enum { n = 96, d = 5 };
    float x[n * d];
    int32_t y[n];
    for (int i = 0; i < n; i++) {
        y[i] = i % 3;
        for (int j = 0; j < d; j++) x[i * d + j] = (j == y[i]) + rg_rng_uniform(7, RG_RNG_USER, (uint64_t)i, (uint64_t)j);
    }
    return rg_dataset_from_arrays(x, y, n, d, &g_ds) == RG_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rg_dataset_free(g_ds);
    return 0;
}

static void config(rg_config *c, const char *dir)
{
    rg_config_defaults(c);
    rg_config_set(c, "model", "dense(6, relu) dense(3, softmax)");
    rg_config_set(c, "batch", "16");
    rg_config_set(c, "epochs", "2");
    rg_config_set(c, "log-every", "0");
    rg_config_set(c, "checkpoint-every", "4");
    rg_config_set(c, "keep", "5");
    rg_config_set(c, "resume", dir);
}

static rg_status train(const rg_config *c, float *out)
{
    rg_model *m;
    assert_int_equal(rg_model_create(c->model, 5, c->seed, &m), RG_OK);
    rg_status st = rg_train(c, m, g_ds, NULL, NULL, NULL, NULL, NULL);
    if (out) memcpy(out, rg_model_params(m), rg_model_param_count(m) * sizeof(float));
    rg_model_free(m);
    return st;
}

/* Writes value into element `at` of tensor `name` of the checkpoint at
 * path, and re-signs the file (the checksum has a fixed width). */
static void poison(const char *path, const char *name, size_t at, double value)
{
    rg_st *st;
    assert_int_equal(rg_st_read(path, &st), RG_OK);
    const rg_st_tensor *t = rg_st_find(st, name);
    assert_non_null(t);
    size_t size = rg_st_dtype_size(t->dtype), begin = t->begin;
    rg_st_free(st);
    size_t n;
    char *file = rgt_read(path, &n);
    uint64_t hlen;
    memcpy(&hlen, file, 8);
    char *at_byte = file + 8 + hlen + begin + at * size;
    if (size == 4) { float f = (float)value; memcpy(at_byte, &f, 4); }
    else memcpy(at_byte, &value, 8);
    rgt_write(path, file, n);
    if (rg_st_read(path, &st) != RG_OK) fail_msg("%s", rg_last_error());
    char sum[17];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)rg_ckpt_checksum(st));
    rg_st_free(st);
    char *key = strstr(file + 8, "\"checksum\":\"");   /* the header, after its length */
    assert_non_null(key);
    memcpy(key + 12, sum, 16);
    rgt_write(path, file, n);
    free(file);
}

/* Flips a bit of element `at` of float tensor `name` of the checkpoint at
 * path, not re-signing it. */
static void poison_raw(const char *path, const char *name, size_t at)
{
    rg_st *st;
    assert_int_equal(rg_st_read(path, &st), RG_OK);
    size_t begin = rg_st_find(st, name)->begin;
    rg_st_free(st);
    size_t n;
    char *file = rgt_read(path, &n);
    uint64_t hlen;
    memcpy(&hlen, file, 8);
    file[8 + hlen + begin + 4 * at] ^= 1;
    rgt_write(path, file, n);
    free(file);
}

/* rg_st_read_lazy leaves fed.client_state in the file: every tensor reads
 * (rg_st_pread) the bytes rg_st_read holds, the lazy one's data NULL. */
static void same_lazy(const char *path)
{
    rg_st *a, *b;
    assert_int_equal(rg_st_read(path, &a), RG_OK);
    assert_int_equal(rg_st_read_lazy(path, "fed.client_state", &b), RG_OK);
    assert_int_equal(rg_st_count(a), rg_st_count(b));
    assert_null(rg_st_find(b, "fed.client_state")->data);
    for (size_t i = 0; i < rg_st_count(a); i++) {
        const rg_st_tensor *x = rg_st_at(a, i), *y = rg_st_find(b, x->name);
        assert_non_null(y);
        assert_int_equal(x->nbytes, y->nbytes);
        char *buf = malloc(y->nbytes + 1);
        assert_int_equal(rg_st_pread(b, y, 0, buf, y->nbytes), RG_OK);
        assert_memory_equal(buf, x->data, x->nbytes);
        free(buf);
    }
    assert_true(rg_ckpt_checksum(a) == rg_ckpt_checksum(b));
    rg_st_free(a);
    rg_st_free(b);
}

/* Re-signs the checkpoint at path (its checksum has a fixed width). */
static void resign(const char *path)
{
    rg_st *st;
    if (rg_st_read(path, &st) != RG_OK) fail_msg("%s", rg_last_error());
    char sum[17];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)rg_ckpt_checksum(st));
    rg_st_free(st);
    size_t n;
    char *file = rgt_read(path, &n);
    char *key = strstr(file + 8, "\"checksum\":\"");
    assert_non_null(key);
    memcpy(key + 12, sum, 16);
    rgt_write(path, file, n);
    free(file);
}

/* Rewrites the checkpoint at path as one written before the regression
 * columns ("train.workers" [W, WA_OLD_N]) or before the byte counts
 * ([W, WA_OLD2_N]): cols columns, the rest as it was. */
static void narrow_workers(const char *path, size_t cols)
{
    rg_st *st;
    assert_int_equal(rg_st_read(path, &st), RG_OK);
    size_t n = rg_st_count(st), nm = rg_st_meta_count(st);
    rg_st_tensor_in in[32];
    const char *kv[64];
    double rows[4 * WA_N];
    assert_true(n <= 32 && nm <= 32);
    for (size_t i = 0; i < n; i++) {
        const rg_st_tensor *t = rg_st_at(st, i);
        in[i] = (rg_st_tensor_in){ .name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data };
        memcpy(in[i].shape, t->shape, sizeof t->shape);
        if (strcmp(t->name, "train.workers")) continue;
        assert_true(t->shape[0] <= 4 && t->shape[1] == WA_N);
        for (size_t k = 0; k < t->shape[0]; k++)
            memcpy(rows + k * cols, (const char *)t->data + k * WA_N * sizeof(double), cols * sizeof(double));
        in[i].shape[1] = cols;
        in[i].data = rows;
    }
    for (size_t j = 0; j < nm; j++) rg_st_meta_at(st, j, &kv[2 * j], &kv[2 * j + 1]);
    assert_int_equal(rg_st_write(path, in, n, kv, nm, 0), RG_OK);
    rg_st_free(st);
    resign(path);
}

/* A checkpoint of a format before regression's figures (train.workers
 * of WA_OLD_N columns) or before the byte counts (WA_OLD2_N) resumes to
 * the same bits. */
static void old_worker_rows(size_t cols)
{
    float whole[64], resumed[64];
    char *ref = rgt_tmpdir(), *dir = rgt_tmpdir();
    rg_config c;
    config(&c, ref);
    assert_int_equal(rg_config_set(&c, "workers", "2"), RG_OK);
    assert_int_equal(train(&c, whole), RG_OK);   /* 12 steps */
    assert_int_equal(rg_config_set(&c, "resume", dir), RG_OK);
    assert_int_equal(rg_config_set(&c, "epochs", "1"), RG_OK);
    assert_int_equal(train(&c, NULL), RG_OK);   /* checkpoint 4 */
    narrow_workers(rgt_path(dir, "ckpt-000000000004.safetensors"), cols);
    rg_st *st;
    assert_int_equal(rg_st_read(rgt_path(dir, "ckpt-000000000004.safetensors"), &st), RG_OK);
    assert_int_equal(rg_st_find(st, "train.workers")->shape[1], cols);
    rg_st_free(st);
    assert_int_equal(rg_config_set(&c, "epochs", "2"), RG_OK);
    assert_int_equal(train(&c, resumed), RG_OK);
    assert_memory_equal(whole, resumed, 24 * sizeof(float));
    rgt_rmtree(dir);
    rgt_rmtree(ref);
    free(dir);
    free(ref);
}

static void test_old_worker_rows(void **state)
{
    (void)state;
    old_worker_rows(WA_OLD_N);
}

static void test_old2_worker_rows(void **state)
{
    (void)state;
    old_worker_rows(WA_OLD2_N);
}

static char g_warned[2048];
static void catch_log(const char *msg, void *ud)
{
    (void)ud;
    snprintf(g_warned, sizeof g_warned, "%s", msg);
}

static void test_nonfinite_state_is_damage(void **state)
{
    (void)state;
    static const struct { const char *tensor; double value; const char *says; } cases[] = {
        { "optimizer.1", INFINITY, "tensor 'optimizer.1' element 7 is infinite" },
        { "optimizer.0", NAN, "tensor 'optimizer.0' element 7 is NaN" },
        { "train.lambda", INFINITY, "tensor 'train.lambda' element 0 is infinite" },
    };
    float whole[64], resumed[64];
    char *ref = rgt_tmpdir();
    rg_config c;
    config(&c, ref);
    assert_int_equal(train(&c, whole), RG_OK);   /* 12 steps */
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *dir = rgt_tmpdir();
        config(&c, dir);
        assert_int_equal(train(&c, NULL), RG_OK);   /* checkpoints 4, 8, 12 */
        const char *newest = rgt_path(dir, "ckpt-000000000012.safetensors");
        poison(newest, cases[k].tensor, cases[k].tensor[0] == 'o' ? 7 : 0, cases[k].value);
        /* the newest is damage: warned, and the one of step 8 is used */
        rg_set_log(catch_log, NULL);
        g_warned[0] = 0;
        assert_int_equal(train(&c, resumed), RG_OK);
        rg_set_log(NULL, NULL);
        if (!strstr(g_warned, cases[k].says)) fail_msg("warning: '%s'", g_warned);
        assert_memory_equal(whole, resumed, 24 * sizeof(float));
        rgt_rmtree(dir);
        free(dir);
    }
    /* a lone poisoned checkpoint: nothing to fall back to */
    char *dir = rgt_tmpdir();
    config(&c, dir);
    rg_config_set(&c, "epochs", "1");
    assert_int_equal(train(&c, NULL), RG_OK);
    poison(rgt_path(dir, "ckpt-000000000004.safetensors"), "optimizer.1", 3, INFINITY);
    rg_set_log(catch_log, NULL);
    assert_int_equal(train(&c, NULL), RG_EDATA);
    rg_set_log(NULL, NULL);
    if (!strstr(rg_last_error(), "none of its 1 checkpoints is readable") ||
        !strstr(rg_last_error(), "tensor 'optimizer.1' element 3 is infinite"))
        fail_msg("%s", rg_last_error());
    rgt_rmtree(dir);
    free(dir);
    rgt_rmtree(ref);
    free(ref);
}

/* Rewrites the checkpoint at path without tensor `name`, re-signed. */
static void drop_tensor(const char *path, const char *name)
{
    rg_st *st;
    assert_int_equal(rg_st_read(path, &st), RG_OK);
    size_t n = rg_st_count(st), nm = rg_st_meta_count(st), k = 0;
    rg_st_tensor_in in[32];
    const char *kv[64];
    assert_true(n <= 32 && nm <= 32);
    for (size_t i = 0; i < n; i++) {
        const rg_st_tensor *t = rg_st_at(st, i);
        if (!strcmp(t->name, name)) continue;
        in[k] = (rg_st_tensor_in){ .name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data };
        memcpy(in[k++].shape, t->shape, sizeof t->shape);
    }
    assert_int_equal(k, n - 1);
    for (size_t j = 0; j < nm; j++) rg_st_meta_at(st, j, &kv[2 * j], &kv[2 * j + 1]);
    assert_int_equal(rg_st_write(path, in, k, kv, nm, 0), RG_OK);
    rg_st_free(st);
    resign(path);
}

/* regula fed, deterministic, a round's checkpoint each round in dir. */
static void fed_config(rg_config *c, const char *dir, const char *algo, const char *rounds)
{
    rg_config_defaults(c);
    rg_config_set(c, "model", "dense(6, relu) dense(3, softmax)");
    rg_config_set(c, "batch", "8");
    rg_config_set(c, "log-every", "0");
    rg_config_set(c, "clients", "6");
    rg_config_set(c, "sample", "0.5");
    rg_config_set(c, "partition", "dirichlet:0.5");
    rg_config_set(c, "algo", algo);
    rg_config_set(c, "rounds", rounds);
    rg_config_set(c, "deterministic", "true");
    rg_config_set(c, "checkpoint-every-epoch", "true");
    rg_config_set(c, "keep", "5");
    rg_config_set(c, "resume", dir);
}

static const char *newest_in(const char *dir)
{
    static char name[64];
    size_t n;
    assert_int_equal(rg_ckpt_count(dir, &n, name, sizeof name), RG_OK);
    assert_true(n > 0);
    return rgt_path(dir, name);
}

/* regula fed's state in its checkpoints (fed.*): SCAFFOLD's server and
 * clients resume bitwise; a checkpoint whose fed tensors do not fit each
 * other is damage (the one before it is used); one without the state the
 * run keeps ('fed.server' gone, as in a file from before these tensors)
 * is refused, RG_EDATA naming the file and the tensor; fedprox keeps none,
 * so its checkpoints are as they were before. */
static void test_fed_state(void **state)
{
    (void)state;
    float whole[64], resumed[64];
    char *ref = rgt_tmpdir(), *dir = rgt_tmpdir(), *bad = rgt_tmpdir(), *plain = rgt_tmpdir();
    rg_config c;
    fed_config(&c, ref, "scaffold", "3");
    assert_int_equal(train(&c, whole), RG_OK);
    fed_config(&c, dir, "scaffold", "2");
    assert_int_equal(train(&c, NULL), RG_OK);
    rg_st *st;
    assert_int_equal(rg_st_read(newest_in(dir), &st), RG_OK);
    assert_int_equal(rg_st_find(st, "fed.server")->shape[0], 1);   /* c (its scratch is not kept) */
    assert_int_equal(rg_st_find(st, "fed.client_state")->shape[0], rg_st_find(st, "fed.clients")->shape[0]);
    rg_st_free(st);
    same_lazy(newest_in(dir));
    fed_config(&c, dir, "scaffold", "3");
    assert_int_equal(train(&c, resumed), RG_OK);
    assert_memory_equal(whole, resumed, 57 * sizeof(float));

    /* the clients' states, read from the file a chunk at a time, are checked as the rest: a NaN
     * (re-signed) or a flipped byte there is damage, and the round before is resumed from */
    for (int flip = 0; flip < 2; flip++) {
        rgt_rmtree(bad);
        fed_config(&c, bad, "scaffold", "2");
        assert_int_equal(train(&c, NULL), RG_OK);
        const char *newest = newest_in(bad);
        if (flip) poison_raw(newest, "fed.client_state", 5);
        else poison(newest, "fed.client_state", 5, NAN);
        fed_config(&c, bad, "scaffold", "3");
        rg_set_log(catch_log, NULL);
        g_warned[0] = 0;
        assert_int_equal(train(&c, resumed), RG_OK);
        rg_set_log(NULL, NULL);
        if (!strstr(g_warned, flip ? "checksum mismatch" : "tensor 'fed.client_state' element 5 is NaN"))
            fail_msg("warning: '%s'", g_warned);
        assert_memory_equal(whole, resumed, 57 * sizeof(float));
    }
    rgt_rmtree(bad);

    fed_config(&c, bad, "scaffold", "2");
    assert_int_equal(train(&c, NULL), RG_OK);
    drop_tensor(newest_in(bad), "fed.client_state");
    fed_config(&c, bad, "scaffold", "3");
    rg_set_log(catch_log, NULL);
    g_warned[0] = 0;
    assert_int_equal(train(&c, resumed), RG_OK);
    rg_set_log(NULL, NULL);
    if (!strstr(g_warned, "federated tensors")) fail_msg("warning: '%s'", g_warned);
    assert_memory_equal(whole, resumed, 57 * sizeof(float));
    const char *last = newest_in(bad);
    drop_tensor(last, "fed.server");
    assert_int_equal(train(&c, NULL), RG_EDATA);
    if (!strstr(rg_last_error(), last) || !strstr(rg_last_error(), "'fed.server'") ||
        !strstr(rg_last_error(), "--algo scaffold keeps 1"))
        fail_msg("%s", rg_last_error());

    fed_config(&c, plain, "fedprox", "2");
    assert_int_equal(train(&c, NULL), RG_OK);
    assert_int_equal(rg_st_read(newest_in(plain), &st), RG_OK);
    /* fedprox keeps nothing between rounds: of the federated tensors only the round's figures */
    for (size_t i = 0; i < rg_st_count(st); i++)
        assert_true(strncmp(rg_st_at(st, i)->name, "fed.", 4) != 0 || !strcmp(rg_st_at(st, i)->name, "fed.round"));
    const rg_st_tensor *fr = rg_st_find(st, "fed.round");
    assert_non_null(fr);
    assert_int_equal(fr->shape[0], RG_FED_ROUND_N);
    rg_st_free(st);
    /* a checkpoint from before fed.round resumes, as one from before any fed tensor */
    drop_tensor(newest_in(plain), "fed.round");
    fed_config(&c, plain, "fedprox", "3");
    assert_int_equal(train(&c, NULL), RG_OK);
    char *dirs[] = { ref, dir, bad, plain };
    for (int i = 0; i < 4; i++) {
        rgt_rmtree(dirs[i]);
        free(dirs[i]);
    }
}

/* A checkpoint written before a flag existed has no key for it: a run
 * that leaves the flag off resumes from it, one that sets it is refused
 * (--local-moments and --pull-first came after checkpoints were made). */
static void test_checkpoint_before_flags(void **state)
{
    (void)state;
    const char *flags[] = {"local-moments", "pull-first"};
    for (int i = 0; i < 2; i++) {
        rg_config c;
        rg_config_defaults(&c);
        char *json = rg_config_json(&c);
        cJSON *o = cJSON_Parse(json);
        assert_non_null(cJSON_GetObjectItemCaseSensitive(o, flags[i]));
        cJSON_DeleteItemFromObjectCaseSensitive(o, flags[i]);
        char *old = cJSON_PrintUnformatted(o);
        if (rg_config_resume_check(&c, old, "ck") != RG_OK) fail_msg("--%s unset: %s", flags[i], rg_last_error());
        assert_int_equal(rg_config_set(&c, flags[i], NULL), RG_OK);
        assert_int_equal(rg_config_resume_check(&c, old, "ck"), RG_EUSAGE);
        assert_non_null(strstr(rg_last_error(), flags[i]));
        cJSON_Delete(o);
        free(old);
        free(json);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_worker_rows),
        cmocka_unit_test(test_old2_worker_rows),
        cmocka_unit_test(test_nonfinite_state_is_damage),
        cmocka_unit_test(test_fed_state),
        cmocka_unit_test(test_checkpoint_before_flags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
