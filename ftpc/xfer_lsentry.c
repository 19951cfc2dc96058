/* ls of one path whose listing the server refused: lsentry.c would list the path's directory
 * to find it as an entry (vsftpd leaves files out of a LIST of a file, pure-ftpd refuses NLST
 * of one), which for a name that is not there in a large directory costs a whole listing for
 * nothing. Where the server has MLST, MLST of the path answers first on the same connection:
 * a 5xx says nothing is there (ftpd and pure-ftpd answer so for a missing name, and neither
 * lists a name its MLST refuses: ftpd leaves a dangling link out of its listings, pure-ftpd's
 * MLST takes the link itself), so the refusal stands at once; a directory's refusal stands
 * too, as lsentry.c takes no directory's line; another entry is listed by lsentry.c, from the
 * directory's LIST only where an ls -l line is wanted (MLST has no link target, owner or group
 * names to make it). The listing's refusal is the one said, as without the question. */
#include "xfer_int.h"

#include <stdio.h>
#include <string.h>

#include "fsops.h"

bool xf_can_ask_ls_entry(const ftpc_xfer *x, int code)
{
    const ftpc_task *t = x->t;
    size_t n = strlen(t->remote);
    /* astray: refused from inside the directory (xfer_cwdlist.c), where MLST of the
     * relative path would ask the wrong place */
    return t->kind == FTPC_T_LS && t->relist_ok && !t->capture && !x->prelim && code >= 500 &&
           n > 0 && t->remote[n - 1] != '/' && t->ls_mlst == FTPC_LS_MLST_UNASKED &&
           (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) != 0 && !x->astray;
}

void xf_ask_ls_entry(ftpc_xfer *x, const ftp_reply_msg *m)
{
    x->refusal_code = m->code;
    ftpc_quote_reply(m->code, m->text, x->refusal, sizeof(x->refusal));
    x->state = XS_LSENTRY;
    ftpc_conn_cmd(x->c, "MLST %s", x->t->remote);
}

void xf_ls_entry_reply(ftpc_xfer *x, const ftp_reply_msg *m)
{
    ftpc_task *t = x->t;
    if (m->code / 100 == 2)
        t->ls_mlst = ftpc_mlst_is_dir(m->text) ? FTPC_LS_MLST_DIR : FTPC_LS_MLST_OTHER;
    else if (m->code >= 500)
        t->ls_mlst = FTPC_LS_MLST_NONE;
    char extra[460] = "";
    if (x->data_errno != 0)
        snprintf(extra, sizeof(extra), " (data connection: %s)", x->data_why);
    xf_fail(x, ftpc_status_for_reply(x->refusal_code), true, "%s: the server replied %s%s", x->verb,
            x->refusal, extra);
}
