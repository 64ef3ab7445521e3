/* test_dataset.c — the dataset object (from arrays, slices, accessors) and
 * rg_dataset_open's sources: idx:DIR with raw and gzip files, csv:FILE,
 * fashion-mnist (its directory from REGULA_FASHION_MNIST_DIR, and the real
 * Debian files when installed), and the usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <zlib.h>
#include "support.h"
#include "data/data.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    rgt_alloc_begin();
    g_dir = rgt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rgt_alloc_end();
    unsetenv("REGULA_FASHION_MNIST_DIR");
    rgt_rmtree(g_dir);
    free(g_dir);
    assert_int_equal(rgt_alloc.live, 0);
    return 0;
}

static void expect_error(rg_status got, rg_status want, const char *frag1, const char *frag2)
{
    const char *msg = rg_last_error();
    if (getenv("RGT_VERBOSE")) print_message("  -> %s\n", msg);
    if (got != want || !strstr(msg, frag1) || (frag2 && !strstr(msg, frag2)))
        fail_msg("status %d (want %d), message \"%s\" lacks \"%s\"%s%s", (int)got, (int)want,
                 msg, frag1, frag2 ? " or " : "", frag2 ? frag2 : "");
}

/* ---- from arrays, slices ---- */

static void test_from_arrays(void **state)
{
    (void)state;
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    int32_t y[3] = { 0, 3, 1 };
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_from_arrays(x, y, 3, 2, &ds), RG_OK);
    x[0] = 99;   /* copied, not aliased */
    y[0] = 7;
    assert_int_equal(rg_dataset_size(ds), 3);
    assert_int_equal(rg_dataset_features(ds), 2);
    assert_int_equal(rg_dataset_classes(ds), 4);
    assert_true(rg_dataset_x(ds)[0] == 1.0f && rg_dataset_x(ds)[5] == 6.0f);
    assert_int_equal(rg_dataset_y(ds)[0], 0);
    assert_non_null(rg_dataset_name(ds));
    rg_dataset_free(ds);

    assert_int_equal(rg_dataset_from_arrays(x, NULL, 3, 2, &ds), RG_OK);
    assert_null(rg_dataset_y(ds));
    assert_int_equal(rg_dataset_classes(ds), 0);
    rg_dataset_free(ds);
    rg_dataset_free(NULL);   /* like free() */
}

static void test_from_arrays_errors(void **state)
{
    (void)state;
    float x[4] = { 1, 2, 3, 4 };
    int32_t y[2] = { 0, -2 };
    rg_dataset *ds = (rg_dataset *)1;
    expect_error(rg_dataset_from_arrays(x, y, 2, 2, &ds), RG_EUSAGE, "label -2 at row 1", NULL);
    assert_null(ds);
    x[3] = NAN;
    expect_error(rg_dataset_from_arrays(x, NULL, 2, 2, &ds), RG_EDATA, "row 1, feature 1", NULL);
    expect_error(rg_dataset_from_arrays(x, NULL, 2, 0, &ds), RG_EUSAGE, "feature", NULL);
    expect_error(rg_dataset_from_arrays(NULL, NULL, 2, 2, &ds), RG_EUSAGE, "NULL", NULL);
}

static void test_slice(void **state)
{
    (void)state;
    float x[10];
    int32_t y[5] = { 0, 1, 2, 9, 4 };
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    rg_dataset *ds = NULL, *s = NULL;
    assert_int_equal(rg_dataset_from_arrays(x, y, 5, 2, &ds), RG_OK);
    assert_int_equal(rg_dataset_slice(ds, 1, 2, &s), RG_OK);
    assert_int_equal(rg_dataset_size(s), 2);
    assert_int_equal(rg_dataset_features(s), 2);
    assert_true(rg_dataset_x(s)[0] == 2.0f && rg_dataset_x(s)[3] == 5.0f);
    assert_int_equal(rg_dataset_y(s)[0], 1);
    assert_int_equal(rg_dataset_y(s)[1], 2);
    assert_int_equal(rg_dataset_classes(s), 10);   /* the parent's classes */
    assert_string_equal(rg_dataset_name(s), rg_dataset_name(ds));
    rg_dataset_free(s);

    assert_int_equal(rg_dataset_slice(ds, 5, 0, &s), RG_OK);   /* empty at the end */
    assert_int_equal(rg_dataset_size(s), 0);
    rg_dataset_free(s);
    s = (rg_dataset *)1;
    expect_error(rg_dataset_slice(ds, 4, 2, &s), RG_EUSAGE, "2 rows from row 4 is outside the 5 samples", NULL);
    assert_null(s);
    expect_error(rg_dataset_slice(ds, SIZE_MAX, 2, &s), RG_EUSAGE, "outside", NULL);
    rg_dataset_free(ds);
}

