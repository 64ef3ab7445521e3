/*
 * server.c — the server's side of a federated round: the aggregation of
 * the clients' updates, and the summaries of their figures.
 *
 * The mean is weighted by the samples each client trained on: every
 * worker holds sum_c n_c (w_c - w_g) over its clients, one all-reduce
 * sums them, and the total weight is known to every worker from the
 * round's plan.  Under --deterministic the order of that sum must not
 * depend on who trained whom, so each client's weighted update is
 * gathered (an all-gather of one slot per client) and summed in the
 * order of the clients: the same bits for any worker count.
 *
 * A robust rule (--aggregate median, trimmed mean, Krum) needs every
 * client's update, not their sum: it takes the deterministic path's
 * gathered slots (rg_fed_agg.all, client j in slot j / W of worker j mod
 * W) of the clients that reported, and aggregate.c combines them.  So
 * does DP-FedAvg (--dp-clip): the clipped updates summed, each once, the
 * noise added to the sum, over the clients sampled (a fixed denominator:
 * who reported does not change the scale).
 *
 * A round with no report (every sampled client dropped out or owns no
 * sample), or too few for the rule, is kept: the server takes no step.
 */
#include "fed/fed.h"
#include "fed/dp.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double total_weight(const rg_round *r)
{
    double n = 0.0;
    for (size_t j = 0; j < r->m; j++) n += (double)r->trained[j];
    return n;
}

const float *rg_fed_client_update(const rg_fed_agg *a, size_t j)
{
    size_t k = j % (size_t)a->W, i = j / (size_t)a->W;
    return a->all + (k * a->per + i) * a->P;
}

/* the clients' updates from the gathered slots, weighted, added in client order */
static void sum_gathered(const rg_fed_agg *a, const rg_round *r, float *delta)
{
    memset(delta, 0, a->P * sizeof *delta);
    for (size_t j = 0; j < r->m; j++) {
        if (!r->trained[j]) continue;
        const float *u = rg_fed_client_update(a, j);
        float n = (float)r->trained[j];
        for (size_t q = 0; q < a->P; q++) delta[q] += n * u[q];
    }
}

int rg_fed_per_client(const rg_fed_setup *f)
{
    return rg_agg_needs_all(&f->agg) || f->attack.kind == RG_ATTACK_SIGNFLIP || f->attack.kind == RG_ATTACK_NOISE ||
           f->dp_clip > 0.0;
}

/* --aggregate other than mean: the rule over the clients that reported;
 * too few of them for it (dropouts, empty parts), the global model is kept. */
static rg_status robust(rg_fed_agg *a, const rg_round *r, float *delta)
{
    const float **u = rg_calloc(r->m ? r->m : 1, sizeof *u);
    if (!u) return rg_error(RG_ENOMEM, "out of memory: a round's %zu updates", r->m);
    int n = 0;
    for (size_t j = 0; j < r->m; j++)
        if (r->trained[j]) u[n++] = rg_fed_client_update(a, j);
    const rg_agg_spec *s = &a->f->agg;
    int enough = rg_agg_check(s, n) == RG_OK;
    rg_status st = RG_OK;
    if (!enough) rg_clear_error();   /* not an error: the round keeps the model */
    a->kept = !enough;
    if (enough) st = rg_aggregate(s, u, NULL, n, a->P, delta);
    else memset(delta, 0, a->P * sizeof *delta);
    rg_free(u);
    return st;
}

/* DP-FedAvg: the clipped updates summed, each once, plus the noise, over m. */
static void private_mean(const rg_fed_agg *a, const rg_round *r, float *delta)
{
    memset(delta, 0, a->P * sizeof *delta);
    for (size_t j = 0; j < r->m; j++) {
        if (!r->trained[j]) continue;
        const float *u = rg_fed_client_update(a, j);
        for (size_t q = 0; q < a->P; q++) delta[q] += u[q];
    }
    rg_dp_noise(delta, a->P, a->f->dp_noise * a->f->dp_clip, a->seed, r->round);
    float inv = (float)(1.0 / (double)r->m);
    for (size_t q = 0; q < a->P; q++) delta[q] *= inv;
}

rg_status rg_fed_aggregate(rg_fed_agg *a, const rg_round *r, float *delta, double *bytes)
{
    double n = total_weight(r), W = (double)a->W, P = (double)a->P;
    rg_status st = RG_OK;
    a->kept = n == 0.0;   /* no client reported: nothing to aggregate, the model is kept */
    if (a->deterministic) {
        if (a->W > 1) {
            st = rg_comm_allgather(a->comm, a->slots, a->per * a->P, a->all);
            *bytes += (W - 1.0) * (double)a->per * P * sizeof(float);
        } else {
            memcpy(a->all, a->slots, a->per * a->P * sizeof(float));
        }
        if (st == RG_OK && a->f && rg_agg_needs_all(&a->f->agg)) return robust(a, r, delta);
        if (st == RG_OK && a->f && a->f->dp_clip > 0.0) {
            private_mean(a, r, delta);
            return RG_OK;
        }
        if (st == RG_OK) sum_gathered(a, r, delta);
    } else {
        if (a->W > 1) {
            st = rg_comm_allreduce(a->comm, a->sum, a->P, RG_REDUCE_SUM);
            *bytes += 2.0 * (W - 1.0) / W * P * sizeof(float);
        }
        memcpy(delta, a->sum, a->P * sizeof *delta);
    }
    if (st != RG_OK) return st;
    float inv = n > 0.0 ? (float)(1.0 / n) : 0.0f;
    for (size_t q = 0; q < a->P; q++) delta[q] *= inv;
    return RG_OK;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void rg_fed_summarise(const double *v, size_t n, int low_worse, double *scratch, rg_fed_summary *out)
{
    *out = (rg_fed_summary){ NAN, NAN, NAN };
    if (n == 0) return;
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    memcpy(scratch, v, n * sizeof *v);
    qsort(scratch, n, sizeof *scratch, cmp_desc);
    size_t k = (n + 9) / 10;   /* the worst 10%, at least one */
    double w = 0.0;
    for (size_t i = 0; i < k; i++) w += scratch[low_worse ? n - 1 - i : i];
    *out = (rg_fed_summary){ mean, sqrt(ss / (double)n), w / (double)k };
}
