/* test_idx.c — IDX loading: every element type, raw and gzip, scale, labels,
 * and each way a file can be malformed (truncated, corrupt, lying header),
 * checking the status, the message and that nothing leaks or is allocated
 * before a bad header is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <zlib.h>
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
    assert_int_equal(rgt_alloc.live, 0);   /* every path frees what it allocated */
    return 0;
}

/* ---- building IDX files ---- */

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
    return 4;
}

/* Header for type with ndims dims, then data (len bytes); malloc'd. */
static unsigned char *idx_bytes(int type, int ndims, const uint32_t *dims,
                                const void *data, size_t len, size_t *total)
{
    size_t h = 4 + 4 * (size_t)ndims;
    unsigned char *b = malloc(h + len + 1);
    b[0] = 0; b[1] = 0; b[2] = (unsigned char)type; b[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++) put_be32(b + 4 + 4 * i, dims[i]);
    if (len) memcpy(b + h, data, len);
    *total = h + len;
    return b;
}

static const char *write_idx(const char *name, int gz, int type, int ndims,
                             const uint32_t *dims, const void *data, size_t len)
{
    size_t n;
    unsigned char *b = idx_bytes(type, ndims, dims, data, len, &n);
    const char *path = rgt_path(g_dir, name);
    if (gz) rgt_write_gz(path, b, n);
    else rgt_write(path, b, n);
    free(b);
    return path;
}

/* 3 images of 2x2 ubyte and their labels. */
static const unsigned char PIX[12] = { 0, 255, 1, 128, 7, 8, 9, 10, 200, 201, 202, 254 };
static const unsigned char LAB[3] = { 2, 0, 4 };
static const uint32_t IMG_DIMS[3] = { 3, 2, 2 };
static const uint32_t LAB_DIMS[1] = { 3 };

static void expect_error(rg_status got, rg_status want, const char *frag1, const char *frag2)
{
    const char *msg = rg_last_error();
    if (getenv("RGT_VERBOSE")) print_message("  -> %s\n", msg);
    if (got != want || !strstr(msg, frag1) || (frag2 && !strstr(msg, frag2)))
        fail_msg("status %d (want %d), message \"%s\" lacks \"%s\"%s%s", (int)got, (int)want,
                 msg, frag1, frag2 ? " or " : "", frag2 ? frag2 : "");
}

static void check_ubyte_dataset(const rg_dataset *ds, const char *images)
{
    assert_non_null(ds);
    assert_int_equal(rg_dataset_size(ds), 3);
    assert_int_equal(rg_dataset_features(ds), 4);
    assert_int_equal(rg_dataset_classes(ds), 5);
    assert_string_equal(rg_dataset_name(ds), images);
    const float *x = rg_dataset_x(ds);
    for (int k = 0; k < 12; k++)
        assert_true(x[k] == (float)PIX[k] / 255.0f);   /* exact, like torchvision's ToTensor */
    const int32_t *y = rg_dataset_y(ds);
    assert_non_null(y);
    for (int i = 0; i < 3; i++) assert_int_equal(y[i], LAB[i]);
}

static void test_ubyte_raw(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.idx", 0, 0x08, 1, LAB_DIMS, LAB, 3);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    check_ubyte_dataset(ds, im);
    rg_dataset_free(ds);
}

static void test_ubyte_gz(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx.gz", 1, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.idx.gz", 1, 0x08, 1, LAB_DIMS, LAB, 3);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    check_ubyte_dataset(ds, im);
    rg_dataset_free(ds);
}

/* gzip is recognised by its magic, not by the name. */
static void test_gzip_detected_by_magic(void **state)
{
    (void)state;
    const char *im = write_idx("images.raw", 1, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.gz", 0, 0x08, 1, LAB_DIMS, LAB, 3);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    check_ubyte_dataset(ds, im);
    rg_dataset_free(ds);
}

static void test_explicit_scale_and_no_labels(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(im, NULL, 0.5f, &ds), RG_OK);
    assert_null(rg_dataset_y(ds));
    assert_int_equal(rg_dataset_classes(ds), 0);
    for (int k = 0; k < 12; k++) assert_true(rg_dataset_x(ds)[k] == 0.5f * PIX[k]);
    rg_dataset_free(ds);
    assert_int_equal(rg_dataset_load_idx(im, NULL, 1.0f, &ds), RG_OK);
    assert_true(rg_dataset_x(ds)[1] == 255.0f);
    rg_dataset_free(ds);
}

