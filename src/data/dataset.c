/*
 * dataset.c — the dataset object: construction from arrays, slicing,
 * accessors, and rg_dataset_open, which turns a source string
 * ("fashion-mnist", "idx:DIR", "csv:FILE") into a loader call.
 *
 * Invariant (see data.h): a dataset owns one n*d float block of finite
 * values and, optionally, n labels in [0, RG_DATA_MAX_LABEL]; every
 * constructor checks this before handing the object out, and every failure
 * frees what it allocated.
 */
#include "data/data.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define RG_FASHION_MNIST_DEFAULT "/usr/share/datasets/fashion-mnist"

int rg_dataset_count_classes(const int32_t *y, size_t n)
{
    int32_t max = -1;
    if (!y) return 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] > max) max = y[i];
    return (int)max + 1;
}

rg_status rg_dataset_adopt(float *x, int32_t *y, size_t n, size_t d,
                           const char *name, rg_dataset **out)
{
    rg_dataset *ds = rg_calloc(1, sizeof *ds);
    char *nm = rg_strdup(name ? name : "");
    if (!ds || !nm) {
        rg_free(ds);
        rg_free(nm);
        rg_free(x);
        rg_free(y);
        return rg_error(RG_ENOMEM, "%s: out of memory building the dataset", name ? name : "");
    }
    ds->n = n;
    ds->d = d;
    ds->x = x;
    ds->y = y;
    ds->classes = rg_dataset_count_classes(y, n);
    ds->name = nm;
    *out = ds;
    return RG_OK;
}

rg_status rg_dataset_alloc(size_t n, size_t d, int labeled, const char *name,
                           rg_dataset **out)
{
    size_t nd, xbytes, ybytes;
    if (!rg_mul_ok(n, d, &nd) || !rg_mul_ok(nd, sizeof(float), &xbytes) ||
        !rg_mul_ok(n, sizeof(int32_t), &ybytes))
        return rg_error(RG_ENOMEM, "%s: %zu samples of %zu features overflow the address space",
                        name, n, d);
    float *x = rg_malloc(xbytes);
    rg_advise_hugepages(x, xbytes);
    int32_t *y = labeled ? rg_malloc(ybytes) : NULL;
    if (!x || (labeled && !y)) {
        rg_free(x);
        rg_free(y);
        return rg_error(RG_ENOMEM, "%s: cannot allocate %zu samples of %zu features",
                        name, n, d);
    }
    return rg_dataset_adopt(x, y, n, d, name, out);
}

rg_status rg_dataset_from_arrays(const float *x, const int32_t *y, size_t n,
                                 size_t d, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_from_arrays: out is NULL");
    *out = NULL;
    if (d == 0) return rg_error(RG_EUSAGE, "rg_dataset_from_arrays: a dataset needs at least one feature");
    if (n && !x) return rg_error(RG_EUSAGE, "rg_dataset_from_arrays: x is NULL for %zu samples", n);
    size_t nd;
    if (!rg_mul_ok(n, d, &nd))
        return rg_error(RG_ENOMEM, "rg_dataset_from_arrays: %zu x %zu overflows", n, d);
    /* Check before allocating: callers learn the first bad value. */
    for (size_t k = 0; k < nd; k++)
        if (!isfinite(x[k]))
            return rg_error(RG_EDATA, "rg_dataset_from_arrays: non-finite feature %g at row %zu, feature %zu",
                            (double)x[k], k / d, k % d);
    if (y)
        for (size_t i = 0; i < n; i++)
            if (y[i] < 0 || y[i] > RG_DATA_MAX_LABEL)
                return rg_error(RG_EUSAGE, "rg_dataset_from_arrays: label %ld at row %zu is outside [0, %d]",
                                (long)y[i], i, RG_DATA_MAX_LABEL);
    rg_dataset *ds;
    rg_status s = rg_dataset_alloc(n, d, y != NULL, "(arrays)", &ds);
    if (s) return s;
    if (nd) memcpy(ds->x, x, nd * sizeof(float));
    if (y && n) memcpy(ds->y, y, n * sizeof(int32_t));
    ds->classes = rg_dataset_count_classes(ds->y, n);
    *out = ds;
    return RG_OK;
}

rg_status rg_dataset_slice(const rg_dataset *ds, size_t start, size_t count,
                           rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_slice: out is NULL");
    *out = NULL;
    if (!ds) return rg_error(RG_EUSAGE, "rg_dataset_slice: dataset is NULL");
    size_t end;
    if (!rg_add_ok(start, count, &end) || end > ds->n)
        return rg_error(RG_EUSAGE, "%s: a slice of %zu rows from row %zu is outside the %zu samples",
                        ds->name, count, start, ds->n);
    rg_dataset *s;
    rg_status st = rg_dataset_alloc(count, ds->d, ds->y != NULL, ds->name, &s);
    if (st) return st;
    if (count) memcpy(s->x, ds->x + start * ds->d, count * ds->d * sizeof(float));
    if (ds->y && count) memcpy(s->y, ds->y + start, count * sizeof(int32_t));
    /* A slice (say, a validation split) still has the classes of the data it
     * was cut from, even when some of them fall outside its rows. */
    s->classes = ds->classes;
    *out = s;
    return RG_OK;
}

