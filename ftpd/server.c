#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt_scratch.h"
#include "fsgate.h"
#include "fsjob.h"
#include "ftps.h"
#include "log.h"
#include "net.h"
#include "reload.h"
#include "session.h"
#include "upcommit.h"
#include "upwriter.h"
#include "xfer.h"
#include "xfer_zjob.h"
#include "xferlog.h"

#define ACCEPTS_PER_WAKEUP 64
#define LISTEN_BACKLOG 4096

static void accept_cb(ev_loop *loop, int fd, int mask, void *ud);
static long accept_retry_cb(ev_loop *loop, ev_timer *t, void *ud);
static long dl_tick_cb(ev_loop *loop, ev_timer *t, void *ud);

/* A listening socket on addr, or -1 with the reason logged: with what to do about it, for
 * the errors an administrator meets when setting a server up. */
static int listen_on(const struct sockaddr_storage *addr)
{
    int fd = net_listen(addr, LISTEN_BACKLOG);
    if (fd >= 0)
        return fd;
    int e = errno;
    char name[NET_ADDR_STRLEN];
    net_addr_str(addr, name, sizeof name);
    const char *hint = "";
    if (e == EADDRINUSE)
        hint = " (another program, or another ftpd, listens there: ss -ltnp names it)";
    else if (e == EACCES && net_port(addr) < 1024)
        hint = " (ports below 1024 need root: start ftpd as root with --user NAME, which it "
               "switches to once the ports are bound)";
    else if (e == EADDRNOTAVAIL)
        hint = " (no interface of this host has that address)";
    log_error("cannot listen on %s: %s%s", name, strerror(e), hint);
    return -1;
}

