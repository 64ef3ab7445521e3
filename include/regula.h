/*
 * regula.h — the one public header of libregula.
 *
 * regula trains small and medium neural networks on CPUs with regularization
 * that knows it may be distributed.  This header is the manual: every public
 * function says what it takes, who owns what, and what it returns.
 *
 * Conventions
 *   - Names are rg_<object>_<verb>.  Stateful objects are opaque handles with
 *     a create/free pair; settings are plain structs.
 *   - Every fallible call returns rg_status.  On failure a message with the
 *     file, record, offset or option is kept per thread: rg_last_error().
 *   - The library never prints and never exits, with one exception: under
 *     MPI, a worker that fails ends the whole job (MPI_Abort, exit code of
 *     its status) after handing its message to the log callback, because
 *     MPI cannot wake a peer blocked in a collective.  A peer that dies or
 *     stops answering is different: no MPI wait lasts longer than
 *     --comm-timeout, and the survivors return RG_ECOMM naming the rank
 *     (without MPI_Abort; MPI is not called again in that process).
 *   - Matrices are row-major float32.  A dense layer's weight is stored as
 *     [out, in] (PyTorch's Linear layout), its bias as [out].
 */
#ifndef REGULA_H
#define REGULA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RG_VERSION "0.1.0"
#define RG_CHECKPOINT_FORMAT "regula-1"

/* ------------------------------------------------------------------ status */

/* Status codes.  The CLI maps them to exit codes (see README):
 * RG_EUSAGE→2, RG_EDATA/RG_EIO→3, RG_ENONFINITE→4, RG_ECOMM→5, RG_ENOMEM→1. */
typedef enum rg_status {
    RG_OK = 0,
    RG_EUSAGE,      /* bad option, value, model spec or configuration */
    RG_EDATA,       /* malformed data or checkpoint file */
    RG_EIO,         /* a file cannot be opened, read or written */
    RG_ENONFINITE,  /* a loss, gradient or weight became NaN or Inf */
    RG_ECOMM,       /* a peer failed or timed out */
    RG_ENOMEM       /* allocation failed or a size overflowed */
} rg_status;

const char *rg_status_str(rg_status s);          /* "usage error", ... */
const char *rg_last_error(void);                 /* this thread's last message, "" if none */
void rg_clear_error(void);

/* Log callback: receives the messages the library must report when no
 * caller is left to return a status to (an MPI job ending on a worker's
 * failure).  NULL: such messages are dropped. */
typedef void (*rg_log_fn)(const char *msg, void *ud);
void rg_set_log(rg_log_fn fn, void *ud);

/* Test hook, for kill tests: called with the name of each point a run
 * passes, from whichever thread passes it: "step" before each training
 * step (worker 0 of each process) and "ckpt-write" half-way through writing
 * a training checkpoint's data (the writer thread).  While a hook is set,
 * the trainer finishes a checkpoint write in flight before each "step", so
 * that a kill there finds every earlier checkpoint on disk.  NULL (the
 * default): none.  Set it before rg_train, not during. */
typedef void (*rg_hook_fn)(const char *point, void *ud);
void rg_set_test_hook(rg_hook_fn fn, void *ud);

/* Allocation hook: every allocation of the library goes through these.
 * Passing NULLs restores malloc/free.  Not thread-safe to change mid-run. */
typedef void *(*rg_alloc_fn)(size_t size, void *ud);
typedef void (*rg_free_fn)(void *ptr, void *ud);
void rg_set_allocator(rg_alloc_fn alloc, rg_free_fn free_fn, void *ud);

/* ------------------------------------------------------------------ random */

/* Counter-based generator (Philox-4x32-10).  A draw is a pure function of
 * (seed, purpose, step, index): no hidden state, so results do not depend on
 * which worker or in which order values are drawn. */
enum rg_purpose {
    RG_RNG_INIT = 1, RG_RNG_SHUFFLE = 2, RG_RNG_DROPOUT = 3, RG_RNG_SPLIT = 4,
    RG_RNG_CODEC = 5, RG_RNG_VALSPLIT = 6,
    RG_RNG_FED_SAMPLE = 7, RG_RNG_FED_SHUFFLE = 8,   /* regula fed: clients of a round, their local epochs */
    /* federated (src/fed/): DP noise on the aggregate, who attacks, the
     * noise attack's vectors, clients failing to report, stragglers */
    RG_RNG_DPNOISE = 20, RG_RNG_ATTACK = 21, RG_RNG_ATTACKNOISE = 22,
    RG_RNG_DROPCLIENT = 23, RG_RNG_STRAGGLER = 24,
    RG_RNG_USER = 100
};
void rg_rng4(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index, uint32_t out[4]);
/* Uniform float in [0,1) from the first word of the block. */
float rg_rng_uniform(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index);

/* ------------------------------------------------------------------- BLAS */

/* C = alpha * op(A) * op(B) + beta * C, row-major; ta/tb nonzero transpose.
 * A is op(A): M×K, B: K×N, C: M×N with leading dimensions lda, ldb, ldc.
 * Goes to the kernel rg_sgemm_kernel names (OpenBLAS, LIBXSMM, the
 * fixed-order or the reference kernel). */
void rg_sgemm(int ta, int tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);
/* The portable reference kernel, always available (tests compare the two). */
void rg_sgemm_ref(int ta, int tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);
/* The fixed-order kernel of --deterministic: each element one chain of
 * fused multiply-adds over k in order, then alpha * s (+ beta * c), so the
 * same bits on every x86-64 CPU and vector width (AVX-512, AVX2, scalar;
 * REGULA_ISA=scalar|avx2 forces a narrower path, for tests). */
