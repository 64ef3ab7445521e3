/*
 * safetensors.h — layer 5, internal: reading and writing safetensors files.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * JSON header, then the data buffer:
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [64, 784], "data_offsets": [b, e]}, ...}
 * with offsets relative to the start of the data buffer.
 *
 * The reader trusts nothing: every length, offset, shape and dtype is checked
 * against the file before a tensor is handed out, so a tensor returned by
 * rg_st_find() always has data[0 .. nbytes) inside the loaded file and nbytes
 * == product(shape) * dtype size.  Errors name the file and the tensor or key.
 * The writer writes to "<path>.tmp.<pid>", fsyncs and renames: a reader never
 * sees a half-written file, and a failed write leaves nothing behind.
 */
#ifndef RG_SAFETENSORS_H
#define RG_SAFETENSORS_H

#include "core/core.h"

/* Known dtypes (the safetensors names).  The model loader takes only F32. */
typedef enum rg_st_dtype {
    RG_ST_BOOL, RG_ST_U8, RG_ST_I8, RG_ST_F8_E5M2, RG_ST_F8_E4M3,
    RG_ST_I16, RG_ST_U16, RG_ST_F16, RG_ST_BF16,
    RG_ST_I32, RG_ST_U32, RG_ST_F32,
    RG_ST_I64, RG_ST_U64, RG_ST_F64,
    RG_ST_DTYPE_COUNT
} rg_st_dtype;

#define RG_ST_MAX_DIMS 8
/* Largest header the reader accepts (the reference implementation's limit). */
#define RG_ST_MAX_HEADER ((size_t)100000000)

const char *rg_st_dtype_name(rg_st_dtype d);     /* "F32" */
size_t rg_st_dtype_size(rg_st_dtype d);          /* bytes per element */
/* Looks up a dtype by its safetensors name; returns 0 if unknown. */
int rg_st_dtype_parse(const char *name, rg_st_dtype *out);
/* Formats a shape as "[64, 784]" ("[]" for a scalar), truncating to cap. */
void rg_st_shape_str(const size_t *shape, int ndim, char *buf, size_t cap);

/* One tensor of a loaded file.  data points into the loaded file and is NOT
 * necessarily aligned for its dtype: copy it out with memcpy. */
typedef struct rg_st_tensor {
    const char *name;
    rg_st_dtype dtype;
    int ndim;
    size_t shape[RG_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
    size_t begin;        /* offset in the data buffer, as in the header */
} rg_st_tensor;

typedef struct rg_st rg_st;

/* Loads and validates the whole file.  RG_EIO when it cannot be opened or
 * read, RG_EDATA when its contents are malformed, RG_ENOMEM on allocation
 * failure.  *out is owned by the caller (rg_st_free). */
rg_status rg_st_read(const char *path, rg_st **out);
void rg_st_free(rg_st *st);
const char *rg_st_path(const rg_st *st);         /* the path given to rg_st_read */

/* Tensors in header order; rg_st_find and rg_st_at point into the same
 * array, so (t - rg_st_at(st, 0)) is a tensor's index. */
size_t rg_st_count(const rg_st *st);
const rg_st_tensor *rg_st_at(const rg_st *st, size_t i);
const rg_st_tensor *rg_st_find(const rg_st *st, const char *name);  /* NULL if absent */

/* Metadata: value of key, or NULL if absent; pairs in sorted key order. */
const char *rg_st_meta(const rg_st *st, const char *key);
size_t rg_st_meta_count(const rg_st *st);
void rg_st_meta_at(const rg_st *st, size_t i, const char **key, const char **value);

/* A tensor to write.  data holds product(shape) elements of dtype in
 * little-endian order (this host's order; regula requires a little-endian
 * host).  Or, data NULL, read gives them a chunk at a time: n bytes from
 * byte off into buf (off and n multiples of the element size), so that a
 * tensor larger than memory can be written (regula fed's clients' state). */
typedef struct rg_st_tensor_in {
    const char *name;
    rg_st_dtype dtype;
    int ndim;
    size_t shape[RG_ST_MAX_DIMS];
    const void *data;
    rg_status (*read)(const void *ctx, size_t off, void *buf, size_t n);
    const void *ctx;
} rg_st_tensor_in;
/* Bytes of a streamed tensor (read) per call. */
#define RG_ST_CHUNK ((size_t)1 << 20)

enum {
    RG_ST_ALLOW_NONFINITE = 1,  /* write NaN/Inf floats instead of refusing */
    RG_ST_CRASH_POINT = 2       /* half-way through, rg_hook_point("ckpt-write") */
};

/* Writes n tensors (names unique, data contiguous in the given order) and
 * n_meta metadata pairs meta_kv = {key0, value0, key1, value1, ...} to path,
 * atomically.  Refuses non-finite floating-point data with RG_ENONFINITE
 * naming the tensor unless flags has RG_ST_ALLOW_NONFINITE.  RG_EUSAGE for an
 * invalid tensor list (duplicate or reserved name, bad ndim), RG_EIO when the
 * file cannot be written.  On any failure path is left as it was. */
rg_status rg_st_write(const char *path, const rg_st_tensor_in *tensors, size_t n,
                      const char *const *meta_kv, size_t n_meta, unsigned flags);

#endif
