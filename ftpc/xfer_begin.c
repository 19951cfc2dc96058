/* Where a transfer begins, once SIZE has said what the server has: for a download the place
 * written (standard output, a captured listing, a device, the part file or, with -c, the file
 * itself) and the offset it resumes from; for an upload the offset; with -c, first the check
 * that the bytes kept are the source's. */
#include "xfer_int.h"
#include "mdtm.h"
#include "partlock.h"
#include "progress.h"
#include "readonly.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A download to standard output has a bar only when that is not a terminal (run.c). */
static void start_bar(ftpc_xfer *x, int64_t total)
{
    /* Bytes move after all: the check after them is the one that counts. */
    x->t->whole_checked = false;
    if (x->bar != NULL) { /* the same file going again (into a directory, say) */
        ftpc_bar_restart(x->bar, x->offset);
        return;
    }
    if (x->ctx->bars != NULL && (x->t->kind == FTPC_T_GET || x->t->kind == FTPC_T_PUT) &&
        (x->out_fd != STDOUT_FILENO || isatty(STDOUT_FILENO) != 1)) {
        char label[2 * FTPC_URL_PATH_MAX + 8];
        x->bar = ftpc_bar_start(x->ctx->bars, ftpc_task_label(x->t, label, sizeof(label)), total,
                                x->offset);
    }
    if (!xf_is_download(x)) /* the bytes count once they reached the server */
        ftpc_bar_unsent(x->bar, xf_unsent, x);
}

