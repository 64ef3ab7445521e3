/*
 * inspect.c — `regula inspect`: what a file holds, in brief.
 *
 * A safetensors file (a checkpoint, a training checkpoint, any other
 * program's) is read through the library's public reader
 * (rg_safetensors_*: every length checked before use); each tensor gets a
 * row: dtype, shape, elements, L2 norm, largest magnitude, mean, sparsity
 * (the share of exact zeros), and the metadata follows.  A training log
 * (train --log) is read by runlog.c and told as the run in brief: its
 * configuration, best epoch, last epoch and final figures.
 *
 * Which is which comes from the content, not the name: a safetensors file
 * starts with an 8-byte header length and then "{"; a log starts with "{".
 */
#include "cli.h"
#include "runlog.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_SAFETENSORS = 1, KIND_LOG };

static int sniff(const char *path, int *kind)
{
    unsigned char b[9];
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error(CLI_FILE, "%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n == sizeof b && b[8] == '{') *kind = KIND_SAFETENSORS;
    else if (n > 0 && b[0] == '{') *kind = KIND_LOG;
    else
        return cli_error(CLI_FILE, "%s: neither a safetensors file nor a training log (train --log)%s", path,
                         n == 0 ? ": the file is empty" : "");
    return 0;
}

/* ------------------------------------------------------------ safetensors */

static void print_shape(char *buf, size_t cap, const rg_tensor_info *t)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%zu", d ? ", " : "", t->shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static void print_meta(const rg_safetensors *f, int full)
{
    size_t n = rg_safetensors_meta_count(f), w = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        rg_safetensors_meta(f, i, &k, &v);
        if (strlen(k) > w) w = strlen(k);
    }
    printf("metadata: %zu key%s\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        rg_safetensors_meta(f, i, &k, &v);
        size_t len = strlen(v);
        if (full || len <= 100) printf("  %-*s  %s\n", (int)w, k, v);
        else printf("  %-*s  %.90s... (%zu characters; --full prints it whole)\n", (int)w, k, v, len);
    }
}

static int print_tensors(const rg_safetensors *f)
{
    size_t n = rg_safetensors_count(f), w = 6, total = 0;
    rg_tensor_info t;
    rg_tensor_stats s;
    for (size_t i = 0; i < n; i++)
        if (rg_safetensors_tensor(f, i, &t, NULL) == RG_OK && strlen(t.name) > w) w = strlen(t.name);
    printf("  %-*s  %-5s  %-14s %10s  %-12s  %-12s  %-13s  %s\n", (int)w, "tensor", "dtype", "shape", "elements",
           "L2 norm", "max |x|", "mean", "sparsity");
    for (size_t i = 0; i < n; i++) {
        rg_status st = rg_safetensors_tensor(f, i, &t, &s);
        if (st) return cli_error(CLI_FILE, "%s", rg_last_error());
        char shape[128];
        print_shape(shape, sizeof shape, &t);
        printf("  %-*s  %-5s  %-14s %10zu  %-12.6g  %-12.6g  %-13.6g  %.2f%%", (int)w, t.name, t.dtype, shape, t.count,
               s.l2, s.max_abs, s.mean, t.count ? 100.0 * (double)s.zeros / (double)t.count : 0.0);
        if (s.nonfinite) printf("  (%zu NaN or infinite)", s.nonfinite);
        putchar('\n');
        total += t.count;
    }
    printf("  %zu tensor%s, %zu elements\n", n, n == 1 ? "" : "s", total);
    return 0;
}

static int inspect_safetensors(const char *path, int full)
{
    rg_safetensors *f;
    rg_status st = rg_safetensors_open(path, &f);
    if (st) return cli_error(st == RG_ENOMEM ? CLI_OTHER : CLI_FILE, "%s", rg_last_error());
    printf("%s: safetensors\n", path);
    int code = print_tensors(f);
    if (!code) print_meta(f, full);
    rg_safetensors_free(f);
    return code;
}

