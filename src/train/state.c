/*
 * state.c — the training state and its checkpoints: everything a killed
 * run needs to go on bit for bit, in one safetensors file per checkpoint.
 *
 * A checkpoint is DIR/ckpt-<12-digit step>.safetensors.  Its tensors are the
 * model's weights under rg_model_save's names, the optimizer's moment arenas
 * in full ("optimizer.0", "optimizer.1", [P] each, whatever slice each worker
 * held), the early-stopping copy ("train.best"), the per-worker strengths
 * ("train.lambda", F64), the per-worker figures of the epoch in progress
 * ("train.workers", F64 [W, WA_N]), a codec's state ("train.strategy"),
 * regula fed's server and client state ("fed.*", when it keeps any:
 * rg_fed_state), and the counters and sums
 * ("train.counters": rg_counters as it is, U64; "train.figures": rg_sums
 * as it is, its doubles stored as their bits, NaN included).  Metadata: format, kind "training", spec, inputs, the
 * configuration (rg_config_json), the class names ("classes", when the model has them; its standardisation is
 * among the model's tensors) and "checksum": FNV-1a 64 over every
 * tensor (sorted by name: name, dtype, shape, bytes) and every other
 * metadata pair (sorted by key).  A torn file fails the reader's checks; a
 * flipped bit anywhere fails the checksum.
 *
 * Invariant: a file named ckpt-*.safetensors in DIR was complete when it
 * got that name (rg_st_write renames a synced temporary), so the newest
 * valid one is the latest state the run reached at a checkpoint.
 */
#include "io/checkpoint.h"
#include <cjson/cJSON.h>
#include "train/train.h"
#include "fed/fed.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CK_PREFIX "ckpt-"
#define CK_SUFFIX ".safetensors"
#define CK_DIGITS 12

_Static_assert(sizeof(rg_counters) == 16 * sizeof(uint64_t), "rg_counters is the file format: 16 u64");
_Static_assert(sizeof(rg_sums) == 7 * sizeof(double), "rg_sums is the file format: 7 doubles");

rg_status rg_state_alloc(rg_run_state *s)
{
    size_t P = (size_t)s->n.params, W = (size_t)s->n.world;
    int ns = (int)s->n.nstate;
    s->moments[0] = s->moments[1] = s->best = NULL;
    s->lambda = s->wacc = NULL;
    if (ns < 0 || ns > 2 || W == 0 || W > RG_MAX_WORKERS) return rg_error(RG_EDATA, "checkpoint: bad state sizes");
    int ok = 1;
    for (int i = 0; i < ns; i++) ok &= (s->moments[i] = rg_calloc(P ? P : 1, sizeof(float))) != NULL;
    if (s->n.has_best) ok &= (s->best = rg_calloc(P ? P : 1, sizeof(float))) != NULL;
    ok &= (s->lambda = rg_calloc(W, sizeof(double))) != NULL;
    ok &= (s->wacc = rg_calloc(W * WA_N, sizeof(double))) != NULL;
    if (s->extra_n) ok &= (s->extra = rg_calloc(W * (size_t)s->extra_n, sizeof(float))) != NULL;
    if (!ok) {
        rg_state_free(s);
        return rg_error(RG_ENOMEM, "out of memory for a checkpoint of %zu parameters", P);
    }
    return RG_OK;
}

void rg_state_free(rg_run_state *s)
{
    if (!s) return;
    rg_free(s->moments[0]);
    rg_free(s->moments[1]);
    rg_free(s->best);
    rg_free(s->lambda);
    rg_free(s->wacc);
    rg_free(s->extra);
    rg_fed_state_free(s->fed);
    rg_free(s->fed);
    s->fed = NULL;
    s->moments[0] = s->moments[1] = s->best = s->extra = NULL;
    s->lambda = s->wacc = NULL;
}

/* ------------------------------------------------------------- checksum */

typedef struct fnv { uint64_t h; } fnv;

static void fnv_put(fnv *f, const void *p, size_t n) { f->h = rg_fnv1a(f->h, p, n); }

static void fnv_str(fnv *f, const char *s) { fnv_put(f, s, strlen(s) + 1); }

