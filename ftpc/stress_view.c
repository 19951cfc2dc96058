/* The live view of ftpc stress (see the header). */
#include "stress_view.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "termsize.h"

#define PLAIN_EVERY_MS 1000
/* Operations per second are counted over the last second: over five, late in a short run
 * whose rate fell (a three-second list-only run) the view read 2062/s where fewer than 400
 * a second were done. A second of operations spans four frames, so the number does not jump
 * from one to the next; the byte rates keep the bars' five seconds. */
#define OPS_RATE_WINDOW_MS 1000
/* progress_rate_bps says 0 over a shorter span: no measurement yet, not a rate of 0. The
 * first frames of a run, or of the run after its set-up, show no rate rather than "0/s". */
#define RATE_MIN_SPAN_MS 200

/* Continued after a stop (Ctrl-Z, then fg): the job-control shell wrote below the frame
 * meanwhile ("[1]+ Stopped", the prompt, the command it continued), and going up over the
 * frame's rows would write over its lines. The next frame starts below them instead. */
static volatile sig_atomic_t view_continued;

static void on_cont(int sig)
{
    (void)sig;
    view_continued = 1;
}

static void forget_if_continued(stress_view *v)
{
    if (view_continued) {
        view_continued = 0;
        v->drawn = 0;
    }
}

void stress_view_init(stress_view *v, int fd, bool enabled)
{
    memset(v, 0, sizeof(*v));
    v->fd = fd;
    v->enabled = enabled;
    v->tty = enabled && isatty(fd);
    const char *term = getenv("TERM");
    if (v->tty && term != NULL && strcmp(term, "dumb") == 0)
        v->tty = false;
    const char *nc = getenv("NO_COLOR");
    v->color = v->tty && (nc == NULL || nc[0] == '\0');
    if (v->tty) {
        view_continued = 0;
        v->cont_set = term_redraw_signal(SIGCONT, on_cont, &v->old_cont);
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return; /* a closed terminal is no reason to stop the run */
        p += w;
        n -= (size_t)w;
    }
}

/* The rows the last frame takes on a terminal cols wide: its lines fit the width it was
 * drawn at, but a window made narrower since rewraps them (VTE, Konsole, kitty, tmux). */
static int frame_rows(const stress_view *v, int cols)
{
    size_t rows = 0;
    const char *p = v->last, *end = v->last + v->last_len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        rows += progress_text_rows(p, (size_t)((nl != NULL ? nl : end) - p), (size_t)cols, NULL);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return rows > (size_t)v->drawn ? (int)rows : v->drawn;
}

/* Moves to the start of the frame's first line, ready for text that goes over the old;
 * cols: the terminal's width now. Nothing is cleared here: "clear to the end of the screen"
 * from the top-left corner (a frame at the top of a new window, or after `clear`) is a clear
 * screen to tmux, which then keeps a copy of the screen in its history (scroll-on-clear): one
 * a frame, four a second. Each line of the new text clears the rest of its own row instead,
 * and the end of the text what lies below it. */
static size_t go_to_start(const stress_view *v, char *out, size_t size, int cols)
{
    size_t o = 0;
    int rows = v->drawn > 0 ? frame_rows(v, cols) : 0;
    if (rows > 1)
        o += (size_t)snprintf(out + o, size - o, "\033[%dA", rows - 1);
    if (v->drawn > 0)
        o += (size_t)snprintf(out + o, size - o, "\r");
    return o;
}

/* The terminal frame's text: fields laid out on lines no wider than the terminal, because a
 * line that wraps moves the frame's start out of reach of the next redraw's cursor-up. Each
 * group starts a line; a field that does not fit goes to the next one, broken between
 * words if it is wider than a line. */
typedef struct layout {
    char *out;
    size_t size, len;
    int width, col, lines;
    int max_lines; /* 0: any; else the fields that would need more lines are left out */
    bool full;
} layout;

