/* Recovery of uploads a dead server left under their temporary names (upload_recover_stale,
 * and the start-up walk of recover.c). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "recover.h"
#include "upload.h"
#include "users.h"
#include "vfs.h"

/* Filesystems without RENAME_NOREPLACE (NFS, many FUSE ones) fail renameat2 with flags with
 * EINVAL: this definition stands in for the C library's when no_rename_flags is set. */
static bool no_rename_flags;

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    if (no_rename_flags && flags != 0) {
        errno = EINVAL;
        return -1;
    }
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

static char base[PATH_MAX];
static vfs v;
static int root_fd = -1;
static struct timespec now; /* "the server's start" in these tests */

static void path_of(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", base, rel);
}

/* Writes rel with content, last modified `age` seconds ago. */
static void put(const char *rel, const char *content, int age)
{
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    ck_assert_int_eq(fclose(f), 0);
    struct timespec t[2] = {{now.tv_sec - age, 0}, {now.tv_sec - age, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static const char *content(const char *rel)
{
    static char buf[256];
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, rel);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return "<missing>";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static bool exists(const char *rel)
{
    char p[PATH_MAX * 2];
    struct stat st;
    path_of(p, sizeof p, rel);
    return lstat(p, &st) == 0;
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/test_recover.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, "sub");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(vfs_open_root(&v, base), 0);
    root_fd = open(base, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(root_fd, 0);
    clock_gettime(CLOCK_REALTIME, &now);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    close(root_fd);
    vfs_close(&v);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The temp name this process gives an upload of vpath by session tag. */
static void temp_name_for(const char *vpath, unsigned long tag, char *out, size_t size)
{
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, vpath, UPLOAD_NEW, 0, tag), 0);
    snprintf(out, size, "%s", u.temp);
    upload_abort(&u, false);
}

START_TEST(test_leftover_becomes_partial)
{
    put(".ftpd-up.f.b.7", "abcdef", 60);
    upload_stale_info info;
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.f.b.7", &now, &info),
                     UPLOAD_STALE_KEPT);
    ck_assert_int_eq(info.size, 6);
    ck_assert_str_eq(info.target, "f.b");
    ck_assert(!exists(".ftpd-up.f.b.7"));
    ck_assert_str_eq(content(".ftpd-partial.f.b"), "abcdef");
    /* SIZE now reports it, and REST resumes from it. */
    ck_assert_int_eq(upload_resume_size(&v, "/f.b"), 6);
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/f.b", UPLOAD_RESTART, 6, 1), 0);
    ck_assert_int_eq(write(u.fd, "gh", 2), 2);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f.b"), "abcdefgh");
}
END_TEST

START_TEST(test_not_a_leftover)
{
    /* Names that only look like temp names, and a file written since the start. */
    put(".ftpd-up.f", "x", 60);
    put(".ftpd-up.f.", "x", 60);
    put(".ftpd-up..1", "x", 60);
    put(".ftpd-up.f.1g", "x", 60);
    put("f.1", "x", 60);
    put(".ftpd-up.new.1", "x", -5);
    const char *names[] = {".ftpd-up.f", ".ftpd-up.f.",    ".ftpd-up..1",       ".ftpd-up.f.1g",
                           "f.1",        ".ftpd-up.new.1", ".ftpd-up.missing.1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_int_eq(upload_recover_stale(root_fd, names[i], &now, NULL), UPLOAD_STALE_NONE);
    ck_assert(exists(".ftpd-up.new.1"));
    ck_assert(!exists(".ftpd-partial.new"));
    /* A directory under a temp name is left alone. */
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, ".ftpd-up.d.2");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.d.2", &now, NULL), UPLOAD_STALE_NONE);
}
END_TEST

START_TEST(test_live_upload_is_left_alone)
{
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/g", UPLOAD_NEW, 0, 5), 0);
    ck_assert_int_eq(write(u.fd, "live", 4), 4);
    /* Old enough to be a leftover: only its lock says it is live. */
    struct timespec t[2] = {{now.tv_sec - 60, 0}, {now.tv_sec - 60, 0}};
    ck_assert_int_eq(utimensat(root_fd, u.temp, t, 0), 0);
    ck_assert_int_eq(upload_recover_stale(root_fd, u.temp, &now, NULL), UPLOAD_STALE_NONE);
    ck_assert(exists(u.temp));
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("g"), "live");
}
END_TEST

