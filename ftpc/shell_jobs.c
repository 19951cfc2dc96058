/* Transfer jobs of the shell. A transfer command becomes a one-shot command line (URLs with
 * the session's credentials and absolute paths), parsed by the one-shot parser and run by
 * the one-shot machinery (ftpc_cli_exec) on a loop of its own in a worker thread: mirror and
 * glob expansion are sequential code that runs the loop to completion at each step, so
 * running them on the shell's loop would stall the prompt (or, with the prompt fed from
 * inside those steps, nest commands in one another). A job shares nothing with the shell but
 * this record: its stop flag and wake-up eventfd (kill), a memfd where a background job's
 * display writes its summary lines and messages (relayed above the prompt by the main
 * thread), a progress snapshot under a mutex (jobs), and the done flag plus the shell's
 * eventfd (the end). A foreground job runs the same way while the shell waits for it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bars.h"
#include "localdir.h"
#include "progress.h"
#include "termsize.h"
#include "shell_int.h"

#define SNAPSHOT_MS 200
#define RELAY_MS 250
#define DRAIN_MS 2500
#define PROGRESS_MAX 4096
/* jobs indents a job's progress lines by this much under its heading */
#define PROGRESS_INDENT 4
/* wait redraws the jobs it waits for this often */
#define WAIT_REDRAW_MS 250

struct sh_job {
    sh_job *next;
    int id;
    char what[512];
    char **argv;
    int argc;
    ftpc_cli cli;
    bool background;
    pthread_t th;
    bool started, joined;
    volatile sig_atomic_t stop;
    bool killed;
    int wake_fd;   /* eventfd on the job's loop */
    int msg_fd;    /* memfd (background), -1 in the foreground */
    off_t msg_off; /* relayed up to here */
    int notify_fd; /* the shell's eventfd */
    pthread_mutex_t mu;
    char progress[PROGRESS_MAX];
    atomic_bool done;
    int status;
    struct timespec start;
};

/* ---- the worker thread ---- */

/* A job's thread takes one signal, sent to it alone when it is stopped: a no-op whose only
 * effect is to end a system call that blocks with EINTR, so that the thread sees its stop
 * flag. That is a write to a standard output that could not be opened again without blocking
 * (another user's pipe, stdsink.h), which nothing else would end while its reader waits: the
 * shell's Ctrl-C comes to the shell's thread, and the job's loop is not running. SIGURG:
 * ignored where no handler is set, and sent by the kernel only to a socket's owner
 * (F_SETOWN), which ftpc never sets. */
#define NUDGE_SIG SIGURG
/* how often a stopped job that has not ended is sent it again */
#define JOB_RENUDGE_MS 20

static void nudge_handler(int sig)
{
    (void)sig;
}

typedef struct snap_ud {
    sh_job *j;
    ftpc_ctx *ctx;
} snap_ud;

static void wake_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n; /* returning from the wait is the point: the stop flag is checked next */
}

/* The width a progress line may take in jobs' listing: the shell's terminal, read at each
 * snapshot so that a resized window is followed, less the indent. */
static int snapshot_width(void)
{
    int w = term_size_of(STDOUT_FILENO).cols - PROGRESS_INDENT;
    return w < TERM_MIN_COLS ? TERM_MIN_COLS : w;
}

static long snap_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    snap_ud *s = ud;
    char snapbuf[PROGRESS_MAX];
    ftpc_bars_snapshot(s->ctx->bars, snapbuf, sizeof(snapbuf), snapshot_width());
    pthread_mutex_lock(&s->j->mu);
    memcpy(s->j->progress, snapbuf, sizeof(snapbuf));
    pthread_mutex_unlock(&s->j->mu);
    return SNAPSHOT_MS;
}

