/*
 * ckpt.c — the federated state a training checkpoint keeps (rg_fed_state):
 * its arrays, sized and grown in place, and the check that a checkpoint's
 * state is what this run keeps.
 *
 * What a run keeps between rounds besides w_g (fed.c fills and restores
 * it): the server's arrays that outlive a round (rg_fed_server_kept), the
 * own state of each client that has taken part (only those: a run of
 * 10,000 clients keeps what its rounds have touched), and --mu-adapt
 * divergence's last figure of every client, from which the factors are
 * recomputed.  Invariant: s->n ids ascending, each below the run's
 * clients, each with client_n x P floats in client.
 */
#include "fed/fed.h"
#include "fed/cstore.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* buf grown to hold want elements of size each (room kept in *cap) */
static int grow(void **buf, size_t *cap, uint64_t want, size_t size)
{
    if (want <= *cap) return 1;
    if (want > SIZE_MAX / size) return 0;
    void *p = rg_malloc((size_t)want * size);
    if (!p) return 0;
    rg_free(*buf);
    *buf = p;
    *cap = (size_t)want;
    return 1;
}

rg_status rg_fed_state_size(rg_fed_state *s, uint64_t P, uint64_t server_n, uint64_t n, uint64_t client_n,
                            uint64_t clients)
{
    uint64_t per = client_n * P;
    if ((P && (server_n > UINT64_MAX / P || client_n > UINT64_MAX / P)) || (per && n > UINT64_MAX / per) ||
        !grow((void **)&s->server, &s->cap_server, server_n * P, sizeof(float)) ||
        !grow((void **)&s->ids, &s->cap_n, n, sizeof(uint64_t)) ||
        !grow((void **)&s->client, &s->cap_client, n * per, sizeof(float)) ||
        !grow((void **)&s->raw, &s->cap_raw, clients, sizeof(double)))
        return rg_error(RG_ENOMEM, "out of memory: the federated state of %llu clients (%llu x %llu floats each)",
                        (unsigned long long)n, (unsigned long long)client_n, (unsigned long long)P);
    s->P = P;
    s->server_n = server_n;
    s->n = n;
    s->client_n = client_n;
    s->clients = clients;
    return RG_OK;
}

void rg_fed_state_free(rg_fed_state *s)
{
    if (!s) return;
    rg_free(s->server);
    rg_free(s->ids);
    rg_free(s->client);
    rg_free(s->raw);
    rg_free(s->src);
    memset(s, 0, sizeof *s);
}

/* fd's bytes [pos, pos + n) into p, all of them, or RG_EIO naming path */
static rg_status read_at(int fd, const char *path, void *p, size_t n, uint64_t pos)
{
    for (unsigned char *b = p; n;) {
        ssize_t r = pread(fd, b, n, (off_t)pos);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return rg_error(RG_EIO, "%s: reading tensor 'fed.client_state' failed: %s", path,
                            r == 0 ? "the file ends early" : strerror(errno));
        b += r;
        n -= (size_t)r;
        pos += (uint64_t)r;
    }
    return RG_OK;
}

rg_status rg_fed_state_each(const rg_fed_state *s, rg_status (*put)(void *ctx, size_t id, const float *x), void *ctx)
{
    size_t per = (size_t)(s->client_n * s->P);
    rg_status st = RG_OK;
    if (s->client || !s->n) {
        for (uint64_t i = 0; i < s->n && st == RG_OK; i++) st = put(ctx, (size_t)s->ids[i], s->client + i * per);
        return st;
    }
    int fd = open(s->src, O_RDONLY | O_CLOEXEC);
    float *buf = rg_malloc((per ? per : 1) * sizeof(float));
    if (fd < 0 || !buf) {
        st = !buf ? rg_error(RG_ENOMEM, "out of memory: a client's state (%zu floats)", per)
                  : rg_error(RG_EIO, "%s: cannot open: %s", s->src, strerror(errno));
    }
    for (uint64_t i = 0; i < s->n && st == RG_OK; i++)
        if ((st = read_at(fd, s->src, buf, per * sizeof(float), s->src_at + i * per * sizeof(float))) == RG_OK)
            st = put(ctx, (size_t)s->ids[i], buf);
    rg_free(buf);
    if (fd >= 0) close(fd);
    return st;
}

void rg_fed_state_loaded(rg_fed_state *s, int threads)
{
    if (!s->client || atomic_fetch_add(&s->loaded, 1) + 1 != threads) return;
    rg_free(s->client);
    s->client = NULL;
    s->cap_client = 0;
}

rg_status rg_fed_state_materialise(rg_fed_state *s)
{
    if (s->client || !s->n || !s->src) return RG_OK;
    size_t per = (size_t)(s->client_n * s->P);
    if (!grow((void **)&s->client, &s->cap_client, s->n * per, sizeof(float)))
        return rg_error(RG_ENOMEM, "out of memory: the federated state of %llu clients (%zu floats each)",
                        (unsigned long long)s->n, per);
    int fd = open(s->src, O_RDONLY | O_CLOEXEC);
    rg_status st = fd < 0 ? rg_error(RG_EIO, "%s: cannot open: %s", s->src, strerror(errno))
                          : read_at(fd, s->src, s->client, (size_t)s->n * per * sizeof(float), s->src_at);
    if (fd >= 0) close(fd);
    return st;
}

