/* Segmented downloads: one range per control connection, written in place. */
#include "segget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bars.h"
#include "dchan.h"
#include "overlap.h"
#include "partlock.h"
#include "partname.h"
#include "segstate.h"
#include "verify.h"
#include "xfer.h"

#define SEG_BUF_SIZE (1024 * 1024)
/* Each range after the first starts FTPC_OVERLAP bytes early (overlap.h), and the bytes it
 * gets there must be the ones its neighbour wrote: a server that answers REST with 350 but
 * sends from the start of the file anyway would otherwise leave a scrambled file that passes
 * the size check. */
#define SEG_CHUNKS_PER_WAKEUP 8
/* After a range's ABOR, the bytes read and dropped, and the time waited, before the data
 * connection is closed regardless. ftpd stops at once and its 426 closes the range's data
 * side earlier; vsftpd and pure-ftpd do not act on an ABOR until the file is sent, and
 * reading it all would send most of the file again for each range. The bytes alone are no
 * bound for a server that does act: socket buffers can hold tens of MiB (tcp_rmem allows
 * 32 MiB on CI's machines), so the client could drain 4 MiB before the server's next turn
 * had read the ABOR, and the close then reached it as a reset (a failed transfer in its
 * log, not an aborted one). */
#define SEG_ABOR_DRAIN_MAX (4 * 1024 * 1024)
#define SEG_ABOR_GRACE_MS 100
/* How often the status file is brought up to date while ranges arrive: a killed ftpc loses
 * at most this much of each range's progress. */
#define SEG_SAVE_EVERY_MS 1000

typedef enum {
    SS_WAIT, /* for the connection */
    SS_DATA, /* data connection being prepared */
    SS_REST, /* REST sent */
    SS_RETR, /* RETR sent; receiving */
    SS_DONE, /* the range is in and the server answered */
} seg_state;

typedef struct seg {
    ftpc_segget *g;
    ftpc_conn *c; /* the operation's connection for segment 0, an own one for the others */
    seg_state state;
    uint64_t start, end, pos;
    uint64_t rest_at; /* where this attempt's data begins: start, or what an earlier one left */
    ftpc_dchan dc;    /* the data connection (plain or TLS) */
    bool data_done, ctrl_done;
    bool cut; /* the client closed the data connection once the range was in */
    /* The data connection ended before the range was in: the server's reply (or its loss)
     * tells a file that changed from a transfer cut off. */
    bool data_short;
    /* ... after ABOR, which ends the server's transfer as the client's (a close with bytes
     * unread resets the connection, which the server logs as a failed transfer): the rest of
     * the stream is read and dropped until the server closes it; two final replies follow */
    bool aborting;
    int finals;
    uint64_t drained;  /* bytes read and dropped since the ABOR */
    long long abor_ms; /* when the ABOR went */
    int prelims;       /* 1xx replies to its RETR */
    /* The data connection failed before the server said a word of the RETR (ProFTPD resets
     * it when it refuses a restart): its reply says why. */
    bool data_refused;
    char data_why[200];
    bool orphan;      /* its connection was refused: another connection takes the range over */
    ftpc_rcheck *chk; /* --verify: the range's digest, computed as it arrives */
    bool checking;    /* the range's HASH check has run (or runs) */
    ftpc_overlap ovl; /* the bytes before rest_at, as this range's connection sent them */
} seg;

struct ftpc_segget {
    ftpc_ctx *ctx;
    ftpc_task *t;
    int nseg_req;
    ftpc_op_done_cb done;
    void *done_ud;
    ftpc_conn *c; /* from the runner; freed by it */
    bool c_dead;
    bool sizing; /* SIZE sent on c */
    bool dating; /* then MDTM */
    bool resume; /* -c, or a retry after an attempt that kept its ranges */
    int64_t size;
    char mdtm[32]; /* the server's MDTM answer, "" without one: part of the file's identity */
    int n, ncomplete;
    seg segs[FTPC_SEGMENTS_MAX];
    int fd;
    bool created; /* path exists and is ours */
    char path[PATH_MAX];
    char state_path[PATH_MAX + 16];
    long long saved_ms; /* when the status file was last written */
    bool state_saved;   /* ... by this attempt, or loaded: it fits the file, if a little behind */
    bool unresumable;   /* the server refused REST: ranges cannot be resumed from it either */
    bool placing;       /* all in: the file goes in place, or is not kept at all */
    char *buf;
    ftpc_bar *bar;
    ftpc_xfer *x; /* the ordinary transfer when not segmenting */
    ftpc_defer defer;
    bool finished;
    int nverified; /* ranges whose HASH matched */
    digest_algo valgo;
};

