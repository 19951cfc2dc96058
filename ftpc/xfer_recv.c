/* A download's bytes: from the data connection (by splice into the file where nothing needs
 * to see them, else read, and inflated under MODE Z), stopped where SIZE said the file ends,
 * to where they go: the file, standard output, or a listing kept in memory, with the line
 * ends of listings and TYPE A converted and "." and ".." left out of a short listing. */
#include "xfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ascii.h"

#define XFER_LISTING_MAX (64 * 1024 * 1024)

/* ---- local output ---- */

/* Into a file (or standard output where it could not be opened as a sink). */
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
        if (n == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* ---- standard output: the reader's pace, through the loop ---- */

/* What one wakeup can put into the queue before the data connection stops being read: one
 * read's bytes (XFER_BUF_SIZE; TYPE A and the listing filters only shrink them), a held
 * listing line, and what the end of the data adds. MODE Z stops inflating as soon as
 * anything waits (inflate_in). */
#define XFER_OUTQ_MAX (2 * XFER_BUF_SIZE + 64 * 1024)

static long out_keepalive_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_xfer *x = ud;
    if (!x->out_wait)
        return EV_TIMER_STOP;
    /* The reader is the slow one, not the server: the control connection's inactivity
     * timeout is kept away, as for a slow producer of an upload (xfer_stdin.c). */
    if (x->c != NULL)
        ftpc_conn_touch(x->c);
    return x->ctx->opts->timeout_ms / 2 > 0 ? x->ctx->opts->timeout_ms / 2 : 1000;
}

void xf_out_init(ftpc_xfer *x)
{
    buf_init(&x->outq, XFER_OUTQ_MAX);
    ev_timer_init(&x->out_timer, out_keepalive_cb, x);
}

void xf_out_open(ftpc_xfer *x)
{
    if (x->sink_open)
        return;
    ftpc_stdsink_open(&x->sink, STDOUT_FILENO, x->ctx->stop);
    x->sink_open = true;
}

static void out_wait_end(ftpc_xfer *x)
{
    if (x->out_wait)
        ev_del(x->ctx->loop, x->sink.fd, EV_WRITE);
    x->out_wait = false;
    ev_timer_stop(x->ctx->loop, &x->out_timer);
}

void xf_out_release(ftpc_xfer *x)
{
    out_wait_end(x);
    size_t lost = buf_len(&x->outq);
    if (lost > 0) {
        /* Accepted but never written: a retry must send them again. Under TYPE A the bytes
         * written are not the file's, so there is no telling where to go on from. */
        if (x->crlf || lost > x->t->out_written)
            x->t->out_lost = true;
        else
            x->t->out_written -= lost;
    }
    buf_free(&x->outq);
    if (x->sink_open)
        ftpc_stdsink_close(&x->sink);
    x->sink_open = false;
    x->held = false;
}

/* As much of the queue as the reader takes now. Returns 0, or -1 with errno. */
static int out_flush(ftpc_xfer *x)
{
    while (!buf_empty(&x->outq)) {
        ssize_t w = ftpc_stdsink_write(&x->sink, buf_head(&x->outq), buf_len(&x->outq));
        if (w > 0) {
            buf_consume(&x->outq, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EAGAIN)
            return 0;
        if (w == 0)
            errno = EIO;
        return -1;
    }
    buf_trim(&x->outq);
    return 0;
}

static void out_writable_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ftpc_xfer *x = ud;
    if (out_flush(x) < 0) {
        xf_sink_failed(x);
        return;
    }
    if (!buf_empty(&x->outq))
        return;
    out_wait_end(x);
    /* The silence on the data connection was ours: its timeout starts again from here. */
    x->last_data_ms = ev_now(loop);
    if (x->c != NULL)
        ftpc_conn_touch(x->c);
    if (x->data_eof)
        xf_maybe_complete(x);
    else
        xf_data_run(x);
}

/* The reader is behind: the rest waits, and so does the data connection (xfer_data.c's
 * watch leaves it alone while out_wait), until standard output is writable again. */
