/* The shell's main loop and line input. The loop owns standard input as one more fd: when it
 * is readable the callback only notes it, and the key (or the lines) is read after
 * ev_run_once returns, outside any callback, because a command (and Tab completion, which
 * may list a remote directory) runs the loop again while it waits, and the loop must not be
 * entered from inside one of its own callbacks.
 *
 * On a terminal libedit edits the line in its unbuffered mode (EL_UNBUFFERED, the mechanism
 * under libedit's rl_callback_read_char): each readable event feeds it one key, so transfers
 * and job messages go on while the user types. Elsewhere lines are split by hand and no
 * prompt is drawn. */
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"
#include "shell_int.h"
#include "status.h"

volatile sig_atomic_t ftpc_sh_intr;
volatile sig_atomic_t ftpc_sh_term;
/* The terminal was resized: libedit (whose own signal handling is off) is told. */
static volatile sig_atomic_t sh_winch;

static void on_winch(int sig)
{
    (void)sig;
    sh_winch = 1;
}

/* Continued after a stop (Ctrl-Z, then fg): the job-control shell gave the terminal back in
 * its normal mode; at the prompt the line editor's mode is set again. */
static volatile sig_atomic_t sh_cont;

static void on_cont(int sig)
{
    (void)sig;
    sh_cont = 1;
}

static void on_intr(int sig)
{
    (void)sig;
    ftpc_sh_intr = 1;
}

static void on_term(int sig)
{
    (void)sig;
    ftpc_sh_intr = 1;
    ftpc_sh_term = 1;
}

void sh_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void sh_out(shell *sh, const char *fmt, ...)
{
    (void)sh;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void sh_record(shell *sh, int status)
{
    if (status != FTPC_OK && sh->status == FTPC_OK)
        sh->status = status;
}

int sh_fail(shell *sh, int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sh->quiet)
        return status;
    char *full = n > 0 && (size_t)n >= sizeof(msg) ? malloc((size_t)n + 1) : NULL;
    if (full != NULL) { /* "NAME: path too long": keep the end, which says what is wrong */
        va_start(ap, fmt);
        vsnprintf(full, (size_t)n + 1, fmt, ap);
        va_end(ap);
        ftpc_fit_middle(msg, sizeof(msg), full);
        free(full);
    }
    fflush(stdout);
    /* In a script the whole command and its line number say which one failed. */
    char where[600] = "";
    /* user's PASS, or quote PASS/ACCT (a URL's password is redacted below) */
    bool secret = sh->cmd_name != NULL &&
                  (strcmp(sh->cmd_name, "user") == 0 ||
                   (strcmp(sh->cmd_name, "quote") == 0 && sh_line_has_password(sh->cmd_line)));
    if (!sh->tty && sh->lineno > 0 && sh->cmd_name != NULL && !secret)
        snprintf(where, sizeof(where), "line %ld: %.200s: ", sh->lineno, sh->cmd_line);
    else if (!sh->tty && sh->lineno > 0 && sh->cmd_name != NULL)
        snprintf(where, sizeof(where), "line %ld: %s: ", sh->lineno, sh->cmd_name);
    else if (!sh->tty && sh->lineno > 0)
        snprintf(where, sizeof(where), "line %ld: ", sh->lineno);
    else if (sh->cmd_name != NULL)
        snprintf(where, sizeof(where), "%s: ", sh->cmd_name);
    ftpc_redact_passwords(where);
    ftpc_redact_passwords(msg);
    fprintf(stderr, "ftpc: %s%s\n", where, msg);
    fflush(stderr);
    sh_record(sh, status);
    return status;
}

void sh_note(shell *sh, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sh->quiet)
        return;
    progress_sanitize(msg, sizeof(msg), msg); /* a file's name may hold a line feed */
    fflush(stdout);
    fprintf(stderr, "ftpc: %s%s%s\n", sh->cmd_name ? sh->cmd_name : "", sh->cmd_name ? ": " : "",
            msg);
    fflush(stderr);
}

