/* test_csv.c — CSV loading: layout options (header, label column, CRLF,
 * spaces, blank lines, BOM), scale, and every refused input with its line,
 * column and text in the message; nothing leaks on any path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "support.h"
#include "data/data.h"

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
    rgt_rmtree(g_dir);
    free(g_dir);
    assert_int_equal(rgt_alloc.live, 0);
    return 0;
}

static const char *csv(const char *text)
{
    const char *p = rgt_path(g_dir, "data.csv");
    rgt_write(p, text, strlen(text));
    return p;
}

static rg_dataset *load_ok(const char *text, int label_column, int header, float scale)
{
    rg_data_opts o = { .label_column = label_column, .header = header, .scale = scale };
    rg_dataset *ds = NULL;
    rg_status s = rg_dataset_load_csv(csv(text), &o, &ds);
    if (s != RG_OK) fail_msg("load failed: %s", rg_last_error());
    assert_non_null(ds);
    return ds;
}

static void expect_error(const char *text, int label_column, int header, rg_status want,
                         const char *frag1, const char *frag2)
{
    rg_data_opts o = { .label_column = label_column, .header = header };
    rg_dataset *ds = (rg_dataset *)1;
    rg_status got = rg_dataset_load_csv(csv(text), &o, &ds);
    const char *msg = rg_last_error();
    if (getenv("RGT_VERBOSE")) print_message("  -> %s\n", msg);
    if (got != want || !strstr(msg, frag1) || (frag2 && !strstr(msg, frag2)))
        fail_msg("status %d (want %d), message \"%s\" lacks \"%s\"%s%s", (int)got, (int)want,
                 msg, frag1, frag2 ? " or " : "", frag2 ? frag2 : "");
    assert_null(ds);
    assert_non_null(strstr(msg, "data.csv"));   /* every message names the file */
}

static void expect_rows(const rg_dataset *ds, size_t n, size_t d, const float *x, const int32_t *y)
{
    assert_int_equal(rg_dataset_size(ds), n);
    assert_int_equal(rg_dataset_features(ds), d);
    for (size_t k = 0; k < n * d; k++)
        if (rg_dataset_x(ds)[k] != x[k]) fail_msg("x[%zu] = %g, want %g", k, (double)rg_dataset_x(ds)[k], (double)x[k]);
    for (size_t i = 0; i < n; i++) assert_int_equal(rg_dataset_y(ds)[i], y[i]);
}

static void test_basic_label_last(void **state)
{
    (void)state;
    rg_dataset *ds = load_ok("1,2.5,0\n-3,4e-1,2\n0.125,7,1\n", -1, 0, 0.0f);
    const float x[] = { 1, 2.5f, -3, 0.4f, 0.125f, 7 };
    const int32_t y[] = { 0, 2, 1 };
    expect_rows(ds, 3, 2, x, y);
    assert_int_equal(rg_dataset_classes(ds), 3);
    assert_non_null(strstr(rg_dataset_name(ds), "data.csv"));
    rg_dataset_free(ds);
    /* NULL opts: the same defaults */
    ds = NULL;
    assert_int_equal(rg_dataset_load_csv(csv("1,2.5,0\n-3,4e-1,2\n0.125,7,1\n"), NULL, &ds), RG_OK);
    expect_rows(ds, 3, 2, x, y);
    rg_dataset_free(ds);
}

static void test_label_first_and_middle(void **state)
{
    (void)state;
    rg_dataset *ds = load_ok("5,1,2\n3,4,5\n", 0, 0, 0.0f);
    const float x0[] = { 1, 2, 4, 5 };
    const int32_t y0[] = { 5, 3 };
    expect_rows(ds, 2, 2, x0, y0);
    assert_int_equal(rg_dataset_classes(ds), 6);
    rg_dataset_free(ds);
    ds = load_ok("1,5,2\n4,3,5\n", 1, 0, 0.0f);
    expect_rows(ds, 2, 2, x0, y0);
    rg_dataset_free(ds);
    ds = load_ok("1,2,5\n4,5,3\n", 2, 0, 0.0f);   /* explicit last == -1 */
    expect_rows(ds, 2, 2, x0, y0);
    rg_dataset_free(ds);
}

