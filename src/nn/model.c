/*
 * model.c — a sequential model of dense and dropout layers over one parameter
 * arena and one gradient arena.
 *
 * Invariants:
 *   - params and grads are each one contiguous float buffer of n_params; a
 *     dense layer owns the view [w_off, w_off + out*in) for its kernel, stored
 *     [out, in], followed by [b_off, b_off + out) for its bias.  So a
 *     checkpoint, an all-reduce or a best-weights snapshot is one call on
 *     (float *, n).
 *   - The workspace (activations, dropout masks, deltas) is sized for the
 *     largest batch seen so far and reused; forward/backward allocate nothing
 *     once it is large enough.
 *   - A dropout mask element is a pure function of (seed, layer, step, global
 *     sample id, unit), so it does not depend on which worker runs the sample.
 *   - While held (rg_model_hold), wt holds the held layers' kernels
 *     transposed, copied from params at the hold's first forward; the
 *     holder promises that params do not change until it lets go, and each
 *     hold copies afresh, so the copy is never older than the weights.
 */
#include "core/core.h"
#include "kernels/kernels.h"
#include "nn/model.h"
#include <ctype.h>
#include <math.h>
#include <string.h>

static const char *act_names[] = { "linear", "relu", "tanh", "sigmoid", "gelu", "softmax", "leaky_relu", "elu" };

/* ------------------------------------------------------------- spec parser */

typedef struct { const char *s; size_t pos; } cursor;

static void skip_ws(cursor *c) { while (isspace((unsigned char)c->s[c->pos])) c->pos++; }

static rg_status spec_error(const cursor *c, const char *what)
{
    return rg_error(RG_EUSAGE, "--model: %s at character %zu of '%s'", what, c->pos + 1, c->s);
}

/* Reads one argument up to ',' or ')' into buf, trimmed. */
static int read_arg(cursor *c, char *buf, size_t cap)
{
    skip_ws(c);
    size_t n = 0;
    while (c->s[c->pos] && c->s[c->pos] != ',' && c->s[c->pos] != ')' && c->s[c->pos] != '(') {
        if (n + 1 >= cap) return 0;
        buf[n++] = c->s[c->pos++];
    }
    while (n && isspace((unsigned char)buf[n - 1])) n--;
    buf[n] = 0;
    return 1;
}

static int parse_float(const char *t, float *out)
{
    char *end;
    double v = strtod(t, &end);
    /* finite as a float, too: l2=1e300 must not become an infinite penalty */
    if (end == t || *end || !isfinite(v) || !isfinite((float)v)) return 0;
    *out = (float)v;
    return 1;
}

static rg_status parse_layer_args(cursor *c, rg_layer *L, const char *name)
{
    char arg[128];
    int argi = 0;
    for (;;) {
        size_t at = c->pos;
        if (!read_arg(c, arg, sizeof arg)) return spec_error(c, "argument too long");
        if (c->s[c->pos] == '(') return spec_error(c, "missing ')' before the next layer");
        if (!arg[0]) {
            if (c->s[c->pos] == ')' && argi == 0) return rg_error(RG_EUSAGE, "--model: %s() needs arguments, e.g. %s", name,
                                                                 L->kind == RG_LAYER_DENSE ? "dense(64, relu)" : "dropout(0.5)");
            return spec_error(c, "empty argument");
        }
        char *eq = strchr(arg, '=');
        if (L->kind == RG_LAYER_DROPOUT) {
            if (argi > 0 || eq) return rg_error(RG_EUSAGE, "--model: dropout takes one argument, the rate: dropout(0.5)");
            if (!parse_float(arg, &L->rate)) return rg_error(RG_EUSAGE, "--model: dropout rate '%s' is not a number", arg);
            if (!(L->rate >= 0.0f && L->rate < 1.0f))
                return rg_error(RG_EUSAGE, "--model: dropout rate %s is outside [0, 1)", arg);
        } else if (argi == 0) {
            char *end;
            long u = strtol(arg, &end, 10);
            if (end == arg || *end || u < 1 || u > (1L << 24))
                return rg_error(RG_EUSAGE, "--model: dense units '%s' must be an integer in [1, 16777216]", arg);
            L->out = (size_t)u;
        } else if (!eq) {
            int found = 0;
            for (int a = 0; a < (int)(sizeof act_names / sizeof *act_names); a++)
                if (!strcmp(arg, act_names[a])) { L->act = (rg_act)a; found = 1; }
            if (!found)
                return rg_error(RG_EUSAGE, "--model: unknown activation '%s' (expected relu, leaky_relu, elu, tanh, sigmoid, gelu, softmax or linear)", arg);
        } else {
            *eq = 0;
            const char *key = arg, *val = eq + 1;
            float v;
            if (!strcmp(key, "bias")) {
                if (!strcmp(val, "false")) L->bias = 0;
                else if (!strcmp(val, "true")) L->bias = 1;
                else return rg_error(RG_EUSAGE, "--model: bias=%s: expected true or false", val);
            } else if (!strcmp(key, "l1") || !strcmp(key, "l2") || !strcmp(key, "maxnorm")) {
                if (!parse_float(val, &v) || v < 0.0f)
                    return rg_error(RG_EUSAGE, "--model: %s=%s: expected a finite number >= 0", key, val);
                if (key[0] == 'm' && v == 0.0f)
                    return rg_error(RG_EUSAGE, "--model: maxnorm=%s: must be > 0", val);
                if (!strcmp(key, "l1")) L->l1 = v;
                else if (!strcmp(key, "l2")) L->l2 = v;
                else L->maxnorm = v;
            } else {
                return rg_error(RG_EUSAGE, "--model: dense has no option '%s' (expected l1, l2, maxnorm or bias)", key);
            }
        }
        (void)at;
        argi++;
        if (c->s[c->pos] == ',') { c->pos++; continue; }
        if (c->s[c->pos] == ')') { c->pos++; return RG_OK; }
        return spec_error(c, "missing ')'");
    }
}

