/* Private to the simulated clients of ftpc stress (stress_client*.c): the client's states and
 * flags, and what the files of its state machine call in one another.
 *
 *   stress_client.c          its life: closing, failing, finishing, the timer, the entry points
 *   stress_client_control.c  the control connection: commands out, replies in, TLS, login
 *   stress_client_reply.c    what each reply means in the state that awaited it
 *   stress_client_ops.c      the operations: the next one, its transfer, outcome, faults, clean-up
 *   stress_client_data.c     the data connection: downloads checked, uploads generated, MODE Z
 *
 * A function named sc_ is shared between these files; one without the prefix is static to its
 * own. Everything runs on the run's loop: a handler that may have closed or replaced a stream
 * compares c->gen, never the (reusable) pointer.
 */
#ifndef FTPC_STRESS_CLIENT_INT_H
#define FTPC_STRESS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "stream.h"
#include "stream_tls.h"
#include "stress_client.h"

enum {
    S_IDLE = 0,   /* waiting for the timer: start, think, back-off */
    S_CONNECTING, /* TCP connect of the control connection */
    S_GREETING,
    S_AUTH,   /* AUTH TLS sent */
    S_TLS_HS, /* control handshake */
    S_USER,
    S_PASS,
    S_CHAIN, /* the commands after login, c->step says which */
    S_PASV,  /* EPSV or PASV sent */
    S_XFER,  /* RETR/STOR/LIST sent, data connection open */
    S_HASH,
    S_HASH_WAIT, /* the server was busy hashing: HASH again from the timer */
    S_DELE,
    S_SIZE,       /* set-up: is the fixture there? */
    S_CLEAN_DELE, /* --clean: a fixture's DELE */
    S_FIX_DELE,   /* interrupted set-up: the DELE of the fixture whose upload was cut */
    S_CLEAN_LEFT, /* the DELE of an upload a stopped client may have left */
    S_CLEAN_CDUP, /* --clean: out of the directory the set-up made ... */
    S_CLEAN_RMD,  /* ... to remove it */
    S_ABORT,      /* ABOR sent: waiting for its reply and the transfer's (c->step of them) */
    S_SYNC,       /* NOOP sent after an ABOR: replies are dropped until its 200 */
    S_RELOGIN,    /* QUIT of a login operation */
    S_QUIT,
    S_DONE,
};

enum { W_START = 0, W_NEXT_OP, W_RECONNECT };

/* Commands after login, in order; steps that do not apply are skipped. */
enum { L_PBSZ = 0, L_PROT, L_FEAT, L_TYPE, L_MODEZ, L_CWD, L_MKD, L_CWD2, L_DELE, L_END };

/* What the data connection carries. */
enum { X_GET = 0, X_STOR, X_READBACK, X_LIST, X_FIX_STOR };

enum { F_NONE = 0, F_ABORT, F_DROP };

enum {
    CF_SETUP = 1 << 0,
    CF_AWAIT_GREET = 1 << 1,  /* counted in run->awaiting_greeting */
    CF_LOGGED_IN = 1 << 2,    /* (a main client's: counted in run->logged_in) */
    CF_FINAL = 1 << 3,        /* the transfer's final reply came */
    CF_DATA_DONE = 1 << 4,    /* the data connection finished (or failed) */
    CF_VFAILED = 1 << 5,      /* this transfer already reported a mismatch */
    CF_DATA_UP = 1 << 6,      /* data connected (and TLS handshake done) */
    CF_DATA_SHUT = 1 << 7,    /* upload: all sent, closing */
    CF_PENDING_DELE = 1 << 8, /* after a drop: delete the partial upload first */
    CF_PAUSED = 1 << 9,       /* rate limit: data events off until the timer */
    CF_KICK = 1 << 10,        /* TLS bytes pending: read again from the timer */
    CF_OP_ERR = 1 << 11,      /* the operation failed (counted) */
    CF_FAULTED = 1 << 12,     /* the operation carries an injected fault */
    CF_DATA_ERR = 1 << 13,    /* the data connection failed */
    CF_IN_OP = 1 << 14,       /* an operation of the mix is running */
    CF_INFLIGHT = 1 << 15,    /* counted in run->inflight */
    CF_ESTABLISH = 1 << 16,   /* a session is being established (a login op) */
    CF_LOGIN_T = 1 << 17,     /* t_cmd times the login */
    CF_ZEND = 1 << 18,        /* MODE Z: the stream ended (inflate) or was finished */
    CF_DONE_COUNTED = 1 << 19,
    CF_DATA_TCP = 1 << 20,   /* the data connection's TCP connect completed */
    CF_DATA_DRAIN = 1 << 21, /* TLS upload sent close_notify and FIN: reading to the end */
    CF_PRELIM = 1 << 22,     /* the transfer command's 1xx came */
    CF_WAS_IN = 1 << 23,     /* logged in at least once */
    CF_LEFT_UP = 1 << 24,    /* stopped while its upload may be on the server */
    CF_SAID_421 = 1 << 25,   /* an unasked 421 came: the close that follows is counted */
    CF_RENEW = 1 << 26,      /* the session is in doubt: a new one before the next operation */
    CF_LOGGING_IN = 1 << 27, /* a main client's session under way, not in: run->logging_in */
};

#define ZBUF_SIZE (32u * 1024)
#define ABOR_WAIT_MS 1500 /* then NOOP even if fewer replies to ABOR came */

static inline bool sc_is_setup(const stress_client *c)
{
    return (c->flags & CF_SETUP) != 0;
}

/* --limit-rate holds the simulated clients' transfers, not the set-up's: fixtures uploaded
 * or read back at the clients' pace would keep the run from starting for minutes. */
static inline bool sc_limited(const stress_client *c)
{
    return c->run->o->limit_rate != 0 && !sc_is_setup(c);
}

