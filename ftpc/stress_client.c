/* The life of one simulated client (see stress_client.h): closing its connections, failing
 * and backing off, finishing, its timer, and the entry points the run calls. The rest of the
 * state machine is in the files stress_client_int.h lists. */
#include "stress_client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "digest.h"
#include "endpoint.h"
#include "mz.h"
#include "net.h"
#include "progress.h"
#include "status.h"
#include "stress_content.h"

uint64_t stress_now_us(void)
{
    return (uint64_t)ev_monotonic_us();
}

void stress_fixture_name(const stress_run *run, uint32_t index, char *out, size_t size)
{
    /* Its size in the name: a run with another --size, beside this one in the directory,
     * makes fixtures of its own, where it would replace these under the clients' feet.
     * Content depends on seed and index alone, so one name is one content. */
    const stress_opts *o = run->o;
    uint64_t bytes = stress_size_for(stress_key_fixture(o->seed, index), o->size_min, o->size_max);
    snprintf(out, size, "ftpc-stress-%" PRIu64 "-f%u-%" PRIu64 ".dat", o->seed, index, bytes);
}

void stress_upload_name(const stress_run *run, uint32_t client, uint32_t iter, char *out,
                        size_t size)
{
    snprintf(out, size, "ftpc-stress-%" PRIu64 "-%08" PRIx32 "-c%u-%u.up", run->o->seed,
             run->upload_tag, client, iter);
}

void sc_who(const stress_client *c, char *out, size_t size)
{
    if (sc_is_setup(c))
        snprintf(out, size, "setup");
    else
        snprintf(out, size, "%u", c->id);
}

/* ---- registrations ---- */

void sc_set_mask(stress_client *c, int fd, int want, ev_io_cb cb)
{
    ev_loop *loop = c->run->loop;
    int cur = ev_mask(loop, fd);
    if (want & ~cur)
        ev_add(loop, fd, want & ~cur, cb, c);
    if (cur & ~want)
        ev_del(loop, fd, cur & ~want);
}

/* ---- closing ---- */

/* Commands and the last bytes of an upload (a TLS close_notify) go out at once: with Nagle
 * they would wait for the ACK of the previous segment, which the peer delays up to 40 ms. */
