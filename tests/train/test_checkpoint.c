/* test_checkpoint.c — rg_model_save / rg_model_load / rg_model_load_weights:
 * bitwise round trips, PyTorch-style names and shapes, and refusals that name
 * the file, the tensor and both shapes while leaving the model untouched. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "support.h"
#include "io/safetensors.h"
#include "nn/model.h"

static char *g_dir;

static int setup(void **state) { (void)state; g_dir = rgt_tmpdir(); return 0; }
static int teardown(void **state) { (void)state; rgt_rmtree(g_dir); free(g_dir); return 0; }

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

static const char *SPEC = "dense(16, relu, l2=0.01) dropout(0.5) dense(8, tanh, bias=false) "
                          "dense(10, softmax)";

/* A model whose every parameter, biases included, is distinct and nonzero. */
static rg_model *make_model(const char *spec, size_t inputs, uint64_t seed)
{
    rg_model *m = NULL;
    if (rg_model_create(spec, inputs, seed, &m) != RG_OK)
        fail_msg("rg_model_create: %s", rg_last_error());
    float *p = rg_model_params(m);
    for (size_t i = 0; i < rg_model_param_count(m); i++)
        p[i] = rg_rng_uniform(seed, RG_RNG_USER, 0, i) - 0.5f;
    return m;
}

static void expect_msg(rg_status got, rg_status want, const char *fragment)
{
    if (got != want || !strstr(rg_last_error(), fragment))
        fail_msg("got status %d, message '%s'; want status %d and '%s'",
                 got, rg_last_error(), want, fragment);
}

/* Snapshot of a model's arena, to prove a failed load changed nothing. */
static float *snapshot(rg_model *m)
{
    size_t n = rg_model_param_count(m);
    float *s = malloc(n * sizeof *s);
    memcpy(s, rg_model_params(m), n * sizeof *s);
    return s;
}

static void assert_unchanged(rg_model *m, const float *snap)
{
    assert_memory_equal(rg_model_params(m), snap, rg_model_param_count(m) * sizeof(float));
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "model.safetensors");
    rg_model *m = make_model(SPEC, 12, 7);
    assert_int_equal(rg_model_save(m, p), RG_OK);
    assert_int_equal(dir_entries(g_dir), 1);

    rg_model *l = NULL;
    assert_int_equal(rg_model_load(p, &l), RG_OK);
    assert_string_equal(rg_model_spec(l), rg_model_spec(m));
    assert_int_equal(rg_model_inputs(l), 12);
    assert_int_equal(rg_model_param_count(l), rg_model_param_count(m));
    assert_memory_equal(rg_model_params(l), rg_model_params(m),
                        rg_model_param_count(m) * sizeof(float));

    /* Loading weights into a same-shaped model made from another seed. */
    rg_model *o = make_model(SPEC, 12, 99);
    assert_memory_not_equal(rg_model_params(o), rg_model_params(m), 64);
    assert_int_equal(rg_model_load_weights(o, p), RG_OK);
    assert_memory_equal(rg_model_params(o), rg_model_params(m),
                        rg_model_param_count(m) * sizeof(float));

    /* The file itself: names, shapes and metadata PyTorch tools rely on. */
    rg_st *st = NULL;
    assert_int_equal(rg_st_read(p, &st), RG_OK);
    assert_string_equal(rg_st_meta(st, "format"), RG_CHECKPOINT_FORMAT);
    assert_string_equal(rg_st_meta(st, "spec"), rg_model_spec(m));
    assert_string_equal(rg_st_meta(st, "inputs"), "12");
    assert_string_equal(rg_st_meta(st, "regula_version"), RG_VERSION);
    static const struct { const char *name; int ndim; size_t d0, d1; } want[] = {
        {"dense_0.weight", 2, 16, 12}, {"dense_0.bias", 1, 16, 0},
        {"dense_1.weight", 2, 8, 16}, {"dense_2.weight", 2, 10, 8}, {"dense_2.bias", 1, 10, 0},
    };
    assert_int_equal(rg_st_count(st), 5);
    for (size_t i = 0; i < 5; i++) {
        const rg_st_tensor *t = rg_st_at(st, i);
        assert_string_equal(t->name, want[i].name);
        assert_int_equal(t->dtype, RG_ST_F32);
        assert_int_equal(t->ndim, want[i].ndim);
        assert_int_equal(t->shape[0], want[i].d0);
        if (want[i].ndim == 2) assert_int_equal(t->shape[1], want[i].d1);
    }
    assert_null(rg_st_find(st, "dense_1.bias"));
    float *w;
    size_t out, in;
    assert_int_equal(rg_model_dense(m, 2, &out, &in, &w, NULL), RG_OK);
    assert_memory_equal(rg_st_find(st, "dense_2.weight")->data, w, out * in * sizeof(float));
    rg_st_free(st);

    /* Saving over an existing checkpoint replaces it. */
    assert_int_equal(rg_model_save(o, p), RG_OK);
    assert_int_equal(dir_entries(g_dir), 1);
    rg_model_free(l);
    rg_model_free(o);
    rg_model_free(m);
}

