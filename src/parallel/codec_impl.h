/*
 * codec_impl.h — layer 4, internal: what the codec files share.  Each
 * kind fills `mine` with what its message decodes to (the residual is what
 * it left out) and overwrites the gradient with the world's sum.
 */
#ifndef RG_CODEC_IMPL_H
#define RG_CODEC_IMPL_H
#include "parallel/codec.h"

typedef struct codec_kind {
    const char *name;
    rg_status (*init)(rg_codec *c);
    /* p (n floats) in: this worker's (residual added); out: the sum */
    rg_status (*reduce)(rg_codec *c, float *p, uint64_t step, double *bytes);
    size_t (*state_size)(const rg_codec *c);   /* beyond the residual; may be NULL */
    float *(*state)(rg_codec *c);              /* that state; may be NULL */
    /* Optional, for a message sent point to point (a parameter server's
     * push): p (n floats) becomes c->msg and c->mine; and a message decoded
     * and added to p.  Kinds without them (powersgd, dgc) exchange only
     * collectively. */
    void (*encode)(rg_codec *c, const float *p, uint64_t step);
    void (*decode_add)(rg_codec *c, const float *msg, float *p, uint64_t step);
} codec_kind;

struct rg_codec {
    const codec_kind *kind;
    rg_codec_spec spec;
    rg_comm *comm;
    int rank, world;
    int counted;                /* the world its bytes are counted for: world, or 2
                                   for one worker (rg_codec_reduce); 0 split: world */
    int part;                   /* a split codec's part: its draws' key */
    rg_codec **parts;           /* a split codec (rg_codec_create_split): */
    size_t *cut;                /* part j codes [cut[j], cut[j+1]) */
    int nparts;
    size_t n;
    uint64_t seed;
    float *residual;            /* [n], with error feedback */
    float *mine;                /* [n]: what this worker's message decodes to */
    float *msg, *all;           /* this worker's message, everyone's [world x msg_n] */
    size_t msg_n;               /* floats a message takes */
    size_t k;                   /* topk, randk: values a message holds */
    uint32_t *idx;              /* randk: the drawn indices; topk: scratch */
    float *scratch;             /* [n] */
    const rg_codec_block *blocks;
    int nblocks;
    float *q, *pbuf, *qbuf;     /* powersgd: Q of every block, P and Q messages;
                                   dgc: u, the momentum, and v, the accumulation (q) */
    size_t q_n, p_n, whole_n;
    float *adam;                /* spec.adam: m [n], v [n], the step count (2 floats of 24 bits) */
};

/* The all-gather of every worker's message (c->msg, msg_n floats) into c->all. */
rg_status rg_codec_gather(rg_codec *c, double *bytes);
/* reduce for kinds with encode and decode_add: every worker's message
 * gathered, decoded and summed in rank order. */
rg_status rg_codec_gather_reduce(rg_codec *c, float *p, uint64_t step, double *bytes);
/* Bytes of an all-reduce of n floats, as a ring sends them. */
double rg_codec_ring(const rg_codec *c, size_t n);

extern const codec_kind rg_codec_fp16, rg_codec_bf16, rg_codec_sign, rg_codec_topk, rg_codec_randk, rg_codec_qsgd,
    rg_codec_powersgd, rg_codec_dgc;
/* topk, dgc: a message of k (index, value) pairs over n values is the k
 * values, then the k indices in 2, 3 or 4 bytes each (as few as n needs),
 * padded to whole floats: rg_codec_pairs_len floats. */
size_t rg_codec_pairs_len(size_t n, size_t k);
/* topk: the positions of the k largest magnitudes of v (ties to the lower
 * index) into such a message; scratch is [n]. */
void rg_codec_pick(const float *v, size_t n, size_t k, float *scratch, float *msg);
/* topk, dgc: the sum of everyone's messages of k pairs into p. */
void rg_codec_scatter_sum(const rg_codec *c, size_t k, float *p);
#endif
