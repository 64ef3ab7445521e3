/* Data parallelism on worker threads: 1, 2 and 4 workers agree (to
 * summation order; bitwise under --deterministic), local and global
 * penalties agree under uniform strength, skewed partitions with empty
 * workers neither hang nor lose samples, non-finite losses stop every
 * worker at one step, and per-worker strengths keep their weighted mean. */
#include "support.h"
#include "regula.h"
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rg_dataset *g_train, *g_test;

static int setup(void **state)
{
    g_train = rgt_blobs(480, 1);
    g_test = rgt_blobs(200, 2);
    return 0;
}

static int teardown(void **state)
{
    rg_dataset_free(g_train);
    rg_dataset_free(g_test);
    return 0;
}

typedef struct run {
    float *params;
    size_t n;
    rg_train_result r;
    rg_status st;
} run;

/* The tests' configuration, then extra options as "k", "v" pairs. */
static void config_with(rg_config *c, const char *const *kv)
{
    rg_config_defaults(c);
    rg_config_set(c, "model", "dense(16, relu, l2=0.01) dropout(0.25) dense(4, softmax, l1=0.001, l2=0.01)");
    rg_config_set(c, "epochs", "3");
    rg_config_set(c, "batch", "32");
    rg_config_set(c, "lr", "0.01");
    rg_config_set(c, "log-every", "0");
    for (; kv && kv[0]; kv += 2)
        if (rg_config_set(c, kv[0], kv[1]) != RG_OK) fail_msg("%s", rg_last_error());
}

/* Trains the shared model with extra options "k=v" pairs. */
static run train_with(const char *const *kv)
{
    rg_config c;
    config_with(&c, kv);
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, 8, c.seed, &m), RG_OK);
    run out = {0};
    out.st = rg_train(&c, m, g_train, g_test, g_test, NULL, NULL, &out.r);
    out.n = rg_model_param_count(m);
    out.params = malloc(out.n * sizeof(float));
    memcpy(out.params, rg_model_params(m), out.n * sizeof(float));
    rg_model_free(m);
    return out;
}

static double max_abs_diff(const run *a, const run *b)
{
    double d = 0;
    for (size_t i = 0; i < a->n; i++) d = fmax(d, fabs((double)a->params[i] - b->params[i]));
    return d;
}

static void test_workers_agree(void **state)
{
    const char *w2[] = {"workers", "2", NULL}, *w4[] = {"workers", "4", NULL}, *w3[] = {"workers", "3", NULL};
    run a = train_with(NULL), b = train_with(w2), c4 = train_with(w4), c3 = train_with(w3);
    assert_int_equal(a.st, RG_OK);
    assert_int_equal(b.st, RG_OK);
    assert_int_equal(c4.st, RG_OK);
    assert_int_equal(c3.st, RG_OK);
    /* the same samples, masks and updates: only the order of float sums
     * differs: after 45 Adam steps the weights agree to ~1e-7; we allow 1e-5 */
    double d2 = max_abs_diff(&a, &b), d4 = max_abs_diff(&a, &c4), d3 = max_abs_diff(&a, &c3);
    print_message("max |w1 - w2| %.3g, |w1 - w3| %.3g, |w1 - w4| %.3g\n", d2, d3, d4);
    assert_true(d2 < 1e-5);
    assert_true(d3 < 1e-5);
    assert_true(d4 < 1e-5);
    assert_true(fabs(a.r.test_loss - c4.r.test_loss) < 1e-4);
    free(a.params); free(b.params); free(c4.params); free(c3.params);
}

static void test_sharded_update_with_clipping_and_momentum(void **state)
{
    /* the sharded optimizer (each worker updates a slice) clips on the
     * global norm and keeps per-slice momentum like one worker does */
    const char *k1[] = {"clip-norm", "0.05", "optimizer", "sgd", "momentum", "0.9", "lr", "0.1", NULL};
    const char *k3[] = {"clip-norm", "0.05", "optimizer", "sgd", "momentum", "0.9", "lr", "0.1", "workers", "3",
                        "shard-optimizer", "true", NULL};
    const char *k3n[] = {"optimizer", "sgd", "momentum", "0.9", "lr", "0.1", "workers", "3", NULL};
    const char *k4s[] = {"workers", "4", "shard-optimizer", "true", NULL};
    run a = train_with(k1), b = train_with(k3), c = train_with(k3n), base = train_with(NULL), s4 = train_with(k4s);
    assert_true(max_abs_diff(&base, &s4) < 1e-5);   /* Adam, sharded over 4 */
    free(base.params); free(s4.params);
    assert_int_equal(b.st, RG_OK);
    double d = max_abs_diff(&a, &b);
    print_message("clip+momentum: max |w1 - w3| %.3g, without clipping %.3g\n", d, max_abs_diff(&a, &c));
    assert_true(d < 1e-5);
    assert_true(max_abs_diff(&a, &c) > 1e-3);   /* clipping was active */
    free(a.params); free(b.params); free(c.params);
}

