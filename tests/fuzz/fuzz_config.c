/* libFuzzer target: the config reader, on a file holding the input (the
 * loaders take paths).  A config that loads and validates must survive its
 * own canonical JSON: written out and loaded back, it hashes the same.
 * Build and run with scripts/fuzz.sh config SECONDS. */
#include "fuzz_common.h"
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    const char *path = fuzz_file("config", d, n);
    if (!path) return 0;
    rg_config c;
    rg_config_defaults(&c);
    if (rg_config_load_json(&c, path) != RG_OK) return 0;
    (void)rg_config_validate(&c);
    char *j = rg_config_json(&c);
    if (!j) return 0;   /* out of memory */
    rg_config c2;
    rg_config_defaults(&c2);
    if (!fuzz_file("config", j, strlen(j)) || rg_config_load_json(&c2, path) != RG_OK) abort();
    char *j2 = rg_config_json(&c2);
    if (j2 && (strcmp(j, j2) != 0 || rg_config_hash(&c) != rg_config_hash(&c2))) abort();
    free(j2);
    free(j);
    return 0;
}
