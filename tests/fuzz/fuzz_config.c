/* libFuzzer target: the config reader, on a file holding the input (the
 * loaders take paths).  Build and run with scripts/fuzz.sh config SECONDS. */
#include "regula.h"
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/regula-fuzz-config-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    rg_config c;
    rg_config_defaults(&c);
    if (rg_config_load_json(&c, path) == RG_OK) (void)rg_config_validate(&c);
    return 0;
}
