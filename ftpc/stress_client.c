/* The state machine of one simulated client (see stress_client.h). */
#include "stress_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dataaddr.h"
#include "digest.h"
#include "endpoint.h"
#include "mz.h"
#include "net.h"
#include "status.h"
#include "stream_tls.h"
#include "stress_content.h"
#include "tls.h"

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
    CF_CONNECTED = 1 << 1, /* counted in run->connected */
    CF_LOGGED_IN = 1 << 2,
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
};

#define READ_BUDGET (1u << 20) /* bytes one data connection moves per wakeup */
#define ZBUF_SIZE (32u * 1024)
#define ABOR_WAIT_MS 1500 /* then NOOP even if fewer replies to ABOR came */
/* A HASH answered 4xx (ftpd: "450 Server busy hashing") is asked again after a pause that
 * doubles, with jitter so that clients refused together do not come back together; after
 * HASH_BUSY_TRIES answers the upload is read back instead (as --verify-put retr). */
#define HASH_BUSY_TRIES 5
#define HASH_BUSY_DELAY_MS 200

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud);
static void data_cb(ev_loop *loop, int fd, int mask, void *ud);
static long timer_cb(ev_loop *loop, ev_timer *t, void *ud);
static void next_op(stress_client *c);
static void start_session(stress_client *c);
static void conn_failed(stress_client *c, int err);
static void data_step(stress_client *c);
static void relogin(stress_client *c);
static void trace_err(stress_client *c, const char *what, int err);

uint64_t stress_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void stress_fixture_name(const stress_run *run, uint32_t index, char *out, size_t size)
{
    snprintf(out, size, "ftpc-stress-%" PRIu64 "-f%u.dat", run->o->seed, index);
}

void stress_upload_name(const stress_run *run, uint32_t client, uint32_t iter, char *out,
                        size_t size)
{
    snprintf(out, size, "ftpc-stress-%" PRIu64 "-c%u-%u.up", run->o->seed, client, iter);
}

static bool is_setup(const stress_client *c)
{
    return (c->flags & CF_SETUP) != 0;
}

static stress_stats *stats(stress_client *c)
{
    return &c->run->st;
}

static void who(const stress_client *c, char *out, size_t size)
{
    if (is_setup(c))
        snprintf(out, size, "setup");
    else
        snprintf(out, size, "%u", c->id);
}

/* ---- registrations ---- */

static void set_mask(stress_client *c, int fd, int want, ev_io_cb cb)
{
    ev_loop *loop = c->run->loop;
    int cur = ev_mask(loop, fd);
    if (want & ~cur)
        ev_add(loop, fd, want & ~cur, cb, c);
    if (cur & ~want)
        ev_del(loop, fd, cur & ~want);
}

static void ctl_update(stress_client *c)
{
    if (c->ctl == NULL)
        return;
    int want = 0;
    if (c->state == S_CONNECTING)
        want = EV_WRITE;
    else
        want = EV_READ | (c->out ? EV_WRITE : 0) | stream_want(c->ctl);
    set_mask(c, c->ctl->fd, want, ctl_cb);
}

static void data_update(stress_client *c)
{
    if (c->data == NULL)
        return;
    int want = 0;
    if (c->flags & CF_PAUSED)
        want = 0;
    else if (!(c->flags & CF_DATA_TCP))
        want = EV_WRITE; /* writable: connected (or failed) */
    else if (!(c->flags & CF_DATA_UP))
        want = stream_want(c->data) ? stream_want(c->data) : EV_READ; /* TLS handshake */
    else if (c->flags & CF_DATA_DRAIN)
        want = EV_READ | stream_want(c->data);
    else if (c->xk == X_STOR || c->xk == X_FIX_STOR)
        want = EV_WRITE | stream_want(c->data);
    else
        want = EV_READ | stream_want(c->data);
    set_mask(c, c->data->fd, want, data_cb);
}

static void arm(stress_client *c, long ms)
{
    ev_timer_start(c->run->loop, &c->timer, ms);
}

static void touch(stress_client *c)
{
    c->last_io = ev_now(c->run->loop);
}

/* ---- closing ---- */

/* Commands and the last bytes of an upload (a TLS close_notify) go out at once: with Nagle
 * they would wait for the ACK of the previous segment, which the peer delays up to 40 ms. */
static int connect_nodelay(const struct sockaddr_storage *ss)
{
    int fd = net_connect(ss, NULL);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static void rst(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void free_codec(stress_client *c)
{
    if (c->z) {
        mz_end(c->z);
        free(c->z);
        c->z = NULL;
    }
    free(c->zbuf);
    c->zbuf = NULL;
    c->zlen = c->zoff = 0;
}

static void close_data(stress_client *c, bool reset)
{
    if (c->data != NULL) {
        c->gen++;
        ev_del(c->run->loop, c->data->fd, EV_READ | EV_WRITE);
        if (reset)
            rst(c->data->fd);
        stream_close(c->data);
        free(c->data);
        c->data = NULL;
    }
    if (c->flags & CF_INFLIGHT) {
        c->run->inflight--;
        c->flags &= ~CF_INFLIGHT;
    }
    c->flags &= ~(CF_DATA_UP | CF_DATA_TCP | CF_PAUSED | CF_KICK | CF_DATA_SHUT | CF_DATA_DRAIN);
    c->tls_try = 0;
    free_codec(c);
}

static void close_ctl(stress_client *c, bool reset)
{
    close_data(c, reset);
    if (c->ctl != NULL) {
        c->gen++;
        ev_del(c->run->loop, c->ctl->fd, EV_READ | EV_WRITE);
        if (reset)
            rst(c->ctl->fd);
        stream_close(c->ctl);
        free(c->ctl);
        c->ctl = NULL;
    }
    if (c->flags & CF_CONNECTED) {
        c->run->connected--;
        c->flags &= ~CF_CONNECTED;
    }
    c->flags &= ~CF_LOGGED_IN;
    free(c->in_left);
    c->in_left = NULL;
    c->in_left_len = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->dg) {
        digest_free(c->dg);
        free(c->dg);
        c->dg = NULL;
    }
}

static void finish(stress_client *c)
{
    /* Stopped before deleting its upload: the clean-up session deletes it. */
    if (!is_setup(c) && !(c->flags & CF_LEFT_UP) &&
        ((c->flags & CF_PENDING_DELE) || ((c->flags & CF_IN_OP) && c->op == STRESS_OP_PUT))) {
        c->flags |= CF_LEFT_UP;
        c->run->left_uploads++;
    }
    if (c->flags & CF_IN_OP) {
        /* Cut off by the end of the run between two of its steps. */
        c->flags &= ~CF_IN_OP;
        if (!(c->flags & CF_FAULTED))
            c->run->unfinished++;
    } else if ((c->flags & CF_ESTABLISH) && !is_setup(c)) {
        /* Cut off while its first session was still connecting or logging in. */
        c->run->unfinished++;
    }
    close_ctl(c, false);
    ev_timer_stop(c->run->loop, &c->timer);
    c->state = S_DONE;
    if (!(c->flags & CF_DONE_COUNTED)) {
        c->flags |= CF_DONE_COUNTED;
        if (!is_setup(c) && !(c->flags & CF_WAS_IN))
            c->run->never_in++;
        if (is_setup(c))
            stress_run_setup_done(c->run);
        else
            stress_run_client_done(c->run);
    }
}

/* A fatal set-up problem: the run stops with rc and says why. */
__attribute__((format(printf, 3, 4))) static void setup_fail(stress_client *c, int rc,
                                                             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->run->tearing_down) {
        /* the run's results stand; what is left on the server is said */
        c->run->clean_failed = true;
        stress_run_message(c->run, "ftpc stress: %s: %s", c->run->o->clean ? "--clean" : "clean-up",
                           msg);
    } else if (c->run->setup_rc == 0) {
        c->run->setup_rc = rc;
        snprintf(c->run->setup_error, sizeof(c->run->setup_error), "%s", msg);
        stress_run_message(c->run, "ftpc stress: set-up failed: %s", msg);
    }
    finish(c);
}

/* ---- sending commands ---- */

