#include "recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "strutil.h"
#include "upload.h"

/* Deeper trees are not walked further: each level holds a directory open. */
#define RECOVER_MAX_DEPTH 48
/* Recovered uploads named one by one in the log; the rest are counted. */
#define RECOVER_LOG_NAMES 20
/* The walk reads directories that sessions use too: it yields to them, but not so far that a
 * busy server never finishes it. */
#define RECOVER_NICE 10
/* How long shutdown waits for a walk stuck in the filesystem (a dead network mount). */
#define RECOVER_STOP_WAIT_S 2
/* The walks that remove old partials come every max-age / EXPIRE_WALKS_PER_AGE, so that
 * none outlives the limit by more than a small part of it, but at most once a second and at
 * least once a day. */
#define EXPIRE_WALKS_PER_AGE 24
#define EXPIRE_PERIOD_MIN_S 1
#define EXPIRE_PERIOD_MAX_S 86400

typedef struct dir_id {
    dev_t dev;
    ino_t ino;
} dir_id;

/* The directories walked (or to be walked as roots), by device and inode: a directory that
 * two homes share, or that a bind mount shows twice, is walked once. */
typedef struct dir_set {
    dir_id *v;
    size_t cap, n; /* open addressing; cap is a power of two or 0 */
} dir_set;

struct recovery {
    pthread_t thread;
    char **homes;
    size_t nhomes;
    struct timespec started; /* files written since belong to this server */
    long long max_age;       /* seconds; 0: nothing expires, and one walk is all */
    atomic_bool stop;
    atomic_bool finished; /* the first walk is done */
    pthread_mutex_t lock; /* with wake: the wait between walks ends at once at a stop */
    pthread_cond_t wake;
    /* Under lock: the homes of a reload, taken over at the next walk's start. */
    char **next_homes;
    size_t next_nhomes;
    bool homes_changed;
    dir_set seen, roots;
    bool expiring;          /* this walk removes what was last written before cutoff */
    struct timespec cutoff; /* CLOCK_REALTIME, as file times */
    unsigned long walks;
    /* the walk's own counts (too_deep: all walks') */
    unsigned long dirs, kept, dropped, expired, too_deep;
    long long expired_bytes;
    bool out_of_memory;
};

static size_t id_hash(const dir_id *d)
{
    uint64_t h = (uint64_t)d->ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)d->dev;
    return (size_t)(h ^ (h >> 29));
}

static bool set_has(const dir_set *s, const dir_id *d)
{
    if (s->cap == 0)
        return false;
    for (size_t i = id_hash(d) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->v[i].ino == 0 && s->v[i].dev == 0)
            return false;
        if (s->v[i].ino == d->ino && s->v[i].dev == d->dev)
            return true;
    }
}

/* Returns 1 when added, 0 when it was there, -1 when out of memory. */
static int set_add(dir_set *s, const dir_id *d)
{
    if (set_has(s, d))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        dir_set grown = {.v = calloc(cap, sizeof(dir_id)), .cap = cap};
        if (!grown.v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].ino != 0 || s->v[i].dev != 0)
                (void)set_add(&grown, &s->v[i]);
        free(s->v);
        *s = grown;
    }
    size_t i = id_hash(d) & (s->cap - 1);
    while (s->v[i].ino != 0 || s->v[i].dev != 0)
        i = (i + 1) & (s->cap - 1);
    s->v[i] = *d;
    s->n++;
    return 1;
}

