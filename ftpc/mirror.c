/* ftpc mirror: listing parsers, the two tree walks, the plan and its run. */
#include "mirror.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bars.h"
#include "localdir.h"
#include "mdtm.h"
#include "mirror_modes.h"
#include "mlstopts.h"
#include "partname.h"

#define MIRROR_MAX_DEPTH 64
#define MIRROR_MAX_ENTRIES 1000000

/* ---- trees ---- */

void ftpc_mtree_free(ftpc_mtree *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].rel);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static ftpc_mentry *mtree_add(ftpc_mtree *t, const char *rel, size_t rel_len)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        ftpc_mentry *v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    char *r = malloc(rel_len + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, rel, rel_len);
    r[rel_len] = '\0';
    ftpc_mentry *e = &t->v[t->n++];
    memset(e, 0, sizeof(*e));
    e->rel = r;
    e->size = -1;
    e->mtime = -1;
    e->ctime = -1;
    e->prec = 1;
    e->mode = -1;
    return e;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ftpc_mentry *)a)->rel, ((const ftpc_mentry *)b)->rel);
}

static void mtree_sort(ftpc_mtree *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
}

static const ftpc_mentry *mtree_find(const ftpc_mtree *t, const char *rel)
{
    ftpc_mentry key = {.rel = (char *)rel};
    if (t->n == 0)
        return NULL;
    return bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_entry);
}

/* With --include, leaves out of the sorted tree t the files it does not take, then the
 * directories left holding none of the files it does, unless it names them (or one above):
 * a mirror of *.iso makes no empty skeleton of the rest, and --delete removes no directory
 * that never held such a file.
 * Returns -1 when out of memory. */
static int keep_included(ftpc_mtree *t, const ftpc_cli *cli)
{
    if (cli->nincludes == 0 || t->n == 0)
        return 0;
    bool *keep = calloc(t->n, sizeof(*keep));
    if (keep == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        /* A directory --include names is taken whole, empty or not: the source has it, and
         * --delete must not remove it from the target once its files are gone. */
        if (!ftpc_mirror_included(t->v[i].rel, cli->includes, cli->nincludes))
            continue;
        keep[i] = true;
        char dir[FTPC_URL_PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", t->v[i].rel);
        for (char *slash = strrchr(dir, '/'); slash != NULL; slash = strrchr(dir, '/')) {
            *slash = '\0';
            const ftpc_mentry *d = mtree_find(t, dir);
            if (d == NULL || keep[d - t->v])
                break; /* its parents are kept already */
            keep[d - t->v] = true;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (keep[i])
            t->v[k++] = t->v[i];
        else
            free(t->v[i].rel);
    }
    t->n = k;
    free(keep);
    return 0;
}

/* Whether a listed name can be mirrored. One that cannot be a local file's name (or would
 * escape the tree) is counted in tree as refused, "." and ".." are not. With parts, a name of
 * the form of ftpc's part files is counted apart: copying a remote one would lose it or the
 * file it is named after (ftpc_part_like), and a local one is what an interrupted download
 * left, not a file of the tree. */
static bool good_name(const char *p, size_t n, ftpc_mtree *tree, bool parts)
{
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    if (parts && ftpc_part_like(p, n)) {
        tree->part_like++;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/' || p[i] == '\0' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
            if (tree->refused++ == 0) {
                size_t k = n < sizeof(tree->refused_name) - 1 ? n : sizeof(tree->refused_name) - 1;
                for (size_t j = 0; j < k; j++)
                    tree->refused_name[j] = (unsigned char)p[j] < 0x20 || p[j] == 0x7f ? '?' : p[j];
                tree->refused_name[k] = '\0';
            }
            return false;
        }
    }
    return true;
}

/* ---- listing parsers ---- */

static int parse_mlsd_line(const char *p, size_t n, ftpc_mtree *tree)
{
    const char *sp = memchr(p, ' ', n);
    if (sp == NULL)
        return 0;
    const char *name = sp + 1;
    size_t name_len = n - (size_t)(name - p);
    if (!good_name(name, name_len, tree, true))
        return 0;
    int type = -1; /* 0 file, 1 dir */
    int64_t size = -1, mtime = -1;
    int mode = -1;
    const char *f = p;
    ftpc_mlst_fact fact;
    while (ftpc_mlst_next_fact(&f, sp, &fact)) {
        const char *k = fact.name, *v = fact.value;
        size_t kl = fact.name_len, vl = fact.value_len;
        if (kl == 4 && strncasecmp(k, "type", 4) == 0) {
            if (vl == 4 && strncasecmp(v, "file", 4) == 0)
                type = 0;
            else if (vl == 3 && strncasecmp(v, "dir", 3) == 0)
                type = 1;
        } else if (kl == 4 && strncasecmp(k, "size", 4) == 0 && vl > 0 && vl < 20) {
            char buf[24];
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            char *e = NULL;
            long long s = strtoll(buf, &e, 10);
            if (*e == '\0' && s >= 0)
                size = s;
        } else if (kl == 6 && strncasecmp(k, "modify", 6) == 0) {
            mtime = ftpc_parse_mdtm(v, vl);
        } else if (kl == 9 && strncasecmp(k, "UNIX.mode", 9) == 0) {
            mode = ftpc_mode_from_fact(v, vl);
        }
    }
    if (type < 0)
        return 0;
    ftpc_mentry *e = mtree_add(tree, name, name_len);
    if (e == NULL)
        return -1;
    e->dir = type == 1;
    e->size = e->dir ? -1 : size;
    e->mtime = mtime;
    e->mode = mode;
    return 1;
}

static int month_of(const char *s, size_t n)
{
    static const char m[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (n != 3)
        return -1;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, m + 3 * i, 3) == 0)
            return i;
    return -1;
}

/* A Unix "ls -l" line: PERMS LINKS OWNER [GROUP] SIZE MON DAY (HH:MM|YEAR) NAME. */
static int parse_list_line(const char *p, size_t n, time_t now, ftpc_mtree *tree)
{
    if (n < 10 || (p[0] != '-' && p[0] != 'd'))
        return 0; /* "total N", links, devices */
    /* Token boundaries. */
    const char *tok[16];
    size_t tlen[16];
    int nt = 0;
    size_t i = 0;
    while (i < n && nt < 16) {
        while (i < n && p[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t st = i;
        while (i < n && p[i] != ' ')
            i++;
        tok[nt] = p + st;
        tlen[nt] = i - st;
        nt++;
    }
    for (int k = 3; k + 3 < nt; k++) {
        int mon = month_of(tok[k], tlen[k]);
        if (mon < 0 || tlen[k + 1] > 2 || !isdigit((unsigned char)tok[k + 1][0]))
            continue;
        /* SIZE before the month */
        char buf[24];
        if (tlen[k - 1] >= sizeof(buf))
            continue;
        memcpy(buf, tok[k - 1], tlen[k - 1]);
        buf[tlen[k - 1]] = '\0';
        char *e = NULL;
        long long size = strtoll(buf, &e, 10);
        if (*e != '\0' || size < 0)
            continue;
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        tm.tm_mon = mon;
        tm.tm_mday = atoi(tok[k + 1]);
        const char *ty = tok[k + 2];
        size_t tyl = tlen[k + 2];
        int prec = 60;
        struct tm nowtm;
        gmtime_r(&now, &nowtm);
        if (tyl == 5 && ty[2] == ':') {
            tm.tm_hour = atoi(ty);
            tm.tm_min = atoi(ty + 3);
            tm.tm_year = nowtm.tm_year;
            /* A date more than a day ahead is from last year. */
            if ((int64_t)timegm(&tm) > (int64_t)now + 86400)
                tm.tm_year--;
        } else if (tyl == 4) {
            tm.tm_year = atoi(ty) - 1900;
            prec = 86400;
        } else {
            continue;
        }
        /* The name: after exactly one space following the time or year. */
        const char *name = ty + tyl + 1;
        if (name >= p + n)
            return 0;
        size_t name_len = n - (size_t)(name - p);
        if (!good_name(name, name_len, tree, true))
            return 0;
        ftpc_mentry *en = mtree_add(tree, name, name_len);
        if (en == NULL)
            return -1;
        en->dir = p[0] == 'd';
        en->size = en->dir ? -1 : size;
        en->mtime = (int64_t)timegm(&tm);
        en->prec = prec;
        en->mode = ftpc_mode_from_perms(p + 1, n - 1);
        return 1;
    }
    return 0;
}

int ftpc_mirror_parse(const char *buf, size_t len, bool mlsd, time_t now, ftpc_mtree *tree)
{
    int added = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - i;
        if (n > 0 && buf[i + n - 1] == '\r')
            n--;
        int r = n == 0 ? 0
                : mlsd ? parse_mlsd_line(buf + i, n, tree)
                       : parse_list_line(buf + i, n, now, tree);
        if (r < 0)
            return -1;
        added += r;
        i = end + 1;
    }
    return added;
}

bool ftpc_mirror_excluded(const char *rel, char *const *pats, size_t n)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], rel, 0) == 0 || fnmatch(pats[i], base, 0) == 0)
            return true;
    return false;
}

