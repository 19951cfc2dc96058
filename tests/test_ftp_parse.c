/* Check suite for common/ftp_parse. */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "ftp_parse.h"

static buf in;
static ftp_parser parser;
static ftp_cmd cmd;
static char line[FTP_LINE_MAX + 1];

static void setup(void)
{
    buf_init(&in, FTP_LINE_MAX);
    memset(&parser, 0, sizeof(parser));
    memset(&cmd, 0, sizeof(cmd));
}

static void teardown(void)
{
    buf_free(&in);
}

static void feed(const char *s, size_t n)
{
    ck_assert_int_eq(buf_append_all(&in, s, n), 0);
}

static void feeds(const char *s)
{
    feed(s, strlen(s));
}

static ftp_parse_result next(void)
{
    return ftp_parse_next(&parser, &in, &cmd, line, sizeof(line));
}

static void expect_cmd(const char *verb, bool has_arg, const char *arg)
{
    ck_assert_int_eq(next(), FTP_PARSE_CMD);
    ck_assert_str_eq(cmd.verb, verb);
    ck_assert(!cmd.verb_too_long);
    ck_assert_int_eq(cmd.has_arg, has_arg);
    ck_assert_str_eq(cmd.arg, arg);
}

START_TEST(test_crlf_and_bare_lf)
{
    feeds("USER anonymous\r\n");
    expect_cmd("USER", true, "anonymous");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("PASS x\n");
    expect_cmd("PASS", true, "x");
    feeds("NOOP\r\n");
    expect_cmd("NOOP", false, "");
    ck_assert(buf_empty(&in));
}
END_TEST

START_TEST(test_need_more_and_byte_by_byte)
{
    const char *msg = "RETR some file.txt\r\nQUIT\r\n";
    size_t n = strlen(msg);
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        feed(msg + i, 1);
        ftp_parse_result r = next();
        if (r == FTP_PARSE_CMD) {
            if (got == 0) {
                ck_assert_uint_eq(i, 19);
                ck_assert_str_eq(cmd.verb, "RETR");
                ck_assert_str_eq(cmd.arg, "some file.txt");
            } else {
                ck_assert_uint_eq(i, n - 1);
                ck_assert_str_eq(cmd.verb, "QUIT");
            }
            got++;
        } else {
            ck_assert_int_eq(r, FTP_PARSE_NEED_MORE);
        }
    }
    ck_assert_int_eq(got, 2);
}
END_TEST

START_TEST(test_pipelined)
{
    feeds("TYPE I\r\nPASV\nSIZE /a\r\nST");
    expect_cmd("TYPE", true, "I");
    expect_cmd("PASV", false, "");
    expect_cmd("SIZE", true, "/a");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("AT\r\n");
    expect_cmd("STAT", false, "");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
}
END_TEST

START_TEST(test_empty_line)
{
    feeds("\r\n\nNOOP\r\n");
    expect_cmd("", false, "");
    expect_cmd("", false, "");
    expect_cmd("NOOP", false, "");
}
END_TEST

START_TEST(test_lowercase_verb)
{
    feeds("retr MixedCase.TXT\r\nQuIt\r\n");
    expect_cmd("RETR", true, "MixedCase.TXT");
    expect_cmd("QUIT", false, "");
}
END_TEST

START_TEST(test_arg_spaces_kept)
{
    feeds("STOR  leading\r\n");
    expect_cmd("STOR", true, " leading");
    feeds("STOR trailing  \r\n");
    expect_cmd("STOR", true, "trailing  ");
    feeds("MKD a  b\r\n");
    expect_cmd("MKD", true, "a  b");
    feeds("CWD \r\n");
    expect_cmd("CWD", true, "");
    feeds("CWD\r\n");
    expect_cmd("CWD", false, "");
}
END_TEST

START_TEST(test_leading_spaces_skipped)
{
    feeds(" NOOP\r\n   USER x\r\n  stor  a \r\n");
    expect_cmd("NOOP", false, "");
    expect_cmd("USER", true, "x");
    /* only the spaces before the verb go; the argument keeps its own */
    expect_cmd("STOR", true, " a ");
    /* Telnet bytes before the spaces do not hide the verb */
    feeds("\xff\xf4\xff\xf2  ABOR\r\n");
    expect_cmd("ABOR", false, "");
}
END_TEST

START_TEST(test_blank_line_is_empty_verb)
{
    feeds(" \r\n     \n   \xff\xf1 \r\nPWD\r\n");
    expect_cmd("", false, "");
    expect_cmd("", false, "");
    expect_cmd("", false, "");
    expect_cmd("PWD", false, "");
}
END_TEST

