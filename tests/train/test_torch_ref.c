/* test_torch_ref.c — holds regula's forward, backward, penalties, clipping
 * and optimizers to a committed PyTorch dump (tests/data/torch_ref.json,
 * written by tools/torch_ref.py; CI needs no torch).
 *
 * Each case of the dump names a model spec and its loss (softmax
 * cross-entropy; bce from the sigmoid's logit; mse, mae on float targets),
 * its initial weights (drawn by
 * torch, written here into regula's arena through rg_model_dense) and ten
 * batches.  Checked:
 *   - the loss on batch 0 (data mean + penalty) and every gradient element;
 *   - for each optimizer run (SGD momentum/Nesterov, Adam, AdamW, RMSprop
 *     with and without momentum, label smoothing, global-norm clipping), the loss before each of 10 steps and
 *     every weight after the last step.
 * Dropout is off (pass.training = 0): the dump has no masks to match.
 *
 * Tolerances (|a - b| <= rel * max(|a|, |b|) + abs):
 *   loss, losses    rel 1e-5, abs 0     — values are ~1-2, well above any floor;
 *   gradients       rel 1e-5, abs 2e-7  — replaying the dump in float64 moves
 *                   gradient elements by up to 4e-8 absolute (float32 sums
 *                   over the batch); elements that nearly cancel need a floor;
 *   final weights   rel 1e-5, abs 2e-6  — ten steps accumulate rounding: the
 *                   float64 replay moves weights by up to 2e-7 absolute.
 * Any error in the math (a wrong derivative, a missed bias correction, a
 * coupled instead of decoupled decay) moves these by 1e-3 or more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "regula.h"
#include "support.h"

#define LOSS_REL 1e-5
#define GRAD_REL 1e-5
#define GRAD_ABS 2e-7
#define WEIGHT_REL 1e-5
#define WEIGHT_ABS 2e-6
#define MAX_REPORTS 8

static cJSON *item(const cJSON *obj, const char *key)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) fail_msg("torch_ref.json: missing key \"%s\"", key);
    return it;
}

static double num(const cJSON *obj, const char *key)
{
    cJSON *it = item(obj, key);
    if (!cJSON_IsNumber(it)) fail_msg("torch_ref.json: \"%s\" is not a number", key);
    return it->valuedouble;
}

/* Copies a JSON array of exactly n numbers into dst (parsed as double, so
 * the dump's float32 values come back exactly). */
static void floats(const cJSON *arr, float *dst, size_t n, const char *what)
{
    if (!cJSON_IsArray(arr)) fail_msg("torch_ref.json: %s is not an array", what);
    size_t len = (size_t)cJSON_GetArraySize(arr);
    if (len != n) fail_msg("torch_ref.json: %s has %zu values, model wants %zu", what, len, n);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        assert_true(cJSON_IsNumber(v));
        dst[i++] = (float)v->valuedouble;
    }
}

/* Counts and reports elements of got that differ from the dump's array. */
static int compare(const char *where, const char *tensor, const float *got,
                   const cJSON *want_arr, size_t n, double rel, double abs_tol,
                   int *reported)
{
    float *want = malloc(n * sizeof *want + 1);
    assert_non_null(want);
    floats(want_arr, want, n, tensor);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        double tol = rel * fmax(fabs(a), fabs(b)) + abs_tol;
        if (!(fabs(a - b) <= tol)) {
            if ((*reported)++ < MAX_REPORTS)
                fprintf(stderr, "%s: %s[%zu]: regula %.9g, torch %.9g (|diff| %.3g > %.3g)\n",
                        where, tensor, i, a, b, fabs(a - b), tol);
            bad++;
        }
    }
    free(want);
    return bad;
}

static int compare_scalar(const char *where, double got, double want, double rel,
                          int *reported)
{
    double tol = rel * fmax(fabs(got), fabs(want));
    if (fabs(got - want) <= tol) return 0;
    if ((*reported)++ < MAX_REPORTS)
        fprintf(stderr, "%s: loss: regula %.9g, torch %.9g (rel diff %.3g > %.3g)\n",
                where, got, want, fabs(got - want) / fmax(fabs(got), fabs(want)), rel);
    return 1;
}

