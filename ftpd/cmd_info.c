/* SYST FEAT OPTS HELP NOOP TYPE MODE STRU ALLO STAT. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "commands_int.h"
#include "dirlist.h"
#include "fsjob.h"
#include "listfmt.h"
#include "net.h"
#include "path.h"
#include "server.h"
#include "stream_tls.h"
#include "xfer.h"

void cmd_syst(session *s, const char *arg)
{
    session_reply(s, FTP_SYSTEM_TYPE, "UNIX Type: L8");
}

void cmd_feat(session *s, const char *arg)
{
    char facts[128], text[512], hash[64];
    listfmt_format_facts(s->mlst_facts, true, facts, sizeof facts);
    hash_feat(s, hash, sizeof hash);
    /* RFC 4217: AUTH TLS, PBSZ and PROT are listed only when TLS is offered. */
    bool tls = s->srv->tls_ctx != NULL;
    snprintf(text, sizeof text,
             "Features:\n"
             "%s"
             "EPRT\n"
             "EPSV\n"
             "%s\n"
             "MDTM\n"
             "MFMT\n"
             "MLST %s\n"
             "MODE Z\n"
             "PASV\n"
             "%s"
             "REST STREAM\n"
             "SIZE\n"
             "TVFS\n"
             "UTF8\n"
             "End",
             tls ? "AUTH TLS\n" : "", hash, facts, tls ? "PBSZ\nPROT\n" : "");
    session_reply_lines(s, FTP_SYSTEM_STATUS, text);
}

/* OPTS MODE Z [LEVEL n] (draft-preston-ftpext-deflate, as ProFTPD's mod_deflate): the
 * compression level of the following MODE Z downloads; without an option, the current one.
 * Returns false when arg is not about MODE Z. */
static bool mode_z_opts(session *s, const char *arg)
{
    if (strncasecmp(arg, "MODE Z", 6) != 0 || (arg[6] != ' ' && arg[6] != '\0'))
        return false;
    const char *p = arg + 6;
    while (*p == ' ')
        p++;
    if (!*p) {
        session_reply(s, FTP_CMD_OK, "MODE Z LEVEL %d", s->mz_level);
        return true;
    }
    if (strncasecmp(p, "LEVEL", 5) != 0 || (p[5] != ' ' && p[5] != '\0')) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "OPTS MODE Z: unknown option (LEVEL 0-9 is known).");
        return true;
    }
    p += 5;
    while (*p == ' ')
        p++;
    if (p[0] < '0' || p[0] > '9' || p[1] != '\0') {
        session_reply(s, FTP_ARG_SYNTAX_ERROR,
                      "OPTS MODE Z LEVEL: expected a level from 0 to 9; level not changed.");
        return true;
    }
    s->mz_level = p[0] - '0';
    session_reply(s, FTP_CMD_OK, "MODE Z LEVEL set to %d.", s->mz_level);
    return true;
}

void cmd_opts(session *s, const char *arg)
{
    if (hash_opts(s, arg) || mode_z_opts(s, arg))
        return;
    if (strncasecmp(arg, "UTF8", 4) == 0 && (arg[4] == ' ' || arg[4] == '\0')) {
        const char *v = arg[4] ? arg + 5 : "";
        if (v[0] == '\0' || strcasecmp(v, "ON") == 0)
            session_reply(s, FTP_CMD_OK, "Always in UTF8 mode.");
        else if (strcasecmp(v, "OFF") == 0)
            session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "UTF8 cannot be turned off.");
        else
            session_reply(s, FTP_ARG_SYNTAX_ERROR, "OPTS UTF8 takes ON or OFF.");
        return;
    }
    if (strncasecmp(arg, "MLST", 4) == 0 && (arg[4] == ' ' || arg[4] == '\0')) {
        /* RFC 3659 7.9: the facts named (unknown ones ignored) are the ones sent from now on,
         * and the reply lists them; no list at all selects none. */
        char facts[128];
        s->mlst_facts = listfmt_parse_facts(arg[4] ? arg + 5 : "");
        listfmt_format_facts(s->mlst_facts, false, facts, sizeof facts);
        session_reply(s, FTP_CMD_OK, "MLST OPTS%s%s", facts[0] ? " " : "", facts);
        return;
    }
    session_reply(s, FTP_ARG_SYNTAX_ERROR, "Option not understood.");
}

