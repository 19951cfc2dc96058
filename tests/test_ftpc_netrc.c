/* Check suite for ftpc/netrc: entry lookup, default, login filter, quoting, macdef. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrc.h"

static const char *const text =
    "# comment lines are just ignored tokens\n"
    "machine ftp.example.org login alice password secret1\n"
    "machine ftp.example.org\n  login bob\n  password \"with space\\\"quote\"\n"
    "macdef init\n"
    "machine inside.macdef login nobody password x\n"
    "\n"
    "machine other.example.org login carol\n"
    "machine acct.example.org login dave account a1 password pw-dave\n"
    "default login anonymous password me@example.org\n";

START_TEST(test_first_machine)
{
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_find(text, "ftp.example.org", NULL, &e), 1);
    ck_assert_str_eq(e.login, "alice");
    ck_assert_str_eq(e.password, "secret1");
    /* host names compare without case */
    ck_assert_int_eq(ftpc_netrc_find(text, "FTP.Example.ORG", NULL, &e), 1);
    ck_assert_str_eq(e.login, "alice");
}
END_TEST

START_TEST(test_login_filter_and_quotes)
{
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_find(text, "ftp.example.org", "bob", &e), 1);
    ck_assert_str_eq(e.login, "bob");
    ck_assert_str_eq(e.password, "with space\"quote");
    /* no entry for this login on the host: the default does not fit either */
    ck_assert_int_eq(ftpc_netrc_find(text, "ftp.example.org", "zed", &e), 0);
}
END_TEST

START_TEST(test_no_password)
{
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_find(text, "other.example.org", NULL, &e), 1);
    ck_assert_str_eq(e.login, "carol");
    ck_assert(e.has_login);
    ck_assert(!e.has_password);
}
END_TEST

START_TEST(test_account_skipped)
{
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_find(text, "acct.example.org", NULL, &e), 1);
    ck_assert_str_eq(e.password, "pw-dave");
}
END_TEST

START_TEST(test_macdef_skipped)
{
    ftpc_netrc_entry e;
    /* "inside.macdef" only appears inside the macro body: the default answers. */
    ck_assert_int_eq(ftpc_netrc_find(text, "inside.macdef", NULL, &e), 1);
    ck_assert_str_eq(e.login, "anonymous");
}
END_TEST

START_TEST(test_default_and_none)
{
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_find(text, "unknown.host", NULL, &e), 1);
    ck_assert_str_eq(e.login, "anonymous");
    ck_assert_str_eq(e.password, "me@example.org");
    ck_assert_int_eq(ftpc_netrc_find("machine a login b password c", "x", NULL, &e), 0);
    ck_assert_int_eq(ftpc_netrc_find("", "x", NULL, &e), 0);
    /* truncated file: no crash, no match */
    ck_assert_int_eq(ftpc_netrc_find("machine", "x", NULL, &e), 0);
    ck_assert_int_eq(ftpc_netrc_find("machine x login", "x", NULL, &e), 1);
}
END_TEST

START_TEST(test_open_quote_is_reported_with_its_line)
{
    ftpc_netrc_entry e;
    const char *open_quote = "machine a login b password \"c\nmachine x login y password z\n";
    ck_assert_int_eq(ftpc_netrc_find(open_quote, "x", NULL, &e), -2);
    ck_assert_int_eq(e.bad_line, 1);
    ck_assert_int_eq(e.has_password, 0);
    /* lines are counted across a macdef, CRLF and a good quoted token */
    const char *later = "macdef m\nline\n\nmachine a login \"b c\"\r\n password \"open";
    ck_assert_int_eq(ftpc_netrc_find(later, "a", NULL, &e), -2);
    ck_assert_int_eq(e.bad_line, 5);
    /* after the entry that matches, too */
    ck_assert_int_eq(
        ftpc_netrc_find("machine a password p\nmachine z password \"open", "a", NULL, &e), -2);
    ck_assert_int_eq(e.bad_line, 2);
    ck_assert_int_eq(ftpc_netrc_find("machine a password \"closed\"", "a", NULL, &e), 1);
    ck_assert_str_eq(e.password, "closed");
}
END_TEST

START_TEST(test_lookup_file)
{
    char path[] = "/tmp/ftpc-netrc-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ftpc_netrc_entry e;
    ck_assert_int_eq(ftpc_netrc_lookup(path, "ftp.example.org", "bob", &e), 1);
    ck_assert_str_eq(e.login, "bob");
    unlink(path);
    ck_assert_int_eq(ftpc_netrc_lookup(path, "ftp.example.org", NULL, &e), -1);
}
END_TEST

static Suite *netrc_suite(void)
{
    Suite *s = suite_create("ftpc_netrc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_first_machine);
    tcase_add_test(tc, test_login_filter_and_quotes);
    tcase_add_test(tc, test_no_password);
    tcase_add_test(tc, test_account_skipped);
    tcase_add_test(tc, test_macdef_skipped);
    tcase_add_test(tc, test_default_and_none);
    tcase_add_test(tc, test_open_quote_is_reported_with_its_line);
    tcase_add_test(tc, test_lookup_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(netrc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