static int flush_out(stress_client *c)
{
    while (c->out != NULL) {
        ssize_t n = stream_write(c->ctl, c->out + c->out_off, (size_t)(c->out_len - c->out_off));
        if (n < 0) {
            if (c->ctl->last_errno == EAGAIN)
                break;
            return -1;
        }
        c->out_off = (uint16_t)(c->out_off + n);
        if (c->out_off == c->out_len) {
            free(c->out);
            c->out = NULL;
            c->out_len = c->out_off = 0;
        }
    }
    return 0;
}

/* Sends one command line (CRLF added). On failure the session is closed and the client goes
 * to its back-off: callers return at once when this returns -1. */
__attribute__((format(printf, 2, 3))) static int send_cmd(stress_client *c, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        n = (int)sizeof(line) - 3;
    line[n++] = '\r';
    line[n++] = '\n';
    if (c->run->trace) {
        char w[16];
        who(c, w, sizeof(w));
        bool pass = strncmp(line, "PASS ", 5) == 0;
        fprintf(stderr, "[%s] > %.*s", w, pass ? 8 : n, pass ? "PASS *\r\n" : line);
    }
    touch(c);
    if (c->out == NULL) {
        ssize_t w = stream_write(c->ctl, line, (size_t)n);
        if (w == n) {
            ctl_update(c);
            return 0;
        }
        if (w < 0 && c->ctl->last_errno != EAGAIN) {
            conn_failed(c, c->ctl->last_errno);
            return -1;
        }
        if (w < 0)
            w = 0;
        c->out = malloc((size_t)n);
        if (c->out == NULL) {
            conn_failed(c, ENOMEM);
            return -1;
        }
        memcpy(c->out, line + w, (size_t)(n - w));
        c->out_len = (uint16_t)(n - w);
        c->out_off = 0;
    } else {
        /* Behind an unsent command (TLS waiting): queue, the order is kept. */
        size_t have = (size_t)(c->out_len - c->out_off);
        char *nb = malloc(have + (size_t)n);
        if (nb == NULL) {
            conn_failed(c, ENOMEM);
            return -1;
        }
        memcpy(nb, c->out + c->out_off, have);
        memcpy(nb + have, line, (size_t)n);
        free(c->out);
        c->out = nb;
        c->out_len = (uint16_t)(have + (size_t)n);
        c->out_off = 0;
    }
    ctl_update(c);
    return 0;
}

/* ---- outcome bookkeeping ---- */

static void op_end(stress_client *c)
{
    stress_run *run = c->run;
    if (c->flags & CF_IN_OP) {
        c->flags &= ~CF_IN_OP;
        if (c->flags & CF_FAULTED) {
            /* An injected fault: counted as a fault, neither a success nor an error. */
        } else {
            stats(c)->op_count[c->op]++;
            if (c->flags & CF_OP_ERR)
                stats(c)->op_errors[c->op]++;
            else
                stress_hist_add(&stats(c)->ops, stress_now_us() - c->t_op);
        }
    }
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    c->fault = F_NONE;
    if (run->o->think_ms > 0 && !is_setup(c) && !run->ending) {
        c->state = S_IDLE;
        c->wake = W_NEXT_OP;
        arm(c, run->o->think_ms);
        return;
    }
    next_op(c);
}

/* A reply code that ends the operation as failed; the session itself is fine. */
static void op_error(stress_client *c, int code)
{
    if (is_setup(c)) {
        char name[96];
        stress_fixture_name(c->run, c->fixture, name, sizeof(name));
        /* A read-only account can still be loaded: with the fixtures put there beforehand,
         * or with a mix that downloads nothing. */
        bool storing = c->xk == X_FIX_STOR;
        setup_fail(c, FTPC_EXIT_REMOTE, "%s the download fixture %s: %d %s%s",
                   storing ? "uploading" : "checking", name, code, c->run->msg.text,
                   storing && code >= 500
                       ? " (get needs --files fixtures the account may upload, or that are "
                         "there already; a --mix without get needs none)"
                       : "");
        return;
    }
    stress_stats_reply_error(stats(c), code, c->run->msg.text);
    c->flags |= CF_OP_ERR;
}

static void vfail(stress_client *c, const char *file, uint64_t offset, int expected, int got)
{
    stress_run *run = c->run;
    stats(c)->verify_failures++;
    c->flags |= CF_VFAILED;
    char w[16];
    who(c, w, sizeof(w));
    if (run->nvfail < STRESS_VFAIL_DETAIL) {
        stress_vfail *v = &run->vfail[run->nvfail++];
        snprintf(v->who, sizeof(v->who), "%s", w);
        snprintf(v->file, sizeof(v->file), "%s", file);
        v->offset = offset;
        v->expected = expected;
        v->got = got;
        if (offset == UINT64_MAX)
            stress_run_message(run, "ftpc stress: VERIFY FAILED: client %s, file %s: HASH differs",
                               w, file);
        else if (got < 0)
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": file ends there, expected %" PRIu64 " bytes",
                               w, file, offset, c->size);
        else if (expected < 0)
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": longer than the expected %" PRIu64 " bytes",
                               w, file, offset, c->size);
        else
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": expected 0x%02x, got 0x%02x",
                               w, file, offset, expected, got);
    }
}

static void xfer_file_name(stress_client *c, char *out, size_t size)
{
    if (c->xk == X_GET || c->xk == X_FIX_STOR)
        stress_fixture_name(c->run, c->fixture, out, size);
    else
        stress_upload_name(c->run, c->id, c->op_iter, out, size);
}

/* What a session not yet logged in was waiting for, as `ftpc ls` says it. */
static const char *awaited(const stress_client *c)
{
    switch (c->state) {
    case S_GREETING:
        return "its greeting";
    case S_AUTH:
        return "the reply to AUTH TLS";
    case S_TLS_HS:
        return "the TLS handshake";
    case S_USER:
        return "the reply to USER";
    case S_PASS:
        return "the reply to PASS";
    default:
        return "a reply";
    }
}

/* The set-up's session failed: until it is logged in, the server cannot be reached in any
 * useful way (exit 3, as `ftpc ls` gives); after that, the server failed the set-up. */
static void setup_conn_failed(stress_client *c, int err)
{
    stress_run *run = c->run;
    char e[32], ep[300];
    bool in = (c->flags & CF_LOGGED_IN) != 0;
    int rc = in ? FTPC_EXIT_REMOTE : FTPC_EXIT_CONNECT;
    ftpc_host_port_str(run->host, run->o->url.port, ep, sizeof(ep));
    if (c->state == S_CONNECTING)
        setup_fail(c, rc, "cannot connect (%s)",
                   err ? stress_errno_name(err, e, sizeof(e)) : "closed by the server");
    else if (err == ETIMEDOUT && !in)
        setup_fail(c, rc, "timed out after %g s waiting for %s (%s)",
                   (double)run->o->timeout_ms / 1000.0, ep, awaited(c));
    else if (!in)
        setup_fail(c, rc, "connection to %s lost while waiting for %s (%s)", ep, awaited(c),
                   err ? stress_errno_name(err, e, sizeof(e)) : "closed by the server");
    else
        setup_fail(c, rc, "connection lost (%s)",
                   err ? stress_errno_name(err, e, sizeof(e)) : "closed by the server");
}

/* The control connection is lost (err 0: closed by the server), a timeout, a protocol
 * error: the operation fails, the session is closed, and the client reconnects after a
 * back-off (or stops, when the run ends). */
static void conn_failed(stress_client *c, int err)
{
    stress_run *run = c->run;
    trace_err(c, "control connection", err);
    if (is_setup(c)) {
        setup_conn_failed(c, err);
        return;
    }
    if (!run->aborting) {
        stress_stats_error(stats(c), 0, err);
        bool establishing = (c->flags & CF_ESTABLISH) != 0;
        if (establishing) {
            c->flags &= ~CF_ESTABLISH;
            stats(c)->op_count[STRESS_OP_LOGIN]++;
            stats(c)->op_errors[STRESS_OP_LOGIN]++;
            if (c->op == STRESS_OP_LOGIN)
                c->flags &= ~CF_IN_OP; /* that login op is the one just counted */
        }
        if (c->flags & CF_IN_OP) {
            c->flags |= CF_OP_ERR;
            c->flags &= ~CF_FAULTED;
            stats(c)->op_count[c->op]++;
            stats(c)->op_errors[c->op]++;
            c->flags &= ~CF_IN_OP;
            if (c->op == STRESS_OP_PUT)
                c->flags |= CF_PENDING_DELE;
        }
    }
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    close_ctl(c, true);
    if (run->ending || run->aborting) {
        finish(c);
        return;
    }
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > 2000)
        c->backoff_ms = 2000;
    arm(c, (long)(c->backoff_ms / 2 + stress_rand_below(&c->rng, c->backoff_ms / 2 + 1)));
}

