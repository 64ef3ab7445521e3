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

/* ------------------------------------------------------------ test hook */

#include <stdatomic.h>

/* Set before a run starts, read by its threads: the pointer is atomic so
 * that a hook set between runs is seen whole. */
static _Atomic(rg_hook_fn) g_hook;
static void *g_hook_ud;

void rg_set_test_hook(rg_hook_fn fn, void *ud)
{
    g_hook_ud = ud;
    atomic_store(&g_hook, fn);
}

int rg_hook_set(void) { return atomic_load_explicit(&g_hook, memory_order_relaxed) != NULL; }

void rg_hook_point(const char *point)
{
    rg_hook_fn fn = atomic_load(&g_hook);
    if (fn) fn(point, g_hook_ud);
}