static int out_wait_start(ftpc_xfer *x)
{
    if (x->out_wait)
        return 0;
    if (ev_add(x->ctx->loop, x->sink.fd, EV_WRITE, out_writable_cb, x) < 0)
        return -1;
    x->out_wait = true;
    ev_timer_start(x->ctx->loop, &x->out_timer, x->ctx->opts->timeout_ms / 2);
    return 0;
}

/* To standard output: written at once where the reader keeps up, else queued. Returns 0, or
 * -1 with errno. */
static int out_put(ftpc_xfer *x, const char *p, size_t len)
{
    if (buf_empty(&x->outq)) {
        while (len > 0) {
            ssize_t w = ftpc_stdsink_write(&x->sink, p, len);
            if (w > 0) {
                p += w;
                len -= (size_t)w;
                continue;
            }
            if (w < 0 && errno == EAGAIN)
                break;
            if (w == 0)
                errno = EIO;
            return -1;
        }
        if (len == 0)
            return 0;
    }
    if (buf_append_all(&x->outq, p, len) < 0)
        return -1;
    return out_wait_start(x);
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

int xf_write_out(ftpc_xfer *x, const char *p, size_t len)
{
    return x->sink_open ? out_put(x, p, len) : write_all(x->out_fd, p, len);
}

static int emit(ftpc_xfer *x, const char *p, size_t len)
{
    if (x->t->capture)
        return capture_add(x, p, len);
    return x->self_hold ? xf_selfline_add(x, p, len) : xf_write_out(x, p, len);
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
        xf_file_moved(x, o);
        if (x->shield)
            ftpc_shield_text(&x->shield_st, x->abuf, o);
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

void xf_sink_failed(ftpc_xfer *x)
{
    int e = errno;
    if (x->t->capture && e == EFBIG) {
        xf_fail(x, FTPC_EXIT_REMOTE, false, "the listing is longer than the %d MiB ftpc keeps",
                XFER_LISTING_MAX / (1024 * 1024));
    } else if (x->t->capture) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "keeping the listing: %s", strerror(e));
    } else if (x->out_fd == STDOUT_FILENO && e == EINTR) {
        /* A blocking write to standard output gave up: ftpc is being stopped. */
        xf_fail(x, FTPC_EXIT_XFER, false, "interrupted");
    } else if (x->out_fd == STDOUT_FILENO && e == EPIPE) {
        /* The reader left (ftpc cat f | head): end as cat does, by the signal the socket
         * writes ignore, without a word. Standard output has no part file to keep. */
        ftpc_bars_erase(x->ctx->bars);
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
        xf_fail(x, FTPC_EXIT_LOCAL, false, "writing to standard output: %s", strerror(e));
    } else if (x->out_fd == STDOUT_FILENO)
        xf_fail(x, FTPC_EXIT_LOCAL, false, "writing to standard output: %s", strerror(e));
    else
        xf_fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s", x->have_part ? x->part : x->t->local,
                strerror(e));
}

/* ---- from the data connection ---- */

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

static int file_bytes(ftpc_xfer *x, const char *p, size_t len);

/* The end of the data: what the codec and the line-end conversion still hold, then done. */
static void receive_end(ftpc_xfer *x)
{
    /* The server ended its side (under TLS with close_notify): answer in kind, once, without
     * waiting, then close. Whether it was close_notify is asked first (xfer_tlsend.c). */
    if (ftpc_dchan_is_open(&x->dc)) {
        x->end_unproven = ftpc_dchan_end_unproven(&x->dc);
        stream_shutdown(x->dc.s);
    }
    xf_close_data(x);
    if (x->zon && !mz_ended(&x->z) && x->wire > 0) {
        for (;;) {
            size_t prod = 0;
            int rc = mz_finish(&x->z, x->zbuf, XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                xf_fail(x, FTPC_EXIT_XFER, true, "the compressed data (MODE Z) ended early: %s",
                        mz_error(&x->z));
                return;
            }
            if (prod > 0 && file_bytes(x, x->zbuf, prod) < 0)
                return;
            if (rc == MZ_END)
                break;
        }
    }
    if (ftpc_overlap_pending(&x->ovl)) {
        /* Not even the bytes before the offset came: nothing to go on, nor to append. */
        xf_fail(x, FTPC_EXIT_VERIFY, true,
                "the data after REST %" PRIu64 " ended at %zu of the %zu bytes before byte %" PRIu64
                " (the file changed on the server?)%s",
                x->offset - x->ovl.len, x->ovl.got, x->ovl.len, x->offset, xf_kept_note(x));
        return;
    }
    if (x->crlf) {
        char cr;
        bool held = ftpc_ascii_from_wire_end(&x->pending_cr, &cr) > 0;
        if (held)
            xf_file_moved(x, 1);
        if (held && emit_text(x, &cr, 1) < 0) {
            xf_sink_failed(x);
            return;
        }
    }
    if (x->dotless && ftpc_dotnames_end(&x->dots, emit_cb, x) < 0) {
        xf_sink_failed(x);
        return;
    }
    x->data_eof = true;
    xf_maybe_complete(x);
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
    xf_fail(x, FTPC_EXIT_VERIFY, false,
            "the server sent more than the %" PRId64 " bytes SIZE announced (%" PRIu64
            " so far): stopped%s",
            x->remote_size, past, xf_kept_note(x));
    return true;
}