static int run_job(sh_job *j)
{
    ftpc_cli *cli = &j->cli;
    if (cli->output_dir != NULL && ftpc_mkdir_p(cli->output_dir) < 0) {
        dprintf(j->background ? j->msg_fd : STDERR_FILENO, "ftpc: download directory %s: %s\n",
                cli->output_dir, strerror(errno));
        return FTPC_EXIT_LOCAL;
    }
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    if (loop == NULL) {
        dprintf(j->background ? j->msg_fd : STDERR_FILENO,
                "ftpc: cannot create an event loop: %s\n", strerror(errno));
        return FTPC_EXIT_LOCAL;
    }
    ftpc_ctx ctx;
    ftpc_ctx_init(&ctx, loop, &cli->opts);
    ftpc_bars_cfg bc = {.fd = STDERR_FILENO,
                        .mode = cli->opts.progress,
                        .quiet = cli->opts.quiet,
                        .tty = -1,
                        .width = 0,
                        .color = -1,
                        .unicode = -1,
                        .stop = &j->stop};
    bool files = cli->nfiles > 0 || (cli->nglobs > 0 && !cli->to_stdout) || cli->mirror;
    if (j->background) {
        /* Summary lines and messages only, into the memfd; progress through snapshots. */
        bc.fd = j->msg_fd;
        ctx.out_fd = j->msg_fd;
        bc.mode = FTPC_PROGRESS_NONE;
        bc.tty = 0;
        bc.color = 0;
    } else if (!files && bc.mode == FTPC_PROGRESS_AUTO) {
        bc.mode = FTPC_PROGRESS_NONE;
    }
    ctx.bars = ftpc_bars_new(loop, &bc);
    if (ctx.bars != NULL)
        ftpc_bars_set_files(ctx.bars, cli->nfiles);
    ev_add(loop, j->wake_fd, EV_READ, wake_cb, j);
    snap_ud su = {.j = j, .ctx = &ctx};
    ev_timer snap;
    ev_timer_init(&snap, snap_cb, &su);
    if (j->background && ctx.bars != NULL)
        ev_timer_start(loop, &snap, 100);

    int status = ftpc_cli_exec(cli, &ctx, &j->stop);

    ev_timer_stop(loop, &snap);
    pthread_mutex_lock(&j->mu);
    j->progress[0] = '\0';
    pthread_mutex_unlock(&j->mu);
    /* Let the QUITs be answered, briefly. */
    ev_update_time(loop);
    long long deadline = ev_now(loop) + DRAIN_MS;
    while (ctx.nconns > 0 && ev_now(loop) < deadline && !j->stop)
        if (ev_run_once(loop, 100) < 0)
            break;
    ev_del(loop, j->wake_fd, EV_READ | EV_WRITE);
    ftpc_conn_free_all(&ctx);
    ftpc_ctx_flush(&ctx);
    ftpc_bars *bars = ctx.bars;
    ctx.bars = NULL;
    ftpc_bars_free(bars);
    ev_loop_free(loop);
    return status;
}

static void *job_thread(void *p)
{
    sh_job *j = p;
    sigset_t nudge;
    sigemptyset(&nudge);
    sigaddset(&nudge, NUDGE_SIG);
    pthread_sigmask(SIG_UNBLOCK, &nudge, NULL);
    j->status = run_job(j);
    atomic_store(&j->done, true);
    uint64_t one = 1;
    ssize_t n = write(j->notify_fd, &one, sizeof(one));
    (void)n;
    return NULL;
}

/* ---- the shell's side ---- */

/* A job has endpoints of its own: "no HASH on this server" said by one is remembered for the
 * session's server, for the next job. Only once the job's thread is joined. */
static void keep_no_hash_told(shell *sh, const sh_job *j)
{
    if (sh->ep == NULL)
        return;
    for (const ftpc_endpoint *ep = j->cli.endpoints; ep != NULL; ep = ep->next)
        if (ep->warned_no_hash && ep->port == sh->ep->port && strcmp(ep->host, sh->ep->host) == 0 &&
            strcmp(ep->user, sh->ep->user) == 0)
            sh->ep->warned_no_hash = true;
}

