/* vsftpd answers LIST and NLST of a directory it cannot open, named without a trailing '/',
 * with that directory's own entry ("d--------- ... locked", or "top/locked") and "226
 * Directory send OK": ls of it printed one line and succeeded, where ftpd refuses it with 550.
 * Asked as path/, vsftpd says it failed ("failed to open directory", xfer.c). So ls holds back
 * the listing of a path given without a '/' while it is a single line. A line that lists the
 * path itself as a directory is not printed, and the command asks again as path/ (lsagain.c),
 * which prints what is in it or fails with the server's reason: for LIST, a directory's line
 * naming the path; for NLST, whose line for a file is its name too, a line that is the path
 * when MLST (its type) or STAT (vsftpd: a directory's line) says it names a directory. A
 * directory that holds just a directory of its own name lists the same way once, and is
 * listed again as path/. Only one-line listings of such paths pay, and only where the caller
 * asks again (t->relist_ok): ls of several paths, which does not, prints the line as it came. */
#include "xfer_int.h"

#include <string.h>

#include "fsops.h"
#include "rmode.h"

void xf_selfline_start(ftpc_xfer *x)
{
    const ftpc_task *t = x->t;
    size_t n = strlen(t->remote);
    x->self_hold =
        t->kind == FTPC_T_LS && !t->capture && t->relist_ok && n > 0 && t->remote[n - 1] != '/';
    x->self_len = 0;
}

/* The held bytes go out, and the rest of the listing after them. */
static int release_held(ftpc_xfer *x)
{
    x->self_hold = false;
    size_t n = x->self_len;
    x->self_len = 0;
    return n > 0 ? xf_write_out(x, x->self_buf, n) : 0;
}

int xf_selfline_add(ftpc_xfer *x, const char *p, size_t len)
{
    const char *nl = memchr(x->self_buf, '\n', x->self_len);
    /* A second line, or a first one too long to be a name: an ordinary listing. */
    if ((nl != NULL && len > 0) || x->self_len + len > sizeof(x->self_buf) ||
        ((nl = memchr(p, '\n', len)) != NULL && nl + 1 < p + len)) {
        if (release_held(x) < 0)
            return -1;
        return xf_write_out(x, p, len);
    }
    memcpy(x->self_buf + x->self_len, p, len);
    x->self_len += len;
    return 0;
}

bool xf_selfline_to_check(const ftpc_xfer *x)
{
    return x->self_hold;
}

static void held_done(ftpc_xfer *x, bool itself)
{
    if (itself) {
        x->self_hold = false;
        x->self_len = 0;
        x->t->listed_itself = true;
    } else if (release_held(x) < 0) {
        xf_sink_failed(x);
        return;
    }
    xf_maybe_complete(x);
}

/* Whether the held line, without its line end, is the path or its last component. */
static bool names_the_path(const ftpc_xfer *x)
{
    const char *remote = x->t->remote;
    const char *slash = strrchr(remote, '/');
    const char *base = slash != NULL ? slash + 1 : remote;
    size_t n = x->self_len;
    while (n > 0 && (x->self_buf[n - 1] == '\n' || x->self_buf[n - 1] == '\r'))
        n--;
    return (n == strlen(remote) && memcmp(x->self_buf, remote, n) == 0) ||
           (n == strlen(base) && memcmp(x->self_buf, base, n) == 0);
}

void xf_check_selfline(ftpc_xfer *x)
{
    if (x->self_len == 0) {
        x->self_hold = false; /* empty: xfer_emptylist.c's business */
        xf_maybe_complete(x);
        return;
    }
    if (x->t->long_list) {
        char line[sizeof(x->self_buf) + 1];
        memcpy(line, x->self_buf, x->self_len);
        line[x->self_len] = '\0';
        held_done(x, ftpc_rlist_names_dir(line, x->t->remote));
        return;
    }
    if (!names_the_path(x)) {
        held_done(x, false);
        return;
    }
    bool mlst = (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0;
    x->state = XS_SELFCHECK;
    ftpc_conn_cmd(x->c, "%s %s", mlst ? "MLST" : "STAT", x->t->remote);
}

void xf_selfline_reply(ftpc_xfer *x, const ftp_reply_msg *m)
{
    bool mlst = (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0;
    bool dir = m->code / 100 == 2 &&
               (mlst ? ftpc_mlst_is_dir(m->text) : ftpc_rlist_names_dir(m->text, x->t->remote));
    held_done(x, dir);
}