static void note(recovery *r, upload_stale what, const char *dir, const upload_stale_info *info)
{
    unsigned long n = r->kept + r->dropped + r->expired;
    if (what == UPLOAD_STALE_KEPT)
        r->kept++;
    else if (what == UPLOAD_STALE_DROPPED)
        r->dropped++;
    else {
        r->expired++;
        r->expired_bytes += info->size;
    }
    if (n >= RECOVER_LOG_NAMES)
        return;
    char age[32];
    if (what == UPLOAD_STALE_EXPIRED)
        log_info("upload expiry: %s/%s: removed %lld bytes of an interrupted upload not "
                 "resumed for over %s",
                 dir, info->target, (long long)info->size,
                 str_format_duration(r->max_age, age, sizeof age));
    else if (what == UPLOAD_STALE_KEPT)
        log_info("upload recovery: %s/%s: %lld bytes of an interrupted upload kept for a resume "
                 "(REST or APPE)",
                 dir, info->target, (long long)info->size);
    else if (info->size == 0)
        log_info("upload recovery: %s/%s: removed an interrupted upload that had received "
                 "nothing",
                 dir, info->target);
    else
        log_info("upload recovery: %s/%s: removed %lld bytes of an interrupted upload; its "
                 "resume point holds as much",
                 dir, info->target, (long long)info->size);
}

/* Walks the directory open as fd (which it closes), path its name for the log, staying on
 * the root's device dev. */
static void walk(recovery *r, int fd, char *path, size_t plen, dev_t dev, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    r->dirs++;
    struct dirent *e;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed) && (e = readdir(d))) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) {
            upload_stale_info info;
            upload_stale what = upload_recover_stale_aged(dirfd(d), n, &r->started,
                                                          r->expiring ? &r->cutoff : NULL, &info);
            if (what == UPLOAD_STALE_NONE && r->expiring)
                what = upload_expire_partial(dirfd(d), n, &r->cutoff, &info);
            if (what != UPLOAD_STALE_NONE) {
                note(r, what, path, &info);
                continue;
            }
        }
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
            continue;
        int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue; /* not a directory, or not ours to read */
        struct stat st;
        size_t nlen = strlen(n);
        dir_id id = {0};
        int added = -1;
        /* Another filesystem mounted inside a home (/proc, a network mount) is not the
         * server's to walk; another home gets a walk of its own, from its own root. */
        if (fstat(sub, &st) == 0 && st.st_dev == dev) {
            id = (dir_id){st.st_dev, st.st_ino};
            added = set_has(&r->roots, &id) ? 0 : set_add(&r->seen, &id);
        } else {
            added = 0;
        }
        if (added < 0)
            r->out_of_memory = true;
        if (added <= 0 || plen + 1 + nlen >= PATH_MAX) {
            close(sub);
            continue;
        }
        if (depth >= RECOVER_MAX_DEPTH) {
            if (r->too_deep++ == 0)
                log_warn("upload recovery: not walking below %d levels (%s/%s); uploads cut "
                         "short there stay hidden",
                         RECOVER_MAX_DEPTH, path, n);
            close(sub);
            continue;
        }
        path[plen] = '/';
        memcpy(path + plen + 1, n, nlen + 1);
        walk(r, sub, path, plen + 1 + nlen, dev, depth + 1);
        path[plen] = '\0';
    }
    closedir(d);
}

/* Records every home as a root (device and inode), so that no walk enters another's; drops
 * those that cannot be read or repeat another. The homes are opened one at a time, as their
 * walk starts: thousands of open directories could take the descriptors sessions need. */
static size_t find_roots(recovery *r, char **names, dir_id *ids)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nhomes; i++) {
        struct stat st;
        if (stat(r->homes[i], &st) < 0) {
            log_debug("upload recovery: cannot read %s: %s", r->homes[i], strerror(errno));
            continue;
        }
        if (!S_ISDIR(st.st_mode))
            continue;
        dir_id id = {st.st_dev, st.st_ino};
        int added = set_add(&r->roots, &id);
        if (added <= 0) {
            r->out_of_memory |= added < 0;
            continue;
        }
        names[n] = r->homes[i];
        ids[n] = id;
        n++;
    }
    return n;
}

static void free_homes(char **homes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(homes[i]);
    free(homes);
}

/* Copies of the homes of the accounts that may upload (w or a; anonymous sessions cannot):
 * 0 with *homes (NULL when there are none) and *n, -1 when out of memory. */
