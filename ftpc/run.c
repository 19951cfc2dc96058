/* Running a parsed command line: the glob expansion phase (list the directories, match the
 * names), then the tasks, then a short wait for the QUITs to be answered. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bars.h"
#include "cli.h"
#include "conn.h"
#include "ctx.h"
#include "ev.h"
#include "rglob.h"
#include "jobs.h"
#include "localdir.h"
#include "lsagain.h"
#include "mirror.h"
#include "stress.h"

#define DRAIN_MS 2500
#define PHASE_DRAIN_MS 1000

/* Runs tasks to their end (or until *stop). Returns false when stopped. */
bool ftpc_run_tasks(ftpc_ctx *ctx, ftpc_task *tasks, size_t n, int jobs,
                    volatile sig_atomic_t *stop, int *status)
{
    ctx->stop = stop;
    /* This phase (a mirror's next, or the tasks after the glob listings) would connect at
     * once: a server with a limit per address would still count the sessions the last one
     * sent QUIT and turn it away. Their close comes a round trip later. Waited for here, not
     * at the end of the phase before: an interrupt during the run's very last QUIT comes
     * after all the work, and ends nothing (ftpc_cli_run's drain); one during this wait stops
     * this phase, which is then said to be interrupted. */
    ev_update_time(ctx->loop);
    long long deadline = ev_now(ctx->loop) + PHASE_DRAIN_MS;
    while (ftpc_conn_closing(ctx) > 0 && ev_now(ctx->loop) < deadline && !*stop)
        if (ev_run_once(ctx->loop, 100) < 0)
            break;
    ftpc_runner *r = ftpc_runner_new(ctx, tasks, n, jobs);
    if (r == NULL) {
        ftpc_msg(ctx, "ftpc: out of memory");
        *status = FTPC_EXIT_LOCAL;
        return true;
    }
    /* Stopped during the wait: nothing of this phase is started, so no task is said to be
     * cut short (ftpc_runner_stop keeps tasks never started silent, counted not started);
     * the run says once that it was interrupted, or a stop there would end it unexplained. */
    if (!*stop)
        ftpc_runner_start(r);
    else if (n > 0 && !ctx->said_interrupted) {
        ftpc_msg(ctx, "ftpc: interrupted");
        ctx->said_interrupted = true;
    }
    bool completed = true;
    /* Bounded by the tasks themselves: every wait has a timeout. */
    while (!ftpc_runner_finished(r)) {
        if (*stop) {
            ftpc_runner_stop(r, "interrupted");
            completed = false;
            break;
        }
        if (ev_run_once(ctx->loop, FTPC_STOP_CHECK_MS) < 0) {
            ftpc_runner_stop(r, "event loop failure");
            break;
        }
    }
    *status = ftpc_runner_status(r);
    ftpc_runner_free(r);
    return completed;
}

static char *display_of(const ftpc_url *base, const char *path, char *out, size_t out_size)
{
    ftpc_url u = *base;
    snprintf(u.path, sizeof(u.path), "%s", path);
    return ftpc_url_display(&u, out, out_size);
}

/* t->display: display_of base and path. -1: out of memory. */
static int set_display_of(ftpc_task *t, const ftpc_url *base, const char *path)
{
    char shown[FTPC_TASK_DISPLAY_MAX];
    display_of(base, path, shown, sizeof(shown));
    return ftpc_task_set(&t->display, shown) != NULL ? 0 : -1;
}

typedef struct task_list {
    ftpc_task *v;
    size_t n, cap;
} task_list;

/* A new task at the end (ftpc_task_init), or NULL when out of memory. */
static ftpc_task *push_task(task_list *l, ftpc_task_kind kind)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ftpc_task *grown = realloc(l->v, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        l->v = grown;
        l->cap = cap;
    }
    ftpc_task *t = &l->v[l->n++];
    ftpc_task_init(t, kind);
    return t;
}