START_TEST(test_claimed_partial_is_left_alone)
{
    put(".ftpd-partial.h", "resumed", 60);
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/h", UPLOAD_RESTART, 7, 9), 0);
    ck_assert(u.claimed);
    /* The claimed partial kept its old time under the temp name. */
    ck_assert_int_eq(upload_recover_stale(root_fd, u.temp, &now, NULL), UPLOAD_STALE_NONE);
    ck_assert(exists(u.temp));
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.h"), "resumed");
    /* Given back, it is unlocked, and a second claim succeeds. */
    ck_assert_int_eq(upload_begin(&u, &v, "/h", UPLOAD_RESTART, 7, 9), 0);
    ck_assert(u.claimed);
    upload_abort(&u, true);
}
END_TEST

static void *release_later(void *arg)
{
    usleep(20 * 1000);
    close(*(int *)arg);
    return NULL;
}

START_TEST(test_locked_partial_is_waited_for)
{
    put(".ftpd-partial.k", "12345", 60);
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, ".ftpd-partial.k");
    int held = open(p, O_RDONLY);
    /* held for a moment, as by an upload between keeping it and closing it */
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_later, &held), 0);
    upload u;
    /* APPE of a name without a file continues the partial; taking it for absent would
     * start from byte 0 and then replace the partial */
    ck_assert_int_eq(upload_begin(&u, &v, "/k", UPLOAD_APPEND, 0, 3), 0);
    pthread_join(t, NULL);
    ck_assert(u.claimed);
    ck_assert_int_eq(u.offset, 5);
    ck_assert_int_eq(write(u.fd, "67", 2), 2);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("k"), "1234567");
}
END_TEST

START_TEST(test_partial_locked_for_good_is_busy)
{
    put(".ftpd-partial.k", "12345", 60);
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, ".ftpd-partial.k");
    int held = open(p, O_RDONLY);
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/k", UPLOAD_RESTART, 5, 3), -1);
    ck_assert_int_eq(errno, EBUSY); /* 450: try again, rather than a resume from nothing */
    ck_assert_str_eq(content(".ftpd-partial.k"), "12345");
    close(held);
    ck_assert_int_eq(upload_begin(&u, &v, "/k", UPLOAD_RESTART, 5, 3), 0);
    ck_assert(u.claimed);
    upload_abort(&u, true);
}
END_TEST

START_TEST(test_empty_leftover)
{
    /* Nothing to resume: an old one is removed; a recent one may be an upload that has not
     * taken its lock yet, stamped early by a clock of whole seconds. */
    put(".ftpd-up.e.1", "", 60);
    put(".ftpd-up.e.2", "", 1);
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.e.1", &now, NULL),
                     UPLOAD_STALE_DROPPED);
    ck_assert(!exists(".ftpd-up.e.1"));
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.e.2", &now, NULL), UPLOAD_STALE_NONE);
    ck_assert(exists(".ftpd-up.e.2"));
    ck_assert(!exists(".ftpd-partial.e"));
}
END_TEST

START_TEST(test_longer_partial_wins)
{
    put(".ftpd-partial.m", "abcdef", 60);
    put(".ftpd-up.m.3", "abc", 60);
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.m.3", &now, NULL),
                     UPLOAD_STALE_DROPPED);
    ck_assert(!exists(".ftpd-up.m.3"));
    ck_assert_str_eq(content(".ftpd-partial.m"), "abcdef");

    put(".ftpd-up.m.4", "abcdefghij", 60);
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.m.4", &now, NULL), UPLOAD_STALE_KEPT);
    ck_assert_str_eq(content(".ftpd-partial.m"), "abcdefghij");
}
END_TEST

