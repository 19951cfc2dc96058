#include "upload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "ownfiles.h"

#define TEMP_PREFIX ".ftpd-up."
#define PARTIAL_PREFIX ".ftpd-partial."
/* A target whose key is a digest keeps its real name here, for recovery's log lines. */
#define NAME_XATTR "user.ftpd.name"
/* How long a claim waits for a partial that another thread or server holds locked: it is
 * locked under its partial name only for the moment between a rename and a close. */
#define CLAIM_WAIT_TRIES 50
#define CLAIM_WAIT_US 1000

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The part of the internal names that stands for the target: the name itself when it is at
 * most UPLOAD_READABLE_MAX bytes and does not start with '#', else '#' and the SHA-256 of
 * the name in hex, so that prefix and tag still fit in NAME_MAX. A name of one kind never
 * looks like one of the other, and only a SHA-256 collision gives two names one partial. */
static int internal_key(char *out, size_t size, const char *target)
{
    size_t n = strlen(target);
    if (n <= UPLOAD_READABLE_MAX && target[0] != '#') {
        if (n >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out, target, n + 1);
        return 0;
    }
    char hex[DIGEST_HEX_MAX];
    digest d;
    if (size < 66 || digest_init(&d, DIGEST_SHA256) < 0)
        return -1;
    if (digest_update(&d, target, n) < 0 || digest_final_hex(&d, hex) < 0) {
        digest_free(&d);
        return -1;
    }
    snprintf(out, size, "#%s", hex);
    return 0;
}

static int key_partial_name(char *out, size_t size, const char *key)
{
    int n = snprintf(out, size, PARTIAL_PREFIX "%s", key);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int partial_name(char *out, size_t size, const char *target)
{
    char key[UPLOAD_READABLE_MAX + 1];
    if (internal_key(key, sizeof key, target) < 0)
        return -1;
    return key_partial_name(out, size, key);
}

/* Part of every temp name this process makes, so that servers sharing a tree (and a server
 * and the leftovers of its previous run) never pick the same name: session numbers restart
 * with each server. */
static uint32_t process_salt;
static pthread_once_t salt_once = PTHREAD_ONCE_INIT;

static void init_salt(void)
{
    if (getrandom(&process_salt, sizeof process_salt, GRND_NONBLOCK) != sizeof process_salt) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        process_salt = (uint32_t)getpid() ^ (uint32_t)t.tv_nsec ^ (uint32_t)t.tv_sec;
    }
}

/* The start of the source's next hole at or after in, before stop; stop when there is none
 * (or the file system cannot say). *skip is set when in itself lies in a hole, whose end (or
 * stop) is returned instead. */
static off_t next_boundary(int src, off_t in, off_t stop, bool *skip)
{
    *skip = false;
    off_t data = lseek(src, in, SEEK_DATA);
    if (data < 0) {
        *skip = errno == ENXIO; /* a hole from in to the end */
        return stop;
    }
    if (data > in) {
        *skip = true;
        return data < stop ? data : stop;
    }
    off_t hole = lseek(src, in, SEEK_HOLE);
    return hole > in && hole < stop ? hole : stop;
}

/* Copies the bytes from *pos up to end of src into dst (a file written from its start, in
 * order) at the same offsets, at most max of them, and advances *pos. A source found short
 * (the target shrank under us) is EINVAL, as REST beyond the end would be. A hole in the source
 * stays a hole in the copy: written out as zeros, a sparse disk image of 100 GiB holding
 * 1 GiB would take 100 GiB of the disk, and the time to write them, for an APPE of a few
 * bytes. */
static int copy_range(int src, int dst, off_t *pos, off_t end, off_t max)
{
    off_t in = *pos, out = *pos;
    off_t stop = end - in > max ? in + max : end;
    bool use_cfr = true;
    char buf[64 * 1024];
    int rc = 0;
    /* Past the source's end SEEK_DATA finds "a hole to the end": only a source that holds
     * every byte asked for when the slice starts is searched for holes, so that one already
     * short is EINVAL. One that shrinks later within the slice may read as a hole to the end
     * and be copied as one, but its size and ctime have changed then, and the commit's check
     * of the guarded target (target_unchanged) refuses the result: nothing wrong is stored. */
    struct stat sst;
    bool sparse = fstat(src, &sst) == 0 && sst.st_size >= stop;
    /* Asked again only once the copy reaches it: the plain loop takes 64 KiB a pass, and
     * each lseek is a round trip on NFS 4.2 or a FUSE file system that implements it. */
    off_t until = in;

    while (in < stop) {
        if (!sparse) {
            until = stop;
        } else if (in >= until) {
            bool skip;
            until = next_boundary(src, in, stop, &skip);
            if (skip) { /* dst ends at in: growing it leaves the hole unwritten */
                if (ftruncate(dst, until) < 0) {
                    rc = -1;
                    goto out;
                }
                in = out = until;
                continue;
            }
        }
        size_t want = (size_t)(until - in);
        ssize_t n;
        if (use_cfr) {
            n = copy_file_range(src, &in, dst, &out, want, 0);
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                          errno == EOPNOTSUPP || errno == EPERM)) {
                /* Not supported between these files: the plain loop always works. */
                use_cfr = false;
                continue;
            }
        } else {
            if (want > sizeof(buf))
                want = sizeof(buf);
            n = pread(src, buf, want, in);
            if (n > 0) {
                ssize_t off = 0;
                while (off < n) {
                    ssize_t w = pwrite(dst, buf + off, (size_t)(n - off), out);
                    if (w < 0) {
                        if (errno == EINTR)
                            continue;
                        rc = -1;
                        goto out;
                    }
                    off += w;
                    out += w;
                }
                in += n;
            }
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        if (n == 0) {
            errno = EINVAL;
            rc = -1;
            break;
        }
    }
