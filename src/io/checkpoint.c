/*
 * checkpoint.c — a model as a safetensors file, through the public model API.
 *
 * Layout: dense_<i>.weight [out, in] and dense_<i>.bias [out] (absent when
 * the layer has no bias), F32; metadata "format" (RG_CHECKPOINT_FORMAT),
 * "spec" (canonical), "inputs" (decimal), "loss" (rg_loss_name; a file
 * without it takes the spec's own) and "regula_version".  What the
 * model knows of its data (model_meta.c), only when it has it: metadata
 * "classes", a JSON array of the class names in class order, and tensors
 * input.mean and input.std [inputs], F32, the standardisation.  The names
 * and the [out, in] layout are PyTorch's nn.Linear, so tools/st_check.py
 * loads a checkpoint into an nn.Sequential.
 *
 * Invariant of loading: the model changes only after every tensor has been
 * found, typed, shaped and checked finite, and no tensor in the file was
 * left unused; on any error the model holds exactly what it held before.
 */
#include "io/checkpoint.h"
#include "nn/model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define NAME_CAP 48   /* "dense_2147483647.weight" fits */

static void tensor_name(char *buf, int i, int bias)
{
    snprintf(buf, NAME_CAP, "dense_%d.%s", i, bias ? "bias" : "weight");
}

/* The model's tensors for rg_st_write, pointing into its arena: *t and
 * *names (NAME_CAP bytes each) are the caller's to rg_free. */
rg_status rg_model_st_tensors(const rg_model *cm, rg_st_tensor_in **tp, char **namesp, size_t *np)
{
    /* rg_model_dense hands out writable views; saving only reads them. */
    rg_model *m = (rg_model *)cm;
    int nd = rg_model_dense_count(m);
    size_t cap = (size_t)nd * 2 + 2;
    rg_st_tensor_in *t = rg_calloc(cap ? cap : 1, sizeof *t);
    char (*names)[NAME_CAP] = rg_calloc(cap ? cap : 1, NAME_CAP);
    *tp = NULL;
    *namesp = NULL;
    *np = 0;
    if (!t || !names) {
        rg_free(t);
        rg_free(names);
        return rg_error(RG_ENOMEM, "out of memory listing the model's tensors");
    }
    size_t n = 0;
    rg_status s = RG_OK;
    for (int i = 0; i < nd && s == RG_OK; i++) {
        size_t out, in;
        float *w, *b;
        if ((s = rg_model_dense(m, i, &out, &in, &w, &b)) != RG_OK) break;
        tensor_name(names[n], i, 0);
        t[n] = (rg_st_tensor_in){.name = names[n], .dtype = RG_ST_F32, .ndim = 2,
                                 .shape = {out, in}, .data = w};
        n++;
        if (b) {
            tensor_name(names[n], i, 1);
            t[n] = (rg_st_tensor_in){.name = names[n], .dtype = RG_ST_F32, .ndim = 1,
                                     .shape = {out}, .data = b};
            n++;
        }
    }
    const float *mean, *std;
    if (s == RG_OK && rg_model_standardize(m, &mean, &std)) {
        static const char *const in_names[2] = { "input.mean", "input.std" };
        for (int k = 0; k < 2; k++) {
            snprintf(names[n], NAME_CAP, "%s", in_names[k]);
            t[n] = (rg_st_tensor_in){.name = names[n], .dtype = RG_ST_F32, .ndim = 1,
                                     .shape = {rg_model_inputs(m)}, .data = k ? std : mean};
            n++;
        }
    }
    if (s != RG_OK) {
        rg_free(t);
        rg_free(names);
        return s;
    }
    *tp = t;
    *namesp = (char *)names;
    *np = n;
    return RG_OK;
}

char *rg_model_classes_json(const rg_model *m)
{
    if (!rg_model_class_name(m, 0)) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < rg_model_classes(m); i++) {
        cJSON *str = cJSON_CreateString(rg_model_class_name(m, (int)i));
        if (!str || !cJSON_AddItemToArray(a, str)) {
            cJSON_Delete(str);
            cJSON_Delete(a);
            return NULL;
        }
    }
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return text;
}

