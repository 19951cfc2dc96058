/* The operations of a simulated client: drawing the next one from the mix, opening its data
 * connection and sending its transfer command, what follows the transfer (HASH, read-back,
 * DELE), counting the outcome, injecting faults; for the set-up clients, the fixtures and
 * the clean-up. */
#include "stress_client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "mz.h"
#include "net.h"
#include "ratelimit.h"
#include "status.h"
#include "stress_content.h"

/* ---- outcome bookkeeping ---- */

void sc_op_end(stress_client *c)
{
    stress_run *run = c->run;
    if (c->flags & CF_IN_OP) {
        c->flags &= ~CF_IN_OP;
        if (c->flags & CF_FAULTED) {
            /* An injected fault: counted as a fault, neither a success nor an error. */
        } else {
            sc_stats(c)->op_count[c->op]++;
            if (c->flags & CF_OP_ERR)
                sc_stats(c)->op_errors[c->op]++;
            else
                stress_hist_add(&sc_stats(c)->ops, stress_now_us() - c->t_op);
        }
    }
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    c->fault = F_NONE;
    /* No pause after the last of its --iterations: it would only stretch the run. */
    bool spent = run->o->iterations > 0 && c->iter >= run->o->iterations;
    if (run->o->think_ms > 0 && !sc_is_setup(c) && !run->ending && !spent) {
        c->state = S_IDLE;
        c->wake = W_NEXT_OP;
        sc_arm(c, run->o->think_ms);
        return;
    }
    sc_next_op(c);
}

/* A reply code that ends the operation as failed; the session itself is fine. */
void sc_op_error(stress_client *c, int code)
{
    if (sc_is_setup(c)) {
        char name[96];
        stress_fixture_name(c->run, c->fixture, name, sizeof(name));
        /* A read-only account can still be loaded: with the fixtures put there beforehand,
         * or with a mix that downloads nothing. */
        bool storing = c->xk == X_FIX_STOR;
        sc_setup_fail(c, FTPC_EXIT_REMOTE, "%s the download fixture %s: %d %s%s",
                      storing ? "uploading" : "checking", name, code, c->run->msg.text,
                      storing && code >= 500
                          ? " (get needs --files fixtures the account may upload, or that are "
                            "there already; a --mix without get needs none)"
                          : "");
        return;
    }
    stress_stats_reply_error(sc_stats(c), code, c->run->msg.text);
    c->flags |= CF_OP_ERR;
}

void sc_vfail(stress_client *c, const char *file, uint64_t offset, int expected, int got)
{
    stress_run *run = c->run;
    sc_stats(c)->verify_failures++;
    c->flags |= CF_VFAILED;
    if (c->flags & CF_IN_OP)
        c->flags |= CF_OP_ERR; /* the operation failed: "put 9 (1 failed)", no latency */
    /* A fixture damaged on the server fails every download of it at one offset: counted on
     * the failure kept for it, not said again, so that the report's few kept failures are
     * distinct ones (it listed the same file and offset 20 times). */
    for (int i = 0; i < run->nvfail; i++) {
        stress_vfail *v = &run->vfail[i];
        if (v->offset == offset && strcmp(v->file, file) == 0) {
            v->times++;
            return;
        }
    }
    char w[16];
    sc_who(c, w, sizeof(w));
    if (run->nvfail < STRESS_VFAIL_DETAIL) {
        stress_vfail *v = &run->vfail[run->nvfail++];
        snprintf(v->who, sizeof(v->who), "%s", w);
        snprintf(v->file, sizeof(v->file), "%s", file);
        v->offset = offset;
        v->expected = expected;
        v->got = got;
        v->times = 1;
        if (offset == UINT64_MAX)
            stress_run_message(run, "ftpc stress: VERIFY FAILED: client %s, file %s: HASH differs",
                               w, file);
        else if (got < 0)
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": file ends there, expected %" PRIu64 " bytes",
                               w, file, offset, c->size);
        else if (expected < 0)
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": longer than the expected %" PRIu64 " bytes",
                               w, file, offset, c->size);
        else
            stress_run_message(run,
                               "ftpc stress: VERIFY FAILED: client %s, file %s, offset %" PRIu64
                               ": expected 0x%02x, got 0x%02x",
                               w, file, offset, expected, got);
    }
}

