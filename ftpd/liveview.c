/* The server's live view: a status block below the log on a terminal (liveview.h). */
#include "liveview.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"
#include "termsize.h"
#include "server.h"
#include "session.h"
#include "xfer.h"

/* Four frames a second: a rate that moves is readable, and the loop barely notices. */
#define LIVEVIEW_TICK_MS 250
/* Transfer lines at most, whatever the terminal's height: the log must keep room to scroll. */
#define LIVEVIEW_MAX_LINES 20
/* Wider terminals get lines this wide: room enough, and a line's bytes stay bounded. */
#define LIVEVIEW_MAX_WIDTH 400
#define LIVEVIEW_LINE_MAX (4 * LIVEVIEW_MAX_WIDTH + 64)
/* A user name longer than this is cut, so the paths keep their room. */
#define USER_CELLS 16
/* Below this many cells for the path, the line drops its bar, then its ETA. */
#define PATH_MIN_CELLS 20
/* ...and the least it is shown in at all */
#define PATH_SHORTEST_CELLS 8

struct liveview {
    server *srv;
    ev_timer tick;
    xfer **items; /* this frame's transfers, reused from frame to frame */
    size_t cap;
    char *last;                /* the text last drawn */
    struct sigaction old_cont; /* SIGCONT's action before the view's */
    bool cont_set;
};

/* ---- text ---- */

