/* Check suite for ftpc/stress_stats (latency percentiles, error counts) and the value
 * parsers of ftpc/stress_opts (sizes, the operation mix). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress_opts.h"
#include "stress_stats.h"

static stress_hist h;

START_TEST(test_empty)
{
    stress_hist_init(&h);
    ck_assert_uint_eq(h.count, 0);
    ck_assert_uint_eq(stress_hist_pct(&h, 50), 0);
    ck_assert_uint_eq(stress_hist_pct(&h, 99), 0);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), 0);
}
END_TEST

START_TEST(test_single)
{
    stress_hist_init(&h);
    stress_hist_add(&h, 123457);
    /* One value: every percentile is that value, exactly (clamped to min and max). */
    ck_assert_uint_eq(stress_hist_pct(&h, 1), 123457);
    ck_assert_uint_eq(stress_hist_pct(&h, 50), 123457);
    ck_assert_uint_eq(stress_hist_pct(&h, 99.9), 123457);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), 123457);
    ck_assert_uint_eq(h.max_us, 123457);
    ck_assert_uint_eq(h.min_us, 123457);
}
END_TEST

START_TEST(test_small_exact)
{
    /* 1..100 us are below the linear limit: nearest rank, exact. */
    stress_hist_init(&h);
    for (uint64_t v = 100; v >= 1; v--)
        stress_hist_add(&h, v);
    ck_assert_uint_eq(h.count, 100);
    ck_assert_uint_eq(stress_hist_pct(&h, 50), 50);
    ck_assert_uint_eq(stress_hist_pct(&h, 90), 90);
    ck_assert_uint_eq(stress_hist_pct(&h, 99), 99);
    ck_assert_uint_eq(stress_hist_pct(&h, 99.5), 100);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), 100);
    ck_assert_uint_eq(stress_hist_pct(&h, 0.5), 1);
    ck_assert_uint_eq(h.sum_us, 5050);
}
END_TEST

static void assert_near(uint64_t got, uint64_t want)
{
    /* Within the bucket precision (1/128) above the true value, never below it. */
    ck_assert_msg(got >= want && (double)got <= (double)want * (1.0 + 1.0 / 128),
                  "got %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

START_TEST(test_known_ms)
{
    /* 1 ms .. 1000 ms in a shuffled order. */
    stress_hist_init(&h);
    for (uint64_t i = 0; i < 1000; i++)
        stress_hist_add(&h, ((i * 7919) % 1000 + 1) * 1000);
    assert_near(stress_hist_pct(&h, 50), 500000);
    assert_near(stress_hist_pct(&h, 90), 900000);
    assert_near(stress_hist_pct(&h, 99), 990000);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), 1000000);
    ck_assert_uint_eq(h.max_us, 1000000);
    ck_assert_uint_eq(h.min_us, 1000);
}
END_TEST

START_TEST(test_skewed)
{
    /* 990 fast values and 10 slow ones: p99 is still fast, p99.1 is slow, max exact. */
    stress_hist_init(&h);
    for (int i = 0; i < 990; i++)
        stress_hist_add(&h, 2000);
    for (int i = 0; i < 10; i++)
        stress_hist_add(&h, 5000000 + (uint64_t)i);
    assert_near(stress_hist_pct(&h, 50), 2000);
    assert_near(stress_hist_pct(&h, 99), 2000);
    assert_near(stress_hist_pct(&h, 99.1), 5000000);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), 5000009);
    ck_assert_uint_le(stress_hist_pct(&h, 99.9), 5000009);
}
END_TEST

START_TEST(test_huge_and_zero)
{
    stress_hist_init(&h);
    stress_hist_add(&h, 0);
    stress_hist_add(&h, UINT64_MAX); /* capped, not out of the table */
    ck_assert_uint_eq(stress_hist_pct(&h, 50), 0);
    ck_assert_uint_eq(stress_hist_pct(&h, 100), (1ULL << 41) - 1);
}
END_TEST

START_TEST(test_merge)
{
    static stress_hist a, b;
    stress_hist_init(&a);
    stress_hist_init(&b);
    for (uint64_t v = 1; v <= 50; v++)
        stress_hist_add(&a, v);
    for (uint64_t v = 51; v <= 100; v++)
        stress_hist_add(&b, v);
    stress_hist_merge(&a, &b);
    ck_assert_uint_eq(a.count, 100);
    ck_assert_uint_eq(stress_hist_pct(&a, 90), 90);
    ck_assert_uint_eq(a.min_us, 1);
    ck_assert_uint_eq(a.max_us, 100);
}
END_TEST

