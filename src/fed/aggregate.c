/*
 * aggregate.c — the server's rules for combining client updates (see
 * aggregate.h for the list and the tie rules).
 *
 * Every rule is a pure function of (updates, weights, spec): sums run in
 * double in a fixed order (client index, or sorted order for the median
 * and the trimmed mean), so the result's bits do not depend on who calls
 * or on how many threads exist.  The coordinate-wise rules gather one
 * coordinate of every update into a column and sort it; Krum computes the
 * n x n matrix of squared distances once.
 */
#include "fed/aggregate.h"
#include <math.h>
#include <string.h>

#define AGG_CHOICES "mean, median, trimmed:BETA, krum:F, multikrum:F,M"

static rg_status parse_int(const char *s, const char *text, const char *what, char stop, int *out, const char **end)
{
    char *e = NULL;
    long v = strtol(s, &e, 10);
    if (e == s || *e != stop || v < 0 || v > 1000000)
        return rg_error(RG_EUSAGE, "--aggregate %s: %s must be an integer in [0, 1000000]", text, what);
    *out = (int)v;
    *end = e;
    return RG_OK;
}

rg_status rg_agg_parse(const char *text, rg_agg_spec *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(text, ':'), *end = NULL;
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    if (!colon && !strcmp(text, "mean")) { out->kind = RG_AGG_MEAN; return RG_OK; }
    if (!colon && !strcmp(text, "median")) { out->kind = RG_AGG_MEDIAN; return RG_OK; }
    if (colon && klen == 7 && !strncmp(text, "trimmed", 7)) {
        char *e = NULL;
        out->kind = RG_AGG_TRIMMED;
        out->beta = strtod(colon + 1, &e);
        if (e == colon + 1 || *e || !(out->beta >= 0.0 && out->beta < 0.5))
            return rg_error(RG_EUSAGE, "--aggregate %s: BETA must be a number in [0, 0.5)", text);
        return RG_OK;
    }
    if (colon && klen == 4 && !strncmp(text, "krum", 4)) {
        out->kind = RG_AGG_KRUM;
        out->m = 1;
        return parse_int(colon + 1, text, "F", '\0', &out->f, &end);
    }
    if (colon && klen == 9 && !strncmp(text, "multikrum", 9)) {
        out->kind = RG_AGG_MULTIKRUM;
        if (!strchr(colon + 1, ','))
            return rg_error(RG_EUSAGE, "--aggregate %s: multikrum takes F,M (attackers tolerated, updates averaged)", text);
        rg_status s = parse_int(colon + 1, text, "F", ',', &out->f, &end);
        if (s == RG_OK) s = parse_int(end + 1, text, "M", '\0', &out->m, &end);
        if (s == RG_OK && out->m < 1)
            return rg_error(RG_EUSAGE, "--aggregate %s: M must be at least 1", text);
        return s;
    }
    return rg_error(RG_EUSAGE, "--aggregate: '%s' is not one of " AGG_CHOICES, text);
}

static const char *agg_name(rg_agg_kind k)
{
    static const char *const names[] = { "mean", "median", "trimmed", "krum", "multikrum" };
    return names[k];
}

rg_status rg_agg_check(const rg_agg_spec *a, int n)
{
    if (n < 1)
        return rg_error(RG_EUSAGE, "--aggregate %s: a round has no client update to aggregate", agg_name(a->kind));
    if (a->kind == RG_AGG_TRIMMED) {
        long cut = (long)floor(a->beta * n);
        if (2 * cut >= n)
            return rg_error(RG_EUSAGE, "--aggregate trimmed:%g: cutting %ld from each end of %d updates leaves none "
                            "(needs 2*floor(BETA*n) < n)", a->beta, cut, n);
    }
    if (a->kind == RG_AGG_KRUM || a->kind == RG_AGG_MULTIKRUM) {
        long need = 2L * a->f + 3;
        if (n < need)
            return rg_error(RG_EUSAGE, "--aggregate %s:%d%s: Krum's guarantee needs n >= 2F+3 = %ld client updates "
                            "a round, but a round has %d: sample more clients or lower F",
                            agg_name(a->kind), a->f, a->kind == RG_AGG_MULTIKRUM ? ",M" : "", need, n);
        if (a->kind == RG_AGG_MULTIKRUM && a->m > n - a->f)
            return rg_error(RG_EUSAGE, "--aggregate multikrum:%d,%d: M must be at most n-F = %d with %d updates a round",
                            a->f, a->m, n - a->f, n);
    }
    return RG_OK;
}

int rg_agg_needs_all(const rg_agg_spec *a)
{
    return a->kind != RG_AGG_MEAN;
}

/* ------------------------------------------------------------ mean */

static rg_status agg_mean(const float *const *u, const double *w, int n, size_t P, float *out)
{
    double W = 0.0;
    for (int i = 0; i < n; i++) {
        if (w && !(w[i] >= 0.0 && isfinite(w[i])))
            return rg_error(RG_EUSAGE, "--aggregate mean: client %d's weight (samples trained) is %g", i, w[i]);
        W += w ? w[i] : 1.0;
    }
    if (!(W > 0.0) || !isfinite(W))
        return rg_error(RG_EUSAGE, "--aggregate mean: the clients' weights (samples trained) sum to %g", W);
    for (size_t j = 0; j < P; j++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += (w ? w[i] : 1.0) * (double)u[i][j];
        out[j] = (float)(s / W);
    }
    return RG_OK;
}

