/* A small pool of worker threads for slow work (password hashes, checksums of large files).
 * A job's work function runs on a worker; its done callback runs later on the loop thread,
 * woken through an eventfd, so the loop never blocks on the work.
 */
#ifndef WORKQ_H
#define WORKQ_H

#include <stddef.h>

#include "ev.h"

typedef struct workq workq;
typedef void (*workq_fn)(void *arg);
typedef void (*workq_done_cb)(void *arg);

/* Starts `threads` workers (>= 1) and registers the wake-up fd on loop. NULL with errno. The
 * workers run at the lowest priority (SCHED_IDLE): background work takes only idle CPU. */
workq *workq_new(ev_loop *loop, int threads);
/* As workq_new, but the workers keep the loop's priority: for work that is part of moving
 * data (an upload's copy into its file), which must get its share of the CPU. */
workq *workq_new_foreground(ev_loop *loop, int threads);
/* Waits for running jobs, drops queued ones without calling them, joins the threads and
 * unregisters from the loop. Done callbacks of finished jobs not yet delivered are not run. */
void workq_free(workq *q);
/* Queues a job. fn runs on a worker with arg; done then runs on the loop thread with arg.
 * arg must stay valid until done runs. Returns 0 or -1 with errno. */
int workq_submit(workq *q, workq_fn fn, workq_done_cb done, void *arg);
/* Lets at most `limit` (>= 1) jobs run at once; workers above it wait. Starts at the number
 * of threads. A server lowers it while transfers run, so background work never takes every
 * core (and the memory bandwidth with them) from the loop. Jobs already running finish. */
void workq_set_limit(workq *q, int limit);
int workq_limit(workq *q);
int workq_threads(const workq *q);
/* Starts one more worker and raises the limit by one: for a pool whose workers may be held
 * by calls that never return (a file system that does not answer), so the work of others
 * still finds one. Returns 0, or -1 with errno. Loop thread only. */
int workq_add_thread(workq *q);
/* Lets the workers above the pool's first `threads` (those workq_add_thread started) end
 * once they have had no job for ms (0: never, the default), while more than two workers are
 * idle: a pool grown while calls hung shrinks back when they answer again, and keeps what
 * it needs while they hang. The loop thread joins them as it delivers. */
void workq_set_idle_exit(workq *q, int ms);
/* CPU time (ns) the pool's threads have used so far, jobs under way included: what a caller
 * measuring the machine's load subtracts to see everything else. */
unsigned long long workq_cpu_ns(workq *q);
/* hook runs on a worker, outside the lock, each time it finds the queue empty and is about
 * to sleep, and once more as it exits: the place to drop per-thread caches. */
void workq_set_idle_hook(workq *q, void (*hook)(void));
/* Jobs queued or running, not yet delivered. */
size_t workq_pending(const workq *q);

#endif
