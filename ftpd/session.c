#include "session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "digest.h"
#include "ftp_reply.h"
#include "fsgate.h"
#include "fsjob.h"
#include "ftps.h"
#include "listfmt.h"
#include "log.h"
#include "net.h"
#include "path.h"
#include "peerprobe.h"
#include "server.h"
#include "xfer.h"

#define CTL_OUT_MAX (64 * 1024) /* FEAT, HELP and STAT replies fit with room to spare */
/* A single-line reply's text. The longest real one, a 257 reply quoting a path of PATH_VMAX
 * bytes whose every '"' is doubled, stays far below it; the bound keeps a bug from turning
 * into an allocation as large as its format asks for. */
#define REPLY_TEXT_MAX (CTL_OUT_MAX / 2)
#define CTL_READS_PER_WAKEUP 4
/* Pipelined lines one session runs before the loop serves the others: a client that sends a
 * hundred STATs of a large directory must not hold every other session for their sum. */
#define CTL_LINES_PER_TURN 4
/* How long the last replies (a 421, a 221) may take to leave before the connection is closed
 * regardless, at most: a client that reads nothing must not keep its session slot. Never
 * longer than the idle timeout. */
#define CLOSING_GRACE_MS 10000L

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud);
static long session_timer_cb(ev_loop *loop, ev_timer *t, void *ud);
static long drain_cb(ev_loop *loop, ev_timer *t, void *ud);
static void tls_step(session *s);
static void process_input(session *s);

static bool reading_allowed(const session *s)
{
    return (s->state == SESS_LOGIN || s->state == SESS_READY) &&
           !(s->flags & (SF_READ_PAUSED | SF_FS_WAIT | SF_TLS_PENDING | SF_TLS_HANDSHAKE));
}

/* A line that came during a transfer and waits for its end: a command, or a refusal. */
static bool has_deferred(const session *s)
{
    return s->deferred_line != NULL || s->deferred_refusal != NULL;
}

/* A command that arrived during a transfer waits for its end (run_line), and so does every
 * line after it, but an ABOR among them must still stop the transfer at once: input goes on
 * being read, as far as `in` holds, and looked through for one (line_waiting). */
static bool watching_for_abor(const session *s)
{
    if (s->state != SESS_READY || (s->flags & (SF_TLS_PENDING | SF_TLS_HANDSHAKE)))
        return false;
    /* An APPE or REST+STOR whose copy of the existing file runs on the workers (cmd_data.c)
     * holds the session's input too, for seconds with a large file: ABOR, or the client's
     * going, must stop that copy. */
    if (s->prepare)
        return true;
    /* So does a HASH, for minutes with a large file on a slow disk. */
    if (s->hash)
        return true;
    /* So does a RETR or listing whose path is being opened: the ABOR is for that transfer. */
    if (s->opening)
        return true;
    /* A STAT of a path reading its listing on a worker during a transfer. */
    if ((s->flags & SF_FS_WAIT) && xfer_busy(s->xfer))
        return true;
    bool held = ((s->flags & SF_READ_PAUSED) && has_deferred(s)) || (s->flags & SF_OUT_BACKLOG);
    return held && xfer_busy(s->xfer);
}

static bool wants_input(const session *s)
{
    if (s->flags & SF_PEER_EOF)
        return false;
    if (watching_for_abor(s))
        return !buf_full(&s->in);
    return reading_allowed(s) && !(s->flags & (SF_OUT_BACKLOG | SF_TURN_OVER));
}

/* True when the line p (len bytes, without its LF) is the 4-letter verb, alone or with an
 * argument. */
static bool is_verb(const char *p, size_t len, const char *verb)
{
    return len >= 4 && strncasecmp(p, verb, 4) == 0 && (len == 4 || p[4] == '\r' || p[4] == ' ');
}

/* True when the line from p to eol is the command verb, after any Telnet IAC pairs a client
 * puts in front of it (IP, and the Synch's DM when it comes inline as urgent data). */
static bool line_is(const unsigned char *p, const unsigned char *eol, const char *verb)
{
    while (p < eol && (*p == ' ' || (*p == 0xFF && p + 1 < eol)))
        p += *p == ' ' ? 1 : 2;
    return is_verb((const char *)p, (size_t)(eol - p), verb);
}

