/* The status file of an unfinished segmented download (".NAME.ftpc-seg.state", beside its
 * ".NAME.ftpc-seg"): the remote file it is of (URL, size, MDTM) and, for each range, the bytes
 * known to be written. get -c (and a retry in the same run) resumes every range from there
 * when the remote file is still the same. */
#ifndef FTPC_SEGSTATE_H
#define FTPC_SEGSTATE_H

#include <stddef.h>
#include <stdint.h>

#define FTPC_SEGSTATE_RANGES_MAX 16
#define FTPC_SEGSTATE_URL_MAX 8192

typedef struct {
    uint64_t start, end, pos; /* [start, pos) is written */
} ftpc_segrange;

typedef struct {
    char url[FTPC_SEGSTATE_URL_MAX]; /* the remote file, as the user named it (no password) */
    int64_t size;
    char mdtm[32]; /* the server's MDTM answer; "" when it gave none */
    int n;
    ftpc_segrange r[FTPC_SEGSTATE_RANGES_MAX];
} ftpc_segstate;

/* Sets st->url to url as the file stores it (bytes that would end its line escaped). */
void ftpc_segstate_set_url(ftpc_segstate *st, const char *url);

/* seg_path + ".state". Returns -1 when it does not fit. */
int ftpc_segstate_name(const char *seg_path, char *out, size_t out_size);

/* Writes st to path through a temporary file renamed over it, so a reader sees the old
 * state or the new one, never a mix. Returns -1 with errno on failure. */
int ftpc_segstate_save(const char *path, const ftpc_segstate *st);

/* Writes st over the status file at path in place, which needs no new space: for a full
 * disk, where the temporary file of ftpc_segstate_save cannot be made. Only a state of the
 * same length (the same download's: ranges' progress is written at a fixed width) is
 * written; else -1 with EINVAL and the file is left as it was. Not atomic: a system crash
 * during the write may leave a mix, which the load may refuse (a fresh start) or take, and
 * the HASH check at the end then catches, as it catches bytes that never reached the disk.
 * Returns -1 with errno on failure. */
int ftpc_segstate_overwrite(const char *path, const ftpc_segstate *st);

/* Reads path into st. Returns 0, -1 with errno ENOENT when there is none, -2 when it is not
 * a well-formed state (why: what is wrong). Ranges are checked to cover [0, size) in order,
 * each with start <= pos <= end. */
int ftpc_segstate_load(const char *path, ftpc_segstate *st, char *why, size_t why_size);

#endif