/* ---- session set-up ---- */

static void tls_note(stress_client *c, stream_tls *t)
{
    if (c->run->tls_errors_shown < 3) {
        char why[600];
        ftpc_tls_describe_hint(t, false, why, sizeof(why)); /* with the way out */
        c->run->tls_errors_shown++;
        stress_run_message(c->run, "ftpc stress: TLS: %s", why);
    }
}

static int tls_wrap(stress_client *c, stream **sp, bool data)
{
    stress_run *run = c->run;
    stream *plain = *sp;
    stream_tls *t = malloc(sizeof(*t));
    if (t == NULL)
        return -1;
    if (stream_tls_init(t, plain->fd, run->tls, STREAM_TLS_CLIENT) < 0) {
        tls_note(c, t);
        free(t);
        return -1;
    }
    SSL *ssl = stream_tls_ssl(t);
    if (!run->o->insecure) {
        struct sockaddr_storage tmp;
        socklen_t tl;
        if (net_parse_addr(run->host, &tmp, &tl) == 0)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), run->host);
        else
            SSL_set1_host(ssl, run->host);
    }
    if (!data)
        SSL_set_tlsext_host_name(ssl, run->host);
    if (data && c->ctl != NULL && stream_is_tls(c->ctl)) {
        SSL_SESSION *sess = stream_tls_get1_session((stream_tls *)c->ctl);
        if (sess != NULL) {
            stream_tls_set_session(t, sess);
            SSL_SESSION_free(sess);
        }
    }
    free(plain); /* the fd now belongs to the TLS stream */
    *sp = &t->base;
    c->gen++;
    return 0;
}

static void start_session(stress_client *c)
{
    stress_run *run = c->run;
    c->flags |= CF_ESTABLISH;
    c->t_op = c->t_cmd = stress_now_us();
    int fd = connect_nodelay(&run->addr);
    if (fd < 0) {
        conn_failed(c, errno);
        return;
    }
    c->ctl = malloc(sizeof(*c->ctl));
    if (c->ctl == NULL) {
        close(fd);
        conn_failed(c, ENOMEM);
        return;
    }
    stream_plain_init(c->ctl, fd);
    c->state = S_CONNECTING;
    touch(c);
    arm(c, run->o->timeout_ms);
    ctl_update(c);
}

static void send_user(stress_client *c)
{
    c->state = S_USER;
    c->t_cmd = stress_now_us();
    send_cmd(c, "USER %s", c->run->o->url.user);
}

/* Sends the next command of the after-login chain, or hands over to the operations. */
static void chain_next(stress_client *c)
{
    stress_run *run = c->run;
    const stress_opts *o = run->o;
    c->state = S_CHAIN;
    for (;;) {
        switch (c->step) {
        case L_PBSZ:
            if (o->tls) {
                send_cmd(c, "PBSZ 0");
                return;
            }
            break;
        case L_PROT:
            if (o->tls) {
                send_cmd(c, "PROT P");
                return;
            }
            break;
        case L_FEAT:
            if (is_setup(c) && c->id == 0) {
                send_cmd(c, "FEAT");
                return;
            }
            break;
        case L_TYPE:
            send_cmd(c, "TYPE I");
            return;
        case L_MODEZ:
            if (o->compress) {
                send_cmd(c, "MODE Z");
                return;
            }
            break;
        case L_CWD:
            if (o->dir[0]) {
                send_cmd(c, "CWD %s", o->dir);
                return;
            }
            break;
        case L_MKD:
        case L_CWD2:
            break; /* only after a failed CWD, entered directly */
        case L_DELE:
            if (c->flags & CF_PENDING_DELE) {
                char name[96];
                stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
                send_cmd(c, "DELE %s", name);
                return;
            }
            break;
        default: {
            /* Logged in and ready. */
            c->backoff_ms = 0;
            if (c->flags & CF_ESTABLISH) {
                c->flags &= ~CF_ESTABLISH;
                if (!is_setup(c)) {
                    stats(c)->op_count[STRESS_OP_LOGIN]++;
                    stress_hist_add(&stats(c)->ops, stress_now_us() - c->t_op);
                }
            }
            if ((c->flags & CF_IN_OP) && c->op == STRESS_OP_LOGIN) {
                c->flags &= ~CF_IN_OP; /* the login op was counted just above */
                op_end(c);
                return;
            }
            next_op(c);
            return;
        }
        }
        c->step++;
    }
}

static void logged_in(stress_client *c)
{
    if (c->flags & CF_LOGIN_T) {
        c->flags &= ~CF_LOGIN_T;
        if (!is_setup(c))
            stress_hist_add(&stats(c)->cmd[STRESS_CMD_LOGIN], stress_now_us() - c->t_cmd);
    }
    c->flags |= CF_LOGGED_IN | CF_WAS_IN;
    c->step = L_PBSZ;
    chain_next(c);
}

/* A login-time reply that refuses: count it and retry later (set-up: stop). */
static void login_refused(stress_client *c, int code)
{
    if (is_setup(c)) {
        int rc = c->state == S_AUTH                                        ? FTPC_EXIT_TLS
                 : code == 530 || c->state == S_USER || c->state == S_PASS ? FTPC_EXIT_LOGIN
                                                                           : FTPC_EXIT_REMOTE;
        setup_fail(c, rc, "%d %s", code, c->run->msg.text);
        return;
    }
    stress_stats_reply_error(stats(c), code, c->run->msg.text);
    stats(c)->op_count[STRESS_OP_LOGIN]++;
    stats(c)->op_errors[STRESS_OP_LOGIN]++;
    c->flags &= ~CF_ESTABLISH;
    if (c->flags & CF_IN_OP) {
        c->flags &= ~CF_IN_OP; /* a login op: counted above */
    }
    /* Close politely and back off like any failed session. */
    stress_run *run = c->run;
    close_ctl(c, false);
    if (run->ending || run->aborting) {
        finish(c);
        return;
    }
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 200;
    if (c->backoff_ms > 2000)
        c->backoff_ms = 2000;
    arm(c, (long)c->backoff_ms);
}

/* ---- operations ---- */

static void quit(stress_client *c)
{
    if (c->ctl == NULL) {
        finish(c);
        return;
    }
    c->state = S_QUIT;
    arm(c, c->run->o->timeout_ms < 5000 ? c->run->o->timeout_ms : 5000);
    send_cmd(c, "QUIT");
}

static void send_pasv(stress_client *c)
{
    c->state = S_PASV;
    c->t_cmd = stress_now_us();
    send_cmd(c, c->run->no_epsv ? "PASV" : "EPSV");
}

static void pick_fault(stress_client *c)
{
    const stress_opts *o = c->run->o;
    c->fault = F_NONE;
    if (o->abort_fraction <= 0.0 && o->drop_fraction <= 0.0)
        return;
    double r = (double)(stress_rand(&c->rng) >> 11) / 9007199254740992.0;
    if (r < o->abort_fraction)
        c->fault = F_ABORT;
    else if (r < o->abort_fraction + o->drop_fraction)
        c->fault = F_DROP;
    if (c->fault != F_NONE && c->size < 2)
        c->fault = F_NONE; /* nothing to cut in the middle of */
    if (c->fault != F_NONE)
        c->cut = 1 + stress_rand_below(&c->rng, c->size - 1);
}

/* The last component of a directory path ("a/b/" gives "b"), into out. */
static const char *dir_basename(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "%s", dir);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    const char *slash = strrchr(out, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : out;
}

/* The clean-up: uploads that stopped clients may have left, then (--clean) the fixtures one
 * DELE at a time, then the directory if the set-up made it. */
