/*
 * config.c — every setting of `regula train|eval|predict`: names, defaults,
 * parsing from text and from JSON, range checks, canonical JSON and its hash.
 *
 * One table (RG_OPTION_TABLE below) is the single source of truth: each row
 * names an option, its metavariable, the commands that take it, its help
 * line, how its value is stored and where in rg_config.  --help, the JSON
 * keys, rg_config_get and rg_config_json all walk that table, so an option
 * cannot exist in one place and be missing in another.
 *
 * Invariants: a failed rg_config_set or rg_config_load_json leaves the config
 * untouched (JSON is applied to a copy that is committed on success), and
 * rg_config_json(c) loaded back with rg_config_load_json gives c again.
 */
#include "core/core.h"
#include "train/plan.h"
#include "train/train.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

enum opt_kind {
    K_STR,      /* char[] field */
    K_SPEC,     /* char[] field holding a keyword spec ("dirichlet:0.5"), kept in lower case */
    K_COLUMN,   /* char[] field holding a CSV column: an integer, a name, or "" (the default);
                   JSON: a number or a string, written back the same way */
    K_ENUM,     /* char[] field holding one of choices "a|b|c" */
    K_FLAG,     /* int field, 1 when the flag is given */
    K_NFLAG,    /* int field, 0 when the flag is given ("no-shuffle" -> shuffle) */
    K_INT,      /* int field */
    K_LONG,     /* long field */
    K_U64,      /* uint64_t field */
    K_FLOAT,    /* float field */
    K_DOUBLE,   /* double field */
    K_CONFIG    /* no field: names a JSON file to apply (the CLI's --config) */
};

#define CMD_ALL "train eval predict"

