/* ftpd: start-up, privilege drop, signals; then the event loop runs everything. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confcheck.h"
#include "config.h"
#include "ev.h"
#include "ftps.h"
#include "homecheck.h"
#include "listencheck.h"
#include "liveview.h"
#include "log.h"
#include "net.h"
#include "ownfiles.h"
#include "recover.h"
#include "reload.h"
#include "server.h"
#include "stdfd.h"
#include "users.h"

static int drop_privileges(const char *name)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        log_error("--user %s: no such user", name);
        return -1;
    }
    if (geteuid() != 0) {
        /* A configuration that names the account a service manager already starts ftpd
         * as (user = ftp under User=ftp) has nothing to drop; another account is root's
         * to switch to. */
        if (pw->pw_uid == geteuid()) {
            log_info("running as user %s (uid %u) already", name, (unsigned)pw->pw_uid);
            return 0;
        }
        log_error("--user %s: only root can switch to another user, and this process runs "
                  "as uid %u: start ftpd as root, or as %s, or without --user",
                  name, (unsigned)geteuid(), name);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        log_error("cannot drop privileges to %s: %s", name, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        log_error("privileges could not be dropped for good");
        return -1;
    }
    log_info("running as user %s (uid %u)", name, (unsigned)pw->pw_uid);
    return 0;
}

/* Thousands of sessions need thousands of descriptors. */
/* Descriptors a logged-in session holds while idle: its connection and its home. */
#define FDS_PER_IDLE_SESSION 2
/* ...and those of the server itself: listeners, the loop, the workers' wake-ups, logs. */
#define FDS_OF_THE_SERVER 32

/* Raises the soft limit on descriptors to the hard one, and says when even that leaves no
 * room for --max-sessions: past it, logins are refused (421) while the limit promised more. */
static void raise_fd_limit(const ftpd_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long long need =
        (unsigned long long)cfg->max_sessions * FDS_PER_IDLE_SESSION + FDS_OF_THE_SERVER;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        log_warn("max-sessions %d needs about %llu open files (%d a logged-in session, more "
                 "while it transfers), but this process may open %llu: logins past about "
                 "%llu sessions will be refused. Raise the limit (ulimit -n, LimitNOFILE=) or "
                 "lower --max-sessions.",
                 cfg->max_sessions, need, FDS_PER_IDLE_SESSION, (unsigned long long)rl.rlim_cur,
                 rl.rlim_cur > FDS_OF_THE_SERVER
                     ? (unsigned long long)(rl.rlim_cur - FDS_OF_THE_SERVER) / FDS_PER_IDLE_SESSION
                     : 0);
}

/* Tried once, as the user the server runs as: an unprivileged process may pick only the
 * algorithms in net.ipv4.tcp_allowed_congestion_control, and a name may not be built in. */
static bool congestion_usable(const char *name)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = net_set_congestion(fd, name) == 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

static void check_local_congestion(ftpd_config *cfg)
{
    if (cfg->local_congestion[0] == '\0' || congestion_usable(cfg->local_congestion))
        return;
    /* The default on a host that does not let unprivileged processes pick it (one whose
     * default is BBR allows only BBR and reno) is no fault of the set-up. Reno, which the
     * kernel allows everyone unless the administrator took it out, still beats the corked
     * system algorithm there: one 1 GiB RETR to curl, 6 alternating rounds under BBR, MiB/s
     * medians: reno 2560, BBR corked 1940, vsftpd 2100 (ftpd.8). */
    if (errno == EPERM && !cfg->local_congestion_given) {
        if (congestion_usable(FALLBACK_LOCAL_CONGESTION)) {
            log_info("local-congestion %s: not in net.ipv4.tcp_allowed_congestion_control; "
                     "lone downloads to this host use %s",
                     cfg->local_congestion, FALLBACK_LOCAL_CONGESTION);
            snprintf(cfg->local_congestion, sizeof cfg->local_congestion, "%s",
                     FALLBACK_LOCAL_CONGESTION);
            return;
        }
        log_info("local-congestion %s: not in net.ipv4.tcp_allowed_congestion_control, nor "
                 "is %s; data connections on this host keep the system's default",
                 cfg->local_congestion, FALLBACK_LOCAL_CONGESTION);
    } else {
        log_warn("local-congestion %s: %s; data connections on this host keep the system's "
                 "default",
                 cfg->local_congestion, strerror(errno));
    }
    cfg->local_congestion[0] = '\0';
}

