/* Logging to standard error. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "termsize.h"

log_level_t log_level = LOG_INFO;

/* Lines up to PIPE_BUF bytes are written atomically to a pipe, so lines from the worker
 * threads and the loop never interleave, even when stderr is a pipe to a supervisor. */
#define LOG_LINE_MAX 4096

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int log_parse_level(const char *s, log_level_t *out)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* The status block (log_footer_set). Lines come from the loop and the worker threads; the
 * mutex keeps a line from landing between the block's erasure and its redraw. */
static pthread_mutex_t footer_mu = PTHREAD_MUTEX_INITIALIZER;
static char *footer;
static size_t footer_len;
static int footer_lines;
static volatile sig_atomic_t footer_lost; /* log_footer_lost */
static size_t footer_rows(size_t cols);

void log_footer_lost(void)
{
    footer_lost = 1;
}

/* The rows of the old block to draw over: none once it was lost. Under footer_mu. */
static size_t footer_rows_on_screen(size_t cols)
{
    if (footer_lost) {
        footer_lost = 0;
        return 0;
    }
    return footer_lines > 0 ? footer_rows(cols) : 0;
}

static void write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* The screen rows the block takes now. Its lines were narrower than the terminal when they
 * were drawn, but a window made narrower since rewraps them (most terminals do: VTE, Konsole,
 * kitty, iTerm2, Windows Terminal, tmux), and a line wider than a tiny terminal wrapped as it
 * was written: counting one row a line would leave the top of the old block on the screen. */
static size_t footer_rows(size_t cols)
{
    size_t rows = 0;
    for (const char *p = footer, *end = footer + footer_len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        rows += progress_text_rows(p, (size_t)(stop - p), cols, NULL);
        p = nl ? nl + 1 : end;
    }
    return rows > (size_t)footer_lines ? rows : (size_t)footer_lines;
}

/* Where a frame goes: one buffer, so the terminal never shows half of it, or straight to
 * standard error piece by piece when there was no memory for the buffer. */
typedef struct frame {
    char *p;
    size_t len, size;
} frame;

static void frame_add(frame *f, const char *s, size_t n)
{
    if (f->p == NULL) {
        write_all(s, n);
        return;
    }
    if (n > f->size - f->len)
        n = f->size - f->len; /* cannot happen: draw_frame counted every byte */
    memcpy(f->p + f->len, s, n);
    f->len += n;
}

static void frame_str(frame *f, const char *s)
{
    frame_add(f, s, strlen(s));
}

/* A line of the frame over whatever was drawn there. Nothing is cleared ahead of the text:
 * a terminal may take "clear to the end of the screen" from its top-left corner for a clear
 * screen and keep a copy of the block in its history (tmux), which after a window made
 * shorter left one for every frame. So the text goes over the old, then the rest of its last
 * row is cleared, or with the last line of the frame everything below; except when the text
 * ends on the right margin, where a clear would take its last character too (the last line's
 * clear then comes first). */
static void frame_line(frame *f, const char *s, size_t n, size_t cols, bool last)
{
    bool fills_row;
    progress_text_rows(s, n, cols, &fills_row);
    if (last && fills_row)
        frame_str(f, "\033[J");
    frame_add(f, s, n);
    if (!fills_row)
        frame_str(f, last ? "\033[J" : "\033[K");
    if (!last)
        frame_str(f, "\n");
}

/* Draws over the block on the screen: log_line (with its newline; NULL for none) above the
 * block in `footer` now. The cursor ends at the end of the block's last row. */
static void draw_frame(size_t old_rows, const char *log_line, size_t log_len, size_t cols)
{
    frame f = {0};
    f.size = 32 + log_len + footer_len + 4 * ((size_t)footer_lines + 2);
    f.p = malloc(f.size);
    /* With no old rows to go over, from the start of the cursor's row all the same: a block
     * lost after a continue (log_footer_lost) with nothing written below it meanwhile (a stop
     * and continue by another program, no shell) left the cursor at the end of its last line,
     * and the next log line began there ("... 0 done2026-12-08T00:15:22.462Z INFO ..."). That
     * row's old total is written over; where the shell wrote, the row is its empty last. */
    char up[32] = "\r";
    if (old_rows > 1)
        snprintf(up, sizeof up, "\r\033[%zuA", old_rows - 1);
    frame_str(&f, up);
    bool block = footer_lines > 0;
    if (log_line != NULL)
        frame_line(&f, log_line, log_len - 1, cols, !block);
    if (!block && log_line == NULL)
        frame_str(&f, "\033[J"); /* the block taken away */
    for (const char *p = footer, *end = footer + footer_len; block && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        frame_line(&f, p, (size_t)(stop - p), cols, nl == NULL);
        p = nl ? nl + 1 : end;
    }
    if (f.p != NULL) {
        write_all(f.p, f.len);
        free(f.p);
    }
}

static size_t terminal_cols(void)
{
    return (size_t)term_size_of(STDERR_FILENO).cols;
}

#define TAB_STOPS 8 /* the terminals' default, as progress_text_rows counts them */

/* line with each tab (a log line may hold one: client text) turned into the spaces it would
 * move over: a tab moves the cursor without writing, so the cells it skips would keep what the
 * block had drawn there. Returns a malloc'd copy, or NULL when there is no tab (or no memory:
 * the line then goes as it is). */
