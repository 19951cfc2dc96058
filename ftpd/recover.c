#include "recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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

struct recovery {
    pthread_t thread;
    char **roots;
    size_t nroots;
    struct timespec started; /* files written since belong to this server */
    atomic_bool stop;
    bool joined;
    /* the walk's own counts */
    unsigned long dirs, kept, dropped;
};

static bool is_beneath(const char *inner, const char *outer)
{
    size_t n = strlen(outer);
    if (n == 1 && outer[0] == '/')
        return true;
    return strncmp(inner, outer, n) == 0 && (inner[n] == '/' || inner[n] == '\0');
}

/* Adds the real path of dir unless an added root already covers it; drops added roots that
 * it covers. */
static int add_root(recovery *r, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return 0; /* a home that does not exist holds no uploads; the login says so */
    for (size_t i = 0; i < r->nroots; i++) {
        if (is_beneath(real, r->roots[i])) {
            free(real);
            return 0;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < r->nroots; i++) {
        if (is_beneath(r->roots[i], real))
            free(r->roots[i]);
        else
            r->roots[kept++] = r->roots[i];
    }
    r->nroots = kept;
    char **grown = realloc(r->roots, (r->nroots + 1) * sizeof *grown);
    if (!grown) {
        free(real);
        return -1;
    }
    r->roots = grown;
    r->roots[r->nroots++] = real;
    return 0;
}

static void note(recovery *r, upload_stale what, const char *dir, const char *name, off_t size)
{
    unsigned long n = r->kept + r->dropped;
    if (what == UPLOAD_STALE_KEPT)
        r->kept++;
    else
        r->dropped++;
    if (n >= RECOVER_LOG_NAMES)
        return;
    /* ".ftpd-up.TARGET.TAG": the log names the target */
    const char *target = name + strlen(".ftpd-up.");
    int tlen = (int)(strrchr(name, '.') - target);
    if (what == UPLOAD_STALE_KEPT)
        log_info("upload recovery: %s/%.*s: %lld bytes of an interrupted upload kept for a "
                 "resume (REST or APPE)",
                 dir, tlen, target, (long long)size);
    else
        log_info("upload recovery: %s/%.*s: removed %lld bytes of an interrupted upload; its "
                 "resume point holds as much",
                 dir, tlen, target, (long long)size);
}

/* Walks the directory open as fd (which it closes), path its name for the log. */
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
            off_t size = 0;
            upload_stale what = upload_recover_stale(dirfd(d), n, &r->started, &size);
            if (what != UPLOAD_STALE_NONE) {
                note(r, what, path, n, size);
                continue;
            }
        }
        if ((e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) || depth >= RECOVER_MAX_DEPTH)
            continue;
        int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue; /* not a directory, or not ours to read */
        struct stat st;
        size_t nlen = strlen(n);
        /* Another filesystem mounted inside a home is not this server's to walk. */
        if (fstat(sub, &st) < 0 || st.st_dev != dev || plen + 1 + nlen >= PATH_MAX) {
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

static void *recovery_main(void *arg)
{
    recovery *r = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), RECOVER_NICE); /* failure costs fairness */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *path = malloc(PATH_MAX);
    for (size_t i = 0; path && i < r->nroots; i++) {
        int fd = open(r->roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            log_debug("upload recovery: cannot read %s: %s", r->roots[i], strerror(errno));
            if (fd >= 0)
                close(fd);
            continue;
        }
        size_t len = strlen(r->roots[i]);
        if (len >= PATH_MAX) {
            close(fd);
            continue;
        }
        memcpy(path, r->roots[i], len + 1);
        walk(r, fd, path, len, st.st_dev, 0);
    }
    free(path);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    bool stopped = atomic_load(&r->stop);
    if (r->kept + r->dropped > 0)
        log_info("upload recovery: %lu interrupted upload%s kept for a resume, %lu removed "
                 "(%lu directories, %.2f s%s)",
                 r->kept, r->kept == 1 ? "" : "s", r->dropped, r->dirs, secs,
                 stopped ? ", stopped early" : "");
    else
        log_debug("upload recovery: nothing to recover (%lu directories, %.2f s%s)", r->dirs, secs,
                  stopped ? ", stopped early" : "");
    return NULL;
}

static void free_recovery(recovery *r)
{
    for (size_t i = 0; i < r->nroots; i++)
        free(r->roots[i]);
    free(r->roots);
    free(r);
}

recovery *recovery_start(const ftpd_users *users)
{
    recovery *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    /* The coarse clock is the one file times are taken from: a file this server creates from
     * now on is never stamped before it. */
    clock_gettime(CLOCK_REALTIME_COARSE, &r->started);
    atomic_init(&r->stop, false);
    int rc = 0;
    for (size_t i = 0; rc == 0 && users && i < users->n; i++)
        if (users->v[i].perms & (PERM_WRITE | PERM_APPEND))
            rc = add_root(r, users->v[i].home);
    if (rc < 0 || r->nroots == 0) {
        free_recovery(r);
        return NULL;
    }
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
    if (r && !r->joined) {
        pthread_join(r->thread, NULL);
        r->joined = true;
    }
}

void recovery_stop(recovery *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    recovery_wait(r);
    free_recovery(r);
}