/* ------------------------------------------------------------ logs */

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

/* A figure as %.6g, or "-" when absent or null. */
static const char *fig(char *buf, double v)
{
    if (isnan(v)) return "-";
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

/* Member key of o as a figure: %.6g, NaN or inf as the log has them, "-"
 * when absent or null (no such figure). */
static const char *figure(char *buf, const cJSON *o, const char *key)
{
    double v;
    if (!rl_number(cJSON_GetObjectItemCaseSensitive(o, key), &v)) return "-";
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

static const cJSON *last(const rl_run *run, const char *event)
{
    const rl_table *t = rl_table_find(run, event);
    return t && t->n ? t->rows[t->n - 1] : NULL;
}

/* A regula fed log: its configuration has clients (train's has 0). */
static int is_fed(const rl_run *run)
{
    const cJSON *c = last(run, "config"), *k = c ? cJSON_GetObjectItemCaseSensitive(c, "config") : NULL;
    return num(k, "clients") > 0;
}

/* regula fed: the federated settings (its clients, rounds, algorithm and
 * server), in place of train's workers' strategy. */
static void print_fed_config(const cJSON *c, const cJSON *k)
{
    char b[32], local[48], algo[64];
    double m = floor(num(k, "sample") * num(k, "clients") + 0.5);   /* rg_fed_sampled's rounding */
    if (num(k, "local-steps") > 0) snprintf(local, sizeof local, "%.0f local steps", num(k, "local-steps"));
    else snprintf(local, sizeof local, "%.0f local epoch%s", fmax(num(k, "local-epochs"), 1),
                  fmax(num(k, "local-epochs"), 1) == 1 ? "" : "s");
    if (!strcmp(str(k, "algo"), "fedprox")) snprintf(algo, sizeof algo, "fedprox (mu %s)", fig(b, num(k, "mu")));
    else snprintf(algo, sizeof algo, "%s", str(k, "algo"));
    printf("federated:   %s, %.0f clients (partition %s), %.0f a round, %s, aggregate %s, reg-scope %s, "
           "mu-adapt %s\n", algo, num(k, "clients"), str(k, "partition"), m < 1 ? 1 : fmin(m, num(k, "clients")), local,
           str(k, "aggregate"), str(k, "reg-scope"), str(k, "mu-adapt"));
    printf("workers:     %.0f in %.0f process%s\n", num(c, "workers"), num(c, "processes"),
           num(c, "processes") == 1 ? "" : "es");
}

static void print_config(const rl_run *run)
{
    const cJSON *c = last(run, "config");
    if (!c) {
        printf("config:      - (no config event)\n");
        return;
    }
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(c, "config");
    int fed = is_fed(run);
    char b[32];
    printf("model:       %s (%s parameters)\n", str(c, "model"), fig(b, num(c, "params")));
    printf("data:        %s, %s training samples, validation %s\n", str(k, "data"), fig(b, num(c, "train_samples")),
           str(c, "validation"));
    printf("training:    %s, lr %s, batch %.0f, %.0f %s, seed %.0f\n", str(k, "optimizer"), fig(b, num(k, "lr")),
           num(k, "batch"), num(k, fed ? "rounds" : "epochs"), fed ? "rounds" : "epochs", num(k, "seed"));
    if (fed) {
        print_fed_config(c, k);
        return;
    }
    printf("workers:     %.0f in %.0f process%s, strategy %s, partition %s, worker-batch %s, reg-scope %s, "
           "reg-adapt %s\n", num(c, "workers"), num(c, "processes"), num(c, "processes") == 1 ? "" : "es",
           str(c, "strategy"), str(k, "partition"), str(k, "worker-batch"), str(k, "reg-scope"), str(k, "reg-adapt"));
}

/* regula fed: the last round's clients (those that reported of those
 * sampled, their figures, epsilon) and the bytes of every round. */
static void print_clients(const rl_run *run)
{
    const rl_table *ep = rl_table_find(run, "epoch");
    const cJSON *e = last(run, "epoch"), *r = e ? cJSON_GetObjectItemCaseSensitive(e, "fed") : NULL;
    if (!cJSON_IsObject(r)) return;
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(r, "client_loss");
    const char *an = cJSON_GetObjectItemCaseSensitive(r, "client_mae") ? "client_mae" : "client_acc";
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(r, an);
    char b[6][32];
    printf("clients:     round %.0f: %.0f of %.0f reported", num(e, "epoch"), num(r, "trained"), num(r, "clients"));
    if (num(r, "trained") > 0)
        printf(", client_loss %s+-%s worst10 %s, %s %s+-%s worst10 %s", figure(b[0], loss, "mean"),
               figure(b[1], loss, "std"), figure(b[2], loss, "worst10"), an, figure(b[3], acc, "mean"),
               figure(b[4], acc, "std"), figure(b[5], acc, "worst10"));
    if (cJSON_GetObjectItemCaseSensitive(r, "epsilon")) printf(", epsilon %s", figure(b[0], r, "epsilon"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "kept"))) printf(" (model kept)");
    double up = 0, down = 0;
    size_t kept = 0;
    for (size_t i = 0; ep && i < ep->n; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ep->rows[i], "fed");
        up += cJSON_IsObject(x) && !isnan(num(x, "bytes_up")) ? num(x, "bytes_up") : 0;
        down += cJSON_IsObject(x) && !isnan(num(x, "bytes_down")) ? num(x, "bytes_down") : 0;
        kept += (size_t)(cJSON_IsObject(x) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "kept")));
    }
    printf("\nrounds:      %.0f bytes up, %.0f bytes down (the clients' updates and the global model), "
           "%zu round%s kept the model\n", up, down, kept, kept == 1 ? "" : "s");
}