static rg_status parse_spec(const char *spec, rg_layer **out, int *count)
{
    cursor c = { spec, 0 };
    int cap = 8, n = 0;
    rg_layer *layers = rg_calloc((size_t)cap, sizeof *layers);
    if (!layers) return rg_error(RG_ENOMEM, "out of memory parsing --model");
    rg_status st = RG_OK;
    for (;;) {
        skip_ws(&c);
        if (c.s[c.pos] == ',') { c.pos++; skip_ws(&c); }
        if (!c.s[c.pos]) break;
        char name[32];
        size_t k = 0;
        while (isalpha((unsigned char)c.s[c.pos]) && k + 1 < sizeof name) name[k++] = c.s[c.pos++];
        name[k] = 0;
        skip_ws(&c);
        if (!k) { st = spec_error(&c, "expected a layer name (dense or dropout)"); goto fail; }
        if (c.s[c.pos] != '(') { st = spec_error(&c, "expected '(' after the layer name"); goto fail; }
        c.pos++;
        if (n == 64) { st = rg_error(RG_EUSAGE, "--model: at most 64 layers"); goto fail; }
        if (n == cap) {
            rg_layer *bigger = rg_calloc((size_t)cap * 2, sizeof *layers);
            if (!bigger) { st = rg_error(RG_ENOMEM, "out of memory parsing --model"); goto fail; }
            memcpy(bigger, layers, (size_t)n * sizeof *layers);
            rg_free(layers);
            layers = bigger;
            cap *= 2;
        }
        rg_layer *L = &layers[n];
        memset(L, 0, sizeof *L);
        if (!strcmp(name, "dense")) { L->kind = RG_LAYER_DENSE; L->bias = 1; L->act = RG_ACT_LINEAR; }
        else if (!strcmp(name, "dropout")) L->kind = RG_LAYER_DROPOUT;
        else { st = rg_error(RG_EUSAGE, "--model: unknown layer '%s' (expected dense or dropout)", name); goto fail; }
        if ((st = parse_layer_args(&c, L, name)) != RG_OK) goto fail;
        n++;
    }
    if (n == 0) { st = rg_error(RG_EUSAGE, "--model: no layers in '%s'", spec); goto fail; }
    if (layers[n - 1].kind != RG_LAYER_DENSE) { st = rg_error(RG_EUSAGE, "--model: the last layer must be dense (its units are the classes)"); goto fail; }
    for (int i = 0; i < n - 1; i++)
        if (layers[i].kind == RG_LAYER_DENSE && layers[i].act == RG_ACT_SOFTMAX) {
            st = rg_error(RG_EUSAGE, "--model: softmax is only allowed on the last layer (layer %d has it)", i + 1);
            goto fail;
        }
    *out = layers;
    *count = n;
    return RG_OK;
fail:
    rg_free(layers);
    return st;
}

static void cat(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t k = strlen(s);
    if (*len + k + 1 > cap) return;
    memcpy(buf + *len, s, k + 1);
    *len += k;
}

static void cat_num(char *buf, size_t cap, size_t *len, const char *key, double v)
{
    /* the shortest text that reads back as the same float */
    char t[64], num[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtof(num, NULL) == (float)v) break;
    }
    snprintf(t, sizeof t, "%s%s", key, num);
    cat(buf, cap, len, t);
}

static char *canonical_spec(const rg_layer *layers, int n)
{
    size_t cap = 64 + (size_t)n * 128, len = 0;
    char *buf = rg_malloc(cap);
    if (!buf) return NULL;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        const rg_layer *L = &layers[i];
        if (i) cat(buf, cap, &len, " ");
        if (L->kind == RG_LAYER_DROPOUT) {
            cat_num(buf, cap, &len, "dropout(", L->rate);
            cat(buf, cap, &len, ")");
            continue;
        }
        char units[40];
        snprintf(units, sizeof units, "dense(%zu", L->out);   /* an integer, never 1e+06 */
        cat(buf, cap, &len, units);
        cat(buf, cap, &len, ", ");
        cat(buf, cap, &len, act_names[L->act]);
        if (L->l1 > 0) cat_num(buf, cap, &len, ", l1=", L->l1);
        if (L->l2 > 0) cat_num(buf, cap, &len, ", l2=", L->l2);
        if (L->maxnorm > 0) cat_num(buf, cap, &len, ", maxnorm=", L->maxnorm);
        if (!L->bias) cat(buf, cap, &len, ", bias=false");
        cat(buf, cap, &len, ")");
    }
    return buf;
}

/* ---------------------------------------------------------------- lifecycle */

