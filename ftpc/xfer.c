/* The transfer state machine. The state says which reply is awaited; the streaming phase is
 * two flags (the final reply arrived, the data connection finished) because servers and
 * kernels deliver them in either order. */
#include "xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bars.h"
#include "ratelimit.h"

/* Large reads and writes keep the per-byte cost low; a few per wakeup keep one fast transfer
 * from starving the others on the loop. */
#define XFER_BUF_SIZE (1024 * 1024)
#define XFER_CHUNKS_PER_WAKEUP 8
#define XFER_SENDFILE_CHUNK (4 * 1024 * 1024)
#define XFER_LISTING_MAX (64 * 1024 * 1024)

typedef enum {
    XS_WAIT_CONN, /* for the connection to be ready */
    XS_SIZE,      /* SIZE before the transfer */
    XS_OPEN_DATA, /* EPSV/PASV or EPRT/PORT under way */
    XS_REST,      /* REST sent */
    XS_CMD,       /* RETR/STOR/APPE/LIST/NLST sent; streaming */
    XS_VERIFY,    /* SIZE after an upload */
    XS_DONE,
} xstate;

struct ftpc_xfer {
    ftpc_ctx *ctx;
    ftpc_task *t;
    ftpc_conn *c;
    ftpc_op_done_cb done;
    void *done_ud;
    xstate state;

    int64_t remote_size; /* -1 unknown */
    uint64_t local_size; /* put: the source's size */
    uint64_t offset;     /* where this attempt started */
    uint64_t pos;        /* offset + bytes moved */

    int file_fd;    /* get: destination, put: source; -1 when none */
    int out_fd;     /* where received data goes: file_fd or STDOUT_FILENO */
    bool in_place;  /* resuming into the final file itself (no part file) */
    bool have_part; /* writing the part file */
    char part[PATH_MAX];
    const char *verb; /* RETR, STOR, APPE, LIST, NLST */

    int data_fd;
    bool data_eof;  /* download: EOF seen; upload: all sent and closed */
    bool ctrl_done; /* final 2xx for the transfer command */
    bool prelim;    /* 1xx seen */
    int data_errno; /* the data connection failed; waiting for the server's word */
    bool use_sendfile;
    bool crlf; /* listing: turn CRLF into LF */
    bool pending_cr;

    char *iobuf;
    int pipe_r, pipe_w; /* download to a file: socket -> pipe -> file with splice(2) */
    bool use_splice;
    ftpc_ratelimit rl;
    ev_timer rate_timer;
    bool paused;

    ftpc_bar *bar;
    ftpc_defer defer;
    bool finished;
};

static const ftpc_conn_owner xfer_owner;

int ftpc_part_name(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (slash != NULL)
        n = snprintf(out, out_size, "%.*s/.%s.ftpc-part", (int)(slash - path), path, slash + 1);
    else
        n = snprintf(out, out_size, ".%s.ftpc-part", path);
    return n > 0 && (size_t)n < out_size ? 0 : -1;
}

static bool is_download(const ftpc_xfer *x)
{
    return x->t->kind != FTPC_T_PUT;
}

static const char *action(const ftpc_xfer *x)
{
    switch (x->t->kind) {
    case FTPC_T_GET:
        return "downloading";
    case FTPC_T_PUT:
        return "uploading";
    case FTPC_T_LS:
        return "listing";
    default:
        return "reading";
    }
}

static const char *bar_name(const ftpc_xfer *x)
{
    const char *p = x->t->kind == FTPC_T_PUT ? x->t->local : x->t->remote;
    const char *slash = strrchr(p, '/');
    return slash && slash[1] ? slash + 1 : p;
}

static void close_data(ftpc_xfer *x)
{
    if (x->data_fd >= 0) {
        ev_del(x->ctx->loop, x->data_fd, EV_READ | EV_WRITE);
        close(x->data_fd);
        x->data_fd = -1;
    }
    ev_timer_stop(x->ctx->loop, &x->rate_timer);
    x->paused = false;
}

static void close_pipe(ftpc_xfer *x)
{
    if (x->pipe_r >= 0)
        close(x->pipe_r);
    if (x->pipe_w >= 0)
        close(x->pipe_w);
    x->pipe_r = x->pipe_w = -1;
    x->use_splice = false;
}