void sc_xfer_file_name(stress_client *c, char *out, size_t size)
{
    if (c->xk == X_GET || c->xk == X_FIX_STOR)
        stress_fixture_name(c->run, c->fixture, out, size);
    else
        stress_upload_name(c->run, c->id, c->op_iter, out, size);
}

/* ---- operations ---- */

void sc_quit(stress_client *c)
{
    if (c->ctl == NULL) {
        sc_finish(c);
        return;
    }
    c->state = S_QUIT;
    sc_arm(c, c->run->o->timeout_ms < 5000 ? c->run->o->timeout_ms : 5000);
    sc_send_cmd(c, "QUIT");
}

void sc_send_pasv(stress_client *c)
{
    c->state = S_PASV;
    c->t_cmd = stress_now_us();
    sc_send_cmd(c, c->run->no_epsv ? "PASV" : "EPSV");
}

static void pick_fault(stress_client *c)
{
    const stress_opts *o = c->run->o;
    c->fault = F_NONE;
    if (o->abort_fraction <= 0.0 && o->drop_fraction <= 0.0)
        return;
    double r = (double)(stress_rand(&c->rng) >> 11) / 9007199254740992.0;
    if (r < o->abort_fraction)
        c->fault = F_ABORT;
    else if (r < o->abort_fraction + o->drop_fraction)
        c->fault = F_DROP;
    if (c->fault != F_NONE && c->size < 2)
        c->fault = F_NONE; /* nothing to cut in the middle of */
    if (c->fault != F_NONE)
        c->cut = 1 + stress_rand_below(&c->rng, c->size - 1);
}

/* The clean-up: uploads that stopped clients may have left, then (--clean) the fixtures one
 * DELE at a time, then the directory if the set-up made it. */
void sc_clean_next(stress_client *c)
{
    stress_run *run = c->run;
    while (run->left_next < run->nclients) {
        stress_client *l = &run->clients[run->left_next++];
        if (l->flags & CF_LEFT_UP) {
            char name[96];
            stress_upload_name(run, l->id, l->op_iter, name, sizeof(name));
            c->state = S_CLEAN_LEFT;
            sc_send_cmd(c, "DELE %s", name);
            return;
        }
    }
    if (!run->o->clean) {
        sc_quit(c);
        return;
    }
    if (run->o->mix[STRESS_OP_GET] > 0 && run->clean_next < run->o->files) {
        char name[96];
        stress_fixture_name(run, run->clean_next++, name, sizeof(name));
        c->state = S_CLEAN_DELE;
        sc_send_cmd(c, "DELE %s", name);
        return;
    }
    if (run->made_dir && c->state != S_CLEAN_CDUP) {
        c->state = S_CLEAN_CDUP;
        sc_send_cmd(c, "CDUP");
        return;
    }
    sc_quit(c);
}

static void setup_next_fixture(stress_client *c)
{
    stress_run *run = c->run;
    if (run->tearing_down) {
        sc_clean_next(c);
        return;
    }
    /* Only downloads read the fixtures: a mix without get needs none (a read-only account). */
    if (run->setup_rc != 0 || run->setup_next >= run->o->files || run->o->mix[STRESS_OP_GET] == 0) {
        sc_quit(c);
        return;
    }
    c->fixture = run->setup_next++;
    c->key = stress_key_fixture(run->o->seed, c->fixture);
    c->size = stress_size_for(c->key, run->o->size_min, run->o->size_max);
    char name[96];
    stress_fixture_name(run, c->fixture, name, sizeof(name));
    c->state = S_SIZE;
    sc_send_cmd(c, "SIZE %s", name);
}

