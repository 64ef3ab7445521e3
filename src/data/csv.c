/*
 * csv.c — CSV files as RFC 4180 writes them: records of fields separated
 * by commas, a field optionally in double quotes (then it may hold commas,
 * line ends and quotes written twice, ""), \n or \r\n line ends, an
 * optional header record, the label in one column (by number or by the
 * header's name for it).  Blank lines are skipped; spaces and tabs around
 * a field are not part of it.  "-" reads standard input.
 *
 * The file is read whole, then tokenised once in place: each field's text
 * (quotes removed, "" made ") is written back over the buffer as a
 * NUL-terminated string, and each record remembers its first field and
 * the line it starts on.  Writing never overtakes reading, since a field's
 * text is never longer than what it was read from.  Then the records are
 * parsed: features as numbers, labels by parse_labels (numbers, or names
 * numbered in sorted order), or regression targets by parse_targets.  Invariant: a dataset comes out only if every
 * record has the same number of fields, every feature is finite as a
 * float32 and every label is a class.  Messages give 1-based line and
 * column (field) numbers, as editors and spreadsheets show them.
 */
#include "data/data.h"
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* Reads the whole stream, NUL-terminated, into *buf (rg_malloc'd). */
static rg_status read_stream(FILE *fp, const char *path, char **buf, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = rg_malloc(cap);
    if (!b) return rg_error(RG_ENOMEM, "%s: out of memory reading the file", path);
    for (;;) {
        if (cap - n < 2) {
            size_t ncap;
            char *nb = rg_mul_ok(cap, 2, &ncap) ? rg_malloc(ncap) : NULL;
            if (!nb) {
                rg_free(b);
                return rg_error(RG_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
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
    if (ferror(fp)) {
        rg_free(b);
        return rg_error(RG_EIO, "%s: read error: %s", path, strerror(errno));
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return RG_OK;
}

/* The file (or standard input for "-") whole into *buf. */
static rg_status read_all(const char *path, char **buf, size_t *len)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) return rg_error(RG_EIO, "%s: cannot open: %s", path, strerror(errno));
    /* A device (/dev/zero, a terminal) would be read without end; a
     * directory opens but cannot be read. */
    struct stat st;
    int e = fstat(fileno(fp), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    rg_status s;
    if (e || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        s = e ? rg_error(RG_EIO, "%s: cannot read: %s", path, strerror(e))
              : is_stdin ? rg_error(RG_EIO, "csv:-: standard input is a terminal; pipe the data in "
                                    "(regula ... < FILE.csv, or cmd | regula ...)")
                         : rg_error(RG_EIO, "%s: not a regular file or a pipe", path);
    else
        s = read_stream(fp, is_stdin ? "stdin" : path, buf, len);
    if (!is_stdin) fclose(fp);
    return s;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Quotes at most 20 characters of a field for a message. */
static const char *snip(const char *s, char out[32])
{
    size_t len = strlen(s), k = len > 20 ? 20 : len;
    for (size_t i = 0; i < k; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    strcpy(out + k, len > 20 ? "..." : "");
    return out;
}

/* ------------------------------------------------------------ tokenising */

/* A record: `cols` NUL-terminated fields, one after another, from first. */
typedef struct csv_rec { const char *first; size_t line, cols; } csv_rec;

typedef struct csv_table {
    const char *path;
    csv_rec *rec;
    size_t n, cap;
} csv_table;

static rg_status push_record(csv_table *t, const char *first, size_t line, size_t cols)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024, bytes;
        csv_rec *r = rg_mul_ok(ncap, sizeof *r, &bytes) ? rg_malloc(bytes) : NULL;
        if (!r) return rg_error(RG_ENOMEM, "%s: out of memory at line %zu", t->path, line);
        if (t->n) memcpy(r, t->rec, t->n * sizeof *r);
        rg_free(t->rec);
        t->rec = r;
        t->cap = ncap;
    }
    t->rec[t->n++] = (csv_rec){ first, line, cols };
    return RG_OK;
}

/* Cursor of the tokeniser: r reads, w writes (w <= r), line counts. */
typedef struct cursor { char *r, *w, *end; size_t line; const char *path; } cursor;

/* A quoted field from just after its opening quote; col for messages. */
static rg_status quoted_field(cursor *c, size_t col)
{
    size_t open = c->line;
    for (;;) {
        if (c->r >= c->end)
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: the quoted field opened here "
                            "is never closed", c->path, open, col);
        char ch = *c->r;
        if (ch == '"') {
            if (c->r + 1 < c->end && c->r[1] == '"') {
                *c->w++ = '"';
                c->r += 2;
                continue;
            }
            c->r++;
            break;
        }
        if (ch == 0)
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: a NUL byte (not a text file?)",
                            c->path, c->line, col);
        if (ch == '\n') c->line++;
        *c->w++ = *c->r++;
    }
    while (c->r < c->end && (is_blank(*c->r) || (*c->r == '\r' && (c->r + 1 == c->end || c->r[1] == '\n'))))
        c->r++;
    if (c->r < c->end && *c->r != ',' && *c->r != '\n')
        return rg_error(RG_EDATA, "%s: line %zu, column %zu: text after the closing quote (inside "
                        "a quoted field a quote is written twice: \"\")", c->path, c->line, col);
    return RG_OK;
}

/* An unquoted field, up to the next comma or line end, spaces trimmed.
 * *empty is set when it holds nothing. */
static rg_status plain_field(cursor *c, size_t col, int *empty)
{
    char *s = c->w;
    while (c->r < c->end && *c->r != ',' && *c->r != '\n') {
        if (*c->r == '"')
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: a quote inside an unquoted field "
                            "(quote the whole field and write the quote twice: \"a \"\"b\"\" c\")",
                            c->path, c->line, col);
        if (*c->r == 0)
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: a NUL byte (not a text file?)",
                            c->path, c->line, col);
        *c->w++ = *c->r++;
    }
    while (c->w > s && (is_blank(c->w[-1]) || c->w[-1] == '\r')) c->w--;
    *empty = c->w == s;
    return RG_OK;
}

/* One record from c->r: its fields written at c->w.  *blank when the line
 * held nothing at all (skipped). */
static rg_status next_record(cursor *c, size_t *cols, int *blank)
{
    size_t n = 0;
    *blank = 1;
    for (;;) {
        n++;
        while (c->r < c->end && is_blank(*c->r)) c->r++;
        rg_status s;
        if (c->r < c->end && *c->r == '"') {
            c->r++;
            *blank = 0;
            s = quoted_field(c, n);
        } else {
            int empty = 1;
            s = plain_field(c, n, &empty);
            if (!empty) *blank = 0;
        }
        if (s) return s;
        /* the separator is read before the terminator may overwrite it */
        char sep = c->r < c->end ? *c->r : '\n';
        *c->w++ = 0;
        c->r++;
        if (sep == '\n') break;
    }
    c->line++;
    *cols = n;
    if (n > 1) *blank = 0;
    return RG_OK;
}

/* Tokenises buf[0, len) in place into t's records (blank lines left out). */
static rg_status tokenise(char *buf, size_t len, csv_table *t)
{
    cursor c = { buf, buf, buf + len, 1, t->path };
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c.r += 3;   /* UTF-8 BOM */
    while (c.r < c.end) {
        char *first = c.w;
        size_t line = c.line, cols = 0;
        int blank;
        rg_status s = next_record(&c, &cols, &blank);
        if (s) return s;
        if (blank) c.w = first;
        else if ((s = push_record(t, first, line, cols))) return s;
    }
    return RG_OK;
}

/* Field j of record r, and the line it starts on (a quoted field before it
 * may hold line ends). */
static const char *field_at(const csv_rec *r, size_t j, size_t *line)
{
    const char *p = r->first;
    *line = r->line;
    for (size_t k = 0; k < j; k++) {
        for (; *p; p++) *line += *p == '\n';
        p++;
    }
    return p;
}

/* ------------------------------------------------------------ labels */

/* A whole field that strtod reads as a number. */
static int is_number(const char *s, double *v)
{
    char *e;
    if (!*s) return 0;
    *v = strtod(s, &e);
    return *e == 0;
}

typedef struct named { const char *name; int32_t cls; } named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* Where a label error points: the line and column of sample i's label. */
typedef struct label_src {
    const char *path;
    const csv_rec *rec;   /* sample i is rec[i] */
    size_t col;           /* 0-based label column */
} label_src;

static rg_status label_error(const label_src *src, size_t i, const char *what, const char *text)
{
    size_t line;
    char q[32];
    field_at(&src->rec[i], src->col, &line);
    return rg_error(RG_EDATA, "%s: line %zu, column %zu: label \"%s\" %s", src->path, line,
                    src->col + 1, snip(text, q), what);
}

/* The classes a file names, sorted, into ds->names and ds->classes, and
 * each sample's class; `known`: a model's names, which the file must use. */
static rg_status name_classes(const label_src *src, const char **lab, const rg_data_opts *o,
                              rg_dataset *ds)
{
    size_t n = ds->n, k = o && o->classes ? (size_t)o->n_classes : n;
    named *tab = rg_calloc(k ? k : 1, sizeof *tab);
    if (!tab) return rg_error(RG_ENOMEM, "%s: out of memory for %zu class names", src->path, k);
    for (size_t i = 0; i < k; i++) tab[i] = (named){ o && o->classes ? o->classes[i] : lab[i], (int32_t)i };
    qsort(tab, k, sizeof *tab, cmp_named);
    rg_status s = RG_OK;
    if (!(o && o->classes)) {   /* distinct names, numbered in sorted order */
        size_t u = 0;
        for (size_t i = 0; i < k; i++)
            if (!u || strcmp(tab[u - 1].name, tab[i].name)) tab[u++] = tab[i];
        k = u;
        for (size_t i = 0; i < k; i++) tab[i].cls = (int32_t)i;
    }
    if (k > RG_DATA_MAX_LABEL + 1u)
        s = rg_error(RG_EDATA, "%s: %zu distinct labels, more than %d classes", src->path, k,
                     RG_DATA_MAX_LABEL + 1);
    for (size_t i = 0; i < n && !s; i++) {
        named key = { lab[i], 0 }, *hit = bsearch(&key, tab, k, sizeof *tab, cmp_named);
        if (!hit) s = label_error(src, i, "is not one of the model's classes", lab[i]);
        else ds->y[i] = hit->cls;
    }
    if (!s && !(ds->names = rg_calloc(k, sizeof *ds->names)))
        s = rg_error(RG_ENOMEM, "%s: out of memory for %zu class names", src->path, k);
    for (size_t i = 0; i < k && !s; i++)
        if (!(ds->names[tab[i].cls] = rg_strdup(tab[i].name)))
            s = rg_error(RG_ENOMEM, "%s: out of memory for %zu class names", src->path, k);
    if (!s) ds->classes = (int)k;
    rg_free(tab);
    return s;
}

/* The labels of a file, in one place: lab[i] is sample i's label field.
 * With a model's class names (o->classes), each label must be one of them.
 * Otherwise labels are either all numbers, each an integer in
 * [0, RG_DATA_MAX_LABEL] that is its class, or all names, the classes
 * being the distinct names numbered in sorted (byte) order; a file that
 * mixes the two is refused at its first label of the other kind. */
static rg_status parse_labels(const label_src *src, const char **lab, const rg_data_opts *o,
                              rg_dataset *ds)
{
    double v;
    if (o && o->classes) return name_classes(src, lab, o, ds);
    int numeric = is_number(lab[0], &v);
    for (size_t i = 0; i < ds->n; i++) {
        if (is_number(lab[i], &v) != numeric)
            return label_error(src, i, numeric ? "is a name, but the first label is a number (labels "
                                                 "are all numbers, the classes 0, 1, ..., or all names)"
                                               : "is a number, but the first label is a name (labels "
                                                 "are all numbers, the classes 0, 1, ..., or all names)",
                               lab[i]);
        if (!numeric) continue;
        if (!isfinite(v)) return label_error(src, i, "is non-finite", lab[i]);
        if (v < 0 || v != floor(v) || v > RG_DATA_MAX_LABEL) {
            char what[160];
            snprintf(what, sizeof what, "is not an integer in [0, %d]%s", RG_DATA_MAX_LABEL,
                     v != floor(v) ? " (a class; for a numeric target, train a regression: --loss mse or mae)" : "");
            return label_error(src, i, what, lab[i]);
        }
        ds->y[i] = (int32_t)v;
    }
    if (!numeric) return name_classes(src, lab, o, ds);
    ds->classes = rg_dataset_count_classes(ds->y, ds->n);
    return RG_OK;
}

/* Regression targets (o->targets): every label field a number, finite as
 * a float, into ds->t; no classes. */
static rg_status parse_targets(const label_src *src, const char **lab, rg_dataset *ds)
{
    rg_status s = rg_dataset_targets_alloc(ds);
    double v;
    for (size_t i = 0; i < ds->n && !s; i++) {
        size_t line;
        char q[32];
        int num = is_number(lab[i], &v);
        if (num && isfinite((float)v)) {
            ds->t[i] = (float)v;
            continue;
        }
        field_at(&src->rec[i], src->col, &line);
        s = rg_error(RG_EDATA, "%s: line %zu, column %zu: target \"%s\" is %s (a regression loss, --loss mse or "
                     "mae, reads the label column as numbers)", src->path, line, src->col + 1, snip(lab[i], q),
                     !num ? "not a number" : isfinite(v) ? "out of float32 range" : "non-finite");
    }
    ds->classes = 0;
    return s;
}

/* ------------------------------------------------------------ loading */

/* The 0-based label column of a file of `cols` columns: by name in the
 * header, or by number (-1: the last; -2: none, returned as cols). */
static rg_status label_column(const char *path, const csv_table *t, int header, size_t cols,
                              const rg_data_opts *o, size_t *lc)
{
    const csv_rec *data = &t->rec[header ? 1 : 0];
    if (o && o->label_name && *o->label_name) {
        if (!header)
            return rg_error(RG_EUSAGE, "%s: the label column is named (\"%s\"), but the file has no "
                            "header to find it in (give --header if line 1 holds the names)", path, o->label_name);
        char list[512] = "";
        size_t len = 0, line;
        for (size_t j = 0; j < t->rec[0].cols; j++) {
            const char *name = field_at(&t->rec[0], j, &line);
            if (!strcmp(name, o->label_name)) {
                *lc = j;
                return RG_OK;
            }
            if (len < sizeof list)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\"", j ? ", " : "", name);
        }
        return rg_error(RG_EUSAGE, "%s: no column named \"%s\" in the header (line %zu); the columns are %s",
                        path, o->label_name, t->rec[0].line, list);
    }
    int c = o ? o->label_column : -1;
    if (c < -2 || (c >= 0 && (size_t)c >= cols))
        /* -2 (no label column) is the caller's, never the user's: not offered */
        return rg_error(RG_EUSAGE, "%s: label column %d is outside the %zu columns of line %zu "
                        "(0-based: 0 to %zu, or -1 for the last)", path, c, cols, data->line, cols - 1);
    *lc = c == -2 ? cols : c < 0 ? cols - 1 : (size_t)c;
    return RG_OK;
}

/* Checks the records' shape: at least one sample, every one as wide as
 * the first.  *cols is that width. */
static rg_status check_shape(const char *path, const csv_table *t, int header, size_t len,
                             int unlabeled, size_t *cols)
{
    size_t h = header ? 1 : 0;
    if (t->n <= h)
        return rg_error(RG_EDATA, "%s: no samples%s", path,
                        header && t->n ? " (only a header line)" : len ? " (only blank lines)" : " (empty file)");
    const csv_rec *first = &t->rec[h];
    for (size_t i = h + 1; i < t->n; i++)
        if (t->rec[i].cols != first->cols)
            return rg_error(RG_EDATA, "%s: line %zu has %zu columns but line %zu has %zu",
                            path, t->rec[i].line, t->rec[i].cols, first->line, first->cols);
    if (first->cols < 2 && !unlabeled)
        return rg_error(RG_EDATA, "%s: line %zu has one column; need features and a label", path, first->line);
    *cols = first->cols;
    return RG_OK;
}

/* Record r's features into row (every column but lc), its label field
 * into *lab (unless lab is NULL). */
static rg_status parse_record(const char *path, const csv_rec *r, size_t lc, int header,
                              double scale, float *row, const char **lab)
{
    const char *p = r->first;
    size_t line = r->line;
    char text[32];
    for (size_t j = 0, k = 0; j < r->cols; j++, p += strlen(p) + 1) {
        if (j == lc) {
            if (lab) *lab = p;
            continue;
        }
        double v;
        if (!is_number(p, &v)) {
            field_at(r, j, &line);
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: not a number: \"%s\"%s", path, line,
                            j + 1, snip(p, text), line == 1 && !header ? " (if line 1 is a header, use --header)" : "");
        }
        if (!isfinite(v)) {
            field_at(r, j, &line);
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: non-finite value \"%s\"", path, line,
                            j + 1, snip(p, text));
        }
        float x = (float)(v * scale);
        if (!isfinite(x)) {
            field_at(r, j, &line);
            return rg_error(RG_EDATA, "%s: line %zu, column %zu: value \"%s\" is out of float32 range "
                            "after scaling by %g", path, line, j + 1, snip(p, text), scale);
        }
        row[k++] = x;
    }
    return RG_OK;
}

