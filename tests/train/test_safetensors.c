/* test_safetensors.c — the safetensors reader refuses every malformed file
 * with a message naming the file and the tensor or key; the writer produces
 * the reference layout, is atomic, and refuses non-finite data. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "support.h"
#include "io/safetensors.h"

static char *g_dir;

static int setup(void **state) { (void)state; g_dir = rgt_tmpdir(); return 0; }
static int teardown(void **state) { (void)state; rgt_rmtree(g_dir); free(g_dir); return 0; }

/* Number of entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A file of le64(header length) + header + data_len bytes of data. */
static void make_file(const char *path, const char *hdr, size_t hdr_len, size_t data_len)
{
    size_t n = 8 + hdr_len + data_len;
    unsigned char *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hdr_len >> (8 * i));
    memcpy(b + 8, hdr, hdr_len);
    rgt_write(path, b, n);
    free(b);
}

static void expect_error(const char *path, rg_status want, const char *fragment)
{
    rg_st *st = (rg_st *)1;
    rg_clear_error();
    rg_status s = rg_st_read(path, &st);
    if (s != want || !strstr(rg_last_error(), fragment) || !strstr(rg_last_error(), path))
        fail_msg("reading %s: got status %d, message '%s'; want status %d and '%s'",
                 path, s, rg_last_error(), want, fragment);
    assert_null(st);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "rt.safetensors");
    float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 7};
    float b[3] = {0.25f, 0.5f, 0.75f};
    int32_t k = -42;
    rg_st_tensor_in in[4] = {
        {.name = "w", .dtype = RG_ST_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "scalar", .dtype = RG_ST_I32, .ndim = 0, .data = &k},
        {.name = "empty", .dtype = RG_ST_F32, .ndim = 2, .shape = {0, 5}, .data = NULL},
        {.name = "b \"quoted\"\\", .dtype = RG_ST_F32, .ndim = 1, .shape = {3}, .data = b},
    };
    const char *meta[] = {"format", "test-1", "note", "tab\there \xc3\xa9"};
    assert_int_equal(rg_st_write(p, in, 4, meta, 2, 0), RG_OK);
    assert_int_equal(dir_entries(g_dir), 1);   /* no temporary left behind */

    rg_st *st = NULL;
    assert_int_equal(rg_st_read(p, &st), RG_OK);
    assert_string_equal(rg_st_path(st), p);
    assert_int_equal(rg_st_count(st), 4);
    for (size_t i = 0; i < 4; i++) assert_string_equal(rg_st_at(st, i)->name, in[i].name);
    assert_null(rg_st_at(st, 4));

    const rg_st_tensor *t = rg_st_find(st, "w");
    assert_non_null(t);
    assert_int_equal(t->dtype, RG_ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->nbytes, sizeof w);
    assert_memory_equal(t->data, w, sizeof w);
    t = rg_st_find(st, "b \"quoted\"\\");
    assert_non_null(t);
    assert_memory_equal(t->data, b, sizeof b);
    t = rg_st_find(st, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->nbytes, 4);
    assert_memory_equal(t->data, &k, 4);
    t = rg_st_find(st, "empty");
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(t->shape[0], 0);
    assert_int_equal(t->shape[1], 5);
    assert_null(rg_st_find(st, "nope"));

    assert_string_equal(rg_st_meta(st, "format"), "test-1");
    assert_string_equal(rg_st_meta(st, "note"), "tab\there \xc3\xa9");
    assert_null(rg_st_meta(st, "missing"));
    assert_int_equal(rg_st_meta_count(st), 2);
    const char *key, *val;
    rg_st_meta_at(st, 0, &key, &val);
    assert_string_equal(key, "format");
    rg_st_free(st);
}

/* The bytes on disk are what the reference implementation writes: compact
 * JSON, contiguous offsets in the given order, spaces up to a multiple of 8. */