void cmd_help(session *s, const char *arg)
{
    if (arg[0]) {
        const char *name, *syntax = commands_syntax(arg, &name);
        if (syntax)
            session_reply(s, FTP_HELP, "Syntax: %s %s", name, syntax);
        else if (commands_not_implemented(arg))
            session_reply(s, FTP_NOT_IMPLEMENTED, "%s not implemented.", arg);
        else
            session_reply(s, FTP_NOT_IMPLEMENTED, "Unknown command %s.", arg);
        return;
    }
    char text[2048];
    commands_help_text(text, sizeof text);
    session_reply_lines(s, FTP_HELP, text);
}

void cmd_noop(session *s, const char *arg)
{
    session_reply(s, FTP_CMD_OK, "NOOP ok.");
}

/* Bytes of a CLNT name the log keeps: client names ("FileZilla 3.66.4", "SmartFTP 10.0") are
 * short, and the line is for the operator, not for whatever a client sends. */
#define CLNT_NAME_MAX 64

/* CLNT name (in no RFC; Serv-U and FileZilla Server take it): some GUI clients name themselves,
 * often before the login, and show a 500 for it as an error.
 * The name is logged once a session (escaped as every log line is: log.h), cut at a character
 * boundary. Not in FEAT: the clients that send it do so unasked. */
void cmd_clnt(session *s, const char *arg)
{
    if (!(s->flags & SF_CLNT_SEEN)) {
        s->flags |= SF_CLNT_SEEN;
        size_t len = strlen(arg);
        bool cut = len > CLNT_NAME_MAX;
        if (cut) {
            len = CLNT_NAME_MAX;
            while (len > 0 && ((unsigned char)arg[len] & 0xC0) == 0x80)
                len--;
        }
        session_log(s, "client: %.*s%s", (int)len, arg, cut ? "..." : "");
    }
    session_reply(s, FTP_CMD_OK, "Noted.");
}

/* arg with its spaces made single and its ends trimmed, so that "I " and "A  N" read as the
 * type codes they are (ProFTPD, pure-ftpd and pyftpdlib take them too). */
static const char *type_code(const char *arg, char *out, size_t out_size)
{
    size_t o = 0;
    for (const char *p = arg; *p && o + 1 < out_size; p++)
        if (*p != ' ' || (o > 0 && out[o - 1] != ' '))
            out[o++] = *p;
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

void cmd_type(session *s, const char *raw)
{
    char code[16];
    const char *arg = type_code(raw, code, sizeof code);
    /* "A", "A N", "I", "L 8" are what clients send; the format control N is the default. */
    if (strcasecmp(arg, "A") == 0 || strcasecmp(arg, "A N") == 0) {
        s->flags |= SF_ASCII;
        session_reply(s, FTP_CMD_OK, "Switching to ASCII mode.");
    } else if (strcasecmp(arg, "I") == 0 || strcasecmp(arg, "L 8") == 0) {
        s->flags &= ~SF_ASCII;
        session_reply(s, FTP_CMD_OK, "Switching to Binary mode.");
    } else {
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "TYPE %s not implemented.", raw);
    }
}

void cmd_mode(session *s, const char *raw)
{
    char code[16];
    const char *arg = type_code(raw, code, sizeof code);
    /* S (stream) and Z (deflate, draft-preston-ftpext-deflate); B and C are not offered. */
    if (strcasecmp(arg, "S") == 0) {
        s->flags &= ~SF_MODE_Z;
        session_reply(s, FTP_CMD_OK, "Mode set to S.");
    } else if (strcasecmp(arg, "Z") == 0) {
        s->flags |= SF_MODE_Z;
        session_reply(s, FTP_CMD_OK, "Mode set to Z (deflate, level %d).", s->mz_level);
    } else {
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "MODE %s not implemented.", raw);
    }
}

void cmd_stru(session *s, const char *raw)
{
    char code[16];
    if (strcasecmp(type_code(raw, code, sizeof code), "F") == 0)
        session_reply(s, FTP_CMD_OK, "Structure set to F.");
    else
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "STRU %s not implemented.", raw);
}

