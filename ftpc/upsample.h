/* The bytes an interrupted segmented upload left in its temporary file, checked on a server
 * without HASH: small windows of them are read back (REST+RETR, each on a connection of its
 * own, dropped once the window is in) and compared with the local file's, since reading all
 * of them would cost as much as sending them again.
 *
 * One window ends where the kept bytes end: another file's bytes, or a file changed since,
 * show there. The others end at each offset where a range of the interrupted upload may have
 * begun: a server that writes REST+STOR in place (vsftpd) leaves zeros before a range whose
 * predecessor had not been completed, up to the range's first byte, and those windows read
 * them. The interrupted upload's range count is not known, so every count --segments could
 * have given a file of this size is covered. Bytes between windows are not read: a file
 * changed only there is not seen, as get -c does not see one changed before its overlap. */
#ifndef FTPC_UPSAMPLE_H
#define FTPC_UPSAMPLE_H

#include <stdint.h>

#include "ctx.h"
#include "endpoint.h"
#include "segget.h"

#define FTPC_UPSAMPLE_GRID_MAX (FTPC_SEGMENTS_MAX * FTPC_SEGMENTS_MAX)

typedef struct ftpc_upsample ftpc_upsample;

typedef enum {
    FTPC_UPS_SAME,    /* every window holds the local bytes */
    FTPC_UPS_DIFFER,  /* a window does not */
    FTPC_UPS_UNKNOWN, /* a window could not be read (refused, lost): why says so */
} ftpc_ups_verdict;

/* Called once, never from inside ftpc_upsample_start; the callee may free u. */
typedef void (*ftpc_upsample_cb)(void *ud, ftpc_ups_verdict v, const char *why);

/* Checks the first kept bytes of remote (on ep) against the local file fd of size bytes,
 * with up to conns connections at once. NULL when out of memory. */
ftpc_upsample *ftpc_upsample_start(ftpc_ctx *ctx, const ftpc_endpoint *ep, const char *remote,
                                   int fd, uint64_t kept, uint64_t size, int conns,
                                   ftpc_upsample_cb cb, void *ud);
void ftpc_upsample_free(ftpc_upsample *u);

/* The offsets where a range of a segmented upload of a size-byte file may begin: size * i / m
 * for 0 < i < m and every range count m a new upload could choose; in order, each once.
 * A resumed upload begins its ranges there too, so that holes it may leave in turn lie before
 * offsets that are read back. Returns how many were put in out. */
int ftpc_upsample_grid(uint64_t size, uint64_t out[FTPC_UPSAMPLE_GRID_MAX]);

#endif
