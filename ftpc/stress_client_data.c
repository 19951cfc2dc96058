/* The data connection of a simulated client: a download checked as it arrives, an upload
 * generated at the offset being written, both through the run's scratch buffers and (MODE Z)
 * the codec, paced by --limit-rate and bounded per wakeup; and the end of an upload, which
 * under TLS must be read to the server's close. */
#include "stress_client_int.h"

#include <errno.h>
#include <sys/socket.h>

#include "digest.h"
#include "mz.h"
#include "ratelimit.h"
#include "stress_content.h"

#define READ_BUDGET (1u << 20) /* bytes one data connection moves per wakeup */

static void data_cb(ev_loop *loop, int fd, int mask, void *ud);

void sc_data_update(stress_client *c)
{
    if (c->data == NULL)
        return;
    int want = 0;
    if (c->flags & CF_PAUSED)
        want = 0;
    else if (!(c->flags & CF_DATA_TCP))
        want = EV_WRITE; /* writable: connected (or failed) */
    else if (!(c->flags & CF_DATA_UP))
        want = stream_want(c->data) ? stream_want(c->data) : EV_READ; /* TLS handshake */
    else if (c->flags & CF_DATA_DRAIN)
        want = EV_READ | stream_want(c->data);
    else if (c->xk == X_STOR || c->xk == X_FIX_STOR)
        want = (c->flags & CF_PRELIM) ? EV_WRITE | stream_want(c->data) : 0;
    else
        want = EV_READ | stream_want(c->data);
    sc_set_mask(c, c->data->fd, want, data_cb);
}

static void data_failed(stress_client *c, int err)
{
    sc_trace_err(c, "data connection", err);
    if (!sc_is_setup(c)) {
        stress_stats_error(sc_stats(c), 0, err);
        c->flags |= CF_OP_ERR;
    }
    c->flags |= CF_DATA_ERR | CF_DATA_DONE;
    sc_close_data(c, true);
    if (c->flags & CF_FINAL) {
        sc_xfer_complete(c);
        return;
    }
    /* The transfer's final reply may never come: a server whose data connection failed
     * on its side (it reset it, or closed its passive socket with ours still queued, or
     * never got it at all: a port refused) sends 426; one that never had it waits for it,
     * and pyftpdlib, having said 150, then says nothing more, holding the client to the
     * --timeout or the end of the run's grace. The set-up fails now, as it would at that
     * reply; a client sends ABOR, which either server answers (RFC 959: the transfer's
     * 426, if it had not come, then ABOR's own reply), its operation counted as failed. */
    if (sc_is_setup(c))
        sc_xfer_complete(c);
    else
        sc_send_abor(c);
}

static void data_eof(stress_client *c)
{
    c->flags |= CF_DATA_DONE;
    /* Closed at once, not at the final reply: ProFTPD waits for our FIN (its lingering
     * close) before it sends 226. */
    sc_close_data(c, false);
    if (c->flags & CF_FINAL)
        sc_xfer_complete(c);
}

/* Index of the first byte of p[0..n) that is not byte c->pos + i of the current file. */
static size_t first_wrong(stress_client *c, const unsigned char *p, size_t n)
{
    const unsigned char *want = NULL;
    if (c->xk == X_GET)
        want = stress_expect_fixture(&c->run->expect, c->fixture, c->key, c->size);
    return want ? stress_first_diff(want + c->pos, p, n) : stress_check(c->key, c->pos, p, n);
}

/* Checks plain file bytes [pos, pos + n) of the current download. */
static void check_bytes(stress_client *c, const unsigned char *p, size_t n)
{
    if (c->xk == X_LIST || (c->flags & CF_VFAILED)) {
        c->pos += n;
        return;
    }
    char name[96];
    if (c->pos + n > c->size) {
        size_t inside = c->pos < c->size ? (size_t)(c->size - c->pos) : 0;
        size_t bad = first_wrong(c, p, inside);
        sc_xfer_file_name(c, name, sizeof(name));
        if (bad < inside)
            sc_vfail(c, name, c->pos + bad, stress_byte(c->key, c->pos + bad), p[bad]);
        else
            sc_vfail(c, name, c->size, -1, p[inside]);
        c->pos += n;
        return;
    }
    size_t bad = first_wrong(c, p, n);
    if (bad < n) {
        sc_xfer_file_name(c, name, sizeof(name));
        sc_vfail(c, name, c->pos + bad, stress_byte(c->key, c->pos + bad), p[bad]);
    }
    c->pos += n;
}

