/* Check suite for ftpc/ascii: TYPE A line ends, LF -> CRLF out and CRLF -> LF in, across every
 * way of splitting the input into two buffers and byte by byte. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ascii.h"

/* Runs the receiving conversion over in cut at the given points; returns the output length. */
static size_t from_wire_split(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                              char *out)
{
    bool cr = false;
    size_t o = 0, prev = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        o += ftpc_ascii_from_wire(&cr, in + prev, end - prev, out + o);
        prev = end;
    }
    o += ftpc_ascii_from_wire_end(&cr, out + o);
    ck_assert(!cr);
    return o;
}

START_TEST(test_to_wire)
{
    char out[64];
    size_t n = ftpc_ascii_to_wire("a\nb\r\n\n", 6, out);
    ck_assert_uint_eq(n, 9);
    ck_assert_mem_eq(out, "a\r\nb\r\r\n\r\n", 9);
    ck_assert_uint_eq(ftpc_ascii_to_wire("", 0, out), 0);
}
END_TEST

START_TEST(test_from_wire_cases)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\r\nb\r\n", "a\nb\n"},
        {"a\rb", "a\rb"},         /* a lone CR stays */
        {"a\r", "a\r"},           /* ... also at the very end */
        {"\r\r\n", "\r\n"},       /* CR CR LF: the first CR is data */
        {"\n\n", "\n\n"},         /* bare LF passes */
        {"\r\n\r\n\r", "\n\n\r"}, /* mixed */
        {"", ""},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const char *in = cases[k].in;
        size_t len = strlen(in);
        char out[64];
        /* whole, every single cut, and byte by byte */
        size_t n = from_wire_split(in, len, NULL, 0, out);
        ck_assert_uint_eq(n, strlen(cases[k].out));
        ck_assert_mem_eq(out, cases[k].out, n);
        for (size_t c = 0; c <= len; c++) {
            n = from_wire_split(in, len, &c, 1, out);
            ck_assert_uint_eq(n, strlen(cases[k].out));
            ck_assert_mem_eq(out, cases[k].out, n);
        }
        size_t cuts[64];
        for (size_t c = 0; c < len; c++)
            cuts[c] = c;
        n = from_wire_split(in, len, cuts, len, out);
        ck_assert_uint_eq(n, strlen(cases[k].out));
        ck_assert_mem_eq(out, cases[k].out, n);
    }
}
END_TEST

/* Any bytes survive LF -> CRLF -> LF, however the wire bytes are split. */
START_TEST(test_round_trip)
{
    unsigned seed = 4711;
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(rand_r(&seed) % 300);
        char in[300], wire[600], back[601];
        for (size_t i = 0; i < len; i++) {
            int r = rand_r(&seed) % 4;
            in[i] = r == 0 ? '\r' : r == 1 ? '\n' : (char)('a' + rand_r(&seed) % 26);
        }
        size_t wl = ftpc_ascii_to_wire(in, len, wire);
        size_t cut[3];
        for (int c = 0; c < 3; c++)
            cut[c] = wl ? (size_t)rand_r(&seed) % (wl + 1) : 0;
        /* sorted cuts */
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (cut[b] < cut[a]) {
                    size_t t = cut[a];
                    cut[a] = cut[b];
                    cut[b] = t;
                }
        size_t n = from_wire_split(wire, wl, cut, 3, back);
        ck_assert_uint_eq(n, len);
        ck_assert_mem_eq(back, in, len);
    }
}
END_TEST

static Suite *ascii_suite(void)
{
    Suite *s = suite_create("ftpc_ascii");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_to_wire);
    tcase_add_test(tc, test_from_wire_cases);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ascii_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
