/*
 * dataset.c — the dataset object: construction from arrays, slicing,
 * accessors, and reading rows as floats.  The loaders (idx.c, csv.c) build
 * on it; sources.c, which turns a source string into a loader call, sits
 * above both.
 *
 * Invariant (see data.h): a dataset owns one n*d block of finite features,
 * floats or bytes read through a 256-entry table, and, optionally, n labels
 * in [0, RG_DATA_MAX_LABEL] or n finite regression targets (never both);
 * every constructor checks this before handing the object out, and every
 * failure frees what it allocated.  Rows leave
 * as floats only through row_get, the one place that reads both storages
 * (rg_dataset_prefetch only touches their bytes).
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

/* The dataset around x or u8 and y (all taken over, also on failure). */
static rg_status adopt(float *x, uint8_t *u8, int32_t *y, size_t n, size_t d, const char *name,
                       rg_dataset **out)
{
    rg_dataset *ds = rg_calloc(1, sizeof *ds);
    char *nm = rg_strdup(name ? name : "");
    if (!ds || !nm) {
        rg_free(ds);
        rg_free(nm);
        rg_free(x);
        rg_free(u8);
        rg_free(y);
        return rg_error(RG_ENOMEM, "%s: out of memory building the dataset", name ? name : "");
    }
    ds->n = n;
    ds->d = d;
    ds->x = x;
    ds->u8 = u8;
    atomic_init(&ds->xf, NULL);
    ds->y = y;
    ds->classes = rg_dataset_count_classes(y, n);
    ds->name = nm;
    *out = ds;
    return RG_OK;
}

rg_status rg_dataset_adopt(float *x, int32_t *y, size_t n, size_t d,
                           const char *name, rg_dataset **out)
{
    return adopt(x, NULL, y, n, d, name, out);
}

rg_status rg_dataset_adopt_bytes(uint8_t *u8, const float *lut, int32_t *y, size_t n, size_t d,
                                 const char *name, rg_dataset **out)
{
    rg_status s = adopt(NULL, u8, y, n, d, name, out);
    if (s != RG_OK) return s;
    rg_dataset *ds = *out;
    memcpy(ds->lut, lut, sizeof ds->lut);
    /* the table checked against the division a vector loop does instead */
    ds->div = 255.0f;
    for (int b = 0; b < 256; b++)
        if (memcmp(&(float){(float)b / ds->div}, &lut[b], sizeof(float))) ds->div = 0.0f;
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


/* Copies n floats (NULL in, NULL out); *ok = 0 when out of memory. */
static float *floats_dup(const float *v, size_t n, int *ok)
{
    if (!v) return NULL;
    float *c = rg_malloc(n * sizeof *c);
    if (c) memcpy(c, v, n * sizeof *c);
    else *ok = 0;
    return c;
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

rg_status rg_dataset_alloc_like(const rg_dataset *ds, size_t n, rg_dataset **out)
{
    rg_dataset *s;
    rg_status st;
    if (ds->u8) {
        size_t nd, ybytes;
        if (!rg_mul_ok(n, ds->d, &nd) || !rg_mul_ok(n, sizeof(int32_t), &ybytes))
            return rg_error(RG_ENOMEM, "%s: %zu samples of %zu features overflow the address space",
                            ds->name, n, ds->d);
        uint8_t *u8 = rg_malloc(nd ? nd : 1);
        int32_t *y = ds->y ? rg_malloc(ybytes ? ybytes : 1) : NULL;
        if (!u8 || (ds->y && !y)) {
            rg_free(u8);
            rg_free(y);
            return rg_error(RG_ENOMEM, "%s: cannot allocate %zu samples of %zu features", ds->name, n, ds->d);
        }
        st = rg_dataset_adopt_bytes(u8, ds->lut, y, n, ds->d, ds->name, &s);   /* div follows the table */
    } else {
        st = rg_dataset_alloc(n, ds->d, ds->y != NULL, ds->name, &s);
    }
    if (st) return st;
    /* A slice (say, a validation split) still has the classes of the data it
     * was cut from, even when some of them fall outside its rows. */
    s->classes = ds->classes;
    int ok = 1;
    s->mean = floats_dup(ds->mean, ds->d, &ok);
    s->std = floats_dup(ds->std, ds->d, &ok);
    st = ok ? names_dup(ds->names, ds->classes, ds->name, &s->names)
            : rg_error(RG_ENOMEM, "%s: out of memory copying the standardisation", ds->name);
    if (st == RG_OK && ds->t) st = rg_dataset_targets_alloc(s);
    if (st) {
        rg_dataset_free(s);
        return st;
    }
    *out = s;
    return RG_OK;
}

void rg_dataset_copy_row(rg_dataset *dst, size_t k, const rg_dataset *src, size_t i)
{
    size_t d = src->d;
    if (src->u8) memcpy(dst->u8 + k * d, src->u8 + i * d, d);
    else memcpy(dst->x + k * d, src->x + i * d, d * sizeof(float));
    if (src->y) dst->y[k] = src->y[i];
    if (src->t) dst->t[k] = src->t[i];
}

/* Row i as floats into out: the one reader of both storages.  A byte row
 * goes through the table (and the standardisation) exactly as the floats
 * it replaces were made, so every row reads bit for bit the same. */
static inline void row_get(const rg_dataset *ds, size_t i, float *restrict out)
{
    size_t d = ds->d;
    if (!ds->u8) {
        memcpy(out, ds->x + i * d, d * sizeof(float));
        return;
    }
    const uint8_t *restrict p = ds->u8 + i * d;
    float div = ds->div;
    if (div != 0.0f) {   /* the table's own values, computed 8 or 16 at a time */
        if (!ds->mean) for (size_t j = 0; j < d; j++) out[j] = (float)p[j] / div;
        else for (size_t j = 0; j < d; j++) out[j] = ((float)p[j] / div - ds->mean[j]) / ds->std[j];
        return;
    }
    if (!ds->mean) {
        for (size_t j = 0; j < d; j++) out[j] = ds->lut[p[j]];
        return;
    }
    for (size_t j = 0; j < d; j++) out[j] = (ds->lut[p[j]] - ds->mean[j]) / ds->std[j];
}

void rg_dataset_row(const rg_dataset *ds, size_t i, float *out) { row_get(ds, i, out); }

void rg_dataset_prefetch(const rg_dataset *ds, size_t i)
{
    size_t bytes = ds->d * rg_dataset_feature_bytes(ds);
    if (!bytes) return;
    const char *p = ds->u8 ? (const char *)(ds->u8 + i * ds->d) : (const char *)(ds->x + i * ds->d);
    for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b);
    __builtin_prefetch(p + bytes - 1);
}

void rg_dataset_gather(const rg_dataset *ds, const uint64_t *ids, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++) row_get(ds, (size_t)ids[i], out + i * ds->d);
}