static void test_exact_layout(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "layout.safetensors");
    float a[2] = {1, 2}, c[1] = {3};
    rg_st_tensor_in in[2] = {
        {.name = "a", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = a},
        {.name = "c", .dtype = RG_ST_F32, .ndim = 2, .shape = {1, 1}, .data = c},
    };
    const char *meta[] = {"format", "pt"};
    assert_int_equal(rg_st_write(p, in, 2, meta, 1, 0), RG_OK);
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"c\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
    size_t jn = strlen(json), hn = (jn + 7) / 8 * 8, n;
    unsigned char *f = (unsigned char *)rgt_read(p, &n);
    assert_int_equal(n, 8 + hn + 12);
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = (len << 8) | f[i];
    assert_int_equal(len, hn);
    assert_memory_equal(f + 8, json, jn);
    for (size_t i = jn; i < hn; i++) assert_int_equal(f[8 + i], ' ');
    assert_memory_equal(f + 8 + hn, a, 8);
    assert_memory_equal(f + 8 + hn + 8, c, 4);
    free(f);

    /* No metadata: no "__metadata__" key at all. */
    assert_int_equal(rg_st_write(p, in, 1, NULL, 0, 0), RG_OK);
    f = (unsigned char *)rgt_read(p, &n);
    const char *j2 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    assert_memory_equal(f + 8, j2, strlen(j2));
    free(f);
}

typedef struct bad_case {
    const char *what, *hdr;
    size_t data_len;
    const char *fragment;
} bad_case;

static void test_bad_headers(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"bad json", "{\"a\": {\"dtype\": ", 0, "header is not valid JSON"},
        {"not object", "[1, 2]", 0, "header is not a JSON object"},
        {"garbage after", "{}  x", 0, "unexpected bytes after the header's JSON"},
        {"bad utf8", "{\"\xff\": 1}", 0, "not valid UTF-8"},
        {"nul byte", "{\"a\0\": 1}", 0, "not valid UTF-8"},   /* length fixed below */
        {"entry not object", "{\"t\": 5}", 0, "tensor 't': header entry is not an object"},
        {"unknown dtype", "{\"t\": {\"dtype\": \"F33\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
         4, "tensor 't': unknown dtype \"F33\""},
        {"dtype not string", "{\"t\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]}}",
         4, "tensor 't': dtype is not a string"},
        {"missing offsets", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
         "tensor 't': missing \"data_offsets\""},
        {"missing shape", "{\"t\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
         "tensor 't': missing \"shape\""},
        {"unknown key", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], "
         "\"x\": 1}}", 4, "tensor 't': unknown key \"x\""},
        {"repeated key", "{\"t\": {\"dtype\": \"F32\", \"dtype\": \"F32\", \"shape\": [1], "
         "\"data_offsets\": [0, 4]}}", 4, "tensor 't': key \"dtype\" appears twice"},
        {"negative dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}",
         4, "tensor 't': shape[0] is not a non-negative integer"},
        {"fractional dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 1.5], \"data_offsets\": [0, 4]}}",
         4, "tensor 't': shape[1] is not a non-negative integer"},
        {"string dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [\"1\"], \"data_offsets\": [0, 4]}}",
         4, "tensor 't': shape[0] is not a non-negative integer"},
        {"too many dims", "{\"t\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], "
         "\"data_offsets\": [0, 1]}}", 1, "tensor 't': shape has 9 dimensions"},
        {"overflowing shape", "{\"t\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
         "\"data_offsets\": [0, 4]}}", 4, "tensor 't': shape [4294967296, 4294967296, 16] of F32 overflows"},
        /* 2097153 * 4398044413953 = 2^63 + 1, so times 4 bytes it wraps
         * around 2^64 to exactly the 4 bytes given: a product checked only
         * after the fact would accept a tensor of 2^65 bytes here. */
        {"wrapping shape", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2097153, 4398044413953], "
         "\"data_offsets\": [0, 4]}}", 4, "tensor 't': shape [2097153, 4398044413953] of F32 overflows"},
        {"offsets not pair", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}",
         4, "tensor 't': data_offsets is not a pair"},
        {"huge offset", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1e300]}}",
         4, "tensor 't': data_offsets is not a pair"},
        {"begin after end", "{\"t\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 0]}}",
         4, "tensor 't': data_offsets [4, 0] end before they begin"},
        {"size mismatch", "{\"dense_0.weight\": {\"dtype\": \"F32\", \"shape\": [64, 784], "
         "\"data_offsets\": [0, 100]}}", 100,
         "tensor 'dense_0.weight': data_offsets [0, 100] but shape [64, 784] of F32 needs 200704 bytes"},
        {"out of range", "{\"t\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
         8, "tensor 't': data_offsets [0, 16] run past the end of the data, which has 8 bytes"},
        {"overlap", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
         "tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
        {"same offsets", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "overlap"},
        {"hole", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
         " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}}", 20,
         "data bytes [8, 12) before tensor 'b' belong to no tensor"},
        {"trailing data", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
         12, "the data has 12 bytes but the tensors end at byte 8"},
        {"duplicate tensor", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
         " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8,
         "tensor 'a' appears twice"},
        {"duplicate metadata", "{\"__metadata__\": {\"k\": \"1\", \"k\": \"2\"}}", 0,
         "metadata 'k' appears twice"},
        {"two metadata", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0,
         "\"__metadata__\" appears twice"},
        {"metadata not object", "{\"__metadata__\": [\"k\"]}", 0, "\"__metadata__\" is not an object"},
        {"metadata value", "{\"__metadata__\": {\"inputs\": 784}}", 0,
         "metadata 'inputs' is not a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p = rgt_path(g_dir, "bad.safetensors");
        size_t hn = strcmp(cases[i].what, "nul byte") == 0 ? 9 : strlen(cases[i].hdr);
        make_file(p, cases[i].hdr, hn, cases[i].data_len);
        expect_error(p, RG_EDATA, cases[i].fragment);
    }

    /* The good cousins of a few of the cases above are accepted. */
    const char *p = rgt_path(g_dir, "good.safetensors");
    const char *ok = "{\"__metadata__\": null, \"e\": {\"dtype\": \"BF16\", \"shape\": [3, 0], "
                     "\"data_offsets\": [8, 8]}, \"a\": {\"dtype\": \"F64\", \"shape\": [], "
                     "\"data_offsets\": [0, 8]}}\n   ";
    make_file(p, ok, strlen(ok), 8);
    rg_st *st = NULL;
    assert_int_equal(rg_st_read(p, &st), RG_OK);
    assert_int_equal(rg_st_count(st), 2);
    assert_int_equal(rg_st_meta_count(st), 0);
    assert_int_equal(rg_st_find(st, "e")->dtype, RG_ST_BF16);
    assert_int_equal(rg_st_find(st, "a")->nbytes, 8);
    rg_st_free(st);
    make_file(p, "{}", 2, 0);
    assert_int_equal(rg_st_read(p, &st), RG_OK);
    assert_int_equal(rg_st_count(st), 0);
    rg_st_free(st);
}

