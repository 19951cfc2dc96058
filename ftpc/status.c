/* Error records and reply classification. */
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Moves i back to the start of the UTF-8 character it is in. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

void ftpc_fit_middle(char *out, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (size == 0)
        return;
    if (n < size || size < 16) {
        snprintf(out, size, "%s", s);
        return;
    }
    /* A long name is what makes a message long, and the reason comes last: keep both ends. */
    size_t room = size - 4; /* "...", NUL */
    size_t head = char_start(s, room * 2 / 5);
    size_t tail = n - (room - head);
    while (tail < n && ((unsigned char)s[tail] & 0xC0) == 0x80)
        tail++; /* the character cut at the start of the tail goes whole */
    snprintf(out, size, "%.*s...%s", (int)head, s, s + tail);
}

void ftpc_err_vset(ftpc_err *e, int status, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    e->status = status;
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    char *full = n < 0 || (size_t)n < sizeof(e->msg) ? NULL : malloc((size_t)n + 1);
    if (full != NULL) { /* without it, the message cut at the end is still a message */
        vsnprintf(full, (size_t)n + 1, fmt, again);
        ftpc_fit_middle(e->msg, sizeof(e->msg), full);
        free(full);
    }
    va_end(again);
}

void ftpc_err_set(ftpc_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ftpc_err_vset(e, status, fmt, ap);
    va_end(ap);
}

int ftpc_status_for_reply(int code)
{
    switch (code) {
    case 530:
    case 532:
        return FTPC_EXIT_LOGIN;
    case 421:
    case 425:
    case 426:
    case 451:
        return FTPC_EXIT_XFER;
    default:
        return FTPC_EXIT_REMOTE;
    }
}

int ftpc_status_transient(int status)
{
    return status == FTPC_EXIT_CONNECT || status == FTPC_EXIT_XFER;
}

char *ftpc_quote_reply(int code, const char *text, char *out, size_t out_size)
{
    if (out_size == 0)
        return out;
    int n = snprintf(out, out_size, "%03d ", code);
    size_t pos = n > 0 && (size_t)n < out_size ? (size_t)n : 0;
    for (const char *p = text; *p != '\0' && pos + 1 < out_size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            if (pos + 4 >= out_size)
                break;
            memcpy(out + pos, " / ", 3);
            pos += 3;
            continue;
        }
        out[pos++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[pos] = '\0';
    /* Mark a cut so the reader knows the quote is not the whole reply. */
    if (strlen(text) + 4 >= out_size && out_size > 8)
        memcpy(out + out_size - 4, "...", 4);
    return out;
}

int64_t ftpc_parse_size_reply(const char *text)
{
    while (*text == ' ')
        text++;
    if (!isdigit((unsigned char)*text))
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || errno != 0 || v > (unsigned long long)INT64_MAX)
        return -1;
    return (int64_t)v;
}

int64_t ftpc_parse_announced_size(const char *text)
{
    int64_t found = -1;
    for (const char *p = strchr(text, '('); p != NULL; p = strchr(p + 1, '(')) {
        const char *d = p + 1;
        if (!isdigit((unsigned char)*d))
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(d, &end, 10);
        /* the last one counts: a file's name, which comes before it, may hold one too */
        if (errno == 0 && v <= (unsigned long long)INT64_MAX && strncasecmp(end, " bytes)", 7) == 0)
            found = (int64_t)v;
    }
    return found;
}

bool ftpc_reply_refuses_restart(const char *text, const char *remote)
{
    const char *slash = strrchr(remote, '/');
    const char *base = slash != NULL ? slash + 1 : remote;
    const char *from = text;
    size_t n = strlen(base);
    if (n > 0) {
        for (const char *hit = strstr(text, base); hit != NULL; hit = strstr(hit + 1, base))
            if (hit[n] == ':')
                from = hit + n;
    }
    return strcasestr(from, "restart") != NULL;
}
