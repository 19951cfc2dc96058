/* Command-line parsing and the run of one-shot commands. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rglob.h"
#include "netrc.h"
#include "partname.h"
#include "ratelimit.h"
#include "segget.h"
#include "stdsrc.h"
#include "strutil.h"
#include "tls.h"

enum {
    OPT_ACTIVE = 256,
    OPT_PASSIVE,
    OPT_RETRY,
    OPT_RETRY_DELAY,
    OPT_LIMIT_RATE,
    OPT_TIMEOUT,
    OPT_PROGRESS,
    OPT_NETRC_FILE,
    OPT_NO_NETRC,
    OPT_NO_GLOB,
    OPT_ONLY_NEWER,
    OPT_DELETE,
    OPT_DRY_RUN,
    OPT_NO_PERMS,
    OPT_EXCLUDE,
    OPT_INCLUDE,
    OPT_SEGMENTS,
    OPT_TLS,
    OPT_CACERT,
    OPT_PIN,
    OPT_INSECURE,
    OPT_TLS_MAX,
    OPT_VERIFY,
    OPT_NO_VERIFY,
    OPT_CREATE_DIRS,
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"output-dir", required_argument, NULL, 'O'},
    {"continue", no_argument, NULL, 'c'},
    {"force", no_argument, NULL, 'f'},
    {"jobs", required_argument, NULL, 'j'},
    {"long", no_argument, NULL, 'l'},
    {"parents", no_argument, NULL, 'p'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"active", no_argument, NULL, OPT_ACTIVE},
    {"passive", no_argument, NULL, OPT_PASSIVE},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"limit-rate", required_argument, NULL, OPT_LIMIT_RATE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"netrc-file", required_argument, NULL, OPT_NETRC_FILE},
    {"no-netrc", no_argument, NULL, OPT_NO_NETRC},
    {"no-glob", no_argument, NULL, OPT_NO_GLOB},
    {"reverse", no_argument, NULL, 'R'},
    {"only-newer", no_argument, NULL, OPT_ONLY_NEWER},
    {"delete", no_argument, NULL, OPT_DELETE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"no-perms", no_argument, NULL, OPT_NO_PERMS},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"segments", required_argument, NULL, OPT_SEGMENTS},
    {"tls", no_argument, NULL, OPT_TLS},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"pin", required_argument, NULL, OPT_PIN},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"tls-max", required_argument, NULL, OPT_TLS_MAX},
    {"compress", no_argument, NULL, 'z'},
    {"ascii", no_argument, NULL, 'a'},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"create-dirs", no_argument, NULL, OPT_CREATE_DIRS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 3, 4))) static int usage_err(char *err, size_t err_size,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    ftpc_redact_passwords(err); /* messages quote URLs as typed */
    return -1;
}

const char *ftpc_cli_long_option(const char *name, bool *takes_value)
{
    size_t n = strlen(name);
    const struct option *found = NULL;
    for (const struct option *o = long_opts; n > 0 && o->name != NULL; o++) {
        if (strcmp(o->name, name) == 0) {
            found = o;
            break;
        }
        if (strncmp(o->name, name, n) == 0) {
            if (found != NULL)
                return NULL; /* getopt_long: ambiguous */
            found = o;
        }
    }
    if (found == NULL)
        return NULL;
    *takes_value = found->has_arg == required_argument;
    return found->name;
}

/* Appends pat (a pointer into argv) to a --exclude or --include list. */
static int add_pattern(char ***list, size_t *n, char *pat)
{
    char **g = realloc(*list, (*n + 1) * sizeof(*g));
    if (g == NULL)
        return -1;
    *list = g;
    g[(*n)++] = pat;
    return 0;
}

