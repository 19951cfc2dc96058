#include "xfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crlf.h"
#include "dirlist.h"
#include "ftp_reply.h"
#include "ftps.h"
#include "log.h"
#include "logpath.h"
#include "net.h"
#include "path.h"
#include "progress.h"
#include "server.h"
#include "session.h"
#include "upcommit.h"
#include "upwriter.h"
#include "xfer_int.h"
#include "xfer_zjob.h"
#include "xferlog.h"

#define XFER_BUF_SIZE (256 * 1024)
/* Bytes one connection may move per wakeup, so one fast transfer cannot starve the others.
 * Short turns also keep each socket's send queue short, so the server sends its own data
 * instead of leaving a megabyte queued for the client's ACKs to push out (on loopback that
 * work lands on the client). Against 4 MiB turns, measured with ftpc stress: 200 clients x 5
 * x 1 MiB 1.01 -> 0.71 s (median of 5; pure-ftpd 0.89), 300 x 10 MiB at once 3.2-3.6 ->
 * 2.4-2.75 s, 8 x 128 MiB 1.45-1.52 -> 1.02-1.18 s; one 1 GiB download no slower. */
#define XFER_WAKEUP_BUDGET (64 * 1024)
/* ...except for a download running alone with much left to send, where the loop has nothing
 * else to serve and each turn's wakeup and sendfile call are pure overhead: one 1 GiB RETR
 * ran at 0.87x ProFTPD's rate with 64 KiB turns and at 1.0x with 4 MiB ones (medians of 9).
 * Files of a few MiB keep short turns even alone: 200 clients fetching 1 MiB files (often
 * one transfer at a time) lost 20% when a lone transfer's file left in one burst. */
#define XFER_LONE_BUDGET (4 * 1024 * 1024)
#define XFER_LONE_MIN_LEFT (16 * 1024 * 1024)
/* An upload's first bytes are written on the loop (pump_in_direct): a small file is in before a
 * writer thread could have woken (64 clients putting 4 KiB files managed about 10% fewer files
 * a second when each went through a writer: medians of 3, 5265 against 5812). Larger uploads
 * then go to the writers. */
#define XFER_INLINE_UPLOAD (256 * 1024)
/* Most bytes one upload writer's move takes from a socket (upwriter.h). A move that reaches
 * it is queued again at once, behind the other uploads' moves. */
#define XFER_WRITER_MAX (4 * 1024 * 1024)
/* Bytes an offloaded upload's socket collects before it wakes the loop (SO_RCVLOWAT; its
 * end wakes it at once). Fewer, larger moves: each wakeup costs the sending client an
 * interrupt on its own CPU, and the loop and a writer a handoff. One 1 GiB STOR (curl) ran
 * about 30% faster with it (12 of 14 alternating runs). A client that trickles slower than
 * this is still served: every XFER_LOWAT_POLL_MS the data timer moves what is waiting, so
 * STAT stays current and a slow client is never mistaken for a stalled one. */
#define XFER_WRITER_LOWAT (256 * 1024)
#define XFER_LOWAT_POLL_MS 1000
/* A download progresses while its client takes bytes, even when the server writes nothing:
 * a slow reader drains a full send queue (up to megabytes) for longer than the data timeout
 * without the server writing once. Every XFER_TAKEN_POLL_MS the data timer looks at what the
 * client has acknowledged; a client that takes nothing times out to within that. */
#define XFER_TAKEN_POLL_MS 1000
/* A sendfile stream this long or longer runs corked, as ProFTPD's does: only full segments
 * leave until the end. Uncorked, each sendfile call's tail went out as a short segment, and
 * a 1 GiB download ran at 0.7-0.8x ProFTPD's rate on loopback (with 64 KiB turns, 0.6x);
 * corked it matches it. Small files skip the two extra system calls. */
#define XFER_CORK_MIN (64 * 1024)
/* Unsent bytes a sendfile stream may leave queued in its socket. Without a limit the socket
 * takes megabytes beyond what the client's window lets out, and on loopback that backlog is
 * sent by the client's own ACKs, on the client's CPU; it also leaves the 226 (and the socket's
 * close) racing ahead of data still queued. 200 clients x 5 x 1 MiB from ftpc stress, medians
 * of 4: 0.57 s unlimited, 0.42 s at 128 KiB, 0.35 s with the wait at the end as well
 * (xfer_end_stream); pure-ftpd 0.66 s. One 1 GiB download kept its rate. It must exceed
 * twice the largest segment (a corked tail under half the mark keeps the socket writable):
 * at 64 KiB, loopback's 64 KiB segments stalled downloads for the cork's 200 ms.
 * A download running alone (XFER_LONE_BUDGET) has no other stream to be fair to, and on the
 * AMD machine of 2026-12-03 (kernel 6.18) both settings cost it: one 1 GiB RETR to curl,
 * 6 alternating rounds, MiB/s: corked and limited 2870-3163, limited only 3052-3256, neither
 * 3659-4392, vsftpd 2396-2938. So a lone stream runs unlimited, and uncorked unless it runs
 * under the system's pacing algorithm (shape_stream). */
#define XFER_NOTSENT_LOWAT (128 * 1024)
/* MODE Z wire-side buffer (compressed bytes). */
#define XFER_ZBUF_SIZE (128 * 1024)

static void data_cb(ev_loop *loop, int fd, int mask, void *ud);
static void listen_cb(ev_loop *loop, int fd, int mask, void *ud);
static long xfer_timer_cb(ev_loop *loop, ev_timer *t, void *ud);
static long drain_cb(ev_loop *loop, ev_timer *t, void *ud);
static long pace_cb(ev_loop *loop, ev_timer *t, void *ud);
static long accept_retry_cb(ev_loop *loop, ev_timer *t, void *ud);
static void rate_pause(xfer *x);
static void handshake_step(xfer *x);
static void log_transfer(xfer *x, bool complete, const char *why);
static void fail_before_data(xfer *x, const char *text);

/* Copies into rec what log_transfer reads of x (its path aside), for a log line written after
 * x is gone: an orphaned upload's, or one whose commit a worker makes. */
static void log_record(xfer *rec, const xfer *x)
{
    rec->s = x->s;
    rec->kind = x->kind;
    rec->verb = x->verb;
    rec->ascii = x->ascii;
    rec->offset = x->offset;
    rec->done = x->done;
    rec->started_ms = x->started_ms;
    rec->rate = x->rate;
    rec->zmode = x->zmode;
    rec->z_stored = x->z_stored;
    rec->wire = x->wire;
    rec->abor_ended = x->abor_ended;
}

static ev_loop *loop_of(const xfer *x)
{
    return x->s->srv->loop;
}

static const char *kind_name(xfer_kind k)
{
    switch (k) {
    case XK_RETR:
        return "RETR";
    case XK_STOR:
        return "STOR";
    case XK_LIST:
        return "LIST";
    case XK_NLST:
        return "NLST";
    case XK_MLSD:
        return "MLSD";
    default:
        return "-";
    }
}

const char *xfer_verb(const xfer *x)
{
    return x->verb ? x->verb : kind_name(x->kind);
}

static xfer *xfer_new(session *s)
{
    if (s->xfer)
        xfer_free(s->xfer);
    xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->s = s;
    x->seq = ++s->xfer_seq;
    x->listen_fd = -1;
    x->data_fd = -1;
    x->file_fd = -1;
    x->up.fd = -1;
    x->up.dir_fd = -1;
    x->up.copy_fd = -1;
    x->up.cmp_fd = -1;
    x->total = -1;
    x->allo = -1;
    buf_init(&x->fbuf, XFER_BUF_SIZE);
    buf_init(&x->zbuf, XFER_ZBUF_SIZE);
    ev_timer_init(&x->timer, xfer_timer_cb, x);
    ev_timer_init(&x->drain, drain_cb, x);
    ev_timer_init(&x->pace, pace_cb, x); /* x->rate is all zero: no limit until it streams */
    ev_timer_init(&x->accept_retry, accept_retry_cb, x);
    x->last_progress = ev_now(s->srv->loop);
    ev_timer_start(s->srv->loop, &x->timer, (long)s->srv->cfg->data_timeout * 1000);
    s->xfer = x;
    x->next = s->srv->xfers;
    if (x->next)
        x->next->prev = x;
    s->srv->xfers = x;
    return x;
}

static void close_data(xfer *x)
{
    if (x->listen_fd >= 0) {
        ev_del(loop_of(x), x->listen_fd, EV_READ | EV_WRITE);
        ev_timer_stop(loop_of(x), &x->accept_retry);
        close(x->listen_fd);
        x->listen_fd = -1;
    }
    if (x->data_fd >= 0) {
        ev_del(loop_of(x), x->data_fd, EV_READ | EV_WRITE);
        /* An active connection that never completed has a socket but no stream yet. */
        if (x->data.ops)
            stream_close(&x->data);
        else
            close(x->data_fd);
        x->data_fd = -1;
    }
}

/* An upload whose transfer ended while a writer was moving its bytes: the move still writes
 * into the file, so the upload ends (kept as a partial, or removed) only once the move is
 * back (upload_moved); a partial published earlier would still be growing, and a resume
 * from its size would misplace bytes. */
