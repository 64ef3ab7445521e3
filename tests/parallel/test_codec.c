/* Gradient codecs over 1-4 worker threads: each worker's gradient is a
 * known function of (rank, step), so the exact sum is known here.
 * Lossless settings are exact (topk and randk at ratio 1, PowerSGD at
 * full rank to float rounding); fp16 and bf16 are within their precision;
 * sign decodes to each worker's mean magnitude with its signs; QSGD is
 * unbiased (its mean over many steps is the sum); error feedback loses
 * nothing (what was sent plus the residual is what came in); randk draws
 * the same indices on every worker; parsing names the option; and the
 * codecs' state goes out and back in whole. */
#include "support.h"
#include "core/core.h"
#include "comm/comm.h"
#include "parallel/codec.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 203, ROWS = 10, COLS = 19 };   /* a 10 x 19 matrix at 0, 13 loose values */

static float grad_of(int rank, uint64_t step, size_t i)
{
    return (rg_rng_uniform(7, RG_RNG_USER, step * 16 + (uint64_t)rank, i) - 0.5f) * (1.0f + (float)(i % 7));
}

typedef struct job {
    rg_comm *c;
    const rg_codec_spec *spec;
    int steps;
    int fixed;           /* every step the gradient of step 0 (only the key changes) */
    float *out;          /* [steps x N]: what rank 0 got back */
    double bytes, dense;
    int failed;
    char why[256];
} job;

static const rg_codec_block g_block = { 0, ROWS, COLS };

static void *worker(void *p)
{
    job *j = p;
    rg_codec *c;
    int rank = rg_comm_rank(j->c);
    if (rg_codec_create(j->spec, N, &g_block, 1, 11, j->c, &c) != RG_OK) {
        j->failed = 1;
        snprintf(j->why, sizeof j->why, "create: %s", rg_last_error());
        rg_comm_abort(j->c, RG_ECOMM, "create failed");
        return NULL;
    }
    float g[N];
    for (int s = 0; s < j->steps; s++) {
        for (size_t i = 0; i < N; i++) g[i] = grad_of(rank, j->fixed ? 0 : (uint64_t)s, i);
        if (rg_codec_reduce(c, g, (uint64_t)s, &j->bytes, &j->dense) != RG_OK) {
            j->failed = 1;
            snprintf(j->why, sizeof j->why, "reduce: %s", rg_last_error());
            break;
        }
        if (rank == 0) memcpy(j->out + (size_t)s * N, g, sizeof g);
    }
    rg_codec_free(c);
    return NULL;
}

/* Runs `steps` reductions on W threads; out receives rank 0's results. */
static void run_fixed(const rg_codec_spec *spec, int W, int steps, int fixed, float *out, double *bytes)
{
    rg_comm *ranks[4];
    assert_int_equal(rg_comm_threads_create(W, ranks), RG_OK);
    job jobs[4];
    pthread_t t[4];
    for (int k = 0; k < W; k++) {
        jobs[k] = (job){ .c = ranks[k], .spec = spec, .steps = steps, .fixed = fixed, .out = out };
        pthread_create(&t[k], NULL, worker, &jobs[k]);
    }
    for (int k = 0; k < W; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < W; k++) {
        if (jobs[k].failed) fail_msg("rank %d: %s", k, jobs[k].why);
        rg_comm_free(ranks[k]);
    }
    if (bytes) *bytes = jobs[0].bytes;
}

static void run(const rg_codec_spec *spec, int W, int steps, float *out, double *bytes)
{
    run_fixed(spec, W, steps, 0, out, bytes);
}

static double exact(int W, uint64_t step, size_t i)
{
    double s = 0.0;
    for (int k = 0; k < W; k++) s += grad_of(k, step, i);
    return s;
}

static rg_codec_spec spec_of(const char *text, const char *ef)
{
    rg_codec_spec s;
    if (rg_codec_parse(text, ef, &s) != RG_OK) fail_msg("%s", rg_last_error());
    return s;
}

