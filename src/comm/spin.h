/*
 * spin.h — layer 3, internal: the pieces of a spin-then-sleep wait shared by
 * the threads backend and the processes x threads world.  Waking a sleeping
 * thread costs ~55 us here, as long as a small training step, so waits spin
 * for REGULA_SPIN microseconds (default 50) before they sleep.
 */
#ifndef RG_COMM_SPIN_H
#define RG_COMM_SPIN_H
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define RG_SPIN_DEFAULT_US 50
#define RG_SPIN_MAX_US 10000000   /* 10 s */

static inline void rg_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline int64_t rg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* REGULA_SPIN in microseconds (0 = sleep at once), as nanoseconds. */
static inline int64_t rg_spin_from_env(void)
{
    const char *e = getenv("REGULA_SPIN");
    long us = RG_SPIN_DEFAULT_US;
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 0) us = v > RG_SPIN_MAX_US ? RG_SPIN_MAX_US : v;
    }
    return (int64_t)us * 1000;
}
#endif