/* ---- sources ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* An MNIST-like pair of n images of 2x3 pixels (value = first + k) and
 * labels (i % 4) named as the fashion-mnist files are. */
static void write_split(const char *dir, const char *pre, uint32_t n, int first, int gz)
{
    unsigned char b[16 + 6 * 16];
    char name[128];
    b[0] = 0; b[1] = 0; b[2] = 8; b[3] = 3;
    put_be32(b + 4, n); put_be32(b + 8, 2); put_be32(b + 12, 3);
    for (uint32_t k = 0; k < 6 * n; k++) b[16 + k] = (unsigned char)(first + (int)k);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", pre, gz ? ".gz" : "");
    (gz ? rgt_write_gz : rgt_write)(rgt_path(dir, name), b, 16 + 6 * n);
    b[3] = 1;
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = (unsigned char)(i % 4);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", pre, gz ? ".gz" : "");
    (gz ? rgt_write_gz : rgt_write)(rgt_path(dir, name), b, 8 + n);
}

/* --standardize's moments: population mean and std per feature; a
 * constant feature gets std 1; standardising leaves mean 0 and std 1. */
static void test_moments(void **state)
{
    (void)state;
    const float x[] = { 1, 10, 5, 3, 20, 5, 5, 30, 5, 7, 40, 5 };   /* 4 rows, 3 features */
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_from_arrays(x, NULL, 4, 3, &ds), RG_OK);
    float mean[3], sd[3];
    assert_int_equal(rg_dataset_moments(ds, mean, sd), RG_OK);
    assert_true(mean[0] == 4 && mean[1] == 25 && mean[2] == 5);
    assert_true(fabsf(sd[0] - sqrtf(5)) < 1e-6f && fabsf(sd[1] - sqrtf(125)) < 1e-5f);
    assert_true(sd[2] == 1);   /* constant: centred, not divided by zero */
    assert_int_equal(rg_dataset_standardize(ds, mean, sd), RG_OK);
    float m2[3], s2[3];
    assert_int_equal(rg_dataset_moments(ds, m2, s2), RG_OK);
    for (int j = 0; j < 3; j++) assert_true(fabsf(m2[j]) < 1e-6f);
    assert_true(fabsf(s2[0] - 1) < 1e-6f && fabsf(s2[1] - 1) < 1e-6f);
    assert_true(rg_dataset_x(ds)[2] == 0);
    const float tiny[3] = { 1e-39f, 1, 1 }, big[3] = { 0, 0, 0 };
    assert_int_equal(rg_dataset_standardize(ds, big, tiny), RG_EDATA);   /* overflow: refused, unchanged */
    assert_true(rg_dataset_x(ds)[2] == 0);
    rg_dataset_free(ds);
}

/* --val-split: each class gives its share (largest remainders), the draw is
 * the seed's, both parts keep the file's order and the class names. */
