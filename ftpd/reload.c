#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "homecheck.h"
#include "log.h"
#include "session.h"
#include "workq.h"
#include "xferlog.h"

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

/* Walks the two tables side by side in name order: this runs on the loop, and a table of
 * 300,000 accounts looked up name by name held the loop a tenth of a second. */
static void count_changes(const ftpd_users *then, const ftpd_users *now, size_t *added,
                          size_t *removed, size_t *changed)
{
    size_t i = 0, k = 0;
    while (i < then->n || k < now->n) {
        int c = i == then->n  ? 1
                : k == now->n ? -1
                              : strcmp(then->by_name[i]->name, now->by_name[k]->name);
        if (c < 0) {
            (*removed)++;
            i++;
        } else if (c > 0) {
            (*added)++;
            k++;
        } else {
            *changed += !same_account(then->by_name[i], now->by_name[k]);
            i++;
            k++;
        }
    }
}

typedef struct reload_job {
    server *srv;
    reload_loaded_fn loaded;
    ftpd_users fresh;
    int rc; /* users_load's, set on the worker */
    char err[512];
    bool again; /* another SIGHUP came while this one was read */
} reload_job;

/* On a worker: the file may be long (a home resolved per account) or on a slow filesystem,
 * and the loop must not wait for it. */
static void load_fn(void *arg)
{
    reload_job *j = arg;
    j->rc = users_load(j->srv->cfg->users_file, &j->fresh, j->err, sizeof j->err);
    /* A look at each home too, here rather than on the loop: one per account, and a home on
     * a slow or hung mount stalls its caller as long as it takes. */
    if (j->rc == 0)
        homecheck_warn(j->srv->cfg, &j->fresh);
}

static void apply(reload_job *j)
{
    server *srv = j->srv;
    ftpd_users *users = srv->users;
    const char *path = srv->cfg->users_file;
    if (j->rc < 0) {
        log_error("SIGHUP: %s; the accounts stay as they were", j->err);
        return;
    }
    size_t added = 0, removed = 0, changed = 0;
    count_changes(users, &j->fresh, &added, &removed, &changed);
    size_t on_old = sessions_on_old_rights(srv, &j->fresh);

    /* Nothing else points into the table: sessions keep names, not entries, and password
     * checks on the workers hold copies of their hashes. */
    users_free(users);
    *users = j->fresh;
    j->fresh = (ftpd_users){0};
    j->rc = -1; /* nothing left to free */
    log_info("SIGHUP: %s read again: %zu account%s (%zu added, %zu removed, %zu changed)", path,
             users->n, users->n == 1 ? "" : "s", added, removed, changed);
    if (on_old > 0)
        log_warn("SIGHUP: %zu session%s logged in with a removed or changed account keep%s "
                 "the old rights until %s out",
                 on_old, on_old == 1 ? "" : "s", on_old == 1 ? "s" : "",
                 on_old == 1 ? "it logs" : "they log");
    if (j->loaded)
        j->loaded(srv, users);
}

static void load_done(void *arg);

static int submit(reload_job *j)
{
    j->rc = -1;
    j->again = false;
    snprintf(j->err, sizeof j->err, "the users file was not read");
    return workq_submit(server_work_queue(j->srv), load_fn, load_done, j);
}

static void load_done(void *arg)
{
    reload_job *j = arg;
    apply(j);
    if (j->again && submit(j) == 0) /* the file may have changed after this read began */
        return;
    j->srv->users_reload = NULL;
    free(j);
}

void reload_users(server *srv, reload_loaded_fn loaded)
{
    if (!srv->cfg->users_file) {
        log_info("SIGHUP: no users file to read again (anonymous access only)");
        return;
    }
    if (srv->users_reload) {
        srv->users_reload->again = true;
        return;
    }
    reload_job *j = calloc(1, sizeof *j);
    if (!j) {
        log_error("SIGHUP: out of memory; the accounts stay as they were");
        return;
    }
    j->srv = srv;
    j->loaded = loaded;
    if (submit(j) < 0) {
        log_error("SIGHUP: cannot queue the reading of the users file (%s); the accounts stay "
                  "as they were",
                  strerror(errno));
        free(j);
        return;
    }
    srv->users_reload = j;
}

