/* ftpc mirror: download a remote tree into a local directory, or (-R) upload a local tree to
 * a remote directory. The remote tree is listed level by level (MLSD when FEAT offers MLST,
 * else LIST, parsed here), the local tree walked without following symbolic links; files whose
 * size and time match are skipped, so a second run over an unchanged tree transfers nothing.
 * Downloaded files get the remote modification time; files and directories get the source's
 * permission bits unless --no-perms (mirror_modes.h). --delete removes what the source no
 * longer has (files, then directories, deepest first), never outside the target and never
 * excluded names. --include narrows both trees to the files it takes and the directories
 * that hold them. --dry-run prints the plan and changes nothing. */
#ifndef FTPC_MIRROR_H
#define FTPC_MIRROR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"
#include "ctx.h"
#include "task.h"

/* One file or directory of a tree, by its path relative to the tree's root. */
typedef struct ftpc_mentry {
    char *rel; /* malloc'd; "a/b/c", no leading or trailing '/' */
    bool dir;
    int64_t size;  /* -1 when unknown */
    int64_t mtime; /* seconds since the epoch (UTC), -1 when unknown */
    int prec;      /* how exact mtime is, in seconds: 1, or 60 / 86400 from a LIST line */
    /* A local entry's st_ctime: when the file last changed here, which tar, cp -p and touch
     * cannot set; -1 when unknown (a remote entry). */
    int64_t ctime;
    int mode; /* permission bits (0777), -1 when unknown (mirror_modes.h) */
} ftpc_mentry;

typedef struct ftpc_mtree {
    ftpc_mentry *v;
    size_t n, cap;
    /* Names a listing held that cannot be a local file's (a control character or '/'):
     * left out, counted, and the first kept (its control characters as '?') to be named. */
    size_t refused;
    char refused_name[80];
    /* Directories deeper than mirror goes (64 levels): listed, their contents left out. */
    size_t too_deep;
    /* Names of the form of ftpc's own part files (ftpc_part_like): left out, remote ones as
     * their download would collide with that of the file they are named after, local ones
     * (mirror -R) as leftovers of interrupted downloads, not files of the tree. */
    size_t part_like;
    /* Local directories below the root of mirror -R's source that could not be read (no
     * permission): left out with what they hold, said, and counted as failed. */
    size_t unreadable;
    /* The local root itself could not be read: nothing below it is known, and the summary
     * counts it as failed. */
    bool root_unreadable;
} ftpc_mtree;

/* Parses a directory listing (MLSD lines when mlsd, else Unix-style LIST lines) into entries
 * named by their bare name, appended to tree, with the mode of the UNIX.mode fact or of the
 * LIST line's permission string when there is one. Only plain files and directories are kept;
 * ".", "..", and unparsable lines are skipped, and so are names with '/' or a control
 * character, which tree->refused counts, and names of the form of ftpc's part files, which
 * tree->part_like counts. now decides the year of LIST
 * dates given without one. Returns the number added, or -1 when out of memory. */
int ftpc_mirror_parse(const char *buf, size_t len, bool mlsd, time_t now, ftpc_mtree *tree);

/* Whether rel (or its last component) matches one of the n patterns (fnmatch). */
bool ftpc_mirror_excluded(const char *rel, char *const *pats, size_t n);

/* Whether --include's n patterns take the file rel: it, its name, or a directory it lies
 * below (path or name) matches one (fnmatch); n == 0 takes every file. */
bool ftpc_mirror_included(const char *rel, char *const *pats, size_t n);

/* Whether the source entry must be transferred over the target (NULL: missing). */
bool ftpc_mirror_want(const ftpc_mentry *src, const ftpc_mentry *dst, bool only_newer);

/* mirror -R: whether the local file l must be uploaded over the server's r (NULL: missing),
 * now being the local clock's time (seconds since the epoch). A size that differs always
 * sends it; so does a local time later than the server's by more than the listing's
 * precision (the server's is that of the upload where it cannot set times); --only-newer
 * (only_newer) sends nothing the times say is older. A local modification time in the
 * future against a server's that is not (an upload's) orders nothing: l's ctime, when the
 * file last changed here, stands in for it (unknown: only the sizes tell). */
bool ftpc_mirror_put_want(const ftpc_mentry *l, const ftpc_mentry *r, bool only_newer, int64_t now);

void ftpc_mtree_free(ftpc_mtree *t);

/* Runs the mirror described by cli (cli->mirror set). Returns the exit code. */
int ftpc_mirror_run(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop);

/* Runs tasks on loop (run.c). Returns false when stopped by *stop. */
bool ftpc_run_tasks(ftpc_ctx *ctx, ftpc_task *tasks, size_t n, int jobs,
                    volatile sig_atomic_t *stop, int *status);

#endif