int server_init(server *srv, const ftpd_config *cfg, ftpd_users *users, ev_loop *loop)
{
    memset(srv, 0, sizeof *srv);
    srv->cfg = cfg;
    srv->users = users;
    srv->loop = loop;
    /* Ready for server_shutdown from here on, even when a step below fails: the listeners
     * join the loop only in server_start. */
    ev_timer_init(&srv->accept_retry, accept_retry_cb, srv);
    ev_timer_init(&srv->dl_tick, dl_tick_cb, srv);
    srv->accept_paused = true;
    ipcount_init(&srv->per_ip);
    if (loginban_init(&srv->bans, (unsigned)cfg->login_ban_failures, cfg->login_ban_window * 1000,
                      cfg->login_ban_time * 1000, cfg->login_ban_max * 1000) < 0) {
        log_error("cannot allocate the login-ban table: %s", strerror(errno));
        return -1;
    }
    if (asciisize_cache_init(&srv->ascii_sizes) < 0) {
        log_error("cannot create a lock: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < cfg->listen_count; i++) {
        int fd = listen_on(&cfg->listen[i]);
        if (fd < 0)
            return -1;
        srv->listen_fds[srv->nlisten++] = fd;
    }
    for (size_t i = 0; i < cfg->listen_implicit_count; i++) {
        int fd = listen_on(&cfg->listen_implicit[i]);
        if (fd < 0)
            return -1;
        srv->listen_implicit[srv->nlisten] = true;
        srv->listen_fds[srv->nlisten++] = fd;
    }
    /* Before privileges are dropped: the key may be readable by root only. */
    if (ftps_server_init(srv) < 0)
        return -1;
    if (cfg->xferlog_file) {
        srv->xferlog = xferlog_open(cfg->xferlog_file);
        if (!srv->xferlog) {
            log_error("cannot open transfer log %s: %s", cfg->xferlog_file, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void set_accepting(server *srv, bool on)
{
    for (size_t i = 0; i < srv->nlisten; i++) {
        if (on)
            ev_add(srv->loop, srv->listen_fds[i], EV_READ, accept_cb, srv);
        else
            ev_del(srv->loop, srv->listen_fds[i], EV_READ);
    }
    srv->accept_paused = !on;
}

static long accept_retry_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    set_accepting(ud, true);
    return EV_TIMER_STOP;
}

/* Frees sessions closed during this iteration, now that no callback can still touch them.
 * A session whose password check or home's open is still on a worker waits for it to report. */
static void before_sleep(ev_loop *loop, void *ud)
{
    server *srv = ud;
    session **pp = &srv->closing;
    while (*pp) {
        session *s = *pp;
        if (s->auth || s->home || s->jobs) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        session_free(s);
    }
}

int server_start(server *srv)
{
    const ftpd_config *cfg = srv->cfg;
    int threads = cfg->worker_threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 2;
    }
    dlslots_init(&srv->dl_slots, cfg->local_download_slots, xfer_slot_resume);
    srv->wq = workq_new(srv->loop, threads);
    if (!srv->wq) {
        log_error("cannot start worker threads: %s", strerror(errno));
        return -1;
    }
    workq_set_idle_hook(srv->wq, crypt_scratch_release);
    srv->wq_fg = workq_new_foreground(srv->loop, threads);
    if (!srv->wq_fg) {
        log_error("cannot start worker threads: %s", strerror(errno));
        return -1;
    }
    workq_set_idle_hook(srv->wq_fg, crypt_scratch_release);
    corebudget_init(&srv->budget, srv->wq, srv->wq_fg);
    srv->budget_ready = true;
    srv->uw = upwriter_new(srv->loop, threads);
    if (!srv->uw) {
        log_error("cannot start upload writer threads: %s", strerror(errno));
        return -1;
    }
    ev_set_before_sleep(srv->loop, before_sleep, srv);
    set_accepting(srv, true);
    for (size_t i = 0; i < srv->nlisten; i++) {
        struct sockaddr_storage bound;
        char name[NET_ADDR_STRLEN];
        net_local_addr(srv->listen_fds[i], &bound);
        log_startup("listening on %s%s", net_addr_str(&bound, name, sizeof name),
                    srv->listen_implicit[i] ? " (implicit FTPS)" : "");
    }
    srv->started = true;
    return 0;
}

static void accept_one(server *srv, int fd, const struct sockaddr_storage *peer, bool implicit_tls)
{
    const ftpd_config *cfg = srv->cfg;
    const char *refuse = NULL;
    char limit[48] = ""; /* for the log: the setting an operator would raise */
    if (srv->nsessions >= (size_t)cfg->max_sessions) {
        refuse = "Too many users, try again later.";
        snprintf(limit, sizeof limit, "max-sessions %d reached", cfg->max_sessions);
    } else if (ipcount_get(&srv->per_ip, peer) >= (unsigned)cfg->max_per_ip) {
        refuse = "Too many connections from your address.";
        snprintf(limit, sizeof limit, "max-per-ip %d reached", cfg->max_per_ip);
    }
    session *s = session_new(srv, fd, peer, refuse, limit, implicit_tls);
    if (s && !refuse && s->state != SESS_CLOSED) { /* implicit TLS may have failed at once */
        if (ipcount_inc(&srv->per_ip, peer))
            s->flags |= SF_COUNTED;
    }
}

/* A shortage that lasts (a flood of connections, a leak) fails every retry, ten a second:
 * logged each time it would bury the log (and fill its disk) under one line repeated. */
static void warn_accept_paused(server *srv, int err)
{
    long long now = ev_now(srv->loop);
    if (srv->accept_warned_ms != 0 && now - srv->accept_warned_ms < 10000) {
        srv->accept_unlogged++;
        return;
    }
    if (srv->accept_unlogged > 0)
        log_warn("cannot accept: %s; pausing accepts for 100 ms (%lu more times since the "
                 "last such line)",
                 strerror(err), srv->accept_unlogged);
    else
        log_warn("cannot accept: %s; pausing accepts for 100 ms", strerror(err));
    srv->accept_warned_ms = now;
    srv->accept_unlogged = 0;
}

/* The retries a shortage failed without a line of their own belong to it: said when it ends,
 * not held over to the next one's first line. */
static void note_accepting_again(server *srv)
{
    if (srv->accept_unlogged == 0)
        return;
    log_warn("accepting again, after %lu more failed retries since the last \"cannot accept\" "
             "line",
             srv->accept_unlogged);
    srv->accept_unlogged = 0;
}

static void accept_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    server *srv = ud;
    bool implicit_tls = false;
    for (size_t i = 0; i < srv->nlisten; i++)
        if (srv->listen_fds[i] == fd)
            implicit_tls = srv->listen_implicit[i];
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage peer;
        int cfd = net_accept(fd, &peer);
        if (cfd >= 0) {
            note_accepting_again(srv);
            net_set_nodelay(cfd);
            accept_one(srv, cfd, &peer, implicit_tls);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of descriptors: stop accepting for a moment instead of spinning. */
            warn_accept_paused(srv, errno);
            set_accepting(srv, false);
            ev_timer_start(loop, &srv->accept_retry, 100);
        }
        return;
    }
}

bool server_download_may_send(server *srv, dlslot *sl)
{
    if (dlslots_enter(&srv->dl_slots, sl, ev_now(srv->loop)))
        return true;
    if (!ev_timer_active(&srv->dl_tick))
        ev_timer_start(srv->loop, &srv->dl_tick, DLSLOT_TICK_MS);
    return false;
}

static long dl_tick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    server *srv = ud;
    dlslots_tick(&srv->dl_slots, ev_now(loop));
    return dlslots_busy(&srv->dl_slots) ? DLSLOT_TICK_MS : EV_TIMER_STOP;
}

workq *server_work_queue(server *srv)
{
    return srv->running_transfers > 0 || !srv->wq_fg ? srv->wq : srv->wq_fg;
}

size_t server_work_pending(const server *srv)
{
    return (srv->wq ? workq_pending(srv->wq) : 0) + (srv->wq_fg ? workq_pending(srv->wq_fg) : 0);
}

void server_transfer_started(server *srv)
{
    if (srv->running_transfers++ == 0 && srv->budget_ready)
        corebudget_transfers_started(&srv->budget, srv->loop);
}

void server_transfer_ended(server *srv)
{
    if (--srv->running_transfers == 0 && srv->budget_ready)
        corebudget_transfers_ended(&srv->budget, srv->loop);
}