void rg_sgemm_fixed(int ta, int tb, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc);
/* on != 0: rg_sgemm takes the fixed-order kernel, in this whole process
 * (rg_train sets it from --deterministic for the run). */
void rg_sgemm_set_fixed(int on);
int rg_sgemm_fixed_width(void);    /* 16, 8 or 1: the path taken */
int rg_blas_set_threads(int n);    /* returns threads in effect */
/* Which kernels rg_sgemm takes outside the fixed-order mode (--gemm):
 * AUTO, the default, a fixed rule over the shape and the CPU's
 * instruction set (rg_sgemm_pick); OPENBLAS every product; LIBXSMM every
 * product LIBXSMM has a kernel for.  Never a timing: the same bits run
 * after run. */
typedef enum { RG_GEMM_AUTO, RG_GEMM_OPENBLAS, RG_GEMM_LIBXSMM } rg_gemm;
typedef enum { RG_KERNEL_REFERENCE, RG_KERNEL_OPENBLAS, RG_KERNEL_LIBXSMM, RG_KERNEL_FIXED } rg_kernel;
/* For this whole process (rg_train sets it from --gemm for the run).
 * RG_EUSAGE for LIBXSMM in a build without it. */
rg_status rg_sgemm_set_choice(rg_gemm g);
rg_gemm rg_sgemm_choice(void);
int rg_sgemm_has_libxsmm(void);    /* 1 when built with LIBXSMM */
/* The instruction set LIBXSMM generates code for on a CPU, as the rule
 * reads it: AVX-512, AVX2, or older (where auto takes no LIBXSMM). */
typedef enum { RG_ISA_OLDER = 0, RG_ISA_AVX512 = 1, RG_ISA_AVX2 = 2 } rg_isa;
/* The rule: the kernel that setting g takes for the product rg_sgemm(ta,
 * tb, M, N, K, alpha, ..., beta, ...) on a CPU of instruction set isa.
 * AUTO: LIBXSMM when it has a kernel (tb == 0, alpha 1, beta 0 or 1) and
 * the two dimensions other than the batch (N K when ta == 0, M N when ta:
 * the layer's weights) hold at most 524,288 (2^19) elements on AVX-512, or
 * on AVX2 at most 50,176 with, for a weight gradient (ta), at most 784
 * inputs (N); else OpenBLAS (the reference kernel in a build without
 * OpenBLAS).  Each set of bounds was measured on its instruction set. */
rg_kernel rg_sgemm_pick(rg_gemm g, rg_isa isa, int ta, int tb, int M, int N, int K, float alpha, float beta);
/* The rule for a dense layer's forward Y = X W^T with W stored [out, in]
 * (out x in weights, passes of `rows` rows, beta 1 with a bias, else 0):
 * 1 when it runs as the plain product X (W^T) on a copy of W transposed
 * once a step (the trainer holds the model), 0 when on W as stored.  AUTO:
 * when the rule gives that product to LIBXSMM and the transpose pays: on
 * AVX-512 alone, at least 16 outputs, at most 65,536 weights, at least 32
 * rows (on AVX2 the transpose did not pay on the measured models); LIBXSMM:
 * whenever the rule gives it LIBXSMM; OPENBLAS never.
 * rg_sgemm_held_forward: the same now (0 in the fixed-order mode, whose
 * passes hold every layer on their own). */
int rg_sgemm_pick_held(rg_gemm g, rg_isa isa, int out, int in, int rows, float beta);
int rg_sgemm_held_forward(int out, int in, int rows, float beta);
/* What rg_sgemm takes for that product now (the fixed-order mode, the
 * setting and this CPU), and the kernels' names. */
rg_kernel rg_sgemm_kernel(int ta, int tb, int M, int N, int K, float alpha, float beta);
const char *rg_kernel_name(rg_kernel k);
/* "openblas", "reference", the choice of auto in words; "fixed-order
 * avx512|avx2|scalar" while the fixed-order kernel is on */
const char *rg_blas_name(void);

/* ---------------------------------------------------------------- datasets */

/* A dataset is n samples of d float features and an int32 label each (labels
 * may be absent, e.g. for predict).  Sample i is row i; its global id is i.
 * Byte data (IDX ubyte pixels, sbyte) is kept as bytes, a quarter of the
 * memory, and scaled (and standardised) as rows are read: the floats read
 * are bit for bit those a float copy would hold. */
typedef struct rg_dataset rg_dataset;

typedef struct rg_data_opts {
    int label_column;   /* CSV: 0-based column holding the label; -1 = last; -2 = none */
    int header;         /* CSV: nonzero: the first record holds the columns' names */
    float scale;        /* multiply features; 0 = auto (1/255 for uint8 IDX, else 1) */
    const char *label_name;      /* CSV: the label column by its header name (needs
                                    header; overrides label_column), or NULL */
    const char *const *classes;  /* CSV: class names the labels must be (a model's,
                                    class i = classes[i]), or NULL: see below */
    int n_classes;               /* entries of classes */
    int drop_label;              /* CSV: nonzero: the label column is left out of the
                                    features and not read (unlabeled samples) */
    int targets;                 /* CSV: nonzero: the label column holds regression
                                    targets, any finite numbers (rg_dataset_targets),
                                    instead of classes */
} rg_data_opts;

/* Opens a source: "fashion-mnist" (Debian's dataset-fashion-mnist files),
 * "idx:DIR" (DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) or
 * "csv:FILE".  split is "train" or "test".  For a csv source "test" is an
 * error.  *out owned by the caller (rg_dataset_free). */
rg_status rg_dataset_open(const char *source, const char *split,
                          const rg_data_opts *opts, rg_dataset **out);