static void job_free(sh_job *j)
{
    if (j == NULL)
        return;
    if (j->started && !j->joined)
        pthread_join(j->th, NULL);
    if (j->wake_fd >= 0)
        close(j->wake_fd);
    if (j->msg_fd >= 0)
        close(j->msg_fd);
    ftpc_cli_free(&j->cli);
    for (int i = 0; i < j->argc; i++) {
        /* The URLs hold the password. */
        memset(j->argv[i], 0, strlen(j->argv[i]));
        free(j->argv[i]);
    }
    free(j->argv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Wakes a job's loop to see its stop flag, and ends a blocking write it may be in. */
static void wake(sh_job *j)
{
    uint64_t one = 1;
    ssize_t n = write(j->wake_fd, &one, sizeof(one));
    (void)n;
    if (j->started && !atomic_load(&j->done))
        pthread_kill(j->th, NUDGE_SIG);
}

static void join(sh_job *j)
{
    if (j->started && !j->joined) {
        pthread_join(j->th, NULL);
        j->joined = true;
    }
}

/* Relays the complete lines a background job wrote since last time (all of it at the end). */
static void relay(shell *sh, sh_job *j, bool all)
{
    if (j->msg_fd < 0)
        return;
    struct stat st;
    if (fstat(j->msg_fd, &st) < 0 || st.st_size <= j->msg_off)
        return;
    char chunk[16384];
    while (j->msg_off < st.st_size) {
        size_t want = (size_t)(st.st_size - j->msg_off);
        if (want > sizeof(chunk) - 1)
            want = sizeof(chunk) - 1;
        ssize_t n = pread(j->msg_fd, chunk, want, j->msg_off);
        if (n <= 0)
            return;
        size_t used = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] != '\n')
                continue;
            chunk[i] = '\0';
            char line[sizeof(chunk) + 16];
            snprintf(line, sizeof(line), "[%d] %s", j->id, chunk + used);
            sh_notify(sh, line);
            used = (size_t)i + 1;
        }
        if (used == 0) {
            if (!all && (size_t)n < sizeof(chunk) - 1)
                return; /* half a line: wait for the rest */
            chunk[n] = '\0';
            char line[sizeof(chunk) + 16];
            snprintf(line, sizeof(line), "[%d] %s", j->id, chunk);
            sh_notify(sh, line);
            used = (size_t)n;
        }
        j->msg_off += (off_t)used;
    }
}

static long relay_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    shell *sh = ud;
    /* Only wakes the main loop, which relays after the iteration (outside callbacks). */
    return sh->jobs != NULL ? RELAY_MS : EV_TIMER_STOP;
}

int sh_jobs_init(shell *sh)
{
    sh->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sh->notify_fd < 0)
        return -1;
    ev_timer_init(&sh->relay, relay_cb, sh);
    sh->next_job = 1;
    return 0;
}

void sh_jobs_free(shell *sh)
{
    while (sh->jobs != NULL) {
        sh_job *j = sh->jobs;
        sh->jobs = j->next;
        job_free(j);
    }
    ev_timer_stop(sh->loop, &sh->relay);
    if (sh->notify_fd >= 0)
        close(sh->notify_fd);
    sh->notify_fd = -1;
}

static double elapsed_s(const sh_job *j)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - j->start.tv_sec) + (double)(now.tv_nsec - j->start.tv_nsec) / 1e9;
}

int sh_job_run(shell *sh, char **argv, int argc, bool background, const char *what)
{
    sh_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        for (int i = 0; i < argc; i++)
            free(argv[i]);
        free(argv);
        return sh_fail(sh, FTPC_EXIT_LOCAL, "out of memory");
    }
    j->argv = argv;
    j->argc = argc;
    j->wake_fd = j->msg_fd = -1;
    j->background = background;
    j->notify_fd = sh->notify_fd;
    pthread_mutex_init(&j->mu, NULL);
    snprintf(j->what, sizeof(j->what), "%s", what);
    char err[512];
    if (ftpc_cli_parse(argc, argv, &j->cli, err, sizeof(err)) < 0) {
        int rc = sh_fail(sh, FTPC_EXIT_USAGE, "%s", err);
        job_free(j);
        return rc;
    }
    /* The type is the session's (binary / ascii commands). */
    j->cli.opts.ascii = sh->opts.ascii;
    j->cli.opts.no_hash_told = sh->ep != NULL && sh->ep->warned_no_hash;
    j->cli.opts.shell_job = true;
    j->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (background)
        j->msg_fd = memfd_create("ftpc-job", MFD_CLOEXEC);
    if (j->wake_fd < 0 || (background && j->msg_fd < 0)) {
        int rc = sh_fail(sh, FTPC_EXIT_LOCAL, "cannot set up the job: %s", strerror(errno));
        job_free(j);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = nudge_handler; /* no SA_RESTART: the blocked call returns */
    sigemptyset(&sa.sa_mask);
    sigaction(NUDGE_SIG, &sa, NULL);
    /* The worker must not take the shell's signals: block them while it is created (it
     * inherits the mask), so Ctrl-C always reaches the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int prc = pthread_create(&j->th, NULL, job_thread, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        int rc = sh_fail(sh, FTPC_EXIT_LOCAL, "cannot start a thread: %s", strerror(prc));
        job_free(j);
        return rc;
    }
    j->started = true;
    if (!background) {
        fflush(stdout);
        while (!atomic_load(&j->done)) {
            if (ftpc_sh_intr) {
                /* Ctrl-C stops this transfer (a partial download stays for reget). */
                ftpc_sh_intr = 0;
                j->stop = 1;
                j->killed = true;
            }
            /* Again each round: a signal that came just before the thread's write began
             * did not end it. */
            if (j->killed)
                wake(j);
            if (ev_run_once(sh->loop, FTPC_STOP_CHECK_MS) < 0)
                break;
        }
        join(j);
        keep_no_hash_told(sh, j);
        int rc = j->status;
        if (j->killed)
            rc = FTPC_EXIT_XFER; /* the transfer said so */
        if (rc != FTPC_OK && !sh->tty)
            /* The transfer said what failed; a script also wants to know which line. */
            sh_fail(sh, rc, "failed (exit status %d)", rc);
        sh_record(sh, rc);
        job_free(j);
        return rc;
    }
    j->id = sh->next_job++;
    sh_job **tail = &sh->jobs;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = j;
    if (!ev_timer_active(&sh->relay))
        ev_timer_start(sh->loop, &sh->relay, RELAY_MS);
    sh_out(sh, "[%d] %s", j->id, j->what);
    return FTPC_OK;
}

