/*
 * safetensors.c — a paranoid safetensors reader and an atomic writer.
 *
 * Reading loads the whole file into one buffer and validates it before
 * anything is handed out.  Invariant of a returned rg_st: every tensor has a
 * known dtype, at most RG_ST_MAX_DIMS non-negative dims whose product times
 * the dtype size equals end - begin without overflow, and the tensors tile
 * the data buffer exactly (sorted by offset, each begins where the previous
 * ends, the last ends at the end of the file; this is what the reference
 * implementation demands, and it rules out overlaps, holes and trailing
 * bytes).  Names and metadata keys are unique.
 *
 * Writing builds the header by hand (exact integers, our own allocator),
 * pads it with spaces to a multiple of 8 bytes as the reference writer does,
 * and goes through "<path>.tmp.<pid>" + fsync + rename + directory fsync.
 */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "regula writes safetensors data in host order and needs a little-endian host"
#endif

/* ------------------------------------------------------------------ dtypes */

static const struct { const char *name; size_t size; } g_dtypes[RG_ST_DTYPE_COUNT] = {
    [RG_ST_BOOL] = {"BOOL", 1},       [RG_ST_U8] = {"U8", 1},
    [RG_ST_I8] = {"I8", 1},           [RG_ST_F8_E5M2] = {"F8_E5M2", 1},
    [RG_ST_F8_E4M3] = {"F8_E4M3", 1}, [RG_ST_I16] = {"I16", 2},
    [RG_ST_U16] = {"U16", 2},         [RG_ST_F16] = {"F16", 2},
    [RG_ST_BF16] = {"BF16", 2},       [RG_ST_I32] = {"I32", 4},
    [RG_ST_U32] = {"U32", 4},         [RG_ST_F32] = {"F32", 4},
    [RG_ST_I64] = {"I64", 8},         [RG_ST_U64] = {"U64", 8},
    [RG_ST_F64] = {"F64", 8},
};

const char *rg_st_dtype_name(rg_st_dtype d)
{
    return (unsigned)d < RG_ST_DTYPE_COUNT ? g_dtypes[d].name : "?";
}

size_t rg_st_dtype_size(rg_st_dtype d)
{
    return (unsigned)d < RG_ST_DTYPE_COUNT ? g_dtypes[d].size : 0;
}

int rg_st_dtype_parse(const char *name, rg_st_dtype *out)
{
    for (int i = 0; i < RG_ST_DTYPE_COUNT; i++)
        if (strcmp(name, g_dtypes[i].name) == 0) {
            *out = (rg_st_dtype)i;
            return 1;
        }
    return 0;
}

void rg_st_shape_str(const size_t *shape, int ndim, char *buf, size_t cap)
{
    if (!cap) return;
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i <= ndim && len < cap; i++) {
        int k = i == ndim ? snprintf(buf + len, cap - len, "%s]", i ? "" : "[")
                          : snprintf(buf + len, cap - len, "%s%zu", i ? ", " : "[", shape[i]);
        if (k < 0) return;
        len += (size_t)k;
    }
}

/* Product of the dims times the element size, or 0 on overflow. */
static int shape_nbytes(const size_t *shape, int ndim, rg_st_dtype d, size_t *out)
{
    size_t n = rg_st_dtype_size(d);
    for (int i = 0; i < ndim; i++)
        if (!rg_mul_ok(n, shape[i], &n)) return 0;
    *out = n;
    return 1;
}

static const char *errstr(int e, char *buf, size_t cap)
{
    if (strerror_r(e, buf, cap) != 0) snprintf(buf, cap, "error %d", e);
    return buf;
}

/* Offset of the first byte that is not valid UTF-8 (or a JSON-forbidden raw
 * control byte), or len if the text is clean.  Overlong forms, surrogates
 * and code points above U+10FFFF are invalid. */
static size_t utf8_check(const unsigned char *s, size_t len, int allow_ws)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && !(allow_ws && (c == '\t' || c == '\n' || c == '\r')))
                return i;
            i++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (n > len - i - 1) return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n + 1;
    }
    return len;
}

/* ------------------------------------------------------------------ reader */

typedef struct meta_pair { char *key, *value; } meta_pair;

