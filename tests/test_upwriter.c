/* Upload writers: bytes from a loopback TCP socket land in a file on a writer thread, the
 * result comes back on the loop, and a failed write leaves nothing behind for the next move. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "upwriter.h"

static ev_loop *L;
static int g_send_fd = -1; /* the client's end: blocking */
static int g_recv_fd = -1; /* the server's end: non-blocking, as ftpd's data sockets */

typedef struct outcome {
    int calls;
    void *ctx;
    unsigned long tag;
    upwrite_result r;
} outcome;

static void on_done(void *ctx, unsigned long tag, const upwrite_result *r)
{
    outcome *o = ctx;
    o->calls++;
    o->ctx = ctx;
    o->tag = tag;
    o->r = *r;
}

static void tcp_pair(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    g_send_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(g_send_fd, 0);
    ck_assert_int_eq(connect(g_send_fd, (struct sockaddr *)&a, sizeof a), 0);
    g_recv_fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ck_assert_int_ge(g_recv_fd, 0);
    close(lfd);
}

static void setup(void)
{
    L = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(L);
    tcp_pair();
}

static void teardown(void)
{
    if (g_send_fd >= 0)
        close(g_send_fd);
    if (g_recv_fd >= 0)
        close(g_recv_fd);
    g_send_fd = g_recv_fd = -1;
    ev_loop_free(L);
    L = NULL;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31u + seed * 7u + (i >> 9)) & 0xff);
}

static void send_all(const unsigned char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(g_send_fd, p + off, n - off, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
}

/* Loopback delivers what send() returned at once; a short pause covers a busy machine. */
static void wait_readable(size_t want)
{
    for (int i = 0; i < 200; i++) {
        int n = 0;
        if (ioctl(g_recv_fd, FIONREAD, &n) == 0 && (size_t)n >= want)
            return;
        usleep(5000);
    }
}

static int temp_file(void)
{
    char path[] = "/tmp/test_upwriter_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

static void run_until(const outcome *o, int calls)
{
    for (int i = 0; i < 1000 && o->calls < calls; i++)
        ck_assert_int_ge(ev_run_once(L, 100), 0);
    ck_assert_int_eq(o->calls, calls);
}

static void assert_file(int fd, const unsigned char *want, size_t n)
{
    unsigned char *got = malloc(n + 1);
    ck_assert_ptr_nonnull(got);
    ssize_t r = pread(fd, got, n + 1, 0);
    ck_assert_int_eq(r, (ssize_t)n);
    ck_assert(memcmp(got, want, n) == 0);
    free(got);
}

START_TEST(moves_everything_then_sees_the_end)
{
    size_t n = 200 * 1024;
    unsigned char *data = malloc(n);
    fill(data, n, 1);
    send_all(data, n);
    shutdown(g_send_fd, SHUT_WR);
    wait_readable(n);
    int file = temp_file();
    upwriter *w = upwriter_new(L, 2);
    ck_assert_ptr_nonnull(w);
    outcome o = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, 4 << 20, on_done, &o, 77), 0);
    run_until(&o, 1);
    ck_assert_ptr_eq(o.ctx, &o);
    ck_assert_uint_eq(o.tag, 77);
    ck_assert_uint_eq(o.r.moved, n);
    ck_assert(o.r.eof);
    ck_assert_int_eq(o.r.err, 0);
    assert_file(file, data, n);
    upwriter_free(w);
    close(file);
    free(data);
}
END_TEST

/* A move stops at its limit, the next one takes the rest, and an empty socket ends a move
 * without an error: the caller then waits for the socket to turn readable. */
START_TEST(stops_at_max_and_at_no_data)
{
    size_t n = 100 * 1024, max = 64 * 1024;
    unsigned char *data = malloc(n);
    fill(data, n, 2);
    send_all(data, n);
    wait_readable(n);
    int file = temp_file();
    upwriter *w = upwriter_new(L, 1);
    ck_assert_ptr_nonnull(w);
    outcome a = {0}, b = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, max, on_done, &a, 1), 0);
    run_until(&a, 1);
    ck_assert_uint_eq(a.r.moved, max);
    ck_assert(!a.r.eof);
    ck_assert_int_eq(a.r.err, 0);
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, max, on_done, &b, 2), 0);
    run_until(&b, 1);
    ck_assert_uint_eq(b.r.moved, n - max);
    ck_assert(!b.r.eof);
    ck_assert_int_eq(b.r.err, 0);
    assert_file(file, data, n);
    upwriter_free(w);
    close(file);
    free(data);
}
END_TEST

