#include "mirror_modes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "strutil.h"

int ftpc_mode_from_fact(const char *v, size_t n)
{
    unsigned m;
    /* pyftpdlib writes Python 3's oct(): "0o755" */
    if (n > 2 && v[0] == '0' && (v[1] == 'o' || v[1] == 'O')) {
        v += 2;
        n -= 2;
    }
    if (str_parse_octal(v, n, 6, 07777, &m) < 0)
        return -1;
    return (int)(m & FTPC_MODE_BITS);
}

int ftpc_mode_from_perms(const char *p, size_t n)
{
    if (n < 9)
        return -1;
    unsigned m = 0;
    for (int who = 0; who < 3; who++) {
        const char *t = p + 3 * who;
        unsigned shift = (unsigned)(2 - who) * 3;
        if (t[0] != 'r' && t[0] != '-')
            return -1;
        if (t[1] != 'w' && t[1] != '-')
            return -1;
        /* x, or the set-ID (s, S) or sticky (t, T) letter in its place: lower case when x is
         * set too. */
        char special = who == 2 ? 't' : 's';
        char x = t[2];
        if (x != 'x' && x != '-' && x != special && x != special - 'a' + 'A')
            return -1;
        m |= (unsigned)((t[0] == 'r') << 2 | (t[1] == 'w') << 1 | (x == 'x' || x == special))
             << shift;
    }
    return (int)m;
}

/* umask() reads the mask only by setting it, and the shell runs its jobs in threads: two
 * mirrors reading it at once could leave 022 in place of the user's 077 for the rest of the
 * session, and a file another job made meanwhile would get the wrong mode. Linux shows the
 * mask in /proc/self/status (since 4.7); elsewhere the readers take turns. */
unsigned ftpc_mode_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f != NULL) {
        char line[256];
        unsigned m;
        bool found = false;
        while (!found && fgets(line, sizeof(line), f) != NULL)
            found = sscanf(line, "Umask: %o", &m) == 1;
        fclose(f);
        if (found)
            return m & FTPC_MODE_BITS;
    }
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    mode_t m = umask(022);
    umask(m);
    pthread_mutex_unlock(&lock);
    return (unsigned)m & FTPC_MODE_BITS;
}

int ftpc_mode_wanted(int mode, unsigned umask_bits)
{
    return mode < 0 ? -1 : (int)((unsigned)mode & FTPC_MODE_BITS & ~umask_bits);
}

int ftpc_mode_set_local(const char *path, unsigned mode)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -1;
    if (S_ISLNK(st.st_mode)) {
        errno = ELOOP;
        return -1;
    }
    /* A directory keeps its own set-ID bits, as chmod(1) keeps them: the set-group-ID bit
     * that a shared folder passes on to the directories made in it is what gives their
     * files the folder's group. Its sticky bit stays too: a mirror never carries one, so
     * it takes none away either. */
    mode_t m = (mode_t)mode;
    if (S_ISDIR(st.st_mode))
        m |= st.st_mode & (S_ISUID | S_ISGID | S_ISVTX);
    if (fchmodat(AT_FDCWD, path, m, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    if (errno != ENOTSUP && errno != EOPNOTSUPP)
        return -1;
    /* A C library without fchmodat's no-follow answers so for every file: lstat showed this
     * one is not a symbolic link. */
    return chmod(path, m);
}

void ftpc_mode_failed(ftpc_mode_failures *f, const char *path, int err)
{
    if (f->n++ == 0)
        snprintf(f->first, sizeof(f->first), "%s: %s", path, strerror(err));
}

void ftpc_mode_say_failures(ftpc_ctx *ctx, const ftpc_mode_failures *f)
{
    if (f->n == 1)
        ftpc_msg(ctx, "ftpc: mirror: cannot set the mode of %s", f->first);
    else if (f->n > 1)
        ftpc_msg(ctx, "ftpc: mirror: cannot set the mode of %zu files or directories (%s, ...)",
                 f->n, f->first);
}
