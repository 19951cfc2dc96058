/* Check suite for common/buf. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

START_TEST(test_lazy_storage)
{
    buf b;
    buf_init(&b, 64);
    ck_assert_ptr_null(b.data);
    ck_assert(buf_empty(&b));
    ck_assert_uint_eq(buf_append(&b, "abc", 3), 3);
    ck_assert_ptr_nonnull(b.data);
    buf_trim(&b); /* not empty: keeps its storage */
    ck_assert_ptr_nonnull(b.data);
    buf_consume(&b, 3);
    ck_assert(buf_empty(&b));
    buf_trim(&b);
    ck_assert_ptr_null(b.data);
    /* still usable after trim and after free */
    ck_assert_int_eq(buf_append_all(&b, "xy", 2), 0);
    ck_assert_mem_eq(buf_head(&b), "xy", 2);
    buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert(buf_empty(&b));
    ck_assert_uint_eq(buf_append(&b, "z", 1), 1);
    ck_assert_mem_eq(buf_head(&b), "z", 1);
    buf_free(&b);
    buf_free(&b); /* idempotent */
}
END_TEST

START_TEST(test_append_bounds)
{
    buf b;
    buf_init(&b, 8);
    ck_assert_uint_eq(buf_append(&b, "0123456789", 10), 8);
    ck_assert(buf_full(&b));
    ck_assert_uint_eq(buf_append(&b, "x", 1), 0);
    ck_assert_mem_eq(buf_head(&b), "01234567", 8);
    buf_consume(&b, 5);
    ck_assert_uint_eq(buf_len(&b), 3);
    /* all or nothing */
    errno = 0;
    ck_assert_int_eq(buf_append_all(&b, "abcdef", 6), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&b), 3);
    /* fits only after compaction: the data must move, not be lost */
    ck_assert_int_eq(buf_append_all(&b, "abcde", 5), 0);
    ck_assert(buf_full(&b));
    ck_assert_mem_eq(buf_head(&b), "567abcde", 8);
    ck_assert_int_eq(buf_append_all(&b, "", 0), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_zero_cap)
{
    buf b;
    buf_init(&b, 0);
    size_t avail = 99;
    ck_assert(buf_full(&b));
    ck_assert_ptr_null(buf_tail(&b, &avail));
    ck_assert_uint_eq(avail, 0);
    ck_assert_uint_eq(buf_append(&b, "a", 1), 0);
    ck_assert_int_eq(buf_append_all(&b, "a", 1), -1);
    ck_assert_int_eq(buf_printf(&b, "%s", "a"), -1);
    ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
    ck_assert_ptr_null(b.data);
    buf_free(&b);
}
END_TEST

START_TEST(test_consume_rewinds)
{
    buf b;
    buf_init(&b, 16);
    buf_append(&b, "hello", 5);
    buf_consume(&b, 2);
    ck_assert_uint_eq(b.start, 2);
    buf_consume(&b, 3);
    ck_assert_uint_eq(b.start, 0);
    ck_assert_uint_eq(b.end, 0);
    buf_append(&b, "abc", 3);
    buf_clear(&b);
    ck_assert(buf_empty(&b));
    buf_free(&b);
}
END_TEST

START_TEST(test_tail_compaction_rule)
{
    buf b;
    size_t avail;
    char *p;
    buf_init(&b, 16);

    /* full at the tail, 10 bytes free at the head: compacts */
    buf_append(&b, "0123456789abcdef", 16);
    ck_assert_ptr_null(buf_tail(&b, &avail));
    ck_assert_uint_eq(avail, 0);
    buf_consume(&b, 10);
    p = buf_tail(&b, &avail);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(avail, 10);
    ck_assert_uint_eq(b.start, 0);
    ck_assert_mem_eq(buf_head(&b), "abcdef", 6);
    buf_clear(&b);

    /* tail 8 of 10 free: at least half, no memmove */
    buf_append(&b, "01234567", 8);
    buf_consume(&b, 2);
    p = buf_tail(&b, &avail);
    ck_assert_uint_eq(avail, 8);
    ck_assert_uint_eq(b.start, 2);
    ck_assert_ptr_eq(p, b.data + 8);
    buf_clear(&b);

    /* tail 4 of 9 free: less than half, compacts */
    buf_append(&b, "0123456789ab", 12);
    buf_consume(&b, 5);
    p = buf_tail(&b, &avail);
    ck_assert_uint_eq(avail, 9);
    ck_assert_uint_eq(b.start, 0);
    ck_assert_mem_eq(buf_head(&b), "56789ab", 7);
    memcpy(p, "XYZ", 3);
    buf_commit(&b, 3);
    ck_assert_uint_eq(buf_len(&b), 10);
    ck_assert_mem_eq(buf_head(&b), "56789abXYZ", 10);
    buf_clear(&b);

    /* one byte free, at the head: must not report 0 for a non-full buffer */
    buf_append(&b, "0123456789abcdef", 16);
    buf_consume(&b, 1);
    p = buf_tail(&b, &avail);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(avail, 1);
    buf_free(&b);
}
END_TEST

