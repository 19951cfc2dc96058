#include "loginban.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        memcpy(key, v4_mapped_prefix, 12);
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        /* An IPv4-mapped address is one IPv4 host: its /64 would be every IPv4 client. */
        memcpy(key, a, memcmp(a, v4_mapped_prefix, 12) == 0 ? 16 : 8);
    }
}

static size_t set_of(const loginban *b, const unsigned char key[16])
{
    /* FNV-1a, seeded: the seed is secret enough that a client choosing its addresses cannot
     * fill one set on purpose to push a banned address out. */
    uint64_t h = 1469598103934665603ULL ^ b->seed;
    for (int i = 0; i < 16; i++) {
        h ^= key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    return (size_t)(h % LOGINBAN_SETS);
}

int loginban_init(loginban *b, unsigned max_failures, long long window_ms, long long ban_ms,
                  long long max_ban_ms)
{
    memset(b, 0, sizeof *b);
    b->max_failures = max_failures;
    b->window_ms = window_ms;
    b->ban_ms = ban_ms;
    b->max_ban_ms = max_ban_ms > ban_ms ? max_ban_ms : ban_ms;
    if (max_failures == 0)
        return 0;
    b->slots = calloc((size_t)LOGINBAN_SETS * LOGINBAN_WAYS, sizeof *b->slots);
    if (!b->slots)
        return -1;
    if (getrandom(&b->seed, sizeof b->seed, GRND_NONBLOCK) != (ssize_t)sizeof b->seed)
        b->seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
    return 0;
}

void loginban_free(loginban *b)
{
    free(b->slots);
    memset(b, 0, sizeof *b);
}

static loginban_entry *find(const loginban *b, const unsigned char key[16])
{
    loginban_entry *set = &b->slots[set_of(b, key) * LOGINBAN_WAYS];
    for (int i = 0; i < LOGINBAN_WAYS; i++)
        if (set[i].used && memcmp(set[i].key, key, 16) == 0)
            return &set[i];
    return NULL;
}

/* What an entry costs to forget: 0 a count of failures, 1 a ban that ended less than
 * max_ban_ms ago (the next one would be doubled), 2 a ban that runs. */
static int keep_rank(const loginban *b, const loginban_entry *e, long long now)
{
    if (e->banned_until > now)
        return 2;
    return e->banned_until != 0 && now - e->banned_until < b->max_ban_ms ? 1 : 0;
}

/* The entry to reuse in key's set: an empty one, else the least recently failed from among
 * those cheapest to forget. */
static loginban_entry *victim(const loginban *b, const unsigned char key[16], long long now)
{
    loginban_entry *set = &b->slots[set_of(b, key) * LOGINBAN_WAYS];
    loginban_entry *best = NULL;
    int best_rank = 3;
    for (int i = 0; i < LOGINBAN_WAYS; i++) {
        loginban_entry *e = &set[i];
        if (!e->used)
            return e;
        int rank = keep_rank(b, e, now);
        if (rank < best_rank || (rank == best_rank && e->last < best->last)) {
            best = e;
            best_rank = rank;
        }
    }
    return best;
}

/* The length of the ban that e starts at now, and its doublings kept in e: one more than the
 * last ban's when that one ended less than max_ban_ms ago. */
static long long next_ban_length(const loginban *b, loginban_entry *e, long long now)
{
    bool repeat = e->banned_until != 0 && now - e->banned_until < b->max_ban_ms;
    unsigned wanted = repeat ? e->doublings + 1u : 0, done = 0;
    long long len = b->ban_ms;
    /* Stops at the first length at or past the cap, so the count saturates there. */
    while (done < wanted && len < b->max_ban_ms) {
        len *= 2;
        done++;
    }
    e->doublings = (unsigned char)done;
    return len < b->max_ban_ms ? len : b->max_ban_ms;
}

bool loginban_fail(loginban *b, const struct sockaddr_storage *addr, long long now, unsigned *count,
                   long long *ban_ms)
{
    if (!b->slots)
        return false;
    unsigned char key[16];
    addr_key(addr, key);
    loginban_entry *e = find(b, key);
    if (!e) {
        e = victim(b, key, now);
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, 16);
        e->used = true;
        e->window_start = now;
    }
    e->last = now;
    if (e->banned_until > now)
        return false; /* a check that began before the ban: the ban stands as it is */
    if (now - e->window_start >= b->window_ms) {
        e->window_start = now;
        e->failures = 0;
    }
    if (++e->failures < b->max_failures)
        return false;
    if (count)
        *count = e->failures;
    long long len = next_ban_length(b, e, now);
    if (ban_ms)
        *ban_ms = len;
    e->banned_until = now + len;
    /* The count starts again when the ban ends: one more failure then is not a new ban. */
    e->failures = 0;
    e->window_start = e->banned_until;
    return true;
}

long long loginban_left(const loginban *b, const struct sockaddr_storage *addr, long long now)
{
    if (!b->slots)
        return 0;
    unsigned char key[16];
    addr_key(addr, key);
    const loginban_entry *e = find(b, key);
    return e && e->banned_until > now ? e->banned_until - now : 0;
}