/* One IDX image file (gzip or raw) plus an optional label file (NULL). */
rg_status rg_dataset_load_idx(const char *images, const char *labels,
                              float scale, rg_dataset **out);
/* A CSV file per RFC 4180 (quoted fields may hold commas, line ends and
 * quotes written twice); "-" is standard input.  Labels are all numbers
 * (integers in [0, 16777215], each its class) or all names: then the
 * classes are the distinct names in sorted byte order, or opts->classes
 * when given (a label not among them is an error naming line and value).
 * Errors name the file, line and column. */
rg_status rg_dataset_load_csv(const char *path, const rg_data_opts *opts,
                              rg_dataset **out);
/* Builds a dataset from caller arrays (copied).  y may be NULL. */
rg_status rg_dataset_from_arrays(const float *x, const int32_t *y, size_t n,
                                 size_t d, rg_dataset **out);
/* A regression dataset from caller arrays (copied): x (n*d) and n finite
 * targets t (RG_EDATA naming the first that is not). */
rg_status rg_dataset_from_targets(const float *x, const float *t, size_t n, size_t d,
                                  rg_dataset **out);
/* --val-split: n_val samples held out of ds into *val, the rest into
 * *train (both copied, in ds's order), shuffled and stratified: each class
 * gives its share (largest remainders), chosen by keyed draws of seed, so
 * the split depends on the data and the seed only.  A set of regression
 * targets is shuffled alike, not stratified. */
rg_status rg_dataset_split(const rg_dataset *ds, size_t n_val, uint64_t seed, rg_dataset **train,
                           rg_dataset **val);
/* Rows [start, start+count) as a new dataset (copied). */
rg_status rg_dataset_slice(const rg_dataset *ds, size_t start, size_t count,
                           rg_dataset **out);
void rg_dataset_free(rg_dataset *ds);
size_t rg_dataset_size(const rg_dataset *ds);
size_t rg_dataset_features(const rg_dataset *ds);
int rg_dataset_classes(const rg_dataset *ds);   /* max label + 1; 0 if unlabeled */
/* All n*d features as floats.  For byte data the first call makes a float
 * copy (4 bytes a feature, kept until rg_dataset_free; NULL when out of
 * memory): read rows with rg_dataset_rows instead to keep the bytes alone. */
const float *rg_dataset_x(const rg_dataset *ds);
/* Rows [start, start+count) as floats into out (count*d), as training reads
 * them.  RG_EUSAGE when the rows are outside the set. */
rg_status rg_dataset_rows(const rg_dataset *ds, size_t start, size_t count, float *out);
/* Bytes each feature takes in memory: 1 (byte data) or 4 (floats). */
size_t rg_dataset_feature_bytes(const rg_dataset *ds);
const int32_t *rg_dataset_y(const rg_dataset *ds); /* n, or NULL */
const float *rg_dataset_targets(const rg_dataset *ds); /* n regression targets, or NULL */
const char *rg_dataset_name(const rg_dataset *ds); /* file it came from */
/* --standardize.  Per-feature mean and standard deviation of ds's rows
 * (population variance, as Keras' Normalization and scikit-learn's
 * StandardScaler) into mean[d] and std[d]; a constant feature gets std 1,
 * so it standardises to 0 instead of dividing by zero. */
rg_status rg_dataset_moments(const rg_dataset *ds, float *mean, float *std);
/* x = (x - mean) / std per feature, in place.  RG_EDATA (ds unchanged)
 * when a value would overflow a float. */
rg_status rg_dataset_standardize(rg_dataset *ds, const float *mean, const float *std);
/* Class c's name when the labels were names (CSV), else NULL. */
const char *rg_dataset_class_name(const rg_dataset *ds, int c);

/* ------------------------------------------------------------------- model */

typedef struct rg_model rg_model;

/* Parses a spec such as
 *   "dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)"
 * Layers: dense(UNITS[, ACT][, l1=X][, l2=X][, maxnorm=X][, bias=false]),
 * ACT in relu leaky_relu elu tanh sigmoid gelu softmax linear (default
 * linear; leaky_relu's slope is 0.01 and elu's alpha 1, PyTorch's defaults);
 * dropout(RATE) with 0 <= RATE < 1.  The last layer must be dense; its
 * outputs are the classes.  Kernels start Glorot-uniform from
 * (seed, RG_RNG_INIT, layer, index), biases zero. */
rg_status rg_model_create(const char *spec, size_t n_inputs, uint64_t seed,
                          rg_model **out);
void rg_model_free(rg_model *m);
const char *rg_model_spec(const rg_model *m);   /* canonical spec */
size_t rg_model_inputs(const rg_model *m);
size_t rg_model_outputs(const rg_model *m);
/* The parameter arena and the gradient arena: one float buffer each. */
size_t rg_model_param_count(const rg_model *m);
float *rg_model_params(rg_model *m);
float *rg_model_grads(rg_model *m);
/* Dense layers counted from 0.  w is [out, in]; b is [out] or NULL. */
int rg_model_dense_count(const rg_model *m);
rg_status rg_model_dense(rg_model *m, int i, size_t *out, size_t *in,
                         float **w, float **b);

/* The loss a model trains on, from its last dense layer's logits z (its
 * pre-activation when its activation is softmax, sigmoid with bce, or
 * linear; else act(z)):
 *   RG_LOSS_XENT  softmax cross-entropy, labels in [0, outputs);
 *   RG_LOSS_BCE   binary cross-entropy of sigmoid(z), one output, labels
 *                 0 or 1 (computed from z: it never overflows);
 *   RG_LOSS_MSE   (z - t)^2, one output, float targets t (pass->targets);
 *   RG_LOSS_MAE   |z - t|, likewise.
 * A new model's loss is RG_LOSS_BCE when its last layer is dense(1,
 * sigmoid), else RG_LOSS_XENT. */
