/* Job runner: slots, a pool of idle connections, retries. */
#include "jobs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bars.h"
#include "conn.h"
#include "fsops.h"
#include "net.h"
#include "nodir.h"
#include "partlock.h"
#include "readonly.h"
#include "segget.h"
#include "segput.h"
#include "verify.h"
#include "xfer.h"

#define RETRY_MAX_DELAY_MS 60000L

/* A failure often ends in a server's own sentence ("...closing control connection."): the
 * retry notice then starts a sentence of its own rather than put "; retrying" after a period. */
static bool ends_sentence(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == ')' || msg[n - 1] == '"'))
        n--;
    return n > 0 && strchr(".!?", msg[n - 1]) != NULL;
}

typedef struct slot {
    ftpc_runner *r;
    ftpc_task *t; /* NULL: free */
    ftpc_conn *c;
    ftpc_xfer *x;
    ftpc_fsop *f;
    ftpc_segget *g;
    ftpc_segput *p;
    ftpc_verify *v; /* the HASH check after a transfer */
    int src_fd;     /* the upload's source, kept open for that check (ftpc_verify_set_source) */
    ev_timer retry;
    /* Its connection was turned away while others of ours to the server were in: the task
     * waits, unstarted, for one of those to be free (fill_slots). */
    bool parked;
    /* The connection came from the pool (or was the transfer's, for the check), and the
     * server's replies on it so far: a failure with none more found it closed already. */
    bool reused;
    unsigned long answers;
    bool checks_after; /* ... the transfer's own, which the server answered just now */
    bool fresh;        /* the next start takes a new connection, not an idle one */
} slot;

struct ftpc_runner {
    ftpc_ctx *ctx;
    ftpc_task *tasks;
    size_t n;
    size_t next; /* first task not started */
    size_t ndone;
    int nslots;
    slot *slots;
    ftpc_conn **pool; /* idle, logged-in connections */
    int npool;
    ftpc_nodirs nodirs; /* directories found not to be on the server */
};

static bool is_transfer(const ftpc_task *t)
{
    return t->kind == FTPC_T_GET || t->kind == FTPC_T_PUT || t->kind == FTPC_T_LS ||
           t->kind == FTPC_T_CAT;
}

/* A file of those ftpc_bars_set_files counts. */
static bool counted_file(const ftpc_task *t)
{
    return t->kind == FTPC_T_PUT || (t->kind == FTPC_T_GET && strcmp(t->local, "-") != 0);
}

/* ---- the pool ---- */

static void pool_remove(ftpc_runner *r, ftpc_conn *c)
{
    for (int i = 0; i < r->npool; i++) {
        if (r->pool[i] == c) {
            r->pool[i] = r->pool[--r->npool];
            return;
        }
    }
}

static void pool_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    /* An idle connection the server closed (idle timeout): simply forget it. */
    pool_remove(ud, c);
    ftpc_conn_free(c);
}

static const ftpc_conn_owner pool_owner = {.failed = pool_failed};

static void pool_put(ftpc_runner *r, ftpc_conn *c)
{
    if (r->npool >= r->nslots) {
        /* Keep the number of connections bounded: drop the oldest idle one. */
        ftpc_conn *old = r->pool[0];
        r->pool[0] = r->pool[--r->npool];
        ftpc_conn_quit(old);
    }
    ftpc_conn_set_owner(c, &pool_owner, r);
    r->pool[r->npool++] = c;
}

static ftpc_conn *pool_take(ftpc_runner *r, const ftpc_endpoint *ep)
{
    for (int i = 0; i < r->npool; i++) {
        ftpc_conn *c = r->pool[i];
        if (ftpc_conn_endpoint(c) == ep && ftpc_conn_is_ready(c)) {
            r->pool[i] = r->pool[--r->npool];
            return c;
        }
    }
    return NULL;
}

/* ---- the server's limit on connections ---- */

/* Our connections to ep that are alive (or, with logged_in, have logged in), but for the one
 * of slot except: the running tasks' and the idle ones. */
