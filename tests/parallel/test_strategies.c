/* The strategies that do not exchange every step, and compressed
 * exchanges, each at its limit and at work: local SGD with H = 1 is all-reduce (SGD, and SGD with momentum,
 * whose buffers are averaged with the weights); with H > 1 it steps
 * locally and still learns; EASGD's elastic pull is a penalty in reg_loss
 * and its workers end on the centre, and its asynchronous form with one
 * worker is the synchronous one; Hogwild learns with threads over one
 * copy of the weights; a parameter server with staleness 0 is all-reduce
 * (SGD, momentum, Adam; one or two servers; a skewed partition), and with
 * staleness K lets no worker read weights more than K steps stale (its
 * histogram in the log); and the combinations that cannot work are
 * refused, naming --strategy; --staleness-lr and the servers' penalty
 * at K > 0, by the decay of a weight with no data gradient. */
#include "support.h"
#include "regula.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rg_dataset *g_train, *g_test;

static int setup(void **state)
{
    (void)state;
    g_train = rgt_blobs(480, 1);
    g_test = rgt_blobs(200, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rg_dataset_free(g_train);
    rg_dataset_free(g_test);
    return 0;
}

typedef struct run {
    float *params;
    size_t n;
    rg_train_result r;
    rg_status st;
    char msg[512];
} run;

static run train_with(const char *const *kv)
{
    rg_config c;
    rg_config_defaults(&c);
    rg_config_set(&c, "model", "dense(16, relu, l2=0.01) dropout(0.25) dense(4, softmax, l1=0.001, l2=0.01)");
    rg_config_set(&c, "epochs", "3");
    rg_config_set(&c, "batch", "32");
    rg_config_set(&c, "lr", "0.01");
    rg_config_set(&c, "log-every", "0");
    for (; kv && kv[0]; kv += 2)
        if (rg_config_set(&c, kv[0], kv[1]) != RG_OK) fail_msg("%s", rg_last_error());
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, 8, c.seed, &m), RG_OK);
    run out = {0};
    out.st = rg_train(&c, m, g_train, g_test, g_test, NULL, NULL, &out.r);
    snprintf(out.msg, sizeof out.msg, "%s", rg_last_error());
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

/* H = 1: the mean of one SGD step from the same weights with each
 * worker's mean gradient is one step with the global mean gradient. */
static void test_local_sgd_h1_is_allreduce(void **state)
{
    (void)state;
    const char *opts[][4] = { {"momentum", "0", NULL}, {"momentum", "0.9", NULL} };
    for (int o = 0; o < 2; o++)
        for (int w = 2; w <= 4; w += 2) {
            char ws[4];
            snprintf(ws, sizeof ws, "%d", w);
            const char *a[] = {"optimizer", "sgd", "lr", "0.1", opts[o][0], opts[o][1], "workers", ws, NULL};
            const char *b[] = {"optimizer", "sgd", "lr", "0.1", opts[o][0], opts[o][1], "workers", ws,
                               "strategy", "local-sgd", "sync-every", "1", NULL};
            run x = train_with(a), y = train_with(b);
            assert_int_equal(y.st, RG_OK);
            double d = max_abs_diff(&x, &y);
            print_message("local SGD H=1, momentum %s, %d workers: max |w - w_allreduce| %.3g\n", opts[o][1], w, d);
            assert_true(d < 1e-5);
            free(x.params);
            free(y.params);
        }
}

/* An epoch's figures count every sample once, also when the warm-up ends
 * inside the epoch (its synchronous steps, summed at the first local
 * sync, were counted once per worker): samples_per_s x seconds = N. */
static void test_local_sgd_counts_samples_once(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "w.jsonl");
    const char *kv[] = {"workers", "2", "strategy", "local-sgd", "sync-every", "4", "sync-warmup", "5",
                        "log", lg, NULL};
    run r = train_with(kv);
    assert_int_equal(r.st, RG_OK);
    char *t = rgt_read(lg, NULL), *e = strstr(t, "\"event\":\"epoch\"");
    double rate = strtod(strstr(e, "\"samples_per_s\":") + 16, NULL), secs = strtod(strstr(e, "\"seconds\":") + 10, NULL);
    double acc = strtod(strstr(e, "\"acc\":") + 6, NULL);
    free(t);
    print_message("warm-up of 5 steps: %.1f samples in epoch 1, acc %.3f\n", rate * secs, acc);
    assert_float_equal(rate * secs, 480.0, 0.01);
    free(r.params);
    rgt_rmtree(dir);
    free(dir);
}

/* H = 4 steps locally (far from all-reduce), yet learns; the warm-up is
 * all-reduce up to where it ends. */
static void test_local_sgd_steps_locally(void **state)
{
    (void)state;
    const char *a[] = {"optimizer", "sgd", "lr", "0.1", "workers", "2", NULL};
    const char *b[] = {"optimizer", "sgd", "lr", "0.1", "workers", "2", "strategy", "local-sgd", "sync-every", "4", NULL};
    const char *c[] = {"optimizer", "sgd", "lr", "0.1", "workers", "2", "strategy", "local-sgd", "sync-every", "4",
                       "sync-warmup", "1000", NULL};
    run x = train_with(a), y = train_with(b), z = train_with(c);
    assert_int_equal(y.st, RG_OK);
    double d = max_abs_diff(&x, &y);
    print_message("local SGD H=4: max |w - w_allreduce| %.3g, test acc %.3f (all-reduce %.3f)\n", d, y.r.test_acc,
                  x.r.test_acc);
    assert_true(d > 1e-4);
    assert_true(y.r.test_acc > x.r.test_acc - 0.05);
    assert_true(max_abs_diff(&x, &z) < 1e-5);   /* warm-up over the whole run: all-reduce throughout */
    free(x.params);
    free(y.params);
    free(z.params);
}

/* EASGD: the elastic pull joins reg_loss; the model that comes out is the
 * centre, which learns. */