START_TEST(test_same_name_leftover_is_kept)
{
    /* Temp names carry a salt of the process, so a leftover of the same name can only come
     * from a process that had the same salt and session number; it is kept, not replaced. */
    upload u;
    char temp[sizeof u.temp];
    temp_name_for("/n", 1, temp, sizeof temp);
    put(temp, "left", 60);
    ck_assert_int_eq(upload_begin(&u, &v, "/n", UPLOAD_NEW, 0, 1), 0);
    ck_assert_str_eq(u.temp, temp);
    ck_assert_int_eq(upload_resume_size(&v, "/n"), 4);
    ck_assert_int_eq(write(u.fd, "new", 3), 3);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("n"), "new");
    ck_assert(!exists(".ftpd-partial.n")); /* superseded by the complete upload */
}
END_TEST

/* As a second server would: a new process names its upload of /s in dir (main's
 * --temp-name). */
static void temp_name_of_new_process(char *out, size_t size)
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        execl("/proc/self/exe", "test_recover", "--temp-name", base, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], out, size - 1);
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    ck_assert_int_gt(n, 0);
    out[n] = '\0';
}

START_TEST(test_claim_never_replaces_a_file_under_its_temp_name)
{
    /* A leftover under the very name a claim renames the partial to (same salt, same
     * session) is recovered, not overwritten: here it is shorter, so it goes. */
    upload u;
    char temp[sizeof u.temp];
    temp_name_for("/q", 7, temp, sizeof temp);
    put(".ftpd-partial.q", "12345", 60);
    put(temp, "abc", 60);
    ck_assert_int_eq(upload_begin(&u, &v, "/q", UPLOAD_RESTART, 5, 7), 0);
    ck_assert(u.claimed);
    ck_assert_int_eq(u.offset, 5);
    ck_assert_int_eq(write(u.fd, "6", 1), 1);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("q"), "123456");
}
END_TEST

START_TEST(test_claim_takes_a_longer_leftover_under_its_temp_name)
{
    /* The leftover under the claim's temp name is longer than the partial: recovery makes it
     * the partial, and the claim takes that one. */
    upload u;
    char temp[sizeof u.temp];
    temp_name_for("/q", 7, temp, sizeof temp);
    put(".ftpd-partial.q", "12345", 60);
    put(temp, "abcdefgh", 60);
    ck_assert_int_eq(upload_begin(&u, &v, "/q", UPLOAD_RESTART, 5, 7), 0);
    ck_assert(u.claimed);
    ck_assert_int_eq(write(u.fd, "6", 1), 1);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("q"), "abcde6");
}
END_TEST

START_TEST(test_without_rename_flags)
{
    /* As on NFS: claims, give-backs and recovery fall back to link and unlink. */
    no_rename_flags = true;
    put(".ftpd-partial.r", "12345", 60);
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/r", UPLOAD_APPEND, 0, 2), 0);
    ck_assert(u.claimed);
    ck_assert_int_eq(write(u.fd, "67", 2), 2);
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.r"), "1234567");
    ck_assert_int_eq(upload_begin(&u, &v, "/r", UPLOAD_RESTART, 7, 2), 0);
    ck_assert_int_eq(write(u.fd, "8", 1), 1);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("r"), "12345678");

    put(".ftpd-up.t.1", "left", 60);
    ck_assert_int_eq(upload_recover_stale(root_fd, ".ftpd-up.t.1", &now, NULL), UPLOAD_STALE_KEPT);
    ck_assert_str_eq(content(".ftpd-partial.t"), "left");
    ck_assert(!exists(".ftpd-up.t.1"));
    no_rename_flags = false;
}
END_TEST

START_TEST(test_names_differ_between_processes)
{
    /* Session numbers restart with each server: a salt of the process keeps two servers'
     * session 1 (or a server's and its dead predecessor's) apart. */
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/s", UPLOAD_NEW, 0, 1), 0);
    char mine[sizeof u.temp], theirs[sizeof u.temp], third[sizeof u.temp];
    strcpy(mine, u.temp);
    upload_abort(&u, false);
    temp_name_of_new_process(theirs, sizeof theirs);
    temp_name_of_new_process(third, sizeof third);
    ck_assert_int_eq(strncmp(theirs, ".ftpd-up.s.", 11), 0);
    ck_assert_str_ne(mine, theirs);
    ck_assert_str_ne(theirs, third);
}
END_TEST

