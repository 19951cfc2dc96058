/* Check suite for ftpc/stress_expect: held fixtures are exactly the generated content, the
 * cap is kept, and the first differing byte is found wherever it is. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stress_content.h"
#include "stress_expect.h"

START_TEST(test_held_bytes_are_the_content)
{
    stress_expect e;
    ck_assert_int_eq(stress_expect_init(&e, 3, 1 << 20), 0);
    uint64_t key = stress_key_fixture(9, 1);
    size_t size = 100003; /* not a whole number of words */
    const unsigned char *p = stress_expect_fixture(&e, 1, key, size);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(stress_check(key, 0, p, size), size);
    /* The second call hands out the same copy, and only one is counted. */
    ck_assert_ptr_eq(stress_expect_fixture(&e, 1, key, size), p);
    ck_assert_uint_eq(e.held, size);
    ck_assert_ptr_null(stress_expect_fixture(&e, 3, key, size)); /* no such fixture */
    ck_assert_ptr_null(stress_expect_fixture(&e, 0, key, 0));    /* empty: nothing to hold */
    stress_expect_free(&e);
    ck_assert_ptr_null(e.bytes);
}
END_TEST

START_TEST(test_cap_is_kept)
{
    stress_expect e;
    ck_assert_int_eq(stress_expect_init(&e, 4, 10000), 0);
    ck_assert_ptr_nonnull(stress_expect_fixture(&e, 0, 1, 6000));
    /* 6000 + 6000 would pass 10000: that one is left to recomputation, a smaller one fits. */
    ck_assert_ptr_null(stress_expect_fixture(&e, 1, 2, 6000));
    ck_assert_ptr_nonnull(stress_expect_fixture(&e, 2, 3, 4000));
    ck_assert_uint_eq(e.held, 10000);
    ck_assert_ptr_null(stress_expect_fixture(&e, 3, 4, 1));
    ck_assert_ptr_null(stress_expect_fixture(&e, 1, 2, UINT64_MAX));
    stress_expect_free(&e);
    /* No fixtures at all (--files 0 is refused, but the table must cope). */
    ck_assert_int_eq(stress_expect_init(&e, 0, 10000), 0);
    ck_assert_ptr_null(stress_expect_fixture(&e, 0, 1, 10));
    stress_expect_free(&e);
}
END_TEST

START_TEST(test_first_diff)
{
    enum { N = 4099 };
    static unsigned char a[N], b[N];
    stress_fill(77, 0, a, N);
    memcpy(b, a, N);
    ck_assert_uint_eq(stress_first_diff(a, b, N), N);
    ck_assert_uint_eq(stress_first_diff(a, b, 0), 0);
    const size_t at[] = {0, 1, 7, 8, 4095, N - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        b[at[i]] ^= 0x80;
        ck_assert_uint_eq(stress_first_diff(a, b, N), at[i]);
        /* A later difference does not hide an earlier one. */
        if (at[i] + 1 < N) {
            b[N - 1] ^= 1;
            ck_assert_uint_eq(stress_first_diff(a, b, N), at[i]);
            b[N - 1] ^= 1;
        }
        b[at[i]] ^= 0x80;
    }
}
END_TEST

static Suite *expect_suite(void)
{
    Suite *s = suite_create("stress_expect");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_held_bytes_are_the_content);
    tcase_add_test(tc, test_cap_is_kept);
    tcase_add_test(tc, test_first_diff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(expect_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