/* The figures of every epoch event ("loss", "acc", "val_loss", ...) as
 * text, one line per epoch: what a user diffing two logs compares. */
static char *epoch_figures(const char *path)
{
    static const char *const keys[] = {"\"loss\":", "\"reg_loss\":", "\"acc\":", "\"val_loss\":", "\"val_acc\":", "\"lr\":"};
    char *t = rgt_read(path, NULL), *out = calloc(1, 1 << 16);
    assert_non_null(t);
    for (char *p = t; (p = strstr(p, "\"event\":\"epoch\"")); p++) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            char *v = strstr(p, keys[k]);
            assert_non_null(v);
            size_t n = strcspn(v, ",}");
            strncat(out, v, n);
            strcat(out, " ");
        }
        strcat(out, "\n");
    }
    free(t);
    return out;
}

static void test_deterministic_is_bitwise(void **state)
{
    /* weights, and every figure a user sees: the epoch events' figures and
     * the final test and training figures, for 1, 2 and 4 workers */
    char *dir = rgt_tmpdir();
    const char *l1 = rgt_path(dir, "1.jsonl"), *l2 = rgt_path(dir, "2.jsonl"), *l4 = rgt_path(dir, "4.jsonl");
    const char *k1[] = {"deterministic", "true", "det-shards", "4", "log", l1, NULL};
    const char *k2[] = {"deterministic", "true", "det-shards", "4", "workers", "2", "log", l2, NULL};
    const char *k4[] = {"deterministic", "true", "det-shards", "4", "workers", "4", "log", l4, NULL};
    run a = train_with(k1), b = train_with(k2), c = train_with(k4);
    assert_int_equal(a.st, RG_OK);
    assert_memory_equal(a.params, b.params, a.n * sizeof(float));
    assert_memory_equal(a.params, c.params, a.n * sizeof(float));
    const run *others[2] = { &b, &c };
    for (int k = 0; k < 2; k++) {
        const rg_train_result *r = &others[k]->r;
        assert_memory_equal(&a.r.test_loss, &r->test_loss, sizeof(double));
        assert_memory_equal(&a.r.test_acc, &r->test_acc, sizeof(double));
        assert_memory_equal(&a.r.train_loss, &r->train_loss, sizeof(double));
        assert_memory_equal(&a.r.train_acc, &r->train_acc, sizeof(double));
    }
    char *f1 = epoch_figures(l1), *f2 = epoch_figures(l2), *f4 = epoch_figures(l4);
    print_message("epoch figures, 1 worker:\n%s", f1);
    assert_true(strlen(f1) > 100);
    assert_string_equal(f1, f2);
    assert_string_equal(f1, f4);
    free(f1); free(f2); free(f4);
    /* a worker count that does not divide the shards is refused */
    const char *k3[] = {"deterministic", "true", "det-shards", "4", "workers", "3", NULL};
    run d = train_with(k3);
    assert_int_equal(d.st, RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "do not divide"));
    free(a.params); free(b.params); free(c.params); free(d.params);
    rgt_rmtree(dir);
    free(dir);
}