/* The pattern read as a name (its escapes removed: "a\*b" is the name "a*b") and made a
 * pattern again that fnmatch matches with that name alone: every glob character escaped.
 * Returns a malloc'd string, or NULL when out of memory. */
static char *name_pattern(const char *pattern)
{
    char *name = strdup(pattern);
    char *out = name != NULL ? malloc(2 * strlen(name) + 1) : NULL;
    if (out != NULL) {
        ftpc_glob_unescape(name);
        size_t k = 0;
        for (const char *p = name; *p != '\0'; p++) {
            if (strchr("*?[\\", *p) != NULL)
                out[k++] = '\\';
            out[k++] = *p;
        }
        out[k] = '\0';
    }
    free(name);
    return out;
}

/* Appends the tasks for one glob request: one per match, or one already finished with the
 * listing's error or "no file matches". Returns 0, -1 when out of memory, -2 for a usage
 * error (several matches for -o FILE). */
static int add_matches(ftpc_ctx *ctx, ftpc_cli *cli, const ftpc_glob_req *g,
                       const ftpc_task *listing, task_list *out)
{
    char **names = NULL;
    int64_t *sizes = NULL; /* an MLSD listing's: the Total line knows the run's size */
    int nm = 0;
    size_t refused = 0;
    bool literal = false;
    if (listing->err.status == FTPC_OK) {
        const char *text = listing->listing ? listing->listing : "";
        nm = ftpc_glob_match_sized(text, listing->listing_len, listing->listing_mlsd, g->pattern,
                                   &names, &sizes, &refused);
        if (nm == 0) {
            /* As in sh(1), a pattern that matches nothing stands for itself: a name with glob
             * characters of its own ("report [final].pdf", which as a pattern matches only
             * names such as "report f.pdf") is that file, where the directory has it. The
             * pattern's own count of names left out is what the message reports. */
            char *as_name = name_pattern(g->pattern);
            if (as_name == NULL)
                return -1;
            size_t refused_as_name = 0;
            nm = ftpc_glob_match_sized(text, listing->listing_len, listing->listing_mlsd, as_name,
                                       &names, &sizes, &refused_as_name);
            free(as_name);
            /* The user typed this name: a directory of that name must fail as "get DIR"
             * does, not be passed over as a directory a pattern happened to match in an
             * NLST listing (which lists directories too). */
            literal = nm > 0;
        }
        if (nm < 0)
            return -1;
    }
    char shown[FTPC_TASK_DISPLAY_MAX];
    display_of(&g->url, g->url.path, shown, sizeof(shown));
    if (refused > 0)
        ftpc_msg(ctx, "ftpc: %s: %zu matching %s left out: a '/', CR or LF in the name", shown,
                 refused, refused == 1 ? "name" : "names");
    if (nm == 0) {
        ftpc_task *t = push_task(out, g->kind);
        if (t == NULL)
            return -1;
        t->ep = g->ep;
        t->finished = true;
        if (ftpc_task_set(&t->display, shown) == NULL)
            return -1;
        if (listing->err.status != FTPC_OK) {
            /* the runner reported it */
            ftpc_task_fail(t, listing->err.status, "%s", listing->err.msg);
        } else {
            ftpc_task_fail(t, FTPC_EXIT_REMOTE, "%s: no file matches", shown);
            ftpc_msg(ctx, "ftpc: %s", t->err.msg);
        }
        return 0;
    }
    if (cli->output != NULL && !cli->to_stdout && nm > 1) {
        ftpc_msg(ctx, "ftpc: %s matches %d files, but -o names one file (use -O DIR)", shown, nm);
        ftpc_glob_free(names, nm);
        free(sizes);
        return -2;
    }
    int rc = 0;
    for (int k = 0; k < nm; k++) {
        ftpc_task *t = push_task(out, g->kind);
        if (t == NULL) {
            rc = -1;
            break;
        }
        t->ep = g->ep;
        t->url_type = g->url.type == 'a' || g->url.type == 'i' ? g->url.type : 0;
        t->nlst_match = !listing->listing_mlsd && !literal;
        char path[FTPC_URL_PATH_MAX];
        int len = snprintf(path, sizeof(path), "%s%s", g->dir, names[k]);
        if (ftpc_task_set(&t->remote, path) == NULL || set_display_of(t, &g->url, path) < 0) {
            rc = -1;
            break;
        }
        int target = len < 0 || (size_t)len >= sizeof(path)
                         ? -1
                         : ftpc_cli_get_target(cli, t, names[k], cli->to_stdout);
        if (target == -3) {
            rc = -1;
            break;
        }
        if (target < 0) {
            t->finished = true;
            ftpc_task_fail(t, FTPC_EXIT_LOCAL,
                           target == -2 ? "%s: left out: the form of ftpc's part files"
                                        : "%s: unusable file name",
                           t->display);
            ftpc_msg(ctx, "ftpc: %s", t->err.msg);
        } else if (t->kind == FTPC_T_GET && !cli->to_stdout) {
            cli->nfiles++;
            if (sizes != NULL && sizes[k] >= 0) {
                t->size_known = true;
                t->known_size = (uint64_t)sizes[k];
            }
        }
    }
    ftpc_glob_free(names, nm);
    free(sizes);
    return rc;
}