static void fnv_tensor(fnv *f, const char *name, rg_st_dtype dt, int ndim, const size_t *shape,
                       const void *data, size_t nbytes)
{
    fnv_str(f, name);
    fnv_str(f, rg_st_dtype_name(dt));
    for (int d = 0; d < ndim; d++) {
        uint64_t v = shape[d];
        fnv_put(f, &v, sizeof v);
    }
    if (data) fnv_put(f, data, nbytes);
}

/* A tensor to write, its bytes read a chunk at a time when it streams them
 * (x->read: the clients' state of regula fed, never whole in memory). */
static rg_status fnv_tensor_in(fnv *f, const rg_st_tensor_in *x, unsigned char **chunk)
{
    size_t nbytes = rg_st_dtype_size(x->dtype);
    for (int d = 0; d < x->ndim; d++) nbytes *= x->shape[d];
    fnv_tensor(f, x->name, x->dtype, x->ndim, x->shape, x->data, nbytes);
    if (x->data || !nbytes) return RG_OK;
    if (!*chunk && !(*chunk = rg_malloc(RG_ST_CHUNK))) return rg_error(RG_ENOMEM, "out of memory: a checkpoint");
    for (size_t off = 0; off < nbytes;) {
        size_t k = nbytes - off < RG_ST_CHUNK ? nbytes - off : RG_ST_CHUNK;
        rg_status s = x->read(x->ctx, off, *chunk, k);
        if (s != RG_OK) return s;
        fnv_put(f, *chunk, k);
        off += k;
    }
    return RG_OK;
}

/* Order of n names, sorted (insertion sort: a dozen tensors). */
static void sort_idx(const char *const *names, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[idx[j - 1]], names[idx[j]]) > 0; j--) {
            size_t t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t;
        }
}

/* ------------------------------------------------------------- writing */

#define MAX_T 64

static void ck_name(char *buf, size_t cap, const char *dir, uint64_t step)
{
    snprintf(buf, cap, "%s/" CK_PREFIX "%0*llu" CK_SUFFIX, dir, CK_DIGITS, (unsigned long long)step);
}

/* Step of a checkpoint file name, or -1 when it is not one. */
static long long ck_step(const char *name)
{
    size_t lp = strlen(CK_PREFIX), ls = strlen(CK_SUFFIX), n = strlen(name);
    if (n != lp + CK_DIGITS + ls || strncmp(name, CK_PREFIX, lp) || strcmp(name + lp + CK_DIGITS, CK_SUFFIX))
        return -1;
    long long v = 0;
    for (size_t i = lp; i < lp + CK_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

/* The checkpoints of dir, newest first: steps into *steps (rg_free). */
static rg_status list_ckpts(const char *dir, long long **steps, size_t *n)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return RG_OK;
        return rg_error(RG_EIO, "%s: cannot open the checkpoint directory: %s", dir, strerror(errno));
    }
    size_t cap = 0, k = 0;
    long long *v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s = ck_step(e->d_name);
        if (s < 0) continue;
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 16;
            long long *nv = rg_malloc(nc * sizeof *nv);
            if (!nv) { rg_free(v); closedir(d); return rg_error(RG_ENOMEM, "out of memory listing %s", dir); }
            if (k) memcpy(nv, v, k * sizeof *v);
            rg_free(v);
            v = nv;
            cap = nc;
        }
        v[k++] = s;
    }
    closedir(d);
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && v[j - 1] < v[j]; j--) { long long t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    *steps = v;
    *n = k;
    return RG_OK;
}

