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
    atomic_bool stop;
    atomic_bool finished;
    dir_set seen, roots;
    /* the walk's own counts */
    unsigned long dirs, kept, dropped, too_deep;
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
    unsigned long n = r->kept + r->dropped;
    if (what == UPLOAD_STALE_KEPT)
        r->kept++;
    else
        r->dropped++;
    if (n >= RECOVER_LOG_NAMES)
        return;
    if (what == UPLOAD_STALE_KEPT)
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
            upload_stale what = upload_recover_stale(dirfd(d), n, &r->started, &info);
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

static void *recovery_main(void *arg)
{
    recovery *r = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), RECOVER_NICE); /* failure costs fairness */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
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
    free(r->seen.v); /* a tree's worth of entries: not kept for the server's whole life */
    r->seen = (dir_set){0};
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    bool stopped = atomic_load(&r->stop);
    if (r->out_of_memory)
        log_warn("upload recovery: out of memory; some directories were not walked");
    if (r->kept + r->dropped > 0)
        log_info("upload recovery: %lu interrupted upload%s kept for a resume, %lu removed "
                 "(%lu directories, %.2f s%s)",
                 r->kept, r->kept == 1 ? "" : "s", r->dropped, r->dirs, secs,
                 stopped ? ", stopped early" : "");
    else
        log_debug("upload recovery: nothing to recover (%lu directories, %.2f s%s)", r->dirs, secs,
                  stopped ? ", stopped early" : "");
    atomic_store(&r->finished, true);
    return NULL;
}

static void free_recovery(recovery *r)
{
    for (size_t i = 0; i < r->nhomes; i++)
        free(r->homes[i]);
    free(r->homes);
    free(r->seen.v);
    free(r->roots.v);
    free(r);
}

recovery *recovery_start(const ftpd_users *users)
{
    size_t n = 0;
    for (size_t i = 0; users && i < users->n; i++)
        n += (users->v[i].perms & (PERM_WRITE | PERM_APPEND)) != 0;
    if (n == 0)
        return NULL;
    recovery *r = calloc(1, sizeof *r);
    if (r)
        r->homes = calloc(n, sizeof *r->homes);
    if (!r || !r->homes) {
        free(r);
        log_warn("upload recovery: out of memory; uploads left by a crash stay hidden");
        return NULL;
    }
    for (size_t i = 0; i < users->n; i++) {
        if (!(users->v[i].perms & (PERM_WRITE | PERM_APPEND)))
            continue;
        if (!(r->homes[r->nhomes] = strdup(users->v[i].home))) {
            free_recovery(r);
            log_warn("upload recovery: out of memory; uploads left by a crash stay hidden");
            return NULL;
        }
        r->nhomes++;
    }
    /* The coarse clock is the one file times are taken from: a file this server creates from
     * now on is not stamped before it (upload_recover_stale allows for filesystems that keep
     * whole seconds). */
    clock_gettime(CLOCK_REALTIME_COARSE, &r->started);
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

void recovery_wait(recovery *r)
{
    while (r && !atomic_load(&r->finished))
        usleep(1000);
}

void recovery_stop(recovery *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
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
