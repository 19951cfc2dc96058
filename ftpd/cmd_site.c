/* SITE: the server-specific commands, HELP and CHMOD (as vsftpd, ProFTPD and pyftpdlib
 * offer it). lftp's mirror -R and FileZilla send SITE CHMOD to carry a file's permission
 * bits up with it. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "commands_int.h"
#include "fsjob.h"
#include "ftp_reply.h"
#include "ownfiles.h"
#include "path.h"
#include "strutil.h"

/* 1 to 4 octal digits for the bits 0..0777: set-ID and sticky bits are not the client's to
 * set (a directory keeps its own set-ID bits: vfs_chmod). */
static int parse_mode(const char *s, size_t n, mode_t *out)
{
    unsigned v;
    if (str_parse_octal(s, n, 4, 0777, &v) < 0)
        return -1;
    *out = (mode_t)v;
    return 0;
}

static void chmod_work(fsjob *j)
{
    if (leads_to_guarded(&j->v, j->vpath)) {
        j->rc = -1;
        j->err = OWNFILES_REFUSED;
        return;
    }
    j->rc = vfs_chmod(&j->v, j->vpath, j->mode);
    j->err = errno;
}

static void chmod_reply(session *s, fsjob *j)
{
    if (j->rc < 0) {
        reply_errno(s, j->err, "SITE CHMOD", j->arg);
        return;
    }
    session_log(s, "SITE CHMOD %03o %s", (unsigned)j->mode, j->vpath);
    session_reply(s, FTP_CMD_OK, "SITE CHMOD command successful.");
}

static void site_chmod(session *s, const char *arg)
{
    const char *sp = strchr(arg, ' ');
    if (!(s->perms & PERM_CHMOD)) {
        refuse_for_perms(s, "SITE CHMOD", sp ? sp + 1 : "", PERM_CHMOD,
                         "SITE CHMOD: Permission denied.");
        return;
    }
    mode_t mode;
    if (!sp || !sp[1]) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "SITE CHMOD: expected mode (octal) and path.");
        return;
    }
    if (parse_mode(arg, (size_t)(sp - arg), &mode) < 0) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "SITE CHMOD: mode must be octal, 0 to 777.");
        return;
    }
    char vpath[PATH_VMAX];
    if (session_resolve(s, sp + 1, vpath) < 0)
        return;
    /* The session itself runs as the root's owner, so the kernel would let it take its own
     * way in away (000, 644): the account would be locked out, and no session could undo it. */
    if (is_root(vpath)) {
        session_reply(s, FTP_FILE_UNAVAILABLE,
                      "SITE CHMOD: Cannot change the mode of the root directory.");
        return;
    }
    fsjob *j = fsjob_new(s, vpath, sp + 1);
    if (!j)
        return;
    j->mode = mode;
    fsjob_run(j, chmod_work, chmod_reply);
}

void cmd_site(session *s, const char *arg)
{
    size_t n = strcspn(arg, " ");
    const char *rest = arg[n] ? arg + n + 1 : "";
    if (n == 5 && strncasecmp(arg, "CHMOD", 5) == 0) {
        site_chmod(s, rest);
    } else if (n == 4 && strncasecmp(arg, "HELP", 4) == 0) {
        session_reply_lines(s, FTP_HELP,
                            "The SITE commands are:\n"
                            " CHMOD <sp> mode <sp> path-name\n"
                            " HELP\n"
                            "End");
    } else {
        session_reply(s, FTP_NOT_IMPLEMENTED, "SITE %.*s not implemented (see SITE HELP).",
                      (int)(n > 64 ? 64 : n), arg);
    }
}