typedef struct text {
    char *p;
    size_t len, size; /* size > 0; p[len] is always '\0' */
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n >= t->size)
        n = t->size - 1 - t->len;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void put_str(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_spaces(text *t, size_t n)
{
    while (n-- > 0)
        put(t, " ", 1);
}

/* Appends s in exactly w cells: padded, or cut with "..." where it was cut, at its start
 * when keep_tail (a path's file name is what tells transfers apart), else at its end. */
static void put_fitted(text *t, const char *s, size_t w, bool pad, bool keep_tail)
{
    size_t have = progress_cells(s);
    if (have <= w) {
        put_str(t, s);
        if (pad)
            put_spaces(t, w - have);
        return;
    }
    size_t dots = w >= 4 ? 3 : 0;
    size_t keep = w - dots, used;
    if (!keep_tail) {
        put(t, s, progress_fit_prefix(s, keep, &used));
        put(t, "...", dots);
    } else {
        /* drop characters from the start until the rest fits */
        const char *p = s;
        size_t rest = have, len;
        while (*p != '\0' && rest > keep) {
            rest -= progress_char_cells(p, &len);
            p += len;
        }
        used = rest;
        put(t, "...", dots);
        put_str(t, p);
    }
    if (pad)
        put_spaces(t, keep - used); /* a wide character that did not fit leaves a cell */
}

/* Cuts t to at most w cells. */
static void cut_cells(text *t, size_t w)
{
    size_t used;
    t->len = progress_fit_prefix(t->p, w, &used);
    t->p[t->len] = '\0';
}

/* ---- lines ---- */

/* The cells a line may take: one less than the terminal's width, so that it never wraps,
 * and room for the shortest line even on a tiny terminal. */
static size_t line_cells(int width)
{
    return width > 20 ? (size_t)width - 1 : 19;
}

/* "[id] user VERB " into left. */
static void format_left(char *left, size_t size, const liveview_item *it)
{
    char user[128];
    progress_sanitize(user, sizeof(user), it->user ? it->user : "-");
    text l = {left, 0, size};
    left[0] = '\0';
    char id[32];
    snprintf(id, sizeof(id), "[%lu] ", it->id);
    put_str(&l, id);
    put_fitted(&l, user, USER_CELLS, false, false);
    put_str(&l, " ");
    put_str(&l, it->verb ? it->verb : "?");
    put_str(&l, " ");
}

size_t liveview_left_cells(const liveview_item *it)
{
    char left[256];
    format_left(left, sizeof(left), it);
    return progress_cells(left);
}

/* The end of a path that would not fit in size bytes, at a character's start: sanitizing
 * cuts what does not fit at its end, where the file name is, and the line shows a path's
 * end. Sanitizing never makes a text longer. */
static const char *path_tail(const char *path, size_t size)
{
    size_t n = strlen(path);
    if (n < size)
        return path;
    const char *p = path + n - (size - 1);
    while ((*p & 0xC0) == 0x80) /* a continuation byte: the character began before */
        p++;
    return p;
}

size_t liveview_format_item(char *out, size_t size, int width, const liveview_item *it)
{
    if (size == 0)
        return 0;
    text t = {out, 0, size};
    out[0] = '\0';
    size_t w = line_cells(width);

    char path[LIVEVIEW_LINE_MAX], left[256];
    progress_sanitize(path, sizeof(path), path_tail(it->path ? it->path : "", sizeof(path)));
    format_left(left, sizeof(left), it);

    /* Fixed-width columns after the path, as in ftpc's bars, so that the lines of a frame
     * line up and a line does not shift as its numbers change; an upload (size unknown)
     * leaves its percent and ETA blank, and its bar holds a block that moves while bytes
     * come. */
    char pct_s[8] = "  --", sizes[40], rate_s[32], eta_s[32] = "", bar[128];
    uint64_t start = it->start > 0 && !it->connecting ? (uint64_t)it->start : 0;
    uint64_t done = start + (it->done > 0 ? (uint64_t)it->done : 0);
    int cells = (int)w / 10;
    cells = cells < 6 ? 6 : cells > 30 ? 30 : cells;
    double frac = 0.0;
    progress_size_str(done, sizes, sizeof(sizes));
    if (it->expect >= 0 && !it->connecting) {
        uint64_t total = start + (uint64_t)it->expect;
        char total_s[16], dur[24];
        snprintf(pct_s, sizeof(pct_s), "%3d%%", progress_percent(done, total));
        size_t n = strlen(sizes);
        snprintf(sizes + n, sizeof(sizes) - n, "/%s",
                 progress_size_str(total, total_s, sizeof(total_s)));
        frac = total > 0 ? (double)done / (double)total : 1.0;
        long eta = done >= total ? 0 : it->stalled ? -1 : progress_eta(total - done, it->bps);
        if (!it->waiting)
            snprintf(eta_s, sizeof(eta_s), "ETA %s", progress_duration_str(eta, dur, sizeof(dur)));
    }
    if (it->connecting)
        snprintf(rate_s, sizeof(rate_s), "connecting"); /* not "100%" of the 0 B expected yet */
    else if (it->waiting)
        snprintf(rate_s, sizeof(rate_s), "queued"); /* in line for a download slot */
    else if (it->stalled)
        snprintf(rate_s, sizeof(rate_s), "stalled");
    else if (it->measuring)
        snprintf(rate_s, sizeof(rate_s), "--");
    else
        progress_rate_str(it->bps, rate_s, sizeof(rate_s));
    if (it->connecting) /* an empty bar: nothing has moved, and nothing moves yet */
        progress_bar(bar, sizeof(bar), cells, 0.0, PROGRESS_BAR_ASCII);
    else if (it->expect >= 0)
        progress_bar(bar, sizeof(bar), cells, frac, PROGRESS_BAR_ASCII);
    else /* an empty bar would read as nothing received */
        progress_bar_busy(bar, sizeof(bar), cells, it->busy_phase, PROGRESS_BAR_ASCII);
    /* The fullest variant first; each later one gives the path more room. The last ones,
     * for a terminal too narrow for any path, keep one field, then none: a field is shown
     * whole or not at all, as "2.0" cut from a rate would misread. */
    char variants[5][256];
    int nvar = 0;
    snprintf(variants[nvar++], sizeof(variants[0]), " %s [%s] %17s %10s %-9s", pct_s, bar, sizes,
             rate_s, eta_s);
    snprintf(variants[nvar++], sizeof(variants[0]), " %s %17s %10s %-9s", pct_s, sizes, rate_s,
             eta_s);
    snprintf(variants[nvar++], sizeof(variants[0]), " %s %10s", pct_s, rate_s);
    snprintf(variants[nvar++], sizeof(variants[0]), " %s",
             it->expect >= 0 && !it->waiting && !it->connecting ? pct_s : rate_s);
    variants[nvar++][0] = '\0';
    enum { WITH_PATH = 3 }; /* the variants tried with room for a path */
    size_t lc = progress_cells(left);
    /* The variant is the frame's: one that fits the widest left part of the frame, with
     * room for a path if any does. */
    size_t frame_lc = it->left_cells > lc ? it->left_cells : lc;
    int pick = -1;
    for (int i = 0; i < WITH_PATH && pick < 0; i++)
        if (frame_lc + progress_cells(variants[i]) + PATH_MIN_CELLS <= w)
            pick = i;
    for (int i = WITH_PATH - 1; i < nvar && pick < 0; i++)
        if (frame_lc + progress_cells(variants[i]) <= w)
            pick = i;
    if (pick < 0)
        pick = nvar - 1;
    size_t rc = progress_cells(variants[pick]);
    put_str(&t, left);
    if (lc + rc + PATH_SHORTEST_CELLS <= w) /* "...n" would tell nothing */
        put_fitted(&t, path, w - lc - rc, true, true);
    put_str(&t, variants[pick]);
    cut_cells(&t, w);
    while (t.len > 0 && out[t.len - 1] == ' ') /* blanks at the end would only cost bytes */
        out[--t.len] = '\0';
    return t.len;
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

size_t liveview_format_totals(char *out, size_t size, int width, const liveview_totals *tot)
{
    if (size == 0)
        return 0;
    text t = {out, 0, size};
    out[0] = '\0';
    size_t w = line_cells(width);
    char in_s[32], out_s[32], counts[96], rates[96], done[112], shown[48], line[512];
    progress_rate_str(tot->in_bps, in_s, sizeof(in_s));
    progress_rate_str(tot->out_bps, out_s, sizeof(out_s));
    snprintf(counts, sizeof(counts), "%zu %s, %zu %s", tot->sessions,
             plural(tot->sessions, "session", "sessions"), tot->transfers,
             plural(tot->transfers, "transfer", "transfers"));
    snprintf(rates, sizeof(rates), " (in %s, out %s)", in_s, out_s);
    /* A transfer its client ended with ABOR (each range of a segmented download ends so) is
     * not a failure: counted with the failures, a segmented download of four ranges read
     * "1 done, 3 failed". */
    int n = snprintf(done, sizeof(done), ", %llu done", tot->done);
    if (tot->aborted > 0 && n > 0 && (size_t)n < sizeof(done))
        n += snprintf(done + n, sizeof(done) - (size_t)n, ", %llu aborted", tot->aborted);
    if (tot->failed > 0 && n > 0 && (size_t)n < sizeof(done))
        snprintf(done + n, sizeof(done) - (size_t)n, ", %llu failed", tot->failed);
    shown[0] = '\0';
    if (tot->shown < tot->transfers)
        snprintf(shown, sizeof(shown), "; %zu shown", tot->shown);
    /* Where the line does not fit, parts go whole, least useful first (the label stays
     * longest: it tells this line from the log's): a rate cut to "40.3 MiB/" or a count to
     * "3 d" would misread. Only the last resort is cut. */
    const struct {
        bool prefix, rates, done, shown;
    } forms[] = {{true, true, true, true},
                 {true, true, false, true},
                 {true, true, false, false},
                 {true, false, false, false},
                 {false, false, false, false}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(line, sizeof(line), "%s%s%s%s%s", forms[i].prefix ? "ftpd: " : "", counts,
                 forms[i].rates ? rates : "", forms[i].done ? done : "",
                 forms[i].shown ? shown : "");
        if (progress_cells(line) <= w)
            break;
    }
    put_str(&t, line);
    cut_cells(&t, w);
    return t.len;
}

/* ---- the view ---- */

static void view_size(int *width, int *rows)
{
    term_size t = term_size_of(STDERR_FILENO);
    *width = t.cols > LIVEVIEW_MAX_WIDTH ? LIVEVIEW_MAX_WIDTH : t.cols;
    *rows = t.rows;
}

/* The rate the view shows for x: the bytes of the last seconds over their time
 * (progress_rate, as ftpc's bars reckon theirs), from the start of its streaming. An average
 * of each frame's bytes over its quarter second swung with every burst a client's reads make:
 * a download its client held to 2 MiB/s read 0.8 to 3.5 MiB/s from frame to frame, and its
 * ETA 0:04 to 0:15. */
static double sample_rate(xfer *x, long long now)
{
    if (x->started_ms == 0)
        return x->view_bps = 0.0; /* no data connection yet */
    if (x->view_rate == NULL) {
        x->view_rate = malloc(sizeof *x->view_rate);
        if (x->view_rate == NULL)
            return x->view_bps = 0.0;
        progress_rate_init(x->view_rate, x->started_ms, 0);
        x->view_moved_ms = x->started_ms;
    }
    long long done = xfer_delivered(x); /* what reached the client, not what waits for it */
    if (done != x->view_done) {
        x->view_phase++;
        x->view_moved_ms = now;
    }
    x->view_done = done;
    progress_rate_update(x->view_rate, now, done > 0 ? (uint64_t)done : 0);
    return x->view_bps = progress_rate_bps(x->view_rate, now);
}

static int by_session(const void *a, const void *b)
{
    unsigned long x = (*(xfer *const *)a)->s->id, y = (*(xfer *const *)b)->s->id;
    return x < y ? -1 : x > y;
}

/* Fills v->items with the running transfers; the totals get their count and rates. */
static size_t collect(liveview *v, long long now, liveview_totals *tot)
{
    size_t n = 0;
    for (xfer *x = v->srv->xfers; x != NULL; x = x->next) {
        if (!xfer_busy(x) || x->s->xfer != x)
            continue;
        double bps = sample_rate(x, now);
        if (x->kind == XK_STOR)
            tot->in_bps += bps;
        else
            tot->out_bps += bps;
        tot->transfers++;
        if (n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 64;
            xfer **items = realloc(v->items, cap * sizeof *items);
            if (items == NULL)
                continue; /* counted, not shown */
            v->items = items;
            v->cap = cap;
        }
        v->items[n++] = x;
    }
    if (n > 1) /* qsort's array may not be NULL, even for no items */
        qsort(v->items, n, sizeof *v->items, by_session);
    return n;
}

/* Continued after a stop (Ctrl-Z, then fg): the block is drawn again at once, below what
 * the job-control shell wrote meanwhile (log_footer_lost), even if its text is the same. */
static volatile sig_atomic_t view_continued;

static void on_cont(int sig)
{
    (void)sig;
    view_continued = 1;
    log_footer_lost();
}

static void draw(liveview *v)
{
    server *srv = v->srv;
    long long now = ev_now(srv->loop);
    int width, rows;
    view_size(&width, &rows);
    liveview_totals tot = {.sessions = srv->nsessions,
                           .done = srv->transfers - srv->transfers_failed - srv->transfers_aborted,
                           .aborted = srv->transfers_aborted,
                           .failed = srv->transfers_failed};
    size_t n = collect(v, now, &tot);
    size_t room = rows > 4 ? (size_t)rows - 4 : 0;
    if (room > LIVEVIEW_MAX_LINES)
        room = LIVEVIEW_MAX_LINES;
    tot.shown = n < room ? n : room;

    size_t size = (tot.shown + 1) * LIVEVIEW_LINE_MAX;
    char *frame = malloc(size);
    if (frame == NULL)
        return;
    size_t len = 0, left_cells = 0;
    for (int pass = 0; pass < 2; pass++) {
        /* The first pass finds the widest "[id] user VERB ", the second draws the lines. */
        for (size_t i = 0; i < tot.shown && len + LIVEVIEW_LINE_MAX < size; i++) {
            xfer *x = v->items[i];
            liveview_item it = {
                .id = x->s->id,
                .user = session_who(x->s),
                .verb = xfer_verb(x),
                .path = x->vpath,
                .done = x->view_done,
                .expect = x->expect,
                .start = xfer_start_offset(x),
                .busy_phase = x->view_phase,
                .bps = x->view_bps,
                .waiting = x->slot.state == DLS_WAITING,
                .connecting = xfer_unannounced(x),
                /* (an upload whose bytes are all in and which the server now stores is
                 * not the client's stall) */
                .stalled = x->state == XS_RUNNING && x->view_rate != NULL &&
                           now - x->view_moved_ms >= PROGRESS_WINDOW_MS,
                .measuring = x->started_ms > 0 && now - x->started_ms < PROGRESS_RATE_FIRST_MS,
                .left_cells = left_cells,
            };
            if (pass == 0) {
                size_t lc = liveview_left_cells(&it);
                left_cells = lc > left_cells ? lc : left_cells;
                continue;
            }
            len += liveview_format_item(frame + len, size - len, width, &it);
            frame[len++] = '\n';
        }
    }
    len += liveview_format_totals(frame + len, size - len, width, &tot);
    frame[len] = '\0';
    bool again = view_continued;
    view_continued = 0;
    if (again || v->last == NULL || strcmp(v->last, frame) != 0) {
        log_footer_set(frame, (int)tot.shown + 1);
        free(v->last);
        v->last = frame;
    } else {
        free(frame);
    }
}

static long tick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    draw(ud);
    return LIVEVIEW_TICK_MS;
}

liveview *liveview_start(server *srv)
{
    ftpd_view_mode mode = srv->cfg->view;
    if (mode == FTPD_VIEW_OFF)
        return NULL;
    if (mode == FTPD_VIEW_AUTO) {
        const char *term = getenv("TERM");
        if (!isatty(STDERR_FILENO) || (term != NULL && strcmp(term, "dumb") == 0))
            return NULL;
    }
    liveview *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->srv = srv;
    view_continued = 0;
    v->cont_set = term_redraw_signal(SIGCONT, on_cont, &v->old_cont);
    ev_timer_init(&v->tick, tick_cb, v);
    draw(v);
    ev_timer_start(srv->loop, &v->tick, LIVEVIEW_TICK_MS);
    return v;
}

void liveview_stop(liveview *v)
{
    if (v == NULL)
        return;
    ev_timer_stop(v->srv->loop, &v->tick);
    if (v->cont_set)
        sigaction(SIGCONT, &v->old_cont, NULL);
    log_footer_set(NULL, 0);
    free(v->items);
    free(v->last);
    free(v);
}
