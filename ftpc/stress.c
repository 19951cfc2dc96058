/* The run of `ftpc stress`: limits, set-up phase, ramp-up, the timed or counted main phase,
 * the live view and the report (see stress.h). */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "endpoint.h"
#include "net.h"
#include "progress.h"
#include "status.h"
#include "stream_tls.h"
#include "stress_client.h"
#include "stress_content.h"
#include "stress_opts.h"
#include "stress_report.h"
#include "stress_view.h"

#define TICK_MS 250
/* The run went, with more errors than --max-errors allows (not one of ftpc's other codes). */
#define STRESS_EXIT_ERRORS 1
#define SETUP_CLIENTS 4
#define FDS_RESERVED 64 /* stdio, epoll, the set-up clients, report files */
#define SCRATCH_SIZE (128u * 1024)
#define ZSCRATCH_SIZE (64u * 1024)
#define RBUF_SIZE (16u * 1024)
/* After Ctrl-C: how long clients get to end their operations (and delete their uploads),
 * then how long the clean-up session gets; a second Ctrl-C quits at once. */
#define INTERRUPT_GRACE_MS 3000
#define INTERRUPT_CLEAN_MS 5000

typedef struct stress_main {
    stress_run run;
    stress_view view;
    ev_timer tick, deadline;
    volatile sig_atomic_t *stop;
    long long end_by_ms; /* after the deadline: clients still busy at this time are cut off */
    bool cut_transfers;  /* ... and their transfers were cut with ABOR: now they are closed */
} stress_main;

static stress_main *the_main(stress_run *run)
{
    return (stress_main *)run; /* run is the first member */
}

void stress_run_message(stress_run *run, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Messages quote the server's replies: no escape sequence of its reaches the terminal. */
    progress_sanitize(msg, sizeof(msg), msg);
    stress_view *v = run->view;
    if (v != NULL && v->enabled) {
        stress_view_message(v, msg);
    } else {
        fprintf(stderr, "%s\n", msg);
        fflush(stderr);
    }
}

static void view_update(stress_main *m)
{
    stress_run *run = &m->run;
    stress_view_sample s = {
        .now_ms = ev_now(run->loop),
        .elapsed_s =
            (double)(stress_now_us() - (run->main_phase ? run->t0_us : run->setup_t0_us)) / 1e6,
        /* The set-up is not part of --duration, and its sessions are not the clients: it
         * shows its own clock, and no client connected yet. */
        .total_s = run->main_phase ? (double)run->o->duration_ms / 1000.0 : 0.0,
        .phase = !run->main_phase ? "setup"
                 : run->ending    ? "ending"
                                  : "run",
        .clients = run->nclients,
        .logged_in = run->main_phase ? run->logged_in : 0,
        .awaiting_greeting = run->main_phase ? run->awaiting_greeting : 0,
        .logging_in = run->main_phase ? run->logging_in - run->awaiting_greeting : 0,
        .inflight = run->inflight,
        .st = &run->st,
    };
    stress_view_update(&m->view, &s);
}

static void kill_all(stress_run *run)
{
    for (int i = 0; i < run->nsetup; i++)
        stress_client_kill(&run->setup[i]);
    if (run->main_phase)
        for (int i = 0; i < run->nclients; i++)
            stress_client_kill(&run->clients[i]);
}

static void end_run(stress_main *m)
{
    stress_run *run = &m->run;
    if (run->ending)
        return;
    run->ending = true;
    long grace = run->o->timeout_ms < 10000 ? run->o->timeout_ms : 10000;
    m->end_by_ms = ev_now(run->loop) + grace;
    for (int i = 0; i < run->nclients; i++)
        stress_client_end(&run->clients[i]);
}

/* A signal once the run is over (a second one, or one during the clean-up): the clean-up is
 * abandoned, nothing more is said. */
static void on_second_stop(int sig)
{
    (void)sig;
    static const char msg[] = "ftpc stress: interrupted; quitting without cleaning up\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(FTPC_EXIT_XFER);
}

