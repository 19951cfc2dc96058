/* The selector core: fd table, timer heap, dispatch. Backends live in ev_epoll.c and ev_poll.c. */
#include "ev.h"
#include "ev_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ev_fd {
    int mask;
    ev_io_cb cb;
    void *ud;
    /* The iteration in which the fd went from unregistered to registered. Events a backend
     * collected in that same iteration predate the registration (the fd was deleted and maybe
     * closed and reused by an earlier callback of the batch), so they are dropped. */
    unsigned long long added_iter;
} ev_fd;

/* heap_index encoding: TIMER_INACTIVE, a heap slot, or DUE_BIT | slot of the due list. */
#define TIMER_INACTIVE ((size_t)-1)
#define DUE_BIT ((size_t)1 << (sizeof(size_t) * CHAR_BIT - 1))

struct ev_loop {
    const ev_backend_ops *ops;
    void *state;

    ev_fd *fds;
    size_t fds_cap;
    size_t nfds; /* registered fds */

    ev_timer **heap;
    size_t heap_len, heap_cap;
    /* Timers that were due when timer dispatch began. They leave the heap first so that a
     * callback rearming with a delay of 0 waits for the next iteration instead of spinning. */
    ev_timer **due;
    size_t due_len, due_cap, due_live;

    ev_hook_cb before_sleep;
    void *before_sleep_ud;

    long long now_ms;
    unsigned long long iter;
    int ncalls;
    volatile sig_atomic_t stop;
};

long long ev_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long monotonic_ms(void)
{
    return ev_monotonic_us() / 1000;
}

static int try_backend(ev_loop *loop, const ev_backend_ops *ops)
{
    void *st = ops->create();
    if (st == NULL)
        return -1;
    loop->ops = ops;
    loop->state = st;
    return 0;
}

ev_loop *ev_loop_new(ev_backend_kind kind)
{
    ev_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;

    if (kind == EV_BACKEND_AUTO) {
        const char *env = getenv("FTP_EV_BACKEND");
        if (env != NULL && strcmp(env, "poll") == 0)
            kind = EV_BACKEND_POLL;
        else if (env != NULL && strcmp(env, "epoll") == 0)
            kind = EV_BACKEND_EPOLL;
    }

    int rc;
    switch (kind) {
    case EV_BACKEND_EPOLL:
        rc = try_backend(loop, &ev_epoll_ops);
        break;
    case EV_BACKEND_POLL:
        rc = try_backend(loop, &ev_poll_ops);
        break;
    case EV_BACKEND_AUTO:
        /* epoll can be missing (old kernels, seccomp sandboxes); poll always works. */
        rc = try_backend(loop, &ev_epoll_ops);
        if (rc != 0)
            rc = try_backend(loop, &ev_poll_ops);
        break;
    default:
        errno = EINVAL;
        rc = -1;
        break;
    }
    if (rc != 0) {
        int saved = errno;
        free(loop);
        errno = saved;
        return NULL;
    }
    loop->now_ms = monotonic_ms();
    return loop;
}

void ev_loop_free(ev_loop *loop)
{
    if (loop == NULL)
        return;
    /* Timers live in their owners, which may outlive the loop: leave them inactive. */
    for (size_t i = 0; i < loop->heap_len; i++)
        loop->heap[i]->heap_index = TIMER_INACTIVE;
    for (size_t i = 0; i < loop->due_len; i++)
        if (loop->due[i] != NULL)
            loop->due[i]->heap_index = TIMER_INACTIVE;
    loop->ops->destroy(loop->state);
    free(loop->fds);
    free(loop->heap);
    free(loop->due);
    free(loop);
}

const char *ev_backend_name(const ev_loop *loop)
{
    return loop->ops->name;
}

static int grow_fds(ev_loop *loop, int fd)
{
    size_t need = (size_t)fd + 1;
    if (need <= loop->fds_cap)
        return 0;
    size_t cap = loop->fds_cap ? loop->fds_cap : 64;
    while (cap < need)
        cap *= 2;
    ev_fd *n = realloc(loop->fds, cap * sizeof(*n));
    if (n == NULL)
        return -1;
    memset(n + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof(*n));
    loop->fds = n;
    loop->fds_cap = cap;
    return 0;
}

