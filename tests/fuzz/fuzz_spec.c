/* libFuzzer target: the model-spec parser.  A spec that parses must print a
 * canonical spec that parses again to the same text.  Build and run with
 * scripts/fuzz.sh spec SECONDS. */
#include "regula.h"
#include <stdlib.h>
#include <string.h>

/* Huge layers are legal; refusing single blocks over 16 MiB keeps the run
 * inside libFuzzer's memory limit and exercises the out-of-memory paths. */
static void *capped_alloc(size_t size, void *ud)
{
    (void)ud;
    return size > ((size_t)16 << 20) ? NULL : malloc(size);
}
static void plain_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    rg_set_allocator(capped_alloc, plain_free, NULL);
    char *s = malloc(n + 1);
    memcpy(s, d, n);
    s[n] = 0;
    rg_model *m = NULL, *m2 = NULL;
    if (rg_model_create(s, 5, 1, &m) == RG_OK) {
        rg_status st = rg_model_create(rg_model_spec(m), 5, 1, &m2);
        if (st != RG_OK && st != RG_ENOMEM) abort();   /* the canonical spec must parse */
        if (st != RG_OK) { rg_model_free(m); free(s); return 0; }
        if (strcmp(rg_model_spec(m), rg_model_spec(m2)) != 0) abort();
        rg_model_free(m2);
        rg_model_free(m);
    }
    free(s);
    return 0;
}
