/*
 * core.h — layer 0, internal: error context, the allocation hook, checked
 * size arithmetic, timing.  Everything above includes this; it includes libc.
 */
#ifndef RG_CORE_H
#define RG_CORE_H

#include "regula.h"
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define RG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RG_PRINTF(a, b)
#endif

/* Records a message for rg_last_error() and returns s, so callers write
 * `return rg_error(RG_EDATA, "%s: ...", path);`. */
rg_status rg_error(rg_status s, const char *fmt, ...) RG_PRINTF(2, 3);
/* Prefixes the current message with more context ("file.gz: " + old). */
rg_status rg_error_prefix(rg_status s, const char *fmt, ...) RG_PRINTF(2, 3);

/* Hands a message to the front end's log callback (rg_set_log), if any:
 * for what must be said when no caller is left to return a status to. */
void rg_log(const char *fmt, ...) RG_PRINTF(1, 2);

void *rg_malloc(size_t n);          /* NULL on failure (never aborts) */
void *rg_calloc(size_t n, size_t size);
void rg_free(void *p);
char *rg_strdup(const char *s);
/* A copy of n strings (class names): NULL when out of memory, nothing
 * left allocated then. */
char **rg_strv_dup(const char *const *v, int n);
/* Asks the kernel for transparent huge pages over a large block not yet
 * touched (datasets: the training batch gather reads rows at random, and
 * 4 KiB pages make that TLB-bound).  Advice only; harmless if refused. */
void rg_advise_hugepages(void *p, size_t n);

/* a*b and a+b with overflow detection: return 0 on overflow. */
int rg_mul_ok(size_t a, size_t b, size_t *out);
int rg_add_ok(size_t a, size_t b, size_t *out);

double rg_now(void);
/* Sleeps `seconds` (nothing when <= 0). */
void rg_sleep(double seconds);

/* FNV-1a 64 of n bytes, continuing from h (RG_FNV_INIT to start): the
 * config hash and the checkpoint checksum. */
#define RG_FNV_INIT 14695981039346656037ULL
uint64_t rg_fnv1a(uint64_t h, const void *p, size_t n);

/* rg_rng4 for `count` consecutive indices from index0, into out[4*count]:
 * the same values as count calls of rg_rng4, computed in vector lanes. */
void rg_rng4_run(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index0, size_t count, uint32_t *out);                /* monotonic seconds */

/* The test hook (rg_set_test_hook): rg_hook_point calls it, if one is set,
 * with the point's name; rg_hook_set says whether one is. */
void rg_hook_point(const char *point);
int rg_hook_set(void);

/* The most workers a run may have, processes x threads together: bounds
 * the per-worker arrays (strengths, figures) and the arena's padding. */
#define RG_MAX_WORKERS 1024

/* Programmer errors: abort with file and line.  Never for user input. */
#define RG_ASSERT(c) do { if (!(c)) rg_assert_fail(#c, __FILE__, __LINE__); } while (0)
void rg_assert_fail(const char *expr, const char *file, int line);

#endif