/* X(name, arg, commands, kind, field, choices, help) */
#define RG_OPTION_TABLE(X)                                                              \
    X("data", "SOURCE", "train eval fed", K_STR, data, NULL,                                 \
      "data source: fashion-mnist, idx:DIR (DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) or csv:FILE " \
      "(RFC 4180: quoted fields; csv:- reads standard input)") \
    X("test-data", "SOURCE", "train eval fed", K_STR, test_data, NULL,                        \
      "test set: the test split of fashion-mnist or idx:DIR, or a whole csv:FILE; empty: --data's test split " \
      "(a csv has none, so no test set; idx:DIR with --val-split may lack one)")          \
    X("input", "FILE", "predict", K_STR, input, NULL,                                     \
      "samples to classify: an IDX image file (gzip or raw) or csv:FILE (csv:- reads standard input)") \
    X("label-column", "COLUMN", "train eval predict fed", K_COLUMN, label_column, NULL,                     \
      "csv: the label's column: a 0-based number, -1 (the last) or, with --header, its name; default 0 " \
      "(predict: none, every column is a feature; given, predict drops that column)")    \
    X("header", NULL, "train eval predict fed", K_FLAG, header, NULL, "csv: the first line holds the columns' names") \
    X("test-header", "WHEN", "train eval fed", K_ENUM, test_header, "same|yes|no",             \
      "csv: whether --test-data's first line holds names: yes, no, or the same as --header") \
    X("test-label-column", "COLUMN", "train eval fed", K_COLUMN, test_label_column, NULL,      \
      "csv: the label's column in --test-data, as --label-column; default: --label-column's") \
    X("standardize", NULL, "train fed", K_FLAG, standardize, NULL,                              \
      "standardise each feature by the training set's mean and standard deviation (after --val-split; a " \
      "constant feature is only centred); saved with the model, which eval and predict then apply") \
    X("class-weight", "balanced|FILE", "train fed", K_STR, class_weight, NULL,                  \
      "multiply each sample's loss term (and gradient) by its class's weight: balanced = n_samples / " \
      "(n_classes x count of the class), or FILE: one weight per line, in class order; the loss stays " \
      "the sum over the batch / the batch size")                                          \
    X("scale", "X", "train eval predict fed", K_FLOAT, scale, NULL,                                         \
      "multiply features by X; 0 = auto (1/255 for uint8 IDX, else 1)")                   \
    X("val-split", "FRACTION", "train fed", K_DOUBLE, val_split, NULL,                         \
      "hold out FRACTION of the training data for validation, shuffled and stratified by class (drawn " \
      "from --seed); 0 = validate on the test set") \
    X("model", "SPEC", "train fed", K_STR, model, NULL,                                        \
      "layers: dense(UNITS[, ACT][, l1=X][, l2=X][, maxnorm=X][, bias=false]), dropout(RATE); " \
      "ACT: relu leaky_relu elu tanh sigmoid gelu softmax linear; the last layer's UNITS may be auto: the " \
      "number of classes in the data") \
    X("optimizer", "NAME", "train fed", K_ENUM, optimizer, "sgd|adam|adamw|rmsprop",           \
      "sgd, adam, adamw or rmsprop (any case, as every choice)")                          \
    X("lr", "X", "train fed", K_DOUBLE, lr, NULL, "learning rate")                             \
    X("momentum", "X", "train fed", K_DOUBLE, momentum, NULL, "sgd or rmsprop momentum, in [0,1)") \
    X("nesterov", NULL, "train fed", K_FLAG, nesterov, NULL, "sgd: Nesterov momentum (with --momentum > 0)") \
    X("beta1", "X", "train fed", K_DOUBLE, beta1, NULL, "adam/adamw first-moment decay")       \
    X("beta2", "X", "train fed", K_DOUBLE, beta2, NULL, "adam/adamw second-moment decay")      \
    X("eps", "X", "train fed", K_DOUBLE, eps, NULL, "adam/adamw/rmsprop epsilon")            \
    X("rho", "X", "train fed", K_DOUBLE, rho, NULL,                                            \
      "rmsprop: decay of the mean square, in [0,1) (PyTorch's alpha, Keras' rho)")        \
    X("weight-decay", "X", "train fed", K_DOUBLE, weight_decay, NULL,                          \
      "decoupled weight decay: w -= lr * X * w, any optimizer")                           \
    X("loss", "NAME", "train fed", K_ENUM, loss, "auto|crossentropy|bce|mse|mae",              \
      "auto (bce for a last layer dense(1, sigmoid), else crossentropy), crossentropy, bce, or a regression's " \
      "mse or mae (the label column holds numeric targets; the last layer dense(1) or dense(auto))") \
    X("label-smoothing", "X", "train fed", K_DOUBLE, label_smoothing, NULL,                    \
      "label smoothing, in [0,1)")                                                        \
    X("clip-norm", "X", "train fed", K_DOUBLE, clip_norm, NULL,                                \
      "clip the global gradient norm to X; 0 = off")                                      \
    X("lr-schedule", "NAME", "train fed", K_ENUM, lr_schedule, "constant|step|cosine|plateau", \
      "constant, step, cosine or plateau (cut by --lr-gamma when --monitor stops improving)") \
    X("warmup", "N", "train", K_LONG, warmup, NULL,                                        \
      "ramp the learning rate linearly from 0 over N steps")                              \
    X("lr-step-epochs", "N", "train fed", K_LONG, lr_step_epochs, NULL,                        \
      "step schedule: multiply the learning rate by --lr-gamma every N epochs")           \
    X("lr-gamma", "X", "train fed", K_DOUBLE, lr_gamma, NULL, "step and plateau schedules' factor") \
    X("lr-min", "X", "train fed", K_DOUBLE, lr_min, NULL, "cosine and plateau schedules' floor") \
    X("lr-patience", "N", "train fed", K_LONG, lr_patience, NULL,                              \
      "plateau schedule: cut after N epochs without improvement of --monitor")            \
    X("batch", "N", "train eval predict fed", K_LONG, batch, NULL, "batch size")                            \
    X("epochs", "N", "train", K_LONG, epochs, NULL,                                        \
      "epochs to train (--resume may give more, to extend a run, unless --lr-schedule cosine)")                     \
    X("limit", "N", "train fed", K_LONG, limit, NULL,                                          \
      "use only the first N training samples; 0 = all")                                   \
    X("seed", "N", "train fed", K_U64, seed, NULL, "seed of every random draw")                \
    X("no-shuffle", NULL, "train fed", K_NFLAG, shuffle, NULL, "keep the training data in order") \
    X("early-stop", "PATIENCE", "train fed", K_LONG, early_stop, NULL,                         \
      "stop after PATIENCE epochs without improvement; 0 = off")                          \
    X("min-delta", "X", "train fed", K_DOUBLE, min_delta, NULL,                                \
      "early stopping, --save-best and the plateau schedule: smallest change that counts as improvement") \
    X("monitor", "NAME", "train fed", K_ENUM, monitor, "val_loss|val_acc|val_mae",             \
      "early stopping, --save-best and the plateau schedule watch val_loss, val_acc or (regression) val_mae") \
    X("no-restore-best", NULL, "train fed", K_NFLAG, restore_best, NULL,                       \
      "early stopping: keep the last weights, not the best")                              \
    X("init", "FILE", "train fed", K_STR, init, NULL,                                          \
      "start from the weights of this safetensors checkpoint")                            \
    X("load", "FILE", "eval predict", K_STR, load, NULL, "checkpoint to evaluate or use")  \
    X("proba", NULL, "predict", K_FLAG, proba, NULL,                                       \
      "print each class's probability: CSV with a header (class,p_0,p_1,...), a row per sample") \
    X("top", "K", "predict", K_LONG, top, NULL,                                            \
      "print the K most likely classes with their probabilities: CSV (class_1,p_1,...,class_K,p_K); 0 = off") \
    X("metrics", NULL, "eval", K_FLAG, metrics, NULL,                                      \
      "per-class precision, recall, F1 and support, their macro and weighted averages, and the confusion matrix") \
    X("format", "NAME", "eval", K_ENUM, format, "text|json",                                \
      "eval's output: text (a line, and --metrics' tables) or json (one JSON object)")    \
    X("save", "FILE", "train fed", K_STR, save, NULL, "write the trained model here (safetensors)") \
    X("save-best", "FILE", "train fed", K_STR, save_best, NULL,                                  \
      "write the model of the best epoch so far here, at each epoch that beats it (--monitor on the validation " \
      "set; without one, the epoch's training loss or accuracy)")                        \
    X("log", "FILE", "train fed", K_STR, log, NULL, "write JSON-lines events here")            \
    X("log-every", "N", "train fed", K_LONG, log_every, NULL,                                  \
      "log a step event every N steps; 0 = epochs only")                                  \
    X("threads", "N", "train eval predict fed", K_INT, threads, NULL, "BLAS threads")                       \
    X("gemm", "NAME", "train fed", K_ENUM, gemm, "auto|openblas|libxsmm",                     \
      "matrix-product kernels: auto (LIBXSMM for the gradient products of small layers on AVX-512 and AVX2, " \
      "and on AVX-512 for their forward on the weights transposed once a step where that pays, OpenBLAS " \
      "elsewhere: a fixed rule, " \
      "the same bits run to run), openblas, or libxsmm (wherever it has a kernel); " \
      "--deterministic takes its fixed-order kernel whatever this says") \
    X("workers", "N", "train fed", K_INT, workers, NULL,                                       \
      "worker threads per process; the global batch is split across all workers")        \
    X("partition", "SPEC", "train fed", K_SPEC, partition, NULL,                                \
      "spread training data over workers (fed: over clients): iid, dirichlet:ALPHA, quantity:ALPHA, shards:K") \
    X("reg-scope", "NAME", "train fed", K_ENUM, reg_scope, "local|global",                     \
      "penalties: local (each worker, its own strength, before the exchange) or global (once, after)") \
    X("reg-adapt", "NAME", "train", K_ENUM, reg_adapt, "none|size|skew|divergence",        \
      "per-worker penalty strength: none, size, skew or divergence (needs --reg-scope local and a skewed --partition)") \
    X("strategy", "NAME", "train", K_ENUM, strategy, "allreduce|local-sgd|easgd|easgd-async|hogwild|ps", \
      "how workers combine their work: allreduce (synchronous), local-sgd, easgd, easgd-async (a centre rank), hogwild (threads) or ps (parameter servers)") \
    X("sync-every", "H", "train", K_LONG, sync_every, NULL,                                  \
      "local-sgd: local steps between weight averages; easgd, easgd-async: steps between elastic moves") \
    X("sync-warmup", "N", "train", K_LONG, sync_warmup, NULL,                                \
      "local-sgd: the first N steps synchronous (post-local SGD)")                         \
    X("local-moments", NULL, "train", K_FLAG, local_moments, NULL,                           \
      "local-sgd: each worker keeps its own optimizer moments between syncs, which average the weights alone " \
      "(the moments too at an epoch's end and a checkpoint)")                               \
    X("elastic", "ALPHA", "train", K_DOUBLE, elastic, NULL,                                  \
      "easgd, easgd-async: how far a worker and the centre move towards each other; 0 = 0.9 / workers") \
    X("servers", "S", "train", K_INT, servers, NULL,                                        \
      "ps: parameter servers, the last S of the workers (each holds 1/S of the weights)")  \
    X("staleness", "K", "train", K_LONG, staleness, NULL,                                   \
      "ps: steps a worker may run ahead of the slowest; 0 = bulk-synchronous")             \
    X("staleness-lr", NULL, "train", K_FLAG, staleness_lr, NULL,                            \
      "ps: scale each update's learning rate by 1 / (its staleness + 1)")                  \
    X("pull-first", NULL, "train", K_FLAG, pull_first, NULL,                                \
      "ps, K > 0: a server answers a worker's pull before it applies the push sent with it: no wait for " \
      "the optimizer step, reads that lack the worker's own last push (usually 1 step staler)") \
    X("compress", "SPEC", "train", K_SPEC, compress, NULL,                                    \
      "codec for what workers exchange (gradients; local-sgd, easgd: weights; ps: pushes): none, fp16, bf16, sign, " \
      "topk:RATIO, randk:RATIO, qsgd:LEVELS, powersgd:RANK, dgc:RATIO") \
    X("error-feedback", "WHEN", "train", K_ENUM, error_feedback, "auto|on|off",             \
      "keep what a compressed message left out for the next step (auto: on for topk, randk, sign, powersgd; " \
      "refused with qsgd and dgc)") \
    X("compress-update", NULL, "train", K_FLAG, compress_update, NULL,                      \
      "--compress with --optimizer adam: each worker runs Adam on its own gradient and the codec carries its update " \
      "(the optimizer then steps by the workers' mean update)")                              \
    X("dgc-warmup", "EPOCHS", "train", K_LONG, dgc_warmup, NULL,                             \
      "--compress dgc: epochs of denser messages first (25%, 6.25%, ... of the values)")    \
    X("link", "BANDWIDTH,LATENCY", "train", K_STR, link, NULL,                               \
      "emulate a network: every exchange between processes (threads alone: between threads) lasts as long as on this link, e.g. 1gbit,50us") \
    X("straggler", "RANK:FACTOR", "train", K_STR, straggler, NULL,                           \
      "make worker RANK compute FACTOR times slower (a study of asynchrony)")              \
    X("worker-batch", "NAME", "train", K_ENUM, worker_batch, "proportional|equal",          \
      "skewed --partition: each worker takes its share B*n_k/N of every batch (proportional) or B/W until its part runs dry (equal)") \
    X("deterministic", NULL, "train fed", K_FLAG, deterministic, NULL,                         \
      "bitwise-identical results for any worker count (train: any dividing --det-shards)") \
    X("det-shards", "N", "train", K_INT, det_shards, NULL,                                 \
      "deterministic mode: gradient shards per global batch, reduced in a fixed tree")    \
    X("shard-optimizer", NULL, "train", K_FLAG, shard_optimizer, NULL,                     \
      "each worker updates 1/N of the weights with 1/N of the optimizer state (ZeRO-1)")  \
    X("clients", "N", "fed", K_INT, clients, NULL,                                          \
      "fed: simulated clients, each owning a part of the training data (--partition), up to 10000") \
    X("rounds", "R", "fed", K_LONG, rounds, NULL, "fed: rounds to train (a round stands for train's epoch)") \
    X("sample", "FRACTION", "fed", K_DOUBLE, sample, NULL,                                  \
      "fed: fraction of the clients drawn each round, by (--seed, round): the same for any worker count") \
    X("local-epochs", "E", "fed", K_LONG, local_epochs, NULL,                               \
      "fed: each client's passes over its data per round, in batches of --batch; 0 = 1 (or --local-steps)") \
    X("local-steps", "S", "fed", K_LONG, local_steps, NULL,                                 \
      "fed: each client's local batches per round instead of --local-epochs; 0 = off")    \
    X("algo", "NAME", "fed", K_ENUM, algo, "fedavg|fedprox|scaffold|feddyn|fedadam|fedyogi",  \
      "fed: fedavg, fedprox (mu/2 ||w - w_global||^2 in each client's loss), scaffold (control variates), " \
      "feddyn (a dynamic regulariser), fedadam or fedyogi (adaptive server optimizers)") \
    X("mu", "X", "fed", K_DOUBLE, mu, NULL, "fedprox: the proximal term's strength")     \
    X("mu-adapt", "NAME", "fed", K_ENUM, mu_adapt, "none|size|skew|divergence",             \
      "fed: per-client strength of --mu and (--reg-scope local) the L1/L2 penalties, by --reg-adapt's policies " \
      "over the clients: none, size, skew or divergence (of each client's update from the round's mean)") \
    X("feddyn-alpha", "X", "fed", K_DOUBLE, feddyn_alpha, NULL, "feddyn: the dynamic regulariser's strength alpha") \
    X("server-lr", "X", "fed", K_DOUBLE, server_lr, NULL,                                   \
      "fed: the server's step on the mean update (fedavg, fedprox, scaffold: w += X * update; fedadam, fedyogi: eta)") \
    X("server-momentum", "X", "fed", K_DOUBLE, server_momentum, NULL,                       \
      "fedavg, fedprox: the server's momentum on the mean update (FedAvgM), in [0,1); 0 = off") \
    X("server-beta1", "X", "fed", K_DOUBLE, server_beta1, NULL, "fedadam, fedyogi: the server's first-moment decay") \
    X("server-beta2", "X", "fed", K_DOUBLE, server_beta2, NULL, "fedadam, fedyogi: the server's second-moment decay") \
    X("server-eps", "X", "fed", K_DOUBLE, server_eps, NULL,                                 \
      "fedadam, fedyogi: the server's epsilon tau (its second moment starts at tau^2)")   \
    X("aggregate", "RULE", "fed", K_STR, aggregate, NULL,                                   \
      "fed: how the server combines the updates: mean (weighted by samples), median, trimmed:BETA (drop " \
      "floor(BETA n) from each end), krum:F (needs n >= 2F+3 clients a round) or multikrum:F,M") \
    X("attack", "KIND", "fed", K_STR, attack, NULL,                                         \
      "fed: simulated attackers (--attackers of the clients) send -S x their update (signflip[:S], S = 4), " \
      "train on flipped labels (labelflip) or send noise:SIGMA; none = off")               \
    X("attackers", "FRACTION", "fed", K_DOUBLE, attackers, NULL,                            \
      "fed: the share of the clients that attack (--attack), fixed for the run by --seed") \
    X("dp-clip", "C", "fed", K_DOUBLE, dp_clip, NULL,                                       \
      "fed: DP-FedAvg: clip each client's update to L2 norm C; the mean is over the clients sampled; 0 = off") \
    X("dp-noise", "SIGMA", "fed", K_DOUBLE, dp_noise, NULL,                                  \
      "fed: DP-FedAvg: Gaussian noise of stddev SIGMA x C on the sum of the clipped updates") \
    X("dp-delta", "D", "fed", K_DOUBLE, dp_delta, NULL,                                      \
      "fed: DP-FedAvg: epsilon is reported at this delta each round (RDP accountant)")     \
    X("client-dropout", "P", "fed", K_DOUBLE, client_dropout, NULL,                         \
      "fed: a sampled client fails to report with probability P (keyed by seed, round, client)") \
    X("straggler-frac", "F", "fed", K_DOUBLE, straggler_frac, NULL,                         \
      "fed: a sampled client is, with probability F, a straggler that does a random share of its local " \
      "steps; the mean weighs clients by the samples they trained on")                    \
    X("client-state", "WHERE", "fed", K_ENUM, client_state, "auto|memory|disk",             \
      "fed: scaffold's and feddyn's per-client state in memory, or in a scratch file on disk (only the round's " \
      "clients in memory); auto: disk when every client's state would pass 1 GiB") \
    X("client-state-dir", "DIR", "fed", K_STR, client_state_dir, NULL,                      \
      "fed: the directory of --client-state disk's scratch file (unlinked at once); empty: $TMPDIR, else /tmp") \
    X("checkpoint-every", "N", "train", K_LONG, checkpoint_every, NULL,                   \
      "write a training checkpoint every N steps (weights, optimizer, data cursor); 0 = off") \
    X("checkpoint-every-epoch", NULL, "train fed", K_FLAG, checkpoint_every_epoch, NULL,         \
      "write a training checkpoint at the end of each epoch (fed: of each round), beside train's --checkpoint-every") \
    X("checkpoint-dir", "DIR", "train fed", K_STR, checkpoint_dir, NULL,                       \
      "directory for training checkpoints; empty: the --resume directory")                \
    X("keep", "K", "train fed", K_INT, keep, NULL, "keep the newest K training checkpoints")    \
    X("resume", "DIR", "train fed", K_STR, resume, NULL,                                       \
      "continue from the newest valid checkpoint in DIR (start afresh if it has none)")    \
    X("comm-timeout", "SECONDS", "train fed", K_DOUBLE, comm_timeout, NULL,                    \
      "MPI: a peer silent this long is declared failed; every survivor exits with code 5") \
    X("skip-nonfinite", NULL, "train fed", K_FLAG, skip_nonfinite, NULL,                       \
      "skip a step whose loss or gradient is NaN/Inf on any worker (counted in the log) instead of stopping, " \
      "and leave samples whose outputs are not finite out of the final figures")         \
    X("progress", "WHEN", "train fed", K_ENUM, progress, "auto|bar|lines|none",                 \
      "progress on stderr: bar, lines (one per epoch: batch jobs, | tee, nohup) or none; auto: a bar on a " \
      "terminal (under mpirun: mpirun's), else lines")                                    \
    X("quiet", NULL, "train fed", K_FLAG, quiet, NULL,                                         \
      "no progress and no notes (results, warnings and errors still print)")          \
    X("verbose", NULL, "train fed", K_FLAG, verbose, NULL,                                     \
      "what the run is (data, model, workers) before it starts, and lr and penalty per epoch") \
    X("config", "FILE.json", "train eval predict fed", K_CONFIG, data, NULL,                                \
      "apply the settings of this JSON object first; the command line wins")