static void test_early_stopping_and_maxnorm_with_workers(void **state)
{
    /* early stopping decides on all-reduced validation figures and restores
     * the best weights; max-norm is applied once to the shared weights */
    const char *k1[] = {"deterministic", "true", "det-shards", "4", "early-stop", "1", "epochs", "12", "lr", "0.2",
                        "model", "dense(16, relu, maxnorm=0.5) dense(4, softmax)", NULL};
    const char *k4[] = {"deterministic", "true", "det-shards", "4", "early-stop", "1", "epochs", "12", "lr", "0.2",
                        "model", "dense(16, relu, maxnorm=0.5) dense(4, softmax)", "workers", "4", NULL};
    run a = train_with(k1), b = train_with(k4);
    assert_int_equal(a.st, RG_OK);
    assert_int_equal(b.st, RG_OK);
    assert_true(a.r.stopped_early);
    assert_int_equal(a.r.best_epoch, b.r.best_epoch);
    assert_int_equal(a.r.epochs_run, b.r.epochs_run);
    assert_memory_equal(a.params, b.params, a.n * sizeof(float));
    free(a.params); free(b.params);
}

/* Over 1 MiB of weights: worker threads share one copy and each updates a
 * slice (smaller models keep a replica per worker). */
#define BIG "dense(512, relu, l2=0.001, maxnorm=2) dense(512, relu) dense(4, softmax, l1=0.001)"

/* BIG less its L1 term, for the comparison within rounding: a weight L1
 * holds at zero moves by about lr at every Adam step, one way or the other
 * as the sign of a sum near zero falls, so with L1 two summation orders
 * may part by many steps' worth (0.0101 here with --gemm auto's LIBXSMM
 * products under OpenBLAS's AVX-512 kernels, against 3e-6 to 1.7e-5 with
 * every kernel without it).  The deterministic half below keeps BIG's L1. */
#define BIG_SMOOTH "dense(512, relu, l2=0.001, maxnorm=2) dense(512, relu) dense(4, softmax)"

static void test_shared_weights_agree(void **state)
{
    const char *k1[] = {"model", BIG_SMOOTH, "epochs", "2", NULL};
    const char *k3[] = {"model", BIG_SMOOTH, "epochs", "2", "workers", "3", NULL};
    run a = train_with(k1), b = train_with(k3);
    assert_int_equal(b.st, RG_OK);
    assert_true(a.n * sizeof(float) > (1u << 20));
    double d = max_abs_diff(&a, &b);
    print_message("shared weights: max |w1 - w3| %.3g\n", d);
    /* two epochs summed in another order: 2.6e-6 to 6.3e-6 under OpenBLAS's
     * Haswell, SkylakeX, Sandybridge and Cooperlake kernels, with --gemm
     * auto and openblas (make test-numerics) */
    assert_true(d < 1e-4);
    const char *d1[] = {"model", BIG, "epochs", "6", "deterministic", "true", "det-shards", "4", "early-stop", "1",
                        "lr", "0.05", "clip-norm", "1", NULL};
    const char *d4[] = {"model", BIG, "epochs", "6", "deterministic", "true", "det-shards", "4", "early-stop", "1",
                        "lr", "0.05", "clip-norm", "1", "workers", "4", NULL};
    run c = train_with(d1), e = train_with(d4);
    assert_int_equal(e.st, RG_OK);
    assert_int_equal(c.r.best_epoch, e.r.best_epoch);
    assert_memory_equal(c.params, e.params, c.n * sizeof(float));
    free(a.params); free(b.params); free(c.params); free(e.params);
}

static void test_local_equals_global_under_uniform_strength(void **state)
{
    const char *g[] = {"workers", "2", "reg-scope", "global", NULL};
    const char *l[] = {"workers", "2", "reg-scope", "local", NULL};
    run a = train_with(g), b = train_with(l);
    double d = max_abs_diff(&a, &b);
    print_message("max |global - local| %.3g\n", d);
    assert_true(d < 1e-5);
    /* and the penalty matters: without it the weights differ by far more */
    const char *none[] = {"workers", "2", "model", "dense(16, relu) dropout(0.25) dense(4, softmax)", NULL};
    run c = train_with(none);
    assert_true(max_abs_diff(&a, &c) > 100 * d);
    free(a.params); free(b.params); free(c.params);
}

/* Reads the first epoch event's "samples" array. */
static int log_samples(const char *path, double *out, int max)
{
    char *t = rgt_read(path, NULL);
    assert_non_null(t);
    char *p = strstr(t, "\"samples\":[");
    assert_non_null(p);
    p += 11;
    int k = 0;
    while (k < max && *p && *p != ']') {
        out[k++] = strtod(p, &p);
        if (*p == ',') p++;
    }
    free(t);
    return k;
}

