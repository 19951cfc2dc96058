/* A transfer's file-system work on worker threads, so that a slow disk never holds every
 * other session still (DESIGN.md section 2):
 *
 * - Read-ahead: a download from a file system where a read may wait for a disk or a network
 *   reads each window of its file on a worker before the loop sends it, so that the loop's
 *   sendfile and pread find the bytes in the page cache. tmpfs and ramfs hold their files in
 *   memory and skip it; a window the page cache already holds (asked with preadv2's
 *   RWF_NOWAIT, where the file system answers it) needs no worker at all.
 * - Listings: each buffer of a LIST, NLST or MLSD is filled on a worker (the directory read,
 *   a stat per entry, owner names), the loop only sends it.
 */
#ifndef XFER_IO_H
#define XFER_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct xfer;
struct server;
struct workq;

/* Bytes one worker reads ahead at a time; the next window starts once less than half of this
 * is left ahead of the transfer. */
#define READAHEAD_WINDOW (2 * 1024 * 1024)

typedef struct readahead_state {
    enum { RA_UNDECIDED = 0, RA_OFF, RA_ON } mode;
    bool probe;   /* RWF_NOWAIT answers for this file: a cached window needs no worker */
    bool busy;    /* a worker is reading the window that starts at `ready` */
    bool waiting; /* ...and the transfer waits for it: the read's end resumes it */
    off_t ready;  /* the file is read into the page cache up to here */
} readahead_state;

/* Bytes at x->offset that a download may read from its file now without waiting for a disk:
 * at most want, and 0 while a worker reads them (x->ra.waiting; the transfer is resumed
 * through its drain timer when they are in). Starts the next window early. */
size_t readahead_avail(struct xfer *x, size_t want);
/* Listings: a worker fills the transfer's empty buffer with the listing's next lines. Returns
 * 0 when they are there (x->eof at the listing's end); 1 while a worker fills them
 * (x->list_busy: the transfer is resumed through its drain timer). */
int xfer_io_list_fill(struct xfer *x);
/* The pool for file-system work that must not wait on the loop, started at its first use;
 * NULL with errno when it cannot be. */
struct workq *xfer_io_queue(struct server *srv);
/* At shutdown, after the sessions are closed: stops the workers and frees the work they did
 * not report. */
void xfer_io_shutdown(struct server *srv);

#endif