/* The dataset of a tokenised file. */
static rg_status build(const char *path, const csv_table *t, size_t len, const rg_data_opts *opts,
                       rg_dataset **out)
{
    int header = opts ? opts->header : 0;
    int unlabeled = opts && opts->label_column == -2 && !(opts->label_name && *opts->label_name);
    double scale = opts && opts->scale != 0.0f ? opts->scale : 1.0;
    size_t cols = 0, lc = 0, h = header ? 1 : 0, n = t->n - h;
    rg_status s = check_shape(path, t, header, len, unlabeled, &cols);
    if (!s) s = label_column(path, t, header, cols, opts, &lc);
    if (s) return s;
    int labeled = lc < cols && !(opts && opts->drop_label), targets = labeled && opts && opts->targets;
    size_t d = lc < cols ? cols - 1 : cols;
    rg_dataset *ds;
    if ((s = rg_dataset_alloc(n, d, labeled && !targets, path, &ds))) return s;
    const char **lab = labeled ? rg_calloc(n, sizeof *lab) : NULL;
    if (labeled && !lab) s = rg_error(RG_ENOMEM, "%s: out of memory for %zu labels", path, n);
    for (size_t i = 0; i < n && !s; i++)
        s = parse_record(path, &t->rec[h + i], lc, header, scale, ds->x + i * d, lab ? &lab[i] : NULL);
    label_src src = { path, &t->rec[h], lc };
    if (!s && labeled) s = targets ? parse_targets(&src, lab, ds) : parse_labels(&src, lab, opts, ds);
    rg_free(lab);
    if (s) {
        rg_dataset_free(ds);
        return s;
    }
    if (!labeled) ds->classes = 0;
    *out = ds;
    return RG_OK;
}

rg_status rg_dataset_load_csv(const char *path, const rg_data_opts *opts, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_load_csv: out is NULL");
    *out = NULL;
    if (!path) return rg_error(RG_EUSAGE, "rg_dataset_load_csv: no file given");
    double scale = opts && opts->scale != 0.0f ? opts->scale : 1.0;
    if (!isfinite(scale)) return rg_error(RG_EUSAGE, "%s: scale %g is not finite", path, scale);
    if (opts && opts->classes && opts->n_classes <= 0)
        return rg_error(RG_EUSAGE, "%s: %d class names given", path, opts->n_classes);
    const char *name = strcmp(path, "-") ? path : "stdin";
    char *buf = NULL;
    size_t len = 0;
    rg_status s = read_all(path, &buf, &len);
    if (s) return s;
    csv_table t = { name, NULL, 0, 0 };
    s = tokenise(buf, len, &t);
    if (!s) s = build(name, &t, len, opts, out);
    rg_free(t.rec);
    rg_free(buf);
    return s;
}