void sh_notify(shell *sh, const char *line)
{
    fflush(stdout);
    if (sh->tty && sh->prompt_on && sh->el != NULL) {
        /* Clear the prompt and the typed text (which may wrap over several rows: go up to
         * the first), print, and let libedit draw them again from the start of a fresh line
         * (EL_REFRESH assumes the cursor is there). */
        const LineInfo *li = el_line(sh->el);
        int cols = 0;
        el_resize(sh->el); /* the width now, not when the line was started */
        el_get(sh->el, EL_GETTC, "co", &cols, (void *)0);
        /* The cursor's row, counted in cells (a byte count takes a UTF-8 directory or name
         * for wider than it is, and clears lines above the prompt): libedit forces the wrap
         * at the margin, so text that ends there has the cursor on the next row. */
        int row = 0;
        char text[sizeof(sh->prompt) + 4096];
        size_t pl = strlen(sh->prompt), bl = (size_t)(li->cursor - li->buffer);
        if (cols > 0 && pl + bl < sizeof(text)) {
            memcpy(text, sh->prompt, pl);
            memcpy(text + pl, li->buffer, bl);
            bool at_margin = false;
            size_t rows = progress_text_rows(text, pl + bl, (size_t)cols, &at_margin);
            row = rows > 0 ? (int)rows - 1 + (at_margin ? 1 : 0) : 0;
        } else if (cols > 0) {
            row = (int)((pl + bl) / (size_t)cols);
        }
        /* The line goes over the prompt's rows, clearing the rest of its own last row, and
         * what is left of the prompt below is cleared from the row after it. Not "clear to
         * the end of the screen" from the prompt's start: at the top-left corner (after
         * Ctrl-L) that is a clear screen to tmux, which keeps a copy of the screen in its
         * history (scroll-on-clear) each time. A line that ends on the right margin keeps
         * its rest: a clear there would take its last character. */
        char up[32] = "";
        if (row > 0)
            snprintf(up, sizeof(up), "\x1b[%dA", row);
        bool line_at_margin = false;
        if (cols > 0)
            progress_text_rows(line, strlen(line), (size_t)cols, &line_at_margin);
        sh_write_all(STDOUT_FILENO, "\r", 1);
        sh_write_all(STDOUT_FILENO, up, strlen(up));
        sh_write_all(STDERR_FILENO, line, strlen(line));
        if (!line_at_margin)
            sh_write_all(STDERR_FILENO, "\x1b[K", 3);
        sh_write_all(STDERR_FILENO, "\n\x1b[J", 4);
        el_set(sh->el, EL_REFRESH);
        return;
    }
    sh_write_all(STDERR_FILENO, line, strlen(line));
    sh_write_all(STDERR_FILENO, "\n", 1);
}

/* ---- the prompt ---- */

static char *prompt_cb(EditLine *el)
{
    void *p = NULL;
    el_get(el, EL_CLIENTDATA, &p);
    shell *sh = p;
    return sh->prompt;
}

/* The terminal's width, 80 when it cannot be read. */
static size_t term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Columns the prompt leaves for typing, at the least. */
#define PROMPT_ROOM 20

static void build_prompt(shell *sh)
{
    if (!sh->open) {
        snprintf(sh->prompt, sizeof(sh->prompt), "ftpc> ");
        return;
    }
    /* Long directories are cut from the left: the end is what tells where one is. At most
     * 60 cells, and fewer on a narrow terminal: a prompt that wraps over several rows
     * confuses libedit's redraw (a completion list is drawn over, rows repeat). */
    const char *dir = sh->cwd[0] ? sh->cwd : "?";
    size_t fixed = strlen("ftpc :> ") + strnlen(sh->site.host, 100);
    size_t cols = term_columns();
    size_t budget = 60;
    if (cols < fixed + PROMPT_ROOM + budget)
        budget = cols > fixed + PROMPT_ROOM + 8 ? cols - fixed - PROMPT_ROOM : 8;
    const char *cut = dir;
    if (progress_cells(dir) > budget) {
        /* A character of a cell or more takes at most 4 bytes: the cut starts in the last
         * 4 x budget bytes (measuring the rest once per character cut was quadratic: 15 ms at
         * each prompt for a 3.5 KB directory). */
        size_t len = strlen(dir), most = 4 * budget;
        if (len > most) {
            cut = dir + len - most;
            while (((unsigned char)*cut & 0xC0) == 0x80)
                cut++;
        }
        while (*cut != '\0' && progress_cells(cut) + 3 > budget) {
            cut++;
            while (((unsigned char)*cut & 0xC0) == 0x80)
                cut++; /* not inside a UTF-8 character */
        }
        /* Characters of no width (combining marks) pack more than 4 bytes a cell: take back
         * whole characters while they fit, and the prompt's 300 bytes hold them. */
        while (cut > dir) {
            const char *prev = cut - 1;
            while (prev > dir && ((unsigned char)*prev & 0xC0) == 0x80)
                prev--;
            if (progress_cells(prev) + 3 > budget || strlen(prev) > 296)
                break;
            cut = prev;
        }
    }
    snprintf(sh->prompt, sizeof(sh->prompt), "ftpc %.100s:%s%.300s> ", sh->site.host,
             cut != dir ? "..." : "", cut);
    /* Control characters in a directory name (C1 too: U+009B is CSI to xterm) would be sent
     * to the terminal as they are. */
    progress_sanitize(sh->prompt, sizeof(sh->prompt), sh->prompt);
}

