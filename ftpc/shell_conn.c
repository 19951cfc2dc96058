/* The shell's control connection: one logged-in connection kept for cd, pwd, ls, quote and
 * the file commands, so their state (the remote directory) lives on the server. Commands
 * wait for their reply by running the loop; Ctrl-C gives up on the connection, and a lost
 * connection is opened again on the next command, going back to the remote directory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsops.h"
#include "shell_int.h"
#include "xfer.h"

static void print_reply(const ftp_reply_msg *m)
{
    /* As the server sent it: "CODE-first", the middle lines, "CODE last". */
    const char *line = m->text;
    bool multi = strchr(line, '\n') != NULL;
    bool first = true;
    while (line != NULL) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (first)
            printf("%03d%c%.*s\n", m->code, multi ? '-' : ' ', len, line);
        else if (end == NULL)
            printf("%03d %.*s\n", m->code, len, line);
        else
            printf("%.*s\n", len, line);
        first = false;
        line = end ? end + 1 : NULL;
    }
    fflush(stdout);
}

static void own_ready(ftpc_conn *c, void *ud)
{
    (void)c;
    (void)ud; /* readiness is asked with ftpc_conn_is_ready */
}

static void own_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    shell *sh = ud;
    if (c != sh->conn)
        return;
    if (sh->echo_replies)
        print_reply(m);
    if (m->code >= 200) {
        sh->reply = *m;
        sh->reply_done = true;
    }
}

static void own_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    shell *sh = ud;
    if (c != sh->conn)
        return;
    sh->conn_err = *err;
    sh->conn_failed = true;
}

static const ftpc_conn_owner sh_owner = {
    .ready = own_ready, .reply = own_reply, .failed = own_failed};

static void forget_conn(shell *sh)
{
    if (sh->conn != NULL)
        ftpc_conn_free(sh->conn);
    sh->conn = NULL;
    sh->conn_failed = false;
}

/* The failure of the connection, printed; the connection is forgotten. */
static int conn_lost(shell *sh)
{
    ftpc_err e = sh->conn_err;
    forget_conn(sh);
    return sh_fail(sh, e.status ? e.status : FTPC_EXIT_XFER, "%s", e.msg);
}

static int interrupted(shell *sh)
{
    ftpc_sh_intr = 0;
    forget_conn(sh);
    return sh_fail(sh, FTPC_EXIT_XFER, "interrupted");
}

void sh_conn_reap(shell *sh)
{
    if (sh->conn != NULL && sh->conn_failed) {
        /* Died while idle (the server's idle timeout): quietly open again when needed. */
        if (sh->opts.verbose)
            sh_notify(sh, sh->conn_err.msg);
        forget_conn(sh);
    }
}

/* raw_cmd's result when the connection closed before the reply: not yet printed. */
#define CLOSED_UNANSWERED (-1)

static int raw_cmd_once(shell *sh, ftp_reply_msg *out, const char *line)
{
    sh->reply_done = false;
    if (ftpc_conn_send(sh->conn, "%s", line) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "cannot send this command (too long?)");
    while (!sh->reply_done) {
        if (sh->conn_failed)
            return CLOSED_UNANSWERED;
        if (ftpc_sh_intr)
            return interrupted(sh);
        if (ev_run_once(sh->loop, FTPC_STOP_CHECK_MS) < 0)
            return sh_fail(sh, FTPC_EXIT_LOCAL, "event loop failure: %s", strerror(errno));
    }
    *out = sh->reply;
    return 0;
}

static int raw_cmd(shell *sh, ftp_reply_msg *out, const char *line)
{
    int rc = raw_cmd_once(sh, out, line);
    return rc == CLOSED_UNANSWERED ? conn_lost(sh) : rc;
}

static int connect_login(shell *sh);

/* A command on a connection that had served earlier ones and closed before answering it:
 * the server closed the idle connection as the command went out (its idle timeout). That
 * says nothing about the command, which goes once more on a new connection. */
static int raw_cmd_again(shell *sh, ftp_reply_msg *out, const char *line)
{
    bool reused = sh->conn_used;
    int rc = raw_cmd_once(sh, out, line);
    if (rc == CLOSED_UNANSWERED && reused && !ftpc_conn_timed_out(sh->conn)) {
        forget_conn(sh);
        if ((rc = connect_login(sh)) != 0)
            return rc;
        rc = raw_cmd_once(sh, out, line);
    }
    return rc == CLOSED_UNANSWERED ? conn_lost(sh) : rc;
}

