/* Standard output written without blocking the loop and without O_NONBLOCK on fd 1. */
#include "stdsink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A description of fd's own pipe or terminal, or -1. O_NOCTTY: a terminal opened again must
 * not become ftpc's controlling terminal. The check after the open makes sure it is the same
 * object (the name of a pipe in /proc is no path to it but a way to it). */
static int reopen_nonblocking(int fd, const struct stat *st)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (nfd < 0)
        return -1;
    struct stat nst;
    if (fstat(nfd, &nst) < 0 || nst.st_dev != st->st_dev || nst.st_ino != st->st_ino ||
        nst.st_rdev != st->st_rdev) {
        close(nfd);
        return -1;
    }
    return nfd;
}

void ftpc_stdsink_open(ftpc_stdsink *s, int fd, volatile sig_atomic_t *stop)
{
    s->fd = fd;
    s->how = FTPC_SINK_BLOCK;
    s->stop = stop;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return;
    if (S_ISSOCK(st.st_mode)) {
        s->how = FTPC_SINK_SEND;
        return;
    }
    /* Only pipes and terminals: opening another device again may do things (a tape rewinds
     * when closed), and a regular file's writes do not wait on a reader. Not a terminal's
     * master side: opened again, /dev/ptmx makes a new terminal, where the bytes would go. */
    int pty_number;
    if (!S_ISFIFO(st.st_mode) &&
        !(S_ISCHR(st.st_mode) && isatty(fd) == 1 && ioctl(fd, TIOCGPTN, &pty_number) < 0))
        return;
    int nfd = reopen_nonblocking(fd, &st);
    if (nfd >= 0) {
        s->fd = nfd;
        s->how = FTPC_SINK_OWN;
    }
}

/* A blocking write that a signal cuts short after some bytes returns their count, and the
 * next one would block again with the signal gone: the stop flag is looked at before each. */
static bool stopped(const ftpc_stdsink *s)
{
    if (s->how != FTPC_SINK_BLOCK || s->stop == NULL || !*s->stop)
        return false;
    errno = EINTR;
    return true;
}

ssize_t ftpc_stdsink_write(ftpc_stdsink *s, const void *p, size_t n)
{
    for (;;) {
        if (stopped(s))
            return -1;
        ssize_t w = s->how == FTPC_SINK_SEND ? send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                                             : write(s->fd, p, n);
        if (w >= 0)
            return w;
        if (errno == EAGAIN && s->how == FTPC_SINK_BLOCK) {
            /* fd 1 made non-blocking by another program that shares it: wait here, as the
             * blocking way would have, a second at a time so that an interrupt is seen. */
            struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) >= 0 || errno == EINTR)
                continue;
            errno = EAGAIN;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

/* Milliseconds left to wait for a reader after a stop, for each thread (the shell's jobs
 * write from threads of their own): enough for a slow but live reader (a logger behind a
 * pipe) to take the last messages, none for one who reads nothing (a pager not scrolled) to
 * hold the interrupted run for long. */
static _Thread_local long stop_wait_left_ms = 2000;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits up to what is left of the budget for fd to take bytes; false when it did not. A
 * signal (the shell nudges a stopped job's thread every few milliseconds) does not end it. */
static bool writable_within_budget(int fd)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        long long t0 = now_ms();
        int r = poll(&pfd, 1, (int)stop_wait_left_ms);
        long long spent = now_ms() - t0;
        stop_wait_left_ms = spent >= stop_wait_left_ms ? 0 : stop_wait_left_ms - (long)spent;
        if (r == 1)
            return (pfd.revents & POLLOUT) != 0;
        if (r == 0 || errno != EINTR || stop_wait_left_ms == 0)
            return false;
    }
}

bool ftpc_stdsink_write_msg(int fd, const void *buf, size_t n, volatile sig_atomic_t *stop)
{
    const char *p = buf;
    while (n > 0) {
        size_t chunk = n;
        if (stop != NULL && *stop) {
            if (!writable_within_budget(fd))
                return false;
            if (chunk > PIPE_BUF) /* what a pipe that polls writable takes without waiting */
                chunk = PIPE_BUF;
        }
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EAGAIN) {
            /* fd made non-blocking by another program that shares it: wait as a blocking
             * write would, a second at a time */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue; /* *stop is looked at again */
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

void ftpc_stdsink_close(ftpc_stdsink *s)
{
    if (s->how == FTPC_SINK_OWN && s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->how = FTPC_SINK_BLOCK;
}
