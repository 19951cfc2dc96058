#include "readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "server.h"
#include "session.h"
#include "workq.h"
#include "xfer.h"

/* Reads of different downloads in flight at once: the depth of the queue a disk sees. */
#define READAHEAD_THREADS 4

typedef struct ra_job {
    server *srv;
    session *s;
    unsigned long seq; /* the transfer it reads for: x->seq */
    int fd;            /* a duplicate: the transfer may end and close its own meanwhile */
    off_t from;
    size_t len;
    int err;
    struct ra_job *prev, *next; /* in srv->ra_jobs until delivered */
} ra_job;

static bool in_memory(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return false;
    return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

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
    ra_job *j = arg;
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
}

static void unlink_job(ra_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->srv->ra_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void free_job(ra_job *j)
{
    close(j->fd);
    free(j);
}

static void read_done(void *arg)
{
    ra_job *j = arg;
    session *s = j->s;
    unlink_job(j);
    s->jobs--;
    xfer *x = s->xfer;
    /* The session outlives its jobs (s->jobs); the transfer may not. */
    if (s->state != SESS_CLOSED && x && x->seq == j->seq && x->kind == XK_RETR && x->ra.busy) {
        x->ra.busy = false;
        if (j->err)
            x->ra.mode = RA_OFF; /* the transfer's own read meets the error and reports it */
        else
            x->ra.ready = j->from + (off_t)j->len;
        if (x->ra.waiting) {
            x->ra.waiting = false;
            ev_timer_start(s->srv->loop, &x->drain, 0); /* drain_cb pumps it */
        }
    }
    free_job(j);
}

/* Queues the read of the window at x->ra.ready. Returns 0, or -1 with errno. */
static int submit(xfer *x, size_t len)
{
    server *srv = x->s->srv;
    if (!srv->wq_ra && !(srv->wq_ra = workq_new_foreground(srv->loop, READAHEAD_THREADS)))
        return -1;
    ra_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->fd = fcntl(x->file_fd, F_DUPFD_CLOEXEC, 0);
    if (j->fd < 0) {
        free(j);
        return -1;
    }
    j->srv = srv;
    j->s = x->s;
    j->seq = x->seq;
    j->from = x->ra.ready;
    j->len = len;
    if (workq_submit(srv->wq_ra, read_fn, read_done, j) < 0) {
        free_job(j);
        return -1;
    }
    j->next = srv->ra_jobs;
    if (j->next)
        j->next->prev = j;
    srv->ra_jobs = j;
    x->s->jobs++;
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
        if (submit(x, len) < 0)
            ra->mode = RA_OFF; /* no worker to be had: the loop reads for itself, as before */
    }
}

size_t readahead_avail(xfer *x, size_t want)
{
    readahead_state *ra = &x->ra;
    if (ra->mode == RA_UNDECIDED) {
        ra->mode = x->total > 0 && !in_memory(x->file_fd) ? RA_ON : RA_OFF;
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

void readahead_shutdown(server *srv)
{
    if (srv->wq_ra) {
        workq_free(srv->wq_ra); /* joins the workers; what they did not report stays listed */
        srv->wq_ra = NULL;
    }
    while (srv->ra_jobs) {
        ra_job *j = srv->ra_jobs;
        srv->ra_jobs = j->next;
        free_job(j);
    }
}
