/* A data connection as a stream: plain, or TLS (PROT P) resuming the control connection's
 * session, so transfer code reads and writes it the same way whatever it is. The handshake
 * runs non-blocking on the loop; the fd's registration is always what the owner waits for
 * plus what the stream itself needs (a TLS read that must write first, and so on).
 *
 * Embedded in its owner (a transfer, a segment); it must not move while open.
 */
#ifndef FTPC_DCHAN_H
#define FTPC_DCHAN_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "ev.h"
#include "stream.h"
#include "stream_tls.h"

typedef struct ftpc_dchan {
    union {
        stream plain;
        stream_tls tls;
    } u;
    stream *s; /* NULL while closed */
    ev_loop *loop;
    bool hs_done;
} ftpc_dchan;

/* A closed channel. */
void ftpc_dchan_init(ftpc_dchan *d, ev_loop *loop);

/* Wraps the connected fd of c's data connection (ftpc_conn_take_data or data_open). Returns
 * 0, or -1 with a message in err and fd closed. */
int ftpc_dchan_open(ftpc_dchan *d, ftpc_conn *c, int fd, char *err, size_t err_size);

static inline bool ftpc_dchan_is_open(const ftpc_dchan *d)
{
    return d->s != NULL;
}

/* Advances the handshake. Returns 1 when done (at once for a plain stream), 0 while waiting
 * (the registration then asks for what it needs: call ftpc_dchan_watch again after each
 * try), -1 when it failed, with a message in err. */
int ftpc_dchan_handshake(ftpc_dchan *d, char *err, size_t err_size);

/* For a control connection that timed out during a transfer: the server had begun it
 * (began: its preliminary reply, 150 or 125, came, or in active mode it connected) and the
 * data connection's TLS handshake is still under way. What the client waited for was then
 * the handshake, not a reply, and the message says so (ftpc_dchan_hs_timeout_msg); before
 * the server began, the wait was for its answer to the command, and the control
 * connection's message stands. */
static inline bool ftpc_dchan_hs_stalled(const ftpc_dchan *d, bool began)
{
    return began && d->s != NULL && !d->hs_done;
}

/* "the TLS handshake of the data connection timed out after N s" (timeout_ms: --timeout)
 * into out. Returns out. */
const char *ftpc_dchan_hs_timeout_msg(long timeout_ms, char *out, size_t n);

/* Registers the fd for base (EV_READ/EV_WRITE the owner waits for; 0 for nothing) plus the
 * stream's own wants, with cb(ud). */
void ftpc_dchan_watch(ftpc_dchan *d, int base, ev_io_cb cb, void *ud);

/* Bytes decrypted and waiting inside the stream, which no socket event will announce. */
size_t ftpc_dchan_pending(const ftpc_dchan *d);

/* The stream's own account of its last failure (a TLS alert, a protocol error), or NULL when
 * errno says it all. */
const char *ftpc_dchan_error(const ftpc_dchan *d);

/* After a read returned 0: true when the data ended without the server's TLS close_notify,
 * with a FIN alone, which anyone on the path can send to cut the data short. False for a
 * plain connection (nothing there proves an end) and after close_notify. */
bool ftpc_dchan_end_unproven(const ftpc_dchan *d);

/* An upload cut short: to the server a FIN on its data connection is the end of the file,
 * and it could keep the bytes so far as the whole upload (or, writing aside, put them after
 * what comes next); a reset makes it an interrupted one. The close that follows resets the
 * connection (SO_LINGER 0). Nothing when closed. */
void ftpc_dchan_reset_on_close(ftpc_dchan *d);

/* How long a transfer whose data connection failed during its command waits for the
 * server's reply to that command before it reports the socket's error (ms): a few seconds,
 * or timeout_ms (the control connection's) when shorter. A server that stops an upload (552
 * past a quota or its file size limit, 452 for a full disk, 426) sends its reply just before
 * or just after it closes or resets the data connection; that reply is the reason to report,
 * and its code decides the exit status and whether a retry can help. */
long ftpc_dchan_reply_wait_ms(long timeout_ms);

/* Closes at once (no close_notify: for aborts and finished reads). Safe when closed. */
void ftpc_dchan_close(ftpc_dchan *d);

#endif
