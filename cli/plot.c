/*
 * plot.c — `regula plot`: training logs into pictures.
 *
 * It reads every log (runlog.c), turns the request into a figure (one to
 * three panels of series, figure.h) and hands it to gnuplot.c.  Three
 * kinds of request:
 *   curves   (default) loss and accuracy (regression logs: MAE) per
 *            epoch, train solid and validation dashed, one colour per log;
 *   workers  lambda, samples and comm_share per epoch, one colour per
 *            worker, one dash per log;
 *   fields   --y FIELD[,FIELD] (or --what FIELD) against --x FIELD.
 * A pairing of x and y in one log is the heart of it: fields of the same
 * events pair row by row (a curve); when one of them belongs to an event
 * that happens once per run (end, config), the other is taken from its
 * last event, so the log gives one point (accuracy against bytes: one
 * point per run).  A per-worker field gives one series per worker.
 *
 * What a log lacks is not an error when another log has it: that log is
 * left out with a note.  A name no log has is an error (exit 2) listing
 * the fields there are.
 */
#include "cli.h"
#include "figure.h"
#include "runlog.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What a field is, for axis labels. */
static const char *describe(const char *name)
{
    static const char *const units[][2] = {
        {"epoch", "epoch"}, {"step", "step"}, {"loss", "loss (cross-entropy + penalty)"},
        {"val_loss", "loss (cross-entropy + penalty)"}, {"test_loss", "test loss (cross-entropy + penalty)"},
        {"train_loss", "training-set loss (cross-entropy + penalty)"}, {"reg_loss", "penalty"},
        {"acc", "accuracy"}, {"val_acc", "accuracy"}, {"test_acc", "test accuracy"},
        {"train_acc", "training-set accuracy"}, {"mae", "mean absolute error"}, {"val_mae", "mean absolute error"},
        {"rmse", "root mean squared error"}, {"val_rmse", "root mean squared error"},
        {"test_mae", "test mean absolute error"}, {"test_rmse", "test root mean squared error"},
        {"samples_per_s", "samples/s"},
        {"seconds", "seconds per epoch (s)"}, {"time", "training time (s)"}, {"lr", "learning rate"},
        {"lambda", "strength factor (lambda_k / lambda)"}, {"samples", "samples per epoch"},
        {"worker_loss", "data loss"}, {"compute_seconds", "compute per epoch (s)"},
        {"comm_seconds", "communication per epoch (s)"}, {"bytes_sent", "bytes sent per epoch"},
        {"bytes", "bytes sent, all workers, since the start"},
        {"comm_share", "share of the epoch in communication"},
        {"staleness", "pushes per epoch"},
    };
    const char *dot = strchr(name, '.');
    const char *base = dot ? dot + 1 : name;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(units[i][0], base)) return units[i][1];
    return name;
}

typedef struct plot_req {
    const char *out, *x, *title;
    const char *y[16];
    size_t ny;
    int logy;
    rl_run *runs;
    size_t nruns;
    char **labels;
    size_t hidden_y;   /* values <= 0 left out of a log scale */
    size_t nonfinite;  /* values the log has as NaN or Infinity: not drawn */
} plot_req;

/* ------------------------------------------------------------ series */

static int series_add(fig_series *s, double x, double y)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (nx) s->x = nx;
        double *ny = nx ? realloc(s->y, cap * sizeof *ny) : NULL;
        if (!ny) return cli_error(CLI_OTHER, "out of memory");
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
    return 0;
}

static fig_series *series_new(fig_panel *p)
{
    fig_series *grown = realloc(p->s, (p->ns + 1) * sizeof *grown);
    if (!grown) return NULL;
    p->s = grown;
    memset(&p->s[p->ns], 0, sizeof *p->s);
    return &p->s[p->ns++];
}

static void figure_free(figure *f)
{
    for (int p = 0; p < f->np; p++) {
        for (size_t i = 0; i < f->p[p].ns; i++) {
            free(f->p[p].s[i].x);
            free(f->p[p].s[i].y);
        }
        free(f->p[p].s);
    }
}

/* x and y of one log, paired. */
typedef struct pairing {
    rl_field x, y;
    int same;          /* same events: row by row; else one point */
    size_t width;      /* series: 1, or one per worker */
} pairing;