rg_status rg_model_save(const rg_model *m, const char *path)
{
    rg_st_tensor_in *t;
    char *names;
    size_t n;
    rg_status s = rg_model_st_tensors(m, &t, &names, &n);
    if (s != RG_OK) return rg_error_prefix(s, "%s: ", path);
    char inputs[32];
    snprintf(inputs, sizeof inputs, "%zu", rg_model_inputs(m));
    char *classes = NULL;
    if (rg_model_class_name(m, 0) && !(classes = rg_model_classes_json(m))) s = rg_error(RG_ENOMEM, "%s: out of memory", path);
    const char *meta[] = {
        "format", RG_CHECKPOINT_FORMAT,
        "spec", rg_model_spec(m),
        "inputs", inputs,
        "loss", rg_loss_name(rg_model_loss(m)),
        "regula_version", RG_VERSION,
        "classes", classes,
    };
    if (!s) s = rg_st_write(path, t, n, meta, sizeof meta / sizeof *meta / 2 - !classes, 0);
    cJSON_free(classes);
    rg_free(names);
    rg_free(t);
    return s;
}

/* Checks one tensor against the model's view; on success *src is its data. */
static rg_status check_tensor(const rg_st *st, const char *name, int ndim, const size_t *shape,
                              int layer, const void **src, unsigned char *used)
{
    const char *path = rg_st_path(st);
    char want[64], have[256];
    rg_st_shape_str(shape, ndim, want, sizeof want);
    const rg_st_tensor *t = rg_st_find(st, name);
    if (!t)
        return rg_error(RG_EDATA, "%s: tensor '%s' is missing; the model's dense layer %d "
                        "expects %s", path, name, layer, want);
    if (t->dtype != RG_ST_F32)
        return rg_error(RG_EDATA, "%s: tensor '%s' has dtype %s, regula reads only F32",
                        path, name, rg_st_dtype_name(t->dtype));
    rg_st_shape_str(t->shape, t->ndim, have, sizeof have);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same)
        return rg_error(RG_EDATA, "%s: tensor '%s' has shape %s, the model expects %s",
                        path, name, have, want);
    size_t n = t->nbytes / sizeof(float);
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, (const unsigned char *)t->data + i * sizeof v, sizeof v);
        if (!isfinite(v))
            return rg_error(RG_EDATA, "%s: tensor '%s' element %zu is %s", path, name, i,
                            isnan(v) ? "NaN" : "infinite");
    }
    used[t - rg_st_at(st, 0)] = 1;
    *src = t->data;
    return RG_OK;
}