static int live_conns(const ftpc_runner *r, const ftpc_endpoint *ep, const slot *except,
                      bool logged_in)
{
    int n = 0;
    for (int i = 0; i < r->nslots; i++) {
        const ftpc_conn *c = r->slots[i].c;
        if (&r->slots[i] != except && c != NULL && ftpc_conn_endpoint(c) == ep &&
            !ftpc_conn_is_dead(c) && (!logged_in || ftpc_conn_logged_in(c)))
            n++;
    }
    for (int i = 0; i < r->npool; i++)
        if (ftpc_conn_endpoint(r->pool[i]) == ep && !ftpc_conn_is_dead(r->pool[i]))
            n++;
    return n;
}

/* s's connection was turned away before login while others of ours to the same server are
 * in: the server allows no more at once (ftpd's --max-per-ip, vsftpd's max_per_ip, ProFTPD's
 * MaxClientsPerHost), and the task is to wait for one of those rather than fail. A greeting
 * other than 220 or a 421 at login says so whatever the others' state; a 530 only once another
 * connection has logged in with the same account, or it is a bad password. The endpoint
 * keeps the number of the others as its limit from then on. */
static bool turned_away(slot *s, int status)
{
    ftpc_task *t = s->t;
    const char *text = NULL;
    if (s->c == NULL || ftpc_conn_logged_in(s->c) || ftpc_conn_endpoint(s->c) != t->ep)
        return false;
    int code = ftpc_conn_refusal(s->c, &text);
    bool busy = status == FTPC_EXIT_CONNECT && code != 0;
    bool login = status == FTPC_EXIT_LOGIN && code == 530;
    if (!busy && !login)
        return false;
    int others = live_conns(s->r, t->ep, s, login);
    if (others == 0)
        return false;
    ftpc_endpoint_saw_limit(t->ep, others, text);
    return true;
}

/* s's task (or its check) failed on a connection that had served an earlier one, before the
 * server answered anything for it: the server had closed it meanwhile (an idle timeout,
 * a limit on commands or files per session). That says nothing about the task, which is
 * started again at once on a new connection, as if the idle one had never been there. */
static bool found_closed(const slot *s, int status)
{
    /* A check on the connection its transfer has just used found it open: a server that
     * says nothing then is slow to hash (HASH, the check's first command, waits for that),
     * and a new connection would only wait for it again. */
    return ftpc_status_transient(status) && s->reused && s->c != NULL &&
           ftpc_conn_answers(s->c) == s->answers && !(s->checks_after && ftpc_conn_timed_out(s->c));
}

/* A listing already partly on standard output cannot be resumed, nor standard input read
 * again once an attempt has taken bytes from it (before that, say while the server cannot be
 * reached, a retry loses nothing). */
static bool can_try_again(const ftpc_task *t)
{
    return !(t->kind == FTPC_T_LS && t->out_written > 0) && !(ftpc_task_stdin(t) && t->src_read) &&
           !t->out_lost;
}

/* The running tasks for ep (a retrying one counts: it will connect again) and the idle
 * connections to it. */
static int conns_in_use(const ftpc_runner *r, const ftpc_endpoint *ep)
{
    int n = 0;
    for (int i = 0; i < r->nslots; i++)
        if (r->slots[i].t != NULL && !r->slots[i].parked && r->slots[i].t->ep == ep)
            n++;
    for (int i = 0; i < r->npool; i++)
        if (ftpc_conn_endpoint(r->pool[i]) == ep)
            n++;
    return n;
}

/* A task for ep may start: an idle connection is there for it, or the server's limit (if it
 * showed one) leaves room for another. */
static bool room_for(const ftpc_runner *r, const ftpc_endpoint *ep)
{
    if (ep->conn_limit == 0)
        return true;
    for (int i = 0; i < r->npool; i++)
        if (ftpc_conn_endpoint(r->pool[i]) == ep && ftpc_conn_is_ready(r->pool[i]))
            return true;
    return conns_in_use(r, ep) < ep->conn_limit;
}

/* Said once, when the first task that waited starts: by then the connections opened at once
 * have all been let in or turned away, and the number is the one the run goes on with. */
static void tell_conn_limit(const ftpc_runner *r, ftpc_endpoint *ep)
{
    if (ep->told_conn_limit || r->ctx->opts->quiet)
        return;
    ep->told_conn_limit = true;
    char where[NET_ADDR_STRLEN + 8];
    ftpc_msg(r->ctx, "ftpc: %s turned away connections beyond %d (%s): going on with %d at once",
             ftpc_endpoint_str(ep, where, sizeof(where)), ep->conn_limit, ep->conn_refusal,
             ep->conn_limit);
}

