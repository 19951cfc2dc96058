/* HASH, OPTS HASH and RANG: file digests per draft-bryan-ftpext-hash-02, byte ranges per
 * draft-bryan-ftp-range-09 (for HASH only).
 *
 * Wire forms:
 *   FEAT line        " HASH SHA-256*;SHA-1;MD5;"  (the current choice starred; the draft's
 *                    ABNF ends every name with ';')
 *   OPTS HASH        "200 SHA-256"                (the current choice)
 *   OPTS HASH MD5    "200 MD5"; an unknown name: "501 Unknown algorithm, current selection
 *                    not changed." (the draft's reply)
 *   RANG 10 99       "350 ..." then the next HASH covers bytes 10..99 (inclusive; the end is
 *                    clamped to the last byte of the file); "RANG 1 0" resets; start > end:
 *                    501 and reset. RANG with RETR/STOR/APPE/STOU is refused (504), so
 *                    "RANG STREAM" is not in FEAT.
 *   HASH path        "213 SHA-256 0-<size-1> <lowercase hex> <path as sent>"; an empty file
 *                    is "0-0" with the empty input's digest, as the ABNF has no empty range.
 *                    A name with only a kept partial is that partial for a session that
 *                    may upload, as for SIZE (upload.h).
 *   Errors           550 missing or unreadable (and no PERM_READ, from the dispatcher),
 *                    553 a directory or other non-regular file (the draft's code), 554 a
 *                    RANG start beyond the end of the file, 450 the server is too busy,
 *                    451 a read error or the file shrank while being hashed.
 *
 * The digest runs on the worker pool in slices of HASH_SLICE bytes: each slice is one job,
 * and the next is queued from the loop when the last reports. So a password check queued
 * behind hashes waits for a slice, not for a whole file; the session's idle clock is kept
 * fresh while its client waits; and a session closed meanwhile stops its hash at the next
 * slice. The session runs no command from HASH until the reply (as for PASS), but reads on
 * to watch for ABOR: an ABOR stops the hash after the slice under way, the HASH gets 426 and
 * then the ABOR its 226 (RFC 959, an ABOR of a command in progress). A client that closes
 * the connection ends its session at once, and so its hash (session.c). One whose input ends
 * with a QUIT behind the HASH may still read (a half-close), and keeps it; if it closed the
 * connection whole, the probe session.c sends then tells, and the next slice stops the hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands_int.h"
#include "digest.h"
#include "log.h"
#include "logpath.h"
#include "ownfiles.h"
#include "path.h"
#include "server.h"
#include "upload.h"
#include "workq.h"

#define HASH_SLICE (16 * 1024 * 1024) /* bytes per worker job: ~10-40 ms of SHA-256 */
#define HASH_BUF (256 * 1024)
#define HASH_BUSY_JOBS 64 /* more queued worker jobs than this: 450, try again later */

typedef struct hash_job {
    session *s;
    vfs v; /* a duplicate of the session's root, valid even if the session closes */
    char *vpath;
    char *arg; /* the path as the client wrote it, echoed in the reply */
    digest_algo algo;
    bool ranged;
    bool partial_ok; /* the session may resume uploads: a name with only a partial is that */
    bool names_dir;  /* the client's path ends in "/" or "/.": only a directory will do */
    bool partial;    /* what is hashed is such a partial */
    bool cancelled;  /* ABOR came: no more slices (set and read on the loop) */
    off_t rstart, rend;
    /* worker state */
    int fd;
    void *buf;
    digest d;
    off_t first, last, pos; /* bytes first..last are hashed; pos is the next to read */
    bool empty;             /* nothing to hash (an empty file) */
    /* result of the last slice: 1 done, 0 more to do, -1 failed with code and err */
    int rc;
    int code;
    int err;
    char hex[DIGEST_HEX_MAX];
} hash_job;

static void free_job(hash_job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    digest_free(&j->d);
    vfs_close(&j->v);
    free(j->buf);
    free(j->vpath);
    free(j->arg);
    free(j);
}

static int job_fail(hash_job *j, int code, int err)
{
    j->rc = -1;
    j->code = code;
    j->err = err;
    return -1;
}

