/*
 * runlog.c — reads a training log back (see runlog.h).
 *
 * Each line is parsed with cJSON and kept whole, in the table of its
 * event kind; fields are read from the kept objects when asked for, so no
 * list of fields lives here.  Invariant: every row of a table is an object
 * whose "event" is the table's kind, and a table keyed by a counter of its
 * own name ("epoch" in epoch events, "step" in step events) has that
 * counter increasing: a resumed run logs again the steps and epochs done
 * between its last checkpoint and the crash, and the repeat replaces the
 * first telling.
 *
 * A line that is not a JSON object with an "event" is an error naming the
 * file and line, unless it is the last line: a killed run may have left it
 * half written, so it is left out with a note and the rest still counts.
 */
#include "runlog.h"
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static rl_table *table_for(rl_run *run, const char *event)
{
    for (size_t i = 0; i < run->ntables; i++)
        if (!strcmp(run->tables[i].event, event)) return &run->tables[i];
    rl_table *grown = realloc(run->tables, (run->ntables + 1) * sizeof *grown);
    if (!grown) return NULL;
    run->tables = grown;
    rl_table *t = &run->tables[run->ntables++];
    memset(t, 0, sizeof *t);
    t->event = event;
    return t;
}

/* The table's own counter in row o, or NaN. */
static double counter(const rl_table *t, const cJSON *o)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, t->event);
    return cJSON_IsNumber(c) ? c->valuedouble : NAN;
}

/* Appends o (taking it), first dropping rows it tells again. */
static int table_add(rl_run *run, cJSON *o, const char *event)
{
    rl_table *t = table_for(run, event);
    if (!t) return -1;
    t->event = event;   /* o's own string: o outlives every row it may drop */
    double key = counter(t, o);
    while (t->n > 0 && counter(t, t->rows[t->n - 1]) >= key) cJSON_Delete(t->rows[--t->n]);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        cJSON **grown = realloc(t->rows, cap * sizeof *grown);
        if (!grown) return -1;
        t->rows = grown;
        t->cap = cap;
    }
    t->rows[t->n++] = o;
    return 0;
}

/* Parses one line; on failure writes why into why. */
static cJSON *parse_line(const char *line, size_t len, char *why, size_t cap)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();
        size_t col = at && at >= line && at <= line + len ? (size_t)(at - line) + 1 : 1;
        snprintf(why, cap, "not JSON (column %zu)", col);
        return NULL;
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    if (!cJSON_IsObject(o) || !cJSON_IsString(ev) || !ev->valuestring[0]) {
        snprintf(why, cap, "not an event (a JSON object with an \"event\" string)");
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static FILE *open_log(const char *path, int *code)
{
    FILE *f = fopen(path, "r");
    struct stat sb;
    if (!f) {
        *code = cli_error(CLI_FILE, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &sb) == 0 && (S_ISDIR(sb.st_mode) || S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        *code = cli_error(CLI_FILE, "%s: is a %s, not a log", path, S_ISDIR(sb.st_mode) ? "directory" : "device");
        fclose(f);
        return NULL;
    }
    return f;
}

/* Reads the lines; a bad line is held in bad_line/why until a later line
 * shows it was not the last. */
static int read_lines(FILE *f, rl_run *run)
{
    char *line = NULL, why[160] = "";
    size_t cap = 0, bad_line = 0;
    ssize_t len;
    int code = 0;
    while (!code && (len = getline(&line, &cap, f)) >= 0) {
        run->lines++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        if (bad_line) code = cli_error(CLI_FILE, "%s:%zu: %s", run->path, bad_line, why);
        cJSON *o = code ? NULL : parse_line(line, (size_t)len, why, sizeof why);
        if (!o) {
            bad_line = run->lines;
            continue;
        }
        const char *ev = cJSON_GetObjectItemCaseSensitive(o, "event")->valuestring;
        if (!strcmp(ev, "end")) run->ended = 1;
        if (table_add(run, o, ev)) {
            cJSON_Delete(o);
            code = cli_error(CLI_OTHER, "%s:%zu: out of memory", run->path, run->lines);
        }
    }
    free(line);
    if (!code && ferror(f)) code = cli_error(CLI_FILE, "%s: cannot read: %s", run->path, strerror(errno));
    if (!code && bad_line) {
        run->cut = 1;
        cli_note("%s:%zu: the last line is not a whole event (%s): left out; a run killed while writing "
                 "it leaves such a line", run->path, bad_line, why);
    }
    return code;
}

int rl_read(const char *path, rl_run *run)
{
    int code = 0;
    memset(run, 0, sizeof *run);
    run->path = path;
    FILE *f = open_log(path, &code);
    if (!f) return code;
    code = read_lines(f, run);
    fclose(f);
    if (!code && run->ntables == 0)
        code = cli_error(CLI_FILE, "%s: no events (%s)", path, run->lines ? "no whole line" : "the file is empty");
    if (code) rl_free(run);
    return code;
}

void rl_free(rl_run *run)
{
    for (size_t i = 0; i < run->ntables; i++) {
        for (size_t r = 0; r < run->tables[i].n; r++) cJSON_Delete(run->tables[i].rows[r]);
        free(run->tables[i].rows);
    }
    free(run->tables);
    run->tables = NULL;
    run->ntables = 0;
}

const rl_table *rl_table_find(const rl_run *run, const char *event)
{
    for (size_t i = 0; i < run->ntables; i++)
        if (!strcmp(run->tables[i].event, event)) return &run->tables[i];
    return NULL;
}

int rl_table_once(const rl_table *t) { return !strcmp(t->event, "end") || !strcmp(t->event, "config"); }

/* ------------------------------------------------------------ fields */

int rl_number(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) *out = v->valuedouble;
    else if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v) ? 1 : 0;
    else if (rl_nonfinite(v)) *out = !strcmp(v->valuestring, "NaN") ? NAN : v->valuestring[0] == '-' ? -INFINITY : INFINITY;
    else return 0;
    return 1;
}