rg_status rg_ckpt_dir_ready(const char *dir)
{
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return rg_error(RG_EIO, "--checkpoint-dir %s: cannot create it: %s", dir, strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return rg_error(RG_EIO, "--checkpoint-dir %s: not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return rg_error(RG_EIO, "--checkpoint-dir %s: cannot write in it: %s", dir, strerror(errno));
    return RG_OK;
}

rg_status rg_ckpt_count(const char *dir, size_t *n, char *newest, size_t cap)
{
    long long *steps;
    rg_status s = list_ckpts(dir, &steps, n);
    if (s != RG_OK) return s;
    if (*n && newest) snprintf(newest, cap, CK_PREFIX "%0*llu" CK_SUFFIX, CK_DIGITS, (unsigned long long)steps[0]);
    rg_free(steps);
    return RG_OK;
}

void rg_ckpt_clean(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4200];
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, CK_SUFFIX ".tmp.");
        if (!t || strncmp(e->d_name, CK_PREFIX, strlen(CK_PREFIX))) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* regula fed's state (rg_fed_state), those of its tensors that hold
 * something, into t: how many. */
static size_t fed_tensors(const rg_fed_state *f, rg_st_tensor_in *t)
{
    size_t n = 0, P = f ? (size_t)f->P : 0;
    if (f && f->server_n)
        t[n++] = (rg_st_tensor_in){ .name = "fed.server", .dtype = RG_ST_F32, .ndim = 2,
                                    .shape = {(size_t)f->server_n, P}, .data = f->server };
    if (f && f->n) {
        t[n++] = (rg_st_tensor_in){ .name = "fed.clients", .dtype = RG_ST_U64, .ndim = 1, .shape = {(size_t)f->n},
                                    .data = f->ids };
        /* from the run's store, a client at a time, when it holds them */
        t[n++] = (rg_st_tensor_in){ .name = "fed.client_state", .dtype = RG_ST_F32, .ndim = 3,
                                    .shape = {(size_t)f->n, (size_t)f->client_n, P}, .data = f->client,
                                    .read = rg_fed_state_read, .ctx = f };
    }
    if (f && f->clients)
        t[n++] = (rg_st_tensor_in){ .name = "fed.divergence", .dtype = RG_ST_F64, .ndim = 1,
                                    .shape = {(size_t)f->clients}, .data = f->raw };
    if (f && f->has_round)
        t[n++] = (rg_st_tensor_in){ .name = "fed.round", .dtype = RG_ST_F64, .ndim = 1,
                                    .shape = {RG_FED_ROUND_N}, .data = f->round };
    return n;
}

rg_status rg_ckpt_write(const char *dir, const rg_model *m, const rg_config *c, const rg_run_state *ck, int keep)
{
    rg_st_tensor_in t[MAX_T];
    rg_st_tensor_in *mt = NULL;
    char *mnames = NULL;
    size_t nm = 0, n = 0, P = (size_t)ck->n.params, W = (size_t)ck->n.world;
    rg_status s = rg_model_st_tensors(m, &mt, &mnames, &nm);
    if (s != RG_OK) return s;
    rg_config norm = *c;
    rg_config_resume_normalise(&norm);
    char *cj = rg_config_json(&norm);
    if (!cj || nm + 8 + 5 > MAX_T) {   /* 8 of the trainer, 5 of regula fed */
        rg_free(mt);
        rg_free(mnames);
        free(cj);
        return cj ? rg_error(RG_EUSAGE, "checkpoint: a model of %zu tensors is more than this writer takes", nm)
                  : RG_ENOMEM;
    }
    for (size_t i = 0; i < nm; i++) t[n++] = mt[i];
    static const char *const state_names[2] = { "optimizer.0", "optimizer.1" };
    for (int i = 0; i < (int)ck->n.nstate; i++)
        t[n++] = (rg_st_tensor_in){ .name = state_names[i], .dtype = RG_ST_F32, .ndim = 1, .shape = {P},
                                    .data = ck->moments[i] };
    if (ck->n.has_best)
        t[n++] = (rg_st_tensor_in){ .name = "train.best", .dtype = RG_ST_F32, .ndim = 1, .shape = {P},
                                    .data = ck->best };
    t[n++] = (rg_st_tensor_in){ .name = "train.lambda", .dtype = RG_ST_F64, .ndim = 1, .shape = {W},
                                .data = ck->lambda };
    t[n++] = (rg_st_tensor_in){ .name = "train.workers", .dtype = RG_ST_F64, .ndim = 2, .shape = {W, WA_N},
                                .data = ck->wacc };
    if (ck->extra_n)
        t[n++] = (rg_st_tensor_in){ .name = "train.strategy", .dtype = RG_ST_F32, .ndim = 2,
                                    .shape = {W, (size_t)ck->extra_n}, .data = ck->extra };
    n += fed_tensors(ck->fed, t + n);
    t[n++] = (rg_st_tensor_in){ .name = "train.counters", .dtype = RG_ST_U64, .ndim = 1, .shape = {RG_COUNTERS},
                                .data = &ck->n };
    /* the sums as their bits: best_metric may be NaN, which the writer
     * refuses in a float tensor and which must come back as it was */
    t[n++] = (rg_st_tensor_in){ .name = "train.figures", .dtype = RG_ST_U64, .ndim = 1, .shape = {RG_SUMS},
                                .data = &ck->f };

    char inputs[32];
    snprintf(inputs, sizeof inputs, "%zu", rg_model_inputs(m));
    /* the class names, when the model has them, as rg_model_save writes them */
    char *classes = rg_model_classes_json(m);
    const char *meta_k[] = { "format", "kind", "spec", "inputs", "regula_version", "config", "loss", "classes" };
    const char *meta_v[] = { RG_CHECKPOINT_FORMAT, "training", rg_model_spec(m), inputs, RG_VERSION, cj,
                             rg_loss_name(rg_model_loss(m)), classes };
    enum { MAX_META = 8 };
    const size_t NMETA = classes ? 8 : 7;
    /* checksum: tensors by name, then metadata by key */
    fnv f = { RG_FNV_INIT };
    const char *names[MAX_T];
    size_t idx[MAX_T];
    for (size_t i = 0; i < n; i++) names[i] = t[i].name;
    sort_idx(names, n, idx);
    unsigned char *chunk = NULL;
    for (size_t k = 0; k < n && s == RG_OK; k++) s = fnv_tensor_in(&f, &t[idx[k]], &chunk);
    rg_free(chunk);
    size_t midx[MAX_META];
    sort_idx(meta_k, NMETA, midx);
    for (size_t k = 0; k < NMETA; k++) {
        fnv_str(&f, meta_k[midx[k]]);
        fnv_str(&f, meta_v[midx[k]]);
    }
    char sum[24];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)f.h);
    const char *kv[2 * (MAX_META + 1)];
    for (size_t k = 0; k < NMETA; k++) { kv[2 * k] = meta_k[k]; kv[2 * k + 1] = meta_v[k]; }
    kv[2 * NMETA] = "checksum";
    kv[2 * NMETA + 1] = sum;

    char path[4200];
    ck_name(path, sizeof path, dir, ck->n.step);
    if (s == RG_OK) s = rg_st_write(path, t, n, kv, NMETA + 1, RG_ST_CRASH_POINT);
    if (s == RG_ENONFINITE)
        s = rg_error_prefix(s, "not writing checkpoint %s: ", path);
    rg_free(mt);
    rg_free(mnames);
    free(cj);
    cJSON_free(classes);
    if (s != RG_OK) return s;

    /* keep the newest `keep` up to this one (a later step can only be a
     * damaged file --resume skipped: left for the user to look at) */
    long long *steps;
    size_t k, kept = 0;
    if ((s = list_ckpts(dir, &steps, &k)) != RG_OK) return s;
    for (size_t i = 0; i < k; i++) {
        if (steps[i] > (long long)ck->n.step || ++kept <= (size_t)keep) continue;
        ck_name(path, sizeof path, dir, (uint64_t)steps[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            s = rg_error(RG_EIO, "--keep %d: cannot delete the old checkpoint %s: %s", keep, path, strerror(errno));
            break;
        }
    }
    rg_free(steps);
    return s;
}

