#include "partlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "task.h"

/* A name replaced this many times in a row between open and flock is busy enough. */
#define PARTLOCK_TRIES 8

bool ftpc_partlock_names(int fd, const char *path, bool nofollow)
{
    struct stat held, named;
    if (fstat(fd, &held) < 0)
        return false;
    if ((nofollow ? lstat(path, &named) : stat(path, &named)) < 0)
        return false;
    return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

int ftpc_partlock_flush(int fd)
{
    /* The flock belongs to the open file, which the original descriptor keeps open. */
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return -1;
    return close(dup_fd);
}

ftpc_partlock_rc ftpc_partlock_open(const char *path, int flags, bool truncate, int *fd,
                                    bool *existed)
{
    bool nofollow = (flags & O_NOFOLLOW) != 0;
    for (int tries = 0; tries < PARTLOCK_TRIES; tries++) {
        int f = open(path, flags | O_CLOEXEC);
        bool was_there = f >= 0;
        if (f < 0 && errno == ENOENT)
            f = open(path, flags | O_CREAT | O_CLOEXEC, 0666);
        if (f < 0)
            return FTPC_PARTLOCK_OPEN;
        if (flock(f, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
            close(f);
            return FTPC_PARTLOCK_BUSY;
        }
        if (!ftpc_partlock_names(f, path, nofollow)) {
            /* Renamed into place or removed by the transfer that held it meanwhile: the
             * file now under the name (or none) is the one to take. */
            close(f);
            continue;
        }
        if (truncate && ftruncate(f, 0) < 0) {
            int e = errno;
            close(f);
            errno = e;
            return FTPC_PARTLOCK_TRUNCATE;
        }
        *fd = f;
        if (existed != NULL)
            *existed = was_there;
        return FTPC_PARTLOCK_OK;
    }
    return FTPC_PARTLOCK_BUSY;
}

void ftpc_task_hold_part(ftpc_task *t, int fd)
{
    ftpc_task_release_part(t);
    t->held_part = fd + 1;
}

void ftpc_task_release_part(ftpc_task *t)
{
    if (t->held_part > 0)
        close(t->held_part - 1);
    t->held_part = 0;
}