static int parse_seconds(const char *s, long *ms)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0.0) || v > 86400.0 * 365)
        return -1;
    *ms = (long)(v * 1000.0 + 0.5);
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    long v;
    if (str_to_long(s, lo, hi, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static ftpc_task *add_task(ftpc_cli *cli, ftpc_task_kind kind)
{
    ftpc_task *n = realloc(cli->tasks, (cli->ntasks + 1) * sizeof(*n));
    if (n == NULL)
        return NULL;
    cli->tasks = n;
    ftpc_task *t = &n[cli->ntasks];
    ftpc_task_init(t, kind);
    t->index = cli->ntasks++;
    return t;
}

/* Looks host up in the netrc file, and says once a run what is wrong with the file: a quoted
 * token left open (the file is then not used), others able to read its passwords, or a
 * --netrc-file that cannot be read: a mistyped name would otherwise end in an anonymous login
 * refused with no word of the file. A missing ~/.netrc is no news, nor a NETRC naming none
 * (a way to say "no netrc file" that scripts and our tests use). */
static int netrc_lookup(ftpc_cli *cli, const char *file, bool named, const ftpc_url *u,
                        ftpc_netrc_entry *e)
{
    int rc = ftpc_netrc_lookup(file, u->host, u->has_user ? u->user : NULL, e);
    int err = errno;
    struct stat st;
    if (!cli->netrc_warned && rc == -1 && named) {
        fprintf(stderr,
                "ftpc: warning: cannot read the netrc file %s (%s); no credentials from it\n", file,
                strerror(err));
        cli->netrc_warned = true;
    } else if (!cli->netrc_warned && rc == -2) {
        fprintf(stderr,
                "ftpc: %s line %d: a quoted token has no closing quote; the file is not used\n",
                file, e->bad_line);
        cli->netrc_warned = true;
    } else if (!cli->netrc_warned && rc == 1 && e->has_password && stat(file, &st) == 0 &&
               (st.st_mode & 077) != 0) {
        fprintf(stderr, "ftpc: warning: %s holds passwords and others can read it (chmod 600 %s)\n",
                file, file);
        cli->netrc_warned = true;
    }
    return rc;
}

/* The netrc file ftpc reads: --netrc-file, else $NETRC, else ~/.netrc (in path); NULL for
 * none (--no-netrc, or no HOME). */
static const char *netrc_path(const ftpc_cli *cli, char *path, size_t size)
{
    if (cli->no_netrc)
        return NULL;
    if (cli->netrc_file != NULL)
        return cli->netrc_file;
    if (getenv("NETRC") != NULL)
        return getenv("NETRC");
    if (getenv("HOME") == NULL)
        return NULL;
    snprintf(path, size, "%s/.netrc", getenv("HOME"));
    return path;
}

/* Completes the credentials of u: a password the URL lacks (or user and password, when it
 * names no user) from the netrc file; a user still without password is asked for one on the
 * terminal, once per host and user. Without any of that the login is anonymous. */
static void fill_credentials(ftpc_cli *cli, ftpc_url *u)
{
    if (u->has_user && u->has_pass)
        return;
    if (!cli->no_netrc) {
        char path[4096];
        const char *file = netrc_path(cli, path, sizeof(path));
        bool named = cli->netrc_file != NULL;
        ftpc_netrc_entry e;
        if (file != NULL && netrc_lookup(cli, file, named, u, &e) == 1 &&
            (e.has_login || u->has_user)) {
            if (!u->has_user) {
                snprintf(u->user, sizeof(u->user), "%s", e.login);
                u->has_user = true;
            }
            if (e.has_password) {
                snprintf(u->pass, sizeof(u->pass), "%s", e.password);
                u->has_pass = true;
            }
            memset(&e, 0, sizeof(e));
        }
    }
    if (!u->has_user || u->has_pass)
        return;
    /* Asked already for this host and user? */
    for (ftpc_endpoint *ep = cli->endpoints; ep != NULL; ep = ep->next) {
        if (ep->port == u->port && strcmp(ep->host, u->host) == 0 &&
            strcmp(ep->user, u->user) == 0 && !ep->login_refused) {
            snprintf(u->pass, sizeof(u->pass), "%s", ep->pass);
            u->has_pass = true;
            return;
        }
    }
    char prompt[600];
    snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", u->user, u->host);
    if (ftpc_prompt_password(prompt, u->pass, sizeof(u->pass)) == 0)
        u->has_pass = true;
}

/* Parses url into u and binds the task to its endpoint. */
static int task_url(ftpc_cli *cli, ftpc_task *t, const char *s, ftpc_url *u, char *err,
                    size_t err_size)
{
    char why[128];
    if (ftpc_url_parse(s, u, why, sizeof(why)) < 0)
        return usage_err(err, err_size, "%s: %s", s, why);
    fill_credentials(cli, u);
    t->ep = ftpc_endpoint_get(&cli->endpoints, u);
    if (t->ep == NULL)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set_display_url(t, u) < 0)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set(&t->remote, u->path) == NULL)
        return usage_err(err, err_size, "out of memory");
    t->url_type = u->type == 'a' || u->type == 'i' ? u->type : 0;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* A file to put into a directory, and where it came in the command. */
typedef struct put_name {
    const char *path;
    size_t at;
} put_name;

/* By the name it gets there, then by path, then by place: one file named twice is adjacent,
 * its first mention first. */
static int cmp_put_name(const void *a, const void *b)
{
    const put_name *x = a, *y = b;
    int c = strcmp(base_name(x->path), base_name(y->path));
    if (c == 0)
        c = strcmp(x->path, y->path);
    if (c == 0)
        c = x->at < y->at ? -1 : x->at > y->at;
    return c;
}

/* Files uploaded into one directory each under their own name: two of one name would have
 * the second replace the first there, which cp refuses too. One file named twice (a pattern
 * and its name) is uploaded once, as cp copies it once: its later mentions are marked in
 * skip. */
static int check_put_names(char **files, size_t n, bool *skip, char *err, size_t err_size)
{
    if (n < 2)
        return 0;
    put_name *v = malloc(n * sizeof(*v));
    if (v == NULL)
        return usage_err(err, err_size, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = (put_name){files[i], i};
    qsort(v, n, sizeof(*v), cmp_put_name);
    int rc = 0;
    for (size_t i = 1; rc == 0 && i < n; i++) {
        const char *bn = base_name(v[i].path);
        if (bn[0] == '\0' || strcmp(base_name(v[i - 1].path), bn) != 0)
            continue;
        if (strcmp(v[i - 1].path, v[i].path) == 0)
            skip[v[i].at] = true;
        else
            rc = usage_err(err, err_size,
                           "%s and %s would both be uploaded as %s, the second replacing the "
                           "first; upload one under another name (put FILE URL/NAME)",
                           v[i - 1].path, v[i].path, bn);
    }
    free(v);
    return rc;
}

static void strip_trailing_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
}

int ftpc_cli_get_target(const ftpc_cli *cli, ftpc_task *t, const char *name, bool to_stdout)
{
    if (to_stdout)
        return ftpc_task_set(&t->local, "-") != NULL ? 0 : -3;
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -1;
    char local[FTPC_URL_PATH_MAX];
    int n;
    if (cli->output) {
        struct stat st;
        if (stat(cli->output, &st) == 0 && S_ISDIR(st.st_mode))
            n = snprintf(local, sizeof(local), "%s/%s", cli->output, name);
        else
            n = snprintf(local, sizeof(local), "%s", cli->output);
    } else if (cli->output_dir) {
        size_t dl = strlen(cli->output_dir);
        bool slash = dl > 0 && cli->output_dir[dl - 1] == '/';
        n = snprintf(local, sizeof(local), "%s%s%s", cli->output_dir, slash ? "" : "/", name);
    } else {
        n = snprintf(local, sizeof(local), "%s", name);
    }
    if (n <= 0 || (size_t)n >= sizeof(local))
        return -1;
    if (ftpc_task_set(&t->local, local) == NULL)
        return -3;
    const char *slash = strrchr(t->local, '/');
    const char *base = slash ? slash + 1 : t->local;
    return ftpc_part_like(base, strlen(base)) ? -2 : 0;
}

/* A URL whose last component is a pattern: expanded by listing its directory when the run
 * starts (run.c), into tasks at this position. */
static int add_glob(ftpc_cli *cli, ftpc_task_kind kind, const ftpc_url *u, const char *arg,
                    char *err, size_t err_size)
{
    ftpc_glob_req *n = realloc(cli->globs, (cli->nglobs + 1) * sizeof(*n));
    if (n == NULL)
        return usage_err(err, err_size, "out of memory");
    cli->globs = n;
    ftpc_glob_req *g = &n[cli->nglobs++];
    memset(g, 0, sizeof(*g));
    g->at = cli->ntasks;
    g->kind = kind;
    g->url = *u;
    const char *bn = ftpc_url_basename(u);
    snprintf(g->pattern, sizeof(g->pattern), "%s", bn);
    size_t dl = (size_t)(bn - u->path);
    memcpy(g->dir, u->path, dl);
    g->dir[dl] = '\0';
    (void)arg;
    g->ep = ftpc_endpoint_get(&cli->endpoints, u);
    if (g->ep == NULL)
        return usage_err(err, err_size, "out of memory");
    return 0;
}

static int build_get(ftpc_cli *cli, ftpc_task_kind kind, char **args, int nargs, char *err,
                     size_t err_size)
{
    if (nargs < 1)
        return usage_err(err, err_size, "%s needs at least one URL", cli->command);
    bool to_stdout = kind == FTPC_T_CAT || (cli->output && strcmp(cli->output, "-") == 0);
    /* -o DIR/ names a directory, as a URL ending in / does: the files go into it, made when
     * missing, as with -O DIR. */
    size_t olen = cli->output && !to_stdout ? strlen(cli->output) : 0;
    if (olen > 0 && cli->output[olen - 1] == '/' && cli->output_dir == NULL) {
        cli->output_dir = cli->output;
        cli->output = NULL;
    }
    if (cli->output && !to_stdout && nargs > 1)
        return usage_err(err, err_size, "-o FILE takes a single URL (use -O DIR for several)");
    if (cli->output && cli->output_dir)
        return usage_err(err, err_size, "-o and -O cannot be combined");
    cli->to_stdout = to_stdout;
    for (int i = 0; i < nargs; i++) {
        ftpc_url u;
        char why[128];
        if (ftpc_url_parse(args[i], &u, why, sizeof(why)) < 0)
            return usage_err(err, err_size, "%s: %s", args[i], why);
        const char *bn = ftpc_url_basename(&u);
        if (bn[0] == '\0' || u.dir_slash)
            return usage_err(err, err_size, "%s names a directory, not a file", args[i]);
        /* A glob character a backslash escapes is part of the name, as fnmatch reads it; a
         * name with no other is fetched as it is, without a listing (the shell's mget
         * passes its quoted glob characters so). */
        bool escaped = !cli->no_glob && ftpc_glob_magic(bn);
        if (escaped && ftpc_glob_unescaped_magic(bn)) {
            fill_credentials(cli, &u);
            if (add_glob(cli, kind, &u, args[i], err, err_size) < 0)
                return -1;
            continue;
        }
        ftpc_task *t = add_task(cli, kind);
        if (t == NULL)
            return usage_err(err, err_size, "out of memory");
        if (task_url(cli, t, args[i], &u, err, err_size) < 0)
            return -1;
        bn = ftpc_url_basename(&u);
        if (escaped) {
            ftpc_glob_unescape(u.path + (bn - u.path));
            if (ftpc_task_set_display_url(t, &u) < 0)
                return usage_err(err, err_size, "out of memory");
            if (ftpc_task_set(&t->remote, u.path) == NULL)
                return usage_err(err, err_size, "out of memory");
        }
        int target = ftpc_cli_get_target(cli, t, bn, to_stdout);
        if (target == -3)
            return usage_err(err, err_size, "out of memory");
        if (target == -2)
            return usage_err(err, err_size,
                             "%s: %s has the form of ftpc's part files; name "
                             "the download otherwise with -o",
                             args[i], t->local);
        if (target < 0)
            return usage_err(err, err_size, "%s has no usable file name", args[i]);
        if (kind == FTPC_T_GET && !to_stdout)
            cli->nfiles++;
    }
    if (to_stdout)
        cli->opts.jobs = 1; /* output in command-line order */
    return 0;
}

/* A pipe or a device named as a file (put <(tar c dir) URL, a named FIFO, /dev/stdin), or a
 * file whose size only reading tells (/proc/cpuinfo), is read once, in order, as standard
 * input is, and so refuses what standard input refuses. */
static int add_put_stream(ftpc_cli *cli, ftpc_task *t, bool into_dir, const char *file,
                          bool kernel_file, char *err, size_t err_size)
{
    const char *what =
        kernel_file ? "a file that has no size until it is read" : "a pipe or device";
    if (into_dir && ftpc_path_is_fd_name(file))
        return usage_err(err, err_size,
                         "put: %s is a pipe with no name of its own, so the URL must name the "
                         "remote file (e.g. ftp://host/dir/backup.tar)",
                         file);
    if (cli->opts.resume)
        return usage_err(err, err_size,
                         "put: -c cannot resume %s, %s (the bytes sent before are not there "
                         "to compare or skip); upload it whole without -c",
                         file, what);
    if (cli->opts.segments > 1 && !kernel_file) /* such a file is small: one connection */
        return usage_err(err, err_size,
                         "put: --segments needs a file to read at several offsets; %s, %s, is "
                         "read once, in order, on one connection",
                         file, what);
    t->stream_src = true;
    return 0;
}

static int add_put(ftpc_cli *cli, const ftpc_url *u, bool into_dir, const char *file, char *err,
                   size_t err_size)
{
    ftpc_task *t = add_task(cli, FTPC_T_PUT);
    if (t == NULL)
        return usage_err(err, err_size, "out of memory");
    ftpc_url fu = *u;
    const char *bn = base_name(file);
    struct stat st;
    if (strcmp(file, "-") != 0 && stat(file, &st) == 0 && !S_ISDIR(st.st_mode)) {
        bool kernel_file = S_ISREG(st.st_mode) && ftpc_stdsrc_sizeless(file);
        if ((!S_ISREG(st.st_mode) || kernel_file) &&
            add_put_stream(cli, t, into_dir, file, kernel_file, err, err_size) < 0)
            return -1;
    }
    if (into_dir) {
        if (bn[0] == '\0')
            return usage_err(err, err_size, "%s has no file name", file);
        if (strpbrk(bn, "\r\n") != NULL) {
            /* A command line ends at the first of them: the name cannot reach the server. */
            char shown[256];
            size_t i = 0;
            for (; bn[i] != '\0' && i + 1 < sizeof(shown); i++)
                shown[i] = bn[i] == '\r' || bn[i] == '\n' ? '?' : bn[i];
            shown[i] = '\0';
            return usage_err(err, err_size,
                             "'%s': a line break in a file name cannot be sent over FTP; "
                             "upload it under another name (put FILE URL/NAME)",
                             shown);
        }
        size_t pl = strlen(fu.path);
        int n = snprintf(fu.path + pl, sizeof(fu.path) - pl, "%s%s",
                         pl > 0 && fu.path[pl - 1] != '/' ? "/" : "", bn);
        if (n < 0 || (size_t)n >= sizeof(fu.path) - pl)
            return usage_err(err, err_size, "remote path too long");
        t->named_in_dir = true;
    }
    t->ep = ftpc_endpoint_get(&cli->endpoints, &fu);
    if (t->ep == NULL)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set_display_url(t, &fu) < 0)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set(&t->remote, fu.path) == NULL)
        return usage_err(err, err_size, "out of memory");
    t->url_type = fu.type == 'a' || fu.type == 'i' ? fu.type : 0;
    if (strlen(file) >= FTPC_URL_PATH_MAX)
        return usage_err(err, err_size, "local file name too long");
    if (ftpc_task_set(&t->local, file) == NULL)
        return usage_err(err, err_size, "out of memory");
    int64_t left = strcmp(file, "-") == 0 ? ftpc_stdsrc_left(STDIN_FILENO) : -1;
    if (left >= 0) {
        t->size_known = true; /* a regular file redirected: ftpc put - URL < file */
        t->known_size = (uint64_t)left;
    } else if (strcmp(file, "-") != 0 && !t->stream_src && stat(file, &st) == 0 &&
               S_ISREG(st.st_mode)) {
        t->size_known = true;
        t->known_size = (uint64_t)st.st_size;
    }
    cli->nfiles++;
    return 0;
}

