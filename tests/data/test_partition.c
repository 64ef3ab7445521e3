/* Partitioners: every sample goes to exactly one worker; the same arguments
 * give the same partition; Dirichlet label skew gets more skewed as alpha
 * falls; quantity skew changes sizes, not label mixes; shards:K gives each
 * worker about K labels. */
#include "support.h"
#include "data/partition.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 6000
#define C 10

static int32_t labels[N];

static int setup(void **state)
{
    for (int i = 0; i < N; i++) labels[i] = (int32_t)((i * 7) % C);
    return 0;
}

static void check_cover(const rg_parts *p)
{
    char *seen = calloc(N, 1);
    assert_int_equal(p->offset[0], 0);
    assert_int_equal(p->offset[p->workers], N);
    for (size_t i = 0; i < N; i++) {
        assert_true(p->ids[i] < N);
        assert_false(seen[p->ids[i]]);
        seen[p->ids[i]] = 1;
    }
    free(seen);
}

/* mean over workers of the KL divergence of the worker's label mix from uniform */
static double mean_kl(const rg_parts *p)
{
    double total = 0;
    for (int k = 0; k < p->workers; k++) {
        double cnt[C] = {0}, n = (double)(p->offset[k + 1] - p->offset[k]);
        if (n == 0) continue;
        for (size_t i = p->offset[k]; i < p->offset[k + 1]; i++) cnt[labels[p->ids[i]]]++;
        for (int c = 0; c < C; c++) if (cnt[c] > 0) total += cnt[c] / n * log(cnt[c] / n * C);
    }
    return total / p->workers;
}

static rg_parts make(const char *spec, int workers, uint64_t seed)
{
    rg_partition ps;
    assert_int_equal(rg_partition_parse(spec, &ps), RG_OK);
    rg_parts p;
    assert_int_equal(rg_partition_make(labels, N, C, &ps, workers, seed, &p), RG_OK);
    check_cover(&p);
    return p;
}

static void test_parse(void **state)
{
    rg_partition p;
    assert_int_equal(rg_partition_parse("iid", &p), RG_OK);
    assert_int_equal(p.kind, RG_PART_IID);
    assert_int_equal(rg_partition_parse("dirichlet:0.1", &p), RG_OK);
    assert_int_equal(p.kind, RG_PART_DIRICHLET);
    assert_float_equal(p.alpha, 0.1, 1e-12);
    assert_int_equal(rg_partition_parse("shards:2", &p), RG_OK);
    assert_int_equal(p.shards, 2);
    assert_int_equal(rg_partition_parse("dirichlet:-1", &p), RG_EUSAGE);
    assert_int_equal(rg_partition_parse("dirichlet:", &p), RG_EUSAGE);
    assert_int_equal(rg_partition_parse("shards:0", &p), RG_EUSAGE);
    assert_int_equal(rg_partition_parse("banana", &p), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "--partition"));
}

static void test_iid_even_and_reproducible(void **state)
{
    rg_parts a = make("iid", 3, 1), b = make("iid", 3, 1);
    for (int k = 0; k < 3; k++) assert_int_equal(a.offset[k + 1] - a.offset[k], 2000);
    assert_memory_equal(a.ids, b.ids, N * sizeof *a.ids);
    assert_true(mean_kl(&a) < 0.02);
    rg_partition_free(&a);
    rg_partition_free(&b);
}

static void test_dirichlet_skew_grows_as_alpha_falls(void **state)
{
    rg_parts lo = make("dirichlet:0.1", 4, 7), hi = make("dirichlet:100", 4, 7);
    double klo = mean_kl(&lo), khi = mean_kl(&hi);
    print_message("KL dirichlet:0.1 %.3f  dirichlet:100 %.3f\n", klo, khi);
    assert_true(klo > 0.5);
    assert_true(khi < 0.05);
    rg_parts again = make("dirichlet:0.1", 4, 7), other = make("dirichlet:0.1", 4, 8);
    assert_memory_equal(lo.ids, again.ids, N * sizeof *lo.ids);
    assert_memory_not_equal(lo.ids, other.ids, N * sizeof *lo.ids);
    rg_partition_free(&lo); rg_partition_free(&hi); rg_partition_free(&again); rg_partition_free(&other);
}

static void test_tiny_alpha_is_one_hot(void **state)
{
    /* alpha 0.001: nearly every class goes whole to one worker (the draws
     * are taken in logs; in linear space they underflow to an even split) */
    rg_parts p = make("dirichlet:0.001", 4, 5);
    int whole = 0;
    for (int c = 0; c < C; c++) {
        size_t most = 0, total = 0;
        for (int k = 0; k < 4; k++) {
            size_t cnt = 0;
            for (size_t i = p.offset[k]; i < p.offset[k + 1]; i++) cnt += labels[p.ids[i]] == c;
            most = cnt > most ? cnt : most;
            total += cnt;
        }
        whole += most == total;
    }
    assert_true(whole >= 9);
    rg_partition_free(&p);
}

static void test_quantity_skew(void **state)
{
    rg_parts p = make("quantity:0.3", 4, 3);
    size_t mn = N, mx = 0;
    for (int k = 0; k < 4; k++) {
        size_t s = p.offset[k + 1] - p.offset[k];
        mn = s < mn ? s : mn;
        mx = s > mx ? s : mx;
    }
    assert_true(mx > 2 * mn + 100);      /* sizes differ a lot */
    rg_partition_free(&p);
}

static void test_shards(void **state)
{
    rg_parts p = make("shards:2", 5, 3);
    for (int k = 0; k < 5; k++) {
        int present[C] = {0}, distinct = 0;
        for (size_t i = p.offset[k]; i < p.offset[k + 1]; i++) present[labels[p.ids[i]]] = 1;
        for (int c = 0; c < C; c++) distinct += present[c];
        assert_true(distinct <= 4);      /* two shards span at most 2 labels each */
    }
    rg_partition_free(&p);
    rg_partition ps = { .kind = RG_PART_SHARDS, .shards = 5000 };
    rg_parts q;
    assert_int_equal(rg_partition_make(labels, N, C, &ps, 4, 1, &q), RG_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_iid_even_and_reproducible),
        cmocka_unit_test(test_dirichlet_skew_grows_as_alpha_falls),
        cmocka_unit_test(test_tiny_alpha_is_one_hot),
        cmocka_unit_test(test_quantity_skew),
        cmocka_unit_test(test_shards),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