static void test_easgd(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *la = rgt_path(dir, "a.jsonl"), *lb = rgt_path(dir, "b.jsonl");
    const char *a[] = {"workers", "2", "strategy", "local-sgd", "sync-every", "4", "log", la, NULL};
    const char *b[] = {"workers", "2", "strategy", "easgd", "sync-every", "4", "elastic", "0.3", "log", lb, NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    double ra = 0, rb = 0;
    char *ta = rgt_read(la, NULL), *tb = rgt_read(lb, NULL);
    ra = strtod(strstr(strstr(ta, "\"epoch\":1"), "\"reg_loss\":") + 11, NULL);
    rb = strtod(strstr(strstr(tb, "\"epoch\":1"), "\"reg_loss\":") + 11, NULL);
    assert_non_null(strstr(tb, "\"strategy\":\"easgd\""));
    free(ta);
    free(tb);
    print_message("easgd: reg_loss %.4f (local SGD %.4f), test acc %.3f\n", rb, ra, y.r.test_acc);
    assert_true(rb > ra * 1.5);                 /* the elastic force is counted */
    assert_true(y.r.test_acc > 0.5);
    free(x.params);
    free(y.params);
    rgt_rmtree(dir);
    free(dir);
}

/* Hogwild: threads over one copy of the weights, plain SGD, no exchange. */
/* Asynchronous EASGD: with one worker and the centre it is synchronous
 * EASGD with one worker, bit for bit (SGD and Adam); with three and a
 * straggler the others do not wait, the elastic force joins reg_loss, and
 * the centre that comes out learns. */
static void test_easgd_async(void **state)
{
    (void)state;
    const char *opt[][4] = { {"optimizer", "sgd", "lr", "0.1"}, {"optimizer", "adam", "lr", "0.01"} };
    for (int o = 0; o < 2; o++) {
        const char *a[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], "strategy", "easgd", "sync-every", "3", NULL};
        const char *b[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], "strategy", "easgd-async", "sync-every", "3",
                           "workers", "2", NULL};
        run x = train_with(a), y = train_with(b);
        if (y.st != RG_OK) fail_msg("%s", y.msg);
        print_message("easgd-async, 1 worker + centre, %s: max |w - w_easgd| %.3g\n", opt[o][1], max_abs_diff(&x, &y));
        assert_true(max_abs_diff(&x, &y) == 0.0);
        free(x.params);
        free(y.params);
    }
    char *dir = rgt_tmpdir();
    const char *la = rgt_path(dir, "a.jsonl"), *lb = rgt_path(dir, "b.jsonl");
    const char *a[] = {"workers", "3", "strategy", "local-sgd", "sync-every", "4", "log", la, NULL};
    const char *b[] = {"workers", "4", "strategy", "easgd-async", "sync-every", "4", "elastic", "0.3",
                       "straggler", "2:4", "log", lb, NULL};
    run x = train_with(a), y = train_with(b);
    if (y.st != RG_OK) fail_msg("%s", y.msg);
    char *ta = rgt_read(la, NULL), *tb = rgt_read(lb, NULL);
    double ra = strtod(strstr(strstr(ta, "\"epoch\":1"), "\"reg_loss\":") + 11, NULL);
    double rb = strtod(strstr(strstr(tb, "\"epoch\":1"), "\"reg_loss\":") + 11, NULL);
    assert_non_null(strstr(tb, "\"workers\":3"));
    assert_non_null(strstr(tb, "\"servers\":1"));
    free(ta);
    free(tb);
    print_message("easgd-async, 3 workers: reg_loss %.4f (local SGD %.4f), test acc %.3f\n", rb, ra, y.r.test_acc);
    assert_true(rb > ra * 1.5);
    assert_true(y.r.test_acc > 0.5);
    free(x.params);
    free(y.params);
    rgt_rmtree(dir);
    free(dir);
}

static void test_hogwild(void **state)
{
    (void)state;
    const char *a[] = {"optimizer", "sgd", "lr", "0.1", NULL};
    const char *b[] = {"optimizer", "sgd", "lr", "0.1", "workers", "3", "strategy", "hogwild", NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    print_message("hogwild, 3 threads: test acc %.3f (1 worker %.3f)\n", y.r.test_acc, x.r.test_acc);
    assert_true(y.r.test_acc > x.r.test_acc - 0.05);
    free(x.params);
    free(y.params);
}

/* The first n training samples with a ninth input that is always 0: the
 * weights it feeds get no data gradient, only the penalty's. */
static rg_dataset *unfed_input(int n)
{
    float *x = calloc((size_t)n * 9, sizeof(float));
    for (int i = 0; i < n; i++) memcpy(x + i * 9, rg_dataset_x(g_train) + i * 8, 8 * sizeof(float));
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, rg_dataset_y(g_train), (size_t)n, 9, &ds), RG_OK);
    free(x);
    return ds;
}

/* Compressed exchanges train, and the global penalty is added after the
 * decoding, never compressed: a weight fed by an input that is always 0
 * has no data gradient (top-k never picks it, its residual stays 0), so
 * plain SGD shrinks it by exactly (1 - 2 lr l2) a step, as it would
 * without compression.  Had the penalty's gradient gone through top-k, it
 * would be dropped at most steps. */
static void test_compressed_penalty_is_not_sent(void **state)
{
    (void)state;
    enum { n = 480, d = 9 };
    rg_dataset *ds = unfed_input(n);
    /* all-reduce's sum, and a parameter server's pushes (2 workers and a server) */
    const char *codecs[] = { "topk:0.05", "randk:0.2", "topk:0.05", "qsgd:4" };
    for (int q = 0; q < 4; q++) {
        rg_config c;
        rg_config_defaults(&c);
        const char *kv[] = {"model", "dense(4, softmax, l2=0.01)", "optimizer", "sgd", "lr", "0.3", "epochs", "2",
                            "batch", "32", "workers", q < 2 ? "2" : "3", "log-every", "0", "compress", codecs[q],
                            q < 2 ? NULL : "strategy", "ps", "staleness", "0", NULL};
        for (const char *const *p = kv; *p; p += 2) assert_int_equal(rg_config_set(&c, p[0], p[1]), RG_OK);
        rg_model *m;
        assert_int_equal(rg_model_create(c.model, d, c.seed, &m), RG_OK);
        float w0[4];
        for (int o = 0; o < 4; o++) w0[o] = rg_model_params(m)[o * d + 8];
        rg_train_result r;
        if (rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r) != RG_OK) fail_msg("%s", rg_last_error());
        double want = pow(1.0 - 2 * 0.3 * 0.01, 30), worst = 0.0;   /* 15 steps an epoch */
        for (int o = 0; o < 4; o++)
            worst = fmax(worst, fabs(rg_model_params(m)[o * d + 8] / w0[o] - want));
        print_message("%s%s: decay of an unfed weight off by %.3g\n", q < 2 ? "" : "ps, ", codecs[q], worst);
        assert_true(worst < 1e-5);
        rg_model_free(m);
    }
    rg_dataset_free(ds);
}