static void second_stop_quits(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_second_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The first signal: the run ends now. During the set-up nothing of the workload is
 * on the server yet, so everything closes at once; in the run, clients end their operation
 * (a transfer is cut with ABOR) and delete their uploads, for a few seconds at most. */
static void interrupt_run(stress_main *m)
{
    stress_run *run = &m->run;
    run->interrupted = true;
    second_stop_quits();
    if (!run->main_phase) {
        run->t_end_us = stress_now_us();
        run->aborting = true;
        int cutting = 0;
        for (int i = 0; i < run->nsetup; i++)
            cutting += stress_client_interrupt_setup(&run->setup[i]);
        if (cutting == 0) {
            stress_run_message(run, "ftpc stress: interrupted during the set-up; reporting");
            ev_stop(run->loop);
            return;
        }
        stress_run_message(run, "ftpc stress: interrupted during the set-up; deleting the "
                                "fixtures being uploaded (interrupt again to quit at once)");
        m->end_by_ms = ev_now(run->loop) + INTERRUPT_GRACE_MS;
        return;
    }
    run->stop = stress_mark_now();
    stress_run_message(run, "ftpc stress: interrupted; stopping the clients and cleaning up "
                            "this run's uploads (interrupt again to quit at once)");
    end_run(m);
    long long by = ev_now(run->loop) + INTERRUPT_GRACE_MS;
    if (m->end_by_ms == 0 || by < m->end_by_ms)
        m->end_by_ms = by;
    for (int i = 0; i < run->nclients; i++)
        stress_client_interrupt(&run->clients[i]);
}

static long tick_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)t;
    stress_main *m = ud;
    stress_run *run = &m->run;
    if (*m->stop && !run->interrupted)
        interrupt_run(m);
    if (!run->main_phase && run->aborting && m->end_by_ms && ev_now(loop) >= m->end_by_ms) {
        stress_run_message(run,
                           "ftpc stress: the set-up's cut uploads were not deleted within "
                           "%d s; some may still be on the server",
                           INTERRUPT_GRACE_MS / 1000);
        kill_all(run);
        return EV_TIMER_STOP;
    }
    if (run->ending && m->end_by_ms && ev_now(loop) >= m->end_by_ms) {
        /* Clients still busy this long after the end are cut off (counted, not failed). A
         * transfer is cut as Ctrl-C cuts it, with ABOR, and its upload deleted by its own
         * session, for a few seconds more: reset, it could still be put aside by the
         * server (ftpd keeps a partial) after the clean-up's DELE came. */
        int cutting = 0;
        if (!m->cut_transfers && !run->interrupted) {
            m->cut_transfers = true;
            for (int i = 0; i < run->nclients; i++)
                cutting += stress_client_interrupt(&run->clients[i]);
        }
        if (cutting > 0) {
            m->end_by_ms = ev_now(loop) + INTERRUPT_GRACE_MS;
        } else {
            kill_all(run);
            return EV_TIMER_STOP;
        }
    }
    view_update(m);
    return TICK_MS;
}

static long deadline_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    stress_main *m = ud;
    /* The loop's clock is read once an iteration and in whole milliseconds: a timer can fire
     * a little before the duration has passed since t0 (read to the microsecond), and the
     * report would give a run shorter than asked for. The rest is waited out. */
    uint64_t due_us = m->run.t0_us + (uint64_t)m->run.o->duration_ms * 1000u;
    uint64_t now_us = stress_now_us();
    if (!m->run.ending && now_us < due_us)
        return (long)((due_us - now_us + 999u) / 1000u);
    if (!m->run.ending)
        m->run.deadline = stress_mark_now();
    end_run(m);
    return EV_TIMER_STOP;
}

