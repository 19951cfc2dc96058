/* Transfer verification with the FTP HASH command (draft-bryan-ftpext-hash-02): after a
 * transfer ftpc asks the server for the file's digest and compares it with the digest of the
 * local bytes (--verify, on by default where FEAT lists HASH; --no-verify turns it off).
 *
 * Wire dialogue on an idle control connection (the connection's login FEAT is not kept by
 * conn.c, so FEAT is asked again; one round trip):
 *   FEAT                 " HASH SHA-256*;SHA-1;MD5;" -> offered, the current choice starred
 *   OPTS HASH SHA-256    only when another algorithm is current (SHA-256 preferred)
 *   RANG first last      byte range of the next HASH (segments); a 5xx means "no ranges".
 *                        RANG is tried whenever HASH is offered, because a server may take
 *                        RANG for HASH without listing "RANG STREAM" (ftpd does: its RANG is
 *                        for HASH only); the range in the 213 reply is checked either way.
 *   HASH path            "213 SHA-256 first-last hex path"; 450 (busy) is tried again.
 *
 * The pieces:
 *   - pure parsers (FEAT line, 213 reply), unit-tested;
 *   - ftpc_rhash: that dialogue as a state machine on a connection; the connection's
 *     inactivity timeout is stretched while the server hashes (an allowance of the
 *     timeout plus 1 s per 32 MiB to hash), since a server hashes a large file for a while;
 *   - ftpc_lhash: a local file's digest computed on the loop in slices (8 MiB per wakeup), for
 *     transfers whose bytes never pass through ftpc's memory (sendfile, splice);
 *   - ftpc_verify: the whole-file check after a transfer: rhash and lhash at once (the server
 *     hashes while ftpc does), then the comparison and the one-line report;
 *   - ftpc_rcheck: a byte range whose digest was computed while streaming (segmented
 *     transfers), compared with HASH over RANG.
 */
#ifndef FTPC_VERIFY_H
#define FTPC_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "ctx.h"
#include "digest.h"
#include "hashfeat.h"
#include "status.h"
#include "task.h"

/* ---- pure parsing ---- */

typedef struct ftpc_hash_reply {
    digest_algo algo;
    int64_t first, last; /* inclusive byte range the server hashed */
    char hex[DIGEST_HEX_MAX];
} ftpc_hash_reply;

/* Parses the text of a 213 reply to HASH: "ALGO FIRST-LAST HEX PATH" (the path may be
 * missing or contain spaces). The hex is lowercased and its length checked against the
 * algorithm. In a multi-line reply the first line of that form counts (ProFTPD's
 * mod_digest answers "213-Computing SHA-256 digest" first). Returns 0, or -1 when no line
 * is of that form. */
int ftpc_hash_reply_parse(const char *text, ftpc_hash_reply *out);

/* ---- results ---- */

typedef enum {
    FTPC_V_VERIFIED,    /* the digests are equal */
    FTPC_V_UNAVAILABLE, /* the server cannot hash (no HASH, or refused it): not verified */
    FTPC_V_NO_RANGE,    /* HASH without byte ranges: check the whole file instead */
    FTPC_V_MISMATCH,    /* different: err.status FTPC_EXIT_VERIFY */
    FTPC_V_ERROR,       /* the check itself failed (connection lost, local read error) */
} ftpc_vstate;

typedef struct ftpc_vresult {
    ftpc_vstate state;
    digest_algo algo;
    char why[200]; /* UNAVAILABLE / NO_RANGE: the reason, for the report */
    ftpc_err err;  /* MISMATCH / ERROR */
    bool conn_ok;  /* the connection is idle and usable */
} ftpc_vresult;

typedef void (*ftpc_vdone_cb)(void *ud, const ftpc_vresult *r);

/* The reason given where FEAT lists no HASH. */
#define FTPC_NO_HASH "the server offers no HASH"

/* "sha256", "sha1", "md5": the lowercase names used in reports. */
const char *ftpc_hash_label(digest_algo a);

/* ---- remote hash query ---- */

typedef struct ftpc_rhash ftpc_rhash;
typedef void (*ftpc_rhash_cb)(void *ud, int state, const ftpc_hash_reply *reply,
                              const ftpc_vresult *r);

