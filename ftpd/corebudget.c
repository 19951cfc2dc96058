#include "corebudget.h"

#include <fcntl.h>
#include <unistd.h>

#include "log.h"

/* Everything else busy on this many CPUs (of ncpu) or more: one core stays free. */
#define BUSY_MARGIN 1.0
/* ...and only at this many or fewer is the last core given back, so that a load near the
 * line does not flip the limit every tick. */
#define IDLE_MARGIN 1.25

int corebudget_decide(int threads, int current, int ncpu, double others)
{
    if (threads <= 1)
        return 1;
    if (others >= (double)ncpu - BUSY_MARGIN)
        return threads - 1;
    if (others <= (double)ncpu - IDLE_MARGIN)
        return threads;
    return current;
}

static unsigned long long pools_ns(const corebudget *b)
{
    return workq_cpu_ns(b->bg) + workq_cpu_ns(b->fg);
}

static long tick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    corebudget *b = ud;
    cpustat now;
    if (!cpustat_read(b->stat_fd, &now)) {
        workq_set_limit(b->bg, workq_threads(b->bg) - 1); /* blind: a core stays free */
        return EV_TIMER_STOP;
    }
    long long us = ev_monotonic_us();
    unsigned long long pool = pools_ns(b);
    if (b->measured && us > b->last_us) {
        double wall = (double)(us - b->last_us) / 1e6;
        double busy = cpustat_busy_seconds(&b->last, &now);
        double others = (busy - (double)(pool - b->last_pool_ns) / 1e9) / wall;
        int threads = workq_threads(b->bg);
        int current = workq_limit(b->bg);
        int limit = corebudget_decide(threads, current, b->ncpu, others);
        if (limit != current) {
            log_debug("background workers: %d of %d may run (the rest of the machine kept "
                      "%.2f of %d CPUs busy)",
                      limit, threads, others < 0 ? 0.0 : others, b->ncpu);
            workq_set_limit(b->bg, limit);
        }
    }
    b->last = now;
    b->last_pool_ns = pool;
    b->last_us = us;
    b->measured = true;
    return CORE_BUDGET_TICK_MS;
}

void corebudget_init(corebudget *b, workq *bg, workq *fg)
{
    b->bg = bg;
    b->fg = fg;
    b->measured = false;
    ev_timer_init(&b->tick, tick_cb, b);
    b->stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    b->ncpu = n > 0 ? (int)n : 1;
}

void corebudget_transfers_started(corebudget *b, ev_loop *loop)
{
    workq_set_limit(b->bg, workq_threads(b->bg) - 1);
    if (b->stat_fd < 0)
        return;
    b->measured = false;
    tick_cb(loop, &b->tick, b); /* the first reading: the window starts now */
    ev_timer_start(loop, &b->tick, CORE_BUDGET_TICK_MS);
}

void corebudget_transfers_ended(corebudget *b, ev_loop *loop)
{
    ev_timer_stop(loop, &b->tick);
    workq_set_limit(b->bg, workq_threads(b->bg));
}

void corebudget_close(corebudget *b, ev_loop *loop)
{
    ev_timer_stop(loop, &b->tick);
    if (b->stat_fd >= 0)
        close(b->stat_fd);
    b->stat_fd = -1;
}
