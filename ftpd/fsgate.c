/* Per-root admission to the worker pools (fsgate.h). */
#include "fsgate.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev.h"
#include "log.h"
#include "mounttab.h"
#include "server.h"

#define FSGATE_BUCKETS 256
/* The mount table read last is used for new roots this long (ms), then read again. */
#define FSGATE_MOUNTS_MS 5000
/* How soon a job the pool could not take (out of memory) is tried again when none of its
 * mount's jobs is running, whose end would try it. */
#define FSGATE_RETRY_MS 100

/* The file system the roots on it share: what one root learns of a dead mount, each root of
 * it knows, and together they hold a bounded number of workers (fsgate.h). */
typedef struct fsmount {
    char *dev;      /* mounttab's "major:minor"; NULL: one root's own (fsgate_root) */
    unsigned roots; /* roots on it */
    int running;    /* jobs handed to a pool, not delivered */
    struct gate_job *run_head;
    long long last_done; /* when a job of it last ended (monotonic ms); 0: never */
    /* Set by the loop while FSGATE_MOUNT_STALLED of its jobs run long: a worker that takes
     * one of its jobs then hands it back untouched, rather than hang there too. */
    atomic_bool full;
    struct fsroot *roots_head; /* its roots, for the turn of their waiting jobs */
    /* A root's jobs waited for the mount rather than for their root (pump): only then does
     * the end of a job of the mount give the other roots a turn (pump_mount), so a busy
     * healthy disk with thousands of homes does not walk them all at every job's end. */
    bool blocked;
    struct fsmount *prev, *next; /* in srv->fsmounts */
} fsmount;

typedef struct gate_job {
    fsroot *r;
    workq *q;
    workq_fn fn;
    workq_done_cb done;
    void *arg;
    bool *refused;          /* NULL: waits as long as it takes */
    long long deadline;     /* while waiting, refusable: when it is refused */
    long long queued;       /* when it was submitted (monotonic ms) */
    unsigned long long seq; /* its root's count of submits: its place in the queue */
    /* Its mount was full when a worker took it: fn did not run, it waits again. Written by
     * the worker, read by the loop after the pool delivered it. */
    bool handed_back;
    /* When a worker took it (monotonic ms), 0 before: a job queued behind others' in the
     * pool is not the one that hangs. Written by the worker, read by the loop. */
    atomic_llong started;
    struct gate_job *prev, *next;   /* in the root's running or waiting list */
    struct gate_job *mprev, *mnext; /* in its mount's running list, while there */
    struct gate_job *aprev, *anext; /* in srv->io_running, while there */
    bool on_io;
} gate_job;

struct fsroot {
    server *srv;
    char *path;
    fsmount *m;
    fsroot *mprev, *mnext; /* in m's roots */
    unsigned refs;         /* sessions */
    int running;
    int refusable; /* waiting jobs that may be refused */
    gate_job *run_head;
    gate_job *wait_head, *wait_tail;
    long long last_done;    /* when a job of it last ended (monotonic ms); 0: never */
    unsigned long long seq; /* jobs submitted */
    ev_timer timer;         /* the first refusable waiting job's deadline */
    fsroot *next;           /* in its bucket */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t bucket_of(const char *path)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % FSGATE_BUCKETS;
}

static long timer_cb(ev_loop *loop, ev_timer *t, void *ud);
static long watch_cb(ev_loop *loop, ev_timer *t, void *ud);

/* The mount path lies on, with a reference for a new root; NULL when out of memory. Roots
 * whose mount is not known, or that have other mounts beneath them (a home of "/": its calls
 * may reach any file system), get one of their own: they are told apart by path alone. */
static fsmount *mount_of(server *srv, const char *path)
{
    long long now = now_ms();
    if (!srv->mounttab || now - srv->mounttab_at > FSGATE_MOUNTS_MS) {
        mounttab *t = srv->mounttab ? srv->mounttab : calloc(1, sizeof *t);
        if (t) {
            mounttab fresh;
            if (mounttab_load(&fresh, "/proc/self/mountinfo") == 0) {
                mounttab_clear(t);
                *t = fresh;
            }
            srv->mounttab = t;
            srv->mounttab_at = now;
        }
    }
    const char *dev = srv->mounttab ? mounttab_device(srv->mounttab, path) : NULL;
    if (dev) {
        for (fsmount *m = srv->fsmounts; m; m = m->next) {
            if (m->dev && strcmp(m->dev, dev) == 0) {
                m->roots++;
                return m;
            }
        }
    }
    fsmount *m = calloc(1, sizeof *m);
    if (!m || (dev && !(m->dev = strdup(dev)))) {
        free(m);
        return NULL;
    }
    atomic_init(&m->full, false);
    m->roots = 1;
    m->next = srv->fsmounts;
    if (m->next)
        m->next->prev = m;
    srv->fsmounts = m;
    return m;
}

