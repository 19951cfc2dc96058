/* common/strutil.c: trimming and whole-string decimal numbers. */
#include <check.h>
#include <string.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>

#include "strutil.h"

START_TEST(test_trim)
{
    char a[] = "  key = value \t\n";
    ck_assert_str_eq(str_trim(a), "key = value");
    char b[] = "";
    ck_assert_str_eq(str_trim(b), "");
}
END_TEST

START_TEST(test_to_long)
{
    long v = 7;
    ck_assert_int_eq(str_to_long("42", 1, 64, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(str_to_long("-3", -5, 5, &v), 0);
    ck_assert_int_eq(v, -3);
    v = 7;
    const char *bad[] = {"", "x", "12x", "4.5", "65", "0", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(str_to_long(bad[i], 1, 64, &v) == -1, "'%s' was taken", bad[i]);
        ck_assert_int_eq(v, 7); /* left alone */
    }
    ck_assert_int_eq(str_to_long("9223372036854775807", 0, LONG_MAX, &v), 0);
    ck_assert_int_eq(v, LONG_MAX);
}
END_TEST

START_TEST(test_parse_octal)
{
    unsigned v = 99;
    ck_assert_int_eq(str_parse_octal("0755", 4, 4, 0777, &v), 0);
    ck_assert_uint_eq(v, 0755);
    ck_assert_int_eq(str_parse_octal("644 rest", 3, 4, 0777, &v), 0);
    ck_assert_uint_eq(v, 0644);
    v = 99;
    ck_assert_int_eq(str_parse_octal("1777", 4, 4, 0777, &v), -1);  /* above max */
    ck_assert_int_eq(str_parse_octal("00644", 5, 4, 0777, &v), -1); /* too many digits */
    ck_assert_int_eq(str_parse_octal("68", 2, 4, 0777, &v), -1);
    ck_assert_int_eq(str_parse_octal("", 0, 4, 0777, &v), -1);
    ck_assert_int_eq(str_parse_octal("-1", 2, 4, 0777, &v), -1);
    ck_assert_uint_eq(v, 99);
    ck_assert_int_eq(str_parse_octal("004750", 6, 6, 07777, &v), 0);
    ck_assert_uint_eq(v, 04750);
}
END_TEST

START_TEST(test_parse_rate)
{
    unsigned long long v = 7;
    ck_assert_int_eq(str_parse_rate("500", &v), 0);
    ck_assert_uint_eq(v, 500);
    ck_assert_int_eq(str_parse_rate("512k", &v), 0);
    ck_assert_uint_eq(v, 512 * 1024);
    ck_assert_int_eq(str_parse_rate("1.5M", &v), 0);
    ck_assert_uint_eq(v, 1536 * 1024);
    ck_assert_int_eq(str_parse_rate("2g", &v), 0);
    ck_assert_uint_eq(v, 2ULL << 30);
    ck_assert_int_eq(str_parse_rate("3MB/s", &v), 0);
    ck_assert_uint_eq(v, 3 << 20);
    ck_assert_int_eq(str_parse_rate("10KB", &v), 0);
    ck_assert_uint_eq(v, 10 << 10);
    /* 0 is a rate here (ftpd: no limit); ftpc refuses it itself */
    ck_assert_int_eq(str_parse_rate("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(str_parse_rate("0k", &v), 0);
    ck_assert_uint_eq(v, 0);
    v = 7;
    const char *bad[] = {"", "k", "-5k", "0.5", "12x", "5 k", "1T", "2M/h", "nan", "1e16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(str_parse_rate(bad[i], &v) == -1, "'%s' accepted", bad[i]);
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_parse_duration)
{
    long long v = 7;
    ck_assert_int_eq(str_parse_duration("45", 1000000, &v), 0);
    ck_assert_int_eq(v, 45);
    ck_assert_int_eq(str_parse_duration("2s", 1000000, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(str_parse_duration("30m", 1000000, &v), 0);
    ck_assert_int_eq(v, 1800);
    ck_assert_int_eq(str_parse_duration("12h", 1000000, &v), 0);
    ck_assert_int_eq(v, 43200);
    ck_assert_int_eq(str_parse_duration("7d", 1000000, &v), 0);
    ck_assert_int_eq(v, 604800);
    ck_assert_int_eq(str_parse_duration("0", 1000000, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(str_parse_duration("0d", 1000000, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(str_parse_duration("11d", 950400, &v), 0); /* max itself */
    ck_assert_int_eq(v, 950400);
    v = 7;
    const char *bad[] = {"",
                         "d",
                         "-1d",
                         "+1d",
                         "1.5d",
                         "1 d",
                         "1D",
                         "1w",
                         "1dd",
                         "12d",
                         "1e3",
                         " 1",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(str_parse_duration(bad[i], 950400, &v) == -1, "'%s' accepted", bad[i]);
    ck_assert_int_eq(v, 7);
    char buf[32];
    ck_assert_str_eq(str_format_duration(604800, buf, sizeof buf), "7d");
    ck_assert_str_eq(str_format_duration(129600, buf, sizeof buf), "36h");
    ck_assert_str_eq(str_format_duration(1800, buf, sizeof buf), "30m");
    ck_assert_str_eq(str_format_duration(90, buf, sizeof buf), "90s");
    ck_assert_str_eq(str_format_duration(0, buf, sizeof buf), "0s");
}
END_TEST

START_TEST(test_distance)
{
    ck_assert_uint_eq(str_distance("kitten", "sitting", 5), 3);
    ck_assert_uint_eq(str_distance("", "abc", 5), 3);
    ck_assert_uint_eq(str_distance("same", "same", 0), 0);
    ck_assert_uint_eq(str_distance("kitten", "sitting", 2), 3); /* over the cap: cap + 1 */
    ck_assert_uint_eq(str_distance("abcdef", "zzzzzz", 1), 2);
    char longw[80];
    memset(longw, 'a', sizeof(longw) - 1);
    longw[sizeof(longw) - 1] = '\0';
    ck_assert_uint_eq(str_distance(longw, longw, 4), 5); /* too long to compare */
}
END_TEST

START_TEST(test_nearest_option)
{
    static const struct option opts[] = {
        {"max-sessions", required_argument, NULL, 1},
        {"max-per-ip", required_argument, NULL, 2},
        {"listen", required_argument, NULL, 3},
        {"help", no_argument, NULL, 4},
        {NULL, 0, NULL, 0},
    };
    ck_assert_str_eq(str_nearest_option("--max-sesions", opts), "max-sessions");
    ck_assert_str_eq(str_nearest_option("--lsten=127.0.0.1:21", opts), "listen");
    ck_assert_str_eq(str_nearest_option("max-per-ipp", opts), "max-per-ip");
    ck_assert_str_eq(str_nearest_option("hlp", opts), "help"); /* one edit in a short word */
    ck_assert_ptr_null(str_nearest_option("hp", opts));        /* two are too many there */
    ck_assert_ptr_null(str_nearest_option("--listen", opts));  /* exact: nothing to suggest */
    /* keys and flags are lower case: a word in capitals is one of them, mistyped */
    ck_assert_str_eq(str_nearest_option("MAX-SESSIONS", opts), "max-sessions");
    ck_assert_str_eq(str_nearest_option("--Listen=0.0.0.0:21", opts), "listen");
    ck_assert_str_eq(str_nearest_option("MAX-SESIONS", opts), "max-sessions");
    ck_assert_ptr_null(str_nearest_option("--xyzzy", opts));
    ck_assert_ptr_null(str_nearest_option("--", opts));
    ck_assert_ptr_null(str_nearest_option("--=1", opts));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("strutil");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_trim);
    tcase_add_test(tc, test_to_long);
    tcase_add_test(tc, test_parse_octal);
    tcase_add_test(tc, test_parse_rate);
    tcase_add_test(tc, test_parse_duration);
    tcase_add_test(tc, test_distance);
    tcase_add_test(tc, test_nearest_option);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
