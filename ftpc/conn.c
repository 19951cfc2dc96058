/* The control connection state machine. Every handler is a switch on the state; a failure
 * closes the sockets at once and tells the owner, and the memory is freed later from the
 * loop's before-sleep hook, so no callback up the stack ever touches freed memory. Failures
 * caused inside a call from the owner (a send that hits a dead socket) are reported from a
 * zero-delay timer instead of re-entering the owner. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "connlimit.h"
#include "dataaddr.h"
#include "mlstopts.h"
#include "net.h"
#include "stream.h"
#include "stream_tls.h"

#define CTL_IN_CAP (64 * 1024)
#define CTL_OUT_CAP (16 * 1024)
#define QUIT_WAIT_MS 2000
/* After the server's reply to QUIT: how long to wait for it to close, which is when a limit
 * on sessions stops counting this one. */
#define QUIT_CLOSE_WAIT_MS 250

typedef enum {
    /* Turned away by a limit on sessions: closed, connecting again when the timer fires. */
    CS_LIMIT_WAIT,
    CS_CONNECTING,
    CS_TLS_HANDSHAKE, /* implicit: before the greeting; explicit: after 234 to AUTH TLS */
    CS_GREETING,
    CS_AUTH, /* AUTH TLS sent */
    CS_USER,
    CS_PASS,
    CS_PBSZ,
    CS_PROT,
    CS_FEAT,
    CS_OPTS_MLST, /* OPTS MLST sent: facts ftpc reads that the server leaves off */
    CS_TYPE,
    CS_MODE, /* MODE Z sent (-z) */
    CS_READY,
    CS_CMD, /* the owner's command is waiting for its final reply */
    CS_EPSV,
    CS_PASV,
    CS_DATA_CONNECTING,
    CS_EPRT,
    CS_PORT,
    CS_QUIT,
    CS_DEAD,
} conn_state;

struct ftpc_conn {
    ftpc_ctx *ctx;
    int id; /* 1, 2, ... in the order of opening: the tag of its -v lines */
    const ftpc_endpoint *ep;
    int addr_index;
    int last_connect_errno;
    long handshake_rtt_us; /* ftpc_conn_rtt_us; -1 unknown */
    conn_state state;
    union {
        stream plain;
        stream_tls tls;
    } cs;        /* the control stream's storage */
    stream *ctl; /* into cs; ctl->fd < 0 when closed */
    ftpc_tls_mode tls_mode;
    ftpc_tls *tls;       /* the endpoint's TLS settings, when tls_mode asks for TLS */
    bool tls_on;         /* the control connection runs TLS (handshake done) */
    bool prot_p;         /* data connections are protected (PROT P accepted) */
    conn_state after_hs; /* where the TLS handshake leads */
    bool read_again;     /* TLS holds decrypted bytes a read cap left behind */
    bool mode_z;         /* MODE Z accepted: transfers are deflate streams */
    char type;           /* the TYPE in force: 'I' or 'A' (0 before login) */
    char type_sent;      /* a TYPE the owner sent, in force once 200 comes */
    buf in, out;
    ftp_reply_parser rp;
    ftp_reply_msg msg; /* the same struct until ftp_reply_next returns 1 */
    ev_timer timer;    /* inactivity timeout while waiting; QUIT grace period */
    ev_timer kick;     /* zero-delay: deferred ready or failure */
    /* What keeps the timeout away: a command sent, a whole reply, data moving (touch). Bytes
     * alone do not, nor a second 1xx to one command: a server that sends an endless
     * multi-line reply or "please wait" forever times out like a silent one. */
    long long last_activity;
    bool prelim_seen; /* a 1xx has answered the command in flight */
    /* ABOR sent behind the command in flight: two final replies end both (RFC 959 4.1.3:
     * the transfer's 426 or 226, then ABOR's 226); abor_finals counts those seen. */
    bool aborting;
    int abor_finals;
    bool drop_late_finals; /* ftpc_conn_drop_late_finals */
    const ftpc_conn_owner *owner;
    void *ud;
    bool ready_pending;
    bool fail_pending;
    unsigned feat;
    ftpc_hash_feat hash; /* from FEAT, and OPTS HASH since */
    char mlst_opts[96];  /* the OPTS MLST to send after FEAT, or "" */
    bool no_epsv, no_eprt;
    int data_fd;   /* passive: connecting or connected, not yet taken */
    int listen_fd; /* active: waiting for the server */
    struct sockaddr_storage peer, local;
    char doing[192]; /* the last command, for messages (PASS masked) */
    bool logged_in;  /* the server accepted its login */
    int refusal;     /* the reply that refused the session before login (421, 530), or 0 */
    char refusal_text[160];
    int limit_attempts; /* connections turned away by a limit on sessions so far */
    /* Final replies after login, 421 aside: an owner tells a connection that did something
     * for it from one the server had already closed by whether this moved. */
    unsigned long answers;
    bool timed_out; /* failed waiting for a reply that did not come in time */
    ftpc_err err;
    ftpc_defer defer;
    ftpc_conn *prev_live, *next_live; /* ctx->conns, while not freed */
};

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud);
static void data_connect_cb(ev_loop *loop, int fd, int mask, void *ud);
static void send_line(ftpc_conn *c, const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A login refused over plain FTP because the server wants TLS: vsftpd "Non-anonymous
 * sessions must use encryption.", ProFTPD "SSL/TLS required on the control channel",
 * pure-ftpd "This server requires encryption". */
static bool asks_for_tls(const char *text)
{
    return strcasestr(text, "encrypt") || strcasestr(text, "TLS") || strcasestr(text, "SSL");
}

static char *endpoint_str(const ftpc_conn *c, char *out, size_t n)
{
    return ftpc_endpoint_str(c->ep, out, n);
}

/* (conn.h) Several connections at once interleave their dialogues: "> RETR a" from one,
 * "< 226" from another would not say whose it was. */
const char *ftpc_conn_trace_tag(const ftpc_conn *c, char *out, size_t n)
{
    if (c != NULL && (c->ctx->opts->jobs > 1 || c->ctx->opts->segments > 1))
        snprintf(out, n, "[%d] ", c->id);
    else if (n > 0)
        out[0] = '\0';
    return out;
}

static void close_fd(ftpc_conn *c, int *fd)
{
    if (*fd >= 0) {
        ev_del(c->ctx->loop, *fd, EV_READ | EV_WRITE);
        close(*fd);
        *fd = -1;
    }
}

static void close_all(ftpc_conn *c)
{
    if (c->ctl->fd >= 0) {
        ev_del(c->ctx->loop, c->ctl->fd, EV_READ | EV_WRITE);
        /* A TLS close done properly: close_notify goes out (one try; nothing waits for the
         * peer's). After a failed handshake the stream knows to send nothing. */
        if (c->tls_on)
            stream_shutdown(c->ctl);
        stream_close(c->ctl);
    }
    close_fd(c, &c->data_fd);
    close_fd(c, &c->listen_fd);
    ev_timer_stop(c->ctx->loop, &c->timer);
    ev_timer_stop(c->ctx->loop, &c->kick);
    buf_free(&c->in);
    buf_free(&c->out);
}

static void conn_release(void *p)
{
    ftpc_conn *c = p;
    free(c);
}

void ftpc_conn_free(ftpc_conn *c)
{
    if (c == NULL || c->defer.queued)
        return;
    close_all(c);
    c->state = CS_DEAD;
    c->owner = NULL;
    c->ctx->nconns--;
    if (c->prev_live != NULL)
        c->prev_live->next_live = c->next_live;
    else
        c->ctx->conns = c->next_live;
    if (c->next_live != NULL)
        c->next_live->prev_live = c->prev_live;
    c->prev_live = c->next_live = NULL;
    ftpc_ctx_defer(c->ctx, &c->defer, conn_release, c);
}

__attribute__((format(printf, 3, 4))) static void conn_fail(ftpc_conn *c, int status,
                                                            const char *fmt, ...)
{
    if (c->state == CS_DEAD)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->err.status = status;
    vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
    va_end(ap);
    close_all(c);
    c->state = CS_DEAD;
    const ftpc_conn_owner *owner = c->owner;
    if (owner == NULL) {
        ftpc_conn_free(c);
        return;
    }
    owner->failed(c, &c->err, c->ud);
}

/* For failures found inside a call from the owner: report from the loop instead. */
__attribute__((format(printf, 3, 4))) static void conn_fail_later(ftpc_conn *c, int status,
                                                                  const char *fmt, ...)
{
    if (c->state == CS_DEAD || c->fail_pending)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->err.status = status;
    vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
    va_end(ap);
    c->fail_pending = true;
    ev_timer_start(c->ctx->loop, &c->kick, 0);
}

static void read_ctl(ftpc_conn *c);

static long kick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_conn *c = ud;
    if (c->fail_pending) {
        c->fail_pending = false;
        ftpc_err e = c->err;
        conn_fail(c, e.status, "%s", e.msg);
        return EV_TIMER_STOP;
    }
    if (c->read_again) {
        c->read_again = false;
        read_ctl(c);
        if (c->state == CS_DEAD)
            return EV_TIMER_STOP;
    }
    if (c->ready_pending) {
        c->ready_pending = false;
        if (c->state == CS_READY && c->owner != NULL && c->owner->ready != NULL)
            c->owner->ready(c, c->ud);
    }
    return EV_TIMER_STOP;
}