static void test_other_architecture(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "model.safetensors");
    rg_model *m = make_model("dense(64, relu) dense(10)", 784, 1);
    assert_int_equal(rg_model_save(m, p), RG_OK);

    rg_model *o = make_model("dense(32, relu) dense(10)", 784, 2);
    float *snap = snapshot(o);
    rg_clear_error();
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "model.safetensors: tensor 'dense_0.weight' has shape [64, 784], "
               "the model expects [32, 784]");
    assert_unchanged(o, snap);
    free(snap);
    rg_model_free(o);

    /* Other input size: the second dim differs. */
    o = make_model("dense(64, relu) dense(10)", 100, 2);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "tensor 'dense_0.weight' has shape [64, 784], the model expects [64, 100]");
    rg_model_free(o);

    /* Same first layers, the last one differs: nothing may be half-loaded. */
    o = make_model("dense(64, relu) dense(5)", 784, 2);
    snap = snapshot(o);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "tensor 'dense_1.weight' has shape [10, 64], the model expects [5, 64]");
    assert_unchanged(o, snap);
    free(snap);
    rg_model_free(o);

    /* A deeper model: the file lacks its third layer. */
    o = make_model("dense(64, relu) dense(10) dense(3)", 784, 2);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "model.safetensors: tensor 'dense_2.weight' is missing");
    rg_model_free(o);

    /* A shallower model: the file's extra tensors are named. */
    o = make_model("dense(64, relu)", 784, 2);
    snap = snapshot(o);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "2 tensors are not in the model ('dense_1.weight', 'dense_1.bias')");
    assert_unchanged(o, snap);
    free(snap);
    rg_model_free(o);

    /* The model has no bias where the file has one... */
    o = make_model("dense(64, relu, bias=false) dense(10)", 784, 2);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA,
               "tensor 'dense_0.bias' is a bias, but the model's dense layer 0 has none");
    rg_model_free(o);
    /* ...and the other way round. */
    rg_model *nb = make_model("dense(64, relu, bias=false) dense(10)", 784, 3);
    assert_int_equal(rg_model_save(nb, p), RG_OK);
    expect_msg(rg_model_load_weights(m, p), RG_EDATA,
               "tensor 'dense_0.bias' is missing; the model's dense layer 0 expects [64]");
    rg_model_free(nb);
    rg_model_free(m);
}

/* Writes a checkpoint of "dense(2)" on 2 inputs by hand: dense_0.weight
 * [2, 2] and dense_0.bias [2], with the given header tensors and data. */
static void make_file(const char *path, const char *tensors_json, size_t data_len)
{
    char hdr[2048];
    snprintf(hdr, sizeof hdr, "{\"__metadata__\": {\"format\": \"regula-1\", \"spec\": "
             "\"dense(2)\", \"inputs\": \"2\"}, %s}", tensors_json);
    size_t hn = strlen(hdr), n = 8 + hn + data_len;
    unsigned char *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, hdr, hn);
    for (size_t i = 0; i + 4 <= data_len; i += 4) {
        float v = 0.125f * (float)i;
        memcpy(b + 8 + hn + i, &v, 4);
    }
    rgt_write(path, b, n);
    free(b);
}