/* Expands the glob requests into tasks: lists each directory (all at once, up to -j), then
 * rebuilds cli->tasks with the matches in command-line order. Returns 0, or the exit code
 * that ends the run (stopped, out of memory, usage error). */
static int expand_globs(ftpc_ctx *ctx, ftpc_cli *cli, volatile sig_atomic_t *stop)
{
    size_t ng = cli->nglobs;
    ftpc_task *lists = calloc(ng, sizeof(*lists));
    if (lists == NULL)
        return FTPC_EXIT_LOCAL;
    int rc = 0;
    for (size_t i = 0; i < ng; i++) {
        ftpc_glob_req *g = &cli->globs[i];
        ftpc_task *t = &lists[i];
        ftpc_task_init(t, FTPC_T_LS);
        t->index = i;
        t->ep = g->ep;
        t->capture = true;
        if (ftpc_task_set(&t->remote, g->dir) == NULL || set_display_of(t, &g->url, g->dir) < 0)
            rc = FTPC_EXIT_LOCAL;
    }
    int status;
    if (rc == 0 && !ftpc_run_tasks(ctx, lists, ng, cli->opts.jobs, stop, &status))
        rc = FTPC_EXIT_XFER;
    for (size_t i = 0; i < ng; i++)
        cli->listing_cut |= lists[i].listing_truncated;

    task_list out = {0};
    size_t gi = 0;
    for (size_t ti = 0; rc == 0 && ti <= cli->ntasks; ti++) {
        for (; rc == 0 && gi < ng && cli->globs[gi].at == ti; gi++) {
            int r = add_matches(ctx, cli, &cli->globs[gi], &lists[gi], &out);
            if (r < 0)
                rc = r == -2 ? FTPC_EXIT_USAGE : FTPC_EXIT_LOCAL;
        }
        if (rc == 0 && ti < cli->ntasks) {
            ftpc_task *t = push_task(&out, cli->tasks[ti].kind);
            if (t == NULL) {
                rc = FTPC_EXIT_LOCAL;
            } else { /* moved: out owns it now */
                *t = cli->tasks[ti];
                ftpc_task_init(&cli->tasks[ti], t->kind);
            }
        }
    }
    for (size_t i = 0; i < ng; i++)
        ftpc_task_release(&lists[i]);
    free(lists);
    if (rc != 0) {
        for (size_t i = 0; i < out.n; i++)
            ftpc_task_release(&out.v[i]);
        free(out.v);
        return rc;
    }
    for (size_t i = 0; i < out.n; i++)
        out.v[i].index = i;
    free(cli->tasks);
    cli->tasks = out.v;
    cli->ntasks = out.n;
    if (ctx->bars != NULL)
        ftpc_bars_set_files(ctx->bars, cli->nfiles);
    return 0;
}