static bool waiting_state(conn_state s)
{
    return s != CS_READY && s != CS_DEAD;
}

static void arm_timer(ftpc_conn *c)
{
    c->last_activity = ev_now(c->ctx->loop);
    c->prelim_seen = false;
    if (!ev_timer_active(&c->timer))
        ev_timer_start(c->ctx->loop, &c->timer, c->ctx->opts->timeout_ms);
}

static void try_connect(ftpc_conn *c);

static long timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_conn *c = ud;
    if (c->state == CS_QUIT) {
        ftpc_conn_free(c);
        return EV_TIMER_STOP;
    }
    if (c->state == CS_LIMIT_WAIT) {
        try_connect(c);
        return EV_TIMER_STOP;
    }
    if (!waiting_state(c->state))
        return EV_TIMER_STOP;
    long long idle = ev_now(loop) - c->last_activity;
    long limit = c->ctx->opts->timeout_ms;
    if (idle < limit)
        return (long)(limit - idle);
    char ep[NET_ADDR_STRLEN + 8];
    if (c->state == CS_CONNECTING) {
        /* This address does not answer; the next one may. */
        c->last_connect_errno = ETIMEDOUT;
        ev_del(loop, c->ctl->fd, EV_READ | EV_WRITE);
        stream_close(c->ctl);
        c->addr_index++;
        try_connect(c);
        return EV_TIMER_STOP;
    }
    int status = c->state < CS_READY ? FTPC_EXIT_CONNECT : FTPC_EXIT_XFER;
    c->timed_out = true;
    /* An implicit FTPS port says nothing until the client starts TLS. */
    bool silent = c->state == CS_GREETING && !c->tls_on;
    conn_fail(c, status, "timed out after %ld s waiting for %s (%s)%s", limit / 1000,
              endpoint_str(c, ep, sizeof(ep)), c->doing[0] ? c->doing : "its greeting",
              silent ? "; an implicit FTPS port? try ftps://" : "");
    return EV_TIMER_STOP;
}

/* The control fd waits for replies, for room when output is queued, and for whatever the
 * TLS stream needs besides (a read that must write first); during a handshake only the
 * latter. */
static void update_events(ftpc_conn *c)
{
    if (c->ctl->fd < 0 || c->state == CS_CONNECTING || c->state == CS_DEAD)
        return;
    int want = stream_want(c->ctl);
    if (c->state != CS_TLS_HANDSHAKE) {
        want |= EV_READ;
        if (!buf_empty(&c->out))
            want |= EV_WRITE;
    }
    int have = ev_mask(c->ctx->loop, c->ctl->fd);
    if (have & ~want)
        ev_del(c->ctx->loop, c->ctl->fd, have & ~want);
    if (want & ~have)
        ev_add(c->ctx->loop, c->ctl->fd, want, ctl_cb, c);
}

static void flush_out(ftpc_conn *c)
{
    while (!buf_empty(&c->out)) {
        ssize_t n = stream_write(c->ctl, buf_head(&c->out), buf_len(&c->out));
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && c->ctl->last_errno == EAGAIN) {
            update_events(c);
            return;
        }
        conn_fail_later(c, c->state < CS_READY ? FTPC_EXIT_CONNECT : FTPC_EXIT_XFER,
                        "lost the control connection while sending %s: %s", c->doing,
                        strerror(c->ctl->last_errno));
        return;
    }
    update_events(c);
    buf_trim(&c->out);
}