const float *rg_dataset_rows_at(const rg_dataset *ds, size_t first, size_t count, float *buf)
{
    if (!ds->u8) return ds->x + first * ds->d;
    for (size_t i = 0; i < count; i++) row_get(ds, first + i, buf + i * ds->d);
    return buf;
}

rg_status rg_dataset_rows(const rg_dataset *ds, size_t start, size_t count, float *out)
{
    size_t end;
    if (!ds || (count && !out)) return rg_error(RG_EUSAGE, "rg_dataset_rows: NULL argument");
    if (!rg_add_ok(start, count, &end) || end > ds->n)
        return rg_error(RG_EUSAGE, "%s: %zu rows from row %zu are outside the %zu samples",
                        ds->name, count, start, ds->n);
    for (size_t i = 0; i < count; i++) row_get(ds, start + i, out + i * ds->d);
    return RG_OK;
}

size_t rg_dataset_feature_bytes(const rg_dataset *ds) { return !ds ? 0 : ds->u8 ? 1 : sizeof(float); }

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
    rg_status st = rg_dataset_alloc_like(ds, count, &s);
    if (st) return st;
    for (size_t i = 0; i < count; i++) rg_dataset_copy_row(s, i, ds, start + i);
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
    rg_free(ds->u8);
    rg_free(ds->mean);
    rg_free(ds->std);
    rg_free(atomic_load(&ds->xf));
    rg_free(ds->y);
    rg_free(ds->t);
    rg_free(ds->name);
    rg_free(ds);
}

size_t rg_dataset_size(const rg_dataset *ds) { return ds ? ds->n : 0; }
size_t rg_dataset_features(const rg_dataset *ds) { return ds ? ds->d : 0; }
int rg_dataset_classes(const rg_dataset *ds) { return ds ? ds->classes : 0; }
/* Bytes: a float copy of every row, made once.  Two threads that race
 * both build one; the first to publish wins and the other frees its own. */