static void clean_next(stress_client *c)
{
    stress_run *run = c->run;
    while (run->left_next < run->nclients) {
        stress_client *l = &run->clients[run->left_next++];
        if (l->flags & CF_LEFT_UP) {
            char name[96];
            stress_upload_name(run, l->id, l->op_iter, name, sizeof(name));
            c->state = S_CLEAN_LEFT;
            send_cmd(c, "DELE %s", name);
            return;
        }
    }
    if (!run->o->clean) {
        quit(c);
        return;
    }
    if (run->o->mix[STRESS_OP_GET] > 0 && run->clean_next < run->o->files) {
        char name[96];
        stress_fixture_name(run, run->clean_next++, name, sizeof(name));
        c->state = S_CLEAN_DELE;
        send_cmd(c, "DELE %s", name);
        return;
    }
    if (run->made_dir && c->state != S_CLEAN_CDUP) {
        c->state = S_CLEAN_CDUP;
        send_cmd(c, "CDUP");
        return;
    }
    quit(c);
}

static void setup_next_fixture(stress_client *c)
{
    stress_run *run = c->run;
    if (run->tearing_down) {
        clean_next(c);
        return;
    }
    /* Only downloads read the fixtures: a mix without get needs none (a read-only account). */
    if (run->setup_rc != 0 || run->setup_next >= run->o->files || run->o->mix[STRESS_OP_GET] == 0) {
        quit(c);
        return;
    }
    c->fixture = run->setup_next++;
    c->key = stress_key_fixture(run->o->seed, c->fixture);
    c->size = stress_size_for(c->key, run->o->size_min, run->o->size_max);
    char name[96];
    stress_fixture_name(run, c->fixture, name, sizeof(name));
    c->state = S_SIZE;
    send_cmd(c, "SIZE %s", name);
}

static void next_op(stress_client *c)
{
    stress_run *run = c->run;
    const stress_opts *o = run->o;
    if (is_setup(c)) {
        setup_next_fixture(c);
        return;
    }
    if (run->ending || run->aborting || (o->iterations > 0 && c->iter >= o->iterations)) {
        quit(c);
        return;
    }
    unsigned total = 0;
    for (int i = 0; i < STRESS_OP_COUNT; i++)
        total += o->mix[i];
    uint64_t r = stress_rand_below(&c->rng, total);
    int op = 0;
    while (op < STRESS_OP_COUNT - 1 && r >= o->mix[op]) {
        r -= o->mix[op];
        op++;
    }
    c->op = (uint8_t)op;
    c->op_iter = c->iter++;
    c->flags |= CF_IN_OP;
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    c->t_op = stress_now_us();
    c->fault = F_NONE;
    switch (op) {
    case STRESS_OP_LOGIN:
        c->state = S_RELOGIN;
        send_cmd(c, "QUIT");
        return;
    case STRESS_OP_GET:
        c->fixture = (uint32_t)stress_rand_below(&c->rng, o->files);
        c->key = stress_key_fixture(o->seed, c->fixture);
        c->size = stress_size_for(c->key, o->size_min, o->size_max);
        c->xk = X_GET;
        pick_fault(c);
        break;
    case STRESS_OP_PUT:
        c->key = stress_key_upload(o->seed, c->id, c->op_iter);
        c->size = stress_size_for(c->key, o->size_min, o->size_max);
        c->xk = X_STOR;
        pick_fault(c);
        break;
    default:
        c->xk = X_LIST;
        c->size = 0;
        break;
    }
    send_pasv(c);
}

/* Starts the data connection to port (the control connection's host) and sends the
 * transfer command. */
static void open_data(stress_client *c, int port)
{
    stress_run *run = c->run;
    /* The control connection's address with the announced port (as curl does by default):
     * a 227 reply's address is often wrong behind NAT, and EPSV has none. */
    struct sockaddr_storage ss = run->addr;
    net_set_port(&ss, port);
    c->pos = 0;
    c->flags &= ~(CF_FINAL | CF_DATA_DONE | CF_VFAILED | CF_DATA_UP | CF_DATA_TCP | CF_DATA_SHUT |
                  CF_DATA_ERR | CF_ZEND | CF_DATA_DRAIN | CF_PRELIM);
    int fd = connect_nodelay(&ss);
    stream *s = fd >= 0 ? malloc(sizeof(*s)) : NULL;
    if (s == NULL) {
        int e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0)
            close(fd);
        /* No data connection: the server would wait for one; end the session. */
        conn_failed(c, e);
        return;
    }
    stream_plain_init(s, fd);
    if (run->o->tls && tls_wrap(c, &s, true) < 0) {
        stream_close(s);
        free(s);
        conn_failed(c, EPROTO);
        return;
    }
    c->data = s;
    c->flags |= CF_INFLIGHT;
    run->inflight++;
    if (run->o->limit_rate)
        ftpc_rl_init(&c->rl, run->o->limit_rate, ev_now(run->loop));
    if (run->o->compress) {
        c->z = calloc(1, sizeof(*c->z));
        bool up = c->xk == X_STOR || c->xk == X_FIX_STOR;
        if (c->z == NULL || mz_init(c->z, up ? MZ_DEFLATE : MZ_INFLATE, MZ_LEVEL_DEFAULT) < 0 ||
            (up && (c->zbuf = malloc(ZBUF_SIZE)) == NULL)) {
            conn_failed(c, ENOMEM);
            return;
        }
    }
    if (c->xk == X_STOR && run->o->verify == STRESS_VERIFY_HASH && run->server_hash) {
        c->dg = calloc(1, sizeof(*c->dg));
        if (c->dg == NULL || digest_init(c->dg, DIGEST_SHA256) < 0) {
            free(c->dg);
            c->dg = NULL;
        }
    }
    data_update(c);
    char name[96];
    xfer_file_name(c, name, sizeof(name));
    c->state = S_XFER;
    c->t_cmd = stress_now_us();
    switch (c->xk) {
    case X_GET:
    case X_READBACK:
        send_cmd(c, "RETR %s", name);
        break;
    case X_STOR:
    case X_FIX_STOR:
        send_cmd(c, "STOR %s", name);
        break;
    default:
        send_cmd(c, "LIST");
        break;
    }
}

/* Both halves of a transfer are over (final reply and data): what comes next. */
static void xfer_complete(stress_client *c)
{
    int code = c->final_code;
    close_data(c, false);
    bool ok = code >= 200 && code < 300 && !(c->flags & CF_DATA_ERR);
    char name[96];
    xfer_file_name(c, name, sizeof(name));
    stress_cmd cmd = c->xk == X_LIST                            ? STRESS_CMD_LIST
                     : (c->xk == X_STOR || c->xk == X_FIX_STOR) ? STRESS_CMD_STOR
                                                                : STRESS_CMD_RETR;
    if (ok && !is_setup(c))
        stress_hist_add(&stats(c)->cmd[cmd], stress_now_us() - c->t_cmd);
    if (!ok) {
        if (!(c->flags & CF_DATA_ERR))
            op_error(c, code);
        else if (is_setup(c))
            setup_fail(c, FTPC_EXIT_REMOTE, "%s: data connection failed", name);
        else
            c->flags |= CF_OP_ERR;
        if (c->state == S_DONE)
            return;
        if (c->xk == X_STOR || c->xk == X_READBACK) {
            c->state = S_DELE;
            send_cmd(c, "DELE %s", name);
            return;
        }
        op_end(c);
        return;
    }
    if ((c->xk == X_GET || c->xk == X_READBACK) && c->pos < c->size && !(c->flags & CF_VFAILED))
        vfail(c, name, c->pos, stress_byte(c->key, c->pos), -1);
    switch (c->xk) {
    case X_STOR:
        if (c->dg != NULL) {
            c->state = S_HASH;
            c->hash_tries = 0;
            send_cmd(c, "HASH %s", name);
            return;
        }
        c->xk = X_READBACK;
        send_pasv(c);
        return;
    case X_READBACK:
        c->state = S_DELE;
        send_cmd(c, "DELE %s", name);
        return;
    case X_FIX_STOR:
        setup_next_fixture(c);
        return;
    default:
        op_end(c);
        return;
    }
}

/* ---- fault injection ---- */

