/* HASH verification: parsers, the remote query, the local digest in slices, and the two
 * checks built from them. */
#include "verify.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bars.h"
#include "xfer.h"

#define LH_SLICE (8 * 1024 * 1024) /* bytes hashed per loop wakeup: a few ms of SHA-256 */
#define LH_BUF (1024 * 1024)
#define RH_BUSY_TRIES 4               /* 450 "busy": tries before giving up */
#define RH_BUSY_DELAY_MS 500          /* doubled per try */
#define RH_BYTES_PER_SEC (32LL << 20) /* the slowest hashing we wait for, beyond the timeout */

/* ---- pure parsing ---- */

static int algo_hex_len(digest_algo a)
{
    switch (a) {
    case DIGEST_SHA256:
        return 64;
    case DIGEST_SHA1:
        return 40;
    case DIGEST_MD5:
        return 32;
    }
    return -1;
}

const char *ftpc_hash_label(digest_algo a)
{
    switch (a) {
    case DIGEST_SHA256:
        return "sha256";
    case DIGEST_SHA1:
        return "sha1";
    case DIGEST_MD5:
        return "md5";
    }
    return "?";
}

static void parse_hash_line(const char *p, size_t len, ftpc_hash_feat *out)
{
    /* "SHA-256*;SHA-1;MD5;" (the final ';' optional) */
    while (len > 0) {
        size_t n = 0;
        while (n < len && p[n] != ';')
            n++;
        char name[32];
        size_t nl = n;
        while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
            nl--;
        size_t skip = 0;
        while (skip < nl && p[skip] == ' ')
            skip++;
        bool star = nl > skip && p[nl - 1] == '*';
        if (star)
            nl--;
        if (nl > skip && nl - skip < sizeof(name)) {
            memcpy(name, p + skip, nl - skip);
            name[nl - skip] = '\0';
            int a = digest_from_name(name);
            if (a >= 0) {
                out->algos |= 1u << a;
                if (star)
                    out->current = a;
            }
        }
        if (n < len)
            n++; /* the ';' */
        p += n;
        len -= n;
    }
}

void ftpc_hash_feat_parse(const char *text, ftpc_hash_feat *out)
{
    memset(out, 0, sizeof(*out));
    out->current = -1;
    const char *line = text;
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        while (len > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            len--;
        }
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (len >= 4 && strncasecmp(line, "HASH", 4) == 0 && (len == 4 || line[4] == ' ')) {
            out->offered = true;
            if (len > 5)
                parse_hash_line(line + 5, len - 5, out);
        } else if (len >= 4 && strncasecmp(line, "RANG", 4) == 0 && (len == 4 || line[4] == ' ')) {
            out->rang_listed = true;
        }
        line = end ? end + 1 : NULL;
    }
}

int ftpc_hash_choose(const ftpc_hash_feat *f)
{
    static const digest_algo pref[] = {DIGEST_SHA256, DIGEST_SHA1, DIGEST_MD5};
    for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
        if (f->algos & (1u << pref[i]))
            return (int)pref[i];
    return -1;
}

static bool parse_u63(const char **p, int64_t *out)
{
    const char *c = *p;
    if (*c < '0' || *c > '9')
        return false;
    int64_t v = 0;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (v > (INT64_MAX - (*c - '0')) / 10)
            return false;
        v = v * 10 + (*c - '0');
    }
    *out = v;
    *p = c;
    return true;
}

static int parse_hash_reply_line(const char *line, ftpc_hash_reply *out)
{
    const char *p = line;
    while (*p == ' ')
        p++;
    const char *sp = strchr(p, ' ');
    if (sp == NULL || sp - p >= 32)
        return -1;
    char name[32];
    memcpy(name, p, (size_t)(sp - p));
    name[sp - p] = '\0';
    int a = digest_from_name(name);
    if (a < 0)
        return -1;
    p = sp + 1;
    if (!parse_u63(&p, &out->first) || *p++ != '-' || !parse_u63(&p, &out->last) || *p++ != ' ' ||
        out->last < out->first)
        return -1;
    int want = algo_hex_len((digest_algo)a);
    int n = 0;
    for (; isxdigit((unsigned char)p[n]); n++) {
        if (n >= want)
            return -1;
        out->hex[n] = (char)tolower((unsigned char)p[n]);
    }
    if (n != want || (p[n] != '\0' && p[n] != ' ' && p[n] != '\n'))
        return -1;
    out->hex[n] = '\0';
    out->algo = (digest_algo)a;
    return 0;
}

int ftpc_hash_reply_parse(const char *text, ftpc_hash_reply *out)
{
    for (const char *line = text;; line++) {
        if (parse_hash_reply_line(line, out) == 0)
            return 0;
        line = strchr(line, '\n');
        if (line == NULL)
            return -1;
    }
}

