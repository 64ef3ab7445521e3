/* libFuzzer target: the csv reader, on a file holding the input (the
 * loaders take paths): as training data (label last), as a file with a
 * header and the label first, and as unlabeled samples (predict).  A dataset
 * that loads must satisfy the data layer's invariant.  Build and run with
 * scripts/fuzz.sh csv SECONDS. */
#include "fuzz_common.h"

static const char *path;

static void load(int label_column, int header)
{
    rg_dataset *ds = NULL;
    rg_data_opts o = { .label_column = label_column, .header = header };
    if (rg_dataset_load_csv(path, &o, &ds) != RG_OK) return;
    if ((label_column == -2) != (rg_dataset_y(ds) == NULL)) abort();
    fuzz_check_dataset(ds);
}

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    if (!(path = fuzz_file("csv", d, n))) return 0;
    load(-1, 0);
    load(0, 1);
    load(-2, 0);
    return 0;
}
