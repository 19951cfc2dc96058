/* The walk behind a recursive listing (LIST -R, NLST -R: dirlist_open_recursive). ls -lR's
 * order: a directory's entries, then each subdirectory it listed in turn, its own walk
 * whole. Only directories themselves are entered, never a link to one, so a link cannot lead
 * the walk round a loop or out of the user's root; every subdirectory is opened beneath the
 * root (vfs.h) with O_NOFOLLOW. One directory's names are read at a time (in dirlist's
 * runs); what the walk keeps besides is the names of the subdirectories still to be entered
 * at each level, which the entry limit bounds. Internal to dirlist.c and dirwalk.c. */
#ifndef DIRWALK_H
#define DIRWALK_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "dirlist.h"
#include "vfs.h"

typedef struct dirwalk dirwalk;

/* Names one after another, each with its NUL. */
typedef struct dirlist_names {
    char *names;
    size_t len, cap;
    unsigned lost; /* subdirectories listed whose names could not be kept (out of memory) */
} dirlist_names;

/* A walk of directory vpath; shown: how LIST's headers name it ("." for the current
 * directory). NULL with errno. */
dirwalk *dirwalk_new(const vfs *v, const char *vpath, const char *shown, dirlist_format fmt,
                     unsigned perms, bool show_hidden);
/* The listing of the walk's first directory, which owns the walk (dirlist_free frees both). */
dirlist *dirwalk_top(dirwalk *w);
/* As dirlist_fill. */
int dirwalk_fill(dirwalk *w, buf *out);
/* As dirlist_note. */
bool dirwalk_note(const dirwalk *w, char *out, size_t size);
void dirwalk_free(dirwalk *w);

/* dirlist's own, for the walk: a listing of directory vpath's entries whose lines count
 * down *budget (an entry beyond it ends the listing, and dirlist_cut says so) and whose
 * subdirectories' names go to subdirs; each LIST and NLST line names its entry as
 * prefix + name (prefix NULL: none). nofollow: fails (ELOOP or ENOTDIR) where vpath's last
 * component is a link. NULL with errno. */
dirlist *dirlist_open_entries(const vfs *v, const char *vpath, dirlist_format fmt, unsigned perms,
                              bool show_hidden, const char *prefix, unsigned *budget,
                              dirlist_names *subdirs, bool nofollow);
/* dirlist_fill without the walk: d's own entries. */
int dirlist_fill_entries(dirlist *d, buf *out);
bool dirlist_cut(const dirlist *d);
/* Frees the names d's listing read (all of them listed): a walk's first directory stays
 * open, as its handle, while the walk goes on beneath it. */
void dirlist_drop_names(dirlist *d);

#endif
