/* MODE Z file downloads: deflate on worker threads (see xfer_zjob.h). */
#include "xfer_zjob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftp_reply.h"
#include "server.h"
#include "session.h"
#include "workq.h"
#include "xfer_int.h"
#include "zpiece.h"

/* A piece: at most ZJOB_OUT compressed bytes, the size of the buffer the loop sends from, so
 * the two swap; and at most ZPIECE_IN_MAX file bytes or ZPIECE_NS of a worker's time
 * (zpiece.h). The file-byte bound keeps STAT and the data timeout fed with progress on data
 * that compresses to nearly nothing (zeros: 1 MiB a piece, a few ms); the time bound does the
 * same for the slowest pace seen (level 9 on two-letter noise, some 130 KiB/s), and lets the
 * pool take turns between transfers when there are more of them than workers. */
#define ZJOB_OUT (128 * 1024)

typedef struct zjob_pool {
    workq *q;
    struct zjob *jobs; /* every job not yet freed: the pool drops undelivered ones at shutdown */
} zjob_pool;

typedef struct zjob {
    zjob_pool *pool;
    server *srv;
    xfer *x;            /* loop thread: the transfer, NULL once it ended */
    bool busy;          /* loop thread: queued or running on a worker */
    bool ready;         /* loop thread: out holds a piece the transfer has not taken */
    atomic_bool cancel; /* set by the loop when the transfer ends while a worker runs it */
    /* The worker's while busy, the loop's otherwise (the pool's lock orders the handoffs). */
    zpiece_src src; /* its fd a duplicate of the transfer's, which may close its own */
    buf out;        /* the piece */
    struct zjob *prev, *next;
} zjob;

static void run_fn(void *arg)
{
    zjob *j = arg;
    zpiece_src *p = &j->src;
    zpiece_run(p, &j->out, &j->cancel);
    if (p->ended || p->err || p->zerr || atomic_load(&j->cancel)) {
        /* The file is done with; closed here, not on the loop: on FUSE or NFS a close asks
         * the file's server. */
        close(p->fd);
        p->fd = -1;
    }
}

/* ---------------------------------------------------------------- on the loop */

static void free_job(zjob *j, bool stopping)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->pool->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    if (j->src.fd >= 0) {
        if (stopping)
            close(j->src.fd);
        else
            server_close_later(j->srv, j->src.fd);
    }
    zpiece_free(&j->src);
    buf_free(&j->out);
    free(j);
}

/* Workers for deflate: one fewer than the cores (or than --workers), at least one, so that
 * however many MODE Z downloads run, a core is left for the loop that sends every transfer's
 * bytes and answers every command; with more downloads than workers, they take turns a piece
 * at a time. The loop's priority: this is part of moving data, not background work. */
static zjob_pool *get_pool(server *srv)
{
    if (srv->zpool)
        return srv->zpool;
    int threads = srv->cfg->worker_threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 2;
    }
    threads = threads > 1 ? threads - 1 : 1;
    zjob_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->q = workq_new_foreground(srv->loop, threads);
    if (!p->q) {
        int err = errno;
        free(p);
        errno = err;
        return NULL;
    }
    srv->zpool = p;
    return p;
}

int xfer_zjob_start(xfer *x)
{
    server *srv = x->s->srv;
    zjob_pool *pool = get_pool(srv);
    if (!pool)
        return -1;
    zjob *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    int fd = fcntl(x->file_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || zpiece_init(&j->src, fd, x->offset, x->total, x->ascii, &x->z) < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        free(j);
        errno = err;
        return -1;
    }
    j->pool = pool;
    j->srv = srv;
    j->x = x;
    atomic_init(&j->cancel, false);
    buf_init(&j->out, ZJOB_OUT);
    j->next = pool->jobs;
    if (j->next)
        j->next->prev = j;
    pool->jobs = j;
    x->zjob = j;
    return 0;
}

/* The piece in j->out becomes what the transfer sends (its zbuf is empty), and what it
 * carried is counted: file bytes, codec output, and a mark for STAT between the two. */