/* Loads the weights of st into m: check everything, then copy. */
rg_status rg_model_load_st(rg_model *m, const rg_st *st)
{
    const char *path = rg_st_path(st);
    int nd = rg_model_dense_count(m);
    size_t nt = rg_st_count(st), cap = (size_t)nd * 2;
    unsigned char *used = rg_calloc(nt ? nt : 1, 1);
    const void **src = rg_calloc(cap ? cap : 1, sizeof *src);
    if (!used || !src) {
        rg_free(used);
        rg_free(src);
        return rg_error(RG_ENOMEM, "%s: out of memory loading weights", path);
    }
    rg_status s = RG_OK;
    char name[NAME_CAP];
    for (int i = 0; i < nd && s == RG_OK; i++) {
        size_t shape[2];
        float *w, *b;
        if ((s = rg_model_dense(m, i, &shape[0], &shape[1], &w, &b)) != RG_OK) break;
        tensor_name(name, i, 0);
        s = check_tensor(st, name, 2, shape, i, &src[2 * i], used);
        if (s == RG_OK && b) {
            tensor_name(name, i, 1);
            s = check_tensor(st, name, 1, shape, i, &src[2 * i + 1], used);
        }
        if (s == RG_OK && !b) {
            tensor_name(name, i, 1);
            if (rg_st_find(st, name))
                s = rg_error(RG_EDATA, "%s: tensor '%s' is a bias, but the model's dense "
                             "layer %d has none (bias=false)", path, name, i);
        }
    }
    if (s == RG_OK) {
        /* Anything left over belongs to another architecture: name it. */
        size_t extra = 0;
        char list[512] = "";
        /* a training checkpoint (state.c) also holds the optimizer's, the
         * trainer's and regula fed's state: not weights, not another architecture */
        const char *kind = rg_st_meta(st, "kind");
        int training = kind && !strcmp(kind, "training");
        for (size_t i = 0; i < nt; i++) {
            if (used[i]) continue;
            const char *tn = rg_st_at(st, i)->name;
            if (training && (!strncmp(tn, "train.", 6) || !strncmp(tn, "optimizer.", 10) || !strncmp(tn, "fed.", 4)))
                continue;
            if (!strcmp(tn, "input.mean") || !strcmp(tn, "input.std")) continue;   /* load_meta's */
            size_t len = strlen(list);
            if (extra < 4 && len < sizeof list)
                snprintf(list + len, sizeof list - len, "%s'%s'", extra ? ", " : "",
                         rg_st_at(st, i)->name);
            extra++;
        }
        if (extra)
            s = rg_error(RG_EDATA, "%s: %zu tensor%s not in the model (%s%s): a checkpoint of "
                         "another architecture? the model is '%s'", path, extra,
                         extra == 1 ? " is" : "s are", list, extra > 4 ? ", ..." : "",
                         rg_model_spec(m));
    }
    for (int i = 0; i < nd && s == RG_OK; i++) {
        size_t out, in;
        float *w, *b;
        s = rg_model_dense(m, i, &out, &in, &w, &b);
        if (s != RG_OK) break;
        memcpy(w, src[2 * i], out * in * sizeof(float));
        if (b) memcpy(b, src[2 * i + 1], out * sizeof(float));
    }
    rg_free(src);
    rg_free(used);
    return s;
}

rg_status rg_model_load_weights(rg_model *m, const char *path)
{
    rg_st *st;
    rg_status s = rg_st_read(path, &st);
    if (s != RG_OK) return s;
    s = rg_model_load_st(m, st);
    rg_st_free(st);
    return s;
}

/* A decimal size without sign, spaces or overflow. */
static int parse_size(const char *t, size_t *out)
{
    size_t v = 0;
    if (!*t) return 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9') return 0;
        if (!rg_mul_ok(v, 10, &v) || !rg_add_ok(v, (size_t)(*t - '0'), &v)) return 0;
    }
    *out = v;
    return 1;
}

/* The loss named in a checkpoint's metadata, if any. */
static rg_status set_loss(rg_model *m, const char *name, const char *path)
{
    if (!name) return RG_OK;
    for (int l = RG_LOSS_XENT; l <= RG_LOSS_MAE; l++)
        if (!strcmp(name, rg_loss_name((rg_loss)l))) {
            rg_status s = rg_model_set_loss(m, (rg_loss)l);
            return s == RG_OK ? RG_OK : rg_error_prefix(RG_EDATA, "%s: metadata \"loss\": ", path);
        }
    return rg_error(RG_EDATA, "%s: metadata \"loss\" is \"%s\", not crossentropy, bce, mse or mae", path, name);
}

/* The class names of metadata "classes" into m. */
static rg_status load_classes(rg_model *m, const char *path, const char *text)
{
    cJSON *a = cJSON_Parse(text);
    size_t n = (size_t)cJSON_GetArraySize(a), k = 0;
    const char **names = cJSON_IsArray(a) && n == rg_model_classes(m) ? rg_calloc(n ? n : 1, sizeof *names) : NULL;
    const cJSON *e, *list = names ? a : NULL;
    cJSON_ArrayForEach(e, list) {
        if (!cJSON_IsString(e)) break;
        names[k++] = e->valuestring;
    }
    rg_status s = names && k == n ? rg_model_set_classes(m, names, (int)n) : RG_EDATA;
    if (s)
        s = rg_error(RG_EDATA, "%s: metadata \"classes\" is not an array of %zu distinct class names, one "
                     "per class", path, rg_model_classes(m));
    rg_free(names);
    cJSON_Delete(a);
    return s;
}

