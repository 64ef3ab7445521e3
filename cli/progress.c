/*
 * progress.c — what `regula train` shows of a run while it runs, on
 * stderr (stdout holds the results): a bar redrawn in place on a
 * terminal, or one line per epoch for batch jobs, `| tee`, nohup and
 * Slurm logs.
 *
 * A line is built from pieces in the order a reader wants them (epoch,
 * loss, accuracy or a regression's MAE and RMSE, the validation figures early stopping watches, speed,
 * time left); on a terminal the pieces that do not fit its width are
 * left out from the least wanted, and the line never reaches the last
 * column, so it never wraps and a redraw leaves nothing stale behind.
 * Under mpirun rank 0's stderr is a pipe to the launcher: the launcher's
 * own stderr (found through /proc) says whether a person is watching.
 *
 * Invariant: the callbacks run on world rank 0's first worker thread, one
 * at a time; only rank 0 ever draws (mode NONE elsewhere).
 */
#include "cli.h"
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ the terminal */

static int is_launcher(const char *comm)
{
    static const char *const names[] = { "mpirun", "mpiexec", "orterun", "orted", "prterun", "prted", "prte",
                                         "hydra_pmi_proxy", "mpiexec.hydra", "mpiexec.mpich", "mpiexec.openmpi",
                                         "mpirun.openmpi", "mpirun.mpich", "mpiexec.mpich2" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(comm, names[i])) return 1;
    return 0;
}

/* A process's name and parent, from /proc; 0 when it cannot be read. */
static int proc_info(long pid, char *comm, size_t cap, long *parent)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses */
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open) return 0;
    snprintf(comm, cap, "%.*s", (int)(close - open - 1), open + 1);
    char state;
    return sscanf(close + 1, " %c %ld", &state, parent) == 2;
}

/* The terminal the topmost launcher above this process writes its stderr
 * to, opened (for its width), or -1 when that stderr is no terminal. */