static const ftpc_conn_owner main_owner;
static const ftpc_conn_owner seg_owner;
static void fail(ftpc_segget *g, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int ftpc_segget_count(int64_t size, int nseg)
{
    if (size < 0 || nseg < 2)
        return 1;
    if (nseg > FTPC_SEGMENTS_MAX)
        nseg = FTPC_SEGMENTS_MAX;
    int64_t fit = size / FTPC_SEGMENT_MIN;
    if (fit < nseg)
        nseg = (int)fit;
    return nseg < 1 ? 1 : nseg;
}

static const char *bar_name(const ftpc_task *t)
{
    return ftpc_task_name(t);
}

static void seg_close_data(ftpc_segget *g, seg *s)
{
    ftpc_dchan_close(&s->dc);
}

/* Writes the status file from the ranges' progress: bytes pwrite took, in the page cache, as
 * a .ftpc-part's length counts them, which an ftpc killed or interrupted cannot lose. Syncing
 * them first stalled the loop once a second and halved the rate: 1 GiB in 4 ranges onto ext4
 * took 2.6-3.8 s instead of 1.4-1.5 s. After a crash of the system, the HASH check (the
 * default where the server has it) catches bytes that never reached the disk.
 * Returns -1 (errno) on failure. */
static int save_state(ftpc_segget *g)
{
    ftpc_segstate *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return -1;
    ftpc_segstate_set_url(st, g->t->display);
    st->size = g->size;
    snprintf(st->mdtm, sizeof(st->mdtm), "%s", g->mdtm);
    st->n = g->n;
    for (int i = 0; i < g->n; i++)
        st->r[i] = (ftpc_segrange){g->segs[i].start, g->segs[i].end, g->segs[i].pos};
    int rc = ftpc_segstate_save(g->state_path, st);
    if (rc < 0 && (errno == ENOSPC || errno == EDQUOT) && g->state_saved)
        rc = ftpc_segstate_overwrite(g->state_path, st);
    free(st);
    g->saved_ms = ev_now(g->ctx->loop);
    if (rc == 0)
        g->state_saved = true;
    return rc;
}

static bool any_written(const ftpc_segget *g)
{
    for (int i = 0; i < g->n; i++)
        if (g->segs[i].pos > g->segs[i].start)
            return true;
    return false;
}

/* Closes every socket and file of the segmented attempt. An unfinished file is kept with its
 * status file when keep_file and some bytes are in (a rerun with -c, or a retry, resumes
 * it), else removed. */
static void release(ftpc_segget *g, bool keep_file)
{
    for (int i = 0; i < g->n; i++) {
        seg *s = &g->segs[i];
        seg_close_data(g, s);
        ftpc_rcheck_free(s->chk);
        s->chk = NULL;
        if (s->c != NULL) {
            if (s->c == g->c)
                ftpc_conn_close_data(s->c);
            else
                ftpc_conn_free(s->c);
            s->c = NULL;
        }
    }
    if (g->created && keep_file && !g->placing && g->fd >= 0 && any_written(g)) {
        /* A full disk refuses the last status too, but one this attempt wrote before still
         * fits the file: its ranges end at bytes that are in, and a rerun fetches the rest. */
        if (save_state(g) == 0 || g->state_saved)
            g->t->seg_kept = true;
        else
            keep_file = false; /* without its status the file is of no use */
    } else {
        keep_file = false;
    }
    /* removed under its lock (partlock.h) */
    if (g->created && !keep_file) {
        unlink(g->path);
        unlink(g->state_path);
        g->t->seg_kept = false;
    }
    if (g->fd >= 0) {
        close(g->fd);
        g->fd = -1;
    }
    g->created = false;
    if (g->bar != NULL) {
        ftpc_bar_done(g->bar, false);
        g->bar = NULL;
    }
}

static void finish(ftpc_segget *g, int status, bool reusable)
{
    if (g->finished)
        return;
    g->finished = true;
    /* Bytes that may be wrong (the file changed, a server that ignores REST) are not kept. */
    release(g, status != FTPC_OK && status != FTPC_EXIT_VERIFY && !g->unresumable);
    ftpc_task_set_status(g->t, status);
    reusable = reusable && !g->c_dead && ftpc_conn_is_ready(g->c);
    g->done(g->done_ud, status, reusable);
}

__attribute__((format(printf, 3, 4))) static void fail(ftpc_segget *g, int status, const char *fmt,
                                                       ...)
{
    char what[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ftpc_task_fail(g->t, status, "downloading %s: %s", g->t->display, what);
    finish(g, status, false);
}

/* ---- the ordinary transfer ---- */

static void fallback_done(void *ud, int status, bool reusable)
{
    ftpc_segget *g = ud;
    g->finished = true;
    g->done(g->done_ud, status, reusable);
}

static void fallback(ftpc_segget *g)
{
    g->x = ftpc_xfer_new(g->ctx, g->t, fallback_done, g);
    if (g->x == NULL) {
        fail(g, FTPC_EXIT_LOCAL, "out of memory");
        return;
    }
    ftpc_xfer_start(g->x, g->c);
}

/* ---- one range ---- */

static void update_bar(ftpc_segget *g)
{
    if (g->bar == NULL)
        return;
    uint64_t sum = 0;
    for (int i = 0; i < g->n; i++)
        sum += g->segs[i].pos - g->segs[i].start;
    ftpc_bar_update(g->bar, sum);
}

/* True when every range's early bytes agree with what the range before it wrote. */
static bool overlaps_agree(ftpc_segget *g)
{
    for (int i = 0; i < g->n; i++)
        if (!ftpc_overlap_agrees(&g->segs[i].ovl, g->fd, g->segs[i].rest_at))
            return false;
    return true;
}

static void complete(ftpc_segget *g)
{
    struct stat st;
    if (fstat(g->fd, &st) < 0 || (int64_t)st.st_size != g->size) {
        fail(g, FTPC_EXIT_VERIFY, "size mismatch: %s has %lld bytes, the server said %" PRId64,
             g->path, (long long)st.st_size, g->size);
        return;
    }
    if (!overlaps_agree(g)) {
        fail(g, FTPC_EXIT_VERIFY,
             "the segments do not fit together: the server did not send from the offsets "
             "REST asked for (or the file changed); %s is left as it was (try without "
             "--segments)",
             g->t->local);
        return;
    }
    g->placing = true;
    if (ftpc_partlock_flush(g->fd) < 0) {
        fail(g, FTPC_EXIT_LOCAL, "writing %s: %s", g->path, strerror(errno));
        return;
    }
    /* Only a regular file, a symbolic link (itself, as an ordinary download replaces it: the
     * file it points to is left alone) or nothing is replaced. */
    bool replaces = lstat(g->t->local, &st) == 0;
    if (replaces && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        fail(g, FTPC_EXIT_LOCAL, "%s is not a regular file; not replaced", g->t->local);
        return;
    }
    /* A file it would replace stays until the check of the whole file that follows (ranges
     * not all checked) matches: the download waits in the part file, as an ordinary one does,
     * and jobs.c moves it in place. An ordinary part file of an earlier attempt is stale. */
    char part[PATH_MAX];
    bool have_part = ftpc_part_name(g->t->local, part, sizeof(part)) == 0;
    g->t->rename_pending = replaces && have_part && !(g->n > 1 && g->nverified == g->n) &&
                           ftpc_verify_wanted(g->ctx, g->t);
    const char *dest = g->t->rename_pending ? part : g->t->local;
    /* else at the rename into place, after the check (jobs.c) */
    int prior = g->t->rename_pending ? -1 : ftpc_xfer_keep_mode(g->fd, g->t->local);
    /* renamed under its lock (partlock.h), released after */
    int rc = rename(g->path, dest);
    if (rc < 0) {
        int e = errno;
        ftpc_xfer_undo_mode(g->fd, prior);
        g->t->rename_pending = false;
        fail(g, FTPC_EXIT_LOCAL, "renaming %s to %s: %s", g->path, dest, strerror(e));
        return;
    }
    if (g->t->rename_pending)
        ftpc_task_hold_part(g->t, g->fd);
    else
        close(g->fd);
    g->fd = -1;
    g->created = false;
    unlink(g->state_path);
    g->t->seg_kept = false;
    if (!g->t->rename_pending && have_part && lstat(part, &st) == 0 && S_ISREG(st.st_mode))
        unlink(part);
    g->t->bytes = (uint64_t)g->size;
    if (g->bar != NULL) {
        ftpc_bar_update(g->bar, (uint64_t)g->size);
        ftpc_task_end_bar(g->t, g->bar);
        g->bar = NULL;
    }
    finish(g, FTPC_OK, true);
}

/* Ranges whose connection was refused (a server's per-address limit) go to connections whose
 * range is done. Fails the download when an orphan is left and nothing is running that could
 * take it later. */
static void adopt(ftpc_segget *g)
{
    for (int i = 0; i < g->n; i++) {
        seg *o = &g->segs[i];
        if (!o->orphan)
            continue;
        for (int k = 0; k < g->n; k++) {
            seg *d = &g->segs[k];
            if (d->state != SS_DONE || d->c == NULL || !ftpc_conn_is_ready(d->c) ||
                (d->c == g->c && g->c_dead))
                continue;
            o->orphan = false;
            o->c = d->c;
            d->c = NULL;
            o->state = SS_WAIT;
            ftpc_conn_set_owner(o->c, &seg_owner, o);
            break;
        }
    }
    bool orphans = false, running = false;
    for (int i = 0; i < g->n; i++) {
        orphans |= g->segs[i].orphan;
        running |= !g->segs[i].orphan && g->segs[i].state != SS_DONE;
    }
    if (orphans && !running)
        fail(g, FTPC_EXIT_CONNECT, "no connection left for the remaining segments");
}

static void seg_check(seg *s);

static void seg_verified(void *ud, const ftpc_vresult *r)
{
    seg *s = ud;
    ftpc_segget *g = s->g;
    if (g->finished)
        return;
    ftpc_conn_set_owner(s->c, &seg_owner, s);
    switch (r->state) {
    case FTPC_V_VERIFIED:
        g->nverified++;
        g->valgo = r->algo;
        break;
    case FTPC_V_MISMATCH:
    case FTPC_V_ERROR:
        fail(g, r->err.status, "%s", r->err.msg);
        return;
    default:
        break; /* no ranges here: the whole file is checked once it is in place */
    }
    seg_check(s);
}

/* --verify: a range counts once the server's HASH over it (RANG) matches what arrived. Returns
 * true while that check runs on the range's connection. */
static bool seg_verify(seg *s)
{
    ftpc_segget *g = s->g;
    if (s->chk == NULL || s->checking || s->c == NULL || (s->c == g->c && g->c_dead))
        return false;
    s->checking = true;
    ftpc_rcheck_run(s->chk, s->c, seg_verified, s);
    return true;
}

static void seg_check(seg *s)
{
    ftpc_segget *g = s->g;
    if (!s->data_done || !s->ctrl_done || s->state == SS_DONE)
        return;
    if (seg_verify(s))
        return;
    s->state = SS_DONE;
    if (++g->ncomplete == g->n) {
        complete(g);
        return;
    }
    adopt(g);
    if (s->c != NULL && s->c != g->c) {
        ftpc_conn_quit(s->c);
        s->c = NULL;
    }
}

static int pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            off += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* A range that came short, though the server called its transfer complete: the file shrank
 * or was replaced while the ranges were read. */
static void fail_short(seg *s)
{
    fail(s->g, FTPC_EXIT_VERIFY,
         "the data ended at %" PRIu64 " bytes, short of %" PRIu64
         " (the file changed on the server?)",
         s->pos, s->end);
}

/* A range sent REST and RETR, and nothing of it has come yet, not even a 1xx. */
static bool restarted_unanswered(const seg *s)
{
    return s->rest_at > 0 && s->prelims == 0 && s->ovl.got == 0 && s->pos == s->rest_at &&
           !s->data_done;
}

/* A final reply to a RETR after REST that refuses the restart: a 5xx, or a 451 that says so
 * (ProFTPD: "451 NAME: Restart not permitted, try again"). */
static bool restart_refused(const ftp_reply_msg *m, const char *remote)
{
    return (m->code >= 500 && m->code != 530) ||
           (m->code == 451 && ftpc_reply_refuses_restart(m->text, remote));
}

static void seg_data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    seg *s = ud;
    ftpc_segget *g = s->g;
    if (!s->dc.hs_done) {
        char why[400];
        int r = ftpc_dchan_handshake(&s->dc, why, sizeof(why));
        if (r < 0) {
            fail(g, FTPC_EXIT_XFER, "data connection: TLS: %s", why);
            return;
        }
        ftpc_dchan_watch(&s->dc, r > 0 ? EV_READ : 0, seg_data_cb, s);
        if (r == 0)
            return;
    }
    if (s->aborting) {
        for (int i = 0; i < SEG_CHUNKS_PER_WAKEUP; i++) {
            ssize_t n = stream_read(s->dc.s, g->buf, SEG_BUF_SIZE);
            if (n > 0 && ((s->drained += (uint64_t)n) < SEG_ABOR_DRAIN_MAX ||
                          ev_now(loop) - s->abor_ms < SEG_ABOR_GRACE_MS))
                continue;
            if (n > 0) { /* a server that sends on regardless: the close ends its transfer */
                seg_close_data(g, s);
                return;
            }
            if (n < 0 && s->dc.s->last_errno == EINTR)
                continue;
            if (n < 0 && s->dc.s->last_errno == EAGAIN) {
                ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
                return;
            }
            seg_close_data(g, s); /* the server's end (a reset too: the range is in) */
            return;
        }
        ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
        return;
    }
    /* No read is ever smaller than a TLS record unless it takes the range's last bytes, so
     * TLS never holds decrypted bytes after this loop that no event would announce. */
    for (int i = 0; i < SEG_CHUNKS_PER_WAKEUP && ftpc_dchan_is_open(&s->dc); i++) {
        uint64_t left = s->end - s->pos;
        size_t want = left < SEG_BUF_SIZE ? (size_t)left : SEG_BUF_SIZE;
        bool early = ftpc_overlap_pending(&s->ovl);
        if (early)
            want = s->ovl.len - s->ovl.got;
        ssize_t n =
            want > 0 ? stream_read(s->dc.s, early ? s->ovl.buf + s->ovl.got : g->buf, want) : 0;
        if (n < 0)
            errno = s->dc.s->last_errno;
        if (n > 0 && early) {
            s->ovl.got += (size_t)n;
            if (s->c != NULL)
                ftpc_conn_touch(s->c);
            continue;
        }
        if (n > 0) {
            if (pwrite_all(g->fd, g->buf, (size_t)n, s->pos) < 0) {
                fail(g, FTPC_EXIT_LOCAL, "writing %s: %s", g->path, strerror(errno));
                return;
            }
            ftpc_rcheck_feed(s->chk, g->buf, (size_t)n);
            s->pos += (uint64_t)n;
            update_bar(g);
            if (ev_now(loop) - g->saved_ms >= SEG_SAVE_EVERY_MS)
                (void)save_state(g); /* a failure costs only a rerun's head start */
            if (s->c != NULL)
                ftpc_conn_touch(s->c);
            if (s->pos < s->end)
                continue;
        } else if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
                return;
            }
            const char *why = ftpc_dchan_error(&s->dc);
            if (s->state == SS_RETR && restarted_unanswered(s)) {
                snprintf(s->data_why, sizeof(s->data_why), "%s", why ? why : strerror(errno));
                s->data_refused = true;
                seg_close_data(g, s);
                return;
            }
            fail(g, FTPC_EXIT_XFER, "data connection: %s", why ? why : strerror(errno));
            return;
        }
        /* The range is in (the server's stream goes on: ABOR, or closing, ends it), or EOF. */
        s->cut = !(n == 0 && want > 0);
        if (s->cut && s->c != NULL && ftpc_conn_abort(s->c) == 0) {
            s->aborting = true;
            s->drained = 0;
            s->abor_ms = ev_now(loop);
            ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
        } else {
            seg_close_data(g, s);
        }
        s->data_done = true;
        if (s->pos != s->end) {
            s->data_short = true;
            if (s->ctrl_done) /* the server had called it complete */
                fail_short(s);
            return;
        }
        seg_check(s);
        return;
    }
    /* The cap was reached with data still coming (the first round runs before any
     * registration). */
    ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
}

