/*
 * bench_train.c — the regula side of bench/: times whole training epochs of
 * rg_train, the same call `regula train` makes, on data loaded once.
 *
 * Two rates are timed, both on a run with no log, no checkpoint, no
 * validation and no test set:
 *   - the training loop's, from the epoch events (rg_epoch_stats: samples
 *     and seconds of each epoch, summed): shuffling, batching, forward,
 *     backward, penalty and Adam updates.  This is `regula train`'s own
 *     epoch rate, its log's samples_per_s, the figure the shares of
 *     the peak were taken from;
 *   - the whole rg_train call's, by the wall clock around it: the loop plus
 *     the run's set-up and, after the last epoch, one pass of the final
 *     model over the training set (rg_train_result's train_loss and
 *     train_acc, which every run reports).
 * Loading the data and building the model are outside both clocks, as they
 * are in torch_train.py, whose figure is its training loop's.  Each run
 * starts from a fresh model with the same seed.  Uses only the public
 * header.
 *
 * Prints one line per run:
 *   regula <model> run <k> samples/s <L> peak_rss_mb <M> cpu_samples/s <C> call_samples/s <W>
 * and at the end:
 *   regula <model> median samples/s <L> call_samples/s <W>
 * where L is the training loop's rate, W the whole call's, C the whole
 * call's samples over its CPU time (what the run cost its core, without
 * the time other work took it), and M the process's peak resident memory
 * so far (getrusage's ru_maxrss): the training set as loaded, the model and
 * the run's buffers.
 */
