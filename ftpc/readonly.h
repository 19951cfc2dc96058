/* Local files a download must not replace on its own. */
#ifndef FTPC_READONLY_H
#define FTPC_READONLY_H

#include <stdbool.h>
#include <stddef.h>

/* Whether path is a regular file (not followed through a symbolic link) that is
 * write-protected: its owner has no write bit, or the running user may not write it. The
 * mode bits decide for root too, whom open(2) would let write anything, so that a file made
 * read-only to keep it is kept whoever runs ftpc. When it is, why says so in words ("mode
 * 0444", or the error access(2) gave). */
bool ftpc_write_protected(const char *path, char *why, size_t why_size);

#endif