/* The counter of y's events, for a default x: its own name ("epoch" in
 * epoch events), else step or epoch; NULL for an event once per run. */
static const char *default_x(const rl_field *y)
{
    rl_field f;
    const char *candidates[] = {y->t->event, "step", "epoch"};
    if (rl_table_once(y->t)) return NULL;
    for (size_t i = 0; i < 3; i++)
        if (rl_field_in(y->t, candidates[i], &f)) return candidates[i];
    return NULL;
}

/* A field whose values are per staleness level (ps's pushes that read
 * weights 0, 1, ... steps stale), not per worker: the log leaves out the
 * levels above the largest seen, which are 0. */
static int by_level(const rl_field *f)
{
    const char *dot = strchr(f->name, '.');
    return f->kind == RL_RAW && !strcmp(dot ? dot + 1 : f->name, "staleness");
}

/* Per-worker fields on both axes must have as many workers; a field per
 * staleness level pairs with no other array. */
static int widths_agree(const rl_run *run, pairing *pr)
{
    if ((by_level(&pr->x) || by_level(&pr->y)) && pr->x.width > 1 && pr->y.width > 1)
        return cli_error(CLI_USAGE, "%s: '%s' and '%s': staleness counts pushes per staleness level, not per "
                         "worker; plot it against a field with one value per event (epoch, bytes, time)",
                         run->path, pr->x.name, pr->y.name);
    if (pr->x.width > 1 && pr->y.width > 1 && pr->x.width != pr->y.width)
        return cli_error(CLI_FILE, "%s: '%s' has %zu values per event and '%s' has %zu", run->path, pr->x.name,
                         pr->x.width, pr->y.name, pr->y.width);
    pr->width = pr->x.width > pr->y.width ? pr->x.width : pr->y.width;
    return 0;
}

/* Pairs x with y in run r.  0: paired; -1: r lacks one (noted); else an
 * exit code. */
static int pair(const plot_req *q, size_t r, const char *xname, const char *yname, pairing *pr)
{
    const rl_run *run = &q->runs[r];
    if (xname && rl_field_pair(run, xname, yname, &pr->x, &pr->y)) {   /* events that have both */
        pr->same = 1;
        return widths_agree(run, pr);
    }
    if (!rl_field_find(run, yname, &pr->y)) {
        cli_note("%s has no field '%s': left out of that series", run->path, yname);
        return -1;
    }
    if (!xname && !(xname = default_x(&pr->y)))
        return cli_error(CLI_USAGE, "'%s' is a field of the %s event, once per run: give --x FIELD to plot it "
                         "against (e.g. --x bytes)", yname, pr->y.t->event);
    /* x from y's own events when they have it (step events' epoch) */
    int own = !strchr(xname, '.') && !rl_table_once(pr->y.t) && rl_field_in(pr->y.t, xname, &pr->x);
    if (!own && !rl_field_find(run, xname, &pr->x)) {
        cli_note("%s has no field '%s': left out of that series", run->path, xname);
        return -1;
    }
    pr->same = pr->x.t == pr->y.t;
    if (!pr->same && !rl_table_once(pr->x.t) && !rl_table_once(pr->y.t))
        return cli_error(CLI_USAGE, "x '%s' is a field of %s events and y '%s' of %s events: plot fields of the "
                         "same events, or one of the end event against any (EVENT.FIELD picks the event)",
                         xname, pr->x.t->event, yname, pr->y.t->event);
    return widths_agree(run, pr);
}

/* The points of worker k (0 for a scalar series) into s. */
static int fill(plot_req *q, const pairing *pr, size_t k, fig_series *s)
{
    size_t kx = pr->x.width > 1 ? k : 0, ky = pr->y.width > 1 ? k : 0;
    size_t n = pr->same ? pr->y.t->n : 1;
    for (size_t i = 0; i < n; i++) {
        size_t ix = pr->same ? i : pr->x.t->n - 1, iy = pr->same ? i : pr->y.t->n - 1;
        double x = rl_value(&pr->x, ix, kx), y = rl_value(&pr->y, iy, ky);
        if (by_level(&pr->y) && isnan(y) && rl_value(&pr->y, iy, 0) >= 0) y = 0.0;   /* a level above those seen */
        if (rl_value_nonfinite(&pr->x, ix, kx) || rl_value_nonfinite(&pr->y, iy, ky)) q->nonfinite++;
        if (!isfinite(x)) continue;
        if (q->logy && y <= 0) {
            q->hidden_y++;
            y = NAN;
        }
        int code = series_add(s, x, y);
        if (code) return code;
    }
    s->style = s->n == 1 ? FIG_POINTS : strcmp(pr->y.t->event, "step") ? FIG_LINESPOINTS : FIG_LINES;
    return 0;
}

