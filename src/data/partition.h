/*
 * partition.h — layer 2 data, internal: spreading training samples over
 * workers (IID, Dirichlet label skew, quantity skew, K shards per worker).
 */
#ifndef RG_PARTITION_H
#define RG_PARTITION_H
#include "regula.h"

typedef enum { RG_PART_IID, RG_PART_DIRICHLET, RG_PART_QUANTITY, RG_PART_SHARDS } rg_part_kind;

typedef struct rg_partition {
    rg_part_kind kind;
    double alpha;     /* dirichlet, quantity */
    int shards;       /* shards per worker */
} rg_partition;

/* Worker k owns ids[offset[k] .. offset[k+1]). */
typedef struct rg_parts {
    int workers;
    size_t n;
    uint64_t *ids;
    size_t *offset;
} rg_parts;

/* "iid", "dirichlet:ALPHA", "quantity:ALPHA" or "shards:K". */
rg_status rg_partition_parse(const char *text, rg_partition *out);
/* The same result on every rank for the same arguments.  y may be NULL for
 * iid and quantity. */
rg_status rg_partition_make(const int32_t *y, size_t n, int classes, const rg_partition *spec,
                            int workers, uint64_t seed, rg_parts *out);
void rg_partition_free(rg_parts *p);
#endif
