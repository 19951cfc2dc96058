/* Remote file-system commands: a state per awaited reply. */
#include "fsops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dirprobe.h"

typedef enum {
    FS_WAIT_CONN,
    FS_PARENT, /* mkdir -p: MKD of a parent, result ignored */
    FS_CMD,    /* DELE, MKD, RMD, SITE CHMOD */
    FS_CHECK,  /* mkdir -p: MLST after MKD failed: is it a directory already? */
    FS_PWD,    /* the same check without MLST: PWD, CWD path, CWD back */
    FS_CWD,
    FS_CWD_BACK,
    FS_RNFR,
    FS_RNTO,
    FS_DONE,
} fs_state;

struct ftpc_fsop {
    ftpc_ctx *ctx;
    ftpc_task *t;
    ftpc_conn *c;
    ftpc_op_done_cb done;
    void *done_ud;
    fs_state state;
    size_t parent_end;           /* mkdir -p: end of the parent prefix last created */
    char cwd[FTPC_URL_PATH_MAX]; /* the directory PWD named, to go back to */
    ftpc_defer defer;
    bool finished;
};

static const char *action(const ftpc_task *t)
{
    switch (t->kind) {
    case FTPC_T_RM:
        return "removing";
    case FTPC_T_MKDIR:
        return "creating directory";
    case FTPC_T_RMDIR:
        return "removing directory";
    case FTPC_T_CHMOD:
        return "setting the mode of";
    default:
        return "renaming";
    }
}

static void finish(ftpc_fsop *op, int status, bool reusable)
{
    if (op->finished)
        return;
    op->finished = true;
    op->state = FS_DONE;
    ftpc_task_set_status(op->t, status);
    reusable = reusable && op->c != NULL && ftpc_conn_is_ready(op->c);
    op->c = NULL;
    op->done(op->done_ud, status, reusable);
}

/* Whether a reply's own words, after the path it may echo ("550 PATH: Permission denied."),
 * say the refusal is for want of permission. */
static bool says_no_permission(const char *text)
{
    const char *said = text;
    for (const char *colon = strstr(text, ": "); colon != NULL; colon = strstr(colon + 2, ": "))
        said = colon;
    return strcasestr(said, "permission denied") != NULL;
}

