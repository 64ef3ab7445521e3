/*
 * comm_link.c — a slower network, emulated: a communicator that wraps
 * another and makes each of its operations last at least as long as it
 * would over a link of a given bandwidth and latency (--link 1gbit,50us).
 *
 * What an operation costs a rank is what the algorithms of a ring would
 * send from it: an all-reduce of n values 2(W-1) messages carrying
 * 2(W-1)/W of them, an all-gather or reduce-scatter W-1 messages, a
 * broadcast one hop per tree level, a barrier two latencies per level, a
 * send one message.  The wrapper runs the real operation, then waits out
 * the rest of that time (a sleep, then a spin for the last 100 us).  So one
 * machine shows where fewer and smaller exchanges pay on a slower
 * network, for any backend: over MPI the process communicator is wrapped
 * (threads of one process still share memory), with threads alone every
 * thread's handle is.
 *
 * Invariant: the results are the wrapped communicator's, bit for bit;
 * only the time changes.
 */
#include "core/core.h"
#include "comm/comm.h"
#include "comm/link.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct link_impl {
    rg_comm *inner;
    rg_link link;
    int owns;               /* free inner with the wrapper */
} link_impl;

/* "1gbit", "10Gbit", "100mbit", "2.5gbit", or bits per second; "50us",
 * "1ms", "0.2s", or seconds */
static int parse_unit(const char *t, size_t len, const char *const *units, const double *scale, int nu, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, t, len);
    buf[len] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || !isfinite(v) || v < 0) return 0;
    for (char *p = end; *p; p++) *p = (char)tolower((unsigned char)*p);
    for (int i = 0; i < nu; i++)
        if (!strcmp(end, units[i])) { *out = v * scale[i]; return 1; }
    return 0;
}

rg_status rg_link_parse(const char *text, rg_link *out)
{
    static const char *const bw_units[] = { "", "bit", "kbit", "mbit", "gbit" };
    static const double bw_scale[] = { 1, 1, 1e3, 1e6, 1e9 };
    static const char *const lat_units[] = { "", "s", "ms", "us" };
    static const double lat_scale[] = { 1, 1, 1e-3, 1e-6 };
    memset(out, 0, sizeof *out);
    if (!text || !*text) return RG_OK;
    const char *comma = strchr(text, ',');
    if (!comma || !parse_unit(text, (size_t)(comma - text), bw_units, bw_scale, 5, &out->bits_per_s) ||
        !parse_unit(comma + 1, strlen(comma + 1), lat_units, lat_scale, 4, &out->latency_s) || out->bits_per_s <= 0)
        return rg_error(RG_EUSAGE, "--link %s: expected BANDWIDTH,LATENCY such as 1gbit,50us (bandwidth > 0 in "
                        "bit, kbit, mbit or gbit per second; latency in s, ms or us)", text);
    return RG_OK;
}

double rg_link_seconds(const rg_link *l, size_t messages, double bytes)
{
    return (double)messages * l->latency_s + bytes * 8.0 / l->bits_per_s;
}

static link_impl *impl_of(rg_comm *c) { return c->impl; }

/* Waits until `seconds` have passed since t0. */
static void pace(double t0, double seconds)
{
    double until = t0 + seconds, left;
    while ((left = until - rg_now()) > 150e-6) {
        double nap = left - 100e-6;
        struct timespec ts = { (time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9) };
        nanosleep(&ts, NULL);
    }
    while (rg_now() < until) {}
}

static unsigned levels(int W)
{
    unsigned k = 0;
    while ((1 << k) < W) k++;
    return k;
}

/* The ring's cost of moving `share` of n values of es bytes in m messages. */
static rg_status paced(rg_comm *c, double t0, rg_status st, size_t messages, double bytes)
{
    if (c->size > 1) pace(t0, rg_link_seconds(&impl_of(c)->link, messages, bytes));
    return st;
}

static rg_status l_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op)
{
    double t0 = rg_now(), W = c->size;
    rg_status st = rg_comm_allreduce(impl_of(c)->inner, buf, n, op);
    return paced(c, t0, st, 2 * (size_t)(c->size - 1), 2.0 * (W - 1) / W * (double)n * sizeof(float));
}

static rg_status l_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op)
{
    double t0 = rg_now(), W = c->size;
    rg_status st = rg_comm_allreduce_f64(impl_of(c)->inner, buf, n, op);
    return paced(c, t0, st, 2 * (size_t)(c->size - 1), 2.0 * (W - 1) / W * (double)n * sizeof(double));
}

