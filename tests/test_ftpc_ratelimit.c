/* Check suite for ftpc/ratelimit: the token bucket and rate parsing. */
#include <check.h>
#include <stdint.h>

#include "ratelimit.h"

START_TEST(test_unlimited)
{
    ftpc_ratelimit rl;
    ftpc_rl_init(&rl, 0, 0);
    ck_assert_uint_eq(ftpc_rl_allow(&rl, 0), UINT64_MAX);
    ftpc_rl_consume(&rl, 1u << 30);
    ck_assert_uint_eq(ftpc_rl_allow(&rl, 1), UINT64_MAX);
}
END_TEST

START_TEST(test_average_rate)
{
    /* Simulate a greedy reader for 10 s at 1 MiB/s: it moves what it is allowed, then waits
     * as long as it is told. The bytes moved match the rate within one bucket. */
    const uint64_t rate = 1024 * 1024;
    ftpc_ratelimit rl;
    ftpc_rl_init(&rl, rate, 0);
    long long now = 0;
    uint64_t moved = 0;
    int rounds = 0;
    while (now < 10000 && rounds < 100000) {
        uint64_t a = ftpc_rl_allow(&rl, now);
        if (a == 0) {
            long w = ftpc_rl_wait_ms(&rl);
            ck_assert(w >= 1);
            now += w;
        } else {
            uint64_t take = a < 256 * 1024 ? a : 256 * 1024;
            ftpc_rl_consume(&rl, take);
            moved += take;
        }
        rounds++;
    }
    double expect = (double)rate * 10.0;
    ck_assert_msg((double)moved > expect * 0.97 && (double)moved < expect * 1.03, "moved %llu",
                  (unsigned long long)moved);
}
END_TEST

START_TEST(test_bucket_is_bounded)
{
    /* A long pause does not bank more than the bucket. */
    ftpc_ratelimit rl;
    ftpc_rl_init(&rl, 80000, 0);
    uint64_t a = ftpc_rl_allow(&rl, 1000000);
    ck_assert_uint_eq(a, 10000); /* an eighth of a second */
    ftpc_rl_consume(&rl, a);
    ck_assert_uint_eq(ftpc_rl_allow(&rl, 1000000), 0);
    ck_assert_int_eq(ftpc_rl_wait_ms(&rl), 126);
}
END_TEST

START_TEST(test_overdraft)
{
    /* A read that returned more than allowed pays it back before the next one. */
    ftpc_ratelimit rl;
    ftpc_rl_init(&rl, 100000, 0);
    ftpc_rl_consume(&rl, 50000);
    ck_assert_uint_eq(ftpc_rl_allow(&rl, 100), 0);
    ck_assert(ftpc_rl_wait_ms(&rl) > 300);
}
END_TEST

START_TEST(test_parse_rate)
{
    uint64_t v = 0;
    ck_assert_int_eq(ftpc_parse_rate("500", &v), 0);
    ck_assert_uint_eq(v, 500);
    ck_assert_int_eq(ftpc_parse_rate("200k", &v), 0);
    ck_assert_uint_eq(v, 200 * 1024);
    ck_assert_int_eq(ftpc_parse_rate("1.5M", &v), 0);
    ck_assert_uint_eq(v, 1572864);
    ck_assert_int_eq(ftpc_parse_rate("2G", &v), 0);
    ck_assert_uint_eq(v, 2ULL << 30);
    ck_assert_int_eq(ftpc_parse_rate("3MB/s", &v), 0);
    ck_assert_uint_eq(v, 3ULL << 20);
    ck_assert_int_eq(ftpc_parse_rate("10kB", &v), 0);
    ck_assert_uint_eq(v, 10240);
    ck_assert_int_eq(ftpc_parse_rate("", &v), -1);
    ck_assert_int_eq(ftpc_parse_rate("0", &v), -1);
    ck_assert_int_eq(ftpc_parse_rate("-5k", &v), -1);
    ck_assert_int_eq(ftpc_parse_rate("5x", &v), -1);
    ck_assert_int_eq(ftpc_parse_rate("5kk", &v), -1);
    ck_assert_int_eq(ftpc_parse_rate("k", &v), -1);
}
END_TEST

static Suite *ratelimit_suite(void)
{
    Suite *s = suite_create("ftpc_ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unlimited);
    tcase_add_test(tc, test_average_rate);
    tcase_add_test(tc, test_bucket_is_bounded);
    tcase_add_test(tc, test_overdraft);
    tcase_add_test(tc, test_parse_rate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ratelimit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
