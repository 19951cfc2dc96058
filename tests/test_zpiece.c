/* Check suite for ftpd/zpiece (the worker's side of a MODE Z file download): a file deflated
 * piece by piece, each piece bounded, inflates to the file (from an offset, in TYPE A with
 * CRLFs split across reads); a piece stops at read_until, at the cancel flag, and at a file
 * that shrank; an unreadable file is an error. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "zpiece.h"

#define PIECE_CAP (128 * 1024)

/* A temporary file holding data[0..len); returns its fd (unlinked). */
static int temp_file(const char *data, size_t len)
{
    char name[] = "/tmp/test_zpiece_XXXXXX";
    int fd = mkstemp(name);
    ck_assert_int_ge(fd, 0);
    unlink(name);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    return fd;
}

/* Text that compresses (about 4:1), len bytes. */
static char *text(size_t len)
{
    static const char *words[] = {"transfer ", "server ", "deflate ", "the ",  "stream\n",
                                  "of ",       "bytes ",  "a\r\n",    "mode ", "z\n"};
    char *t = malloc(len);
    ck_assert_ptr_nonnull(t);
    unsigned s = 12345;
    size_t o = 0;
    while (o < len) {
        s = s * 1103515245 + 12345;
        const char *w = words[(s >> 16) % 10];
        for (size_t i = 0; w[i] && o < len; i++)
            t[o++] = w[i];
    }
    return t;
}

static void init_src(zpiece_src *p, int fd, off_t offset, off_t total, bool ascii, int level)
{
    mz z;
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, level), 0);
    ck_assert_int_eq(zpiece_init(p, fd, offset, total, ascii, &z), 0);
    ck_assert_ptr_null(z.zs); /* taken over */
}

/* Runs pieces until the stream ends; returns the inflated bytes (their count in *len) and
 * checks that no piece exceeded PIECE_CAP. */
static char *run_all(zpiece_src *p, size_t *len, int *pieces)
{
    z_stream zs = {0};
    ck_assert_int_eq(inflateInit(&zs), Z_OK);
    size_t cap = 1 << 20, n = 0;
    char *got = malloc(cap);
    buf out;
    buf_init(&out, PIECE_CAP);
    *pieces = 0;
    while (!p->ended) {
        ck_assert_int_lt(*pieces, 100000);
        zpiece_run(p, &out, NULL);
        ck_assert_int_eq(p->err, 0);
        ck_assert(!p->zerr);
        ck_assert_uint_le(buf_len(&out), PIECE_CAP);
        zs.next_in = (Bytef *)buf_head(&out);
        zs.avail_in = (uInt)buf_len(&out);
        while (zs.avail_in > 0) {
            if (cap - n < 65536) {
                cap *= 2;
                got = realloc(got, cap);
            }
            zs.next_out = (Bytef *)got + n;
            zs.avail_out = (uInt)(cap - n);
            int rc = inflate(&zs, Z_NO_FLUSH);
            ck_assert(rc == Z_OK || rc == Z_STREAM_END);
            n = (size_t)((char *)zs.next_out - got);
        }
        buf_clear(&out);
        (*pieces)++;
    }
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    inflateEnd(&zs);
    buf_free(&out);
    *len = n;
    return got;
}

START_TEST(test_binary_whole_and_from_an_offset)
{
    size_t size = 3 * 1024 * 1024 + 777;
    char *t = text(size);
    int fd = temp_file(t, size);
    off_t offsets[] = {0, 1, 1000003, (off_t)size - 1, (off_t)size};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        zpiece_src p;
        init_src(&p, fd, offsets[i], (off_t)size, false, 6);
        size_t len;
        int pieces;
        char *got = run_all(&p, &len, &pieces);
        ck_assert_uint_eq(len, size - (size_t)offsets[i]);
        ck_assert(memcmp(got, t + offsets[i], len) == 0);
        ck_assert_int_eq(p.done, (long long)len);
        ck_assert(p.eof);
        ck_assert_int_eq(p.offset, (off_t)size);
        if (offsets[i] == 0)
            ck_assert_int_ge(pieces, 3); /* 1 MiB of the file at most a piece */
        free(got);
        zpiece_free(&p);
    }
    close(fd);
    free(t);
}
END_TEST

