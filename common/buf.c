/* Bounded byte buffers.
 *
 * Invariant: start <= end <= cap, and data is either NULL (no storage yet, or trimmed) or a
 * block of exactly cap bytes. Every subtraction below relies on that invariant, and every
 * comparison is written as a difference against a bound, never as a sum, so nothing can wrap.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

void buf_init(buf *b, size_t cap)
{
    b->data = NULL;
    b->cap = cap;
    b->start = 0;
    b->end = 0;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->start = 0;
    b->end = 0;
}

void buf_trim(buf *b)
{
    if (buf_empty(b))
        buf_free(b);
}

void buf_consume(buf *b, size_t n)
{
    FTP_ASSERT(n <= buf_len(b));
    b->start += n;
    /* Rewinding an empty buffer is free and keeps the whole capacity contiguous, so the common
     * "fill, drain completely" pattern never pays for a memmove. */
    if (b->start == b->end) {
        b->start = 0;
        b->end = 0;
    }
}

void buf_clear(buf *b)
{
    b->start = 0;
    b->end = 0;
}

void buf_compact(buf *b)
{
    if (b->start == 0)
        return;
    size_t len = buf_len(b);
    if (len > 0)
        memmove(b->data, b->data + b->start, len);
    b->start = 0;
    b->end = len;
}

/* Allocates the storage on first need. A zero-capacity buffer never allocates: it is always
 * full, and malloc(0) may legitimately return NULL. */
static int ensure_storage(buf *b)
{
    if (b->data != NULL)
        return 0;
    b->data = malloc(b->cap);
    if (b->data == NULL) {
        errno = ENOMEM;
        return -1;
    }
    b->start = 0;
    b->end = 0;
    return 0;
}

/* Makes at least n bytes contiguous at the tail; the caller has checked n <= free space. */
static void make_contiguous(buf *b, size_t n)
{
    if (b->cap - b->end < n)
        buf_compact(b);
}

char *buf_tail(buf *b, size_t *avail)
{
    *avail = 0;
    size_t free_space = b->cap - buf_len(b);
    if (free_space == 0)
        return NULL;
    if (ensure_storage(b) < 0)
        return NULL;
    size_t tail = b->cap - b->end;
    /* Compacting costs a memmove of the live data, so it is done only when it at least doubles
     * the contiguous space: tail < free - tail is "tail < free / 2" without rounding, and it is
     * also true when tail is 0 and any space is free, so a non-full buffer never returns 0. */
    if (tail < free_space - tail) {
        buf_compact(b);
        tail = b->cap - b->end;
    }
    *avail = tail;
    return b->data + b->end;
}

void buf_commit(buf *b, size_t n)
{
    FTP_ASSERT(b->data != NULL || n == 0);
    FTP_ASSERT(n <= b->cap - b->end);
    b->end += n;
}

size_t buf_append(buf *b, const void *src, size_t len)
{
    size_t free_space = b->cap - buf_len(b);
    size_t n = len < free_space ? len : free_space;
    if (n == 0)
        return 0;
    if (ensure_storage(b) < 0)
        return 0;
    make_contiguous(b, n);
    memcpy(b->data + b->end, src, n);
    b->end += n;
    return n;
}

int buf_append_all(buf *b, const void *src, size_t len)
{
    if (len > b->cap - buf_len(b)) {
        errno = ENOBUFS;
        return -1;
    }
    if (len == 0)
        return 0;
    if (ensure_storage(b) < 0)
        return -1;
    make_contiguous(b, len);
    memcpy(b->data + b->end, src, len);
    b->end += len;
    return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t free_space = b->cap - buf_len(b);

    if (free_space > 0 && ensure_storage(b) < 0)
        return -1;

    /* First attempt: format straight into the contiguous tail. vsnprintf needs one byte more
     * than the text for its NUL, which may lie beyond what we may keep; the NUL lands in free
     * space that is not committed, so it costs nothing. */
    size_t tail = b->data != NULL ? b->cap - b->end : 0;
    va_start(ap, fmt);
    int n = vsnprintf(tail > 0 ? b->data + b->end : NULL, tail, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < tail) {
        b->end += (size_t)n;
        return n;
    }
    if ((size_t)n > free_space) {
        errno = ENOBUFS;
        return -1;
    }
    if (n == 0)
        return 0;

    /* It fits, but not contiguously or not with room for the NUL: format aside and copy. */
    char *tmp = malloc((size_t)n + 1);
    if (tmp == NULL) {
        errno = ENOMEM;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    make_contiguous(b, (size_t)n);
    memcpy(b->data + b->end, tmp, (size_t)n);
    b->end += (size_t)n;
    free(tmp);
    return n;
}

ssize_t buf_read_fd(buf *b, int fd, size_t max)
{
    if (buf_full(b)) {
        errno = ENOBUFS;
        return -1;
    }
    size_t avail;
    char *p = buf_tail(b, &avail);
    if (p == NULL)
        return -1; /* errno ENOMEM from the allocation */
    /* max == 0 means "no limit beyond the buffer": a read of 0 bytes would return 0, which
     * the caller could not tell from EOF. */
    if (max > 0 && max < avail)
        avail = max;
    ssize_t n;
    do {
        n = read(fd, p, avail);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        b->end += (size_t)n;
    return n;
}

ssize_t buf_write_fd(buf *b, int fd, size_t max)
{
    size_t len = buf_len(b);
    if (max > 0 && max < len)
        len = max;
    if (len == 0)
        return 0;
    ssize_t n;
    do {
        /* MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process. */
        n = send(fd, buf_head(b), len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, buf_head(b), len);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        buf_consume(b, (size_t)n);
    return n;
}
