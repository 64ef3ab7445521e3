/* support.c — see support.h. */
#define _GNU_SOURCE
#include "support.h"
#include "regula.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

char *rgt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/regula-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void rgt_rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

const char *rgt_path(const char *dir, const char *name)
{
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

void rgt_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void rgt_write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    if (n) assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
}

char *rgt_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[got] = 0;
    if (n) *n = got;
    return buf;
}

int rgt_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

double rgt_reldiff(double a, double b, double floor)
{
    double m = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / m;
}

rgt_alloc_stats rgt_alloc;

static void *rgt_count_alloc(size_t n, void *ud)
{
    (void)ud;
    if (rgt_alloc.fail_at >= 0 && rgt_alloc.calls++ == rgt_alloc.fail_at) return NULL;
    if (n > rgt_alloc.largest) rgt_alloc.largest = n;
    void *p = malloc(n);
    if (p) rgt_alloc.live++;
    return p;
}

static void rgt_count_free(void *p, void *ud)
{
    (void)ud;
    rgt_alloc.live--;
    free(p);
}

void rgt_alloc_begin(void)
{
    memset(&rgt_alloc, 0, sizeof rgt_alloc);
    rgt_alloc.fail_at = -1;
    rg_set_allocator(rgt_count_alloc, rgt_count_free, NULL);
}

void rgt_alloc_end(void) { rg_set_allocator(NULL, NULL, NULL); }

/* Four Gaussian blobs in 8 dimensions, labels 0..3 (class i * 7919 mod 4),
 * keyed by seed: the small data the training tests share. */
rg_dataset *rgt_blobs(size_t n, uint64_t seed)
{
    float *x = malloc(n * 8 * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        int c = (int)((i * 7919) % 4);
        for (int j = 0; j < 8; j++)
            x[i * 8 + j] = (j == c ? 1.0f : 0.0f) + (rg_rng_uniform(seed, RG_RNG_USER, i, (uint64_t)j) - 0.5f) * 2.0f;
        y[i] = c;
    }
    rg_dataset *ds;
    assert_int_equal(rg_dataset_from_arrays(x, y, n, 8, &ds), RG_OK);
    free(x);
    free(y);
    return ds;
}