/* Every element type, big-endian, with scale 0 = 1 for non-ubyte types. */
static void test_other_types(void **state)
{
    (void)state;
    const uint32_t dims[2] = { 2, 2 };
    const double want[4] = { -3, 1.5, 100, -0.25 };
    unsigned char b[32];
    rg_dataset *ds = NULL;

    const unsigned char sb[4] = { 0xFD, 0x01, 0x64, 0x80 };    /* -3 1 100 -128 */
    const char *p = write_idx("sb.idx", 0, 0x09, 2, dims, sb, 4);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_OK);
    assert_true(rg_dataset_x(ds)[0] == -3.0f && rg_dataset_x(ds)[3] == -128.0f);
    rg_dataset_free(ds);

    const int16_t i16[4] = { -300, 2, 30000, -1 };
    for (int i = 0; i < 4; i++) { b[2 * i] = (unsigned char)((uint16_t)i16[i] >> 8); b[2 * i + 1] = (unsigned char)i16[i]; }
    p = write_idx("i16.idx.gz", 1, 0x0B, 2, dims, b, 8);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_OK);
    for (int i = 0; i < 4; i++) assert_true(rg_dataset_x(ds)[i] == (float)i16[i]);
    rg_dataset_free(ds);

    const int32_t i32[4] = { -70000, 3, 1 << 20, -1 };
    for (int i = 0; i < 4; i++) put_be32(b + 4 * i, (uint32_t)i32[i]);
    p = write_idx("i32.idx", 0, 0x0C, 2, dims, b, 16);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 2.0f, &ds), RG_OK);
    for (int i = 0; i < 4; i++) assert_true(rg_dataset_x(ds)[i] == 2.0f * (float)i32[i]);
    rg_dataset_free(ds);

    for (int i = 0; i < 4; i++) {
        float f = (float)want[i];
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be32(b + 4 * i, u);
    }
    p = write_idx("f32.idx", 0, 0x0D, 2, dims, b, 16);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_OK);
    for (int i = 0; i < 4; i++) assert_true(rg_dataset_x(ds)[i] == (float)want[i]);
    rg_dataset_free(ds);

    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &want[i], 8);
        put_be32(b + 8 * i, (uint32_t)(u >> 32));
        put_be32(b + 8 * i + 4, (uint32_t)u);
    }
    p = write_idx("f64.idx.gz", 1, 0x0E, 2, dims, b, 32);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_OK);
    for (int i = 0; i < 4; i++) assert_true(rg_dataset_x(ds)[i] == (float)want[i]);
    rg_dataset_free(ds);
}

/* One-dim image files are n samples of one feature; int32 and sbyte labels. */
static void test_label_types(void **state)
{
    (void)state;
    const uint32_t d1[1] = { 3 };
    const char *im = write_idx("im1.idx", 0, 0x08, 1, d1, PIX, 3);
    unsigned char b[12];
    const int32_t lab[3] = { 9, 0, 70000 };
    for (int i = 0; i < 3; i++) put_be32(b + 4 * i, (uint32_t)lab[i]);
    const char *lb = write_idx("lab32.idx", 0, 0x0C, 1, d1, b, 12);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_features(ds), 1);
    assert_int_equal(rg_dataset_y(ds)[2], 70000);
    assert_int_equal(rg_dataset_classes(ds), 70001);
    rg_dataset_free(ds);

    const unsigned char sb[3] = { 1, 2, 3 };
    lb = write_idx("lab8.idx", 1, 0x09, 1, d1, sb, 3);
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_classes(ds), 4);
    rg_dataset_free(ds);
}

/* ---- errors ---- */

