/* A data transfer on one control connection: get (RETR into a ".NAME.ftpc-part" file renamed
 * into place when complete, or to standard output), put (STOR with sendfile, or from
 * standard input as it comes), ls (NLST/LIST) and cat. Resume (-c, and every retry): REST
 * from the part file or the existing file for a download; SIZE, then REST+STOR or APPE for
 * an upload (not from standard input). Sizes are verified after the transfer.
 * The data connection may be TLS (PROT P), a MODE Z deflate stream (-z) or TYPE A text (-a,
 * read from the options at each transfer's start); sendfile and splice are used where none of
 * that needs to see the bytes.
 */
#ifndef FTPC_XFER_H
#define FTPC_XFER_H

#include "conn.h"
#include "ctx.h"
#include "task.h"

typedef struct ftpc_xfer ftpc_xfer;

/* A transfer for task t (kind GET, PUT, LS or CAT). done runs once with the result, which is
 * also stored in t->err. Returns NULL when out of memory. */
ftpc_xfer *ftpc_xfer_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud);
/* Runs on c (ready now or later); the transfer becomes c's owner. */
void ftpc_xfer_start(ftpc_xfer *x, ftpc_conn *c);
/* Stops at once (no done callback), keeping a partial download for a later resume, and frees
 * later (deferred). Safe after done. */
void ftpc_xfer_free(ftpc_xfer *x);
/* The file a completed upload of a named file read, still open (the caller closes it), or -1,
 * for the HASH check after it (ftpc_verify_set_source). */
int ftpc_xfer_take_source(ftpc_xfer *x);

/* Gives the open download fd the permission bits (without set-id bits) of the regular file at
 * path it is about to replace, if there is one: curl, wget and lftp write into the file they
 * replace, which keeps its mode, and rsync keeps an updated file's; a download renamed over
 * it would otherwise bring the umask's mode, so that a private file (0600) came out readable
 * by everyone and a script lost its x bits. Nothing for a new file or a symbolic link.
 * Returns the fd's mode before, or -1 when it was left alone: for ftpc_xfer_undo_mode. */
int ftpc_xfer_keep_mode(int fd, const char *path);
/* Gives fd back the mode ftpc_xfer_keep_mode returned (nothing for -1): its rename into place
 * failed, and the part file it stays as must take -c's writes. */
void ftpc_xfer_undo_mode(int fd, int prior);
/* Ends the line of a transfer whose bytes all moved: held, marked as checking, when its HASH
 * check follows (t->hold_bar; the check's report ends it), else done. */
void ftpc_task_end_bar(ftpc_task *t, struct ftpc_bar *bar);
/* ".NAME.ftpc-part" beside path; for a NAME too long for that, ".START~DIGEST.ftpc-part"
 * (the name's first 200 bytes and 16 hex digits of its SHA-256). Returns 0 or -1 (too
 * long). */
int ftpc_part_name(const char *path, char *out, size_t out_size);
/* The same for a segmented upload's temporary remote file (segput.h): ".NAME.ftpc-up" beside
 * the remote path, ".START~DIGEST.ftpc-up" for a long NAME. Returns 0 or -1 (too long). */
int ftpc_up_name(const char *remote, char *out, size_t out_size);

#endif