START_TEST(test_only_one_trailing_cr_stripped)
{
    feeds("STOR a\r\r\n");
    expect_cmd("STOR", true, "a\r");
    feeds("STOR b\rc\n");
    expect_cmd("STOR", true, "b\rc");
}
END_TEST

START_TEST(test_verb_too_long)
{
    feeds("ABCDEFGHIJKLMNOPQRSTUVWXYZ arg\r\n");
    ck_assert_int_eq(next(), FTP_PARSE_CMD);
    ck_assert(cmd.verb_too_long);
    ck_assert_uint_eq(strlen(cmd.verb), FTP_VERB_MAX);
    ck_assert_str_eq(cmd.verb, "ABCDEFGHIJKLMNO");
    ck_assert_str_eq(cmd.arg, "arg");
    /* exactly FTP_VERB_MAX is fine */
    feeds("abcdefghijklmno\r\n");
    expect_cmd("ABCDEFGHIJKLMNO", false, "");
}
END_TEST

START_TEST(test_iac_abor)
{
    /* What a Telnet-aware client sends for ABOR: IAC IP, IAC DM (as urgent data), "ABOR". */
    feeds("\xff\xf4\xff\xf2"
          "ABOR\r\n");
    expect_cmd("ABOR", false, "");
    /* IAC IP then IAC DM split across reads */
    feeds("\xff");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("\xf4\xff");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("\xf2"
          "AB");
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("OR\r\n");
    expect_cmd("ABOR", false, "");
}
END_TEST

START_TEST(test_iac_sequences)
{
    /* IAC IAC is a literal 0xFF byte */
    feeds("RETR a\xff\xff"
          "b\r\n");
    expect_cmd("RETR", true,
               "a\xff"
               "b");
    /* option negotiation: three bytes each */
    feeds("\xff\xfb\x01NO\xff\xfe\x03OP\xff\xfd\x18\xff\xfc\x1f\r\n");
    expect_cmd("NOOP", false, "");
    /* subnegotiation up to IAC SE, with an escaped IAC inside */
    static const char sb[] = "\xff\xfa\x18\x00xt\xff\xffrm\xff\xf0"
                             "PWD\r\n";
    feed(sb, sizeof(sb) - 1);
    expect_cmd("PWD", false, "");
    /* AYT and NOP in the middle of an argument */
    feeds("CWD di\xff\xf6r\xff\xf1\r\n");
    expect_cmd("CWD", true, "dir");
    /* an IAC cut short by the line end is dropped */
    feeds("SYST\xff\r\n");
    expect_cmd("SYST", false, "");
    feeds("SYST\xff\xfb\n");
    expect_cmd("SYST", false, "");
    /* an unterminated SB swallows the rest of its line only */
    feeds("FEAT\xff\xfa\x18junk\r\nNOOP\r\n");
    expect_cmd("FEAT", false, "");
    expect_cmd("NOOP", false, "");
}
END_TEST

START_TEST(test_nul_truncates_arg)
{
    static const char msg[] = "STOR a.txt\0.exe\r\nNOOP\r\n";
    feed(msg, sizeof(msg) - 1);
    expect_cmd("STOR", true, "a.txt");
    ck_assert(cmd.has_nul);
    /* the NUL did not start a new command */
    expect_cmd("NOOP", false, "");
    ck_assert(!cmd.has_nul);
}
END_TEST

START_TEST(test_cr_nul_is_a_cr)
{
    /* RFC 2640 3.1: a CR in a pathname travels as CR NUL */
    static const char msg[] = "MKD a\r\0b\r\nRNFR c\r\0\r\nDELE d\r\0\0e\r\n";
    feed(msg, sizeof(msg) - 1);
    expect_cmd("MKD", true, "a\rb");
    ck_assert(!cmd.has_nul);
    /* at the end of the name, before the line's own CRLF */
    expect_cmd("RNFR", true, "c\r");
    ck_assert(!cmd.has_nul);
    /* only the one NUL after the CR is padding: a second is a NUL, refused */
    expect_cmd("DELE", true, "d\r");
    ck_assert(cmd.has_nul);
}
END_TEST