/* put --create-dirs: the target's directory is made as mkdir -p makes it, before the
 * uploads: a gate task (task.h), so once whatever -j is. The login directory and "/" are
 * there already. */
static int add_create_dirs(ftpc_cli *cli, const ftpc_url *u, bool into_dir, char *err,
                           size_t err_size)
{
    if (!cli->create_dirs)
        return 0;
    ftpc_url du = *u;
    size_t n = strlen(du.path);
    if (!into_dir) {
        const char *slash = strrchr(du.path, '/');
        n = slash != NULL ? (size_t)(slash - du.path) : 0;
    }
    while (n > 0 && du.path[n - 1] == '/')
        n--;
    if (n == 0)
        return 0;
    du.path[n] = '\0';
    ftpc_task *t = add_task(cli, FTPC_T_MKDIR);
    if (t == NULL)
        return usage_err(err, err_size, "out of memory");
    t->ep = ftpc_endpoint_get(&cli->endpoints, &du);
    if (t->ep == NULL)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set_display_url(t, &du) < 0)
        return usage_err(err, err_size, "out of memory");
    if (ftpc_task_set(&t->remote, du.path) == NULL)
        return usage_err(err, err_size, "out of memory");
    t->parents = true;
    t->gate = true;
    return 0;
}

/* put - URL: standard input, read once to its end, is the one upload (a file named "-" is
 * "./-"). What needs the source twice or at an offset cannot work on it, and says so rather
 * than send something else than asked. */
