/* The server's own files that its clients could download (exposedfiles.h). */
#include "exposedfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "warnonce.h"

#define HOMES_NAMED 3

/* Start and every SIGHUP look again: a file that stays where it is is said once
 * (warnonce.h). */
static warnonce said = WARNONCE_INIT;

/* The path with its links resolved; one that does not exist yet (a transfer log made at the
 * first start) is resolved by its folder. NULL if neither resolves. */
static char *resolved(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || errno != ENOENT)
        return real;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return NULL;
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= sizeof dir)
        return NULL;
    char *real_dir = realpath(dir, NULL);
    if (!real_dir)
        return NULL;
    size_t len = strlen(real_dir) + strlen(slash) + 1;
    char *joined = malloc(len);
    if (joined)
        snprintf(joined, len, "%s%s", real_dir, slash);
    free(real_dir);
    return joined;
}

/* Whether path lies below the folder tree (both resolved). */
static bool lies_in(const char *path, const char *tree)
{
    size_t n = strlen(tree);
    if (n == 1 && tree[0] == '/')
        return true;
    return strncmp(path, tree, n) == 0 && path[n] == '/';
}

static void warn_file(const ftpd_config *cfg, const ftpd_users *users, const char *what,
                      const char *holds, const char *path)
{
    char *real = resolved(path);
    if (!real)
        return;
    /* one the server's user cannot read is no client's either */
    if (faccessat(AT_FDCWD, real, R_OK, AT_EACCESS) < 0 && errno != ENOENT) {
        free(real);
        return;
    }
    if (cfg->anon_root && lies_in(real, cfg->anon_root))
        warnonce_warn(
            &said,
            "%s %s lies in the anonymous area %s, where anonymous clients could download "
            "it (%s): ftpd refuses them that file, but not a copy of it, nor a file put in "
            "its place before the next SIGHUP; keep it outside every served folder",
            what, path, cfg->anon_root, holds);
    size_t named = 0, more = 0;
    for (size_t i = 0; i < users->n; i++) {
        const ftpd_user *u = &users->v[i];
        if (!(u->perms & PERM_READ) || !lies_in(real, u->home))
            continue;
        if (named++ < HOMES_NAMED)
            warnonce_warn(
                &said,
                "%s %s lies in the home of account '%s' (%s), who could download it "
                "(%s): ftpd refuses that file, but not a copy of it, nor a file put in its "
                "place before the next SIGHUP; keep it outside every served folder",
                what, path, u->name, u->home, holds);
        else
            more++;
    }
    if (more > 0)
        warnonce_warn(&said, "%s %s lies in the homes of %zu more accounts", what, path, more);
    free(real);
}

void exposedfiles_warn(const ftpd_config *cfg, const ftpd_users *users)
{
    warnonce_begin(&said);
    if (cfg->users_file)
        warn_file(cfg, users, "users file", "the password hashes", cfg->users_file);
    const char *key = cfg->tls_key ? cfg->tls_key : cfg->tls_cert;
    if (key) /* even with TLS off: the operator named it, and it is out there */
        warn_file(cfg, users, "TLS private key", "the key of the server's certificate", key);
    if (cfg->xferlog_file)
        warn_file(cfg, users, "transfer log", "who transferred what, from where",
                  cfg->xferlog_file);
    if (cfg->config_file && S_ISREG(cfg->config_stat.st_mode)) /* not a pipe read once */
        warn_file(cfg, users, "configuration file", "the paths of the server's other files",
                  cfg->config_file);
    warnonce_end(&said);
}