#include <regula.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The models of the issue, under the names torch_train.py knows them by. */
static const struct preset {
    const char *name, *spec;
    long batch;
} presets[] = {
    {"ref", "dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)", 32},
    {"wide", "dense(1024, relu) dense(1024, relu) dense(10, softmax)", 128},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_train [options]\n"
            "  --model NAME|SPEC  ref, wide, or a model spec (default ref)\n"
            "  --name NAME        name printed for a custom spec (default custom)\n"
            "  --batch N          batch size (default: 32 for ref, 128 for wide, else 32)\n"
            "  --epochs N         epochs per timed run (default 1)\n"
            "  --limit N          train on the first N samples (default all)\n"
            "  --runs R           timed runs (default 1)\n"
            "  --threads N        threads (default 1)\n"
            "  --seed N           seed (default 1)\n"
            "  --data SOURCE      data source (default fashion-mnist)\n"
            "  --gemm NAME        matrix-product kernels: auto, openblas or libxsmm (default auto)\n"
            "  --set NAME=VALUE   any other option of regula train, as rg_config_set takes it\n"
            "                     (--set deterministic=true); repeatable\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The process's CPU time: what a run costs the core it runs on, without the
 * time other processes take it (a loaded machine); one thread, so one core. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Peak resident memory of this process so far, in MB (10^6 bytes). */
static double peak_rss_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss * 1024.0 / 1e6 : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The training loop's clock: each epoch event's samples and seconds, summed
 * (the samples this process trained in the epoch: its rate times its time). */
typedef struct loop_clock {
    int epochs;
    double samples, seconds;
} loop_clock;

static void on_epoch(const rg_epoch_stats *e, void *ud)
{
    loop_clock *l = ud;
    l->epochs++;
    l->samples += e->samples_per_s * e->seconds;
    l->seconds += e->seconds;
}

static double median_of(double *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long parse_long(const char *opt, const char *s, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min) {
        fprintf(stderr, "bench_train: --%s: expected an integer >= %ld, got '%s'\n",
                opt, min, s);
        exit(2);
    }
    return v;
}

static int fail(const char *what, rg_status s)
{
    fprintf(stderr, "bench_train: %s: %s: %s\n", what, rg_status_str(s), rg_last_error());
    return s == RG_EUSAGE ? 2 : s == RG_EDATA || s == RG_EIO ? 3 : 1;
}

/* Sets one option, quitting with the library's message if it is refused. */
static rg_status set(rg_config *c, const char *name, const char *value)
{
    rg_status s = rg_config_set(c, name, value);
    if (s != RG_OK)
        fprintf(stderr, "bench_train: --%s %s: %s\n", name, value, rg_last_error());
    return s;
}

int main(int argc, char **argv)
{
    const char *model = "ref", *name = NULL, *data = "fashion-mnist", *gemm = "auto";
    long batch = 0, epochs = 1, limit = 0, runs = 1, threads = 1, seed = 1;
    const char *sets[16];
    int nsets = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *opt = a + 2, *v = argv[++i];
        if (strcmp(opt, "model") == 0) model = v;
        else if (strcmp(opt, "name") == 0) name = v;
        else if (strcmp(opt, "data") == 0) data = v;
        else if (strcmp(opt, "gemm") == 0) gemm = v;
        else if (strcmp(opt, "batch") == 0) batch = parse_long(opt, v, 1);
        else if (strcmp(opt, "epochs") == 0) epochs = parse_long(opt, v, 1);
        else if (strcmp(opt, "limit") == 0) limit = parse_long(opt, v, 0);
        else if (strcmp(opt, "runs") == 0) runs = parse_long(opt, v, 1);
        else if (strcmp(opt, "threads") == 0) threads = parse_long(opt, v, 1);
        else if (strcmp(opt, "seed") == 0) seed = parse_long(opt, v, 0);
        else if (strcmp(opt, "set") == 0 && strchr(v, '=') && nsets < 16) sets[nsets++] = v;
        else {
            fprintf(stderr, "bench_train: unknown option --%s\n", opt);
            usage(stderr);
            return 2;
        }
    }

    const char *spec = model;
    long preset_batch = 32;
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++)
        if (strcmp(model, presets[p].name) == 0) {
            spec = presets[p].spec;
            preset_batch = presets[p].batch;
            if (!name) name = presets[p].name;
        }
    if (!name) name = "custom";
    if (!batch) batch = preset_batch;

    rg_dataset *all = NULL, *train = NULL;
    rg_status s = rg_dataset_open(data, "train", NULL, &all);
    if (s != RG_OK) return fail(data, s);
    if (limit > 0 && (size_t)limit < rg_dataset_size(all)) {
        s = rg_dataset_slice(all, 0, (size_t)limit, &train);
        rg_dataset_free(all);
        if (s != RG_OK) return fail("--limit", s);
    } else {
        train = all;
    }
    size_t n = rg_dataset_size(train);

    rg_config c;
    rg_config_defaults(&c);
    char buf[32];
    s = set(&c, "model", spec);
    if (s == RG_OK) s = set(&c, "optimizer", "adam");
    if (s == RG_OK) s = set(&c, "lr", "0.001");
    if (s == RG_OK) s = set(&c, "val-split", "0");
    snprintf(buf, sizeof buf, "%ld", batch);
    if (s == RG_OK) s = set(&c, "batch", buf);
    snprintf(buf, sizeof buf, "%ld", epochs);
    if (s == RG_OK) s = set(&c, "epochs", buf);
    snprintf(buf, sizeof buf, "%ld", threads);
    if (s == RG_OK) s = set(&c, "threads", buf);
    snprintf(buf, sizeof buf, "%ld", seed);
    if (s == RG_OK) s = set(&c, "seed", buf);
    if (s == RG_OK) s = set(&c, "gemm", gemm);
    for (int i = 0; i < nsets && s == RG_OK; i++) {
        char key[64];
        size_t kl = (size_t)(strchr(sets[i], '=') - sets[i]);
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, sets[i], kl);
        key[kl] = '\0';
        s = set(&c, key, sets[i] + kl + 1);
    }
    if (s == RG_OK) s = rg_config_validate(&c);
    if (s != RG_OK) {
        rg_dataset_free(train);
        return fail("configuration", s);
    }
    rg_blas_set_threads((int)threads);

    /* per run: the training loop's rate, then the whole call's */
    double *rates = calloc(2 * (size_t)runs, sizeof *rates), *calls = rates + runs;
    if (!rates) {
        rg_dataset_free(train);
        return fail("runs", RG_ENOMEM);
    }
    int rc = 0;
    for (long k = 0; k < runs && rc == 0; k++) {
        rg_model *m = NULL;
        s = rg_model_create(spec, rg_dataset_features(train), (uint64_t)seed, &m);
        if (s != RG_OK) {
            rc = fail("model", s);
            break;
        }
        rg_train_result r;
        loop_clock loop = { 0, 0.0, 0.0 };
        rg_callbacks cb = { .epoch = on_epoch, .ud = &loop };
        double t0 = now_s(), c0 = cpu_s();
        s = rg_train_cb(&c, m, train, NULL, NULL, &cb, &r);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        rg_model_free(m);
        if (s != RG_OK) {
            rc = fail("rg_train", s);
            break;
        }
        /* A loop that skipped work would look fast: check it did every step
         * (a trainer may keep or drop the last short batch) and reported
         * every epoch. */
        uint64_t full = (uint64_t)(n / (size_t)batch) * (uint64_t)epochs;
        uint64_t ceil = (uint64_t)((n + (size_t)batch - 1) / (size_t)batch) * (uint64_t)epochs;
        if (r.epochs_run != epochs || r.steps < full || r.steps > ceil || loop.epochs != epochs ||
            !(loop.seconds > 0.0)) {
            fprintf(stderr, "bench_train: rg_train ran %d epochs (%d reported) and %llu steps, expected %ld and %llu\n",
                    r.epochs_run, loop.epochs, (unsigned long long)r.steps, epochs, (unsigned long long)ceil);
            rc = 1;
            break;
        }
        rates[k] = loop.samples / loop.seconds;
        calls[k] = (double)n * (double)epochs / dt;
        printf("regula %s run %ld samples/s %.0f peak_rss_mb %.1f cpu_samples/s %.0f call_samples/s %.0f\n", name,
               k + 1, rates[k], peak_rss_mb(), (double)n * (double)epochs / dc, calls[k]);
        fflush(stdout);
    }
    if (rc == 0)
        printf("regula %s median samples/s %.0f call_samples/s %.0f\n", name, median_of(rates, runs),
               median_of(calls, runs));
    free(rates);
    rg_dataset_free(train);
    return rc;
}