/* The pool drops queued jobs at shutdown without a word, so the server keeps its close jobs
 * in a list and closes what a dropped job left open. */
typedef struct close_job {
    server *srv;
    int fd;
    bool closed; /* set by the worker; read on the loop only after the pool is joined */
    struct close_job *prev, *next;
    session *waiter; /* server_close_then_reply's session, or NULL */
    int code;
    char *text;
} close_job;

static void close_fn(void *arg)
{
    close_job *j = arg;
    close(j->fd);
    j->closed = true;
}

static void close_unlink(close_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        j->srv->close_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
}

static void reply_and_resume(session *s, int code, const char *text)
{
    session_reply(s, code, "%s", text);
    session_resume(s);
}

static void free_close_job(close_job *j)
{
    free(j->text);
    free(j);
}

static void close_done(void *arg)
{
    close_job *j = arg;
    close_unlink(j);
    session *s = j->waiter;
    if (s) {
        s->jobs--;
        if (s->state == SESS_READY) /* else it closed meanwhile and is freed once jobs is 0 */
            reply_and_resume(s, j->code, j->text);
    }
    free_close_job(j);
}

/* Queues the close of fd. Returns 0, or -1 when fd was closed here instead. */
static int queue_close(server *srv, int fd, session *waiter, int code, const char *text)
{
    if (srv->wq) { /* else shutting down: the pool is gone */
        close_job *j = calloc(1, sizeof *j);
        if (j && (!text || (j->text = strdup(text)))) {
            j->srv = srv;
            j->fd = fd;
            j->waiter = waiter;
            j->code = code;
            j->next = srv->close_jobs;
            if (j->next)
                j->next->prev = j;
            srv->close_jobs = j;
            if (workq_submit(server_work_queue(srv), close_fn, close_done, j) == 0) {
                if (waiter)
                    waiter->jobs++;
                return 0;
            }
            close_unlink(j);
        }
        if (j)
            free_close_job(j);
    }
    close(fd);
    return -1;
}

void server_close_later(server *srv, int fd)
{
    if (fd >= 0)
        queue_close(srv, fd, NULL, 0, NULL);
}

void server_close_then_reply(server *srv, int fd, session *s, int code, const char *text)
{
    if (fd >= 0 && queue_close(srv, fd, s, code, text) == 0)
        session_hold(s);
    else
        reply_and_resume(s, code, text);
}

void server_session_closed(server *srv, session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nsessions--;
    if (s->flags & SF_COUNTED)
        ipcount_dec(&srv->per_ip, &s->peer);
    s->prev = NULL;
    s->next = srv->closing;
    srv->closing = s;
}

void server_shutdown(server *srv)
{
    if (!srv->accept_paused && srv->loop)
        set_accepting(srv, false);
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->accept_retry);
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->dl_tick);
    for (size_t i = 0; i < srv->nlisten; i++)
        close(srv->listen_fds[i]);
    srv->nlisten = 0;
    srv->stopping = true; /* a transfer cut now says why in its log line */
    while (srv->sessions)
        session_close_for_shutdown(srv->sessions);
    if (srv->budget_ready) {
        corebudget_close(&srv->budget, srv->loop);
        srv->budget_ready = false;
    }
    if (srv->wq) {
        workq_free(srv->wq);
        srv->wq = NULL;
    }
    if (srv->wq_fg) {
        workq_free(srv->wq_fg);
        srv->wq_fg = NULL;
    }
    reload_discard(srv); /* a SIGHUP's reading the pool did not deliver */
    xfer_io_shutdown(srv);
    xfer_zjob_shutdown(srv);
    fsjob_shutdown(srv); /* after the pool they shared stopped */
    fsgate_shutdown(srv);
    upcommit_shutdown(srv); /* ...and before the sessions it reports to are freed */
    upwriter_free(srv->uw); /* a move in flight finishes first; its upload is kept as a partial */
    srv->uw = NULL;
    while (srv->close_jobs) { /* undelivered: run (fd closed) or dropped (still open) */
        close_job *j = srv->close_jobs;
        srv->close_jobs = j->next;
        if (!j->closed)
            close(j->fd);
        free_close_job(j);
    }
    while (srv->closing) {
        session *s = srv->closing;
        srv->closing = s->next;
        session_discard_auth(s);
        session_discard_hash(s);
        session_discard_prepare(s);
        xfer_discard_orphan(s);
        session_free(s);
    }
    appendlocks_free(&srv->append_locks);
    ipcount_free(&srv->per_ip);
    loginban_free(&srv->bans);
    asciisize_cache_free(&srv->ascii_sizes); /* no worker runs any more */
    ftps_server_free(srv);
    if (srv->xferlog) {
        fclose(srv->xferlog);
        srv->xferlog = NULL;
    }
    if (srv->started) /* after a failed start, the error is the last word */
        log_info("served %llu transfer%s: %llu bytes in, %llu bytes out", srv->transfers,
                 srv->transfers == 1 ? "" : "s", srv->bytes_in, srv->bytes_out);
}