static void test_missing_file(void **state)
{
    (void)state;
    rg_dataset *ds = (rg_dataset *)1;
    const char *p = rgt_path(g_dir, "nope.idx");
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EIO, p, "No such file");
    assert_null(ds);
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    expect_error(rg_dataset_load_idx(im, p, 0.0f, &ds), RG_EIO, p, "No such file");
    expect_error(rg_dataset_load_idx(g_dir, NULL, 0.0f, &ds), RG_EIO, g_dir, "directory");
}

static void test_truncated_header(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const unsigned char two[2] = { 0, 0 };
    const char *p = rgt_path(g_dir, "short.idx");
    rgt_write(p, two, 2);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "ends after 2 bytes");
    /* magic says 3 dims, only one and a half follow */
    const unsigned char part[10] = { 0, 0, 8, 3, 0, 0, 0, 5, 0, 0 };
    rgt_write(p, part, 10);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, "declares 3 dims", "ends after 10 bytes");
    rgt_write_gz(p, part, 10);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "ends after 10 bytes");
    rgt_write(p, "", 0);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "ends after 0 bytes");
}

static void test_bad_magic(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const unsigned char m[16] = { 0x12, 0x34, 0x56, 0x78 };
    const char *p = rgt_path(g_dir, "magic.idx");
    rgt_write(p, m, 16);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "bad magic 0x12345678");
    const unsigned char t[8] = { 0, 0, 0x07, 1, 0, 0, 0, 0 };   /* unknown type 07 */
    rgt_write_gz(p, t, 8);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, "bad magic 0x00000701", NULL);
    const unsigned char z[8] = { 0, 0, 0x08, 0, 0, 0, 0, 0 };    /* zero dims */
    rgt_write(p, z, 8);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, "bad magic 0x00000800", NULL);
}

static void test_truncated_data_raw(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[3] = { 100, 28, 28 };
    const char *p = write_idx("trunc.idx", 0, 0x08, 3, dims, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p,
                 "expected 78400 bytes of pixels, file ends after 12");
    assert_true(rgt_alloc.largest < 1000);   /* refused from the file size, before allocating */

    const uint32_t lab[1] = { 3 };
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.idx", 0, 0x0C, 1, lab, LAB, 3);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, lb,
                 "expected 12 bytes of labels, file ends after 3");
}

static void test_truncated_data_gz(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[3] = { 100, 28, 28 };
    unsigned char data[1024];
    for (int i = 0; i < 1024; i++) data[i] = (unsigned char)(i * 7);
    const char *p = write_idx("train-images-idx3-ubyte.gz", 1, 0x08, 3, dims, data, 1024);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p,
                 "expected 78400 bytes of pixels, file ends after 1024");
    /* 47 MB cannot come out of a 1 kB gzip file: refused before reading */
    const uint32_t full[3] = { 60000, 28, 28 };
    p = write_idx("train-images-idx3-ubyte.gz", 1, 0x08, 3, full, data, 1024);
    rgt_alloc.largest = 0;
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p,
                 "header declares 47040000 bytes of pixels, more than a");
    assert_true(rgt_alloc.largest < 100000);

    /* A gzip stream cut in the middle of the deflate data. */
    const uint32_t d2[2] = { 4000, 100 };
    unsigned char *big = malloc(400000);
    for (int i = 0; i < 400000; i++) big[i] = (unsigned char)((i * 2654435761u) >> 24);
    p = write_idx("cut.idx.gz", 1, 0x08, 2, d2, big, 400000);
    free(big);
    size_t n;
    char *gz = rgt_read(p, &n);
    rgt_write(p, gz, n / 2);
    free(gz);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, "expected 400000 bytes of pixels",
                 "(gzip stream truncated)");

    /* All data present, only the 8-byte CRC trailer missing. */
    const char *q = write_idx("notrailer.idx.gz", 1, 0x08, 3, IMG_DIMS, PIX, 12);
    gz = rgt_read(q, &n);
    rgt_write(q, gz, n - 8);
    free(gz);
    expect_error(rg_dataset_load_idx(q, NULL, 0.0f, &ds), RG_EDATA, q, "truncated");
}

/* Flipped bytes inside a gzip member: a stored block fails its CRC, a
 * Huffman block fails to decode; either way the data is refused. */
