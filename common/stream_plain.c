/* The plain socket stream: each op is one system call, with EINTR retried so that a signal
 * (the stop flag's handler) never surfaces as a transfer error. */
#include "stream.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_read(stream *s, void *dst, size_t len)
{
    ssize_t n;
    do {
        n = recv(s->fd, dst, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        s->last_errno = errno;
    return n;
}

static ssize_t plain_write(stream *s, const void *src, size_t len)
{
    ssize_t n;
    do {
        /* MSG_NOSIGNAL: a vanished peer gives EPIPE here instead of SIGPIPE. */
        n = send(s->fd, src, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        s->last_errno = errno;
    return n;
}

static ssize_t plain_sendfile(stream *s, int in_fd, off_t *offset, size_t len)
{
    ssize_t n;
    do {
        n = sendfile(s->fd, in_fd, offset, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        s->last_errno = errno;
    return n;
}

static int plain_shutdown(stream *s)
{
    /* Never "call again": a socket whose peer is already gone (ENOTCONN) has no write side
     * left to end, which is the outcome the caller asked for. */
    if (shutdown(s->fd, SHUT_WR) < 0)
        s->last_errno = errno;
    return 0;
}

static void plain_close(stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int plain_want(const stream *s)
{
    return 0;
}

static size_t plain_pending(const stream *s)
{
    return 0;
}

static const stream_ops plain_ops = {
    .read = plain_read,
    .write = plain_write,
    .sendfile = plain_sendfile,
    .shutdown = plain_shutdown,
    .close = plain_close,
    .want = plain_want,
    .pending = plain_pending,
};

void stream_plain_init(stream *s, int fd)
{
    s->ops = &plain_ops;
    s->fd = fd;
    s->last_errno = 0;
}