static int open_local(ftpc_xfer *x, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0666);
    if (fd < 0)
        xf_fail(x, FTPC_EXIT_LOCAL, false, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

static void setup_splice(ftpc_xfer *x)
{
    int p[2];
    if (getenv("FTPC_NO_SPLICE") != NULL || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return;
    /* A larger pipe means fewer system calls per megabyte; the default 64 KiB still works. */
    fcntl(p[1], F_SETPIPE_SZ, XFER_BUF_SIZE);
    x->pipe_r = p[0];
    x->pipe_w = p[1];
    x->use_splice = true;
}

static void prefix_checked(void *ud, const ftpc_vresult *r)
{
    ftpc_xfer *x = ud;
    ftpc_rcheck_free(x->prefix);
    x->prefix = NULL;
    if (x->finished)
        return;
    ftpc_conn_set_owner(x->c, &xf_owner, x);
    switch (r->state) {
    case FTPC_V_VERIFIED:
        x->date_checked = true; /* the bytes themselves are the server's: no need for dates */
        /* The range compared was the whole file on both sides (the server's file as long as
         * ours for a put, the bytes kept here as long as the server's for a get): nothing
         * moves, and the check after it would hash the same bytes again. */
        if (x->remote_size >= 0 &&
            (uint64_t)x->remote_size == (x->t->kind == FTPC_T_PUT ? x->local_size : x->offset)) {
            x->t->whole_checked = true;
            x->t->whole_algo = r->algo;
        }
        break;
    case FTPC_V_MISMATCH:
        x->prefix_differs = true;
        x->date_checked = true; /* starting over anyway: MDTM would only say so again */
        if (x->ctx->opts->quiet)
            break;
        if (x->t->kind == FTPC_T_PUT)
            ftpc_msg(x->ctx,
                     "%s: the %" PRId64 " bytes already on the server differ from the start "
                     "of %s: uploading it all again",
                     xf_bar_name(x), x->remote_size, x->t->local);
        else
            ftpc_msg(x->ctx,
                     "%s: the %" PRIu64 " bytes already in %s differ from the server's: "
                     "downloading it all again",
                     xf_bar_name(x), x->offset, x->in_place ? x->t->local : x->part);
        break;
    case FTPC_V_ERROR:
        xf_fail(x, r->err.status, r->conn_ok, "checking the bytes to resume after: %s", r->err.msg);
        return;
    default: /* the server cannot hash byte ranges: resume unchecked, as other clients do */
        break;
    }
    xf_after_size(x);
}

/* -c keeps the first len bytes of a file that was there before this run (local for a get,
 * the server's for a put), but the file may have changed on either side since: where the
 * server hashes byte ranges (HASH over RANG), they are compared with the source first, and a
 * difference starts the transfer over instead of ending in a file that fails verification.
 * A download's retry resumes unchecked after bytes the run wrote itself (task.h); an
 * upload's is checked all the same, since a server that keeps the previous version of a file
 * whose upload was cut (ftpd does) reports that version's size. Returns true when the check
 * runs; the transfer goes on from xf_after_size once it is done. */
static bool check_prefix(ftpc_xfer *x, const char *local, uint64_t len)
{
    const ftpc_opts *o = x->ctx->opts;
    const ftpc_task *t = x->t;
    bool wanted = t->kind == FTPC_T_PUT ? o->resume || t->own_prefix : o->resume && !t->own_prefix;
    if (!wanted || x->prefix_checked || len == 0 || !o->verify || x->ascii)
        return false;
    x->prefix_checked = true;
    x->prefix = ftpc_rcheck_new(x->ctx, x->t, local, 0, len);
    if (x->prefix == NULL)
        return false;
    x->state = XS_PREFIX;
    ftpc_rcheck_run(x->prefix, x->c, prefix_checked, x);
    return true;
}

/* Where the server cannot hash byte ranges (vsftpd, pure-ftpd, ProFTPD without mod_digest,
 * pyftpdlib), and on a retry, which resumes without that check, the download would splice
 * the bytes kept from one version of the file to the rest of another, of the same size or
 * larger (a server restarted after the cut may serve another version), and no size check
 * afterwards could tell. MDTM still tells a file that changed after the kept bytes were
 * last written: it is then downloaded again whole. A server clock ahead of ours may cost a
 * needless new download of a file changed just before the cut; one behind it may miss such
 * a change, as no check at all would. Returns true when MDTM is under way; the transfer goes
 * on from xf_mdtm_answered. */
static bool check_date(ftpc_xfer *x, const char *local, uint64_t len)
{
    const ftpc_opts *o = x->ctx->opts;
    struct stat st;
    if (!(o->resume || x->t->own_prefix) || x->date_checked || len == 0 || !o->verify || x->ascii ||
        !(ftpc_conn_features(x->c) & FTPC_FEAT_MDTM) || stat(local, &st) < 0)
        return false;
    x->date_checked = true;
    x->kept_mtime = (int64_t)st.st_mtime;
    x->state = XS_MDTM;
    ftpc_conn_cmd(x->c, "MDTM %s", x->t->remote);
    return true;
}

void xf_mdtm_answered(ftpc_xfer *x, const ftp_reply_msg *m)
{
    /* A refused MDTM leaves the bytes trusted, as before there was a check. */
    int64_t changed = m->code == 213 ? ftpc_parse_mdtm_reply(m->text) : -1;
    if (changed > x->kept_mtime) {
        x->prefix_differs = true;
        if (!x->ctx->opts->quiet)
            ftpc_msg(x->ctx,
                     "%s: the server's file changed (MDTM) after the %" PRIu64
                     " bytes in %s were written: downloading it all again",
                     xf_bar_name(x), x->offset, x->in_place ? x->t->local : x->part);
    }
    xf_after_size(x);
}

/* The file the download could not open for writing, said as the user sees it: named as the
 * user gave it, since the part file beside it is ftpc's business, unless that would be
 * false: the part file's name is a directory's, or the target is there (and may be
 * writable itself) but its directory does not let the part file be made. */
static void fail_open(ftpc_xfer *x, const char *path, int err)
{
    const char *target = x->t->local;
    struct stat st;
    if (path == x->part && err == EISDIR) {
        xf_fail(x, FTPC_EXIT_LOCAL, false,
                "cannot write %s: %s, where the download goes first, is a directory", target,
                x->part);
    } else if (path == x->part && err == ELOOP) {
        xf_fail(x, FTPC_EXIT_LOCAL, false,
                "cannot write %s: %s, where the download goes first, is a symbolic link, "
                "which ftpc does not follow (remove it)",
                target, x->part);
    } else if (path == x->part && (err == EACCES || err == EPERM) && lstat(target, &st) == 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false,
                "cannot write %s: the part file a download goes into before it replaces "
                "the file, %s, cannot be created there: %s (ftpc get -o - URL > %s writes "
                "in place)",
                target, x->part, strerror(err), target);
    } else {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "cannot write %s: %s", target, strerror(err));
    }
}