int rl_nonfinite(const cJSON *v)
{
    return cJSON_IsString(v) && (!strcmp(v->valuestring, "NaN") || !strcmp(v->valuestring, "Infinity") ||
                                 !strcmp(v->valuestring, "-Infinity"));
}

static int plottable(const cJSON *v)
{
    double x;
    if (rl_number(v, &x) || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsArray(v) || !v->child) return 0;
    for (const cJSON *e = v->child; e; e = e->next)
        if (!cJSON_IsNumber(e) && !cJSON_IsNull(e) && !rl_nonfinite(e)) return 0;
    return 1;
}

static double number(const cJSON *v)
{
    double x;
    return rl_number(v, &x) ? x : NAN;
}

/* The member of o a field's name reaches: NAME itself, or a path of
 * members through nested objects, dot-separated (regula fed's
 * fed.client_loss.mean); NULL when there is none. */
static const cJSON *get(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    const char *dot = strchr(name, '.');
    if (v || !dot || dot - name >= 64) return v;
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(dot - name), name);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsObject(in) ? get(in, dot + 1) : NULL;
}

/* Raw member k of `name` in row i (the member itself for k 0 of a scalar). */
static const cJSON *member(const rl_table *t, size_t i, const char *name, size_t k)
{
    const cJSON *v = get(t->rows[i], name);
    if (!cJSON_IsArray(v)) return k == 0 ? v : NULL;
    return cJSON_GetArrayItem(v, (int)k);
}

/* Raw member's value k in row i; width into *w when not NULL. */
static double raw(const rl_table *t, size_t i, const char *name, size_t k, size_t *w)
{
    if (w) {
        const cJSON *v = get(t->rows[i], name);
        *w = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : v != NULL;
    }
    const cJSON *e = member(t, i, name, k);
    return e ? number(e) : NAN;
}

int rl_value_nonfinite(const rl_field *f, size_t row, size_t k)
{
    return f->kind == RL_RAW && rl_nonfinite(member(f->t, row, f->name, k));
}

static double row_sum(const rl_table *t, size_t i, const char *name)
{
    size_t w;
    double s = raw(t, i, name, 0, &w);
    for (size_t k = 1; k < w; k++) s += raw(t, i, name, k, NULL);
    return s;
}

static const struct derived {
    const char *name, *from;
    int kind;
} g_derived[] = {
    {"bytes", "bytes_sent", RL_BYTES},
    {"time", "seconds", RL_TIME},
    {"comm_share", "comm_seconds", RL_COMM_SHARE},
};

double rl_value(const rl_field *f, size_t row, size_t k)
{
    const rl_table *t = f->t;
    double s = 0;
    switch (f->kind) {
    case RL_BYTES:
    case RL_TIME:   /* running sums since the start */
        if (k) return NAN;
        for (size_t i = 0; i <= row; i++) s += row_sum(t, i, f->kind == RL_BYTES ? "bytes_sent" : "seconds");
        return s;
    case RL_COMM_SHARE: {
        double comm = raw(t, row, "comm_seconds", k, NULL), busy = comm + raw(t, row, "compute_seconds", k, NULL);
        return busy > 0 ? comm / busy : NAN;
    }
    }
    return raw(t, row, f->name, k, NULL);
}

/* Widest value of name in t; 0 when no row has it plottable. */
static size_t width_in(const rl_table *t, const char *name)
{
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        const cJSON *v = get(t->rows[i], name);
        if (!v || !plottable(v)) continue;
        size_t n = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
        if (n > w) w = n;
    }
    return w;
}