/* Top-k at 1% with error feedback learns nearly as well as all-reduce, at
 * a fraction of the bytes (the log's compression). */
static void test_topk_trains(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "t.jsonl");
    const char *a[] = {"workers", "2", "epochs", "6", NULL};
    const char *b[] = {"workers", "2", "epochs", "6", "compress", "topk:0.05", "log", lg, NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    char *t = rgt_read(lg, NULL);
    double ratio = strtod(strstr(t, "\"compression\":") + 14, NULL);
    free(t);
    print_message("topk:0.05: test acc %.3f (all-reduce %.3f), compression %.1f\n", y.r.test_acc, x.r.test_acc, ratio);
    assert_true(y.r.test_acc > x.r.test_acc - 0.05);
    assert_true(ratio > 5.0);
    free(x.params);
    free(y.params);
    rgt_rmtree(dir);
    free(dir);
}

/* Local SGD through a codec, at its limit: with H = 1, plain SGD and a
 * codec that commutes with scaling (top-k, sign), each worker's weight
 * change -lr g_i is its gradient scaled, so the compressed average is
 * all-reduce through the same codec (residuals scaled alike), to float
 * rounding.  No penalty: all-reduce adds it after decoding. */
static void test_local_sgd_compressed_h1_is_allreduce(void **state)
{
    (void)state;
    const char *codecs[] = {"topk:0.1", "sign"};
    for (int k = 0; k < 2; k++) {
        const char *a[] = {"model", "dense(16, relu) dropout(0.25) dense(4, softmax)", "optimizer", "sgd", "lr", "0.1",
                           "workers", "2", "compress", codecs[k], NULL};
        const char *b[] = {"model", "dense(16, relu) dropout(0.25) dense(4, softmax)", "optimizer", "sgd", "lr", "0.1",
                           "workers", "2", "compress", codecs[k], "strategy", "local-sgd", "sync-every", "1", NULL};
        const char *c[] = {"model", "dense(16, relu) dropout(0.25) dense(4, softmax)", "optimizer", "sgd", "lr", "0.1",
                           "workers", "2", "strategy", "local-sgd", "sync-every", "1", NULL};
        run x = train_with(a), y = train_with(b), z = train_with(c);
        assert_int_equal(y.st, RG_OK);
        double d = max_abs_diff(&x, &y), dz = max_abs_diff(&z, &y);
        print_message("local SGD H=1 --compress %s: max |w - w_allreduce| %.3g, uncompressed %.3g\n", codecs[k], d, dz);
        assert_true(d < 1e-5);
        assert_true(dz > 1e-3);   /* the codec did change the result */
        free(x.params);
        free(y.params);
        free(z.params);
    }
}

/* A compressed sync sends fewer bytes and still learns, with Adam too
 * (whose moments stay each worker's own between full syncs: a lossy
 * second moment would wreck it); EASGD's differences go through the codec
 * alike. */
static void test_weight_exchange_compressed(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "c.jsonl");
    const char *strat[][4] = { {"local-sgd", "sync-every", "4"}, {"easgd", "sync-every", "4"} };
    const char *codecs[] = {"topk:0.05", "fp16", "qsgd:4"};
    for (int s = 0; s < 2; s++) {
        const char *a[] = {"workers", "2", "epochs", "6", "strategy", strat[s][0], strat[s][1], strat[s][2], NULL};
        run x = train_with(a);
        for (int k = 0; k < 3; k++) {
            const char *b[] = {"workers", "2", "epochs", "6", "strategy", strat[s][0], strat[s][1], strat[s][2],
                               "compress", codecs[k], "log", lg, NULL};
            run y = train_with(b);
            assert_int_equal(y.st, RG_OK);
            char *t = rgt_read(lg, NULL), *e = strstr(t, "\"compression\":");
            double ratio = e ? strtod(e + 14, NULL) : 0.0;
            free(t);
            print_message("%s --compress %s: test acc %.3f (uncompressed %.3f), compression %.1f\n", strat[s][0],
                          codecs[k], y.r.test_acc, x.r.test_acc, ratio);
            assert_true(y.r.test_acc > x.r.test_acc - 0.05);
            assert_true(ratio > 1.2);
            free(y.params);
        }
        free(x.params);
    }
    rgt_rmtree(dir);
    free(dir);
}

/* --compress-update: Adam moves into the codec.  One worker with a
 * lossless codec is plain Adam (to rounding: the codec divides in double);
 * without the move the run would be SGD at Adam's rate.  Refused: a
 * global penalty (it would skip Adam), another optimizer. */