/* ---- slots ---- */

static void fill_slots(ftpc_runner *r);

static void resume_hint(const ftpc_task *t, char *out, size_t out_size);

static void count_failed(ftpc_runner *r, const ftpc_task *t)
{
    if (r->ctx->bars != NULL && counted_file(t)) {
        if (t->size_known)
            ftpc_bars_planned_file_failed(r->ctx->bars, t->known_size);
        else
            ftpc_bars_file_failed(r->ctx->bars);
    }
}

/* The tasks other than t running for t's directory. */
static size_t running_for_dir(const ftpc_runner *r, const ftpc_task *t)
{
    size_t n = 0;
    for (int i = 0; i < r->nslots; i++) {
        const ftpc_task *o = r->slots[i].t;
        if (o != NULL && o != t && !o->finished && ftpc_nodir_same_dir(o, t))
            n++;
    }
    return n;
}

/* t ended: a put (or a gate mkdir) whose directory is not on the server is told once for all
 * the files for it, and the ones not started are not sent (nodir.h). Returns true when t's
 * failure is told that way. */
static bool nodir_final(ftpc_runner *r, ftpc_task *t)
{
    if (t->kind != FTPC_T_PUT && !(t->kind == FTPC_T_MKDIR && t->gate))
        return false;
    ftpc_nodir_group *g = ftpc_nodirs_find(&r->nodirs, t);
    if (g != NULL && g->lead != t) {
        bool told = ftpc_nodirs_ended(g, t);
        ftpc_nodirs_tell(g, r->ctx, false);
        return told;
    }
    if (t->err.status == FTPC_OK || (t->kind == FTPC_T_PUT && !t->nodir))
        return false;
    g = ftpc_nodirs_add(&r->nodirs, t, running_for_dir(r, t));
    if (g == NULL)
        return false;
    for (size_t i = r->next; i < r->n; i++)
        if (ftpc_nodirs_drop(g, &r->tasks[i]))
            count_failed(r, &r->tasks[i]);
    ftpc_nodirs_tell(g, r->ctx, false);
    return true;
}

static void task_final(ftpc_runner *r, ftpc_task *t)
{
    t->finished = true;
    r->ndone++;
    if (r->ctx->bars != NULL) { /* a line that waited for another attempt waits no more */
        char name[2 * FTPC_URL_PATH_MAX + 8];
        ftpc_bars_end_waiting(r->ctx->bars, ftpc_task_label(t, name, sizeof(name)));
    }
    bool told = nodir_final(r, t);
    if (t->err.status == FTPC_OK)
        return;
    count_failed(r, t);
    if (told || (t->quiet_refusal && t->err.status == FTPC_EXIT_REMOTE))
        return;
    /* A transfer cut off (the server gone, a timeout) leaves what a stopped one leaves, and
     * says so the same way (ftpc_runner_stop); a refusal or a failed check is not for -c. A
     * download stopped by a local error (a full disk) keeps its hidden part file too: the
     * message names it, or the space it holds would be lost from sight. */
    char hint[FTPC_URL_PATH_MAX + 64];
    size_t len = strlen(t->err.msg);
    bool local_get = t->err.status == FTPC_EXIT_LOCAL && t->kind == FTPC_T_GET;
    if (ftpc_task_stdin(t) && t->src_read && ftpc_status_transient(t->err.status) &&
        r->ctx->opts->retries > 0) {
        snprintf(hint, sizeof(hint), " (not retried: %s cannot be read again)",
                 strcmp(t->local, "-") == 0 ? "standard input" : "its input");
        if (len + strlen(hint) < FTPC_ERR_MSG_MAX)
            ftpc_task_err_append(t, hint);
    } else if ((ftpc_status_transient(t->err.status) || local_get) && t->attempts > 0) {
        resume_hint(t, hint, sizeof(hint));
        if (len + strlen(hint) < FTPC_ERR_MSG_MAX)
            ftpc_task_err_append(t, hint);
    }
    ftpc_msg(r->ctx, "ftpc: %s", t->err.msg);
}

static void start_task(slot *s);

static long retry_cb(ev_loop *loop, ev_timer *tm, void *ud)
{
    start_task(ud);
    return EV_TIMER_STOP;
}