static void test_lossless(void **state)
{
    (void)state;
    const char *specs[] = { "topk:1", "randk:1", "powersgd:10" };
    for (size_t q = 0; q < 3; q++)
        for (int W = 1; W <= 4; W++) {
            rg_codec_spec sp = spec_of(specs[q], "off");
            float out[3 * N];
            run(&sp, W, 3, out, NULL);
            double worst = 0.0;
            for (uint64_t s = 0; s < 3; s++)
                for (size_t i = 0; i < N; i++) worst = fmax(worst, fabs(out[s * N + i] - exact(W, s, i)));
            if (worst > (q == 2 ? 1e-4 : 1e-6)) fail_msg("%s on %d workers: off by %g", specs[q], W, worst);
        }
}

static void test_precision(void **state)
{
    (void)state;
    const char *specs[] = { "fp16", "bf16" };
    const double rel[] = { 1e-3, 8e-3 };
    for (int q = 0; q < 2; q++) {
        rg_codec_spec sp = spec_of(specs[q], "auto");
        float out[N];
        double bytes;
        run(&sp, 3, 1, out, &bytes);
        for (size_t i = 0; i < N; i++) {
            double want = exact(3, 0, i), scale = 0.0;
            for (int k = 0; k < 3; k++) scale += fabs(grad_of(k, 0, i));
            if (fabs(out[i] - want) > rel[q] * scale) fail_msg("%s: value %zu: %g, want %g", specs[q], i, out[i], want);
        }
        assert_true(bytes == 2.0 * (double)((N + 1) / 2) * 4);   /* two peers' worth of half-size messages */
    }
}

static void test_sign(void **state)
{
    (void)state;
    rg_codec_spec sp = spec_of("sign", "off");
    float out[N];
    run(&sp, 2, 1, out, NULL);
    double scale[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < N; i++) scale[k] += fabs(grad_of(k, 0, i));
        scale[k] = (float)(scale[k] / N);
    }
    for (size_t i = 0; i < N; i++) {
        double want = 0.0;
        for (int k = 0; k < 2; k++) want += grad_of(k, 0, i) < 0 ? -(float)scale[k] : (float)scale[k];
        assert_true(fabs(out[i] - want) < 1e-6);
    }
}

/* QSGD rounds up or down at random so that its mean is the value: with
 * the same gradient at every step (only the key changes), the mean of S
 * outputs is off the sum by noise of known variance; the mean squared
 * z-score is about 1, where a bias of a tenth of a level would make it
 * tens. */
static void test_qsgd_unbiased(void **state)
{
    (void)state;
    enum { S = 300, W = 2, L = 4 };
    rg_codec_spec sp = spec_of("qsgd:4", "off");
    float *out = malloc(S * N * sizeof(float));
    run_fixed(&sp, W, S, 1, out, NULL);
    double norm[W];
    for (int k = 0; k < W; k++) {
        double n2 = 0.0;
        for (size_t i = 0; i < N; i++) n2 += (double)grad_of(k, 0, i) * grad_of(k, 0, i);
        norm[k] = (float)sqrt(n2);
    }
    double z2 = 0.0;
    int counted = 0;
    for (size_t i = 0; i < N; i++) {
        double mean = 0.0, var = 0.0;
        for (int s = 0; s < S; s++) mean += out[(size_t)s * N + i] / S;
        for (int k = 0; k < W; k++) {
            double l = L * fabs(grad_of(k, 0, i)) / norm[k], f = l - floor(l), step = norm[k] / L;
            var += step * step * f * (1.0 - f);
        }
        if (var < 1e-12) continue;
        double z = (mean - exact(W, 0, i)) / sqrt(var / S);
        z2 += z * z;
        counted++;
    }
    print_message("qsgd:4: mean z^2 %.3f over %d values\n", z2 / counted, counted);
    assert_true(counted > N / 2);
    assert_true(z2 / counted < 1.6);
    free(out);
}

