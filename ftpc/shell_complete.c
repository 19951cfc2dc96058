/* Tab completion: command names for the first word; then, by command and argument position,
 * remote paths (from a listing of the directory being typed, kept until a command changes
 * the remote tree or directory) or local paths. One match is completed (a directory gets its
 * '/', a file a space); several are completed as far as they agree, and listed when they
 * agree no further. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "shell_int.h"

#define LINE_MAX_COMPLETE 4096
#define MAX_WORDS 64

typedef enum { K_NONE, K_COMMAND, K_REMOTE, K_REMOTE_DIRS, K_LOCAL, K_LOCAL_DIRS } kind;

typedef struct cands {
    char **v;
    size_t n, cap;
} cands;

static void cand_add(cands *c, const char *name, bool dir)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        char **g = realloc(c->v, cap * sizeof(*g));
        if (g == NULL)
            return;
        c->v = g;
        c->cap = cap;
    }
    size_t l = strlen(name);
    char *s = malloc(l + 2);
    if (s == NULL)
        return;
    memcpy(s, name, l);
    if (dir)
        s[l++] = '/';
    s[l] = '\0';
    c->v[c->n++] = s;
}

static void cands_free(cands *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the remote listing cache ---- */

void sh_cache_clear(shell *sh)
{
    for (int i = 0; i < SH_DIR_CACHE; i++) {
        if (sh->dirs[i] != NULL) {
            ftpc_mtree_free(&sh->dirs[i]->tree);
            free(sh->dirs[i]);
            sh->dirs[i] = NULL;
        }
    }
}

/* The listing of remote directory dir (as typed, "" for the remote directory), from the
 * cache or the server. NULL when it cannot be listed. */
static const ftpc_mtree *remote_dir(shell *sh, const char *dir)
{
    char key[FTPC_URL_PATH_MAX];
    if (sh_resolve(sh, dir, key, sizeof(key)) == NULL)
        return NULL;
    for (int i = 0; i < SH_DIR_CACHE; i++)
        if (sh->dirs[i] != NULL && strcmp(sh->dirs[i]->path, key) == 0)
            return &sh->dirs[i]->tree;
    if (!sh->open || (sh->conn == NULL && sh->ep != NULL && sh->ep->login_refused))
        return NULL; /* a refused login is tried again by user NAME, not by Tab */
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_LS);
    t.capture = true;
    /* Without MLSD the names come from LIST, whose lines say which are directories: an
     * NLST listing parsed as LIST lines would offer nothing (vsftpd, pure-ftpd). */
    t.long_list = true;
    char path[FTPC_URL_PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    size_t l = strlen(path);
    if (l > 1 && path[l - 1] == '/')
        path[l - 1] = '\0';
    if (ftpc_task_set(&t.remote, path) == NULL || sh_task_display(sh, &t, path) < 0) {
        ftpc_task_release(&t);
        return NULL;
    }
    /* Completion is no command: its failures neither print nor count. */
    int saved = sh->status;
    sh->quiet = true; /* a connection that cannot be opened says nothing into the line */
    int rc = sh_conn_task(sh, &t, true);
    sh->quiet = false;
    sh->status = saved;
    if (rc != FTPC_OK) {
        ftpc_task_release(&t);
        return NULL;
    }
    sh_dir *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        ftpc_task_release(&t);
        return NULL;
    }
    snprintf(d->path, sizeof(d->path), "%s", key);
    ftpc_mirror_parse(t.listing ? t.listing : "", t.listing_len, t.listing_mlsd, time(NULL),
                      &d->tree);
    ftpc_task_release(&t);
    /* Round robin: the oldest slot goes. */
    int slot = 0;
    while (slot < SH_DIR_CACHE && sh->dirs[slot] != NULL)
        slot++;
    if (slot == SH_DIR_CACHE) {
        ftpc_mtree_free(&sh->dirs[0]->tree);
        free(sh->dirs[0]);
        memmove(sh->dirs, sh->dirs + 1, (SH_DIR_CACHE - 1) * sizeof(sh->dirs[0]));
        slot = SH_DIR_CACHE - 1;
    }
    sh->dirs[slot] = d;
    return &d->tree;
}

/* ---- candidates ---- */

static bool wanted(const char *name, const char *base, size_t bl)
{
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    if (name[0] == '.' && base[0] != '.')
        return false; /* hidden unless asked for */
    return strncmp(name, base, bl) == 0;
}

static void remote_cands(shell *sh, const char *dir, const char *base, bool dirs_only, cands *out)
{
    const ftpc_mtree *t = remote_dir(sh, dir);
    if (t == NULL)
        return;
    size_t bl = strlen(base);
    for (size_t i = 0; i < t->n; i++) {
        const ftpc_mentry *e = &t->v[i];
        if ((!dirs_only || e->dir) && wanted(e->rel, base, bl))
            cand_add(out, e->rel, e->dir);
    }
}