typedef enum { RG_LOSS_XENT, RG_LOSS_BCE, RG_LOSS_MSE, RG_LOSS_MAE } rg_loss;
/* Sets m's loss: RG_EUSAGE, naming the loss and what the last layer needs
 * (bce: 1 unit, sigmoid or linear; mse, mae: 1 unit, linear), if m's last
 * layer cannot take it.  Clones, shares and saved checkpoints keep it. */
rg_status rg_model_set_loss(rg_model *m, rg_loss loss);
rg_loss rg_model_loss(const rg_model *m);
/* The classes a label may name: outputs (crossentropy), 2 (bce), 0 (mse, mae). */
size_t rg_model_classes(const rg_model *m);
const char *rg_loss_name(rg_loss loss);   /* "crossentropy", "bce", "mse", "mae" */

/* What a model knows of its data beside its weights; checkpoints keep it.
 * Class names: n == outputs distinct names (copied), class i = names[i];
 * NULL clears.  rg_model_class_name: class c's name, NULL when the model
 * has none.  Standardisation (--standardize): per input j, x' = (x -
 * mean[j]) / std[j], finite, std > 0 (copied; NULL clears).  The library
 * does not apply it: callers standardise datasets with
 * rg_dataset_standardize before training, evaluating or predicting.
 * rg_model_standardize: nonzero when the model has one, with its arrays. */
rg_status rg_model_set_classes(rg_model *m, const char *const *names, int n);
const char *rg_model_class_name(const rg_model *m, int c);
rg_status rg_model_set_standardize(rg_model *m, const float *mean, const float *std);
int rg_model_standardize(const rg_model *m, const float **mean, const float **std);

/* A pass over one batch.  sample_ids are global ids (they key dropout masks). */
typedef struct rg_pass {
    uint64_t seed;
    uint64_t step;              /* global step: keys dropout masks */
    const uint64_t *sample_ids; /* n ids, or NULL for 0..n-1 */
    int training;               /* dropout on */
    float label_smoothing;
    float grad_scale;           /* backward computes grad of grad_scale * sum of sample losses */
    int overwrite;              /* backward writes the gradient arena instead of adding to it
                                   (saves rg_model_zero_grad's pass; n must be > 0) */
    const float *class_weight;  /* one per class (rg_model_classes), or NULL: sample i's loss term (and its
                                   gradient) is multiplied by class_weight[y[i]] */
    const float *targets;       /* mse, mae: the n targets (y is then NULL) */
} rg_pass;

void rg_model_zero_grad(rg_model *m);
/* Forward over n rows of x, then, when backward is nonzero and y != NULL,
 * backward: the gradient of pass->grad_scale * (sum of the batch's losses)
 * is added to the gradient arena (written over it with pass->overwrite).
 * pass->training switches dropout on; pass may be NULL (inference).
 * *loss_sum receives the sum of the batch's losses (rg_loss: needs y, or
 * pass->targets for mse and mae); the count of correct predictions
 * (argmax, or p > 0.5 for bce; regression: none) is ADDED to *correct; probs (n x
 * outputs) receives the softmax probabilities (bce: sigmoid(z); mse, mae:
 * the outputs z).  Each may be NULL.  Fails with RG_EDATA on a label
 * outside [0, outputs) (bce: not 0 or 1). */
rg_status rg_model_forward_backward(rg_model *m, const float *x, const int32_t *y,
                                    size_t n, const rg_pass *pass, int backward,
                                    double *loss_sum, size_t *correct, float *probs);
/* Penalty sum_l (l1*|W|_1 + l2*|W|_2^2) over kernels (not biases), times
 * strength.  If grads != NULL its gradient is added to grads. */
double rg_model_penalty(const rg_model *m, float strength, float *grads);
/* Starts a step's gradient at the penalty's: grads = d penalty / d params
 * (zero for biases and unpenalised layers) and returns the penalty, i.e.
 * rg_model_zero_grad + rg_model_penalty in one pass over the arenas.  For
 * local-scope regularization (and one worker), where the penalty gradient
 * belongs to the worker's own gradient before any exchange. */
double rg_model_start_grad(rg_model *m, float strength);
/* Max-norm: rescales each unit's incoming weight vector to norm <= maxnorm. */
void rg_model_apply_constraints(rg_model *m);

/* ---------------------------------------------------------------- optimizer */

typedef enum { RG_OPT_SGD, RG_OPT_ADAM, RG_OPT_ADAMW, RG_OPT_RMSPROP } rg_opt_kind;

typedef struct rg_opt_config {
    rg_opt_kind kind;
    float momentum;       /* SGD; RMSprop (PyTorch's, on g / (sqrt(avg) + eps)) */
    int nesterov;         /* SGD */
    float beta1, beta2, eps;
    float rho;            /* RMSprop: decay of the mean square (PyTorch's alpha) */
    float weight_decay;   /* decoupled: w -= lr * wd * w, any optimizer */
} rg_opt_config;

typedef struct rg_optimizer rg_optimizer;
rg_status rg_optimizer_create(const rg_opt_config *c, size_t n, rg_optimizer **out);
void rg_optimizer_free(rg_optimizer *o);
/* One update of n parameters from grads with learning rate lr.  Follows
 * PyTorch's SGD/Adam/AdamW/RMSprop (not centered) update rules, except
 * that weight decay is always decoupled (w -= lr * wd * w first), for SGD
 * and RMSprop too.  Returns nonzero
 * when a weight it wrote, or a moment that can grow past the gradients
 * (Adam's second, SGD's momentum buffer), is NaN or infinite (found in the
 * same pass): the state is then corrupt and the update cannot be undone.
 * (Adam's first moment never exceeds the largest gradient it took.) */
