/* Optimizers and clipping: hand-computed single steps (the PyTorch dump
 * covers ten-step trajectories), decoupled weight decay for every
 * optimizer, and the global-norm clip. */
#include "support.h"
#include "regula.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void one_step(rg_opt_config c, float p0, float g, float lr, float *p_out, int steps)
{
    rg_optimizer *o;
    assert_int_equal(rg_optimizer_create(&c, 1, &o), RG_OK);
    float p = p0;
    for (int i = 0; i < steps; i++) rg_optimizer_step(o, &p, &g, lr);
    assert_int_equal(rg_optimizer_steps(o), (uint64_t)steps);
    *p_out = p;
    rg_optimizer_free(o);
}

static void test_sgd(void **state)
{
    float p;
    one_step((rg_opt_config){ .kind = RG_OPT_SGD }, 1.0f, 0.5f, 0.1f, &p, 1);
    assert_float_equal(p, 0.95, 1e-7);
    /* momentum 0.9, constant gradient: buf = g, then 1.9 g */
    one_step((rg_opt_config){ .kind = RG_OPT_SGD, .momentum = 0.9f }, 1.0f, 0.5f, 0.1f, &p, 2);
    assert_float_equal(p, 1.0 - 0.1 * 0.5 - 0.1 * 0.95, 1e-6);
    /* Nesterov: step uses g + mu * buf */
    one_step((rg_opt_config){ .kind = RG_OPT_SGD, .momentum = 0.9f, .nesterov = 1 }, 1.0f, 0.5f, 0.1f, &p, 1);
    assert_float_equal(p, 1.0 - 0.1 * (0.5 + 0.9 * 0.5), 1e-6);
}

static void test_adam_first_step_is_lr_sign(void **state)
{
    /* bias-corrected first step: m_hat = g, v_hat = g^2 → step = lr * g/(|g|+eps) */
    float p;
    one_step((rg_opt_config){ .kind = RG_OPT_ADAM, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f }, 1.0f, -3.0f, 0.01f, &p, 1);
    assert_float_equal(p, 1.0 + 0.01 * 3.0 / (3.0 + 1e-7), 1e-6);
}

static void test_rmsprop(void **state)
{
    /* PyTorch's RMSprop: v = (1-rho) g^2 from 0, no bias correction, so the
     * first step is lr * g / (sqrt(1-rho) |g| + eps) */
    float p;
    rg_opt_config c = { .kind = RG_OPT_RMSPROP, .rho = 0.99f, .eps = 1e-8f };
    one_step(c, 1.0f, -3.0f, 0.01f, &p, 1);
    assert_float_equal(p, 1.0 + 0.01 * 3.0 / (sqrt(0.01) * 3.0 + 1e-8), 1e-6);
    /* two steps of a constant g: v2 = (1-rho)(1+rho) g^2 */
    one_step(c, 1.0f, 0.5f, 0.01f, &p, 2);
    double v1 = 0.01 * 0.25, v2 = 0.99 * v1 + 0.01 * 0.25;
    assert_float_equal(p, 1.0 - 0.01 * 0.5 / sqrt(v1) - 0.01 * 0.5 / sqrt(v2), 1e-6);
    /* momentum: buf = mu * buf + g / avg from 0, the step is lr * buf */
    c.momentum = 0.9f;
    one_step(c, 1.0f, 0.5f, 0.01f, &p, 2);
    double b1 = 0.5 / sqrt(v1), b2 = 0.9 * b1 + 0.5 / sqrt(v2);
    assert_float_equal(p, 1.0 - 0.01 * b1 - 0.01 * b2, 1e-5);
    /* state: the mean square, then the buffer only with momentum */
    rg_optimizer *o;
    assert_int_equal(rg_optimizer_create(&c, 3, &o), RG_OK);
    assert_int_equal(rg_optimizer_state_count(o), 2);
    rg_optimizer_free(o);
    c.momentum = 0.0f;
    assert_int_equal(rg_optimizer_create(&c, 3, &o), RG_OK);
    assert_int_equal(rg_optimizer_state_count(o), 1);
    float w[3] = {0}, g[3] = {1, 2, 3};
    rg_optimizer_step(o, w, g, 0.1f);
    assert_float_equal(rg_optimizer_state(o, 0)[2], 0.01 * 9, 1e-6);
    assert_null(rg_optimizer_state(o, 1));
    rg_optimizer_free(o);
}