/* True when the first whole line in `in` is the command verb (see line_waiting). */
static bool next_line_is(const buf *in, const char *verb)
{
    if (buf_empty(in))
        return false; /* a trimmed buffer has no storage: memchr must not see its NULL */
    const unsigned char *p = (const unsigned char *)buf_head(in);
    const unsigned char *eol = memchr(p, '\n', buf_len(in));
    return eol && line_is(p, eol, verb);
}

/* True when a whole line in `in` is the command verb (line_is), before any line that is
 * the command `until` (NULL: none stops the search). */
static bool line_waiting_before(const buf *in, const char *verb, const char *until)
{
    const unsigned char *p = (const unsigned char *)buf_head(in);
    const unsigned char *end = p + buf_len(in);
    while (p < end) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return false;
        if (line_is(p, eol, verb))
            return true;
        if (until && line_is(p, eol, until))
            return false;
        p = eol + 1;
    }
    return false;
}

static bool line_waiting(const buf *in, const char *verb)
{
    return line_waiting_before(in, verb, NULL);
}

/* The line waiting for the transfer to end is a QUIT. */
static bool quit_deferred(const session *s)
{
    const char *d = s->deferred_line;
    return d && is_verb(d, strlen(d), "QUIT");
}

/* The client closed its side while lines wait behind a transfer. A transfer that has its
 * data connection goes on, and the lines run after it: a client may half-close and still
 * read (RFC 959's "put file; bye"). One still waiting for its data connection ends the
 * session, as a close with nothing waiting does: the client has gone, and the transfer
 * would hold the session until the data timeout. Only a QUIT behind the transfer keeps it
 * then too: the client may open the data connection after it (runs_during_transfer). */
static bool keeps_session_at_eof(const session *s)
{
    if (s->prepare) /* unannounced as well: only "put file; bye" keeps it */
        return line_waiting(&s->in, "QUIT");
    if (s->hash) /* "HASH f; QUIT" then a half-close still wants the digest; else no one reads it */
        return line_waiting(&s->in, "QUIT");
    if (!xfer_unannounced(s->xfer))
        return true;
    return quit_deferred(s) || line_waiting(&s->in, "QUIT");
}

/* Input that OpenSSL already decrypted raises no socket event: come back for it before the
 * loop sleeps (a 0 ms timer keeps the loop from sleeping). */
static void check_pending(session *s)
{
    if (wants_input(s) && stream_pending(&s->ctl) > 0)
        ev_timer_start(s->srv->loop, &s->drain, 0);
}

/* The control fd asks for writable events only while replies wait in `out`. */
static void update_events(session *s)
{
    if (s->state == SESS_CLOSED)
        return;
    ev_loop *loop = s->srv->loop;
    int want = (wants_input(s) ? EV_READ : 0) | (buf_empty(&s->out) ? 0 : EV_WRITE);
    /* Lines fill `in` behind a transfer: nothing is read, but a close must still be seen. */
    if (watching_for_abor(s) && buf_full(&s->in) && !(s->flags & (SF_PEER_EOF | SF_HANGUP_SEEN)))
        want |= EV_HANGUP;
    if (s->flags & SF_TLS_HANDSHAKE)
        want = 0; /* only what the handshake waits for */
    want |= stream_want(&s->ctl);
    int have = ev_mask(loop, s->ctl.fd);
    if (have & ~want)
        ev_del(loop, s->ctl.fd, have & ~want);
    if (want & ~have)
        ev_add(loop, s->ctl.fd, want & ~have, ctl_cb, s);
}

