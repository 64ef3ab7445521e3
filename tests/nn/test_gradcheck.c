/* Finite-difference gradient checks: every activation, the loss with and
 * without label smoothing, every penalty, dropout, and whole models.  The
 * analytic gradient of f = grad_scale*sum(loss) + penalty is compared with
 * central differences in double-checked float arithmetic. */
#include "support.h"
#include "nn/model.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 5

static void make_batch(size_t d, size_t k, float *x, int32_t *y)
{
    for (size_t i = 0; i < N * d; i++) x[i] = rg_rng_uniform(7, RG_RNG_USER, 1, i) * 2.0f - 1.0f;
    for (size_t i = 0; i < N; i++) y[i] = (int32_t)(i % k);
}

static double objective(rg_model *m, const float *x, const int32_t *y, const rg_pass *p)
{
    double l = 0;
    assert_int_equal(rg_model_forward_backward(m, x, y, N, p, 0, &l, NULL, NULL), RG_OK);
    return l * p->grad_scale + rg_model_penalty(m, 1.0f, NULL);
}

/* Returns the worst relative error over all parameters, for the loss
 * `loss` (-1: the model's own).  Binary labels alternate 0 and 1;
 * regression targets are spread over [-2, 2]. */
static double check_loss(const char *spec, int loss, size_t d, float ls, int training, double tol)
{
    rg_model *m;
    assert_int_equal(rg_model_create(spec, d, 3, &m), RG_OK);
    if (loss >= 0) assert_int_equal(rg_model_set_loss(m, (rg_loss)loss), RG_OK);
    size_t k = rg_model_outputs(m), P = rg_model_param_count(m);
    float x[N * 16], tg[N];
    int32_t y[N];
    make_batch(d, rg_model_loss(m) == RG_LOSS_BCE ? 2 : k, x, y);
    for (size_t i = 0; i < N; i++) tg[i] = 4.0f * rg_rng_uniform(5, RG_RNG_USER, 3, i) - 2.0f;
    int regression = rg_model_loss(m) == RG_LOSS_MSE || rg_model_loss(m) == RG_LOSS_MAE;
    float *w = rg_model_params(m), *g = rg_model_grads(m);
    /* non-zero biases so every path is exercised */
    for (size_t i = 0; i < P; i++) w[i] += 0.05f * (rg_rng_uniform(9, RG_RNG_USER, 2, i) - 0.5f);
    rg_pass p = { .seed = 11, .step = 4, .sample_ids = NULL, .training = training, .label_smoothing = ls,
                  .grad_scale = 1.0f / N, .targets = regression ? tg : NULL };
    rg_model_zero_grad(m);
    double l;
    assert_int_equal(rg_model_forward_backward(m, x, y, N, &p, 1, &l, NULL, NULL), RG_OK);
    rg_model_penalty(m, 1.0f, g);
    float *analytic = malloc(P * sizeof(float));
    memcpy(analytic, g, P * sizeof(float));
    double worst = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = w[i];
        /* keep clear of the L1 and ReLU kinks: skip params within h of 0 for l1 */
        float h = 1e-2f * fmaxf(1.0f, fabsf(keep));
        if (strstr(spec, "l1=") && fabsf(keep) < 2 * h) continue;
        w[i] = keep + h; double fp = objective(m, x, y, &p);
        w[i] = keep - h; double fm = objective(m, x, y, &p);
        w[i] = keep;
        double num = (fp - fm) / (2.0 * (double)h);
        double err = fabs(num - analytic[i]) / fmax(fmax(fabs(num), fabs(analytic[i])), 1e-2);
        if (err > worst) worst = err;
        if (err > tol) {
            print_error("%s: param %zu analytic %.8g numeric %.8g\n", spec, i, analytic[i], num);
        }
    }
    free(analytic);
    rg_model_free(m);
    return worst;
}

static double check_model(const char *spec, size_t d, float ls, int training, double tol)
{
    return check_loss(spec, -1, d, ls, training, tol);
}

/* bce from the sigmoid's logit (the model's own loss for dense(1,
 * sigmoid)), with and without smoothing; mse and mae on float targets
 * (mae has a kink at each target: a step of h can cross it, so 2e-2) */