static void release(ftpc_xfer *x)
{
    close_data(x);
    close_pipe(x);
    if (x->c != NULL)
        ftpc_conn_close_data(x->c);
    if (x->file_fd >= 0) {
        close(x->file_fd);
        x->file_fd = -1;
    }
    if (x->bar != NULL) {
        ftpc_bar_done(x->bar, false);
        x->bar = NULL;
    }
}

/* Ends the transfer: stores the result in the task and tells the runner. Nothing touches x
 * after done() (the runner may free it). */
static void finish(ftpc_xfer *x, int status, bool reusable)
{
    if (x->finished)
        return;
    x->finished = true;
    x->state = XS_DONE;
    release(x);
    x->t->err.status = status;
    if (status == 0)
        x->t->err.msg[0] = '\0';
    reusable = reusable && x->c != NULL && ftpc_conn_is_ready(x->c);
    x->c = NULL;
    x->done(x->done_ud, status, reusable);
}

__attribute__((format(printf, 4, 5))) static void fail(ftpc_xfer *x, int status, bool reusable,
                                                       const char *fmt, ...)
{
    char what[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ftpc_err_set(&x->t->err, status, "%s %s: %s", action(x), x->t->display, what);
    finish(x, status, reusable);
}

static void fail_reply(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m)
{
    char q[600];
    char extra[160] = "";
    if (x->data_errno != 0)
        snprintf(extra, sizeof(extra), " (data connection: %s)", strerror(x->data_errno));
    fail(x, ftpc_status_for_reply(m->code), true, "%s: the server replied %s%s", cmd,
         ftpc_quote_reply(m->code, m->text, q, sizeof(q)), extra);
}

static void succeed(ftpc_xfer *x)
{
    x->t->bytes = x->pos - x->offset;
    if (x->bar != NULL) {
        ftpc_bar_update(x->bar, x->pos);
        ftpc_bar_done(x->bar, true);
        x->bar = NULL;
    }
    finish(x, FTPC_OK, true);
}

/* ---- local output ---- */

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            /* Standard output may be a non-blocking pipe shared with another process. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (n == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* A captured listing grows in memory, up to a bound. */
static int capture_add(ftpc_xfer *x, const char *p, size_t len)
{
    ftpc_task *t = x->t;
    if (t->listing_len + len + 1 > XFER_LISTING_MAX) {
        errno = EFBIG;
        return -1;
    }
    char *n = realloc(t->listing, t->listing_len + len + 1);
    if (n == NULL)
        return -1;
    memcpy(n + t->listing_len, p, len);
    t->listing = n;
    t->listing_len += len;
    n[t->listing_len] = '\0';
    return 0;
}

static int emit(ftpc_xfer *x, const char *p, size_t len)
{
    return x->t->capture ? capture_add(x, p, len) : write_all(x->out_fd, p, len);
}

/* Listings come with CRLF line ends; a terminal and a pipe want LF. */
static int write_listing(ftpc_xfer *x, const char *p, size_t len)
{
    char out[8192];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (x->pending_cr) {
            x->pending_cr = false;
            if (ch != '\n')
                out[o++] = '\r';
        }
        if (ch == '\r') {
            x->pending_cr = true;
            continue;
        }
        out[o++] = ch;
        if (o >= sizeof(out) - 2) {
            if (emit(x, out, o) < 0)
                return -1;
            o = 0;
        }
    }
    return o > 0 ? emit(x, out, o) : 0;
}

static int sink(ftpc_xfer *x, const char *p, size_t len)
{
    int rc = x->crlf ? write_listing(x, p, len) : write_all(x->out_fd, p, len);
    if (rc == 0 && x->out_fd == STDOUT_FILENO)
        x->t->out_written += len;
    return rc;
}

/* ---- data connection ---- */

static void maybe_complete(ftpc_xfer *x);
static void data_cb(ev_loop *loop, int fd, int mask, void *ud);