static void test_compress_update(void **state)
{
    (void)state;
    const char *a[] = {"workers", "1", "reg-scope", "local", NULL};
    const char *b[] = {"workers", "1", "reg-scope", "local", "compress", "topk:1", "error-feedback", "off",
                       "compress-update", "true", NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    double d = max_abs_diff(&x, &y);
    print_message("compress-update, topk:1, 1 worker: max |w - w_adam| %.3g\n", d);
    assert_true(d < 1e-6);
    const char *g[] = {"workers", "2", "compress", "topk:0.1", "compress-update", "true", NULL};
    const char *o[] = {"workers", "2", "reg-scope", "local", "compress", "topk:0.1", "compress-update", "true",
                       "optimizer", "rmsprop", NULL};
    run e1 = train_with(g), e2 = train_with(o);
    assert_int_equal(e1.st, RG_EUSAGE);
    assert_int_equal(e2.st, RG_EUSAGE);
    free(x.params); free(y.params); free(e1.params); free(e2.params);
}

/* Deep Gradient Compression: at density 1 every value is sent and its
 * momentum masked every step, so dgc:1 is plain SGD (whatever
 * --momentum); the warm-up sends 25%, 6.25%, 1.56% of the values in the
 * first epochs, then the target (the log's compression ratio per epoch). */
static void test_dgc(void **state)
{
    (void)state;
    const char *a[] = {"optimizer", "sgd", "lr", "0.1", "workers", "2", NULL};
    const char *b[] = {"optimizer", "sgd", "lr", "0.1", "momentum", "0.9", "workers", "2", "compress", "dgc:1",
                       "dgc-warmup", "0", NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    double d = max_abs_diff(&x, &y);
    print_message("dgc:1: max |w - w_sgd| %.3g\n", d);
    assert_true(d < 1e-5);
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "d.jsonl");
    const char *c[] = {"optimizer", "sgd", "lr", "0.05", "momentum", "0.9", "workers", "2", "epochs", "5",
                       "compress", "dgc:0.01", "dgc-warmup", "3", "log", lg, NULL};
    run z = train_with(c);
    assert_int_equal(z.st, RG_OK);
    char *t = rgt_read(lg, NULL), *p = t;
    double ratio[5];
    for (int e = 0; e < 5; e++) {
        p = strstr(p, "\"compression\":") + 14;
        ratio[e] = strtod(p, NULL);
    }
    free(t);
    print_message("dgc:0.01, warm-up 3: compression %.1f %.1f %.1f %.1f %.1f\n", ratio[0], ratio[1], ratio[2], ratio[3],
                  ratio[4]);
    /* a kept value takes 6 bytes (2 of index), so 25% is 4 / (0.25 x 6) = 2.67 */
    assert_true(ratio[0] < 2.8 && ratio[1] > ratio[0] * 2.5 && ratio[2] > ratio[1] * 2.5 && ratio[3] > ratio[2]);
    assert_true(ratio[3] == ratio[4]);
    const char *bad[] = {"compress", "dgc:0.01", NULL};   /* Adam */
    run e = train_with(bad);
    assert_int_equal(e.st, RG_EUSAGE);
    free(x.params); free(y.params); free(z.params); free(e.params);
    rgt_rmtree(dir);
    free(dir);
}

/* --straggler: worker 1 takes 20 times as long to compute; worker 0 then
 * waits for it in the exchange (its time counts as communication). */
static void test_straggler(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "s.jsonl");
    const char *kv[] = {"workers", "2", "epochs", "1", "straggler", "1:20", "log", lg, NULL};
    run r = train_with(kv);
    assert_int_equal(r.st, RG_OK);
    char *t = rgt_read(lg, NULL), *p = strstr(t, "\"compute_seconds\":[") + 19;
    double c0 = strtod(p, &p), c1 = strtod(p + 1, NULL);
    free(t);
    print_message("straggler 1:20: compute %.4f s against worker 0's %.4f s\n", c1, c0);
    assert_true(c1 > 5.0 * c0);
    const char *bad[] = {"workers", "2", "straggler", "2:3", NULL};
    run b = train_with(bad);
    assert_int_equal(b.st, RG_EUSAGE);
    assert_non_null(strstr(b.msg, "--straggler 2:3: there are 2 workers"));
    free(r.params);
    free(b.params);
    rgt_rmtree(dir);
    free(dir);
}

/* Staleness 0: every worker reads the same weights and the server steps
 * once per step on the summed pushes, so the run is all-reduce's with the
 * same training workers (to float summation order), for any optimizer. */
static void test_ps_k0_is_allreduce(void **state)
{
    (void)state;
    const char *opt[][6] = { {"optimizer", "sgd", "momentum", "0", "lr", "0.1"},
                             {"optimizer", "sgd", "momentum", "0.9", "lr", "0.05"},
                             {"optimizer", "adam", "momentum", "0", "lr", "0.01"} };
    for (int o = 0; o < 3; o++)
        for (int servers = 1; servers <= 2; servers++) {
            char all[4], sv[4];
            snprintf(all, sizeof all, "%d", 2 + servers);
            snprintf(sv, sizeof sv, "%d", servers);
            const char *a[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], opt[o][4], opt[o][5], "workers", "2", NULL};
            const char *b[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], opt[o][4], opt[o][5], "workers", all,
                               "strategy", "ps", "servers", sv, "staleness", "0", NULL};
            run x = train_with(a), y = train_with(b);
            assert_int_equal(x.st, RG_OK);
            if (y.st != RG_OK) fail_msg("%s", y.msg);
            double d = max_abs_diff(&x, &y);
            print_message("ps K=0, %s momentum %s, %d server(s): max |w - w_allreduce| %.3g\n", opt[o][1], opt[o][3],
                          servers, d);
            assert_true(d < 1e-5);
            free(x.params);
            free(y.params);
        }
    /* a skewed partition, its workers' shares of each batch, local penalties */
    const char *a[] = {"workers", "3", "partition", "dirichlet:0.3", "reg-scope", "local", NULL};
    const char *b[] = {"workers", "4", "partition", "dirichlet:0.3", "reg-scope", "local", "strategy", "ps",
                       "staleness", "0", NULL};
    run x = train_with(a), y = train_with(b);
    assert_int_equal(y.st, RG_OK);
    double d = max_abs_diff(&x, &y);
    print_message("ps K=0, dirichlet:0.3, 3 workers: max |w - w_allreduce| %.3g\n", d);
    assert_true(d < 1e-5);
    free(x.params);
    free(y.params);
}

/* The numbers of the epoch event's array `name` (up to max into v);
 * returns how many. */
static int epoch_array(const char *log, int epoch, const char *name, double *v, int max)
{
    char *t = rgt_read(log, NULL), key[32], field[32];
    snprintf(key, sizeof key, "\"epoch\":%d,", epoch);
    snprintf(field, sizeof field, "\"%s\":[", name);
    char *e = strstr(t, key), *p = e ? strstr(e, field) : NULL;
    int n = 0;
    for (p = p ? p + strlen(field) - 1 : NULL; p && *p != ']' && n < max; n++) v[n] = strtod(p + 1, &p);   /* past '[' or ',' */
    free(t);
    return n;
}