/* Error feedback: over a run, what rank 0 sent adds up, with its final
 * residual, to what came in (one worker: its output is what it sent). */
static void test_error_feedback_loses_nothing(void **state)
{
    (void)state;
    const char *specs[] = { "topk:0.05", "randk:0.1", "sign", "powersgd:1" };
    for (int q = 0; q < 4; q++) {
        rg_codec_spec sp = spec_of(specs[q], "auto");
        assert_true(sp.error_feedback);
        rg_comm *self;
        assert_int_equal(rg_comm_self(&self), RG_OK);
        rg_codec *c;
        assert_int_equal(rg_codec_create(&sp, N, &g_block, 1, 11, self, &c), RG_OK);
        double in[N] = {0}, sent[N] = {0}, bytes = 0, dense = 0;
        float g[N];
        for (uint64_t s = 0; s < 20; s++) {
            for (size_t i = 0; i < N; i++) in[i] += g[i] = grad_of(0, s, i);
            assert_int_equal(rg_codec_reduce(c, g, s, &bytes, &dense), RG_OK);
            for (size_t i = 0; i < N; i++) sent[i] += g[i];
        }
        size_t sn = rg_codec_state_size(c);
        float *st = malloc(sn * sizeof(float));
        rg_codec_state_save(c, st);   /* the residual comes first */
        for (size_t i = 0; i < N; i++)
            if (fabs(sent[i] + st[i] - in[i]) > 1e-4) fail_msg("%s: value %zu loses %g", specs[q], i, in[i] - sent[i] - st[i]);
        /* and the state goes back in whole */
        rg_codec *d;
        assert_int_equal(rg_codec_create(&sp, N, &g_block, 1, 11, self, &d), RG_OK);
        rg_codec_state_load(d, st);
        float *back = malloc(sn * sizeof(float));
        rg_codec_state_save(d, back);
        assert_memory_equal(st, back, sn * sizeof(float));
        free(st);
        free(back);
        rg_codec_free(c);
        rg_codec_free(d);
        rg_comm_free(self);
    }
}

static void test_parse(void **state)
{
    (void)state;
    rg_codec_spec s;
    assert_int_equal(rg_codec_parse("topk:0.01", "auto", &s), RG_OK);
    assert_true(s.kind == RG_CODEC_TOPK && s.error_feedback && s.ratio == 0.01);
    assert_int_equal(rg_codec_parse("qsgd:4", "auto", &s), RG_OK);
    assert_true(s.levels == 4 && !s.error_feedback);
    assert_int_equal(rg_codec_parse("fp16", "on", &s), RG_OK);
    assert_true(s.error_feedback);
    const char *bad[] = { "topk", "topk:0", "topk:1.5", "qsgd:200", "powersgd:0", "zip", "sign:3", "fp16:2" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(rg_codec_parse(bad[i], "auto", &s), RG_EUSAGE);
        assert_non_null(strstr(rg_last_error(), "--compress"));
    }
    assert_int_equal(rg_codec_parse("none", "on", &s), RG_EUSAGE);
    assert_int_equal(rg_codec_parse("sign", "maybe", &s), RG_EUSAGE);
    /* QSGD is not contractive: a residual would outgrow the gradient */
    assert_int_equal(rg_codec_parse("qsgd:8", "on", &s), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "not contractive"));
    assert_int_equal(rg_codec_parse("qsgd:127", "off", &s), RG_OK);
    assert_non_null(strstr(rg_last_error(), "--error-feedback"));
}

/* A split codec (the parameter server's pushes: one part per server
 * shard, uneven here), encoded by a worker and decoded by another rank
 * with the same part: topk and randk put every value they keep back at
 * the index it came from (randk's indices are keyed by the part: a
 * decoder of another part would scatter them), each part keeps its own
 * share, and fp16 gives the part's values within its precision. */