rg_status rg_model_create(const char *spec, size_t n_inputs, uint64_t seed, rg_model **out)
{
    *out = NULL;
    if (!spec) return rg_error(RG_EUSAGE, "--model: empty spec");
    if (n_inputs == 0) return rg_error(RG_EUSAGE, "model needs at least one input feature");
    rg_model *m = rg_calloc(1, sizeof *m);
    if (!m) return rg_error(RG_ENOMEM, "out of memory creating the model");
    rg_status st = parse_spec(spec, &m->layers, &m->n_layers);
    if (st != RG_OK) { rg_free(m); return st; }
    m->n_in = n_inputs;
    size_t width = n_inputs, total = 0;
    m->max_width = n_inputs;
    for (int i = 0; i < m->n_layers; i++) {
        rg_layer *L = &m->layers[i];
        L->in = width;
        if (L->kind == RG_LAYER_DROPOUT) { L->out = width; continue; }
        L->dense_index = m->n_dense++;
        size_t wn, t;
        if (!rg_mul_ok(L->out, L->in, &wn) || !rg_add_ok(total, wn, &t) || !rg_add_ok(t, L->bias ? L->out : 0, &t) ||
            t > ((size_t)1 << 32)) {
            st = rg_error(RG_EUSAGE, "--model: layer %d with %zu x %zu weights is too large (at most 2^32 parameters)",
                          i + 1, L->out, L->in);
            rg_model_free(m);   /* after the message: L points into m */
            return st;
        }
        L->w_off = total;
        L->b_off = total + wn;
        total = t;
        width = L->out;
        if (width > m->max_width) m->max_width = width;
    }
    m->n_out = width;
    m->n_params = total;
    const rg_layer *last = &m->layers[m->n_layers - 1];
    m->loss = last->out == 1 && last->act == RG_ACT_SIGMOID ? RG_LOSS_BCE : RG_LOSS_XENT;
    m->spec = canonical_spec(m->layers, m->n_layers);
    m->params = rg_calloc(total + RG_ARENA_PAD, sizeof(float));
    m->grads = rg_calloc(total + RG_ARENA_PAD, sizeof(float));
    if (!m->spec || !m->params || !m->grads) { rg_model_free(m); return rg_error(RG_ENOMEM, "out of memory: %zu parameters", total); }
    /* Glorot uniform kernels (Keras' default), zero biases. */
    for (int i = 0; i < m->n_layers; i++) {
        const rg_layer *L = &m->layers[i];
        if (L->kind != RG_LAYER_DENSE) continue;
        float limit = sqrtf(6.0f / (float)(L->in + L->out));
        float *w = m->params + L->w_off;
        size_t wn = L->out * L->in;
        for (size_t j = 0; j < wn; j += 4) {
            uint32_t r[4];
            rg_rng4(seed, RG_RNG_INIT, (uint64_t)L->dense_index, j / 4, r);
            for (size_t q = 0; q < 4 && j + q < wn; q++)
                w[j + q] = ((float)(r[q] >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * limit;
        }
    }
    *out = m;
    return RG_OK;
}

rg_status rg_model_clone(const rg_model *m, rg_model **out)
{
    rg_status st = rg_model_create(m->spec, m->n_in, 0, out);
    if (st != RG_OK) return st;
    memcpy((*out)->params, m->params, m->n_params * sizeof(float));
    (*out)->loss = m->loss;
    if ((st = rg_model_meta_copy(*out, m)) != RG_OK) {
        rg_model_free(*out);
        *out = NULL;
    }
    return st;
}

rg_status rg_model_share(rg_model *m, rg_model **out)
{
    rg_status st = rg_model_create(m->spec, m->n_in, 0, out);
    if (st != RG_OK) return st;
    rg_free((*out)->params);
    (*out)->params = m->params;
    (*out)->params_borrowed = 1;
    (*out)->loss = m->loss;
    /* a worker's model may be the one saved (--save-best): it knows the data as m does */
    if ((st = rg_model_meta_copy(*out, m)) != RG_OK) {
        rg_model_free(*out);
        *out = NULL;
    }
    return st;
}

static const char *loss_names[] = { "crossentropy", "bce", "mse", "mae" };

const char *rg_loss_name(rg_loss loss) { return (unsigned)loss < 4 ? loss_names[loss] : "?"; }
rg_loss rg_model_loss(const rg_model *m) { return m->loss; }
size_t rg_model_classes(const rg_model *m)
{
    return m->loss == RG_LOSS_BCE ? 2 : m->loss == RG_LOSS_XENT ? m->n_out : 0;
}

rg_status rg_model_set_loss(rg_model *m, rg_loss loss)
{
    const rg_layer *L = &m->layers[m->n_layers - 1];
    const char *name = rg_loss_name(loss);
    if (loss == RG_LOSS_BCE && !(L->out == 1 && (L->act == RG_ACT_SIGMOID || L->act == RG_ACT_LINEAR)))
        return rg_error(RG_EUSAGE, "--loss bce: the last layer must be dense(1, sigmoid) (one logit; it has %zu "
                        "units, %s)", L->out, act_names[L->act]);
    if ((loss == RG_LOSS_MSE || loss == RG_LOSS_MAE) && !(L->out == 1 && L->act == RG_ACT_LINEAR))
        return rg_error(RG_EUSAGE, "--loss %s: the last layer must be dense(1, linear) (one number; it has %zu "
                        "units, %s)", name, L->out, act_names[L->act]);
    if (loss == RG_LOSS_XENT && L->out == 1 && L->act == RG_ACT_SIGMOID)
        return rg_error(RG_EUSAGE, "--loss crossentropy: a last layer dense(1, sigmoid) is binary: use --loss bce, "
                        "or dense(2, softmax)");
    m->loss = loss;
    return RG_OK;
}

void rg_model_free(rg_model *m)
{
    if (!m) return;
    rg_model_meta_free(m);
    rg_free(m->layers);
    rg_free(m->spec);
    if (!m->params_borrowed) rg_free(m->params);
    rg_free(m->grads);
    rg_free(m->wt);
    rg_free(m->shard_ws);
    rg_free(m->ws);
    rg_free(m->ws_act);
    rg_free(m);
}

const char *rg_model_spec(const rg_model *m) { return m->spec; }
size_t rg_model_inputs(const rg_model *m) { return m->n_in; }
size_t rg_model_outputs(const rg_model *m) { return m->n_out; }
size_t rg_model_param_count(const rg_model *m) { return m->n_params; }
float *rg_model_params(rg_model *m) { return m->params; }
float *rg_model_grads(rg_model *m) { return m->grads; }

float *rg_model_swap_grads(rg_model *m, float *g)
{
    float *was = m->grads;
    m->grads = g;
    return was;
}
int rg_model_dense_count(const rg_model *m) { return m->n_dense; }

rg_status rg_model_dense(rg_model *m, int i, size_t *out, size_t *in, float **w, float **b)
{
    for (int l = 0; l < m->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        if (L->kind != RG_LAYER_DENSE || L->dense_index != i) continue;
        if (out) *out = L->out;
        if (in) *in = L->in;
        if (w) *w = m->params + L->w_off;
        if (b) *b = L->bias ? m->params + L->b_off : NULL;
        return RG_OK;
    }
    return rg_error(RG_EUSAGE, "model has no dense layer %d (it has %d)", i, m->n_dense);
}

void rg_model_zero_grad(rg_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---------------------------------------------------------------- workspace */

/* Per layer: output (n × out), pre-activation or dropout mask (n × out).
 * Plus two delta buffers of n × max_width and the probabilities n × classes. */
static rg_status ensure_workspace(rg_model *m, size_t n)
{
    if (n <= m->ws_batch) return RG_OK;
    size_t per_sample = 2 * m->max_width + m->n_out, total = 0, t;
    for (int i = 0; i < m->n_layers; i++) per_sample += 2 * m->layers[i].out;
    if (!rg_mul_ok(per_sample, n, &total) || !rg_mul_ok(total, sizeof(float), &t))
        return rg_error(RG_ENOMEM, "batch of %zu samples is too large for this model", n);
    float *ws = rg_malloc(t);
    float **act = rg_calloc((size_t)m->n_layers * 2, sizeof(float *));
    if (!ws || !act) {
        rg_free(ws);
        rg_free(act);
        return rg_error(RG_ENOMEM, "out of memory: the model's workspace for a batch of %zu samples (%.0f MB)", n,
                        (double)t / 1e6);
    }
    rg_free(m->ws);
    rg_free(m->ws_act);
    m->ws = ws;
    m->ws_act = act;
    m->ws_batch = n;
    float *p = ws;
    for (int i = 0; i < m->n_layers; i++) {
        m->ws_act[2 * i] = p; p += n * m->layers[i].out;
        m->ws_act[2 * i + 1] = p; p += n * m->layers[i].out;
    }
    m->delta[0] = p; p += n * m->max_width;
    m->delta[1] = p; p += n * m->max_width;
    m->probs = p;
    return RG_OK;
}

/* ------------------------------------------------------- forward / backward */

/* Which layers' forward reads wt while held: every one in the fixed-order
 * mode (the product is the same chain of each element however W is
 * stored), else those the rule gives a held forward (gemm.c). */
static int hold_layers(rg_model *m, size_t rows)
{
    int fixed = rg_sgemm_kernel(0, 0, 1, 1, 1, 1.0f, 0.0f) == RG_KERNEL_FIXED, any = 0;
    int r = rows > (size_t)INT32_MAX ? INT32_MAX : (int)rows;
    for (int l = 0; l < m->n_layers; l++) {
        rg_layer *L = &m->layers[l];
        if (L->kind != RG_LAYER_DENSE) continue;
        L->fwd_wt = fixed || rg_sgemm_held_forward((int)L->out, (int)L->in, r, L->bias ? 1.0f : 0.0f);
        any |= L->fwd_wt;
    }
    return any;
}

rg_status rg_model_hold(rg_model *m, int on, size_t rows)
{
    m->held = m->wt_fresh = 0;
    if (!on || !hold_layers(m, rows)) return RG_OK;
    if (!m->wt && !(m->wt = rg_malloc((m->n_params ? m->n_params : 1) * sizeof(float))))
        return rg_error(RG_ENOMEM, "out of memory: a transposed copy of %zu weights", m->n_params);
    m->held = 1;
    return RG_OK;
}

int rg_model_fwd_held(const rg_model *m, int dense_index)
{
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RG_LAYER_DENSE && m->layers[l].dense_index == dense_index)
            return m->held && m->layers[l].fwd_wt;
    return 0;
}

/* wt = the held layers' kernels (out, in) transposed to (in, out). */
static void transpose_kernels(rg_model *m)
{
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        if (L->kind == RG_LAYER_DENSE && L->fwd_wt) rg_transpose(m->params + L->w_off, L->out, L->in, m->wt + L->w_off);
    }
    m->wt_fresh = 1;
}

static void dropout_mask(const rg_layer *L, int layer, const rg_pass *pass, size_t n, float *mask)
{
    size_t d = L->out, blocks = (d + 3) / 4;
    float keep_scale = 1.0f / (1.0f - L->rate);
    uint32_t threshold = (uint32_t)((double)L->rate * 16777216.0);
    uint32_t purpose = RG_RNG_DROPOUT + 256u * (uint32_t)layer;
    uint32_t r[4 * 64];
    for (size_t i = 0; i < n; i++) {
        uint64_t id = pass->sample_ids ? pass->sample_ids[i] : i;
        float *mi = mask + i * d;
        for (size_t b0 = 0; b0 < blocks; b0 += 64) {
            size_t nb = blocks - b0 < 64 ? blocks - b0 : 64;
            rg_rng4_run(pass->seed, purpose, pass->step, id * blocks + b0, nb, r);
            size_t lo = b0 * 4, hi = lo + nb * 4 < d ? lo + nb * 4 : d;
            for (size_t j = lo; j < hi; j++) mi[j] = (r[j - lo] >> 8) >= threshold ? keep_scale : 0.0f;
        }
    }
}

static int is_regression(rg_loss l) { return l == RG_LOSS_MSE || l == RG_LOSS_MAE; }

/* The last layer's output is the loss's logits, its activation folded in. */
static int logits_only(const rg_model *m, const rg_layer *L)
{
    return L == &m->layers[m->n_layers - 1] &&
           (L->act == RG_ACT_SOFTMAX || L->act == RG_ACT_LINEAR || (m->loss == RG_LOSS_BCE && L->act == RG_ACT_SIGMOID));
}

static int dropping(const rg_layer *L, int training) { return training && L->rate != 0.0f; }

/* Dense layer l's activation and the dropout layer after it run as one
 * pass (forward and backward): a hidden dense layer, training, a dropout
 * that drops. */
static int fused_dropout(const rg_model *m, int l, int training)
{
    const rg_layer *L = &m->layers[l];
    return l + 1 < m->n_layers && L->kind == RG_LAYER_DENSE && !logits_only(m, L) && L->act != RG_ACT_SOFTMAX &&
           L[1].kind == RG_LAYER_DROPOUT && dropping(&L[1], training);
}

static rg_status check_labels(const rg_model *m, const int32_t *y, size_t n, const rg_pass *pass)
{
    size_t classes = m->loss == RG_LOSS_BCE ? 2 : m->n_out;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t)y[i] >= classes) {
            unsigned long long id = pass && pass->sample_ids ? pass->sample_ids[i] : i;
            if (m->loss == RG_LOSS_BCE)
                return rg_error(RG_EDATA, "label %d of sample %llu is not 0 or 1: binary cross-entropy (--loss bce) "
                                "takes two classes", (int)y[i], id);
            return rg_error(RG_EDATA, "label %d of sample %llu is outside [0, %zu): the model has %zu outputs",
                            (int)y[i], id, m->n_out, m->n_out);
        }
    return RG_OK;
}