static void flush_out(session *s)
{
    if (s->flags & SF_TLS_HANDSHAKE) { /* replies wait for the TLS handshake */
        update_events(s);
        return;
    }
    while (!buf_empty(&s->out)) {
        ssize_t n = stream_write(&s->ctl, buf_head(&s->out), buf_len(&s->out));
        if (n > 0) {
            buf_consume(&s->out, (size_t)n);
            if (s->flags & SF_OUT_BACKLOG) /* reading a long backlog of replies is not idling */
                s->last_activity = ev_now(s->srv->loop);
            continue;
        }
        if (n < 0 && s->ctl.last_errno == EAGAIN)
            break;
        session_log(s, "control connection lost while writing: %s", strerror(s->ctl.last_errno));
        session_close(s);
        return;
    }
    if (buf_empty(&s->out)) {
        buf_trim(&s->out);
        if (s->flags & SF_OUT_BACKLOG) { /* the client has read every reply: go on */
            s->flags &= ~SF_OUT_BACKLOG;
            ev_timer_start(s->srv->loop, &s->drain, 0);
        }
        if (s->state == SESS_CLOSING) {
            /* End the stream properly (TLS: close_notify) before closing. */
            if (stream_shutdown(&s->ctl) < 0 && s->ctl.last_errno == EAGAIN) {
                update_events(s);
                return;
            }
            session_close(s);
            return;
        }
        if (s->flags & SF_TLS_PENDING) { /* 234 is out: the handshake begins */
            s->flags &= ~SF_TLS_PENDING;
            if (ftps_session_start(s) < 0) {
                session_close(s);
                return;
            }
            s->flags |= SF_TLS_HANDSHAKE;
            tls_step(s);
            return;
        }
    }
    update_events(s);
}

/* Drives the control connection's TLS handshake; input and replies wait until it is done.
 * A client that stalls it is closed by the login timeout. */
static void tls_step(session *s)
{
    if (stream_handshake(&s->ctl) < 0) {
        if (s->ctl.last_errno == EAGAIN) {
            update_events(s);
            return;
        }
        session_log(s, "TLS handshake failed: %s", ftps_session_error(s));
        session_close(s);
        return;
    }
    s->flags &= ~SF_TLS_HANDSHAKE;
    s->last_activity = ev_now(s->srv->loop);
    ftps_session_ready(s);
    flush_out(s); /* the greeting of implicit FTPS */
    if (s->state == SESS_CLOSED)
        return;
    process_input(s);
    if (s->state != SESS_CLOSED) {
        update_events(s);
        check_pending(s);
    }
}

static void queued(session *s, int rc)
{
    if (rc < 0) {
        /* The client sends commands but does not read replies: drop it rather than grow. */
        session_log(s, "reply buffer full, closing");
        session_close(s);
        return;
    }
    flush_out(s);
}

/* Formats a reply text into stack when it fits, else into the heap (the caller frees a text
 * that is not stack), and sets *len. NULL with errno on a format error, ENOMEM, or a text
 * longer than REPLY_TEXT_MAX (EMSGSIZE). */
