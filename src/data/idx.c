/*
 * idx.c — LeCun's IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
 *
 * An IDX file is a 4-byte magic 00 00 TT NN (TT the element type, NN the
 * number of dims), NN big-endian uint32 dims, then the elements, big-endian.
 * An image file gives n = dim0 samples of d = dim1*...*dimN features; a
 * label file has one dim of n integer labels.
 *
 * Invariant: no length from a header is trusted before it is checked.  The
 * dims product is overflow-checked and capped at IDX_MAX_BYTES; a raw file
 * must hold header + data bytes (checked against its size before anything
 * is allocated); a gzip file cannot inflate by more than deflate's
 * 1032:1, so larger claims are refused up front, and its buffer grows only
 * as decoded data arrives (unless the gzip trailer confirms the size), so a
 * lying header costs little more memory than the data behind it.  A pipe
 * has no size to check against, so it is read like a gzip file: the buffer
 * grows as the data arrives.  Bytes after the declared data are refused
 * too: header and data must agree.  gzip is recognised by its magic 1f 8b,
 * not by the file name.  Byte elements (ubyte pixels, sbyte) stay bytes in
 * the dataset, read through a table of their 256 floats (dataset.c);
 * wider types become floats here.
 */
#include "data/data.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAX_BYTES ((size_t)1 << 34)  /* 16 GiB of elements */
#define GZ_MAX_RATIO 1032u               /* deflate's largest expansion */
#define IDX_CHUNK ((size_t)1 << 20)      /* bytes per read; a multiple of every element size */
#define IDX_GROW_START ((size_t)1 << 22) /* elements allocated before a gzip file proves it has more */

typedef struct idx_file {
    const char *path;
    const char *what;     /* "pixels", "values" or "labels", for messages */
    gzFile g;
    int gz;
    int sized;            /* a regular file: file_size is known */
    int truncated;        /* the gzip stream ended before its trailer */
    uint64_t file_size;
    uint32_t isize;       /* gzip trailer: uncompressed size mod 2^32 */
    int type, ndims;
    size_t esize;         /* bytes per element */
    size_t header;        /* 4 + 4 * ndims */
    size_t n, d, total, bytes;
    char dims[96];        /* "60000x28x28", for messages */
} idx_file;

static size_t type_size(int t)
{
    switch (t) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    }
    return 0;
}

