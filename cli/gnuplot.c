/*
 * gnuplot.c — draws a figure (figure.h) by writing a gnuplot script and
 * piping it to gnuplot (Debian's gnuplot-nox; REGULA_GNUPLOT names another
 * program).
 *
 * Why gnuplot and not a library linked in: gnuplot-nox is four Debian
 * packages, PLplot's development package pulls in about fifty (Qt, wxWidgets,
 * GTK, gfortran); regula builds and trains without it (only `plot` needs
 * it, and says how to get it); and its cairo terminals give PNG, PDF and
 * SVG with antialiased text, legends and log axes from the same script.
 *
 * The script carries its data inline (gnuplot's $name << EOD blocks), so
 * nothing but the picture is written; every string we put in it is a
 * single-quoted gnuplot string (only '' is special there), and text is
 * drawn "noenhanced", so file names and labels are printed as they are.
 * gnuplot writes to "<path>.tmp.<pid>", renamed to path once gnuplot has
 * exited 0: a failure leaves no half-drawn picture.
 */
#include "figure.h"
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *fig_format(const char *path)
{
    static const char *const ext[] = {"png", "svg", "pdf"};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < 3; i++)
        if (!strcasecmp(dot + 1, ext[i])) return ext[i];
    return NULL;
}

/* s as a gnuplot single-quoted string; line breaks become spaces. */
static void put_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("''", f);
        else fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

static void put_terminal(FILE *f, const figure *fig, const char *format, const char *out)
{
    size_t rows = 0;   /* the legends' rows, two entries a row, below each panel */
    for (int p = 0; p < fig->np; p++) rows = (fig->p[p].ns + 1) / 2 > rows ? (fig->p[p].ns + 1) / 2 : rows;
    int w = fig->np == 1 ? 800 : 540 * fig->np, h = (fig->np == 1 ? 500 : 430) + 16 * (int)(rows > 2 ? rows - 2 : 0);
    if (!strcmp(format, "png"))
        fprintf(f, "set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,10'\n", w, h);
    else if (!strcmp(format, "svg"))
        fprintf(f, "set terminal svg size %d,%d noenhanced font 'DejaVu Sans,11' background '#ffffff'\n", w, h);
    else
        fprintf(f, "set terminal pdfcairo size %.2fin,%.2fin noenhanced font 'DejaVu Sans,8'\n", w / 100.0, h / 100.0);
    fputs("set output ", f);
    put_str(f, out);
    fputc('\n', f);
}

static void put_data(FILE *f, const figure *fig)
{
    for (int p = 0; p < fig->np; p++)
        for (size_t i = 0; i < fig->p[p].ns; i++) {
            const fig_series *s = &fig->p[p].s[i];
            fprintf(f, "$s%d_%zu << EOD\n", p, i);
            for (size_t k = 0; k < s->n; k++)
                if (isfinite(s->y[k])) fprintf(f, "%.9g %.9g\n", s->x[k], s->y[k]);
                else fprintf(f, "%.9g NaN\n", s->x[k]);
            fputs("EOD\n", f);
        }
}

/* Whole-number x values over a short range (epochs) get a tick each. */
static int small_integral_x(const fig_panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t k = 0; k < p->s[i].n; k++) {
            double x = p->s[i].x[k];
            if (x != floor(x)) return 0;
            lo = fmin(lo, x);
            hi = fmax(hi, x);
        }
    return hi >= lo && hi - lo <= 15;
}

/* A flat series (every lambda 1) gets a y range of its own: gnuplot
 * would warn about an empty one. */
static void put_yrange(FILE *f, const fig_panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t k = 0; k < p->s[i].n; k++)
            if (isfinite(p->s[i].y[k]) && (!p->logy || p->s[i].y[k] > 0)) {
                lo = fmin(lo, p->s[i].y[k]);
                hi = fmax(hi, p->s[i].y[k]);
            }
    if (lo == hi && p->logy) fprintf(f, "set yrange [%.9g:%.9g]\n", lo / 2, hi * 2);
    else if (lo == hi) fprintf(f, "set yrange [%.9g:%.9g]\n", lo - fmax(fabs(lo) / 2, 0.5), hi + fmax(fabs(hi) / 2, 0.5));
    else fputs("set yrange [*:*]\n", f);
}

