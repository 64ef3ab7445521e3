/*
 * data.h — layer 2 data, internal: the dataset struct the loaders fill.
 *
 * Invariant of every rg_dataset: x holds n*d finite floats (row i is sample
 * i), y is NULL or holds n labels in [0, RG_DATA_MAX_LABEL], t is NULL or
 * holds n finite regression targets (and then y is NULL), classes is
 * max label + 1 (0 without labels; a slice keeps its parent's count) or,
 * when the labels were names, the number of names (names[c] is class c's),
 * and name is the file the rows came from.  Loaders validate before they build,
 * so nothing above the data layer rechecks.
 */
#ifndef RG_DATA_H
#define RG_DATA_H

#include "core/core.h"

/* Largest label accepted: every label stays exact as a float and
 * classes = max + 1 cannot overflow an int. */
#define RG_DATA_MAX_LABEL 16777215

struct rg_dataset {
    size_t n, d;
    float *x;      /* n*d */
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
/* dst's class names: a copy of src's (dst->classes == src->classes). */
rg_status rg_dataset_names_copy(rg_dataset *dst, const rg_dataset *src);
/* max(y) + 1 over n labels (0 if y is NULL or n is 0). */
int rg_dataset_count_classes(const int32_t *y, size_t n);

#endif
