/* One unit of work from the command line: a file to download or upload, a listing, or a
 * remote file-system command. Tasks are run by the job runner (jobs.h), each on a control
 * connection of its endpoint, and keep their own result. */
#ifndef FTPC_TASK_H
#define FTPC_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "endpoint.h"
#include "status.h"
#include "url.h"

/* What MLST said of the path of an ls whose listing the server refused. */
typedef enum {
    FTPC_LS_MLST_UNASKED, /* not asked (no MLST there), or no answer (a 4xx) */
    FTPC_LS_MLST_NONE,    /* a 5xx: nothing by that name */
    FTPC_LS_MLST_DIR,     /* a directory */
    FTPC_LS_MLST_OTHER,   /* a file, a link, ... */
} ftpc_ls_mlst;

typedef enum {
    FTPC_T_GET,   /* RETR into a file (local), or to standard output when local is "-" */
    FTPC_T_PUT,   /* STOR local to remote; local "-" is standard input (ftpc_task_stdin) */
    FTPC_T_LS,    /* NLST, or LIST with long_list, to standard output */
    FTPC_T_CAT,   /* RETR to standard output */
    FTPC_T_RM,    /* DELE */
    FTPC_T_MKDIR, /* MKD, every missing parent first with parents */
    FTPC_T_RMDIR, /* RMD */
    FTPC_T_MV,    /* RNFR remote, RNTO arg */
    FTPC_T_CHMOD, /* SITE CHMOD mode remote (mirror -R) */
} ftpc_task_kind;

/* A task's outcome: err.status 0 on success; msg, what a failure says (ftpc_err's), is the
 * task's own, sized to fit, "" when there is none, and changes only through the
 * ftpc_task_* functions below (ftpc_task_fail, ftpc_task_set_status, ...). */
typedef struct ftpc_task_err {
    int status;
    const char *msg;
} ftpc_task_err;

/* The longest display a task keeps (a longer one is cut): a URL's path and its parts. */
#define FTPC_TASK_DISPLAY_MAX (FTPC_URL_PATH_MAX + 300)

/* A task's strings are its own, allocated to fit (ftpc_task_set), "" until set: a mirror or
 * a glob plans one task per file, all before the first transfer, and fixed buffers of a path's
 * greatest length cost 16 KB a file where the names take a few dozen bytes. */