static void test_unlabeled(void **state)
{
    (void)state;
    /* label column -2: every column is a feature (predict's input) */
    rg_dataset *ds = load_ok("1,2,3\n4,5,6\n", -2, 0, 0.0f);
    assert_int_equal(rg_dataset_size(ds), 2);
    assert_int_equal(rg_dataset_features(ds), 3);
    assert_null(rg_dataset_y(ds));
    assert_int_equal(rg_dataset_classes(ds), 0);
    assert_true(rg_dataset_x(ds)[5] == 6.0f);
    rg_dataset_free(ds);
}

static void test_header_crlf_spaces(void **state)
{
    (void)state;
    const float x[] = { 1, 2, 3, 4 };
    const int32_t y[] = { 1, 0 };
    rg_dataset *ds = load_ok("a,b,label\n1,2,1\n3,4,0\n", -1, 1, 0.0f);
    expect_rows(ds, 2, 2, x, y);
    rg_dataset_free(ds);
    ds = load_ok("a,b,label\r\n1,2,1\r\n3,4,0\r\n", -1, 1, 0.0f);
    expect_rows(ds, 2, 2, x, y);
    rg_dataset_free(ds);
    /* spaces and tabs around fields, blank lines, no final newline, a BOM */
    ds = load_ok("\xEF\xBB\xBF 1 ,\t2, 1.0 \r\n\n  \r\n3,4 ,0", -1, 0, 0.0f);
    expect_rows(ds, 2, 2, x, y);
    rg_dataset_free(ds);
}

/* RFC 4180: a quoted field may hold commas, line ends and doubled quotes;
 * line numbers in messages count the lines a quoted field spans. */
static void test_quoted(void **state)
{
    (void)state;
    const float x[] = { 1.5f, 2, 3, 4 };
    const int32_t y[] = { 1, 0 };
    rg_dataset *ds = load_ok("\"a, \"\"first\"\"\",b,\"the\nlabel\"\n\"1.5\", 2 ,\"1\"\r\n 3 ,\"4\" ,0\n", -1, 1, 0.0f);
    expect_rows(ds, 2, 2, x, y);
    rg_dataset_free(ds);
    /* a line end inside quotes is not a record's end: line 3 is the second record */
    expect_error("\"big\ncat\",2\ncow,z\n", 0, 0, RG_EDATA, "line 3, column 2", "\"z\"");
    /* the field after a two-line field starts on the field's last line */
    expect_error("a,2\n\"b\n\",x\n", 0, 0, RG_EDATA, "line 3, column 2", "\"x\"");
    expect_error("1,\"2,0\n3,4,1\n", -1, 0, RG_EDATA, "line 1, column 2", "never closed");
    expect_error("1,\"2\"x,0\n", -1, 0, RG_EDATA, "line 1, column 2", "after the closing quote");
    expect_error("1,2\"x,0\n", -1, 0, RG_EDATA, "line 1, column 2", "quote inside an unquoted field");
    {
        rg_dataset *bad = (rg_dataset *)1;
        rgt_write(rgt_path(g_dir, "nul.csv"), "1,2,0\n3,4\0,1\n", 13);
        assert_int_equal(rg_dataset_load_csv(rgt_path(g_dir, "nul.csv"), NULL, &bad), RG_EDATA);
        assert_null(bad);
        assert_non_null(strstr(rg_last_error(), "nul.csv: line 2, column 2: a NUL byte"));
    }
    /* an empty quoted field is a field, not a blank line */
    expect_error("1,2,0\n\"\"\n", -1, 0, RG_EDATA, "line 2 has 1 columns", NULL);
}

/* String labels: classes numbered in sorted order of the names; a model's
 * names map a second file; numbers and names do not mix. */