/* The loss's terms over the logits z (n, outputs): their sum, and dz when asked. */
static double loss_terms(const rg_model *m, const float *z, const int32_t *y, const float *t, size_t n, float ls,
                         float scale, float *p, float *dz, size_t *correct)
{
    switch (m->loss) {
    case RG_LOSS_BCE:
        return rg_sigmoid_bce(z, y, n, ls, scale, p, y ? dz : NULL, correct);
    case RG_LOSS_MSE:
    case RG_LOSS_MAE:
        memcpy(p, z, n * sizeof *p);
        if (!t) return 0.0;
        return m->loss == RG_LOSS_MSE ? rg_mse(z, t, n, scale, dz, NULL) : rg_mae(z, t, n, scale, dz, NULL);
    case RG_LOSS_XENT:
    default:
        return rg_softmax_xent(z, y, n, m->n_out, ls, scale, p, y ? dz : NULL, correct);
    }
}

/* The batch's loss sum from the logits z, and its gradient into dz: with
 * class weights (--class-weight), each sample's term and gradient times
 * its class's weight, one sample at a time. */
static double loss_forward(rg_model *m, const float *z, const int32_t *y, const float *t, size_t n,
                           const rg_pass *pass, float *dz, size_t *correct, float *probs)
{
    float scale = pass ? pass->grad_scale : 1.0f, ls = pass ? pass->label_smoothing : 0.0f;
    float *p = probs ? probs : m->probs;
    const float *cw = pass ? pass->class_weight : NULL;
    if (!cw || !y) return loss_terms(m, z, y, t, n, ls, scale, p, dz, correct);
    double total = 0.0;
    size_t k = m->n_out;
    for (size_t i = 0; i < n; i++) {
        float w = cw[y[i]];
        total += (double)w * loss_terms(m, z + i * k, y + i, NULL, 1, ls, scale * w, p + i * k,
                                        dz ? dz + i * k : NULL, correct);
    }
    return total;
}

