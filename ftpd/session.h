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
#include "stream_tls.h"
#include "users.h"
#include "vfs.h"

struct server;
struct xfer;
struct auth_job;

typedef enum {
    SESS_LOGIN = 0,   /* greeting sent; waiting for USER/PASS */
    SESS_AUTHING,     /* a password check or the home's open runs on a worker; input held */
    SESS_LOGIN_DELAY, /* a failed login waits out its delay; input is held */
    SESS_READY,       /* logged in */
    SESS_CLOSING,     /* flushing the last reply, then closed */
    SESS_CLOSED,      /* closed; freed before the loop sleeps */
} session_state;

enum {
    SF_ASCII = 1 << 0,        /* TYPE A */
    SF_EPSV_ALL = 1 << 1,     /* EPSV ALL: only EPSV may open data connections */
    SF_ANONYMOUS = 1 << 2,    /* logged in anonymously */
    SF_USER_GIVEN = 1 << 3,   /* USER seen, PASS expected */
    SF_OUT_BACKLOG = 1 << 4,  /* commands wait until the client reads the replies in `out` */
    SF_READ_PAUSED = 1 << 5,  /* input not read while a command waits (transfer, login) */
    SF_COUNTED = 1 << 6,      /* counted in the per-address table */
    SF_MODE_Z = 1 << 7,       /* MODE Z: transfers are deflate-compressed (xfer_mz.c) */
    SF_IN_INPUT = 1 << 8,     /* process_input is running: a nested resume leaves it to it */
    SF_PEER_EOF = 1 << 9,     /* the client closed its side while lines waited: run them, close */
    SF_HANGUP_SEEN = 1 << 10, /* that close was seen (EV_HANGUP) before `in` let it be read */
    SF_TURN_OVER = 1 << 11,   /* ran its lines for this turn: the rest wait for the drain timer */
    SF_ACCOUNT = 1 << 12,     /* logged in with an account of the users file */
    SF_FS_WAIT = 1 << 13,     /* a command's file-system calls run on a worker (fsjob.h) */
    SF_ABOR_DONE = 1 << 14,   /* an ABOR still to run stopped a transfer: its 226 says so */
    SF_CLNT_SEEN = 1 << 15,   /* CLNT named the client, and the name was logged */
    /* FTPS (ftps.c, cmd_tls.c); high bits, clear of the others */
    SF_TLS = 1 << 16,           /* the control connection is (becoming) TLS */
    SF_TLS_PENDING = 1 << 17,   /* 234 queued: the handshake starts once it is sent */
    SF_TLS_HANDSHAKE = 1 << 18, /* control handshake running; input and replies wait */
    SF_PROT_P = 1 << 19,        /* PROT P: data connections are TLS */
    SF_PBSZ = 1 << 20,          /* PBSZ seen */
    /* after SF_PEER_EOF during a HASH: the probe of peerprobe.h went out */
    SF_PEER_PROBED = 1 << 21,
};

typedef struct session {
    struct server *srv;
    unsigned long id;
    session_state state;
    unsigned flags;
    union { /* the control stream: plain, or TLS after AUTH (ctl_tls.base is ctl) */
        stream ctl;
        stream_tls ctl_tls;
    };
    struct sockaddr_storage peer;
    struct sockaddr_storage local;
    char peer_str[64];
    buf in;
    buf out;
    ftp_parser parser;
    char *deferred_line;          /* a command that arrived during a transfer, run when it ends */
    const char *deferred_refusal; /* or a line refused unread (too long, NUL), answered then */
    int deferred_refusal_code;
    /* From USER; after a login with an account (SF_ACCOUNT), that account's name. The session
     * keeps no pointer into the users table, which SIGHUP may replace. */
    char *user_name;
    unsigned perms;
    vfs vfs;
    char *cwd;
    off_t rest;
    /* ALLO's byte count for the next upload (allo_set): an upload that ends with exactly
     * those bytes is whole on that evidence, one with fewer was cut (xfer.c, upload_ended). */
    bool allo_set;
    long long allo;
    unsigned mlst_facts; /* MLSX_ bits chosen with OPTS MLST */
    int mz_level;        /* MODE Z compression level, 0..9 (OPTS MODE Z LEVEL) */
    char *rename_from;
    int login_failures;
    ev_timer timer; /* login/idle timeout and the failed-login delay */
    ev_timer drain; /* 0 ms: input OpenSSL already decrypted waits to be read */
    long long last_activity;
    long long connected_at; /* the login timeout counts from here, not from the last line */
    struct xfer *xfer;
    struct auth_job *auth;
    struct home_job *home;  /* the home being opened on a worker at login (cmd_login.c) */
    struct fsroot *root;    /* that home's gate to the workers (fsgate.h), from the login */
    int jobs;               /* other worker jobs that still refer to this session */
    unsigned long xfer_seq; /* numbers data channels, so a job can tell its own from a new one */
    int hash_algo;          /* digest_algo chosen with OPTS HASH (cmd_hash.c); 0 is SHA-256 */
    struct hash_job *hash;  /* a HASH running on the workers, or NULL */
    struct prepare_job *prepare;  /* a resumed upload being prepared on the workers, or NULL */
    struct fsjob *opening;        /* a RETR or listing opening its path on the workers, or NULL */
    struct upload_orphan *orphan; /* an ended transfer's upload whose writer still runs */
    bool rang_set;                /* RANG given: the next HASH covers rang_start..rang_end */
    off_t rang_start, rang_end;
    struct session *prev, *next;
} session;

