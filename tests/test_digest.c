/* Check suite for common/digest: the three algorithms against published test vectors, names
 * as the HASH command spells them, data fed in pieces, and file ranges read in budgets. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"

static void hex_of(digest_algo a, const char *s, char *hex)
{
    digest d;
    ck_assert_int_eq(digest_init(&d, a), 0);
    ck_assert_int_eq(digest_update(&d, s, strlen(s)), 0);
    ck_assert_int_eq(digest_final_hex(&d, hex), 0);
    ck_assert_ptr_null(d.ctx);
}

START_TEST(test_known_vectors)
{
    char hex[DIGEST_HEX_MAX];
    /* FIPS 180-2 and RFC 1321 examples. */
    hex_of(DIGEST_SHA256, "abc", hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of(DIGEST_SHA1, "abc", hex);
    ck_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    digest probe;
    if (digest_init(&probe, DIGEST_MD5) == 0) { /* a FIPS provider refuses MD5 (EINVAL) */
        digest_free(&probe);
        hex_of(DIGEST_MD5, "abc", hex);
        ck_assert_str_eq(hex, "900150983cd24fb0d6963f7d28e17f72");
    } else {
        ck_assert_int_eq(errno, EINVAL);
    }
    hex_of(DIGEST_SHA256, "", hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(digest_name(DIGEST_SHA256), "SHA-256");
    ck_assert_str_eq(digest_name(DIGEST_SHA1), "SHA-1");
    ck_assert_str_eq(digest_name(DIGEST_MD5), "MD5");
    ck_assert_ptr_null(digest_name((digest_algo)DIGEST_COUNT));
    ck_assert_int_eq(digest_from_name("sha-256"), DIGEST_SHA256);
    ck_assert_int_eq(digest_from_name("SHA-1"), DIGEST_SHA1);
    ck_assert_int_eq(digest_from_name("md5"), DIGEST_MD5);
    ck_assert_int_eq(digest_from_name("SHA256"), -1); /* not the registry's spelling */
    ck_assert_int_eq(digest_from_name(""), -1);

    digest d;
    errno = 0;
    ck_assert_int_eq(digest_init(&d, (digest_algo)7), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(d.ctx);
    /* Using a digest that never started fails cleanly, and freeing it twice is harmless. */
    char hex[DIGEST_HEX_MAX];
    ck_assert_int_eq(digest_update(&d, "x", 1), -1);
    ck_assert_int_eq(digest_final_hex(&d, hex), -1);
    digest_free(&d);
    digest_free(&d);
}
END_TEST

START_TEST(test_pieces_equal_whole)
{
    static char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 131 + 7);
    char whole[DIGEST_HEX_MAX], pieces[DIGEST_HEX_MAX];
    digest d;
    ck_assert_int_eq(digest_init(&d, DIGEST_SHA256), 0);
    ck_assert_int_eq(digest_update(&d, data, sizeof data), 0);
    ck_assert_int_eq(digest_final_hex(&d, whole), 0);
    ck_assert_int_eq(digest_init(&d, DIGEST_SHA256), 0);
    for (size_t off = 0, step = 1; off < sizeof data; off += step, step = step * 3 + 1) {
        size_t n = step < sizeof data - off ? step : sizeof data - off;
        ck_assert_int_eq(digest_update(&d, data + off, n), 0);
    }
    ck_assert_int_eq(digest_final_hex(&d, pieces), 0);
    ck_assert_str_eq(whole, pieces);
    ck_assert_uint_eq(strlen(whole), 64);
}
END_TEST

START_TEST(test_fd_range_in_budgets)
{
    char path[] = "/tmp/test_digest_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    static char data[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i ^ (i >> 8));
    ck_assert_int_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);

    /* Bytes 1000..59999 of the file, 7000 at a time through a 4 KiB buffer. */
    char want[DIGEST_HEX_MAX], got[DIGEST_HEX_MAX], buf[4096];
    digest d;
    ck_assert_int_eq(digest_init(&d, DIGEST_SHA1), 0);
    ck_assert_int_eq(digest_update(&d, data + 1000, 59000), 0);
    ck_assert_int_eq(digest_final_hex(&d, want), 0);
    ck_assert_int_eq(digest_init(&d, DIGEST_SHA1), 0);
    off_t pos = 1000;
    int rc, calls = 0;
    while ((rc = digest_fd_range(&d, fd, &pos, 59999, 7000, buf, sizeof buf)) == 0)
        calls++;
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(calls, 8); /* 59000 bytes at 7000 a call: eight full budgets, then the end */
    ck_assert_int_eq(pos, 60000);
    ck_assert_int_eq(digest_final_hex(&d, got), 0);
    ck_assert_str_eq(want, got);

    /* A range past the end of the file: the file shrank. */
    ck_assert_int_eq(digest_init(&d, DIGEST_MD5), 0);
    pos = 69000;
    errno = 0;
    ck_assert_int_eq(digest_fd_range(&d, fd, &pos, 80000, 1 << 20, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, ENODATA);
    ck_assert_int_eq(pos, 70000);
    digest_free(&d);
    close(fd);
}
END_TEST

static Suite *digest_suite(void)
{
    Suite *s = suite_create("digest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_known_vectors);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_pieces_equal_whole);
    tcase_add_test(tc, test_fd_range_in_budgets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(digest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