static void mount_unref(server *srv, fsmount *m)
{
    if (--m->roots)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        srv->fsmounts = m->next;
    if (m->next)
        m->next->prev = m->prev;
    free(m->dev);
    free(m);
}

fsroot *fsgate_root(server *srv, const char *path)
{
    if (!srv->fsroots) {
        srv->fsroots = calloc(FSGATE_BUCKETS, sizeof *srv->fsroots);
        if (!srv->fsroots)
            return NULL;
        ev_timer_init(&srv->io_watch, watch_cb, srv);
    }
    fsroot **b = &srv->fsroots[bucket_of(path)];
    for (fsroot *r = *b; r; r = r->next) {
        if (strcmp(r->path, path) == 0) {
            r->refs++;
            return r;
        }
    }
    fsroot *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return NULL;
    }
    if (!(r->m = mount_of(srv, path))) {
        free(r->path);
        free(r);
        return NULL;
    }
    r->mnext = r->m->roots_head;
    if (r->mnext)
        r->mnext->mprev = r;
    r->m->roots_head = r;
    r->srv = srv;
    r->refs = 1;
    ev_timer_init(&r->timer, timer_cb, r);
    r->next = *b;
    *b = r;
    srv->nfsroots++;
    return r;
}

/* Frees r once no session refers to it and no job of it is left. */
static void maybe_free(fsroot *r)
{
    if (r->refs || r->running || r->wait_head)
        return;
    server *srv = r->srv;
    fsroot **pp = &srv->fsroots[bucket_of(r->path)];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (srv->loop)
        ev_timer_stop(srv->loop, &r->timer);
    if (r->mprev)
        r->mprev->mnext = r->mnext;
    else
        r->m->roots_head = r->mnext;
    if (r->mnext)
        r->mnext->mprev = r->mprev;
    mount_unref(srv, r->m);
    free(r->path);
    free(r);
    if (--srv->nfsroots == 0) { /* and so no job is left */
        if (srv->loop)
            ev_timer_stop(srv->loop, &srv->io_watch);
        free(srv->fsroots);
        srv->fsroots = NULL;
    }
}

void fsgate_unref(server *srv, fsroot *r)
{
    (void)srv;
    if (r) {
        r->refs--;
        maybe_free(r);
    }
}

static void unlink_job(gate_job **head, gate_job **tail, gate_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else if (tail)
        *tail = j->prev;
    j->prev = j->next = NULL;
}

/* When what r's waiting jobs wait for last ended: r, or, while r has room and they wait for
 * its mount rather than for it, the later of r and its mount. */
static long long last_end(const fsroot *r)
{
    long long last = r->last_done;
    if (r->running < FSGATE_MAX_RUNNING && r->m->last_done > last)
        last = r->m->last_done;
    return last;
}

/* Whether what r's waiting jobs wait for ended one lately. */
static bool answers(const fsroot *r)
{
    long long last = last_end(r);
    return last != 0 && now_ms() - last <= FSGATE_STALL_MS;
}

/* Whether r is known not to answer: one of its jobs has run longer than FSGATE_WAIT_MS and
 * none ended meanwhile. A refusable job would only wait those seconds again to be refused (a
 * client that retries would pay them each time), or take one more worker and hang there. */
static bool hung(const fsroot *r)
{
    long long now = now_ms();
    if (r->last_done != 0 && now - r->last_done <= FSGATE_WAIT_MS)
        return false;
    for (const gate_job *j = r->run_head; j; j = j->next) {
        long long started = atomic_load(&j->started);
        if (started && now - started > FSGATE_WAIT_MS)
            return true;
    }
    return false;
}