/* Whether --include takes the file rel: it, its name, or a directory it lies below (path or
 * name) matches one of the patterns. */
bool ftpc_mirror_included(const char *rel, char *const *pats, size_t n)
{
    if (n == 0 || ftpc_mirror_excluded(rel, pats, n))
        return true;
    char dir[FTPC_URL_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", rel);
    for (char *slash = strrchr(dir, '/'); slash != NULL; slash = strrchr(dir, '/')) {
        *slash = '\0';
        if (ftpc_mirror_excluded(dir, pats, n))
            return true;
    }
    return false;
}

bool ftpc_mirror_want(const ftpc_mentry *src, const ftpc_mentry *dst, bool only_newer)
{
    if (dst == NULL)
        return true;
    bool times = src->mtime >= 0 && dst->mtime >= 0;
    if (only_newer) {
        if (times && src->mtime != dst->mtime)
            return src->mtime > dst->mtime;
        return src->size >= 0 && dst->size >= 0 && src->size != dst->size;
    }
    if (src->size >= 0 && dst->size >= 0 && src->size != dst->size)
        return true;
    return times && src->mtime != dst->mtime;
}

/* Where the server cannot set a file's time (no MFMT: vsftpd), its copy has the time of its
 * upload, and a local file changed since has a later time than that. But a local time in
 * the future (a file from a machine whose clock is ahead, an archive's, cp -p or touch -d)
 * is later than every upload until that time comes, so it would be sent again on every run;
 * and it says nothing about a change since the upload, since it was set, not stamped. The
 * file's ctime cannot be set: it is when the file last changed here (written, extracted,
 * its times or mode set), so a ctime later than the upload, by more than the listing's
 * precision, is a change to send, and an earlier one is none. Where the server's time is
 * in the future too (set from ours with MFMT), the modification times are compared as any
 * other. */
bool ftpc_mirror_put_want(const ftpc_mentry *l, const ftpc_mentry *r, bool only_newer, int64_t now)
{
    if (r == NULL)
        return true;
    bool size_differs = l->size >= 0 && r->size >= 0 && l->size != r->size;
    int64_t local = l->mtime > now && r->mtime <= now ? l->ctime : l->mtime;
    bool times = local >= 0 && r->mtime >= 0;
    bool newer = times && local >= r->mtime + (r->prec > 0 ? r->prec : 1);
    if (only_newer && times && !newer)
        return false;
    return newer || size_differs;
}

/* ---- paths ---- */

/* base joined with rel ("" rel: base itself). Returns 0 or -1 (too long). */
static int join(char *out, size_t size, const char *base, const char *rel)
{
    size_t bl = strlen(base);
    int n;
    if (rel[0] == '\0')
        n = snprintf(out, size, "%s", base);
    else if (bl == 0)
        n = snprintf(out, size, "%s", rel);
    else
        n = snprintf(out, size, "%s%s%s", base, base[bl - 1] == '/' ? "" : "/", rel);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* ---- the local tree ---- */

/* walk_local's answer for a directory of an upload's source that could not be opened: it is
 * left out, and so is its entry (told apart from a directory whose contents were all left
 * out, which is still made on the server). */
#define WALK_LEFT_OUT (-1)

/* Walks the local tree below root/rel into tree. With parts (an upload's source), names of
 * the form of ftpc's part files are left out and counted (good_name); a download's target
 * keeps them in view, for --delete. */
static int walk_local(ftpc_ctx *ctx, const char *root, const char *rel, int depth, char *const *ex,
                      size_t nex, bool parts, ftpc_mtree *tree)
{
    char path[FTPC_URL_PATH_MAX];
    if (join(path, sizeof(path), root, rel) < 0)
        return 0;
    DIR *d = opendir(path);
    if (d == NULL && parts && rel[0] != '\0') {
        /* One unreadable directory of an upload's source does not cost the rest of it. */
        ftpc_msg(ctx, "ftpc: mirror: cannot read %s: %s; left out", path, strerror(errno));
        tree->unreadable++;
        return WALK_LEFT_OUT;
    }
    if (d == NULL) {
        ftpc_msg(ctx, "ftpc: mirror: cannot read %s: %s", path, strerror(errno));
        tree->root_unreadable = rel[0] == '\0';
        return FTPC_EXIT_LOCAL;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (!good_name(name, strlen(name), tree, parts))
            continue;
        char sub[FTPC_URL_PATH_MAX], full[FTPC_URL_PATH_MAX];
        if (join(sub, sizeof(sub), rel, name) < 0 || join(full, sizeof(full), root, sub) < 0)
            continue;
        if (ftpc_mirror_excluded(sub, ex, nex))
            continue;
        struct stat st;
        if (lstat(full, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
            continue; /* symbolic links and special files are left alone */
        if (tree->n >= MIRROR_MAX_ENTRIES) {
            ftpc_msg(ctx, "ftpc: mirror: too many files under %s", root);
            rc = FTPC_EXIT_LOCAL;
            break;
        }
        ftpc_mentry *e = mtree_add(tree, sub, strlen(sub));
        if (e == NULL) {
            rc = FTPC_EXIT_LOCAL;
            break;
        }
        e->dir = S_ISDIR(st.st_mode);
        e->size = e->dir ? -1 : (int64_t)st.st_size;
        e->mtime = (int64_t)st.st_mtime;
        e->ctime = (int64_t)st.st_ctime;
        e->mode = (int)(st.st_mode & FTPC_MODE_BITS);
        if (e->dir && depth + 1 >= MIRROR_MAX_DEPTH) {
            tree->too_deep++;
        } else if (e->dir) {
            size_t at = tree->n - 1;
            int r = walk_local(ctx, root, sub, depth + 1, ex, nex, parts, tree);
            if (r == WALK_LEFT_OUT) {
                /* It could not be opened: not made on the server either. */
                free(tree->v[at].rel);
                tree->n--;
            } else if (r != 0 && rc == 0) {
                rc = r;
            }
        }
    }
    closedir(d);
    return rc;
}

/* ---- the remote tree ---- */

static void set_display(const ftpc_cli *cli, const char *path, char *out, size_t size)
{
    ftpc_url u = cli->mirror_url;
    snprintf(u.path, sizeof(u.path), "%s", path);
    ftpc_url_display(&u, out, size);
}

/* The task's display: path on the mirror's server. -1: out of memory. */
static int set_task_display(const ftpc_cli *cli, ftpc_task *t, const char *path)
{
    ftpc_url u = cli->mirror_url;
    snprintf(u.path, sizeof(u.path), "%s", path);
    return ftpc_task_set_display_url(t, &u);
}

/* Lists the remote tree level by level. *root_missing is set when the server refuses to list
 * the root (then the tree is empty and nothing else is reported); *root_failed when the root's
 * listing failed for any reason (that refusal, a failed log-in or connection). With unlisted, a
 * directory below the root that the server refuses to list (reported by its task) is left out and
 * counted there; without, it is an error like any other. Returns 0 or an exit code for other
 * errors at the root, errors below it (those listings are left out) or a stop. quiet_root:
 * the root's refusal is the caller's to tell. */
static int walk_remote(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop, ftpc_mtree *tree,
                       bool *root_missing, bool *root_failed, size_t *unlisted, bool quiet_root)
{
    const char *base = cli->mirror_url.path;
    char **level = calloc(1, sizeof(char *));
    size_t nlevel = 1;
    int rc = 0;
    *root_missing = false;
    *root_failed = false;
    if (level == NULL || (level[0] = strdup("")) == NULL) {
        free(level);
        return FTPC_EXIT_LOCAL;
    }
    time_t now = time(NULL);
    for (int depth = 0; nlevel > 0 && depth < MIRROR_MAX_DEPTH; depth++) {
        ftpc_task *ts = calloc(nlevel, sizeof(*ts));
        if (ts == NULL) {
            rc = FTPC_EXIT_LOCAL;
            break;
        }
        for (size_t i = 0; i < nlevel; i++) {
            ftpc_task *t = &ts[i];
            ftpc_task_init(t, FTPC_T_LS);
            t->index = i;
            t->ep = cli->mirror_ep;
            t->capture = true;
            t->long_list = true; /* LIST when the server has no MLSD */
            t->quiet_refusal = depth == 0 && quiet_root;
            /* Named with a trailing /: vsftpd answers LIST of a directory it cannot open
             * with that directory's own line, as ls -ld would, and 226 (a directory that
             * seems to hold itself); LIST dir/ makes it say it failed. */
            char path[FTPC_URL_PATH_MAX];
            size_t rl = 0;
            if (join(path, sizeof(path), base, level[i]) < 0 ||
                ((rl = strlen(path)) > 0 && path[rl - 1] != '/' && rl + 1 >= sizeof(path))) {
                t->finished = true;
                ftpc_task_fail(t, FTPC_EXIT_LOCAL, "mirror: path too long");
            } else if (rl > 0 && path[rl - 1] != '/') {
                path[rl] = '/';
                path[rl + 1] = '\0';
            }
            if (ftpc_task_set(&t->remote, path) == NULL || set_task_display(cli, t, path) < 0) {
                t->finished = true;
                ftpc_task_fail(t, FTPC_EXIT_LOCAL, "mirror: out of memory");
            }
        }
        int st = 0;
        bool done = ftpc_run_tasks(ctx, ts, nlevel, cli->opts.jobs, stop, &st);
        char **next = NULL;
        size_t nnext = 0, cnext = 0;
        for (size_t i = 0; done && rc == 0 && i < nlevel; i++) {
            ftpc_task *t = &ts[i];
            if (t->err.status != FTPC_OK) {
                *root_failed = depth == 0;
                /* Only a refusal is a missing root: a failed login or connection is not. */
                if (depth == 0 && t->err.status == FTPC_EXIT_REMOTE)
                    *root_missing = true;
                else if (t->err.status == FTPC_EXIT_REMOTE && unlisted != NULL)
                    (*unlisted)++;
                else
                    rc = t->err.status;
                continue;
            }
            if (t->listing_truncated) {
                /* What it lists is real, the rest unknown: like a directory that could not
                 * be listed, it keeps a download mirror from deleting (the message came with
                 * the listing); an upload mirror cannot know what the server has. */
                if (unlisted != NULL)
                    (*unlisted)++;
                else
                    rc = FTPC_EXIT_REMOTE;
            }
            /* Every entry ends with a line end (RFC 959, RFC 3659), yet some servers leave
             * out the last one's. A listing that ended normally (226, its data connection
             * closed, not reset: a reset, a 426 or a 451 failed the task above) is taken
             * whole. One the server says it cut short (counted above) may have stopped
             * inside a name, which --delete would take for a file gone: that unfinished
             * line is left out. */
            size_t whole = t->listing_len;
            if (whole > 0 && t->listing[whole - 1] != '\n') {
                if (t->listing_truncated) {
                    while (whole > 0 && t->listing[whole - 1] != '\n')
                        whole--;
                } else if (cli->opts.verbose > 0) {
                    ftpc_msg(ctx, "ftpc: listing %s: its last line has no line end (taken whole)",
                             t->display);
                }
            }
            ftpc_mtree one = {0};
            if (ftpc_mirror_parse(t->listing ? t->listing : "", whole, t->listing_mlsd, now, &one) <
                0) {
                ftpc_mtree_free(&one);
                rc = FTPC_EXIT_LOCAL;
                break;
            }
            if (one.refused > 0 && tree->refused == 0)
                memcpy(tree->refused_name, one.refused_name, sizeof(tree->refused_name));
            tree->refused += one.refused;
            tree->part_like += one.part_like;
            for (size_t k = 0; rc == 0 && k < one.n; k++) {
                char rel[FTPC_URL_PATH_MAX];
                if (join(rel, sizeof(rel), level[i], one.v[k].rel) < 0)
                    continue;
                if (ftpc_mirror_excluded(rel, cli->excludes, cli->nexcludes))
                    continue;
                if (tree->n >= MIRROR_MAX_ENTRIES) {
                    ftpc_msg(ctx, "ftpc: mirror: too many remote files");
                    rc = FTPC_EXIT_LOCAL;
                    break;
                }
                ftpc_mentry *e = mtree_add(tree, rel, strlen(rel));
                if (e == NULL) {
                    rc = FTPC_EXIT_LOCAL;
                    break;
                }
                e->dir = one.v[k].dir;
                e->size = one.v[k].size;
                e->mtime = one.v[k].mtime;
                e->prec = one.v[k].prec;
                e->mode = one.v[k].mode;
                if (e->dir) {
                    if (nnext == cnext) {
                        cnext = cnext ? cnext * 2 : 16;
                        char **g = realloc(next, cnext * sizeof(*g));
                        if (g == NULL) {
                            rc = FTPC_EXIT_LOCAL;
                            break;
                        }
                        next = g;
                    }
                    if ((next[nnext] = strdup(rel)) == NULL) {
                        rc = FTPC_EXIT_LOCAL;
                        break;
                    }
                    nnext++;
                }
            }
            ftpc_mtree_free(&one);
        }
        for (size_t i = 0; i < nlevel; i++) {
            ftpc_task_release(&ts[i]);
            free(level[i]);
        }
        free(ts);
        free(level);
        level = next;
        nlevel = nnext;
        if (!done) {
            rc = FTPC_EXIT_XFER;
            break;
        }
        if (rc != 0)
            break;
    }
    if (rc == 0)
        tree->too_deep += nlevel; /* the loop stopped at the depth limit with these left */
    for (size_t i = 0; i < nlevel; i++)
        free(level[i]);
    free(level);
    mtree_sort(tree);
    return rc;
}

/* ---- the plan ---- */

typedef struct tasks {
    ftpc_task *v;
    size_t n, cap;
    int64_t *mtime; /* downloads: the time to set afterwards */
    int *mode;      /* transfers: the permission bits to set afterwards, -1 none */
} tasks;

static ftpc_task *tasks_add(tasks *l, ftpc_task_kind kind)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        ftpc_task *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        l->v = v;
        int64_t *m = realloc(l->mtime, cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        l->mtime = m;
        int *md = realloc(l->mode, cap * sizeof(*md));
        if (md == NULL)
            return NULL;
        l->mode = md;
        l->cap = cap;
    }
    ftpc_task *t = &l->v[l->n];
    ftpc_task_init(t, kind);
    t->index = l->n;
    l->mtime[l->n] = -1;
    l->mode[l->n] = -1;
    l->n++;
    return t;
}

static void tasks_free(tasks *l)
{
    for (size_t i = 0; i < l->n; i++)
        ftpc_task_release(&l->v[i]);
    free(l->v);
    free(l->mtime);
    free(l->mode);
    memset(l, 0, sizeof(*l));
}

/* A task on the remote path for rel. */
static ftpc_task *remote_task(ftpc_cli *cli, tasks *l, ftpc_task_kind kind, const char *rel)
{
    ftpc_task *t = tasks_add(l, kind);
    if (t == NULL)
        return NULL;
    t->ep = cli->mirror_ep;
    char path[FTPC_URL_PATH_MAX];
    if (join(path, sizeof(path), cli->mirror_url.path, rel) < 0 ||
        ftpc_task_set(&t->remote, path) == NULL)
        return NULL;
    if (rel[0] != '\0') {
        t->by_path = true;
        t->name_off = strlen(t->remote) - strlen(rel); /* join ends with rel */
    }
    if (set_task_display(cli, t, t->remote) < 0)
        return NULL;
    return t;
}

static int worse(int a, int b)
{
    return a != FTPC_OK ? a : b;
}

/* failed: files and directories whose transfer, creation or removal was reported as an
 * error, so that the summary does not read as a complete copy after them. not_started: those
 * an interrupt stopped the run before (never tried, and not reported one by one). */
typedef struct counts {
    long transferred, skipped, deleted, failed, not_started;
    bool cut; /* an interrupt stopped a phase or kept one from starting */
} counts;

/* Whether the run is being stopped, before a phase that would run: the phase not run is
 * noted, so that the run does not end as a success. A stop after the last phase (while the
 * server answers the last QUIT) keeps nothing from being done. */
static bool halted(counts *c, volatile sig_atomic_t *stop)
{
    if (*stop)
        c->cut = true;
    return *stop;
}

/* Counts a finished task that did not succeed: failed, or not started at all. */
static void tally_failed(counts *c, const ftpc_task *t)
{
    if (t->finished && t->err.status != FTPC_OK)
        *(t->not_started ? &c->not_started : &c->failed) += 1;
}

static void tally_failed_list(counts *c, const tasks *l)
{
    for (size_t i = 0; i < l->n; i++)
        tally_failed(c, &l->v[i]);
}

static void plan_line(const ftpc_cli *cli, ftpc_ctx *ctx, const char *verb, const char *rel)
{
    if (cli->dry_run)
        ftpc_out(ctx, "%s %s", verb, rel);
}

/* --delete names what it removed, as lftp's mirror does. */
static void say_deleted(const ftpc_cli *cli, ftpc_ctx *ctx, const char *rel, bool dir,
                        const char *where)
{
    if (!cli->opts.quiet)
        ftpc_msg(ctx, "%s%s: deleted%s", rel, dir ? "/" : "", where);
}

/* Names of the tree copied from that cannot be copied: said once, counted as skipped. */
static void say_refused(ftpc_ctx *ctx, const ftpc_mtree *t, const char *side, counts *c)
{
    if (t->too_deep > 0) {
        ftpc_msg(ctx, "ftpc: mirror: the contents of %zu %s %s more than %d levels down left out",
                 t->too_deep, side, t->too_deep == 1 ? "directory" : "directories",
                 MIRROR_MAX_DEPTH);
        c->skipped += (long)t->too_deep;
    }
    if (t->part_like > 0) {
        ftpc_msg(ctx,
                 "ftpc: mirror: %zu %s %s left out: the form of ftpc's part files "
                 "(.NAME.ftpc-part, .NAME.ftpc-seg[.state])",
                 t->part_like, side, t->part_like == 1 ? "name" : "names");
        c->skipped += (long)t->part_like;
    }
    if (t->refused == 0)
        return;
    ftpc_msg(ctx,
             "ftpc: mirror: %zu %s %s left out: a control character or '/' in the name ('%s'%s)",
             t->refused, side, t->refused == 1 ? "name" : "names", t->refused_name,
             t->refused > 1 ? " and others" : "");
    c->skipped += (long)t->refused;
}

/* A download's directory that exists here already: the mode it is to have at the end (want,
 * when it differs from its own, -1 when it is to keep that), made writable and enterable for
 * its owner meanwhile when it was not, and then given back its own mode at the end. */
static int local_dir_mode(const ftpc_cli *cli, ftpc_ctx *ctx, const char *path, const char *rel,
                          int have, int want)
{
    int final = want >= 0 && want != have ? want : -1;
    if (final >= 0)
        plan_line(cli, ctx, "chmod", rel);
    if (cli->no_perms || cli->dry_run || have < 0 || (have & 0700) == 0700)
        return final;
    if (ftpc_mode_set_local(path, (unsigned)have | 0700) < 0)
        return final; /* what is written into it fails and says so */
    return final >= 0 ? final : have;
}

/* --delete of a download: a local directory the remote tree no longer has, which its owner
 * may not write (a mirror of a 0555 one made it so), is opened before what it holds is
 * removed. One the tree keeps was opened already (local_dir_mode). rel is what is removed. */
static void open_local_parent(const ftpc_cli *cli, ftpc_mtree *lt, const ftpc_mtree *rt,
                              const char *root, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (cli->no_perms || slash == NULL)
        return;
    char parent[FTPC_URL_PATH_MAX], path[FTPC_URL_PATH_MAX];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
    const ftpc_mentry *p = mtree_find(lt, parent);
    if (p == NULL || !p->dir || p->mode < 0 || (p->mode & 0700) == 0700 ||
        mtree_find(rt, parent) != NULL || join(path, sizeof(path), root, parent) < 0)
        return;
    if (ftpc_mode_set_local(path, (unsigned)p->mode | 0700) == 0)
        lt->v[p - lt->v].mode |= 0700;
}

/* Download: remote tree into cli->mirror_dir. */
static int mirror_get(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop, counts *c)
{
    const char *root = cli->mirror_dir;
    ftpc_mtree rt = {0}, lt = {0};
    bool root_missing, root_failed;
    size_t unlisted = 0;
    int status = walk_remote(cli, ctx, stop, &rt, &root_missing, &root_failed, &unlisted, false);
    if (root_missing)
        status = worse(status, FTPC_EXIT_REMOTE);
    /* A root that could not be listed, or made here, is a directory that failed: the summary
     * says so, and does not read as a mirror with nothing to do. */
    if (root_failed)
        c->failed++;
    if (keep_included(&rt, cli) < 0)
        status = worse(status, FTPC_EXIT_LOCAL);
    if (status != FTPC_OK) {
        ftpc_mtree_free(&rt);
        return status;
    }
    say_refused(ctx, &rt, "remote", c);
    struct stat st;
    if (stat(root, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            ftpc_msg(ctx, "ftpc: mirror: %s is not a directory", root);
            c->failed++;
            ftpc_mtree_free(&rt);
            return FTPC_EXIT_LOCAL;
        }
        status = walk_local(ctx, root, "", 0, cli->excludes, cli->nexcludes, false, &lt);
        c->failed += lt.root_unreadable;
        mtree_sort(&lt);
        if (keep_included(&lt, cli) < 0)
            status = worse(status, FTPC_EXIT_LOCAL);
    } else if (!cli->dry_run && ftpc_mkdir_p(root) < 0) {
        ftpc_msg(ctx, "ftpc: mirror: cannot create %s: %s", root, strerror(errno));
        c->failed++;
        ftpc_mtree_free(&rt);
        return FTPC_EXIT_LOCAL;
    }
    /* One unreadable directory does not cost the rest of the tree; but what it holds is
     * unknown, so nothing is deleted on the strength of the tree's other parts. */
    if (unlisted > 0) {
        c->failed += (long)unlisted;
        status = worse(status, FTPC_EXIT_REMOTE);
        if (cli->mirror_delete)
            ftpc_msg(ctx,
                     "ftpc: mirror: nothing deleted: %zu remote %s could not be listed in full",
                     unlisted, unlisted == 1 ? "directory" : "directories");
    }
    tasks gets = {0};
    char path[FTPC_URL_PATH_MAX];
    /* Directories of rt that are real local directories (or will be, in a dry run): nothing
     * is written below one that is not, so a symbolic link is never written through. */
    bool *real = rt.n > 0 ? calloc(rt.n, sizeof(*real)) : NULL;
    /* The modes directories get once nothing more is written into them, -1 none. */
    int *dir_mode = rt.n > 0 ? malloc(rt.n * sizeof(*dir_mode)) : NULL;
    bool fatal = rt.n > 0 && (real == NULL || dir_mode == NULL);
    for (size_t i = 0; dir_mode != NULL && i < rt.n; i++)
        dir_mode[i] = -1;
    unsigned umask_bits = ftpc_mode_umask();
    ftpc_mode_failures mode_failures = {0};
    for (size_t i = 0; !fatal && i < rt.n; i++) {
        const ftpc_mentry *e = &rt.v[i];
        const ftpc_mentry *l = mtree_find(&lt, e->rel);
        if (join(path, sizeof(path), root, e->rel) < 0) {
            fatal = true;
            break;
        }
        const char *slash = strrchr(e->rel, '/');
        if (slash != NULL) {
            char parent[FTPC_URL_PATH_MAX];
            snprintf(parent, sizeof(parent), "%.*s", (int)(slash - e->rel), e->rel);
            const ftpc_mentry *pe = mtree_find(&rt, parent);
            if (pe == NULL || !real[pe - rt.v])
                continue; /* below a directory that could not be made: reported already */
        }
        int want = cli->no_perms ? -1 : ftpc_mode_wanted(e->mode, umask_bits);
        if (e->dir) {
            if (l != NULL && l->dir) {
                real[i] = true;
                dir_mode[i] = local_dir_mode(cli, ctx, path, e->rel, l->mode, want);
                continue;
            }
            if (lstat(path, &st) == 0) {
                ftpc_msg(ctx, "ftpc: mirror: %s is not a directory; left alone", path);
                status = worse(status, FTPC_EXIT_LOCAL);
                c->failed++;
                continue;
            }
            plan_line(cli, ctx, "mkdir", e->rel);
            if (!cli->dry_run && mkdir(path, 0777) < 0) {
                ftpc_msg(ctx, "ftpc: mirror: cannot create %s: %s", path, strerror(errno));
                status = worse(status, FTPC_EXIT_LOCAL);
                c->failed++;
                continue;
            }
            real[i] = true;
            if (want >= 0 && (unsigned)want != (0777 & ~umask_bits))
                dir_mode[i] = want;
            continue;
        }
        if (l != NULL && l->dir) {
            ftpc_msg(ctx, "ftpc: mirror: %s is a directory here, a file there", path);
            status = worse(status, FTPC_EXIT_LOCAL);
            c->failed++;
            continue;
        }
        if (l == NULL && lstat(path, &st) == 0) {
            /* Excluded or not a regular file: never written through. */
            ftpc_msg(ctx, "ftpc: mirror: %s is not a regular file; left alone", path);
            status = worse(status, FTPC_EXIT_LOCAL);
            c->failed++;
            continue;
        }
        if (!ftpc_mirror_want(e, l, cli->only_newer)) {
            c->skipped++;
            /* --only-newer keeps a copy changed here since (newer than the server's) as it
             * is, its mode too. */
            bool kept_newer = cli->only_newer && l != NULL && e->mtime >= 0 && l->mtime >= 0 &&
                              l->mtime > e->mtime;
            if (l != NULL && want >= 0 && want != l->mode && !kept_newer) {
                plan_line(cli, ctx, "chmod", e->rel);
                if (!cli->dry_run && ftpc_mode_set_local(path, (unsigned)want) < 0)
                    ftpc_mode_failed(&mode_failures, path, errno);
            }
            continue;
        }
        plan_line(cli, ctx, "get", e->rel);
        if (cli->dry_run) {
            c->transferred++;
            continue;
        }
        ftpc_task *t = remote_task(cli, &gets, FTPC_T_GET, e->rel);
        if (t == NULL) {
            fatal = true;
            break;
        }
        if (ftpc_task_set(&t->local, path) == NULL) {
            fatal = true;
            break;
        }
        /* The tree's modes are the mirror's to keep: a file it made read-only, as the
         * server's is, is replaced when the server's changes (as lftp's mirror does). */
        t->replace_readonly = true;
        gets.mtime[gets.n - 1] = e->mtime;
        gets.mode[gets.n - 1] = want;
        t->size_known = e->size >= 0;
        t->known_size = e->size >= 0 ? (uint64_t)e->size : 0;
    }
    if (fatal)
        status = FTPC_EXIT_LOCAL;
    if (!fatal && gets.n > 0) {
        if (ctx->bars != NULL)
            ftpc_bars_set_files(ctx->bars, (int)gets.n);
        int st2 = 0;
        if (!ftpc_run_tasks(ctx, gets.v, gets.n, cli->opts.jobs, stop, &st2))
            st2 = FTPC_EXIT_XFER;
        status = worse(status, st2);
        for (size_t i = 0; i < gets.n; i++) {
            ftpc_task *t = &gets.v[i];
            tally_failed(c, t);
            if (!t->finished || t->err.status != FTPC_OK)
                continue;
            if (t->up_to_date)
                c->skipped++; /* -c found it complete; only its time and mode were off */
            else
                c->transferred++;
            if (gets.mode[i] >= 0 && ftpc_mode_set_local(t->local, (unsigned)gets.mode[i]) < 0)
                ftpc_mode_failed(&mode_failures, t->local, errno);
            if (gets.mtime[i] >= 0) {
                struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
                                         {.tv_sec = (time_t)gets.mtime[i]}};
                utimensat(AT_FDCWD, t->local, ts, AT_SYMLINK_NOFOLLOW);
            }
        }
    }
    tasks_free(&gets);
    /* Delete what the remote tree no longer has: files first, then directories deepest
     * first. Only after a complete, error-free pass. */
    if (cli->mirror_delete && status == FTPC_OK && !halted(c, stop)) {
        for (int pass = 0; pass < 2; pass++) {
            for (size_t k = lt.n; k-- > 0;) {
                const ftpc_mentry *l = &lt.v[k];
                if (l->dir != (pass == 1) || mtree_find(&rt, l->rel) != NULL)
                    continue;
                if (join(path, sizeof(path), root, l->rel) < 0)
                    continue;
                plan_line(cli, ctx, l->dir ? "rmdir" : "rm", l->rel);
                if (cli->dry_run) {
                    c->deleted++;
                    continue;
                }
                open_local_parent(cli, &lt, &rt, root, l->rel);
                if ((l->dir ? rmdir(path) : unlink(path)) == 0) {
                    c->deleted++;
                    say_deleted(cli, ctx, l->rel, l->dir, "");
                } else if (!(l->dir && (errno == ENOTEMPTY || errno == EEXIST))) {
                    ftpc_msg(ctx, "ftpc: mirror: cannot remove %s: %s", path, strerror(errno));
                    status = worse(status, FTPC_EXIT_LOCAL);
                    c->failed++;
                }
            }
        }
    }
    /* Directories last, deepest first: each stayed writable while it was filled. */
    for (size_t k = rt.n; dir_mode != NULL && !cli->dry_run && k-- > 0;) {
        if (dir_mode[k] >= 0 && join(path, sizeof(path), root, rt.v[k].rel) == 0 &&
            ftpc_mode_set_local(path, (unsigned)dir_mode[k]) < 0)
            ftpc_mode_failed(&mode_failures, path, errno);
    }
    ftpc_mode_say_failures(ctx, &mode_failures);
    free(real);
    free(dir_mode);
    ftpc_mtree_free(&rt);
    ftpc_mtree_free(&lt);
    return status;
}

static int run_list(ftpc_ctx *ctx, tasks *l, int jobs, volatile sig_atomic_t *stop, counts *c)
{
    if (l->n == 0)
        return FTPC_OK;
    int st = 0;
    if (!ftpc_run_tasks(ctx, l->v, l->n, jobs, stop, &st)) {
        st = FTPC_EXIT_XFER;
        c->cut = true;
    }
    return st;
}

static long count_ok(const tasks *l)
{
    long n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].finished && l->v[i].err.status == FTPC_OK;
    return n;
}

static long deleted_ok(const ftpc_cli *cli, ftpc_ctx *ctx, const tasks *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].finished && l->v[i].err.status == FTPC_OK)
            say_deleted(cli, ctx, ftpc_task_name(&l->v[i]), l->v[i].kind == FTPC_T_RMDIR,
                        " on the server");
    return count_ok(l);
}