static void test_empty_partition_does_not_hang(void **state)
{
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "q.jsonl");
    /* quantity skew with a tiny alpha leaves some workers without data */
    const char *kv[] = {"workers", "4", "partition", "quantity:0.05", "seed", "3", "log", log, NULL};
    run a = train_with(kv);
    assert_int_equal(a.st, RG_OK);
    double s[8];
    assert_int_equal(log_samples(log, s, 8), 4);
    int empty = 0;
    double total = 0;
    for (int k = 0; k < 4; k++) { empty += s[k] == 0; total += s[k]; }
    assert_true(empty >= 1);          /* the case under test happened */
    assert_float_equal(total, 480, 0); /* every sample trained once an epoch */
    assert_int_equal(a.r.epochs_run, 3);
    free(a.params);
    rgt_rmtree(dir);
    free(dir);
}

/* A gradient beyond Adam's limit (a sample of 1e22 features) and an update
 * that overflows (SGD at lr 3e38) stop every worker at that step on every
 * exchange path: replicas, shared weights, ZeRO-1, deterministic shards. */
static void test_overflow_on_every_path(void **state)
{
    (void)state;
    enum { n = 64, d = 8 };
    float *x = malloc(n * d * sizeof(float)), *big = malloc(n * d * sizeof(float));
    memcpy(x, rg_dataset_x(g_train), n * d * sizeof(float));
    for (int i = 0; i < n * d; i++) big[i] = x[i] * 1000.0f;
    for (int j = 0; j < d; j++) x[9 * d + j] = 1e22f;
    rg_dataset *huge, *loud;
    assert_int_equal(rg_dataset_from_arrays(x, rg_dataset_y(g_train), n, d, &huge), RG_OK);
    assert_int_equal(rg_dataset_from_arrays(big, rg_dataset_y(g_train), n, d, &loud), RG_OK);
    const char *paths[][8] = {
        {"workers", "2", NULL},
        {"workers", "2", "model", "dense(600, relu) dense(600, relu) dense(4, softmax)", NULL},   /* shared */
        {"workers", "3", "shard-optimizer", "true", NULL},
        {"workers", "2", "deterministic", "true", "det-shards", "4", NULL},
    };
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++)
        for (int kind = 0; kind < 2; kind++) {
            rg_config c;
            config_with(&c, paths[p]);
            rg_config_set(&c, "no-shuffle", NULL);
            rg_config_set(&c, "batch", "16");
            if (kind == 1) { rg_config_set(&c, "optimizer", "sgd"); rg_config_set(&c, "lr", "3e38"); }
            rg_model *m;
            assert_int_equal(rg_model_create(c.model, d, c.seed, &m), RG_OK);
            rg_train_result r;
            rg_status st = rg_train(&c, m, kind ? loud : huge, NULL, NULL, NULL, NULL, &r);
            /* (a huge sample the model already classifies right has a zero
             * gradient: the stop may come when it is next seen) */
            const char *want = kind ? "the update of step 1 (epoch 1) made a weight" : "non-finite loss or gradient at step";
            if (st != RG_ENONFINITE || !strstr(rg_last_error(), want))
                fail_msg("path %zu, %s: status %d, '%s'", p, kind ? "update" : "gradient", st, rg_last_error());
            assert_true(kind ? r.nonfinite_step == 1 : r.nonfinite_step % 4 == 1);   /* the batch holding it */
            rg_model_free(m);
        }
    rg_dataset_free(huge);
    rg_dataset_free(loud);
    free(x);
    free(big);
}

static void test_nonfinite_stops_all_workers(void **state)
{
    const char *kv[] = {"workers", "3", "optimizer", "sgd", "lr", "1e30", NULL};
    run a = train_with(kv);
    assert_int_equal(a.st, RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "non-finite loss or gradient at step"));
    free(a.params);
}

/* An allocation that fails inside one worker thread (setting up, in a step,
 * in a checkpoint's collective or write) stops every worker: rg_train
 * returns, nobody hangs, and the status and message are the failing
 * worker's.  Swept over the allocations of a whole run with 3 workers. */
static atomic_long g_calls, g_fail_at;
static void *failing_alloc(size_t n, void *ud)
{
    (void)ud;
    if (atomic_fetch_add(&g_calls, 1) == atomic_load(&g_fail_at)) return NULL;
    return malloc(n);
}
static void plain_free(void *p, void *ud) { (void)ud; free(p); }

