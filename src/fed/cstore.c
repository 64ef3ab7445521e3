/*
 * cstore.c — the clients' own state, in memory or in a scratch file
 * (cstore.h).
 *
 * Invariant: seen[c] is set exactly for the clients that have trained (or
 * were put back by a resume); memory holds arr[c] for each of them (and
 * for a client of the round in progress that trains, from begin on), disk
 * holds per x 4 bytes at c x per x 4 in the file for each of them, the
 * rest of the file a hole.  buf[j] (disk) are the round's views.
 * pins counts readers; nothing a reader may see changes while pins > 0.
 */
#include "fed/cstore.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct rg_cstore {
    rg_cstore_kind kind;
    size_t clients, per, m;
    unsigned char *seen;       /* [clients] */
    size_t count;              /* of seen */
    float **arr;               /* memory: [clients] */
    float *buf;                /* disk: [m x per], the round's views */
    float *zeros;              /* [per]: an unseen client's view */
    int fd;                    /* disk: the scratch file, unlinked */
    char path[4200];           /* disk: where it was made, for errors */
    atomic_int pins;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* The scratch file in dir: made, opened and unlinked at once. */
static rg_status open_file(rg_cstore *s, const char *dir)
{
    snprintf(s->path, sizeof s->path, "%s/regula-client-state-XXXXXX", dir);
    s->fd = mkstemp(s->path);
    if (s->fd < 0)
        return rg_error(RG_EIO, "--client-state-dir %s: cannot create the clients' state file there: %s", dir,
                        strerror(errno));
    if (unlink(s->path) != 0) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        return rg_error(RG_EIO, "--client-state-dir %s: cannot unlink the scratch file %s: %s", dir, s->path,
                        strerror(e));
    }
    return RG_OK;
}

rg_status rg_cstore_open(rg_cstore **out, rg_cstore_kind kind, const char *dir, size_t clients, size_t per,
                         size_t m)
{
    *out = NULL;
    if (per && (clients > SIZE_MAX / per / sizeof(float) || m > SIZE_MAX / per / sizeof(float)))
        return rg_error(RG_ENOMEM, "the state of %zu clients of %zu floats does not fit in memory", clients, per);
    rg_cstore *s = rg_calloc(1, sizeof *s);
    if (!s) return rg_error(RG_ENOMEM, "out of memory: the clients' state");
    *s = (rg_cstore){ .kind = kind, .clients = clients, .per = per, .m = m, .fd = -1 };
    atomic_init(&s->pins, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->seen = rg_calloc(clients ? clients : 1, 1);
    s->zeros = rg_calloc(per ? per : 1, sizeof(float));
    if (kind == RG_CSTORE_MEMORY) s->arr = rg_calloc(clients ? clients : 1, sizeof *s->arr);
    else s->buf = rg_calloc(m && per ? m * per : 1, sizeof(float));
    rg_status st = s->seen && s->zeros && (s->arr || s->buf) ? RG_OK
                       : rg_error(RG_ENOMEM, "out of memory: the state of %zu clients (%zu floats each)", clients, per);
    if (st == RG_OK && kind == RG_CSTORE_DISK) st = open_file(s, dir);
    if (st != RG_OK) {
        rg_cstore_close(s);
        return st;
    }
    *out = s;
    return RG_OK;
}

void rg_cstore_close(rg_cstore *s)
{
    if (!s) return;
    rg_cstore_hold(s);
    for (size_t c = 0; s->arr && c < s->clients; c++) rg_free(s->arr[c]);
    rg_free(s->arr);
    rg_free(s->buf);
    rg_free(s->zeros);
    rg_free(s->seen);
    if (s->fd >= 0) close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rg_free(s);
}

rg_cstore_kind rg_cstore_kind_of(const rg_cstore *s) { return s->kind; }
size_t rg_cstore_count(const rg_cstore *s) { return s->count; }
int rg_cstore_has(const rg_cstore *s, size_t c) { return c < s->clients && s->seen[c]; }

static off_t at(const rg_cstore *s, size_t c, size_t off) { return (off_t)((c * s->per + off) * sizeof(float)); }

/* n bytes at pos of the file into p: all of them, or RG_EIO naming the file */
static rg_status pread_all(const rg_cstore *s, void *p, size_t n, off_t pos, size_t c)
{
    unsigned char *b = p;
    while (n) {
        ssize_t r = pread(s->fd, b, n, pos);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return rg_error(RG_EIO, "--client-state-dir: reading client %zu's state from the scratch file %s "
                            "failed: %s", c, s->path, r == 0 ? "the file ends early" : strerror(errno));
        b += r;
        n -= (size_t)r;
        pos += r;
    }
    return RG_OK;
}

static rg_status pwrite_all(const rg_cstore *s, const void *p, size_t n, off_t pos, size_t c)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = pwrite(s->fd, b, n, pos);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)   /* a full disk: a short write, then ENOSPC (EFBIG past RLIMIT_FSIZE) */
            return rg_error(RG_EIO, "--client-state-dir: writing client %zu's state (%zu bytes) to the scratch file "
                            "%s failed: %s", c, s->per * sizeof(float), s->path,
                            w == 0 ? "nothing written" : strerror(errno));
        b += w;
        n -= (size_t)w;
        pos += w;
    }
    return RG_OK;
}