/* ---- remote hash query ---- */

typedef enum { RH_WAIT, RH_OPTS, RH_RANG, RH_HASH, RH_DONE } rh_state;

struct ftpc_rhash {
    ftpc_ctx *ctx;
    ftpc_conn *c;
    rh_state state;
    char path[FTPC_URL_PATH_MAX];
    int64_t first, last;
    int want;
    uint64_t size_hint;
    int algo;
    int busy_tries;
    long long deadline; /* while HASH runs: keep the connection's timeout away until then */
    ev_timer timer;     /* keep-alive while hashing; the busy back-off */
    bool backoff;
    ftpc_rhash_cb cb;
    void *ud;
    ftpc_defer defer;
};

static const ftpc_conn_owner rh_owner;

static void rh_finish(ftpc_rhash *h, int state, const ftpc_hash_reply *reply, const ftpc_vresult *r)
{
    if (h->state == RH_DONE)
        return;
    h->state = RH_DONE;
    ev_timer_stop(h->ctx->loop, &h->timer);
    ftpc_conn_set_owner(h->c, NULL, NULL);
    h->cb(h->ud, state, reply, r);
}

__attribute__((format(printf, 4, 5))) static void rh_result(ftpc_rhash *h, ftpc_vstate st,
                                                            int status, const char *fmt, ...)
{
    ftpc_vresult r;
    memset(&r, 0, sizeof(r));
    r.state = st;
    r.algo = h->algo >= 0 ? (digest_algo)h->algo : DIGEST_SHA256;
    r.conn_ok = ftpc_conn_is_ready(h->c);
    char msg[sizeof(r.err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (st == FTPC_V_UNAVAILABLE || st == FTPC_V_NO_RANGE)
        snprintf(r.why, sizeof(r.why), "%.*s", (int)sizeof(r.why) - 1, msg);
    else
        ftpc_err_set(&r.err, status, "%s", msg);
    rh_finish(h, st, NULL, &r);
}

static void rh_send_hash(ftpc_rhash *h)
{
    h->state = RH_HASH;
    ftpc_conn_cmd(h->c, "HASH %s", h->path);
    /* The server reads the file before it answers: keep our inactivity timeout away for an
     * allowance that grows with the size. */
    long long allow =
        h->ctx->opts->timeout_ms + (long long)(h->size_hint * 1000 / RH_BYTES_PER_SEC);
    h->deadline = ev_now(h->ctx->loop) + allow;
    h->backoff = false;
    long tick = h->ctx->opts->timeout_ms / 3;
    ev_timer_start(h->ctx->loop, &h->timer, tick > 0 ? tick : 1);
}

static void rh_after_algo(ftpc_rhash *h)
{
    if (h->first >= 0) {
        h->state = RH_RANG;
        ftpc_conn_cmd(h->c, "RANG %" PRId64 " %" PRId64, h->first, h->last);
        return;
    }
    rh_send_hash(h);
}

static long rh_timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_rhash *h = ud;
    if (h->state == RH_DONE)
        return EV_TIMER_STOP;
    if (h->backoff) {
        h->backoff = false;
        if (!ftpc_conn_is_ready(h->c))
            return EV_TIMER_STOP;
        /* A range is consumed by each HASH: set it again. */
        rh_after_algo(h);
        return EV_TIMER_STOP;
    }
    if (h->state != RH_HASH || ev_now(loop) >= h->deadline)
        return EV_TIMER_STOP; /* from now on the connection's own timeout counts */
    ftpc_conn_touch(h->c);
    long tick = h->ctx->opts->timeout_ms / 3;
    return tick > 0 ? tick : 1;
}

/* The features the connection keeps from its login's FEAT (a FEAT per file would cost a
 * round trip for each and fill the server's log). */
static void rh_ready(ftpc_conn *c, void *ud)
{
    ftpc_rhash *h = ud;
    if (h->state != RH_WAIT)
        return;
    if (!(ftpc_conn_features(c) & FTPC_FEAT_ANSWERED)) {
        rh_result(h, FTPC_V_UNAVAILABLE, 0, "the server has no FEAT, so no HASH");
        return;
    }
    const ftpc_hash_feat *f = ftpc_conn_hash_feat(c);
    if (!f->offered) {
        rh_result(h, FTPC_V_UNAVAILABLE, 0, FTPC_NO_HASH);
        return;
    }
    int a = h->want >= 0 && (f->algos & (1u << h->want)) ? h->want : ftpc_hash_choose(f);
    if (a < 0) {
        rh_result(h, FTPC_V_UNAVAILABLE, 0, "the server offers no hash ftpc knows");
        return;
    }
    h->algo = a;
    if (f->current != a) {
        h->state = RH_OPTS;
        ftpc_conn_cmd(c, "OPTS HASH %s", digest_name((digest_algo)a));
        return;
    }
    rh_after_algo(h);
}

static void rh_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_rhash *h = ud;
    char q[600];
    if (m->code < 200)
        return;
    switch (h->state) {
    case RH_OPTS:
        if (m->code != 200) {
            rh_result(h, FTPC_V_UNAVAILABLE, 0, "OPTS HASH %s refused: %s",
                      digest_name((digest_algo)h->algo),
                      ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        ftpc_conn_hash_selected(c, h->algo);
        rh_after_algo(h);
        return;
    case RH_RANG:
        if (m->code != 350) {
            rh_result(h, FTPC_V_NO_RANGE, 0, "RANG refused: %s",
                      ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        rh_send_hash(h);
        return;
    case RH_HASH: {
        ev_timer_stop(h->ctx->loop, &h->timer);
        if (m->code == 450 && ++h->busy_tries < RH_BUSY_TRIES) {
            h->backoff = true;
            ev_timer_start(h->ctx->loop, &h->timer, RH_BUSY_DELAY_MS << (h->busy_tries - 1));
            return;
        }
        if (m->code != 213) {
            /* The file is there (the transfer just worked): a refusal is the server's
             * policy or trouble, not a verdict on the bytes. */
            if (m->code >= 500 || m->code == 450)
                rh_result(h, FTPC_V_UNAVAILABLE, 0, "HASH refused: %s",
                          ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            else
                rh_result(h, FTPC_V_ERROR, ftpc_status_for_reply(m->code),
                          "HASH %s: the server replied %s", h->path,
                          ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        ftpc_hash_reply rep;
        if (ftpc_hash_reply_parse(m->text, &rep) < 0) {
            rh_result(h, FTPC_V_UNAVAILABLE, 0, "cannot parse the HASH reply %s",
                      ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
            return;
        }
        if (h->first >= 0 && (rep.first != h->first || rep.last != h->last)) {
            /* RANG accepted but not applied to HASH (a server with RANG for transfers only). */
            rh_result(h, FTPC_V_NO_RANGE, 0,
                      "HASH covered %" PRId64 "-%" PRId64 ", not the range asked", rep.first,
                      rep.last);
            return;
        }
        rh_finish(h, FTPC_V_VERIFIED, &rep, NULL);
        return;
    }
    default:
        return;
    }
}

static void rh_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_rhash *h = ud;
    int status = err->status == FTPC_EXIT_CONNECT ? FTPC_EXIT_XFER : err->status;
    rh_result(h, FTPC_V_ERROR, status, "%s", err->msg);
}

static const ftpc_conn_owner rh_owner = {
    .ready = rh_ready,
    .reply = rh_reply,
    .failed = rh_failed,
};

ftpc_rhash *ftpc_rhash_start(ftpc_ctx *ctx, ftpc_conn *c, const char *path, int64_t first,
                             int64_t last, int want, uint64_t size_hint, ftpc_rhash_cb cb, void *ud)
{
    ftpc_rhash *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->ctx = ctx;
    h->c = c;
    snprintf(h->path, sizeof(h->path), "%s", path);
    h->first = first;
    h->last = last;
    h->want = want;
    h->algo = -1;
    h->size_hint = size_hint;
    h->cb = cb;
    h->ud = ud;
    ev_timer_init(&h->timer, rh_timer_cb, h);
    ftpc_conn_set_owner(c, &rh_owner, h);
    return h;
}

static void rh_release(void *p)
{
    free(p);
}

void ftpc_rhash_free(ftpc_rhash *h)
{
    if (h == NULL || h->defer.queued)
        return;
    if (h->state != RH_DONE) {
        h->state = RH_DONE;
        if (h->c != NULL)
            ftpc_conn_set_owner(h->c, NULL, NULL);
    }
    ev_timer_stop(h->ctx->loop, &h->timer);
    ftpc_ctx_defer(h->ctx, &h->defer, rh_release, h);
}

/* ---- local digest in slices on the loop ---- */

typedef struct lhash {
    ftpc_ctx *ctx;
    int fd;
    off_t pos, last;
    digest d;
    char *buf;
    ev_timer tick;
    bool running, done;
    int err; /* 0, or the errno of a failed read */
    char hex[DIGEST_HEX_MAX];
    void (*cb)(void *ud);
    void *ud;
} lhash;

static void lh_stop(lhash *l)
{
    ev_timer_stop(l->ctx->loop, &l->tick);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    digest_free(&l->d);
    free(l->buf);
    l->buf = NULL;
    l->running = false;
}

static void lh_end(lhash *l, int err)
{
    l->err = err;
    l->done = true;
    lh_stop(l);
    l->cb(l->ud);
}

static long lh_tick(ev_loop *loop, ev_timer *t, void *ud)
{
    lhash *l = ud;
    int r = l->last < l->pos
                ? 1
                : digest_fd_range(&l->d, l->fd, &l->pos, l->last, LH_SLICE, l->buf, LH_BUF);
    if (r == 0)
        return 0; /* more next wakeup: other connections run in between */
    if (r < 0) {
        lh_end(l, errno);
        return EV_TIMER_STOP;
    }
    if (digest_final_hex(&l->d, l->hex) < 0) {
        lh_end(l, errno);
        return EV_TIMER_STOP;
    }
    lh_end(l, 0);
    return EV_TIMER_STOP;
}

/* Hashes bytes [first, last] of path, or of the file open as from_fd when that is not -1 (all
 * of it when last < 0); cb from the loop. Returns 0,
 * or -1 with errno (then no callback). */
static int lh_start(lhash *l, ftpc_ctx *ctx, const char *path, int from_fd, digest_algo a,
                    off_t first, off_t last, void (*cb)(void *), void *ud)
{
    memset(l, 0, sizeof(*l));
    l->ctx = ctx;
    l->cb = cb;
    l->ud = ud;
    ev_timer_init(&l->tick, lh_tick, l);
    l->fd = from_fd >= 0 ? fcntl(from_fd, F_DUPFD_CLOEXEC, 3)
                         : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) < 0) {
        int e = errno;
        lh_stop(l);
        errno = e;
        return -1;
    }
    l->pos = first;
    l->last = last >= 0 ? last : st.st_size - 1;
    l->buf = malloc(LH_BUF);
    if (l->buf == NULL || digest_init(&l->d, a) < 0) {
        int e = l->buf == NULL ? ENOMEM : errno;
        lh_stop(l);
        errno = e;
        return -1;
    }
    (void)posix_fadvise(l->fd, first, 0, POSIX_FADV_SEQUENTIAL);
    l->running = true;
    ev_timer_start(ctx->loop, &l->tick, 0);
    return 0;
}

/* ---- reports ---- */

void ftpc_verify_report(ftpc_ctx *ctx, ftpc_task *t, bool verified, digest_algo algo,
                        const char *detail)
{
    /* The transfer's line waited for this: a match goes into its summary, anything else
     * follows it on a line of its own. A download still to be renamed into place keeps its
     * line up until the rename is done (jobs.c ends it), and so does an upload still in its
     * temporary file on the server (segput.c). */
    bool pending = t->rename_pending || t->remote_rename_pending;
    if (t->held_bar != NULL && verified) {
        char note[96];
        snprintf(note, sizeof(note), "verified %s%s%s%s", ftpc_hash_label(algo),
                 detail && *detail ? " (" : "", detail ? detail : "", detail && *detail ? ")" : "");
        if (pending) {
            /* out of memory: the line ends without its note, the transfer as it ended */
            (void)ftpc_task_set(&t->held_note, note);
            return;
        }
        ftpc_bar_done_note(t->held_bar, true, note);
        t->held_bar = NULL;
        ftpc_task_unset(&t->held_note);
        return;
    }
    if (!pending) {
        ftpc_bar_done(t->held_bar, true);
        t->held_bar = NULL;
    }
    if (ctx->opts->quiet)
        return;
    const char *name = ftpc_task_name(t);
    /* A server without HASH is said once: a mirror from it would otherwise get a line a file. */
    if (!verified && detail != NULL && strcmp(detail, FTPC_NO_HASH) == 0) {
        if (t->ep != NULL && !ftpc_endpoint_warn_once_hash(t->ep))
            return;
        if (ctx->opts->no_hash_told)
            return;
        ftpc_msg(ctx, "%s: not verified (%s, so no file from it is)", name, detail);
        return;
    }
    if (verified)
        ftpc_msg(ctx, "%s: verified %s%s%s%s", name, ftpc_hash_label(algo),
                 detail && *detail ? " (" : "", detail ? detail : "", detail && *detail ? ")" : "");
    else
        ftpc_msg(ctx, "%s: not verified (%s)", name, detail ? detail : "no HASH");
}

/* The local copy to check: a download waits in its part file until the check is done. */
static int local_copy(const ftpc_task *t, char *out, size_t size)
{
    if (t->rename_pending)
        return ftpc_part_name(t->local, out, size);
    int n = snprintf(out, size, "%s", t->local);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

bool ftpc_verify_wanted(const ftpc_ctx *ctx, const ftpc_task *t)
{
    /* ASCII transfers convert line ends: the local bytes are not the server's. */
    if (!ctx->opts->verify || ftpc_task_ascii(t, ctx->opts->ascii))
        return false;
    if (t->kind == FTPC_T_PUT)
        return true;
    if (t->kind != FTPC_T_GET || strcmp(t->local, "-") == 0)
        return false;
    char path[PATH_MAX];
    struct stat st;
    return local_copy(t, path, sizeof(path)) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- whole-file verification ---- */

typedef enum { VS_WAIT, VS_HASHING, VS_SIZE, VS_DONE } vstate;

struct ftpc_verify {
    ftpc_ctx *ctx;
    ftpc_task *t;
    const char *remote_path; /* the server's file checked: t->remote, or ftpc_verify_set_remote's */
    char path[PATH_MAX];     /* the local copy checked (local_copy) */
    ftpc_conn *c;
    vstate state;
    ftpc_op_done_cb done;
    void *done_ud;
    ftpc_rhash *rh;
    bool remote_in;
    int remote_state;
    ftpc_hash_reply remote;
    ftpc_vresult rres;
    lhash lh;
    int src_fd; /* ftpc_verify_set_source, or -1 */
    digest_algo local_algo;
    int64_t local_size;
    char why[200];   /* not verified: the reason */
    bool size_check; /* without HASH, compare SIZE (the transfer did not) */
    bool streamed;   /* put from standard input: its SHA-256 was taken as it was read */
    ftpc_defer defer;
    bool finished;
};

static const ftpc_conn_owner vsize_owner;

static void v_finish(ftpc_verify *v, int status)
{
    if (v->finished)
        return;
    v->finished = true;
    v->state = VS_DONE;
    if (v->lh.running)
        lh_stop(&v->lh);
    bool reusable = v->c != NULL && ftpc_conn_is_ready(v->c);
    if (v->c != NULL)
        ftpc_conn_set_owner(v->c, NULL, NULL);
    ftpc_task_set_status(v->t, status);
    v->done(v->done_ud, status, reusable);
}

__attribute__((format(printf, 3, 4))) static void v_fail(ftpc_verify *v, int status,
                                                         const char *fmt, ...)
{
    char what[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ftpc_task_fail(v->t, status, "verifying %s: %s", v->t->display, what);
    v_finish(v, status);
}

/* No HASH: the size is the check left. */
static void v_size(ftpc_verify *v)
{
    unsigned feat = ftpc_conn_features(v->c);
    if (!(feat & FTPC_FEAT_SIZE) || !ftpc_conn_is_ready(v->c)) {
        ftpc_verify_report(v->ctx, v->t, false, DIGEST_SHA256, v->why);
        v_finish(v, FTPC_OK);
        return;
    }
    v->state = VS_SIZE;
    ftpc_conn_set_owner(v->c, &vsize_owner, v);
}

static void v_compare(ftpc_verify *v)
{
    if (!v->remote_in || v->lh.running || v->finished)
        return;
    if (v->remote_state != FTPC_V_VERIFIED) {
        if (v->remote_state == FTPC_V_ERROR) {
            v_fail(v, v->rres.err.status, "%s", v->rres.err.msg);
            return;
        }
        snprintf(v->why, sizeof(v->why), "%s", v->rres.why);
        if (v->size_check) {
            v_size(v);
            return;
        }
        ftpc_verify_report(v->ctx, v->t, false, DIGEST_SHA256, v->why);
        v_finish(v, FTPC_OK);
        return;
    }
    if (v->lh.err != 0) {
        v_fail(v, FTPC_EXIT_LOCAL, "reading %s: %s", v->path,
               v->lh.err == ENODATA ? "it shrank meanwhile" : strerror(v->lh.err));
        return;
    }
    /* The draft's range is inclusive (0-9 for ten bytes); ProFTPD's mod_digest writes the
     * end exclusive (0-10). Either names the whole file, and the digest decides. */
    int64_t rsize = v->local_size == 0 ? 0 : v->remote.last + 1;
    bool whole = rsize == v->local_size || v->remote.last == v->local_size;
    bool same = strcmp(v->lh.hex, v->remote.hex) == 0 && v->remote.first == 0 && whole;
    if (!same) {
        char kept[2 * PATH_MAX + 64] = "";
        if (v->t->rename_pending)
            snprintf(kept, sizeof(kept), "; the download is kept as %s, not put in place of %s",
                     v->path, v->t->local);
        else if (v->t->kind == FTPC_T_GET)
            snprintf(kept, sizeof(kept), "; the downloaded file is kept as %s", v->path);
        /* A server sends the size its file had when the RETR began (the size checked): a file
         * still being written (a log) has more bytes by the time it is hashed. That is no
         * corruption, and -c goes on from the bytes in. */
        if (v->t->kind == FTPC_T_GET && strcmp(v->t->local, "-") != 0 && v->remote.first == 0 &&
            !whole && v->remote.last > v->local_size) {
            ftpc_task_fail(v->t, FTPC_EXIT_VERIFY,
                           "verification failed for %s: the server's file is larger than when "
                           "the download began (it grew, or was replaced; its HASH covers "
                           "bytes 0-%" PRId64 ", %" PRId64 " came)%s; %s fetches the rest, "
                           "or all of it again if its first bytes changed",
                           v->t->display, v->remote.last, v->local_size, kept,
                           v->t->by_path ? "mirror -c" : "get -c");
            v_finish(v, FTPC_EXIT_VERIFY);
            return;
        }
        ftpc_task_fail(v->t, FTPC_EXIT_VERIFY,
                       "verification failed for %s: local %s %s (%s, %" PRId64
                       " bytes) differs from the server's %s %s (bytes %" PRId64 "-%" PRId64 ")%s",
                       v->t->display, ftpc_hash_label(v->local_algo), v->lh.hex, v->path,
                       v->local_size, ftpc_hash_label(v->remote.algo), v->remote.hex,
                       v->remote.first, v->remote.last, kept);
        v_finish(v, FTPC_EXIT_VERIFY);
        return;
    }
    ftpc_verify_report(v->ctx, v->t, true, v->remote.algo, NULL);
    v_finish(v, FTPC_OK);
}

static void v_local_done(void *ud)
{
    v_compare(ud);
}

static void v_start_local(ftpc_verify *v, digest_algo a)
{
    v->local_algo = a;
    if (lh_start(&v->lh, v->ctx, v->path, v->src_fd, a, 0, -1, v_local_done, v) < 0) {
        v->lh.err = errno;
        v->lh.done = true;
    }
}

static void v_remote_done(void *ud, int state, const ftpc_hash_reply *reply, const ftpc_vresult *r)
{
    ftpc_verify *v = ud;
    v->rh = NULL; /* it frees itself: see below */
    v->remote_in = true;
    v->remote_state = state;
    if (reply != NULL)
        v->remote = *reply;
    if (r != NULL)
        v->rres = *r;
    if (state == FTPC_V_VERIFIED && reply->algo != v->local_algo && v->streamed) {
        /* Standard input cannot be read again in the server's algorithm. */
        v->remote_state = FTPC_V_UNAVAILABLE;
        snprintf(v->rres.why, sizeof(v->rres.why),
                 "the server hashes with %s, and %s was hashed with %s as it was read",
                 ftpc_hash_label(reply->algo),
                 strcmp(v->t->local, "-") == 0 ? "standard input" : "the input",
                 ftpc_hash_label(v->local_algo));
    } else if (state == FTPC_V_VERIFIED && reply->algo != v->local_algo) {
        /* The server hashed with another algorithm than the one started locally. */
        if (v->lh.running)
            lh_stop(&v->lh);
        v_start_local(v, reply->algo);
    }
    if (state != FTPC_V_VERIFIED && v->lh.running)
        lh_stop(&v->lh); /* not needed */
    v_compare(v);
}

static void v_rh_free_cb(void *ud, int state, const ftpc_hash_reply *reply, const ftpc_vresult *r)
{
    ftpc_verify *v = ud;
    ftpc_rhash *h = v->rh;
    v_remote_done(v, state, reply, r);
    ftpc_rhash_free(h);
}

static void vsize_ready(ftpc_conn *c, void *ud)
{
    ftpc_verify *v = ud;
    if (v->state != VS_SIZE)
        return;
    ftpc_conn_cmd(c, "SIZE %s", v->remote_path);
}

static void vsize_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    ftpc_verify *v = ud;
    if (m->code < 200 || v->state != VS_SIZE)
        return;
    int64_t n = m->code == 213 ? ftpc_parse_size_reply(m->text) : -1;
    if (n >= 0) {
        if (n != v->local_size) {
            ftpc_task_fail(v->t, FTPC_EXIT_VERIFY,
                           "verification failed for %s: the server has %" PRId64
                           " bytes, %s has %" PRId64,
                           v->t->display, n, v->path, v->local_size);
            v_finish(v, FTPC_EXIT_VERIFY);
            return;
        }
        char why[260];
        snprintf(why, sizeof(why), "%s; size matches", v->why);
        ftpc_verify_report(v->ctx, v->t, false, DIGEST_SHA256, why);
    } else {
        ftpc_verify_report(v->ctx, v->t, false, DIGEST_SHA256, v->why);
    }
    v_finish(v, FTPC_OK);
}

static void vsize_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    ftpc_verify *v = ud;
    v_fail(v, err->status == FTPC_EXIT_CONNECT ? FTPC_EXIT_XFER : err->status, "%s", err->msg);
}

static const ftpc_conn_owner vsize_owner = {
    .ready = vsize_ready,
    .reply = vsize_reply,
    .failed = vsize_failed,
};

ftpc_verify *ftpc_verify_new(ftpc_ctx *ctx, ftpc_task *t, ftpc_op_done_cb done, void *ud)
{
    ftpc_verify *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->ctx = ctx;
    v->t = t;
    v->remote_path = t->remote;
    v->done = done;
    v->done_ud = ud;
    v->lh.fd = -1;
    v->src_fd = -1;
    ev_timer_init(&v->lh.tick, lh_tick, &v->lh);
    return v;
}

void ftpc_verify_set_source(ftpc_verify *v, int fd)
{
    v->src_fd = fd;
}

void ftpc_verify_set_size_check(ftpc_verify *v, bool on)
{
    v->size_check = on;
}

void ftpc_verify_set_remote(ftpc_verify *v, const char *remote)
{
    v->remote_path = remote;
}

/* put from standard input: there is no file to read back; the digest the transfer took of
 * every byte it read stands for it. */
static void v_start_streamed(ftpc_verify *v, ftpc_conn *c)
{
    const ftpc_task *t = v->t;
    if (!t->src_digest) {
        ftpc_verify_report(v->ctx, v->t, false, DIGEST_SHA256,
                           strcmp(t->local, "-") == 0
                               ? "standard input could not be hashed as it was read"
                               : "the input could not be hashed as it was read");
        v_finish(v, FTPC_OK);
        return;
    }
    v->streamed = true;
    snprintf(v->path, sizeof(v->path), "%s", ftpc_task_src_name(t));
    v->local_size = (int64_t)t->src_len;
    v->local_algo = DIGEST_SHA256;
    snprintf(v->lh.hex, sizeof(v->lh.hex), "%s", t->src_sha256);
    v->lh.done = true;
    v->rh = ftpc_rhash_start(v->ctx, c, v->remote_path, -1, -1, DIGEST_SHA256, t->src_len,
                             v_rh_free_cb, v);
    if (v->rh == NULL)
        v_fail(v, FTPC_EXIT_LOCAL, "out of memory");
}

void ftpc_verify_start(ftpc_verify *v, ftpc_conn *c)
{
    v->c = c;
    v->state = VS_HASHING;
    if (ftpc_task_stdin(v->t)) {
        v_start_streamed(v, c);
        return;
    }
    struct stat st;
    if (local_copy(v->t, v->path, sizeof(v->path)) < 0) {
        v_fail(v, FTPC_EXIT_LOCAL, "%s: name too long", v->t->local);
        return;
    }
    if ((v->src_fd >= 0 ? fstat(v->src_fd, &st) : stat(v->path, &st)) < 0) {
        v_fail(v, FTPC_EXIT_LOCAL, "%s: %s", v->path, strerror(errno));
        return;
    }
    v->local_size = (int64_t)st.st_size;
    /* Both digests at once: the server reads its copy while ftpc reads its own. */
    v_start_local(v, DIGEST_SHA256);
    v->rh = ftpc_rhash_start(v->ctx, c, v->remote_path, -1, -1, DIGEST_SHA256, (uint64_t)st.st_size,
                             v_rh_free_cb, v);
    if (v->rh == NULL)
        v_fail(v, FTPC_EXIT_LOCAL, "out of memory");
}

static void v_release(void *p)
{
    free(p);
}

void ftpc_verify_free(ftpc_verify *v)
{
    if (v == NULL || v->defer.queued)
        return;
    v->finished = true;
    if (v->lh.running)
        lh_stop(&v->lh);
    if (v->rh != NULL) {
        ftpc_rhash_free(v->rh);
        v->rh = NULL;
    }
    ftpc_ctx_defer(v->ctx, &v->defer, v_release, v);
}

/* ---- a streamed byte range ---- */

struct ftpc_rcheck {
    ftpc_ctx *ctx;
    const ftpc_task *t;
    const char *remote_path; /* t->remote, or ftpc_rcheck_set_remote's */
    char path[PATH_MAX];
    uint64_t start, end;
    digest d;
    bool d_ok;
    uint64_t fed; /* bytes streamed in; short of the range, the file is read back */
    char hex[DIGEST_HEX_MAX];
    ftpc_rhash *rh;
    ftpc_hash_reply remote;
    lhash lh; /* only when the server's algorithm is not the streamed one */
    ftpc_conn *c;
    ftpc_vdone_cb cb;
    void *ud;
    bool finished;
    ftpc_defer defer;
};

ftpc_rcheck *ftpc_rcheck_new(ftpc_ctx *ctx, const ftpc_task *t, const char *local_path,
                             uint64_t start, uint64_t end)
{
    ftpc_rcheck *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->ctx = ctx;
    k->t = t;
    k->remote_path = t->remote;
    snprintf(k->path, sizeof(k->path), "%s", local_path);
    k->start = start;
    k->end = end;
    k->lh.fd = -1;
    ev_timer_init(&k->lh.tick, lh_tick, &k->lh);
    k->d_ok = digest_init(&k->d, DIGEST_SHA256) == 0;
    return k;
}

void ftpc_rcheck_set_remote(ftpc_rcheck *k, const char *remote)
{
    k->remote_path = remote;
}

void ftpc_rcheck_feed(ftpc_rcheck *k, const void *p, size_t n)
{
    if (k == NULL)
        return;
    k->fed += n;
    if (k->d_ok && digest_update(&k->d, p, n) < 0)
        k->d_ok = false;
}

static void rc_end(ftpc_rcheck *k, const ftpc_vresult *r)
{
    if (k->finished)
        return;
    k->finished = true;
    if (k->lh.running)
        lh_stop(&k->lh);
    k->cb(k->ud, r);
}

static void rc_compare(ftpc_rcheck *k, const char *local_hex, digest_algo a)
{
    ftpc_vresult r;
    memset(&r, 0, sizeof(r));
    r.algo = a;
    r.conn_ok = ftpc_conn_is_ready(k->c);
    if (strcmp(local_hex, k->remote.hex) == 0) {
        r.state = FTPC_V_VERIFIED;
    } else {
        r.state = FTPC_V_MISMATCH;
        ftpc_err_set(&r.err, FTPC_EXIT_VERIFY,
                     "verification failed for %s, bytes %" PRIu64 "-%" PRIu64
                     ": local %s %s, remote %s %s",
                     k->t->display, k->start, k->end - 1, ftpc_hash_label(a), local_hex,
                     ftpc_hash_label(a), k->remote.hex);
    }
    rc_end(k, &r);
}

static void rc_local_done(void *ud)
{
    ftpc_rcheck *k = ud;
    if (k->lh.err != 0) {
        ftpc_vresult r;
        memset(&r, 0, sizeof(r));
        r.state = FTPC_V_ERROR;
        ftpc_err_set(&r.err, FTPC_EXIT_LOCAL, "reading %s: %s", k->path, strerror(k->lh.err));
        rc_end(k, &r);
        return;
    }
    rc_compare(k, k->lh.hex, k->remote.algo);
}

static void rc_remote_done(void *ud, int state, const ftpc_hash_reply *reply, const ftpc_vresult *r)
{
    ftpc_rcheck *k = ud;
    ftpc_rhash *h = k->rh;
    k->rh = NULL;
    ftpc_rhash_free(h);
    if (state != FTPC_V_VERIFIED) {
        rc_end(k, r);
        return;
    }
    k->remote = *reply;
    if (reply->algo == DIGEST_SHA256 && k->d_ok && k->fed == k->end - k->start &&
        digest_final_hex(&k->d, k->hex) == 0) {
        k->d_ok = false;
        rc_compare(k, k->hex, DIGEST_SHA256);
        return;
    }
    /* Another algorithm than the streamed one, or nothing streamed: read the range back. */
    if (lh_start(&k->lh, k->ctx, k->path, -1, reply->algo, (off_t)k->start, (off_t)k->end - 1,
                 rc_local_done, k) < 0) {
        k->lh.err = errno;
        rc_local_done(k);
    }
}

void ftpc_rcheck_run(ftpc_rcheck *k, ftpc_conn *c, ftpc_vdone_cb cb, void *ud)
{
    k->c = c;
    k->cb = cb;
    k->ud = ud;
    if (k->end <= k->start) {
        ftpc_vresult r = {.state = FTPC_V_NO_RANGE, .conn_ok = true};
        snprintf(r.why, sizeof(r.why), "empty range");
        rc_end(k, &r);
        return;
    }
    k->rh = ftpc_rhash_start(k->ctx, c, k->remote_path, (int64_t)k->start, (int64_t)k->end - 1,
                             DIGEST_SHA256, k->end - k->start, rc_remote_done, k);
    if (k->rh == NULL) {
        ftpc_vresult r = {.state = FTPC_V_ERROR};
        ftpc_err_set(&r.err, FTPC_EXIT_LOCAL, "out of memory");
        rc_end(k, &r);
    }
}

static void rc_release(void *p)
{
    free(p);
}

void ftpc_rcheck_free(ftpc_rcheck *k)
{
    if (k == NULL || k->defer.queued)
        return;
    k->finished = true;
    if (k->lh.running)
        lh_stop(&k->lh);
    digest_free(&k->d);
    if (k->rh != NULL) {
        ftpc_rhash_free(k->rh);
        k->rh = NULL;
    }
    ftpc_ctx_defer(k->ctx, &k->defer, rc_release, k);
}
