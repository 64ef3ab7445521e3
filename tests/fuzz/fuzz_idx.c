/* libFuzzer target: the idx reader, on a file holding the input (the
 * loaders take paths).  Build and run with scripts/fuzz.sh idx SECONDS. */
#include "regula.h"
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/regula-fuzz-idx-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    rg_dataset *ds = NULL;
    if (rg_dataset_load_idx(path, NULL, 0, &ds) == RG_OK) rg_dataset_free(ds);
    return 0;
}
