/* Private to the interactive shell (shell*.c): the session state shared by the line input,
 * the command handlers, the control connection, the background jobs, completion and history.
 *
 * Threads: everything here runs on the main thread, on the shell's own loop, except the body
 * of a transfer job (shell_jobs.c), which runs the one-shot machinery on a loop of its own in
 * a worker thread and shares nothing with the main thread but the job record's atomic and
 * mutex-protected fields. */
#ifndef FTPC_SHELL_INT_H
#define FTPC_SHELL_INT_H

#include <histedit.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "conn.h"
#include "ctx.h"
#include "ev.h"
#include "ftp_reply.h"
#include "mirror.h"
#include "task.h"
#include "url.h"

/* Set by the shell's signal handlers: Ctrl-C (stop the running command or clear the line),
 * and SIGTERM/SIGHUP (leave). */
extern volatile sig_atomic_t ftpc_sh_intr;
extern volatile sig_atomic_t ftpc_sh_term;

typedef struct sh_job sh_job;

/* One cached remote directory listing for completion. */
typedef struct sh_dir {
    char path[FTPC_URL_PATH_MAX]; /* as resolved against the remote directory */
    ftpc_mtree tree;              /* bare names, with the directory flag */
} sh_dir;

#define SH_DIR_CACHE 8

typedef struct shell {
    ftpc_cli *base; /* the command line: options, netrc settings, endpoints */
    char **gopts;   /* the command line's options, passed on to every transfer */
    int ngopts;
    ftpc_opts opts; /* the session's settings (passive/active, type) */
    ev_loop *loop;
    ftpc_ctx ctx; /* for the control connection */
    bool tty;     /* line editing and a prompt */

    /* The site. */
    bool open;
    ftpc_url site;     /* credentials filled in; path unused after open */
    ftpc_endpoint *ep; /* in base->endpoints */
    ftpc_conn *conn;   /* NULL: connect again when needed */
    bool conn_failed;
    bool conn_used; /* the connection was open before the running command */
    ftpc_err conn_err;
    char cwd[FTPC_URL_PATH_MAX];      /* the remote directory as PWD says; "" unknown */
    char home[FTPC_URL_PATH_MAX];     /* the login directory */
    char prev_cwd[FTPC_URL_PATH_MAX]; /* before the last cd, for cd -; "" none */
    char prev_lcwd[PATH_MAX];         /* the local one before the last lcd, for lcd - */

    /* The command waiting on the control connection. */
    bool reply_done;
    ftp_reply_msg reply;
    bool echo_replies; /* quote: print every reply line */
    bool quiet;        /* Tab completion runs: sh_fail neither prints nor records */
    bool op_done;      /* a transfer or file operation on the control connection */
    int op_status;
    bool op_reusable;

    sh_dir *dirs[SH_DIR_CACHE];

    /* Jobs. */
    sh_job *jobs;
    int next_job;
    int notify_fd; /* eventfd: a job finished */
    ev_timer relay;

    /* Input. */
    EditLine *el;
    History *hist;
    char hist_file[PATH_MAX];
    bool prompt_on;
    char prompt[512];
    char inbuf[65536]; /* not a terminal: bytes read, not yet a whole line */
    size_t inlen;
    bool skipping; /* the rest of a line longer than inbuf: dropped up to its end */
    char **queue;  /* whole lines waiting to run; NULL for one too long to run */
    size_t nqueue;
    bool stdin_ready, stdin_watched, stdin_plain, eof;
    long lineno;
    const char *cmd_name; /* the command running, for messages */
    char **word_pats;     /* the glob forms of its words (sh_split), or NULL */
    char cmd_line[512];   /* the line running, for messages */

    int status; /* of the first failure */
    bool quit;
} shell;

/* ---- shell.c: output ---- */