/* The epoch event's staleness counts: how many pushes read weights 0, 1,
 * ... steps stale.  Returns their number; *len their length. */
static double staleness_counts(const char *log, int epoch, int *len)
{
    double v[64], total = 0.0;   /* the log has 16 at most */
    *len = epoch_array(log, epoch, "staleness", v, 64);
    for (int i = 0; i < *len; i++) total += v[i];
    return total;
}

/* A parameter server's pushes through a codec: at K = 0 the server's sum
 * of decoded pushes is all-reduce's sum through the same codec (one
 * server: top-k of the whole gradient; two: fp16, element by element,
 * shard by shard), and the codec is not a no-op; with K > 0 a quantised
 * push still learns, and the log counts the real bytes. */
static void test_ps_compressed(void **state)
{
    (void)state;
    const char *cases[][3] = { {"topk:0.1", "1", "3"}, {"fp16", "2", "4"}, {"sign", "1", "3"} };
    for (int q = 0; q < 3; q++) {
        const char *a[] = {"workers", "2", "compress", cases[q][0], "lr", "0.01", NULL};
        const char *b[] = {"workers", cases[q][2], "strategy", "ps", "servers", cases[q][1], "staleness", "0",
                           "compress", cases[q][0], "lr", "0.01", NULL};
        const char *plain[] = {"workers", cases[q][2], "strategy", "ps", "servers", cases[q][1], "staleness", "0",
                               "lr", "0.01", NULL};
        run x = train_with(a), y = train_with(b), z = train_with(plain);
        if (y.st != RG_OK) fail_msg("%s", y.msg);
        double d = max_abs_diff(&x, &y), u = max_abs_diff(&z, &y);
        print_message("ps K=0 --compress %s, %s server(s): max |w - w_allreduce| %.3g (uncompressed ps %.3g)\n",
                      cases[q][0], cases[q][1], d, u);
        assert_true(d < 1e-5);
        if (q != 1) assert_true(u > 1e-3);   /* fp16 loses little: it need not differ */
        free(x.params);
        free(y.params);
        free(z.params);
    }
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "q.jsonl");
    const char *sync[] = {"workers", "3", NULL};
    const char *b[] = {"workers", "4", "strategy", "ps", "servers", "2", "staleness", "2", "compress", "qsgd:4",
                       "log", lg, NULL};
    run x = train_with(sync), y = train_with(b);
    if (y.st != RG_OK) fail_msg("%s", y.msg);
    char *t = rgt_read(lg, NULL);
    double ratio = strtod(strstr(t, "\"compression\":") + 14, NULL);
    free(t);
    print_message("ps K=2 --compress qsgd:4, 2 servers: test acc %.3f (all-reduce %.3f), compression %.2f\n",
                  y.r.test_acc, x.r.test_acc, ratio);
    assert_true(y.r.test_acc > x.r.test_acc - 0.1);
    assert_true(ratio > 2.5 && ratio < 4.0);   /* a byte a value, and the norm, headers and pulls */
    free(x.params);
    free(y.params);
    rgt_rmtree(dir);
    free(dir);
}

/* K = 3 and a worker 4 times slower: the others run ahead, never more
 * than 3 steps; every push is counted; the run learns about as well as
 * all-reduce, also with the learning rate scaled down by staleness. */
static void test_ps_staleness(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *sync[] = {"workers", "3", "lr", "0.05", NULL};
    run base = train_with(sync);
    free(base.params);
    for (int scaled = 0; scaled <= 1; scaled++) {
        const char *lg = rgt_path(dir, scaled ? "s1.jsonl" : "s0.jsonl");
        const char *kv[] = {"workers", "4", "strategy", "ps", "staleness", "3", "straggler", "1:4", "lr", "0.05",
                            "log", lg, scaled ? "staleness-lr" : NULL, "true", NULL};
        run r = train_with(kv);
        if (r.st != RG_OK) fail_msg("%s", r.msg);
        int len;
        double n = staleness_counts(lg, 3, &len);
        print_message("ps K=3, straggler 1:4%s: %d staleness values, %.0f pushes, test acc %.3f (all-reduce %.3f)\n",
                      scaled ? ", --staleness-lr" : "", len, n, r.r.test_acc, base.r.test_acc);
        assert_true(len >= 2 && len <= 4);      /* some stale reads, none beyond K */
        assert_float_equal(n, 3.0 * 15.0, 0.5); /* 3 workers x 15 steps of the epoch */
        /* it learns (chance: 0.25): which pushes meet which weights is timing,
         * 0.675-0.72 in 4 runs of this test (8 figures, with and without
         * --staleness-lr), and 0.625 once in CI under Sandybridge's kernel
         * against all-reduce's 0.730 (was: within 0.1, which that failed) */
        assert_true(r.r.test_acc > base.r.test_acc - 0.15 && r.r.test_acc > 0.5);
        free(r.params);
    }
    rgt_rmtree(dir);
    free(dir);
}

/* The bound starts with the run: with K beyond the run's 45 steps no
 * step waits for an earlier one (but at the full syncs), so a worker 50
 * times slower leaves the others reading weights that lack its steps;
 * every push is counted (fails where the first K steps were lock-step:
 * every count at 0). */
static void test_ps_large_k(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "k.jsonl");
    const char *kv[] = {"workers", "3", "strategy", "ps", "staleness", "1000", "straggler", "1:50", "log", lg, NULL};
    run r = train_with(kv);
    if (r.st != RG_OK) fail_msg("%s", r.msg);
    for (int e = 1; e <= 3; e++) {
        int len;
        double n = staleness_counts(lg, e, &len);
        print_message("ps K=1000, straggler 1:50, epoch %d: %d staleness values, %.0f pushes\n", e, len, n);
        assert_true(len >= 2);
        assert_float_equal(n, 2.0 * 15.0, 0.5);   /* 2 parts x 15 steps */
    }
    free(r.params);
    rgt_rmtree(dir);
    free(dir);
}

