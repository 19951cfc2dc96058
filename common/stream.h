/* A byte stream over a connected socket with a small ops table, so transfer code never asks
 * which kind of stream it drives. The plain socket stream lives here; a TLS stream embeds
 * `stream` as its first member and supplies its own ops.
 */
#ifndef STREAM_H
#define STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct stream stream;

typedef struct stream_ops {
    /* Both return bytes moved, 0 on orderly EOF (read only), or -1 with s->last_errno set
     * (EAGAIN when the stream must wait for the events stream_want() reports). */
    ssize_t (*read)(stream *s, void *dst, size_t len);
    ssize_t (*write)(stream *s, const void *src, size_t len);
    /* Sends the file's bytes directly where the stream allows it (plain sockets); NULL when
     * the stream must see the bytes (TLS, compression). Same return as write. */
    ssize_t (*sendfile)(stream *s, int in_fd, off_t *offset, size_t len);
    /* Moves up to len bytes from the stream straight into out_fd (a file, written at its
     * position) without copying them through user space; NULL where the stream must see the
     * bytes. Returns bytes written to out_fd, 0 at EOF, or -1 with s->last_errno (EAGAIN: no
     * data now; any other errno: *file_err tells whether out_fd failed rather than the
     * stream). */
    ssize_t (*recvfile)(stream *s, int out_fd, size_t len, bool *file_err);
    /* Ends the write side. Returns 0 when done, -1 with EAGAIN to be called again. */
    int (*shutdown)(stream *s);
    /* Closes the fd and frees what the stream owns (not the stream struct itself). */
    void (*close)(stream *s);
    /* Events the stream itself needs beyond the caller's (a TLS handshake wanting to read
     * while the caller wants to write). */
    int (*want)(const stream *s);
    /* Bytes already decoded and waiting inside the stream (must be drained before sleeping). */
    size_t (*pending)(const stream *s);
    /* Completes the stream's own set-up (a TLS handshake) before payload moves. Returns 0 when
     * done, -1 with last_errno (EAGAIN: call again on the events stream_want() reports). NULL
     * for streams with nothing to set up. */
    int (*handshake)(stream *s);
} stream_ops;

struct stream {
    const stream_ops *ops;
    int fd;
    int last_errno;
    int pipe_fds[2]; /* recvfile's in-kernel staging pipe, made on first use; -1 until then */
};

/* Makes s a plain socket stream over fd (which the stream now owns). */
void stream_plain_init(stream *s, int fd);

/* One round of socket -> pipe -> file inside the kernel: up to len bytes from the socket fd
 * into the empty pipe (without waiting), then all of them on into out_fd at its position.
 * Returns the bytes written, 0 at the socket's EOF, or -1 with errno (EAGAIN: no data now).
 * *file_err tells whether out_fd failed; bytes may then remain in the pipe. Used by the plain
 * stream's recvfile and by ftpd's upload writers, which keep a pipe of their own. */
ssize_t splice_via_pipe(int fd, const int pipe_fds[2], int out_fd, size_t len, bool *file_err);

static inline ssize_t stream_read(stream *s, void *dst, size_t len)
{
    return s->ops->read(s, dst, len);
}
static inline ssize_t stream_write(stream *s, const void *src, size_t len)
{
    return s->ops->write(s, src, len);
}
static inline int stream_shutdown(stream *s)
{
    return s->ops->shutdown(s);
}
static inline void stream_close(stream *s)
{
    s->ops->close(s);
}
static inline int stream_want(const stream *s)
{
    return s->ops->want ? s->ops->want(s) : 0;
}
static inline size_t stream_pending(const stream *s)
{
    return s->ops->pending ? s->ops->pending(s) : 0;
}
static inline int stream_handshake(stream *s)
{
    return s->ops->handshake ? s->ops->handshake(s) : 0;
}

#endif
