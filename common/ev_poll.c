/* poll(2) backend: a dense pollfd array plus an fd -> slot map, so add, modify and remove are
 * O(1) (removal swaps the last slot into the hole). */
#include "ev_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

typedef struct poll_ready {
    int fd;
    int mask;
} poll_ready;

typedef struct poll_state {
    struct pollfd *pfds;
    size_t n, cap;
    int *slot; /* slot[fd] = index into pfds, or -1 */
    size_t slot_cap;
    /* Ready fds copied out of pfds before dispatch: callbacks reorder pfds by removing. */
    poll_ready *ready;
    size_t ready_cap;
} poll_state;

static void *poll_create_state(void)
{
    poll_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        errno = ENOMEM;
    return st;
}

static void poll_destroy_state(void *state)
{
    poll_state *st = state;
    free(st->pfds);
    free(st->slot);
    free(st->ready);
    free(st);
}

static short to_poll(int mask)
{
    return (short)((mask & EV_READ ? POLLIN : 0) | (mask & EV_WRITE ? POLLOUT : 0) |
                   (mask & EV_HANGUP ? POLLRDHUP : 0));
}

static int grow_slots(poll_state *st, int fd)
{
    size_t need = (size_t)fd + 1;
    if (need <= st->slot_cap)
        return 0;
    size_t cap = st->slot_cap ? st->slot_cap : 64;
    while (cap < need)
        cap *= 2;
    int *n = realloc(st->slot, cap * sizeof(*n));
    if (n == NULL)
        return -1;
    for (size_t i = st->slot_cap; i < cap; i++)
        n[i] = -1;
    st->slot = n;
    st->slot_cap = cap;
    return 0;
}

static int poll_update(void *state, int fd, int old_mask, int new_mask)
{
    poll_state *st = state;

    if (old_mask == EV_NONE) {
        if (grow_slots(st, fd) != 0)
            return -1;
        if (st->n == st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 64;
            struct pollfd *p = realloc(st->pfds, cap * sizeof(*p));
            if (p == NULL)
                return -1;
            st->pfds = p;
            st->cap = cap;
        }
        st->pfds[st->n] = (struct pollfd){.fd = fd, .events = to_poll(new_mask)};
        st->slot[fd] = (int)st->n++;
        return 0;
    }

    int i = st->slot[fd];
    if (new_mask == EV_NONE) {
        size_t last = --st->n;
        if ((size_t)i != last) {
            st->pfds[i] = st->pfds[last];
            st->slot[st->pfds[i].fd] = i;
        }
        st->slot[fd] = -1;
        return 0;
    }
    st->pfds[i].events = to_poll(new_mask);
    return 0;
}

static int poll_wait_ready(void *state, ev_loop *loop, int timeout_ms,
                           void (*ready)(ev_loop *loop, int fd, int mask))
{
    poll_state *st = state;

    if (st->ready_cap < st->n) {
        poll_ready *r = realloc(st->ready, st->n * sizeof(*r));
        if (r == NULL)
            return -1;
        st->ready = r;
        st->ready_cap = st->n;
    }

    int rc = poll(st->pfds, (nfds_t)st->n, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;

    size_t k = 0;
    for (size_t i = 0; i < st->n && k < (size_t)rc; i++) {
        short re = st->pfds[i].revents;
        if (re == 0)
            continue;
        int mask = 0;
        if (re & (POLLHUP | POLLERR | POLLNVAL))
            mask = EV_READ | EV_WRITE | EV_HANGUP;
        if (re & POLLRDHUP)
            mask |= EV_HANGUP;
        if (re & POLLIN)
            mask |= EV_READ;
        if (re & POLLOUT)
            mask |= EV_WRITE;
        st->ready[k++] = (poll_ready){.fd = st->pfds[i].fd, .mask = mask};
    }
    for (size_t i = 0; i < k; i++)
        ready(loop, st->ready[i].fd, st->ready[i].mask);
    return (int)k;
}

const ev_backend_ops ev_poll_ops = {
    .name = "poll",
    .create = poll_create_state,
    .destroy = poll_destroy_state,
    .update = poll_update,
    .wait = poll_wait_ready,
};