static void op_done(void *ud, int status, bool reusable);

/* A transfer that worked is checked against the server's HASH before it counts, on the same
 * connection (a new one if that is not reusable). Segmented transfers check their ranges
 * themselves; they say so. Returns true when the check started (op_done comes again). */
static bool start_verify(slot *s, int status, bool reusable)
{
    ftpc_runner *r = s->r;
    ftpc_task *t = s->t;
    if (status != FTPC_OK || t->skipped || !ftpc_verify_wanted(r->ctx, t))
        return false;
    if (t->whole_checked) {
        ftpc_verify_report(r->ctx, t, true, t->whole_algo, NULL);
        return false;
    }
    digest_algo algo = DIGEST_SHA256;
    int nseg = 0;
    if (s->g != NULL)
        nseg = ftpc_segget_verified(s->g, &algo);
    else if (s->p != NULL)
        nseg = ftpc_segput_verified(s->p, &algo);
    if (nseg != 0) {
        if (nseg > 0) {
            char detail[64];
            snprintf(detail, sizeof(detail), "%d segments", nseg);
            ftpc_verify_report(r->ctx, t, true, algo, detail);
        }
        return false;
    }
    if (s->src_fd < 0)
        s->src_fd = s->p != NULL ? ftpc_segput_take_source(s->p) : ftpc_xfer_take_source(s->x);
    ftpc_xfer_free(s->x);
    ftpc_segget_free(s->g);
    ftpc_segput_free(s->p);
    s->x = NULL;
    s->g = NULL;
    s->p = NULL;
    s->reused = s->c != NULL && reusable;
    s->checks_after = s->reused;
    if (!s->reused) {
        if (s->c != NULL)
            ftpc_conn_free(s->c);
        s->c = ftpc_conn_new(r->ctx, t->ep, NULL, NULL);
    }
    if (s->c != NULL)
        s->answers = ftpc_conn_answers(s->c);
    s->v = s->c != NULL ? ftpc_verify_new(r->ctx, t, op_done, s) : NULL;
    if (s->v == NULL)
        return false;
    ftpc_verify_set_source(s->v, s->src_fd);
    ftpc_verify_start(s->v, s->c);
    return true;
}

static void close_source(slot *s)
{
    if (s->src_fd >= 0)
        close(s->src_fd);
    s->src_fd = -1;
}

/* A download that waited in its part file for its check goes in place now, unless the check
 * failed: then the part file stays (the failure names it) and the old file is untouched. */
static int settle_download(ftpc_task *t, int status)
{
    if (!t->rename_pending || status != FTPC_OK) {
        t->rename_pending = false;
        ftpc_task_release_part(t);
        return status;
    }
    t->rename_pending = false;
    int prior = t->held_part > 0 ? ftpc_xfer_keep_mode(t->held_part - 1, t->local) : -1;
    /* renamed under the part file's lock, let go after (partlock.h) */
    char part[PATH_MAX];
    if (ftpc_part_name(t->local, part, sizeof(part)) < 0 || rename(part, t->local) < 0) {
        int e = errno;
        if (t->held_part > 0)
            ftpc_xfer_undo_mode(t->held_part - 1, prior);
        ftpc_task_fail(t, FTPC_EXIT_LOCAL, "downloading %s: renaming %s to %s: %s", t->display,
                       part, t->local, strerror(e));
        status = FTPC_EXIT_LOCAL;
    }
    ftpc_task_release_part(t);
    return status;
}

