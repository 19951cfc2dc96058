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
 * So NLST of a path holding one of these is asked from inside it too. Of a file, its NLST
 * and LIST list whatever the name matches (a1.txt for "a[1].txt", "st*r" and "stxr" for
 * "st*r"), as pure-ftpd's LIST does: where CWD refuses such a path and the server has
 * MLST, which takes the path as it is, MLST says whether a file of that name is there, and
 * the ls that asks again (t->relist_ok) takes its entry from the directory's listing
 * (lsentry.c), by name, instead of the server's matches. Where no entry has that name, the
 * server's matches stand ("ls *.txt"). */
#include "xfer_int.h"

#include <string.h>

#include "fsops.h"

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

/* A path CWD refused whose listing the server would take for a pattern, where the caller
 * looks the entry up in the directory's listing and MLST takes the name as it is. */
static bool to_ask_entry(const ftpc_xfer *x)
{
    const ftpc_task *t = x->t;
    return t->relist_ok && !t->capture && strpbrk(t->remote, "*?[") != NULL &&
           t->ls_mlst == FTPC_LS_MLST_UNASKED && (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0;
}

static void ask_entry(ftpc_xfer *x)
{
    x->state = XS_CWDL_MLST;
    ftpc_conn_cmd(x->c, "MLST %s", x->t->remote);
}

/* A file of that name: failed here, quietly (t->quiet_refusal), for lsentry.c to print its
 * entry. Else (nothing of that name, a directory CWD would not enter, no answer) the listing
 * of the path as it is: where nothing has the name, what the server's pattern matches
 * ("ls *.txt" as ProFTPD and pure-ftpd answer it). */
static void entry_reply(ftpc_xfer *x, const ftp_reply_msg *m)
{
    ftpc_task *t = x->t;
    if (m->code / 100 == 2 && !ftpc_mlst_is_dir(m->text)) {
        t->ls_mlst = FTPC_LS_MLST_OTHER;
        xf_fail(x, FTPC_EXIT_REMOTE, true,
                "%s: not listed by name (the server would match the name as a pattern), and "
                "not found in its directory's listing",
                x->verb);
        return;
    }
    if (m->code >= 500)
        t->ls_mlst = FTPC_LS_MLST_NONE;
    xf_open_data(x);
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
        else if (to_ask_entry(x))
            ask_entry(x);
        else
            xf_open_data(x); /* a file, or nothing: LIST of the path, as it is */
        return;
    case XS_CWDL_MLST:
        entry_reply(x, m);
        return;
    default: /* XS_CWDL_BACK: refused, the listing stands but the connection goes */
        x->cwdl_returned = true;
        x->astray = !ok;
        xf_maybe_complete(x);
        return;
    }
}