static void test_bad_framing(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "frame.safetensors");
    rgt_write(p, "abc", 3);
    expect_error(p, RG_EDATA, "file has 3 bytes, too short");
    rgt_write(p, "", 0);
    expect_error(p, RG_EDATA, "file has 0 bytes");

    /* Header length 1000 but only 10 bytes follow. */
    unsigned char b[18] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}'};
    rgt_write(p, b, sizeof b);
    expect_error(p, RG_EDATA, "header length 1000 but only 10 bytes follow");
    /* A length that would overflow size arithmetic if trusted. */
    memset(b, 0xff, 8);
    rgt_write(p, b, sizeof b);
    expect_error(p, RG_EDATA, "header length 18446744073709551615 exceeds the limit");

    /* The cap itself, at its edge: one byte over is refused as too long
     * (not merely as longer than the file), the limit itself is not. */
    char frag[96];
    uint64_t over = RG_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(over >> (8 * i));
    rgt_write(p, b, sizeof b);
    snprintf(frag, sizeof frag, "header length %zu exceeds the limit of %zu", RG_ST_MAX_HEADER + 1,
             RG_ST_MAX_HEADER);
    expect_error(p, RG_EDATA, frag);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)RG_ST_MAX_HEADER >> (8 * i));
    rgt_write(p, b, sizeof b);
    snprintf(frag, sizeof frag, "header length %zu but only 10 bytes follow", RG_ST_MAX_HEADER);
    expect_error(p, RG_EDATA, frag);
    /* A file that really holds a header over the cap (sparse, so cheap):
     * refused for its length before its text is looked at. */
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8; i++) fputc((int)(over >> (8 * i)) & 255, f);
    fputc('{', f);
    assert_int_equal(fseek(f, (long)(8 + over - 1), SEEK_SET), 0);
    fputc('}', f);
    fclose(f);
    snprintf(frag, sizeof frag, "header length %zu exceeds the limit", RG_ST_MAX_HEADER + 1);
    expect_error(p, RG_EDATA, frag);
    unlink(p);

    expect_error(rgt_path(g_dir, "does-not-exist.safetensors"), RG_EIO, "cannot open");
    expect_error(g_dir, RG_EIO, "not a regular file");
}

/* Cutting a valid file anywhere, or corrupting any header byte, must give a
 * clean RG_EDATA or a file that still satisfies the reader's invariant:
 * never a crash or an out-of-bounds tensor (the sanitizer build watches). */