typedef struct upload_orphan {
    upload up;
    bool keep;
    unsigned long seq; /* the transfer whose move it waits for */
    /* The fields of the transfer that its log line reads (log_transfer), when that line waits
     * for the move too (end_why): written at once, it counted none of the move's bytes, and
     * the transfer log's size for the cut upload fell short of the partial a resume starts
     * from by up to a move (128 KiB in a test). */
    xfer rec;
} upload_orphan;

static void end_upload(xfer *x, bool keep_partial)
{
    session *s = x->s;
    upload_orphan *o = x->writing && !s->orphan ? calloc(1, sizeof *o) : NULL;
    if (o && x->end_why && x->vpath && !(o->rec.vpath = strdup(x->vpath))) {
        free(o);
        o = NULL;
    }
    if (!o) {
        if (x->end_why)
            log_transfer(x, false, x->end_why);
        server_close_later(s->srv, upload_abort_detach(&x->up, keep_partial));
        return;
    }
    o->up = x->up;
    o->keep = keep_partial;
    o->seq = x->seq;
    if (x->end_why) {
        log_record(&o->rec, x);
        o->rec.end_why = x->end_why;
    }
    s->orphan = o;
}

/* moved: the bytes the last move wrote into the file. */
static void end_orphan(session *s, size_t moved)
{
    upload_orphan *o = s->orphan;
    s->orphan = NULL;
    if (o->rec.end_why) {
        o->rec.done += (long long)moved;
        log_transfer(&o->rec, false, o->rec.end_why);
        free(o->rec.vpath);
    }
    server_close_later(s->srv, upload_abort_detach(&o->up, o->keep));
    free(o);
}

void xfer_discard_orphan(session *s)
{
    if (s->orphan)
        end_orphan(s, 0);
}

/* The download needs no slot any more: all of it is sent, or it ends. */
static void leave_slot(xfer *x)
{
    if (!x->slot_wanted)
        return;
    x->slot_wanted = false;
    dlslots_leave(&x->s->srv->dl_slots, &x->slot, ev_now(loop_of(x)));
}

void xfer_slot_resume(void *owner)
{
    xfer *x = owner;
    if (x->slot_wait_start > 0) {
        x->slot_waited_ms += ev_now(loop_of(x)) - x->slot_wait_start;
        x->slot_wait_start = 0;
    }
    ev_timer_start(loop_of(x), &x->drain, 0); /* drain_cb pumps it */
}

static void release(xfer *x, bool keep_partial)
{
    /* The session's idle time starts when a transfer ends, not at the command that began it:
     * the timer skips busy sessions, so a transfer that ran longer than the idle timeout
     * would otherwise leave the client a moment to speak after its 226. */
    if (x->kind != XK_NONE)
        x->s->last_activity = ev_now(loop_of(x));
    leave_slot(x);
    if (x->counted)
        server_transfer_ended(x->s->srv);
    close_data(x);
    ev_timer_stop(loop_of(x), &x->timer);
    ev_timer_stop(loop_of(x), &x->drain);
    ev_timer_stop(loop_of(x), &x->pace);
    if (x->file_fd >= 0 && x->ra.mode == RA_ON)
        server_close_later(x->s->srv, x->file_fd); /* on FUSE or NFS a close asks the server */
    else if (x->file_fd >= 0)
        close(x->file_fd);
    if (x->uploading)
        end_upload(x, keep_partial);
    appendlock_release(&x->s->srv->append_locks, x->append_lock);
    dirlist_free(x->dl);
    buf_free(&x->fbuf);
    xfer_zjob_release(x); /* before zbuf goes: a piece may have been swapped into it */
    buf_free(&x->zbuf);
    mz_end(&x->z);
    free(x->vpath);
    free(x->view_rate);
    if (x->s->xfer == x)
        x->s->xfer = NULL;
    if (x->prev)
        x->prev->next = x->next;
    else
        x->s->srv->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    free(x);
}

void xfer_free(xfer *x)
{
    if (!x)
        return;
    if (x->state == XS_RUNNING || x->state == XS_UPLOAD_SETTLING ||
        x->state == XS_UPLOAD_FLUSHING) {
        const char *why = x->s->srv->stopping ? "the server shut down" : "the session ended first";
        if (x->uploading && x->writing)
            x->end_why = why; /* still one line, once the writer's move is back (end_upload) */
        else
            log_transfer(x, false, why);
    }
    release(x, true);
}

xfer *xfer_pasv(session *s)
{
    const ftpd_config *cfg = s->srv->cfg;
    xfer *x = xfer_new(s);
    if (!x)
        return NULL;
    struct sockaddr_storage addr = s->local;
    net_set_port(&addr, 0);
    x->passive = true;
    x->state = XS_PASV_LISTEN;
    x->listen_fd = net_listen_range(&addr, cfg->pasv_first, cfg->pasv_last, 4);
    if (x->listen_fd < 0 || ev_add(loop_of(x), x->listen_fd, EV_READ, listen_cb, x) < 0) {
        int err = errno;
        release(x, false);
        errno = err;
        return NULL;
    }
    return x;
}

xfer *xfer_port(session *s, const struct sockaddr_storage *target)
{
    xfer *x = xfer_new(s);
    if (!x)
        return NULL;
    x->state = XS_PORT_SET;
    x->port_addr = *target;
    return x;
}

/* Seconds since the data began to move; 0 for a transfer cut before its data connection
 * served it (started_ms is still 0). */
static double elapsed_s(const xfer *x)
{
    if (x->started_ms == 0)
        return 0;
    double t = (double)(ev_now(loop_of(x)) - x->started_ms) / 1000.0;
    return t > 0.001 ? t : 0.001;
}

long long xfer_start_offset(const xfer *x)
{
    return x->kind == XK_STOR ? (long long)x->offset : x->kind == XK_RETR ? (long long)x->rest : 0;
}

/* " from byte N" for a transfer that began at offset N (REST, APPE), else "". */
static void format_start(const xfer *x, char *out, size_t size)
{
    long long start = xfer_start_offset(x);
    if (start > 0)
        snprintf(out, size, " from byte %lld", start);
    else if (size > 0)
        out[0] = '\0';
}

/* A transfer log on a full disk (or one that hit a file size limit) lost every record
 * without a word: the first failure is said, and so is the first write that works again. */
static void record_transfer(server *srv, const char *line, size_t len)
{
    const char *path = srv->cfg->xferlog_file;
    if (xferlog_append(srv->xferlog, line, len) == 0) {
        if (srv->xferlog_failing)
            log_info("transfer log %s: written again", path);
        srv->xferlog_failing = false;
        return;
    }
    if (!srv->xferlog_failing)
        log_error("transfer log %s: cannot write (%s); transfers are not recorded there until "
                  "it can be written again",
                  path, strerror(errno));
    srv->xferlog_failing = true;
}

/* One line per transfer; a failed one says why (the reply the client got, or what cut it
 * short), since an operator reads the log, not the client's screen. */
static void log_transfer(xfer *x, bool complete, const char *why)
{
    session *s = x->s;
    server *srv = s->srv;
    double secs = elapsed_s(x);
    char wire[128] = "", line_wait[80] = "", from[48] = "", reason[300] = "", cap[48] = "";
    if (x->zmode && x->z_stored > 0) /* mz_adapt */
        snprintf(wire, sizeof wire,
                 " (MODE Z, %lld on the wire; %llu bytes sent stored: they did not compress)",
                 x->wire, (unsigned long long)x->z_stored);
    else if (x->zmode)
        snprintf(wire, sizeof wire, " (MODE Z, %lld on the wire)", x->wire);
    if (ratecap_on(&x->rate)) { /* so that a slow transfer is not taken for a slow network */
        char r[24];
        snprintf(cap, sizeof cap, ", held to %s",
                 progress_rate_str((double)x->rate.rate, r, sizeof r));
    }
    if (x->slot_waits > 0)
        snprintf(line_wait, sizeof line_wait, ", %lld ms of it in line for a download slot (%u %s)",
                 x->slot_waited_ms, x->slot_waits, x->slot_waits == 1 ? "wait" : "waits");
    /* A resumed download's bytes would otherwise read as a file cut short. */
    format_start(x, from, sizeof from);
    /* An ABOR is the client's choice, whatever it wanted of the file: the outcome says so,
     * and needs no reason after it. */
    bool aborted = !complete && x->abor_ended;
    if (!complete && !aborted && why)
        snprintf(reason, sizeof reason, ": %s", why);
    const char *outcome = complete ? "ok" : aborted ? "aborted by the client (ABOR)" : "failed";
    char shown[LOG_PATH_BUF];
    const char *path = log_path(x->vpath ? x->vpath : "", shown, sizeof shown);
    if (secs == 0)
        session_log(s, "%s %s%s %s before any data moved%s", xfer_verb(x), path, from,
                    complete ? "ended" : outcome, reason);
    else {
        char rate[24]; /* in the unit that fits: a slow client's 12 KiB/s is not "0.0 MiB/s" */
        session_log(s, "%s %s%s %s: %lld bytes%s in %.3f s (%s%s)%s%s", xfer_verb(x), path, from,
                    outcome, x->done, wire, secs,
                    progress_rate_str((double)x->done / secs, rate, sizeof rate), cap, line_wait,
                    reason);
    }
    if (x->kind == XK_STOR)
        srv->bytes_in += (unsigned long long)x->done;
    else
        srv->bytes_out += (unsigned long long)x->done;
    srv->transfers++;
    if (aborted)
        srv->transfers_aborted++;
    else if (!complete)
        srv->transfers_failed++;
    if (!srv->xferlog || (x->kind != XK_RETR && x->kind != XK_STOR))
        return;
    char host[NET_ADDR_STRLEN], line[PATH_VMAX + 512];
    net_host_str(&s->peer, host, sizeof host);
    xferlog_entry e = {
        .end = time(NULL),
        .seconds = secs,
        .host = host,
        .bytes = x->done,
        .path = x->vpath ? x->vpath : "",
        .ascii = x->ascii,
        .incoming = x->kind == XK_STOR,
        .anonymous = (s->flags & SF_ANONYMOUS) != 0,
        .user = session_who(s),
        .complete = complete,
    };
    int len = xferlog_format(line, sizeof line, &e);
    if (len > 0)
        record_transfer(srv, line, (size_t)len);
}