static void test_failure_in_one_worker_stops_all(void **state)
{
    char *dir = rgt_tmpdir();
    rg_config c;
    const char *kv[] = {"model", "dense(16, relu, l2=0.01) dropout(0.25) dense(4, softmax)", "epochs", "2",
                        "lr", "0.001", "workers", "3", "checkpoint-every", "5",
                        "checkpoint-dir", rgt_path(dir, "ck"), NULL};
    config_with(&c, kv);
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, 8, c.seed, &m), RG_OK);
    atomic_store(&g_fail_at, -1);
    atomic_store(&g_calls, 0);
    rg_set_allocator(failing_alloc, plain_free, NULL);
    rg_status st = rg_train(&c, m, g_train, g_test, g_test, NULL, NULL, NULL);
    if (st != RG_OK) fail_msg("%s", rg_last_error());
    long total = atomic_load(&g_calls);
    rg_set_allocator(NULL, NULL, NULL);
    assert_int_equal(st, RG_OK);
    assert_true(total > 50);
    int tried = 0;
    for (long k = 0; k < total; k += 1 + total / 80) {
        rgt_rmtree(rgt_path(dir, "ck"));   /* each run starts with no checkpoint */
        atomic_store(&g_calls, 0);
        atomic_store(&g_fail_at, k);
        rg_set_allocator(failing_alloc, plain_free, NULL);
        st = rg_train(&c, m, g_train, g_test, g_test, NULL, NULL, NULL);
        rg_set_allocator(NULL, NULL, NULL);
        if (atomic_load(&g_calls) <= k) continue;   /* this run allocated less: not reached */
        tried++;
        if (st != RG_ENOMEM || !strstr(rg_last_error(), "out of memory"))
            fail_msg("allocation %ld of %ld failed: status %d, message '%s'", k, total, st, rg_last_error());
    }
    assert_true(tried > 40);
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
}

/* Two workers whose own gradients are finite but whose sum is not: each
 * has one sample x = 1e38 through dense(1, linear) dense(2, softmax) with
 * weights set so that d loss / d w1 = 0.5 * 4 * x = 2e38 on each worker;
 * their sum, 4e38, overflows a float.  Caught at that step, after the
 * exchange, naming it so (not one step later through a NaN loss). */
static void test_summed_gradient_overflow_is_caught(void **state)
{
    (void)state;
    const float x[2] = { 1e38f, 1e38f };
    const int32_t y[2] = { 0, 0 };
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, y, 2, 1, &ds), RG_OK);
    const char *kv[] = {"model", "dense(1, linear, bias=false) dense(2, softmax, bias=false)", "optimizer", "sgd",
                        "workers", "2", "batch", "2", "epochs", "1", NULL};
    rg_config c;
    config_with(&c, kv);
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, 1, c.seed, &m), RG_OK);
    float *w = rg_model_params(m);   /* dense_0 [1,1], then dense_1 [2,1] */
    w[0] = 1e-37f;                   /* h = 10: logits (-20, 20), p - y = (-1, 1) */
    w[1] = -2.0f;
    w[2] = 2.0f;
    rg_train_result r;
    rg_status st = rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r);
    assert_int_equal(st, RG_ENONFINITE);
    if (!strstr(rg_last_error(), "the summed gradient overflowed at step 1"))
        fail_msg("message: %s", rg_last_error());
    assert_int_equal(r.nonfinite_step, 1);
    rg_model_free(m);
    rg_dataset_free(ds);
}