static bool chmod_task(ftpc_cli *cli, tasks *l, const char *rel, unsigned mode)
{
    ftpc_task *t = remote_task(cli, l, FTPC_T_CHMOD, rel);
    if (t != NULL)
        t->mode = mode;
    return t != NULL;
}

/* mirror -R, once the files are up and the deletions done: SITE CHMOD for the files sent and
 * those whose listed mode differs (chmods holds these), then for the directories made or
 * listed with another mode, deepest first, so that none changed before its contents. A mode
 * the server does not take is reported (fsops.c) and leaves the exit status as it was: the
 * files themselves are there. */
static void set_remote_modes(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop, counts *c,
                             const ftpc_mtree *lt, int *dir_mode, const tasks *dirs,
                             const tasks *puts, tasks *chmods)
{
    for (size_t i = 0; i < puts->n; i++) {
        const ftpc_task *p = &puts->v[i];
        if (puts->mode[i] >= 0 && p->finished && p->err.status == FTPC_OK &&
            !chmod_task(cli, chmods, p->remote + p->name_off, (unsigned)puts->mode[i]))
            return;
    }
    for (size_t i = 0; dir_mode != NULL && i < dirs->n; i++) {
        const ftpc_task *d = &dirs->v[i];
        const ftpc_mentry *e = mtree_find(lt, d->remote + d->name_off);
        if (e != NULL && (!d->finished || d->err.status != FTPC_OK))
            dir_mode[e - lt->v] = -1; /* not made: reported already */
    }
    int ignored = run_list(ctx, chmods, cli->opts.jobs, stop, c);
    tasks later = {0};
    for (size_t k = lt->n; dir_mode != NULL && k-- > 0 && !halted(c, stop);) {
        if (dir_mode[k] >= 0 && !chmod_task(cli, &later, lt->v[k].rel, (unsigned)dir_mode[k]))
            break;
    }
    if (!halted(c, stop))
        ignored = run_list(ctx, &later, 1, stop, c);
    (void)ignored;
    tasks_free(&later);
}

