/* A download's work file (".NAME.ftpc-part", ".NAME.ftpc-seg") opened for writing under an
 * exclusive flock: another ftpc (or another task of this one) fetching the same file into
 * the same place holds it, and what it writes is its own, neither truncated nor resumed.
 *
 * The lock is held until the file has been renamed into place or removed: released before,
 * a second ftpc that had opened the old name could lock the finished file and truncate it
 * after its rename. And a lock taken is checked to be on the file the name still names: one
 * renamed or removed between the open and the flock is no longer that download's work file. */
#ifndef FTPC_PARTLOCK_H
#define FTPC_PARTLOCK_H

#include <stdbool.h>

typedef enum {
    FTPC_PARTLOCK_OK,
    FTPC_PARTLOCK_OPEN,     /* it could not be opened (errno says why) */
    FTPC_PARTLOCK_BUSY,     /* another transfer holds its lock */
    FTPC_PARTLOCK_TRUNCATE, /* it could not be truncated (errno says why) */
} ftpc_partlock_rc;

/* Opens path, made if it is not there (mode 0666 under the umask), with flags (O_RDWR or
 * O_WRONLY, or O_RDONLY to remove it; O_NOFOLLOW for ftpc's own files), locks it, and
 * truncates it to nothing when truncate. On FTPC_PARTLOCK_OK *fd is the descriptor, and
 * *existed (unless NULL) whether the file was there before. A file system without locks
 * leaves it unguarded, as before. */
ftpc_partlock_rc ftpc_partlock_open(const char *path, int flags, bool truncate, int *fd,
                                    bool *existed);

/* Whether fd is the file that path names now (path itself when nofollow, not what a
 * symbolic link there points to). */
bool ftpc_partlock_names(int fd, const char *path, bool nofollow);

/* What closing fd would report of its writes (a network file system's deferred write
 * errors), with the descriptor and its lock kept: 0, or -1 and errno. */
int ftpc_partlock_flush(int fd);

struct ftpc_task;

/* A download complete in its part file, which waits for its check before the rename into
 * place (task.h: rename_pending): the task keeps fd, and its lock, until then. */
void ftpc_task_hold_part(struct ftpc_task *t, int fd);

/* ... and lets go of it: once the part file has been renamed, or the download failed. */
void ftpc_task_release_part(struct ftpc_task *t);

#endif
