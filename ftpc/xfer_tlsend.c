/* A download or listing whose TLS data connection ended without close_notify: with a FIN
 * alone, which anyone on the path can send to cut the data short (a truncation attack). The
 * 226 that follows on the control connection proves nothing here: it only says that the
 * server handed the data to its kernel.
 *
 * ftpd, vsftpd, pure-ftpd and ProFTPD all send close_notify at the end of every data
 * connection, downloads and listings alike, empty ones too; FileZilla fails a transfer
 * without it. So such an end fails the transfer as an interrupted one (the runner names the
 * part file kept for get -c), unless something authenticated proves the data whole: SIZE (which
 * xf_maybe_complete compares itself), the 150 reply's "(N bytes)", or the end marker of a
 * MODE Z stream, which travels inside the TLS records. */
#include "xfer_int.h"

#include <inttypes.h>
#include <string.h>

#include "status.h"

void xf_note_announced(ftpc_xfer *x, const ftp_reply_msg *m)
{
    /* Servers differ on what they announce after REST (ftpd and ProFTPD the bytes to come,
     * vsftpd the whole file): only a transfer from byte 0 is compared. */
    if (x->announced < 0 && x->offset == 0 && strcmp(x->verb, "RETR") == 0)
        x->announced = ftpc_parse_announced_size(m->text);
}

bool xf_fail_unproven_end(ftpc_xfer *x)
{
    if (!x->end_unproven)
        return false;
    if (x->zon && mz_ended(&x->z))
        return false;
    if (x->remote_size >= 0 && x->t->kind != FTPC_T_LS)
        return false; /* SIZE decides, in xf_maybe_complete */
    if (x->announced >= 0 && x->pos == (uint64_t)x->announced)
        return false;
    if (x->announced >= 0)
        xf_fail(x, FTPC_EXIT_XFER, true,
                "the data connection ended without TLS close_notify after %" PRIu64
                " of the %" PRId64 " bytes the server announced: cut short on the way",
                x->pos, x->announced);
    else
        xf_fail(x, FTPC_EXIT_XFER, true,
                "the data connection ended without TLS close_notify after %" PRIu64
                " bytes, and with no size to compare them with, they may have been cut short "
                "on the way (a FIN can be forged, close_notify cannot)",
                x->pos - x->offset);
    return true;
}