static void inject(stress_client *c)
{
    stress_run *run = c->run;
    if (c->fault == F_DROP) {
        stats(c)->faults_drop++;
        c->flags |= CF_FAULTED;
        if (c->op == STRESS_OP_PUT)
            c->flags |= CF_PENDING_DELE;
        c->flags &= ~CF_IN_OP;
        c->fault = F_NONE;
        close_ctl(c, true);
        if (run->aborting) {
            finish(c);
            return;
        }
        /* Reconnect at once: the server must take the new session like any other (and
         * even when the run is ending, to delete a partial upload). */
        c->state = S_IDLE;
        c->wake = W_RECONNECT;
        arm(c, 0);
        return;
    }
    stats(c)->faults_abort++;
    c->flags |= CF_FAULTED;
    c->fault = F_NONE;
    close_data(c, true);
    /* RFC 959: the transfer's reply (426, or 226 if it completed) and then ABOR's. NOOP is
     * sent only after both (or after a pause, for servers that send one): pipelined at once,
     * some servers answer it before ABOR. Its 200 marks the end of whatever came. */
    c->state = S_ABORT;
    c->step = (c->flags & CF_FINAL) ? 1 : 2;
    arm(c, ABOR_WAIT_MS);
    send_cmd(c, "ABOR");
}

static void abort_sync(stress_client *c)
{
    c->state = S_SYNC;
    arm(c, c->run->o->timeout_ms);
    send_cmd(c, "NOOP");
}

/* ---- the data connection ---- */

static void trace_err(stress_client *c, const char *what, int err)
{
    if (c->run->trace) {
        char w[16], e[32];
        who(c, w, sizeof(w));
        fprintf(stderr, "[%s] ! %s: %s\n", w, what,
                err ? stress_errno_name(err, e, sizeof(e)) : "EOF");
    }
}

static void data_failed(stress_client *c, int err)
{
    trace_err(c, "data connection", err);
    if (!is_setup(c)) {
        stress_stats_error(stats(c), 0, err);
        c->flags |= CF_OP_ERR;
    }
    c->flags |= CF_DATA_ERR | CF_DATA_DONE;
    close_data(c, true);
    /* The final reply (426 or so) still comes on the control connection. */
    if (c->flags & CF_FINAL)
        xfer_complete(c);
}

static void data_eof(stress_client *c)
{
    c->flags |= CF_DATA_DONE;
    /* Closed at once, not at the final reply: ProFTPD waits for our FIN (its lingering
     * close) before it sends 226. */
    close_data(c, false);
    if (c->flags & CF_FINAL)
        xfer_complete(c);
}

/* Index of the first byte of p[0..n) that is not byte c->pos + i of the current file. */
static size_t first_wrong(stress_client *c, const unsigned char *p, size_t n)
{
    const unsigned char *want = NULL;
    if (c->xk == X_GET)
        want = stress_expect_fixture(&c->run->expect, c->fixture, c->key, c->size);
    return want ? stress_first_diff(want + c->pos, p, n) : stress_check(c->key, c->pos, p, n);
}

/* Checks plain file bytes [pos, pos + n) of the current download. */
static void check_bytes(stress_client *c, const unsigned char *p, size_t n)
{
    if (c->xk == X_LIST || (c->flags & CF_VFAILED)) {
        c->pos += n;
        return;
    }
    char name[96];
    if (c->pos + n > c->size) {
        size_t inside = c->pos < c->size ? (size_t)(c->size - c->pos) : 0;
        size_t bad = first_wrong(c, p, inside);
        xfer_file_name(c, name, sizeof(name));
        if (bad < inside)
            vfail(c, name, c->pos + bad, stress_byte(c->key, c->pos + bad), p[bad]);
        else
            vfail(c, name, c->size, -1, p[inside]);
        c->pos += n;
        return;
    }
    size_t bad = first_wrong(c, p, n);
    if (bad < n) {
        xfer_file_name(c, name, sizeof(name));
        vfail(c, name, c->pos + bad, stress_byte(c->key, c->pos + bad), p[bad]);
    }
    c->pos += n;
}

/* MODE Z download: inflates wire bytes and checks what comes out. Returns 0 or -1. */
static int inflate_bytes(stress_client *c, const unsigned char *p, size_t n, bool eof)
{
    stress_run *run = c->run;
    for (;;) {
        size_t used = 0, made = 0;
        int rc = eof ? mz_finish(c->z, run->zscratch, run->zscratch_size, &made)
                     : mz_add(c->z, p, n, &used, run->zscratch, run->zscratch_size, &made);
        if (made > 0)
            check_bytes(c, run->zscratch, made);
        if (rc == MZ_ERROR)
            return -1;
        if (rc == MZ_END)
            c->flags |= CF_ZEND;
        p += used;
        n -= used;
        if (eof ? rc != MZ_AGAIN : (n == 0 && made < run->zscratch_size) || rc == MZ_END)
            return 0;
    }
}

static void data_read(stress_client *c)
{
    stress_run *run = c->run;
    size_t budget = READ_BUDGET;
    stream *s = c->data;
    uint16_t gen = c->gen;
    while (c->gen == gen && budget > 0) {
        size_t want = run->scratch_size;
        if (run->o->limit_rate) {
            uint64_t allow = ftpc_rl_allow(&c->rl, ev_now(run->loop));
            if (allow == 0) {
                c->flags |= CF_PAUSED;
                data_update(c);
                arm(c, ftpc_rl_wait_ms(&c->rl));
                return;
            }
            if (allow < want)
                want = (size_t)allow;
        }
        if (c->fault != F_NONE && c->cut > c->pos && c->cut - c->pos < want && !c->z)
            want = (size_t)(c->cut - c->pos);
        ssize_t n = stream_read(s, run->scratch, want);
        if (n > 0) {
            touch(c);
            if (run->o->limit_rate)
                ftpc_rl_consume(&c->rl, (uint64_t)n);
            if (c->z) {
                uint64_t before = c->pos;
                if (inflate_bytes(c, run->scratch, (size_t)n, false) < 0) {
                    stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                    data_failed(c, EPROTO);
                    return;
                }
                stats(c)->bytes_down += c->pos - before;
            } else {
                check_bytes(c, run->scratch, (size_t)n);
                stats(c)->bytes_down += (uint64_t)n;
            }
            budget = (size_t)n < budget ? budget - (size_t)n : 0;
            if (c->fault != F_NONE && c->pos >= c->cut) {
                inject(c);
                return;
            }
            continue;
        }
        if (n == 0) {
            if (c->z && !(c->flags & CF_ZEND) && inflate_bytes(c, NULL, 0, true) < 0) {
                stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                data_failed(c, EPROTO);
                return;
            }
            data_eof(c);
            return;
        }
        if (s->last_errno == EAGAIN)
            break;
        data_failed(c, s->last_errno);
        return;
    }
    if (c->gen == gen) {
        data_update(c);
        if (budget == 0 && stream_pending(s) > 0) {
            /* Decrypted bytes no socket event will announce: come back at once. */
            c->flags |= CF_KICK;
            arm(c, 0);
        }
    }
}

static void upload_closed(stress_client *c)
{
    close_data(c, false);
    c->flags |= CF_DATA_DONE;
    if (c->flags & CF_FINAL)
        xfer_complete(c);
}

/* After a TLS upload's close_notify and FIN: reads (and drops) what the server still sends,
 * its TLS 1.3 session tickets and its own close_notify, until it closes. Closing with those
 * bytes unread would make the kernel answer with a reset, which can destroy the end of the
 * upload before the server has read it. */
static void upload_drain(stress_client *c)
{
    stress_run *run = c->run;
    for (int i = 0; i < 16; i++) {
        ssize_t n = stream_read(c->data, run->scratch, run->scratch_size);
        if (n > 0) {
            touch(c);
            continue;
        }
        if (n < 0 && c->data->last_errno == EAGAIN) {
            data_update(c);
            return;
        }
        upload_closed(c); /* EOF, or an error: everything was sent; the reply decides */
        return;
    }
    data_update(c);
}

/* Upload end: TLS close_notify (then FIN and a drain), or a plain close; the server's final
 * reply follows. */
