/*
 * rng.c — Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC'11).  A draw is a pure function of its key (seed, purpose) and
 * its counter (step, index): the key is the seed's two 32-bit halves with the
 * purpose folded into the high half; the counter is (index lo, index hi,
 * step lo, step hi).  No state, so any worker can draw any value.
 */
#include "core/core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* The raw Philox-4x32-10 block function; exposed for the known-answer test. */
void rg_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]);
void rg_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4])
{
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void rg_rng4(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index, uint32_t out[4])
{
    uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) ^ (purpose * 0x85EBCA6Bu) };
    uint32_t ctr[4] = { (uint32_t)index, (uint32_t)(index >> 32), (uint32_t)step, (uint32_t)(step >> 32) };
    rg_philox4x32_10(ctr, key, out);
}

float rg_rng_uniform(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index)
{
    uint32_t o[4];
    rg_rng4(seed, purpose, step, index, o);
    return (float)(o[0] >> 8) * (1.0f / 16777216.0f);
}

/* Fills out[4*count] with the blocks of indices index0 .. index0+count-1.
 * Written as lane arrays so the compiler vectorises the rounds (the
 * 32x32->64 multiplies become vpmuludq): dropout draws thousands a step. */
void rg_rng4_run(uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index0, size_t count, uint32_t *out)
{
    enum { L = 16 };
    uint32_t k0base = (uint32_t)seed, k1base = (uint32_t)(seed >> 32) ^ (purpose * 0x85EBCA6Bu);
    for (size_t at = 0; at < count; at += L) {
        size_t n = count - at < L ? count - at : L;
        uint32_t c0[L], c1[L], c2[L], c3[L];
        for (size_t j = 0; j < L; j++) {
            uint64_t idx = index0 + at + j;
            c0[j] = (uint32_t)idx; c1[j] = (uint32_t)(idx >> 32);
            c2[j] = (uint32_t)step; c3[j] = (uint32_t)(step >> 32);
        }
        uint32_t k0 = k0base, k1 = k1base;
        for (int r = 0; r < 10; r++) {
            for (size_t j = 0; j < L; j++) {
                uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j], p1 = (uint64_t)PHILOX_M1 * c2[j];
                uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
                c1[j] = (uint32_t)p1; c3[j] = (uint32_t)p0;
                c0[j] = n0; c2[j] = n2;
            }
            k0 += PHILOX_W0; k1 += PHILOX_W1;
        }
        for (size_t j = 0; j < n; j++) {
            uint32_t *o = out + 4 * (at + j);
            o[0] = c0[j]; o[1] = c1[j]; o[2] = c2[j]; o[3] = c3[j];
        }
    }
}