/* The bytes before a resumed download's offset differ from those kept. Where they are the
 * kept file's first ones, the server answered REST with 350 and sent the file from its start
 * all the same: that is the whole file coming, so it goes into the part file from byte 0.
 * Anything else (a file that changed, a server that sent from elsewhere) ends the download
 * before a byte is appended: what it would add is not the rest of what is kept, and a part
 * file that -c later found complete in size would be taken for the file. The part file is
 * ftpc's and is dropped, so that -c starts over; a file resumed in place is left as it was. */
static int overlap_differs(ftpc_xfer *x)
{
    const char *kept = x->in_place ? x->t->local : x->part;
    if (x->offset > x->ovl.len && ftpc_overlap_agrees(&x->ovl, x->file_fd, x->ovl.len)) {
        if (!x->ctx->opts->quiet)
            ftpc_msg(x->ctx,
                     "%s: the server accepted REST %" PRIu64 " but sent the file from its "
                     "start: downloading it all again",
                     xf_bar_name(x), x->offset - x->ovl.len);
        x->offset = x->pos = 0;
        if (x->in_place) {
            if (xf_restart_into_part(x) < 0)
                return -1;
        } else if (ftruncate(x->file_fd, 0) < 0 || lseek(x->file_fd, 0, SEEK_SET) < 0) {
            xf_fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s", x->part, strerror(errno));
            return -1;
        }
        if (x->bar != NULL)
            ftpc_bar_restart(x->bar, 0);
        xf_file_moved(x, x->ovl.len);
        if (sink(x, x->ovl.buf, x->ovl.len) < 0) {
            xf_sink_failed(x);
            return -1;
        }
        return 0;
    }
    char fate[PATH_MAX + 80];
    if (x->in_place) {
        snprintf(fate, sizeof(fate), "%s is left as it was (get without -c downloads it again)",
                 kept);
    } else {
        snprintf(fate, sizeof(fate), "%s is dropped (get -c downloads it all again)", kept);
        if (x->part_ours && ftruncate(x->file_fd, 0) == 0)
            x->pos = 0; /* and the end of the transfer removes it */
    }
    xf_fail(x, FTPC_EXIT_VERIFY, false,
            "the %zu bytes the server sent after REST %" PRIu64 " differ from those kept "
            "before byte %" PRIu64 ": the server does not send from the offset REST asks for, "
            "or the file changed; nothing appended, %s",
            x->ovl.len, x->offset - x->ovl.len, x->offset, fate);
    return -1;
}

/* File bytes in, after the codec: the overlap before a resumed download's offset first,
 * compared once whole, then the rest to the sink. Returns 0, or -1 after failing the
 * transfer. */
static int file_bytes(ftpc_xfer *x, const char *p, size_t len)
{
    if (ftpc_overlap_pending(&x->ovl)) {
        size_t n = ftpc_overlap_take(&x->ovl, p, len);
        p += n;
        len -= n;
        if (!ftpc_overlap_pending(&x->ovl) &&
            !ftpc_overlap_agrees(&x->ovl, x->file_fd, x->offset) && overlap_differs(x) < 0)
            return -1;
        if (len == 0)
            return 0;
    }
    /* Under TYPE A the file's bytes are those the conversion makes (write_crlf). */
    if (!x->crlf)
        xf_file_moved(x, len);
    if (sink(x, p, len) < 0) {
        xf_sink_failed(x);
        return -1;
    }
    return overran(x) ? -1 : 0;
}