/* The demo account uploads into its home's incoming/, which a server started as root and
 * dropped to --user cannot write unless it owns it: say so before the first upload fails. */
static void check_demo_upload_dir(const ftpd_config *cfg, const ftpd_users *users)
{
    const ftpd_user *demo = users_find(users, "demo");
    if (!cfg->demo_account_warning || !demo)
        return;
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s/incoming", demo->home);
    if (n < 0 || (size_t)n >= sizeof dir || access(dir, F_OK) < 0)
        return;
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
        int err = errno;
        /* without --user, the server's user is the one that started it */
        const struct passwd *self = cfg->run_as_user ? NULL : getpwuid(geteuid());
        log_warn("%s: the server's user cannot write there (%s), so the demo account's "
                 "uploads into incoming/ will be refused; give it that folder (chown %s %s)",
                 dir, strerror(err),
                 cfg->run_as_user ? cfg->run_as_user
                 : self           ? self->pw_name
                                  : "USER",
                 dir);
    }
}

/* The start-up's warnings about what the server's user may do, for a start (run as that user
 * already) and for --check (run so for the moment, homecheck.h), which promises the warnings a
 * start gives: a mistyped --local-congestion or an incoming/ the demo cannot write into must
 * not pass the check and then be warned about at the start. The homes are checked apart, by
 * confcheck for --check. */
typedef struct user_checks {
    ftpd_config *cfg;
    const ftpd_users *users;
} user_checks;

static void warn_about_server_user(void *ud)
{
    user_checks *c = ud;
    check_local_congestion(c->cfg);
    check_demo_upload_dir(c->cfg, c->users);
}

/* While anonymous access is on, "ftp" and "anonymous" log in anonymously: an account of
 * that name could never log in, and nothing else would say why. */
static void warn_shadowed_accounts(const ftpd_config *cfg, const ftpd_users *users)
{
    if (!cfg->anon_root)
        return;
    for (size_t i = 0; i < users->n; i++)
        if (users_is_anonymous_name(users->v[i].name))
            log_warn("account '%s' in %s cannot log in while anonymous access is on: the name "
                     "means an anonymous login. Rename it, or use --no-anonymous.",
                     users->v[i].name, cfg->users_file);
}

/* A users file with no account and no anonymous access: a server every login fails on. It
 * may be meant (accounts to come with a SIGHUP), but should not go unsaid. */
static void warn_no_logins(const ftpd_config *cfg, const ftpd_users *users)
{
    if (cfg->users_file && users->n == 0 && !cfg->anon_root)
        log_warn("%s holds no account and anonymous access is off: every login will be "
                 "refused until a SIGHUP reads accounts from it",
                 cfg->users_file);
}

/* The walks that recover and expire partial uploads (recover.h), for a reload to hand new
 * homes to. */
static recovery *upload_walks;

static void users_reloaded(server *srv, const ftpd_users *users)
{
    warn_shadowed_accounts(srv->cfg, users); /* its homes were looked at on the worker */
    warn_no_logins(srv->cfg, users);
    recovery_set_homes(upload_walks, users);
}

static void signal_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    server *srv = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            log_info("signal %u: stopping", si.ssi_signo);
            ev_stop(loop);
        } else if (si.ssi_signo == SIGHUP) {
            reload_config_file(srv);
            reload_users(srv, users_reloaded);
            reload_xferlog(srv);
            ftps_reload(srv);
            /* as the paths lead now: a file replaced by another, a log rotated */
            ownfiles_refresh(srv->cfg, srv->xferlog);
        }
    }
}