static void send_line(ftpc_conn *c, const char *shown, const char *fmt, ...)
{
    char line[FTPC_URL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(line, "\r\n") != NULL) {
        conn_fail_later(c, FTPC_EXIT_USAGE, "refusing to send a malformed command");
        return;
    }
    /* Cut to fit: only for messages. */
    const char *what = shown ? shown : line;
    size_t wl = strlen(what);
    if (wl >= sizeof(c->doing))
        wl = sizeof(c->doing) - 1;
    memcpy(c->doing, what, wl);
    c->doing[wl] = '\0';
    if (c->ctx->opts->verbose) {
        char tag[16];
        ftpc_msg(c->ctx, "%s> %s", ftpc_conn_trace_tag(c, tag, sizeof(tag)), c->doing);
    }
    if (ftp_command_put(&c->out, line) < 0) {
        conn_fail_later(c, FTPC_EXIT_XFER, "control connection output is full");
        return;
    }
    arm_timer(c);
    flush_out(c);
}

static void deliver_ready(ftpc_conn *c)
{
    if (c->owner != NULL && c->owner->ready != NULL)
        c->owner->ready(c, c->ud);
}

static void parse_feat(ftpc_conn *c, const char *text)
{
    static const struct {
        const char *name;
        unsigned bit;
    } feats[] = {
        {"SIZE", FTPC_FEAT_SIZE},    {"REST STREAM", FTPC_FEAT_REST}, {"EPSV", FTPC_FEAT_EPSV},
        {"MDTM", FTPC_FEAT_MDTM},    {"MLST", FTPC_FEAT_MLST},        {"UTF8", FTPC_FEAT_UTF8},
        {"MODE Z", FTPC_FEAT_MODEZ}, {"MFMT", FTPC_FEAT_MFMT},
    };
    c->feat |= FTPC_FEAT_ANSWERED;
    const char *line = text;
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        while (len > 0 && *line == ' ') {
            line++;
            len--;
        }
        for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
            size_t fl = strlen(feats[i].name);
            if (len >= fl && strncasecmp(line, feats[i].name, fl) == 0 &&
                (len == fl || line[fl] == ' '))
                c->feat |= feats[i].bit;
        }
        if (len > 5 && strncasecmp(line, "MLST ", 5) == 0 &&
            !ftpc_mlst_opts(line + 5, len - 5, c->mlst_opts, sizeof(c->mlst_opts)))
            c->mlst_opts[0] = '\0';
        line = end ? end + 1 : NULL;
    }
}

static void start_data_connect(ftpc_conn *c, int port)
{
    struct sockaddr_storage addr = c->peer;
    char where[NET_ADDR_STRLEN];
    /* The PASV address is ignored: the data connection goes to the address the control
     * connection reached, which is right behind NAT and cannot be used to aim ftpc at a
     * third host. */
    net_set_port(&addr, port);
    net_addr_str(&addr, where, sizeof(where));
    int fd = net_connect(&addr, NULL);
    if (fd < 0) {
        conn_fail(c, FTPC_EXIT_XFER, "opening the data connection to %s: %s", where,
                  strerror(errno));
        return;
    }
    c->data_fd = fd;
    c->state = CS_DATA_CONNECTING;
    snprintf(c->doing, sizeof(c->doing), "the data connection to %s", where);
    arm_timer(c);
    ev_add(c->ctx->loop, fd, EV_WRITE, data_connect_cb, c);
}

static void data_connect_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_conn *c = ud;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == EINPROGRESS)
        return;
    ev_del(loop, fd, EV_READ | EV_WRITE);
    if (soerr != 0) {
        char what[sizeof(c->doing)];
        snprintf(what, sizeof(what), "%s", c->doing);
        conn_fail(c, FTPC_EXIT_XFER, "opening %s: %s", what, strerror(soerr));
        return;
    }
    c->state = CS_READY;
    if (c->owner != NULL && c->owner->data_prepared != NULL)
        c->owner->data_prepared(c, c->ud);
}

static void send_pasv_or_fail(ftpc_conn *c, const ftp_reply_msg *m)
{
    char q[600];
    if (c->peer.ss_family == AF_INET ||
        (c->peer.ss_family == AF_INET6 &&
         IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&c->peer)->sin6_addr))) {
        c->state = CS_PASV;
        send_line(c, NULL, "PASV");
        return;
    }
    conn_fail(c, FTPC_EXIT_XFER, "opening a data connection: EPSV refused on IPv6: %s",
              ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
}

static void start_active(ftpc_conn *c)
{
    struct sockaddr_storage addr = c->local;
    /* A control connection to [::ffff:a.b.c.d] has a mapped local end too: the server
     * connects back over IPv4, so listen there (and announce EPRT |1| or PORT). */
    net_unmap_v4(&addr);
    net_set_port(&addr, 0);
    int fd = net_listen(&addr, 1);
    if (fd < 0) {
        conn_fail_later(c, FTPC_EXIT_XFER, "listening for an active data connection: %s",
                        strerror(errno));
        return;
    }
    struct sockaddr_storage bound;
    if (net_local_addr(fd, &bound) < 0) {
        close(fd);
        conn_fail_later(c, FTPC_EXIT_XFER, "listening for an active data connection: %s",
                        strerror(errno));
        return;
    }
    c->listen_fd = fd;
    char arg[128];
    if (!c->no_eprt && ftpc_format_eprt(&bound, arg, sizeof(arg)) == 0) {
        c->state = CS_EPRT;
        send_line(c, NULL, "EPRT %s", arg);
    } else if (ftpc_format_port(&bound, arg, sizeof(arg)) == 0) {
        c->state = CS_PORT;
        send_line(c, NULL, "PORT %s", arg);
    } else {
        conn_fail_later(c, FTPC_EXIT_XFER,
                        "active mode over IPv6 needs EPRT, which the server "
                        "refused");
    }
}

static void send_user(ftpc_conn *c)
{
    c->state = CS_USER;
    send_line(c, NULL, "USER %s", c->ep->user);
}

static void become_ready(ftpc_conn *c)
{
    c->state = CS_READY;
    c->doing[0] = '\0';
    deliver_ready(c);
}

/* Runs the control connection's handshake as far as the socket allows. */
static void tls_step(ftpc_conn *c)
{
    char ep[NET_ADDR_STRLEN + 8], why[400];
    if (stream_handshake(c->ctl) < 0) {
        if (c->ctl->last_errno == EAGAIN) {
            update_events(c);
            return;
        }
        ftpc_tls_describe(&c->cs.tls, why, sizeof(why));
        /* ftps:// to a port that greets in plain text: the usual mix-up of the two schemes */
        bool plain_port = c->after_hs == CS_GREETING && c->cs.tls.peer_not_tls;
        conn_fail(c, FTPC_EXIT_TLS, "TLS with %s failed: %s%s", endpoint_str(c, ep, sizeof(ep)),
                  why, plain_port ? " (a plain FTP port? try ftpes:// or ftp://)" : "");
        return;
    }
    c->tls_on = true;
    c->last_activity = ev_now(c->ctx->loop);
    if (c->ctx->opts->verbose) {
        char tag[16];
        ftpc_tls_summary(&c->cs.tls, why, sizeof(why));
        ftpc_msg(c->ctx, "%s* TLS with %s: %s", ftpc_conn_trace_tag(c, tag, sizeof(tag)),
                 endpoint_str(c, ep, sizeof(ep)), why);
    }
    if (c->after_hs == CS_GREETING) {
        c->state = CS_GREETING;
        c->doing[0] = '\0';
        update_events(c);
        return;
    }
    update_events(c);
    send_user(c);
}

