/* What each reply means to a simulated client, by the state that awaited it: the login's,
 * the after-login chain's, the passive reply, the transfer's, HASH, DELE, the set-up's SIZE,
 * the clean-up's, ABOR's. One switch, so that every state's handling is in one place; the
 * steps it takes next are in the other stress_client*.c files. */
#include "stress_client_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataaddr.h"
#include "digest.h"
#include "status.h"
#include "stress_content.h"

/* A HASH answered 4xx (ftpd: "450 Server busy hashing") is asked again after a pause that
 * doubles, with jitter so that clients refused together do not come back together; after
 * HASH_BUSY_TRIES answers the upload is read back instead (as --verify-put retr). */
#define HASH_BUSY_TRIES 5
#define HASH_BUSY_DELAY_MS 200

/* "213 SHA-256 0-N HEX name": the hex digest, or NULL. */
static const char *hash_hex(char *text)
{
    char *save = NULL;
    char *algo = strtok_r(text, " ", &save);
    char *range = strtok_r(NULL, " ", &save);
    char *hex = strtok_r(NULL, " ", &save);
    if (!algo || !range || !hex || strcasecmp(algo, "SHA-256") != 0)
        return NULL;
    return hex;
}

/* HASH answered 4xx: a busy server, not a failed upload. The pause runs on the client's
 * timer, so the loop and the other clients go on meanwhile. */
static void hash_busy(stress_client *c)
{
    sc_stats(c)->hash_busy++;
    if (++c->hash_tries < HASH_BUSY_TRIES) {
        uint64_t d = (uint64_t)HASH_BUSY_DELAY_MS << (c->hash_tries - 1);
        c->state = S_HASH_WAIT;
        sc_arm(c, (long)(d / 2 + stress_rand_below(&c->rng, d / 2 + 1)));
        return;
    }
    /* Still busy: what the server stored is checked byte by byte instead. */
    sc_stats(c)->hash_readback++;
    sc_drop_digest(c);
    c->xk = X_READBACK;
    sc_send_pasv(c);
}

static void feat_parse(stress_run *run, const char *text)
{
    /* " HASH SHA-256*;SHA-1;MD5;": usable when SHA-256 is the current choice. */
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (len > 5 && strncasecmp(p, "HASH ", 5) == 0) {
            char line[256];
            snprintf(line, sizeof(line), "%.*s", (int)len, p);
            if (strstr(line, "SHA-256*") != NULL)
                run->server_hash = true;
        }
        p = eol ? eol + 1 : NULL;
    }
}

/* The last component of a directory path ("a/b/" gives "b"), into out. */
static const char *dir_basename(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "%s", dir);
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    const char *slash = strrchr(out, '/');
    return slash != NULL && slash[1] != '\0' ? slash + 1 : out;
}

/* As the server sent it ("CODE-first", the middle lines, "CODE last"), every line tagged
 * with the client: the traces of many clients interleave. */
static void trace_reply(stress_client *c, int code, const char *text)
{
    char w[16];
    sc_who(c, w, sizeof(w));
    bool multi = strchr(text, '\n') != NULL;
    for (const char *line = text; line != NULL;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (line == text)
            fprintf(stderr, "[%s] < %03d%c%.*s\n", w, code, multi ? '-' : ' ', len, line);
        else if (end == NULL)
            fprintf(stderr, "[%s] < %03d %.*s\n", w, code, len, line);
        else
            fprintf(stderr, "[%s] < %.*s\n", w, len, line);
        line = end ? end + 1 : NULL;
    }
}

/* Waiting for a reply to a command of an operation of the mix. (Before that, a refusing
 * reply ends the session attempt on its own: sc_login_refused.) */
static bool in_operation(const stress_client *c)
{
    switch (c->state) {
    case S_PASV:
    case S_XFER:
    case S_HASH:
    case S_HASH_WAIT:
    case S_DELE:
    case S_ABORT:
    case S_SYNC:
        return true;
    default:
        return false;
    }
}

