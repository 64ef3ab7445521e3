/*
 * report.c — what `regula predict` and `regula eval` print on stdout: the
 * class of each sample, its probabilities (--proba) or its K most likely
 * classes (--top K) as CSV, and eval's figures as text or JSON, with
 * --metrics' per-class table and confusion matrix.
 *
 * A class is turned into text in one place (cli_class_name), so that every
 * output names classes alike.  CSV fields follow RFC 4180 (a field holding
 * a comma, a quote or a line break is quoted, its quotes doubled).
 *
 * The per-class figures come from the confusion matrix (rows the true
 * class, columns the predicted one): precision tp / predicted, recall
 * tp / support, F1 their harmonic mean.  A figure whose denominator is 0
 * counts as 0 (scikit-learn's default) for a class that has samples or
 * predictions; a class that has neither is listed without figures and
 * left out of the macro average.
 */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cli_class_name(const rg_model *m, int k, char *buf, size_t cap)
{
    const char *name = rg_model_class_name(m, k);   /* a model whose labels were names */
    if (name) snprintf(buf, cap, "%s", name);
    else snprintf(buf, cap, "%d", k);
}

/* One CSV field, quoted when it must be. */
static void csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* A figure for JSON: null when it is not a number (JSON has none). */
static void json_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

/* ------------------------------------------------------------ predict */

/* "class,p_0,p_1,..." or "class_1,p_1,...,class_K,p_K". */
static void predict_header(FILE *f, const rg_model *m, size_t k, long top)
{
    char name[256], field[300];
    if (top > 0) {
        for (long j = 1; j <= top; j++) fprintf(f, "%sclass_%ld,p_%ld", j > 1 ? "," : "", j, j);
        fputc('\n', f);
        return;
    }
    fputs("class", f);
    for (size_t j = 0; j < k; j++) {
        cli_class_name(m, (int)j, name, sizeof name);
        snprintf(field, sizeof field, "p_%s", name);
        fputc(',', f);
        csv_field(f, field);
    }
    fputc('\n', f);
}

/* The top K of the k probabilities p into idx: most likely first, equal
 * ones by class (so class_1 is the class predict prints).  taken: k
 * bytes of scratch. */
static void top_k(const float *p, size_t k, size_t K, size_t *idx, unsigned char *taken)
{
    memset(taken, 0, k);
    for (size_t i = 0; i < K; i++) {
        size_t best = k;
        for (size_t j = 0; j < k; j++)
            if (!taken[j] && (best == k || p[j] > p[best])) best = j;
        taken[best] = 1;
        idx[i] = best;
    }
}

int cli_print_predictions(FILE *f, const rg_model *m, size_t n, const int32_t *classes, const float *proba, long top)
{
    if (rg_model_classes(m) == 0) {   /* regression: the value, every digit a float has */
        for (size_t i = 0; i < n; i++) fprintf(f, "%.9g\n", (double)proba[i]);
        return 0;
    }
    size_t k = rg_model_classes(m), K = top > 0 ? (size_t)top : 0;
    size_t *idx = K ? malloc(K * sizeof *idx) : NULL;
    unsigned char *taken = K ? malloc(k) : NULL;
    char name[256];
    if (K && (!idx || !taken)) {
        free(idx);
        free(taken);
        return cli_error(CLI_OTHER, "out of memory");
    }
    if (proba) predict_header(f, m, k, top);
    for (size_t i = 0; i < n; i++) {
        const float *p = proba ? proba + i * k : NULL;
        if (K) {
            top_k(p, k, K, idx, taken);
            for (size_t j = 0; j < K; j++) {
                cli_class_name(m, (int)idx[j], name, sizeof name);
                if (j) fputc(',', f);
                csv_field(f, name);
                fprintf(f, ",%.6g", (double)p[idx[j]]);
            }
            fputc('\n', f);
            continue;
        }
        cli_class_name(m, (int)classes[i], name, sizeof name);
        if (!p) {
            fprintf(f, "%s\n", name);
            continue;
        }
        csv_field(f, name);
        for (size_t j = 0; j < k; j++) fprintf(f, ",%.6g", (double)p[j]);
        fputc('\n', f);
    }
    free(idx);
    free(taken);
    return 0;
}

