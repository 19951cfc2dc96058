/* The transfer state machine. The state says which reply is awaited; the streaming phase is
 * two flags (the final reply arrived, the data connection finished) because servers and
 * kernels deliver them in either order.
 *
 * The data path is layered: the data connection is a stream (plain or TLS, dchan.h); under
 * MODE Z a deflate codec sits between it and the file (mz.h); under TYPE A the line ends are
 * converted (ascii.h). sendfile and splice are used where the stream offers them and no layer
 * needs to see the bytes. x->pos counts file bytes (what the bar shows and SIZE compares),
 * x->wire the bytes on the data connection.
 *
 * This file holds the commands and their replies, the result and the transfer's life; the
 * other xfer*.c files, listed in xfer_int.h, hold where it begins, the second chances after
 * a refusal, and the data connection's bytes each way. */
#include "xfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "fsops.h"
#include "mdtm.h"
#include "partlock.h"
#include "partname.h"

void ftpc_task_end_bar(ftpc_task *t, struct ftpc_bar *bar)
{
    if (t->hold_bar) { /* its check follows: the line ends with the outcome */
        ftpc_bar_checking(bar);
        t->held_bar = bar;
    } else {
        ftpc_bar_done(bar, true);
    }
}

/* Bytes of a long name kept in a work file's name; the digest after them tells apart names
 * that share their start. */
#define PART_NAME_KEEP 200

/* ".NAME" + suffix beside path, or ".START~DIGEST" + suffix when a name of that form, with
 * the longest suffix derived from it (longest bytes), would pass NAME_MAX. */
static int work_name(const char *path, const char *suffix, size_t longest, char *out,
                     size_t out_size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    size_t blen = strlen(base);
    int n;
    if (1 + blen + longest <= NAME_MAX) {
        n = snprintf(out, out_size, "%.*s.%s%s", dir_len, path, base, suffix);
    } else {
        /* The start of the name (cut between UTF-8 characters) and a digest of all of it, the
         * same on every run so -c finds it. */
        size_t keep = PART_NAME_KEEP;
        while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
            keep--;
        char hex[DIGEST_HEX_MAX];
        digest d;
        if (digest_init(&d, DIGEST_SHA256) < 0)
            return -1;
        if (digest_update(&d, base, blen) < 0 || digest_final_hex(&d, hex) < 0) {
            digest_free(&d);
            return -1;
        }
        n = snprintf(out, out_size, "%.*s.%.*s~%.16s%s", dir_len, path, (int)keep, base, hex,
                     suffix);
    }
    return n > 0 && (size_t)n < out_size ? 0 : -1;
}

int ftpc_part_name(const char *path, char *out, size_t out_size)
{
    /* Every work file's name (partname.h) follows from the part file's, so the longest of
     * them decides: a segmented download's ".NAME.ftpc-seg.state.new". */
    return work_name(path, FTPC_PART_SUFFIX,
                     strlen(FTPC_SEG_SUFFIX FTPC_SEG_STATE_EXT FTPC_SEG_STATE_TMP_EXT), out,
                     out_size);
}

int ftpc_up_name(const char *remote, char *out, size_t out_size)
{
    return work_name(remote, FTPC_UP_SUFFIX, strlen(FTPC_UP_SUFFIX), out, out_size);
}

static const char *action(const ftpc_xfer *x)
{
    switch (x->t->kind) {
    case FTPC_T_GET:
        return "downloading";
    case FTPC_T_PUT:
        return "uploading";
    case FTPC_T_LS:
        return "listing";
    default:
        return "reading";
    }
}

void xf_close_data(ftpc_xfer *x)
{
    ftpc_dchan_close(&x->dc);
    ev_timer_stop(x->ctx->loop, &x->rate_timer);
    ev_timer_stop(x->ctx->loop, &x->kick);
    ev_timer_stop(x->ctx->loop, &x->tail_timer);
    ev_timer_stop(x->ctx->loop, &x->reply_wait);
    x->paused = false;
}

void xf_close_pipe(ftpc_xfer *x)
{
    if (x->pipe_r >= 0)
        close(x->pipe_r);
    if (x->pipe_w >= 0)
        close(x->pipe_w);
    x->pipe_r = x->pipe_w = -1;
    x->use_splice = false;
}

