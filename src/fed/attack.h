/*
 * attack.h — layer 4, federated: simulated Byzantine clients, for tests and
 * studies of robust aggregation.
 *
 *   signflip[:S]   the client sends -S times its honest update (default
 *                  S = 4: with a fifth of the clients attacking, the plain
 *                  mean's expected update vanishes, 0.8 - 0.2*4 = 0)
 *   labelflip      the client trains on label classes-1-y instead of y
 *   noise:SIGMA    the client sends Gaussian noise N(0, SIGMA^2) in place
 *                  of its update
 *
 * Who attacks is fixed for the whole run: exactly round(FRACTION *
 * clients) clients, the first of a keyed permutation of the client ids
 * (seed, RG_RNG_ATTACK), so any rank answers alike and in O(1).
 */
#ifndef RG_FED_ATTACK_H
#define RG_FED_ATTACK_H
#include "core/core.h"

typedef enum { RG_ATTACK_NONE, RG_ATTACK_SIGNFLIP, RG_ATTACK_LABELFLIP, RG_ATTACK_NOISE } rg_attack_kind;

typedef struct rg_attack_spec {
    rg_attack_kind kind;
    double sigma;       /* noise: the standard deviation sent */
    double fraction;    /* the share of clients that attack, [0, 1] */
    double scale;       /* signflip: S */
    int clients;        /* the population, set by the caller before use */
} rg_attack_spec;

/* Parses "none|signflip[:S]|labelflip|noise:SIGMA" with the attackers'
 * FRACTION in [0, 1].  RG_EUSAGE naming --attack or --attackers.  The
 * caller sets out->clients. */
rg_status rg_attack_parse(const char *text, double fraction, rg_attack_spec *out);

/* 1 when client (0 <= client < a->clients) attacks in this run. */
int rg_attack_is_attacker(const rg_attack_spec *a, uint64_t seed, int client);

/* What attacker `client` sends in place of its update u[0..P) at `round`
 * (signflip, noise; labelflip and none leave u alone).  Call it only for
 * attackers.  The noise is keyed (seed, RG_RNG_ATTACKNOISE, round, client). */
void rg_attack_update(const rg_attack_spec *a, float *u, size_t P, uint64_t seed, uint64_t round, int client);

/* The label an attacker trains on: classes-1-label under labelflip, the
 * label itself otherwise. */
int rg_attack_label(const rg_attack_spec *a, int label, int classes);

#endif