static void test_other_losses(void **state)
{
    (void)state;
    assert_true(check_loss("dense(6, tanh) dense(1, sigmoid)", -1, 5, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_loss("dense(6, tanh, l2=0.1) dense(1, sigmoid)", RG_LOSS_BCE, 5, 0.2f, 0, 5e-3) < 5e-3);
    assert_true(check_loss("dense(6, tanh) dense(1, linear)", RG_LOSS_BCE, 5, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_loss("dense(6, tanh, l2=0.1) dense(1, linear)", RG_LOSS_MSE, 5, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_loss("dense(7, gelu) dense(1)", RG_LOSS_MAE, 5, 0.0f, 0, 2e-2) < 2e-2);
}

/* Which last layer each loss takes, and what a label must be for bce. */
static void test_loss_needs(void **state)
{
    (void)state;
    rg_model *m;
    assert_int_equal(rg_model_create("dense(4, relu) dense(1, sigmoid)", 3, 1, &m), RG_OK);
    assert_int_equal(rg_model_loss(m), RG_LOSS_BCE);   /* auto */
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_MSE), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "--loss mse: the last layer must be dense(1, linear)"));
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_XENT), RG_EUSAGE);
    float x[3] = { 1, 2, 3 };
    int32_t y = 2;
    assert_int_equal(rg_model_forward_backward(m, x, &y, 1, NULL, 0, NULL, NULL, NULL), RG_EDATA);
    assert_non_null(strstr(rg_last_error(), "label 2 of sample 0 is not 0 or 1"));
    /* a clone, and a model sharing the weights, keep the loss */
    rg_model *c;
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_BCE), RG_OK);
    assert_int_equal(rg_model_clone(m, &c), RG_OK);
    assert_int_equal(rg_model_loss(c), RG_LOSS_BCE);
    rg_model_free(c);
    rg_model_free(m);
    assert_int_equal(rg_model_create("dense(3, softmax)", 3, 1, &m), RG_OK);
    assert_int_equal(rg_model_loss(m), RG_LOSS_XENT);
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_BCE), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "--loss bce: the last layer must be dense(1, sigmoid)"));
    rg_model_free(m);
    assert_int_equal(rg_model_create("dense(2, relu) dense(1)", 3, 1, &m), RG_OK);
    assert_int_equal(rg_model_set_loss(m, RG_LOSS_MAE), RG_OK);
    /* regression: the outputs are the predictions; a perfect one costs 0 */
    float out, tgt;
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 1, NULL, 0, NULL, NULL, &out), RG_OK);
    tgt = out;
    rg_pass p = { .grad_scale = 1.0f, .targets = &tgt };
    double l = -1;
    assert_int_equal(rg_model_forward_backward(m, x, NULL, 1, &p, 0, &l, NULL, NULL), RG_OK);
    assert_true(l == 0.0);
    rg_model_free(m);
}

static void test_activations(void **state)
{
    const char *acts[] = { "linear", "relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu" };
    for (size_t a = 0; a < 7; a++) {
        char spec[128];
        snprintf(spec, sizeof spec, "dense(7, %s) dense(4, softmax)", acts[a]);
        assert_true(check_model(spec, 6, 0.0f, 0, 5e-3) < 5e-3);
    }
}