const float *rg_dataset_x(const rg_dataset *ds)
{
    if (!ds || !ds->u8) return ds ? ds->x : NULL;
    float *xf = atomic_load(&((rg_dataset *)ds)->xf);
    if (xf) return xf;
    size_t bytes;
    if (!rg_mul_ok(ds->n * ds->d, sizeof(float), &bytes) || !(xf = rg_malloc(bytes ? bytes : 1))) return NULL;
    for (size_t i = 0; i < ds->n; i++) row_get(ds, i, xf + i * ds->d);
    float *none = NULL;
    if (atomic_compare_exchange_strong(&((rg_dataset *)ds)->xf, &none, xf)) return xf;
    rg_free(xf);
    return none;
}
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
    float *row = rg_malloc(d * sizeof *row);
    if (!acc || !row) {
        rg_free(acc);
        rg_free(row);
        return rg_error(RG_ENOMEM, "%s: out of memory for the moments of %zu features", ds->name, d);
    }
    /* two passes in double: the mean, then the squares about it */
    for (size_t i = 0; i < n; i++) {
        row_get(ds, i, row);
        for (size_t j = 0; j < d; j++) acc[j] += row[j];
    }
    for (size_t j = 0; j < d; j++) acc[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        row_get(ds, i, row);
        for (size_t j = 0; j < d; j++) {
            double e = row[j] - acc[j];
            acc[d + j] += e * e;
        }
    }
    for (size_t j = 0; j < d; j++) {
        double sd = sqrt(acc[d + j] / (double)n);
        mean[j] = (float)acc[j];
        /* a constant feature (or one too narrow for a float) is centred, not scaled */
        std[j] = sd > 0 && (float)sd >= 1e-30f ? (float)sd : 1.0f;
    }
    rg_free(acc);
    rg_free(row);
    return RG_OK;
}

/* Bytes standardised a second time: the rows become floats (one
 * standardisation is all a byte row can carry). */
static rg_status to_floats(rg_dataset *ds)
{
    const float *x = rg_dataset_x(ds);
    if (!x) return rg_error(RG_ENOMEM, "%s: out of memory for %zu samples of %zu features as floats",
                            ds->name, ds->n, ds->d);
    ds->x = atomic_exchange(&ds->xf, NULL);
    rg_free(ds->u8);
    rg_free(ds->mean);
    rg_free(ds->std);
    ds->u8 = NULL;
    ds->mean = ds->std = NULL;
    return RG_OK;
}

/* The first sample whose value overflows when standardised, as an error
 * (RG_OK if none).  Computed as row_get computes it. */
static rg_status check_standardize(const rg_dataset *ds, const float *mean, const float *std)
{
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->d; j++) {
            float v = ds->u8 ? ds->lut[ds->u8[i * ds->d + j]] : ds->x[i * ds->d + j];
            if (!isfinite((v - mean[j]) / std[j]))
                return rg_error(RG_EDATA, "%s: sample %zu, feature %zu: %g overflows a float when standardised "
                                "(mean %g, std %g)", ds->name, i + 1, j + 1, (double)v,
                                (double)mean[j], (double)std[j]);
        }
    return RG_OK;
}

rg_status rg_dataset_standardize(rg_dataset *ds, const float *mean, const float *std)
{
    if (!ds || !mean || !std) return rg_error(RG_EUSAGE, "rg_dataset_standardize: NULL argument");
    for (size_t j = 0; j < ds->d; j++)
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0))
            return rg_error(RG_EUSAGE, "%s: standardisation of feature %zu: mean %g, std %g", ds->name, j,
                            (double)mean[j], (double)std[j]);
    rg_status st = ds->mean ? to_floats(ds) : RG_OK;
    /* check first, then write: a sample that would overflow leaves ds as it was */
    if (st || (st = check_standardize(ds, mean, std))) return st;
    if (ds->u8) {   /* bytes: kept, and standardised as each row is read */
        ds->mean = rg_malloc(ds->d * sizeof(float));
        ds->std = rg_malloc(ds->d * sizeof(float));
        if (!ds->mean || !ds->std) {
            rg_free(ds->mean);
            rg_free(ds->std);
            ds->mean = ds->std = NULL;
            return rg_error(RG_ENOMEM, "%s: out of memory for the standardisation", ds->name);
        }
        memcpy(ds->mean, mean, ds->d * sizeof(float));
        memcpy(ds->std, std, ds->d * sizeof(float));
        float *xf = atomic_load(&ds->xf);   /* rg_dataset_x's copy follows */
        for (size_t i = 0; xf && i < ds->n; i++) row_get(ds, i, xf + i * ds->d);
        return RG_OK;
    }
    for (size_t i = 0; i < ds->n; i++)
        for (size_t j = 0; j < ds->d; j++) ds->x[i * ds->d + j] = (ds->x[i * ds->d + j] - mean[j]) / std[j];
    return RG_OK;
}
