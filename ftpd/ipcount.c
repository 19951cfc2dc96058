#include "ipcount.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        key[10] = 0xff;
        key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

static size_t key_hash(const unsigned char key[16])
{
    /* FNV-1a: the keys are client addresses, and the table only bounds honest counting. */
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++) {
        h ^= key[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void ipcount_init(ipcount *t)
{
    memset(t, 0, sizeof *t);
}

void ipcount_free(ipcount *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static ipcount_slot *find(const ipcount *t, const unsigned char key[16])
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = key_hash(key) & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        ipcount_slot *s = &t->slots[i];
        if (s->used == 0)
            return NULL;
        if (s->used == 1 && memcmp(s->key, key, 16) == 0)
            return s;
    }
    return NULL;
}

static int grow(ipcount *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    /* Rehashing into the same size clears tombstones when the table is mostly dead. */
    if (t->live * 2 < t->cap)
        ncap = t->cap;
    ipcount_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].used != 1)
            continue;
        size_t j = key_hash(t->slots[i].key) & (ncap - 1);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    t->dead = 0;
    return 0;
}

unsigned ipcount_inc(ipcount *t, const struct sockaddr_storage *addr)
{
    unsigned char key[16];
    addr_key(addr, key);
    ipcount_slot *s = find(t, key);
    if (s)
        return ++s->count;
    if ((t->live + t->dead + 1) * 4 > t->cap * 3 && grow(t) < 0)
        return 0;
    size_t mask = t->cap - 1;
    size_t i = key_hash(key) & mask;
    while (t->slots[i].used == 1)
        i = (i + 1) & mask;
    if (t->slots[i].used == 2)
        t->dead--;
    memcpy(t->slots[i].key, key, 16);
    t->slots[i].used = 1;
    t->slots[i].count = 1;
    t->live++;
    return 1;
}

void ipcount_dec(ipcount *t, const struct sockaddr_storage *addr)
{
    unsigned char key[16];
    addr_key(addr, key);
    ipcount_slot *s = find(t, key);
    if (!s)
        return;
    if (--s->count == 0) {
        s->used = 2;
        t->live--;
        t->dead++;
    }
}

unsigned ipcount_get(const ipcount *t, const struct sockaddr_storage *addr)
{
    unsigned char key[16];
    addr_key(addr, key);
    const ipcount_slot *s = find(t, key);
    return s ? s->count : 0;
}