/* ------------------------------------------------------------- reading */

/* Every element of t (elems of dt, F32 or F64) finite, read a chunk at a
 * time (a lazy tensor from the file). */
static rg_status all_finite(const rg_st *st, const rg_st_tensor *t, rg_st_dtype dt, size_t elems)
{
    size_t es = rg_st_dtype_size(dt), per = RG_ST_CHUNK / es;
    unsigned char *chunk = t->data ? NULL : rg_malloc(RG_ST_CHUNK);
    if (!t->data && !chunk) return rg_error(RG_ENOMEM, "out of memory reading %s", rg_st_path(st));
    rg_status s = RG_OK;
    for (size_t at = 0; at < elems && s == RG_OK; at += per) {
        size_t k = elems - at < per ? elems - at : per;
        const unsigned char *p = t->data ? (const unsigned char *)t->data + at * es : chunk;
        if (!t->data && (s = rg_st_pread(st, t, at * es, chunk, k * es)) != RG_OK) break;
        for (size_t i = 0; i < k; i++) {
            double v;
            if (dt == RG_ST_F32) { float f; memcpy(&f, p + 4 * i, 4); v = f; }
            else memcpy(&v, p + 8 * i, 8);
            if (isfinite(v)) continue;
            s = rg_error(RG_EDATA, "%s: tensor '%s' element %zu is %s: the state is corrupt", rg_st_path(st),
                         t->name, at + i, isnan(v) ? "NaN" : "infinite");
            break;
        }
    }
    rg_free(chunk);
    return s;
}

