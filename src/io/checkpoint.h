/*
 * checkpoint.h — layer 2 io, internal: a model as safetensors tensors, for
 * what writes a model among other tensors (training checkpoints).
 */
#ifndef RG_IO_CHECKPOINT_H
#define RG_IO_CHECKPOINT_H
#include "io/safetensors.h"

/* The model's tensors as rg_model_save writes them (pointing into its
 * arena; *t and *names are the caller's to rg_free), and loading them from
 * an open file (tensors "train.*", "optimizer.*" and "fed.*" of a training
 * checkpoint are not the model's and are left alone).  Loading checks
 * every name, shape, dtype and value (finite). */
rg_status rg_model_st_tensors(const rg_model *m, rg_st_tensor_in **t, char **names, size_t *n);
rg_status rg_model_load_st(rg_model *m, const rg_st *st);
/* The model's class names as metadata "classes" holds them (a JSON array;
 * free with cJSON_free), or NULL when it has none or memory ran out. */
char *rg_model_classes_json(const rg_model *m);
#endif