/* mirror -R: a directory the server has which its owner may not write (a mirror of a 0555
 * one here made it so) is opened for its owner before a file is sent, made or deleted in it;
 * one the tree keeps is given its mode back at the end with the others (dir_mode,
 * set_remote_modes), as a download does with a local one. rel is what is written. */
static bool open_remote_parent(ftpc_cli *cli, const ftpc_mtree *lt, const ftpc_mtree *rt,
                               int *dir_mode, bool *opened, tasks *opens, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (slash == NULL)
        return true; /* the root's mode is not the mirror's to change */
    char parent[FTPC_URL_PATH_MAX];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
    const ftpc_mentry *r = mtree_find(rt, parent), *l = mtree_find(lt, parent);
    if (r == NULL || r->mode < 0 || (r->mode & 0700) == 0700 || opened[r - rt->v])
        return true;
    opened[r - rt->v] = true;
    if (l != NULL && dir_mode[l - lt->v] < 0)
        dir_mode[l - lt->v] = r->mode;
    return chmod_task(cli, opens, parent, (unsigned)r->mode | 0700);
}

/* opened: one flag per entry of rt, kept over the calls of a run so that no directory is
 * opened twice. */
static bool open_remote_parents(ftpc_cli *cli, const ftpc_mtree *lt, const ftpc_mtree *rt,
                                int *dir_mode, bool *opened, tasks *opens,
                                const tasks *const *writes, size_t nwrites)
{
    if (cli->no_perms || cli->dry_run || rt->n == 0)
        return true;
    bool ok = true;
    for (size_t w = 0; ok && w < nwrites; w++)
        for (size_t i = 0; ok && i < writes[w]->n; i++)
            ok = open_remote_parent(cli, lt, rt, dir_mode, opened, opens,
                                    ftpc_task_name(&writes[w]->v[i]));
    return ok;
}

