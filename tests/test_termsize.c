/* common/termsize.c: a terminal's own size, and the fallbacks when there is none. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "termsize.h"

static int open_pty(unsigned short cols, unsigned short rows)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    struct winsize ws = {.ws_col = cols, .ws_row = rows};
    ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
    return master;
}

START_TEST(test_terminal)
{
    setenv("COLUMNS", "200", 1); /* the terminal wins over the environment */
    int fd = open_pty(37, 11);
    term_size t = term_size_of(fd);
    ck_assert_int_eq(t.cols, 37);
    ck_assert_int_eq(t.rows, 11);

    struct winsize resized = {.ws_col = 120, .ws_row = 40};
    ck_assert_int_eq(ioctl(fd, TIOCSWINSZ, &resized), 0);
    t = term_size_of(fd);
    ck_assert_int_eq(t.cols, 120);
    ck_assert_int_eq(t.rows, 40);
    close(fd);
}
END_TEST

START_TEST(test_no_rows_reported)
{
    int fd = open_pty(50, 0);
    term_size t = term_size_of(fd);
    ck_assert_int_eq(t.cols, 50);
    ck_assert_int_eq(t.rows, TERM_DEFAULT_ROWS);
    close(fd);
}
END_TEST

START_TEST(test_not_a_terminal)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    setenv("COLUMNS", "132", 1);
    setenv("LINES", "50", 1);
    term_size t = term_size_of(p[1]);
    ck_assert_int_eq(t.cols, 132);
    ck_assert_int_eq(t.rows, 50);

    setenv("COLUMNS", "5", 1); /* too narrow to be meant */
    setenv("LINES", "junk", 1);
    t = term_size_of(p[1]);
    ck_assert_int_eq(t.cols, TERM_DEFAULT_COLS);
    ck_assert_int_eq(t.rows, TERM_DEFAULT_ROWS);

    unsetenv("COLUMNS");
    unsetenv("LINES");
    t = term_size_of(p[1]);
    ck_assert_int_eq(t.cols, TERM_DEFAULT_COLS);
    ck_assert_int_eq(t.rows, TERM_DEFAULT_ROWS);
    close(p[0]);
    close(p[1]);
}
END_TEST

static Suite *termsize_suite(void)
{
    Suite *s = suite_create("termsize");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_terminal);
    tcase_add_test(tc, test_no_rows_reported);
    tcase_add_test(tc, test_not_a_terminal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(termsize_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
