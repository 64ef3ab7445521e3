/*
 * schedule.c — learning-rate schedules: constant, step decay, cosine and
 * reduce-on-plateau, each after an optional linear warmup.  A pure function
 * of the step, the epoch and (plateau) the count of cuts so far, so a
 * resumed run finds the rate again from its counters; the trainer decides
 * the cuts at each epoch's end and keeps their count in its checkpoint.
 */
#include "optim/schedule.h"
#include <math.h>

/* lr * gamma^cuts, never below the floor (nor raised to it) */
static double plateau_lr(const rg_lr_schedule *s, uint64_t cuts)
{
    if (cuts == 0) return s->lr;
    double lr = s->lr * pow(s->gamma, (double)cuts);
    return lr < s->lr_min ? (s->lr < s->lr_min ? s->lr : s->lr_min) : lr;
}

int rg_lr_can_cut(const rg_lr_schedule *s, uint64_t cuts)
{
    return plateau_lr(s, cuts) > plateau_lr(s, cuts + 1);
}

double rg_lr_at(const rg_lr_schedule *s, uint64_t step, int epoch, uint64_t cuts)
{
    double lr = s->kind == RG_LR_PLATEAU ? plateau_lr(s, cuts) : s->lr;
    if (s->warmup > 0 && step < (uint64_t)s->warmup) return lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == RG_LR_STEP) {
        long k = s->step_epochs > 0 ? epoch / s->step_epochs : 0;
        return lr * pow(s->gamma, (double)k);
    }
    if (s->kind == RG_LR_COSINE) {
        uint64_t w = (uint64_t)(s->warmup > 0 ? s->warmup : 0);
        double span = s->total_steps > w ? (double)(s->total_steps - w) : 1.0;
        double pos = (double)(step - w) / span;
        if (pos > 1.0) pos = 1.0;
        return s->lr_min + (lr - s->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * pos));
    }
    return lr;
}

int rg_lr_depends_on_length(const rg_lr_schedule *s) { return s->kind == RG_LR_COSINE; }