static void release(ftpc_xfer *x)
{
    if (x->prefix != NULL) {
        ftpc_rcheck_free(x->prefix);
        x->prefix = NULL;
    }
    xf_reset_upload_data(x);
    xf_close_data(x);
    xf_stdin_release(x);
    xf_out_release(x);
    xf_close_pipe(x);
    if (x->c != NULL)
        ftpc_conn_close_data(x->c);
    if (x->file_fd >= 0) {
        /* A part file that never got a byte keeps nothing worth resuming; removed under its
         * lock (partlock.h). */
        if (x->part_ours && x->pos == 0)
            (void)unlink(x->part);
        close(x->file_fd);
        x->file_fd = -1;
    }
    if (x->bar != NULL) {
        ftpc_bar_done(x->bar, false);
        x->bar = NULL;
    }
    if (x->zinit) {
        mz_end(&x->z);
        x->zinit = false;
    }
}

/* Ends the transfer: stores the result in the task and tells the runner. Nothing touches x
 * after done() (the runner may free it). */
void xf_finish(ftpc_xfer *x, int status, bool reusable)
{
    if (x->finished)
        return;
    x->finished = true;
    x->state = XS_DONE;
    if (status == FTPC_OK && x->t->kind == FTPC_T_PUT && !x->stream_src && x->file_fd >= 0)
        x->kept_src = fcntl(x->file_fd, F_DUPFD_CLOEXEC, 3);
    release(x);
    ftpc_task_set_status(x->t, status);
    reusable = reusable && !x->astray && x->c != NULL && ftpc_conn_is_ready(x->c);
    x->c = NULL;
    x->done(x->done_ud, status, reusable);
}

__attribute__((format(printf, 4, 5))) void xf_fail(ftpc_xfer *x, int status, bool reusable,
                                                   const char *fmt, ...)
{
    char what[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ftpc_task_fail(x->t, status, "%s %s: %s", action(x), x->t->display, what);
    xf_finish(x, status, reusable);
}

/* vsftpd answers a listing of a directory it cannot open (missing or unreadable) with
 * "226 Transfer done (but failed to open directory)." and no entries: a success in form only. */
static bool listing_failed_in_2xx(const ftpc_xfer *x, const ftp_reply_msg *m)
{
    return x->t->kind == FTPC_T_LS && x->pos == 0 &&
           strcasestr(m->text, "failed to open directory") != NULL;
}

/* pure-ftpd lists at most 10000 names by default (its -L) and says so only in the final
 * reply, "226 Output truncated to 10000 matches": a listing complete in form only, which a
 * mirror --delete must not take for the directory's contents. */
static bool listing_cut_short(const ftpc_xfer *x, const ftp_reply_msg *m)
{
    return x->t->kind == FTPC_T_LS && strcasestr(m->text, "truncated") != NULL;
}

static void fail_reply(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m)
{
    char q[600];
    char extra[460] = "";
    if (x->data_errno != 0)
        snprintf(extra, sizeof(extra), " (data connection: %s)", x->data_why);
    xf_fail(x, ftpc_status_for_reply(m->code), true, "%s: the server replied %s%s", cmd,
            ftpc_quote_reply(m->code, m->text, q, sizeof(q)), extra);
}

/* What a failed download leaves behind, for its message: named, since a part file is hidden
 * and holds the space, and said as the runner's resume hint says it (jobs.c). */
const char *xf_kept_note(ftpc_xfer *x)
{
    x->kept_note[0] = '\0';
    if (x->in_place)
        snprintf(x->kept_note, sizeof(x->kept_note), " (%s keeps what arrived)", x->t->local);
    else if (x->have_part && x->pos > 0)
        ftpc_task_kept_note(x->t, x->part, x->kept_note, sizeof(x->kept_note));
    return x->kept_note;
}

static void succeed(ftpc_xfer *x)
{
    x->t->bytes = x->pos - x->offset;
    if (x->bar != NULL) {
        ftpc_bar_update(x->bar, x->pos);
        if (x->zon)
            ftpc_bar_wire(x->bar, x->wire);
        ftpc_task_end_bar(x->t, x->bar);
        x->bar = NULL;
    }
    xf_finish(x, FTPC_OK, true);
}

/* ---- the command sequence ---- */

static void send_transfer_cmd(ftpc_xfer *x)
{
    const ftpc_task *t = x->t;
    int rc;
    bool listing = t->kind == FTPC_T_LS;
    if ((t->remote[0] == '\0' || x->cwdl_here) && listing)
        rc = ftpc_conn_send(x->c, "%s", x->verb);
    else if (t->remote[0] == '-' && (strcmp(x->verb, "LIST") == 0 || strcmp(x->verb, "NLST") == 0))
        /* Servers (vsftpd, ftpd, pure-ftpd) read a LIST or NLST argument that starts with -
         * as ls options and list the current directory instead: a mirror then walks into
         * -dir/-dir/... for ever. */
        rc = ftpc_conn_send(x->c, "%s ./%s", x->verb, t->remote);
    else
        rc = ftpc_conn_send(x->c, "%s %s", x->verb, t->remote);
    if (rc < 0) {
        xf_fail(x, FTPC_EXIT_XFER, false, "cannot send %s", x->verb);
        return;
    }
    x->state = XS_CMD;
    x->announced = -1;
    x->end_unproven = false;
    int fd = ftpc_conn_take_data(x->c);
    if (fd >= 0)
        xf_attach_data(x, fd);
}

/* Sets up the layers this transfer needs (MODE Z, TYPE A conversion). Returns 0, or -1 after
 * failing the transfer. */
static int setup_layers(ftpc_xfer *x)
{
    x->zon = ftpc_conn_mode_z(x->c);
    if (x->zon && !x->zinit) {
        if (mz_init(&x->z, xf_is_download(x) ? MZ_INFLATE : MZ_DEFLATE, MZ_LEVEL_DEFAULT) < 0) {
            xf_fail(x, FTPC_EXIT_LOCAL, false, "MODE Z: %s", mz_error(&x->z));
            return -1;
        }
        /* -z applies to every file of a put or a mirror, archives and images too: data that
         * does not compress goes in stored blocks rather than through deflate's search (a
         * 200 MiB random file went at 24 MiB/s, against 570 without -z). */
        if (!xf_is_download(x))
            mz_adapt(&x->z);
        x->zinit = true;
    }
    /* zbuf: the codec's output, and an upload's wire bytes when they cannot go by
     * sendfile (TLS). */
    bool need_z = x->zon || x->ascii || !xf_is_download(x);
    if (need_z && x->zbuf == NULL)
        x->zbuf = malloc(XFER_ZBUF_SIZE);
    if ((x->crlf || x->ascii) && x->abuf == NULL)
        x->abuf = malloc(2 * (size_t)XFER_BUF_SIZE + 1);
    if ((need_z && x->zbuf == NULL) || ((x->crlf || x->ascii) && x->abuf == NULL)) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "out of memory");
        return -1;
    }
    return 0;
}