#define FIELD_SIZE(f) sizeof(((rg_config *)0)->f)

#define PUBLIC_ROW(name, arg, cmds, kind, field, choices, help) {name, arg, cmds, help},
static const rg_option g_options[] = {RG_OPTION_TABLE(PUBLIC_ROW)};

typedef struct opt_spec {
    enum opt_kind kind;
    size_t offset, size;
    const char *choices;
} opt_spec;

#define SPEC_ROW(name, arg, cmds, kind, field, choices, help) \
    {kind, offsetof(rg_config, field), FIELD_SIZE(field), choices},
static const opt_spec g_specs[] = {RG_OPTION_TABLE(SPEC_ROW)};

#define N_OPTIONS (sizeof g_options / sizeof g_options[0])

const rg_option *rg_options(size_t *count)
{
    if (count) *count = N_OPTIONS;
    return g_options;
}

void rg_config_defaults(rg_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data, sizeof c->data, "fashion-mnist");
    snprintf(c->test_header, sizeof c->test_header, "same");
    c->scale = 0.0f;
    c->val_split = 0.0;
    snprintf(c->model, sizeof c->model,
             "dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)");
    snprintf(c->optimizer, sizeof c->optimizer, "adam");
    c->lr = 0.001;
    c->momentum = 0.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->rho = 0.99;
    snprintf(c->loss, sizeof c->loss, "auto");
    c->eps = 1e-7;
    c->weight_decay = 0.0;
    snprintf(c->lr_schedule, sizeof c->lr_schedule, "constant");
    c->warmup = 0;
    c->lr_step_epochs = 3;
    c->lr_gamma = 0.1;
    c->lr_min = 0.0;
    c->lr_patience = 10;
    c->batch = 32;
    c->epochs = 10;
    c->limit = 0;
    c->seed = 1;
    c->shuffle = 1;
    c->early_stop = 0;
    c->min_delta = 0.0;
    snprintf(c->monitor, sizeof c->monitor, "val_loss");
    c->restore_best = 1;
    c->log_every = 100;
    c->threads = 1;
    snprintf(c->gemm, sizeof c->gemm, "auto");
    c->workers = 1;
    snprintf(c->partition, sizeof c->partition, "iid");
    snprintf(c->reg_scope, sizeof c->reg_scope, "global");
    snprintf(c->reg_adapt, sizeof c->reg_adapt, "none");
    snprintf(c->worker_batch, sizeof c->worker_batch, "proportional");
    snprintf(c->strategy, sizeof c->strategy, "allreduce");
    c->sync_every = 8;
    c->sync_warmup = 0;
    c->elastic = 0.0;
    c->servers = 1;
    c->staleness = 4;
    c->staleness_lr = 0;
    c->pull_first = 0;
    snprintf(c->compress, sizeof c->compress, "none");
    snprintf(c->error_feedback, sizeof c->error_feedback, "auto");
    c->dgc_warmup = 4;
    c->det_shards = 8;
    c->keep = 3;
    c->comm_timeout = 30.0;
    c->clients = 0;
    c->rounds = 10;
    c->sample = 0.1;
    snprintf(c->algo, sizeof c->algo, "fedavg");
    c->mu = 0.01;
    c->feddyn_alpha = 0.01;
    snprintf(c->mu_adapt, sizeof c->mu_adapt, "none");
    c->server_lr = 1.0;
    c->server_momentum = 0.0;
    c->server_beta1 = 0.9;
    c->server_beta2 = 0.99;
    c->server_eps = 1e-3;
    snprintf(c->aggregate, sizeof c->aggregate, "mean");
    snprintf(c->attack, sizeof c->attack, "none");
    snprintf(c->client_state, sizeof c->client_state, "auto");
    c->dp_delta = 1e-5;
    snprintf(c->progress, sizeof c->progress, "auto");
    snprintf(c->format, sizeof c->format, "text");
}

