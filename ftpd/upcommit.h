/* An upload's commit off the loop. Renaming the finished file over its target, the checks of
 * a guarded upload before it, and the drop of a superseded partial each ask the file system:
 * on FUSE or NFS that may take seconds, during which every other session would wait too.
 * Under such a root the transfer hands its upload to a job, which commits it on a worker
 * (XS_UPLOAD_COMMITTING meanwhile: the session reads no further command), and the job's
 * `done` ends the transfer on the loop (xfer.c). The commit stands whatever became of the
 * session meanwhile.
 */
#ifndef UPCOMMIT_H
#define UPCOMMIT_H

#include <stdbool.h>

#include "xfer.h"

struct server;
struct session;
struct appendlock;
typedef struct upcommit upcommit;

struct upcommit {
    /* in */
    upload up;                 /* owned: committed, or aborted by a failed commit */
    struct session *s;         /* counted in s->jobs until done */
    unsigned long seq;         /* the transfer it ends */
    struct appendlock *lock;   /* the transfer's APPE/REST lock, held until done (or NULL) */
    int code;                  /* the reply a commit that succeeds gives */
    char text[256];            /* ...and its text */
    xfer rec;                  /* what the transfer's log line reads, for a session gone */
    void (*done)(upcommit *c); /* on the loop: ends the transfer, frees c */
    /* out */
    bool worked; /* the commit was made (a job the pool dropped at shutdown was not) */
    int rc;      /* 0, or -1 with err */
    int err;
    upcommit *prev, *next; /* in the server's list while on a worker */
};

/* Hands c to a worker and counts it in c->s->jobs. -1 when no worker can be had: the caller
 * commits on the loop, as before. */
int upcommit_start(upcommit *c);
/* At shutdown, after the worker pool stopped: commits those the pool dropped (their data all
 * came; the client will not hear of it, as of any reply cut by the shutdown) and delivers
 * them all, before their sessions are freed. */
void upcommit_shutdown(struct server *srv);

#endif