static void test_corrupt_gzip(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[2] = { 1000, 100 };
    unsigned char *data = malloc(100000);
    /* random bytes: deflate stores them, so the flip survives decoding */
    uint32_t r = 12345;
    for (int i = 0; i < 100000; i++) { r = r * 1664525u + 1013904223u; data[i] = (unsigned char)(r >> 24); }
    const char *p = write_idx("stored.idx.gz", 1, 0x08, 2, dims, data, 100000);
    size_t n;
    char *gz = rgt_read(p, &n);
    gz[n / 2] ^= 0x55;
    gz[n / 2 + 1] ^= 0xAA;
    rgt_write(p, gz, n);
    free(gz);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "corrupt gzip data");
    assert_non_null(strstr(rg_last_error(), "incorrect data check"));

    /* compressible bytes: Huffman-coded, the flip breaks the code */
    for (int i = 0; i < 100000; i++) data[i] = (unsigned char)((i % 97) * (i % 13));
    p = write_idx("huff.idx.gz", 1, 0x08, 2, dims, data, 100000);
    gz = rgt_read(p, &n);
    for (size_t k = n / 2 - 8; k < n / 2 + 8; k++) gz[k] ^= 0xFF;
    rgt_write(p, gz, n);
    free(gz);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, NULL);
    free(data);
}

static void test_dims_overflow(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[4] = { 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu };
    const char *p = write_idx("huge.idx", 0, 0x08, 4, dims, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "4294967295x4294967295");
    assert_non_null(strstr(rg_last_error(), "too large"));
    p = write_idx("huge.idx.gz", 1, 0x0E, 4, dims, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "too large");

    /* No overflow, but 1e9 bytes claimed by a tiny file. */
    const uint32_t gb[3] = { 1000, 1000, 1000 };
    p = write_idx("claim.idx", 0, 0x08, 3, gb, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p,
                 "expected 1000000000 bytes of pixels, file ends after 12");
    p = write_idx("claim.idx.gz", 1, 0x08, 3, gb, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "more than a");
    /* 2^35 bytes: over the 16 GiB cap */
    const uint32_t cap[3] = { 1u << 15, 1u << 10, 1u << 10 };
    p = write_idx("cap.idx", 0, 0x08, 3, cap, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "too large");
    assert_true(rgt_alloc.largest < 1000);

    const uint32_t zero[3] = { 0, 28, 28 };
    p = write_idx("empty.idx", 0, 0x08, 3, zero, PIX, 0);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "no samples");
}

static void test_trailing_data(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[3] = { 2, 2, 2 };   /* 8 bytes declared, 12 present */
    const char *p = write_idx("long.idx", 0, 0x08, 3, dims, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "data continues after the 8 bytes");
    p = write_idx("long.idx.gz", 1, 0x08, 3, dims, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "data continues");
}

static void test_label_count_mismatch(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    const uint32_t four[1] = { 4 };
    const unsigned char lab[4] = { 1, 2, 3, 4 };
    const char *lb = write_idx("labels.idx", 0, 0x08, 1, four, lab, 4);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, "labels.idx: 4 labels but",
                 "images.idx has 3 images");
}

static void test_bad_labels(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    unsigned char b[12];
    const int32_t lab[3] = { 1, -1, 2 };
    for (int i = 0; i < 3; i++) put_be32(b + 4 * i, (uint32_t)lab[i]);
    const char *lb = write_idx("neg.idx.gz", 1, 0x0C, 1, LAB_DIMS, b, 12);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, lb, "label -1 at record 1");
    const unsigned char sb[3] = { 1, 0xFF, 2 };
    lb = write_idx("neg8.idx", 0, 0x09, 1, LAB_DIMS, sb, 3);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, lb, "label -1 at record 1");
    lb = write_idx("float.idx", 0, 0x0D, 1, LAB_DIMS, b, 12);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, lb, "float32");
    lb = write_idx("twodim.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    expect_error(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_EDATA, lb, "3 dims");
}

