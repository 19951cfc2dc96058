/* Upload writers: threads that move a plain binary upload's bytes from its data socket into
 * its file (splice through a pipe of their own), so the copy into the page cache, and any
 * slow disk behind it, stays off the event loop and spreads over every core, as a forking
 * server's uploads do. The loop only watches the socket: when it turns readable, the
 * transfer queues one move and stops watching until the move's result comes back.
 */
#ifndef UPWRITER_H
#define UPWRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "ev.h"

typedef struct upwriter upwriter;

typedef struct upwrite_result {
    size_t moved;  /* bytes taken from the socket and written to the file */
    bool eof;      /* the peer closed the data connection after those bytes */
    int err;       /* 0, or the errno that stopped the move */
    bool file_err; /* err came from the file (a full disk), not from the socket */
} upwrite_result;

/* Runs on the loop thread with the move's result. */
typedef void (*upwrite_done_cb)(void *ctx, unsigned long tag, const upwrite_result *r);

/* Starts `threads` (>= 1) writers at the loop's priority. NULL with errno. */
upwriter *upwriter_new(ev_loop *loop, int threads);
/* Joins the writers. Moves not yet delivered are dropped without their callbacks. */
void upwriter_free(upwriter *w);
/* Queues a move: a writer reads sock_fd until it has no data (EAGAIN), its end, or `max`
 * bytes, writing each byte to file_fd at its position. Both fds are duplicated, so the
 * caller may close its own at any time; the bytes still land in the file. done(ctx, tag,
 * result) follows on the loop. Returns 0, or -1 with errno. */
int upwriter_submit(upwriter *w, int sock_fd, int file_fd, size_t max, upwrite_done_cb done,
                    void *ctx, unsigned long tag);

#endif