/* A result line on standard output. */
void sh_out(shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error of the running command on standard error, naming the command (and the line number
 * when reading a script). Returns status, which is also recorded as the session's first
 * failure when it is the first. */
int sh_fail(shell *sh, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note of the running command on standard error, naming it; not a failure. */
void sh_note(shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line that arrives on its own (a background job's message): printed above the prompt,
 * which is then drawn again with what was typed. */
void sh_notify(shell *sh, const char *line);
/* Writes all of p to fd, going on after EINTR; gives up on any other error. */
void sh_write_all(int fd, const char *p, size_t n);
/* Records status as the session's exit status when it is the first failure. */
void sh_record(shell *sh, int status);

/* ---- shell_conn.c: the control connection ---- */

/* Makes sure the control connection is logged in (connecting again after a loss, and going
 * back to the remote directory). Returns 0 or an exit status (the error is printed). */
int sh_conn_ensure(shell *sh);
/* Sends one command and waits for its final reply (in *out). Returns 0 (whatever the code),
 * or an exit status when the connection failed or the wait was interrupted. */
int sh_conn_cmd(shell *sh, ftp_reply_msg *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs task t (LS, RM, MKDIR, RMDIR, MV) on the control connection. Returns t's status; the
 * error is printed unless quiet. */
int sh_conn_task(shell *sh, ftpc_task *t, bool quiet);
/* The directory a 257 reply names (a doubled '"' in it is one). Returns 0, or -1 when it
 * names none or out is too small. */
int sh_parse_257(const char *text, char *out, size_t out_size);
/* Asks PWD and stores the answer in sh->cwd. Returns 0 or an exit status. */
int sh_conn_pwd(shell *sh);
/* Connects to u (credentials filled in): logs in, learns the login directory and goes to
 * u->path when it names one. Returns 0 or an exit status (printed). */
int sh_conn_open(shell *sh, const ftpc_url *u);
/* QUITs and forgets the connection (not the site). */
void sh_conn_drop(shell *sh);
/* Frees a connection that died while idle. */
void sh_conn_reap(shell *sh);
/* The absolute remote path for path as typed (relative to the remote directory), or path
 * itself when the directory is unknown. Returns out, or NULL (out empty) when it does not
 * fit: a cut path would name another file. */
char *sh_resolve(const shell *sh, const char *path, char *out, size_t out_size);
/* The URL of remote path (as typed), with the session's credentials; dir adds a '/'.
 * Returns 0, or -1 when too long. */
int sh_url(const shell *sh, const char *path, bool dir, char *out, size_t out_size);
/* The URL of path for messages (no password). Returns out. */
char *sh_display(const shell *sh, const char *path, char *out, size_t out_size);
/* t->display: sh_display of path. -1: out of memory. */
int sh_task_display(const shell *sh, ftpc_task *t, const char *path);

/* ---- shell_xfer.c: the transfer commands ---- */

int sh_cmd_get(shell *sh, int argc, char **argv);
int sh_cmd_reget(shell *sh, int argc, char **argv);
int sh_cmd_mget(shell *sh, int argc, char **argv);
int sh_cmd_put(shell *sh, int argc, char **argv);
int sh_cmd_reput(shell *sh, int argc, char **argv);
int sh_cmd_mput(shell *sh, int argc, char **argv);
int sh_cmd_mirror(shell *sh, int argc, char **argv);
int sh_cmd_cat(shell *sh, int argc, char **argv);
/* An absolute local path for p ("~" is the home directory). Returns 0 or -1 (too long). */
int sh_abs_local(const char *p, char *out, size_t out_size);
/* 0 when a site is open, else a "not connected" failure. */
int sh_need_site(shell *sh);
/* sh_need_site, and not refused at the last login: else a "not logged in" failure. */
int sh_need_login(shell *sh);

/* ---- shell_cmds.c ---- */

/* open TARGET [PORT]: TARGET is a host or a URL. Returns 0 or an exit status (printed). */
int sh_open(shell *sh, const char *target, const char *port);
/* Runs one command line. */
void sh_exec_line(shell *sh, const char *line);
/* Command names for completion, NULL-terminated. */
const char *const *sh_command_names(void);
/* Splits line into words (quotes and backslashes as in sh). Returns the count (>= 0) with
 * *words malloc'd (free with sh_words_free), or -1 on an unterminated quote. When pats is
 * not NULL, *pats gets each word's glob form, likewise malloc'd: the word with a backslash
 * before every glob character (and backslash) that was quoted or escaped, so that only the
 * bare ones match names, as in sh. */
int sh_split(const char *line, char ***words, char ***pats);
void sh_words_free(char **words, int n);

/* ---- shell_jobs.c ---- */

/* Runs a one-shot command line (argv[0] is "ftpc") as a job: in the foreground (waits, with
 * the usual progress display; Ctrl-C stops it) or in the background. Takes argv (malloc'd
 * strings). Returns the exit status (0 for a background job that started). */
int sh_job_run(shell *sh, char **argv, int argc, bool background, const char *what);
/* Reports finished background jobs and relays their messages. */
void sh_jobs_poll(shell *sh);
/* jobs, wait [N], kill N. */
int sh_jobs_list(shell *sh);
int sh_jobs_wait(shell *sh, int id);
int sh_jobs_kill(shell *sh, int id);
int sh_jobs_running(const shell *sh);
/* Stops every job and waits for the threads (leaving the shell). */
void sh_jobs_stop_all(shell *sh);
int sh_jobs_init(shell *sh);
void sh_jobs_free(shell *sh);

/* ---- shell_complete.c ---- */

/* Binds Tab to completion on sh->el. */
void sh_complete_init(shell *sh);
/* Forgets the cached remote listings (after cd, put, rm, mkdir, rename...). */
void sh_cache_clear(shell *sh);

/* ---- shell_hist.c ---- */

/* Opens the history and loads the file (see ftpc(1), SHELL). */
void sh_hist_init(shell *sh);
/* Adds a line (not one holding a password) and saves the file. */
void sh_hist_add(shell *sh, const char *line);
/* Whether the line gives a password: "user NAME PASSWORD", "quote PASS|ACCT ...", or
 * user:password@ in a URL. */
bool sh_line_has_password(const char *line);
void sh_hist_free(shell *sh);

#endif