/* TYPE A: LF -> CRLF except where a CR precedes it, across every read boundary and REST. */
START_TEST(test_ascii)
{
    size_t size = 200 * 1024 + 5;
    char *t = text(size);
    int fd = temp_file(t, size);
    off_t offsets[] = {0, 1, 32768, 32767, 100001};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        char *want = malloc(2 * size);
        size_t w = 0;
        for (size_t k = (size_t)offsets[i]; k < size; k++) {
            if (t[k] == '\n' && !(k > 0 && t[k - 1] == '\r'))
                want[w++] = '\r';
            want[w++] = t[k];
        }
        zpiece_src p;
        init_src(&p, fd, offsets[i], (off_t)size, true, 1);
        size_t len;
        int pieces;
        char *got = run_all(&p, &len, &pieces);
        ck_assert_uint_eq(len, w);
        ck_assert(memcmp(got, want, w) == 0);
        ck_assert_int_eq(p.done, (long long)w);
        free(got);
        free(want);
        zpiece_free(&p);
    }
    close(fd);
    free(t);
}
END_TEST

START_TEST(test_read_until_and_cancel)
{
    size_t size = 512 * 1024;
    char *t = text(size);
    int fd = temp_file(t, size);
    zpiece_src p;
    init_src(&p, fd, 0, (off_t)size, false, 1);
    buf out;
    buf_init(&out, PIECE_CAP);
    p.read_until = 1000;
    zpiece_run(&p, &out, NULL);
    ck_assert_int_eq(p.offset, 1000); /* no further than the window */
    ck_assert(!p.eof && !p.ended);
    ck_assert_int_eq(p.done, 1000);
    atomic_bool cancel;
    atomic_init(&cancel, true);
    p.read_until = (off_t)size;
    zpiece_run(&p, &out, &cancel);
    ck_assert_int_eq(p.offset, 1000); /* cancelled: nothing more read */
    buf_free(&out);
    zpiece_free(&p);
    close(fd);
    free(t);
}
END_TEST

/* The file is longer than the size the 150 announced (it grew) and the caller's window
 * reaches past that size: exactly total bytes are sent, as the stream mode sends them. */
START_TEST(test_file_grew)
{
    size_t size = 200 * 1024;
    char *t = text(size);
    int fd = temp_file(t, size);
    off_t total = 100 * 1024 + 7;
    zpiece_src p;
    for (int ascii = 0; ascii <= 1; ascii++) {
        init_src(&p, fd, 0, total, ascii, 6);
        p.read_until = (off_t)size + 4096;
        size_t len;
        int pieces;
        char *got = run_all(&p, &len, &pieces);
        ck_assert_int_eq(p.offset, total);
        ck_assert(p.eof);
        if (!ascii) {
            ck_assert_uint_eq(len, (size_t)total);
            ck_assert(memcmp(got, t, (size_t)total) == 0);
        } else {
            size_t bare_lf = 0;
            for (off_t i = 0; i < total; i++)
                bare_lf += t[i] == '\n' && !(i > 0 && t[i - 1] == '\r');
            ck_assert_uint_eq(len, (size_t)total + bare_lf);
        }
        free(got);
        zpiece_free(&p);
    }
    close(fd);
    free(t);
}
END_TEST

/* The file is shorter than the size the 150 announced: the stream ends with what there was,
 * eof set and offset short of total (the transfer then says the file shrank). */
START_TEST(test_file_shrank)
{
    size_t size = 100 * 1024;
    char *t = text(size);
    int fd = temp_file(t, size);
    zpiece_src p;
    init_src(&p, fd, 0, (off_t)size * 2, false, 6);
    size_t len;
    int pieces;
    char *got = run_all(&p, &len, &pieces);
    ck_assert_uint_eq(len, size);
    ck_assert(memcmp(got, t, size) == 0);
    ck_assert(p.eof);
    ck_assert_int_eq(p.offset, (off_t)size);
    free(got);
    zpiece_free(&p);
    close(fd);
    free(t);
}
END_TEST

START_TEST(test_read_error)
{
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    zpiece_src p;
    init_src(&p, fd, 0, 4096, false, 6);
    buf out;
    buf_init(&out, PIECE_CAP);
    zpiece_run(&p, &out, NULL);
    ck_assert_int_eq(p.err, EISDIR);
    ck_assert(!p.ended);
    buf_free(&out);
    zpiece_free(&p);
    close(fd);
}
END_TEST

static Suite *zpiece_suite(void)
{
    Suite *s = suite_create("zpiece");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_binary_whole_and_from_an_offset);
    tcase_add_test(tc, test_ascii);
    tcase_add_test(tc, test_read_until_and_cancel);
    tcase_add_test(tc, test_file_shrank);
    tcase_add_test(tc, test_file_grew);
    tcase_add_test(tc, test_read_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(zpiece_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