static void local_cands(const char *dir, const char *base, bool dirs_only, cands *out)
{
    char path[PATH_MAX];
    const char *home = getenv("HOME");
    if (dir[0] == '~' && dir[1] == '/' && home != NULL)
        snprintf(path, sizeof(path), "%s%s", home, dir + 1);
    else
        snprintf(path, sizeof(path), "%s", dir[0] ? dir : ".");
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    size_t bl = strlen(base);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!wanted(de->d_name, base, bl))
            continue;
        char full[PATH_MAX + 256];
        snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
        struct stat st;
        bool isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        if (!dirs_only || isdir)
            cand_add(out, de->d_name, isdir);
    }
    closedir(d);
}

/* ---- the words before the cursor ---- */

typedef struct words {
    char buf[LINE_MAX_COMPLETE + MAX_WORDS]; /* the words, one after the other */
    char *w[MAX_WORDS];
    int n;
    bool in_word;  /* the last word is being typed (no blank after it) */
    char quote;    /* the quote the last word is open in, or 0 */
    bool overflow; /* more words than kept: the one being typed is not known */
} words;

/* Splits as sh_split does (quotes, backslashes), remembering an open quote. A word is as
 * long as the line allows: cut short, it would have another name completed and the rest of
 * the real one inserted after it. */
static void scan(const char *s, words *ws)
{
    memset(ws, 0, sizeof(*ws));
    char quote = 0;
    size_t o = 0;
    for (; *s != '\0'; s++) {
        char c = *s;
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
                continue;
            }
            if (quote == '"' && c == '\\' && (s[1] == '"' || s[1] == '\\'))
                c = *++s;
        } else if (c == ' ' || c == '\t') {
            ws->in_word = false;
            continue;
        } else {
            if (!ws->in_word) {
                if (ws->n == MAX_WORDS) {
                    ws->overflow = true;
                    return;
                }
                if (ws->n > 0)
                    o++; /* past the last word's NUL */
                ws->w[ws->n++] = ws->buf + o;
                ws->in_word = true;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                continue;
            }
            if (c == '\\' && s[1] != '\0')
                c = *++s;
        }
        if (ws->n == 0)
            continue;
        if (o + 2 >= sizeof(ws->buf)) {
            ws->overflow = true;
            return;
        }
        ws->buf[o++] = c;
        ws->buf[o] = '\0';
    }
    ws->quote = ws->in_word ? quote : 0;
}

/* The index of the first "--" word after the command, or past the words when none. */
static int options_end(const words *ws)
{
    for (int i = 1; i < ws->n; i++)
        if (strcmp(ws->w[i], "--") == 0)
            return i;
    return ws->n;
}

static kind arg_kind(const words *ws, int index)
{
    if (index == 0)
        return K_COMMAND;
    const char *cmd = ws->w[0];
    /* Which operand: words before this one that are no options (after "--" every word is
     * one, as the commands read them: get -- -file). */
    int op = 0;
    bool reverse = false;
    int dd = options_end(ws);
    for (int i = 1; i < ws->n; i++) {
        if (i == dd)
            continue;
        if (i < dd && ws->w[i][0] == '-')
            reverse |= strcmp(ws->w[i], "-R") == 0 || strcmp(ws->w[i], "--reverse") == 0;
        else if (i < index)
            op++;
    }
    if (strcmp(cmd, "help") == 0)
        return op == 0 ? K_COMMAND : K_NONE;
    if (strcmp(cmd, "lcd") == 0)
        return K_LOCAL_DIRS;
    if (strcmp(cmd, "cd") == 0 || strcmp(cmd, "rmdir") == 0)
        return K_REMOTE_DIRS;
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "reget") == 0)
        return op == 0 ? K_REMOTE : K_LOCAL;
    if (strcmp(cmd, "put") == 0 || strcmp(cmd, "reput") == 0)
        return op == 0 ? K_LOCAL : K_REMOTE;
    if (strcmp(cmd, "mput") == 0)
        return K_LOCAL;
    if (strcmp(cmd, "mirror") == 0)
        return (op == 0) != reverse ? K_REMOTE_DIRS : K_LOCAL_DIRS;
    static const char *const remote[] = {"ls",     "dir", "mget",  "rename", "mv",
                                         "delete", "rm",  "mkdir", "cat",    NULL};
    for (int i = 0; remote[i] != NULL; i++)
        if (strcmp(cmd, remote[i]) == 0)
            return K_REMOTE;
    return K_NONE;
}

/* Inserts s as the word being typed reads it: outside quotes with blanks, quotes and
 * backslashes escaped; in double quotes with '"' and '\\' escaped; in single quotes, where
 * nothing escapes, a quote as '\'' (close, a quoted quote, open again). */
