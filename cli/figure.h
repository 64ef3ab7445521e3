/*
 * figure.h — a picture as plot.c builds it and gnuplot.c draws it: up to
 * three panels side by side, each with its axes and its series of (x, y)
 * points.  Plain data; the series own their points.
 */
#ifndef REGULA_FIGURE_H
#define REGULA_FIGURE_H

#include <stddef.h>

enum { FIG_LINES, FIG_LINESPOINTS, FIG_POINTS };
enum { FIG_MAX_PANELS = 3 };

typedef struct fig_series {
    char label[160];
    int color;     /* 1.. : gnuplot's line types */
    int dash;      /* 1 solid, 2 dashed, ... */
    int style;     /* FIG_* */
    size_t n, cap;
    double *x, *y; /* y may be NaN: a gap */
} fig_series;

typedef struct fig_panel {
    char title[160], xlabel[128], ylabel[128];
    int logy;
    fig_series *s;
    size_t ns;
} fig_panel;

typedef struct figure {
    char title[200];
    fig_panel p[FIG_MAX_PANELS];
    int np;
} figure;

/* Draws f into path (.png, .svg or .pdf) with gnuplot: written to a
 * temporary name and renamed, so a failure leaves no file.  Returns 0 or
 * an exit code after printing why. */
int fig_draw(const figure *f, const char *path);
/* The format of path by its extension: "png", "svg", "pdf", or NULL. */
const char *fig_format(const char *path);

#endif
