/* MODE Z transfers (draft-preston-ftpext-deflate): each transfer's data is one zlib stream,
 * ended with Z_FINISH by the sender.
 *
 * The codec sits between the file-side buffer and the data stream, so the same code runs over
 * a plain socket and a TLS connection (the stream's ops differ, not this file):
 *   download (RETR):                   file -> [worker: deflate] -> zbuf -> stream
 *   download (LIST, NLST, MLSD):       listing -> fbuf -> deflate -> zbuf -> stream
 *   upload (STOR, APPE, STOU):         stream -> zbuf -> inflate -> fbuf -> file
 * A file download deflates on a worker thread (xfer_zjob.h), the loop only sending what it
 * made; listings (small) and uploads (inflate is cheap, and bounded below) stay here.
 * TYPE A works on the file side of the codec: LF becomes CRLF before compression, CRLF
 * becomes LF after decompression (the compressed data is the ASCII form, as in MODE S).
 * sendfile and splice are not used: the bytes must pass through the codec.
 *
 * Counts: x->done is file bytes (what xferlog, the 226 reply and STAT report, as in stream
 * mode; a REST offset is in file bytes too), x->wire the compressed bytes on the connection.
 *
 * Fairness and memory: a download's turn on the loop (a listing's, or a file's when no worker
 * could be had) passes at most MZ_TURN_BUDGET uncompressed bytes
 * through the codec (less at high deflate levels), so compressing a very compressible file
 * (little to send, much to compute) cannot hold the loop; an upload inflates at most
 * MZ_INFLATE_TURN per turn and writes it to the file before the next, so a "zip bomb" only
 * grows at the file-write pace, in bounded buffers, and no faster than its share of the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ftp_reply.h"
#include "ftps.h"
#include "logpath.h"
#include "server.h"
#include "session.h"
#include "xfer_int.h"
#include "xfer_zjob.h"

/* A download's turn: at most MZ_TURN_BUDGET uncompressed bytes, given to deflate in slices of
 * MZ_SLICE, and ended once deflate has taken MZ_TURN_NS in it. Deflate's pace varies some
 * 40 times with the level and the data (on text, one core here: levels 1..3 45..85 MiB/s, 6
 * ~13, 9 2..9; stored blocks far faster), so a byte count cannot bound a turn's time: at
 * 64 KiB a turn at level 6 (some 5 ms), a plain download beside it moved its own 64 KiB a
 * round at 18 MiB/s. Sized from the last turn's pace instead, a turn that met slow data
 * after fast held the loop up to 380 ms. A slice bounds the overrun (2 KiB: some 15 ms at the
 * slowest pace seen, level 9 on two-letter noise). Alone, a MODE Z download takes turn after
 * turn: the short turn only adds a loop round (some microseconds) per quarter millisecond. */
#define MZ_TURN_BUDGET (256 * 1024)
#define MZ_TURN_NS 250000
#define MZ_SLICE (2 * 1024)
/* An upload's turn: the bytes it inflates are written to the file on the loop, and copying
 * them into the page cache costs more than inflating them. So it moves what any other
 * transfer moves a turn (XFER_WAKEUP_BUDGET). At 256 KiB a turn, a download beside a small
 * stream inflating to 2 GiB of zeros ran at 14..45 MiB/s (760 beside a plain upload); at
 * 64 KiB, 240..300 MiB/s, while the upload itself went as fast (2 GiB in 6 s) for the same
 * CPU time. */
#define MZ_INFLATE_TURN (64 * 1024)
/* Deflate hands out its output in small blocks: a download writes to the stream once this
 * much is gathered (or at the end of a turn or of the data), not after every block. */
#define MZ_SEND_MIN (64 * 1024)
/* Wire bytes an upload reads per turn: bounds even a stream that decodes to nothing (a
 * client sending endless empty blocks), which inflate parses at some 200 MiB/s. At 4 MiB a
 * turn (20 ms) a download beside such a stream ran at 9 MiB/s; at what other transfers move
 * a turn, 82. Compressed data reaches the inflate budget first, and stored data moves 64 KiB
 * a turn either way. */
#define MZ_WIRE_BUDGET (64 * 1024)

int xfer_mz_begin(xfer *x, int level)
{
    x->zmode = true;
    x->z_turn = x->kind == XK_STOR ? MZ_INFLATE_TURN : MZ_TURN_BUDGET;
    if (mz_init(&x->z, x->kind == XK_STOR ? MZ_INFLATE : MZ_DEFLATE, level) < 0)
        return -1;
    /* lftp asks for MODE Z whenever FEAT offers it, for an ISO as for a log: without this,
     * its downloads of data that does not compress ran at deflate's pace on the event loop
     * (31 MiB/s against 775 in MODE S here), for nothing gained. */
    mz_adapt(&x->z);
    return 0;
}