static const char *type_name(int t)
{
    switch (t) {
    case 0x08: return "ubyte";
    case 0x09: return "sbyte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    }
    return "unknown";
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void idx_close(idx_file *f)
{
    if (f->g) gzclose(f->g);
    f->g = NULL;
}

/* Reads up to len bytes into buf; *got says how many.  Short only at the end
 * of the data (f->truncated set if a gzip stream was cut); RG_EDATA on a
 * corrupt gzip stream, RG_EIO on a read error. */
static rg_status idx_read(idx_file *f, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    size_t done = 0;
    *got = 0;
    while (done < len) {
        size_t want = len - done < IDX_CHUNK ? len - done : IDX_CHUNK;
        int r = gzread(f->g, p + done, (unsigned)want);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        int err;
        const char *msg = gzerror(f->g, &err);
        if (err == Z_OK) break;
        if (err == Z_BUF_ERROR) {   /* zlib's "unexpected end of file" */
            f->truncated = 1;
            break;
        }
        if (err == Z_ERRNO)
            return rg_error(RG_EIO, "%s: read error: %s", f->path, strerror(errno));
        /* zlib names a gzdopen'ed file "<fd:N>"; the path says it better. */
        const char *colon = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ": ") : NULL;
        return rg_error(RG_EDATA, "%s: corrupt gzip data (%s) near byte %lld of the compressed file",
                        f->path, colon ? colon + 2 : msg, (long long)gzoffset(f->g));
    }
    *got = done;
    return RG_OK;
}

/* Opens path and reads and checks its header; on failure nothing stays open. */
static rg_status idx_open(const char *path, int labels, idx_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rg_error(RG_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        close(fd);
        return rg_error(RG_EIO, "%s: cannot read: %s", path, strerror(e));
    }
    /* A device (/dev/zero, a terminal) would be read without end. */
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        close(fd);
        return rg_error(RG_EIO, "%s: not a regular file or a pipe", path);
    }
    f->sized = S_ISREG(st.st_mode);
    f->file_size = (uint64_t)st.st_size;
    unsigned char m[4];
    if (f->sized && pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        f->gz = 1;
        if (f->file_size >= 18 && pread(fd, m, 4, (off_t)f->file_size - 4) == 4)
            f->isize = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
    }
    f->g = gzdopen(fd, "rb");
    if (!f->g) {
        close(fd);
        return rg_error(RG_ENOMEM, "%s: cannot set up zlib", path);
    }
    gzbuffer(f->g, 1u << 17);

    size_t got;
    rg_status s = idx_read(f, m, 4, &got);
    if (s) goto fail;
    if (got < 4) {
        s = rg_error(RG_EDATA, "%s: file ends after %zu bytes, inside the 4-byte IDX magic%s",
                     path, got, f->truncated ? " (gzip stream truncated)" : "");
        goto fail;
    }
    f->type = m[2];
    f->ndims = m[3];
    f->esize = type_size(f->type);
    if (m[0] || m[1] || !f->esize || !f->ndims) {
        s = rg_error(RG_EDATA, "%s: bad magic 0x%08lx (expected 0x0000TTNN IDX header: TT a type "
                     "08/09/0B/0C/0D/0E, NN the number of dims)", path, (unsigned long)be32(m));
        goto fail;
    }
    if (labels && (f->ndims != 1 || f->type > 0x0C)) {
        s = rg_error(RG_EDATA, "%s: a label file holds one dim of integers, this one has %d dim%s of %s",
                     path, f->ndims, f->ndims == 1 ? "" : "s", type_name(f->type));
        goto fail;
    }
    f->header = 4 + 4 * (size_t)f->ndims;
    unsigned char dimbuf[4 * 255];
    s = idx_read(f, dimbuf, f->header - 4, &got);
    if (s) goto fail;
    if (got < f->header - 4) {
        s = rg_error(RG_EDATA, "%s: header declares %d dims but the file ends after %zu bytes%s",
                     path, f->ndims, 4 + got, f->truncated ? " (gzip stream truncated)" : "");
        goto fail;
    }

    int overflow = 0;
    size_t len = 0;
    f->d = 1;
    for (int i = 0; i < f->ndims; i++) {
        uint32_t dim = be32(dimbuf + 4 * i);
        if (i == 0) f->n = dim;
        else if (!rg_mul_ok(f->d, dim, &f->d)) overflow = 1;
        if (len < sizeof f->dims - 16)
            len += (size_t)snprintf(f->dims + len, sizeof f->dims - len, "%s%lu", i ? "x" : "",
                                    (unsigned long)dim);
        else if (len < sizeof f->dims - 4)
            len += (size_t)snprintf(f->dims + len, sizeof f->dims - len, "x...");
    }
    if (overflow || !rg_mul_ok(f->n, f->d, &f->total) ||
        !rg_mul_ok(f->total, f->esize, &f->bytes) || f->bytes > IDX_MAX_BYTES) {
        s = rg_error(RG_EDATA, "%s: dims %s of %s are too large (more than %zu bytes of data)",
                     path, f->dims, type_name(f->type), IDX_MAX_BYTES);
        goto fail;
    }
    if (f->n == 0 || f->d == 0) {
        s = rg_error(RG_EDATA, "%s: dims %s hold no samples", path, f->dims);
        goto fail;
    }
    f->what = labels ? "labels" : f->type == 0x08 ? "pixels" : "values";
    if (f->sized && !f->gz && f->header + f->bytes > f->file_size) {
        s = rg_error(RG_EDATA, "%s: expected %zu bytes of %s, file ends after %llu",
                     path, f->bytes, f->what, (unsigned long long)(f->file_size - f->header));
        goto fail;
    }
    if (f->sized && f->gz && (f->header + f->bytes) / GZ_MAX_RATIO > f->file_size) {
        s = rg_error(RG_EDATA, "%s: header declares %zu bytes of %s, more than a %llu-byte gzip "
                     "file can hold", path, f->bytes, f->what, (unsigned long long)f->file_size);
        goto fail;
    }
    return RG_OK;
fail:
    idx_close(f);
    return s;
}

/* After the declared data the file must end: anything more means the header
 * and the data disagree.  For gzip this read also makes zlib check the CRC. */
static rg_status idx_finish(idx_file *f)
{
    unsigned char extra[64];
    size_t got;
    rg_status s = idx_read(f, extra, sizeof extra, &got);
    if (s) return s;
    if (got)
        return rg_error(RG_EDATA, "%s: data continues after the %zu bytes of %s that dims %s declare",
                        f->path, f->bytes, f->what, f->dims);
    if (f->truncated)
        return rg_error(RG_EDATA, "%s: gzip stream truncated after the data (missing its CRC trailer)",
                        f->path);
    return RG_OK;
}

