/* Check suite for the TLS stream (common/stream_tls) and certificates (common/tlscert): a
 * client and a server stream over a non-blocking socketpair, both driven by a small poll
 * loop, with a self-signed certificate generated for the test. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "ev.h"
#include "stream_tls.h"
#include "tlscert.h"

static char dir[] = "/tmp/test_stream_tls.XXXXXX";
static char cert_path[256], key_path[256];
static SSL_CTX *sctx, *cctx;

static void suite_setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    char err[256];
    ck_assert_msg(tlscert_generate(cert_path, key_path, err, sizeof err) == 0, "%s", err);
}

static void suite_teardown(void)
{
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
}

static void setup(void)
{
    char err[256];
    sctx = stream_tls_server_ctx(cert_path, key_path, err, sizeof err);
    ck_assert_msg(sctx != NULL, "%s", err);
    cctx = stream_tls_client_ctx(err, sizeof err);
    ck_assert_msg(cctx != NULL, "%s", err);
    /* Verify the server against the generated certificate, as a careful client would. */
    ck_assert_int_eq(SSL_CTX_load_verify_locations(cctx, cert_path, NULL), 1);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
}

static void teardown(void)
{
    stream_tls_ctx_free(sctx);
    stream_tls_ctx_free(cctx);
}

typedef struct pair {
    stream_tls c, s;
} pair;

static void open_pair(pair *p)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ck_assert_int_eq(stream_tls_init(&p->c, sv[0], cctx, STREAM_TLS_CLIENT), 0);
    ck_assert_int_eq(stream_tls_init(&p->s, sv[1], sctx, STREAM_TLS_SERVER), 0);
    SSL_set1_host(stream_tls_ssl(&p->c), "localhost");
}

static void close_pair(pair *p)
{
    stream_close(&p->c.base);
    stream_close(&p->s.base);
}

/* Waits (at most 1 s) until one of the streams may make progress on what it wants, or on
 * extra (the caller's own interest per stream). */
static void wait_pair(pair *p, int extra_c, int extra_s)
{
    struct pollfd fds[2] = {{.fd = p->c.base.fd}, {.fd = p->s.base.fd}};
    int w[2] = {stream_want(&p->c.base) | extra_c, stream_want(&p->s.base) | extra_s};
    for (int i = 0; i < 2; i++)
        fds[i].events =
            (short)(((w[i] & EV_READ) ? POLLIN : 0) | ((w[i] & EV_WRITE) ? POLLOUT : 0));
    ck_assert_int_ge(poll(fds, 2, 1000), 0);
}

static void handshake(pair *p)
{
    bool cdone = false, sdone = false;
    for (int i = 0; i < 200 && !(cdone && sdone); i++) {
        if (!cdone) {
            int rc = stream_handshake(&p->c.base);
            ck_assert_msg(rc == 0 || p->c.base.last_errno == EAGAIN, "client: %s", p->c.err);
            cdone = rc == 0;
        }
        if (!sdone) {
            int rc = stream_handshake(&p->s.base);
            ck_assert_msg(rc == 0 || p->s.base.last_errno == EAGAIN, "server: %s", p->s.err);
            sdone = rc == 0;
        }
        if (!(cdone && sdone))
            wait_pair(p, 0, 0);
    }
    ck_assert(cdone && sdone);
}

/* Moves len bytes from `from` to `to` (both non-blocking), reading in chunks of rchunk, and
 * checks them. Both sides run in the same loop, so neither may block the other. */
static void transfer(pair *p, stream_tls *from, stream_tls *to, size_t len, size_t rchunk)
{
    unsigned char *src = malloc(len), *dst = malloc(len);
    ck_assert(src && dst);
    for (size_t i = 0; i < len; i++)
        src[i] = (unsigned char)(i * 2654435761u >> 13);
    size_t sent = 0, got = 0;
    for (int iter = 0; got < len && iter < 100000; iter++) {
        while (sent < len) {
            ssize_t n = stream_write(&from->base, src + sent, len - sent);
            if (n < 0) {
                ck_assert_msg(from->base.last_errno == EAGAIN, "write: %s", from->err);
                break;
            }
            sent += (size_t)n;
        }
        for (;;) {
            size_t want = len - got < rchunk ? len - got : rchunk;
            if (want == 0)
                break;
            ssize_t n = stream_read(&to->base, dst + got, want);
            if (n < 0) {
                ck_assert_msg(to->base.last_errno == EAGAIN, "read: %s", to->err);
                /* Nothing may stay decrypted inside OpenSSL once a read says EAGAIN. */
                ck_assert_uint_eq(stream_pending(&to->base), 0);
                break;
            }
            ck_assert_int_gt(n, 0);
            got += (size_t)n;
        }
        if (got < len) {
            int ec = from == &p->c ? (sent < len ? EV_WRITE : 0) : EV_READ;
            int es = from == &p->s ? (sent < len ? EV_WRITE : 0) : EV_READ;
            wait_pair(p, ec, es);
        }
    }
    ck_assert_uint_eq(got, len);
    ck_assert_int_eq(memcmp(src, dst, len), 0);
    free(src);
    free(dst);
}

