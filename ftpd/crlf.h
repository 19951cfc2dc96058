/* TYPE A's conversion of a file's bytes for the wire, shared by the stream mode's reads
 * (xfer.c) and the MODE Z workers' (zpiece.c) so both send the same bytes. */
#ifndef CRLF_H
#define CRLF_H

#include <stddef.h>

/* Copies raw[from..n) into dst with a CR before each LF that has none (a file with CRLF
 * already keeps it); from is 1 when raw[0] is the byte before the range, read only so that a
 * CRLF split between two reads (or by REST) is still seen. dst holds 2 * (n - from) bytes.
 * Returns the bytes written. */
static inline size_t crlf_expand(const char *raw, size_t from, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = from; i < n; i++) {
        if (raw[i] == '\n' && !(i > 0 && raw[i - 1] == '\r'))
            dst[o++] = '\r';
        dst[o++] = raw[i];
    }
    return o;
}

#endif