START_TEST(test_explicit_compact)
{
    buf b;
    buf_init(&b, 8);
    buf_compact(&b); /* no storage: harmless */
    buf_append(&b, "abcdef", 6);
    buf_consume(&b, 4);
    buf_compact(&b);
    ck_assert_uint_eq(b.start, 0);
    ck_assert_uint_eq(b.end, 2);
    ck_assert_mem_eq(buf_head(&b), "ef", 2);
    buf_free(&b);
}
END_TEST

START_TEST(test_printf)
{
    buf b;
    buf_init(&b, 8);
    ck_assert_int_eq(buf_printf(&b, "%d-%s", 12, "ab"), 5);
    ck_assert_mem_eq(buf_head(&b), "12-ab", 5);
    /* would not fit: nothing written */
    errno = 0;
    ck_assert_int_eq(buf_printf(&b, "%s", "wxyz"), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_uint_eq(buf_len(&b), 5);
    /* exactly fills the buffer: vsnprintf's NUL has no room */
    ck_assert_int_eq(buf_printf(&b, "%s", "xyz"), 3);
    ck_assert(buf_full(&b));
    ck_assert_mem_eq(buf_head(&b), "12-abxyz", 8);
    /* fits only after compaction */
    buf_consume(&b, 6);
    ck_assert_int_eq(buf_printf(&b, "%s", "012345"), 6);
    ck_assert_mem_eq(buf_head(&b), "yz012345", 8);
    buf_free(&b);

    /* long output into a large buffer, first use allocates */
    buf_init(&b, 4096);
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(buf_printf(&b, "<%s>", big), (int)sizeof(big) + 1);
    ck_assert_uint_eq(buf_len(&b), sizeof(big) + 1);
    buf_free(&b);
}
END_TEST

START_TEST(test_read_write_pipe)
{
    int pfd[2];
    ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
    buf b;
    buf_init(&b, 8);

    /* nothing to read yet */
    errno = 0;
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), -1);
    ck_assert_int_eq(errno, EAGAIN);

    ck_assert_int_eq(write(pfd[1], "0123456789", 10), 10);
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 3), 3);
    ck_assert_mem_eq(buf_head(&b), "012", 3);
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), 5); /* up to the bound */
    ck_assert(buf_full(&b));
    errno = 0;
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), -1);
    ck_assert_int_eq(errno, ENOBUFS);

    /* write() fallback: a pipe is not a socket */
    ck_assert_int_eq(buf_write_fd(&b, pfd[1], 2), 2);
    ck_assert_uint_eq(buf_len(&b), 6);
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), 2);
    ck_assert_mem_eq(buf_head(&b), "23456789", 8);
    buf_consume(&b, 6);
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), 2);
    ck_assert_mem_eq(buf_head(&b), "8901", 4);

    close(pfd[1]);
    buf_clear(&b);
    ck_assert_int_eq(buf_read_fd(&b, pfd[0], 0), 0); /* EOF */
    close(pfd[0]);

    /* empty buffer writes nothing */
    ck_assert_int_eq(buf_write_fd(&b, -1, 0), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_write_socket)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    buf b;
    buf_init(&b, 16);
    buf_append(&b, "hello world", 11);
    ck_assert_int_eq(buf_write_fd(&b, sv[0], 0), 11);
    ck_assert(buf_empty(&b));
    char tmp[32];
    ck_assert_int_eq(read(sv[1], tmp, sizeof(tmp)), 11);
    ck_assert_mem_eq(tmp, "hello world", 11);

    /* a closed peer gives EPIPE, not SIGPIPE */
    close(sv[1]);
    buf_append(&b, "x", 1);
    errno = 0;
    ck_assert_int_eq(buf_write_fd(&b, sv[0], 0), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_uint_eq(buf_len(&b), 1);
    close(sv[0]);
    buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_lazy_storage);
    tcase_add_test(tc, test_append_bounds);
    tcase_add_test(tc, test_zero_cap);
    tcase_add_test(tc, test_consume_rewinds);
    tcase_add_test(tc, test_tail_compaction_rule);
    tcase_add_test(tc, test_explicit_compact);
    tcase_add_test(tc, test_printf);
    tcase_add_test(tc, test_read_write_pipe);
    tcase_add_test(tc, test_write_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