/* Whether a directory above rel is a file on the server (rt): the local directory was left
 * alone, so nothing is sent into it, where each STOR would only be refused in turn. */
static bool under_remote_file(const ftpc_mtree *rt, const char *rel)
{
    char up[FTPC_URL_PATH_MAX];
    snprintf(up, sizeof(up), "%s", rel);
    for (char *slash = strrchr(up, '/'); slash != NULL; slash = strrchr(up, '/')) {
        *slash = '\0';
        const ftpc_mentry *r = mtree_find(rt, up);
        if (r != NULL && !r->dir)
            return true;
    }
    return false;
}

/* --delete: whether rel, or a directory above it, is one that spared marks. */
static bool under_spared(const ftpc_mtree *rt, const bool *spared, const char *rel)
{
    char up[FTPC_URL_PATH_MAX];
    snprintf(up, sizeof(up), "%s", rel);
    for (char *slash = strchr(up, '/');; slash = strchr(slash + 1, '/')) {
        if (slash != NULL)
            *slash = '\0';
        const ftpc_mentry *r = mtree_find(rt, up);
        if (r != NULL && spared[r - rt->v])
            return true;
        if (slash == NULL)
            return false;
        *slash = '/';
    }
}

static size_t rel_depth(const char *rel)
{
    size_t d = 1;
    for (const char *s = strchr(rel, '/'); s != NULL; s = strchr(s + 1, '/'))
        d++;
    return d;
}

