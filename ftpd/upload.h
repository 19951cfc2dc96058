/* Safe uploads. An upload is written aside, in a hidden file in the target's directory, and
 * renamed over the target only when complete: a reader never sees half a file and a failed
 * upload never damages the previous version.
 *
 * Resume: when an upload fails after some bytes arrived, its data is kept as the target's
 * hidden partial file. REST n + STOR continues from that partial when it holds at least n
 * bytes, and APPE when the target does not exist; otherwise they start from a copy of the
 * first n bytes (REST) or all bytes (APPE) of the current target. SIZE reports
 * upload_resume_size() only for a name without a file, so that it always agrees with what
 * RETR sends, and clients that ask SIZE before resuming (curl -C -, lftp reput) resume an
 * interrupted first upload.
 *
 * A live upload holds an exclusive flock(2) on its file for as long as the file has a temp
 * name, so a file under a temp name that nobody holds was left by a server that died
 * (upload_recover_stale; recover.h walks the homes for them at start).
 */
#ifndef UPLOAD_H
#define UPLOAD_H

/* The longest name an upload can have, in bytes: any name the filesystem takes. */
#define UPLOAD_NAME_MAX 255
/* Names up to this long show in the hidden names an upload is written under (the rest of
 * NAME_MAX holds their prefix and tag); longer names are represented there by a digest. */
#define UPLOAD_READABLE_MAX 200

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "vfs.h"

typedef struct upload {
    int dir_fd;       /* the target's directory */
    int fd;           /* the file being written, positioned at its end */
    char target[256]; /* target's name in dir_fd */
    char temp[300];   /* the hidden file's name in dir_fd */
    off_t offset;     /* bytes the file held when the upload started */
    bool claimed;     /* it continues a kept partial, which a failure must not destroy */
    int copy_fd;      /* the target whose first `offset` bytes are still being copied, or -1 */
    int cmp_fd;       /* the target whose first `offset` bytes the claimed partial (not cut to
                         them yet) is still being compared with, or -1 */
    mode_t cmp_mode;  /* that partial's own mode, given back if it is not continued */
    off_t copied;     /* bytes of that copy done */
    /* An upload built on what the target's name held when it began (an APPE, a REST that
     * copies the target's first bytes, a STOU's free name) replaces nothing at its commit
     * unless the name still holds that: see upload_commit. */
    bool guarded;
    bool named; /* the name had an entry then, name_st; else it must still be free */
    bool based; /* the bytes came from the file the name led to then, base_st */
    struct stat name_st;
    struct stat base_st;
} upload;

/* upload_copy_step's errno for a REST at the target's size whose kept partial holds other
 * bytes before that offset than the target (beyond every errno, like OWNFILES_REFUSED). */
#define UPLOAD_OTHER_PARTIAL (1 << 21)
/* upload_copy_step's errno for such a REST whose target (or partial) came out shorter than
 * the offset while they were compared: it changed meanwhile, and a fresh look may resume. */
#define UPLOAD_CHANGED (1 << 22)

/* UPLOAD_UNIQUE is UPLOAD_NEW for a name that must still be free at the commit (STOU). */
typedef enum { UPLOAD_NEW = 0, UPLOAD_RESTART, UPLOAD_APPEND, UPLOAD_UNIQUE } upload_mode;

/* Starts an upload to vpath. With UPLOAD_RESTART, `rest` is the REST offset. Returns 0, or -1
 * with errno (ENOENT: no such directory; EISDIR; EINVAL: REST beyond what exists; ENAMETOOLONG;
 * ENOSPC/EDQUOT while copying; EBUSY: the partial to resume, or the new file, stayed locked by
 * someone else, or a REST with no partial to continue, or an APPE that would create the name,
 * found an upload of the name still running; OWNFILES_REFUSED in its place: the target is one
 * of the server's own files, ownfiles.h). `unique_tag` keeps one process's concurrent uploads
 * apart (a session id); a random number of the process keeps processes apart. REST and APPE may
 * wait a few milliseconds for a partial being renamed: they run on a worker, a plain STOR never
 * waits. */
int upload_begin(upload *u, const vfs *v, const char *vpath, upload_mode mode, off_t rest,
                 unsigned long unique_tag);
/* As upload_begin, but a copy of the target's bytes (REST onto a file, APPE) is left to
 * upload_copy_step, so that a worker can do it in slices and other jobs get their turn between
 * them. */
int upload_begin_staged(upload *u, const vfs *v, const char *vpath, upload_mode mode, off_t rest,
                        unsigned long unique_tag);
/* Copies up to `max` more bytes of a staged upload's prefix. Returns 1 once the copy is
 * complete (at once when there is none), 0 when more remains, -1 with errno (EINVAL: the
 * target shrank meanwhile; ENOSPC/EDQUOT; UPLOAD_OTHER_PARTIAL: a REST at exactly the target's
 * size, the offset SIZE gives a client, claimed a partial whose bytes before it are not the
 * target's, so that continuing it would splice the client's rest onto bytes it never checked;
 * UPLOAD_CHANGED: one of them was cut short during that comparison; the abort gives that
 * partial back whole). After -1 the upload is still open: abort it. */
