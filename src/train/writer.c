/*
 * writer.c — world rank 0's checkpoint writer, and the final save.
 *
 * A checkpoint costs the step a copy, not a file write and two fsyncs
 * (README: 9 ms each for the reference model here): rank 0 copies the
 * state (weights into a clone of the model, and every array) and a
 * helper thread writes it while training goes on.  At most one write is
 * in flight: the next checkpoint, and the end of training, first wait for
 * it and report its failure.  Waiting, the thread answers peers' liveness
 * pings under MPI: a slow disk is not a dead process.
 */
#include "core/core.h"
#include "comm/dist.h"
#include "nn/model.h"
#include "train/train.h"
#include "fed/fed.h"
#include "fed/cstore.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* A job on a helper thread while the thread that started it may go on. */
typedef struct bg_job {
    rg_status (*fn)(void *arg);
    void *arg;
    pthread_t th;
    int running;
    atomic_int done;
    rg_status st;
    char msg[1024];             /* the helper thread's message (errors are per thread) */
} bg_job;

static void *bg_main(void *p)
{
    bg_job *j = p;
    j->st = j->fn(j->arg);
    snprintf(j->msg, sizeof j->msg, "%s", j->st != RG_OK ? rg_last_error() : "");
    atomic_store(&j->done, 1);
    return NULL;
}

static rg_status bg_start(bg_job *j, rg_status (*fn)(void *), void *arg)
{
    j->fn = fn;
    j->arg = arg;
    atomic_store(&j->done, 0);
    if (pthread_create(&j->th, NULL, bg_main, j) != 0) return rg_error(RG_ENOMEM, "cannot start a helper thread");
    j->running = 1;
    return RG_OK;
}

/* Waits for the job; with report, its failure becomes this thread's error. */
static rg_status bg_wait(bg_job *j, int report)
{
    if (!j->running) return RG_OK;
    while (rg_dist_process() && !atomic_load(&j->done)) {
        rg_dist_service();
        struct timespec nap = { 0, 1000000 };
        nanosleep(&nap, NULL);
    }
    pthread_join(j->th, NULL);
    j->running = 0;
    if (report && j->st != RG_OK) return rg_error(j->st, "%s", j->msg);
    return RG_OK;
}

struct rg_writer {
    const char *dir;
    const rg_config *c;
    int keep;
    rg_model *snap;             /* weights as they were at the snapshot */
    rg_run_state ck;            /* arrays owned here */
    bg_job job;                 /* the write in flight */
    rg_cstore *pinned;          /* regula fed's clients' states, read by the write in flight */
};

rg_status rg_writer_create(rg_writer **out, const char *dir, const rg_config *c, const rg_model *m, int nstate,
                           int world, int has_best)
{
    *out = NULL;
    rg_writer *w = rg_calloc(1, sizeof *w);
    if (!w) return rg_error(RG_ENOMEM, "out of memory: the checkpoint writer");
    w->dir = dir;
    w->c = c;
    w->keep = c->keep;
    w->ck.n.params = rg_model_param_count(m);
    w->ck.n.nstate = (uint64_t)nstate;
    w->ck.n.world = (uint64_t)world;
    w->ck.n.has_best = has_best != 0;
    rg_status st = rg_model_clone(m, &w->snap);
    if (st == RG_OK) st = rg_state_alloc(&w->ck);
    if (st != RG_OK) {
        rg_writer_free(w);
        return st;
    }
    *out = w;
    return RG_OK;
}

rg_run_state *rg_writer_state(rg_writer *w) { return &w->ck; }

float *rg_writer_extra(rg_writer *w, uint64_t n)
{
    if (w->ck.extra_n != n) {
        rg_free(w->ck.extra);
        w->ck.extra_n = n;
        w->ck.extra = n ? rg_calloc((size_t)w->ck.n.world * (size_t)n, sizeof(float)) : NULL;
        if (n && !w->ck.extra) w->ck.extra_n = 0;
    }
    return w->ck.extra;
}

struct rg_fed_state *rg_writer_fed(rg_writer *w)
{
    if (!w->ck.fed) w->ck.fed = rg_calloc(1, sizeof *w->ck.fed);
    return w->ck.fed;
}

rg_status rg_writer_wait(rg_writer *w, int *wrote)
{
    *wrote = 0;
    if (!w || !w->job.running) return RG_OK;
    rg_status st = bg_wait(&w->job, 1);
    *wrote = st == RG_OK;
    return st;
}

static rg_status write_fn(void *arg)
{
    rg_writer *w = arg;
    rg_status st = rg_ckpt_write(w->dir, w->snap, w->c, &w->ck, w->keep);
    if (w->pinned) rg_cstore_unpin(w->pinned);   /* the next server step may change them now */
    return st;
}

rg_status rg_writer_start(rg_writer *w, const rg_model *m, const rg_counters *n, const rg_sums *f)
{
    uint64_t has_best = w->ck.n.has_best;
    w->ck.n = *n;
    w->ck.n.has_best = has_best;
    w->ck.f = *f;
    memcpy(rg_model_params(w->snap), rg_model_params((rg_model *)m), rg_model_param_count(m) * sizeof(float));
    /* regula fed's clients' states are not copied: the write reads them from
     * their store, which keeps them as they are till it is done */
    w->pinned = w->ck.fed ? w->ck.fed->store : NULL;
    if (w->pinned) rg_cstore_pin(w->pinned);
    rg_status st = bg_start(&w->job, write_fn, w);
    if (st != RG_OK && w->pinned) rg_cstore_unpin(w->pinned);
    return st;
}

void rg_writer_free(rg_writer *w)
{
    if (!w) return;
    /* a stop on another path (non-finite, a peer's failure): the write in
     * flight ends as it may; its status is not this stop's */
    bg_wait(&w->job, 0);
    rg_model_free(w->snap);
    rg_state_free(&w->ck);
    rg_free(w);
}

/* ---------------------------------------------------------- final save */

typedef struct save_args {
    const rg_model *m;
    const char *path;
} save_args;

static rg_status save_fn(void *arg)
{
    const save_args *a = arg;
    return rg_model_save(a->m, a->path);
}

rg_status rg_save_serviced(const rg_model *m, const char *path)
{
    /* under MPI the other processes wait for rank 0 meanwhile: the save
     * runs as a job and this thread answers their pings */
    if (!rg_dist_process() || rg_dist_size() == 1) return rg_model_save(m, path);
    save_args a = { m, path };
    bg_job j = { 0 };
    rg_status st = bg_start(&j, save_fn, &a);
    return st == RG_OK ? bg_wait(&j, 1) : st;
}