static int build_put_stdin(ftpc_cli *cli, ftpc_url *u, int nfiles, const char *target, char *err,
                           size_t err_size)
{
    if (nfiles > 1)
        return usage_err(err, err_size,
                         "put: '-' (standard input) is an upload of its own: put - URL, with no "
                         "other files (a file named - is ./-)");
    if (u->dir_slash || ftpc_url_basename(u)[0] == '\0')
        return usage_err(err, err_size,
                         "put -: %s names a directory; standard input has no name, so the URL "
                         "must name the remote file (e.g. %sbackup.tar)",
                         target, u->dir_slash ? target : "ftp://host/dir/");
    if (cli->opts.resume)
        return usage_err(err, err_size,
                         "put -: -c cannot resume standard input (the bytes sent before are "
                         "not there to compare or skip); upload it whole without -c");
    if (cli->opts.segments > 1)
        return usage_err(err, err_size,
                         "put -: --segments needs a file to read at several offsets; standard "
                         "input is read once, in order, on one connection");
    /* Checked now: once the run opens its sockets, a closed fd 0 would be one of them. */
    if (fcntl(STDIN_FILENO, F_GETFD) < 0)
        return usage_err(err, err_size, "put -: standard input is closed");
    fill_credentials(cli, u);
    if (add_create_dirs(cli, u, false, err, err_size) < 0)
        return -1;
    return add_put(cli, u, false, "-", err, err_size);
}

