/*
 * aggregate.h — layer 4, federated: how the server combines the updates of
 * the clients of a round into one.  Pure functions on plain buffers: no
 * communication, no threads, no state; the same inputs give the same bits.
 *
 *   mean             the weighted mean, weights the samples each client
 *                    trained on (FedAvg)
 *   median           coordinate-wise median; an even count takes the mean
 *                    of the two middle values (Yin et al. 2018)
 *   trimmed:BETA     coordinate-wise trimmed mean: drop the floor(BETA*n)
 *                    largest and the as many smallest, average the rest
 *                    (Yin et al. 2018), 0 <= BETA < 0.5
 *   krum:F           the one update whose summed squared distance to its
 *                    n-F-2 nearest others is least (Blanchard et al. 2017);
 *                    needs n >= 2F+3
 *   multikrum:F,M    the plain mean of the M updates with the least such
 *                    scores, M <= n-F (Blanchard et al. 2017)
 *
 * Only mean uses the weights: a robust rule must not let a client buy
 * influence by claiming many samples, so the others count every update
 * once.  Ties: equal values are interchangeable in a sorted column (sums
 * start from +0, so even -0 and +0 are); equal Krum scores go to the
 * lower index.
 */
#ifndef RG_FED_AGGREGATE_H
#define RG_FED_AGGREGATE_H
#include "core/core.h"

typedef enum { RG_AGG_MEAN, RG_AGG_MEDIAN, RG_AGG_TRIMMED, RG_AGG_KRUM, RG_AGG_MULTIKRUM } rg_agg_kind;

typedef struct rg_agg_spec {
    rg_agg_kind kind;
    double beta;    /* trimmed: the share cut from each end */
    int f, m;       /* krum, multikrum: attackers tolerated; multikrum: updates averaged */
} rg_agg_spec;

/* Parses "mean|median|trimmed:BETA|krum:F|multikrum:F,M".  RG_EUSAGE naming
 * --aggregate and the part that is wrong. */
rg_status rg_agg_parse(const char *text, rg_agg_spec *out);

/* Refuses (RG_EUSAGE, naming --aggregate) a rule that cannot work with n
 * updates a round: n < 1; trimmed with 2*floor(BETA*n) >= n; krum and
 * multikrum with n < 2F+3; multikrum with M > n-F. */
rg_status rg_agg_check(const rg_agg_spec *a, int n);

/* 0 when a running weighted sum of the updates suffices (mean), 1 when the
 * rule needs every update at once. */
int rg_agg_needs_all(const rg_agg_spec *a);

/* Combines n updates u[i][0..P) into out[0..P) (out may not alias them).
 * w[i] >= 0, the samples client i trained on, used by mean only (NULL:
 * all 1).  Checks a with rg_agg_check first.  RG_ENONFINITE naming the
 * client and coordinate when an update holds a NaN or Inf (a sort cannot
 * rank them), RG_EUSAGE when the weights sum to 0, RG_ENOMEM. */
rg_status rg_aggregate(const rg_agg_spec *a, const float *const *u, const double *w, int n, size_t P, float *out);

/* Krum's choice: writes to sel[0..k) the indices of the k updates with the
 * least scores, best first (ties to the lower index), k = 1 for krum and M
 * for multikrum.  score[0..n), if not NULL, gets every update's score.
 * RG_ENOMEM.  (rg_aggregate calls it; exposed for tests and logs.) */
rg_status rg_agg_krum_select(const rg_agg_spec *a, const float *const *u, int n, size_t P, int *sel, double *score);

#endif
