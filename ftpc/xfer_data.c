/* The data connection of a transfer: which events it waits for, its timers (a round at once,
 * the rate limit's pause, the silence after the final reply), the byte counts, a failure, and
 * one round of work, which hands over to xfer_recv.c or xfer_send.c. */
#include "xfer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void data_cb(ev_loop *loop, int fd, int mask, void *ud);

/* What the data connection waits for now: the handshake's wants only, then reads (downloads,
 * and an upload waiting for the server's end) or writes (an upload after the server's 1xx,
 * so a refused STOR costs nothing, and while it has bytes to send). Nothing while paused by
 * the rate limit. */
static void watch(ftpc_xfer *x)
{
    if (!ftpc_dchan_is_open(&x->dc))
        return;
    if (x->paused || x->out_wait) { /* out_wait: standard output's reader is behind */
        ev_del(x->ctx->loop, x->dc.s->fd, EV_READ | EV_WRITE);
        return;
    }
    int base = 0;
    if (!x->dc.hs_done)
        base = 0;
    else if (xf_is_download(x) || x->closing)
        base = EV_READ;
    else if (x->prelim && !x->src_wait) /* not while standard input has nothing to send */
        base = EV_WRITE;
    ftpc_dchan_watch(&x->dc, base, data_cb, x);
}

long xf_kick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    xf_data_run(ud);
    return EV_TIMER_STOP;
}

long xf_tail_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    long limit = x->ctx->opts->timeout_ms;
    long long idle = ev_now(loop) - x->last_data_ms;
    if (x->finished || x->data_eof)
        return EV_TIMER_STOP;
    /* The rate limit or standard output's reader holds the data back, not the server. */
    if (x->paused || x->out_wait || idle < limit)
        return x->paused || x->out_wait ? limit : (long)(limit - idle);
    if (x->remote_size >= 0 && x->pos == (uint64_t)x->remote_size) {
        /* Everything SIZE announced is in and the server has said 226: only its close is
         * missing. */
        xf_close_data(x);
        x->data_eof = true;
        xf_maybe_complete(x);
        return EV_TIMER_STOP;
    }
    /* A part file kept is named by the runner's resume hint (jobs.c), as for any cut. */
    xf_fail(x, FTPC_EXIT_XFER, false,
            "the server's final reply came, but the data connection stayed open without data for "
            "%ld s after %" PRIu64 " bytes%s",
            limit / 1000, x->pos - x->offset, x->in_place ? xf_kept_note(x) : "");
    return EV_TIMER_STOP;
}

long xf_rate_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    x->paused = false;
    xf_data_run(x);
    return EV_TIMER_STOP;
}

/* Returns how much may move now, or 0 after pausing the data connection until it may. */
uint64_t xf_allowance(ftpc_xfer *x)
{
    uint64_t allow = ftpc_rl_allow(&x->rl, ev_now(x->ctx->loop));
    if (allow > 0)
        return allow;
    x->paused = true;
    watch(x);
    ev_timer_start(x->ctx->loop, &x->rate_timer, ftpc_rl_wait_ms(&x->rl));
    return 0;
}

/* An upload cut short is reset, not ended (dchan.h): ftpd then keeps its bytes aside, for
 * put -c, and the target is untouched. */
void xf_reset_upload_data(ftpc_xfer *x)
{
    if (!xf_is_download(x) && !x->closing)
        ftpc_dchan_reset_on_close(&x->dc);
}

/* The data connection failed (why: in words, or NULL for strerror(err)). */
void xf_data_failed(ftpc_xfer *x, int err, const char *why)
{
    xf_reset_upload_data(x); /* a TLS failure of ours leaves the socket itself intact */
    xf_close_data(x);
    x->data_errno = err ? err : EPROTO;
    snprintf(x->data_why, sizeof(x->data_why), "%s", why ? why : strerror(x->data_errno));
    /* The reason is usually on the control connection (426, 451, 552): wait for it while the
     * command is still open, else report what the socket said. */
    if (x->ctrl_done || x->c == NULL || ftpc_conn_is_ready(x->c) || ftpc_conn_is_dead(x->c)) {
        xf_fail(x, FTPC_EXIT_XFER, false, "data connection: %s", x->data_why);
        return;
    }
    ev_timer_start(x->ctx->loop, &x->reply_wait,
                   ftpc_dchan_reply_wait_ms(x->ctx->opts->timeout_ms));
}