/* First slice: open, check and size the file, start the digest. */
static int open_target(hash_job *j)
{
    /* O_NONBLOCK: a FIFO must not stall the open (it is refused below anyway). */
    j->fd = vfs_open(&j->v, j->vpath, O_RDONLY | O_NONBLOCK, 0);
    /* SIZE of a name whose first upload was cut reports its partial to a session that may
     * resume it; HASH agrees, so that a client checks those bytes before it resumes. */
    if (j->fd < 0 && errno == ENOENT && j->partial_ok && !j->names_dir) {
        j->fd = upload_open_partial(&j->v, j->vpath, O_NONBLOCK);
        if (j->fd < 0)
            errno = ENOENT;
        j->partial = j->fd >= 0;
    }
    struct stat st;
    if (j->fd < 0 || fstat(j->fd, &st) < 0)
        return job_fail(j, 0, errno);
    if (ownfiles_holds(&st)) /* a digest of a range at a time would give its bytes away */
        return job_fail(j, 0, OWNFILES_REFUSED);
    /* path_resolve dropped the "/" of "notes.txt/", which only a directory matches: said
     * here, on the worker, as the stat that tells may wait for the disk. */
    if (j->names_dir && !S_ISDIR(st.st_mode))
        return job_fail(j, FTP_FILE_UNAVAILABLE, ENOTDIR);
    if (!S_ISREG(st.st_mode))
        return job_fail(j, FTP_BAD_FILENAME, S_ISDIR(st.st_mode) ? EISDIR : EINVAL);
    off_t size = st.st_size;
    j->first = 0;
    j->last = size - 1;
    if (j->ranged) {
        if (j->rstart >= size)
            return job_fail(j, FTP_BAD_REST, 0);
        j->first = j->rstart;
        if (j->rend < j->last)
            j->last = j->rend;
    }
    /* A partial may be another user's cut upload, which no one can RETR: digests of small
     * ranges of it would give its bytes away one by one. A resume checks all of it. */
    if (j->partial && (j->first != 0 || j->last != size - 1))
        return job_fail(j, FTP_FILE_UNAVAILABLE, 0);
    j->empty = size == 0;
    if (j->empty)
        j->last = 0; /* reported as 0-0 */
    j->pos = j->first;
    (void)posix_fadvise(j->fd, j->first, j->last - j->first + 1, POSIX_FADV_SEQUENTIAL);
    j->buf = malloc(HASH_BUF);
    if (!j->buf)
        return job_fail(j, FTP_LOCAL_ERROR, ENOMEM);
    if (digest_init(&j->d, j->algo) < 0)
        return job_fail(j, FTP_PARAM_NOT_IMPLEMENTED, errno);
    return 0;
}

static void hash_fn(void *arg)
{
    hash_job *j = arg;
    if (j->fd < 0 && open_target(j) < 0)
        return;
    int r = j->empty
                ? 1
                : digest_fd_range(&j->d, j->fd, &j->pos, j->last, HASH_SLICE, j->buf, HASH_BUF);
    if (r < 0) {
        job_fail(j, FTP_LOCAL_ERROR, errno);
        return;
    }
    if (r == 1 && digest_final_hex(&j->d, j->hex) < 0) {
        job_fail(j, FTP_LOCAL_ERROR, errno);
        return;
    }
    j->rc = r;
}

static void reply_failure(session *s, const hash_job *j)
{
    switch (j->code) {
    case 0:
        reply_errno(s, j->err, "HASH", j->arg);
        break;
    case FTP_BAD_FILENAME:
        session_reply(s, FTP_BAD_FILENAME, "HASH: %s.",
                      j->err == EISDIR ? "Is a directory" : "Not a regular file");
        break;
    case FTP_BAD_REST:
        session_reply(s, FTP_BAD_REST, "HASH: RANG start %jd is beyond the end of the file.",
                      (intmax_t)j->rstart);
        break;
    case FTP_FILE_UNAVAILABLE:
        if (j->err == ENOTDIR) {
            session_reply(s, FTP_FILE_UNAVAILABLE, "%s: Not a directory.", j->arg);
            break;
        }
        session_reply(s, FTP_FILE_UNAVAILABLE,
                      "HASH: the kept bytes of a cut upload are hashed whole, not in ranges.");
        break;
    case FTP_PARAM_NOT_IMPLEMENTED:
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "HASH: %s is not available.",
                      digest_name(j->algo));
        break;
    default:
        session_reply(s, FTP_LOCAL_ERROR, "HASH: %s.",
                      j->err == ENODATA ? "The file changed while being hashed" : strerror(j->err));
        break;
    }
}

static void hash_done(void *arg)
{
    hash_job *j = arg;
    session *s = j->s;
    /* A client that closed the connection behind "HASH f; QUIT" reads no digest. */
    bool live = s->state == SESS_READY && !session_gone_during_hash(s);
    if (live && j->rc == 0 && !j->cancelled) {
        /* More to hash: the client is waiting, not idle. */
        s->last_activity = ev_now(s->srv->loop);
        if (workq_submit(server_work_queue(s->srv), hash_fn, hash_done, j) == 0)
            return;
        job_fail(j, FTP_LOCAL_ERROR, errno);
    }
    s->jobs--;
    s->hash = NULL;
    if (live) {
        if (j->rc == 0) { /* cancelled; a hash that ended meanwhile gets its 213 */
            char shown[LOG_PATH_BUF];
            session_log(s, "HASH %s aborted by the client (ABOR) at byte %jd of %jd-%jd",
                        log_path(j->vpath, shown, sizeof shown), (intmax_t)j->pos,
                        (intmax_t)j->first, (intmax_t)j->last);
            session_reply(s, FTP_TRANSFER_ABORTED, "HASH aborted.");
            s->flags |= SF_ABOR_DONE; /* the ABOR, still to run, did abort something */
        } else if (j->rc == 1) {
            char shown[LOG_PATH_BUF];
            session_log(s, "HASH %s %s %jd-%jd", digest_name(j->algo),
                        log_path(j->vpath, shown, sizeof shown), (intmax_t)j->first,
                        (intmax_t)j->last);
            session_reply(s, FTP_FILE_STATUS, "%s %jd-%jd %s %s", digest_name(j->algo),
                          (intmax_t)j->first, (intmax_t)j->last, j->hex, j->arg);
        } else {
            reply_failure(s, j);
        }
    }
    free_job(j);
    if (live)
        session_resume(s);
    /* else the session closed meanwhile: the server frees it once no job refers to it */
}

