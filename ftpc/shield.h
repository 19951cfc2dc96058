/* A server's names shown on a terminal must not drive it: its control characters become '?'
 * (the listings ls prints, xfer_recv.c; an entry ls picks from one, lsentry.c). */
#ifndef FTPC_SHIELD_H
#define FTPC_SHIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What carries a character across chunks; zeroed to start. */
typedef struct ftpc_shield {
    bool c2;      /* the character being read began with 0xC2: maybe a C1 control */
    uint8_t need; /* continuation bytes the character being read still expects */
} ftpc_shield;

/* Rewrites the n bytes at p in place. */
void ftpc_shield_text(ftpc_shield *s, char *p, size_t n);

#endif
