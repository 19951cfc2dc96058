/* netrc parsing and the password prompt. */
#include "netrc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#define NETRC_MAX (1024 * 1024)

typedef struct lexer {
    const char *p;
    int line;     /* of p, from 1 */
    int bad_line; /* of a quoted token without its closing quote on its line; 0 if none */
} lexer;

/* The next token into out (cut to out_size); returns false at the end. */
static bool next_token(lexer *lx, char *out, size_t out_size)
{
    const char *p = lx->p;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
        lx->line += *p++ == '\n';
    if (*p == '\0') {
        lx->p = p;
        return false;
    }
    size_t o = 0;
    if (*p == '"') {
        p++;
        /* A quote left open would swallow the lines after it (a password with a newline in
         * it, which no server takes): it ends at its line, and the file is reported. */
        while (*p != '\0' && *p != '"' && *p != '\n' && *p != '\r') {
            char c = *p++;
            if (c == '\\' && *p != '\0' && *p != '\n' && *p != '\r')
                c = *p++;
            if (o + 1 < out_size)
                out[o++] = c;
        }
        if (*p == '"')
            p++;
        else if (lx->bad_line == 0)
            lx->bad_line = lx->line;
    } else {
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            char c = *p++;
            if (c == '\\' && *p != '\0')
                c = *p++;
            if (o + 1 < out_size)
                out[o++] = c;
        }
    }
    if (out_size > 0)
        out[o] = '\0';
    lx->p = p;
    return true;
}

/* macdef NAME: the definition runs to the first empty line. */
static void skip_macdef(lexer *lx)
{
    char name[256];
    next_token(lx, name, sizeof(name));
    const char *end = strstr(lx->p, "\n\n");
    const char *end_crlf = strstr(lx->p, "\r\n\r\n");
    if (end_crlf != NULL && (end == NULL || end_crlf < end))
        end = end_crlf;
    end = end ? end : lx->p + strlen(lx->p);
    for (; lx->p < end; lx->p++)
        lx->line += *lx->p == '\n';
}

typedef struct finder {
    const char *host;
    const char *want_login;
    ftpc_netrc_entry cur; /* the entry being read */
    bool in_entry;
    bool cur_machine_ok;   /* a "machine" entry for host */
    bool cur_default;      /* the "default" entry */
    ftpc_netrc_entry dflt; /* the default entry, if it fits */
    bool have_default;
} finder;

/* Ends the entry being read. Returns true when it is the answer (a machine entry for host). */
static bool close_entry(finder *f)
{
    if (!f->in_entry)
        return false;
    f->in_entry = false;
    bool login_ok =
        f->want_login == NULL || (f->cur.has_login && strcmp(f->cur.login, f->want_login) == 0);
    if (!login_ok)
        return false;
    if (f->cur_machine_ok)
        return true;
    if (f->cur_default && !f->have_default) {
        f->dflt = f->cur;
        f->have_default = true;
    }
    return false;
}

static void open_entry(finder *f, bool machine_ok, bool is_default)
{
    memset(&f->cur, 0, sizeof(f->cur));
    f->in_entry = true;
    f->cur_machine_ok = machine_ok;
    f->cur_default = is_default;
}

int ftpc_netrc_find(const char *text, const char *host, const char *want_login,
                    ftpc_netrc_entry *out)
{
    lexer lx = {.p = text, .line = 1};
    char tok[512];
    finder f;
    memset(&f, 0, sizeof(f));
    f.host = host;
    f.want_login = want_login;
    bool found = false;
    while (next_token(&lx, tok, sizeof(tok))) {
        if (strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0 ||
            strcmp(tok, "macdef") == 0) {
            if (close_entry(&f)) {
                found = true;
                break;
            }
            if (strcmp(tok, "macdef") == 0) {
                skip_macdef(&lx);
            } else if (strcmp(tok, "default") == 0) {
                open_entry(&f, false, true);
            } else {
                char name[512];
                if (!next_token(&lx, name, sizeof(name)))
                    break;
                open_entry(&f, strcasecmp(name, host) == 0, false);
            }
        } else if (strcmp(tok, "login") == 0) {
            if (!next_token(&lx, f.cur.login, sizeof(f.cur.login)))
                break;
            f.cur.has_login = true;
        } else if (strcmp(tok, "password") == 0 || strcmp(tok, "passwd") == 0) {
            if (!next_token(&lx, f.cur.password, sizeof(f.cur.password)))
                break;
            f.cur.has_password = true;
        } else if (strcmp(tok, "account") == 0) {
            next_token(&lx, tok, sizeof(tok));
        }
        /* Anything else is ignored, as other netrc readers do. */
    }
    if (!found)
        found = close_entry(&f);
    /* The rest of the file is read for a quote left open all the same. */
    while (next_token(&lx, tok, sizeof(tok)))
        if (strcmp(tok, "macdef") == 0)
            skip_macdef(&lx);
    if (lx.bad_line != 0) {
        memset(&f, 0, sizeof(f));
        memset(out, 0, sizeof(*out));
        out->bad_line = lx.bad_line;
        return -2;
    }
    if (found) {
        *out = f.cur;
        return 1;
    }
    if (f.have_default) {
        *out = f.dflt;
        return 1;
    }
    return 0;
}

int ftpc_netrc_lookup(const char *path, const char *host, const char *want_login,
                      ftpc_netrc_entry *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *text = malloc(NETRC_MAX + 1);
    if (text == NULL) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    while (len < NETRC_MAX) {
        ssize_t n = read(fd, text + len, NETRC_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) { /* a directory (EISDIR), an I/O error: not a file to take */
            int err = errno;
            close(fd);
            memset(text, 0, len);
            free(text);
            errno = err;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    text[len] = '\0';
    int rc = ftpc_netrc_find(text, host, want_login, out);
    /* The file holds passwords. */
    memset(text, 0, len);
    free(text);
    return rc;
}

int ftpc_prompt_password(const char *prompt, char *out, size_t out_size)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    size_t o = 0;
    int rc = 0;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            rc = -1; /* a signal (Ctrl-C): give up */
            break;
        }
        if (n <= 0 || c == '\n' || c == '\r')
            break;
        if (o + 1 < out_size)
            out[o++] = c;
    }
    if (out_size > 0)
        out[o] = '\0';
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    w = write(fd, "\n", 1);
    (void)w;
    close(fd);
    return rc;
}
