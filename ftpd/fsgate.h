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
 * - Roots on one file system share what is known of it: a root's mount is the longest mount
 *   point of /proc/self/mountinfo that is its path or a parent of it (read on the loop: the
 *   table touches no mounted file system; read again for new roots after a few seconds),
 *   and bind mounts of one file system (one device) count as one. While FSGATE_MOUNT_STALLED
 *   jobs of a mount have run longer than FSGATE_STALL_MS, its other jobs wait in their
 *   roots' queues, and a worker that takes one queued in the pool before hands it back
 *   untouched: a dead mount holds about that many workers, whatever the number of homes on
 *   it (an NFS /home with forty users). A mount where jobs of two roots have run longer
 *   than FSGATE_WAIT_MS while none of its jobs ended is known not to answer: every root on
 *   it refuses refusable jobs at once (one long job of one root, a cold recursive listing,
 *   is that root's own: the other roots on a healthy disk go on). A mount that is slow but
 *   answers goes on: each end lets the next job go, and a job waiting for its mount is
 *   refused only when the mount ended nothing for FSGATE_WAIT_MS. A root with another
 *   mount beneath it (a home of "/", whose paths may cross into any mount) or on no mount
 *   found is its own: told apart by path, as the names are judged by their text (a home
 *   reached through a symbolic link counts on the mount of the link's name).
 * - While all but one of the io pool's workers are held by jobs that have run longer than
 *   FSGATE_STALL_MS (several dead mounts), the pool gets one more worker, up to
 *   FSGATE_MAX_THREADS; a worker above the pool's first ones ends once it has had no job for
 *   FSGATE_IDLE_EXIT_MS, so the pool shrinks back when the file systems answer again.
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
/* Jobs of one mount that may run long at once; its others wait meanwhile. */
#define FSGATE_MOUNT_STALLED 4
/* How long a worker added to the io pool stays without a job before it ends (ms). */
#define FSGATE_IDLE_EXIT_MS 30000

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
