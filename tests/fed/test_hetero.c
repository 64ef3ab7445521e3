/* Heterogeneous clients (src/fed/hetero.c): dropout and straggler draws
 * at their rates, keyed by (seed, round, client), and the partial work. */
#include "support.h"
#include "fed/hetero.h"
#include <math.h>

static void test_dropout_rate_and_keys(void **state)
{
    enum { N = 20000 };
    const double ps[] = { 0.0, 0.1, 0.5, 1.0 };
    for (int k = 0; k < 4; k++) {
        int d = 0;
        for (int c = 0; c < N; c++) d += rg_fed_dropped(ps[k], 3, 7, c);
        double sd = sqrt(N * ps[k] * (1 - ps[k]));
        assert_true(fabs(d - N * ps[k]) <= 5 * sd + 0.5);
    }
    /* the same (seed, round, client) answers alike; other rounds differ */
    int same = 1, other_round = 0, other_seed = 0;
    for (int c = 0; c < 1000; c++) {
        int x = rg_fed_dropped(0.5, 3, 7, c);
        same &= x == rg_fed_dropped(0.5, 3, 7, c);
        other_round += x != rg_fed_dropped(0.5, 3, 8, c);
        other_seed += x != rg_fed_dropped(0.5, 4, 7, c);
    }
    assert_true(same);
    assert_true(other_round > 300 && other_seed > 300);
}

static void test_straggler_share(void **state)
{
    enum { N = 20000 };
    int slow = 0;
    double sum = 0;
    for (int c = 0; c < N; c++) {
        double s = rg_fed_work_share(0.3, 5, 2, c);
        assert_true(s > 0.0 && s <= 1.0);
        if (s < 1.0) { slow++; sum += s; }
        assert_true(s == rg_fed_work_share(0.3, 5, 2, c));
    }
    assert_true(fabs(slow - 0.3 * N) <= 5 * sqrt(N * 0.3 * 0.7));
    assert_true(fabs(sum / slow - 0.5) < 0.02);           /* uniform on (0, 1] */
    for (int c = 0; c < 100; c++) assert_true(rg_fed_work_share(0.0, 5, 2, c) == 1.0);
    assert_int_equal(rg_fed_work_steps(1.0, 40), 40);
    assert_int_equal(rg_fed_work_steps(0.5, 40), 20);
    assert_int_equal(rg_fed_work_steps(0.51, 40), 21);
    assert_int_equal(rg_fed_work_steps(1e-9, 40), 1);
    assert_int_equal(rg_fed_work_steps(0.5, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_rate_and_keys),
        cmocka_unit_test(test_straggler_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
