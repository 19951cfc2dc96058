/* Check suite for the plain socket stream (common/stream_plain). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream.h"

static int sv[2];
static stream a, b;

static void setup(void)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    stream_plain_init(&a, sv[0]);
    stream_plain_init(&b, sv[1]);
}

static void teardown(void)
{
    stream_close(&a);
    stream_close(&b);
}

START_TEST(test_init)
{
    ck_assert_ptr_nonnull(a.ops);
    ck_assert_int_eq(a.fd, sv[0]);
    ck_assert_int_eq(a.last_errno, 0);
    ck_assert_int_eq(stream_want(&a), 0);
    ck_assert_uint_eq(stream_pending(&a), 0);
    ck_assert_ptr_nonnull(a.ops->sendfile);
}
END_TEST

START_TEST(test_write_read)
{
    ck_assert_int_eq(stream_write(&a, "hello", 5), 5);
    char tmp[16];
    ck_assert_int_eq(stream_read(&b, tmp, sizeof(tmp)), 5);
    ck_assert_mem_eq(tmp, "hello", 5);
    ck_assert_int_eq(stream_write(&b, "back", 4), 4);
    ck_assert_int_eq(stream_read(&a, tmp, 2), 2);
    ck_assert_int_eq(stream_read(&a, tmp + 2, 2), 2);
    ck_assert_mem_eq(tmp, "back", 4);
}
END_TEST

START_TEST(test_eagain)
{
    char tmp[16];
    ck_assert_int_eq(stream_read(&b, tmp, sizeof(tmp)), -1);
    ck_assert_int_eq(b.last_errno, EAGAIN);

    /* fill the socket until the kernel refuses more */
    char chunk[4096];
    memset(chunk, 'z', sizeof(chunk));
    size_t total = 0;
    ssize_t n;
    while ((n = stream_write(&a, chunk, sizeof(chunk))) > 0)
        total += (size_t)n;
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(a.last_errno, EAGAIN);
    ck_assert_uint_gt(total, 0);

    /* draining the peer makes it writable again */
    size_t got = 0;
    while ((n = stream_read(&b, chunk, sizeof(chunk))) > 0)
        got += (size_t)n;
    ck_assert_int_eq(b.last_errno, EAGAIN);
    ck_assert_uint_eq(got, total);
    ck_assert_int_eq(stream_write(&a, "x", 1), 1);
}
END_TEST

START_TEST(test_shutdown_gives_eof)
{
    ck_assert_int_eq(stream_write(&a, "last", 4), 4);
    ck_assert_int_eq(stream_shutdown(&a), 0);
    char tmp[16];
    ck_assert_int_eq(stream_read(&b, tmp, sizeof(tmp)), 4);
    ck_assert_int_eq(stream_read(&b, tmp, sizeof(tmp)), 0);
    /* only the write side ended: a can still read */
    ck_assert_int_eq(stream_write(&b, "ok", 2), 2);
    ck_assert_int_eq(stream_read(&a, tmp, sizeof(tmp)), 2);
    /* after shutdown, writes fail with EPIPE and no signal */
    ck_assert_int_eq(stream_write(&a, "x", 1), -1);
    ck_assert_int_eq(a.last_errno, EPIPE);
}
END_TEST

START_TEST(test_peer_closed)
{
    stream_close(&b);
    ck_assert_int_eq(b.fd, -1);
    stream_close(&b); /* twice is harmless */
    char tmp[4];
    ck_assert_int_eq(stream_read(&a, tmp, sizeof(tmp)), 0);
    ck_assert_int_eq(stream_write(&a, "x", 1), -1);
    ck_assert_int_eq(a.last_errno, EPIPE);
    ck_assert_int_eq(stream_shutdown(&a), 0);
}
END_TEST

START_TEST(test_sendfile)
{
    char path[] = "/tmp/test_stream_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));

    /* from an offset, in pieces, reading as the socket fills */
    off_t off = 100;
    char *got = malloc(sizeof(data));
    size_t have = 0;
    while (off < (off_t)sizeof(data)) {
        ssize_t n = a.ops->sendfile(&a, fd, &off, 3000);
        if (n < 0) {
            ck_assert_int_eq(a.last_errno, EAGAIN);
        } else {
            ck_assert_int_gt(n, 0);
            ck_assert_int_le(n, 3000);
        }
        ssize_t r;
        while ((r = stream_read(&b, got + have, sizeof(data) - have)) > 0)
            have += (size_t)r;
    }
    ck_assert_uint_eq(have, sizeof(data) - 100);
    ck_assert_mem_eq(got, data + 100, have);
    /* at the end of the file there is nothing more */
    ck_assert_int_eq(a.ops->sendfile(&a, fd, &off, 3000), 0);
    free(got);

    /* a bad input fd is reported through last_errno */
    off = 0;
    ck_assert_int_eq(a.ops->sendfile(&a, -1, &off, 10), -1);
    ck_assert_int_eq(a.last_errno, EBADF);
    close(fd);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("plain");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_init);
    tcase_add_test(tc, test_write_read);
    tcase_add_test(tc, test_eagain);
    tcase_add_test(tc, test_shutdown_gives_eof);
    tcase_add_test(tc, test_peer_closed);
    tcase_add_test(tc, test_sendfile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