static void test_split(void **state)
{
    (void)state;
    enum { N = 90 };
    float x[N];
    int32_t y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i, y[i] = i / 30;   /* sorted by label */
    rg_dataset *ds = NULL, *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    assert_int_equal(rg_dataset_from_arrays(x, y, N, 1, &ds), RG_OK);
    assert_int_equal(rg_dataset_split(ds, 18, 5, &tr, &va), RG_OK);
    assert_int_equal(rg_dataset_size(tr), 72);
    assert_int_equal(rg_dataset_size(va), 18);
    int per[3] = { 0 };
    for (int i = 0; i < 18; i++) per[rg_dataset_y(va)[i]]++;
    assert_true(per[0] == 6 && per[1] == 6 && per[2] == 6);
    for (int i = 1; i < 18; i++) assert_true(rg_dataset_x(va)[i] > rg_dataset_x(va)[i - 1]);
    for (int i = 1; i < 72; i++) assert_true(rg_dataset_x(tr)[i] > rg_dataset_x(tr)[i - 1]);
    for (int i = 0; i < 72; i++) assert_int_equal(rg_dataset_y(tr)[i], (int)rg_dataset_x(tr)[i] / 30);
    assert_int_equal(rg_dataset_classes(va), 3);
    /* the same seed, the same split; another seed, another */
    assert_int_equal(rg_dataset_split(ds, 18, 5, &tr2, &va2), RG_OK);
    assert_memory_equal(rg_dataset_x(va), rg_dataset_x(va2), 18 * sizeof(float));
    rg_dataset_free(tr2);
    rg_dataset_free(va2);
    assert_int_equal(rg_dataset_split(ds, 18, 6, &tr2, &va2), RG_OK);
    assert_true(memcmp(rg_dataset_x(va), rg_dataset_x(va2), 18 * sizeof(float)) != 0);
    rg_dataset_free(tr2);
    rg_dataset_free(va2);
    rg_dataset_free(tr);
    rg_dataset_free(va);
    rg_dataset_free(ds);
    /* counts 5, 3, 2 and 3 to hold out: shares 1.5, 0.9, 0.6 give 1, 1, 1 */
    const int32_t y2[10] = { 0, 0, 0, 0, 0, 1, 1, 1, 2, 2 };
    assert_int_equal(rg_dataset_from_arrays(x, y2, 10, 1, &ds), RG_OK);
    assert_int_equal(rg_dataset_split(ds, 3, 1, &tr, &va), RG_OK);
    for (int c = 0; c < 3; c++) {
        int k = 0;
        for (int i = 0; i < 3; i++) k += rg_dataset_y(va)[i] == c;
        assert_int_equal(k, 1);
    }
    rg_dataset_free(tr);
    rg_dataset_free(va);
    assert_int_equal(rg_dataset_split(ds, 10, 1, &tr, &va), RG_EUSAGE);   /* nothing left to train on */
    assert_null(tr);
    rg_dataset_free(ds);
}

