/* Virtual path normalisation.
 *
 * path_resolve() walks the components from the right, where a ".." simply means "skip the
 * next real component to the left". That needs no scratch memory and measures the exact
 * result first, so "/very/long/../../x" succeeds whenever "/x" fits, however long the
 * intermediate path would have been, and out is never written past its size.
 */
#include "path.h"

#include <errno.h>
#include <string.h>

/* Walks s[0..n) right to left. Components that survive the pending ".." count in *skip are
 * either measured (out == NULL: *pos grows by "/name") or written so they end at out[*pos]
 * (*pos shrinks by "/name"). */
static void walk(const char *s, size_t n, size_t *skip, char *out, size_t *pos)
{
    size_t e = n;
    while (e > 0) {
        while (e > 0 && s[e - 1] == '/')
            e--;
        size_t b = e;
        while (b > 0 && s[b - 1] != '/')
            b--;
        size_t len = e - b;
        if (len == 0)
            break;
        if (len == 1 && s[b] == '.') {
            /* the current directory: nothing */
        } else if (len == 2 && s[b] == '.' && s[b + 1] == '.') {
            (*skip)++;
        } else if (*skip > 0) {
            (*skip)--;
        } else if (out == NULL) {
            *pos += len + 1;
        } else {
            *pos -= len;
            memcpy(out + *pos, s + b, len);
            out[--*pos] = '/';
        }
        e = b;
    }
}

int path_resolve(const char *cwd, const char *arg, char *out, size_t out_size)
{
    if (cwd == NULL || cwd[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    if (arg == NULL)
        arg = "";
    const int relative = arg[0] != '/';
    size_t cwd_len = strlen(cwd), arg_len = strlen(arg);

    /* Pass 1: measure. Leftover ".." at the far left would climb above '/': they are dropped. */
    size_t skip = 0, need = 0;
    walk(arg, arg_len, &skip, NULL, &need);
    if (relative)
        walk(cwd, cwd_len, &skip, NULL, &need);
    size_t total = need == 0 ? 1 : need; /* "/" for the root */
    if (out_size == 0 || total > out_size - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }

    /* Pass 2: the same walk, writing from the end. */
    out[total] = '\0';
    out[0] = '/';
    size_t pos = total;
    skip = 0;
    if (need > 0) {
        walk(arg, arg_len, &skip, out, &pos);
        if (relative)
            walk(cwd, cwd_len, &skip, out, &pos);
    }
    return 0;
}

const char *path_rel(const char *vpath)
{
    while (*vpath == '/')
        vpath++;
    return *vpath != '\0' ? vpath : ".";
}

const char *path_basename(const char *vpath)
{
    const char *slash = strrchr(vpath, '/');
    return slash != NULL ? slash + 1 : vpath;
}

int path_dirname(const char *vpath, char *out, size_t out_size)
{
    const char *slash = strrchr(vpath, '/');
    size_t len = slash != NULL ? (size_t)(slash - vpath) : 0;
    if (len == 0) { /* "/", "/a", or a path without '/' */
        if (out_size < 2) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out, "/", 2);
        return 0;
    }
    if (out_size == 0 || len > out_size - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(out, vpath, len);
    out[len] = '\0';
    return 0;
}