/* Ends a transfer: replies, logs, frees and lets the session read commands again. */
/* Holds an upload's end until its writer's move is in the file (upload_moved). */
static void defer_end(xfer *x, int how, int code, const char *text, bool keep_partial)
{
    close_data(x); /* the writer reads through its own duplicate of the socket */
    x->fin = how;
    x->fin_code = code;
    x->fin_keep = keep_partial;
    /* Held for the reply; a text longer than the replies built for uploads is cut. */
    snprintf(x->fin_text, sizeof x->fin_text, "%.*s", (int)sizeof x->fin_text - 1, text);
    x->state = XS_UPLOAD_FLUSHING;
    ev_timer_stop(loop_of(x), &x->timer);
    /* Commands after this point are answered after its replies, as they would have been
     * without a writer; xfer_finish and xfer_abort resume reading. */
    x->s->flags |= SF_READ_PAUSED;
}

/* The reply to a commit that failed with err, in out; *code becomes its code. */
static const char *commit_failure(const xfer *x, int err, int *code, char *out, size_t size)
{
    *code = (err == ENOSPC || err == EDQUOT) ? FTP_INSUFFICIENT_STORAGE : FTP_LOCAL_ERROR;
    if (err == EISDIR) {
        /* Another session made a directory of the name (MKD) while the data came: a file
         * cannot replace it. */
        snprintf(out, size, "%s became a directory while the %s ran; nothing was stored.",
                 x->vpath ? x->vpath : "The name", xfer_verb(x));
    } else if (err == ESTALE) {
        /* Another session stored, deleted or renamed the file this upload built on
         * (upload_commit): its result stands, and the client is told to retry. */
        snprintf(out, size, "%s changed while the %s ran; nothing was replaced, send it again.",
                 x->vpath ? x->vpath : "The file", xfer_verb(x));
    } else {
        /* The reason goes to the client and the log: "could not" alone leaves both to guess
         * why bytes that all arrived were not stored. */
        snprintf(out, size, "Could not store the file: %s.", strerror(err));
    }
    return out;
}

/* The rest of xfer_finish, once an upload's commit is made (or none was to be made). */
static void finish_ended(xfer *x, bool ok, int code, const char *text, bool keep_partial)
{
    session *s = x->s;
    char ztext[160];
    if (ok && x->zmode) {
        /* The counts clients and logs rely on are file bytes; the wire bytes show the gain. */
        snprintf(ztext, sizeof ztext, "Transfer complete: %lld bytes, %lld on the wire (MODE Z).",
                 x->done, x->wire);
        text = ztext;
    }
    /* A recursive listing that left something out says what (dirlist_note): a client or a
     * reader of the log must not take a cut listing for the whole tree. */
    char note[PATH_VMAX + 200], noted[sizeof note + 200];
    if (ok && x->dl && dirlist_note(x->dl, note, sizeof note)) {
        snprintf(noted, sizeof noted, "%s Listing incomplete: %s.", text, note);
        text = noted;
    }
    char why[300]; /* for the log line, which names the file already: a long path is cut */
    snprintf(why, sizeof why, "%d %.290s", code, text);
    log_transfer(x, ok, why);
    int dropped = -1; /* a failed upload's file, which the reply waits to see closed */
    if (!ok && x->uploading && !keep_partial) {
        dropped = upload_abort_detach(&x->up, false);
        x->uploading = false;
    }
    release(x, keep_partial);
    server_close_then_reply(s->srv, dropped, s, code, text);
}

/* A commit's job came back. The session outlives its jobs (s->jobs); the transfer ends here,
 * unless it went with its session, whose log line then says how the upload ended. */
static void commit_done(upcommit *c)
{
    session *s = c->s;
    appendlock_release(&s->srv->append_locks, c->lock);
    bool ok = c->rc == 0;
    int code = c->code;
    char failed[PATH_VMAX + 96];
    const char *text = ok ? c->text : commit_failure(&c->rec, c->err, &code, failed, sizeof failed);
    xfer *x = s->xfer;
    if (s->state != SESS_CLOSED && x && x->seq == c->seq && x->state == XS_UPLOAD_COMMITTING) {
        finish_ended(x, ok, code, text, false);
    } else {
        char why[300];
        snprintf(why, sizeof why, "%d %.290s (the session ended first)", code, text);
        log_transfer(&c->rec, ok, why);
    }
    free(c->rec.vpath);
    free(c);
}

/* Hands a complete upload's commit to a worker (upcommit.h): false when none can be had, and
 * the loop commits it. The client's reply waits for the commit's end (commit_done). */
static bool commit_off_loop(xfer *x, int code, const char *text)
{
    upcommit *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    if (x->vpath && !(c->rec.vpath = strdup(x->vpath))) {
        free(c);
        return false;
    }
    session *s = x->s;
    c->up = x->up;
    c->s = s;
    c->seq = x->seq;
    c->code = code;
    snprintf(c->text, sizeof c->text, "%s", text);
    c->lock = x->append_lock;
    c->done = commit_done;
    /* what log_transfer and commit_failure read, should the transfer go before the job ends */
    log_record(&c->rec, x);
    if (upcommit_start(c) < 0) {
        free(c->rec.vpath);
        free(c);
        return false;
    }
    x->uploading = false; /* the job's now: nothing the session does can abort it */
    x->append_lock = NULL;
    x->state = XS_UPLOAD_COMMITTING;
    ev_timer_stop(loop_of(x), &x->timer);
    ev_timer_stop(loop_of(x), &x->drain);
    ev_timer_stop(loop_of(x), &x->pace);
    /* Commands after this point are answered after its 226, and an ABOR meanwhile finds the
     * transfer over (as for XS_UPLOAD_FLUSHING). */
    s->flags |= SF_READ_PAUSED;
    return true;
}

void xfer_finish(xfer *x, int code, const char *text, bool keep_partial)
{
    session *s = x->s;
    bool ok = code == FTP_TRANSFER_OK;
    if (x->writing) {
        defer_end(x, XF_FINISH, code, text, keep_partial);
        return;
    }
    close_data(x); /* the data is out (or lost) before the reply says so */
    char failed[PATH_VMAX + 96];
    if (ok && x->uploading) {
        /* Under a root in memory nothing waits, and on a local disk the lookups of a name
         * just written find it cached and the rename goes to the journal: a worker's handoff
         * would only cost. On FUSE, NFS or CIFS each call may wait for a server. */
        if (s->vfs.speed == VFS_REMOTE && commit_off_loop(x, code, text))
            return;
        int old = -1;
        x->uploading = false;
        int rc = upload_commit_keep_old(&x->up, &old);
        if (old >= 0)
            server_close_later(s->srv, old);
        if (rc < 0) {
            ok = false;
            text = commit_failure(x, errno, &code, failed, sizeof failed);
        }
    }
    finish_ended(x, ok, code, text, keep_partial);
}

void xfer_fail_local(xfer *x, int err)
{
    bool full = err == ENOSPC || err == EDQUOT;
    char text[256];
    if (err == EFBIG) {
        /* Past the file size limit (RLIMIT_FSIZE, or the file system's largest file) the
         * file cannot grow: sending it again or resuming it fails the same way, so the
         * reply is RFC 959's lasting 552 rather than a 451 that clients retry. */
        snprintf(text, sizeof text, "Exceeded storage allocation: %s (the server's limit).",
                 strerror(err));
        xfer_finish(x, FTP_EXCEEDED_STORAGE, text, false);
        return;
    }
    /* RFC 959's words for 452 rather than "Local error", which a client shows after "the
     * server replied" all the same and its user reads as a full disk of their own. */
    snprintf(text, sizeof text, "%s: %s.", full ? "Insufficient storage space" : "Local error",
             strerror(err));
    /* A full disk keeps nothing this upload wrote: freeing the space matters more than a
     * resume (a resumed partial goes back to the length it had, upload_abort). */
    xfer_finish(x, full ? FTP_INSUFFICIENT_STORAGE : FTP_LOCAL_ERROR, text, false);
}