int upload_copy_step(upload *u, off_t max);
/* Renames the finished file over the target. Returns 0 or -1 with errno (the upload is then
 * aborted without keeping data, but for a claimed partial given back as upload_abort does
 * unless the failure is ESTALE, whose newer name supersedes it). ESTALE: a guarded upload (see
 * upload) found the target's name changed since it began: another session replaced, deleted or
 * renamed the file (or wrote under a STOU's name), and renaming over it would silently undo that;
 * nothing was replaced. The check and the rename are not atomic against other processes, only
 * against this process's renames and deletes made under upload_names_lock (unless one of them
 * holds it at that moment: this commit, made on the event loop, never waits for it). */
int upload_commit(upload *u);
/* As upload_commit, but hands back in *old_fd an O_PATH descriptor of the file that was
 * replaced (-1 if none): closing it frees that file's storage, which for a large file takes
 * long enough to be worth doing off the event loop. */
int upload_commit_keep_old(upload *u, int *old_fd);
/* As upload_commit_keep_old, for a commit on a worker thread (upcommit.h): it waits for
 * upload_names_lock and holds it across its check and its rename, so that neither a rename or
 * delete nor another commit of this process comes between them. */
int upload_commit_waiting(upload *u, int *old_fd);
/* Ends a failed upload. With keep_partial, a file that received bytes, or that continues a
 * kept partial, is kept as the target's partial file for a later resume; otherwise it is
 * removed (a copy of the target's bytes alone is not worth a partial), except that an upload
 * that continues a kept partial gives it back cut to the length it had when claimed: what
 * was there before the upload is never lost. */
void upload_abort(upload *u, bool keep_partial);
/* As upload_abort, but hands back a dropped file's descriptor (-1 if none, or if the file
 * was kept as a partial) instead of closing it: the file is unlinked already, and its last
 * close frees its storage, which for a file of GiBs takes long enough (50-110 ms here) to be
 * worth doing off the event loop. */
int upload_abort_detach(upload *u, bool keep_partial);
/* Held around a rename or a delete of a client's name (and its partial) made on a worker: a
 * commit on a worker holds it from its check of the name to its rename, a guarded commit on
 * the loop only when it is free (upload_commit). */
void upload_names_lock(void);
void upload_names_unlock(void);
/* Size of a kept partial upload for vpath, or -1 if there is none. */
off_t upload_resume_size(const vfs *v, const char *vpath);
/* Opens the kept partial upload of vpath read-only (flags are added to O_RDONLY|O_NOFOLLOW),
 * for a HASH that must agree with the SIZE a resuming client was given. Returns the
 * descriptor, or -1 with errno (ENOENT: no partial, or it is being resumed under a temp name). */
int upload_open_partial(const vfs *v, const char *vpath, int flags);
/* Removes the kept partial upload of vpath (DELE of vpath removes its resume point too).
 * Returns 1 when one was removed, 0 when there was none, -1 with errno on failure. */
int upload_discard_partial(const vfs *v, const char *vpath);

/* What upload_recover_stale did with a file under an upload's temporary name. */
typedef enum {
    UPLOAD_STALE_NONE = 0, /* nothing: not a temp name, a live upload's, or too new */
    UPLOAD_STALE_KEPT,     /* it is now its target's partial, for a resume */
    UPLOAD_STALE_DROPPED,  /* removed: empty, or the target's partial held as many bytes */
    UPLOAD_STALE_EXPIRED,  /* removed: last written before the age limit (--partial-max-age) */
} upload_stale;

/* What upload_recover_stale found, for the log. */
typedef struct upload_stale_info {
    off_t size;
    char target[256]; /* the target's name, or for a long one its digest ('#' and hex) when
                       * the filesystem kept no copy of the name */
} upload_stale_info;

/* A server that dies (killed, crashed, power lost) leaves each upload it was receiving under
 * the hidden temporary name, where no resume can find it. Given such a name in dir_fd, this
 * makes the file its target's partial when no live upload holds it (live uploads lock their
 * file) and it was last written before `before` (the server's start). An existing partial
 * that is at least as long wins and the leftover is removed, as is an empty leftover written
 * well before `before`. info, when not NULL, gets the file's length and target. */
upload_stale upload_recover_stale(int dir_fd, const char *name, const struct timespec *before,
                                  upload_stale_info *info);
/* As upload_recover_stale, but a leftover last written before expire_before (NULL: none) is
 * removed rather than made a partial that is already too old to keep: UPLOAD_STALE_EXPIRED. */
upload_stale upload_recover_stale_aged(int dir_fd, const char *name, const struct timespec *before,
                                       const struct timespec *expire_before,
                                       upload_stale_info *info);
/* Removes the kept partial under name in dir_fd when it was last written before `before`:
 * UPLOAD_STALE_EXPIRED, else UPLOAD_STALE_NONE (not a partial's name, newer, or held: a
 * resume claiming it or an upload keeping it holds its lock). The file is locked and moved
 * aside before it goes, so that a newer partial kept under the name meanwhile is never the
 * one removed. info, when not NULL, gets the file's length and target. */
upload_stale upload_expire_partial(int dir_fd, const char *name, const struct timespec *before,
                                   upload_stale_info *info);

#endif
