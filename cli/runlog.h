/*
 * runlog.h — a training log (train --log, JSON lines) read back: its
 * events grouped by kind, and the fields of each kind by name.
 *
 * A run is a set of tables, one per event kind ("config", "step", "epoch",
 * "end", and whatever kinds later versions add), each holding its events
 * in order.  A field is a member of an event that holds a number, a
 * boolean, null or an array of them (a per-worker array), or such a member
 * of an object inside an event, named by its dotted path (regula fed's
 * fed.client_loss.mean); fields are found
 * in the file, not in a list of ours, so the fields of events added later
 * (rounds, staleness) plot without a change here.  Three fields are
 * derived from the epoch events: bytes (every worker's bytes_sent, summed
 * since the start), time (seconds since the start) and comm_share (each
 * worker's comm_seconds over its compute + comm seconds).
 */
#ifndef REGULA_RUNLOG_H
#define REGULA_RUNLOG_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct rl_table {
    const char *event;   /* the kind; points into the first row */
    cJSON **rows;        /* the events, in order (a resumed run's repeats dropped) */
    size_t n, cap;
} rl_table;

typedef struct rl_run {
    const char *path;
    rl_table *tables;
    size_t ntables;
    size_t lines;        /* lines read */
    int ended;           /* an end event was read */
    int cut;             /* the last line was cut short (and left out) */
} rl_run;

/* Reads a log.  Returns 0, or an exit code after printing a message that
 * names the file and line (3: unreadable, not JSON lines, no event).  A
 * last line cut short is left out with a note on stderr. */
int rl_read(const char *path, rl_run *run);
void rl_free(rl_run *run);
const rl_table *rl_table_find(const rl_run *run, const char *event);
/* Kinds of event that happen once per run: their one row stands for the run. */
int rl_table_once(const rl_table *t);

enum { RL_RAW, RL_BYTES, RL_TIME, RL_COMM_SHARE };

/* A field of one run: its table, its name and how it is got. */
typedef struct rl_field {
    const rl_table *t;
    const char *name;
    int kind;            /* RL_RAW or a derived field */
    size_t width;        /* 1, or the widest per-worker array */
} rl_field;

/* Finds NAME or EVENT.NAME in run (NAME may be a path, fed.epsilon; a
 * first part that is no event's kind starts one).  Unqualified names are
 * looked for in the epoch, step and end events, then the others in the
 * order they first appear.  Returns 1 when found. */
int rl_field_find(const rl_run *run, const char *spec, rl_field *out);
/* Unqualified x and y from the first table (in the order above) that
 * has both; 1 when one has. */
int rl_field_pair(const rl_run *run, const char *x, const char *y, rl_field *fx, rl_field *fy);
/* The same within one table (NAME only); 1 when t has it. */
int rl_field_in(const rl_table *t, const char *name, rl_field *out);
/* Value k (0 for a scalar) of row i; NaN where absent or null. */
double rl_value(const rl_field *f, size_t row, size_t k);
/* 1 when that value is in the log as a figure that is not finite. */
int rl_value_nonfinite(const rl_field *f, size_t row, size_t k);

/* The log writes a figure that was computed but is not finite as the
 * string "NaN", "Infinity" or "-Infinity" (null: no such figure).
 * rl_nonfinite: v is one of those; rl_number: v as a number (a number, a
 * boolean or one of those strings) into *out, 1 when it is one. */
int rl_nonfinite(const cJSON *v);
int rl_number(const cJSON *v, double *out);
/* Writes "epoch: acc, bytes, ...; step: ...; end: ..." to buf. */
void rl_field_list(const rl_run *run, char *buf, size_t cap);

#endif
