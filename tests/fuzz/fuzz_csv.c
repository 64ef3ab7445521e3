/* libFuzzer target: the csv reader, on a file holding the input (the
 * loaders take paths): as training data (label last), as a file with a
 * header and the label first, and as unlabeled samples (predict).  A dataset
 * that loads must satisfy the data layer's invariant.  Build and run with
 * scripts/fuzz.sh csv SECONDS. */
#include "regula.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];
static void cleanup(void) { unlink(path); }

static void load(int label_column, int header)
{
    rg_dataset *ds = NULL;
    rg_data_opts o = {label_column, header, 0};
    if (rg_dataset_load_csv(path, &o, &ds) != RG_OK) return;
    size_t n = rg_dataset_size(ds), d = rg_dataset_features(ds);
    const float *x = rg_dataset_x(ds);
    const int32_t *y = rg_dataset_y(ds);
    if (!n || !d || (label_column == -2) != (y == NULL)) abort();
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
        snprintf(path, sizeof path, "/tmp/regula-fuzz-csv-%d", (int)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    load(-1, 0);
    load(0, 1);
    load(-2, 0);
    return 0;
}
