/* The plain socket stream: each op is one system call, with EINTR retried so that a signal
 * (the stop flag's handler) never surfaces as a transfer error. */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
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

/* socket -> pipe -> file with splice(2): the payload stays in the kernel. Larger pipes mean
 * fewer calls; the default 64 KiB pipe halves the gain. */
#define PLAIN_PIPE_SIZE (1024 * 1024)

static ssize_t plain_recvfile(stream *s, int out_fd, size_t len, bool *file_err)
{
    *file_err = false;
    if (s->pipe_fds[0] < 0) {
        if (pipe2(s->pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
            s->pipe_fds[0] = s->pipe_fds[1] = -1;
            s->last_errno = errno;
            *file_err = true;
            return -1;
        }
        (void)fcntl(s->pipe_fds[1], F_SETPIPE_SZ, PLAIN_PIPE_SIZE); /* best effort */
    }
    if (len > PLAIN_PIPE_SIZE)
        len = PLAIN_PIPE_SIZE;
    /* Everything taken from the socket goes to the file now, so the pipe is empty between
     * calls and no byte can be stranded in it. */
    ssize_t n = splice_via_pipe(s->fd, s->pipe_fds, out_fd, len, file_err);
    if (n < 0)
        s->last_errno = errno;
    return n;
}

ssize_t splice_via_pipe(int fd, const int pipe_fds[2], int out_fd, size_t len, bool *file_err)
{
    *file_err = false;
    ssize_t in;
    do {
        in = splice(fd, NULL, pipe_fds[1], NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (in < 0 && errno == EINTR);
    if (in <= 0)
        return in;
    ssize_t out = 0;
    while (out < in) {
        ssize_t n = splice(pipe_fds[0], NULL, out_fd, NULL, (size_t)(in - out), SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            *file_err = true;
            return -1;
        }
        out += n;
    }
    return out;
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
    for (int i = 0; i < 2; i++) {
        if (s->pipe_fds[i] >= 0)
            close(s->pipe_fds[i]);
        s->pipe_fds[i] = -1;
    }
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
    .recvfile = plain_recvfile,
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
    s->pipe_fds[0] = s->pipe_fds[1] = -1;
}
