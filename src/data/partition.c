/*
 * partition.c — how training samples are spread over workers.
 *
 * A partition is a pure function of (dataset labels, spec, workers, seed):
 * every rank computes the same one, so no rank ever has to send another its
 * sample ids, and the sizes of every worker's part are known everywhere.
 *
 *   iid            no fixed owner: each epoch's global batch is split
 *                  across workers (MirroredStrategy); rg_partition_make
 *                  still returns an even contiguous split of a shuffle
 *   dirichlet:A    label skew: each class is split over workers in
 *                  proportions drawn from Dirichlet(A) (Hsu et al. 2019)
 *   quantity:A     quantity skew: worker sizes from Dirichlet(A), samples
 *                  drawn at random
 *   shards:K       sort by label, cut into workers*K shards, give each
 *                  worker K of them (McMahan et al. 2017)
 *
 * Draws use the keyed generator with purpose RG_RNG_SPLIT.
 */
#include "core/core.h"
#include "data/partition.h"
#include <math.h>
#include <string.h>

rg_status rg_partition_parse(const char *text, rg_partition *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    char *end = NULL;
    if (klen == 3 && !strncmp(text, "iid", 3) && !colon) { out->kind = RG_PART_IID; return RG_OK; }
    if (!colon || !colon[1])
        return rg_error(RG_EUSAGE, "--partition: '%s' is not one of iid, dirichlet:ALPHA, quantity:ALPHA, shards:K", text);
    if ((klen == 9 && !strncmp(text, "dirichlet", 9)) || (klen == 8 && !strncmp(text, "quantity", 8))) {
        out->kind = text[0] == 'd' ? RG_PART_DIRICHLET : RG_PART_QUANTITY;
        out->alpha = strtod(colon + 1, &end);
        if (*end || !isfinite(out->alpha) || out->alpha <= 0.0)
            return rg_error(RG_EUSAGE, "--partition %s: ALPHA must be a finite number > 0", text);
        return RG_OK;
    }
    if (klen == 6 && !strncmp(text, "shards", 6)) {
        out->kind = RG_PART_SHARDS;
        long k = strtol(colon + 1, &end, 10);
        if (*end || k < 1 || k > 1000000)
            return rg_error(RG_EUSAGE, "--partition %s: K must be an integer in [1, 1000000]", text);
        out->shards = (int)k;
        return RG_OK;
    }
    return rg_error(RG_EUSAGE, "--partition: '%s' is not one of iid, dirichlet:ALPHA, quantity:ALPHA, shards:K", text);
}

/* ------------------------------------------------------------ draws */

typedef struct { uint64_t seed; uint64_t stream; uint64_t i; } drawer;

static double draw_u(drawer *d)
{
    uint32_t r[4];
    rg_rng4(d->seed, RG_RNG_SPLIT, d->stream, d->i++, r);
    /* 53 random bits, in (0, 1) */
    uint64_t x = ((uint64_t)r[0] << 21) ^ (uint64_t)r[1];
    return ((double)(x & ((1ULL << 53) - 1)) + 0.5) / 9007199254740992.0;
}

static double draw_normal(drawer *d)
{
    double u1 = draw_u(d), u2 = draw_u(d);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* log of a Gamma(a, 1) draw: Marsaglia & Tsang, with the a < 1 boost
 * G(a) = G(a+1) U^(1/a) taken in logs — for a tiny alpha U^(1/a) underflows
 * to 0, and a Dirichlet of all-zero draws would fall back to an even split,
 * the opposite of the extreme skew asked for. */
static double draw_log_gamma(drawer *d, double a)
{
    if (a < 1.0) return draw_log_gamma(d, a + 1.0) + log(draw_u(d)) / a;
    double dd = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
    for (;;) {
        double x = draw_normal(d), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = draw_u(d);
        if (log(u) < 0.5 * x * x + dd - dd * v + dd * log(v)) return log(dd * v);
    }
}

static void draw_dirichlet(drawer *d, double alpha, int k, double *p)
{
    double mx = -INFINITY, s = 0.0;
    for (int i = 0; i < k; i++) { p[i] = draw_log_gamma(d, alpha); if (p[i] > mx) mx = p[i]; }
    for (int i = 0; i < k; i++) { p[i] = exp(p[i] - mx); s += p[i]; }
    for (int i = 0; i < k; i++) p[i] /= s;
}

static void shuffle(uint64_t *a, size_t n, drawer *d)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(draw_u(d) * (double)i);
        if (j >= i) j = i - 1;
        uint64_t t = a[i - 1]; a[i - 1] = a[j]; a[j] = t;
    }
}

/* Splits total into k counts proportional to p (largest remainders). */
static void apportion(size_t total, const double *p, int k, size_t *counts)
{
    size_t given = 0;
    for (int i = 0; i < k; i++) { counts[i] = (size_t)floor(p[i] * (double)total); given += counts[i]; }
    while (given < total) {
        int best = 0;
        double best_rem = -1.0;
        for (int i = 0; i < k; i++) {
            double rem = p[i] * (double)total - (double)counts[i];
            if (rem > best_rem) { best_rem = rem; best = i; }
        }
        counts[best]++;
        given++;
    }
}

/* ------------------------------------------------------------ partitions */

void rg_partition_free(rg_parts *p)
{
    if (!p) return;
    rg_free(p->ids);
    rg_free(p->offset);
    memset(p, 0, sizeof *p);
}

