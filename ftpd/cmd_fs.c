/* PWD CWD CDUP MKD RMD DELE RNFR RNTO SIZE MDTM MFMT MLST. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "asciisize.h"
#include "commands_int.h"
#include "factaccess.h"
#include "fsjob.h"
#include "ftp_reply.h"
#include "listfmt.h"
#include "logpath.h"
#include "ownfiles.h"
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

/* Runs a command whose calls are those of work (or of fast, fsjob.h; may be NULL) on the path
 * arg names. root_refusal: NULL, or the 550 text for a path that is the user's root, which
 * the command cannot act on. */
static void run_on_path(session *s, const char *arg, const char *root_refusal,
                        bool (*fast)(fsjob *), void (*work)(fsjob *),
                        void (*reply)(session *, fsjob *))
{
    char vpath[PATH_VMAX];
    if (session_resolve(s, arg, vpath) < 0)
        return;
    if (root_refusal != NULL && is_root(vpath)) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s", root_refusal);
        return;
    }
    fsjob *j = fsjob_new(s, vpath, arg);
    if (!j)
        return;
    j->fast = fast;
    fsjob_run(j, work, reply);
}

/* 0 when the server may look up names in the directory dfd (its x bit: looking up "." needs
 * it, as any name does), else -1 with errno set. */
static int may_search(int dfd)
{
    int in = openat(dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (in < 0)
        return -1;
    close(in);
    return 0;
}

/* A stat of the path from the kernel's caches alone (fsjob.h); with dir_search, when it is a
 * directory, whether the server may look up names in it (cwd_work). */
static bool stat_cached(fsjob *j, bool dir_search)
{
    int fd = vfs_open_cached(&j->v, j->vpath, O_PATH);
    if (fd < 0 && errno == EAGAIN)
        return false;
    j->rc = fd < 0 ? -1 : fstat(fd, &j->st);
    j->err = errno;
    if (j->rc == 0 && dir_search && S_ISDIR(j->st.st_mode)) {
        j->rc = may_search(fd);
        j->err = errno;
    }
    if (fd >= 0)
        close(fd);
    return true;
}

static bool stat_fast(fsjob *j)
{
    return stat_cached(j, false);
}

void cmd_pwd(session *s, const char *arg)
{
    reply_path(s, FTP_PATH_CREATED, s->cwd, "is the current directory.");
}

static void cwd_work(fsjob *j)
{
    if (vfs_stat(&j->v, j->vpath, &j->st) < 0) {
        j->rc = -1;
        j->err = errno;
        return;
    }
    if (!S_ISDIR(j->st.st_mode))
        return;
    /* A directory the server may not search (no x bit for it) would be a dead end: every
     * name in it fails. Looking up "." in it needs that permission, as any name does. */
    int dfd = vfs_open(&j->v, j->vpath, O_PATH | O_DIRECTORY, 0);
    j->rc = dfd >= 0 ? may_search(dfd) : -1;
    j->err = errno;
    if (dfd >= 0)
        close(dfd);
}

static bool cwd_fast(fsjob *j)
{
    return stat_cached(j, true);
}

static void cwd_reply(session *s, fsjob *j)
{
    if (j->rc < 0) {
        reply_errno(s, j->err, "CWD", j->arg);
        return;
    }
    if (!S_ISDIR(j->st.st_mode)) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "CWD", j->arg, "Not a directory.");
        return;
    }
    char *n = strdup(j->vpath);
    if (!n) {
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    free(s->cwd);
    s->cwd = n;
    session_reply(s, FTP_FILE_ACTION_OK, "Directory changed to %s.", j->vpath);
}

/* The user's root: it cannot be deleted, renamed or replaced, and always exists. */
bool is_root(const char *vpath)
{
    return strcmp(vpath, "/") == 0;
}

void cmd_cwd(session *s, const char *arg)
{
    run_on_path(s, arg, NULL, cwd_fast, cwd_work, cwd_reply);
}

void cmd_cdup(session *s, const char *arg)
{
    run_on_path(s, "..", NULL, cwd_fast, cwd_work, cwd_reply);
}

