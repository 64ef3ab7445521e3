/*
 * comm.c — the communicator front door and the `self` backend (a world of
 * one rank).  Invariant for every backend: after a collective returns RG_OK
 * every rank holds the same result; on error every rank returns an error.
 */
#include "core/core.h"
#include "comm/comm.h"
#include <string.h>

rg_status rg_comm_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op) { return c->ops->allreduce(c, buf, n, op); }
rg_status rg_comm_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op) { return c->ops->allreduce_f64(c, buf, n, op); }
rg_status rg_comm_broadcast(rg_comm *c, void *buf, size_t bytes, int root) { return c->ops->broadcast(c, buf, bytes, root); }
rg_status rg_comm_allgather(rg_comm *c, const float *in, size_t n, float *out) { return c->ops->allgather(c, in, n, out); }
rg_status rg_comm_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    return c->ops->reduce_scatter(c, in, n_each, out, op);
}
rg_status rg_comm_barrier(rg_comm *c) { return c->ops->barrier(c); }
rg_status rg_comm_split(rg_comm *c, int color, int key, rg_comm **out) { return c->ops->split(c, color, key, out); }
void rg_comm_free(rg_comm *c) { if (c) c->ops->free(c); }

/* Backends may leave the later ops NULL (see comm.h). */
static rg_status comm_unsupported(const char *what)
{
    return rg_error(RG_EUSAGE, "%s is not supported by this communicator", what);
}
rg_status rg_comm_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    *req = NULL;
    return c->ops->iallreduce ? c->ops->iallreduce(c, buf, n, op, req) : comm_unsupported("iallreduce");
}
rg_status rg_comm_wait(rg_comm *c, rg_comm_req *req)
{
    if (!req) return RG_OK;
    return c->ops->wait ? c->ops->wait(c, req) : comm_unsupported("wait");
}
rg_status rg_comm_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    return c->ops->send ? c->ops->send(c, buf, bytes, dst, tag) : comm_unsupported("send");
}
rg_status rg_comm_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    return c->ops->recv ? c->ops->recv(c, buf, bytes, src, tag) : comm_unsupported("recv");
}
/* A staging buffer for the pieces' total size (*total); NULL when out of
 * memory or the size overflows. */
static unsigned char *staging(const rg_piece *v, int n, size_t *total)
{
    *total = 0;
    for (int i = 0; i < n; i++)
        if (!rg_add_ok(*total, v[i].bytes, total)) return NULL;
    return rg_malloc(*total ? *total : 1);
}