static void test_decoupled_weight_decay(void **state)
{
    /* zero gradient: only the decay moves the weight, for every optimizer */
    float p;
    one_step((rg_opt_config){ .kind = RG_OPT_SGD, .weight_decay = 0.5f }, 2.0f, 0.0f, 0.1f, &p, 1);
    assert_float_equal(p, 2.0 * (1 - 0.05), 1e-6);
    one_step((rg_opt_config){ .kind = RG_OPT_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .weight_decay = 0.5f },
             2.0f, 0.0f, 0.1f, &p, 1);
    assert_float_equal(p, 2.0 * (1 - 0.05), 1e-6);
    one_step((rg_opt_config){ .kind = RG_OPT_ADAM, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .weight_decay = 0.5f },
             2.0f, 0.0f, 0.1f, &p, 3);
    assert_float_equal(p, 2.0 * pow(0.95, 3), 1e-6);
    one_step((rg_opt_config){ .kind = RG_OPT_RMSPROP, .rho = 0.99f, .eps = 1e-8f, .weight_decay = 0.5f },
             2.0f, 0.0f, 0.1f, &p, 2);
    assert_float_equal(p, 2.0 * pow(0.95, 2), 1e-6);
}

static void test_state_arenas(void **state)
{
    rg_optimizer *o;
    rg_opt_config c = { .kind = RG_OPT_ADAM, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f };
    assert_int_equal(rg_optimizer_create(&c, 4, &o), RG_OK);
    assert_int_equal(rg_optimizer_state_count(o), 2);
    float p[4] = {0}, g[4] = {1, 2, 3, 4};
    rg_optimizer_step(o, p, g, 0.1f);
    assert_float_equal(rg_optimizer_state(o, 0)[3], 0.4, 1e-6);            /* m = (1-b1) g */
    assert_float_equal(rg_optimizer_state(o, 1)[3], 0.001 * 16, 1e-6);     /* v = (1-b2) g^2 */
    assert_null(rg_optimizer_state(o, 2));
    rg_optimizer_free(o);
    c = (rg_opt_config){ .kind = RG_OPT_SGD };
    assert_int_equal(rg_optimizer_create(&c, 4, &o), RG_OK);
    assert_int_equal(rg_optimizer_state_count(o), 0);   /* plain SGD keeps no state */
    rg_optimizer_free(o);
}

static void test_clip_global_norm(void **state)
{
    float g[4] = {3, 4, 0, 0};
    assert_float_equal(rg_clip_global_norm(g, 4, 10.0), 5.0, 1e-9);
    assert_float_equal(g[0], 3, 0);                 /* under the limit: untouched */
    assert_float_equal(rg_clip_global_norm(g, 4, 1.0), 5.0, 1e-9);
    double n = sqrt((double)g[0] * g[0] + (double)g[1] * g[1]);
    assert_float_equal(n, 1.0, 1e-5);
    assert_float_equal(g[0] / g[1], 0.75, 1e-6);    /* direction kept */
}

/* Every update reports a NaN/Inf it wrote (weights or moments), and the
 * gradient limit keeps Adam's second moment a float. */
