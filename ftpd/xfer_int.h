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
 * listing; sets x->eof at the end. Returns 0, or -1 with errno. */
int xfer_fill(xfer *x);
/* Download: every byte is written; ends the stream (TLS close_notify), then 226. */
void xfer_end_stream(xfer *x);
/* Upload: writes all of fbuf to the file (CRLF to LF under TYPE A). Returns 0 or -1
 * (errno). */
int xfer_drain_to_file(xfer *x);
/* Upload: the peer's data ended cleanly (fbuf already written): settles, then commits. */
void xfer_upload_data_ended(xfer *x);

/* MODE Z (xfer_mz.c). The codec sits between fbuf (file-side bytes) and zbuf (wire bytes). */

/* Prepares x->z for x's direction at the session's level. Returns 0, or -1 (errno). */
int xfer_mz_begin(xfer *x, int level);
/* One turn of a MODE Z download: file or listing -> fbuf -> deflate -> zbuf -> stream. */
void xfer_mz_pump_out(xfer *x);
/* One turn of a MODE Z upload: stream -> zbuf -> inflate -> fbuf -> file. */
void xfer_mz_pump_in(xfer *x);
/* True when an upload turn stopped at its budget with input still buffered here (no socket
 * event will announce it again): the caller schedules another turn. */
bool xfer_mz_backlog(const xfer *x);

#endif