struct rg_st {
    char *path;
    unsigned char *buf;          /* the whole file */
    size_t size;
    rg_st_tensor *t;             /* header order */
    size_t n;
    const rg_st_tensor **by_name;
    meta_pair *meta;             /* sorted by key */
    size_t n_meta;
};

void rg_st_free(rg_st *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) rg_free((char *)st->t[i].name);
    for (size_t i = 0; i < st->n_meta; i++) {
        rg_free(st->meta[i].key);
        rg_free(st->meta[i].value);
    }
    rg_free(st->t);
    rg_free(st->by_name);
    rg_free(st->meta);
    rg_free(st->buf);
    rg_free(st->path);
    rg_free(st);
}

const char *rg_st_path(const rg_st *st) { return st->path; }
size_t rg_st_count(const rg_st *st) { return st->n; }
size_t rg_st_meta_count(const rg_st *st) { return st->n_meta; }

const rg_st_tensor *rg_st_at(const rg_st *st, size_t i)
{
    return i < st->n ? &st->t[i] : NULL;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const rg_st_tensor *x = *(const rg_st_tensor *const *)a;
    const rg_st_tensor *y = *(const rg_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const rg_st_tensor *x = *(const rg_st_tensor *const *)a;
    const rg_st_tensor *y = *(const rg_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

const rg_st_tensor *rg_st_find(const rg_st *st, const char *name)
{
    rg_st_tensor key = {.name = name};
    const rg_st_tensor *kp = &key;
    const rg_st_tensor **hit = bsearch(&kp, st->by_name, st->n, sizeof *st->by_name,
                                       cmp_tensor_name);
    return hit ? *hit : NULL;
}

const char *rg_st_meta(const rg_st *st, const char *key)
{
    if (!st->n_meta) return NULL;   /* st->meta may be NULL: bsearch wants a base */
    meta_pair k = {.key = (char *)key};
    const meta_pair *hit = bsearch(&k, st->meta, st->n_meta, sizeof *st->meta, cmp_meta);
    return hit ? hit->value : NULL;
}

void rg_st_meta_at(const rg_st *st, size_t i, const char **key, const char **value)
{
    RG_ASSERT(i < st->n_meta);
    *key = st->meta[i].key;
    *value = st->meta[i].value;
}

/* A JSON number that is an exact non-negative integer.  Doubles hold integers
 * exactly up to 2^53; anything larger cannot be a valid size in a file that
 * fits in memory anyway. */
static int json_size(const cJSON *item, size_t *out)
{
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    if (d > (double)SIZE_MAX) return 0;
    *out = (size_t)d;
    return 1;
}

static rg_status read_file(const char *path, unsigned char **buf, size_t *size)
{
    char eb[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rg_error(RG_EIO, "%s: cannot open: %s", path, errstr(errno, eb, sizeof eb));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return rg_error(RG_EIO, "%s: cannot stat: %s", path, errstr(e, eb, sizeof eb));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rg_error(RG_EIO, "%s: not a regular file", path);
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return rg_error(RG_ENOMEM, "%s: file of %jd bytes does not fit in memory",
                        path, (intmax_t)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = rg_malloc(n);
    if (!b) {
        close(fd);
        return rg_error(RG_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            rg_free(b);
            close(fd);
            if (r == 0)
                return rg_error(RG_EIO, "%s: file shrank while reading (%zu of %zu bytes)",
                                path, got, n);
            return rg_error(RG_EIO, "%s: read failed: %s", path, errstr(e, eb, sizeof eb));
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *size = n;
    return RG_OK;
}

/* Fills t from one header entry.  data_size bounds the offsets. */
static rg_status parse_tensor(const char *path, const cJSON *e, size_t data_size,
                              rg_st_tensor *t)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return rg_error(RG_EDATA, "%s: tensor '%s': header entry is not an object", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *k = e->child; k; k = k->next) {
        const cJSON **slot = strcmp(k->string, "dtype") == 0 ? &dtype
                           : strcmp(k->string, "shape") == 0 ? &shape
                           : strcmp(k->string, "data_offsets") == 0 ? &offs : NULL;
        if (!slot)
            return rg_error(RG_EDATA, "%s: tensor '%s': unknown key \"%s\"", path, name, k->string);
        if (*slot)
            return rg_error(RG_EDATA, "%s: tensor '%s': key \"%s\" appears twice",
                            path, name, k->string);
        *slot = k;
    }
    if (!dtype || !shape || !offs)
        return rg_error(RG_EDATA, "%s: tensor '%s': missing \"%s\"", path, name,
                        !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dtype))
        return rg_error(RG_EDATA, "%s: tensor '%s': dtype is not a string", path, name);
    if (!rg_st_dtype_parse(dtype->valuestring, &t->dtype))
        return rg_error(RG_EDATA, "%s: tensor '%s': unknown dtype \"%s\"",
                        path, name, dtype->valuestring);

    if (!cJSON_IsArray(shape))
        return rg_error(RG_EDATA, "%s: tensor '%s': shape is not an array", path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > RG_ST_MAX_DIMS)
        return rg_error(RG_EDATA, "%s: tensor '%s': shape has %d dimensions, at most %d supported",
                        path, name, nd, RG_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        if (!json_size(d, &t->shape[t->ndim]))
            return rg_error(RG_EDATA, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                            path, name, t->ndim);
        t->ndim++;
    }

    size_t se[2];
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_size(offs->child, &se[0]) || !json_size(offs->child->next, &se[1]))
        return rg_error(RG_EDATA, "%s: tensor '%s': data_offsets is not a pair of "
                        "non-negative integers", path, name);
    char sh[256];
    rg_st_shape_str(t->shape, t->ndim, sh, sizeof sh);
    if (se[0] > se[1])
        return rg_error(RG_EDATA, "%s: tensor '%s': data_offsets [%zu, %zu] end before they begin",
                        path, name, se[0], se[1]);
    size_t need;
    if (!shape_nbytes(t->shape, t->ndim, t->dtype, &need))
        return rg_error(RG_EDATA, "%s: tensor '%s': shape %s of %s overflows the size of memory",
                        path, name, sh, rg_st_dtype_name(t->dtype));
    if (need != se[1] - se[0])
        return rg_error(RG_EDATA, "%s: tensor '%s': data_offsets [%zu, %zu] but shape %s of %s "
                        "needs %zu bytes", path, name, se[0], se[1], sh,
                        rg_st_dtype_name(t->dtype), need);
    if (se[1] > data_size)
        return rg_error(RG_EDATA, "%s: tensor '%s': data_offsets [%zu, %zu] run past the end of "
                        "the data, which has %zu bytes (truncated file?)",
                        path, name, se[0], se[1], data_size);
    t->begin = se[0];
    t->nbytes = need;
    return RG_OK;
}

static rg_status parse_meta(const char *path, const cJSON *m, rg_st *st)
{
    if (cJSON_IsNull(m)) return RG_OK;
    if (!cJSON_IsObject(m))
        return rg_error(RG_EDATA, "%s: \"__metadata__\" is not an object", path);
    size_t n = (size_t)cJSON_GetArraySize(m);
    st->meta = rg_calloc(n ? n : 1, sizeof *st->meta);
    if (!st->meta) return rg_error(RG_ENOMEM, "%s: out of memory for metadata", path);
    for (const cJSON *k = m->child; k; k = k->next) {
        if (!cJSON_IsString(k))
            return rg_error(RG_EDATA, "%s: metadata '%s' is not a string", path, k->string);
        meta_pair *p = &st->meta[st->n_meta];
        p->key = rg_strdup(k->string);
        p->value = p->key ? rg_strdup(k->valuestring) : NULL;
        st->n_meta++;
        if (!p->value) return rg_error(RG_ENOMEM, "%s: out of memory for metadata", path);
    }
    qsort(st->meta, st->n_meta, sizeof *st->meta, cmp_meta);
    for (size_t i = 1; i < st->n_meta; i++)
        if (strcmp(st->meta[i - 1].key, st->meta[i].key) == 0)
            return rg_error(RG_EDATA, "%s: metadata '%s' appears twice", path, st->meta[i].key);
    return RG_OK;
}

/* Everything after the file is in memory: header, tensors, tiling. */
static rg_status parse(rg_st *st)
{
    const char *path = st->path;
    if (st->size < 8)
        return rg_error(RG_EDATA, "%s: file has %zu bytes, too short for a safetensors header",
                        path, st->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st->buf[i];
    if (hlen > RG_ST_MAX_HEADER)
        return rg_error(RG_EDATA, "%s: header length %ju exceeds the limit of %zu bytes "
                        "(not a safetensors file?)", path, (uintmax_t)hlen, RG_ST_MAX_HEADER);
    if (hlen > st->size - 8)
        return rg_error(RG_EDATA, "%s: header length %ju but only %zu bytes follow "
                        "(truncated file?)", path, (uintmax_t)hlen, st->size - 8);
    const char *hdr = (const char *)st->buf + 8;
    size_t hn = (size_t)hlen;
    const unsigned char *data = st->buf + 8 + hn;
    size_t data_size = st->size - 8 - hn;

    size_t bad = utf8_check((const unsigned char *)hdr, hn, 1);
    if (bad < hn)
        return rg_error(RG_EDATA, "%s: header byte %zu (0x%02x) is not valid UTF-8 JSON text",
                        path, bad, (unsigned)(unsigned char)hdr[bad]);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hn, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hn ? (size_t)(end - hdr) : 0;
        return rg_error(RG_EDATA, "%s: header is not valid JSON (error near byte %zu of %zu)",
                        path, at, hn);
    }
    rg_status s = RG_OK;
    for (const char *p = end; p < hdr + hn; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = rg_error(RG_EDATA, "%s: unexpected bytes after the header's JSON object at byte %zu",
                         path, (size_t)(p - hdr));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        s = rg_error(RG_EDATA, "%s: header is not a JSON object", path);
        goto done;
    }

    size_t n_entries = (size_t)cJSON_GetArraySize(root);
    st->t = rg_calloc(n_entries ? n_entries : 1, sizeof *st->t);
    st->by_name = rg_calloc(n_entries ? n_entries : 1, sizeof *st->by_name);
    if (!st->t || !st->by_name) {
        s = rg_error(RG_ENOMEM, "%s: out of memory for %zu header entries", path, n_entries);
        goto done;
    }
    int seen_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) {
                s = rg_error(RG_EDATA, "%s: \"__metadata__\" appears twice", path);
                goto done;
            }
            if ((s = parse_meta(path, e, st)) != RG_OK) goto done;
            continue;
        }
        rg_st_tensor *t = &st->t[st->n];
        if ((s = parse_tensor(path, e, data_size, t)) != RG_OK) goto done;
        if (!(t->name = rg_strdup(e->string))) {
            s = rg_error(RG_ENOMEM, "%s: out of memory for tensor names", path);
            goto done;
        }
        t->data = data + t->begin;
        st->by_name[st->n] = t;
        st->n++;
    }

    qsort(st->by_name, st->n, sizeof *st->by_name, cmp_tensor_name);
    for (size_t i = 1; i < st->n; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0) {
            s = rg_error(RG_EDATA, "%s: tensor '%s' appears twice in the header",
                         path, st->by_name[i]->name);
            goto done;
        }

    /* Tiling check on a scratch copy sorted by offset (by_name must stay
     * sorted by name for rg_st_find). */
    const rg_st_tensor **by_off = rg_calloc(st->n ? st->n : 1, sizeof *by_off);
    if (!by_off) {
        s = rg_error(RG_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(by_off, st->by_name, st->n * sizeof *by_off);
    qsort(by_off, st->n, sizeof *by_off, cmp_tensor_offset);
    size_t at = 0;
    for (size_t i = 0; i < st->n && s == RG_OK; i++) {
        const rg_st_tensor *t = by_off[i];
        if (t->begin < at)
            s = rg_error(RG_EDATA, "%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap",
                         path, by_off[i - 1]->name, by_off[i - 1]->begin,
                         by_off[i - 1]->begin + by_off[i - 1]->nbytes,
                         t->name, t->begin, t->begin + t->nbytes);
        else if (t->begin > at)
            s = rg_error(RG_EDATA, "%s: data bytes [%zu, %zu) before tensor '%s' belong to "
                         "no tensor", path, at, t->begin, t->name);
        at = t->begin + t->nbytes;
    }
    if (s == RG_OK && at != data_size)
        s = rg_error(RG_EDATA, "%s: the data has %zu bytes but the tensors end at byte %zu "
                     "(trailing bytes)", path, data_size, at);
    rg_free(by_off);
done:
    cJSON_Delete(root);
    return s;
}

rg_status rg_st_read(const char *path, rg_st **out)
{
    *out = NULL;
    rg_st *st = rg_calloc(1, sizeof *st);
    if (!st || !(st->path = rg_strdup(path))) {
        rg_free(st);
        return rg_error(RG_ENOMEM, "%s: out of memory", path);
    }
    rg_status s = read_file(path, &st->buf, &st->size);
    if (s == RG_OK) s = parse(st);
    if (s != RG_OK) {
        rg_st_free(st);
        return s;
    }
    *out = st;
    return RG_OK;
}

/* ------------------------------------------------------------------ writer */

/* Appends to a buffer, or only counts when p is NULL (two-pass sizing). */
typedef struct emit { char *p; size_t len; } emit;

static void emit_raw(emit *e, const char *s, size_t n)
{
    if (e->p) memcpy(e->p + e->len, s, n);
    e->len += n;
}

static void emit_str(emit *e, const char *s) { emit_raw(e, s, strlen(s)); }

static void emit_size(emit *e, size_t v)
{
    char b[32];
    int k = snprintf(b, sizeof b, "%zu", v);
    emit_raw(e, b, (size_t)k);
}

/* A JSON string: quotes, backslashes and control bytes escaped; the text is
 * already known to be valid UTF-8, which JSON carries verbatim. */
static void emit_json_str(emit *e, const char *s)
{
    emit_raw(e, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char b[2] = {'\\', (char)c};
            emit_raw(e, b, 2);
        } else if (c < 0x20) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            emit_raw(e, b, 6);
        } else {
            emit_raw(e, (const char *)&c, 1);
        }
    }
    emit_raw(e, "\"", 1);
}

static void emit_header(emit *e, const rg_st_tensor_in *t, size_t n, const size_t *nbytes,
                        const char *const *kv, size_t n_meta)
{
    emit_str(e, "{");
    if (n_meta) {
        emit_str(e, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) emit_str(e, ",");
            emit_json_str(e, kv[2 * i]);
            emit_str(e, ":");
            emit_json_str(e, kv[2 * i + 1]);
        }
        emit_str(e, "}");
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (i || n_meta) emit_str(e, ",");
        emit_json_str(e, t[i].name);
        emit_str(e, ":{\"dtype\":");
        emit_json_str(e, rg_st_dtype_name(t[i].dtype));
        emit_str(e, ",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d) emit_str(e, ",");
            emit_size(e, t[i].shape[d]);
        }
        emit_str(e, "],\"data_offsets\":[");
        emit_size(e, off);
        emit_str(e, ",");
        off += nbytes[i];
        emit_size(e, off);
        emit_str(e, "]}");
    }
    emit_str(e, "}");
    /* Pad so the data starts 8-byte aligned, as the reference writer does. */
    while (e->len % 8) emit_raw(e, " ", 1);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* First index of a non-finite element, or SIZE_MAX if all are finite (or the
 * dtype is not floating point). */
static size_t find_nonfinite(const rg_st_tensor_in *t, size_t nbytes)
{
    const unsigned char *p = t->data;
    size_t es = rg_st_dtype_size(t->dtype);
    size_t n = es ? nbytes / es : 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = p + i * es;
        switch (t->dtype) {
        case RG_ST_F32: { float v; memcpy(&v, q, 4); if (!isfinite(v)) return i; break; }
        case RG_ST_F64: { double v; memcpy(&v, q, 8); if (!isfinite(v)) return i; break; }
        case RG_ST_F16: { uint16_t v; memcpy(&v, q, 2); if ((v & 0x7C00) == 0x7C00) return i; break; }
        case RG_ST_BF16: { uint16_t v; memcpy(&v, q, 2); if ((v & 0x7F80) == 0x7F80) return i; break; }
        default: return SIZE_MAX;
        }
    }
    return SIZE_MAX;
}

