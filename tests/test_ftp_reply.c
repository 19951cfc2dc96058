/* Check suite for common/ftp_reply: writer, path quoting and the client-side parser. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "ftp_reply.h"

static void expect_mem(buf *b, const char *want, size_t n)
{
    ck_assert_uint_eq(buf_len(b), n);
    ck_assert_mem_eq(buf_head(b), want, n);
    buf_clear(b);
}

static void expect_buf(buf *b, const char *want)
{
    expect_mem(b, want, strlen(want));
}

START_TEST(test_reply_single)
{
    buf out;
    buf_init(&out, 1024);
    ck_assert_int_eq(ftp_reply(&out, FTP_TRANSFER_OK, "Transfer %s", "complete"), 0);
    expect_buf(&out, "226 Transfer complete\r\n");
    ck_assert_int_eq(ftp_reply(&out, FTP_READY, "%s", ""), 0);
    expect_buf(&out, "220 \r\n");
    buf_free(&out);
}
END_TEST

START_TEST(test_reply_sanitises)
{
    buf out;
    buf_init(&out, 1024);
    /* a file name must not forge a reply line of its own */
    ck_assert_int_eq(ftp_reply(&out, FTP_FILE_UNAVAILABLE, "%s: no", "a\r\n250 ok\nb\rc"), 0);
    /* a CR goes as CR NUL (RFC 2640 3.1), which ends no line; an LF as a space */
    static const char want[] = "550 a\r\0 250 ok b\r\0c: no\r\n";
    expect_mem(&out, want, sizeof want - 1);
    buf_free(&out);
}
END_TEST

START_TEST(test_reply_long_text)
{
    buf out;
    buf_init(&out, 4096);
    char *t = malloc(2001);
    memset(t, 'x', 2000);
    t[2000] = '\0';
    t[1000] = '\n';
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "%s", t), 0);
    ck_assert_uint_eq(buf_len(&out), 4 + 2000 + 2);
    ck_assert_mem_eq(buf_head(&out), "200 xxx", 7);
    ck_assert_int_eq(buf_head(&out)[4 + 1000], ' ');
    ck_assert_mem_eq(buf_head(&out) + 4 + 2000, "\r\n", 2);
    free(t);
    buf_free(&out);
}
END_TEST

START_TEST(test_reply_text)
{
    buf out;
    buf_init(&out, 16);
    ck_assert_int_eq(ftp_reply_text(&out, FTP_CMD_OK, "ok then", 2), 0); /* only len bytes */
    expect_buf(&out, "200 ok\r\n");
    ck_assert_int_eq(ftp_reply_text(&out, FTP_CMD_OK, "a\nb", 3), 0);
    expect_buf(&out, "200 a b\r\n");
    ck_assert_int_eq(ftp_reply_text(&out, FTP_CMD_OK, "0123456789", 10), 0); /* exact fit */
    ck_assert(buf_full(&out));
    errno = 0;
    ck_assert_int_eq(ftp_reply_text(&out, FTP_CMD_OK, "", 0), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&out), 16);
    buf_free(&out);
}
END_TEST

/* A 257 reply for a path far longer than any fixed line buffer, with quotes doubled. */
START_TEST(test_reply_long_quoted_path)
{
    enum { PATH_LEN = 4000 };
    char *path = malloc(PATH_LEN + 1), *q = malloc(2 * PATH_LEN + 1);
    for (size_t i = 0; i < PATH_LEN; i++)
        path[i] = i % 251 == 0 ? '/' : (i % 3 == 0 ? '"' : 'p');
    path[PATH_LEN] = '\0';
    ck_assert_int_eq(ftp_quote_path(path, q, 2 * PATH_LEN + 1), 0);
    size_t quotes = 0;
    for (size_t i = 0; i < PATH_LEN; i++)
        quotes += path[i] == '"';
    ck_assert_uint_eq(strlen(q), PATH_LEN + quotes);

    buf out;
    buf_init(&out, 64 * 1024);
    ck_assert_int_eq(ftp_reply(&out, FTP_PATH_CREATED, "\"%s\" created.", q), 0);
    size_t want = 4 + 1 + strlen(q) + strlen("\" created.\r\n");
    ck_assert_uint_eq(buf_len(&out), want);
    ck_assert_mem_eq(buf_head(&out), "257 \"", 5);
    ck_assert_mem_eq(buf_head(&out) + 5, q, strlen(q));
    ck_assert_mem_eq(buf_head(&out) + 5 + strlen(q), "\" created.\r\n", 12);
    buf_free(&out);
    free(q);
    free(path);
}
END_TEST

