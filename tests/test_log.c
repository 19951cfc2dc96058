/* Check suite for common/log: the line format, level filtering, start-up lines at any level,
 * control characters that cannot forge a second line, long messages cut to one bounded line,
 * and errno left as the caller had it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char captured[16384];

/* Runs fn with standard error sent to a temporary file; leaves what it wrote in captured. */
static void capture(void (*fn)(void))
{
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    fn();
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof captured - 1, 0);
    ck_assert_int_ge(n, 0);
    captured[n] = '\0';
    close(fd);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void levels(void)
{
    log_level = LOG_WARN;
    log_error("e %d", 1);
    log_warn("w %s", "two");
    log_info("dropped");
    log_debug("dropped too");
    log_startup("listening on %s", "127.0.0.1:2121");
    log_level = LOG_INFO;
}

START_TEST(test_format_and_levels)
{
    capture(levels);
    ck_assert_int_eq(count_lines(captured), 3);
    ck_assert_ptr_null(strstr(captured, "dropped"));
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "ERROR e 1\n"
                             "[0-9T:.Z-]+ WARN w two\n"
                             "[0-9T:.Z-]+ INFO listening on 127\\.0\\.0\\.1:2121\n$",
                             REG_EXTENDED),
                     0);
    ck_assert_msg(regexec(&re, captured, 0, NULL, 0) == 0, "unexpected log: %s", captured);
    regfree(&re);
}
END_TEST

static void forged(void)
{
    log_warn("user %s failed", "bob\r\n2026-01-01T00:00:00.000Z INFO admin logged in\x7f");
}

START_TEST(test_control_characters_neutralised)
{
    capture(forged);
    ck_assert_int_eq(count_lines(captured), 1);
    ck_assert_ptr_nonnull(strstr(captured, "user bob\\x0d\\x0a2026-01-01T00:00:00.000Z INFO "
                                           "admin logged in\\x7f failed\n"));
}
END_TEST

/* U+009B, a CSI to terminals that honour C1 controls in UTF-8 (xterm), is escaped byte by byte;
 * U+00E9, U+00A3 kept. */
static void c1_in_utf8(void)
{
    log_info("RETR /x\xc2\x9b"
             "2J\xc3\xa9\xc2\x85y\xc2\xa3");
}

START_TEST(test_c1_controls_in_utf8_neutralised)
{
    capture(c1_in_utf8);
    ck_assert_ptr_nonnull(strstr(captured, "RETR /x\\xc2\\x9b2J\xc3\xa9\\xc2\\x85y\xc2\xa3\n"));
}
END_TEST

/* 0x9B alone (a name not in UTF-8) is CSI to a terminal in an 8-bit locale, and a Latin-1
 * letter alone (0xE9) is no UTF-8: both are escaped, so the line stays valid UTF-8; U+0100,
 * whose second byte is 0x80, stays as it came. */
static void c1_as_bytes(void)
{
    log_info("RETR /x\x9b"
             "2J\xe9\xc4\x80\x85y");
}

START_TEST(test_c1_controls_as_bytes_neutralised)
{
    capture(c1_as_bytes);
    ck_assert_ptr_nonnull(strstr(captured, "RETR /x\\x9b2J\\xe9\xc4\x80\\x85y\n"));
}
END_TEST

/* A backslash is escaped too, so "\xNN" in a log always stands for one byte of the name; a
 * right-to-left override (U+202E) would reorder what follows it on the terminal. */
static void backslash_and_override(void)
{
    log_info("DELE /a\\x41\xe2\x80\xaegnp.exe");
}

START_TEST(test_backslash_and_override_escaped)
{
    capture(backslash_and_override);
    ck_assert_ptr_nonnull(strstr(captured, "DELE /a\\x5cx41\\xe2\\x80\\xaegnp.exe\n"));
}
END_TEST

static void long_line(void)
{
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    log_error("%s", big);
}