int rg_optimizer_step(rg_optimizer *o, float *params, const float *grads, float lr);
/* The same update from the gradient grads x scale, each element multiplied
 * as the update reads it (grads is not written): the bits of
 * rg_clip_global_norm's scaling followed by rg_optimizer_step, in one pass
 * over the arenas instead of two.  scale 1: rg_optimizer_step. */
int rg_optimizer_step_scaled(rg_optimizer *o, float *params, const float *grads, float scale, float lr);
/* The largest |gradient element| an update can take without overflowing
 * the optimizer's moments (Adam, RMSprop: 2^63, since they keep g*g; SGD with
 * momentum: a quarter of FLT_MAX x (1 - momentum); plain SGD: FLT_MAX).
 * A step whose gradient exceeds it is treated as non-finite. */
float rg_optimizer_grad_limit(const rg_optimizer *o);
/* Moment arenas, for checkpoints: count of arenas and each one (SGD: the
 * momentum buffer, if any; Adam: m, v; RMSprop: the mean square, then the
 * momentum buffer with --momentum). */
int rg_optimizer_state_count(const rg_optimizer *o);
float *rg_optimizer_state(rg_optimizer *o, int i);
uint64_t rg_optimizer_steps(const rg_optimizer *o);
void rg_optimizer_set_steps(rg_optimizer *o, uint64_t t);
/* Scales grads so that their global L2 norm is at most max_norm; returns the
 * norm before clipping. */
double rg_clip_global_norm(float *grads, size_t n, double max_norm);
/* The factor rg_clip_global_norm scales by for a gradient of this norm
 * (PyTorch's max_norm / (norm + 1e-6)), or 1 when it leaves it alone. */
float rg_clip_factor(double norm, double max_norm);

/* -------------------------------------------------------------- checkpoints */

/* Writes the model as safetensors: dense_<i>.weight [out,in], dense_<i>.bias
 * [out], metadata {"format": RG_CHECKPOINT_FORMAT, "spec": ..., "inputs": ...}.
 * Written to a temporary file, flushed and renamed: never half-written.
 * Refuses (RG_ENONFINITE) to write non-finite weights. */
rg_status rg_model_save(const rg_model *m, const char *path);
/* Creates a model from a checkpoint written by rg_model_save. */
rg_status rg_model_load(const char *path, rg_model **out);
/* Copies weights from a safetensors file into an existing model; a missing
 * tensor or a shape mismatch fails naming the tensor and both shapes. */
rg_status rg_model_load_weights(rg_model *m, const char *path);

/* ------------------------------------------------------- safetensors files */

/* Any safetensors file read for inspection (`regula inspect`): a
 * checkpoint, a training checkpoint, or another program's file.  The
 * reader is the one rg_model_load uses, and checks the whole file (every
 * offset, shape and length) before anything is handed out; tensors may
 * have any name and dtype. */
typedef struct rg_safetensors rg_safetensors;

typedef struct rg_tensor_info {
    const char *name;     /* owned by the file object */
    const char *dtype;    /* "F32", "BF16", "U64", ... (the safetensors names) */
    int ndim;             /* 0 (a scalar) to 8 */
    size_t shape[8];
    size_t count;         /* elements: the product of the shape */
} rg_tensor_info;

/* A tensor's elements as numbers (integers and booleans as their values,
 * F16/BF16/F8 converted to double). */
typedef struct rg_tensor_stats {
    size_t zeros;         /* elements exactly 0 (-0.0 included) */
    size_t nonfinite;     /* NaN or infinite elements */
    double l2;            /* Euclidean norm of the finite elements */
    double max_abs;       /* largest |x| of the finite elements; 0 if none */
    double mean;          /* mean of the finite elements; 0 if none */
} rg_tensor_stats;

/* Reads and checks path.  RG_EIO when it cannot be read, RG_EDATA when it
 * is not a valid safetensors file (the message names the file and what is
 * wrong), RG_ENOMEM.  *out owned by the caller (rg_safetensors_free). */
rg_status rg_safetensors_open(const char *path, rg_safetensors **out);
void rg_safetensors_free(rg_safetensors *f);
size_t rg_safetensors_count(const rg_safetensors *f);
/* Tensor i, 0 <= i < count, in the order of the file's header: its
 * description into *info and, when stats is not NULL, its figures (one
 * pass over its elements).  RG_EUSAGE when i is out of range. */
rg_status rg_safetensors_tensor(const rg_safetensors *f, size_t i, rg_tensor_info *info,
                                rg_tensor_stats *stats);
/* Metadata ("__metadata__"): pair i, 0 <= i < count, in key order;
 * the strings are owned by f. */
size_t rg_safetensors_meta_count(const rg_safetensors *f);
void rg_safetensors_meta(const rg_safetensors *f, size_t i, const char **key, const char **value);

/* ------------------------------------------------------------ configuration */

/* Every setting of `regula train|eval|predict`.  Plain data: strings are
 * fixed buffers so the struct can be copied and hashed. */