static void test_named_labels(void **state)
{
    (void)state;
    rg_dataset *ds = load_ok("x,y,animal\n1,2,dog\n3,4,cat\n5,6,\"emu, large\"\n7,8,dog\n", -1, 1, 0.0f);
    const float x[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    const int32_t y[] = { 1, 0, 2, 1 };
    expect_rows(ds, 4, 2, x, y);
    assert_int_equal(rg_dataset_classes(ds), 3);
    assert_string_equal(rg_dataset_class_name(ds, 0), "cat");
    assert_string_equal(rg_dataset_class_name(ds, 2), "emu, large");
    assert_null(rg_dataset_class_name(ds, 3));
    rg_dataset *part = NULL;   /* a slice keeps the names */
    assert_int_equal(rg_dataset_slice(ds, 1, 1, &part), RG_OK);
    assert_string_equal(rg_dataset_class_name(part, 1), "dog");
    rg_dataset_free(part);
    rg_dataset_free(ds);

    /* through a model's names, in the model's order */
    const char *names[] = { "dog", "cat", "emu" };
    rg_data_opts o = { .label_column = -1, .classes = names, .n_classes = 3 };
    ds = NULL;
    assert_int_equal(rg_dataset_load_csv(csv("1,cat\n2,emu\n"), &o, &ds), RG_OK);
    assert_int_equal(rg_dataset_y(ds)[0], 1);
    assert_int_equal(rg_dataset_y(ds)[1], 2);
    assert_int_equal(rg_dataset_classes(ds), 3);
    assert_string_equal(rg_dataset_class_name(ds, 0), "dog");
    rg_dataset_free(ds);
    ds = (rg_dataset *)1;
    assert_int_equal(rg_dataset_load_csv(csv("1,cat\n2,\ncow\n"), &o, &ds), RG_EDATA);
    assert_null(ds);
    ds = (rg_dataset *)1;
    assert_int_equal(rg_dataset_load_csv(csv("1,cat\n\n2,cow\n"), &o, &ds), RG_EDATA);
    assert_non_null(strstr(rg_last_error(), "line 3, column 2: label \"cow\" is not one of the model's classes"));

    expect_error("1,2,0\n3,4,one\n", -1, 0, RG_EDATA, "line 2, column 3: label \"one\" is a name", "all names");
    expect_error("1,2,one\n3,4,1\n", -1, 0, RG_EDATA, "line 2, column 3: label \"1\" is a number", NULL);
}

/* The label column by its name in the header; a missing name lists the
 * columns there are. */
static void test_label_by_name(void **state)
{
    (void)state;
    rg_data_opts o = { .label_column = 0, .header = 1, .label_name = "label" };
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_csv(csv("a,label,b\n1,2,3\n4,0,5\n"), &o, &ds), RG_OK);
    const float x[] = { 1, 3, 4, 5 };
    const int32_t y[] = { 2, 0 };
    expect_rows(ds, 2, 2, x, y);
    rg_dataset_free(ds);
    ds = (rg_dataset *)1;
    o.label_name = "class";
    assert_int_equal(rg_dataset_load_csv(csv("a,label,\"b c\"\n1,2,3\n"), &o, &ds), RG_EUSAGE);
    assert_null(ds);
    assert_non_null(strstr(rg_last_error(), "no column named \"class\" in the header (line 1); the columns are \"a\", \"label\", \"b c\""));
    o.header = 0;
    assert_int_equal(rg_dataset_load_csv(csv("1,2,3\n"), &o, &ds), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "--header"));
}

static void test_scale(void **state)
{
    (void)state;
    rg_dataset *ds = load_ok("255,51,1\n", -1, 0, 1.0f / 255.0f);
    assert_true(rg_dataset_x(ds)[0] == (float)(255.0 * (double)(1.0f / 255.0f)));
    assert_true(fabsf(rg_dataset_x(ds)[1] - 0.2f) < 1e-6f);
    assert_int_equal(rg_dataset_y(ds)[0], 1);   /* labels are not scaled */
    rg_dataset_free(ds);
}

static void test_ragged(void **state)
{
    (void)state;
    expect_error("1,2,0\n3,4,1\n5,6\n", -1, 0, RG_EDATA, "line 3 has 2 columns", "line 1 has 3");
    expect_error("h1,h2\n1,2,0\n3,4,1,9\n", -1, 1, RG_EDATA, "line 3 has 4 columns", "line 2 has 3");
}

