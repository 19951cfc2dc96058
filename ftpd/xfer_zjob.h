/* MODE Z file downloads deflate on worker threads, not on the event loop (DESIGN.md section
 * 2: nothing slow runs on the loop). Deflate costs 10 to 500 times what sending the bytes
 * does, and on the loop every MODE Z download's share of it slowed every other transfer and
 * reply, and compression never used a second core.
 *
 * Each such transfer has one job, which a worker runs piece after piece: it reads the file
 * (TYPE A converted) from the transfer's offset and deflates it into the job's output buffer
 * until the buffer is full, a bounded amount of the file is read, a bounded time has passed,
 * or the stream is finished. The loop takes the piece by swapping that buffer with the
 * transfer's drained zbuf and at once hands the worker the next piece, so the worker fills one
 * buffer while the loop sends the other (pipelined), and a transfer never holds more than
 * those two (a client that reads slowly holds its worker back, not the server's memory).
 * The job reads only what the transfer's read-ahead (xfer_io.h) has in the page cache, so a
 * slow disk holds up a worker no more than it holds up the loop.
 *
 * Listings keep deflating on the loop (xfer_mz.c): they are small, and their lines come from a
 * worker already.
 */
#ifndef XFER_ZJOB_H
#define XFER_ZJOB_H

#include <stdbool.h>

struct xfer;
struct server;

/* Moves x's codec (prepared by xfer_mz_begin) into a new job for x's file, from x->offset.
 * Returns 0, or -1 with errno (the pool or memory could not be had; x->z is then untouched). */
int xfer_zjob_start(struct xfer *x);
/* One turn of the transfer: sends what the worker made, takes its next piece, hands it more
 * work; ends the stream (xfer_end_stream) once the last piece is sent. May free x. */
void xfer_zjob_pump(struct xfer *x);
/* True when the transfer has nothing to send until its worker (or its read-ahead) comes
 * back: it wants no socket events meanwhile, and is not idle. */
bool xfer_zjob_waiting(const struct xfer *x);
/* The transfer ends (release): its job is freed, or, while a worker runs it, told to stop
 * and freed when it reports. */
void xfer_zjob_release(struct xfer *x);
/* At shutdown, after the sessions are closed: joins the workers and frees the jobs they did
 * not report. */
void xfer_zjob_shutdown(struct server *srv);

#endif
