/* Reply writer and client-side reply parser.
 *
 * The writer measures a reply completely before it writes a byte, so a reply is either wholly
 * in the output buffer or not at all: a half reply would desynchronise the client for good.
 */
#include "ftp_reply.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for "CODE" of any int a caller passes, so a bad code cannot overrun; real codes are
 * three digits. */
#define CODE_STR_MAX 16

#define TELNET_IAC ((char)0xFF)

/* Bytes that text takes on the wire: a 0xFF byte (a name in a non-UTF-8 encoding, say) is
 * Telnet's IAC, which a control connection carries as data only doubled (RFC 854), and a CR
 * is followed by a NUL (below). */
static size_t wire_len(const char *text, size_t len)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        n += text[i] == TELNET_IAC || text[i] == '\r';
    return n;
}

/* Copies text into dst as a control connection carries it; returns the bytes written
 * (wire_len). A CR goes as CR NUL, Telnet's carriage return that ends no line, as RFC 2640
 * (3.1) has a pathname carry one; an LF, which has no such form, becomes a space. Either raw
 * would let text (a file name, say) forge a reply line of its own. IAC is doubled. */
static size_t copy_sanitised(char *dst, const char *text, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        dst[o++] = c == '\n' ? ' ' : c;
        if (c == TELNET_IAC)
            dst[o++] = TELNET_IAC;
        else if (c == '\r')
            dst[o++] = '\0';
    }
    return o;
}

/* Writes "<code><sep><text>\r\n" at dst; returns bytes written: code_len + 1 +
 * wire_len(text) + 2. */
static size_t put_line(char *dst, const char *code, size_t code_len, char sep, const char *text,
                       size_t len)
{
    size_t o = 0;
    memcpy(dst, code, code_len);
    o += code_len;
    dst[o++] = sep;
    o += copy_sanitised(dst + o, text, len);
    dst[o++] = '\r';
    dst[o++] = '\n';
    return o;
}

/* Reserves total contiguous bytes at out's tail; NULL with errno set when they do not fit. */
static char *reserve(buf *out, size_t total)
{
    if (total > out->cap - buf_len(out)) {
        errno = ENOBUFS;
        return NULL;
    }
    size_t avail;
    if (buf_tail(out, &avail) == NULL)
        return NULL; /* ENOMEM */
    if (avail < total)
        buf_compact(out);
    return out->data + out->end;
}

int ftp_reply_text(buf *out, int code, const char *text, size_t len)
{
    char code_str[CODE_STR_MAX];
    int cl = snprintf(code_str, sizeof(code_str), "%03d", code);
    size_t total = (size_t)cl + 1 + wire_len(text, len) + 2;
    char *dst = reserve(out, total);
    if (dst == NULL)
        return -1;
    buf_commit(out, put_line(dst, code_str, (size_t)cl, ' ', text, len));
    return 0;
}

int ftp_reply(buf *out, int code, const char *fmt, ...)
{
    char stack[512];
    char *text = stack;
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(stack)) {
        text = malloc((size_t)n + 1);
        if (text == NULL) {
            errno = ENOMEM;
            return -1;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int rc = ftp_reply_text(out, code, text, (size_t)n);
    if (text != stack)
        free(text);
    return rc;
}

/* The line starting at s and ending at the next '\n' or at end; a CR just before the line's
 * end is dropped rather than turned into a space, so "\r\n"-separated text works too. */
static size_t line_at(const char *s, const char *end, const char **next)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl != NULL ? nl : end;
    *next = e + 1;
    size_t len = (size_t)(e - s);
    if (len > 0 && s[len - 1] == '\r')
        len--;
    return len;
}

size_t ftp_reply_line_size(const char *text, size_t len)
{
    return 3 + 1 + wire_len(text, len) + 2; /* a reply code has three digits */
}

int ftp_reply_lines(buf *out, int code, const char *text)
{
    char code_str[CODE_STR_MAX];
    int cl = snprintf(code_str, sizeof(code_str), "%03d", code);
    size_t prefix = (size_t)cl + 1;

    /* One '\n' at the very end terminates the last line rather than starting an empty one. */
    size_t text_len = strlen(text);
    if (text_len > 0 && text[text_len - 1] == '\n')
        text_len--;
    const char *end = text + text_len;

    size_t lines = 1;
    for (const char *s = text; (s = memchr(s, '\n', (size_t)(end - s))) != NULL; s++)
        lines++;

    /* Pass 1: measure. The first and last lines carry the code; a middle line carries one
     * leading space instead, which keeps a middle line that starts with digits from reading
     * as the end of the reply. */
    size_t total = 0;
    const char *s = text, *next;
    for (size_t i = 0; i < lines; i++, s = next) {
        size_t len = line_at(s, end, &next);
        total += (i == 0 || i + 1 == lines ? prefix : 1) + wire_len(s, len) + 2;
    }

    char *dst = reserve(out, total);
    if (dst == NULL)
        return -1;

    /* Pass 2: write. */
    size_t o = 0;
    s = text;
    for (size_t i = 0; i < lines; i++, s = next) {
        size_t len = line_at(s, end, &next);
        if (i + 1 == lines) {
            o += put_line(dst + o, code_str, (size_t)cl, ' ', s, len);
        } else if (i == 0) {
            o += put_line(dst + o, code_str, (size_t)cl, '-', s, len);
        } else {
            dst[o++] = ' ';
            o += copy_sanitised(dst + o, s, len);
            dst[o++] = '\r';
            dst[o++] = '\n';
        }
    }
    buf_commit(out, o);
    return 0;
}

