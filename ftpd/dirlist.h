/* Directory listings produced a few lines at a time into a bounded buffer, so a huge
 * directory never needs a huge buffer. Names are read and sorted in runs of at most
 * DIRLIST_RUN_BYTES: a directory whose names fit lists in name order, a larger one as several
 * runs, each in name order and each entry once, so that a listing held open by a client that
 * reads slowly or never costs bounded memory, whatever the directory holds. Each entry is
 * stat'ed only when its line is formatted. */
#ifndef DIRLIST_H
#define DIRLIST_H

#include <stdbool.h>

#include "buf.h"
#include "vfs.h"

/* Names (with a NUL each) and their 4-byte places in one run: about 25,000 names of 35 bytes. */
#define DIRLIST_RUN_BYTES (1024 * 1024)

typedef enum { DL_LIST = 0, DL_NLST, DL_MLSD } dirlist_format;

typedef struct dirlist dirlist;

/* Opens a listing of vpath; MLSD lines carry the MLSX_ facts in mlsx_facts. A file (not a
 * directory) lists as itself, except for MLSD, which fails with ENOTDIR. Returns NULL with errno.
 */
dirlist *dirlist_open(const vfs *v, const char *vpath, dirlist_format fmt, unsigned perms,
                      unsigned mlsx_facts, bool show_hidden);
/* ls -R's bounds, pure-ftpd's own defaults: enough for the trees a client lists by eye or
 * a script lists to find its files, while a LIST -R of a home's root costs the server at
 * most this many stats and a few megabytes (the names of subdirectories still to be
 * entered). A tree that needs more gets a mirroring client (MLSD, directory by directory). */
#define DIRLIST_MAX_DEPTH 5 /* levels of subdirectories beneath the listed directory */
#define DIRLIST_MAX_ENTRIES 10000

/* As dirlist_open (LIST or NLST), with ls's -R: after the directory's entries, each of its
 * subdirectories' in turn, as ls -lR gives them, down to DIRLIST_MAX_DEPTH levels and up to
 * DIRLIST_MAX_ENTRIES entries in all. LIST: a blank line and a header "shown/sub/dir:"
 * before each subdirectory's entries (shown: the directory as the client named it, "." for
 * the current one). NLST: no headers, but each name as its path from the listed directory
 * ("sub/dir/a.txt"), a name a client can fetch. Links to directories are listed, never
 * entered. A file lists as itself. Returns NULL with errno. */
dirlist *dirlist_open_recursive(const vfs *v, const char *vpath, const char *shown,
                                dirlist_format fmt, unsigned perms, bool show_hidden);
/* What a recursive listing left out, for the transfer's reply: "cut short after 10000
 * entries; ...". False (out untouched) when it left out nothing, or d is not recursive. */
bool dirlist_note(const dirlist *d, char *out, size_t size);
/* Opens a listing of the entries of directory dir_vpath whose names match the fnmatch(3)
 * pattern (a leading '.' only by a pattern that starts with one). Each LIST or NLST line names
 * its entry as prefix + name: NLST of sub/ with the pattern *.txt answers "sub/a.txt", the path a
 * client's mget fetches. Returns NULL with errno, ENOENT when no name matches. */
dirlist *dirlist_open_glob(const vfs *v, const char *dir_vpath, const char *pattern,
                           const char *prefix, dirlist_format fmt, unsigned perms);
/* Appends as many whole lines as fit into out. Returns 1 while lines remain, 0 when done.
 * dirlist_open reads no name before the first call. Touches nothing but d, out and the file
 * system (and listfmt's locked cache of owner names): it may run on a worker thread
 * (xfer_io.h) while the loop goes on. */
int dirlist_fill(dirlist *d, buf *out);
/* A single file's line names it as the client's argument did, directory part and all ("NLST
 * docs/a.txt" answers "docs/a.txt"), as ls, ProFTPD and vsftpd do: a client that fetches each
 * name NLST gives must get a path that works. A directory's listing is left as it is.
 * Returns 0, or -1 with errno. */
int dirlist_name_as_typed(dirlist *d, const char *arg);
/* True when d's entries are on a file system in memory (tmpfs): filling never waits. */
bool dirlist_in_memory(const dirlist *d);
/* True when d lists a directory's entries, false when it lists a single file. */
bool dirlist_is_dir(const dirlist *d);
void dirlist_free(dirlist *d);

#endif