static const rg_st_tensor *need(const rg_st *st, const char *name, rg_st_dtype dt, size_t elems, rg_status *s)
{
    if (*s != RG_OK) return NULL;
    const rg_st_tensor *t = rg_st_find(st, name);
    if (!t) { *s = rg_error(RG_EDATA, "%s: tensor '%s' is missing", rg_st_path(st), name); return NULL; }
    if (t->dtype != dt || t->nbytes != elems * rg_st_dtype_size(dt)) {
        *s = rg_error(RG_EDATA, "%s: tensor '%s' is not %zu values of %s", rg_st_path(st), name, elems,
                      rg_st_dtype_name(dt));
        return NULL;
    }
    /* a float tensor must hold floats: a moment of Inf would freeze its
     * weight for good (m / sqrt(v) = 0), and the writer never writes one */
    if (dt == RG_ST_F32 || dt == RG_ST_F64) *s = all_finite(st, t, dt, elems);
    return *s == RG_OK ? t : NULL;
}

uint64_t rg_ckpt_checksum(const rg_st *st)
{
    fnv f = { RG_FNV_INIT };
    size_t n = rg_st_count(st), nmeta = rg_st_meta_count(st);
    const char *names[MAX_T];
    size_t idx[MAX_T];
    RG_ASSERT(n <= MAX_T);
    for (size_t i = 0; i < n; i++) names[i] = rg_st_at(st, i)->name;
    sort_idx(names, n, idx);
    unsigned char *chunk = NULL;
    for (size_t k = 0; k < n; k++) {
        const rg_st_tensor *x = rg_st_at(st, idx[k]);
        fnv_tensor(&f, x->name, x->dtype, x->ndim, x->shape, x->data, x->nbytes);
        /* a lazy tensor (rg_st_read_lazy) from the file, a chunk at a time;
         * one that cannot be read gives no checksum (the file is damaged) */
        if (x->data || !x->nbytes) continue;
        if (!chunk && !(chunk = rg_malloc(RG_ST_CHUNK))) return 0;
        for (size_t off = 0; off < x->nbytes; off += RG_ST_CHUNK) {
            size_t c = x->nbytes - off < RG_ST_CHUNK ? x->nbytes - off : RG_ST_CHUNK;
            if (rg_st_pread(st, x, off, chunk, c) != RG_OK) {
                rg_free(chunk);
                return 0;
            }
            fnv_put(&f, chunk, c);
        }
    }
    rg_free(chunk);
    for (size_t k = 0; k < nmeta; k++) {   /* rg_st_meta_at: sorted by key */
        const char *key, *val;
        rg_st_meta_at(st, k, &key, &val);
        if (!strcmp(key, "checksum")) continue;
        fnv_str(&f, key);
        fnv_str(&f, val);
    }
    return f.h;
}

/* regula fed's state, when the checkpoint has any (ck->fed stays NULL
 * for one without: fedavg and fedprox, or a file before these tensors),
 * its tensors consistent with each other and the model's P parameters. */