static char *format_reply(char *stack, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(stack, cap, fmt, ap);
    char *text = stack;
    if (n < 0) {
        text = NULL;
    } else if ((size_t)n > REPLY_TEXT_MAX) {
        errno = EMSGSIZE;
        text = NULL;
    } else if ((size_t)n >= cap) {
        text = malloc((size_t)n + 1);
        if (text != NULL)
            vsnprintf(text, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (text != NULL)
        *len = (size_t)n;
    return text;
}

void session_reply(session *s, int code, const char *fmt, ...)
{
    if (s->state == SESS_CLOSED)
        return;
    char stack[1024];
    size_t len = 0;
    va_list ap;
    va_start(ap, fmt);
    char *text = format_reply(stack, sizeof stack, &len, fmt, ap);
    va_end(ap);
    if (text == NULL) {
        /* An error, never a cut reply: a client would take a cut path for a real one. */
        session_log(s, "reply %d not sent: %s", code, strerror(errno));
        queued(s, ftp_reply(&s->out, FTP_LOCAL_ERROR, "Local error: cannot build the reply."));
        return;
    }
    log_debug("[%lu] <- %d %s", s->id, code, text);
    queued(s, ftp_reply_text(&s->out, code, text, len));
    if (text != stack)
        free(text);
}

void session_reply_lines(session *s, int code, const char *text)
{
    if (s->state == SESS_CLOSED)
        return;
    log_debug("[%lu] <- %d (multi-line)", s->id, code);
    queued(s, ftp_reply_lines(&s->out, code, text));
}

void session_log(const session *s, const char *fmt, ...)
{
    if (log_level < LOG_INFO)
        return;
    char text[4096]; /* a log line's worth: log_msg cuts what is longer, and marks the cut */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    log_info("[%lu] %s %s: %s", s->id, s->peer_str, session_who(s), text);
}

const char *session_who(const session *s)
{
    return (s->flags & SF_ACCOUNT) ? s->user_name : (s->flags & SF_ANONYMOUS) ? "anonymous" : "-";
}

session *session_new(struct server *srv, int fd, const struct sockaddr_storage *peer,
                     const char *refuse, const char *limit, bool implicit_tls)
{
    session *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return NULL;
    }
    s->srv = srv;
    s->id = ++srv->next_id;
    s->state = SESS_LOGIN;
    s->peer = *peer;
    stream_plain_init(&s->ctl, fd);
    /* Clients send ABOR (and Telnet IP/DM) as urgent data; the urgent byte is the line's
     * final LF, which would otherwise be taken out of the stream and the line never end. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
    net_local_addr(fd, &s->local);
    net_addr_str(peer, s->peer_str, sizeof s->peer_str);
    buf_init(&s->in, FTP_LINE_MAX);
    buf_init(&s->out, CTL_OUT_MAX);
    s->vfs.root_fd = -1;
    session_default_opts(s);
    ev_timer_init(&s->timer, session_timer_cb, s);
    ev_timer_init(&s->drain, drain_cb, s);
    s->last_activity = s->connected_at = ev_now(srv->loop);

    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nsessions++;

    if (refuse && implicit_tls) { /* a 421 would need a handshake first: just close */
        session_log(s, "refused: %s (%s)", refuse, limit);
        session_close(s);
        return s;
    }
    if (refuse) {
        session_log(s, "refused: %s (%s)", refuse, limit);
        session_reply(s, FTP_SERVICE_UNAVAILABLE, "%s", refuse);
        session_close_after_flush(s);
        return s;
    }
    session_log(s, "connected");
    ev_timer_start(srv->loop, &s->timer, (long)srv->cfg->login_timeout * 1000);
    if (implicit_tls) {
        if (ftps_session_start(s) < 0) {
            session_close(s);
            return s;
        }
        /* Implicit FTPS clients expect protected data without asking (PROT P). */
        s->flags |= SF_TLS | SF_TLS_HANDSHAKE | SF_PROT_P | SF_PBSZ;
    }
    session_reply(s, FTP_READY, "%s",
                  srv->cfg->banner ? srv->cfg->banner : "ftpd " FTP_VERSION " ready.");
    if (implicit_tls) {
        tls_step(s);
        return s;
    }
    update_events(s);
    return s;
}

void session_default_opts(session *s)
{
    s->mlst_facts = MLSX_ALL;
    s->mz_level = XFER_MZ_LEVEL_DEFAULT;
    s->hash_algo = DIGEST_SHA256;
}

void session_forget_rename(session *s)
{
    free(s->rename_from);
    s->rename_from = NULL;
}

void session_close_after_flush(session *s)
{
    if (s->state == SESS_CLOSED)
        return;
    s->state = SESS_CLOSING;
    if (s->xfer)
        xfer_free(s->xfer);
    long idle_ms = (long)s->srv->cfg->idle_timeout * 1000;
    ev_timer_start(s->srv->loop, &s->timer,
                   idle_ms < CLOSING_GRACE_MS ? idle_ms : CLOSING_GRACE_MS);
    flush_out(s);
}

void session_close(session *s)
{
    if (s->state == SESS_CLOSED)
        return;
    if (s->xfer)
        xfer_free(s->xfer);
    ev_timer_stop(s->srv->loop, &s->timer);
    ev_timer_stop(s->srv->loop, &s->drain);
    ev_del(s->srv->loop, s->ctl.fd, EV_ALL);
    stream_close(&s->ctl);
    s->state = SESS_CLOSED;
    session_log(s, "disconnected");
    server_session_closed(s->srv, s);
}