int sc_connect_nodelay(const struct sockaddr_storage *ss)
{
    int fd = net_connect(ss, NULL);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static void rst(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void free_codec(stress_client *c)
{
    if (c->z) {
        mz_end(c->z);
        free(c->z);
        c->z = NULL;
    }
    free(c->zbuf);
    c->zbuf = NULL;
    c->zlen = c->zoff = 0;
    c->zin = 0;
}

void sc_close_data(stress_client *c, bool reset)
{
    if (c->data != NULL) {
        c->gen++;
        ev_del(c->run->loop, c->data->fd, EV_READ | EV_WRITE);
        if (reset)
            rst(c->data->fd);
        stream_close(c->data);
        free(c->data);
        c->data = NULL;
    }
    if (c->flags & CF_INFLIGHT) {
        c->run->inflight--;
        c->flags &= ~CF_INFLIGHT;
    }
    c->flags &= ~(CF_DATA_UP | CF_DATA_TCP | CF_PAUSED | CF_KICK | CF_DATA_SHUT | CF_DATA_DRAIN);
    c->tls_try = 0;
    free_codec(c);
}

void sc_close_ctl(stress_client *c, bool reset)
{
    sc_close_data(c, reset);
    if (c->ctl != NULL) {
        c->gen++;
        ev_del(c->run->loop, c->ctl->fd, EV_READ | EV_WRITE);
        if (reset)
            rst(c->ctl->fd);
        stream_close(c->ctl);
        free(c->ctl);
        c->ctl = NULL;
    }
    sc_greeted(c);
    sc_logging_in_done(c);
    if ((c->flags & CF_LOGGED_IN) && !sc_is_setup(c))
        c->run->logged_in--;
    c->flags &= ~(CF_LOGGED_IN | CF_SAID_421 | CF_RENEW);
    free(c->in_left);
    c->in_left = NULL;
    c->in_left_len = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    sc_drop_digest(c);
}

void sc_greeted(stress_client *c)
{
    if (c->flags & CF_AWAIT_GREET) {
        c->run->awaiting_greeting--;
        c->flags &= ~CF_AWAIT_GREET;
    }
}

void sc_logging_in_done(stress_client *c)
{
    if (c->flags & CF_LOGGING_IN) {
        c->run->logging_in--;
        c->flags &= ~CF_LOGGING_IN;
    }
}

void sc_drop_digest(stress_client *c)
{
    if (c->dg) {
        digest_free(c->dg);
        free(c->dg);
        c->dg = NULL;
    }
}

void sc_finish(stress_client *c)
{
    bool never_tried = c->state == S_IDLE && c->wake == W_START;
    /* Stopped before deleting its upload: the clean-up session deletes it. */
    if (!sc_is_setup(c) && !(c->flags & CF_LEFT_UP) &&
        ((c->flags & CF_PENDING_DELE) || ((c->flags & CF_IN_OP) && c->op == STRESS_OP_PUT))) {
        c->flags |= CF_LEFT_UP;
        c->run->left_uploads++;
    }
    if (c->flags & CF_IN_OP) {
        /* Cut off by the end of the run between two of its steps. */
        c->flags &= ~CF_IN_OP;
        if (!(c->flags & CF_FAULTED))
            c->run->unfinished++;
    } else if ((c->flags & CF_ESTABLISH) && !sc_is_setup(c)) {
        /* Cut off while its first session was still connecting or logging in. */
        c->run->unfinished++;
    }
    sc_close_ctl(c, false);
    ev_timer_stop(c->run->loop, &c->timer);
    c->state = S_DONE;
    if (!(c->flags & CF_DONE_COUNTED)) {
        c->flags |= CF_DONE_COUNTED;
        /* One still waiting for its first connect (Ctrl-C during the ramp-up) was not
         * refused by anyone: it never tried. */
        if (!sc_is_setup(c) && !(c->flags & CF_WAS_IN)) {
            if (never_tried)
                c->run->never_started++;
            else
                c->run->never_in++;
        }
        if (sc_is_setup(c))
            stress_run_setup_done(c->run);
        else
            stress_run_client_done(c->run);
    }
}

/* A fatal set-up problem: the run stops with rc and says why. */
__attribute__((format(printf, 3, 4))) void sc_setup_fail(stress_client *c, int rc, const char *fmt,
                                                         ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->run->tearing_down) {
        /* the run's results stand; what is left on the server is said */
        c->run->clean_failed = true;
        stress_run_message(c->run, "ftpc stress: %s: %s", c->run->o->clean ? "--clean" : "clean-up",
                           msg);
    } else if (c->run->interrupted) {
        /* deleting a cut fixture after Ctrl-C: the run was not failed by the server */
        stress_run_message(c->run, "ftpc stress: deleting the set-up's cut upload: %s", msg);
    } else if (c->run->setup_rc == 0) {
        c->run->setup_rc = rc;
        snprintf(c->run->setup_error, sizeof(c->run->setup_error), "%s", msg);
        progress_sanitize(c->run->setup_error, sizeof(c->run->setup_error),
                          c->run->setup_error); /* for the report and its JSON */
        stress_run_message(c->run, "ftpc stress: set-up failed: %s", msg);
    }
    sc_finish(c);
}

/* ---- a failed session ---- */

/* What a session not yet logged in was waiting for, as `ftpc ls` says it. */
static const char *awaited(const stress_client *c)
{
    switch (c->state) {
    case S_GREETING:
        return "its greeting";
    case S_AUTH:
        return "the reply to AUTH TLS";
    case S_TLS_HS:
        return "the TLS handshake";
    case S_USER:
        return "the reply to USER";
    case S_PASS:
        return "the reply to PASS";
    default:
        return "a reply";
    }
}

/* The set-up's session failed: until it is logged in, the server cannot be reached in any
 * useful way (exit 3, as `ftpc ls` gives); after that, the server failed the set-up. */
static void setup_conn_failed(stress_client *c, int err)
{
    stress_run *run = c->run;
    bool connecting = c->state == S_CONNECTING || c->ctl == NULL;
    if (connecting && !run->tearing_down && c->addr_at + 1 < run->naddrs) {
        /* Not at this address: the next one of the name, for every session from now on. */
        if (run->addr_index == c->addr_at) {
            run->addr_index++;
            run->addr = run->addrs[run->addr_index];
        }
        sc_close_ctl(c, true);
        sc_start_session(c);
        return;
    }
    char ep[300];
    bool in = (c->flags & CF_LOGGED_IN) != 0;
    int rc = in ? FTPC_EXIT_REMOTE : FTPC_EXIT_CONNECT;
    ftpc_host_port_str(run->host, run->o->url.port, ep, sizeof(ep));
    if (c->state == S_CONNECTING)
        sc_setup_fail(c, rc, "cannot connect (%s)", stress_err_meaning(err));
    else if (err == ETIMEDOUT && !in)
        sc_setup_fail(c, rc, "timed out after %g s waiting for %s (%s)",
                      (double)run->o->timeout_ms / 1000.0, ep, awaited(c));
    else if (!in)
        sc_setup_fail(c, rc, "connection to %s lost while waiting for %s (%s)", ep, awaited(c),
                      stress_err_meaning(err));
    else
        sc_setup_fail(c, rc, "connection lost (%s)", stress_err_meaning(err));
}

/* The control connection is lost (err 0: closed by the server), a timeout, a protocol
 * error: the operation fails, the session is closed, and the client reconnects after a
 * back-off (or stops, when the run ends). */
void sc_conn_failed(stress_client *c, int err)
{
    stress_run *run = c->run;
    sc_trace_err(c, "control connection", err);
    if (sc_is_setup(c)) {
        setup_conn_failed(c, err);
        return;
    }
    bool no_connect = c->ctl == NULL || c->state == S_CONNECTING;
    /* Connected, and not answered up to the login (the greeting, AUTH TLS, the handshake,
     * USER or PASS). */
    bool not_answered = !no_connect && err == ETIMEDOUT && (c->flags & CF_ESTABLISH);
    if (!run->aborting) {
        /* A timeout is a wait, not work done: counted without the time it ends at, or the
         * report's duration would run on through a grace waited out for a lost operation. */
        stress_stats *st = err == ETIMEDOUT ? &run->st : sc_stats(c);
        if (!(c->flags & CF_SAID_421)) /* counted as that 421 */
            stress_stats_error(st, 0, err);
        bool establishing = (c->flags & CF_ESTABLISH) != 0;
        if (establishing) {
            sc_session_attempt_failed(c);
            c->flags &= ~CF_ESTABLISH;
            st->op_count[STRESS_OP_LOGIN]++;
            st->op_errors[STRESS_OP_LOGIN]++;
            if (c->op == STRESS_OP_LOGIN)
                c->flags &= ~CF_IN_OP; /* that login op is the one just counted */
        }
        if (c->flags & CF_IN_OP) {
            c->flags |= CF_OP_ERR;
            c->flags &= ~CF_FAULTED;
            st->op_count[c->op]++;
            st->op_errors[c->op]++;
            c->flags &= ~CF_IN_OP;
            if (c->op == STRESS_OP_PUT)
                c->flags |= CF_PENDING_DELE;
        }
    }
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    sc_close_ctl(c, true);
    if (run->ending || run->aborting) {
        sc_finish(c);
        return;
    }
    c->state = S_IDLE;
    c->wake = W_RECONNECT;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > 2000)
        c->backoff_ms = 2000;
    sc_arm(c, (long)(c->backoff_ms / 2 + stress_rand_below(&c->rng, c->backoff_ms / 2 + 1)));
    if (no_connect)
        stress_run_connect_failed(run, err); /* last: it may end c */
    else if (not_answered)
        stress_run_login_timed_out(run); /* the same */
}

