/* libFuzzer target: the config reader, on a file holding the input (the
 * loaders take paths).  A config that loads and validates must survive its
 * own canonical JSON: written out and loaded back, it hashes the same.
 * Build and run with scripts/fuzz.sh config SECONDS. */
#include "regula.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];
static void cleanup(void) { unlink(path); }

static int write_file(const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(d, 1, n, f);
    fclose(f);
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/regula-fuzz-config-%d", (int)getpid());
        atexit(cleanup);
    }
    if (!write_file(d, n)) return 0;
    rg_config c;
    rg_config_defaults(&c);
    if (rg_config_load_json(&c, path) != RG_OK) return 0;
    (void)rg_config_validate(&c);
    char *j = rg_config_json(&c);
    if (!j) return 0;   /* out of memory */
    rg_config c2;
    rg_config_defaults(&c2);
    if (!write_file(j, strlen(j)) || rg_config_load_json(&c2, path) != RG_OK) abort();
    char *j2 = rg_config_json(&c2);
    if (j2 && (strcmp(j, j2) != 0 || rg_config_hash(&c) != rg_config_hash(&c2))) abort();
    free(j2);
    free(j);
    return 0;
}