static int any_finite(const fig_series *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(s->y[i])) return 1;
    return 0;
}

/* A style for series number k of a log: colour and dash. */
typedef struct look {
    const char *role;   /* label part after the log's name, or NULL */
    int color, dash;    /* color 0: one per series of the panel; -1: one per worker */
} look;

/* The run validated on its test set ("validation":"test" in its config). */
static int validates_on_test(const rl_run *run)
{
    const rl_table *c = rl_table_find(run, "config");
    const cJSON *v = c && c->n ? cJSON_GetObjectItemCaseSensitive(c->rows[c->n - 1], "validation") : NULL;
    return cJSON_IsString(v) && !strcmp(v->valuestring, "test");
}

/* regula fed's log: an epoch is a round (its config event's strategy) */
static int is_fed(const rl_run *run)
{
    const rl_table *c = rl_table_find(run, "config");
    const cJSON *v = c && c->n ? cJSON_GetObjectItemCaseSensitive(c->rows[c->n - 1], "strategy") : NULL;
    return cJSON_IsString(v) && !strcmp(v->valuestring, "fed");
}

/* The x axis's words: "round" for the epochs of logs that are all regula fed's. */
static const char *describe_x(const plot_req *q, const char *name)
{
    int fed = q->nruns > 0;
    for (size_t r = 0; r < q->nruns; r++) fed &= is_fed(&q->runs[r]);
    return fed && !strcmp(name, "epoch") ? "round" : describe(name);
}

static void label(const plot_req *q, size_t r, const char *role, const pairing *pr, size_t k, char *buf, size_t cap)
{
    int level = by_level(&pr->y) || by_level(&pr->x);
    size_t len = 0;
    buf[0] = 0;
    if (role && !strcmp(role, "validation") && validates_on_test(&q->runs[r])) role = "test (validation)";
    if (q->nruns > 1) len += (size_t)snprintf(buf, cap, "%s", q->labels[r]);
    if (role && len < cap) len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", role);
    if ((pr->width > 1 || level) && len < cap)
        snprintf(buf + len, cap - len, "%s%s %zu", len ? " " : "", level ? "staleness" : "worker", k);
    if (!buf[0]) snprintf(buf, cap, "%s", q->labels[r]);
}

/* Adds log r's series of y against x to panel p.  Returns 0, -1 when the
 * log gives nothing (noted), or an exit code. */
static int add_series(plot_req *q, fig_panel *p, size_t r, const char *xname, const char *yname, look lk)
{
    pairing pr;
    int code = pair(q, r, xname, yname, &pr), added = 0;
    if (code) return code;
    if (!p->xlabel[0]) snprintf(p->xlabel, sizeof p->xlabel, "%s", describe_x(q, pr.x.name));
    for (size_t k = 0; k < pr.width && !code; k++) {
        fig_series *s = series_new(p);
        if (!s) return cli_error(CLI_OTHER, "out of memory");
        label(q, r, lk.role, &pr, k, s->label, sizeof s->label);
        s->color = lk.color > 0 ? lk.color : lk.color < 0 ? (int)k + 1 : (int)p->ns;
        s->dash = lk.dash;
        code = fill(q, &pr, k, s);
        if (!code && !any_finite(s)) {   /* nothing to draw: no validation set, say */
            free(s->x), free(s->y);
            p->ns--;
        } else added = 1;
    }
    if (!code && !added)
        cli_note("%s: '%s' has no value to draw against '%s' (null or absent where they meet)", q->runs[r].path,
                 yname, pr.x.name);
    return code ? code : added ? 0 : -1;
}

/* ------------------------------------------------------------ requests */

