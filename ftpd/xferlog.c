#include "xferlog.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

FILE *xferlog_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "a");
    if (f == NULL) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

int xferlog_append(FILE *log, const char *line, size_t len)
{
    int fd = fileno(log);
    ssize_t n;
    do
        n = write(fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != len) {
        /* A piece of the line went in (a full disk, a file size limit): it goes again, or
         * the next line would be joined to it. ftpd is the file's only writer (O_APPEND), so
         * the piece is the file's last n bytes. */
        off_t end = lseek(fd, 0, SEEK_END);
        if (end >= n)
            (void)ftruncate(fd, end - n);
        errno = EIO;
        return -1;
    }
    return 0;
}

typedef struct {
    char *p;
    size_t left;
    bool overflow;
} outbuf;

static void put_char(outbuf *o, char c)
{
    if (o->left <= 1) {
        o->overflow = true;
        return;
    }
    *o->p++ = c;
    o->left--;
}

static void put_str(outbuf *o, const char *s)
{
    for (; *s; s++)
        put_char(o, *s);
}

/* xferlog is split on spaces, and paths and anonymous "passwords" come from the client: a
 * space would shift every later field (it becomes '_', as wu-ftpd wrote it) and a newline
 * would forge a whole line. Every byte the session log escapes (progress_log_plain: controls,
 * C1 included, which xterm takes for CSI; separators and bidirectional overrides; bytes that
 * are not UTF-8; the backslash) is written as "\xNN", so a line is one line of valid UTF-8
 * and the name can be read back. */
static void put_field(outbuf *o, const char *s)
{
    if (!s || !*s) {
        put_char(o, '*');
        return;
    }
    for (size_t len; *s; s += len) {
        if (*s == ' ') {
            len = 1;
            put_char(o, '_');
        } else if (progress_log_plain(s, strnlen(s, 4), &len)) {
            for (size_t i = 0; i < len; i++)
                put_char(o, s[i]);
        } else {
            for (size_t i = 0; i < len; i++) {
                char esc[5];
                snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)s[i]);
                put_str(o, esc);
            }
        }
    }
}

int xferlog_format(char *out, size_t out_size, const xferlog_entry *e)
{
    if (out_size == 0)
        return -1;
    outbuf o = {out, out_size, false};

    struct tm tm;
    char stamp[64];
    if (!localtime_r(&e->end, &tm) ||
        strftime(stamp, sizeof(stamp), "%a %b %d %H:%M:%S %Y", &tm) == 0)
        return -1;
    put_str(&o, stamp);

    /* A transfer shorter than a second still took "1" as every xferlog reader expects. */
    /* (Rounded by hand: ftpdcore does not link libm.) */
    double secs = e->seconds > 0 ? e->seconds + 0.5 : 0;
    long long isecs = secs < 1 ? 1 : secs > 1e15 ? (long long)1e15 : (long long)secs;
    char num[64];
    snprintf(num, sizeof(num), " %lld ", isecs);
    put_str(&o, num);
    put_field(&o, e->host);
    snprintf(num, sizeof(num), " %lld ", e->bytes < 0 ? 0 : e->bytes);
    put_str(&o, num);
    put_field(&o, e->path);
    char tail[16];
    snprintf(tail, sizeof(tail), " %c _ %c %c ", e->ascii ? 'a' : 'b', e->incoming ? 'i' : 'o',
             e->anonymous ? 'a' : 'r');
    put_str(&o, tail);
    put_field(&o, e->user);
    put_str(&o, " ftp 0 * ");
    put_char(&o, e->complete ? 'c' : 'i');
    put_char(&o, '\n');

    *o.p = '\0';
    if (o.overflow)
        return -1;
    return (int)(o.p - out);
}
