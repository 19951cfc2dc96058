/* The server: listeners, the session list, limits and deferred teardown. One per process. */
#ifndef SERVER_H
#define SERVER_H

#include <stdio.h>

#include "appendlock.h"
#include "asciisize.h"
#include "config.h"
#include "corebudget.h"
#include "dlslots.h"
#include "ev.h"
#include "ipcount.h"
#include "loginban.h"
#include "users.h"
#include "workq.h"

typedef struct session session;
struct ssl_ctx_st;
struct close_job;
struct reload_job;
struct io_job;
struct zjob_pool;
struct fsjob;
struct upcommit;
struct fsroot;

typedef struct server {
    const ftpd_config *cfg;
    ftpd_users *users; /* main()'s table; SIGHUP replaces its contents (reload.h) */
    ev_loop *loop;
    workq *wq;              /* slow work while transfers run: idle CPU priority (workq.h) */
    workq *wq_fg;           /* slow work while none runs: normal priority (server_work_queue) */
    struct upwriter *uw;    /* moves plain binary uploads into their files (upwriter.h) */
    workq *wq_io;           /* transfers' file-system work, from its first (xfer_io.h) */
    struct io_job *io_jobs; /* ...work not yet delivered */
    struct fsjob *fs_jobs;  /* commands' file-system calls not yet delivered (fsjob.h) */
    struct upcommit *commit_jobs; /* uploads' commits not yet delivered (upcommit.h) */
    struct zjob_pool *zpool;      /* MODE Z downloads' deflate, from its first (xfer_zjob.h) */
    struct fsroot **fsroots;      /* the homes in use, hashed by path (fsgate.h) */
    size_t nfsroots;
    struct gate_job *io_running; /* ...their jobs handed to wq_io, not yet delivered */
    ev_timer io_watch;           /* ...looks for wq_io's workers held by them, while any */
    struct fsmount *fsmounts;    /* ...the file systems they lie on (fsgate.c) */
    struct mounttab *mounttab;   /* ...the mount table read last, to find those */
    long long mounttab_at;       /* ...when (monotonic ms) */
    int listen_fds[2 * CONFIG_MAX_LISTEN];
    bool listen_implicit[2 * CONFIG_MAX_LISTEN]; /* implicit FTPS: TLS from the first byte */
    size_t nlisten;
    bool started;                  /* server_start succeeded: the server has served */
    bool stopping;                 /* server_shutdown runs: sessions end because of it */
    bool accept_paused;            /* out of fds: listeners unregistered until the timer retries */
    long long pasv_warned_ms;      /* when a passive port last could not be opened (ev_now) */
    long long accept_warned_ms;    /* when an accept out of fds was last logged (ev_now) */
    unsigned long accept_unlogged; /* ...failed retries since, not logged one by one */
    ev_timer accept_retry;
    session *sessions; /* live sessions, doubly linked */
    /* Data channels (from PASV or PORT until they end), doubly linked: the live view looks
     * for transfers here, not through every session, which may be 100,000 idle ones. */
    struct xfer *xfers;
    session *closing; /* closed sessions waiting to be freed before the loop sleeps */
    size_t nsessions;
    ipcount per_ip;
    loginban bans; /* failed logins per address, for --login-ban */
    unsigned long next_id;
    FILE *xferlog;
    bool xferlog_failing;       /* its last write failed, and that was said */
    struct ssl_ctx_st *tls_ctx; /* FTPS on: the context every TLS connection shares */
    unsigned long long bytes_in, bytes_out, transfers;
    /* Of transfers: those that did not complete, apart from those a client's ABOR ended
     * (xfer.abor_ended), which are counted on their own: a client's stop is no failure. */
    unsigned long long transfers_failed, transfers_aborted;
    size_t running_transfers;
    corebudget budget; /* wq's limit while transfers run (corebudget.h) */
    bool budget_ready;
    dlslots dl_slots;                /* downloads to clients on this host fed at once */
    ev_timer dl_tick;                /* runs dlslots_tick while a download waits for a slot */
    struct close_job *close_jobs;    /* server_close_later jobs not yet delivered */
    appendlocks append_locks;        /* files an APPE or a resumed STOR is building on */
    struct reload_job *users_reload; /* SIGHUP's reading of the users file, while it runs */
    asciisize_cache ascii_sizes;     /* files' sizes in TYPE A, for SIZE and RETR's 150 */
} server;

/* The pool for a password check or other slow work submitted now. While transfers run it is
 * the idle-priority pool, so a login storm takes only CPU they leave; while none runs there
 * is nothing to protect, and the normal-priority pool keeps logins from starving behind other
 * programs busy on the machine (at idle priority two CPU-bound processes held each login's
 * reply for a quarter to half a second). */
workq *server_work_queue(server *srv);
/* Jobs queued or running on both pools. */
size_t server_work_pending(const server *srv);

/* Binds every configured listener and opens the transfer log: the steps that may need
 * privileges. Returns 0 or -1 with a message logged. */
int server_init(server *srv, const ftpd_config *cfg, ftpd_users *users, ev_loop *loop);
/* Starts the worker pool and registers listeners and hooks on the loop; the server then runs
 * with ev_run(). Returns 0 or -1 with a message logged. */
int server_start(server *srv);
/* Closes every session and listener and frees what the server holds. */
void server_shutdown(server *srv);

/* Closes fd on a worker thread: the last reference to a large replaced or dropped file frees
 * its storage, which must not stall the loop. A negative fd is ignored. */
void server_close_later(server *srv, int fd);
/* As server_close_later, and s gets its reply (code, text) and reads commands again only once
 * the close is done: a client told that its upload failed finds the server done with the
 * file, the space of a dropped upload free again for its next try. */
void server_close_then_reply(server *srv, int fd, session *s, int code, const char *text);

/* A transfer started or ended moving bytes. While any runs, background work leaves one core
 * to the loop while the machine is busy (corebudget.h). */
void server_transfer_started(server *srv);
void server_transfer_ended(server *srv);

/* A download asks to send (dlslots_enter); false: it waits for the resume callback. */
bool server_download_may_send(server *srv, dlslot *sl);

/* Called by a session when it closes: unlinks it and queues it for freeing. */
void server_session_closed(server *srv, session *s);

#endif
