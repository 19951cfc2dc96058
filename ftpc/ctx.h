/* What every part of one ftpc run shares: the loop, the settings, the progress display, and
 * deferred frees. Objects that a callback further up the stack may still touch (connections,
 * operations) are never freed in place: they are queued here and freed in the loop's
 * before-sleep hook, when no callback is running. */
#ifndef FTPC_CTX_H
#define FTPC_CTX_H

#include <signal.h>

#include "ev.h"
#include "opts.h"

/* The longest a loop that checks a Ctrl-C flag sleeps between checks. A signal that comes
 * after the check and before epoll_wait does not interrupt the wait; without a bound, a run
 * waiting for a server that sends nothing (and no timer due) would ignore that Ctrl-C. */
#define FTPC_STOP_CHECK_MS 250

typedef struct ftpc_bars ftpc_bars;
typedef struct ftpc_conn ftpc_conn;

/* Embedded in a deferrable object. */
typedef struct ftpc_defer {
    struct ftpc_defer *next;
    void (*fn)(void *p);
    void *p;
    int queued;
} ftpc_defer;

typedef struct ftpc_ctx {
    ev_loop *loop;
    const ftpc_opts *opts;
    ftpc_bars *bars; /* NULL: messages go straight to stderr */
    ftpc_defer *deferred;
    int nconns;       /* live control connections (for the QUIT drain at the end) */
    int conns_made;   /* control connections opened so far: -v numbers each (conn.c) */
    ftpc_conn *conns; /* every live connection, for the final clean-up (conn.c keeps it) */
    /* Where report lines go (a mirror's plan and summary): standard output, or a background
     * job's message channel, so that the shell tags them and never writes over its prompt. */
    int out_fd;
    /* The run's stop flag (a signal came), for a write that blocks: NULL where none. */
    volatile sig_atomic_t *stop;
    /* "ftpc: interrupted" has been said for tasks a stop kept from starting (run.c). */
    bool said_interrupted;
} ftpc_ctx;

/* Fills ctx and installs the before-sleep hook on loop. */
void ftpc_ctx_init(ftpc_ctx *ctx, ev_loop *loop, const ftpc_opts *opts);
/* Queues fn(p) for the next before-sleep hook; d is embedded in p. Queuing twice is a no-op. */
void ftpc_ctx_defer(ftpc_ctx *ctx, ftpc_defer *d, void (*fn)(void *p), void *p);
/* Runs the queued frees now (teardown, outside callbacks). */
void ftpc_ctx_flush(ftpc_ctx *ctx);

/* One line on stderr ("ftpc: " is not added), through the progress display when there is one
 * so it lands above the live bars. A trailing newline is added. */
void ftpc_msg(ftpc_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One report line to ctx->out_fd (a trailing newline is added). */
void ftpc_out(ftpc_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
