/* What a password check costs, learned per hash method, so that cheap ones can skip the
 * worker round trip.
 *
 * A method is a hash's "$id$" prefix ("$1$" MD5-crypt, "$6$" SHA-512-crypt, "$y$" yescrypt,
 * "" for DES). Costs are the checking thread's CPU time, not wall time, so a worker that
 * waited for a CPU does not make a method look dear. Thread-safe.
 */
#ifndef HASHCOST_H
#define HASHCOST_H

#include <stdbool.h>

/* Records one check of hash (any thread). */
void hashcost_record(const char *hash, long long cpu_ns);
/* True once checks of hash's method have been measured a few times (the first check, which
 * pays for cold caches, left out) and cost under max_ns on average. */
bool hashcost_cheap(const char *hash, long long max_ns);
/* The calling thread's CPU time in ns: what to take before and after a check. */
long long hashcost_thread_ns(void);
/* Forgets everything (tests). */
void hashcost_reset(void);

#endif