/* Dealt parts and the log: worker 0, the fast one, takes both parts of
 * many steps, and logs each step once, in order (it logged a step event
 * per part: the same step twice). */
static void test_ps_step_events(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "s.jsonl");
    const char *kv[] = {"workers", "3", "strategy", "ps", "staleness", "4", "straggler", "1:50", "log", lg,
                        "log-every", "1", NULL};
    run r = train_with(kv);
    if (r.st != RG_OK) fail_msg("%s", r.msg);
    char *t = rgt_read(lg, NULL);
    double last = 0.0;
    int n = 0;
    for (char *e = strstr(t, "\"event\":\"step\""); e; e = strstr(e + 1, "\"event\":\"step\""), n++) {
        double step = strtod(strstr(e, "\"step\":") + 7, NULL);
        if (step <= last) fail_msg("step event %.0f after %.0f", step, last);
        last = step;
    }
    print_message("ps K=4, straggler 1:50, --log-every 1: %d step events from worker 0, last %.0f\n", n, last);
    assert_true(n > 0 && n <= 45);
    free(t);
    free(r.params);
    rgt_rmtree(dir);
    free(dir);
}

/* --pull-first: a server answers a pull before it applies the push sent
 * with it.  One worker (and a server), so that no timing enters: without
 * it every read holds every push (15 fresh reads an epoch); with it each
 * read lacks the worker's own last push, staleness 1, but the first after
 * a full sync (each epoch's end): [1, 14]; in the first epoch also the
 * second (a server learns where the run starts from its first push): [2,
 * 13]; timing may add one fresh read (see below).  It learns. */
static void test_ps_pull_first(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    for (int first = 0; first <= 1; first++) {
        const char *lg = rgt_path(dir, first ? "f1.jsonl" : "f0.jsonl");
        const char *kv[] = {"workers", "2", "strategy", "ps", "staleness", "4", "log", lg,
                            first ? "pull-first" : NULL, "true", NULL};
        run r = train_with(kv);
        if (r.st != RG_OK) fail_msg("%s", r.msg);
        for (int e = 1; e <= 3; e++) {
            double v[16];
            int len = epoch_array(lg, e, "staleness", v, 16);
            print_message("ps K=4%s, 1 worker, epoch %d: staleness [%.0f, %.0f] (%d values), test acc %.3f\n",
                          first ? " --pull-first" : "", e, v[0], len > 1 ? v[1] : 0.0, len, r.r.test_acc);
            assert_int_equal(len, first ? 2 : 1);
            double fresh = first ? (e == 1 ? 2.0 : 1.0) : 15.0;
            /* with --pull-first a slow server (ThreadSanitizer, CI
             * 2026-12-03: [2, 13] in epoch 3) may take a push in before
             * the pull sent ahead of it: one more fresh read, rarely */
            if (first) assert_true(v[0] > fresh - 0.5 && v[0] < fresh + 1.5);
            else assert_float_equal(v[0], fresh, 0.5);
            if (first) assert_float_equal(v[0] + v[1], 15.0, 0.5);
        }
        assert_true(r.r.test_acc > 0.5);   /* chance: 0.25 */
        free(r.params);
    }
    rgt_rmtree(dir);
    free(dir);
}

/* --staleness-lr and the servers' global penalty at K > 0, measured on a
 * weight with no data gradient (its input is always 0): plain SGD on the
 * server shrinks it by (1 - 2 lr' l2) a push, lr' = lr / (staleness + 1)
 * with --staleness-lr, else lr.  One worker with --pull-first on threads
 * reads weights that lack its last push (staleness 1) at all but the first
 * read after a full sync, so the scaled run must shrink it less, by the
 * product the log's staleness counts give; without --pull-first every
 * read is fresh and --staleness-lr changes nothing.  (Fails with the
 * scaling removed, or the servers' penalty: no decay at all.) */
static void test_ps_staleness_lr_decay(void **state)
{
    (void)state;
    enum { n = 480, d = 9 };
    rg_dataset *ds = unfed_input(n);
    char *dir = rgt_tmpdir();
    const double lr = 0.3, l2 = 0.01;
    for (int q = 0; q < 4; q++) {
        int scaled = q & 1, first = q >> 1;
        const char *lg = rgt_path(dir, "d.jsonl");
        rg_config c;
        rg_config_defaults(&c);
        const char *kv[] = {"model", "dense(4, softmax, l2=0.01)", "optimizer", "sgd", "lr", "0.3", "epochs", "2",
                            "batch", "32", "workers", "2", "log-every", "0", "strategy", "ps", "staleness", "4",
                            "log", lg, "staleness-lr", scaled ? "true" : "false", "pull-first", first ? "true" : "false",
                            NULL};
        for (const char *const *p = kv; *p; p += 2) assert_int_equal(rg_config_set(&c, p[0], p[1]), RG_OK);
        rg_model *m;
        assert_int_equal(rg_model_create(c.model, d, c.seed, &m), RG_OK);
        float w0[4];
        for (int o = 0; o < 4; o++) w0[o] = rg_model_params(m)[o * d + 8];
        rg_train_result r;
        if (rg_train(&c, m, ds, NULL, NULL, NULL, NULL, &r) != RG_OK) fail_msg("%s", rg_last_error());
        double want = 1.0, pushes = 0.0, stale = 0.0;
        for (int e = 1; e <= 2; e++) {
            double v[16];
            int len = epoch_array(lg, e, "staleness", v, 16);
            for (int k = 0; k < len; k++) {
                want *= pow(1.0 - 2.0 * (scaled ? lr / (k + 1) : lr) * l2, v[k]);
                pushes += v[k];
                stale += k ? v[k] : 0.0;
            }
        }
        double worst = 0.0;
        for (int o = 0; o < 4; o++) worst = fmax(worst, fabs(rg_model_params(m)[o * d + 8] / w0[o] - want));
        print_message("ps K=4%s%s, 1 worker: %.0f pushes, %.0f stale; an unfed weight shrank to %.6f of itself, "
                      "off by %.3g\n", scaled ? " --staleness-lr" : "", first ? " --pull-first" : "", pushes, stale,
                      rg_model_params(m)[8] / w0[0], worst);
        assert_float_equal(pushes, 30.0, 0.5);                    /* 15 steps an epoch */
        assert_true(first ? stale >= 20.0 : stale == 0.0);       /* the reads the scaling acts on */
        assert_true(want < 0.92);                                 /* it decayed: the servers' penalty */
        assert_true(worst < 1e-5);
        rg_model_free(m);
    }
    rgt_rmtree(dir);
    free(dir);
    rg_dataset_free(ds);
}

