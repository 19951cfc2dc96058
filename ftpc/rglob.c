/* Matching a remote directory listing against a pattern. */
#include "rglob.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool ftpc_glob_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

bool ftpc_glob_unescaped_magic(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        else if (*s == '*' || *s == '?' || *s == '[')
            return true;
    }
    return false;
}

void ftpc_glob_unescape(char *s)
{
    char *o = s;
    for (; *s != '\0'; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        *o++ = *s;
    }
    *o = '\0';
}

/* An MLSD size fact: decimal digits and nothing else, or -1. */
static int64_t size_fact(const char *v)
{
    if (*v < '0' || *v > '9')
        return -1;
    int64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    return *v == '\0' ? n : -1;
}

/* An MLSD line "fact=v;fact=v; name": the name, or NULL when it is not a plain file; *size
 * gets its "size" fact (-1 when it has none). */
static const char *mlsd_file_name(char *line, int64_t *size)
{
    *size = -1;
    char *sp = strstr(line, "; ");
    if (sp == NULL) {
        /* No facts at all: "; name" would start the line; a bare " name" has none either. */
        return NULL;
    }
    *sp = '\0';
    const char *name = sp + 2;
    bool is_file = false;
    for (char *f = line; f != NULL && *f != '\0';) {
        char *semi = strchr(f, ';');
        if (semi != NULL)
            *semi = '\0';
        if (strncasecmp(f, "type=", 5) == 0)
            is_file = strcasecmp(f + 5, "file") == 0;
        else if (strncasecmp(f, "size=", 5) == 0)
            *size = size_fact(f + 5);
        f = semi ? semi + 1 : NULL;
    }
    return is_file ? name : NULL;
}

/* The local file is named after the listed name: one with a '/' could be written outside
 * the target directory, and one with a CR or LF cannot be sent back in a command (its SIZE
 * or RETR would never leave). Other control characters are only shown as '?' in messages. */
static bool unsafe_name(const char *name)
{
    return strpbrk(name, "/\r\n") != NULL;
}

typedef struct match {
    char *name;
    int64_t size;
} match;

static int cmp_matches(const void *a, const void *b)
{
    return strcmp(((const match *)a)->name, ((const match *)b)->name);
}

int ftpc_glob_match(const char *listing, size_t len, bool mlsd, const char *pattern, char ***names,
                    size_t *refused)
{
    return ftpc_glob_match_sized(listing, len, mlsd, pattern, names, NULL, refused);
}

int ftpc_glob_match_sized(const char *listing, size_t len, bool mlsd, const char *pattern,
                          char ***names, int64_t **sizes, size_t *refused)
{
    match *out = NULL;
    int n = 0, cap = 0;
    size_t pos = 0;
    *names = NULL;
    if (sizes != NULL)
        *sizes = NULL;
    *refused = 0;
    while (pos < len) {
        const char *start = listing + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - start) : len - pos;
        pos += l + 1;
        if (l > 0 && start[l - 1] == '\r')
            l--;
        if (l == 0)
            continue;
        char *line = malloc(l + 1);
        if (line == NULL)
            goto oom;
        memcpy(line, start, l);
        line[l] = '\0';
        const char *name = line;
        int64_t size = -1;
        if (mlsd) {
            name = mlsd_file_name(line, &size);
        } else {
            const char *slash = strrchr(line, '/');
            if (slash != NULL)
                name = slash + 1;
        }
        if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            fnmatch(pattern, name, FNM_PERIOD) != 0) {
            free(line);
            continue;
        }
        if (unsafe_name(name)) { /* an NLST name was cut to its last part above */
            (*refused)++;
            free(line);
            continue;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            match *grown = realloc(out, (size_t)ncap * sizeof(*grown));
            if (grown == NULL) {
                free(line);
                goto oom;
            }
            out = grown;
            cap = ncap;
        }
        /* The name may sit inside the line: keep only it. */
        memmove(line, name, strlen(name) + 1);
        out[n++] = (match){line, size};
    }
    if (n > 1)
        qsort(out, (size_t)n, sizeof(*out), cmp_matches);
    if (n > 0) {
        char **nv = malloc((size_t)n * sizeof(*nv));
        int64_t *sv = sizes != NULL ? malloc((size_t)n * sizeof(*sv)) : NULL;
        if (nv == NULL || (sizes != NULL && sv == NULL)) {
            free(nv);
            free(sv);
            goto oom;
        }
        for (int i = 0; i < n; i++) {
            nv[i] = out[i].name;
            if (sv != NULL)
                sv[i] = out[i].size;
        }
        *names = nv;
        if (sizes != NULL)
            *sizes = sv;
    }
    free(out);
    return n;
oom:
    for (int i = 0; i < n; i++)
        free(out[i].name);
    free(out);
    return -1;
}

void ftpc_glob_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
