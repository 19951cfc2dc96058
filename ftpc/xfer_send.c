/* An upload's bytes: from the file to the data connection, by sendfile where nothing needs
 * to see them, else read (converted to CRLF under TYPE A, deflated under MODE Z) and written
 * from a buffer; then our end of the connection is closed cleanly. */
#include "xfer_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ascii.h"
#include "net.h"

const char *xf_src_name(const ftpc_xfer *x)
{
    return x->stream_src ? ftpc_task_src_name(x->t) : x->t->local;
}

/* Upload: reads up to cap file bytes at fpos into dst, converted to CRLF under TYPE A
 * (then at most 2 * cap bytes come out). Returns the bytes placed, 0 at the end of the file,
 * -1 after failing the transfer, -2 when standard input has nothing yet. */
static ssize_t read_source(ftpc_xfer *x, char *dst, size_t cap)
{
    char *into = x->ascii ? x->abuf : dst;
    ssize_t r;
    if (x->stream_src) {
        if (x->src_eof)
            return 0;
        r = xf_read_stdin(x, into, cap);
        if (r <= 0)
            return r;
        x->fpos += (uint64_t)r;
        xf_file_moved(x, (size_t)r);
        return x->ascii ? (ssize_t)ftpc_ascii_to_wire(x->abuf, (size_t)r, dst) : r;
    }
    if (x->fpos >= x->local_size) {
        x->src_eof = true;
        return 0;
    }
    uint64_t left = x->local_size - x->fpos;
    size_t want = left < cap ? (size_t)left : cap;
    do {
        r = pread(x->file_fd, into, want, (off_t)x->fpos);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", xf_src_name(x), strerror(errno));
        return -1;
    }
    if (r == 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "%s shrank while being uploaded", x->t->local);
        return -1;
    }
    x->fpos += (uint64_t)r;
    xf_file_moved(x, (size_t)r);
    if (!x->ascii)
        return r;
    return (ssize_t)ftpc_ascii_to_wire(x->abuf, (size_t)r, dst);
}

/* Upload: makes sure zbuf holds wire bytes to send. Returns 1 when it does, 0 when everything
 * has been produced, -1 after failing the transfer, 2 when standard input has nothing yet. */
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
                return r == -2 ? 2 : -1;
            if (r == 0)
                return 0;
            x->zlen = (size_t)r;
            continue;
        }
        if (x->in_off == x->in_len && !x->src_eof) {
            ssize_t r = read_source(x, x->iobuf, x->ascii ? XFER_BUF_SIZE / 2 : XFER_BUF_SIZE);
            if (r < 0)
                return r == -2 ? 2 : -1;
            x->in_off = 0;
            x->in_len = (size_t)r;
        }
        size_t prod = 0;
        if (x->in_off < x->in_len) {
            size_t used = 0;
            int rc = mz_add(&x->z, x->iobuf + x->in_off, x->in_len - x->in_off, &used, x->zbuf,
                            XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                xf_fail(x, FTPC_EXIT_LOCAL, false, "compressing: %s", mz_error(&x->z));
                return -1;
            }
            x->in_off += used;
        } else if (x->src_eof) {
            if (mz_ended(&x->z))
                return 0;
            int rc = mz_finish(&x->z, x->zbuf, XFER_ZBUF_SIZE, &prod);
            if (rc == MZ_ERROR) {
                xf_fail(x, FTPC_EXIT_LOCAL, false, "compressing: %s", mz_error(&x->z));
                return -1;
            }
        }
        x->zlen = prod;
    }
}

/* Upload complete: our end goes out (close_notify under TLS, then a FIN), and the connection
 * is read until the server closes it. Closing at once would reset it if the server had sent
 * anything (a TLS 1.3 session ticket), and a reset can destroy data still in flight. */
void xf_begin_close(ftpc_xfer *x)
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
        xf_close_data(x);
        x->data_eof = true;
        xf_maybe_complete(x);
        return;
    }
}