typedef struct ftpc_task {
    ftpc_task_kind kind;
    size_t index;        /* position on the command line */
    ftpc_endpoint *ep;   /* shared */
    const char *display; /* the URL without password, for messages */
    const char *remote;  /* path sent to the server (< FTPC_URL_PATH_MAX); "" = login dir */
    const char *local;   /* get: destination, put: source; "-": stdio (< FTPC_URL_PATH_MAX) */
    const char *arg;     /* mv: the new remote path (< FTPC_URL_PATH_MAX) */
    bool long_list;
    bool parents;
    /* put: after the upload, set the server's copy to this time (UTC seconds) where FEAT
     * offers MFMT, so that mirrors both ways see the file unchanged */
    bool keep_mtime;
    int64_t mtime;
    /* put: mirror -R gives the file its source's mode once the upload is done, so a
     * segmented upload need not give it the mode of the file it replaces (segput.c) */
    bool mode_set_after;
    unsigned mode; /* chmod: the permission bits to set */
    /* ls for glob expansion: the listing is kept in memory instead of going to standard
     * output, taken with MLSD when the server offers it (then listing_mlsd is set). */
    bool capture;
    char *listing; /* malloc'd by the transfer; freed by whoever made the task */
    size_t listing_len;
    bool listing_mlsd;
    /* ... but with LIST all the same, for the server's ls -l lines (lsentry.c) */
    bool capture_lines;
    /* The listing ended in a 2xx that says the server cut it short (pure-ftpd: "226 Output
     * truncated to 10000 matches"): the names past that point are missing from it. */
    bool listing_truncated;
    /* ls of a path without a '/' listed only the path's own entry as a directory (vsftpd's
     * answer for one it cannot open, xfer_selfline.c): nothing was printed, and lsagain.c
     * asks again as path/. */
    bool listed_itself;
    /* ls that will be asked again as path/ when it lists only the path itself (lsagain.c:
     * the one-shot ls of one path, the shell's ls): only such a listing may be held back
     * (xfer_selfline.c). ls of several paths is never asked again, so prints what it gets. */
    bool relist_ok;
    /* Such an ls whose listing the server refused: what MLST of the path said, where the
     * server has MLST (xfer_lsentry.c), so that lsentry.c need not list its directory. */
    ftpc_ls_mlst ls_mlst;

    /* With by_path, messages name the file by remote + name_off: a mirror's tasks, by their
     * path below the tree's root, so that a/x and b/x are told apart. */
    bool by_path;
    size_t name_off;

    /* get: a read-only file in local's place is replaced all the same (-f, and mirror,
     * which keeps the modes of the files in its tree itself) */
    bool replace_readonly;
    /* get -c over a write-protected file with no part file beside it: -c may find it
     * complete, which writes nothing and is no reason to refuse; anything else would write
     * and is refused when the transfer knows it (xfer_begin.c), before a byte is fetched. */
    bool protected_dest;

    /* get of a name an NLST pattern matched: it may be a directory (xfer_refused.c asks when
     * the server refuses it); skipped: it was one, and nothing was transferred */
    bool nlst_match;
    bool skipped;

    /* put: the remote name is a directory the command named plus the file's own name
     * ("put f URL/", several files, the shell's put f): a directory found under that name
     * is an error, as cp reports it, not a place to go into (xfer_refused.c). */
    bool named_in_dir;
    /* put: the local name is a pattern that matched no file (taken as a name, which then
     * cannot be opened: the message says the pattern matched nothing). */
    bool unmatched_pattern;

    /* put: the STOR was refused and the target's directory is not there (xfer_nodir.c); the
     * runner then tells it once for every file for that directory (nodir.h). */
    bool nodir;
    /* put --create-dirs: the mkdir -p of the target's directory. The tasks after it start
     * once it has ended, so that it runs once whatever -j is. */
    bool gate;

    /* get, put: the file's size, known before the transfer starts (a local file's, a mirror
     * listing's), for the Total line of the progress display */
    bool size_known;
    uint64_t known_size;

    int attempts; /* started so far */
    /* The bytes a resume would keep are this run's: an attempt wrote them (from the start),
     * or checked or trusted them under -c. A retry resumes only then: a part file that an
     * attempt never reached is not the run's to continue. */
    bool own_prefix;
    /* put: whether the name had a file before the upload, where the run learnt it (mirror -R's
     * listing, or a SIZE that found none): the hint after an interrupted upload depends on it
     * (jobs.c), since a server that writes uploads aside (ftpd) keeps a replaced file, and its
     * SIZE then reports that file, not the part received. */
    enum { FTPC_TARGET_UNKNOWN = 0, FTPC_TARGET_NEW, FTPC_TARGET_REPLACED } target;
    /* A segmented attempt kept its ".NAME.ftpc-seg" and status file: a retry resumes them. */
    bool seg_kept;
    /* Another transfer held the part file's lock: what it holds is that one's, not for -c. */
    bool part_busy;
    /* The URL's ";type=a" or ";type=i" (RFC 1738): this file's transfer type whatever -a
     * says; 0 when the URL has none (ftpc_task_ascii). */
    char url_type;
    uint64_t out_written; /* bytes already written to standard output, over all attempts */
    bool out_lost;        /* ... and an attempt ended with bytes it could not account for */
    /* The server's SIZE of the file when the first attempt began writing it to standard
     * output, -1 unknown (xfer_begin.c: a retry goes on after those bytes only while the file
     * has that size); out_size_set once an attempt has set it. */
    bool out_size_set;
    int64_t out_size;
    /* put from standard input: an attempt has read from it, so no later attempt can send the
     * same bytes (a retry would upload a truncated stream as if it were whole). */
    bool src_read;
    /* put of a pipe or a device named as a file (put <(tar c dir) URL, a named FIFO): read
     * once, in order, as standard input is; no size to resume from or check beforehand. */
    bool stream_src;
    /* ... and the SHA-256 of all it read, computed on the way (there is no file to read back
     * for --verify); src_digest once the input was read to its end. */
    bool src_digest;
    uint64_t src_len;
    const char *src_sha256; /* a task's string (ftpc_task_set), "" until then */
    bool finished;
    /* The run was stopped (an interrupt) before this task began: finished with the stop's
     * status, but never tried nor reported on its own, so a summary does not count it among
     * the failures (mirror says how many were not started). */
    bool not_started;
    /* A transfer whose HASH check follows (jobs.c): its line stays up, marked as checking,
     * and ends with the check's outcome in its summary ("..., verified sha256"). */
    bool hold_bar;
    struct ftpc_bar *held_bar;
    /* get over an existing file: the download is complete in its part file and goes in place
     * of local only once its HASH check has passed or could not run (jobs.c), so that a
     * download that fails the check never replaces the file that was there. */
    bool rename_pending;
    /* ... and meanwhile the part file's descriptor plus one (0: none): its lock keeps another
     * ftpc from truncating the file before that rename (partlock.h) */
    int held_part;
    /* put --segments: the upload is complete in its temporary file on the server, and its
     * line waits for the rename into place (segput.c), as rename_pending's does. */
    bool remote_rename_pending;
    /* The check's note for the held line ("verified sha256"), kept while the line waits for
     * that rename: a rename that fails must not follow a summary that reads as success. */
    const char *held_note; /* a task's string (ftpc_task_set), "" for none */
    /* -c: the target was complete before the run, and nothing was sent (mirror counts it
     * as up to date, not as transferred) */
    bool up_to_date;
    /* A refusal (status 5) is for the caller to tell: not said when the task ends. */
    bool quiet_refusal;
    /* A file-system command (fsops.c) failed by the server's reply: its code, 0 otherwise;
     * mirror -R --delete tells a 5xx to DELE of a directory from a 4xx by it. */
    int fs_reply_code;
    bool fs_refused_perm; /* ...and its text, after the path it echoes, says "Permission
                           * denied": a refusal that says nothing of what the entry is */
    /* -c compared the whole file with the source (HASH over RANG) before moving anything
     * (put: the server's file as long as the local one; get: the bytes kept here as long as
     * the server's file), and they matched: the check after it would hash the same bytes
     * again, on both sides, so it is reported from this one (whole_algo). */
    bool whole_checked;
    digest_algo whole_algo;
    ftpc_task_err err;
    uint64_t bytes; /* moved by the successful attempt */
} ftpc_task;