/* ------------------------------------------------------------ lookup */

/* Option names compare with '_' and '-' as the same character, so JSON
 * keys may be written either way. */
static int name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y) return 0;
        if (!x) return 1;
    }
}

static int find_option(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (name_eq(g_options[i].name, name)) return (int)i;
    return -1;
}

int rg_option_index(const char *name) { return find_option(name); }

/* Edit distance, capped: for "did you mean" hints on a misspelt option. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            char x = a[i - 1] == '_' ? '-' : a[i - 1], y = b[j - 1];
            size_t best = diag + (x != y);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Names other tools use (Keras, PyTorch, their scripts), and what regula
 * calls them: a hint where edit distance finds nothing. */
static const struct { const char *name, *hint; } g_aliases[] = {
    { "learning-rate", "regula calls it --lr" },
    { "alpha", "rmsprop's decay (PyTorch's alpha) is --rho" },
    { "batch-size", "regula calls it --batch" },
    { "validation-split", "regula calls it --val-split" },
    { "validation-data", "--test-data FILE is validated on when there is no --val-split" },
    { "patience", "regula calls it --early-stop PATIENCE" },
    { "early-stopping", "regula calls it --early-stop PATIENCE" },
    { "num-epochs", "regula calls it --epochs" },
    { "n-epochs", "regula calls it --epochs" },
    { "max-epochs", "regula calls it --epochs" },
    { "restore-best-weights", "early stopping restores the best weights unless --no-restore-best" },
    { "dropout", "dropout is a layer of --model: 'dense(64, relu) dropout(0.5) dense(10, softmax)'" },
    { "l1", "a penalty is an option of a dense layer in --model: 'dense(64, relu, l1=1e-4)'" },
    { "l2", "a penalty is an option of a dense layer in --model: 'dense(64, relu, l2=0.01)'" },
    { "kernel-regularizer", "a penalty is an option of a dense layer in --model: 'dense(64, relu, l2=0.01)'" },
    { "device", "regula trains on CPUs: --workers N threads, or mpirun" },
    { "gpus", "regula trains on CPUs: --workers N threads, or mpirun" },
    { "num-workers", "regula calls it --workers (threads that share each batch)" },
    { "checkpoint", "--save FILE writes the model; --checkpoint-every N with --checkpoint-dir DIR, training checkpoints" },
};

static rg_status unknown_option(const char *prefix, const char *name)
{
    for (size_t i = 0; i < sizeof g_aliases / sizeof *g_aliases; i++)
        if (name_eq(g_aliases[i].name, name))
            return rg_error(RG_EUSAGE, "%sunknown option --%s (%s)", prefix, name, g_aliases[i].hint);
    size_t best = 3;
    const char *hint = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        size_t d = edit_distance(name, g_options[i].name);
        /* a hint only when most of the name survives: --foo is not --log */
        if (d < best && d * 3 <= strlen(name) + 1) {
            best = d;
            hint = g_options[i].name;
        }
    }
    if (hint)
        return rg_error(RG_EUSAGE, "%sunknown option --%s (did you mean --%s?)", prefix, name, hint);
    return rg_error(RG_EUSAGE, "%sunknown option --%s", prefix, name);
}

/* ------------------------------------------------------------ parsing */