/* The case's model with the dump's initial weights in its arena. */
static rg_model *model_from_case(const cJSON *c)
{
    const char *spec = cJSON_GetStringValue(item(c, "spec"));
    assert_non_null(spec);
    rg_model *m = NULL;
    rg_status st = rg_model_create(spec, (size_t)num(c, "inputs"), 0, &m);
    if (st != RG_OK) fail_msg("rg_model_create(\"%s\"): %s", spec, rg_last_error());
    const char *loss = cJSON_GetStringValue(item(c, "loss"));
    rg_loss kind = RG_LOSS_XENT;
    for (rg_loss l = RG_LOSS_XENT; l <= RG_LOSS_MAE; l++)
        if (loss && !strcmp(loss, rg_loss_name(l))) kind = l;
    if (!loss || strcmp(loss, rg_loss_name(kind))) fail_msg("torch_ref.json: unknown loss \"%s\"", loss ? loss : "?");
    if (rg_model_set_loss(m, kind) != RG_OK) fail_msg("rg_model_set_loss(%s): %s", loss, rg_last_error());
    assert_int_equal(rg_model_outputs(m), (size_t)num(c, "classes"));
    const cJSON *init = item(c, "init");
    assert_int_equal(rg_model_dense_count(m), cJSON_GetArraySize(init));
    size_t total = 0;
    for (int i = 0; i < rg_model_dense_count(m); i++) {
        const cJSON *L = cJSON_GetArrayItem(init, i);
        size_t out, in;
        float *w, *b;
        assert_int_equal(rg_model_dense(m, i, &out, &in, &w, &b), RG_OK);
        assert_int_equal(out, (size_t)num(L, "out"));
        assert_int_equal(in, (size_t)num(L, "in"));
        floats(item(L, "w"), w, out * in, "init w");
        const cJSON *jb = item(L, "b");
        if (cJSON_IsNull(jb)) {
            assert_null(b);
            total += out * in;
        } else {
            assert_non_null(b);
            floats(jb, b, out, "init b");
            total += out * in + out;
        }
    }
    assert_int_equal(rg_model_param_count(m), total);
    return m;
}

/* Loss on batch t (data mean + penalty) with its gradient in the arena. */
static double loss_and_grad(rg_model *m, const cJSON *c, int t, float ls)
{
    size_t n = (size_t)num(c, "batch"), d = rg_model_inputs(m);
    float *x = malloc(n * d * sizeof *x), *tg = malloc(n * sizeof *tg);
    int32_t *y = malloc(n * sizeof *y);
    assert_true(x && y && tg);
    floats(cJSON_GetArrayItem(item(c, "x"), t), x, n * d, "x");
    const cJSON *jy = cJSON_GetArrayItem(item(c, "y"), t);
    assert_int_equal(cJSON_GetArraySize(jy), n);
    int regression = rg_model_loss(m) == RG_LOSS_MSE || rg_model_loss(m) == RG_LOSS_MAE;
    if (regression) floats(jy, tg, n, "y");
    else for (size_t i = 0; i < n; i++) y[i] = (int32_t)cJSON_GetArrayItem(jy, (int)i)->valueint;

    rg_pass pass = {.seed = 0, .step = (uint64_t)t, .sample_ids = NULL, .training = 0,
                    .label_smoothing = ls, .grad_scale = 1.0f / (float)n,
                    .targets = regression ? tg : NULL};
    double loss_sum = 0;
    rg_model_zero_grad(m);
    rg_status st = rg_model_forward_backward(m, x, regression ? NULL : y, n, &pass, 1, &loss_sum, NULL, NULL);
    if (st != RG_OK) fail_msg("rg_model_forward_backward: %s", rg_last_error());
    free(x);
    free(y);
    free(tg);
    return loss_sum / (double)n + rg_model_penalty(m, 1.0f, rg_model_grads(m));
}

/* Compares every dense layer's weights (grad = 0) or gradients (grad = 1),
 * found by their offset in the arena, with the dump's list of layers. */
static int compare_layers(rg_model *m, const char *where, const cJSON *layers, int grad,
                          double rel, double abs_tol, int *reported)
{
    float *params = rg_model_params(m), *grads = rg_model_grads(m);
    int bad = 0;
    assert_int_equal(cJSON_GetArraySize(layers), rg_model_dense_count(m));
    for (int i = 0; i < rg_model_dense_count(m); i++) {
        const cJSON *L = cJSON_GetArrayItem(layers, i);
        size_t out, in;
        float *w, *b;
        assert_int_equal(rg_model_dense(m, i, &out, &in, &w, &b), RG_OK);
        char name[64];
        const float *gw = grad ? grads + (w - params) : w;
        snprintf(name, sizeof name, "dense_%d.%s", i, grad ? "weight.grad" : "weight");
        bad += compare(where, name, gw, item(L, "w"), out * in, rel, abs_tol, reported);
        if (b) {
            const float *gb = grad ? grads + (b - params) : b;
            snprintf(name, sizeof name, "dense_%d.%s", i, grad ? "bias.grad" : "bias");
            bad += compare(where, name, gb, item(L, "b"), out, rel, abs_tol, reported);
        } else {
            assert_true(cJSON_IsNull(item(L, "b")));
        }
    }
    return bad;
}