static void test_truncation_and_corruption(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "src.safetensors");
    const char *q = rgt_path(g_dir, "cut.safetensors");
    float w[12];
    for (int i = 0; i < 12; i++) w[i] = (float)i;
    rg_st_tensor_in in[2] = {
        {.name = "dense_0.weight", .dtype = RG_ST_F32, .ndim = 2, .shape = {4, 2}, .data = w},
        {.name = "dense_0.bias", .dtype = RG_ST_F32, .ndim = 1, .shape = {4}, .data = w + 8},
    };
    const char *meta[] = {"format", "regula-1"};
    assert_int_equal(rg_st_write(p, in, 2, meta, 1, 0), RG_OK);
    size_t n;
    unsigned char *f = (unsigned char *)rgt_read(p, &n);
    for (size_t cut = 0; cut < n; cut++) {
        rgt_write(q, f, cut);
        rg_st *st = NULL;
        assert_int_equal(rg_st_read(q, &st), RG_EDATA);
        assert_null(st);
        assert_non_null(strstr(rg_last_error(), q));
    }
    size_t hn = f[0] | (size_t)f[1] << 8;
    int accepted = 0;
    for (size_t i = 0; i < 8 + hn; i++) {
        static const unsigned char subst[] = {0, '"', '9', '[', 0x80, ' '};
        for (size_t k = 0; k < sizeof subst; k++) {
            unsigned char saved = f[i];
            f[i] = subst[k];
            rgt_write(q, f, n);
            f[i] = saved;
            rg_st *st = NULL;
            rg_status s = rg_st_read(q, &st);
            if (s == RG_OK) {
                accepted++;
                for (size_t t = 0; t < rg_st_count(st); t++) {
                    const rg_st_tensor *x = rg_st_at(st, t);
                    assert_true(x->begin + x->nbytes <= n);
                }
                rg_st_free(st);
            } else {
                assert_int_equal(s, RG_EDATA);
            }
        }
    }
    /* Substituting a byte by itself leaves the file valid. */
    assert_true(accepted > 0);
    free(f);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "w.safetensors");
    float good[2] = {1, 2}, bad[3] = {1, 2, NAN};
    rg_st_tensor_in in[2] = {
        {.name = "ok", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = good},
        {.name = "dense_1.weight", .dtype = RG_ST_F32, .ndim = 1, .shape = {3}, .data = bad},
    };
    assert_int_equal(rg_st_write(p, in, 2, NULL, 0, 0), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "tensor 'dense_1.weight' element 2 is not finite"));
    assert_non_null(strstr(rg_last_error(), p));
    assert_int_equal(dir_entries(g_dir), 0);
    bad[2] = -INFINITY;
    assert_int_equal(rg_st_write(p, in, 2, NULL, 0, 0), RG_ENONFINITE);
    assert_int_equal(dir_entries(g_dir), 0);

    /* An existing file survives a refused overwrite untouched. */
    assert_int_equal(rg_st_write(p, in, 1, NULL, 0, 0), RG_OK);
    size_t n0, n1;
    char *before = rgt_read(p, &n0);
    assert_int_equal(rg_st_write(p, in, 2, NULL, 0, 0), RG_ENONFINITE);
    char *after = rgt_read(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
    assert_int_equal(dir_entries(g_dir), 1);

    /* ...unless the caller asks for it. */
    assert_int_equal(rg_st_write(p, in, 2, NULL, 0, RG_ST_ALLOW_NONFINITE), RG_OK);
    rg_st *st;
    assert_int_equal(rg_st_read(p, &st), RG_OK);
    float v;
    memcpy(&v, (const char *)rg_st_find(st, "dense_1.weight")->data + 8, 4);
    assert_true(isinf(v) && v < 0);
    rg_st_free(st);

    /* Half and bfloat16 infinities are caught too. */
    uint16_t h[2] = {0x3c00, 0x7c00}, bf[2] = {0x3f80, 0xffc1};
    rg_st_tensor_in hin[2] = {
        {.name = "h", .dtype = RG_ST_F16, .ndim = 1, .shape = {2}, .data = h},
        {.name = "bf", .dtype = RG_ST_BF16, .ndim = 1, .shape = {2}, .data = bf},
    };
    assert_int_equal(rg_st_write(p, hin, 1, NULL, 0, 0), RG_ENONFINITE);
    assert_int_equal(rg_st_write(p, hin + 1, 1, NULL, 0, 0), RG_ENONFINITE);
    assert_non_null(strstr(rg_last_error(), "tensor 'bf' element 1"));

    /* Invalid tensor lists are usage errors. */
    rg_st_tensor_in dup[2] = {in[0], in[0]};
    assert_int_equal(rg_st_write(p, dup, 2, NULL, 0, 0), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "tensor name 'ok' given twice"));
    rg_st_tensor_in reserved = {.name = "__metadata__", .dtype = RG_ST_F32, .ndim = 1,
                                .shape = {2}, .data = good};
    assert_int_equal(rg_st_write(p, &reserved, 1, NULL, 0, 0), RG_EUSAGE);
    const char *meta[] = {"k", "1", "k", "2"};
    assert_int_equal(rg_st_write(p, in, 1, meta, 2, 0), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "metadata key 'k' given twice"));
    assert_int_equal(dir_entries(g_dir), 1);

    /* A directory that does not exist: RG_EIO and nothing created. */
    const char *nodir = rgt_path(g_dir, "no/such/dir/w.safetensors");
    assert_int_equal(rg_st_write(nodir, in, 1, NULL, 0, 0), RG_EIO);
    assert_non_null(strstr(rg_last_error(), nodir));
    assert_int_equal(dir_entries(g_dir), 1);
}

