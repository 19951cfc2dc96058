/* Standard output as a download's sink, written without blocking the event loop and without
 * setting O_NONBLOCK on fd 1.
 *
 * fd 1's open file description is shared with the shell and with whatever else writes to the
 * same pipe or terminal: O_NONBLOCK set on it would be seen by all of them (a shell's or a
 * pager's write failing with EAGAIN), and left behind if ftpc were killed before restoring it.
 * So the sink gets non-blocking writes of its own, depending on what fd 1 is:
 *   - a pipe, a FIFO or a terminal: a second open file description of the same object,
 *     opened through /proc/self/fd/1 with O_NONBLOCK, which only ftpc uses;
 *   - a socket: send(2) with MSG_DONTWAIT, non-blocking per call;
 *   - a regular file (and anything else, or where the reopen fails): plain blocking writes,
 *     which a file never holds up for long; ftpc_stdsink_write then gives up on EINTR when
 *     *stop is set, so that an interrupt is honoured even there.
 * Where a write would block it returns EAGAIN, and the caller waits for EV_WRITE on
 * ftpc_stdsink_fd through the loop. */
#ifndef FTPC_STDSINK_H
#define FTPC_STDSINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum {
    FTPC_SINK_BLOCK, /* write(2) on fd 1 */
    FTPC_SINK_SEND,  /* send(2) with MSG_DONTWAIT on fd 1 */
    FTPC_SINK_OWN,   /* write(2) on a private non-blocking description of fd 1's object */
} ftpc_sink_how;

typedef struct ftpc_stdsink {
    int fd; /* what is written: fd 1, or the private description; -1 when closed */
    ftpc_sink_how how;
    volatile sig_atomic_t *stop; /* may be NULL */
} ftpc_stdsink;

/* Sets s up for fd (standard output). Never fails: the blocking way is the last resort. */
void ftpc_stdsink_open(ftpc_stdsink *s, int fd, volatile sig_atomic_t *stop);
/* Writes up to n bytes: returns the count written (possibly short), or -1 with errno (EAGAIN:
 * nothing can be written now; EINTR: interrupted while *stop is set; EPIPE: the reader left). */
ssize_t ftpc_stdsink_write(ftpc_stdsink *s, const void *p, size_t n);
/* Closes the private description, if any. */
void ftpc_stdsink_close(ftpc_stdsink *s);

/* For messages and report lines on fd (standard error, or output that nothing else writes
 * meanwhile), written as to a file: waits for a reader who is behind until *stop (may be
 * NULL) is set; from then on waits at most 2 s in all (for each thread), so that an
 * interrupted run's last messages still reach a slow reader and one who reads nothing does
 * not hold the run. Returns true when all of p was written. */
bool ftpc_stdsink_write_msg(int fd, const void *p, size_t n, volatile sig_atomic_t *stop);

#endif