/* The epoch event's samples per worker, a and b (two workers). */
static void worker_samples(const char *log, int epoch, double *a, double *b)
{
    double v[2];
    if (epoch_array(log, epoch, "samples", v, 2) != 2) fail_msg("no samples for epoch %d in %s", epoch, log);
    *a = v[0];
    *b = v[1];
}

/* K > 0 on one pool of data: the parts of each step go to whichever
 * worker is free, so a worker 50 times slower takes fewer samples, every
 * sample still once an epoch (also across checkpoints' full syncs, where
 * the dealing starts over); at K = 0 each worker takes its own part of
 * every step. */
static void test_ps_deals(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *ks[] = {"4", "0", "2"};
    for (int q = 0; q < 3; q++) {
        const char *lg = rgt_path(dir, q == 0 ? "d4.jsonl" : q == 1 ? "d0.jsonl" : "d2.jsonl");
        const char *kv[] = {"workers", "3", "strategy", "ps", "staleness", ks[q], "straggler", "1:50", "log", lg,
                            q == 2 ? "checkpoint-dir" : NULL, dir, "checkpoint-every", "4", NULL};
        run r = train_with(kv);
        if (r.st != RG_OK) fail_msg("%s", r.msg);
        double ta = 0.0, tb = 0.0;   /* over the epochs: one epoch is the OS's to spoil */
        for (int e = 1; e <= 3; e++) {
            double a, b;
            worker_samples(lg, e, &a, &b);
            print_message("ps K=%s, straggler 1:50%s, epoch %d: samples %.0f and %.0f\n", ks[q],
                          q == 2 ? ", checkpoints" : "", e, a, b);
            assert_float_equal(a + b, 480.0, 0.5);   /* 15 steps of 32 */
            if (q == 1) assert_float_equal(a, b, 0.5);
            ta += a, tb += b;
        }
        if (q != 1) assert_true(tb < ta);
        free(r.params);
    }
    rgt_rmtree(dir);
    free(dir);
}

/* Idle parts: batch 53 leaves a last batch of 3 samples (480 = 9 x 53 +
 * 3) for 4 training workers, so one part of every epoch's last step is
 * empty and its worker pushes an idle push (zeros, no staleness count, no
 * optimizer step of its own).  At K = 0 the server's step is still
 * all-reduce's; at K > 0 the idle push still completes its step (the
 * others would otherwise wait on it), every epoch's samples are the
 * data's, and only the non-idle pushes are counted as reads. */
static void test_ps_idle_parts(void **state)
{
    (void)state;
    /* (not through a codec: an idle push keeps its residual whole, where
     * all-reduce encodes the idle worker's; the README says so) */
    const char *opt[][4] = { {"optimizer", "sgd", "momentum", "0.9"}, {"optimizer", "adam", "momentum", "0"} };
    for (int o = 0; o < 2; o++) {
        const char *a[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], "batch", "53", "workers", "4", NULL};
        const char *b[] = {opt[o][0], opt[o][1], opt[o][2], opt[o][3], "batch", "53", "workers", "5",
                           "strategy", "ps", "staleness", "0", NULL};
        run x = train_with(a), y = train_with(b);
        if (y.st != RG_OK) fail_msg("%s", y.msg);
        double d = max_abs_diff(&x, &y);
        print_message("ps K=0, idle parts, %s %s %s: max |w - w_allreduce| %.3g\n", opt[o][1], opt[o][2], opt[o][3], d);
        assert_true(d < 1e-5);
        free(x.params);
        free(y.params);
    }
    char *dir = rgt_tmpdir();
    const char *lg = rgt_path(dir, "i.jsonl");
    const char *kv[] = {"batch", "53", "workers", "5", "strategy", "ps", "staleness", "2", "log", lg, NULL};
    run r = train_with(kv);
    if (r.st != RG_OK) fail_msg("%s", r.msg);
    for (int e = 1; e <= 3; e++) {
        double v[4], total = 0.0;
        int n = epoch_array(lg, e, "samples", v, 4), len;
        for (int i = 0; i < n; i++) total += v[i];
        double reads = staleness_counts(lg, e, &len);
        print_message("ps K=2, idle parts, epoch %d: %.0f samples, %.0f reads\n", e, total, reads);
        assert_int_equal(n, 4);
        assert_float_equal(total, 480.0, 0.5);
        assert_float_equal(reads, 9.0 * 4.0 + 3.0, 0.5);   /* the last step's 3 parts of one sample */
    }
    free(r.params);
    rgt_rmtree(dir);
    free(dir);
}

/* The bytes worker 0 sent in epoch 1 (the epoch event's bytes_sent). */
static double epoch1_bytes(const char *log)
{
    double v[2];
    if (epoch_array(log, 1, "bytes_sent", v, 2) != 2) fail_msg("no bytes_sent in %s", log);
    return v[0];
}

/* --local-moments: a sync averages the weights alone.  Momentum's buffer
 * is linear in the gradients, so its mean over the workers is the same
 * whether or not a sync averages it: at H = 1 (every step's weights
 * averaged) the run is still all-reduce's; at H = 4 the replicas' own
 * buffers move them apart between syncs, and a sync is 1 weight-sized
 * all-reduce instead of 2.  With Adam a third of the bytes.  With H past
 * the epoch, where only the epoch's end syncs (a full sync: the moments
 * too), it is the plain run bit for bit.  15 steps an epoch, H = 4: syncs
 * at 4, 8, 12 and 15 (full): 3 + 2 weight-sized all-reduces against 8
 * (momentum), 3 + 3 against 12 (Adam). */
