/* The federated algorithms against a reference computed here by plain
 * loops in double: a softmax layer (8 inputs, 4 classes, no penalty),
 * 3 clients with 160 samples each taken whole at every local step (so the
 * order of samples does not matter), every client every round, SGD.  The
 * reference follows the papers' update rules as written in the comments
 * of src/fed/algo*.c: FedAvg with server momentum (Hsu et al. 2019),
 * FedAdam and FedYogi (Reddi et al. 2021, Algorithm 2), SCAFFOLD
 * (Karimireddy et al. 2020, option II), FedDyn (Acar et al. 2021).  Each
 * result must also differ from plain FedAvg's, so that the comparison can
 * fail. */
#include "support.h"
#include "regula.h"
#include "data/partition.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 8, K = 4, P = D * K + K, C = 3, R = 3, S = 3 };
#define LR 0.1
#define SPEC "dense(4, softmax)"

static rg_dataset *g_train;

static int setup(void **state)
{
    (void)state;
    g_train = rgt_blobs(480, 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rg_dataset_free(g_train);
    return 0;
}

/* The mean cross-entropy gradient of client part [ids, n) at w (kernel
 * [K, D] then bias [K], PyTorch's layout). */
static void grad(const double *w, const uint64_t *ids, size_t n, double *g)
{
    const float *X = rg_dataset_x(g_train);
    const int32_t *Y = rg_dataset_y(g_train);
    memset(g, 0, P * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        const float *x = X + ids[i] * D;
        double z[K], mx = -INFINITY, sum = 0.0;
        for (int k = 0; k < K; k++) {
            z[k] = w[D * K + k];
            for (int j = 0; j < D; j++) z[k] += w[k * D + j] * x[j];
            mx = fmax(mx, z[k]);
        }
        for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
        for (int k = 0; k < K; k++) {
            double e = exp(z[k] - mx) / sum - (k == Y[ids[i]] ? 1.0 : 0.0);
            for (int j = 0; j < D; j++) g[k * D + j] += e * x[j] / (double)n;
            g[D * K + k] += e / (double)n;
        }
    }
}

typedef enum { A_FEDAVG, A_MOMENTUM, A_ADAM, A_YOGI, A_SCAFFOLD, A_FEDDYN } algo;
#define SLR 0.5         /* --server-lr of momentum and scaffold */
#define BETA 0.9        /* --server-momentum */
#define ETA 0.05        /* --server-lr of fedadam, fedyogi */
#define B1 0.9
#define B2 0.99
#define TAU 1e-2
#define ALPHA 0.1       /* --feddyn-alpha */

/* The reference run: R rounds, every client S local steps of its whole part. */
static void reference(algo a, const rg_parts *parts, double *x)
{
    double m[P] = {0}, v[P], c[P] = {0}, h[P] = {0}, ci[C][P], delta[P], y[P], g[P], upd[C][P];
    memset(ci, 0, sizeof ci);
    for (int q = 0; q < P; q++) v[q] = a == A_MOMENTUM ? 0.0 : TAU * TAU;
    for (int r = 0; r < R; r++) {
        memset(delta, 0, sizeof delta);
        for (int i = 0; i < C; i++) {
            memcpy(y, x, sizeof y);
            const uint64_t *ids = parts->ids + parts->offset[i];
            size_t n = parts->offset[i + 1] - parts->offset[i];
            for (int s = 0; s < S; s++) {
                grad(y, ids, n, g);
                for (int q = 0; q < P; q++) {
                    if (a == A_SCAFFOLD) g[q] += c[q] - ci[i][q];
                    if (a == A_FEDDYN) g[q] += ALPHA * (y[q] - x[q]) - ci[i][q];
                    y[q] -= LR * g[q];
                }
            }
            for (int q = 0; q < P; q++) {
                upd[i][q] = y[q] - x[q];
                delta[q] += upd[i][q] / C;   /* equal parts: equal weights */
            }
        }
        double csum[P] = {0}, usum[P] = {0};
        for (int i = 0; i < C; i++)
            for (int q = 0; q < P; q++) {
                double dc = -c[q] - upd[i][q] / (S * LR);
                if (a == A_SCAFFOLD) ci[i][q] += dc, csum[q] += dc;
                if (a == A_FEDDYN) ci[i][q] -= ALPHA * upd[i][q], usum[q] += upd[i][q];
            }
        for (int q = 0; q < P; q++) {
            double d = delta[q];
            switch (a) {
            case A_FEDAVG: x[q] += d; break;
            case A_MOMENTUM: v[q] = BETA * v[q] + d; x[q] += SLR * v[q]; break;
            case A_ADAM:
            case A_YOGI:
                m[q] = B1 * m[q] + (1 - B1) * d;
                if (a == A_ADAM) v[q] = B2 * v[q] + (1 - B2) * d * d;
                else v[q] -= (1 - B2) * d * d * (v[q] > d * d ? 1.0 : v[q] < d * d ? -1.0 : 0.0);
                x[q] += ETA * m[q] / (sqrt(v[q]) + TAU);
                break;
            case A_SCAFFOLD: x[q] += SLR * d; c[q] += csum[q] / C; break;
            case A_FEDDYN: h[q] -= ALPHA / C * usum[q]; x[q] += d - h[q] / ALPHA; break;
            }
        }
    }
}

/* The library's run of the same thing. */
static void library(const char *const *kv, float *out)
{
    rg_config c;
    rg_config_defaults(&c);
    const char *base[] = { "model", SPEC, "optimizer", "sgd", "lr", "0.1", "clients", "3", "sample", "1",
                           "partition", "iid", "local-steps", "3", "batch", "160", "rounds", "3", "log-every", "0",
                           "no-shuffle", "true", "server-beta1", "0.9", "server-beta2", "0.99", "server-eps", "0.01",
                           "feddyn-alpha", "0.1", NULL };
    for (const char *const *p = base; *p; p += 2)
        if (rg_config_set(&c, p[0], p[1]) != RG_OK) fail_msg("%s", rg_last_error());
    for (; kv && kv[0]; kv += 2)
        if (rg_config_set(&c, kv[0], kv[1]) != RG_OK) fail_msg("%s", rg_last_error());
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, D, c.seed, &m), RG_OK);
    rg_train_result r;
    if (rg_train(&c, m, g_train, NULL, NULL, NULL, NULL, &r) != RG_OK) fail_msg("%s", rg_last_error());
    assert_int_equal(rg_model_param_count(m), P);
    memcpy(out, rg_model_params(m), P * sizeof(float));
    rg_model_free(m);
}

