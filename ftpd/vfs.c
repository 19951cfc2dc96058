#include "vfs.h"
#include "vfs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#define INTERNAL_UP_PREFIX ".ftpd-up."
#define INTERNAL_PARTIAL_PREFIX ".ftpd-partial."

/* The same bound the kernel uses (MAXSYMLINKS). */
#define VFS_MAX_LINK_HOPS 40
/* openat2() fails with EAGAIN when a concurrent rename might have let '..' escape; the
 * kernel's advice is to retry. */
#define VFS_EAGAIN_RETRIES 16

enum { MODE_UNKNOWN = 0, MODE_OPENAT2, MODE_FALLBACK };

/* Whether openat2() works is a property of the running kernel (or of a seccomp filter in a
 * container), so it is decided once per process rather than per vfs. */
static atomic_int resolve_mode = MODE_UNKNOWN;

static long sys_openat2(int dirfd, const char *path, struct open_how *how)
{
    return syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

static int decide_mode(void)
{
    const char *env = getenv("FTPD_VFS_FORCE_FALLBACK");
    if (env && strcmp(env, "1") == 0)
        return MODE_FALLBACK;
    /* Probe with a harmless open rather than trusting the first real call: some container
     * seccomp profiles answer unknown syscalls with EPERM, which a real open can also
     * return for its own reasons. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC};
    long fd = sys_openat2(AT_FDCWD, "/", &how);
    if (fd >= 0) {
        close((int)fd);
        return MODE_OPENAT2;
    }
    return (errno == ENOSYS || errno == EPERM) ? MODE_FALLBACK : MODE_OPENAT2;
}

static int current_mode(void)
{
    int m = atomic_load_explicit(&resolve_mode, memory_order_relaxed);
    if (m != MODE_UNKNOWN)
        return m;
    int saved = errno;
    int want = decide_mode();
    errno = saved;
    /* Two threads may probe at once; both reach the same answer, the first store wins. */
    atomic_compare_exchange_strong(&resolve_mode, &m, want);
    return atomic_load(&resolve_mode);
}

void vfs_force_fallback(bool on)
{
    atomic_store(&resolve_mode, on ? MODE_FALLBACK : MODE_OPENAT2);
}

bool vfs_using_fallback(void)
{
    return current_mode() == MODE_FALLBACK;
}

bool vfs_fd_in_memory(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return false;
    return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

static vfs_speed speed_of(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return VFS_REMOTE;
    switch (sf.f_type) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
        return VFS_MEMORY;
    case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
        return VFS_LOCAL;
    default:
        return VFS_REMOTE;
    }
}

bool vfs_is_internal_name(const char *name)
{
    return strncmp(name, INTERNAL_UP_PREFIX, sizeof(INTERNAL_UP_PREFIX) - 1) == 0 ||
           strncmp(name, INTERNAL_PARTIAL_PREFIX, sizeof(INTERNAL_PARTIAL_PREFIX) - 1) == 0;
}

/* Virtual paths are absolute; *at() calls want them relative to the root fd. Done here
 * rather than with path_rel() because vfs must also hold for strings that never went through
 * path_resolve() ("//a", "a/../../x"): every leading slash goes, and nothing else is
 * interpreted lexically - '..' is left for the kernel or the walk to refuse. */
static const char *rel_of(const char *vpath)
{
    while (*vpath == '/')
        vpath++;
    return *vpath ? vpath : ".";
}

/* The last component of p as [*start, *start + return value), ignoring trailing slashes. */
static size_t last_component(const char *p, const char **start)
{
    size_t end = strlen(p);
    while (end > 0 && p[end - 1] == '/')
        end--;
    size_t b = end;
    while (b > 0 && p[b - 1] != '/')
        b--;
    *start = p + b;
    return end - b;
}

static bool comp_has_prefix(const char *c, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);
    return len >= plen && memcmp(c, prefix, plen) == 0;
}