int sh_parse_257(const char *text, char *out, size_t out_size)
{
    const char *p = strchr(text, '"');
    if (p == NULL)
        return -1;
    p++;
    size_t o = 0;
    for (; *p != '\0'; p++) {
        if (*p == '"') {
            if (p[1] != '"')
                break;
            p++; /* a doubled quote is one quote */
        }
        if (o + 1 >= out_size)
            return -1;
        out[o++] = *p;
    }
    if (*p != '"' || o == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

static int pwd_reply(shell *sh, const ftp_reply_msg *mp);

static int pwd_raw(shell *sh)
{
    ftp_reply_msg m;
    int rc = raw_cmd(sh, &m, "PWD");
    return rc != 0 ? rc : pwd_reply(sh, &m);
}

static int pwd_reply(shell *sh, const ftp_reply_msg *mp)
{
    char q[600];
    if (mp->code != 257 || sh_parse_257(mp->text, sh->cwd, sizeof(sh->cwd)) < 0) {
        sh->cwd[0] = '\0';
        return sh_fail(sh, FTPC_EXIT_REMOTE, "PWD: the server replied %s",
                       ftpc_quote_reply(mp->code, mp->text, q, sizeof(q)));
    }
    return 0;
}

/* Opens the connection and logs in; after a reconnect, goes back to the remote directory. */
static int connect_login(shell *sh)
{
    forget_conn(sh);
    sh->conn_used = false;
    sh->conn = ftpc_conn_new(&sh->ctx, sh->ep, &sh_owner, sh);
    if (sh->conn == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    while (!ftpc_conn_is_ready(sh->conn)) {
        if (sh->conn_failed) {
            /* A mistyped password is not the one to try again (user NAME asks anew). */
            if (sh->conn_err.status == FTPC_EXIT_LOGIN)
                sh->ep->login_refused = true;
            return conn_lost(sh);
        }
        if (ftpc_sh_intr)
            return interrupted(sh);
        if (ev_run_once(sh->loop, FTPC_STOP_CHECK_MS) < 0)
            return sh_fail(sh, FTPC_EXIT_LOCAL, "event loop failure: %s", strerror(errno));
    }
    sh->ep->login_refused = false;
    if (sh->cwd[0] == '\0')
        return 0;
    char line[FTPC_URL_PATH_MAX + 8];
    snprintf(line, sizeof(line), "CWD %s", sh->cwd);
    ftp_reply_msg m;
    int rc = raw_cmd(sh, &m, line);
    if (rc != 0)
        return rc;
    if (m.code != 250) {
        char q[600];
        fprintf(stderr,
                "ftpc: cannot go back to %s after reconnecting (%s); now in the login "
                "directory\n",
                sh->cwd, ftpc_quote_reply(m.code, m.text, q, sizeof(q)));
        sh->cwd[0] = '\0';
        return pwd_raw(sh);
    }
    return 0;
}

int sh_conn_ensure(shell *sh)
{
    int rc = sh_need_login(sh);
    if (rc != 0)
        return rc;
    /* The loop may not have run since the last command (a local command, or script lines
     * already waiting): take in what the server sent meanwhile, its 421 and close after an
     * idle timeout, so the command opens a new connection instead of failing on the dead
     * one. */
    if (sh->conn != NULL && ev_run_once(sh->loop, 0) < 0)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "event loop failure: %s", strerror(errno));
    sh_conn_reap(sh);
    if (sh->conn != NULL && ftpc_conn_is_ready(sh->conn)) {
        sh->conn_used = true; /* open before this command: the server may close it under it */
        return 0;
    }
    return connect_login(sh);
}

int sh_conn_cmd(shell *sh, ftp_reply_msg *out, const char *fmt, ...)
{
    char line[FTPC_URL_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return sh_fail(sh, FTPC_EXIT_USAGE, "command too long");
    int rc = sh_conn_ensure(sh);
    if (rc != 0)
        return rc;
    return raw_cmd_again(sh, out, line);
}

int sh_conn_pwd(shell *sh)
{
    int rc = sh_conn_ensure(sh);
    if (rc != 0)
        return rc;
    ftp_reply_msg m;
    rc = raw_cmd_again(sh, &m, "PWD");
    return rc != 0 ? rc : pwd_reply(sh, &m);
}

int sh_conn_open(shell *sh, const ftpc_url *u)
{
    sh->cwd[0] = '\0';
    sh->home[0] = '\0';
    sh->prev_cwd[0] = '\0'; /* cd - goes back within one login only */
    int rc = connect_login(sh);
    if (rc == 0)
        rc = pwd_raw(sh);
    if (rc != 0)
        return rc;
    snprintf(sh->home, sizeof(sh->home), "%s", sh->cwd);
    if (u->path[0] == '\0')
        return 0;
    char line[FTPC_URL_PATH_MAX + 8];
    snprintf(line, sizeof(line), "CWD %s", u->path);
    ftp_reply_msg m;
    rc = raw_cmd(sh, &m, line);
    if (rc != 0)
        return rc;
    if (m.code != 250) {
        char q[600];
        return sh_fail(sh, ftpc_status_for_reply(m.code), "cd %s: the server replied %s", u->path,
                       ftpc_quote_reply(m.code, m.text, q, sizeof(q)));
    }
    return pwd_raw(sh);
}

void sh_conn_drop(shell *sh)
{
    if (sh->conn != NULL) {
        if (!sh->conn_failed && ftpc_conn_is_ready(sh->conn))
            ftpc_conn_quit(sh->conn);
        else
            ftpc_conn_free(sh->conn);
    }
    sh->conn = NULL;
    sh->conn_failed = false;
}

static void op_done_cb(void *ud, int status, bool reusable)
{
    shell *sh = ud;
    sh->op_done = true;
    sh->op_status = status;
    sh->op_reusable = reusable;
}

static int conn_task_once(shell *sh, ftpc_task *t, bool quiet, bool may_retry);

int sh_conn_task(shell *sh, ftpc_task *t, bool quiet)
{
    int rc = sh_conn_ensure(sh);
    if (rc != 0)
        return rc;
    return conn_task_once(sh, t, quiet, true);
}

static int conn_task_once(shell *sh, ftpc_task *t, bool quiet, bool may_retry)
{
    t->ep = sh->ep;
    bool reused = sh->conn_used;
    unsigned long answers = ftpc_conn_answers(sh->conn);
    sh->op_done = false;
    ftpc_xfer *x = NULL;
    ftpc_fsop *f = NULL;
    fflush(stdout); /* a listing is written to the fd directly */
    if (t->kind == FTPC_T_LS) {
        x = ftpc_xfer_new(&sh->ctx, t, op_done_cb, sh);
        if (x != NULL)
            ftpc_xfer_start(x, sh->conn);
    } else {
        f = ftpc_fsop_new(&sh->ctx, t, op_done_cb, sh);
        if (f != NULL)
            ftpc_fsop_start(f, sh->conn);
    }
    if (x == NULL && f == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    bool stopped = false;
    while (!sh->op_done) {
        if (ftpc_sh_intr || ev_run_once(sh->loop, FTPC_STOP_CHECK_MS) < 0) {
            stopped = true;
            break;
        }
    }
    ftpc_xfer_free(x);
    ftpc_fsop_free(f);
    if (stopped) {
        /* The operation was abandoned half way: the connection's state is unknown. */
        if (x != NULL)
            fflush(stdout);
        return interrupted(sh);
    }
    /* As for raw_cmd_again: a connection that had served earlier commands and closed
     * before answering anything for this one is the server's idle close racing with it. */
    if (may_retry && t->err.status != FTPC_OK && ftpc_status_transient(t->err.status) && reused &&
        sh->conn != NULL && ftpc_conn_answers(sh->conn) == answers &&
        !ftpc_conn_timed_out(sh->conn) && !(t->kind == FTPC_T_LS && t->out_written > 0)) {
        forget_conn(sh);
        ftpc_task_set_status(t, FTPC_OK);
        int rc = connect_login(sh);
        return rc != 0 ? rc : conn_task_once(sh, t, quiet, false);
    }
    if (sh->op_reusable && sh->conn != NULL && ftpc_conn_is_ready(sh->conn))
        ftpc_conn_set_owner(sh->conn, &sh_owner, sh);
    else
        forget_conn(sh);
    if (t->err.status != FTPC_OK && !quiet)
        sh_fail(sh, t->err.status, "%s", t->err.msg);
    return t->err.status;
}

/* ---- paths and URLs ---- */

char *sh_resolve(const shell *sh, const char *path, char *out, size_t out_size)
{
    if (path[0] == '/' || sh->cwd[0] == '\0') {
        snprintf(out, out_size, "%s", path);
        return out;
    }
    if (path[0] == '\0') {
        snprintf(out, out_size, "%s", sh->cwd);
        return out;
    }
    size_t cl = strlen(sh->cwd), pl = strlen(path);
    bool slash = cl > 0 && sh->cwd[cl - 1] == '/';
    size_t need = cl + (slash ? 0 : 1) + pl;
    if (need >= out_size) { /* a cut path would name another file: refuse it */
        if (out_size > 0)
            out[0] = '\0';
        return NULL;
    }
    memcpy(out, sh->cwd, cl);
    if (!slash)
        out[cl++] = '/';
    memcpy(out + cl, path, pl + 1);
    return out;
}

/* %-encodes s onto out at *o. Returns 0, or -1 when out is full. */
static int enc(char *out, size_t size, size_t *o, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || (*p != 0 && strchr("-._~", *p) != NULL) ||
                     (*p != 0 && strchr(keep, *p) != NULL);
        if (*o + 4 >= size)
            return -1;
        if (plain) {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 15];
        }
    }
    out[*o] = '\0';
    return 0;
}

static int lit(char *out, size_t size, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n + 1 >= size)
        return -1;
    memcpy(out + *o, s, n + 1);
    *o += n;
    return 0;
}

/* The path a URL carries for abs: below the login directory, relative to it, as a URL's path
 * is read (ftp://host/dir/file is dir/file from there); only a path outside it keeps the
 * absolute form, which the URL's second slash gives (ftp://host//etc/motd). Joining abs to
 * the host's slash as it is made every message read ftp://host//dir/file. */
static const char *url_path(const shell *sh, const char *abs)
{
    size_t hl = strlen(sh->home);
    if (hl == 0 || sh->home[0] != '/')
        return abs; /* the login directory is not known */
    while (hl > 0 && sh->home[hl - 1] == '/')
        hl--;
    if (strncmp(abs, sh->home, hl) != 0 || (abs[hl] != '\0' && abs[hl] != '/'))
        return abs;
    return abs[hl] == '\0' ? "" : abs + hl + 1;
}

int sh_url(const shell *sh, const char *path, bool dir, char *out, size_t out_size)
{
    static const char *const schemes[] = {"ftp://", "ftpes://", "ftps://"};
    const ftpc_url *u = &sh->site;
    char abs[FTPC_URL_PATH_MAX];
    if (sh_resolve(sh, path, abs, sizeof(abs)) == NULL)
        return -1;
    size_t o = 0;
    char port[16];
    snprintf(port, sizeof(port), ":%d", u->port);
    int tls = u->tls >= 0 && u->tls <= 2 ? u->tls : 0;
    int rc = lit(out, out_size, &o, schemes[tls]);
    if (rc == 0 && u->has_user) {
        rc = enc(out, out_size, &o, u->user, "");
        if (rc == 0 && u->has_pass)
            rc = lit(out, out_size, &o, ":") || enc(out, out_size, &o, u->pass, "");
        if (rc == 0)
            rc = lit(out, out_size, &o, "@");
    }
    bool v6 = strchr(u->host, ':') != NULL;
    if (rc == 0)
        rc = lit(out, out_size, &o, v6 ? "[" : "") || lit(out, out_size, &o, u->host) ||
             lit(out, out_size, &o, v6 ? "]" : "") || lit(out, out_size, &o, port) ||
             lit(out, out_size, &o, "/");
    /* Glob characters stay as they are, so a pattern still reads as one. */
    const char *up = url_path(sh, abs);
    if (rc == 0)
        rc = enc(out, out_size, &o, up, "/*?[]");
    size_t al = strlen(up);
    if (rc == 0 && dir && al > 0 && up[al - 1] != '/')
        rc = lit(out, out_size, &o, "/");
    return rc == 0 ? 0 : -1;
}

int sh_task_display(const shell *sh, ftpc_task *t, const char *path)
{
    char shown[FTPC_TASK_DISPLAY_MAX];
    sh_display(sh, path, shown, sizeof(shown));
    return ftpc_task_set(&t->display, shown) != NULL ? 0 : -1;
}

char *sh_display(const shell *sh, const char *path, char *out, size_t out_size)
{
    ftpc_url u = sh->site;
    char abs[FTPC_URL_PATH_MAX];
    if (sh_resolve(sh, path, abs, sizeof(abs)) == NULL) {
        snprintf(out, out_size, "%s", path);
        return out;
    }
    snprintf(u.path, sizeof(u.path), "%s", url_path(sh, abs));
    return ftpc_url_display(&u, out, out_size);
}
