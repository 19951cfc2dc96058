/* pure-ftpd (1.0.50) reads a LIST argument as ls would read its command line: it splits it at
 * spaces (a backslash escapes one) and expands each part as a glob pattern (*, ?, [...] and
 * {a,b}). LIST of "d sp/" lists "d" and "sp/": with neither there it answers "226 0
 * matches total" with no entries, as for an empty directory (ls -l of a directory whose name
 * holds a space printed nothing and succeeded), and with a directory d it lists d. Its NLST
 * and MLSD take the path as it is. Since a wrong listing can look right, LIST of such a path
 * is asked from inside the directory wherever it is one: PWD (to come back), CWD into it,
 * LIST with no argument, CWD back; on every server, which lists a directory so as it lists
 * it by name. A path CWD refuses (a file, or nothing) is listed by name as before, and what
 * follows an empty or refused listing (lsagain.c, lsentry.c) lists the file's directory so
 * in its turn. Only paths with such characters pay the three round trips. A connection that
 * could not come back is not used again.
 * (pure-ftpd turns control characters in a command into '_': a name with a tab cannot be
 * reached there at all.)
 * ProFTPD (1.3.8) expands *, ? and [...] in an NLST argument: NLST of a directory named
 * "g*l[ob]?" answered with just the path (and of path/, with "path/"), never what is in it.
 * So NLST of a path holding one of these is asked from inside it too. */
#include "xfer_int.h"

#include <string.h>

bool xf_cwdlist_to_try(const ftpc_xfer *x)
{
    if (x->t->kind != FTPC_T_LS || x->cwdl_tried)
        return false;
    if (strcmp(x->verb, "LIST") == 0)
        return strpbrk(x->t->remote, " \\*?[{") != NULL;
    return strcmp(x->verb, "NLST") == 0 && strpbrk(x->t->remote, "*?[") != NULL;
}

void xf_cwdlist_try(ftpc_xfer *x)
{
    x->cwdl_tried = true;
    x->state = XS_CWDL_PWD;
    ftpc_conn_cmd(x->c, "PWD");
}

bool xf_cwdlist_to_return(const ftpc_xfer *x)
{
    return x->astray && !x->cwdl_returned;
}

void xf_cwdlist_return(ftpc_xfer *x)
{
    xf_close_data(x);
    ftpc_conn_close_data(x->c);
    x->state = XS_CWDL_BACK;
    ftpc_conn_cmd(x->c, "CWD %s", x->cwdl_back);
}

/* The listing again, with no argument, from inside the directory. */
static void list_here(ftpc_xfer *x)
{
    x->astray = true;
    x->cwdl_here = true;
    x->self_hold = false; /* the lines are the directory's entries, not the path's own */
    xf_open_data(x);
}

void xf_cwdlist_reply(ftpc_xfer *x, const ftp_reply_msg *m)
{
    bool ok = m->code / 100 == 2;
    switch (x->state) {
    case XS_CWDL_PWD:
        if (m->code != 257 || !ftpc_parse_pwd(m->text, x->cwdl_back, sizeof(x->cwdl_back))) {
            xf_open_data(x); /* no way back: LIST of the path, as it is */
            return;
        }
        x->state = XS_CWDL_CWD;
        ftpc_conn_cmd(x->c, "CWD %s", x->t->remote);
        return;
    case XS_CWDL_CWD:
        if (ok)
            list_here(x);
        else
            xf_open_data(x); /* a file, or nothing: LIST of the path, as it is */
        return;
    default: /* XS_CWDL_BACK: refused, the listing stands but the connection goes */
        x->cwdl_returned = true;
        x->astray = !ok;
        xf_maybe_complete(x);
        return;
    }
}
