/* The size of a file as a TYPE A download sends it: its bytes and a CR before each LF that
 * has none (xfer.c's fill_ascii). Only reading the whole file tells it, so SIZE in TYPE A and
 * the 150 of an ASCII RETR share a small cache of the counts, one per file, that clients
 * asking SIZE of many files, or of one again and again (lftp, FileZilla), hit instead of
 * reading the file every time.
 *
 * An entry is keyed by the file's device, inode, size, mtime and ctime (with nanoseconds):
 * any write, truncation or touch of the file changes its ctime, which no client can set
 * back, and a file renamed into its place has another inode. A file changed within
 * ASCIISIZE_SETTLE_S seconds of its count is not stored: a filesystem's clock ticks coarsely (a
 * jiffy, or a whole second or two on some), and a change in the same tick as the stored one would
 * leave every key the same ("racy git").
 *
 * The cache is one fixed array (ASCIISIZE_ENTRIES, a few KiB), the least recently used entry
 * giving way; its lock makes it safe for the loop and the worker threads at once, and is held
 * only to copy an entry in or out, never while a file is read.
 */
#ifndef ASCIISIZE_H
#define ASCIISIZE_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* A larger file is not counted: SIZE in TYPE A refuses it (ftpd.8), and the 150 of its ASCII
 * RETR gives no byte count. */
#define ASCIISIZE_MAX ((off_t)64 << 20)
#define ASCIISIZE_ENTRIES 64
#define ASCIISIZE_SETTLE_S 2

typedef struct asciisize_entry {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    long long ascii;         /* the count */
    unsigned long long used; /* the cache's clock at its last store or hit; 0: free */
} asciisize_entry;

typedef struct asciisize_cache {
    pthread_mutex_t lock;
    unsigned long long clock;
    asciisize_entry e[ASCIISIZE_ENTRIES];
} asciisize_cache;

/* A root on a network or FUSE file system (vfs.h, VFS_REMOTE) has no cache: c is NULL for
 * it. Its server's clock and its ctimes are not ours to trust, and its files are the slow ones
 * to read, so a RETR there announces no count rather than read the file first (a 64 MiB
 * read at a slow mount's pace would outlast the data connection's timeout). */

/* Returns 0, or -1 with errno (the lock could not be made). */
int asciisize_cache_init(asciisize_cache *c);
void asciisize_cache_free(asciisize_cache *c);

/* The count stored for the file st describes (an fstat of it), or -1 when there is none for
 * it as it is now (always, with c NULL). */
long long asciisize_lookup(asciisize_cache *c, const struct stat *st);
/* Stores ascii as the count of the file st describes, counted from its content at or after
 * the time counted_at (CLOCK_REALTIME, before the first read). Not stored (false) when the
 * file changed too shortly before for its key to tell a later change (ASCIISIZE_SETTLE_S)
 * or is no regular file. Replaces an entry of the same file, else the least recently used. */
bool asciisize_store(asciisize_cache *c, const struct stat *st, long long ascii,
                     const struct timespec *counted_at);

/* The bytes a TYPE A download of regular file fd sends from offset from to offset size (REST
 * from): the byte before from is read too, so that an LF there with its CR just before it
 * gets none. A file that shrinks meanwhile is counted as far as it goes. -1 with errno when
 * it cannot be read. Reads the file: not on the loop. */
long long asciisize_count(int fd, off_t from, off_t size);

/* The count of the whole of regular file fd, which st describes (an fstat of fd): the
 * cache's, or asciisize_count's, then stored when the file did not change while it was read.
 * -1 with errno EFBIG for a file larger than ASCIISIZE_MAX, or as asciisize_count. May read
 * the file: not on the loop. */
long long asciisize_of(asciisize_cache *c, int fd, const struct stat *st);

#endif
