/*
 * man.c — `regula --man`: the manual page regula(1), in roff.
 *
 * Written from the same tables as --help: the commands (commands.c), the
 * library's option table rg_options() with each option's default from
 * rg_config_defaults(), the options of plot and inspect, and the exit
 * codes --help prints.  The build runs `regula --man` to make regula.1 and
 * installs it, so the page cannot say other than the program does.
 */
#include "cli.h"
#include <string.h>

/* Text for a roff line: backslashes doubled, a leading '.' or '\'' made
 * literal; in an option's name every '-' is a minus (\-), so that man
 * prints it as typed. */
static void roff(FILE *f, const char *s, int dashes)
{
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", f);
        else if (*s == '-' && dashes) fputs("\\-", f);
        else fputc(*s, f);
    }
}

/* .TP entry: "--name ARG" (or "-o, --name ARG") then its text. */
static void entry(FILE *f, char shortname, const char *name, const char *arg, const char *help, const char *extra)
{
    fputs(".TP\n", f);
    if (shortname) fprintf(f, "\\fB\\-%c\\fR, ", shortname);
    fputs("\\fB\\-\\-", f);
    roff(f, name, 1);
    fputs("\\fR", f);
    if (arg) fputs(" \\fI", f), roff(f, arg, 0), fputs("\\fR", f);
    fputc('\n', f);
    roff(f, help, 0);
    if (extra && *extra) fputc(' ', f), roff(f, extra, 0);
    fputc('\n', f);
}

/* Every rg_options() entry, with its default and the commands that take it. */
static void config_options(FILE *f)
{
    rg_config def;
    size_t n;
    const rg_option *o = rg_options(&n);
    rg_config_defaults(&def);
    fputs(".SH OPTIONS OF TRAIN, FED, EVAL AND PREDICT\n"
          "Each is also a key of a \\fB\\-\\-config\\fR JSON file; the command line wins over the file.\n"
          "An option is given as \\fB\\-\\-name value\\fR or \\fB\\-\\-name=value\\fR.\n", f);
    for (size_t i = 0; i < n; i++) {
        char val[1100], extra[1300];
        rg_config_get(&def, o[i].name, val, sizeof val);
        size_t len = 0;
        char note[1200];
        len = (size_t)snprintf(extra, sizeof extra, "%s", cli_default_note(&o[i], val, note, sizeof note));
        snprintf(extra + len, sizeof extra - len, "(%s)", o[i].commands);
        entry(f, cli_short_of(o[i].name), o[i].name, o[i].arg, o[i].help, extra);
    }
}

static void command_options(FILE *f, const cli_command *c)
{
    char upper[32];
    size_t k = 0;
    for (; c->name[k] && k < sizeof upper - 1; k++) upper[k] = (char)(c->name[k] - 'a' + 'A');
    upper[k] = 0;
    fprintf(f, ".SH OPTIONS OF %s\n", upper);
    for (size_t i = 0; i < c->nopts; i++)
        entry(f, c->opts[i].shortname, c->opts[i].name, c->opts[i].arg, c->opts[i].help, NULL);
}

/* exit_help's "  N  meaning" lines, continuations indented further. */
static void exit_status(FILE *f, const char *exit_help)
{
    fputs(".SH EXIT STATUS\n", f);
    for (const char *p = strchr(exit_help, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        const char *line = p + 1, *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", len, line);
        if (buf[0] == ' ' && buf[1] == ' ' && buf[2] >= '0' && buf[2] <= '9')
            fprintf(f, ".TP\n.B %c\n", buf[2]), roff(f, buf + 5, 0), fputc('\n', f);
        else if (buf[0]) roff(f, buf + strspn(buf, " "), 0), fputc('\n', f);
    }
}

static void header(FILE *f)
{
    size_t n;
    const cli_command *c = cli_commands(&n);
    fprintf(f, ".TH REGULA 1 \"\" \"regula %s\" \"User Commands\"\n.SH NAME\n"
               "regula \\- train neural networks with regularization on threads and MPI\n.SH SYNOPSIS\n", RG_VERSION);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\\fBregula %s\\fR ", i ? ".br\n" : "", c[i].name);
        roff(f, c[i].synopsis, 0);
        fputc('\n', f);
    }
    fputs(".br\n\\fBregula\\fR \\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR | \\fB\\-\\-man\\fR\n.SH DESCRIPTION\n"
          "regula trains neural networks with regularization on one core, worker threads\n"
          "(\\fB\\-\\-workers\\fR) or MPI processes (\\fBmpirun \\-np\\fR \\fIP\\fR \\fBregula train\\fR),\n"
          "and draws and inspects what training wrote.  \\fBregula\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR\n"
          "prints the options of a command with their defaults.\n.SH COMMANDS\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, ".TP\n.B %s\n", c[i].name);
        roff(f, c[i].about, 0);
        fputc('\n', f);
    }
}

int cli_man(FILE *f, const char *exit_help)
{
    size_t n;
    const cli_command *c = cli_commands(&n);
    header(f);
    config_options(f);
    for (size_t i = 0; i < n; i++)
        if (c[i].nopts) command_options(f, &c[i]);
    exit_status(f, exit_help);
    fputs(".SH ENVIRONMENT\n.TP\n.B REGULA_SPIN\n"
          "Microseconds a waiting worker thread spins before it sleeps (default 50); 0 where other jobs share the cores.\n"
          ".TP\n.B REGULA_GNUPLOT\nThe gnuplot program \\fBplot\\fR runs (default: gnuplot, found on PATH).\n"
          ".SH EXAMPLES\n.nf\n"
          "regula train \\-\\-epochs 10 \\-\\-log run.jsonl \\-\\-save model.safetensors\n"
          "regula eval \\-\\-load model.safetensors\n"
          "regula train \\-\\-workers 4 \\-\\-partition dirichlet:0.1 \\-\\-log skew.jsonl\n"
          "regula plot run.jsonl skew.jsonl \\-o curves.png\n"
          "regula plot skew.jsonl \\-\\-what workers \\-o workers.svg\n"
          "regula plot runs/*.jsonl \\-\\-x bytes \\-\\-y test_acc \\-o tradeoff.pdf\n"
          "regula inspect model.safetensors\n"
          ".fi\n.SH SEE ALSO\n\\fBgnuplot\\fR(1), \\fBmpirun\\fR(1)\n", f);
    return fflush(f) ? cli_error(CLI_FILE, "cannot write the manual page") : 0;
}