void session_close_for_shutdown(session *s)
{
    /* RFC 959's 421 of a service that must shut down: clients show it (lftp, ftplib's
     * error_temp), where a bare close reads as a network fault. A session already saying
     * goodbye, or whose replies wait for a TLS handshake, has nothing more said. */
    if (s->state != SESS_CLOSED && s->state != SESS_CLOSING &&
        !(s->flags & (SF_TLS_HANDSHAKE | SF_TLS_PENDING)) &&
        ftp_reply(&s->out, FTP_SERVICE_UNAVAILABLE,
                  "Server shutting down; closing control connection.") == 0)
        flush_out(s);
    session_close(s);
}

void session_free(session *s)
{
    buf_free(&s->in);
    buf_free(&s->out);
    vfs_close(&s->vfs);
    fsgate_unref(s->srv, s->root);
    free(s->deferred_line);
    free(s->user_name);
    free(s->cwd);
    free(s->rename_from);
    free(s);
}

bool path_names_dir(const char *arg)
{
    size_t n = strlen(arg);
    return (n > 0 && arg[n - 1] == '/') || (n >= 2 && strcmp(arg + n - 2, "/.") == 0);
}

int session_resolve(session *s, const char *arg, char *out)
{
    if (path_resolve(s->cwd ? s->cwd : "/", arg, out, PATH_VMAX) < 0) {
        session_reply(s, FTP_BAD_FILENAME, "Path too long or invalid.");
        return -1;
    }
    return 0;
}

/* Commands that must be answered while a transfer runs; the rest wait for it to end. An empty
 * line is answered at once, like NOOP: its 500 has nothing to wait for. QUIT waits too, as
 * RFC 959 4.1.1 says (the connection stays open for the transfer's reply) and vsftpd does: a
 * client that closes its data connection and quits at once has sent a whole file, part of it
 * still on its way through the socket, and one that pipelines "RETR file" and QUIT still
 * wants the file. A peer that stops reading is cut by the data timeout, as any stalled
 * transfer is; ABOR cuts it at once. */
static bool runs_during_transfer(const char *verb)
{
    return verb[0] == '\0' || strcmp(verb, "ABOR") == 0 || strcmp(verb, "STAT") == 0 ||
           strcmp(verb, "NOOP") == 0;
}

/* Until its 150 is out a transfer has nothing to report, and a reply to a later command
 * would come before that 150: only ABOR acts on it then. */
static bool waits_for_150(const session *s, const char *verb)
{
    return xfer_unannounced(s->xfer) && strcmp(verb, "ABOR") != 0;
}

static void run_line(session *s, char *line)
{
    ftp_cmd cmd;
    ftp_parse_line(line, &cmd);
    if (s->xfer) /* a settling upload's client has just shown it is alive */
        xfer_poll_input(s->xfer, strcmp(cmd.verb, "ABOR") == 0);
    /* That poll may have ended the transfer with its reply still to come (a failed upload's
     * waits for its file's close: server_close_then_reply): this line is answered after it. */
    bool held = (s->flags & SF_READ_PAUSED) && !xfer_busy(s->xfer);
    if (held ||
        (xfer_busy(s->xfer) && (!runs_during_transfer(cmd.verb) || waits_for_150(s, cmd.verb)))) {
        size_t need = strlen(cmd.verb) + 1 + strlen(cmd.arg) + 1;
        free(s->deferred_line);
        s->deferred_line = malloc(need);
        if (!s->deferred_line) {
            session_close(s);
            return;
        }
        snprintf(s->deferred_line, need, cmd.has_arg ? "%s %s" : "%s%s", cmd.verb, cmd.arg);
        s->flags |= SF_READ_PAUSED;
        return;
    }
    commands_dispatch(s, &cmd);
}

/* Answers a line refused before it could be parsed. Like an empty line it is answered at once
 * during a transfer, but not before the transfer's 150, which its reply must not overtake: it
 * then waits for the transfer's end, as any command would. False when it waits: stop reading. */
static bool refuse_line(session *s, int code, const char *text)
{
    session_forget_rename(s);
    if (xfer_unannounced(s->xfer)) {
        s->deferred_refusal = text;
        s->deferred_refusal_code = code;
        s->flags |= SF_READ_PAUSED;
        return false;
    }
    session_reply(s, code, "%s", text);
    return true;
}