/* Asks for the digest of path (bytes first..last, or the whole file when first < 0) on c,
 * preferring algorithm want (-1: SHA-256). Becomes c's owner until cb; cb runs once, from
 * the loop, with state FTPC_V_VERIFIED meaning "reply in hand" (reply set), else r says why
 * not. size_hint is the number of bytes the server will hash (for the timeout allowance). */
ftpc_rhash *ftpc_rhash_start(ftpc_ctx *ctx, ftpc_conn *c, const char *path, int64_t first,
                             int64_t last, int want, uint64_t size_hint, ftpc_rhash_cb cb,
                             void *ud);
/* Stops (no callback) and frees later; leaves c without owner callbacks of ours. */
void ftpc_rhash_free(ftpc_rhash *h);

/* ---- whole-file verification after a transfer ---- */

typedef struct ftpc_verify ftpc_verify;

/* Verifies t's file (GET: t->local as downloaded; PUT: t->local, the source, or for
 * standard input the SHA-256 the transfer took as it read it) against the server's HASH of
 * t->remote. done(ud, status, reusable) runs once: 0 when verified or not
 * verifiable (a "NAME: verified sha256" or "NAME: not verified (...)" line is printed unless
 * -q), FTPC_EXIT_VERIFY on a mismatch (t->err names the file and both digests), another
 * status when the check could not run. NULL when out of memory. */
ftpc_verify *ftpc_verify_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud);
/* Where the server has no HASH, compare its SIZE with the local size instead (for callers
 * whose transfer did not check the size itself). Off by default. */
void ftpc_verify_set_size_check(ftpc_verify *v, bool on);
/* Checks the server's file remote (which must outlive v) instead of t->remote: a segmented
 * upload's temporary file (segput.h). */
void ftpc_verify_set_remote(ftpc_verify *v, const char *remote);
/* PUT: the source as the upload read it (fd, which the caller keeps open until done) is hashed
 * rather than the file under t->local's name now: that may have been removed or replaced
 * while the upload ran, and the check is of the bytes sent. */
void ftpc_verify_set_source(ftpc_verify *v, int fd);
void ftpc_verify_start(ftpc_verify *v, ftpc_conn *c);
/* Stops at once (no callback) and frees later. Safe after done. */
void ftpc_verify_free(ftpc_verify *v);

/* Whether a finished task's file is to be verified: --verify on, a binary (not -a) GET into
 * a regular file or PUT. */
bool ftpc_verify_wanted(const ftpc_ctx *ctx, const ftpc_task *t);

/* Prints "NAME: verified ALGO (DETAIL)" or "NAME: not verified (WHY)" unless quiet; a server
 * without HASH (FTPC_NO_HASH) is said once per server, with the first of its files. */
void ftpc_verify_report(ftpc_ctx *ctx, ftpc_task *t, bool verified, digest_algo algo,
                        const char *detail);

/* ---- a streamed byte range ---- */

typedef struct ftpc_rcheck ftpc_rcheck;

/* A range [start, end) of t's file whose bytes will be fed in order; SHA-256 is computed as
 * they come. local_path is a file holding the range at the same offsets, read only if the
 * server cannot give SHA-256 or the range was not fed whole (a range already on disk, such as
 * a partial file about to be resumed, needs no feeding). NULL when out of memory. */
ftpc_rcheck *ftpc_rcheck_new(ftpc_ctx *ctx, const ftpc_task *t, const char *local_path,
                             uint64_t start, uint64_t end);
/* As ftpc_verify_set_remote, for the range's file on the server. */
void ftpc_rcheck_set_remote(ftpc_rcheck *k, const char *remote);
void ftpc_rcheck_feed(ftpc_rcheck *k, const void *p, size_t n);
/* Compares with the server's HASH over RANG on c (which it owns until cb). cb runs once. */
void ftpc_rcheck_run(ftpc_rcheck *k, ftpc_conn *c, ftpc_vdone_cb cb, void *ud);
/* Stops (no callback) and frees later. */
void ftpc_rcheck_free(ftpc_rcheck *k);

#endif
