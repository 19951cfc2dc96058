/* URL parsing. Decoding is strict: a NUL, CR or LF must never reach an FTP command line,
 * where it would end the command and let the rest of the URL be read as a second one. */
#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long ftpc_url_decode(const char *s, size_t len, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || c == '\r' || c == '\n')
            return -1;
        if (o + 1 >= out_size)
            return -1;
        out[o++] = c;
    }
    if (out_size == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_size, const char *fmt,
                                                      ...)
{
    if (err != NULL && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

static const struct {
    const char *prefix;
    int tls, port;
} schemes[] = {{"ftp://", 0, 21}, {"ftpes://", 1, 21}, {"ftps://", 2, 990}};

static size_t scheme_len(const char *s, int *tls, int *port)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(s, schemes[i].prefix, n) == 0) {
            if (tls != NULL)
                *tls = schemes[i].tls;
            if (port != NULL)
                *port = schemes[i].port;
            return n;
        }
    }
    return 0;
}

bool ftpc_url_is_url(const char *s)
{
    return scheme_len(s, NULL, NULL) > 0;
}

int ftpc_url_parse(const char *s, ftpc_url *u, char *err, size_t err_size)
{
    memset(u, 0, sizeof(*u));
    size_t sl = scheme_len(s, &u->tls, &u->port);
    if (sl == 0)
        return fail(err, err_size, "not an ftp://, ftpes:// or ftps:// URL");
    const char *auth = s + sl;
    size_t auth_len = strcspn(auth, "/");
    const char *rest = auth + auth_len; /* "" or "/..." */

    /* The last '@' ends the user information: people write e-mail addresses as user names
     * without encoding their '@'. */
    const char *at = NULL;
    for (const char *p = auth; p < auth + auth_len; p++)
        if (*p == '@')
            at = p;
    const char *hp = auth;
    size_t hp_len = auth_len;
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
        if (ftpc_url_decode(auth, ulen, u->user, sizeof(u->user)) < 0)
            return fail(err, err_size, "bad user name in URL");
        if (u->user[0] == '\0')
            return fail(err, err_size, "empty user name in URL");
        u->has_user = true;
        if (colon != NULL) {
            if (ftpc_url_decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof(u->pass)) < 0)
                return fail(err, err_size, "bad password in URL");
            u->has_pass = true;
        }
        hp = at + 1;
        hp_len = auth_len - (size_t)(hp - auth);
    }

    const char *port_s = NULL;
    size_t port_len = 0;
    if (hp_len > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', hp_len);
        if (close == NULL)
            return fail(err, err_size, "unterminated [IPv6 address] in URL");
        size_t hl = (size_t)(close - hp - 1);
        /* A zone index arrives encoded ("fe80::1%25eth0", RFC 6874). */
        if (hl == 0 || ftpc_url_decode(hp + 1, hl, u->host, sizeof(u->host)) < 0)
            return fail(err, err_size, "bad IPv6 address in URL");
        const char *after = close + 1;
        size_t after_len = hp_len - (size_t)(after - hp);
        if (after_len > 0) {
            if (after[0] != ':')
                return fail(err, err_size, "junk after ] in URL");
            port_s = after + 1;
            port_len = after_len - 1;
        }
    } else {
        const char *colon = memchr(hp, ':', hp_len);
        if (colon && memchr(colon + 1, ':', hp_len - (size_t)(colon + 1 - hp)))
            return fail(err, err_size,
                        "an IPv6 address in a URL goes in brackets: ftp://[::1]:2121/path");
        size_t hl = colon ? (size_t)(colon - hp) : hp_len;
        if (colon != NULL) {
            port_s = colon + 1;
            port_len = hp_len - hl - 1;
        }
        if (hl == 0)
            return fail(err, err_size, "no host in URL");
        if (ftpc_url_decode(hp, hl, u->host, sizeof(u->host)) < 0)
            return fail(err, err_size, "bad host in URL");
    }
    for (const char *p = u->host; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == '/' || c == '@' || c == '[' || c == ']' || c == 0x7f)
            return fail(err, err_size, "bad host in URL");
    }
    if (port_s != NULL) {
        u->port = parse_port(port_s, port_len);
        if (u->port < 0)
            return fail(err, err_size, "bad port in URL");
    }

    if (*rest == '/') {
        const char *p = rest + 1;
        size_t plen = strlen(p);
        /* ";type=X" (RFC 1738) selects the transfer type; it is not part of the name. */
        if (plen >= 7 && strncasecmp(p + plen - 7, ";type=", 6) == 0) {
            char t = p[plen - 1];
            if (t == 'a' || t == 'A' || t == 'i' || t == 'I' || t == 'd' || t == 'D')
                u->type = (char)(t | 0x20);
            else
                return fail(err, err_size, "bad ;type= in URL");
            plen -= 7;
        }
        if (ftpc_url_decode(p, plen, u->path, sizeof(u->path)) < 0)
            return fail(err, err_size,
                        "bad path in URL (bad %%-escape, NUL, CR or LF, or too long)");
        size_t dl = strlen(u->path);
        u->dir_slash = dl == 0 || u->path[dl - 1] == '/';
    } else {
        u->dir_slash = true;
    }
    return 0;
}

static size_t put_clean(char *out, size_t pos, size_t out_size, const char *s)
{
    for (; *s != '\0' && pos + 1 < out_size; s++) {
        unsigned char c = (unsigned char)*s;
        out[pos++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[pos] = '\0';
    return pos;
}

char *ftpc_url_display(const ftpc_url *u, char *out, size_t out_size)
{
    if (out_size == 0)
        return out;
    out[0] = '\0';
    int tls = u->tls >= 0 && u->tls <= 2 ? u->tls : 0;
    size_t pos = put_clean(out, 0, out_size, schemes[tls].prefix);
    if (u->has_user) {
        pos = put_clean(out, pos, out_size, u->user);
        pos = put_clean(out, pos, out_size, "@");
    }
    bool v6 = strchr(u->host, ':') != NULL;
    if (v6)
        pos = put_clean(out, pos, out_size, "[");
    pos = put_clean(out, pos, out_size, u->host);
    if (v6)
        pos = put_clean(out, pos, out_size, "]");
    if (u->port != schemes[tls].port) {
        char port[16];
        snprintf(port, sizeof(port), ":%d", u->port);
        pos = put_clean(out, pos, out_size, port);
    }
    pos = put_clean(out, pos, out_size, "/");
    put_clean(out, pos, out_size, u->path);
    return out;
}

const char *ftpc_url_basename(const ftpc_url *u)
{
    const char *slash = strrchr(u->path, '/');
    return slash ? slash + 1 : u->path;
}

void ftpc_redact_passwords(char *s)
{
    for (char *p = strstr(s, "://"); p != NULL; p = strstr(p, "://")) {
        char *user = p + 3;
        /* the authority ends at the path, or at white space in a message */
        size_t alen = strcspn(user, "/ \t\r\n");
        char *at = NULL;
        for (char *q = user; q < user + alen; q++)
            if (*q == '@')
                at = q; /* the last one: a password may hold an unescaped '@' */
        char *colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
        if (colon != NULL)
            memmove(colon, at, strlen(at) + 1);
        p = user;
    }
}