static int launcher_tty(void)
{
    long pid = (long)getppid(), top = -1, parent;
    char comm[64];
    for (int depth = 0; depth < 8 && pid > 1 && proc_info(pid, comm, sizeof comm, &parent) && is_launcher(comm); depth++) {
        top = pid;
        pid = parent;
    }
    if (top < 0) return -1;
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/%ld/fd/2", top);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return -1;
    target[n] = 0;
    /* a pipe (mpirun 2>&1 | tee) or a file is not a person watching */
    if (strncmp(target, "/dev/pts/", 9) && strncmp(target, "/dev/tty", 8)) return -1;
    int fd = open(target, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0 && !isatty(fd)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Columns of the terminal: asked each time (it may be resized), else
 * $COLUMNS, else 80. */
static int width(const cli_progress *p)
{
    struct winsize ws;
    if (p->fd >= 0 && ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int c = cols ? atoi(cols) : 0;
    return c > 0 ? c : 80;
}

void cli_progress_init(cli_progress *p, const rg_config *c, int lead, int has_val)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->fed = c->clients > 0;
    p->epochs = p->fed ? c->rounds : c->epochs;
    p->verbose = c->verbose;
    p->has_val = has_val;
    p->regression = !strcmp(c->loss, "mse") || !strcmp(c->loss, "mae");
    p->t_start = p->t_mark = now_s();
    if (!lead || c->quiet || !strcmp(c->progress, "none")) return;
    if (isatty(STDERR_FILENO)) p->fd = STDERR_FILENO;
    else if (cli_launch_rank() >= 0) p->fd = launcher_tty();
    if (!strcmp(c->progress, "lines")) p->mode = CLI_PROGRESS_LINES;
    else if (!strcmp(c->progress, "bar")) p->mode = CLI_PROGRESS_BAR;
    else p->mode = p->fd >= 0 ? CLI_PROGRESS_BAR : CLI_PROGRESS_LINES;
}

double cli_progress_elapsed(const cli_progress *p) { return now_s() - p->t_start; }

/* ------------------------------------------------------------ pieces of a line */

enum { PIECES = 14 };
typedef struct line {
    char text[PIECES][96];
    int rank[PIECES];          /* lower: dropped first when the line is too long */
    int n;
} line;

static void piece(line *l, int rank, const char *fmt, ...) CLI_PRINTF(3, 4);
static void piece(line *l, int rank, const char *fmt, ...)
{
    if (l->n >= PIECES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text[l->n], sizeof l->text[0], fmt, ap);
    va_end(ap);
    l->rank[l->n++] = rank;
}

/* A figure: 4 decimals, or NaN/inf as such. */
static const char *fig(char *buf, double v)
{
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    snprintf(buf, 32, fabs(v) < 1e9 ? "%.4f" : "%.4e", v);   /* a diverged 1e43 fits */
    return buf;
}

static void hms(char *buf, size_t cap, double s)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

/* "12,345" */
static void thousands(char *buf, size_t cap, double v)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%.0f", v > 0 && v < 1e15 ? v : 0.0);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
}

/* The line's length with the pieces whose rank is at least `floor`. */
static size_t length(const line *l, int floor)
{
    size_t n = 0;
    for (int i = 0; i < l->n; i++)
        if (l->rank[i] >= floor && l->text[i][0]) n += strlen(l->text[i]) + (n ? 2 : 0);
    return n;
}

/* Writes the pieces that fit in `cols` columns (0: all), two spaces
 * apart, dropping the lowest ranks first; what still does not fit is cut. */
static void put(FILE *f, const line *l, size_t cols)
{
    int floor = 0;
    while (cols && length(l, floor) > cols && floor < 100) floor++;
    char out[PIECES * 100] = "";
    size_t n = 0;
    for (int i = 0; i < l->n; i++) {
        if (l->rank[i] < floor || !l->text[i][0]) continue;
        int k = snprintf(out + n, sizeof out - n, "%s%s", n ? "  " : "", l->text[i]);
        if (k > 0) n += (size_t)k < sizeof out - n ? (size_t)k : sizeof out - n - 1;
    }
    if (cols && n > cols) out[cols] = 0;
    fputs(out, f);
}

/* Seconds left: the rest of this epoch at its rate, then the epochs to
 * come at the mean wall time of those seen (training and validation). */
static double eta(const cli_progress *p, int epoch, double epoch_left)
{
    return epoch_left + (double)(p->epochs - epoch) * p->epoch_wall;
}

/* ------------------------------------------------------------ the callbacks */

/* The bar: as wide as the terminal leaves room for (10 to 30), after the
 * pieces that fit; none when even the narrowest does not fit. */
static void draw_bar(line *l, int cols, size_t done, size_t total)
{
    int floor = 0;
    while (floor < 100 && (int)length(l, floor) + 2 + 12 > cols) floor++;
    for (int i = 0; i < l->n; i++)
        if (l->rank[i] < floor) l->text[i][0] = 0, l->rank[i] = -1;
    int bar_w = cols - (int)length(l, 0) - 4;
    if (floor > 6 || bar_w < 10) return;   /* the bar goes before acc and ETA */
    if (bar_w > 30) bar_w = 30;
    char bar[32];
    size_t fill = total ? (size_t)((double)bar_w * (double)done / (double)total) : (size_t)bar_w;
    for (int i = 0; i < bar_w; i++) bar[i] = (size_t)i < fill ? '=' : (size_t)i == fill ? '>' : ' ';
    bar[bar_w] = 0;
    /* after "epoch E/N" */
    memmove(&l->text[2], &l->text[1], sizeof l->text[0] * (size_t)(l->n - 1));
    memmove(&l->rank[2], &l->rank[1], sizeof l->rank[0] * (size_t)(l->n - 1));
    snprintf(l->text[1], sizeof l->text[1], "[%s]", bar);
    l->rank[1] = 100;
    l->n++;
}

void cli_progress_step(const rg_step_stats *s, void *ud)
{
    cli_progress *p = ud;
    if (p->mode != CLI_PROGRESS_BAR) return;
    double t = now_s();
    if (s->epoch != p->epoch) {
        /* rates count from the first callback: the epoch's start is not
         * reported, and the first batch includes warm-up costs anyway */
        p->epoch = s->epoch;
        p->t0 = p->last_draw = t;
        p->done0 = s->done;
    }
    if (t - p->last_draw < 0.1) return;
    p->last_draw = t;
    double dt = t - p->t0, rate = dt > 0 ? (double)(s->done - p->done0) / dt : 0.0;
    double left = rate > 0 && s->total > s->done ? (double)(s->total - s->done) / rate : 0.0;
    if (!p->epochs_seen) p->epoch_wall = rate > 0 ? (double)s->total / rate : 0.0;   /* a first guess */
    int cols = width(p) - 1;
    char b[4][32], when[32];
    hms(when, sizeof when, eta(p, s->epoch, left));
    line l = { .n = 0 };
    piece(&l, 100, "%s %d/%ld", p->fed ? "round" : "epoch", s->epoch, p->epochs);
    piece(&l, 100, "loss %s", fig(b[0], s->loss));
    if (p->regression) piece(&l, 9, "mae %s", fig(b[1], s->mae));
    else piece(&l, 9, "acc %s", fig(b[1], s->acc));
    if (p->has_val && p->epochs_seen)   /* the last epoch's (on the line above too) */
        piece(&l, 3, "val_loss %s  val_%s %s", fig(b[2], p->last.val_loss), p->regression ? "mae" : "acc",
              fig(b[3], p->regression ? p->last.val_mae : p->last.val_acc));
    thousands(b[2], sizeof b[2], rate);
    piece(&l, 2, "%s/s", b[2]);
    piece(&l, 8, "ETA %s", when);
    if (p->fed) draw_bar(&l, cols, (size_t)s->epoch - 1, (size_t)p->epochs);   /* rounds done */
    else draw_bar(&l, cols, s->done, s->total);
    fputc('\r', stderr);
    put(stderr, &l, (size_t)cols);
    fputs("\033[K", stderr);   /* what a longer line left behind */
    fflush(stderr);
    p->open = 1;
}

/* regula fed: the round's clients (those that reported, "of" those
 * sampled when some did not), their figures when any trained, ε, whether
 * the model was kept, and the bytes. */
static void fed_pieces(const cli_progress *p, const rg_round_stats *r, line *l)
{
    char c[3][32], who[48];
    if (r->trained == r->clients) snprintf(who, sizeof who, "clients %d", r->trained);
    else snprintf(who, sizeof who, "clients %d of %d", r->trained, r->clients);
    if (r->trained > 0) {
        piece(l, 70, "%s  client_loss %s+-%s worst10 %s", who, fig(c[0], r->client_loss_mean),
              fig(c[1], r->client_loss_std), fig(c[2], r->client_loss_worst));
        piece(l, 68, "%s %s+-%s worst10 %s", p->regression ? "client_mae" : "client_acc",
              fig(c[0], r->client_acc_mean), fig(c[1], r->client_acc_std), fig(c[2], r->client_acc_worst));
    } else {
        piece(l, 70, "%s", who);
    }
    if (r->dp) piece(l, 65, "eps %.4g", r->epsilon);
    if (r->kept)
        piece(l, 65, "%s", r->trained ? "(too few reports for --aggregate: model kept)" : "(no client reported: model kept)");
    if (r->trained > 0) piece(l, 6, "drift %s", fig(c[0], r->drift_mean));
    piece(l, 7, "up %.3g MB  down %.3g MB", r->bytes_up / 1e6, r->bytes_down / 1e6);
}

/* The epoch's line: its figures, speed, time, and time left. */
static void epoch_line(const cli_progress *p, const rg_epoch_stats *e, double wall, line *l)
{
    char b[8][32], when[32];
    /* a round in which no client trained has no training figures (null in the log): "-", not NaN */
    int none = e->round && e->round->trained == 0;
    piece(l, 100, "%s %d/%ld", p->fed ? "round" : "epoch", e->epoch, p->epochs);
    piece(l, 100, "loss %s", none ? "-" : fig(b[0], e->loss));
    if (p->regression) piece(l, 90, "mae %s  rmse %s", none ? "-" : fig(b[1], e->mae), none ? "-" : fig(b[6], e->rmse));
    else piece(l, 90, "acc %s", none ? "-" : fig(b[1], e->acc));
    if (p->has_val && p->regression)
        piece(l, 80, "val_loss %s  val_mae %s  val_rmse %s", fig(b[2], e->val_loss), fig(b[3], e->val_mae),
              fig(b[7], e->val_rmse));
    else if (p->has_val) piece(l, 80, "val_loss %s  val_acc %s", fig(b[2], e->val_loss), fig(b[3], e->val_acc));
    if (p->verbose) piece(l, 4, "reg %s  lr %.3g", fig(b[4], e->reg_loss), e->lr);
    const rg_round_stats *r = e->round;
    if (r) fed_pieces(p, r, l);
    thousands(b[5], sizeof b[5], e->samples_per_s);
    piece(l, 5, "%s samples/s", b[5]);
    piece(l, 20, "%.1fs", wall);
    hms(when, sizeof when, eta(p, e->epoch, 0.0));
    if (e->epoch < p->epochs) piece(l, 10, "ETA %s", when);
}

void cli_progress_epoch(const rg_epoch_stats *e, void *ud)
{
    cli_progress *p = ud;
    double t = now_s(), wall = t - p->t_mark;
    p->t_mark = t;
    p->epoch_wall = (p->epoch_wall * p->epochs_seen + wall) / (p->epochs_seen + 1);
    p->epochs_seen++;
    p->last = *e;
    if (p->mode == CLI_PROGRESS_NONE) return;
    line l = { .n = 0 };
    epoch_line(p, e, wall, &l);
    if (p->mode == CLI_PROGRESS_BAR) fputc('\r', stderr);
    put(stderr, &l, p->mode == CLI_PROGRESS_BAR ? (size_t)(width(p) - 1) : 0);
    fputs(p->mode == CLI_PROGRESS_BAR ? "\033[K\n" : "\n", stderr);
    fflush(stderr);
    p->open = 0;
}

void cli_progress_close(cli_progress *p)
{
    if (p->open) fputc('\n', stderr);
    p->open = 0;
    if (p->fd > STDERR_FILENO) close(p->fd);
    p->fd = -1;
}