static rg_status truncation(const idx_file *f, size_t done)
{
    return rg_error(RG_EDATA, "%s: expected %zu bytes of %s, file ends after %zu%s",
                    f->path, f->bytes, f->what, done, f->truncated ? " (gzip stream truncated)" : "");
}

/* Converts count elements of f's (wider than a byte) type starting at
 * element index first. */
static rg_status convert(const idx_file *f, const unsigned char *p, size_t count, size_t first,
                         double scale, float *dst)
{
    for (size_t k = 0; k < count; k++) {
        double v;
        const unsigned char *q = p + k * f->esize;
        switch (f->type) {
        case 0x0B: v = (int16_t)(uint16_t)(q[0] << 8 | q[1]); break;
        case 0x0C: v = (int32_t)be32(q); break;
        case 0x0D: { uint32_t u = be32(q); float x; memcpy(&x, &u, 4); v = x; break; }
        default: { uint64_t u = be64(q); memcpy(&v, &u, 8); break; }
        }
        float x = (float)(v * scale);
        if (!isfinite(x)) {
            size_t e = first + k;
            if (!isfinite(v))
                return rg_error(RG_EDATA, "%s: non-finite value %g at record %zu, feature %zu",
                                f->path, v, e / f->d, e % f->d);
            return rg_error(RG_EDATA, "%s: value %g at record %zu, feature %zu overflows float32 "
                            "after scaling by %g", f->path, v, e / f->d, e % f->d, scale);
        }
        dst[k] = x;
    }
    return RG_OK;
}

/* The buffer of a file's elements as they arrive: cap elements of osize
 * bytes; grown (by doubling, to total) as an unproven file proves it has
 * more. */
static rg_status grow(const idx_file *f, void **x, size_t *cap, size_t done, size_t osize)
{
    size_t ncap = *cap * 2 < f->total ? *cap * 2 : f->total;
    void *nx = rg_malloc(ncap * osize);
    rg_advise_hugepages(nx, ncap * osize);
    if (!nx) return rg_error(RG_ENOMEM, "%s: cannot allocate %zu features", f->path, ncap);
    memcpy(nx, *x, done * osize);
    rg_free(*x);
    *x = nx;
    *cap = ncap;
    return RG_OK;
}

/* Bytes (ubyte, sbyte) are kept as read: each value's float is lut[b]; the
 * first byte whose float is not finite (sbyte under a huge scale) is an
 * error, as convert would name it. */
static rg_status keep_bytes(const idx_file *f, const unsigned char *p, size_t count, size_t first,
                            const float *lut, double scale, uint8_t *dst)
{
    memcpy(dst, p, count);
    if (isfinite(lut[0x80]) && isfinite(lut[0x7f]) && isfinite(lut[0xff])) return RG_OK;
    for (size_t k = 0; k < count; k++)
        if (!isfinite(lut[p[k]])) {
            size_t e = first + k;
            return rg_error(RG_EDATA, "%s: value %d at record %zu, feature %zu overflows float32 "
                            "after scaling by %g", f->path, (int)(int8_t)p[k], e / f->d, e % f->d, scale);
        }
    return RG_OK;
}

/* Reads f's elements into *out (rg_malloc'd, f->total): as bytes when
 * f's type is one (lut then gives each byte's float), else as scaled
 * floats. */
