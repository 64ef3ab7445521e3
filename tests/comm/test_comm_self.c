/* The self communicator: a world of one where every collective is the
 * identity, so single-worker training runs the same path as N workers. */
#include "support.h"
#include "comm/comm.h"
#include <string.h>

static void test_self_collectives(void **state)
{
    rg_comm *c;
    assert_int_equal(rg_comm_self(&c), RG_OK);
    assert_int_equal(rg_comm_rank(c), 0);
    assert_int_equal(rg_comm_size(c), 1);
    float a[3] = {1, 2, 3}, out[3] = {0};
    assert_int_equal(rg_comm_allreduce(c, a, 3, RG_REDUCE_SUM), RG_OK);
    assert_int_equal(rg_comm_allreduce(c, a, 3, RG_REDUCE_AVG), RG_OK);
    assert_float_equal(a[2], 3, 0);
    double d[2] = {4, 5};
    assert_int_equal(rg_comm_allreduce_f64(c, d, 2, RG_REDUCE_SUM), RG_OK);
    assert_float_equal(d[1], 5, 0);
    assert_int_equal(rg_comm_allgather(c, a, 3, out), RG_OK);
    assert_memory_equal(a, out, sizeof a);
    memset(out, 0, sizeof out);
    assert_int_equal(rg_comm_reduce_scatter(c, a, 3, out, RG_REDUCE_SUM), RG_OK);
    assert_memory_equal(a, out, sizeof a);
    assert_int_equal(rg_comm_broadcast(c, a, sizeof a, 0), RG_OK);
    assert_int_equal(rg_comm_broadcast(c, a, sizeof a, 1), RG_EUSAGE);
    assert_int_equal(rg_comm_barrier(c), RG_OK);
    rg_comm *sub;
    assert_int_equal(rg_comm_split(c, 3, 0, &sub), RG_OK);
    assert_int_equal(rg_comm_size(sub), 1);
    rg_comm_free(sub);
    rg_comm_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_self_collectives) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