static void test_open_idx_dir(void **state)
{
    (void)state;
    write_split(g_dir, "train", 5, 10, 1);
    write_split(g_dir, "t10k", 3, 100, 0);
    char src[4200];
    snprintf(src, sizeof src, "idx:%s", g_dir);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_open(src, "train", NULL, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 5);
    assert_int_equal(rg_dataset_features(ds), 6);
    assert_int_equal(rg_dataset_classes(ds), 4);
    assert_true(rg_dataset_x(ds)[0] == 10.0f / 255.0f);
    assert_non_null(strstr(rg_dataset_name(ds), "train-images-idx3-ubyte.gz"));
    rg_dataset_free(ds);
    rg_data_opts o = { .label_column = -1, .scale = 1.0f };
    assert_int_equal(rg_dataset_open(src, "test", &o, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 3);
    assert_true(rg_dataset_x(ds)[0] == 100.0f);
    assert_non_null(strstr(rg_dataset_name(ds), "t10k-images-idx3-ubyte"));
    rg_dataset_free(ds);

    /* .gz is preferred over the plain file when both exist */
    write_split(g_dir, "t10k", 2, 50, 1);
    assert_int_equal(rg_dataset_open(src, "test", &o, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 2);
    rg_dataset_free(ds);
}

static void test_open_idx_errors(void **state)
{
    (void)state;
    char src[4200];
    rg_dataset *ds = NULL;
    snprintf(src, sizeof src, "idx:%s/none", g_dir);
    expect_error(rg_dataset_open(src, "train", NULL, &ds), RG_EIO, "/none", "not found");
    write_split(g_dir, "train", 5, 10, 0);
    remove(rgt_path(g_dir, "train-labels-idx1-ubyte"));
    snprintf(src, sizeof src, "idx:%s", g_dir);
    expect_error(rg_dataset_open(src, "train", NULL, &ds), RG_EIO, "train-labels-idx1-ubyte.gz",
                 "No such file");
    expect_error(rg_dataset_open(src, "test", NULL, &ds), RG_EIO, "t10k-images-idx3-ubyte", NULL);
    expect_error(rg_dataset_open(src, "validation", NULL, &ds), RG_EUSAGE, "validation",
                 "expected train or test");
    expect_error(rg_dataset_open("idx:", "train", NULL, &ds), RG_EUSAGE, "missing directory", NULL);
}

static void test_open_csv(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "d.csv");
    rgt_write(p, "label,a,b\n2,1,2\n0,3,4\n", 22);
    char src[4200];
    snprintf(src, sizeof src, "csv:%s", p);
    rg_data_opts o = { .label_column = 0, .header = 1 };
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_open(src, "train", &o, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 2);
    assert_int_equal(rg_dataset_y(ds)[0], 2);
    assert_true(rg_dataset_x(ds)[3] == 4.0f);
    assert_string_equal(rg_dataset_name(ds), p);
    rg_dataset_free(ds);
    expect_error(rg_dataset_open(src, "test", &o, &ds), RG_EUSAGE,
                 "csv sources have no test split; use --test-data", NULL);
    assert_null(ds);
}

static void test_open_unknown(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    expect_error(rg_dataset_open("mnist", "train", NULL, &ds), RG_EUSAGE, "\"mnist\"",
                 "fashion-mnist, idx:DIR or csv:FILE");
    expect_error(rg_dataset_open("data.csv", "train", NULL, &ds), RG_EUSAGE, "csv:FILE",
                 "did you mean csv:data.csv?");
    expect_error(rg_dataset_open(g_dir, "train", NULL, &ds), RG_EUSAGE, "did you mean idx:", g_dir);
    expect_error(rg_dataset_open("", "train", NULL, &ds), RG_EUSAGE, "csv:FILE", NULL);
}

static void test_fashion_mnist_env(void **state)
{
    (void)state;
    write_split(g_dir, "train", 7, 0, 1);
    setenv("REGULA_FASHION_MNIST_DIR", g_dir, 1);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_open("fashion-mnist", "train", NULL, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 7);
    rg_dataset_free(ds);
    setenv("REGULA_FASHION_MNIST_DIR", rgt_path(g_dir, "missing"), 1);
    expect_error(rg_dataset_open("fashion-mnist", "train", NULL, &ds), RG_EIO,
                 "install Debian's dataset-fashion-mnist package", "missing");
}

/* The real files, when Debian's dataset-fashion-mnist is installed. */
static void test_fashion_mnist_real(void **state)
{
    (void)state;
    if (!rgt_exists(FMNIST_DIR "/train-images-idx3-ubyte.gz")) {
        print_message("fashion-mnist not installed in " FMNIST_DIR "; skipped\n");
        skip();
    }
    rg_dataset *ds = NULL;
    double t0 = rg_now();
    rg_status s = rg_dataset_open("fashion-mnist", "train", NULL, &ds);
    double dt = rg_now() - t0;
    if (s) fail_msg("%s", rg_last_error());
    print_message("fashion-mnist train loaded in %.3f s\n", dt);
    assert_int_equal(rg_dataset_size(ds), 60000);
    assert_int_equal(rg_dataset_features(ds), 784);
    assert_int_equal(rg_dataset_classes(ds), 10);
    const float *x = rg_dataset_x(ds);
    float lo = 1, hi = 0;
    for (size_t k = 0; k < (size_t)60000 * 784; k++) {
        if (x[k] < lo) lo = x[k];
        if (x[k] > hi) hi = x[k];
    }
    assert_true(lo == 0.0f && hi == 1.0f);

    /* The first image and label, read independently with zlib. */
    unsigned char b[16 + 784];
    gzFile g = gzopen(FMNIST_DIR "/train-images-idx3-ubyte.gz", "rb");
    assert_non_null(g);
    assert_int_equal(gzread(g, b, sizeof b), (int)sizeof b);
    gzclose(g);
    for (int k = 0; k < 784; k++) assert_true(x[k] == (float)b[16 + k] / 255.0f);
    g = gzopen(FMNIST_DIR "/train-labels-idx1-ubyte.gz", "rb");
    assert_non_null(g);
    assert_int_equal(gzread(g, b, 9), 9);
    gzclose(g);
    assert_int_equal(rg_dataset_y(ds)[0], b[8]);
    assert_int_equal(b[8], 9);   /* Fashion-MNIST's first training image is an ankle boot */
    rg_dataset_free(ds);

    assert_int_equal(rg_dataset_open("fashion-mnist", "test", NULL, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), 10000);
    assert_int_equal(rg_dataset_features(ds), 784);
    assert_int_equal(rg_dataset_classes(ds), 10);
    rg_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_from_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_arrays_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_idx_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_idx_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fashion_mnist_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fashion_mnist_real, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
