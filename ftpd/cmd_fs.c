/* PWD CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM MFMT MLST. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "commands_int.h"
#include "ftp_reply.h"
#include "listfmt.h"
#include "path.h"
#include "upload.h"

static void reply_path(session *s, int code, const char *vpath, const char *what)
{
    char q[2 * PATH_VMAX + 1]; /* every byte of the longest path may be a doubled '"' */
    if (ftp_quote_path(vpath, q, sizeof q) < 0) {
        /* A stand-in would read as a real path; an error cannot be mistaken for one. */
        session_reply(s, FTP_LOCAL_ERROR, "Path too long for a reply.");
        return;
    }
    session_reply(s, code, "\"%s\" %s", q, what);
}

void cmd_pwd(session *s, const char *arg)
{
    reply_path(s, FTP_PATH_CREATED, s->cwd, "is the current directory.");
}

static void change_dir(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    struct stat st;
    if (session_path(s, arg, vpath) < 0)
        return;
    if (vfs_stat(&s->vfs, vpath, &st) < 0) {
        reply_errno(s, errno, "CWD", arg);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "CWD", arg, "Not a directory.");
        return;
    }
    /* A directory the server may not search (no x bit for it) would be a dead end: every
     * name in it fails. Looking up "." in it needs that permission, as any name does. */
    int dfd = vfs_open(&s->vfs, vpath, O_PATH | O_DIRECTORY, 0);
    int in = dfd >= 0 ? openat(dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int err = errno;
    if (in >= 0)
        close(in);
    if (dfd >= 0)
        close(dfd);
    if (in < 0) {
        reply_errno(s, err, "CWD", arg);
        return;
    }
    char *n = strdup(vpath);
    if (!n) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    free(s->cwd);
    s->cwd = n;
    session_reply(s, FTP_FILE_ACTION_OK, "Directory changed to %s.", vpath);
}

/* The user's root: it cannot be deleted, renamed or replaced, and always exists. */
bool is_root(const char *vpath)
{
    return strcmp(vpath, "/") == 0;
}

void cmd_cwd(session *s, const char *arg)
{
    change_dir(s, arg);
}

void cmd_cdup(session *s, const char *arg)
{
    change_dir(s, "..");
}

void cmd_mkd(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (session_path(s, arg, vpath) < 0)
        return;
    /* mkdir(2) answers EINVAL, not EEXIST, for the root */
    int err = is_root(vpath) ? EEXIST : vfs_mkdir(&s->vfs, vpath, 0777) < 0 ? errno : 0;
    if (err == EEXIST) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "MKD: File exists.");
        return;
    }
    if (err) {
        reply_errno(s, err, "MKD", arg);
        return;
    }
    session_log(s, "MKD %s", vpath);
    reply_path(s, FTP_PATH_CREATED, vpath, "created.");
}

void cmd_rmd(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (session_path(s, arg, vpath) < 0)
        return;
    if (is_root(vpath)) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "RMD: Cannot remove the root directory.");
        return;
    }
    if (vfs_rmdir(&s->vfs, vpath) < 0) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            reply_named(s, FTP_FILE_UNAVAILABLE, "RMD", arg, "Directory not empty.");
        else if (errno == EBUSY) /* it looks empty: say why it stays (vfs_rmdir) */
            session_reply(s, FTP_FILE_BUSY,
                          "RMD: An upload into the directory is in progress; try again when "
                          "it ends.");
        else
            reply_errno(s, errno, "RMD", arg);
        return;
    }
    session_log(s, "RMD %s", vpath);
    session_reply(s, FTP_FILE_ACTION_OK, "Directory removed.");
}

void cmd_dele(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (session_path(s, arg, vpath) < 0)
        return;
    if (is_root(vpath)) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "DELE: Cannot delete the root directory.");
        return;
    }
    /* The name's kept partial upload (upload.h) goes with it: left behind, it would be
     * resumed into a file the client deleted, and a client that only has a partial (its
     * upload was cut) deletes that. */
    if (vfs_unlink(&s->vfs, vpath) < 0) {
        int err = errno;
        if (err == ENOENT && upload_discard_partial(&s->vfs, vpath) > 0) {
            session_log(s, "DELE %s (partial upload)", vpath);
            session_reply(s, FTP_FILE_ACTION_OK, "Partial upload deleted.");
            return;
        }
        if (err == EISDIR)
            reply_named(s, FTP_FILE_UNAVAILABLE, "DELE", arg, "Is a directory (use RMD).");
        else
            reply_errno(s, err, "DELE", arg);
        return;
    }
    int partial = upload_discard_partial(&s->vfs, vpath);
    session_log(s, "DELE %s%s", vpath, partial > 0 ? " (and its partial upload)" : "");
    session_reply(s, FTP_FILE_ACTION_OK, "File deleted.");
}

void cmd_rnfr(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    struct stat st;
    if (session_path(s, arg, vpath) < 0)
        return;
    if (is_root(vpath)) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "RNFR: Cannot rename the root directory.");
        return;
    }
    const char *base;
    int pfd = vfs_open_parent(&s->vfs, vpath, &base);
    if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        int err = errno;
        if (pfd >= 0)
            close(pfd);
        reply_errno(s, err, "RNFR", arg);
        return;
    }
    close(pfd);
    s->rename_from = strdup(vpath);
    if (!s->rename_from) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    session_reply(s, FTP_PENDING_MORE, "Ready for RNTO.");
}

