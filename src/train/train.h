/*
 * train.h — layer 5, internal: what train.c shares with config.c and
 * resume.c (training checkpoints).
 */
#ifndef RG_TRAIN_H
#define RG_TRAIN_H

#include "core/core.h"

/* RG_OK when a run configured as c may resume from a checkpoint whose
 * configuration is saved_json (rg_config_json of the run that wrote it):
 * every option must match except outputs, --workers, --threads,
 * --shard-optimizer, checkpoint options and --comm-timeout.  Otherwise
 * RG_EUSAGE naming `what` (the checkpoint file), the option and both values. */
rg_status rg_config_resume_check(const rg_config *c, const char *saved_json, const char *what);

#endif
