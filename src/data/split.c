/*
 * split.c — --val-split: a validation set held out of the training data,
 * shuffled and stratified, as scikit-learn's train_test_split(stratify=y,
 * shuffle=True) does.  Keras' validation_split takes the last fraction
 * instead, which on a file sorted by label holds one class.
 *
 * Each class gives its share of the validation set (largest remainders, so
 * the shares add up to the size asked for; regression targets, or no
 * labels, are one group: shuffled, not stratified), its members chosen by a
 * Fisher-Yates shuffle keyed by (seed, RG_RNG_VALSPLIT, class, index): a
 * pure function of the data and the seed, never of the workers.  Both
 * parts keep the file's order.
 */
#include "data/data.h"
#include <math.h>
#include <string.h>

/* Rows of ds where pick[i] == want, in order, as a new dataset. */
static rg_status gather(const rg_dataset *ds, const unsigned char *pick, int want, size_t count, rg_dataset **out)
{
    rg_dataset *s;
    rg_status st = rg_dataset_alloc_like(ds, count, &s);
    if (st) return st;
    for (size_t i = 0, k = 0; i < ds->n; i++)
        if (pick[i] == want) rg_dataset_copy_row(s, k++, ds, i);
    *out = s;
    return RG_OK;
}

/* How many of each class's count[c] samples go to validation: n_val in all. */
static void shares(const size_t *count, size_t k, size_t n, size_t n_val, size_t *take)
{
    size_t given = 0;
    for (size_t c = 0; c < k; c++) {
        take[c] = (size_t)floor((double)count[c] * (double)n_val / (double)n);
        given += take[c];
    }
    /* the rest, one at a time, to the largest remainders (the lower class on ties) */
    while (given < n_val) {
        size_t best = k;
        double best_r = -1;
        for (size_t c = 0; c < k; c++) {
            double r = (double)count[c] * (double)n_val / (double)n - (double)take[c];
            if (take[c] < count[c] && r > best_r) best = c, best_r = r;
        }
        if (best == k) break;
        take[best]++;
        given++;
    }
}

rg_status rg_dataset_split(const rg_dataset *ds, size_t n_val, uint64_t seed, rg_dataset **train, rg_dataset **val)
{
    *train = *val = NULL;
    if (!ds || n_val == 0 || n_val >= ds->n)
        return rg_error(RG_EUSAGE, "rg_dataset_split: %zu of %zu samples leaves a part empty", n_val, ds ? ds->n : 0);
    size_t n = ds->n, k = ds->y && ds->classes > 0 ? (size_t)ds->classes : 1;
    size_t *count = rg_calloc(3 * k + 1, sizeof *count), *take = count + k, *start = take + k;
    size_t *order = rg_malloc(n * sizeof *order);
    unsigned char *pick = rg_calloc(n, 1);
    rg_status st = RG_OK;
    if (!count || !order || !pick) {
        st = rg_error(RG_ENOMEM, "%s: out of memory splitting %zu samples", ds->name, n);
        goto done;
    }
    /* the samples grouped by class, each group in file order */
    for (size_t i = 0; i < n; i++) count[ds->y ? (size_t)ds->y[i] : 0]++;
    for (size_t c = 1; c <= k; c++) start[c] = start[c - 1] + count[c - 1];
    for (size_t i = 0, *fill = take; i < n; i++) {
        size_t c = ds->y ? (size_t)ds->y[i] : 0;
        order[start[c] + fill[c]++] = i;
    }
    shares(count, k, n, n_val, take);
    for (size_t c = 0; c < k; c++) {
        size_t *g = order + start[c];
        for (size_t i = count[c]; i > 1; i--) {   /* Fisher-Yates, from the top */
            uint32_t r[4];
            rg_rng4(seed, RG_RNG_VALSPLIT, c, i, r);
            size_t j = (size_t)((((uint64_t)r[0] << 32) | r[1]) % i), t = g[i - 1];
            g[i - 1] = g[j];
            g[j] = t;
        }
        for (size_t i = 0; i < take[c]; i++) pick[g[i]] = 1;
    }
    if ((st = gather(ds, pick, 0, n - n_val, train)) == RG_OK && (st = gather(ds, pick, 1, n_val, val)) != RG_OK) {
        rg_dataset_free(*train);
        *train = NULL;
    }
done:
    rg_free(count);
    rg_free(order);
    rg_free(pick);
    return st;
}
