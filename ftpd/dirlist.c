#include "dirlist.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "listfmt.h"
#include "path.h"

struct dirlist {
    dirlist_format fmt;
    unsigned perms;
    unsigned facts;
    int dir_fd; /* the listed directory, or the parent of a listed file */
    const vfs *v;
    char *dir_vpath; /* for resolving symlinks beneath the root */
    char *prefix;    /* put before each name in LIST and NLST lines; NULL: none */
    char **names;
    size_t count, next;
    time_t now;
    bool is_dir; /* a directory's entries, not a single file */
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_name(dirlist *d, size_t *cap, const char *name)
{
    if (d->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        char **nv = realloc(d->names, ncap * sizeof *nv);
        if (!nv)
            return -1;
        d->names = nv;
        *cap = ncap;
    }
    if (!(d->names[d->count] = strdup(name)))
        return -1;
    d->count++;
    return 0;
}

/* Reads the names of directory vpath (those matching pattern, when one is given), sorted.
 * Returns 0, or -1 with errno. */
static int read_names(dirlist *d, const char *vpath, const char *pattern, bool show_hidden)
{
    size_t cap = 0;
    int err = 0;
    DIR *dir = vfs_opendir(d->v, vpath);
    if (!dir || !(d->dir_vpath = strdup(vpath))) {
        err = errno;
        if (dir)
            closedir(dir);
        errno = err;
        return -1;
    }
    /* Keep a separate fd for fstatat: closedir() below closes the DIR's own. */
    d->dir_fd = fcntl(dirfd(dir), F_DUPFD_CLOEXEC, 0);
    if (d->dir_fd < 0)
        err = errno;
    struct dirent *de;
    while (!err && (de = readdir(dir)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || vfs_is_internal_name(n))
            continue;
        /* A line feed would end the listing's line inside the name, and what follows it
         * would read as an entry of its own ("x\r\ntype=file;size=1; fake" forges one in
         * MLSD): RFC 3659 (2.2) has such names converted or left out. No command can name
         * the file anyway, since the LF would end that command's line. */
        if (strchr(n, '\n'))
            continue;
        if (pattern ? fnmatch(pattern, n, FNM_PERIOD) != 0
                    : !show_hidden && n[0] == '.' && d->fmt == DL_LIST)
            continue;
        if (add_name(d, &cap, n) < 0)
            err = errno;
    }
    closedir(dir);
    if (err) {
        errno = err;
        return -1;
    }
    if (d->count > 1) /* an empty directory has no array at all: qsort(NULL) is undefined */
        qsort(d->names, d->count, sizeof *d->names, cmp_names);
    return 0;
}

static dirlist *dirlist_new(const vfs *v, dirlist_format fmt, unsigned perms, unsigned facts)
{
    dirlist *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->fmt = fmt;
    d->perms = perms;
    d->facts = facts;
    d->dir_fd = -1;
    d->v = v;
    d->now = time(NULL);
    return d;
}

dirlist *dirlist_open_glob(const vfs *v, const char *dir_vpath, const char *pattern,
                           const char *prefix, dirlist_format fmt, unsigned perms)
{
    dirlist *d = dirlist_new(v, fmt, perms, 0);
    if (!d)
        return NULL;
    int err = 0;
    if ((prefix[0] && !(d->prefix = strdup(prefix))) || read_names(d, dir_vpath, pattern, true) < 0)
        err = errno;
    else if (d->count == 0)
        err = ENOENT;
    if (err) {
        dirlist_free(d);
        errno = err;
        return NULL;
    }
    return d;
}

dirlist *dirlist_open(const vfs *v, const char *vpath, dirlist_format fmt, unsigned perms,
                      unsigned mlsx_facts, bool show_hidden)
{
    dirlist *d = dirlist_new(v, fmt, perms, mlsx_facts);
    if (!d)
        return NULL;
    size_t cap = 0;
    int err = 0;

    struct stat st;
    if (vfs_stat(v, vpath, &st) < 0) {
        err = errno;
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (fmt == DL_MLSD) {
            err = ENOTDIR;
            goto fail;
        }
        const char *base;
        char parent[PATH_VMAX];
        d->dir_fd = vfs_open_parent(v, vpath, &base);
        if (d->dir_fd < 0 || path_dirname(vpath, parent, sizeof parent) < 0 ||
            !(d->dir_vpath = strdup(parent)) || add_name(d, &cap, base) < 0) {
            err = errno;
            goto fail;
        }
        return d;
    }

    d->is_dir = true;
    if (read_names(d, vpath, NULL, show_hidden) < 0) {
        err = errno;
        goto fail;
    }
    return d;
fail:
    dirlist_free(d);
    errno = err ? err : EIO;
    return NULL;
}

static int format_entry(dirlist *d, const char *name, char *line, size_t line_size)
{
    char shown[PATH_VMAX];
    const char *label = name;
    if (d->prefix) {
        if ((size_t)snprintf(shown, sizeof shown, "%s%s", d->prefix, name) >= sizeof shown)
            return -1;
        label = shown;
    }
    struct stat st;
    if (fstatat(d->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        /* Report what a link points to, as clients expect. A link out of the root, or to
         * nothing, is left out: listed, it would reveal what lies outside, and a mirroring
         * client would stop at the 550 that fetching it must give. */
        char vp[PATH_VMAX];
        if (path_resolve(d->dir_vpath, name, vp, sizeof vp) != 0 || vfs_stat(d->v, vp, &st) != 0)
            return 0;
    }
    switch (d->fmt) {
    case DL_LIST:
        return listfmt_ls(line, line_size, label, &st, d->now);
    case DL_MLSD:
        return listfmt_mlsx_facts(line, line_size, name, &st, d->perms, NULL, 0, d->facts);
    case DL_NLST:
    default:
        return snprintf(line, line_size, "%s\r\n", label);
    }
}

int dirlist_fill(dirlist *d, buf *out)
{
    char line[PATH_VMAX + 512];
    while (d->next < d->count) {
        int n = format_entry(d, d->names[d->next], line, sizeof line);
        if (n < 0 || (size_t)n >= sizeof line) {
            d->next++; /* a name too long to format is skipped rather than cut */
            continue;
        }
        if (n > 0 && buf_append_all(out, line, (size_t)n) < 0)
            return 1;
        d->next++;
    }
    return 0;
}

int dirlist_name_as_typed(dirlist *d, const char *arg)
{
    const char *slash = strrchr(arg, '/');
    if (d->is_dir || !slash)
        return 0;
    char *prefix = strndup(arg, (size_t)(slash - arg) + 1);
    if (!prefix)
        return -1;
    free(d->prefix);
    d->prefix = prefix;
    return 0;
}

bool dirlist_is_dir(const dirlist *d)
{
    return d->is_dir;
}

void dirlist_free(dirlist *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++)
        free(d->names[i]);
    free(d->names);
    free(d->dir_vpath);
    free(d->prefix);
    if (d->dir_fd >= 0)
        close(d->dir_fd);
    free(d);
}