/* The best epoch: the end event's, else the monitored figure's best. */
static const cJSON *best_epoch(const rl_run *run, const char *monitor)
{
    const rl_table *ep = rl_table_find(run, "epoch");
    const cJSON *end = last(run, "end"), *best = NULL;
    double want = end ? num(end, "best_epoch") : NAN, b = NAN;
    int maximise = !strcmp(monitor, "val_acc");
    for (size_t i = 0; ep && i < ep->n; i++) {
        double v = num(ep->rows[i], monitor), e = num(ep->rows[i], "epoch");
        if (!isnan(want) ? e == want : !isnan(v) && (isnan(b) || (maximise ? v > b : v < b))) {
            best = ep->rows[i];
            b = v;
        }
    }
    return best;
}

static void print_epoch(const char *what, const cJSON *e)
{
    char b[5][32];
    if (!e) {
        printf("%-12s - (%s)\n", what, strstr(what, "round") ? "no round logged" : "no epoch event");
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(e, "mae"))   /* a regression's (--loss mse|mae) */
        printf("%-12s %.0f: loss %s, mae %s, val_loss %s, val_mae %s\n", what, num(e, "epoch"), figure(b[0], e, "loss"),
               figure(b[1], e, "mae"), figure(b[2], e, "val_loss"), figure(b[3], e, "val_mae"));
    else
        printf("%-12s %.0f: loss %s, acc %s, val_loss %s, val_acc %s\n", what, num(e, "epoch"), figure(b[0], e, "loss"),
               figure(b[1], e, "acc"), figure(b[2], e, "val_loss"), figure(b[3], e, "val_acc"));
}

static void print_totals(const rl_run *run)
{
    const rl_table *ep = rl_table_find(run, "epoch");
    rl_field bytes, time;
    char b[32];
    int has_b = ep && ep->n && rl_field_in(ep, "bytes", &bytes), has_t = ep && ep->n && rl_field_in(ep, "time", &time);
    printf("totals:      %s s of training, ", fig(b, has_t ? rl_value(&time, ep->n - 1, 0) : NAN));
    if (has_b) printf("%.0f bytes sent by the workers\n", rl_value(&bytes, ep->n - 1, 0));
    else printf("- bytes sent\n");
}

