/* Data connections as streams (see dchan.h). */
#include "dchan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tls.h"

void ftpc_dchan_init(ftpc_dchan *d, ev_loop *loop)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->s = NULL;
}

int ftpc_dchan_open(ftpc_dchan *d, ftpc_conn *c, int fd, char *err, size_t err_size)
{
    ftpc_dchan_close(d);
    ftpc_tls *tls = NULL;
    const char *host = NULL;
    SSL_SESSION *sess = NULL;
    if (!ftpc_conn_data_tls(c, &tls, &host, &sess)) {
        stream_plain_init(&d->u.plain, fd);
        d->s = &d->u.plain;
        d->hs_done = true;
        return 0;
    }
    int rc = ftpc_tls_start(tls, &d->u.tls, fd, host, sess, err, err_size);
    if (sess != NULL)
        SSL_SESSION_free(sess);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    d->s = &d->u.tls.base;
    d->hs_done = false;
    return 0;
}

int ftpc_dchan_handshake(ftpc_dchan *d, char *err, size_t err_size)
{
    if (d->s == NULL) {
        snprintf(err, err_size, "data connection closed");
        return -1;
    }
    if (d->hs_done)
        return 1;
    if (stream_handshake(d->s) == 0) {
        d->hs_done = true;
        return 1;
    }
    if (d->s->last_errno == EAGAIN)
        return 0;
    ftpc_tls_describe(&d->u.tls, err, err_size);
    return -1;
}

void ftpc_dchan_watch(ftpc_dchan *d, int base, ev_io_cb cb, void *ud)
{
    if (d->s == NULL)
        return;
    int want = base | stream_want(d->s);
    int have = ev_mask(d->loop, d->s->fd);
    if (have & ~want)
        ev_del(d->loop, d->s->fd, have & ~want);
    if (want != 0)
        ev_add(d->loop, d->s->fd, want, cb, ud); /* also (re)sets cb and ud */
}

size_t ftpc_dchan_pending(const ftpc_dchan *d)
{
    return d->s != NULL ? stream_pending(d->s) : 0;
}

const char *ftpc_dchan_error(const ftpc_dchan *d)
{
    if (d->s == NULL || !stream_is_tls(d->s) || d->u.tls.err[0] == '\0')
        return NULL;
    return d->u.tls.err;
}

bool ftpc_dchan_end_unproven(const ftpc_dchan *d)
{
    return d->s != NULL && stream_is_tls(d->s) && !stream_tls_peer_closed(&d->u.tls);
}

void ftpc_dchan_reset_on_close(ftpc_dchan *d)
{
    if (!ftpc_dchan_is_open(d) || d->s->fd < 0)
        return;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(d->s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* The reply is sent with the close, so it is usually in already; the bound is for a server
 * that never answers (or a reset from something between). */
#define DCHAN_REPLY_WAIT_MS 5000

const char *ftpc_dchan_hs_timeout_msg(long timeout_ms, char *out, size_t n)
{
    snprintf(out, n, "the TLS handshake of the data connection timed out after %g s",
             (double)timeout_ms / 1000.0);
    return out;
}

long ftpc_dchan_reply_wait_ms(long timeout_ms)
{
    return timeout_ms < DCHAN_REPLY_WAIT_MS ? timeout_ms : DCHAN_REPLY_WAIT_MS;
}

void ftpc_dchan_close(ftpc_dchan *d)
{
    if (d->s == NULL)
        return;
    if (d->s->fd >= 0)
        ev_del(d->loop, d->s->fd, EV_READ | EV_WRITE);
    stream_close(d->s);
    d->s = NULL;
    d->hs_done = false;
}