int rl_field_in(const rl_table *t, const char *name, rl_field *out)
{
    size_t w = width_in(t, name);
    if (w && strcmp(name, "event")) {
        *out = (rl_field){t, name, RL_RAW, w};
        return 1;
    }
    if (strcmp(t->event, "epoch")) return 0;
    for (size_t d = 0; d < sizeof g_derived / sizeof *g_derived; d++)
        if (!strcmp(name, g_derived[d].name) && (w = width_in(t, g_derived[d].from)) > 0) {
            *out = (rl_field){t, g_derived[d].name, g_derived[d].kind, g_derived[d].kind == RL_COMM_SHARE ? w : 1};
            return 1;
        }
    return 0;
}

/* Tables in the order unqualified names are looked up. */
static size_t search_order(const rl_run *run, const rl_table **order)
{
    static const char *const first[] = {"epoch", "step", "end"};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        if ((order[n] = rl_table_find(run, first[i])) != NULL) n++;
    for (size_t i = 0; i < run->ntables; i++)
        if (strcmp(run->tables[i].event, "epoch") && strcmp(run->tables[i].event, "step") &&
            strcmp(run->tables[i].event, "end"))
            order[n++] = &run->tables[i];
    return n;
}

int rl_field_find(const rl_run *run, const char *spec, rl_field *out)
{
    const char *dot = strchr(spec, '.');
    if (dot) {   /* EVENT.FIELD; else a path into an object (fed.epsilon), looked for as a name */
        char event[64];
        snprintf(event, sizeof event, "%.*s", (int)(dot - spec), spec);
        const rl_table *t = rl_table_find(run, event);
        if (t && rl_field_in(t, dot + 1, out)) return 1;
    }
    const rl_table **order = malloc((run->ntables + 3) * sizeof *order);
    int found = 0;
    size_t n = order ? search_order(run, order) : 0;
    for (size_t i = 0; i < n && !found; i++) found = rl_field_in(order[i], spec, out);
    free(order);
    return found;
}

int rl_field_pair(const rl_run *run, const char *x, const char *y, rl_field *fx, rl_field *fy)
{
    const rl_table **order = malloc((run->ntables + 3) * sizeof *order);
    int found = 0;
    size_t n = order && !strchr(x, '.') && !strchr(y, '.') ? search_order(run, order) : 0;
    for (size_t i = 0; i < n && !found; i++) found = rl_field_in(order[i], x, fx) && rl_field_in(order[i], y, fy);
    free(order);
    return found;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The names of a table's fields, each once: its members' names, and
 * PREFIX.NAME for the members of nested objects (paths kept in held). */
typedef struct name_set {
    const char *name[256];
    char held[128][96];
    size_t n, nheld;
} name_set;

static void collect(const rl_table *t, const cJSON *o, const char *prefix, name_set *out)
{
    rl_field f;
    for (const cJSON *m = o->child; m && out->n < 250; m = m->next) {
        char path[96];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", m->string);
        if (cJSON_IsObject(m)) {   /* a round's figures; not the config event's settings (a long list) */
            if (!rl_table_once(t) && strlen(prefix) + strlen(m->string) < 64) collect(t, m, path, out);
            continue;
        }
        int seen = !rl_field_in(t, path, &f);   /* not plottable counts as seen */
        for (size_t j = 0; j < out->n && !seen; j++) seen = !strcmp(out->name[j], path);
        if (seen) continue;
        if (!prefix[0]) out->name[out->n++] = m->string;
        else if (out->nheld < sizeof out->held / sizeof *out->held) {
            memcpy(out->held[out->nheld], path, sizeof path);
            out->name[out->n++] = out->held[out->nheld++];
        }
    }
}

/* Appends "EVENT: a, b, c" for one table: its fields, sorted. */
static void list_table(const rl_table *t, char *buf, size_t cap)
{
    static name_set ns;   /* large; the CLI lists from one thread */
    const char **names = ns.name;
    size_t n, len = strlen(buf);
    rl_field f;
    ns.n = ns.nheld = 0;
    for (size_t i = 0; i < t->n; i++) collect(t, t->rows[i], "", &ns);
    n = ns.n;
    for (size_t d = 0; d < sizeof g_derived / sizeof *g_derived; d++)
        if (rl_field_in(t, g_derived[d].name, &f) && f.kind != RL_RAW) names[n++] = g_derived[d].name;
    if (!n) return;
    qsort(names, n, sizeof *names, cmp_str);
    len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s: ", len ? "; " : "", t->event);
    for (size_t j = 0; j < n && len < cap; j++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", j ? ", " : "", names[j]);
}

void rl_field_list(const rl_run *run, char *buf, size_t cap)
{
    const rl_table **order = malloc((run->ntables + 3) * sizeof *order);
    buf[0] = 0;
    size_t n = order ? search_order(run, order) : 0;
    for (size_t i = 0; i < n; i++) list_table(order[i], buf, cap);
    free(order);
}
