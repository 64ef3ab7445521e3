/* The forward on W held transposed (rg_model_hold): which layers the rule
 * holds, that a held forward and backward give what the unheld ones give
 * (to rounding: LIBXSMM sums in another order than OpenBLAS), and that each
 * hold copies the weights afresh: after the weights change (an update,
 * through a model sharing the arena) the held forward is that of a fresh
 * model on the new weights, never of the old ones. */
#include "support.h"
#include "nn/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 32
#define IN 40
/* layers 1 (64 x 40) and 2 (16 x 64) are held under auto on AVX-512, the
 * last (10 outputs) is not */
static const char *spec = "dense(64, relu) dropout(0.5) dense(16, relu) dense(10, softmax)";

static float x[ROWS * IN];
static int32_t y[ROWS];

typedef struct result { double loss; float probs[ROWS * 10]; float *grads; } result;

static void run(rg_model *m, result *r)
{
    rg_pass p = { .seed = 5, .step = 3, .training = 1, .grad_scale = 1.0f / ROWS, .overwrite = 1 };
    assert_int_equal(rg_model_forward_backward(m, x, y, ROWS, &p, 1, &r->loss, NULL, r->probs), RG_OK);
    size_t P = rg_model_param_count(m);
    r->grads = realloc(r->grads, P * sizeof(float));
    memcpy(r->grads, rg_model_grads(m), P * sizeof(float));
}

/* a and b within float rounding of sums of IN terms */
static void close_to(const result *a, const result *b, size_t P)
{
    assert_true(fabs(a->loss - b->loss) <= 1e-5 * fabs(b->loss));
    for (size_t i = 0; i < ROWS * 10; i++)
        if (!(fabsf(a->probs[i] - b->probs[i]) <= 1e-5f)) fail_msg("prob %zu: %g vs %g", i, a->probs[i], b->probs[i]);
    for (size_t i = 0; i < P; i++)
        if (!(fabsf(a->grads[i] - b->grads[i]) <= 1e-5f + 1e-4f * fabsf(b->grads[i])))
            fail_msg("grad %zu: %g vs %g", i, a->grads[i], b->grads[i]);
}

/* The forward of a fresh model (never held) on m's weights. */
static void fresh(rg_model *m, result *r)
{
    rg_model *f;
    assert_int_equal(rg_model_clone(m, &f), RG_OK);
    run(f, r);
    rg_model_free(f);
}

/* An update: every weight moves, as an optimizer's step moves it. */
static void update(rg_model *m)
{
    float *w = rg_model_params(m), *g = rg_model_grads(m);
    for (size_t i = 0; i < rg_model_param_count(m); i++) w[i] = 0.8f * w[i] - 2.0f * g[i];
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = rg_rng_uniform(7, RG_RNG_USER, 1, i) * 2.0f - 1.0f;
    for (size_t i = 0; i < ROWS; i++) y[i] = (int32_t)(i % 10);
    if (!rg_sgemm_has_libxsmm()) return 0;
    /* auto holds on AVX-512 alone (its rule on AVX2 takes LIBXSMM but holds
     * nothing); libxsmm anywhere LIBXSMM generates kernels */
    const char *name = rg_blas_name();
    int holds = strncmp(name, "auto: libxsmm", 13) == 0 && strstr(name, "transposed once a step");
    return rg_sgemm_set_choice(holds ? RG_GEMM_AUTO : RG_GEMM_LIBXSMM) == RG_OK ? 0 : -1;
}