void sc_on_reply(stress_client *c, int code, char *text)
{
    stress_run *run = c->run;
    if (run->trace)
        trace_reply(c, code, text);
    /* A reply from the login on shows the server is there; a greeting, a 234 and a TLS
     * handshake (with the tickets TLS 1.3 sends after it) come from a server hung behind its
     * accept loop too (a stuck authentication backend, a TLS front end before a hung server).
     * A greeting that refuses (421: a limit) does say the server is there. */
    if (!sc_is_setup(c) && (c->state >= S_USER || (c->state == S_GREETING && code != 220)))
        run->last_reply_us = stress_now_us();
    if (code == 421 && c->state == S_IDLE && !sc_is_setup(c)) {
        /* Unasked, between operations: the server closes the session (idle timeout,
         * shutdown). Its reply says why, where the close that follows would say only EOF. */
        if (!run->aborting && !(c->flags & CF_SAID_421))
            stress_stats_reply_error(sc_stats(c), code, text);
        c->flags |= CF_SAID_421;
        return;
    }
    if (code == 421 && !sc_is_setup(c) && in_operation(c)) {
        /* The answer to a command of an operation, and the end of the session: the
         * operation fails with this 421, and the close that follows is no second error. */
        if (!run->aborting)
            stress_stats_reply_error(sc_stats(c), code, text);
        c->flags |= CF_SAID_421;
        sc_conn_failed(c, 0);
        return;
    }
    switch (c->state) {
    case S_GREETING:
        if (code == 120)
            return;
        sc_greeted(c);
        if (code != 220) {
            sc_login_refused(c, code);
            return;
        }
        if (run->o->tls && !run->o->implicit_tls) {
            c->state = S_AUTH;
            sc_send_cmd(c, "AUTH TLS");
            return;
        }
        c->flags |= CF_LOGIN_T;
        sc_send_user(c);
        return;
    case S_AUTH:
        if (code != 234) {
            sc_login_refused(c, code);
            return;
        }
        if (sc_tls_wrap(c, &c->ctl, false) < 0) {
            sc_conn_failed(c, EPROTO);
            return;
        }
        c->state = S_TLS_HS;
        sc_ctl_update(c);
        sc_ctl_cb(run->loop, c->ctl->fd, EV_WRITE, c);
        return;
    case S_USER:
        if (code == 331) {
            c->state = S_PASS;
            sc_send_cmd(c, "PASS %s", run->o->url.pass);
            return;
        }
        if (code == 230) {
            sc_logged_in(c);
            return;
        }
        sc_login_refused(c, code);
        return;
    case S_PASS:
        if (code == 230 || code == 202) {
            sc_logged_in(c);
            return;
        }
        sc_login_refused(c, code);
        return;
    case S_CHAIN:
        switch (c->step) {
        case L_FEAT:
            if (code == 211)
                feat_parse(run, text);
            break;
        case L_MODEZ:
            if (code != 200) {
                if (sc_is_setup(c)) {
                    sc_setup_fail(c, FTPC_EXIT_REMOTE, "the server refuses MODE Z: %d %s", code,
                                  text);
                    return;
                }
                sc_login_refused(c, code);
                return;
            }
            break;
        case L_CWD:
            if (code / 100 != 2) {
                if (run->tearing_down) {
                    sc_setup_fail(c, FTPC_EXIT_REMOTE, "cannot enter %s: %d %s", run->o->dir, code,
                                  text);
                    return;
                }
                if (sc_is_setup(c)) {
                    c->step = L_MKD;
                    sc_send_cmd(c, "MKD %s", run->o->dir);
                    return;
                }
                sc_login_refused(c, code);
                return;
            }
            c->step = L_DELE;
            sc_chain_next(c);
            return;
        case L_MKD:
            if (code / 100 != 2) /* another set-up session may have made it meanwhile */
                snprintf(run->mkd_reply, sizeof(run->mkd_reply), "%d %s", code, text);
            else
                run->made_dir = true;
            c->step = L_CWD2;
            sc_send_cmd(c, "CWD %s", run->o->dir);
            return;
        case L_CWD2:
            if (code / 100 != 2) {
                sc_setup_fail(c, FTPC_EXIT_REMOTE, "cannot enter or create directory %s: %s",
                              run->o->dir, run->mkd_reply[0] ? run->mkd_reply : text);
                return;
            }
            c->step = L_DELE;
            sc_chain_next(c);
            return;
        case L_DELE:
            c->flags &= ~CF_PENDING_DELE; /* gone or never written: either is fine */
            break;
        default:
            if (code / 100 != 2) {
                sc_login_refused(c, code);
                return;
            }
            break;
        }
        c->step++;
        sc_chain_next(c);
        return;
    case S_PASV: {
        int port = -1;
        if (code == 229) {
            port = ftpc_parse_epsv(text);
        } else if (code == 227) {
            struct sockaddr_storage tmp;
            port = ftpc_parse_pasv(text, &tmp);
        } else if (!run->no_epsv && code >= 500 && code != 530) {
            run->no_epsv = true;
            sc_send_pasv(c);
            return;
        }
        if (port <= 0) {
            if (code / 100 == 2) {
                /* no reply code or errno says it: the server's words do */
                char said[160];
                snprintf(said, sizeof(said), "a passive reply without a usable port: %d %s", code,
                         text);
                stress_stats_error_said(sc_stats(c), "bad-pasv", said);
                c->flags |= CF_OP_ERR;
                if (sc_is_setup(c)) {
                    sc_setup_fail(c, FTPC_EXIT_REMOTE, "unusable passive reply: %d %s", code, text);
                    return;
                }
                sc_op_end(c);
                return;
            }
            sc_op_error(c, code);
            if (c->state != S_DONE)
                sc_op_end(c);
            return;
        }
        if (!sc_is_setup(c))
            stress_hist_add(&sc_stats(c)->cmd[STRESS_CMD_PASV], stress_now_us() - c->t_cmd);
        sc_open_data(c, port);
        return;
    }
    case S_XFER:
        if (code < 200) {
            c->flags |= CF_PRELIM;
            sc_data_update(c); /* an upload starts now */
            return;
        }
        c->flags |= CF_FINAL;
        c->final_code = code;
        if (code >= 300) {
            /* Refused or failed: the data connection has nothing more to say. */
            sc_close_data(c, true);
            c->flags |= CF_DATA_DONE;
        }
        if (c->flags & CF_DATA_DONE)
            sc_xfer_complete(c);
        return;
    case S_HASH: {
        if (code >= 400 && code < 500 && c->dg != NULL) {
            hash_busy(c);
            return;
        }
        char name[96];
        stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
        char want[DIGEST_HEX_MAX] = "";
        if (c->dg) {
            digest_final_hex(c->dg, want);
            free(c->dg);
            c->dg = NULL;
        }
        if (code == 213) {
            const char *got = hash_hex(text);
            if (got == NULL || strcasecmp(got, want) != 0)
                sc_vfail(c, name, UINT64_MAX, -1, -1);
        } else {
            sc_op_error(c, code);
        }
        c->state = S_DELE;
        sc_send_cmd(c, "DELE %s", name);
        return;
    }
    case S_DELE:
        if (code / 100 != 2 && !(c->flags & CF_FAULTED) && !(c->flags & CF_OP_ERR))
            sc_op_error(c, code);
        sc_op_end(c);
        return;
    case S_SIZE: {
        char *end = NULL;
        unsigned long long have = code == 213 ? strtoull(text, &end, 10) : 0;
        bool present = code == 213 && end != text && have == c->size;
        c->xk = present ? X_GET : X_FIX_STOR;
        sc_send_pasv(c);
        return;
    }
    case S_CLEAN_LEFT:
        /* 550: the upload had not begun, or its session deleted it after all. Anything else
         * (450 busy, 553, 530) may leave it there: said, as a failed --clean is. */
        if (code / 100 == 2 || code == 550) {
            run->left_gone++;
        } else {
            char name[96];
            stress_client *l = &run->clients[run->left_next - 1];
            stress_upload_name(run, l->id, l->op_iter, name, sizeof(name));
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: clean-up: DELE %s: %d %s", name, code, text);
        }
        sc_clean_next(c);
        return;
    case S_CLEAN_DELE: {
        /* After an interrupted set-up a fixture may never have been uploaded. */
        if (code / 100 == 2)
            run->clean_gone++;
        if (code / 100 != 2 && !(code == 550 && run->interrupted && !run->main_phase)) {
            char name[96];
            stress_fixture_name(run, run->clean_next - 1, name, sizeof(name));
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: --clean: DELE %s: %d %s", name, code, text);
        }
        sc_clean_next(c);
        return;
    }
    case S_FIX_DELE:
        /* 550: nothing of it was stored */
        if (code / 100 != 2 && code != 550) {
            char name[96];
            stress_fixture_name(run, c->fixture, name, sizeof(name));
            stress_run_message(run, "ftpc stress: deleting the set-up's cut upload: DELE %s: %d %s",
                               name, code, text);
        }
        sc_quit(c);
        return;
    case S_CLEAN_CDUP: {
        if (code / 100 != 2) {
            sc_setup_fail(c, FTPC_EXIT_REMOTE, "CDUP out of %s: %d %s", run->o->dir, code, text);
            return;
        }
        char base[sizeof(run->o->dir)];
        c->state = S_CLEAN_RMD;
        sc_send_cmd(c, "RMD %s", dir_basename(run->o->dir, base, sizeof(base)));
        return;
    }
    case S_CLEAN_RMD:
        if (code / 100 != 2) {
            run->clean_failed = true;
            stress_run_message(run, "ftpc stress: --clean: RMD %s: %d %s", run->o->dir, code, text);
        }
        sc_quit(c);
        return;
    case S_ABORT:
        if (code < 200) {
            c->flags |= CF_PRELIM; /* the transfer's 1xx, late: its data connection failed */
            return;
        }
        /* 225 can only answer ABOR: whatever the transfer had to say came before it (some
         * servers, pyftpdlib, say nothing for the transfer itself). */
        if (code == 225 && (c->flags & CF_PRELIM) && !(c->flags & CF_FINAL) && c->step == 2) {
            /* "No transfer in progress" for one announced with a 1xx and never ended: the
             * server never started it. pyftpdlib (1.5) then still holds it queued and
             * hands it the next data connection, whatever that one's command: a RETR
             * answered 125 that never ends, a client's bytes stored under the aborted
             * name. The next operation gets a new session. */
            c->flags |= CF_RENEW;
        }
        if (code == 225 || (code >= 200 && c->step > 0 && --c->step == 0))
            sc_abort_sync(c);
        return;
    case S_SYNC:
        if (code != 200)
            return; /* late replies of the aborted transfer */
        if (sc_is_setup(c) && c->xk == X_FIX_STOR) {
            char name[96];
            stress_fixture_name(run, c->fixture, name, sizeof(name));
            c->state = S_FIX_DELE;
            sc_send_cmd(c, "DELE %s", name);
            return;
        }
        if (c->op == STRESS_OP_PUT) {
            char name[96];
            stress_upload_name(run, c->id, c->op_iter, name, sizeof(name));
            c->state = S_DELE;
            sc_send_cmd(c, "DELE %s", name);
            return;
        }
        sc_op_end(c);
        return;
    case S_RELOGIN:
        sc_relogin(c);
        return;
    case S_QUIT:
        sc_finish(c);
        return;
    default:
        return;
    }
}