rg_status rg_model_forward_backward(rg_model *m, const float *x, const int32_t *y,
                                    size_t n, const rg_pass *pass, int backward,
                                    double *loss_sum, size_t *correct, float *probs)
{
    if (n == 0) { if (loss_sum) *loss_sum = 0; return RG_OK; }
    rg_status st = ensure_workspace(m, n);
    if (st != RG_OK) return st;
    const float *tg = pass && is_regression(m->loss) ? pass->targets : NULL;
    if (is_regression(m->loss)) y = NULL;
    if (y && (st = check_labels(m, y, n, pass)) != RG_OK) return st;
    int training = pass && pass->training;
    if (m->held && !m->wt_fresh) transpose_kernels(m);
    const float *in = x;
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        float *outp = m->ws_act[2 * l], *aux = m->ws_act[2 * l + 1];
        if (L->kind == RG_LAYER_DROPOUT) {
            if (!dropping(L, training)) { m->out_ptr[l] = in; continue; }
            dropout_mask(L, l, pass, n, aux);
            size_t cnt = n * L->out;
            for (size_t i = 0; i < cnt; i++) outp[i] = in[i] * aux[i];
        } else {
            const float *w = m->params + L->w_off;
            float beta = 0.0f;
            if (L->bias) {   /* in the GEMM's C: the bias joins the sum where it always has */
                const float *b = m->params + L->b_off;
                for (size_t i = 0; i < n; i++) memcpy(outp + i * L->out, b, L->out * sizeof(float));
                beta = 1.0f;
            }
            /* outp (n, out) = in (n, in) · w(out, in)^T + b  (held: w^T as it is in wt) */
            if (m->held && L->fwd_wt)
                rg_sgemm(0, 0, (int)n, (int)L->out, (int)L->in, 1.0f, in, (int)L->in, m->wt + L->w_off, (int)L->out,
                         beta, outp, (int)L->out);
            else
                rg_sgemm(0, 1, (int)n, (int)L->out, (int)L->in, 1.0f, in, (int)L->in, w, (int)L->in, beta, outp,
                         (int)L->out);
            if (fused_dropout(m, l, training)) {   /* act and the dropout after it: one pass */
                const rg_layer *D = L + 1;
                float *dout = m->ws_act[2 * l + 2], *mask = m->ws_act[2 * l + 3];
                dropout_mask(D, l + 1, pass, n, mask);
                rg_act_dropout_forward(L->act, outp, aux, mask, dout, n, L->out);
                m->out_ptr[l] = outp;
                m->out_ptr[++l] = in = dout;
                continue;
            }
            if (!logits_only(m, L)) rg_act_forward(L->act, outp, n, L->out, aux);
        }
        m->out_ptr[l] = outp;
        in = outp;
    }
    /* in == logits (n, outputs) */
    double loss = loss_forward(m, in, y, tg, n, pass, backward ? m->delta[0] : NULL, correct, probs);
    if (loss_sum) *loss_sum = loss;
    if (!backward || (!y && !tg)) return RG_OK;

    float *delta = m->delta[0], *spare = m->delta[1];
    float acc = pass && pass->overwrite ? 0.0f : 1.0f;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const rg_layer *L = &m->layers[l];
        const float *lin = l ? m->out_ptr[l - 1] : x;
        if (L->kind == RG_LAYER_DROPOUT) {
            if (!dropping(L, training) || (l > 0 && fused_dropout(m, l - 1, training))) continue;
            const float *mask = m->ws_act[2 * l + 1];
            size_t cnt = n * L->out;
            for (size_t i = 0; i < cnt; i++) delta[i] *= mask[i];
            continue;
        }
        /* the dropout above (when fused), act' and the bias gradient: one pass */
        const float *mask = fused_dropout(m, l, training) ? m->ws_act[2 * l + 3] : NULL;
        float *gb = L->bias ? m->grads + L->b_off : NULL;
        if (gb && acc == 0.0f) memset(gb, 0, L->out * sizeof(float));
        rg_act_dropout_backward(logits_only(m, L) ? RG_ACT_LINEAR : L->act, delta, m->out_ptr[l], m->ws_act[2 * l + 1],
                                mask, gb, n, L->out);
        float *gw = m->grads + L->w_off;
        /* gw (out, in) += delta^T (out, n) · lin (n, in) */
        rg_sgemm(1, 0, (int)L->out, (int)L->in, (int)n, 1.0f, delta, (int)L->out, lin, (int)L->in, acc, gw, (int)L->in);
        if (l == 0) break;
        /* d input (n, in) = delta (n, out) · w (out, in) */
        rg_sgemm(0, 0, (int)n, (int)L->in, (int)L->out, 1.0f, delta, (int)L->out, m->params + L->w_off, (int)L->in,
                 0.0f, spare, (int)L->in);
        float *t = delta; delta = spare; spare = t;
    }
    return RG_OK;
}