static void test_malformed_files(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "bad.safetensors");
#define W(b, e) "\"dense_0.weight\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [" #b ", " #e "]}"
#define B(b, e) "\"dense_0.bias\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [" #b ", " #e "]}"
    static const struct { const char *tensors; size_t data; const char *fragment; } cases[] = {
        {W(0, 16) ", " B(16, 24), 24, NULL},   /* the good one */
        {W(0, 16) ", " B(8, 16), 16, "tensors 'dense_0.weight' [0, 16] and 'dense_0.bias' [8, 16] overlap"},
        {W(0, 16) ", " B(16, 24), 20, "tensor 'dense_0.bias': data_offsets [16, 24] run past the end"},
        {W(0, 16) ", " B(16, 28), 28, "tensor 'dense_0.bias': data_offsets [16, 28] but shape [2] of F32 needs 8 bytes"},
        {W(0, 16) ", " B(16, 24) ", " B(24, 32), 32, "tensor 'dense_0.bias' appears twice"},
        {W(0, 16) ", \"dense_0.bias\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [16, 24]}",
         24, "tensor 'dense_0.bias' has dtype I32, regula reads only F32"},
        {"\"dense_0.weight\": {\"dtype\": \"F32\", \"shape\": [4, 1], \"data_offsets\": [0, 16]}, "
         B(16, 24), 24, "tensor 'dense_0.weight' has shape [4, 1], the model expects [2, 2]"},
        {"\"dense_0.weight\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, "
         B(16, 24), 24, "tensor 'dense_0.weight' has shape [4], the model expects [2, 2]"},
        {B(0, 8), 8, "tensor 'dense_0.weight' is missing"},
        {W(0, 16) ", " B(16, 24) ", \"dense_1.weight\": {\"dtype\": \"F32\", \"shape\": [1], "
         "\"data_offsets\": [24, 28]}", 28, "1 tensor is not in the model ('dense_1.weight')"},
    };
#undef W
#undef B
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        make_file(p, cases[i].tensors, cases[i].data);
        rg_model *m = (rg_model *)1;
        rg_status s = rg_model_load(p, &m);
        if (!cases[i].fragment) {
            assert_int_equal(s, RG_OK);
            rg_model *ref = make_model("dense(2)", 2, 1);
            assert_string_equal(rg_model_spec(m), rg_model_spec(ref));
            rg_model_free(ref);
            float *b;
            assert_int_equal(rg_model_dense(m, 0, NULL, NULL, NULL, &b), RG_OK);
            assert_true(b[1] == 0.125f * 20);
            rg_model_free(m);
            continue;
        }
        expect_msg(s, RG_EDATA, cases[i].fragment);
        assert_non_null(strstr(rg_last_error(), p));
        assert_null(m);
    }

    /* Framing damage on a real checkpoint. */
    rg_model *m = make_model("dense(4) dense(3)", 5, 1);
    const char *good = rgt_path(g_dir, "good.safetensors");
    assert_int_equal(rg_model_save(m, good), RG_OK);
    size_t n;
    unsigned char *f = (unsigned char *)rgt_read(good, &n);
    rgt_write(p, f, n - 4);
    rg_model *l = (rg_model *)1;
    expect_msg(rg_model_load(p, &l), RG_EDATA, "tensor 'dense_1.bias': data_offsets");
    assert_null(l);
    expect_msg(rg_model_load_weights(m, p), RG_EDATA, "run past the end");
    rgt_write(p, f, 6);
    expect_msg(rg_model_load(p, &l), RG_EDATA, "file has 6 bytes, too short");
    unsigned char saved = f[3];
    f[3] = 1;   /* header length + 2^24 */
    rgt_write(p, f, n);
    expect_msg(rg_model_load(p, &l), RG_EDATA, "but only");
    f[3] = saved;
    f[8] = '[';
    rgt_write(p, f, n);
    expect_msg(rg_model_load(p, &l), RG_EDATA, "header is not valid JSON");
    free(f);
    expect_msg(rg_model_load(rgt_path(g_dir, "absent.safetensors"), &l), RG_EIO, "cannot open");
    rg_model_free(m);
}