void xfer_fail_network(xfer *x, int err)
{
    char text[256];
    if (ftps_data_truncated(x))
        snprintf(text, sizeof text,
                 "Connection closed without TLS close_notify; upload truncated, aborted.");
    else
        snprintf(text, sizeof text, "Connection closed; transfer aborted (%s).",
                 err ? strerror(err) : "peer closed");
    xfer_finish(x, FTP_TRANSFER_ABORTED, text, true);
}

/* Registers exactly `want` for the data connection. Returns 0 or -1 (errno). */
static int set_events(xfer *x, int want)
{
    ev_loop *loop = loop_of(x);
    int have = ev_mask(loop, x->data_fd);
    if (have & ~want)
        ev_del(loop, x->data_fd, have & ~want);
    if (want & ~have)
        return ev_add(loop, x->data_fd, want & ~have, data_cb, x);
    return 0;
}

/* n bytes moved on the data connection (outside MODE Z, where they are file bytes as well). */
static void progress(xfer *x, size_t n)
{
    xfer_rate_spend(x, n);
    x->done += (long long)n;
    x->last_progress = ev_now(loop_of(x));
}

/* ASCII download: LF becomes CRLF, except where the file already has CRLF (a text file
 * uploaded in binary from Windows): doubling its CR would show as an empty line between
 * every two lines at the client. The byte before the offset is read too, so a CRLF split
 * between two reads (or by REST) is still seen. Reads at most half the free space so it
 * always fits. */
static ssize_t fill_ascii(xfer *x, char *tail, size_t avail)
{
    char raw[32 * 1024 + 1];
    size_t want = avail / 2 < sizeof raw - 1 ? avail / 2 : sizeof raw - 1;
    if ((off_t)want > x->total - x->offset) /* what was there at the 150, as xfer_fill */
        want = (size_t)(x->total - x->offset);
    size_t before = x->offset > 0 ? 1 : 0;
    ssize_t n = pread(x->file_fd, raw, want + before, x->offset - (off_t)before);
    if (n <= (ssize_t)before)
        return n < 0 ? n : 0;
    x->offset += n - (ssize_t)before;
    return (ssize_t)crlf_expand(raw, before, (size_t)n, tail);
}

int xfer_fill(xfer *x)
{
    if (x->kind != XK_RETR)
        return xfer_io_list_fill(x);
    size_t avail;
    char *tail = buf_tail(&x->fbuf, &avail);
    if (!tail)
        return -1;
    if (x->offset >= x->total) {
        /* The bytes the 150 announced are out: a file that grew meanwhile (a log being
         * written) is sent as it was, in every mode, as sendfile sends it. */
        x->eof = true;
        return 0;
    }
    if (!x->ascii && (off_t)avail > x->total - x->offset)
        avail = (size_t)(x->total - x->offset);
    /* Under TYPE A the file gives at most half the room (fill_ascii). */
    size_t ready = readahead_avail(x, x->ascii ? avail / 2 : avail);
    if (ready == 0)
        return 1;
    avail = x->ascii ? ready * 2 : ready;
    ssize_t n;
    if (x->ascii) {
        n = fill_ascii(x, tail, avail);
    } else {
        n = pread(x->file_fd, tail, avail, x->offset);
        if (n > 0)
            x->offset += n;
    }
    if (n < 0)
        return -1;
    if (n == 0)
        x->eof = true;
    buf_commit(&x->fbuf, (size_t)n);
    return 0;
}

/* A paced download's end waits for its last bytes to leave the socket (xfer_end_stream), with
 * nothing for sendfile to count: a client still reading them is making progress all the same. */
static void tail_progress(xfer *x, int unsent)
{
    if (x->tail_unsent > 0 && unsent < x->tail_unsent)
        x->last_progress = ev_now(loop_of(x));
    x->tail_unsent = unsent;
}

/* Everything is sent: the stream's end goes out (TLS: close_notify, which tells the client
 * the data is complete rather than cut) before the 226. */
void xfer_end_stream(xfer *x)
{
    if (x->kind == XK_RETR && x->eof && x->offset < x->total) {
        /* The file shrank under us (truncated or rewritten in place): the client holds fewer
         * bytes than the 150 announced, and a 226 would have it keep them as the whole file. */
        char text[PATH_VMAX + 96];
        snprintf(text, sizeof text, "%s shrank while being sent (%lld of %lld bytes); try again.",
                 x->vpath ? x->vpath : "The file", (long long)x->offset, (long long)x->total);
        xfer_finish(x, FTP_LOCAL_ERROR, text, false);
        return;
    }
    leave_slot(x);
    if (x->corked) {
        (void)net_set_cork(x->data.fd, false);
        x->corked = false;
    }
    if (x->paced && x->state == XS_RUNNING) {
        int unsent = net_unsent_bytes(x->data.fd);
        if (unsent < 0 && errno == ECONNRESET) {
            /* the client reset the connection before the rest could leave: it is lost */
            xfer_fail_network(x, ECONNRESET);
            return;
        }
        if (unsent > 0) {
            /* Writable again once the socket holds nothing unsent: then the data has left
             * under the server's own steam and the 226 cannot overtake it. */
            tail_progress(x, unsent);
            if (net_set_notsent_lowat(x->data.fd, 1) == 0 && set_events(x, EV_WRITE) == 0)
                return;
        }
    }
    x->state = XS_SHUTDOWN;
    if (stream_shutdown(&x->data) < 0 && x->data.last_errno == EAGAIN) {
        if (set_events(x, stream_want(&x->data)) < 0)
            xfer_fail_local(x, errno);
        return;
    }
    xfer_finish(x, FTP_TRANSFER_OK, "Transfer complete.", false);
}

/* A download running alone, to a client on this host, gets local-congestion (cubic). Such a
 * connection crosses the loopback device, which has no queue for a pacing algorithm such as
 * BBR (a common system default) to protect; there pacing caps one stream and costs the server
 * a timer per burst. One 1 GiB RETR to curl, medians of 8: BBR 1546 MiB/s against reno 2215
 * (ProFTPD 1591), the server's CPU 0.6 s against 0.25 s. Segments still arrive out of order
 * now and then (ss: about 5% of the bytes resent, every one reported back as a duplicate),
 * each time costing the window a cut, and cubic cuts less than reno: on two later hosts, medians of
 * 8-10 alternating rounds, cubic 2739-2780 against reno 2288-2410 and BBR 1712 (ProFTPD 2729-2837),
 * and 2775 against 2430 and 2680. Many streams at once did better under BBR (300 x 10 MiB at once:
 * 0.73-0.85 s against 0.99-1.39 s under reno; 200 clients x 5 x 1 MiB: 0.40-0.51 s against
 * 0.46-0.64 s), so they keep the system's default. */
static void set_lone_congestion(xfer *x)
{
    x->lone_congestion = true;
    const session *s = x->s;
    const char *name = s->srv->cfg->local_congestion;
    if (name[0] == '\0' || !net_on_this_host(&s->peer, &s->local))
        return;
    if (net_set_congestion(x->data.fd, name) == 0)
        x->lone_switched = true;
    else
        session_log(s, "data connection keeps the default congestion control: %s", strerror(errno));
}

/* A download has the server to itself: it is the only transfer running, and a large one. A
 * download that was once alone counts as large to its end, so that its last megabytes leave
 * as fast as the rest. */
static bool runs_alone(const xfer *x)
{
    if (x->s->srv->running_transfers != 1)
        return false;
    return x->lone_congestion || x->total - x->offset >= XFER_LONE_MIN_LEFT;
}

/* Corks and limits a sendfile stream that shares the server (XFER_CORK_MIN,
 * XFER_NOTSENT_LOWAT), and frees one that runs alone, as the stream's company changes. Either
 * way its end waits for the data to leave (xfer_end_stream).
 *
 * A stream running alone under the system's algorithm, because local-congestion is off or
 * refused to the server (a name outside tcp_allowed_congestion_control needs CAP_NET_ADMIN),
 * stays corked, as ProFTPD's does: a pacing algorithm such as BBR then paces full segments.
 * One 1 GiB RETR to curl under BBR, medians of 11 alternating rounds: 2050 MiB/s uncorked,
 * 2464 corked (ProFTPD 2684). Under cubic the cork costs instead: 2535 uncorked against 2468
 * corked (medians of 9). */
static void shape_stream(xfer *x, bool alone, off_t left)
{
    bool cork = alone ? !x->lone_switched : x->corked || left >= XFER_CORK_MIN;
    if (cork != x->corked && net_set_cork(x->data.fd, cork) == 0)
        x->corked = cork;
    bool limit = !alone && x->corked; /* without the limit a corked stream is only less fair */
    if (limit != x->limited &&
        net_set_notsent_lowat(x->data.fd, limit ? XFER_NOTSENT_LOWAT : 0) == 0) /* 0: no limit */
        x->limited = limit;
    if (x->corked || alone)
        x->paced = true;
}

