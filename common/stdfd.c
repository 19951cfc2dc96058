#include "stdfd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int stdfd_reserve(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        /* The lowest free number is fd itself: the ones below it are open by now. */
        int got = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
        if (got < 0)
            return -1;
        if (got != fd) {
            close(got);
            errno = EBADF;
            return -1;
        }
    }
    return 0;
}
