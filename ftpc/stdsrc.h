/* Standard input as an upload's source (ftpc put - URL): read as it comes, once, in order.
 *
 * It may be a pipe, a terminal, a socket or a regular file redirected with <. ftpc never sets
 * O_NONBLOCK on it: the open file description is shared with the shell and the producer, and
 * a terminal left non-blocking breaks the shell after ftpc exits. Instead each read is
 * preceded by a zero-timeout poll(2), so the event loop never blocks on a slow producer; when
 * nothing is there the transfer waits for the fd to become readable.
 */
#ifndef FTPC_STDSRC_H
#define FTPC_STDSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The bytes left to read in fd when it is a regular file (its size less its offset: a
 * script may have read part of it already), for the progress display; -1 for anything else
 * (a pipe's or a terminal's length, or a /proc file's, is not known until its end). */
int64_t ftpc_stdsrc_left(int fd);

/* Whether path is a regular file whose size only reading it tells (a file of /proc or /sys,
 * which stat reports as 0 bytes or a page): such a file is read once, to its end, as standard
 * input is. */
bool ftpc_stdsrc_sizeless(const char *path);

/* One read of up to cap bytes from fd without waiting for data: returns the bytes read, 0 at
 * the end of the input, or -1 with errno (EAGAIN: nothing to read now, wait for EV_READ).
 * block: read even when nothing is there yet (for an fd the loop cannot watch). */
ssize_t ftpc_stdsrc_read(int fd, void *buf, size_t cap, bool block);

#endif