void sc_next_op(stress_client *c)
{
    stress_run *run = c->run;
    const stress_opts *o = run->o;
    if (sc_is_setup(c)) {
        setup_next_fixture(c);
        return;
    }
    if (run->ending || run->aborting || (o->iterations > 0 && c->iter >= o->iterations)) {
        sc_quit(c);
        return;
    }
    if (c->flags & CF_RENEW) {
        c->flags &= ~CF_RENEW;
        c->state = S_RELOGIN; /* QUIT, then a new session (counted as a login) */
        sc_send_cmd(c, "QUIT");
        return;
    }
    unsigned total = 0;
    for (int i = 0; i < STRESS_OP_COUNT; i++)
        total += o->mix[i];
    uint64_t r = stress_rand_below(&c->rng, total);
    int op = 0;
    while (op < STRESS_OP_COUNT - 1 && r >= o->mix[op]) {
        r -= o->mix[op];
        op++;
    }
    c->op = (uint8_t)op;
    c->op_iter = c->iter++;
    c->flags |= CF_IN_OP;
    c->flags &= ~(CF_OP_ERR | CF_FAULTED);
    c->t_op = stress_now_us();
    c->fault = F_NONE;
    switch (op) {
    case STRESS_OP_LOGIN:
        c->state = S_RELOGIN;
        sc_send_cmd(c, "QUIT");
        return;
    case STRESS_OP_GET:
        c->fixture = (uint32_t)stress_rand_below(&c->rng, o->files);
        c->key = stress_key_fixture(o->seed, c->fixture);
        c->size = stress_size_for(c->key, o->size_min, o->size_max);
        c->xk = X_GET;
        pick_fault(c);
        break;
    case STRESS_OP_PUT:
        c->key = stress_key_upload(o->seed, c->id, c->op_iter);
        c->size = stress_size_for(c->key, o->size_min, o->size_max);
        c->xk = X_STOR;
        pick_fault(c);
        break;
    default:
        c->xk = X_LIST;
        c->size = 0;
        break;
    }
    sc_send_pasv(c);
}

/* Starts the data connection to port (the control connection's host) and sends the
 * transfer command. */
void sc_open_data(stress_client *c, int port)
{
    stress_run *run = c->run;
    /* The control connection's address with the announced port (as curl does by default):
     * a 227 reply's address is often wrong behind NAT, and EPSV has none. */
    struct sockaddr_storage ss = run->addr;
    net_set_port(&ss, port);
    c->pos = 0;
    c->flags &= ~(CF_FINAL | CF_DATA_DONE | CF_VFAILED | CF_DATA_UP | CF_DATA_TCP | CF_DATA_SHUT |
                  CF_DATA_ERR | CF_ZEND | CF_DATA_DRAIN | CF_PRELIM);
    int fd = sc_connect_nodelay(&ss);
    stream *s = fd >= 0 ? malloc(sizeof(*s)) : NULL;
    if (s == NULL) {
        int e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0)
            close(fd);
        /* No data connection: the server would wait for one; end the session. */
        sc_conn_failed(c, e);
        return;
    }
    stream_plain_init(s, fd);
    if (run->o->tls && sc_tls_wrap(c, &s, true) < 0) {
        stream_close(s);
        free(s);
        sc_conn_failed(c, EPROTO);
        return;
    }
    c->data = s;
    c->flags |= CF_INFLIGHT;
    run->inflight++;
    if (sc_limited(c))
        ftpc_rl_init(&c->rl, run->o->limit_rate, ev_now(run->loop));
    if (run->o->compress) {
        c->z = calloc(1, sizeof(*c->z));
        bool up = c->xk == X_STOR || c->xk == X_FIX_STOR;
        if (c->z == NULL || mz_init(c->z, up ? MZ_DEFLATE : MZ_INFLATE, MZ_LEVEL_DEFAULT) < 0 ||
            (up && (c->zbuf = malloc(ZBUF_SIZE)) == NULL)) {
            sc_conn_failed(c, ENOMEM);
            return;
        }
    }
    /* An earlier upload's digest is left when its HASH check never came (a failed STOR). */
    sc_drop_digest(c);
    if (c->xk == X_STOR && run->o->verify == STRESS_VERIFY_HASH && run->server_hash) {
        c->dg = calloc(1, sizeof(*c->dg));
        if (c->dg == NULL || digest_init(c->dg, DIGEST_SHA256) < 0) {
            free(c->dg);
            c->dg = NULL;
        }
    }
    sc_data_update(c);
    char name[96];
    sc_xfer_file_name(c, name, sizeof(name));
    c->state = S_XFER;
    c->t_cmd = stress_now_us();
    switch (c->xk) {
    case X_GET:
    case X_READBACK:
        sc_send_cmd(c, "RETR %s", name);
        break;
    case X_STOR:
    case X_FIX_STOR:
        sc_send_cmd(c, "STOR %s", name);
        break;
    default:
        sc_send_cmd(c, "LIST");
        break;
    }
}