void rg_fed_round_pack(const rg_round_stats *r, double *out)
{
    const double v[RG_FED_ROUND_N] = { r->clients, r->trained, r->client_loss_mean, r->client_loss_std,
                                       r->client_loss_worst, r->drift_mean, r->drift_std, r->drift_worst,
                                       r->client_acc_mean, r->client_acc_std, r->client_acc_worst, r->bytes_up,
                                       r->bytes_down, r->factor_min, r->factor_max, r->samples, r->dropped,
                                       r->stragglers, r->kept, r->dp, r->epsilon };
    memcpy(out, v, sizeof v);
}

void rg_fed_round_unpack(const double *v, rg_round_stats *r)
{
    *r = (rg_round_stats){ .clients = (int)v[0], .trained = (int)v[1], .client_loss_mean = v[2],
                           .client_loss_std = v[3], .client_loss_worst = v[4], .drift_mean = v[5], .drift_std = v[6],
                           .drift_worst = v[7], .client_acc_mean = v[8], .client_acc_std = v[9],
                           .client_acc_worst = v[10], .bytes_up = v[11], .bytes_down = v[12], .factor_min = v[13],
                           .factor_max = v[14], .samples = v[15], .dropped = (int)v[16], .stragglers = (int)v[17],
                           .kept = (int)v[18], .dp = (int)v[19], .epsilon = v[20] };
}

rg_cstore_kind rg_fed_store_kind(const rg_fed_setup *f, size_t P)
{
    double full = (double)f->clients * (double)f->algo->client_state * (double)P * sizeof(float);
    if (!f->algo->client_state) return RG_CSTORE_MEMORY;
    if (f->client_store != RG_CSTORE_AUTO) return (rg_cstore_kind)f->client_store;
    return full > RG_CSTORE_AUTO_BYTES ? RG_CSTORE_DISK : RG_CSTORE_MEMORY;
}

rg_status rg_fed_store_check(const rg_fed_setup *f, size_t P)
{
    if (rg_fed_store_kind(f, P) != RG_CSTORE_DISK) return RG_OK;
    rg_cstore *s;   /* a store of no client: makes its file and unlinks it, as the run's will */
    rg_status st = rg_cstore_open(&s, RG_CSTORE_DISK, f->state_dir, 0, 0, 0);
    rg_cstore_close(s);
    return st;
}

rg_status rg_fed_state_read(const void *ctx, size_t off, void *buf, size_t n)
{
    const rg_fed_state *s = ctx;
    size_t per = (size_t)(s->client_n * s->P), pb = per * sizeof(float);
    RG_ASSERT(off % sizeof(float) == 0 && n % sizeof(float) == 0 && pb && off + n <= (size_t)s->n * pb);
    if (!s->store) {
        memcpy(buf, (const char *)s->client + off, n);
        return RG_OK;
    }
    for (char *out = buf; n;) {   /* client i's floats from o on, up to its end */
        size_t i = off / pb, o = (off % pb) / sizeof(float), k = per - o;
        if (k * sizeof(float) > n) k = n / sizeof(float);
        rg_status st = rg_cstore_read(s->store, (size_t)s->ids[i], o, (float *)(void *)out, k);
        if (st != RG_OK) return st;
        out += k * sizeof(float);
        off += k * sizeof(float);
        n -= k * sizeof(float);
    }
    return RG_OK;
}

rg_status rg_fed_state_check(const rg_fed_setup *f, size_t P, const rg_fed_state *s, const char *path)
{
    static const rg_fed_state none = { 0 };
    const char *algo = f->algo->name;
    uint64_t server_n = rg_fed_server_kept(f), client_n = (uint64_t)f->algo->client_state;
    uint64_t clients = f->mu_adapt == RG_ADAPT_DIVERGENCE ? (uint64_t)f->clients : 0;
    if (!s) s = &none;
    if ((s->server_n || s->n) && s->P != P)
        return rg_error(RG_EDATA, "%s: its federated state is over %llu parameters, the model has %zu", path,
                        (unsigned long long)s->P, P);
    if (s->server_n != server_n)
        return rg_error(RG_EDATA, "%s: holds %llu server array%s ('fed.server'), --algo %s%s keeps %llu", path,
                        (unsigned long long)s->server_n, s->server_n == 1 ? "" : "s", algo,
                        f->server_momentum > 0.0 ? " with --server-momentum" : "", (unsigned long long)server_n);
    if (s->n && s->client_n != client_n)
        return rg_error(RG_EDATA, "%s: holds %llu array%s of state per client ('fed.client_state'), --algo %s keeps "
                        "%llu", path, (unsigned long long)s->client_n, s->client_n == 1 ? "" : "s", algo,
                        (unsigned long long)client_n);
    for (uint64_t i = 0; i < s->n; i++)
        if (s->ids[i] >= (uint64_t)f->clients || (i && s->ids[i] <= s->ids[i - 1]))
            return rg_error(RG_EDATA, "%s: 'fed.clients' element %llu is client %llu: not ascending below "
                            "--clients %d", path, (unsigned long long)i, (unsigned long long)s->ids[i], f->clients);
    if (s->clients != clients && clients)
        return rg_error(RG_EDATA, "%s: holds --mu-adapt divergence's figures of %llu clients ('fed.divergence'), this "
                        "run keeps those of its --clients %d", path, (unsigned long long)s->clients, f->clients);
    if (s->clients != clients)
        return rg_error(RG_EDATA, "%s: holds --mu-adapt divergence's figures ('fed.divergence'), this run keeps none "
                        "(no --mu-adapt divergence)", path);
    return RG_OK;
}
