/*
 * data.h — layer 2 data, internal: the dataset struct the loaders fill.
 *
 * Invariant of every rg_dataset: its features are stored one of two ways.
 * Floats (CSV, arrays, IDX of wider types): x holds n*d finite floats, row i
 * sample i.  Bytes (IDX ubyte and sbyte: pixels): x is NULL, u8 holds the
 * n*d bytes as read and byte b stands for the float lut[b], the very float
 * the loader would have stored; when standardised, mean and std (d each)
 * are applied as rows are read, (lut[b] - mean[j]) / std[j], the expression
 * rg_dataset_standardize applies to floats, so a row reads bit for bit as
 * it would from floats.  Bytes take a quarter of the memory: Fashion-MNIST's
 * training images are 47 MB, not 188.  Nothing outside dataset.c reads u8:
 * rows come out as floats through rg_dataset_rows/_gather/_row.
 * y is NULL or holds n labels in [0, RG_DATA_MAX_LABEL], t is NULL or
 * holds n finite regression targets (and then y is NULL), classes is
 * max label + 1 (0 without labels; a slice keeps its parent's count) or,
 * when the labels were names, the number of names (names[c] is class c's),
 * and name is the file the rows came from.  Loaders validate before they build,
 * so nothing above the data layer rechecks.
 */
#ifndef RG_DATA_H
#define RG_DATA_H

#include "core/core.h"
#include <stdatomic.h>

/* Largest label accepted: every label stays exact as a float and
 * classes = max + 1 cannot overflow an int. */
#define RG_DATA_MAX_LABEL 16777215

struct rg_dataset {
    size_t n, d;
    float *x;      /* n*d, or NULL when stored as bytes */
    uint8_t *u8;   /* n*d bytes, or NULL when stored as floats */
    float lut[256];        /* bytes: byte b's value */
    float div;             /* bytes: lut[b] == (float)b / div for every b (the automatic
                              scale: 255), so rows convert in vector loops; else 0 */
    float *mean, *std;     /* bytes, standardised: d each, else NULL */
    _Atomic(float *) xf;   /* bytes: rg_dataset_x's float copy, made on its first call */
    int32_t *y;    /* n, or NULL */
    float *t;      /* n regression targets (finite), or NULL; y is then NULL */
    int classes;
    char **names;  /* classes class names (labels given as names), or NULL */
    char *name;
};

/* Allocates a dataset with uninitialised x (n*d) and, if labeled, y (n).
 * Returns RG_ENOMEM (message names `name`) on overflow or allocation failure. */
rg_status rg_dataset_alloc(size_t n, size_t d, int labeled, const char *name,
                           rg_dataset **out);
/* Builds a dataset around buffers already allocated with rg_malloc (taken
 * over, also on failure): x (n*d) and y (n, or NULL).  Sets classes from y. */
rg_status rg_dataset_adopt(float *x, int32_t *y, size_t n, size_t d,
                           const char *name, rg_dataset **out);
/* Gives ds (from rg_dataset_alloc, unlabeled) room for n targets (t),
 * uninitialised.  RG_ENOMEM naming the dataset. */
rg_status rg_dataset_targets_alloc(rg_dataset *ds);
/* A dataset around n*d bytes u8 (taken over, also on failure) read through
 * lut, and y (n, or NULL).  Sets classes from y. */
rg_status rg_dataset_adopt_bytes(uint8_t *u8, const float *lut, int32_t *y, size_t n, size_t d,
                                 const char *name, rg_dataset **out);
/* An empty dataset of n rows stored as ds is (floats or bytes, the same
 * lut and standardisation), labeled (or with targets) if ds is, with ds's
 * classes and names;
 * rows are filled with rg_dataset_copy_row. */
rg_status rg_dataset_alloc_like(const rg_dataset *ds, size_t n, rg_dataset **out);
/* Row i of src (features, label or target) into row k of dst (made by
 * rg_dataset_alloc_like(src)). */
void rg_dataset_copy_row(rg_dataset *dst, size_t k, const rg_dataset *src, size_t i);
/* Row i's d features as floats into out. */
void rg_dataset_row(const rg_dataset *ds, size_t i, float *out);
/* Asks the cache for row i's features ahead of rg_dataset_row: a batch's
 * rows are scattered over the set, and each read misses (a hint only). */
void rg_dataset_prefetch(const rg_dataset *ds, size_t i);
/* Rows ids[0..count) as floats into out (count x d). */
void rg_dataset_gather(const rg_dataset *ds, const uint64_t *ids, size_t count, float *out);
/* Rows [first, first + count) as floats: a pointer into the dataset when it
 * holds floats, else buf (count x d) filled. */
const float *rg_dataset_rows_at(const rg_dataset *ds, size_t first, size_t count, float *buf);
/* dst's class names: a copy of src's (dst->classes == src->classes). */
rg_status rg_dataset_names_copy(rg_dataset *dst, const rg_dataset *src);
/* max(y) + 1 over n labels (0 if y is NULL or n is 0). */
int rg_dataset_count_classes(const int32_t *y, size_t n);

#endif