/* Whether m is known not to answer: what roots on a dead mount learnt, every root on it
 * knows, so that each does not take its own workers to learn it. Jobs of two roots must have
 * run longer than FSGATE_WAIT_MS (and none of the mount ended meanwhile): one long call (a
 * cold recursive listing, the free of a huge replaced file) is that root's own hung(), and
 * would otherwise refuse every other home on a healthy disk while it runs (review). */
static bool mount_hung(const fsmount *m)
{
    long long now = now_ms();
    if (m->last_done != 0 && now - m->last_done <= FSGATE_WAIT_MS)
        return false;
    const fsroot *first = NULL;
    for (const gate_job *j = m->run_head; j; j = j->mnext) {
        long long started = atomic_load(&j->started);
        if (!started || now - started <= FSGATE_WAIT_MS)
            continue;
        if (first && j->r != first)
            return true;
        first = j->r;
    }
    return false;
}

/* Whether m has as many jobs running long as it may (fsgate.h): its other jobs then wait in
 * their roots' queues, so that one dead mount holds a bounded number of workers whatever the
 * number of homes on it. Tells the workers too (work_fn). */
static bool mount_full(fsmount *m)
{
    long long now = now_ms();
    /* A mount whose jobs end is slow at worst, not dead: it keeps its depth, and a busy one
     * with many jobs under way is not scanned at every turn. */
    if (m->running < FSGATE_MOUNT_STALLED ||
        (m->last_done != 0 && now - m->last_done <= FSGATE_STALL_MS)) {
        atomic_store(&m->full, false);
        return false;
    }
    int stalled = 0;
    for (const gate_job *j = m->run_head; j && stalled < FSGATE_MOUNT_STALLED; j = j->mnext) {
        long long started = atomic_load(&j->started);
        if (started && now - started > FSGATE_STALL_MS)
            stalled++;
    }
    bool full = stalled >= FSGATE_MOUNT_STALLED;
    atomic_store(&m->full, full);
    return full;
}

/* Whether r may start one more job now (fsgate.h). */
static bool may_run(const fsroot *r)
{
    /* Not fewer while a job runs long: on a file system that is slow but answers (a read of
     * seconds over a slow NFS link, the close of a large upload there) one long job would
     * otherwise hold back every other session of that home, and its commands would be
     * refused as if it hung (review). */
    return r->running < FSGATE_MAX_RUNNING && !mount_full(r->m);
}

static void work_fn(void *arg)
{
    gate_job *j = arg;
    /* Queued in the pool before its mount filled up (a burst of commands as it died): it
     * would hang here too, and the next worker the pool adds would take the next one. */
    if (atomic_load(&j->r->m->full)) {
        j->handed_back = true;
        return;
    }
    atomic_store(&j->started, now_ms());
    j->fn(j->arg);
}

static void pump(fsroot *r);

static void io_unlink(server *srv, gate_job *j)
{
    if (!j->on_io)
        return;
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        srv->io_running = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    j->on_io = false;
}

/* Every second while io jobs run: a pool whose workers are all but one held by jobs that
 * have run longer than FSGATE_STALL_MS (homes that hang, each holding its few) gets one
 * more, so the others' work still finds a free one. */
static long watch_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    server *srv = ud;
    if (!srv->io_running || !srv->wq_io)
        return EV_TIMER_STOP;
    long long now = now_ms();
    int held = 0;
    for (const gate_job *j = srv->io_running; j; j = j->anext) {
        long long started = atomic_load(&j->started);
        if (started && now - started > FSGATE_STALL_MS)
            held++;
    }
    for (fsmount *m = srv->fsmounts; m; m = m->next)
        (void)mount_full(m); /* first: a worker added below hands back a full mount's job */
    int threads = workq_threads(srv->wq_io);
    if (threads - held < 2 && threads < FSGATE_MAX_THREADS) {
        if (workq_add_thread(srv->wq_io) == 0)
            log_warn("file-system workers: %d of %d wait for a file system that does not "
                     "answer; started one more",
                     held, threads);
    }
    return 1000;
}

static void mount_unlink(fsmount *m, gate_job *j)
{
    if (j->mprev)
        j->mprev->mnext = j->mnext;
    else
        m->run_head = j->mnext;
    if (j->mnext)
        j->mnext->mprev = j->mprev;
    j->mprev = j->mnext = NULL;
    m->running--;
}

