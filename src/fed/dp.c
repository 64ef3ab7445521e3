/*
 * dp.c — client-level differential privacy: clipping, the server's keyed
 * Gaussian noise, and the RDP accountant of the sampled Gaussian mechanism.
 *
 * The accountant follows Mironov, Talwar and Zhang, "Rényi Differential
 * Privacy of the Sampled Gaussian Mechanism" (2019), as Google's
 * dp_accounting (rdp_privacy_accountant.py, which TF Privacy calls) computes
 * it: log A_alpha by the binomial sum for integer orders (Sec. 3.2) and by
 * the two-sided erfc series for fractional ones (Sec. 3.3, every term taken
 * with its absolute value — an upper bound on A, as dp_accounting has done
 * since 2024 — stopping once both series shrink below e^-30 of the total,
 * giving up on the order after 1000 terms).  RDP composes by addition, so
 * `steps` identical steps multiply it.  (epsilon, delta) comes from Balle et
 * al. 2020, Theorem 21: eps = rdp + log(1 - 1/a) - log(delta a)/(a - 1),
 * minimised over the orders, 0 when delta^2 > 1 - e^-rdp (the KL bound).
 * tests/fed/test_dp.c matches TF Privacy's and Opacus's published values.
 *
 * lgamma() sets the global signgam: call the accountant from one thread.
 */
#include "fed/dp.h"
#include <math.h>

double rg_dp_clip(float *u, size_t P, double C)
{
    RG_ASSERT(C > 0.0);
    double s = 0.0;
    for (size_t j = 0; j < P; j++) s += (double)u[j] * (double)u[j];
    double norm = sqrt(s);
    if (norm > C) {
        float f = (float)(C / norm);
        for (size_t j = 0; j < P; j++) u[j] *= f;
    }
    return norm;
}

/* A uniform in (0, 1) from two 32-bit words: 53 bits and a half. */
static double u53(uint32_t hi, uint32_t lo)
{
    uint64_t x = ((uint64_t)(hi >> 5) << 26) | (uint64_t)(lo >> 6);
    return ((double)x + 0.5) / 9007199254740992.0;
}

void rg_gauss_add(float *x, size_t P, double stddev, uint64_t seed, uint32_t purpose, uint64_t step, uint64_t index0)
{
    enum { B = 64 };
    uint32_t r[4 * B];
    /* block index0+k gives the Box-Muller pair for coordinates 2k and 2k+1 */
    for (size_t k0 = 0; 2 * k0 < P; k0 += B) {
        size_t left = (P - 2 * k0 + 1) / 2, nb = left < B ? left : B;
        rg_rng4_run(seed, purpose, step, index0 + k0, nb, r);
        for (size_t k = 0; k < nb; k++) {
            const uint32_t *o = r + 4 * k;
            double rad = sqrt(-2.0 * log(u53(o[0], o[1]))), th = 6.283185307179586 * u53(o[2], o[3]);
            size_t j = 2 * (k0 + k);
            x[j] += (float)(stddev * rad * cos(th));
            if (j + 1 < P) x[j + 1] += (float)(stddev * rad * sin(th));
        }
    }
}

void rg_dp_noise(float *x, size_t P, double stddev, uint64_t seed, uint64_t round)
{
    rg_gauss_add(x, P, stddev, seed, RG_RNG_DPNOISE, round, 0);
}

/* ------------------------------------------------------------ RDP */

static double log_add(double x, double y)
{
    double a = x < y ? x : y, b = x < y ? y : x;
    if (a == -INFINITY) return b;
    return log1p(exp(a - b)) + b;
}