static void test_split(void **state)
{
    (void)state;
    const size_t cut[] = {0, 57, N};
    const char *specs[] = {"randk:0.3", "topk:0.2", "fp16"};
    for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
        rg_codec_spec sp;
        assert_int_equal(rg_codec_parse(specs[k], "off", &sp), RG_OK);
        rg_codec *enc, *dec;
        assert_int_equal(rg_codec_create_split(&sp, cut, 2, 11, 0, &enc), RG_OK);
        assert_int_equal(rg_codec_create_split(&sp, cut, 2, 11, 1, &dec), RG_OK);
        float g[N], out[N];
        for (uint64_t step = 0; step < 3; step++) {
            for (size_t i = 0; i < N; i++) g[i] = grad_of(0, step, i);
            for (int j = 0; j < 2; j++) {
                size_t lo = cut[j], n = cut[j + 1] - lo, kept = 0;
                const float *msg;
                rg_codec_encode(enc, j, g + lo, step, &msg);
                rg_codec_decode(dec, j, msg, out, step);
                for (size_t i = 0; i < n; i++) {
                    if (out[i] == 0.0f) continue;
                    kept++;
                    float want = g[lo + i], tol = k == 2 ? 1e-3f * fabsf(want) : 0.0f;
                    if (fabsf(out[i] - want) > tol)
                        fail_msg("%s, step %d, part %d: element %zu decoded %g, sent %g", specs[k], (int)step, j, i,
                                 out[i], want);
                }
                size_t want_kept = k == 2 ? n : (size_t)ceil(sp.ratio * (double)n);
                if (kept + 1 < want_kept || kept > want_kept + 1)
                    fail_msg("%s, part %d: %zu of %zu values kept, expected about %zu", specs[k], j, kept, n, want_kept);
            }
        }
        rg_codec_free(enc);
        rg_codec_free(dec);
    }
}

/* topk's message is its k values, then k indices in as few bytes as n
 * needs (2 up to 65,536 values, 3 above), padded to whole floats: the
 * bytes counted on 2 workers are those, and indices at the edges of each
 * width (255/256, 65,535, 65,536, the last) come back where they were. */
static void test_topk_index_bytes(void **state)
{
    (void)state;
    rg_codec_spec sp = spec_of("topk:0.05", "off");
    size_t k = 10;   /* 0.05 x 203, rounded */
    float out[3 * N];
    double bytes = 0.0;
    run(&sp, 2, 3, out, &bytes);
    double want = 3.0 * (double)(k + (2 * k + 3) / 4) * sizeof(float);
    if (bytes != want) fail_msg("topk:0.05 on 2 workers: %.0f bytes in 3 steps, expected %.0f", bytes, want);

    const size_t ns[] = {65536, 65537, 70001}, widths[] = {2, 3, 3};
    for (size_t q = 0; q < 3; q++) {
        size_t n = ns[q], cut[] = {0, n};
        const size_t at[] = {0, 255, 256, 40000, 65534, n - 1, n > 65536 ? 65535 : 1};
        enum { K = sizeof at / sizeof *at };
        rg_codec_spec s = spec_of("topk:1", "off");
        s.ratio = (double)K / (double)n;
        rg_codec *enc, *dec;
        assert_int_equal(rg_codec_create_split(&s, cut, 1, 11, 0, &enc), RG_OK);
        assert_int_equal(rg_codec_create_split(&s, cut, 1, 11, 1, &dec), RG_OK);
        float *g = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
        assert_non_null(g);
        assert_non_null(back);
        for (size_t i = 0; i < n; i++) g[i] = 1e-3f * (float)((int)(i % 13) - 6);
        for (size_t j = 0; j < K; j++) g[at[j]] = (j % 2 ? -1.0f : 1.0f) * (float)(j + 2);
        const float *msg;
        rg_codec_encode(enc, 0, g, 0, &msg);
        size_t len = rg_codec_msg_len(enc, 0);
        if (len != K + (K * widths[q] + 3) / 4) fail_msg("n %zu: a message of %zu floats, expected %zu-byte indices", n, len, widths[q]);
        rg_codec_decode(dec, 0, msg, back, 0);
        for (size_t j = 0; j < K; j++)
            if (back[at[j]] != g[at[j]]) fail_msg("n %zu: index %zu decoded %g, sent %g", n, at[j], back[at[j]], g[at[j]]);
        size_t nonzero = 0;
        for (size_t i = 0; i < n; i++) nonzero += back[i] != 0.0f;
        assert_int_equal(nonzero, K);
        free(g);
        free(back);
        rg_codec_free(enc);
        rg_codec_free(dec);
    }
}