static void pump_out(xfer *x)
{
    if (x->zmode) {
        xfer_mz_pump_out(x);
        return;
    }
    size_t budget = XFER_WAKEUP_BUDGET;
    bool direct = x->kind == XK_RETR && !x->ascii && x->data.ops->sendfile;
    /* A download held to a rate is never fast alone: it keeps the shared settings. */
    bool capped = ratecap_on(&x->rate);
    bool alone = direct && !capped && runs_alone(x);
    if (alone) {
        budget = XFER_LONE_BUDGET;
        if (!x->lone_congestion)
            set_lone_congestion(x);
    }
    if (capped && budget > xfer_rate_room(x))
        budget = xfer_rate_room(x); /* sendfile's chunk and the buffer's writes stay within it */
    while (budget > 0) {
        if (!buf_empty(&x->fbuf)) {
            size_t len = buf_len(&x->fbuf);
            /* Uncapped, a whole buffer goes (budget is a turn's soft bound); capped, a byte
             * beyond the budget would run ahead of the rate. A TLS write that must be retried
             * (EAGAIN) is retried with at least as much: nothing is spent meanwhile, and the
             * tokens only grow. */
            if (capped && len > budget)
                len = budget;
            ssize_t n = stream_write(&x->data, buf_head(&x->fbuf), len);
            if (n < 0) {
                if (x->data.last_errno == EAGAIN)
                    return;
                xfer_fail_network(x, x->data.last_errno);
                return;
            }
            buf_consume(&x->fbuf, (size_t)n);
            progress(x, (size_t)n);
            budget = budget > (size_t)n ? budget - (size_t)n : 0;
            continue;
        }
        if (x->eof || (direct && x->offset >= x->total)) {
            xfer_end_stream(x);
            return;
        }
        if (direct) {
            off_t left = x->total - x->offset;
            /* Held to a rate, a stream writes small chunks: corked, on loopback (64 KiB
             * segments) each would wait up to the cork's 200 ms, and the pace would turn into
             * bursts. */
            if (!capped)
                shape_stream(x, alone, left);
            size_t chunk = readahead_avail(x, (size_t)left < budget ? (size_t)left : budget);
            if (chunk == 0)
                return; /* a worker reads the next bytes from the disk */
            ssize_t n = x->data.ops->sendfile(&x->data, x->file_fd, &x->offset, chunk);
            if (n < 0) {
                if (x->data.last_errno == EAGAIN)
                    return;
                if (x->data.last_errno == EPIPE || x->data.last_errno == ECONNRESET)
                    xfer_fail_network(x, x->data.last_errno);
                else
                    xfer_fail_local(x, x->data.last_errno);
                return;
            }
            if (n == 0) { /* the file shrank under us: send what there was */
                x->eof = true;
                continue;
            }
            progress(x, (size_t)n);
            budget = budget > (size_t)n ? budget - (size_t)n : 0;
            continue;
        }
        int filled = xfer_fill(x);
        if (filled < 0) {
            xfer_fail_local(x, errno);
            return;
        }
        if (filled > 0)
            return; /* a worker reads the next bytes from the disk */
    }
}

/* ASCII upload: CRLF becomes LF, in place. A CR that ends a chunk waits for the next. */
static int write_ascii(xfer *x, char *p, size_t len, size_t *out_len)
{
    size_t o = 0;
    if (x->cr_pending && len > 0 && p[0] != '\n') {
        if (write(x->up.fd, "\r", 1) != 1)
            return -1;
    }
    if (len > 0)
        x->cr_pending = false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r') {
            if (i + 1 == len) {
                x->cr_pending = true;
                break;
            }
            if (p[i + 1] == '\n')
                continue;
        }
        p[o++] = p[i];
    }
    *out_len = o;
    return 0;
}

/* Writes all of fbuf to the upload file. Returns 0 or -1 with errno. */
int xfer_drain_to_file(xfer *x)
{
    size_t len = buf_len(&x->fbuf);
    char *p = (char *)buf_head(&x->fbuf);
    if (x->ascii && write_ascii(x, p, len, &len) < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(x->up.fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)w;
    }
    buf_clear(&x->fbuf);
    return 0;
}

/* In stream mode the end of an upload is the end of its data connection, and a client that
 * is killed closes that connection just as a finished one does. Its control connection
 * closes a moment later (the kernel sends the data connection's FIN first), while a client
 * that finished waits quietly for 226. So the upload settles briefly before it is committed:
 * a control connection that dies meanwhile leaves the data as a partial for resuming (the
 * session's close frees the transfer), and so does an ABOR (a client that stops an upload
 * may close its data connection first, or its ABOR may arrive after that close); anything
 * else commits it. */
#define UPLOAD_SETTLE_MS 3

static void upload_settled(xfer *x);

/* What an ALLO before the upload tells of its end: ALLO_NO_WORD without one (or in TYPE A,
 * whose count could be of either line ending's bytes; MODE Z knows its end by itself). The
 * count is of the bytes the data connection carries. After a REST or onto an APPE's file,
 * a client may have meant the whole file's size: only fewer bytes than either reading wants
 * prove a cut, and a count that fits neither settles as it would without ALLO. */
typedef enum { ALLO_NO_WORD, ALLO_WHOLE, ALLO_CUT } allo_verdict;

static allo_verdict allo_judge(const xfer *x)
{
    if (x->allo < 0 || x->ascii || x->zmode)
        return ALLO_NO_WORD;
    if (x->done == x->allo)
        return ALLO_WHOLE;
    if (x->done + (long long)x->offset < x->allo)
        return ALLO_CUT;
    return ALLO_NO_WORD;
}

static void upload_ended(xfer *x)
{
    (void)stream_shutdown(&x->data); /* TLS: answer the client's close_notify with ours */
    close_data(x);
    x->state = XS_UPLOAD_SETTLING;
    allo_verdict v = allo_judge(x);
    if (v == ALLO_WHOLE) {
        upload_settled(x); /* every byte announced came: no need to wait for more evidence */
        return;
    }
    if (v == ALLO_CUT) {
        /* The client's data stopped short of what it announced: killed, or its own source
         * failed. Kept for a resume, as a killed client's upload is. */
        char text[160];
        snprintf(text, sizeof text,
                 "Data connection closed after %lld of the %lld bytes announced by ALLO; "
                 "upload cut short, aborted.",
                 x->done, x->allo);
        xfer_finish(x, FTP_TRANSFER_ABORTED, text, true);
        return;
    }
    ev_timer_start(loop_of(x), &x->timer, UPLOAD_SETTLE_MS);
}

void xfer_upload_data_ended(xfer *x)
{
    /* Only a close_notify ends a TLS upload in stream mode; MODE Z's end marker and
     * checksum prove the data whole by themselves (upload_eof saw them). */
    if (!x->zmode && ftps_data_truncated(x)) {
        xfer_fail_network(x, x->data.last_errno);
        return;
    }
    if (x->ascii && x->cr_pending && write(x->up.fd, "\r", 1) != 1) {
        xfer_fail_local(x, errno);
        return;
    }
    upload_ended(x);
}

static void upload_settled(xfer *x)
{
    xfer_finish(x, FTP_TRANSFER_OK, "Transfer complete.", false);
}

/* Binary upload on a stream that can splice, on the loop: socket to file inside the kernel,
 * with no buffer in user space (300 uploads through fbuf held 75 MiB). */
static void pump_in_direct(xfer *x)
{
    size_t budget = XFER_WAKEUP_BUDGET;
    if (budget > xfer_rate_room(x))
        budget = xfer_rate_room(x);
    while (budget > 0) {
        bool file_err;
        ssize_t n = x->data.ops->recvfile(&x->data, x->up.fd, budget, &file_err);
        if (n > 0) {
            progress(x, (size_t)n);
            budget = budget > (size_t)n ? budget - (size_t)n : 0;
            continue;
        }
        if (n == 0) {
            upload_ended(x);
            return;
        }
        if (x->data.last_errno == EAGAIN)
            return;
        if (file_err)
            xfer_fail_local(x, x->data.last_errno);
        else
            xfer_fail_network(x, x->data.last_errno);
        return;
    }
}

static void pump(xfer *x);

/* A writer's move came back. The session outlives its jobs (s->jobs), the transfer may not. */
static void upload_moved(void *ctx, unsigned long seq, const upwrite_result *r)
{
    session *s = ctx;
    s->jobs--;
    if (s->orphan && s->orphan->seq == seq) {
        end_orphan(s, r->moved);
        return;
    }
    xfer *x = s->xfer;
    if (s->state == SESS_CLOSED || !x || x->seq != seq || !x->writing)
        return; /* the transfer ended meanwhile; the bytes are in its file all the same */
    x->writing = false;
    if (r->moved > 0)
        progress(x, r->moved);
    if (x->state == XS_UPLOAD_FLUSHING) {
        if (x->fin == XF_ABORT)
            xfer_abort(s);
        else
            xfer_finish(x, x->fin_code, x->fin_text, x->fin_keep);
        return;
    }
    if (r->err && r->file_err) {
        xfer_fail_local(x, r->err);
    } else if (r->err) {
        xfer_fail_network(x, r->err);
    } else if (r->eof) {
        upload_ended(x);
    } else if (r->moved == x->job_max) {
        /* more is likely waiting: the next move now, without asking epoll (or, when the move
         * spent the rate's tokens, the pause until the next) */
        pump(x);
    } else if (set_events(x, EV_READ) < 0) {
        xfer_fail_local(x, errno);
    }
}