static int upload_homes(const ftpd_users *users, char ***homes, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; users && i < users->n; i++)
        count += (users->v[i].perms & (PERM_WRITE | PERM_APPEND)) != 0;
    *homes = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    char **v = calloc(count, sizeof *v);
    if (!v)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < users->n; i++) {
        if (!(users->v[i].perms & (PERM_WRITE | PERM_APPEND)))
            continue;
        if (!(v[k] = strdup(users->v[i].home))) {
            free_homes(v, k);
            return -1;
        }
        k++;
    }
    *homes = v;
    *n = k;
    return 0;
}

/* Takes over the homes of the last reload, if any. */
static void take_new_homes(recovery *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->homes_changed) {
        free_homes(r->homes, r->nhomes);
        r->homes = r->next_homes;
        r->nhomes = r->next_nhomes;
        r->next_homes = NULL;
        r->next_nhomes = 0;
        r->homes_changed = false;
    }
    pthread_mutex_unlock(&r->lock);
}

/* One walk over every home. */
static void walk_homes(recovery *r)
{
    take_new_homes(r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r->walks++;
    r->dirs = r->kept = r->dropped = r->expired = 0; /* too_deep: its warning comes once */
    r->expired_bytes = 0;
    r->out_of_memory = false;
    free(r->roots.v); /* found again: a home may have been made or removed since */
    r->roots = (dir_set){0};
    r->expiring = r->max_age > 0;
    if (r->expiring) {
        clock_gettime(CLOCK_REALTIME, &r->cutoff);
        r->cutoff.tv_sec -= r->max_age;
    }
    char *path = malloc(PATH_MAX);
    dir_id *ids = malloc((r->nhomes + 1) * sizeof *ids);
    char **names = malloc((r->nhomes + 1) * sizeof *names);
    if (!path || !ids || !names) {
        r->out_of_memory = true;
    } else {
        size_t n = find_roots(r, names, ids);
        for (size_t i = 0; i < n && !atomic_load(&r->stop); i++) {
            size_t len = strlen(names[i]);
            int fd = len < PATH_MAX ? open(names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != ids[i].dev ||
                st.st_ino != ids[i].ino) {
                log_debug("upload recovery: cannot read %s: %s", names[i],
                          fd < 0 ? strerror(errno) : "it changed");
                if (fd >= 0)
                    close(fd);
                continue;
            }
            memcpy(path, names[i], len + 1);
            walk(r, fd, path, len, st.st_dev, 0);
        }
    }
    free(names);
    free(ids);
    free(path);
    free(r->seen.v); /* a tree's worth of entries: not kept between walks */
    r->seen = (dir_set){0};
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    bool stopped = atomic_load(&r->stop);
    char age[32];
    if (r->out_of_memory)
        log_warn("upload recovery: out of memory; some directories were not walked");
    if (r->expired > 0)
        log_info("upload expiry: removed %lu interrupted upload%s (%lld bytes) not resumed for "
                 "over %s (%lu directories, %.2f s%s)",
                 r->expired, r->expired == 1 ? "" : "s", r->expired_bytes,
                 str_format_duration(r->max_age, age, sizeof age), r->dirs, secs,
                 stopped ? ", stopped early" : "");
    if (r->kept + r->dropped > 0)
        log_info("upload recovery: %lu interrupted upload%s kept for a resume, %lu removed "
                 "(%lu directories, %.2f s%s)",
                 r->kept, r->kept == 1 ? "" : "s", r->dropped, r->dirs, secs,
                 stopped ? ", stopped early" : "");
    else if (r->walks == 1)
        log_debug("upload recovery: nothing to recover (%lu directories, %.2f s%s)", r->dirs, secs,
                  stopped ? ", stopped early" : "");
    if (r->expiring)
        log_debug("upload expiry: walk %lu done, %lu removed (%lu directories, %.2f s)", r->walks,
                  r->expired, r->dirs, secs);
}

/* Sleeps until the next walk is due; false when the server stops meanwhile. */
static bool wait_for_next_walk(recovery *r)
{
    long long period = r->max_age / EXPIRE_WALKS_PER_AGE;
    if (period < EXPIRE_PERIOD_MIN_S)
        period = EXPIRE_PERIOD_MIN_S;
    if (period > EXPIRE_PERIOD_MAX_S)
        period = EXPIRE_PERIOD_MAX_S;
    struct timespec due;
    clock_gettime(CLOCK_MONOTONIC, &due);
    due.tv_sec += (time_t)period;
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stop) && pthread_cond_timedwait(&r->wake, &r->lock, &due) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&r->lock);
    return !atomic_load(&r->stop);
}

