/*
 * round.c — the plan of a federated round: which clients take part, how
 * many local steps each takes, which worker trains each, and in what
 * order each worker takes its samples.
 *
 * Everything is a pure function of (seed, round, the partition, the
 * batch, the worker count): every worker computes the same plan, nobody
 * sends another its sample ids, and a resumed run finds the round again
 * from its number.  Which clients are drawn and what each trains on never
 * depend on the worker count; only who trains them does (sampled client
 * j goes to worker j mod W).
 *
 * A client's local steps: local epoch e takes its samples reshuffled by
 * (seed, round, client, e) in batches of b = min(--batch, n_c), the last
 * one smaller; --local-epochs E takes E such epochs, --local-steps S the
 * first S batches of as many epochs as they need.
 */
#include "fed/fed.h"
#include "fed/hetero.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t rg_fed_sampled(const rg_fed_setup *f)
{
    double m = floor(f->sample * (double)f->clients + 0.5);
    if (m < 1.0) m = 1.0;
    return m > (double)f->clients ? (size_t)f->clients : (size_t)m;
}

static size_t part_size(const rg_parts *p, uint32_t c) { return p->offset[c + 1] - p->offset[c]; }

/* Steps client c takes: its batches per local epoch times the epochs, or
 * --local-steps (none without samples). */
static uint64_t client_steps(const rg_fed_setup *f, size_t n, size_t b)
{
    if (n == 0) return 0;
    size_t bb = b < n ? b : n, spe = (n + bb - 1) / bb;
    return f->local_steps > 0 ? (uint64_t)f->local_steps : (uint64_t)f->local_epochs * spe;
}

/* The samples `steps` local batches of a client of n hold. */
static uint64_t steps_trained(uint64_t steps, size_t n, size_t b)
{
    if (n == 0) return 0;
    size_t bb = b < n ? b : n, spe = (n + bb - 1) / bb;
    uint64_t full = steps / spe, rest = steps % spe;
    return full * n + (rest * bb < n ? rest * bb : n);
}

/* Sampled client j's work this round: none if it fails to report
 * (--client-dropout: it is as if it had not trained), a share of it if it
 * straggles (--straggler-frac), weighed by the samples it trained on. */
