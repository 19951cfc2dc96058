/* The progress display. A frame is assembled in memory and written with one write(2): cursor
 * up over the live lines, the new permanent lines (summaries, messages) over them, the live
 * lines each cleared and rewritten, then "clear to end of screen" for lines that went away. Live
 * lines never reach the last column, so the terminal never wraps them as drawn; a window made
 * narrower since rewraps them, so the cursor goes up by the rows they take at the present width.
 * Permanent lines may wrap, as they are not redrawn. */
#include "bars.h"

#include <errno.h>
#include <stdarg.h>
#include <langinfo.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wchar.h>

#include "progress.h"
#include "stdsink.h"
#include "termsize.h"

#define TICK_LIVE_MS 100
#define TICK_PLAIN_MS 1000
#define ETA_NONE (-2L) /* format_line's eta_min: no ETA for now (a transfer stalls) */

struct ftpc_bar {
    ftpc_bars *b;
    struct ftpc_bar *prev, *next;
    int64_t total;
    uint64_t offset, pos;
    /* An upload's position as its transfer gave it, and what tells how much of that has not
     * reached the server (ftpc_bar_unsent): pos, the one shown, is sent less that. */
    uint64_t sent;
    ftpc_bar_unsent_fn unsent;
    void *unsent_ud;
    uint64_t wire;      /* MODE Z: bytes on the wire, 0 when not compressed */
    uint64_t wire_sent; /* ...as the transfer gave them (wire is those shown) */
    long long start_ms;
    long long end_ms; /* the bytes all moved (ftpc_bar_checking); 0 while they move */
    /* The same to the microsecond, for the summary: the loop's time moves in whole
     * milliseconds, once a wakeup, and a small file's transfer takes less than one. */
    long long start_us, end_us;
    long long moved_ms; /* when pos last went on (or the line started) */
    progress_rate rate;
    /* A transfer that goes again (--retry) keeps its line: between its attempts the line
     * waits, saying "retrying", its bytes still counted in the Total line; the next attempt
     * takes it over (ftpc_bar_start). What the earlier attempts moved stays in its summary,
     * whose time counts from the first. */
    bool waiting;
    int attempts;
    uint64_t first_offset;          /* where the first attempt began */
    uint64_t carried, carried_wire; /* bytes (and wire bytes) the earlier attempts moved */
    /* Unknown length: the busy block's place, which moves a step each tick bytes arrived, so
     * it stands still when the transfer does. */
    uint64_t busy_phase, busy_pos;
    char *raw;   /* the name as given (after name's bytes): which transfer it is */
    size_t room; /* bytes for each of name and raw */
    char name[]; /* whole, for the summary: a mirror's paths run long */
};

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

struct ftpc_bars {
    ev_loop *loop;
    int fd;
    volatile sig_atomic_t *stop; /* cfg's */
    bool live;                   /* redrawn bars on a terminal */
    bool plain;                  /* periodic plain lines */
    bool quiet;
    bool color, unicode;
    int width, rows;
    bool fixed_width;
    /* SIGWINCH as it was before: given back at the end (the shell follows resizes too) */
    struct sigaction old_winch;
    struct sigaction old_cont; /* SIGCONT's, the same way */
    ftpc_bar *head, *tail;
    int nlive; /* lines drawn: the running transfers and those waiting to go again */
    /* The line that last ended without ok, kept until the runner says whether its transfer
     * goes again (ftpc_bars_retrying), and the place it had among the lines. */
    ftpc_bar *ended;
    int ended_index;
    /* When a line last began measuring its rate afresh (a retry, a restart): the Total line
     * measures from then on too, for a window, or it trailed what the lines add up to. */
    long long restart_ms;
    int nfiles, nfinished;
    int nfailed;                     /* files that failed for good: neither finished nor waiting */
    int nplanned;                    /* files whose sizes were known before they started */
    uint64_t planned_bytes;          /* their sizes, less those of the planned files that failed */
    uint64_t moved;                  /* bytes moved by all transfers of the run */
    uint64_t busy_phase, busy_moved; /* the total line's busy block (ftpc_bar's) */
    uint64_t finished_bytes;         /* file sizes of finished transfers */
    uint64_t done_moved; /* bytes the finished files' summary lines moved: the Total line's */
    long long first_ms;  /* when the run's first transfer started; 0: none yet */
    long long first_us;
    progress_rate total_rate;
    int drawn;      /* live lines on screen below the permanent ones */
    strbuf pending; /* permanent lines waiting for the next frame */
    strbuf frame;
    strbuf last; /* the live text last drawn */
    ev_timer timer;
};

/* The one piece of state a signal handler may touch: "the terminal changed size". */
static volatile sig_atomic_t winch_flag;

static void winch_handler(int sig)
{
    (void)sig;
    winch_flag = 1;
}

/* "Continued after a stop" (Ctrl-Z, then fg): while ftpc was stopped the job-control shell
 * wrote below the live lines ("[1]+ Stopped", the prompt, the command it continued), so the
 * cursor no longer sits below them, and going up over them would write over the shell's
 * lines. The handler that was there before (the ftpc shell's) is called too. */
static volatile sig_atomic_t cont_flag;
static void (*cont_chained)(int);

static void cont_handler(int sig)
{
    cont_flag = 1;
    if (cont_chained != NULL)
        cont_chained(sig);
}

/* ---- small string buffer ---- */

static void sb_reserve(strbuf *s, size_t more)
{
    if (s->len + more + 1 <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->len + more + 1)
        cap *= 2;
    char *n = realloc(s->p, cap);
    if (n == NULL)
        return;
    s->p = n;
    s->cap = cap;
}

