/* Check suite for ftpd/dataarg: PORT and EPRT arguments accepted exactly as RFC 959 and
 * RFC 2428 write them, and every loose variant refused rather than guessed at. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "dataarg.h"

static void check_v4(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    char got[INET_ADDRSTRLEN];
    ck_assert_int_eq(ss->ss_family, AF_INET);
    ck_assert_ptr_nonnull(inet_ntop(AF_INET, &a->sin_addr, got, sizeof got));
    ck_assert_str_eq(got, ip);
    ck_assert_uint_eq(ntohs(a->sin_port), port);
}

START_TEST(test_port_accepts_six_numbers)
{
    struct sockaddr_storage ss;
    ck_assert_int_eq(dataarg_port("127,0,0,1,7,208", &ss), DATAARG_OK);
    check_v4(&ss, "127.0.0.1", 7 * 256 + 208);
    ck_assert_int_eq(dataarg_port("192,0,2,255,255,255", &ss), DATAARG_OK);
    check_v4(&ss, "192.0.2.255", 65535);
    ck_assert_int_eq(dataarg_port("010,0,0,1,0,1", &ss), DATAARG_OK); /* decimal, not octal */
    check_v4(&ss, "10.0.0.1", 1);
}
END_TEST

START_TEST(test_port_refuses_loose_forms)
{
    static const char *bad[] = {
        "",
        "127,0,0,1,7",
        "127,0,0,1,7,208,1",
        "127,0,0,1,7,256",
        "127,0,0,1,-1,5",
        "+127,0,0,1,7,208",
        " 127,0,0,1,7,208",
        "127,0,0,1,7,208 ",
        "127,0,0,1,7,208x",
        "127.0.0.1,7,208",
        "127,0,0,1,,208",
        "127,0,0,1,0007,1",
        "a,b,c,d,e,f",
        "4294967423,0,0,1,7,208",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct sockaddr_storage ss;
        ck_assert_msg(dataarg_port(bad[i], &ss) == DATAARG_SYNTAX, "accepted \"%s\"", bad[i]);
    }
}
END_TEST

START_TEST(test_eprt_accepts_both_families)
{
    struct sockaddr_storage ss;
    ck_assert_int_eq(dataarg_eprt("|1|132.235.1.2|6275|", &ss), DATAARG_OK);
    check_v4(&ss, "132.235.1.2", 6275);
    ck_assert_int_eq(dataarg_eprt("!1!127.0.0.1!2000!", &ss), DATAARG_OK); /* any delimiter */
    check_v4(&ss, "127.0.0.1", 2000);

    ck_assert_int_eq(dataarg_eprt("|2|1080::8:800:200C:417A|5282|", &ss), DATAARG_OK);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
    struct in6_addr want;
    inet_pton(AF_INET6, "1080::8:800:200C:417A", &want);
    ck_assert_mem_eq(&a6->sin6_addr, &want, sizeof want);
    ck_assert_uint_eq(ntohs(a6->sin6_port), 5282);

    /* an IPv4-mapped address is the IPv4 address it maps */
    ck_assert_int_eq(dataarg_eprt("|2|::ffff:127.0.0.1|3000|", &ss), DATAARG_OK);
    check_v4(&ss, "127.0.0.1", 3000);
}
END_TEST

START_TEST(test_eprt_other_protocols_are_522)
{
    struct sockaddr_storage ss;
    ck_assert_int_eq(dataarg_eprt("|3|127.0.0.1|2000|", &ss), DATAARG_PROTO);
    ck_assert_int_eq(dataarg_eprt("|0|127.0.0.1|2000|", &ss), DATAARG_PROTO);
}
END_TEST

START_TEST(test_eprt_refuses_loose_forms)
{
    static const char *bad[] = {
        "",
        "|1|127.0.0.1|2000",
        "1|127.0.0.1|2000|",
        "|1|127.0.0.1|2000|x",
        "|1|127.0.0.1|2000||",
        "|1|127.0.0.1|+2000|",
        "|1|127.0.0.1| 2000|",
        "|1|127.0.0.1|0|",
        "|1|127.0.0.1|65536|",
        "|1|127.0.0.1|000002000|",
        "|1||2000|",
        "|1|::1|2000|",
        "|2|127.0.0.1|2000|",
        "|2|[::1]|2000|",
        "|2|fe80::1%eth0|2000|",
        "|1|localhost|2000|",
        "|x|127.0.0.1|2000|",
        "||127.0.0.1|2000|",
        " 1 127.0.0.1 2000 ",
        "\x7f"
        "1\x7f"
        "127.0.0.1\x7f"
        "2000\x7f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct sockaddr_storage ss;
        ck_assert_msg(dataarg_eprt(bad[i], &ss) == DATAARG_SYNTAX, "accepted \"%s\"", bad[i]);
    }
}
END_TEST

static Suite *dataarg_suite(void)
{
    Suite *s = suite_create("dataarg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_port_accepts_six_numbers);
    tcase_add_test(tc, test_port_refuses_loose_forms);
    tcase_add_test(tc, test_eprt_accepts_both_families);
    tcase_add_test(tc, test_eprt_other_protocols_are_522);
    tcase_add_test(tc, test_eprt_refuses_loose_forms);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dataarg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
