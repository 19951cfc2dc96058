/* The shell's transfer commands (get, reget, mget, put, reput, mput, mirror): each becomes a
 * one-shot command line, with URLs built from the session (its credentials and the remote
 * directory) and local paths made absolute, so a later lcd cannot move a background
 * transfer; the line is then parsed by the one-shot parser and run as a job
 * (shell_jobs.c). The words the user typed pass through as one-shot options, except -b. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "rglob.h"
#include "shell_int.h"

/* An absolute local path for p ("~" is the home directory). Returns 0 or -1 (too long). */
int sh_abs_local(const char *p, char *out, size_t out_size)
{
    int n;
    const char *home = getenv("HOME");
    if (p[0] == '/') {
        n = snprintf(out, out_size, "%s", p);
    } else if (home != NULL && p[0] == '~' && (p[1] == '\0' || p[1] == '/')) {
        n = snprintf(out, out_size, "%s%s", home, p + 1);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return -1;
        if (strcmp(p, ".") == 0)
            n = snprintf(out, out_size, "%s", cwd);
        else /* the root's "/" already ends in a slash: no "//name" in messages */
            n = snprintf(out, out_size, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", p);
    }
    return n > 0 && (size_t)n < out_size ? 0 : -1;
}

static const char *last_part(const char *p)
{
    /* "a/b/" gives "b/": the caller strips slashes first. */
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef struct xargs {
    char **v;
    int n, cap;
    bool oom;
} xargs;

static void xpush(xargs *a, const char *s)
{
    if (a->oom)
        return;
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? a->cap * 2 : 32;
        char **g = realloc(a->v, (size_t)cap * sizeof(*g));
        if (g == NULL) {
            a->oom = true;
            return;
        }
        a->v = g;
        a->cap = cap;
    }
    char *d = strdup(s);
    if (d == NULL) {
        a->oom = true;
        return;
    }
    a->v[a->n++] = d;
    a->v[a->n] = NULL;
}

static void xfree(xargs *a)
{
    for (int i = 0; i < a->n; i++) {
        memset(a->v[i], 0, strlen(a->v[i]));
        free(a->v[i]);
    }
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* A transfer command's words: its options (passed on, local paths made absolute) and its
 * operands. */
typedef struct xcmd {
    xargs opts;
    char **ops;  /* point into argv */
    char **pats; /* their glob forms (sh_split), into sh->word_pats */
    int nops;
    bool background, has_o, has_O, reverse;
} xcmd;

static int split_xfer(shell *sh, int argc, char **argv, xcmd *x)
{
    memset(x, 0, sizeof(*x));
    x->ops = calloc((size_t)argc + 1, sizeof(*x->ops));
    x->pats = calloc((size_t)argc + 1, sizeof(*x->pats));
    if (x->ops == NULL || x->pats == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    char path[PATH_MAX];
    bool only_ops = false;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (only_ops || w[0] != '-' || w[1] == '\0') {
            x->pats[x->nops] = sh->word_pats != NULL ? sh->word_pats[i] : argv[i];
            x->ops[x->nops++] = argv[i];
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_ops = true;
            continue;
        }
        if (w[1] == '-') {
            char name[64];
            const char *eq = strchr(w + 2, '=');
            size_t nl = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
            snprintf(name, sizeof(name), "%.*s", (int)(nl < 63 ? nl : 63), w + 2);
            if (strcmp(name, "background") == 0) {
                x->background = true;
                continue;
            }
            /* As the one-shot parser reads it: "--limit 1M" is --limit-rate and its value. */
            bool needs_value = false;
            const char *full = ftpc_cli_long_option(name, &needs_value);
            if (full != NULL)
                snprintf(name, sizeof(name), "%s", full);
            if (strcmp(name, "reverse") == 0)
                x->reverse = true;
            bool local = strcmp(name, "output") == 0 || strcmp(name, "output-dir") == 0;
            x->has_o |= strcmp(name, "output") == 0;
            x->has_O |= strcmp(name, "output-dir") == 0;
            const char *val = NULL;
            if (eq != NULL) {
                val = eq + 1;
            } else if (needs_value) {
                if (i + 1 >= argc)
                    return sh_fail(sh, FTPC_EXIT_USAGE, "option %s needs a value", w);
                val = argv[++i];
            }
            if (val == NULL) {
                xpush(&x->opts, w);
                continue;
            }
            char opt[80];
            snprintf(opt, sizeof(opt), "--%s", name);
            xpush(&x->opts, opt);
            if (local && strcmp(val, "-") != 0) {
                if (sh_abs_local(val, path, sizeof(path)) < 0)
                    return sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", val);
                val = path;
            }
            xpush(&x->opts, val);
            continue;
        }
        /* A cluster of short options; -b is the shell's, o, O and j take a value. */
        char flags[64] = "-";
        size_t fl = 1;
        for (const char *c = w + 1; *c != '\0'; c++) {
            if (*c == 'b') {
                x->background = true;
                continue;
            }
            if (*c == 'R')
                x->reverse = true;
            if (*c != 'o' && *c != 'O' && *c != 'j') {
                if (fl + 1 < sizeof(flags))
                    flags[fl++] = *c;
                continue;
            }
            const char *val = c[1] != '\0' ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (val == NULL)
                return sh_fail(sh, FTPC_EXIT_USAGE, "option -%c needs a value", *c);
            x->has_o |= *c == 'o';
            x->has_O |= *c == 'O';
            if (*c != 'j' && strcmp(val, "-") != 0) {
                if (sh_abs_local(val, path, sizeof(path)) < 0)
                    return sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", val);
                val = path;
            }
            char opt[3] = {'-', *c, '\0'};
            flags[fl] = '\0';
            if (fl > 1)
                xpush(&x->opts, flags);
            fl = 1;
            xpush(&x->opts, opt);
            xpush(&x->opts, val);
            break;
        }
        flags[fl] = '\0';
        if (fl > 1)
            xpush(&x->opts, flags);
    }
    if (x->opts.oom)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    return 0;
}

static void xcmd_free(xcmd *x)
{
    xfree(&x->opts);
    free(x->ops);
    free(x->pats);
}

/* The start of a one-shot command line: the command line's own options, then the session's
 * mode, then the command and its options. */
static void begin_argv(shell *sh, xargs *a, const char *cmd, const xcmd *x)
{
    xpush(a, "ftpc");
    for (int i = 0; i < sh->ngopts; i++)
        xpush(a, sh->gopts[i]);
    xpush(a, "--no-netrc"); /* the credentials are in the URLs */
    xpush(a, sh->opts.active ? "--active" : "--passive");
    xpush(a, cmd);
    for (int i = 0; i < x->opts.n; i++)
        xpush(a, x->opts.v[i]);
}

static int push_url(shell *sh, xargs *a, const char *path, bool dir)
{
    char url[FTPC_URL_PATH_MAX + 1200];
    if (sh_url(sh, path, dir, url, sizeof(url)) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", path);
    xpush(a, url);
    return 0;
}

static int push_local(shell *sh, xargs *a, const char *p)
{
    char path[PATH_MAX];
    if (sh_abs_local(p, path, sizeof(path)) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", p);
    xpush(a, path);
    return 0;
}

/* An operand of mget: the pattern is in the last part of the path only (rglob.h), where a
 * glob character that was quoted goes with a backslash, which makes it part of the name
 * (the one-shot parser then fetches a name without a bare one as it is). */
static int push_remote_pattern(shell *sh, xargs *a, const char *word, const char *pat)
{
    const char *bn = last_part(word);
    if (!ftpc_glob_magic(bn))
        return push_url(sh, a, word, false);
    char path[FTPC_URL_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%.*s%s", (int)(bn - word), word, last_part(pat));
    if (n < 0 || (size_t)n >= sizeof(path))
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", word);
    return push_url(sh, a, path, false);
}

/* The operands of mput, as sh(1) would pass them: a word with a bare glob character is
 * expanded here (glob(3) on its glob form, where the quoted ones are escaped) and a directory
 * it matches is skipped with a note, since a folder is mirror -R's to upload; any other word
 * is a name, taken as it is (the job runs with --no-glob). A directory named so is said in
 * the same words, before any job, but fails (in *unmatched): the user asked for it, and it
 * does not go, as cp fails for a folder without -r. A pattern that matches nothing fails
 * too; in both cases the other operands still go. Returns 0 or a failure that stops the
 * command; *pushed counts the files added to a. */
static int push_local_patterns(shell *sh, xargs *a, const xcmd *x, int *pushed, int *unmatched)
{
    *pushed = 0;
    for (int i = 0; i < x->nops; i++) {
        if (!ftpc_glob_unescaped_magic(x->pats[i])) {
            char path[PATH_MAX];
            struct stat st;
            if (sh_abs_local(x->ops[i], path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
                S_ISDIR(st.st_mode)) {
                int rc = sh_fail(sh, FTPC_EXIT_LOCAL,
                                 "%s is a directory: mput uploads files only (use mirror -R to "
                                 "upload folders)",
                                 x->ops[i]);
                if (*unmatched == FTPC_OK)
                    *unmatched = rc;
                continue;
            }
            int rc = push_local(sh, a, x->ops[i]);
            if (rc != 0)
                return rc;
            (*pushed)++;
            continue;
        }
        glob_t g;
        memset(&g, 0, sizeof(g));
        int grc = glob(x->pats[i], GLOB_TILDE, NULL, &g);
        if (grc == GLOB_NOSPACE) {
            globfree(&g);
            return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
        }
        if (grc != 0) {
            int rc = sh_fail(sh, FTPC_EXIT_LOCAL, "no local file matches %s", x->ops[i]);
            if (*unmatched == FTPC_OK)
                *unmatched = rc;
            globfree(&g);
            continue;
        }
        int rc = 0;
        for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) {
            const char *p = g.gl_pathv[k];
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                sh_note(sh, "skipping directory %s (use mirror -R to upload folders)", p);
                continue;
            }
            rc = push_local(sh, a, p);
            if (rc == 0)
                (*pushed)++;
        }
        globfree(&g);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Runs the built command line; takes a's strings. */
static int run_argv(shell *sh, xargs *a, bool background)
{
    if (a->oom) {
        xfree(a);
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    }
    char **v = a->v;
    int n = a->n;
    memset(a, 0, sizeof(*a));
    return sh_job_run(sh, v, n, background, sh->cmd_line);
}

int sh_need_site(shell *sh)
{
    if (!sh->open)
        return sh_fail(sh, FTPC_EXIT_USAGE, "not connected (use: open HOST)");
    return 0;
}

int sh_need_login(shell *sh)
{
    int rc = sh_need_site(sh);
    if (rc != 0)
        return rc;
    /* The credentials just refused are not sent again by every command that follows: a
     * script would hammer the server with failed logins (and earn a ban). */
    if (sh->conn == NULL && sh->ep != NULL && sh->ep->login_refused)
        return sh_fail(sh, FTPC_EXIT_LOGIN,
                       "not logged in: the login as %s was refused (use: user NAME)", sh->ep->user);
    return 0;
}

/* The start of every transfer command: logged in, and its options split into x. On
 * failure x is freed (or was never filled). */
static int login_and_split(shell *sh, int argc, char **argv, xcmd *x)
{
    int rc = sh_need_login(sh);
    if (rc != 0) {
        memset(x, 0, sizeof(*x));
        return rc;
    }
    if ((rc = split_xfer(sh, argc, argv, x)) != 0)
        xcmd_free(x);
    return rc;
}

/* The first word after the command that looks like a name more than like options: a single
 * dash and more than one character after it, with a dash among them ("-leading-dash"). */
static const char *dash_word(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != '-' && strlen(argv[i]) > 2 &&
            strchr(argv[i] + 2, '-') != NULL)
            return argv[i];
    return NULL;
}

/* The common start of get and put (and their r- and m- forms): logged in, options split, and
 * the operands' count right (one SOURCE and an optional DEST, or m's SOURCE...). On failure
 * x is freed. */
static int begin_xfer(shell *sh, int argc, char **argv, bool many, const char *verb,
                      const char *source, const char *dest, xcmd *x)
{
    int rc = login_and_split(sh, argc, argv, x);
    if (rc != 0)
        return rc;
    if (x->nops == 0 || (!many && x->nops > 2)) {
        xcmd_free(x);
        /* mget -leading-dash read as options: the file the user meant is named nowhere. */
        const char *dash = x->nops == 0 ? dash_word(argc, argv) : NULL;
        if (dash != NULL)
            return sh_fail(sh, FTPC_EXIT_USAGE,
                           "no file named: %s reads as options; a name starting with '-' goes "
                           "after -- (%s -- %s)",
                           dash, argv[0], dash);
        if (many)
            return sh_fail(sh, FTPC_EXIT_USAGE, "usage: m%s [-b] [OPTIONS] %s...", verb, source);
        return sh_fail(sh, FTPC_EXIT_USAGE,
                       "usage: %s [-b] [OPTIONS] %s [%s] (m%s for several files)", argv[0], source,
                       dest, verb);
    }
    return 0;
}

/* get, reget, mget. */
static int do_get(shell *sh, int argc, char **argv, bool resume, bool many)
{
    xcmd x;
    int rc = begin_xfer(sh, argc, argv, many, "get", "REMOTE", "LOCAL", &x);
    if (rc != 0)
        return rc;
    bool local_given = !many && x.nops == 2;
    if (local_given && (x.has_o || x.has_O)) {
        xcmd_free(&x);
        return sh_fail(sh, FTPC_EXIT_USAGE, "a LOCAL name and -o/-O cannot be combined");
    }
    xargs a = {0};
    begin_argv(sh, &a, "get", &x);
    if (resume)
        xpush(&a, "-c");
    if (!many) /* one named file: patterns are mget's */
        xpush(&a, "--no-glob");
    if (local_given) {
        xpush(&a, "-o");
        rc = push_local(sh, &a, x.ops[1]);
    } else if (!x.has_o && !x.has_O) {
        /* Into the local directory of now, even if lcd moves before the job ends. */
        xpush(&a, "-O");
        rc = push_local(sh, &a, ".");
    }
    xpush(&a, "--");
    int nremote = local_given ? 1 : x.nops;
    for (int i = 0; rc == 0 && i < nremote; i++)
        rc = many ? push_remote_pattern(sh, &a, x.ops[i], x.pats[i])
                  : push_url(sh, &a, x.ops[i], false);
    bool bg = x.background;
    xcmd_free(&x);
    if (rc != 0) {
        xfree(&a);
        return rc;
    }
    return run_argv(sh, &a, bg);
}

/* put, reput, mput. */
static int do_put(shell *sh, int argc, char **argv, bool resume, bool many)
{
    xcmd x;
    int rc = begin_xfer(sh, argc, argv, many, "put", "LOCAL", "REMOTE", &x);
    if (rc != 0)
        return rc;
    xargs a = {0};
    begin_argv(sh, &a, "put", &x);
    if (resume)
        xpush(&a, "-c");
    /* put names one file; mput's patterns are expanded here */
    xpush(&a, "--no-glob");
    xpush(&a, "--");
    bool remote_given = !many && x.nops == 2;
    int unmatched = FTPC_OK; /* a pattern of mput that matched nothing, a folder (said) */
    int pushed = 1;
    if (many)
        rc = push_local_patterns(sh, &a, &x, &pushed, &unmatched);
    else
        rc = push_local(sh, &a, x.ops[0]);
    if (rc == 0 && pushed == 0) { /* nothing to send: only directories, or no match */
        xcmd_free(&x);
        xfree(&a);
        return unmatched;
    }
    if (rc == 0) {
        if (remote_given) {
            size_t l = strlen(x.ops[1]);
            rc = push_url(sh, &a, x.ops[1], l > 0 && x.ops[1][l - 1] == '/');
        } else {
            rc = push_url(sh, &a, "", true); /* into the remote directory */
        }
    }
    bool bg = x.background;
    xcmd_free(&x);
    sh_cache_clear(sh);
    if (rc != 0) {
        xfree(&a);
        return rc;
    }
    rc = run_argv(sh, &a, bg);
    return rc != FTPC_OK ? rc : unmatched;
}

int sh_cmd_get(shell *sh, int argc, char **argv)
{
    return do_get(sh, argc, argv, false, false);
}

int sh_cmd_reget(shell *sh, int argc, char **argv)
{
    return do_get(sh, argc, argv, true, false);
}

int sh_cmd_mget(shell *sh, int argc, char **argv)
{
    return do_get(sh, argc, argv, false, true);
}

int sh_cmd_put(shell *sh, int argc, char **argv)
{
    return do_put(sh, argc, argv, false, false);
}

int sh_cmd_reput(shell *sh, int argc, char **argv)
{
    return do_put(sh, argc, argv, true, false);
}

int sh_cmd_mput(shell *sh, int argc, char **argv)
{
    return do_put(sh, argc, argv, false, true);
}

/* cat: remote files to standard output, as the one-shot cat writes them. In the foreground
 * only: a background job's bytes would land in the middle of the prompt. */
int sh_cmd_cat(shell *sh, int argc, char **argv)
{
    xcmd x;
    int rc = login_and_split(sh, argc, argv, &x);
    if (rc != 0)
        return rc;
    if (x.nops == 0 || x.background) {
        xcmd_free(&x);
        return sh_fail(sh, FTPC_EXIT_USAGE,
                       "usage: cat [OPTIONS] REMOTE... (no -b: it writes "
                       "to the terminal)");
    }
    xargs a = {0};
    begin_argv(sh, &a, "cat", &x);
    xpush(&a, "--no-glob"); /* the names as they are, as get takes them */
    xpush(&a, "--");
    for (int i = 0; rc == 0 && i < x.nops; i++)
        rc = push_url(sh, &a, x.ops[i], false);
    xcmd_free(&x);
    if (rc != 0) {
        xfree(&a);
        return rc;
    }
    return run_argv(sh, &a, false);
}

int sh_cmd_mirror(shell *sh, int argc, char **argv)
{
    xcmd x;
    int rc = login_and_split(sh, argc, argv, &x);
    if (rc != 0)
        return rc;
    if (x.nops > 2 || (x.reverse && x.nops == 0)) {
        xcmd_free(&x);
        return sh_fail(sh, FTPC_EXIT_USAGE,
                       "usage: mirror [-b] [OPTIONS] [REMOTE [LOCAL]] or mirror -R [OPTIONS] "
                       "LOCAL [REMOTE]");
    }
    xargs a = {0};
    begin_argv(sh, &a, "mirror", &x);
    xpush(&a, "--");
    char name[PATH_MAX];
    if (!x.reverse) {
        const char *remote = x.nops > 0 ? x.ops[0] : "";
        /* Into LOCAL, else a directory named as the remote one (here, for the root): the name
         * of what '.' and '..' stand for, or the tree of 'mirror ..' lands in the local
         * parent. */
        char abs[FTPC_URL_PATH_MAX], norm[FTPC_URL_PATH_MAX];
        const char *base = NULL;
        if (sh_resolve(sh, remote, abs, sizeof(abs)) != NULL && abs[0] == '/' &&
            path_resolve("/", abs, norm, sizeof(norm)) == 0)
            base = strcmp(norm, "/") == 0 ? "." : path_basename(norm);
        else if (x.nops > 0 && strcmp(last_part(remote), "..") != 0 &&
                 strcmp(last_part(remote), ".") != 0 && last_part(remote)[0] != '\0')
            base = last_part(remote); /* the remote directory is not known */
        if (x.nops < 2 && base == NULL) {
            xcmd_free(&x);
            xfree(&a);
            return sh_fail(sh, FTPC_EXIT_USAGE, "name the local directory: mirror REMOTE LOCAL");
        }
        snprintf(name, sizeof(name), "%s", x.nops > 1 ? x.ops[1] : base);
        rc = push_url(sh, &a, remote, false);
        if (rc == 0)
            rc = push_local(sh, &a, name);
    } else {
        /* Into REMOTE, else the local tree's name in the remote directory ('..' is the name
         * of the parent, not the remote parent). */
        char abs[PATH_MAX];
        snprintf(name, sizeof(name), "%s", x.ops[0]);
        size_t l = strlen(name);
        while (l > 1 && name[l - 1] == '/')
            name[--l] = '\0';
        rc = push_local(sh, &a, name);
        if (rc == 0 && x.nops > 1) {
            rc = push_url(sh, &a, x.ops[1], false);
        } else if (rc == 0) {
            if (sh_abs_local(name, abs, sizeof(abs)) < 0 ||
                path_resolve("/", abs, name, sizeof(name)) < 0)
                rc = sh_fail(sh, FTPC_EXIT_USAGE, "%s: path too long", x.ops[0]);
            else
                rc = push_url(sh, &a, path_basename(name), false);
        }
        sh_cache_clear(sh);
    }
    bool bg = x.background;
    xcmd_free(&x);
    if (rc != 0) {
        xfree(&a);
        return rc;
    }
    return run_argv(sh, &a, bg);
}
