/* Private to the transfer code: what xfer.c (the state machine and the stream-mode pumps)
 * shares with xfer_mz.c (the MODE Z pumps). */
#ifndef XFER_INT_H
#define XFER_INT_H

#include <stdbool.h>

#include "xfer.h"

/* Ends a transfer: commits an upload when code is 226, replies code and text (a MODE Z
 * transfer's 226 names its file and wire bytes instead), logs, frees x and lets the session
 * read commands again. keep_partial: an uncommitted upload's data stays for a resume. */
void xfer_finish(xfer *x, int code, const char *text, bool keep_partial);
/* A local-file failure (451, or 452/552 for a full disk, which keeps nothing). */
void xfer_fail_local(xfer *x, int err);
/* A network failure (426); an upload's data is kept for a resume. */
void xfer_fail_network(xfer *x, int err);
/* Download: refills the empty fbuf from the file (ASCII-converted under TYPE A) or the
 * listing; sets x->eof at the end. Returns 0; 1 when nothing came because a worker reads the
 * file's next bytes from the disk or fills the listing's lines (xfer_io.h: the transfer is
 * resumed when they are in); or -1 with errno. */
int xfer_fill(xfer *x);
/* Download: every byte is written; ends the stream (TLS close_notify), then 226. */
void xfer_end_stream(xfer *x);
/* Upload: writes all of fbuf to the file (CRLF to LF under TYPE A). Returns 0 or -1
 * (errno). */
int xfer_drain_to_file(xfer *x);
/* Upload: the peer's data ended cleanly (fbuf already written): settles, then commits. */
void xfer_upload_data_ended(xfer *x);

/* --max-rate, --anon-max-rate. A transfer's cap counts the bytes on its data connection, as
 * the network sees them: MODE Z's compressed bytes (so a compressible file arrives faster in
 * file bytes, for the same bandwidth), TLS's plaintext (its framing adds under 1%), TYPE A's
 * CRLFs. A turn starts only with enough tokens (xfer.c, pump) and moves at most
 * xfer_rate_room; every byte moved is spent as it moves (progress, and xfer_mz.c's
 * wire_moved). */

/* Bytes the data connection may still move this turn: SIZE_MAX without a limit. */
static inline size_t xfer_rate_room(const xfer *x)
{
    return ratecap_room(&x->rate);
}
/* n bytes moved on the data connection. */
static inline void xfer_rate_spend(xfer *x, size_t n)
{
    ratecap_spend(&x->rate, n);
}

/* MODE Z (xfer_mz.c). The codec sits between fbuf (file-side bytes) and zbuf (wire bytes). */

/* Prepares x->z for x's direction at the session's level. Returns 0, or -1 (errno). */
int xfer_mz_begin(xfer *x, int level);
/* One turn of a MODE Z download: file or listing -> fbuf -> deflate -> zbuf -> stream; a
 * file's deflate runs on a worker (xfer_zjob.h), the loop only sends what it made. */
void xfer_mz_pump_out(xfer *x);
/* n compressed bytes moved on the data connection. */
void xfer_mz_wire_moved(xfer *x, size_t n);
/* Sends at most max bytes of zbuf, within the rate's room. Returns the bytes sent; 0 when
 * none may go now (max or the rate's tokens spent); -1 when the socket takes none (EAGAIN)
 * or failed (the transfer then failed: x may be freed). */
ssize_t xfer_mz_send(xfer *x, size_t max);
/* A download's codec output (x->z_out) and file bytes (x->done) moved on: marks them every
 * XFER_ZMARK_STEP bytes of output, for STAT (xfer_zmark). */
void xfer_mz_mark_output(xfer *x);
/* One turn of a MODE Z upload: stream -> zbuf -> inflate -> fbuf -> file. */
void xfer_mz_pump_in(xfer *x);
/* True when an upload turn stopped at its budget with input still buffered here (no socket
 * event will announce it again): the caller schedules another turn. */
bool xfer_mz_backlog(const xfer *x);

#endif
