/* USER, PASS and QUIT. Password hashes are checked on a worker thread so a slow hash never
 * stalls the loop; the session holds its input meanwhile. A method measured cheap (MD5-crypt:
 * 0.15 ms here) is checked inline instead: the round trip through the worker queue costs
 * more than the hash, and on a busy machine an idle-priority worker waits for a CPU. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands_int.h"
#include "crypt_scratch.h"
#include "fsgate.h"
#include "ftps.h"
#include "hashcost.h"
#include "log.h"
#include "loginban.h"
#include "server.h"
#include "users.h"
#include "workq.h"
#include "xfer.h"
#include "xfer_io.h"

typedef struct auth_job {
    session *s;
    char *hash; /* copy of the account's hash; NULL for an unknown name */
    char *password;
    bool ok;
    long long cpu_ns; /* what the check cost the worker */
} auth_job;

static void free_job(auth_job *job)
{
    if (job->password) {
        explicit_bzero(job->password, strlen(job->password));
        free(job->password);
    }
    free(job->hash);
    free(job);
}

/* The home's open failed (err): the login is refused. The line names the session's peer
 * and the name it logged in with, as the session's own lines do, for the operator to tell
 * whose login it was. */
static void home_failed(session *s, const char *root, int err)
{
    log_error("[%lu] %s %s: login of '%s' refused: cannot open home %s: %s", s->id, s->peer_str,
              session_who(s), s->user_name ? s->user_name : "", root,
              err == ETIMEDOUT ? "its file system does not answer" : strerror(err));
    if (err == ETIMEDOUT) {
        /* Its file system does not answer (fsgate.h): nothing the client can mend, and a 530
         * would send it back to its user for a password. */
        session_reply(s, FTP_SERVICE_UNAVAILABLE,
                      "Home directory not responding (its file system hangs); try again later.");
        session_close_after_flush(s);
        return;
    }
    if (err == EMFILE || err == ENFILE || err == ENOMEM) {
        /* The server is short of descriptors (each logged-in session holds its home
         * open), not the account of a right: a 530 would send the client back to its
         * user for a password, where 421 tells it to come again later. */
        session_reply(s, FTP_SERVICE_UNAVAILABLE, "Server out of resources (%s); try again later.",
                      strerror(err));
        session_close_after_flush(s);
        return;
    }
    session_reply(s, FTP_NOT_LOGGED_IN, "Login incorrect: home directory unavailable.");
}

/* home: the opened root, which the session takes. */
static void home_opened(session *s, const vfs *home, unsigned perms, bool account)
{
    vfs_close(&s->vfs);
    s->vfs = *home;
    free(s->cwd);
    s->cwd = strdup("/");
    if (!s->cwd) {
        session_close(s);
        return;
    }
    if (account)
        s->flags |= SF_ACCOUNT;
    s->perms = perms;
    s->state = SESS_READY;
    s->last_activity = ev_now(s->srv->loop);
    ev_timer_start(s->srv->loop, &s->timer, (long)s->srv->cfg->idle_timeout * 1000);
    session_log(s, "logged in");
    session_reply(s, FTP_LOGIN_OK, "Login successful.");
}

/* A home on NFS or FUSE, or one whose path the kernel has not cached, may take its server
 * or the disk long to open (DESIGN.md section 2): a worker opens it, and the session waits
 * as for a password check (SESS_AUTHING). */
typedef struct home_job {
    session *s;
    char *root;
    unsigned perms;
    bool account;
    vfs v;
    int err;
    bool refused; /* its turn did not come (fsgate.h) */
} home_job;

static void free_home_job(home_job *j)
{
    vfs_close(&j->v);
    free(j->root);
    free(j);
}

static void home_fn(void *arg)
{
    home_job *j = arg;
    if (vfs_open_root(&j->v, j->root) < 0)
        j->err = errno;
}

static void home_done(void *arg)
{
    home_job *j = arg;
    session *s = j->s;
    s->home = NULL;
    if (s->state != SESS_AUTHING) { /* closed meanwhile: freed now that nothing refers to it */
        free_home_job(j);
        return;
    }
    s->state = SESS_LOGIN;
    if (j->refused) {
        home_failed(s, j->root, ETIMEDOUT);
    } else if (j->v.root_fd < 0) {
        home_failed(s, j->root, j->err);
    } else {
        vfs v = j->v;
        j->v.root_fd = -1;
        home_opened(s, &v, j->perms, j->account);
    }
    free_home_job(j);
    session_resume(s);
}