int ev_add(ev_loop *loop, int fd, int mask, ev_io_cb cb, void *ud)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (cb == NULL || (mask & ~(EV_READ | EV_WRITE | EV_HANGUP)) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (grow_fds(loop, fd) != 0)
        return -1;
    ev_fd *f = &loop->fds[fd];
    int old = f->mask;
    int nmask = old | mask;
    if (nmask == EV_NONE) {
        errno = EINVAL;
        return -1;
    }
    if (nmask != old && loop->ops->update(loop->state, fd, old, nmask) != 0)
        return -1;
    if (old == EV_NONE) {
        loop->nfds++;
        f->added_iter = loop->iter;
    }
    f->mask = nmask;
    f->cb = cb;
    f->ud = ud;
    return 0;
}

int ev_del(ev_loop *loop, int fd, int mask)
{
    if (fd < 0 || (size_t)fd >= loop->fds_cap)
        return 0;
    ev_fd *f = &loop->fds[fd];
    int old = f->mask;
    int nmask = old & ~mask;
    if (nmask == old)
        return 0;
    if (loop->ops->update(loop->state, fd, old, nmask) != 0)
        return -1;
    f->mask = nmask;
    if (nmask == EV_NONE) {
        f->cb = NULL;
        f->ud = NULL;
        loop->nfds--;
    }
    return 0;
}

int ev_mask(const ev_loop *loop, int fd)
{
    if (fd < 0 || (size_t)fd >= loop->fds_cap)
        return EV_NONE;
    return loop->fds[fd].mask;
}

/* Called by a backend for each ready fd. The registration is read afresh for every event,
 * never through a pointer kept across a callback: callbacks may delete fds or grow the table. */
static void ev_ready(ev_loop *loop, int fd, int mask)
{
    if (fd < 0 || (size_t)fd >= loop->fds_cap)
        return;
    ev_fd *f = &loop->fds[fd];
    int eff = mask & f->mask;
    if (eff == EV_NONE || f->added_iter == loop->iter)
        return;
    ev_io_cb cb = f->cb;
    void *ud = f->ud;
    /* The wait may have slept for long: callbacks must see the time they run at, or an idle
     * timer would measure activity from before the sleep. */
    if (loop->ncalls++ == 0)
        ev_update_time(loop);
    cb(loop, fd, eff, ud);
}

/* ---- timers: a binary min-heap on when_ms ---- */

static void heap_set(ev_loop *loop, size_t i, ev_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(ev_loop *loop, size_t i)
{
    ev_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->when_ms <= t->when_ms)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(ev_loop *loop, size_t i)
{
    ev_timer *t = loop->heap[i];
    size_t n = loop->heap_len;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t c = l;
        if (l + 1 < n && loop->heap[l + 1]->when_ms < loop->heap[l]->when_ms)
            c = l + 1;
        if (t->when_ms <= loop->heap[c]->when_ms)
            break;
        heap_set(loop, i, loop->heap[c]);
        i = c;
    }
    heap_set(loop, i, t);
}

static void heap_remove(ev_loop *loop, size_t i)
{
    ev_timer *t = loop->heap[i];
    size_t last = --loop->heap_len;
    if (i != last) {
        heap_set(loop, i, loop->heap[last]);
        if (i > 0 && loop->heap[i]->when_ms < loop->heap[(i - 1) / 2]->when_ms)
            heap_up(loop, i);
        else
            heap_down(loop, i);
    }
    t->heap_index = TIMER_INACTIVE;
}

static void timer_unlink(ev_loop *loop, ev_timer *t)
{
    if (t->heap_index == TIMER_INACTIVE)
        return;
    if (t->heap_index & DUE_BIT) {
        loop->due[t->heap_index & ~DUE_BIT] = NULL;
        loop->due_live--;
        t->heap_index = TIMER_INACTIVE;
    } else {
        heap_remove(loop, t->heap_index);
    }
}

void ev_timer_init(ev_timer *t, ev_timer_cb cb, void *ud)
{
    t->when_ms = 0;
    t->heap_index = TIMER_INACTIVE;
    t->cb = cb;
    t->ud = ud;
}