/* Takes ownership of fd, sends the greeting (or 421 with reason and closes when `refuse`;
 * the log line adds `limit`, the setting that refused it). With implicit_tls (implicit FTPS)
 * the TLS handshake comes first and the greeting follows it; a refused implicit connection
 * is closed without a word. */
session *session_new(struct server *srv, int fd, const struct sockaddr_storage *peer,
                     const char *refuse, const char *limit, bool implicit_tls);
/* Frees a closed session (called by the server outside any callback). */
void session_free(session *s);
/* Queues a reply and flushes what the socket takes now. */
void session_reply(session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void session_reply_lines(session *s, int code, const char *text);
/* Ends a pending rename: the RNFR is forgotten (RNTO must follow it at once). */
void session_forget_rename(session *s);
/* Puts the choices a client makes with OPTS (MLST facts, HASH algorithm, MODE Z level) back
 * to their defaults. */
void session_default_opts(session *s);
/* Sends what is queued, then closes (QUIT, 421). */
void session_close_after_flush(session *s);
/* Closes at once (peer gone, fatal error). Safe to call twice. */
void session_close(session *s);
/* The server stops: a 421 that says so goes out if the connection takes it now (it is not
 * waited for), then the session is closed. */
void session_close_for_shutdown(session *s);
/* Resumes reading commands after a transfer or a login step ended. */
void session_resume(session *s);
/* After a worker's job for the session's command replied (its own wait already ended):
 * reads commands again, unless that reply put the session on hold once more (a transfer it
 * started that failed at once, whose reply waits for a close): the hold's end resumes it. */
void session_resume_after_job(session *s);
/* Runs no further command until session_resume: the reply the next command must follow has
 * not been sent yet. */
void session_hold(session *s);
/* Frees a password check, or a home's open, that will never report back (the worker pools
 * were stopped). */
void session_discard_auth(session *s);
/* Frees a HASH that will never report back (the worker pool was stopped; cmd_hash.c). */
void session_discard_hash(session *s);
void session_discard_prepare(session *s);
/* ABOR came while an upload is being prepared: its copy stops after the slice on the workers
 * now, and the upload gets 426 (cmd_data.c). The ABOR itself then runs in its turn. */
void session_cancel_prepare(session *s);
/* ABOR came during a HASH: it stops after the slice on the workers now, and the HASH gets
 * 426 (cmd_hash.c). The ABOR itself then runs in its turn and says 226. */
void session_cancel_hash(session *s);
/* Whether the client that ended its input during a HASH, a QUIT waiting behind it, closed
 * the connection whole rather than only its sending side (peerprobe.h): then no one can read
 * the reply, and the session is closed (logged as a client gone) and true returned. False
 * while it may still read, and before the probe could go. */
bool session_gone_during_hash(session *s);
/* The account the session is logged in as, "anonymous", or "-" before a login. */
const char *session_who(const session *s);
/* Logs "[id] peer user: message" at info level. */
void session_log(const session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Resolves a client path against cwd into out (PATH_VMAX). Replies 553 and returns -1 when
 * it cannot. Whether an arg that ends in "/" or "/." (path_names_dir) names a directory is
 * not looked at: that takes the file system, which a command asks on a worker (fsjob_new). */
int session_resolve(session *s, const char *arg, char *out);
/* True when arg ends in "/" or "/.": by POSIX it can only name a directory. */
bool path_names_dir(const char *arg);

#endif