/* Strict numbers: the whole string must parse, no leading space, finite. */
static int parse_double(const char *s, double *out, char *why, size_t cap)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s)) {
        snprintf(why, cap, "'%s' is not a number", s ? s : "");
        return 0;
    }
    errno = 0;
    double v = strtod(s, &end);
    if (*end) {
        snprintf(why, cap, "'%s' is not a number", s);
        return 0;
    }
    if (!isfinite(v)) {
        snprintf(why, cap, "'%s' is not a finite number", s);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_long(const char *s, long lo, long hi, long *out, char *why, size_t cap)
{
    char *end;
    if (!s || !*s || isspace((unsigned char)*s)) {
        snprintf(why, cap, "'%s' is not an integer", s ? s : "");
        return 0;
    }
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end) {
        snprintf(why, cap, "'%s' is not an integer", s);
        return 0;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        snprintf(why, cap, "'%s' is out of range [%ld, %ld]", s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_u64(const char *s, uint64_t *out, char *why, size_t cap)
{
    char *end;
    /* strtoull would accept "-1" and wrap it; a seed is digits only. */
    if (!s || !isdigit((unsigned char)*s)) {
        snprintf(why, cap, "'%s' is not a non-negative integer", s ? s : "");
        return 0;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) {
        snprintf(why, cap, "'%s' is not a non-negative integer", s);
        return 0;
    }
    if (errno == ERANGE) {
        snprintf(why, cap, "'%s' is out of range", s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* "a|b|c" -> "a, b or c" */
static void format_choices(const char *choices, char *buf, size_t cap)
{
    size_t n = 0, bars = 0;
    for (const char *p = choices; *p; p++) bars += *p == '|';
    buf[0] = 0;
    for (const char *p = choices; *p && n + 5 < cap; p++) {
        if (*p == '|') {
            const char *sep = --bars ? ", " : " or ";
            n += (size_t)snprintf(buf + n, cap - n, "%s", sep);
        } else {
            buf[n++] = *p;
            buf[n] = 0;
        }
    }
}

/* The choice of "a|b|c" that v names (in any case when fold), and its
 * length; NULL when none. */
static const char *choice_find(const char *choices, const char *v, int fold, size_t *len)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p), k = 0;
        while (k < l && k < n && (fold ? tolower((unsigned char)v[k]) == p[k] : v[k] == p[k])) k++;
        if (l == n && n && k == l) {
            *len = l;
            return p;
        }
        if (!bar) break;
        p = bar + 1;
    }
    return NULL;
}

/* a stored value: exactly one of the choices */
static int choice_ok(const char *choices, const char *v)
{
    size_t len;
    return choice_find(choices, v, 0, &len) != NULL;
}

/* Sets option i of c from text.  On failure writes the reason (without the
 * option name, which the caller adds in its own form) and leaves c as is. */
static rg_status set_text(rg_config *c, size_t i, const char *value, char *why, size_t cap)
{
    const opt_spec *s = &g_specs[i];
    char *field = (char *)c + s->offset;
    double d;
    long l;
    uint64_t u;

    if (s->kind == K_FLAG || s->kind == K_NFLAG) {
        int on;
        if (!value || !strcmp(value, "true")) on = 1;
        else if (!strcmp(value, "false")) on = 0;
        else {
            snprintf(why, cap, "expected true or false, got '%s'", value);
            return RG_EUSAGE;
        }
        *(int *)field = s->kind == K_FLAG ? on : !on;
        return RG_OK;
    }
    if (!value) {
        snprintf(why, cap, "expects a value (%s)", g_options[i].arg);
        return RG_EUSAGE;
    }
    switch (s->kind) {
    case K_ENUM: {
        size_t len;
        const char *choice = choice_find(s->choices, value, 1, &len);   /* --optimizer Adam is adam */
        if (!choice) {
            char list[128];
            format_choices(s->choices, list, sizeof list);
            snprintf(why, cap, "unknown value '%s' (expected %s)", value, list);
            return RG_EUSAGE;
        }
        memcpy(field, choice, len);
        field[len] = 0;
        return RG_OK;
    }
    case K_STR:
    case K_SPEC:
    case K_COLUMN:
        if (strlen(value) >= s->size) {
            snprintf(why, cap, "value is too long (at most %zu characters)", s->size - 1);
            return RG_EUSAGE;
        }
        for (size_t k = 0; value[k]; k++)   /* Dirichlet:0.5 is dirichlet:0.5 */
            field[k] = s->kind == K_SPEC ? (char)tolower((unsigned char)value[k]) : value[k];
        field[strlen(value)] = 0;
        return RG_OK;
    case K_INT:
        if (!parse_long(value, INT_MIN, INT_MAX, &l, why, cap)) return RG_EUSAGE;
        *(int *)field = (int)l;
        return RG_OK;
    case K_LONG:
        if (!parse_long(value, LONG_MIN, LONG_MAX, &l, why, cap)) return RG_EUSAGE;
        *(long *)field = l;
        return RG_OK;
    case K_U64:
        if (!parse_u64(value, &u, why, cap)) return RG_EUSAGE;
        *(uint64_t *)field = u;
        return RG_OK;
    case K_FLOAT:
        if (!parse_double(value, &d, why, cap)) return RG_EUSAGE;
        if (fabs(d) > FLT_MAX) {
            snprintf(why, cap, "'%s' is out of range for a float", value);
            return RG_EUSAGE;
        }
        *(float *)field = (float)d;
        return RG_OK;
    case K_DOUBLE:
        if (!parse_double(value, &d, why, cap)) return RG_EUSAGE;
        *(double *)field = d;
        return RG_OK;
    default:
        snprintf(why, cap, "cannot be set here");
        return RG_EUSAGE;
    }
}

rg_status rg_config_set(rg_config *c, const char *name, const char *value)
{
    int i = find_option(name);
    if (i < 0) return unknown_option("", name ? name : "");
    if (g_specs[i].kind == K_CONFIG) {
        if (!value || !*value) return rg_error(RG_EUSAGE, "--config expects a value (FILE.json)");
        return rg_config_load_json(c, value);
    }
    char why[600];
    rg_status st = set_text(c, (size_t)i, value, why, sizeof why);
    if (st) return rg_error(st, "--%s: %s", g_options[i].name, why);
    return RG_OK;
}

/* ------------------------------------------------------------ formatting */

/* Shortest text that reads back as the same double: 0.001, not
 * 0.0010000000000000000208. */
static void fmt_double(char *buf, size_t cap, double v)
{
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void fmt_float(char *buf, size_t cap, float v)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, cap, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

/* The value of option i as text; *is_text says whether JSON needs quotes. */
/* A CSV column given as a number: the whole text an integer (else a name,
 * or "" for the default). */
static int column_number(const char *t, long *out)
{
    char *e;
    if (!*t) return 0;
    errno = 0;
    long v = strtol(t, &e, 10);
    if (*e || errno) return 0;
    *out = v;
    return 1;
}

rg_data_opts rg_config_data_opts(const rg_config *c, const char *which)
{
    int test = !strcmp(which, "test"), input = !strcmp(which, "input");
    const char *col = test && c->test_label_column[0] ? c->test_label_column : c->label_column;
    rg_data_opts o = { .label_column = input ? -2 : 0, .scale = c->scale };
    o.header = test && strcmp(c->test_header, "same") ? !strcmp(c->test_header, "yes") : c->header;
    long n;
    if (column_number(col, &n)) o.label_column = (int)n;
    else if (*col) o.label_name = col;
    o.drop_label = input && *col;   /* predict: a column given is a label to leave out */
    o.targets = !input && (!strcmp(c->loss, "mse") || !strcmp(c->loss, "mae"));
    return o;
}

static void format_value(const rg_config *c, size_t i, char *buf, size_t cap, int *is_text)
{
    const opt_spec *s = &g_specs[i];
    const char *field = (const char *)c + s->offset;
    *is_text = 0;
    if (!cap) return;
    buf[0] = 0;
    switch (s->kind) {
    case K_STR:
    case K_SPEC:
    case K_ENUM:
    case K_COLUMN:
        /* The field may be unterminated if a caller wrote the struct itself. */
        snprintf(buf, cap, "%.*s", (int)strnlen(field, s->size), field);
        /* a column number is a number in JSON, as before names were allowed */
        *is_text = s->kind != K_COLUMN || !column_number(buf, &(long){0});
        break;
    case K_FLAG: snprintf(buf, cap, "%s", *(const int *)field ? "true" : "false"); break;
    case K_NFLAG: snprintf(buf, cap, "%s", *(const int *)field ? "false" : "true"); break;
    case K_INT: snprintf(buf, cap, "%d", *(const int *)field); break;
    case K_LONG: snprintf(buf, cap, "%ld", *(const long *)field); break;
    case K_U64: snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)field); break;
    case K_FLOAT: fmt_float(buf, cap, *(const float *)field); break;
    case K_DOUBLE: fmt_double(buf, cap, *(const double *)field); break;
    case K_CONFIG: *is_text = 1; break;
    }
}

void rg_config_get(const rg_config *c, const char *name, char *buf, size_t cap)
{
    int is_text, i = find_option(name);
    if (!cap) return;
    buf[0] = 0;
    if (i >= 0) format_value(c, (size_t)i, buf, cap, &is_text);
}

/* A growing string for rg_config_json.  Its result is freed by the caller
 * with free() (the header's contract), so it uses malloc, not rg_malloc. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->failed) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_str(b, esc);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

char *rg_config_json(const rg_config *c)
{
    sbuf b = {0};
    char val[1100];
    sb_put(&b, "{", 1);
    int first = 1;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        int is_text;
        if (g_specs[i].kind == K_CONFIG) continue;  /* how settings arrived, not a setting */
        if (!first) sb_put(&b, ", ", 2);
        first = 0;
        sb_json_string(&b, g_options[i].name);
        sb_put(&b, ": ", 2);
        format_value(c, i, val, sizeof val, &is_text);
        if (is_text) sb_json_string(&b, val);
        else if (!strcmp(val, "nan") || !strcmp(val, "-nan") || strstr(val, "inf"))
            sb_str(&b, "null");  /* JSON has no NaN; validate rejects these anyway */
        else sb_str(&b, val);
    }
    sb_put(&b, "}", 1);
    if (b.failed) {
        free(b.p);
        rg_error(RG_ENOMEM, "out of memory formatting the configuration");
        return NULL;
    }
    return b.p;
}