static void test_metadata(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "meta.safetensors");
    float w[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    rg_st_tensor_in t[2] = {
        {.name = "dense_0.weight", .dtype = RG_ST_F32, .ndim = 2, .shape = {2, 2}, .data = w},
        {.name = "dense_0.bias", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = b},
    };
    static const struct { const char *kv[6]; size_t n; rg_status s; const char *fragment; } cases[] = {
        {{"format", "regula-99", "spec", "dense(2)", "inputs", "2"}, 3, RG_EDATA,
         "unknown checkpoint format \"regula-99\""},
        {{"spec", "dense(2)", "inputs", "2"}, 2, RG_EDATA, "no \"format\" in the metadata"},
        {{"format", "regula-1", "inputs", "2"}, 2, RG_EDATA, "no \"spec\" in the metadata"},
        {{"format", "regula-1", "spec", "dense(2)"}, 2, RG_EDATA, "metadata \"inputs\" is missing"},
        {{"format", "regula-1", "spec", "dense(2)", "inputs", "2x"}, 3, RG_EDATA,
         "metadata \"inputs\" is \"2x\""},
        {{"format", "regula-1", "spec", "dense(2)", "inputs", "0"}, 3, RG_EDATA,
         "metadata \"inputs\" is \"0\""},
        {{"format", "regula-1", "spec", "dense(2)", "inputs", "99999999999999999999999"}, 3,
         RG_EDATA, "not a positive integer"},
        {{"format", "regula-1", "spec", "dense(", "inputs", "2"}, 3, RG_EDATA, "metadata \"spec\": "},
        {{"format", "regula-1", "spec", "dense(3)", "inputs", "2"}, 3, RG_EDATA,
         "tensor 'dense_0.weight' has shape [2, 2], the model expects [3, 2]"},
        {{"format", "regula-1", "spec", "dense(2)", "inputs", "2"}, 3, RG_OK, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(rg_st_write(p, t, 2, cases[i].kv, cases[i].n, 0), RG_OK);
        rg_model *m = (rg_model *)1;
        rg_status s = rg_model_load(p, &m);
        expect_msg(s, cases[i].s, cases[i].fragment);
        if (s == RG_OK) {
            assert_memory_equal(rg_model_params(m), w, sizeof w);
            assert_memory_equal(rg_model_params(m) + 4, b, sizeof b);
            rg_model_free(m);
        } else {
            assert_non_null(strstr(rg_last_error(), p));
            assert_null(m);
        }
    }
}

/* What a model knows of its data: class names (metadata "classes") and the
 * standardisation (input.mean, input.std) come back from a save; a model
 * without them writes neither; bad ones are refused naming the file. */
static void test_data_meta(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "named.safetensors");
    rg_model *m = make_model("dense(4, relu) dense(3, softmax)", 2, 7), *back = NULL;
    const char *names[] = { "ant", "moth \"big\"", "zebra" };
    const float mean[2] = { 1.5f, -2 }, sd[2] = { 0.25f, 1 };
    assert_int_equal(rg_model_set_classes(m, names, 2), RG_EUSAGE);   /* one per output */
    const char *twice[] = { "a", "b", "a" };
    assert_int_equal(rg_model_set_classes(m, twice, 3), RG_EUSAGE);
    const float bad_sd[2] = { 0, 1 };
    assert_int_equal(rg_model_set_standardize(m, mean, bad_sd), RG_EUSAGE);
    assert_int_equal(rg_model_save(m, p), RG_OK);   /* neither: a file as before */
    rg_safetensors *f = NULL;
    assert_int_equal(rg_safetensors_open(p, &f), RG_OK);
    assert_int_equal(rg_safetensors_count(f), 4);
    assert_int_equal(rg_safetensors_meta_count(f), 5);   /* format, spec, inputs, loss, version */
    rg_safetensors_free(f);

    assert_int_equal(rg_model_set_classes(m, names, 3), RG_OK);
    assert_int_equal(rg_model_set_standardize(m, mean, sd), RG_OK);
    assert_int_equal(rg_model_save(m, p), RG_OK);
    assert_int_equal(rg_model_load(p, &back), RG_OK);
    for (int i = 0; i < 3; i++) assert_string_equal(rg_model_class_name(back, i), names[i]);
    assert_null(rg_model_class_name(back, 3));
    const float *bm, *bs;
    assert_true(rg_model_standardize(back, &bm, &bs));
    assert_memory_equal(bm, mean, sizeof mean);
    assert_memory_equal(bs, sd, sizeof sd);
    rg_model_free(back);
    /* --init takes the weights only (the new run's data decides the rest) */
    rg_model *fresh = make_model("dense(4, relu) dense(3, softmax)", 2, 8);
    assert_int_equal(rg_model_load_weights(fresh, p), RG_OK);
    assert_null(rg_model_class_name(fresh, 0));
    assert_false(rg_model_standardize(fresh, NULL, NULL));
    /* a clone carries them */
    rg_model *clone = NULL;
    assert_int_equal(rg_model_clone(m, &clone), RG_OK);
    assert_string_equal(rg_model_class_name(clone, 2), "zebra");
    assert_true(rg_model_standardize(clone, NULL, NULL));
    rg_model_free(clone);
    rg_model_free(fresh);

    /* a file whose names do not match the outputs */
    float w[4] = { 1, 2, 3, 4 }, b[2] = { 5, 6 }, one[2] = { 1, 1 }, zero[2] = { 0, 0 };
    rg_st_tensor_in t[4] = {
        {.name = "dense_0.weight", .dtype = RG_ST_F32, .ndim = 2, .shape = {2, 2}, .data = w},
        {.name = "dense_0.bias", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = b},
        {.name = "input.mean", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = one},
        {.name = "input.std", .dtype = RG_ST_F32, .ndim = 1, .shape = {2}, .data = zero},
    };
    const char *kv[] = { "format", "regula-1", "spec", "dense(2)", "inputs", "2", "classes", "[\"a\"]" };
    assert_int_equal(rg_st_write(p, t, 2, kv, 4, 0), RG_OK);
    expect_msg(rg_model_load(p, &back), RG_EDATA, "metadata \"classes\" is not an array of 2 distinct class names");
    assert_null(back);
    assert_int_equal(rg_st_write(p, t, 4, kv, 3, 0), RG_OK);
    expect_msg(rg_model_load(p, &back), RG_EDATA, "input.mean, input.std");
    assert_null(back);
    rg_model_free(m);
}

