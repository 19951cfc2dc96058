#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands_int.h"
#include "log.h"
#include "logpath.h"
#include "ownfiles.h"
#include "path.h"
#include "users.h"

enum {
    CMD_LOGIN = 1 << 0, /* needs a logged-in session */
    CMD_ARG = 1 << 1,   /* needs an argument */
    /* Its argument is a keyword or a number, never a path: blanks after it are dropped, so that
     * "PROT P " is PROT P (a client, or a person at a telnet prompt, that left one gets what it
     * asked for rather than a 504 it may take for "no protection here"). A path keeps every
     * byte: a name may end in a blank. */
    CMD_TOKEN = 1 << 2,
};

typedef struct command {
    const char *name;
    cmd_handler handler;
    unsigned flags;
    unsigned perm;      /* PERM_ bits of which at least one is needed; 0: none */
    const char *syntax; /* for "HELP name": its arguments, or what it does if it takes none */
} command;

static const command commands[] = {
    {"USER", cmd_user, CMD_ARG, 0, "<sp> username"},
    {"PASS", cmd_pass, 0, 0, "<sp> password"},
    {"QUIT", cmd_quit, 0, 0, "(end the session)"},
    {"AUTH", cmd_auth, CMD_ARG | CMD_TOKEN, 0, "<sp> TLS"},
    {"PBSZ", cmd_pbsz, CMD_ARG | CMD_TOKEN, 0, "<sp> 0"},
    {"PROT", cmd_prot, CMD_ARG | CMD_TOKEN, 0, "<sp> C | P"},
    {"CCC", cmd_ccc, 0, 0, "(clear the command channel)"},
    {"SYST", cmd_syst, 0, 0, "(system type)"},
    {"FEAT", cmd_feat, 0, 0, "(list the extensions)"},
    {"OPTS", cmd_opts, CMD_ARG | CMD_TOKEN, 0, "<sp> command [<sp> options]"},
    {"HELP", cmd_help, CMD_TOKEN, 0, "[<sp> command]"},
    {"NOOP", cmd_noop, 0, 0, "(no operation)"},
    {"CLNT", cmd_clnt, CMD_ARG, 0, "<sp> client-name (noted in the log)"},
    {"TYPE", cmd_type, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> A | I"},
    {"MODE", cmd_mode, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> S | Z"},
    {"STRU", cmd_stru, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> F"},
    {"ALLO", cmd_allo, CMD_LOGIN, 0, "[<sp> bytes [<sp> R <sp> record]]"},
    {"STAT", cmd_stat, CMD_LOGIN, 0, "[<sp> path-name]"},
    {"PWD", cmd_pwd, CMD_LOGIN, 0, "(print the working directory)"},
    {"XPWD", cmd_pwd, CMD_LOGIN, 0, "(print the working directory)"},
    {"CWD", cmd_cwd, CMD_LOGIN | CMD_ARG, PERM_CWD, "<sp> directory-name"},
    {"XCWD", cmd_cwd, CMD_LOGIN | CMD_ARG, PERM_CWD, "<sp> directory-name"},
    {"CDUP", cmd_cdup, CMD_LOGIN, PERM_CWD, "(change to the parent directory)"},
    {"XCUP", cmd_cdup, CMD_LOGIN, PERM_CWD, "(change to the parent directory)"},
    {"MKD", cmd_mkd, CMD_LOGIN | CMD_ARG, PERM_MKDIR, "<sp> directory-name"},
    {"XMKD", cmd_mkd, CMD_LOGIN | CMD_ARG, PERM_MKDIR, "<sp> directory-name"},
    {"RMD", cmd_rmd, CMD_LOGIN | CMD_ARG, PERM_DELETE, "<sp> directory-name"},
    {"XRMD", cmd_rmd, CMD_LOGIN | CMD_ARG, PERM_DELETE, "<sp> directory-name"},
    {"DELE", cmd_dele, CMD_LOGIN | CMD_ARG, PERM_DELETE, "<sp> file-name"},
    {"RNFR", cmd_rnfr, CMD_LOGIN | CMD_ARG, PERM_RENAME, "<sp> file-name"},
    {"RNTO", cmd_rnto, CMD_LOGIN | CMD_ARG, PERM_RENAME, "<sp> file-name"},
    {"SIZE", cmd_size, CMD_LOGIN | CMD_ARG, PERM_LIST | PERM_READ, "<sp> file-name"},
    {"MDTM", cmd_mdtm, CMD_LOGIN | CMD_ARG, PERM_LIST | PERM_READ, "<sp> file-name"},
    {"SITE", cmd_site, CMD_LOGIN | CMD_ARG, 0, "<sp> CHMOD | HELP (see SITE HELP)"},
    {"MFMT", cmd_mfmt, CMD_LOGIN | CMD_ARG, PERM_MTIME, "<sp> YYYYMMDDHHMMSS <sp> file-name"},
    {"MLST", cmd_mlst, CMD_LOGIN, PERM_LIST, "[<sp> path-name]"},
    {"HASH", cmd_hash, CMD_LOGIN | CMD_ARG, PERM_READ, "<sp> file-name"},
    {"RANG", cmd_rang, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> start <sp> end"},
    {"PASV", cmd_pasv, CMD_LOGIN, 0, "(enter passive mode)"},
    {"EPSV", cmd_epsv, CMD_LOGIN | CMD_TOKEN, 0, "[<sp> 1 | 2 | ALL]"},
    {"PORT", cmd_port, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> h1,h2,h3,h4,p1,p2"},
    {"EPRT", cmd_eprt, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> |af|address|port|"},
    {"REST", cmd_rest, CMD_LOGIN | CMD_ARG | CMD_TOKEN, 0, "<sp> offset"},
    {"RETR", cmd_retr, CMD_LOGIN | CMD_ARG, PERM_READ, "<sp> file-name"},
    {"STOR", cmd_stor, CMD_LOGIN | CMD_ARG, PERM_WRITE, "<sp> file-name"},
    {"STOU", cmd_stou, CMD_LOGIN, PERM_WRITE, "[<sp> file-name]"},
    {"APPE", cmd_appe, CMD_LOGIN | CMD_ARG, PERM_APPEND, "<sp> file-name"},
    {"LIST", cmd_list, CMD_LOGIN, PERM_LIST, "[<sp> path-name]"},
    {"NLST", cmd_nlst, CMD_LOGIN, PERM_LIST, "[<sp> path-name]"},
    {"MLSD", cmd_mlsd, CMD_LOGIN, PERM_LIST, "[<sp> directory-name]"},
    {"ABOR", cmd_abor, CMD_LOGIN, 0, "(abort the transfer)"},
};

/* Known to the protocol but deliberately not offered. */
static const char *const not_implemented[] = {"ACCT", "SMNT", "REIN", NULL};

static const command *find_command(const char *verb)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcasecmp(commands[i].name, verb) == 0)
            return &commands[i];
    }
    return NULL;
}

bool commands_not_implemented(const char *verb)
{
    for (const char *const *n = not_implemented; *n; n++) {
        if (strcasecmp(*n, verb) == 0)
            return true;
    }
    return false;
}

/* The lines that may come between ALLO and the upload it announces: the data connection's
 * set-up and the transfer's parameters. Any other line ends the announcement, and so does an
 * upload refused before its handler takes it (no argument, the account's permissions): a
 * count left over from it would have made a later upload of another size a cut (426). */
static bool keeps_allo(const command *c)
{
    static void (*const keep[])(session *, const char *) = {
        cmd_allo, cmd_rest, cmd_type, cmd_mode, cmd_stru, cmd_pasv, cmd_epsv,
        cmd_port, cmd_eprt, cmd_noop, cmd_stor, cmd_appe, cmd_stou};
    for (size_t i = 0; c && i < sizeof keep / sizeof keep[0]; i++)
        if (c->handler == keep[i])
            return true;
    return false;
}

void commands_dispatch(session *s, const ftp_cmd *cmd)
{
    const command *c = find_command(cmd->verb);
    char token[FTP_LINE_MAX + 1];
    const char *arg = cmd->arg;
    if (c && (c->flags & CMD_TOKEN)) {
        size_t len = strlen(arg);
        while (len > 0 && arg[len - 1] == ' ')
            len--;
        memcpy(token, arg, len);
        token[len] = '\0';
        arg = token;
    }
    /* RNTO must follow RNFR at once (RFC 959): any other line, even one refused, ends the
     * rename, and so does an RNTO refused for want of its argument. */
    if (s->rename_from && (!c || c->handler != cmd_rnto || !cmd->arg[0]))
        session_forget_rename(s);
    bool allo = s->allo_set;
    s->allo_set = false; /* given back below to a line that reaches its handler and keeps it */
    if (!cmd->verb[0]) {
        /* Every line gets a reply: a client that sent one waits for it. */
        session_reply(s, FTP_SYNTAX_ERROR, "Empty command.");
        return;
    }
    /* An unknown line is not echoed: a mistyped PASS ("PASS<TAB>secret", a stray Telnet
     * byte inside the verb) is one, and the password must never reach a log. */
    if (!c)
        log_debug("[%lu] -> unknown command (%zu bytes)", s->id,
                  strlen(cmd->verb) + (cmd->has_arg ? 1 + strlen(cmd->arg) : 0));
    else if (strcmp(cmd->verb, "PASS") == 0)
        log_debug("[%lu] -> PASS ****", s->id);
    else
        log_debug("[%lu] -> %s%s%s", s->id, cmd->verb, cmd->has_arg ? " " : "", cmd->arg);

    if (!c) {
        if (commands_not_implemented(cmd->verb)) {
            session_reply(s, FTP_NOT_IMPLEMENTED, "%s not implemented.", cmd->verb);
            return;
        }
        session_reply(s, FTP_SYNTAX_ERROR, "Unknown command.");
        return;
    }
    if ((c->flags & CMD_LOGIN) && s->state != SESS_READY) {
        session_reply(s, FTP_NOT_LOGGED_IN, "Please login with USER and PASS.");
        return;
    }
    if ((c->flags & CMD_ARG) && !arg[0]) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "%s needs an argument.", c->name);
        return;
    }
    if (c->perm && !(s->perms & c->perm)) {
        const char *path = arg;
        if (c->handler == cmd_mfmt) { /* its path follows its time */
            const char *sp = strchr(arg, ' ');
            path = sp ? sp + 1 : "";
        }
        refuse_for_perms(s, c->name, path, c->perm, "Permission denied.");
        return;
    }
    if (s->rang_set && !hash_rang_allows(s, c->handler))
        return;
    s->allo_set = allo && keeps_allo(c);
    c->handler(s, arg);
}

void refuse_for_perms(session *s, const char *verb, const char *arg, unsigned need,
                      const char *text)
{
    /* As for a refusal by the file system (upload_failed): without a line the operator of an
     * account that "cannot upload" finds nothing in the log but its login. */
    char vpath[PATH_VMAX], cut[LOG_PATH_BUF];
    const char *shown = arg;
    if (arg[0] && !(need & PERM_LIST) &&
        path_resolve(s->cwd ? s->cwd : "/", arg, vpath, sizeof vpath) == 0)
        shown = vpath;
    shown = log_path(shown, cut, sizeof cut);
    char letters[16], needed[48];
    users_format_perms(need, letters);
    size_t n = 0;
    for (const char *l = letters; *l && n + 8 < sizeof needed; l++)
        n += (size_t)snprintf(needed + n, sizeof needed - n, "%s%c", n ? " or " : "", *l);
    users_format_perms(s->perms, letters);
    session_log(s, "%s%s%s refused: the account's permissions (%s) lack %s", verb,
                shown[0] ? " " : "", shown, letters[0] ? letters : "none", needed);
    session_reply(s, FTP_FILE_UNAVAILABLE, "%s", text);
}

void commands_help_text(char *out, size_t out_size)
{
    size_t len = (size_t)snprintf(out, out_size, "The following commands are recognized.");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0] && len < out_size; i++) {
        len += (size_t)snprintf(out + len, out_size - len, "%s%-5s", i % 8 ? " " : "\n",
                                commands[i].name);
    }
    if (len < out_size)
        snprintf(out + len, out_size - len, "\nHelp OK.");
}