static void test_non_numeric(void **state)
{
    (void)state;
    expect_error("1,2,0\n3,abc,1\n", -1, 0, RG_EDATA, "line 2, column 2", "\"abc\"");
    expect_error("1,2,0\n3,4x,1\n", -1, 0, RG_EDATA, "line 2, column 2", "\"4x\"");
    expect_error("1,2,0\n3,,1\n", -1, 0, RG_EDATA, "line 2, column 2", "\"\"");
    expect_error("1,2,0\n3,1 2,1\n", -1, 0, RG_EDATA, "line 2, column 2", "\"1 2\"");
    expect_error("1,2,0\n3,4,one\n", -1, 0, RG_EDATA, "line 2, column 3", "\"one\"");
    /* long text is cut to 20 characters */
    expect_error("1,2,0\n3,abcdefghijklmnopqrstuvwxyz,1\n", -1, 0, RG_EDATA,
                 "\"abcdefghijklmnopqrst...\"", NULL);
    /* a header line without --header gets a hint */
    expect_error("x,y,label\n1,2,0\n", -1, 0, RG_EDATA, "line 1, column 1", "--header");
}

static void test_bad_labels(void **state)
{
    (void)state;
    expect_error("1,2,0\n3,4,3.5\n", -1, 0, RG_EDATA, "line 2, column 3", "label \"3.5\"");
    expect_error("1,2,-1\n", -1, 0, RG_EDATA, "line 1, column 3", "label \"-1\"");
    expect_error("1,2,1e30\n", -1, 0, RG_EDATA, "line 1, column 3", "label \"1e30\"");
    expect_error("nan,2,1\n", 0, 0, RG_EDATA, "line 1, column 1", "non-finite");
    rg_dataset *ds = load_ok("1,2,3.0\n", -1, 0, 0.0f);   /* an integer written as a float is fine */
    assert_int_equal(rg_dataset_y(ds)[0], 3);
    rg_dataset_free(ds);
}

static void test_nonfinite(void **state)
{
    (void)state;
    expect_error("1,2,0\n3,nan,1\n", -1, 0, RG_EDATA, "line 2, column 2", "non-finite value \"nan\"");
    expect_error("1,2,0\n-inf,4,1\n", -1, 0, RG_EDATA, "line 2, column 1", "non-finite value \"-inf\"");
    expect_error("1,1e999,0\n", -1, 0, RG_EDATA, "line 1, column 2", "non-finite");
    expect_error("1,1e300,0\n", -1, 0, RG_EDATA, "line 1, column 2", "float32 range");
}

static void test_empty_and_shape(void **state)
{
    (void)state;
    expect_error("", -1, 0, RG_EDATA, "no samples", NULL);
    expect_error("a,b,label\n", -1, 1, RG_EDATA, "no samples", "header");
    expect_error("\n\n \r\n", -1, 0, RG_EDATA, "no samples", NULL);
    expect_error("1\n2\n", -1, 0, RG_EDATA, "one column", NULL);
    expect_error("1,2,0\n", 3, 0, RG_EUSAGE, "label column 3", "3 columns");
    expect_error("1,2,0\n", -3, 0, RG_EUSAGE, "label column -3", NULL);
}

static void test_missing_file_and_args(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const char *p = rgt_path(g_dir, "absent.csv");
    assert_int_equal(rg_dataset_load_csv(p, NULL, &ds), RG_EIO);
    assert_non_null(strstr(rg_last_error(), "absent.csv: cannot open: No such file"));
    rg_data_opts o = { .label_column = -1, .scale = NAN };
    assert_int_equal(rg_dataset_load_csv(csv("1,0\n"), &o, &ds), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "scale"));
}