/* The one-shot ls's questions after its listing (lsagain.c) run as it ran. */
typedef struct {
    ftpc_ctx *ctx;
    volatile sig_atomic_t *stop;
} one_shot;

static int run_one(void *ud, ftpc_task *t)
{
    one_shot *o = ud;
    int status = FTPC_OK;
    if (!ftpc_run_tasks(o->ctx, t, 1, 1, o->stop, &status))
        return FTPC_EXIT_XFER;
    return t->finished ? FTPC_OK : status != FTPC_OK ? status : FTPC_EXIT_LOCAL;
}

static int ls_again(ftpc_ctx *ctx, const ftpc_task *t, volatile sig_atomic_t *stop)
{
    one_shot o = {ctx, stop};
    ftpc_err why;
    int status = ftpc_ls_again(t, run_one, &o, stop, &why);
    if (status != FTPC_OK && why.status != FTPC_OK)
        ftpc_msg(ctx, "ftpc: %s", why.msg);
    return status;
}

/* A listing the server cut short (xfer.c) was printed, or its matches transferred, as far
 * as it went; the run does not end as a success, as a mirror over it does not: a script would
 * take the names past the cut for absent. */
static bool any_listing_cut(const ftpc_cli *cli)
{
    bool cut = cli->listing_cut;
    for (size_t i = 0; i < cli->ntasks; i++)
        cut |= cli->tasks[i].kind == FTPC_T_LS && cli->tasks[i].listing_truncated;
    return cut;
}

static bool same_source(const ftpc_task *a, const ftpc_task *b)
{
    return a->ep == b->ep && strcmp(a->remote, b->remote) == 0;
}

/* By local name, then source, then place: one URL named twice is adjacent, its first
 * mention first. */
