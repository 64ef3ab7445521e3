/*
 * regula.c — the command-line front end: `regula train|eval|predict`,
 * and the dispatch to the commands beside it (plot.c, inspect.c, man.c).
 *
 * It turns argv into an rg_config (the option table in the library is the
 * one list of options, so --help, --config keys and parsing cannot drift
 * apart), opens the data, and calls the library.  It is the only place that
 * prints or picks an exit code; it uses nothing but the public header.
 *
 * Order of settings: defaults, then every --config FILE.json, then the other
 * command-line options in the order given, so the command line always wins
 * over the file whatever their order on the line.
 */
#include "regula.h"
#include "cli.h"
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    EXIT_OTHER = 1,     /* out of memory, internal */
    EXIT_USAGE = 2,     /* bad option, value, model spec or configuration */
    EXIT_DATA = 3,      /* data, checkpoint or file problem */
    EXIT_NONFINITE = 4, /* a loss or gradient became NaN/Inf */
    EXIT_COMM = 5       /* a peer failed */
};

static const char *const EXIT_HELP =
    "Exit status:\n"
    "  0  success\n"
    "  1  out of memory or another failure\n"
    "  2  usage or configuration error (bad option, value or model spec)\n"
    "  3  data, checkpoint or file error (missing, malformed or mismatched)\n"
    "  4  a loss, gradient, weight or model output became NaN or infinite (train\n"
    "     stops; eval and predict refuse a sample whose outputs are not finite)\n"
    "  5  communication error (a peer failed or timed out)\n";

static int exit_code(rg_status s)
{
    switch (s) {
    case RG_OK: return 0;
    case RG_EUSAGE: return EXIT_USAGE;
    case RG_EDATA:
    case RG_EIO: return EXIT_DATA;
    case RG_ENONFINITE: return EXIT_NONFINITE;
    case RG_ECOMM: return EXIT_COMM;
    case RG_ENOMEM: return EXIT_OTHER;
    }
    return EXIT_OTHER;
}

/* A library failure: its message already carries the context. */
static int fail(rg_status s)
{
    const char *msg = rg_last_error();
    fprintf(stderr, "regula: %s\n", *msg ? msg : rg_status_str(s));
    return exit_code(s);
}