/* Checks the caller's tensors and metadata; fills nbytes[i]. */
static rg_status check_inputs(const char *path, const rg_st_tensor_in *t, size_t n,
                              const char *const *kv, size_t n_meta, unsigned flags,
                              size_t *nbytes)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !*name || strcmp(name, "__metadata__") == 0 ||
            utf8_check((const unsigned char *)name, strlen(name), 0) != strlen(name))
            return rg_error(RG_EUSAGE, "%s: tensor %zu has an invalid name '%s'",
                            path, i, name ? name : "(null)");
        if ((unsigned)t[i].dtype >= RG_ST_DTYPE_COUNT || t[i].ndim < 0 ||
            t[i].ndim > RG_ST_MAX_DIMS)
            return rg_error(RG_EUSAGE, "%s: tensor '%s': invalid dtype or %d dimensions",
                            path, name, t[i].ndim);
        if (!shape_nbytes(t[i].shape, t[i].ndim, t[i].dtype, &nbytes[i]))
            return rg_error(RG_ENOMEM, "%s: tensor '%s': size overflows", path, name);
        if (nbytes[i] && !t[i].data && !t[i].read)
            return rg_error(RG_EUSAGE, "%s: tensor '%s': no data", path, name);
        if (!(flags & RG_ST_ALLOW_NONFINITE) && t[i].data) {   /* a streamed one: as it is written */
            size_t bad = find_nonfinite(&t[i], nbytes[i]);
            if (bad != SIZE_MAX)
                return rg_error(RG_ENONFINITE, "%s: tensor '%s' element %zu is not finite; "
                                "refusing to write it", path, name, bad);
        }
    }
    for (size_t i = 0; i < 2 * n_meta; i++) {
        const char *s = kv[i];
        if (!s || utf8_check((const unsigned char *)s, strlen(s), 1) != strlen(s))
            return rg_error(RG_EUSAGE, "%s: metadata %s %zu is missing or not UTF-8 text",
                            path, i % 2 ? "value" : "key", i / 2);
    }
    /* Duplicates would make a file our reader refuses: catch them here. */
    size_t m = n > n_meta ? n : n_meta;
    const char **names = rg_malloc((m ? m : 1) * sizeof *names);
    if (!names) return rg_error(RG_ENOMEM, "%s: out of memory", path);
    rg_status s = RG_OK;
    for (size_t i = 0; i < n; i++) names[i] = t[i].name;
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n && s == RG_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            s = rg_error(RG_EUSAGE, "%s: tensor name '%s' given twice", path, names[i]);
    for (size_t i = 0; i < n_meta; i++) names[i] = kv[2 * i];
    qsort(names, n_meta, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n_meta && s == RG_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            s = rg_error(RG_EUSAGE, "%s: metadata key '%s' given twice", path, names[i]);
    rg_free(names);
    return s;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return 0;
        }
        b += w;
        n -= (size_t)w;
    }
    return 1;
}

