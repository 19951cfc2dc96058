/* Remote file-system commands on one control connection: rm (DELE), mkdir (MKD; with -p
 * every parent first, and an existing directory is success), rmdir (RMD), mv (RNFR/RNTO). */
#ifndef FTPC_FSOPS_H
#define FTPC_FSOPS_H

#include "conn.h"
#include "ctx.h"
#include "task.h"

typedef struct ftpc_fsop ftpc_fsop;

/* An operation for task t (kind RM, MKDIR, RMDIR or MV); done runs once with the result, also
 * stored in t->err. Returns NULL when out of memory. */
ftpc_fsop *ftpc_fsop_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud);
/* Runs on c (ready now or later); the operation becomes c's owner. */
void ftpc_fsop_start(ftpc_fsop *op, ftpc_conn *c);
/* Stops (no done callback) and frees later. Safe after done. */
void ftpc_fsop_free(ftpc_fsop *op);
/* An MLST reply's text (ftp_reply_msg) names a directory: type=dir, cdir or pdir. */
bool ftpc_mlst_is_dir(const char *text);
/* Whether an MLST reply's perm fact lets its directory be listed (RFC 3659 'l'): 1 when it
 * has the letter, 0 when it has a perm fact without it, -1 when it has none. */
int ftpc_mlst_perm_lists(const char *text);

#endif