void xf_open_data(ftpc_xfer *x)
{
    if (setup_layers(x) < 0)
        return;
    x->state = XS_OPEN_DATA;
    ftpc_conn_open_data(x->c);
}

static void conn_ready(ftpc_conn *c, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->state != XS_WAIT_CONN)
        return;
    ftpc_task *t = x->t;
    /* Files move in the type asked for now (the shell may switch between transfers);
     * listings in whatever type is in force. */
    if (t->kind == FTPC_T_GET || t->kind == FTPC_T_PUT || t->kind == FTPC_T_CAT) {
        x->ascii = ftpc_task_ascii(t, x->ctx->opts->ascii);
        char want = x->ascii ? 'A' : 'I';
        if (ftpc_conn_type(c) != want) {
            x->state = XS_TYPE;
            ftpc_conn_cmd(c, "TYPE %c", want);
            return;
        }
    }
    xf_after_type(x);
}

void xf_after_type(ftpc_xfer *x)
{
    ftpc_conn *c = x->c;
    ftpc_task *t = x->t;
    unsigned feat = ftpc_conn_features(c);
    bool size_ok = (feat & FTPC_FEAT_SIZE) || !(feat & FTPC_FEAT_ANSWERED);
    x->remote_size = -1;
    if (t->kind == FTPC_T_PUT) {
        struct stat st;
        if (x->file_fd < 0) {
            xf_finish(x, FTPC_EXIT_LOCAL, true); /* the message was set by ftpc_xfer_start */
            return;
        }
        if (ftpc_task_stdin(t)) { /* no SIZE: nothing to resume (cli.c refuses -c) */
            xf_begin_stdin(x);
            return;
        }
        if (fstat(x->file_fd, &st) < 0) {
            xf_fail(x, FTPC_EXIT_LOCAL, false, "%s: %s", t->local, strerror(errno));
            return;
        }
        if (S_ISDIR(st.st_mode)) {
            xf_fail(x, FTPC_EXIT_LOCAL, true, "%s is a directory, not a file (%s uploads a tree)",
                    t->local, x->ctx->opts->shell_job ? "mirror -R" : "mirror -R DIR URL");
            return;
        }
        if (!S_ISREG(st.st_mode)) {
            xf_fail(x, FTPC_EXIT_LOCAL, true, "%s is not a regular file", t->local);
            return;
        }
        x->local_size = (uint64_t)st.st_size;
        x->use_sendfile = true;
        bool resume = (x->ctx->opts->resume || t->own_prefix) && !x->ascii;
        if (x->ascii)
            xf_note_ascii_whole(x); /* SIZE would not tell where to go on */
        if (resume && size_ok) {
            x->state = XS_SIZE;
            ftpc_conn_cmd(c, "SIZE %s", t->remote);
            return;
        }
        xf_begin_put(x);
        return;
    }
    /* The download would land in a part file and fail only at its rename: refuse now. */
    struct stat lst;
    if (t->kind == FTPC_T_GET && strcmp(t->local, "-") != 0 && stat(t->local, &lst) == 0 &&
        S_ISDIR(lst.st_mode)) {
        xf_fail(x, FTPC_EXIT_LOCAL, true, "%s is a directory", t->local);
        return;
    }
    /* SIZE counts the file's bytes, which TYPE A changes on the way. */
    if ((t->kind == FTPC_T_GET || t->kind == FTPC_T_CAT) && size_ok && !x->ascii) {
        x->state = XS_SIZE;
        ftpc_conn_cmd(c, "SIZE %s", t->remote);
        return;
    }
    xf_begin_get(x);
}

