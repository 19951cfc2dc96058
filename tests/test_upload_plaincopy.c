/* upload: the copy an APPE starts from, through the plain read/write loop (copy_file_range
 * refused, as on FUSE, CIFS or across devices), keeps holes and asks the file system where
 * they are only when it reaches a boundary: each lseek is a round trip on NFS 4.2 or FUSE.
 * This executable replaces copy_file_range and lseek for every module it links. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "upload.h"
#include "vfs.h"

#define MIB (1 << 20)

static int cfr_calls;
static int boundary_lseeks;

ssize_t copy_file_range(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len,
                        unsigned int flags)
{
    cfr_calls++;
    errno = EXDEV;
    return -1;
}

off_t lseek(int fd, off_t offset, int whence)
{
    if (whence == SEEK_DATA || whence == SEEK_HOLE)
        boundary_lseeks++;
    return (off_t)syscall(SYS_lseek, fd, offset, whence);
}

static char base[PATH_MAX];
static char rootdir[PATH_MAX + 16];
static vfs v;

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/test_upload_plaincopy.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(rootdir, sizeof(rootdir), "%s/root", base);
    ck_assert_int_eq(mkdir(rootdir, 0755), 0);
    ck_assert_int_eq(vfs_open_root(&v, rootdir), 0);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    vfs_close(&v);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void fill(int fd, char c, off_t at, size_t len)
{
    static char buf[MIB];
    memset(buf, c, len);
    ck_assert_int_eq(pwrite(fd, buf, len, at), (ssize_t)len);
}

static void expect(const char *buf, char c, size_t from, size_t len)
{
    for (size_t i = from; i < from + len; i++)
        if (buf[i] != c)
            ck_abort_msg("byte %zu is %d, not %d", i, buf[i], c);
}

START_TEST(test_plain_copy_asks_for_boundaries_once_each)
{
    /* 1 MiB of data, a 1 MiB hole, 1 MiB of data: 16 passes of the loop for each data part */
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/img", rootdir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    fill(fd, 'a', 0, MIB);
    fill(fd, 'b', 2 * MIB, MIB);
    close(fd);

    boundary_lseeks = cfr_calls = 0;
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/img", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 3 * MIB);
    ck_assert_int_ge(cfr_calls, 1); /* the plain loop did the copy */
    /* Per part at most SEEK_DATA and SEEK_HOLE, whatever the file system reports (one that
     * knows no holes: one part; one without SEEK_DATA: one failed call), never per pass. */
    ck_assert_int_le(boundary_lseeks, 6);
    ck_assert_int_eq(write(u.fd, "tail", 4), 4);
    ck_assert_int_eq(upload_commit(&u), 0);

    fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    char *buf = malloc(3 * MIB + 8);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(read(fd, buf, 3 * MIB + 8), 3 * MIB + 4);
    close(fd);
    expect(buf, 'a', 0, MIB);
    expect(buf, 0, MIB, MIB);
    expect(buf, 'b', 2 * MIB, MIB);
    ck_assert_int_eq(memcmp(buf + 3 * MIB, "tail", 4), 0);
    free(buf);
}
END_TEST

static Suite *plaincopy_suite(void)
{
    Suite *s = suite_create("upload_plaincopy");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plain_copy_asks_for_boundaries_once_each);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plaincopy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
