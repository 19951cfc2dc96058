/* A control connection: its state machine, reply output and command loop. */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "ev.h"
#include "ftp_parse.h"
#include "stream.h"
#include "users.h"
#include "vfs.h"

struct server;
struct xfer;
struct auth_job;

typedef enum {
    SESS_LOGIN = 0,   /* greeting sent; waiting for USER/PASS */
    SESS_AUTHING,     /* a password check runs on a worker; input is held */
    SESS_LOGIN_DELAY, /* a failed login waits out its delay; input is held */
    SESS_READY,       /* logged in */
    SESS_CLOSING,     /* flushing the last reply, then closed */
    SESS_CLOSED,      /* closed; freed before the loop sleeps */
} session_state;

enum {
    SF_ASCII = 1 << 0,       /* TYPE A */
    SF_EPSV_ALL = 1 << 1,    /* EPSV ALL: only EPSV may open data connections */
    SF_ANONYMOUS = 1 << 2,   /* logged in anonymously */
    SF_USER_GIVEN = 1 << 3,  /* USER seen, PASS expected */
    SF_WANT_WRITE = 1 << 4,  /* control output pending in `out` */
    SF_READ_PAUSED = 1 << 5, /* input not read while a command waits (transfer, login) */
    SF_COUNTED = 1 << 6,     /* counted in the per-address table */
};

typedef struct session {
    struct server *srv;
    unsigned long id;
    session_state state;
    unsigned flags;
    stream ctl;
    struct sockaddr_storage peer;
    struct sockaddr_storage local;
    char peer_str[64];
    buf in;
    buf out;
    ftp_parser parser;
    char *deferred_line; /* a command that arrived during a transfer, run when it ends */
    char *user_name;     /* from USER */
    const ftpd_user *user;
    unsigned perms;
    vfs vfs;
    char *cwd;
    off_t rest;
    unsigned mlst_facts; /* MLSX_ bits chosen with OPTS MLST */
    char *rename_from;
    int login_failures;
    ev_timer timer; /* login/idle timeout and the failed-login delay */
    long long last_activity;
    struct xfer *xfer;
    struct auth_job *auth;
    int jobs;               /* other worker jobs that still refer to this session */
    unsigned long xfer_seq; /* numbers data channels, so a job can tell its own from a new one */
    struct session *prev, *next;
} session;

/* Takes ownership of fd, sends the greeting (or 421 with reason and closes when `refuse`). */
session *session_new(struct server *srv, int fd, const struct sockaddr_storage *peer,
                     const char *refuse);
/* Frees a closed session (called by the server outside any callback). */
void session_free(session *s);
/* Queues a reply and flushes what the socket takes now. */
void session_reply(session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void session_reply_lines(session *s, int code, const char *text);
/* Sends what is queued, then closes (QUIT, 421). */
void session_close_after_flush(session *s);
/* Closes at once (peer gone, fatal error). Safe to call twice. */
void session_close(session *s);
/* Resumes reading commands after a transfer or a login step ended. */
void session_resume(session *s);
/* Frees a password check that will never report back (the worker pool was stopped). */
void session_discard_auth(session *s);
/* Logs "[id] peer user: message" at info level. */
void session_log(const session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Resolves a client path against cwd into out (PATH_VMAX). Replies 553/550 and returns -1
 * when it cannot. */
int session_path(session *s, const char *arg, char *out);

#endif
