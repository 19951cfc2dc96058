/* The uploads into a directory that is not on the server. ftpc -j 8 put mny/FILES URL/new/ used
 * to fail each of its files with the same refusal, after a STOR each; now the first refusal
 * found to be for a missing directory (xfer_nodir.c) is told once, with how to go on, and the
 * files for that directory not yet started are not sent: they fail with it, without a
 * message each. The ones already running when it is found end as they will, and a refusal
 * of theirs is part of the same message, which waits for them so that its count is right.
 * The same holds for the mkdir of put --create-dirs: when it fails, its files are not sent. */
#ifndef FTPC_NODIR_H
#define FTPC_NODIR_H

#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "task.h"

/* The directory a put writes into: the length of the start of its remote path that names it
 * (up to the last '/', without trailing slashes); a mkdir's: its whole path. 0 for the login
 * directory and for "/", which are there. */
size_t ftpc_nodir_dir_len(const ftpc_task *t);
/* a and b write into the same directory (not the login directory or "/") of one server. */
bool ftpc_nodir_same_dir(const ftpc_task *a, const ftpc_task *b);

typedef struct ftpc_nodir_group {
    ftpc_task *lead; /* the task whose failure tells it */
    size_t others;   /* the files for the directory that failed with it */
    size_t running;  /* the ones that were running when it was found, still to end */
    bool told;
} ftpc_nodir_group;

typedef struct ftpc_nodirs {
    ftpc_nodir_group *v;
    size_t n, cap;
} ftpc_nodirs;

/* The group of t's directory, or NULL. */
ftpc_nodir_group *ftpc_nodirs_find(ftpc_nodirs *d, const ftpc_task *t);
/* A group led by t (t->nodir, or a failed gate mkdir), with running tasks still to end, or
 * NULL when out of memory (t is then told alone). */
ftpc_nodir_group *ftpc_nodirs_add(ftpc_nodirs *d, ftpc_task *t, size_t running);
/* Whether q, a task not started, is for g's directory; if so it fails with g, quietly. */
bool ftpc_nodirs_drop(ftpc_nodir_group *g, ftpc_task *q);
/* A task of g that was running has ended. Returns true when its failure is g's (t->nodir),
 * told by g's message. */
bool ftpc_nodirs_ended(ftpc_nodir_group *g, const ftpc_task *t);
/* Tells g once nothing of it is running any more (or now, with force). */
void ftpc_nodirs_tell(ftpc_nodir_group *g, ftpc_ctx *ctx, bool force);
/* Tells what is left untold (a stopped run) and frees. */
void ftpc_nodirs_free(ftpc_nodirs *d, ftpc_ctx *ctx);

#endif
