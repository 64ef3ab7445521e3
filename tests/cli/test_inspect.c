/* test_inspect.c — `regula inspect` and rg_safetensors_* on files of known
 * contents: a checkpoint made with the library (rg_model_save) whose
 * weights the test sets, and a file of other dtypes (F16, BF16, I32, F64
 * with a NaN) written with the library's writer.  Shapes, norms, largest
 * magnitudes, means and sparsity printed by the CLI must be the ones
 * computed here, in double, from the values the test chose. */
#include "io/safetensors.h"
#include "regula.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "support.h"

typedef struct expect {
    const char *name, *dtype, *shape;
    size_t count;
    double l2, max_abs, mean, sparsity;   /* sparsity in % */
} expect;

static expect expect_of(const char *name, const char *shape, const float *v, size_t n)
{
    expect e = {name, "F32", shape, n, 0, 0, 0, 0};
    double sum = 0, sq = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        sq += (double)v[i] * v[i];
        sum += v[i];
        zeros += v[i] == 0;
        if (fabs(v[i]) > e.max_abs) e.max_abs = fabs(v[i]);
    }
    e.l2 = sqrt(sq);
    e.mean = sum / (double)n;
    e.sparsity = 100.0 * (double)zeros / (double)n;
    return e;
}

/* Runs `regula inspect path` and returns its output (malloc'd). */
static char *inspect(const char *path, int *status)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/regula' inspect '%s' 2>&1", RG_BUILD_DIR, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16;
    char *out = calloc(cap, 1);
    assert_non_null(out);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    *status = pclose(p);
    return out;
}

/* Finds the row of e.name in out and checks every column. */
static void check_row(const char *out, const expect *e)
{
    char key[128], dtype[16], shape[64];
    size_t count;
    double l2, mx, mean, sp;
    snprintf(key, sizeof key, "\n  %s ", e->name);
    const char *row = strstr(out, key);
    if (!row) fail_msg("no row for %s in:\n%s", e->name, out);
    assert_int_equal(sscanf(row + 1, " %*s %15s %63[^]]] %zu %lf %lf %lf %lf%%", dtype, shape, &count, &l2, &mx, &mean, &sp), 7);
    strcat(shape, "]");
    assert_string_equal(dtype, e->dtype);
    assert_string_equal(shape, e->shape);
    assert_int_equal(count, e->count);
    assert_true(rgt_reldiff(l2, e->l2, 1e-12) < 1e-5);
    assert_true(rgt_reldiff(mx, e->max_abs, 1e-12) < 1e-5);
    assert_true(fabs(mean - e->mean) <= 1e-5 * fabs(e->mean) + 1e-12);
    assert_true(fabs(sp - e->sparsity) < 0.006);
}

static void test_checkpoint(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *path = rgt_path(dir, "known.safetensors");
    rg_model *m;
    assert_int_equal(rg_model_create("dense(3, relu) dense(2, softmax)", 4, 1, &m), RG_OK);
    size_t out, in;
    float *w, *b;
    assert_int_equal(rg_model_dense(m, 0, &out, &in, &w, &b), RG_OK);
    for (size_t i = 0; i < out * in; i++) w[i] = ((float)i - 5.0f) * 0.25f;   /* one zero of 12 */
    b[0] = 0, b[1] = 0, b[2] = 0.5f;
    float w0[12], b0[3];
    memcpy(w0, w, sizeof w0), memcpy(b0, b, sizeof b0);
    assert_int_equal(rg_model_dense(m, 1, &out, &in, &w, &b), RG_OK);
    const float w1v[6] = {1, -2, 3, -4, 5, -6.5f}, b1v[2] = {0, 0};
    memcpy(w, w1v, sizeof w1v), memcpy(b, b1v, sizeof b1v);
    assert_int_equal(rg_model_save(m, path), RG_OK);
    rg_model_free(m);

    int status;
    char *text = inspect(path, &status);
    assert_int_equal(status, 0);
    expect rows[] = {expect_of("dense_0.weight", "[3, 4]", w0, 12), expect_of("dense_0.bias", "[3]", b0, 3),
                     expect_of("dense_1.weight", "[2, 3]", w1v, 6), expect_of("dense_1.bias", "[2]", b1v, 2)};
    for (size_t i = 0; i < 4; i++) check_row(text, &rows[i]);
    assert_non_null(strstr(text, "4 tensors, 23 elements"));
    assert_non_null(strstr(text, "\n  spec            dense(3, relu) dense(2, softmax)\n"));
    assert_non_null(strstr(text, "\n  inputs          4\n"));
    free(text);
    rgt_rmtree(dir);
    free(dir);
}

/* Other dtypes, through the library's writer, read back by the API and
 * printed by the CLI. */
static void test_dtypes(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    const char *path = rgt_path(dir, "dtypes.safetensors");
    const uint16_t f16[4] = {0x3C00, 0xC000, 0x0000, 0x3800};   /* 1, -2, 0, 0.5 */
    const uint16_t bf16[2] = {0x3F80, 0x4040};                  /* 1, 3 */
    const int32_t i32[2] = {3, -4};
    const double f64[3] = {NAN, 2, 0};
    rg_st_tensor_in t[] = {
        {"half", RG_ST_F16, 2, {2, 2}, f16, NULL, NULL}, {"brain", RG_ST_BF16, 1, {2}, bf16, NULL, NULL},
        {"ints", RG_ST_I32, 1, {2}, i32, NULL, NULL}, {"doubles", RG_ST_F64, 1, {3}, f64, NULL, NULL},
    };
    const char *meta[] = {"note", "made by test_inspect"};
    assert_int_equal(rg_st_write(path, t, 4, meta, 1, RG_ST_ALLOW_NONFINITE), RG_OK);

    rg_safetensors *f;
    rg_tensor_info info;
    rg_tensor_stats s;
    assert_int_equal(rg_safetensors_open(path, &f), RG_OK);
    assert_int_equal(rg_safetensors_count(f), 4);
    assert_int_equal(rg_safetensors_tensor(f, 3, &info, &s), RG_OK);
    assert_string_equal(info.name, "doubles");
    assert_int_equal(s.nonfinite, 1);
    assert_int_equal(s.zeros, 1);
    assert_true(s.l2 == 2 && s.mean == 1);
    assert_int_equal(rg_safetensors_tensor(f, 4, &info, &s), RG_EUSAGE);
    rg_safetensors_free(f);

    int status;
    char *text = inspect(path, &status);
    assert_int_equal(status, 0);
    const expect rows[] = {
        {"half", "F16", "[2, 2]", 4, sqrt(5.25), 2, -0.125, 25}, {"brain", "BF16", "[2]", 2, sqrt(10), 3, 2, 0},
        {"ints", "I32", "[2]", 2, 5, 4, -0.5, 0},
    };
    for (size_t i = 0; i < 3; i++) check_row(text, &rows[i]);
    assert_non_null(strstr(text, "(1 NaN or infinite)"));
    assert_non_null(strstr(text, "made by test_inspect"));
    free(text);

    /* cut short: exit 3 naming the file */
    size_t n;
    char *bytes = rgt_read(path, &n);
    rgt_write(path, bytes, n - 3);
    free(bytes);
    text = inspect(path, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    assert_non_null(strstr(text, "dtypes.safetensors"));
    free(text);
    rgt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