/* Binary upload on a plain socket: an upload writer moves the bytes (socket -> pipe -> file,
 * inside the kernel) while the loop stops watching the socket; upload_moved resumes. */
static void pump_in_offload(xfer *x)
{
    if (x->writing)
        return;
    session *s = x->s;
    if (!x->lowat) {
        int lowat = XFER_WRITER_LOWAT;
        if (setsockopt(x->data.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) == 0) {
            x->lowat = true; /* without it each burst is just smaller */
            ev_timer_start(loop_of(x), &x->timer, XFER_LOWAT_POLL_MS);
        }
    }
    /* Held to a rate, a move takes only what the tokens allow: the writer would otherwise
     * read megabytes ahead of it, and the client's data would be in before its time. Such
     * uploads stay with the writers (rather than moving to the loop, pump_in_direct): the
     * server's CPU was the same either way in A/B runs (40 uploads at 4 MiB/s at once: 1.14-1.26
     * against 1.01-1.10 s; 150 at 512 KiB/s: 1.16-1.21 against 1.20-1.31 s), and a slow disk
     * then still holds up only its own uploads. */
    x->job_max = XFER_WRITER_MAX;
    if (x->job_max > xfer_rate_room(x))
        x->job_max = xfer_rate_room(x);
    if (upwriter_submit(s->srv->uw, x->data.fd, x->up.fd, x->job_max, upload_moved, s, x->seq) <
        0) {
        pump_in_direct(x); /* out of descriptors or memory: this turn runs on the loop */
        return;
    }
    x->writing = true;
    s->jobs++;
}

static void pump_in(xfer *x)
{
    if (x->zmode) {
        xfer_mz_pump_in(x);
        return;
    }
    if (!x->ascii && x->data.ops->recvfile) {
        if (x->s->srv->uw && x->done >= XFER_INLINE_UPLOAD)
            pump_in_offload(x);
        else
            pump_in_direct(x);
        return;
    }
    size_t budget = XFER_WAKEUP_BUDGET;
    bool capped = ratecap_on(&x->rate);
    if (capped && budget > xfer_rate_room(x))
        budget = xfer_rate_room(x);
    while (budget > 0) {
        size_t avail;
        char *tail = buf_tail(&x->fbuf, &avail);
        if (!tail) {
            xfer_fail_local(x, ENOMEM);
            return;
        }
        if (capped && avail > budget)
            avail = budget; /* TLS keeps the rest of a record for the next turn */
        ssize_t n = stream_read(&x->data, tail, avail);
        if (n > 0) {
            buf_commit(&x->fbuf, (size_t)n);
            progress(x, (size_t)n);
            budget = budget > (size_t)n ? budget - (size_t)n : 0;
            /* A TLS read returns one record (16 KiB): gather them, one file write a buffer. */
            if (budget > 0 && !buf_full(&x->fbuf))
                continue;
        }
        if (n < 0 && x->data.last_errno != EAGAIN) {
            if (xfer_drain_to_file(x) == 0)
                xfer_fail_network(x, x->data.last_errno);
            else
                xfer_fail_local(x, errno);
            return;
        }
        /* The file write is synchronous, so the buffer is empty after each turn. */
        if (xfer_drain_to_file(x) < 0) {
            xfer_fail_local(x, errno);
            return;
        }
        if (n == 0) {
            xfer_upload_data_ended(x);
            return;
        }
        if (n < 0)
            return; /* EAGAIN */
    }
}

/* --max-rate, or --anon-max-rate for an anonymous session when it is set. */
static unsigned long long rate_for(const session *s)
{
    const ftpd_config *cfg = s->srv->cfg;
    if ((s->flags & SF_ANONYMOUS) && cfg->anon_max_rate >= 0)
        return (unsigned long long)cfg->anon_max_rate;
    return cfg->max_rate;
}

static void begin_streaming(xfer *x)
{
    session *s = x->s;
    x->state = XS_RUNNING;
    x->counted = true;
    server_transfer_started(s->srv);
    x->started_ms = ev_now(loop_of(x));
    x->last_progress = x->started_ms;
    ratecap_init(&x->rate, rate_for(s), x->started_ms);
    if (x->kind != XK_STOR) /* what the client takes is looked at from now on */
        ev_timer_start(loop_of(x), &x->timer, XFER_TAKEN_POLL_MS);
    /* One turn sends a small file whole: it never keeps a reader waiting on another, so it
     * needs no place in line. Without a limit (the default) no download needs one. */
    if (x->kind == XK_RETR && s->srv->dl_slots.limit > 0 &&
        x->total - x->offset > XFER_WAKEUP_BUDGET && net_on_this_host(&s->peer, &s->local)) {
        x->slot_wanted = true;
        x->slot.owner = x;
        x->slot.last_progress = &x->last_progress;
    }
    if (x->kind != XK_RETR)
        x->expect = -1;
    else
        x->expect = x->ascii ? x->ascii_total : (long long)(x->total - x->offset);
    const char *mode = x->ascii ? "ASCII" : "BINARY";
    /* Clients read the size from the "(N bytes)" that ends a RETR's 150: keep it last. Those
     * that take it for the size to expect (lftp, wget) would be misled by the file's own in
     * TYPE A, so an ASCII download not counted has none. */
    const char *z = x->zmode ? ", MODE Z," : "";
    if (x->kind == XK_RETR && x->expect >= 0)
        session_reply(s, FTP_FILE_STATUS_OK,
                      "Opening %s mode data connection%s for %s (%lld bytes).", mode, z, x->vpath,
                      x->expect);
    else if (x->kind == XK_RETR)
        session_reply(s, FTP_FILE_STATUS_OK, "Opening %s mode data connection%s for %s.", mode, z,
                      x->vpath);
    else if (x->kind == XK_STOR && x->unique)
        /* Nothing may follow the name: clients take the rest of the line as the name. */
        session_reply(s, FTP_FILE_STATUS_OK, "FILE: %s", x->vpath);
    else if (x->kind == XK_STOR)
        session_reply(s, FTP_FILE_STATUS_OK, "Opening %s mode data connection%s for %s.", mode, z,
                      x->vpath);
    else
        session_reply(s, FTP_FILE_STATUS_OK, "Here comes the directory listing%s.",
                      x->zmode ? " (MODE Z)" : "");
    if (s->state == SESS_CLOSED || s->xfer != x)
        return;
    /* Under PROT P the data connection becomes TLS; clients start its handshake once they
     * have the 150 (RFC 4217), so it runs now, before any payload. */
    if (ftps_data_wrap(x) < 0) {
        xfer_finish(x, FTP_CANT_OPEN_DATA, "Can't open data connection: TLS unavailable.", false);
        return;
    }
    x->state = XS_TLS_HANDSHAKE;
    handshake_step(x);
}

/* One turn of moving data; then, unless the turn ended the transfer (x is then freed), the
 * fd's events follow what the transfer and the stream wait for, and bytes already decrypted
 * inside the stream are read before the loop sleeps. */
static void pump(xfer *x)
{
    session *s = x->s;
    unsigned long seq = x->seq;
    x->turn_iter = ev_iteration(loop_of(x));
    if (x->slot_wanted && !server_download_may_send(s->srv, &x->slot)) {
        if (x->slot_wait_start == 0) {
            x->slot_wait_start = ev_now(loop_of(x));
            x->slot_waits++;
        }
        if (set_events(x, 0) < 0) /* until xfer_slot_resume */
            xfer_fail_local(x, errno);
        return;
    }
    /* A turn needs a worthwhile chunk of the rate's tokens; a writer's move out took its
     * share when it went (pump_in_offload). */
    bool capped = ratecap_on(&x->rate) && !x->writing;
    if (capped) {
        ratecap_refill(&x->rate, ev_now(loop_of(x)));
        if (!ratecap_ready(&x->rate)) {
            rate_pause(x);
            return;
        }
        ev_timer_stop(loop_of(x), &x->pace); /* woken otherwise (a command, a drain turn) */
    }
    if (x->kind == XK_STOR)
        pump_in(x);
    else
        pump_out(x);
    if (s->xfer != x || s->xfer_seq != seq || x->state != XS_RUNNING)
        return;
    bool idle = x->zjob ? xfer_zjob_waiting(x) : x->ra.waiting || x->list_busy;
    if (idle) { /* no socket events until a worker resumes it */
        if (set_events(x, 0) < 0)
            xfer_fail_local(x, errno);
        return;
    }
    if (capped && !x->writing && !ratecap_ready(&x->rate)) {
        rate_pause(x); /* spent: no socket event until the tokens are back */
        return;
    }
    int base = x->kind != XK_STOR ? EV_WRITE : x->writing ? 0 : EV_READ;
    if (set_events(x, base | stream_want(&x->data)) < 0) {
        xfer_fail_local(x, errno);
        return;
    }
    if (x->kind == XK_STOR && (stream_pending(&x->data) > 0 || xfer_mz_backlog(x)))
        ev_timer_start(loop_of(x), &x->drain, 0);
}