static void op_done(void *ud, int status, bool reusable)
{
    slot *s = ud;
    ftpc_runner *r = s->r;
    ftpc_task *t = s->t;
    bool checked = s->v != NULL; /* what ends is the check of a finished transfer */
    bool closed = found_closed(s, status);
    if (s->v != NULL) {
        ftpc_verify_free(s->v);
        s->v = NULL;
        /* The transfer's connection was closed before the check could start: once more,
         * on a new one. */
        if (closed && start_verify(s, FTPC_OK, false))
            return;
    } else if (start_verify(s, status, reusable)) {
        return;
    }
    close_source(s);
    status = settle_download(t, status);
    bool park = status != FTPC_OK && !checked && turned_away(s, status);
    if (status == FTPC_OK && t->kind == FTPC_T_GET && strcmp(t->local, "-") != 0)
        ftpc_segget_drop_stale(t->local);
    /* A line held for a check that did not run (or did not say), or for the rename after it,
     * ends as the transfer did. */
    ftpc_bar_done_note(t->held_bar, status == FTPC_OK, t->held_note[0] ? t->held_note : NULL);
    t->held_bar = NULL;
    ftpc_task_unset(&t->held_note);
    t->hold_bar = false;
    if (s->p != NULL) {
        ftpc_segput_free(s->p);
        s->p = NULL;
    }
    if (s->x != NULL) {
        ftpc_xfer_free(s->x);
        s->x = NULL;
    }
    if (s->f != NULL) {
        ftpc_fsop_free(s->f);
        s->f = NULL;
    }
    if (s->g != NULL) {
        ftpc_segget_free(s->g);
        s->g = NULL;
    }
    if (s->c != NULL) {
        if (reusable)
            pool_put(r, s->c);
        else
            ftpc_conn_free(s->c);
        s->c = NULL;
    }
    if (closed && !checked && can_try_again(t)) {
        t->attempts--; /* not an attempt: the task never reached the server */
        ftpc_task_set_status(t, FTPC_OK);
        s->fresh = true;
        start_task(s);
        return;
    }
    if (park) {
        /* Not an attempt: nothing was tried. */
        t->attempts--;
        ftpc_task_set_status(t, FTPC_OK);
        s->parked = true;
        fill_slots(r); /* an idle connection may be there for it already */
        return;
    }
    const ftpc_opts *o = r->ctx->opts;
    if (status != FTPC_OK && ftpc_status_transient(status) && can_try_again(t) &&
        t->attempts <= o->retries) {
        long delay = o->retry_delay_ms;
        for (int i = 1; i < t->attempts && delay < RETRY_MAX_DELAY_MS; i++)
            delay *= 2;
        if (delay > RETRY_MAX_DELAY_MS)
            delay = RETRY_MAX_DELAY_MS;
        if (r->ctx->bars != NULL) { /* its line waits for the next attempt, shown */
            char name[2 * FTPC_URL_PATH_MAX + 8];
            ftpc_bars_retrying(r->ctx->bars, ftpc_task_label(t, name, sizeof(name)));
        }
        ftpc_msg(r->ctx, "ftpc: %s%s in %.1f s (attempt %d of %d)", t->err.msg,
                 ends_sentence(t->err.msg) ? " Retrying" : "; retrying", (double)delay / 1000.0,
                 t->attempts + 1, o->retries + 1);
        ev_timer_start(r->ctx->loop, &s->retry, delay);
        return;
    }
    task_final(r, t);
    s->t = NULL;
    fill_slots(r);
}

/* The ranges a download is split into: --segments, or with -c (and no --segments) those of
 * the segmented download it continues, so that get -c, as the message of the cut one says,
 * resumes it rather than fetch the whole file anew and drop what was kept. */
static int get_segments(const ftpc_runner *r, const ftpc_task *t)
{
    const ftpc_opts *o = r->ctx->opts;
    if (o->segments > 1)
        return o->segments;
    if (o->resume && strcmp(t->local, "-") != 0)
        return ftpc_segget_kept_ranges(t->local);
    return 0;
}

/* A download would replace a file made read-only to keep it: refused before it begins, as
 * curl and wget refuse it, so that nothing is fetched for nothing. With -c and no part file
 * the file itself is what -c continues, and it may be complete already: the transfer decides,
 * once SIZE has said, and refuses only what would write (task.h). */
static bool refuse_write_protected(ftpc_runner *r, ftpc_task *t)
{
    char why[160], part[PATH_MAX];
    struct stat st;
    if (t->kind != FTPC_T_GET || strcmp(t->local, "-") == 0 || t->replace_readonly ||
        r->ctx->opts->force || !ftpc_write_protected(t->local, why, sizeof(why)))
        return false;
    if (r->ctx->opts->resume && !ftpc_task_ascii(t, r->ctx->opts->ascii) &&
        ftpc_part_name(t->local, part, sizeof(part)) == 0 && lstat(part, &st) < 0) {
        t->protected_dest = true;
        return false;
    }
    ftpc_task_fail(t, FTPC_EXIT_LOCAL, "%s: not replacing %s: %s (-f replaces it)", t->display,
                   t->local, why);
    task_final(r, t);
    return true;
}