static void prompt_show(shell *sh)
{
    if (!sh->tty || sh->prompt_on)
        return;
    build_prompt(sh);
    fflush(stdout);
    fflush(stderr);
    el_set(sh->el, EL_UNBUFFERED, 1); /* raw mode, clears the line, draws the prompt */
    sh->prompt_on = true;
}

static void prompt_hide(shell *sh)
{
    if (!sh->tty || !sh->prompt_on)
        return;
    el_set(sh->el, EL_UNBUFFERED, 0); /* back to the terminal's normal mode */
    sh->prompt_on = false;
}

/* ---- input ---- */

/* Queues the line s[0..n), or with s NULL a line too long to run. */
static void queue_line(shell *sh, const char *s, size_t n)
{
    char **q = realloc(sh->queue, (sh->nqueue + 1) * sizeof(*q));
    if (q == NULL)
        return;
    sh->queue = q;
    char *line = NULL;
    if (s != NULL) {
        line = malloc(n + 1);
        if (line == NULL)
            return;
        memcpy(line, s, n);
        line[n] = '\0';
    }
    sh->queue[sh->nqueue++] = line;
}

/* Takes the next queued line into *line (NULL: too long). Returns false when none. */
static bool unqueue_line(shell *sh, char **line)
{
    if (sh->nqueue == 0)
        return false;
    *line = sh->queue[0];
    memmove(sh->queue, sh->queue + 1, (sh->nqueue - 1) * sizeof(*sh->queue));
    sh->nqueue--;
    return true;
}

static void stdin_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    shell *sh = ud;
    ev_del(loop, fd, EV_READ | EV_WRITE);
    sh->stdin_watched = false;
    sh->stdin_ready = true;
}

/* Not a terminal: takes what can be read and queues whole lines. */
static void read_plain(shell *sh)
{
    size_t room = sizeof(sh->inbuf) - sh->inlen;
    if (room == 0) {
        /* A line longer than the buffer is refused whole: running its start, then its end
         * as a line of its own, would run commands nobody wrote. */
        if (!sh->skipping)
            queue_line(sh, NULL, 0);
        sh->skipping = true;
        sh->inlen = 0;
        room = sizeof(sh->inbuf);
    }
    ssize_t n = read(STDIN_FILENO, sh->inbuf + sh->inlen, room);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (sh->inlen > 0 && !sh->skipping)
            queue_line(sh, sh->inbuf, sh->inlen);
        sh->inlen = 0;
        sh->skipping = false;
        sh->eof = true;
        return;
    }
    sh->inlen += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < sh->inlen; i++) {
        if (sh->inbuf[i] == '\n' && sh->skipping) {
            sh->skipping = false; /* the end of the line too long */
            start = i + 1;
        } else if (sh->inbuf[i] == '\n') {
            size_t len = i - start;
            if (len > 0 && sh->inbuf[start + len - 1] == '\r')
                len--;
            queue_line(sh, sh->inbuf + start, len);
            start = i + 1;
        }
    }
    memmove(sh->inbuf, sh->inbuf + start, sh->inlen - start);
    sh->inlen -= start;
}

/* A terminal: feeds libedit one key. */
static void read_key(shell *sh)
{
    int count = 0;
    const char *text = el_gets(sh->el, &count);
    if (text == NULL || count <= 0) {
        /* An empty line after a key (backspace), or the terminal went away. */
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
            prompt_hide(sh);
            sh->eof = true;
        }
        return;
    }
    if (count == 1 && text[0] == ('d' & 0x1f)) {
        /* Ctrl-D on an empty line. */
        prompt_hide(sh);
        fputs("\n", stdout);
        fflush(stdout);
        sh->eof = true;
        return;
    }
    if (text[count - 1] != '\n')
        return;
    queue_line(sh, text, (size_t)count - 1);
    prompt_hide(sh);
    if (sh->nqueue > 0)
        sh_hist_add(sh, sh->queue[sh->nqueue - 1]);
}