/* The DELE of each directory at depth that --delete removes, below none that a DELE found to be
 * a link (see delete_remote). */
static bool plan_link_probes(ftpc_cli *cli, const ftpc_mtree *lt, const ftpc_mtree *rt,
                             const bool *spared, size_t depth, tasks *probes)
{
    for (size_t k = 0; k < rt->n; k++) {
        const ftpc_mentry *r = &rt->v[k];
        if (!r->dir || mtree_find(lt, r->rel) != NULL || rel_depth(r->rel) != depth ||
            under_spared(rt, spared, r->rel))
            continue;
        ftpc_task *t = remote_task(cli, probes, FTPC_T_RM, r->rel);
        if (t == NULL)
            return false;
        t->quiet_refusal = true; /* the answer for a real directory: nothing to say */
    }
    return true;
}

/* What the DELE of each directory of a level found: a refusal (5xx), a real directory, whose
 * contents then go; a success, a link (or file) removed as one entry, whose "contents" are
 * left alone (spared), as are those of one whose DELE failed otherwise (a 4xx, said here as
 * quiet_refusal kept it unsaid; a lost connection, said by the runner). Returns the status
 * of those failures. */
static int take_link_probes(const ftpc_cli *cli, ftpc_ctx *ctx, const ftpc_mtree *rt,
                            const tasks *probes, bool *spared, counts *c)
{
    int status = FTPC_OK;
    for (size_t i = 0; i < probes->n; i++) {
        const ftpc_task *t = &probes->v[i];
        bool refused = t->finished && t->err.status == FTPC_EXIT_REMOTE;
        /* A link in a directory that cannot be written is refused too, with a 5xx: only the
         * text tells "Is a directory" from "Permission denied" (ftpd, ProFTPD, pyftpdlib). */
        bool no_permission = refused && t->fs_refused_perm;
        if (refused && t->fs_reply_code >= 500 && !no_permission)
            continue;
        const char *rel = ftpc_task_name(t);
        spared[mtree_find(rt, rel) - rt->v] = true;
        if (!t->finished || t->err.status != FTPC_OK) {
            if (no_permission)
                ftpc_msg(ctx,
                         "ftpc: %s (left alone: in a directory that cannot be written, a "
                         "link cannot be told from a directory)",
                         t->err.msg);
            else if (refused)
                ftpc_msg(ctx, "ftpc: %s", t->err.msg);
            tally_failed(c, t);
            status = worse(status, t->finished ? t->err.status : FTPC_EXIT_XFER);
            continue;
        }
        c->deleted++;
        if (!cli->opts.quiet)
            ftpc_msg(ctx, "%s: deleted on the server (a link: what it points to is left alone)",
                     rel);
    }
    return status;
}