static void test_nonfinite(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    const uint32_t dims[2] = { 2, 3 };
    unsigned char b[48];
    float f[6] = { 0, 1, 2, 3, 4, 5 };
    f[5] = NAN;
    for (int i = 0; i < 6; i++) { uint32_t u; memcpy(&u, &f[i], 4); put_be32(b + 4 * i, u); }
    const char *p = write_idx("nan.idx", 0, 0x0D, 2, dims, b, 24);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "non-finite value");
    assert_non_null(strstr(rg_last_error(), "record 1, feature 2"));

    double v[6] = { 0, INFINITY, 0, 0, 0, 0 };
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        put_be32(b + 8 * i, (uint32_t)(u >> 32));
        put_be32(b + 8 * i + 4, (uint32_t)u);
    }
    p = write_idx("inf.idx.gz", 1, 0x0E, 2, dims, b, 48);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "record 0, feature 1");
    /* finite as a double, not as a float */
    v[1] = 1e300;
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        put_be32(b + 8 * i, (uint32_t)(u >> 32));
        put_be32(b + 8 * i + 4, (uint32_t)u);
    }
    p = write_idx("big.idx", 0, 0x0E, 2, dims, b, 48);
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA, p, "overflows float32");

    expect_error(rg_dataset_load_idx(p, NULL, NAN, &ds), RG_EUSAGE, "scale", NULL);
    p = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    expect_error(rg_dataset_load_idx(p, NULL, 3e38f, &ds), RG_EUSAGE, "scale", NULL);
}

/* A gzip file whose trailer does not give the total (two members) makes the
 * loader grow its buffer as data arrives: values must come out right, and a
 * truncated one must fail without leaking. */
static void test_gz_growth(void **state)
{
    (void)state;
    const size_t n = 6000000, half = 2000000;   /* over the 4M-element first allocation */
    const uint32_t dims[2] = { (uint32_t)(n / 100), 100 };
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i % 251);
    size_t hlen;
    unsigned char *h = idx_bytes(0x08, 2, dims, NULL, 0, &hlen);
    const char *p = rgt_path(g_dir, "multi.idx.gz");
    gzFile g = gzopen(p, "wb1");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, h, (unsigned)hlen), (int)hlen);
    assert_int_equal(gzwrite(g, data, (unsigned)half), (int)half);
    assert_int_equal(gzclose(g), Z_OK);
    g = gzopen(p, "ab1");   /* a second member */
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data + half, (unsigned)(n - half)), (int)(n - half));
    assert_int_equal(gzclose(g), Z_OK);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_size(ds), n / 100);
    const float *x = rg_dataset_x(ds);
    for (size_t i = 0; i < n; i += 9973) assert_true(x[i] == (float)(i % 251));
    assert_true(x[n - 1] == (float)((n - 1) % 251));
    rg_dataset_free(ds);

    /* declared 6M, only the first member's 2M there */
    g = gzopen(p, "wb1");
    assert_int_equal(gzwrite(g, h, (unsigned)hlen), (int)hlen);
    assert_int_equal(gzwrite(g, data, (unsigned)half), (int)half);
    assert_int_equal(gzclose(g), Z_OK);
    free(h);
    free(data);
    rgt_alloc.largest = 0;
    expect_error(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_EDATA, "expected 6000000 bytes of pixels",
                 "file ends after 2000000");
    assert_true(rgt_alloc.largest < n * sizeof(float));
}

/* Every allocation failure returns RG_ENOMEM and frees the rest (teardown
 * checks the count). */

/* ---- byte storage: pixels stay bytes, rows read as the floats they were ---- */

/* Every row of ds read through rg_dataset_rows, bit for bit want (n x d). */
static void expect_rows(const rg_dataset *ds, const float *want)
{
    size_t n = rg_dataset_size(ds), d = rg_dataset_features(ds);
    float *got = malloc(n * d * sizeof *got);
    assert_int_equal(rg_dataset_rows(ds, 0, n, got), RG_OK);
    assert_memory_equal(got, want, n * d * sizeof *got);
    free(got);
}