static int build_put(ftpc_cli *cli, char **args, int nargs, char *err, size_t err_size)
{
    if (nargs < 2)
        return usage_err(err, err_size, "put needs FILE... URL (or - URL for standard input)");
    ftpc_url u;
    char why[128];
    const char *target = args[nargs - 1];
    if (ftpc_url_parse(target, &u, why, sizeof(why)) < 0)
        return usage_err(err, err_size, "%s: %s", target, why);
    for (int i = 0; i < nargs - 1; i++) {
        if (strcmp(args[i], "-") == 0)
            return build_put_stdin(cli, &u, nargs - 1, target, err, err_size);
    }
    fill_credentials(cli, &u);
    /* Local patterns are expanded here too (for names no shell expanded: quoted, or from a
     * script); an argument that names an existing file, or matches nothing, is taken as it
     * is (a missing file then fails to open: exit 6). */
    char **files = NULL;
    size_t nfiles = 0;
    bool *unmatched = NULL; /* by file: a pattern that matched nothing, taken as a name */
    int rc = 0;
    for (int i = 0; rc == 0 && i < nargs - 1; i++) {
        struct stat st;
        glob_t g;
        memset(&g, 0, sizeof(g));
        bool pattern = !cli->no_glob && ftpc_glob_magic(args[i]) && lstat(args[i], &st) < 0;
        int grc = pattern ? glob(args[i], 0, NULL, &g) : GLOB_NOMATCH;
        bool expand = grc == 0;
        size_t add = expand ? g.gl_pathc : 1;
        char **grown = realloc(files, (nfiles + add) * sizeof(*grown));
        if (grown != NULL)
            files = grown;
        bool *marks = grown != NULL ? realloc(unmatched, (nfiles + add) * sizeof(*marks)) : NULL;
        if (marks == NULL) {
            rc = usage_err(err, err_size, "out of memory");
        } else {
            unmatched = marks;
            for (size_t k = 0; k < add; k++) {
                char *dup = strdup(expand ? g.gl_pathv[k] : args[i]);
                if (dup == NULL) {
                    rc = usage_err(err, err_size, "out of memory");
                    break;
                }
                unmatched[nfiles] = pattern && grc == GLOB_NOMATCH;
                files[nfiles++] = dup;
            }
        }
        if (expand)
            globfree(&g);
    }
    bool into_dir = nfiles > 1 || u.dir_slash;
    bool *skip = rc == 0 ? calloc(nfiles > 0 ? nfiles : 1, sizeof(*skip)) : NULL;
    if (rc == 0 && skip == NULL)
        rc = usage_err(err, err_size, "out of memory");
    if (rc == 0 && into_dir)
        rc = check_put_names(files, nfiles, skip, err, err_size);
    if (rc == 0)
        rc = add_create_dirs(cli, &u, into_dir, err, err_size);
    for (size_t i = 0; rc == 0 && i < nfiles; i++) {
        if (skip[i])
            continue;
        rc = add_put(cli, &u, into_dir, files[i], err, err_size);
        if (rc == 0 && unmatched[i])
            cli->tasks[cli->ntasks - 1].unmatched_pattern = true;
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(unmatched);
    free(skip);
    return rc;
}

static int build_simple(ftpc_cli *cli, ftpc_task_kind kind, char **args, int nargs, int min,
                        int max, char *err, size_t err_size)
{
    if (nargs < min || (max > 0 && nargs > max))
        return usage_err(err, err_size, "%s: wrong number of arguments", cli->command);
    for (int i = 0; i < nargs; i++) {
        ftpc_task *t = add_task(cli, kind);
        ftpc_url u;
        if (t == NULL)
            return usage_err(err, err_size, "out of memory");
        if (task_url(cli, t, args[i], &u, err, err_size) < 0)
            return -1;
        t->long_list = cli->long_list;
        t->parents = cli->parents;
        if (kind != FTPC_T_LS) {
            ftpc_task_strip_slashes(&t->remote);
            if (t->remote[0] == '\0' || strcmp(t->remote, "/") == 0)
                return usage_err(err, err_size, "%s: %s needs a path", cli->command, args[i]);
        }
    }
    if (kind == FTPC_T_LS)
        cli->opts.jobs = 1;
    return 0;
}

static int build_mv(ftpc_cli *cli, char **args, int nargs, char *err, size_t err_size)
{
    if (nargs != 2)
        return usage_err(err, err_size, "mv needs URL NEWNAME");
    ftpc_task *t = add_task(cli, FTPC_T_MV);
    ftpc_url u;
    if (t == NULL)
        return usage_err(err, err_size, "out of memory");
    if (task_url(cli, t, args[0], &u, err, err_size) < 0)
        return -1;
    ftpc_task_strip_slashes(&t->remote);
    if (t->remote[0] == '\0')
        return usage_err(err, err_size, "mv: %s needs a path", args[0]);
    const char *newname = args[1];
    char decoded[FTPC_URL_PATH_MAX], arg[FTPC_URL_PATH_MAX];
    if (ftpc_url_is_url(newname)) {
        ftpc_url nu;
        char why[128];
        if (ftpc_url_parse(newname, &nu, why, sizeof(why)) < 0)
            return usage_err(err, err_size, "%s: %s", newname, why);
        snprintf(arg, sizeof(arg), "%s", nu.path);
    } else {
        /* A plain name is taken literally (no %-decoding), but must still be one line. */
        if (strpbrk(newname, "\r\n") != NULL || newname[0] == '\0')
            return usage_err(err, err_size, "mv: bad new name");
        snprintf(decoded, sizeof(decoded), "%s", newname);
        const char *slash = strrchr(t->remote, '/');
        if (decoded[0] == '/' || slash == NULL) {
            snprintf(arg, sizeof(arg), "%s", decoded);
        } else {
            int n =
                snprintf(arg, sizeof(arg), "%.*s/%s", (int)(slash - t->remote), t->remote, decoded);
            if (n < 0 || (size_t)n >= sizeof(arg))
                return usage_err(err, err_size, "mv: new name too long");
        }
    }
    strip_trailing_slashes(arg);
    if (arg[0] == '\0')
        return usage_err(err, err_size, "mv: bad new name");
    if (ftpc_task_set(&t->arg, arg) == NULL)
        return usage_err(err, err_size, "out of memory");
    return 0;
}

static int build_mirror(ftpc_cli *cli, char **args, int nargs, char *err, size_t err_size)
{
    if (nargs != 2)
        return usage_err(err, err_size,
                         cli->mirror_reverse ? "mirror -R needs DIR URL" : "mirror needs URL DIR");
    const char *url = args[cli->mirror_reverse ? 1 : 0];
    const char *dir = args[cli->mirror_reverse ? 0 : 1];
    ftpc_url *u = &cli->mirror_url;
    char why[128];
    if (ftpc_url_parse(url, u, why, sizeof(why)) < 0)
        return usage_err(err, err_size, "%s: %s", url, why);
    if (dir[0] == '\0')
        return usage_err(err, err_size, "mirror: empty directory name");
    if (strlen(dir) > FTPC_URL_PATH_MAX / 2 || strlen(u->path) > FTPC_URL_PATH_MAX / 2)
        return usage_err(err, err_size, "mirror: path too long");
    fill_credentials(cli, u);
    cli->mirror_ep = ftpc_endpoint_get(&cli->endpoints, u);
    if (cli->mirror_ep == NULL)
        return usage_err(err, err_size, "out of memory");
    cli->mirror = true;
    cli->mirror_dir = dir;
    return 0;
}

/* An argument that getopt took for short options, holding opt, which is the name of a local
 * file (the first such), or NULL. */
static const char *file_like_option(int argc, char **argv, int opt)
{
    struct stat st;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[0] == '-' && a[1] != '\0' && a[1] != '-' && strchr(a + 1, opt) != NULL &&
            lstat(a, &st) == 0)
            return a;
    }
    return NULL;
}

