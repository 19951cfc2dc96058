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
    bool force;          /* -f: a download replaces a read-only file too */
    bool quiet;          /* -q: no progress, no summaries */
    int verbose;         /* -v: protocol trace on stderr */
    int jobs;            /* -j: transfers at once (>= 1) */
    int retries;         /* --retry: further attempts after a transient failure */
    long retry_delay_ms; /* first back-off delay, doubled per attempt */
    uint64_t limit_rate; /* bytes/s per transfer, 0 = unlimited */
    long timeout_ms;     /* connect and reply/data inactivity limit */
    int segments;        /* get/put --segments: connections per transfer (<= 1: one) */
    bool verify;         /* --verify (default) / --no-verify: HASH after each transfer */
    ftpc_progress_mode progress;
    /* FTPS. ftps:// (implicit) and ftpes:// (explicit) URLs ask for TLS themselves; --tls
     * makes ftp:// URLs explicit too. TLS asked for is required: never a plain fallback. */
    bool tls;           /* --tls */
    bool insecure;      /* --insecure: no chain or name check (a --pin is still enforced) */
    const char *cacert; /* --cacert FILE (or a hashed directory); NULL: the system store */
    const char *pin;    /* --pin sha256//BASE64[;...]: the server's public key must match */
    int tls_max;        /* --tls-max: 12 or 13 (TLS 1.2 / 1.3), 0: OpenSSL's highest */
    bool compress;      /* -z: MODE Z where FEAT lists it (else a warning and plain) */
    /* -a: TYPE A for get, put and cat, with CRLF <-> LF conversion in the client (RFC 959).
     * Read before each transfer, so the shell's `ascii`/`binary` may flip it between
     * transfers: the next one sends TYPE A or TYPE I as needed. */
    bool ascii;
    /* Not an option: the shell's earlier job already said that the session's server has no
     * HASH, which each job (a fresh set of endpoints) would otherwise say again. */
    bool no_hash_told;
    /* Not an option: a job of the shell, whose hints name the shell's commands (mget, mkdir)
     * rather than the one-shot command line's URLs. */
    bool shell_job;
    /* Not an option: the netrc file read, as the hint after a login without password names
     * it ("~/.netrc", --netrc-file's, $NETRC's); NULL when none is (--no-netrc). */
    const char *netrc_shown;
} ftpc_opts;

/* Defaults: passive, one job, no retries, 1 s back-off, 30 s timeout, auto progress. */
void ftpc_opts_defaults(ftpc_opts *o);

#endif
