/*
 * codec.h — layer 4: gradient codecs, between a strategy and the
 * communicator.  A codec turns each worker's gradient into a smaller
 * message, exchanges the messages and hands back the sum of what they
 * decode to.  With error feedback, what a worker's message left out (its
 * residual) is added to its next gradient.
 *
 *   fp16, bf16       16-bit floats (fp16 saturates at +-65504)
 *   sign             one bit a value and the mean magnitude (EF-signSGD)
 *   topk:R           the R*n largest magnitudes, as (index, value) pairs
 *   randk:R          R*n values at indices every worker draws alike
 *   qsgd:L           stochastic quantisation to L levels and the norm
 *   powersgd:K       rank-K approximation of each weight matrix (Vogels
 *                    et al. 2019), biases sent whole
 *   dgc:R            Deep Gradient Compression (Lin et al. 2018): top-k of
 *                    a local momentum-corrected accumulation, with
 *                    momentum factor masking and a warm-up of denser
 *                    messages over the first epochs
 *
 * Sparse and quantised messages travel by all-gather (each worker's whole
 * message to everyone), randk and PowerSGD by all-reduce.  Random draws
 * are keyed (seed, RG_RNG_CODEC, step, ...): every worker draws the same
 * randk indices, and a run is reproducible.  Every sum is in rank order.
 */
#ifndef RG_CODEC_H
#define RG_CODEC_H
#include "core/core.h"
#include "comm/comm.h"

typedef enum { RG_CODEC_NONE, RG_CODEC_FP16, RG_CODEC_BF16, RG_CODEC_SIGN, RG_CODEC_TOPK, RG_CODEC_RANDK,
               RG_CODEC_QSGD, RG_CODEC_POWERSGD, RG_CODEC_DGC } rg_codec_kind;

typedef struct rg_codec_spec {
    rg_codec_kind kind;
    double ratio;               /* topk, randk: the share of values sent */
    int levels;                 /* qsgd: quantisation levels (1..127) */
    int rank;                   /* powersgd */
    int error_feedback;         /* keep and add back the residual */
    /* dgc, set by the trainer: */
    float momentum;             /* the local momentum (the optimizer's, moved here) */
    long warmup_epochs;         /* denser messages first: 25%, 6.25%, ... of the values */
    uint64_t steps_per_epoch;
    /* --compress-update, set by the trainer: the codec runs Adam (these
     * betas and eps) on the worker's own gradient and compresses its
     * update, divided by the workers (so the sum is their mean); the
     * optimizer then takes plain SGD steps on that sum */
    int adam;
    float beta1, beta2, eps;
} rg_codec_spec;

/* "none", "fp16", "bf16", "sign", "topk:R", "randk:R", "qsgd:L",
 * "powersgd:K"; ef is "auto" (on for topk, randk, sign, powersgd), "on"
 * or "off".  Errors name --compress or --error-feedback. */
rg_status rg_codec_parse(const char *text, const char *ef, rg_codec_spec *out);
/* Like rg_codec_parse; on failure *which is 0 when --compress is at
 * fault, 1 when --error-feedback is. */
rg_status rg_codec_parse_at(const char *text, const char *ef, rg_codec_spec *out, int *which);

/* A matrix of the gradient arena, for PowerSGD: rows x cols at offset. */
typedef struct rg_codec_block { size_t offset, rows, cols; } rg_codec_block;

typedef struct rg_codec rg_codec;

/* One worker's codec over gradients of n floats; blocks (nblocks) are the
 * matrices PowerSGD compresses (everything else goes whole). */
rg_status rg_codec_create(const rg_codec_spec *spec, size_t n, const rg_codec_block *blocks, int nblocks,
                          uint64_t seed, rg_comm *comm, rg_codec **out);
void rg_codec_free(rg_codec *c);
/* g (n floats, this worker's gradient) becomes the sum over workers of the
 * decoded messages; step keys the random draws.  *bytes gains what this
 * worker handed to collectives (indices included), *dense what an
 * uncompressed all-reduce would have; a world of one worker, which hands
 * nothing over but still codes g, counts what it would send to a second,
 * so that its log shows the codec at work. */
rg_status rg_codec_reduce(rg_codec *c, float *g, uint64_t step, double *bytes, double *dense);
/* A worker's codec for messages sent point to point (a parameter
 * server's pushes), in nparts parts: part j codes [cut[j], cut[j+1]) of
 * the gradient, with its own residual; rank keys the worker's draws.
 * Kinds that only exchange collectively (powersgd, dgc) are refused
 * (RG_EUSAGE).  The state functions below cover every part. */
rg_status rg_codec_create_split(const rg_codec_spec *spec, const size_t *cut, int nparts, uint64_t seed, int rank,
                                rg_codec **out);
/* g (part j's floats; with error feedback its residual is added, and what
 * the message leaves out kept) into part j's message, borrowed until the
 * next call: *msg, of rg_codec_msg_len floats. */
void rg_codec_encode(rg_codec *c, int part, const float *g, uint64_t step, const float **msg);
size_t rg_codec_msg_len(const rg_codec *c, int part);
/* p (part j's floats) = what part j's message msg decodes to. */
void rg_codec_decode(rg_codec *c, int part, const float *msg, float *p, uint64_t step);
/* Per-worker state a checkpoint keeps (the residual, PowerSGD's Q, DGC's
 * accumulation, --compress-update's Adam moments and step count): its
 * length in floats, and a copy of it out and back in. */
size_t rg_codec_state_size(const rg_codec *c);
/* Forgets what the codec carries over (the residual, PowerSGD's Q back to
 * its start): after a step whose decoded sum could not be used. */
void rg_codec_reset(rg_codec *c);
/* 1 when its state holds no NaN or Inf. */
int rg_codec_finite(const rg_codec *c);
void rg_codec_state_save(const rg_codec *c, float *out);
void rg_codec_state_load(rg_codec *c, const float *in);
#endif
