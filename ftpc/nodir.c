/* One message for the files of a directory that is not on the server. */
#include "nodir.h"

#include <stdlib.h>
#include <string.h>

size_t ftpc_nodir_dir_len(const ftpc_task *t)
{
    const char *p = t->remote;
    size_t n = strlen(p);
    if (t->kind != FTPC_T_MKDIR) {
        const char *slash = strrchr(p, '/');
        n = slash != NULL ? (size_t)(slash - p) : 0;
    }
    while (n > 0 && p[n - 1] == '/')
        n--;
    return n;
}

bool ftpc_nodir_same_dir(const ftpc_task *a, const ftpc_task *b)
{
    size_t n = ftpc_nodir_dir_len(a);
    return a->ep == b->ep && n > 0 && n == ftpc_nodir_dir_len(b) &&
           memcmp(a->remote, b->remote, n) == 0;
}

ftpc_nodir_group *ftpc_nodirs_find(ftpc_nodirs *d, const ftpc_task *t)
{
    for (size_t i = 0; i < d->n; i++)
        if (ftpc_nodir_same_dir(d->v[i].lead, t))
            return &d->v[i];
    return NULL;
}

ftpc_nodir_group *ftpc_nodirs_add(ftpc_nodirs *d, ftpc_task *t, size_t running)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        ftpc_nodir_group *grown = realloc(d->v, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        d->v = grown;
        d->cap = cap;
    }
    ftpc_nodir_group *g = &d->v[d->n++];
    memset(g, 0, sizeof(*g));
    g->lead = t;
    g->running = running;
    return g;
}

bool ftpc_nodirs_drop(ftpc_nodir_group *g, ftpc_task *q)
{
    if (q->finished || q->kind != FTPC_T_PUT || q->by_path || !ftpc_nodir_same_dir(g->lead, q))
        return false;
    size_t n = ftpc_nodir_dir_len(q);
    q->finished = true;
    ftpc_task_fail(q, g->lead->err.status, "uploading %s: not sent: %.*s is not on the server",
                   q->display, (int)n, q->remote);
    g->others++;
    return true;
}

bool ftpc_nodirs_ended(ftpc_nodir_group *g, const ftpc_task *t)
{
    if (g->running > 0)
        g->running--;
    if (t->err.status == 0 || !t->nodir)
        return false;
    g->others++;
    return true;
}

void ftpc_nodirs_tell(ftpc_nodir_group *g, ftpc_ctx *ctx, bool force)
{
    if (g->told || (g->running > 0 && !force))
        return;
    g->told = true;
    if (g->others == 0) {
        ftpc_msg(ctx, "ftpc: %s", g->lead->err.msg);
        return;
    }
    /* The reason often ends in the server's full stop: "denied.; 4 files" reads as a slip. */
    const char *why = g->lead->err.msg;
    int len = (int)strlen(why);
    if (len > 0 && why[len - 1] == '.')
        len--;
    ftpc_msg(ctx, "ftpc: %.*s; %zu %s%s for it not sent (counted as failed)", len, why, g->others,
             g->lead->kind == FTPC_T_PUT ? "other " : "", g->others == 1 ? "file" : "files");
}

void ftpc_nodirs_free(ftpc_nodirs *d, ftpc_ctx *ctx)
{
    for (size_t i = 0; i < d->n; i++)
        ftpc_nodirs_tell(&d->v[i], ctx, true);
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}
