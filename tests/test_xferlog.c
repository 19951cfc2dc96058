#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "xferlog.h"

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

START_TEST(test_known_download)
{
    utc();
    xferlog_entry e = {
        .end = 1700000000, /* Tue Nov 14 22:13:20 2023 UTC */
        .seconds = 2.6,
        .host = "192.0.2.1",
        .bytes = 1048576,
        .path = "/pub/my file.txt",
        .ascii = false,
        .incoming = false,
        .anonymous = true,
        .user = "guest@example.com",
        .complete = true,
    };
    char out[512];
    const char *want = "Tue Nov 14 22:13:20 2023 3 192.0.2.1 1048576 /pub/my_file.txt b _ o a "
                       "guest@example.com ftp 0 * c\n";
    int n = xferlog_format(out, sizeof(out), &e);
    ck_assert_int_eq(n, (int)strlen(want));
    ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(test_upload_incomplete_short)
{
    utc();
    xferlog_entry e = {
        .end = 86400 * 3 + 5, /* Sun Jan 04 00:00:05 1970 */
        .seconds = 0.2,
        .host = "2001:db8::7",
        .bytes = 0,
        .path = "/incoming/x",
        .ascii = true,
        .incoming = true,
        .anonymous = false,
        .user = "demo",
        .complete = false,
    };
    char out[512];
    ck_assert_int_gt(xferlog_format(out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "Sun Jan 04 00:00:05 1970 1 2001:db8::7 0 /incoming/x a _ i r demo ftp "
                          "0 * i\n");
}
END_TEST

START_TEST(test_hostile_fields)
{
    utc();
    /* Client-chosen text must not add fields or lines. */
    xferlog_entry e = {
        .end = 1700000000,
        .seconds = 1,
        .host = "192.0.2.1",
        .bytes = 5,
        .path = "/a b\nfake line\r\xc2\x9b"
                "2J\xc3\xa9\xc2\xa3\x9b"
                "1\xe9\xc4\x80\xc2",
        .anonymous = true,
        .user = "me\tyou x",
        .complete = true,
    };
    char out[512];
    ck_assert_int_gt(xferlog_format(out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "Tue Nov 14 22:13:20 2023 1 192.0.2.1 5 "
                          "/a_b\\x0afake_line\\x0d\\xc2\\x9b2J\xc3\xa9\xc2\xa3\\x9b1\\xe9"
                          "\xc4\x80\\xc2 b _ o a "
                          "me\\x09you_x ftp 0 * c\n");
}
END_TEST

START_TEST(test_too_small)
{
    utc();
    xferlog_entry e = {.end = 1700000000, .seconds = 1, .host = "h", .path = "/p", .user = "u"};
    char out[512];
    int n = xferlog_format(out, sizeof(out), &e);
    ck_assert_int_gt(n, 0);
    /* Exactly enough (line plus NUL) works; one byte less fails. */
    ck_assert_int_eq(xferlog_format(out, (size_t)n + 1, &e), n);
    ck_assert_int_eq(xferlog_format(out, (size_t)n, &e), -1);
    ck_assert_int_eq(xferlog_format(out, 10, &e), -1);
    ck_assert_int_eq(xferlog_format(out, 0, &e), -1);
}
END_TEST

/* A write cut short (a full disk, a file size limit) leaves no piece of its line for the next
 * line to be joined to. Check runs each test in a process of its own: the limit stays here. */
START_TEST(test_short_write_leaves_no_piece)
{
    char path[] = "/tmp/test_xferlog_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    FILE *log = xferlog_open(path);
    ck_assert_ptr_nonnull(log);
    signal(SIGXFSZ, SIG_IGN); /* as ftpd: the write returns short instead */
    ck_assert_int_eq(xferlog_append(log, "aaaa\n", 5), 0);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 8;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ck_assert_int_eq(xferlog_append(log, "bbbbbbbb\n", 9), -1);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(xferlog_append(log, "cc\n", 3), 0);
    fclose(log);
    char got[64] = {0};
    FILE *in = fopen(path, "r");
    ck_assert_ptr_nonnull(in);
    size_t n = fread(got, 1, sizeof(got) - 1, in);
    fclose(in);
    unlink(path);
    got[n] = '\0';
    ck_assert_str_eq(got, "aaaa\ncc\n");
}
END_TEST

static Suite *xferlog_suite(void)
{
    Suite *s = suite_create("xferlog");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_known_download);
    tcase_add_test(tc, test_upload_incomplete_short);
    tcase_add_test(tc, test_hostile_fields);
    tcase_add_test(tc, test_too_small);
    tcase_add_test(tc, test_short_write_leaves_no_piece);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(xferlog_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
