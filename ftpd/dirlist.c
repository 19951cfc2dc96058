#include "dirlist.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dirwalk.h"
#include "factaccess.h"
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
    /* The current run: names packed one after another (NUL-terminated) in `names`, their
     * starts in `offs`, sorted. Together at most DIRLIST_RUN_BYTES. */
    char *names;
    size_t names_len, names_cap;
    uint32_t *offs;
    size_t count, next, offs_cap;
    /* While more runs remain: the directory being read, what its names must match, and the
     * name that did not fit in the run before. */
    DIR *dir;
    char *pattern;
    bool show_hidden;
    char held[NAME_MAX + 1];
    time_t now;
    bool is_dir; /* a directory's entries, not a single file */
    /* The directories dir_vpath passes through, from "/" to itself, as (device, inode):
     * loaded at the first link to a directory (leads_back). */
    struct dir_id {
        dev_t dev;
        ino_t ino;
    } * trail;
    size_t trail_len;
    bool trail_loaded;
    /* MLSD's perm facts: whether the listed directory's names can change (factaccess.h),
     * asked at its first entry. */
    unsigned names_access;
    bool names_asked;
    /* A recursive listing (dirwalk.h): the walk, held by its first directory's listing. */
    dirwalk *walk;
    /* A directory of a walk: the entries the whole walk may still list, shared by all of
     * its directories, and where the names of the subdirectories listed go. */
    unsigned *budget;
    dirlist_names *subdirs;
    bool cut;      /* an entry was left out for want of budget */
    bool nofollow; /* a walk's subdirectory: opened only if still no link */
};

static int cmp_offs(const void *a, const void *b, void *names)
{
    return strcmp((const char *)names + *(const uint32_t *)a,
                  (const char *)names + *(const uint32_t *)b);
}

/* Adds name to the run. Returns 0; 1 when the run is full (name not added; a run always
 * takes its first name); or -1 with errno. */
static int add_name(dirlist *d, const char *name)
{
    size_t len = strlen(name) + 1;
    if (d->count > 0 && d->names_len + len + (d->count + 1) * sizeof *d->offs > DIRLIST_RUN_BYTES)
        return 1;
    if (d->count == d->offs_cap) {
        size_t ncap = d->offs_cap ? d->offs_cap * 2 : 32;
        if (ncap > DIRLIST_RUN_BYTES / sizeof *d->offs)
            ncap = DIRLIST_RUN_BYTES / sizeof *d->offs;
        uint32_t *no = realloc(d->offs, ncap * sizeof *no);
        if (!no)
            return -1;
        d->offs = no;
        d->offs_cap = ncap;
    }
    if (d->names_len + len > d->names_cap) {
        size_t ncap = d->names_cap ? d->names_cap : 1024;
        while (ncap < d->names_len + len)
            ncap *= 2;
        if (ncap > DIRLIST_RUN_BYTES && d->names_len + len <= DIRLIST_RUN_BYTES)
            ncap = DIRLIST_RUN_BYTES;
        char *nn = realloc(d->names, ncap);
        if (!nn)
            return -1;
        d->names = nn;
        d->names_cap = ncap;
    }
    memcpy(d->names + d->names_len, name, len);
    d->offs[d->count++] = (uint32_t)d->names_len;
    d->names_len += len;
    return 0;
}

static bool wanted(const dirlist *d, const char *n)
{
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || vfs_is_internal_name(n))
        return false;
    /* A line feed would end the listing's line inside the name, and what follows it would
     * read as an entry of its own ("x\r\ntype=file;size=1; fake" forges one in MLSD): RFC 3659
     * (2.2) has such names converted or left out. No command can name the file anyway,
     * since the LF would end that command's line. */
    if (strchr(n, '\n'))
        return false;
    return d->pattern ? fnmatch(d->pattern, n, FNM_PERIOD) == 0
                      : d->show_hidden || n[0] != '.' || d->fmt != DL_LIST;
}

static void end_reading(dirlist *d)
{
    if (d->dir)
        closedir(d->dir);
    d->dir = NULL;
}