int main(int argc, char **argv)
{
    /* A reload (systemctl reload, a log rotation) that comes while the files load, which a
     * large users file makes seconds, would end the server with SIGHUP's default action:
     * held from here, it is read from the signalfd once the server runs. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);
    /* Before the first file or socket, which would take a closed descriptor's number: log
     * lines meant for standard error would go into it. */
    if (stdfd_reserve() < 0) {
        perror("ftpd: /dev/null");
        return 1;
    }
    ftpd_config cfg;
    config_result cr = config_load(&cfg, argc, argv);
    if (cr == CONFIG_EXIT_OK)
        return 0;
    if (cr == CONFIG_ERROR)
        return 2;
    log_level = cfg.log_level;
    /* Clients' files and folders are created from 0666 and 0777 under the configured mask,
     * not under whatever umask the shell or service manager that started ftpd had. */
    umask((mode_t)cfg.umask);

    if (geteuid() == 0 && !cfg.run_as_user) {
        fprintf(stderr, "ftpd: refusing to run as root; pass --user NAME to drop privileges "
                        "after binding\n");
        config_free(&cfg);
        return 2;
    }
    ftpd_users users = {0};
    char err[512];
    if (cfg.users_file && users_load(cfg.users_file, &users, err, sizeof err) < 0) {
        fprintf(stderr, "ftpd: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    warn_shadowed_accounts(&cfg, &users);
    warn_no_logins(&cfg, &users);
    listencheck_warn(&cfg);
    if (cfg.demo_account_warning)
        log_warn("the shipped demo users file (%s) is in use: account 'demo' with password "
                 "'demo' can log in and upload. Use --users FILE for real accounts.",
                 cfg.users_file);
    user_checks checks = {&cfg, &users};
    if (cfg.check_only) {
        raise_fd_limit(&cfg); /* for its warning, as a start gives it */
        bool taken = homecheck_run_as_user(&cfg, warn_about_server_user, &checks) == 0;
        int status = check_config(&cfg, &users);
        if (!taken && status == 0)
            status = 1;
        users_free(&users);
        config_free(&cfg);
        return status;
    }

    raise_fd_limit(&cfg);
    signal(SIGPIPE, SIG_IGN);
    /* An upload past a file size limit (ulimit -f, systemd's LimitFSIZE=) must fail alone,
     * with EFBIG from its write, not end the server and every session with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    /* Signals arrive through a signalfd on the loop; blocking them first keeps them away
     * from the worker threads too. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    if (!loop || sfd < 0) {
        fprintf(stderr, "ftpd: cannot create the event loop: %s\n", strerror(errno));
        return 1;
    }
    server srv;
    int rc = 1;
    if (server_init(&srv, &cfg, &users, loop) < 0)
        goto out;
    ownfiles_refresh(&cfg, srv.xferlog); /* the transfer log is open now */
    if (cfg.run_as_user && drop_privileges(cfg.run_as_user) < 0)
        goto out;
    warn_about_server_user(&checks);
    homecheck_warn(&cfg, &users);
    if (server_start(&srv) < 0)
        goto out;
    ev_add(loop, sfd, EV_READ, signal_cb, &srv);
    log_startup("ftpd " FTP_VERSION " ready (%s backend)", ev_backend_name(loop));
    liveview *view = liveview_start(&srv);
    upload_walks = recovery_start(&users, cfg.partial_max_age);
    rc = ev_run(loop) < 0 ? 1 : 0;
    recovery_stop(upload_walks);
    upload_walks = NULL;
    liveview_stop(view);
    ev_del(loop, sfd, EV_READ);
out:
    server_shutdown(&srv);
    close(sfd);
    ev_loop_free(loop);
    users_free(&users);
    config_free(&cfg);
    return rc;
}