/* MODE Z download: inflates wire bytes and checks what comes out. Returns 0 or -1. */
static int inflate_bytes(stress_client *c, const unsigned char *p, size_t n, bool eof)
{
    stress_run *run = c->run;
    for (;;) {
        size_t used = 0, made = 0;
        int rc = eof ? mz_finish(c->z, run->zscratch, run->zscratch_size, &made)
                     : mz_add(c->z, p, n, &used, run->zscratch, run->zscratch_size, &made);
        if (made > 0)
            check_bytes(c, run->zscratch, made);
        if (rc == MZ_ERROR)
            return -1;
        if (rc == MZ_END)
            c->flags |= CF_ZEND;
        p += used;
        n -= used;
        if (eof ? rc != MZ_AGAIN : (n == 0 && made < run->zscratch_size) || rc == MZ_END)
            return 0;
    }
}

/* --limit-rate: trims *len to what may move now; with nothing allowed, pauses the data
 * connection until the allowance returns and returns true. */
static bool rate_paused(stress_client *c, size_t *len)
{
    uint64_t allow = ftpc_rl_allow(&c->rl, ev_now(c->run->loop));
    if (allow == 0) {
        c->flags |= CF_PAUSED;
        sc_data_update(c);
        sc_arm(c, ftpc_rl_wait_ms(&c->rl));
        return true;
    }
    if (allow < *len)
        *len = (size_t)allow;
    return false;
}

static void data_read(stress_client *c)
{
    stress_run *run = c->run;
    size_t budget = READ_BUDGET;
    stream *s = c->data;
    uint16_t gen = c->gen;
    while (c->gen == gen && budget > 0) {
        size_t want = run->scratch_size;
        if (sc_limited(c) && rate_paused(c, &want))
            return;
        if (c->fault != F_NONE && c->cut > c->pos && c->cut - c->pos < want && !c->z)
            want = (size_t)(c->cut - c->pos);
        ssize_t n = stream_read(s, run->scratch, want);
        if (n > 0) {
            sc_touch(c);
            if (sc_limited(c))
                ftpc_rl_consume(&c->rl, (uint64_t)n);
            if (c->z) {
                uint64_t before = c->pos;
                if (inflate_bytes(c, run->scratch, (size_t)n, false) < 0) {
                    stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                    data_failed(c, EPROTO);
                    return;
                }
                if (c->xk != X_LIST)
                    sc_stats(c)->bytes_down += c->pos - before;
            } else {
                check_bytes(c, run->scratch, (size_t)n);
                if (c->xk != X_LIST) /* the rates are of file data, as a server logs them */
                    sc_stats(c)->bytes_down += (uint64_t)n;
            }
            budget = (size_t)n < budget ? budget - (size_t)n : 0;
            if (c->fault != F_NONE && c->pos >= c->cut) {
                sc_inject(c);
                return;
            }
            continue;
        }
        if (n == 0) {
            if (c->z && !(c->flags & CF_ZEND) && inflate_bytes(c, NULL, 0, true) < 0) {
                stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                data_failed(c, EPROTO);
                return;
            }
            data_eof(c);
            return;
        }
        if (s->last_errno == EAGAIN)
            break;
        data_failed(c, s->last_errno);
        return;
    }
    if (c->gen == gen) {
        sc_data_update(c);
        if (budget == 0 && stream_pending(s) > 0) {
            /* Decrypted bytes no socket event will announce: come back at once. */
            c->flags |= CF_KICK;
            sc_arm(c, 0);
        }
    }
}

