/* The hierarchical world over rg_comm_self: a shared-memory world of T
 * threads (no MPI needed), every collective checked by tests/mpi/hier_cases.h. */
#include "support.h"
#include "../mpi/hier_cases.h"
#include <pthread.h>
#include <time.h>

static void run_world(int T)
{
    rg_comm *self, *ranks[8];
    pthread_t th[8];
    hc_worker w[8];
    assert_true(T <= 8);
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_hier_create(self, T, ranks), RG_OK);
    atomic_store(&hc_fail, 0);
    atomic_store(&hc_pass, 0);
    atomic_store(&hc_arrived, 0);
    for (int t = 0; t < T; t++) {
        w[t] = (hc_worker){ ranks[t], 1, T, 0, t };
        assert_int_equal(pthread_create(&th[t], NULL, hc_run, &w[t]), 0);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) rg_comm_free(ranks[t]);
    rg_comm_free(self);
    assert_int_equal(atomic_load(&hc_fail), 0);
    assert_true(atomic_load(&hc_pass) > 50 * T);
}

static void test_hier_one_thread(void **state) { run_world(1); }
static void test_hier_three_threads(void **state) { run_world(3); }
static void test_hier_four_threads(void **state) { run_world(4); }

static void test_hier_rejects_zero_threads(void **state)
{
    rg_comm *self, *ranks[1];
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_hier_create(self, 0, ranks), RG_EUSAGE);
    assert_non_null(strstr(rg_last_error(), "at least 1 thread"));
    rg_comm_free(self);
}

static void test_mpi_stubs(void **state)
{
    /* Without mpiexec nothing says we were launched by it. */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        assert_int_equal(rg_comm_mpi_launched(), 0);
    if (!rg_comm_mpi_available()) {
        rg_comm *c;
        assert_int_equal(rg_comm_mpi_init(NULL, NULL), RG_EUSAGE);
        assert_int_equal(rg_comm_mpi_world(&c), RG_EUSAGE);
        assert_non_null(strstr(rg_last_error(), "without MPI"));
    }
    rg_comm *self;
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_set_deterministic(self, 1), RG_OK);
    rg_comm_free(self);
}

/* Each launcher's variable alone says "launched by mpiexec" (MPICH's hydra
 * sets PMI_RANK and PMI_SIZE, Open MPI OMPI_COMM_WORLD_SIZE, PMIx PMIX_RANK,
 * hydra and Intel MPI MPI_LOCALNRANKS, MVAPICH MV2_COMM_WORLD_SIZE); with
 * none of them set, nothing does. */
static void test_mpi_launched_by_each_launcher(void **state)
{
    static const char *const vars[] = {
        "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE"
    };
    enum { NV = sizeof vars / sizeof vars[0] };
    char *saved[NV];
    for (int i = 0; i < NV; i++) {
        const char *v = getenv(vars[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
    assert_int_equal(rg_comm_mpi_launched(), 0);
    for (int i = 0; i < NV; i++) {
        setenv(vars[i], "2", 1);
        if (rg_comm_mpi_launched() != 1) fail_msg("%s alone is not taken for a launcher", vars[i]);
        unsetenv(vars[i]);
    }
    for (int i = 0; i < NV; i++) {
        if (saved[i]) setenv(vars[i], saved[i], 1);
        free(saved[i]);
    }
}

/* Thread 2 of 3 fails while thread 0 waits in a barrier of a world split
 * off the world (for thread 1, which is not there) and thread 1 waits in an
 * allreduce of the world (for thread 2): both get thread 2's status and
 * message instead of waiting forever, and so does every later call. */
typedef struct abort_arg { rg_comm *c; rg_status st[3]; char msg[3][128]; } abort_arg;
static void *abort_worker(void *p)
{
    abort_arg *a = p;
    rg_comm *c = a->c, *sub = NULL;
    int t = rg_comm_rank(c);
    float x[100] = { 0 };
    if (rg_comm_split(c, t < 2, 0, &sub) != RG_OK) return NULL;   /* {0, 1} and {2} */
    if (t == 2) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);                 /* let the others block */
        a->st[0] = a->st[1] = rg_comm_abort(c, RG_ENONFINITE, "loss became NaN at step 7");
        snprintf(a->msg[0], sizeof a->msg[0], "%s", rg_last_error());
        snprintf(a->msg[1], sizeof a->msg[1], "%s", rg_last_error());
    } else {
        for (int k = 0; k < 2; k++) {
            a->st[k] = (k == 0) == (t == 0) ? rg_comm_barrier(sub) : rg_comm_allreduce(c, x, 100, RG_REDUCE_SUM);
            snprintf(a->msg[k], sizeof a->msg[k], "%s", rg_last_error());
        }
    }
    a->st[2] = rg_comm_allreduce(c, x, 100, RG_REDUCE_SUM);
    snprintf(a->msg[2], sizeof a->msg[2], "%s", rg_last_error());
    rg_comm_free(sub);
    return NULL;
}

static void test_hier_abort_wakes_everyone(void **state)
{
    rg_comm *self, *ranks[3];
    abort_arg a[3];
    pthread_t th[3];
    memset(a, 0, sizeof a);
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_hier_create(self, 3, ranks), RG_OK);
    for (int t = 0; t < 3; t++) {
        a[t].c = ranks[t];
        assert_int_equal(pthread_create(&th[t], NULL, abort_worker, &a[t]), 0);
    }
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 3; k++) {
            assert_int_equal(a[t].st[k], RG_ENONFINITE);
            assert_string_equal(a[t].msg[k], "loss became NaN at step 7");
        }
    for (int t = 0; t < 3; t++) rg_comm_free(ranks[t]);
    rg_comm_free(self);
}

/* Threads of one process that pass different sizes all get RG_ECOMM. */
typedef struct mis_arg { rg_comm *c; rg_status st, after; } mis_arg;
static void *mismatch_worker(void *p)
{
    mis_arg *a = p;
    float x[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    a->st = rg_comm_allreduce(a->c, x, rg_comm_rank(a->c) == 1 ? 7 : 8, RG_REDUCE_SUM);
    a->after = rg_comm_allreduce(a->c, x, 8, RG_REDUCE_SUM);
    return NULL;
}

static void test_hier_size_mismatch(void **state)
{
    rg_comm *self, *ranks[3];
    mis_arg a[3];
    pthread_t th[3];
    assert_int_equal(rg_comm_self(&self), RG_OK);
    assert_int_equal(rg_comm_hier_create(self, 3, ranks), RG_OK);
    for (int t = 0; t < 3; t++) {
        a[t] = (mis_arg){ ranks[t], RG_OK, RG_EUSAGE };
        assert_int_equal(pthread_create(&th[t], NULL, mismatch_worker, &a[t]), 0);
    }
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(a[t].st, RG_ECOMM);
        assert_int_equal(a[t].after, RG_OK);   /* the world is still usable */
        rg_comm_free(ranks[t]);
    }
    rg_comm_free(self);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hier_one_thread),
        cmocka_unit_test(test_hier_three_threads),
        cmocka_unit_test(test_hier_four_threads),
        cmocka_unit_test(test_hier_rejects_zero_threads),
        cmocka_unit_test(test_mpi_stubs),
        cmocka_unit_test(test_mpi_launched_by_each_launcher),
        cmocka_unit_test(test_hier_abort_wakes_everyone),
        cmocka_unit_test(test_hier_size_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