static int setup(void **state)
{
    char *text = rgt_read(RG_TEST_DATA "/torch_ref.json", NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", RG_TEST_DATA "/torch_ref.json");
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return -1;
    *state = root;
    return 0;
}

static int teardown(void **state)
{
    cJSON_Delete(*state);
    return 0;
}

static const cJSON *cases(void **state)
{
    const cJSON *cs = item(*state, "cases");
    assert_true(cJSON_GetArraySize(cs) >= 3);
    return cs;
}

static void test_loss_and_gradients(void **state)
{
    int bad = 0, reported = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(state)) {
        const char *name = cJSON_GetStringValue(item(c, "name"));
        rg_model *m = model_from_case(c);
        char where[128];
        snprintf(where, sizeof where, "%s, batch 0", name);
        bad += compare_scalar(where, loss_and_grad(m, c, 0, 0.0f), num(c, "loss0"), LOSS_REL,
                              &reported);
        bad += compare_layers(m, where, item(c, "grads0"), 1, GRAD_REL, GRAD_ABS, &reported);
        rg_model_free(m);
    }
    if (bad) fail_msg("%d values differ from PyTorch (first %d shown above)", bad, MAX_REPORTS);
}

static rg_opt_kind opt_kind(const char *s)
{
    if (!strcmp(s, "sgd")) return RG_OPT_SGD;
    if (!strcmp(s, "adam")) return RG_OPT_ADAM;
    if (!strcmp(s, "adamw")) return RG_OPT_ADAMW;
    if (!strcmp(s, "rmsprop")) return RG_OPT_RMSPROP;
    fail_msg("torch_ref.json: unknown optimizer \"%s\"", s);
    return RG_OPT_SGD;
}

static void test_optimizer_steps(void **state)
{
    int bad = 0, reported = 0, runs = 0;
    int steps = (int)num(*state, "steps");
    assert_true(steps >= 10);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases(state)) {
        const char *cname = cJSON_GetStringValue(item(c, "name"));
        const cJSON *r;
        cJSON_ArrayForEach(r, item(c, "runs")) {
            const char *rname = cJSON_GetStringValue(item(r, "name"));
            rg_opt_config cfg = {
                .kind = opt_kind(cJSON_GetStringValue(item(r, "opt"))),
                .momentum = (float)num(r, "momentum"),
                .nesterov = (int)num(r, "nesterov"),
                .beta1 = (float)num(r, "beta1"),
                .beta2 = (float)num(r, "beta2"),
                .eps = (float)num(r, "eps"),
                .rho = (float)num(r, "rho"),
                .weight_decay = (float)num(r, "weight_decay"),
            };
            float lr = (float)num(r, "lr"), ls = (float)num(r, "label_smoothing");
            double clip = num(r, "clip_norm");
            const cJSON *losses = item(r, "losses");
            assert_int_equal(cJSON_GetArraySize(losses), steps);

            rg_model *m = model_from_case(c);
            size_t n = rg_model_param_count(m);
            rg_optimizer *o = NULL;
            assert_int_equal(rg_optimizer_create(&cfg, n, &o), RG_OK);
            char where[160];
            for (int t = 0; t < steps; t++) {
                snprintf(where, sizeof where, "%s, %s, step %d", cname, rname, t);
                double loss = loss_and_grad(m, c, t, ls);
                bad += compare_scalar(where, loss,
                                      cJSON_GetArrayItem(losses, t)->valuedouble, LOSS_REL,
                                      &reported);
                if (clip > 0) rg_clip_global_norm(rg_model_grads(m), n, clip);
                rg_optimizer_step(o, rg_model_params(m), rg_model_grads(m), lr);
            }
            assert_int_equal(rg_optimizer_steps(o), (uint64_t)steps);
            snprintf(where, sizeof where, "%s, %s, after %d steps", cname, rname, steps);
            bad += compare_layers(m, where, item(r, "final"), 0, WEIGHT_REL, WEIGHT_ABS,
                                  &reported);
            rg_optimizer_free(o);
            rg_model_free(m);
            runs++;
        }
    }
    assert_true(runs >= 8 * 6 + 3);   /* mae: the sgd runs alone (tools/torch_ref.py says why) */
    if (bad) fail_msg("%d values differ from PyTorch (first %d shown above)", bad, MAX_REPORTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_and_gradients),
        cmocka_unit_test(test_optimizer_steps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
