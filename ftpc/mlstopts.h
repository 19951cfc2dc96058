/* Servers list in FEAT the MLST facts they know, a * after each one they send; the client
 * turns others on with OPTS MLST. pyftpdlib knows UNIX.mode but leaves it off, so a mirror
 * from it would not learn the permission bits. This picks the OPTS MLST that turns on the
 * facts ftpc reads (type, size, modify, UNIX.mode) when one of them is off. */
#ifndef FTPC_MLSTOPTS_H
#define FTPC_MLSTOPTS_H

#include <stdbool.h>
#include <stddef.h>

/* facts: the FEAT line's text after "MLST " (len bytes, e.g. "type*;size*;unix.mode;").
 * Writes "OPTS MLST type;size;modify;unix.mode;" (the facts the server knows, spelled as it
 * spells them) into out and returns true when UNIX.mode is known but off and type is known;
 * else returns false and out is left as it was. */
bool ftpc_mlst_opts(const char *facts, size_t len, char *out, size_t size);

/* One "name=value" fact of an MLST or MLSD line's facts. */
typedef struct {
    const char *name, *value;
    size_t name_len, value_len;
} ftpc_mlst_fact;

/* The next fact with a value in the facts between *p and end (";"-separated, as "type=file;
 * size=3;"): fills f, moves *p past it and returns true; false when none is left. */
bool ftpc_mlst_next_fact(const char **p, const char *end, ftpc_mlst_fact *f);

#endif
