/* ftpc/connlimit.c: which login refusals say the server has too many sessions (what ftpd,
 * vsftpd, pure-ftpd and ProFTPD send), and the bounded waits between attempts. */
#include <check.h>
#include <stdlib.h>

#include "connlimit.h"

START_TEST(test_limit_refusals)
{
    static const struct {
        int code;
        const char *text;
    } limits[] = {
        {421, "Too many connections from your address."},
        {421, "Too many users, try again later."},
        {421, "There are too many connections from your internet address."},
        {421, "There are too many connected users, please try later."},
        {421, "Too many connections (2) from this IP"},
        {421, "10 users (the maximum) are already logged in, sorry"},
        {421, "I can't accept more than 2 connections as the same user"},
        {530, "Sorry, the maximum number of clients (2) from your host are already connected."},
    };
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        ck_assert_msg(ftpc_reply_says_too_many(limits[i].code, limits[i].text),
                      "%d %s not taken for a limit", limits[i].code, limits[i].text);
}
END_TEST

START_TEST(test_other_refusals)
{
    static const struct {
        int code;
        const char *text;
    } others[] = {
        {530, "Login incorrect."},
        {421, "Too many login failures, closing."},
        {421, "Too many authentication failures"},
        {421, "Service not available, closing control connection."},
        {421, "Timeout (no activity), closing."},
        {421, "Server is shutting down."},
        {550, "Too many connections from your address."}, /* not a refusal of service */
        {530, "Non-anonymous sessions must use encryption."},
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        ck_assert_msg(!ftpc_reply_says_too_many(others[i].code, others[i].text),
                      "%d %s taken for a limit", others[i].code, others[i].text);
}
END_TEST

START_TEST(test_delays_bounded)
{
    long total = 0, prev = 0;
    int attempt = 1;
    for (long d; (d = ftpc_limit_retry_delay_ms(attempt)) >= 0; attempt++) {
        ck_assert_int_gt(d, prev); /* growing */
        prev = d;
        total += d;
    }
    ck_assert_int_eq(attempt, ftpc_limit_attempts());
    ck_assert_int_ge(attempt, 3);
    ck_assert_int_le(total, 5000); /* a few seconds in all */
    ck_assert_int_eq(ftpc_limit_retry_delay_ms(0), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ftpc_connlimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_limit_refusals);
    tcase_add_test(tc, test_other_refusals);
    tcase_add_test(tc, test_delays_bounded);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
