/* The clients' state store (src/fed/cstore.c), both backends alike: zeros
 * for a client never seen, a round trip through a round's views, the
 * checkpoint's reads (parts of a client), a resume's put; the disk's file
 * unlinked at once and sparse; an unwritable directory and a full disk
 * (RLIMIT_FSIZE, SIGXFSZ ignored) named as I/O errors. */
#include "support.h"
#include "fed/cstore.h"
#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

enum { C = 1000, PER = 300, M = 4 };

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* One round of clients ids (trained: which take steps): each view is what
 * the client held (zeros if never seen); each that trains adds round + j. */
static void round_of(rg_cstore *s, const uint32_t *ids, const uint64_t *trained, float (*want)[PER], int round)
{
    float *view[M];
    assert_int_equal(rg_cstore_begin(s, ids, trained, M, view), RG_OK);
    for (size_t j = 0; j < M; j++) {
        assert_memory_equal(view[j], want[ids[j] % 16], PER * sizeof(float));
        if (!trained[j]) continue;
        for (size_t q = 0; q < PER; q++) view[j][q] += (float)(round * 10 + (int)j) + 0.25f * (float)q;
        memcpy(want[ids[j] % 16], view[j], sizeof want[0]);
    }
    rg_cstore_hold(s);
    assert_int_equal(rg_cstore_commit(s, ids, trained, M), RG_OK);
}

static void round_trip(rg_cstore_kind kind)
{
    char *dir = rgt_tmpdir();
    rg_cstore *s;
    assert_int_equal(rg_cstore_open(&s, kind, dir, C, PER, M), RG_OK);
    assert_int_equal(entries(dir), 0);   /* the scratch file is gone from the directory at once */
    static float want[16][PER];          /* by client % 16: the ids below differ there */
    memset(want, 0, sizeof want);
    const uint32_t r1[M] = { 3, 17, 500, 999 }, r2[M] = { 17, 18, 500, 998 };
    const uint64_t t1[M] = { 5, 0, 7, 9 }, t2[M] = { 1, 4, 2, 0 };
    round_of(s, r1, t1, want, 1);
    assert_int_equal(rg_cstore_count(s), 3);   /* 17 took no step: no state of its own */
    assert_true(rg_cstore_has(s, 3) && !rg_cstore_has(s, 17) && rg_cstore_has(s, 999) && !rg_cstore_has(s, 4));
    round_of(s, r2, t2, want, 2);               /* 500 again: its state from round 1 */
    assert_int_equal(rg_cstore_count(s), 5);
    float part[PER];
    assert_int_equal(rg_cstore_read(s, 500, 100, part, 50), RG_OK);   /* a checkpoint's piece of a client */
    assert_memory_equal(part, want[500 % 16] + 100, 50 * sizeof(float));
    assert_int_equal(rg_cstore_read(s, 4, 0, part, PER), RG_OK);
    for (size_t q = 0; q < PER; q++) assert_true(part[q] == 0.0f);
    float x[PER];
    for (size_t q = 0; q < PER; q++) x[q] = -(float)q;
    assert_int_equal(rg_cstore_put(s, 42, x), RG_OK);   /* a resume's */
    assert_true(rg_cstore_has(s, 42));
    assert_int_equal(rg_cstore_read(s, 42, 0, part, PER), RG_OK);
    assert_memory_equal(part, x, sizeof x);
    rg_cstore_close(s);
    assert_int_equal(entries(dir), 0);
    rgt_rmtree(dir);
    free(dir);
}

static void test_memory(void **state) { (void)state; round_trip(RG_CSTORE_MEMORY); }
static void test_disk(void **state) { (void)state; round_trip(RG_CSTORE_DISK); }

/* A client far out costs its own bytes on disk, not those before it. */
static void test_disk_sparse(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    rg_cstore *s;
    enum { BIG = 1 << 16 };   /* floats a client: 256 KiB */
    assert_int_equal(rg_cstore_open(&s, RG_CSTORE_DISK, dir, 10000, BIG, 1), RG_OK);
    const uint32_t id[1] = { 9999 };
    const uint64_t tr[1] = { 1 };
    float *view[1];
    assert_int_equal(rg_cstore_begin(s, id, tr, 1, view), RG_OK);
    view[0][BIG - 1] = 7.0f;
    assert_int_equal(rg_cstore_commit(s, id, tr, 1), RG_OK);
    float last;
    assert_int_equal(rg_cstore_read(s, 9999, BIG - 1, &last, 1), RG_OK);
    assert_true(last == 7.0f);
    /* 2.6 GB apart from its start, the file holds 256 KiB (and some blocks) */
    assert_true(rg_cstore_disk_bytes(s) < 4 * BIG * sizeof(float));
    rg_cstore_close(s);
    rgt_rmtree(dir);
    free(dir);
}

static void test_unwritable_dir(void **state)
{
    (void)state;
    rg_cstore *s = (rg_cstore *)1;
    assert_int_equal(rg_cstore_open(&s, RG_CSTORE_DISK, "/nonexistent/regula", C, PER, M), RG_EIO);
    assert_null(s);
    assert_non_null(strstr(rg_last_error(), "--client-state-dir /nonexistent/regula: cannot create"));
    /* memory needs no directory */
    assert_int_equal(rg_cstore_open(&s, RG_CSTORE_MEMORY, "/nonexistent/regula", C, PER, M), RG_OK);
    rg_cstore_close(s);
}

/* A full disk: the file may not grow past 64 KiB; client 1000's bytes lie
 * past it, client 0's within. */
static void test_full_disk(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    rg_cstore *s;
    assert_int_equal(rg_cstore_open(&s, RG_CSTORE_DISK, dir, 2000, 64, 1), RG_OK);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    float *view[1];
    const uint64_t tr[1] = { 1 };
    const uint32_t near[1] = { 0 }, far[1] = { 1000 };
    assert_int_equal(rg_cstore_begin(s, near, tr, 1, view), RG_OK);
    rg_status ok = rg_cstore_commit(s, near, tr, 1);
    assert_int_equal(rg_cstore_begin(s, far, tr, 1, view), RG_OK);
    rg_status full = rg_cstore_commit(s, far, tr, 1);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    assert_int_equal(ok, RG_OK);
    assert_int_equal(full, RG_EIO);
    assert_non_null(strstr(rg_last_error(), "writing client 1000's state (256 bytes) to the scratch file"));
    assert_false(rg_cstore_has(s, 1000));
    rg_cstore_close(s);
    rgt_rmtree(dir);
    free(dir);
}

/* A reader's pin: hold waits for the unpin (from another thread). */
static void *unpin_later(void *p)
{
    struct timespec nap = { 0, 20000000 };
    nanosleep(&nap, NULL);
    rg_cstore_unpin(p);
    return NULL;
}

static void test_pin(void **state)
{
    (void)state;
    rg_cstore *s;
    assert_int_equal(rg_cstore_open(&s, RG_CSTORE_MEMORY, "", C, PER, M), RG_OK);
    assert_false(rg_cstore_busy(s));
    rg_cstore_pin(s);
    assert_true(rg_cstore_busy(s));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, unpin_later, s), 0);
    rg_cstore_hold(s);
    assert_false(rg_cstore_busy(s));
    pthread_join(th, NULL);
    rg_cstore_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),       cmocka_unit_test(test_disk),
        cmocka_unit_test(test_disk_sparse),  cmocka_unit_test(test_unwritable_dir),
        cmocka_unit_test(test_full_disk),    cmocka_unit_test(test_pin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
