/*
 * cli.h — what the front end's files share: exit codes, messages, the
 * commands that take their own arguments (plot, inspect) and their option
 * tables, which --help and the man page both print.
 *
 * Front-end code only: like regula.c, these files see the library through
 * the public header alone.
 */
#ifndef REGULA_CLI_H
#define REGULA_CLI_H

#include "regula.h"
#include <stdarg.h>
#include <stdio.h>

/* The exit codes of README's "Exit codes" (regula.c's enum, same values). */
enum { CLI_OTHER = 1, CLI_USAGE = 2, CLI_FILE = 3 };

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* "regula: MESSAGE" on stderr; returns code. */
int cli_error(int code, const char *fmt, ...) CLI_PRINTF(2, 3);
int cli_verror(int code, const char *fmt, va_list ap) CLI_PRINTF(2, 0);
/* "regula: note: MESSAGE" on stderr: something the user should know that
 * does not stop the command (a truncated log, a run left out).  --quiet
 * silences notes (cli_quiet). */
void cli_note(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "regula: warning: MESSAGE" on stderr: an option or an outcome that is
 * probably not what was meant (an option that changes nothing). */
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
extern int cli_quiet;

/* Under mpirun every process runs the same command line, so what depends
 * on it alone (a bad option, --help) is said by one process.
 * cli_launch_rank: this process's rank from the launcher's environment
 * (Open MPI, MPICH's hydra, PMIx), before MPI starts; -1 when not launched
 * so.  cli_mute: 1 silences errors, notes and warnings (the other ranks). */
int cli_launch_rank(void);
extern int cli_mute;
/* Holding: errors are kept instead of printed (cli_hold(1)), until
 * cli_hold(0) drops them or cli_release() prints them: set-up under
 * mpirun decides which process prints (regula.c). */
void cli_hold(int on);
void cli_release(void);

/* The short form of an option of train, eval and predict (-q, -v), or 0. */
char cli_short_of(const char *name);
/* What --help and the man page say of an option's default: "(default:
 * VAL) ", "(required) " for fed's --clients (its 0 means "not given"), or
 * "" when it has none; into buf (cap bytes). */
const char *cli_default_note(const rg_option *o, const char *val, char *buf, size_t cap);
/* The long name a short option stands for ("-q" -> "quiet"), or NULL. */
const char *cli_long_of(const char *arg);

/* One option of a command that parses its own arguments. */
typedef struct cli_opt {
    const char *name;   /* long name without "--" */
    char shortname;     /* 0, or 'o' for -o */
    const char *arg;    /* metavariable, NULL for a flag */
    const char *help;
} cli_opt;

/* A command: name, one line for `regula --help`, what it does (help and
 * man page), its synopsis after "regula NAME", its options, and its entry
 * point (argv[0] is the command's name). */
typedef struct cli_command {
    const char *name, *summary, *about, *synopsis;
    const cli_opt *opts;
    size_t nopts;
    int (*run)(int argc, char **argv);
} cli_command;

/* Every command in the order `regula --help` lists them; train, eval and
 * predict have no opts here (theirs are rg_options()) and no run. */
const cli_command *cli_commands(size_t *count);
const cli_command *cli_command_find(const char *name);

/* The options of a cli_command, parsed: argv's options by table index,
 * the other words in order.  Errors (exit 2) name the option. */
typedef struct cli_args {
    const char **value;  /* [nopts]: last value given, "" for a flag, NULL if absent */
    const char ***multi; /* [nopts]: every value given, in order (count in nmulti) */
    size_t *nmulti;
    const char **words;  /* the arguments that are not options */
    size_t nwords;
    size_t nopts;
} cli_args;
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out);
void cli_args_free(cli_args *a);
/* Prints `regula NAME --help`. */
void cli_print_help(FILE *f, const cli_command *cmd);

/* Runs cmd (argv[0] its name): its --help if asked anywhere, else cmd->run;
 * a failed write to standard output is exit 3. */
int cli_run(const cli_command *cmd, int argc, char **argv);

/* train's progress on stderr (progress.c): a bar redrawn in place on a
 * terminal, or a line per epoch; the callbacks of rg_train_cb. */
typedef struct cli_progress {
    int mode;                  /* CLI_PROGRESS_* */
    int verbose, has_val;
    int fed;                   /* regula fed: it counts rounds (the bar: rounds done) */
    int regression;            /* mae and rmse where a classifier shows acc */
    long epochs;
    int fd;                    /* where the terminal's width is asked (-1: none) */
    double t_start, t_mark;    /* the run's start; the last epoch's end (or the start) */
    double epoch_wall;         /* mean wall seconds of the epochs seen (with validation) */
    int epochs_seen, epoch;    /* epochs ended here; the epoch the bar draws */
    size_t done0;              /* samples done at the epoch's first step seen */
    double t0, last_draw;      /* that step's time; the last redraw */
    int open;                  /* a bar is on the screen, its line not ended */
    rg_epoch_stats last;       /* the last epoch's figures (valid when epochs_seen) */
} cli_progress;
enum { CLI_PROGRESS_NONE, CLI_PROGRESS_BAR, CLI_PROGRESS_LINES };

/* Picks the mode from c->progress and c->quiet: auto is a bar when stderr
 * (under mpirun: the launcher's stderr) is a terminal, else lines; lead is
 * 0 on every process but rank 0, which alone shows progress. */
void cli_progress_init(cli_progress *p, const rg_config *c, int lead, int has_val);
void cli_progress_step(const rg_step_stats *s, void *ud);
void cli_progress_epoch(const rg_epoch_stats *e, void *ud);
/* Ends a bar left on the screen (a run that failed mid-epoch). */
void cli_progress_close(cli_progress *p);
/* Seconds since cli_progress_init. */
double cli_progress_elapsed(const cli_progress *p);

/* What predict and eval print on stdout (report.c). */
/* The text of class k of model m: the one place a class is named. */
void cli_class_name(const rg_model *m, int k, char *buf, size_t cap);
/* predict: each sample's class, one a line; with proba (n x outputs), CSV
 * with a header: its class and every class's probability, or with top > 0
 * its top most likely classes and their probabilities. */
int cli_print_predictions(FILE *f, const rg_model *m, size_t n, const int32_t *classes, const float *proba, long top);
/* eval: the loss and accuracy (a regression model: MAE and RMSE); with
 * pred, the per-class figures and the confusion matrix of the labels y
 * against pred (n each); text or JSON. */
typedef struct cli_eval {
    double loss, acc, mae, rmse;
    int regression;
    size_t n;
    const int32_t *y, *pred;  /* pred NULL: no --metrics */
    int json;
} cli_eval;
int cli_print_eval(FILE *f, const rg_model *m, const cli_eval *e);

int cmd_plot(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

/* Writes the man page regula(1) in roff: the commands, every option of
 * rg_options() and of the tables above, with defaults, and exit_help (the
 * lines "  N  meaning" that --help prints). */
int cli_man(FILE *f, const char *exit_help);

#endif
