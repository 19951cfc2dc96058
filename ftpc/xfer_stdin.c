/* An upload from standard input (ftpc put - URL): its set-up, its reads, the wait for a
 * producer that has nothing yet, and the digest --verify compares afterwards.
 *
 * The input is read once, as it comes (stdsrc.h), through the buffered upload path of
 * xfer_send.c, so TYPE A, MODE Z, TLS and --limit-rate apply as they do to a file; sendfile
 * cannot (there may be no file). Its length is known at its end: the size check after the
 * upload compares the server's SIZE with the bytes read. */
#include "xfer_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stdsrc.h"

/* While the producer is silent the server is not the one being slow: the control
 * connection's inactivity timeout (--timeout) is kept away at this period. */
static long keepalive_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    if (!x->src_wait || x->c == NULL)
        return EV_TIMER_STOP;
    ftpc_conn_touch(x->c);
    return x->ctx->opts->timeout_ms / 2;
}

void xf_stdin_init(ftpc_xfer *x)
{
    ev_timer_init(&x->src_timer, keepalive_cb, x);
}

void xf_begin_stdin(ftpc_xfer *x)
{
    struct stat st;
    if (fstat(x->file_fd, &st) < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "%s: %s", ftpc_task_src_name(x->t), strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        xf_fail(x, FTPC_EXIT_LOCAL, true, "%s is a directory", ftpc_task_src_name(x->t));
        return;
    }
    x->stream_src = true;
    x->src_total = ftpc_stdsrc_left(x->file_fd);
    x->local_size = 0; /* known at the end */
    x->use_sendfile = false;
    /* Nothing will be there to read back afterwards: the digest is taken on the way. A
     * second begin (the target turned out to be a directory) starts it afresh. */
    if (x->src_hashing)
        digest_free(&x->src_digest);
    x->src_hashing =
        ftpc_verify_wanted(x->ctx, x->t) && digest_init(&x->src_digest, DIGEST_SHA256) == 0;
    xf_begin_put(x);
}

/* The end of the input: its length, for the size check, and its digest, for --verify. */
static void input_ended(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    x->src_eof = true;
    x->local_size = x->fpos;
    t->src_len = x->fpos;
    if (x->src_hashing) {
        x->src_hashing = false;
        char hex[DIGEST_HEX_MAX];
        t->src_digest = digest_final_hex(&x->src_digest, hex) == 0 &&
                        ftpc_task_set(&t->src_sha256, hex) != NULL;
    }
}

ssize_t xf_read_stdin(ftpc_xfer *x, char *into, size_t cap)
{
    ssize_t r = ftpc_stdsrc_read(x->file_fd, into, cap, x->src_block);
    if (r < 0 && errno == EAGAIN)
        return -2;
    if (r < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false,
                "reading %s: %s (the upload was abandoned, not completed)",
                ftpc_task_src_name(x->t), strerror(errno));
        return -1;
    }
    /* From here on a retry could not send these bytes again. */
    x->t->src_read = true;
    if (r == 0) {
        input_ended(x);
        return 0;
    }
    if (x->src_hashing && digest_update(&x->src_digest, into, (size_t)r) < 0) {
        digest_free(&x->src_digest);
        x->src_hashing = false;
    }
    return r;
}

static void readable_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_xfer *x = ud;
    ev_del(loop, fd, EV_READ);
    ev_timer_stop(loop, &x->src_timer);
    x->src_wait = false;
    if (x->c != NULL)
        ftpc_conn_touch(x->c);
    xf_data_run(x);
}

void xf_wait_stdin(ftpc_xfer *x)
{
    if (ev_add(x->ctx->loop, x->file_fd, EV_READ, readable_cb, x) < 0) {
        /* The loop cannot watch this fd: read it blocking from now on. It polled empty, so
         * this is no regular file; the wait is the producer's pace. */
        x->src_block = true;
        ev_timer_start(x->ctx->loop, &x->kick, 0);
        return;
    }
    x->src_wait = true;
    ev_timer_start(x->ctx->loop, &x->src_timer, x->ctx->opts->timeout_ms / 2);
}

void xf_stdin_release(ftpc_xfer *x)
{
    if (x->src_wait) {
        ev_del(x->ctx->loop, x->file_fd, EV_READ);
        x->src_wait = false;
    }
    ev_timer_stop(x->ctx->loop, &x->src_timer);
    if (x->src_hashing) {
        digest_free(&x->src_digest);
        x->src_hashing = false;
    }
}