/* ------------------------------------------------------------ eval */

/* One class's figures, or an average's. */
typedef struct class_figs {
    double precision, recall, f1;
    size_t support;
    int present;   /* has samples or predictions: figures exist */
} class_figs;

typedef struct metrics {
    size_t k, n;
    size_t *cm;               /* [k x k]: rows the true class, columns the predicted */
    class_figs *cls;          /* [k] */
    class_figs macro, weighted;
} metrics;

static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : 0.0; }

static void figures_of(metrics *x)
{
    size_t k = x->k, present = 0;
    memset(&x->macro, 0, sizeof x->macro);
    memset(&x->weighted, 0, sizeof x->weighted);
    for (size_t i = 0; i < k; i++) {
        size_t tp = x->cm[i * k + i], support = 0, predicted = 0;
        for (size_t j = 0; j < k; j++) support += x->cm[i * k + j], predicted += x->cm[j * k + i];
        class_figs *c = &x->cls[i];
        c->precision = ratio(tp, predicted);
        c->recall = ratio(tp, support);
        c->f1 = c->precision + c->recall > 0 ? 2 * c->precision * c->recall / (c->precision + c->recall) : 0.0;
        c->support = support;
        c->present = support > 0 || predicted > 0;
        if (!c->present) continue;
        present++;
        x->macro.precision += c->precision, x->macro.recall += c->recall, x->macro.f1 += c->f1;
        double w = ratio(support, x->n);
        x->weighted.precision += w * c->precision, x->weighted.recall += w * c->recall, x->weighted.f1 += w * c->f1;
    }
    x->macro.precision /= (double)present, x->macro.recall /= (double)present, x->macro.f1 /= (double)present;
    x->macro.support = x->weighted.support = x->n;
    x->macro.present = x->weighted.present = present > 0;
}

static int metrics_make(metrics *x, const rg_model *m, const int32_t *y, const int32_t *pred, size_t n)
{
    size_t k = rg_model_classes(m);   /* bce: 2 from one output */
    x->k = k;
    x->n = n;
    x->cm = k <= SIZE_MAX / sizeof(size_t) / k ? calloc(k * k, sizeof *x->cm) : NULL;
    x->cls = calloc(k, sizeof *x->cls);
    if (!x->cm || !x->cls) return cli_error(CLI_OTHER, "out of memory for a confusion matrix of %zu classes", k);
    for (size_t i = 0; i < n; i++) x->cm[(size_t)y[i] * k + (size_t)pred[i]]++;
    figures_of(x);
    return 0;
}

static void metrics_free(metrics *x)
{
    free(x->cm);
    free(x->cls);
}

/* The widest class name, at least `least`. */
static int name_width(const rg_model *m, size_t k, int least)
{
    char name[256];
    int w = least;
    for (size_t i = 0; i < k; i++) {
        cli_class_name(m, (int)i, name, sizeof name);
        if ((int)strlen(name) > w) w = (int)strlen(name);
    }
    return w;
}

static void text_row(FILE *f, int w, const char *name, const class_figs *c)
{
    if (c->present) fprintf(f, "%-*s  %9.4f  %9.4f  %9.4f  %9zu\n", w, name, c->precision, c->recall, c->f1, c->support);
    else fprintf(f, "%-*s  %9s  %9s  %9s  %9zu\n", w, name, "-", "-", "-", c->support);
}

