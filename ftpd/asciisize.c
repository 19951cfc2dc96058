#include "asciisize.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int asciisize_cache_init(asciisize_cache *c)
{
    memset(c, 0, sizeof *c);
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

void asciisize_cache_free(asciisize_cache *c)
{
    pthread_mutex_destroy(&c->lock);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool is_key(const asciisize_entry *e, const struct stat *st)
{
    return e->used != 0 && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           same_time(&e->mtime, &st->st_mtim) && same_time(&e->ctime, &st->st_ctim);
}

long long asciisize_lookup(asciisize_cache *c, const struct stat *st)
{
    long long found = -1;
    if (c == NULL)
        return -1;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < ASCIISIZE_ENTRIES; i++) {
        if (is_key(&c->e[i], st)) {
            c->e[i].used = ++c->clock;
            found = c->e[i].ascii;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Every change to a file (a write, a truncation, a touch, a chmod) sets its ctime to the
 * filesystem's now, which no call can set back; only the ctime's tick decides whether a later
 * change is told from the stored state. The mtime may be anything a client set (MFMT). */
static bool settled(const struct stat *st, const struct timespec *counted_at)
{
    time_t limit = counted_at->tv_sec - ASCIISIZE_SETTLE_S;
    return st->st_ctim.tv_sec < limit ||
           (st->st_ctim.tv_sec == limit && st->st_ctim.tv_nsec <= counted_at->tv_nsec);
}

bool asciisize_store(asciisize_cache *c, const struct stat *st, long long ascii,
                     const struct timespec *counted_at)
{
    if (c == NULL || !S_ISREG(st->st_mode) || ascii < 0 || !settled(st, counted_at))
        return false;
    pthread_mutex_lock(&c->lock);
    asciisize_entry *victim = &c->e[0];
    for (size_t i = 0; i < ASCIISIZE_ENTRIES; i++) {
        asciisize_entry *e = &c->e[i];
        if (e->used != 0 && e->dev == st->st_dev && e->ino == st->st_ino) {
            victim = e; /* one entry a file: of two states of it, one is gone */
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    *victim = (asciisize_entry){
        .dev = st->st_dev,
        .ino = st->st_ino,
        .size = st->st_size,
        .mtime = st->st_mtim,
        .ctime = st->st_ctim,
        .ascii = ascii,
        .used = ++c->clock,
    };
    pthread_mutex_unlock(&c->lock);
    return true;
}

long long asciisize_count(int fd, off_t from, off_t size)
{
    char chunk[32 * 1024];
    long long extra = 0;
    char before = '\0'; /* the byte before the chunk: a CRLF may be split between two */
    if (from > 0) {
        ssize_t n;
        do
            n = pread(fd, &before, 1, from - 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0) /* 0: it shrank below from, and a download sends nothing */
            return n < 0 ? -1 : 0;
    }
    off_t at = from;
    while (at < size) {
        size_t want = size - at < (off_t)sizeof chunk ? (size_t)(size - at) : sizeof chunk;
        ssize_t n = pread(fd, chunk, want, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        const char *end = chunk + n;
        for (const char *lf = memchr(chunk, '\n', (size_t)n); lf;
             lf = memchr(lf + 1, '\n', (size_t)(end - lf - 1)))
            extra += (lf == chunk ? before : lf[-1]) != '\r';
        before = chunk[n - 1];
        at += n;
    }
    return (long long)(at - from) + extra;
}

long long asciisize_of(asciisize_cache *c, int fd, const struct stat *st)
{
    if (st->st_size > ASCIISIZE_MAX) {
        errno = EFBIG;
        return -1;
    }
    long long n = asciisize_lookup(c, st);
    if (n >= 0)
        return n;
    /* Taken before the first read: a change while the file is read sets a ctime past the
     * key's (which st took before too), so the count stored under that key is never used for
     * what the file became. */
    struct timespec counted_at;
    clock_gettime(CLOCK_REALTIME, &counted_at);
    n = asciisize_count(fd, 0, st->st_size);
    if (n >= 0)
        asciisize_store(c, st, n, &counted_at);
    return n;
}