long xf_reply_wait_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    if (!x->finished && x->data_errno != 0)
        xf_fail(x, FTPC_EXIT_XFER, false,
                "data connection: %s; the server sent no reply to %s within %ld s", x->data_why,
                x->verb, (ftpc_dchan_reply_wait_ms(x->ctx->opts->timeout_ms) + 999) / 1000);
    return EV_TIMER_STOP;
}

/* n bytes crossed the data connection. */
void xf_wire_moved(ftpc_xfer *x, size_t n)
{
    x->wire += n;
    x->last_data_ms = ev_now(x->ctx->loop);
    ftpc_rl_consume(&x->rl, n);
    if (x->bar != NULL && x->zon)
        ftpc_bar_wire(x->bar, x->wire);
    if (x->c != NULL)
        ftpc_conn_touch(x->c);
}

/* n file bytes were written or read. */
void xf_file_moved(ftpc_xfer *x, size_t n)
{
    x->pos += n;
    if (x->bar != NULL)
        ftpc_bar_update(x->bar, x->pos);
}

void xf_progress(ftpc_xfer *x, size_t n)
{
    xf_wire_moved(x, n);
    xf_file_moved(x, n);
}

/* One round of work on the data connection, from its events and the timers. */
void xf_data_run(ftpc_xfer *x)
{
    if (x->finished || !ftpc_dchan_is_open(&x->dc))
        return;
    if (!x->dc.hs_done) {
        char why[400];
        int r = ftpc_dchan_handshake(&x->dc, why, sizeof(why));
        if (r < 0) {
            char what[460];
            snprintf(what, sizeof(what), "TLS: %s", why);
            xf_data_failed(x, EPROTO, what);
            return;
        }
        if (r == 0) {
            watch(x);
            return;
        }
        if (x->ctx->opts->verbose > 1) {
            char tag[16];
            ftpc_tls_summary(&x->dc.u.tls, why, sizeof(why));
            ftpc_msg(x->ctx, "%s* data connection: %s", ftpc_conn_trace_tag(x->c, tag, sizeof(tag)),
                     why);
        }
    }
    if (x->paused)
        return;
    if (xf_is_download(x))
        xf_receive(x);
    else if (x->closing)
        xf_begin_close(x);
    else if (x->prelim)
        xf_transmit(x);
    if (x->finished || !ftpc_dchan_is_open(&x->dc))
        return;
    watch(x);
    /* Bytes TLS decrypted beyond what this round took would wait for a socket event that
     * may never come. */
    if (!x->paused && !x->out_wait && xf_is_download(x) && ftpc_dchan_pending(&x->dc) > 0)
        ev_timer_start(x->ctx->loop, &x->kick, 0);
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    xf_data_run(ud);
}

void xf_attach_data(ftpc_xfer *x, int fd)
{
    char why[400];
    if (ftpc_dchan_open(&x->dc, x->c, fd, why, sizeof(why)) < 0) {
        xf_data_failed(x, EPROTO, why);
        return;
    }
    /* The allowance starts with the data: the log-in, SIZE and the check of the bytes -c
     * keeps would otherwise fill the bucket, and the start run ahead of --limit-rate. */
    ftpc_rl_init(&x->rl, x->ctx->opts->limit_rate, ev_now(x->ctx->loop));
    /* Kernel shortcuts only where the stream passes bytes through untouched and nothing in
     * between needs to see them. */
    bool raw = !x->zon && !x->ascii;
    if (x->use_splice && (!raw || x->dc.s->ops->recvfile == NULL))
        xf_close_pipe(x);
    x->use_sendfile = x->use_sendfile && raw && x->dc.s->ops->sendfile != NULL;
    if (!x->use_sendfile)
        x->fpos = x->pos;
    if (x->use_sendfile) {
        int lowat = XFER_UPLOAD_NOTSENT_LOWAT; /* best effort: only where the send happens */
        (void)setsockopt(x->dc.s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    }
    /* The handshake (if any) starts now, from the loop. */
    ev_timer_start(x->ctx->loop, &x->kick, 0);
}