static void test_which_layers(void **state)
{
    (void)state;
    rg_model *m;
    assert_int_equal(rg_model_create(spec, IN, 3, &m), RG_OK);
    int x_on = rg_sgemm_has_libxsmm(), autom = rg_sgemm_choice() == RG_GEMM_AUTO;
    assert_int_equal(rg_model_hold(m, 1, ROWS), RG_OK);
    assert_int_equal(rg_model_fwd_held(m, 0), x_on);
    assert_int_equal(rg_model_fwd_held(m, 1), x_on);
    assert_int_equal(rg_model_fwd_held(m, 2), x_on && !autom);   /* 10 outputs: auto does not hold it */
    /* fewer rows than the rule's 32: auto holds nothing */
    assert_int_equal(rg_model_hold(m, 1, ROWS / 2), RG_OK);
    assert_int_equal(rg_model_fwd_held(m, 0), x_on && !autom);
    assert_int_equal(rg_model_hold(m, 0, 0), RG_OK);
    assert_int_equal(rg_model_fwd_held(m, 0), 0);
    /* --gemm openblas: nothing, and no copy is made */
    rg_gemm was = rg_sgemm_choice();
    assert_int_equal(rg_sgemm_set_choice(RG_GEMM_OPENBLAS), RG_OK);
    rg_model *o;
    assert_int_equal(rg_model_create(spec, IN, 3, &o), RG_OK);
    assert_int_equal(rg_model_hold(o, 1, ROWS), RG_OK);
    assert_int_equal(rg_model_fwd_held(o, 0), 0);
    assert_null(o->wt);
    /* the fixed-order mode: every layer */
    rg_sgemm_set_fixed(1);
    assert_int_equal(rg_model_hold(o, 1, 4), RG_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(rg_model_fwd_held(o, i), 1);
    rg_sgemm_set_fixed(0);
    assert_int_equal(rg_sgemm_set_choice(was), RG_OK);
    rg_model_free(o);
    rg_model_free(m);
}

static void test_held_gives_the_unheld(void **state)
{
    (void)state;
    if (!rg_sgemm_has_libxsmm()) skip();   /* nothing is held */
    rg_model *m;
    assert_int_equal(rg_model_create(spec, IN, 3, &m), RG_OK);
    size_t P = rg_model_param_count(m);
    result plain = {0}, held = {0}, want = {0};
    run(m, &plain);
    assert_int_equal(rg_model_hold(m, 1, ROWS), RG_OK);
    assert_true(rg_model_fwd_held(m, 0));
    run(m, &held);
    close_to(&held, &plain, P);
    run(m, &held);   /* a second pass of the same step: the same copy */
    close_to(&held, &plain, P);
    /* two steps: each update between holds, each held step against a
     * fresh model on the updated weights */
    for (int step = 0; step < 2; step++) {
        assert_int_equal(rg_model_hold(m, 0, 0), RG_OK);
        update(m);
        assert_int_equal(rg_model_hold(m, 1, ROWS), RG_OK);
        run(m, &held);
        fresh(m, &want);
        close_to(&held, &want, P);
        assert_true(fabs(held.loss - plain.loss) > 1e-3 * fabs(plain.loss));   /* the update moved it */
    }
    rg_model_hold(m, 0, 0);
    free(plain.grads); free(held.grads); free(want.grads);
    rg_model_free(m);
}

/* Worker threads share one arena (rg_model_share), each its own copy: the
 * weights the owner's update changes reach every sharer's next hold. */
static void test_shared_models(void **state)
{
    (void)state;
    if (!rg_sgemm_has_libxsmm()) skip();
    rg_model *m, *s;
    assert_int_equal(rg_model_create(spec, IN, 3, &m), RG_OK);
    assert_int_equal(rg_model_share(m, &s), RG_OK);
    size_t P = rg_model_param_count(m);
    result a = {0}, b = {0}, want = {0};
    for (int step = 0; step < 3; step++) {
        assert_int_equal(rg_model_hold(m, 1, ROWS), RG_OK);
        assert_int_equal(rg_model_hold(s, 1, ROWS), RG_OK);
        assert_true(s->wt != m->wt);
        run(m, &a);
        run(s, &b);
        fresh(m, &want);
        close_to(&a, &want, P);
        close_to(&b, &want, P);
        rg_model_hold(m, 0, 0);
        rg_model_hold(s, 0, 0);
        update(s);   /* through the sharer: the same arena */
    }
    free(a.grads); free(b.grads); free(want.grads);
    rg_model_free(s);
    rg_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_layers),
        cmocka_unit_test(test_held_gives_the_unheld),
        cmocka_unit_test(test_shared_models),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
