/* Simulated attackers (src/fed/attack.c): parsing, exactly round(FRACTION
 * x clients) attackers fixed for a run and keyed by the seed, and what
 * each attack does to an update or a label. */
#include "support.h"
#include "fed/attack.h"
#include <math.h>
#include <string.h>

static void expect_usage(rg_status s, const char *needle)
{
    assert_int_equal(s, RG_EUSAGE);
    if (!strstr(rg_last_error(), needle)) fail_msg("'%s' does not name '%s'", rg_last_error(), needle);
}

static void test_parse(void **state)
{
    rg_attack_spec a;
    assert_int_equal(rg_attack_parse("signflip", 0.2, &a), RG_OK);
    assert_int_equal(a.kind, RG_ATTACK_SIGNFLIP);
    assert_true(a.scale == 4.0 && a.fraction == 0.2);
    assert_int_equal(rg_attack_parse("signflip:1.5", 0.1, &a), RG_OK);
    assert_true(a.scale == 1.5);
    assert_int_equal(rg_attack_parse("labelflip", 0.1, &a), RG_OK);
    assert_int_equal(a.kind, RG_ATTACK_LABELFLIP);
    assert_int_equal(rg_attack_parse("noise:0.5", 0.1, &a), RG_OK);
    assert_int_equal(a.kind, RG_ATTACK_NOISE);
    assert_true(a.sigma == 0.5);
    assert_int_equal(rg_attack_parse("none", 0, &a), RG_OK);
    assert_int_equal(a.kind, RG_ATTACK_NONE);
    const char *bad[] = { "", "flip", "noise", "noise:", "noise:0", "noise:-1", "noise:x", "signflip:0",
                          "signflip:", "labelflip:2", "nonex" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_usage(rg_attack_parse(bad[i], 0.1, &a), "--attack");
    expect_usage(rg_attack_parse("signflip", 1.5, &a), "--attackers 1.5");
    expect_usage(rg_attack_parse("signflip", -0.1, &a), "--attackers");
    expect_usage(rg_attack_parse("signflip", NAN, &a), "--attackers");
}

static int count(const rg_attack_spec *a, uint64_t seed)
{
    int k = 0;
    for (int c = 0; c < a->clients; c++) k += rg_attack_is_attacker(a, seed, c);
    return k;
}

static void test_exact_and_keyed(void **state)
{
    const int pop[] = { 1, 2, 3, 7, 10, 100, 1000, 10000 };
    const double frac[] = { 0.0, 0.1, 0.2, 0.29, 0.5, 1.0 };
    rg_attack_spec a;
    for (size_t p = 0; p < sizeof pop / sizeof *pop; p++)
        for (size_t f = 0; f < sizeof frac / sizeof *frac; f++) {
            assert_int_equal(rg_attack_parse("signflip", frac[f], &a), RG_OK);
            a.clients = pop[p];
            assert_int_equal(count(&a, 5), (int)lround(frac[f] * pop[p]));
        }
    /* fixed per (seed, client); another seed picks others; none: nobody */
    assert_int_equal(rg_attack_parse("noise:1", 0.2, &a), RG_OK);
    a.clients = 100;
    int differ = 0, first[100];
    for (int c = 0; c < 100; c++) {
        first[c] = rg_attack_is_attacker(&a, 11, c);
        assert_int_equal(rg_attack_is_attacker(&a, 11, c), first[c]);
        differ += first[c] != rg_attack_is_attacker(&a, 12, c);
    }
    assert_true(differ > 0);
    /* not simply the first clients */
    int low = 0;
    for (int c = 0; c < 20; c++) low += first[c];
    assert_true(low < 20);
    assert_int_equal(rg_attack_parse("none", 0.5, &a), RG_OK);
    a.clients = 100;
    assert_int_equal(count(&a, 11), 0);
}

static void test_updates_and_labels(void **state)
{
    rg_attack_spec a;
    float u[5] = { 1, -2, 0.5f, 0, 3 };
    assert_int_equal(rg_attack_parse("signflip", 0.2, &a), RG_OK);
    rg_attack_update(&a, u, 5, 1, 0, 3);
    const float want[5] = { -4, 8, -2, 0, -12 };
    for (int j = 0; j < 5; j++) assert_true(u[j] == want[j]);
    /* labelflip touches labels, not updates */
    assert_int_equal(rg_attack_parse("labelflip", 0.2, &a), RG_OK);
    float v[2] = { 1, 2 };
    rg_attack_update(&a, v, 2, 1, 0, 3);
    assert_true(v[0] == 1 && v[1] == 2);
    for (int y = 0; y < 10; y++) {
        assert_int_equal(rg_attack_label(&a, y, 10), 9 - y);
        assert_int_equal(rg_attack_label(&a, rg_attack_label(&a, y, 10), 10), y);
    }
    assert_int_equal(rg_attack_parse("signflip", 0.2, &a), RG_OK);
    assert_int_equal(rg_attack_label(&a, 3, 10), 3);
    /* noise: replaces the update by N(0, SIGMA^2), keyed by (seed, round, client) */
    enum { P = 100000 };
    float *x = malloc(P * sizeof *x), *y = malloc(P * sizeof *y);
    assert_int_equal(rg_attack_parse("noise:3", 0.2, &a), RG_OK);
    for (int j = 0; j < P; j++) x[j] = 100.0f;
    rg_attack_update(&a, x, P, 9, 4, 17);
    double s = 0, s2 = 0;
    for (int j = 0; j < P; j++) { s += x[j]; s2 += (double)x[j] * x[j]; }
    assert_true(fabs(s / P) < 5 * 3.0 / sqrt(P));
    assert_true(fabs(s2 / P - 9.0) < 0.2);
    for (int j = 0; j < P; j++) y[j] = -1.0f;
    rg_attack_update(&a, y, P, 9, 4, 17);
    assert_memory_equal(x, y, P * sizeof *x);
    rg_attack_update(&a, y, P, 9, 4, 18);
    assert_memory_not_equal(x, y, 64 * sizeof *x);
    rg_attack_update(&a, y, P, 9, 5, 17);
    assert_memory_not_equal(x, y, 64 * sizeof *x);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_exact_and_keyed),
        cmocka_unit_test(test_updates_and_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