static void test_bytes_kept(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx.gz", 1, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.idx", 0, 0x08, 1, LAB_DIMS, LAB, 3);
    rg_dataset *ds, *sl, *tr, *va;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(ds), 1);
    float want[12];
    for (int k = 0; k < 12; k++) want[k] = (float)PIX[k] / 255.0f;
    expect_rows(ds, want);
    float row[4];
    assert_int_equal(rg_dataset_rows(ds, 2, 2, row), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "outside the 3 samples"));
    /* slices and splits stay bytes and read the same rows */
    assert_int_equal(rg_dataset_slice(ds, 1, 2, &sl), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(sl), 1);
    expect_rows(sl, want + 4);
    assert_int_equal(rg_dataset_split(ds, 1, 7, &tr, &va), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(tr), 1);
    assert_int_equal(rg_dataset_feature_bytes(va), 1);
    assert_int_equal(rg_dataset_size(tr) + rg_dataset_size(va), 3);
    for (size_t i = 0; i < rg_dataset_size(va); i++) {   /* each row is one of the set's, with its label */
        assert_int_equal(rg_dataset_rows(va, i, 1, row), RG_OK);
        int r = 0;
        while (r < 3 && memcmp(row, want + 4 * r, sizeof row)) r++;
        assert_true(r < 3);
        assert_int_equal(rg_dataset_y(va)[i], LAB[r]);
    }
    rg_dataset_free(sl);
    rg_dataset_free(tr);
    rg_dataset_free(va);
    rg_dataset_free(ds);
    /* sbyte is bytes too; wider types and arrays are floats */
    const uint32_t dims[2] = { 2, 2 };
    const unsigned char sb[4] = { 0xFD, 0x7F, 0x00, 0x80 };
    assert_int_equal(rg_dataset_load_idx(write_idx("sb.idx", 0, 0x09, 2, dims, sb, 4), NULL, 0.5f, &ds), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(ds), 1);
    expect_rows(ds, (const float[]){ -1.5f, 63.5f, 0.0f, -64.0f });
    rg_dataset_free(ds);
    const unsigned char i16[8] = { 0xFF, 0xFD, 0x01, 0x00, 0, 0, 0x80, 0 };
    assert_int_equal(rg_dataset_load_idx(write_idx("i16.idx", 0, 0x0B, 2, dims, i16, 8), NULL, 0.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(ds), sizeof(float));
    rg_dataset_free(ds);
    assert_int_equal(rg_dataset_from_arrays(want, NULL, 3, 4, &ds), RG_OK);
    assert_int_equal(rg_dataset_feature_bytes(ds), sizeof(float));
    rg_dataset_free(ds);
}

/* Standardising bytes keeps them bytes and reads, bit for bit, what
 * standardising their floats in place gives; a second standardisation
 * turns them into floats, still the same values. */
static void test_bytes_standardize(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx", 0, 0x08, 3, IMG_DIMS, PIX, 12);
    rg_dataset *b, *f;
    float x[12], mb[4], sb[4], mf[4], sf[4];
    for (int k = 0; k < 12; k++) x[k] = (float)PIX[k] / 255.0f;
    assert_int_equal(rg_dataset_load_idx(im, NULL, 0.0f, &b), RG_OK);
    assert_int_equal(rg_dataset_from_arrays(x, NULL, 3, 4, &f), RG_OK);
    assert_int_equal(rg_dataset_moments(b, mb, sb), RG_OK);
    assert_int_equal(rg_dataset_moments(f, mf, sf), RG_OK);
    assert_memory_equal(mb, mf, sizeof mb);
    assert_memory_equal(sb, sf, sizeof sb);
    const float *xb = rg_dataset_x(b);   /* the float copy follows the standardisation */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(rg_dataset_standardize(b, mf, sf), RG_OK);
        assert_int_equal(rg_dataset_standardize(f, mf, sf), RG_OK);
        assert_int_equal(rg_dataset_feature_bytes(b), round == 0 ? 1 : sizeof(float));
        expect_rows(b, rg_dataset_x(f));
        assert_true(rg_dataset_x(b) == xb);
        assert_memory_equal(xb, rg_dataset_x(f), sizeof x);
        assert_int_equal(rg_dataset_moments(b, mb, sb), RG_OK);
        assert_int_equal(rg_dataset_moments(f, mf, sf), RG_OK);
        assert_memory_equal(mb, mf, sizeof mb);
    }
    /* an overflow is refused before anything changes */
    rg_dataset_free(b);
    assert_int_equal(rg_dataset_load_idx(im, NULL, 1.0f, &b), RG_OK);
    const float tiny[4] = { 1e-38f, 1e-38f, 1e-38f, 1e-38f }, zero[4] = { 0 };
    expect_error(rg_dataset_standardize(b, zero, tiny), RG_EDATA, "sample 1, feature 2: 255", NULL);
    assert_int_equal(rg_dataset_feature_bytes(b), 1);
    assert_true(rg_dataset_x(b)[1] == 255.0f);
    rg_dataset_free(b);
    rg_dataset_free(f);
}