out:
    *pos = out;
    return rc;
}

/* A live upload holds an exclusive flock on its file from the moment it has the temp name
 * until the name is gone (committed, kept as a partial or removed): a file under a temp name
 * that nobody holds was left by a server that died. Returns 0, or -1 with errno:
 * EWOULDBLOCK when somebody else holds it. A filesystem without flock (ENOLCK) leaves the
 * upload unmarked: it still works, and recovery, which needs the lock too, leaves it alone. */
static int lock_file(int fd)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
        return 0;
    return -1;
}

/* Creates the temp file exclusively and locks it. A temp file of the same name can only be
 * left by a server that died with the same salt: it is recovered as a partial first. */
static int create_temp(upload *u)
{
    for (int tries = 0; tries < 3; tries++) {
        u->fd =
            openat(u->dir_fd, u->temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (u->fd >= 0 || errno != EEXIST)
            break;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (upload_recover_stale(u->dir_fd, u->temp, &now, NULL) == UPLOAD_STALE_NONE &&
            faccessat(u->dir_fd, u->temp, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            errno = EEXIST; /* a live upload of that name */
            return -1;
        }
    }
    if (u->fd < 0)
        return -1;
    /* Between the create and the lock, recovery may hold the lock for a moment: it leaves
     * an empty file alone. Unlocked, the upload would look like a leftover. */
    for (int tries = 0; lock_file(u->fd) < 0; tries++) {
        if (tries == 1000) {
            close_fd(&u->fd);
            unlinkat(u->dir_fd, u->temp, 0);
            errno = EBUSY;
            return -1;
        }
        sched_yield();
    }
    return 0;
}

/* rename(2) within dir_fd that fails with EEXIST rather than replace `to`. Where the
 * filesystem has no RENAME_NOREPLACE (NFS, many FUSE filesystems) a hard link and an unlink
 * do the same: link(2) never replaces either. Where there are no hard links either, a check
 * and a plain rename are the best there is. */
static int rename_noreplace(int dir_fd, const char *from, const char *to)
{
    if (renameat2(dir_fd, from, dir_fd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -1;
    if (linkat(dir_fd, from, dir_fd, to, 0) == 0) {
        (void)unlinkat(dir_fd, from, 0);
        return 0;
    }
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    if (faccessat(dir_fd, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return renameat(dir_fd, from, dir_fd, to);
}

/* Gives a claimed partial back under its partial name (failures while claiming or starting
 * must not destroy a resume point). If a newer partial appeared meanwhile, that one wins. */
static void return_partial(upload *u)
{
    char partial[300];
    if (partial_name(partial, sizeof(partial), u->target) < 0 ||
        rename_noreplace(u->dir_fd, u->temp, partial) < 0)
        unlinkat(u->dir_fd, u->temp, 0);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* One attempt of claim_partial: 1 claimed, 0 none, -1 error, 2 the file under the partial
 * name changed while it was being claimed (try again). */
static int claim_once(upload *u, const char *partial, off_t min, off_t *size)
{
    struct stat st, now;
    int fd = -1, rc = 0;
    for (int tries = 0;; tries++) {
        /* O_NONBLOCK: a FIFO under the partial's name must not stall the open */
        fd = openat(u->dir_fd, partial, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT || errno == ELOOP || errno == ENXIO ? 0 : -1;
        if (fstat(fd, &st) < 0) {
            rc = -1;
            goto out;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < min)
            goto out; /* not a resume point, or too short */
        if (lock_file(fd) == 0)
            break;
        close(fd);
        if (tries == CLAIM_WAIT_TRIES) {
            errno = EBUSY;
            return -1;
        }
        usleep(CLAIM_WAIT_US);
    }
    /* Never over another file: one under our temp name is a leftover of a process that had
     * our salt and session number, and it goes to recovery first. */
    int moved = rename_noreplace(u->dir_fd, partial, u->temp);
    if (moved < 0 && errno == EEXIST) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        if (upload_recover_stale(u->dir_fd, u->temp, &t, NULL) != UPLOAD_STALE_NONE)
            moved = rename_noreplace(u->dir_fd, partial, u->temp);
        else
            errno = EEXIST;
    }
    if (moved < 0) {
        rc = errno == ENOENT ? 0 : -1; /* ENOENT: another session took it */
        goto out;
    }
    if (fstatat(u->dir_fd, u->temp, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&st, &now)) {
        /* Another file replaced the one we locked between the open and the rename (a partial
         * kept meanwhile, or a leftover recovery preferred): give it back and look again. */
        return_partial(u);
        rc = 2;
        goto out;
    }
    if (fcntl(fd, F_SETFL, 0) < 0) {
        rc = -1;
        return_partial(u);
        goto out;
    }
    u->fd = fd;
    *size = st.st_size;
    return 1;
out:;
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Claims the partial: opens and locks it, then renames it to our temp name. Of several
 * sessions racing for it exactly one gets it; the lock is taken before the rename so that the
 * file is never under a temp name unlocked. A partial found locked is waited for: it is
 * being renamed (by its claimer, by an upload that just kept it, or by recovery), and taking
 * it for absent would start a resume from byte 0. Returns 1 when claimed (u->fd open, *size
 * its length), 0 when there is no usable partial holding at least min bytes, -1 on error
 * (EBUSY: it stayed locked). Blocking: for worker threads. */
static int claim_partial(upload *u, off_t min, off_t *size)
{
    char partial[300];
    if (partial_name(partial, sizeof(partial), u->target) < 0)
        return -1;
    int rc = 2;
    for (int tries = 0; rc == 2 && tries < 3; tries++)
        rc = claim_once(u, partial, min, size);
    return rc == 2 ? 0 : rc;
}

static bool temp_key(const char *name, char *key, size_t size);

/* Whether an upload of the target whose key this is runs now, here or in another server: its
 * file has a temp name and is locked (lock_file). Such an upload may hold bytes its client
 * counts as sent, which become its partial only when it ends: one whose client was cut but
 * whose end the server has not seen yet (a dead peer shows only at the data timeout), or
 * whose writer still moves its last bytes. */
static bool upload_running(int dir_fd, const char *key)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    bool running = false;
    struct dirent *e;
    char k[UPLOAD_READABLE_MAX + 1];
    while (!running && (e = readdir(d))) {
        if (!temp_key(e->d_name, k, sizeof k) || strcmp(k, key) != 0)
            continue;
        int f = openat(dir_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (f < 0 && errno == EACCES) /* an upload keeps its target's mode, maybe write-only */
            f = openat(dir_fd, e->d_name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (f < 0)
            continue;
        running = flock(f, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
        close(f); /* a shared lock taken on a leftover goes with it */
    }
    closedir(d);
    return running;
}

int upload_begin_staged(upload *u, const vfs *v, const char *vpath, upload_mode mode, off_t rest,
                        unsigned long unique_tag)
{
    enum { NONE, CREATED, CLAIMED } owns = NONE;
    int tfd = -1;
    struct stat tst;
    bool have_target = false, have_mode = false;
    off_t size = 0;

    u->dir_fd = -1;
    u->fd = -1;
    u->target[0] = '\0';
    u->temp[0] = '\0';
    u->offset = 0;
    u->claimed = false;
    u->copy_fd = -1;
    u->cmp_fd = -1;
    u->copied = 0;
    u->guarded = u->named = u->based = false;

    if (rest < 0) {
        errno = EINVAL;
        return -1;
    }
    /* A STOU writes a new file under a name that was free: it must never replace a file that
     * took the name meanwhile. */
    if (mode == UPLOAD_UNIQUE) {
        mode = UPLOAD_NEW;
        u->guarded = true;
    }
    if (mode == UPLOAD_RESTART && rest == 0)
        mode = UPLOAD_NEW;

    const char *base;
    u->dir_fd = vfs_open_parent(v, vpath, &base);
    if (u->dir_fd < 0)
        return -1;
    size_t blen = strlen(base);
    if (strchr(base, '/')) {
        /* "name/" only names a directory. */
        errno = EISDIR;
        goto fail;
    }
    if (blen > UPLOAD_NAME_MAX) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    memcpy(u->target, base, blen + 1);
    char key[UPLOAD_READABLE_MAX + 1];
    if (internal_key(key, sizeof key, u->target) < 0)
        goto fail;
    pthread_once(&salt_once, init_salt);
    snprintf(u->temp, sizeof(u->temp), TEMP_PREFIX "%s.%08x%lx", key, (unsigned)process_salt,
             unique_tag);

    /* The target is opened through vfs, not fstatat() on dir_fd, because it may be a
     * symlink and its data is copied into the upload: both must stay beneath the root.
     * O_NONBLOCK so that a FIFO cannot stall the open. */
    tfd = vfs_open(v, vpath, O_RDONLY | O_NONBLOCK, 0);
    if (tfd >= 0) {
        if (fstat(tfd, &tst) < 0)
            goto fail;
        if (S_ISDIR(tst.st_mode)) {
            errno = EISDIR;
            goto fail;
        }
        /* Neither replaced nor copied from (APPE, REST onto it): ownfiles.h. A symlink to
         * one would only be replaced, but its bytes would be copied into the upload. */
        if (ownfiles_holds(&tst)) {
            errno = OWNFILES_REFUSED;
            goto fail;
        }
        have_mode = have_target = S_ISREG(tst.st_mode);
        if (!have_target)
            close_fd(&tfd);
    } else if (errno != ENOENT) {
        int err = errno;
        if (err != EISDIR && vfs_stat(v, vpath, &tst) == 0) {
            if (S_ISDIR(tst.st_mode))
                err = EISDIR;
            else if (ownfiles_holds(&tst)) /* one the server's user cannot read */
                err = OWNFILES_REFUSED;
            have_mode = S_ISREG(tst.st_mode);
        }
        /* Resuming from a target we cannot read would silently drop its data; a new
         * upload does not need to read it. */
        if (err == EISDIR || err == OWNFILES_REFUSED || mode != UPLOAD_NEW) {
            errno = err;
            goto fail;
        }
    }

    /* The file's own mode guards it as it would guard a write in place: the rename below
     * needs only the directory's write permission, and would replace a read-only file (or
     * one of another owner) that vsftpd or ProFTPD refuse to open for writing. */
    if (have_mode && faccessat(u->dir_fd, u->target, W_OK, AT_EACCESS) < 0) {
        if (errno != ENOENT)
            goto fail;
        /* Another session deleted or renamed the target since it was opened: the upload
         * goes on as it would have had the name been free from the start. */
        have_mode = have_target = false;
        close_fd(&tfd);
    }

    /* APPE appends to the file that exists, the one SIZE reports; only a name without one
     * continues its partial. REST n continues a partial that holds n bytes either way. */
    if (mode == UPLOAD_RESTART || (mode == UPLOAD_APPEND && !have_target && !have_mode)) {
        int c = claim_partial(u, mode == UPLOAD_RESTART ? rest : 1, &size);
        if (c < 0)
            goto fail;
        if (c > 0)
            owns = CLAIMED;
    }
    if (owns == CLAIMED) {
        if (mode == UPLOAD_RESTART) {
            /* SIZE reports the file, so REST at exactly its size is how a client resumes from
             * SIZE: it means the file's bytes (ftpc's put -c has checked them with HASH). The
             * partial of another upload of the name would splice the rest onto bytes the
             * client never saw; it is continued only once upload_copy_step has found that its
             * first bytes are the file's, and is cut to them only then. */
            if (have_target && tst.st_size == rest) {
                /* The comparison reads the partial through a descriptor of its own: one that
                 * its own mode keeps the server from reading (cut while replacing a 0200
                 * file) is opened to it meanwhile, and gets its mode back if refused. */
                struct stat pst;
                if (fstat(u->fd, &pst) < 0)
                    goto fail;
                u->cmp_mode = pst.st_mode & 07777;
                if (!(pst.st_mode & S_IRUSR) && fchmod(u->fd, u->cmp_mode | S_IRUSR) < 0)
                    goto fail;
                u->cmp_fd = tfd;
                tfd = -1;
            } else if (ftruncate(u->fd, rest) < 0) {
                goto fail;
            }
            size = rest;
        }
    } else {
        /* A resume without a partial to continue would build on the target's bytes (or on
         * nothing): while an upload of the name still runs, the bytes its client means to
         * resume from are in that upload, soon its partial, and the target holds the
         * previous version. Try again once it has ended. */
        if ((mode == UPLOAD_RESTART || (mode == UPLOAD_APPEND && !have_target)) &&
            upload_running(u->dir_fd, key)) {
            errno = EBUSY;
            goto fail;
        }
        off_t copy = 0;
        if (mode == UPLOAD_RESTART) {
            if (!have_target || tst.st_size < rest) {
                errno = EINVAL;
                goto fail;
            }
            copy = rest;
        } else if (mode == UPLOAD_APPEND && have_target) {
            copy = tst.st_size;
        }
        if (create_temp(u) < 0)
            goto fail;
        owns = CREATED;
        if (key[0] == '#') /* best effort: recovery's log then names the file */
            (void)fsetxattr(u->fd, NAME_XATTR, u->target, strlen(u->target), 0);
        if (copy > 0) { /* upload_copy_step copies it */
            u->copy_fd = tfd;
            tfd = -1;
        }
        size = copy;
    }
    close_fd(&tfd);
    /* An APPE, or a REST that starts from the target's own bytes, builds on what the name
     * holds now (a file, or nothing): the commit checks that it still does, so that a file
     * another session stored, deleted or renamed meanwhile is not silently replaced by a
     * copy of its old bytes. A claimed partial continues an earlier STOR of the name, which
     * replaces what is there like any STOR; but one continued because it begins with the
     * file's bytes (cmp_fd) builds on the file as much as a copy of it would. */
    if (mode == UPLOAD_APPEND || (mode == UPLOAD_RESTART && (owns != CLAIMED || u->cmp_fd >= 0))) {
        u->guarded = true;
        if (fstatat(u->dir_fd, u->target, &u->name_st, AT_SYMLINK_NOFOLLOW) == 0)
            u->named = true;
        else if (errno != ENOENT)
            goto fail;
        if (have_target) {
            u->based = true;
            u->base_st = tst;
        }
    }
    /* The replacement keeps the target's permissions (never its setuid/setgid/sticky bits:
     * an upload must not be able to produce a setuid file). A partial still to be compared
     * takes them once found the file's (compare_step): one that is not goes back as it was. */
    if (have_mode && u->cmp_fd < 0 && fchmod(u->fd, tst.st_mode & 0777) < 0)
        goto fail;
    if (lseek(u->fd, size, SEEK_SET) < 0)
        goto fail;
    u->offset = size;
    u->claimed = owns == CLAIMED;
    return 0;

fail:;
    int err = errno;
    close_fd(&tfd);
    close_fd(&u->copy_fd);
    if (u->cmp_fd >= 0)
        (void)fchmod(u->fd, u->cmp_mode);
    close_fd(&u->cmp_fd);
    if (owns == CREATED)
        unlinkat(u->dir_fd, u->temp, 0);
    else if (owns == CLAIMED)
        return_partial(u);
    close_fd(&u->fd);
    close_fd(&u->dir_fd);
    errno = err;
    return -1;
}

/* Where fd's next data at or after pos begins, as far as the file system tells, at most
 * limit: pos when it cannot tell (no SEEK_DATA there), and never past the file's end. */
static off_t data_from(int fd, off_t pos, off_t limit)
{
    off_t d = lseek(fd, pos, SEEK_DATA);
    struct stat st;
    if (d < 0 && errno == ENXIO && fstat(fd, &st) == 0)
        d = st.st_size; /* a hole up to the end, or pos at or past it: no skip past the end */
    if (d < pos)
        return pos;
    return d < limit ? d : limit;
}

/* Compares the bytes from *pos up to end of a and b, at most max of them, and advances *pos
 * past those that are equal. A stretch that is a hole in both reads as zeros in both and is
 * skipped unread, so a sparse file costs its data, as its copy does. Returns 1 when all
 * compared were equal, 0 at the first that differs, -1 with errno (UPLOAD_CHANGED: a file
 * found short of end, cut while being compared). */
static int same_range(int a, int b, off_t *pos, off_t end, off_t max)
{
    off_t stop = end - *pos > max ? *pos + max : end;
    char ba[32 * 1024], bb[32 * 1024];
    while (*pos < stop) {
        off_t da = data_from(a, *pos, stop);
        off_t db = da > *pos ? data_from(b, *pos, stop) : *pos;
        off_t skip = da < db ? da : db;
        if (skip > *pos) {
            *pos = skip;
            continue;
        }
        size_t want = stop - *pos < (off_t)sizeof ba ? (size_t)(stop - *pos) : sizeof ba;
        ssize_t na = pread(a, ba, want, *pos);
        if (na < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (na == 0) {
            errno = UPLOAD_CHANGED;
            return -1;
        }
        size_t got = 0;
        while (got < (size_t)na) {
            ssize_t nb = pread(b, bb + got, (size_t)na - got, *pos + (off_t)got);
            if (nb < 0 && errno == EINTR)
                continue;
            if (nb < 0)
                return -1;
            if (nb == 0) {
                errno = UPLOAD_CHANGED;
                return -1;
            }
            got += (size_t)nb;
        }
        if (memcmp(ba, bb, (size_t)na) != 0)
            return 0;
        *pos += na;
    }
    return 1;
}

/* One slice of the comparison that a claimed partial waits on (upload.h's cmp_fd). The
 * partial is written through a write-only descriptor; it is read through one of its own,
 * whose close leaves the flock(2) of the other in place. */
static int compare_step(upload *u, off_t max)
{
    int rfd = openat(u->dir_fd, u->temp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (rfd < 0)
        return -1;
    int same = same_range(u->cmp_fd, rfd, &u->copied, u->offset, max);
    int err = errno;
    close(rfd);
    errno = err;
    if (same < 0)
        return -1;
    if (same == 0) {
        errno = UPLOAD_OTHER_PARTIAL;
        return -1;
    }
    if (u->copied < u->offset)
        return 0;
    /* Still compared until cut and given the file's mode: a failure puts it back as found. */
    if (ftruncate(u->fd, u->offset) < 0 || fchmod(u->fd, u->base_st.st_mode & 0777) < 0)
        return -1;
    close_fd(&u->cmp_fd);
    return 1;
}

int upload_copy_step(upload *u, off_t max)
{
    if (u->cmp_fd >= 0)
        return compare_step(u, max);
    if (u->copy_fd < 0)
        return 1;
    if (copy_range(u->copy_fd, u->fd, &u->copied, u->offset, max) < 0)
        return -1;
    if (u->copied < u->offset)
        return 0;
    close_fd(&u->copy_fd);
    return 1;
}

int upload_begin(upload *u, const vfs *v, const char *vpath, upload_mode mode, off_t rest,
                 unsigned long unique_tag)
{
    if (upload_begin_staged(u, v, vpath, mode, rest, unique_tag) < 0)
        return -1;
    int r;
    while ((r = upload_copy_step(u, (off_t)1 << 62)) == 0)
        ;
    if (r < 0) {
        upload_abort(u, false);
        return -1;
    }
    return 0;
}

int upload_commit(upload *u)
{
    int old = -1;
    int rc = upload_commit_keep_old(u, &old);
    if (old >= 0)
        close(old);
    return rc;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;

void upload_names_lock(void)
{
    pthread_mutex_lock(&names_lock);
}

void upload_names_unlock(void)
{
    int err = errno;
    pthread_mutex_unlock(&names_lock);
    errno = err;
}

/* Whether the target's name still holds what a guarded upload began from (upload.h): the
 * same entry, and through it the same file with the same size and times (ctime too, which
 * nothing can set back: a write in place by another program changes it). */
static bool target_unchanged(const upload *u)
{
    struct stat now;
    if (u->named && (fstatat(u->dir_fd, u->target, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
                     !same_file(&now, &u->name_st)))
        return false;
    /* Followed like the open that copied it: the name may be a symlink to the file. */
    if (u->based &&
        (fstatat(u->dir_fd, u->target, &now, 0) < 0 || !same_file(&now, &u->base_st) ||
         now.st_size != u->base_st.st_size || !same_time(&now.st_mtim, &u->base_st.st_mtim) ||
         !same_time(&now.st_ctim, &u->base_st.st_ctim)))
        return false;
    return true;
}

/* wait: on a worker (upload_commit_waiting). */
static int commit(upload *u, int *old_fd, bool wait)
{
    *old_fd = -1;
    int rc;
    if (u->guarded && !u->named) {
        /* The name was free: a file stored under it meanwhile must not be replaced, and
         * rename_noreplace refuses atomically, even against other processes. A file the
         * upload copied from but whose name was gone a moment later was deleted: changed. */
        rc = -1;
        errno = ESTALE;
        if (!u->based && (rc = rename_noreplace(u->dir_fd, u->temp, u->target)) < 0 &&
            errno == EEXIST)
            errno = ESTALE;
    } else {
        /* No other session of this server can change the name between the check and the
         * rename: its renames and deletes on workers hold the same lock, and so do the
         * commits made there (a plain STOR's rename between a guarded commit's check and its
         * rename would be undone by it). The event loop's commits (a root in memory or on a
         * local disk) are one at a time by themselves, and the loop must never wait for a
         * worker's rename on a slow disk: while one holds the lock, such a commit goes on
         * without it, as exposed to that one call as to another process. */
        bool locked = wait ? pthread_mutex_lock(&names_lock) == 0
                           : u->guarded && pthread_mutex_trylock(&names_lock) == 0;
        if (u->guarded && !target_unchanged(u)) {
            rc = -1;
            errno = ESTALE;
        } else {
            /* A reference to the replaced file keeps its inode alive past the rename, so the
             * caller chooses where the cost of freeing a large file's pages is paid. */
            *old_fd = openat(u->dir_fd, u->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            rc = renameat(u->dir_fd, u->temp, u->dir_fd, u->target);
        }
        if (locked) {
            int err = errno;
            pthread_mutex_unlock(&names_lock);
            errno = err;
        }
    }
    if (rc < 0) {
        if (*old_fd >= 0)
            close(*old_fd);
        *old_fd = -1;
        int err = errno;
        /* Another session stored, deleted or renamed the name meanwhile: that change
         * supersedes a claimed partial as a commit does, and giving it back would leave a
         * stale resume point beside a name that moved on (cmd_rnto's reason too). */
        if (err == ESTALE)
            u->claimed = false;
        upload_abort(u, false);
        errno = err;
        return -1;
    }
    /* A complete upload supersedes any kept partial: left behind, it would make SIZE report
     * a stale resume offset for a file that is now whole. */
    char partial[300];
    if (partial_name(partial, sizeof(partial), u->target) == 0)
        unlinkat(u->dir_fd, partial, 0);
    close_fd(&u->copy_fd);
    close_fd(&u->cmp_fd);
    close_fd(&u->fd);
    close_fd(&u->dir_fd);
    return 0;
}

int upload_commit_keep_old(upload *u, int *old_fd)
{
    return commit(u, old_fd, false);
}

int upload_commit_waiting(upload *u, int *old_fd)
{
    return commit(u, old_fd, true);
}

int upload_abort_detach(upload *u, bool keep_partial)
{
    if (u->dir_fd < 0)
        return -1;
    int saved = errno;
    struct stat st;
    bool keep = false;
    if (!keep_partial && u->claimed && u->fd >= 0) {
        /* A failure that keeps nothing (a full disk, a data connection that never came) must
         * still not destroy the resume point this upload claimed: it goes back as it was
         * claimed, and what this attempt added is dropped as for any such failure. Should the
         * cut fail, the bytes kept are still the upload's own, in order. One still being
         * compared with the target has not been cut yet, and goes back whole. */
        if (u->cmp_fd < 0)
            (void)ftruncate(u->fd, u->offset);
        keep_partial = true;
    }
    if (u->cmp_fd >= 0 && u->fd >= 0)
        (void)fchmod(u->fd, u->cmp_mode); /* not continued: as it was found */
    if (keep_partial && u->fd >= 0 && fstat(u->fd, &st) == 0) {
        /* A claimed partial is kept even when nothing arrived: an upload that resumed and
         * failed before its first byte (a data connection that never came) would otherwise
         * destroy the resume point it had claimed. A prefix copied from the target that got
         * nothing more is dropped: it only repeats bytes the target still holds, and an
         * aborted APPE of a large file would leave a whole copy of it behind. */
        keep = st.st_size > 0 && (u->claimed ? st.st_size >= u->offset : st.st_size > u->offset);
    }
    /* The name goes before the file is closed: unlocked under its temp name, it would look
     * like the leftover of a dead server. */
    close_fd(&u->copy_fd);
    close_fd(&u->cmp_fd);
    char partial[300];
    if (keep && (partial_name(partial, sizeof(partial), u->target) < 0 ||
                 renameat(u->dir_fd, u->temp, u->dir_fd, partial) < 0))
        keep = false;
    if (!keep)
        unlinkat(u->dir_fd, u->temp, 0);
    int fd = u->fd;
    u->fd = -1;
    close_fd(&u->dir_fd);
    /* A kept partial is closed now: its descriptor holds the lock a resume claiming it waits
     * for, and closing it frees nothing. */
    if (keep)
        close_fd(&fd);
    errno = saved;
    return fd;
}

void upload_abort(upload *u, bool keep_partial)
{
    int fd = upload_abort_detach(u, keep_partial);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
}

off_t upload_resume_size(const vfs *v, const char *vpath)
{
    const char *base;
    int saved = errno;
    int dfd = vfs_open_parent(v, vpath, &base);
    if (dfd < 0) {
        errno = saved;
        return -1;
    }
    off_t size = -1;
    char partial[300];
    struct stat st;
    if (strlen(base) <= UPLOAD_NAME_MAX && !strchr(base, '/') &&
        partial_name(partial, sizeof(partial), base) == 0 &&
        fstatat(dfd, partial, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        size = st.st_size;
    close(dfd);
    errno = saved;
    return size;
}

int upload_open_partial(const vfs *v, const char *vpath, int flags)
{
    const char *base;
    int dfd = vfs_open_parent(v, vpath, &base);
    if (dfd < 0)
        return -1;
    int fd = -1;
    char partial[300];
    if (strlen(base) > UPLOAD_NAME_MAX || strchr(base, '/') ||
        partial_name(partial, sizeof(partial), base) < 0)
        errno = ENOENT;
    else
        fd = openat(dfd, partial, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags);
    int saved = errno;
    close(dfd);
    errno = saved;
    return fd;
}

int upload_discard_partial(const vfs *v, const char *vpath)
{
    const char *base;
    int dfd = vfs_open_parent(v, vpath, &base);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    char partial[300];
    if (strlen(base) <= UPLOAD_NAME_MAX && !strchr(base, '/') &&
        partial_name(partial, sizeof(partial), base) == 0) {
        if (unlinkat(dfd, partial, 0) == 0)
            rc = 1;
        else if (errno != ENOENT)
            rc = -1;
    }
    int saved = errno;
    close(dfd);
    errno = saved;
    return rc;
}

/* The target's key (internal_key) in a temp name, ".ftpd-up.KEY.TAG" with a hexadecimal
 * TAG. */
static bool temp_key(const char *name, char *key, size_t size)
{
    size_t plen = strlen(TEMP_PREFIX);
    if (strncmp(name, TEMP_PREFIX, plen) != 0)
        return false;
    const char *t = name + plen;
    const char *dot = strrchr(t, '.');
    if (!dot || dot == t || dot[1] == '\0' || (size_t)(dot - t) > UPLOAD_READABLE_MAX ||
        (size_t)(dot - t) >= size)
        return false;
    for (const char *c = dot + 1; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return false;
    memcpy(key, t, (size_t)(dot - t));
    key[dot - t] = '\0';
    return true;
}

static bool written_before(const struct stat *st, const struct timespec *t, time_t margin)
{
    time_t sec = t->tv_sec - margin;
    return st->st_mtim.tv_sec < sec ||
           (st->st_mtim.tv_sec == sec && st->st_mtim.tv_nsec < t->tv_nsec);
}

/* Filesystems that keep times in whole seconds (or two) may stamp a file created after the
 * start before it; an empty leftover is removed only when it is older than that. */
#define COARSE_TIME_MARGIN 3

/* Makes the leftover (open as fd and locked, name in dir_fd) its key's partial. */
static upload_stale adopt(int dir_fd, const char *name, const char *key, off_t size)
{
    char partial[300];
    if (key_partial_name(partial, sizeof partial, key) < 0)
        return UPLOAD_STALE_NONE;
    for (int tries = 0; tries < 3; tries++) {
        if (rename_noreplace(dir_fd, name, partial) == 0)
            return UPLOAD_STALE_KEPT;
        if (errno != EEXIST)
            return UPLOAD_STALE_NONE;
        struct stat part;
        if (fstatat(dir_fd, partial, &part, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* claimed meanwhile: try again */
            return UPLOAD_STALE_NONE;
        }
        if (!S_ISREG(part.st_mode))
            return UPLOAD_STALE_NONE;
        if (part.st_size >= size)
            return unlinkat(dir_fd, name, 0) == 0 ? UPLOAD_STALE_DROPPED : UPLOAD_STALE_NONE;
        if (renameat(dir_fd, name, dir_fd, partial) == 0)
            return UPLOAD_STALE_KEPT;
        return UPLOAD_STALE_NONE;
    }
    return UPLOAD_STALE_NONE;
}

/* Opens a file found under an internal name for its lock: read-only, or write-only where an
 * upload kept its target's write-only mode. */
static int open_internal(int dir_fd, const char *name)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == EACCES)
        fd = openat(dir_fd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    return fd;
}

static void stale_info(upload_stale_info *info, int fd, const char *key, off_t size)
{
    if (!info)
        return;
    info->size = size;
    snprintf(info->target, sizeof info->target, "%s", key);
    char real[NAME_MAX + 1];
    ssize_t n = key[0] == '#' ? fgetxattr(fd, NAME_XATTR, real, sizeof real - 1) : -1;
    if (n > 0) {
        real[n] = '\0';
        snprintf(info->target, sizeof info->target, "%s", real);
    }
}

upload_stale upload_expire_partial(int dir_fd, const char *name, const struct timespec *before,
                                   upload_stale_info *info)
{
    size_t plen = strlen(PARTIAL_PREFIX);
    const char *key = name + plen;
    if (strncmp(name, PARTIAL_PREFIX, plen) != 0 || key[0] == '\0' ||
        strlen(key) > UPLOAD_READABLE_MAX)
        return UPLOAD_STALE_NONE;
    int saved = errno;
    upload_stale r = UPLOAD_STALE_NONE;
    struct stat st, now;
    char aside[300];
    pthread_once(&salt_once, init_salt);
    /* A temp name no upload uses (its tag is longer than the salt and any session number):
     * should the server die before the unlink, the next start's recovery finds it, old, and
     * removes it. */
    snprintf(aside, sizeof aside, TEMP_PREFIX "%s.%08x%s", key, (unsigned)process_salt,
             "fffffffffffffffff");
    int fd = -1;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        !written_before(&st, before, 0))
        goto out;
    fd = open_internal(dir_fd, name);
    /* Held means a resume is claiming it, or an upload just kept it: both are in use. A
     * filesystem without flock has no holders to ask; the move aside still keeps a newer
     * partial safe. */
    if (fd < 0 || (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno != ENOLCK) || fstat(fd, &st) < 0 ||
        fstatat(dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&st, &now) ||
        !written_before(&st, before, 0))
        goto out;
    /* The name, not the file, is what unlink removes: an upload that ends between a check and
     * an unlink by name would have its new partial removed. Moved aside, the file is checked
     * again under a name nobody else renames onto. */
    if (rename_noreplace(dir_fd, name, aside) < 0)
        goto out;
    if (fstatat(dir_fd, aside, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&st, &now)) {
        /* A newer partial took the name just before the move: it goes back (or, if an even
         * newer one is there now, that one wins, as return_partial decides). */
        if (rename_noreplace(dir_fd, aside, name) < 0)
            (void)unlinkat(dir_fd, aside, 0);
        goto out;
    }
    stale_info(info, fd, key, st.st_size);
    if (unlinkat(dir_fd, aside, 0) == 0)
        r = UPLOAD_STALE_EXPIRED;
out:
    if (fd >= 0)
        close(fd);
    errno = saved;
    return r;
}

upload_stale upload_recover_stale(int dir_fd, const char *name, const struct timespec *before,
                                  upload_stale_info *info)
{
    return upload_recover_stale_aged(dir_fd, name, before, NULL, info);
}

upload_stale upload_recover_stale_aged(int dir_fd, const char *name, const struct timespec *before,
                                       const struct timespec *expire_before,
                                       upload_stale_info *info)
{
    char key[UPLOAD_READABLE_MAX + 1];
    if (!temp_key(name, key, sizeof key))
        return UPLOAD_STALE_NONE;
    int saved = errno;
    upload_stale r = UPLOAD_STALE_NONE;
    struct stat st, now;
    int fd = -1;
    /* The type first: opening a device node can have effects of its own. */
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        !written_before(&st, before, 0))
        goto out;
    fd = open_internal(dir_fd, name);
    /* Locked means live. The lock is taken first and the name checked after it, so that the
     * file renamed is the one found unlocked. */
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
        fstatat(dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_file(&st, &now) ||
        fstat(fd, &st) < 0)
        goto out;
    stale_info(info, fd, key, st.st_size);
    if (expire_before && written_before(&st, expire_before, 0)) {
        /* As a partial it would be removed at once: too old to be resumed. */
        if (unlinkat(dir_fd, name, 0) == 0)
            r = UPLOAD_STALE_EXPIRED;
        goto out;
    }
    if (st.st_size == 0) {
        /* Nothing to resume. It may also be an upload created this very moment and not
         * locked yet, which on a coarse clock can look older than the start: only an old
         * one goes. */
        if (written_before(&st, before, COARSE_TIME_MARGIN) && unlinkat(dir_fd, name, 0) == 0)
            r = UPLOAD_STALE_DROPPED;
        goto out;
    }
    r = adopt(dir_fd, name, key, st.st_size);
out:
    if (fd >= 0)
        close(fd);
    errno = saved;
    return r;
}