/* mirror -R --delete, once every upload succeeded: removes what the source no longer has (rt's
 * entries that lt lacks), files first, then directories, deepest first.
 * A server may list a symbolic link as what it points to (ftpd, ProFTPD without ShowSymlinks):
 * a directory to remove may be a link, and removing what it holds would delete files outside
 * the tree. So each one is sent DELE first, level by level from the top and never below one
 * found to be a link: unlink removes a link itself, never what it points to, and is refused
 * for a real directory. A DELE refused for want of permission (a parent that cannot be written
 * nor opened) says nothing of what the entry is: it is left alone, whole. Directories are
 * opened for writing (open_remote_parent) only for what is then removed, so that no mode is
 * changed through a link either. */
static int delete_remote(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop,
                         const ftpc_mtree *lt, const ftpc_mtree *rt, int *dir_mode, bool *opened,
                         counts *c)
{
    tasks opens = {0}, rms = {0}, rmdirs = {0};
    bool *spared = calloc(rt->n, sizeof(*spared));
    bool ok = spared != NULL;
    int status = FTPC_OK;
    size_t deepest = 0;
    for (size_t k = 0; k < rt->n; k++)
        if (rt->v[k].dir && rel_depth(rt->v[k].rel) > deepest)
            deepest = rel_depth(rt->v[k].rel);
    /* Level by level, so that nothing below a link is ever sent a DELE (a link out there
     * would be removed). */
    for (size_t depth = 1; ok && depth <= deepest && !halted(c, stop); depth++) {
        tasks probes = {0};
        ok = plan_link_probes(cli, lt, rt, spared, depth, &probes);
        const tasks *first[] = {&probes};
        ok = ok && open_remote_parents(cli, lt, rt, dir_mode, opened, &opens, first, 1);
        if (ok && !halted(c, stop)) {
            (void)run_list(ctx, &opens, 1, stop, c);               /* a refusal is said (fsops.c) */
            (void)run_list(ctx, &probes, cli->opts.jobs, stop, c); /* see take_link_probes */
        }
        /* Even when stopped: a link removed is said, one not asked yet counts as failed. */
        if (ok)
            status = worse(status, take_link_probes(cli, ctx, rt, &probes, spared, c));
        tasks_free(&opens);
        tasks_free(&probes);
    }
    for (size_t k = rt->n; ok && k-- > 0 && !halted(c, stop);) {
        const ftpc_mentry *r = &rt->v[k];
        if (mtree_find(lt, r->rel) == NULL && !under_spared(rt, spared, r->rel))
            ok = remote_task(cli, r->dir ? &rmdirs : &rms, r->dir ? FTPC_T_RMDIR : FTPC_T_RM,
                             r->rel) != NULL;
    }
    const tasks *then[] = {&rms, &rmdirs};
    ok = ok && open_remote_parents(cli, lt, rt, dir_mode, opened, &opens, then, 2);
    if (ok && !halted(c, stop)) {
        (void)run_list(ctx, &opens, 1, stop, c);
        int st = run_list(ctx, &rms, cli->opts.jobs, stop, c);
        c->deleted += deleted_ok(cli, ctx, &rms);
        tally_failed_list(c, &rms);
        if (st == FTPC_OK && !halted(c, stop)) {
            st = run_list(ctx, &rmdirs, 1, stop, c);
            c->deleted += deleted_ok(cli, ctx, &rmdirs);
            tally_failed_list(c, &rmdirs);
        }
        status = worse(status, st);
    }
    free(spared);
    tasks_free(&opens);
    tasks_free(&rms);
    tasks_free(&rmdirs);
    return ok ? status : worse(status, FTPC_EXIT_LOCAL);
}