typedef struct rg_config {
    char data[512], test_data[512], input[512];
    char label_column[128];   /* csv: a number (0-based; -1 the last), a header name, or "" */
    int header;
    char test_header[8];      /* same | yes | no */
    char test_label_column[128]; /* "": as label_column */
    int standardize;          /* per-feature mean and std of the training set, saved with the model */
    char class_weight[512];   /* "" | balanced | FILE (one weight per line, in class order) */
    float scale;
    double val_split;
    char model[1024];
    char optimizer[16];
    double lr, momentum, beta1, beta2, eps, weight_decay;
    double rho;               /* rmsprop: decay of the mean square */
    char loss[16];            /* auto | crossentropy | bce | mse | mae */
    int nesterov;
    double label_smoothing, clip_norm;
    char lr_schedule[16];
    long warmup, lr_step_epochs;
    double lr_gamma, lr_min;
    long lr_patience;         /* plateau: epochs without improvement before a cut */
    long batch, epochs, limit;
    uint64_t seed;
    int shuffle;
    long early_stop;
    double min_delta;
    char monitor[16];         /* what early stopping and the plateau schedule watch */
    int restore_best;
    char init[512], load[512], save[512], log[512];
    char save_best[512];      /* the best epoch's model, written at each better one */
    long log_every;
    int threads;
    char gemm[16];            /* auto | openblas | libxsmm: the matrix-product kernels */
    int workers;              /* worker threads per process */
    char partition[64];       /* iid | dirichlet:A | quantity:A | shards:K */
    char reg_scope[16];       /* local | global */
    char reg_adapt[16];       /* none | size | skew | divergence */
    int deterministic;
    int det_shards;
    int shard_optimizer;      /* ZeRO-1: 1/N of the update and state per worker */
    long checkpoint_every;    /* steps between training checkpoints; 0 = off */
    int checkpoint_every_epoch; /* a training checkpoint at each epoch's end too */
    char checkpoint_dir[512]; /* where they go (default: --resume's DIR) */
    int keep;                 /* newest checkpoints kept */
    char resume[512];         /* continue from the newest valid checkpoint here */
    double comm_timeout;      /* seconds before a silent MPI peer is declared failed */
    int skip_nonfinite;       /* skip a step with a non-finite loss or gradient */
    char worker_batch[16];    /* proportional | equal: how a skewed partition's
                                 workers share each global batch */
    char strategy[16];        /* allreduce | local-sgd | easgd | easgd-async | hogwild | ps */
    long sync_every;          /* local-sgd: steps between averages; easgd: tau */
    long sync_warmup;         /* local-sgd: synchronous steps first */
    int local_moments;        /* local-sgd: the optimizer's moments averaged at full syncs only */
    double elastic;           /* easgd: the elastic move alpha; 0 = 0.9 / workers */
    char compress[32];        /* none | fp16 | bf16 | sign | topk:R | randk:R | qsgd:L | powersgd:K */
    char error_feedback[8];   /* auto | on | off */
    int compress_update;      /* --compress: each worker runs Adam on its own gradient; the codec carries its update */
    char link[32];            /* BANDWIDTH,LATENCY of an emulated network, or "" */
    char straggler[32];       /* RANK:FACTOR: one worker that many times slower, or "" */
    long dgc_warmup;          /* --compress dgc: epochs of denser messages first */
    int servers;              /* ps: parameter servers (the last ranks) */
    long staleness;           /* ps: steps a worker may run ahead of the slowest */
    int staleness_lr;         /* ps: scale an update by 1 / (its staleness + 1) */
    int pull_first;           /* ps, K > 0: a pull answered before the push sent with it is applied */
    /* regula fed: federated learning over simulated clients; clients > 0
     * makes a run federated (rounds then stand for epochs) */
    int clients;              /* clients, each a part of the data (--partition) */
    long rounds;              /* rounds to train */
    double sample;            /* fraction of the clients drawn each round */
    long local_epochs;        /* a client's passes over its data per round (0: 1) */
    long local_steps;         /* ... or this many local batches (0: local epochs) */
    char algo[16];            /* fedavg | fedprox | scaffold | feddyn | fedadam | fedyogi */
    double mu;                /* fedprox: the proximal term's strength */
    double feddyn_alpha;      /* feddyn: the dynamic regulariser's strength */
    char mu_adapt[16];        /* none | size | skew | divergence: per-client strength */
    double server_lr;         /* the server's step (fedadam, fedyogi: eta) */
    double server_momentum;   /* fedavg, fedprox: FedAvgM's momentum, 0 = off */
    double server_beta1, server_beta2, server_eps;   /* fedadam, fedyogi */
    char aggregate[32];       /* mean | median | trimmed:BETA | krum:F | multikrum:F,M */
    char attack[32];          /* none | signflip[:S] | labelflip | noise:SIGMA */
    double attackers;         /* the share of the clients that attack */
    double dp_clip;           /* DP-FedAvg: each update's norm bound C (0: off) */
    double dp_noise;          /* ... the noise multiplier SIGMA (stddev SIGMA x C on the sum) */
    double dp_delta;          /* ... the delta epsilon is reported at */
    double client_dropout;    /* a sampled client fails to report, with this probability */
    double straggler_frac;    /* a sampled client does a random share of its work, with this probability */
    char client_state[8];     /* auto | memory | disk: where scaffold's and feddyn's per-client state lives */
    char client_state_dir[512]; /* disk: the directory of its scratch file ("": $TMPDIR, else /tmp) */
    /* the front end's (the library reads none of these): how `regula train`
     * shows its progress on stderr, and how much it says */
    char progress[8];         /* auto | bar | lines | none */
    int quiet;                /* no progress and no notes (-q) */
    int verbose;              /* what the run is, and more figures per epoch (-v) */
    /* what `regula predict` and `regula eval` print (the library reads none) */
    int proba;                /* predict: every class's probability, as CSV */
    long top;                 /* predict: the K most likely classes, as CSV; 0 = off */
    int metrics;              /* eval: per-class figures and the confusion matrix */
    char format[8];           /* eval: text | json */
} rg_config;

