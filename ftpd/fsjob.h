/* A command's file-system calls off the loop (DESIGN.md section 2). On NFS, FUSE or a busy
 * disk even an open, a stat or a rename may wait for a server or a seek, and every other
 * session would wait with it. A command splits into its calls (`work`, on a worker, touching
 * nothing but the job) and its answer (`reply`, on the loop, with the session); the session
 * reads no further command in between. Under a root on tmpfs or ramfs nothing waits, and
 * both run at once on the loop: a worker's handoff there would only cost (as on a local disk
 * for a job whose `fast` calls find everything cached). Listings (LIST,
 * NLST, MLSD, STAT of a path) open their directory this way too.
 */
#ifndef FSJOB_H
#define FSJOB_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "vfs.h"

struct session;
struct server;
struct dirlist;
struct asciisize_cache;
typedef struct fsjob fsjob;

struct fsjob {
    /* in: set by fsjob_new, and by the command before fsjob_run */
    vfs v;       /* the session's root (a duplicate while on a worker) */
    char *vpath; /* the resolved path the command names */
    char *from;  /* RNTO: the path RNFR named; NULL otherwise */
    char *arg;   /* the client's own words for the path, for replies */
    unsigned perms;
    unsigned long xfer_seq; /* RETR: the data channel it was given */
    off_t rest;             /* RETR: the REST offset */
    bool dir_form;          /* RNTO: the new name ends in '/' */
    struct timespec mtime;  /* MFMT: the time to set */
    mode_t mode;            /* SITE CHMOD: the bits to set */
    int fmt;                /* listings: the dirlist_format */
    bool all;               /* listings: hidden names too */
    bool recursive;         /* LIST, NLST: -R, the subdirectories' entries too */
    bool names_dir;         /* arg ends in "/" or "/.": a file it names is refused first */
    bool ascii;             /* SIZE, RETR: TYPE A is in force */
    bool long_work;         /* work reads a whole file: on a worker even under a root in memory */
    bool opens_transfer;    /* RETR, listings: an ABOR meanwhile cuts the transfer it starts */
    bool cancelled;         /* ...and one came */
    bool refused;           /* its turn on a worker did not come: its root hangs (fsgate.h) */
    /* The server's sizes in TYPE A (asciisize.h), which work may use on a worker */
    struct asciisize_cache *ascii_sizes;
    /* out: the calls' results, for reply */
    bool not_dir; /* names_dir, and the path is not a directory: 550, neither work nor reply */
    int rc;       /* 0, or -1 with err */
    int err;
    int fd; /* an fd the calls opened; fsjob frees it unless reply takes it (sets -1) */
    struct stat st;
    long long found;    /* a further answer of the calls (a partial upload's size or count;
                         * SIZE, RETR in TYPE A: the bytes an ASCII download sends) */
    bool matched;       /* listings: a wildcard's matches, not the path itself */
    bool keyed;         /* STOU: st.st_dev and st.st_ino are the chosen name's directory's */
    struct dirlist *dl; /* listings: what the calls opened; freed unless reply takes it */
    buf text;           /* STAT path: the listing's lines */
    /* Optional, set before fsjob_run: the calls of work made from the kernel's caches alone
     * (vfs_open_cached); false, leaving nothing open, when they would need the disk. On a
     * local disk the loop tries it first, and the worker's handoff is spent only when it
     * fails: a file that was just listed or fetched is found at once. */
    bool (*fast)(fsjob *j);
    void (*work)(fsjob *j);
    void (*reply)(struct session *s, fsjob *j);
    struct session *s;
    bool on_worker;            /* work runs on a worker thread, not the loop */
    struct fsjob *prev, *next; /* in the server's list while on a worker */
};

/* A job for s naming vpath (arg: the client's words for it; vpath from session_resolve: a
 * trailing "/" is checked by the job, off the loop). NULL when out of memory (the session has
 * had its 451). */
fsjob *fsjob_new(struct session *s, const char *vpath, const char *arg);
/* Runs work, then reply, and frees j: on a worker (the session waits for the reply, reading
 * only to watch for an ABOR when a transfer runs or is being opened) unless the session's
 * root is in memory or no worker can be had. */
void fsjob_run(fsjob *j, void (*work)(fsjob *), void (*reply)(struct session *, fsjob *));
/* For work that renames or deletes a client's name: on a worker it holds upload_names_lock
 * (upload.h), so that a guarded upload's commit sees no change between its check and its
 * rename; on the loop (a root in memory or on a local disk, whose commits run there too) it
 * needs none, and must not wait. */
void fsjob_lock_names(const fsjob *j);
void fsjob_unlock_names(const fsjob *j);
/* An ABOR came while a job that opens a transfer ran: the transfer is cut as it starts
 * (426, logged as any cut transfer), and the ABOR answered in its turn. */
void fsjob_cancel(fsjob *j);
/* At shutdown, after the worker pool stopped: frees the jobs it did not deliver. */
void fsjob_shutdown(struct server *srv);

#endif
