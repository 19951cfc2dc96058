/* Check suite for ftpc/url: ftp:// URL parsing, %-decoding, display. */
#include <check.h>
#include <string.h>

#include "url.h"

START_TEST(test_minimal)
{
    ftpc_url u;
    char err[128];
    ck_assert_int_eq(ftpc_url_parse("ftp://example.com", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.host, "example.com");
    ck_assert_int_eq(u.port, 21);
    ck_assert(!u.has_user);
    ck_assert(!u.has_pass);
    ck_assert_str_eq(u.path, "");
    ck_assert(u.dir_slash);
    ck_assert_int_eq(u.type, 0);
}
END_TEST

START_TEST(test_full)
{
    ftpc_url u;
    char err[128];
    ck_assert_int_eq(ftpc_url_parse("FTP://alice:s%3Acret%40x@127.0.0.1:2121/dir/a%20b.txt", &u,
                                    err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.user, "alice");
    ck_assert_str_eq(u.pass, "s:cret@x");
    ck_assert(u.has_user && u.has_pass);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 2121);
    ck_assert_str_eq(u.path, "dir/a b.txt");
    ck_assert(!u.dir_slash);
    ck_assert_str_eq(ftpc_url_basename(&u), "a b.txt");
}
END_TEST

START_TEST(test_user_without_password)
{
    ftpc_url u;
    ck_assert_int_eq(ftpc_url_parse("ftp://bob@h/x", &u, NULL, 0), 0);
    ck_assert(u.has_user);
    ck_assert(!u.has_pass);
    ck_assert_str_eq(u.user, "bob");
    /* An empty password is still a password. */
    ck_assert_int_eq(ftpc_url_parse("ftp://bob:@h/x", &u, NULL, 0), 0);
    ck_assert(u.has_pass);
    ck_assert_str_eq(u.pass, "");
}
END_TEST

START_TEST(test_at_in_user)
{
    /* The last '@' ends the user information. */
    ftpc_url u;
    ck_assert_int_eq(ftpc_url_parse("ftp://me@example.org:pw@host/f", &u, NULL, 0), 0);
    ck_assert_str_eq(u.user, "me@example.org");
    ck_assert_str_eq(u.pass, "pw");
    ck_assert_str_eq(u.host, "host");
}
END_TEST

START_TEST(test_ipv6)
{
    ftpc_url u;
    ck_assert_int_eq(ftpc_url_parse("ftp://[::1]:2121/a", &u, NULL, 0), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 2121);
    ck_assert_str_eq(u.path, "a");
    ck_assert_int_eq(ftpc_url_parse("ftp://u:p@[fe80::1%25eth0]/", &u, NULL, 0), 0);
    ck_assert_str_eq(u.host, "fe80::1%eth0");
    ck_assert_int_eq(u.port, 21);
    ck_assert(u.dir_slash);
}
END_TEST

START_TEST(test_paths)
{
    ftpc_url u;
    ck_assert_int_eq(ftpc_url_parse("ftp://h/", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "");
    ck_assert(u.dir_slash);
    ck_assert_int_eq(ftpc_url_parse("ftp://h/pub/", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "pub/");
    ck_assert(u.dir_slash);
    ck_assert_str_eq(ftpc_url_basename(&u), "");
    /* "//" keeps an absolute server path. */
    ck_assert_int_eq(ftpc_url_parse("ftp://h//etc/motd", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "/etc/motd");
    ck_assert_int_eq(ftpc_url_parse("ftp://h/%2Fetc/motd", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "/etc/motd");
    ck_assert_int_eq(ftpc_url_parse("ftp://h/100%25.txt", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "100%.txt");
}
END_TEST

START_TEST(test_type)
{
    ftpc_url u;
    ck_assert_int_eq(ftpc_url_parse("ftp://h/f.txt;type=a", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "f.txt");
    ck_assert_int_eq(u.type, 'a');
    ck_assert_int_eq(ftpc_url_parse("ftp://h/f;TYPE=I", &u, NULL, 0), 0);
    ck_assert_str_eq(u.path, "f");
    ck_assert_int_eq(u.type, 'i');
    ck_assert_int_eq(ftpc_url_parse("ftp://h/f;type=x", &u, NULL, 0), -1);
}
END_TEST

static const char *const bad_urls[] = {
    "http://h/x",              /* not ftp */
    "ftp:/h/x",                /* one slash */
    "ftp:///x",                /* no host */
    "ftp://:21/x",             /* no host */
    "ftp://h:0/x",             /* port 0 */
    "ftp://h:65536/x",         /* port too big */
    "ftp://h:12a/x",           /* port junk */
    "ftp://h:/x",              /* empty port */
    "ftp://[::1/x",            /* unterminated bracket */
    "ftp://[::1]x/",           /* junk after bracket */
    "ftp://[]/",               /* empty v6 */
    "ftp://h/a%0d%0aDELE%20x", /* CR LF injection */
    "ftp://h/a%0ab",           /* LF */
    "ftp://h/a%00b",           /* NUL */
    "ftp://h/a%2",             /* short escape */
    "ftp://h/a%zz",            /* bad hex */
    "ftp://u%0a:p@h/x",        /* LF in user */
    "ftp://u:p%0d@h/x",        /* CR in password */
    "ftp://@h/x",              /* empty user */
    "ftp://h%20x/",            /* space in host */
};

START_TEST(test_bad)
{
    ftpc_url u;
    char err[128] = "";
    ck_assert_msg(ftpc_url_parse(bad_urls[_i], &u, err, sizeof(err)) == -1, "accepted %s",
                  bad_urls[_i]);
    ck_assert(err[0] != '\0');
}
END_TEST

/* An IPv6 address without brackets is read as host:port at its first colon; the message
 * says how to write it rather than "no host" or "bad port". */
START_TEST(test_bare_ipv6)
{
    const char *const urls[] = {"ftp://::1/", "ftp://u:p@::1:2121/x", "ftp://fe80::1/x"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        ftpc_url u;
        char err[128] = "";
        ck_assert_int_eq(ftpc_url_parse(urls[i], &u, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, "in brackets") != NULL, "%s: %s", urls[i], err);
    }
}
END_TEST

START_TEST(test_decode)
{
    char out[8];
    ck_assert_int_eq(ftpc_url_decode("a%41b", 5, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "aAb");
    ck_assert_int_eq(ftpc_url_decode("abcdefgh", 8, out, sizeof(out)), -1); /* too long */
    ck_assert_int_eq(ftpc_url_decode("abcdefg", 7, out, sizeof(out)), 7);
    ck_assert_int_eq(ftpc_url_decode("%", 1, out, sizeof(out)), -1);
    ck_assert_int_eq(ftpc_url_decode("", 0, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    /* Only len bytes are read. */
    ck_assert_int_eq(ftpc_url_decode("ab%41", 2, out, sizeof(out)), 2);
    ck_assert_str_eq(out, "ab");
}
END_TEST

START_TEST(test_display)
{
    ftpc_url u;
    char out[256];
    ck_assert_int_eq(ftpc_url_parse("ftp://alice:secret@h:2121/d/f", &u, NULL, 0), 0);
    ftpc_url_display(&u, out, sizeof(out));
    ck_assert_str_eq(out, "ftp://alice@h:2121/d/f");
    ck_assert_ptr_null(strstr(out, "secret"));
    ck_assert_int_eq(ftpc_url_parse("ftp://[::1]/x%1b[2J", &u, NULL, 0), 0);
    ftpc_url_display(&u, out, sizeof(out));
    /* No escape sequence reaches the terminal through a message. */
    ck_assert_str_eq(out, "ftp://[::1]/x?[2J");
    ftpc_url_display(&u, out, 8);
    ck_assert_str_eq(out, "ftp://[");
}
END_TEST

START_TEST(test_schemes)
{
    ftpc_url u;
    char out[256];
    ck_assert(ftpc_url_is_url("ftps://h/x") && ftpc_url_is_url("FTPES://h") &&
              ftpc_url_is_url("ftp://h") && !ftpc_url_is_url("http://h") &&
              !ftpc_url_is_url("ftpx://h"));
    ck_assert_int_eq(ftpc_url_parse("ftps://u@h/f", &u, NULL, 0), 0);
    ck_assert_int_eq(u.tls, 2);
    ck_assert_int_eq(u.port, 990);
    ck_assert_str_eq(ftpc_url_display(&u, out, sizeof(out)), "ftps://u@h/f");
    ck_assert_int_eq(ftpc_url_parse("ftps://h:21/f", &u, NULL, 0), 0);
    ck_assert_int_eq(u.port, 21);
    ck_assert_str_eq(ftpc_url_display(&u, out, sizeof(out)), "ftps://h:21/f");
    ck_assert_int_eq(ftpc_url_parse("ftpes://h/f", &u, NULL, 0), 0);
    ck_assert_int_eq(u.tls, 1);
    ck_assert_int_eq(u.port, 21);
    ck_assert_str_eq(ftpc_url_display(&u, out, sizeof(out)), "ftpes://h/f");
    ck_assert_int_eq(ftpc_url_parse("ftp://h/f", &u, NULL, 0), 0);
    ck_assert_int_eq(u.tls, 0);
    ck_assert_int_eq(ftpc_url_parse("sftp://h/f", &u, NULL, 0), -1);
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("ftpc_url");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_minimal);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_user_without_password);
    tcase_add_test(tc, test_at_in_user);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_type);
    tcase_add_test(tc, test_bare_ipv6);
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad_urls) / sizeof(bad_urls[0])));
    tcase_add_test(tc, test_decode);
    tcase_add_test(tc, test_display);
    tcase_add_test(tc, test_schemes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(url_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
