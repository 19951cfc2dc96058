/* Check suite for ftpc/mdtm: modification times as MDTM, MFMT and MLSD give them, read and
 * written, the one the inverse of the other. */
#include <check.h>
#include <string.h>

#include "mdtm.h"

START_TEST(test_format)
{
    char out[32];
    ck_assert_int_eq(ftpc_format_mdtm(1500000000, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "20170714024000");
    ck_assert_int_eq(ftpc_format_mdtm(0, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "19700101000000");
}
END_TEST

START_TEST(test_round_trip)
{
    static const int64_t times[] = {0, 951782400 /* 2000-02-29 */, 1500000000, 4102444799};
    char out[15];
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        ck_assert_int_eq(ftpc_format_mdtm(times[i], out, sizeof(out)), 0);
        ck_assert_int_eq(ftpc_parse_mdtm(out, strlen(out)), times[i]);
    }
}
END_TEST

START_TEST(test_no_room_or_no_form)
{
    char out[32] = "x";
    ck_assert_int_eq(ftpc_format_mdtm(1500000000, out, 14), -1);
    /* a year of more than four digits has no 14-digit form */
    ck_assert_int_eq(ftpc_format_mdtm(INT64_C(253402300800), out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_parse_reply)
{
    ck_assert_int_eq(ftpc_parse_mdtm_reply("20170714024000"), 1500000000);
    ck_assert_int_eq(ftpc_parse_mdtm_reply("2017071402400"), -1);
}
END_TEST

static Suite *mdtm_suite(void)
{
    Suite *s = suite_create("ftpc_mdtm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_no_room_or_no_form);
    tcase_add_test(tc, test_parse_reply);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mdtm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
