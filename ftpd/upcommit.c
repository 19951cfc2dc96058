#include "upcommit.h"

#include <errno.h>
#include <unistd.h>

#include "fsgate.h"
#include "server.h"
#include "session.h"
#include "workq.h"
#include "xfer_io.h"

static void commit_now(upcommit *c)
{
    int old = -1;
    c->rc = upload_commit_waiting(&c->up, &old);
    c->err = c->rc < 0 ? errno : 0;
    /* The replaced file's last reference: closing it frees its storage, here off the loop. */
    if (old >= 0)
        close(old);
    c->worked = true;
}

static void work_fn(void *arg)
{
    commit_now(arg);
}

static void unlink_job(upcommit *c)
{
    server *srv = c->s->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->commit_jobs = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void done_fn(void *arg)
{
    upcommit *c = arg;
    unlink_job(c);
    c->s->jobs--;
    c->done(c);
}

int upcommit_start(upcommit *c)
{
    server *srv = c->s->srv;
    workq *q = xfer_io_queue(srv);
    if (!q || fsgate_submit(srv, c->s->root, q, work_fn, done_fn, c, NULL) < 0)
        return -1;
    c->next = srv->commit_jobs;
    if (c->next)
        c->next->prev = c;
    srv->commit_jobs = c;
    c->s->jobs++;
    return 0;
}

void upcommit_shutdown(server *srv)
{
    while (srv->commit_jobs) {
        upcommit *c = srv->commit_jobs;
        if (!c->worked)
            commit_now(c); /* the pool has stopped: nothing else touches the names now */
        done_fn(c);
    }
}