static void panel_init(const plot_req *q, fig_panel *p, const char *title, const char *xname, const char *ylabel,
                       int logy)
{
    snprintf(p->title, sizeof p->title, "%s", title);
    snprintf(p->xlabel, sizeof p->xlabel, "%s", xname ? describe_x(q, xname) : "");   /* else the first pairing's */
    snprintf(p->ylabel, sizeof p->ylabel, "%.127s", ylabel);   /* (a title, at most 159, may be the label) */
    p->logy = logy;
}

/* A panel of curves or workers: up to two fields (loss and val_loss), each
 * with its role in the legend ("train", "validation"). */
typedef struct panel_spec {
    const char *title, *ylabel;
    const char *y[2], *role[2];
} panel_spec;

/* np panels, each with every log's series of its fields: one colour per
 * log and a dash per field, or (per_worker) a colour per worker and a dash
 * per log. */
static int build(plot_req *q, figure *fig, const panel_spec *ps, int np, const char *xname, int per_worker)
{
    fig->np = np;
    for (int p = 0; p < np; p++) {
        panel_init(q, &fig->p[p], ps[p].title, xname, ps[p].ylabel, q->logy);
        for (size_t r = 0; r < q->nruns; r++)
            for (int j = 0; j < 2 && ps[p].y[j]; j++) {   /* what a log lacks is noted by add_series */
                look lk = {ps[p].role[j], per_worker ? -1 : (int)r + 1, per_worker ? (int)r + 1 : j + 1};
                int code = add_series(q, &fig->p[p], r, xname, ps[p].y[j], lk);
                if (code > 0) return code;
            }
    }
    return 0;
}

/* Whether every log is a regression's: epochs with mae and no acc. */
static int all_regression(const plot_req *q)
{
    rl_field f;
    for (size_t r = 0; r < q->nruns; r++)
        if (rl_field_find(&q->runs[r], "acc", &f) || !rl_field_find(&q->runs[r], "mae", &f)) return 0;
    return q->nruns > 0;
}

/* Loss, and accuracy or (regression logs: --loss mse|mae) the mean
 * absolute error, per epoch. */
static int build_curves(plot_req *q, figure *fig)
{
    int reg = all_regression(q);
    const panel_spec ps[] = {
        {"loss", reg ? "loss (data + penalty)" : "loss (cross-entropy + penalty)", {"loss", "val_loss"},
         {"train", "validation"}},
        reg ? (panel_spec){"mean absolute error", "MAE", {"mae", "val_mae"}, {"train", "validation"}}
            : (panel_spec){"accuracy", "accuracy", {"acc", "val_acc"}, {"train", "validation"}},
    };
    return build(q, fig, ps, 2, q->x, 0);
}

static int build_workers(plot_req *q, figure *fig)
{
    const panel_spec ps[] = {
        {"lambda: regularization strength per worker", describe("lambda"), {"lambda", NULL}, {NULL, NULL}},
        {"samples per worker", describe("samples"), {"samples", NULL}, {NULL, NULL}},
        {"communication share per worker", describe("comm_share"), {"comm_share", NULL}, {NULL, NULL}},
    };
    return build(q, fig, ps, 3, q->x, 1);
}

