/* Upload writers: a foreground worker pool whose jobs splice socket -> pipe -> file. */
#include "upwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "stream.h"
#include "workq.h"

/* Each writer's staging pipe. Larger pipes mean fewer calls; the default 64 KiB pipe halves
 * the gain. One pipe per writer thread (not per upload) keeps thousands of uploads within
 * the per-user pipe quota (64 MiB by default), beyond which pipes shrink to two pages. */
#define UPW_PIPE_SIZE (1024 * 1024)

struct upwriter {
    workq *q;
    struct upw_job *jobs; /* queued or running, not yet delivered */
};

typedef struct upw_job {
    upwriter *w;
    int sock_fd, file_fd; /* the job's own duplicates */
    size_t max;
    upwrite_result r;
    upwrite_done_cb done;
    void *ctx;
    unsigned long tag;
    struct upw_job *prev, *next;
} upw_job;

typedef struct thread_pipe {
    int fd[2];
    size_t cap;
} thread_pipe;

static pthread_key_t pipe_key;
static pthread_once_t pipe_once = PTHREAD_ONCE_INIT;
static int pipe_key_err;

static void thread_pipe_free(void *arg)
{
    thread_pipe *p = arg;
    close(p->fd[0]);
    close(p->fd[1]);
    free(p);
}

static void make_pipe_key(void)
{
    pipe_key_err = pthread_key_create(&pipe_key, thread_pipe_free);
}

/* The calling writer's pipe, made on first use. NULL with errno. */
static thread_pipe *get_pipe(void)
{
    thread_pipe *p = pthread_getspecific(pipe_key);
    if (p)
        return p;
    p = malloc(sizeof *p);
    if (!p)
        return NULL;
    if (pipe2(p->fd, O_CLOEXEC) < 0) {
        free(p);
        return NULL;
    }
    (void)fcntl(p->fd[1], F_SETPIPE_SZ, UPW_PIPE_SIZE); /* best effort */
    int cap = fcntl(p->fd[1], F_GETPIPE_SZ);
    p->cap = cap > 0 ? (size_t)cap : 65536;
    if (pthread_setspecific(pipe_key, p) != 0) {
        thread_pipe_free(p);
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

/* A write into the file failed with bytes still in the pipe: they must not reach the next
 * upload this writer serves, so the pipe goes and a fresh one is made next time. */
static void drop_pipe(thread_pipe *p)
{
    (void)pthread_setspecific(pipe_key, NULL);
    thread_pipe_free(p);
}

static void move_fn(void *arg)
{
    upw_job *j = arg;
    thread_pipe *p = get_pipe();
    if (!p) {
        j->r.err = errno;
        j->r.file_err = true;
        return;
    }
    size_t left = j->max;
    while (left > 0) {
        bool file_err;
        ssize_t n = splice_via_pipe(j->sock_fd, p->fd, j->file_fd, left < p->cap ? left : p->cap,
                                    &file_err);
        if (n == 0) {
            j->r.eof = true;
            return;
        }
        if (n < 0) {
            if (file_err) {
                j->r.err = errno;
                j->r.file_err = true;
                drop_pipe(p);
            } else if (errno != EAGAIN) {
                j->r.err = errno;
            }
            return;
        }
        j->r.moved += (size_t)n;
        left -= (size_t)n;
    }
}

static void unlink_job(upw_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void free_job(upw_job *j)
{
    close(j->sock_fd);
    close(j->file_fd);
    free(j);
}

static void move_done(void *arg)
{
    upw_job *j = arg;
    unlink_job(j);
    upwrite_result r = j->r;
    upwrite_done_cb done = j->done;
    void *ctx = j->ctx;
    unsigned long tag = j->tag;
    free_job(j); /* the duplicates close before the owner may rename or reopen the file */
    done(ctx, tag, &r);
}

upwriter *upwriter_new(ev_loop *loop, int threads)
{
    pthread_once(&pipe_once, make_pipe_key);
    if (pipe_key_err != 0) {
        errno = pipe_key_err;
        return NULL;
    }
    upwriter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->q = workq_new_foreground(loop, threads);
    if (!w->q) {
        int err = errno;
        free(w);
        errno = err;
        return NULL;
    }
    return w;
}

void upwriter_free(upwriter *w)
{
    if (!w)
        return;
    workq_free(w->q); /* joined: no job runs any more */
    while (w->jobs) {
        upw_job *j = w->jobs;
        w->jobs = j->next;
        free_job(j);
    }
    free(w);
}

int upwriter_submit(upwriter *w, int sock_fd, int file_fd, size_t max, upwrite_done_cb done,
                    void *ctx, unsigned long tag)
{
    upw_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->sock_fd = fcntl(sock_fd, F_DUPFD_CLOEXEC, 0);
    j->file_fd = j->sock_fd < 0 ? -1 : fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
    if (j->file_fd < 0) {
        int err = errno;
        if (j->sock_fd >= 0)
            close(j->sock_fd);
        free(j);
        errno = err;
        return -1;
    }
    j->w = w;
    j->max = max;
    j->done = done;
    j->ctx = ctx;
    j->tag = tag;
    j->next = w->jobs;
    if (j->next)
        j->next->prev = j;
    w->jobs = j;
    if (workq_submit(w->q, move_fn, move_done, j) < 0) {
        int err = errno;
        unlink_job(j);
        free_job(j);
        errno = err;
        return -1;
    }
    return 0;
}
