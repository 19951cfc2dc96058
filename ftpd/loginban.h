/* Failed logins per client address, for --login-ban: after FAILURES failed logins from one
 * address within WINDOW, that address's logins are refused for BAN. The per-session limit
 * (--max-login-failures) alone lets a guesser open new sessions and go on for ever. A ban
 * that starts less than MAXBAN after the address's previous one ended lasts twice as long as
 * that one, up to MAXBAN: a patient guesser that waits out each ban is slowed down again and
 * again, while a user who mistyped once a day always gets the first length.
 *
 * An address is an IPv4 address, or an IPv6 /64 (one subnet: a host picks any address in
 * its /64, so counting single IPv6 addresses would count nothing). The table has a fixed
 * size, allocated with the server: a set-associative cache whose sets are picked by a keyed
 * hash, so a flood of addresses costs no memory and a lookup scans one set (O(1)). A full
 * set gives up its entry least recently failed from, an address not banned before a banned
 * one. Times are milliseconds of ev_now. */
#ifndef LOGINBAN_H
#define LOGINBAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LOGINBAN_WAYS 8
#define LOGINBAN_SETS 512 /* 4096 addresses, 192 KiB */

typedef struct loginban_entry {
    unsigned char key[16];  /* IPv4 as IPv4-mapped IPv6; IPv6 with the low 64 bits zero */
    long long window_start; /* when the counted failures began */
    long long banned_until; /* 0: not banned */
    long long last;         /* the last failure: for eviction */
    unsigned failures;      /* in the window that began at window_start */
    bool used;
    unsigned char doublings; /* of ban_ms in the last ban: ban_ms << doublings, up to max */
} loginban_entry;

typedef struct loginban {
    loginban_entry *slots; /* LOGINBAN_SETS * LOGINBAN_WAYS; NULL: off */
    uint64_t seed;         /* keys the set hash: a client cannot aim at one set */
    unsigned max_failures; /* 0: off */
    long long window_ms, ban_ms, max_ban_ms;
} loginban;

/* Sets the policy; max_failures 0 turns the accounting off (and allocates nothing).
 * max_ban_ms below ban_ms counts as ban_ms (no doubling). Returns 0, or -1 with errno when the
 * table cannot be allocated. */
int loginban_init(loginban *b, unsigned max_failures, long long window_ms, long long ban_ms,
                  long long max_ban_ms);
void loginban_free(loginban *b);

/* Records a failed login from addr at now. Returns true when this failure starts a ban, and
 * then sets *count and *ban_ms (each if not NULL) to the failures that led to it and the
 * ban's length. A failure while banned only refreshes the entry. */
bool loginban_fail(loginban *b, const struct sockaddr_storage *addr, long long now, unsigned *count,
                   long long *ban_ms);

/* Milliseconds left of addr's ban at now; 0 when it is not banned. */
long long loginban_left(const loginban *b, const struct sockaddr_storage *addr, long long now);

#endif