/* ------------------------------------------------------------ median, trimmed */

/* By value (the values are finite).  Equal values are interchangeable:
 * even -0 and +0, since the sums below start from +0. */
static int cmp_float(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* The mean of the sorted column's middle: entries [lo, n-lo). */
static float column_middle(float *col, int n, int lo)
{
    qsort(col, (size_t)n, sizeof *col, cmp_float);
    double s = 0.0;
    for (int i = lo; i < n - lo; i++) s += (double)col[i];
    return (float)(s / (double)(n - 2 * lo));
}

static rg_status agg_sorted(const rg_agg_spec *a, const float *const *u, int n, size_t P, float *out)
{
    float *col = rg_malloc((size_t)n * sizeof *col);
    if (!col) return rg_error(RG_ENOMEM, "--aggregate: out of memory for a column of %d updates", n);
    /* median: the middle one (odd n) or two (even n); trimmed: all but the cut */
    int lo = a->kind == RG_AGG_MEDIAN ? (n - 1) / 2 : (int)floor(a->beta * n);
    for (size_t j = 0; j < P; j++) {
        for (int i = 0; i < n; i++) col[i] = u[i][j];
        out[j] = column_middle(col, n, lo);
    }
    rg_free(col);
    return RG_OK;
}

/* ------------------------------------------------------------ krum */

static double sqdist(const float *x, const float *y, size_t P)
{
    double s = 0.0;
    for (size_t j = 0; j < P; j++) {
        double d = (double)x[j] - (double)y[j];
        s += d * d;
    }
    return s;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* score[i]: the sum of the n-f-2 smallest squared distances from i to
 * the others.  d is n*n scratch. */
static void krum_scores(const float *const *u, int n, size_t P, int f, double *d, double *score)
{
    for (int i = 0; i < n; i++) {
        d[(size_t)i * n + i] = 0.0;
        for (int k = i + 1; k < n; k++)
            d[(size_t)i * n + k] = d[(size_t)k * n + i] = sqdist(u[i], u[k], P);
    }
    int near = n - f - 2;
    for (int i = 0; i < n; i++) {
        double *row = d + (size_t)i * n;
        row[i] = row[n - 1];            /* drop the distance to itself */
        qsort(row, (size_t)(n - 1), sizeof *row, cmp_double);
        double s = 0.0;
        for (int k = 0; k < near; k++) s += row[k];
        score[i] = s;
    }
}

rg_status rg_agg_krum_select(const rg_agg_spec *a, const float *const *u, int n, size_t P, int *sel, double *score)
{
    size_t nn;
    if (!rg_mul_ok((size_t)n, (size_t)n + 1, &nn) || !rg_mul_ok(nn, sizeof(double), &nn))
        return rg_error(RG_ENOMEM, "--aggregate: %d updates overflow Krum's distance matrix", n);
    double *d = rg_malloc(nn);
    if (!d) return rg_error(RG_ENOMEM, "--aggregate: out of memory for Krum's %d x %d distances", n, n);
    double *sc = d + (size_t)n * n;
    krum_scores(u, n, P, a->f, d, sc);
    int k = a->kind == RG_AGG_KRUM ? 1 : a->m;
    for (int t = 0; t < k; t++) {       /* selection: k is small */
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int s = 0; s < t; s++) taken |= sel[s] == i;
            if (!taken && (best < 0 || sc[i] < sc[best])) best = i;
        }
        sel[t] = best;
    }
    if (score) memcpy(score, sc, (size_t)n * sizeof *score);
    rg_free(d);
    return RG_OK;
}

static int cmp_int(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

static rg_status agg_krum(const rg_agg_spec *a, const float *const *u, int n, size_t P, float *out)
{
    int *sel = rg_malloc((size_t)n * sizeof *sel);
    if (!sel) return rg_error(RG_ENOMEM, "--aggregate: out of memory");
    rg_status s = rg_agg_krum_select(a, u, n, P, sel, NULL);
    int k = a->kind == RG_AGG_KRUM ? 1 : a->m;
    if (s == RG_OK) {
        qsort(sel, (size_t)k, sizeof *sel, cmp_int);  /* sum in client order */
        for (size_t j = 0; j < P; j++) {
            double acc = 0.0;
            for (int t = 0; t < k; t++) acc += (double)u[sel[t]][j];
            out[j] = (float)(acc / k);
        }
    }
    rg_free(sel);
    return s;
}

/* ------------------------------------------------------------ entry */

static rg_status check_finite(const float *const *u, int n, size_t P)
{
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < P; j++)
            if (!isfinite(u[i][j]))
                return rg_error(RG_ENONFINITE, "--aggregate: the update of client %d (of %d this round) is %g at "
                                "coordinate %zu", i, n, (double)u[i][j], j);
    return RG_OK;
}

rg_status rg_aggregate(const rg_agg_spec *a, const float *const *u, const double *w, int n, size_t P, float *out)
{
    rg_status s = rg_agg_check(a, n);
    if (s == RG_OK) s = check_finite(u, n, P);
    if (s != RG_OK) return s;
    switch (a->kind) {
    case RG_AGG_MEAN: return agg_mean(u, w, n, P, out);
    case RG_AGG_MEDIAN:
    case RG_AGG_TRIMMED: return agg_sorted(a, u, n, P, out);
    case RG_AGG_KRUM:
    case RG_AGG_MULTIKRUM: return agg_krum(a, u, n, P, out);
    }
    RG_ASSERT(0);
    return RG_EUSAGE;
}
