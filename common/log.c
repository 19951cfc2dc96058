/* Logging to standard error. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
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
static int footer_rows(void)
{
    size_t cols = (size_t)term_size_of(STDERR_FILENO).cols;
    size_t rows = 0, cells = 0;
    for (const char *p = footer; p < footer + footer_len;) {
        if (*p == '\n') {
            rows += cells > cols ? (cells + cols - 1) / cols : 1;
            cells = 0;
            p++;
            continue;
        }
        size_t len;
        cells += progress_char_cells(p, &len);
        p += len > 0 ? len : 1;
    }
    rows += cells > cols ? (cells + cols - 1) / cols : 1;
    return rows > (size_t)footer_lines ? (int)rows : footer_lines;
}

/* The sequence that takes the block off the screen: the cursor sits at the end of its last
 * row, so it goes to the start of the first and clears to the end of the screen. */
static size_t erase_footer(char *out, size_t size)
{
    int n;
    int rows = footer_lines > 0 ? footer_rows() : 0;
    if (rows <= 0)
        n = snprintf(out, size, "%s", "");
    else if (rows == 1)
        n = snprintf(out, size, "\r\033[J");
    else
        n = snprintf(out, size, "\r\033[%dA\033[J", rows - 1);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* A log line written above the block: erase, the line, the block again, in one write. */
static void write_framed(const char *line, size_t len)
{
    char erase[32];
    size_t n = erase_footer(erase, sizeof(erase));
    char *frame = malloc(n + len + footer_len);
    if (frame == NULL) {
        write_all(erase, n);
        write_all(line, len);
        write_all(footer, footer_len);
        return;
    }
    memcpy(frame, erase, n);
    memcpy(frame + n, line, len);
    memcpy(frame + n + len, footer, footer_len);
    write_all(frame, n + len + footer_len);
    free(frame);
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

    size_t msg_start = pos;
    size_t room = sizeof(line) - pos - 1; /* keep one byte for the newline */
    n = vsnprintf(line + pos, room + 1, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > room) {
        pos += room;
        line[pos - 3] = line[pos - 2] = line[pos - 1] = '.';
    } else {
        pos += (size_t)n;
    }
    /* Messages carry client-controlled text (paths, user names): a CR or LF in it must not
     * forge a second log line, so control characters are neutralised. */
    for (size_t i = msg_start; i < pos; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            line[i] = '?';
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
    char erase[32];
    size_t n = erase_footer(erase, sizeof(erase));
    free(footer);
    footer = copy;
    footer_len = len;
    footer_lines = lines;
    /* One write per frame, so the terminal never shows a half-drawn block. */
    size_t total = n + footer_len;
    char *frame = malloc(total + 1);
    if (frame != NULL) {
        memcpy(frame, erase, n);
        if (footer_len > 0)
            memcpy(frame + n, footer, footer_len);
        write_all(frame, total);
        free(frame);
    } else {
        write_all(erase, n);
        if (footer_len > 0)
            write_all(footer, footer_len);
    }
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