static int parse_command_line(int argc, char **argv, ftpc_cli *cli, char *err, size_t err_size)
{
    memset(cli, 0, sizeof(*cli));
    ftpc_opts_defaults(&cli->opts);
    ftpc_opts *o = &cli->opts;
    if (argc >= 2 && strcmp(argv[1], "stress") == 0) {
        /* stress has options of its own (stress_opts.c); ftpc_cli_run hands them over. */
        cli->command = argv[1];
        cli->stress_argc = argc - 1;
        cli->stress_argv = argv + 1;
        return 0;
    }
    /* 0, not 1: glibc then resets all its state (the shell parses many command lines, and
     * a cluster like -R left half-read would point into a freed argv). */
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:O:cfj:lpqvhVRza", long_opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            cli->output = optarg;
            break;
        case 'O':
            cli->output_dir = optarg;
            break;
        case 'c':
            o->resume = true;
            break;
        case 'f':
            o->force = true;
            break;
        case 'j':
            if (parse_int(optarg, 1, 64, &o->jobs) < 0)
                return usage_err(err, err_size, "-j needs a number from 1 to 64");
            break;
        case 'l':
            cli->long_list = 1;
            break;
        case 'p':
            cli->parents = 1;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'h':
            cli->show_help = 1;
            break;
        case 'V':
            cli->show_version = 1;
            break;
        case OPT_ACTIVE:
            o->active = true;
            break;
        case OPT_PASSIVE:
            o->active = false;
            break;
        case OPT_RETRY:
            if (parse_int(optarg, 0, 1000, &o->retries) < 0)
                return usage_err(err, err_size, "--retry needs a number from 0 to 1000");
            break;
        case OPT_RETRY_DELAY:
            if (parse_seconds(optarg, &o->retry_delay_ms) < 0)
                return usage_err(err, err_size, "--retry-delay needs seconds");
            break;
        case OPT_LIMIT_RATE:
            if (ftpc_parse_rate(optarg, &o->limit_rate) < 0)
                return usage_err(err, err_size, "--limit-rate: bad rate '%s' (e.g. 500k, 2M)",
                                 optarg);
            break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &o->timeout_ms) < 0 || o->timeout_ms < 100)
                return usage_err(err, err_size, "--timeout needs seconds (at least 0.1)");
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0)
                o->progress = FTPC_PROGRESS_AUTO;
            else if (strcmp(optarg, "bar") == 0)
                o->progress = FTPC_PROGRESS_BAR;
            else if (strcmp(optarg, "plain") == 0)
                o->progress = FTPC_PROGRESS_PLAIN;
            else if (strcmp(optarg, "none") == 0)
                o->progress = FTPC_PROGRESS_NONE;
            else
                return usage_err(err, err_size, "--progress: auto, bar, plain or none");
            break;
        case OPT_NETRC_FILE:
            cli->netrc_file = optarg;
            break;
        case OPT_NO_NETRC:
            cli->no_netrc = 1;
            break;
        case OPT_NO_GLOB:
            cli->no_glob = 1;
            break;
        case 'R':
            cli->mirror_reverse = true;
            break;
        case OPT_ONLY_NEWER:
            cli->only_newer = true;
            break;
        case OPT_DELETE:
            cli->mirror_delete = true;
            break;
        case OPT_DRY_RUN:
            cli->dry_run = true;
            break;
        case OPT_NO_PERMS:
            cli->no_perms = true;
            break;
        case OPT_TLS:
            o->tls = true;
            break;
        case OPT_CACERT:
            if (access(optarg, R_OK) != 0)
                return usage_err(err, err_size, "--cacert: cannot read %s: %s", optarg,
                                 strerror(errno));
            o->cacert = optarg;
            break;
        case OPT_PIN: {
            unsigned char pins[FTPC_PIN_MAX][FTPC_PIN_LEN];
            char why[200];
            if (ftpc_tls_parse_pins(optarg, pins, FTPC_PIN_MAX, why, sizeof(why)) < 0)
                return usage_err(err, err_size, "%s", why);
            o->pin = optarg;
            break;
        }
        case OPT_INSECURE:
            o->insecure = true;
            break;
        case OPT_TLS_MAX:
            if (strcmp(optarg, "1.2") == 0)
                o->tls_max = 12;
            else if (strcmp(optarg, "1.3") == 0)
                o->tls_max = 13;
            else
                return usage_err(err, err_size, "--tls-max: 1.2 or 1.3");
            break;
        case 'z':
            o->compress = true;
            break;
        case 'a':
            o->ascii = true;
            break;
        case OPT_SEGMENTS:
            if (parse_int(optarg, 1, FTPC_SEGMENTS_MAX, &o->segments) < 0)
                return usage_err(err, err_size, "--segments needs a number from 1 to %d",
                                 FTPC_SEGMENTS_MAX);
            break;
        case OPT_VERIFY:
            o->verify = true;
            break;
        case OPT_NO_VERIFY:
            o->verify = false;
            break;
        case OPT_CREATE_DIRS:
            cli->create_dirs = true;
            break;
        case OPT_EXCLUDE:
            if (add_pattern(&cli->excludes, &cli->nexcludes, optarg) < 0)
                return usage_err(err, err_size, "out of memory");
            break;
        case OPT_INCLUDE:
            if (add_pattern(&cli->includes, &cli->nincludes, optarg) < 0)
                return usage_err(err, err_size, "out of memory");
            break;
        case ':':
            return usage_err(err, err_size, "option %s needs an argument", argv[optind - 1]);
        default:
            if (optopt == 'r') /* as in cp -r, scp -r: the recursive copy is mirror */
                return usage_err(err, err_size,
                                 "unknown option -r (directory trees are copied with mirror: "
                                 "'mirror URL DIR' downloads one, 'mirror -R DIR URL' uploads "
                                 "one)");
            if (optopt != 0) {
                /* A file named -dash, given by a shell's * say, reads as options -d -a ...:
                 * name it, as rm does. */
                const char *file = file_like_option(argc, argv, optopt);
                if (file != NULL)
                    return usage_err(err, err_size,
                                     "unknown option -%c (from %s; to name the file %s, write "
                                     "./%s, or -- before the files)",
                                     optopt, file, file, file);
                return usage_err(err, err_size, "unknown option -%c", optopt);
            }
            const char *near = str_nearest_option(argv[optind - 1], long_opts);
            if (near != NULL)
                return usage_err(err, err_size, "unknown option %s (did you mean --%s?)",
                                 argv[optind - 1], near);
            return usage_err(err, err_size, "unknown option %s", argv[optind - 1]);
        }
    }
    char home_netrc[4096];
    const char *netrc = netrc_path(cli, home_netrc, sizeof(home_netrc));
    o->netrc_shown = netrc == home_netrc ? "~/.netrc" : netrc; /* for the login hint */
    if (cli->show_help || cli->show_version) {
        if (optind < argc)
            cli->command = argv[optind]; /* ftpc get --help */
        return 0;
    }
    if (optind >= argc || (optind + 1 == argc && ftpc_url_is_url(argv[optind]))) {
        /* No command, or a URL alone: the interactive shell. */
        cli->shell = true;
        cli->shell_url = optind < argc ? argv[optind] : NULL;
        cli->shell_opts = argv + 1;
        cli->shell_nopts = optind - 1;
        return 0;
    }
    cli->command = argv[optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    const char *cmd = cli->command;
    bool is_get = strcmp(cmd, "get") == 0;
    if ((cli->output || cli->output_dir) && !is_get)
        return usage_err(err, err_size, "-o and -O are for get");
    if (cli->output && cli->output[0] == '\0')
        return usage_err(err, err_size, "-o needs a file name (or - for standard output)");
    if (cli->output_dir && cli->output_dir[0] == '\0')
        return usage_err(err, err_size, "-O needs a directory name");
    if (o->force && !is_get)
        return usage_err(err, err_size,
                         "-f is for get (mirror replaces the read-only files it keeps itself)");
    if (cli->long_list && strcmp(cmd, "ls") != 0)
        return usage_err(err, err_size, "-l is for ls");
    if (cli->parents && strcmp(cmd, "mkdir") != 0)
        return usage_err(err, err_size, "-p is for mkdir");
    if (cli->create_dirs && strcmp(cmd, "put") != 0)
        return usage_err(err, err_size,
                         "--create-dirs is for put (mirror -R creates its directories itself)");
    if (o->segments > 1 && !is_get && strcmp(cmd, "mirror") != 0 && strcmp(cmd, "put") != 0)
        return usage_err(err, err_size, "--segments is for get, put and mirror");
    bool is_mirror = strcmp(cmd, "mirror") == 0;
    if (!is_mirror && (cli->mirror_reverse || cli->only_newer || cli->mirror_delete ||
                       cli->dry_run || cli->no_perms || cli->nexcludes > 0 || cli->nincludes > 0))
        return usage_err(err, err_size,
                         "-R, --only-newer, --delete, --dry-run, --no-perms, --exclude and "
                         "--include are for mirror");
    if (is_mirror)
        return build_mirror(cli, args, nargs, err, err_size);
    if (is_get)
        return build_get(cli, FTPC_T_GET, args, nargs, err, err_size);
    if (strcmp(cmd, "cat") == 0)
        return build_get(cli, FTPC_T_CAT, args, nargs, err, err_size);
    if (strcmp(cmd, "put") == 0)
        return build_put(cli, args, nargs, err, err_size);
    if (strcmp(cmd, "ls") == 0)
        return build_simple(cli, FTPC_T_LS, args, nargs, 1, 1, err, err_size);
    if (strcmp(cmd, "rm") == 0)
        return build_simple(cli, FTPC_T_RM, args, nargs, 1, 0, err, err_size);
    if (strcmp(cmd, "mkdir") == 0)
        return build_simple(cli, FTPC_T_MKDIR, args, nargs, 1, 0, err, err_size);
    if (strcmp(cmd, "rmdir") == 0)
        return build_simple(cli, FTPC_T_RMDIR, args, nargs, 1, 0, err, err_size);
    if (strcmp(cmd, "mv") == 0)
        return build_mv(cli, args, nargs, err, err_size);
    return usage_err(err, err_size, "unknown command '%s'", cmd);
}