static void seg_attach(seg *s, int fd)
{
    char why[400];
    if (ftpc_dchan_open(&s->dc, s->c, fd, why, sizeof(why)) < 0) {
        fail(s->g, FTPC_EXIT_XFER, "data connection: %s", why);
        return;
    }
    /* Starts the TLS handshake, if any, and registers for what it or the data needs. */
    seg_data_cb(s->g->ctx->loop, s->dc.s->fd, 0, s);
}

static void seg_retr(seg *s)
{
    ftpc_segget *g = s->g;
    if (ftpc_conn_send(s->c, "RETR %s", g->t->remote) < 0) {
        fail(g, FTPC_EXIT_XFER, "cannot send RETR");
        return;
    }
    s->state = SS_RETR;
    int fd = ftpc_conn_take_data(s->c);
    if (fd >= 0)
        seg_attach(s, fd);
}

static void seg_ready(ftpc_conn *c, void *ud)
{
    seg *s = ud;
    if (s->state != SS_WAIT || s->g->finished)
        return;
    s->state = SS_DATA;
    ftpc_conn_open_data(c);
}

static void seg_data_prepared(ftpc_conn *c, void *ud)
{
    seg *s = ud;
    if (s->state != SS_DATA || s->g->finished)
        return;
    if (s->rest_at > 0) {
        s->state = SS_REST;
        ftpc_conn_cmd(c, "REST %" PRIu64, s->rest_at - s->ovl.len);
        return;
    }
    seg_retr(s);
}

