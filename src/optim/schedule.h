/*
 * schedule.h — layer 2, internal: the learning rate of each step.
 */
#ifndef RG_SCHEDULE_H
#define RG_SCHEDULE_H
#include <stdint.h>

typedef enum { RG_LR_CONSTANT, RG_LR_STEP, RG_LR_COSINE, RG_LR_PLATEAU } rg_lr_kind;

typedef struct rg_lr_schedule {
    rg_lr_kind kind;
    double lr;              /* the base rate */
    long warmup;            /* steps of linear ramp from 0 (0 = none) */
    long step_epochs;       /* step: multiply by gamma every step_epochs epochs */
    double gamma;           /* step, plateau: the factor */
    double lr_min;          /* cosine, plateau: the floor */
    long patience;          /* plateau: epochs without improvement before a cut */
    uint64_t total_steps;   /* cosine: steps of the whole run */
} rg_lr_schedule;

/* The rate of global step `step` (0-based) in epoch `epoch` (0-based),
 * after `cuts` cuts of reduce-on-plateau (0 for other schedules). */
double rg_lr_at(const rg_lr_schedule *s, uint64_t step, int epoch, uint64_t cuts);
/* Plateau: nonzero when one more cut would lower the rate (it is above
 * the floor after `cuts` cuts). */
int rg_lr_can_cut(const rg_lr_schedule *s, uint64_t cuts);
/* 1 when a rate depends on the run's length (total_steps): cosine's does,
 * so a run of more epochs is another run from its first step; constant's,
 * step's and plateau's do not, so a finished run can be extended. */
int rg_lr_depends_on_length(const rg_lr_schedule *s);
#endif