START_TEST(test_reply_doubles_iac)
{
    buf out;
    buf_init(&out, 1024);
    /* a 0xFF in a name is Telnet's IAC: on the control connection it goes out doubled */
    ck_assert_int_eq(ftp_reply(&out, FTP_PATH_CREATED, "\"/a\xff\" created"), 0);
    expect_buf(&out, "257 \"/a\xff\xff\" created\r\n");
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_SYSTEM_STATUS, "x\xff\n\xff\xff\nz\xff"), 0);
    expect_buf(&out, "211-x\xff\xff\r\n \xff\xff\xff\xff\r\n211 z\xff\xff\r\n");
    /* the doubled bytes count toward all or nothing */
    buf_free(&out);
    buf_init(&out, 9);
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "\xff\xff"), -1); /* 10 bytes */
    ck_assert_uint_eq(buf_len(&out), 0);
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "\xff"), 0); /* 8 bytes */
    expect_buf(&out, "200 \xff\xff\r\n");
    buf_free(&out);
}
END_TEST

START_TEST(test_command_put)
{
    buf out;
    buf_init(&out, 16);
    ck_assert_int_eq(ftp_command_put(&out, "RETR a\xff"), 0);
    expect_buf(&out, "RETR a\xff\xff\r\n");
    ck_assert_int_eq(ftp_command_put(&out, "RETR \xff\xff\xff\xff\xff\xff"), -1); /* 19 */
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&out), 0);
    buf_free(&out);
}
END_TEST

START_TEST(test_reply_all_or_nothing)
{
    buf out;
    buf_init(&out, 16);
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "0123456789"), 0); /* 16 bytes: exact */
    ck_assert(buf_full(&out));
    buf_clear(&out);

    ck_assert_int_eq(buf_append_all(&out, "12345", 5), 0);
    errno = 0;
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "0123456789"), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&out), 5);
    errno = 0;
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "a\nb"), -1); /* 14 bytes */
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&out), 5);
    /* fits only once the consumed head is reclaimed */
    buf_consume(&out, 4);
    ck_assert_int_eq(ftp_reply(&out, FTP_CMD_OK, "abcdefghi"), 0);
    expect_buf(&out, "5200 abcdefghi\r\n");
    buf_free(&out);
}
END_TEST

START_TEST(test_reply_lines)
{
    buf out;
    buf_init(&out, 1024);
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_SYSTEM_STATUS, "Features:\nMDTM\nSIZE\nEnd"), 0);
    expect_buf(&out, "211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n");
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "a\nb"), 0);
    expect_buf(&out, "214-a\r\n214 b\r\n");
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "only"), 0);
    expect_buf(&out, "214 only\r\n");
    /* a trailing newline ends the last line; it does not add an empty one */
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "only\n"), 0);
    expect_buf(&out, "214 only\r\n");
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "a\nb\n"), 0);
    expect_buf(&out, "214-a\r\n214 b\r\n");
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, ""), 0);
    expect_buf(&out, "214 \r\n");
    /* empty middle lines still get their space */
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "a\n\nb"), 0);
    expect_buf(&out, "214-a\r\n \r\n214 b\r\n");
    /* CRLF separators; a lone CR goes as CR NUL */
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_HELP, "a\r\nb\rc\r\nd"), 0);
    static const char want[] = "214-a\r\n b\r\0c\r\n214 d\r\n";
    expect_mem(&out, want, sizeof want - 1);
    /* a middle line that looks like an end line is indented */
    ck_assert_int_eq(ftp_reply_lines(&out, FTP_DIR_STATUS, "x\n212 fake\ny"), 0);
    expect_buf(&out, "212-x\r\n 212 fake\r\n212 y\r\n");
    buf_free(&out);
}
END_TEST