static long rate_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    x->paused = false;
    if (x->data_fd >= 0)
        ev_add(loop, x->data_fd, is_download(x) ? EV_READ : EV_WRITE, data_cb, x);
    return EV_TIMER_STOP;
}

/* Returns how much may move now, or 0 after pausing the data connection until it may. */
static uint64_t allowance(ftpc_xfer *x)
{
    uint64_t allow = ftpc_rl_allow(&x->rl, ev_now(x->ctx->loop));
    if (allow > 0)
        return allow;
    ev_del(x->ctx->loop, x->data_fd, EV_READ | EV_WRITE);
    x->paused = true;
    ev_timer_start(x->ctx->loop, &x->rate_timer, ftpc_rl_wait_ms(&x->rl));
    return 0;
}

static void data_failed(ftpc_xfer *x, int err)
{
    close_data(x);
    x->data_errno = err;
    /* The reason is usually on the control connection (426, 451, 552): wait for it while the
     * command is still open, else report what the socket said. */
    if (x->ctrl_done || x->c == NULL || ftpc_conn_is_ready(x->c) || ftpc_conn_is_dead(x->c))
        fail(x, FTPC_EXIT_XFER, false, "data connection: %s", strerror(err));
}

static void progress(ftpc_xfer *x, size_t n)
{
    x->pos += n;
    ftpc_rl_consume(&x->rl, n);
    if (x->bar != NULL)
        ftpc_bar_update(x->bar, x->pos);
    if (x->c != NULL)
        ftpc_conn_touch(x->c);
}

/* Moves n bytes already in the pipe into the file. Returns 0, or -1 with errno. */
static int drain_pipe(ftpc_xfer *x, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (x->use_splice) {
            w = splice(x->pipe_r, NULL, x->out_fd, NULL, n, SPLICE_F_MOVE);
            if (w < 0 && errno == EINVAL) {
                /* This file system cannot take spliced pages: copy what is in the pipe,
                 * then stay with recv/write. */
                x->use_splice = false;
                continue;
            }
        } else {
            ssize_t r = read(x->pipe_r, x->iobuf, n < XFER_BUF_SIZE ? n : XFER_BUF_SIZE);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                if (r == 0)
                    errno = EIO;
                return -1;
            }
            if (write_all(x->out_fd, x->iobuf, (size_t)r) < 0)
                return -1;
            w = r;
        }
        if (w > 0) {
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* The splice path: the bytes go from the socket to the page cache without a trip through
 * user space. Returns 1 when the caller should fall back to recv/write (splice refused), else
 * 0. */
static int receive_splice(ftpc_xfer *x)
{
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        size_t want = XFER_BUF_SIZE;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return 0;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n =
            splice(x->data_fd, NULL, x->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            if (drain_pipe(x, (size_t)n) < 0) {
                fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s",
                     x->have_part ? x->part : x->t->local, strerror(errno));
                return 0;
            }
            progress(x, (size_t)n);
            if (!x->use_splice)
                return 1; /* the drain fell back: so does the rest */
            continue;
        }
        if (n == 0) {
            close_data(x);
            x->data_eof = true;
            maybe_complete(x);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        if (errno == EINVAL && x->pos == x->offset)
            return 1;
        data_failed(x, errno);
        return 0;
    }
    return 0;
}

static void receive(ftpc_xfer *x)
{
    if (x->use_splice) {
        if (receive_splice(x) == 0)
            return;
        close_pipe(x);
    }
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        size_t want = XFER_BUF_SIZE;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n = recv(x->data_fd, x->iobuf, want, 0);
        if (n > 0) {
            if (sink(x, x->iobuf, (size_t)n) < 0) {
                int e = errno;
                if (x->t->capture)
                    fail(x, FTPC_EXIT_LOCAL, false, "keeping the listing: %s", strerror(e));
                else if (x->out_fd == STDOUT_FILENO)
                    fail(x, FTPC_EXIT_LOCAL, false, "writing to standard output: %s", strerror(e));
                else
                    fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s",
                         x->have_part ? x->part : x->t->local, strerror(e));
                return;
            }
            progress(x, (size_t)n);
            continue;
        }
        if (n == 0) {
            close_data(x);
            x->data_eof = true;
            maybe_complete(x);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return;
        data_failed(x, errno);
        return;
    }
}

