/* Second chances after the server refuses a transfer, each tried at most once and only where
 * nothing has moved yet: a resumed upload is sent whole, a put whose target is a directory
 * goes into it, and a name an NLST pattern matched that is a directory is skipped. */
#include "xfer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

/* A resumed upload the server refused outright (ftpd, for one, wants the append right for
 * REST+STOR and APPE) can still be sent whole: a later STOR replaces what is there. The
 * upload sends nothing before the server's 1xx, so no byte of it left. */
bool xf_can_upload_whole(const ftpc_xfer *x, int code)
{
    return x->t->kind == FTPC_T_PUT && x->offset > 0 && !x->prelim && code >= 500 &&
           !x->resume_refused;
}

void xf_upload_whole(ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (!x->ctx->opts->quiet) {
        char q[600];
        ftpc_msg(x->ctx,
                 "%s: the server refused to resume after %" PRIu64 " bytes (%s %s): "
                 "uploading it all again",
                 xf_bar_name(x), x->offset, x->verb,
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    }
    /* Nothing was sent: only where the upload starts changes. */
    x->resume_refused = true;
    x->offset = x->pos = x->fpos = 0;
    x->data_errno = 0;
    x->verb = "STOR";
    if (x->bar != NULL)
        ftpc_bar_restart(x->bar, 0);
    xf_open_data(x);
}

/* A server may accept REST and refuse the RETR after it (ProFTPD with AllowRetrieveRestart
 * off answers "451 ...: Restart not permitted, try again"), or refuse it outright with a
 * 5xx: as -c or a retry would meet the same answer every time, the file is fetched from its
 * start, into the part file (a file resumed in place stays until the new one is complete).
 * Only once, and for a 4xx only where the server says it is the restart it refuses, since
 * a passing local error must not cost the bytes kept. */
bool xf_can_get_whole(const ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (x->t->kind != FTPC_T_GET || x->offset == 0 || x->prelim || x->pos != x->offset ||
        x->file_fd < 0 || x->out_fd != x->file_fd || x->resume_refused)
        return false;
    if (m->code >= 500)
        return m->code != 530;
    return m->code == 451 && ftpc_reply_refuses_restart(m->text, x->t->remote);
}

void xf_get_whole(ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (!x->ctx->opts->quiet) {
        char q[600];
        ftpc_msg(x->ctx,
                 "%s: the server refused to resume after %" PRIu64 " bytes (RETR %s): "
                 "downloading it all again",
                 xf_bar_name(x), x->offset, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    }
    x->resume_refused = true;
    x->offset = x->pos = 0;
    x->data_errno = 0;
    if (x->in_place) {
        if (xf_restart_into_part(x) < 0)
            return;
    } else if (ftruncate(x->file_fd, 0) < 0 || lseek(x->file_fd, 0, SEEK_SET) < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "truncating %s: %s", x->part, strerror(errno));
        return;
    }
    if (x->bar != NULL)
        ftpc_bar_restart(x->bar, 0);
    xf_open_data(x);
}

void xf_ask_is_dir(ftpc_xfer *x, const char *path, xstate mlst_state, ftpc_dirprobe_cb cb)
{
    if (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) {
        x->state = mlst_state;
        ftpc_conn_cmd(x->c, "MLST %s", path);
        return;
    }
    x->state = XS_DIRPROBE;
    ftpc_dirprobe_run(&x->probe, x->c, path, cb, x);
}

bool xf_probe_answered(ftpc_xfer *x)
{
    if (x->finished)
        return false;
    ftpc_conn_set_owner(x->c, &xf_owner, x);
    return true;
}

/* "put f ftp://host/incoming" where incoming is a directory: the server refuses the STOR
 * (550 or 553, in words of its own), and cp or scp would have put f into it. MLST tells, or
 * where the server has none (vsftpd) CWD does (dirprobe.h); either is asked only after a
 * refusal, so a plain upload costs no round trip more. */
bool xf_can_check_dir(const ftpc_xfer *x, int code)
{
    const ftpc_task *t = x->t;
    size_t n = strlen(t->remote);
    return t->kind == FTPC_T_PUT && !t->by_path && !t->named_in_dir && !x->prelim && code >= 500 &&
           !x->dir_checked && n > 0 && t->remote[n - 1] != '/' && strcmp(t->local, "-") != 0;
}

static void put_dir_probed(void *ud, ftpc_probe_result r, const ftpc_err *err)
{
    ftpc_xfer *x = ud;
    if (!xf_probe_answered(x))
        return;
    switch (r) {
    case FTPC_PROBE_DIR:
        xf_put_into_dir(x);
        return;
    case FTPC_PROBE_DIR_LOST:
        /* The connection is no longer where the target's path starts from. */
        xf_fail(x, FTPC_EXIT_REMOTE, false,
                "%s is a directory on the server (the server replied %s to STOR)", x->t->remote,
                x->refusal);
        return;
    case FTPC_PROBE_FAILED:
        xf_fail(x, err->status, false, "%s", err->msg);
        return;
    default:
        xf_fail_refused(x);
        return;
    }
}

void xf_check_dir(ftpc_xfer *x, const ftp_reply_msg *m)
{
    x->dir_checked = true;
    x->refusal_code = m->code;
    ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    xf_ask_is_dir(x, x->t->remote, XS_DIRCHECK, put_dir_probed);
}

/* The STOR's refusal kept by xf_check_dir, reported as fail_reply would have, unless it
 * is for a directory that is not there (xfer_nodir.c). */
void xf_fail_refused(ftpc_xfer *x)
{
    if (xf_can_check_parent(x, x->refusal_code)) {
        xf_check_parent(x, NULL);
        return;
    }
    xf_fail(x, ftpc_status_for_reply(x->refusal_code), true, "STOR: the server replied %s",
            x->refusal);
}

/* The target is a directory: the upload goes into it under the source's name. */
void xf_put_into_dir(ftpc_xfer *x)
{
    ftpc_task *t = x->t;
    if (t->stream_src && ftpc_path_is_fd_name(t->local)) { /* put <(cmd) URL: no name */
        xf_fail_refused(x);
        return;
    }
    /* The local file's last component (a streamed one's too: /proc/version goes in as
     * version, as with URL/): it lies in t->local, which the move leaves alone. */
    const char *name = ftpc_task_name(t);
    size_t n = strlen(t->remote);
    if (n + 1 + strlen(name) >= FTPC_URL_PATH_MAX) {
        xf_fail_refused(x);
        return;
    }
    if (!x->ctx->opts->quiet)
        ftpc_msg(x->ctx, "%s: %s is a directory on the server: uploading into it", xf_bar_name(x),
                 t->remote);
    if (ftpc_task_into_dir(t, name) < 0) {
        xf_fail(x, FTPC_EXIT_LOCAL, false, "out of memory");
        return;
    }
    ftpc_bar_rename(x->bar, name); /* it goes under its own name now: no "f -> DIR" */
    x->verb = "STOR";
    xf_after_type(x);
}

/* A name an NLST pattern matched may be a directory, which NLST does not tell from a file
 * (MLSD does, and its directories never get here): a refused SIZE or RETR is checked with CWD
 * (dirprobe.h) before it counts, and a directory is left out as MLSD would have left it. A
 * name given on the command line is checked the same way, so that its failure can say it is
 * a directory and what downloads one, rather than quote the server's refusal of SIZE. */
bool xf_can_probe_dir(const ftpc_xfer *x, int code)
{
    return (x->t->kind == FTPC_T_GET || x->t->kind == FTPC_T_CAT) && !x->prelim && code >= 500 &&
           x->refused_cmd == NULL;
}

static void dir_probed(void *ud, ftpc_probe_result r, const ftpc_err *err)
{
    ftpc_xfer *x = ud;
    if (!xf_probe_answered(x))
        return;
    switch (r) {
    case FTPC_PROBE_NOT_DIR:
    case FTPC_PROBE_UNKNOWN:
        xf_fail(x, ftpc_status_for_reply(x->refusal_code), true, "%s: the server replied %s",
                x->refused_cmd, x->refusal);
        return;
    case FTPC_PROBE_FAILED:
        xf_fail(x, err->status, false, "%s", err->msg);
        return;
    default:
        if (!x->t->nlst_match) {
            xf_fail(x, FTPC_EXIT_REMOTE, r == FTPC_PROBE_DIR, "%s is a directory, not a file (%s)",
                    x->t->remote[0] != '\0' ? x->t->remote : "/",
                    x->ctx->opts->shell_job ? "mirror downloads a tree, mget DIR/* its files"
                    : x->t->kind == FTPC_T_CAT
                        ? "cat URL/* writes its files"
                        : "mirror URL DIR downloads a tree, URL/* its files");
            return;
        }
        x->t->skipped = true;
        if (x->ctx->bars != NULL)
            ftpc_bars_file_skipped(x->ctx->bars);
        xf_finish(x, FTPC_OK, r == FTPC_PROBE_DIR);
        return;
    }
}

void xf_probe_dir(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m)
{
    x->refused_cmd = cmd;
    x->refusal_code = m->code;
    ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    x->state = XS_DIRPROBE;
    ftpc_dirprobe_run(&x->probe, x->c, x->t->remote, dir_probed, x);
}