/* Both halves of a transfer are over (final reply and data): what comes next. */
void sc_xfer_complete(stress_client *c)
{
    int code = c->final_code;
    sc_close_data(c, false);
    bool ok = code >= 200 && code < 300 && !(c->flags & CF_DATA_ERR);
    char name[96];
    sc_xfer_file_name(c, name, sizeof(name));
    stress_cmd cmd = c->xk == X_LIST                            ? STRESS_CMD_LIST
                     : (c->xk == X_STOR || c->xk == X_FIX_STOR) ? STRESS_CMD_STOR
                                                                : STRESS_CMD_RETR;
    if (ok && !sc_is_setup(c))
        stress_hist_add(&sc_stats(c)->cmd[cmd], stress_now_us() - c->t_cmd);
    if (!ok) {
        if (!(c->flags & CF_DATA_ERR))
            sc_op_error(c, code);
        else if (sc_is_setup(c))
            sc_setup_fail(c, FTPC_EXIT_REMOTE, "%s: data connection failed", name);
        else
            c->flags |= CF_OP_ERR;
        if (c->state == S_DONE)
            return;
        if (c->xk == X_STOR || c->xk == X_READBACK) {
            c->state = S_DELE;
            sc_send_cmd(c, "DELE %s", name);
            return;
        }
        sc_op_end(c);
        return;
    }
    if ((c->xk == X_GET || c->xk == X_READBACK) && c->pos < c->size && !(c->flags & CF_VFAILED))
        sc_vfail(c, name, c->pos, stress_byte(c->key, c->pos), -1);
    switch (c->xk) {
    case X_STOR:
        if (c->dg != NULL) {
            c->state = S_HASH;
            c->hash_tries = 0;
            sc_send_cmd(c, "HASH %s", name);
            return;
        }
        c->xk = X_READBACK;
        sc_send_pasv(c);
        return;
    case X_READBACK:
        c->state = S_DELE;
        sc_send_cmd(c, "DELE %s", name);
        return;
    case X_FIX_STOR:
        setup_next_fixture(c);
        return;
    default:
        sc_op_end(c);
        return;
    }
}

/* ---- fault injection ---- */

void sc_inject(stress_client *c)
{
    stress_run *run = c->run;
    if (c->fault == F_DROP) {
        sc_stats(c)->faults_drop++;
        c->flags |= CF_FAULTED;
        if (c->op == STRESS_OP_PUT)
            c->flags |= CF_PENDING_DELE;
        c->flags &= ~CF_IN_OP;
        c->fault = F_NONE;
        sc_close_ctl(c, true);
        if (run->aborting) {
            sc_finish(c);
            return;
        }
        /* Reconnect at once: the server must take the new session like any other (and
         * even when the run is ending, to delete a partial upload). */
        c->state = S_IDLE;
        c->wake = W_RECONNECT;
        sc_arm(c, 0);
        return;
    }
    sc_stats(c)->faults_abort++;
    c->flags |= CF_FAULTED;
    c->fault = F_NONE;
    sc_send_abor(c);
}

bool sc_send_abor(stress_client *c)
{
    sc_close_data(c, true);
    /* RFC 959: the transfer's reply (426, or 226 if it completed) and then ABOR's. NOOP is
     * sent only after both (or after a pause, for servers that send one): pipelined at once,
     * some servers answer it before ABOR. Its 200 marks the end of whatever came. */
    c->state = S_ABORT;
    c->step = (c->flags & CF_FINAL) ? 1 : 2;
    sc_arm(c, ABOR_WAIT_MS);
    sc_send_cmd(c, "ABOR");
    return c->state != S_DONE;
}

void sc_abort_sync(stress_client *c)
{
    c->state = S_SYNC;
    sc_arm(c, c->run->o->timeout_ms);
    sc_send_cmd(c, "NOOP");
}