static void send_done(ftpc_xfer *x)
{
    /* Closing is the end-of-file mark in stream mode. */
    close_data(x);
    x->data_eof = true;
    maybe_complete(x);
}

static void transmit(ftpc_xfer *x)
{
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        if (x->pos >= x->local_size) {
            send_done(x);
            return;
        }
        uint64_t left = x->local_size - x->pos;
        size_t want = left < XFER_SENDFILE_CHUNK ? (size_t)left : XFER_SENDFILE_CHUNK;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n;
        if (x->use_sendfile) {
            off_t off = (off_t)x->pos;
            n = sendfile(x->data_fd, x->file_fd, &off, want);
            if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
                x->use_sendfile = false;
                continue;
            }
        } else {
            if (want > XFER_BUF_SIZE)
                want = XFER_BUF_SIZE;
            ssize_t r = pread(x->file_fd, x->iobuf, want, (off_t)x->pos);
            if (r < 0) {
                fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", x->t->local, strerror(errno));
                return;
            }
            if (r == 0) {
                n = 0;
            } else {
                /* A short send leaves the rest in the file; it is read again next time. */
                n = send(x->data_fd, x->iobuf, (size_t)r, MSG_NOSIGNAL);
            }
        }
        if (n > 0) {
            progress(x, (size_t)n);
            continue;
        }
        if (n == 0) {
            fail(x, FTPC_EXIT_LOCAL, false, "%s shrank while being uploaded", x->t->local);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return;
        if (x->use_sendfile && errno == EIO) {
            fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", x->t->local, strerror(errno));
            return;
        }
        data_failed(x, errno);
        return;
    }
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_xfer *x = ud;
    if (is_download(x))
        receive(x);
    else
        transmit(x);
}

static void attach_data(ftpc_xfer *x, int fd)
{
    x->data_fd = fd;
    /* An upload waits for the server's 150 before sending, so a refused STOR costs nothing. */
    if (is_download(x))
        ev_add(x->ctx->loop, fd, EV_READ, data_cb, x);
    else if (x->prelim)
        ev_add(x->ctx->loop, fd, EV_WRITE, data_cb, x);
}

/* ---- the command sequence ---- */

static void send_transfer_cmd(ftpc_xfer *x)
{
    const ftpc_task *t = x->t;
    int rc;
    bool listing = t->kind == FTPC_T_LS;
    if (t->remote[0] == '\0' && listing)
        rc = ftpc_conn_send(x->c, "%s", x->verb);
    else
        rc = ftpc_conn_send(x->c, "%s %s", x->verb, t->remote);
    if (rc < 0) {
        fail(x, FTPC_EXIT_XFER, false, "cannot send %s", x->verb);
        return;
    }
    x->state = XS_CMD;
    int fd = ftpc_conn_take_data(x->c);
    if (fd >= 0)
        attach_data(x, fd);
}

static void open_data(ftpc_xfer *x)
{
    x->state = XS_OPEN_DATA;
    ftpc_conn_open_data(x->c);
}

static void start_bar(ftpc_xfer *x, int64_t total)
{
    if (x->ctx->bars != NULL && (x->t->kind == FTPC_T_GET || x->t->kind == FTPC_T_PUT) &&
        x->out_fd != STDOUT_FILENO)
        x->bar = ftpc_bar_start(x->ctx->bars, bar_name(x), total, x->offset);
}