/* Reads the directory's next run of names and sorts it: the whole directory when its names
 * fit in DIRLIST_RUN_BYTES, so that a huge directory costs a bounded amount of memory (and
 * of time on the loop per run) however many entries it has. Returns 0, or -1 with errno. */
static int read_run(dirlist *d)
{
    d->count = d->next = d->names_len = 0;
    if (d->held[0] != '\0') {
        if (add_name(d, d->held) < 0)
            return -1;
        d->held[0] = '\0';
    }
    struct dirent *de;
    while (d->dir && (de = readdir(d->dir)) != NULL) {
        if (!wanted(d, de->d_name))
            continue;
        int r = add_name(d, de->d_name);
        if (r < 0)
            return -1;
        if (r == 1) {
            snprintf(d->held, sizeof d->held, "%s", de->d_name);
            break;
        }
    }
    if (d->held[0] == '\0') {
        /* readdir's end, or an error: either way nothing more comes from this directory. */
        end_reading(d);
    }
    if (d->count > 1) /* an empty run has no array at all: qsort(NULL) is undefined */
        qsort_r(d->offs, d->count, sizeof *d->offs, cmp_offs, d->names);
    return 0;
}

/* Opens directory vpath for reading names (those matching pattern, when one is given); reads
 * the first run at once when `now`, else at the first fill (which may run on a worker, where
 * a slow disk holds up no one). Returns 0, or -1 with errno. */
static int read_names(dirlist *d, const char *vpath, const char *pattern, bool show_hidden,
                      bool now)
{
    d->show_hidden = show_hidden;
    if (pattern && !(d->pattern = strdup(pattern)))
        return -1;
    if (d->nofollow) {
        /* A walk's subdirectory: a link put in its place since it was listed is not
         * followed either (dirwalk.h). */
        int fd = vfs_open(d->v, vpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        if (fd >= 0 && !(d->dir = fdopendir(fd)))
            close(fd);
    } else {
        d->dir = vfs_opendir(d->v, vpath);
    }
    if (!d->dir || !(d->dir_vpath = strdup(vpath)))
        return -1;
    /* A separate fd for fstatat: closedir() after the last run closes the DIR's own. */
    d->dir_fd = fcntl(dirfd(d->dir), F_DUPFD_CLOEXEC, 0);
    if (d->dir_fd < 0)
        return -1;
    /* Readable but not searchable (r without x): the names could be read but not one of them
     * stat'ed, and the listing would come out empty, as if the directory were. */
    if (faccessat(d->dir_fd, ".", X_OK, AT_EACCESS) < 0)
        return -1;
    return now ? read_run(d) : 0;
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
    if ((prefix[0] && !(d->prefix = strdup(prefix))) ||
        read_names(d, dir_vpath, pattern, true, true) < 0)
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
            !(d->dir_vpath = strdup(parent)) || add_name(d, base) < 0) {
            err = errno;
            goto fail;
        }
        return d;
    }

    d->is_dir = true;
    if (read_names(d, vpath, NULL, show_hidden, false) < 0) {
        err = errno;
        goto fail;
    }
    return d;
fail:
    dirlist_free(d);
    errno = err ? err : EIO;
    return NULL;
}

static void trail_add(dirlist *d, const char *vp, size_t len)
{
    char prefix[PATH_VMAX];
    struct stat st;
    memcpy(prefix, vp, len);
    prefix[len] = '\0';
    if (vfs_stat(d->v, prefix, &st) == 0)
        d->trail[d->trail_len++] = (struct dir_id){st.st_dev, st.st_ino};
}

/* Whether a link to directory st leads back to the listed directory or one the client's path
 * to it went through. Listed, such a link sends a mirroring client (lftp mirror, wget -r)
 * round the loop until the kernel's limit on links in a path: forty copies of the tree, and
 * more for two such links. Left out, each directory is fetched once along any path. */
