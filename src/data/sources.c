/*
 * sources.c — rg_dataset_open: a source string ("fashion-mnist", "idx:DIR",
 * "csv:FILE") becomes a loader call.  Above the loaders (idx.c, csv.c),
 * which are above the dataset object (dataset.c): no file calls back into
 * one that calls it.
 */
#include "data/data.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define RG_FASHION_MNIST_DEFAULT "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------ sources */

/* NULL when path is a directory, else why not. */
static const char *dir_problem(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return strerror(errno);
    return S_ISDIR(st.st_mode) ? NULL : "not a directory";
}

/* dir/base.gz if it exists, else dir/base; RG_EIO naming both if neither. */
static rg_status find_idx_file(const char *label, const char *dir, const char *base,
                               char *buf, size_t cap)
{
    struct stat st;
    if ((size_t)snprintf(buf, cap, "%s/%s.gz", dir, base) >= cap)
        return rg_error(RG_EUSAGE, "%s: directory name too long: %s", label, dir);
    if (stat(buf, &st) == 0) return RG_OK;
    snprintf(buf, cap, "%s/%s", dir, base);
    if (stat(buf, &st) == 0) return RG_OK;
    return rg_error(RG_EIO, "%s: cannot open %s/%s.gz or %s/%s: %s",
                    label, dir, base, dir, base, strerror(errno));
}

static rg_status open_idx_dir(const char *label, const char *dir, const char *split,
                              float scale, rg_dataset **out)
{
    const char *pre = strcmp(split, "train") == 0 ? "train" : "t10k";
    char images[4096], labels[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
    rg_status s = find_idx_file(label, dir, base, images, sizeof images);
    if (s) return s;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
    s = find_idx_file(label, dir, base, labels, sizeof labels);
    if (s) return s;
    return rg_dataset_load_idx(images, labels, scale, out);
}

rg_status rg_dataset_open(const char *source, const char *split,
                          const rg_data_opts *opts, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_open: out is NULL");
    *out = NULL;
    if (!source || !*source) return rg_error(RG_EUSAGE, "no data source given (expected fashion-mnist, idx:DIR or csv:FILE)");
    if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
        return rg_error(RG_EUSAGE, "%s: unknown split \"%s\" (expected train or test)",
                        source, split ? split : "(null)");
    float scale = opts ? opts->scale : 0.0f;

    if (strcmp(source, "fashion-mnist") == 0) {
        const char *env = getenv("REGULA_FASHION_MNIST_DIR");
        const char *dir = env && *env ? env : RG_FASHION_MNIST_DEFAULT;
        const char *why = dir_problem(dir);
        if (why)
            return rg_error(RG_EIO, "fashion-mnist: directory %s not found (%s); install Debian's "
                            "dataset-fashion-mnist package (apt install dataset-fashion-mnist) "
                            "or set REGULA_FASHION_MNIST_DIR", dir, why);
        return open_idx_dir(source, dir, split, scale, out);
    }
    if (strncmp(source, "idx:", 4) == 0) {
        const char *dir = source + 4;
        if (!*dir) return rg_error(RG_EUSAGE, "%s: missing directory after idx:", source);
        const char *why = dir_problem(dir);
        if (why) return rg_error(RG_EIO, "%s: directory %s not found (%s)", source, dir, why);
        return open_idx_dir(source, dir, split, scale, out);
    }
    if (strncmp(source, "csv:", 4) == 0) {
        if (!source[4]) return rg_error(RG_EUSAGE, "%s: missing file name after csv:", source);
        if (strcmp(split, "test") == 0)
            return rg_error(RG_EUSAGE, "%s: csv sources have no test split; use --test-data", source);
        return rg_dataset_load_csv(source + 4, opts, out);
    }
    /* A bare path is the likeliest slip: say which prefix it wants. */
    size_t len = strlen(source);
    const char *hint = len > 4 && strcmp(source + len - 4, ".csv") == 0 ? "csv:"
                     : !dir_problem(source) ? "idx:" : NULL;
    return rg_error(RG_EUSAGE, "unknown data source \"%s\" (expected fashion-mnist, idx:DIR or "
                    "csv:FILE)%s%s%s%s", source, hint ? "; did you mean " : "", hint ? hint : "",
                    hint ? source : "", hint ? "?" : "");
}