/* --y fields: one panel, a series per log x field (x worker). */
static int build_fields(plot_req *q, figure *fig)
{
    fig_panel *p = &fig->p[0];
    char title[160];
    fig->np = 1;
    size_t len = 0;
    for (size_t i = 0; i < q->ny && len < sizeof title; i++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", i ? ", " : "", q->y[i]);
    if (q->x && len < sizeof title) snprintf(title + len, sizeof title - len, " against %s", q->x);
    panel_init(q, p, title, q->x, q->ny == 1 ? describe(q->y[0]) : title, q->logy);
    for (size_t r = 0; r < q->nruns; r++)
        for (size_t i = 0; i < q->ny; i++) {
            look lk = {q->ny > 1 ? q->y[i] : NULL, 0, 1};
            int code = add_series(q, p, r, q->x, q->y[i], lk);
            if (code > 0) return code;
        }
    return 0;
}

/* ------------------------------------------------------------ the command */

/* A name (x or y) that no log has: exit 2, listing what the first has. */
static int check_known(const plot_req *q, const char *name)
{
    rl_field f;
    for (size_t r = 0; r < q->nruns; r++)
        if (rl_field_find(&q->runs[r], name, &f)) return 0;
    char list[4096];
    rl_field_list(&q->runs[0], list, sizeof list);
    return cli_error(CLI_USAGE, "unknown field '%s'%s; the fields of %s are (EVENT.FIELD picks the event) %s", name,
                     q->nruns > 1 ? " (in every file)" : "", q->runs[0].path, list);
}

static int is_sep(char c) { return c == '-' || c == '_' || c == '.' || c == '/'; }

/* Shortens file-name labels by what they all share (w4-dirichlet0.1-equal-s1
 * and w4-dirichlet0.1-proportional-s1 become equal and proportional), cut
 * at a separator; only when every label stays non-empty and distinct. */
static void trim_common(char **labels, size_t n)
{
    size_t pre = strlen(labels[0]), suf = pre;
    for (size_t r = 1; r < n; r++) {
        size_t a = 0, len = strlen(labels[r]), l0 = strlen(labels[0]), b = 0;
        while (a < pre && labels[r][a] == labels[0][a]) a++;
        while (b < suf && b < len && b < l0 && labels[r][len - 1 - b] == labels[0][l0 - 1 - b]) b++;
        pre = a, suf = b;
    }
    while (pre > 0 && !is_sep(labels[0][pre - 1])) pre--;
    while (suf > 0 && !is_sep(labels[0][strlen(labels[0]) - suf])) suf--;
    for (size_t r = 0; r < n; r++)
        if (strlen(labels[r]) <= pre + suf) return;
    for (size_t r = 0; r < n; r++) {
        size_t len = strlen(labels[r]) - pre - suf;
        memmove(labels[r], labels[r] + pre, len);
        labels[r][len] = 0;
    }
    for (size_t r = 0; r < n; r++)   /* distinct, or they were before too */
        for (size_t j = 0; j < r; j++)
            if (!strcmp(labels[r], labels[j])) return;
}

/* Each log's legend name: --label, else its file name without the
 * directory and ".jsonl" (less what all the names share), else (two logs
 * of one name) its path. */
static int make_labels(plot_req *q, const cli_args *a, size_t label_opt)
{
    if (a->nmulti[label_opt] > q->nruns)
        return cli_error(CLI_USAGE, "%zu --label for %zu file%s", a->nmulti[label_opt], q->nruns,
                         q->nruns == 1 ? "" : "s");
    for (size_t r = 0; r < q->nruns; r++) {
        const char *path = q->runs[r].path, *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t len = strlen(base);
        if (len > 6 && !strcmp(base + len - 6, ".jsonl")) len -= 6;
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, base);
        for (size_t j = 0; j < r; j++)
            if (!strcmp(q->labels[j], buf)) snprintf(buf, sizeof buf, "%s", path);
        if (!(q->labels[r] = strdup(buf))) return cli_error(CLI_OTHER, "out of memory");
    }
    if (q->nruns > 1) trim_common(q->labels, q->nruns);
    for (size_t r = 0; r < a->nmulti[label_opt]; r++) {
        free(q->labels[r]);
        if (!(q->labels[r] = strdup(a->multi[label_opt][r]))) return cli_error(CLI_OTHER, "out of memory");
    }
    return 0;
}

/* The option values into q (opt indexes follow commands.c's table). */
enum { O_OUTPUT, O_WHAT, O_Y, O_X, O_LABEL, O_LOGY, O_TITLE, O_FIELDS };

static int take_options(plot_req *q, const cli_args *a, char *ybuf, size_t cap)
{
    q->out = a->value[O_OUTPUT];
    q->x = a->value[O_X];
    q->title = a->value[O_TITLE];
    q->logy = a->value[O_LOGY] != NULL;
    const char *what = a->value[O_WHAT];
    if (what && a->value[O_Y]) return cli_error(CLI_USAGE, "give --what or --y, not both");
    size_t len = 0;
    ybuf[0] = 0;
    for (size_t i = 0; i < a->nmulti[O_Y] && len < cap; i++)
        len += (size_t)snprintf(ybuf + len, cap - len, "%s%s", i ? "," : "", a->multi[O_Y][i]);
    if (what && strcmp(what, "curves") && strcmp(what, "workers")) snprintf(ybuf, cap, "%s", what);
    for (char *tok = strtok(ybuf, ","); tok; tok = strtok(NULL, ",")) {
        if (q->ny == sizeof q->y / sizeof *q->y) return cli_error(CLI_USAGE, "--y: at most 16 fields");
        q->y[q->ny++] = tok;
    }
    if (a->value[O_Y] && !q->ny) return cli_error(CLI_USAGE, "--y needs a field's name");
    if (a->value[O_FIELDS]) return 0;
    if (!q->out) return cli_error(CLI_USAGE, "plot needs -o FILE (.png, .svg or .pdf)");
    if (!fig_format(q->out))
        return cli_error(CLI_USAGE, "-o %s: the picture's format comes from its extension: .png, .svg or .pdf", q->out);
    return 0;
}