uint64_t rg_config_hash(const rg_config *c)
{
    /* what was trained, not where it was written: two runs that differ only
     * in their output files (or how often they log) hash the same */
    rg_config t = *c;
    t.log[0] = t.save[0] = t.load[0] = t.input[0] = 0;
    t.log_every = 0;
    t.checkpoint_every = 0;
    t.checkpoint_every_epoch = 0;
    t.save_best[0] = 0;
    t.checkpoint_dir[0] = t.resume[0] = 0;
    t.keep = 3;
    t.comm_timeout = 30.0;
    snprintf(t.progress, sizeof t.progress, "auto");   /* how the run is shown */
    t.quiet = t.verbose = 0;
    t.proba = t.metrics = 0;                           /* what eval and predict print */
    t.top = 0;
    snprintf(t.format, sizeof t.format, "text");
    snprintf(t.client_state, sizeof t.client_state, "auto");   /* where fed keeps state: the same bits */
    t.client_state_dir[0] = 0;
    char *json = rg_config_json(&t);
    if (!json) return 0;
    uint64_t h = rg_fnv1a(RG_FNV_INIT, json, strlen(json));
    free(json);
    return h;
}

/* Options a resumed run may change: where things are written, how often,
 * how the work is spread (the data cursor is global), and timeouts. */
static const char *const g_resume_free[] = {
    "log", "log-every", "save", "save-best", "load", "input", "init", "threads", "gemm", "workers",
    "shard-optimizer", "checkpoint-every", "checkpoint-every-epoch", "checkpoint-dir", "keep", "resume",
    "comm-timeout", "progress", "quiet", "verbose", "proba", "top", "metrics", "format", "client-state",
    "client-state-dir", NULL
};

void rg_config_resume_normalise(rg_config *c)
{
    rg_config d;
    rg_config_defaults(&d);
    for (const char *const *k = g_resume_free; *k; k++) {
        int i = find_option(*k);
        RG_ASSERT(i >= 0);
        memcpy((char *)c + g_specs[i].offset, (const char *)&d + g_specs[i].offset, g_specs[i].size);
    }
}

/* 1 when x, an option newer than a checkpoint, asks for what runs did
 * before it existed (saved: the checkpoint's configuration): such a run
 * may resume from it. */
static int legacy_match(const cJSON *x, const cJSON *saved)
{
    const char *key = x->string, *then = NULL;
    double num = 0.0;
    int is_num = 0;
    if (name_eq(key, "worker-batch")) {
        /* skewed partitions took equal shares; iid was always proportional */
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(saved, "partition");
        then = cJSON_IsString(p) && !strcmp(p->valuestring, "iid") ? "proportional" : "equal";
    } else if (name_eq(key, "strategy")) {
        then = "allreduce";
    } else if (name_eq(key, "compress")) {
        then = "none";
    } else if (name_eq(key, "error-feedback")) {
        then = "auto";
    } else if (name_eq(key, "sync-every")) {
        num = 8, is_num = 1;
    } else if (name_eq(key, "dgc-warmup")) {
        num = 4, is_num = 1;
    } else if (name_eq(key, "sync-warmup") || name_eq(key, "elastic")) {
        num = 0, is_num = 1;
    } else if (name_eq(key, "servers")) {
        num = 1, is_num = 1;
    } else if (name_eq(key, "staleness")) {
        num = 4, is_num = 1;
    } else if (name_eq(key, "staleness-lr") || name_eq(key, "compress-update") || name_eq(key, "pull-first") ||
               name_eq(key, "local-moments")) {
        return cJSON_IsFalse(x);
    }
    if (then) return cJSON_IsString(x) && !strcmp(x->valuestring, then);
    return is_num && cJSON_IsNumber(x) && x->valuedouble == num;
}

/* A resumed run may have another --epochs (a finished run extended, say)
 * when its schedule does not depend on the run's length: the steps done
 * are then the same steps whatever the length.  RG_OK, or why not. */
static rg_status epochs_may_change(const rg_config *c, const cJSON *saved, const char *what)
{
    rg_plan p;
    rg_status st = rg_plan_resolve(c, &p, NULL);
    if (st != RG_OK || !rg_lr_depends_on_length(&p.lr)) return st;
    return rg_error(RG_EUSAGE, "--resume: %s was trained with --epochs %.0f, this run has %ld; --lr-schedule %s spreads "
                    "its decay over the whole run, so in a run of %ld epochs every rate it already used would have been "
                    "another: it cannot go on from this checkpoint (train afresh with --epochs %ld; a run whose "
                    "--lr-schedule is constant or step can be extended)", what, saved->valuedouble, c->epochs,
                    c->lr_schedule, c->epochs, c->epochs);
}

/* regula fed's --local-epochs 0 (the default) is 1 pass when no
 * --local-steps is given, and with --local-steps both runs have 0 (the
 * two are refused together): 0 and 1 train the same thing. */
static int same_local_epochs(const cJSON *x, const cJSON *y)
{
    if (!name_eq(x->string, "local-epochs") || !cJSON_IsNumber(x) || !cJSON_IsNumber(y)) return 0;
    double a = x->valuedouble, b = y->valuedouble;
    return (a == 0.0 ? 1.0 : a) == (b == 0.0 ? 1.0 : b);
}

static int algo_is(const cJSON *config, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(config, "algo");
    return cJSON_IsString(x) && !strcmp(x->valuestring, name);
}

/* regula fed's options that change no weight, so a resumed run may change
 * them: --dp-delta only sets the delta at which epsilon is reported (the
 * accountant recomputes epsilon from the rounds so far each round, dp.c;
 * the resumed round's figure is recomputed at the new delta, fed.c), and
 * --mu is read by fedprox alone (both runs share the algorithm). */
static int trains_nothing(const cJSON *x, const cJSON *was, const cJSON *now)
{
    if (name_eq(x->string, "dp-delta")) return 1;
    return name_eq(x->string, "mu") && !algo_is(was, "fedprox") && !algo_is(now, "fedprox");
}

rg_status rg_config_resume_check(const rg_config *c, const char *saved_json, const char *what)
{
    char *now = rg_config_json(c);
    if (!now) return RG_ENOMEM;
    cJSON *a = cJSON_Parse(saved_json), *b = cJSON_Parse(now);
    free(now);
    rg_status st = RG_OK;
    if (!a || !b || !cJSON_IsObject(a)) {
        st = rg_error(RG_EDATA, "%s: its stored configuration is not a JSON object", what);
        goto done;
    }
    /* a train checkpoint for regula fed, or a round's for regula train: say so, not "--clients 0" */
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(a, "clients"), *is = cJSON_GetObjectItemCaseSensitive(b, "clients");
    int was_fed = cJSON_IsNumber(was) && was->valuedouble > 0, is_fed = cJSON_IsNumber(is) && is->valuedouble > 0;
    if (was_fed != is_fed) {
        st = rg_error(RG_EUSAGE, "--resume: %s is a checkpoint of regula %s, and this run is regula %s: a run resumes "
                      "only from its own kind's checkpoints (--init FILE starts a run from a file's weights)",
                      what, was_fed ? "fed" : "train", is_fed ? "fed" : "train");
        goto done;
    }
    for (const cJSON *x = b->child; x; x = x->next) {
        int free_key = 0;
        for (const char *const *k = g_resume_free; *k; k++) free_key |= name_eq(*k, x->string);
        if (free_key) continue;
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(a, x->string);
        if (y && cJSON_Compare(x, y, 1)) continue;
        /* regula fed's rounds stand for epochs */
        if (y && cJSON_IsNumber(y) && (name_eq(x->string, "epochs") || name_eq(x->string, "rounds"))) {
            if ((st = epochs_may_change(c, y, what)) != RG_OK) goto done;
            continue;
        }
        if (!y && legacy_match(x, a)) continue;
        if (y && same_local_epochs(x, y)) continue;
        if (is_fed && trains_nothing(x, a, b)) continue;
        char *vx = cJSON_PrintUnformatted(x), *vy = y ? cJSON_PrintUnformatted(y) : NULL;
        st = rg_error(RG_EUSAGE, "--resume: %s was trained with --%s %s, this run has %s; "
                      "a resumed run must train the same thing (only outputs, --workers, --threads, --gemm, the MPI "
                      "process count, %s", what, x->string, vy ? vy : "(unset)", vx ? vx : "?",
                      is_fed ? "--init, checkpoint options, --client-state, --client-state-dir, --comm-timeout, "
                               "--dp-delta, --mu outside fedprox and --rounds may change)"
                             : "--shard-optimizer, --init, checkpoint options, --comm-timeout and, unless the "
                               "schedule is cosine, --epochs may change)");
        free(vx);
        free(vy);
        goto done;
    }
done:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return st;
}

