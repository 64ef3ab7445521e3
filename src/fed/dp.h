/*
 * dp.h — layer 4, federated: differential privacy for DP-FedAvg (McMahan
 * et al. 2018): each client's update is clipped to norm C, the server adds
 * Gaussian noise of standard deviation SIGMA*C to the sum, and an RDP
 * accountant for the sampled Gaussian mechanism turns (sampling rate,
 * SIGMA, rounds) into epsilon at a given delta.  Pure functions; noise is
 * drawn from the keyed generator, so a run is reproducible.
 */
#ifndef RG_FED_DP_H
#define RG_FED_DP_H
#include "core/core.h"

/* Scales u[0..P) so that its L2 norm is at most C (C > 0); an update
 * already inside the ball is left as it is.  Returns the norm before. */
double rg_dp_clip(float *u, size_t P, double C);

/* x[j] += stddev * N(0, 1), drawn (rg_gauss_add) from (seed,
 * RG_RNG_DPNOISE, round, j/2): the same noise for the same (seed, round) on any rank. */
void rg_dp_noise(float *x, size_t P, double stddev, uint64_t seed, uint64_t round);

/* x[j] += stddev * N(0, 1) for j < P, the pair (2k, 2k+1) drawn by
 * Box-Muller from the block (seed, purpose, step, index0 + k). */
void rg_gauss_add(float *x, size_t P, double stddev, uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index0);

/* The RDP of one step of the sampled Gaussian mechanism (sampling rate q,
 * noise multiplier sigma: noise stddev over sensitivity) at order alpha > 1,
 * integer or fractional (Mironov, Talwar and Zhang 2019, as TF Privacy's
 * dp_accounting and Opacus compute it).  +inf when no bound is found. */
double rg_rdp_sgm(double q, double sigma, double alpha);

/* The same with the fractional series' terms taken with their signs, as
 * Opacus computes it: the exact A_alpha where rg_rdp_sgm's absolute values
 * (dp_accounting's, since 2024, for numerical stability) give an upper
 * bound.  For comparison with Opacus's published values only. */
double rg_rdp_sgm_signed(double q, double sigma, double alpha);

/* epsilon at delta from rdp[k] at orders[k], k < n (Balle et al. 2020,
 * Theorem 21), the minimising order to *best if not NULL. */
double rg_rdp_to_epsilon(const double *orders, const double *rdp, int n, double delta, double *best);

/* epsilon at delta after `steps` steps, minimised over orders[0..n) with
 * the conversion of Balle et al. 2020 (Theorem 21; dp_accounting's and
 * Opacus's); the minimising order to *best if not NULL.  0 when q == 0
 * or steps == 0; +inf when sigma == 0 or no order gives a finite bound. */
double rg_rdp_epsilon_orders(double q, double sigma, long steps, double delta,
                             const double *orders, int n, double *best);

/* rg_rdp_epsilon_orders over TF Privacy's orders (compute_dp_sgd_privacy):
 * 1.25, 1.5, ..., 4.5, 5 .. 63, 128, 256, 512. */
double rg_rdp_epsilon(double q, double sigma, long steps, double delta);

#endif