/* Loading, splitting, training on and evaluating pixel data never makes a
 * float copy of the set: no allocation reaches n*d floats (the bytes are
 * n*d; the largest other one is the model's workspace for an evaluation
 * chunk of 1024 rows, 6.8 MB here). */
static void test_bytes_no_float_copy(void **state)
{
    (void)state;
    enum { N = 4000, D = 784 };
    unsigned char *pix = malloc((size_t)N * D), lab[N];
    for (size_t k = 0; k < (size_t)N * D; k++) pix[k] = (unsigned char)(k * 2654435761u >> 13);
    for (int i = 0; i < N; i++) lab[i] = (unsigned char)(pix[(size_t)i * D + 100] % 10);
    const uint32_t dims[3] = { N, 28, 28 }, ldims[1] = { N };
    const char *im = write_idx("big.idx", 0, 0x08, 3, dims, pix, (size_t)N * D);
    const char *lb = write_idx("big-labels.idx", 0, 0x08, 1, ldims, lab, N);
    free(pix);
    size_t floats = (size_t)N * D * sizeof(float);
    rg_dataset *ds, *va, *tr;
    assert_int_equal(rg_dataset_load_idx(im, lb, 0.0f, &ds), RG_OK);
    assert_int_equal(rg_dataset_split(ds, N / 10, 1, &tr, &va), RG_OK);
    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "model", "dense(16, relu) dropout(0.5) dense(10, softmax)"), RG_OK);
    assert_int_equal(rg_config_set(&c, "log-every", "0"), RG_OK);
    rg_model *m;
    assert_int_equal(rg_model_create(c.model, D, 1, &m), RG_OK);
    rg_train_result r;
    assert_int_equal(rg_train(&c, m, tr, va, ds, NULL, NULL, &r), RG_OK);
    double loss, acc;
    assert_int_equal(rg_evaluate(m, ds, 0, &loss, &acc), RG_OK);
    if (rgt_alloc.largest >= floats)
        fail_msg("largest allocation %zu bytes: a float copy of the %zu bytes of pixels", rgt_alloc.largest,
                 (size_t)N * D);
    assert_true(rgt_alloc.largest >= (size_t)N * D);   /* the bytes themselves were seen */
    rg_model_free(m);
    rg_dataset_free(tr);
    rg_dataset_free(va);
    rg_dataset_free(ds);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *im = write_idx("images.idx.gz", 1, 0x08, 3, IMG_DIMS, PIX, 12);
    const char *lb = write_idx("labels.idx", 0, 0x08, 1, LAB_DIMS, LAB, 3);
    int failures = 0;
    for (long k = 0;; k++) {
        rgt_alloc.calls = 0;
        rgt_alloc.fail_at = k;
        rg_dataset *ds = NULL;
        rg_status s = rg_dataset_load_idx(im, lb, 0.0f, &ds);
        if (s == RG_OK) {
            assert_true(rgt_alloc.calls <= k);   /* no call was failed */
            rgt_alloc.fail_at = -1;   /* the check's rg_dataset_x makes the float copy of the bytes */
            check_ubyte_dataset(ds, im);
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
        cmocka_unit_test_setup_teardown(test_ubyte_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ubyte_gz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_detected_by_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_scale_and_no_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_data_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_data_gz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dims_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gz_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_standardize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_no_float_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