int ftpc_cli_parse(int argc, char **argv, ftpc_cli *cli, char *err, size_t err_size)
{
    if (err_size == 0)
        return parse_command_line(argc, argv, cli, err, err_size);
    err[0] = '\0';
    int rc = parse_command_line(argc, argv, cli, err, err_size);
    if (rc == 0)
        return 0;
    /* "ftpc -q stress URL" fails as an unknown command (or on stress's own options, which
     * ftpc's do not include): say where stress and its options go. */
    bool stress_later = false;
    for (int i = 2; i < argc && !stress_later; i++)
        stress_later = strcmp(argv[i], "stress") == 0;
    size_t n = strlen(err);
    if (stress_later && strncmp(err, "unknown", 7) == 0 && n + 1 < err_size)
        snprintf(err + n, err_size - n,
                 "; stress must come first, followed by its own options: ftpc stress URL "
                 "[OPTIONS] (see 'ftpc stress --help')");
    return rc;
}

void ftpc_cli_free(ftpc_cli *cli)
{
    for (size_t i = 0; i < cli->ntasks; i++)
        ftpc_task_release(&cli->tasks[i]);
    free(cli->tasks);
    cli->tasks = NULL;
    free(cli->globs);
    cli->globs = NULL;
    free(cli->excludes);
    cli->excludes = NULL;
    free(cli->includes);
    cli->includes = NULL;
    ftpc_endpoint_free_all(cli->endpoints);
    cli->endpoints = NULL;
}

void ftpc_cli_fill_credentials(ftpc_cli *cli, ftpc_url *u)
{
    fill_credentials(cli, u);
}