static bool last_is_internal(const char *vpath)
{
    const char *c;
    size_t len = last_component(vpath, &c);
    return comp_has_prefix(c, len, INTERNAL_UP_PREFIX) ||
           comp_has_prefix(c, len, INTERNAL_PARTIAL_PREFIX);
}

/* ---- the walk used where openat2() is missing ---- */

/* Directories entered so far; stack[0] is the root fd, borrowed. '..' pops instead of
 * opening "..", so a directory renamed out of the root during the walk cannot become a way
 * out, and climbing above the root is simply the empty stack. */
typedef struct walk {
    int *stack;
    size_t depth; /* index of the current directory */
    size_t cap;
} walk;

static int walk_push(walk *w, int fd)
{
    if (w->depth + 1 >= w->cap) {
        size_t ncap = w->cap * 2;
        int *n = realloc(w->stack, ncap * sizeof(*n));
        if (!n)
            return -1;
        w->stack = n;
        w->cap = ncap;
    }
    w->stack[++w->depth] = fd;
    return 0;
}

static void walk_free(walk *w)
{
    for (size_t i = 1; i <= w->depth; i++)
        close(w->stack[i]);
    free(w->stack);
}

/* Replaces the remaining path with link target + "/" + rest. The target is interpreted
 * relative to the directory holding the link, which is the current top of the stack. */