static int open_local(ftpc_xfer *x, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0666);
    if (fd < 0)
        fail(x, FTPC_EXIT_LOCAL, false, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

static void setup_splice(ftpc_xfer *x)
{
    int p[2];
    if (getenv("FTPC_NO_SPLICE") != NULL || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return;
    /* A larger pipe means fewer system calls per megabyte; the default 64 KiB still works. */
    fcntl(p[1], F_SETPIPE_SZ, XFER_BUF_SIZE);
    x->pipe_r = p[0];
    x->pipe_w = p[1];
    x->use_splice = true;
}

/* Download: choose where to write and from which offset, then open the data connection. */
static void begin_get(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (t->kind != FTPC_T_GET || strcmp(t->local, "-") == 0) {
        x->out_fd = STDOUT_FILENO;
        /* A retry continues after what the earlier attempts already wrote: the bytes on
         * standard output cannot be taken back. */
        if (t->kind != FTPC_T_LS)
            x->offset = x->pos = t->out_written;
        x->crlf = t->kind == FTPC_T_LS;
        x->verb = t->kind == FTPC_T_LS ? (t->long_list ? "LIST" : "NLST") : "RETR";
        if (t->capture) {
            /* Every attempt lists afresh. */
            x->out_fd = -1;
            t->listing_len = 0;
            t->listing_mlsd = (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0;
            if (t->listing_mlsd)
                x->verb = "MLSD";
        }
        start_bar(x, x->remote_size);
        open_data(x);
        return;
    }
    x->verb = "RETR";
    if (ftpc_part_name(t->local, x->part, sizeof(x->part)) < 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "local file name too long");
        return;
    }
    /* Every retry resumes; -c resumes the first attempt too. */
    bool resume = x->ctx->opts->resume || t->attempts > 1;
    struct stat st;
    x->offset = 0;
    if (stat(t->local, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* A device or a FIFO (-o /dev/null): written directly, no part file, no resume. */
        x->file_fd = open_local(x, t->local, O_WRONLY);
        if (x->file_fd < 0)
            return;
        x->out_fd = x->file_fd;
        start_bar(x, x->remote_size);
        open_data(x);
        return;
    }
    if (resume && stat(x->part, &st) == 0 && S_ISREG(st.st_mode)) {
        x->have_part = true;
        x->offset = (uint64_t)st.st_size;
    } else if (x->ctx->opts->resume && stat(t->local, &st) == 0 && S_ISREG(st.st_mode)) {
        x->in_place = true;
        x->offset = (uint64_t)st.st_size;
    } else {
        x->have_part = true;
    }
    const char *path = x->in_place ? t->local : x->part;
    if (x->remote_size >= 0 && x->offset > (uint64_t)x->remote_size) {
        /* Larger than the remote file: not a prefix of it, so start over. */
        x->offset = 0;
    }
    int flags = O_WRONLY | O_CREAT | (x->offset == 0 ? O_TRUNC : 0);
    x->file_fd = open_local(x, path, flags);
    if (x->file_fd < 0)
        return;
    x->out_fd = x->file_fd;
    setup_splice(x);
    if (lseek(x->file_fd, (off_t)x->offset, SEEK_SET) < 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "seeking in %s: %s", path, strerror(errno));
        return;
    }
    x->pos = x->offset;
    if (x->remote_size >= 0 && x->offset == (uint64_t)x->remote_size && x->offset > 0) {
        /* Already complete: nothing to fetch. */
        x->data_eof = x->ctrl_done = true;
        maybe_complete(x);
        return;
    }
    start_bar(x, x->remote_size);
    open_data(x);
}

static void begin_put(ftpc_xfer *x)
{
    if (x->remote_size >= 0 && (uint64_t)x->remote_size == x->local_size && x->local_size > 0) {
        x->offset = x->pos = x->local_size;
        x->data_eof = x->ctrl_done = true;
        maybe_complete(x);
        return;
    }
    if (x->remote_size > 0 && (uint64_t)x->remote_size < x->local_size)
        x->offset = (uint64_t)x->remote_size;
    else
        x->offset = 0;
    x->pos = x->offset;
    x->verb = "STOR";
    start_bar(x, (int64_t)x->local_size);
    open_data(x);
}

static void after_size(ftpc_xfer *x)
{
    if (x->t->kind == FTPC_T_PUT)
        begin_put(x);
    else
        begin_get(x);
}

static void conn_ready(ftpc_conn *c, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->state != XS_WAIT_CONN)
        return;
    ftpc_task *t = x->t;
    unsigned feat = ftpc_conn_features(c);
    bool size_ok = (feat & FTPC_FEAT_SIZE) || !(feat & FTPC_FEAT_ANSWERED);
    x->remote_size = -1;
    if (t->kind == FTPC_T_PUT) {
        struct stat st;
        if (x->file_fd < 0) {
            finish(x, FTPC_EXIT_LOCAL, true); /* the message was set by ftpc_xfer_start */
            return;
        }
        if (fstat(x->file_fd, &st) < 0) {
            fail(x, FTPC_EXIT_LOCAL, false, "%s: %s", t->local, strerror(errno));
            return;
        }
        if (!S_ISREG(st.st_mode)) {
            fail(x, FTPC_EXIT_LOCAL, true, "%s is not a regular file", t->local);
            return;
        }
        x->local_size = (uint64_t)st.st_size;
        x->use_sendfile = true;
        bool resume = x->ctx->opts->resume || t->attempts > 1;
        if (resume && size_ok) {
            x->state = XS_SIZE;
            ftpc_conn_send(c, "SIZE %s", t->remote);
            return;
        }
        begin_put(x);
        return;
    }
    if ((t->kind == FTPC_T_GET || t->kind == FTPC_T_CAT) && size_ok) {
        x->state = XS_SIZE;
        ftpc_conn_send(c, "SIZE %s", t->remote);
        return;
    }
    begin_get(x);
}

static int64_t parse_size(const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno != 0 || v > (unsigned long long)INT64_MAX)
        return -1;
    return (int64_t)v;
}