static int cmp_get_target(const void *a, const void *b)
{
    const ftpc_task *x = *(const ftpc_task *const *)a, *y = *(const ftpc_task *const *)b;
    int c = strcmp(x->local, y->local);
    if (c == 0 && x->ep != y->ep)
        c = x->ep < y->ep ? -1 : 1;
    if (c == 0)
        c = strcmp(x->remote, y->remote);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* Two downloads into one local file (get ftp://a/x ftp://b/x, or patterns over two
 * directories) kept only the last, silently; curl -O does the same, and wget saves the
 * second as x.1, which a script then does not find. As put does for two files of one name,
 * they are refused before anything is fetched, naming both; one URL named twice (a pattern
 * and a name it matches) is fetched once, as put sends one file once. Returns FTPC_OK or
 * FTPC_EXIT_USAGE (said). */
static int check_get_targets(ftpc_ctx *ctx, ftpc_cli *cli)
{
    if (cli->to_stdout || cli->mirror || cli->ntasks < 2)
        return FTPC_OK;
    const ftpc_task **v = malloc(cli->ntasks * sizeof(*v));
    bool *drop = calloc(cli->ntasks, sizeof(*drop));
    if (v == NULL || drop == NULL) {
        free(v);
        free(drop);
        ftpc_msg(ctx, "ftpc: out of memory");
        return FTPC_EXIT_LOCAL;
    }
    size_t n = 0;
    for (size_t i = 0; i < cli->ntasks; i++)
        if (cli->tasks[i].kind == FTPC_T_GET && strcmp(cli->tasks[i].local, "-") != 0)
            v[n++] = &cli->tasks[i];
    qsort(v, n, sizeof(*v), cmp_get_target);
    int status = FTPC_OK;
    for (size_t i = 1; status == FTPC_OK && i < n; i++) {
        if (strcmp(v[i - 1]->local, v[i]->local) != 0)
            continue;
        if (same_source(v[i - 1], v[i])) {
            drop[v[i] - cli->tasks] = true;
            continue;
        }
        ftpc_msg(ctx,
                 "ftpc: %s and %s would both be downloaded as %s, the second replacing the "
                 "first; download one under another name (get -o FILE URL)",
                 v[i - 1]->display, v[i]->display, v[i]->local);
        status = FTPC_EXIT_USAGE;
    }
    free(v);
    size_t kept = 0;
    for (size_t i = 0; status == FTPC_OK && i < cli->ntasks; i++) {
        if (drop[i]) {
            ftpc_task_release(&cli->tasks[i]);
            cli->nfiles--;
            continue;
        }
        if (kept != i) /* moved: the copy left behind is past the end, never released */
            cli->tasks[kept] = cli->tasks[i];
        cli->tasks[kept].index = kept;
        kept++;
    }
    if (status == FTPC_OK && kept != cli->ntasks) {
        cli->ntasks = kept;
        if (ctx->bars != NULL)
            ftpc_bars_set_files(ctx->bars, cli->nfiles);
    }
    free(drop);
    return status;
}

int ftpc_cli_exec(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop)
{
    int status = cli->nglobs > 0 ? expand_globs(ctx, cli, stop) : FTPC_OK;
    if (status == FTPC_OK)
        status = check_get_targets(ctx, cli);
    /* Only a lone ls is asked again (lsagain.c): only it may hold back its own entry, and
     * its refusal is said after that. */
    bool again = status == FTPC_OK && !cli->mirror && cli->ntasks == 1 &&
                 cli->tasks[0].kind == FTPC_T_LS && !cli->tasks[0].capture;
    if (again)
        cli->tasks[0].relist_ok = cli->tasks[0].quiet_refusal = true;
    if (cli->mirror)
        status = ftpc_mirror_run(cli, ctx, stop);
    else if (status == FTPC_OK &&
             !ftpc_run_tasks(ctx, cli->tasks, cli->ntasks, cli->opts.jobs, stop, &status))
        status = FTPC_EXIT_XFER;
    else if (again && cli->tasks[0].finished)
        status = ls_again(ctx, &cli->tasks[0], stop);
    if (status == FTPC_OK && !cli->mirror && any_listing_cut(cli))
        status = FTPC_EXIT_REMOTE;
    return status;
}

int ftpc_cli_run(ftpc_cli *cli, volatile sig_atomic_t *stop)
{
    if (cli->stress_argv != NULL)
        return ftpc_stress_main(cli->stress_argc, cli->stress_argv, stop);
    if (cli->output_dir != NULL && ftpc_mkdir_p(cli->output_dir) < 0) {
        fprintf(stderr, "ftpc: download directory %s: %s\n", cli->output_dir, strerror(errno));
        return FTPC_EXIT_LOCAL;
    }
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "ftpc: cannot create the event loop: %s\n", strerror(errno));
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
                        .stop = stop};
    /* Data on a terminal's standard output and bars on the same terminal would mix; a get
     * whose data goes to a file or a pipe (-o - > file) leaves the terminal to its bar, as
     * curl's meter does. */
    bool files = cli->nfiles > 0 || (cli->nglobs > 0 && !cli->to_stdout) || cli->mirror ||
                 (cli->to_stdout && cli->command != NULL && strcmp(cli->command, "get") == 0 &&
                  isatty(STDOUT_FILENO) != 1);
    if (!files && bc.mode == FTPC_PROGRESS_AUTO)
        bc.mode = FTPC_PROGRESS_NONE;
    ctx.bars = ftpc_bars_new(loop, &bc);
    if (ctx.bars != NULL)
        ftpc_bars_set_files(ctx.bars, cli->nfiles);

    int status = ftpc_cli_exec(cli, &ctx, stop);

    /* Let the QUITs be answered, briefly. */
    ev_update_time(loop);
    long long deadline = ev_now(loop) + DRAIN_MS;
    while (ctx.nconns > 0 && ev_now(loop) < deadline && !*stop)
        if (ev_run_once(loop, 100) < 0)
            break;
    ftpc_conn_free_all(&ctx);
    ftpc_ctx_flush(&ctx);
    ftpc_bars *bars = ctx.bars;
    ctx.bars = NULL;
    ftpc_bars_free(bars);
    ev_loop_free(loop);
    return status;
}