START_TEST(test_errors)
{
    static stress_stats s;
    stress_stats_init(&s);
    stress_stats_error(&s, 530, 0);
    stress_stats_error(&s, 530, 0);
    stress_stats_error(&s, 0, ECONNREFUSED);
    stress_stats_error(&s, 0, 0);
    ck_assert_uint_eq(s.nerrs, 3);
    ck_assert_str_eq(s.errs[0].key, "530");
    ck_assert_uint_eq(s.errs[0].n, 2);
    ck_assert_str_eq(s.errs[1].key, "ECONNREFUSED");
    ck_assert_str_eq(s.errs[2].key, "EOF");
    ck_assert_uint_eq(stress_stats_errors_total(&s), 4);
    /* an errno key carries its meaning for the report; a reply code waits for its text */
    ck_assert_str_eq(s.errs[0].sample, "");
    ck_assert_str_eq(s.errs[1].sample, "Connection refused");
    ck_assert_str_eq(s.errs[2].sample, "closed by the server");
    stress_stats_error(&s, 0, EBADMSG);
    ck_assert_str_eq(s.errs[3].key, "EBADMSG");
    ck_assert_str_eq(s.errs[3].sample, "a malformed reply");
    /* More distinct keys than slots: the rest is counted as "other", nothing is lost. */
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        stress_stats_error_key(&s, key);
    }
    ck_assert_uint_eq(s.nerrs, STRESS_ERR_KEYS);
    ck_assert_str_eq(s.errs[STRESS_ERR_KEYS - 1].key, "other");
    ck_assert_uint_eq(stress_stats_errors_total(&s), 105);
}
END_TEST

START_TEST(test_parse_size)
{
    uint64_t v;
    ck_assert_int_eq(stress_parse_size("4096", &v), 0);
    ck_assert_uint_eq(v, 4096);
    ck_assert_int_eq(stress_parse_size("64K", &v), 0);
    ck_assert_uint_eq(v, 65536);
    ck_assert_int_eq(stress_parse_size("1.5M", &v), 0);
    ck_assert_uint_eq(v, 1572864);
    ck_assert_int_eq(stress_parse_size("2G", &v), 0);
    ck_assert_uint_eq(v, 2147483648ULL);
    ck_assert_int_eq(stress_parse_size("1KiB", &v), 0);
    ck_assert_uint_eq(v, 1024);
    ck_assert_int_eq(stress_parse_size("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(stress_parse_size("", &v), -1);
    ck_assert_int_eq(stress_parse_size("-1", &v), -1);
    ck_assert_int_eq(stress_parse_size("12Q", &v), -1);
    ck_assert_int_eq(stress_parse_size("2T", &v), -1);
}
END_TEST

START_TEST(test_parse_mix)
{
    unsigned m[STRESS_OP_COUNT];
    ck_assert_int_eq(stress_parse_mix("get", m), 0);
    ck_assert_uint_eq(m[STRESS_OP_GET], 1);
    ck_assert_uint_eq(m[STRESS_OP_PUT] + m[STRESS_OP_LIST] + m[STRESS_OP_LOGIN], 0);
    ck_assert_int_eq(stress_parse_mix("mixed", m), 0);
    ck_assert_uint_gt(m[STRESS_OP_GET], 0);
    ck_assert_uint_gt(m[STRESS_OP_PUT], 0);
    ck_assert_uint_gt(m[STRESS_OP_LIST], 0);
    ck_assert_uint_gt(m[STRESS_OP_LOGIN], 0);
    ck_assert_int_eq(stress_parse_mix("login=2,get=3,put=0,list=5", m), 0);
    ck_assert_uint_eq(m[STRESS_OP_LOGIN], 2);
    ck_assert_uint_eq(m[STRESS_OP_GET], 3);
    ck_assert_uint_eq(m[STRESS_OP_PUT], 0);
    ck_assert_uint_eq(m[STRESS_OP_LIST], 5);
    ck_assert_int_eq(stress_parse_mix("put=1", m), 0);
    ck_assert_uint_eq(m[STRESS_OP_GET], 0);
    ck_assert_int_eq(stress_parse_mix("get=0,put=0", m), -1);
    ck_assert_int_eq(stress_parse_mix("fetch=1", m), -1);
    ck_assert_int_eq(stress_parse_mix("get=x", m), -1);
    ck_assert_int_eq(stress_parse_mix("get=1001", m), -1);
    ck_assert_int_eq(stress_parse_mix("", m), -1);
    ck_assert_int_eq(stress_parse_mix("get=1,put=1,get=2", m), -1); /* which get? */
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stress_stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_single);
    tcase_add_test(tc, test_small_exact);
    tcase_add_test(tc, test_known_ms);
    tcase_add_test(tc, test_skewed);
    tcase_add_test(tc, test_huge_and_zero);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_parse_size);
    tcase_add_test(tc, test_parse_mix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