START_TEST(test_line_size_bounds_each_line)
{
    /* A reply takes no more than the sizes of its lines: what a caller adds up to keep a long
     * reply within its buffer. Lines with IAC and CR grow on the wire. */
    static const char *const texts[] = {"plain", "\xff\xff iac\nlast", "first\ncr\rname\nlast",
                                        "first\n\nlast", "x\xff\r\n\xff\n\r"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        buf out;
        buf_init(&out, 1024);
        ck_assert_int_eq(ftp_reply_lines(&out, 212, texts[i]), 0);
        size_t sum = 0;
        for (const char *line = texts[i];;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            sum += ftp_reply_line_size(line, len);
            if (!nl)
                break;
            line = nl + 1;
        }
        ck_assert_msg(buf_len(&out) <= sum, "text %zu: %zu > %zu", i, buf_len(&out), sum);
        buf_free(&out);
    }
}
END_TEST

START_TEST(test_quote_path)
{
    char out[16];
    ck_assert_int_eq(ftp_quote_path("/a\"b\"", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/a\"\"b\"\"");
    ck_assert_int_eq(ftp_quote_path("", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(ftp_quote_path("/abc", out, 5), 0); /* exact fit */
    ck_assert_str_eq(out, "/abc");
    ck_assert_int_eq(ftp_quote_path("/abcd", out, 5), -1);
    ck_assert_int_eq(ftp_quote_path("/ab\"", out, 5), -1); /* the doubled quote does not fit */
    ck_assert_int_eq(ftp_quote_path("", out, 0), -1);
}
END_TEST

/* Client-side parser. */

typedef struct {
    int code;
    const char *text;
} want_reply;

static const char stream_text[] = "220 Service ready\r\n"
                                  "211-Features:\r\n"
                                  " MDTM\r\n"
                                  "226 not the end\r\n"
                                  "211-still not\r\n"
                                  "211\r\n"
                                  "211 End\r\n"
                                  "331 Password\n"
                                  "230\r\n"
                                  "150-Opening\r\n"
                                  "150 \r\n";

static const want_reply stream_want[] = {
    {220, "Service ready"}, {211, "Features:\n MDTM\n226 not the end\n211-still not\n211\nEnd"},
    {331, "Password"},      {230, ""},
    {150, "Opening\n"},
};

#define N_WANT (sizeof(stream_want) / sizeof(stream_want[0]))

/* Drains every complete reply from in, checking each against stream_want from *idx. */
static void drain(ftp_reply_parser *p, buf *in, ftp_reply_msg *msg, size_t *idx)
{
    int r;
    while ((r = ftp_reply_next(p, in, msg)) == 1) {
        ck_assert_uint_lt(*idx, N_WANT);
        ck_assert_int_eq(msg->code, stream_want[*idx].code);
        ck_assert_str_eq(msg->text, stream_want[*idx].text);
        ck_assert_int_eq(p->code, 0);
        (*idx)++;
    }
    ck_assert_int_eq(r, 0);
}

START_TEST(test_parser_all_in_one)
{
    buf in;
    buf_init(&in, 4096);
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    size_t idx = 0;
    ck_assert_int_eq(buf_append_all(&in, stream_text, sizeof(stream_text) - 1), 0);
    drain(&p, &in, &msg, &idx);
    ck_assert_uint_eq(idx, N_WANT);
    ck_assert(buf_empty(&in));
    buf_free(&in);
}
END_TEST

START_TEST(test_parser_split_everywhere)
{
    size_t n = sizeof(stream_text) - 1;
    for (size_t k = 0; k <= n; k++) {
        buf in;
        buf_init(&in, 4096);
        ftp_reply_parser p = {0};
        ftp_reply_msg msg;
        size_t idx = 0;
        ck_assert_int_eq(buf_append_all(&in, stream_text, k), 0);
        drain(&p, &in, &msg, &idx);
        ck_assert_int_eq(buf_append_all(&in, stream_text + k, n - k), 0);
        drain(&p, &in, &msg, &idx);
        ck_assert_uint_eq(idx, N_WANT);
        buf_free(&in);
    }
}
END_TEST

START_TEST(test_parser_byte_by_byte)
{
    buf in;
    buf_init(&in, 64); /* smaller than the whole stream: lines must be consumed as they come */
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    size_t idx = 0;
    for (size_t i = 0; i < sizeof(stream_text) - 1; i++) {
        ck_assert_int_eq(buf_append_all(&in, stream_text + i, 1), 0);
        drain(&p, &in, &msg, &idx);
    }
    ck_assert_uint_eq(idx, N_WANT);
    buf_free(&in);
}
END_TEST

START_TEST(test_parser_malformed)
{
    static const char *bad[] = {
        "hello\r\n", "2x0 x\r\n", "220x\r\n", "22\r\n", "620 no\r\n", "\r\n", " 220 x\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf in;
        buf_init(&in, 256);
        ftp_reply_parser p = {0};
        ftp_reply_msg msg;
        buf_append_all(&in, bad[i], strlen(bad[i]));
        buf_append_all(&in, "200 ok\r\n", 8);
        ck_assert_msg(ftp_reply_next(&p, &in, &msg) == -1, "accepted %s", bad[i]);
        /* the bad line was consumed; the parser goes on */
        ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), 1);
        ck_assert_int_eq(msg.code, 200);
        ck_assert_str_eq(msg.text, "ok");
        buf_free(&in);
    }
}
END_TEST

START_TEST(test_parser_line_too_long)
{
    buf in;
    buf_init(&in, 16);
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    buf_append_all(&in, "200 0123456789ab", 16);
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), -1);
    buf_free(&in);

    /* within a multi-line reply too */
    buf_init(&in, 16);
    buf_append_all(&in, "211-x\r\n", 7);
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), 0);
    ck_assert_int_eq(p.code, 211);
    buf_append_all(&in, "0123456789abcdef", 16);
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), -1);
    buf_free(&in);
}
END_TEST

