#include "fsjob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirlist.h"
#include "fsgate.h"
#include "ftp_reply.h"
#include "server.h"
#include "session.h"
#include "upload.h"
#include "workq.h"
#include "xfer.h"
#include "xfer_io.h"

/* Frees j with what it holds but its fd and root. */
static void free_rest(fsjob *j)
{
    dirlist_free(j->dl);
    buf_free(&j->text);
    free(j->vpath);
    free(j->from);
    free(j->arg);
    free(j);
}

fsjob *fsjob_new(session *s, const char *vpath, const char *arg)
{
    fsjob *j = calloc(1, sizeof *j);
    if (j) {
        j->vpath = strdup(vpath);
        j->arg = strdup(arg);
        j->v.root_fd = -1;
        j->fd = -1;
        j->s = s;
        j->perms = s->perms;
        j->ascii_sizes = s->vfs.speed == VFS_REMOTE ? NULL : &s->srv->ascii_sizes;
        j->names_dir = path_names_dir(arg);
    }
    if (!j || !j->vpath || !j->arg) {
        if (j)
            free_rest(j);
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return NULL;
    }
    return j;
}

static void free_job(fsjob *j, bool on_worker)
{
    if (on_worker) {
        vfs_close(&j->v);
        /* On FUSE or NFS a close asks the file's server too: not on the loop. */
        server_close_later(j->s->srv, j->fd);
    } else if (j->fd >= 0) {
        close(j->fd);
    }
    free_rest(j);
}

static void unlink_job(fsjob *j)
{
    server *srv = j->s->srv;
    if (j->prev)
        j->prev->next = j->next;
    else
        srv->fs_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

/* path_resolve drops a trailing "/", which POSIX resolution holds to naming a directory:
 * "DELE notes.txt/" must not delete the file. */
static void work_checked(fsjob *j)
{
    struct stat st;
    if (j->names_dir && vfs_stat(&j->v, j->vpath, &st) == 0 && !S_ISDIR(st.st_mode))
        j->not_dir = true;
    else
        j->work(j);
}

static bool fast_checked(fsjob *j)
{
    if (j->names_dir) {
        struct stat st;
        int fd = vfs_open_cached(&j->v, j->vpath, O_PATH);
        if (fd < 0 && errno == EAGAIN)
            return false;
        j->not_dir = fd >= 0 && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode);
        if (fd >= 0)
            close(fd);
        if (j->not_dir)
            return true;
    }
    return j->fast(j);
}

static void reply_stalled(session *s, const fsjob *j)
{
    session_reply(s, FTP_LOCAL_ERROR, "%s%sFile system not responding; try again later.", j->arg,
                  j->arg[0] ? ": " : "");
}

static void reply_checked(session *s, fsjob *j)
{
    if (j->refused)
        reply_stalled(s, j);
    else if (j->not_dir)
        session_reply(s, FTP_FILE_UNAVAILABLE, "%s: Not a directory.", j->arg);
    else
        j->reply(s, j);
}

static void work_fn(void *arg)
{
    work_checked(arg);
}

static void done_fn(void *arg)
{
    fsjob *j = arg;
    session *s = j->s;
    unlink_job(j);
    s->jobs--;
    s->flags &= ~SF_FS_WAIT;
    s->last_activity = ev_now(s->srv->loop); /* the idle time starts at the reply */
    if (s->opening == j)
        s->opening = NULL;
    if (s->state != SESS_CLOSED) {
        reply_checked(s, j);
        if (j->cancelled && xfer_busy(s->xfer))
            xfer_cut(s);
        session_resume_after_job(s);
    }
    free_job(j, true);
}

static void run_inline(session *s, fsjob *j)
{
    j->v = s->vfs; /* borrowed */
    work_checked(j);
    reply_checked(s, j);
    j->v.root_fd = -1;
    free_job(j, false);
}

void fsjob_run(fsjob *j, void (*work)(fsjob *), void (*reply)(session *, fsjob *))
{
    session *s = j->s;
    j->work = work;
    j->reply = reply;
    /* During a transfer (STAT of a path) too: a slow disk would hold every session while the
     * listing is read. The transfer's 226 may then come first, as it would had the transfer
     * ended before the STAT was read; SF_FS_WAIT holds the lines after it. */
    if (s->vfs.speed == VFS_MEMORY && !j->long_work) {
        run_inline(s, j);
        return;
    }
    /* In memory too for work that reads a file: its fast calls may find the answer kept. */
    if (s->vfs.speed != VFS_REMOTE && j->fast) {
        j->v = s->vfs; /* borrowed */
        bool done = fast_checked(j);
        j->v.root_fd = -1;
        if (done) {
            reply_checked(s, j);
            free_job(j, false);
            return;
        }
    }
    workq *q = xfer_io_queue(s->srv);
    j->v.root_fd = fcntl(s->vfs.root_fd, F_DUPFD_CLOEXEC, 0);
    j->on_worker = true; /* before the submit: a worker may take it at once */
    if (!q || j->v.root_fd < 0 ||
        fsgate_submit(s->srv, s->root, q, work_fn, done_fn, j, &j->refused) < 0) {
        bool stalled = q && j->v.root_fd >= 0 && errno == EBUSY; /* fsgate.h */
        j->on_worker = false;
        if (j->v.root_fd >= 0)
            close(j->v.root_fd);
        j->v.root_fd = -1;
        if (stalled) {
            reply_stalled(s, j);
            free_job(j, false);
            return;
        }
        run_inline(s, j); /* no worker to be had: the loop does the calls itself, as before */
        return;
    }
    server *srv = s->srv;
    j->next = srv->fs_jobs;
    if (j->next)
        j->next->prev = j;
    srv->fs_jobs = j;
    s->jobs++;
    /* Not SF_READ_PAUSED: a transfer's end that resumes the session meanwhile (STAT's
     * transfer, a reply's resume) must not let the next command overtake this one. */
    s->flags |= SF_FS_WAIT;
    if (j->opens_transfer)
        s->opening = j;
}

void fsjob_lock_names(const fsjob *j)
{
    if (j->on_worker)
        upload_names_lock();
}

void fsjob_unlock_names(const fsjob *j)
{
    if (j->on_worker)
        upload_names_unlock();
}

void fsjob_cancel(fsjob *j)
{
    j->cancelled = true;
}

void fsjob_shutdown(server *srv)
{
    while (srv->fs_jobs) {
        fsjob *j = srv->fs_jobs;
        srv->fs_jobs = j->next;
        vfs_close(&j->v);
        free_job(j, false); /* the pool has stopped: its fd is closed here */
    }
}
