/* fuzz_common.h — what the file-reading fuzz targets share: the input
 * written to a per-process temporary file (the loaders take paths, and it
 * is removed at exit), and the data layer's invariant for a dataset that
 * loaded.  Header-only: each target is one translation unit. */
#ifndef RG_FUZZ_COMMON_H
#define RG_FUZZ_COMMON_H

#include "regula.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_path[64];
static void fuzz_cleanup(void) { unlink(fuzz_path); }

/* Writes n bytes to /tmp/regula-fuzz-NAME-PID; its path, or NULL. */
static const char *fuzz_file(const char *name, const void *d, size_t n)
{
    if (!fuzz_path[0]) {
        snprintf(fuzz_path, sizeof fuzz_path, "/tmp/regula-fuzz-%s-%d", name, (int)getpid());
        atexit(fuzz_cleanup);
    }
    FILE *f = fopen(fuzz_path, "wb");
    if (!f) return NULL;
    fwrite(d, 1, n, f);
    fclose(f);
    return fuzz_path;
}

/* A dataset that loads has samples and features, only finite features and
 * labels below its class count; frees it. */
static void fuzz_check_dataset(rg_dataset *ds)
{
    size_t n = rg_dataset_size(ds), d = rg_dataset_features(ds);
    const float *x = rg_dataset_x(ds);
    const int32_t *y = rg_dataset_y(ds);
    if (!n || !d) abort();
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i])) abort();
    for (size_t i = 0; y && i < n; i++)
        if (y[i] < 0 || y[i] >= rg_dataset_classes(ds)) abort();
    rg_dataset_free(ds);
}

#endif
