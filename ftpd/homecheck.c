/* Homes the server's user cannot enter (homecheck.h). */
#include "homecheck.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exposedfiles.h"
#include "log.h"
#include "warnonce.h"

#define HOMES_NAMED 10
#define GROUPS_MAX 1024

/* Start and every SIGHUP look again: a condition that stays is said once (warnonce.h). */
static warnonce said = WARNONCE_INIT;

/* A users file that every user of the host may change, or replace in its folder, lets any of
 * them add an account with every permission, which the next SIGHUP lets in. */
static void warn_writable_users_file(const char *path)
{
    struct stat st;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    const char *open_to_all = NULL;
    if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
        open_to_all = path;
    else if (slash && stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
        open_to_all = dir; /* a sticky one (/tmp) lets no one replace another's file */
    if (open_to_all)
        warnonce_warn(&said,
                      "users file %s: %s is writable by every user of this host, so anyone could "
                      "add an account (chmod o-w %s)",
                      path, open_to_all, open_to_all);
}

void homecheck_warn(const ftpd_config *cfg, const ftpd_users *users)
{
    const char *who = cfg->run_as_user ? cfg->run_as_user : "";
    const char *sp = cfg->run_as_user ? " " : "";
    size_t closed = 0;
    warnonce_begin(&said);
    for (size_t i = 0; i < users->n; i++) {
        const ftpd_user *u = &users->v[i];
        if (faccessat(AT_FDCWD, u->home, X_OK, AT_EACCESS) == 0)
            continue;
        if (++closed <= HOMES_NAMED)
            warnonce_warn(
                &said,
                "account '%s': the server's user%s%s cannot enter its home %s (%s), so its "
                "logins will be refused",
                u->name, sp, who, u->home, strerror(errno));
    }
    if (closed > HOMES_NAMED)
        warnonce_warn(&said, "%zu more accounts whose home the server's user cannot enter",
                      closed - HOMES_NAMED);
    /* Read at start before the drop to --user, but again at each SIGHUP as that user: a file
     * only root reads (mode 0600, say) would fail only at the first reload. */
    if (cfg->run_as_user && cfg->users_file &&
        faccessat(AT_FDCWD, cfg->users_file, R_OK, AT_EACCESS) < 0)
        warnonce_warn(&said,
                      "users file %s: the server's user %s cannot read it (%s), so a SIGHUP cannot "
                      "read it again: let that user's group read it (chgrp, chmod 640)",
                      cfg->users_file, cfg->run_as_user, strerror(errno));
    if (cfg->anon_root && faccessat(AT_FDCWD, cfg->anon_root, X_OK, AT_EACCESS) < 0)
        warnonce_warn(&said,
                      "anonymous: the server's user%s%s cannot enter %s (%s), so anonymous logins "
                      "will be refused",
                      sp, who, cfg->anon_root, strerror(errno));
    if (cfg->users_file)
        warn_writable_users_file(cfg->users_file);
    warnonce_end(&said);
    exposedfiles_warn(cfg, users);
}

int homecheck_run_as_user(const ftpd_config *cfg, void (*fn)(void *ud), void *ud)
{
    if (!cfg->run_as_user || geteuid() != 0) {
        fn(ud);
        return 0;
    }
    struct passwd *pw = getpwnam(cfg->run_as_user);
    if (!pw)
        return 0; /* config_load has said so */
    static gid_t saved[GROUPS_MAX];
    int nsaved = getgroups(GROUPS_MAX, saved);
    gid_t egid = getegid();
    bool taken = nsaved >= 0 && initgroups(pw->pw_name, pw->pw_gid) == 0 &&
                 setegid(pw->pw_gid) == 0 && seteuid(pw->pw_uid) == 0;
    int err = errno;
    if (taken)
        fn(ud);
    else
        log_error("cannot take the identity of %s to check what it may do: %s", cfg->run_as_user,
                  strerror(err));
    if (seteuid(0) < 0 || setegid(egid) < 0 ||
        (nsaved >= 0 && setgroups((size_t)nsaved, saved) < 0)) {
        log_error("cannot give back the identity taken to check what %s may do: %s",
                  cfg->run_as_user, strerror(errno));
        return -1;
    }
    return taken ? 0 : -1;
}

typedef struct home_args {
    const ftpd_config *cfg;
    const ftpd_users *users;
} home_args;

static void warn_homes(void *ud)
{
    const home_args *a = ud;
    homecheck_warn(a->cfg, a->users);
}

int homecheck_warn_as_user(const ftpd_config *cfg, const ftpd_users *users)
{
    home_args a = {cfg, users};
    return homecheck_run_as_user(cfg, warn_homes, &a);
}