START_TEST(test_leftover_with_a_long_name)
{
    /* A 230-byte name: its temp name carries a digest, which names its partial all the same. */
    char name[240];
    name[0] = '/';
    memset(name + 1, 'L', 230);
    name[231] = '\0';
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, name, UPLOAD_NEW, 0, 4), 0);
    ck_assert_int_eq(write(u.fd, "long", 4), 4);
    char temp[sizeof u.temp];
    strcpy(temp, u.temp);
    close(u.fd); /* the server dies: the name stays, the lock goes */
    close(u.dir_fd);
    struct timespec t[2] = {{now.tv_sec - 60, 0}, {now.tv_sec - 60, 0}};
    ck_assert_int_eq(utimensat(root_fd, temp, t, 0), 0);
    ck_assert_int_eq(upload_resume_size(&v, name), -1);
    upload_stale_info info;
    ck_assert_int_eq(upload_recover_stale(root_fd, temp, &now, &info), UPLOAD_STALE_KEPT);
    ck_assert_int_eq(upload_resume_size(&v, name), 4);
    /* the log names the file where the filesystem kept its name (an extended attribute),
     * else the digest */
    ck_assert(strcmp(info.target, name + 1) == 0 || info.target[0] == '#');
}
END_TEST

START_TEST(test_name_starting_with_hash_has_its_own_partial)
{
    /* "#" and a digest is how a long name appears; a short name that looks like that is
     * itself digested, so the two never share a partial */
    char name[240];
    name[0] = '/';
    memset(name + 1, 'L', 230);
    name[231] = '\0';
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, name, UPLOAD_NEW, 0, 4), 0);
    char key[80];
    const char *dot = strrchr(u.temp, '.');
    snprintf(key, sizeof key, "/%.*s", (int)(dot - u.temp - 9), u.temp + 9);
    ck_assert_int_eq(key[1], '#');
    ck_assert_int_eq(write(u.fd, "long", 4), 4);
    upload_abort(&u, true);
    ck_assert_int_eq(upload_resume_size(&v, name), 4);
    ck_assert_int_eq(upload_resume_size(&v, key), -1);
}
END_TEST

static ftpd_users users_with(const char *home, unsigned perms)
{
    ftpd_users us = {.n = 1};
    us.v = calloc(1, sizeof *us.v);
    us.v[0].name = strdup("u");
    us.v[0].hash = strdup("x");
    us.v[0].home = strdup(home);
    us.v[0].perms = perms;
    return us;
}

START_TEST(test_walk_recovers_the_tree)
{
    put(".ftpd-up.top.1", "top", 60);
    put("sub/.ftpd-up.deep.bin.2a", "deep", 60);
    put("sub/.ftpd-up.fresh.3", "fresh", -5); /* written after the walk's start */
    put("sub/plain.txt", "plain", 60);
    ftpd_users us = users_with(base, PERM_DEFAULT | PERM_WRITE);
    recovery *r = recovery_start(&us, 0);
    ck_assert_ptr_nonnull(r);
    recovery_wait(r);
    recovery_stop(r);
    ck_assert_str_eq(content(".ftpd-partial.top"), "top");
    ck_assert_str_eq(content("sub/.ftpd-partial.deep.bin"), "deep");
    ck_assert(!exists("sub/.ftpd-up.deep.bin.2a"));
    ck_assert(exists("sub/.ftpd-up.fresh.3"));
    ck_assert_str_eq(content("sub/plain.txt"), "plain");
    users_free(&us);
}
END_TEST

START_TEST(test_walk_leaves_live_uploads_alone)
{
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/sub/live.bin", UPLOAD_NEW, 0, 6), 0);
    ck_assert_int_eq(write(u.fd, "live bytes", 10), 10);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/sub/%s", base, u.temp);
    struct timespec t[2] = {{now.tv_sec - 60, 0}, {now.tv_sec - 60, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0); /* as old as any leftover */
    put("sub/.ftpd-up.dead.bin.1", "dead", 60);
    ftpd_users us = users_with(base, PERM_DEFAULT | PERM_WRITE);
    recovery *r = recovery_start(&us, 0);
    ck_assert_ptr_nonnull(r);
    recovery_wait(r);
    recovery_stop(r);
    ck_assert_str_eq(content("sub/.ftpd-partial.dead.bin"), "dead");
    ck_assert_int_eq(access(p, F_OK), 0);
    ck_assert(!exists("sub/.ftpd-partial.live.bin"));
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("sub/live.bin"), "live bytes");
    users_free(&us);
}
END_TEST

