/* Reading standard input for an upload without blocking the loop and without O_NONBLOCK. */
#include "stdsrc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The kernel's own file systems make a file's bytes when it is read: stat gives 0 (proc) or
 * a page (sysfs) whatever the file holds. */
static bool sizeless_fs(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0)
        return false;
    switch ((unsigned long)fs.f_type) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
        return true;
    default:
        return false;
    }
}

bool ftpc_stdsrc_sizeless(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && sizeless_fs(fd);
    close(fd);
    return r;
}

int64_t ftpc_stdsrc_left(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || sizeless_fs(fd))
        return -1;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0 || at > st.st_size)
        return at < 0 ? -1 : 0;
    return (int64_t)(st.st_size - at);
}

ssize_t ftpc_stdsrc_read(int fd, void *buf, size_t cap, bool block)
{
    if (!block) {
        /* Readable, at its end (POLLHUP), or failed (POLLERR, POLLNVAL): read says which. A
         * regular file always polls readable. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n;
        do {
            n = poll(&p, 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EAGAIN;
            return -1;
        }
    }
    ssize_t r;
    do {
        r = read(fd, buf, cap);
    } while (r < 0 && errno == EINTR);
    return r;
}
