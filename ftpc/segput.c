/* Segmented uploads: one range per control connection (REST+STOR) into a temporary file
 * renamed over the target at the end, with the detection of servers that cannot write in
 * place and the sequential fallback. */
#include "segput.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bars.h"
#include "dchan.h"
#include "fsops.h"
#include "mdtm.h"
#include "net.h"
#include "rmode.h"
#include "segget.h"
#include "verify.h"
#include "xfer.h"

#define SP_BUF_SIZE (256 * 1024)
#define SP_CHUNKS_PER_WAKEUP 8
#define SP_SENDFILE_CHUNK (4 * 1024 * 1024)
#define SP_MIN_SIZE (2 * FTPC_SEGMENT_MIN)

typedef enum {
    PS_IDLE,   /* not started */
    PS_WAIT,   /* for its connection */
    PS_DATA,   /* data connection being prepared */
    PS_ALLO,   /* ALLO sent: the range's length (any answer will do) */
    PS_REST,   /* REST sent */
    PS_STOR,   /* STOR/APPE sent; sending */
    PS_CHECK,  /* the range's HASH or SIZE check runs */
    PS_DONE,   /* the range is on the server */
    PS_FAILED, /* refused or stopped: the fallback covers it */
    PS_DRAIN   /* stopped mid-STOR: the server's end of that STOR is awaited (seg_halt) */
} ps_state;

typedef enum {
    P_START,      /* SIZE-less start: waiting for the first connection */
    P_PRE,        /* before the data: can the target's mode be kept (pre_step)? */
    P_PROBE,      /* -c: SIZE of a temporary file an interrupted upload may have left */
    P_PROBE_HASH, /* ... and HASH over RANG of what it holds, against the local bytes */
    P_FORGET,     /* ... DELE of it when it is not resumed: the upload starts as a new one */
    P_FIRST,      /* STOR of the first range */
    P_PARALLEL,   /* the other ranges at once */
    P_SEQ,        /* the sequential fallback */
    P_SIZE,       /* SIZE before the fallback, or the final size check */
    P_VERIFY,     /* the whole-file check */
    P_META,       /* the temporary file given the target's time and mode (meta_step) */
    P_RENAME,     /* RNFR/RNTO of the temporary file over the real name */
    P_CLEAN,      /* DELE of the temporary file (a failure, or a refused rename) */
    P_STALE,      /* DELE of one an interrupted upload left, after an ordinary put -c */
    P_DONE,
} phase;

/* Before the rename: what an ordinary upload would have left on the target besides its bytes. */
typedef enum {
    M_MFMT,     /* the source's modification time (mirror -R) */
    M_OLD_MODE, /* MLST (or STAT) of the target: the mode of the file to be replaced */
    M_NEW_MODE, /* ... of the temporary file: the mode a new file gets */
    M_CHMOD,    /* SITE CHMOD of the temporary file to the old mode */
    M_NONE,
} meta_step;

/* Before any data: a rename that could not keep a more private target's mode would have the
 * file sent twice, so that is learnt first, on the temporary file (pre_step). */
typedef enum {
    PRE_OLD,   /* MLST (or STAT) of the target */
    PRE_MAKE,  /* an empty STOR creates the temporary file */
    PRE_NEW,   /* MLST (or STAT) of the temporary file */
    PRE_CHMOD, /* SITE CHMOD of the temporary file to the old mode */
    PRE_DROP,  /* DELE of the empty temporary file when it needs no other mode */
} pre_step;

typedef struct pseg {
    ftpc_segput *p;
    ftpc_conn *c; /* the operation's connection for the first range and the fallback */
    ps_state state;
    uint64_t start, end;
    uint64_t pos;  /* next byte to send */
    uint64_t rpos; /* next byte to read (and hash) into buf */
    const char *verb;
    bool use_rest;
    ftpc_dchan dc; /* the data connection: plain, or TLS under PROT P */
    bool raw;      /* sendfile: a plain stream and no digest to compute on the way */
    bool closing;  /* all sent: close_notify / FIN out, reading until the server closes */
    bool shut;
    size_t retry_len; /* TLS: a write to offer again at least this long */
    bool prelim, data_done, ctrl_done;
    /* The data connection failed mid-command: its reply is awaited (seg_data_failed). */
    bool data_failed;
    char data_why[400];
    ev_timer reply_wait;
    char *buf;
    size_t buf_off, buf_len;
    ftpc_rcheck *chk;
} pseg;

struct ftpc_segput {
    ftpc_ctx *ctx;
    ftpc_task *t;
    int nseg_req;
    ftpc_op_done_cb done;
    void *done_ud;
    ftpc_conn *c; /* from the runner; freed by it */
    bool c_dead;
    /* A cut STOR on it has had its final reply, and a second may follow
     * (ftpc_conn_drop_late_finals): it takes the DELE, and is not reused after. */
    bool c_unsynced;
    phase ph;
    int fd;
    uint64_t size;
    int n;
    pseg segs[FTPC_SEGMENTS_MAX];
    pseg seq;        /* the sequential fallback's range */
    bool refused;    /* a range was refused: finish sequentially from the complete prefix */
    bool suspect;    /* the server does not write in place: start over */
    bool probed;     /* the first parallel range was checked */
    bool no_ranges;  /* HASH over RANG is not available: no per-range checks */
    bool fell_back;  /* the sequential upload ran */
    bool full_seq;   /* ... from the start: a failed final check is then final */
    bool final_size; /* P_SIZE is the final check, not the fallback's */
    int nranges_ok;
    digest_algo valgo;
    int verified; /* for ftpc_segput_verified */
    uint64_t seq_prefix;
    uint64_t base; /* where the ranges begin: 0, or the kept bytes of a resumed upload */
    ftpc_bar *bar;
    ftpc_xfer *x;   /* the ordinary transfer when not segmenting */
    ftpc_verify *v; /* the whole-file check */
    ftpc_defer defer;
    bool finished;

    /* The ranges go to a temporary file beside the target, renamed over it once complete
     * and checked: a cut or refused range never leaves a partial file in its place. */
    char work[FTPC_URL_PATH_MAX]; /* its name; "" for an ordinary upload */
    bool work_made;               /* a STOR of it was taken (1xx): it may be on the server */
    bool rnto_sent;
    meta_step mstep;
    pre_step pstep;
    bool pre_done;     /* the check before the data ran (or was not needed) */
    uint64_t pre_from; /* ... and where the data starts after it */
    bool chmod_failed; /* a SITE CHMOD of it was refused before the data: not asked again */
    bool pre_made;     /* PRE_MAKE created the temporary file */
    bool work_found;   /* -c: SIZE found a temporary file of an interrupted upload */
    int old_mode;      /* the replaced file's permission bits, -1 unknown or none */
    int new_mode;      /* the temporary file's, -1 unknown */
    bool renamed;      /* it is in place under t->remote */
    bool cleaning;     /* its DELE runs */
    bool cleaned;      /* ... ran */
    bool clean_plain;  /* ... then one ordinary upload: the rename was refused */
    int clean_status;  /* ... else the upload's result, to end with */
    bool clean_probe;  /* the DELE was refused: SIZE tells whether the file is there */
    char clean_why[700];
    ftpc_conn *side; /* for that DELE when c cannot send it (lost, or left mid-command) */

    /* -c: the bytes of a temporary file left by an interrupted upload, checked against
     * the local file's first bytes before the rest is sent after them. */
    ftpc_rcheck *probe;
    uint64_t resume_at;
    /* The temporary file's name for an ordinary upload with -c: deleted once it is in
     * place, since what it held is of no use after that. "" when there can be none. */
    char stale[FTPC_URL_PATH_MAX];
};