/* Large numbers (bytes) read better as 2.5G than as 2.5e+09. */
static void put_formats(FILE *f, const fig_panel *p)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t k = 0; k < p->s[i].n; k++) {
            mx = fmax(mx, fabs(p->s[i].x[k]));
            if (isfinite(p->s[i].y[k])) my = fmax(my, fabs(p->s[i].y[k]));
        }
    fputs(mx >= 1e5 ? "set format x '%.1s%c'\n" : "set format x '% h'\n", f);
    fputs(my >= 1e5 ? "set format y '%.1s%c'\n" : "set format y '% h'\n", f);
}

static void put_panel(FILE *f, const fig_panel *p, int pi)
{
    static const char *const with[] = {"lines lw 1.5", "linespoints lw 1.5 ps 0.6", "points ps 1.4"};
    static const int shapes[] = {7, 5, 9, 11, 13};   /* a new point shape each time the 8 colours come round */
    fputs("set title ", f), put_str(f, p->title), fputs("\nset xlabel ", f), put_str(f, p->xlabel);
    fputs("\nset ylabel ", f), put_str(f, p->ylabel), fputc('\n', f);
    fputs(p->logy ? "set logscale y\n" : "unset logscale y\n", f);
    fputs(small_integral_x(p) ? "set xtics 1\n" : "set xtics autofreq\n", f);
    put_yrange(f, p);
    put_formats(f, p);
    fprintf(f, "set grid lc rgb '#dddddd'\nset key outside below center horizontal samplen 2 spacing 1.1 height %d\n"
          "set autoscale xfix\nset offsets graph 0.06, graph 0.06, graph 0.05, graph 0.05\n", (p->ns + 1) / 2 > 2 ? 2 : 1);
    for (size_t i = 0; i < p->ns; i++) {
        const fig_series *s = &p->s[i];
        fprintf(f, "%s$s%d_%zu using 1:2 with %s pt %d lc %d dt %d title ", i ? ", \\\n     " : "plot ", pi, i,
                with[s->style], shapes[(s->color - 1) / 8 % 5], s->color, s->dash);
        put_str(f, s->label);
    }
    fputc('\n', f);
}

/* The whole script, in memory. */
static char *script(const figure *fig, const char *format, const char *out, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    put_terminal(f, fig, format, out);
    put_data(f, fig);
    if (fig->np > 1 || fig->title[0]) {
        fputs("set multiplot layout 1,", f);
        fprintf(f, "%d title ", fig->np);
        put_str(f, fig->title);
        fputc('\n', f);
    }
    for (int p = 0; p < fig->np; p++) put_panel(f, &fig->p[p], p);
    if (fig->np > 1 || fig->title[0]) fputs("unset multiplot\n", f);
    fputs("set output\n", f);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Runs gnuplot with text on its standard input; returns its exit status
 * (-1 when it could not be started, errno kept). */
static int run_gnuplot(const char *prog, const char *text, size_t len)
{
    int fd[2];
    pid_t pid;
    posix_spawn_file_actions_t fa;
    if (pipe(fd)) return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    char *argv[] = {(char *)prog, NULL};
    int err = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[0]);
    if (err) {
        close(fd[1]);
        errno = err;
        return -1;
    }
    /* gnuplot may stop reading early (a bad script): no SIGPIPE for us */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd[1], text + done, len - done);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) done += (size_t)w;
    }
    close(fd[1]);
    sigaction(SIGPIPE, &old, NULL);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int fig_draw(const figure *fig, const char *path)
{
    const char *prog = getenv("REGULA_GNUPLOT") && *getenv("REGULA_GNUPLOT") ? getenv("REGULA_GNUPLOT") : "gnuplot";
    char tmp[4200];
    size_t len;
    struct stat sb;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    /* the output's own errors (no such directory) are ours to name */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return cli_error(CLI_FILE, "%s: cannot write: %s", path, strerror(errno));
    close(fd);
    char *text = script(fig, fig_format(path), tmp, &len);
    int st = text ? run_gnuplot(prog, text, len) : -2;
    free(text);
    if (st < 0) unlink(tmp);
    if (st == -2) return cli_error(CLI_OTHER, "out of memory");
    if (st < 0)
        return cli_error(CLI_OTHER, "plot needs gnuplot (Debian: apt-get install gnuplot-nox): cannot run '%s': %s",
                         prog, strerror(errno));
    if (st != 0 || stat(tmp, &sb) != 0 || sb.st_size == 0) {
        unlink(tmp);
        return cli_error(CLI_OTHER, "%s: gnuplot failed (exit status %d); nothing written", path, st);
    }
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return cli_error(CLI_FILE, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}