static void sb_add(strbuf *s, const char *src, size_t n)
{
    sb_reserve(s, n);
    if (s->len + n + 1 > s->cap)
        return; /* out of memory: the frame loses text, nothing worse */
    memcpy(s->p + s->len, src, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_str(strbuf *s, const char *src)
{
    sb_add(s, src, strlen(src));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Waits for a reader who is behind, until an interrupt (stdsink.h). */
static void write_all(const ftpc_bars *b, const char *p, size_t len)
{
    (void)ftpc_stdsink_write_msg(b->fd, p, len, b->stop);
}

/* ---- text helpers ---- */

/* Appends s cut or padded to exactly w cells. A name cut short loses its middle to "..."
 * (or its end to "~" when tiny): names of one run often share a long start and differ only
 * at the end ("backup-2026-12-01.tar", "backup-2026-12-02.tar"), so the end stays. */
static void add_fitted(strbuf *out, const char *s, size_t w)
{
    size_t have = progress_cells(s);
    if (have <= w) {
        sb_str(out, s);
        for (size_t i = have; i < w; i++)
            sb_add(out, " ", 1);
        return;
    }
    if (w <= 3) {
        size_t keep = w > 0 ? w - 1 : 0, used;
        sb_add(out, s, progress_fit_prefix(s, keep, &used));
        if (w > 0)
            sb_str(out, "~");
        for (; used < keep; used++)
            sb_add(out, " ", 1);
        return;
    }
    size_t keep = w - 3;
    /* The tail: the shortest end of s that takes at most half the room. */
    const char *tail = s;
    size_t rest = have, len;
    while (*tail != '\0' && rest > keep / 2) {
        rest -= progress_char_cells(tail, &len);
        tail += len;
    }
    /* A combining mark belongs to the character before it, which went: after "..." it would
     * sit on the last dot. */
    while (*tail != '\0' && progress_char_cells(tail, &len) == 0)
        tail += len;
    size_t used;
    sb_add(out, s, progress_fit_prefix(s, keep - rest, &used));
    sb_str(out, "...");
    sb_str(out, tail);
    for (used += rest; used < keep; used++) /* a wide character that did not fit leaves a cell */
        sb_add(out, " ", 1);
}

/* Cuts s to at most max visible cells (escape sequences take none). A colour left open at
 * the cut is closed; none is closed that was not open. */
static void cut_to_cells(strbuf *s, size_t max)
{
    size_t n = 0;
    bool open = false;
    for (size_t i = 0; i < s->len;) {
        if (s->p[i] == '\x1b') {
            size_t at = i;
            i++;
            while (i < s->len && !(s->p[i] >= '@' && s->p[i] <= '~' && s->p[i] != '['))
                i++;
            i++;
            open = !(i - at == 4 && memcmp(s->p + at, "\x1b[0m", 4) == 0);
            continue;
        }
        size_t len, cw = progress_char_cells(s->p + i, &len);
        if (n + cw > max) {
            s->len = i;
            s->p[i] = '\0';
            if (open)
                sb_str(s, "\x1b[0m");
            return;
        }
        n += cw;
        i += len;
    }
}

/* The name column's upper bound for a terminal width: 30% of it, 8 to 40 cells, or on a
 * wide terminal what is left beside the other columns at their usual widths and a bar of
 * BAR_ROOMY cells: a longer bar reads no better, while a name cut in its middle may no
 * longer tell its line from another's (on 200 columns, "file number 2 with ...name to be
 * cut.bin" stood beside a bar of over 100 cells). NAME_COLUMN_CAP bounds the bytes a line
 * may take. */
static int name_column_max(int width)
{
    enum { LINE_FIELDS = 53, BAR_ROOMY = 40, NAME_COLUMN_CAP = 200 };
    int w = (width - 1) * 3 / 10;
    if (w < 8)
        w = 8;
    if (w > 40)
        w = 40;
    /* LINE_FIELDS: format_line's columns at their widths w, their gaps, " [" and "]" */
    int spare = width - 1 - LINE_FIELDS - BAR_ROOMY;
    if (spare > w)
        w = spare < NAME_COLUMN_CAP ? spare : NAME_COLUMN_CAP;
    return w;
}

static size_t format_line(char *out, size_t out_size, int width, int name_cells, bool color,
                          bool unicode, const char *name, uint64_t pos, int64_t total, double bps,
                          uint64_t wire, long eta_min, uint64_t busy_phase);

size_t ftpc_bars_format_line(char *out, size_t out_size, int width, int name_cells, bool color,
                             bool unicode, const char *name, uint64_t pos, int64_t total,
                             double bps)
{
    return format_line(out, out_size, width, name_cells, color, unicode, name, pos, total, bps, 0,
                       -1, 0);
}

size_t ftpc_bars_format_line_wire(char *out, size_t out_size, int width, int name_cells, bool color,
                                  bool unicode, const char *name, uint64_t pos, int64_t total,
                                  double bps, uint64_t wire, uint64_t busy_phase)
{
    return format_line(out, out_size, width, name_cells, color, unicode, name, pos, total, bps,
                       wire, -1, busy_phase);
}

/* eta_min: the ETA is at least this many seconds (-1: no floor; ETA_NONE: unknown). */
static size_t format_line(char *out, size_t out_size, int width, int name_cells, bool color,
                          bool unicode, const char *name, uint64_t pos, int64_t total, double bps,
                          uint64_t wire, long eta_min, uint64_t busy_phase)
{
    strbuf s = {0};
    char done_s[24], total_s[24], sizes[96], rate[32], eta_s[24], eta[32], pct[8];
    /* A line as wide as the terminal would wrap, and each redraw would leave a row behind. */
    int avail = width > 1 ? width - 1 : 1;

    progress_size_str(pos, done_s, sizeof(done_s));
    if (total >= 0) {
        progress_size_str((uint64_t)total, total_s, sizeof(total_s));
        snprintf(sizes, sizeof(sizes), "%s / %s", done_s, total_s);
        snprintf(pct, sizeof(pct), "%3d%%", progress_percent(pos, (uint64_t)total));
        uint64_t left = pos < (uint64_t)total ? (uint64_t)total - pos : 0;
        long eta_left = left == 0 ? 0 : progress_eta(left, bps);
        if (eta_left >= 0 && eta_min > eta_left)
            eta_left = eta_min;
        if (eta_min == ETA_NONE && left > 0)
            eta_left = -1;
        progress_duration_str(eta_left, eta_s, sizeof(eta_s));
    } else {
        snprintf(sizes, sizeof(sizes), "%s", done_s);
        snprintf(pct, sizeof(pct), "  --");
        progress_duration_str(-1, eta_s, sizeof(eta_s));
    }
    if (bps > 0.0)
        progress_rate_str(bps, rate, sizeof(rate));
    else
        snprintf(rate, sizeof(rate), "--");
    snprintf(eta, sizeof(eta), "ETA %s", eta_s);
    if (bps == FTPC_BARS_BPS_STALLED) {
        snprintf(rate, sizeof(rate), "stalled");
    } else if (bps == FTPC_BARS_BPS_RETRYING) {
        snprintf(rate, sizeof(rate), "retrying");
        eta[0] = '\0';
    } else if (bps < 0.0) { /* ftpc_bar_checking */
        snprintf(rate, sizeof(rate), "verifying");
        eta[0] = '\0';
    }

    /* Columns: name, percent, [bar], sizes, rate, ETA. What does not fit goes whole, least
     * useful first: a long name gives the bar some room, then the wide gaps and the name (to
     * NAME_KEEP cells) keep a short bar, else the bar shrinks and goes, then the sizes
     * and the ETA, then the name is cut (to NAME_MIN cells), then the columns lose their padding,
     * then the rate and the percentage go. A field cut short would misread: a rate without its "/s"
     * reads as a size. */
    enum { F_PCT, F_SIZES, F_RATE, F_ETA, NF };
    enum { NAME_MIN = 4, NAME_KEEP = 12, NAME_YIELD = 16, BAR_MIN = 6, BAR_COMFORT = 10 };
    const char *text[NF] = {pct, sizes, rate, eta};
    int w[NF] = {4, 19, 10, 11};
    int gap[NF] = {1, 1, 2, 2};
    /* A line whose check runs has no ETA, but its column keeps its room where the bar shows:
     * the bar grew by it, at the end of each transfer and beside the bars of the others. */
    bool on[NF] = {true, true, true, true};
    int name_w = name_column_max(width);
    int name_len = (int)progress_cells(name);
    int want_w = name_cells > 0 ? name_cells : (name_len > 8 ? name_len : 8);
    if (want_w < name_w)
        name_w = want_w;
    const int name_full = name_w;
    /* The wire count says less than the bar: it shows only where a bar fits beside it at its
     * widest, so that the bar neither goes nor comes back as the count's digits change (on
     * 80 columns it went at 1.00 MiB and came back at 114 KiB); the summary gives it anyway. */
    enum { WIRE_NOTE_MAX = 16 }; /* " (wire 1.00 MiB)" */
    int widest = name_w + gap[F_PCT] + w[F_PCT] + gap[F_SIZES] + w[F_SIZES] + WIRE_NOTE_MAX +
                 gap[F_RATE] + w[F_RATE] + gap[F_ETA] + w[F_ETA] + 3 + BAR_MIN;
    if (wire > 0 && widest <= avail) {
        char wire_s[24];
        size_t sl = strlen(sizes);
        snprintf(sizes + sl, sizeof(sizes) - sl, " (wire %s)",
                 progress_size_str(wire, wire_s, sizeof(wire_s)));
    }
    int fields = 0;
    for (int i = 0; i < NF; i++) {
        if ((int)strlen(text[i]) > w[i])
            w[i] = (int)strlen(text[i]);
        fields += on[i] ? gap[i] + w[i] : 0;
    }
    int bar_w = avail - name_w - fields - 3; /* " [" and "]" */
    /* The bar is what is read at a glance: a long name gives up cells for it, down to
     * NAME_YIELD, before it goes (else 80 columns and a 21-cell name showed no bar). */
    if (bar_w < BAR_COMFORT && name_w > NAME_YIELD) {
        int give = BAR_COMFORT - bar_w;
        if (give > name_w - NAME_YIELD)
            give = name_w - NAME_YIELD;
        if (bar_w + give >= BAR_MIN) {
            name_w -= give;
            bar_w += give;
        }
    }
    /* Then, for a bar of BAR_MIN, the columns after it give up their wider gaps and the name
     * cells down to NAME_KEEP: at 70 columns a run's frame (three 12-cell names and the Total
     * line) showed no bar at all. What cannot make BAR_MIN that way stays as it was. */
    if (bar_w < BAR_MIN) {
        int tight = (gap[F_RATE] - 1) + (gap[F_ETA] - 1);
        int give = BAR_MIN - bar_w - tight;
        if (give < 0)
            give = 0;
        if (give == 0 || give <= name_w - NAME_KEEP) {
            gap[F_RATE] = gap[F_ETA] = 1;
            fields -= tight;
            name_w -= give;
            bar_w += tight + give;
        }
    }
    bool show_bar = bar_w >= BAR_MIN;
    if (!show_bar) {
        static const int first[] = {F_SIZES, F_ETA};
        for (int k = 0; k < 2 && name_w + fields > avail; k++)
            if (on[first[k]]) {
                on[first[k]] = false;
                fields -= gap[first[k]] + w[first[k]];
            }
        if (name_w + fields > avail && name_w > NAME_MIN)
            name_w = avail - fields > NAME_MIN ? avail - fields : NAME_MIN;
        if (name_w + fields > avail) {
            fields = 0;
            for (int i = 0; i < NF; i++) {
                w[i] = (int)strlen(text[i]);
                fields += on[i] ? gap[i] + w[i] : 0;
            }
        }
        static const int last[] = {F_RATE, F_PCT};
        for (int k = 0; k < 2 && name_w + fields > avail; k++)
            if (on[last[k]]) {
                on[last[k]] = false;
                fields -= gap[last[k]] + w[last[k]];
            }
        /* The name takes back what the columns that went leave, up to its width. */
        name_w = avail - fields < name_full ? avail - fields : name_full;
        if (name_w < 1)
            name_w = 1;
        /* Columns that went leave room a short bar can use after all. */
        bar_w = avail - name_w - fields - 3;
        show_bar = bar_w >= BAR_MIN;
    }

    add_fitted(&s, name, (size_t)name_w);
    if (on[F_PCT])
        sb_printf(&s, " %s", pct);
    if (show_bar) {
        char bar[3 * 512 + 1];
        if (bar_w > 512)
            bar_w = 512;
        progress_bar_style style = unicode ? PROGRESS_BAR_UNICODE : PROGRESS_BAR_ASCII;
        if (total < 0)
            progress_bar_busy(bar, sizeof(bar), bar_w, busy_phase, style);
        else
            progress_bar(bar, sizeof(bar), bar_w, total > 0 ? (double)pos / (double)total : 1.0,
                         style);
        sb_str(&s, " [");
        if (color)
            sb_str(&s, "\x1b[32m");
        sb_str(&s, bar);
        if (color)
            sb_str(&s, "\x1b[0m");
        sb_str(&s, "]");
    }
    if (on[F_SIZES])
        sb_printf(&s, " %*s", w[F_SIZES], sizes);
    if (on[F_RATE])
        sb_printf(&s, "%*s%*s", gap[F_RATE], "", w[F_RATE], rate);
    if (on[F_ETA])
        sb_printf(&s, "%*s%-*s", gap[F_ETA], "", w[F_ETA], eta);
    /* Trailing blanks would only cost bytes. */
    while (s.len > 0 && s.p[s.len - 1] == ' ')
        s.p[--s.len] = '\0';
    cut_to_cells(&s, (size_t)avail);

    size_t n = 0;
    if (out_size > 0) {
        n = s.len < out_size - 1 ? s.len : out_size - 1;
        if (s.p != NULL)
            memcpy(out, s.p, n);
        out[n] = '\0';
    }
    free(s.p);
    return n;
}

/* ---- the display ---- */

/* The wire bytes shown beside the file's: an upload's shown position is behind what it sent
 * (ftpc_bar_unsent), and its wire bytes are as far behind, in proportion. */
static void bar_show_wire(ftpc_bar *bar)
{
    uint64_t sent = bar->sent - bar->offset, shown = bar->pos - bar->offset;
    bar->wire = shown < sent ? (uint64_t)((double)bar->wire_sent * (double)shown / (double)sent)
                             : bar->wire_sent;
}

/* Moves the shown position on to pos (never back). */
static void bar_show(ftpc_bar *bar, uint64_t pos)
{
    if (pos < bar->pos)
        return;
    if (pos > bar->pos)
        bar->moved_ms = ev_now(bar->b->loop);
    bar->b->moved += pos - bar->pos;
    bar->pos = pos;
    progress_rate_update(&bar->rate, ev_now(bar->b->loop), pos);
    bar_show_wire(bar);
}

/* An upload's shown position: what it sent less what has not reached the server yet. */
static void bar_settle(ftpc_bar *bar)
{
    if (bar->unsent == NULL)
        return;
    uint64_t unsent = bar->unsent(bar->unsent_ud);
    bar_show(bar, bar->sent > unsent ? bar->sent - unsent : 0);
}

/* The line's bytes have all gone, or it ends: it shows all it sent, and asks no more. */
static void bar_settle_all(ftpc_bar *bar)
{
    bar->unsent = NULL;
    bar->unsent_ud = NULL;
    bar_show(bar, bar->sent);
}

static void query_size(ftpc_bars *b)
{
    if (b->fixed_width)
        return;
    term_size t = term_size_of(b->fd);
    b->width = t.cols;
    b->rows = t.rows;
}

/* "SIZE in TIME (RATE)" for bytes moved over us microseconds. */
static void add_moved(strbuf *out, uint64_t bytes, long long us)
{
    char size[24], el[24], rate[32];
    double avg = (double)bytes * 1e6 / (double)(us > 0 ? us : 1);
    sb_printf(out, "%s in %s (%s)", progress_size_str(bytes, size, sizeof(size)),
              progress_elapsed_str(us / 1000, el, sizeof(el)),
              progress_rate_str(avg, rate, sizeof(rate)));
}

/* The bytes the line's transfer moved, over all its attempts. */
static uint64_t bar_moved(const ftpc_bar *bar)
{
    return bar->carried + (bar->pos - bar->offset);
}

static void summary_line(strbuf *out, const ftpc_bar *bar)
{
    char off[24];
    sb_str(out, bar->name);
    sb_str(out, ": ");
    add_moved(out, bar_moved(bar),
              (bar->end_us > 0 ? bar->end_us : ev_monotonic_us()) - bar->start_us);
    if (bar->first_offset > 0)
        sb_printf(out, ", resumed at %s", progress_size_str(bar->first_offset, off, sizeof(off)));
    if (bar->attempts > 1)
        sb_printf(out, ", %d attempts", bar->attempts);
    if (bar->wire + bar->carried_wire > 0)
        sb_printf(out, ", wire %s (MODE Z)",
                  progress_size_str(bar->wire + bar->carried_wire, off, sizeof(off)));
}

/* A transfer with no byte for this long says so rather than showing a rate that only
 * decays: the whole rate window has passed empty. */
#define STALL_MS PROGRESS_WINDOW_MS

static bool bar_stalled(const ftpc_bar *bar, long long now)
{
    bool all_moved = bar->total >= 0 && bar->pos >= (uint64_t)bar->total;
    return !bar->waiting && bar->end_ms == 0 && !all_moved && now - bar->moved_ms >= STALL_MS;
}

/* A bar's rate for its line, or what the line says in its place (verifying, stalled). */
static double bar_bps(const ftpc_bar *bar, long long now)
{
    if (bar->waiting)
        return FTPC_BARS_BPS_RETRYING;
    if (bar->end_ms > 0)
        return FTPC_BARS_BPS_VERIFYING;
    if (bar_stalled(bar, now))
        return FTPC_BARS_BPS_STALLED;
    return progress_rate_bps(&bar->rate, now);
}

static void plain_line(strbuf *out, const ftpc_bar *bar, long long now)
{
    char done_s[24], total_s[24], rate[32], eta[24];
    if (bar->waiting)
        return; /* the retry's message says it */
    bool stalled = bar_stalled(bar, now);
    double bps = stalled ? 0.0 : progress_rate_bps(&bar->rate, now);
    if (bar->end_ms > 0) {
        sb_str(out, bar->name);
        sb_str(out, ": verifying\n");
        return;
    }
    char wire_s[24], wire_note[48] = "";
    progress_size_str(bar->pos, done_s, sizeof(done_s));
    if (bar->wire > 0)
        snprintf(wire_note, sizeof(wire_note), " (wire %s)",
                 progress_size_str(bar->wire, wire_s, sizeof(wire_s)));
    if (bar->total >= 0) {
        uint64_t left = bar->pos < (uint64_t)bar->total ? (uint64_t)bar->total - bar->pos : 0;
        sb_str(out, bar->name);
        sb_printf(out, ": %d%% (%s of %s)%s, %s, ETA %s\n",
                  progress_percent(bar->pos, (uint64_t)bar->total), done_s,
                  progress_size_str((uint64_t)bar->total, total_s, sizeof(total_s)), wire_note,
                  stalled ? "stalled" : progress_rate_str(bps, rate, sizeof(rate)),
                  progress_duration_str(left == 0 ? 0 : progress_eta(left, bps), eta, sizeof(eta)));
    } else {
        sb_str(out, bar->name);
        sb_printf(out, ": %s%s, %s\n", done_s, wire_note,
                  stalled ? "stalled" : progress_rate_str(bps, rate, sizeof(rate)));
    }
}

/* "... and 7 more", shorter on a narrow terminal: a line that wraps moves the frame's
 * start out of reach of the next redraw's cursor-up. */
static void more_line(strbuf *out, int more, int width)
{
    char text[48];
    size_t max = width > 1 ? (size_t)width - 1 : 1;
    snprintf(text, sizeof(text), "... and %d more", more);
    if (strlen(text) > max)
        snprintf(text, sizeof(text), "+%d more", more);
    if (strlen(text) > max)
        snprintf(text, sizeof(text), "+%d", more);
    if (strlen(text) > max)
        text[max] = '\0';
    sb_printf(out, "\x1b[2K%s\n", text);
}

/* The Total line's rate. A line that begins its rate afresh (a retry's next attempt, after
 * its wait and a new connection) shows the rate it moves at now; the run's window would
 * still count the wait, and for five seconds the Total read below what its lines added up
 * to ("a.bin 319 KiB/s", "b.bin 321 KiB/s" over "Total 572 KiB/s", its ETA too long).
 * So from such a restart the Total, too, counts only what moved since, until a whole
 * window has passed; while nothing has yet, the whole window. */
static double total_bps(const ftpc_bars *b, long long now)
{
    long long since = now - b->restart_ms;
    if (b->restart_ms > 0 && since < PROGRESS_WINDOW_MS) {
        double bps = progress_rate_bps_within(&b->total_rate, now, since);
        if (bps > 0.0)
            return bps;
    }
    return progress_rate_bps(&b->total_rate, now);
}

static void build_live(ftpc_bars *b, strbuf *out, long long now, int *lines)
{
    char line[4096];
    int n = 0;
    /* The cursor rests on the row below the last line: on a terminal of one row any live
     * line scrolls into the history each frame, so only the summaries are written there. */
    if (b->rows < 2) {
        *lines = 0;
        return;
    }
    int room = b->rows - 2; /* keep the prompt line and one spare */
    bool total_line = b->nfiles > 1 && b->nlive > 0;
    if (total_line)
        room--;
    if (room < 1)
        room = 1;
    /* The cursor rests on the row below the last line: a terminal of two rows has room for
     * one line, the Total alone, or each frame scrolls its first line into the history. */
    if (total_line && b->rows < 3)
        room = 0;
    int shown = 0;
    char total_name[64];
    /* The count padded to the width of the number of files: "Total 10/12" one cell wider
     * than "Total 9/12" moved every bar of the frame a column when the tenth file ended. */
    char files[16];
    int digits = snprintf(files, sizeof(files), "%d", b->nfiles);
    snprintf(total_name, sizeof(total_name), "Total %*d/%s", digits, b->nfinished, files);
    /* A name column too narrow for it would cut its middle, the count of finished files
     * ("Tot...300"): the count alone says more. */
    if ((int)progress_cells(total_name) > name_column_max(b->width))
        snprintf(total_name, sizeof(total_name), "%*d/%s", digits, b->nfinished, files);
    /* One name column for the whole frame, so the bars line up. */
    int name_cells = total_line ? (int)progress_cells(total_name) : 0;
    for (ftpc_bar *bar = b->head; bar != NULL; bar = bar->next)
        if ((int)progress_cells(bar->name) > name_cells)
            name_cells = (int)progress_cells(bar->name);
    if (name_cells < 8)
        name_cells = 8;
    if (name_cells > name_column_max(b->width))
        name_cells = name_column_max(b->width);
    for (ftpc_bar *bar = room > 0 ? b->head : NULL; bar != NULL; bar = bar->next) {
        if (shown == room - 1 && b->nlive > room) {
            more_line(out, b->nlive - shown, b->width);
            n++;
            break;
        }
        ftpc_bars_format_line_wire(line, sizeof(line), b->width, name_cells, b->color, b->unicode,
                                   bar->name, bar->pos, bar->total, bar_bps(bar, now), bar->wire,
                                   bar->busy_phase);
        sb_str(out, "\x1b[2K");
        sb_str(out, line);
        sb_str(out, "\n");
        n++;
        shown++;
    }
    if (total_line) {
        uint64_t pos = b->finished_bytes;
        int64_t total = (int64_t)b->finished_bytes;
        /* The run lasts at least as long as its slowest transfer: the sum of the rates says
         * less when each transfer is held to its own (--limit-rate) and the fast ones end. */
        long slowest = -1;
        bool stalled = false;
        int started = b->nfinished + b->nfailed;
        for (ftpc_bar *bar = b->head; bar != NULL; bar = bar->next) {
            started++;
            pos += bar->pos;
            if (total >= 0 && bar->total >= 0)
                total += bar->total;
            else
                total = -1;
            /* A stalled transfer may never end: the run has no ETA while it stalls, not
             * that of the others (0:46 beside a file stalled for a minute). */
            if (bar_stalled(bar, now) || bar->waiting)
                stalled = true;
            else if (bar->total >= 0 && bar->pos < (uint64_t)bar->total) {
                long eta = progress_eta((uint64_t)bar->total - bar->pos,
                                        progress_rate_bps(&bar->rate, now));
                if (eta > slowest)
                    slowest = eta;
            }
        }
        /* Files still waiting for a connection have no size yet: no percentage or ETA
         * rather than 100% of the files begun, unless every size was known beforehand. */
        if (started < b->nfiles && b->nplanned >= b->nfiles && b->nfiles > 0) {
            total = (int64_t)b->planned_bytes;
            if ((uint64_t)total < pos)
                total = (int64_t)pos; /* a file grew since its size was taken */
        } else if (started < b->nfiles) {
            total = -1;
            slowest = -1;
        }
        format_line(line, sizeof(line), b->width, name_cells, b->color, b->unicode, total_name, pos,
                    total, total_bps(b, now), 0, stalled ? ETA_NONE : slowest, b->busy_phase);
        sb_str(out, "\x1b[2K");
        sb_str(out, line);
        sb_str(out, "\n");
        n++;
    }
    *lines = n;
}

/* The screen rows the live lines last drawn take now. They were narrower than the terminal
 * when drawn, but a window made narrower since rewraps them (VTE, Konsole, kitty, iTerm2,
 * Windows Terminal, tmux): going up one row a line would leave the top of the old lines on
 * the screen. */
static int drawn_rows(const ftpc_bars *b)
{
    size_t cols = b->width > 0 ? (size_t)b->width : 1, rows = 0;
    const char *p = b->last.p, *end = b->last.p + b->last.len;
    const char *nl;
    /* Every live line ends in a newline, so the cursor sits below the last one. */
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        rows += progress_text_rows(p, (size_t)(nl - p), cols, NULL);
        p = nl + 1;
    }
    return rows > (size_t)b->drawn ? (int)rows : b->drawn;
}

/* A frame never clears "to the end of the screen" from where the live lines begin: at the
 * screen's top-left corner (a new tmux window, or after `clear`) that is a clear screen to
 * tmux, which keeps a copy of the screen, bars and all, in its history (scroll-on-clear).
 * Text goes over the old lines instead, each clearing the rest of its last row, and the clear
 * to the end of the screen comes after it; with no text at all, the old rows are cleared one
 * by one, from the bottom up. */

/* The permanent lines (summaries, messages) over the old live rows. A line wider than the
 * terminal wraps over whole rows; the rest of its last row is cleared, unless it ends on the
 * right margin, where a clear would take its last character. */
static void add_permanent(ftpc_bars *b, strbuf *frame)
{
    size_t cols = b->width > 0 ? (size_t)b->width : 1;
    const char *p = b->pending.p, *end = b->pending.p + b->pending.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        bool at_margin = false;
        progress_text_rows(p, (size_t)(stop - p), cols, &at_margin);
        sb_add(frame, p, (size_t)(stop - p));
        if (!at_margin)
            sb_str(frame, "\x1b[K");
        sb_str(frame, "\n");
        p = nl != NULL ? nl + 1 : end;
    }
    b->pending.len = 0;
}

/* Clears the rows of the live lines from the cursor below them up to the first, where the
 * cursor ends. */
static void add_take_away(strbuf *frame, int rows)
{
    sb_str(frame, "\r");
    for (int i = 0; i < rows; i++)
        sb_str(frame, "\x1b[1A\x1b[2K");
}

/* After a stop the old live lines are left where they are, as text above the shell's: the
 * next frame starts below the cursor. */
static void forget_if_continued(ftpc_bars *b)
{
    if (!cont_flag)
        return;
    cont_flag = 0;
    b->drawn = 0;
    b->last.len = 0;
    winch_flag = 1; /* the window may have been resized while stopped */
}

/* Draws a frame if anything changed (or force). */
static void draw(ftpc_bars *b, bool force)
{
    long long now = ev_now(b->loop);
    forget_if_continued(b);
    if (winch_flag) {
        winch_flag = 0;
        query_size(b);
        force = true;
    }
    strbuf live = {0};
    int lines = 0;
    build_live(b, &live, now, &lines);
    bool same =
        live.len == b->last.len && (live.len == 0 || memcmp(live.p, b->last.p, live.len) == 0);
    if (same && b->pending.len == 0 && !force) {
        free(live.p);
        return;
    }
    b->frame.len = 0;
    if (b->pending.len == 0 && live.len == 0) {
        add_take_away(&b->frame, b->drawn > 0 ? drawn_rows(b) : 0);
    } else {
        if (b->drawn > 0)
            sb_printf(&b->frame, "\r\x1b[%dA", drawn_rows(b));
        add_permanent(b, &b->frame);
        if (live.len > 0) /* (live.p is NULL when nothing runs) */
            sb_add(&b->frame, live.p, live.len);
        sb_str(&b->frame, "\x1b[J"); /* from below a line: what is left of the old ones */
    }
    write_all(b, b->frame.p, b->frame.len);
    b->drawn = lines;
    free(b->last.p);
    b->last = live;
    if (b->frame.cap > 256 * 1024) {
        free(b->frame.p);
        b->frame = (strbuf){0};
    }
}

/* What a tick of the display counts: the run's rate and the busy blocks' steps. */
static void advance(ftpc_bars *b, long long now)
{
    for (ftpc_bar *bar = b->head; bar != NULL; bar = bar->next) {
        bar_settle(bar); /* an upload's bytes that reached the server since the last tick */
        /* A sample each tick, moved or not, as the Total line takes its own: a download
         * sampled only when bytes came measured its rate, after a stall longer than the
         * window, from the first bytes after it, while the Total line still counted the
         * stall (two lines of 300 KiB/s over "Total 26.0 KiB/s"). */
        progress_rate_update(&bar->rate, now, bar->pos);
    }
    progress_rate_update(&b->total_rate, now, b->moved);
    if (b->moved != b->busy_moved) {
        b->busy_moved = b->moved;
        b->busy_phase++;
    }
    for (ftpc_bar *bar = b->head; bar != NULL; bar = bar->next)
        if (bar->pos != bar->busy_pos) {
            bar->busy_pos = bar->pos;
            bar->busy_phase++;
        }
}

static long tick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    ftpc_bars *b = ud;
    long long now = ev_now(loop);
    advance(b, now);
    if (b->live) {
        draw(b, false);
        return b->nlive > 0 || b->pending.len > 0 ? TICK_LIVE_MS : EV_TIMER_STOP;
    }
    if (b->plain && b->nlive > 0) {
        strbuf out = {0};
        for (ftpc_bar *bar = b->head; bar != NULL; bar = bar->next)
            plain_line(&out, bar, now);
        if (out.len > 0)
            write_all(b, out.p, out.len);
        free(out.p);
        return TICK_PLAIN_MS;
    }
    return EV_TIMER_STOP;
}

