/* The permission bits of a local file that a download replaces (see xfer.h). */
#include "xfer.h"

#include <sys/stat.h>

int ftpc_xfer_keep_mode(int fd, const char *path)
{
    struct stat old, own;
    /* lstat: a symbolic link in the way is replaced, and its target's mode is not the link's
     * to give away; nor is a device's. */
    if (fd < 0 || lstat(path, &old) < 0 || !S_ISREG(old.st_mode) || fstat(fd, &own) < 0)
        return -1;
    /* Set-id bits were set for other bytes than these. The bytes are complete either way: a
     * failure leaves them the mode of a new file. */
    if (fchmod(fd, old.st_mode & 0777) < 0)
        return -1;
    return (int)(own.st_mode & 07777);
}

void ftpc_xfer_undo_mode(int fd, int prior)
{
    /* A part file that stays (its rename failed) must stay writable for -c, as it was. */
    if (fd >= 0 && prior >= 0)
        (void)fchmod(fd, (mode_t)prior);
}
