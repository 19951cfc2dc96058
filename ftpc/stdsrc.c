/* Reading standard input for an upload without blocking the loop and without O_NONBLOCK. */
#include "stdsrc.h"

#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t ftpc_stdsrc_left(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
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