START_TEST(test_parser_keeps_a_long_path)
{
    /* a 257 reply for a 4095-byte path made of '"', each doubled */
    static char reply[9000], path[4096];
    memset(path, '"', sizeof path - 1);
    char quoted[8200];
    ck_assert_int_eq(ftp_quote_path(path, quoted, sizeof quoted), 0);
    int n = snprintf(reply, sizeof reply, "257 \"%s\" is the current directory.\r\n", quoted);
    buf in;
    buf_init(&in, 16384);
    ck_assert_int_eq(buf_append_all(&in, reply, (size_t)n), 0);
    ftp_reply_parser p = {0};
    static ftp_reply_msg msg;
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), 1);
    ck_assert_int_eq(msg.code, 257);
    ck_assert_uint_eq(strlen(msg.text), (size_t)n - 6);
    ck_assert(strstr(msg.text, "is the current directory.") != NULL);
    buf_free(&in);
}
END_TEST

START_TEST(test_parser_truncates_text)
{
    buf in;
    buf_init(&in, 16384);
    ftp_reply_parser p = {0};
    static ftp_reply_msg msg;
    char line[6000];
    memset(line, 'y', sizeof(line));
    buf_append_all(&in, "214-", 4);
    buf_append_all(&in, line, sizeof(line));
    buf_append_all(&in, "\r\n", 2);
    buf_append_all(&in, line, sizeof(line));
    buf_append_all(&in, "\r\n214 end\r\n221 bye\r\n", 20);
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), 1);
    ck_assert_int_eq(msg.code, 214);
    ck_assert_uint_eq(strlen(msg.text), sizeof(msg.text) - 1);
    ck_assert_int_eq(msg.text[6000], '\n');
    ck_assert_int_eq(ftp_reply_next(&p, &in, &msg), 1);
    ck_assert_int_eq(msg.code, 221);
    ck_assert_str_eq(msg.text, "bye");
    buf_free(&in);
}
END_TEST

