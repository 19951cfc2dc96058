/* Check suite for ftpd/loginban: failures counted per address within the window, the ban and
 * its end, a repeated ban doubling up to its cap, IPv6 grouped by /64 (IPv4-mapped addresses
 * kept whole), and a fixed-size table that a flood of addresses cannot grow nor use to push
 * out a ban. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "loginban.h"

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(40000);
    ck_assert_int_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(40000);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    return ss;
}

static struct sockaddr_storage v4_numbered(unsigned n)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(0x0a000000u + n); /* 10.x.y.z */
    return ss;
}

START_TEST(test_ban_after_failures_in_window)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 60000, 10000, 10000), 0);
    struct sockaddr_storage a = v4("192.0.2.1"), other = v4("192.0.2.2");
    unsigned count = 0;
    ck_assert(!loginban_fail(&b, &a, 1000, &count, NULL));
    ck_assert(!loginban_fail(&b, &other, 1000, &count, NULL));
    ck_assert(!loginban_fail(&b, &a, 2000, &count, NULL));
    ck_assert_int_eq(loginban_left(&b, &a, 2000), 0);
    ck_assert(loginban_fail(&b, &a, 3000, &count, NULL));
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(loginban_left(&b, &a, 3000), 10000);
    ck_assert_int_eq(loginban_left(&b, &a, 12999), 1);
    ck_assert_int_eq(loginban_left(&b, &other, 3000), 0); /* one failure: unaffected */
    /* Failures during the ban neither lengthen it nor count toward the next one. */
    ck_assert(!loginban_fail(&b, &a, 5000, &count, NULL));
    ck_assert_int_eq(loginban_left(&b, &a, 5000), 8000);
    ck_assert_int_eq(loginban_left(&b, &a, 13000), 0);
    ck_assert(!loginban_fail(&b, &a, 13000, &count, NULL));
    ck_assert(!loginban_fail(&b, &a, 13001, &count, NULL));
    ck_assert(loginban_fail(&b, &a, 13002, &count, NULL));
    loginban_free(&b);
}
END_TEST

/* Three failures at t ban for the length *len says; returns when the ban ends. */
static long long ban_now(loginban *b, const struct sockaddr_storage *a, long long t, long long *len)
{
    ck_assert(!loginban_fail(b, a, t, NULL, NULL));
    ck_assert(!loginban_fail(b, a, t, NULL, NULL));
    ck_assert(loginban_fail(b, a, t, NULL, len));
    ck_assert_int_eq(loginban_left(b, a, t), *len);
    return t + *len;
}

START_TEST(test_repeated_ban_doubles_up_to_cap)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 60000, 10000, 45000), 0);
    struct sockaddr_storage a = v4("192.0.2.1"), other = v4("192.0.2.2");
    long long len = 0, end = ban_now(&b, &a, 1000, &len);
    ck_assert_int_eq(len, 10000);
    end = ban_now(&b, &a, end, &len); /* right after the first: twice as long */
    ck_assert_int_eq(len, 20000);
    end = ban_now(&b, &a, end + 44999, &len); /* less than the cap after the last one's end */
    ck_assert_int_eq(len, 40000);
    end = ban_now(&b, &a, end, &len);
    ck_assert_int_eq(len, 45000); /* 80 s, held to the cap */
    end = ban_now(&b, &a, end, &len);
    ck_assert_int_eq(len, 45000);
    ban_now(&b, &other, end, &len); /* another address starts at the first length */
    ck_assert_int_eq(len, 10000);
    /* A cap's length of quiet after a ban's end: the next ban is a first one again. */
    end = ban_now(&b, &a, end + 45000, &len);
    ck_assert_int_eq(len, 10000);
    ban_now(&b, &a, end + 1, &len);
    ck_assert_int_eq(len, 20000);
    loginban_free(&b);
}
END_TEST

START_TEST(test_cap_below_ban_means_no_doubling)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 60000, 10000, 0), 0);
    struct sockaddr_storage a = v4("192.0.2.1");
    long long len = 0, end = ban_now(&b, &a, 0, &len);
    ban_now(&b, &a, end, &len);
    ck_assert_int_eq(len, 10000);
    loginban_free(&b);
}
END_TEST

START_TEST(test_window_expires)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 60000, 10000, 10000), 0);
    struct sockaddr_storage a = v4("192.0.2.1");
    ck_assert(!loginban_fail(&b, &a, 0, NULL, NULL));
    ck_assert(!loginban_fail(&b, &a, 59999, NULL, NULL));
    /* The window began at 0: a failure at 60 s starts a new count. */
    ck_assert(!loginban_fail(&b, &a, 60000, NULL, NULL));
    ck_assert(!loginban_fail(&b, &a, 60001, NULL, NULL));
    ck_assert_int_eq(loginban_left(&b, &a, 60001), 0);
    ck_assert(loginban_fail(&b, &a, 60002, NULL, NULL));
    loginban_free(&b);
}
END_TEST