static void lay_raw(layout *l, const char *p, size_t n)
{
    if (l->len + n >= l->size)
        n = l->len + 1 < l->size ? l->size - l->len - 1 : 0;
    memcpy(l->out + l->len, p, n);
    l->len += n;
    l->out[l->len] = '\0';
}

/* Places n bytes of a field's text, its first hl of them between on and off; max: the widest
 * a line may be. */
static void lay_piece(layout *l, bool new_line, const char *text, size_t n, size_t hl,
                      const char *on, const char *off, int max)
{
    if (l->full)
        return;
    if (l->lines == 0) {
        l->lines = 1;
    } else if (new_line || l->col + 3 + (int)n > max) {
        /* A frame taller than the terminal scrolls its top out of the cursor-up's reach:
         * every redraw would then push lines into the scrollback. */
        if (l->max_lines > 0 && l->lines >= l->max_lines) {
            l->full = true;
            return;
        }
        lay_raw(l, "\033[K\n", 4); /* the rest of the old frame's row */
        l->lines++;
        l->col = 0;
    } else {
        lay_raw(l, "   ", 3);
        l->col += 3;
    }
    if (hl > 0) {
        lay_raw(l, on, strlen(on));
        lay_raw(l, text, hl);
        lay_raw(l, off, strlen(off));
    }
    lay_raw(l, text + hl, n - hl);
    l->col += (int)n;
}

/* The bytes of text from start that go on one line: all that fits, else up to the last
 * blank that fits, else a line's width. */
static size_t piece_len(const char *text, size_t start, size_t n, int max)
{
    size_t k = n - start;
    if (k > (size_t)max) {
        size_t cut = (size_t)max;
        while (cut > 0 && text[start + cut] != ' ')
            cut--;
        k = cut > 0 ? cut : (size_t)max;
    }
    return k;
}

/* Whether the whole field fits the lines the terminal has left (lay_piece's placing, dry). */
static bool field_fits(const layout *l, bool new_group, const char *text, size_t n, int max)
{
    if (l->max_lines == 0)
        return true;
    int col = l->col, lines = l->lines;
    size_t start = 0;
    bool first = true;
    while (start < n) {
        size_t k = piece_len(text, start, n, max);
        if (lines == 0) {
            lines = 1;
        } else if ((first ? new_group : true) || col + 3 + (int)k > max) {
            if (lines >= l->max_lines)
                return false;
            lines++;
            col = 0;
        } else {
            col += 3;
        }
        col += (int)k;
        start += k;
        while (start < n && text[start] == ' ')
            start++;
        first = false;
    }
    return true;
}

/* Adds a field (printf-style); its first hl bytes (all of them if fewer) between on and
 * off. A field wider than a line goes on over the next ones, broken between words: cut at
 * the edge, a 20-column terminal read "verify failures 100" for 1000, "clients 6/20 logged"
 * and "stress run 0.2 s / " without the run's length. Only a word wider than a line is cut. */