/* One line of `--help`.  arg is NULL for a flag. */
typedef struct rg_option {
    const char *name;      /* long option without "--", also the JSON key */
    const char *arg;       /* metavariable, e.g. "N", or NULL for a flag */
    const char *commands;  /* which commands take it: "train eval predict" */
    const char *help;
} rg_option;

const rg_option *rg_options(size_t *count);
void rg_config_defaults(rg_config *c);
/* Sets one option by name (dashes or underscores) from its text value; a flag
 * takes NULL, "true" or "false".  Errors name the option and the value. */
rg_status rg_config_set(rg_config *c, const char *name, const char *value);
/* Formats an option's current value (for --help defaults and the log). */
void rg_config_get(const rg_config *c, const char *name, char *buf, size_t cap);
/* Applies a JSON object file of option keys; errors name the file and key. */
rg_status rg_config_load_json(rg_config *c, const char *path);
/* Range checks of each option (lr finite and >= 0, batch > 0, ...) and
 * checks across options (--reg-adapt needs --reg-scope local, ...). */
rg_status rg_config_validate(const rg_config *c);
/* rg_config_validate, and on failure *option (if not NULL) is the index in
 * rg_options() of the option at fault (-1 when no one option is), so that
 * a front end can say where that option came from. */
rg_status rg_config_check(const rg_config *c, int *option);
/* The options of c that change nothing in a run of `processes` processes
 * of c->workers threads each (--momentum with adam, --monitor without
 * --early-stop, --partition with one worker, --sync-every without a
 * strategy that syncs, ...): one line per option, each naming the option,
 * its value and what makes it idle.  Only options that differ from their
 * defaults are listed.  A front end prints them as warnings (regula:
 * "regula: warning: LINE", once, on rank 0).  Returns a malloc'd string
 * (caller frees with free()), "" when there is none, NULL when out of
 * memory.  c should pass rg_config_check first. */
char *rg_config_noops(const rg_config *c, int processes);
/* How to read a CSV source of c: which is "train" (--data: --header,
 * --label-column, default column 0), "test" (--test-data: --test-header and
 * --test-label-column where given, else as "train") or "input" (predict's
 * --input: no label column unless --label-column names one).  label_name
 * points into c. */
rg_data_opts rg_config_data_opts(const rg_config *c, const char *which);
/* The resolved configuration as a JSON object (malloc'd; caller frees with
 * free()), and a 64-bit FNV-1a hash of it. */
char *rg_config_json(const rg_config *c);
uint64_t rg_config_hash(const rg_config *c);

/* ----------------------------------------------------------------- training */

/* regula fed (rg_config.clients > 0): a round's clients, besides the
 * round's (the epoch's) figures.  A client's loss is the mean training
 * loss (with its penalties) over its local steps; its drift the norm of
 * its update ||w_c - w_g||; its accuracy the share of the samples it
 * trained on this round that its model predicted right at the step that
 * took them (as the epoch's running acc), or for a regression its mean
 * absolute error there (as mae); worst: the mean of the worst 10% (at
 * least one client): the highest loss, drift and MAE, the lowest accuracy.  Bytes: what a server would send the
 * sampled clients (the global model) and receive (their updates). */
typedef struct rg_round_stats {
    int clients, trained;      /* sampled; of them, those with samples */
    double client_loss_mean, client_loss_std, client_loss_worst;
    double drift_mean, drift_std, drift_worst;
    double client_acc_mean, client_acc_std, client_acc_worst;   /* regression: the MAE's */
    double bytes_up, bytes_down;
    double factor_min, factor_max; /* --mu-adapt: the trained clients' strength factors */
    double samples;            /* the samples the reporting clients trained on */
    int dropped, stragglers;   /* --client-dropout, --straggler-frac: sampled clients that failed
                                  to report, that did part of their local work */
    int kept;                  /* 1: too few reports for --aggregate's rule, the model was kept */
    int dp;                    /* --dp-clip given: epsilon is meaningful */
    double epsilon;            /* DP: epsilon at --dp-delta after the rounds so far */
} rg_round_stats;

/* A model's figures on a set, no dropout: the mean loss (data + penalty,
 * as Keras reports) and, by the model's loss, the accuracy (classification;
 * NaN for regression) or the mean absolute error and the root mean squared
 * error of its output against the targets (mse, mae; NaN otherwise). */
typedef struct rg_eval_figures {
    double loss, acc, mae, rmse;
} rg_eval_figures;

/* An epoch's figures.  A regression run (--loss mse|mae) has mae and rmse
 * where a classification run has acc (which is then NaN, as mae and rmse
 * are for classification). */
typedef struct rg_epoch_stats {
    int epoch;                 /* 1-based (regula fed: the round) */
    double loss, reg_loss, acc;
    double val_loss, val_acc;  /* NaN when there is no validation set */
    double samples_per_s, seconds;
    double lr;
    const rg_round_stats *round; /* regula fed: the round's clients; NULL otherwise */
    double mae, rmse;          /* the epoch's running MAE, RMSE on its training samples */
    double val_mae, val_rmse;  /* on the validation set; NaN without one */
} rg_epoch_stats;

/* The final model's figures: loss (data + penalty) and accuracy, or MAE
 * and RMSE for a regression loss (as rg_eval_figures), no dropout.  NaN where
 * there is no such set or figure. */