/* An upload is complete and checked: its time is set when the task asks for it. A server
 * that refuses only leaves the time of the upload, which mirror -R also reads correctly. */
static void put_complete(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (t->keep_mtime && x->state != XS_MFMT && (ftpc_conn_features(x->c) & FTPC_FEAT_MFMT)) {
        char stamp[32];
        if (ftpc_format_mdtm(t->mtime, stamp, sizeof(stamp)) == 0) {
            x->state = XS_MFMT;
            ftpc_conn_cmd(x->c, "MFMT %s %s", stamp, t->remote);
            return;
        }
    }
    succeed(x);
}

void xf_maybe_complete(ftpc_xfer *x)
{
    if (!x->data_eof || !x->ctrl_done || x->finished || xf_out_pending(x))
        return;
    if (xf_fail_unproven_end(x))
        return;
    if (xf_cwdlist_to_return(x)) {
        xf_cwdlist_return(x);
        return;
    }
    if (xf_selfline_to_check(x)) {
        xf_check_selfline(x);
        return;
    }
    if (xf_empty_listing_to_check(x)) {
        xf_check_empty_listing(x);
        return;
    }
    ftpc_task *t = x->t;
    if (t->kind == FTPC_T_PUT) {
        unsigned feat = ftpc_conn_features(x->c);
        if ((feat & FTPC_FEAT_SIZE) && x->pos > x->offset && !x->ascii) {
            x->state = XS_VERIFY;
            ftpc_conn_cmd(x->c, "SIZE %s", t->remote);
            return;
        }
        put_complete(x);
        return;
    }
    if (x->remote_size >= 0 && x->pos != (uint64_t)x->remote_size && t->kind != FTPC_T_LS) {
        xf_fail(x, FTPC_EXIT_VERIFY, true,
                "size mismatch: received %" PRIu64 " bytes of %" PRId64 "%s", x->pos,
                x->remote_size, xf_kept_note(x));
        return;
    }
    if (x->file_fd >= 0) {
        if (ftpc_partlock_flush(x->file_fd) < 0) {
            int e = errno;
            close(x->file_fd);
            x->file_fd = -1;
            xf_fail(x, FTPC_EXIT_LOCAL, false, "writing %s: %s", x->have_part ? x->part : t->local,
                    strerror(e));
            return;
        }
        /* A download that would replace a file and whose HASH check follows waits for the
         * check in the part file (jobs.c). */
        struct stat old;
        t->rename_pending = x->have_part && stat(t->local, &old) == 0 && S_ISREG(old.st_mode);
        if (t->rename_pending && !ftpc_verify_wanted(x->ctx, t))
            t->rename_pending = false;
        /* at the rename: a part file left by a failed check stays writable for -c */
        int prior =
            x->have_part && !t->rename_pending ? ftpc_xfer_keep_mode(x->file_fd, t->local) : -1;
        /* renamed under its lock (partlock.h), released after */
        int rc = x->have_part && !t->rename_pending ? rename(x->part, t->local) : 0;
        int e = errno;
        if (rc < 0)
            ftpc_xfer_undo_mode(x->file_fd, prior);
        if (t->rename_pending)
            ftpc_task_hold_part(t, x->file_fd);
        else
            close(x->file_fd);
        x->file_fd = -1;
        if (rc < 0) {
            xf_fail(x, FTPC_EXIT_LOCAL, true, "renaming %s to %s: %s", x->part, t->local,
                    strerror(e));
            return;
        }
    }
    succeed(x);
}