void sc_session_attempt_failed(stress_client *c)
{
    /* A login operation was counted when it started; any other attempt is one more. */
    if (!((c->flags & CF_IN_OP) && c->op == STRESS_OP_LOGIN))
        c->iter++;
}

void sc_trace_err(stress_client *c, const char *what, int err)
{
    if (c->run->trace) {
        char w[16], e[32];
        sc_who(c, w, sizeof(w));
        fprintf(stderr, "[%s] ! %s: %s\n", w, what,
                err ? stress_errno_name(err, e, sizeof(e)) : "EOF");
    }
}

/* ---- the timer ---- */

/* The run ends while c waits: quit, or (between a dropped upload and the reconnect that
 * deletes its partial file) reconnect first so the server is left clean. */
static void end_idle(stress_client *c)
{
    if (c->ctl != NULL)
        sc_quit(c);
    else if ((c->flags & CF_PENDING_DELE) && !c->run->aborting && !sc_is_setup(c))
        sc_start_session(c);
    else
        sc_finish(c);
}

/* With --iterations, before a new session: whether the client has none left to use it for.
 * Failed attempts at a session count as operations (sc_session_attempt_failed), so a server
 * that refuses every session ends a counted run instead of holding it for ever. A login
 * operation under way reconnects whatever the count; a partial upload to delete gets one
 * attempt once the count is spent. */