static int list_fields(const plot_req *q)
{
    for (size_t r = 0; r < q->nruns; r++) {
        char list[8192];
        rl_field_list(&q->runs[r], list, sizeof list);
        printf("%s: %s\n", q->runs[r].path, list);
    }
    return 0;
}

static void note_unfinished(const plot_req *q)
{
    for (size_t r = 0; r < q->nruns; r++) {
        if (q->runs[r].ended) continue;
        const rl_table *ep = rl_table_find(&q->runs[r], "epoch");
        cli_note("%s has no end event: the run did not finish (killed, or still running); plotting what it has "
                 "(%zu epoch%s)", q->runs[r].path, ep ? ep->n : 0, ep && ep->n == 1 ? "" : "s");
    }
}

static int draw(plot_req *q, const char *what)
{
    figure fig;
    memset(&fig, 0, sizeof fig);
    int code = 0;
    for (size_t i = 0; i < q->ny && !code; i++) code = check_known(q, q->y[i]);
    if (!code && q->x) code = check_known(q, q->x);
    if (!code) {
        note_unfinished(q);
        code = q->ny ? build_fields(q, &fig) : what && !strcmp(what, "workers") ? build_workers(q, &fig)
                                                                               : build_curves(q, &fig);
    }
    size_t ns = 0;
    for (int p = 0; p < fig.np; p++) ns += fig.p[p].ns;
    if (q->nonfinite)   /* said even when nothing is left to draw: it is why */
        cli_note("%zu value%s the log holds as NaN or Infinity (a figure that overflowed) %s not drawn", q->nonfinite,
                 q->nonfinite == 1 ? "" : "s", q->nonfinite == 1 ? "is" : "are");
    if (!code && ns == 0) code = cli_error(CLI_FILE, "nothing to plot: no log has a finite value to draw%s",
                                           q->nruns == 1 && !q->runs[0].ended ? " (the run stopped before its first epoch ended?)" : "");
    if (!code && q->hidden_y) cli_note("%zu value%s <= 0 left out of the log scale", q->hidden_y, q->hidden_y == 1 ? "" : "s");
    if (!code) {
        if (q->title) snprintf(fig.title, sizeof fig.title, "%s", q->title);
        code = fig_draw(&fig, q->out);
    }
    figure_free(&fig);
    return code;
}

int cmd_plot(int argc, char **argv)
{
    const cli_command *cmd = cli_command_find("plot");
    cli_args a;
    plot_req q;
    char ybuf[1024];
    memset(&q, 0, sizeof q);
    int code = cli_parse(cmd, argc, argv, &a);
    if (code) return code;
    if (!(code = take_options(&q, &a, ybuf, sizeof ybuf)) && a.nwords == 0)
        code = cli_error(CLI_USAGE, "plot needs one or more logs (FILE.jsonl, written by train --log)");
    q.runs = code ? NULL : calloc(a.nwords, sizeof *q.runs);
    q.labels = code ? NULL : calloc(a.nwords, sizeof *q.labels);
    if (!code && (!q.runs || !q.labels)) code = cli_error(CLI_OTHER, "out of memory");
    for (size_t r = 0; !code && r < a.nwords; r++) {
        code = rl_read(a.words[r], &q.runs[r]);
        q.nruns += !code;
    }
    if (!code) code = make_labels(&q, &a, O_LABEL);
    if (!code) code = a.value[O_FIELDS] ? list_fields(&q) : draw(&q, a.value[O_WHAT]);
    for (size_t r = 0; r < q.nruns; r++) {
        rl_free(&q.runs[r]);
        free(q.labels[r]);
    }
    free(q.runs);
    free(q.labels);
    cli_args_free(&a);
    return code;
}
