/* The server's own files, never served to a client (ownfiles.h). */
#include "ownfiles.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The users file, the key, the transfer log's path and the log open now, the -c file. */
#define OWNFILES_MAX 8

/* Each is held open (O_PATH): a file the operator replaces is freed only at the next
 * refresh, and its inode number cannot go meanwhile to a client's new file, which would then
 * be refused. */
typedef struct own_file {
    dev_t dev;
    ino_t ino;
    int fd;
} own_file;

/* The entries each such path passes through, as written and with its links resolved:
 * a client that renamed or removed one (RNFR etc, DELE of a link conf -> /etc/ftpd) could put
 * a folder of its own there, with a users file of its own that the next SIGHUP reads. */
#define OWNDIRS_MAX 256

typedef struct own_dir {
    dev_t dev;
    ino_t ino;
} own_dir;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static own_file files[OWNFILES_MAX];
static size_t nfiles;
static own_dir dirs[OWNDIRS_MAX];
static size_t ndirs;

/* Takes fd into v, or closes it. Only a regular file: a users file that became a directory
 * (a reload refuses it) must not take that folder from the clients. */
static void add(own_file *v, size_t *n, int fd)
{
    struct stat st;
    if (fd < 0)
        return;
    bool taken = false;
    if (*n < OWNFILES_MAX && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        taken = true;
        for (size_t i = 0; i < *n; i++)
            if (v[i].dev == st.st_dev && v[i].ino == st.st_ino)
                taken = false;
    }
    if (taken)
        v[(*n)++] = (own_file){st.st_dev, st.st_ino, fd};
    else
        close(fd);
}

/* A path the server's user cannot reach is out of its clients' reach too: they are served
 * as that user. */
static void add_path(own_file *v, size_t *n, const char *path)
{
    if (path)
        add(v, n, open(path, O_PATH | O_CLOEXEC));
}

static void add_entry(own_dir *v, size_t *n, const char *path)
{
    struct stat st;
    if (*n >= OWNDIRS_MAX || lstat(path, &st) != 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (v[i].dev == st.st_dev && v[i].ino == st.st_ino)
            return;
    v[(*n)++] = (own_dir){st.st_dev, st.st_ino};
}

/* The entries path's components name, but for its last and "/" (which no client renames). */
static void add_components(own_dir *v, size_t *n, const char *path)
{
    char prefix[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof prefix)
        return;
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/' || path[i - 1] == '/')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        add_entry(v, n, prefix);
    }
}

static void add_ancestors(own_dir *v, size_t *n, const char *path)
{
    if (!path)
        return;
    add_components(v, n, path);
    char *real = realpath(path, NULL);
    if (real) {
        add_components(v, n, real);
        free(real);
    }
}

void ownfiles_refresh(const ftpd_config *cfg, FILE *xferlog)
{
    own_dir d[OWNDIRS_MAX];
    size_t nd = 0;
    add_ancestors(d, &nd, cfg->users_file);
    add_ancestors(d, &nd, cfg->tls_key ? cfg->tls_key : cfg->tls_cert);
    add_ancestors(d, &nd, cfg->xferlog_file);
    add_ancestors(d, &nd, cfg->config_file);
    own_file v[OWNFILES_MAX], old[OWNFILES_MAX];
    size_t n = 0;
    add_path(v, &n, cfg->users_file);
    /* even with TLS off, as exposedfiles warns: the operator named it */
    add_path(v, &n, cfg->tls_key ? cfg->tls_key : cfg->tls_cert);
    add_path(v, &n, cfg->xferlog_file);
    if (xferlog) /* a log whose reopening failed is not where its path leads */
        add(v, &n, fcntl(fileno(xferlog), F_DUPFD_CLOEXEC, 0));
    add_path(v, &n, cfg->config_file);
    pthread_mutex_lock(&lock);
    size_t n_old = nfiles;
    memcpy(old, files, n_old * sizeof old[0]);
    memcpy(files, v, n * sizeof v[0]);
    nfiles = n;
    memcpy(dirs, d, nd * sizeof d[0]);
    ndirs = nd;
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n_old; i++)
        close(old[i].fd);
}

bool ownfiles_holds(const struct stat *st)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nfiles && !found; i++)
        found = files[i].dev == st->st_dev && files[i].ino == st->st_ino;
    pthread_mutex_unlock(&lock);
    return found;
}

bool ownfiles_guards(const struct stat *st)
{
    bool found = ownfiles_holds(st);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ndirs && !found; i++)
        found = dirs[i].dev == st->st_dev && dirs[i].ino == st->st_ino;
    pthread_mutex_unlock(&lock);
    return found;
}
