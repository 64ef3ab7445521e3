/*
 * model.h — layer 2, internal: the model's layers and arenas, shared by the
 * trainer and the tests.  Users see only the opaque rg_model.
 */
#ifndef RG_NN_MODEL_H
#define RG_NN_MODEL_H
#include "core/core.h"
#include "kernels/kernels.h"

typedef enum { RG_LAYER_DENSE, RG_LAYER_DROPOUT } rg_layer_kind;

typedef struct rg_layer {
    rg_layer_kind kind;
    rg_act act;
    size_t in, out;             /* dropout: in == out */
    float l1, l2, maxnorm;      /* dense kernel penalties and constraint */
    int bias;
    float rate;                 /* dropout */
    int dense_index;            /* dense layers counted from 0 */
    size_t w_off, b_off;        /* views into the arenas */
    int fwd_wt;                 /* while the model is held, the forward reads wt */
} rg_layer;

struct rg_model {
    rg_layer *layers;
    int n_layers, n_dense;
    rg_loss loss;
    size_t n_in, n_out, n_params, max_width;
    char *spec;                 /* canonical */
    float *params;              /* arena: every weight and bias */
    int params_borrowed;        /* params belong to another model (rg_model_share) */
    float *grads;               /* arena of the same length */
    /* workspace for batches up to ws_batch samples */
    size_t ws_batch;
    float *ws;
    float **ws_act;             /* per layer: [2l] output, [2l+1] pre-activation or mask */
    const float *out_ptr[64];   /* per layer: the output used by the next layer */
    float *delta[2];
    float *probs;
    /* rg_model_hold: while held, the forward products of the layers
     * with fwd_wt read wt, their kernels transposed to [in, out] at the
     * first forward (wt_fresh) */
    float *wt;
    int held, wt_fresh;
    /* rg_model_forward_backward_shards: each shard's tile of a weight
     * gradient and its bias gradient, before the tree */
    float *shard_ws;
    size_t shard_ws_n;
    /* model_meta.c: what the data taught beside the weights */
    char **classes;             /* n_classes class names, or NULL */
    size_t n_classes;
    float *in_mean, *in_std;    /* n_in each (one block from in_mean), or NULL */
};

/* Floats after the gradient arena that the trainer's exchange carries along
 * (loss sums, flags): one all-reduce moves gradients and step statistics. */
#define RG_GRAD_TAIL 4

/* The penalty of the parameters [lo, hi) of the arena, and (g != NULL) its
 * gradient added to g[0 .. hi-lo): the sharded optimizer's slice. */
double rg_model_penalty_range(const rg_model *m, float strength, float *g, size_t lo, size_t hi);

/* rg_model_penalty(m, strength, g) when add (0 and nothing added when
 * not), and in the same pass over the arena, in its order, what `what`
 * asks of g as the penalty leaves it: RG_MEASURE_SUMSQ, the sum of
 * squares in double element by element (rg_clip_global_norm's), and
 * RG_MEASURE_MAX, the largest |element| (rg_max_abs's, +Inf for NaN or
 * Inf).  The same bits as those calls one after another. */
enum { RG_MEASURE_SUMSQ = 1, RG_MEASURE_MAX = 2 };
double rg_model_penalty_measured(const rg_model *m, float strength, float *g, int add, unsigned what,
                                 double *sumsq, float *maxabs);

/* Spare floats after each arena: a sharded exchange pads the arena to a
 * whole number of cache-line chunks per worker (16 floats x RG_MAX_WORKERS). */
#define RG_ARENA_PAD (16 * RG_MAX_WORKERS)

/* A copy of m's architecture and weights (own arenas and workspace). */
rg_status rg_model_clone(const rg_model *m, rg_model **out);

/* A model over m's parameter arena (borrowed: m must outlive it) with its
 * own gradient arena and workspace: worker threads of one process share
 * one copy of the weights. */
rg_status rg_model_share(rg_model *m, rg_model **out);

/* model_meta.c: frees the class names and standardisation; copies src's
 * into dst (same inputs and outputs). */
void rg_model_meta_free(rg_model *m);
rg_status rg_model_meta_copy(rg_model *dst, const rg_model *src);

/* hold(m, 1, rows) .. hold(m, 0, 0): the caller promises that the
 * parameters do not change in between (a training step's passes, an
 * evaluation), so the forward products read kernels transposed, [in,
 * out], from a copy made at the first forward: a product with a whole panel of B in place,
 * where W as stored would be packed again for every pass, and one LIBXSMM
 * has a kernel for.  Which layers: in the fixed-order mode
 * (--deterministic) every one, whose every element is the same chain
 * however B is stored; otherwise those whose forward the rule of --gemm
 * gives to LIBXSMM on the copy for passes of `rows` rows
 * (rg_sgemm_held_forward), none under --gemm openblas.  A copy is made
 * (each hold, at the first forward) only when some layer is held; each
 * model its own, so the worker threads sharing one arena
 * (rg_model_share) never write one copy at once.  RG_ENOMEM when the copy
 * cannot be had (then not held). */
rg_status rg_model_hold(rg_model *m, int on, size_t rows);

/* 1 while the model is held and dense layer i (from 0) reads its kernel
 * transposed. */
int rg_model_fwd_held(const rg_model *m, int dense_index);

/* The most shards rg_model_forward_backward_shards takes. */
#define RG_FUSE_MAX_SHARDS 64

/* The S passes of a --deterministic step as one: shard s is rows
 * [rows[s], rows[s+1]) of x's rows[S] > 0 rows (labels y, or pass->targets).
 * The forward and the input gradients run over all the rows at once, the
 * losses and each weight and bias gradient shard by shard, summed in
 * rg_tree_sum's tree a tile at a time and written once into the gradient
 * arena (overwritten: pass->overwrite is taken as set; no penalty).  Per
 * shard: loss[s] and correct[s] (as rg_model_forward_backward gives them
 * for those rows) and maxabs[s], rg_max_abs of the shard's own gradient.
 * The same bits as S calls of rg_model_forward_backward, each into an
 * arena of its own, summed by rg_tree_sum, provided each element of a
 * product is one chain whatever the rows beside it: rg_sgemm's fixed-order
 * kernel (rg_sgemm_set_fixed), which the caller must have set.  1 <= S <=
 * RG_FUSE_MAX_SHARDS. */
rg_status rg_model_forward_backward_shards(rg_model *m, const float *x, const int32_t *y, const size_t *rows, int S,
                                           const rg_pass *pass, double *loss, size_t *correct, float *maxabs,
                                           float *probs);

/* Makes g (n_params + RG_GRAD_TAIL floats) the gradient arena and returns
 * the one it replaces: a deterministic pass writes its shard's gradient
 * where the exchange sums it, not into the arena and then a copy. */
float *rg_model_swap_grads(rg_model *m, float *g);

/* Nonzero when some dense layer has a max-norm constraint. */
int rg_model_has_maxnorm(const rg_model *m);
/* Nonzero when some dense layer has an l1 or l2 penalty. */
int rg_model_has_penalty(const rg_model *m);

/* Nonzero when a dropout layer with rate > 0 exists. */
int rg_model_has_dropout(const rg_model *m);

#endif
