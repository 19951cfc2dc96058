#include "mlstopts.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const wanted[] = {"type", "size", "modify", "UNIX.mode"};
#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))

bool ftpc_mlst_opts(const char *facts, size_t len, char *out, size_t size)
{
    const char *name[NWANTED] = {NULL};
    size_t nlen[NWANTED] = {0};
    bool on[NWANTED] = {false};
    const char *p = facts, *end = facts + len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi ? semi : end;
        size_t n = (size_t)(e - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r'))
            n--;
        bool star = n > 0 && p[n - 1] == '*';
        size_t fl = star ? n - 1 : n;
        for (size_t i = 0; i < NWANTED; i++)
            if (fl == strlen(wanted[i]) && strncasecmp(p, wanted[i], fl) == 0) {
                name[i] = p;
                nlen[i] = fl;
                on[i] = star;
            }
        p = semi ? semi + 1 : end;
    }
    if (name[0] == NULL || name[3] == NULL || on[3])
        return false;
    char buf[128];
    size_t at = (size_t)snprintf(buf, sizeof(buf), "OPTS MLST ");
    for (size_t i = 0; i < NWANTED; i++) {
        if (name[i] == NULL)
            continue;
        if (nlen[i] + 2 > sizeof(buf) - at)
            return false;
        memcpy(buf + at, name[i], nlen[i]);
        at += nlen[i];
        buf[at++] = ';';
    }
    buf[at] = '\0';
    if (at + 1 > size)
        return false;
    memcpy(out, buf, at + 1);
    return true;
}

bool ftpc_mlst_next_fact(const char **p, const char *end, ftpc_mlst_fact *f)
{
    while (*p < end) {
        const char *s = *p;
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *e = semi ? semi : end;
        *p = semi ? semi + 1 : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq != NULL) {
            f->name = s;
            f->name_len = (size_t)(eq - s);
            f->value = eq + 1;
            f->value_len = (size_t)(e - eq - 1);
            return true;
        }
    }
    return false;
}
