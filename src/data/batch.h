/*
 * batch.h — layer 2 data, internal: which samples each worker takes at each
 * step of an epoch.
 */
#ifndef RG_BATCH_H
#define RG_BATCH_H
#include "core/core.h"
#include "data/partition.h"

/* How a skewed partition's workers share each global batch. */
typedef enum {
    RG_WB_PROPORTIONAL,   /* worker k takes ~B*n_k/N of every batch: all parts end together */
    RG_WB_EQUAL           /* every worker takes floor(B/W) (at least 1) until its part runs dry */
} rg_worker_batch;

/* The epoch's order: ids[i] = base[i] (or i when base is NULL), for i <
 * n, then shuffled by Fisher-Yates driven by (seed, purpose, epoch, i)
 * unless shuffle is 0.  A pure function: every worker computes the same. */
void rg_epoch_order(uint64_t *ids, const uint64_t *base, size_t n, int shuffle, uint64_t seed, uint32_t purpose,
                    int epoch);

/* The steps of an epoch.  iid (parts NULL): global batch s is positions
 * [s*B, s*B + B_s) of the epoch's order, cut into contiguous near-equal
 * slices.  Skewed (parts given): worker k takes a window of its own
 * shuffled part at each step: about B*n_k/N of the batch (proportional:
 * every global batch sums to B and every part ends with the epoch) or
 * floor(B/W) samples (equal; the epoch lasts as long as the largest part). */
typedef struct rg_schedule {
    size_t n, batch;          /* training samples, global batch (<= n) */
    int workers;
    const rg_parts *parts;    /* NULL: iid */
    rg_worker_batch mode;
    uint64_t steps;           /* per epoch */
    size_t b_loc;             /* equal: each worker's share of a step */
    size_t *start;            /* proportional: start[k * (steps + 1) + s] */
} rg_schedule;

rg_status rg_schedule_make(rg_schedule *sc, size_t n, size_t batch, int workers, const rg_parts *parts,
                           rg_worker_batch mode);
void rg_schedule_free(rg_schedule *sc);
/* Samples all workers take at step s of an epoch (B_s). */
size_t rg_schedule_size(const rg_schedule *sc, uint64_t s);
/* Skewed: worker k's window [lo, hi) of its own part's order at step s. */
void rg_schedule_window(const rg_schedule *sc, int k, uint64_t s, size_t *lo, size_t *hi);
/* iid: slice `part` of `parts` of global batch s, as [lo, hi) of the epoch's order. */
void rg_schedule_slice(const rg_schedule *sc, uint64_t s, int part, int parts, size_t *lo, size_t *hi);
/* Samples of worker k's part (skewed), or 0 (iid). */
size_t rg_schedule_part_size(const rg_schedule *sc, int k);
#endif