int ftp_quote_path(const char *path, char *out, size_t out_size)
{
    size_t o = 0;
    for (const char *p = path; *p != '\0'; p++) {
        size_t need = *p == '"' ? 2 : 1;
        if (out_size - o <= need) { /* keep one byte for the NUL */
            if (out_size > 0)
                out[0] = '\0';
            errno = ENAMETOOLONG;
            return -1;
        }
        out[o++] = *p;
        if (*p == '"')
            out[o++] = '"';
    }
    if (out_size == 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    out[o] = '\0';
    return 0;
}

/* Client side. */

/* Adds a line's text with a doubled IAC (0xFF) taken as one data byte and CR NUL as a CR, as
 * the writer sends them; a lone 0xFF from a server that does not double stays as it is, and
 * any other NUL becomes a space, as the text is a C string. */
static void text_add(ftp_reply_parser *p, ftp_reply_msg *msg, const char *s, size_t len)
{
    size_t room = sizeof(msg->text) - 1 - p->text_len;
    size_t o = p->text_len;
    for (size_t i = 0; i < len && room > 0; i++, room--) { /* truncation is not an error */
        msg->text[o++] = s[i] == '\0' ? ' ' : s[i];
        if ((s[i] == TELNET_IAC || s[i] == '\r') && i + 1 < len &&
            s[i + 1] == (s[i] == '\r' ? '\0' : TELNET_IAC))
            i++;
    }
    p->text_len = o;
    msg->text[o] = '\0';
}

int ftp_command_put(buf *out, const char *line)
{
    size_t len = strlen(line);
    char *dst = reserve(out, wire_len(line, len) + 2);
    if (dst == NULL)
        return -1;
    size_t o = copy_sanitised(dst, line, len);
    dst[o++] = '\r';
    dst[o++] = '\n';
    buf_commit(out, o);
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A reply code: three digits, the first 1..5 (RFC 959 4.2). Returns it, or 0. */
static int parse_code(const char *s, size_t len)
{
    if (len < 3 || s[0] < '1' || s[0] > '5' || !is_digit(s[1]) || !is_digit(s[2]))
        return 0;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* A multi-line reply may arrive over several calls; its text accumulates in msg (p->text_len
 * counts it), so the caller passes the same msg until 1 comes back. */
int ftp_reply_next(ftp_reply_parser *p, buf *in, ftp_reply_msg *msg)
{
    for (;;) {
        size_t avail = buf_len(in);
        const char *line = buf_head(in);
        const char *lf = avail > 0 ? memchr(line, '\n', avail) : NULL;
        if (lf == NULL) {
            if (buf_full(in)) {
                /* The line can never complete within the bound; the connection is not
                 * usable any more, and the caller closes it. */
                p->code = 0;
                p->text_len = 0;
                errno = EMSGSIZE;
                return -1;
            }
            return 0;
        }
        size_t raw = (size_t)(lf - line);
        size_t len = raw;
        if (len > 0 && line[len - 1] == '\r')
            len--;

        if (p->code == 0) {
            int code = parse_code(line, len);
            if (code == 0 || (len > 3 && line[3] != ' ' && line[3] != '-')) {
                buf_consume(in, raw + 1);
                errno = EPROTO;
                return -1;
            }
            msg->code = code;
            p->text_len = 0;
            msg->text[0] = '\0';
            if (len > 3)
                text_add(p, msg, line + 4, len - 4);
            bool multi = len > 3 && line[3] == '-';
            buf_consume(in, raw + 1);
            if (!multi) {
                p->text_len = 0;
                return 1;
            }
            p->code = code;
            continue;
        }

        /* Inside a multi-line reply only "CODE " with the same code ends it; any other line,
         * including one with a different code or "CODE-", is text. */
        text_add(p, msg, "\n", 1);
        if (len >= 4 && parse_code(line, len) == p->code && line[3] == ' ') {
            text_add(p, msg, line + 4, len - 4);
            buf_consume(in, raw + 1);
            p->code = 0;
            p->text_len = 0;
            return 1;
        }
        text_add(p, msg, line, len);
        buf_consume(in, raw + 1);
    }
}
