/* Files that an APPE or a resumed STOR is building on. Such an upload writes a copy of the
 * file (or of its partial) plus the new bytes aside and renames it over the file at the end:
 * two at once onto one file would each start from the same old bytes, and the second rename
 * would silently drop the first one's bytes. The second is refused for as long as the first
 * runs. A STOU holds its chosen name the same way, so that another STOU does not choose it
 * too before the first one's file is there. Keyed by the directory's device and inode and
 * the name in it, so sessions with different roots (or paths through different symlinks)
 * still meet on the same file. */
#ifndef APPENDLOCK_H
#define APPENDLOCK_H

#include <sys/types.h>

typedef struct appendlock appendlock;

typedef struct appendlocks {
    appendlock *head; /* few at a time: only appends and resumes take one */
} appendlocks;

/* Takes the lock on name in the directory (dev, ino). Returns it, or NULL with errno EBUSY
 * (another holds it) or ENOMEM. */
appendlock *appendlock_take(appendlocks *set, dev_t dev, ino_t ino, const char *name);
/* Gives it back; NULL is ignored. */
void appendlock_release(appendlocks *set, appendlock *lock);
/* Frees every lock still held (at shutdown). */
void appendlocks_free(appendlocks *set);

#endif
