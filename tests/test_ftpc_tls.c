/* Check suite for ftpc/tls: --pin parsing, the public-key hash, and the trust decisions
 * (--cacert, host name and IP checks, --pin, --insecure) in real handshakes with ftpd's TLS
 * stream over a non-blocking socketpair, with a self-signed certificate made for the test. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "ev.h"
#include "opts.h"
#include "stream_tls.h"
#include "tls.h"
#include "tlscert.h"

static char dir[] = "/tmp/test_ftpc_tls.XXXXXX";
static char cert_path[256], key_path[256], other_path[256], other_key[256];
static char pin[TLSCERT_PIN_LEN], other_pin[TLSCERT_PIN_LEN];

static void suite_setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(other_path, sizeof other_path, "%s/other.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/other-key.pem", dir);
    char err[256], fp[TLSCERT_FP_LEN];
    ck_assert_msg(tlscert_generate(cert_path, key_path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(tlscert_generate(other_path, other_key, err, sizeof err) == 0, "%s", err);
    ck_assert(tlscert_fingerprint(cert_path, fp, pin, sizeof pin, err, sizeof err) == 0);
    ck_assert(tlscert_fingerprint(other_path, fp, other_pin, sizeof other_pin, err, sizeof err) ==
              0);
}

static void suite_teardown(void)
{
    unlink(cert_path);
    unlink(key_path);
    unlink(other_path);
    unlink(other_key);
    rmdir(dir);
}

START_TEST(test_parse_pins)
{
    unsigned char pins[FTPC_PIN_MAX][FTPC_PIN_LEN];
    char err[200], spec[200];
    snprintf(spec, sizeof spec, "sha256//%s", pin);
    ck_assert_int_eq(ftpc_tls_parse_pins(spec, pins, FTPC_PIN_MAX, err, sizeof err), 1);
    snprintf(spec, sizeof spec, "sha256//%s;SHA256//%s", pin, other_pin);
    ck_assert_int_eq(ftpc_tls_parse_pins(spec, pins, FTPC_PIN_MAX, err, sizeof err), 2);
    ck_assert_int_eq(ftpc_tls_parse_pins(spec, pins, 1, err, sizeof err), -1);
    /* all zero bytes: "AAAA...A=" (43 A's) */
    char zeros[64] = "sha256//";
    memset(zeros + 8, 'A', 43);
    zeros[51] = '=';
    zeros[52] = '\0';
    ck_assert_int_eq(ftpc_tls_parse_pins(zeros, pins, FTPC_PIN_MAX, err, sizeof err), 1);
    for (int i = 0; i < FTPC_PIN_LEN; i++)
        ck_assert_int_eq(pins[0][i], 0);
    static const char *bad[] = {
        "",
        "sha256//",
        "md5//AAAA",
        "sha256//AAAA",
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 43, no '=' */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*=",  /* bad character */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",  /* nonzero padding bits */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;", /* empty second */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(ftpc_tls_parse_pins(bad[i], pins, FTPC_PIN_MAX, err, sizeof err) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert(err[0] != '\0');
    }
}
END_TEST