static const ftpc_conn_owner main_owner;
static const ftpc_conn_owner seg_owner;
static void fail(ftpc_segput *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seg_go(pseg *s);
static void after_parallel(ftpc_segput *p);
static void final_check(ftpc_segput *p);
static void start_clean(ftpc_segput *p, int status, bool then_plain);
static void clean_go(ftpc_segput *p);
static void clean_done(ftpc_segput *p, bool deleted, const char *why);
static void start_rename(ftpc_segput *p);
static void redo_plain(ftpc_segput *p, const char *why, ...) __attribute__((format(printf, 2, 3)));
static void start_meta(ftpc_segput *p);
static bool pre_wanted(const ftpc_segput *p);
static void pre_start(ftpc_segput *p, uint64_t from);

static const char *bar_name(const ftpc_task *t)
{
    return ftpc_task_name(t);
}

static bool seg_running(const pseg *s)
{
    return s->state >= PS_WAIT && s->state <= PS_CHECK;
}

static void seg_close_data(pseg *s)
{
    ftpc_dchan_close(&s->dc);
    ev_timer_stop(s->p->ctx->loop, &s->reply_wait);
}

/* Stops a range: its data connection closed, its own connection dropped. */
static void seg_stop(pseg *s, ps_state to)
{
    ftpc_segput *p = s->p;
    /* Stopped before the server had all of it: a FIN would tell the server the range ends
     * there, and it could keep those bytes as a complete upload; a reset makes it an
     * interrupted one. */
    if (s->state == PS_STOR && !s->data_done)
        ftpc_dchan_reset_on_close(&s->dc);
    seg_close_data(s);
    ftpc_rcheck_free(s->chk);
    s->chk = NULL;
    if (s->c != NULL) {
        if (s->c == p->c) {
            ftpc_conn_close_data(s->c);
            if (!p->c_dead && s->state != PS_DONE && s->state != PS_IDLE && s->state != PS_FAILED &&
                !ftpc_conn_is_ready(s->c))
                p->c_dead = true; /* left mid-command: not reusable */
            ftpc_conn_set_owner(s->c, &main_owner, p);
        } else if (s->state == PS_DONE) {
            ftpc_conn_quit(s->c);
        } else {
            ftpc_conn_free(s->c);
        }
        s->c = NULL;
    }
    free(s->buf);
    s->buf = NULL;
    s->state = to;
}

/* Stops a range that turned out not to be needed, while the server may still be writing it.
 * Where its STOR is under way, the data connection is reset as seg_stop does, but the control
 * connection stays until the server has ended that STOR (seg_drained): a server that writes
 * each REST+STOR aside (pure-ftpd) puts the file of a cut one in place of the name when its
 * STOR ends, just before its reply, so that an upload sent meanwhile (the sequential
 * fallback's) would be replaced by one range's bytes, and a DELE of the temporary file sent
 * meanwhile would be undone. Its final reply (426, 451, 226 ...; a further 1xx is not one),
 * or its closing the connection, says it has; one that says nothing costs the --timeout wait
 * (the connection's), and then the connection. The range on the operation's own connection
 * (the first, or the sequential one) is waited for alike: after its reply that connection
 * is idle again, and takes the DELE. One whose data connection had failed was awaited
 * since (seg_data_failed): only for what is left of that wait, none once it is over. */
static void seg_halt(pseg *s)
{
    bool waited = s->data_failed && !ev_timer_active(&s->reply_wait);
    if (s->state != PS_STOR || s->c == NULL || ftpc_conn_is_ready(s->c) ||
        ftpc_conn_is_dead(s->c) || waited) {
        seg_stop(s, PS_FAILED);
        return;
    }
    if (!s->data_failed) { /* else closed already, and its reply_wait runs on */
        if (!s->data_done)
            ftpc_dchan_reset_on_close(&s->dc);
        seg_close_data(s);
    }
    ftpc_conn_close_data(s->c); /* an active data connection not made yet never will be */
    ftpc_rcheck_free(s->chk);
    s->chk = NULL;
    free(s->buf);
    s->buf = NULL;
    s->state = PS_DRAIN; /* seg_reply_any and seg_failed hear the end */
}

/* The server has ended the STOR of a halted range (or the wait for it ended). */
static void seg_drained(pseg *s)
{
    ftpc_segput *p = s->p;
    ev_timer_stop(p->ctx->loop, &s->reply_wait);
    if (s->c == p->c) { /* the runner's: kept for the DELE where it is idle */
        if (!ftpc_conn_is_ready(s->c)) {
            p->c_dead = true;
        } else {
            /* A server that answers a reset like an ABOR (426, then 226) would have the
             * second taken for the DELE's reply, and the next file's commands each
             * answered with the reply of the one before. */
            ftpc_conn_drop_late_finals(s->c);
            p->c_unsynced = true;
        }
        ftpc_conn_set_owner(s->c, &main_owner, p);
    } else if (ftpc_conn_is_ready(s->c)) {
        ftpc_conn_quit(s->c);
    } else {
        ftpc_conn_free(s->c);
    }
    s->c = NULL;
    s->state = PS_FAILED;
    if (p->cleaning)
        clean_go(p);
    else
        after_parallel(p);
}

static void release(ftpc_segput *p)
{
    ftpc_rcheck_free(p->probe);
    p->probe = NULL;
    for (int i = 0; i < p->n; i++) {
        if (p->segs[i].state == PS_DRAIN && !p->finished)
            continue; /* the clean-up waits for it (start_clean) */
        if (p->segs[i].state != PS_IDLE || p->segs[i].c != NULL)
            seg_stop(&p->segs[i], p->segs[i].state == PS_DONE ? PS_DONE : PS_FAILED);
    }
    if (p->seq.p != NULL && !(p->seq.state == PS_DRAIN && !p->finished))
        seg_stop(&p->seq, PS_FAILED);
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (p->bar != NULL) {
        ftpc_bar_done(p->bar, false);
        p->bar = NULL;
    }
}

static void finish(ftpc_segput *p, int status)
{
    if (p->finished)
        return;
    if (status != FTPC_OK && p->work_made && !p->renamed && !p->cleaning && !p->cleaned) {
        /* The old file was never touched; what the ranges left beside it goes. */
        start_clean(p, status, false);
        return;
    }
    p->finished = true;
    p->t->remote_rename_pending = false;
    p->ph = P_DONE;
    release(p);
    ftpc_task_set_status(p->t, status);
    bool reusable = !p->c_dead && !p->c_unsynced && ftpc_conn_is_ready(p->c);
    if (reusable)
        ftpc_conn_set_owner(p->c, NULL, NULL);
    p->done(p->done_ud, status, reusable);
}

static void fail(ftpc_segput *p, int status, const char *fmt, ...)
{
    char what[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (p->finished)
        return;
    if (p->cleaning) { /* the upload's own failure stays the one reported */
        clean_done(p, false, what);
        return;
    }
    ftpc_task_fail(p->t, status, "uploading %s: %s", p->t->display, what);
    finish(p, status);
}

static void succeed(ftpc_segput *p)
{
    if (p->work[0] != '\0' && !p->renamed) {
        start_meta(p);
        return;
    }
    p->t->bytes = p->size;
    if (p->bar != NULL) {
        ftpc_bar_update(p->bar, p->size);
        ftpc_task_end_bar(p->t, p->bar);
        p->bar = NULL;
    }
    finish(p, FTPC_OK);
}

/* ---- the ordinary transfer ---- */

static void fallback_done(void *ud, int status, bool reusable)
{
    ftpc_segput *p = ud;
    if (status == FTPC_OK && reusable && p->stale[0] != '\0' && !p->c_dead) {
        p->ph = P_STALE;
        ftpc_conn_set_owner(p->c, &main_owner, p);
        ftpc_conn_cmd(p->c, "DELE %s", p->stale);
        return;
    }
    p->finished = true;
    p->done(p->done_ud, status, reusable);
}

static void plain_upload(ftpc_segput *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    p->x = ftpc_xfer_new(p->ctx, p->t, fallback_done, p);
    if (p->x == NULL) {
        fail(p, FTPC_EXIT_LOCAL, "out of memory");
        return;
    }
    ftpc_xfer_start(p->x, p->c);
}

/* The segmented upload gives way to an ordinary one before anything of it is on the server. */
static void go_plain(ftpc_segput *p)
{
    release(p);
    p->work[0] = '\0';
    plain_upload(p);
}

/* ---- progress ---- */

static uint64_t seg_queued(const pseg *s)
{
    if (!ftpc_dchan_is_open(&s->dc))
        return 0;
    int q = net_queued_bytes(s->dc.s->fd);
    return q > 0 ? (uint64_t)q : 0;
}

/* The bytes sent that wait in the ranges' sockets (ftpc_bar_unsent): a range sends in
 * calls of megabytes, which a socket takes at once. */
static uint64_t unsent(void *ud)
{
    const ftpc_segput *p = ud;
    if (p->ph == P_SEQ || p->fell_back)
        return seg_queued(&p->seq);
    uint64_t sum = 0;
    for (int i = 0; i < p->n; i++)
        sum += seg_queued(&p->segs[i]);
    return sum;
}

static void update_bar(ftpc_segput *p)
{
    if (p->bar == NULL)
        return;
    ftpc_bar_unsent(p->bar, unsent, p); /* again: a check in between ended the asking */
    uint64_t sum = 0;
    if (p->ph == P_SEQ || p->fell_back) {
        sum = p->seq.pos;
    } else {
        sum = p->base;
        for (int i = 0; i < p->n; i++)
            sum += p->segs[i].pos - p->segs[i].start;
    }
    ftpc_bar_update(p->bar, sum);
}

/* ---- one range: sending ---- */

static void seg_sent(pseg *s);

/* "bytes A-B" of a range, or what an empty one is for (the STOR that makes the temporary
 * file before the data, pre_send): its end - 1 would wrap. */
static const char *range_words(const pseg *s, char *out, size_t size)
{
    if (s->end <= s->start)
        snprintf(out, size, "the empty STOR that creates the temporary file");
    else
        snprintf(out, size, "bytes %" PRIu64 "-%" PRIu64, s->start, s->end - 1);
    return out;
}

static void seg_drained(pseg *s);

static long seg_reply_wait_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    pseg *s = ud;
    char r[96];
    if (s->state == PS_DRAIN) { /* halted meanwhile (seg_halt): waited for long enough */
        if (!s->p->finished)
            seg_drained(s);
        return EV_TIMER_STOP;
    }
    if (!s->p->finished && s->data_failed)
        fail(s->p, FTPC_EXIT_XFER,
             "data connection for %s: %s; the server sent no reply to %s within %ld s",
             range_words(s, r, sizeof r), s->data_why, s->verb,
             (ftpc_dchan_reply_wait_ms(s->p->ctx->opts->timeout_ms) + 999) / 1000);
    return EV_TIMER_STOP;
}

/* The range's data connection failed. The reason is usually the server's, on the control
 * connection (552 past a quota or its file size limit, 452, 426), sent with the reset: the
 * reply decides, as if it had come before the failure (seg_reply), and only without one
 * does the range fail on the socket's error. */
static void seg_data_failed(pseg *s, const char *why)
{
    ftpc_segput *p = s->p;
    snprintf(s->data_why, sizeof(s->data_why), "%s", why);
    if (s->state != PS_STOR || s->c == NULL || ftpc_conn_is_ready(s->c) ||
        ftpc_conn_is_dead(s->c)) {
        char r[96];
        fail(p, FTPC_EXIT_XFER, "data connection for %s: %s", range_words(s, r, sizeof r),
             s->data_why);
        return;
    }
    if (!s->data_done) /* a TLS failure of ours leaves the socket itself intact */
        ftpc_dchan_reset_on_close(&s->dc);
    seg_close_data(s);
    s->data_failed = true;
    ev_timer_start(p->ctx->loop, &s->reply_wait,
                   ftpc_dchan_reply_wait_ms(p->ctx->opts->timeout_ms));
}

/* Sends from the local file: through buf when the range is hashed on the way, else with
 * sendfile. Returns 1 when the range is all sent, 0 to wait, -1 after failing. */
static int pump(pseg *s)
{
    ftpc_segput *p = s->p;
    for (int i = 0; i < SP_CHUNKS_PER_WAKEUP; i++) {
        if (s->pos >= s->end)
            return 1;
        ssize_t n;
        if (!s->raw) {
            if (s->buf_off == s->buf_len) {
                uint64_t left = s->end - s->rpos;
                size_t want = left < SP_BUF_SIZE ? (size_t)left : SP_BUF_SIZE;
                ssize_t r = pread(p->fd, s->buf, want, (off_t)s->rpos);
                if (r <= 0) {
                    if (r < 0 && errno == EINTR)
                        continue;
                    fail(p, FTPC_EXIT_LOCAL, "reading %s: %s", p->t->local,
                         r == 0 ? "it shrank while being uploaded" : strerror(errno));
                    return -1;
                }
                ftpc_rcheck_feed(s->chk, s->buf, (size_t)r);
                s->rpos += (uint64_t)r;
                s->buf_off = 0;
                s->buf_len = (size_t)r;
            }
            size_t want = s->buf_len - s->buf_off;
            /* OpenSSL wants a retried write to offer at least what it offered before. */
            if (want < s->retry_len)
                want = s->retry_len;
            n = stream_write(s->dc.s, s->buf + s->buf_off, want);
            if (n > 0) {
                s->retry_len = 0;
                s->buf_off += (size_t)n;
            } else if (n < 0) {
                errno = s->dc.s->last_errno;
                if (errno == EAGAIN)
                    s->retry_len = want;
            }
        } else {
            uint64_t left = s->end - s->pos;
            size_t want = left < SP_SENDFILE_CHUNK ? (size_t)left : SP_SENDFILE_CHUNK;
            off_t off = (off_t)s->pos;
            n = s->dc.s->ops->sendfile(s->dc.s, p->fd, &off, want);
            if (n < 0)
                errno = s->dc.s->last_errno;
            if (n == 0) {
                fail(p, FTPC_EXIT_LOCAL, "%s shrank while being uploaded", p->t->local);
                return -1;
            }
        }
        if (n > 0) {
            s->pos += (uint64_t)n;
            update_bar(p);
            if (s->c != NULL)
                ftpc_conn_touch(s->c);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        int e = errno;
        const char *why = ftpc_dchan_error(&s->dc);
        seg_data_failed(s, why != NULL ? why : strerror(e));
        return -1;
    }
    return 0;
}

static void seg_data_cb(ev_loop *loop, int fd, int mask, void *ud);

/* All sent: our end goes out (close_notify under TLS, then a FIN; closing is the end-of-file
 * mark in stream mode), and the connection is read until the server closes it, since closing
 * at once could reset it (a TLS 1.3 ticket unread) and lose data in flight. */
static void seg_closing(pseg *s)
{
    char sink[4096];
    if (!s->shut) {
        if (stream_shutdown(s->dc.s) < 0 && s->dc.s->last_errno == EAGAIN) {
            ftpc_dchan_watch(&s->dc, 0, seg_data_cb, s);
            return;
        }
        s->shut = true;
    }
    for (int i = 0; i < 64; i++) {
        ssize_t n = stream_read(s->dc.s, sink, sizeof(sink));
        if (n > 0)
            continue; /* nothing is expected; whatever comes is dropped */
        if (n < 0 && s->dc.s->last_errno == EAGAIN) {
            ftpc_dchan_watch(&s->dc, EV_READ, seg_data_cb, s);
            return;
        }
        break; /* the server's end (or an error: the reply decides) */
    }
    seg_close_data(s);
    s->data_done = true;
    seg_sent(s);
}

/* One round of work on the range's data connection. */
static void seg_run(pseg *s)
{
    ftpc_segput *p = s->p;
    if (p->finished || !ftpc_dchan_is_open(&s->dc))
        return;
    if (!s->dc.hs_done) {
        char why[400];
        int r = ftpc_dchan_handshake(&s->dc, why, sizeof(why));
        if (r < 0) {
            char what[460];
            snprintf(what, sizeof(what), "TLS: %s", why);
            seg_data_failed(s, what);
            return;
        }
        if (r == 0) {
            ftpc_dchan_watch(&s->dc, 0, seg_data_cb, s);
            return;
        }
    }
    if (!s->prelim) {
        /* Wait for the server's 1xx: a refused STOR then costs nothing. */
        ftpc_dchan_watch(&s->dc, 0, seg_data_cb, s);
        return;
    }
    if (s->closing) {
        seg_closing(s);
        return;
    }
    int r = pump(s);
    if (r < 0 || p->finished)
        return;
    if (r == 1) {
        s->closing = true;
        seg_closing(s);
        return;
    }
    ftpc_dchan_watch(&s->dc, EV_WRITE, seg_data_cb, s);
}

static void seg_data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    seg_run(ud);
}

static void seg_attach(pseg *s, int fd)
{
    ftpc_segput *p = s->p;
    char why[400];
    if (ftpc_dchan_open(&s->dc, s->c, fd, why, sizeof(why)) < 0) {
        fail(p, FTPC_EXIT_XFER, "data connection: %s", why);
        return;
    }
    /* sendfile only where the bytes pass untouched and unseen; TLS and hashing go through
     * the buffer. */
    s->raw = s->chk == NULL && s->dc.hs_done && s->dc.s->ops->sendfile != NULL;
    if (!s->raw && s->buf == NULL && (s->buf = malloc(SP_BUF_SIZE)) == NULL) {
        fail(p, FTPC_EXIT_LOCAL, "out of memory");
        return;
    }
    seg_run(s);
}

static void seg_stor(pseg *s)
{
    ftpc_segput *p = s->p;
    if (ftpc_conn_send(s->c, "%s %s", s->verb, p->work) < 0) {
        fail(p, FTPC_EXIT_XFER, "cannot send %s", s->verb);
        return;
    }
    s->state = PS_STOR;
    int fd = ftpc_conn_take_data(s->c);
    if (fd >= 0)
        seg_attach(s, fd);
}

/* ---- one range: the command sequence ---- */

static void seg_done(pseg *s);

/* A range is complete on the server (its data sent, 226). */
static void seg_sent(pseg *s)
{
    if (!s->data_done || !s->ctrl_done || s->state != PS_STOR)
        return;
    seg_done(s);
}

static void start_seq(ftpc_segput *p, uint64_t from);

/* A parallel range was refused or could not start: the rest goes sequentially. */
static void seg_refused(pseg *s, const char *why)
{
    ftpc_segput *p = s->p;
    if (p->ctx->opts->verbose)
        ftpc_msg(p->ctx, "ftpc: %s: bytes %" PRIu64 "-%" PRIu64 " not uploaded in parallel: %s",
                 p->t->display, s->start, s->end - 1, why);
    p->refused = true;
    seg_stop(s, PS_FAILED);
    after_parallel(p);
}

static void seg_ready(ftpc_conn *c, void *ud)
{
    pseg *s = ud;
    if (s->state != PS_WAIT || s->p->finished)
        return;
    s->state = PS_DATA;
    ftpc_conn_open_data(c);
}

static void seg_rest_or_stor(pseg *s)
{
    if (s->use_rest) {
        s->state = PS_REST;
        ftpc_conn_cmd(s->c, "REST %" PRIu64, s->start);
        return;
    }
    seg_stor(s);
}

static bool data_binary(ftpc_conn *c);

static void seg_data_prepared(ftpc_conn *c, void *ud)
{
    pseg *s = ud;
    if (s->state != PS_DATA || s->p->finished)
        return;
    /* The range's length, as a put announces its file's (xfer.c): a server that counts it
     * (ftpd) takes the end of exactly those bytes for a whole STOR without waiting. Only on
     * a short round trip, as there. */
    long rtt = ftpc_conn_rtt_us(c);
    if (data_binary(c) && rtt >= 0 && rtt < FTPC_ALLO_MAX_RTT_US) {
        s->state = PS_ALLO;
        ftpc_conn_cmd(c, "ALLO %" PRIu64, s->end - s->start);
        return;
    }
    seg_rest_or_stor(s);
}

static void seg_data_open(ftpc_conn *c, int fd, void *ud)
{
    pseg *s = ud;
    if (s->p->finished || ftpc_dchan_is_open(&s->dc) || s->state != PS_STOR) {
        if (s->state == PS_DRAIN) { /* a FIN would end the range's upload as complete */
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        close(fd);
        return;
    }
    seg_attach(s, fd);
}

static void seg_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    pseg *s = ud;
    ftpc_segput *p = s->p;
    char q[600];
    if (p->finished)
        return;
    bool parallel = s != &p->seq && (s != &p->segs[0] || p->base > 0);
    switch (s->state) {
    case PS_ALLO:
        if (m->code >= 200) /* only a help to the server: a refusal changes nothing */
            seg_rest_or_stor(s);
        return;
    case PS_REST:
        if (m->code < 200)
            return;
        if (m->code != 350) {
            if (parallel) {
                seg_refused(s, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
                return;
            }
            if (s == &p->seq && s->start == p->seq_prefix) {
                /* No REST for STOR: APPE adds at the end, which SIZE said is here. */
                s->verb = "APPE";
                seg_stor(s);
                return;
            }
            fail(p, ftpc_status_for_reply(m->code), "REST %" PRIu64 ": the server replied %s",
                 s->start, ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        seg_stor(s);
        return;
    case PS_STOR:
        if (m->code < 200) {
            s->prelim = true;
            p->work_made = true;
            seg_run(s);
            return;
        }
        if (m->code >= 500 && !p->work_made &&
            ((s == &p->segs[0] && p->ph == P_FIRST) || (s == &p->seq && p->ph == P_PRE))) {
            /* Nothing was written: the temporary name itself is refused (a server that
             * allows no dot files, say). An ordinary upload goes instead; if the target is
             * refused too, its messages say why (a directory missing, a directory there).
             * A 4xx is passing (busy, no room for now), not about the name: it fails the
             * upload as it fails an ordinary one, and --retry tries the same way again. */
            if (p->ctx->opts->verbose)
                ftpc_msg(p->ctx,
                         "ftpc: %s: %s %s: the server replied %s; uploading it as one "
                         "ordinary transfer",
                         p->t->display, s->verb, p->work,
                         ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            go_plain(p);
            return;
        }
        if (m->code >= 500 && !s->prelim && s == &p->seq && s->start > 0) {
            /* Neither REST+STOR nor APPE goes on from the ranges in (an account that may
             * write but not append): the whole file once more from its first byte, which a
             * plain put would have sent all the same. */
            if (p->ctx->opts->verbose)
                ftpc_msg(p->ctx,
                         "ftpc: %s: %s from byte %" PRIu64 ": the server replied %s; "
                         "uploading it from the start",
                         p->t->display, s->verb, s->start,
                         ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            seg_stop(s, PS_FAILED);
            start_seq(p, 0);
            return;
        }
        if (s->data_failed && m->code < 300) {
            /* A 2xx after the data connection failed: not all of the range got there. */
            char r[96];
            fail(p, FTPC_EXIT_XFER, "data connection for %s: %s", range_words(s, r, sizeof r),
                 s->data_why);
            return;
        }
        if (m->code < 300 && s->closing && !s->data_done) {
            /* All sent and our end is out: the server's word is enough. */
            seg_close_data(s);
            s->data_done = true;
        }
        if (m->code >= 300 || !s->data_done) {
            char what[1100];
            char extra[460] = "";
            if (s->data_failed)
                snprintf(extra, sizeof(extra), " (data connection: %s)", s->data_why);
            if (m->code >= 300)
                snprintf(what, sizeof(what), "%s: the server replied %s%s", s->verb,
                         ftpc_quote_reply(m->code, m->text, q, sizeof(q)), extra);
            else
                snprintf(what, sizeof(what), "%s: the server ended the transfer early", s->verb);
            if (parallel) {
                seg_refused(s, what);
                return;
            }
            fail(p, m->code >= 300 ? ftpc_status_for_reply(m->code) : FTPC_EXIT_XFER, "%s", what);
            return;
        }
        s->ctrl_done = true;
        seg_sent(s);
        return;
    default:
        return;
    }
}

static void seg_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    pseg *s = ud;
    ftpc_segput *p = s->p;
    if (c == p->c)
        p->c_dead = true;
    if (p->finished)
        return;
    if (s->state == PS_DRAIN) { /* closed by the server, or silent for --timeout */
        seg_drained(s);
        return;
    }
    bool parallel = s != &p->seq && s != &p->segs[0];
    if (parallel && s->state == PS_WAIT) {
        /* Never logged in (a per-address limit, say): the fallback takes the range, and the
         * next file asks for no more connections than got in. */
        ftpc_conn_note_limit(c);
        seg_refused(s, err->msg);
        return;
    }
    if (s->state == PS_DONE)
        return;
    int status = err->status == FTPC_EXIT_CONNECT ? FTPC_EXIT_XFER : err->status;
    /* As xfer.c's conn_failed: the wait was for the data connection's handshake. */
    if (ftpc_conn_timed_out(c) &&
        ftpc_dchan_hs_stalled(&s->dc, s->prelim || p->ctx->opts->active)) {
        char r[96], why[96];
        fail(p, status, "%s (%s)",
             ftpc_dchan_hs_timeout_msg(p->ctx->opts->timeout_ms, why, sizeof(why)),
             range_words(s, r, sizeof r));
        return;
    }
    fail(p, status, "%s", err->msg);
}

static void seg_reply_any(ftpc_conn *c, const ftp_reply_msg *m, void *ud);

static const ftpc_conn_owner seg_owner = {
    .ready = seg_ready,
    .reply = seg_reply_any,
    .data_prepared = seg_data_prepared,
    .data_open = seg_data_open,
    .failed = seg_failed,
};

/* Starts range s on its connection (s->c set), or on a new one. */
static void seg_go(pseg *s)
{
    ftpc_segput *p = s->p;
    s->state = PS_WAIT;
    s->pos = s->rpos = s->start;
    s->prelim = s->data_done = s->ctrl_done = false;
    s->data_failed = false;
    s->closing = s->shut = false;
    s->retry_len = 0;
    s->buf_off = s->buf_len = 0;
    if (p->ctx->opts->verify && !p->no_ranges && s != &p->seq) {
        s->buf = malloc(SP_BUF_SIZE);
        s->chk = s->buf ? ftpc_rcheck_new(p->ctx, p->t, p->t->local, s->start, s->end) : NULL;
        if (s->chk == NULL) {
            fail(p, FTPC_EXIT_LOCAL, "out of memory");
            return;
        }
        ftpc_rcheck_set_remote(s->chk, p->work);
    }
    if (s->c == NULL) {
        s->c = ftpc_conn_new(p->ctx, p->t->ep, &seg_owner, s);
        if (s->c == NULL)
            fail(p, FTPC_EXIT_LOCAL, "out of memory");
        return;
    }
    ftpc_conn_set_owner(s->c, &seg_owner, s);
}

/* ---- checks of a range ---- */

static void seg_checked(pseg *s, bool ok, const char *why)
{
    ftpc_segput *p = s->p;
    if (!ok) {
        /* The server took the range but the file does not hold it: it does not write REST+STOR
         * in place. Stop the others; start over sequentially. */
        if (p->ctx->opts->verbose)
            ftpc_msg(p->ctx, "ftpc: %s: %s; uploading sequentially", p->t->display, why);
        p->suspect = true;
        for (int i = 1; i < p->n; i++)
            if (&p->segs[i] != s && seg_running(&p->segs[i]))
                seg_halt(&p->segs[i]);
        seg_stop(s, PS_FAILED);
        after_parallel(p);
        return;
    }
    if (s->c != NULL && s->c != p->c) {
        ftpc_conn_quit(s->c);
        s->c = NULL;
    } else if (s->c == p->c) {
        ftpc_conn_set_owner(s->c, &main_owner, p);
        s->c = NULL;
    }
    ftpc_rcheck_free(s->chk);
    s->chk = NULL;
    free(s->buf);
    s->buf = NULL;
    s->state = PS_DONE;
    after_parallel(p);
}

static void seg_hash_checked(void *ud, const ftpc_vresult *r)
{
    pseg *s = ud;
    ftpc_segput *p = s->p;
    if (p->finished)
        return;
    switch (r->state) {
    case FTPC_V_VERIFIED:
        p->nranges_ok++;
        p->valgo = r->algo;
        if (s != &p->segs[0])
            p->probed = true;
        seg_checked(s, true, NULL);
        return;
    case FTPC_V_MISMATCH:
        seg_checked(s, false, r->err.msg);
        return;
    case FTPC_V_ERROR:
        fail(p, r->err.status, "%s", r->err.msg);
        return;
    default:
        /* No HASH over ranges: the probe is SIZE, the final check the whole file. */
        p->no_ranges = true;
        ftpc_rcheck_free(s->chk);
        s->chk = NULL;
        if (s != &p->segs[0] && !p->probed) {
            s->state = PS_CHECK;
            ftpc_conn_set_owner(s->c, &seg_owner, s);
            p->probed = true;
            ftpc_conn_cmd(s->c, "SIZE %s", p->work);
            return;
        }
        seg_checked(s, true, NULL);
        return;
    }
}

/* The range's data is sent and the server said 226. */
static void seg_done(pseg *s)
{
    ftpc_segput *p = s->p;
    if (s == &p->seq) {
        s->state = PS_DONE;
        ftpc_conn_set_owner(s->c, &main_owner, p);
        s->c = NULL;
        if (p->ph == P_PRE) {
            p->pre_made = true;
            p->pstep = PRE_NEW; /* main_ready asks its mode */
            return;
        }
        final_check(p);
        return;
    }
    s->state = PS_CHECK;
    if (s == &p->segs[0] && p->ph == P_FIRST) {
        /* The file exists now: the other ranges go at once, while the first is checked. */
        p->ph = P_PARALLEL;
        for (int i = 1; i < p->n && !p->finished; i++)
            seg_go(&p->segs[i]);
        if (p->finished)
            return;
    }
    if (s->chk != NULL) {
        ftpc_rcheck_run(s->chk, s->c, seg_hash_checked, s);
        return;
    }
    if (s != &p->segs[0] && !p->probed) {
        /* The first parallel range to finish: SIZE must reach its end. */
        p->probed = true;
        ftpc_conn_cmd(s->c, "SIZE %s", p->work);
        return;
    }
    seg_checked(s, true, NULL);
}

/* ---- the first connection ---- */

static void main_ready(ftpc_conn *c, void *ud);
static void main_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud);

static void main_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_segput *p = ud;
    p->c_dead = true;
    if (p->side != NULL || (p->cleaning && p->ph != P_CLEAN))
        return; /* the clean-up goes on without it (clean_go) */
    if (p->ph == P_STALE) {
        /* the upload is in place all the same */
        if (!p->finished) {
            p->finished = true;
            p->done(p->done_ud, FTPC_OK, false);
        }
        return;
    }
    if (p->ph == P_PARALLEL && !p->refused && !p->suspect)
        return; /* idle meanwhile; the fallback, if any, will find it dead */
    if (p->ph == P_RENAME) {
        fail(p, FTPC_EXIT_XFER, "renaming %s into place: %s", p->work, err->msg);
        return;
    }
    fail(p, err->status == FTPC_EXIT_CONNECT && p->ph != P_START ? FTPC_EXIT_XFER : err->status,
         "%s", err->msg);
}

static const ftpc_conn_owner main_owner = {
    .ready = main_ready,
    .reply = main_reply,
    .failed = main_failed,
};

/* SIZE replies for a range's probe come to the range's owner: route them here. */
static void seg_probe_reply(pseg *s, const ftp_reply_msg *m)
{
    char why[200];
    int64_t n = m->code == 213 ? ftpc_parse_size_reply(m->text) : -1;
    if (n >= 0 && (uint64_t)n < s->end) {
        snprintf(why, sizeof(why),
                 "after bytes %" PRIu64 "-%" PRIu64 " the server's file has only %" PRId64 " bytes",
                 s->start, s->end - 1, n);
        seg_checked(s, false, why);
        return;
    }
    seg_checked(s, true, NULL);
}

/* Ranges are file bytes at file offsets: not under MODE Z (a deflate stream per STOR) or
 * TYPE A (line ends converted). */
static bool data_binary(ftpc_conn *c)
{
    return !ftpc_conn_mode_z(c) && ftpc_conn_type(c) == 'I';
}

static void begin_ranges(ftpc_segput *p);

static void begin(ftpc_segput *p)
{
    ftpc_task *t = p->t;
    const ftpc_opts *o = p->ctx->opts;
    unsigned feat = ftpc_conn_features(p->c);
    bool rest_ok = (feat & FTPC_FEAT_REST) || !(feat & FTPC_FEAT_ANSWERED);
    p->fd = open(t->local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        plain_upload(p); /* it reports the problem */
        return;
    }
    p->size = (uint64_t)st.st_size;
    p->n = p->size < SP_MIN_SIZE
               ? 1
               : ftpc_segget_count((int64_t)p->size, ftpc_conn_room(p->ctx, p->t->ep, p->nseg_req));
    if (p->n < 2 || o->limit_rate > 0 || ftpc_task_ascii(t, o->ascii) || !rest_ok ||
        !data_binary(p->c) || t->ep->no_upload_rename ||
        ftpc_up_name(t->remote, p->work, sizeof(p->work)) < 0) {
        p->n = 0;
        p->work[0] = '\0';
        /* A segmented upload of the file that was interrupted (ftpc killed) may have left
         * its temporary file, which a later one would otherwise find only with --segments
         * and -c: it goes once this upload is in place. Two uploads to one name at once were
         * never safe (the second's STOR truncates what the first sends): ftpc takes it for
         * an interrupted upload's, as the FTP server gives no way to tell. */
        if (o->resume && p->size >= SP_MIN_SIZE &&
            ftpc_up_name(t->remote, p->stale, sizeof(p->stale)) < 0)
            p->stale[0] = '\0';
        plain_upload(p);
        return;
    }
    (void)posix_fadvise(p->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (o->resume) {
        /* An upload interrupted where nothing could clean up (ftpc killed) left its
         * temporary file: resume into it, or replace it, rather than leave it for ever. */
        p->ph = P_PROBE;
        ftpc_conn_cmd(p->c, "SIZE %s", p->work);
        return;
    }
    begin_ranges(p);
}

/* p->n ranges into the temporary file from byte from: a new upload's from its first byte,
 * the first alone to create the file; or, from > 0, a resumed upload's after the bytes it
 * kept, all at once, each with REST (no STOR from 0 to truncate those bytes). */
static void begin_ranges_from(ftpc_segput *p, uint64_t from)
{
    ftpc_task *t = p->t;
    if (from == 0 && pre_wanted(p)) {
        pre_start(p, 0);
        return;
    }
    uint64_t len = p->size - from;
    p->base = from;
    if (p->ctx->bars != NULL) {
        char label[2 * FTPC_URL_PATH_MAX + 8];
        p->bar = ftpc_bar_start(p->ctx->bars, ftpc_task_label(t, label, sizeof(label)),
                                (int64_t)p->size, from);
    }
    for (int i = 0; i < p->n; i++) {
        pseg *s = &p->segs[i];
        s->p = p;
        s->start = from + len * (uint64_t)i / (uint64_t)p->n;
        s->end = from + len * (uint64_t)(i + 1) / (uint64_t)p->n;
        s->pos = s->rpos = s->start;
        s->verb = "STOR";
        s->use_rest = s->start > 0;
    }
    p->segs[0].c = p->c;
    if (from == 0) {
        p->ph = P_FIRST;
        seg_go(&p->segs[0]);
        return;
    }
    p->ph = P_PARALLEL;
    for (int i = 0; i < p->n && !p->finished; i++)
        seg_go(&p->segs[i]);
}

static void begin_ranges(ftpc_segput *p)
{
    begin_ranges_from(p, 0);
}

static void send_meta(ftpc_segput *p);
static void pre_send(ftpc_segput *p);

static void main_ready(ftpc_conn *c, void *ud)
{
    ftpc_segput *p = ud;
    if (p->finished)
        return;
    switch (p->ph) {
    case P_START:
        begin(p);
        return;
    case P_PRE:
        pre_send(p);
        return;
    case P_SIZE:
        ftpc_conn_cmd(c, "SIZE %s", p->work);
        return;
    case P_META:
        send_meta(p);
        return;
    case P_RENAME:
        ftpc_conn_cmd(c, "RNFR %s", p->work);
        return;
    case P_CLEAN:
        ftpc_conn_cmd(c, "DELE %s", p->work);
        return;
    default:
        return;
    }
}

/* The sequential range, bytes from to end - 1, on the operation's connection. */
static void seq_reset(ftpc_segput *p, uint64_t from, uint64_t end)
{
    pseg *s = &p->seq;
    ev_timer_stop(p->ctx->loop, &s->reply_wait);
    free(s->buf);
    memset(s, 0, sizeof(*s));
    ftpc_dchan_init(&s->dc, p->ctx->loop);
    ev_timer_init(&s->reply_wait, seg_reply_wait_cb, s);
    s->p = p;
    s->start = from;
    s->end = end;
    s->verb = "STOR";
    s->use_rest = from > 0;
    s->c = p->c;
}

static void start_seq(ftpc_segput *p, uint64_t from)
{
    p->ph = P_SEQ;
    p->fell_back = true;
    p->full_seq |= from == 0;
    p->seq_prefix = from;
    seq_reset(p, from, p->size);
    pseg *s = &p->seq;
    if (p->bar != NULL)
        ftpc_bar_rewind(p->bar, from);
    else if (p->ctx->bars != NULL) { /* after a failed final check: the bar was done */
        char label[2 * FTPC_URL_PATH_MAX + 8];
        p->bar = ftpc_bar_start(p->ctx->bars, ftpc_task_label(p->t, label, sizeof(label)),
                                (int64_t)p->size, from);
    }
    if (from == p->size) {
        /* Everything is there already. */
        s->state = PS_DONE;
        s->c = NULL;
        final_check(p);
        return;
    }
    seg_go(s);
}

/* ---- -c: the temporary file of an interrupted upload ---- */

/* The rest after the bytes kept in the temporary file: in ranges over the connections
 * --segments allows when it is large enough to be split as a new upload would be, else in
 * one transfer. Either way the rest goes with REST, so that the kept bytes stay. */
static void resume_work(ftpc_segput *p)
{
    if (pre_wanted(p)) {
        pre_start(p, p->resume_at);
        return;
    }
    uint64_t len = p->size - p->resume_at;
    int n = len < SP_MIN_SIZE
                ? 1
                : ftpc_segget_count((int64_t)len, ftpc_conn_room(p->ctx, p->t->ep, p->nseg_req));
    if (!p->ctx->opts->quiet) {
        char ranges[64] = "";
        if (n > 1)
            snprintf(ranges, sizeof(ranges), " in %d ranges", n);
        ftpc_msg(p->ctx, "%s: resuming the interrupted upload in %s at byte %" PRIu64 "%s",
                 bar_name(p->t), p->work, p->resume_at, ranges);
    }
    p->work_made = true;
    if (n < 2) {
        start_seq(p, p->resume_at);
        return;
    }
    p->n = n;
    begin_ranges_from(p, p->resume_at);
}

/* The temporary file found is not resumed: it goes before the upload starts from byte 0,
 * which then runs as a new one's. Its mode is no new file's (ftpc's STOR over it would keep
 * that mode, as ftpd and vsftpd keep a replaced file's), and the check before the data
 * (pre_step) would take it for one: the target could be given the found file's mode, or the
 * file sent twice once the real one's mode showed after the data. */
static void forget_found(ftpc_segput *p)
{
    p->ph = P_FORGET;
    ftpc_conn_cmd(p->c, "DELE %s", p->work);
}

static void forget_reply(ftpc_segput *p, const ftp_reply_msg *m)
{
    /* Refused, it stays: the ranges then go into it, and it has the mode they get. */
    if (m->code / 100 == 2)
        p->work_found = false;
    begin_ranges(p);
}

static void not_resumed(ftpc_segput *p, const char *why)
{
    if (!p->ctx->opts->quiet)
        ftpc_msg(p->ctx,
                 "%s: %s on the server has %" PRIu64 " bytes that cannot be resumed (%s); "
                 "uploading it from the start",
                 bar_name(p->t), p->work, p->resume_at, why);
    forget_found(p);
}

/* It holds what the server has of the file, from its first byte (ftpd and pure-ftpd write
 * each range aside, so what is there is a prefix; a server that writes in place may have
 * holes): HASH over RANG of those bytes tells whether they are the local file's. Only then
 * does the rest follow them; a server without HASH cannot tell, and the file is sent again
 * from the start over them. */
static void probe_checked(void *ud, const ftpc_vresult *r)
{
    ftpc_segput *p = ud;
    ftpc_rcheck_free(p->probe);
    p->probe = NULL;
    if (p->finished)
        return;
    if (r->state == FTPC_V_ERROR) {
        fail(p, r->err.status, "%s", r->err.msg);
        return;
    }
    if (!ftpc_conn_is_ready(p->c)) {
        fail(p, FTPC_EXIT_XFER, "the control connection was lost before the upload");
        return;
    }
    ftpc_conn_set_owner(p->c, &main_owner, p);
    if (r->state != FTPC_V_VERIFIED) {
        not_resumed(p, r->state == FTPC_V_MISMATCH ? "they differ from the local file's"
                       : r->why[0] != '\0'         ? r->why
                                                   : "no HASH of them");
        return;
    }
    resume_work(p);
}

static void probe_reply(ftpc_segput *p, const ftp_reply_msg *m)
{
    int64_t n = m->code == 213 ? ftpc_parse_size_reply(m->text) : -1;
    if (n < 0) {
        /* None there: -c resumes the target itself, as an ordinary upload does. */
        p->n = 0;
        p->work[0] = '\0';
        plain_upload(p);
        return;
    }
    p->work_found = true;
    if (n == 0 || (uint64_t)n > p->size) {
        if (p->ctx->opts->verbose)
            ftpc_msg(p->ctx,
                     "ftpc: %s: %s on the server has %" PRId64 " bytes; uploading it from the "
                     "start",
                     p->t->display, p->work, n);
        forget_found(p);
        return;
    }
    p->resume_at = (uint64_t)n;
    p->ph = P_PROBE_HASH;
    p->probe = ftpc_rcheck_new(p->ctx, p->t, p->t->local, 0, p->resume_at);
    if (p->probe == NULL) {
        fail(p, FTPC_EXIT_LOCAL, "out of memory");
        return;
    }
    ftpc_rcheck_set_remote(p->probe, p->work);
    ftpc_rcheck_run(p->probe, p->c, probe_checked, p);
}

static void rename_reply(ftpc_segput *p, const ftp_reply_msg *m);
static void meta_reply(ftpc_segput *p, const ftp_reply_msg *m);
static void pre_reply(ftpc_segput *p, const ftp_reply_msg *m);
static void clean_reply(ftpc_segput *p, ftpc_conn *c, const ftp_reply_msg *m);

static void main_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_segput *p = ud;
    if (p->finished || m->code < 200)
        return;
    if (p->ph == P_STALE) {
        /* whatever the reply: none there, or not ours to delete */
        p->finished = true;
        ftpc_conn_set_owner(c, NULL, NULL);
        p->done(p->done_ud, FTPC_OK, ftpc_conn_is_ready(c));
        return;
    }
    if (p->ph == P_PROBE) {
        probe_reply(p, m);
        return;
    }
    if (p->ph == P_FORGET) {
        forget_reply(p, m);
        return;
    }
    if (p->ph == P_RENAME) {
        rename_reply(p, m);
        return;
    }
    if (p->ph == P_META) {
        meta_reply(p, m);
        return;
    }
    if (p->ph == P_PRE) {
        pre_reply(p, m);
        return;
    }
    if (p->ph == P_CLEAN) {
        clean_reply(p, c, m);
        return;
    }
    if (p->ph != P_SIZE)
        return;
    int64_t n = m->code == 213 ? ftpc_parse_size_reply(m->text) : -1;
    if (p->final_size) {
        if (n >= 0 && (uint64_t)n != p->size) {
            if (!p->full_seq) {
                if (p->ctx->opts->verbose)
                    ftpc_msg(p->ctx,
                             "ftpc: %s: the server has %" PRId64 " bytes of %" PRIu64
                             "; uploading sequentially",
                             p->t->display, n, p->size);
                start_seq(p, 0);
                return;
            }
            fail(p, FTPC_EXIT_VERIFY,
                 "size mismatch: the server has %" PRId64 " bytes, %s has %" PRIu64, n, p->t->local,
                 p->size);
            return;
        }
        if (p->nranges_ok == p->n && !p->fell_back)
            p->verified = p->n;
        succeed(p);
        return;
    }
    /* Before the fallback: continue at the end of the complete ranges when the server's
     * file ends exactly there; anything else may hold stray bytes, so start over. */
    uint64_t prefix = 0;
    if (!p->suspect) {
        prefix = p->base;
        for (int i = 0; i < p->n && p->segs[i].state == PS_DONE; i++)
            prefix = p->segs[i].end;
    }
    start_seq(p, n >= 0 && (uint64_t)n == prefix ? prefix : 0);
}

/* Called whenever a parallel range ends: once none runs, the upload is complete or falls
 * back. */
static void after_parallel(ftpc_segput *p)
{
    if (p->finished || p->ph != P_PARALLEL)
        return;
    for (int i = 0; i < p->n; i++)
        if (seg_running(&p->segs[i]) || p->segs[i].state == PS_DRAIN)
            return;
    if (!p->refused && !p->suspect) {
        final_check(p);
        return;
    }
    if (p->c_dead || !ftpc_conn_is_ready(p->c)) {
        fail(p, FTPC_EXIT_XFER, "the control connection was lost before the sequential upload");
        return;
    }
    if (!p->ctx->opts->quiet)
        ftpc_msg(p->ctx, "%s: %s; uploading the rest sequentially", bar_name(p->t),
                 p->suspect ? "the server does not write REST+STOR ranges in place"
                            : "the server refused parallel ranges (REST+STOR at an offset)");
    p->ph = P_SIZE;
    p->final_size = false;
    ftpc_conn_set_owner(p->c, &main_owner, p);
}

/* ---- the final check ---- */

static void verify_done(void *ud, int status, bool reusable)
{
    ftpc_segput *p = ud;
    ftpc_verify_free(p->v);
    p->v = NULL;
    if (!reusable)
        p->c_dead = true;
    if (status == FTPC_EXIT_VERIFY && !p->full_seq) {
        if (p->ctx->opts->verbose)
            ftpc_msg(p->ctx, "ftpc: %s; uploading sequentially", p->t->err.msg);
        if (p->c_dead) {
            finish(p, status);
            return;
        }
        ftpc_task_set_status(p->t, FTPC_OK);
        if (p->t->held_bar != NULL) { /* its line waited for the check: it goes on */
            p->bar = p->t->held_bar;
            p->t->held_bar = NULL;
        } else {
            ftpc_bars_retract(p->ctx->bars, p->size); /* its line ended before the check */
        }
        start_seq(p, 0);
        return;
    }
    if (status != FTPC_OK) {
        finish(p, status); /* t->err was set by the check */
        return;
    }
    p->verified = -1;
    succeed(p);
}

static void final_check(ftpc_segput *p)
{
    /* All the bytes the file had when the upload began are sent. One that has grown since (a
     * log still written) fails as a plain upload's does (xfer_send.c): not as a success that
     * left the server its first bytes only, nor as a failed verification of the whole. */
    struct stat st;
    if (fstat(p->fd, &st) == 0 && (uint64_t)st.st_size > p->size) {
        fail(p, FTPC_EXIT_LOCAL,
             "%s grew while being uploaded (%" PRIu64 " bytes when the upload began, %llu now); "
             "upload it once it stops changing",
             p->t->local, p->size, (unsigned long long)st.st_size);
        return;
    }
    if (p->c_dead || !ftpc_conn_is_ready(p->c)) {
        fail(p, FTPC_EXIT_XFER, "the control connection was lost before the final check");
        return;
    }
    bool ranges = p->nranges_ok == p->n && !p->fell_back;
    if (p->ctx->opts->verify && !ranges) {
        /* The whole file against its HASH (SIZE where there is no HASH), as a plain
         * transfer's check comes: its outcome ends the line. */
        if (p->bar != NULL) {
            ftpc_bar_update(p->bar, p->size);
            ftpc_task_end_bar(p->t, p->bar);
            p->bar = NULL;
        }
        p->ph = P_VERIFY;
        p->v = ftpc_verify_new(p->ctx, p->t, verify_done, p);
        if (p->v == NULL) {
            fail(p, FTPC_EXIT_LOCAL, "out of memory");
            return;
        }
        /* Its outcome waits on the line for the rename into place. */
        p->t->remote_rename_pending = true;
        ftpc_verify_set_remote(p->v, p->work);
        ftpc_verify_set_size_check(p->v, true);
        ftpc_verify_start(p->v, p->c);
        return;
    }
    p->ph = P_SIZE;
    p->final_size = true;
    ftpc_conn_set_owner(p->c, &main_owner, p);
}

/* ---- the target's time and mode ---- */

/* An ordinary upload leaves the source's time on the file when the task asks for it (MFMT,
 * xfer.c: mirror -R), and a STOR over an existing file keeps that file's permission bits, on
 * the servers that write in place (vsftpd) and on those that write aside and copy them over
 * (ftpd, pure-ftpd). A rename over it does not: the file would get the mode of a new file.
 * So the temporary file gets both before the rename, and the file appears under its name
 * whole, with its time and mode. A mode the server does not tell (neither MLST's UNIX.mode
 * nor a STAT listing) is left as it is. A SITE CHMOD refused (or known to be) is said, and the
 * upload stands, as mirror -R's modes do (fsops.c), as long as the new mode grants nothing the
 * old one did not; a rename that would open a private file to others is not done: the file
 * is sent again as one ordinary upload, which keeps the old mode as a plain put does. */

static bool meta_wanted(const ftpc_segput *p, meta_step st)
{
    const ftpc_task *t = p->t;
    switch (st) {
    case M_MFMT:
        return t->keep_mtime && (ftpc_conn_features(p->c) & FTPC_FEAT_MFMT);
    case M_OLD_MODE:
        /* mirror -R sets the source's mode afterwards, once SITE CHMOD is known to work;
         * before that, or where it is refused, the rename must not widen the old mode */
        return !t->mode_set_after || t->ep->site_chmod <= 0;
    case M_NEW_MODE:
        return p->old_mode >= 0;
    case M_CHMOD: /* another file's may have been refused meanwhile */
        return p->old_mode >= 0 && t->ep->site_chmod >= 0;
    default:
        return true;
    }
}

static meta_step meta_from(const ftpc_segput *p, meta_step st)
{
    while (st < M_NONE && !meta_wanted(p, st))
        st++;
    return st;
}

/* The next step from st on that applies; the rename once none is left. */
static void meta_next(ftpc_segput *p, meta_step st)
{
    p->mstep = meta_from(p, st);
    if (p->mstep == M_NONE) {
        start_rename(p);
        return;
    }
    send_meta(p);
}

static void start_meta(ftpc_segput *p)
{
    if (p->c_dead || !ftpc_conn_is_ready(p->c)) {
        fail(p, FTPC_EXIT_XFER, "the control connection was lost before the rename into place");
        return;
    }
    p->old_mode = -1;
    p->new_mode = -1;
    p->mstep = meta_from(p, M_MFMT);
    if (p->mstep == M_NONE) {
        start_rename(p);
        return;
    }
    p->ph = P_META;
    ftpc_conn_set_owner(p->c, &main_owner, p); /* main_ready sends it */
}

static void send_meta(ftpc_segput *p)
{
    ftpc_task *t = p->t;
    bool mlst = (ftpc_conn_features(p->c) & FTPC_FEAT_MLST) != 0;
    switch (p->mstep) {
    case M_MFMT: {
        char stamp[32];
        if (ftpc_format_mdtm(t->mtime, stamp, sizeof(stamp)) < 0) {
            meta_next(p, M_OLD_MODE);
            return;
        }
        ftpc_conn_cmd(p->c, "MFMT %s %s", stamp, p->work);
        return;
    }
    case M_OLD_MODE:
        if (!mlst && t->remote[0] == '-') {
            start_rename(p); /* STAT would take the name for ls options (vsftpd) */
            return;
        }
        ftpc_conn_cmd(p->c, "%s %s", mlst ? "MLST" : "STAT", t->remote);
        return;
    case M_NEW_MODE:
        ftpc_conn_cmd(p->c, "%s %s", mlst ? "MLST" : "STAT", p->work);
        return;
    case M_CHMOD:
        ftpc_conn_cmd(p->c, "SITE CHMOD %03o %s", (unsigned)p->old_mode, p->work);
        return;
    default:
        start_rename(p);
        return;
    }
}

static int reply_mode(const ftpc_segput *p, const ftp_reply_msg *m, const char *path)
{
    if (m->code / 100 != 2)
        return -1;
    if (ftpc_conn_features(p->c) & FTPC_FEAT_MLST)
        return ftpc_rmode_from_mlst(m->text);
    return ftpc_rmode_from_stat(m->text, path);
}

static void chmod_refused(ftpc_segput *p, const ftp_reply_msg *m)
{
    ftpc_task *t = p->t;
    char q[600], where[300];
    ftpc_quote_reply(m->code, m->text, q, sizeof(q));
    if (m->code >= 500 && t->ep->site_chmod <= 0) {
        /* As fsops.c: a server without it refuses every file alike, said once. */
        if (t->ep->site_chmod < 0)
            return;
        t->ep->site_chmod = -1;
        ftpc_msg(p->ctx,
                 "ftpc: %s refused SITE CHMOD (it replied %s): permission bits are not set "
                 "there; %s has the mode of a new file, not the %03o of the file it replaced",
                 ftpc_endpoint_str(t->ep, where, sizeof(where)), q, t->display,
                 (unsigned)p->old_mode);
        return;
    }
    ftpc_msg(p->ctx,
             "ftpc: %s: SITE CHMOD %03o: the server replied %s; it has the mode of a new "
             "file, not that of the file it replaced",
             t->display, (unsigned)p->old_mode, q);
}

/* The temporary file's mode (unknown counts as any) grants a bit the old file's did not. */
static bool mode_widens(const ftpc_segput *p)
{
    return p->new_mode < 0 || ((unsigned)p->new_mode & ~(unsigned)p->old_mode & 07777u) != 0;
}

static void pre_end(ftpc_segput *p);

/* The old mode cannot be set on the temporary file (SITE CHMOD refused, now or before):
 * before the data (P_PRE) or after it. */
static void mode_not_set(ftpc_segput *p, const ftp_reply_msg *m)
{
    bool before = p->ph == P_PRE;
    if (!mode_widens(p)) {
        if (m != NULL)
            chmod_refused(p, m);
        if (before) {
            p->chmod_failed = true;
            pre_end(p);
            return;
        }
        start_rename(p);
        return;
    }
    if (m != NULL && m->code >= 500 && p->t->ep->site_chmod == 0)
        p->t->ep->site_chmod = -1; /* the later files need not ask */
    char why[700], q[600];
    if (m != NULL)
        snprintf(why, sizeof(why), "SITE CHMOD %03o: %s", (unsigned)p->old_mode,
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    else
        snprintf(why, sizeof(why), "SITE CHMOD is refused there");
    char modes[64];
    if (p->new_mode >= 0)
        snprintf(modes, sizeof(modes), "%03o", (unsigned)p->new_mode);
    else
        snprintf(modes, sizeof(modes), "an unknown mode");
    redo_plain(p,
               "the server will not give the upload the mode of the file it replaces "
               "(%s), and renaming it into place would change %03o to %s; uploading it "
               "%sas one ordinary transfer",
               why, (unsigned)p->old_mode, modes, before ? "" : "again ");
}

/* "put --segments f ftp://host/incoming", incoming a directory: the ranges went beside it,
 * and a rename over it would be refused (and the file sent all over again). The MLST of the
 * target, asked for its mode, tells; as an ordinary put does (xfer_refused.c), the file then
 * goes into it, under its own name, whose mode is asked in turn. */
static bool target_is_dir(const ftpc_segput *p, const ftp_reply_msg *m)
{
    return m->code / 100 == 2 && (ftpc_conn_features(p->c) & FTPC_FEAT_MLST) &&
           ftpc_mlst_is_dir(m->text);
}

static bool may_go_into(const ftpc_task *t)
{
    size_t n = strlen(t->remote);
    return !t->by_path && !t->named_in_dir && n > 0 && t->remote[n - 1] != '/' &&
           n + 1 + strlen(ftpc_task_name(t)) < FTPC_URL_PATH_MAX;
}

/* Returns false when out of memory (the task is then as it was). */
static bool target_into_dir(ftpc_segput *p)
{
    ftpc_task *t = p->t;
    const char *name = ftpc_task_name(t);
    if (!p->ctx->opts->quiet)
        ftpc_msg(p->ctx, "%s: %s is a directory on the server: uploading into it", bar_name(t),
                 t->remote);
    if (ftpc_task_into_dir(t, name) < 0)
        return false;
    t->named_in_dir = true; /* a directory there too is an error, as cp reports it */
    /* It goes under its own name now: no "f -> DIR" (the line waits for the end of the
     * check in held_bar once the data is sent). */
    ftpc_bar_rename(p->bar, ftpc_task_name(t)); /* not name: the move may have freed it */
    ftpc_bar_rename(t->held_bar, ftpc_task_name(t));
    return true;
}

static void meta_reply(ftpc_segput *p, const ftp_reply_msg *m)
{
    switch (p->mstep) {
    case M_MFMT: /* refused: the time of the upload stays, as after an ordinary one */
        meta_next(p, M_OLD_MODE);
        return;
    case M_OLD_MODE:
        if (target_is_dir(p, m) && may_go_into(p->t)) {
            if (!target_into_dir(p)) {
                fail(p, FTPC_EXIT_LOCAL, "out of memory");
                return;
            }
            send_meta(p); /* the mode of what is under the name inside */
            return;
        }
        if (target_is_dir(p, m)) {
            /* The file's own name is a directory there: the rename would be refused, and the
             * ordinary upload after it too, after sending the file once more. */
            fail(p, FTPC_EXIT_REMOTE, "%s is a directory on the server; a file cannot replace it",
                 p->t->remote);
            return;
        }
        /* No file there (a new one gets what the temporary file has), or no mode told. */
        p->old_mode = reply_mode(p, m, p->t->remote);
        if (p->old_mode < 0) {
            start_rename(p);
            return;
        }
        meta_next(p, M_NEW_MODE);
        return;
    case M_NEW_MODE:
        p->new_mode = reply_mode(p, m, p->work);
        if (p->new_mode == p->old_mode) {
            start_rename(p); /* nothing to change, and nothing for a refusal to spoil */
            return;
        }
        if (p->t->ep->site_chmod < 0 || p->chmod_failed) {
            mode_not_set(p, NULL);
            return;
        }
        meta_next(p, M_CHMOD);
        return;
    case M_CHMOD:
        if (m->code / 100 == 2) {
            p->t->ep->site_chmod = 1;
            start_rename(p);
            return;
        }
        mode_not_set(p, m);
        return;
    default:
        start_rename(p);
        return;
    }
}

/* ---- before the data: can the rename keep the target's mode? ---- */

/* Unless SITE CHMOD is known to work, whether the old mode can be given to the temporary
 * file is learnt before the data goes: where it cannot, and the rename would widen it, the
 * file goes as one ordinary upload at once rather than after all its ranges. The old mode is
 * set then, so the bytes sent are never under wider bits than the target's, and the check
 * after the data (meta_reply) finds it in place; a target that cannot be asked about (STAT
 * of a name starting with '-') is left to that check, as is a directory there.
 *
 * The mode a new file gets is that of an empty temporary file made for it, learnt once for
 * the server: where it is the old mode, or SITE CHMOD is known to be refused, the later
 * files need no such file. One made and left unchanged goes again (PRE_DROP), so that the
 * first range creates it as it would have: ftpd then keeps a cut first range as the
 * temporary name's partial upload, which put -c resumes. */
static bool pre_wanted(const ftpc_segput *p)
{
    bool mlst = (ftpc_conn_features(p->c) & FTPC_FEAT_MLST) != 0;
    return !p->pre_done && p->t->ep->site_chmod <= 0 && (mlst || p->t->remote[0] != '-');
}

/* From the operation's idle connection; the data then starts at byte from (pre_end). */
static void pre_start(ftpc_segput *p, uint64_t from)
{
    p->pre_from = from;
    p->old_mode = -1;
    p->new_mode = -1;
    p->pstep = PRE_OLD;
    p->ph = P_PRE;
    ftpc_conn_set_owner(p->c, &main_owner, p); /* main_ready sends it */
}

static void pre_end(ftpc_segput *p)
{
    p->pre_done = true;
    if (p->pre_from > 0)
        resume_work(p);
    else
        begin_ranges(p);
}

static void pre_send(ftpc_segput *p)
{
    const char *ask = (ftpc_conn_features(p->c) & FTPC_FEAT_MLST) ? "MLST" : "STAT";
    switch (p->pstep) {
    case PRE_OLD:
        ftpc_conn_cmd(p->c, "%s %s", ask, p->t->remote);
        return;
    case PRE_MAKE: /* an empty range: STOR and no byte; the first range's STOR keeps its mode */
        seq_reset(p, 0, 0);
        seg_go(&p->seq);
        return;
    case PRE_NEW:
        ftpc_conn_cmd(p->c, "%s %s", ask, p->work);
        return;
    case PRE_CHMOD:
        ftpc_conn_cmd(p->c, "SITE CHMOD %03o %s", (unsigned)p->old_mode, p->work);
        return;
    case PRE_DROP:
        ftpc_conn_cmd(p->c, "DELE %s", p->work);
        return;
    }
}

static void pre_next(ftpc_segput *p, pre_step st)
{
    p->pstep = st;
    pre_send(p);
}

/* The old and the new mode known (new_mode -1 when not told). */
static void pre_decide(ftpc_segput *p)
{
    if (p->new_mode < 0 && !p->pre_made) {
        /* A resumed upload's, not told: ftpd's partial upload of the temporary name is no
         * file yet, whose mode could be set; the check after the data sees to it. */
        pre_end(p);
        return;
    }
    if (p->new_mode == p->old_mode) {
        if (p->pre_made)
            pre_next(p, PRE_DROP);
        else
            pre_end(p);
        return;
    }
    if (p->t->ep->site_chmod < 0) {
        mode_not_set(p, NULL);
        return;
    }
    /* A resumed upload's temporary file is there already. */
    pre_next(p, p->pre_made || p->pre_from > 0 ? PRE_CHMOD : PRE_MAKE);
}

static void pre_reply(ftpc_segput *p, const ftp_reply_msg *m)
{
    ftpc_endpoint *ep = p->t->ep;
    switch (p->pstep) {
    case PRE_OLD:
        p->old_mode = target_is_dir(p, m) ? -1 : reply_mode(p, m, p->t->remote);
        if (p->old_mode < 0) {
            pre_end(p); /* a new file, a directory, or no mode told: nothing to keep */
            return;
        }
        if (ep->up_mode_known && p->pre_from == 0) {
            p->new_mode = ep->up_mode;
            pre_decide(p);
            return;
        }
        pre_next(p, p->pre_from > 0 ? PRE_NEW : PRE_MAKE);
        return;
    case PRE_NEW:
        p->new_mode = reply_mode(p, m, p->work);
        /* Learnt only from a file this upload created: one that an interrupted upload left
         * (work_found) has the mode it had, which later files would take for a new one's. */
        if (p->pre_made && !p->work_found && p->new_mode >= 0) {
            ep->up_mode = p->new_mode;
            ep->up_mode_known = true;
        }
        pre_decide(p);
        return;
    case PRE_CHMOD:
        if (m->code / 100 == 2) {
            ep->site_chmod = 1;
            pre_end(p);
            return;
        }
        mode_not_set(p, m);
        return;
    case PRE_DROP: /* refused: it stays, and the first range overwrites it */
        if (m->code / 100 == 2) {
            p->pre_made = false;
            p->work_made = false;
        }
        pre_end(p);
        return;
    default:
        return;
    }
}

/* ---- the rename into place, and the clean-up ---- */

static void start_rename(ftpc_segput *p)
{
    if (p->c_dead || !ftpc_conn_is_ready(p->c)) {
        fail(p, FTPC_EXIT_XFER, "the control connection was lost before the rename into place");
        return;
    }
    p->ph = P_RENAME;
    p->rnto_sent = false;
    ftpc_conn_set_owner(p->c, &main_owner, p);
}

/* The server will not rename the temporary file over the target (an account without the
 * right to rename, or a target it will not replace that way): it goes, and the file is sent
 * again as one ordinary upload, which such a server takes as it takes any other. */
static void rename_refused(ftpc_segput *p, const char *verb, const ftp_reply_msg *m)
{
    char q[600];
    ftpc_task *t = p->t;
    /* A lasting refusal, of the rename itself or of its target (some servers never rename
     * over an existing name), holds for the run's later files: they go the ordinary way at
     * once rather than twice over. A passing one (4xx) is this file's alone. */
    if (m->code >= 500)
        t->ep->no_upload_rename = true;
    redo_plain(p,
               "the server refused to rename the upload into place (%s %s: %s); "
               "uploading it again as one ordinary transfer",
               verb, strcmp(verb, "RNFR") == 0 ? p->work : t->remote,
               ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
}

/* The temporary file goes, and the file is sent again as one ordinary upload; why (a
 * format) is said first, unless quiet. */
static void redo_plain(ftpc_segput *p, const char *why, ...)
{
    ftpc_task *t = p->t;
    if (!p->ctx->opts->quiet) {
        char line[2048];
        va_list ap;
        va_start(ap, why);
        vsnprintf(line, sizeof(line), why, ap);
        va_end(ap);
        ftpc_msg(p->ctx, "%s: %s", bar_name(t), line);
    }
    /* The line of the segmented attempt ends uncounted: the ordinary upload has its own. */
    if (p->bar != NULL) {
        ftpc_bar_done(p->bar, false);
        p->bar = NULL;
    }
    if (t->held_bar != NULL) {
        ftpc_bar_done(t->held_bar, false);
        t->held_bar = NULL;
    }
    ftpc_task_unset(&t->held_note);
    t->remote_rename_pending = false;
    p->verified = 0;
    if (p->ph == P_PRE && !p->work_made && !p->work_found) {
        go_plain(p); /* before the data, and no temporary file made or found */
        return;
    }
    start_clean(p, FTPC_OK, true);
}

static void rename_reply(ftpc_segput *p, const ftp_reply_msg *m)
{
    if (!p->rnto_sent) {
        if (m->code != 350) {
            rename_refused(p, "RNFR", m);
            return;
        }
        p->rnto_sent = true;
        ftpc_conn_cmd(p->c, "RNTO %s", p->t->remote);
        return;
    }
    if (m->code / 100 != 2) {
        rename_refused(p, "RNTO", m);
        return;
    }
    p->renamed = true;
    p->t->remote_rename_pending = false;
    succeed(p);
}

static void side_ready(ftpc_conn *c, void *ud)
{
    ftpc_segput *p = ud;
    if (!p->finished && p->cleaning)
        ftpc_conn_cmd(c, "DELE %s", p->work);
}

static void side_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_segput *p = ud;
    if (!p->finished && p->cleaning && m->code >= 200)
        clean_reply(p, c, m);
}

static void side_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_segput *p = ud;
    if (!p->finished && p->cleaning)
        clean_done(p, false, err->msg);
}

static const ftpc_conn_owner side_owner = {
    .ready = side_ready,
    .reply = side_reply,
    .failed = side_failed,
};

/* Deletes the temporary file: after a failure (status, already in t->err, is then the
 * result), or before the ordinary upload that replaces a refused rename (then_plain). On
 * the operation's connection when it is idle, else on one of its own. */
static void start_clean(ftpc_segput *p, int status, bool then_plain)
{
    p->cleaning = true;
    p->clean_status = status;
    p->clean_plain = then_plain;
    /* The ranges still running stop: nothing more is written. A STOR under way is ended
     * before the DELE, which a server that puts each range's file in place when its STOR
     * ends (pure-ftpd) would otherwise undo (seg_halt). */
    for (int i = 0; i < p->n; i++)
        if (seg_running(&p->segs[i]))
            seg_halt(&p->segs[i]);
    if (seg_running(&p->seq))
        seg_halt(&p->seq);
    release(p);
    clean_go(p);
}

/* The DELE, once no stopped range's STOR is under way. */
static void clean_go(ftpc_segput *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->segs[i].state == PS_DRAIN)
            return; /* seg_drained comes back */
    if (p->seq.state == PS_DRAIN)
        return;
    if (!p->c_dead && ftpc_conn_is_ready(p->c)) {
        p->ph = P_CLEAN;
        ftpc_conn_set_owner(p->c, &main_owner, p);
        return;
    }
    p->side = ftpc_conn_new(p->ctx, p->t->ep, &side_owner, p);
    if (p->side == NULL)
        clean_done(p, false, "out of memory");
}

static void clean_reply(ftpc_segput *p, ftpc_conn *c, const ftp_reply_msg *m)
{
    char q[600];
    if (p->clean_probe) {
        clean_done(p, m->code != 213, p->clean_why);
        return;
    }
    if (m->code / 100 == 2) {
        clean_done(p, true, NULL);
        return;
    }
    /* 550 says "no such file" and "permission denied" alike: a cut upload that a server
     * writing aside (ftpd) never put under the name, or a DELE not allowed. */
    p->clean_probe = true;
    snprintf(p->clean_why, sizeof(p->clean_why), "DELE: the server replied %s",
             ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
    ftpc_conn_cmd(c, "SIZE %s", p->work);
}

static void clean_done(ftpc_segput *p, bool deleted, const char *why)
{
    ftpc_task *t = p->t;
    p->cleaning = false;
    p->cleaned = true;
    if (p->side != NULL) {
        ftpc_conn_quit(p->side);
        p->side = NULL;
    }
    if (!deleted) {
        char note[FTPC_URL_PATH_MAX + 800];
        snprintf(note, sizeof(note), "%s stays on the server (%s)", p->work, why);
        if (p->clean_plain) {
            ftpc_msg(p->ctx, "ftpc: %s: the temporary file %s", t->display, note);
        } else {
            char more[sizeof(note) + 32];
            snprintf(more, sizeof(more), "; its temporary file %s", note);
            ftpc_task_err_append(t, more);
        }
    }
    if (!p->clean_plain) {
        finish(p, p->clean_status);
        return;
    }
    if (p->c_dead || p->c_unsynced || !ftpc_conn_is_ready(p->c)) {
        ftpc_task_fail(t, FTPC_EXIT_XFER, "uploading %s: %s", t->display,
                       "the control connection was lost before the ordinary upload");
        finish(p, FTPC_EXIT_XFER);
        return;
    }
    p->work[0] = '\0';
    plain_upload(p);
}

/* ---- SIZE probes on a range's connection ---- */

/* seg_reply sees the probe's reply in PS_CHECK; this wrapper keeps seg_reply's switch on the
 * transfer states. */
static void seg_reply_any(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    pseg *s = ud;
    if (s->state == PS_CHECK) {
        if (m->code >= 200 && !s->p->finished)
            seg_probe_reply(s, m);
        return;
    }
    if (s->state == PS_DRAIN) {
        if (m->code >= 200 && !s->p->finished)
            seg_drained(s);
        return;
    }
    seg_reply(c, m, ud);
}

/* ---- life cycle ---- */

ftpc_segput *ftpc_segput_new(ftpc_ctx *ctx, ftpc_task *t, int nseg, ftpc_op_done_cb done, void *ud)
{
    ftpc_segput *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->ctx = ctx;
    p->t = t;
    p->nseg_req = nseg;
    p->done = done;
    p->done_ud = ud;
    p->fd = -1;
    for (int i = 0; i < FTPC_SEGMENTS_MAX; i++) {
        ftpc_dchan_init(&p->segs[i].dc, ctx->loop);
        ev_timer_init(&p->segs[i].reply_wait, seg_reply_wait_cb, &p->segs[i]);
    }
    ftpc_dchan_init(&p->seq.dc, ctx->loop);
    ev_timer_init(&p->seq.reply_wait, seg_reply_wait_cb, &p->seq);
    return p;
}

void ftpc_segput_start(ftpc_segput *p, ftpc_conn *c)
{
    p->c = c;
    p->ph = P_START;
    ftpc_conn_set_owner(c, &main_owner, p);
}

int ftpc_segput_take_source(ftpc_segput *p)
{
    return p->x != NULL ? ftpc_xfer_take_source(p->x) : -1;
}

int ftpc_segput_verified(const ftpc_segput *p, digest_algo *algo)
{
    *algo = p->valgo;
    return p->x != NULL ? 0 : p->verified;
}

static void segput_release(void *q)
{
    free(q);
}

void ftpc_segput_free(ftpc_segput *p)
{
    if (p == NULL || p->defer.queued)
        return;
    if (p->x != NULL) {
        ftpc_xfer_free(p->x);
        p->x = NULL;
    }
    if (p->v != NULL) {
        ftpc_verify_free(p->v);
        p->v = NULL;
    }
    p->finished = true;
    release(p);
    if (p->side != NULL) {
        ftpc_conn_free(p->side);
        p->side = NULL;
    }
    ftpc_ctx_defer(p->ctx, &p->defer, segput_release, p);
}
