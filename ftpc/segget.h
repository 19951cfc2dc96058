/* A segmented download (get --segments N): SIZE, then the file split into up to N ranges,
 * each fetched on its own control connection (REST at the range's start, RETR, the data
 * connection closed once the range is in) and written in place with pwrite(2) into
 * ".NAME.ftpc-seg". The file is renamed into place only when every range arrived complete and
 * the file's size equals SIZE. One progress line shows the sum of the ranges.
 *
 * A connection the server refuses before login (a per-address limit: 421) leaves its range to
 * the first connection whose range is done.
 *
 * Ranges are at least 1 MiB: a smaller file uses fewer connections. When segmenting does not
 * apply (one range, no SIZE, standard output or a device as target, --limit-rate, or -c / a
 * retry with a ".NAME.ftpc-part" to continue), the operation runs an ordinary transfer
 * (xfer.h) on the same connection instead.
 *
 * An attempt that stops or fails with bytes in keeps ".NAME.ftpc-seg" and its status file
 * (segstate.h), brought up to date every second as well: -c, or a retry in the same run,
 * resumes every range from there when the remote file's URL, size and MDTM are the same.
 * Without them, or when the server's bytes cannot be right (the ranges do not fit, a range
 * came short of a complete transfer), the download starts over. */
#ifndef FTPC_SEGGET_H
#define FTPC_SEGGET_H

#include "conn.h"
#include "ctx.h"
#include "digest.h"
#include "task.h"

#define FTPC_SEGMENT_MIN (1024 * 1024)
#define FTPC_SEGMENTS_MAX 16

typedef struct ftpc_segget ftpc_segget;

/* How many ranges a file of size bytes gets when nseg are asked for (1: not segmented). */
int ftpc_segget_count(int64_t size, int nseg);

/* A download for task t (kind GET) in up to nseg ranges. done runs once with the result (also
 * in t->err). NULL when out of memory. */
ftpc_segget *ftpc_segget_new(ftpc_ctx *ctx, ftpc_task *t, int nseg, ftpc_op_done_cb done, void *ud);
/* Runs on c (ready now or later); further connections to t->ep are opened as needed. */
void ftpc_segget_start(ftpc_segget *g, ftpc_conn *c);
/* Stops at once (no done callback) and frees later. Safe after done. */
void ftpc_segget_free(ftpc_segget *g);

/* ".NAME.ftpc-seg" beside local. Returns -1 when it does not fit. */
int ftpc_segget_file_name(const char *local, char *out, size_t out_size);

/* Removes the ".NAME.ftpc-seg" (and its status file) a killed segmented download of local left
 * behind: called once an ordinary download has put local in place. */
void ftpc_segget_drop_stale(const char *local);

/* The number of ranges in the status file a segmented download of local kept beside it
 * (.NAME.ftpc-seg.state), or 0 when there is none that can be read. */
int ftpc_segget_kept_ranges(const char *local);

/* With --verify every range is checked as it completes, with HASH over RANG on its own
 * connection. Returns the number of ranges when all of them matched (*algo: the algorithm),
 * else 0: then the whole file is still to be verified. */
int ftpc_segget_verified(const ftpc_segget *g, digest_algo *algo);

#endif
