/* The transfer state machine. The state says which reply is awaited; the streaming phase is
 * two flags (the final reply arrived, the data connection finished) because servers and
 * kernels deliver them in either order.
 *
 * The data path is layered: the data connection is a stream (plain or TLS, dchan.h); under
 * MODE Z a deflate codec sits between it and the file (mz.h); under TYPE A the line ends are
 * converted (ascii.h). sendfile and splice are used where the stream offers them and no layer
 * needs to see the bytes. x->pos counts file bytes (what the bar shows and SIZE compares),
 * x->wire the bytes on the data connection. */
#include "xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ascii.h"
#include "bars.h"
#include "dchan.h"
#include "digest.h"
#include "dirprobe.h"
#include "dotnames.h"
#include "fsops.h"
#include "mz.h"
#include "ratelimit.h"
#include "verify.h"

/* Large reads and writes keep the per-byte cost low; a few per wakeup keep one fast transfer
 * from starving the others on the loop. */
#define XFER_BUF_SIZE (1024 * 1024)
#define XFER_CHUNKS_PER_WAKEUP 8
/* Uploads: each sendfile call ends by pushing its segments out, so calls of 64 KiB, with at
 * most 128 KiB queued unsent (TCP_NOTSENT_LOWAT), send the file from ftpc's own CPU. With
 * 4 MiB calls the unsent queue grew to megabytes that the server's ACKs pushed out, on the
 * server's CPU: a 1 GiB put to ftpd on loopback ran at 1699 MiB/s against 1964 (medians of
 * 7, faster in all 7 pairs; curl 1932); against pure-ftpd, 1563 against 1582. */
#define XFER_SENDFILE_CHUNK (64 * 1024)
#define XFER_UPLOAD_NOTSENT_LOWAT (128 * 1024)
#define XFER_LISTING_MAX (64 * 1024 * 1024)
/* Bounds one wakeup's work when reads are small (TLS returns one 16 KiB record a call). */
#define XFER_READS_PER_WAKEUP 64
#define XFER_ZBUF_SIZE (256 * 1024)

typedef enum {
    XS_WAIT_CONN, /* for the connection to be ready */
    XS_TYPE,      /* TYPE A or TYPE I sent (-a, or the shell's ascii/binary) */
    XS_SIZE,      /* SIZE before the transfer */
    XS_PREFIX,    /* -c: HASH over RANG of the bytes already there (check_prefix) */
    XS_OPEN_DATA, /* EPSV/PASV or EPRT/PORT under way */
    XS_REST,      /* REST sent */
    XS_CMD,       /* RETR/STOR/APPE/LIST/NLST sent; streaming */
    XS_DIRCHECK,  /* MLST of a put's target that the server refused: a directory? */
    XS_DIRPROBE,  /* CWD into a get's name that SIZE or RETR refused: a directory? */
    XS_VERIFY,    /* SIZE after an upload */
    XS_MFMT,      /* MFMT after an upload (keep_mtime) */
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
    uint64_t pos;        /* offset + file bytes moved (after MODE Z, before TYPE A) */

    int file_fd;    /* get: destination, put: source; -1 when none */
    int out_fd;     /* where received data goes: file_fd or STDOUT_FILENO */
    bool in_place;  /* resuming into the final file itself (no part file) */
    bool have_part; /* writing the part file */
    bool part_ours; /* ... locked and set up by this transfer */
    char part[PATH_MAX];
    const char *verb; /* RETR, STOR, APPE, LIST, NLST */

    ftpc_dchan dc;      /* the data connection */
    bool data_eof;      /* download: EOF seen; upload: all sent and closed */
    bool ctrl_done;     /* final 2xx for the transfer command */
    bool prelim;        /* 1xx seen */
    int data_errno;     /* the data connection failed; waiting for the server's word */
    char data_why[400]; /* ... and why, in words */
    bool use_sendfile;
    bool crlf;   /* listing or TYPE A download: turn CRLF into LF */
    bool shield; /* a listing shown on a terminal: its control characters become '?' */
    bool pending_cr;
    bool dotless; /* ls without -l: "." and ".." are left out (dotnames.h) */
    ftpc_dotnames dots;
    bool ascii;       /* TYPE A: line ends converted both ways */
    bool closing;     /* upload: everything sent; reading until the server closes */
    bool shut;        /* ... and our end (close_notify, FIN) is out */
    uint64_t wire;    /* bytes moved on the data connection */
    size_t retry_len; /* a TLS write that must be retried with at least this much */
    ev_timer kick;    /* zero delay: bytes TLS holds, or a handshake to start */
    /* After the final reply nothing waits on the control connection, so this times out a
     * data connection that stays open without data (the server's word came first). */
    ev_timer tail_timer;
    long long last_data_ms;

    /* MODE Z: the codec, and wire bytes waiting to be sent (upload) or file bytes made
     * (download) in zbuf; an upload's file bytes waiting for the codec in iobuf. */
    mz z;
    bool zon, zinit;
    bool src_eof;  /* upload: the file has been read to its end */
    uint64_t fpos; /* upload: where the next file read starts */
    char *zbuf;    /* XFER_ZBUF_SIZE: MODE Z or TYPE A, and uploads not sent by sendfile */
    char *abuf;    /* TYPE A conversions: XFER_BUF_SIZE * 2 + 1 */
    size_t zoff, zlen;
    size_t in_off, in_len;

    char *iobuf;
    int pipe_r, pipe_w; /* download to a file: socket -> pipe -> file with splice(2) */
    bool use_splice;
    ftpc_ratelimit rl;
    ev_timer rate_timer;
    bool paused;

    ftpc_bar *bar;
    ftpc_defer defer;
    bool finished;

    ftpc_rcheck *prefix; /* the check of the bytes -c would keep */
    bool prefix_checked; /* ... done (or not possible) */
    bool prefix_differs; /* ... and they are not the server's: start over */
    bool resume_refused; /* the server refused a resumed upload; it is being sent whole */
    bool dir_checked;    /* a refused put's target was checked for being a directory */
    int refusal_code;    /* ... and the refusal, for the message if it is not one */
    char refusal[600];
    const char *refused_cmd; /* a get's SIZE or RETR, refused: the probe's subject */
    ftpc_dirprobe probe;
};

static const ftpc_conn_owner xfer_owner;

