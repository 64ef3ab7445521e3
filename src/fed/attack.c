/*
 * attack.c — simulated attackers (attack.h).
 *
 * The attackers are the clients whose image under a keyed permutation of
 * [0, clients) falls below round(FRACTION * clients): exactly that many,
 * and the same ones on every rank and for every round.  The permutation
 * is a four-round Feistel network over the smallest even number of bits
 * that covers the population, its round function a Philox draw keyed
 * (seed, RG_RNG_ATTACK); values that land outside [0, clients) are fed
 * through again (cycle walking), which keeps it a permutation of the
 * population.  The domain is less than four times the population, so the
 * walk is short.
 */
#include "fed/attack.h"
#include "fed/dp.h"
#include <math.h>
#include <string.h>

rg_status rg_attack_parse(const char *text, double fraction, rg_attack_spec *out)
{
    memset(out, 0, sizeof *out);
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return rg_error(RG_EUSAGE, "--attackers %g: FRACTION must be a number in [0, 1]", fraction);
    out->fraction = fraction;
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    char *end = NULL;
    if (!colon && !strcmp(text, "none")) return RG_OK;
    if (!colon && !strcmp(text, "labelflip")) { out->kind = RG_ATTACK_LABELFLIP; return RG_OK; }
    if (klen == 8 && !strncmp(text, "signflip", 8)) {
        out->kind = RG_ATTACK_SIGNFLIP;
        out->scale = 4.0;
        if (!colon) return RG_OK;
        out->scale = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !isfinite(out->scale) || out->scale <= 0.0)
            return rg_error(RG_EUSAGE, "--attack %s: S must be a finite number > 0", text);
        return RG_OK;
    }
    if (colon && klen == 5 && !strncmp(text, "noise", 5)) {
        out->kind = RG_ATTACK_NOISE;
        out->sigma = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !isfinite(out->sigma) || out->sigma <= 0.0)
            return rg_error(RG_EUSAGE, "--attack %s: SIGMA must be a finite number > 0", text);
        return RG_OK;
    }
    return rg_error(RG_EUSAGE, "--attack: '%s' is not one of none, signflip[:S], labelflip, noise:SIGMA", text);
}

/* One pass of the Feistel network over 2*h bits. */
static uint64_t feistel(uint64_t x, int h, uint64_t seed)
{
    uint64_t mask = (1ULL << h) - 1, l = x >> h, r = x & mask;
    for (uint32_t k = 0; k < 4; k++) {
        uint32_t o[4];
        rg_rng4(seed, RG_RNG_ATTACK, k, r, o);
        uint64_t f = (((uint64_t)o[1] << 32) | o[0]) & mask;
        uint64_t nl = r;
        r = l ^ f;
        l = nl;
    }
    return (l << h) | r;
}

int rg_attack_is_attacker(const rg_attack_spec *a, uint64_t seed, int client)
{
    if (a->kind == RG_ATTACK_NONE) return 0;
    RG_ASSERT(a->clients > 0 && client >= 0 && client < a->clients);
    long k = lround(a->fraction * a->clients);
    if (k <= 0) return 0;
    if (k >= a->clients) return 1;
    int h = 1;
    while ((1ULL << (2 * h)) < (uint64_t)a->clients) h++;
    uint64_t x = (uint64_t)client;
    do x = feistel(x, h, seed); while (x >= (uint64_t)a->clients);
    return x < (uint64_t)k;
}

void rg_attack_update(const rg_attack_spec *a, float *u, size_t P, uint64_t seed, uint64_t round, int client)
{
    if (a->kind == RG_ATTACK_SIGNFLIP) {
        float s = (float)-a->scale;
        for (size_t j = 0; j < P; j++) u[j] *= s;
    } else if (a->kind == RG_ATTACK_NOISE) {
        RG_ASSERT(P / 2 < (1ULL << 32));
        memset(u, 0, P * sizeof *u);
        rg_gauss_add(u, P, a->sigma, seed, RG_RNG_ATTACKNOISE, round, (uint64_t)client << 32);
    }
}

int rg_attack_label(const rg_attack_spec *a, int label, int classes)
{
    return a->kind == RG_ATTACK_LABELFLIP ? classes - 1 - label : label;
}