static rg_status l_broadcast(rg_comm *c, void *buf, size_t bytes, int root)
{
    double t0 = rg_now();
    rg_status st = rg_comm_broadcast(impl_of(c)->inner, buf, bytes, root);
    return paced(c, t0, st, levels(c->size), (double)levels(c->size) * (double)bytes);
}

static rg_status l_allgather(rg_comm *c, const float *in, size_t n, float *out)
{
    double t0 = rg_now();
    rg_status st = rg_comm_allgather(impl_of(c)->inner, in, n, out);
    return paced(c, t0, st, (size_t)(c->size - 1), (double)(c->size - 1) * (double)n * sizeof(float));
}

static rg_status l_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    double t0 = rg_now();
    rg_status st = rg_comm_reduce_scatter(impl_of(c)->inner, in, n_each, out, op);
    return paced(c, t0, st, (size_t)(c->size - 1), (double)(c->size - 1) * (double)n_each * sizeof(float));
}

static rg_status l_barrier(rg_comm *c)
{
    double t0 = rg_now();
    rg_status st = rg_comm_barrier(impl_of(c)->inner);
    return paced(c, t0, st, 2 * levels(c->size), 0.0);
}

static rg_status l_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    *req = NULL;   /* paced at the call: complete when it returns */
    return l_allreduce(c, buf, n, op);
}

static rg_status l_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    double t0 = rg_now();
    rg_status st = rg_comm_send(impl_of(c)->inner, buf, bytes, dst, tag);
    return paced(c, t0, st, 1, (double)bytes);
}

static rg_status l_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    return rg_comm_recv(impl_of(c)->inner, buf, bytes, src, tag);
}

static rg_status l_sendv(rg_comm *c, const rg_piece *v, int n, int dst, int tag)
{
    double t0 = rg_now(), bytes = 0.0;
    for (int i = 0; i < n; i++) bytes += (double)v[i].bytes;
    rg_status st = rg_comm_sendv(impl_of(c)->inner, v, n, dst, tag);
    return paced(c, t0, st, 1, bytes);
}

static rg_status l_recvv(rg_comm *c, const rg_piece *v, int n, int src, int tag)
{
    return rg_comm_recvv(impl_of(c)->inner, v, n, src, tag);
}

static rg_status l_idle(rg_comm *c, double wait)
{
    return rg_comm_idle(impl_of(c)->inner, wait, 20e-6);
}

static rg_status l_probe(rg_comm *c, int src, int tag, int *ready)
{
    return rg_comm_probe(impl_of(c)->inner, src, tag, ready);
}

static rg_status l_abort(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    return rg_comm_abort_note(impl_of(c)->inner, status, msg, note, bytes);
}

static rg_status l_split(rg_comm *c, int color, int key, rg_comm **out);

static void l_free(rg_comm *c)
{
    link_impl *l = impl_of(c);
    if (l->owns) rg_comm_free(l->inner);
    rg_free(l);
    rg_free(c);
}

static const rg_comm_ops g_link_ops = {
    .allreduce = l_allreduce, .allreduce_f64 = l_allreduce_f64, .broadcast = l_broadcast, .allgather = l_allgather,
    .reduce_scatter = l_reduce_scatter, .barrier = l_barrier, .split = l_split, .free = l_free,
    .iallreduce = l_iallreduce, .send = l_send, .recv = l_recv, .abort = l_abort, .probe = l_probe,
    .sendv = l_sendv, .recvv = l_recvv, .idle = l_idle,
};

rg_comm *rg_comm_link_inner(rg_comm *c) { return c && c->ops == &g_link_ops ? impl_of(c)->inner : NULL; }

rg_status rg_comm_link(rg_comm *inner, const rg_link *link, int owns, rg_comm **out)
{
    *out = NULL;
    rg_comm *c = rg_calloc(1, sizeof *c);
    link_impl *l = rg_calloc(1, sizeof *l);
    if (!c || !l) {
        rg_free(c);
        rg_free(l);
        return rg_error(RG_ENOMEM, "out of memory: --link");
    }
    *l = (link_impl){ inner, *link, owns };
    *c = (rg_comm){ .ops = &g_link_ops, .rank = rg_comm_rank(inner), .size = rg_comm_size(inner), .impl = l };
    *out = c;
    return RG_OK;
}

static rg_status l_split(rg_comm *c, int color, int key, rg_comm **out)
{
    rg_comm *sub;
    rg_status st = rg_comm_split(impl_of(c)->inner, color, key, &sub);
    if (st != RG_OK) return st;
    st = rg_comm_link(sub, &impl_of(c)->link, 1, out);
    if (st != RG_OK) rg_comm_free(sub);
    return st;
}