static void upload_closed(stress_client *c)
{
    sc_close_data(c, false);
    c->flags |= CF_DATA_DONE;
    if (c->flags & CF_FINAL)
        sc_xfer_complete(c);
}

/* After a TLS upload's close_notify and FIN: reads (and drops) what the server still sends,
 * its TLS 1.3 session tickets and its own close_notify, until it closes. Closing with those
 * bytes unread would make the kernel answer with a reset, which can destroy the end of the
 * upload before the server has read it. */
static void upload_drain(stress_client *c)
{
    stress_run *run = c->run;
    for (int i = 0; i < 16; i++) {
        ssize_t n = stream_read(c->data, run->scratch, run->scratch_size);
        if (n > 0) {
            sc_touch(c);
            continue;
        }
        if (n < 0 && c->data->last_errno == EAGAIN) {
            sc_data_update(c);
            return;
        }
        upload_closed(c); /* EOF, or an error: everything was sent; the reply decides */
        return;
    }
    sc_data_update(c);
}

/* Upload end: TLS close_notify (then FIN and a drain), or a plain close; the server's final
 * reply follows. */
static void upload_done(stress_client *c)
{
    c->flags |= CF_DATA_SHUT;
    if (stream_shutdown(c->data) < 0 && c->data->last_errno == EAGAIN) {
        sc_data_update(c);
        return;
    }
    if (stream_is_tls(c->data)) {
        shutdown(c->data->fd, SHUT_WR);
        c->flags |= CF_DATA_DRAIN;
        upload_drain(c);
        return;
    }
    upload_closed(c);
}

/* MODE Z upload: refills zbuf with deflated file bytes. The deflater takes no file byte
 * past a fault's cut, as a plain upload writes none: the transfer is cut where a plain one
 * is, once what it made of them is sent (data_write). Returns 0 or -1. */
static int deflate_more(stress_client *c)
{
    stress_run *run = c->run;
    c->zoff = c->zlen = 0;
    while (c->zlen < ZBUF_SIZE && !(c->flags & CF_ZEND)) {
        size_t made = 0;
        if (c->fault != F_NONE && c->pos >= c->cut)
            break;
        if (c->pos < c->size) {
            size_t chunk = run->zscratch_size;
            if (c->size - c->pos < chunk)
                chunk = (size_t)(c->size - c->pos);
            if (c->fault != F_NONE && c->cut - c->pos < chunk)
                chunk = (size_t)(c->cut - c->pos);
            stress_fill(c->key, c->pos, run->zscratch, chunk);
            size_t used = 0;
            if (mz_add(c->z, run->zscratch, chunk, &used, c->zbuf + c->zlen, ZBUF_SIZE - c->zlen,
                       &made) == MZ_ERROR)
                return -1;
            if (c->dg)
                digest_update(c->dg, run->zscratch, used);
            c->pos += used;
            c->zin += used;
            c->zlen += (uint32_t)made;
            if (used == 0 && made == 0)
                break;
        } else {
            int rc = mz_finish(c->z, c->zbuf + c->zlen, ZBUF_SIZE - c->zlen, &made);
            c->zlen += (uint32_t)made;
            if (rc == MZ_ERROR)
                return -1;
            if (rc == MZ_END)
                c->flags |= CF_ZEND;
            else if (made == 0)
                break;
        }
    }
    if (c->zlen == 0) { /* taken, and nothing of them to send yet */
        sc_stats(c)->bytes_up += c->zin;
        c->zin = 0;
    }
    return 0;
}