static void client_work(rg_round *r, size_t j, const rg_fed_setup *f, size_t n, size_t b, uint64_t seed)
{
    int c = (int)r->client[j];
    uint64_t steps = client_steps(f, n, b);
    if (steps && f->dropout > 0.0 && rg_fed_dropped(f->dropout, seed, r->round, c)) {
        r->dropped++;
        steps = 0;
    }
    double share = steps && f->straggler > 0.0 ? rg_fed_work_share(f->straggler, seed, r->round, c) : 1.0;
    if (share < 1.0) {
        r->stragglers++;
        steps = (uint64_t)rg_fed_work_steps(share, (long)steps);
    }
    r->steps[j] = steps;
    r->trained[j] = steps_trained(steps, n, b);
    r->flip[j] = f->attack.kind == RG_ATTACK_LABELFLIP && rg_attack_is_attacker(&f->attack, seed, c);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* m of C clients by a partial Fisher-Yates driven by (seed, round, i). */
static rg_status draw(rg_round *r, int C, uint64_t seed)
{
    uint32_t *all = rg_malloc((size_t)C * sizeof *all);
    if (!all) return rg_error(RG_ENOMEM, "out of memory: %d clients", C);
    for (int i = 0; i < C; i++) all[i] = (uint32_t)i;
    for (size_t i = 0; i < r->m; i++) {
        uint32_t x[4];
        rg_rng4(seed, RG_RNG_FED_SAMPLE, r->round, i, x);
        size_t j = i + (size_t)((((uint64_t)x[0] << 32) | x[1]) % (uint64_t)((size_t)C - i));
        uint32_t t = all[i]; all[i] = all[j]; all[j] = t;
    }
    memcpy(r->client, all, r->m * sizeof *all);
    rg_free(all);
    qsort(r->client, r->m, sizeof *r->client, cmp_u32);
    return RG_OK;
}

rg_status rg_round_plan(rg_round *r, const rg_fed_setup *f, const rg_parts *parts, size_t b, int W, uint64_t seed,
                        uint64_t round)
{
    memset(r, 0, sizeof *r);
    r->round = round;
    r->m = rg_fed_sampled(f);
    r->client = rg_calloc(r->m, sizeof *r->client);
    r->steps = rg_calloc(r->m, sizeof *r->steps);
    r->trained = rg_calloc(r->m, sizeof *r->trained);
    r->flip = rg_calloc(r->m, sizeof *r->flip);
    uint64_t *load = rg_calloc((size_t)W, sizeof *load);
    rg_status st = r->client && r->steps && r->trained && r->flip && load
                       ? draw(r, f->clients, seed) : rg_error(RG_ENOMEM, "out of memory: a round's plan");
    for (size_t j = 0; st == RG_OK && j < r->m; j++) {
        client_work(r, j, f, part_size(parts, r->client[j]), b, seed);
        load[j % (size_t)W] += r->steps[j];
    }
    r->length = 1;   /* a round without samples still ends in its server step */
    for (int k = 0; k < W; k++)
        if (load[k] > r->length) r->length = load[k];
    rg_free(load);
    if (st != RG_OK) rg_round_free(r);
    return st;
}

void rg_round_free(rg_round *r)
{
    rg_free(r->client);
    rg_free(r->steps);
    rg_free(r->trained);
    rg_free(r->flip);
    memset(r, 0, sizeof *r);
}

/* The client's local epoch e of round `round`: its ids reshuffled. */
static void local_epoch(uint64_t *out, const rg_parts *parts, uint32_t c, int shuffle, uint64_t seed, uint64_t round,
                        uint64_t e)
{
    size_t n = part_size(parts, c);
    memcpy(out, parts->ids + parts->offset[c], n * sizeof *out);
    if (!shuffle) return;
    for (size_t i = n; i > 1; i--) {
        uint32_t x[4];
        rg_rng4(seed, RG_RNG_FED_SHUFFLE, (round << 32) | e, ((uint64_t)c << 32) | (i - 1), x);
        size_t j = (size_t)((((uint64_t)x[0] << 32) | x[1]) % (uint64_t)i);
        uint64_t t = out[i - 1]; out[i - 1] = out[j]; out[j] = t;
    }
}

/* Samples every worker takes at each step: each client's batches from
 * the step its worker starts it. */
static void totals(rg_deal *d, const rg_round *r, const rg_parts *parts, size_t b, int W)
{
    uint64_t *at = rg_calloc((size_t)W, sizeof *at);
    if (!at) return;   /* (totals are figures only: left at zero) */
    for (size_t j = 0; j < r->m; j++) {
        size_t n = part_size(parts, r->client[j]), bb = b < n ? b : n, spe = bb ? (n + bb - 1) / bb : 1;
        uint64_t *t0 = &at[j % (size_t)W];
        for (uint64_t s = 0; s < r->steps[j]; s++) {
            size_t i = (size_t)(s % spe), hi = (i + 1) * bb < n ? (i + 1) * bb : n;
            d->total[*t0 + s] += hi - i * bb;
        }
        *t0 += r->steps[j];
    }
    rg_free(at);
}

/* Lays out worker g's clients: their local epochs one after another in
 * order, and a window per step; step s takes [start[s], start[s+1]). */
static void lay_out(rg_deal *d, const rg_round *r, const rg_parts *parts, size_t b, int g, int W, int shuffle,
                    uint64_t seed, const double *factor)
{
    size_t pos = 0, s = 0, i = 0;
    for (size_t j = (size_t)g; j < r->m; j += (size_t)W, i++) {
        uint32_t c = r->client[j];
        size_t n = part_size(parts, c), bb = b < n ? b : n, spe = bb ? (n + bb - 1) / bb : 1;
        d->first[i] = s;
        for (uint64_t k = 0; k < r->steps[j]; k++, s++) {
            size_t e = (size_t)(k / spe), at = (size_t)(k % spe);
            if (at == 0) local_epoch(d->order + pos + e * n, parts, c, shuffle, seed, r->round, e);
            d->start[s] = pos + e * n + at * bb;
            d->start[s + 1] = pos + e * n + ((at + 1) * bb < n ? (at + 1) * bb : n);
            d->key[s] = (r->round << 40) | ((uint64_t)c << 26) | (k & ((1u << 26) - 1));
            d->factor[s] = factor ? (float)factor[c] : 1.0f;
            d->flip[s] = r->flip[j];
        }
        /* the next client starts where this one's last batch ended (over
         * the unused rest of its last local epoch): windows stay contiguous */
        if (r->steps[j]) pos = d->start[s];
    }
    d->first[i] = s;
    for (; s < d->steps; s++) {   /* idle to the round's end */
        d->start[s + 1] = d->start[s] = pos;
        d->key[s] = 0;
        d->factor[s] = 1.0f;
        d->flip[s] = 0;
    }
}

rg_status rg_deal_make(rg_deal *d, const rg_round *r, const rg_parts *parts, size_t b, int g, int W, int shuffle,
                       uint64_t seed, const double *factor)
{
    memset(d, 0, sizeof *d);
    d->steps = r->length;
    size_t ids = 0;
    for (size_t j = (size_t)g; j < r->m; j += (size_t)W, d->mine++) {
        size_t n = part_size(parts, r->client[j]), bb = b < n ? b : n, spe = bb ? (n + bb - 1) / bb : 1;
        if (r->steps[j]) ids += ((size_t)((r->steps[j] - 1) / spe) + 1) * n;
    }
    size_t S = (size_t)d->steps;
    d->order = rg_calloc(ids ? ids : 1, sizeof *d->order);
    d->start = rg_calloc(S + 1, sizeof *d->start);
    d->key = rg_calloc(S, sizeof *d->key);
    d->total = rg_calloc(S, sizeof *d->total);
    d->first = rg_calloc(d->mine + 1, sizeof *d->first);
    d->factor = rg_calloc(S ? S : 1, sizeof *d->factor);
    d->flip = rg_calloc(S ? S : 1, sizeof *d->flip);
    if (!d->order || !d->start || !d->key || !d->total || !d->first || !d->factor || !d->flip) {
        rg_deal_free(d);
        return rg_error(RG_ENOMEM, "out of memory: worker %d's part of round %llu", g, (unsigned long long)r->round + 1);
    }
    lay_out(d, r, parts, b, g, W, shuffle, seed, factor);
    totals(d, r, parts, b, W);
    return RG_OK;
}

void rg_deal_free(rg_deal *d)
{
    rg_free(d->order);
    rg_free(d->start);
    rg_free(d->key);
    rg_free(d->total);
    rg_free(d->first);
    rg_free(d->factor);
    rg_free(d->flip);
    memset(d, 0, sizeof *d);
}

int32_t rg_deal_label(const rg_deal *d, uint64_t s, int32_t y)
{
    return d->flip[s] && d->attack ? (int32_t)rg_attack_label(d->attack, y, d->classes) : y;
}
