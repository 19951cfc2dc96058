/* Sessions per client address, for --max-per-ip: an open-addressing hash table keyed by the
 * address (port ignored), so an accept costs O(1) however many sessions are open. */
#ifndef IPCOUNT_H
#define IPCOUNT_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct ipcount_slot {
    unsigned char key[16]; /* IPv4 as IPv4-mapped IPv6 */
    unsigned count;        /* 0: empty or a tombstone (see used) */
    unsigned char used;    /* 1: live key, 2: tombstone */
} ipcount_slot;

typedef struct ipcount {
    ipcount_slot *slots;
    size_t cap;  /* power of two */
    size_t live; /* slots with used == 1 */
    size_t dead; /* tombstones */
} ipcount;

void ipcount_init(ipcount *t);
void ipcount_free(ipcount *t);
/* Adds one for the address and returns the new count, or 0 if memory ran out. */
unsigned ipcount_inc(ipcount *t, const struct sockaddr_storage *addr);
/* Removes one for the address (no-op for an unknown address). */
void ipcount_dec(ipcount *t, const struct sockaddr_storage *addr);
unsigned ipcount_get(const ipcount *t, const struct sockaddr_storage *addr);

#endif