/* r first, then the other roots on its mount: a job of the mount ended, and those that
 * waited for the mount rather than their root may go now. */
static void pump_mount(fsroot *r)
{
    /* Cleared before r's turn, which sets it again if r still cannot go: cleared after it,
     * a job handed back to r while the mount was full would wait for a pump that never
     * comes, as no job of r runs to end (review). */
    bool walk = r->m->blocked;
    r->m->blocked = false; /* set again by any root that still cannot go */
    pump(r);
    if (!walk)
        return;
    for (fsroot *o = r->m->roots_head; o; o = o->mnext) {
        if (o != r && o->wait_head)
            pump(o);
    }
}

/* A job a worker handed back (work_fn) waits again, in its place of its root's queue: before
 * those submitted after it, after those handed back before it that were submitted first. */
static void requeue(fsroot *r, gate_job *j)
{
    j->handed_back = false;
    gate_job *after = NULL;
    for (gate_job *p = r->wait_head; p && p->seq < j->seq; p = p->next)
        after = p;
    j->prev = after;
    j->next = after ? after->next : r->wait_head;
    if (after)
        after->next = j;
    else
        r->wait_head = j;
    if (j->next)
        j->next->prev = j;
    else
        r->wait_tail = j;
    if (j->refused) {
        r->refusable++;
        j->deadline = j->queued + FSGATE_WAIT_MS;
    }
}

static void done_fn(void *arg)
{
    gate_job *j = arg;
    fsroot *r = j->r;
    io_unlink(r->srv, j);
    unlink_job(&r->run_head, NULL, j);
    mount_unlink(r->m, j);
    r->running--;
    (void)mount_full(r->m); /* the workers see at once that it has room again */
    if (j->handed_back) {
        requeue(r, j);
        pump_mount(r);
        return;
    }
    r->last_done = r->m->last_done = now_ms();
    workq_done_cb done = j->done;
    void *job_arg = j->arg;
    free(j);
    r->refs++;     /* done may drop the last session's reference */
    pump_mount(r); /* those that waited go before what done submits */
    done(job_arg);
    pump(r);
    fsgate_unref(r->srv, r);
}

/* Hands j to its pool. Returns 0, or -1 with errno (j is then the caller's). */
static int dispatch(gate_job *j)
{
    fsroot *r = j->r;
    if (workq_submit(j->q, work_fn, done_fn, j) < 0)
        return -1;
    j->prev = NULL;
    j->next = r->run_head;
    if (j->next)
        j->next->prev = j;
    r->run_head = j;
    r->running++;
    fsmount *m = r->m;
    j->mprev = NULL;
    j->mnext = m->run_head;
    if (j->mnext)
        j->mnext->mprev = j;
    m->run_head = j;
    m->running++;
    server *srv = r->srv;
    if (j->q == srv->wq_io) {
        j->on_io = true;
        j->aprev = NULL;
        j->anext = srv->io_running;
        if (j->anext)
            j->anext->aprev = j;
        srv->io_running = j;
        if (!ev_timer_active(&srv->io_watch))
            ev_timer_start(srv->loop, &srv->io_watch, 1000);
    }
    return 0;
}

/* For the earliest deadline of r's refusable waiting jobs, or sooner for retry. */
static void arm_timer(fsroot *r, bool retry)
{
    const gate_job *first = NULL;
    for (const gate_job *j = r->wait_head; j; j = j->next) {
        if (j->refused && (!first || j->deadline < first->deadline))
            first = j;
    }
    if (!first && !retry) {
        ev_timer_stop(r->srv->loop, &r->timer);
        return;
    }
    long long left = first ? first->deadline - now_ms() : FSGATE_RETRY_MS;
    if (retry && left > FSGATE_RETRY_MS)
        left = FSGATE_RETRY_MS;
    ev_timer_start(r->srv->loop, &r->timer, left > 0 ? (long)left : 0);
}

/* Starts waiting jobs while r may run them. A job the pool cannot take now (out of memory)
 * stays first: the next end of a job of its mount tries again, or, with none running, the
 * timer; its deadline still bounds a refusable one's wait. */
