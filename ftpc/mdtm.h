/* Modification times as FTP gives them: MDTM replies and MLSD's modify fact (RFC 3659). */
#ifndef FTPC_MDTM_H
#define FTPC_MDTM_H

#include <stddef.h>
#include <stdint.h>

/* "YYYYMMDDHHMMSS[.sss]" (UTC) into seconds since the epoch, or -1. */
int64_t ftpc_parse_mdtm(const char *s, size_t n);

/* The time in the text of a 213 reply to MDTM ("20261206121000"), or -1. */
int64_t ftpc_parse_mdtm_reply(const char *text);

/* when (seconds since the epoch) as MFMT and MDTM give it, "YYYYMMDDHHMMSS" (UTC), into out
 * (at least 15 bytes); 0, or -1 for a time that has no such form. */
int ftpc_format_mdtm(int64_t when, char *out, size_t out_size);

#endif
