/* test_sources.c — what the IDX and CSV loaders do with files that are not
 * regular files: a pipe (a FIFO, as `--input <(zcat ...)` gives) loads like a
 * file, with a lying header costing no more memory than the data behind it
 * and messages that count the bytes that came; a device such as /dev/zero,
 * which would be read without end, and a directory are refused at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "support.h"
#include "data/data.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);   /* a loader may stop reading before the writer is done */
    rgt_alloc_begin();
    g_dir = rgt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rgt_alloc_end();
    rgt_rmtree(g_dir);
    free(g_dir);
    assert_int_equal(rgt_alloc.live, 0);
    return 0;
}

static void expect_error(rg_status got, rg_status want, const char *frag1, const char *frag2)
{
    const char *msg = rg_last_error();
    if (got != want || !strstr(msg, frag1) || (frag2 && !strstr(msg, frag2)))
        fail_msg("status %d (want %d), message \"%s\" lacks \"%s\"%s%s", (int)got, (int)want,
                 msg, frag1, frag2 ? " or " : "", frag2 ? frag2 : "");
}

/* A FIFO at dir/name with a child process writing n bytes of data into it
 * (then closing).  Returns the path; fifo_done reaps the writer. */
static pid_t g_writer;

static const char *fifo_with(const char *name, const void *data, size_t n)
{
    const char *path = rgt_path(g_dir, name);
    assert_int_equal(mkfifo(path, 0600), 0);
    fflush(NULL);
    g_writer = fork();
    assert_true(g_writer >= 0);
    if (g_writer == 0) {
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(data, 1, n, f);
            fclose(f);
        }
        _exit(0);
    }
    return path;
}

static void fifo_done(const char *path)
{
    /* If the loader stopped early the writer may still wait for a reader. */
    kill(g_writer, SIGKILL);
    waitpid(g_writer, NULL, 0);
    unlink(path);
}

static size_t idx_header(unsigned char *b, int type, int ndims, const uint32_t *dims)
{
    b[0] = 0; b[1] = 0; b[2] = (unsigned char)type; b[3] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++) {
        unsigned char *p = b + 4 + 4 * i;
        p[0] = (unsigned char)(dims[i] >> 24); p[1] = (unsigned char)(dims[i] >> 16);
        p[2] = (unsigned char)(dims[i] >> 8); p[3] = (unsigned char)dims[i];
    }
    return 4 + 4 * (size_t)ndims;
}

static void test_idx_from_pipe(void **state)
{
    (void)state;
    unsigned char b[64];
    const uint32_t dims[3] = { 3, 2, 2 };
    size_t h = idx_header(b, 0x08, 3, dims);
    for (int i = 0; i < 12; i++) b[h + i] = (unsigned char)(i * 20);

    /* raw, whole */
    rg_dataset *ds = NULL;
    const char *p = fifo_with("raw.fifo", b, h + 12);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_OK);
    fifo_done(p);
    assert_int_equal(rg_dataset_size(ds), 3);
    assert_int_equal(rg_dataset_features(ds), 4);
    assert_true(rg_dataset_x(ds)[11] == 220.0f);
    rg_dataset_free(ds);

    /* gzip, whole: zlib recognises the stream without the file's magic check */
    const char *gz = rgt_path(g_dir, "img.gz");
    rgt_write_gz(gz, b, h + 12);
    size_t gn;
    char *gbytes = rgt_read(gz, &gn);
    p = fifo_with("gz.fifo", gbytes, gn);
    assert_int_equal(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_OK);
    fifo_done(p);
    assert_true(rg_dataset_x(ds)[11] == 220.0f);
    rg_dataset_free(ds);

    /* gzip, cut: the message says how many bytes came and that the stream was cut */
    p = fifo_with("gzcut.fifo", gbytes, gn - 12);
    expect_error(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_EDATA, "gzcut.fifo",
                 "gzip stream truncated");
    fifo_done(p);
    assert_null(ds);
    free(gbytes);

    /* raw, cut: counts the bytes that arrived (a pipe has no size to compare) */
    p = fifo_with("cut.fifo", b, h + 5);
    expect_error(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_EDATA,
                 "cut.fifo: expected 12 bytes of pixels, file ends after 5", NULL);
    fifo_done(p);

    /* too long */
    p = fifo_with("long.fifo", b, h + 13);
    expect_error(rg_dataset_load_idx(p, NULL, 1.0f, &ds), RG_EDATA, "long.fifo: data continues after", NULL);
    fifo_done(p);
}

/* A header that claims 784 MB of pixels with 100 bytes behind it: the loader
 * fails without ever asking for the claimed size. */
static void test_idx_pipe_lying_header(void **state)
{
    (void)state;
    unsigned char b[16 + 100] = {0};
    const uint32_t dims[3] = { 1000000, 28, 28 };
    size_t h = idx_header(b, 0x08, 3, dims);
    const char *p = fifo_with("lie.fifo", b, h + 100);
    rg_dataset *ds = NULL;
    rgt_alloc.largest = 0;
    expect_error(rg_dataset_load_idx(p, NULL, 0.0f, &ds), RG_EDATA,
                 "lie.fifo: expected 784000000 bytes of pixels, file ends after 100", NULL);
    fifo_done(p);
    assert_true(rgt_alloc.largest <= ((size_t)32 << 20));
}

static void test_csv_from_pipe(void **state)
{
    (void)state;
    const char text[] = "0,1,2\n1,3,4\n2,5,6\n";
    const char *p = fifo_with("d.fifo", text, sizeof text - 1);
    rg_dataset *ds = NULL;
    assert_int_equal(rg_dataset_load_csv(p, NULL, &ds), RG_OK);
    fifo_done(p);
    assert_int_equal(rg_dataset_size(ds), 3);
    assert_int_equal(rg_dataset_features(ds), 2);
    assert_int_equal(rg_dataset_y(ds)[2], 6);
    rg_dataset_free(ds);
}

/* /dev/zero never ends: refused before a byte is read, not after memory
 * runs out.  A directory is named as one. */
static void test_devices_and_directories(void **state)
{
    (void)state;
    rg_dataset *ds = NULL;
    rgt_alloc.largest = 0;
    expect_error(rg_dataset_load_csv("/dev/zero", NULL, &ds), RG_EIO,
                 "/dev/zero: not a regular file or a pipe", NULL);
    expect_error(rg_dataset_load_idx("/dev/zero", NULL, 0.0f, &ds), RG_EIO,
                 "/dev/zero: not a regular file or a pipe", NULL);
    expect_error(rg_dataset_load_idx("/dev/null", NULL, 0.0f, &ds), RG_EIO,
                 "/dev/null: not a regular file or a pipe", NULL);
    assert_true(rgt_alloc.largest <= ((size_t)1 << 20));
    expect_error(rg_dataset_load_csv(g_dir, NULL, &ds), RG_EIO, "Is a directory", g_dir);
    expect_error(rg_dataset_load_idx(g_dir, NULL, 0.0f, &ds), RG_EIO, "Is a directory", g_dir);
    assert_null(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idx_from_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_pipe_lying_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_from_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_and_directories, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
