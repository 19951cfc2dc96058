/* ls of a path that names a file vsftpd leaves out of its own listing: the path's entry,
 * taken from its directory's listing (lsentry.c). */
#ifndef FTPC_LSENTRY_H
#define FTPC_LSENTRY_H

#include <signal.h>
#include <stdbool.h>

#include "ctx.h"
#include "task.h"

/* For a one-shot ls (t, finished) whose listing came empty and whose path, asked again as
 * path/, is no directory: lists the path's directory and, when it holds an entry of that
 * name that is not a directory, prints it as the listing would have (LIST: its line; NLST:
 * the path) and returns true. False when there is none, or it could not be learnt (a
 * failure of that listing is said). */
bool ftpc_ls_entry(ftpc_ctx *ctx, const ftpc_task *t, volatile sig_atomic_t *stop);

#endif