static void mkd_work(fsjob *j)
{
    if (is_root(j->vpath)) { /* mkdir(2) answers EINVAL, not EEXIST, for the root */
        j->rc = -1;
        j->err = EEXIST;
        return;
    }
    j->rc = vfs_mkdir(&j->v, j->vpath, 0777);
    j->err = errno;
}

static void mkd_reply(session *s, fsjob *j)
{
    if (j->rc < 0 && j->err == EEXIST) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "MKD", j->arg, "File exists.");
        return;
    }
    if (j->rc < 0) {
        reply_errno(s, j->err, "MKD", j->arg);
        return;
    }
    session_log(s, "MKD %s", j->vpath);
    reply_path(s, FTP_PATH_CREATED, j->vpath, "created.");
}

void cmd_mkd(session *s, const char *arg)
{
    run_on_path(s, arg, NULL, NULL, mkd_work, mkd_reply);
}

static void rmd_work(fsjob *j)
{
    j->rc = vfs_rmdir(&j->v, j->vpath);
    j->err = errno;
}

static void rmd_reply(session *s, fsjob *j)
{
    if (j->rc < 0) {
        if (j->err == ENOTEMPTY || j->err == EEXIST)
            reply_named(s, FTP_FILE_UNAVAILABLE, "RMD", j->arg, "Directory not empty.");
        else if (j->err == EBUSY) /* it looks empty: say why it stays (vfs_rmdir) */
            session_reply(s, FTP_FILE_BUSY,
                          "RMD: An upload into the directory is in progress; try again when "
                          "it ends.");
        else
            reply_errno(s, j->err, "RMD", j->arg);
        return;
    }
    session_log(s, "RMD %s", j->vpath);
    session_reply(s, FTP_FILE_ACTION_OK, "Directory removed.");
}

void cmd_rmd(session *s, const char *arg)
{
    run_on_path(s, arg, "RMD: Cannot remove the root directory.", NULL, rmd_work, rmd_reply);
}

/* The name's kept partial upload (upload.h) goes with it: left behind, it would be resumed
 * into a file the client deleted, and a client that only has a partial (its upload was cut)
 * deletes that. found: 1 when a partial went. */
static void dele_work(fsjob *j)
{
    if (names_own_file(&j->v, j->vpath, false)) {
        j->rc = -1;
        j->err = OWNFILES_REFUSED;
        return;
    }
    fsjob_lock_names(j);
    j->rc = vfs_unlink(&j->v, j->vpath);
    j->err = errno;
    if (j->rc == 0 || j->err == ENOENT)
        j->found = upload_discard_partial(&j->v, j->vpath);
    fsjob_unlock_names(j);
}

static void dele_reply(session *s, fsjob *j)
{
    char shown[LOG_PATH_BUF];
    if (j->rc < 0) {
        if (j->err == ENOENT && j->found > 0) {
            session_log(s, "DELE %s (partial upload)", log_path(j->vpath, shown, sizeof shown));
            session_reply(s, FTP_FILE_ACTION_OK, "Partial upload deleted.");
            return;
        }
        if (j->err == EISDIR)
            reply_named(s, FTP_FILE_UNAVAILABLE, "DELE", j->arg, "Is a directory (use RMD).");
        else
            reply_errno(s, j->err, "DELE", j->arg);
        return;
    }
    session_log(s, "DELE %s%s", log_path(j->vpath, shown, sizeof shown),
                j->found > 0 ? " (and its partial upload)" : "");
    session_reply(s, FTP_FILE_ACTION_OK, "File deleted.");
}

void cmd_dele(session *s, const char *arg)
{
    run_on_path(s, arg, "DELE: Cannot delete the root directory.", NULL, dele_work, dele_reply);
}

static void rnfr_work(fsjob *j)
{
    const char *base;
    int pfd = vfs_open_parent(&j->v, j->vpath, &base);
    j->rc = pfd < 0 ? -1 : fstatat(pfd, base, &j->st, AT_SYMLINK_NOFOLLOW);
    j->err = errno;
    if (pfd >= 0)
        close(pfd);
}