START_TEST(test_long_message_is_one_bounded_line)
{
    capture(long_line);
    size_t len = strlen(captured);
    ck_assert_int_eq(count_lines(captured), 1);
    ck_assert_uint_le(len, 4096);
    ck_assert_uint_ge(len, 4000);
    ck_assert_str_eq(captured + len - 5, "x...\n");
}
END_TEST

static int errno_after, startup_errno_after;

/* Standard error is read-only here, so each line's write(2) fails with EBADF: errno survives
 * only because log_msg and log_startup restore it (a successful write would leave it as it
 * was whether or not they did). */
static void keeps_errno(void)
{
    errno = ENOSPC;
    log_error("disk full");
    log_debug("not shown");
    errno_after = errno;
    errno = EROFS;
    log_startup("listening");
    startup_errno_after = errno;
}

START_TEST(test_errno_kept_and_parse_level)
{
    int ro = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(ro, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(ro, STDERR_FILENO), 0);
    errno = 0;
    ssize_t wrote = write(STDERR_FILENO, "x", 1);
    int write_errno = errno;
    keeps_errno();
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    close(ro);
    ck_assert_int_eq(wrote, -1); /* the premise: writes do fail */
    ck_assert_int_eq(write_errno, EBADF);
    ck_assert_int_eq(errno_after, ENOSPC);
    ck_assert_int_eq(startup_errno_after, EROFS);
    log_level_t l = LOG_ERROR;
    ck_assert_int_eq(log_parse_level("debug", &l), 0);
    ck_assert_int_eq(l, LOG_DEBUG);
    ck_assert_int_eq(log_parse_level("WARN", &l), 0);
    ck_assert_int_eq(l, LOG_WARN);
    ck_assert_int_eq(log_parse_level("warning", &l), -1);
    ck_assert_int_eq(log_parse_level(NULL, &l), -1);
    ck_assert_int_eq(l, LOG_WARN);
}
END_TEST

static void footer_steps(void)
{
    log_footer_set("view A\nview B", 2);
    log_warn("between");
    log_footer_set("view C", 1);
    log_warn("after");
    log_footer_set(NULL, 0);
    log_warn("plain");
}

/* The live view's block stays below the log: a log line goes up to the block's first row,
 * is written over it (the rest of its row cleared), and the block follows it again, its last
 * line clearing everything below. Nothing is cleared from the block's top ahead of the text
 * (a terminal may keep what is cleared from the top-left corner in its history). */
START_TEST(test_footer_stays_below_log_lines)
{
    capture(footer_steps);
    const char *p = captured;
    /* the first frame starts at the start of the cursor's row too (after a continue the
     * cursor may be at the end of a lost block's last line) */
    const char *first = "\rview A\033[K\nview B\033[J\r\033[1A";
    ck_assert_int_eq(strncmp(p, first, strlen(first)), 0);
    p = strstr(p, "WARN between\033[K\n");
    ck_assert_ptr_nonnull(p);
    p += strlen("WARN between\033[K\n");
    const char *redrawn = "view A\033[K\nview B\033[J\r\033[1Aview C\033[J\r";
    ck_assert_int_eq(strncmp(p, redrawn, strlen(redrawn)), 0);
    p = strstr(p, "WARN after\033[K\nview C\033[J\r\033[J");
    ck_assert_ptr_nonnull(p);
    /* the block is gone: the last line comes alone */
    p = strstr(p, "\r\033[J") + 4;
    ck_assert_ptr_nonnull(strstr(p, "WARN plain\n"));
    ck_assert_ptr_null(strstr(p, "view"));
    ck_assert_ptr_null(strstr(p, "\033"));
}
END_TEST

static void narrow_steps(void)
{
    /* 12 columns: the first line takes two rows, the last fills its row to the margin */
    log_footer_set("0123456789abcdefghij\nxy\n0123456789ab", 3);
    log_warn("w");
    log_footer_set(NULL, 0);
}

/* A line wider than the terminal takes a row per width, and the block is gone only when the
 * cursor goes up all of them; a line that ends on the right margin is not followed by a
 * clear, which would take its last character. */
