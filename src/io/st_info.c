/*
 * st_info.c — the public, read-only face of the safetensors reader
 * (rg_safetensors_*, regula.h), for `regula inspect` and other programs.
 *
 * It owns nothing but an rg_st (safetensors.c), whose invariant is what
 * makes this file safe: every tensor it hands out lies inside the loaded
 * file with exactly the bytes its shape and dtype say.  Elements are read
 * with memcpy (the data need not be aligned) and converted to double by
 * dtype, so figures work for every dtype the reader accepts.
 */
#include "io/safetensors.h"
#include <math.h>
#include <string.h>

struct rg_safetensors {
    rg_st *st;
};

rg_status rg_safetensors_open(const char *path, rg_safetensors **out)
{
    *out = NULL;
    rg_safetensors *f = rg_malloc(sizeof *f);
    if (!f) return rg_error(RG_ENOMEM, "%s: out of memory", path);
    rg_status s = rg_st_read(path, &f->st);
    if (s != RG_OK) {
        rg_free(f);
        return s;
    }
    *out = f;
    return RG_OK;
}

void rg_safetensors_free(rg_safetensors *f)
{
    if (!f) return;
    rg_st_free(f->st);
    rg_free(f);
}

size_t rg_safetensors_count(const rg_safetensors *f) { return rg_st_count(f->st); }
size_t rg_safetensors_meta_count(const rg_safetensors *f) { return rg_st_meta_count(f->st); }

void rg_safetensors_meta(const rg_safetensors *f, size_t i, const char **key, const char **value)
{
    rg_st_meta_at(f->st, i, key, value);
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static double half(uint16_t h)
{
    int e = h >> 10 & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* F8 E4M3 (the "FN" form: no infinities, S.1111.111 is NaN). */
static double f8_e4m3(uint8_t b)
{
    int e = b >> 3 & 15, m = b & 7;
    double v = (b & 0x7f) == 0x7f ? NAN : e == 0 ? ldexp(m, -9) : ldexp(m + 8, e - 10);
    return b & 0x80 ? -v : v;
}

/* Element i of t as a double. */
static double element(const rg_st_tensor *t, size_t i)
{
    const unsigned char *p = (const unsigned char *)t->data + i * rg_st_dtype_size(t->dtype);
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; float f; double d; } u;
    memcpy(&u, p, rg_st_dtype_size(t->dtype));
    switch (t->dtype) {
    case RG_ST_BOOL: return u.u8 != 0;
    case RG_ST_U8: return u.u8;
    case RG_ST_I8: return u.i8;
    case RG_ST_F8_E5M2: return half((uint16_t)(u.u8 << 8));   /* the high byte of a half */
    case RG_ST_F8_E4M3: return f8_e4m3(u.u8);
    case RG_ST_I16: return u.i16;
    case RG_ST_U16: return u.u16;
    case RG_ST_F16: return half(u.u16);
    case RG_ST_BF16: { uint32_t w = (uint32_t)u.u16 << 16; float x; memcpy(&x, &w, 4); return x; }
    case RG_ST_I32: return u.i32;
    case RG_ST_U32: return u.u32;
    case RG_ST_F32: return u.f;
    case RG_ST_I64: return (double)u.i64;
    case RG_ST_U64: return (double)u.u64;
    case RG_ST_F64: return u.d;
    case RG_ST_DTYPE_COUNT: break;
    }
    return NAN;
}

static void stats_of(const rg_st_tensor *t, size_t count, rg_tensor_stats *s)
{
    double sum = 0, sq = 0;
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < count; i++) {
        double x = element(t, i);
        if (!isfinite(x)) {
            s->nonfinite++;
            continue;
        }
        s->zeros += x == 0;
        sum += x;
        sq += x * x;
        if (fabs(x) > s->max_abs) s->max_abs = fabs(x);
    }
    size_t finite = count - s->nonfinite;
    s->l2 = sqrt(sq);
    s->mean = finite ? sum / (double)finite : 0;
}

rg_status rg_safetensors_tensor(const rg_safetensors *f, size_t i, rg_tensor_info *info, rg_tensor_stats *stats)
{
    if (i >= rg_st_count(f->st))
        return rg_error(RG_EUSAGE, "%s: tensor %zu asked for, the file has %zu", rg_st_path(f->st), i,
                        rg_st_count(f->st));
    const rg_st_tensor *t = rg_st_at(f->st, i);
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = rg_st_dtype_name(t->dtype);
    info->ndim = t->ndim;
    info->count = t->nbytes / rg_st_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim && d < 8; d++) info->shape[d] = t->shape[d];
    if (stats) stats_of(t, info->count, stats);
    return RG_OK;
}