/* Opens path for the download under its lock (partlock.h), truncated when truncate. Asked to
 * read it back too (O_RDWR), one it may only write is opened so, and marked unreadable. */
static int open_locked(ftpc_xfer *x, const char *path, int flags, bool truncate, int *fd)
{
    ftpc_partlock_rc rc = ftpc_partlock_open(path, flags, truncate, fd, NULL);
    if (rc == FTPC_PARTLOCK_OPEN && errno == EACCES && (flags & O_ACCMODE) == O_RDWR) {
        rc = ftpc_partlock_open(path, (flags & ~O_ACCMODE) | O_WRONLY, truncate, fd, NULL);
        x->unreadable = true;
    }
    switch (rc) {
    case FTPC_PARTLOCK_OK:
        x->t->part_busy = false;
        return 0;
    case FTPC_PARTLOCK_BUSY:
        x->t->part_busy = true;
        xf_fail(x, FTPC_EXIT_LOCAL, true, "%s: another transfer is writing %s", xf_bar_name(x),
                path);
        return -1;
    case FTPC_PARTLOCK_TRUNCATE:
        xf_fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s", path, strerror(errno));
        return -1;
    default:
        fail_open(x, path, errno);
        return -1;
    }
}

int xf_restart_into_part(ftpc_xfer *x)
{
    close(x->file_fd); /* and its lock */
    x->file_fd = x->out_fd = -1;
    x->in_place = false;
    x->have_part = true;
    int fd = -1;
    if (open_locked(x, x->part, O_WRONLY | O_NOFOLLOW, true, &fd) < 0)
        return -1;
    x->file_fd = x->out_fd = fd;
    x->part_ours = true;
    return 0;
}

/* A retry to standard output goes on after bytes an earlier attempt of this run wrote
 * there, unchecked as a part file's are (check_prefix): they came from the server moments
 * before. But they cannot be read back, nor taken back, and where the file has changed on
 * the server since (a new version of another size) the rest would be spliced onto the old
 * bytes: that fails instead (status 8; no retry would do better). -c itself resumes nothing
 * there: standard output holds nothing of an earlier run that ftpc could see, so the first
 * attempt writes the file from its first byte. */
static bool stdout_file_changed(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (!t->out_size_set || t->out_written == 0) { /* the attempt that begins the output */
        t->out_size_set = true;
        t->out_size = x->remote_size;
        return false;
    }
    if (t->out_size < 0 || x->remote_size < 0 || x->remote_size == t->out_size)
        return false;
    xf_fail(x, FTPC_EXIT_VERIFY, true,
            "the file changed on the server between attempts (SIZE %" PRId64 ", was %" PRId64
            "): the %" PRIu64 " bytes already written to standard output are of the earlier "
            "version, and the rest of this one is not added to them",
            x->remote_size, t->out_size, t->out_written);
    return true;
}