/* RFC 959's "ALLO <bytes> [R <record size>]". Nothing is reserved (files grow as they
 * come), but the count is kept for the next upload: in stream mode a data connection that
 * closes after exactly that many bytes ends a whole file, which is committed without waiting
 * to see whether the client is still alive (xfer.c, upload_ended). */
void cmd_allo(session *s, const char *arg)
{
    s->allo_set = false;
    if (!arg[0]) {
        session_reply(s, FTP_CMD_SUPERFLUOUS, "ALLO not needed.");
        return;
    }
    char *end;
    errno = 0;
    /* digits only: strtoll would also take blanks, a sign, "-0" */
    long long v = isdigit((unsigned char)arg[0]) ? strtoll(arg, &end, 10) : -1;
    if (v >= 0 && !errno && end[0] == ' ' && (end[1] == 'R' || end[1] == 'r') && end[2] == ' ' &&
        isdigit((unsigned char)end[3])) {
        strtoll(end + 3, &end, 10); /* the record size, which stream files do not have */
    }
    if (v < 0 || errno || *end) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "ALLO: expected a byte count.");
        return;
    }
    s->allo_set = true;
    s->allo = v;
    session_reply(s, FTP_CMD_OK, "ALLO %lld bytes noted for the next upload.", v);
}

/* The TLS line of STAT: the control connection's protocol and cipher and the PROT level. */
static void stat_tls(const session *s, char *out, size_t size)
{
    if (stream_is_tls(&s->ctl))
        snprintf(out, size, "TLS: %s, cipher %s; data connections %s\n",
                 stream_tls_version(&s->ctl_tls), stream_tls_cipher(&s->ctl_tls),
                 (s->flags & SF_PROT_P) ? "protected (PROT P)" : "in clear (PROT C)");
    else if (s->srv->tls_ctx)
        snprintf(out, size, "TLS: not in use (AUTH TLS is offered)\n");
    else
        out[0] = '\0';
}

static void stat_server(session *s)
{
    char text[2048], local[NET_ADDR_STRLEN], xs[512], mode[64], tls[256];
    net_addr_str(&s->local, local, sizeof local);
    if (s->xfer && (s->xfer->state == XS_RUNNING || s->xfer->state == XS_UPLOAD_FLUSHING))
        xfer_status(s->xfer, xs, sizeof xs);
    else if (s->xfer && s->xfer->state == XS_TLS_HANDSHAKE)
        /* The 150 is out and the client holds the connection, but no byte can move yet: a
         * client stuck here has not started (or cannot finish) its TLS handshake. */
        snprintf(xs, sizeof xs, "%s %s: waiting for the data connection's TLS handshake.",
                 xfer_verb(s->xfer), s->xfer->vpath ? s->xfer->vpath : "");
    else if (s->xfer)
        snprintf(xs, sizeof xs, "Data connection ready (%s).",
                 s->xfer->passive ? "passive" : "active");
    else
        snprintf(xs, sizeof xs, "No data connection.");
    if (s->flags & SF_MODE_Z)
        snprintf(mode, sizeof mode, "Z (deflate, level %d)", s->mz_level);
    else
        snprintf(mode, sizeof mode, "Stream");
    stat_tls(s, tls, sizeof tls);
    snprintf(text, sizeof text,
             "ftpd " FTP_VERSION " status:\n"
             "Connected from %s to %s\n"
             "Logged in as %s\n"
             "TYPE: %s, STRUcture: File, MODE: %s\n"
             "%s"
             "%s\n"
             "End of status",
             s->peer_str, local, session_who(s), (s->flags & SF_ASCII) ? "ASCII" : "BINARY", mode,
             tls, xs);
    session_reply_lines(s, FTP_SYSTEM_STATUS, text);
}

/* Raw bytes of a STAT listing, and the most its reply may take on the wire. A name's 0xFF
 * bytes go doubled and its CRs as CR NUL, so a listing sent whole could outgrow the session's
 * output buffer (64 KiB), and the session would close instead of answering. */
#define STAT_LISTING_MAX (48 * 1024)
#define STAT_REPLY_MAX (56 * 1024)
#define STAT_CUT_NOTE "(listing cut short; use LIST)\n"
#define STAT_END "End of status"

