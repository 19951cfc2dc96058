/* TYPE A on a Unix client (RFC 959 3.1.1.1): the wire carries CRLF line ends, the local
 * file LF. Sending turns every LF into CRLF; receiving turns every CRLF into LF and keeps a
 * lone CR. Both are exact inverses, so a round trip gives back the same bytes whatever the
 * file holds. Pure functions, no I/O; a CR at the end of one buffer is carried to the next.
 */
#ifndef FTPC_ASCII_H
#define FTPC_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/* LF -> CRLF. out must hold 2 * len bytes. Returns the bytes written. */
size_t ftpc_ascii_to_wire(const char *in, size_t len, char *out);

/* CRLF -> LF across buffers. *cr is the carried state (false at the start). out must hold
 * len + 1 bytes. Returns the bytes written. */
size_t ftpc_ascii_from_wire(bool *cr, const char *in, size_t len, char *out);

/* The end of the data: a carried CR was a lone CR and is written to out (1 byte). Returns
 * the bytes written (0 or 1) and clears *cr. */
size_t ftpc_ascii_from_wire_end(bool *cr, char *out);

#endif