/* The caller may close its descriptors as soon as the move is queued (a session that ends):
 * the writer works on its own duplicates and the bytes still reach the file. */
START_TEST(caller_may_close_its_fds)
{
    size_t n = 96 * 1024;
    unsigned char *data = malloc(n);
    fill(data, n, 3);
    send_all(data, n);
    shutdown(g_send_fd, SHUT_WR);
    wait_readable(n);
    int file = temp_file();
    int file_copy = dup(file);
    upwriter *w = upwriter_new(L, 1);
    ck_assert_ptr_nonnull(w);
    outcome o = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, 1 << 20, on_done, &o, 3), 0);
    close(g_recv_fd);
    g_recv_fd = -1;
    close(file);
    run_until(&o, 1);
    ck_assert_uint_eq(o.r.moved, n);
    ck_assert(o.r.eof);
    assert_file(file_copy, data, n);
    upwriter_free(w);
    close(file_copy);
    free(data);
}
END_TEST

/* A file that refuses the bytes is the file's error, and the bytes stuck in the writer's pipe
 * must not reach the next upload the same writer serves. */
START_TEST(file_error_leaves_no_stale_bytes)
{
    size_t n = 64 * 1024;
    unsigned char *first = malloc(n), *second = malloc(n);
    fill(first, n, 4);
    fill(second, n, 5);
    send_all(first, n);
    wait_readable(n);
    int file = temp_file();
    int ro = open("/dev/null", O_RDONLY | O_CLOEXEC); /* writes fail with EBADF */
    ck_assert_int_ge(ro, 0);
    upwriter *w = upwriter_new(L, 1); /* one thread: both moves use the same pipe */
    ck_assert_ptr_nonnull(w);
    outcome a = {0}, b = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, ro, 1 << 20, on_done, &a, 4), 0);
    run_until(&a, 1);
    ck_assert_int_ne(a.r.err, 0);
    ck_assert(a.r.file_err);
    send_all(second, n);
    shutdown(g_send_fd, SHUT_WR);
    wait_readable(1);
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, 1 << 20, on_done, &b, 5), 0);
    run_until(&b, 1);
    ck_assert_int_eq(b.r.err, 0);
    ck_assert(b.r.eof);
    /* what the failed move took from the socket is gone; the rest is the second block */
    unsigned char *got = malloc(2 * n);
    ssize_t r = pread(file, got, 2 * n, 0);
    ck_assert_int_eq(r, (ssize_t)b.r.moved);
    ck_assert_int_le(r, (ssize_t)(2 * n));
    ck_assert(memcmp(got + r - (ssize_t)n, second, n) == 0);
    upwriter_free(w);
    close(ro);
    close(file);
    free(got);
    free(first);
    free(second);
}
END_TEST

/* A reset connection is the socket's error, not the file's. */
START_TEST(socket_error_is_not_a_file_error)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(setsockopt(g_send_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(g_send_fd); /* RST */
    g_send_fd = -1;
    usleep(20000);
    int file = temp_file();
    upwriter *w = upwriter_new(L, 1);
    ck_assert_ptr_nonnull(w);
    outcome o = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, 1 << 20, on_done, &o, 6), 0);
    run_until(&o, 1);
    ck_assert_int_eq(o.r.err, ECONNRESET);
    ck_assert(!o.r.file_err);
    ck_assert_uint_eq(o.r.moved, 0);
    upwriter_free(w);
    close(file);
}
END_TEST

/* Freeing the writers with a move whose result was never delivered frees it too (ASan). */
START_TEST(free_with_undelivered_move)
{
    unsigned char data[4096];
    fill(data, sizeof data, 6);
    send_all(data, sizeof data);
    wait_readable(sizeof data);
    int file = temp_file();
    upwriter *w = upwriter_new(L, 1);
    ck_assert_ptr_nonnull(w);
    outcome o = {0};
    ck_assert_int_eq(upwriter_submit(w, g_recv_fd, file, 1 << 20, on_done, &o, 7), 0);
    usleep(50000);
    upwriter_free(w);
    ck_assert_int_eq(o.calls, 0);
    close(file);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upwriter");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, moves_everything_then_sees_the_end);
    tcase_add_test(tc, stops_at_max_and_at_no_data);
    tcase_add_test(tc, caller_may_close_its_fds);
    tcase_add_test(tc, file_error_leaves_no_stale_bytes);
    tcase_add_test(tc, socket_error_is_not_a_file_error);
    tcase_add_test(tc, free_with_undelivered_move);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