static void maybe_complete(ftpc_xfer *x)
{
    if (!x->data_eof || !x->ctrl_done || x->finished)
        return;
    ftpc_task *t = x->t;
    if (t->kind == FTPC_T_PUT) {
        unsigned feat = ftpc_conn_features(x->c);
        if ((feat & FTPC_FEAT_SIZE) && x->pos > x->offset) {
            x->state = XS_VERIFY;
            ftpc_conn_send(x->c, "SIZE %s", t->remote);
            return;
        }
        succeed(x);
        return;
    }
    if (x->remote_size >= 0 && x->pos != (uint64_t)x->remote_size && t->kind != FTPC_T_LS) {
        fail(x, FTPC_EXIT_VERIFY, true,
             "size mismatch: received %" PRIu64 " bytes of %" PRId64 " (the partial file is kept)",
             x->pos, x->remote_size);
        return;
    }
    if (x->file_fd >= 0) {
        int rc = close(x->file_fd);
        x->file_fd = -1;
        if (rc < 0) {
            fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s", x->have_part ? x->part : t->local,
                 strerror(errno));
            return;
        }
        if (x->have_part && rename(x->part, t->local) < 0) {
            fail(x, FTPC_EXIT_LOCAL, true, "renaming %s to %s: %s", x->part, t->local,
                 strerror(errno));
            return;
        }
    }
    succeed(x);
}

static void conn_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_xfer *x = ud;
    ftpc_task *t = x->t;
    int code = m->code;
    switch (x->state) {
    case XS_SIZE:
        if (code < 200)
            return;
        if (code == 213) {
            x->remote_size = parse_size(m->text);
        } else if (code == 550 && t->kind != FTPC_T_PUT) {
            /* No such file (or not a plain file): RETR would say the same. */
            fail_reply(x, "SIZE", m);
            return;
        } else {
            x->remote_size = t->kind == FTPC_T_PUT && code == 550 ? 0 : -1;
        }
        after_size(x);
        return;
    case XS_REST:
        if (code < 200)
            return;
        if (code != 350) {
            if (x->out_fd == STDOUT_FILENO) {
                fail_reply(x, "REST (to continue standard output)", m);
                return;
            }
            if (t->kind == FTPC_T_PUT) {
                /* No REST for STOR here: APPE appends at the remote end, which is where the
                 * upload resumes (SIZE said so). */
                x->verb = "APPE";
            } else {
                /* Cannot resume: fetch it all again. */
                x->offset = x->pos = 0;
                if (ftruncate(x->file_fd, 0) < 0 || lseek(x->file_fd, 0, SEEK_SET) < 0) {
                    fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s",
                         x->in_place ? t->local : x->part, strerror(errno));
                    return;
                }
                if (x->bar != NULL)
                    ftpc_bar_restart(x->bar, 0);
            }
        }
        send_transfer_cmd(x);
        return;
    case XS_CMD:
        if (code < 200) {
            x->prelim = true;
            if (!is_download(x) && x->data_fd >= 0 && !x->paused)
                ev_add(x->ctx->loop, x->data_fd, EV_WRITE, data_cb, x);
            return;
        }
        if (code >= 300) {
            close_data(x);
            ftpc_conn_close_data(c);
            fail_reply(x, x->verb, m);
            return;
        }
        if (x->data_errno != 0) {
            fail(x, FTPC_EXIT_XFER, true, "data connection: %s", strerror(x->data_errno));
            return;
        }
        x->ctrl_done = true;
        if (!is_download(x) && !x->data_eof) {
            /* 226 before everything was sent: the server stopped reading. */
            fail(x, FTPC_EXIT_XFER, true, "%s: the server ended the transfer early", x->verb);
            return;
        }
        maybe_complete(x);
        return;
    case XS_VERIFY:
        if (code < 200)
            return;
        if (code == 213) {
            int64_t n = parse_size(m->text);
            if (n >= 0 && (uint64_t)n != x->local_size) {
                fail(x, FTPC_EXIT_VERIFY, true,
                     "size mismatch: the server has %" PRId64 " bytes, %s has %" PRIu64, n,
                     t->local, x->local_size);
                return;
            }
        }
        succeed(x);
        return;
    default:
        fail(x, FTPC_EXIT_XFER, false, "unexpected reply %03d", code);
        return;
    }
}