/* The transfer's end (426) resumes the session: the waiting lines then run in order, the
 * ABOR last, with nothing left to abort. Lines just read are looked through for an ABOR
 * anywhere (it aborts what runs now, whatever waits between); lines read earlier only when
 * the ABOR is next (next_only): such an ABOR stays in `in` until its turn, and each transfer
 * started from the lines before it would otherwise be cut by it again. */
static void stop_for_waiting_abor(session *s, bool next_only)
{
    if (s->state == SESS_CLOSED || !watching_for_abor(s))
        return;
    /* An ABOR behind a QUIT is not the client's word on this transfer: QUIT lets it end,
     * and the ABOR then finds nothing to abort. */
    bool abor = next_only ? !has_deferred(s) && next_line_is(&s->in, "ABOR")
                          : !quit_deferred(s) && line_waiting_before(&s->in, "ABOR", "QUIT");
    if (!abor)
        return;
    if (s->prepare)
        session_cancel_prepare(s);
    else if (s->hash)
        session_cancel_hash(s);
    else if (s->opening)
        fsjob_cancel(s->opening);
    else
        xfer_cut(s);
}

/* Runs the commands waiting in `in`, one at a time and in order. A command can end a
 * transfer (ABOR, or a settling upload committed when its client speaks), and ending it
 * resumes the session: that resume must not run the next lines before this one has replied,
 * so only the outermost call reads. */
static void process_input(session *s)
{
    if (s->flags & SF_IN_INPUT)
        return; /* re-entered: the loop below goes on once the current command returns */
    s->flags |= SF_IN_INPUT;
    char line[FTP_LINE_MAX + 1];
    int budget = CTL_LINES_PER_TURN;
    while (reading_allowed(s)) {
        if (has_deferred(s) && xfer_busy(s->xfer)) { /* it came before anything in `in` */
            s->flags |= SF_READ_PAUSED;
            break;
        }
        /* A client that sends commands faster than it reads their replies: the next one
         * waits, and so does reading, until it has read them (flush_out). Replies never
         * outgrow `out`, and the client gets every one. */
        if (!buf_empty(&s->out)) {
            s->flags |= SF_OUT_BACKLOG;
            break;
        }
        if (budget-- == 0) { /* the rest in a later turn; reading waits for it too */
            s->flags |= SF_TURN_OVER;
            ev_timer_start(s->srv->loop, &s->drain, 0);
            break;
        }
        if (has_deferred(s)) {
            if (s->deferred_refusal) {
                const char *text = s->deferred_refusal;
                s->deferred_refusal = NULL;
                session_reply(s, s->deferred_refusal_code, "%s", text);
                continue;
            }
            char *deferred = s->deferred_line;
            s->deferred_line = NULL;
            run_line(s, deferred);
            free(deferred);
            continue;
        }
        ftp_cmd cmd;
        ftp_parse_result r = ftp_parse_next(&s->parser, &s->in, &cmd, line, sizeof line);
        if (r == FTP_PARSE_NEED_MORE)
            break;
        s->last_activity = ev_now(s->srv->loop);
        if (r == FTP_PARSE_TOO_LONG) {
            if (!refuse_line(s, FTP_SYNTAX_ERROR, "Command line too long."))
                break;
            continue;
        }
        /* Re-join verb and argument: run_line parses again so deferred lines share a path. */
        char joined[FTP_LINE_MAX + 1];
        snprintf(joined, sizeof joined, cmd.has_arg ? "%s %s" : "%s%s", cmd.verb, cmd.arg);
        if (cmd.has_nul) {
            if (!refuse_line(s, FTP_ARG_SYNTAX_ERROR, "NUL byte in command line."))
                break;
            continue;
        }
        if (cmd.verb_too_long) {
            if (!refuse_line(s, FTP_SYNTAX_ERROR, "Unknown command."))
                break;
            continue;
        }
        run_line(s, joined);
    }
    /* Every whole line the client sent before closing its side has run (the loop stopped for
     * want of more, not for a transfer): nothing more can come. */
    if ((s->flags & SF_PEER_EOF) && reading_allowed(s) && !has_deferred(s) &&
        !(s->flags & (SF_OUT_BACKLOG | SF_TURN_OVER)))
        session_close_after_flush(s);
    s->flags &= ~SF_IN_INPUT;
    /* A transfer started from lines read in an earlier wakeup (a drain turn, or the resume
     * after a transfer) would otherwise notice an ABOR already read only when more input came. */
    stop_for_waiting_abor(s, true);
    if (s->state != SESS_CLOSED && buf_empty(&s->in))
        buf_trim(&s->in);
}