static void rnfr_reply(session *s, fsjob *j)
{
    /* the entry itself (lstat): a folder an own file's path passes through too */
    if (j->rc == 0 && ownfiles_guards(&j->st)) {
        reply_errno(s, OWNFILES_REFUSED, "RNFR", j->arg);
        return;
    }
    if (j->rc < 0) {
        reply_errno(s, j->err, "RNFR", j->arg);
        return;
    }
    s->rename_from = j->vpath;
    j->vpath = NULL;
    session_reply(s, FTP_PENDING_MORE, "Ready for RNTO.");
}

void cmd_rnfr(session *s, const char *arg)
{
    run_on_path(s, arg, "RNFR: Cannot rename the root directory.", NULL, rnfr_work, rnfr_reply);
}

static void rnto_work(fsjob *j)
{
    if (j->dir_form && vfs_stat(&j->v, j->from, &j->st) == 0 && !S_ISDIR(j->st.st_mode)) {
        j->rc = -1;
        j->err = ENOTDIR; /* "new/" would name a directory */
        return;
    }
    /* RNFR refused the source; it may have been put in its place since */
    if (names_own_file(&j->v, j->from, false) || names_own_file(&j->v, j->vpath, false)) {
        j->rc = -1;
        j->err = OWNFILES_REFUSED;
        return;
    }
    fsjob_lock_names(j);
    j->rc = vfs_rename(&j->v, j->from, j->vpath);
    j->err = errno;
    /* The name is complete now, as after a STOR of it: a partial of an earlier cut upload of
     * it is stale (a later REST would resume from it, not from the file), as upload_commit
     * finds it. */
    if (j->rc == 0 && strcmp(j->from, j->vpath) != 0)
        j->found = upload_discard_partial(&j->v, j->vpath);
    fsjob_unlock_names(j);
}

static void rnto_reply(session *s, fsjob *j)
{
    if (j->rc < 0 && j->err == EINVAL) /* rename(2)'s answer to a directory moved into itself */
        session_reply(s, FTP_FILE_UNAVAILABLE, "RNTO: Cannot move a directory into itself.");
    else if (j->rc < 0)
        reply_errno(s, j->err, "RNTO", j->arg);
    else {
        char from[LOG_PATH_BUF], to[LOG_PATH_BUF];
        session_log(s, "RENAME %s -> %s%s", log_path(j->from, from, sizeof from),
                    log_path(j->vpath, to, sizeof to),
                    j->found > 0 ? " (its partial upload removed)" : "");
        session_reply(s, FTP_FILE_ACTION_OK, "Rename successful.");
    }
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
    if (session_resolve(s, arg, vpath) < 0) {
        free(from);
        return;
    }
    if (is_root(vpath)) {
        free(from);
        session_reply(s, FTP_FILE_UNAVAILABLE, "RNTO: Cannot replace the root directory.");
        return;
    }
    fsjob *j = fsjob_new(s, vpath, arg);
    if (!j) {
        free(from);
        return;
    }
    j->from = from;
    j->dir_form = path_names_dir(arg);
    fsjob_run(j, rnto_work, rnto_reply);
}

/* SIZE is what RETR would send (RFC 3659 section 4), so a file that exists reports its own
 * size, whatever upload of it was cut short, and in TYPE A the size with its line ends
 * converted. A name that only has a partial upload (its first upload never completed)
 * reports the partial to a session that may resume it: found, its size, the offset a REST
 * takes in either TYPE. */