void ev_timer_start(ev_loop *loop, ev_timer *t, long ms)
{
    /* Clamped so now + delay cannot overflow; a year is "never" for every caller. */
    long long delay = ms < 0 ? 0 : ms;
    if (delay > 365LL * 24 * 3600 * 1000)
        delay = 365LL * 24 * 3600 * 1000;
    long long when = loop->now_ms + delay;
    if (t->heap_index != TIMER_INACTIVE && !(t->heap_index & DUE_BIT)) {
        long long old = t->when_ms;
        t->when_ms = when;
        if (when < old)
            heap_up(loop, t->heap_index);
        else
            heap_down(loop, t->heap_index);
        return;
    }
    timer_unlink(loop, t);
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        ev_timer **n = realloc(loop->heap, cap * sizeof(*n));
        /* No error channel in the API; a timer that silently never fires is worse. */
        if (n == NULL)
            abort();
        loop->heap = n;
        loop->heap_cap = cap;
    }
    t->when_ms = when;
    loop->heap[loop->heap_len] = t;
    t->heap_index = loop->heap_len++;
    heap_up(loop, t->heap_index);
}

void ev_timer_stop(ev_loop *loop, ev_timer *t)
{
    timer_unlink(loop, t);
}

bool ev_timer_active(const ev_timer *t)
{
    return t->heap_index != TIMER_INACTIVE;
}

static void run_timers(ev_loop *loop)
{
    if (loop->heap_len == 0 || loop->heap[0]->when_ms > loop->now_ms)
        return;
    /* Move every due timer to the due list, in firing order. Only these fire now. */
    loop->due_len = 0;
    while (loop->heap_len > 0 && loop->heap[0]->when_ms <= loop->now_ms) {
        ev_timer *t = loop->heap[0];
        heap_remove(loop, 0);
        if (loop->due_len == loop->due_cap) {
            size_t cap = loop->due_cap ? loop->due_cap * 2 : 16;
            ev_timer **n = realloc(loop->due, cap * sizeof(*n));
            if (n == NULL) {
                /* Put it back and fire what we have; the rest fire next iteration. */
                ev_timer_start(loop, t, 0);
                break;
            }
            loop->due = n;
            loop->due_cap = cap;
        }
        loop->due[loop->due_len] = t;
        t->heap_index = DUE_BIT | loop->due_len;
        loop->due_len++;
        loop->due_live++;
    }
    for (size_t i = 0; i < loop->due_len; i++) {
        ev_timer *t = loop->due[i];
        if (t == NULL) /* stopped or restarted by an earlier callback */
            continue;
        loop->due[i] = NULL;
        loop->due_live--;
        t->heap_index = TIMER_INACTIVE;
        loop->ncalls++;
        long next = t->cb(loop, t, t->ud);
        /* After EV_TIMER_STOP the owner may already have freed t, so t is not touched. */
        if (next != EV_TIMER_STOP)
            ev_timer_start(loop, t, next);
    }
    loop->due_len = 0;
}

void ev_set_before_sleep(ev_loop *loop, ev_hook_cb cb, void *ud)
{
    loop->before_sleep = cb;
    loop->before_sleep_ud = ud;
}

long long ev_now(const ev_loop *loop)
{
    return loop->now_ms;
}

unsigned long long ev_iteration(const ev_loop *loop)
{
    return loop->iter;
}

void ev_update_time(ev_loop *loop)
{
    loop->now_ms = monotonic_ms();
}

int ev_run_once(ev_loop *loop, int timeout_ms)
{
    loop->ncalls = 0;
    ev_update_time(loop);
    if (loop->before_sleep != NULL)
        loop->before_sleep(loop, loop->before_sleep_ud);

    ev_update_time(loop);
    int timeout = timeout_ms;
    if (loop->heap_len > 0) {
        long long d = loop->heap[0]->when_ms - loop->now_ms;
        if (d < 0)
            d = 0;
        if (d > INT_MAX)
            d = INT_MAX;
        if (timeout < 0 || d < timeout)
            timeout = (int)d;
    } else if (timeout < 0 && loop->nfds == 0) {
        /* Nothing could ever wake us. */
        timeout = 0;
    }
    /* A stop requested by the hook (or a signal handler) must not wait for the next event. */
    if (loop->stop)
        timeout = 0;

    loop->iter++;
    int rc = loop->ops->wait(loop->state, loop, timeout, ev_ready);
    if (rc < 0)
        return -1;

    ev_update_time(loop);
    run_timers(loop);
    return loop->ncalls;
}

int ev_run(ev_loop *loop)
{
    int rc = 0;
    while (!loop->stop && ev_live_handles(loop) > 0) {
        if (ev_run_once(loop, -1) < 0) {
            rc = -1;
            break;
        }
    }
    loop->stop = 0;
    return rc;
}

void ev_stop(ev_loop *loop)
{
    loop->stop = 1;
}

size_t ev_live_handles(const ev_loop *loop)
{
    return loop->nfds + loop->heap_len + loop->due_live;
}