static bool leads_back(dirlist *d, const struct stat *st)
{
    if (!d->trail_loaded) {
        d->trail_loaded = true;
        const char *vp = d->dir_vpath;
        size_t len = strlen(vp), parts = 2;
        for (size_t i = 1; i < len; i++)
            parts += vp[i] == '/';
        if (!(d->trail = calloc(parts, sizeof *d->trail)))
            return false; /* out of memory: listed, as before */
        trail_add(d, "/", 1);
        for (size_t i = 2; i <= len; i++)
            if (i == len || vp[i] == '/')
                trail_add(d, vp, i);
    }
    for (size_t i = 0; i < d->trail_len; i++)
        if (d->trail[i].dev == st->st_dev && d->trail[i].ino == st->st_ino)
            return true;
    return false;
}

/* The LISTFMT_NO_ bits of an MLSD entry (factaccess.h); link_vp: the path of a link, whose
 * target (beneath the root) is asked about, or NULL. */
static unsigned mlsd_access(dirlist *d, const char *name, const char *link_vp,
                            const struct stat *st)
{
    if (!(d->facts & MLSX_PERM))
        return 0;
    if (!d->names_asked) {
        d->names_asked = true;
        d->names_access = factaccess_names(d->dir_fd, d->perms);
    }
    /* a link's st is its target's: the name's own owner is asked for then */
    unsigned names = factaccess_name(d->names_access, d->dir_fd, name, link_vp ? NULL : st);
    if (!link_vp)
        return names | factaccess_entry(d->dir_fd, name, AT_SYMLINK_NOFOLLOW, st, d->perms);
    /* The kernel would follow the link from the real root: its target is opened beneath the
     * user's, where the listing found it. */
    int fd = vfs_open(d->v, link_vp, O_PATH, 0);
    if (fd < 0)
        return names | LISTFMT_NO_READ | LISTFMT_NO_WRITE | LISTFMT_NO_SEARCH;
    unsigned no = factaccess_entry(fd, "", AT_EMPTY_PATH, st, d->perms);
    close(fd);
    return names | no;
}