static void send_rest_or_transfer(ftpc_xfer *x);

static void conn_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_xfer *x = ud;
    ftpc_task *t = x->t;
    int code = m->code;
    switch (x->state) {
    case XS_TYPE:
        if (code < 200)
            return;
        if (code != 200) {
            fail_reply(x, x->ascii ? "TYPE A" : "TYPE I", m);
            return;
        }
        xf_after_type(x);
        return;
    case XS_SIZE:
        if (code < 200)
            return;
        if (code == 213) {
            x->remote_size = ftpc_parse_size_reply(m->text);
        } else if (code == 550 && t->kind != FTPC_T_PUT) {
            /* No such file (or not a plain file): RETR would say the same. */
            if (xf_can_probe_dir(x, code))
                xf_probe_dir(x, "SIZE", m);
            else
                fail_reply(x, "SIZE", m);
            return;
        } else {
            x->remote_size = t->kind == FTPC_T_PUT && code == 550 ? 0 : -1;
            if (t->kind == FTPC_T_PUT && code == 550 && t->target == FTPC_TARGET_UNKNOWN)
                t->target = FTPC_TARGET_NEW; /* nothing under the name to replace */
        }
        xf_after_size(x);
        return;
    case XS_MDTM:
        if (code >= 200)
            xf_mdtm_answered(x, m);
        return;
    case XS_ALLO:
        /* Only a help to the server: a refusal (or any other answer) changes nothing. */
        if (code >= 200)
            send_rest_or_transfer(x);
        return;
    case XS_REST:
        if (code < 200)
            return;
        if (code != 350) {
            if (x->out_fd == STDOUT_FILENO) {
                fail_reply(x, "REST (to continue standard output)", m);
                return;
            }
            if (t->kind == FTPC_T_PUT) {
                /* No REST for STOR here: APPE appends at the remote end, which is where the
                 * upload resumes (SIZE said so). */
                x->verb = "APPE";
            } else {
                /* Cannot resume: fetch it all again (into the part file: a file that was
                 * being resumed in place stays until the new one is complete). */
                x->offset = x->pos = 0;
                ftpc_overlap_begin(&x->ovl, 0);
                if (x->in_place) {
                    if (xf_restart_into_part(x) < 0)
                        return;
                } else if (ftruncate(x->file_fd, 0) < 0 || lseek(x->file_fd, 0, SEEK_SET) < 0) {
                    xf_fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s",
                            x->in_place ? t->local : x->part, strerror(errno));
                    return;
                }
                if (x->bar != NULL)
                    ftpc_bar_restart(x->bar, 0);
            }
        }
        send_transfer_cmd(x);
        return;
    case XS_CMD:
        if (code < 200) {
            x->prelim = true;
            xf_note_announced(x, m);
            if (!xf_is_download(x))
                xf_data_run(x);
            return;
        }
        if (code >= 300) {
            xf_close_data(x);
            ftpc_conn_close_data(c);
            if (xf_can_upload_whole(x, code)) {
                xf_upload_whole(x, m);
                return;
            }
            if (xf_can_get_whole(x, m)) {
                xf_get_whole(x, m);
                return;
            }
            if (xf_can_check_dir(x, code)) {
                xf_check_dir(x, m);
                return;
            }
            if (xf_can_check_parent(x, code)) {
                xf_check_parent(x, m);
                return;
            }
            if (xf_can_probe_dir(x, code)) {
                xf_probe_dir(x, x->verb, m);
                return;
            }
            if (xf_can_ask_ls_entry(x, code)) {
                xf_ask_ls_entry(x, m);
                return;
            }
            fail_reply(x, x->verb, m);
            return;
        }
        if (x->data_errno != 0) {
            xf_fail(x, FTPC_EXIT_XFER, true, "data connection: %s", x->data_why);
            return;
        }
        if (listing_failed_in_2xx(x, m)) {
            char q[600];
            xf_close_data(x);
            ftpc_conn_close_data(c);
            xf_fail(x, FTPC_EXIT_REMOTE, true,
                    "%s: no such directory, or not readable (the server replied %s)", x->verb,
                    ftpc_quote_reply(code, m->text, q, sizeof(q)));
            return;
        }
        if (listing_cut_short(x, m)) {
            char q[600];
            x->t->listing_truncated = true;
            ftpc_msg(x->ctx,
                     "ftpc: listing %s: the server cut it short (it replied %s); the names past "
                     "that point are missing",
                     x->t->display, ftpc_quote_reply(code, m->text, q, sizeof(q)));
        }
        if (x->t->kind == FTPC_T_LS)
            ftpc_quote_reply(code, m->text, x->refusal, sizeof(x->refusal));
        x->ctrl_done = true;
        if (xf_is_download(x) && !x->data_eof) {
            x->last_data_ms = ev_now(x->ctx->loop);
            ev_timer_start(x->ctx->loop, &x->tail_timer, x->ctx->opts->timeout_ms);
        }
        if (!xf_is_download(x) && x->closing && !x->data_eof) {
            /* All sent and our end is out: the server's word is enough. */
            xf_close_data(x);
            x->data_eof = true;
        }
        if (!xf_is_download(x) && !x->data_eof) {
            /* 226 before everything was sent: the server stopped reading. */
            xf_fail(x, FTPC_EXIT_XFER, true, "%s: the server ended the transfer early", x->verb);
            return;
        }
        xf_maybe_complete(x);
        return;
    case XS_DIRCHECK:
        if (code < 200)
            return;
        if (code < 300 && ftpc_mlst_is_dir(m->text))
            xf_put_into_dir(x);
        else
            xf_fail_refused(x);
        return;
    case XS_PARENT:
        if (code >= 200)
            xf_parent_mlst(x, m);
        return;
    case XS_SELFCHECK:
        if (code >= 200)
            xf_selfline_reply(x, m);
        return;
    case XS_LISTPERM:
        if (code >= 200)
            xf_empty_listing_perm(x, m);
        return;
    case XS_LSENTRY:
        if (code >= 200)
            xf_ls_entry_reply(x, m);
        return;
    case XS_CWDL_PWD:
    case XS_CWDL_CWD:
    case XS_CWDL_BACK:
        if (code >= 200)
            xf_cwdlist_reply(x, m);
        return;
    case XS_VERIFY:
        if (code < 200)
            return;
        if (code == 213) {
            int64_t n = ftpc_parse_size_reply(m->text);
            if (n >= 0 && (uint64_t)n != x->local_size) {
                xf_fail(x, FTPC_EXIT_VERIFY, true,
                        "size mismatch: the server has %" PRId64 " bytes, %s has %" PRIu64, n,
                        xf_src_name(x), x->local_size);
                return;
            }
        }
        put_complete(x);
        return;
    case XS_MFMT:
        if (code >= 200)
            succeed(x);
        return;
    default:
        xf_fail(x, FTPC_EXIT_XFER, false, "unexpected reply %03d", code);
        return;
    }
}

