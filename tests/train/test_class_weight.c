/* test_class_weight.c — --class-weight: a weighted batch's loss is the sum
 * of each sample's loss times its class's weight, and its gradient the same
 * sum of the samples' gradients (scaled by grad_scale: the trainer's 1/B,
 * so the loss stays the weighted sum over the batch divided by its size);
 * "balanced" is n / (classes present x count of the class); a file holds
 * one weight per line, its errors naming file and line. */
#include "support.h"
#include "regula.h"
#include "train/train.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_weighted_pass(void **state)
{
    (void)state;
    rg_model *m = NULL;
    assert_int_equal(rg_model_create("dense(5, tanh) dense(3, softmax)", 2, 11, &m), RG_OK);
    const float x[] = { 0.5f, -1, 2, 0.25f, -0.75f, 1.5f, 1, 1 };
    const int32_t y[] = { 0, 1, 2, 1 };
    const float cw[3] = { 2, 0.5f, 1.25f };
    size_t P = rg_model_param_count(m);
    double *want = calloc(P, sizeof *want), want_loss = 0;
    for (int i = 0; i < 4; i++) {   /* each sample alone, unweighted */
        rg_pass one = { .grad_scale = 1.0f };
        double l;
        rg_model_zero_grad(m);
        assert_int_equal(rg_model_forward_backward(m, x + 2 * i, y + i, 1, &one, 1, &l, NULL, NULL), RG_OK);
        want_loss += cw[y[i]] * l;
        for (size_t k = 0; k < P; k++) want[k] += 0.25 * cw[y[i]] * rg_model_grads(m)[k];
    }
    rg_pass batch = { .grad_scale = 0.25f, .class_weight = cw };
    double loss;
    size_t correct = 0;
    rg_model_zero_grad(m);
    assert_int_equal(rg_model_forward_backward(m, x, y, 4, &batch, 1, &loss, &correct, NULL), RG_OK);
    assert_true(fabs(loss - want_loss) < 1e-6 * fabs(want_loss));
    for (size_t k = 0; k < P; k++)
        if (fabs(rg_model_grads(m)[k] - want[k]) > 1e-6 + 1e-5 * fabs(want[k]))
            fail_msg("gradient %zu: %g, want %g", k, (double)rg_model_grads(m)[k], want[k]);
    /* weights of 1 are no weights, to the bit */
    const float ones[3] = { 1, 1, 1 };
    double l1, l0;
    batch.class_weight = ones;
    assert_int_equal(rg_model_forward_backward(m, x, y, 4, &batch, 0, &l1, NULL, NULL), RG_OK);
    batch.class_weight = NULL;
    assert_int_equal(rg_model_forward_backward(m, x, y, 4, &batch, 0, &l0, NULL, NULL), RG_OK);
    assert_true(l1 == l0);
    free(want);
    rg_model_free(m);
}

static void test_balanced_and_file(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    rg_model *m = NULL;
    assert_int_equal(rg_model_create("dense(4)", 1, 1, &m), RG_OK);   /* 4 outputs, 2 classes in the data */
    const float x[] = { 1, 2, 3, 4, 5 };
    const int32_t y[] = { 0, 0, 0, 1, 0 };
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_from_arrays(x, y, 5, 1, &ds), RG_OK);
    rg_config c;
    rg_config_defaults(&c);
    float *w = (float *)1;
    assert_int_equal(rg_class_weights(&c, ds, m, &w), RG_OK);
    assert_null(w);   /* none asked for */
    assert_int_equal(rg_config_set(&c, "class-weight", "balanced"), RG_OK);
    assert_int_equal(rg_class_weights(&c, ds, m, &w), RG_OK);
    assert_true(fabsf(w[0] - 5.0f / 8) < 1e-7f && fabsf(w[1] - 5.0f / 2) < 1e-7f);
    assert_true(w[2] == 1 && w[3] == 1);
    rg_free(w);

    const char *f = rgt_path(dir, "w.txt");
    rgt_write(f, "# cat, dog\n1.5\n\n  2 \r\n", 22);
    assert_int_equal(rg_config_set(&c, "class-weight", f), RG_OK);
    assert_int_equal(rg_class_weights(&c, ds, m, &w), RG_OK);
    assert_true(w[0] == 1.5f && w[1] == 2 && w[2] == 1);
    rg_free(w);
    static const struct { const char *text, *msg; } bad[] = {
        { "1\nheavy\n", "w.txt: line 2: \"heavy\" is not a weight" },
        { "1\n-2\n", "line 2: \"-2\" is not a weight" },
        { "1\n", "1 weight for the training set's 2 classes" },
        { "1\n2\n3\n", "line 3: more weights than the training set's 2 classes" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rgt_write(f, bad[i].text, strlen(bad[i].text));
        w = (float *)1;
        assert_int_equal(rg_class_weights(&c, ds, m, &w), RG_EDATA);
        assert_null(w);
        if (!strstr(rg_last_error(), bad[i].msg)) fail_msg("'%s' lacks '%s'", rg_last_error(), bad[i].msg);
    }
    assert_int_equal(rg_config_set(&c, "class-weight", rgt_path(dir, "absent.txt")), RG_OK);
    assert_int_equal(rg_class_weights(&c, ds, m, &w), RG_EIO);
    assert_non_null(strstr(rg_last_error(), "absent.txt: cannot open"));
    rg_dataset_free(ds);
    rg_model_free(m);
    rgt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weighted_pass),
        cmocka_unit_test(test_balanced_and_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
