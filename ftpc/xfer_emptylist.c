/* An empty listing that may stand for a failure: pure-ftpd answers LIST of a path that names
 * nothing, and ProFTPD NLST and LIST of a directory it cannot open, with no entries and a
 * plain 226, as they answer for an empty directory (vsftpd at least says "failed to open
 * directory" in its 226, xfer.c). An empty listing of a directory path (one ending in '/',
 * which ls asks again for a path given without one, run.c) is checked with CWD into it and
 * back (dirprobe.h): a directory the session cannot enter fails as one it cannot list, but
 * only where the session may CWD at all (ftpd lets an account list without entering). MLST's
 * type would not do (ProFTPD says type=dir for a directory it cannot open), but its perm
 * fact does: ProFTPD leaves out the 'l' (RFC 3659: may be listed) of a directory it cannot
 * read, among them one it can enter (mode 0711), which CWD cannot tell from an empty one.
 * So a directory CWD found, or could not ask about, is then asked MLST where the server has
 * it; a perm fact without 'l' fails, and no perm fact or a refused MLST keeps the listing.
 * Only empty listings pay the round trips. */
#include "xfer_int.h"

#include <string.h>

#include "fsops.h"

bool xf_empty_listing_to_check(const ftpc_xfer *x)
{
    const ftpc_task *t = x->t;
    size_t n = strlen(t->remote);
    /* astray: listed from inside the directory and not back (xfer_cwdlist.c), where the
     * path's relative probe would ask the wrong place */
    return t->kind == FTPC_T_LS && !t->capture && x->pos == 0 && !x->listing_probed && n > 0 &&
           t->remote[n - 1] == '/' && !x->astray;
}

static void listing_probed(void *ud, ftpc_probe_result r, const ftpc_err *err)
{
    ftpc_xfer *x = ud;
    if (!xf_probe_answered(x))
        return;
    switch (r) {
    case FTPC_PROBE_NOT_DIR:
        xf_fail(x, FTPC_EXIT_REMOTE, true,
                "%s: no such directory, or not readable (the listing came empty, with %s, and "
                "CWD into it was refused)",
                x->verb, x->refusal);
        return;
    case FTPC_PROBE_FAILED:
        xf_fail(x, err->status, false, "%s", err->msg);
        return;
    case FTPC_PROBE_DIR_LOST:
        /* an empty directory, but the connection stays where the CWD took it: not reused */
        x->t->bytes = 0;
        x->listing_probed = true;
        xf_finish(x, FTPC_OK, false);
        return;
    default:
        /* a directory, or a session that may not CWD anywhere (ftpd's perms l without e):
         * its refusal proves nothing; the connection is where it was */
        if (ftpc_conn_features(x->c) & FTPC_FEAT_MLST) {
            x->state = XS_LISTPERM;
            ftpc_conn_cmd(x->c, "MLST %s", x->t->remote);
            return;
        }
        x->listing_probed = true;
        xf_maybe_complete(x);
        return;
    }
}

void xf_empty_listing_perm(ftpc_xfer *x, const ftp_reply_msg *m)
{
    if (m->code < 300 && ftpc_mlst_perm_lists(m->text) == 0) {
        xf_fail(x, FTPC_EXIT_REMOTE, true,
                "%s: not readable (the listing came empty, with %s, and its MLST perm fact has no "
                "l: it may not be listed)",
                x->verb, x->refusal);
        return;
    }
    x->listing_probed = true;
    xf_maybe_complete(x);
}

void xf_check_empty_listing(ftpc_xfer *x)
{
    xf_close_data(x);
    ftpc_conn_close_data(x->c);
    x->state = XS_DIRPROBE;
    ftpc_dirprobe_run(&x->probe, x->c, x->t->remote, listing_probed, x);
}