const char *commands_syntax(const char *verb, const char **name)
{
    const command *c = find_command(verb);
    if (!c)
        return NULL;
    *name = c->name;
    return c->syntax;
}

void reply_named(session *s, int code, const char *verb, const char *name, const char *text)
{
    session_reply(s, code, "%s: %s", name != NULL && name[0] != '\0' ? name : verb, text);
}

bool refused_own_file(session *s, int rc, const struct stat *st, const char *verb, const char *name)
{
    if (rc != 0 || !ownfiles_holds(st))
        return false;
    reply_errno(s, OWNFILES_REFUSED, verb, name);
    return true;
}

bool names_own_file(const vfs *v, const char *vpath, bool follow)
{
    struct stat st;
    if (follow)
        return vfs_stat(v, vpath, &st) == 0 && ownfiles_holds(&st);
    const char *base;
    int dfd = vfs_open_parent(v, vpath, &base);
    bool own =
        dfd >= 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && ownfiles_guards(&st);
    if (dfd >= 0)
        close(dfd);
    return own;
}

bool leads_to_guarded(const vfs *v, const char *vpath)
{
    struct stat st;
    return vfs_stat(v, vpath, &st) == 0 && ownfiles_guards(&st);
}

void reply_errno(session *s, int err, const char *verb, const char *name)
{
    const char *action = name != NULL && name[0] != '\0' ? name : verb;
    switch (err) {
    case ENOENT:
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: No such file or directory.", action);
        break;
    case OWNFILES_REFUSED: {
        /* the operator hears why; the client only that it is not to be had */
        char shown[LOG_PATH_BUF];
        session_log(s,
                    "%s %s refused: one of the server's own files (users file, TLS key, "
                    "transfer log or configuration file)",
                    verb, log_path(action, shown, sizeof shown));
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: File not available.", action);
        break;
    }
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP:
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: Permission denied.", action);
        break;
    case ENOSPC:
    case EDQUOT:
        session_reply(s, FTP_INSUFFICIENT_STORAGE, "%s: Insufficient storage space.", action);
        break;
    case ENAMETOOLONG:
        session_reply(s, FTP_BAD_FILENAME, "%s: File name too long.", action);
        break;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        /* The server's shortage, not the file's: a 550 would tell the client that the file
         * is not to be had (curl reports it missing) where a retry later may well work. */
        session_reply(s, FTP_LOCAL_ERROR, "%s: %s; try again later.", action, strerror(err));
        break;
    default:
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: %s.", action, strerror(err));
        break;
    }
}