void ftpc_task_end_bar(ftpc_task *t, struct ftpc_bar *bar)
{
    if (t->hold_bar) { /* its check follows: the line ends with the outcome */
        ftpc_bar_checking(bar);
        t->held_bar = bar;
    } else {
        ftpc_bar_done(bar, true);
    }
}

/* Bytes of a long name kept in its part file's name; the digest after them tells apart names
 * that share their start. */
#define PART_NAME_KEEP 200

int ftpc_part_name(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    size_t blen = strlen(base);
    int n;
    if (1 + blen + strlen(".ftpc-part") <= NAME_MAX) {
        n = snprintf(out, out_size, "%.*s.%s.ftpc-part", dir_len, path, base);
    } else {
        /* ".NAME.ftpc-part" would pass NAME_MAX: the start of the name (cut between UTF-8
         * characters) and a digest of all of it, the same on every run so -c finds it. */
        size_t keep = PART_NAME_KEEP;
        while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
            keep--;
        char hex[DIGEST_HEX_MAX];
        digest d;
        if (digest_init(&d, DIGEST_SHA256) < 0)
            return -1;
        if (digest_update(&d, base, blen) < 0 || digest_final_hex(&d, hex) < 0) {
            digest_free(&d);
            return -1;
        }
        n = snprintf(out, out_size, "%.*s.%.*s~%.16s.ftpc-part", dir_len, path, (int)keep, base,
                     hex);
    }
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
    return ftpc_task_name(x->t);
}