static void test_nonfinite(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "nan.safetensors");
    rg_model *m = make_model("dense(4, relu) dense(3)", 5, 1);
    float *w;
    assert_int_equal(rg_model_dense(m, 1, NULL, NULL, &w, NULL), RG_OK);
    float keep = w[5];
    w[5] = NAN;
    expect_msg(rg_model_save(m, p), RG_ENONFINITE, "tensor 'dense_1.weight' element 5 is not finite");
    assert_non_null(strstr(rg_last_error(), p));
    assert_int_equal(dir_entries(g_dir), 0);
    w[5] = INFINITY;
    expect_msg(rg_model_save(m, p), RG_ENONFINITE, "dense_1.weight");
    assert_int_equal(dir_entries(g_dir), 0);

    /* A file holding a NaN (written by someone else) is refused on load,
     * and the layers before it are not half-copied. */
    w[5] = keep;
    rg_st_tensor_in t[4];
    char names[4][32];
    for (int i = 0; i < 4; i++) {
        size_t out, in;
        float *pw, *pb;
        assert_int_equal(rg_model_dense(m, i / 2, &out, &in, &pw, &pb), RG_OK);
        snprintf(names[i], sizeof names[i], "dense_%d.%s", i / 2, i % 2 ? "bias" : "weight");
        t[i] = (rg_st_tensor_in){.name = names[i], .dtype = RG_ST_F32, .ndim = i % 2 ? 1 : 2,
                                 .shape = {out, i % 2 ? 0 : in}, .data = i % 2 ? pb : pw};
    }
    float bad_bias[3] = {0, 0, NAN};
    t[3].data = bad_bias;
    assert_int_equal(rg_st_write(p, t, 4, NULL, 0, RG_ST_ALLOW_NONFINITE), RG_OK);
    rg_model *o = make_model("dense(4, relu) dense(3)", 5, 2);
    float *snap = snapshot(o);
    expect_msg(rg_model_load_weights(o, p), RG_EDATA, "tensor 'dense_1.bias' element 2 is NaN");
    assert_unchanged(o, snap);
    free(snap);
    rg_model_free(o);
    rg_model_free(m);
}

static void test_save_io_errors(void **state)
{
    (void)state;
    rg_model *m = make_model("dense(3)", 2, 1);
    const char *p = rgt_path(g_dir, "missing-dir/model.safetensors");
    expect_msg(rg_model_save(m, p), RG_EIO, "missing-dir/model.safetensors: cannot create");
    assert_int_equal(dir_entries(g_dir), 0);
    rg_model_free(m);
}

/* Every allocation failure is reported as RG_ENOMEM and frees what it took. */
static long g_fail_at;

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *p = rgt_path(g_dir, "a.safetensors");
    rg_model *m = make_model(SPEC, 6, 1);
    for (g_fail_at = 0;; g_fail_at++) {
        rgt_alloc_begin();
        rgt_alloc.fail_at = g_fail_at;
        rg_status s = rg_model_save(m, p);
        rgt_alloc_end();
        assert_int_equal(rgt_alloc.live, 0);
        if (s == RG_OK) break;
        assert_int_equal(s, RG_ENOMEM);
        assert_int_equal(dir_entries(g_dir), 0);
    }
    assert_true(g_fail_at >= 3);
    float *snap = snapshot(m);
    for (g_fail_at = 0;; g_fail_at++) {
        rg_model *l = NULL;
        rgt_alloc_begin();
        rgt_alloc.fail_at = g_fail_at;
        rg_status s = rg_model_load(p, &l);
        if (s == RG_OK) {
            assert_memory_equal(rg_model_params(l), snap, rg_model_param_count(m) * sizeof(float));
            rg_model_free(l);
        }
        rgt_alloc_end();
        assert_int_equal(rgt_alloc.live, 0);
        if (s == RG_OK) break;
        assert_int_equal(s, RG_ENOMEM);
        assert_null(l);
    }
    assert_true(g_fail_at >= 8);
    free(snap);
    rg_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_architecture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonfinite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_io_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