/* REST when the transfer starts at an offset, else the transfer command itself. */
static void send_rest_or_transfer(ftpc_xfer *x)
{
    if (x->offset > 0) {
        x->state = XS_REST;
        ftpc_conn_cmd(x->c, "REST %" PRIu64, x->offset - x->ovl.len);
        return;
    }
    send_transfer_cmd(x);
}

/* A put of a regular file in TYPE I and stream mode announces the bytes it will send with
 * ALLO: a server that counts them (ftpd) can take the data connection's end after exactly
 * those for the end of a whole file, and one cut short for a cut upload, at once. Standard
 * input's length is not known, TYPE A's bytes on the wire are not the file's, and MODE Z
 * has an end of its own. Only on a short round trip (conn.h, FTPC_ALLO_MAX_RTT_US). */
static bool wants_allo(const ftpc_xfer *x)
{
    long rtt = ftpc_conn_rtt_us(x->c);
    return x->t->kind == FTPC_T_PUT && !x->stream_src && !x->ascii && !ftpc_conn_mode_z(x->c) &&
           x->file_fd >= 0 && x->local_size >= x->offset && rtt >= 0 && rtt < FTPC_ALLO_MAX_RTT_US;
}

static void conn_data_prepared(ftpc_conn *c, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->state != XS_OPEN_DATA)
        return;
    /* A download resumed into a file asks for the bytes before the offset again, to compare
     * with those kept (xfer_recv.c); standard output cannot be read back. */
    bool into_file = xf_is_download(x) && x->file_fd >= 0 && x->out_fd == x->file_fd;
    ftpc_overlap_begin(&x->ovl, into_file && !x->unreadable ? x->offset : 0);
    if (wants_allo(x)) {
        x->state = XS_ALLO;
        ftpc_conn_cmd(c, "ALLO %" PRIu64, x->local_size - x->offset);
        return;
    }
    send_rest_or_transfer(x);
}