static void print_text(FILE *f, const rg_model *m, const metrics *x)
{
    char name[256];
    int w = name_width(m, x->k, 12);
    fprintf(f, "\n%-*s  %9s  %9s  %9s  %9s\n", w, "class", "precision", "recall", "f1", "support");
    for (size_t i = 0; i < x->k; i++) {
        cli_class_name(m, (int)i, name, sizeof name);
        text_row(f, w, name, &x->cls[i]);
    }
    text_row(f, w, "macro avg", &x->macro);
    text_row(f, w, "weighted avg", &x->weighted);

    fputs("\nconfusion matrix: rows are the true class, columns the predicted class\n", f);
    const char *corner = "true\\predicted";
    int cw = name_width(m, x->k, snprintf(NULL, 0, "%zu", x->n));   /* no count is above n */
    w = name_width(m, x->k, (int)strlen(corner));
    fprintf(f, "%-*s", w, corner);
    for (size_t j = 0; j < x->k; j++) {
        cli_class_name(m, (int)j, name, sizeof name);
        fprintf(f, "  %*s", cw, name);
    }
    fputc('\n', f);
    for (size_t i = 0; i < x->k; i++) {
        cli_class_name(m, (int)i, name, sizeof name);
        fprintf(f, "%-*s", w, name);
        for (size_t j = 0; j < x->k; j++) fprintf(f, "  %*zu", cw, x->cm[i * x->k + j]);
        fputc('\n', f);
    }
}

static void json_figs(FILE *f, const class_figs *c)
{
    fputs("\"precision\":", f);
    json_number(f, c->present ? c->precision : NAN);
    fputs(",\"recall\":", f);
    json_number(f, c->present ? c->recall : NAN);
    fputs(",\"f1\":", f);
    json_number(f, c->present ? c->f1 : NAN);
    fprintf(f, ",\"support\":%zu", c->support);
}

static void print_json_metrics(FILE *f, const rg_model *m, const metrics *x)
{
    char name[256];
    fputs(",\"classes\":[", f);
    for (size_t i = 0; i < x->k; i++) {
        cli_class_name(m, (int)i, name, sizeof name);
        fputs(i ? ",{\"class\":" : "{\"class\":", f);
        json_string(f, name);
        fputc(',', f);
        json_figs(f, &x->cls[i]);
        fputc('}', f);
    }
    fputs("],\"macro_avg\":{", f);
    json_figs(f, &x->macro);
    fputs("},\"weighted_avg\":{", f);
    json_figs(f, &x->weighted);
    fputs("},\"confusion_matrix\":{\"rows\":\"true\",\"columns\":\"predicted\",\"labels\":[", f);
    for (size_t i = 0; i < x->k; i++) {
        cli_class_name(m, (int)i, name, sizeof name);
        if (i) fputc(',', f);
        json_string(f, name);
    }
    fputs("],\"counts\":[", f);
    for (size_t i = 0; i < x->k; i++) {
        fputs(i ? ",[" : "[", f);
        for (size_t j = 0; j < x->k; j++) fprintf(f, "%s%zu", j ? "," : "", x->cm[i * x->k + j]);
        fputc(']', f);
    }
    fputs("]}", f);
}

int cli_print_eval(FILE *f, const rg_model *m, const cli_eval *e)
{
    metrics x = { 0 };
    int code = e->pred ? metrics_make(&x, m, e->y, e->pred, e->n) : 0;
    if (code) {
        metrics_free(&x);
        return code;
    }
    if (e->json) {
        fputs("{\"test_loss\":", f);
        json_number(f, e->loss);
        fputs(e->regression ? ",\"test_mae\":" : ",\"test_acc\":", f);
        json_number(f, e->regression ? e->mae : e->acc);
        if (e->regression) fputs(",\"test_rmse\":", f);
        if (e->regression) json_number(f, e->rmse);
        fprintf(f, ",\"samples\":%zu", e->n);
        if (e->pred) print_json_metrics(f, m, &x);
        fputs("}\n", f);
    } else if (e->regression) {
        fprintf(f, "test_loss %.4f  test_mae %.4f  test_rmse %.4f\n", e->loss, e->mae, e->rmse);
    } else {
        fprintf(f, "test_loss %.4f  test_acc %.4f\n", e->loss, e->acc);
        if (e->pred) print_text(f, m, &x);
    }
    metrics_free(&x);
    return 0;
}
