/* Bounded byte buffers. All size arithmetic lives here.
 *
 * A buffer has a hard capacity set at init and allocates its storage lazily, on the first
 * write, so an idle connection holds no buffer memory; buf_trim() gives storage back once the
 * buffer is empty. Data sits between head and tail; the free space at the tail is made
 * contiguous by buf_compact().
 */
#ifndef BUF_H
#define BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct buf {
    char *data;
    size_t cap;   /* hard upper bound in bytes */
    size_t start; /* offset of the first unread byte */
    size_t end;   /* offset one past the last byte */
} buf;

/* Sets the bound; allocates nothing. */
void buf_init(buf *b, size_t cap);
/* Frees storage; the buffer stays usable (storage comes back on the next write). */
void buf_free(buf *b);
/* Frees storage if the buffer is empty. */
void buf_trim(buf *b);

static inline size_t buf_len(const buf *b)
{
    return b->end - b->start;
}
static inline bool buf_empty(const buf *b)
{
    return b->end == b->start;
}
static inline bool buf_full(const buf *b)
{
    return b->end - b->start == b->cap;
}
static inline const char *buf_head(const buf *b)
{
    return b->data + b->start;
}

/* Drops n bytes from the head (n <= buf_len). */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);
/* Moves data to the front so all free space is contiguous at the tail. */
void buf_compact(buf *b);

/* Ensures storage exists, compacts when the tail is short, and returns a pointer to the
 * contiguous free space at the tail with its size in *avail (0 when full). Returns NULL with
 * *avail = 0 when full or when allocation fails (errno ENOMEM). */
char *buf_tail(buf *b, size_t *avail);
/* Marks n bytes written at the tail (n <= avail from buf_tail). */
void buf_commit(buf *b, size_t n);

/* Appends up to len bytes; returns the number appended (short when the bound is hit). */
size_t buf_append(buf *b, const void *src, size_t len);
/* Appends all of len bytes or nothing; returns 0, or -1 (errno ENOBUFS) if it would not fit. */
int buf_append_all(buf *b, const void *src, size_t len);
/* printf into the tail; all or nothing. Returns bytes written or -1 (errno ENOBUFS). */
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* read(2)/recv into the tail: returns bytes read, 0 on EOF, -1 with errno (EAGAIN...).
 * Returns -1 with errno ENOBUFS when the buffer is full. */
ssize_t buf_read_fd(buf *b, int fd, size_t max);
/* write(2)/send from the head: returns bytes written and consumed, or -1 with errno. */
ssize_t buf_write_fd(buf *b, int fd, size_t max);

#endif
