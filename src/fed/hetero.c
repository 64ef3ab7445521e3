/*
 * hetero.c — clients that fail to report and stragglers (hetero.h).
 * Each decision is one keyed draw: uniforms from 32-bit words of the
 * Philox block of (seed, purpose, round, client).
 */
#include "fed/hetero.h"
#include <math.h>

static double unit(uint32_t w)      /* in [0, 1) */
{
    return (double)w * (1.0 / 4294967296.0);
}

int rg_fed_dropped(double p, uint64_t seed, uint64_t round, int client)
{
    uint32_t o[4];
    rg_rng4(seed, RG_RNG_DROPCLIENT, round, (uint64_t)client, o);
    return unit(o[0]) < p;
}

double rg_fed_work_share(double frac, uint64_t seed, uint64_t round, int client)
{
    uint32_t o[4];
    rg_rng4(seed, RG_RNG_STRAGGLER, round, (uint64_t)client, o);
    if (!(unit(o[0]) < frac)) return 1.0;
    return 1.0 - unit(o[1]);         /* (0, 1] */
}

long rg_fed_work_steps(double share, long steps)
{
    if (steps < 1) return 0;
    long k = (long)ceil(share * (double)steps);
    return k < 1 ? 1 : k > steps ? steps : k;
}