static void *recovery_main(void *arg)
{
    recovery *r = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), RECOVER_NICE); /* failure costs fairness */
    walk_homes(r);
    atomic_store(&r->finished, true);
    while (r->max_age > 0 && wait_for_next_walk(r))
        walk_homes(r);
    return NULL;
}

static void free_recovery(recovery *r)
{
    free_homes(r->homes, r->nhomes);
    free_homes(r->next_homes, r->next_nhomes);
    free(r->seen.v);
    free(r->roots.v);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The wait between walks runs on the monotonic clock: a clock set back must not put off the
 * next walk. */
static bool init_wake(recovery *r)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&r->wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (ok && pthread_mutex_init(&r->lock, NULL) != 0) {
        pthread_cond_destroy(&r->wake);
        ok = false;
    }
    return ok;
}

recovery *recovery_start(const ftpd_users *users, long long max_age)
{
    char **homes;
    size_t n;
    recovery *r = NULL;
    if (upload_homes(users, &homes, &n) < 0 || !(r = calloc(1, sizeof *r)) || !init_wake(r)) {
        free_homes(homes, n);
        free(r);
        log_warn("upload recovery: out of memory; uploads left by a crash stay hidden");
        return NULL;
    }
    /* With nothing to expire, one walk is all, and without a home there is nothing to
     * walk; with expiry the thread waits for homes a reload may bring. */
    if (n == 0 && max_age == 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    r->homes = homes;
    r->nhomes = n;
    /* The coarse clock is the one file times are taken from: a file this server creates from
     * now on is not stamped before it (upload_recover_stale allows for filesystems that keep
     * whole seconds). */
    clock_gettime(CLOCK_REALTIME_COARSE, &r->started);
    r->max_age = max_age;
    atomic_init(&r->stop, false);
    atomic_init(&r->finished, false);
    int err = pthread_create(&r->thread, NULL, recovery_main, r);
    if (err != 0) {
        log_warn("upload recovery: cannot start its thread (%s); uploads left by a crash stay "
                 "hidden",
                 strerror(err));
        free_recovery(r);
        return NULL;
    }
    return r;
}

void recovery_set_homes(recovery *r, const ftpd_users *users)
{
    char **homes;
    size_t n;
    if (!r)
        return;
    if (upload_homes(users, &homes, &n) < 0) {
        log_warn("upload expiry: out of memory; the homes of the accounts read again are not "
                 "walked");
        return;
    }
    pthread_mutex_lock(&r->lock);
    free_homes(r->next_homes, r->next_nhomes);
    r->next_homes = homes;
    r->next_nhomes = n;
    r->homes_changed = true;
    pthread_mutex_unlock(&r->lock);
}

void recovery_wait(recovery *r)
{
    while (r && !atomic_load(&r->finished))
        usleep(1000);
}

void recovery_stop(recovery *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stop, true);
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += RECOVER_STOP_WAIT_S;
    if (pthread_timedjoin_np(r->thread, NULL, &deadline) != 0) {
        /* Stuck in a system call on some mount: the process's exit ends it. Its memory stays
         * for it to use until then. */
        log_warn("upload recovery: still in the filesystem after %d s; not waiting for it",
                 RECOVER_STOP_WAIT_S);
        return;
    }
    free_recovery(r);
}