START_TEST(test_round_trip)
{
    buf b;
    buf_init(&b, 1024);
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    ck_assert_int_eq(ftp_reply_lines(&b, FTP_SYSTEM_STATUS, "Status:\n226 x\nok"), 0);
    ck_assert_int_eq(ftp_reply(&b, FTP_PATH_CREATED, "\"/a\"\"b\" created"), 0);
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_int_eq(msg.code, 211);
    ck_assert_str_eq(msg.text, "Status:\n 226 x\nok");
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_int_eq(msg.code, 257);
    ck_assert_str_eq(msg.text, "\"/a\"\"b\" created");
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_round_trip_iac)
{
    buf b;
    buf_init(&b, 1024);
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    ck_assert_int_eq(ftp_reply(&b, FTP_PATH_CREATED, "\"/\xff\xff\" created"), 0);
    ck_assert_int_eq(ftp_reply_lines(&b, FTP_SYSTEM_STATUS, "a\xff\nb\xff"), 0);
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "\"/\xff\xff\" created");
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "a\xff\nb\xff");
    /* a server that does not double: a lone 0xFF stays */
    ck_assert_int_eq(buf_append_all(&b, "257 \"/\xff\"\r\n", 10), 0);
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "\"/\xff\"");
    buf_free(&b);
}
END_TEST

START_TEST(test_round_trip_cr)
{
    buf b;
    buf_init(&b, 1024);
    ftp_reply_parser p = {0};
    ftp_reply_msg msg;
    ck_assert_int_eq(ftp_reply(&b, FTP_PATH_CREATED, "\"/a\rb\r\" created"), 0);
    ck_assert_int_eq(ftp_reply_lines(&b, FTP_SYSTEM_STATUS, "x\n\ry\nz"), 0);
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "\"/a\rb\r\" created");
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "x\n \ry\nz");
    /* any other NUL cannot live in the C string: a space */
    ck_assert_int_eq(buf_append_all(&b, "257 a\0b\r\r\n", 10), 0);
    ck_assert_int_eq(ftp_reply_next(&p, &b, &msg), 1);
    ck_assert_str_eq(msg.text, "a b\r");
    buf_free(&b);
}
END_TEST

static Suite *reply_suite(void)
{
    Suite *s = suite_create("ftp_reply");
    TCase *w = tcase_create("writer");
    tcase_add_test(w, test_reply_single);
    tcase_add_test(w, test_reply_sanitises);
    tcase_add_test(w, test_reply_long_text);
    tcase_add_test(w, test_reply_text);
    tcase_add_test(w, test_reply_long_quoted_path);
    tcase_add_test(w, test_reply_all_or_nothing);
    tcase_add_test(w, test_reply_doubles_iac);
    tcase_add_test(w, test_command_put);
    tcase_add_test(w, test_reply_lines);
    tcase_add_test(w, test_quote_path);
    tcase_add_test(w, test_line_size_bounds_each_line);
    suite_add_tcase(s, w);
    TCase *r = tcase_create("parser");
    tcase_add_test(r, test_parser_all_in_one);
    tcase_add_test(r, test_parser_split_everywhere);
    tcase_add_test(r, test_parser_byte_by_byte);
    tcase_add_test(r, test_parser_malformed);
    tcase_add_test(r, test_parser_line_too_long);
    tcase_add_test(r, test_parser_truncates_text);
    tcase_add_test(r, test_parser_keeps_a_long_path);
    tcase_add_test(r, test_round_trip);
    tcase_add_test(r, test_round_trip_iac);
    tcase_add_test(r, test_round_trip_cr);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reply_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