typedef struct rg_train_result {
    double test_loss, test_acc;     /* on the test set; NaN without one */
    double train_loss, train_acc;   /* on the training set (the train-test gap) */
    int epochs_run, stopped_early, best_epoch;
    uint64_t steps;
    uint64_t nonfinite_step;        /* step of the non-finite stop (from 1, as
                                       messages and the log count), 0 if none */
    uint64_t skipped;               /* steps skipped (--skip-nonfinite) */
    double val_loss, val_acc;       /* on the validation set; NaN without one,
                                       and when it is the test set */
    uint64_t left_out;              /* --skip-nonfinite: samples the final figures
                                       left out, their outputs not finite */
    double test_mae, test_rmse;     /* regression: as test_acc, val_acc, train_acc */
    double val_mae, val_rmse;
    double train_mae, train_rmse;
} rg_train_result;

/* Progress callback (the CLI draws its bar from it).  Called after each step
 * with the epoch, samples done in this epoch, epoch size and running loss. */
typedef void (*rg_progress_fn)(int epoch, size_t done, size_t total,
                               double loss, void *ud);

/* What a step callback sees: the epoch in progress so far. */
typedef struct rg_step_stats {
    int epoch;                 /* 1-based */
    size_t done, total;        /* samples of the epoch done (by every worker), its size */
    double loss;               /* running mean loss of the epoch (every worker's) */
    double acc;                /* running accuracy of world rank 0's samples of the
                                  epoch (an estimate of the world's; exact with one
                                  worker); the epoch's own is rg_epoch_stats.acc */
    double mae;                /* regression: likewise, the running MAE (acc NaN) */
} rg_step_stats;
typedef void (*rg_step_fn)(const rg_step_stats *s, void *ud);
/* Called after each epoch's validation with the epoch's figures (those of
 * the log's epoch event). */
typedef void (*rg_epoch_fn)(const rg_epoch_stats *e, void *ud);

/* A run's callbacks, each optional (NULL).  They are called from world
 * rank 0's first worker thread only, between steps: keep them short. */
typedef struct rg_callbacks {
    rg_step_fn step;           /* after each step that was kept */
    rg_epoch_fn epoch;         /* after each epoch */
    void *ud;                  /* passed to both */
} rg_callbacks;

/* Trains m on train; validates on val (may be NULL) after each epoch;
 * evaluates on test (may be NULL) at the end.  Writes the JSON-lines log
 * (c->log) and the final checkpoint (c->save) when set.  Returns
 * RG_ENONFINITE when the loss became non-finite (result->nonfinite_step),
 * and when a figure of the final model is not finite (NaN or infinite: its
 * outputs overflow a float), which leaves nothing saved; with
 * c->skip_nonfinite the final figures leave out the samples whose outputs
 * are not finite instead (result->left_out), and fail only when no sample
 * is left.  result may be NULL. */
rg_status rg_train(const rg_config *c, rg_model *m, const rg_dataset *train,
                   const rg_dataset *val, const rg_dataset *test,
                   rg_progress_fn progress, void *ud, rg_train_result *result);
/* rg_train with callbacks after each step and each epoch (cb may be NULL). */
rg_status rg_train_cb(const rg_config *c, rg_model *m, const rg_dataset *train,
                      const rg_dataset *val, const rg_dataset *test,
                      const rg_callbacks *cb, rg_train_result *result);

/* Distributed runs.  Under mpirun (detected from the launcher's environment)
 * rg_dist_init initialises MPI and makes every later rg_train a world of
 * processes x --workers threads; otherwise it does nothing.  Call it first
 * thing in main, and rg_dist_finalize before exit.  rg_dist_rank/size give
 * this process's rank and the process count (0 and 1 without MPI); only
 * rank 0 writes logs and checkpoints. */
rg_status rg_dist_init(int *argc, char ***argv);
void rg_dist_finalize(void);
/* Seconds an MPI wait may last before the silent peer is declared failed
 * (--comm-timeout; default 30).  Set it right after rg_dist_init so that it
 * covers the set-up too; rg_train sets it again from its configuration. */
void rg_dist_set_timeout(double seconds);
/* For a process that fails before it reaches rg_train (its data did not
 * load, say) while the others go on: every rg_train starts with this same
 * agreement, so call it with the failure and every process stops instead
 * of waiting.  Returns st for the process that failed, RG_ECOMM naming the
 * failed process for the others; RG_OK when nobody failed.  A no-op
 * without MPI. */
rg_status rg_dist_agree(rg_status st);
int rg_dist_rank(void);
int rg_dist_size(void);

/* Mean loss (data + penalty, as Keras reports) and accuracy of m on ds, in
 * batches of `batch` rows (0: 256). */
rg_status rg_evaluate(rg_model *m, const rg_dataset *ds, size_t batch,
                      double *loss, double *acc);
/* All of m's figures on ds (rg_eval_figures), as rg_evaluate; a regression
 * model (rg_model_classes 0) needs ds's targets (rg_dataset_targets). */
rg_status rg_evaluate_figures(rg_model *m, const rg_dataset *ds, size_t batch, rg_eval_figures *f);
/* Class of each sample (argmax; bce: p > 0.5) into classes[n]; batch as rg_evaluate. */
rg_status rg_predict(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes);
/* rg_predict, and each sample's class probabilities (the softmax of the
 * last layer's logits; bce: 1 - p and p = sigmoid) into
 * proba[n x rg_model_classes(m)], row by row; for a regression model
 * (mse, mae), each sample's predicted value into proba[n] (classes is
 * then meaningless).  classes may be NULL. */
rg_status rg_predict_proba(rg_model *m, const rg_dataset *ds, size_t batch, int32_t *classes, float *proba);

#ifdef __cplusplus
}
#endif
#endif