/* A task as new: all zero but its kind, its strings "" until set. Every task starts so, and
 * ends with ftpc_task_release; one moved by struct copy is released in its new place only. */
void ftpc_task_init(ftpc_task *t, ftpc_task_kind kind);

/* Frees what the task owns (its strings, its listing); the rest of it stays as it was. */
void ftpc_task_release(ftpc_task *t);

/* Sets one of t's strings (&t->display, ...) to a copy of s, freeing what it held. Returns
 * the copy, which the caller may change in place within its length, or NULL when out of
 * memory (the string is then as it was). s may point into the string it replaces. */
char *ftpc_task_set(const char **field, const char *s);

/* The task failed with status: its message as ftpc_err_set makes it (cut in its middle past
 * FTPC_ERR_MSG_MAX). */
void ftpc_task_fail(ftpc_task *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* t->err as e says. */
void ftpc_task_set_err(ftpc_task *t, const ftpc_err *e);

/* e as t->err says. */
void ftpc_task_get_err(const ftpc_task *t, ftpc_err *e);

/* Sets t->err.status; success drops the message a failure before it left. */
void ftpc_task_set_status(ftpc_task *t, int status);

/* Adds more to the end of t's message (cut where the whole would pass FTPC_ERR_MSG_MAX). */
void ftpc_task_err_append(ftpc_task *t, const char *more);

/* Sets t->display to u's ftpc_url_display (cut at FTPC_TASK_DISPLAY_MAX). -1: out of memory. */
int ftpc_task_set_display_url(ftpc_task *t, const ftpc_url *u);

/* Empties one of t's strings (frees what it held). */
void ftpc_task_unset(const char **field);

/* Takes the trailing '/'s off one of t's strings, but for a lone "/". */
void ftpc_task_strip_slashes(const char **field);

/* A put whose target is found to be a directory goes into it under name: "/name" is added
 * to t->remote (which the caller knows has room for it below FTPC_URL_PATH_MAX), and to its
 * display where that has room. -1: out of memory; the task is then as it was. */
int ftpc_task_into_dir(ftpc_task *t, const char *name);

/* Called once when an operation ends. reusable: the control connection is idle and may run
 * the next task. */
typedef void (*ftpc_op_done_cb)(void *ud, int status, bool reusable);

/* A put whose source is read once as it comes: standard input ("ftpc put - URL"; a file named
 * "-" is "./-"), or a pipe or device named as a file (stream_src). */
static inline bool ftpc_task_stdin(const ftpc_task *t)
{
    return t->kind == FTPC_T_PUT && (strcmp(t->local, "-") == 0 || t->stream_src);
}

/* Whether the task's file moves in TYPE A: its URL's ;type=, else -a (ascii). */
static inline bool ftpc_task_ascii(const ftpc_task *t, bool ascii)
{
    return t->url_type ? t->url_type == 'a' : ascii;
}

/* The note a failed download's message and the run's resume hint (jobs.c) end with, for
 * the work file it kept (kept: its name). */
static inline void ftpc_task_kept_note(const ftpc_task *t, const char *kept, char *out,
                                       size_t out_size)
{
    snprintf(out, out_size, " (%s kept: %s resumes it)", kept,
             t->by_path ? "mirror -c" : "get -c"); /* a mirror's file: see by_path */
}

/* How messages name a streamed source: "standard input", or the pipe's or device's name. */
static inline const char *ftpc_task_src_name(const ftpc_task *t)
{
    return strcmp(t->local, "-") == 0 ? "standard input" : t->local;
}

/* Whether file names a pipe only by its descriptor (put <(tar c dir) URL: /dev/fd/63), so
 * that it has no name of its own to upload under. */
static inline bool ftpc_path_is_fd_name(const char *file)
{
    return strncmp(file, "/dev/fd/", 8) == 0 || strncmp(file, "/proc/self/fd/", 14) == 0 ||
           strcmp(file, "/dev/stdin") == 0;
}

/* The name a task's bar and messages give its file: see by_path; else the last component of
 * the local file for a put (of the remote one when that is standard input or a pipe known
 * by its descriptor: /dev/fd/N of a regular file keeps "N"), of the remote one otherwise. */
static inline const char *ftpc_task_name(const ftpc_task *t)
{
    if (t->by_path)
        return t->remote + t->name_off;
    bool named = strcmp(t->local, "-") != 0 && !(t->stream_src && ftpc_path_is_fd_name(t->local));
    const char *p = t->kind == FTPC_T_PUT && named ? t->local : t->remote;
    const char *slash = strrchr(p, '/');
    return slash && slash[1] ? slash + 1 : p;
}

/* The name a transfer's bar and summary line give it: ftpc_task_name, and where the copy
 * was given another name ("put f URL/other.bin", "get URL -o other"), where it went too:
 * "f -> other.bin". Written to out (size bytes). */
static inline const char *ftpc_task_label(const ftpc_task *t, char *out, size_t size)
{
    const char *name = ftpc_task_name(t);
    bool put = t->kind == FTPC_T_PUT;
    if (t->by_path || (t->kind != FTPC_T_GET && !put) || strcmp(t->local, "-") == 0 ||
        (put && t->named_in_dir))
        return name;
    const char *dest = put ? t->remote : t->local;
    const char *slash = strrchr(dest, '/');
    if (slash != NULL)
        dest = slash + 1;
    if (dest[0] == '\0' || strcmp(dest, name) == 0)
        return name;
    int n = snprintf(out, size, "%s -> %s", name, dest);
    return n >= 0 && (size_t)n < size ? out : name;
}

#endif