static void start_task(slot *s)
{
    ftpc_runner *r = s->r;
    ftpc_task *t = s->t;
    t->attempts++;
    ftpc_task_set_status(t, FTPC_OK);
    ftpc_conn *c = s->fresh ? NULL : pool_take(r, t->ep);
    s->fresh = false;
    s->reused = c != NULL;
    s->checks_after = false;
    if (c != NULL)
        s->answers = ftpc_conn_answers(c);
    else
        c = ftpc_conn_new(r->ctx, t->ep, NULL, NULL);
    if (c == NULL) {
        ftpc_task_fail(t, FTPC_EXIT_LOCAL, "%s: out of memory", t->display);
        task_final(r, t);
        s->t = NULL;
        return;
    }
    s->c = c;
    /* whether a check follows is known at the end (the local file exists by then) */
    t->hold_bar = is_transfer(t) && r->ctx->opts->verify;
    int nseg = 0;
    /* put -c goes there without --segments too: it removes what an interrupted segmented
     * upload of the file left (segput.h). */
    if (t->kind == FTPC_T_PUT && !ftpc_task_stdin(t) &&
        (r->ctx->opts->segments > 1 || r->ctx->opts->resume)) {
        s->p = ftpc_segput_new(r->ctx, t, r->ctx->opts->segments > 1 ? r->ctx->opts->segments : 1,
                               op_done, s);
        if (s->p != NULL) {
            ftpc_segput_start(s->p, c);
            return;
        }
    } else if (t->kind == FTPC_T_GET && (nseg = get_segments(r, t)) > 1) {
        s->g = ftpc_segget_new(r->ctx, t, nseg, op_done, s);
        if (s->g != NULL) {
            ftpc_segget_start(s->g, c);
            return;
        }
    } else if (is_transfer(t)) {
        s->x = ftpc_xfer_new(r->ctx, t, op_done, s);
        if (s->x != NULL) {
            ftpc_xfer_start(s->x, c);
            return;
        }
    } else {
        s->f = ftpc_fsop_new(r->ctx, t, op_done, s);
        if (s->f != NULL) {
            ftpc_fsop_start(s->f, c);
            return;
        }
    }
    ftpc_conn_free(c);
    s->c = NULL;
    ftpc_task_fail(t, FTPC_EXIT_LOCAL, "%s: out of memory", t->display);
    task_final(r, t);
    s->t = NULL;
}

/* Skips tasks that came already finished (a glob that matched nothing). */
static void skip_finished(ftpc_runner *r)
{
    while (r->next < r->n && r->tasks[r->next].finished) {
        r->next++;
        r->ndone++;
    }
}

/* Two transfers to the same file must not run at once (one part file, one rename). */
static bool same_target(const ftpc_task *a, const ftpc_task *b)
{
    if (a->kind == FTPC_T_GET && b->kind == FTPC_T_GET)
        return strcmp(a->local, "-") != 0 && strcmp(a->local, b->local) == 0;
    if (a->kind == FTPC_T_PUT && b->kind == FTPC_T_PUT)
        return a->ep == b->ep && strcmp(a->remote, b->remote) == 0;
    return false;
}

static bool conflicts(const ftpc_runner *r, const ftpc_task *t)
{
    for (int i = 0; i < r->nslots; i++)
        if (r->slots[i].t != NULL && same_target(r->slots[i].t, t))
            return true;
    return false;
}

/* A gate task runs (task.h): nothing else starts until it has ended. */
static bool gated(const ftpc_runner *r)
{
    for (int i = 0; i < r->nslots; i++)
        if (r->slots[i].t != NULL && r->slots[i].t->gate)
            return true;
    return false;
}

/* Of the waiting tasks that may start now, the one that came first in the list. */
static slot *first_unparkable(ftpc_runner *r)
{
    slot *first = NULL;
    for (int i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->parked && (first == NULL || s->t < first->t) && room_for(r, s->t->ep))
            first = s;
    }
    return first;
}

static bool any_parked(const ftpc_runner *r)
{
    for (int i = 0; i < r->nslots; i++)
        if (r->slots[i].parked)
            return true;
    return false;
}

/* A task waits for room at a server whose limit was learned: now and then the limit goes up
 * by one, in case the sessions that made it have ended (endpoint.h). */
