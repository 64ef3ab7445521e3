/*
 * comm.h — layer 3, internal: the communicator.  Strategies talk to peers
 * only through this interface; the math below never sees it.  A backend
 * fills in the ops table.  The `self` backend is a world of one: every
 * collective is the identity, so single-worker training runs the same code
 * path as N workers.
 */
#ifndef RG_COMM_H
#define RG_COMM_H
#include "regula.h"

typedef enum { RG_REDUCE_SUM, RG_REDUCE_AVG } rg_reduce_op;

typedef struct rg_comm rg_comm;
typedef struct rg_comm_ops {
    rg_status (*allreduce)(rg_comm *c, float *buf, size_t n, rg_reduce_op op);
    rg_status (*allreduce_f64)(rg_comm *c, double *buf, size_t n, rg_reduce_op op);
    rg_status (*broadcast)(rg_comm *c, void *buf, size_t bytes, int root);
    rg_status (*allgather)(rg_comm *c, const float *in, size_t n, float *out);
    rg_status (*reduce_scatter)(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op);
    rg_status (*barrier)(rg_comm *c);
    rg_status (*split)(rg_comm *c, int color, int key, rg_comm **out);
    void (*free)(rg_comm *c);
} rg_comm_ops;

struct rg_comm {
    const rg_comm_ops *ops;
    int rank, size;
    void *impl;
};

rg_status rg_comm_self(rg_comm **out);
void rg_comm_free(rg_comm *c);
static inline int rg_comm_rank(const rg_comm *c) { return c->rank; }
static inline int rg_comm_size(const rg_comm *c) { return c->size; }
/* Sum or average of buf over all ranks, in place. */
rg_status rg_comm_allreduce(rg_comm *c, float *buf, size_t n, rg_reduce_op op);
rg_status rg_comm_allreduce_f64(rg_comm *c, double *buf, size_t n, rg_reduce_op op);
/* Root's bytes to every rank. */
rg_status rg_comm_broadcast(rg_comm *c, void *buf, size_t bytes, int root);
/* out (size*n) = concatenation of every rank's in (n), by rank. */
rg_status rg_comm_allgather(rg_comm *c, const float *in, size_t n, float *out);
/* in (size*n_each): rank r receives the reduction of every rank's block r. */
rg_status rg_comm_reduce_scatter(rg_comm *c, const float *in, size_t n_each, float *out, rg_reduce_op op);
rg_status rg_comm_barrier(rg_comm *c);
/* Ranks with the same color form a new communicator, ordered by key. */
rg_status rg_comm_split(rg_comm *c, int color, int key, rg_comm **out);
#endif
