/* libFuzzer target: the idx reader, on a file holding the input (the
 * loaders take paths).  The file is read as images, then as images and
 * labels at once (a one-dim ubyte file is both: n samples of one feature and
 * n labels), then with a scale that overflows float32 for large values.
 * A dataset that loads must satisfy the data layer's invariant.  Build and
 * run with scripts/fuzz.sh idx SECONDS. */
#include "regula.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];
static void cleanup(void) { unlink(path); }

static void check(rg_dataset *ds)
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

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/regula-fuzz-idx-%d", (int)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    rg_dataset *ds = NULL;
    if (rg_dataset_load_idx(path, NULL, 0, &ds) == RG_OK) check(ds);
    if (rg_dataset_load_idx(path, path, 0, &ds) == RG_OK) check(ds);
    if (rg_dataset_load_idx(path, NULL, 1e36f, &ds) == RG_OK) check(ds);
    return 0;
}
