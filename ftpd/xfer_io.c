#include "xfer_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dirlist.h"
#include "fsgate.h"
#include "server.h"
#include "session.h"
#include "workq.h"
#include "xfer.h"

/* Pieces of work in flight at once: the depth of the queue a disk sees. */
#define XFER_IO_THREADS 4

typedef struct io_job {
    server *srv;
    session *s;
    unsigned long seq; /* the transfer it works for: x->seq */
    /* read-ahead */
    int fd; /* a duplicate: the transfer may end and close its own meanwhile */
    off_t from;
    size_t len;
    int err;
    /* listing: the worker holds the transfer's listing and buffer until it reports */
    dirlist *dl;
    buf out;
    bool more;
    struct io_job *prev, *next; /* in srv->io_jobs until delivered */
} io_job;

/* 1 when the page cache holds the byte at pos (or the file ends before it), 0 when reading
 * it would wait; -1 when the file system cannot say. */
static int cached_at(int fd, off_t pos)
{
    char c;
    struct iovec iov = {&c, 1};
    if (preadv2(fd, &iov, 1, pos, RWF_NOWAIT) >= 0)
        return 1;
    return errno == EAGAIN ? 0 : -1;
}

static void read_fn(void *arg)
{
    io_job *j = arg;
    char scratch[64 * 1024];
    /* All of the window's reads go to the disk at once; the reads below wait for them. */
    (void)posix_fadvise(j->fd, j->from, (off_t)j->len, POSIX_FADV_WILLNEED);
    size_t done = 0;
    while (done < j->len) {
        size_t want = j->len - done < sizeof scratch ? j->len - done : sizeof scratch;
        ssize_t n = pread(j->fd, scratch, want, j->from + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            j->err = errno;
        if (n <= 0)
            break; /* an error, or the file is shorter now: the transfer's own read says so */
        done += (size_t)n;
    }
    /* Here, not on the loop: on FUSE or NFS a close is a round trip to the file's server,
     * which may be busy with the reads of this very window. */
    close(j->fd);
    j->fd = -1;
}

static void unlink_job(io_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->srv->io_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void free_job(io_job *j)
{
    if (j->fd >= 0)
        close(j->fd);
    dirlist_free(j->dl);
    buf_free(&j->out);
    free(j);
}

/* The transfer j worked for, if it still runs. The session outlives its jobs (s->jobs); the
 * transfer may not. */
static xfer *job_xfer(const io_job *j)
{
    xfer *x = j->s->xfer;
    return j->s->state != SESS_CLOSED && x && x->seq == j->seq ? x : NULL;
}

static void read_done(void *arg)
{
    io_job *j = arg;
    unlink_job(j);
    j->s->jobs--;
    xfer *x = job_xfer(j);
    if (x && x->kind == XK_RETR && x->ra.busy) {
        x->ra.busy = false;
        if (j->err)
            x->ra.mode = RA_OFF; /* the transfer's own read meets the error and reports it */
        else
            x->ra.ready = j->from + (off_t)j->len;
        if (x->ra.waiting) {
            x->ra.waiting = false;
            ev_timer_start(j->srv->loop, &x->drain, 0); /* drain_cb pumps it */
        }
    }
    free_job(j);
}

static void list_fn(void *arg)
{
    io_job *j = arg;
    j->more = dirlist_fill(j->dl, &j->out) != 0;
}

static void list_done(void *arg)
{
    io_job *j = arg;
    unlink_job(j);
    j->s->jobs--;
    xfer *x = job_xfer(j);
    if (x && x->list_busy) {
        x->list_busy = false;
        x->dl = j->dl;
        j->dl = NULL;
        buf_free(&x->fbuf);
        x->fbuf = j->out;
        memset(&j->out, 0, sizeof j->out);
        if (!j->more)
            x->eof = true;
        ev_timer_start(j->srv->loop, &x->drain, 0); /* drain_cb pumps it */
    }
    free_job(j);
}

/* How long a worker added to the pool may idle (fsgate.h). FTPD_IO_IDLE_EXIT_MS, a knob
 * for tests only, shortens it so that one can see them go. */
static int idle_exit_ms(void)
{
    const char *env = getenv("FTPD_IO_IDLE_EXIT_MS");
    if (env) {
        char *end;
        long ms = strtol(env, &end, 10);
        if (end != env && *end == '\0' && ms > 0 && ms <= FSGATE_IDLE_EXIT_MS)
            return (int)ms;
    }
    return FSGATE_IDLE_EXIT_MS;
}

workq *xfer_io_queue(server *srv)
{
    if (!srv->wq_io) {
        srv->wq_io = workq_new_foreground(srv->loop, XFER_IO_THREADS);
        if (srv->wq_io)
            workq_set_idle_exit(srv->wq_io, idle_exit_ms());
    }
    return srv->wq_io;
}

/* Queues j on the pool and counts it. Returns 0, or -1 with errno
 * (j is then the caller's). */
static int submit(xfer *x, io_job *j, workq_fn fn, workq_done_cb done)
{
    server *srv = x->s->srv;
    if (!xfer_io_queue(srv))
        return -1;
    j->srv = srv;
    j->s = x->s;
    j->seq = x->seq;
    /* A transfer's next step waits for its turn as long as it takes (fsgate.h). */
    if (fsgate_submit(srv, x->s->root, srv->wq_io, fn, done, j, NULL) < 0)
        return -1;
    j->next = srv->io_jobs;
    if (j->next)
        j->next->prev = j;
    srv->io_jobs = j;
    x->s->jobs++;
    return 0;
}

/* Queues the read of the window at x->ra.ready. Returns 0, or -1 with errno. */
static int submit_read(xfer *x, size_t len)
{
    io_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->fd = fcntl(x->file_fd, F_DUPFD_CLOEXEC, 0);
    j->from = x->ra.ready;
    j->len = len;
    if (j->fd < 0 || submit(x, j, read_fn, read_done) < 0) {
        free_job(j);
        return -1;
    }
    x->ra.busy = true;
    return 0;
}

/* Moves `ready` on through windows the page cache holds, and sends a worker to read the
 * first that it does not, while less than half a window is ready ahead of the transfer. */
static void advance(xfer *x)
{
    readahead_state *ra = &x->ra;
    while (ra->mode == RA_ON && !ra->busy && ra->ready < x->total &&
           ra->ready - x->offset < READAHEAD_WINDOW / 2) {
        off_t left = x->total - ra->ready;
        size_t len = left < READAHEAD_WINDOW ? (size_t)left : READAHEAD_WINDOW;
        if (ra->probe) {
            int first = cached_at(x->file_fd, ra->ready);
            int last = first == 1 ? cached_at(x->file_fd, ra->ready + (off_t)len - 1) : first;
            if (first == 1 && last == 1) {
                ra->ready += (off_t)len;
                continue;
            }
            if (first < 0 || last < 0)
                ra->probe = false; /* FUSE, NFS...: every window goes through a worker */
        }
        if (submit_read(x, len) < 0)
            ra->mode = RA_OFF; /* no worker to be had: the loop reads for itself, as before */
    }
}

size_t readahead_avail(xfer *x, size_t want)
{
    readahead_state *ra = &x->ra;
    if (ra->mode == RA_UNDECIDED) {
        ra->mode = x->total > 0 && !vfs_fd_in_memory(x->file_fd) ? RA_ON : RA_OFF;
        ra->probe = true;
        ra->ready = x->offset;
    }
    if (ra->mode == RA_OFF)
        return want;
    if (ra->ready < x->offset && !ra->busy)
        ra->ready = x->offset;
    advance(x);
    if (ra->mode == RA_OFF || ra->ready >= x->total)
        return want; /* all of it is in (what lies beyond the size it had is the read's own) */
    if (ra->ready <= x->offset) {
        ra->waiting = true;
        return 0;
    }
    off_t n = ra->ready - x->offset;
    return (off_t)want < n ? want : (size_t)n;
}

int xfer_io_list_fill(xfer *x)
{
    if (x->list_busy)
        return 1;
    if (x->list_inline == 0)
        x->list_inline = dirlist_in_memory(x->dl) ? 1 : -1;
    if (x->list_inline > 0) { /* tmpfs never waits: a worker's handoff would only cost */
        if (dirlist_fill(x->dl, &x->fbuf) == 0)
            x->eof = true;
        return 0;
    }
    io_job *j = calloc(1, sizeof *j);
    if (j) {
        j->fd = -1;
        j->dl = x->dl;
        j->out = x->fbuf; /* empty: the worker fills it */
    }
    if (!j || submit(x, j, list_fn, list_done) < 0) {
        free(j); /* no worker to be had: the loop fills the buffer itself */
        if (dirlist_fill(x->dl, &x->fbuf) == 0)
            x->eof = true;
        return 0;
    }
    x->dl = NULL;
    memset(&x->fbuf, 0, sizeof x->fbuf);
    x->list_busy = true;
    return 1;
}

void xfer_io_shutdown(server *srv)
{
    if (srv->wq_io) {
        workq_free(srv->wq_io); /* joins the workers; what they did not report stays listed */
        srv->wq_io = NULL;
    }
    while (srv->io_jobs) {
        io_job *j = srv->io_jobs;
        srv->io_jobs = j->next;
        free_job(j);
    }
}
