/* Check suite for ftpc/stdsrc: reading an upload's standard input without blocking and
 * without O_NONBLOCK, and the length a redirected file has left. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdsrc.h"

static int temp_file(const char *content)
{
    char path[] = "/tmp/test_ftpc_stdsrc.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

START_TEST(test_left_of_a_regular_file)
{
    int fd = temp_file("0123456789");
    ck_assert_int_eq(ftpc_stdsrc_left(fd), 10);
    /* A script read part of it already: what is left. */
    ck_assert_int_eq(lseek(fd, 4, SEEK_SET), 4);
    ck_assert_int_eq(ftpc_stdsrc_left(fd), 6);
    ck_assert_int_eq(lseek(fd, 20, SEEK_SET), 20);
    ck_assert_int_eq(ftpc_stdsrc_left(fd), 0);
    close(fd);
}
END_TEST

START_TEST(test_left_of_a_pipe_is_unknown)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(ftpc_stdsrc_left(p[0]), -1);
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(ftpc_stdsrc_left(-1), -1);
}
END_TEST

START_TEST(test_pipe_without_data_does_not_block)
{
    int p[2];
    char buf[64];
    ck_assert_int_eq(pipe(p), 0);
    errno = 0;
    ck_assert_int_eq(ftpc_stdsrc_read(p[0], buf, sizeof(buf), false), -1);
    ck_assert_int_eq(errno, EAGAIN);
    /* and the fd stays blocking: the description is shared with the producer */
    ck_assert_int_eq(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(write(p[1], "abc", 3), 3);
    ck_assert_int_eq(ftpc_stdsrc_read(p[0], buf, sizeof(buf), false), 3);
    ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
    ck_assert_int_eq(ftpc_stdsrc_read(p[0], buf, sizeof(buf), false), -1);
    ck_assert_int_eq(errno, EAGAIN);
    /* the producer's end: what it wrote last, then the end of the input */
    ck_assert_int_eq(write(p[1], "de", 2), 2);
    close(p[1]);
    ck_assert_int_eq(ftpc_stdsrc_read(p[0], buf, sizeof(buf), false), 2);
    ck_assert_int_eq(ftpc_stdsrc_read(p[0], buf, sizeof(buf), false), 0);
    close(p[0]);
}
END_TEST

START_TEST(test_regular_file_reads_to_its_end)
{
    int fd = temp_file("hello");
    char buf[4];
    ck_assert_int_eq(ftpc_stdsrc_read(fd, buf, sizeof(buf), false), 4);
    ck_assert_int_eq(ftpc_stdsrc_read(fd, buf, sizeof(buf), false), 1);
    ck_assert_int_eq(buf[0], 'o');
    ck_assert_int_eq(ftpc_stdsrc_read(fd, buf, sizeof(buf), false), 0);
    close(fd);
}
END_TEST

START_TEST(test_read_errors_are_reported)
{
    char buf[8];
    /* a directory opens, but does not read */
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    errno = 0;
    ck_assert_int_eq(ftpc_stdsrc_read(fd, buf, sizeof(buf), false), -1);
    ck_assert_int_eq(errno, EISDIR);
    close(fd);
    errno = 0;
    ck_assert_int_eq(ftpc_stdsrc_read(fd, buf, sizeof(buf), false), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

static Suite *stdsrc_suite(void)
{
    Suite *s = suite_create("ftpc_stdsrc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_left_of_a_regular_file);
    tcase_add_test(tc, test_left_of_a_pipe_is_unknown);
    tcase_add_test(tc, test_pipe_without_data_does_not_block);
    tcase_add_test(tc, test_regular_file_reads_to_its_end);
    tcase_add_test(tc, test_read_errors_are_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stdsrc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