static void upload_done(stress_client *c)
{
    c->flags |= CF_DATA_SHUT;
    if (stream_shutdown(c->data) < 0 && c->data->last_errno == EAGAIN) {
        data_update(c);
        return;
    }
    if (stream_is_tls(c->data)) {
        shutdown(c->data->fd, SHUT_WR);
        c->flags |= CF_DATA_DRAIN;
        upload_drain(c);
        return;
    }
    close_data(c, false);
    c->flags |= CF_DATA_DONE;
    if (c->flags & CF_FINAL)
        xfer_complete(c);
}

/* MODE Z upload: refills zbuf with deflated file bytes. Returns 0 or -1. */
static int deflate_more(stress_client *c)
{
    stress_run *run = c->run;
    c->zoff = c->zlen = 0;
    while (c->zlen < ZBUF_SIZE && !(c->flags & CF_ZEND)) {
        size_t made = 0;
        if (c->pos < c->size) {
            size_t chunk = run->zscratch_size;
            if (c->size - c->pos < chunk)
                chunk = (size_t)(c->size - c->pos);
            stress_fill(c->key, c->pos, run->zscratch, chunk);
            size_t used = 0;
            if (mz_add(c->z, run->zscratch, chunk, &used, c->zbuf + c->zlen, ZBUF_SIZE - c->zlen,
                       &made) == MZ_ERROR)
                return -1;
            if (c->dg)
                digest_update(c->dg, run->zscratch, used);
            c->pos += used;
            stats(c)->bytes_up += used;
            c->zlen += (uint32_t)made;
            if (used == 0 && made == 0)
                break;
        } else {
            int rc = mz_finish(c->z, c->zbuf + c->zlen, ZBUF_SIZE - c->zlen, &made);
            c->zlen += (uint32_t)made;
            if (rc == MZ_ERROR)
                return -1;
            if (rc == MZ_END)
                c->flags |= CF_ZEND;
            else if (made == 0)
                break;
        }
    }
    return 0;
}

static void data_write(stress_client *c)
{
    stress_run *run = c->run;
    stream *s = c->data;
    uint16_t gen = c->gen;
    size_t budget = READ_BUDGET;
    while (c->gen == gen && budget > 0) {
        if (c->flags & CF_DATA_SHUT) {
            upload_done(c);
            return;
        }
        if (c->fault != F_NONE && c->pos >= c->cut) {
            inject(c);
            return;
        }
        const unsigned char *src;
        size_t len;
        if (c->z) {
            if (c->zoff == c->zlen) {
                if (c->flags & CF_ZEND) {
                    upload_done(c);
                    return;
                }
                if (deflate_more(c) < 0) {
                    stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                    data_failed(c, EPROTO);
                    return;
                }
                continue;
            }
            src = c->zbuf + c->zoff;
            len = c->zlen - c->zoff;
        } else {
            if (c->pos >= c->size) {
                upload_done(c);
                return;
            }
            len = run->scratch_size;
            if (c->size - c->pos < len)
                len = (size_t)(c->size - c->pos);
            if (c->fault != F_NONE && c->cut - c->pos < len)
                len = (size_t)(c->cut - c->pos);
            src = run->scratch;
        }
        if (run->o->limit_rate && c->tls_try == 0) {
            uint64_t allow = ftpc_rl_allow(&c->rl, ev_now(run->loop));
            if (allow == 0) {
                c->flags |= CF_PAUSED;
                data_update(c);
                arm(c, ftpc_rl_wait_ms(&c->rl));
                return;
            }
            if (allow < len)
                len = (size_t)allow;
        }
        /* TLS: a write that waited must be offered again with at least as many bytes;
         * regenerating them at the same offset gives the very same bytes. */
        if (!c->z && stream_is_tls(s) && len > 16384)
            len = 16384; /* one record a call: generate no more than goes out */
        if (!c->z && c->tls_try > len && c->tls_try <= c->size - c->pos)
            len = c->tls_try;
        if (!c->z)
            stress_fill(c->key, c->pos, run->scratch, len);
        ssize_t n = stream_write(s, src, len);
        if (n > 0) {
            touch(c);
            c->tls_try = 0;
            if (run->o->limit_rate)
                ftpc_rl_consume(&c->rl, (uint64_t)n);
            if (c->z) {
                c->zoff += (uint32_t)n;
            } else {
                if (c->dg)
                    digest_update(c->dg, src, (size_t)n);
                c->pos += (uint64_t)n;
                stats(c)->bytes_up += (uint64_t)n;
            }
            budget = (size_t)n < budget ? budget - (size_t)n : 0;
            continue;
        }
        if (n < 0 && s->last_errno == EAGAIN) {
            if (!c->z && stream_is_tls(s))
                c->tls_try = (uint32_t)len;
            break;
        }
        data_failed(c, n < 0 ? s->last_errno : EPIPE);
        return;
    }
    if (c->gen == gen)
        data_update(c);
}

static void data_step(stress_client *c)
{
    stream *s = c->data;
    if (s == NULL)
        return;
    if (!(c->flags & CF_DATA_TCP)) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err != 0) {
            data_failed(c, err);
            return;
        }
        c->flags |= CF_DATA_TCP;
    }
    if (!(c->flags & CF_DATA_UP)) {
        if (stream_handshake(s) < 0) {
            if (s->last_errno == EAGAIN) {
                data_update(c);
                return;
            }
            if (stream_is_tls(s))
                tls_note(c, (stream_tls *)s);
            data_failed(c, s->last_errno ? s->last_errno : EPROTO);
            return;
        }
        c->flags |= CF_DATA_UP;
        touch(c);
    }
    if (c->flags & CF_DATA_DRAIN)
        upload_drain(c);
    else if (c->xk == X_STOR || c->xk == X_FIX_STOR)
        data_write(c);
    else
        data_read(c);
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    (void)loop;
    (void)fd;
    (void)mask;
    data_step(ud);
}

/* ---- replies ---- */

/* "213 SHA-256 0-N HEX name": the hex digest, or NULL. */
static const char *hash_hex(char *text)
{
    char *save = NULL;
    char *algo = strtok_r(text, " ", &save);
    char *range = strtok_r(NULL, " ", &save);
    char *hex = strtok_r(NULL, " ", &save);
    if (!algo || !range || !hex || strcasecmp(algo, "SHA-256") != 0)
        return NULL;
    return hex;
}

/* HASH answered 4xx: a busy server, not a failed upload. The pause runs on the client's
 * timer, so the loop and the other clients go on meanwhile. */
static void hash_busy(stress_client *c)
{
    stats(c)->hash_busy++;
    if (++c->hash_tries < HASH_BUSY_TRIES) {
        uint64_t d = (uint64_t)HASH_BUSY_DELAY_MS << (c->hash_tries - 1);
        c->state = S_HASH_WAIT;
        arm(c, (long)(d / 2 + stress_rand_below(&c->rng, d / 2 + 1)));
        return;
    }
    /* Still busy: what the server stored is checked byte by byte instead. */
    stats(c)->hash_readback++;
    digest_free(c->dg);
    free(c->dg);
    c->dg = NULL;
    c->xk = X_READBACK;
    send_pasv(c);
}

static void feat_parse(stress_run *run, const char *text)
{
    /* " HASH SHA-256*;SHA-1;MD5;": usable when SHA-256 is the current choice. */
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (len > 5 && strncasecmp(p, "HASH ", 5) == 0) {
            char line[256];
            snprintf(line, sizeof(line), "%.*s", (int)len, p);
            if (strstr(line, "SHA-256*") != NULL)
                run->server_hash = true;
        }
        p = eol ? eol + 1 : NULL;
    }
}