static void insert_escaped(EditLine *el, const char *s, size_t n, char quote)
{
    char out[4 * LINE_MAX_COMPLETE + 1];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof(out); i++) {
        if (quote == '\'' && s[i] == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
            continue;
        }
        if (quote == '"' ? strchr("\"\\", s[i]) != NULL
                         : quote == 0 && strchr(" \t\\\"'", s[i]) != NULL)
            out[o++] = '\\';
        out[o++] = s[i];
    }
    out[o] = '\0';
    if (o > 0)
        el_insertstr(el, out);
}

/* Lists the candidates in columns. Remote names come from the server: a control character
 * in one (an escape sequence) would go to the terminal as it is, so each is shown as
 * progress_sanitize shows it, and aligned by the cells it takes. */
static void list_matches(cands *c)
{
    size_t width = 0;
    for (size_t i = 0; i < c->n; i++) {
        progress_sanitize(c->v[i], strlen(c->v[i]) + 1, c->v[i]);
        size_t w = progress_cells(c->v[i]);
        if (w > width)
            width = w;
    }
    width += 2;
    size_t cols = width < 80 ? 80 / width : 1;
    fputs("\n", stdout);
    for (size_t i = 0; i < c->n; i++) {
        bool last = (i + 1) % cols == 0 || i + 1 == c->n;
        fputs(c->v[i], stdout);
        for (size_t pad = last ? 0 : width - progress_cells(c->v[i]); pad > 0; pad--)
            fputc(' ', stdout);
        if (last)
            fputc('\n', stdout);
    }
    fflush(stdout);
}

static unsigned char complete_cb(EditLine *el, int ch)
{
    void *p = NULL;
    el_get(el, EL_CLIENTDATA, &p);
    shell *sh = p;
    const LineInfo *li = el_line(el);
    size_t len = (size_t)(li->cursor - li->buffer);
    if (len >= LINE_MAX_COMPLETE)
        return CC_ERROR;
    char pre[LINE_MAX_COMPLETE];
    memcpy(pre, li->buffer, len);
    pre[len] = '\0';
    words ws;
    scan(pre, &ws);
    int index = ws.in_word ? ws.n - 1 : ws.n;
    const char *cur = ws.in_word ? ws.w[ws.n - 1] : "";
    kind k = arg_kind(&ws, index);
    /* A word starting with '-' is an option, unless it comes after "--". */
    if (ws.overflow || k == K_NONE ||
        (k != K_COMMAND && cur[0] == '-' && index <= options_end(&ws)))
        return CC_ERROR;

    cands c = {0};
    const char *base = cur;
    if (k == K_COMMAND) {
        for (const char *const *n = sh_command_names(); *n != NULL; n++)
            if (strncmp(*n, cur, strlen(cur)) == 0)
                cand_add(&c, *n, false);
    } else {
        const char *slash = strrchr(cur, '/');
        char dir[LINE_MAX_COMPLETE] = "";
        if (slash != NULL) {
            snprintf(dir, sizeof(dir), "%.*s", (int)(slash - cur + 1), cur);
            base = slash + 1;
        }
        if (k == K_REMOTE || k == K_REMOTE_DIRS)
            remote_cands(sh, dir, base, k == K_REMOTE_DIRS, &c);
        else
            local_cands(dir, base, k == K_LOCAL_DIRS, &c);
    }
    if (c.n == 0) {
        cands_free(&c);
        return CC_ERROR;
    }
    qsort(c.v, c.n, sizeof(*c.v), cmp_str);
    /* How far all candidates agree. */
    size_t common = strlen(c.v[0]);
    for (size_t i = 1; i < c.n; i++) {
        size_t j = 0;
        while (j < common && c.v[i][j] == c.v[0][j])
            j++;
        common = j;
    }
    size_t bl = strlen(base);
    unsigned char ret = CC_REFRESH;
    if (c.n == 1) {
        const char *m = c.v[0];
        size_t ml = strlen(m);
        insert_escaped(el, m + bl, ml - bl, ws.quote);
        if (ml == 0 || m[ml - 1] != '/') {
            /* a whole name: its quote closes with it (a directory's stays open for what
             * follows) */
            char end[3] = {ws.quote, ' ', '\0'};
            el_insertstr(el, ws.quote ? end : end + 1);
        }
    } else if (common > bl) {
        insert_escaped(el, c.v[0] + bl, common - bl, ws.quote);
    } else {
        list_matches(&c);
        ret = CC_REDISPLAY;
    }
    cands_free(&c);
    return ret;
}

void sh_complete_init(shell *sh)
{
    /* The wide form: the narrow EL_ADDFN copies the two strings and never frees them. */
    el_wset(sh->el, EL_ADDFN, L"ftpc-complete", L"Complete a command or a path", complete_cb);
    el_set(sh->el, EL_BIND, "^I", "ftpc-complete", NULL);
}