START_TEST(test_footer_counts_rows_not_lines)
{
    setenv("COLUMNS", "12", 1);
    capture(narrow_steps);
    unsetenv("COLUMNS");
    const char *block = "0123456789abcdefghij\033[K\nxy\033[K\n\033[J0123456789ab";
    ck_assert_int_eq(captured[0], '\r');
    ck_assert_int_eq(strncmp(captured + 1, block, strlen(block)), 0);
    const char *p = captured + 1 + strlen(block);
    ck_assert_int_eq(strncmp(p, "\r\033[3A", 5), 0);
    p = strstr(p, "WARN w\033[K\n");
    ck_assert_ptr_nonnull(p);
    p += strlen("WARN w\033[K\n");
    ck_assert_int_eq(strncmp(p, block, strlen(block)), 0);
    p += strlen(block);
    ck_assert_str_eq(p, "\r\033[3A\033[J");
}
END_TEST

#define WIDE11 "\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22\u6f22"
#define A_WIDE5 "a\u6f22\u6f22\u6f22\u6f22\u6f22"

static void wide_steps(void)
{
    /* 11 columns: eleven wide characters go five to a row (a sixth would need the row's
     * last cell and the next), so three rows, not 22 / 11 = 2; "a" and five wide characters
     * fill their row to the margin. */
    log_footer_set(WIDE11 "\nxy\n" A_WIDE5, 3);
    log_footer_set(NULL, 0);
}

/* Wide characters are counted where the terminal puts them: the cursor goes up all the rows
 * the block takes, and the rest of a row is cleared unless the text ends on the margin. */
START_TEST(test_footer_rows_of_wide_characters)
{
    setenv("COLUMNS", "11", 1);
    capture(wide_steps);
    unsetenv("COLUMNS");
    const char *block = WIDE11 "\033[K\nxy\033[K\n\033[J" A_WIDE5;
    ck_assert_int_eq(captured[0], '\r');
    ck_assert_int_eq(strncmp(captured + 1, block, strlen(block)), 0);
    ck_assert_str_eq(captured + 1 + strlen(block), "\r\033[4A\033[J");
}
END_TEST

static void tab_steps(void)
{
    log_footer_set("view", 1);
    /* 41 columns: "2026-12-06T10:14:00.079Z WARN " is 30, "abcdefgh" takes it to 38, the tab
     * to the stop at 40, the last cell, and x ends the row on the margin (41 cells, not 40).
     * Then one wrapping row: the tab at 38 goes to 40, and "yz" wraps to a second row. */
    log_warn("abcdefgh\tx");
    log_warn("abcdefgh\tyz");
    log_footer_set(NULL, 0);
}

/* A tab in a log line moves to the next tab stop, and is written as the spaces it moves over
 * (a tab would leave the block's cells there as they were): a line that ends on the margin
 * so is not followed by a clear (it would take the x), and one that wraps past it is. */
START_TEST(test_log_line_with_tab_over_the_block)
{
    setenv("COLUMNS", "41", 1);
    capture(tab_steps);
    unsetenv("COLUMNS");
    ck_assert_msg(strstr(captured, "WARN abcdefgh  x\n") != NULL, "%s", captured);
    ck_assert_msg(strstr(captured, "WARN abcdefgh  yz\033[K\n") != NULL, "%s", captured);
    ck_assert_msg(strchr(captured, '\t') == NULL, "%s", captured);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_and_levels);
    tcase_add_test(tc, test_control_characters_neutralised);
    tcase_add_test(tc, test_backslash_and_override_escaped);
    tcase_add_test(tc, test_c1_controls_in_utf8_neutralised);
    tcase_add_test(tc, test_c1_controls_as_bytes_neutralised);
    tcase_add_test(tc, test_long_message_is_one_bounded_line);
    tcase_add_test(tc, test_errno_kept_and_parse_level);
    tcase_add_test(tc, test_footer_stays_below_log_lines);
    tcase_add_test(tc, test_footer_counts_rows_not_lines);
    tcase_add_test(tc, test_footer_rows_of_wide_characters);
    tcase_add_test(tc, test_log_line_with_tab_over_the_block);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