/* The transfer spent its rate's tokens: it stops asking for socket events (a download would
 * wake for every writable moment, an upload for every byte that came) and a timer resumes
 * it when the tokens for its next move are there. Bytes TLS already decrypted wait too. */
static void rate_pause(xfer *x)
{
    if (set_events(x, 0) < 0) {
        xfer_fail_local(x, errno);
        return;
    }
    ev_timer_stop(loop_of(x), &x->drain);
    ev_timer_start(loop_of(x), &x->pace, ratecap_wait_ms(&x->rate));
}

static long pace_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    xfer *x = ud;
    if (x->state == XS_RUNNING)
        pump(x);
    return EV_TIMER_STOP;
}

static long drain_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    xfer *x = ud;
    if (x->state != XS_RUNNING)
        return EV_TIMER_STOP;
    /* The socket's readable event already gave the transfer its turn in this round (the timer,
     * armed by that turn, is due at once): the backlog waits for the next round. Else an
     * upload whose socket stays readable took two turns a round, its backlog's and its
     * socket's, to every other transfer's one. */
    if (x->turn_iter == ev_iteration(loop))
        return 0;
    pump(x);
    return EV_TIMER_STOP;
}

/* The data connection's own set-up (TLS handshake; nothing for a plain socket), then the
 * TLS policy check (session reuse), then the payload. */
static void handshake_step(xfer *x)
{
    if (stream_handshake(&x->data) < 0) {
        if (x->data.last_errno == EAGAIN) {
            if (set_events(x, stream_want(&x->data)) < 0)
                xfer_fail_local(x, errno);
            return;
        }
        char text[256];
        snprintf(text, sizeof text, "Data connection TLS handshake failed (%s).",
                 ftps_data_error(x));
        session_log(x->s, "%s", text);
        xfer_finish(x, FTP_TLS_DATA_REFUSED, text, false);
        return;
    }
    const char *refusal = ftps_data_check(x);
    if (refusal) {
        xfer_finish(x, FTP_TLS_DATA_REFUSED, refusal, false);
        return;
    }
    x->state = XS_RUNNING;
    x->last_progress = ev_now(loop_of(x));
    pump(x);
}

static void connected(xfer *x, int fd)
{
    x->data_fd = fd;
    stream_plain_init(&x->data, fd);
    x->state = XS_CONNECTED;
    if (x->kind != XK_NONE)
        begin_streaming(x);
}

/* An accept that failed for want of descriptors or memory leaves the connection queued and
 * the listener readable: watched still, it would wake the loop at once, again and again,
 * burning a CPU until a descriptor is free or the data timeout ends the wait. So the
 * listener rests a moment, as the control listeners do (server.c, accept_cb). */
#define XFER_ACCEPT_RETRY_MS 100

static long accept_retry_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    xfer *x = ud;
    (void)t;
    if (x->listen_fd >= 0 && ev_add(loop, x->listen_fd, EV_READ, listen_cb, x) < 0)
        return XFER_ACCEPT_RETRY_MS;
    return EV_TIMER_STOP;
}

static void listen_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    xfer *x = ud;
    struct sockaddr_storage peer;
    int cfd = net_accept(fd, &peer);
    if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* A transfer command waits for this connection, its file most likely holding
             * the descriptor the accept lacks: only another session's end would free one,
             * and its client should not wait the whole data timeout for a 425. */
            if (x->kind != XK_NONE) {
                session *s = x->s;
                char text[160];
                session_log(s, "cannot accept the data connection for %s: %s", xfer_verb(x),
                            strerror(errno));
                snprintf(text, sizeof text, "Can't open data connection: %s; try again later.",
                         strerror(errno));
                fail_before_data(x, text);
                session_resume(s);
                return;
            }
            if (!x->accept_starved)
                session_log(x->s, "cannot accept the data connection: %s; retrying every %d ms",
                            strerror(errno), XFER_ACCEPT_RETRY_MS);
            x->accept_starved = true;
            ev_del(loop, fd, EV_READ | EV_WRITE);
            ev_timer_start(loop, &x->accept_retry, XFER_ACCEPT_RETRY_MS);
        }
        return; /* else EAGAIN, or a connection that went away before accept */
    }
    if (!net_same_host(&peer, &x->s->peer)) {
        char who[NET_ADDR_STRLEN];
        session_log(x->s, "refused data connection from %s", net_addr_str(&peer, who, sizeof who));
        close(cfd);
        return;
    }
    ev_del(loop, fd, EV_READ | EV_WRITE);
    close(fd);
    x->listen_fd = -1;
    connected(x, cfd);
}

/* The data connection for a command never came: a connect to the client's PORT refused or
 * timed out (the classic active-mode failure behind a client's firewall), or no client on a
 * PASV port. Replies 425 with text and frees x; the transfer's line names the file and why,
 * as for a data connection whose TLS handshake fails, or the operator finds nothing in the
 * log but the login. */
static void fail_before_data(xfer *x, const char *text)
{
    session *s = x->s;
    if (x->kind != XK_NONE) {
        char why[300];
        snprintf(why, sizeof why, "%d %.290s", FTP_CANT_OPEN_DATA, text);
        log_transfer(x, false, why);
    }
    release(x, false);
    session_reply(s, FTP_CANT_OPEN_DATA, "%s", text);
}

static void connect_done(xfer *x)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(x->data_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    ev_del(loop_of(x), x->data_fd, EV_READ | EV_WRITE);
    /* Nothing listened at the PORT, and the data socket's own port was that one: the
     * connect met itself, and a download would go to no one and say 226. */
    bool itself = !err && net_connected_to_itself(x->data_fd);
    if (err || itself) {
        session *s = x->s;
        char text[256];
        if (itself)
            snprintf(text, sizeof text,
                     "Can't open data connection: nothing listens at that port (the "
                     "connection reached itself).");
        else
            snprintf(text, sizeof text, "Can't open data connection: %s.", strerror(err));
        fail_before_data(x, text);
        session_resume(s);
        return;
    }
    int fd = x->data_fd;
    x->data_fd = -1;
    connected(x, fd);
}

static void data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    xfer *x = ud;
    switch (x->state) {
    case XS_CONNECTING:
        connect_done(x);
        break;
    case XS_TLS_HANDSHAKE:
        handshake_step(x);
        break;
    case XS_RUNNING:
        /* A command's poll gave the upload its turn in this round already (xfer_poll_input):
         * the readable event, level-triggered, comes back in the next. */
        if (x->kind == XK_STOR && x->turn_iter == ev_iteration(loop))
            break;
        pump(x);
        break;
    case XS_SHUTDOWN:
        xfer_end_stream(x);
        break;
    default:
        break;
    }
}

void xfer_start(xfer *x)
{
    session *s = x->s;
    x->ascii = (s->flags & SF_ASCII) && (x->kind == XK_RETR || x->kind == XK_STOR);
    x->last_progress = ev_now(loop_of(x));
    if ((s->flags & SF_MODE_Z) && xfer_mz_begin(x, s->mz_level) < 0) {
        char text[160];
        snprintf(text, sizeof text, "Cannot start MODE Z: %s.", mz_error(&x->z));
        release(x, false);
        session_reply(s, FTP_LOCAL_ERROR, "%s", text);
        return;
    }
    switch (x->state) {
    case XS_PASV_LISTEN:
        break; /* streaming starts when the client connects */
    case XS_PORT_SET: {
        struct sockaddr_storage local = s->local;
        net_set_port(&local, 0);
        int fd = net_connect(&x->port_addr, &local);
        if (fd < 0) {
            char text[256];
            snprintf(text, sizeof text, "Can't open data connection: %s.", strerror(errno));
            fail_before_data(x, text);
            return;
        }
        x->data_fd = fd;
        x->state = XS_CONNECTING;
        if (ev_add(loop_of(x), fd, EV_WRITE, data_cb, x) < 0)
            fail_before_data(x, "Can't open data connection.");
        break;
    }
    case XS_CONNECTED:
        begin_streaming(x);
        break;
    default:
        break;
    }
}

void xfer_poll_input(xfer *x, bool abor)
{
    /* A whole turn (its events and any backlog follow it), unless the upload had its turn in
     * this round: a client that pipelines commands would otherwise give its upload one more
     * for each line, four a round (the session's turn), to every other transfer's one. What
     * came meanwhile is read in the next round. An ABOR takes it in at once, for the partial
     * it keeps, and ends the transfer. */
    if (x->state == XS_RUNNING && x->kind == XK_STOR) {
        if (abor || x->turn_iter != ev_iteration(loop_of(x)))
            pump(x);
    } else if (x->state == XS_UPLOAD_SETTLING && !abor)
        upload_settled(x); /* the control connection spoke: the client is alive */
}