static void conn_data_prepared(ftpc_conn *c, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->state != XS_OPEN_DATA)
        return;
    if (x->offset > 0) {
        x->state = XS_REST;
        ftpc_conn_send(c, "REST %" PRIu64, x->offset);
        return;
    }
    send_transfer_cmd(x);
}

static void conn_data_open(ftpc_conn *c, int fd, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->finished || x->data_fd >= 0) {
        close(fd);
        return;
    }
    attach_data(x, fd);
}

static void conn_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_xfer *x = ud;
    int status = err->status;
    /* A connection lost mid-transfer is an interrupted transfer whatever the phase. */
    if (x->state >= XS_OPEN_DATA && status == FTPC_EXIT_CONNECT)
        status = FTPC_EXIT_XFER;
    fail(x, status, false, "%s", err->msg);
}

static const ftpc_conn_owner xfer_owner = {
    .ready = conn_ready,
    .reply = conn_reply,
    .data_prepared = conn_data_prepared,
    .data_open = conn_data_open,
    .failed = conn_failed,
};

ftpc_xfer *ftpc_xfer_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud)
{
    ftpc_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->iobuf = malloc(XFER_BUF_SIZE);
    if (x->iobuf == NULL) {
        free(x);
        return NULL;
    }
    x->ctx = ctx;
    x->t = t;
    x->done = done;
    x->done_ud = ud;
    x->file_fd = -1;
    x->out_fd = -1;
    x->data_fd = -1;
    x->pipe_r = x->pipe_w = -1;
    x->remote_size = -1;
    x->state = XS_WAIT_CONN;
    ftpc_rl_init(&x->rl, ctx->opts->limit_rate, ev_now(ctx->loop));
    ev_timer_init(&x->rate_timer, rate_cb, x);
    return x;
}

void ftpc_xfer_start(ftpc_xfer *x, ftpc_conn *c)
{
    x->c = c;
    if (x->t->kind == FTPC_T_PUT) {
        x->file_fd = open(x->t->local, O_RDONLY | O_CLOEXEC);
        if (x->file_fd < 0) {
            /* Reported from the loop, like every other result. */
            ftpc_err_set(&x->t->err, FTPC_EXIT_LOCAL, "uploading %s: cannot open %s: %s",
                         x->t->display, x->t->local, strerror(errno));
        }
    }
    ftpc_conn_set_owner(c, &xfer_owner, x);
}

static void xfer_release(void *p)
{
    ftpc_xfer *x = p;
    free(x->iobuf);
    free(x);
}

void ftpc_xfer_free(ftpc_xfer *x)
{
    if (x == NULL || x->defer.queued)
        return;
    x->finished = true;
    release(x);
    ftpc_ctx_defer(x->ctx, &x->defer, xfer_release, x);
}
