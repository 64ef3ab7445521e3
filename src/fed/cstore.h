/*
 * cstore.h — layer 4, federated: the clients' own state (SCAFFOLD's c_i,
 * FedDyn's g_i: `per` floats a client), kept for every client that has
 * taken part, with only a round's clients resident.
 *
 * Two backends (--client-state):
 *  - memory: each client's array allocated when it first trains, kept
 *    till the run ends (the state grows with the clients touched);
 *  - disk: one scratch file, client c's state at byte c x per x 4 (sparse:
 *    a client never seen costs no disk), created in a directory the user
 *    names and unlinked at once (nothing is left behind, even after a
 *    crash).  A round's clients are read into `m` buffers at its start
 *    and written back at its end: memory is m x per floats.
 * A client never seen reads as zeros, on both.
 *
 * A round: rg_cstore_begin hands out a view of each sampled client's state
 * (read-only until rg_cstore_hold), the algorithm updates the views of
 * the clients that trained, rg_cstore_commit keeps them.  A checkpoint's
 * writer thread reads clients' states (rg_cstore_read) while training
 * goes on: it pins the store first, and rg_cstore_hold waits for it to
 * unpin before any state changes.
 */
#ifndef RG_CSTORE_H
#define RG_CSTORE_H
#include "core/core.h"

typedef enum rg_cstore_kind { RG_CSTORE_MEMORY, RG_CSTORE_DISK, RG_CSTORE_AUTO } rg_cstore_kind;
/* --client-state auto: the disk when every client's state would pass this */
#define RG_CSTORE_AUTO_BYTES (1024.0 * 1024.0 * 1024.0)
typedef struct rg_cstore rg_cstore;

/* A store for `clients` clients of per floats each, at most m resident a
 * round; dir: where disk's scratch file goes.  RG_EIO naming
 * --client-state-dir when the file cannot be made there, RG_ENOMEM. */
rg_status rg_cstore_open(rg_cstore **out, rg_cstore_kind kind, const char *dir, size_t clients, size_t per,
                         size_t m);
/* Waits for a checkpoint's reader to unpin, then frees all (NULL: none). */
void rg_cstore_close(rg_cstore *s);
rg_cstore_kind rg_cstore_kind_of(const rg_cstore *s);

/* A round's m clients (ids, each's samples trained: 0 for one that takes
 * no step): view[j] is client ids[j]'s state, zeros if never seen.  The
 * views stay valid till the next begin.  RG_EIO naming the file for a
 * failed read, RG_ENOMEM. */
rg_status rg_cstore_begin(rg_cstore *s, const uint32_t *ids, const uint64_t *trained, size_t m, float **view);
/* 1 while a reader holds the store pinned (the caller waits, servicing
 * its peers, before rg_cstore_hold). */
int rg_cstore_busy(rg_cstore *s);
/* Waits till no reader holds the store: the views may be written after. */
void rg_cstore_hold(rg_cstore *s);
/* The round's clients that trained keep their views as their state (disk:
 * written back).  RG_EIO naming the file for a failed or short write (a
 * full disk). */
rg_status rg_cstore_commit(rg_cstore *s, const uint32_t *ids, const uint64_t *trained, size_t m);

/* Clients with state of their own (that have trained), and whether c is one. */
size_t rg_cstore_count(const rg_cstore *s);
int rg_cstore_has(const rg_cstore *s, size_t c);
/* n floats of client c's state from float off into buf (zeros if never
 * seen).  Safe from another thread while the store is pinned. */
rg_status rg_cstore_read(const rg_cstore *s, size_t c, size_t off, float *buf, size_t n);
/* Client c's whole state (per floats) set to x, as if it had trained (a
 * resumed run). */
rg_status rg_cstore_put(rg_cstore *s, size_t c, const float *x);
/* Which store a run of f over P parameters keeps its clients' state in
 * (--client-state; auto resolved), and, before any output is opened,
 * that disk's directory takes the file (RG_EIO naming --client-state-dir
 * if not).  Both in ckpt.c. */
struct rg_fed_setup;
rg_cstore_kind rg_fed_store_kind(const struct rg_fed_setup *f, size_t P);
rg_status rg_fed_store_check(const struct rg_fed_setup *f, size_t P);
/* Bytes the disk's file takes on its file system (0 for memory). */
uint64_t rg_cstore_disk_bytes(const rg_cstore *s);
/* A reader (a checkpoint's writer thread) holds the state as it is. */
void rg_cstore_pin(rg_cstore *s);
void rg_cstore_unpin(rg_cstore *s);
#endif