static void print_end(const rl_run *run)
{
    const cJSON *end = last(run, "end");
    char b[6][32];
    if (!end) return;
    if (!strcmp(str(end, "stopped"), "nonfinite"))
        printf("stopped:     a non-finite loss or gradient at step %.0f\n", num(end, "step"));
    if (!strcmp(str(end, "stopped"), "nonfinite_outputs"))
        printf("stopped:     the final model's outputs are not finite (its figures below); nothing was saved\n");
    const char *f = cJSON_GetObjectItemCaseSensitive(end, "train_mae") ? "mae" : "acc";   /* regression: mae */
    char k[3][16];
    snprintf(k[0], sizeof k[0], "test_%s", f);
    snprintf(k[1], sizeof k[1], "train_%s", f);
    snprintf(k[2], sizeof k[2], "val_%s", f);
    printf("end:         test_loss %s, %s %s, train_loss %s, %s %s, val_loss %s, %s %s%s\n",
           figure(b[0], end, "test_loss"), k[0], figure(b[1], end, k[0]), figure(b[2], end, "train_loss"), k[1],
           figure(b[3], end, k[1]), figure(b[4], end, "val_loss"), k[2], figure(b[5], end, k[2]),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(end, "stopped_early")) ? " (stopped early)" : "");
    if (num(end, "left_out") > 0)
        printf("left out:    %.0f samples of the final figures, their outputs not finite (--skip-nonfinite)\n",
               num(end, "left_out"));
}

static int inspect_log(const char *path)
{
    rl_run run;
    int code = rl_read(path, &run);
    if (code) return code;
    const rl_table *ep = rl_table_find(&run, "epoch"), *steps = rl_table_find(&run, "step");
    const cJSON *end = last(&run, "end"), *c = last(&run, "config");
    const cJSON *k = c ? cJSON_GetObjectItemCaseSensitive(c, "config") : NULL;
    const char *monitor = k && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(k, "monitor")) ? str(k, "monitor") : "val_loss";
    char b[32];
    int fed = is_fed(&run);
    double count = end ? num(end, "epochs_run") : ep ? (double)ep->n : 0.0;
    const char *unit = fed ? (count == 1.0 ? "round" : "rounds") : (count == 1.0 ? "epoch" : "epochs");
    if (end)
        printf("%s: a finished %srun: %.0f %s, %.0f steps\n", path, fed ? "federated " : "", count, unit,
               num(end, "steps"));
    else
        printf("%s: an unfinished %srun (no end event: killed, or still running): %.0f %s logged, last step %s\n",
               path, fed ? "federated " : "", count, unit,
               fig(b, steps && steps->n ? num(steps->rows[steps->n - 1], "step") : NAN));
    print_config(&run);
    print_epoch(fed ? "best round:" : "best epoch:", best_epoch(&run, monitor));
    print_epoch(fed ? "last round:" : "last epoch:", last(&run, "epoch"));
    if (fed) print_clients(&run);
    print_end(&run);
    print_totals(&run);
    rl_free(&run);
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    const cli_command *cmd = cli_command_find("inspect");
    cli_args a;
    int code = cli_parse(cmd, argc, argv, &a);
    if (code) return code;
    if (a.nwords == 0) code = cli_error(CLI_USAGE, "inspect needs a file (FILE.safetensors or FILE.jsonl)");
    for (size_t i = 0; !code && i < a.nwords; i++) {
        int kind = 0;
        if (i) putchar('\n');
        code = sniff(a.words[i], &kind);
        if (!code) code = kind == KIND_LOG ? inspect_log(a.words[i]) : inspect_safetensors(a.words[i], a.value[0] != NULL);
    }
    cli_args_free(&a);
    return code;
}