/* --compress-update: each worker's codec turns its gradient into its own
 * Adam update (bias-corrected, over the workers) before coding; on 2
 * workers a lossless code hands back the mean of the two, computed here
 * in double.  The moments and the step count go out and back in: a codec
 * loaded from another's state gives the same next step. */
static void test_adam_update(void **state)
{
    (void)state;
    rg_codec_spec sp = spec_of("topk:1", "off");
    sp.adam = 1, sp.beta1 = 0.9f, sp.beta2 = 0.999f, sp.eps = 1e-7f;
    enum { S = 4, W = 2 };
    float out[S * N];
    run(&sp, W, S, out, NULL);
    double m[W][N] = {{0}}, v[W][N] = {{0}}, worst = 0.0;
    for (int s = 0; s < S; s++) {
        double c1 = 1.0 - pow(0.9f, s + 1), c2 = 1.0 - pow(0.999f, s + 1);
        for (size_t i = 0; i < N; i++) {
            double want = 0.0;
            for (int k = 0; k < W; k++) {
                double g = grad_of(k, (uint64_t)s, i);
                m[k][i] = 0.9f * m[k][i] + (1.0 - 0.9f) * g;
                v[k][i] = 0.999f * v[k][i] + (1.0 - 0.999f) * g * g;
                want += m[k][i] / c1 / (sqrt(v[k][i] / c2) + 1e-7) / W;
            }
            worst = fmax(worst, fabs(out[(size_t)s * N + i] - want));
        }
    }
    print_message("adam update, 2 workers: off by %.3g\n", worst);
    assert_true(worst < 1e-5);

    rg_comm *self;
    assert_int_equal(rg_comm_self(&self), RG_OK);
    rg_codec *c, *d;
    assert_int_equal(rg_codec_create(&sp, N, &g_block, 1, 11, self, &c), RG_OK);
    assert_int_equal(rg_codec_create(&sp, N, &g_block, 1, 11, self, &d), RG_OK);
    assert_int_equal(rg_codec_state_size(c), 2 * N + 2);
    float g[N], h[N], st[2 * N + 2];
    double bytes = 0, dense = 0;
    for (uint64_t s = 0; s < 3; s++) {
        for (size_t i = 0; i < N; i++) g[i] = grad_of(0, s, i);
        assert_int_equal(rg_codec_reduce(c, g, s, &bytes, &dense), RG_OK);
    }
    rg_codec_state_save(c, st);
    rg_codec_state_load(d, st);
    for (size_t i = 0; i < N; i++) g[i] = h[i] = grad_of(0, 3, i);
    assert_int_equal(rg_codec_reduce(c, g, 3, &bytes, &dense), RG_OK);
    assert_int_equal(rg_codec_reduce(d, h, 3, &bytes, &dense), RG_OK);
    assert_memory_equal(g, h, sizeof g);
    rg_codec_free(c);
    rg_codec_free(d);
    rg_comm_free(self);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_topk_index_bytes),
        cmocka_unit_test(test_adam_update),
        cmocka_unit_test(test_lossless),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_qsgd_unbiased),
        cmocka_unit_test(test_error_feedback_loses_nothing),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
