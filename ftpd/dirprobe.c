/* Whether an entry can be made in a directory (dirprobe.h). */
#include "dirprobe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int dirprobe_can_create_in(const char *dir)
{
    char probe[PATH_MAX];
    if (snprintf(probe, sizeof probe, "%s/.ftpd-check-XXXXXX", dir) >= (int)sizeof probe) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!mkdtemp(probe))
        return -1;
    rmdir(probe);
    return 0;
}