/* ----------------------------------------- a --deterministic step's shards as one */

/* A weight gradient is rg_sgemm_fixed_shards' (the shards summed in
 * registers: AVX-512, AVX2); on the scalar path it is made in blocks of
 * whole rows, so that a block of gw is contiguous: per shard a block of its chains (the fixed-order
 * product's own tiles inside it), the shards' blocks summed in the tree
 * while in cache (about SHARD_BLOCK floats in all), then written once. */
enum { SHARD_BLOCK = 65536 };

static size_t shard_block_floats(const rg_model *m, int S)
{
    size_t per = (size_t)S * m->max_width;
    return per > SHARD_BLOCK ? per : SHARD_BLOCK;
}

static rg_status shard_workspace(rg_model *m, int S)
{
    size_t need = shard_block_floats(m, S) + (size_t)S * m->max_width;
    if (need <= m->shard_ws_n) return RG_OK;
    float *ws = rg_malloc(need * sizeof *ws);
    if (!ws) return rg_error(RG_ENOMEM, "out of memory: %d shards' gradient blocks", S);
    rg_free(m->shard_ws);
    m->shard_ws = ws;
    m->shard_ws_n = need;
    return RG_OK;
}

/* gw (out, in) = the tree over the shards s of delta_s^T (out, n_s) ·
 * lin_s (n_s, in), each element the chain over the shard's rows (an empty
 * shard's: +0), tm rows of gw at a time (a multiple of 8: the AVX-512
 * tiles' height). */
static void shard_dw(rg_model *m, const float *delta, const float *lin, size_t out, size_t in, const size_t *rows,
                     int S, float *gw, float *maxabs)
{
    if (rg_sgemm_fixed_shards((int)out, (int)in, delta, (int)out, lin, (int)in, rows, S, gw, (int)in, maxabs)) return;
    size_t tm = SHARD_BLOCK / ((size_t)S * in);
    tm = tm >= 8 ? tm - tm % 8 : tm ? tm : 1;
    const size_t stride = tm * in;
    float *buf = m->shard_ws;   /* [S x tm x in] */
    for (size_t i0 = 0; i0 < out; i0 += tm) {
        size_t mb = out - i0 < tm ? out - i0 : tm;
        for (int s = 0; s < S; s++) {
            float *t = buf + (size_t)s * stride;
            size_t r0 = rows[s], ns = rows[s + 1] - r0;
            if (ns)
                rg_sgemm(1, 0, (int)mb, (int)in, (int)ns, 1.0f, delta + r0 * out + i0, (int)out, lin + r0 * in,
                         (int)in, 0.0f, t, (int)in);
            else
                memset(t, 0, mb * in * sizeof *t);
            float mx = rg_max_abs(t, mb * in);
            maxabs[s] = mx > maxabs[s] ? mx : maxabs[s];
        }
        rg_tree_sum(buf, stride, mb * in, S, 0, S, gw + i0 * in);
    }
}

/* Dense layer l's backward, shard by shard: act' (and the dropout after
 * it) on delta, each shard's bias and weight gradient, the tree's sums. */
static void shard_dense_backward(rg_model *m, int l, float *delta, const float *lin, const size_t *rows, int S,
                                 int training, float *maxabs)
{
    const rg_layer *L = &m->layers[l];
    size_t out = L->out;
    const float *mask = fused_dropout(m, l, training) ? m->ws_act[2 * l + 3] : NULL;
    const float *y = m->out_ptr[l], *pre = m->ws_act[2 * l + 1];
    rg_act act = logits_only(m, L) ? RG_ACT_LINEAR : L->act;
    float *gbs = m->shard_ws + shard_block_floats(m, S);   /* [S x out] */
    for (int s = 0; s < S; s++) {
        size_t r0 = rows[s] * out;
        float *gb = L->bias ? gbs + (size_t)s * out : NULL;
        if (gb) memset(gb, 0, out * sizeof *gb);
        rg_act_dropout_backward(act, delta + r0, y + r0, pre + r0, mask ? mask + r0 : NULL, gb, rows[s + 1] - rows[s],
                                out);
        float mx = gb ? rg_max_abs(gb, out) : 0.0f;
        maxabs[s] = mx > maxabs[s] ? mx : maxabs[s];
    }
    if (L->bias) rg_tree_sum(gbs, out, out, S, 0, S, m->grads + L->b_off);
    shard_dw(m, delta, lin, out, L->in, rows, S, m->grads + L->w_off, maxabs);
}