static void fail_reply(ftpc_fsop *op, const char *cmd, const ftp_reply_msg *m)
{
    char q[600];
    op->t->fs_reply_code = m->code;
    op->t->fs_refused_perm = says_no_permission(m->text);
    ftpc_task_fail(op->t, ftpc_status_for_reply(m->code), "%s %s: %s: the server replied %s",
                   action(op->t), op->t->display, cmd,
                   ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    finish(op, op->t->err.status, true);
}

static void send_or_fail(ftpc_fsop *op, fs_state next, const char *verb, const char *arg)
{
    op->state = next;
    if (ftpc_conn_send(op->c, "%s %s", verb, arg) < 0) {
        ftpc_task_fail(op->t, FTPC_EXIT_XFER, "%s %s: cannot send %s", action(op->t),
                       op->t->display, verb);
        finish(op, FTPC_EXIT_XFER, false);
    }
}

/* mkdir -p: the next parent prefix of the path, or false when only the path itself is left. */
static bool next_parent(ftpc_fsop *op, char *out, size_t out_size)
{
    const char *p = op->t->remote;
    size_t len = strlen(p);
    size_t i = op->parent_end;
    while (i < len && p[i] == '/')
        i++;
    const char *slash = memchr(p + i, '/', len - i);
    if (slash == NULL)
        return false;
    size_t end = (size_t)(slash - p);
    /* A trailing slash ("a/b/") leaves nothing after it: "a/b" is the path itself. */
    size_t k = end;
    while (k < len && p[k] == '/')
        k++;
    if (k >= len)
        return false;
    op->parent_end = end;
    snprintf(out, out_size, "%.*s", (int)end, p);
    return true;
}

static void mkdir_step(ftpc_fsop *op)
{
    char parent[FTPC_URL_PATH_MAX];
    if (op->t->parents && next_parent(op, parent, sizeof(parent))) {
        send_or_fail(op, FS_PARENT, "MKD", parent);
        return;
    }
    send_or_fail(op, FS_CMD, "MKD", op->t->remote);
}

static void conn_ready(ftpc_conn *c, void *ud)
{
    ftpc_fsop *op = ud;
    if (op->state != FS_WAIT_CONN)
        return;
    switch (op->t->kind) {
    case FTPC_T_RM:
        send_or_fail(op, FS_CMD, "DELE", op->t->remote);
        return;
    case FTPC_T_MKDIR:
        mkdir_step(op);
        return;
    case FTPC_T_RMDIR:
        send_or_fail(op, FS_CMD, "RMD", op->t->remote);
        return;
    case FTPC_T_MV:
        send_or_fail(op, FS_RNFR, "RNFR", op->t->remote);
        return;
    case FTPC_T_CHMOD:
        if (op->t->ep->site_chmod < 0) {
            finish(op, FTPC_OK, true); /* refused before: see chmod_refused */
            return;
        }
        op->state = FS_CMD;
        if (ftpc_conn_send(c, "SITE CHMOD %03o %s", op->t->mode & 0777u, op->t->remote) < 0) {
            ftpc_task_fail(op->t, FTPC_EXIT_XFER, "%s %s: cannot send SITE CHMOD", action(op->t),
                           op->t->display);
            finish(op, FTPC_EXIT_XFER, false);
        }
        return;
    default:
        ftpc_task_fail(op->t, FTPC_EXIT_USAGE, "internal error: not a file-system task");
        finish(op, FTPC_EXIT_USAGE, true);
        return;
    }
}

bool ftpc_mlst_is_dir(const char *text)
{
    /* "250-Listing x\n type=dir;...; x\n250 End": look for the type fact. */
    const char *p = text;
    while ((p = strstr(p, "type=")) != NULL) {
        if (p == text || p[-1] == ' ' || p[-1] == ';' || p[-1] == '\n') {
            const char *v = p + 5;
            if (strncasecmp(v, "dir;", 4) == 0 || strncasecmp(v, "cdir;", 5) == 0 ||
                strncasecmp(v, "pdir;", 5) == 0)
                return true;
        }
        p += 5;
    }
    return false;
}

int ftpc_mlst_perm_lists(const char *text)
{
    const char *p = text;
    while ((p = strcasestr(p, "perm=")) != NULL) {
        if (p == text || p[-1] == ' ' || p[-1] == ';' || p[-1] == '\n') {
            size_t n = strcspn(p + 5, "; \r\n");
            return memchr(p + 5, 'l', n) != NULL || memchr(p + 5, 'L', n) != NULL;
        }
        p += 5;
    }
    return -1;
}

/* A server without SITE CHMOD (or that keeps it from this user) refuses it for every file
 * alike: a refusal of the first one on the endpoint is said once, as the server's answer, and
 * the rest are not sent. Once one was taken, a refusal is that file's. Returns true when the
 * reply was taken so. */
static bool chmod_refused(ftpc_fsop *op, const ftp_reply_msg *m)
{
    ftpc_endpoint *ep = op->t->ep;
    if (op->t->kind != FTPC_T_CHMOD || m->code < 500 || ep->site_chmod > 0)
        return false;
    if (ep->site_chmod == 0) {
        char q[600], where[300];
        ftpc_msg(op->ctx,
                 "ftpc: %s refused SITE CHMOD (it replied %s): permission bits are not set "
                 "there",
                 ftpc_endpoint_str(ep, where, sizeof(where)),
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    }
    ep->site_chmod = -1;
    finish(op, FTPC_OK, true);
    return true;
}

static void conn_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_fsop *op = ud;
    int code = m->code;
    if (code < 200)
        return;
    switch (op->state) {
    case FS_PARENT:
        mkdir_step(op);
        return;
    case FS_CMD:
        if (code >= 200 && code < 300) {
            if (op->t->kind == FTPC_T_CHMOD)
                op->t->ep->site_chmod = 1;
            finish(op, FTPC_OK, true);
            return;
        }
        if (chmod_refused(op, m))
            return;
        if (op->t->kind == FTPC_T_MKDIR && op->t->parents && code == 550) {
            /* Maybe it exists already, which -p accepts. */
            char q[600];
            ftpc_quote_reply(code, m->text, q, sizeof(q));
            ftpc_task_fail(op->t, FTPC_EXIT_REMOTE, "%s %s: MKD: the server replied %s",
                           action(op->t), op->t->display, q);
            if (ftpc_conn_features(c) & FTPC_FEAT_MLST) {
                send_or_fail(op, FS_CHECK, "MLST", op->t->remote);
            } else {
                op->state = FS_PWD;
                if (ftpc_conn_send(c, "PWD") < 0)
                    finish(op, FTPC_EXIT_XFER, false);
            }
            return;
        }
        fail_reply(op,
                   op->t->kind == FTPC_T_RM      ? "DELE"
                   : op->t->kind == FTPC_T_MKDIR ? "MKD"
                   : op->t->kind == FTPC_T_CHMOD ? "SITE CHMOD"
                                                 : "RMD",
                   m);
        return;
    case FS_CHECK:
        if (code >= 200 && code < 300 && ftpc_mlst_is_dir(m->text)) {
            finish(op, FTPC_OK, true);
            return;
        }
        /* Report the MKD failure recorded before the check. */
        finish(op, FTPC_EXIT_REMOTE, true);
        return;
    case FS_PWD:
        if (code != 257 || !ftpc_parse_pwd(m->text, op->cwd, sizeof(op->cwd))) {
            finish(op, FTPC_EXIT_REMOTE, true);
            return;
        }
        send_or_fail(op, FS_CWD, "CWD", op->t->remote);
        return;
    case FS_CWD:
        if (code < 200 || code >= 300) {
            finish(op, FTPC_EXIT_REMOTE, true); /* not a directory: the MKD failure stands */
            return;
        }
        /* It is a directory: success, once the connection is back where it was. */
        ftpc_task_set_status(op->t, FTPC_OK);
        send_or_fail(op, FS_CWD_BACK, "CWD", op->cwd);
        return;
    case FS_CWD_BACK:
        /* Elsewhere now: the connection must not run further tasks. */
        finish(op, FTPC_OK, code >= 200 && code < 300);
        return;
    case FS_RNFR:
        if (code != 350) {
            fail_reply(op, "RNFR", m);
            return;
        }
        send_or_fail(op, FS_RNTO, "RNTO", op->t->arg);
        return;
    case FS_RNTO:
        if (code >= 200 && code < 300) {
            finish(op, FTPC_OK, true);
            return;
        }
        fail_reply(op, "RNTO", m);
        return;
    default:
        return;
    }
}

static void conn_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_fsop *op = ud;
    ftpc_task_fail(op->t, err->status, "%s %s: %s", action(op->t), op->t->display, err->msg);
    finish(op, err->status, false);
}

static const ftpc_conn_owner fsop_owner = {
    .ready = conn_ready,
    .reply = conn_reply,
    .failed = conn_failed,
};

ftpc_fsop *ftpc_fsop_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud)
{
    ftpc_fsop *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->ctx = ctx;
    op->t = t;
    op->done = done;
    op->done_ud = ud;
    op->state = FS_WAIT_CONN;
    return op;
}

void ftpc_fsop_start(ftpc_fsop *op, ftpc_conn *c)
{
    op->c = c;
    ftpc_conn_set_owner(c, &fsop_owner, op);
}

static void fsop_release(void *p)
{
    free(p);
}

void ftpc_fsop_free(ftpc_fsop *op)
{
    if (op == NULL || op->defer.queued)
        return;
    op->finished = true;
    ftpc_ctx_defer(op->ctx, &op->defer, fsop_release, op);
}
