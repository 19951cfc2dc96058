/* common/strutil.c: trimming and whole-string decimal numbers. */
#include <check.h>
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

int main(void)
{
    Suite *s = suite_create("strutil");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_trim);
    tcase_add_test(tc, test_to_long);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