static void seg_data_open(ftpc_conn *c, int fd, void *ud)
{
    seg *s = ud;
    if (s->g->finished || ftpc_dchan_is_open(&s->dc) || s->data_done) {
        close(fd);
        return;
    }
    seg_attach(s, fd);
}

static void seg_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    seg *s = ud;
    ftpc_segget *g = s->g;
    char q[600];
    if (g->finished)
        return;
    if (m->code < 200) {
        /* pure-ftpd answers a data connection the client closed with one more 1xx (its
         * figures for the transfer) and then nothing: that is the range's end. */
        if (s->state == SS_RETR && ++s->prelims > 1 && s->cut && s->data_done) {
            if (s->aborting && s->finals == 0) { /* the transfer's end: ABOR's reply is next */
                s->finals = 1;
                ftpc_conn_abort_transfer_ended(c);
                return;
            }
            ftpc_conn_settle(c);
            s->ctrl_done = true;
            seg_check(s);
        }
        return;
    }
    switch (s->state) {
    case SS_REST:
        if (m->code >= 500) {
            /* FEAT said REST STREAM, but not for this: the kept ranges would only make -c
             * fail the same way. */
            g->unresumable = true;
            fail(g, ftpc_status_for_reply(m->code),
                 "REST %" PRIu64 ": the server replied %s: it does not send a file from an "
                 "offset, so the file cannot be split into ranges (download it without "
                 "--segments)",
                 s->rest_at - s->ovl.len, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        if (m->code != 350) {
            fail(g, ftpc_status_for_reply(m->code), "REST %" PRIu64 ": the server replied %s",
                 s->rest_at - s->ovl.len, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        seg_retr(s);
        return;
    case SS_RETR:
        if (s->aborting && ++s->finals == 1) {
            seg_close_data(g, s); /* the transfer has ended: what is still coming is moot */
            return;               /* ABOR's reply follows */
        }
        s->ctrl_done = true;
        if (s->data_short && m->code >= 300) { /* a transfer cut off, as the server says */
            fail(g, ftpc_status_for_reply(m->code),
                 "RETR: the data ended at %" PRIu64 " bytes, short of %" PRIu64
                 ", and the server replied %s",
                 s->pos, s->end, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        if (s->data_short) {
            fail_short(s);
            return;
        }
        if (restarted_unanswered(s) && restart_refused(m, g->t->remote)) {
            /* REST accepted, the RETR after it refused for the restart (ProFTPD's
             * AllowRetrieveRestart off): as for a REST refused, nothing to keep for -c. */
            g->unresumable = true;
            fail(g, FTPC_EXIT_REMOTE, /* not a passing error (451): no use retrying */
                 "RETR after REST %" PRIu64 ": the server replied %s: it does not send a file "
                 "from an offset, so the file cannot be split into ranges (download it "
                 "without --segments)",
                 s->rest_at - s->ovl.len, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        if (s->data_refused) {
            fail(g, m->code >= 400 ? ftpc_status_for_reply(m->code) : FTPC_EXIT_XFER,
                 "RETR: the server replied %s (data connection: %s)",
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)), s->data_why);
            return;
        }
        /* After the client closed the data connection a 426 is expected: the range is in. */
        if (m->code >= 300 && !s->data_done) {
            fail(g, ftpc_status_for_reply(m->code), "RETR: the server replied %s",
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        seg_check(s);
        return;
    default:
        fail(g, FTPC_EXIT_XFER, "unexpected reply %03d", m->code);
        return;
    }
}

static void seg_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    seg *s = ud;
    ftpc_segget *g = s->g;
    if (c == g->c)
        g->c_dead = true;
    if (s->state == SS_DONE || g->finished)
        return; /* an idle connection closed after its range was in */
    if (s->state == SS_RETR && s->data_done && s->cut) {
        /* The range is in, and the server never answered the close of its data connection
         * (or hung up instead): the connection is lost, not the range. */
        if (c != g->c) {
            ftpc_conn_free(c);
            s->c = NULL;
        }
        s->ctrl_done = true;
        seg_check(s);
        return;
    }
    if (c != g->c && s->state == SS_WAIT && s->pos == s->rest_at &&
        err->status == FTPC_EXIT_CONNECT) {
        /* Never logged in (refused, or 421 at the greeting): leave the range to another
         * connection. There is always one: g->c never gets here in SS_WAIT. */
        ftpc_conn_note_limit(c); /* the next file asks for no more than got in */
        ftpc_conn_free(c);
        s->c = NULL;
        s->orphan = true;
        adopt(g);
        return;
    }
    int status = err->status;
    if (s->state >= SS_DATA && status == FTPC_EXIT_CONNECT)
        status = FTPC_EXIT_XFER;
    /* As xfer.c's conn_failed: the wait was for the data connection's handshake. */
    if (ftpc_conn_timed_out(c) &&
        ftpc_dchan_hs_stalled(&s->dc, s->prelims > 0 || g->ctx->opts->active)) {
        char why[96];
        fail(g, status, "%s",
             ftpc_dchan_hs_timeout_msg(g->ctx->opts->timeout_ms, why, sizeof(why)));
        return;
    }
    fail(g, status, "%s", err->msg);
}

static const ftpc_conn_owner seg_owner = {
    .ready = seg_ready,
    .reply = seg_reply,
    .data_prepared = seg_data_prepared,
    .data_open = seg_data_open,
    .failed = seg_failed,
};

/* ---- the start: SIZE, then the ranges ---- */

/* ".NAME.ftpc-part" -> ".NAME.ftpc-seg": a file with holes is never taken for a prefix to
 * continue by an ordinary resume. */
int ftpc_segget_file_name(const char *local, char *out, size_t out_size)
{
    if (ftpc_part_name(local, out, out_size) < 0)
        return -1;
    size_t stem = strlen(out) - strlen(FTPC_PART_SUFFIX);
    if (stem + sizeof(FTPC_SEG_SUFFIX) > out_size)
        return -1;
    memcpy(out + stem, FTPC_SEG_SUFFIX, sizeof(FTPC_SEG_SUFFIX));
    return 0;
}

void ftpc_segget_drop_stale(const char *local)
{
    char path[PATH_MAX];
    struct stat st;
    if (ftpc_segget_file_name(local, path, sizeof(path)) < 0)
        return;
    /* Another ftpc fetching the same file segmented holds its lock: not stale, but its. */
    int fd = -1;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        if (ftpc_partlock_open(path, O_RDONLY | O_NOFOLLOW, false, &fd, NULL) != FTPC_PARTLOCK_OK)
            return;
        unlink(path);
    }
    char state[PATH_MAX + 16];
    if (ftpc_segstate_name(path, state, sizeof(state)) == 0 && lstat(state, &st) == 0 &&
        S_ISREG(st.st_mode))
        unlink(state);
    if (fd >= 0)
        close(fd);
}

int ftpc_segget_kept_ranges(const char *local)
{
    char path[PATH_MAX], state[PATH_MAX + 16], why[200];
    if (ftpc_segget_file_name(local, path, sizeof(path)) < 0 ||
        ftpc_segstate_name(path, state, sizeof(state)) < 0)
        return 0;
    ftpc_segstate *st = malloc(sizeof(*st));
    if (st == NULL)
        return 0;
    int n = ftpc_segstate_load(state, st, why, sizeof(why)) == 0 ? st->n : 0;
    free(st);
    return n;
}

/* The status an earlier attempt left, when it is of this remote file and fits the file
 * beside it; else NULL, and a message says why it is not used when there was one. */
static ftpc_segstate *load_state(ftpc_segget *g, bool seg_existed)
{
    ftpc_segstate *st = malloc(sizeof(*st));
    ftpc_segstate *want = calloc(1, sizeof(*want));
    char reason[200] = "", why[PATH_MAX + 600] = "";
    struct stat seg_st;
    bool have_seg = seg_existed && lstat(g->path, &seg_st) == 0;
    int rc = st != NULL && want != NULL
                 ? ftpc_segstate_load(g->state_path, st, reason, sizeof(reason))
                 : -1;
    if (rc == 0) {
        ftpc_segstate_set_url(want, g->t->display);
        uint64_t written = 0;
        for (int i = 0; i < st->n; i++)
            if (st->r[i].pos > st->r[i].start && st->r[i].pos > written)
                written = st->r[i].pos;
        if (strcmp(st->url, want->url) != 0)
            snprintf(why, sizeof(why), "it is of another URL (%.120s)", st->url);
        else if (st->size != g->size)
            snprintf(why, sizeof(why),
                     "the remote file changed (size %" PRId64 ", %" PRId64 " before)", g->size,
                     st->size);
        else if (strcmp(st->mdtm, g->mdtm) != 0)
            snprintf(why, sizeof(why), "the remote file changed (time %s, %s before)",
                     g->mdtm[0] ? g->mdtm : "unknown", st->mdtm[0] ? st->mdtm : "unknown");
        else if (!have_seg || !S_ISREG(seg_st.st_mode))
            snprintf(why, sizeof(why), "%s is missing", g->path);
        else if ((uint64_t)seg_st.st_size < written || seg_st.st_size > g->size)
            snprintf(why, sizeof(why), "%s has %lld bytes, which its state does not account for",
                     g->path, (long long)seg_st.st_size);
        else
            rc = 1;
    } else if (rc == -2) {
        snprintf(why, sizeof(why), "%s is unusable: %s", g->state_path, reason);
    } else if (have_seg) {
        snprintf(why, sizeof(why), "no saved state beside %s", g->path);
    }
    free(want);
    if (rc == 1)
        return st;
    free(st);
    if (why[0] != '\0')
        ftpc_msg(g->ctx, "ftpc: %s: cannot resume the segments (%s); starting over", g->t->display,
                 why);
    return NULL;
}

/* --verify: a resumed range's digest takes in the bytes it had already. */
static int feed_written(ftpc_segget *g, seg *s)
{
    for (uint64_t at = s->start; at < s->pos;) {
        size_t want = s->pos - at < SEG_BUF_SIZE ? (size_t)(s->pos - at) : SEG_BUF_SIZE;
        ssize_t n = pread(g->fd, g->buf, want, (off_t)at);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                errno = EIO;
            return -1;
        }
        ftpc_rcheck_feed(s->chk, g->buf, (size_t)n);
        at += (uint64_t)n;
    }
    return 0;
}

static void begin_segments(ftpc_segget *g)
{
    ftpc_task *t = g->t;
    if (ftpc_segget_file_name(t->local, g->path, sizeof(g->path)) < 0 ||
        ftpc_segstate_name(g->path, g->state_path, sizeof(g->state_path)) < 0) {
        fail(g, FTPC_EXIT_LOCAL, "local file name too long");
        return;
    }
    /* Read back too: the ranges' overlaps are compared at the end. Another ftpc (or another
     * task of this one) fetching the same file into the same place holds the lock: its file
     * and status are its own, neither truncated nor resumed nor removed here (truncated
     * under it, the bytes it had written were lost from the file it then put in place, its
     * ranges' checks passing on the bytes as they arrived). */
    int fd = -1;
    bool existed = false;
    switch (ftpc_partlock_open(g->path, O_RDWR | O_NOFOLLOW, false, &fd, &existed)) {
    case FTPC_PARTLOCK_OK:
        break;
    case FTPC_PARTLOCK_BUSY:
        t->part_busy = true;
        fail(g, FTPC_EXIT_LOCAL, "%s: another transfer is writing %s", bar_name(t), g->path);
        return;
    default:
        fail(g, FTPC_EXIT_LOCAL, "cannot open %s: %s", g->path, strerror(errno));
        return;
    }
    t->part_busy = false;
    g->fd = fd;
    g->created = true;
    ftpc_segstate *st = g->resume ? load_state(g, existed) : NULL;
    /* A loaded status fits the file as it is, and every later one has its length: on a disk
     * still full the last state can go over it in place, and the bytes stay resumable. */
    g->state_saved = st != NULL;
    if (st != NULL) {
        g->n = st->n;
    } else {
        /* A status file of other bytes must not outlive them (a kill before the first save
         * would pair it with this attempt's file). */
        (void)unlink(g->state_path);
        t->seg_kept = false;
        if (ftruncate(g->fd, 0) < 0) {
            fail(g, FTPC_EXIT_LOCAL, "truncating %s: %s", g->path, strerror(errno));
            return;
        }
    }
    g->saved_ms = ev_now(g->ctx->loop);
    uint64_t size = (uint64_t)g->size, had = 0;
    for (int i = 0; i < g->n; i++) {
        seg *s = &g->segs[i];
        s->g = g;
        ftpc_dchan_init(&s->dc, g->ctx->loop);
        if (st != NULL) {
            s->start = st->r[i].start;
            s->end = st->r[i].end;
            s->pos = st->r[i].pos;
        } else {
            s->start = size * (uint64_t)i / (uint64_t)g->n;
            s->end = size * (uint64_t)(i + 1) / (uint64_t)g->n;
            s->pos = s->start;
        }
        had += s->pos - s->start;
        s->rest_at = s->pos;
        /* The bytes before the offset asked for must match the file's: a neighbour's, or
         * this range's own from an earlier attempt. */
        ftpc_overlap_begin(&s->ovl, s->pos < s->end ? s->pos : 0);
        s->state = SS_WAIT;
        if (g->ctx->opts->verify && s->pos < s->end &&
            (s->chk = ftpc_rcheck_new(g->ctx, t, g->path, s->start, s->end)) == NULL) {
            free(st);
            fail(g, FTPC_EXIT_LOCAL, "out of memory");
            return;
        }
        if (s->chk != NULL && feed_written(g, s) < 0) {
            free(st);
            fail(g, FTPC_EXIT_LOCAL, "reading %s: %s", g->path, strerror(errno));
            return;
        }
    }
    free(st);
    /* Saved before the first byte comes, so that a disk that fills at once still has a
     * status file, whose place the last state can take (save_state). */
    (void)save_state(g);
    if (g->ctx->bars != NULL) {
        char label[2 * FTPC_URL_PATH_MAX + 8];
        g->bar =
            ftpc_bar_start(g->ctx->bars, ftpc_task_label(t, label, sizeof(label)), g->size, had);
    }
    /* The operation's connection takes the first range still to fetch; the others get their
     * own. Ranges an earlier attempt finished are done already. */
    bool main_used = false;
    for (int i = 0; i < g->n; i++) {
        seg *s = &g->segs[i];
        if (s->pos == s->end) { /* unchecked with --verify: then the whole file is */
            s->state = SS_DONE;
            g->ncomplete++;
            continue;
        }
        if (!main_used) {
            main_used = true;
            s->c = g->c;
            ftpc_conn_set_owner(g->c, &seg_owner, s);
            continue;
        }
        s->c = ftpc_conn_new(g->ctx, t->ep, &seg_owner, s);
        if (s->c == NULL) {
            fail(g, FTPC_EXIT_LOCAL, "out of memory");
            return;
        }
    }
    if (g->ncomplete == g->n) /* an earlier attempt got every byte but stopped before the end */
        complete(g);
}

static void main_ready(ftpc_conn *c, void *ud)
{
    ftpc_segget *g = ud;
    if (g->sizing || g->dating || g->finished)
        return;
    ftpc_task *t = g->t;
    const ftpc_opts *o = g->ctx->opts;
    struct stat st;
    char part[PATH_MAX];
    unsigned feat = ftpc_conn_features(c);
    bool size_ok = (feat & FTPC_FEAT_SIZE) || !(feat & FTPC_FEAT_ANSWERED);
    bool resume = o->resume || t->own_prefix;
    g->resume = o->resume || t->seg_kept;
    bool target_odd =
        strcmp(t->local, "-") == 0 || (stat(t->local, &st) == 0 && !S_ISREG(st.st_mode));
    bool have_part =
        ftpc_part_name(t->local, part, sizeof(part)) < 0 || (resume && lstat(part, &st) == 0);
    /* MODE Z and TYPE A streams cannot be cut into byte ranges: one ordinary transfer. */
    if (t->kind != FTPC_T_GET || !size_ok || target_odd || have_part || o->limit_rate > 0 ||
        ftpc_conn_mode_z(c) || ftpc_task_ascii(t, o->ascii) ||
        (o->resume && lstat(t->local, &st) == 0)) {
        fallback(g);
        return;
    }
    g->sizing = true;
    ftpc_conn_cmd(c, "SIZE %s", t->remote);
}

/* "213 20261206121000" -> "20261206121000"; "" for anything else. */
static void keep_mdtm(ftpc_segget *g, const ftp_reply_msg *m)
{
    g->mdtm[0] = '\0';
    if (m->code != 213)
        return;
    const char *p = m->text;
    while (*p == ' ')
        p++;
    size_t n = strspn(p, "0123456789.");
    if (n > 0 && n < sizeof(g->mdtm)) {
        memcpy(g->mdtm, p, n);
        g->mdtm[n] = '\0';
    }
}

static void main_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_segget *g = ud;
    if (!(g->sizing || g->dating) || g->finished || m->code < 200)
        return;
    if (g->dating) {
        g->dating = false;
        keep_mdtm(g, m);
        begin_segments(g);
        return;
    }
    g->sizing = false;
    g->size = m->code == 213 ? ftpc_parse_size_reply(m->text) : -1;
    g->n = ftpc_segget_count(g->size, ftpc_conn_room(g->ctx, g->t->ep, g->nseg_req));
    if (g->n < 2) {
        g->n = 0;
        fallback(g); /* it reports a missing file itself */
        return;
    }
    /* The file's time is part of what a resumed download checks is the same file. */
    if (ftpc_conn_features(c) & FTPC_FEAT_MDTM) {
        g->dating = true;
        ftpc_conn_cmd(c, "MDTM %s", g->t->remote);
        return;
    }
    begin_segments(g);
}

static void main_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_segget *g = ud;
    g->c_dead = true;
    fail(g, err->status, "%s", err->msg);
}

static const ftpc_conn_owner main_owner = {
    .ready = main_ready,
    .reply = main_reply,
    .failed = main_failed,
};

ftpc_segget *ftpc_segget_new(ftpc_ctx *ctx, ftpc_task *t, int nseg, ftpc_op_done_cb done, void *ud)
{
    ftpc_segget *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->buf = malloc(SEG_BUF_SIZE);
    if (g->buf == NULL) {
        free(g);
        return NULL;
    }
    g->ctx = ctx;
    g->t = t;
    g->nseg_req = nseg;
    g->done = done;
    g->done_ud = ud;
    g->fd = -1;
    g->size = -1;
    return g;
}

void ftpc_segget_start(ftpc_segget *g, ftpc_conn *c)
{
    g->c = c;
    ftpc_conn_set_owner(c, &main_owner, g);
}

int ftpc_segget_verified(const ftpc_segget *g, digest_algo *algo)
{
    *algo = g->valgo;
    return g->x == NULL && g->n > 1 && g->nverified == g->n ? g->n : 0;
}

static void segget_release(void *p)
{
    ftpc_segget *g = p;
    free(g->buf);
    free(g);
}

void ftpc_segget_free(ftpc_segget *g)
{
    if (g == NULL || g->defer.queued)
        return;
    if (g->x != NULL) {
        ftpc_xfer_free(g->x);
        g->x = NULL;
    }
    g->finished = true;
    release(g, true); /* stopped (interrupted): what is in is kept for a rerun with -c */
    ftpc_ctx_defer(g->ctx, &g->defer, segget_release, g);
}