/* Turns the plain control stream into TLS and starts the handshake; next is the state it
 * leads to (the greeting for implicit FTPS, USER after AUTH TLS). */
static void start_tls(ftpc_conn *c, conn_state next)
{
    char ep[NET_ADDR_STRLEN + 8], why[400];
    int fd = c->ctl->fd;
    ftpc_tls *tls = ftpc_endpoint_tls(c->ep, c->ctx->opts, why, sizeof(why));
    if (tls == NULL) {
        conn_fail(c, FTPC_EXIT_TLS, "TLS with %s: %s", endpoint_str(c, ep, sizeof(ep)), why);
        return;
    }
    c->tls = tls;
    /* The plain stream's struct is overwritten by the TLS one, which takes over fd; no
     * recvfile pipe was ever made on a control connection. */
    if (ftpc_tls_start(tls, &c->cs.tls, fd, c->ep->host, NULL, why, sizeof(why)) < 0) {
        stream_plain_init(&c->cs.plain, fd); /* fd is still open: closed as plain */
        c->ctl = &c->cs.plain;
        conn_fail(c, FTPC_EXIT_TLS, "TLS with %s: %s", endpoint_str(c, ep, sizeof(ep)), why);
        return;
    }
    c->ctl = &c->cs.tls.base;
    c->state = CS_TLS_HANDSHAKE;
    c->after_hs = next;
    snprintf(c->doing, sizeof(c->doing), "the TLS handshake");
    arm_timer(c);
    tls_step(c);
}

/* The server turned the session away before login: a limit on connections, often, which
 * the owner may tell from a bad password by the connections that did get in. */
static void note_refusal(ftpc_conn *c, const ftp_reply_msg *m)
{
    c->refusal = m->code;
    ftpc_quote_reply(m->code, m->text, c->refusal_text, sizeof(c->refusal_text));
}

/* Another connection of ours to the same server that is not closing: connecting, logging
 * in, in, or waiting to connect again. The owner of a connection turned away beside such a
 * one makes do with that one (jobs.c parks the task) rather than have both wait. */
static bool other_conn_to_server(const ftpc_conn *c)
{
    for (const ftpc_conn *o = c->ctx->conns; o != NULL; o = o->next_live)
        if (o != c && o->ep == c->ep && o->state != CS_QUIT && o->state != CS_DEAD &&
            !o->fail_pending)
            return true;
    return false;
}

/* The server refused the session (m) for having too many: when no other connection of ours
 * can do the work, closes and connects again after a growing wait, since sessions of ours
 * just ended with QUIT may still be counted. Returns false (the refusal is final) when that
 * is not the case or the attempts are used up. */
static bool retry_limit_refusal(ftpc_conn *c, const ftp_reply_msg *m)
{
    if (!ftpc_reply_says_too_many(m->code, m->text) || other_conn_to_server(c))
        return false;
    long delay = ftpc_limit_retry_delay_ms(c->limit_attempts + 1);
    if (delay < 0)
        return false;
    c->limit_attempts++;
    if (c->ctx->opts->verbose) {
        char ep[NET_ADDR_STRLEN + 8], q[600];
        ftpc_msg(c->ctx,
                 "ftpc: %s turned the connection away: the server replied %s; connecting "
                 "again in %.2f s (attempt %d of %d)",
                 endpoint_str(c, ep, sizeof(ep)), ftpc_quote_reply(m->code, m->text, q, sizeof(q)),
                 (double)delay / 1000.0, c->limit_attempts + 1, ftpc_limit_attempts());
    }
    close_all(c);
    /* A new session from the start: nothing of the refused one carries over. */
    c->state = CS_LIMIT_WAIT;
    c->addr_index = 0;
    c->last_connect_errno = 0;
    memset(&c->rp, 0, sizeof(c->rp));
    c->tls_on = false;
    c->prot_p = false;
    c->read_again = false;
    c->prelim_seen = false;
    c->doing[0] = '\0';
    c->refusal = 0;
    c->refusal_text[0] = '\0';
    ev_timer_start(c->ctx->loop, &c->timer, delay);
    return true;
}

/* The final error's note when the refusal had been retried. */
static const char *attempts_note(const ftpc_conn *c, char *out, size_t n)
{
    out[0] = '\0';
    if (c->limit_attempts > 0)
        snprintf(out, n, " (%d attempts)", c->limit_attempts + 1);
    return out;
}

/* After a login refused to a user given no password: where one could come from, naming the
 * netrc file this run reads (--netrc-file, $NETRC or ~/.netrc), none with --no-netrc. */
static const char *no_password_hint(const ftpc_conn *c, char *out, size_t n)
{
    const char *netrc = c->ctx->opts->netrc_shown;
    snprintf(out, n,
             " (no password was given: put it in the URL%s%s, or run ftpc where it can ask on a "
             "terminal)",
             netrc != NULL ? " or " : "", netrc != NULL ? netrc : "");
    return out;
}

/* The final replies a transfer ends with (RFC 959 4.2): 225 and 226 close the data
 * connection, 426 and 451 abort the transfer. */
static bool is_transfer_end(int code)
{
    return code == 225 || code == 226 || code == 426 || code == 451;
}