void rg_dataset_free(rg_dataset *ds)
{
    if (!ds) return;
    rg_free(ds->x);
    rg_free(ds->y);
    rg_free(ds->name);
    rg_free(ds);
}

size_t rg_dataset_size(const rg_dataset *ds) { return ds ? ds->n : 0; }
size_t rg_dataset_features(const rg_dataset *ds) { return ds ? ds->d : 0; }
int rg_dataset_classes(const rg_dataset *ds) { return ds ? ds->classes : 0; }
const float *rg_dataset_x(const rg_dataset *ds) { return ds ? ds->x : NULL; }
const int32_t *rg_dataset_y(const rg_dataset *ds) { return ds ? ds->y : NULL; }
const char *rg_dataset_name(const rg_dataset *ds) { return ds ? ds->name : ""; }

/* ------------------------------------------------------------ sources */

/* NULL when path is a directory, else why not. */
static const char *dir_problem(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return strerror(errno);
    return S_ISDIR(st.st_mode) ? NULL : "not a directory";
}

/* dir/base.gz if it exists, else dir/base; RG_EIO naming both if neither. */
static rg_status find_idx_file(const char *label, const char *dir, const char *base,
                               char *buf, size_t cap)
{
    struct stat st;
    if ((size_t)snprintf(buf, cap, "%s/%s.gz", dir, base) >= cap)
        return rg_error(RG_EUSAGE, "%s: directory name too long: %s", label, dir);
    if (stat(buf, &st) == 0) return RG_OK;
    snprintf(buf, cap, "%s/%s", dir, base);
    if (stat(buf, &st) == 0) return RG_OK;
    return rg_error(RG_EIO, "%s: cannot open %s/%s.gz or %s/%s: %s",
                    label, dir, base, dir, base, strerror(errno));
}

static rg_status open_idx_dir(const char *label, const char *dir, const char *split,
                              float scale, rg_dataset **out)
{
    const char *pre = strcmp(split, "train") == 0 ? "train" : "t10k";
    char images[4096], labels[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
    rg_status s = find_idx_file(label, dir, base, images, sizeof images);
    if (s) return s;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
    s = find_idx_file(label, dir, base, labels, sizeof labels);
    if (s) return s;
    return rg_dataset_load_idx(images, labels, scale, out);
}

rg_status rg_dataset_open(const char *source, const char *split,
                          const rg_data_opts *opts, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_open: out is NULL");
    *out = NULL;
    if (!source || !*source) return rg_error(RG_EUSAGE, "no data source given (expected fashion-mnist, idx:DIR or csv:FILE)");
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
        return rg_error(RG_EUSAGE, "%s: unknown split \"%s\" (expected train or test)",
                        source, split ? split : "(null)");
    float scale = opts ? opts->scale : 0.0f;

    if (strcmp(source, "fashion-mnist") == 0) {
        const char *env = getenv("REGULA_FASHION_MNIST_DIR");
        const char *dir = env && *env ? env : RG_FASHION_MNIST_DEFAULT;
        const char *why = dir_problem(dir);
        if (why)
            return rg_error(RG_EIO, "fashion-mnist: directory %s not found (%s); install Debian's "
                            "dataset-fashion-mnist package (apt install dataset-fashion-mnist) "
                            "or set REGULA_FASHION_MNIST_DIR", dir, why);
        return open_idx_dir(source, dir, split, scale, out);
    }
    if (strncmp(source, "idx:", 4) == 0) {
        const char *dir = source + 4;
        if (!*dir) return rg_error(RG_EUSAGE, "%s: missing directory after idx:", source);
        const char *why = dir_problem(dir);
        if (why) return rg_error(RG_EIO, "%s: directory %s not found (%s)", source, dir, why);
        return open_idx_dir(source, dir, split, scale, out);
    }
    if (strncmp(source, "csv:", 4) == 0) {
        if (!source[4]) return rg_error(RG_EUSAGE, "%s: missing file name after csv:", source);
        if (strcmp(split, "test") == 0)
            return rg_error(RG_EUSAGE, "%s: csv sources have no test split; use --test-data", source);
        return rg_dataset_load_csv(source + 4, opts, out);
    }
    /* A bare path is the likeliest slip: say which prefix it wants. */
    size_t len = strlen(source);
    const char *hint = len > 4 && strcmp(source + len - 4, ".csv") == 0 ? "csv:"
                     : !dir_problem(source) ? "idx:" : NULL;
    return rg_error(RG_EUSAGE, "unknown data source \"%s\" (expected fashion-mnist, idx:DIR or "
                    "csv:FILE)%s%s%s%s", source, hint ? "; did you mean " : "", hint ? hint : "",
                    hint ? source : "", hint ? "?" : "");
}
