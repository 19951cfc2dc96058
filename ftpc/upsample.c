#include "upsample.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "conn.h"
#include "dchan.h"
#include "overlap.h"
#include "segget.h"
#include "status.h"

typedef enum {
    UP_IDLE,
    UP_LOGIN, /* its connection being made */
    UP_DATA,  /* the data connection being prepared */
    UP_REST,
    UP_RETR, /* reading the window */
} up_state;

typedef struct {
    ftpc_upsample *u;
    ftpc_conn *c;
    ftpc_dchan dc;
    up_state state;
    uint64_t at; /* the window: [at, at + len) */
    size_t len, got;
    char buf[FTPC_OVERLAP];
} up_probe;

struct ftpc_upsample {
    ftpc_ctx *ctx;
    const ftpc_endpoint *ep;
    char remote[FTPC_URL_PATH_MAX];
    int fd;
    ftpc_upsample_cb cb;
    void *ud;
    uint64_t ends[FTPC_UPSAMPLE_GRID_MAX + 1];
    int nends, next;
    up_probe *probes;
    int nprobes;
    bool decided;
};

static const ftpc_conn_owner probe_owner;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int ftpc_upsample_grid(uint64_t size, uint64_t out[FTPC_UPSAMPLE_GRID_MAX])
{
    int nmax = ftpc_segget_count((int64_t)size, FTPC_SEGMENTS_MAX), k = 0;
    for (int m = 2; m <= nmax; m++)
        for (int i = 1; i < m; i++)
            out[k++] = size * (uint64_t)i / (uint64_t)m;
    qsort(out, (size_t)k, sizeof(out[0]), cmp_u64);
    int w = 0;
    for (int r = 0; r < k; r++)
        if (out[r] > 0 && (w == 0 || out[w - 1] != out[r]))
            out[w++] = out[r];
    return w;
}

/* The windows' ends: the kept end, and each grid offset before it. */
static void plan(ftpc_upsample *u, uint64_t kept, uint64_t size)
{
    uint64_t grid[FTPC_UPSAMPLE_GRID_MAX];
    int n = ftpc_upsample_grid(size, grid);
    u->nends = 0;
    for (int i = 0; i < n && grid[i] < kept; i++)
        u->ends[u->nends++] = grid[i];
    u->ends[u->nends++] = kept;
}

static void probe_stop(up_probe *pr)
{
    ftpc_dchan_close(&pr->dc);
    if (pr->c != NULL) {
        ftpc_conn_free(pr->c); /* mid-RETR: dropped, not ABORed */
        pr->c = NULL;
    }
    pr->state = UP_IDLE;
}

static void decide(ftpc_upsample *u, ftpc_ups_verdict v, const char *why)
{
    if (u->decided)
        return;
    u->decided = true;
    for (int i = 0; i < u->nprobes; i++)
        probe_stop(&u->probes[i]);
    u->cb(u->ud, v, why);
}

/* The window could not be read: the check cannot tell. */
static void unknown(up_probe *pr, const char *detail)
{
    char why[700];
    snprintf(why, sizeof(why), "reading back bytes %" PRIu64 "-%" PRIu64 ": %s", pr->at,
             pr->at + pr->len - 1, detail);
    decide(pr->u, FTPC_UPS_UNKNOWN, why);
}

/* The next window on a connection of pr's own. Returns -1 when out of memory. */
static int launch(up_probe *pr)
{
    ftpc_upsample *u = pr->u;
    uint64_t end = u->ends[u->next++];
    pr->len = end < FTPC_OVERLAP ? (size_t)end : FTPC_OVERLAP;
    pr->at = end - pr->len;
    pr->got = 0;
    pr->state = UP_LOGIN;
    pr->c = ftpc_conn_new(u->ctx, u->ep, &probe_owner, pr);
    return pr->c == NULL ? -1 : 0;
}

/* Starts the next window on pr, or ends the check when none is left and none runs. */
static void probe_next(up_probe *pr)
{
    ftpc_upsample *u = pr->u;
    probe_stop(pr);
    if (u->next < u->nends) {
        if (launch(pr) < 0)
            decide(u, FTPC_UPS_UNKNOWN, "out of memory");
        return;
    }
    for (int i = 0; i < u->nprobes; i++)
        if (u->probes[i].state != UP_IDLE)
            return;
    decide(u, FTPC_UPS_SAME, NULL);
}

static void window_in(up_probe *pr)
{
    char here[FTPC_OVERLAP];
    if (pread(pr->u->fd, here, pr->len, (off_t)pr->at) != (ssize_t)pr->len ||
        memcmp(here, pr->buf, pr->len) != 0) {
        char why[200];
        snprintf(why, sizeof(why), "bytes %" PRIu64 "-%" PRIu64 " differ from the local file's",
                 pr->at, pr->at + pr->len - 1);
        decide(pr->u, FTPC_UPS_DIFFER, why);
        return;
    }
    probe_next(pr);
}

static void probe_data_cb(ev_loop *loop, int fd, int mask, void *ud);