__attribute__((format(printf, 6, 7))) static void
lay(layout *l, bool new_group, size_t hl, const char *on, const char *off, const char *fmt, ...)
{
    char text[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    int max = l->width - 1 > 10 ? l->width - 1 : 10;
    size_t n = strlen(text), start = 0;
    if (l->full || !field_fits(l, new_group, text, n, max)) {
        l->full = true; /* a field shown in part could read as another figure */
        return;
    }
    bool first = true;
    while (start < n) {
        size_t k = piece_len(text, start, n, max);
        size_t piece_hl = hl > start ? (hl - start < k ? hl - start : k) : 0;
        lay_piece(l, first ? new_group : true, text + start, k, piece_hl, on, off, max);
        start += k;
        while (start < n && text[start] == ' ')
            start++;
        first = false;
    }
    /* The next field starts a line of its own, not after a field's last word ("in   11
     * logging in"). */
    if (n > (size_t)max)
        l->col = max;
}

static void ms_str(uint64_t us, char *out, size_t size)
{
    if (us == 0)
        snprintf(out, size, "-");
    else if (us < 10000)
        snprintf(out, size, "%.2f ms", (double)us / 1000.0);
    else if (us < 1000000)
        snprintf(out, size, "%.1f ms", (double)us / 1000.0);
    else
        snprintf(out, size, "%.2f s", (double)us / 1e6);
}

void stress_view_update(stress_view *v, const stress_view_sample *s)
{
    if (!v->enabled)
        return;
    const stress_stats *st = s->st;
    uint64_t ops = stress_stats_ops_total(st);
    /* The run's counters start from 0 after the set-up's: a window over both would show
     * the fixtures' upload rate in a run that uploads nothing. */
    bool main_phase = strcmp(s->phase, "setup") != 0;
    if (!v->rates_started || main_phase != v->rates_main) {
        v->rates_main = main_phase;
        progress_rate_init(&v->down, s->now_ms, st->bytes_down);
        progress_rate_init(&v->up, s->now_ms, st->bytes_up);
        progress_rate_init(&v->ops, s->now_ms, ops);
        v->rates_t0 = s->now_ms;
        v->rates_started = true;
    } else {
        progress_rate_update(&v->down, s->now_ms, st->bytes_down);
        progress_rate_update(&v->up, s->now_ms, st->bytes_up);
        progress_rate_update(&v->ops, s->now_ms, ops);
    }
    if (!v->tty && s->now_ms - v->last_plain_ms < PLAIN_EVERY_MS && v->last_plain_ms != 0)
        return;
    v->last_plain_ms = s->now_ms;

    char down[32] = "-", up[32] = "-", ops_s[32] = "", p50[32], p99[32], el[32];
    if (s->now_ms - v->rates_t0 >= RATE_MIN_SPAN_MS) {
        progress_rate_str(progress_rate_bps(&v->down, s->now_ms), down, sizeof(down));
        progress_rate_str(progress_rate_bps(&v->up, s->now_ms), up, sizeof(up));
        snprintf(ops_s, sizeof(ops_s), " (%.0f/s)",
                 progress_rate_bps_within(&v->ops, s->now_ms, OPS_RATE_WINDOW_MS));
    }
    ms_str(stress_hist_pct(&st->ops, 50), p50, sizeof(p50));
    ms_str(stress_hist_pct(&st->ops, 99), p99, sizeof(p99));
    snprintf(el, sizeof(el), "%.1f s", s->elapsed_s);
    uint64_t errs = stress_stats_errors_total(st);
    uint64_t faults = st->faults_abort + st->faults_drop;

    char frame[2048];
    size_t o = 0;
    if (v->tty) {
        term_size ts = term_size_of(v->fd);
        int cols = ts.cols;
        forget_if_continued(v);
        o = go_to_start(v, frame, sizeof(frame), cols);
        const char *red = v->color && (errs || st->verify_failures) ? "\033[31m" : "";
        const char *bold = v->color ? "\033[1m" : "";
        const char *off = v->color ? "\033[0m" : "";
        char total[32] = "";
        if (s->total_s > 0)
            snprintf(total, sizeof(total), s->total_s < 10 ? " / %.1f s" : " / %.0f s", s->total_s);
        /* One row left for the cursor, and for a message printed above the frame. */
        layout l = {.out = frame + o,
                    .size = sizeof(frame) - o,
                    .width = cols,
                    .max_lines = ts.rows > 2 ? ts.rows - 1 : 1};
        const char *red_off = red[0] ? off : "";
        lay(&l, true, strlen("stress"), bold, off, "stress %s %s%s", s->phase, el, total);
        /* Sessions the server holds, not TCP connections: a server at its cap may leave the
         * extra connections in its listen queue, never greeted; those are counted apart. */
        lay(&l, false, 0, "", "", "clients %d/%d logged in", s->logged_in, s->clients);
        /* Those on their way in, so that slow logins (a server hashing passwords) read apart
         * from a stall: "3/50 logged in" alone says neither. */
        if (s->logging_in > 0)
            lay(&l, false, 0, "", "", "%d logging in", s->logging_in);
        if (s->awaiting_greeting > 0)
            lay(&l, false, 0, "", "", "%d awaiting greeting", s->awaiting_greeting);
        lay(&l, true, 0, "", "", "ops %" PRIu64 "%s", ops, ops_s);
        lay(&l, false, 0, "", "", "in flight %d", s->inflight);
        lay(&l, false, 0, "", "", "down %s", down);
        lay(&l, false, 0, "", "", "up %s", up);
        lay(&l, true, SIZE_MAX, red, red_off, "errors %" PRIu64, errs);
        lay(&l, false, SIZE_MAX, red, red_off, "verify failures %" PRIu64, st->verify_failures);
        lay(&l, false, 0, "", "", "faults %" PRIu64, faults);
        /* Two fields, so that a narrow terminal moves p99 to the next line instead of
         * cutting its number ("p99 123." for 123.4 ms). */
        lay(&l, false, 0, "", "", "latency p50 %s", p50);
        lay(&l, false, 0, "", "", "p99 %s", p99);
        /* The rest of the last row and the rows of an old frame that had more lines: from
         * the end of the text, never from the screen's top-left corner. */
        lay_raw(&l, "\033[J", 3);
        v->last_len = l.len < sizeof(v->last) ? l.len : sizeof(v->last) - 1;
        memcpy(v->last, l.out, v->last_len);
        o += l.len;
        v->drawn = l.lines;
    } else {
        o += (size_t)snprintf(
            frame + o, sizeof(frame) - o,
            "stress %s %s: %d/%d logged in, %d logging in, %d awaiting "
            "greeting, %d in flight, ops %" PRIu64 "%s, down %s, up %s, "
            "errors %" PRIu64 ", verify failures %" PRIu64 ", faults %" PRIu64 ", p50 %s, p99 %s\n",
            s->phase, el, s->logged_in, s->clients, s->logging_in, s->awaiting_greeting,
            s->inflight, ops, ops_s, down, up, errs, st->verify_failures, faults, p50, p99);
    }
    if (o >= sizeof(frame))
        o = sizeof(frame) - 1;
    write_all(v->fd, frame, o);
}

void stress_view_message(stress_view *v, const char *msg)
{
    char out[1200];
    size_t o = 0;
    if (v->tty)
        forget_if_continued(v);
    bool over_frame = v->tty && v->drawn > 0;
    if (over_frame) {
        o = go_to_start(v, out, sizeof(out), term_size_of(v->fd).cols);
        v->drawn = 0; /* redrawn by the next update */
    }
    /* Over the frame: the rest of the message's last row is cleared (unless it ends on the
     * right margin, where a clear would take its last character), then, from the start of
     * the next row, what is left of the frame. */
    bool at_margin = false;
    if (over_frame)
        progress_text_rows(msg, strlen(msg), (size_t)term_size_of(v->fd).cols, &at_margin);
    int n = snprintf(out + o, sizeof(out) - o, "%s%s\n%s", msg,
                     over_frame && !at_margin ? "\033[K" : "", over_frame ? "\033[J" : "");
    if (n > 0)
        o += (size_t)n < sizeof(out) - o ? (size_t)n : sizeof(out) - o - 1;
    write_all(v->fd, out, o);
}

void stress_view_finish(stress_view *v)
{
    if (v->tty)
        forget_if_continued(v);
    if (v->cont_set) {
        sigaction(SIGCONT, &v->old_cont, NULL);
        v->cont_set = false;
    }
    if (v->tty && v->drawn > 0) {
        write_all(v->fd, "\n", 1);
        v->drawn = 0;
    }
}