static rg_status read_features(idx_file *f, double scale, void **out, float *lut)
{
    for (int v = 0; v < 256; v++)
        lut[v] = f->type == 0x09 ? (float)((double)(int8_t)v * (scale == 0.0 ? 1.0 : scale))
                 : scale == 0.0 ? (float)v / 255.0f : (float)((double)v * scale);
    if (scale == 0.0) scale = 1.0;   /* auto scale for non-ubyte types */
    if (f->type == 0x08 && !isfinite(lut[255]))
        return rg_error(RG_EUSAGE, "%s: scale %g makes pixel values non-finite", f->path, scale);
    size_t osize = f->esize == 1 ? 1 : sizeof(float);

    /* A raw file's size was checked against the dims; a gzip file or a pipe
     * has to prove its length as it arrives, unless a gzip trailer already
     * agrees. */
    size_t cap = f->total;
    int unproven = !f->sized || (f->gz && f->isize != (uint32_t)(f->header + f->bytes));
    if (unproven && cap > IDX_GROW_START)
        cap = IDX_GROW_START;
    void *x = rg_malloc(cap * osize);
    rg_advise_hugepages(x, cap * osize);
    unsigned char *buf = rg_malloc(IDX_CHUNK);
    rg_status s = RG_OK;
    if (!x || !buf) {
        s = rg_error(RG_ENOMEM, "%s: cannot allocate %zu features", f->path, f->total);
        goto done;
    }
    size_t done = 0, per = IDX_CHUNK / f->esize;
    while (done < f->total) {
        size_t want = f->total - done < per ? f->total - done : per, got;
        s = idx_read(f, buf, want * f->esize, &got);
        if (s) goto done;
        if (got < want * f->esize) {
            s = truncation(f, done * f->esize + got);
            goto done;
        }
        if (done + want > cap && (s = grow(f, &x, &cap, done, osize))) goto done;
        if (osize == 1) s = keep_bytes(f, buf, want, done, lut, scale, (uint8_t *)x + done);
        else s = convert(f, buf, want, done, scale, (float *)x + done);
        if (s) goto done;
        done += want;
    }
    s = idx_finish(f);
done:
    rg_free(buf);
    if (s) rg_free(x);
    else *out = x;
    return s;
}

/* Reads f's integer labels into *out (rg_malloc'd, f->n). */
static rg_status read_labels(idx_file *f, int32_t **out)
{
    int32_t *y = rg_malloc(f->n * sizeof(int32_t));
    unsigned char *buf = rg_malloc(f->bytes);
    rg_status s = RG_OK;
    size_t got;
    if (!y || !buf) {
        s = rg_error(RG_ENOMEM, "%s: cannot allocate %zu labels", f->path, f->n);
        goto done;
    }
    s = idx_read(f, buf, f->bytes, &got);
    if (s) goto done;
    if (got < f->bytes) {
        s = truncation(f, got);
        goto done;
    }
    for (size_t i = 0; i < f->n; i++) {
        const unsigned char *q = buf + i * f->esize;
        long v;
        switch (f->type) {
        case 0x08: v = q[0]; break;
        case 0x09: v = (int8_t)q[0]; break;
        case 0x0B: v = (int16_t)(uint16_t)(q[0] << 8 | q[1]); break;
        default: v = (int32_t)be32(q); break;
        }
        if (v < 0 || v > RG_DATA_MAX_LABEL) {
            s = rg_error(RG_EDATA, "%s: label %ld at record %zu is outside [0, %d]",
                         f->path, v, i, RG_DATA_MAX_LABEL);
            goto done;
        }
        y[i] = (int32_t)v;
    }
    s = idx_finish(f);
done:
    rg_free(buf);
    if (s) rg_free(y);
    else *out = y;
    return s;
}

rg_status rg_dataset_load_idx(const char *images, const char *labels,
                              float scale, rg_dataset **out)
{
    if (!out) return rg_error(RG_EUSAGE, "rg_dataset_load_idx: out is NULL");
    *out = NULL;
    if (!images) return rg_error(RG_EUSAGE, "rg_dataset_load_idx: no image file given");
    if (!isfinite(scale))
        return rg_error(RG_EUSAGE, "%s: scale %g is not finite", images, (double)scale);

    idx_file fi, fl;
    void *x = NULL;
    float lut[256];
    int32_t *y = NULL;
    rg_status s = idx_open(images, 0, &fi);
    if (s) return s;
    fl.g = NULL;
    /* Both headers first, so a count mismatch fails before 47 MB are read. */
    if (labels) {
        s = idx_open(labels, 1, &fl);
        if (s) goto fail;
        if (fl.n != fi.n) {
            s = rg_error(RG_EDATA, "%s: %zu labels but %s has %zu images",
                         labels, fl.n, images, fi.n);
            goto fail;
        }
    }
    s = read_features(&fi, scale, &x, lut);
    if (s) goto fail;
    if (labels) {
        s = read_labels(&fl, &y);
        if (s) goto fail;
    }
    size_t n = fi.n, d = fi.d;
    idx_close(&fi);
    idx_close(&fl);
    if (fi.esize == 1) return rg_dataset_adopt_bytes(x, lut, y, n, d, images, out);
    return rg_dataset_adopt(x, y, n, d, images, out);
fail:
    idx_close(&fi);
    idx_close(&fl);
    rg_free(x);
    return s;
}