static void handle_reply(ftpc_conn *c, const ftp_reply_msg *m)
{
    char q[600], ep[NET_ADDR_STRLEN + 8], note[32], hint[400];
    int code = m->code;
    bool logged_in_state = c->state >= CS_READY && c->state < CS_QUIT;
    if (logged_in_state && code == 421) {
        /* RFC 959: the server is closing the control connection, whatever the command (an
         * idle timeout says so unasked). Its end is the connection's, not a command's. */
        conn_fail(c, FTPC_EXIT_XFER, "%s closed the control connection%s%s: the server replied %s",
                  endpoint_str(c, ep, sizeof(ep)), c->doing[0] ? " after " : "", c->doing,
                  ftpc_quote_reply(code, m->text, q, sizeof(q)));
        return;
    }
    if (logged_in_state && code >= 200)
        c->answers++;
    if (c->drop_late_finals && (c->state == CS_READY || c->state == CS_CMD) &&
        is_transfer_end(code))
        return;
    switch (c->state) {
    case CS_GREETING:
        if (code < 200)
            return;
        if (code != 220) {
            if (retry_limit_refusal(c, m))
                return;
            note_refusal(c, m);
            conn_fail(c, FTPC_EXIT_CONNECT, "connecting to %s: the server replied %s%s",
                      endpoint_str(c, ep, sizeof(ep)),
                      ftpc_quote_reply(code, m->text, q, sizeof(q)),
                      attempts_note(c, note, sizeof(note)));
            return;
        }
        if (c->tls_mode == FTPC_TLS_EXPLICIT && !c->tls_on) {
            c->state = CS_AUTH;
            send_line(c, NULL, "AUTH TLS");
            return;
        }
        send_user(c);
        return;
    case CS_AUTH:
        if (code < 200)
            return;
        if (code != 234) {
            /* Required, never a fallback: USER and PASS must not go out in clear text. */
            conn_fail(c, FTPC_EXIT_TLS,
                      "%s refused AUTH TLS: the server replied %s; TLS was asked for "
                      "(ftpes://, ftps:// or --tls), so ftpc did not log in",
                      endpoint_str(c, ep, sizeof(ep)),
                      ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        /* Anything after the 234 in clear text is not to be trusted. */
        buf_consume(&c->in, buf_len(&c->in));
        start_tls(c, CS_USER);
        return;
    case CS_USER:
    case CS_PASS:
        if (code < 200)
            return;
        if (code == 331 && c->state == CS_USER) {
            c->state = CS_PASS;
            send_line(c, "PASS ****", "PASS %s", c->ep->pass);
            return;
        }
        if (code == 230 || (code == 202 && c->state == CS_PASS)) {
            c->logged_in = true;
            if (c->tls_on) {
                /* RFC 4217: no buffering (PBSZ 0), then protected data connections. */
                c->state = CS_PBSZ;
                send_line(c, NULL, "PBSZ 0");
                return;
            }
            c->state = CS_FEAT;
            send_line(c, NULL, "FEAT");
            return;
        }
        if (retry_limit_refusal(c, m))
            return;
        note_refusal(c, m);
        conn_fail(c, code == 421 ? FTPC_EXIT_CONNECT : FTPC_EXIT_LOGIN,
                  "logging in to %s as %s: the server replied %s%s%s",
                  endpoint_str(c, ep, sizeof(ep)), c->ep->user,
                  ftpc_quote_reply(code, m->text, q, sizeof(q)),
                  attempts_note(c, note, sizeof(note)),
                  !c->tls_on && asks_for_tls(m->text) ? " (it wants TLS: use ftpes:// or --tls)"
                  : c->ep->no_password && code != 421 ? no_password_hint(c, hint, sizeof(hint))
                                                      : "");
        return;
    case CS_PBSZ:
    case CS_PROT:
        if (code < 200)
            return;
        if (code != 200) {
            conn_fail(c, FTPC_EXIT_TLS,
                      "%s refused %s, so data connections could not be protected: the "
                      "server replied %s",
                      endpoint_str(c, ep, sizeof(ep)), c->state == CS_PBSZ ? "PBSZ 0" : "PROT P",
                      ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        if (c->state == CS_PBSZ) {
            c->state = CS_PROT;
            send_line(c, NULL, "PROT P");
            return;
        }
        c->prot_p = true;
        c->state = CS_FEAT;
        send_line(c, NULL, "FEAT");
        return;
    case CS_FEAT:
        if (code < 200)
            return;
        c->mlst_opts[0] = '\0';
        ftpc_hash_feat_parse(code == 211 ? m->text : "", &c->hash);
        if (code == 211)
            parse_feat(c, m->text);
        if (c->mlst_opts[0] != '\0' && (c->feat & FTPC_FEAT_MLST)) {
            c->state = CS_OPTS_MLST;
            send_line(c, NULL, "%s", c->mlst_opts);
            return;
        }
        c->state = CS_TYPE;
        send_line(c, NULL, "TYPE I");
        return;
    case CS_OPTS_MLST:
        /* a refusal leaves the listing as it was: the modes stay unknown */
        if (code < 200)
            return;
        c->state = CS_TYPE;
        send_line(c, NULL, "TYPE I");
        return;
    case CS_TYPE:
        if (code < 200)
            return;
        if (code != 200) {
            conn_fail(c, ftpc_status_for_reply(code),
                      "setting binary mode (TYPE I) on %s: the server replied %s",
                      endpoint_str(c, ep, sizeof(ep)),
                      ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        c->type = 'I';
        if (c->ctx->opts->compress) {
            if (c->feat & FTPC_FEAT_MODEZ) {
                c->state = CS_MODE;
                send_line(c, NULL, "MODE Z");
                return;
            }
            if (ftpc_endpoint_warn_once_modez(c->ep))
                ftpc_msg(c->ctx,
                         "ftpc: warning: %s does not offer MODE Z; transferring "
                         "uncompressed",
                         endpoint_str(c, ep, sizeof(ep)));
        }
        become_ready(c);
        return;
    case CS_MODE:
        if (code < 200)
            return;
        if (code == 200)
            c->mode_z = true;
        else if (ftpc_endpoint_warn_once_modez(c->ep))
            ftpc_msg(c->ctx, "ftpc: warning: %s refused MODE Z (%s); transferring uncompressed",
                     endpoint_str(c, ep, sizeof(ep)),
                     ftpc_quote_reply(code, m->text, q, sizeof(q)));
        become_ready(c);
        return;
    case CS_CMD:
        if (code >= 200 && c->aborting && ++c->abor_finals == 1) {
            /* the transfer's own reply: ABOR's comes next */
            if (c->owner != NULL && c->owner->reply != NULL)
                c->owner->reply(c, m, c->ud);
            return;
        }
        if (code >= 200) {
            c->aborting = false;
            c->abor_finals = 0;
            c->state = CS_READY;
            if (code == 200 && c->type_sent)
                c->type = c->type_sent;
            c->type_sent = 0;
        }
        if (c->owner != NULL && c->owner->reply != NULL)
            c->owner->reply(c, m, c->ud);
        return;
    case CS_EPSV:
        if (code < 200)
            return;
        if (code == 229) {
            int port = ftpc_parse_epsv(m->text);
            if (port < 0) {
                conn_fail(c, FTPC_EXIT_XFER, "cannot parse the EPSV reply %s",
                          ftpc_quote_reply(code, m->text, q, sizeof(q)));
                return;
            }
            start_data_connect(c, port);
            return;
        }
        if (code >= 500) {
            c->no_epsv = true;
            send_pasv_or_fail(c, m);
            return;
        }
        conn_fail(c, FTPC_EXIT_XFER, "opening a data connection (EPSV): the server replied %s",
                  ftpc_quote_reply(code, m->text, q, sizeof(q)));
        return;
    case CS_PASV: {
        if (code < 200)
            return;
        struct sockaddr_storage given;
        int port = code == 227 ? ftpc_parse_pasv(m->text, &given) : -1;
        if (port < 0) {
            conn_fail(c, FTPC_EXIT_XFER, "%s %s",
                      code == 227 ? "cannot parse the PASV reply"
                                  : "opening a data connection (PASV): the server replied",
                      ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        start_data_connect(c, port);
        return;
    }
    case CS_EPRT:
    case CS_PORT:
        if (code < 200)
            return;
        if (code == 200) {
            c->state = CS_READY;
            if (c->owner != NULL && c->owner->data_prepared != NULL)
                c->owner->data_prepared(c, c->ud);
            return;
        }
        if (c->state == CS_EPRT && code >= 500) {
            char arg[128];
            struct sockaddr_storage bound;
            c->no_eprt = true;
            if (net_local_addr(c->listen_fd, &bound) == 0 &&
                ftpc_format_port(&bound, arg, sizeof(arg)) == 0) {
                c->state = CS_PORT;
                send_line(c, NULL, "PORT %s", arg);
                return;
            }
        }
        conn_fail(
            c, FTPC_EXIT_XFER, "opening an active data connection (%s): the server replied %s",
            c->state == CS_EPRT ? "EPRT" : "PORT", ftpc_quote_reply(code, m->text, q, sizeof(q)));
        return;
    case CS_QUIT:
        /* The server closes next: its close, not this reply, ends the session it counts
         * (the next phase's connections may come at once). Not waited for long. */
        if (code >= 200) {
            ev_timer_stop(c->ctx->loop, &c->timer);
            ev_timer_start(c->ctx->loop, &c->timer, QUIT_CLOSE_WAIT_MS);
        }
        return;
    case CS_LIMIT_WAIT:
        return;
    case CS_READY:
    case CS_DATA_CONNECTING:
    case CS_CONNECTING:
    case CS_TLS_HANDSHAKE:
        conn_fail(c, FTPC_EXIT_XFER, "%s sent an unexpected reply %s",
                  endpoint_str(c, ep, sizeof(ep)), ftpc_quote_reply(code, m->text, q, sizeof(q)));
        return;
    case CS_DEAD:
        return;
    }
}

static void trace_reply(ftpc_conn *c, const ftp_reply_msg *m)
{
    /* As the server sent it: "CODE-first", the middle lines, "CODE last". */
    const char *line = m->text;
    bool multi = strchr(line, '\n') != NULL;
    bool first = true;
    char tag[16];
    ftpc_conn_trace_tag(c, tag, sizeof(tag));
    while (line != NULL) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (first)
            ftpc_msg(c->ctx, "%s< %03d%c%.*s", tag, m->code, multi ? '-' : ' ', len, line);
        else if (end == NULL)
            ftpc_msg(c->ctx, "%s< %03d %.*s", tag, m->code, len, line);
        else
            ftpc_msg(c->ctx, "%s< %.*s", tag, len, line);
        first = false;
        line = end ? end + 1 : NULL;
    }
}

static void process_input(ftpc_conn *c)
{
    for (;;) {
        int rc = ftp_reply_next(&c->rp, &c->in, &c->msg);
        if (rc == 0)
            return;
        if (rc < 0) {
            char ep[NET_ADDR_STRLEN + 8];
            conn_fail(c, c->state < CS_READY ? FTPC_EXIT_CONNECT : FTPC_EXIT_XFER,
                      "%s sent a malformed reply; is it an FTP server?",
                      endpoint_str(c, ep, sizeof(ep)));
            return;
        }
        if (c->ctx->opts->verbose)
            trace_reply(c, &c->msg);
        if (c->msg.code >= 200 || !c->prelim_seen) {
            c->last_activity = ev_now(c->ctx->loop);
            c->prelim_seen = c->msg.code < 200;
        }
        handle_reply(c, &c->msg);
        if (c->state == CS_DEAD || c->state == CS_LIMIT_WAIT)
            return;
    }
}

static long handshake_rtt_us(int fd);

static void on_connected(ftpc_conn *c)
{
    ev_del(c->ctx->loop, c->ctl->fd, EV_WRITE);
    c->handshake_rtt_us = handshake_rtt_us(c->ctl->fd);
    net_peer_addr(c->ctl->fd, &c->peer);
    net_local_addr(c->ctl->fd, &c->local);
    if (c->tls_mode == FTPC_TLS_IMPLICIT) {
        start_tls(c, CS_GREETING);
        return;
    }
    c->state = CS_GREETING;
    c->doing[0] = '\0';
    arm_timer(c);
    ev_add(c->ctx->loop, c->ctl->fd, EV_READ, ctl_cb, c);
}

static void read_ctl(ftpc_conn *c)
{
    /* Replies are small; a few reads per wakeup are plenty and keep the work bounded. */
    for (int i = 0; i < 8; i++) {
        size_t avail;
        char *tail = buf_tail(&c->in, &avail);
        if (tail == NULL) {
            process_input(c); /* reports an over-long line */
            return;
        }
        ssize_t n = stream_read(c->ctl, tail, avail);
        if (n > 0) {
            buf_commit(&c->in, (size_t)n);
            process_input(c);
            if (c->state == CS_DEAD || c->ctl->fd < 0 || c->state == CS_TLS_HANDSHAKE)
                return;
            continue;
        }
        if (n < 0 && c->ctl->last_errno == EAGAIN) {
            update_events(c);
            return;
        }
        if (c->state == CS_QUIT) {
            ftpc_conn_free(c);
            return;
        }
        char ep[NET_ADDR_STRLEN + 8];
        int status = c->state < CS_READY ? FTPC_EXIT_CONNECT : FTPC_EXIT_XFER;
        if (n == 0)
            conn_fail(c, status, "%s closed the control connection%s%s",
                      endpoint_str(c, ep, sizeof(ep)), c->doing[0] ? " after " : "", c->doing);
        else
            conn_fail(c, status, "reading from %s: %s", endpoint_str(c, ep, sizeof(ep)),
                      strerror(c->ctl->last_errno));
        return;
    }
    /* The cap was reached: bytes TLS already decrypted would wait for a socket event that
     * never comes. */
    if (stream_pending(c->ctl) > 0) {
        c->read_again = true;
        ev_timer_start(c->ctx->loop, &c->kick, 0);
    }
}

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_conn *c = ud;
    if (c->state == CS_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr == EINPROGRESS)
            return;
        if (soerr != 0) {
            c->last_connect_errno = soerr;
            ev_del(loop, fd, EV_READ | EV_WRITE);
            stream_close(c->ctl);
            c->addr_index++;
            try_connect(c);
            return;
        }
        on_connected(c);
        return;
    }
    if (c->state == CS_TLS_HANDSHAKE) {
        tls_step(c);
        return;
    }
    /* A TLS write may have waited for the socket to become readable. */
    if ((mask & EV_WRITE) || !buf_empty(&c->out)) {
        flush_out(c);
        if (c->state == CS_DEAD || c->ctl->fd < 0)
            return;
    }
    if (mask & EV_READ)
        read_ctl(c);
}

static void try_connect(ftpc_conn *c)
{
    char ep[NET_ADDR_STRLEN + 8];
    if (c->ep->naddrs == 0) {
        conn_fail_later(c, FTPC_EXIT_CONNECT, "%s", c->ep->resolve_err);
        return;
    }
    while (c->addr_index < c->ep->naddrs) {
        int fd = net_connect(&c->ep->addrs[c->addr_index], NULL);
        if (fd < 0) {
            c->last_connect_errno = errno;
            c->addr_index++;
            continue;
        }
        net_set_nodelay(fd);
        stream_plain_init(&c->cs.plain, fd);
        c->ctl = &c->cs.plain;
        c->state = CS_CONNECTING;
        if (ev_add(c->ctx->loop, fd, EV_WRITE, ctl_cb, c) < 0) {
            c->last_connect_errno = errno;
            stream_close(c->ctl);
            c->addr_index++;
            continue;
        }
        c->last_activity = ev_now(c->ctx->loop);
        ev_timer_start(c->ctx->loop, &c->timer, c->ctx->opts->timeout_ms);
        return;
    }
    conn_fail_later(c, FTPC_EXIT_CONNECT, "cannot connect to %s: %s",
                    endpoint_str(c, ep, sizeof(ep)), strerror(c->last_connect_errno));
}

ftpc_conn *ftpc_conn_new(ftpc_ctx *ctx, const ftpc_endpoint *ep, const ftpc_conn_owner *owner,
                         void *ud)
{
    ftpc_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ctx = ctx;
    c->id = ++ctx->conns_made;
    c->ep = ep;
    c->owner = owner;
    c->ud = ud;
    c->handshake_rtt_us = -1;
    c->hash.current = -1;
    stream_plain_init(&c->cs.plain, -1);
    c->ctl = &c->cs.plain;
    c->tls_mode = ep->tls_mode != FTPC_TLS_NONE
                      ? ep->tls_mode
                      : (ctx->opts->tls ? FTPC_TLS_EXPLICIT : FTPC_TLS_NONE);
    c->data_fd = -1;
    c->listen_fd = -1;
    c->state = CS_CONNECTING;
    buf_init(&c->in, CTL_IN_CAP);
    buf_init(&c->out, CTL_OUT_CAP);
    ev_timer_init(&c->timer, timer_cb, c);
    ev_timer_init(&c->kick, kick_cb, c);
    ctx->nconns++;
    c->next_live = ctx->conns;
    if (ctx->conns != NULL)
        ctx->conns->prev_live = c;
    ctx->conns = c;
    try_connect(c);
    return c;
}

void ftpc_conn_set_owner(ftpc_conn *c, const ftpc_conn_owner *owner, void *ud)
{
    c->owner = owner;
    c->ud = ud;
    if (c->state == CS_READY && owner != NULL && owner->ready != NULL) {
        c->ready_pending = true;
        ev_timer_start(c->ctx->loop, &c->kick, 0);
    }
}

bool ftpc_conn_is_ready(const ftpc_conn *c)
{
    return c->state == CS_READY && !c->fail_pending;
}

bool ftpc_conn_is_dead(const ftpc_conn *c)
{
    return c->state == CS_DEAD || c->fail_pending;
}

/* Our connections to ep that are not dead, closing ones included: the server still counts
 * them. */
static int live_to(const ftpc_ctx *ctx, const ftpc_endpoint *ep)
{
    int n = 0;
    for (const ftpc_conn *c = ctx->conns; c != NULL; c = c->next_live)
        if (c->ep == ep && !ftpc_conn_is_dead(c))
            n++;
    return n;
}

int ftpc_conn_room(ftpc_ctx *ctx, const ftpc_endpoint *ep, int n)
{
    if (ep->conn_limit > 0) {
        int room = ep->conn_limit - live_to(ctx, ep) + 1; /* its own one is among them */
        if (n > room)
            n = room;
    }
    return n < 1 ? 1 : n;
}

void ftpc_conn_note_limit(const ftpc_conn *c)
{
    if (c->refusal != 0)
        ftpc_endpoint_saw_limit(c->ep, live_to(c->ctx, c->ep), c->refusal_text);
}

unsigned long ftpc_conn_answers(const ftpc_conn *c)
{
    return c->answers;
}

bool ftpc_conn_timed_out(const ftpc_conn *c)
{
    return c->timed_out;
}

bool ftpc_conn_logged_in(const ftpc_conn *c)
{
    return c->logged_in;
}

int ftpc_conn_refusal(const ftpc_conn *c, const char **text)
{
    if (text != NULL)
        *text = c->refusal_text;
    return c->refusal;
}

const ftpc_endpoint *ftpc_conn_endpoint(const ftpc_conn *c)
{
    return c->ep;
}

unsigned ftpc_conn_features(const ftpc_conn *c)
{
    return c->feat;
}

const ftpc_hash_feat *ftpc_conn_hash_feat(const ftpc_conn *c)
{
    return &c->hash;
}

void ftpc_conn_hash_selected(ftpc_conn *c, int algo)
{
    c->hash.current = algo;
}

/* Formats and sends one command while ready. Returns 0, -1 when the connection is busy or
 * failing, -2 when the line is too long or holds CR or LF; *line gets what was formatted. */
static int vsend_cmd(ftpc_conn *c, char *line, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(line, size, fmt, ap);
    if (n < 0)
        line[0] = '\0';
    if (c->state != CS_READY || c->fail_pending)
        return -1;
    if (n < 0 || (size_t)n >= size || strpbrk(line, "\r\n") != NULL)
        return -2;
    c->state = CS_CMD;
    c->type_sent = 0;
    if (strncasecmp(line, "TYPE ", 5) == 0 && (line[5] == 'A' || line[5] == 'a'))
        c->type_sent = 'A';
    else if (strncasecmp(line, "TYPE ", 5) == 0 && (line[5] == 'I' || line[5] == 'i'))
        c->type_sent = 'I';
    /* A raw PASS or ACCT (the shell's quote) carries a secret: traced as the login's is. */
    const char *shown = NULL;
    if (strncasecmp(line, "PASS ", 5) == 0)
        shown = "PASS ****";
    else if (strncasecmp(line, "ACCT ", 5) == 0)
        shown = "ACCT ****";
    send_line(c, shown, "%s", line);
    return 0;
}

int ftpc_conn_send(ftpc_conn *c, const char *fmt, ...)
{
    char line[FTPC_URL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int rc = vsend_cmd(c, line, sizeof(line), fmt, ap);
    va_end(ap);
    return rc == 0 ? 0 : -1;
}

void ftpc_conn_cmd(ftpc_conn *c, const char *fmt, ...)
{
    char line[FTPC_URL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int rc = vsend_cmd(c, line, sizeof(line), fmt, ap);
    va_end(ap);
    if (rc == 0)
        return;
    int verb = (int)strcspn(line, " ");
    if (rc == -1 && !c->fail_pending)
        conn_fail_later(c, FTPC_EXIT_LOCAL, "internal error: %.*s while a command is running", verb,
                        line);
    else if (rc == -2)
        conn_fail_later(c, FTPC_EXIT_LOCAL,
                        "cannot send %.*s: its argument is too long or holds a line break", verb,
                        line);
}

void ftpc_conn_open_data(ftpc_conn *c)
{
    if (c->state != CS_READY || c->fail_pending) {
        conn_fail_later(c, FTPC_EXIT_XFER, "internal error: data connection requested while busy");
        return;
    }
    close_fd(c, &c->data_fd);
    close_fd(c, &c->listen_fd);
    if (c->ctx->opts->active) {
        start_active(c);
        return;
    }
    if (c->no_epsv) {
        c->state = CS_PASV;
        send_line(c, NULL, "PASV");
    } else {
        c->state = CS_EPSV;
        send_line(c, NULL, "EPSV");
    }
}

static void accept_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_conn *c = ud;
    for (int i = 0; i < 4; i++) {
        struct sockaddr_storage peer;
        int dfd = net_accept(fd, &peer);
        if (dfd < 0)
            return; /* EAGAIN, or an aborted attempt; keep waiting (the timeout still runs) */
        /* Only the server may connect: anyone else who finds the port is refused. */
        if (!net_same_host(&peer, &c->peer)) {
            close(dfd);
            continue;
        }
        close_fd(c, &c->listen_fd);
        c->last_activity = ev_now(loop);
        if (c->owner != NULL && c->owner->data_open != NULL)
            c->owner->data_open(c, dfd, c->ud);
        else
            close(dfd);
        return;
    }
}

int ftpc_conn_take_data(ftpc_conn *c)
{
    if (c->data_fd >= 0) {
        int fd = c->data_fd;
        ev_del(c->ctx->loop, fd, EV_READ | EV_WRITE);
        c->data_fd = -1;
        return fd;
    }
    if (c->listen_fd >= 0)
        ev_add(c->ctx->loop, c->listen_fd, EV_READ, accept_cb, c);
    return -1;
}

void ftpc_conn_close_data(ftpc_conn *c)
{
    close_fd(c, &c->data_fd);
    close_fd(c, &c->listen_fd);
}

void ftpc_conn_touch(ftpc_conn *c)
{
    c->last_activity = ev_now(c->ctx->loop);
}

int ftpc_conn_abort(ftpc_conn *c)
{
    if (c->state != CS_CMD || c->fail_pending || c->aborting)
        return -1;
    c->aborting = true;
    c->abor_finals = 0;
    send_line(c, NULL, "ABOR");
    return 0;
}

void ftpc_conn_abort_transfer_ended(ftpc_conn *c)
{
    if (c->aborting && c->abor_finals == 0)
        c->abor_finals = 1;
}

void ftpc_conn_drop_late_finals(ftpc_conn *c)
{
    c->drop_late_finals = true;
}

void ftpc_conn_settle(ftpc_conn *c)
{
    if (c->state != CS_CMD)
        return;
    c->state = CS_READY;
    c->type_sent = 0;
    c->prelim_seen = false;
    c->aborting = false;
    c->abor_finals = 0;
    c->last_activity = ev_now(c->ctx->loop);
}

void ftpc_conn_quit(ftpc_conn *c)
{
    if (c == NULL)
        return;
    c->owner = NULL;
    c->ud = NULL;
    if (c->state != CS_READY || c->fail_pending) {
        ftpc_conn_free(c);
        return;
    }
    close_fd(c, &c->data_fd);
    close_fd(c, &c->listen_fd);
    c->state = CS_QUIT;
    send_line(c, NULL, "QUIT");
    ev_timer_stop(c->ctx->loop, &c->timer);
    ev_timer_start(c->ctx->loop, &c->timer, QUIT_WAIT_MS);
}

int ftpc_conn_closing(const ftpc_ctx *ctx)
{
    int n = 0;
    for (const ftpc_conn *c = ctx->conns; c != NULL; c = c->next_live)
        if (c->state == CS_QUIT)
            n++;
    return n;
}

void ftpc_conn_free_all(ftpc_ctx *ctx)
{
    while (ctx->conns != NULL)
        ftpc_conn_free(ctx->conns);
}

bool ftpc_conn_data_tls(ftpc_conn *c, ftpc_tls **tls, const char **host,
                        struct ssl_session_st **sess)
{
    if (!c->prot_p || !c->tls_on || c->tls == NULL)
        return false;
    *tls = c->tls;
    *host = c->ep->host;
    *sess = stream_tls_get1_session(&c->cs.tls);
    return true;
}

bool ftpc_conn_mode_z(const ftpc_conn *c)
{
    return c->mode_z;
}

long ftpc_conn_rtt_us(const ftpc_conn *c)
{
    return c->handshake_rtt_us;
}

/* The kernel's round trip of the connection's handshake (SYN to SYN-ACK), its only sample so
 * far: later ones ride on the server's replies (delayed ACKs) and so hold the server's think
 * time, a password check's 30 ms among them. */
static long handshake_rtt_us(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || len < sizeof ti || ti.tcpi_rtt == 0)
        return -1;
    return (long)ti.tcpi_rtt;
}

char ftpc_conn_type(const ftpc_conn *c)
{
    return c->type;
}
