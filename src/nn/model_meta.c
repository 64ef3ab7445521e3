/*
 * model_meta.c — what a model carries beside its weights, for the data it
 * was trained on: the names of its classes (when the labels were names)
 * and the per-feature standardisation of its inputs (--standardize).
 * Checkpoints save both (io/checkpoint.c); the trainer never reads them.
 *
 * Invariant: classes is NULL or holds n_classes distinct strings (the
 * model's classes when they were set: outputs, or 2 for bce); in_mean and
 * in_std are both NULL or both hold n_in finite floats, every std > 0.
 */
#include "nn/model.h"
#include <math.h>
#include <string.h>

void rg_model_meta_free(rg_model *m)
{
    for (size_t i = 0; m->classes && i < m->n_classes; i++) rg_free(m->classes[i]);
    rg_free(m->classes);
    rg_free(m->in_mean);
    m->classes = NULL;
    m->in_mean = m->in_std = NULL;
}

rg_status rg_model_set_classes(rg_model *m, const char *const *names, int n)
{
    if (!names) {
        for (size_t i = 0; m->classes && i < m->n_classes; i++) rg_free(m->classes[i]);
        rg_free(m->classes);
        m->classes = NULL;
        return RG_OK;
    }
    if (n < 0 || (size_t)n != rg_model_classes(m))
        return rg_error(RG_EUSAGE, "%d class names for a model of %zu classes", n, rg_model_classes(m));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return rg_error(RG_EUSAGE, "class name \"%s\" given twice", names[i]);
    char **c = rg_strv_dup(names, n);
    if (!c) return rg_error(RG_ENOMEM, "out of memory for %d class names", n);
    rg_model_set_classes(m, NULL, 0);
    m->classes = c;
    m->n_classes = (size_t)n;
    return RG_OK;
}

const char *rg_model_class_name(const rg_model *m, int c)
{
    return m && m->classes && c >= 0 && (size_t)c < m->n_classes ? m->classes[c] : NULL;
}

rg_status rg_model_set_standardize(rg_model *m, const float *mean, const float *std)
{
    if (!mean || !std) {
        rg_free(m->in_mean);
        m->in_mean = m->in_std = NULL;
        return RG_OK;
    }
    for (size_t j = 0; j < m->n_in; j++)
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0))
            return rg_error(RG_EUSAGE, "standardisation of input %zu: mean %g, std %g (want finite, std > 0)",
                            j, (double)mean[j], (double)std[j]);
    size_t bytes;
    float *p = rg_mul_ok(m->n_in, 2 * sizeof(float), &bytes) ? rg_malloc(bytes) : NULL;
    if (!p) return rg_error(RG_ENOMEM, "out of memory for the standardisation of %zu inputs", m->n_in);
    memcpy(p, mean, m->n_in * sizeof(float));
    memcpy(p + m->n_in, std, m->n_in * sizeof(float));
    rg_free(m->in_mean);
    m->in_mean = p;
    m->in_std = p + m->n_in;
    return RG_OK;
}

int rg_model_standardize(const rg_model *m, const float **mean, const float **std)
{
    if (mean) *mean = m ? m->in_mean : NULL;
    if (std) *std = m ? m->in_std : NULL;
    return m && m->in_mean;
}

rg_status rg_model_meta_copy(rg_model *dst, const rg_model *src)
{
    rg_status s = RG_OK;
    if (src->classes) s = rg_model_set_classes(dst, (const char *const *)src->classes, (int)src->n_classes);
    if (!s && src->in_mean) s = rg_model_set_standardize(dst, src->in_mean, src->in_std);
    return s;
}
