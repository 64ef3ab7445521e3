/* libFuzzer target: the safetensors reader, on a file holding the input (the
 * loaders take paths).  Whatever rg_st_read accepts must keep its promise:
 * every tensor's bytes lie inside the file, nbytes is the shape's product
 * times the dtype size, and rg_st_find finds every tensor by name; every
 * byte handed out is read, so ASan sees any overrun.  Then the model loader
 * runs on the same file.  Build and run with scripts/fuzz.sh safetensors
 * SECONDS. */
#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    const char *path = fuzz_file("safetensors", d, n);
    if (!path) return 0;

    rg_st *st = NULL;
    if (rg_st_read(path, &st) == RG_OK) {
        volatile unsigned char sink = 0;
        size_t total = 0;
        for (size_t i = 0; i < rg_st_count(st); i++) {
            const rg_st_tensor *t = rg_st_at(st, i);
            size_t want = rg_st_dtype_size(t->dtype);
            for (int k = 0; k < t->ndim; k++) want *= t->shape[k];   /* no overflow: checked */
            if (want != t->nbytes || t->begin + t->nbytes > n || rg_st_find(st, t->name) != t)
                abort();
            const unsigned char *p = t->data;
            for (size_t b = 0; b < t->nbytes; b++) sink ^= p[b];
            total += t->nbytes;
        }
        if (total > n) abort();   /* tensors tile the data: no overlaps */
        for (size_t i = 0; i < rg_st_meta_count(st); i++) {
            const char *k, *v;
            rg_st_meta_at(st, i, &k, &v);
            if (rg_st_meta(st, k) != v) abort();
        }
        (void)sink;
        rg_st_free(st);
    }
    rg_model *m = NULL;
    if (rg_model_load(path, &m) == RG_OK) rg_model_free(m);
    return 0;
}