void xfer_mz_wire_moved(xfer *x, size_t n)
{
    xfer_rate_spend(x, n); /* --max-rate counts these compressed bytes (xfer_int.h) */
    x->wire += (long long)n;
    x->last_progress = ev_now(x->s->srv->loop);
}

ssize_t xfer_mz_send(xfer *x, size_t max)
{
    size_t len = buf_len(&x->zbuf), room = xfer_rate_room(x);
    if (len > max)
        len = max;
    if (len > room)
        len = room;
    if (len == 0)
        return 0;
    ssize_t n = stream_write(&x->data, buf_head(&x->zbuf), len);
    if (n < 0) {
        if (x->data.last_errno != EAGAIN)
            xfer_fail_network(x, x->data.last_errno);
        return -1;
    }
    buf_consume(&x->zbuf, (size_t)n);
    xfer_mz_wire_moved(x, (size_t)n);
    return n;
}

/* Decoded bytes are progress too: a small stream that inflates for long is not stalled. */
static void inflated(xfer *x, size_t n)
{
    x->done += (long long)n;
    if (n > 0)
        x->last_progress = ev_now(x->s->srv->loop);
}

/* ------------------------------------------------------------------ downloads */

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void xfer_mz_mark_output(xfer *x)
{
    const xfer_zmark *last = x->zmarks_n ? &x->zmarks[(x->zmarks_n - 1) % XFER_ZMARKS] : NULL;
    if (last != NULL && x->z_out - last->out < XFER_ZMARK_STEP)
        return;
    x->zmarks[x->zmarks_n % XFER_ZMARKS] = (xfer_zmark){x->z_out, x->done};
    x->zmarks_n++;
}

void xfer_mz_pump_out(xfer *x)
{
    if (x->kind == XK_RETR && !x->z_inline) {
        if (x->zjob || xfer_zjob_start(x) == 0) {
            xfer_zjob_pump(x);
            return;
        }
        /* No worker to be had (out of memory or descriptors): the loop deflates the file
         * itself, in the turns below, as it does a listing. */
        x->z_inline = true;
    }
    size_t budget = x->z_turn;
    long long codec_ns = 0;
    for (;;) {
        bool ended = mz_ended(&x->z);
        bool send = ended || budget == 0 || buf_len(&x->zbuf) >= MZ_SEND_MIN;
        if (!buf_empty(&x->zbuf) && send) {
            if (xfer_mz_send(x, SIZE_MAX) <= 0)
                return; /* the rate's tokens are spent (the pump pauses), or the socket */
            continue;
        }
        if (ended) {
            xfer_end_stream(x);
            return;
        }
        if (budget == 0)
            return; /* the next writable event continues */
        if (buf_empty(&x->fbuf) && !x->eof && !x->z_more) {
            int filled = xfer_fill(x);
            if (filled < 0) {
                xfer_fail_local(x, errno);
                return;
            }
            if (filled > 0)
                return; /* a worker reads the next bytes from the disk */
            continue;
        }
        size_t room, used = 0, made = 0;
        char *out = buf_tail(&x->zbuf, &room);
        if (!out) { /* never full here: a full zbuf is sent first */
            xfer_fail_local(x, ENOMEM);
            return;
        }
        int rc;
        if (buf_empty(&x->fbuf) && x->eof) {
            rc = mz_finish(&x->z, out, room, &made); /* MZ_AGAIN until the trailer is out */
        } else {
            size_t len = buf_len(&x->fbuf) < budget ? buf_len(&x->fbuf) : budget;
            if (len > MZ_SLICE)
                len = MZ_SLICE;
            long long t0 = now_ns();
            rc = mz_add(&x->z, buf_head(&x->fbuf), len, &used, out, room, &made);
            codec_ns += now_ns() - t0;
            buf_consume(&x->fbuf, used);
            budget = codec_ns >= MZ_TURN_NS ? 0 : budget - used; /* the turn's time is up */
            x->done += (long long)used;
            x->z_more = made == room;
        }
        buf_commit(&x->zbuf, made);
        x->z_out = x->z.total_out;
        x->z_stored = x->z.stored_in;
        xfer_mz_mark_output(x);
        if (rc == MZ_ERROR) {
            char text[200];
            snprintf(text, sizeof text, "Local error: compression failed (%s).", mz_error(&x->z));
            xfer_finish(x, FTP_LOCAL_ERROR, text, false);
            return;
        }
    }
}

/* ------------------------------------------------------------------ uploads */

/* The client's data is not a valid zlib stream: nothing of it is trusted or kept (the
 * decoded bytes before the fault may already be wrong: the checksum comes last). */
static void upload_corrupt(xfer *x)
{
    char text[200];
    snprintf(text, sizeof text, "Upload failed: invalid compressed data (%s); nothing stored.",
             mz_error(&x->z));
    char shown[LOG_PATH_BUF];
    session_log(x->s, "MODE Z upload %s: %s",
                log_path(x->vpath ? x->vpath : "", shown, sizeof shown), mz_error(&x->z));
    xfer_finish(x, FTP_LOCAL_ERROR, text, false);
}