/* Upload: cli->mirror_dir into the remote directory. */
static int mirror_put(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop, counts *c)
{
    const char *root = cli->mirror_dir;
    struct stat st;
    if (stat(root, &st) < 0) { /* missing, not "not a directory" */
        ftpc_msg(ctx, "ftpc: mirror: %s: %s", root, strerror(errno));
        c->failed++;
        return FTPC_EXIT_LOCAL;
    }
    if (!S_ISDIR(st.st_mode)) {
        ftpc_msg(ctx, "ftpc: mirror: %s is not a directory", root);
        c->failed++;
        return FTPC_EXIT_LOCAL;
    }
    ftpc_mtree lt = {0}, rt = {0};
    int status = walk_local(ctx, root, "", 0, cli->excludes, cli->nexcludes, true, &lt);
    c->failed += lt.root_unreadable;
    mtree_sort(&lt);
    if (keep_included(&lt, cli) < 0)
        status = worse(status, FTPC_EXIT_LOCAL);
    if (status != FTPC_OK) {
        ftpc_mtree_free(&lt);
        return status;
    }
    say_refused(ctx, &lt, "local", c);
    /* What the server has below a directory left out cannot be compared with anything, so
     * nothing is deleted on the strength of the tree's other parts. */
    int unread_status = FTPC_OK;
    if (lt.unreadable > 0) {
        c->failed += (long)lt.unreadable;
        unread_status = FTPC_EXIT_LOCAL;
        if (cli->mirror_delete)
            ftpc_msg(ctx, "ftpc: mirror: nothing deleted: %zu local %s could not be read",
                     lt.unreadable, lt.unreadable == 1 ? "directory" : "directories");
    }
    /* The remote root first (an existing directory is fine). */
    const char *base = cli->mirror_url.path;
    if (!cli->dry_run && base[0] != '\0' && strcmp(base, "/") != 0) {
        tasks mk = {0};
        ftpc_task *t = remote_task(cli, &mk, FTPC_T_MKDIR, "");
        if (t == NULL) {
            tasks_free(&mk);
            ftpc_mtree_free(&lt);
            return FTPC_EXIT_LOCAL;
        }
        t->parents = true;
        ftpc_task_strip_slashes(&t->remote);
        status = run_list(ctx, &mk, 1, stop, c);
        tally_failed_list(c, &mk);
        tasks_free(&mk);
        if (status != FTPC_OK) {
            ftpc_mtree_free(&lt);
            return status;
        }
    }
    bool root_missing, root_failed;
    /* A dry run makes no root: one not there yet is no error, but what the run would do. */
    status = walk_remote(cli, ctx, stop, &rt, &root_missing, &root_failed, NULL, cli->dry_run);
    if (root_failed && !(root_missing && cli->dry_run))
        c->failed++;
    if (root_missing && cli->dry_run && !cli->opts.quiet) {
        char shown[FTPC_URL_PATH_MAX + 64];
        set_display(cli, base, shown, sizeof(shown));
        ftpc_msg(ctx,
                 "ftpc: mirror: %s is not on the server (or may not be listed): the mirror "
                 "would make it and send everything",
                 shown);
    }
    if (root_missing && !cli->dry_run)
        status = worse(status, FTPC_EXIT_REMOTE);
    if (keep_included(&rt, cli) < 0)
        status = worse(status, FTPC_EXIT_LOCAL);
    tasks dirs = {0}, puts = {0}, chmods = {0}, opens = {0};
    bool fatal = status != FTPC_OK; /* the remote tree is incomplete */
    bool *opened = rt.n > 0 ? calloc(rt.n, sizeof(*opened)) : NULL; /* open_remote_parents */
    if (rt.n > 0 && opened == NULL)
        fatal = true;
    /* The modes of lt's directories to set at the end, -1 none. */
    int *dir_mode = lt.n > 0 ? malloc(lt.n * sizeof(*dir_mode)) : NULL;
    if (lt.n > 0 && dir_mode == NULL)
        fatal = true;
    for (size_t i = 0; dir_mode != NULL && i < lt.n; i++)
        dir_mode[i] = -1;
    unsigned umask_bits = ftpc_mode_umask();
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; !fatal && i < lt.n; i++) {
        const ftpc_mentry *l = &lt.v[i];
        const ftpc_mentry *r = mtree_find(&rt, l->rel);
        if (under_remote_file(&rt, l->rel))
            continue; /* its directory was left alone, and said so: so is what it holds */
        if (r != NULL && r->dir != l->dir) {
            ftpc_msg(ctx, "ftpc: mirror: %s is a %s here and a %s on the server; left alone",
                     l->rel, l->dir ? "directory" : "file", r->dir ? "directory" : "file");
            status = worse(status, FTPC_EXIT_REMOTE);
            c->failed++;
            continue;
        }
        int want = cli->no_perms ? -1 : ftpc_mode_wanted(l->mode, umask_bits);
        /* An entry the server has already changes mode only when its listing said another
         * one; what is made or sent now is given its mode afterwards in any case. */
        bool differs = r != NULL && want >= 0 && r->mode >= 0 && r->mode != want;
        if (l->dir) {
            if (r == NULL || differs)
                dir_mode[i] = want;
            if (differs)
                plan_line(cli, ctx, "chmod", l->rel);
            if (r != NULL)
                continue;
            plan_line(cli, ctx, "mkdir", l->rel);
            if (!cli->dry_run && remote_task(cli, &dirs, FTPC_T_MKDIR, l->rel) == NULL)
                fatal = true;
            continue;
        }
        /* Upload when missing, of another size, or changed here since it was uploaded (the
         * server's time is that of the upload, as exact as its listing says). */
        if (!ftpc_mirror_put_want(l, r, cli->only_newer, now)) {
            c->skipped++;
            if (differs) {
                plan_line(cli, ctx, "chmod", l->rel);
                if (!cli->dry_run && !chmod_task(cli, &chmods, l->rel, (unsigned)want))
                    fatal = true;
            }
            continue;
        }
        plan_line(cli, ctx, "put", l->rel);
        if (cli->dry_run) {
            c->transferred++;
            continue;
        }
        ftpc_task *t = remote_task(cli, &puts, FTPC_T_PUT, l->rel);
        char path[FTPC_URL_PATH_MAX];
        if (t == NULL || join(path, sizeof(path), root, l->rel) < 0 ||
            ftpc_task_set(&t->local, path) == NULL) {
            fatal = true;
        } else {
            if (l->mtime >= 0) {
                t->keep_mtime = true;
                t->mtime = l->mtime;
            }
            t->size_known = l->size >= 0;
            t->known_size = l->size >= 0 ? (uint64_t)l->size : 0;
            t->target = r != NULL ? FTPC_TARGET_REPLACED : FTPC_TARGET_NEW;
            puts.mode[puts.n - 1] = want;
            t->mode_set_after = want >= 0;
        }
    }
    bool deleting = false; /* delete_remote has something to remove */
    if (cli->mirror_delete && status == FTPC_OK && !fatal && lt.unreadable == 0) {
        for (size_t k = rt.n; k-- > 0;) {
            const ftpc_mentry *r = &rt.v[k];
            if (mtree_find(&lt, r->rel) != NULL)
                continue;
            plan_line(cli, ctx, r->dir ? "rmdir" : "rm", r->rel);
            if (cli->dry_run)
                c->deleted++;
            else
                deleting = true;
        }
    }
    const tasks *writes[] = {&dirs, &puts};
    if (!fatal && !open_remote_parents(cli, &lt, &rt, dir_mode, opened, &opens, writes, 2))
        fatal = true;
    if (fatal)
        status = worse(status, FTPC_EXIT_LOCAL);
    if (!fatal && !halted(c, stop)) {
        /* a refusal is said once (fsops.c); what it keeps out fails and says so */
        (void)run_list(ctx, &opens, 1, stop, c);
        status = worse(status, run_list(ctx, &dirs, 1, stop, c));
        tally_failed_list(c, &dirs);
    }
    if (!fatal && puts.n > 0 && !halted(c, stop)) {
        if (ctx->bars != NULL)
            ftpc_bars_set_files(ctx->bars, (int)puts.n);
        status = worse(status, run_list(ctx, &puts, cli->opts.jobs, stop, c));
        for (size_t i = 0; i < puts.n; i++) {
            const ftpc_task *t = &puts.v[i];
            if (t->finished && t->err.status == FTPC_OK)
                *(t->up_to_date ? &c->skipped : &c->transferred) += 1;
        }
        tally_failed_list(c, &puts);
    }
    /* Deletions only after every upload succeeded. */
    if (deleting && status == FTPC_OK && !fatal && !halted(c, stop))
        status = delete_remote(cli, ctx, stop, &lt, &rt, dir_mode, opened, c);
    if (!fatal && !cli->dry_run && !cli->no_perms && !halted(c, stop))
        set_remote_modes(cli, ctx, stop, c, &lt, dir_mode, &dirs, &puts, &chmods);
    free(dir_mode);
    free(opened);
    tasks_free(&chmods);
    tasks_free(&opens);
    tasks_free(&dirs);
    tasks_free(&puts);
    ftpc_mtree_free(&lt);
    ftpc_mtree_free(&rt);
    return worse(status, unread_status);
}

int ftpc_mirror_run(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop)
{
    counts c = {0};
    int status =
        cli->mirror_reverse ? mirror_put(cli, ctx, stop, &c) : mirror_get(cli, ctx, stop, &c);
    /* A stop between two of the run's phases cut no task short, yet the rest of the run
     * never came; one after the last phase (its QUIT) leaves the work done. Said whenever the
     * run was cut: tasks a stop kept from starting fail silently, and may be all it left. */
    if (c.cut) {
        if (!ctx->said_interrupted)
            ftpc_msg(ctx, "ftpc: mirror: interrupted");
        status = worse(status, FTPC_EXIT_XFER);
    }
    char line[200];
    if (cli->dry_run)
        snprintf(line, sizeof(line),
                 "mirror (dry run): %ld %s would be transferred, %ld skipped, %ld would be "
                 "deleted",
                 c.transferred, c.transferred == 1 ? "file" : "files", c.skipped, c.deleted);
    else
        snprintf(line, sizeof(line), "mirror: %ld %s transferred, %ld skipped, %ld deleted",
                 c.transferred, c.transferred == 1 ? "file" : "files", c.skipped, c.deleted);
    /* Said only when there are any: a clean run's line stays as scripts know it. */
    if (c.failed > 0)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", %ld failed", c.failed);
    if (c.not_started > 0)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", %ld not started",
                 c.not_started);
    if (!cli->opts.quiet || cli->dry_run)
        ftpc_out(ctx, "%s", line);
    return status;
}
