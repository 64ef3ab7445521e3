/* libFuzzer target: the model-spec parser.  A spec that parses must print a
 * canonical spec that parses again to the same text.  Build and run with
 * scripts/fuzz.sh spec SECONDS. */
#include "regula.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, d, n);
    s[n] = 0;
    rg_model *m = NULL, *m2 = NULL;
    if (rg_model_create(s, 5, 1, &m) == RG_OK) {
        if (rg_model_create(rg_model_spec(m), 5, 1, &m2) != RG_OK) abort();
        if (strcmp(rg_model_spec(m), rg_model_spec(m2)) != 0) abort();
        rg_model_free(m2);
        rg_model_free(m);
    }
    free(s);
    return 0;
}