START_TEST(test_walk_covers_nested_homes_once)
{
    put(".ftpd-up.outer.1", "outer", 60);
    put("sub/.ftpd-up.inner.1", "inner", 60);
    char inner[PATH_MAX * 2];
    path_of(inner, sizeof inner, "sub");
    ftpd_users us = {.n = 3};
    us.v = calloc(3, sizeof *us.v);
    const char *homes[] = {inner, base, inner}; /* inner first, and twice */
    for (int i = 0; i < 3; i++) {
        us.v[i].name = strdup("u");
        us.v[i].hash = strdup("x");
        us.v[i].home = strdup(homes[i]);
        us.v[i].perms = PERM_DEFAULT | PERM_WRITE;
    }
    recovery *r = recovery_start(&us, 0);
    ck_assert_ptr_nonnull(r);
    recovery_wait(r);
    recovery_stop(r);
    ck_assert_str_eq(content(".ftpd-partial.outer"), "outer");
    ck_assert_str_eq(content("sub/.ftpd-partial.inner"), "inner");
    users_free(&us);
}
END_TEST

START_TEST(test_walk_skips_read_only_homes)
{
    put(".ftpd-up.top.1", "top", 60);
    ftpd_users us = users_with(base, PERM_DEFAULT);
    ck_assert_ptr_null(recovery_start(&us, 0)); /* no account may upload: nothing to walk */
    ck_assert(exists(".ftpd-up.top.1"));
    recovery_stop(NULL);
    users_free(&us);
}
END_TEST

/* now - 3600: what a max age of an hour removes. */
static struct timespec hour_ago(void)
{
    return (struct timespec){now.tv_sec - 3600, now.tv_nsec};
}

START_TEST(test_old_partial_expires)
{
    struct timespec cutoff = hour_ago();
    put(".ftpd-partial.old.bin", "old bytes", 7200);
    put(".ftpd-partial.young.bin", "young", 60);
    put("plain.txt", "plain", 7200);
    put(".ftpd-partial.", "no target", 7200);
    upload_stale_info info;
    ck_assert_int_eq(upload_expire_partial(root_fd, ".ftpd-partial.old.bin", &cutoff, &info),
                     UPLOAD_STALE_EXPIRED);
    ck_assert_int_eq(info.size, 9);
    ck_assert_str_eq(info.target, "old.bin");
    ck_assert(!exists(".ftpd-partial.old.bin"));
    ck_assert_int_eq(upload_expire_partial(root_fd, ".ftpd-partial.young.bin", &cutoff, NULL),
                     UPLOAD_STALE_NONE);
    ck_assert_int_eq(upload_expire_partial(root_fd, "plain.txt", &cutoff, NULL), UPLOAD_STALE_NONE);
    ck_assert_int_eq(upload_expire_partial(root_fd, ".ftpd-partial.", &cutoff, NULL),
                     UPLOAD_STALE_NONE);
    ck_assert_str_eq(content(".ftpd-partial.young.bin"), "young");
    ck_assert_str_eq(content("plain.txt"), "plain");
    ck_assert_str_eq(content(".ftpd-partial."), "no target");
    /* nothing is left under the name it was moved aside to */
    DIR *d = opendir(base);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(strncmp(e->d_name, ".ftpd-up.", 9) != 0, "left: %s", e->d_name);
    closedir(d);
}
END_TEST

START_TEST(test_held_partial_does_not_expire)
{
    struct timespec cutoff = hour_ago();
    put(".ftpd-partial.held.bin", "held", 7200);
    char p[PATH_MAX * 2];
    path_of(p, sizeof p, ".ftpd-partial.held.bin");
    int held = open(p, O_RDONLY); /* as by a resume claiming it */
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(upload_expire_partial(root_fd, ".ftpd-partial.held.bin", &cutoff, NULL),
                     UPLOAD_STALE_NONE);
    ck_assert_str_eq(content(".ftpd-partial.held.bin"), "held");
    close(held);
    ck_assert_int_eq(upload_expire_partial(root_fd, ".ftpd-partial.held.bin", &cutoff, NULL),
                     UPLOAD_STALE_EXPIRED);
}
END_TEST

