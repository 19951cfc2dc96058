/* The shell's commands: a table of names, handlers and help, the line splitter, and the
 * handlers. Commands on the remote state (cd, pwd, ls, quote, rename, delete, mkdir, rmdir)
 * run on the control connection; the transfers are in shell_xfer.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsagain.h"
#include "shell_int.h"

typedef int (*sh_fn)(shell *sh, int argc, char **argv);

typedef struct sh_cmd {
    const char *name;
    sh_fn fn;
    const char *usage;
    const char *help;
} sh_cmd;

/* ---- splitting ---- */

void sh_words_free(char **words, int n)
{
    if (words == NULL)
        return;
    for (int i = 0; i < n; i++)
        free(words[i]);
    free(words);
}

/* One character of a word: pat, the word's glob form, gets a backslash before a quoted glob
 * character (or backslash), so that fnmatch and glob take it as itself. */
static void put_char(char *cur, size_t *cl, char *pat, size_t *pl, char c, bool quoted)
{
    cur[(*cl)++] = c;
    if (quoted && strchr("*?[\\", c) != NULL)
        pat[(*pl)++] = '\\';
    pat[(*pl)++] = c;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int sh_split(const char *line, char ***words, char ***pats)
{
    size_t len = strlen(line);
    char **v = NULL, **pv = NULL;
    int n = 0;
    char *cur = malloc(len + 1);
    char *pat = malloc(2 * len + 1);
    if (cur == NULL || pat == NULL) {
        free(cur);
        free(pat);
        return -1;
    }
    size_t cl = 0, pl = 0;
    bool in_word = false, failed = false;
    char quote = 0;
    for (size_t i = 0; i <= len && !failed; i++) {
        char c = line[i];
        bool end = c == '\0';
        if (quote == '\'' && !end) {
            if (c == '\'')
                quote = 0;
            else
                put_char(cur, &cl, pat, &pl, c, true);
            continue;
        }
        if (quote == '"' && !end) {
            if (c == '"')
                quote = 0;
            else if (c == '\\' && line[i + 1] != '\0' && strchr("\"\\", line[i + 1]) != NULL)
                put_char(cur, &cl, pat, &pl, line[++i], true);
            else
                put_char(cur, &cl, pat, &pl, c, true);
            continue;
        }
        if (quote != 0 && end) {
            failed = true;
            break;
        }
        if (end || isspace((unsigned char)c)) {
            if (in_word) {
                char **g = realloc(v, (size_t)(n + 2) * sizeof(*g));
                if (g != NULL)
                    v = g;
                char **pg =
                    g != NULL && pats != NULL ? realloc(pv, (size_t)(n + 2) * sizeof(*pg)) : NULL;
                if (pg != NULL)
                    pv = pg;
                char *w = dup_n(cur, cl);
                char *p = pats != NULL ? dup_n(pat, pl) : NULL;
                if (g == NULL || w == NULL || (pats != NULL && (pg == NULL || p == NULL))) {
                    free(w);
                    free(p);
                    failed = true;
                    break;
                }
                v[n] = w;
                v[n + 1] = NULL;
                if (pats != NULL) {
                    pv[n] = p;
                    pv[n + 1] = NULL;
                }
                n++;
                cl = pl = 0;
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if (c == '\'' || c == '"')
            quote = c;
        else if (c == '\\' && line[i + 1] != '\0')
            put_char(cur, &cl, pat, &pl, line[++i], true);
        else /* a backslash that ends the line is one */
            put_char(cur, &cl, pat, &pl, c, c == '\\');
    }
    free(cur);
    free(pat);
    if (failed) {
        sh_words_free(v, n);
        sh_words_free(pv, pats != NULL ? n : 0);
        return -1;
    }
    *words = v;
    if (pats != NULL)
        *pats = pv;
    return n;
}

/* ---- helpers ---- */

static int parse_id(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (s[0] == '%')
        v = strtol(s + 1, &end, 10);
    if (end == NULL || *end != '\0' || v < 1 || v > 1000000)
        return -1;
    return (int)v;
}
static void print_reply_error(shell *sh, const char *what, const ftp_reply_msg *m)
{
    char q[600];
    sh_fail(sh, ftpc_status_for_reply(m->code), "%s: the server replied %s", what,
            ftpc_quote_reply(m->code, m->text, q, sizeof(q)));
}

/* ---- the control connection's commands ---- */

int sh_open(shell *sh, const char *target, const char *port)
{
    char s[FTPC_URL_PATH_MAX + 600];
    if (ftpc_url_is_url(target)) {
        if (port != NULL)
            return sh_fail(sh, FTPC_EXIT_USAGE, "give the port in the URL");
        snprintf(s, sizeof(s), "%s", target);
    } else {
        /* A bare IPv6 address gets its brackets. */
        const char *c = strchr(target, ':');
        bool v6 = c != NULL && strchr(c + 1, ':') != NULL && target[0] != '[';
        snprintf(s, sizeof(s), "ftp://%s%s%s%s%s", v6 ? "[" : "", target, v6 ? "]" : "",
                 port ? ":" : "", port ? port : "");
    }
    ftpc_url u;
    char why[128];
    if (ftpc_url_parse(s, &u, why, sizeof(why)) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: %s", target, why);
    if (sh->open) {
        sh_conn_drop(sh);
        sh->open = false;
    }
    ftpc_cli_fill_credentials(sh->base, &u);
    ftpc_endpoint *ep = ftpc_endpoint_get(&sh->base->endpoints, &u);
    if (ep == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    sh->site = u;
    sh->site.path[0] = '\0';
    sh->ep = ep;
    sh->open = true;
    sh_cache_clear(sh);
    int rc = sh_conn_open(sh, &u);
    memset(&u, 0, sizeof(u));
    if (rc == FTPC_EXIT_LOGIN && sh->conn == NULL) {
        /* the host answered: it stays the site, so that user NAME can try again (ftp, lftp) */
        if (sh->tty)
            sh_out(sh, "Not logged in; 'user NAME' tries another login on %s.", sh->site.host);
        return rc;
    }
    if (rc != 0 && sh->conn == NULL) {
        sh->open = false; /* not connected */
        return rc;
    }
    if (sh->tty) {
        char where[300];
        sh_out(sh, "Connected to %s as %s.", ftpc_endpoint_str(ep, where, sizeof(where)), ep->user);
    }
    return rc;
}

static int cmd_open(shell *sh, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: open HOST [PORT] or open URL");
    return sh_open(sh, argv[1], argc > 2 ? argv[2] : NULL);
}

static int cmd_user(shell *sh, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: user NAME [PASSWORD]");
    int rc = sh_need_site(sh);
    if (rc != 0)
        return rc;
    ftpc_url u = sh->site;
    snprintf(u.user, sizeof(u.user), "%s", argv[1]);
    u.has_user = true;
    u.has_pass = argc > 2;
    memset(u.pass, 0, sizeof(u.pass));
    if (argc > 2)
        snprintf(u.pass, sizeof(u.pass), "%s", argv[2]);
    else
        ftpc_cli_fill_credentials(sh->base, &u); /* netrc, else asks */
    ftpc_endpoint *ep = ftpc_endpoint_get(&sh->base->endpoints, &u);
    if (ep == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    sh_conn_drop(sh);
    sh->site = u;
    sh->ep = ep;
    sh_cache_clear(sh);
    rc = sh_conn_open(sh, &u);
    memset(&u, 0, sizeof(u));
    if (rc != 0 && rc != FTPC_EXIT_LOGIN && sh->conn == NULL)
        sh->open = false; /* a refused login leaves the site for another try */
    else if (rc == 0 && sh->tty)
        sh_out(sh, "Logged in as %s.", ep->user);
    return rc;
}

static int cmd_close(shell *sh, int argc, char **argv)
{
    if (!sh->open)
        return sh_fail(sh, FTPC_EXIT_USAGE, "not connected");
    sh_conn_drop(sh);
    sh->open = false;
    sh->cwd[0] = '\0';
    sh->prev_cwd[0] = '\0';
    sh_cache_clear(sh);
    return FTPC_OK;
}

static int cmd_lpwd(shell *sh, int argc, char **argv)
{
    char path[PATH_MAX];
    if (argc != 1)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: lpwd");
    if (getcwd(path, sizeof(path)) == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "%s", strerror(errno));
    sh_out(sh, "%s", path);
    return FTPC_OK;
}

/* !CMD: CMD run by sh(1) in the local directory, with the terminal as it is between commands
 * (the prompt's raw mode is off). In a script its standard input is /dev/null: the script's
 * own lines, partly read ahead already, are the shell's. */
static int run_local(shell *sh, const char *cmd)
{
    while (isspace((unsigned char)*cmd))
        cmd++;
    const char *shell_path = getenv("SHELL");
    if (shell_path == NULL || shell_path[0] != '/')
        shell_path = "/bin/sh";
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "cannot start a process: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGXFSZ, SIG_DFL); /* ignored signals would stay ignored across exec */
        if (!sh->tty) {
            int fd = open("/dev/null", O_RDONLY);
            if (fd >= 0 && fd != STDIN_FILENO) {
                dup2(fd, STDIN_FILENO);
                close(fd);
            }
        }
        if (cmd[0] == '\0') /* ! alone: an interactive shell, as in ftp(1) */
            execl(shell_path, shell_path, (char *)NULL);
        else
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    ftpc_sh_intr = 0; /* a Ctrl-C meanwhile was the command's */
    if (WIFSIGNALED(st))
        return sh_fail(sh, FTPC_EXIT_LOCAL, "killed by signal %d", WTERMSIG(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "exit status %d", WEXITSTATUS(st));
    return FTPC_OK;
}

static int cmd_pwd(shell *sh, int argc, char **argv)
{
    int rc = sh_conn_pwd(sh);
    if (rc == 0)
        sh_out(sh, "%s", sh->cwd);
    return rc;
}

/* cd -, lcd -: back to the directory before the last change, as in sh (a directory named
 * "-" is ./-). */
static bool is_back(int argc, char **argv)
{
    return argc > 1 && strcmp(argv[1], "-") == 0;
}

/* cd -- DIR, lcd -- DIR: the "--" sh's cd takes (after which Tab completes a name starting
 * with '-') ends the options; it is no directory. argv[0] is then "--", which
 * these commands do not read. Alone, as in sh, it leaves the command without a directory:
 * the home one. */
static void skip_dashdash(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--") == 0) {
        (*argc)--;
        (*argv)++;
    } else if (*argc == 2 && strcmp((*argv)[1], "--") == 0) {
        (*argc)--;
    }
}

static int cmd_cd(shell *sh, int argc, char **argv)
{
    skip_dashdash(&argc, &argv);
    if (argc > 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: cd [DIR] or cd -");
    const char *dir = argc > 1 ? argv[1] : (sh->home[0] ? sh->home : "/");
    if (is_back(argc, argv)) {
        if (sh->prev_cwd[0] == '\0')
            return sh_fail(sh, FTPC_EXIT_USAGE, "no previous remote directory");
        dir = sh->prev_cwd; /* sent before it changes */
    }
    ftp_reply_msg m;
    int rc = sh_conn_cmd(sh, &m, "CWD %s", dir);
    if (rc != 0)
        return rc;
    sh_cache_clear(sh);
    if (m.code != 250) {
        print_reply_error(sh, "CWD", &m);
        return ftpc_status_for_reply(m.code);
    }
    /* Where the command started (kept across a reconnection); unknown, there is none. */
    char before[FTPC_URL_PATH_MAX];
    snprintf(before, sizeof(before), "%s", sh->cwd);
    rc = sh_conn_pwd(sh);
    snprintf(sh->prev_cwd, sizeof(sh->prev_cwd), "%s", before);
    if (rc == 0 && is_back(argc, argv))
        sh_out(sh, "%s", sh->cwd);
    return rc;
}

static int cmd_lcd(shell *sh, int argc, char **argv)
{
    skip_dashdash(&argc, &argv);
    if (argc > 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: lcd [DIR] or lcd -");
    char path[PATH_MAX], before[PATH_MAX];
    const char *dir = argc > 1 ? argv[1] : getenv("HOME");
    if (dir == NULL)
        return sh_fail(sh, FTPC_EXIT_USAGE, "no directory given and HOME is not set");
    if (is_back(argc, argv)) {
        if (sh->prev_lcwd[0] == '\0')
            return sh_fail(sh, FTPC_EXIT_USAGE, "no previous local directory");
        dir = sh->prev_lcwd;
    }
    if (getcwd(before, sizeof(before)) == NULL)
        before[0] = '\0'; /* removed under us: lcd - has nowhere to go back to */
    errno = 0;
    if (sh_abs_local(dir, path, sizeof(path)) < 0 || chdir(path) < 0)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "%s: %s", dir, strerror(errno ? errno : ENAMETOOLONG));
    snprintf(sh->prev_lcwd, sizeof(sh->prev_lcwd), "%s", before);
    if (getcwd(path, sizeof(path)) != NULL)
        sh_out(sh, "Local directory now %s", path);
    return FTPC_OK;
}

/* The shell's ls asks its further questions (lsagain.c) on its connection, as it listed. */
static int ls_run(void *ud, ftpc_task *t)
{
    shell *sh = ud;
    sh->op_done = false;
    int rc = sh_conn_task(sh, t, true);
    if (!sh->op_done || rc != t->err.status)
        return rc != FTPC_OK ? rc : FTPC_EXIT_LOCAL; /* it did not run to its end: said */
    if (rc != FTPC_OK && !(t->quiet_refusal && rc == FTPC_EXIT_REMOTE))
        sh_fail(sh, rc, "%s", t->err.msg);
    return FTPC_OK;
}

static int cmd_ls(shell *sh, int argc, char **argv)
{
    bool long_list = strcmp(argv[0], "dir") == 0;
    const char *path = NULL;
    bool only_path = false;
    for (int i = 1; i < argc; i++) {
        if (!only_path && strcmp(argv[i], "--") == 0) {
            only_path = true; /* a path starting with '-' follows */
        } else if (!only_path && strcmp(argv[i], "-l") == 0) {
            long_list = true; /* dir -l, ls -l -l: long already, no error */
        } else if (!only_path && argv[i][0] == '-' && argv[i][1] != '\0') {
            return sh_fail(sh, FTPC_EXIT_USAGE, "unknown option %s (only -l)", argv[i]);
        } else if (path == NULL) {
            path = argv[i];
        } else {
            return sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s",
                           long_list ? "dir [PATH]" : "ls [-l] [PATH]");
        }
    }
    int rc = sh_need_login(sh);
    if (rc != 0)
        return rc;
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_LS);
    t.long_list = long_list;
    t.relist_ok = t.quiet_refusal = true;
    char name[FTPC_URL_PATH_MAX];
    snprintf(name, sizeof(name), "%s", path ? path : "");
    rc = ftpc_task_set(&t.remote, name) == NULL || sh_task_display(sh, &t, name) < 0
             ? sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory")
             : ls_run(sh, &t);
    if (rc == FTPC_OK) {
        ftpc_err why;
        rc = ftpc_ls_again(&t, ls_run, sh, &ftpc_sh_intr, &why);
        if (rc != FTPC_OK && why.status != FTPC_OK)
            sh_fail(sh, rc, "%s", why.msg);
    }
    ftpc_task_release(&t);
    /* Cut short by the server (xfer.c said where): what it printed is not the whole. */
    if (rc == FTPC_OK && t.listing_truncated)
        rc = FTPC_EXIT_REMOTE;
    return rc;
}

/* Splits argv[first..] into options and names: mkdir takes -p; any other word starting with
 * '-' before "--" is refused, not sent as a name (rm -r, lftp's recursive delete, removed a
 * file named -r). Fills names (argc entries) and *nnames. Returns 0 or a usage failure. */
static int split_names(shell *sh, int argc, char **argv, int first, bool allow_p, bool *parents,
                       char **names, int *nnames)
{
    bool only_names = false;
    *nnames = 0;
    for (int i = first; i < argc; i++) {
        if (!only_names && strcmp(argv[i], "--") == 0) {
            only_names = true;
        } else if (!only_names && argv[i][0] == '-' && argv[i][1] != '\0') {
            if (!allow_p || strcmp(argv[i], "-p") != 0)
                return sh_fail(sh, FTPC_EXIT_USAGE,
                               "unknown option %s (a name starting with '-' goes after --)",
                               argv[i]);
            *parents = true;
        } else {
            names[(*nnames)++] = argv[i];
        }
    }
    return 0;
}

/* One file operation per argument; all are tried, the first failure counts. */
static int file_ops(shell *sh, int argc, char **argv, ftpc_task_kind kind, int first)
{
    bool parents = false;
    int nargs = 0;
    char **names = calloc((size_t)argc + 1, sizeof(*names));
    if (names == NULL)
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    int rc = split_names(sh, argc, argv, first, kind == FTPC_T_MKDIR, &parents, names, &nargs);
    if (rc == 0 && nargs == 0)
        rc = sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s %s", argv[0],
                     kind == FTPC_T_MKDIR ? "[-p] DIR..." : "PATH...");
    if (rc == 0)
        rc = sh_need_login(sh);
    if (rc != 0) {
        free(names);
        return rc;
    }
    int status = FTPC_OK;
    for (int i = 0; i < nargs; i++) {
        ftpc_task t;
        ftpc_task_init(&t, kind);
        t.parents = parents;
        char name[FTPC_URL_PATH_MAX];
        snprintf(name, sizeof(name), "%s", names[i]);
        rc = ftpc_task_set(&t.remote, name) == NULL || sh_task_display(sh, &t, names[i]) < 0
                 ? sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory")
                 : sh_conn_task(sh, &t, false);
        ftpc_task_release(&t);
        if (status == FTPC_OK)
            status = rc;
        if (ftpc_sh_intr || (rc != FTPC_OK && sh->conn == NULL && !sh->open))
            break;
    }
    free(names);
    sh_cache_clear(sh);
    return status;
}

static int cmd_delete(shell *sh, int argc, char **argv)
{
    return file_ops(sh, argc, argv, FTPC_T_RM, 1);
}

static int cmd_mkdir(shell *sh, int argc, char **argv)
{
    return file_ops(sh, argc, argv, FTPC_T_MKDIR, 1);
}

static int cmd_rmdir(shell *sh, int argc, char **argv)
{
    return file_ops(sh, argc, argv, FTPC_T_RMDIR, 1);
}

static int cmd_rename(shell *sh, int argc, char **argv)
{
    char *names[3];
    int n = 0;
    bool unused = false;
    if (argc > 4)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s FROM TO", argv[0]);
    int rc = split_names(sh, argc, argv, 1, false, &unused, names, &n);
    if (rc != 0)
        return rc;
    if (n != 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s FROM TO", argv[0]);
    if ((rc = sh_need_login(sh)) != 0)
        return rc;
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_MV);
    char name[FTPC_URL_PATH_MAX];
    snprintf(name, sizeof(name), "%s", names[0]);
    char to[FTPC_URL_PATH_MAX];
    snprintf(to, sizeof(to), "%s", names[1]);
    rc = ftpc_task_set(&t.remote, name) == NULL || ftpc_task_set(&t.arg, to) == NULL ||
                 sh_task_display(sh, &t, names[0]) < 0
             ? sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory")
             : sh_conn_task(sh, &t, false);
    ftpc_task_release(&t);
    sh_cache_clear(sh);
    return rc;
}

static int cmd_type(shell *sh, int argc, char **argv)
{
    if (argc != 1)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s", argv[0]);
    sh->opts.ascii = strcmp(argv[0], "ascii") == 0;
    if (sh->tty)
        sh_out(sh, "%s",
               sh->opts.ascii ? "Transfers in ASCII (TYPE A, line ends converted)."
                              : "Transfers in binary (TYPE I).");
    return FTPC_OK;
}

static int cmd_mode(shell *sh, int argc, char **argv)
{
    if (argc != 1)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: %s", argv[0]);
    sh->opts.active = strcmp(argv[0], "active") == 0;
    if (sh->tty)
        sh_out(sh, "%s",
               sh->opts.active ? "Active mode (EPRT, falling back to PORT)."
                               : "Passive mode (EPSV, falling back to PASV).");
    return FTPC_OK;
}

static int cmd_quote(shell *sh, int argc, char **argv)
{
    if (argc < 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: quote COMMAND [ARGS...]");
    char line[FTPC_URL_PATH_MAX];
    size_t o = 0;
    for (int i = 1; i < argc; i++) {
        int n = snprintf(line + o, sizeof(line) - o, "%s%s", i > 1 ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(line) - o)
            return sh_fail(sh, FTPC_EXIT_USAGE, "command too long");
        o += (size_t)n;
    }
    sh->echo_replies = true;
    ftp_reply_msg m;
    int rc = sh_conn_cmd(sh, &m, "%s", line);
    sh->echo_replies = false;
    if (rc != 0)
        return rc;
    sh_cache_clear(sh);
    char verb[8];
    snprintf(verb, sizeof(verb), "%s", argv[1]);
    for (char *c = verb; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    if (strcmp(verb, "QUIT") == 0) {
        /* The server closes: forget the connection; the next command opens a new one. */
        sh_conn_drop(sh);
        return FTPC_OK;
    }
    /* These move the remote directory (or the login): ask where we are now. */
    static const char *const moves[] = {"CWD",  "CDUP", "XCWD", "XCUP",
                                        "USER", "PASS", "REIN", NULL};
    bool moved = false;
    for (int i = 0; moves[i] != NULL; i++)
        moved |= strcmp(verb, moves[i]) == 0;
    if (moved && m.code < 400 && sh->conn != NULL && ftpc_conn_is_ready(sh->conn)) {
        /* Transfers name their files from sh->cwd: a directory that cannot be read from the
         * answer is unknown ('?'), not the old one, which would send them elsewhere. */
        ftp_reply_msg p;
        if (sh_conn_cmd(sh, &p, "PWD") == 0 &&
            (p.code != 257 || sh_parse_257(p.text, sh->cwd, sizeof(sh->cwd)) < 0))
            sh->cwd[0] = '\0';
    }
    if (m.code >= 400)
        return sh_fail(sh, ftpc_status_for_reply(m.code), "the server replied %d", m.code);
    return FTPC_OK;
}

static int cmd_status(shell *sh, int argc, char **argv)
{
    char cwd[PATH_MAX];
    if (sh->open && sh->conn == NULL && sh->ep != NULL && sh->ep->login_refused) {
        /* No session: "Connected ... as NAME" would read as logged in after a 530. */
        char where[300];
        sh_out(sh, "Not logged in to %s: the login as %s was refused (use: user NAME).",
               ftpc_endpoint_str(sh->ep, where, sizeof(where)), sh->ep->user);
    } else if (sh->open) {
        char where[300];
        sh_out(sh, "Connected to %s as %s (%s, control connection %s).",
               ftpc_endpoint_str(sh->ep, where, sizeof(where)), sh->ep->user,
               sh->site.tls == 0 && !sh->opts.tls ? "plain FTP" : "FTPS",
               sh->conn != NULL && ftpc_conn_is_ready(sh->conn) ? "open" : "closed");
        sh_out(sh, "Remote directory: %s", sh->cwd[0] ? sh->cwd : "(unknown)");
    } else {
        sh_out(sh, "Not connected.");
    }
    sh_out(sh, "Local directory: %s", getcwd(cwd, sizeof(cwd)) ? cwd : "(unknown)");
    sh_out(sh, "Mode: %s; type: %s.", sh->opts.active ? "active" : "passive",
           sh->opts.ascii ? "ascii" : "binary");
    sh_out(sh, "Background jobs: %d.", sh_jobs_running(sh));
    if (sh->tty)
        sh_out(sh, "History: %s", sh->hist_file[0] ? sh->hist_file : "(not saved)");
    return FTPC_OK;
}

static int cmd_jobs(shell *sh, int argc, char **argv)
{
    return sh_jobs_list(sh);
}

static int cmd_wait(shell *sh, int argc, char **argv)
{
    if (argc > 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: wait [N]");
    int id = 0;
    if (argc == 2 && (id = parse_id(argv[1])) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: not a job number", argv[1]);
    return sh_jobs_wait(sh, id);
}

static int cmd_kill(shell *sh, int argc, char **argv)
{
    int id;
    if (argc != 2)
        return sh_fail(sh, FTPC_EXIT_USAGE, "usage: kill N");
    if ((id = parse_id(argv[1])) < 0)
        return sh_fail(sh, FTPC_EXIT_USAGE, "%s: not a job number", argv[1]);
    return sh_jobs_kill(sh, id);
}

static int cmd_quit(shell *sh, int argc, char **argv)
{
    sh->quit = true;
    return FTPC_OK;
}

static int cmd_help(shell *sh, int argc, char **argv);

static const sh_cmd commands[] = {
    {"open", cmd_open, "open HOST [PORT] | open URL",
     "connect and log in (URL: ftp://[user[:pass]@]host[:port]/dir)"},
    {"user", cmd_user, "user NAME [PASSWORD]", "log in again as NAME (asks for the password)"},
    {"close", cmd_close, "close", "disconnect"},
    {"ls", cmd_ls, "ls [-l] [PATH]", "list a remote directory (-l: long listing)"},
    {"dir", cmd_ls, "dir [PATH]", "long listing of a remote directory"},
    {"cd", cmd_cd, "cd [DIR|-]",
     "change the remote directory (none: the login directory; -: the previous one)"},
    {"lcd", cmd_lcd, "lcd [DIR|-]", "change the local directory (none: home; -: the previous one)"},
    {"lpwd", cmd_lpwd, "lpwd", "print the local directory"},
    {"pwd", cmd_pwd, "pwd", "print the remote directory"},
    {"get", sh_cmd_get, "get [-b] [OPTS] REMOTE [LOCAL]",
     "download a file (-b: in the background)"},
    {"reget", sh_cmd_reget, "reget [-b] [OPTS] REMOTE [LOCAL]", "resume a download"},
    {"mget", sh_cmd_mget, "mget [-b] [OPTS] REMOTE...",
     "download files; * ? [..] match names unless quoted"},
    {"put", sh_cmd_put, "put [-b] [OPTS] LOCAL [REMOTE]", "upload a file"},
    {"reput", sh_cmd_reput, "reput [-b] [OPTS] LOCAL [REMOTE]", "resume an upload"},
    {"mput", sh_cmd_mput, "mput [-b] [OPTS] LOCAL...",
     "upload files; * ? [..] match names unless quoted (folders are skipped)"},
    {"mirror", sh_cmd_mirror, "mirror [-b] [-R] [OPTS] [SRC [DST]]",
     "download a remote tree (-R: upload a local tree)"},
    {"cat", sh_cmd_cat, "cat [OPTS] REMOTE...", "write remote files to the standard output"},
    {"rename", cmd_rename, "rename FROM TO", "rename a remote file or directory"},
    {"mv", cmd_rename, "mv FROM TO", "the same as rename"},
    {"delete", cmd_delete, "delete FILE...", "delete remote files"},
    {"rm", cmd_delete, "rm FILE...", "the same as delete"},
    {"mkdir", cmd_mkdir, "mkdir [-p] DIR...", "create remote directories (-p: parents too)"},
    {"rmdir", cmd_rmdir, "rmdir DIR...", "remove empty remote directories"},
    {"binary", cmd_type, "binary", "transfer files as they are (TYPE I, the default)"},
    {"ascii", cmd_type, "ascii", "transfer text with line ends converted (TYPE A)"},
    {"passive", cmd_mode, "passive", "passive data connections (EPSV/PASV, the default)"},
    {"active", cmd_mode, "active", "active data connections (EPRT/PORT)"},
    {"quote", cmd_quote, "quote COMMAND [ARGS]", "send a raw command, print the reply"},
    {"status", cmd_status, "status", "show the connection and the settings"},
    {"jobs", cmd_jobs, "jobs", "list background jobs with their progress"},
    {"wait", cmd_wait, "wait [N]", "wait for background job N (none: all of them)"},
    {"kill", cmd_kill, "kill N", "stop background job N"},
    {"help", cmd_help, "help [COMMAND]", "list the commands, or explain one"},
    {"quit", cmd_quit, "quit", "leave (stops background jobs)"},
    {"bye", cmd_quit, "bye", "the same as quit"},
    {"exit", cmd_quit, "exit", "the same as quit"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const sh_cmd *lookup(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

const char *const *sh_command_names(void)
{
    static const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    names[NCOMMANDS] = NULL;
    return names;
}

/* Help fits an 80-column terminal: text is cut between words, and every line after the
 * first starts at the column where the first line's text began. */
#define HELP_WIDTH 80

static void out_wrapped(shell *sh, const char *lead, const char *text)
{
    size_t indent = strlen(lead);
    char line[HELP_WIDTH + 1];
    size_t room = HELP_WIDTH - indent;
    bool first = true;
    while (*text) {
        size_t n = strlen(text);
        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0) /* one word wider than the room: it goes whole */
                n = strcspn(text, " ");
        }
        snprintf(line, sizeof line, "%*s", (int)indent, first ? lead : "");
        sh_out(sh, "%s%.*s", line, (int)n, text);
        text += n;
        text += strspn(text, " ");
        first = false;
    }
}

/* Not a word of the table: the rest of the line goes to sh(1) as it is. */
#define BANG_USAGE "!COMMAND"
#define BANG_HELP "run COMMAND with sh(1) in the local directory (! alone: $SHELL)"

static int cmd_help(shell *sh, int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == '!') { /* help !, as the list names it */
        sh_out(sh, "%s", BANG_USAGE);
        out_wrapped(sh, "    ", BANG_HELP);
        return FTPC_OK;
    }
    if (argc > 1) {
        const sh_cmd *c = lookup(argv[1]);
        if (c == NULL)
            return sh_fail(sh, FTPC_EXIT_USAGE, "unknown command '%s'", argv[1]);
        sh_out(sh, "%s", c->usage);
        out_wrapped(sh, "    ", c->help);
        if (c->fn == sh_cmd_get || c->fn == sh_cmd_put || c->fn == sh_cmd_mget ||
            c->fn == sh_cmd_mput || c->fn == sh_cmd_reget || c->fn == sh_cmd_reput ||
            c->fn == sh_cmd_mirror)
            out_wrapped(sh, "    ",
                        "OPTS: those of the one-shot command (ftpc --help), e.g. -c, -j N, "
                        "--limit-rate R, --segments N");
        return FTPC_OK;
    }
    size_t width = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strlen(commands[i].usage) > width)
            width = strlen(commands[i].usage);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char lead[HELP_WIDTH];
        snprintf(lead, sizeof lead, "  %-*s  ", (int)width, commands[i].usage);
        out_wrapped(sh, lead, commands[i].help);
    }
    char lead[HELP_WIDTH];
    snprintf(lead, sizeof lead, "  %-*s  ", (int)width, BANG_USAGE);
    out_wrapped(sh, lead, BANG_HELP);
    return FTPC_OK;
}

void sh_exec_line(shell *sh, const char *line)
{
    sh->lineno++;
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0' || *line == '#')
        return;
    snprintf(sh->cmd_line, sizeof(sh->cmd_line), "%s", line);
    size_t l = strlen(sh->cmd_line);
    while (l > 0 && isspace((unsigned char)sh->cmd_line[l - 1]))
        sh->cmd_line[--l] = '\0';
    if (*line == '!') {
        /* A local command: the rest of the line as sh(1) reads it, not split here. */
        sh->cmd_name = "!";
        sh_record(sh, run_local(sh, line + 1));
        sh->cmd_name = NULL;
        return;
    }
    char **w = NULL, **pats = NULL;
    int n = sh_split(line, &w, &pats);
    if (n < 0) {
        sh->cmd_name = NULL;
        /* A password with a quote in it ("user bob it's") lands here: such a line is not
         * shown, as sh_fail shows no line that gives one. */
        if (sh_line_has_password(sh->cmd_line))
            sh_fail(sh, FTPC_EXIT_USAGE,
                    "unterminated quote (the line is not shown: it may "
                    "hold a password)");
        else
            sh_fail(sh, FTPC_EXIT_USAGE, "unterminated quote: %s", sh->cmd_line);
        return;
    }
    if (n == 0) {
        sh_words_free(w, n);
        sh_words_free(pats, n);
        return;
    }
    const sh_cmd *c = lookup(w[0]);
    if (c == NULL) {
        sh->cmd_name = NULL;
        sh_fail(sh, FTPC_EXIT_USAGE, "unknown command '%s' (try help)", w[0]);
        sh_words_free(w, n);
        sh_words_free(pats, n);
        return;
    }
    sh->cmd_name = c->name;
    sh->word_pats = pats;
    int rc = c->fn(sh, n, w);
    sh_record(sh, rc);
    sh->cmd_name = NULL;
    sh->word_pats = NULL;
    sh_words_free(w, n);
    sh_words_free(pats, n);
}
