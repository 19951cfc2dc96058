#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "session.h"

static bool same_account(const ftpd_user *a, const ftpd_user *b)
{
    return strcmp(a->hash, b->hash) == 0 && strcmp(a->home, b->home) == 0 && a->perms == b->perms;
}

/* Sessions logged in with an account that the new table removes or changes: they go on with
 * the old rights, which the administrator should hear about. */
static size_t sessions_on_old_rights(const server *srv, const ftpd_users *fresh)
{
    size_t n = 0;
    for (const session *s = srv->sessions; s; s = s->next) {
        if (!(s->flags & SF_ACCOUNT) || s->state != SESS_READY)
            continue;
        const ftpd_user *now = users_find(fresh, s->user_name);
        const ftpd_user *then = users_find(srv->users, s->user_name);
        if (!now || !then || !same_account(now, then))
            n++;
    }
    return n;
}

void reload_users(server *srv, ftpd_users *users)
{
    const char *path = srv->cfg->users_file;
    if (!path) {
        log_info("SIGHUP: no users file to read again (anonymous access only)");
        return;
    }
    ftpd_users fresh;
    char err[512];
    if (users_load(path, &fresh, err, sizeof err) < 0) {
        log_error("SIGHUP: %s; the accounts stay as they were", err);
        return;
    }
    size_t added = 0, removed = 0, changed = 0;
    for (size_t i = 0; i < fresh.n; i++) {
        const ftpd_user *old = users_find(users, fresh.v[i].name);
        added += old == NULL;
        changed += old != NULL && !same_account(old, &fresh.v[i]);
    }
    for (size_t i = 0; i < users->n; i++)
        removed += users_find(&fresh, users->v[i].name) == NULL;
    size_t on_old = sessions_on_old_rights(srv, &fresh);

    /* Nothing else points into the table: sessions keep names, not entries, and password
     * checks on the workers hold copies of their hashes. */
    users_free(users);
    *users = fresh;
    log_info("SIGHUP: %s read again: %zu account%s (%zu added, %zu removed, %zu changed)", path,
             users->n, users->n == 1 ? "" : "s", added, removed, changed);
    if (on_old > 0)
        log_warn("SIGHUP: %zu session%s logged in with a removed or changed account keep%s "
                 "the old rights until %s out",
                 on_old, on_old == 1 ? "" : "s", on_old == 1 ? "s" : "",
                 on_old == 1 ? "it logs" : "they log");
}

void reload_xferlog(server *srv)
{
    const char *path = srv->cfg->xferlog_file;
    if (!path)
        return;
    FILE *f = fopen(path, "ae");
    if (!f) {
        log_error("SIGHUP: cannot reopen transfer log %s: %s; writing on to the old one", path,
                  strerror(errno));
        return;
    }
    if (srv->xferlog)
        fclose(srv->xferlog);
    srv->xferlog = f;
    log_info("SIGHUP: transfer log %s reopened", path);
}
