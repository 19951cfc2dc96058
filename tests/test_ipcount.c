/* Check suite for ftpd/ipcount: counts per client address (port ignored, IPv4 and its
 * IPv4-mapped IPv6 form the same address), growth past many addresses, and removal that
 * leaves other addresses' counts intact (tombstones). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ipcount.h"

static struct sockaddr_storage v4(const char *ip, unsigned short port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, unsigned short port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    return ss;
}

START_TEST(test_counts_per_address)
{
    ipcount t;
    ipcount_init(&t);
    struct sockaddr_storage a1 = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 2000);
    struct sockaddr_storage b = v4("192.0.2.2", 1000), m = v6("::ffff:192.0.2.1", 3000);
    struct sockaddr_storage six = v6("2001:db8::1", 1000);
    ck_assert_uint_eq(ipcount_get(&t, &a1), 0);
    ck_assert_uint_eq(ipcount_inc(&t, &a1), 1);
    ck_assert_uint_eq(ipcount_inc(&t, &a2), 2); /* another port, the same client */
    ck_assert_uint_eq(ipcount_inc(&t, &m), 3);  /* the same address seen over IPv6 */
    ck_assert_uint_eq(ipcount_inc(&t, &b), 1);
    ck_assert_uint_eq(ipcount_inc(&t, &six), 1);
    ipcount_dec(&t, &a2);
    ck_assert_uint_eq(ipcount_get(&t, &a1), 2);
    ipcount_dec(&t, &a1);
    ipcount_dec(&t, &m);
    ck_assert_uint_eq(ipcount_get(&t, &a1), 0);
    ipcount_dec(&t, &a1); /* below zero: nothing happens */
    ck_assert_uint_eq(ipcount_get(&t, &a1), 0);
    ck_assert_uint_eq(ipcount_get(&t, &b), 1);
    ck_assert_uint_eq(ipcount_get(&t, &six), 1);
    struct sockaddr_storage unknown = v4("198.51.100.9", 1);
    ipcount_dec(&t, &unknown);
    ck_assert_uint_eq(ipcount_get(&t, &b), 1);
    ipcount_free(&t);
}
END_TEST

START_TEST(test_many_addresses_and_churn)
{
    /* 5,000 addresses, each with its own count, then every other one leaves and comes back:
     * the table grows and reuses tombstones without losing anybody's count. */
    ipcount t;
    ipcount_init(&t);
    enum { N = 5000 };
    char ip[64];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
            struct sockaddr_storage a = v4(ip, 1);
            unsigned want = (unsigned)(i % 3) + 1;
            if (round == 0) {
                for (unsigned k = 0; k < want; k++)
                    ck_assert_uint_eq(ipcount_inc(&t, &a), k + 1);
            } else if (i % 2 == 0) {
                for (unsigned k = 0; k < want; k++)
                    ipcount_dec(&t, &a);
                ck_assert_uint_eq(ipcount_get(&t, &a), 0);
                for (unsigned k = 0; k < want; k++)
                    ipcount_inc(&t, &a);
            }
        }
    }
    ck_assert_uint_eq(t.live, N);
    for (int i = 0; i < N; i++) {
        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        struct sockaddr_storage a = v4(ip, 9);
        ck_assert_uint_eq(ipcount_get(&t, &a), (unsigned)(i % 3) + 1);
    }
    ipcount_free(&t);
}
END_TEST

static Suite *ipcount_suite(void)
{
    Suite *s = suite_create("ipcount");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_per_address);
    tcase_add_test(tc, test_many_addresses_and_churn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ipcount_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