/* ------------------------------------------------------------ JSON files */

static const char *json_type_name(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

static rg_status read_whole_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rg_error(RG_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = rg_malloc(cap);
    if (!buf) {
        fclose(f);
        return rg_error(RG_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            /* A configuration is a few kilobytes; refuse something absurd. */
            if (cap >= (64u << 20)) {
                fclose(f);
                rg_free(buf);
                return rg_error(RG_EUSAGE, "%s: larger than 64 MiB, not a configuration file", path);
            }
            char *nb = rg_malloc(cap * 2);
            if (!nb) {
                fclose(f);
                rg_free(buf);
                return rg_error(RG_ENOMEM, "%s: out of memory", path);
            }
            memcpy(nb, buf, n);
            rg_free(buf);
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        rg_free(buf);
        return rg_error(RG_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return RG_OK;
}

/* A JSON key is an option name, or a natural positive spelling of a
 * negated flag ("shuffle": false is "no-shuffle": true). */
static int find_json_key(const char *key, int *invert)
{
    *invert = 0;
    int i = find_option(key);
    if (i < 0 && name_eq(key, "shuffle")) {
        i = find_option("no-shuffle");
        *invert = 1;
    } else if (i < 0 && name_eq(key, "restore-best")) {
        i = find_option("no-restore-best");
        *invert = 1;
    }
    return i;
}

/* Applies one key of a JSON object to c; errors name the file and key. */
static rg_status apply_json_item(rg_config *c, const char *path, const cJSON *item)
{
    const char *key = item->string;
    char why[600], text[64];
    int invert;
    int i = find_json_key(key, &invert);
    if (i < 0) {
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%s: key '%s': ", path, key);
        return unknown_option(prefix, key);
    }
    const opt_spec *s = &g_specs[i];
    const char *value = NULL;
    switch (s->kind) {
    case K_CONFIG:
        return rg_error(RG_EUSAGE, "%s: key '%s': a configuration file cannot name another", path, key);
    case K_FLAG:
    case K_NFLAG:
        if (!cJSON_IsBool(item))
            return rg_error(RG_EUSAGE, "%s: key '%s': expected true or false, got %s", path, key,
                            json_type_name(item));
        value = (cJSON_IsTrue(item) != invert) ? "true" : "false";
        break;
    case K_COLUMN:
        if (cJSON_IsNumber(item)) {
            if (item->valuedouble != floor(item->valuedouble) || fabs(item->valuedouble) >= 1e9)
                return rg_error(RG_EUSAGE, "%s: key '%s': expected a column number or name, got %.17g",
                                path, key, item->valuedouble);
            snprintf(text, sizeof text, "%.0f", item->valuedouble);
            value = text;
            break;
        }
        __attribute__((fallthrough));   /* a name */
    case K_STR:
    case K_SPEC:
    case K_ENUM:
        if (!cJSON_IsString(item))
            return rg_error(RG_EUSAGE, "%s: key '%s': expected a string, got %s", path, key,
                            json_type_name(item));
        value = item->valuestring;
        break;
    case K_INT:
    case K_LONG:
    case K_U64:
        if (!cJSON_IsNumber(item))
            return rg_error(RG_EUSAGE, "%s: key '%s': expected a number, got %s", path, key,
                            json_type_name(item));
        if (item->valuedouble != floor(item->valuedouble) || fabs(item->valuedouble) >= 1.8e19)
            return rg_error(RG_EUSAGE, "%s: key '%s': expected an integer, got %.17g", path, key,
                            item->valuedouble);
        snprintf(text, sizeof text, "%.0f", item->valuedouble);
        value = text;
        break;
    case K_FLOAT:
    case K_DOUBLE:
        if (!cJSON_IsNumber(item))
            return rg_error(RG_EUSAGE, "%s: key '%s': expected a number, got %s", path, key,
                            json_type_name(item));
        snprintf(text, sizeof text, "%.17g", item->valuedouble);
        value = text;
        break;
    }
    rg_status st = set_text(c, (size_t)i, value, why, sizeof why);
    if (st) return rg_error(st, "%s: key '%s': %s", path, key, why);
    return RG_OK;
}

rg_status rg_config_load_json(rg_config *c, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    rg_status st = read_whole_file(path, &text, &len);
    if (st) return st;

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        /* Turn the parser's stopping point into a line and column. */
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        size_t line = 1, col = 1;
        for (size_t k = 0; k < off; k++) {
            if (text[k] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        rg_free(text);
        return rg_error(RG_EUSAGE, "%s: invalid JSON at line %zu, column %zu", path, line, col);
    }
    rg_free(text);
    if (!cJSON_IsObject(root)) {
        st = rg_error(RG_EUSAGE, "%s: expected a JSON object of options, got %s", path,
                      json_type_name(root));
        cJSON_Delete(root);
        return st;
    }

    /* Apply to a copy so that a bad key leaves *c as it was. */
    rg_config tmp = *c;
    for (const cJSON *item = root->child; item; item = item->next) {
        for (const cJSON *prev = root->child; prev != item; prev = prev->next) {
            int inv, a = find_json_key(prev->string, &inv), b = find_json_key(item->string, &inv);
            if (a >= 0 && a == b) {
                st = rg_error(RG_EUSAGE, "%s: key '%s' sets --%s again", path, item->string,
                              g_options[a].name);
                goto done;
            }
        }
        st = apply_json_item(&tmp, path, item);
        if (st) goto done;
    }
    *c = tmp;
done:
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------ validation */


static int terminated(const char *s, size_t size) { return memchr(s, 0, size) != NULL; }

/* The range checks of one option (only), or of all (only == NULL); the
 * failing option's index into *option. */
static rg_status check_ranges(const rg_config *c, const char *only, int *option)
{
    char v[64];
#define CHECK(cond, name, what, fmtval)                                                        \
    do {                                                                                       \
        if ((!only || name_eq(only, name)) && !(cond)) {                                      \
            fmtval;                                                                            \
            if (option) *option = find_option(name);                                           \
            return rg_error(RG_EUSAGE, "--%s must be %s, got %s", name, what, v);               \
        }                                                                                      \
    } while (0)
#define D(x) fmt_double(v, sizeof v, (x))
#define L(x) snprintf(v, sizeof v, "%ld", (long)(x))
#define IN01(x) (isfinite(x) && (x) >= 0 && (x) < 1)
#define NONNEG(x) (isfinite(x) && (x) >= 0)

    long col;
    CHECK(!column_number(c->label_column, &col) || col >= -1, "label-column",
          "a column number >= 0, -1 (the last) or a name", snprintf(v, sizeof v, "%.60s", c->label_column));
    CHECK(!column_number(c->test_label_column, &col) || col >= -1, "test-label-column",
          "a column number >= 0, -1 (the last) or a name", snprintf(v, sizeof v, "%.60s", c->test_label_column));
    CHECK(isfinite(c->scale) && c->scale >= 0, "scale", "a finite number >= 0 (0 = auto)", D(c->scale));
    CHECK(IN01(c->val_split), "val-split", "a fraction in [0,1)", D(c->val_split));
    CHECK(NONNEG(c->lr), "lr", "a finite number >= 0", D(c->lr));
    CHECK(IN01(c->momentum), "momentum", "in [0,1)", D(c->momentum));
    CHECK(IN01(c->beta1), "beta1", "in [0,1)", D(c->beta1));
    CHECK(IN01(c->beta2), "beta2", "in [0,1)", D(c->beta2));
    CHECK(IN01(c->rho), "rho", "in [0,1)", D(c->rho));
    CHECK(isfinite(c->eps) && (float)c->eps > 0, "eps", "a number > 0 that a float can hold (>= 1e-45)", D(c->eps));
    /* the optimizer computes in float: a learning rate or decay past float's
     * range would turn every weight infinite at the first step */
    CHECK(isfinite((float)c->lr), "lr", "a number a float can hold (< 3.4e38)", D(c->lr));
    CHECK(isfinite((float)c->weight_decay), "weight-decay", "a number a float can hold (< 3.4e38)", D(c->weight_decay));
    CHECK(NONNEG(c->weight_decay), "weight-decay", "a finite number >= 0", D(c->weight_decay));
    CHECK(IN01(c->label_smoothing), "label-smoothing", "in [0,1)", D(c->label_smoothing));
    CHECK(NONNEG(c->clip_norm), "clip-norm", "a finite number >= 0 (0 = off)", D(c->clip_norm));
    CHECK(c->warmup >= 0, "warmup", "a step count >= 0", L(c->warmup));
    CHECK(c->lr_step_epochs >= 1, "lr-step-epochs", "an epoch count >= 1", L(c->lr_step_epochs));
    CHECK(isfinite(c->lr_gamma) && c->lr_gamma > 0, "lr-gamma", "a finite number > 0", D(c->lr_gamma));
    CHECK(NONNEG(c->lr_min), "lr-min", "a finite number >= 0", D(c->lr_min));
    CHECK(c->lr_patience >= 1, "lr-patience", "an epoch count >= 1", L(c->lr_patience));
    CHECK(c->batch >= 1, "batch", "a batch size >= 1", L(c->batch));
    CHECK(c->epochs >= 1, "epochs", "an epoch count >= 1", L(c->epochs));
    CHECK(c->limit >= 0, "limit", "a sample count >= 0 (0 = all)", L(c->limit));
    CHECK(c->early_stop >= 0, "early-stop", "a patience >= 0 (0 = off)", L(c->early_stop));
    CHECK(NONNEG(c->min_delta), "min-delta", "a finite number >= 0", D(c->min_delta));
    CHECK(c->log_every >= 0, "log-every", "a step count >= 0", L(c->log_every));
    CHECK(c->threads >= 1, "threads", "a thread count >= 1", L(c->threads));
    CHECK(strcmp(c->gemm, "libxsmm") || rg_sgemm_has_libxsmm(), "gemm",
          "auto or openblas: this regula was built without LIBXSMM (install libxsmm-dev and rebuild)",
          snprintf(v, sizeof v, "%s", c->gemm));
    CHECK(c->workers >= 1 && c->workers <= RG_MAX_WORKERS, "workers", "a worker count in [1, 1024]", L(c->workers));
    CHECK(c->det_shards >= 1 && c->det_shards <= 4096, "det-shards", "a shard count in [1, 4096]", L(c->det_shards));
    CHECK(c->sync_every >= 1, "sync-every", "a step count >= 1", L(c->sync_every));
    CHECK(c->sync_warmup >= 0, "sync-warmup", "a step count >= 0", L(c->sync_warmup));
    CHECK(c->dgc_warmup >= 0, "dgc-warmup", "an epoch count >= 0", L(c->dgc_warmup));
    CHECK(c->servers >= 1 && c->servers <= 64, "servers", "a server count in [1, 64]", L(c->servers));
    CHECK(c->staleness >= 0 && c->staleness <= 1000000, "staleness", "a step count in [0, 1000000]", L(c->staleness));
    CHECK(isfinite(c->elastic) && c->elastic >= 0 && c->elastic < 1, "elastic", "in [0, 1) (0 = 0.9 / workers)",
          D(c->elastic));
    CHECK(c->clients >= 0 && c->clients <= 10000, "clients", "a client count in [1, 10000]", L(c->clients));
    CHECK(c->rounds >= 1, "rounds", "a round count >= 1", L(c->rounds));
    CHECK(isfinite(c->sample) && c->sample > 0 && c->sample <= 1, "sample", "a fraction in (0, 1]", D(c->sample));
    CHECK(c->local_epochs >= 0 && c->local_epochs <= 100000, "local-epochs", "an epoch count in [0, 100000] (0 = 1)",
          L(c->local_epochs));
    CHECK(c->local_steps >= 0 && c->local_steps <= 10000000, "local-steps", "a step count in [0, 10000000] (0 = off)",
          L(c->local_steps));
    CHECK(NONNEG(c->mu), "mu", "a finite number >= 0", D(c->mu));
    CHECK(isfinite(c->feddyn_alpha) && c->feddyn_alpha > 0, "feddyn-alpha", "a finite number > 0", D(c->feddyn_alpha));
    CHECK(isfinite(c->server_lr) && c->server_lr > 0, "server-lr", "a finite number > 0", D(c->server_lr));
    CHECK(IN01(c->server_momentum), "server-momentum", "in [0,1)", D(c->server_momentum));
    CHECK(IN01(c->server_beta1), "server-beta1", "in [0,1)", D(c->server_beta1));
    CHECK(IN01(c->server_beta2), "server-beta2", "in [0,1)", D(c->server_beta2));
    CHECK(isfinite(c->server_eps) && (float)c->server_eps > 0, "server-eps", "a number > 0 that a float can hold",
          D(c->server_eps));
    CHECK(isfinite(c->attackers) && c->attackers >= 0 && c->attackers <= 1, "attackers", "a fraction in [0, 1]",
          D(c->attackers));
    CHECK(NONNEG(c->dp_clip), "dp-clip", "a finite number >= 0 (0 = off)", D(c->dp_clip));
    CHECK(NONNEG(c->dp_noise), "dp-noise", "a finite number >= 0", D(c->dp_noise));
    CHECK(isfinite(c->dp_delta) && c->dp_delta > 0 && c->dp_delta < 1, "dp-delta", "in (0, 1)", D(c->dp_delta));
    CHECK(isfinite(c->client_dropout) && c->client_dropout >= 0 && c->client_dropout < 1, "client-dropout",
          "a probability in [0, 1)", D(c->client_dropout));
    CHECK(isfinite(c->straggler_frac) && c->straggler_frac >= 0 && c->straggler_frac <= 1, "straggler-frac",
          "a probability in [0, 1]", D(c->straggler_frac));
    CHECK(c->checkpoint_every >= 0, "checkpoint-every", "a step count >= 0 (0 = off)", L(c->checkpoint_every));
    CHECK(c->top >= 0, "top", "a class count >= 1 (0 = off)", L(c->top));
    CHECK(c->keep >= 1 && c->keep <= 1000000, "keep", "a checkpoint count in [1, 1000000]", L(c->keep));
    CHECK(isfinite(c->comm_timeout) && c->comm_timeout > 0 && c->comm_timeout <= 1e6, "comm-timeout",
          "a number of seconds in (0, 1e6]", D(c->comm_timeout));

#undef CHECK
#undef D
#undef L
#undef IN01
#undef NONNEG
    return RG_OK;
}

rg_status rg_config_check(const rg_config *c, int *option)
{
    if (option) *option = -1;
    /* Strings must be terminated and enums must hold a choice even when the
     * caller filled the struct by hand. */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt_spec *s = &g_specs[i];
        const char *field = (const char *)c + s->offset;
        if (option) *option = (int)i;
        if ((s->kind == K_STR || s->kind == K_SPEC || s->kind == K_ENUM || s->kind == K_COLUMN) &&
            !terminated(field, s->size))
            return rg_error(RG_EUSAGE, "--%s: value is not terminated", g_options[i].name);
        if (s->kind == K_ENUM && !choice_ok(s->choices, field)) {
            char list[128];
            format_choices(s->choices, list, sizeof list);
            return rg_error(RG_EUSAGE, "--%s: unknown value '%s' (expected %s)", g_options[i].name,
                            field, list);
        }
    }
    if (option) *option = -1;
    rg_status st = check_ranges(c, NULL, option);
    if (st != RG_OK) return st;
    rg_plan p;
    return rg_plan_resolve(c, &p, option);
}

rg_status rg_config_validate(const rg_config *c) { return rg_config_check(c, NULL); }