static void probe_limits(ftpc_runner *r)
{
    for (int i = 0; i < r->nslots; i++) {
        ftpc_endpoint *ep = r->slots[i].parked ? r->slots[i].t->ep : NULL;
        if (ep != NULL && ftpc_endpoint_probe_limit(ep, conns_in_use(r, ep), r->nslots))
            return;
    }
    if (r->next < r->n) {
        ftpc_endpoint *ep = r->tasks[r->next].ep;
        if (ep != NULL)
            (void)ftpc_endpoint_probe_limit(ep, conns_in_use(r, ep), r->nslots);
    }
}

static void fill_slots(ftpc_runner *r)
{
    probe_limits(r);
    /* Waiting tasks first: they came before any not started. */
    slot *w;
    while ((w = first_unparkable(r)) != NULL) {
        w->parked = false;
        tell_conn_limit(r, w->t->ep);
        start_task(w);
    }
    skip_finished(r);
    for (int i = 0; i < r->nslots && r->next < r->n && !gated(r); i++) {
        slot *s = &r->slots[i];
        if (s->t != NULL)
            continue;
        while (r->next < r->n && refuse_write_protected(r, &r->tasks[r->next])) {
            r->next++;
            skip_finished(r);
        }
        if (r->next >= r->n)
            break;
        /* The next task waits (and the ones after it, keeping the order) while a running
         * task writes the same file, or while its server has no room for one more of ours
         * (tasks turned away by it wait for room first). */
        ftpc_task *next = &r->tasks[r->next];
        if (conflicts(r, next) || !room_for(r, next->ep))
            break;
        s->t = &r->tasks[r->next++];
        start_task(s);
        skip_finished(r);
    }
    /* Nothing left to start: idle connections have no further use. */
    if (r->next >= r->n && !any_parked(r)) {
        while (r->npool > 0)
            ftpc_conn_quit(r->pool[--r->npool]);
    }
}

ftpc_runner *ftpc_runner_new(ftpc_ctx *ctx, ftpc_task *tasks, size_t n, int jobs)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > n && n > 0)
        jobs = (int)n;
    ftpc_runner *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->slots = calloc((size_t)jobs, sizeof(*r->slots));
    r->pool = calloc((size_t)jobs, sizeof(*r->pool));
    if (r->slots == NULL || r->pool == NULL) {
        free(r->slots);
        free(r->pool);
        free(r);
        return NULL;
    }
    r->ctx = ctx;
    r->tasks = tasks;
    for (size_t i = 0; ctx->bars != NULL && i < n; i++)
        if (!tasks[i].finished && tasks[i].size_known && counted_file(&tasks[i]))
            ftpc_bars_plan_file(ctx->bars, tasks[i].known_size);
    r->n = n;
    r->nslots = jobs;
    for (int i = 0; i < jobs; i++) {
        r->slots[i].r = r;
        r->slots[i].src_fd = -1;
        ev_timer_init(&r->slots[i].retry, retry_cb, &r->slots[i]);
    }
    return r;
}

void ftpc_runner_start(ftpc_runner *r)
{
    fill_slots(r);
}

bool ftpc_runner_finished(const ftpc_runner *r)
{
    return r->ndone >= r->n;
}

/* A task stopped while its HASH check ran has its whole file in place: it says so. */
static void stop_verifying(ftpc_runner *r, ftpc_task *t, const char *reason)
{
    if (settle_download(t, FTPC_OK) != FTPC_OK) {
        ftpc_msg(r->ctx, "ftpc: %s", t->err.msg);
        t->finished = true;
        r->ndone++;
        return;
    }
    ftpc_task_fail(t, FTPC_EXIT_XFER, "%s: complete, but not verified: the check was %s",
                   t->display, reason);
    ftpc_msg(r->ctx, "ftpc: %s", t->err.msg);
    t->finished = true;
    r->ndone++;
}

/* An upload that had begun: -c asks SIZE and continues after what the name holds. A server
 * that writes uploads aside keeps the part received (ftpd: as the resume point of a name
 * that had no file, which its SIZE then reports), but where the upload was replacing a
 * file it keeps that file as it was, and SIZE reports it: -c finds it differs from the
 * source (HASH) and sends it all again, while the part kept aside goes unused. A server
 * that writes in place (vsftpd) has the part under the name, and -c resumes it. */