static void ensure_timer(ftpc_bars *b)
{
    if (ev_timer_active(&b->timer))
        return;
    if (b->live)
        ev_timer_start(b->loop, &b->timer, TICK_LIVE_MS);
    else if (b->plain)
        ev_timer_start(b->loop, &b->timer, TICK_PLAIN_MS);
}

static bool utf8_locale(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

static void install_cont(ftpc_bars *b)
{
    sigaction(SIGCONT, NULL, &b->old_cont);
    /* (never this handler itself: a display started while another is live) */
    bool plain_fn = !(b->old_cont.sa_flags & SA_SIGINFO) && b->old_cont.sa_handler != SIG_DFL &&
                    b->old_cont.sa_handler != SIG_IGN && b->old_cont.sa_handler != cont_handler;
    cont_chained = plain_fn ? b->old_cont.sa_handler : NULL;
    cont_flag = 0;
    term_redraw_signal(SIGCONT, cont_handler, NULL);
}

ftpc_bars *ftpc_bars_new(ev_loop *loop, const ftpc_bars_cfg *cfg)
{
    ftpc_bars *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->loop = loop;
    b->fd = cfg->fd;
    b->stop = cfg->stop;
    b->quiet = cfg->quiet;
    bool tty = cfg->tty >= 0 ? cfg->tty != 0 : isatty(cfg->fd) == 1;
    /* A terminal that cannot move the cursor (TERM=dumb, as in an editor's shell) gets
     * the plain lines, without escape sequences. */
    const char *term = getenv("TERM");
    bool dumb = term != NULL && strcmp(term, "dumb") == 0;
    ftpc_progress_mode mode = cfg->mode;
    if (mode == FTPC_PROGRESS_AUTO)
        mode = tty ? (dumb ? FTPC_PROGRESS_PLAIN : FTPC_PROGRESS_BAR) : FTPC_PROGRESS_NONE;
    if (!b->quiet) {
        b->live = mode == FTPC_PROGRESS_BAR;
        b->plain = mode == FTPC_PROGRESS_PLAIN;
    }
    const char *nc = getenv("NO_COLOR");
    b->color = cfg->color >= 0 ? cfg->color != 0 : (tty && !dumb && (nc == NULL || nc[0] == '\0'));
    b->unicode = cfg->unicode >= 0 ? cfg->unicode != 0 : utf8_locale();
    if (cfg->width > 0) {
        b->width = cfg->width;
        b->rows = 1000;
        b->fixed_width = true;
    } else {
        query_size(b);
    }
    if (b->live && !b->fixed_width) {
        term_redraw_signal(SIGWINCH, winch_handler, &b->old_winch);
        install_cont(b);
    }
    ev_timer_init(&b->timer, tick_cb, b);
    progress_rate_init(&b->total_rate, ev_now(loop), 0);
    return b;
}

/* A run of several files ends with one line for all of them: the files' own lines say how
 * each went, this one what the whole run took. Its size is what those lines add up to: the
 * bytes of a transfer that failed (an upload the server refused at its end, a download cut
 * off) did not arrive, and "2 of 4 files, SIZE" reads as the size of the two. */
static void total_summary(ftpc_bars *b, strbuf *out)
{
    char files[48];
    if (b->nfinished < b->nfiles)
        snprintf(files, sizeof(files), "%d of %d files", b->nfinished, b->nfiles);
    else
        snprintf(files, sizeof(files), "%d files", b->nfinished);
    sb_printf(out, "Total: %s, ", files);
    add_moved(out, b->done_moved, ev_monotonic_us() - b->first_us);
    sb_str(out, "\n");
}

void ftpc_bars_free(ftpc_bars *b)
{
    if (b == NULL)
        return;
    if (!b->quiet && b->nfiles > 1 && b->nfinished > 1 && b->first_ms > 0)
        total_summary(b, &b->pending);
    while (b->head != NULL) {
        ftpc_bar *bar = b->head;
        b->head = bar->next;
        free(bar);
    }
    free(b->ended);
    b->ended = NULL;
    b->tail = NULL;
    b->nlive = 0;
    if (b->live && (b->drawn > 0 || b->pending.len > 0))
        draw(b, true);
    else if (b->pending.len > 0)
        write_all(b, b->pending.p, b->pending.len);
    ev_timer_stop(b->loop, &b->timer);
    if (b->live && !b->fixed_width) {
        sigaction(SIGWINCH, &b->old_winch, NULL);
        sigaction(SIGCONT, &b->old_cont, NULL);
        cont_chained = NULL;
        cont_flag = 0;
    }
    free(b->pending.p);
    free(b->frame.p);
    free(b->last.p);
    free(b);
}

void ftpc_bars_set_files(ftpc_bars *b, int nfiles)
{
    b->nfiles = nfiles;
    b->nplanned = 0;
    b->planned_bytes = 0;
}

void ftpc_bars_plan_file(ftpc_bars *b, uint64_t size)
{
    if (b == NULL)
        return;
    b->nplanned++;
    b->planned_bytes += size;
}

void ftpc_bars_file_skipped(ftpc_bars *b)
{
    if (b->nfiles > 0)
        b->nfiles--;
}

void ftpc_bars_file_present(ftpc_bars *b, uint64_t size)
{
    if (b == NULL)
        return;
    b->nfinished++;
    b->finished_bytes += size;
}

void ftpc_bars_file_failed(ftpc_bars *b)
{
    if (b != NULL)
        b->nfailed++;
}

void ftpc_bars_planned_file_failed(ftpc_bars *b, uint64_t size)
{
    if (b == NULL)
        return;
    b->nfailed++;
    b->planned_bytes = b->planned_bytes > size ? b->planned_bytes - size : 0;
}

bool ftpc_bars_live(const ftpc_bars *b)
{
    return b->live;
}

/* Whether the line is name's, by the name as given, not as shown: names that differ only in
 * bytes the display replaces ("d\xe9.bin", "d\xe8.bin": both "d?.bin") took over each
 * other's waiting lines. */
static bool named(const ftpc_bar *bar, const char *name)
{
    return strcmp(bar->raw, name) == 0;
}

/* The line of name waiting for its transfer's next attempt, or NULL. */
static ftpc_bar *waiting_line(ftpc_bars *b, const char *name)
{
    ftpc_bar *bar = b->head;
    while (bar != NULL && !(bar->waiting && named(bar, name)))
        bar = bar->next;
    return bar;
}

/* The next attempt of a waiting line's transfer: the line goes on from where this attempt
 * begins, its rate measured afresh (the attempt's, without the wait before it). */
static ftpc_bar *take_over(ftpc_bar *bar, int64_t total, uint64_t offset)
{
    ftpc_bars *b = bar->b;
    bar->waiting = false;
    bar->attempts++;
    bar->carried += bar->pos - bar->offset;
    bar->carried_wire += bar->wire;
    bar->wire = bar->wire_sent = 0;
    bar->end_ms = bar->end_us = 0;
    bar->total = total;
    bar->offset = bar->pos = bar->sent = offset;
    bar->moved_ms = b->restart_ms = ev_now(b->loop);
    progress_rate_init(&bar->rate, bar->moved_ms, offset);
    ensure_timer(b);
    return bar;
}

ftpc_bar *ftpc_bar_start(ftpc_bars *b, const char *name, int64_t total, uint64_t offset)
{
    ftpc_bar *waiting = waiting_line(b, name);
    if (waiting != NULL)
        return take_over(waiting, total, offset);
    size_t name_size = strlen(name) + 1; /* sanitizing never lengthens */
    ftpc_bar *bar = calloc(1, sizeof(*bar) + 2 * name_size);
    if (bar == NULL)
        return NULL;
    bar->b = b;
    progress_sanitize(bar->name, name_size, name);
    bar->room = name_size;
    bar->raw = bar->name + name_size;
    memcpy(bar->raw, name, name_size);
    bar->total = total;
    bar->offset = bar->pos = bar->sent = bar->first_offset = offset;
    bar->attempts = 1;
    bar->start_ms = bar->moved_ms = ev_now(b->loop);
    bar->start_us = ev_monotonic_us();
    if (b->first_ms == 0) {
        b->first_ms = bar->start_ms;
        b->first_us = bar->start_us;
        /* The run's rate counts from its first transfer, not from the connection and the
         * login before it. */
        progress_rate_init(&b->total_rate, bar->start_ms, b->moved);
    }
    progress_rate_init(&bar->rate, bar->start_ms, offset);
    bar->prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = bar;
    else
        b->head = bar;
    b->tail = bar;
    b->nlive++;
    ensure_timer(b);
    return bar;
}

void ftpc_bar_rename(ftpc_bar *bar, const char *name)
{
    /* The room the first name was given (a shown name may be shorter: a 2-byte control
     * character shows as one '?'), for name as shown and as given alike. */
    if (bar == NULL || strlen(name) + 1 > bar->room)
        return;
    progress_sanitize(bar->name, bar->room, name);
    memcpy(bar->raw, name, strlen(name) + 1);
}

void ftpc_bar_update(ftpc_bar *bar, uint64_t pos)
{
    if (bar == NULL || pos < bar->sent)
        return;
    bar->sent = pos;
    /* With an unsent count the position moves at the frames, which ask it: a call for each
     * write would cost a system call each. */
    if (bar->unsent == NULL)
        bar_show(bar, pos);
}

void ftpc_bar_unsent(ftpc_bar *bar, ftpc_bar_unsent_fn fn, void *ud)
{
    if (bar == NULL)
        return;
    bar->unsent = fn;
    bar->unsent_ud = fn != NULL ? ud : NULL;
    if (fn == NULL)
        bar_show(bar, bar->sent);
}

void ftpc_bar_wire(ftpc_bar *bar, uint64_t wire)
{
    if (bar == NULL)
        return;
    bar->wire_sent = wire;
    bar_show_wire(bar);
}

void ftpc_bar_restart(ftpc_bar *bar, uint64_t pos)
{
    if (bar == NULL)
        return;
    bar->offset = bar->pos = bar->sent = bar->first_offset = pos;
    bar->carried = bar->carried_wire = 0;
    bar->start_ms = bar->moved_ms = bar->b->restart_ms = ev_now(bar->b->loop);
    bar->start_us = ev_monotonic_us();
    progress_rate_init(&bar->rate, bar->start_ms, pos);
}

void ftpc_bar_rewind(ftpc_bar *bar, uint64_t pos)
{
    if (bar == NULL)
        return;
    bar->pos = bar->sent = pos;
    if (bar->offset > pos)
        bar->offset = pos;
    bar->end_ms = bar->end_us = 0; /* a line held for a check (ftpc_bar_checking) moves again */
    bar->moved_ms = bar->b->restart_ms = ev_now(bar->b->loop);
    progress_rate_init(&bar->rate, bar->moved_ms, pos);
}

void ftpc_bars_erase(ftpc_bars *b)
{
    if (b != NULL && b->live)
        forget_if_continued(b);
    if (b == NULL || !b->live || b->drawn == 0)
        return;
    if (winch_flag)
        query_size(b); /* the rows the lines take at the width the terminal has now */
    b->frame.len = 0;
    add_take_away(&b->frame, drawn_rows(b));
    write_all(b, b->frame.p, b->frame.len);
    b->drawn = 0;
}

void ftpc_bars_retract(ftpc_bars *b, uint64_t bytes)
{
    if (b == NULL || b->nfinished == 0)
        return;
    b->nfinished--;
    b->finished_bytes = b->finished_bytes > bytes ? b->finished_bytes - bytes : 0;
    b->done_moved = b->done_moved > bytes ? b->done_moved - bytes : 0;
}

void ftpc_bar_checking(ftpc_bar *bar)
{
    if (bar == NULL)
        return;
    bar_settle_all(bar);
    if (bar->end_ms == 0) {
        bar->end_ms = ev_now(bar->b->loop);
        bar->end_us = ev_monotonic_us();
    }
    /* Every byte has moved, so a length unknown until now is known: a full bar while the
     * check runs, not the moving block of a transfer still under way. */
    if (bar->total < 0)
        bar->total = (int64_t)bar->pos;
}

void ftpc_bar_done(ftpc_bar *bar, bool ok)
{
    ftpc_bar_done_note(bar, ok, NULL);
}

/* Takes the line out of the list of those drawn. */
static void unlink_line(ftpc_bar *bar)
{
    ftpc_bars *b = bar->b;
    if (bar->prev != NULL)
        bar->prev->next = bar->next;
    else
        b->head = bar->next;
    if (bar->next != NULL)
        bar->next->prev = bar->prev;
    else
        b->tail = bar->prev;
    b->nlive--;
}

void ftpc_bar_done_note(ftpc_bar *bar, bool ok, const char *note)
{
    if (bar == NULL)
        return;
    bar_settle_all(bar);
    ftpc_bars *b = bar->b;
    int index = 0;
    for (const ftpc_bar *o = b->head; o != NULL && o != bar; o = o->next)
        index++;
    unlink_line(bar);
    if (ok) {
        b->nfinished++;
        b->finished_bytes += bar->pos;
        b->done_moved += bar_moved(bar); /* as its summary line says */
        if (!b->quiet) {
            summary_line(&b->pending, bar);
            if (note != NULL)
                sb_printf(&b->pending, ", %s", note);
            sb_str(&b->pending, "\n");
            if (!b->live) {
                write_all(b, b->pending.p, b->pending.len);
                b->pending.len = 0;
            }
        }
        free(bar);
    } else {
        /* Kept until the runner says whether its transfer goes again (ftpc_bars_retrying). */
        free(b->ended);
        b->ended = bar;
        b->ended_index = index;
        bar->prev = bar->next = NULL;
    }
    if (b->live)
        ensure_timer(b);
}

void ftpc_bars_retrying(ftpc_bars *b, const char *name)
{
    ftpc_bar *still = b != NULL ? waiting_line(b, name) : NULL;
    if (still != NULL) {
        /* An attempt that failed before it had a line (a refused connect): the line waits
         * on, and the summary's count of attempts has this one too. */
        still->attempts++;
        return;
    }
    if (b == NULL)
        return;
    ftpc_bar *bar = b->ended;
    if (bar == NULL || !named(bar, name))
        return;
    b->ended = NULL;
    bar->waiting = true;
    /* Back in its place among the lines: a line that moved would be read as another. */
    ftpc_bar *after = NULL;
    for (int i = 0; i < b->ended_index && (after == NULL ? b->head : after->next) != NULL; i++)
        after = after == NULL ? b->head : after->next;
    bar->prev = after;
    bar->next = after != NULL ? after->next : b->head;
    if (bar->next != NULL)
        bar->next->prev = bar;
    else
        b->tail = bar;
    if (after != NULL)
        after->next = bar;
    else
        b->head = bar;
    b->nlive++;
    ensure_timer(b);
}

void ftpc_bars_end_waiting(ftpc_bars *b, const char *name)
{
    ftpc_bar *bar = b != NULL ? waiting_line(b, name) : NULL;
    if (bar == NULL)
        return;
    unlink_line(bar);
    free(bar);
    if (b->live)
        ensure_timer(b);
}

size_t ftpc_bars_snapshot(ftpc_bars *b, char *out, size_t out_size, int width)
{
    if (out_size > 0)
        out[0] = '\0';
    if (b == NULL || out_size == 0)
        return 0;
    /* A display that draws nothing (a background job's) has no tick: its snapshots, taken
     * a few times a second, count in its place, or the Total line never had a rate. */
    if (!b->live && !b->plain)
        advance(b, ev_now(b->loop));
    int w = b->width, rows = b->rows;
    bool color = b->color;
    b->width = width;
    b->rows = 1000;
    b->color = false;
    strbuf live = {0};
    int lines = 0;
    build_live(b, &live, ev_now(b->loop), &lines);
    b->width = w;
    b->rows = rows;
    b->color = color;
    /* Drop the "clear line" sequences meant for the terminal. */
    size_t o = 0;
    for (size_t i = 0; i < live.len && o + 1 < out_size;) {
        if (live.len - i >= 4 && memcmp(live.p + i, "\x1b[2K", 4) == 0) {
            i += 4;
            continue;
        }
        out[o++] = live.p[i++];
    }
    out[o] = '\0';
    free(live.p);
    return o;
}

void ftpc_bars_message(ftpc_bars *b, const char *line)
{
    sb_str(&b->pending, line);
    sb_str(&b->pending, "\n");
    if (b->live && (b->drawn > 0 || b->nlive > 0)) {
        draw(b, true);
        return;
    }
    write_all(b, b->pending.p, b->pending.len);
    b->pending.len = 0;
}

void ftpc_bars_step_aside(ftpc_bars *b)
{
    if (b != NULL && b->live)
        forget_if_continued(b);
    if (b == NULL || !b->live || (b->drawn == 0 && b->pending.len == 0))
        return;
    if (winch_flag) {
        winch_flag = 0;
        query_size(b); /* the rows the lines take at the width the terminal has now */
    }
    b->frame.len = 0;
    if (b->pending.len == 0) {
        add_take_away(&b->frame, drawn_rows(b));
    } else {
        if (b->drawn > 0)
            sb_printf(&b->frame, "\r\x1b[%dA", drawn_rows(b));
        add_permanent(b, &b->frame);
        sb_str(&b->frame, "\x1b[J");
    }
    write_all(b, b->frame.p, b->frame.len);
    b->drawn = 0;
    /* Nothing of the live lines is on the screen now: the next tick draws them whole. */
    b->last.len = 0;
}