/* The data connection ended: a complete stream commits (after the usual settling); one
 * without its end marker was cut, like a broken connection in stream mode: 426, and what
 * was decoded (a valid prefix) stays as the partial file for a resume. */
static void upload_eof(xfer *x)
{
    while (!mz_ended(&x->z)) {
        if (buf_full(&x->fbuf) && xfer_drain_to_file(x) < 0) {
            xfer_fail_local(x, errno);
            return;
        }
        size_t room, made = 0;
        char *out = buf_tail(&x->fbuf, &room);
        if (!out) {
            xfer_fail_local(x, ENOMEM);
            return;
        }
        int rc = mz_finish(&x->z, out, room, &made);
        buf_commit(&x->fbuf, made);
        inflated(x, made);
        if (rc == MZ_ERROR) {
            char shown[LOG_PATH_BUF];
            session_log(x->s, "MODE Z upload %s: %s",
                        log_path(x->vpath ? x->vpath : "", shown, sizeof shown), mz_error(&x->z));
            if (xfer_drain_to_file(x) < 0) {
                xfer_fail_local(x, errno);
                return;
            }
            xfer_finish(x, FTP_TRANSFER_ABORTED,
                        "Connection closed; transfer aborted (compressed data ended early).", true);
            return;
        }
    }
    if (xfer_drain_to_file(x) < 0) {
        xfer_fail_local(x, errno);
        return;
    }
    xfer_upload_data_ended(x);
}

void xfer_mz_pump_in(xfer *x)
{
    size_t budget = x->z_turn, wire_budget = MZ_WIRE_BUDGET;
    for (;;) {
        /* Decode what is buffered (or still held by the codec) before reading more. */
        if (!buf_empty(&x->zbuf) || x->z_more) {
            if (budget == 0)
                break; /* the backlog is picked up by the next turn (xfer_mz_backlog) */
            if (buf_full(&x->fbuf) && xfer_drain_to_file(x) < 0) {
                xfer_fail_local(x, errno);
                return;
            }
            size_t room, used = 0, made = 0;
            char *out = buf_tail(&x->fbuf, &room);
            if (!out) {
                xfer_fail_local(x, ENOMEM);
                return;
            }
            if (room > budget)
                room = budget;
            int rc = mz_add(&x->z, buf_head(&x->zbuf), buf_len(&x->zbuf), &used, out, room, &made);
            buf_consume(&x->zbuf, used);
            buf_commit(&x->fbuf, made);
            inflated(x, made);
            budget -= made;
            x->z_more = rc == MZ_OK && made == room;
            if (rc == MZ_ERROR) {
                upload_corrupt(x);
                return;
            }
            continue;
        }
        if (wire_budget == 0)
            break;
        size_t avail;
        char *tail = buf_tail(&x->zbuf, &avail);
        if (!tail) {
            xfer_fail_local(x, ENOMEM);
            return;
        }
        size_t want = avail < wire_budget ? avail : wire_budget;
        if (want > xfer_rate_room(x))
            want = xfer_rate_room(x);
        if (want == 0)
            break; /* the rate's tokens are spent: the pump pauses the transfer */
        ssize_t n = stream_read(&x->data, tail, want);
        if (n > 0) {
            buf_commit(&x->zbuf, (size_t)n);
            xfer_mz_wire_moved(x, (size_t)n);
            wire_budget -= (size_t)n;
            continue;
        }
        if (n == 0) {
            upload_eof(x);
            return;
        }
        if (x->data.last_errno == EAGAIN)
            break;
        int err = x->data.last_errno;
        if (mz_ended(&x->z)) {
            /* The end marker and the checksum came: the data is whole, however the
             * connection then ended (without TLS close_notify, or by a reset). */
            char shown[LOG_PATH_BUF];
            session_log(x->s,
                        "MODE Z upload %s: the data connection ended without a clean "
                        "close after the complete stream (%s): taken as complete",
                        log_path(x->vpath ? x->vpath : "", shown, sizeof shown),
                        stream_is_tls(&x->data) ? ftps_data_error(x) : strerror(err));
            upload_eof(x);
            return;
        }
        if (xfer_drain_to_file(x) < 0)
            xfer_fail_local(x, errno);
        else
            xfer_fail_network(x, err);
        return;
    }
    /* The file write is synchronous, so fbuf is empty after each turn. */
    if (xfer_drain_to_file(x) < 0)
        xfer_fail_local(x, errno);
}

bool xfer_mz_backlog(const xfer *x)
{
    return x->zmode && x->state == XS_RUNNING && (!buf_empty(&x->zbuf) || x->z_more);
}