static rg_status read_fed(const rg_st *st, size_t P, rg_run_state *ck)
{
    const rg_st_tensor *ts = rg_st_find(st, "fed.server"), *ti = rg_st_find(st, "fed.clients"),
                       *tc = rg_st_find(st, "fed.client_state"), *tr = rg_st_find(st, "fed.divergence"),
                       *tf = rg_st_find(st, "fed.round");
    if (!ts && !ti && !tc && !tr && !tf) return RG_OK;
    uint64_t sn = ts && ts->ndim == 2 ? ts->shape[0] : 0, n = ti && ti->ndim == 1 ? ti->shape[0] : 0;
    uint64_t cn = tc && tc->ndim == 3 ? tc->shape[1] : 0, C = tr && tr->ndim == 1 ? tr->shape[0] : 0;
    if ((ts && (ts->ndim != 2 || ts->shape[1] != P)) || !ti != !tc || (ti && ti->ndim != 1) ||
        (tc && (tc->ndim != 3 || tc->shape[0] != n || tc->shape[2] != P)) || (tr && tr->ndim != 1))
        return rg_error(RG_EDATA, "%s: its federated tensors (fed.server [k, P], fed.clients [n], fed.client_state "
                        "[n, k, P], fed.divergence [clients]) do not fit each other or the model's %zu parameters",
                        rg_st_path(st), P);
    if (!(ck->fed = rg_calloc(1, sizeof *ck->fed))) return rg_error(RG_ENOMEM, "out of memory");
    /* the clients' states stay in the file (rg_st_read_lazy): load_fed reads them a client at a time */
    int lazy = tc && !tc->data;
    rg_status s = rg_fed_state_size(ck->fed, P, sn, n, lazy ? 0 : cn, C);
    ck->fed->client_n = cn;
    if (ts) ts = need(st, "fed.server", RG_ST_F32, (size_t)(sn * P), &s);
    if (ti) ti = need(st, "fed.clients", RG_ST_U64, (size_t)n, &s);
    if (tc) tc = need(st, "fed.client_state", RG_ST_F32, (size_t)(n * cn * P), &s);
    if (tr) tr = need(st, "fed.divergence", RG_ST_F64, (size_t)C, &s);
    if (tf) tf = need(st, "fed.round", RG_ST_F64, RG_FED_ROUND_N, &s);
    if (s != RG_OK) return s;
    if (ts) memcpy(ck->fed->server, ts->data, ts->nbytes);
    if (ti) memcpy(ck->fed->ids, ti->data, ti->nbytes);
    if (tc && !lazy) memcpy(ck->fed->client, tc->data, tc->nbytes);
    if (lazy && !(ck->fed->src = rg_strdup(rg_st_path(st)))) return rg_error(RG_ENOMEM, "out of memory");
    if (lazy) ck->fed->src_at = rg_st_file_offset(st, tc);
    if (tr) memcpy(ck->fed->raw, tr->data, tr->nbytes);
    if (tf) memcpy(ck->fed->round, tf->data, tf->nbytes);
    ck->fed->has_round = tf != NULL;
    /* a round's checkpoint falls on its last step, before the epoch's end
     * counts it: fed.round's is round n.epoch + 1 (its epsilon is
     * recomputed at the resumed run's --dp-delta, fed.c) */
    ck->fed->rounds = ck->n.epoch + 1;
    return RG_OK;
}

/* Reads one checkpoint: RG_EDATA/RG_EIO for a damaged file (the caller
 * falls back), RG_EUSAGE for one that trained something else. */
