/*
 * commands.c — the table of regula's commands, and the small argument
 * parser of the commands that are not training (plot, inspect).
 *
 * The table is the one place a command's name, its one-line summary, what
 * it does and its options are written: `regula --help`, `regula CMD --help`
 * and the man page (man.c) all print from it, so they cannot drift apart.
 * train, eval and predict take rg_config's options (rg_options(), the
 * library's table); plot and inspect take the options listed here, parsed
 * GNU-style (--name VALUE, --name=VALUE, -o VALUE; the other words are
 * files, in order).
 */
#include "cli.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* plot.c reads these by index (its O_* enum): keep the order. */
static const cli_opt g_plot_opts[] = {
    {"output", 'o', "FILE", "the picture to write: .png, .svg or .pdf, chosen by the extension (required)"},
    {"what", 0, "WHAT",
     "curves (loss and accuracy, or MAE for regression logs, per epoch, train and validation), workers (lambda, samples and "
     "comm share per worker), or any field's name (default: curves)"},
    {"y", 0, "FIELD[,FIELD...]", "fields along y, each a series per file (and per worker for the per-worker fields samples, "
     "worker_loss, lambda, compute_seconds, comm_seconds, bytes_sent, comm_share; per staleness level 0, 1, ... "
     "for staleness); repeatable"},
    {"x", 0, "FIELD",
     "field along x (default: the counter of the y field's events: epoch or step); with a field of the end "
     "event on the other axis, one point per file"},
    {"label", 0, "NAME", "legend name of the next file, in order (default: the file's name); repeatable"},
    {"logy", 0, NULL, "logarithmic y axis (values <= 0 are left out, with a note)"},
    {"title", 0, "TEXT", "the picture's title"},
    {"fields", 0, NULL, "list the fields of the files that can be plotted, and exit"},
};

static const cli_opt g_inspect_opts[] = {
    {"full", 0, NULL, "print metadata values whole (a training checkpoint's config is long)"},
};

static const cli_command g_commands[] = {
    {"train", "train a model (default: Keras' Fashion-MNIST example)",
     "Trains a model and reports its final loss and accuracy (a regression: MAE and RMSE).", "[options]", NULL, 0, NULL},
    {"fed", "federated learning over simulated clients (FedAvg, FedProx)",
     "Trains a model by federated rounds: each round samples --sample of the --clients (each owning a part "
     "of the data, --partition), trains each from the global model for --local-epochs or --local-steps, "
     "and averages their updates weighted by the samples each trained on.  Takes train's data, model, "
     "optimizer, penalty and log options (not --epochs: --rounds).",
     "--clients N [options]", NULL, 0, NULL},
    {"eval", "loss and accuracy of a saved model",
     "Reports the loss and accuracy of a saved model on a labelled data set.", "[options]", NULL, 0, NULL},
    {"predict", "classes of new samples",
     "Prints the predicted class (a regression: the predicted value) of each sample of --input, one per line.", "[options]", NULL, 0, NULL},
    {"plot", "pictures of training logs: curves, per-worker series, trade-offs",
     "Draws the JSON-lines logs of train --log with gnuplot: loss and accuracy per epoch, several runs "
     "overlaid, per-worker series, or any field against any other (one point per run for the end "
     "event's figures).  A log cut short by a killed run plots what it has, with a note.",
     "FILE.jsonl... -o OUT.png|OUT.svg|OUT.pdf [options]", g_plot_opts, sizeof g_plot_opts / sizeof *g_plot_opts,
     cmd_plot},
    {"inspect", "what a checkpoint or a training log holds",
     "For a safetensors file: each tensor's dtype, shape, L2 norm, largest magnitude, mean and share of "
     "zeros, and the metadata.  For a log of train --log: the run in brief: its configuration, best "
     "epoch and final figures.",
     "FILE.safetensors|FILE.jsonl... [options]", g_inspect_opts, sizeof g_inspect_opts / sizeof *g_inspect_opts,
     cmd_inspect},
};

const cli_command *cli_commands(size_t *count)
{
    *count = sizeof g_commands / sizeof *g_commands;
    return g_commands;
}

const cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_commands / sizeof *g_commands; i++)
        if (!strcmp(g_commands[i].name, name)) return &g_commands[i];
    return NULL;
}

int cli_quiet, cli_mute;
static int g_hold;
static char g_held[4096];

int cli_launch_rank(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}

void cli_hold(int on)
{
    g_hold = on;
    g_held[0] = 0;
}

void cli_release(void)
{
    if (!cli_mute) fputs(g_held, stderr);
    cli_hold(0);
}

/* "regula: [KIND]MESSAGE\n" to stderr, or kept while holding. */
static void say(const char *kind, const char *fmt, va_list ap) CLI_PRINTF(2, 0);
static void say(const char *kind, const char *fmt, va_list ap)
{
    if (cli_mute) return;
    if (!g_hold) {
        fprintf(stderr, "regula: %s", kind);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        return;
    }
    size_t n = strlen(g_held);
    int k = snprintf(g_held + n, sizeof g_held - n, "regula: %s", kind);
    if (k >= 0 && (size_t)k < sizeof g_held - n) n += (size_t)k;
    k = vsnprintf(g_held + n, sizeof g_held - n, fmt, ap);
    if (k >= 0 && (size_t)k < sizeof g_held - n) n += (size_t)k;
    if (n + 1 < sizeof g_held) g_held[n] = '\n', g_held[n + 1] = 0;
}