static void size_work(fsjob *j)
{
    j->rc = vfs_stat(&j->v, j->vpath, &j->st);
    j->err = errno;
    j->found = j->rc < 0 && j->err == ENOENT && (j->perms & (PERM_WRITE | PERM_APPEND))
                   ? upload_resume_size(&j->v, j->vpath)
                   : -1;
    if (!j->ascii || j->rc < 0 || !S_ISREG(j->st.st_mode))
        return;
    /* O_NONBLOCK: what the stat saw may have become a FIFO since. */
    int fd = vfs_open(&j->v, j->vpath, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0 || fstat(fd, &j->st) < 0) {
        j->rc = -1;
        j->err = errno;
    } else if (!S_ISREG(j->st.st_mode)) {
        /* size_reply refuses it */
    } else if ((j->found = asciisize_of(j->ascii_sizes, fd, &j->st)) < 0) {
        j->rc = -1;
        j->err = errno; /* EFBIG: larger than it counts */
    }
    if (fd >= 0)
        close(fd);
}

/* A name that is not there may have a partial upload to report: the worker looks. */
static bool size_fast(fsjob *j)
{
    j->found = -1;
    return stat_cached(j, false) && !(j->rc < 0 && j->err == ENOENT);
}

/* TYPE A: only a size already counted, which the cache keeps for the file as it is now;
 * anything else (a count to make, an error to tell) is the worker's. */
static bool size_fast_ascii(fsjob *j)
{
    int fd = vfs_open_cached(&j->v, j->vpath, O_PATH);
    if (fd < 0)
        return false;
    j->rc = fstat(fd, &j->st);
    close(fd);
    if (j->rc < 0 || !S_ISREG(j->st.st_mode))
        return false;
    j->found = asciisize_lookup(j->ascii_sizes, &j->st);
    return j->found >= 0;
}

static void size_reply(session *s, fsjob *j)
{
    if (refused_own_file(s, j->rc, &j->st, "SIZE", j->arg))
        return;
    if (j->found >= 0)
        session_reply(s, FTP_FILE_STATUS, "%lld", j->found);
    else if (j->rc < 0 && j->err == EFBIG)
        reply_named(s, FTP_FILE_UNAVAILABLE, "SIZE", j->arg,
                    "Too large to count its size in ASCII mode; TYPE I gives it.");
    else if (j->rc < 0)
        reply_errno(s, j->err, "SIZE", j->arg);
    else if (!S_ISREG(j->st.st_mode))
        reply_named(s, FTP_FILE_UNAVAILABLE, "SIZE", j->arg, "Not a regular file.");
    else
        session_reply(s, FTP_FILE_STATUS, "%lld", (long long)j->st.st_size);
}

static void stat_work(fsjob *j)
{
    j->rc = vfs_stat(&j->v, j->vpath, &j->st);
    j->err = errno;
}

static void mdtm_reply(session *s, fsjob *j)
{
    char when[16];
    if (refused_own_file(s, j->rc, &j->st, "MDTM", j->arg))
        return;
    if (j->rc < 0) {
        reply_errno(s, j->err, "MDTM", j->arg);
        return;
    }
    if (!S_ISREG(j->st.st_mode)) {
        reply_named(s, FTP_FILE_UNAVAILABLE, "MDTM", j->arg, "Not a regular file.");
        return;
    }
    listfmt_mdtm(when, sizeof when, j->st.st_mtime);
    session_reply(s, FTP_FILE_STATUS, "%s", when);
}

void cmd_size(session *s, const char *arg)
{
    char vpath[PATH_VMAX];
    if (session_resolve(s, arg, vpath) < 0)
        return;
    fsjob *j = fsjob_new(s, vpath, arg);
    if (!j)
        return;
    /* In TYPE A the file is read, which the kernel's caches alone cannot promise (fsjob.h), and
     * which takes time even in memory. */
    j->ascii = j->long_work = (s->flags & SF_ASCII) != 0;
    j->fast = j->ascii ? size_fast_ascii : size_fast;
    fsjob_run(j, size_work, size_reply);
}

void cmd_mdtm(session *s, const char *arg)
{
    run_on_path(s, arg, NULL, stat_fast, stat_work, mdtm_reply);
}

/* The time the filesystem kept, which is what MDTM and listings will say: it may clamp a time
 * outside its range (ext4 ends in 2446) or round to its own precision. */