static void probe_read(up_probe *pr)
{
    char why[400];
    if (!pr->dc.hs_done) {
        int r = ftpc_dchan_handshake(&pr->dc, why, sizeof(why));
        if (r < 0) {
            unknown(pr, why);
            return;
        }
        if (r == 0) {
            ftpc_dchan_watch(&pr->dc, 0, probe_data_cb, pr);
            return;
        }
    }
    for (int i = 0; i < 64; i++) {
        ssize_t n = stream_read(pr->dc.s, pr->buf + pr->got, pr->len - pr->got);
        if (n > 0) {
            pr->got += (size_t)n;
            if (pr->got == pr->len) {
                window_in(pr);
                return;
            }
            continue;
        }
        if (n < 0 && pr->dc.s->last_errno == EAGAIN) {
            ftpc_dchan_watch(&pr->dc, EV_READ, probe_data_cb, pr);
            return;
        }
        const char *e = n == 0 ? "the server's file ends before them" : ftpc_dchan_error(&pr->dc);
        unknown(pr, e != NULL ? e : strerror(pr->dc.s->last_errno));
        return;
    }
    ftpc_dchan_watch(&pr->dc, EV_READ, probe_data_cb, pr);
}

static void probe_data_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    up_probe *pr = ud;
    if (!pr->u->decided && pr->state == UP_RETR)
        probe_read(pr);
}

static void probe_attach(up_probe *pr, int fd)
{
    char why[400];
    if (ftpc_dchan_open(&pr->dc, pr->c, fd, why, sizeof(why)) < 0) {
        unknown(pr, why);
        return;
    }
    probe_read(pr);
}

static void probe_retr(up_probe *pr)
{
    if (ftpc_conn_send(pr->c, "RETR %s", pr->u->remote) < 0) {
        unknown(pr, "cannot send RETR");
        return;
    }
    pr->state = UP_RETR;
    int fd = ftpc_conn_take_data(pr->c);
    if (fd >= 0)
        probe_attach(pr, fd);
}

static void probe_ready(ftpc_conn *c, void *ud)
{
    up_probe *pr = ud;
    if (pr->u->decided || pr->state != UP_LOGIN)
        return;
    pr->state = UP_DATA;
    ftpc_conn_open_data(c);
}

static void probe_prepared(ftpc_conn *c, void *ud)
{
    up_probe *pr = ud;
    if (pr->u->decided || pr->state != UP_DATA)
        return;
    if (pr->at == 0) {
        probe_retr(pr);
        return;
    }
    pr->state = UP_REST;
    ftpc_conn_cmd(c, "REST %" PRIu64, pr->at);
}

static void probe_data_open(ftpc_conn *c, int fd, void *ud)
{
    up_probe *pr = ud;
    if (pr->u->decided || pr->state != UP_RETR || ftpc_dchan_is_open(&pr->dc)) {
        close(fd);
        return;
    }
    probe_attach(pr, fd);
}

static void probe_reply(ftpc_conn *c, const ftp_reply_msg *m, void *ud)
{
    up_probe *pr = ud;
    char q[600];
    if (pr->u->decided || m->code < 200)
        return;
    if (pr->state == UP_REST && m->code == 350) {
        probe_retr(pr);
        return;
    }
    if (pr->state == UP_REST || (pr->state == UP_RETR && m->code >= 300)) {
        char what[700];
        snprintf(what, sizeof(what), "the server replied %s",
                 ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
        unknown(pr, what);
        return;
    }
    /* a 2xx to RETR: the window's bytes may still be on their way; the data decides */
}

static void probe_conn_failed(ftpc_conn *c, const ftpc_err *err, void *ud)
{
    up_probe *pr = ud;
    if (pr->u->decided)
        return;
    unknown(pr, err->msg);
}

static const ftpc_conn_owner probe_owner = {
    .ready = probe_ready,
    .reply = probe_reply,
    .data_prepared = probe_prepared,
    .data_open = probe_data_open,
    .failed = probe_conn_failed,
};

ftpc_upsample *ftpc_upsample_start(ftpc_ctx *ctx, const ftpc_endpoint *ep, const char *remote,
                                   int fd, uint64_t kept, uint64_t size, int conns,
                                   ftpc_upsample_cb cb, void *ud)
{
    ftpc_upsample *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->ctx = ctx;
    u->ep = ep;
    snprintf(u->remote, sizeof(u->remote), "%s", remote);
    u->fd = fd;
    u->cb = cb;
    u->ud = ud;
    plan(u, kept, size);
    u->nprobes = conns < 1 ? 1 : conns < u->nends ? conns : u->nends;
    u->probes = calloc((size_t)u->nprobes, sizeof(*u->probes));
    if (u->probes == NULL) {
        free(u);
        return NULL;
    }
    for (int i = 0; i < u->nprobes; i++) {
        u->probes[i].u = u;
        ftpc_dchan_init(&u->probes[i].dc, ctx->loop);
    }
    for (int i = 0; i < u->nprobes; i++)
        if (launch(&u->probes[i]) < 0) {
            ftpc_upsample_free(u);
            return NULL;
        }
    return u;
}

void ftpc_upsample_free(ftpc_upsample *u)
{
    if (u == NULL)
        return;
    for (int i = 0; i < u->nprobes; i++)
        probe_stop(&u->probes[i]);
    free(u->probes);
    free(u);
}
