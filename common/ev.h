/* The selector: one event loop over file descriptors and timers.
 *
 * Two backends (epoll and poll) sit behind the same API and are both tested by the same suite.
 * A file descriptor has one callback that receives the mask of events that fired; the
 * registration is looked up again after each callback, since a callback may close or
 * re-register any fd. Timers are embedded in their owner (no allocation) and kept in a
 * min-heap, so thousands of sessions can each keep an idle timer cheaply.
 */
#ifndef EV_H
#define EV_H

#include <stdbool.h>
#include <stddef.h>

/* EV_HANGUP: the peer has shut down its sending side, seen even while unread bytes wait in
 * front of the end (EPOLLRDHUP, POLLRDHUP). For an owner that has stopped reading and still
 * wants to know that its peer has gone. */
enum { EV_NONE = 0, EV_READ = 1, EV_WRITE = 2, EV_HANGUP = 4, EV_ALL = 7 };

/* Value a timer callback returns to say "do not fire again". */
#define EV_TIMER_STOP (-1L)

typedef struct ev_loop ev_loop;

typedef enum { EV_BACKEND_AUTO = 0, EV_BACKEND_EPOLL, EV_BACKEND_POLL } ev_backend_kind;

/* Called with the subset of the registered mask that is ready. For a hang-up or error the
 * callback sees every registered event as ready, so a read or write reveals the condition. */
typedef void (*ev_io_cb)(ev_loop *loop, int fd, int mask, void *ud);

typedef struct ev_timer ev_timer;
/* Returns the next delay in milliseconds (>= 0) to fire again, or EV_TIMER_STOP. */
typedef long (*ev_timer_cb)(ev_loop *loop, ev_timer *timer, void *ud);

typedef void (*ev_hook_cb)(ev_loop *loop, void *ud);

/* Embedded in its owner; treat fields as private. */
struct ev_timer {
    long long when_ms;
    size_t heap_index; /* (size_t)-1 while inactive */
    ev_timer_cb cb;
    void *ud;
};

/* Returns a new loop, or NULL with errno set. AUTO picks epoll, then poll; the environment
 * variable FTP_EV_BACKEND=poll|epoll overrides AUTO. */
ev_loop *ev_loop_new(ev_backend_kind kind);
/* Frees the loop. Registered fds are not closed; they belong to their owners. */
void ev_loop_free(ev_loop *loop);
const char *ev_backend_name(const ev_loop *loop);

/* Adds the bits of mask to fd's registration and sets its callback and user data (one
 * callback per fd). Returns 0, or -1 with errno set. */
int ev_add(ev_loop *loop, int fd, int mask, ev_io_cb cb, void *ud);
/* Removes the bits of mask; when none remain the fd is forgotten. Safe on unknown fds.
 * Must be called (with every bit it was added with, or EV_ALL) before an fd is closed: a
 * registration left behind would outlive its owner. Returns 0 or -1. */
int ev_del(ev_loop *loop, int fd, int mask);
/* Returns the registered mask of fd (EV_NONE if unknown). */
int ev_mask(const ev_loop *loop, int fd);

void ev_timer_init(ev_timer *t, ev_timer_cb cb, void *ud);
/* (Re)arms the timer to fire after ms milliseconds. */
void ev_timer_start(ev_loop *loop, ev_timer *t, long ms);
/* Disarms the timer; safe when inactive. */
void ev_timer_stop(ev_loop *loop, ev_timer *t);
bool ev_timer_active(const ev_timer *t);

/* The hook runs before every wait: flush pending writes, free closed sessions. */
void ev_set_before_sleep(ev_loop *loop, ev_hook_cb cb, void *ud);

/* Monotonic time in ms, cached per loop iteration. */
long long ev_now(const ev_loop *loop);
/* The number of the current loop iteration: a callback can tell whether another one already
 * ran in this round. */
unsigned long long ev_iteration(const ev_loop *loop);
/* CLOCK_MONOTONIC read now, in microseconds: for what is shorter than a loop iteration. */
long long ev_monotonic_us(void);
/* Re-reads the clock. */
void ev_update_time(ev_loop *loop);

/* One iteration: before-sleep hook, wait at most timeout_ms (-1 = until the next timer or
 * event), dispatch. Returns the number of callbacks run, or -1 on a fatal backend error. */
int ev_run_once(ev_loop *loop, int timeout_ms);
/* Runs until ev_stop() or until no fd and no timer is registered. Returns 0 or -1. */
int ev_run(ev_loop *loop);
void ev_stop(ev_loop *loop);
/* Number of registered fds plus active timers; teardown in tests asserts it is 0. */
size_t ev_live_handles(const ev_loop *loop);

#endif