static void watch_stdin(shell *sh)
{
    if (sh->stdin_watched || sh->stdin_plain || sh->eof)
        return;
    if (ev_add(sh->loop, STDIN_FILENO, EV_READ, stdin_cb, sh) == 0) {
        sh->stdin_watched = true;
        return;
    }
    /* A regular file cannot be polled (epoll refuses it); it never blocks either. */
    sh->stdin_plain = true;
}

/* ---- start and end ---- */

static void notify_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n; /* the loop iteration ends; the main loop reports the jobs */
}

static void install_signals(bool tty, struct sigaction *old_int, struct sigaction *old_term,
                            struct sigaction *old_hup, struct sigaction *old_winch,
                            struct sigaction *old_cont)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the signal must end the loop's wait. At a prompt Ctrl-C stops one
     * command; a script is stopped as a whole, as sh(1) does. */
    sa.sa_handler = tty ? on_intr : on_term;
    sigaction(SIGINT, &sa, old_int);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, old_term);
    sigaction(SIGHUP, &sa, old_hup);
    /* These only ask for a redraw: a read they interrupt goes on (the password prompt takes
     * an interrupted read for Ctrl-C); the loop's wait returns all the same. */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, old_winch);
    sa.sa_handler = on_cont;
    sigaction(SIGCONT, &sa, old_cont);
}

static int init_editline(shell *sh)
{
    sh->el = el_init("ftpc", stdin, stdout, stderr);
    if (sh->el == NULL)
        return -1;
    el_set(sh->el, EL_CLIENTDATA, sh);
    el_set(sh->el, EL_EDITOR, "emacs");
    /* Signals stay ours: Ctrl-C stops a command or clears the line. */
    el_set(sh->el, EL_SIGNAL, 0);
    el_set(sh->el, EL_PROMPT, prompt_cb);
    sh_hist_init(sh);
    if (sh->hist != NULL)
        el_set(sh->el, EL_HIST, history, sh->hist);
    sh_complete_init(sh);
    el_source(sh->el, NULL); /* ~/.editrc */
    return 0;
}

static bool bad_shell_options(const ftpc_cli *cli)
{
    return cli->output || cli->output_dir || cli->long_list || cli->parents || cli->create_dirs ||
           cli->mirror_reverse || cli->only_newer || cli->mirror_delete || cli->dry_run ||
           cli->no_perms || cli->nexcludes > 0 || cli->nincludes > 0;
}

