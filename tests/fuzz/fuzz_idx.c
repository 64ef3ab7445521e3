/* libFuzzer target: the idx reader, on a file holding the input (the
 * loaders take paths).  The file is read as images, then as images and
 * labels at once (a one-dim ubyte file is both: n samples of one feature and
 * n labels), then with a scale that overflows float32 for large values.
 * A dataset that loads must satisfy the data layer's invariant.  Build and
 * run with scripts/fuzz.sh idx SECONDS. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    const char *path = fuzz_file("idx", d, n);
    if (!path) return 0;
    rg_dataset *ds = NULL;
    if (rg_dataset_load_idx(path, NULL, 0, &ds) == RG_OK) fuzz_check_dataset(ds);
    if (rg_dataset_load_idx(path, path, 0, &ds) == RG_OK) fuzz_check_dataset(ds);
    if (rg_dataset_load_idx(path, NULL, 1e36f, &ds) == RG_OK) fuzz_check_dataset(ds);
    return 0;
}