static void close_data(ftpc_xfer *x)
{
    ftpc_dchan_close(&x->dc);
    ev_timer_stop(x->ctx->loop, &x->rate_timer);
    ev_timer_stop(x->ctx->loop, &x->kick);
    ev_timer_stop(x->ctx->loop, &x->tail_timer);
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
    if (x->prefix != NULL) {
        ftpc_rcheck_free(x->prefix);
        x->prefix = NULL;
    }
    close_data(x);
    close_pipe(x);
    if (x->c != NULL)
        ftpc_conn_close_data(x->c);
    if (x->file_fd >= 0) {
        close(x->file_fd);
        x->file_fd = -1;
        /* A part file that never got a byte keeps nothing worth resuming. */
        if (x->part_ours && x->pos == 0)
            (void)unlink(x->part);
    }
    if (x->bar != NULL) {
        ftpc_bar_done(x->bar, false);
        x->bar = NULL;
    }
    if (x->zinit) {
        mz_end(&x->z);
        x->zinit = false;
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

/* vsftpd answers a listing of a directory it cannot open (missing or unreadable) with
 * "226 Transfer done (but failed to open directory)." and no entries: a success in form only. */
static bool listing_failed_in_2xx(const ftpc_xfer *x, const ftp_reply_msg *m)
{
    return x->t->kind == FTPC_T_LS && x->pos == 0 &&
           strcasestr(m->text, "failed to open directory") != NULL;
}

static void fail_reply(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m)
{
    char q[600];
    char extra[460] = "";
    if (x->data_errno != 0)
        snprintf(extra, sizeof(extra), " (data connection: %s)", x->data_why);
    fail(x, ftpc_status_for_reply(m->code), true, "%s: the server replied %s%s", cmd,
         ftpc_quote_reply(m->code, m->text, q, sizeof(q)), extra);
}

/* What a failed download leaves behind, for its message. */
static const char *kept_note(const ftpc_xfer *x)
{
    if (x->in_place)
        return " (the file keeps what arrived)";
    return x->have_part && x->pos > 0 ? " (the partial file is kept)" : "";
}

static void succeed(ftpc_xfer *x)
{
    x->t->bytes = x->pos - x->offset;
    if (x->bar != NULL) {
        ftpc_bar_update(x->bar, x->pos);
        if (x->zon)
            ftpc_bar_wire(x->bar, x->wire);
        ftpc_task_end_bar(x->t, x->bar);
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

static int emit_cb(void *ud, const char *p, size_t len)
{
    return emit(ud, p, len);
}

/* Text after its line ends are converted. */
static int emit_text(ftpc_xfer *x, const char *p, size_t len)
{
    return x->dotless ? ftpc_dotnames_feed(&x->dots, p, len, emit_cb, x) : emit(x, p, len);
}

/* Listings and TYPE A downloads come with CRLF line ends; a terminal, a pipe and a Unix file
 * want LF. */
static int write_crlf(ftpc_xfer *x, const char *p, size_t len)
{
    while (len > 0) {
        size_t chunk = len < XFER_BUF_SIZE ? len : XFER_BUF_SIZE;
        size_t o = ftpc_ascii_from_wire(&x->pending_cr, p, chunk, x->abuf);
        if (x->shield)
            for (size_t i = 0; i < o; i++) {
                unsigned char c = (unsigned char)x->abuf[i];
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    x->abuf[i] = '?'; /* a server's name must not drive the terminal */
            }
        if (o > 0 && emit_text(x, x->abuf, o) < 0)
            return -1;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

static int sink(ftpc_xfer *x, const char *p, size_t len)
{
    int rc = x->crlf ? write_crlf(x, p, len) : emit(x, p, len);
    if (rc == 0 && x->out_fd == STDOUT_FILENO)
        x->t->out_written += len;
    return rc;
}

static void sink_failed(ftpc_xfer *x)
{
    int e = errno;
    if (x->t->capture && e == EFBIG) {
        fail(x, FTPC_EXIT_REMOTE, false, "the listing is longer than the %d MiB ftpc keeps",
             XFER_LISTING_MAX / (1024 * 1024));
    } else if (x->t->capture) {
        fail(x, FTPC_EXIT_LOCAL, false, "keeping the listing: %s", strerror(e));
    } else if (x->out_fd == STDOUT_FILENO && e == EPIPE) {
        /* The reader left (ftpc cat f | head): end as cat does, by the signal the socket
         * writes ignore, without a word. Standard output has no part file to keep. */
        ftpc_bars_erase(x->ctx->bars);
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
        fail(x, FTPC_EXIT_LOCAL, false, "writing to standard output: %s", strerror(e));
    } else if (x->out_fd == STDOUT_FILENO)
        fail(x, FTPC_EXIT_LOCAL, false, "writing to standard output: %s", strerror(e));
    else
        fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s", x->have_part ? x->part : x->t->local,
             strerror(e));
}

/* ---- data connection ---- */

static void maybe_complete(ftpc_xfer *x);
static void data_cb(ev_loop *loop, int fd, int mask, void *ud);
static void data_run(ftpc_xfer *x);

/* What the data connection waits for now: the handshake's wants only, then reads (downloads,
 * and an upload waiting for the server's end) or writes (an upload after the server's 1xx,
 * so a refused STOR costs nothing). Nothing while paused by the rate limit. */
static void watch(ftpc_xfer *x)
{
    if (!ftpc_dchan_is_open(&x->dc))
        return;
    if (x->paused) {
        ev_del(x->ctx->loop, x->dc.s->fd, EV_READ | EV_WRITE);
        return;
    }
    int base = 0;
    if (!x->dc.hs_done)
        base = 0;
    else if (is_download(x) || x->closing)
        base = EV_READ;
    else if (x->prelim)
        base = EV_WRITE;
    ftpc_dchan_watch(&x->dc, base, data_cb, x);
}

static long kick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    data_run(ud);
    return EV_TIMER_STOP;
}

static long tail_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    long limit = x->ctx->opts->timeout_ms;
    long long idle = ev_now(loop) - x->last_data_ms;
    if (x->finished || x->data_eof)
        return EV_TIMER_STOP;
    if (x->paused || idle < limit) /* the rate limit holds the data back, not the server */
        return x->paused ? limit : (long)(limit - idle);
    if (x->remote_size >= 0 && x->pos == (uint64_t)x->remote_size) {
        /* Everything SIZE announced is in and the server has said 226: only its close is
         * missing. */
        close_data(x);
        x->data_eof = true;
        maybe_complete(x);
        return EV_TIMER_STOP;
    }
    /* A part file kept is named by the runner's resume hint (jobs.c), as for any cut. */
    fail(x, FTPC_EXIT_XFER, false,
         "the server's final reply came, but the data connection stayed open without data for "
         "%ld s after %" PRIu64 " bytes%s",
         limit / 1000, x->pos - x->offset, x->in_place ? kept_note(x) : "");
    return EV_TIMER_STOP;
}

static long rate_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    x->paused = false;
    data_run(x);
    return EV_TIMER_STOP;
}

/* Returns how much may move now, or 0 after pausing the data connection until it may. */
static uint64_t allowance(ftpc_xfer *x)
{
    uint64_t allow = ftpc_rl_allow(&x->rl, ev_now(x->ctx->loop));
    if (allow > 0)
        return allow;
    x->paused = true;
    watch(x);
    ev_timer_start(x->ctx->loop, &x->rate_timer, ftpc_rl_wait_ms(&x->rl));
    return 0;
}

/* The data connection failed (why: in words, or NULL for strerror(err)). */
static void data_failed(ftpc_xfer *x, int err, const char *why)
{
    close_data(x);
    x->data_errno = err ? err : EPROTO;
    snprintf(x->data_why, sizeof(x->data_why), "%s", why ? why : strerror(x->data_errno));
    /* The reason is usually on the control connection (426, 451, 552): wait for it while the
     * command is still open, else report what the socket said. */
    if (x->ctrl_done || x->c == NULL || ftpc_conn_is_ready(x->c) || ftpc_conn_is_dead(x->c))
        fail(x, FTPC_EXIT_XFER, false, "data connection: %s", x->data_why);
}

/* n bytes crossed the data connection. */
static void wire_moved(ftpc_xfer *x, size_t n)
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
static void file_moved(ftpc_xfer *x, size_t n)
{
    x->pos += n;
    if (x->bar != NULL)
        ftpc_bar_update(x->bar, x->pos);
}

static void progress(ftpc_xfer *x, size_t n)
{
    wire_moved(x, n);
    file_moved(x, n);
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

/* The end of the data: what the codec and the line-end conversion still hold, then done. */
static void receive_end(ftpc_xfer *x)
{
    /* The server ended its side (under TLS with close_notify): answer in kind, once, without
     * waiting, then close. */
    if (ftpc_dchan_is_open(&x->dc))
        stream_shutdown(x->dc.s);
    close_data(x);
    if (x->zon && !mz_ended(&x->z) && x->wire > 0) {
        for (;;) {
            size_t prod = 0;
            int rc = mz_finish(&x->z, x->zbuf, XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                fail(x, FTPC_EXIT_XFER, true, "the compressed data (MODE Z) ended early: %s",
                     mz_error(&x->z));
                return;
            }
            if (prod > 0) {
                file_moved(x, prod);
                if (sink(x, x->zbuf, prod) < 0) {
                    sink_failed(x);
                    return;
                }
            }
            if (rc == MZ_END)
                break;
        }
    }
    if (x->crlf) {
        char cr;
        if (ftpc_ascii_from_wire_end(&x->pending_cr, &cr) > 0 && emit_text(x, &cr, 1) < 0) {
            sink_failed(x);
            return;
        }
    }
    if (x->dotless && ftpc_dotnames_end(&x->dots, emit_cb, x) < 0) {
        sink_failed(x);
        return;
    }
    x->data_eof = true;
    maybe_complete(x);
}

/* A download that goes past the size SIZE announced is stopped there: a server that keeps
 * sending (or a small MODE Z stream that inflates without end) must not fill the disk. */
static bool overran(ftpc_xfer *x)
{
    if (x->remote_size < 0 || x->t->kind == FTPC_T_LS || x->pos <= (uint64_t)x->remote_size)
        return false;
    uint64_t past = x->pos;
    /* What is kept is at most what SIZE announced, so -c can still take it up. */
    if ((x->have_part || x->in_place) && ftruncate(x->file_fd, (off_t)x->remote_size) == 0)
        x->pos = (uint64_t)x->remote_size;
    fail(x, FTPC_EXIT_VERIFY, false,
         "the server sent more than the %" PRId64 " bytes SIZE announced (%" PRIu64
         " so far): stopped%s",
         x->remote_size, past, kept_note(x));
    return true;
}

/* Wire bytes in: through the codec under MODE Z, then to the sink. Returns 0, or -1 after
 * failing the transfer. */
static int take_in(ftpc_xfer *x, const char *p, size_t len)
{
    wire_moved(x, len);
    if (!x->zon) {
        file_moved(x, len);
        if (sink(x, p, len) < 0) {
            sink_failed(x);
            return -1;
        }
        return overran(x) ? -1 : 0;
    }
    size_t off = 0;
    for (;;) {
        size_t used = 0, prod = 0;
        if (mz_ended(&x->z) && off < len) {
            fail(x, FTPC_EXIT_XFER, false, "data after the end of the compressed stream");
            return -1;
        }
        int rc = mz_add(&x->z, p + off, len - off, &used, x->zbuf, XFER_ZBUF_SIZE, &prod);
        if (rc == MZ_ERROR) {
            fail(x, FTPC_EXIT_XFER, false, "corrupt compressed data (MODE Z): %s", mz_error(&x->z));
            return -1;
        }
        off += used;
        if (prod > 0) {
            file_moved(x, prod);
            if (sink(x, x->zbuf, prod) < 0) {
                sink_failed(x);
                return -1;
            }
            if (overran(x))
                return -1;
        }
        if (rc == MZ_END && off == len)
            return 0;
        if (off == len && prod < XFER_ZBUF_SIZE)
            return 0;
    }
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
            splice(x->dc.s->fd, NULL, x->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            if (drain_pipe(x, (size_t)n) < 0) {
                fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s",
                     x->have_part ? x->part : x->t->local, strerror(errno));
                return 0;
            }
            progress(x, (size_t)n);
            if (overran(x))
                return 0;
            if (!x->use_splice)
                return 1; /* the drain fell back: so does the rest */
            continue;
        }
        if (n == 0) {
            receive_end(x);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        if (errno == EINVAL && x->pos == x->offset)
            return 1;
        data_failed(x, errno, NULL);
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
    size_t moved = 0;
    for (int i = 0;
         i < XFER_READS_PER_WAKEUP && moved < (size_t)XFER_CHUNKS_PER_WAKEUP * XFER_BUF_SIZE; i++) {
        size_t want = XFER_BUF_SIZE;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n = stream_read(x->dc.s, x->iobuf, want);
        if (n > 0) {
            moved += (size_t)n;
            if (take_in(x, x->iobuf, (size_t)n) < 0)
                return;
            continue;
        }
        if (n == 0) {
            receive_end(x);
            return;
        }
        if (x->dc.s->last_errno == EAGAIN)
            return;
        data_failed(x, x->dc.s->last_errno, ftpc_dchan_error(&x->dc));
        return;
    }
}

/* Upload: reads up to cap file bytes at fpos into dst, converted to CRLF under TYPE A
 * (then at most 2 * cap bytes come out). Returns the bytes placed, 0 at the end of the file,
 * -1 after failing the transfer. */
static ssize_t read_source(ftpc_xfer *x, char *dst, size_t cap)
{
    if (x->fpos >= x->local_size) {
        x->src_eof = true;
        return 0;
    }
    uint64_t left = x->local_size - x->fpos;
    size_t want = left < cap ? (size_t)left : cap;
    char *into = x->ascii ? x->abuf : dst;
    ssize_t r;
    do {
        r = pread(x->file_fd, into, want, (off_t)x->fpos);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", x->t->local, strerror(errno));
        return -1;
    }
    if (r == 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "%s shrank while being uploaded", x->t->local);
        return -1;
    }
    x->fpos += (uint64_t)r;
    file_moved(x, (size_t)r);
    if (!x->ascii)
        return r;
    return (ssize_t)ftpc_ascii_to_wire(x->abuf, (size_t)r, dst);
}

/* Upload: makes sure zbuf holds wire bytes to send. Returns 1 when it does, 0 when everything
 * has been produced, -1 after failing the transfer. */
static int fill_wire(ftpc_xfer *x)
{
    for (;;) {
        if (x->zoff < x->zlen)
            return 1;
        x->zoff = x->zlen = 0;
        if (!x->zon) {
            /* TYPE A without MODE Z: half the buffer, since LF doubles. */
            ssize_t r = read_source(x, x->zbuf, XFER_ZBUF_SIZE / 2);
            if (r < 0)
                return -1;
            if (r == 0)
                return 0;
            x->zlen = (size_t)r;
            continue;
        }
        if (x->in_off == x->in_len && !x->src_eof) {
            ssize_t r = read_source(x, x->iobuf, x->ascii ? XFER_BUF_SIZE / 2 : XFER_BUF_SIZE);
            if (r < 0)
                return -1;
            x->in_off = 0;
            x->in_len = (size_t)r;
        }
        size_t prod = 0;
        if (x->in_off < x->in_len) {
            size_t used = 0;
            int rc = mz_add(&x->z, x->iobuf + x->in_off, x->in_len - x->in_off, &used, x->zbuf,
                            XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                fail(x, FTPC_EXIT_LOCAL, false, "compressing: %s", mz_error(&x->z));
                return -1;
            }
            x->in_off += used;
        } else if (x->src_eof) {
            if (mz_ended(&x->z))
                return 0;
            int rc = mz_finish(&x->z, x->zbuf, XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                fail(x, FTPC_EXIT_LOCAL, false, "compressing: %s", mz_error(&x->z));
                return -1;
            }
        }
        x->zlen = prod;
    }
}

/* Upload complete: our end goes out (close_notify under TLS, then a FIN), and the connection
 * is read until the server closes it. Closing at once would reset it if the server had sent
 * anything (a TLS 1.3 session ticket), and a reset can destroy data still in flight. */
static void begin_close(ftpc_xfer *x)
{
    x->closing = true;
    if (!x->shut) {
        if (stream_shutdown(x->dc.s) < 0 && x->dc.s->last_errno == EAGAIN)
            return;
        x->shut = true;
    }
    for (int i = 0; i < XFER_READS_PER_WAKEUP; i++) {
        ssize_t n = stream_read(x->dc.s, x->iobuf, XFER_BUF_SIZE);
        if (n > 0)
            continue; /* nothing is expected; whatever comes is dropped */
        if (n < 0 && x->dc.s->last_errno == EAGAIN)
            return;
        /* The server's end (or an error after all was sent: the reply decides). */
        close_data(x);
        x->data_eof = true;
        maybe_complete(x);
        return;
    }
}

static void transmit_buffered(ftpc_xfer *x)
{
    for (int i = 0; i < XFER_READS_PER_WAKEUP; i++) {
        int r = fill_wire(x);
        if (r < 0)
            return;
        if (r == 0) {
            begin_close(x);
            return;
        }
        size_t want = x->zlen - x->zoff;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        /* OpenSSL wants a retried write to offer at least what it offered before. */
        if (want < x->retry_len)
            want = x->retry_len < x->zlen - x->zoff ? x->retry_len : x->zlen - x->zoff;
        ssize_t n = stream_write(x->dc.s, x->zbuf + x->zoff, want);
        if (n > 0) {
            x->retry_len = 0;
            x->zoff += (size_t)n;
            wire_moved(x, (size_t)n);
            continue;
        }
        if (n < 0 && x->dc.s->last_errno == EAGAIN) {
            x->retry_len = want;
            return;
        }
        data_failed(x, x->dc.s->last_errno, ftpc_dchan_error(&x->dc));
        return;
    }
}

static void transmit(ftpc_xfer *x)
{
    if (!x->use_sendfile) {
        transmit_buffered(x);
        return;
    }
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        if (x->pos >= x->local_size) {
            begin_close(x);
            return;
        }
        uint64_t left = x->local_size - x->pos;
        size_t want = left < XFER_SENDFILE_CHUNK ? (size_t)left : XFER_SENDFILE_CHUNK;
        uint64_t allow = allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        off_t off = (off_t)x->pos;
        ssize_t n = x->dc.s->ops->sendfile(x->dc.s, x->file_fd, &off, want);
        int e = x->dc.s->last_errno;
        if (n < 0 && (e == EINVAL || e == ENOSYS)) {
            /* This file cannot be sent from the page cache: read it instead. */
            x->use_sendfile = false;
            x->fpos = x->pos;
            transmit_buffered(x);
            return;
        }
        if (n > 0) {
            progress(x, (size_t)n);
            continue;
        }
        if (n == 0) {
            fail(x, FTPC_EXIT_LOCAL, false, "%s shrank while being uploaded", x->t->local);
            return;
        }
        if (e == EAGAIN)
            return;
        if (e == EIO) {
            fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", x->t->local, strerror(e));
            return;
        }
        data_failed(x, e, NULL);
        return;
    }
}

/* One round of work on the data connection, from its events and the timers. */
static void data_run(ftpc_xfer *x)
{
    if (x->finished || !ftpc_dchan_is_open(&x->dc))
        return;
    if (!x->dc.hs_done) {
        char why[400];
        int r = ftpc_dchan_handshake(&x->dc, why, sizeof(why));
        if (r < 0) {
            char what[460];
            snprintf(what, sizeof(what), "TLS: %s", why);
            data_failed(x, EPROTO, what);
            return;
        }
        if (r == 0) {
            watch(x);
            return;
        }
        if (x->ctx->opts->verbose > 1) {
            ftpc_tls_summary(&x->dc.u.tls, why, sizeof(why));
            ftpc_msg(x->ctx, "* data connection: %s", why);
        }
    }
    if (x->paused)
        return;
    if (is_download(x))
        receive(x);
    else if (x->closing)
        begin_close(x);
    else if (x->prelim)
        transmit(x);
    if (x->finished || !ftpc_dchan_is_open(&x->dc))
        return;
    watch(x);
    /* Bytes TLS decrypted beyond what this round took would wait for a socket event that
     * may never come. */
    if (!x->paused && is_download(x) && ftpc_dchan_pending(&x->dc) > 0)
        ev_timer_start(x->ctx->loop, &x->kick, 0);
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    data_run(ud);
}

static void attach_data(ftpc_xfer *x, int fd)
{
    char why[400];
    if (ftpc_dchan_open(&x->dc, x->c, fd, why, sizeof(why)) < 0) {
        data_failed(x, EPROTO, why);
        return;
    }
    /* The allowance starts with the data: the log-in, SIZE and the check of the bytes -c
     * keeps would otherwise fill the bucket, and the start run ahead of --limit-rate. */
    ftpc_rl_init(&x->rl, x->ctx->opts->limit_rate, ev_now(x->ctx->loop));
    /* Kernel shortcuts only where the stream passes bytes through untouched and nothing in
     * between needs to see them. */
    bool raw = !x->zon && !x->ascii;
    if (x->use_splice && (!raw || x->dc.s->ops->recvfile == NULL))
        close_pipe(x);
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

/* Sets up the layers this transfer needs (MODE Z, TYPE A conversion). Returns 0, or -1 after
 * failing the transfer. */
static int setup_layers(ftpc_xfer *x)
{
    x->zon = ftpc_conn_mode_z(x->c);
    if (x->zon && !x->zinit) {
        if (mz_init(&x->z, is_download(x) ? MZ_INFLATE : MZ_DEFLATE, MZ_LEVEL_DEFAULT) < 0) {
            fail(x, FTPC_EXIT_LOCAL, false, "MODE Z: %s", mz_error(&x->z));
            return -1;
        }
        x->zinit = true;
    }
    /* zbuf: the codec's output, and an upload's wire bytes when they cannot go by
     * sendfile (TLS). */
    bool need_z = x->zon || x->ascii || !is_download(x);
    if (need_z && x->zbuf == NULL)
        x->zbuf = malloc(XFER_ZBUF_SIZE);
    if ((x->crlf || x->ascii) && x->abuf == NULL)
        x->abuf = malloc(2 * (size_t)XFER_BUF_SIZE + 1);
    if ((need_z && x->zbuf == NULL) || ((x->crlf || x->ascii) && x->abuf == NULL)) {
        fail(x, FTPC_EXIT_LOCAL, false, "out of memory");
        return -1;
    }
    return 0;
}

static void open_data(ftpc_xfer *x)
{
    if (setup_layers(x) < 0)
        return;
    x->state = XS_OPEN_DATA;
    ftpc_conn_open_data(x->c);
}

/* A download to standard output has a bar only when that is not a terminal (run.c). */
static void start_bar(ftpc_xfer *x, int64_t total)
{
    if (x->bar != NULL) { /* the same file going again (into a directory, say) */
        ftpc_bar_restart(x->bar, x->offset);
        return;
    }
    if (x->ctx->bars != NULL && (x->t->kind == FTPC_T_GET || x->t->kind == FTPC_T_PUT) &&
        (x->out_fd != STDOUT_FILENO || isatty(STDOUT_FILENO) != 1))
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

static void after_size(ftpc_xfer *x);

static void prefix_checked(void *ud, const ftpc_vresult *r)
{
    ftpc_xfer *x = ud;
    ftpc_rcheck_free(x->prefix);
    x->prefix = NULL;
    if (x->finished)
        return;
    ftpc_conn_set_owner(x->c, &xfer_owner, x);
    switch (r->state) {
    case FTPC_V_MISMATCH:
        x->prefix_differs = true;
        if (x->ctx->opts->quiet)
            break;
        if (x->t->kind == FTPC_T_PUT)
            ftpc_msg(x->ctx,
                     "%s: the %" PRId64 " bytes already on the server differ from the start "
                     "of %s: uploading it all again",
                     bar_name(x), x->remote_size, x->t->local);
        else
            ftpc_msg(x->ctx,
                     "%s: the %" PRIu64 " bytes already in %s differ from the server's: "
                     "downloading it all again",
                     bar_name(x), x->offset, x->in_place ? x->t->local : x->part);
        break;
    case FTPC_V_ERROR:
        fail(x, r->err.status, r->conn_ok, "checking the bytes to resume after: %s", r->err.msg);
        return;
    default: /* the server cannot hash byte ranges: resume unchecked, as other clients do */
        break;
    }
    after_size(x);
}

/* -c keeps the first len bytes of a file that was there before this run (local for a get,
 * the server's for a put), but the file may have changed on either side since: where the
 * server hashes byte ranges (HASH over RANG), they are compared with the source first, and a
 * difference starts the transfer over instead of ending in a file that fails verification.
 * A download's retry resumes unchecked after bytes the run wrote itself (task.h); an
 * upload's is checked all the same, since a server that keeps the previous version of a file
 * whose upload was cut (ftpd does) reports that version's size. Returns true when the check
 * runs; the transfer goes on from after_size once it is done. */
static bool check_prefix(ftpc_xfer *x, const char *local, uint64_t len)
{
    const ftpc_opts *o = x->ctx->opts;
    const ftpc_task *t = x->t;
    bool wanted = t->kind == FTPC_T_PUT ? o->resume || t->own_prefix : o->resume && !t->own_prefix;
    if (!wanted || x->prefix_checked || len == 0 || !o->verify || x->ascii)
        return false;
    x->prefix_checked = true;
    x->prefix = ftpc_rcheck_new(x->ctx, x->t, local, 0, len);
    if (x->prefix == NULL)
        return false;
    x->state = XS_PREFIX;
    ftpc_rcheck_run(x->prefix, x->c, prefix_checked, x);
    return true;
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
        x->crlf = t->kind == FTPC_T_LS || x->ascii;
        x->shield = t->kind == FTPC_T_LS && !t->capture && isatty(STDOUT_FILENO);
        x->dotless = t->kind == FTPC_T_LS && !t->capture && !t->long_list;
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
    /* A retry resumes after what an earlier attempt wrote; -c resumes the first attempt too.
     * Not in TYPE A: offsets in the converted stream are not offsets in the file. */
    bool resume = (x->ctx->opts->resume || t->own_prefix) && !x->ascii;
    x->crlf = x->ascii;
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
    } else if (resume && x->ctx->opts->resume && stat(t->local, &st) == 0 && S_ISREG(st.st_mode)) {
        x->in_place = true;
        x->offset = (uint64_t)st.st_size;
    } else {
        x->have_part = true;
    }
    if (x->remote_size >= 0 && x->offset > (uint64_t)x->remote_size) {
        /* Larger than the remote file: not a prefix of it, so start over. */
        if (!x->ctx->opts->quiet && t->attempts == 1)
            ftpc_msg(x->ctx,
                     "%s: the %" PRIu64 " bytes already in %s are more than the server's %" PRId64
                     ": downloading it all again",
                     bar_name(x), x->offset, x->in_place ? t->local : x->part, x->remote_size);
        x->offset = 0;
    } else if (check_prefix(x, x->in_place ? t->local : x->part, x->offset)) {
        return;
    } else if (x->prefix_differs) {
        x->offset = 0;
    }
    if (x->in_place && x->offset == 0) {
        /* Starting over into a part file: the local file stays as it was until the new one
         * is complete. */
        x->in_place = false;
        x->have_part = true;
    }
    const char *path = x->in_place ? t->local : x->part;
    /* Truncated only once it is ours: another ftpc (or another task of this one) fetching
     * the same file into the same place holds the lock, and its bytes stay as they are. */
    x->file_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (x->file_fd < 0) {
        /* named as the user gave it: the part file beside it is ftpc's business */
        fail(x, FTPC_EXIT_LOCAL, false, "cannot write %s: %s", t->local, strerror(errno));
        return;
    }
    if (flock(x->file_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            fail(x, FTPC_EXIT_LOCAL, true, "%s: another transfer is writing %s", bar_name(x), path);
            return;
        }
        /* a file system without locks: go on unguarded, as before */
    }
    if (x->offset == 0 && ftruncate(x->file_fd, 0) < 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s", path, strerror(errno));
        return;
    }
    x->out_fd = x->file_fd;
    setup_splice(x);
    if (lseek(x->file_fd, (off_t)x->offset, SEEK_SET) < 0) {
        fail(x, FTPC_EXIT_LOCAL, false, "seeking in %s: %s", path, strerror(errno));
        return;
    }
    x->pos = x->offset;
    t->own_prefix = true;
    x->part_ours = x->have_part;
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
    if (x->remote_size > 0 && (uint64_t)x->remote_size <= x->local_size &&
        check_prefix(x, x->t->local, (uint64_t)x->remote_size))
        return;
    if (x->prefix_differs)
        x->remote_size = 0; /* not a prefix of ours: upload it all */
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
    /* Longer than the source: not a prefix of it, so the upload replaces it. */
    if (x->remote_size > 0 && (uint64_t)x->remote_size > x->local_size && x->ctx->opts->resume &&
        !x->ctx->opts->quiet && x->t->attempts == 1)
        ftpc_msg(x->ctx,
                 "%s: the %" PRId64 " bytes already on the server are more than %s's %" PRIu64
                 ": uploading it all again",
                 bar_name(x), x->remote_size, x->t->local, x->local_size);
    x->pos = x->offset;
    x->t->own_prefix = true;
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

static void after_type(ftpc_xfer *x);

static void conn_ready(ftpc_conn *c, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->state != XS_WAIT_CONN)
        return;
    ftpc_task *t = x->t;
    /* Files move in the type asked for now (the shell may switch between transfers);
     * listings in whatever type is in force. */
    if (t->kind == FTPC_T_GET || t->kind == FTPC_T_PUT || t->kind == FTPC_T_CAT) {
        x->ascii = x->ctx->opts->ascii;
        char want = x->ascii ? 'A' : 'I';
        if (ftpc_conn_type(c) != want) {
            x->state = XS_TYPE;
            ftpc_conn_send(c, "TYPE %c", want);
            return;
        }
    }
    after_type(x);
}

static void after_type(ftpc_xfer *x)
{
    ftpc_conn *c = x->c;
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
        bool resume = (x->ctx->opts->resume || t->own_prefix) && !x->ascii;
        if (resume && size_ok) {
            x->state = XS_SIZE;
            ftpc_conn_send(c, "SIZE %s", t->remote);
            return;
        }
        begin_put(x);
        return;
    }
    /* The download would land in a part file and fail only at its rename: refuse now. */
    struct stat lst;
    if (t->kind == FTPC_T_GET && strcmp(t->local, "-") != 0 && stat(t->local, &lst) == 0 &&
        S_ISDIR(lst.st_mode)) {
        fail(x, FTPC_EXIT_LOCAL, true, "%s is a directory", t->local);
        return;
    }
    /* SIZE counts the file's bytes, which TYPE A changes on the way. */
    if ((t->kind == FTPC_T_GET || t->kind == FTPC_T_CAT) && size_ok && !x->ascii) {
        x->state = XS_SIZE;
        ftpc_conn_send(c, "SIZE %s", t->remote);
        return;
    }
    begin_get(x);
}

/* An upload is complete and checked: its time is set when the task asks for it. A server
 * that refuses only leaves the time of the upload, which mirror -R also reads correctly. */
static void put_complete(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (t->keep_mtime && x->state != XS_MFMT && (ftpc_conn_features(x->c) & FTPC_FEAT_MFMT)) {
        time_t when = (time_t)t->mtime;
        struct tm tm;
        char stamp[32];
        if (gmtime_r(&when, &tm) != NULL &&
            strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 14) {
            x->state = XS_MFMT;
            ftpc_conn_send(x->c, "MFMT %s %s", stamp, t->remote);
            return;
        }
    }
    succeed(x);
}

static void maybe_complete(ftpc_xfer *x)
{
    if (!x->data_eof || !x->ctrl_done || x->finished)
        return;
    ftpc_task *t = x->t;
    if (t->kind == FTPC_T_PUT) {
        unsigned feat = ftpc_conn_features(x->c);
        if ((feat & FTPC_FEAT_SIZE) && x->pos > x->offset && !x->ascii) {
            x->state = XS_VERIFY;
            ftpc_conn_send(x->c, "SIZE %s", t->remote);
            return;
        }
        put_complete(x);
        return;
    }
    if (x->remote_size >= 0 && x->pos != (uint64_t)x->remote_size && t->kind != FTPC_T_LS) {
        fail(x, FTPC_EXIT_VERIFY, true,
             "size mismatch: received %" PRIu64 " bytes of %" PRId64 "%s", x->pos, x->remote_size,
             kept_note(x));
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
        /* A download that would replace a file and whose HASH check follows waits for the
         * check in the part file (jobs.c). */
        struct stat old;
        t->rename_pending = x->have_part && stat(t->local, &old) == 0 && S_ISREG(old.st_mode);
        if (t->rename_pending && !ftpc_verify_wanted(x->ctx, t))
            t->rename_pending = false;
        if (x->have_part && !t->rename_pending && rename(x->part, t->local) < 0) {
            fail(x, FTPC_EXIT_LOCAL, true, "renaming %s to %s: %s", x->part, t->local,
                 strerror(errno));
            return;
        }
    }
    succeed(x);
}

/* A resumed upload the server refused outright (ftpd, for one, wants the append right for
 * REST+STOR and APPE) can still be sent whole: a later STOR replaces what is there. The
 * upload sends nothing before the server's 1xx, so no byte of it left. */
static bool can_upload_whole(const ftpc_xfer *x, int code)
{
    return x->t->kind == FTPC_T_PUT && x->offset > 0 && !x->prelim && code >= 500 &&
           !x->resume_refused;
}

static void upload_whole(ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (!x->ctx->opts->quiet) {
        char q[600];
        ftpc_msg(x->ctx,
                 "%s: the server refused to resume after %" PRIu64 " bytes (%s %s): "
                 "uploading it all again",
                 bar_name(x), x->offset, x->verb, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    }
    /* Nothing was sent: only where the upload starts changes. */
    x->resume_refused = true;
    x->offset = x->pos = x->fpos = 0;
    x->data_errno = 0;
    x->verb = "STOR";
    if (x->bar != NULL)
        ftpc_bar_restart(x->bar, 0);
    open_data(x);
}

/* "put f ftp://host/incoming" where incoming is a directory: the server refuses the STOR
 * (550 or 553, in words of its own), and cp or scp would have put f into it. MLST tells;
 * it is asked only after a refusal, so a plain upload costs no round trip more. */
static bool can_check_dir(const ftpc_xfer *x, int code)
{
    const ftpc_task *t = x->t;
    size_t n = strlen(t->remote);
    return t->kind == FTPC_T_PUT && !t->by_path && !x->prelim && code >= 500 && !x->dir_checked &&
           n > 0 && t->remote[n - 1] != '/' && strcmp(t->local, "-") != 0 &&
           (ftpc_conn_features(x->c) & FTPC_FEAT_MLST);
}

static void check_dir(ftpc_xfer *x, const ftp_reply_msg *m)
{
    x->dir_checked = true;
    x->refusal_code = m->code;
    ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    x->state = XS_DIRCHECK;
    ftpc_conn_send(x->c, "MLST %s", x->t->remote);
}

/* The STOR's refusal kept by check_dir, reported as fail_reply would have. */
static void fail_refused(ftpc_xfer *x)
{
    fail(x, ftpc_status_for_reply(x->refusal_code), true, "STOR: the server replied %s",
         x->refusal);
}

/* The target is a directory: the upload goes into it under the source's name. */
static void put_into_dir(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    const char *name = ftpc_task_name(t); /* a put's: its local file's last component */
    size_t n = strlen(t->remote), d = strlen(t->display);
    if (n + 1 + strlen(name) >= sizeof(t->remote)) {
        fail_refused(x);
        return;
    }
    if (!x->ctx->opts->quiet)
        ftpc_msg(x->ctx, "%s: %s is a directory on the server: uploading into it", bar_name(x),
                 t->remote);
    size_t nl = strlen(name);
    t->remote[n] = '/';
    memcpy(t->remote + n + 1, name, nl + 1);
    if (d + 1 + nl < sizeof(t->display)) {
        t->display[d] = '/';
        memcpy(t->display + d + 1, name, nl + 1);
    }
    x->verb = "STOR";
    after_type(x);
}

/* A name an NLST pattern matched may be a directory, which NLST does not tell from a file
 * (MLSD does, and its directories never get here): a refused SIZE or RETR is checked with CWD
 * (dirprobe.h) before it counts, and a directory is left out as MLSD would have left it. */
static bool can_probe_dir(const ftpc_xfer *x, int code)
{
    return x->t->kind == FTPC_T_GET && x->t->nlst_match && !x->prelim && code >= 500 &&
           x->refused_cmd == NULL;
}

static void dir_probed(void *ud, ftpc_probe_result r, const ftpc_err *err)
{
    ftpc_xfer *x = ud;
    if (x->finished)
        return;
    ftpc_conn_set_owner(x->c, &xfer_owner, x);
    switch (r) {
    case FTPC_PROBE_NOT_DIR:
        fail(x, ftpc_status_for_reply(x->refusal_code), true, "%s: the server replied %s",
             x->refused_cmd, x->refusal);
        return;
    case FTPC_PROBE_FAILED:
        fail(x, err->status, false, "%s", err->msg);
        return;
    default:
        x->t->skipped = true;
        if (x->ctx->bars != NULL)
            ftpc_bars_file_skipped(x->ctx->bars);
        finish(x, FTPC_OK, r == FTPC_PROBE_DIR);
        return;
    }
}

static void probe_dir(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m)
{
    x->refused_cmd = cmd;
    x->refusal_code = m->code;
    ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    x->state = XS_DIRPROBE;
    ftpc_dirprobe_run(&x->probe, x->c, x->t->remote, dir_probed, x);
}

static void conn_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_xfer *x = ud;
    ftpc_task *t = x->t;
    int code = m->code;
    switch (x->state) {
    case XS_TYPE:
        if (code < 200)
            return;
        if (code != 200) {
            fail_reply(x, x->ascii ? "TYPE A" : "TYPE I", m);
            return;
        }
        after_type(x);
        return;
    case XS_SIZE:
        if (code < 200)
            return;
        if (code == 213) {
            x->remote_size = ftpc_parse_size_reply(m->text);
        } else if (code == 550 && t->kind != FTPC_T_PUT) {
            /* No such file (or not a plain file): RETR would say the same. */
            if (can_probe_dir(x, code))
                probe_dir(x, "SIZE", m);
            else
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
            if (!is_download(x))
                data_run(x);
            return;
        }
        if (code >= 300) {
            close_data(x);
            ftpc_conn_close_data(c);
            if (can_upload_whole(x, code)) {
                upload_whole(x, m);
                return;
            }
            if (can_check_dir(x, code)) {
                check_dir(x, m);
                return;
            }
            if (can_probe_dir(x, code)) {
                probe_dir(x, x->verb, m);
                return;
            }
            fail_reply(x, x->verb, m);
            return;
        }
        if (x->data_errno != 0) {
            fail(x, FTPC_EXIT_XFER, true, "data connection: %s", x->data_why);
            return;
        }
        if (listing_failed_in_2xx(x, m)) {
            char q[600];
            close_data(x);
            ftpc_conn_close_data(c);
            fail(x, FTPC_EXIT_REMOTE, true,
                 "%s: no such directory, or not readable (the server replied %s)", x->verb,
                 ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        x->ctrl_done = true;
        if (is_download(x) && !x->data_eof) {
            x->last_data_ms = ev_now(x->ctx->loop);
            ev_timer_start(x->ctx->loop, &x->tail_timer, x->ctx->opts->timeout_ms);
        }
        if (!is_download(x) && x->closing && !x->data_eof) {
            /* All sent and our end is out: the server's word is enough. */
            close_data(x);
            x->data_eof = true;
        }
        if (!is_download(x) && !x->data_eof) {
            /* 226 before everything was sent: the server stopped reading. */
            fail(x, FTPC_EXIT_XFER, true, "%s: the server ended the transfer early", x->verb);
            return;
        }
        maybe_complete(x);
        return;
    case XS_DIRCHECK:
        if (code < 200)
            return;
        if (code < 300 && ftpc_mlst_is_dir(m->text))
            put_into_dir(x);
        else
            fail_refused(x);
        return;
    case XS_VERIFY:
        if (code < 200)
            return;
        if (code == 213) {
            int64_t n = ftpc_parse_size_reply(m->text);
            if (n >= 0 && (uint64_t)n != x->local_size) {
                fail(x, FTPC_EXIT_VERIFY, true,
                     "size mismatch: the server has %" PRId64 " bytes, %s has %" PRIu64, n,
                     t->local, x->local_size);
                return;
            }
        }
        put_complete(x);
        return;
    case XS_MFMT:
        if (code >= 200)
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
    if (x->finished || ftpc_dchan_is_open(&x->dc) || x->state != XS_CMD) {
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
    ftpc_dchan_init(&x->dc, ctx->loop);
    x->pipe_r = x->pipe_w = -1;
    x->remote_size = -1;
    x->state = XS_WAIT_CONN;
    ftpc_rl_init(&x->rl, ctx->opts->limit_rate, ev_now(ctx->loop));
    ev_timer_init(&x->rate_timer, rate_cb, x);
    ev_timer_init(&x->kick, kick_cb, x);
    ev_timer_init(&x->tail_timer, tail_cb, x);
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
    free(x->zbuf);
    free(x->abuf);
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