static void put_hint(const ftpc_task *t, char *out, size_t out_size)
{
    const char *cmd = t->by_path ? "mirror -R -c" : "put -c";
    switch (t->target) {
    case FTPC_TARGET_NEW:
        snprintf(out, out_size, " (%s resumes it if the server kept the part sent)", cmd);
        return;
    case FTPC_TARGET_REPLACED:
        snprintf(out, out_size,
                 " (it was replacing a file: %s resumes it where the server wrote over that "
                 "file, and sends it all again where the server kept it until the upload "
                 "completed, as ftpd does)",
                 cmd);
        return;
    default:
        snprintf(out, out_size,
                 " (%s resumes it if the server kept the part sent; if it was replacing a file "
                 "that the server kept until the upload completed, as ftpd does, it sends it "
                 "all again)",
                 cmd);
        return;
    }
}

/* What a stopped transfer leaves, and how to go on from it. */
static void resume_hint(const ftpc_task *t, char *out, size_t out_size)
{
    char part[FTPC_URL_PATH_MAX + 32];
    struct stat st;
    out[0] = '\0';
    if (t->part_busy)
        return; /* the part file is another transfer's, still being written */
    if (t->kind == FTPC_T_GET && strcmp(t->local, "-") != 0 &&
        ftpc_part_name(t->local, part, sizeof(part)) == 0 && lstat(part, &st) == 0 &&
        S_ISREG(st.st_mode) && st.st_size > 0)
        ftpc_task_kept_note(t, part, out, out_size);
    else if (t->kind == FTPC_T_GET && t->seg_kept &&
             ftpc_segget_file_name(t->local, part, sizeof(part)) == 0)
        ftpc_task_kept_note(t, part, out, out_size);
    else if (t->kind == FTPC_T_PUT && t->own_prefix && !ftpc_task_stdin(t)) /* it had begun */
        put_hint(t, out, out_size);
}

void ftpc_runner_stop(ftpc_runner *r, const char *reason)
{
    for (int i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        if (s->v != NULL && s->t != NULL && !s->t->finished)
            stop_verifying(r, s->t, reason);
        ev_timer_stop(r->ctx->loop, &s->retry);
        ftpc_xfer_free(s->x);
        ftpc_fsop_free(s->f);
        ftpc_segget_free(s->g);
        ftpc_segput_free(s->p);
        ftpc_verify_free(s->v);
        close_source(s);
        s->x = NULL;
        s->f = NULL;
        s->g = NULL;
        s->p = NULL;
        s->v = NULL;
        if (s->c != NULL)
            ftpc_conn_free(s->c);
        s->c = NULL;
        s->t = NULL;
        s->parked = false;
    }
    for (size_t i = 0; i < r->n; i++) {
        ftpc_task *t = &r->tasks[i];
        if (t->finished)
            continue;
        /* Tasks never started stay silent; the running ones say they were cut off. */
        char hint[FTPC_URL_PATH_MAX + 64];
        resume_hint(t, hint, sizeof(hint));
        ftpc_task_fail(t, FTPC_EXIT_XFER, "%s: %s%s", t->display, reason,
                       t->attempts > 0 ? hint : "");
        if (t->attempts > 0)
            ftpc_msg(r->ctx, "ftpc: %s", t->err.msg);
        else
            t->not_started = true;
        t->finished = true;
        r->ndone++;
    }
    r->next = r->n;
}

void ftpc_runner_free(ftpc_runner *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nslots; i++) {
        slot *s = &r->slots[i];
        ev_timer_stop(r->ctx->loop, &s->retry);
        ftpc_xfer_free(s->x);
        ftpc_fsop_free(s->f);
        ftpc_segget_free(s->g);
        ftpc_segput_free(s->p);
        ftpc_verify_free(s->v);
        close_source(s);
        if (s->c != NULL)
            ftpc_conn_free(s->c);
    }
    ftpc_nodirs_free(&r->nodirs, r->ctx);
    while (r->npool > 0)
        ftpc_conn_quit(r->pool[--r->npool]);
    free(r->slots);
    free(r->pool);
    free(r);
}

int ftpc_runner_status(const ftpc_runner *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->tasks[i].err.status != FTPC_OK)
            return r->tasks[i].err.status;
    return FTPC_OK;
}