int cli_verror(int code, const char *fmt, va_list ap)
{
    say("", fmt, ap);
    return code;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    if (cli_quiet) return;
    va_start(ap, fmt);
    say("note: ", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("warning: ", fmt, ap);
    va_end(ap);
}

/* train, eval and predict's short options: the options of rg_options()
 * they stand for */
static const struct { char c; const char *name; } g_shorts[] = { { 'q', "quiet" }, { 'v', "verbose" } };

char cli_short_of(const char *name)
{
    for (size_t i = 0; i < sizeof g_shorts / sizeof *g_shorts; i++)
        if (!strcmp(g_shorts[i].name, name)) return g_shorts[i].c;
    return 0;
}

const char *cli_default_note(const rg_option *o, const char *val, char *buf, size_t cap)
{
    if (!o->arg || !val[0]) return "";
    if (!strcmp(o->name, "clients") && !strcmp(val, "0")) return "(required) ";
    snprintf(buf, cap, "(default: %s) ", val);
    return buf;
}

const char *cli_long_of(const char *arg)
{
    if (arg[0] != '-' || !arg[1] || arg[2]) return NULL;
    for (size_t i = 0; i < sizeof g_shorts / sizeof *g_shorts; i++)
        if (g_shorts[i].c == arg[1]) return g_shorts[i].name;
    return NULL;
}

/* text, wrapped at 78 columns. */
static void print_wrapped(FILE *f, const char *text)
{
    size_t col = 0;
    for (const char *p = text; *p;) {
        size_t word = strcspn(p, " "), gap = strspn(p + word, " ");
        if (col && col + 1 + word > 78) fputc('\n', f), col = 0;
        else if (col) fputc(' ', f), col++;
        fwrite(p, 1, word, f);
        col += word;
        p += word + gap;
    }
    fputc('\n', f);
}

void cli_print_help(FILE *f, const cli_command *cmd)
{
    fprintf(f, "Usage: regula %s %s\n\n", cmd->name, cmd->synopsis);
    print_wrapped(f, cmd->about);
    fputs("\nOptions:\n", f);
    for (size_t i = 0; i < cmd->nopts; i++) {
        const cli_opt *o = &cmd->opts[i];
        char left[64], shortname[8] = "    ";
        if (o->shortname) snprintf(shortname, sizeof shortname, "-%c, ", o->shortname);
        snprintf(left, sizeof left, "%s--%s%s%s", shortname, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
    fprintf(f, "  %-26s %s\n", "    --help", "show this help");
}

int cli_run(const cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_print_help(stdout, cmd);
            return 0;
        }
    int code = cmd->run(argc, argv);
    if (fflush(stdout) != 0 && !code) code = cli_error(CLI_FILE, "cannot write to standard output");
    return code;
}

/* The option argv[*i] names ("--name", "--name=v", "-o"), or NULL. */
static const cli_opt *match(const cli_command *cmd, const char *a, const char **eq)
{
    *eq = NULL;
    if (a[0] == '-' && a[1] && a[1] != '-' && !a[2]) {
        for (size_t k = 0; k < cmd->nopts; k++)
            if (cmd->opts[k].shortname == a[1]) return &cmd->opts[k];
        return NULL;
    }
    const char *name = a + 2;
    *eq = strchr(name, '=');
    size_t len = *eq ? (size_t)(*eq - name) : strlen(name);
    for (size_t k = 0; k < cmd->nopts; k++)
        if (strlen(cmd->opts[k].name) == len && !strncmp(cmd->opts[k].name, name, len)) return &cmd->opts[k];
    return NULL;
}

static int add_value(cli_args *out, size_t k, const char *v)
{
    const char **grown = realloc(out->multi[k], (out->nmulti[k] + 1) * sizeof *grown);
    if (!grown) return cli_error(CLI_OTHER, "out of memory");
    grown[out->nmulti[k]++] = v;
    out->multi[k] = grown;
    out->value[k] = v;
    return 0;
}

static int parse_one(const cli_command *cmd, int argc, char **argv, int *i, cli_args *out)
{
    const char *a = argv[*i], *eq;
    if (a[0] != '-' || !a[1]) {   /* a file ("-" too) */
        out->words[out->nwords++] = a;
        return 0;
    }
    const cli_opt *o = match(cmd, a, &eq);
    if (!o)
        return cli_error(CLI_USAGE, "unknown option '%s' for '%s' (see 'regula %s --help')", a, cmd->name, cmd->name);
    size_t k = (size_t)(o - cmd->opts);
    if (!o->arg) {
        if (eq) return cli_error(CLI_USAGE, "--%s is a flag and takes no value", o->name);
        return add_value(out, k, "");
    }
    if (eq) return add_value(out, k, eq + 1);
    if (*i + 1 >= argc) return cli_error(CLI_USAGE, "--%s needs a value (%s)", o->name, o->arg);
    return add_value(out, k, argv[++*i]);
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out)
{
    memset(out, 0, sizeof *out);
    size_t n = cmd->nopts ? cmd->nopts : 1;
    out->value = calloc(n, sizeof *out->value);
    out->multi = calloc(n, sizeof *out->multi);
    out->nmulti = calloc(n, sizeof *out->nmulti);
    out->words = calloc((size_t)argc + 1, sizeof *out->words);
    out->nopts = cmd->nopts;
    if (!out->value || !out->multi || !out->nmulti || !out->words) {
        cli_args_free(out);
        return cli_error(CLI_OTHER, "out of memory");
    }
    for (int i = 1; i < argc; i++) {
        int code = parse_one(cmd, argc, argv, &i, out);
        if (code) {
            cli_args_free(out);
            return code;
        }
    }
    return 0;
}

void cli_args_free(cli_args *a)
{
    for (size_t k = 0; a->multi && k < a->nopts; k++) free(a->multi[k]);
    free(a->multi);
    free(a->nmulti);
    free(a->value);
    free(a->words);
    memset(a, 0, sizeof *a);
}
