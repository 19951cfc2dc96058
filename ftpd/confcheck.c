/* ftpd --check (confcheck.h). */
#include "confcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirprobe.h"
#include "ftps.h"
#include "homecheck.h"
#include "log.h"
#include "net.h"
#include "progress.h"
#include "strutil.h"

/* The transfer log is opened for appending at start-up, before privileges are dropped. It is
 * tried for real, as access() answers yes to root for /proc, a read-only mount or a FUSE
 * directory that refuses it: an existing log is opened (and closed, nothing written), and a
 * directory that is to hold a new one gets an entry it loses at once. */
static int check_xferlog(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            log_error("cannot open transfer log %s: %s", path, strerror(EISDIR));
            return -1;
        }
        /* non-blocking: a FIFO named as the log must not hold --check */
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 && errno != ENXIO) { /* ENXIO: a FIFO with no reader yet */
            log_error("cannot open transfer log %s: %s", path, strerror(errno));
            return -1;
        }
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (errno != ENOENT) { /* ENOTDIR, EACCES, ELOOP: the open would fail the same way */
        log_error("cannot open transfer log %s: %s", path, strerror(errno));
        return -1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (dirprobe_can_create_in(slash ? dir : ".") < 0) {
        log_error("cannot create transfer log %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_listeners(const struct sockaddr_storage *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[NET_ADDR_STRLEN];
        net_addr_str(&v[i], name, sizeof name);
        printf("%s%s", i ? ", " : "", name);
    }
}

static void print_rate(const char *what, unsigned long long rate)
{
    char text[32];
    if (rate == 0)
        snprintf(text, sizeof text, "none");
    else
        progress_rate_str((double)rate, text, sizeof text);
    printf(", %s %s", what, text);
}

/* Start switches to --user after binding, which only root can do (or a process that runs as
 * that user already, which has nothing to switch). */
static int check_run_as(const ftpd_config *cfg)
{
    if (!cfg->run_as_user || geteuid() == 0)
        return 0;
    const struct passwd *pw = getpwnam(cfg->run_as_user);
    if (!pw || pw->pw_uid == geteuid())
        return 0; /* config_load named an unknown one */
    log_error("--user %s: only root can switch to another user, and this process runs as uid "
              "%u: start ftpd as root, or as %s, or without --user",
              cfg->run_as_user, (unsigned)geteuid(), cfg->run_as_user);
    return -1;
}

/* The account the server serves as: --user, or the one that starts it. */
static const char *run_as_name(const ftpd_config *cfg)
{
    if (cfg->run_as_user)
        return cfg->run_as_user;
    const struct passwd *pw = getpwuid(geteuid());
    static char uid[32];
    if (pw)
        return pw->pw_name;
    snprintf(uid, sizeof uid, "uid %u", (unsigned)geteuid());
    return uid;
}

int check_config(const ftpd_config *cfg, const ftpd_users *users)
{
    int status = 0;
    if (check_run_as(cfg) < 0)
        status = 1;
    if (ftps_check(cfg) < 0)
        status = 1;
    if (cfg->xferlog_file && check_xferlog(cfg->xferlog_file) < 0)
        status = 1;
    if (homecheck_warn_as_user(cfg, users) < 0)
        status = 1;
    if (status != 0) {
        printf("ftpd: configuration check failed: ftpd would not start (see above)\n");
        return status;
    }
    printf("ftpd: configuration OK\n");
    printf("  listen        ");
    print_listeners(cfg->listen, cfg->listen_count);
    if (cfg->listen_implicit_count) {
        printf("; implicit FTPS ");
        print_listeners(cfg->listen_implicit, cfg->listen_implicit_count);
    }
    printf("\n  passive       ");
    if (cfg->pasv_first)
        printf("ports %d-%d", cfg->pasv_first, cfg->pasv_last);
    else
        printf("any port");
    printf(", %s in PASV replies\n",
           cfg->pasv_address ? cfg->pasv_address : "the control connection's address");
    printf("  runs as       %s\n", run_as_name(cfg));
    printf("  accounts      %zu%s%s\n", users->n, cfg->users_file ? " from " : "",
           cfg->users_file ? cfg->users_file : "");
    printf("  anonymous     %s%s\n", cfg->anon_root ? cfg->anon_root : "off",
           cfg->anon_root ? " (read-only)" : "");
    printf("  TLS           %s%s%s\n", cfg->tls ? "offered" : "off",
           cfg->require_tls_login ? ", required for logins" : "",
           cfg->require_tls_data ? ", required for data" : "");
    printf("  transfer log  %s\n", cfg->xferlog_file ? cfg->xferlog_file : "off");
    printf("  limits        %d sessions, %d per address", cfg->max_sessions, cfg->max_per_ip);
    print_rate("max-rate", cfg->max_rate);
    if (cfg->anon_max_rate >= 0)
        print_rate("anon-max-rate", (unsigned long long)cfg->anon_max_rate);
    printf("\n  umask         %03o\n", (unsigned)cfg->umask);
    char age[32];
    if (cfg->login_ban_failures > 0) {
        char ban[32], max[32];
        printf("  login bans    after %d failed logins from an address in %s, for %s",
               cfg->login_ban_failures, str_format_duration(cfg->login_ban_window, age, sizeof age),
               str_format_duration(cfg->login_ban_time, ban, sizeof ban));
        if (cfg->login_ban_max > cfg->login_ban_time)
            printf(", doubling when repeated up to %s",
                   str_format_duration(cfg->login_ban_max, max, sizeof max));
        printf("\n");
    } else {
        printf("  login bans    off\n");
    }
    if (cfg->partial_max_age > 0)
        printf("  partials      removed when unwritten for %s\n",
               str_format_duration(cfg->partial_max_age, age, sizeof age));
    else
        printf("  partials      kept for ever\n");
    printf("The listening addresses are not tried: another program may hold them.\n");
    fflush(stdout);
    return 0;
}