static void conn_data_open(ftpc_conn *c, int fd, void *ud)
{
    ftpc_xfer *x = ud;
    if (x->finished || ftpc_dchan_is_open(&x->dc) || x->state != XS_CMD) {
        close(fd);
        return;
    }
    xf_attach_data(x, fd);
}

/* The server said 226 and then hung up (its idle timeout ran while standard output's reader
 * was behind): every byte is in ftpc's queue or on its way in the data connection, and the
 * download ends once they are out, without the control connection. A listing too, unless it
 * still has a question to ask once its bytes are out (of a held line, of an empty listing),
 * which would wait for ever. One listed from inside its directory has no connection left to
 * go back on (conn_failed). */
static bool outlives_control(const ftpc_xfer *x)
{
    if (!x->ctrl_done || !xf_out_pending(x))
        return false;
    switch (x->t->kind) {
    case FTPC_T_GET:
    case FTPC_T_CAT:
        return true;
    case FTPC_T_LS:
        return !xf_selfline_to_check(x) && !xf_empty_listing_to_check(x);
    default:
        return false;
    }
}

static void conn_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_xfer *x = ud;
    int status = err->status;
    /* A server that sends its last bytes and hangs up: on a busy machine the control
     * connection's end can be seen first. What already arrived is kept for get -c. */
    for (int i = 0; i < 64 && xf_is_download(x) && ftpc_dchan_is_open(&x->dc) && x->dc.hs_done &&
                    !x->paused && !x->finished;
         i++) {
        uint64_t before = x->pos;
        xf_receive(x);
        if (x->pos == before)
            break;
    }
    if (x->finished)
        return;
    if (outlives_control(x)) {
        x->cwdl_returned = true; /* astray stays: the connection is not used again */
        return;
    }
    /* All of a listing from inside is out, and the server hung up on its way back (a 421 of
     * its idle timeout crossing the CWD): as a refused CWD back, the listing stands and the
     * connection goes, unless a question to the server is left. */
    if (x->state == XS_CWDL_BACK && !xf_selfline_to_check(x) && !xf_empty_listing_to_check(x)) {
        x->cwdl_returned = true;
        x->astray = true;
        xf_maybe_complete(x);
        return;
    }
    /* A connection lost mid-transfer is an interrupted transfer whatever the phase. */
    if (x->state >= XS_OPEN_DATA && status == FTPC_EXIT_CONNECT)
        status = FTPC_EXIT_XFER;
    /* The server began the transfer and left its data connection's TLS handshake hanging:
     * the timeout is the same, only the message names what it waited for. */
    if (ftpc_conn_timed_out(c) &&
        ftpc_dchan_hs_stalled(&x->dc, x->prelim || x->ctx->opts->active)) {
        char why[96];
        xf_fail(x, status, false, "%s%s",
                ftpc_dchan_hs_timeout_msg(x->ctx->opts->timeout_ms, why, sizeof(why)),
                x->in_place ? xf_kept_note(x) : "");
        return;
    }
    xf_fail(x, status, false, "%s", err->msg);
}

const ftpc_conn_owner xf_owner = {
    .ready = conn_ready,
    .reply = conn_reply,
    .data_prepared = conn_data_prepared,
    .data_open = conn_data_open,
    .failed = conn_failed,
};

