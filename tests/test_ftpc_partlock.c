/* Check suite for ftpc/partlock: a download's work file opened under its lock, refused while
 * another holds it, and a lock on a file no longer under the name told apart. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partlock.h"

static char dir[64];
static char path[128];
static char moved[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_partlock_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/.f.ftpc-part", dir);
    snprintf(moved, sizeof(moved), "%s/f", dir);
}

static void teardown(void)
{
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

static off_t size_of(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_size;
}

static void write_file(const char *p, const char *text)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_made_and_locked)
{
    int fd = -1, other = -1;
    bool existed = true;
    ck_assert_int_eq(ftpc_partlock_open(path, O_RDWR | O_NOFOLLOW, false, &fd, &existed),
                     FTPC_PARTLOCK_OK);
    ck_assert(!existed);
    ck_assert(ftpc_partlock_names(fd, path, true));
    /* a second open description (another ftpc) finds it busy, and leaves it alone */
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY | O_NOFOLLOW, true, &other, NULL),
                     FTPC_PARTLOCK_BUSY);
    ck_assert_int_eq(size_of(path), 3);
    /* what close would report, without letting go of the lock */
    ck_assert_int_eq(ftpc_partlock_flush(fd), 0);
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY | O_NOFOLLOW, true, &other, NULL),
                     FTPC_PARTLOCK_BUSY);
    close(fd);
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY | O_NOFOLLOW, true, &other, &existed),
                     FTPC_PARTLOCK_OK);
    ck_assert(existed);
    ck_assert_int_eq(size_of(path), 0);
    close(other);
}
END_TEST

START_TEST(test_kept_unless_truncated)
{
    write_file(path, "kept");
    int fd = -1;
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY | O_NOFOLLOW, false, &fd, NULL),
                     FTPC_PARTLOCK_OK);
    ck_assert_int_eq(size_of(path), 4);
    close(fd);
}
END_TEST

START_TEST(test_renamed_or_replaced_file_not_named)
{
    int fd = -1;
    ck_assert_int_eq(ftpc_partlock_open(path, O_RDWR | O_NOFOLLOW, false, &fd, NULL),
                     FTPC_PARTLOCK_OK);
    /* put in place by the transfer that held it: the lock is no longer on the work file */
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert(!ftpc_partlock_names(fd, path, true));
    write_file(path, "new");
    ck_assert(!ftpc_partlock_names(fd, path, true));
    ck_assert(ftpc_partlock_names(fd, moved, true));
    close(fd);
}
END_TEST

START_TEST(test_symlink_not_followed)
{
    write_file(moved, "target");
    ck_assert_int_eq(symlink(moved, path), 0);
    int fd = -1;
    errno = 0;
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY | O_NOFOLLOW, true, &fd, NULL),
                     FTPC_PARTLOCK_OPEN);
    ck_assert_int_eq(errno, ELOOP);
    ck_assert_int_eq(size_of(moved), 6);
    /* without O_NOFOLLOW (the target itself, resumed in place) the link's file is it */
    ck_assert_int_eq(ftpc_partlock_open(path, O_WRONLY, false, &fd, NULL), FTPC_PARTLOCK_OK);
    ck_assert(ftpc_partlock_names(fd, path, false));
    ck_assert(!ftpc_partlock_names(fd, path, true));
    close(fd);
}
END_TEST

static Suite *partlock_suite(void)
{
    Suite *s = suite_create("ftpc_partlock");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_made_and_locked);
    tcase_add_test(tc, test_kept_unless_truncated);
    tcase_add_test(tc, test_renamed_or_replaced_file_not_named);
    tcase_add_test(tc, test_symlink_not_followed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(partlock_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