START_TEST(test_old_leftover_is_removed_not_kept)
{
    struct timespec cutoff = hour_ago();
    put(".ftpd-up.gone.bin.1", "gone", 7200);
    put(".ftpd-up.kept.bin.2", "kept", 60);
    upload_stale_info info;
    ck_assert_int_eq(
        upload_recover_stale_aged(root_fd, ".ftpd-up.gone.bin.1", &now, &cutoff, &info),
        UPLOAD_STALE_EXPIRED);
    ck_assert_int_eq(info.size, 4);
    ck_assert(!exists(".ftpd-up.gone.bin.1"));
    ck_assert(!exists(".ftpd-partial.gone.bin"));
    ck_assert_int_eq(upload_recover_stale_aged(root_fd, ".ftpd-up.kept.bin.2", &now, &cutoff, NULL),
                     UPLOAD_STALE_KEPT);
    ck_assert_str_eq(content(".ftpd-partial.kept.bin"), "kept");
}
END_TEST

START_TEST(test_walk_expires_and_repeats)
{
    put(".ftpd-partial.old", "old", 7200);
    put("sub/.ftpd-up.older.1", "older", 7200);
    put(".ftpd-partial.young", "young", -3600); /* written "after" the walks */
    ftpd_users us = users_with(base, PERM_DEFAULT | PERM_WRITE);
    recovery *r = recovery_start(&us, 3600);
    ck_assert_ptr_nonnull(r);
    recovery_wait(r);
    ck_assert(!exists(".ftpd-partial.old"));
    ck_assert(!exists("sub/.ftpd-up.older.1"));
    ck_assert(!exists("sub/.ftpd-partial.older"));
    ck_assert_str_eq(content(".ftpd-partial.young"), "young");
    /* the thread now waits for its next walk, a while off: a stop ends the wait at once */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    recovery_stop(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
    users_free(&us);
}
END_TEST

static Suite *recover_suite(void)
{
    Suite *s = suite_create("recover");
    TCase *tc = tcase_create("recover");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_leftover_becomes_partial);
    tcase_add_test(tc, test_not_a_leftover);
    tcase_add_test(tc, test_live_upload_is_left_alone);
    tcase_add_test(tc, test_claimed_partial_is_left_alone);
    tcase_add_test(tc, test_locked_partial_is_waited_for);
    tcase_add_test(tc, test_partial_locked_for_good_is_busy);
    tcase_add_test(tc, test_empty_leftover);
    tcase_add_test(tc, test_longer_partial_wins);
    tcase_add_test(tc, test_same_name_leftover_is_kept);
    tcase_add_test(tc, test_claim_never_replaces_a_file_under_its_temp_name);
    tcase_add_test(tc, test_claim_takes_a_longer_leftover_under_its_temp_name);
    tcase_add_test(tc, test_without_rename_flags);
    tcase_add_test(tc, test_names_differ_between_processes);
    tcase_add_test(tc, test_leftover_with_a_long_name);
    tcase_add_test(tc, test_name_starting_with_hash_has_its_own_partial);
    tcase_add_test(tc, test_walk_recovers_the_tree);
    tcase_add_test(tc, test_walk_leaves_live_uploads_alone);
    tcase_add_test(tc, test_walk_covers_nested_homes_once);
    tcase_add_test(tc, test_walk_skips_read_only_homes);
    tcase_add_test(tc, test_old_partial_expires);
    tcase_add_test(tc, test_held_partial_does_not_expire);
    tcase_add_test(tc, test_old_leftover_is_removed_not_kept);
    tcase_add_test(tc, test_walk_expires_and_repeats);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--temp-name") == 0) {
        vfs root;
        upload u;
        if (vfs_open_root(&root, argv[2]) < 0 ||
            upload_begin(&u, &root, "/s", UPLOAD_NEW, 0, 1) < 0)
            return 1;
        fputs(u.temp, stdout);
        upload_abort(&u, false);
        return 0;
    }
    SRunner *sr = srunner_create(recover_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