static void start_main(stress_main *m)
{
    stress_run *run = &m->run;
    const stress_opts *o = run->o;
    if (o->verify == STRESS_VERIFY_HASH && !run->server_hash)
        stress_run_message(run, "ftpc stress: the server's FEAT offers no HASH with SHA-256 "
                                "selected; uploads are read back instead");
    /* Held copies of the fixtures are made now, before the clock starts: made at a
     * download's first bytes, a large one would stall every client in the middle of the run. */
    for (uint32_t i = 0; o->mix[STRESS_OP_GET] > 0 && i < o->files; i++) {
        uint64_t key = stress_key_fixture(o->seed, i);
        (void)stress_expect_fixture(&run->expect, i, key,
                                    stress_size_for(key, o->size_min, o->size_max));
    }
    run->main_phase = true;
    /* The set-up's transfers are not the workload. */
    run->setup_bytes = run->st.bytes_down + run->st.bytes_up;
    run->st.bytes_down = run->st.bytes_up = 0;
    /* Making the held copies took a while (tens of milliseconds for 64 MiB): the loop's
     * clock, read before it, would start the ramp-up and the deadline that much early. */
    ev_update_time(run->loop);
    run->t0_us = run->setup_end_us = run->last_connect_us = run->last_reply_us = stress_now_us();
    run->cpu0 = stress_cpu_now();
    for (int i = 0; i < run->nclients; i++) {
        long delay = o->ramp_ms > 0 && run->nclients > 1
                         ? (long)((long long)o->ramp_ms * i / (run->nclients - 1))
                         : 0;
        stress_client_start(&run->clients[i], delay);
    }
    if (o->duration_ms > 0)
        ev_timer_start(run->loop, &m->deadline, o->duration_ms);
}

static long clean_limit_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)loop;
    (void)t;
    stress_run *run = ud;
    run->clean_failed = true;
    stress_run_message(run, "ftpc stress: the clean-up did not finish within %d s",
                       INTERRUPT_CLEAN_MS / 1000);
    stress_client_kill(&run->setup[0]);
    return EV_TIMER_STOP;
}

/* The clean-up could not delete everything: which names may be left, and where, so that
 * they can be found and deleted by hand (after a lost connection no DELE named them). */
static void say_files_left(const stress_run *run)
{
    const stress_opts *o = run->o;
    char names[200] = "";
    int n = 0;
    if (run->left_gone < run->left_uploads)
        n = snprintf(names, sizeof(names), "ftpc-stress-%" PRIu64 "-%08" PRIx32 "-c*.up", o->seed,
                     run->upload_tag);
    if (o->clean && o->mix[STRESS_OP_GET] > 0 && run->clean_gone < o->files) {
        /* with one --size, its size in the names sets them apart from other runs' */
        char size[24] = "*";
        if (o->size_min == o->size_max)
            snprintf(size, sizeof(size), "%" PRIu64, o->size_min);
        snprintf(names + n, sizeof(names) - (size_t)n, "%sftpc-stress-%" PRIu64 "-f*-%s.dat",
                 n > 0 ? ", " : "", o->seed, size);
    }
    if (names[0] == '\0') {
        if (o->clean && run->made_dir)
            fprintf(stderr, "ftpc stress: --clean: the directory %s is still on the server\n",
                    o->dir);
        else
            fprintf(stderr, "ftpc stress: %s: some of the run's files may still be on the server\n",
                    o->clean ? "--clean" : "clean-up");
        return;
    }
    fprintf(stderr, "ftpc stress: %s: some of the run's files are still on the server: %s in %s\n",
            o->clean ? "--clean" : "clean-up", names, o->dir[0] ? o->dir : "the login directory");
}

/* After the report: one set-up session deletes the uploads of clients stopped before they
 * could (Ctrl-C, or cut off at the end), and with --clean the fixtures and the directory
 * the set-up made. The measured run is over, so a failure here is said but leaves the exit
 * status alone. After Ctrl-C it gets a few seconds; Ctrl-C during it quits at once (each of
 * its commands is bounded by --timeout otherwise). */
