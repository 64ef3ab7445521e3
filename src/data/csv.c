/*
 * csv.c — numeric CSV files: one sample per line, numbers separated by
 * commas (spaces or tabs around them allowed), \n or \r\n line ends, an
 * optional header line, the label in one column.  Blank lines are skipped.
 *
 * The file is read whole, then scanned twice: the first pass counts samples
 * and checks that every line has the same number of columns (so the dataset
 * is allocated once, at its exact size), the second parses.  Invariant: a
 * dataset comes out only if every field parsed, every feature is finite as
 * a float32, and every label is an integer in [0, RG_DATA_MAX_LABEL].
 * Messages give 1-based line and column numbers, as editors show them.
 */
#include "data/data.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* Reads the whole file, NUL-terminated, into *buf (rg_malloc'd). */
static rg_status read_all(const char *path, char **buf, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return rg_error(RG_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* A device (/dev/zero, a terminal) would be read without end; a
     * directory opens but cannot be read. */
    struct stat st;
    int e = fstat(fileno(fp), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        fclose(fp);
        return e ? rg_error(RG_EIO, "%s: cannot read: %s", path, strerror(e))
                 : rg_error(RG_EIO, "%s: not a regular file or a pipe", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *b = rg_malloc(cap);
    rg_status s = RG_OK;
    if (!b) {
        s = rg_error(RG_ENOMEM, "%s: out of memory reading the file", path);
        goto done;
    }
    for (;;) {
        if (cap - n < 2) {
            size_t ncap;
            char *nb = rg_mul_ok(cap, 2, &ncap) ? rg_malloc(ncap) : NULL;
            if (!nb) {
                s = rg_error(RG_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
                goto done;
            }
            memcpy(nb, b, n);
            rg_free(b);
            b = nb;
            cap = ncap;
        }
        size_t r = fread(b + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0) break;
    }
    if (ferror(fp)) s = rg_error(RG_EIO, "%s: read error: %s", path, strerror(errno));
done:
    fclose(fp);
    if (s) {
        rg_free(b);
        return s;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return RG_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Quotes at most 20 characters of a field for a message. */
static const char *snip(const char *s, size_t len, char out[32])
{
    size_t k = len > 20 ? 20 : len;
    for (size_t i = 0; i < k; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    strcpy(out + k, len > 20 ? "..." : "");
    return out;
}

/* One line: [s, e) without its line end; next is the start of the next line. */
typedef struct line { const char *s, *e, *next; size_t no; } line;

static int next_line(const char *end, line *l)
{
    const char *s = l->next;
    if (s >= end) return 0;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    l->next = nl ? nl + 1 : end;
    if (e > s && e[-1] == '\r') e--;
    l->s = s;
    l->e = e;
    l->no++;
    return 1;
}

static int line_blank(const line *l)
{
    for (const char *p = l->s; p < l->e; p++)
        if (!is_blank(*p)) return 0;
    return 1;
}

static size_t line_columns(const line *l)
{
    size_t c = 1;
    for (const char *p = l->s; p < l->e; p++) c += *p == ',';
    return c;
}

rg_status rg_dataset_load_csv(const char *path, const rg_data_opts *opts,
                              rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_load_csv: out is NULL");
    *out = NULL;
    if (!path) return rg_error(RG_EUSAGE, "rg_dataset_load_csv: no file given");
    int label_column = opts ? opts->label_column : -1;
    int header = opts ? opts->header : 0;
    double scale = opts && opts->scale != 0.0f ? opts->scale : 1.0;
    if (!isfinite(scale)) return rg_error(RG_EUSAGE, "%s: scale %g is not finite", path, scale);

    char *buf = NULL;
    size_t len = 0;
    rg_status s = read_all(path, &buf, &len);
    if (s) return s;
    const char *end = buf + len, *start = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) start += 3;   /* UTF-8 BOM */

    /* Pass 1: count samples, check the shape. */
    line l = { .next = start };
    size_t n = 0, cols = 0, first = 0;
    while (next_line(end, &l)) {
        if ((header && l.no == 1) || line_blank(&l)) continue;
        size_t c = line_columns(&l);
        if (!n) {
            cols = c;
            first = l.no;
        } else if (c != cols) {
            s = rg_error(RG_EDATA, "%s: line %zu has %zu columns but line %zu has %zu",
                         path, l.no, c, first, cols);
            goto fail;
        }
        n++;
    }
    if (!n) {
        s = rg_error(RG_EDATA, "%s: no samples%s", path,
                     header && l.no ? " (only a header line)" : len ? " (only blank lines)" : " (empty file)");
        goto fail;
    }
    int unlabeled = label_column == -2;
    if (cols < 2 && !unlabeled) {
        s = rg_error(RG_EDATA, "%s: line %zu has one column; need features and a label", path, first);
        goto fail;
    }
    if (label_column < -2 || (label_column >= 0 && (size_t)label_column >= cols)) {
        /* -2 (no label column) is the caller's, never the user's: not offered */
        s = rg_error(RG_EUSAGE, "%s: label column %d is outside the %zu columns of line %zu "
                     "(0-based: 0 to %zu, or -1 for the last)", path, label_column, cols, first, cols - 1);
        goto fail;
    }
    size_t lc = unlabeled ? cols : label_column < 0 ? cols - 1 : (size_t)label_column;
    size_t d = unlabeled ? cols : cols - 1;

    rg_dataset *ds;
    s = rg_dataset_alloc(n, d, !unlabeled, path, &ds);
    if (s) goto fail;

    /* Pass 2: parse. */
    l = (line){ .next = start };
    size_t i = 0;
    char text[32];
    while (next_line(end, &l)) {
        if ((header && l.no == 1) || line_blank(&l)) continue;
        const char *p = l.s;
        float *row = ds->x + i * d;
        for (size_t j = 0, k = 0; j < cols; j++) {
            const char *fe = memchr(p, ',', (size_t)(l.e - p));
            const char *next = fe ? fe + 1 : l.e;
            if (!fe) fe = l.e;
            while (p < fe && is_blank(*p)) p++;
            while (fe > p && is_blank(fe[-1])) fe--;
            char *num_end;
            double v = p < fe ? strtod(p, &num_end) : 0.0;
            if (p == fe || num_end != fe) {
                s = rg_error(RG_EDATA, "%s: line %zu, column %zu: not a number: \"%s\"%s",
                             path, l.no, j + 1, snip(p, (size_t)(fe - p), text),
                             l.no == 1 && !header ? " (if line 1 is a header, use --header)" : "");
                goto fail_ds;
            }
            if (!isfinite(v)) {
                s = rg_error(RG_EDATA, "%s: line %zu, column %zu: non-finite value \"%s\"",
                             path, l.no, j + 1, snip(p, (size_t)(fe - p), text));
                goto fail_ds;
            }
            if (j == lc) {
                if (v < 0 || v != floor(v) || v > RG_DATA_MAX_LABEL) {
                    s = rg_error(RG_EDATA, "%s: line %zu, column %zu: label \"%s\" is not an "
                                 "integer in [0, %d]", path, l.no, j + 1,
                                 snip(p, (size_t)(fe - p), text), RG_DATA_MAX_LABEL);
                    goto fail_ds;
                }
                ds->y[i] = (int32_t)v;
            } else {
                float x = (float)(v * scale);
                if (!isfinite(x)) {
                    s = rg_error(RG_EDATA, "%s: line %zu, column %zu: value \"%s\" is out of "
                                 "float32 range after scaling by %g", path, l.no, j + 1,
                                 snip(p, (size_t)(fe - p), text), scale);
                    goto fail_ds;
                }
                row[k++] = x;
            }
            p = next;
        }
        i++;
    }
    rg_free(buf);
    ds->classes = unlabeled ? 0 : rg_dataset_count_classes(ds->y, n);
    *out = ds;
    return RG_OK;
fail_ds:
    rg_dataset_free(ds);
fail:
    rg_free(buf);
    return s;
}