void cmd_hash(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    bool ranged = s->rang_set;
    s->rang_set = false; /* a range applies to one HASH */
    if (session_resolve(s, arg, vpath) < 0)
        return;
    if (server_work_pending(s->srv) > HASH_BUSY_JOBS) {
        session_reply(s, FTP_FILE_BUSY, "Server busy hashing: try HASH again later.");
        return;
    }
    hash_job *j = calloc(1, sizeof *j);
    if (j) {
        j->fd = -1;
        j->v.root_fd = fcntl(s->vfs.root_fd, F_DUPFD_CLOEXEC, 0);
        j->vpath = strdup(vpath);
        j->arg = strdup(arg);
    }
    if (!j || j->v.root_fd < 0 || !j->vpath || !j->arg) {
        if (j)
            free_job(j);
        session_reply(s, FTP_LOCAL_ERROR, "Out of resources.");
        return;
    }
    j->s = s;
    j->algo = (digest_algo)s->hash_algo;
    j->ranged = ranged;
    j->partial_ok = (s->perms & (PERM_WRITE | PERM_APPEND)) != 0;
    j->names_dir = path_names_dir(arg);
    j->rstart = s->rang_start;
    j->rend = s->rang_end;
    if (workq_submit(server_work_queue(s->srv), hash_fn, hash_done, j) < 0) {
        free_job(j);
        session_reply(s, FTP_LOCAL_ERROR, "Cannot start the hash now.");
        return;
    }
    s->jobs++;
    s->hash = j;
    s->flags |= SF_READ_PAUSED;
}

void session_discard_hash(session *s)
{
    if (s->hash) {
        free_job(s->hash);
        s->hash = NULL;
    }
}

void session_cancel_hash(session *s)
{
    if (s->hash)
        s->hash->cancelled = true; /* hash_done acts on it, on this thread */
}

/* Parses a decimal offset; no sign, no junk, fits off_t. */
static bool parse_offset(const char **p, off_t *out)
{
    const char *c = *p;
    if (*c < '0' || *c > '9')
        return false;
    intmax_t v = 0;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (v > (INTMAX_MAX - (*c - '0')) / 10)
            return false;
        v = v * 10 + (*c - '0');
    }
    if ((intmax_t)(off_t)v != v)
        return false;
    *out = (off_t)v;
    *p = c;
    return true;
}

void cmd_rang(session *s, const char *arg)
{
    off_t start, end;
    const char *p = arg;
    if (!parse_offset(&p, &start) || *p++ != ' ' || !parse_offset(&p, &end) || *p) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "Syntax: RANG start end.");
        return;
    }
    if (start == 1 && end == 0) {
        s->rang_set = false;
        session_reply(s, FTP_PENDING_MORE, "Range reset: HASH covers whole files.");
        return;
    }
    if (start > end) {
        s->rang_set = false;
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "Invalid range: start after end; range reset.");
        return;
    }
    s->rang_set = true;
    s->rang_start = start;
    s->rang_end = end;
    session_reply(s, FTP_PENDING_MORE, "Range %jd-%jd set for the next HASH.", (intmax_t)start,
                  (intmax_t)end);
}

bool hash_rang_allows(session *s, cmd_handler next)
{
    if (next == cmd_retr || next == cmd_stor || next == cmd_appe || next == cmd_stou) {
        s->rang_set = false;
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED,
                      "RANG is supported with HASH only; range reset.");
        return false;
    }
    return true;
}

bool hash_opts(session *s, const char *arg)
{
    if (strncasecmp(arg, "HASH", 4) != 0 || (arg[4] != ' ' && arg[4] != '\0'))
        return false;
    const char *name = arg[4] ? arg + 5 : "";
    while (*name == ' ')
        name++;
    if (*name) {
        int a = digest_from_name(name);
        if (a < 0) {
            session_reply(s, FTP_ARG_SYNTAX_ERROR,
                          "Unknown algorithm, current selection not changed.");
            return true;
        }
        s->hash_algo = a;
    }
    session_reply(s, FTP_CMD_OK, "%s", digest_name((digest_algo)s->hash_algo));
    return true;
}

void hash_feat(const session *s, char *out, size_t size)
{
    size_t len = (size_t)snprintf(out, size, "HASH ");
    for (int a = 0; a < DIGEST_COUNT && len < size; a++)
        len += (size_t)snprintf(out + len, size - len, "%s%s;", digest_name((digest_algo)a),
                                a == s->hash_algo ? "*" : "");
}