static void clean_up(stress_run *run)
{
    second_stop_quits();
    if (run->interrupted || run->left_uploads > 0) {
        /* what there is to delete: no "0 uploads", no directory the run did not make */
        char what[160] = "";
        int n = 0;
        if (run->left_uploads > 0)
            n = snprintf(what, sizeof(what), "%d upload%s of %s clients", run->left_uploads,
                         run->left_uploads == 1 ? "" : "s",
                         run->interrupted ? "stopped" : "cut-off");
        bool fixtures = run->o->clean && run->o->mix[STRESS_OP_GET] > 0;
        bool dir = run->o->clean && run->made_dir;
        if (fixtures || dir)
            snprintf(what + n, sizeof(what) - (size_t)n, "%s%s%s%s", n > 0 ? ", " : "",
                     fixtures ? "the fixtures" : "", fixtures && dir ? " and " : "",
                     dir ? "the directory made" : "");
        if (what[0] != '\0')
            stress_run_message(run, "ftpc stress: cleaning up: %s", what);
    }
    stress_client *c = &run->setup[0];
    stress_client_free(c);
    stress_client_init(c, run, 0, true);
    run->tearing_down = true;
    run->ending = false; /* set when --duration ran out: it would end this session unstarted */
    run->aborting = false;
    run->setup_live = 1;
    ev_timer limit;
    ev_timer_init(&limit, clean_limit_cb, run);
    if (run->interrupted)
        ev_timer_start(run->loop, &limit, INTERRUPT_CLEAN_MS);
    stress_client_start(c, 0);
    ev_run(run->loop);
    ev_timer_stop(run->loop, &limit);
    if (run->clean_failed)
        say_files_left(run);
}

void stress_run_setup_done(stress_run *run)
{
    stress_main *m = the_main(run);
    if (--run->setup_live > 0)
        return;
    if (run->tearing_down) {
        ev_stop(run->loop);
        return;
    }
    if (run->setup_rc != 0 || run->aborting) {
        ev_stop(run->loop);
        return;
    }
    start_main(m);
}

/* A server that refuses or ignores every connect for the timeout, with no session of the
 * run still up, has died or gone away: waiting out every client's back-off (up to 2 s per
 * counted iteration) would only repeat the refusal. A server that turns sessions away
 * after the connect (a per-address limit, 421) is there, and does not end the run. */
void stress_run_connect_failed(stress_run *run, int err)
{
    if (run->ending || run->aborting || run->logged_in > 0 || run->awaiting_greeting > 0)
        return;
    if (stress_now_us() - run->last_connect_us < (uint64_t)run->o->timeout_ms * 1000u)
        return;
    char ep[300];
    ftpc_host_port_str(run->host, run->o->url.port, ep, sizeof(ep));
    run->server_gone = true;
    stress_run_message(run, "ftpc stress: no connection to %s for %g s (%s); ending the run", ep,
                       (double)run->o->timeout_ms / 1000.0, stress_err_meaning(err));
    end_run(the_main(run));
}

/* A server that takes connects (its kernel does, into the listen queue) but has answered
 * no client's login (nothing past a greeting, an AUTH's 234 and a TLS handshake) for twice
 * the timeout,
 * with no session of the run up, has stopped or hung: a counted run would otherwise wait
 * out the timeout for each of its iterations (--iterations 100 for 50 minutes), never
 * ending, in effect. Twice: a server that was only slow for about the timeout (a pause, a
 * burst of expensive handshakes) costs its clients a timeout each and is waited for. A
 * server that greets with a refusal (a 421 of a limit) has said something, and is there. */
void stress_run_login_timed_out(stress_run *run)
{
    if (run->ending || run->aborting || run->logged_in > 0)
        return;
    uint64_t silent_us = stress_now_us() - run->last_reply_us;
    if (silent_us < 2u * (uint64_t)run->o->timeout_ms * 1000u)
        return;
    char ep[300];
    ftpc_host_port_str(run->host, run->o->url.port, ep, sizeof(ep));
    run->server_gone = true;
    stress_run_message(run,
                       "ftpc stress: no reply from %s for %.3g s (it takes connections but "
                       "answers none); ending the run",
                       ep, (double)silent_us / 1e6);
    end_run(the_main(run));
}

