/* A put whose target's directory is not on the server: ftpd refuses the STOR with "550
 * /new/f: No such file or directory", vsftpd with "553 Could not create file.", as it would
 * for any other reason. After the refusal (never before it: an upload that works costs no
 * round trip more) MLST of the directory, or where the server has none CWD into it
 * (dirprobe.h), says whether it is there. When it is not, the failure says so and how to go
 * on, and marks the task (t->nodir) for the runner, which tells it once for every file for
 * that directory and sends none of the others (nodir.h). */
#include "xfer_int.h"

#include <stdio.h>
#include <string.h>

#include "fsops.h"
#include "nodir.h"

bool xf_can_check_parent(const ftpc_xfer *x, int code)
{
    const ftpc_task *t = x->t;
    return t->kind == FTPC_T_PUT && !t->by_path && !x->prelim && code >= 500 &&
           !x->parent_checked && ftpc_nodir_dir_len(t) > 0;
}

/* The directory's URL for the hint's command line, "scheme://user@host:port/" as the
 * display has it and then the directory's path %-encoded where a byte would not read back
 * as itself: a space the shell splits at, a ' that ends the hint's quotes, a % or a ;type=
 * that ftpc's URL parser takes as its own, a shell's $ or *. UTF-8 stays as it is. A display
 * that does not end with the path (it shows a control byte as ?) is taken as it is. */
static void hint_url(const ftpc_task *t, size_t dir_len, char *out, size_t out_size)
{
    size_t dl = strlen(t->display), rl = strlen(t->remote);
    size_t pre = dl - rl;
    if (rl >= dl || strcmp(t->display + pre, t->remote) != 0 || t->display[pre - 1] != '/') {
        const char *slash = strrchr(t->display, '/');
        size_t n = slash != NULL ? (size_t)(slash - t->display) + 1 : dl;
        snprintf(out, out_size, "%.*s", (int)n, t->display);
        return;
    }
    size_t pos = (size_t)snprintf(out, out_size, "%.*s", (int)pre, t->display);
    for (size_t i = 0; i < dir_len && pos + 4 < out_size; i++) {
        unsigned char c = (unsigned char)t->remote[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c >= 0x80 || strchr("-._~/:@=+,", c) != NULL)
            out[pos++] = (char)c;
        else
            pos += (size_t)snprintf(out + pos, out_size - pos, "%%%02X", c);
    }
    if (pos + 1 < out_size)
        out[pos++] = '/';
    out[pos < out_size ? pos : out_size - 1] = '\0';
}

/* The directory is not there (missing: nothing by its name; else something that is not a
 * directory). reusable: the connection is where it was. */
static void fail_nodir(ftpc_xfer *x, bool missing, bool reusable)
{
    ftpc_task *t = x->t;
    int n = (int)ftpc_nodir_dir_len(t);
    t->nodir = true;
    if (!missing) {
        xf_fail(x, FTPC_EXIT_REMOTE, reusable,
                "%.*s is not a directory on the server (STOR: the server replied %s)", n, t->remote,
                x->refusal);
        return;
    }
    if (x->ctx->opts->shell_job) { /* the URL is not what the shell's mkdir takes */
        xf_fail(x, FTPC_EXIT_REMOTE, reusable,
                "no such directory on the server: %.*s (STOR: the server replied %s); create it "
                "with mkdir -p, or upload with put --create-dirs",
                n, t->remote, x->refusal);
        return;
    }
    char url[3 * FTPC_URL_PATH_MAX + 400];
    hint_url(t, (size_t)n, url, sizeof(url));
    xf_fail(x, FTPC_EXIT_REMOTE, reusable,
            "no such directory on the server: %.*s (STOR: the server replied %s); create it "
            "with 'ftpc mkdir -p %s', or upload with put --create-dirs",
            n, t->remote, x->refusal, url);
}

static void parent_probed(void *ud, ftpc_probe_result r, const ftpc_err *err)
{
    ftpc_xfer *x = ud;
    if (!xf_probe_answered(x))
        return;
    switch (r) {
    case FTPC_PROBE_NOT_DIR:
        fail_nodir(x, true, true);
        return;
    case FTPC_PROBE_FAILED:
        xf_fail(x, err->status, false, "%s", err->msg);
        return;
    case FTPC_PROBE_DIR_LOST:
        xf_fail(x, ftpc_status_for_reply(x->refusal_code), false, "STOR: the server replied %s",
                x->refusal);
        return;
    case FTPC_PROBE_UNKNOWN: /* no CWD for this account: the refusal as it came */
    default:
        xf_fail_refused(x); /* the directory is there: the refusal is for something else */
        return;
    }
}

void xf_check_parent(ftpc_xfer *x, const ftp_reply_msg *m)
{
    ftpc_task *t = x->t;
    x->parent_checked = true;
    if (m != NULL) {
        x->refusal_code = m->code;
        ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    }
    char dir[FTPC_URL_PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", (int)ftpc_nodir_dir_len(t), t->remote);
    xf_ask_is_dir(x, dir, XS_PARENT, parent_probed);
}

void xf_parent_mlst(ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (m->code >= 200 && m->code < 300 && ftpc_mlst_is_dir(m->text))
        xf_fail_refused(x);
    else if (m->code >= 200 && m->code < 300)
        fail_nodir(x, false, true);
    else if (m->code >= 500)
        fail_nodir(x, true, true);
    else
        xf_fail_refused(x);
}