static double max_diff_f(const float *a, const double *b)
{
    double d = 0.0;
    for (int q = 0; q < P; q++) d = fmax(d, fabs((double)a[q] - b[q]));
    return d;
}

static void check(algo a, const char *name, const char *const *kv)
{
    rg_partition spec = { .kind = RG_PART_IID };
    rg_parts parts;
    assert_int_equal(rg_partition_make(rg_dataset_y(g_train), rg_dataset_size(g_train), K, &spec, C, 1, &parts), RG_OK);
    for (int i = 0; i < C; i++) assert_int_equal(parts.offset[i + 1] - parts.offset[i], 160);
    rg_model *m0;
    assert_int_equal(rg_model_create(SPEC, D, 1, &m0), RG_OK);
    double ref[P], avg[P];
    for (int q = 0; q < P; q++) ref[q] = avg[q] = rg_model_params(m0)[q];
    rg_model_free(m0);
    reference(a, &parts, ref);
    reference(A_FEDAVG, &parts, avg);
    float got[P];
    library(kv, got);
    double d = max_diff_f(got, ref), apart = 0.0;
    for (int q = 0; q < P; q++) apart = fmax(apart, fabs(ref[q] - avg[q]));
    printf("%s: library vs reference %.3g; the reference vs plain fedavg %.3g\n", name, d, apart);
    assert_true(d < 2e-5);
    if (a != A_FEDAVG) assert_true(apart > 100 * 2e-5);
    rg_partition_free(&parts);
}

static void test_fedavg(void **state) { (void)state; check(A_FEDAVG, "fedavg", NULL); }
static void test_server_momentum(void **state)
{
    (void)state;
    check(A_MOMENTUM, "fedavg + server momentum", (const char *[]){ "algo", "fedavg", "server-momentum", "0.9", "server-lr", "0.5", NULL });
}
static void test_fedadam(void **state)
{
    (void)state;
    check(A_ADAM, "fedadam", (const char *[]){ "algo", "fedadam", "server-lr", "0.05", NULL });
}
static void test_fedyogi(void **state)
{
    (void)state;
    check(A_YOGI, "fedyogi", (const char *[]){ "algo", "fedyogi", "server-lr", "0.05", NULL });
}
static void test_scaffold(void **state)
{
    (void)state;
    check(A_SCAFFOLD, "scaffold", (const char *[]){ "algo", "scaffold", "server-lr", "0.5", NULL });
}
static void test_feddyn(void **state)
{
    (void)state;
    check(A_FEDDYN, "feddyn", (const char *[]){ "algo", "feddyn", NULL });
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedavg), cmocka_unit_test(test_server_momentum), cmocka_unit_test(test_fedadam),
        cmocka_unit_test(test_fedyogi), cmocka_unit_test(test_scaffold), cmocka_unit_test(test_feddyn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