static void test_output_activations(void **state)
{
    /* the loss takes softmax/linear outputs as logits, other activations through act */
    assert_true(check_model("dense(4, linear)", 6, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_model("dense(4, tanh)", 6, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_model("dense(4, sigmoid)", 6, 0.0f, 0, 5e-3) < 5e-3);
}

static void test_label_smoothing(void **state)
{
    assert_true(check_model("dense(6, tanh) dense(3, softmax)", 5, 0.2f, 0, 5e-3) < 5e-3);
}

static void test_penalties(void **state)
{
    assert_true(check_model("dense(6, tanh, l2=0.3) dense(3, softmax, l2=0.1)", 5, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_model("dense(6, tanh, l1=0.2) dense(3, softmax, l1=0.05)", 5, 0.0f, 0, 5e-3) < 5e-3);
    assert_true(check_model("dense(6, sigmoid, l1=0.1, l2=0.2) dense(3, softmax)", 5, 0.0f, 0, 5e-3) < 5e-3);
}

static void test_bias_false_and_dropout(void **state)
{
    assert_true(check_model("dense(6, tanh, bias=false) dense(3)", 5, 0.0f, 0, 5e-3) < 5e-3);
    /* dropout in training mode: the mask is fixed by (seed, step, id), so the
     * function is deterministic and differentiable */
    assert_true(check_model("dense(8, tanh) dropout(0.4) dense(3, softmax)", 5, 0.0f, 1, 5e-3) < 5e-3);
}

static void test_whole_reference_model(void **state)
{
    /* ReLU: a step of h can cross the kink, so this one gets 2e-2 */
    assert_true(check_model("dense(12, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)", 16, 0.1f, 1, 2e-2) < 2e-2);
    assert_true(check_model("dense(9, gelu) dense(7, tanh, l1=0.01) dense(5, sigmoid) dense(3, softmax)", 8, 0.0f, 0, 5e-3) < 5e-3);
    /* leaky_relu has a kink at 0 like ReLU (2e-2); elu is smooth there */
    assert_true(check_model("dense(10, leaky_relu, l2=0.01) dense(8, elu) dense(4, softmax)", 8, 0.0f, 0, 2e-2) < 2e-2);
}

static void test_penalty_value(void **state)
{
    rg_model *m;
    assert_int_equal(rg_model_create("dense(2, relu, l1=0.5, l2=0.25) dense(2, linear)", 2, 1, &m), RG_OK);
    float *w, *b;
    assert_int_equal(rg_model_dense(m, 0, NULL, NULL, &w, &b), RG_OK);
    w[0] = 1; w[1] = -2; w[2] = 3; w[3] = 0; b[0] = 100; b[1] = 100; /* biases carry no penalty */
    float *w2;
    assert_int_equal(rg_model_dense(m, 1, NULL, NULL, &w2, NULL), RG_OK);
    memset(w2, 0, 4 * sizeof(float));
    /* 0.5*(1+2+3) + 0.25*(1+4+9) = 3 + 3.5 */
    assert_float_equal(rg_model_penalty(m, 1.0f, NULL), 6.5, 1e-6);
    assert_float_equal(rg_model_penalty(m, 2.0f, NULL), 13.0, 1e-6);
    rg_model_free(m);
}

static void test_start_grad_is_zero_plus_penalty(void **state)
{
    rg_model *m;
    assert_int_equal(rg_model_create("dense(40, relu, l1=0.01, l2=0.02) dense(30, tanh) dense(7, softmax, l2=0.5)", 33, 5, &m), RG_OK);
    size_t P = rg_model_param_count(m);
    float *g = rg_model_grads(m), *want = malloc(P * sizeof(float));
    for (size_t i = 0; i < P; i++) g[i] = 123.0f;   /* stale values must go */
    rg_model_zero_grad(m);
    double pen = rg_model_penalty(m, 0.7f, g);
    memcpy(want, g, P * sizeof(float));
    for (size_t i = 0; i < P; i++) g[i] = 123.0f;
    double pen2 = rg_model_start_grad(m, 0.7f);
    assert_true(pen == pen2);
    assert_memory_equal(g, want, P * sizeof(float));
    free(want);
    rg_model_free(m);
}

static void test_overwrite_equals_zero_then_accumulate(void **state)
{
    rg_model *m;
    assert_int_equal(rg_model_create("dense(9, relu) dropout(0.3) dense(4, softmax)", 6, 2, &m), RG_OK);
    size_t P = rg_model_param_count(m);
    float x[N * 6], *g = rg_model_grads(m), *want = malloc(P * sizeof(float));
    int32_t y[N];
    make_batch(6, 4, x, y);
    rg_pass p = { .seed = 1, .step = 2, .training = 1, .grad_scale = 0.25f };
    rg_model_zero_grad(m);
    assert_int_equal(rg_model_forward_backward(m, x, y, N, &p, 1, NULL, NULL, NULL), RG_OK);
    memcpy(want, g, P * sizeof(float));
    for (size_t i = 0; i < P; i++) g[i] = NAN;   /* stale values must not leak in */
    p.overwrite = 1;
    assert_int_equal(rg_model_forward_backward(m, x, y, N, &p, 1, NULL, NULL, NULL), RG_OK);
    assert_memory_equal(g, want, P * sizeof(float));
    free(want);
    rg_model_free(m);
}

static void test_canonical_spec_round_trips(void **state)
{
    /* widths print as integers (a %g would give 1e+06 and fail to parse) */
    rg_model *m, *m2;
    assert_int_equal(rg_model_create("dense(1000000, relu, l2=0.01, bias=false) dropout(0.25) dense(3, maxnorm=2)", 1, 1, &m), RG_OK);
    assert_string_equal(rg_model_spec(m), "dense(1000000, relu, l2=0.01, bias=false) dropout(0.25) dense(3, linear, maxnorm=2)");
    assert_int_equal(rg_model_create(rg_model_spec(m), 1, 1, &m2), RG_OK);
    assert_string_equal(rg_model_spec(m), rg_model_spec(m2));
    rg_model_free(m);
    rg_model_free(m2);
    /* a value finite as a double but not as a float is refused (found by fuzzing) */
    assert_int_equal(rg_model_create("dense(3, l2=1e300)", 2, 1, &m), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "l2=1e300"));
    /* a model over 2^32 parameters is refused, naming the layer (its message
     * read freed memory once: found by fuzzing, caught here under ASan) */
    assert_int_equal(rg_model_create("dense(16000000) dense(16000000)", 2, 1, &m), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "layer 2 with 16000000 x 16000000 weights is too large"));
}

/* rg_model_penalty_measured: the penalty (L1 + L2 and L2 alone, kernels
 * longer than a chunk, not multiples of 16) added to g, with the sum of
 * squares and the largest |element| of the result, bit for bit those of
 * rg_model_penalty, rg_clip_global_norm's sum and rg_max_abs one after
 * another; with add 0 the gradient is measured as it is. */
static void test_penalty_measured_is_the_passes(void **state)
{
    (void)state;
    const char *specs[] = { "dense(70, relu, l2=0.01) dense(3, softmax, l1=0.001, l2=0.02)",
                            "dense(33, relu) dense(5, softmax, l1=0.01)" };
    for (size_t sp = 0; sp < 2; sp++)
        for (int add = 0; add < 2; add++) {
            rg_model *m;
            assert_int_equal(rg_model_create(specs[sp], 61, 3, &m), RG_OK);
            size_t P = rg_model_param_count(m);
            float *g1 = malloc(P * sizeof(float)), *g2 = malloc(P * sizeof(float));
            for (size_t i = 0; i < P; i++) g1[i] = g2[i] = rg_rng_uniform(9, RG_RNG_USER, sp, i) - 0.5f;
            double pen1 = add ? rg_model_penalty(m, 1.0f, g1) : 0.0, ss1 = 0.0;
            for (size_t i = 0; i < P; i++) ss1 += (double)g1[i] * g1[i];
            float max1 = rg_max_abs(g1, P), max2;
            double ss2, pen2 = rg_model_penalty_measured(m, 1.0f, g2, add, RG_MEASURE_SUMSQ | RG_MEASURE_MAX, &ss2, &max2);
            assert_memory_equal(g1, g2, P * sizeof(float));
            assert_memory_equal(&pen1, &pen2, sizeof pen1);
            assert_memory_equal(&ss1, &ss2, sizeof ss1);
            assert_memory_equal(&max1, &max2, sizeof max1);
            g2[P / 2] = NAN;   /* +Inf, as rg_max_abs says */
            rg_model_penalty_measured(m, 1.0f, g2, 0, RG_MEASURE_MAX, &ss2, &max2);
            assert_true(isinf(max2));
            free(g1);
            free(g2);
            rg_model_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_output_activations),
        cmocka_unit_test(test_label_smoothing),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_bias_false_and_dropout),
        cmocka_unit_test(test_whole_reference_model),
        cmocka_unit_test(test_other_losses),
        cmocka_unit_test(test_loss_needs),
        cmocka_unit_test(test_penalty_value),
        cmocka_unit_test(test_start_grad_is_zero_plus_penalty),
        cmocka_unit_test(test_overwrite_equals_zero_then_accumulate),
        cmocka_unit_test(test_canonical_spec_round_trips),
        cmocka_unit_test(test_penalty_measured_is_the_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