int ftpc_shell_run(ftpc_cli *cli, volatile sig_atomic_t *stop)
{
    (void)stop; /* the shell installs its own handlers: Ctrl-C must not end it */
    if (bad_shell_options(cli)) {
        fprintf(stderr, "ftpc: -o, -O, -l, -p, --create-dirs and the mirror options go with a "
                        "command, not with the interactive shell\n");
        return FTPC_EXIT_USAGE;
    }
    shell *sh = calloc(1, sizeof(*sh));
    if (sh == NULL) {
        fprintf(stderr, "ftpc: out of memory\n");
        return FTPC_EXIT_LOCAL;
    }
    sh->base = cli;
    sh->gopts = cli->shell_opts;
    sh->ngopts = cli->shell_nopts;
    sh->opts = cli->opts;
    sh->notify_fd = -1;
    sh->loop = ev_loop_new(EV_BACKEND_AUTO);
    if (sh->loop == NULL) {
        fprintf(stderr, "ftpc: cannot create the event loop: %s\n", strerror(errno));
        free(sh);
        return FTPC_EXIT_LOCAL;
    }
    ftpc_ctx_init(&sh->ctx, sh->loop, &sh->opts);
    sh->ctx.stop = &ftpc_sh_intr; /* a blocking write gives up on Ctrl-C */
    if (sh_jobs_init(sh) < 0) {
        fprintf(stderr, "ftpc: cannot set up job notifications: %s\n", strerror(errno));
        ev_loop_free(sh->loop);
        free(sh);
        return FTPC_EXIT_LOCAL;
    }
    ev_add(sh->loop, sh->notify_fd, EV_READ, notify_cb, sh);

    sh->tty = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1;
    if (sh->tty && init_editline(sh) < 0)
        sh->tty = false;
    struct sigaction old_int, old_term, old_hup, old_winch, old_cont;
    install_signals(sh->tty, &old_int, &old_term, &old_hup, &old_winch, &old_cont);

    if (cli->shell_url != NULL) {
        /* Not through the line parser: the URL is no typed line (and may hold a password). */
        sh->cmd_name = "open";
        sh_open(sh, cli->shell_url, NULL);
        sh->cmd_name = NULL;
    }

    while (!sh->quit && !ftpc_sh_term) {
        if (sh_winch) {
            sh_winch = 0;
            if (sh->el != NULL)
                el_resize(sh->el); /* the line being edited wraps at the new width */
        }
        if (sh_cont) {
            sh_cont = 0;
            if (sh->prompt_on) {
                /* libedit takes its mode as still set: out of it and back in, then the
                 * prompt and the typed text are drawn again (the cursor is at the start of
                 * a line: the job-control shell printed the command it continued). */
                el_set(sh->el, EL_PREP_TERM, 0);
                el_set(sh->el, EL_PREP_TERM, 1);
                el_resize(sh->el);
                el_set(sh->el, EL_REFRESH);
            }
        }
        if (ftpc_sh_intr) {
            ftpc_sh_intr = 0;
            if (sh->prompt_on) {
                /* Ctrl-C at the prompt: drop the line, draw a fresh prompt. */
                prompt_hide(sh);
                fputs("\n", stdout);
                fflush(stdout);
            }
        }
        sh_jobs_poll(sh);
        sh_conn_reap(sh);
        char *line;
        if (unqueue_line(sh, &line)) {
            if (line != NULL) {
                sh_exec_line(sh, line);
                free(line);
            } else {
                sh->lineno++;
                sh_fail(sh, FTPC_EXIT_USAGE, "longer than %zu bytes, not run",
                        sizeof(sh->inbuf) - 1);
            }
            continue;
        }
        if (sh->eof) {
            /* A script that ends lets its background jobs finish. */
            if (!sh->tty && sh_jobs_running(sh) > 0)
                sh_jobs_wait(sh, 0);
            break;
        }
        prompt_show(sh);
        watch_stdin(sh);
        if (sh->stdin_plain) {
            read_plain(sh);
            continue;
        }
        if (ev_run_once(sh->loop, FTPC_STOP_CHECK_MS) < 0) {
            fprintf(stderr, "ftpc: event loop failure: %s\n", strerror(errno));
            sh_record(sh, FTPC_EXIT_LOCAL);
            break;
        }
        if (sh->stdin_ready) {
            sh->stdin_ready = false;
            if (sh->tty)
                read_key(sh);
            else
                read_plain(sh);
        }
    }
    prompt_hide(sh);
    if (sh->stdin_watched)
        ev_del(sh->loop, STDIN_FILENO, EV_READ | EV_WRITE);
    if (sh_jobs_running(sh) > 0)
        fprintf(stderr, "ftpc: stopping %d background job%s\n", sh_jobs_running(sh),
                sh_jobs_running(sh) == 1 ? "" : "s");
    sh_jobs_stop_all(sh);
    sh_jobs_poll(sh);
    sh_conn_drop(sh);
    /* Let the QUIT be answered, briefly. */
    ev_update_time(sh->loop);
    long long deadline = ev_now(sh->loop) + 2000;
    while (sh->ctx.nconns > 0 && ev_now(sh->loop) < deadline && !ftpc_sh_term)
        if (ev_run_once(sh->loop, 100) < 0)
            break;
    ftpc_conn_free_all(&sh->ctx);
    ftpc_ctx_flush(&sh->ctx);
    sh_cache_clear(sh);
    ev_del(sh->loop, sh->notify_fd, EV_READ);
    sh_jobs_free(sh);
    for (size_t i = 0; i < sh->nqueue; i++)
        free(sh->queue[i]);
    free(sh->queue);
    if (sh->el != NULL)
        el_end(sh->el);
    sh_hist_free(sh);
    ev_loop_free(sh->loop);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    sigaction(SIGCONT, &old_cont, NULL);
    int status = sh->status;
    if (ftpc_sh_term && status == FTPC_OK)
        status = FTPC_EXIT_XFER;
    memset(sh, 0, sizeof(*sh));
    free(sh);
    return status;
}