/* The run's statistics, for a client to count in: the time is kept, so that after an
 * interrupt the rates are taken over the time in which what they count happened. A count
 * after the stop may become the end of the measured window: the CPU time is read with it
 * then (not before: a system call per count, for nothing). */
static inline stress_stats *sc_stats(stress_client *c)
{
    stress_run *run = c->run;
    if (run->stop.us != 0 || run->deadline.us != 0)
        run->counted = stress_mark_now();
    else
        run->counted.us = stress_now_us();
    return &run->st;
}

static inline void sc_arm(stress_client *c, long ms)
{
    ev_timer_start(c->run->loop, &c->timer, ms);
}

static inline void sc_touch(stress_client *c)
{
    c->last_io = ev_now(c->run->loop);
}

/* ---- the client's life (stress_client.c) ---- */

/* "17", or "setup" for a set-up client: the name in traces and reports. */
void sc_who(const stress_client *c, char *out, size_t size);
/* Registers exactly the events want on fd, with cb. */
void sc_set_mask(stress_client *c, int fd, int want, ev_io_cb cb);
/* A non-blocking connect with TCP_NODELAY. Returns the fd, or -1 with errno. */
int sc_connect_nodelay(const struct sockaddr_storage *ss);
/* Closes the data connection (reset: with an RST) and its codec. */
void sc_close_data(stress_client *c, bool reset);
/* Closes both connections and drops the session's pending input and output. */
void sc_close_ctl(stress_client *c, bool reset);
/* Drops the running SHA-256 of an upload (--verify-put hash), if there is one. */
void sc_drop_digest(stress_client *c);
/* The greeting came (or the connection ended first): no longer counted as awaiting it. */
void sc_greeted(stress_client *c);
/* The session is in, or closed: no longer counted in run->logging_in. */
void sc_logging_in_done(stress_client *c);
/* The client is done: what it leaves is counted, and the run told. */
void sc_finish(stress_client *c);
/* A fatal set-up problem: the run stops with rc and says why. */
void sc_setup_fail(stress_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The control connection is lost (err 0: closed by the server), a timeout, a protocol error:
 * the operation fails, and the client reconnects after a back-off (or stops). */
void sc_conn_failed(stress_client *c, int err);
/* FTPC_STRESS_TRACE: a connection's failure (err 0: EOF) on standard error. */
/* An attempt at a session (connect, greeting, login, the after-login chain) failed: it
 * counts as one of the client's operations (see --iterations). */
void sc_session_attempt_failed(stress_client *c);
void sc_trace_err(stress_client *c, const char *what, int err);

/* ---- the control connection (stress_client_control.c) ---- */

/* The control connection's events for the current state. */
void sc_ctl_update(stress_client *c);
void sc_ctl_cb(ev_loop *loop, int fd, int mask, void *ud);
/* Sends one command line (CRLF added). On failure the session is closed and the client goes
 * to its back-off: callers return at once when this returns -1. */
int sc_send_cmd(stress_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shows a TLS failure with its way out (the first few of a run only). */
void sc_tls_note(stress_client *c, stream_tls *t);
/* Puts TLS over *sp (data: resuming the control connection's session). Returns 0 or -1. */
int sc_tls_wrap(stress_client *c, stream **sp, bool data);
/* Connects the control connection: the start of a session. */
void sc_start_session(stress_client *c);
void sc_send_user(stress_client *c);
/* Sends the next command of the after-login chain (c->step), or hands over to the
 * operations. */
void sc_chain_next(stress_client *c);
void sc_logged_in(stress_client *c);
/* A login-time reply that refuses: count it and retry later (set-up: stop). */
void sc_login_refused(stress_client *c, int code);
/* The QUIT of a login operation was answered: connect again from the timer. */
void sc_relogin(stress_client *c);

/* ---- replies (stress_client_reply.c) ---- */

/* Handles one complete reply in c's state. */
void sc_on_reply(stress_client *c, int code, char *text);

/* ---- operations (stress_client_ops.c) ---- */

/* The operation is over: counted, then the next after the think time. */
void sc_op_end(stress_client *c);
/* A reply code that ends the operation as failed; the session itself is fine. */
void sc_op_error(stress_client *c, int code);
/* A verification failure: counted, and the first few kept and shown. */
void sc_vfail(stress_client *c, const char *file, uint64_t offset, int expected, int got);
/* The remote name of the current transfer's file. */
void sc_xfer_file_name(stress_client *c, char *out, size_t size);
void sc_quit(stress_client *c);
void sc_send_pasv(stress_client *c);
/* The clean-up's next DELE, CDUP, or QUIT. */
void sc_clean_next(stress_client *c);
/* Draws the next operation from the mix (set-up: the next fixture), or quits. */
void sc_next_op(stress_client *c);
/* Starts the data connection to port (the control connection's host) and sends the
 * transfer command. */
void sc_open_data(stress_client *c, int port);
/* Both halves of a transfer are over (final reply and data): what comes next. */
void sc_xfer_complete(stress_client *c);
/* The transfer reached its cut: the injected fault (a dropped session, or ABOR). */
void sc_inject(stress_client *c);
/* NOOP after an ABOR: its 200 marks the end of whatever the abort brought. */
void sc_abort_sync(stress_client *c);
/* Cuts the transfer under way: the data connection reset, ABOR sent, its replies awaited
 * (S_ABORT). Returns whether the client still runs. */
bool sc_send_abor(stress_client *c);

/* ---- the data connection (stress_client_data.c) ---- */

/* The data connection's events for its phase (none while paused by the rate limit). */
void sc_data_update(stress_client *c);
/* One round of work on the data connection: connect, handshake, then read or write. */
void sc_data_step(stress_client *c);

#endif