void sh_jobs_poll(shell *sh)
{
    for (sh_job **pp = &sh->jobs; *pp != NULL;) {
        sh_job *j = *pp;
        relay(sh, j, false);
        if (!atomic_load(&j->done)) {
            if (j->killed)
                wake(j); /* again: see NUDGE_SIG */
            pp = &j->next;
            continue;
        }
        join(j);
        keep_no_hash_told(sh, j);
        relay(sh, j, true);
        char line[700];
        if (j->killed)
            snprintf(line, sizeof(line), "[%d] Stopped  %s", j->id, j->what);
        else if (j->status == FTPC_OK)
            snprintf(line, sizeof(line), "[%d] Done     %s (%.1f s)", j->id, j->what, elapsed_s(j));
        else
            snprintf(line, sizeof(line), "[%d] Exit %d   %s", j->id, j->status, j->what);
        sh_notify(sh, line);
        if (!j->killed)
            sh_record(sh, j->status);
        *pp = j->next;
        job_free(j);
    }
}

int sh_jobs_running(const shell *sh)
{
    int n = 0;
    for (const sh_job *j = sh->jobs; j != NULL; j = j->next)
        n++;
    return n;
}

static sh_job *find(shell *sh, int id)
{
    for (sh_job *j = sh->jobs; j != NULL; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

/* A job as jobs lists it: a heading, then its progress lines indented under it (or what it
 * is doing before its first transfer), each line ending in '\n'. Returns the length. */
static size_t format_job(sh_job *j, char *out, size_t size)
{
    char prog[PROGRESS_MAX];
    pthread_mutex_lock(&j->mu);
    memcpy(prog, j->progress, sizeof(prog));
    pthread_mutex_unlock(&j->mu);
    size_t len = 0;
    int n = snprintf(out, size, "[%d] %-8s %s (%.0f s)\n", j->id,
                     j->killed ? "Stopping" : "Running", j->what, elapsed_s(j));
    len = n > 0 && (size_t)n < size ? (size_t)n : size - 1;
    if (prog[0] == '\0') {
        n = snprintf(out + len, size - len,
                     "    (no transfer running yet: connecting or "
                     "listing)\n");
        return len + (n > 0 && (size_t)n < size - len ? (size_t)n : 0);
    }
    for (char *line = prog; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        n = snprintf(out + len, size - len, "%*s%s\n", PROGRESS_INDENT, "", line);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return len;
}

int sh_jobs_list(shell *sh)
{
    sh_jobs_poll(sh);
    if (sh->jobs == NULL) {
        sh_out(sh, "No background jobs.");
        return FTPC_OK;
    }
    char text[PROGRESS_MAX + 1024];
    for (sh_job *j = sh->jobs; j != NULL; j = j->next) {
        fwrite(text, 1, format_job(j, text, sizeof(text)), stdout);
        fflush(stdout);
    }
    return FTPC_OK;
}

/* What `wait` shows on a terminal while it waits: the awaited jobs as jobs lists them, each
 * line cut to the terminal's width so that none wraps, and no more lines than the terminal
 * has rows (less one for the cursor), so that the next redraw can go up over all of them.
 * Returns the text drawn (NULL when none), for erase_waiting. */
static char *draw_waiting(shell *sh, int id, size_t *drawn_len)
{
    term_size ts = term_size_of(STDOUT_FILENO);
    int max_lines = ts.rows - 2 > 1 ? ts.rows - 2 : 1;
    char text[PROGRESS_MAX + 1024];
    char *frame = NULL;
    size_t len = 0;
    int lines = 0;
    for (sh_job *j = sh->jobs; j != NULL && lines < max_lines; j = j->next) {
        if (id > 0 && j->id != id)
            continue;
        size_t n = format_job(j, text, sizeof(text));
        char *grown = realloc(frame, len + n + 1);
        if (grown == NULL)
            break;
        frame = grown;
        for (char *line = text; line < text + n && lines < max_lines;) {
            char *nl = memchr(line, '\n', (size_t)(text + n - line));
            *nl = '\0';
            size_t used;
            size_t keep = progress_fit_prefix(line, (size_t)ts.cols - 1, &used);
            memcpy(frame + len, line, keep);
            len += keep;
            frame[len++] = '\n';
            lines++;
            line = nl + 1;
        }
    }
    if (frame != NULL)
        sh_write_all(STDOUT_FILENO, frame, len);
    *drawn_len = len;
    return frame;
}

/* Takes away what draw_waiting drew: the rows its lines take at the terminal's width now,
 * as a window made narrower since rewraps them onto more rows. Frees frame. */
static void erase_waiting(char *frame, size_t len)
{
    if (frame == NULL || len == 0) {
        free(frame);
        return;
    }
    size_t cols = (size_t)term_size_of(STDOUT_FILENO).cols, rows = 0;
    for (const char *p = frame, *end = frame + len, *nl; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        rows += progress_text_rows(p, (size_t)(nl - p), cols, NULL);
    }
    char seq[40];
    int n = snprintf(seq, sizeof(seq), "\r\x1b[%zuA\x1b[J", rows);
    sh_write_all(STDOUT_FILENO, seq, (size_t)n);
    free(frame);
}

int sh_jobs_wait(shell *sh, int id)
{
    if (id > 0 && find(sh, id) == NULL)
        return sh_fail(sh, FTPC_EXIT_USAGE, "no job %d", id);
    /* On a terminal the jobs' progress stays in view while the shell waits; it is taken
     * away before any other line (a job's end, its messages) and drawn again after. */
    bool live = sh->tty && isatty(STDOUT_FILENO);
    char *drawn = NULL;
    size_t drawn_len = 0;
    for (;;) {
        erase_waiting(drawn, drawn_len);
        drawn = NULL;
        drawn_len = 0;
        sh_jobs_poll(sh);
        bool pending = id > 0 ? find(sh, id) != NULL : sh->jobs != NULL;
        if (!pending || ftpc_sh_term)
            break;
        if (ftpc_sh_intr) {
            ftpc_sh_intr = 0;
            sh_out(sh, "(the jobs go on in the background)");
            break;
        }
        fflush(stdout);
        if (live)
            drawn = draw_waiting(sh, id, &drawn_len);
        if (ev_run_once(sh->loop, live ? WAIT_REDRAW_MS : FTPC_STOP_CHECK_MS) < 0)
            break;
    }
    erase_waiting(drawn, drawn_len);
    return FTPC_OK;
}

int sh_jobs_kill(shell *sh, int id)
{
    sh_job *j = find(sh, id);
    if (j == NULL)
        return sh_fail(sh, FTPC_EXIT_USAGE, "no job %d", id);
    if (atomic_load(&j->done)) {
        sh_jobs_poll(sh); /* it ended meanwhile: say how */
        return FTPC_OK;
    }
    j->stop = 1;
    j->killed = true;
    wake(j);
    sh_out(sh, "[%d] stopping %s", j->id, j->what);
    return FTPC_OK;
}

void sh_jobs_stop_all(shell *sh)
{
    for (sh_job *j = sh->jobs; j != NULL; j = j->next) {
        if (!atomic_load(&j->done)) {
            j->stop = 1;
            j->killed = true;
            wake(j);
        }
    }
    for (sh_job *j = sh->jobs; j != NULL; j = j->next) {
        /* Each stops at its next loop iteration, or once a blocking write is ended, which a
         * signal that came just before the write began did not do: sent again until then. */
        while (j->started && !atomic_load(&j->done)) {
            (void)poll(NULL, 0, JOB_RENUDGE_MS);
            wake(j);
        }
        join(j);
    }
}