ftpc_xfer *ftpc_xfer_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud)
{
    ftpc_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->iobuf = malloc(XFER_BUF_SIZE);
    if (x->iobuf == NULL) {
        free(x);
        return NULL;
    }
    x->ctx = ctx;
    x->t = t;
    x->done = done;
    x->done_ud = ud;
    x->file_fd = -1;
    x->kept_src = -1;
    x->out_fd = -1;
    ftpc_dchan_init(&x->dc, ctx->loop);
    x->pipe_r = x->pipe_w = -1;
    x->remote_size = -1;
    x->announced = -1;
    x->state = XS_WAIT_CONN;
    ftpc_rl_init(&x->rl, ctx->opts->limit_rate, ev_now(ctx->loop));
    ev_timer_init(&x->rate_timer, xf_rate_cb, x);
    ev_timer_init(&x->kick, xf_kick_cb, x);
    ev_timer_init(&x->tail_timer, xf_tail_cb, x);
    ev_timer_init(&x->reply_wait, xf_reply_wait_cb, x);
    xf_stdin_init(x);
    xf_out_init(x);
    return x;
}

/* A pipe or device named as a file. /dev/fd/N (a shell's <(command)) and /dev/stdin are this
 * process's own descriptors: a copy of N reads the pipe itself, where opening the name again
 * would wait for a writer that may be gone already. Anything else (a named FIFO) is opened
 * without waiting for a writer, then read as standard input is: polled before each read, so
 * its end is the writer's close. */
static int open_stream(const char *path)
{
    const char *num = NULL;
    if (strcmp(path, "/dev/stdin") == 0)
        num = "0";
    else if (strncmp(path, "/dev/fd/", 8) == 0)
        num = path + 8;
    else if (strncmp(path, "/proc/self/fd/", 14) == 0)
        num = path + 14;
    if (num != NULL && num[0] >= '0' && num[0] <= '9' && strspn(num, "0123456789") == strlen(num) &&
        strlen(num) < 9)
        return fcntl(atoi(num), F_DUPFD_CLOEXEC, 3);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    return fd;
}

void ftpc_xfer_start(ftpc_xfer *x, ftpc_conn *c)
{
    x->c = c;
    if (x->t->kind == FTPC_T_PUT && x->t->stream_src) {
        x->file_fd = open_stream(x->t->local);
        if (x->file_fd < 0)
            ftpc_task_fail(x->t, FTPC_EXIT_LOCAL, "uploading %s: cannot open %s: %s", x->t->display,
                           x->t->local, strerror(errno));
    } else if (ftpc_task_stdin(x->t)) {
        /* A copy, so that the end of the transfer closes ours and not the process's. */
        x->file_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        if (x->file_fd < 0)
            ftpc_task_fail(x->t, FTPC_EXIT_LOCAL, "uploading %s: standard input: %s", x->t->display,
                           strerror(errno));
    } else if (x->t->kind == FTPC_T_PUT) {
        x->file_fd = open(x->t->local, O_RDONLY | O_CLOEXEC);
        if (x->file_fd < 0) {
            /* Reported from the loop, like every other result. */
            if (errno == ENOENT && x->t->unmatched_pattern)
                ftpc_task_fail(x->t, FTPC_EXIT_LOCAL, "uploading %s: no local file matches %s",
                               x->t->display, x->t->local);
            else
                ftpc_task_fail(x->t, FTPC_EXIT_LOCAL, "uploading %s: cannot open %s: %s",
                               x->t->display, x->t->local, strerror(errno));
        }
    }
    ftpc_conn_set_owner(c, &xf_owner, x);
}

static void xfer_release(void *p)
{
    ftpc_xfer *x = p;
    if (x->kept_src >= 0)
        close(x->kept_src);
    free(x->iobuf);
    free(x->zbuf);
    free(x->abuf);
    free(x);
}

int ftpc_xfer_take_source(ftpc_xfer *x)
{
    if (x == NULL)
        return -1;
    int fd = x->kept_src;
    x->kept_src = -1;
    return fd;
}

void ftpc_xfer_free(ftpc_xfer *x)
{
    if (x == NULL || x->defer.queued)
        return;
    x->finished = true;
    release(x);
    ftpc_ctx_defer(x->ctx, &x->defer, xfer_release, x);
}