void xfer_abort(session *s)
{
    xfer *x = s->xfer;
    if (!x || x->kind == XK_NONE) {
        if (x)
            release(x, false);
        /* An ABOR that stopped an upload still being prepared, or a transfer while it waited
         * behind other lines (xfer_cut), comes here once those are over, its 426 out: "no
         * transfer" would deny what it just did. */
        bool stopped = s->flags & SF_ABOR_DONE;
        s->flags &= ~SF_ABOR_DONE;
        session_reply(s, FTP_TRANSFER_OK, stopped ? "ABOR successful." : "No transfer to abort.");
        return;
    }
    /* A transfer started since an earlier cut: this ABOR is about that one. */
    s->flags &= ~SF_ABOR_DONE;
    if (x->writing) { /* the reply waits for the writer's move: see defer_end */
        defer_end(x, XF_ABORT, FTP_TRANSFER_ABORTED, "Transfer aborted.", true);
        return;
    }
    x->abor_ended = true;
    if (x->state == XS_RUNNING || x->state == XS_UPLOAD_SETTLING || x->state == XS_UPLOAD_FLUSHING)
        log_transfer(x, false, NULL);
    release(x, true);
    session_reply(s, FTP_TRANSFER_ABORTED, "Transfer aborted.");
    session_reply(s, FTP_TRANSFER_OK, "ABOR successful.");
    session_resume(s);
}

void xfer_cut(session *s)
{
    /* First what run_line does for an ABOR: the upload takes in what its data connection
     * holds. One whose data has all come is still cut, not committed (xfer_poll_input). */
    xfer_poll_input(s->xfer, true);
    xfer *x = s->xfer;
    if (!xfer_busy(x) || x->state == XS_UPLOAD_FLUSHING || x->state == XS_UPLOAD_COMMITTING)
        return; /* ended, or its end is settled and waits for a writer's move or its commit */
    s->flags |= SF_ABOR_DONE; /* the ABOR, still to run, did abort something */
    x->abor_ended = true;
    xfer_finish(x, FTP_TRANSFER_ABORTED, "Transfer aborted.", true);
}

/* The count is of file bytes, the queue's of compressed ones, and the codec's output also
 * waits in zbuf: the file bytes that reached the client are those the output that did carried,
 * read off the marks around it (xfer_zmark). Counting them all, STAT said 16 MiB to a client
 * holding 4 (3 MiB queued at 4:1); at the whole stream's ratio, 36 MiB to one holding 68 of a
 * file of zeros then noise. */
static long long zmode_delivered(const xfer *x, int queued)
{
    long long reached = x->wire - (queued > 0 ? queued : 0);
    if (reached <= 0)
        return 0;
    uint64_t at = (uint64_t)reached;
    if (at >= x->z_out) /* all of it, and the trailer mz_finish adds */
        return x->done;
    uint64_t lo_out = 0, hi_out = x->z_out;
    long long lo_done = 0, hi_done = x->done;
    unsigned n = x->zmarks_n < XFER_ZMARKS ? x->zmarks_n : XFER_ZMARKS;
    for (unsigned i = 0; i < n; i++) { /* newest first */
        const xfer_zmark *m = &x->zmarks[(x->zmarks_n - 1 - i) % XFER_ZMARKS];
        if (m->out <= at) {
            lo_out = m->out;
            lo_done = m->done;
            break;
        }
        hi_out = m->out;
        hi_done = m->done;
    }
    if (hi_out <= lo_out)
        return lo_done;
    return lo_done + (long long)((double)(hi_done - lo_done) * (double)(at - lo_out) /
                                 (double)(hi_out - lo_out));
}

long long xfer_delivered(const xfer *x)
{
    /* Under TLS the queue holds records' framing (a count a little low) and the library may
     * hold a record not yet written (a little high): close enough for progress. */
    bool sending = x->state == XS_RUNNING || x->state == XS_SHUTDOWN; /* the end still queued */
    if (x->kind == XK_STOR || !sending || x->data.fd < 0)
        return x->done;
    int queued = net_queued_bytes(x->data.fd);
    if (x->zmode)
        return zmode_delivered(x, queued);
    if (queued <= 0)
        return x->done;
    return x->done > queued ? x->done - queued : 0;
}

void xfer_status(const xfer *x, char *out, size_t out_size)
{
    double secs = (double)(ev_now(x->s->srv->loop) - x->started_ms) / 1000.0;
    /* A download's socket holds megabytes the client has not read: the count is of what
     * reached it, as the client's own progress bar counts. */
    long long done = xfer_delivered(x);
    /* In the unit that fits, as the log lines give it: "0.0 MiB/s" said nothing of a client
     * sending 30 KiB a second. */
    char rate[32];
    progress_rate_str(secs > 0 ? (double)done / secs : 0.0, rate, sizeof rate);
    const char *path = x->vpath ? x->vpath : "";
    /* As the transfer's log line says it: the command the client sent (APPE and STOU are not
     * STORs to it), and where a resumed one began, or its counts read as a file cut short. */
    char from[48];
    format_start(x, from, sizeof from);
    int n;
    if (x->expect >= 0)
        n = snprintf(out, out_size, "%s %s%s: %lld of %lld bytes (%d%%), %s", xfer_verb(x), path,
                     from, done, x->expect, x->expect > 0 ? (int)(done * 100 / x->expect) : 100,
                     rate);
    else
        n = snprintf(out, out_size, "%s %s%s: %lld bytes so far, %s", xfer_verb(x), path, from,
                     done, rate);
    if (x->zmode && n > 0 && (size_t)n < out_size)
        n += snprintf(out + n, out_size - (size_t)n, "; MODE Z, %lld bytes on the wire", x->wire);
    if (x->slot.state == DLS_WAITING && n > 0 && (size_t)n < out_size)
        n += snprintf(out + n, out_size - (size_t)n, "; waiting in line for a download slot");
    if (ratecap_on(&x->rate) && n > 0 && (size_t)n < out_size) {
        char r[24];
        snprintf(out + n, out_size - (size_t)n, "; held to %s",
                 progress_rate_str((double)x->rate.rate, r, sizeof r));
    }
}

static long xfer_timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    xfer *x = ud;
    session *s = x->s;
    if (x->state == XS_UPLOAD_SETTLING) {
        upload_settled(x);
        return EV_TIMER_STOP;
    }
    if (x->state == XS_RUNNING && x->slot.state == DLS_WAITING)
        x->last_progress = ev_now(loop); /* waiting in line is the server's doing */
    if (x->state == XS_RUNNING && ev_timer_active(&x->pace))
        x->last_progress = ev_now(loop); /* so is a pause for --max-rate */
    if (x->state == XS_RUNNING && (x->ra.waiting || x->list_busy || xfer_zjob_waiting(x)))
        x->last_progress = ev_now(loop); /* ...and a wait for the disk or deflate (xfer_io.h) */
    if (s->prepare && s->xfer == x) {
        /* The upload's copy of the existing file runs: the client waits for its 150, and
         * dropping the channel now would leave the APPE without any reply. */
        x->last_progress = ev_now(loop);
        return (long)s->srv->cfg->data_timeout * 1000;
    }
    if (x->state == XS_RUNNING && x->writing) {
        /* a writer moves this upload's bytes (or waits behind others, or for a slow disk):
         * the client is not idle */
        x->last_progress = ev_now(loop);
        return x->lowat ? XFER_LOWAT_POLL_MS : (long)s->srv->cfg->data_timeout * 1000;
    }
    int waiting = 0;
    if (x->state == XS_RUNNING && x->lowat && ioctl(x->data.fd, FIONREAD, &waiting) == 0 &&
        waiting > 0) {
        /* a slow client's bytes, held back by the low-water mark: move them now */
        unsigned long seq = x->seq;
        pump(x);
        return s->xfer == x && s->xfer_seq == seq ? XFER_LOWAT_POLL_MS : EV_TIMER_STOP;
    }
    if (x->state == XS_RUNNING && x->tail_unsent > 0) {
        int unsent = net_unsent_bytes(x->data.fd);
        if (unsent >= 0)
            tail_progress(x, unsent);
    }
    bool download = x->state == XS_RUNNING && x->kind != XK_STOR;
    if (download) {
        int queued = net_queued_bytes(x->data.fd);
        long long taken = queued >= 0 ? x->done - queued : x->taken;
        if (taken > x->taken) {
            x->taken = taken;
            x->last_progress = ev_now(loop);
        }
    }
    long long limit = (long long)s->srv->cfg->data_timeout * 1000;
    long long idle = ev_now(loop) - x->last_progress;
    if (idle < limit) {
        long long next = limit - idle;
        if (x->lowat && next > XFER_LOWAT_POLL_MS)
            next = XFER_LOWAT_POLL_MS;
        if (download && next > XFER_TAKEN_POLL_MS)
            next = XFER_TAKEN_POLL_MS;
        return (long)next;
    }
    session_log(s, "data connection timeout");
    if (x->state == XS_RUNNING) {
        xfer_finish(x, FTP_TRANSFER_ABORTED, "Data connection timed out; transfer aborted.", true);
    } else if (x->state == XS_TLS_HANDSHAKE) {
        /* Its 150 is out, as for a handshake that fails: it ends as that one does, with
         * the transfer's log line naming the file and the cause. */
        xfer_finish(x, FTP_CANT_OPEN_DATA,
                    "Can't open data connection: its TLS handshake timed out.", false);
    } else if (x->kind != XK_NONE) {
        fail_before_data(x, "Can't open data connection: timed out.");
        session_resume(s);
    } else {
        release(x, false); /* an unused PASV or PORT: drop it quietly */
    }
    return EV_TIMER_STOP;
}
