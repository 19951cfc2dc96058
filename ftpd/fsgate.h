/* One file system that stops answering (a dead NFS server, a stuck FUSE daemon) must not take
 * every worker of a pool: each of its calls holds a worker until it answers, so without a
 * gate every login to a home on it, and every command of its sessions, would take one more,
 * and then the sessions of every other home would wait behind them.
 *
 * The gate counts the jobs of each root (a home: the path a login opens) on the workers:
 * - A root runs up to FSGATE_MAX_RUNNING jobs at once: a busy healthy home keeps its depth,
 *   one slow call (seconds over a slow link) leaves room for the others of its sessions, and
 *   a home that hangs holds at most that many workers.
 * - The others wait, in order, in the root's own queue, and take no worker meanwhile. A job
 *   that may be refused (a login's open, a command's calls) is refused once it has waited
 *   FSGATE_WAIT_MS while no job of its root ended, and at once when FSGATE_QUEUE_MAX wait
 *   already and none ended lately (a busy root that answers keeps them all: each session
 *   has at most one such job), and at once too when the root is known not to answer (a job
 *   of it has run longer than FSGATE_WAIT_MS and none ended meanwhile); a transfer's next
 *   step (a read-ahead, a listing's next buffer, an upload's start or commit) waits as long
 *   as it takes: each transfer has at most one and its session stays until it reports.
 * - Homes on one dead mount are still told apart, and each holds its worker: while all but
 *   one of the io pool's workers are held by jobs that have run longer than FSGATE_STALL_MS,
 *   the pool gets one more worker, up to FSGATE_MAX_THREADS.
 */
#ifndef FSGATE_H
#define FSGATE_H

#include <stdbool.h>

#include "workq.h"

struct server;
typedef struct fsroot fsroot;

/* A job that has run longer than this: its file system is not answering. */
#define FSGATE_STALL_MS 2000
/* A refusable job's longest wait for its turn while its root ends nothing. */
#define FSGATE_WAIT_MS 5000
/* Refusable jobs that may wait for a root that does not answer; the next is refused at
 * once. */
#define FSGATE_QUEUE_MAX 16
/* Jobs of one root on the workers at once (of XFER_IO_THREADS): one is always left to the
 * others. */
#define FSGATE_MAX_RUNNING 3
/* The io pool's workers at most, when homes that hang hold the first ones. */
#define FSGATE_MAX_THREADS 32

/* The root named path, with a reference for the caller (a session); NULL when out of memory
 * (its jobs then go to the pool ungated). */
fsroot *fsgate_root(struct server *srv, const char *path);
/* Drops the caller's reference (r may be NULL). */
void fsgate_unref(struct server *srv, fsroot *r);

/* As workq_submit(q, ...), for file-system work under r (NULL: straight to q). Returns 0, or
 * -1 with errno: EBUSY for a refusable job when r is not answering and FSGATE_QUEUE_MAX
 * refusable jobs already wait for it, or when r is known not to answer (the caller says so to
 * its client).
 * refused: NULL for a job that waits as long as it takes; otherwise the job may be refused
 * after FSGATE_WAIT_MS: *refused is then set and done runs on the loop without fn. */
int fsgate_submit(struct server *srv, fsroot *r, workq *q, workq_fn fn, workq_done_cb done,
                  void *arg, bool *refused);

/* At shutdown, after the pools stopped: frees what the gate holds of their jobs (their own
 * owners free the jobs themselves). */
void fsgate_shutdown(struct server *srv);

#endif
