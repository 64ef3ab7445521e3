/*
 * status.c — the per-thread error message and the status names.
 * Invariant: rg_last_error() describes the most recent failure on this thread
 * with enough context (file, record, offset, option) for a user to act on.
 */
#include "core/core.h"
#include <stdarg.h>
#include <string.h>

static _Thread_local char g_msg[1024];

const char *rg_status_str(rg_status s)
{
    switch (s) {
    case RG_OK: return "ok";
    case RG_EUSAGE: return "usage error";
    case RG_EDATA: return "data error";
    case RG_EIO: return "i/o error";
    case RG_ENONFINITE: return "non-finite value";
    case RG_ECOMM: return "communication error";
    case RG_ENOMEM: return "out of memory";
    }
    return "unknown status";
}

const char *rg_last_error(void) { return g_msg; }
void rg_clear_error(void) { g_msg[0] = 0; }

rg_status rg_error(rg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return s;
}

rg_status rg_error_prefix(rg_status s, const char *fmt, ...)
{
    char old[sizeof g_msg], pre[512];
    memcpy(old, g_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t a = strlen(pre), b = strlen(old);
    if (a > sizeof g_msg - 1) a = sizeof g_msg - 1;
    if (b > sizeof g_msg - 1 - a) b = sizeof g_msg - 1 - a;
    memcpy(g_msg, pre, a);
    memcpy(g_msg + a, old, b);
    g_msg[a + b] = 0;
    return s;
}

void rg_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "regula: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

/* ------------------------------------------------------------ log callback */

static rg_log_fn g_log_fn;
static void *g_log_ud;

void rg_set_log(rg_log_fn fn, void *ud)
{
    g_log_fn = fn;
    g_log_ud = ud;
}

void rg_log(const char *fmt, ...)
{
    if (!g_log_fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_log_fn(msg, g_log_ud);
}

/* ------------------------------------------------------------ crash points */

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

static int env_rank(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v) return atoi(v);
    }
    return 0;
}

static atomic_int g_armed = -1;   /* -1: not looked yet; 0: no RG_TEST_CRASH */

int rg_crash_armed(void)
{
    int a = atomic_load_explicit(&g_armed, memory_order_relaxed);
    if (a < 0) {
        const char *spec = getenv("RG_TEST_CRASH");
        a = spec && *spec;
        atomic_store(&g_armed, a);
    }
    return a;
}

void rg_crash_point(const char *point)
{
    static atomic_long counter;
    if (!rg_crash_armed()) return;
    const char *spec = getenv("RG_TEST_CRASH");
    if (!spec || !*spec) return;
    const char *colon = strchr(spec, ':');
    if (!colon || (size_t)(colon - spec) != strlen(point) || strncmp(spec, point, strlen(point))) return;
    long n = atol(colon + 1);
    const char *at = strchr(colon, '@');
    if (at && atoi(at + 1) != env_rank()) return;
    if (atomic_fetch_add(&counter, 1) + 1 == n) raise(SIGKILL);
}