static void test_overflow_is_reported(void **state)
{
    (void)state;
    rg_opt_config kinds[6] = {
        { .kind = RG_OPT_SGD },
        { .kind = RG_OPT_SGD, .momentum = 0.9f },
        { .kind = RG_OPT_SGD, .momentum = 0.9f, .nesterov = 1 },
        { .kind = RG_OPT_ADAM, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f },
        { .kind = RG_OPT_RMSPROP, .rho = 0.99f, .eps = 1e-7f },
        { .kind = RG_OPT_RMSPROP, .rho = 0.99f, .eps = 1e-7f, .momentum = 0.9f },
    };
    for (int k = 0; k < 6; k++) {
        rg_optimizer *o;
        assert_int_equal(rg_optimizer_create(&kinds[k], 3, &o), RG_OK);
        float p[3] = { 1, 2, 3 }, g[3] = { 0.5f, 0.5f, 0.5f };
        assert_int_equal(rg_optimizer_step(o, p, g, 0.1f), 0);
        /* an update of lr 3e38 pushes a weight past FLT_MAX */
        g[1] = 4.0f;
        assert_int_not_equal(rg_optimizer_step(o, p, g, 3e38f), 0);
        float lim = rg_optimizer_grad_limit(o);
        assert_true(lim > 1e18f);
        rg_optimizer_free(o);
    }
    /* Adam at its limit, step after step: the moments stay finite; past
     * 5.8e20 the very first step's (1 - beta2) g^2 would overflow */
    rg_optimizer *o;
    assert_int_equal(rg_optimizer_create(&kinds[3], 1, &o), RG_OK);
    float lim = rg_optimizer_grad_limit(o), p = 0.0f;
    assert_true(lim >= 1e18f && (double)lim * lim * 0.001 < 3.4e38 && (double)lim * lim < 3.4e38);
    for (int i = 0; i < 20000; i++) assert_int_equal(rg_optimizer_step(o, &p, &lim, 0.001f), 0);
    float big = 1e21f;
    assert_int_not_equal(rg_optimizer_step(o, &p, &big, 0.001f), 0);   /* v overflows: said so */
    rg_optimizer_free(o);
}

/* rg_optimizer_step_scaled(g, k) leaves the bits of rg_clip_global_norm
 * (which scales by k) and rg_optimizer_step: weights and every moment,
 * over three steps (SGD's buffer starts at the first gradient), for each
 * optimizer; grads itself is not written. */
static void test_scaled_step_is_clip_then_step(void **state)
{
    (void)state;
    const rg_opt_config cs[] = {
        { .kind = RG_OPT_SGD }, { .kind = RG_OPT_SGD, .momentum = 0.9f },
        { .kind = RG_OPT_SGD, .momentum = 0.9f, .nesterov = 1, .weight_decay = 0.01f },
        { .kind = RG_OPT_ADAM, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .weight_decay = 0.01f },
        { .kind = RG_OPT_RMSPROP, .rho = 0.9f, .eps = 1e-7f }, { .kind = RG_OPT_RMSPROP, .rho = 0.9f, .eps = 1e-7f, .momentum = 0.5f },
    };
    enum { n = 37 };
    for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
        rg_optimizer *a, *b;
        assert_int_equal(rg_optimizer_create(&cs[c], n, &a), RG_OK);
        assert_int_equal(rg_optimizer_create(&cs[c], n, &b), RG_OK);
        float pa[n], pb[n], g[n], gc[n];
        for (int i = 0; i < n; i++) pa[i] = pb[i] = 0.1f * (float)(i % 7) - 0.3f;
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < n; i++) g[i] = (float)((i * 37 + t * 11) % 23) - 11.0f + 0.01f * (float)i;
            memcpy(gc, g, sizeof g);
            double norm = rg_clip_global_norm(gc, n, 5.0);   /* clips: norm > 5 */
            float k = rg_clip_factor(norm, 5.0);
            assert_true(k < 1.0f);
            rg_optimizer_step(a, pa, gc, 0.05f);
            float g0[n];
            memcpy(g0, g, sizeof g);
            rg_optimizer_step_scaled(b, pb, g, k, 0.05f);
            assert_memory_equal(g, g0, sizeof g);   /* read, not written */
            assert_memory_equal(pa, pb, sizeof pa);
            for (int s = 0; s < rg_optimizer_state_count(a); s++)
                assert_memory_equal(rg_optimizer_state(a, s), rg_optimizer_state(b, s), n * sizeof(float));
        }
        rg_optimizer_free(a);
        rg_optimizer_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_adam_first_step_is_lr_sign),
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_decoupled_weight_decay),
        cmocka_unit_test(test_state_arenas),
        cmocka_unit_test(test_clip_global_norm),
        cmocka_unit_test(test_scaled_step_is_clip_then_step),
        cmocka_unit_test(test_overflow_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
