/* Reading /proc/self/mountinfo (mounttab.h). */
#include "mounttab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The field of line starting at p, up to a space; *end set past it. */
static const char *field(const char *p, const char *eol, const char **end)
{
    while (p < eol && *p == ' ')
        p++;
    const char *e = p;
    while (e < eol && *e != ' ')
        e++;
    *end = e;
    return p;
}

/* A copy of [p, e) with the kernel's octal escapes (\040 for a space, \011, \012, \134)
 * undone. */
static char *unescape(const char *p, const char *e)
{
    char *out = malloc((size_t)(e - p) + 1);
    if (!out)
        return NULL;
    char *o = out;
    while (p < e) {
        if (*p == '\\' && e - p >= 4 && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

int mounttab_parse(mounttab *t, const char *text)
{
    t->ents = NULL;
    t->n = 0;
    size_t cap = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        /* mount id, parent id, major:minor, root, mount point, ... */
        const char *e = line, *f[5];
        const char *fe[5];
        int nf = 0;
        for (; nf < 5; nf++) {
            f[nf] = field(e, eol, &e);
            fe[nf] = e;
            if (f[nf] == fe[nf])
                break;
        }
        if (nf == 5 && f[4][0] == '/' && memchr(f[2], ':', (size_t)(fe[2] - f[2]))) {
            if (t->n == cap) {
                size_t ncap = cap ? 2 * cap : 32;
                struct mounttab_ent *ents = realloc(t->ents, ncap * sizeof *ents);
                if (!ents)
                    goto fail;
                t->ents = ents;
                cap = ncap;
            }
            struct mounttab_ent *m = &t->ents[t->n];
            m->dir = unescape(f[4], fe[4]);
            m->dev = strndup(f[2], (size_t)(fe[2] - f[2]));
            if (!m->dir || !m->dev) {
                free(m->dir);
                free(m->dev);
                goto fail;
            }
            t->n++;
        }
        line = *eol ? eol + 1 : eol;
    }
    return 0;
fail:
    mounttab_clear(t);
    errno = ENOMEM;
    return -1;
}

int mounttab_load(mounttab *t, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0, cap = 16384;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            errno = ENOMEM;
            return -1;
        }
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            free(buf);
            close(fd);
            errno = err;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    int rc = mounttab_parse(t, buf);
    free(buf);
    return rc;
}

void mounttab_clear(mounttab *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->ents[i].dir);
        free(t->ents[i].dev);
    }
    free(t->ents);
    t->ents = NULL;
    t->n = 0;
}

/* Whether dir (a mount point) is path or one of its parents; path's trailing slashes, of
 * length len, do not count. */
static bool covers(const char *dir, const char *path, size_t len)
{
    size_t d = strlen(dir);
    while (d > 1 && dir[d - 1] == '/')
        d--;
    if (d == 1 && dir[0] == '/')
        return true;
    return d <= len && memcmp(dir, path, d) == 0 && (d == len || path[d] == '/');
}

const char *mounttab_device(const mounttab *t, const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    const struct mounttab_ent *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct mounttab_ent *m = &t->ents[i];
        size_t d = strlen(m->dir);
        while (d > 1 && m->dir[d - 1] == '/')
            d--;
        if (covers(m->dir, path, len)) {
            if (!best || d >= best_len) {
                best = m;
                best_len = d;
            }
        } else if (covers(path, m->dir, d)) {
            return NULL; /* a mount beneath path: its calls may cross into it */
        }
    }
    return best ? best->dev : NULL;
}
