/*
 * weights.c — --class-weight: one weight per class, multiplying each
 * sample's loss term (and so its gradient) by its class's weight.
 *
 * "balanced" is Keras' and scikit-learn's rule, n_samples / (n_classes *
 * count_c) over the classes present in the training set; FILE holds one
 * weight per line in class order (line k: class k-1, or the k-th class
 * name in sorted order), blank lines and lines starting with # left out.
 * The weights come from the whole training set, so they do not depend on
 * the workers.  Invariant: weights are finite and >= 0, one per output
 * (outputs the training set has no class for get 1).
 */
#include "data/data.h"
#include "train/train.h"
#include <errno.h>
#include <math.h>
#include <string.h>

static rg_status balanced(const rg_dataset *train, float *w)
{
    size_t k = (size_t)train->classes, present = 0;
    size_t *count = rg_calloc(k ? k : 1, sizeof *count);
    if (!count) return rg_error(RG_ENOMEM, "--class-weight: out of memory");
    for (size_t i = 0; i < train->n; i++) count[train->y[i]]++;
    for (size_t c = 0; c < k; c++) present += count[c] > 0;
    for (size_t c = 0; c < k; c++)
        w[c] = count[c] ? (float)((double)train->n / ((double)present * (double)count[c])) : 0.0f;
    rg_free(count);
    return RG_OK;
}

/* One weight per line of path, `classes` of them, into w. */
static rg_status from_file(const char *path, int classes, float *w)
{
    FILE *f = fopen(path, "r");
    if (!f) return rg_error(RG_EIO, "--class-weight %s: cannot open: %s", path, strerror(errno));
    char line[256];
    size_t no = 0;
    int k = 0;
    rg_status s = RG_OK;
    while (!s && fgets(line, sizeof line, f)) {
        no++;
        char *p = line, *e;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p) continue;
        double v = strtod(p, &e);
        while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n') e++;
        if (e == p || *e || !isfinite(v) || v < 0 || !isfinite((float)v))
            s = rg_error(RG_EDATA, "--class-weight %s: line %zu: \"%.*s\" is not a weight (a finite number >= 0)",
                         path, no, (int)strcspn(p, "\r\n"), p);
        else if (k >= classes)
            s = rg_error(RG_EDATA, "--class-weight %s: line %zu: more weights than the training set's %d classes",
                         path, no, classes);
        else
            w[k++] = (float)v;
    }
    if (!s && ferror(f)) s = rg_error(RG_EIO, "--class-weight %s: read error", path);
    if (!s && k < classes)
        s = rg_error(RG_EDATA, "--class-weight %s: %d weight%s for the training set's %d classes (one per line, "
                     "in class order)", path, k, k == 1 ? "" : "s", classes);
    fclose(f);
    return s;
}

rg_status rg_class_weights(const rg_config *c, const rg_dataset *train, const rg_model *m, float **out)
{
    *out = NULL;
    if (!c->class_weight[0]) return RG_OK;
    size_t n_out = rg_model_classes(m);   /* bce: 2 on one output */
    if (n_out == 0) return rg_error(RG_EUSAGE, "--class-weight: a regression (--loss %s) has no classes",
                                    rg_loss_name(rg_model_loss(m)));
    float *w = rg_malloc(n_out * sizeof *w);
    if (!w) return rg_error(RG_ENOMEM, "--class-weight: out of memory");
    for (size_t k = 0; k < n_out; k++) w[k] = 1.0f;
    rg_status s = !strcmp(c->class_weight, "balanced") ? balanced(train, w) : from_file(c->class_weight, train->classes, w);
    if (s) {
        rg_free(w);
        return s;
    }
    *out = w;
    return RG_OK;
}