START_TEST(test_ipv6_by_64_and_mapped_v4)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 2, 60000, 10000, 10000), 0);
    struct sockaddr_storage x1 = v6("2001:db8:1:2::1"), x2 = v6("2001:db8:1:2:ffff::9");
    struct sockaddr_storage y = v6("2001:db8:1:3::1");
    ck_assert(!loginban_fail(&b, &x1, 0, NULL, NULL));
    ck_assert(loginban_fail(&b, &x2, 1, NULL, NULL)); /* the same /64 */
    ck_assert_int_gt(loginban_left(&b, &x1, 2), 0);
    ck_assert_int_eq(loginban_left(&b, &y, 2), 0); /* the next /64 */

    struct sockaddr_storage m1 = v6("::ffff:192.0.2.1"), m2 = v6("::ffff:192.0.2.2");
    struct sockaddr_storage p1 = v4("192.0.2.1");
    ck_assert(!loginban_fail(&b, &m1, 0, NULL, NULL));
    ck_assert(!loginban_fail(&b, &m2, 0, NULL, NULL)); /* another IPv4 host, not its /64 */
    ck_assert_int_eq(loginban_left(&b, &m2, 1), 0);
    ck_assert(loginban_fail(&b, &p1, 1, NULL, NULL)); /* 192.0.2.1 however it is seen */
    ck_assert_int_gt(loginban_left(&b, &m1, 2), 0);
    loginban_free(&b);
}
END_TEST

START_TEST(test_off)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 0, 60000, 10000, 10000), 0);
    ck_assert_ptr_null(b.slots);
    struct sockaddr_storage a = v4("192.0.2.1");
    for (int i = 0; i < 100; i++)
        ck_assert(!loginban_fail(&b, &a, i, NULL, NULL));
    ck_assert_int_eq(loginban_left(&b, &a, 100), 0);
    loginban_free(&b);
}
END_TEST

START_TEST(test_flood_keeps_ban_and_evicts_counts)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 600000, 600000, 600000), 0);
    loginban_entry *slots = b.slots;
    struct sockaddr_storage banned = v4("192.0.2.1"), counting = v4("192.0.2.2");
    for (int i = 0; i < 3; i++)
        loginban_fail(&b, &banned, i, NULL, NULL);
    ck_assert_int_gt(loginban_left(&b, &banned, 3), 0);
    loginban_fail(&b, &counting, 3, NULL, NULL);
    loginban_fail(&b, &counting, 4, NULL, NULL);
    /* 100,000 addresses fail once each: the table stays as it was allocated, an address
     * that is not banned gives way, a banned one does not. */
    for (unsigned i = 0; i < 100000; i++) {
        struct sockaddr_storage f = v4_numbered(i);
        ck_assert(!loginban_fail(&b, &f, 10 + i, NULL, NULL));
    }
    ck_assert_ptr_eq(b.slots, slots);
    ck_assert_int_gt(loginban_left(&b, &banned, 100010), 0);
    /* counting's two failures were forgotten: one more is not a ban. */
    ck_assert(!loginban_fail(&b, &counting, 100011, NULL, NULL));
    ck_assert_int_eq(loginban_left(&b, &counting, 100011), 0);
    loginban_free(&b);
}
END_TEST

START_TEST(test_flood_keeps_a_repeat_offenders_history)
{
    loginban b;
    ck_assert_int_eq(loginban_init(&b, 3, 600000, 10000, 600000), 0);
    struct sockaddr_storage g = v4("192.0.2.9");
    for (int i = 0; i < 3; i++)
        loginban_fail(&b, &g, i, NULL, NULL);
    ck_assert_int_eq(loginban_left(&b, &g, 2), 10000);
    /* Its ban has ended; 100,000 addresses fail once each meanwhile: counts give way before
     * a ban that is still remembered. */
    for (unsigned i = 0; i < 100000; i++) {
        struct sockaddr_storage f = v4_numbered(i);
        loginban_fail(&b, &f, 20000 + i, NULL, NULL);
    }
    long long len = 0;
    for (int i = 0; i < 2; i++)
        ck_assert(!loginban_fail(&b, &g, 130000, NULL, NULL));
    ck_assert(loginban_fail(&b, &g, 130000, NULL, &len));
    ck_assert_int_eq(len, 20000); /* doubled: the first ban was not forgotten */
    loginban_free(&b);
}
END_TEST

static Suite *loginban_suite(void)
{
    Suite *s = suite_create("loginban");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ban_after_failures_in_window);
    tcase_add_test(tc, test_repeated_ban_doubles_up_to_cap);
    tcase_add_test(tc, test_cap_below_ban_means_no_doubling);
    tcase_add_test(tc, test_window_expires);
    tcase_add_test(tc, test_ipv6_by_64_and_mapped_v4);
    tcase_add_test(tc, test_off);
    tcase_add_test(tc, test_flood_keeps_ban_and_evicts_counts);
    tcase_add_test(tc, test_flood_keeps_a_repeat_offenders_history);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loginban_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