/* A write that fails midway (file size limit: EFBIG, as a full disk would
 * give ENOSPC) leaves neither a temporary nor a changed target. */
static void test_write_failure_midway(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "big.safetensors");
    static float w[16384];
    rg_st_tensor_in in = {.name = "w", .dtype = RG_ST_F32, .ndim = 1, .shape = {16}, .data = w};
    assert_int_equal(rg_st_write(p, &in, 1, NULL, 0, 0), RG_OK);
    size_t n0, n1;
    char *before = rgt_read(p, &n0);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    in.shape[0] = 16384;
    rg_status s = rg_st_write(p, &in, 1, NULL, 0, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(s, RG_EIO);
    assert_non_null(strstr(rg_last_error(), "writing"));
    assert_non_null(strstr(rg_last_error(), p));
    assert_int_equal(dir_entries(g_dir), 1);
    char *after = rgt_read(p, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
}

/* The support's allocator fails the Nth call and counts live blocks: every
 * error path must report RG_ENOMEM and free what it took. */
static long g_fail_at;

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "a.safetensors");
    float w[4] = {1, 2, 3, 4};
    rg_st_tensor_in in[2] = {
        {.name = "x", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = w},
        {.name = "y", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = w + 2},
    };
    const char *meta[] = {"a", "b", "c", "d"};
    int writes_failed = 0, reads_failed = 0;
    for (g_fail_at = 0;; g_fail_at++) {
        rgt_alloc_begin();
        rgt_alloc.fail_at = g_fail_at;
        rg_status s = rg_st_write(p, in, 2, meta, 2, 0);
        rgt_alloc_end();
        assert_int_equal(rgt_alloc.live, 0);
        if (s == RG_OK) break;
        assert_int_equal(s, RG_ENOMEM);
        assert_int_equal(dir_entries(g_dir), 0);
        writes_failed++;
    }
    for (g_fail_at = 0;; g_fail_at++) {
        rg_st *st = NULL;
        rgt_alloc_begin();
        rgt_alloc.fail_at = g_fail_at;
        rg_status s = rg_st_read(p, &st);
        if (s == RG_OK) {
            assert_string_equal(rg_st_meta(st, "c"), "d");
            rg_st_free(st);
        }
        rgt_alloc_end();
        assert_int_equal(rgt_alloc.live, 0);
        if (s == RG_OK) break;
        assert_int_equal(s, RG_ENOMEM);
        assert_null(st);
        reads_failed++;
    }
    assert_true(writes_failed >= 3);
    assert_true(reads_failed >= 5);
}

static void test_helpers(void **state)
{
    (void)state;
    char b[64];
    size_t sh[3] = {64, 784, 3};
    rg_st_shape_str(sh, 2, b, sizeof b);
    assert_string_equal(b, "[64, 784]");
    rg_st_shape_str(sh, 0, b, sizeof b);
    assert_string_equal(b, "[]");
    rg_st_shape_str(sh, 3, b, 6);
    assert_string_equal(b, "[64, ");
    rg_st_dtype d;
    assert_true(rg_st_dtype_parse("BF16", &d));
    assert_int_equal(d, RG_ST_BF16);
    assert_int_equal(rg_st_dtype_size(d), 2);
    assert_false(rg_st_dtype_parse("f32", &d));
    assert_string_equal(rg_st_dtype_name(RG_ST_I64), "I64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