/* Reads whatever arrives for a moment (TLS 1.3 tickets travel after the handshake). */
static void settle(stream_tls *t)
{
    char tmp[64];
    for (int i = 0; i < 5; i++) {
        ssize_t n = stream_read(&t->base, tmp, sizeof tmp);
        ck_assert_int_eq(n, -1);
        ck_assert_int_eq(t->base.last_errno, EAGAIN);
        struct pollfd pfd = {.fd = t->base.fd, .events = POLLIN};
        poll(&pfd, 1, 20);
    }
}

START_TEST(test_cert_and_fingerprint)
{
    char fp[TLSCERT_FP_LEN], pin[TLSCERT_PIN_LEN], err[256];
    ck_assert_msg(tlscert_fingerprint(cert_path, fp, pin, sizeof pin, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(strlen(fp), 95);
    ck_assert_int_eq(fp[2], ':');
    ck_assert_uint_eq(strlen(pin), 44);
    struct stat st;
    ck_assert_int_eq(stat(key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_ne(tlscert_fingerprint("/nonexistent/cert.pem", fp, NULL, 0, err, sizeof err), 0);
}
END_TEST

START_TEST(test_handshake_and_exchange)
{
    pair p;
    open_pair(&p);
    ck_assert(stream_is_tls(&p.c.base));
    ck_assert_ptr_null(p.c.base.ops->sendfile);
    ck_assert_ptr_null(p.c.base.ops->recvfile);
    ck_assert_str_eq(stream_tls_version(&p.s), "-");
    /* The server waits for the ClientHello: it wants to read. */
    ck_assert_int_eq(stream_handshake(&p.s.base), -1);
    ck_assert_int_eq(p.s.base.last_errno, EAGAIN);
    ck_assert_int_eq(stream_want(&p.s.base), EV_READ);
    handshake(&p);
    ck_assert_int_eq(stream_want(&p.s.base), 0);
    ck_assert_int_eq(stream_want(&p.c.base), 0);
    ck_assert_str_eq(stream_tls_version(&p.s), "TLSv1.3");
    ck_assert_str_ne(stream_tls_cipher(&p.c), "-");
    ck_assert(!stream_tls_resumed(&p.s));
    transfer(&p, &p.c, &p.s, 5, 1024);
    transfer(&p, &p.s, &p.c, 7, 1024);
    close_pair(&p);
}
END_TEST

START_TEST(test_large_both_ways)
{
    pair p;
    open_pair(&p);
    handshake(&p);
    transfer(&p, &p.c, &p.s, 3 << 20, 256 * 1024);
    transfer(&p, &p.s, &p.c, (3 << 20) + 12345, 100000);
    close_pair(&p);
}
END_TEST

START_TEST(test_pending)
{
    pair p;
    open_pair(&p);
    handshake(&p);
    ck_assert_int_eq(stream_write(&p.c.base, "0123456789", 10), 10);
    char tmp[16];
    ssize_t n;
    for (int i = 0; i < 100; i++) {
        n = stream_read(&p.s.base, tmp, 3);
        if (n > 0)
            break;
        ck_assert_int_eq(p.s.base.last_errno, EAGAIN);
        wait_pair(&p, 0, EV_READ);
    }
    ck_assert_int_eq(n, 3);
    /* The rest of the record is decrypted and held by OpenSSL: no socket event will say so. */
    ck_assert_uint_eq(stream_pending(&p.s.base), 7);
    ck_assert_int_eq(stream_read(&p.s.base, tmp + 3, sizeof tmp - 3), 7);
    ck_assert_mem_eq(tmp, "0123456789", 10);
    ck_assert_uint_eq(stream_pending(&p.s.base), 0);
    close_pair(&p);
}
END_TEST

START_TEST(test_shutdown_close_notify)
{
    pair p;
    open_pair(&p);
    handshake(&p);
    transfer(&p, &p.s, &p.c, 1000, 4096);
    ck_assert_int_eq(stream_shutdown(&p.s.base), 0);
    char tmp[16];
    ssize_t n = -1;
    for (int i = 0; i < 100; i++) {
        n = stream_read(&p.c.base, tmp, sizeof tmp);
        if (n >= 0)
            break;
        ck_assert_int_eq(p.c.base.last_errno, EAGAIN);
        wait_pair(&p, EV_READ, 0);
    }
    ck_assert_int_eq(n, 0); /* close_notify: a clean end */
    ck_assert(stream_tls_peer_closed(&p.c));
    ck_assert(!stream_tls_peer_closed(&p.s));
    /* The client answers with its own; the server sees a clean end too. */
    ck_assert_int_eq(stream_shutdown(&p.c.base), 0);
    for (int i = 0; i < 100; i++) {
        n = stream_read(&p.s.base, tmp, sizeof tmp);
        if (n >= 0)
            break;
        wait_pair(&p, 0, EV_READ);
    }
    ck_assert_int_eq(n, 0);
    ck_assert(stream_tls_peer_closed(&p.s));
    ck_assert_int_eq(stream_write(&p.s.base, "x", 1), -1);
    close_pair(&p);
}
END_TEST

/* A bare FIN after the data also reads as the end, but not as the peer's word: anyone on the
 * path can send one. */
START_TEST(test_fin_without_close_notify)
{
    pair p;
    open_pair(&p);
    handshake(&p);
    transfer(&p, &p.s, &p.c, 1000, 4096);
    ck_assert_int_eq(shutdown(p.s.base.fd, SHUT_WR), 0);
    char tmp[16];
    ssize_t n = -1;
    for (int i = 0; i < 100; i++) {
        n = stream_read(&p.c.base, tmp, sizeof tmp);
        if (n >= 0 || p.c.base.last_errno != EAGAIN)
            break;
        wait_pair(&p, EV_READ, 0);
    }
    ck_assert_int_eq(n, 0);
    ck_assert(!stream_tls_peer_closed(&p.c));
    close_pair(&p);
}
END_TEST

/* A data connection that resumes its control connection's session is bound to it; one that
 * does not resume, or resumes another control connection's session, is not, and is given
 * no ticket that would pass the check later. Run for TLS 1.3 and 1.2 (tickets), and TLS 1.2
 * with session ids only. */
static void check_binding(int max_version, bool tickets)
{
    SSL_CTX_set_max_proto_version(cctx, max_version);
    if (!tickets)
        SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
    pair ctl, other;
    open_pair(&ctl);
    handshake(&ctl);
    transfer(&ctl, &ctl.s, &ctl.c, 10, 100);
    settle(&ctl.c);
    SSL_SESSION *sess = stream_tls_get1_session(&ctl.c);
    ck_assert_ptr_nonnull(sess);
    ck_assert_int_eq(SSL_SESSION_is_resumable(sess), 1);

    open_pair(&other);
    handshake(&other);
    transfer(&other, &other.s, &other.c, 10, 100);
    settle(&other.c);
    SSL_SESSION *other_sess = stream_tls_get1_session(&other.c);
    ck_assert_ptr_nonnull(other_sess);

    /* 1: resumes the control session: bound; the tickets it gets still bind. */
    pair d;
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl.s);
    ck_assert_int_eq(stream_tls_set_session(&d.c, sess), 0);
    handshake(&d);
    ck_assert(stream_tls_resumed(&d.s));
    ck_assert(stream_tls_bound(&d.s));
    transfer(&d, &d.s, &d.c, 2 << 20, 65536);
    settle(&d.c);
    SSL_SESSION *renewed = stream_tls_get1_session(&d.c);
    close_pair(&d);
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl.s);
    ck_assert_int_eq(stream_tls_set_session(&d.c, renewed), 0);
    handshake(&d);
    ck_assert(stream_tls_bound(&d.s));
    close_pair(&d);
    SSL_SESSION_free(renewed);

    /* 2: a full handshake: not bound. */
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl.s);
    handshake(&d);
    ck_assert(!stream_tls_resumed(&d.s));
    ck_assert(!stream_tls_bound(&d.s));
    close_pair(&d);

    /* 3: another client's session: resumed, but not bound; the ticket it is handed must not
     * pass either. */
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl.s);
    ck_assert_int_eq(stream_tls_set_session(&d.c, other_sess), 0);
    handshake(&d);
    ck_assert(stream_tls_resumed(&d.s));
    ck_assert(!stream_tls_bound(&d.s));
    transfer(&d, &d.s, &d.c, 10, 100);
    settle(&d.c);
    SSL_SESSION *stolen = stream_tls_get1_session(&d.c);
    close_pair(&d);
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl.s);
    ck_assert_int_eq(stream_tls_set_session(&d.c, stolen), 0);
    handshake(&d);
    ck_assert(!stream_tls_bound(&d.s));
    close_pair(&d);
    SSL_SESSION_free(stolen);

    /* 4: a second control connection resuming the first is the same client: its data
     * connections may use either session. */
    pair ctl2;
    open_pair(&ctl2);
    ck_assert_int_eq(stream_tls_set_session(&ctl2.c, sess), 0);
    handshake(&ctl2);
    ck_assert(stream_tls_resumed(&ctl2.s));
    open_pair(&d);
    stream_tls_bind_data(&d.s, &ctl2.s);
    ck_assert_int_eq(stream_tls_set_session(&d.c, sess), 0);
    handshake(&d);
    ck_assert(stream_tls_bound(&d.s));
    close_pair(&d);
    close_pair(&ctl2);

    SSL_SESSION_free(sess);
    SSL_SESSION_free(other_sess);
    close_pair(&ctl);
    close_pair(&other);
}

