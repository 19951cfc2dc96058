/* CWD as a directory test. A LIST of the directory would tell too, but its format is the
 * server's own (Unix ls -l, DOS, ...), and listing every pattern's directory twice would cost
 * every glob a data connection; CWD is in every server since RFC 959, succeeds exactly for
 * what cannot be downloaded as a file (directories and links to them), and is only asked
 * about names that SIZE or RETR already refused: three round trips, on the rare name. A
 * refused CWD costs one more, into where the connection already is, to tell "not a
 * directory" from "no CWD for this account". */
#include "dirprobe.h"

#include <stdio.h>
#include <string.h>

enum { P_PWD, P_CWD, P_SELF, P_BACK, P_DONE };

static void end(ftpc_dirprobe *p, ftpc_probe_result r, const ftpc_err *err)
{
    p->step = P_DONE;
    p->cb(p->ud, r, err);
}

static void probe_ready(ftpc_conn *c, void *ud)
{
    ftpc_dirprobe *p = ud;
    if (p->step != P_PWD)
        return;
    ftpc_conn_cmd(c, "PWD");
}

static void probe_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_dirprobe *p = ud;
    if (m->code < 200)
        return;
    bool ok = m->code < 300;
    switch (p->step) {
    case P_PWD:
        if (m->code != 257 || !ftpc_parse_pwd(m->text, p->back, sizeof(p->back)))
            p->back[0] = '\0';
        p->step = P_CWD;
        ftpc_conn_cmd(c, "CWD %s", p->path);
        return;
    case P_CWD:
        if (!ok) {
            /* A refusal says "no directory" only where CWD is allowed at all: ftpd lets an
             * account list without entering (perms l without e), and refuses every CWD. */
            if (p->back[0] == '\0') {
                end(p, FTPC_PROBE_UNKNOWN, NULL);
                return;
            }
            p->step = P_SELF;
            ftpc_conn_cmd(c, "CWD %s", p->back);
            return;
        }
        if (p->back[0] == '\0') {
            end(p, FTPC_PROBE_DIR_LOST, NULL);
            return;
        }
        p->step = P_BACK;
        ftpc_conn_cmd(c, "CWD %s", p->back);
        return;
    case P_SELF:
        end(p, ok ? FTPC_PROBE_NOT_DIR : FTPC_PROBE_UNKNOWN, NULL);
        return;
    case P_BACK:
        end(p, ok ? FTPC_PROBE_DIR : FTPC_PROBE_DIR_LOST, NULL);
        return;
    default:
        return;
    }
}

static void probe_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_dirprobe *p = ud;
    if (p->step != P_DONE)
        end(p, FTPC_PROBE_FAILED, err);
}

static const ftpc_conn_owner probe_owner = {
    .ready = probe_ready,
    .reply = probe_reply,
    .failed = probe_failed,
};

void ftpc_dirprobe_run(ftpc_dirprobe *p, ftpc_conn *c, const char *path, ftpc_dirprobe_cb cb,
                       void *ud)
{
    p->c = c;
    snprintf(p->path, sizeof(p->path), "%s", path);
    p->back[0] = '\0';
    p->step = P_PWD;
    p->cb = cb;
    p->ud = ud;
    ftpc_conn_set_owner(c, &probe_owner, p);
}

bool ftpc_parse_pwd(const char *text, char *out, size_t out_size)
{
    const char *p = strchr(text, '"');
    if (p == NULL)
        return false;
    size_t o = 0;
    for (p++; *p != '\0'; p++) {
        if (*p == '"') {
            if (p[1] != '"') {
                out[o] = '\0';
                return o > 0 && strpbrk(out, "\r\n") == NULL;
            }
            p++;
        }
        if (o + 1 >= out_size)
            return false;
        out[o++] = *p;
    }
    return false;
}
