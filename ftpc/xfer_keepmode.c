/* The permission bits of a local file that a download replaces (see xfer.h). */
#include "xfer.h"

#include <sys/stat.h>

void ftpc_xfer_keep_mode(int fd, const char *path)
{
    struct stat old;
    /* lstat: a symbolic link in the way is replaced, and its target's mode is not the link's
     * to give away; nor is a device's. */
    if (fd < 0 || lstat(path, &old) < 0 || !S_ISREG(old.st_mode))
        return;
    /* Set-id bits were set for other bytes than these. The bytes are complete either way: a
     * failure leaves them the mode of a new file. */
    (void)fchmod(fd, old.st_mode & 0777);
}