START_TEST(test_spki_hash_matches_pin)
{
    FILE *f = fopen(cert_path, "r");
    ck_assert_ptr_nonnull(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    ck_assert_int_gt(len, 0);
    unsigned char h[FTPC_PIN_LEN], pins[1][FTPC_PIN_LEN];
    ck_assert_int_eq(ftpc_tls_spki_sha256(der, (size_t)len, h), 0);
    char spec[100], err[200];
    snprintf(spec, sizeof spec, "sha256//%s", pin);
    ck_assert_int_eq(ftpc_tls_parse_pins(spec, pins, 1, err, sizeof err), 1);
    ck_assert_mem_eq(h, pins[0], FTPC_PIN_LEN);
    ck_assert_int_eq(ftpc_tls_spki_sha256((const unsigned char *)"junk", 4, h), -1);
    OPENSSL_free(der);
    X509_free(x);
}
END_TEST

/* One handshake of an ftpc client (opts, host) against a server with cert/key. Returns 0 on
 * success, -1 with the client's explanation in why. */
static int try_handshake(const ftpc_opts *o, const char *host, const char *cert, const char *key,
                         char *why, size_t why_size)
{
    char err[256];
    SSL_CTX *sctx = stream_tls_server_ctx(cert, key, err, sizeof err);
    ck_assert_msg(sctx != NULL, "%s", err);
    ftpc_tls *tls = ftpc_tls_new(o, err, sizeof err);
    ck_assert_msg(tls != NULL, "%s", err);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    stream_tls c, s;
    ck_assert_int_eq(ftpc_tls_start(tls, &c, sv[0], host, NULL, err, sizeof err), 0);
    ck_assert_int_eq(stream_tls_init(&s, sv[1], sctx, STREAM_TLS_SERVER), 0);
    int crc = -1, src = -1;
    for (int i = 0; i < 200; i++) {
        if (crc != 0) {
            crc = stream_handshake(&c.base);
            if (crc < 0 && c.base.last_errno != EAGAIN)
                break;
        }
        if (src != 0) {
            src = stream_handshake(&s.base);
            if (src < 0 && s.base.last_errno != EAGAIN)
                break;
        }
        if (crc == 0 && src == 0)
            break;
        struct pollfd fds[2] = {{.fd = sv[0], .events = POLLIN}, {.fd = sv[1], .events = POLLIN}};
        poll(fds, 2, 100);
    }
    int rc = crc == 0 ? 0 : -1;
    if (rc < 0)
        ftpc_tls_describe(&c, why, why_size);
    stream_close(&c.base);
    stream_close(&s.base);
    ftpc_tls_free(tls);
    stream_tls_ctx_free(sctx);
    return rc;
}

START_TEST(test_trust)
{
    ftpc_opts o;
    char why[400], spec[100];
    ftpc_opts_defaults(&o);

    /* The system store does not know a self-signed certificate. */
    ck_assert_int_eq(try_handshake(&o, "localhost", cert_path, key_path, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "self-signed") && strstr(why, "--cacert"), "%s", why);

    /* --cacert: trusted, for the names it carries (DNS localhost, IP 127.0.0.1 and ::1). */
    o.cacert = cert_path;
    ck_assert_msg(try_handshake(&o, "localhost", cert_path, key_path, why, sizeof why) == 0, "%s",
                  why);
    ck_assert_msg(try_handshake(&o, "127.0.0.1", cert_path, key_path, why, sizeof why) == 0, "%s",
                  why);
    ck_assert_msg(try_handshake(&o, "::1", cert_path, key_path, why, sizeof why) == 0, "%s", why);
    ck_assert_int_eq(try_handshake(&o, "example.com", cert_path, key_path, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "mismatch"), "%s", why);
    ck_assert_int_eq(try_handshake(&o, "127.0.0.2", cert_path, key_path, why, sizeof why), -1);
    /* ... but not another self-signed certificate. */
    ck_assert_int_eq(try_handshake(&o, "localhost", other_path, other_key, why, sizeof why), -1);

    /* --pin on top of --cacert: right passes, wrong fails with its own message. */
    snprintf(spec, sizeof spec, "sha256//%s", pin);
    o.pin = spec;
    ck_assert_msg(try_handshake(&o, "localhost", cert_path, key_path, why, sizeof why) == 0, "%s",
                  why);
    snprintf(spec, sizeof spec, "sha256//%s", other_pin);
    ck_assert_int_eq(try_handshake(&o, "localhost", cert_path, key_path, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "does not match --pin"), "%s", why);

    /* --insecure: anything goes, except a --pin that does not match. */
    o.cacert = NULL;
    o.pin = NULL;
    o.insecure = true;
    ck_assert_msg(try_handshake(&o, "example.com", cert_path, key_path, why, sizeof why) == 0, "%s",
                  why);
    o.pin = spec; /* other_pin */
    ck_assert_int_eq(try_handshake(&o, "localhost", cert_path, key_path, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "does not match --pin"), "%s", why);
    ck_assert_msg(try_handshake(&o, "localhost", other_path, other_key, why, sizeof why) == 0, "%s",
                  why);
}
END_TEST

START_TEST(test_bad_cacert)
{
    ftpc_opts o;
    char err[300];
    ftpc_opts_defaults(&o);
    o.cacert = "/nonexistent/ca.pem";
    ck_assert_ptr_null(ftpc_tls_new(&o, err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/ca.pem"), "%s", err);
    o.cacert = NULL;
    o.pin = "sha256//nope";
    ck_assert_ptr_null(ftpc_tls_new(&o, err, sizeof err));
    ck_assert_msg(strstr(err, "--pin"), "%s", err);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("ftpc_tls");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parse_pins);
    tcase_add_test(tc, test_spki_hash_matches_pin);
    tcase_add_test(tc, test_trust);
    tcase_add_test(tc, test_bad_cacert);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