/* A streamed tensor (t->read), a chunk at a time: read, checked finite
 * unless flags allow otherwise, written.  RG_EIO/RG_ENONFINITE, or the
 * reader's error, naming path. */
static rg_status write_streamed(int fd, const char *path, const rg_st_tensor_in *t, size_t nbytes, unsigned flags,
                                unsigned char *buf)
{
    char eb[128];
    size_t es = rg_st_dtype_size(t->dtype);
    for (size_t off = 0; off < nbytes;) {
        size_t k = nbytes - off < RG_ST_CHUNK ? nbytes - off : RG_ST_CHUNK;
        rg_status s = t->read(t->ctx, off, buf, k);
        if (s != RG_OK) return rg_error_prefix(s, "%s: tensor '%s': ", path, t->name);
        rg_st_tensor_in part = *t;
        part.data = buf;
        size_t bad = flags & RG_ST_ALLOW_NONFINITE ? SIZE_MAX : find_nonfinite(&part, k);
        if (bad != SIZE_MAX)
            return rg_error(RG_ENONFINITE, "%s: tensor '%s' element %zu is not finite; refusing to write it", path,
                            t->name, off / es + bad);
        if (!write_all(fd, buf, k))
            return rg_error(RG_EIO, "%s: writing tensor '%s' failed: %s", path, t->name, errstr(errno, eb, sizeof eb));
        off += k;
    }
    return RG_OK;
}