static double log_comb(double n, double k)
{
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

/* log(erfc(x)), accurate where erfc underflows: the asymptotic series
 * erfc(x) ~ e^(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(2x^2)^2 - ...). */
static double log_erfc(double x)
{
    if (x < 25.0) return log(erfc(x));
    double t = 1.0 / (2.0 * x * x), term = 1.0, sum = 1.0;
    for (int k = 1; k <= 8; k++) {
        term *= -(2.0 * k - 1.0) * t;
        sum += term;
    }
    return -x * x - log(x) - 0.5723649429247001 /* log(pi)/2 */ + log(sum);
}

static double log_a_int(double q, double sigma, int alpha)
{
    double la = -INFINITY, l1mq = log1p(-q), lq = log(q);
    for (int i = 0; i <= alpha; i++) {
        double c = log_comb(alpha, i) + i * lq + (alpha - i) * l1mq;
        la = log_add(la, c + ((double)i * i - i) / (2.0 * sigma * sigma));
    }
    return la;
}

/* log(e^x - e^y), x >= y (the signed series stays positive) */
static double log_sub(double x, double y)
{
    if (y == -INFINITY) return x;
    if (x <= y) return -INFINITY;
    return log(expm1(x - y)) + y;
}

/* The fractional series.  With `sign`, the terms with a negative binomial
 * coefficient (i > alpha + 1, alternating) are subtracted, as Opacus does:
 * the exact A_alpha; without, every term is added: an upper bound. */
static double log_a_frac(double q, double sigma, double alpha, int sign)
{
    double a0 = -INFINITY, a1 = -INFINITY, last0 = -INFINITY, last1 = -INFINITY;
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5, l1mq = log1p(-q), lq = log(q);
    double s2 = 2.0 * sigma * sigma, r2s = sqrt(2.0) * sigma;
    for (int i = 0; i < 1000; i++) {
        double c = log_comb(alpha, i), j = alpha - i;
        double t0 = c + i * lq + j * l1mq, t1 = c + j * lq + i * l1mq;
        double e0 = log(0.5) + log_erfc((i - z0) / r2s), e1 = log(0.5) + log_erfc((z0 - j) / r2s);
        double s0 = t0 + ((double)i * i - i) / s2 + e0, s1 = t1 + (j * j - j) / s2 + e1;
        /* binom(alpha, i) has the sign of prod_{k<i} (alpha - k) */
        int neg = sign && i > (int)floor(alpha) + 1 && (i - 1 - (int)floor(alpha)) % 2;
        a0 = neg ? log_sub(a0, s0) : log_add(a0, s0);
        a1 = neg ? log_sub(a1, s1) : log_add(a1, s1);
        double total = log_add(a0, a1);
        if (s0 < last0 && s1 < last1 && fmax(s0, s1) < total - 30.0) return total;
        last0 = s0;
        last1 = s1;
    }
    return INFINITY;    /* did not converge: this order gives no bound */
}

static double rdp_sgm(double q, double sigma, double alpha, int sign)
{
    if (q == 0.0) return 0.0;
    if (isinf(alpha) || sigma == 0.0) return INFINITY;
    if (q == 1.0) return alpha / (2.0 * sigma * sigma);
    double la = alpha == floor(alpha) && alpha < 2147483647.0 ? log_a_int(q, sigma, (int)alpha)
                                                               : log_a_frac(q, sigma, alpha, sign);
    return la / (alpha - 1.0);
}

double rg_rdp_sgm(double q, double sigma, double alpha)
{
    return rdp_sgm(q, sigma, alpha, 0);
}

double rg_rdp_sgm_signed(double q, double sigma, double alpha)
{
    return rdp_sgm(q, sigma, alpha, 1);
}

/* Balle et al. 2020, Theorem 21, as dp_accounting's compute_epsilon. */
static double eps_at(double a, double r, double delta)
{
    if (r < 0.0) return 0.0;                           /* numerical noise */
    if (delta * delta + expm1(-r) > 0.0) return 0.0;   /* the KL bound */
    if (a > 1.01) return r + log1p(-1.0 / a) - log(delta * a) / (a - 1.0);
    return INFINITY;
}

/* The least epsilon so far and its order, given one more (order, rdp). */
static void keep_least(double a, double r, double delta, double *eps, double *at)
{
    double e = isnan(r) ? INFINITY : eps_at(a, r, delta);
    if (e < *eps) { *eps = e; *at = a; }
}

double rg_rdp_to_epsilon(const double *orders, const double *rdp, int n, double delta, double *best)
{
    RG_ASSERT(delta > 0.0 && n > 0);
    double eps = INFINITY, at = orders[0];
    for (int k = 0; k < n; k++) keep_least(orders[k], rdp[k], delta, &eps, &at);
    if (best) *best = at;
    return eps > 0.0 ? eps : 0.0;
}

double rg_rdp_epsilon_orders(double q, double sigma, long steps, double delta,
                             const double *orders, int n, double *best)
{
    RG_ASSERT(q >= 0.0 && q <= 1.0 && sigma >= 0.0 && steps >= 0 && delta > 0.0 && n > 0);
    double eps = INFINITY, at = orders[0];
    for (int k = 0; k < n; k++)
        keep_least(orders[k], steps == 0 ? 0.0 : (double)steps * rg_rdp_sgm(q, sigma, orders[k]), delta, &eps, &at);
    if (best) *best = at;
    return eps > 0.0 ? eps : 0.0;
}

double rg_rdp_epsilon(double q, double sigma, long steps, double delta)
{
    double orders[10 + 59 + 3];
    static const double few[10] = { 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5 };
    int n = 0;
    for (int k = 0; k < 10; k++) orders[n++] = few[k];
    for (int a = 5; a < 64; a++) orders[n++] = a;
    orders[n++] = 128; orders[n++] = 256; orders[n++] = 512;
    return rg_rdp_epsilon_orders(q, sigma, steps, delta, orders, n, NULL);
}
