/* Core: Philox known answers (Random123's kat_vectors), purity of the keyed
 * generator, uniformity, error messages and the allocation hook. */
#include "support.h"
#include "core/core.h"
#include <math.h>
#include <string.h>

void rg_philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]);

static void test_philox_known_answers(void **state)
{
    const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int k = 0; k < 3; k++) {
        uint32_t out[4];
        rg_philox4x32_10(kat[k], kat[k] + 4, out);
        for (int i = 0; i < 4; i++) assert_int_equal(out[i], kat[k][6 + i]);
    }
}

static void test_rng_is_keyed(void **state)
{
    uint32_t a[4], b[4];
    rg_rng4(42, RG_RNG_DROPOUT, 7, 123456789012ULL, a);
    rg_rng4(42, RG_RNG_DROPOUT, 7, 123456789012ULL, b);
    assert_memory_equal(a, b, sizeof a);
    /* each key component changes the draw */
    rg_rng4(43, RG_RNG_DROPOUT, 7, 123456789012ULL, b);
    assert_memory_not_equal(a, b, sizeof a);
    rg_rng4(42, RG_RNG_SHUFFLE, 7, 123456789012ULL, b);
    assert_memory_not_equal(a, b, sizeof a);
    rg_rng4(42, RG_RNG_DROPOUT, 8, 123456789012ULL, b);
    assert_memory_not_equal(a, b, sizeof a);
    rg_rng4(42, RG_RNG_DROPOUT, 7, 123456789013ULL, b);
    assert_memory_not_equal(a, b, sizeof a);
    rg_rng4(42 | (1ULL << 40), RG_RNG_DROPOUT, 7, 123456789012ULL, b);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_rng_run_matches_single_draws(void **state)
{
    /* the vectorised run gives exactly the blocks of single calls */
    for (size_t count = 1; count < 40; count += 7) {
        uint32_t run[4 * 40], one[4];
        rg_rng4_run(0x123456789ULL, RG_RNG_DROPOUT + 256, 99, (1ULL << 33) + 5, count, run);
        for (size_t j = 0; j < count; j++) {
            rg_rng4(0x123456789ULL, RG_RNG_DROPOUT + 256, 99, (1ULL << 33) + 5 + j, one);
            assert_memory_equal(run + 4 * j, one, sizeof one);
        }
    }
}

static void test_uniform_moments(void **state)
{
    double s = 0, s2 = 0;
    int n = 200000, buckets[10] = {0};
    for (int i = 0; i < n; i++) {
        float u = rg_rng_uniform(1, RG_RNG_USER, 0, (uint64_t)i);
        assert_true(u >= 0.0f && u < 1.0f);
        s += u; s2 += (double)u * u;
        buckets[(int)(u * 10)]++;
    }
    assert_true(fabs(s / n - 0.5) < 0.005);
    assert_true(fabs(s2 / n - 1.0 / 3.0) < 0.005);
    for (int b = 0; b < 10; b++) assert_true(abs(buckets[b] - n / 10) < n / 100);
}

static void test_error_messages(void **state)
{
    assert_int_equal(rg_error(RG_EDATA, "%s: record %d", "f.idx", 3), RG_EDATA);
    assert_string_equal(rg_last_error(), "f.idx: record 3");
    rg_error_prefix(RG_EDATA, "loading %s: ", "x");
    assert_string_equal(rg_last_error(), "loading x: f.idx: record 3");
    rg_clear_error();
    assert_string_equal(rg_last_error(), "");
    assert_string_equal(rg_status_str(RG_ENONFINITE), "non-finite value");
}

static int g_fail_after = -1, g_count;
static void *failing_alloc(size_t n, void *ud)
{
    if (g_fail_after >= 0 && g_count++ >= g_fail_after) return NULL;
    return malloc(n);
}
static void plain_free(void *p, void *ud) { free(p); }

static void test_allocation_failures_are_reported(void **state)
{
    /* fail the Nth allocation of model creation for every N: no crash, a
     * clean RG_ENOMEM, and (under ASan) no leak */
    rg_set_allocator(failing_alloc, plain_free, NULL);
    int saw_ok = 0;
    for (int k = 0; k < 20 && !saw_ok; k++) {
        g_fail_after = k; g_count = 0;
        rg_model *m = NULL;
        rg_status st = rg_model_create("dense(4, relu) dropout(0.1) dense(3)", 5, 1, &m);
        if (st == RG_OK) { saw_ok = 1; rg_model_free(m); }
        else { assert_int_equal(st, RG_ENOMEM); assert_null(m); }
    }
    rg_set_allocator(NULL, NULL, NULL);
    assert_true(saw_ok);
    size_t out;
    assert_false(rg_mul_ok(SIZE_MAX / 2, 3, &out));
    assert_true(rg_mul_ok(1u << 20, 1u << 10, &out));
    assert_int_equal(out, (size_t)1 << 30);
    assert_false(rg_add_ok(SIZE_MAX, 1, &out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_rng_is_keyed),
        cmocka_unit_test(test_rng_run_matches_single_draws),
        cmocka_unit_test(test_uniform_moments),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_allocation_failures_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
