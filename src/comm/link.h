/*
 * link.h — layer 3, internal: an emulated network link (comm_link.c).
 */
#ifndef RG_LINK_H
#define RG_LINK_H
#include "comm/comm.h"

typedef struct rg_link {
    double bits_per_s;      /* 0: no link emulated */
    double latency_s;
} rg_link;

/* "BANDWIDTH,LATENCY": "1gbit,50us", "10gbit,5us", "100mbit,1ms"; an empty
 * text is no link (bits_per_s 0).  Errors name --link. */
rg_status rg_link_parse(const char *text, rg_link *out);
/* Seconds `messages` messages carrying `bytes` in all take on the link. */
double rg_link_seconds(const rg_link *l, size_t messages, double bytes);
/* A communicator over inner whose every operation lasts at least what it
 * would on the link (the results are inner's).  owns: inner is freed with
 * it.  Splits are wrapped too. */
rg_status rg_comm_link(rg_comm *inner, const rg_link *link, int owns, rg_comm **out);
/* The communicator c wraps if c is a link's, else NULL. */
rg_comm *rg_comm_link_inner(rg_comm *c);
#endif