/* The password is right (or none is asked): the session's root becomes root, its home. */
static void login_ok(session *s, const ftpd_user *user, const char *root, unsigned perms)
{
    fsgate_unref(s->srv, s->root);
    s->root = fsgate_root(s->srv, root); /* NULL (out of memory): its jobs go ungated */
    vfs v;
    if (vfs_open_root_cached(&v, root) == 0) {
        home_opened(s, &v, perms, user != NULL);
        return;
    }
    if (errno != EAGAIN) {
        home_failed(s, root, errno);
        return;
    }
    home_job *j = calloc(1, sizeof *j);
    if (j) {
        j->v.root_fd = -1;
        j->root = strdup(root);
    }
    workq *q = j && j->root ? xfer_io_queue(s->srv) : NULL;
    if (!q) {
        if (j)
            free_home_job(j);
        /* No worker to be had: the loop opens it, as it would wait for a worker anyway. */
        if (vfs_open_root(&v, root) < 0)
            home_failed(s, root, errno);
        else
            home_opened(s, &v, perms, user != NULL);
        return;
    }
    j->s = s;
    j->perms = perms;
    j->account = user != NULL;
    if (fsgate_submit(s->srv, s->root, q, home_fn, home_done, j, &j->refused) < 0) {
        int err = errno;
        free_home_job(j);
        if (err == EBUSY)
            home_failed(s, root, ETIMEDOUT);
        else
            session_reply(s, FTP_LOCAL_ERROR, "Cannot open the home directory now.");
        return;
    }
    s->home = j;
    s->state = SESS_AUTHING;
}

/* why is for the log only: the client gets the same 530 for a name the users file does not
 * hold as for a wrong password, but the operator asked why a login fails needs to know which
 * (a typo in the file, an account not reloaded yet). */
static void login_failed(session *s, const char *why)
{
    s->login_failures++;
    s->flags &= ~SF_USER_GIVEN;
    session_log(s, "login failed for '%s' (%d of %d): %s", s->user_name ? s->user_name : "",
                s->login_failures, s->srv->cfg->max_login_failures, why);
    const ftpd_config *cfg = s->srv->cfg;
    unsigned count;
    long long ban_ms;
    if (loginban_fail(&s->srv->bans, &s->peer, ev_now(s->srv->loop), &count, &ban_ms))
        session_log(s,
                    "login ban: %u failed logins from %s within %llds; its logins are refused "
                    "for %llds%s",
                    count, s->peer.ss_family == AF_INET6 ? "this /64" : "this address",
                    cfg->login_ban_window, ban_ms / 1000,
                    ban_ms > cfg->login_ban_time * 1000 ? " (a repeated ban)" : "");
    /* The 530 comes from the session timer after the delay, which slows password guessing
     * without blocking the loop. */
    s->state = SESS_LOGIN_DELAY;
    ev_timer_start(s->srv->loop, &s->timer, s->srv->cfg->login_failure_delay_ms);
}

/* The refusal is a 530 at USER or PASS, after the greeting, rather than a 421 at connect:
 * curl takes any 421 for a timeout, and lftp retries a 421 (and a 530 whose text says "too
 * many" or "try again later", its ftp:retry-530) again and again, while a plain 530 makes
 * curl, lftp and ftplib report a failed login and stop. No password is checked meanwhile. */
bool login_banned(session *s, int code)
{
    long long left = loginban_left(&s->srv->bans, &s->peer, ev_now(s->srv->loop));
    if (left == 0)
        return false;
    session_log(s, "refused login: the address is banned (login-ban) for %llds more",
                (left + 999) / 1000);
    session_reply(s, code,
                  "Login refused: this address failed to log in too often; wait %lld "
                  "seconds.",
                  (left + 999) / 1000);
    session_close_after_flush(s);
    return true;
}

void cmd_user(session *s, const char *arg)
{
    if (s->state == SESS_READY) {
        session_reply(s, FTP_BAD_SEQUENCE, "Already logged in.");
        return;
    }
    if (login_banned(s, FTP_NOT_LOGGED_IN))
        return;
    const char *refusal =
        ftps_login_refusal(s, arg, users_is_anonymous_name(arg) && s->srv->cfg->anon_root != NULL);
    if (refusal) {
        session_log(s, "refused USER %s: TLS required", arg);
        session_reply(s, FTP_NOT_LOGGED_IN, "%s", refusal);
        return;
    }
    /* Whether anonymous logins are served is no secret: say so now, instead of asking for a
     * password and counting the refusal as a failed login. */
    if (users_is_anonymous_name(arg) && !s->srv->cfg->anon_root &&
        !users_find(s->srv->users, arg)) {
        session_log(s, "refused USER %s: anonymous logins are off", arg);
        session_reply(s, FTP_NOT_LOGGED_IN, "Anonymous logins are not allowed on this server.");
        return;
    }
    free(s->user_name);
    s->user_name = strdup(arg);
    if (!s->user_name) {
        session_close(s);
        return;
    }
    s->flags |= SF_USER_GIVEN;
    if (users_is_anonymous_name(arg) && s->srv->cfg->anon_root)
        session_reply(s, FTP_NEED_PASSWORD, "Anonymous login ok, send your e-mail as password.");
    else
        session_reply(s, FTP_NEED_PASSWORD, "Password required for %s.", arg);
}