static void test_local_moments(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *la = rgt_path(dir, "a.jsonl"), *lb = rgt_path(dir, "b.jsonl");
    /* a flag's value is NULL: the pairs go on after it */
    const char *all[] = {"optimizer", "sgd", "momentum", "0.9", "lr", "0.05", "workers", "2", NULL};
    const char *h1[] = {"local-moments", NULL, "optimizer", "sgd", "momentum", "0.9", "lr", "0.05", "workers", "2",
                        "strategy", "local-sgd", "sync-every", "1", NULL};
    run x = train_with(all), y = train_with(h1);
    if (y.st != RG_OK) fail_msg("%s", y.msg);
    print_message("local-moments, momentum, H = 1: max |w - w_allreduce| %.3g\n", max_abs_diff(&x, &y));
    assert_true(max_abs_diff(&x, &y) < 1e-5);
    free(x.params);
    free(y.params);
    const char *sgd[] = {"optimizer", "sgd", "momentum", "0.9", "lr", "0.05", "workers", "2", "strategy", "local-sgd",
                         "sync-every", "4", "log", la, NULL};
    const char *sgd_l[] = {"local-moments", NULL, "optimizer", "sgd", "momentum", "0.9", "lr", "0.05", "workers", "2",
                           "strategy", "local-sgd", "sync-every", "4", "log", lb, NULL};
    x = train_with(sgd);
    y = train_with(sgd_l);
    if (y.st != RG_OK) fail_msg("%s", y.msg);
    print_message("local-moments, momentum, H = 4: max |w - w_plain| %.3g, bytes %.0f against %.0f\n",
                  max_abs_diff(&x, &y), epoch1_bytes(lb), epoch1_bytes(la));
    assert_true(max_abs_diff(&x, &y) > 1e-4);
    assert_float_equal(epoch1_bytes(lb) / epoch1_bytes(la), 5.0 / 8.0, 1e-9);
    free(x.params);
    free(y.params);
    const char *hs[] = {"1000", "4"};
    for (int q = 0; q < 2; q++) {
        const char *a[] = {"workers", "2", "epochs", "2", "strategy", "local-sgd", "sync-every", hs[q], "log", la, NULL};
        const char *b[] = {"local-moments", NULL, "workers", "2", "epochs", "2", "strategy", "local-sgd",
                           "sync-every", hs[q], "log", lb, NULL};
        x = train_with(a);
        y = train_with(b);
        if (y.st != RG_OK) fail_msg("%s", y.msg);
        double d = max_abs_diff(&x, &y), ba = epoch1_bytes(la), bb = epoch1_bytes(lb);
        print_message("local-moments, adam, H = %s: max |w - w_plain| %.3g, bytes %.0f against %.0f\n", hs[q], d, bb, ba);
        if (q == 0) {
            assert_true(d == 0.0);
            assert_true(ba == bb);
        } else {
            assert_true(d > 1e-5);
            assert_float_equal(bb / ba, 0.5, 1e-9);
        }
        free(x.params);
        free(y.params);
    }
    rgt_rmtree(dir);
    free(dir);
}

static void test_refused(void **state)
{
    (void)state;
    const char *cases[][12] = {
        {"strategy", "hogwild", "workers", "2", NULL},                         /* Adam */
        {"strategy", "hogwild", "optimizer", "sgd", "momentum", "0.9", NULL},
        {"strategy", "local-sgd", "deterministic", "true", "det-shards", "4", NULL},
        {"strategy", "easgd", "shard-optimizer", "true", "workers", "2", NULL},
        {"strategy", "local-sgd", "partition", "dirichlet:0.5", "reg-scope", "local", "reg-adapt", "divergence",
         "workers", "2", NULL},
        {"compress", "dgc:0.1", "optimizer", "sgd", "strategy", "local-sgd", NULL},   /* corrects gradients */
        {"compress", "topk:0.1", "strategy", "easgd-async", "workers", "3", NULL},
        {"compress", "sign", "deterministic", "true", "det-shards", "4", NULL},
        {"strategy", "ps", NULL},                                             /* nobody left to train */
        {"strategy", "ps", "workers", "3", "servers", "3", NULL},
        {"strategy", "ps", "workers", "3", "compress", "powersgd:2", NULL},   /* needs an all-reduce */
        {"strategy", "ps", "workers", "3", "compress", "dgc:0.1", "optimizer", "sgd", NULL},
        {"strategy", "ps", "workers", "3", "deterministic", "true", "det-shards", "4", NULL},
        {"strategy", "ps", "workers", "3", "model", "dense(8, relu, maxnorm=2) dense(4, softmax)", NULL},
        {"strategy", "easgd-async", NULL},                                    /* only the centre */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run r = train_with(cases[i]);
        if (r.st != RG_EUSAGE || (!strstr(r.msg, "--strategy ") && !strstr(r.msg, "--compress ")))
            fail_msg("case %zu: %d '%s'", i, r.st, r.msg);
        print_message("refused: %s\n", r.msg);
        free(r.params);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_sgd_h1_is_allreduce),
        cmocka_unit_test(test_local_sgd_steps_locally),
        cmocka_unit_test(test_local_sgd_counts_samples_once),
        cmocka_unit_test(test_easgd),
        cmocka_unit_test(test_easgd_async),
        cmocka_unit_test(test_hogwild),
        cmocka_unit_test(test_compressed_penalty_is_not_sent),
        cmocka_unit_test(test_topk_trains),
        cmocka_unit_test(test_local_sgd_compressed_h1_is_allreduce),
        cmocka_unit_test(test_weight_exchange_compressed),
        cmocka_unit_test(test_dgc),
        cmocka_unit_test(test_compress_update),
        cmocka_unit_test(test_straggler),
        cmocka_unit_test(test_ps_k0_is_allreduce),
        cmocka_unit_test(test_ps_compressed),
        cmocka_unit_test(test_ps_staleness),
        cmocka_unit_test(test_ps_deals),
        cmocka_unit_test(test_ps_pull_first),
        cmocka_unit_test(test_ps_staleness_lr_decay),
        cmocka_unit_test(test_ps_idle_parts),
        cmocka_unit_test(test_local_moments),
        cmocka_unit_test(test_ps_large_k),
        cmocka_unit_test(test_ps_step_events),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
