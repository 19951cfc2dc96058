/* Logging to standard error. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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
    write_all(line, pos);
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