static void check_done(void *arg);

static void check_fn(void *arg)
{
    auth_job *job = arg;
    long long t0 = hashcost_thread_ns();
    job->ok = users_check_password(job->hash, job->password);
    job->cpu_ns = hashcost_thread_ns() - t0;
    if (job->hash)
        hashcost_record(job->hash, job->cpu_ns);
}

/* The users file was read again (SIGHUP) while the check ran and gave the account another
 * hash: a password the administrator has just replaced must not log in, so the check runs
 * again against the new one. Returns false when it cannot be queued. */
static bool recheck(auth_job *job, const char *hash)
{
    char *copy = strdup(hash);
    if (!copy)
        return false;
    free(job->hash);
    job->hash = copy;
    return workq_submit(server_work_queue(job->s->srv), check_fn, check_done, job) == 0;
}

static void check_done(void *arg)
{
    auth_job *job = arg;
    session *s = job->s;
    if (s->state == SESS_AUTHING && job->ok) {
        const ftpd_user *now = users_find(s->srv->users, s->user_name);
        if (now && strcmp(now->hash, job->hash) != 0) {
            if (recheck(job, now->hash))
                return;
            job->ok = false;
        }
    }
    s->auth = NULL;
    bool ok = job->ok;
    log_debug("[%lu] password checked on a worker (%lld us)", s->id, job->cpu_ns / 1000);
    free_job(job);
    if (s->state != SESS_AUTHING)
        return; /* closed meanwhile: the server frees it now that no job refers to it */
    s->state = SESS_LOGIN;
    /* A ban that began while this check ran (other sessions' failures ended first) holds
     * for it too, right password or not: otherwise each session a client opens is one more
     * guess, and a reply that differed for the right one would tell it apart. */
    if (login_banned(s, FTP_NOT_LOGGED_IN)) {
        session_resume(s);
        return;
    }
    const ftpd_user *u = ok ? users_find(s->srv->users, s->user_name) : NULL;
    if (u)
        login_ok(s, u, u->home, u->perms);
    else
        login_failed(s, users_find(s->srv->users, s->user_name) ? "wrong password"
                                                                : "no such account");
    session_resume(s);
}

void cmd_pass(session *s, const char *arg)
{
    if (s->state == SESS_READY) {
        session_reply(s, FTP_CMD_SUPERFLUOUS, "Already logged in.");
        return;
    }
    if (!(s->flags & SF_USER_GIVEN)) {
        session_reply(s, FTP_BAD_SEQUENCE, "Login with USER first.");
        return;
    }
    if (login_banned(s, FTP_NOT_LOGGED_IN))
        return;
    s->flags &= ~SF_USER_GIVEN;
    const ftpd_config *cfg = s->srv->cfg;
    if (users_is_anonymous_name(s->user_name) && cfg->anon_root) {
        s->flags |= SF_ANONYMOUS;
        login_ok(s, NULL, cfg->anon_root, PERM_DEFAULT);
        return;
    }
    const ftpd_user *u = users_find(s->srv->users, s->user_name);
    /* An unknown name is checked against the dummy hash, on a worker like any dear method. */
    long long inline_max_ns = (long long)cfg->inline_hash_max_us * 1000;
    if (u && inline_max_ns > 0 && hashcost_cheap(u->hash, inline_max_ns)) {
        long long t0 = hashcost_thread_ns();
        bool ok = users_check_password(u->hash, arg);
        long long spent = hashcost_thread_ns() - t0;
        hashcost_record(u->hash, spent);
        log_debug("[%lu] password checked inline (%lld us)", s->id, spent / 1000);
        crypt_scratch_release(); /* the loop thread keeps no hash scratch */
        if (ok)
            login_ok(s, u, u->home, u->perms);
        else
            login_failed(s, "wrong password");
        return;
    }
    auth_job *job = calloc(1, sizeof *job);
    if (!job || !(job->password = strdup(arg)) || (u && !(job->hash = strdup(u->hash)))) {
        if (job)
            free_job(job);
        session_reply(s, FTP_LOCAL_ERROR, "Out of memory.");
        return;
    }
    job->s = s;
    if (workq_submit(server_work_queue(s->srv), check_fn, check_done, job) < 0) {
        free_job(job);
        session_reply(s, FTP_LOCAL_ERROR, "Cannot check the password now.");
        return;
    }
    s->auth = job;
    s->state = SESS_AUTHING;
}

void cmd_quit(session *s, const char *arg)
{
    /* A transfer under way has ended first: QUIT waits for it (session.c, runs_during_transfer). */
    session_reply(s, FTP_GOODBYE, "Goodbye.");
    session_close_after_flush(s);
}

void session_discard_auth(session *s)
{
    if (s->auth) {
        free_job(s->auth);
        s->auth = NULL;
    }
    if (s->home) {
        free_home_job(s->home);
        s->home = NULL;
    }
}