static int splice_link(char **rem, const char *target, const char *rest)
{
    if (target[0] == '/') {
        errno = EACCES;
        return -1;
    }
    if (target[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    size_t tl = strlen(target), rl = strlen(rest);
    char *n = malloc(tl + 1 + rl + 1);
    if (!n)
        return -1;
    memcpy(n, target, tl);
    n[tl] = '/';
    memcpy(n + tl + 1, rest, rl + 1);
    free(*rem);
    *rem = n;
    return 0;
}

/* Reads the link at (dirfd, name) into buf; name "" reads an O_PATH fd to the link. */
static int read_link(int dirfd, const char *name, char *buf, size_t size)
{
    ssize_t n = readlinkat(dirfd, name, buf, size);
    if (n < 0)
        return -1;
    if ((size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static int walk_open(int root_fd, const char *rel, int flags, mode_t mode)
{
    walk w = {0};
    char *rem = strdup(rel);
    char name[NAME_MAX + 1];
    char link[PATH_MAX];
    int hops = 0, result = -1;

    w.cap = 16;
    w.stack = malloc(w.cap * sizeof(*w.stack));
    if (!rem || !w.stack)
        goto out;
    w.stack[0] = root_fd; /* borrowed: slot 0 is never closed */

    /* As in the kernel, a trailing slash asks for a directory. */
    size_t rl = strlen(rel);
    if (rl > 0 && rel[rl - 1] == '/') {
        if (flags & O_CREAT) {
            errno = EISDIR;
            goto out;
        }
        flags |= O_DIRECTORY;
    }

    size_t pos = 0;
    for (;;) {
        int top = w.stack[w.depth];
        const char *p = rem + pos;
        while (*p == '/')
            p++;
        if (*p == '\0') {
            /* Only "." remains: the current directory itself is the target. */
            result = openat(top, ".", flags, mode);
            goto out;
        }
        size_t len = strcspn(p, "/");
        if (len > NAME_MAX) {
            errno = ENAMETOOLONG;
            goto out;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        const char *next = p + len;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        pos = (size_t)(next - rem);

        if (strcmp(name, ".") == 0) {
            if (last) {
                result = openat(top, ".", flags, mode);
                goto out;
            }
            continue;
        }
        if (strcmp(name, "..") == 0) {
            if (w.depth == 0) {
                errno = EACCES;
                goto out;
            }
            close(w.stack[w.depth--]);
            if (last) {
                result = openat(w.stack[w.depth], ".", flags, mode);
                goto out;
            }
            continue;
        }

        int fd;
        bool is_link = false;
        if (last) {
            if (flags & O_NOFOLLOW) {
                /* The caller wants the link itself (or ELOOP): nothing to resolve. */
                result = openat(top, name, flags, mode);
                goto out;
            }
            fd = openat(top, name, flags | O_NOFOLLOW, mode);
            if (fd < 0) {
                /* A symlink opened with O_NOFOLLOW fails with ELOOP, or ENOTDIR under
                 * O_DIRECTORY; whether it really was a link, readlinkat() tells. */
                int err = errno;
                if ((err != ELOOP && err != ENOTDIR) ||
                    read_link(top, name, link, sizeof(link)) < 0) {
                    errno = err;
                    goto out;
                }
                is_link = true;
            } else if (flags & O_PATH) {
                /* O_PATH|O_NOFOLLOW opens the link itself rather than failing. */
                struct stat st;
                if (fstat(fd, &st) < 0) {
                    close(fd);
                    goto out;
                }
                if (!S_ISLNK(st.st_mode)) {
                    result = fd;
                    goto out;
                }
                int rc = read_link(fd, "", link, sizeof(link));
                close(fd);
                if (rc < 0)
                    goto out;
                is_link = true;
            } else {
                result = fd;
                goto out;
            }
        } else {
            fd = openat(top, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                goto out;
            struct stat st;
            if (fstat(fd, &st) < 0) {
                close(fd);
                goto out;
            }
            if (S_ISLNK(st.st_mode)) {
                int rc = read_link(fd, "", link, sizeof(link));
                close(fd);
                if (rc < 0)
                    goto out;
                is_link = true;
            } else if (!S_ISDIR(st.st_mode)) {
                close(fd);
                errno = ENOTDIR;
                goto out;
            } else if (walk_push(&w, fd) < 0) {
                close(fd);
                goto out;
            }
        }

        if (is_link) {
            if (++hops > VFS_MAX_LINK_HOPS) {
                errno = ELOOP;
                goto out;
            }
            if (splice_link(&rem, link, rem + pos) < 0)
                goto out;
            pos = 0;
        }
    }

out:;
    int saved = errno;
    walk_free(&w);
    free(rem);
    errno = saved;
    return result;
}

/* ---- resolution beneath the root ---- */

static int beneath_open(const vfs *v, const char *rel, int flags, mode_t mode)
{
    flags |= O_CLOEXEC;
    if (current_mode() == MODE_OPENAT2) {
        struct open_how how = {
            .flags = (unsigned)flags,
            /* openat2() rejects a mode where open() would ignore it. */
            .mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        for (int i = 0; i < VFS_EAGAIN_RETRIES; i++) {
            long fd = sys_openat2(v->root_fd, rel, &how);
            if (fd >= 0)
                return (int)fd;
            if (errno == EAGAIN)
                continue;
            if (errno == EXDEV)
                errno = EACCES; /* RESOLVE_BENEATH's word for "would leave the root" */
            if (errno != ENOSYS)
                return -1;
            atomic_store(&resolve_mode, MODE_FALLBACK);
            break;
        }
        if (errno == EAGAIN)
            return -1;
    }
    return walk_open(v->root_fd, rel, flags, mode);
}

/* Opens the parent of vpath. Internal names are refused with internal_errno: ENOENT where
 * the operation needs an existing object (they are invisible), EACCES where it would make
 * one. */
static int open_parent(const vfs *v, const char *vpath, const char **base, int internal_errno)
{
    const char *rel = rel_of(vpath);
    const char *b;
    size_t blen = last_component(rel, &b);
    if (blen == 0 || (blen == 1 && b[0] == '.')) {
        errno = EINVAL;
        return -1;
    }
    if (blen == 2 && b[0] == '.' && b[1] == '.') {
        errno = EACCES;
        return -1;
    }
    if (last_is_internal(rel)) {
        errno = internal_errno;
        return -1;
    }
    size_t plen = (size_t)(b - rel);
    while (plen > 0 && rel[plen - 1] == '/')
        plen--;
    char parent[PATH_MAX];
    if (plen >= sizeof(parent)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (plen == 0) {
        strcpy(parent, ".");
    } else {
        memcpy(parent, rel, plen);
        parent[plen] = '\0';
    }
    int fd = beneath_open(v, parent, O_PATH | O_DIRECTORY, 0);
    if (fd >= 0)
        *base = b;
    return fd;
}

/* RESOLVE_CACHED came with Linux 5.12; before, openat2 refuses it with EINVAL. */
static atomic_bool cached_unsupported;

/* The speeds of the file systems on devices without a block device (tmpfs, btrfs, FUSE,
 * NFS: major number 0) that homes were found on, so that a later login can tell a home on
 * tmpfs from one on FUSE without asking the file system (statfs), which FUSE and NFS
 * forward to their server. A device number freed by an unmount may be given to a new file
 * system; a home on it found "fast" then costs the loop one permission check (it is never
 * a wrong answer, only a slow one). */
#define SPEEDS_KEPT 16
static struct {
    dev_t dev;
    vfs_speed speed;
    bool used;
} speeds[SPEEDS_KEPT];
static unsigned speeds_next;
static pthread_mutex_t speeds_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember_speed(dev_t dev, vfs_speed speed)
{
    pthread_mutex_lock(&speeds_lock);
    unsigned i = 0;
    while (i < SPEEDS_KEPT && !(speeds[i].used && speeds[i].dev == dev))
        i++;
    if (i == SPEEDS_KEPT)
        i = speeds_next++ % SPEEDS_KEPT;
    speeds[i].dev = dev;
    speeds[i].speed = speed;
    speeds[i].used = true;
    pthread_mutex_unlock(&speeds_lock);
}

static bool recall_speed(dev_t dev, vfs_speed *speed)
{
    bool found = false;
    pthread_mutex_lock(&speeds_lock);
    for (unsigned i = 0; i < SPEEDS_KEPT && !found; i++)
        if (speeds[i].used && speeds[i].dev == dev) {
            *speed = speeds[i].speed;
            found = true;
        }
    pthread_mutex_unlock(&speeds_lock);
    return found;
}

/* O_PATH opens a directory the server's user may not enter; every path of the session
 * would then fail, so the login should. Looking up "." needs that search permission. */
static int root_enterable(int fd)
{
    if (faccessat(fd, ".", X_OK, AT_EACCESS) == 0)
        return 0;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}

int vfs_open_root(vfs *v, const char *dir)
{
    v->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (v->root_fd < 0)
        return -1;
    if (root_enterable(v->root_fd) < 0) {
        v->root_fd = -1;
        return -1;
    }
    v->speed = speed_of(v->root_fd);
    struct stat st;
    if (fstat(v->root_fd, &st) == 0)
        remember_speed(st.st_dev, v->speed);
    return 0;
}

int vfs_open_root_cached(vfs *v, const char *dir)
{
    v->root_fd = -1;
    if (current_mode() != MODE_OPENAT2 || atomic_load(&cached_unsupported)) {
        errno = EAGAIN;
        return -1;
    }
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_CACHED};
    long fd = sys_openat2(AT_FDCWD, dir, &how);
    if (fd < 0) {
        if (errno == EINVAL) {
            atomic_store(&cached_unsupported, true);
            errno = EAGAIN;
        } else if (errno == ENOSYS) {
            errno = EAGAIN;
        }
        return -1;
    }
    /* The device number as the kernel has it, without asking the file system. */
    struct statx stx;
    vfs_speed speed = VFS_REMOTE;
    if (statx((int)fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) == 0) {
        if (stx.stx_dev_major != 0) /* on a block device: a local disk, whose statfs waits not */
            speed = speed_of((int)fd);
        else if (!recall_speed(makedev(stx.stx_dev_major, stx.stx_dev_minor), &speed))
            speed = VFS_REMOTE;
    }
    if (speed == VFS_REMOTE) {
        close((int)fd);
        errno = EAGAIN;
        return -1;
    }
    if (root_enterable((int)fd) < 0)
        return -1;
    v->root_fd = (int)fd;
    v->speed = speed;
    return 0;
}

void vfs_close(vfs *v)
{
    if (v->root_fd >= 0)
        close(v->root_fd);
    v->root_fd = -1;
}

int vfs_open(const vfs *v, const char *vpath, int flags, mode_t mode)
{
    const char *rel = rel_of(vpath);
    if (last_is_internal(rel)) {
        errno = (flags & O_CREAT) ? EACCES : ENOENT;
        return -1;
    }
    return beneath_open(v, rel, flags, mode);
}

int vfs_open_cached(const vfs *v, const char *vpath, int flags)
{
    const char *rel = rel_of(vpath);
    if (last_is_internal(rel)) {
        errno = ENOENT;
        return -1;
    }
    if (current_mode() != MODE_OPENAT2 || atomic_load(&cached_unsupported)) {
        errno = EAGAIN;
        return -1;
    }
    struct open_how how = {
        .flags = (unsigned)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_CACHED,
    };
    long fd = sys_openat2(v->root_fd, rel, &how);
    if (fd >= 0)
        return (int)fd;
    if (errno == EINVAL) {
        atomic_store(&cached_unsupported, true);
        errno = EAGAIN;
    } else if (errno == EXDEV) {
        errno = EACCES; /* RESOLVE_BENEATH's word for "would leave the root" */
    } else if (errno == ENOSYS) {
        errno = EAGAIN;
    }
    return -1;
}

int vfs_stat(const vfs *v, const char *vpath, struct stat *st)
{
    const char *rel = rel_of(vpath);
    if (last_is_internal(rel)) {
        errno = ENOENT;
        return -1;
    }
    int fd = beneath_open(v, rel, O_PATH, 0);
    if (fd < 0)
        return -1;
    int rc = fstat(fd, st);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

DIR *vfs_opendir(const vfs *v, const char *vpath)
{
    const char *rel = rel_of(vpath);
    if (last_is_internal(rel)) {
        errno = ENOENT;
        return NULL;
    }
    int fd = beneath_open(v, rel, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return d;
}

int vfs_open_parent(const vfs *v, const char *vpath, const char **base)
{
    return open_parent(v, vpath, base, EACCES);
}

static int close_keep_errno(int fd, int rc)
{
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int vfs_mkdir(const vfs *v, const char *vpath, mode_t mode)
{
    const char *base;
    int dfd = open_parent(v, vpath, &base, EACCES);
    if (dfd < 0)
        return -1;
    return close_keep_errno(dfd, mkdirat(dfd, base, mode));
}

/* A directory that looks empty to the client may still hold partial uploads kept for a
 * resume, which listings hide: RMD of it removes them. Returns 0 when they were all there
 * was (and are gone); -1 with ENOTEMPTY when anything the client can see is there, or else
 * EBUSY when an upload into it is in progress (its hidden file stays, and so does the
 * directory: the upload renames its file into it at its end). */
static int remove_kept_partials(int dfd, const char *base)
{
    int fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0, why = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) { /* look first, then remove */
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (strncmp(e->d_name, INTERNAL_PARTIAL_PREFIX, sizeof(INTERNAL_PARTIAL_PREFIX) - 1) !=
                0) {
                /* a visible name wins over an upload's: "not empty" is what the client sees */
                rc = -1;
                if (strncmp(e->d_name, INTERNAL_UP_PREFIX, sizeof(INTERNAL_UP_PREFIX) - 1) != 0) {
                    why = ENOTEMPTY;
                    break;
                }
                why = EBUSY;
                continue;
            }
            if (pass == 1 && unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
                rc = -1;
                why = errno;
                break;
            }
        }
    }
    int err = why ? why : errno;
    closedir(d);
    errno = err;
    return rc;
}

int vfs_rmdir(const vfs *v, const char *vpath)
{
    const char *base;
    int dfd = open_parent(v, vpath, &base, ENOENT);
    if (dfd < 0)
        return -1;
    int rc = unlinkat(dfd, base, AT_REMOVEDIR);
    if (rc < 0 && (errno == ENOTEMPTY || errno == EEXIST)) {
        errno = ENOTEMPTY;
        if (remove_kept_partials(dfd, base) == 0)
            rc = unlinkat(dfd, base, AT_REMOVEDIR);
    }
    return close_keep_errno(dfd, rc);
}

int vfs_unlink(const vfs *v, const char *vpath)
{
    const char *base;
    int dfd = open_parent(v, vpath, &base, ENOENT);
    if (dfd < 0)
        return -1;
    return close_keep_errno(dfd, unlinkat(dfd, base, 0));
}

/* chmod() or the mtime of vpath, through an O_PATH fd opened beneath the root and named by its
 * /proc/self/fd link: a path would follow a link out of the root, and an fd opened for
 * reading needs the very permission bits a chmod may be about to restore. Without /proc
 * (some containers), an fd opened for reading does it, where the bits allow. */
/* A directory keeps its set-ID bits, as chmod(1) keeps them for a numeric mode: a folder
 * made in a set-group-ID shared one inherits the bit so that what goes into it gets the
 * group, and a client carrying its own modes over (mirror -R, FileZilla) cannot know it. */
static mode_t kept_dir_bits(int fd, mode_t mode)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        mode |= st.st_mode & (S_ISUID | S_ISGID);
    return mode;
}

static int change_beneath(const vfs *v, const char *vpath, const mode_t *mode,
                          const struct timespec *mtime)
{
    const char *rel = rel_of(vpath);
    if (last_is_internal(rel)) {
        errno = ENOENT;
        return -1;
    }
    /* The access time too, as pure-ftpd and pyftpdlib set it: a FUSE file system built on
     * libfuse 2 (fusepy's) ignores a change of the modification time alone, and MFMT would
     * leave the time as it was. */
    struct timespec ts[2] = {{0}, {0}};
    if (mtime)
        ts[0] = ts[1] = *mtime;
    int fd = beneath_open(v, rel, O_PATH, 0);
    if (fd < 0)
        return -1;
    mode_t m = mode ? kept_dir_bits(fd, *mode) : 0;
    char name[40];
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    int rc = mode ? chmod(name, m) : utimensat(AT_FDCWD, name, ts, 0);
    if (rc == 0 || errno != ENOENT)
        return close_keep_errno(fd, rc);
    close(fd);
    if ((fd = beneath_open(v, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0)) < 0)
        return -1;
    return close_keep_errno(fd, mode ? fchmod(fd, kept_dir_bits(fd, *mode)) : futimens(fd, ts));
}

int vfs_chmod(const vfs *v, const char *vpath, mode_t mode)
{
    return change_beneath(v, vpath, &mode, NULL);
}

int vfs_set_mtime(const vfs *v, const char *vpath, const struct timespec *mtime)
{
    return change_beneath(v, vpath, NULL, mtime);
}

int vfs_rename(const vfs *v, const char *from, const char *to)
{
    const char *fbase, *tbase;
    int fdfd = open_parent(v, from, &fbase, ENOENT);
    if (fdfd < 0)
        return -1;
    int tdfd = open_parent(v, to, &tbase, EACCES);
    if (tdfd < 0)
        return close_keep_errno(fdfd, -1);
    int rc = renameat(fdfd, fbase, tdfd, tbase);
    close_keep_errno(tdfd, rc);
    return close_keep_errno(fdfd, rc);
}