/* Download: choose where to write and from which offset, then open the data connection. */
void xf_begin_get(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (t->kind != FTPC_T_GET || strcmp(t->local, "-") == 0) {
        x->out_fd = STDOUT_FILENO;
        /* A retry continues after what the earlier attempts already wrote: the bytes on
         * standard output cannot be taken back. */
        if (t->kind != FTPC_T_LS) {
            x->offset = x->pos = t->out_written;
            if (stdout_file_changed(x))
                return;
        }
        x->crlf = t->kind == FTPC_T_LS || x->ascii;
        x->shield = t->kind == FTPC_T_LS && !t->capture && isatty(STDOUT_FILENO);
        x->dotless = t->kind == FTPC_T_LS && !t->capture && !t->long_list;
        x->verb = t->kind == FTPC_T_LS ? (t->long_list ? "LIST" : "NLST") : "RETR";
        xf_selfline_start(x);
        if (t->capture) {
            /* Every attempt lists afresh. */
            x->out_fd = -1;
            t->listing_len = 0;
            t->listing_mlsd = !t->capture_lines && (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0;
            if (t->listing_mlsd)
                x->verb = "MLSD";
        }
        if (!t->capture)
            xf_out_open(x);
        if (xf_cwdlist_to_try(x)) {
            xf_cwdlist_try(x);
            return;
        }
        start_bar(x, x->remote_size);
        xf_open_data(x);
        return;
    }
    x->verb = "RETR";
    if (ftpc_part_name(t->local, x->part, sizeof(x->part)) < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "local file name too long");
        return;
    }
    /* A retry resumes after what an earlier attempt wrote; -c resumes the first attempt too.
     * Not in TYPE A: offsets in the converted stream are not offsets in the file. */
    bool resume = (x->ctx->opts->resume || t->own_prefix) && !x->ascii;
    x->crlf = x->ascii;
    struct stat st;
    x->offset = 0;
    if (x->ascii && ((lstat(x->part, &st) == 0 && S_ISREG(st.st_mode)) ||
                     (lstat(t->local, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)))
        xf_note_ascii_whole(x);
    if (stat(t->local, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* A device or a FIFO (-o /dev/null): written directly, no part file, no resume. */
        x->file_fd = open_local(x, t->local, O_WRONLY);
        if (x->file_fd < 0)
            return;
        x->out_fd = x->file_fd;
        start_bar(x, x->remote_size);
        xf_open_data(x);
        return;
    }
    if (resume && lstat(x->part, &st) == 0 && S_ISREG(st.st_mode)) {
        x->have_part = true;
        x->offset = (uint64_t)st.st_size;
    } else if (resume && x->ctx->opts->resume && lstat(t->local, &st) == 0 && S_ISREG(st.st_mode)) {
        /* Not through a symbolic link: a link in the destination's place is replaced by the
         * download, with -c as without it, and the file it points to is left alone. */
        x->in_place = true;
        x->offset = (uint64_t)st.st_size;
    } else {
        x->have_part = true;
    }
    if (x->remote_size >= 0 && x->offset > (uint64_t)x->remote_size) {
        /* Larger than the remote file: not a prefix of it, so start over. */
        if (!x->ctx->opts->quiet && t->attempts == 1)
            ftpc_msg(x->ctx,
                     "%s: the %" PRIu64 " bytes already in %s are more than the server's %" PRId64
                     ": downloading it all again",
                     xf_bar_name(x), x->offset, x->in_place ? t->local : x->part, x->remote_size);
        x->offset = 0;
    } else if (check_prefix(x, x->in_place ? t->local : x->part, x->offset)) {
        return;
    } else if (check_date(x, x->in_place ? t->local : x->part, x->offset)) {
        return;
    } else if (x->prefix_differs) {
        x->offset = 0;
    }
    if (x->in_place && x->offset == 0) {
        /* Starting over into a part file: the local file stays as it was until the new one
         * is complete. */
        x->in_place = false;
        x->have_part = true;
    }
    bool complete = x->remote_size >= 0 && x->offset == (uint64_t)x->remote_size && x->offset > 0;
    if (t->protected_dest && !(x->in_place && complete)) {
        /* -c over a write-protected file (jobs.c) that would be written: refused as get
         * refuses it without -c, before a byte is fetched. */
        char why[160] = "it is write-protected";
        (void)ftpc_write_protected(t->local, why, sizeof(why));
        xf_fail(x, FTPC_EXIT_LOCAL, true, "not replacing %s: %s (-f replaces it)", t->local, why);
        return;
    }
    if (x->in_place && complete) {
        /* -c over a file that is complete already: nothing to fetch, and nothing to open for
         * writing either (a write-protected file is left as it is). mirror counts such files
         * as up to date itself. */
        if (!x->ctx->opts->quiet && !t->by_path)
            ftpc_msg(x->ctx, "%s: already complete (%" PRIu64 " bytes); nothing to download",
                     xf_bar_name(x), x->offset);
        t->up_to_date = !t->own_prefix; /* not an earlier attempt's of this run */
        t->own_prefix = true;
        x->pos = x->offset;
        ftpc_bars_file_present(x->ctx->bars, x->offset);
        x->data_eof = x->ctrl_done = true;
        xf_maybe_complete(x);
        return;
    }
    const char *path = x->in_place ? t->local : x->part;
    /* Truncated only once it is ours: another ftpc (or another task of this one) fetching
     * the same file into the same place holds the lock, and its bytes stay as they are. */
    /* The part file is ftpc's own: a symbolic link in its place (planted in a shared
     * directory) must not have ftpc truncate and write the file it points to, nor be
     * renamed into place. */
    int nofollow = path == x->part ? O_NOFOLLOW : 0;
    /* Read back too: a resume compares the bytes before its offset (xfer_recv.c). */
    if (open_locked(x, path, O_RDWR | nofollow, x->offset == 0, &x->file_fd) < 0)
        return;
    x->out_fd = x->file_fd;
    setup_splice(x);
    if (lseek(x->file_fd, (off_t)x->offset, SEEK_SET) < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "seeking in %s: %s", path, strerror(errno));
        return;
    }
    x->pos = x->offset;
    bool kept_from_before = !t->own_prefix; /* not an earlier attempt's of this run */
    t->own_prefix = true;
    x->part_ours = x->have_part;
    if (x->remote_size >= 0 && x->offset == (uint64_t)x->remote_size && x->offset > 0 &&
        (x->in_place || t->whole_checked || x->unreadable)) {
        /* Already complete: nothing to fetch. A part file as long as the server's file is
         * not, unless HASH said so: a complete download is renamed into place, so it is what
         * a download that failed left (the server sent more than SIZE announced, say). Its
         * last bytes are fetched again below and compared, as a resume's are. */
        t->up_to_date = kept_from_before;
        ftpc_bars_file_present(x->ctx->bars, x->offset);
        x->data_eof = x->ctrl_done = true;
        xf_maybe_complete(x);
        return;
    }
    start_bar(x, x->remote_size);
    xf_open_data(x);
}

void xf_begin_put(ftpc_xfer *x)
{
    if (x->remote_size > 0 && (uint64_t)x->remote_size <= x->local_size &&
        check_prefix(x, x->t->local, (uint64_t)x->remote_size))
        return;
    if (x->prefix_differs)
        x->remote_size = 0; /* not a prefix of ours: upload it all */
    if (x->remote_size >= 0 && (uint64_t)x->remote_size == x->local_size && x->local_size > 0) {
        x->t->up_to_date = !x->t->own_prefix; /* not an earlier attempt's of this run */
        /* No transfer, so no summary line: say why, or a file -c left alone goes unmentioned. */
        if (x->t->up_to_date && !x->ctx->opts->quiet) {
            char size[24];
            ftpc_msg(x->ctx, "%s: already on the server (%s), nothing sent", xf_bar_name(x),
                     progress_size_str(x->local_size, size, sizeof(size)));
        }
        x->offset = x->pos = x->local_size;
        ftpc_bars_file_present(x->ctx->bars, x->local_size);
        x->data_eof = x->ctrl_done = true;
        xf_maybe_complete(x);
        return;
    }
    if (x->remote_size > 0 && (uint64_t)x->remote_size < x->local_size)
        x->offset = (uint64_t)x->remote_size;
    else
        x->offset = 0;
    /* Longer than the source: not a prefix of it, so the upload replaces it. */
    if (x->remote_size > 0 && (uint64_t)x->remote_size > x->local_size && x->ctx->opts->resume &&
        !x->ctx->opts->quiet && x->t->attempts == 1)
        ftpc_msg(x->ctx,
                 "%s: the %" PRId64 " bytes already on the server are more than %s's %" PRIu64
                 ": uploading it all again",
                 xf_bar_name(x), x->remote_size, x->t->local, x->local_size);
    x->pos = x->offset;
    x->t->own_prefix = true;
    x->verb = "STOR";
    start_bar(x, x->stream_src ? x->src_total : (int64_t)x->local_size);
    xf_open_data(x);
}

void xf_note_ascii_whole(ftpc_xfer *x)
{
    const ftpc_opts *o = x->ctx->opts;
    if (!o->resume || !x->ascii || o->quiet || x->t->attempts != 1)
        return;
    ftpc_msg(x->ctx,
             "%s: not resumed in ASCII mode (TYPE A): an offset in the converted bytes is not one "
             "in the file: %s it whole",
             xf_bar_name(x), x->t->kind == FTPC_T_PUT ? "uploading" : "downloading");
}

void xf_after_size(ftpc_xfer *x)
{
    if (x->t->kind == FTPC_T_PUT)
        xf_begin_put(x);
    else
        xf_begin_get(x);
}