/* All the bytes the file had when the upload began are sent. A file that has grown since
 * would leave the server a copy of its first bytes only, which the check that follows would
 * call a corruption: fail it as an unfinished upload instead (the data connection is reset,
 * so the server keeps its previous version), as for a file that shrank. Returns true when
 * it did. */
static bool source_grew(ftpc_xfer *x)
{
    struct stat st;
    if (x->stream_src || fstat(x->file_fd, &st) < 0 || (uint64_t)st.st_size <= x->local_size)
        return false;
    xf_fail(x, FTPC_EXIT_LOCAL, false,
            "%s grew while being uploaded (%llu bytes when the upload began, %llu now); upload "
            "it once it stops changing",
            x->t->local, (unsigned long long)x->local_size, (unsigned long long)st.st_size);
    return true;
}

static void transmit_buffered(ftpc_xfer *x)
{
    for (int i = 0; i < XFER_READS_PER_WAKEUP; i++) {
        int r = fill_wire(x);
        if (r < 0)
            return;
        if (r == 0) {
            if (!x->closing && source_grew(x))
                return;
            xf_begin_close(x);
            return;
        }
        if (r == 2) {
            xf_wait_stdin(x);
            return;
        }
        size_t want = x->zlen - x->zoff;
        uint64_t allow = xf_allowance(x);
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
            xf_wire_moved(x, (size_t)n);
            continue;
        }
        if (n < 0 && x->dc.s->last_errno == EAGAIN) {
            x->retry_len = want;
            return;
        }
        xf_data_failed(x, x->dc.s->last_errno, ftpc_dchan_error(&x->dc));
        return;
    }
}

void xf_transmit(ftpc_xfer *x)
{
    if (!x->use_sendfile) {
        transmit_buffered(x);
        return;
    }
    for (int i = 0; i < XFER_CHUNKS_PER_WAKEUP; i++) {
        if (x->pos >= x->local_size) {
            if (!x->closing && source_grew(x))
                return;
            xf_begin_close(x);
            return;
        }
        uint64_t left = x->local_size - x->pos;
        size_t want = left < XFER_SENDFILE_CHUNK ? (size_t)left : XFER_SENDFILE_CHUNK;
        uint64_t allow = xf_allowance(x);
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
            xf_progress(x, (size_t)n);
            continue;
        }
        if (n == 0) {
            xf_fail(x, FTPC_EXIT_LOCAL, false, "%s shrank while being uploaded", x->t->local);
            return;
        }
        if (e == EAGAIN)
            return;
        if (e == EIO) {
            xf_fail(x, FTPC_EXIT_LOCAL, false, "reading %s: %s", x->t->local, strerror(e));
            return;
        }
        xf_data_failed(x, e, NULL);
        return;
    }
}

uint64_t xf_unsent(void *ud)
{
    const ftpc_xfer *x = ud;
    uint64_t moved = x->pos - x->offset;
    if (!ftpc_dchan_is_open(&x->dc))
        return x->data_eof ? 0 : moved; /* not open yet: nothing has gone */
    int q = net_queued_bytes(x->dc.s->fd);
    uint64_t queued = q > 0 ? (uint64_t)q : 0;
    uint64_t arrived_wire = x->wire > queued ? x->wire - queued : 0;
    /* Wire bytes are not file bytes under MODE Z and TYPE A: the file bytes that reached the
     * server are those the codec took, scaled by the share of its output that arrived. The
     * file bytes read and not yet given to the codec wait in iobuf; the output not yet
     * written, in zbuf. */
    uint64_t waiting_in = x->zon ? x->in_len - x->in_off : 0;
    uint64_t taken = moved > waiting_in ? moved - waiting_in : 0;
    uint64_t produced = x->wire + (x->zlen - x->zoff);
    uint64_t arrived = arrived_wire; /* a plain stream's: one file byte a wire byte */
    if (produced != taken)
        arrived =
            produced > 0 ? (uint64_t)((double)arrived_wire * (double)taken / (double)produced) : 0;
    if (arrived > moved)
        arrived = moved;
    return moved - arrived;
}