/* A backend without sendv or recvv: the message staged in one buffer. */
rg_status rg_comm_sendv(rg_comm *c, const rg_piece *v, int n, int dst, int tag)
{
    if (c->ops->sendv) return c->ops->sendv(c, v, n, dst, tag);
    if (n == 1) return rg_comm_send(c, v[0].base, v[0].bytes, dst, tag);
    size_t total, at = 0;
    unsigned char *buf = staging(v, n, &total);
    if (!buf) return rg_error(RG_ENOMEM, "out of memory sending %zu bytes to rank %d", total, dst);
    for (int i = 0; i < n; at += v[i].bytes, i++)
        if (v[i].bytes) memcpy(buf + at, v[i].base, v[i].bytes);
    rg_status st = rg_comm_send(c, buf, total, dst, tag);
    rg_free(buf);
    return st;
}
rg_status rg_comm_recvv(rg_comm *c, const rg_piece *v, int n, int src, int tag)
{
    if (c->ops->recvv) return c->ops->recvv(c, v, n, src, tag);
    if (n == 1) return rg_comm_recv(c, v[0].base, v[0].bytes, src, tag);
    size_t total, at = 0;
    unsigned char *buf = staging(v, n, &total);
    if (!buf) return rg_error(RG_ENOMEM, "out of memory receiving %zu bytes from rank %d", total, src);
    rg_status st = rg_comm_recv(c, buf, total, src, tag);
    for (int i = 0; st == RG_OK && i < n; at += v[i].bytes, i++)
        if (v[i].bytes) memcpy(v[i].base, buf + at, v[i].bytes);
    rg_free(buf);
    return st;
}
rg_status rg_comm_idle(rg_comm *c, double wait, double nap)
{
    if (c->ops->idle) return c->ops->idle(c, wait);
    rg_sleep(nap);
    return RG_OK;
}
rg_status rg_comm_probe(rg_comm *c, int src, int tag, int *ready)
{
    *ready = 0;
    return c->ops->probe ? c->ops->probe(c, src, tag, ready) : comm_unsupported("probe");
}
rg_status rg_comm_abort(rg_comm *c, rg_status status, const char *msg)
{
    return rg_comm_abort_note(c, status, msg, NULL, 0);
}
rg_status rg_comm_abort_note(rg_comm *c, rg_status status, const char *msg, const void *note, size_t bytes)
{
    if (status == RG_OK) status = RG_ECOMM;
    if (bytes > RG_COMM_NOTE_MAX) note = NULL, bytes = 0;
    if (c->ops->abort) return c->ops->abort(c, status, msg, note, bytes);
    /* No peers to wake; still leave msg as this thread's message.  Copied
     * first: msg may be rg_last_error()'s own buffer. */
    char copy[512];
    snprintf(copy, sizeof copy, "%s", msg ? msg : "");
    return rg_error(status, "%s", copy);
}

/* ------------------------------------------------------------ self backend */

static rg_status self_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op) { return RG_OK; }
static rg_status self_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op) { return RG_OK; }
static rg_status self_broadcast(rg_comm *c, void *buf, size_t bytes, int root)
{
    return root == 0 ? RG_OK : rg_error(RG_EUSAGE, "broadcast from rank %d in a world of 1", root);
}
static rg_status self_allgather(rg_comm *c, const float *in, size_t n, float *out)
{
    if (in != out) memmove(out, in, n * sizeof(float));
    return RG_OK;
}
static rg_status self_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op)
{
    if (in != out) memmove(out, in, n_each * sizeof(float));
    return RG_OK;
}
static rg_status self_barrier(rg_comm *c) { return RG_OK; }
static rg_status self_split(rg_comm *c, int color, int key, rg_comm **out) { return rg_comm_self(out); }
/* A world of one completes at once: NULL is a complete request. */
static rg_status self_iallreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op, rg_comm_req **req)
{
    *req = NULL;
    return RG_OK;
}
static rg_status self_wait(rg_comm *c, rg_comm_req *req) { return RG_OK; }
static rg_status self_send(rg_comm *c, const void *buf, size_t bytes, int dst, int tag)
{
    return rg_error(RG_EUSAGE, "send to rank %d in a world of 1: a world of one has no peer to send to", dst);
}
static rg_status self_recv(rg_comm *c, void *buf, size_t bytes, int src, int tag)
{
    return rg_error(RG_EUSAGE, "recv from rank %d in a world of 1: a world of one has no peer to receive from", src);
}
static void self_free(rg_comm *c) { rg_free(c); }

static const rg_comm_ops self_ops = {
    self_allreduce, self_allreduce_f64, self_broadcast, self_allgather,
    self_reduce_scatter, self_barrier, self_split, self_free,
    self_iallreduce, self_wait, self_send, self_recv,
    NULL /* abort: the front door's fallback */, NULL /* probe */,
    NULL, NULL, /* sendv, recvv: self_send and self_recv refuse */
    NULL /* idle: a nap */
};

rg_status rg_comm_self(rg_comm **out)
{
    rg_comm *c = rg_calloc(1, sizeof *c);
    if (!c) return rg_error(RG_ENOMEM, "out of memory creating a communicator");
    c->ops = &self_ops;
    c->rank = 0;
    c->size = 1;
    *out = c;
    return RG_OK;
}