static void mfmt_work(fsjob *j)
{
    if (names_own_file(&j->v, j->vpath, true)) {
        j->rc = -1;
        j->err = OWNFILES_REFUSED;
        return;
    }
    j->rc = vfs_set_mtime(&j->v, j->vpath, &j->mtime);
    j->err = errno;
    j->found =
        j->rc == 0 && vfs_stat(&j->v, j->vpath, &j->st) == 0 ? j->st.st_mtime : j->mtime.tv_sec;
}

static void mfmt_reply(session *s, fsjob *j)
{
    if (j->rc < 0) {
        reply_errno(s, j->err, "MFMT", j->arg);
        return;
    }
    char shown[16];
    listfmt_mdtm(shown, sizeof shown, (time_t)j->found);
    session_log(s, "MFMT %s %s", shown, j->vpath);
    session_reply(s, FTP_FILE_STATUS, "Modify=%s; %s", shown, j->arg);
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
    if (session_resolve(s, name, vpath) < 0)
        return;
    fsjob *j = fsjob_new(s, vpath, name);
    if (!j)
        return;
    j->mtime = when_ts;
    fsjob_run(j, mfmt_work, mfmt_reply);
}

/* MLST's stat, and the server's own access to the path and to the names of its directory for
 * the perm fact (factaccess.h) into found; from the kernel's caches alone when `cached` (false
 * when they would not do: fsjob.h). */
static bool mlst_calls(fsjob *j, bool cached)
{
    char parent[PATH_VMAX];
    int fd =
        cached ? vfs_open_cached(&j->v, j->vpath, O_PATH) : vfs_open(&j->v, j->vpath, O_PATH, 0);
    if (fd < 0 && cached && errno == EAGAIN)
        return false;
    if (fd < 0 || fstat(fd, &j->st) < 0) {
        j->rc = -1;
        j->err = errno;
        if (fd >= 0)
            close(fd);
        return true;
    }
    j->rc = 0;
    unsigned no = 0;
    if (!is_root(j->vpath)) { /* the root's d and f are never offered (LISTFMT_ROOT) */
        int dir = path_dirname(j->vpath, parent, sizeof parent) < 0 ? -1
                  : cached ? vfs_open_cached(&j->v, parent, O_PATH | O_DIRECTORY)
                           : vfs_open(&j->v, parent, O_PATH | O_DIRECTORY, 0);
        if (dir < 0 && cached && errno == EAGAIN) {
            close(fd);
            return false;
        }
        no |= dir < 0 ? LISTFMT_NO_NAMES
                      : factaccess_name(factaccess_names(dir, j->perms), dir,
                                        path_basename(j->vpath), NULL);
        if (dir >= 0)
            close(dir);
    }
    no |= factaccess_entry(fd, "", AT_EMPTY_PATH, &j->st, j->perms);
    close(fd);
    j->found = no;
    return true;
}

static bool mlst_fast(fsjob *j)
{
    return mlst_calls(j, true);
}

static void mlst_work(fsjob *j)
{
    mlst_calls(j, false);
}

static void mlst_reply(session *s, fsjob *j)
{
    char facts[PATH_VMAX + 256], text[2 * PATH_VMAX + 320];
    if (refused_own_file(s, j->rc, &j->st, "MLST", j->arg))
        return;
    if (j->rc < 0) {
        reply_errno(s, j->err, "MLST", j->arg);
        return;
    }
    unsigned perms = s->perms | (unsigned)j->found | (is_root(j->vpath) ? LISTFMT_ROOT : 0);
    int n =
        listfmt_mlsx_facts(facts, sizeof facts, j->vpath, &j->st, perms, NULL, 0, s->mlst_facts);
    if (n < 2) {
        session_reply(s, FTP_FILE_UNAVAILABLE, "MLST: Name too long.");
        return;
    }
    facts[n - 2] = '\0'; /* the reply writer adds the line ending */
    snprintf(text, sizeof text, "Listing %s\n%s\nEnd", j->vpath, facts);
    session_reply_lines(s, FTP_FILE_ACTION_OK, text);
}

void cmd_mlst(session *s, const char *arg)
{
    run_on_path(s, arg, NULL, mlst_fast, mlst_work, mlst_reply);
}
