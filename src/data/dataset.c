/*
 * dataset.c — the dataset object: construction from arrays, slicing,
 * accessors.  The loaders (idx.c, csv.c) build on it; sources.c, which
 * turns a source string into a loader call, sits above both.
 *
 * Invariant (see data.h): a dataset owns one n*d float block of finite
 * values and, optionally, n labels in [0, RG_DATA_MAX_LABEL] or n finite
 * regression targets (never both); every
 * constructor checks this before handing the object out, and every failure
 * frees what it allocated.
 */
#include "data/data.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>


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

rg_status rg_dataset_targets_alloc(rg_dataset *ds)
{
    size_t bytes;
    if (!rg_mul_ok(ds->n, sizeof(float), &bytes) || !(ds->t = rg_malloc(bytes ? bytes : 1)))
        return rg_error(RG_ENOMEM, "%s: cannot allocate %zu targets", ds->name, ds->n);
    return RG_OK;
}

rg_status rg_dataset_from_targets(const float *x, const float *t, size_t n, size_t d, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_from_targets: out is NULL");
    *out = NULL;
    if (n && !t) return rg_error(RG_EUSAGE, "rg_dataset_from_targets: t is NULL for %zu samples", n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(t[i]))
            return rg_error(RG_EDATA, "rg_dataset_from_targets: non-finite target %g at row %zu", (double)t[i], i);
    rg_dataset *ds;
    rg_status s = rg_dataset_from_arrays(x, NULL, n, d, &ds);
    if (s == RG_OK && (s = rg_dataset_targets_alloc(ds)) != RG_OK) rg_dataset_free(ds);
    if (s != RG_OK) return s;
    if (n) memcpy(ds->t, t, n * sizeof(float));
    *out = ds;
    return RG_OK;
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

/* A copy of n class names into *out (NULL for none). */
static rg_status names_dup(char *const *names, int n, const char *what, char ***out)
{
    *out = NULL;
    if (!names || n <= 0) return RG_OK;
    char **c = rg_strv_dup((const char *const *)names, n);
    if (!c) return rg_error(RG_ENOMEM, "%s: out of memory copying %d class names", what, n);
    *out = c;
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
    if (ds->t && (st = rg_dataset_targets_alloc(s)) != RG_OK) {
        rg_dataset_free(s);
        return st;
    }
    if (ds->t && count) memcpy(s->t, ds->t + start, count * sizeof(float));
    /* A slice (say, a validation split) still has the classes of the data it
     * was cut from, even when some of them fall outside its rows. */
    s->classes = ds->classes;
    if ((st = names_dup(ds->names, ds->classes, ds->name, &s->names))) {
        rg_dataset_free(s);
        return st;
    }
    *out = s;
    return RG_OK;
}

rg_status rg_dataset_names_copy(rg_dataset *dst, const rg_dataset *src)
{
    return names_dup(src->names, src->classes, src->name, &dst->names);
}

void rg_dataset_free(rg_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; ds->names && i < ds->classes; i++) rg_free(ds->names[i]);
    rg_free(ds->names);
    rg_free(ds->x);
    rg_free(ds->y);
    rg_free(ds->t);
    rg_free(ds->name);
    rg_free(ds);
}

size_t rg_dataset_size(const rg_dataset *ds) { return ds ? ds->n : 0; }
size_t rg_dataset_features(const rg_dataset *ds) { return ds ? ds->d : 0; }
int rg_dataset_classes(const rg_dataset *ds) { return ds ? ds->classes : 0; }
const float *rg_dataset_x(const rg_dataset *ds) { return ds ? ds->x : NULL; }
const int32_t *rg_dataset_y(const rg_dataset *ds) { return ds ? ds->y : NULL; }
const float *rg_dataset_targets(const rg_dataset *ds) { return ds ? ds->t : NULL; }
const char *rg_dataset_name(const rg_dataset *ds) { return ds ? ds->name : ""; }

const char *rg_dataset_class_name(const rg_dataset *ds, int c)
{
    return ds && ds->names && c >= 0 && c < ds->classes ? ds->names[c] : NULL;
}

rg_status rg_dataset_moments(const rg_dataset *ds, float *mean, float *std)
{
    if (!ds || !mean || !std || !ds->n) return rg_error(RG_EUSAGE, "rg_dataset_moments: no samples");
    size_t n = ds->n, d = ds->d;
    double *acc = rg_calloc(2 * d, sizeof *acc);
    if (!acc) return rg_error(RG_ENOMEM, "%s: out of memory for the moments of %zu features", ds->name, d);
    /* two passes in double: the mean, then the squares about it */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) acc[j] += ds->x[i * d + j];
    for (size_t j = 0; j < d; j++) acc[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double e = ds->x[i * d + j] - acc[j];
            acc[d + j] += e * e;
        }
    for (size_t j = 0; j < d; j++) {
        double sd = sqrt(acc[d + j] / (double)n);
        mean[j] = (float)acc[j];
        /* a constant feature (or one too narrow for a float) is centred, not scaled */
        std[j] = sd > 0 && (float)sd >= 1e-30f ? (float)sd : 1.0f;
    }
    rg_free(acc);
    return RG_OK;
}

rg_status rg_dataset_standardize(rg_dataset *ds, const float *mean, const float *std)
{
    if (!ds || !mean || !std) return rg_error(RG_EUSAGE, "rg_dataset_standardize: NULL argument");
    for (size_t j = 0; j < ds->d; j++)
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0))
            return rg_error(RG_EUSAGE, "%s: standardisation of feature %zu: mean %g, std %g", ds->name, j,
                            (double)mean[j], (double)std[j]);
    /* check first, then write: a sample that would overflow leaves ds as it was */
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->d; j++)
            if (!isfinite((ds->x[i * ds->d + j] - mean[j]) / std[j]))
                return rg_error(RG_EDATA, "%s: sample %zu, feature %zu: %g overflows a float when standardised "
                                "(mean %g, std %g)", ds->name, i + 1, j + 1, (double)ds->x[i * ds->d + j],
                                (double)mean[j], (double)std[j]);
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->d; j++) ds->x[i * ds->d + j] = (ds->x[i * ds->d + j] - mean[j]) / std[j];
    return RG_OK;
}
