/* rg_model_forward_backward_shards, a --deterministic step's shards as one
 * pass, against the shards one by one (each pass into a slot of its own,
 * the slots summed by rg_tree_sum, as det.c does): the same bits of every
 * gradient element, and each shard's loss, correct count and largest
 * gradient element, over odd shapes, shard counts that are not powers of
 * two, rows that do not divide evenly, empty shards, dropout (fused with
 * an activation, and on the input), every loss, class weights, a layer
 * without a bias, and products on the shallow (few rows a shard) and tiled
 * (many) paths.  CMake runs it again under REGULA_ISA=avx2 and scalar. */
#include "support.h"
#include "nn/model.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct shard_case {
    const char *spec;
    int loss;                   /* -1: the model's own */
    size_t d, n;
    int S;
    int weighted;               /* class weights */
} shard_case;

static void check(const shard_case *c)
{
    rg_model *m;
    assert_int_equal(rg_model_create(c->spec, c->d, 5, &m), RG_OK);
    if (c->loss >= 0) assert_int_equal(rg_model_set_loss(m, (rg_loss)c->loss), RG_OK);
    size_t P = rg_model_param_count(m), k = rg_model_outputs(m), n = c->n, PT = P + RG_GRAD_TAIL;
    int S = c->S, regression = rg_model_loss(m) == RG_LOSS_MSE || rg_model_loss(m) == RG_LOSS_MAE;
    size_t classes = rg_model_loss(m) == RG_LOSS_BCE ? 2 : k;
    float *x = malloc(n * c->d * sizeof *x), *tg = malloc(n * sizeof *tg), *w = rg_model_params(m);
    int32_t *y = malloc(n * sizeof *y);
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n * c->d; i++) x[i] = 2.0f * rg_rng_uniform(7, RG_RNG_USER, 1, i) - 1.0f;
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)((i * 7) % classes);
        tg[i] = 4.0f * rg_rng_uniform(5, RG_RNG_USER, 3, i) - 2.0f;
        ids[i] = 1000 + 3 * i;   /* dropout keys: the samples', not the rows' */
    }
    for (size_t i = 0; i < P; i++) w[i] += 0.05f * (rg_rng_uniform(9, RG_RNG_USER, 2, i) - 0.5f);
    float cw[16];
    for (size_t i = 0; i < 16; i++) cw[i] = 0.5f + 0.25f * (float)i;
    size_t rows[RG_FUSE_MAX_SHARDS + 1];
    for (int s = 0; s <= S; s++) rows[s] = n * (size_t)s / (size_t)S;   /* rg_schedule_slice's cut */
    rg_pass p = { .seed = 11, .step = 4, .sample_ids = ids, .training = 1, .label_smoothing = 0.1f,
                  .grad_scale = 1.0f / (float)n, .overwrite = 1, .class_weight = c->weighted ? cw : NULL,
                  .targets = regression ? tg : NULL };

    /* the shards one by one */
    float *slots = malloc((size_t)S * PT * sizeof *slots), *want = malloc(PT * sizeof *want);
    double want_loss[RG_FUSE_MAX_SHARDS];
    size_t want_correct[RG_FUSE_MAX_SHARDS];
    float want_max[RG_FUSE_MAX_SHARDS];
    for (int s = 0; s < S; s++) {
        size_t r0 = rows[s], ns = rows[s + 1] - r0;
        float *own = rg_model_swap_grads(m, slots + (size_t)s * PT);
        rg_pass ps = p;
        ps.sample_ids = ids + r0;
        ps.targets = regression ? tg + r0 : NULL;
        want_correct[s] = 0;
        if (!ns) rg_model_zero_grad(m);   /* as the trainer does an empty share */
        assert_int_equal(rg_model_forward_backward(m, x + r0 * c->d, y + r0, ns, &ps, 1, &want_loss[s],
                                                   &want_correct[s], NULL), RG_OK);
        want_max[s] = rg_max_abs(rg_model_grads(m), P);
        rg_model_swap_grads(m, own);
    }
    rg_tree_sum(slots, PT, P, S, 0, S, want);

    /* as one */
    double loss[RG_FUSE_MAX_SHARDS];
    size_t correct[RG_FUSE_MAX_SHARDS];
    float maxabs[RG_FUSE_MAX_SHARDS];
    float *g = rg_model_grads(m);
    for (size_t i = 0; i < P; i++) g[i] = NAN;   /* every element must be written */
    assert_int_equal(rg_model_forward_backward_shards(m, x, y, rows, S, &p, loss, correct, maxabs, NULL), RG_OK);
    size_t diff = 0;
    for (size_t i = 0; i < P; i++) diff += memcmp(&g[i], &want[i], sizeof *g) != 0;
    if (diff) print_error("%s, %zu rows, %d shards: %zu of %zu gradient elements differ\n", c->spec, n, S, diff, P);
    assert_int_equal(diff, 0);
    for (int s = 0; s < S; s++) {
        assert_memory_equal(&loss[s], &want_loss[s], sizeof loss[s]);
        assert_int_equal(correct[s], want_correct[s]);
        assert_memory_equal(&maxabs[s], &want_max[s], sizeof maxabs[s]);
    }
    free(x); free(tg); free(y); free(ids); free(slots); free(want);
    rg_model_free(m);
}

static void test_shapes(void **state)
{
    (void)state;
    static const shard_case cases[] = {
        /* few rows a shard (the shallow products), uneven, 6 shards */
        { "dense(19, relu) dropout(0.3) dense(13, tanh) dense(5, softmax)", -1, 11, 37, 6, 0 },
        /* 8 shards of a batch that is not a multiple of 8; 8 of 5 rows: 3 empty */
        { "dense(21, relu) dense(4, softmax)", -1, 9, 50, 8, 0 },
        { "dense(21, relu) dense(4, softmax)", -1, 9, 5, 8, 0 },
        /* many rows a shard (the tiled products), a wide layer, 3 shards */
        { "dense(150, relu) dropout(0.5) dense(37, sigmoid) dense(10, softmax)", -1, 70, 301, 3, 0 },
        /* 7 and 5 shards, input dropout, gelu and elu, no bias */
        { "dropout(0.2) dense(33, gelu) dense(17, elu, bias=false) dense(3, softmax)", -1, 24, 129, 7, 0 },
        { "dense(40, leaky_relu) dense(6, softmax)", -1, 129, 64, 5, 1 },   /* class weights */
        { "dense(12, relu) dense(1, sigmoid)", -1, 10, 45, 4, 0 },         /* binary cross-entropy */
        { "dense(9, tanh) dense(1, linear)", RG_LOSS_MSE, 8, 33, 6, 0 },
        { "dense(9, relu) dropout(0.1) dense(1, linear)", RG_LOSS_MAE, 8, 33, 2, 0 },
        /* the most shards, some of one row or none; 13 shards */
        { "dense(20, relu) dense(3, softmax)", -1, 7, 100, RG_FUSE_MAX_SHARDS, 0 },
        { "dense(50, relu) dense(3, softmax)", -1, 49, 77, 13, 0 },
        /* more rows of gw than one block holds */
        { "dense(300, relu) dense(10, softmax)", -1, 500, 64, 16, 0 },
    };
    rg_sgemm_set_fixed(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check(&cases[i]);
    rg_sgemm_set_fixed(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