/* Wire bytes through the codec to the sink, until they are all in or standard output's
 * reader falls behind: then the rest waits in iobuf (x->held) and goes in once the reader
 * caught up, so that one read never inflates into more than the queue holds. Returns 0, or
 * -1 after failing the transfer. */
static int inflate_in(ftpc_xfer *x, const char *p, size_t len)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0, prod = 0;
        if (x->out_wait) {
            x->held = true;
            x->held_off = (size_t)(p + off - x->iobuf);
            x->held_len = len - off;
            return 0;
        }
        if (mz_ended(&x->z) && off < len) {
            xf_fail(x, FTPC_EXIT_XFER, false, "data after the end of the compressed stream");
            return -1;
        }
        int rc = mz_add(&x->z, p + off, len - off, &used, x->zbuf, XFER_ZBUF_SIZE, &prod);
        if (rc == MZ_ERROR) {
            xf_fail(x, FTPC_EXIT_XFER, false, "corrupt compressed data (MODE Z): %s",
                    mz_error(&x->z));
            return -1;
        }
        off += used;
        if (prod > 0 && file_bytes(x, x->zbuf, prod) < 0)
            return -1;
        if (rc == MZ_END && off == len)
            return 0;
        if (off == len && prod < XFER_ZBUF_SIZE)
            return 0;
    }
}

/* Wire bytes in: through the codec under MODE Z, then to the sink. Returns 0, or -1 after
 * failing the transfer. */
static int take_in(ftpc_xfer *x, const char *p, size_t len)
{
    xf_wire_moved(x, len);
    return x->zon ? inflate_in(x, p, len) : file_bytes(x, p, len);
}

/* The splice path: the bytes go from the socket to the page cache without a trip through
 * user space. Returns 1 when the caller should fall back to recv/write (splice refused), else
 * 0. */
static int receive_splice(ftpc_xfer *x)
{
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        size_t want = XFER_BUF_SIZE;
        uint64_t allow = xf_allowance(x);
        if (allow == 0)
            return 0;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n =
            splice(x->dc.s->fd, NULL, x->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            if (drain_pipe(x, (size_t)n) < 0) {
                xf_fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s",
                        x->have_part ? x->part : x->t->local, strerror(errno));
                return 0;
            }
            xf_progress(x, (size_t)n);
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
        xf_data_failed(x, errno, NULL);
        return 0;
    }
    return 0;
}

void xf_receive(ftpc_xfer *x)
{
    if (x->out_wait)
        return;
    if (x->held) {
        x->held = false;
        if (inflate_in(x, x->iobuf + x->held_off, x->held_len) < 0 || x->out_wait)
            return;
    }
    /* The overlap is read, to be compared: the splice path starts after it. */
    if (x->use_splice && !ftpc_overlap_pending(&x->ovl)) {
        if (receive_splice(x) == 0)
            return;
        xf_close_pipe(x);
    }
    size_t moved = 0;
    for (int i = 0;
         i < XFER_READS_PER_WAKEUP && moved < (size_t)XFER_CHUNKS_PER_WAKEUP * XFER_BUF_SIZE; i++) {
        size_t want = XFER_BUF_SIZE;
        uint64_t allow = xf_allowance(x);
        if (allow == 0)
            return;
        if (allow < want)
            want = (size_t)allow;
        ssize_t n = stream_read(x->dc.s, x->iobuf, want);
        if (n > 0) {
            moved += (size_t)n;
            if (take_in(x, x->iobuf, (size_t)n) < 0 || x->out_wait)
                return;
            continue;
        }
        if (n == 0) {
            receive_end(x);
            return;
        }
        if (x->dc.s->last_errno == EAGAIN)
            return;
        xf_data_failed(x, x->dc.s->last_errno, ftpc_dchan_error(&x->dc));
        return;
    }
}
