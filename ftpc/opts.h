/* Settings of one ftpc run: parsed once from the command line, then passed down as const. */
#ifndef FTPC_OPTS_H
#define FTPC_OPTS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    FTPC_PROGRESS_AUTO = 0, /* bars on a terminal, summary lines otherwise */
    FTPC_PROGRESS_BAR,      /* bars even when stderr is not a terminal */
    FTPC_PROGRESS_PLAIN,    /* a plain line per transfer about every second, no redraws */
    FTPC_PROGRESS_NONE,     /* summary lines only */
} ftpc_progress_mode;

typedef struct ftpc_opts {
    bool active;         /* EPRT/PORT instead of EPSV/PASV */
    bool resume;         /* -c */
    bool quiet;          /* -q: no progress, no summaries */
    int verbose;         /* -v: protocol trace on stderr */
    int jobs;            /* -j: transfers at once (>= 1) */
    int retries;         /* --retry: further attempts after a transient failure */
    long retry_delay_ms; /* first back-off delay, doubled per attempt */
    uint64_t limit_rate; /* bytes/s per transfer, 0 = unlimited */
    long timeout_ms;     /* connect and reply/data inactivity limit */
    int segments;        /* get --segments: connections per download (<= 1: one) */
    ftpc_progress_mode progress;
} ftpc_opts;

/* Defaults: passive, one job, no retries, 1 s back-off, 30 s timeout, auto progress. */
void ftpc_opts_defaults(ftpc_opts *o);

#endif
