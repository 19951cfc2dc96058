/* Private to the selector: the backend ops table. */
#ifndef EV_INT_H
#define EV_INT_H

#include "ev.h"

typedef struct ev_backend_ops {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *state);
    /* Called with the old and new mask of fd whenever they differ. */
    int (*update)(void *state, int fd, int old_mask, int new_mask);
    /* Waits; for each ready fd calls ready(loop, fd, mask). Returns the count or -1. */
    int (*wait)(void *state, ev_loop *loop, int timeout_ms,
                void (*ready)(ev_loop *loop, int fd, int mask));
} ev_backend_ops;

extern const ev_backend_ops ev_epoll_ops;
extern const ev_backend_ops ev_poll_ops;

#endif