static void test_adapted_strengths_keep_their_mean(void **state)
{
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "a.jsonl");
    const char *kv[] = {"workers", "4", "partition", "dirichlet:0.3", "reg-scope", "local", "reg-adapt", "size", "log", log, NULL};
    run a = train_with(kv);
    assert_int_equal(a.st, RG_OK);
    double s[8], lam[8];
    assert_int_equal(log_samples(log, s, 8), 4);
    char *t = rgt_read(log, NULL);
    char *p = strstr(t, "\"lambda\":[") + 10;
    for (int k = 0; k < 4; k++) { lam[k] = strtod(p, &p); if (*p == ',') p++; }
    free(t);
    double num = 0, den = 0;
    int differ = 0;
    for (int k = 0; k < 4; k++) { num += s[k] * lam[k]; den += s[k]; differ += fabs(lam[k] - 1) > 0.01; }
    /* the share-weighted mean is 1 (test_adapted_strength_is_the_configured_one
     * proves it); with proportional batches the shares are the part sizes,
     * to a sample per step */
    assert_float_equal(num / den, 1.0, 1e-2);
    assert_true(differ > 0);                    /* and the policy did something */
    /* size: fewer samples, stronger penalty */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (s[i] > 0 && s[j] > 0 && s[i] < s[j]) assert_true(lam[i] > lam[j]);
    /* skew and divergence keep the mean too (divergence rewrites the factors
     * every epoch on every worker: make test-tsan watches that) */
    const char *pols[] = {"skew", "divergence"};
    for (int q = 0; q < 2; q++) {
        const char *kq[] = {"workers", "4", "partition", "dirichlet:0.3", "reg-scope", "local", "reg-adapt", pols[q],
                            "log", log, NULL};
        run r = train_with(kq);
        assert_int_equal(r.st, RG_OK);
        char *tq = rgt_read(log, NULL), *last = tq, *at;
        while ((at = strstr(last + 1, "\"lambda\":["))) last = at;   /* the last epoch's factors */
        char *pq = last + 10;
        double nq = 0, dq = 0;
        int moved = 0;
        for (int k = 0; k < 4; k++) {
            double l = strtod(pq, &pq);
            if (*pq == ',') pq++;
            nq += s[k] * l;
            dq += s[k];
            moved += fabs(l - 1) > 0.001;
        }
        free(tq);
        assert_float_equal(nq / dq, 1.0, 1e-2);
        assert_true(moved > 0);
        free(r.params);
    }
    /* adaptation needs the local scope, and skewed data */
    const char *bad[] = {"reg-adapt", "size", "partition", "dirichlet:0.3", NULL};
    run b = train_with(bad);
    assert_int_equal(b.st, RG_EUSAGE);
    const char *bad2[] = {"reg-adapt", "size", "reg-scope", "local", NULL};
    run b2 = train_with(bad2);
    assert_int_equal(b2.st, RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "skewed --partition"));
    free(a.params); free(b.params); free(b2.params);
    rgt_rmtree(dir);
    free(dir);
}

/* The configured penalty is what an epoch applies on average, whatever
 * the per-worker strengths and the batch split.  A weight fed by an input
 * that is always 0 has no data gradient, so plain SGD shrinks it at step t
 * by (1 - 2 lr l2 s_t), s_t = sum_k lambda_k b_k(t) / B(t) the step's
 * total strength: ln(w_T / w_0) / ln(1 - 2 lr l2) measures sum_t s_t,
 * which a global penalty makes the step count S.  Under equal batches the
 * first steps, where both workers take B/2, apply (lambda_0 + lambda_1)/2:
 * were the strengths ignored, that would be 1; were they normalised by
 * part size, as before, the epoch would apply 0.8 of the penalty here. */