void reload_discard(server *srv)
{
    reload_job *j = srv->users_reload;
    if (!j)
        return;
    if (j->rc == 0)
        users_free(&j->fresh);
    free(j);
    srv->users_reload = NULL;
}

void reload_xferlog(server *srv)
{
    const char *path = srv->cfg->xferlog_file;
    if (!path)
        return;
    /* A log that was not rotated is the file already open: reopening it would only need the
     * right to open it again, which a log that root made before the drop to --user denies,
     * so that every SIGHUP (for the users file, say) logged an error. */
    struct stat now, open_st;
    if (srv->xferlog && stat(path, &now) == 0 && fstat(fileno(srv->xferlog), &open_st) == 0 &&
        now.st_dev == open_st.st_dev && now.st_ino == open_st.st_ino) {
        log_info("SIGHUP: transfer log %s not rotated; writing on", path);
        return;
    }
    FILE *f = xferlog_open(path);
    if (!f) {
        int err = errno;
        log_error("SIGHUP: cannot reopen transfer log %s: %s; writing on to the old one%s", path,
                  strerror(err),
                  err == EACCES ? " (the server's user must be able to write the new file, "
                                  "or create it in the log's folder: logrotate's 'create' "
                                  "can make it so)"
                                : "");
        return;
    }
    if (srv->xferlog)
        fclose(srv->xferlog);
    srv->xferlog = f;
    log_info("SIGHUP: transfer log %s reopened", path);
}

/* Whether the file now at the path is the one read at start, as it was. Its times go by
 * nanoseconds, and the size catches a change within the clock's grain where that is coarse. */
static bool unchanged(const struct stat *then, const struct stat *now)
{
    return then->st_dev == now->st_dev && then->st_ino == now->st_ino &&
           then->st_size == now->st_size && then->st_mtim.tv_sec == now->st_mtim.tv_sec &&
           then->st_mtim.tv_nsec == now->st_mtim.tv_nsec;
}

/* What the last SIGHUP said of the -c file, so that each of its states is said once: a
 * reload every minute would otherwise repeat the same warning every minute. */
static enum { SAID_NOTHING, SAID_CHANGED, SAID_GONE } config_said;
static struct stat config_said_of; /* SAID_CHANGED: the file as it was then */

void reload_config_file(const server *srv)
{
    const ftpd_config *cfg = srv->cfg;
    /* a pipe (-c <(...), /dev/stdin) is read once and gone: nothing to compare */
    if (!cfg->config_file || !S_ISREG(cfg->config_stat.st_mode))
        return;
    struct stat now;
    if (stat(cfg->config_file, &now) != 0) {
        if (errno != ENOENT)
            return; /* one the server's user may not look at: nothing to tell */
        if (config_said != SAID_GONE)
            log_warn("SIGHUP: %s is gone since ftpd started; the settings read from it stay "
                     "until a restart",
                     cfg->config_file);
        config_said = SAID_GONE;
        return;
    }
    if (unchanged(&cfg->config_stat, &now)) {
        config_said = SAID_NOTHING; /* put back as it was: a new edit is news again */
        return;
    }
    /* edited again since it was said: the operator expects this edit in force too */
    bool news = config_said != SAID_CHANGED || !unchanged(&config_said_of, &now);
    config_said = SAID_CHANGED;
    config_said_of = now;
    if (news)
        log_warn("SIGHUP: %s changed since ftpd started, but a SIGHUP does not read it: its "
                 "settings take a restart (a SIGHUP reads again only the users file, the TLS "
                 "certificate and the transfer log)",
                 cfg->config_file);
}
