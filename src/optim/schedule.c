/*
 * schedule.c — learning-rate schedules: constant, step decay and cosine, each
 * after an optional linear warmup.  A pure function of the step and epoch,
 * so a resumed run finds the rate again from its counters.
 */
#include "optim/schedule.h"
#include <math.h>

double rg_lr_at(const rg_lr_schedule *s, uint64_t step, int epoch)
{
    double lr = s->lr;
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