static void take_piece(xfer *x, zjob *j)
{
    buf sent = x->zbuf;
    x->zbuf = j->out;
    j->out = sent;
    buf_clear(&j->out);
    j->ready = false;
    x->z_out += buf_len(&x->zbuf);
    x->done = j->src.done;
    x->z_stored = j->src.z.stored_in;
    x->offset = j->src.offset;
    x->eof = j->src.eof;
    xfer_mz_mark_output(x);
}

static void run_done(void *arg);

/* Hands the worker the next piece. Returns 0 (also when the read-ahead must first bring the
 * next bytes in: x->ra.waiting, its end resumes the transfer), or -1 with errno. */
static int submit(xfer *x, zjob *j)
{
    zpiece_src *p = &j->src;
    if (!p->eof && p->in_len == 0 && p->offset < p->total) {
        /* readahead_avail works from x->offset: the job's own, as it is between pieces */
        size_t ready = readahead_avail(x, ZPIECE_IN_MAX);
        if (ready == 0)
            return 0;
        p->read_until = p->offset + (off_t)ready;
    } /* else it finishes the stream, or the input it holds (read within the last window) */
    if (workq_submit(j->pool->q, run_fn, run_done, j) < 0)
        return -1;
    j->busy = true;
    return 0;
}

/* A worker's piece came back. The transfer may have ended meanwhile (ABOR, a client gone, the
 * session's end): the job is then only freed. */
static void run_done(void *arg)
{
    zjob *j = arg;
    j->busy = false;
    xfer *x = j->x;
    if (!x) {
        free_job(j, false);
        return;
    }
    if (j->src.err) {
        xfer_fail_local(x, j->src.err); /* frees x, and j with it (xfer_zjob_release) */
        return;
    }
    if (j->src.zerr) {
        char text[200];
        snprintf(text, sizeof text, "Local error: compression failed (%s).", mz_error(&j->src.z));
        xfer_finish(x, FTP_LOCAL_ERROR, text, false);
        return;
    }
    x->offset = j->src.offset; /* where the read-ahead looks from */
    j->ready = true;
    if (buf_empty(&x->zbuf)) { /* the last piece is out: this one goes next, and the worker
                                * starts on the one after at once */
        take_piece(x, j);
        if (!j->src.ended && submit(x, j) < 0) {
            xfer_fail_local(x, errno);
            return;
        }
    }
    x->last_progress = ev_now(x->s->srv->loop);
    ev_timer_start(x->s->srv->loop, &x->drain, 0); /* drain_cb pumps it */
}

void xfer_zjob_pump(xfer *x)
{
    zjob *j = x->zjob;
    /* A turn sends at most a piece: what a turn of a stream-mode download moves, give or
     * take, so a MODE Z download's turns are no longer than the others'. */
    size_t budget = ZJOB_OUT;
    for (;;) {
        if (!j->busy && j->ready && buf_empty(&x->zbuf))
            take_piece(x, j);
        if (!j->busy && !j->ready && !j->src.ended && submit(x, j) < 0) {
            xfer_fail_local(x, errno);
            return;
        }
        if (buf_empty(&x->zbuf)) {
            if (!j->busy && !j->ready && j->src.ended)
                xfer_end_stream(x); /* every byte of the stream is sent */
            return;                 /* else the worker's piece resumes the transfer */
        }
        ssize_t n = xfer_mz_send(x, budget);
        if (n <= 0)
            return; /* the turn's bytes are sent, the rate's tokens spent, or the socket */
        budget -= (size_t)n;
    }
}

bool xfer_zjob_waiting(const xfer *x)
{
    const zjob *j = x->zjob;
    if (!j || !buf_empty(&x->zbuf))
        return false;
    return j->busy || !j->src.ended; /* not busy, not ended: the read-ahead's disk read */
}

void xfer_zjob_release(xfer *x)
{
    zjob *j = x->zjob;
    if (!j)
        return;
    x->zjob = NULL;
    j->x = NULL;
    if (j->busy)
        atomic_store(&j->cancel, true); /* the worker stops at its next slice; run_done frees */
    else
        free_job(j, false);
}

void xfer_zjob_shutdown(server *srv)
{
    zjob_pool *p = srv->zpool;
    if (!p)
        return;
    workq_free(p->q); /* joins: the jobs of the closed sessions saw their cancel flags */
    while (p->jobs)
        free_job(p->jobs, true);
    free(p);
    srv->zpool = NULL;
}
