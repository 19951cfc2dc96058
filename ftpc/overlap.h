/* The bytes just before a resumed download's offset, asked for again (REST offset-K) and
 * compared with the K bytes kept there: a server that answers REST with 350 and sends from
 * somewhere else all the same (its start), or a file that changed since, shows in them before
 * a byte of it is taken as the rest of the file. Used by get --segments for each range and by
 * an ordinary get -c. */
#ifndef FTPC_OVERLAP_H
#define FTPC_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FTPC_OVERLAP 4096

typedef struct {
    char buf[FTPC_OVERLAP]; /* the bytes before the offset, as the server sent them */
    size_t len, got;
} ftpc_overlap;

/* Asks for as much as is kept before the offset, up to FTPC_OVERLAP (none for kept == 0). */
void ftpc_overlap_begin(ftpc_overlap *o, uint64_t kept);

static inline bool ftpc_overlap_pending(const ftpc_overlap *o)
{
    return o->got < o->len;
}

/* Takes the first of n bytes received while the overlap is still coming; returns how many. */
size_t ftpc_overlap_take(ftpc_overlap *o, const char *p, size_t n);

/* True when the overlap received equals the len bytes of fd that end at offset at. */
bool ftpc_overlap_agrees(const ftpc_overlap *o, int fd, uint64_t at);

#endif