rg_status rg_cstore_read(const rg_cstore *s, size_t c, size_t off, float *buf, size_t n)
{
    RG_ASSERT(c < s->clients && off + n <= s->per);
    if (!s->seen[c]) {
        memset(buf, 0, n * sizeof(float));
        return RG_OK;
    }
    if (s->kind == RG_CSTORE_MEMORY) {
        memcpy(buf, s->arr[c] + off, n * sizeof(float));
        return RG_OK;
    }
    return pread_all(s, buf, n * sizeof(float), at(s, c, off), c);
}

rg_status rg_cstore_begin(rg_cstore *s, const uint32_t *ids, const uint64_t *trained, size_t m, float **view)
{
    RG_ASSERT(m <= s->m);
    for (size_t j = 0; j < m; j++) {
        size_t c = ids[j];
        view[j] = s->zeros;   /* a client that takes no step reads its state nowhere and changes none */
        if (!trained[j]) continue;
        if (s->kind == RG_CSTORE_MEMORY) {
            if (!s->arr[c] && !(s->arr[c] = rg_calloc(s->per ? s->per : 1, sizeof(float))))
                return rg_error(RG_ENOMEM, "out of memory: the state of client %zu (%zu floats)", c, s->per);
            view[j] = s->arr[c];
            continue;
        }
        view[j] = s->buf + j * s->per;
        rg_status st = rg_cstore_read(s, c, 0, view[j], s->per);
        if (st != RG_OK) return st;
    }
    return RG_OK;
}

rg_status rg_cstore_commit(rg_cstore *s, const uint32_t *ids, const uint64_t *trained, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        size_t c = ids[j];
        if (!trained[j]) continue;
        if (s->kind == RG_CSTORE_DISK) {
            rg_status st = pwrite_all(s, s->buf + j * s->per, s->per * sizeof(float), at(s, c, 0), c);
            if (st != RG_OK) return st;
        }
        s->count += !s->seen[c];
        s->seen[c] = 1;
    }
    return RG_OK;
}

rg_status rg_cstore_put(rg_cstore *s, size_t c, const float *x)
{
    RG_ASSERT(c < s->clients);
    rg_status st = RG_OK;
    if (s->kind == RG_CSTORE_DISK) {
        st = pwrite_all(s, x, s->per * sizeof(float), at(s, c, 0), c);
    } else {
        if (!s->arr[c] && !(s->arr[c] = rg_malloc((s->per ? s->per : 1) * sizeof(float))))
            return rg_error(RG_ENOMEM, "out of memory: the state of client %zu (%zu floats)", c, s->per);
        memcpy(s->arr[c], x, s->per * sizeof(float));
    }
    if (st == RG_OK) {
        s->count += !s->seen[c];
        s->seen[c] = 1;
    }
    return st;
}

uint64_t rg_cstore_disk_bytes(const rg_cstore *s)
{
    struct stat sb;
    return s->fd >= 0 && fstat(s->fd, &sb) == 0 ? (uint64_t)sb.st_blocks * 512u : 0;
}

void rg_cstore_pin(rg_cstore *s) { atomic_fetch_add(&s->pins, 1); }

void rg_cstore_unpin(rg_cstore *s)
{
    pthread_mutex_lock(&s->mu);
    atomic_fetch_sub(&s->pins, 1);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int rg_cstore_busy(rg_cstore *s) { return atomic_load(&s->pins) > 0; }

void rg_cstore_hold(rg_cstore *s)
{
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->pins) > 0) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}
