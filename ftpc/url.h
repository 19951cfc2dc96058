/* FTP URLs: ftp://[user[:password]@]host[:port][/path][;type=a|i] with %-decoding; ftpes://
 * (explicit FTPS: AUTH TLS, port 21) and ftps:// (implicit FTPS, port 990) alike. */
#ifndef FTPC_URL_H
#define FTPC_URL_H

#include <stdbool.h>
#include <stddef.h>

#define FTPC_URL_PATH_MAX 4096

typedef struct ftpc_url {
    char user[256]; /* decoded; empty when has_user is false (anonymous) */
    char pass[256]; /* decoded; meaningful when has_pass */
    bool has_user, has_pass;
    char host[256]; /* a name, an IPv4 address, or an IPv6 address without brackets */
    int port;       /* 21 unless given (990 for ftps://) */
    int tls;        /* the scheme: 0 ftp://, 1 ftpes://, 2 ftps:// (ftpc_tls_mode values) */
    /* The decoded path as sent to the server: the part after the "/" that ends the host, so
     * "ftp://h/a/b" gives "a/b" (relative to the login directory) and "ftp://h//etc/x" gives
     * "/etc/x". Empty for "ftp://h" and "ftp://h/". */
    char path[FTPC_URL_PATH_MAX];
    bool dir_slash; /* the URL's path ends with '/' (names a directory) */
    char type;      /* 'a' or 'i' from ";type=", 0 when absent */
} ftpc_url;

/* True when s starts with one of the schemes above. */
bool ftpc_url_is_url(const char *s);

/* Parses s into u. Returns 0, or -1 with a reason in err (err_size bytes): not ftp://, empty
 * or malformed host, bad port, a bad %-escape, or a decoded NUL, CR or LF (which would
 * split an FTP command). */
int ftpc_url_parse(const char *s, ftpc_url *u, char *err, size_t err_size);

/* Decodes %XX escapes of the len bytes at s into out (NUL-terminated). Returns the decoded
 * length, or -1 on a malformed escape, a decoded NUL/CR/LF, or when out is too small. */
long ftpc_url_decode(const char *s, size_t len, char *out, size_t out_size);

/* The URL for messages, without the password: "ftp://user@host:port/path" (the scheme as
 * parsed). Returns out. */
char *ftpc_url_display(const ftpc_url *u, char *out, size_t out_size);
/* Drops the password of every "scheme://user:password@host" in s, in place, for messages
 * that quote what the user typed (a URL too broken to parse included): "ftp://u@host". */
void ftpc_redact_passwords(char *s);

/* The last component of the URL path ("" when the path is empty or ends with '/'). */
const char *ftpc_url_basename(const ftpc_url *u);

#endif