static bool iterations_spent(const stress_client *c)
{
    uint32_t n = c->run->o->iterations;
    if (n == 0 || sc_is_setup(c) || (c->flags & CF_IN_OP))
        return false;
    if (c->iter < n)
        return false;
    return !((c->flags & CF_PENDING_DELE) && c->iter == n);
}

static long timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)t;
    stress_client *c = ud;
    stress_run *run = c->run;
    switch (c->state) {
    case S_IDLE:
        if (run->ending || run->aborting) {
            end_idle(c);
            return EV_TIMER_STOP;
        }
        if (c->wake == W_NEXT_OP) {
            sc_arm(c, run->o->timeout_ms);
            sc_next_op(c);
        } else if (iterations_spent(c)) {
            sc_finish(c); /* an upload it could not delete goes to the clean-up */
        } else {
            sc_start_session(c);
        }
        return EV_TIMER_STOP;
    case S_DONE:
        return EV_TIMER_STOP;
    default:
        break;
    }
    if (c->state == S_ABORT) {
        sc_abort_sync(c); /* fewer replies than RFC 959 says: NOOP finds the end */
        return EV_TIMER_STOP;
    }
    if (c->state == S_HASH_WAIT) {
        char name[96];
        stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
        c->state = S_HASH;
        sc_arm(c, run->o->timeout_ms);
        sc_send_cmd(c, "HASH %s", name);
        return EV_TIMER_STOP;
    }
    if (c->flags & (CF_PAUSED | CF_KICK)) {
        c->flags &= ~(CF_PAUSED | CF_KICK);
        sc_touch(c);
        sc_arm(c, run->o->timeout_ms);
        sc_data_update(c);
        sc_data_step(c);
        return EV_TIMER_STOP;
    }
    long long idle = ev_now(loop) - c->last_io;
    if (idle < run->o->timeout_ms) {
        sc_arm(c, (long)(run->o->timeout_ms - idle));
        return EV_TIMER_STOP;
    }
    if (c->state == S_QUIT) {
        sc_finish(c);
        return EV_TIMER_STOP;
    }
    sc_conn_failed(c, ETIMEDOUT);
    return EV_TIMER_STOP;
}

/* ---- public ---- */

void stress_client_init(stress_client *c, stress_run *run, uint32_t id, bool setup)
{
    memset(c, 0, sizeof(*c));
    c->run = run;
    c->id = id;
    c->flags = setup ? CF_SETUP : 0;
    c->rng = stress_mix64(run->o->seed * 0x9E3779B97F4A7C15ULL + id + (setup ? 0x5E7ULL : 0));
    ev_timer_init(&c->timer, timer_cb, c);
}

void stress_client_start(stress_client *c, long delay_ms)
{
    c->state = S_IDLE;
    c->wake = W_START;
    sc_arm(c, delay_ms);
}

void stress_client_end(stress_client *c)
{
    if (c->state == S_IDLE)
        end_idle(c);
    else if ((c->state == S_CONNECTING || c->state == S_GREETING) && !(c->flags & CF_PENDING_DELE))
        /* Not greeted yet, so the server holds nothing of it to finish. A server at its
         * session cap may never greet (its accept queue full): waiting out the grace would
         * stretch the run, and thin every rate of the report, for no operation at all. */
        stress_client_kill(c);
}

bool stress_client_interrupt(stress_client *c)
{
    if (c->state == S_XFER && c->data != NULL && (c->flags & CF_IN_OP)) {
        /* A transfer could run for long: it is cut as an injected ABOR is (its upload then
         * deleted by the session), but counted as cut off by the end, not as a fault. */
        c->run->unfinished++;
        c->flags |= CF_FAULTED;
        return sc_send_abor(c);
    }
    stress_client_end(c);
    return false;
}

bool stress_client_interrupt_setup(stress_client *c)
{
    if (c->state == S_XFER && c->xk == X_FIX_STOR && c->ctl != NULL) {
        /* Reset, the cut upload stays on the server: a truncated fixture where the server
         * writes in place, a kept partial where it resumes (ftpd), until the next upload of
         * the name. ABOR first, so that the server is done with it before the DELE. */
        return sc_send_abor(c);
    }
    stress_client_kill(c);
    return false;
}

void stress_client_kill(stress_client *c)
{
    if (c->state == S_DONE)
        return;
    sc_close_ctl(c, true);
    sc_finish(c);
}

void stress_client_free(stress_client *c)
{
    sc_close_ctl(c, true);
    ev_timer_stop(c->run->loop, &c->timer);
}

bool stress_client_done(const stress_client *c)
{
    return c->state == S_DONE;
}
