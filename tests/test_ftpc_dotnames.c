/* Check suite for ftpc/dotnames: "." and ".." lines leave an NLST listing, split anywhere. */
#include <check.h>
#include <string.h>

#include "dotnames.h"

typedef struct sink {
    char text[16384];
    size_t len;
    int fail_after; /* calls accepted before out reports an error; -1: never */
} sink;

static int to_sink(void *ud, const char *p, size_t len)
{
    sink *s = ud;
    if (s->fail_after == 0)
        return -1;
    if (s->fail_after > 0)
        s->fail_after--;
    ck_assert_uint_le(s->len + len, sizeof(s->text) - 1);
    memcpy(s->text + s->len, p, len);
    s->len += len;
    s->text[s->len] = '\0';
    return 0;
}

/* Feeds text to a fresh filter in pieces of `step` bytes and returns what came out. */
static const char *filter(const char *text, size_t step, sink *out)
{
    ftpc_dotnames f = {0};
    memset(out, 0, sizeof(*out));
    out->fail_after = -1;
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        ck_assert_int_eq(ftpc_dotnames_feed(&f, text + i, n, to_sink, out), 0);
    }
    ck_assert_int_eq(ftpc_dotnames_end(&f, to_sink, out), 0);
    return out->text;
}

START_TEST(test_dot_entries_go_in_any_split)
{
    const char *in = ".\n..\na.bin\n.hidden\n...\nsub/.\nsub/..\nsub/b.txt\n\nlast";
    const char *want = "a.bin\n.hidden\n...\nsub/b.txt\n\nlast";
    sink out;
    for (size_t step = 1; step <= strlen(in); step++)
        ck_assert_str_eq(filter(in, step, &out), want);
}
END_TEST

START_TEST(test_a_last_line_without_lf)
{
    sink out;
    ck_assert_str_eq(filter("a\n..", 3, &out), "a\n");
    ck_assert_str_eq(filter("a\nb", 1, &out), "a\nb");
    ck_assert_str_eq(filter("", 1, &out), "");
}
END_TEST

START_TEST(test_long_lines_pass_whole)
{
    static char in[3 * FTPC_DOTNAMES_HOLD];
    size_t n = FTPC_DOTNAMES_HOLD + 100;
    memset(in, 'x', n);
    strcpy(in + n, "\n..\ny\n");
    sink out;
    for (size_t step = 1000; step <= 7000; step += 3000) {
        filter(in, step, &out);
        ck_assert_uint_eq(out.len, n + 3);
        ck_assert_str_eq(out.text + n, "\ny\n");
    }
}
END_TEST

START_TEST(test_an_output_error_is_passed_on)
{
    ftpc_dotnames f = {0};
    sink out = {.fail_after = 0};
    ck_assert_int_eq(ftpc_dotnames_feed(&f, "a\n", 2, to_sink, &out), -1);
}
END_TEST

static Suite *dotnames_suite(void)
{
    Suite *s = suite_create("ftpc_dotnames");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dot_entries_go_in_any_split);
    tcase_add_test(tc, test_a_last_line_without_lf);
    tcase_add_test(tc, test_long_lines_pass_whole);
    tcase_add_test(tc, test_an_output_error_is_passed_on);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dotnames_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
