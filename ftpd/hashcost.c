#include "hashcost.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

/* Samples, after the first check, before a method may count as cheap. */
#define MIN_SAMPLES 3
#define MAX_METHODS 8
#define METHOD_KEY_MAX 8

typedef struct method_cost {
    char key[METHOD_KEY_MAX + 1];
    bool warm;        /* the first check was seen (and left out) */
    unsigned samples; /* checks averaged since */
    long long avg_ns; /* their mean for the first 8, then each new one weighs 1/8 */
} method_cost;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static method_cost g_methods[MAX_METHODS];
static int g_nmethods;

/* "$6$rounds=..." -> "$6$"; a hash without a "$id$" prefix (DES) -> "". */
static void method_key(const char *hash, char *key)
{
    key[0] = '\0';
    if (hash == NULL || hash[0] != '$')
        return;
    const char *end = strchr(hash + 1, '$');
    if (end == NULL || end - hash > METHOD_KEY_MAX - 1)
        return;
    size_t n = (size_t)(end - hash) + 1;
    memcpy(key, hash, n);
    key[n] = '\0';
}

/* Called with g_mu held. NULL when the table is full of other methods. */
static method_cost *find(const char *key, bool add)
{
    for (int i = 0; i < g_nmethods; i++)
        if (strcmp(g_methods[i].key, key) == 0)
            return &g_methods[i];
    if (!add || g_nmethods == MAX_METHODS)
        return NULL;
    method_cost *m = &g_methods[g_nmethods++];
    memset(m, 0, sizeof(*m));
    strcpy(m->key, key);
    return m;
}

void hashcost_record(const char *hash, long long cpu_ns)
{
    char key[METHOD_KEY_MAX + 1];
    method_key(hash, key);
    pthread_mutex_lock(&g_mu);
    method_cost *m = find(key, true);
    if (m != NULL && !m->warm) {
        /* A method's first check pays for cold caches and page faults (2-3x a later one
         * here, more under a sanitizer): averaged in, it kept MD5-crypt looking dear. */
        m->warm = true;
    } else if (m != NULL) {
        m->samples++;
        long long weight = m->samples < 8 ? (long long)m->samples : 8;
        m->avg_ns += (cpu_ns - m->avg_ns) / weight;
    }
    pthread_mutex_unlock(&g_mu);
}

bool hashcost_cheap(const char *hash, long long max_ns)
{
    char key[METHOD_KEY_MAX + 1];
    method_key(hash, key);
    pthread_mutex_lock(&g_mu);
    const method_cost *m = find(key, false);
    bool cheap = m != NULL && m->samples >= MIN_SAMPLES && m->avg_ns < max_ns;
    pthread_mutex_unlock(&g_mu);
    return cheap;
}

long long hashcost_thread_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void hashcost_reset(void)
{
    pthread_mutex_lock(&g_mu);
    g_nmethods = 0;
    pthread_mutex_unlock(&g_mu);
}