static void pump(fsroot *r)
{
    bool retry = false;
    while (r->wait_head && may_run(r)) {
        gate_job *j = r->wait_head;
        unlink_job(&r->wait_head, &r->wait_tail, j);
        if (dispatch(j) < 0) {
            j->next = r->wait_head;
            if (j->next)
                j->next->prev = j;
            else
                r->wait_tail = j;
            r->wait_head = j;
            retry = r->m->running == 0;
            break;
        }
        if (j->refused)
            r->refusable--;
    }
    if (r->wait_head && r->running < FSGATE_MAX_RUNNING)
        r->m->blocked = true; /* waits for its mount (or a pool that cannot take more) */
    arm_timer(r, retry);
}

/* Refuses the waiting jobs whose time is up, first come first: those of a root that ended
 * nothing meanwhile. Where it did, it answers, only slowly: their time is up FSGATE_WAIT_MS
 * after its last end. */
static long timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    fsroot *r = ud;
    r->refs++; /* a job's done may drop the last session's reference */
    for (;;) {
        long long now = now_ms();
        /* Those that wait for the mount rather than their root: what answers is the mount. */
        long long last = last_end(r);
        gate_job *j = r->wait_head;
        for (; j; j = j->next) {
            if (!j->refused || j->deadline > now)
                continue;
            if (now - last >= FSGATE_WAIT_MS)
                break;
            j->deadline = last + FSGATE_WAIT_MS;
        }
        if (!j)
            break;
        unlink_job(&r->wait_head, &r->wait_tail, j);
        r->refusable--;
        *j->refused = true;
        workq_done_cb done = j->done;
        void *arg = j->arg;
        free(j);
        done(arg); /* may submit again: the walk starts over */
    }
    pump(r); /* arms the timer again for the next deadline, if any */
    fsgate_unref(r->srv, r);
    return EV_TIMER_STOP; /* r may be gone */
}

int fsgate_submit(server *srv, fsroot *r, workq *q, workq_fn fn, workq_done_cb done, void *arg,
                  bool *refused)
{
    if (!q) {
        errno = ENOMEM;
        return -1;
    }
    if (!r)
        return workq_submit(q, fn, done, arg);
    bool wait = r->wait_head || !may_run(r);
    if (refused && ((wait && r->refusable >= FSGATE_QUEUE_MAX && !answers(r)) || hung(r) ||
                    mount_hung(r->m))) {
        errno = EBUSY;
        return -1;
    }
    gate_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    *j = (gate_job){.r = r,
                    .q = q,
                    .fn = fn,
                    .done = done,
                    .arg = arg,
                    .refused = refused,
                    .queued = now_ms(),
                    .seq = r->seq++};
    atomic_init(&j->started, 0);
    if (!wait) {
        if (dispatch(j) < 0) {
            free(j);
            return -1;
        }
        return 0;
    }
    j->deadline = j->queued + FSGATE_WAIT_MS;
    j->prev = r->wait_tail;
    if (j->prev)
        j->prev->next = j;
    else
        r->wait_head = j;
    r->wait_tail = j;
    if (refused)
        r->refusable++;
    pump(r); /* arms the timer; starts the first, were it left there out of memory */
    return 0;
}

void fsgate_shutdown(server *srv)
{
    if (srv->mounttab) {
        mounttab_clear(srv->mounttab);
        free(srv->mounttab);
        srv->mounttab = NULL;
    }
    if (!srv->fsroots)
        return;
    for (fsmount *m = srv->fsmounts; m; m = m->next) {
        m->run_head = NULL;
        m->running = 0;
    }
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->io_watch);
    srv->io_running = NULL;
    for (size_t i = 0; i < FSGATE_BUCKETS && srv->fsroots; i++) {
        fsroot *r = srv->fsroots[i];
        while (r) {
            fsroot *next = r->next;
            if (srv->loop)
                ev_timer_stop(srv->loop, &r->timer);
            while (r->run_head) {
                gate_job *j = r->run_head;
                unlink_job(&r->run_head, NULL, j);
                free(j);
            }
            r->running = 0;
            while (r->wait_head) {
                gate_job *j = r->wait_head;
                unlink_job(&r->wait_head, &r->wait_tail, j);
                free(j);
            }
            r->refusable = 0;
            maybe_free(r); /* may free the table with the last root */
            r = next;
        }
    }
}
