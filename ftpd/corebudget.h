/* How many background jobs (password checks) may run at once while transfers run.
 *
 * Memory-hard hashes on every core slow a transfer even at idle priority: they share the
 * cores' caches and memory bandwidth, and on a virtual machine a busy sibling vCPU slows the
 * other (bench/README.md). So while transfers run the idle-priority pool keeps one core free
 * for them. That costs a login storm a core, though, where the transfers barely use the CPU
 * (a download paced by a real network costs its sender a few percent): then there is nothing
 * to protect. The budget reads the machine's load every CORE_BUDGET_TICK_MS while transfers
 * run: it frees the pool's last core only while everything but the pool itself leaves most of
 * a core idle, and takes it back as soon as that load nears every core but one. Without
 * /proc/stat the pool keeps a core free, as it always did.
 */
#ifndef COREBUDGET_H
#define COREBUDGET_H

#include <stdbool.h>

#include "cpustat.h"
#include "ev.h"
#include "workq.h"

#define CORE_BUDGET_TICK_MS 250

typedef struct corebudget {
    ev_timer tick;
    int stat_fd; /* /proc/stat, or -1 */
    int ncpu;    /* CPUs /proc/stat sums over */
    workq *bg;   /* the pool limited */
    workq *fg;   /* the other pool: its jobs' CPU is not the rest of the machine's either */
    bool measured;
    cpustat last;
    unsigned long long last_pool_ns;
    long long last_us;
} corebudget;

/* The decision alone: the limit for a pool of `threads` workers now at `current`, when
 * everything but the pools kept `others` CPUs of `ncpu` busy over the last tick. */
int corebudget_decide(int threads, int current, int ncpu, double others);

/* Opens /proc/stat; bg and fg may not be NULL. */
void corebudget_init(corebudget *b, workq *bg, workq *fg);
/* The first transfer started: one core free, then measure. */
void corebudget_transfers_started(corebudget *b, ev_loop *loop);
/* The last transfer ended: every core to the pool, no more ticks. */
void corebudget_transfers_ended(corebudget *b, ev_loop *loop);
void corebudget_close(corebudget *b, ev_loop *loop);

#endif
