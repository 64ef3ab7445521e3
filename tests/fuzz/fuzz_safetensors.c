/* libFuzzer target: the safetensors reader, on a file holding the input (the
 * loaders take paths).  Build and run with scripts/fuzz.sh safetensors SECONDS. */
#include "regula.h"
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/regula-fuzz-safetensors-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    rg_model *m = NULL;
    if (rg_model_load(path, &m) == RG_OK) rg_model_free(m);
    return 0;
}
