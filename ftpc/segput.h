/* A segmented upload (put --segments N): the file split into up to N ranges; STOR of the first
 * range creates a temporary file beside the target, ".NAME.ftpc-up" (xfer.h), then the other
 * ranges go at once, each on its own control connection with REST at its offset and STOR,
 * which a server that writes REST+STOR in place (vsftpd; ProFTPD up to the size the file has
 * reached, 554 beyond it) assembles into the whole file. Once it is complete and checked,
 * RNFR/RNTO puts it over the target: until then the target is as it was, and a cut or
 * refused range never leaves a partial file in its place. Before the rename the temporary
 * file gets the permission bits of the file it replaces (MLST's UNIX.mode, else STAT's
 * listing; SITE CHMOD), which an ordinary STOR over that file keeps and a rename over it
 * would drop, and mirror -R's time (MFMT), as an ordinary upload gets it after its transfer.
 *
 * Not every server can: ftpd, for one, writes an upload aside and renames it into place when
 * complete, so REST+STOR only continues at the end of what is there (554 beyond it). A server
 * that cannot is found out, and the upload ends sequentially instead, never leaving a wrong
 * file:
 *   - a REST or STOR refused for a range (or a connection refused at login) stops the
 *     parallel phase: the ranges under way finish, then the upload continues on the first
 *     connection from the end of the ranges known to be complete (REST+STOR, or APPE when
 *     REST is refused) if the server's SIZE is exactly there, else starts over with STOR;
 *   - the first parallel range to complete is checked (HASH over RANG when offered, else
 *     SIZE must reach the range's end): a server that took REST but did not write in place
 *     (ignored the offset, truncated) fails it, the other ranges are stopped and the file is
 *     uploaded again from the start with STOR;
 *   - at the end the whole file is checked: with --verify every range's HASH (computed while
 *     sending) or the whole file's HASH, else SIZE. A check that fails is answered with
 *     one sequential upload from the start; if that fails the check too, it is an error
 *     (FTPC_EXIT_VERIFY).
 * An upload that fails deletes its temporary file (on a connection of its own when the
 * first one is lost); a retry (--retry) starts over. One whose ftpc was killed leaves it, and
 * -c resumes it: SIZE of the temporary file, then HASH over RANG of those bytes against the
 * local file's first bytes; when they are equal the rest goes sequentially after them (the
 * fallback's path), else (different, or no HASH to tell) the upload starts over into it. An
 * ordinary upload with -c (this module runs put -c without --segments too) deletes such a
 * file once it is in place; FTP cannot tell it from one another ftpc writes at that moment,
 * and two uploads of one name at once were never safe. A server that refuses the temporary
 * name's first STOR with a 5xx gets one ordinary upload instead (a 4xx fails the upload, as
 * it fails an ordinary one); one that refuses the rename (ftpd without the f permission) has
 * the temporary file deleted and the file sent again as one ordinary upload, and the run's
 * later uploads to it are ordinary ones from the start.
 * One progress line shows the sum of the ranges.
 *
 * Segmenting does not apply (an ordinary transfer, xfer.h, runs on the same connection
 * instead) to files under 2 MiB, with -c where there is no temporary file (resume continues
 * from the target's size), with
 * --limit-rate, on a server without REST STREAM in FEAT, or under MODE Z or ASCII. TLS data
 * connections work: each range's resumes the session of the range's control connection.
 */
#ifndef FTPC_SEGPUT_H
#define FTPC_SEGPUT_H

#include "conn.h"
#include "ctx.h"
#include "digest.h"
#include "task.h"

typedef struct ftpc_segput ftpc_segput;

/* An upload for task t (kind PUT) in up to nseg ranges. done runs once with the result (also
 * in t->err). NULL when out of memory. */
ftpc_segput *ftpc_segput_new(ftpc_ctx *ctx, ftpc_task *t, int nseg, ftpc_op_done_cb done, void *ud);
/* Runs on c (ready now or later); further connections to t->ep are opened as needed. */
void ftpc_segput_start(ftpc_segput *p, ftpc_conn *c);
/* Stops at once (no done callback) and frees later. Safe after done. */
void ftpc_segput_free(ftpc_segput *p);

/* The source as an ordinary transfer read it, for the caller's check (ftpc_xfer_take_source);
 * -1 when the upload was segmented or kept none. */
int ftpc_segput_take_source(ftpc_segput *p);

/* How the finished upload was verified: the number of ranges when every range's HASH
 * matched (*algo set), -1 when the upload checked the whole file itself and reported it, 0
 * when it ran as an ordinary transfer (the caller verifies). */
int ftpc_segput_verified(const ftpc_segput *p, digest_algo *algo);

#endif
