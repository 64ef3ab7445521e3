/*
 * alloc.c — the one allocation hook.  Every byte the library allocates goes
 * through rg_malloc/rg_free, so a test can swap in an allocator that fails the
 * Nth call and check that every error path cleans up.
 */
#include "core/core.h"
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <sys/mman.h>

static void *default_alloc(size_t n, void *ud) { (void)ud; return malloc(n); }
static void default_free(void *p, void *ud) { (void)ud; free(p); }

static rg_alloc_fn g_alloc = default_alloc;
static rg_free_fn g_free = default_free;
static void *g_ud;

void rg_set_allocator(rg_alloc_fn a, rg_free_fn f, void *ud)
{
    g_alloc = a ? a : default_alloc;
    g_free = f ? f : default_free;
    g_ud = ud;
}

void *rg_malloc(size_t n) { return g_alloc(n ? n : 1, g_ud); }

void *rg_calloc(size_t n, size_t size)
{
    size_t total;
    if (!rg_mul_ok(n, size, &total)) return NULL;
    void *p = rg_malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void rg_free(void *p) { if (p) g_free(p, g_ud); }

char *rg_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = rg_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

char **rg_strv_dup(const char *const *v, int n)
{
    char **c = rg_calloc((size_t)n, sizeof *c);
    for (int i = 0; c && i < n; i++)
        if (!(c[i] = rg_strdup(v[i]))) {
            while (i-- > 0) rg_free(c[i]);
            rg_free(c);
            c = NULL;
        }
    return c;
}

int rg_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int rg_add_ok(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

double rg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void rg_sleep(double seconds)
{
    if (!(seconds > 0.0)) return;
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&ts, NULL);
}

void rg_advise_hugepages(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    /* Only whole 2 MiB pages inside the block; a no-op for small blocks. */
    const uintptr_t huge = (uintptr_t)1 << 21;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (p && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

uint64_t rg_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