/* Turns the len bytes of listing at text into reply lines, in place: the CRLF line ends become
 * the '\n' the reply writer wants (a CR inside a name stays, to go as CR NUL), and the text is
 * cut after the last whole line that keeps the reply within budget bytes on the wire. Returns
 * the length kept (text is NUL-terminated there), and sets *cut when lines were dropped. */
static size_t fit_listing(char *text, size_t len, size_t budget, bool *cut)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
            text[o++] = text[i];
    text[o] = '\0';
    size_t total = 0, at = 0;
    while (at < o) {
        char *nl = memchr(text + at, '\n', o - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : o - at;
        total += ftp_reply_line_size(text + at, n);
        if (total > budget) {
            text[at] = '\0';
            *cut = true;
            return at;
        }
        at += n + (nl != NULL);
    }
    return o;
}

/* STAT path: the listing on the control connection, as LIST would send it. Its lines are read
 * while the session waits; its root, cwd and perms (open_wildcard) stay as they are. */
static void stat_path_work(fsjob *j)
{
    dirlist *d = dirlist_open(&j->s->vfs, j->vpath, DL_LIST, j->perms, MLSX_ALL, true);
    if (!d && errno == ENOENT) {
        d = open_wildcard(j->s, j->arg, DL_LIST);
        j->matched = d != NULL;
    }
    j->err = errno;
    if (!d)
        return;
    j->dl = d;
    if (dirlist_name_as_typed(d, j->arg) < 0) {
        j->err = ENOMEM;
        return;
    }
    /* RFC 959: a directory's status is 212, a file's 213; a wildcard's matches are part of
     * a directory. */
    j->found = j->matched || dirlist_is_dir(d) ? FTP_DIR_STATUS : FTP_FILE_STATUS;
    buf_init(&j->text, STAT_LISTING_MAX);
    j->rc = buf_printf(&j->text, "Status of %s:\n", j->vpath) < 0 || dirlist_fill(d, &j->text) != 0;
    dirlist_free(d); /* here: on a slow disk its close may wait too */
    j->dl = NULL;
}

static void stat_path_reply(session *s, fsjob *j)
{
    if (!j->found) {
        if (j->err == ENOMEM)
            session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        else
            reply_errno(s, j->err, "STAT", j->arg);
        return;
    }
    bool cut = j->rc != 0;
    /* The listing may fill lines to its last byte: the reply is built in a copy with room for
     * its end. Replies still queued (a client that pipelines) leave less room. */
    size_t len = buf_len(&j->text);
    size_t tail = sizeof(STAT_CUT_NOTE) + sizeof(STAT_END);
    char *text = malloc(len + tail);
    if (text == NULL) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    if (len > 0)
        memcpy(text, buf_head(&j->text), len);
    size_t room = s->out.cap - buf_len(&s->out);
    size_t budget = room < STAT_REPLY_MAX ? room : STAT_REPLY_MAX;
    budget = budget > 2 * tail ? budget - 2 * tail : 0;
    len = fit_listing(text, len, budget, &cut);
    snprintf(text + len, tail, "%s%s", cut ? STAT_CUT_NOTE : "", STAT_END);
    session_reply_lines(s, (int)j->found, text);
    free(text);
}

static void stat_listing(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (session_resolve(s, arg, vpath) < 0)
        return;
    fsjob *j = fsjob_new(s, vpath, arg);
    if (j)
        fsjob_run(j, stat_path_work, stat_path_reply);
}

static void stat_options_reply(session *s, fsjob *j)
{
    stat_listing(s, list_options_path(j));
}

static void stat_path(session *s, const char *arg)
{
    if (!(s->perms & PERM_LIST)) {
        refuse_for_perms(s, "STAT", arg, PERM_LIST, "Permission denied.");
        return;
    }
    bool all = true; /* STAT always shows hidden names */
    /* STAT lists one directory, -R or not: its reply has room for no more (fit_listing) */
    bool recursive = false;
    fsjob *opts;
    const char *path = list_skip_options(s, arg, &all, &recursive, &opts);
    if (path)
        stat_listing(s, path);
    else if (opts)
        fsjob_run(opts, list_options_work, stat_options_reply);
}

void cmd_stat(session *s, const char *arg)
{
    if (arg[0])
        stat_path(s, arg);
    else
        stat_server(s);
}
