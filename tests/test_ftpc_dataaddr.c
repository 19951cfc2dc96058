/* Check suite for ftpc/dataaddr: 227/229 parsing, EPRT/PORT arguments. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "dataaddr.h"
#include "net.h"

START_TEST(test_epsv)
{
    ck_assert_int_eq(ftpc_parse_epsv("Entering Extended Passive Mode (|||42657|)."), 42657);
    ck_assert_int_eq(ftpc_parse_epsv("Entering Extended Passive Mode (!!!1!)"), 1);
    ck_assert_int_eq(ftpc_parse_epsv("(|||65535|)"), 65535);
    ck_assert_int_eq(ftpc_parse_epsv("(|||65536|)"), -1);
    ck_assert_int_eq(ftpc_parse_epsv("(|||0|)"), -1);
    ck_assert_int_eq(ftpc_parse_epsv("(|||12345)"), -1);
    ck_assert_int_eq(ftpc_parse_epsv("(||12345|)"), -1);
    ck_assert_int_eq(ftpc_parse_epsv("(1112345|)"), -1); /* digits are no delimiter */
    ck_assert_int_eq(ftpc_parse_epsv("no parenthesis |||21|"), -1);
    ck_assert_int_eq(ftpc_parse_epsv("(|||1234567|)"), -1);
    ck_assert_int_eq(ftpc_parse_epsv(""), -1);
}
END_TEST

START_TEST(test_pasv)
{
    struct sockaddr_storage ss;
    char host[64];
    ck_assert_int_eq(ftpc_parse_pasv("Entering Passive Mode (127,0,0,1,138,145).", &ss),
                     138 * 256 + 145);
    ck_assert_str_eq(net_host_str(&ss, host, sizeof(host)), "127.0.0.1");
    ck_assert_int_eq(net_port(&ss), 138 * 256 + 145);
    /* Without parentheses (some servers), and after other numbers. */
    ck_assert_int_eq(ftpc_parse_pasv("=10,1,2,3,4,5", &ss), 4 * 256 + 5);
    ck_assert_str_eq(net_host_str(&ss, host, sizeof(host)), "10.1.2.3");
    ck_assert_int_eq(ftpc_parse_pasv("227 Mode 1 (192,168,0,9,0,21)", &ss), 21);
    ck_assert_int_eq(ftpc_parse_pasv("(127,0,0,1,256,1)", &ss), -1);
    ck_assert_int_eq(ftpc_parse_pasv("(127,0,0,1,0,0)", &ss), -1);
    ck_assert_int_eq(ftpc_parse_pasv("(127,0,0,1,4)", &ss), -1);
    ck_assert_int_eq(ftpc_parse_pasv("nothing here", &ss), -1);
}
END_TEST

START_TEST(test_eprt_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char out[128];
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:50001", 0, &ss, &len), 0);
    ck_assert_int_eq(ftpc_format_eprt(&ss, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "|1|127.0.0.1|50001|");
    ck_assert_int_eq(ftpc_format_port(&ss, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "127,0,0,1,195,81");
    ck_assert_int_eq(ftpc_format_eprt(&ss, out, 8), -1);

    ck_assert_int_eq(net_parse_hostport("[::1]:2121", 0, &ss, &len), 0);
    ck_assert_int_eq(ftpc_format_eprt(&ss, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "|2|::1|2121|");
    ck_assert_int_eq(ftpc_format_port(&ss, out, sizeof(out)), -1);

    /* IPv4-mapped IPv6 is IPv4 on the wire. */
    ck_assert_int_eq(net_parse_hostport("[::ffff:10.0.0.7]:1025", 0, &ss, &len), 0);
    ck_assert_int_eq(ftpc_format_eprt(&ss, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "|1|10.0.0.7|1025|");
    ck_assert_int_eq(ftpc_format_port(&ss, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "10,0,0,7,4,1");
}
END_TEST

static Suite *dataaddr_suite(void)
{
    Suite *s = suite_create("ftpc_dataaddr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_epsv);
    tcase_add_test(tc, test_pasv);
    tcase_add_test(tc, test_eprt_port);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dataaddr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