void session_resume(session *s)
{
    if (s->state == SESS_CLOSED)
        return;
    s->flags &= ~SF_READ_PAUSED;
    if (s->flags & SF_IN_INPUT)
        return;       /* called from a command: process_input goes on, its caller updates events */
    process_input(s); /* the deferred line first, then what followed it */
    if (s->state != SESS_CLOSED) {
        update_events(s);
        check_pending(s);
    }
}

void session_resume_after_job(session *s)
{
    if (!(s->flags & SF_READ_PAUSED))
        session_resume(s);
}

void session_hold(session *s)
{
    s->flags |= SF_READ_PAUSED;
    update_events(s);
}

static void close_gone_client(session *s)
{
    if (s->prepare)
        session_log(s, "the client closed the connection while its upload's file was being "
                       "prepared");
    else if (s->hash)
        session_log(s, "the client closed the connection during its HASH");
    else
        session_log(s, "the client closed the connection before the data connection came, "
                       "with commands waiting");
    session_close(s);
}

/* "HASH f; QUIT", then the end of input: a client that only shut its sending side waits for
 * the digest, one that closed the connection never reads it, and hashing a large file for it
 * would take a worker for minutes. The probe tells them apart (peerprobe.h); each slice of the
 * hash then asks (session_gone_during_hash). Replies waiting in `out` probe as well. Not under
 * TLS: there a byte put in the stream by a middlebox would break the records themselves. */
static void probe_hash_client(session *s)
{
    if (s->flags & (SF_TLS | SF_PEER_PROBED))
        return;
    /* Whatever the send returns: EAGAIN leaves bytes in flight that probe as well, and EPIPE
     * or ECONNRESET means a reply was answered with the reset already, which TCP_INFO reads. */
    (void)peerprobe_send(s->ctl.fd);
    s->flags |= SF_PEER_PROBED;
}

bool session_gone_during_hash(session *s)
{
    if (s->state == SESS_CLOSED || !(s->flags & SF_PEER_PROBED) || !s->hash ||
        !peerprobe_reset(s->ctl.fd))
        return false;
    close_gone_client(s);
    return true;
}

static void read_input(session *s)
{
    for (int i = 0; i < CTL_READS_PER_WAKEUP && wants_input(s); i++) {
        size_t avail;
        char *tail = buf_tail(&s->in, &avail);
        if (!tail) {
            if (errno == ENOMEM) {
                session_close(s);
                return;
            }
            break; /* full: the parser frees room as it reads */
        }
        ssize_t n = stream_read(&s->ctl, tail, avail);
        if (n > 0) {
            buf_commit(&s->in, (size_t)n);
            if (reading_allowed(s))
                process_input(s);
            stop_for_waiting_abor(s, false);
            if (s->state == SESS_CLOSED)
                return;
            if ((size_t)n < avail && stream_pending(&s->ctl) == 0)
                break;
            continue;
        }
        if (n < 0 && s->ctl.last_errno == EAGAIN)
            break;
        if (n == 0 && !reading_allowed(s) && keeps_session_at_eof(s)) {
            /* Read only to watch for ABOR: the lines already here still run, after the
             * transfer, as they would have without the watch; process_input closes then. */
            s->flags |= SF_PEER_EOF;
            if (s->hash)
                probe_hash_client(s);
            break;
        }
        if (n == 0 && (has_deferred(s) || s->hash)) {
            close_gone_client(s);
            return;
        }
        if (n < 0)
            session_log(s, "control connection error: %s", strerror(s->ctl.last_errno));
        else
            (void)stream_shutdown(&s->ctl); /* TLS: the client's close_notify gets ours */
        session_close(s);
        return;
    }
    if (s->state != SESS_CLOSED && buf_empty(&s->in))
        buf_trim(&s->in);
}

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    session *s = ud;
    if (s->flags & SF_TLS_HANDSHAKE) {
        tls_step(s);
        return;
    }
    if (mask & EV_HANGUP) {
        if (!keeps_session_at_eof(s)) {
            close_gone_client(s);
            return;
        }
        s->flags |= SF_HANGUP_SEEN; /* the end is read in its turn, after the lines before it */
        /* A HASH with its QUIT waiting: the end may never be read (a partial line fills `in`
         * behind the QUIT), so probe at the hang-up too. */
        if (s->hash)
            probe_hash_client(s);
    }
    /* Events the stream asked for itself (a TLS read that must write, or the reverse): retry
     * both directions, whichever was waiting. */
    int extra = stream_want(&s->ctl);
    if ((mask & EV_WRITE) || extra)
        flush_out(s);
    if (((mask & EV_READ) || extra) && wants_input(s))
        read_input(s);
    if (s->state != SESS_CLOSED) {
        update_events(s);
        check_pending(s);
    }
}