/* A file bigger than the first read buffer (64 KiB) still loads whole. */
static void test_large(void **state)
{
    (void)state;
    const size_t n = 20000;
    char *text = malloc(n * 32);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "%zu,%zu.5,%zu\n", i, i % 7, i % 10);
    rg_dataset *ds = load_ok(text, -1, 0, 0.0f);
    free(text);
    assert_int_equal(rg_dataset_size(ds), n);
    assert_int_equal(rg_dataset_classes(ds), 10);
    assert_true(rg_dataset_x(ds)[2 * (n - 1)] == (float)(n - 1));
    assert_true(rg_dataset_x(ds)[2 * (n - 1) + 1] == (float)((n - 1) % 7) + 0.5f);
    assert_int_equal(rg_dataset_y(ds)[n - 1], (n - 1) % 10);
    rg_dataset_free(ds);
}

/* --loss mse|mae: the label column as float targets (no classes); a
 * target that is not a number, or not finite, names line, column and text;
 * a validation split of targets keeps every (row, target) pair. */
static void test_targets(void **state)
{
    (void)state;
    rg_data_opts o = { .label_column = 1, .header = 1, .targets = 1 };
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_csv(csv("a,price,b\n1,2.5,3\n4,-1e3,5\n6,0.125,7\n8,3,9\n"), &o, &ds), RG_OK);
    assert_null(rg_dataset_y(ds));
    assert_int_equal(rg_dataset_classes(ds), 0);
    const float t[] = { 2.5f, -1000.0f, 0.125f, 3.0f }, x[] = { 1, 3, 4, 5, 6, 7, 8, 9 };
    for (size_t i = 0; i < 4; i++) assert_true(rg_dataset_targets(ds)[i] == t[i]);
    for (size_t k = 0; k < 8; k++) assert_true(rg_dataset_x(ds)[k] == x[k]);
    rg_dataset *tr = NULL, *va = NULL;
    assert_int_equal(rg_dataset_split(ds, 2, 1, &tr, &va), RG_OK);
    const rg_dataset *parts[2] = { tr, va };
    for (int p = 0; p < 2; p++)   /* row (a, b) = (2k+1, 2k+3) or so: its target goes with it */
        for (size_t i = 0; i < 2; i++) {
            float a = rg_dataset_x(parts[p])[2 * i], want = a == 1 ? 2.5f : a == 4 ? -1000.0f : a == 6 ? 0.125f : 3.0f;
            assert_true(rg_dataset_targets(parts[p])[i] == want);
        }
    rg_dataset *sl = NULL;
    assert_int_equal(rg_dataset_slice(ds, 1, 2, &sl), RG_OK);
    assert_true(rg_dataset_targets(sl)[0] == -1000.0f && rg_dataset_targets(sl)[1] == 0.125f);
    rg_dataset_free(sl);
    rg_dataset_free(tr);
    rg_dataset_free(va);
    rg_dataset_free(ds);
    const char *bad[][2] = { { "a,price\n1,2\n3,n/a\n", "line 3, column 2: target \"n/a\" is not a number" },
                             { "a,price\n1,nan\n", "line 2, column 2: target \"nan\" is non-finite" },
                             { "a,price\n1,1e39\n", "line 2, column 2: target \"1e39\" is out of float32 range" } };
    for (size_t k = 0; k < 3; k++) {
        ds = (rg_dataset *)1;
        assert_int_equal(rg_dataset_load_csv(csv(bad[k][0]), &o, &ds), RG_EDATA);
        assert_null(ds);
        if (!strstr(rg_last_error(), bad[k][1])) fail_msg("\"%s\" lacks \"%s\"", rg_last_error(), bad[k][1]);
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *p = csv("1,2,0\n3,4,1\n");
    int failures = 0;
    for (long k = 0;; k++) {
        rgt_alloc.calls = 0;
        rgt_alloc.fail_at = k;
        rg_dataset *ds = NULL;
        rg_status s = rg_dataset_load_csv(p, NULL, &ds);
        if (s == RG_OK) {
            rg_dataset_free(ds);
            break;
        }
        assert_int_equal(s, RG_ENOMEM);
        assert_null(ds);
        assert_int_equal(rgt_alloc.live, 0);
        failures++;
    }
    assert_true(failures >= 3);
    rgt_alloc.fail_at = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic_label_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_first_and_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlabeled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_crlf_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ragged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_numeric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