/* *real_dir: the entry is a directory itself, not a link to one. */
static int format_entry(dirlist *d, const char *name, char *line, size_t line_size, bool *real_dir)
{
    char shown[PATH_VMAX];
    const char *label = name;
    if (d->prefix) {
        if ((size_t)snprintf(shown, sizeof shown, "%s%s", d->prefix, name) >= sizeof shown)
            return -1;
        label = shown;
    }
    struct stat st;
    char vp[PATH_VMAX];
    bool link = false;
    if (fstatat(d->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    *real_dir = S_ISDIR(st.st_mode);
    if (S_ISLNK(st.st_mode)) {
        /* Report what a link points to, as clients expect. A link out of the root, or to
         * nothing, is left out: listed, it would reveal what lies outside, and a mirroring
         * client would stop at the 550 that fetching it must give. A link back up the
         * path is left out too (leads_back). */
        if (path_resolve(d->dir_vpath, name, vp, sizeof vp) != 0 || vfs_stat(d->v, vp, &st) != 0)
            return 0;
        if (S_ISDIR(st.st_mode) && leads_back(d, &st))
            return 0;
        link = true;
    }
    switch (d->fmt) {
    case DL_LIST:
        return listfmt_ls(line, line_size, label, &st, d->now);
    case DL_MLSD:
        return listfmt_mlsx_facts(line, line_size, name, &st,
                                  d->perms | mlsd_access(d, name, link ? vp : NULL, &st), NULL, 0,
                                  d->facts);
    case DL_NLST:
    default:
        return snprintf(line, line_size, "%s\r\n", label);
    }
}

/* Adds the name of a subdirectory just listed to the walk's. Returns 0, or -1 with errno. */
static int add_subdir(dirlist_names *sd, const char *name)
{
    size_t len = strlen(name) + 1;
    if (sd->len + len > sd->cap) {
        size_t ncap = sd->cap ? sd->cap : 256;
        while (ncap < sd->len + len)
            ncap *= 2;
        char *nn = realloc(sd->names, ncap);
        if (!nn)
            return -1;
        sd->names = nn;
        sd->cap = ncap;
    }
    memcpy(sd->names + sd->len, name, len);
    sd->len += len;
    return 0;
}

int dirlist_fill_entries(dirlist *d, buf *out)
{
    char line[PATH_VMAX + 512];
    for (;;) {
        while (d->next < d->count) {
            const char *name = d->names + d->offs[d->next];
            bool real_dir = false;
            int n = format_entry(d, name, line, sizeof line, &real_dir);
            if (n < 0 || (size_t)n >= sizeof line) {
                d->next++; /* a name too long to format is skipped rather than cut */
                continue;
            }
            if (n > 0 && d->budget && *d->budget == 0) {
                d->cut = true;
                end_reading(d);
                return 0;
            }
            if (n > 0 && buf_append_all(out, line, (size_t)n) < 0)
                return 1;
            if (n > 0 && d->budget) {
                (*d->budget)--;
                /* Out of memory: the directory goes unlisted (its line stays), noted as one
                 * that could not be read. */
                if (real_dir && d->subdirs && add_subdir(d->subdirs, name) < 0)
                    d->subdirs->lost++;
            }
            d->next++;
        }
        if (!d->dir)
            return 0;
        if (read_run(d) < 0) {
            end_reading(d); /* out of memory: the listing ends short rather than never */
            return 0;
        }
        if (d->count == 0 && !d->dir)
            return 0;
    }
}

int dirlist_fill(dirlist *d, buf *out)
{
    return d->walk ? dirwalk_fill(d->walk, out) : dirlist_fill_entries(d, out);
}

dirlist *dirlist_open_entries(const vfs *v, const char *vpath, dirlist_format fmt, unsigned perms,
                              bool show_hidden, const char *prefix, unsigned *budget,
                              dirlist_names *subdirs, bool nofollow)
{
    dirlist *d = dirlist_new(v, fmt, perms, 0);
    if (!d)
        return NULL;
    d->nofollow = nofollow;
    d->budget = budget;
    d->subdirs = subdirs;
    d->is_dir = true;
    if ((prefix && !(d->prefix = strdup(prefix))) ||
        read_names(d, vpath, NULL, show_hidden, false) < 0) {
        int err = errno;
        dirlist_free(d);
        errno = err;
        return NULL;
    }
    return d;
}

bool dirlist_cut(const dirlist *d)
{
    return d->cut;
}

void dirlist_drop_names(dirlist *d)
{
    free(d->names);
    free(d->offs);
    d->names = NULL;
    d->offs = NULL;
    d->names_len = d->names_cap = d->count = d->next = d->offs_cap = 0;
}

dirlist *dirlist_open_recursive(const vfs *v, const char *vpath, const char *shown,
                                dirlist_format fmt, unsigned perms, bool show_hidden)
{
    struct stat st;
    if (vfs_stat(v, vpath, &st) < 0)
        return NULL;
    if (!S_ISDIR(st.st_mode)) /* ls -R of a file: the file's line */
        return dirlist_open(v, vpath, fmt, perms, 0, show_hidden);
    dirwalk *w = dirwalk_new(v, vpath, shown, fmt, perms, show_hidden);
    if (!w)
        return NULL;
    dirlist *d = dirwalk_top(w);
    d->walk = w;
    return d;
}

bool dirlist_note(const dirlist *d, char *out, size_t size)
{
    return d->walk && dirwalk_note(d->walk, out, size);
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

bool dirlist_in_memory(const dirlist *d)
{
    /* A walk's subdirectory may be a mount of a slower file system. */
    return !d->walk && vfs_fd_in_memory(d->dir_fd);
}

bool dirlist_is_dir(const dirlist *d)
{
    return d->is_dir;
}

void dirlist_free(dirlist *d)
{
    if (!d)
        return;
    if (d->walk) {
        dirwalk *w = d->walk;
        d->walk = NULL;
        dirwalk_free(w); /* frees d, its first directory's listing, too */
        return;
    }
    end_reading(d);
    free(d->names);
    free(d->offs);
    free(d->pattern);
    free(d->dir_vpath);
    free(d->prefix);
    free(d->trail);
    if (d->dir_fd >= 0)
        close(d->dir_fd);
    free(d);
}
