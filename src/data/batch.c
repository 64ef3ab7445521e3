/*
 * batch.c — the epoch's order and the schedule of which samples each worker
 * takes at each step.
 *
 * Everything here is a pure function of (sizes, seed, epoch, step): every
 * worker computes the same windows for every worker, so nobody sends
 * another its sample ids, and a resumed run finds the windows again from
 * its step counter.
 *
 * Proportional batches on a skewed partition: the epoch's N positions are
 * dealt out one at a time, each to the worker furthest behind its quota
 * t * n_k / N, and global batch s is positions [s*B, s*B + B).  So every
 * batch sums to B (the last the rest), worker k takes about B*n_k/N of
 * each (its count stays within about a sample of its quota: a stratified
 * sample of all the data), and every part ends with the epoch.
 * start[k][s] counts worker k's samples among the first s*B positions.
 */
#include "data/batch.h"
#include <string.h>

void rg_epoch_order(uint64_t *ids, const uint64_t *base, size_t n, int shuffle, uint64_t seed, uint32_t purpose,
                    int epoch)
{
    if (base) memcpy(ids, base, n * sizeof *ids);
    else for (size_t i = 0; i < n; i++) ids[i] = i;
    if (!shuffle) return;
    for (size_t i = n; i > 1; i--) {
        uint32_t r[4];
        rg_rng4(seed, purpose, (uint64_t)epoch, i - 1, r);
        uint64_t x = ((uint64_t)r[0] << 32) | r[1];
        size_t j = (size_t)(x % (uint64_t)i);
        uint64_t t = ids[i - 1]; ids[i - 1] = ids[j]; ids[j] = t;
    }
}

size_t rg_schedule_part_size(const rg_schedule *sc, int k)
{
    return sc->parts ? sc->parts->offset[k + 1] - sc->parts->offset[k] : 0;
}

/* ------------------------------------------------------ proportional shares */

/* Deals the epoch's N positions one at a time, each to the worker furthest
 * behind its quota ((t + 1) n_k / N - taken_k, exact in 128 bits; ties to
 * the lower worker; a finished part takes no more), and records every
 * part's count at each batch boundary.  O(N W) once per run. */
static rg_status proportional_starts(rg_schedule *sc)
{
    size_t W = (size_t)sc->workers, S = (size_t)sc->steps + 1, total;
    if (!rg_mul_ok(W, S, &total)) return rg_error(RG_ENOMEM, "batch schedule: %zu workers x %zu steps", W, S);
    size_t *next = rg_calloc(W, sizeof *next);
    sc->start = rg_calloc(total, sizeof *sc->start);
    if (!next || !sc->start) {
        rg_free(next);
        return rg_error(RG_ENOMEM, "out of memory: batch schedule of %zu workers x %zu steps", W, S);
    }
    unsigned __int128 N = sc->n;
    for (size_t pos = 0, s = 0;; pos++) {
        if (pos % sc->batch == 0 || pos == sc->n) {
            /* a batch boundary: every part's count so far */
            for (size_t k = 0; k < W; k++) sc->start[k * S + s] = next[k];
            if (++s == S) break;
        }
        size_t best = W;
        __int128 most = 0;
        for (size_t k = 0; k < W; k++) {
            size_t nk = rg_schedule_part_size(sc, (int)k);
            if (next[k] == nk) continue;
            __int128 behind = (__int128)((unsigned __int128)(pos + 1) * nk) - (__int128)(N * next[k]);
            if (best == W || behind > most) { best = k; most = behind; }
        }
        next[best]++;
    }
    rg_free(next);
    return RG_OK;
}

/* ------------------------------------------------------------ schedule */

rg_status rg_schedule_make(rg_schedule *sc, size_t n, size_t batch, int workers, const rg_parts *parts,
                           rg_worker_batch mode)
{
    memset(sc, 0, sizeof *sc);
    sc->n = n;
    sc->batch = batch < n ? batch : n;
    sc->workers = workers;
    sc->parts = parts;
    sc->mode = mode;
    if (sc->batch == 0) return rg_error(RG_EDATA, "no training samples");
    if (!parts || mode == RG_WB_PROPORTIONAL) {
        sc->steps = (n + sc->batch - 1) / sc->batch;
        return parts ? proportional_starts(sc) : RG_OK;
    }
    sc->b_loc = sc->batch / (size_t)workers ? sc->batch / (size_t)workers : 1;
    for (int k = 0; k < workers; k++) {
        uint64_t sk = (rg_schedule_part_size(sc, k) + sc->b_loc - 1) / sc->b_loc;
        if (sk > sc->steps) sc->steps = sk;
    }
    return RG_OK;
}

void rg_schedule_free(rg_schedule *sc)
{
    rg_free(sc->start);
    sc->start = NULL;
}

void rg_schedule_window(const rg_schedule *sc, int k, uint64_t s, size_t *lo, size_t *hi)
{
    if (sc->mode == RG_WB_PROPORTIONAL) {
        const size_t *st = sc->start + (size_t)k * (size_t)(sc->steps + 1);
        *lo = st[s];
        *hi = st[s + 1];
        return;
    }
    size_t n = rg_schedule_part_size(sc, k), a = (size_t)s * sc->b_loc;
    *lo = a < n ? a : n;
    *hi = a + sc->b_loc < n ? a + sc->b_loc : n;
}

size_t rg_schedule_size(const rg_schedule *sc, uint64_t s)
{
    if (!sc->parts || sc->mode == RG_WB_PROPORTIONAL) {
        size_t b0 = (size_t)s * sc->batch;
        return sc->n - b0 < sc->batch ? sc->n - b0 : sc->batch;
    }
    size_t total = 0, lo, hi;
    for (int k = 0; k < sc->workers; k++) {
        rg_schedule_window(sc, k, s, &lo, &hi);
        total += hi - lo;
    }
    return total;
}

void rg_schedule_slice(const rg_schedule *sc, uint64_t s, int part, int parts, size_t *lo, size_t *hi)
{
    size_t b0 = (size_t)s * sc->batch, nb = rg_schedule_size(sc, s);
    *lo = b0 + nb * (size_t)part / (size_t)parts;
    *hi = b0 + nb * (size_t)(part + 1) / (size_t)parts;
}