rg_status rg_model_forward_backward_shards(rg_model *m, const float *x, const int32_t *y, const size_t *rows, int S,
                                           const rg_pass *pass, double *loss, size_t *correct, float *maxabs,
                                           float *probs)
{
    size_t n = rows[S], k = m->n_out;
    RG_ASSERT(S >= 1 && S <= RG_FUSE_MAX_SHARDS && n > 0 && pass);
    rg_status st = rg_model_forward_backward(m, x, y, n, pass, 0, NULL, NULL, probs);   /* all rows: row by row */
    if (st != RG_OK || (st = shard_workspace(m, S)) != RG_OK) return st;
    const float *tg = is_regression(m->loss) ? pass->targets : NULL, *z = m->out_ptr[m->n_layers - 1];
    if (is_regression(m->loss)) y = NULL;
    RG_ASSERT(y || tg);
    float *p = probs ? probs : m->probs;
    for (int s = 0; s < S; s++) {   /* each shard's loss sum, as its own pass makes it */
        size_t r0 = rows[s], ns = rows[s + 1] - r0;
        correct[s] = 0;
        maxabs[s] = 0.0f;
        loss[s] = ns ? loss_forward(m, z + r0 * k, y ? y + r0 : NULL, tg ? tg + r0 : NULL, ns, pass,
                                    m->delta[0] + r0 * k, &correct[s], p + r0 * k) : 0.0;
    }
    float *delta = m->delta[0], *spare = m->delta[1];
    int training = pass->training;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const rg_layer *L = &m->layers[l];
        if (L->kind == RG_LAYER_DROPOUT) {
            if (!dropping(L, training) || (l > 0 && fused_dropout(m, l - 1, training))) continue;
            const float *mask = m->ws_act[2 * l + 1];
            for (size_t i = 0; i < n * L->out; i++) delta[i] *= mask[i];
            continue;
        }
        shard_dense_backward(m, l, delta, l ? m->out_ptr[l - 1] : x, rows, S, training, maxabs);
        if (l == 0) break;
        /* d input (n, in) = delta (n, out) · w (out, in): row by row, all rows */
        rg_sgemm(0, 0, (int)n, (int)L->in, (int)L->out, 1.0f, delta, (int)L->out, m->params + L->w_off, (int)L->in,
                 0.0f, spare, (int)L->in);
        float *t = delta; delta = spare; spare = t;
    }
    return RG_OK;
}

/* ------------------------------------------------------ penalties, max-norm */

/* Sums |w| and w^2 in 16 independent float lanes (one AVX-512 register or
 * two AVX ones; the same order every time, so the result is reproducible),
 * then adds the lanes in double. */
typedef float rg_v16 __attribute__((vector_size(64)));

/* The lanes' sums over w[lo, hi), a whole number of 16s from a multiple of 16. */
static void penalty_lanes(const float *restrict w, size_t lo, size_t hi, rg_v16 *a1, rg_v16 *a2)
{
    rg_v16 sign;
    for (int j = 0; j < 16; j++) sign[j] = -0.0f;
    for (size_t i = lo; i < hi; i += 16) {
        rg_v16 v;
        memcpy(&v, w + i, sizeof v);
        rg_v16 a;
        memcpy(&a, &v, sizeof a);
        typedef int32_t rg_i16 __attribute__((vector_size(64)));
        a = (rg_v16)((rg_i16)a & ~(rg_i16)sign);   /* |v| */
        *a1 += a;
        *a2 += v * v;
    }
}

/* The lanes added in double, then the elements past the last 16.  (The
 * lanes by pointer: a 64-byte vector argument changes the ABI on a CPU
 * without AVX-512, which -Wpsabi, an error with -Werror, says of every
 * build that does not inline this, Debug's: make test-tsan's.) */
static void penalty_finish(const float *restrict w, size_t cnt, const rg_v16 *a1, const rg_v16 *a2, double *s1,
                           double *s2)
{
    double t1 = 0.0, t2 = 0.0;
    for (int j = 0; j < 16; j++) { t1 += (*a1)[j]; t2 += (*a2)[j]; }
    for (size_t i = cnt / 16 * 16; i < cnt; i++) { t1 += fabsf(w[i]); t2 += (double)w[i] * w[i]; }
    *s1 = t1;
    *s2 = t2;
}

static void penalty_sums(const float *restrict w, size_t cnt, double *s1, double *s2)
{
    rg_v16 a1 = {0}, a2 = {0};
    penalty_lanes(w, 0, cnt / 16 * 16, &a1, &a2);
    penalty_finish(w, cnt, &a1, &a2, s1, s2);
}

/* The penalty of one layer's kernel; its gradient is added to g (acc) or
 * written over g (!acc). */
/* The penalty's gradient over w[lo, hi) into g (added, or written over). */
static void penalty_grad(float l1, float two_l2, const float *restrict w, float *restrict g, size_t lo, size_t hi,
                         int acc)
{
    if (l1 == 0.0f) {
        if (acc) for (size_t i = lo; i < hi; i++) g[i] += two_l2 * w[i];
        else for (size_t i = lo; i < hi; i++) g[i] = two_l2 * w[i];
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        float sgn = (float)(w[i] > 0.0f) - (float)(w[i] < 0.0f);
        float pg = l1 * sgn + two_l2 * w[i];
        g[i] = acc ? g[i] + pg : pg;
    }
}

static double penalty_span(const rg_layer *L, const float *restrict w, float *restrict g, size_t cnt,
                           float strength, int acc)
{
    float l1 = L->l1 * strength, l2 = L->l2 * strength, two_l2 = 2.0f * l2;
    double s1, s2;
    penalty_sums(w, cnt, &s1, &s2);
    if (g) penalty_grad(l1, two_l2, w, g, 0, cnt, acc);
    return (double)l1 * s1 + (double)l2 * s2;
}