static void on_reply(stress_client *c, int code, char *text)
{
    stress_run *run = c->run;
    if (run->trace) {
        char w[16];
        who(c, w, sizeof(w));
        fprintf(stderr, "[%s] < %d %s\n", w, code, text);
    }
    switch (c->state) {
    case S_GREETING:
        if (code == 120)
            return;
        if (code != 220) {
            login_refused(c, code);
            return;
        }
        if (run->o->tls && !run->o->implicit_tls) {
            c->state = S_AUTH;
            send_cmd(c, "AUTH TLS");
            return;
        }
        c->flags |= CF_LOGIN_T;
        send_user(c);
        return;
    case S_AUTH:
        if (code != 234) {
            login_refused(c, code);
            return;
        }
        if (tls_wrap(c, &c->ctl, false) < 0) {
            conn_failed(c, EPROTO);
            return;
        }
        c->state = S_TLS_HS;
        ctl_update(c);
        ctl_cb(run->loop, c->ctl->fd, EV_WRITE, c);
        return;
    case S_USER:
        if (code == 331) {
            c->state = S_PASS;
            send_cmd(c, "PASS %s", run->o->url.pass);
            return;
        }
        if (code == 230) {
            logged_in(c);
            return;
        }
        login_refused(c, code);
        return;
    case S_PASS:
        if (code == 230 || code == 202) {
            logged_in(c);
            return;
        }
        login_refused(c, code);
        return;
    case S_CHAIN:
        switch (c->step) {
        case L_FEAT:
            if (code == 211)
                feat_parse(run, text);
            break;
        case L_MODEZ:
            if (code != 200) {
                if (is_setup(c)) {
                    setup_fail(c, FTPC_EXIT_REMOTE, "the server refuses MODE Z: %d %s", code, text);
                    return;
                }
                login_refused(c, code);
                return;
            }
            break;
        case L_CWD:
            if (code / 100 != 2) {
                if (run->tearing_down) {
                    setup_fail(c, FTPC_EXIT_REMOTE, "cannot enter %s: %d %s", run->o->dir, code,
                               text);
                    return;
                }
                if (is_setup(c)) {
                    c->step = L_MKD;
                    send_cmd(c, "MKD %s", run->o->dir);
                    return;
                }
                login_refused(c, code);
                return;
            }
            c->step = L_DELE;
            chain_next(c);
            return;
        case L_MKD:
            if (code / 100 != 2) /* another set-up session may have made it meanwhile */
                snprintf(run->mkd_reply, sizeof(run->mkd_reply), "%d %s", code, text);
            else
                run->made_dir = true;
            c->step = L_CWD2;
            send_cmd(c, "CWD %s", run->o->dir);
            return;
        case L_CWD2:
            if (code / 100 != 2) {
                setup_fail(c, FTPC_EXIT_REMOTE, "cannot enter or create directory %s: %s",
                           run->o->dir, run->mkd_reply[0] ? run->mkd_reply : text);
                return;
            }
            c->step = L_DELE;
            chain_next(c);
            return;
        case L_DELE:
            c->flags &= ~CF_PENDING_DELE; /* gone or never written: either is fine */
            break;
        default:
            if (code / 100 != 2) {
                login_refused(c, code);
                return;
            }
            break;
        }
        c->step++;
        chain_next(c);
        return;
    case S_PASV: {
        int port = -1;
        if (code == 229) {
            port = ftpc_parse_epsv(text);
        } else if (code == 227) {
            struct sockaddr_storage tmp;
            port = ftpc_parse_pasv(text, &tmp);
        } else if (!run->no_epsv && code >= 500 && code != 530) {
            run->no_epsv = true;
            send_pasv(c);
            return;
        }
        if (port <= 0) {
            if (code / 100 == 2) {
                stress_stats_error_key(stats(c), "bad-pasv");
                c->flags |= CF_OP_ERR;
                if (is_setup(c)) {
                    setup_fail(c, FTPC_EXIT_REMOTE, "unusable passive reply: %d %s", code, text);
                    return;
                }
                op_end(c);
                return;
            }
            op_error(c, code);
            if (c->state != S_DONE)
                op_end(c);
            return;
        }
        if (!is_setup(c))
            stress_hist_add(&stats(c)->cmd[STRESS_CMD_PASV], stress_now_us() - c->t_cmd);
        open_data(c, port);
        return;
    }
    case S_XFER:
        if (code < 200) {
            c->flags |= CF_PRELIM;
            return;
        }
        c->flags |= CF_FINAL;
        c->final_code = code;
        if (code >= 300) {
            /* Refused or failed: the data connection has nothing more to say. */
            close_data(c, true);
            c->flags |= CF_DATA_DONE;
            /* An upload starts on the data connection before the 1xx; when the server
             * refuses the STOR outright, what the kernel took was never stored. */
            if ((c->xk == X_STOR || c->xk == X_FIX_STOR) && !(c->flags & CF_PRELIM))
                stats(c)->bytes_up -= c->pos;
        }
        if (c->flags & CF_DATA_DONE)
            xfer_complete(c);
        return;
    case S_HASH: {
        if (code >= 400 && code < 500 && c->dg != NULL) {
            hash_busy(c);
            return;
        }
        char name[96];
        stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
        char want[DIGEST_HEX_MAX] = "";
        if (c->dg) {
            digest_final_hex(c->dg, want);
            free(c->dg);
            c->dg = NULL;
        }
        if (code == 213) {
            const char *got = hash_hex(text);
            if (got == NULL || strcasecmp(got, want) != 0)
                vfail(c, name, UINT64_MAX, -1, -1);
        } else {
            op_error(c, code);
        }
        c->state = S_DELE;
        send_cmd(c, "DELE %s", name);
        return;
    }
    case S_DELE:
        if (code / 100 != 2 && !(c->flags & CF_FAULTED) && !(c->flags & CF_OP_ERR))
            op_error(c, code);
        op_end(c);
        return;
    case S_SIZE: {
        char *end = NULL;
        unsigned long long have = code == 213 ? strtoull(text, &end, 10) : 0;
        bool present = code == 213 && end != text && have == c->size;
        c->xk = present ? X_GET : X_FIX_STOR;
        send_pasv(c);
        return;
    }
    case S_CLEAN_LEFT:
        /* 550: the upload had not begun, or its session deleted it after all. Anything else
         * (450 busy, 553, 530) may leave it there: said, as a failed --clean is. */
        if (code / 100 == 2) {
            run->left_deleted++;
        } else if (code != 550) {
            char name[96];
            stress_client *l = &run->clients[run->left_next - 1];
            stress_upload_name(run, l->id, l->op_iter, name, sizeof(name));
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: clean-up: DELE %s: %d %s", name, code, text);
        }
        clean_next(c);
        return;
    case S_CLEAN_DELE: {
        /* After an interrupted set-up a fixture may never have been uploaded. */
        if (code / 100 != 2 && !(code == 550 && run->interrupted && !run->main_phase)) {
            char name[96];
            stress_fixture_name(run, run->clean_next - 1, name, sizeof(name));
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: --clean: DELE %s: %d %s", name, code, text);
        }
        clean_next(c);
        return;
    }
    case S_CLEAN_CDUP: {
        if (code / 100 != 2) {
            setup_fail(c, FTPC_EXIT_REMOTE, "CDUP out of %s: %d %s", run->o->dir, code, text);
            return;
        }
        char base[sizeof(run->o->dir)];
        c->state = S_CLEAN_RMD;
        send_cmd(c, "RMD %s", dir_basename(run->o->dir, base, sizeof(base)));
        return;
    }
    case S_CLEAN_RMD:
        if (code / 100 != 2) {
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: --clean: RMD %s: %d %s", run->o->dir, code, text);
        }
        quit(c);
        return;
    case S_ABORT:
        /* 225 can only answer ABOR: whatever the transfer had to say came before it (some
         * servers, pyftpdlib, say nothing for the transfer itself). */
        if (code == 225 || (code >= 200 && c->step > 0 && --c->step == 0))
            abort_sync(c);
        return;
    case S_SYNC:
        if (code != 200)
            return; /* late replies of the aborted transfer */
        if (c->op == STRESS_OP_PUT) {
            char name[96];
            stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
            c->state = S_DELE;
            send_cmd(c, "DELE %s", name);
            return;
        }
        op_end(c);
        return;
    case S_RELOGIN:
        relogin(c);
        return;
    case S_QUIT:
        finish(c);
        return;
    default:
        return;
    }
}

/* The QUIT of a login operation was answered: connect again from the timer (not from inside
 * the read handler of the connection being closed). */
static void relogin(stress_client *c)
{
    close_ctl(c, false);
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    arm(c, 0);
}

