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
 *
 * What train says: the results on stdout (one line, the final model's
 * figures), progress (progress.c), warnings, notes and a summary on
 * stderr.  Under mpirun the process that says a thing is chosen: rank 0
 * for what the command line decides and what every process shares, the
 * process at fault for what is its own (agree_set_up).
 */
#include "regula.h"
#include "cli.h"
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    EXIT_OTHER = 1,     /* out of memory, internal */
    EXIT_USAGE = 2,     /* bad option, value, model spec or configuration */
    EXIT_DATA = 3,      /* data, checkpoint or file problem */
    EXIT_NONFINITE = 4, /* a loss or gradient became NaN/Inf */
    EXIT_COMM = 5       /* a peer failed */
};

/* The exit codes each command can return: regula --help and the man page
 * list them all; train's and eval/predict's --help only their own. */
#define EXIT_COMMON                                                              \
    "Exit status:\n"                                                             \
    "  0  success\n"                                                             \
    "  1  out of memory or another failure\n"                                    \
    "  2  usage or configuration error (bad option, value or model spec)\n"      \
    "  3  data, checkpoint or file error (missing, malformed or mismatched)\n"
static const char *const EXIT_HELP = EXIT_COMMON
    "  4  train: a loss, gradient or weight became NaN or infinite, or a figure of\n"
    "     the final model did (nothing is saved); eval, predict: a sample's outputs\n"
    "     are not finite (the model or the input overflows a float)\n"
    "  5  train under mpirun: communication error (a peer failed or timed out)\n";
static const char *const EXIT_TRAIN = EXIT_COMMON
    "  4  a loss, gradient or weight became NaN or infinite (training stops), or a\n"
    "     figure of the final model did (nothing is saved)\n"
    "  5  under mpirun: communication error (a peer failed or timed out)\n";
static const char *const EXIT_EVAL = EXIT_COMMON
    "  4  a sample's outputs are not finite (NaN or infinite): the model or the\n"
    "     input overflows a float\n";

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
    return cli_error(exit_code(s), "%s", *msg ? msg : rg_status_str(s));
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
        char left[64], val[1100], shortname[8] = "";
        if (cli_short_of(o[i].name)) snprintf(shortname, sizeof shortname, "-%c, ", cli_short_of(o[i].name));
        snprintf(left, sizeof left, "%s--%s%s%s", shortname, o[i].name, o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
        rg_config_get(&def, o[i].name, val, sizeof val);
        char note[1200];
        const char *d = cli_default_note(&o[i], val, note, sizeof note);
        fprintf(f, "  %-26s %s%s%.*s\n", left, o[i].help, d[0] ? " " : "", d[0] ? (int)strlen(d) - 1 : 0, d);
    }
    int trains = !strcmp(cmd, "train") || !strcmp(cmd, "fed");
    fprintf(f, "  %-26s %s\n\n%s", "-h, --help", "show this help", trains ? EXIT_TRAIN : EXIT_EVAL);
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

/* What a user of another tool meant by an option that belongs to another
 * of regula's commands. */
static const char *other_command_hint(const char *cmd, const char *name)
{
    if (!strcmp(cmd, "fed") && !strcmp(name, "epochs"))
        return "a federated run counts rounds: give --rounds R; each client's own passes are --local-epochs";
    if (!strcmp(cmd, "fed") && !strcmp(name, "checkpoint-every"))
        return "a round's steps depend on how the clients are dealt to workers: checkpoint at each round's end with "
               "--checkpoint-every-epoch";
    if (!strcmp(cmd, "fed")) return "see 'regula fed --help'";
    const rg_option *o = find_option(name, strlen(name));
    if (!strcmp(cmd, "train") && o && takes(o, "fed"))
        return "a federated setting: train fits one model on all the data; run regula fed for clients and rounds";
    if (!strcmp(cmd, "train") && !strcmp(name, "load"))
        return "to start from a checkpoint's weights give --init FILE; to continue an interrupted run, --resume DIR";
    if (strcmp(cmd, "train") && !strcmp(name, "init")) return "give the checkpoint to use with --load FILE";
    if (!strcmp(cmd, "predict") && !strcmp(name, "data")) return "predict reads its samples from --input";
    if (!strcmp(cmd, "eval") && !strcmp(name, "input")) return "eval reads labelled samples from --data or --test-data";
    return !strcmp(cmd, "train") ? "see 'regula train --help'" : !strcmp(cmd, "eval") ? "see 'regula eval --help'"
                                                                  : "see 'regula predict --help'";
}

/* A --config file holds train's and fed's keys alike (it is their
 * settings), so the check of the command line's options is made again on
 * the keys the file sets to other than their defaults: under train, a
 * fed key ("clients") would turn the run federated, and under fed a train
 * key ("epochs") would be ignored.  eval and predict take a training
 * run's file for its data and model, and skip the rest. */