void stress_run_client_done(stress_run *run)
{
    if (++run->done < run->nclients)
        return;
    /* After an interrupt or the end of --duration, what the clients still finished in the
     * grace (a login answered, a transfer completed, an upload deleted) is counted: the
     * rates are taken over the time that took, but not over a grace waited out for replies
     * that never came. One operation that a server lost (pyftpdlib under faults) held a 4 s
     * run for 14 s, and the report gave under half the rates the run had had. The CPU time
     * is the one at that end: what the grace cost after it is not in the duration either. */
    stress_mark end = stress_window_end(run->stop, run->deadline, run->counted, stress_mark_now());
    run->t_end_us = end.us;
    run->cpu_end = end.cpu;
    ev_stop(run->loop);
}

/* Descriptors open now beyond standard input, output and error: ones inherited from the
 * parent (a harness, a shell with descriptors open) count against the limit as the clients'
 * do. 0 when /proc cannot say. */
static long descriptors_in_use(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long fd = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && fd > STDERR_FILENO && fd != dirfd(d))
            n++;
    }
    closedir(d);
    return n;
}

/* Raises the soft open-file limit to the hard one; returns how many clients fit. */
static int fit_clients(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    /* Two descriptors a client: control and data. */
    long in_use = descriptors_in_use();
    rlim_t need = (rlim_t)want * 2 + FDS_RESERVED + (rlim_t)in_use;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return want;
    long fit = ((long)rl.rlim_cur - FDS_RESERVED - in_use) / 2;
    if (fit < 0)
        fit = 0;
    char open_already[64] = "";
    if (in_use > 0)
        snprintf(open_already, sizeof(open_already), ", with %ld descriptors open already", in_use);
    if (fit == 0) {
        fprintf(stderr,
                "ftpc stress: the open-file limit is %llu (hard limit %llu)%s: it allows no "
                "client (2 descriptors each, %d reserved). Raise it with `ulimit -n %llu` (as "
                "root, or via the hard limit).\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, open_already,
                FDS_RESERVED, (unsigned long long)need);
        return 0;
    }
    fprintf(stderr,
            "ftpc stress: the open-file limit is %llu (hard limit %llu)%s, which allows %ld "
            "clients (2 descriptors each, %d reserved), not %d; running %ld. Raise it with "
            "`ulimit -n %llu` (as root, or via the hard limit) to run them all.\n",
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, open_already, fit,
            FDS_RESERVED, want, fit, (unsigned long long)need);
    return (int)fit;
}

/* Peak RSS of this program: VmHWM, which exec resets; ru_maxrss would include the image of
 * the process that forked us (a Python harness) when that was bigger. */
static long peak_rss_kib(const struct rusage *ru)
{
    FILE *f = fopen("/proc/self/status", "r");
    long kib = -1;
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                break;
        fclose(f);
    }
    return kib > 0 ? kib : ru->ru_maxrss;
}

/* Random bits for the run's upload names (see stress_run.upload_tag). */
static uint32_t make_upload_tag(void)
{
    uint32_t tag;
    if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) == (ssize_t)sizeof(tag))
        return tag;
    return (uint32_t)getpid() * 2654435761u ^ (uint32_t)stress_now_us();
}

/* Fills run->addrs; on failure says why in why. */
static int resolve(const ftpc_url *u, stress_run *run, char *why, size_t why_size)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", u->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(why, why_size, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL && run->naddrs < STRESS_MAX_ADDRS;
         ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(run->addrs[0]))
            continue;
        memcpy(&run->addrs[run->naddrs++], ai->ai_addr, ai->ai_addrlen);
    }
    freeaddrinfo(res);
    if (run->naddrs == 0) {
        snprintf(why, why_size, "cannot resolve %s: no address", u->host);
        return -1;
    }
    run->addr = run->addrs[0];
    return 0;
}

