/* vfs: resolution beneath a root. Every case runs twice (loop index 0: openat2(), 1: the
 * component walk), since the walk is what protects kernels without openat2. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfs.h"
#include "vfs_int.h"

static char base[PATH_MAX];         /* mkdtemp dir holding root/ and outside/ */
static char rootdir[PATH_MAX + 16]; /* the vfs root */
static vfs v;
static int fds_at_setup;

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void mk(const char *rel, const char *content)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    if (content) {
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        fclose(f);
    } else {
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
}

static void lnk(const char *target, const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(symlink(target, p), 0);
}

static bool exists(const char *rel)
{
    char p[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    return lstat(p, &st) == 0;
}

static void setup(void)
{
    fds_at_setup = count_fds();
    snprintf(base, sizeof(base), "/tmp/test_vfs.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(rootdir, sizeof(rootdir), "%s/root", base);
    mk("root", NULL);
    mk("outside", NULL);
    mk("outside/secret", "secret");
    mk("root/top.txt", "top");
    mk("root/a", NULL);
    mk("root/a/b", NULL);
    mk("root/a/b/c.txt", "hello");
    lnk("/etc", "root/abs");
    char abs_secret[PATH_MAX * 2];
    snprintf(abs_secret, sizeof(abs_secret), "%s/outside/secret", base);
    lnk(abs_secret, "root/abs_file");
    lnk("../outside/secret", "root/esc");
    lnk("../../outside/secret", "root/a/esc2");
    lnk("../../outside", "root/a/escdir");
    lnk("../outside/newfile", "root/dangle");
    lnk("../top.txt", "root/a/in");
    lnk("a/b", "root/dirlink");
    lnk("..", "root/a/up");
    lnk("loop2", "root/loop1");
    lnk("loop1", "root/loop2");
    lnk("self", "root/self");
    mk("root/.ftpd-up.x.1", "temp");
    mk("root/.ftpd-partial.x", "partial");
    ck_assert_int_eq(vfs_open_root(&v, rootdir), 0);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    vfs_close(&v);
    /* Every path through the walk closes what it opened. */
    ck_assert_int_eq(count_fds(), fds_at_setup);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void use_mode(int i)
{
    vfs_force_fallback(i == 1);
    ck_assert(vfs_using_fallback() == (i == 1));
}

static void assert_content(int fd, const char *want)
{
    char buf[256];
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
    close(fd);
}

static void assert_open_fails(const char *vpath, int flags, int err)
{
    errno = 0;
    int fd = vfs_open(&v, vpath, flags, 0644);
    if (fd >= 0)
        close(fd);
    ck_assert_msg(fd == -1 && errno == err, "vfs_open(%s): fd %d errno %d (%s), want %d", vpath, fd,
                  errno, strerror(errno), err);
}

static void assert_stat_fails(const char *vpath, int err)
{
    struct stat st;
    errno = 0;
    int rc = vfs_stat(&v, vpath, &st);
    ck_assert_msg(rc == -1 && errno == err, "vfs_stat(%s): rc %d errno %d (%s), want %d", vpath, rc,
                  errno, strerror(errno), err);
}

START_TEST(test_normal_files)
{
    use_mode(_i);
    struct stat st;
    assert_content(vfs_open(&v, "/a/b/c.txt", O_RDONLY, 0), "hello");
    assert_content(vfs_open(&v, "/top.txt", O_RDONLY, 0), "top");
    assert_content(vfs_open(&v, "//a//b/./c.txt", O_RDONLY, 0), "hello");
    assert_content(vfs_open(&v, "/a/../top.txt", O_RDONLY, 0), "top");
    ck_assert_int_eq(vfs_stat(&v, "/a/b/c.txt", &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 5);
    ck_assert_int_eq(vfs_stat(&v, "/a/b", &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(vfs_stat(&v, "/", &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    assert_stat_fails("/a/nope", ENOENT);
    assert_stat_fails("/top.txt/x", ENOTDIR);
    assert_open_fails("/a/b/c.txt/", O_RDONLY, ENOTDIR);

    DIR *d = vfs_opendir(&v, "/a");
    ck_assert_ptr_nonnull(d);
    bool saw_b = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        saw_b |= strcmp(e->d_name, "b") == 0;
    closedir(d);
    ck_assert(saw_b);
    d = vfs_opendir(&v, "/");
    ck_assert_ptr_nonnull(d);
    closedir(d);
    errno = 0;
    ck_assert_ptr_null(vfs_opendir(&v, "/top.txt"));
    ck_assert_int_eq(errno, ENOTDIR);

    /* Creating a file. */
    int fd = vfs_open(&v, "/a/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "n", 1), 1);
    close(fd);
    ck_assert(exists("root/a/new.txt"));
    assert_open_fails("/a/new.txt", O_WRONLY | O_CREAT | O_EXCL, EEXIST);
}
END_TEST

START_TEST(test_dotdot)
{
    use_mode(_i);
    assert_open_fails("/../outside/secret", O_RDONLY, EACCES);
    assert_open_fails("a/../../outside/secret", O_RDONLY, EACCES);
    assert_open_fails("/a/b/../../../outside/secret", O_RDONLY, EACCES);
    assert_open_fails("..", O_RDONLY, EACCES);
    assert_stat_fails("/..", EACCES);
    assert_stat_fails("/a/../..", EACCES);
    errno = 0;
    ck_assert_ptr_null(vfs_opendir(&v, "/.."));
    ck_assert_int_eq(errno, EACCES);
    assert_open_fails("/../outside/created", O_WRONLY | O_CREAT, EACCES);
    ck_assert(!exists("outside/created"));
    errno = 0;
    ck_assert_int_eq(vfs_mkdir(&v, "/a/../../made", 0755), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(vfs_mkdir(&v, "/..", 0755), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert(!exists("made"));
    ck_assert_int_eq(vfs_rename(&v, "/top.txt", "/../outside/stolen"), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(vfs_rename(&v, "/../outside/secret", "/stolen"), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert(exists("outside/secret"));
    ck_assert(exists("root/top.txt"));
}
END_TEST

START_TEST(test_absolute_symlink)
{
    use_mode(_i);
    assert_open_fails("/abs/passwd", O_RDONLY, EACCES);
    assert_stat_fails("/abs", EACCES);
    assert_open_fails("/abs_file", O_RDONLY, EACCES);
    assert_stat_fails("/abs_file", EACCES);
    errno = 0;
    ck_assert_ptr_null(vfs_opendir(&v, "/abs"));
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(vfs_mkdir(&v, "/abs/x", 0755), -1);
    ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(test_relative_escape)
{
    use_mode(_i);
    assert_open_fails("/esc", O_RDONLY, EACCES);
    assert_open_fails("/a/esc2", O_RDONLY, EACCES);
    assert_open_fails("/a/escdir/secret", O_RDONLY, EACCES);
    assert_stat_fails("/a/escdir", EACCES);
    assert_stat_fails("/a/up/..", EACCES);
    assert_open_fails("/a/up/../outside/secret", O_RDONLY, EACCES);
    /* O_CREAT through a dangling link must not create outside. */
    assert_open_fails("/dangle", O_WRONLY | O_CREAT, EACCES);
    ck_assert(!exists("outside/newfile"));
    ck_assert_int_eq(vfs_mkdir(&v, "/a/escdir/x", 0755), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert(!exists("outside/x"));
    /* Removing or renaming a link acts on the link, never on what it points to. */
    ck_assert_int_eq(vfs_unlink(&v, "/esc"), 0);
    ck_assert(!exists("root/esc"));
    ck_assert(exists("outside/secret"));
    ck_assert_int_eq(vfs_rename(&v, "/a/esc2", "/moved"), 0);
    ck_assert(exists("outside/secret"));
    assert_open_fails("/moved", O_RDONLY, EACCES); /* now climbs above the root */
}
END_TEST

START_TEST(test_inside_symlink)
{
    use_mode(_i);
    struct stat st;
    assert_content(vfs_open(&v, "/a/in", O_RDONLY, 0), "top");
    assert_content(vfs_open(&v, "/dirlink/c.txt", O_RDONLY, 0), "hello");
    assert_content(vfs_open(&v, "/a/up/top.txt", O_RDONLY, 0), "top");
    assert_content(vfs_open(&v, "/a/up/a/up/a/b/c.txt", O_RDONLY, 0), "hello");
    assert_content(vfs_open(&v, "/dirlink/../../top.txt", O_RDONLY, 0), "top");
    ck_assert_int_eq(vfs_stat(&v, "/dirlink", &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(vfs_stat(&v, "/a/in", &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 3);
    DIR *d = vfs_opendir(&v, "/dirlink");
    ck_assert_ptr_nonnull(d);
    closedir(d);
    assert_stat_fails("/a/in/x", ENOTDIR);
    /* O_NOFOLLOW still means the link itself. */
    assert_open_fails("/a/in", O_RDONLY | O_NOFOLLOW, ELOOP);
    int fd = vfs_open(&v, "/dirlink", O_PATH | O_NOFOLLOW, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    close(fd);
    /* Writing through an inside link reaches its target. */
    fd = vfs_open(&v, "/a/in", O_WRONLY | O_TRUNC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "TOP", 3), 3);
    close(fd);
    assert_content(vfs_open(&v, "/top.txt", O_RDONLY, 0), "TOP");
}
END_TEST

START_TEST(test_symlink_loop)
{
    use_mode(_i);
    assert_open_fails("/loop1", O_RDONLY, ELOOP);
    assert_open_fails("/self", O_RDONLY, ELOOP);
    assert_stat_fails("/loop1", ELOOP);
    assert_stat_fails("/loop2/x", ELOOP);
    assert_open_fails("/self", O_WRONLY | O_CREAT, ELOOP);
}
END_TEST

START_TEST(test_long_chain)
{
    use_mode(_i);
    /* 40 hops resolve (the kernel's own bound); the 41st is ELOOP. */
    char name[64], target[64];
    for (int k = 0; k < 41; k++) {
        snprintf(name, sizeof(name), "root/l%d", k);
        snprintf(target, sizeof(target), k == 40 ? "top.txt" : "l%d", k + 1);
        lnk(target, name);
    }
    assert_content(vfs_open(&v, "/l1", O_RDONLY, 0), "top");
    assert_open_fails("/l0", O_RDONLY, ELOOP);
}
END_TEST

START_TEST(test_dir_ops)
{
    use_mode(_i);
    struct stat st;
    ck_assert_int_eq(vfs_mkdir(&v, "/a/new", 0755), 0);
    ck_assert(exists("root/a/new"));
    ck_assert_int_eq(vfs_mkdir(&v, "/a/new", 0755), -1);
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(vfs_mkdir(&v, "/nope/new", 0755), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_mkdir(&v, "/", 0755), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(vfs_mkdir(&v, "/dirlink/sub", 0755), 0);
    ck_assert(exists("root/a/b/sub"));
    ck_assert_int_eq(vfs_rename(&v, "/a/new", "/newer"), 0);
    ck_assert(!exists("root/a/new"));
    ck_assert_int_eq(vfs_stat(&v, "/newer", &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(vfs_rmdir(&v, "/a"), -1);
    ck_assert_int_eq(errno, ENOTEMPTY);
    ck_assert_int_eq(vfs_rmdir(&v, "/newer"), 0);
    ck_assert(!exists("root/newer"));
    ck_assert_int_eq(vfs_rmdir(&v, "/newer"), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_rmdir(&v, "/top.txt"), -1);
    ck_assert_int_eq(errno, ENOTDIR);

    ck_assert_int_eq(vfs_rename(&v, "/top.txt", "/a/b/moved.txt"), 0);
    assert_content(vfs_open(&v, "/a/b/moved.txt", O_RDONLY, 0), "top");
    ck_assert_int_eq(vfs_unlink(&v, "/a/b/moved.txt"), 0);
    ck_assert(!exists("root/a/b/moved.txt"));
    ck_assert_int_eq(vfs_unlink(&v, "/a/b/moved.txt"), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_unlink(&v, "/a"), -1);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_int_eq(vfs_rename(&v, "/nope", "/x"), -1);
    ck_assert_int_eq(errno, ENOENT);

    const char *b = NULL;
    int fd = vfs_open_parent(&v, "/a/b/c.txt", &b);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(b, "c.txt");
    ck_assert_int_eq(fstatat(fd, b, &st, 0), 0);
    ck_assert_int_eq(st.st_size, 5);
    close(fd);
    fd = vfs_open_parent(&v, "/top", &b);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(b, "top");
    close(fd);
    ck_assert_int_eq(vfs_open_parent(&v, "/", &b), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(vfs_open_parent(&v, "/esc/x", &b), -1);
    ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(test_internal_names)
{
    use_mode(_i);
    struct stat st;
    ck_assert(vfs_is_internal_name(".ftpd-up.x.1"));
    ck_assert(vfs_is_internal_name(".ftpd-partial.x"));
    ck_assert(vfs_is_internal_name(".ftpd-up."));
    ck_assert(!vfs_is_internal_name(".ftpd-up"));
    ck_assert(!vfs_is_internal_name("ftpd-up.x"));
    ck_assert(!vfs_is_internal_name(".ftpd-partia"));
    ck_assert(!vfs_is_internal_name("x.ftpd-up.x"));

    assert_open_fails("/.ftpd-up.x.1", O_RDONLY, ENOENT);
    assert_open_fails("/.ftpd-partial.x", O_RDONLY, ENOENT);
    assert_open_fails("/.ftpd-partial.x", O_WRONLY | O_CREAT, EACCES);
    assert_open_fails("/a/.ftpd-up.new", O_WRONLY | O_CREAT, EACCES);
    ck_assert(!exists("root/a/.ftpd-up.new"));
    assert_stat_fails("/.ftpd-up.x.1", ENOENT);
    assert_stat_fails("/a/../.ftpd-partial.x", ENOENT);
    errno = 0;
    ck_assert_ptr_null(vfs_opendir(&v, "/.ftpd-up.x.1"));
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_unlink(&v, "/.ftpd-partial.x"), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert(exists("root/.ftpd-partial.x"));
    ck_assert_int_eq(vfs_rmdir(&v, "/.ftpd-partial.x"), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_mkdir(&v, "/.ftpd-up.d", 0755), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert(!exists("root/.ftpd-up.d"));
    ck_assert_int_eq(vfs_rename(&v, "/.ftpd-up.x.1", "/visible"), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_rename(&v, "/top.txt", "/.ftpd-partial.top.txt"), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert(exists("root/top.txt"));
    const char *b;
    ck_assert_int_eq(vfs_open_parent(&v, "/a/.ftpd-up.z", &b), -1);
    ck_assert_int_eq(errno, EACCES);
    /* Names that merely contain the prefix are ordinary. */
    int fd = vfs_open(&v, "/x.ftpd-up.y", O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(vfs_stat(&v, "/x.ftpd-up.y", &st), 0);
}
END_TEST

/* FTPD_VFS_FORCE_FALLBACK is read once, at first use: a fresh child process shows it. */
static mode_t mode_of(const char *rel)
{
    char p[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_mode & 07777;
}

static time_t mtime_of(const char *rel)
{
    char p[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_mtime;
}

START_TEST(test_chmod_and_mtime)
{
    use_mode(_i);
    ck_assert_int_eq(vfs_chmod(&v, "/top.txt", 0), 0);
    ck_assert_uint_eq(mode_of("root/top.txt"), 0);
    /* no permission bits at all: still changed, through the O_PATH fd */
    ck_assert_int_eq(vfs_chmod(&v, "/top.txt", 0640), 0);
    ck_assert_uint_eq(mode_of("root/top.txt"), 0640);
    ck_assert_int_eq(vfs_chmod(&v, "/dirlink", 0700), 0); /* a link inside: its directory */
    ck_assert_uint_eq(mode_of("root/a/b"), 0700);
    struct timespec t = {1000000000, 0};
    ck_assert_int_eq(vfs_set_mtime(&v, "/a/in", &t), 0);
    ck_assert_int_eq(mtime_of("root/top.txt"), 1000000000);

    mode_t secret_mode = mode_of("outside/secret");
    time_t secret_time = mtime_of("outside/secret");
    static const char *out[] = {"/abs_file", "/esc", "/a/esc2", "/a/escdir/secret"};
    for (size_t k = 0; k < sizeof out / sizeof *out; k++) {
        errno = 0;
        ck_assert_int_eq(vfs_chmod(&v, out[k], 0777), -1);
        ck_assert_int_eq(errno, EACCES);
        ck_assert_int_eq(vfs_set_mtime(&v, out[k], &t), -1);
        ck_assert_int_eq(errno, EACCES);
    }
    ck_assert_uint_eq(mode_of("outside/secret"), secret_mode);
    ck_assert_int_eq(mtime_of("outside/secret"), secret_time);
    ck_assert_int_eq(vfs_chmod(&v, "/.ftpd-partial.x", 0777), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_set_mtime(&v, "/nosuch", &t), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_env_forces_fallback)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("FTPD_VFS_FORCE_FALLBACK", "1", 1);
        vfs cv;
        bool ok = vfs_open_root(&cv, rootdir) == 0;
        int fd = vfs_open(&cv, "/a/b/c.txt", O_RDONLY, 0);
        ok = ok && fd >= 0 && vfs_using_fallback();
        ok = ok && vfs_open(&cv, "/esc", O_RDONLY, 0) == -1 && errno == EACCES;
        _exit(ok ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

static Suite *vfs_suite(void)
{
    Suite *s = suite_create("vfs");
    TCase *tc = tcase_create("beneath");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_normal_files, 0, 2);
    tcase_add_loop_test(tc, test_dotdot, 0, 2);
    tcase_add_loop_test(tc, test_absolute_symlink, 0, 2);
    tcase_add_loop_test(tc, test_relative_escape, 0, 2);
    tcase_add_loop_test(tc, test_inside_symlink, 0, 2);
    tcase_add_loop_test(tc, test_symlink_loop, 0, 2);
    tcase_add_loop_test(tc, test_long_chain, 0, 2);
    tcase_add_loop_test(tc, test_dir_ops, 0, 2);
    tcase_add_loop_test(tc, test_internal_names, 0, 2);
    tcase_add_loop_test(tc, test_chmod_and_mtime, 0, 2);
    suite_add_tcase(s, tc);

    /* Only meaningful where no earlier test has fixed the mode in this process. */
    const char *fork_env = getenv("CK_FORK");
    if (!fork_env || strcmp(fork_env, "no") != 0) {
        TCase *env = tcase_create("env");
        tcase_add_checked_fixture(env, setup, teardown);
        tcase_add_test(env, test_env_forces_fallback);
        suite_add_tcase(s, env);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vfs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
