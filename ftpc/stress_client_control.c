/* The control connection of a simulated client: commands out (queued behind one the socket
 * did not take), replies in (a reply split across reads kept per client), TLS over it, and
 * the session's start: connect, greeting, [AUTH TLS], USER/PASS and the commands after login.
 * What each reply means is stress_client_reply.c's. */
#include "stress_client_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "ftp_reply.h"
#include "net.h"
#include "status.h"
#include "tls.h"

void sc_ctl_update(stress_client *c)
{
    if (c->ctl == NULL)
        return;
    int want = 0;
    if (c->state == S_CONNECTING)
        want = EV_WRITE;
    else
        want = EV_READ | (c->out ? EV_WRITE : 0) | stream_want(c->ctl);
    sc_set_mask(c, c->ctl->fd, want, sc_ctl_cb);
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
__attribute__((format(printf, 2, 3))) int sc_send_cmd(stress_client *c, const char *fmt, ...)
{
    char text[1200], line[2 * sizeof(text) + 2];
    va_list ap;
    va_start(ap, fmt);
    int tn = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (tn < 0 || (size_t)tn >= sizeof(text))
        tn = (int)sizeof(text) - 1;
    /* A byte 255 in a name or password is Telnet's IAC on the control connection: sent
     * alone, the server takes it and the byte after it for a Telnet command and drops both
     * (RFC 854), so a directory "a\xffb" would be made as "a". Doubled, it is the byte. */
    int n = 0;
    for (int i = 0; i < tn; i++) {
        line[n++] = text[i];
        if ((unsigned char)text[i] == 0xFF)
            line[n++] = text[i];
    }
    line[n++] = '\r';
    line[n++] = '\n';
    if (c->run->trace) {
        char w[16];
        sc_who(c, w, sizeof(w));
        bool pass = strncmp(text, "PASS ", 5) == 0;
        /* as given, without the CR: the trace is a text file's lines */
        fprintf(stderr, "[%s] > %.*s\n", w, pass ? 6 : tn, pass ? "PASS *" : text);
    }
    sc_touch(c);
    if (c->out == NULL) {
        ssize_t w = stream_write(c->ctl, line, (size_t)n);
        if (w == n) {
            sc_ctl_update(c);
            return 0;
        }
        if (w < 0 && c->ctl->last_errno != EAGAIN) {
            sc_conn_failed(c, c->ctl->last_errno);
            return -1;
        }
        if (w < 0)
            w = 0;
        c->out = malloc((size_t)n);
        if (c->out == NULL) {
            sc_conn_failed(c, ENOMEM);
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
            sc_conn_failed(c, ENOMEM);
            return -1;
        }
        memcpy(nb, c->out + c->out_off, have);
        memcpy(nb + have, line, (size_t)n);
        free(c->out);
        c->out = nb;
        c->out_len = (uint16_t)(have + (size_t)n);
        c->out_off = 0;
    }
    sc_ctl_update(c);
    return 0;
}

/* ---- session set-up ---- */

void sc_tls_note(stress_client *c, stream_tls *t)
{
    if (c->run->tls_errors_shown < 3) {
        char why[600];
        ftpc_tls_describe_hint(t, false, c->run->o->cacert, c->run->o->insecure, why,
                               sizeof(why)); /* the way out */
        c->run->tls_errors_shown++;
        stress_run_message(c->run, "ftpc stress: TLS: %s", why);
    }
}

int sc_tls_wrap(stress_client *c, stream **sp, bool data)
{
    stress_run *run = c->run;
    stream *plain = *sp;
    stream_tls *t = malloc(sizeof(*t));
    if (t == NULL)
        return -1;
    if (stream_tls_init(t, plain->fd, run->tls, STREAM_TLS_CLIENT) < 0) {
        sc_tls_note(c, t);
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

void sc_start_session(stress_client *c)
{
    stress_run *run = c->run;
    c->flags |= CF_ESTABLISH;
    c->t_op = c->t_cmd = stress_now_us();
    c->addr_at = (uint8_t)run->addr_index;
    int fd = sc_connect_nodelay(&run->addr);
    if (fd < 0) {
        sc_conn_failed(c, errno);
        return;
    }
    c->ctl = malloc(sizeof(*c->ctl));
    if (c->ctl == NULL) {
        close(fd);
        sc_conn_failed(c, ENOMEM);
        return;
    }
    stream_plain_init(c->ctl, fd);
    c->state = S_CONNECTING;
    if (!sc_is_setup(c)) {
        c->flags |= CF_LOGGING_IN;
        run->logging_in++;
    }
    sc_touch(c);
    sc_arm(c, run->o->timeout_ms);
    sc_ctl_update(c);
}

void sc_send_user(stress_client *c)
{
    c->state = S_USER;
    c->t_cmd = stress_now_us();
    sc_send_cmd(c, "USER %s", c->run->o->url.user);
}

/* Sends the next command of the after-login chain, or hands over to the operations. */
void sc_chain_next(stress_client *c)
{
    stress_run *run = c->run;
    const stress_opts *o = run->o;
    c->state = S_CHAIN;
    for (;;) {
        switch (c->step) {
        case L_PBSZ:
            if (o->tls) {
                sc_send_cmd(c, "PBSZ 0");
                return;
            }
            break;
        case L_PROT:
            if (o->tls) {
                sc_send_cmd(c, "PROT P");
                return;
            }
            break;
        case L_FEAT:
            /* the first set-up session in: the one with id 0 may have been turned away */
            if (sc_is_setup(c) && !run->feat_asked) {
                run->feat_asked = true;
                sc_send_cmd(c, "FEAT");
                return;
            }
            break;
        case L_TYPE:
            sc_send_cmd(c, "TYPE I");
            return;
        case L_MODEZ:
            if (o->compress) {
                sc_send_cmd(c, "MODE Z");
                return;
            }
            break;
        case L_CWD:
            if (o->dir[0]) {
                sc_send_cmd(c, "CWD %s", o->dir);
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
                sc_send_cmd(c, "DELE %s", name);
                return;
            }
            break;
        default: {
            /* Logged in and ready. */
            c->backoff_ms = 0;
            if (c->flags & CF_ESTABLISH) {
                c->flags &= ~CF_ESTABLISH;
                if (!sc_is_setup(c)) {
                    sc_stats(c)->op_count[STRESS_OP_LOGIN]++;
                    stress_hist_add(&sc_stats(c)->ops, stress_now_us() - c->t_op);
                }
            }
            if ((c->flags & CF_IN_OP) && c->op == STRESS_OP_LOGIN) {
                c->flags &= ~CF_IN_OP; /* the login op was counted just above */
                sc_op_end(c);
                return;
            }
            sc_next_op(c);
            return;
        }
        }
        c->step++;
    }
}

void sc_logged_in(stress_client *c)
{
    if (c->flags & CF_LOGIN_T) {
        c->flags &= ~CF_LOGIN_T;
        if (!sc_is_setup(c))
            stress_hist_add(&sc_stats(c)->cmd[STRESS_CMD_LOGIN], stress_now_us() - c->t_cmd);
    }
    if (!(c->flags & CF_LOGGED_IN) && !sc_is_setup(c))
        c->run->logged_in++;
    sc_logging_in_done(c);
    c->flags |= CF_LOGGED_IN | CF_WAS_IN;
    c->step = L_PBSZ;
    sc_chain_next(c);
}

/* A login-time reply that refuses: count it and retry later (set-up: stop). */
/* A set-up session turned away by a limit (a 421 before login: per address, vsftpd's
 * max_per_ip, or on sessions) while another of the set-up's may still get in: those that do
 * prepare the fixtures, so this one just ends. The last one turned away fails the set-up. */
static bool setup_session_spared(stress_client *c, int code)
{
    stress_run *run = c->run;
    if (code != 421 || run->tearing_down ||
        (c->state != S_GREETING && c->state != S_USER && c->state != S_PASS))
        return false;
    bool other = false;
    for (int i = 0; i < run->nsetup; i++)
        other |= &run->setup[i] != c && run->setup[i].state != S_DONE;
    if (!other)
        return false;
    if (!run->setup_spared_said) {
        run->setup_spared_said = true;
        stress_run_message(run,
                           "ftpc stress: set-up: the server turned a session away (%d %s); "
                           "the set-up goes on with fewer",
                           code, run->msg.text);
    }
    sc_close_ctl(c, false);
    sc_finish(c);
    return true;
}

void sc_login_refused(stress_client *c, int code)
{
    if (sc_is_setup(c) && setup_session_spared(c, code))
        return;
    if (sc_is_setup(c)) {
        int rc = c->state == S_AUTH                                        ? FTPC_EXIT_TLS
                 : code == 530 || c->state == S_USER || c->state == S_PASS ? FTPC_EXIT_LOGIN
                                                                           : FTPC_EXIT_REMOTE;
        sc_setup_fail(c, rc, "%d %s", code, c->run->msg.text);
        return;
    }
    stress_stats_reply_error(sc_stats(c), code, c->run->msg.text);
    sc_stats(c)->op_count[STRESS_OP_LOGIN]++;
    sc_stats(c)->op_errors[STRESS_OP_LOGIN]++;
    sc_session_attempt_failed(c);
    c->flags &= ~CF_ESTABLISH;
    if (c->flags & CF_IN_OP) {
        c->flags &= ~CF_IN_OP; /* a login op: counted above */
    }
    /* Close politely and back off like any failed session. */
    stress_run *run = c->run;
    sc_close_ctl(c, false);
    if (run->ending || run->aborting) {
        sc_finish(c);
        return;
    }
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 200;
    if (c->backoff_ms > 2000)
        c->backoff_ms = 2000;
    sc_arm(c, (long)c->backoff_ms);
}

/* ---- reading replies ---- */

/* The QUIT of a login operation was answered: connect again from the timer (not from inside
 * the read handler of the connection being closed). */
void sc_relogin(stress_client *c)
{
    sc_close_ctl(c, false);
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    sc_arm(c, 0);
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
            sc_conn_failed(c, EMSGSIZE);
            return;
        }
        ssize_t n = stream_read(s, tail, avail);
        if (n == 0) {
            if (c->state == S_QUIT) {
                sc_finish(c);
                return;
            }
            if (c->state == S_RELOGIN) {
                sc_relogin(c);
                return;
            }
            sc_conn_failed(c, 0);
            return;
        }
        if (n < 0) {
            if (s->last_errno == EAGAIN)
                break;
            if (c->state == S_QUIT) {
                sc_finish(c);
                return;
            }
            if (stream_is_tls(s))
                sc_tls_note(c, (stream_tls *)s);
            sc_conn_failed(c, s->last_errno);
            return;
        }
        buf_commit(rb, (size_t)n);
        sc_touch(c);
        for (;;) {
            /* A private parser over a copy: a partial reply is left whole in the buffer
             * (and kept by this client), since the message is shared by all clients. */
            buf tmp = *rb;
            ftp_reply_parser p = {0};
            int r = ftp_reply_next(&p, &tmp, &run->msg);
            if (r == 0)
                break;
            if (r < 0) {
                sc_conn_failed(c, errno == EMSGSIZE ? EMSGSIZE : EBADMSG);
                return;
            }
            *rb = tmp;
            sc_on_reply(c, run->msg.code, run->msg.text);
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
            sc_conn_failed(c, ENOMEM);
            return;
        }
        memcpy(c->in_left, buf_head(rb), len);
        c->in_left_len = (uint16_t)len;
    }
    buf_clear(rb);
}

void sc_ctl_cb(ev_loop *loop, int fd, int mask, void *ud)
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
            sc_conn_failed(c, err);
            return;
        }
        if (!sc_is_setup(c)) {
            run->last_connect_us = stress_now_us();
            stress_hist_add(&sc_stats(c)->cmd[STRESS_CMD_CONNECT], run->last_connect_us - c->t_cmd);
        }
        if (!sc_is_setup(c)) {
            c->flags |= CF_AWAIT_GREET;
            run->awaiting_greeting++;
        }
        c->state = S_GREETING;
        sc_touch(c);
        if (run->o->implicit_tls) {
            if (sc_tls_wrap(c, &c->ctl, false) < 0) {
                sc_conn_failed(c, EPROTO);
                return;
            }
            c->state = S_TLS_HS;
            sc_ctl_cb(loop, c->ctl->fd, EV_WRITE, c);
            return;
        }
        sc_ctl_update(c);
        return;
    }
    if (c->state == S_TLS_HS) {
        if (stream_handshake(s) < 0) {
            if (s->last_errno == EAGAIN) {
                sc_ctl_update(c);
                return;
            }
            if (sc_is_setup(c)) {
                char why[600];
                ftpc_tls_describe_hint((stream_tls *)s, false, c->run->o->cacert,
                                       c->run->o->insecure, why, sizeof(why));
                sc_setup_fail(c, FTPC_EXIT_TLS, "TLS: %s", why);
                return;
            }
            sc_tls_note(c, (stream_tls *)s);
            sc_conn_failed(c, EPROTO);
            return;
        }
        sc_touch(c);
        if (run->o->implicit_tls && !(c->flags & CF_LOGIN_T)) {
            /* Implicit FTPS: the greeting comes over TLS. */
            c->flags |= CF_LOGIN_T;
            c->state = S_GREETING;
            ctl_read(c);
            if (c->gen == gen && c->ctl != NULL)
                sc_ctl_update(c);
            return;
        }
        c->flags |= CF_LOGIN_T;
        sc_send_user(c);
        return;
    }
    if (c->out != NULL && flush_out(c) < 0) {
        sc_conn_failed(c, s->last_errno);
        return;
    }
    ctl_read(c);
    if (c->gen == gen && c->ctl != NULL)
        sc_ctl_update(c);
}