rg_status rg_partition_make(const int32_t *y, size_t n, int classes, const rg_partition *spec,
                            int workers, uint64_t seed, rg_parts *out)
{
    memset(out, 0, sizeof *out);
    if (workers < 1) return rg_error(RG_EUSAGE, "partition: %d workers", workers);
    if (spec->kind != RG_PART_IID && spec->kind != RG_PART_QUANTITY && !y)
        return rg_error(RG_EUSAGE, "--partition needs labels for label skew");
    size_t K = (size_t)workers;
    out->ids = rg_calloc(n ? n : 1, sizeof *out->ids);
    out->offset = rg_calloc(K + 1, sizeof *out->offset);
    size_t *counts = rg_calloc(K, sizeof *counts);
    double *p = rg_calloc(K, sizeof *p);
    uint64_t *tmp = NULL;
    size_t *class_n = NULL;
    rg_status st = RG_OK;
    if (!out->ids || !out->offset || !counts || !p) { st = rg_error(RG_ENOMEM, "out of memory partitioning"); goto done; }
    out->workers = workers;
    out->n = n;
    drawer d = { seed, 0, 0 };

    if (spec->kind == RG_PART_IID || spec->kind == RG_PART_QUANTITY) {
        for (size_t i = 0; i < n; i++) out->ids[i] = i;
        d.stream = 1;
        shuffle(out->ids, n, &d);
        if (spec->kind == RG_PART_IID) for (size_t k = 0; k < K; k++) p[k] = 1.0 / (double)K;
        else { d.stream = 2; d.i = 0; draw_dirichlet(&d, spec->alpha, workers, p); }
        apportion(n, p, workers, counts);
        for (size_t k = 0; k < K; k++) out->offset[k + 1] = out->offset[k] + counts[k];
    } else if (spec->kind == RG_PART_DIRICHLET) {
        /* per class: shuffle its samples, split by Dirichlet proportions */
        size_t C = (size_t)(classes > 0 ? classes : 1);
        class_n = rg_calloc(C + 1, sizeof *class_n);
        tmp = rg_calloc(n ? n : 1, sizeof *tmp);
        size_t *per = rg_calloc(C * K, sizeof *per);
        if (!class_n || !tmp || !per) { rg_free(per); st = rg_error(RG_ENOMEM, "out of memory partitioning"); goto done; }
        for (size_t i = 0; i < n; i++) class_n[(size_t)y[i] + 1]++;
        for (size_t c = 0; c < C; c++) class_n[c + 1] += class_n[c];
        size_t *fill = rg_calloc(C, sizeof *fill);
        if (!fill) { rg_free(per); st = rg_error(RG_ENOMEM, "out of memory partitioning"); goto done; }
        for (size_t i = 0; i < n; i++) { size_t c = (size_t)y[i]; tmp[class_n[c] + fill[c]++] = i; }
        rg_free(fill);
        for (size_t c = 0; c < C; c++) {
            size_t cn = class_n[c + 1] - class_n[c];
            d.stream = 16 + c; d.i = 0;
            shuffle(tmp + class_n[c], cn, &d);
            draw_dirichlet(&d, spec->alpha, workers, p);
            apportion(cn, p, workers, per + c * K);
        }
        for (size_t k = 0; k < K; k++) {
            size_t sum = 0;
            for (size_t c = 0; c < C; c++) sum += per[c * K + k];
            out->offset[k + 1] = out->offset[k] + sum;
        }
        /* worker k's part: its share of each class, class by class */
        for (size_t k = 0, at = 0; k < K; k++)
            for (size_t c = 0; c < C; c++) {
                size_t before = 0;
                for (size_t j = 0; j < k; j++) before += per[c * K + j];
                memcpy(out->ids + at, tmp + class_n[c] + before, per[c * K + k] * sizeof *tmp);
                at += per[c * K + k];
            }
        rg_free(per);
    } else { /* shards */
        size_t S = K * (size_t)spec->shards;
        if (S > n) { st = rg_error(RG_EUSAGE, "--partition shards:%d: %zu shards but only %zu samples", spec->shards, S, n); goto done; }
        /* stable sort by label: counting sort */
        size_t C = (size_t)(classes > 0 ? classes : 1);
        class_n = rg_calloc(C + 1, sizeof *class_n);
        tmp = rg_calloc(n, sizeof *tmp);
        uint64_t *order = rg_calloc(S, sizeof *order);
        if (!class_n || !tmp || !order) { rg_free(order); st = rg_error(RG_ENOMEM, "out of memory partitioning"); goto done; }
        for (size_t i = 0; i < n; i++) class_n[(size_t)y[i] + 1]++;
        for (size_t c = 0; c < C; c++) class_n[c + 1] += class_n[c];
        for (size_t i = 0; i < n; i++) tmp[class_n[(size_t)y[i]]++] = i;
        for (size_t s = 0; s < S; s++) order[s] = s;
        d.stream = 3;
        shuffle(order, S, &d);
        size_t at = 0;
        for (size_t k = 0; k < K; k++) {
            for (size_t j = 0; j < (size_t)spec->shards; j++) {
                size_t s = (size_t)order[k * (size_t)spec->shards + j];
                size_t lo = s * n / S, hi = (s + 1) * n / S;
                memcpy(out->ids + at, tmp + lo, (hi - lo) * sizeof *tmp);
                at += hi - lo;
            }
            out->offset[k + 1] = at;
        }
        rg_free(order);
    }
done:
    rg_free(counts);
    rg_free(p);
    rg_free(tmp);
    rg_free(class_n);
    if (st != RG_OK) rg_partition_free(out);
    return st;
}