START_TEST(test_binding_tls13)
{
    check_binding(TLS1_3_VERSION, true);
}
END_TEST

START_TEST(test_binding_tls12_tickets)
{
    check_binding(TLS1_2_VERSION, true);
}
END_TEST

START_TEST(test_binding_tls12_session_ids)
{
    check_binding(TLS1_2_VERSION, false);
}
END_TEST

/* TLS 1.3 tickets leave the server at the end of its handshake, before it writes anything:
 * a client that has only read holds a resumable session. */
START_TEST(test_tickets_with_handshake)
{
    pair p;
    open_pair(&p);
    handshake(&p);
    settle(&p.c);
    SSL_SESSION *sess = stream_tls_get1_session(&p.c);
    ck_assert_ptr_nonnull(sess);
    ck_assert_int_eq(SSL_SESSION_is_resumable(sess), 1);
    ck_assert_int_eq(SSL_SESSION_get_protocol_version(sess), TLS1_3_VERSION);
    SSL_SESSION_free(sess);
    close_pair(&p);
}
END_TEST

START_TEST(test_bad_peer)
{
    /* A plain-text client: the server's handshake fails with a message, not a crash. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    stream_tls s;
    ck_assert_int_eq(stream_tls_init(&s, sv[1], sctx, STREAM_TLS_SERVER), 0);
    ck_assert_int_eq(write(sv[0], "USER anonymous\r\n", 16), 16);
    ck_assert_int_eq(stream_handshake(&s.base), -1);
    ck_assert_int_ne(s.base.last_errno, EAGAIN);
    ck_assert_str_ne(s.err, "");
    ck_assert_uint_eq(stream_pending(&s.base), 0);
    stream_close(&s.base);
    close(sv[0]);

    /* A peer that vanishes mid-handshake. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ck_assert_int_eq(stream_tls_init(&s, sv[1], sctx, STREAM_TLS_SERVER), 0);
    close(sv[0]);
    ck_assert_int_eq(stream_handshake(&s.base), -1);
    ck_assert_int_ne(s.base.last_errno, EAGAIN);
    stream_close(&s.base);
}
END_TEST

START_TEST(test_bad_cert_files)
{
    char err[256];
    ck_assert_ptr_null(stream_tls_server_ctx("/nonexistent.pem", key_path, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.pem"));
    /* A key that does not belong to the certificate. */
    char c2[300], k2[300];
    snprintf(c2, sizeof c2, "%s/c2.pem", dir);
    snprintf(k2, sizeof k2, "%s/k2.pem", dir);
    ck_assert_int_eq(tlscert_generate(c2, k2, err, sizeof err), 0);
    ck_assert_ptr_null(stream_tls_server_ctx(cert_path, k2, err, sizeof err));
    unlink(c2);
    unlink(k2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stream_tls");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cert_and_fingerprint);
    tcase_add_test(tc, test_handshake_and_exchange);
    tcase_add_test(tc, test_large_both_ways);
    tcase_add_test(tc, test_pending);
    tcase_add_test(tc, test_shutdown_close_notify);
    tcase_add_test(tc, test_fin_without_close_notify);
    tcase_add_test(tc, test_binding_tls13);
    tcase_add_test(tc, test_binding_tls12_tickets);
    tcase_add_test(tc, test_binding_tls12_session_ids);
    tcase_add_test(tc, test_tickets_with_handshake);
    tcase_add_test(tc, test_bad_peer);
    tcase_add_test(tc, test_bad_cert_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