/* Reads what the control connection has and handles every complete reply. */
static void ctl_read(stress_client *c)
{
    stress_run *run = c->run;
    stream *s = c->ctl;
    uint16_t gen = c->gen;
    buf *rb = &run->rbuf;
    buf_clear(rb);
    if (c->in_left != NULL) {
        buf_append(rb, c->in_left, c->in_left_len);
        free(c->in_left);
        c->in_left = NULL;
        c->in_left_len = 0;
    }
    for (;;) {
        size_t avail = 0;
        char *tail = buf_tail(rb, &avail);
        if (tail == NULL) {
            conn_failed(c, EMSGSIZE);
            return;
        }
        ssize_t n = stream_read(s, tail, avail);
        if (n == 0) {
            if (c->state == S_QUIT) {
                finish(c);
                return;
            }
            if (c->state == S_RELOGIN) {
                relogin(c);
                return;
            }
            conn_failed(c, 0);
            return;
        }
        if (n < 0) {
            if (s->last_errno == EAGAIN)
                break;
            if (c->state == S_QUIT) {
                finish(c);
                return;
            }
            if (stream_is_tls(s))
                tls_note(c, (stream_tls *)s);
            conn_failed(c, s->last_errno);
            return;
        }
        buf_commit(rb, (size_t)n);
        touch(c);
        for (;;) {
            /* A private parser over a copy: a partial reply is left whole in the buffer
             * (and kept by this client), since the message is shared by all clients. */
            buf tmp = *rb;
            ftp_reply_parser p = {0};
            int r = ftp_reply_next(&p, &tmp, &run->msg);
            if (r == 0)
                break;
            if (r < 0) {
                conn_failed(c, errno == EMSGSIZE ? EMSGSIZE : EPROTO);
                return;
            }
            *rb = tmp;
            on_reply(c, run->msg.code, run->msg.text);
            if (c->gen != gen || c->ctl == NULL)
                return; /* closed, replaced or reconnecting while handling it */
        }
        if ((size_t)n < avail && stream_pending(s) == 0)
            break;
    }
    if (!buf_empty(rb)) {
        size_t len = buf_len(rb);
        c->in_left = malloc(len);
        if (c->in_left == NULL) {
            conn_failed(c, ENOMEM);
            return;
        }
        memcpy(c->in_left, buf_head(rb), len);
        c->in_left_len = (uint16_t)len;
    }
    buf_clear(rb);
}

static void ctl_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    (void)loop;
    (void)fd;
    (void)mask;
    stress_client *c = ud;
    stress_run *run = c->run;
    stream *s = c->ctl;
    if (s == NULL)
        return;
    uint16_t gen = c->gen;
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err != 0) {
            conn_failed(c, err);
            return;
        }
        if (!is_setup(c))
            stress_hist_add(&stats(c)->cmd[STRESS_CMD_CONNECT], stress_now_us() - c->t_cmd);
        c->flags |= CF_CONNECTED;
        run->connected++;
        c->state = S_GREETING;
        touch(c);
        if (run->o->implicit_tls) {
            if (tls_wrap(c, &c->ctl, false) < 0) {
                conn_failed(c, EPROTO);
                return;
            }
            c->state = S_TLS_HS;
            ctl_cb(loop, c->ctl->fd, EV_WRITE, c);
            return;
        }
        ctl_update(c);
        return;
    }
    if (c->state == S_TLS_HS) {
        if (stream_handshake(s) < 0) {
            if (s->last_errno == EAGAIN) {
                ctl_update(c);
                return;
            }
            if (is_setup(c)) {
                char why[600];
                ftpc_tls_describe_hint((stream_tls *)s, false, why, sizeof(why));
                setup_fail(c, FTPC_EXIT_TLS, "TLS: %s", why);
                return;
            }
            tls_note(c, (stream_tls *)s);
            conn_failed(c, EPROTO);
            return;
        }
        touch(c);
        if (run->o->implicit_tls && !(c->flags & CF_LOGIN_T)) {
            /* Implicit FTPS: the greeting comes over TLS. */
            c->flags |= CF_LOGIN_T;
            c->state = S_GREETING;
            ctl_read(c);
            if (c->gen == gen && c->ctl != NULL)
                ctl_update(c);
            return;
        }
        c->flags |= CF_LOGIN_T;
        send_user(c);
        return;
    }
    if (c->out != NULL && flush_out(c) < 0) {
        conn_failed(c, s->last_errno);
        return;
    }
    ctl_read(c);
    if (c->gen == gen && c->ctl != NULL)
        ctl_update(c);
}

/* ---- the timer ---- */

/* The run ends while c waits: quit, or (between a dropped upload and the reconnect that
 * deletes its partial file) reconnect first so the server is left clean. */
static void end_idle(stress_client *c)
{
    if (c->ctl != NULL)
        quit(c);
    else if ((c->flags & CF_PENDING_DELE) && !c->run->aborting && !is_setup(c))
        start_session(c);
    else
        finish(c);
}

static long timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)t;
    stress_client *c = ud;
    stress_run *run = c->run;
    switch (c->state) {
    case S_IDLE:
        if (run->ending || run->aborting) {
            end_idle(c);
            return EV_TIMER_STOP;
        }
        if (c->wake == W_NEXT_OP) {
            arm(c, run->o->timeout_ms);
            next_op(c);
        } else {
            start_session(c);
        }
        return EV_TIMER_STOP;
    case S_DONE:
        return EV_TIMER_STOP;
    default:
        break;
    }
    if (c->state == S_ABORT) {
        abort_sync(c); /* fewer replies than RFC 959 says: NOOP finds the end */
        return EV_TIMER_STOP;
    }
    if (c->state == S_HASH_WAIT) {
        char name[96];
        stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
        c->state = S_HASH;
        arm(c, run->o->timeout_ms);
        send_cmd(c, "HASH %s", name);
        return EV_TIMER_STOP;
    }
    if (c->flags & (CF_PAUSED | CF_KICK)) {
        c->flags &= ~(CF_PAUSED | CF_KICK);
        touch(c);
        arm(c, run->o->timeout_ms);
        data_update(c);
        data_step(c);
        return EV_TIMER_STOP;
    }
    long long idle = ev_now(loop) - c->last_io;
    if (idle < run->o->timeout_ms) {
        arm(c, (long)(run->o->timeout_ms - idle));
        return EV_TIMER_STOP;
    }
    if (c->state == S_QUIT) {
        finish(c);
        return EV_TIMER_STOP;
    }
    conn_failed(c, ETIMEDOUT);
    return EV_TIMER_STOP;
}

/* ---- public ---- */

void stress_client_init(stress_client *c, stress_run *run, uint32_t id, bool setup)
{
    memset(c, 0, sizeof(*c));
    c->run = run;
    c->id = id;
    c->flags = setup ? CF_SETUP : 0;
    c->rng = stress_mix64(run->o->seed * 0x9E3779B97F4A7C15ULL + id + (setup ? 0x5E7ULL : 0));
    ev_timer_init(&c->timer, timer_cb, c);
}

void stress_client_start(stress_client *c, long delay_ms)
{
    c->state = S_IDLE;
    c->wake = W_START;
    arm(c, delay_ms);
}

void stress_client_end(stress_client *c)
{
    if (c->state == S_IDLE)
        end_idle(c);
}

void stress_client_interrupt(stress_client *c)
{
    if (c->state == S_XFER && c->data != NULL && (c->flags & CF_IN_OP)) {
        /* A transfer could run for long: it is cut as an injected ABOR is (its upload then
         * deleted by the session), but counted as cut off by the end, not as a fault. */
        c->run->unfinished++;
        c->flags |= CF_FAULTED;
        close_data(c, true);
        c->state = S_ABORT;
        c->step = (c->flags & CF_FINAL) ? 1 : 2;
        arm(c, ABOR_WAIT_MS);
        send_cmd(c, "ABOR");
        return;
    }
    stress_client_end(c);
}

void stress_client_kill(stress_client *c)
{
    if (c->state == S_DONE)
        return;
    close_ctl(c, true);
    finish(c);
}

void stress_client_free(stress_client *c)
{
    close_ctl(c, true);
    ev_timer_stop(c->run->loop, &c->timer);
}

bool stress_client_done(const stress_client *c)
{
    return c->state == S_DONE;
}