static int check_config_keys(const char *cmd, const char *file)
{
    if (strcmp(cmd, "train") && strcmp(cmd, "fed")) return 0;
    size_t n;
    const rg_option *opts = rg_options(&n);
    rg_config probe, dflt;
    rg_config_defaults(&probe);
    rg_config_defaults(&dflt);
    if (rg_config_load_json(&probe, file) != RG_OK) return fail(RG_EUSAGE);
    for (size_t i = 0; i < n; i++) {
        char a[1100], b[1100];
        if (takes(&opts[i], cmd) || !strcmp(opts[i].name, "config")) continue;
        rg_config_get(&probe, opts[i].name, a, sizeof a);
        rg_config_get(&dflt, opts[i].name, b, sizeof b);
        if (strcmp(a, b))
            return failf(EXIT_USAGE, "%s: key '%s' is not an option of '%s' (%s)", file, opts[i].name, cmd,
                         other_command_hint(cmd, opts[i].name));
    }
    return 0;
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
        const char *a = argv[i], *alias = cli_long_of(a);
        char as_long[64];
        if (alias) {   /* -q is --quiet */
            snprintf(as_long, sizeof as_long, "--%s", alias);
            a = as_long;
        }
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
            code = failf(EXIT_USAGE, "--%s is not an option of '%s' (%s)", o->name, cmd, other_command_hint(cmd, o->name));
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
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && !cli_long_of(argv[i + 1])) {
            /* "--save --no-shuffle", "--save -q": the next word is an option,
             * not a value (no value of ours starts with "--" or is -q or -v;
             * use --save=--x for a file that does) */
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
            code = st ? fail(st) : check_config_keys(cmd, sets[k].value);
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

/* ------------------------------------------------------------ commands */

static int is_csv(const char *source) { return strncmp(source, "csv:", 4) == 0; }
static int is_stdin(const char *source) { return !strcmp(source, "csv:-"); }

/* Standard input can be read once, and under mpirun by one process only. */
static int check_stdin(const rg_config *c)
{
    if (is_stdin(c->data) && is_stdin(c->test_data))
        return failf(EXIT_USAGE, "--data and --test-data both read standard input (csv:-); give one of them a file");
    if ((is_stdin(c->data) || is_stdin(c->test_data)) && rg_dist_size() > 1)
        return rg_dist_rank() ? EXIT_USAGE
                              : failf(EXIT_USAGE, "csv:- (standard input) reaches one process only under mpirun; "
                                      "give every process the file");
    return 0;
}

/* The class names of a dataset (ds) or else a model (m), in class order,
 * as an array to free(); NULL (and *n 0) when its classes are numbers. */
static const char **names_of(const rg_dataset *ds, const rg_model *m, int *n)
{
    *n = 0;
    int k = ds ? rg_dataset_classes(ds) : (int)rg_model_classes(m);
    if (k <= 0 || !(ds ? rg_dataset_class_name(ds, 0) : rg_model_class_name(m, 0))) return NULL;
    const char **names = malloc((size_t)k * sizeof *names);
    if (!names) return NULL;
    for (int i = 0; i < k; i++) names[i] = ds ? rg_dataset_class_name(ds, i) : rg_model_class_name(m, i);
    *n = k;
    return names;
}

/* A labelled set: the test split of an IDX source, or the whole of a csv
 * read with the options of `which` ("train": --header, --label-column;
 * "test": --test-header, --test-label-column), its labels the class names
 * `names` (n of them) when given, or regression targets when --loss or
 * `targets` (eval: the model's loss) says so. */
static rg_status open_labelled(const char *source, const rg_config *c, const char *which,
                               const char *const *names, int n, int targets, rg_dataset **out)
{
    rg_data_opts o = rg_config_data_opts(c, which);
    o.classes = names;
    o.n_classes = n;
    o.targets |= targets;
    return rg_dataset_open(source, is_csv(source) ? "train" : "test", &o, out);
}

/* "cat, dog, emu" or "cat, dog, ... (12)": a dataset's first class names. */
static const char *name_list(const rg_dataset *ds, char *buf, size_t cap)
{
    size_t len = 0;
    int k = rg_dataset_classes(ds);
    buf[0] = 0;
    for (int i = 0; i < k && i < 4 && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", rg_dataset_class_name(ds, i));
    if (k > 4 && len < cap) snprintf(buf + len, cap - len, ", ... (%d)", k);
    return buf;
}

/* Checks that a labelled set fits the model: its features, and its classes
 * against the model's outputs (names, when the labels are names, must be
 * as many as the outputs; numbers must be fewer than the outputs).
 * names_ok: whether the model is (or will be) one of named classes. */
static int check_fits(const rg_dataset *ds, const rg_model *m, int names_ok)
{
    if (!ds) return 0;
    if (rg_dataset_features(ds) != rg_model_inputs(m))
        return failf(EXIT_DATA, "%s: samples have %zu feature%s but the model takes %zu input%s",
                     rg_dataset_name(ds), rg_dataset_features(ds), rg_dataset_features(ds) == 1 ? "" : "s",
                     rg_model_inputs(m), rg_model_inputs(m) == 1 ? "" : "s");
    if (rg_model_classes(m) == 0)   /* regression: rg_dataset_targets (the loader reads them as numbers) */
        return rg_dataset_targets(ds) ? 0 : failf(EXIT_DATA, "%s: has no numeric targets (the model is a regression, "
                                                  "--loss %s)", rg_dataset_name(ds), rg_loss_name(rg_model_loss(m)));
    int classes = rg_dataset_classes(ds), named = rg_dataset_class_name(ds, 0) != NULL;
    char list[256];
    if (named && !names_ok)
        return failf(EXIT_DATA, "%s: the labels are names (%s), but the model's classes are numbers "
                     "(it was trained on numeric labels)", rg_dataset_name(ds), name_list(ds, list, sizeof list));
    if (classes > 2 && rg_model_loss(m) == RG_LOSS_BCE)
        return failf(EXIT_DATA, "%s: labels go up to %d but binary cross-entropy (--loss bce, a last layer "
                     "dense(1, sigmoid)) takes 0 and 1", rg_dataset_name(ds), classes - 1);
    if (named && (size_t)classes != rg_model_classes(m))
        return failf(EXIT_DATA, "%s: %d classes (%s) but the model has %zu outputs: end --model with "
                     "dense(%d, softmax) for %d classes, or dense(auto, softmax)", rg_dataset_name(ds), classes,
                     name_list(ds, list, sizeof list), rg_model_outputs(m), classes, classes);
    if (classes > 0 && (size_t)classes > rg_model_classes(m))
        return failf(EXIT_DATA, "%s: labels go up to %d but the model has %zu outputs: end --model with "
                     "dense(%d, softmax) for %d classes, or dense(auto, softmax)", rg_dataset_name(ds),
                     classes - 1, rg_model_outputs(m), classes, classes);
    return 0;
}

/* ------------------------------------------------------------ train */

/* What a train command trains on and what it trains. */
typedef struct sets {
    rg_dataset *train, *val, *test;
    rg_model *m;
    float *moments;   /* --standardize: mean[d] then std[d] of the training set */
} sets;

static void sets_free(sets *s)
{
    rg_model_free(s->m);
    free(s->moments);
    rg_dataset_free(s->train);
    rg_dataset_free(s->val);
    rg_dataset_free(s->test);
    memset(s, 0, sizeof *s);
}

/* An idx:DIR source holds a test split (t10k-images-idx3-ubyte[.gz]);
 * fashion-mnist always does. */
static int has_test_split(const char *source)
{
    if (strncmp(source, "idx:", 4) != 0) return 1;
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", source + 4);
    if (stat(path, &sb) == 0) return 1;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", source + 4);
    return stat(path, &sb) == 0;
}

/* The test set: --test-data, else --data's test split.  A csv has none;
 * idx:DIR beside --val-split need not have one (validation is held out).
 * Its labels are the training set's class names (n), when it has some. */
static int open_test(const rg_config *c, sets *s, const char *const *names, int n)
{
    rg_status st = RG_OK;
    if (c->test_data[0]) st = open_labelled(c->test_data, c, "test", names, n, 0, &s->test);
    else if (is_csv(c->data) || (c->val_split > 0 && !has_test_split(c->data))) return 0;
    else st = open_labelled(c->data, c, "train", NULL, 0, 0, &s->test);
    if (st == RG_EIO && !c->test_data[0] && c->val_split == 0)
        return failf(EXIT_DATA, "%s (--data's test split: the test set, validated on too; give --val-split FRACTION "
                     "to validate on part of the training data instead, or --test-data SOURCE)", rg_last_error());
    return st ? fail(st) : 0;
}

/* --limit (the first N), then --val-split (shuffled and stratified by the
 * seed: rg_dataset_split) of `all` (taken) into s->train and s->val. */
static int split(const rg_config *c, rg_dataset *all, sets *s)
{
    rg_status st = RG_OK;
    size_t n = rg_dataset_size(all);
    if (c->limit > 0 && (size_t)c->limit < n) {
        rg_dataset *part = NULL;
        st = rg_dataset_slice(all, 0, (size_t)c->limit, &part);
        rg_dataset_free(all);
        if (st) return fail(st);
        all = part;
        n = (size_t)c->limit;
    }
    if (c->val_split <= 0) {
        s->train = all;
        return 0;
    }
    size_t n_train = (size_t)((double)n * (1.0 - c->val_split));
    int code = 0;
    if (n_train == 0 || n_train >= n)
        code = failf(EXIT_USAGE, "--val-split %g of %zu samples leaves %s empty", c->val_split, n,
                     n_train == 0 ? "the training set" : "the validation set");
    else if ((st = rg_dataset_split(all, n - n_train, c->seed, &s->train, &s->val)))
        code = fail(st);
    rg_dataset_free(all);
    return code;
}

/* --standardize: the training set's moments, applied to every set. */
static int standardize(const rg_config *c, sets *s)
{
    if (!c->standardize) return 0;
    size_t d = rg_dataset_features(s->train);
    float *mean = malloc(2 * d * sizeof *mean);
    if (!mean) return failf(EXIT_OTHER, "out of memory for the moments of %zu features", d);
    rg_status st = rg_dataset_moments(s->train, mean, mean + d);
    rg_dataset *all[3] = { s->train, s->val, s->test };
    for (int k = 0; k < 3 && !st; k++)
        if (all[k] && rg_dataset_features(all[k]) == d) st = rg_dataset_standardize(all[k], mean, mean + d);
    free(s->moments);
    s->moments = mean;
    return st ? fail(st) : 0;
}

/* Whether the activation after "auto" (at a, in "dense(auto, ACT ...") is
 * sigmoid. */
static int auto_is_sigmoid(const char *a)
{
    while (*a == ' ' || *a == '\t') a++;
    if (*a++ != ',') return 0;
    while (*a == ' ' || *a == '\t') a++;
    return !strncmp(a, "sigmoid", 7) && a[7] && strchr(" \t,)", a[7]);
}

/* --model with dense(auto, ...) as its last layer: the spec with the
 * outputs for auto, into buf: the number of classes (k), one for two
 * classes and a sigmoid (binary cross-entropy), one for a regression
 * (k < 0).  Another layer's auto is left for the model's parser to refuse. */
static int resolve_auto(const char *spec, int k, char *buf, size_t cap)
{
    const char *last = NULL;
    for (const char *p = spec; (p = strstr(p, "dense(")) != NULL; p += 6) last = p;
    const char *u = last ? last + 6 : NULL;
    while (u && (*u == ' ' || *u == '\t')) u++;
    int is_auto = u && !strncmp(u, "auto", 4) && u[4] && strchr(" \t,)", u[4]);
    if (!is_auto) {
        snprintf(buf, cap, "%s", spec);
        return 0;
    }
    if (k == 0) return failf(EXIT_USAGE, "--model: dense(auto) takes its width from the classes, and the data has no labels");
    if (k > 2 && auto_is_sigmoid(u + 4))
        return failf(EXIT_USAGE, "--model: dense(auto, sigmoid) is one output for two classes (binary cross-entropy), "
                     "and the data has %d: end --model with dense(auto, softmax)", k);
    if (k < 0 || auto_is_sigmoid(u + 4)) k = 1;
    if ((size_t)snprintf(buf, cap, "%.*s%d%s", (int)(u - spec), spec, k, u + 4) >= cap)
        return failf(EXIT_USAGE, "--model: too long");
    return 0;
}

/* The model of a train command, fitted to its data: classes, the names of
 * the training set's classes (names, n) and its standardisation. */
static int make_model(const rg_config *c, sets *s, const char *const *names, int n)
{
    rg_status st;
    int code, named = names != NULL;
    size_t d = rg_dataset_features(s->train);
    char spec[sizeof c->model + 16];
    int k = rg_dataset_targets(s->train) ? -1 : rg_dataset_classes(s->train);
    if ((code = resolve_auto(c->model, k, spec, sizeof spec))) return code;
    if ((st = rg_model_create(spec, d, c->seed, &s->m))) return fail(st);
    if (c->init[0] && (st = rg_model_load_weights(s->m, c->init))) return fail(st);
    /* --loss before the labels are checked: bce takes 2 classes on 1 output */
    for (int l = RG_LOSS_XENT; l <= RG_LOSS_MAE; l++)
        if (!strcmp(c->loss, rg_loss_name((rg_loss)l)) && (st = rg_model_set_loss(s->m, (rg_loss)l))) return fail(st);
    if ((code = check_fits(s->train, s->m, named)) || (code = check_fits(s->val, s->m, named)) ||
        (code = check_fits(s->test, s->m, named)))
        return code;
    if (named && (st = rg_model_set_classes(s->m, names, n))) return fail(st);
    if (s->moments && (st = rg_model_set_standardize(s->m, s->moments, s->moments + d))) return fail(st);
    return 0;
}

/* The data and the model of a train command.  Errors go through failf and
 * fail (which may be holding them: see agree_set_up). */
static int load_sets(const rg_config *c, sets *s)
{
    rg_dataset *all = NULL;
    rg_data_opts opts = rg_config_data_opts(c, "train");
    rg_status st;
    int code, n;
    if ((st = rg_dataset_open(c->data, "train", &opts, &all))) return fail(st);
    const char **names = names_of(all, NULL, &n);
    if (rg_dataset_class_name(all, 0) && !names) code = failf(EXIT_OTHER, "out of memory");
    else code = open_test(c, s, names, n);
    if (!code) {
        code = split(c, all, s);   /* split takes `all` whatever happens */
        all = NULL;
    }
    if (code) {
        rg_dataset_free(all);
        free(names);
        return code;
    }
    free(names);   /* they pointed into `all`, which split took */
    names = names_of(s->train, NULL, &n);
    if (c->early_stop > 0 && !s->val && !s->test) code = failf(EXIT_USAGE, "--early-stop needs a validation set: give --val-split or --test-data");
    else if (rg_dataset_class_name(s->train, 0) && !names) code = failf(EXIT_OTHER, "out of memory");
    else if ((code = standardize(c, s)) == 0) code = make_model(c, s, names, n);
    free(names);
    return code;
}

/* Under mpirun every process loads the data itself, and all learn whether
 * any failed (one all-reduce; nothing more when none did).  A failure is
 * said once: by rank 0 when it failed too (the same data and options give
 * the others the same message, held and dropped), else by each process
 * that failed, rank 0 saying which. */
static int agree_set_up(int code)
{
    if (rg_dist_size() == 1) {
        cli_release();
        return code;
    }
    int rank = rg_dist_rank();
    if (rg_dist_agree(code ? RG_EDATA : RG_OK) == RG_OK) {
        cli_release();
        return 0;
    }
    char why[1024];
    snprintf(why, sizeof why, "%s", rg_last_error());
    /* a second agreement: did rank 0 fail? */
    int zero_failed = rg_dist_agree(rank == 0 && code ? RG_EDATA : RG_OK) != RG_OK;
    if (code) {
        if (rank == 0 || !zero_failed) cli_release();
        else cli_hold(0);
        return code;
    }
    cli_hold(0);
    if (rank == 0 && !zero_failed) cli_error(EXIT_COMM, "%s", why);
    return EXIT_COMM;
}

static void warn_noops(const rg_config *c)
{
    char *lines = rg_config_noops(c, rg_dist_size());
    for (char *p = lines, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) break;
        cli_warn("%.*s", (int)(nl - p), p);
    }
    free(lines);
}

/* -v: what the run is, before it starts. */
static void say_run(const rg_config *c, const sets *s)
{
    char val[64] = "none", test[64] = "none";
    if (s->val) snprintf(val, sizeof val, "%zu held out (--val-split %g)", rg_dataset_size(s->val), c->val_split);
    else if (s->test) snprintf(val, sizeof val, "the test set");
    if (s->test) snprintf(test, sizeof test, "%zu samples", rg_dataset_size(s->test));
    int w = c->workers * rg_dist_size();
    fprintf(stderr, "regula: training %s (%zu parameters) on %zu samples of %s; validating on %s; testing on %s; "
            "%d worker%s (%d process%s x %d thread%s); %s, lr %g, batch %ld, %ld epochs\n", rg_model_spec(s->m),
            rg_model_param_count(s->m), rg_dataset_size(s->train), c->data, val, test, w, w == 1 ? "" : "s",
            rg_dist_size(), rg_dist_size() == 1 ? "" : "es", c->workers, c->workers == 1 ? "" : "s", c->optimizer, c->lr,
            c->batch, c->epochs);
}

/* A final figure: four decimals, or four significant digits and an
 * exponent from 1e9 up (a diverged run's 1e43 would be 50 digits). */
static void put(const char *name, double v)
{
    printf(fabs(v) < 1e9 || !isfinite(v) ? "%s %.4f  " : "%s %.4e  ", name, v);
}

/* The results (stdout: one line, the final model's figures) and, on
 * stderr, how long it took and where the model went. */
static void report(const rg_config *c, const sets *s, const rg_train_result *r, double secs)
{
    int reg = rg_model_classes(s->m) == 0;
    const char *sets_[3] = { "test", "val", "train" };
    const double fig[3][3] = { { r->test_loss, r->test_acc, r->test_mae }, { r->val_loss, r->val_acc, r->val_mae },
                               { r->train_loss, r->train_acc, r->train_mae } };
    const double rmse[3] = { r->test_rmse, r->val_rmse, r->train_rmse };
    for (int k = 0; k < 3; k++) {
        if ((k == 0 && !s->test) || (k == 1 && !s->val)) continue;
        char name[32];
        snprintf(name, sizeof name, "%s_loss", sets_[k]);
        put(name, fig[k][0]);
        snprintf(name, sizeof name, "%s_%s", sets_[k], reg ? "mae" : "acc");
        put(name, fig[k][reg ? 2 : 1]);
        if (reg) {
            snprintf(name, sizeof name, "%s_rmse", sets_[k]);
            put(name, rmse[k]);
        }
    }
    printf("%s %d", c->clients ? "rounds" : "epochs", r->epochs_run);
    if (c->early_stop > 0)
        printf("  (best %s %d%s)", c->clients ? "round" : "epoch", r->best_epoch, r->stopped_early ? ", stopped early" : "");
    printf("\n");
    fflush(stdout);
    if (r->skipped)
        cli_warn("%llu of %llu steps skipped (--skip-nonfinite): their loss or gradient was not finite, so the "
                 "model learned from the other %llu", (unsigned long long)r->skipped, (unsigned long long)r->steps,
                 (unsigned long long)(r->steps > r->skipped ? r->steps - r->skipped : 0));
    if (r->left_out)
        cli_warn("%llu sample%s left out of the final figures: %s outputs are not finite (--skip-nonfinite)",
                 (unsigned long long)r->left_out, r->left_out == 1 ? "" : "s", r->left_out == 1 ? "its" : "their");
    if (c->quiet) return;
    char log[600] = "";
    if (c->log[0]) snprintf(log, sizeof log, "; log in %s", c->log);
    const char *unit = c->clients ? "round" : "epoch";
    if (c->save[0]) fprintf(stderr, "regula: %d %s%s in %.1f s; model saved to %s%s\n", r->epochs_run, unit,
                            r->epochs_run == 1 ? "" : "s", secs, c->save, log);
    else fprintf(stderr, "regula: %d %s%s in %.1f s%s\n", r->epochs_run, unit, r->epochs_run == 1 ? "" : "s", secs, log);
    if (c->save_best[0] && r->best_epoch > 0)
        fprintf(stderr, "regula: the best %s, %d, is in %s\n", unit, r->best_epoch, c->save_best);
    if (c->save_best[0] && r->best_epoch == 0)
        cli_warn("--save-best %s: no %s had a finite %s, so nothing was written", c->save_best, unit, c->monitor);
    if (!c->save[0]) cli_warn("no --save: the trained model was not written (give --save FILE.safetensors to keep it)");
}

static int train_sets(const rg_config *c, sets *s)
{
    int lead = rg_dist_rank() == 0;   /* under MPI only rank 0 talks */
    if (lead && !c->test_data[0] && !is_csv(c->data) && !s->test)
        cli_note("%s has no test split (t10k-images-idx3-ubyte[.gz]): no test figures; validation is held out "
                 "(--val-split)", c->data);
    const char *chooser = c->early_stop > 0 && c->save_best[0] ? "--early-stop and --save-best"
                        : c->early_stop > 0 ? "--early-stop" : c->save_best[0] ? "--save-best" : NULL;
    if (lead && chooser && !s->val && s->test)
        /* Keras' example does this too; say so, once: the test figures then
         * are not independent of the choice of model */
        cli_note("%s without --val-split %s the test set, so the test figures helped choose the model (give "
                 "--val-split for a held-out validation set)", chooser, c->early_stop > 0 && c->save_best[0] ? "watch" : "watches");
    if (lead && c->save_best[0] && !s->val && !s->test)
        cli_note("--save-best without a validation set picks the epoch of the best training %s (each epoch's mean "
                 "over its steps, as its progress line shows; give --val-split to pick by a held-out set)",
                 !strcmp(c->monitor, "val_acc") ? "accuracy" : !strcmp(c->monitor, "val_mae") ? "MAE" : "loss");
    if (lead && c->verbose && !c->quiet) say_run(c, s);
    cli_progress bar;
    cli_progress_init(&bar, c, lead, s->val || s->test);
    rg_callbacks cb = { cli_progress_step, cli_progress_epoch, &bar };
    rg_train_result r;
    memset(&r, 0, sizeof r);
    rg_status st = rg_train_cb(c, s->m, s->train, s->val ? s->val : s->test, s->test, &cb, &r);
    cli_progress_close(&bar);
    if (st) {
        /* shared failures (a non-finite loss, a peer's failure) are reported
         * by rank 0 alone; a failure of this process's own by itself */
        if (!lead && (st == RG_ENONFINITE || st == RG_ECOMM || st == RG_EUSAGE)) return exit_code(st);
        return fail(st);
    }
    if (lead) report(c, s, &r, cli_progress_elapsed(&bar));
    return 0;
}

static int cmd_train(const rg_config *c)
{
    sets s = { 0 };
    rg_blas_set_threads(c->threads);
    int code = check_stdin(c);
    if (code) return code;
    if (rg_dist_rank() == 0) warn_noops(c);
    cli_hold(1);   /* under mpirun, which process says what went wrong is agreed first */
    code = agree_set_up(load_sets(c, &s));
    if (!code) code = train_sets(c, &s);
    sets_free(&s);
    return code;
}

/* FedAdam's and FedYogi's server moves each weight by up to --server-lr a
 * round (m / (sqrt(v) + tau) tends to +-1 where the clients agree), so the
 * default rate of 1, FedAvg's "take the mean update", leaves a model of
 * weights about 0.05 at chance within a few rounds; the run goes on. */
static void warn_server_lr(const rg_config *c)
{
    if ((strcmp(c->algo, "fedadam") && strcmp(c->algo, "fedyogi")) || c->server_lr <= 0.1) return;
    cli_warn("--algo %s with --server-lr %g: its server moves every weight by up to --server-lr a round, and above "
             "0.1 that usually leaves the model at chance; Reddi et al. tune it in [0.001, 0.1] (the study: 0.01)",
             c->algo, c->server_lr);
}

/* A sampled client trains on one worker (client j on worker j mod W), so
 * workers beyond a round's clients hold threads that idle every round:
 * said once, as the run may be sized for another --sample. */
static void warn_idle_workers(const rg_config *c)
{
    int procs = rg_dist_size(), W = c->workers * procs;
    double m = fmax(1.0, floor(c->sample * c->clients + 0.5));   /* rg_fed_sampled's rounding */
    if (m > c->clients) m = c->clients;
    if (W <= m) return;
    char where[64] = "", fix[64] = "fewer --workers or processes";
    if (procs > 1) snprintf(where, sizeof where, " on %d processes (%d workers)", procs, W);
    else snprintf(fix, sizeof fix, "--workers %.0f", m);
    cli_warn("--workers %d%s is more than the %.0f client%s a round trains (--sample %g of --clients %d): a client "
             "trains on one worker, so %.0f worker%s idle%s every round; give %s, or a larger --sample", c->workers,
             where, m, m == 1 ? "" : "s", c->sample, c->clients, W - m, W - m == 1 ? "" : "s", W - m == 1 ? "s" : "",
             fix);
}

/* regula fed: train's run, over clients, a round for an epoch. */
static int cmd_fed(const rg_config *c)
{
    if (c->clients < 1) return failf(EXIT_USAGE, "regula fed needs --clients N (the simulated clients, 1 to 10000)");
    if (rg_dist_rank() == 0) warn_server_lr(c);
    if (rg_dist_rank() == 0) warn_idle_workers(c);
    return cmd_train(c);
}

/* The model's standardisation (--standardize at training), if it has one,
 * applied to ds (whose features are the model's inputs). */
static rg_status apply_standardize(const rg_model *m, rg_dataset *ds)
{
    const float *mean, *std;
    return rg_model_standardize(m, &mean, &std) ? rg_dataset_standardize(ds, mean, std) : RG_OK;
}

static int cmd_eval(const rg_config *c)
{
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    int32_t *pred = NULL;
    rg_status st;
    int code = 0;

    rg_blas_set_threads(c->threads);
    if (!c->load[0]) return failf(EXIT_USAGE, "eval needs --load FILE (a checkpoint written by train --save)");
    if ((st = rg_model_load(c->load, &m))) goto lib_fail;
    int n_names;
    const char **names = names_of(NULL, m, &n_names);
    int reg = rg_model_classes(m) == 0;
    if (reg && c->metrics) {
        code = failf(EXIT_USAGE, "--metrics: %s is a regression model (--loss %s), which has no classes to give "
                     "per-class figures of; eval prints its loss, MAE and RMSE", c->load, rg_loss_name(rg_model_loss(m)));
        goto out;
    }
    if (c->test_data[0]) st = open_labelled(c->test_data, c, "test", names, n_names, reg, &ds);
    else st = open_labelled(c->data, c, "train", names, n_names, reg, &ds);
    free(names);
    if (st) goto lib_fail;
    if (!rg_dataset_y(ds) && !rg_dataset_targets(ds)) {
        code = failf(EXIT_DATA, "%s: has no labels to evaluate against", rg_dataset_name(ds));
        goto out;
    }
    if ((code = check_fits(ds, m, rg_model_class_name(m, 0) != NULL))) goto out;
    if ((st = apply_standardize(m, ds))) goto lib_fail;
    cli_eval e = { .n = rg_dataset_size(ds), .y = rg_dataset_y(ds), .json = !strcmp(c->format, "json"), .regression = reg };
    rg_eval_figures f;
    if ((st = rg_evaluate_figures(m, ds, (size_t)c->batch, &f))) goto lib_fail;
    e.loss = f.loss, e.acc = f.acc, e.mae = f.mae, e.rmse = f.rmse;
    if (c->metrics) {
        e.pred = pred = malloc((e.n ? e.n : 1) * sizeof *pred);
        if (!pred) {
            code = failf(EXIT_OTHER, "out of memory for %zu predictions", e.n);
            goto out;
        }
        if ((st = rg_predict(m, ds, (size_t)c->batch, pred))) goto lib_fail;
    }
    code = cli_print_eval(stdout, m, &e);
    goto out;

lib_fail:
    code = fail(st);
out:
    free(pred);
    rg_dataset_free(ds);
    rg_model_free(m);
    return code;
}

static int cmd_predict(const rg_config *c)
{
    rg_model *m = NULL;
    rg_dataset *ds = NULL;
    int32_t *classes = NULL;
    float *proba = NULL;
    rg_status st;
    int code = 0;

    rg_blas_set_threads(c->threads);
    if (!c->load[0]) return failf(EXIT_USAGE, "predict needs --load FILE (a checkpoint written by train --save)");
    if (!c->input[0]) return failf(EXIT_USAGE, "predict needs --input FILE (IDX images or csv:FILE)");
    if ((st = rg_model_load(c->load, &m))) goto lib_fail;
    if (rg_model_classes(m) == 0 && (c->proba || c->top > 0)) {
        code = failf(EXIT_USAGE, "--%s: %s is a regression model (--loss %s): it predicts a value, not classes with "
                     "probabilities; predict prints the values, one per line", c->proba ? "proba" : "top", c->load,
                     rg_loss_name(rg_model_loss(m)));
        goto out;
    }
    if (c->top > 0 && (size_t)c->top > rg_model_classes(m)) {
        code = failf(EXIT_USAGE, "--top %ld: the model %s has %zu classes (give --top 1 to %zu)", c->top, c->load,
                     rg_model_classes(m), rg_model_classes(m));
        goto out;
    }
    if (is_csv(c->input)) {
        /* Every column is a feature, unless --label-column names one to drop. */
        rg_data_opts o = rg_config_data_opts(c, "input");
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
                         ? " (predict reads every CSV column as a feature: give --label-column to drop the label's)" : "");
        goto out;
    }
    if ((st = apply_standardize(m, ds))) goto lib_fail;
    size_t n = rg_dataset_size(ds), k = rg_model_classes(m);
    int probs = c->proba || c->top > 0 || k == 0;   /* a regression's values come as its "probabilities" */
    if (k == 0) k = 1;
    classes = malloc((n ? n : 1) * sizeof *classes);
    proba = probs && n <= SIZE_MAX / sizeof *proba / k ? malloc((n ? n : 1) * k * sizeof *proba) : NULL;
    if (!classes || (probs && !proba)) {
        code = failf(EXIT_OTHER, "out of memory for %zu predictions%s", n, probs ? " and their probabilities" : "");
        goto out;
    }
    if ((st = rg_predict_proba(m, ds, (size_t)c->batch, classes, proba))) goto lib_fail;
    code = cli_print_predictions(stdout, m, n, classes, proba, c->top);
    goto out;

lib_fail:
    code = fail(st);
out:
    free(proba);
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
    /* under mpirun, what the command line alone decides (--help, a bad
     * option) is said by rank 0 alone; MPI has not started yet */
    cli_mute = cli_launch_rank() > 0;
    if (argc < 2) {
        failf(EXIT_USAGE, "missing command (train, fed, eval, predict, plot or inspect)\n");
        if (!cli_mute) print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (cli_mute) return 0;
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
    else if (!strcmp(cmd, "fed")) run = cmd_fed;
    else return failf(EXIT_USAGE, "unknown command '%s' (expected train, fed, eval, predict, plot or inspect; see 'regula --help')", cmd);

    /* --help anywhere wins over everything else on the line. */
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (!cli_mute) print_help(stdout, cmd);
            return 0;
        }

    rg_config c;
    int code = parse_args(cmd, argc, argv, 2, &c);
    if (code) return code;
    /* under mpirun: MPI, and a world of processes x --workers threads */
    rg_status st = run == cmd_train || run == cmd_fed ? rg_dist_init(&argc, &argv) : RG_OK;
    if (st != RG_OK) return fail(st);
    cli_mute = 0;   /* from here each process says what is its own (cmd_train agrees on the rest) */
    cli_quiet = c.quiet;
    rg_dist_set_timeout(c.comm_timeout);
    install_test_hook();
    code = run(&c);
    rg_dist_finalize();
    if (fflush(stdout) != 0 && !code) code = failf(EXIT_DATA, "cannot write to standard output");
    return code;
}