/* The clients' TLS context; NULL with why said in why. */
static struct ssl_ctx_st *make_tls(const stress_opts *o, char *why, size_t why_size)
{
    SSL_CTX *ctx = stream_tls_client_ctx(why, why_size);
    if (ctx == NULL)
        return NULL;
    if (o->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = o->cacert ? SSL_CTX_load_verify_locations(ctx, o->cacert, NULL)
                       : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(why, why_size, "cannot load CA certificates%s%s", o->cacert ? " from " : "",
                 o->cacert ? o->cacert : "");
        stream_tls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static void mix_str(const stress_opts *o, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < STRESS_OP_COUNT; i++) {
        if (o->mix[i] == 0)
            continue;
        int w = snprintf(out + n, size - n, "%s%s=%u", n ? "," : "", stress_op_name((stress_op)i),
                         o->mix[i]);
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
}

/* Exit status 7: every transfer and listing of the mix failed. Logins count only in a
 * login-only mix: the sessions of a run whose every upload was refused still logged in. */
static bool all_work_failed(const stress_stats *st)
{
    uint64_t ops = stress_stats_ops_total(st), failed = 0;
    for (int i = 0; i < STRESS_OP_COUNT; i++)
        failed += st->op_errors[i];
    uint64_t work = ops - st->op_count[STRESS_OP_LOGIN];
    uint64_t work_failed = failed - st->op_errors[STRESS_OP_LOGIN];
    return work > 0 ? work_failed == work : ops > 0 && failed == ops;
}

/* A report file that cannot be written would only fail after the whole run: try it now.
 * It is emptied too: a run that ends without its report (a second Ctrl-C) must not leave an
 * earlier run's there, which a script would read as this run's result. */
static int check_report_path(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return 0;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "ftpc stress: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* The report is the run's result: one that standard output could not take (a full disk)
 * is said, and fails the run as a local I/O error. */
static int flush_stdout(void)
{
    int e = fflush(stdout) != 0 ? errno : 0;
    if (e == 0 && ferror(stdout))
        e = EIO;
    if (e == 0)
        return 0;
    fprintf(stderr, "ftpc stress: cannot write the report to standard output: %s\n", strerror(e));
    return -1;
}

static int write_report(const char *path, void (*fn)(FILE *, const stress_result *),
                        const stress_result *r)
{
    if (strcmp(path, "-") == 0) {
        fn(stdout, r);
        return flush_stdout();
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "ftpc stress: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fn(f, r);
    if (fclose(f) != 0) {
        fprintf(stderr, "ftpc stress: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int ftpc_stress_main(int argc, char **argv, volatile sig_atomic_t *stop)
{
    static stress_opts o; /* large (URL buffers); one run per process */
    char err[512];
    if (stress_opts_parse(argc, argv, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "ftpc stress: %s\nTry 'ftpc stress --help' for more information.\n", err);
        return FTPC_EXIT_USAGE;
    }
    if (o.show_help) {
        stress_opts_usage(stdout);
        return FTPC_OK;
    }
    if (check_report_path(o.json) < 0 || check_report_path(o.csv) < 0)
        return FTPC_EXIT_LOCAL;
    stress_main *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        fprintf(stderr, "ftpc stress: out of memory\n");
        return FTPC_EXIT_LOCAL;
    }
    stress_run *run = &m->run;
    run->o = &o;
    m->stop = stop;
    const char *trace = getenv("FTPC_STRESS_TRACE");
    run->trace = trace != NULL && trace[0] != '\0' && strcmp(trace, "0") != 0;
    run->upload_tag = make_upload_tag();
    int rc = FTPC_OK;
    bool inited = false;
    stress_stats_init(&run->st);
    for (int i = 0; i < STRESS_CMD_COUNT; i++)
        stress_hist_init(&run->st.cmd[i]);
    snprintf(run->host, sizeof(run->host), "%s", o.url.host);
    /* A run that cannot begin is reported as one whose set-up failed: the report files,
     * created when checked, would be left empty, or with an earlier run's report. */
    int nclients = o.clients;
    char why[sizeof(run->setup_error)];
    if (resolve(&o.url, run, why, sizeof(why)) < 0)
        run->setup_rc = FTPC_EXIT_CONNECT;
    else if ((nclients = fit_clients(o.clients)) < 1)
        run->setup_rc = FTPC_EXIT_LOCAL;
    else if (o.tls && (run->tls = make_tls(&o, why, sizeof(why))) == NULL)
        run->setup_rc = FTPC_EXIT_LOCAL;
    if (run->setup_rc != 0) {
        if (nclients < 1) {
            nclients = o.clients;
            snprintf(why, sizeof(why), "the open-file limit allows no client");
        } else {
            fprintf(stderr, "ftpc stress: %s\n", why);
        }
        snprintf(run->setup_error, sizeof(run->setup_error), "%s", why);
        progress_sanitize(run->setup_error, sizeof(run->setup_error), run->setup_error);
        goto report;
    }
    run->loop = ev_loop_new(EV_BACKEND_AUTO);
    run->nclients = nclients;
    run->nsetup = o.files < SETUP_CLIENTS ? (int)o.files : SETUP_CLIENTS;
    if (o.mix[STRESS_OP_GET] == 0)
        run->nsetup = 1; /* no fixtures to upload: one session checks the directory */
    run->clients = calloc((size_t)nclients, sizeof(*run->clients));
    run->setup = calloc((size_t)run->nsetup, sizeof(*run->setup));
    run->scratch_size = SCRATCH_SIZE;
    run->scratch = malloc(run->scratch_size);
    run->zscratch_size = ZSCRATCH_SIZE;
    run->zscratch = o.compress ? malloc(run->zscratch_size) : NULL;
    buf_init(&run->rbuf, RBUF_SIZE);
    int expect_rc = stress_expect_init(&run->expect, o.files, STRESS_EXPECT_CAP);
    if (run->loop == NULL || run->clients == NULL || run->setup == NULL || run->scratch == NULL ||
        (o.compress && run->zscratch == NULL) || expect_rc < 0) {
        fprintf(stderr, "ftpc stress: out of memory\n");
        rc = FTPC_EXIT_LOCAL;
        goto out;
    }
    stress_view_init(&m->view, STDERR_FILENO, !o.no_view);
    run->view = &m->view;
    ev_timer_init(&m->tick, tick_cb, m);
    ev_timer_init(&m->deadline, deadline_cb, m);
    for (int i = 0; i < nclients; i++)
        stress_client_init(&run->clients[i], run, (uint32_t)i, false);
    for (int i = 0; i < run->nsetup; i++) {
        stress_client_init(&run->setup[i], run, (uint32_t)i, true);
        stress_client_start(&run->setup[i], 0);
    }
    inited = true;
    run->setup_live = run->nsetup;
    run->setup_t0_us = stress_now_us();
    /* A run that never gets past its set-up reports the set-up's CPU over the set-up's time:
     * from process start, loading the TLS context read as "13854% of one core". */
    run->cpu0 = stress_cpu_now();
    ev_timer_start(run->loop, &m->tick, TICK_MS);
    ev_run(run->loop);
    ev_timer_stop(run->loop, &m->tick);
    ev_timer_stop(run->loop, &m->deadline);
    if (run->t_end_us == 0) {
        run->t_end_us = stress_now_us();
        run->cpu_end = stress_cpu_now();
    }
    if (!run->main_phase) {
        /* No client ran: what moved was the set-up's, reported as such and not as a rate. */
        run->setup_end_us = run->t_end_us;
        run->setup_bytes = run->st.bytes_down + run->st.bytes_up;
        run->st.bytes_down = run->st.bytes_up = 0;
    }
    if (run->main_phase)
        view_update(m);
    stress_view_finish(&m->view);

report:;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* Over the duration's window; with no main phase (none ran), all of ftpc's so far. */
    stress_cpu cpu = run->main_phase ? stress_cpu_between(run->cpu0, run->cpu_end)
                                     : stress_cpu_between(run->cpu0, stress_cpu_now());
    char target[FTPC_URL_PATH_MAX + 600], mix[128], size[64];
    /* The directory the run worked in: --dir's, not the URL's path. */
    static ftpc_url worked; /* large, as o */
    worked = o.url;
    snprintf(worked.path, sizeof(worked.path), "%s", o.dir);
    ftpc_url_display(&worked, target, sizeof(target));
    /* A name in Latin-1, say: the terminal and the JSON (UTF-8 only) get '?' for its bytes. */
    progress_sanitize(target, sizeof(target), target);
    mix_str(&o, mix, sizeof(mix));
    if (o.size_min == o.size_max)
        snprintf(size, sizeof(size), "%" PRIu64, o.size_min);
    else
        snprintf(size, sizeof(size), "%" PRIu64 "-%" PRIu64, o.size_min, o.size_max);
    if (run->setup_rc != 0)
        rc = run->setup_rc;
    else if (run->st.verify_failures > 0)
        rc = FTPC_EXIT_VERIFY;
    else if (run->server_gone)
        rc = FTPC_EXIT_CONNECT;
    else if (run->interrupted || all_work_failed(&run->st))
        rc = FTPC_EXIT_XFER;
    else if (o.max_errors >= 0 && stress_stats_errors_total(&run->st) > (uint64_t)o.max_errors)
        rc = STRESS_EXIT_ERRORS;
    stress_result r = {
        .target = target,
        .clients = nclients,
        .clients_requested = o.clients,
        .duration_s = run->main_phase ? (double)(run->t_end_us - run->t0_us) / 1e6 : 0.0,
        .iterations = o.iterations,
        .seed = o.seed,
        .st = &run->st,
        .vfail = run->vfail,
        .nvfail = run->nvfail,
        .unfinished = run->unfinished,
        .never_in = run->never_in,
        .never_started = run->never_started,
        .cpu_user_s = cpu.user_s,
        .cpu_sys_s = cpu.sys_s,
        .peak_rss_kib = peak_rss_kib(&ru),
        .exit_status = rc,
        .max_errors = o.max_errors,
        .mix = mix,
        .mix_weights = o.mix,
        .size = size,
        .tls = o.tls,
        .compress = o.compress,
        .setup_error = run->setup_error,
        .no_run = !run->main_phase,
        .setup_s = (double)(run->setup_end_us - run->setup_t0_us) / 1e6,
        .setup_bytes = run->setup_bytes,
        .interrupted = !run->interrupted ? NULL
                       : run->main_phase ? "run"
                                         : "setup",
    };
    /* The text goes to standard output unless a machine format claimed it. */
    bool stdout_taken = (o.json && strcmp(o.json, "-") == 0) || (o.csv && strcmp(o.csv, "-") == 0);
    stress_report_text(stdout_taken ? stderr : stdout, &r);
    if (stdout_taken)
        fflush(stderr);
    else if (flush_stdout() < 0 && rc == FTPC_OK)
        r.exit_status = rc = FTPC_EXIT_LOCAL;
    if (o.json && write_report(o.json, stress_report_json, &r) < 0 && rc == FTPC_OK)
        rc = FTPC_EXIT_LOCAL;
    if (o.csv && write_report(o.csv, stress_report_csv, &r) < 0 && rc == FTPC_OK)
        rc = FTPC_EXIT_LOCAL;
    if (run->setup_rc == 0 && (o.clean || run->left_uploads > 0))
        clean_up(run);
out:
    if (inited) {
        for (int i = 0; i < nclients; i++)
            stress_client_free(&run->clients[i]);
        for (int i = 0; i < run->nsetup; i++)
            stress_client_free(&run->setup[i]);
    }
    free(run->clients);
    free(run->setup);
    free(run->scratch);
    free(run->zscratch);
    stress_expect_free(&run->expect);
    buf_free(&run->rbuf);
    if (run->loop)
        ev_loop_free(run->loop);
    if (run->tls)
        stream_tls_ctx_free(run->tls);
    free(m);
    return rc;
}
