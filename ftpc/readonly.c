/* curl -o and wget -O stop at a read-only destination ("Permission denied") for any user
 * but root; a download that went into a part file and was renamed over it replaced it even
 * so, the rename needing only the directory's permission. */
#include "readonly.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool ftpc_write_protected(const char *path, char *why, size_t why_size)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    if (!(st.st_mode & S_IWUSR)) {
        snprintf(why, why_size, "it is read-only (mode %04o)", (unsigned)(st.st_mode & 07777));
        return true;
    }
    /* Only a permission: an immutable file (EPERM) or a read-only file system (EROFS)
     * cannot be replaced with -f either, and the download says so when it gets there. */
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0 && errno == EACCES) {
        snprintf(why, why_size, "it cannot be written: %s", strerror(errno));
        return true;
    }
    return false;
}
