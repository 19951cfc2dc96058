/* ftpc/status.c: exit codes for replies, quoting, and the size in a SIZE reply. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

START_TEST(test_size_reply)
{
    ck_assert_int_eq(ftpc_parse_size_reply("1200"), 1200);
    ck_assert_int_eq(ftpc_parse_size_reply("0"), 0);
    ck_assert_int_eq(ftpc_parse_size_reply(" 77 "), 77);
    ck_assert_int_eq(ftpc_parse_size_reply("9223372036854775807"), INT64_MAX);
    /* what a broken or hostile server may say: not a size to trust */
    const char *bad[] = {"",
                         "abc",
                         "12abc",
                         "0x4b0",
                         "-5",
                         "+5",
                         "1 2",
                         "1.5",
                         "9223372036854775808",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(ftpc_parse_size_reply(bad[i]) == -1, "'%s' was taken", bad[i]);
}
END_TEST

START_TEST(test_announced_size)
{
    ck_assert_int_eq(
        ftpc_parse_announced_size("Opening BINARY mode data connection for f.bin (3000000 bytes)."),
        3000000);
    ck_assert_int_eq(ftpc_parse_announced_size("Opening data connection for e (0 bytes)"), 0);
    ck_assert_int_eq(ftpc_parse_announced_size("for a (5 bytes) b (12 Bytes)"), 12);
    ck_assert_int_eq(ftpc_parse_announced_size("for x (12 bytes) (y)"), 12);
    /* no size, or not one ftpc can take */
    const char *none[] = {"Here comes the directory listing.",
                          "Accepted data connection\n2929.7 kbytes to download",
                          "for f (12 kbytes)",
                          "for f (12bytes)",
                          "for f (12 bytes",
                          "for f (-1 bytes)",
                          "for f ( 12 bytes)",
                          "for f (99999999999999999999999 bytes)",
                          ""};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        ck_assert_msg(ftpc_parse_announced_size(none[i]) == -1, "'%s' was taken", none[i]);
}
END_TEST

START_TEST(test_status_for_reply)
{
    ck_assert_int_eq(ftpc_status_for_reply(550), FTPC_EXIT_REMOTE);
    ck_assert_int_eq(ftpc_status_for_reply(530), FTPC_EXIT_LOGIN);
    ck_assert_int_eq(ftpc_status_for_reply(426), FTPC_EXIT_XFER);
}
END_TEST

START_TEST(test_fit_middle_keeps_both_ends)
{
    char out[64];
    ftpc_fit_middle(out, sizeof(out), "short: reason");
    ck_assert_str_eq(out, "short: reason");
    /* a name of two-byte characters: no character is cut, the reason stays whole */
    char s[600] = "removing ";
    for (int i = 0; i < 200; i++)
        strcat(s, "\xc3\xa9");
    strcat(s, ": the server replied 553 too long");
    ftpc_fit_middle(out, sizeof(out), s);
    ck_assert_uint_le(strlen(out), sizeof(out) - 1);
    ck_assert_ptr_nonnull(strstr(out, "..."));
    const char *why = ": the server replied 553 too long";
    ck_assert_str_eq(out + strlen(out) - strlen(why), why);
    ck_assert_int_eq(strncmp(out, "removing \xc3\xa9", 11), 0);
    const char *dots = strstr(out, "...");
    ck_assert_int_eq((int)((dots - out - 9) % 2), 0);      /* whole characters before ... */
    ck_assert_int_ne((unsigned char)dots[3] & 0xC0, 0x80); /* and after it */
    ftpc_err e;
    ftpc_err_set(&e, FTPC_EXIT_REMOTE, "x %s: y", s);
    ck_assert_str_eq(e.msg + strlen(e.msg) - strlen(why) - 3,
                     ": the server replied 553 too long: y");
}
END_TEST

START_TEST(test_reply_refuses_restart)
{
    /* ProFTPD's refusal, with and without the name echoed, whatever the name */
    ck_assert(ftpc_reply_refuses_restart("x.bin: Restart not permitted, try again", "/d/x.bin"));
    ck_assert(ftpc_reply_refuses_restart("r: Restart not permitted, try again", "r"));
    ck_assert(
        ftpc_reply_refuses_restart("restart.bin: Restart not permitted, try again", "restart.bin"));
    ck_assert(ftpc_reply_refuses_restart("Restart not permitted", "/a"));
    /* a passing error about a file whose name holds the word */
    ck_assert(!ftpc_reply_refuses_restart("restart.bin: Too many open files; try again later.",
                                          "/pub/restart.bin"));
    ck_assert(!ftpc_reply_refuses_restart("/pub/no-restart: Out of resources.", "no-restart"));
    ck_assert(!ftpc_reply_refuses_restart("Too many open files", "/a"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ftpc_status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_size_reply);
    tcase_add_test(tc, test_announced_size);
    tcase_add_test(tc, test_status_for_reply);
    tcase_add_test(tc, test_fit_middle_keeps_both_ends);
    tcase_add_test(tc, test_reply_refuses_restart);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