static long drain_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    session *s = ud;
    s->flags &= ~SF_TURN_OVER;
    if (reading_allowed(s) && !(s->flags & SF_OUT_BACKLOG))
        process_input(s); /* lines read before the replies backed up, or beyond a turn */
    if (s->state != SESS_CLOSED && wants_input(s))
        read_input(s);
    if (s->state != SESS_CLOSED) {
        update_events(s);
        check_pending(s);
    }
    return EV_TIMER_STOP;
}

static long session_timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    session *s = ud;
    const ftpd_config *cfg = s->srv->cfg;
    long long now = ev_now(loop);
    if (s->state == SESS_LOGIN_DELAY) {
        session_reply(s, FTP_NOT_LOGGED_IN, "Login incorrect.");
        if (s->state == SESS_CLOSED) /* the client had gone: its session is freed soon */
            return EV_TIMER_STOP;
        /* This failure, or another session's, banned the address: no more guesses here. */
        if (login_banned(s, FTP_SERVICE_UNAVAILABLE))
            return EV_TIMER_STOP;
        if (s->login_failures >= cfg->max_login_failures) {
            session_log(s, "too many login failures, closing");
            session_reply(s, FTP_SERVICE_UNAVAILABLE, "Too many login failures, closing.");
            session_close_after_flush(s);
            return EV_TIMER_STOP;
        }
        s->state = SESS_LOGIN;
        s->last_activity = now;
        /* Re-arm before resuming: a command read now (another PASS) may set its own delay. */
        ev_timer_start(loop, t, (long)cfg->login_timeout * 1000);
        session_resume(s);
        return EV_TIMER_STOP;
    }
    if (s->state == SESS_CLOSED)
        return EV_TIMER_STOP;
    if (s->state == SESS_CLOSING) {
        session_log(s, "the client does not read its last replies: closing");
        session_close(s);
        return EV_TIMER_STOP;
    }
    long long limit = (s->state == SESS_READY ? cfg->idle_timeout : cfg->login_timeout) * 1000LL;
    if (xfer_busy(s->xfer))
        return (long)limit; /* a running transfer has its own data timeout */
    if (s->flags & SF_FS_WAIT)
        return (long)limit; /* the client waits for the server (a slow disk), not idle */
    /* Idle time after login; before it, time since connecting: a client that never logs in
     * must not hold its session slot by sending NOOP or USER now and then. */
    long long idle = now - (s->state == SESS_READY ? s->last_activity : s->connected_at);
    if (idle < limit)
        return (long)(limit - idle);
    if (s->flags & (SF_TLS_PENDING | SF_TLS_HANDSHAKE)) { /* nothing can be said to it now */
        session_log(s, "TLS handshake timeout");
        session_close(s);
        return EV_TIMER_STOP;
    }
    session_log(s, "%s timeout", s->state == SESS_READY ? "idle" : "login");
    session_reply(s, FTP_SERVICE_UNAVAILABLE, "Timeout (%d seconds): closing control connection.",
                  (int)(limit / 1000));
    session_close_after_flush(s);
    return EV_TIMER_STOP;
}