/* What the model knows of its data (input.mean, input.std, "classes"). */
static rg_status load_meta(rg_model *m, const rg_st *st)
{
    const char *path = rg_st_path(st), *classes = rg_st_meta(st, "classes");
    int has_mean = rg_st_find(st, "input.mean") != NULL, has_std = rg_st_find(st, "input.std") != NULL;
    rg_status s = RG_OK;
    if (has_mean || has_std) {
        size_t shape[1] = { rg_model_inputs(m) }, nt = rg_st_count(st);
        unsigned char *used = rg_calloc(nt ? nt : 1, 1);
        const void *mean = NULL, *std = NULL;
        if (!used) return rg_error(RG_ENOMEM, "%s: out of memory", path);
        s = check_tensor(st, "input.mean", 1, shape, 0, &mean, used);
        if (!s) s = check_tensor(st, "input.std", 1, shape, 0, &std, used);
        rg_free(used);
        float *buf = s ? NULL : rg_malloc(2 * shape[0] * sizeof(float));
        if (!s && !buf) s = rg_error(RG_ENOMEM, "%s: out of memory", path);
        if (!s) {
            memcpy(buf, mean, shape[0] * sizeof(float));   /* the file's data may be unaligned */
            memcpy(buf + shape[0], std, shape[0] * sizeof(float));
            if (rg_model_set_standardize(m, buf, buf + shape[0]))
                s = rg_error_prefix(RG_EDATA, "%s: tensors input.mean, input.std: ", path);
        }
        rg_free(buf);
    }
    if (!s && classes) s = load_classes(m, path, classes);
    return s;
}

rg_status rg_model_load(const char *path, rg_model **out)
{
    *out = NULL;
    rg_st *st;
    rg_status s = rg_st_read(path, &st);
    if (s != RG_OK) return s;
    const char *format = rg_st_meta(st, "format");
    const char *spec = rg_st_meta(st, "spec");
    const char *inputs = rg_st_meta(st, "inputs");
    const char *loss = rg_st_meta(st, "loss");   /* absent before --loss: the model's own */
    size_t n_in = 0;
    rg_model *m = NULL;
    if (!format)
        s = rg_error(RG_EDATA, "%s: no \"format\" in the metadata: not a regula checkpoint "
                     "(train --init can still start from its weights if they match the model)", path);
    else if (strcmp(format, RG_CHECKPOINT_FORMAT) != 0)
        s = rg_error(RG_EDATA, "%s: unknown checkpoint format \"%s\" (this regula reads \"%s\")",
                     path, format, RG_CHECKPOINT_FORMAT);
    else if (!spec)
        s = rg_error(RG_EDATA, "%s: no \"spec\" in the metadata", path);
    else if (!inputs || !parse_size(inputs, &n_in) || n_in == 0)
        s = rg_error(RG_EDATA, "%s: metadata \"inputs\" is %s%s%s, not a positive integer", path,
                     inputs ? "\"" : "", inputs ? inputs : "missing", inputs ? "\"" : "");
    else if ((s = rg_model_create(spec, n_in, 0, &m)) != RG_OK)
        s = rg_error_prefix(s == RG_EUSAGE ? RG_EDATA : s, "%s: metadata \"spec\": ", path);
    else if ((s = set_loss(m, loss, path)) != RG_OK || (s = rg_model_load_st(m, st)) != RG_OK ||
             (s = load_meta(m, st)) != RG_OK) {
        rg_model_free(m);
        m = NULL;
    }
    rg_st_free(st);
    *out = m;
    return s;
}