static char *tabs_as_spaces(const char *line, size_t len, size_t cols, size_t *out_len)
{
    if (memchr(line, '\t', len) == NULL)
        return NULL;
    char *out = malloc(len * TAB_STOPS + 1);
    if (out == NULL)
        return NULL;
    size_t col = 0, o = 0, n;
    for (const char *p = line, *end = line + len; p < end; p += n) {
        if (*p == '\t') { /* to the next stop, never past the last column */
            size_t stop = (col / TAB_STOPS + 1) * TAB_STOPS;
            size_t to = col >= cols ? col : stop < cols ? stop : cols - 1;
            for (; col < to; col++)
                out[o++] = ' ';
            n = 1;
            continue;
        }
        size_t w = *p == '\n' ? 0 : progress_char_cells(p, &n);
        if (*p == '\n')
            n = 1;
        if (p + n > end)
            n = (size_t)(end - p);
        if (col > 0 && col + w > cols) /* the terminal wraps it to the next row */
            col = 0;
        col += w;
        memcpy(out + o, p, n);
        o += n;
    }
    *out_len = o;
    return out;
}

/* A log line written above the block: over the block, the line, the block again. */
static void write_framed(const char *line, size_t len)
{
    size_t cols = terminal_cols();
    size_t spaced_len = 0;
    char *spaced = tabs_as_spaces(line, len, cols, &spaced_len);
    size_t old_rows = footer_rows_on_screen(cols);
    if (spaced != NULL)
        draw_frame(old_rows, spaced, spaced_len, cols);
    else
        draw_frame(old_rows, line, len, cols);
    free(spaced);
}

/* The next piece of a message at s (avail bytes): its *len bytes go into the line as they are
 * (true), or as "\xNN" each (false): progress_log_plain, and a tab as it is. */
static bool log_unit(const char *s, size_t avail, size_t *len)
{
    if (*s == '\t') {
        *len = 1;
        return true;
    }
    return progress_log_plain(s, avail, len);
}

__attribute__((format(printf, 2, 0))) static void log_vmsg(log_level_t level, const char *fmt,
                                                           va_list ap)
{
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t pos = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned lvl = (unsigned)level < 4 ? (unsigned)level : 0;
    int n = snprintf(line + pos, sizeof(line) - pos, ".%03ldZ %s ", ts.tv_nsec / 1000000L,
                     level_names[lvl]);
    if (n > 0)
        pos += (size_t)n;

    char msg[LOG_LINE_MAX];
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t msg_len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    /* Messages carry client-controlled text (paths, user names): a CR or LF in it must not
     * forge a second log line, a C1 control (U+009B, or 0x9B alone, is CSI to xterm) or a
     * bidirectional override must not act on the administrator's terminal, and a name that is
     * not UTF-8 must not make the whole log unreadable as text. Each byte of those, and the
     * backslash, is written as "\xNN" (nginx's way), so the line is valid UTF-8 and the name
     * can still be read back exactly. A tab stays. */
    size_t escaped = 0;
    for (size_t i = 0, len; i < msg_len; i += len)
        escaped += log_unit(msg + i, msg_len - i, &len) ? len : 4 * len;
    size_t end = sizeof(line) - 1; /* keep one byte for the newline */
    bool cut = (n >= 0 && (size_t)n >= sizeof msg) || pos + escaped > end;
    if (cut)
        end -= 3; /* for the "..." that marks the cut */
    for (size_t i = 0, len; i < msg_len; i += len) {
        bool plain = log_unit(msg + i, msg_len - i, &len);
        if (pos + (plain ? len : 4 * len) > end)
            break; /* whole characters and escapes only */
        if (plain) {
            memcpy(line + pos, msg + i, len);
            pos += len;
            continue;
        }
        for (size_t k = 0; k < len; k++, pos += 4)
            snprintf(line + pos, 5, "\\x%02x", (unsigned char)msg[i + k]);
    }
    if (cut) {
        memcpy(line + pos, "...", 3);
        pos += 3;
    }
    line[pos++] = '\n';
    pthread_mutex_lock(&footer_mu);
    if (footer_lines > 0)
        write_framed(line, pos);
    else
        write_all(line, pos);
    pthread_mutex_unlock(&footer_mu);
}

void log_footer_set(const char *text, int lines)
{
    pthread_mutex_lock(&footer_mu);
    char *copy = NULL;
    size_t len = 0;
    if (text != NULL && lines > 0) {
        len = strlen(text);
        copy = malloc(len + 1);
        if (copy != NULL)
            memcpy(copy, text, len + 1);
    }
    if (copy == NULL)
        lines = 0;
    size_t cols = terminal_cols();
    size_t old_rows = footer_rows_on_screen(cols);
    free(footer);
    footer = copy;
    footer_len = len;
    footer_lines = lines;
    if (old_rows > 0 || footer_lines > 0)
        draw_frame(old_rows, NULL, 0, cols);
    pthread_mutex_unlock(&footer_mu);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    /* Callers log on error paths and then still inspect errno. */
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_startup(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_INFO, fmt, ap);
    va_end(ap);
    errno = saved;
}

_Noreturn void log_assert_fail(const char *cond, const char *file, int line)
{
    log_msg(LOG_ERROR, "assertion failed: %s at %s:%d", cond, file, line);
    abort();
}
