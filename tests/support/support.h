/* support.h — small helpers shared by the tests: temporary directories and
 * files, gzip writing, running the CLI.  Tests include <cmocka.h> after the
 * standard headers as cmocka requires. */
#ifndef RG_TEST_SUPPORT_H
#define RG_TEST_SUPPORT_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp); removed by rgt_rmtree. */
char *rgt_tmpdir(void);
void rgt_rmtree(const char *dir);
/* Joins dir/name into a static rotating buffer (8 slots). */
const char *rgt_path(const char *dir, const char *name);
/* Writes bytes to path, plain or gzip-compressed. */
void rgt_write(const char *path, const void *data, size_t n);
void rgt_write_gz(const char *path, const void *data, size_t n);
/* Reads a whole file (malloc'd, NUL-terminated); *n gets its size. */
char *rgt_read(const char *path, size_t *n);
int rgt_exists(const char *path);
/* A counting allocator for rg_set_allocator: live blocks, calls so far, the
 * largest request, and the call number that fails (-1: none).
 * rgt_alloc_begin resets and installs it; rgt_alloc_end puts malloc back. */
typedef struct { long live, calls, fail_at; size_t largest; } rgt_alloc_stats;
extern rgt_alloc_stats rgt_alloc;
void rgt_alloc_begin(void);
void rgt_alloc_end(void);

/* Relative difference |a-b| / max(|a|,|b|,floor). */
double rgt_reldiff(double a, double b, double floor);
/* Four Gaussian blobs in 8 dimensions, labels 0..3, keyed by seed. */
struct rg_dataset;
struct rg_dataset *rgt_blobs(size_t n, uint64_t seed);
#endif