START_TEST(test_too_long_then_normal)
{
    char chunk[1000];
    memset(chunk, 'A', sizeof(chunk));
    /* fill to the bound without an LF */
    for (int i = 0; i < 4; i++) {
        feed(chunk, sizeof(chunk));
        ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    }
    feed(chunk, FTP_LINE_MAX - 4000);
    ck_assert(buf_full(&in));
    ck_assert_int_eq(next(), FTP_PARSE_TOO_LONG);
    ck_assert(parser.discarding);
    ck_assert(buf_empty(&in));
    /* the rest of the long line is dropped without a second report */
    feed(chunk, sizeof(chunk));
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("AAAA\r\nNOOP\r\n");
    expect_cmd("NOOP", false, "");
    ck_assert(!parser.discarding);
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
}
END_TEST

START_TEST(test_too_long_twice)
{
    char big[FTP_LINE_MAX];
    memset(big, 'x', sizeof(big));
    feed(big, sizeof(big));
    ck_assert_int_eq(next(), FTP_PARSE_TOO_LONG);
    /* more than a buffer of the same line: still only one report */
    feed(big, sizeof(big));
    ck_assert_int_eq(next(), FTP_PARSE_NEED_MORE);
    feeds("\nUSER a\r\n");
    expect_cmd("USER", true, "a");
    /* a second long line is reported again */
    feed(big, sizeof(big));
    ck_assert_int_eq(next(), FTP_PARSE_TOO_LONG);
    feeds("tail\nPWD\n");
    expect_cmd("PWD", false, "");
}
END_TEST

START_TEST(test_longest_line_fits)
{
    /* FTP_LINE_MAX bytes including CRLF is still a command */
    char big[FTP_LINE_MAX];
    memcpy(big, "STOR ", 5);
    memset(big + 5, 'f', sizeof(big) - 5);
    big[sizeof(big) - 2] = '\r';
    big[sizeof(big) - 1] = '\n';
    feed(big, sizeof(big));
    ck_assert_int_eq(next(), FTP_PARSE_CMD);
    ck_assert_str_eq(cmd.verb, "STOR");
    ck_assert_uint_eq(strlen(cmd.arg), FTP_LINE_MAX - 7);
}
END_TEST

START_TEST(test_small_line_cap)
{
    /* a caller whose input bound exceeds line_cap still gets a bounded copy */
    char small[8];
    feeds("RETR abcdefgh\r\nPWD\r\n");
    ck_assert_int_eq(ftp_parse_next(&parser, &in, &cmd, small, sizeof(small)), FTP_PARSE_TOO_LONG);
    ck_assert_int_eq(ftp_parse_next(&parser, &in, &cmd, small, sizeof(small)), FTP_PARSE_CMD);
    ck_assert_str_eq(cmd.verb, "PWD");
}
END_TEST

START_TEST(test_parse_line_direct)
{
    char l[] = "mkd  x ";
    ftp_parse_line(l, &cmd);
    ck_assert_str_eq(cmd.verb, "MKD");
    ck_assert(cmd.has_arg);
    ck_assert_str_eq(cmd.arg, " x ");
    char e[] = "";
    ftp_parse_line(e, &cmd);
    ck_assert_str_eq(cmd.verb, "");
    ck_assert(!cmd.has_arg);
    ck_assert_str_eq(cmd.arg, "");
    char lead[] = "  cwd  x";
    ftp_parse_line(lead, &cmd);
    ck_assert_str_eq(cmd.verb, "CWD");
    ck_assert_str_eq(cmd.arg, " x");
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("ftp_parse");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_crlf_and_bare_lf);
    tcase_add_test(tc, test_need_more_and_byte_by_byte);
    tcase_add_test(tc, test_pipelined);
    tcase_add_test(tc, test_empty_line);
    tcase_add_test(tc, test_lowercase_verb);
    tcase_add_test(tc, test_arg_spaces_kept);
    tcase_add_test(tc, test_leading_spaces_skipped);
    tcase_add_test(tc, test_blank_line_is_empty_verb);
    tcase_add_test(tc, test_only_one_trailing_cr_stripped);
    tcase_add_test(tc, test_verb_too_long);
    tcase_add_test(tc, test_iac_abor);
    tcase_add_test(tc, test_iac_sequences);
    tcase_add_test(tc, test_nul_truncates_arg);
    tcase_add_test(tc, test_cr_nul_is_a_cr);
    tcase_add_test(tc, test_too_long_then_normal);
    tcase_add_test(tc, test_too_long_twice);
    tcase_add_test(tc, test_longest_line_fits);
    tcase_add_test(tc, test_small_line_cap);
    tcase_add_test(tc, test_parse_line_direct);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
