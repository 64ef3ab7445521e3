/* The batch schedule: iid slices tile each global batch; proportional
 * windows on a skewed partition give every global batch exactly B samples
 * (the last the rest), take each part whole, end every part with the
 * epoch and keep each worker's count at every batch boundary within 1.5
 * samples of its quota (a stratified sample); equal windows are today's floor(B/W)
 * until a part runs dry.  The epoch order is a permutation and a pure
 * function of (seed, epoch). */
#include "support.h"
#include "data/batch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A partition with the given part sizes over ids 0..N-1 in order. */
static rg_parts parts_of(const size_t *sizes, int W)
{
    rg_parts p = { .workers = W };
    p.offset = calloc((size_t)W + 1, sizeof *p.offset);
    for (int k = 0; k < W; k++) p.offset[k + 1] = p.offset[k] + sizes[k];
    p.n = p.offset[W];
    p.ids = calloc(p.n ? p.n : 1, sizeof *p.ids);
    for (size_t i = 0; i < p.n; i++) p.ids[i] = i;
    return p;
}

static void check_proportional(const size_t *sizes, int W, size_t B)
{
    rg_parts p = parts_of(sizes, W);
    rg_schedule sc;
    assert_int_equal(rg_schedule_make(&sc, p.n, B, W, &p, RG_WB_PROPORTIONAL), RG_OK);
    size_t b = B < p.n ? B : p.n;
    assert_int_equal(sc.steps, (p.n + b - 1) / b);
    size_t done = 0, *taken = calloc((size_t)W, sizeof *taken);
    for (uint64_t s = 0; s < sc.steps; s++) {
        size_t sum = 0, want = p.n - s * b < b ? p.n - s * b : b;
        assert_int_equal(rg_schedule_size(&sc, s), want);
        for (int k = 0; k < W; k++) {
            size_t lo, hi;
            rg_schedule_window(&sc, k, s, &lo, &hi);
            assert_int_equal(lo, taken[k]);              /* windows tile the part, in order */
            assert_true(hi >= lo && hi <= sizes[k]);
            taken[k] = hi;
            sum += hi - lo;
        }
        assert_int_equal(sum, want);                     /* every batch sums to B */
        done += sum;
        for (int k = 0; k < W; k++) {                    /* stratified: close to the quota */
            double quota = (double)done * (double)sizes[k] / (double)p.n;
            if (fabs((double)taken[k] - quota) > 1.5)
                fail_msg("W=%d B=%zu step %llu worker %d: %zu taken, quota %.2f", W, B, (unsigned long long)s, k,
                         taken[k], quota);
        }
    }
    for (int k = 0; k < W; k++) assert_int_equal(taken[k], sizes[k]);   /* every part ends with the epoch */
    free(taken);
    rg_schedule_free(&sc);
    rg_partition_free(&p);
}

static void test_proportional(void **state)
{
    (void)state;
    const size_t a[] = { 100, 900 }, b[] = { 0, 37, 1, 480, 2 }, c[] = { 5, 5, 5, 5 }, d[] = { 1 }, e[] = { 3, 0, 0 };
    check_proportional(a, 2, 32);
    check_proportional(a, 2, 1000);   /* one batch: everything */
    check_proportional(a, 2, 1);
    check_proportional(b, 5, 32);
    check_proportional(b, 5, 3);      /* more workers than a batch */
    check_proportional(c, 4, 6);
    check_proportional(d, 1, 32);
    check_proportional(e, 3, 2);
    size_t big[64];
    for (int k = 0; k < 64; k++) big[k] = (size_t)(rg_rng_uniform(5, RG_RNG_USER, 0, (uint64_t)k) * 300.0f);
    check_proportional(big, 64, 100);
    for (uint64_t trial = 0; trial < 300; trial++) {   /* small worlds, odd sizes */
        int W = 1 + (int)(rg_rng_uniform(9, RG_RNG_USER, trial, 0) * 9.0f);
        size_t sz[10], total = 0;
        for (int k = 0; k < W; k++) {
            float u = rg_rng_uniform(9, RG_RNG_USER, trial, (uint64_t)k + 1);
            sz[k] = u < 0.2f ? (size_t)(u * 15.0f) : (size_t)(u * 600.0f);
            total += sz[k];
        }
        size_t B = 1 + (size_t)(rg_rng_uniform(9, RG_RNG_USER, trial, 99) * 70.0f);
        if (total) check_proportional(sz, W, B);
    }
}

static void test_equal(void **state)
{
    (void)state;
    const size_t sizes[] = { 100, 900 };
    rg_parts p = parts_of(sizes, 2);
    rg_schedule sc;
    assert_int_equal(rg_schedule_make(&sc, 1000, 32, 2, &p, RG_WB_EQUAL), RG_OK);
    assert_int_equal(sc.b_loc, 16);
    assert_int_equal(sc.steps, 57);                      /* the largest part: 900 / 16 */
    size_t lo, hi;
    rg_schedule_window(&sc, 0, 6, &lo, &hi);
    assert_int_equal(lo, 96); assert_int_equal(hi, 100);  /* the small part's last 4 */
    rg_schedule_window(&sc, 0, 7, &lo, &hi);
    assert_int_equal(lo, hi);                             /* then dry */
    assert_int_equal(rg_schedule_size(&sc, 6), 20);
    assert_int_equal(rg_schedule_size(&sc, 7), 16);
    rg_schedule_free(&sc);
    rg_partition_free(&p);
}

static void test_iid_slices(void **state)
{
    (void)state;
    rg_schedule sc;
    assert_int_equal(rg_schedule_make(&sc, 100, 32, 3, NULL, RG_WB_PROPORTIONAL), RG_OK);
    assert_int_equal(sc.steps, 4);
    for (uint64_t s = 0; s < 4; s++) {
        size_t at = (size_t)s * 32, lo, hi;
        for (int k = 0; k < 3; k++) {
            rg_schedule_slice(&sc, s, k, 3, &lo, &hi);
            assert_int_equal(lo, at);
            at = hi;
        }
        assert_int_equal(at, s < 3 ? (size_t)s * 32 + 32 : 100);
    }
    rg_schedule_free(&sc);
}

static void test_epoch_order(void **state)
{
    (void)state;
    uint64_t a[50], b[50], base[50];
    for (int i = 0; i < 50; i++) base[i] = 1000 + (uint64_t)i;
    rg_epoch_order(a, base, 50, 1, 7, RG_RNG_SHUFFLE, 3);
    rg_epoch_order(b, base, 50, 1, 7, RG_RNG_SHUFFLE, 3);
    assert_memory_equal(a, b, sizeof a);                  /* a pure function */
    int seen[50] = {0}, moved = 0;
    for (int i = 0; i < 50; i++) { seen[a[i] - 1000]++; moved += a[i] != base[i]; }
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);   /* a permutation */
    assert_true(moved > 40);
    rg_epoch_order(b, base, 50, 1, 7, RG_RNG_SHUFFLE, 4);
    assert_memory_not_equal(a, b, sizeof a);              /* another epoch, another order */
    rg_epoch_order(b, NULL, 50, 0, 7, RG_RNG_SHUFFLE, 3);
    for (int i = 0; i < 50; i++) assert_int_equal(b[i], (uint64_t)i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proportional),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_iid_slices),
        cmocka_unit_test(test_epoch_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