static rg_status load_one(const char *path, const rg_config *c, rg_model *m, rg_run_state *ck)
{
    rg_st *st;
    rg_status s = rg_st_read_lazy(path, "fed.client_state", &st);
    if (s != RG_OK) return s;
    const char *kind = rg_st_meta(st, "kind"), *sum = rg_st_meta(st, "checksum"), *cj = rg_st_meta(st, "config");
    if (!kind || strcmp(kind, "training") || !sum || !cj) {
        s = rg_error(RG_EDATA, "%s: not a training checkpoint (no kind/checksum/config metadata)", path);
        goto out;
    }
    /* checksum first: a damaged file must not be mistaken for another run's */
    size_t n = rg_st_count(st), nmeta = rg_st_meta_count(st);
    if (n > MAX_T || nmeta > 32) {
        s = rg_error(RG_EDATA, "%s: %zu tensors and %zu metadata keys: not a regula training checkpoint", path, n, nmeta);
        goto out;
    }
    char want[24];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)rg_ckpt_checksum(st));
    if (strcmp(want, sum)) {
        s = rg_error(RG_EDATA, "%s: checksum mismatch (stored %s, computed %s): the file is damaged", path, sum, want);
        goto out;
    }
    if ((s = rg_config_resume_check(c, cj, path)) != RG_OK) goto out;

    const rg_st_tensor *tu = need(st, "train.counters", RG_ST_U64, RG_COUNTERS, &s);
    const rg_st_tensor *td = need(st, "train.figures", RG_ST_U64, RG_SUMS, &s);
    if (s != RG_OK) goto out;
    memcpy(&ck->n, tu->data, sizeof ck->n);
    memcpy(&ck->f, td->data, sizeof ck->f);
    size_t P = rg_model_param_count(m);
    if (ck->n.params != P) {
        s = rg_error(RG_EDATA, "%s: holds %llu parameters, the model has %zu", path,
                     (unsigned long long)ck->n.params, P);
        goto out;
    }
    const rg_st_tensor *tx = rg_st_find(st, "train.strategy");
    ck->extra_n = tx && tx->ndim == 2 && tx->shape[0] == ck->n.world ? tx->shape[1] : 0;
    if ((s = rg_state_alloc(ck)) != RG_OK) goto out;
    size_t W = (size_t)ck->n.world;
    if (ck->extra_n) tx = need(st, "train.strategy", RG_ST_F32, W * (size_t)ck->extra_n, &s);
    static const char *const state_names[2] = { "optimizer.0", "optimizer.1" };
    const rg_st_tensor *ts[2] = { NULL, NULL }, *tb = NULL;
    for (int i = 0; i < (int)ck->n.nstate; i++) ts[i] = need(st, state_names[i], RG_ST_F32, P, &s);
    if (ck->n.has_best) tb = need(st, "train.best", RG_ST_F32, P, &s);
    const rg_st_tensor *tl = need(st, "train.lambda", RG_ST_F64, W, &s);
    const rg_st_tensor *tw = rg_st_find(st, "train.workers");
    size_t wa = WA_N;   /* a checkpoint before WA_ABS, or before WA_BYTES: shorter rows */
    if (tw && tw->ndim == 2 && (tw->shape[1] == WA_OLD_N || tw->shape[1] == WA_OLD2_N)) wa = (size_t)tw->shape[1];
    tw = need(st, "train.workers", RG_ST_F64, W * wa, &s);
    if (s == RG_OK) s = read_fed(st, P, ck);
    if (s == RG_OK) s = rg_model_load_st(m, st);   /* checks finiteness too */
    if (s != RG_OK) { rg_state_free(ck); goto out; }
    for (int i = 0; i < (int)ck->n.nstate; i++) memcpy(ck->moments[i], ts[i]->data, P * sizeof(float));
    if (tb) memcpy(ck->best, tb->data, P * sizeof(float));
    memcpy(ck->lambda, tl->data, W * sizeof(double));
    for (size_t k = 0; k < W; k++) memcpy(ck->wacc + k * WA_N, (const char *)tw->data + k * wa * sizeof(double), wa * sizeof(double));
    if (ck->extra_n) memcpy(ck->extra, tx->data, W * (size_t)ck->extra_n * sizeof(float));
out:
    rg_st_free(st);
    return s;
}

rg_status rg_ckpt_load(const char *dir, const rg_config *c, rg_model *m, rg_run_state *ck, int *found,
                       char *path, size_t cap)
{
    *found = 0;
    memset(ck, 0, sizeof *ck);
    long long *steps;
    size_t k;
    rg_status s = list_ckpts(dir, &steps, &k);
    if (s != RG_OK) return s;
    if (k == 0) return RG_OK;
    size_t P = rg_model_param_count(m);
    float *keep = rg_malloc((P ? P : 1) * sizeof(float));   /* m as it was, for a failed try */
    if (!keep) { rg_free(steps); return rg_error(RG_ENOMEM, "out of memory"); }
    memcpy(keep, rg_model_params(m), P * sizeof(float));
    s = RG_EDATA;
    char first_err[1024] = "";
    for (size_t i = 0; i < k; i++) {
        ck_name(path, cap, dir, (uint64_t)steps[i]);
        s = load_one(path, c, m, ck);
        if (s == RG_OK) { *found = 1; break; }
        memcpy(rg_model_params(m), keep, P * sizeof(float));
        if (s == RG_EUSAGE || s == RG_ENOMEM) break;   /* not damage: no fallback */
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", rg_last_error());
        rg_log("warning: skipping checkpoint: %s%s", rg_last_error(),
               i + 1 < k ? "; trying the one before it" : "");
    }
    rg_free(keep);
    rg_free(steps);
    if (s == RG_EDATA || s == RG_EIO)
        return rg_error(RG_EDATA, "--resume %s: none of its %zu checkpoints is readable (newest: %s)", dir, k,
                        first_err);
    return s;
}