static void test_adapted_strength_is_the_configured_one(void **state)
{
    (void)state;
    enum { n = 480, d = 9 };
    float *x = calloc(n * d, sizeof(float));
    for (int i = 0; i < n; i++) memcpy(x + i * d, rg_dataset_x(g_train) + i * 8, 8 * sizeof(float));
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, rg_dataset_y(g_train), n, d, &ds), RG_OK);
    char *dir = rgt_tmpdir();
    const char *modes[2] = { "proportional", "equal" };
    const double c = 2 * 0.01 * 0.01;   /* 2 lr l2 */
    for (int mode = 0; mode < 2; mode++) {
        double total[2], early = 0.0, lam[2], samples[2];
        for (int adapt = 0; adapt < 2; adapt++) {
            char name[16];
            snprintf(name, sizeof name, "ck%d%d", mode, adapt);
            const char *lg = rgt_path(dir, "a.jsonl"), *ck = rgt_path(dir, name);
            const char *kv[] = {"model", "dense(4, softmax, l2=0.01)", "optimizer", "sgd", "lr", "0.01", "epochs", "1",
                                "workers", "2", "partition", "quantity:2", "seed", "2", "worker-batch", modes[mode],
                                "reg-scope", adapt ? "local" : "global", "reg-adapt", adapt ? "size" : "none",
                                "log", lg, "checkpoint-every", "2", "checkpoint-dir", ck, "keep", "100", NULL};
            rg_config cf;
            config_with(&cf, kv);
            rg_model *m, *m2;
            assert_int_equal(rg_model_create(cf.model, d, cf.seed, &m), RG_OK);
            float w0[4];
            for (int o = 0; o < 4; o++) w0[o] = rg_model_params(m)[o * d + 8];
            if (rg_train(&cf, m, ds, NULL, NULL, NULL, NULL, NULL) != RG_OK) fail_msg("%s", rg_last_error());
            double sum = 0.0;
            for (int o = 0; o < 4; o++) sum += log(rg_model_params(m)[o * d + 8] / w0[o]) / log(1 - c) / 4;
            total[adapt] = sum;
            if (adapt) {
                assert_int_equal(log_samples(lg, samples, 2), 2);
                char *t = rgt_read(lg, NULL), *p = strstr(t, "\"lambda\":[") + 10;
                lam[0] = strtod(p, &p);
                lam[1] = strtod(p + 1, NULL);
                free(t);
                /* the first two steps, from the checkpoint after them */
                assert_int_equal(rg_model_load(rgt_path(ck, "ckpt-000000000002.safetensors"), &m2), RG_OK);
                for (int o = 0; o < 4; o++) early += log(rg_model_params(m2)[o * d + 8] / w0[o]) / log(1 - c) / 4;
                rg_model_free(m2);
            }
            rg_model_free(m);
        }
        print_message("%s: sizes %.0f/%.0f, lambda %.4f/%.4f, epoch strength %.5f of %.5f, first steps %.4f\n",
                      modes[mode], samples[0], samples[1], lam[0], lam[1], total[1], total[0], early / 2);
        assert_true(fabs(lam[0] - lam[1]) > 0.5);               /* the policy did something */
        assert_float_equal(total[1] / total[0], 1.0, 2e-3);     /* the configured penalty, on average */
        if (mode == 1) assert_float_equal(early / 2, (lam[0] + lam[1]) / 2, 2e-3);   /* ... from lambda_k */
    }
    rgt_rmtree(dir);
    free(dir);
    free(x);
    rg_dataset_free(ds);
}

/* Proportional batches end every part with the epoch: as many steps as an
 * iid run, every sample once; equal batches last as long as the largest
 * part. */
static void test_proportional_batches(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *log = rgt_path(dir, "p.jsonl");
    int steps[2];
    for (int mode = 0; mode < 2; mode++) {
        const char *kv[] = {"workers", "4", "partition", "dirichlet:0.3", "worker-batch", mode ? "equal" : "proportional",
                            "log", log, "log-every", "1", "epochs", "1", NULL};
        run a = train_with(kv);
        assert_int_equal(a.st, RG_OK);
        char *t = rgt_read(log, NULL);
        steps[mode] = 0;
        for (char *p = t; (p = strstr(p, "\"event\":\"step\"")); p++) steps[mode]++;
        free(t);
        double s[4], total = 0;
        assert_int_equal(log_samples(log, s, 4), 4);
        for (int k = 0; k < 4; k++) total += s[k];
        assert_float_equal(total, 480, 0);   /* every sample, once */
        free(a.params);
    }
    assert_int_equal(steps[0], 15);          /* 480 / 32, as with iid */
    assert_true(steps[1] > 15);              /* the largest part's ceil(n_k / 8) */
    rgt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workers_agree),
        cmocka_unit_test(test_sharded_update_with_clipping_and_momentum),
        cmocka_unit_test(test_deterministic_is_bitwise),
        cmocka_unit_test(test_early_stopping_and_maxnorm_with_workers),
        cmocka_unit_test(test_shared_weights_agree),
        cmocka_unit_test(test_local_equals_global_under_uniform_strength),
        cmocka_unit_test(test_empty_partition_does_not_hang),
        cmocka_unit_test(test_nonfinite_stops_all_workers),
        cmocka_unit_test(test_overflow_on_every_path),
        cmocka_unit_test(test_failure_in_one_worker_stops_all),
        cmocka_unit_test(test_summed_gradient_overflow_is_caught),
        cmocka_unit_test(test_adapted_strengths_keep_their_mean),
        cmocka_unit_test(test_adapted_strength_is_the_configured_one),
        cmocka_unit_test(test_proportional_batches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