/* A failure found by the front end itself. */
static int failf(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int failf(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------ options */

static int takes(const rg_option *o, const char *cmd)
{
    size_t n = strlen(cmd);
    for (const char *p = o->commands; (p = strstr(p, cmd)) != NULL; p += n)
        if ((p == o->commands || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* Option names match with '_' and '-' as the same character. */
static const rg_option *find_option(const char *name, size_t len)
{
    size_t n;
    const rg_option *o = rg_options(&n);
    for (size_t i = 0; i < n; i++) {
        const char *a = o[i].name;
        size_t k = 0;
        for (; k < len && a[k]; k++) {
            char x = name[k] == '_' ? '-' : name[k];
            if (x != a[k]) break;
        }
        if (k == len && !a[k]) return &o[i];
    }
    return NULL;
}

static void print_help(FILE *f, const char *cmd)
{
    const cli_command *about = cli_command_find(cmd);
    const char *what = about ? about->about : "";
    rg_config def;
    rg_config_defaults(&def);
    size_t n;
    const rg_option *o = rg_options(&n);
    fprintf(f, "Usage: regula %s [options]\n\n%s\n\nOptions (--name value or --name=value):\n", cmd, what);
    for (size_t i = 0; i < n; i++) {
        if (!takes(&o[i], cmd)) continue;
        char left[64], val[1100];
        snprintf(left, sizeof left, "--%s%s%s", o[i].name, o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
        rg_config_get(&def, o[i].name, val, sizeof val);
        fprintf(f, "  %-26s %s", left, o[i].help);
        if (o[i].arg && val[0]) fprintf(f, " (default: %s)", val);
        fputc('\n', f);
    }
    fprintf(f, "  %-26s %s\n\n%s", "--help", "show this help", EXIT_HELP);
}

static void print_usage(FILE *f)
{
    size_t n;
    const cli_command *cmds = cli_commands(&n);
    fprintf(f, "Usage: regula COMMAND [options]\n\nTrains neural networks with regularization.\n\nCommands:\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f,
            "\nRun 'regula COMMAND --help' for the options of a command.\n"
            "  --help     show this help\n"
            "  --version  show the version\n"
            "  --man      write the manual page regula(1) (roff) to standard output\n\n%s",
            EXIT_HELP);
}

typedef struct setting {
    const rg_option *opt;
    const char *value;   /* NULL for a flag */
} setting;

/* A configuration that fails its checks because of option `at` (an index
 * into rg_options(), -1 for none): when that option came from a --config
 * file and not from the command line, the message names the file. */
static int fail_where(rg_status st, int at, const setting *sets, size_t nsets)
{
    size_t n;
    const rg_option *opts = rg_options(&n);
    if (at < 0 || (size_t)at >= n) return fail(st);
    const rg_option *o = &opts[at];
    for (size_t k = 0; k < nsets; k++)
        if (sets[k].opt == o) return fail(st);   /* given on the command line */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rg_last_error());
    for (size_t k = nsets; k-- > 0;) {
        if (strcmp(sets[k].opt->name, "config")) continue;
        rg_config probe, dflt;
        char a[1100], b[1100];
        rg_config_defaults(&probe);
        rg_config_defaults(&dflt);
        if (rg_config_load_json(&probe, sets[k].value) != RG_OK) continue;
        rg_config_get(&probe, o->name, a, sizeof a);
        rg_config_get(&dflt, o->name, b, sizeof b);
        if (strcmp(a, b)) return failf(exit_code(st), "%s: key '%s': %s", sets[k].value, o->name, msg);
    }
    return fail(st);
}

/* Parses argv[first..] into the settings of command cmd: defaults, every
 * --config file, then the other options in order. */
static int parse_args(const char *cmd, int argc, char **argv, int first, rg_config *c)
{
    setting *sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets) return failf(EXIT_OTHER, "out of memory");
    size_t nsets = 0;
    int code = 0;

    for (int i = first; i < argc && !code; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            code = failf(EXIT_USAGE, "unexpected argument '%s' (options start with --; see 'regula %s --help')", a, cmd);
            break;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const rg_option *o = find_option(name, len);
        if (!o) {
            /* The library words the error, with a "did you mean". */
            rg_config scratch;
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s", (int)len, name);
            rg_config_defaults(&scratch);
            code = fail(rg_config_set(&scratch, buf, "0"));
            break;
        }
        if (!takes(o, cmd)) {
            code = failf(EXIT_USAGE, "--%s is not an option of '%s' (see 'regula %s --help')", o->name, cmd, cmd);
            break;
        }
        const char *value = NULL;
        if (!o->arg) {
            if (eq) {
                code = failf(EXIT_USAGE, "--%s is a flag and takes no value", o->name);
                break;
            }
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            /* "--save --no-shuffle": the next word is an option, not a value
             * (no value of ours starts with "--"; use --save=--x for a file
             * that does) */
            value = argv[++i];
        } else {
            code = failf(EXIT_USAGE, "--%s needs a value (%s)", o->name, o->arg);
            break;
        }
        sets[nsets].opt = o;
        sets[nsets].value = value;
        nsets++;
    }

    rg_config_defaults(c);
    /* Two passes: the files first, so that the command line wins. */
    for (size_t k = 0; k < nsets && !code; k++)
        if (!strcmp(sets[k].opt->name, "config")) {
            rg_status st = rg_config_load_json(c, sets[k].value);
            if (st) code = fail(st);
        }
    for (size_t k = 0; k < nsets && !code; k++)
        if (strcmp(sets[k].opt->name, "config") != 0) {
            rg_status st = rg_config_set(c, sets[k].opt->name, sets[k].value);
            if (st) code = fail(st);
        }
    if (!code) {
        int at = -1;
        rg_status st = rg_config_check(c, &at);
        if (st) code = fail_where(st, at, sets, nsets);
    }
    free(sets);
    return code;
}

/* ------------------------------------------------------------ progress bar */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct progress {
    long epochs;
    int epoch;
    size_t done0;       /* samples done at the epoch's first callback */
    double t0, last_draw;
} progress;

/* Redrawn with \r at most ten times a second; ends its line at epoch end. */
static void on_progress(int epoch, size_t done, size_t total, double loss, void *ud)
{
    progress *p = ud;
    double t = now_s();
    if (epoch != p->epoch) {
        /* Rates count from the first callback: the epoch's start is not
         * reported, and the first batch includes warm-up costs anyway. */
        p->epoch = epoch;
        p->t0 = p->last_draw = t;
        p->done0 = done;
    }
    int end = done >= total;
    if (!end && t - p->last_draw < 0.1) return;
    p->last_draw = t;

    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    size_t fill = total ? (size_t)((double)WIDTH * (double)done / (double)total) : WIDTH;
    if (fill > WIDTH) fill = WIDTH;
    for (size_t i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : ' ';
    if (fill < WIDTH && fill > 0) bar[fill - 1] = '>';
    bar[WIDTH] = 0;
    double dt = t - p->t0, rate = dt > 0 ? (double)(done - p->done0) / dt : 0;
    long eta = rate > 0 ? (long)((double)(total - (done < total ? done : total)) / rate + 0.5) : 0;
    fprintf(stderr, "\repoch %d/%ld [%s] %zu/%zu  %.0f samples/s  loss %.4f  ", epoch, p->epochs, bar,
            done, total, rate, loss);
    /* \033[K clears what a longer previous line left behind. */
    if (end) fprintf(stderr, "%.1fs\033[K\n", dt);
    else fprintf(stderr, "ETA %ld:%02ld:%02ld\033[K", eta / 3600, eta / 60 % 60, eta % 60);
    fflush(stderr);
}

/* ------------------------------------------------------------ commands */

static rg_data_opts data_opts(const rg_config *c)
{
    rg_data_opts o = {c->label_column, c->header, c->scale};
    return o;
}

static int is_csv(const char *source) { return strncmp(source, "csv:", 4) == 0; }

/* A test source: the test split of an IDX source, the whole of a csv. */
static rg_status open_test_source(const char *source, const rg_config *c, rg_dataset **out)
{
    rg_data_opts o = data_opts(c);
    return rg_dataset_open(source, is_csv(source) ? "train" : "test", &o, out);
}

/* Checks that a labelled set fits the model: features and label range. */
static int check_fits(const rg_dataset *ds, const rg_model *m)
{
    if (!ds) return 0;
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return failf(EXIT_DATA, "%s: samples have %zu feature%s but the model takes %zu input%s",
                     rg_dataset_name(ds), rg_dataset_features(ds), rg_dataset_features(ds) == 1 ? "" : "s",
                     rg_model_inputs(m), rg_model_inputs(m) == 1 ? "" : "s");
    int classes = rg_dataset_classes(ds);
    if (classes > 0 && (size_t)classes > rg_model_outputs(m))
        return failf(EXIT_DATA, "%s: labels go up to %d but the model has %zu outputs",
                     rg_dataset_name(ds), classes - 1, rg_model_outputs(m));
    return 0;
}

static int cmd_train(const rg_config *c)
{
    rg_dataset *all = NULL, *train = NULL, *val = NULL, *test = NULL, *tmp = NULL;
    rg_model *m = NULL;
    rg_status st;
    int code = 0, reached = 0;   /* reached: rg_train was called */
    rg_data_opts opts = data_opts(c);

    rg_blas_set_threads(c->threads);
    if ((st = rg_dataset_open(c->data, "train", &opts, &all))) goto lib_fail;
    if (c->test_data[0]) {
        if ((st = open_test_source(c->test_data, c, &test))) goto lib_fail;
    } else if (!is_csv(c->data)) {
        if ((st = rg_dataset_open(c->data, "test", &opts, &test))) goto lib_fail;
    }

    size_t n = rg_dataset_size(all);
    if (c->limit > 0 && (size_t)c->limit < n) {
        if ((st = rg_dataset_slice(all, 0, (size_t)c->limit, &tmp))) goto lib_fail;
        rg_dataset_free(all);
        all = tmp;
        tmp = NULL;
        n = (size_t)c->limit;
    }
    if (c->val_split > 0) {
        /* Keras' validation_split: the last fraction, taken before shuffling. */
        size_t n_train = (size_t)((double)n * (1.0 - c->val_split));
        if (n_train == 0 || n_train >= n) {
            code = failf(EXIT_USAGE, "--val-split %g of %zu samples leaves %s empty", c->val_split, n,
                         n_train == 0 ? "the training set" : "the validation set");
            goto out;
        }
        if ((st = rg_dataset_slice(all, 0, n_train, &train))) goto lib_fail;
        if ((st = rg_dataset_slice(all, n_train, n - n_train, &val))) goto lib_fail;
        rg_dataset_free(all);
        all = NULL;
    } else {
        train = all;
        all = NULL;
    }
    if (c->early_stop > 0 && !val && !test) {
        code = failf(EXIT_USAGE, "--early-stop needs a validation set: give --val-split or --test-data");
        goto out;
    }

    if ((st = rg_model_create(c->model, rg_dataset_features(train), c->seed, &m))) goto lib_fail;
    if (c->init[0] && (st = rg_model_load_weights(m, c->init))) goto lib_fail;
    if ((code = check_fits(train, m)) || (code = check_fits(val, m)) || (code = check_fits(test, m)))
        goto out;

    if (c->early_stop > 0 && !val && rg_dist_rank() == 0)
        /* Keras' example does this too; say so, once: the test figures then
         * are not independent of the choice of model */
        fprintf(stderr, "regula: note: --early-stop without --val-split watches the test set, so the test figures "
                        "helped choose the model (give --val-split for a held-out validation set)\n");
    progress bar = {c->epochs, 0, 0, 0, 0};
    rg_train_result r;
    memset(&r, 0, sizeof r);
    int lead = rg_dist_rank() == 0;   /* under MPI only rank 0 talks */
    reached = 1;
    st = rg_train(c, m, train, val ? val : test, test, lead && isatty(STDERR_FILENO) ? on_progress : NULL, &bar, &r);
    if (st) {
        /* shared failures (a non-finite loss, a peer's failure) are reported
         * by rank 0 alone; a failure of this process's own by itself */
        if (!lead && (st == RG_ENONFINITE || st == RG_ECOMM)) { code = exit_code(st); goto out; }
        goto lib_fail;
    }
    if (!lead) goto out;

    if (test) printf("test_loss %.4f  test_acc %.4f  ", r.test_loss, r.test_acc);
    printf("epochs %d", r.epochs_run);
    if (c->early_stop > 0)
        printf("  (best epoch %d%s)", r.best_epoch, r.stopped_early ? ", stopped early" : "");
    printf("\n");
    goto out;

lib_fail:
    code = fail(st);
out:
    /* failed before training while the other processes went on: they wait
     * in rg_train's first agreement for this one */
    if (code && !reached) rg_dist_agree(RG_EDATA);
    rg_model_free(m);
    rg_dataset_free(all);
    rg_dataset_free(train);
    rg_dataset_free(val);
    rg_dataset_free(test);
    rg_dataset_free(tmp);
    return code;
}

static int cmd_eval(const rg_config *c)
{
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    rg_status st;
    int code = 0;

    rg_blas_set_threads(c->threads);
    if (!c->load[0]) return failf(EXIT_USAGE, "eval needs --load FILE (a checkpoint written by train --save)");
    if ((st = rg_model_load(c->load, &m))) goto lib_fail;
    if (c->test_data[0]) st = open_test_source(c->test_data, c, &ds);
    else st = open_test_source(c->data, c, &ds);
    if (st) goto lib_fail;
    if (!rg_dataset_y(ds)) {
        code = failf(EXIT_DATA, "%s: has no labels to evaluate against", rg_dataset_name(ds));
        goto out;
    }
    if ((code = check_fits(ds, m))) goto out;
    double loss, acc;
    if ((st = rg_evaluate(m, ds, (size_t)c->batch, &loss, &acc))) goto lib_fail;
    printf("test_loss %.4f  test_acc %.4f\n", loss, acc);
    goto out;

lib_fail:
    code = fail(st);
out:
    rg_dataset_free(ds);
    rg_model_free(m);
    return code;
}

static int cmd_predict(const rg_config *c)
{
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    int32_t *classes = NULL;
    rg_status st;
    int code = 0;

    rg_blas_set_threads(c->threads);
    if (!c->load[0]) return failf(EXIT_USAGE, "predict needs --load FILE (a checkpoint written by train --save)");
    if (!c->input[0]) return failf(EXIT_USAGE, "predict needs --input FILE (IDX images or csv:FILE)");
    if ((st = rg_model_load(c->load, &m))) goto lib_fail;
    if (is_csv(c->input)) {
        /* Samples to classify carry no label: every column is a feature. */
        rg_data_opts o = data_opts(c);
        o.label_column = -2;
        st = rg_dataset_load_csv(c->input + 4, &o, &ds);
    } else {
        const char *path = strncmp(c->input, "idx:", 4) == 0 ? c->input + 4 : c->input;
        st = rg_dataset_load_idx(path, NULL, c->scale, &ds);
        size_t len = strlen(path);
        if (st == RG_EDATA && len > 4 && !strcmp(path + len - 4, ".csv")) {
            code = failf(EXIT_DATA, "%s\n(for a CSV file write --input csv:%s)", rg_last_error(), path);
            goto out;
        }
    }
    if (st) goto lib_fail;
    if (rg_dataset_features(ds) != rg_model_inputs(m)) {
        code = failf(EXIT_DATA, "%s: samples have %zu feature%s but the model takes %zu input%s%s",
                     rg_dataset_name(ds), rg_dataset_features(ds), rg_dataset_features(ds) == 1 ? "" : "s",
                     rg_model_inputs(m), rg_model_inputs(m) == 1 ? "" : "s",
                     is_csv(c->input) && rg_dataset_features(ds) == rg_model_inputs(m) + 1
                         ? " (predict reads every CSV column as a feature: drop the label column)" : "");
        goto out;
    }
    size_t n = rg_dataset_size(ds);
    classes = malloc((n ? n : 1) * sizeof *classes);
    if (!classes) {
        code = failf(EXIT_OTHER, "out of memory for %zu predictions", n);
        goto out;
    }
    if ((st = rg_predict(m, ds, (size_t)c->batch, classes))) goto lib_fail;
    for (size_t i = 0; i < n; i++) printf("%d\n", (int)classes[i]);
    goto out;

lib_fail:
    code = fail(st);
out:
    free(classes);
    rg_dataset_free(ds);
    rg_model_free(m);
    return code;
}

static void log_to_stderr(const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "regula: %s\n", msg);
}

/* Test hooks (the kill and slow-disk tests), from the environment:
 * RG_TEST_CRASH="POINT:N[@RANK]": the N-th time this process (of MPI rank
 * RANK, if given) passes POINT of the library's test hook, it kills itself
 * with SIGKILL, as `kill -9` would.  RG_TEST_SLOW="POINT:SECONDS[@RANK]":
 * each time it passes POINT it sleeps that long (a slow disk, at
 * "ckpt-write"). */
static struct test_spec {
    char crash[32], slow[32];
    long n;
    double secs;
    atomic_long seen;
} g_test;

static void test_hook(const char *point, void *ud)
{
    (void)ud;
    if (!strcmp(point, g_test.slow)) {
        struct timespec ts = { (time_t)g_test.secs, (long)((g_test.secs - (double)(time_t)g_test.secs) * 1e9) };
        nanosleep(&ts, NULL);
    }
    if (!strcmp(point, g_test.crash) && atomic_fetch_add(&g_test.seen, 1) + 1 == g_test.n) raise(SIGKILL);
}

static void install_test_hook(void)
{
    const char *spec = getenv("RG_TEST_CRASH");
    int rank = -1, on = 0;
    if (spec && sscanf(spec, "%31[^:]:%ld@%d", g_test.crash, &g_test.n, &rank) >= 2 &&
        (rank < 0 || rank == rg_dist_rank()))
        on = 1;
    else
        g_test.crash[0] = 0;
    rank = -1;
    spec = getenv("RG_TEST_SLOW");
    if (spec && sscanf(spec, "%31[^:]:%lf@%d", g_test.slow, &g_test.secs, &rank) >= 2 &&
        (rank < 0 || rank == rg_dist_rank()))
        on = 1;
    else
        g_test.slow[0] = 0;
    if (on) rg_set_test_hook(test_hook, NULL);
}

int main(int argc, char **argv)
{
    rg_set_log(log_to_stderr, NULL);
    if (argc < 2) {
        failf(EXIT_USAGE, "missing command (train, eval, predict, plot or inspect)\n");
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        const cli_command *about = argc > 2 ? cli_command_find(argv[2]) : NULL;
        if (about && about->run)
            cli_print_help(stdout, about);
        else if (about)
            print_help(stdout, argv[2]);
        else
            print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("regula %s (checkpoint format %s, BLAS: %s)\n", RG_VERSION, RG_CHECKPOINT_FORMAT, rg_blas_name());
        return 0;
    }
    if (!strcmp(cmd, "--man")) return cli_man(stdout, EXIT_HELP);
    const cli_command *other = cli_command_find(cmd);
    if (other && other->run) return cli_run(other, argc - 1, argv + 1);
    int (*run)(const rg_config *) = NULL;
    if (!strcmp(cmd, "train")) run = cmd_train;
    else if (!strcmp(cmd, "eval")) run = cmd_eval;
    else if (!strcmp(cmd, "predict")) run = cmd_predict;
    else return failf(EXIT_USAGE, "unknown command '%s' (expected train, eval, predict, plot or inspect; see 'regula --help')", cmd);

    /* --help anywhere wins over everything else on the line. */
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(stdout, cmd);
            return 0;
        }

    rg_config c;
    int code = parse_args(cmd, argc, argv, 2, &c);
    if (code) return code;
    /* under mpirun: MPI, and a world of processes x --workers threads */
    rg_status st = run == cmd_train ? rg_dist_init(&argc, &argv) : RG_OK;
    if (st != RG_OK) return fail(st);
    rg_dist_set_timeout(c.comm_timeout);
    install_test_hook();
    code = run(&c);
    rg_dist_finalize();
    if (fflush(stdout) != 0 && !code) code = failf(EXIT_DATA, "cannot write to standard output");
    return code;
}