static void data_write(stress_client *c)
{
    stress_run *run = c->run;
    stream *s = c->data;
    uint16_t gen = c->gen;
    size_t budget = READ_BUDGET;
    while (c->gen == gen && budget > 0) {
        if (c->flags & CF_DATA_SHUT) {
            upload_done(c);
            return;
        }
        if (c->fault != F_NONE && c->pos >= c->cut && (!c->z || c->zoff == c->zlen)) {
            sc_inject(c);
            return;
        }
        const unsigned char *src;
        size_t len;
        if (c->z) {
            if (c->zoff == c->zlen) {
                if (c->flags & CF_ZEND) {
                    upload_done(c);
                    return;
                }
                if (deflate_more(c) < 0) {
                    stress_run_message(run, "ftpc stress: MODE Z: %s", mz_error(c->z));
                    data_failed(c, EPROTO);
                    return;
                }
                continue;
            }
            src = c->zbuf + c->zoff;
            len = c->zlen - c->zoff;
        } else {
            if (c->pos >= c->size) {
                upload_done(c);
                return;
            }
            len = run->scratch_size;
            if (c->size - c->pos < len)
                len = (size_t)(c->size - c->pos);
            if (c->fault != F_NONE && c->cut - c->pos < len)
                len = (size_t)(c->cut - c->pos);
            src = run->scratch;
        }
        if (sc_limited(c) && c->tls_try == 0 && rate_paused(c, &len))
            return;
        /* TLS: a write that waited must be offered again with at least as many bytes;
         * regenerating them at the same offset gives the very same bytes. */
        if (!c->z && stream_is_tls(s) && len > 16384)
            len = 16384; /* one record a call: generate no more than goes out */
        if (!c->z && c->tls_try > len && c->tls_try <= c->size - c->pos)
            len = c->tls_try;
        if (!c->z)
            stress_fill(c->key, c->pos, run->scratch, len);
        ssize_t n = stream_write(s, src, len);
        if (n > 0) {
            sc_touch(c);
            c->tls_try = 0;
            if (sc_limited(c))
                ftpc_rl_consume(&c->rl, (uint64_t)n);
            if (c->z) {
                /* The file bytes count as sent once all the deflater made of them is: a
                 * buffer at a time, in the unit a plain upload counts (not the wire's) */
                c->zoff += (uint32_t)n;
                if (c->zoff == c->zlen) {
                    sc_stats(c)->bytes_up += c->zin;
                    c->zin = 0;
                }
            } else {
                if (c->dg)
                    digest_update(c->dg, src, (size_t)n);
                c->pos += (uint64_t)n;
                sc_stats(c)->bytes_up += (uint64_t)n;
            }
            budget = (size_t)n < budget ? budget - (size_t)n : 0;
            continue;
        }
        if (n < 0 && s->last_errno == EAGAIN) {
            if (!c->z && stream_is_tls(s))
                c->tls_try = (uint32_t)len;
            break;
        }
        data_failed(c, n < 0 ? s->last_errno : EPIPE);
        return;
    }
    if (c->gen == gen)
        sc_data_update(c);
}

void sc_data_step(stress_client *c)
{
    stream *s = c->data;
    if (s == NULL)
        return;
    if (!(c->flags & CF_DATA_TCP)) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err != 0) {
            data_failed(c, err);
            return;
        }
        c->flags |= CF_DATA_TCP;
    }
    if (!(c->flags & CF_DATA_UP)) {
        if (stream_handshake(s) < 0) {
            if (s->last_errno == EAGAIN) {
                sc_data_update(c);
                return;
            }
            if (stream_is_tls(s))
                sc_tls_note(c, (stream_tls *)s);
            data_failed(c, s->last_errno ? s->last_errno : EPROTO);
            return;
        }
        c->flags |= CF_DATA_UP;
        sc_touch(c);
    }
    if (c->flags & CF_DATA_DRAIN)
        upload_drain(c);
    else if (c->xk == X_STOR || c->xk == X_FIX_STOR) {
        /* Not a byte before the server's 1xx (as ftpc put and curl): pyftpdlib takes
         * a passive connection that turns readable before its STOR has come for one whose
         * client hung up and closes it without a word, then answers the STOR with 150 and
         * waits for ever for a data connection it will never accept. */
        if (c->flags & CF_PRELIM)
            data_write(c);
        else
            sc_data_update(c);
    } else {
        data_read(c);
    }
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    (void)loop;
    (void)fd;
    (void)mask;
    sc_data_step(ud);
}