void cmd_rnto(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (!s->rename_from) {
        session_reply(s, FTP_BAD_SEQUENCE, "RNFR required first.");
        return;
    }
    char *from = s->rename_from;
    s->rename_from = NULL;
    struct stat st;
    if (session_path(s, arg, vpath) == 0) {
        if (is_root(vpath)) {
            session_reply(s, FTP_FILE_UNAVAILABLE, "RNTO: Cannot replace the root directory.");
        } else if (path_names_dir(arg) && vfs_stat(&s->vfs, from, &st) == 0 &&
                   !S_ISDIR(st.st_mode)) {
            reply_errno(s, ENOTDIR, "RNTO", arg); /* "new/" would name a directory */
        } else if (vfs_rename(&s->vfs, from, vpath) < 0) {
            if (errno == EINVAL) /* rename(2)'s answer to a directory moved into itself */
                session_reply(s, FTP_FILE_UNAVAILABLE,
                              "RNTO: Cannot move a directory into itself.");
            else
                reply_errno(s, errno, "RNTO", arg);
        } else {
            /* The name is complete now, as after a STOR of it: a partial of an earlier cut
             * upload of it is stale (a later REST would resume from it, not from the file),
             * as upload_commit finds it. */
            int partial = strcmp(from, vpath) != 0 ? upload_discard_partial(&s->vfs, vpath) : 0;
            session_log(s, "RENAME %s -> %s%s", from, vpath,
                        partial > 0 ? " (its partial upload removed)" : "");
            session_reply(s, FTP_FILE_ACTION_OK, "Rename successful.");
        }
    }
    free(from);
}

void cmd_size(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    struct stat st;
    if (session_path(s, arg, vpath) < 0)
        return;
    bool have = vfs_stat(&s->vfs, vpath, &st) == 0;
    int err = errno;
    /* SIZE is what RETR would send (RFC 3659), so a file that exists reports its own size,
     * whatever upload of it was cut short. A name that only has a partial upload (its first
     * upload never completed) reports the partial to a session that may resume it. */
    off_t partial = !have && err == ENOENT && (s->perms & (PERM_WRITE | PERM_APPEND))
                        ? upload_resume_size(&s->vfs, vpath)
                        : -1;
    if (partial >= 0) {
        session_reply(s, FTP_FILE_STATUS, "%lld", (long long)partial);
        return;
    }
    if (!have) {
        reply_errno(s, err, "SIZE", arg);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "SIZE", arg, "Not a regular file.");
        return;
    }
    session_reply(s, FTP_FILE_STATUS, "%lld", (long long)st.st_size);
}

void cmd_mdtm(session *s, const char *arg)
{
    char vpath[PATH_VMAX], when[16];
    struct stat st;
    if (session_path(s, arg, vpath) < 0)
        return;
    if (vfs_stat(&s->vfs, vpath, &st) < 0) {
        reply_errno(s, errno, "MDTM", arg);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "MDTM", arg, "Not a regular file.");
        return;
    }
    listfmt_mdtm(when, sizeof when, st.st_mtime);
    session_reply(s, FTP_FILE_STATUS, "%s", when);
}

/* MFMT time path (draft-somers-ftp-mfxx): clients that keep the times of what they upload
 * (lftp's mirror -R, FileZilla) set them with it. */
void cmd_mfmt(session *s, const char *arg)
{
    char when[32], vpath[PATH_VMAX];
    const char *sp = strchr(arg, ' ');
    struct timespec when_ts;
    if (!sp || !sp[1]) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "MFMT: expected YYYYMMDDHHMMSS path.");
        return;
    }
    if ((size_t)(sp - arg) >= sizeof when) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "MFMT: bad time (YYYYMMDDHHMMSS, UTC).");
        return;
    }
    memcpy(when, arg, (size_t)(sp - arg));
    when[sp - arg] = '\0';
    if (listfmt_parse_mdtm(when, &when_ts) < 0) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "MFMT: bad time (YYYYMMDDHHMMSS, UTC).");
        return;
    }
    const char *name = sp + 1;
    if (session_path(s, name, vpath) < 0)
        return;
    if (vfs_set_mtime(&s->vfs, vpath, &when_ts) < 0) {
        reply_errno(s, errno, "MFMT", name);
        return;
    }
    /* The time the filesystem kept, which is what MDTM and listings will say: it may clamp
     * a time outside its range (ext4 ends in 2446) or round to its own precision. */
    struct stat st;
    time_t kept = vfs_stat(&s->vfs, vpath, &st) == 0 ? st.st_mtime : when_ts.tv_sec;
    char shown[16];
    listfmt_mdtm(shown, sizeof shown, kept);
    session_log(s, "MFMT %s %s", shown, vpath);
    session_reply(s, FTP_FILE_STATUS, "Modify=%s; %s", shown, name);
}

void cmd_mlst(session *s, const char *arg)
{
    char vpath[PATH_VMAX], facts[PATH_VMAX + 256], text[2 * PATH_VMAX + 320];
    struct stat st;
    if (session_path(s, arg, vpath) < 0)
        return;
    if (vfs_stat(&s->vfs, vpath, &st) < 0) {
        reply_errno(s, errno, "MLST", arg);
        return;
    }
    unsigned perms = s->perms | (strcmp(vpath, "/") == 0 ? LISTFMT_ROOT : 0);
    int n = listfmt_mlsx_facts(facts, sizeof facts, vpath, &st, perms, NULL, 0, s->mlst_facts);
    if (n < 2) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "MLST: Name too long.");
        return;
    }
    facts[n - 2] = '\0'; /* the reply writer adds the line ending */
    snprintf(text, sizeof text, "Listing %s\n%s\nEnd", vpath, facts);
    session_reply_lines(s, FTP_FILE_ACTION_OK, text);
}
