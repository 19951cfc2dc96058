/* epoll backend: level-triggered, one epoll_ctl per mask change. */
#include "ev_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Upper bound on events taken per wait; more are simply reported by the next wait. */
#define EPOLL_BATCH_MIN 64
#define EPOLL_BATCH_MAX 4096

typedef struct epoll_state {
    int epfd;
    size_t nregistered;
    struct epoll_event *events;
    size_t cap;
} epoll_state;

static void *epoll_create_state(void)
{
    epoll_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->cap = EPOLL_BATCH_MIN;
    st->events = calloc(st->cap, sizeof(*st->events));
    if (st->events == NULL) {
        free(st);
        errno = ENOMEM;
        return NULL;
    }
    /* CLOEXEC so that helpers we exec never inherit the loop. */
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int saved = errno;
        free(st->events);
        free(st);
        errno = saved;
        return NULL;
    }
    return st;
}

static void epoll_destroy_state(void *state)
{
    epoll_state *st = state;
    close(st->epfd);
    free(st->events);
    free(st);
}

static uint32_t to_epoll(int mask)
{
    return (mask & EV_READ ? EPOLLIN : 0) | (mask & EV_WRITE ? EPOLLOUT : 0) |
           (mask & EV_HANGUP ? EPOLLRDHUP : 0);
}

static int epoll_update(void *state, int fd, int old_mask, int new_mask)
{
    epoll_state *st = state;
    struct epoll_event ev = {.events = to_epoll(new_mask), .data.fd = fd};

    if (new_mask == EV_NONE) {
        /* The fd may already be closed (the kernel then dropped it from the set itself);
         * forgetting it is what the caller wants either way. */
        if (epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, &ev) != 0 && errno != EBADF && errno != ENOENT)
            return -1;
        st->nregistered--;
        return 0;
    }
    if (old_mask == EV_NONE) {
        if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            /* A dup of an fd closed without ev_del keeps the old file in the set. */
            if (errno != EEXIST || epoll_ctl(st->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
                return -1;
        }
        st->nregistered++;
        return 0;
    }
    return epoll_ctl(st->epfd, EPOLL_CTL_MOD, fd, &ev);
}

static int epoll_wait_ready(void *state, ev_loop *loop, int timeout_ms,
                            void (*ready)(ev_loop *loop, int fd, int mask))
{
    epoll_state *st = state;

    /* Size the batch to the registered set so one wait can see every ready fd. */
    size_t want = st->nregistered;
    if (want < EPOLL_BATCH_MIN)
        want = EPOLL_BATCH_MIN;
    if (want > EPOLL_BATCH_MAX)
        want = EPOLL_BATCH_MAX;
    if (want > st->cap) {
        struct epoll_event *n = realloc(st->events, want * sizeof(*n));
        if (n != NULL) {
            st->events = n;
            st->cap = want;
        }
    }

    int n = epoll_wait(st->epfd, st->events, (int)st->cap, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        int mask = 0;
        if (e & (EPOLLHUP | EPOLLERR))
            mask = EV_READ | EV_WRITE | EV_HANGUP;
        if (e & EPOLLRDHUP)
            mask |= EV_HANGUP;
        if (e & EPOLLIN)
            mask |= EV_READ;
        if (e & EPOLLOUT)
            mask |= EV_WRITE;
        ready(loop, st->events[i].data.fd, mask);
    }
    return n;
}

const ev_backend_ops ev_epoll_ops = {
    .name = "epoll",
    .create = epoll_create_state,
    .destroy = epoll_destroy_state,
    .update = epoll_update,
    .wait = epoll_wait_ready,
};