/* The directory holding path ("." or "/" at the edges), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    char *dir = rg_malloc(n + 1);
    if (!dir) return NULL;
    if (!slash) memcpy(dir, ".", 2);
    else if (n == 0) memcpy(dir, "/", 2);
    else { memcpy(dir, path, n); dir[n] = 0; }
    return dir;
}

/* fsync the directory so the rename itself is durable.  Runs after the
 * rename, so it must not allocate: a failure here cannot be undone. */
static rg_status sync_dir(const char *path, const char *dir)
{
    char eb[128];
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    /* Some file systems cannot sync a directory (EINVAL): nothing to do. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)) {
        rg_status s = rg_error(RG_EIO, "%s: written, but syncing its directory '%s' failed: %s",
                               path, dir, errstr(errno, eb, sizeof eb));
        if (fd >= 0) close(fd);
        return s;
    }
    close(fd);
    return RG_OK;
}

rg_status rg_st_write(const char *path, const rg_st_tensor_in *tensors, size_t n,
                      const char *const *meta_kv, size_t n_meta, unsigned flags)
{
    char eb[128];
    size_t *nbytes = rg_calloc(n ? n : 1, sizeof *nbytes);
    if (!nbytes) return rg_error(RG_ENOMEM, "%s: out of memory", path);
    char *hdr = NULL, *tmp = NULL, *dir = NULL;
    unsigned char *chunk = NULL;
    int fd = -1;
    rg_status s = check_inputs(path, tensors, n, meta_kv, n_meta, flags, nbytes);
    if (s != RG_OK) goto out;
    for (size_t i = 0; i < n && !chunk; i++)
        if (!tensors[i].data && nbytes[i] && !(chunk = rg_malloc(RG_ST_CHUNK))) {
            s = rg_error(RG_ENOMEM, "%s: out of memory", path);
            goto out;
        }

    emit e = {0};
    emit_header(&e, tensors, n, nbytes, meta_kv, n_meta);
    if (e.len > RG_ST_MAX_HEADER) {
        s = rg_error(RG_EUSAGE, "%s: header of %zu bytes exceeds the limit of %zu",
                     path, e.len, RG_ST_MAX_HEADER);
        goto out;
    }
    size_t tmp_cap = strlen(path) + 32;
    if (!(hdr = rg_malloc(8 + e.len)) || !(tmp = rg_malloc(tmp_cap)) || !(dir = dir_of(path))) {
        s = rg_error(RG_ENOMEM, "%s: out of memory for a %zu-byte header", path, e.len);
        goto out;
    }
    uint64_t hlen = e.len;
    for (int i = 0; i < 8; i++) hdr[i] = (char)(hlen >> (8 * i));
    emit e2 = {hdr + 8, 0};
    emit_header(&e2, tensors, n, nbytes, meta_kv, n_meta);
    RG_ASSERT(e2.len == e.len);

    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        s = rg_error(RG_EIO, "%s: cannot create '%s': %s", path, tmp, errstr(errno, eb, sizeof eb));
        goto out;
    }
    int ok = write_all(fd, hdr, 8 + e.len);
    for (size_t i = 0; ok && i < n; i++) {
        if (tensors[i].data || !nbytes[i]) ok = write_all(fd, tensors[i].data, nbytes[i]);
        else if ((s = write_streamed(fd, path, &tensors[i], nbytes[i], flags, chunk)) != RG_OK) goto fail;
        if (i == n / 2 && (flags & RG_ST_CRASH_POINT)) rg_hook_point("ckpt-write");   /* kill tests */
    }
    if (!ok) {
        s = rg_error(RG_EIO, "%s: writing '%s' failed: %s", path, tmp, errstr(errno, eb, sizeof eb));
        goto fail;
    }
    if (fsync(fd) != 0) {
        s = rg_error(RG_EIO, "%s: fsync of '%s' failed: %s", path, tmp, errstr(errno, eb, sizeof eb));
        goto fail;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        s = rg_error(RG_EIO, "%s: closing '%s' failed: %s", path, tmp, errstr(errno, eb, sizeof eb));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        s = rg_error(RG_EIO, "%s: cannot rename '%s' over it: %s", path, tmp,
                     errstr(errno, eb, sizeof eb));
        goto fail;
    }
    s = sync_dir(path, dir);
    goto out;
fail:
    if (fd >= 0) close(fd);
    fd = -1;
    unlink(tmp);
out:
    rg_free(chunk);
    rg_free(dir);
    rg_free(tmp);
    rg_free(hdr);
    rg_free(nbytes);
    return s;
}