/* What rg_model_penalty_measured measures, so far. */
typedef struct measure_acc {
    unsigned what;
    double sumsq;
    uint32_t top;   /* the largest |g| as bits (see rg_max_abs) */
} measure_acc;

static void measure(measure_acc *a, const float *restrict g, size_t n)
{
    if (a->what & RG_MEASURE_SUMSQ)   /* rg_clip_global_norm's sum, element by element */
        for (size_t i = 0; i < n; i++) a->sumsq += (double)g[i] * g[i];
    if (a->what & RG_MEASURE_MAX)
        for (size_t i = 0; i < n; i++) {
            uint32_t b;
            memcpy(&b, g + i, sizeof b);
            b &= 0x7fffffffu;
            a->top = b > a->top ? b : a->top;
        }
}

/* penalty_span's operations (acc), in chunks of MEASURE_CHUNK elements
 * (a multiple of 16, so that the lanes sum what they always did): each
 * chunk's gradient is measured while it is in cache. */
#define MEASURE_CHUNK 2048
static double penalty_span_measured(const rg_layer *L, const float *restrict w, float *restrict g, size_t cnt,
                                    float strength, measure_acc *acc)
{
    float l1 = L->l1 * strength, l2 = L->l2 * strength, two_l2 = 2.0f * l2;
    rg_v16 a1 = {0}, a2 = {0};
    size_t full = cnt / 16 * 16;
    for (size_t c0 = 0; c0 < cnt; c0 += MEASURE_CHUNK) {
        size_t c1 = c0 + MEASURE_CHUNK < cnt ? c0 + MEASURE_CHUNK : cnt;
        penalty_lanes(w, c0 < full ? c0 : full, c1 < full ? c1 : full, &a1, &a2);
        penalty_grad(l1, two_l2, w, g, c0, c1, 1);
        measure(acc, g + c0, c1 - c0);
    }
    double s1, s2;
    penalty_finish(w, cnt, &a1, &a2, &s1, &s2);
    return (double)l1 * s1 + (double)l2 * s2;
}

static double layer_penalty(const rg_layer *L, const float *restrict w, float *restrict g, float strength, int acc)
{
    return penalty_span(L, w, g, L->out * L->in, strength, acc);
}

static int has_penalty(const rg_layer *L)
{
    return L->kind == RG_LAYER_DENSE && (L->l1 != 0.0f || L->l2 != 0.0f);
}

double rg_model_penalty(const rg_model *m, float strength, float *grads)
{
    double total = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        if (has_penalty(L))
            total += layer_penalty(L, m->params + L->w_off, grads ? grads + L->w_off : NULL, strength, 1);
    }
    return total;
}

double rg_model_penalty_measured(const rg_model *m, float strength, float *g, int add, unsigned what,
                                 double *sumsq, float *maxabs)
{
    measure_acc acc = { what, 0.0, 0 };
    double total = 0.0;
    size_t pos = 0;
    for (int l = 0; l < m->n_layers; l++) {   /* the arena in order: kernel, bias, next layer */
        const rg_layer *L = &m->layers[l];
        if (L->kind != RG_LAYER_DENSE) continue;
        measure(&acc, g + pos, L->w_off - pos);
        size_t cnt = L->out * L->in;
        if (add && has_penalty(L)) total += penalty_span_measured(L, m->params + L->w_off, g + L->w_off, cnt, strength, &acc);
        else measure(&acc, g + L->w_off, cnt);
        pos = L->w_off + cnt;
    }
    measure(&acc, g + pos, m->n_params - pos);
    *sumsq = acc.sumsq;
    if (acc.top >= 0x7f800000u) *maxabs = INFINITY;
    else memcpy(maxabs, &acc.top, sizeof *maxabs);
    return total;
}

double rg_model_penalty_range(const rg_model *m, float strength, float *g, size_t lo, size_t hi)
{
    double total = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        if (!has_penalty(L)) continue;
        size_t a = L->w_off > lo ? L->w_off : lo, e = L->w_off + L->out * L->in;
        if (e > hi) e = hi;
        if (a >= e) continue;
        total += penalty_span(L, m->params + a, g ? g + (a - lo) : NULL, e - a, strength, 1);
    }
    return total;
}

double rg_model_start_grad(rg_model *m, float strength)
{
    double total = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        if (L->kind != RG_LAYER_DENSE) continue;
        if (has_penalty(L))
            total += layer_penalty(L, m->params + L->w_off, m->grads + L->w_off, strength, 0);
        else
            memset(m->grads + L->w_off, 0, L->out * L->in * sizeof(float));
        if (L->bias) memset(m->grads + L->b_off, 0, L->out * sizeof(float));
    }
    return total;
}

void rg_model_apply_constraints(rg_model *m)
{
    for (int l = 0; l < m->n_layers; l++) {
        const rg_layer *L = &m->layers[l];
        if (L->kind != RG_LAYER_DENSE || L->maxnorm <= 0.0f) continue;
        for (size_t o = 0; o < L->out; o++) {
            float *row = m->params + L->w_off + o * L->in;
            double s = 0.0;
            for (size_t i = 0; i < L->in; i++) s += (double)row[i] * row[i];
            double norm = sqrt(s);
            if (norm > L->maxnorm) {
                float k = (float)(L->maxnorm / norm);
                for (size_t i = 0; i < L->in; i++) row[i] *= k;
            }
        }
    }
}

int rg_model_has_maxnorm(const rg_model *m)
{
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RG_LAYER_DENSE && m->layers[l].maxnorm > 0.0f) return 1;
    return 0;
}

int rg_model_has_penalty(const rg_model *m)
{
    for (int l = 0; l < m->n_layers; l++)
        if (has_penalty(&m->layers[l])) return 1;
    return 0;
}

int rg_model_has_dropout(const rg_model *m)
{
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].kind == RG_LAYER_DROPOUT && m->layers[l].rate > 0.0f) return 1;
    return 0;
}
