/* upload: written aside, renamed into place; partials kept and resumed. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upload.h"
#include "vfs.h"

static char base[PATH_MAX];
static char rootdir[PATH_MAX + 16];
static vfs v;

static void put_file(const char *rel, const char *content)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

/* The file's content as the server's clients see it, "" plus errno if it cannot be read. */
static const char *content(const char *rel)
{
    static char buf[1024];
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
    buf[0] = '\0';
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return "<missing>";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static bool exists(const char *rel)
{
    char p[PATH_MAX * 2];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
    return lstat(p, &st) == 0;
}

/* Number of internal (hidden) files in a directory of the root. */
static int internal_files(const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += vfs_is_internal_name(e->d_name);
    closedir(d);
    return n;
}

static void wr(upload *u, const char *s)
{
    ck_assert_int_eq(write(u->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/test_upload.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(rootdir, sizeof(rootdir), "%s/root", base);
    ck_assert_int_eq(mkdir(rootdir, 0755), 0);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/outside", base);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sub", rootdir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(vfs_open_root(&v, rootdir), 0);
    umask(022);
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

START_TEST(test_new_commit_atomic)
{
    upload u;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 1), 0);
    ck_assert_int_eq(u.offset, 0);
    ck_assert_str_eq(u.target, "f");
    ck_assert(vfs_is_internal_name(u.temp));
    wr(&u, "new data");
    /* Readers see the old version until the commit. */
    ck_assert_str_eq(content("f"), "old");
    ck_assert_int_eq(internal_files("."), 1);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "new data");
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_int_eq(u.fd, -1);
    ck_assert_int_eq(u.dir_fd, -1);

    /* A new file in a subdirectory. */
    ck_assert_int_eq(upload_begin(&u, &v, "/sub/g", UPLOAD_NEW, 0, 1), 0);
    wr(&u, "g");
    ck_assert(!exists("sub/g"));
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("sub/g"), "g");
}
END_TEST

START_TEST(test_abort_without_keep)
{
    upload u;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 7), 0);
    wr(&u, "partial data");
    upload_abort(&u, false);
    ck_assert_str_eq(content("f"), "old");
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
    upload_abort(&u, false); /* a second abort is harmless */
}
END_TEST

/* The detached descriptor of a dropped upload is its file, already gone from the directory:
 * closing it, wherever the caller does that, only frees the storage. */
START_TEST(test_abort_detach_hands_back_the_unlinked_file)
{
    upload u;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 7), 0);
    wr(&u, "partial data");
    int fd = upload_abort_detach(&u, false);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_nlink, 0);
    ck_assert_int_eq(st.st_size, 12);
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_str_eq(content("f"), "old");
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(upload_abort_detach(&u, false), -1); /* nothing more to hand back */

    /* A kept partial is closed at once: a resume claiming it must not wait for its lock. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 8), 0);
    wr(&u, "abcd");
    ck_assert_int_eq(upload_abort_detach(&u, true), -1);
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcd");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 4, 9), 0);
    ck_assert(u.claimed);
    upload_abort(&u, true);
}
END_TEST

START_TEST(test_abort_with_keep)
{
    upload u;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 7), 0);
    wr(&u, "abc");
    upload_abort(&u, true);
    ck_assert_str_eq(content("f"), "old");
    ck_assert_str_eq(content(".ftpd-partial.f"), "abc");
    ck_assert_int_eq(internal_files("."), 1);
    ck_assert_int_eq(upload_resume_size(&v, "/f"), 3);

    /* A newer failed upload replaces the older partial. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 8), 0);
    wr(&u, "abcdefg");
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcdefg");
    ck_assert_int_eq(internal_files("."), 1);

    /* Nothing received: nothing kept (and the older partial stays). */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 9), 0);
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcdefg");
    ck_assert_int_eq(internal_files("."), 1);

    /* A complete upload then removes it. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 10), 0);
    wr(&u, "whole");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "whole");
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

START_TEST(test_rest_from_partial)
{
    upload u;
    put_file("f", "old");
    put_file(".ftpd-partial.f", "abcdef");
    ck_assert_int_eq(upload_resume_size(&v, "/f"), 6);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 4, 1), 0);
    ck_assert_int_eq(u.offset, 4);
    ck_assert_int_eq(lseek(u.fd, 0, SEEK_CUR), 4);
    /* Claimed: no longer offered to anyone else. */
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
    wr(&u, "XY");
    ck_assert_str_eq(content("f"), "old");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "abcdXY");
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

/* REST at exactly the file's size, what SIZE told the client, means the file's bytes: a
 * partial that begins with other bytes is not what the rest is spliced onto; it is given back
 * whole, and the REST it was cut at still continues it. One that begins with the file's bytes
 * makes no difference, and is continued. */
START_TEST(test_rest_at_the_files_size)
{
    upload u;
    put_file("f", "old");
    put_file(".ftpd-partial.f", "abcdef");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 3, 1), -1);
    ck_assert_int_eq(errno, UPLOAD_OTHER_PARTIAL);
    ck_assert_str_eq(content("f"), "old");
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcdef");
    ck_assert_int_eq(internal_files("."), 1);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 6, 2), 0);
    wr(&u, "g");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "abcdefg");

    put_file("f", "abc");
    put_file(".ftpd-partial.f", "abcdef");
    ck_assert_int_eq(upload_begin_staged(&u, &v, "/f", UPLOAD_RESTART, 3, 3), 0);
    int r;
    while ((r = upload_copy_step(&u, 1)) == 0) /* a byte a slice */
        ;
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(lseek(u.fd, 0, SEEK_CUR), 3);
    wr(&u, "XY");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "abcXY");
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

START_TEST(test_rest_from_partial_fails_again)
{
    upload u;
    put_file(".ftpd-partial.f", "abcdef");
    /* The client resumed at SIZE, then its data connection never came: the partial must
     * survive the abort even though no byte arrived. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 6, 1), 0);
    upload_abort(&u, true);
    ck_assert_int_eq(upload_resume_size(&v, "/f"), 6);
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcdef");
    /* Resumed again, some bytes arrive, and it fails again: the partial grows. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 6, 2), 0);
    wr(&u, "gh");
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.f"), "abcdefgh");
    ck_assert(!exists("f"));
    ck_assert_int_eq(internal_files("."), 1);
}
END_TEST

START_TEST(test_appe_from_partial)
{
    upload u;
    put_file(".ftpd-partial.f", "abc"); /* the name's first upload never completed */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 3);
    ck_assert_int_eq(lseek(u.fd, 0, SEEK_CUR), 3);
    wr(&u, "def");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "abcdef");
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

/* APPE appends to the file that exists (what SIZE reports), not to a partial beside it; the
 * complete upload then supersedes the partial. */
START_TEST(test_appe_to_file_beside_partial)
{
    upload u;
    put_file("f", "old");
    put_file(".ftpd-partial.f", "abc");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 3);
    wr(&u, "def");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "olddef");
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

START_TEST(test_appe_from_target)
{
    upload u;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 3);
    wr(&u, "new");
    ck_assert_str_eq(content("f"), "old");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "oldnew");

    /* No target yet: starts empty. */
    ck_assert_int_eq(upload_begin(&u, &v, "/g", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 0);
    wr(&u, "first");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("g"), "first");
}
END_TEST

/* A staged APPE copies the target in steps; the file is whole only after the last. */
START_TEST(test_staged_copy_in_steps)
{
    put_file("s", "0123456789");
    upload u;
    ck_assert_int_eq(upload_begin_staged(&u, &v, "/s", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(u.offset, 10);
    int steps = 0, r;
    while ((r = upload_copy_step(&u, 4)) == 0)
        steps++;
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(steps, 2); /* 4 + 4 + 2 */
    ck_assert_int_eq(upload_copy_step(&u, 4), 1);
    wr(&u, "ab");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("s"), "0123456789ab");
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

/* The target shrinks between two steps: EINVAL, and aborting leaves the directory clean. */
START_TEST(test_staged_copy_of_a_shrinking_target)
{
    put_file("t", "0123456789");
    upload u;
    ck_assert_int_eq(upload_begin_staged(&u, &v, "/t", UPLOAD_RESTART, 8, 1), 0);
    ck_assert_int_eq(upload_copy_step(&u, 4), 0);
    put_file("t", "01");
    errno = 0;
    ck_assert_int_eq(upload_copy_step(&u, 4), -1);
    ck_assert_int_eq(errno, EINVAL);
    upload_abort(&u, true); /* a partial copy of the target is not worth keeping */
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_str_eq(content("t"), "01");
}
END_TEST

START_TEST(test_copied_prefix_alone_is_not_kept)
{
    /* APPE, or REST + STOR, copies the target's bytes first. Aborted before a byte of its
     * own arrived (ABOR before the data connection), that copy is no resume point: it goes. */
    upload u;
    put_file("f", "0123456789");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    upload_abort(&u, true);
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 4, 2), 0);
    upload_abort(&u, true);
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_str_eq(content("f"), "0123456789");

    /* One byte of its own makes it worth keeping. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 3), 0);
    wr(&u, "A");
    upload_abort(&u, true);
    ck_assert_str_eq(content(".ftpd-partial.f"), "0123456789A");
    ck_assert_int_eq(upload_resume_size(&v, "/f"), 11);
}
END_TEST

START_TEST(test_rest_from_target)
{
    upload u;
    put_file("f", "0123456789");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 4, 1), 0);
    ck_assert_int_eq(u.offset, 4);
    ck_assert_int_eq(lseek(u.fd, 0, SEEK_CUR), 4);
    wr(&u, "AB");
    ck_assert_str_eq(content("f"), "0123456789");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "0123AB");

    /* A partial too short for the offset is left alone; the target serves. */
    put_file("f", "0123456789");
    put_file(".ftpd-partial.f", "abc");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 5, 2), 0);
    wr(&u, "Z");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "01234Z");
    /* The complete upload superseded the partial. */
    ck_assert(!exists(".ftpd-partial.f"));
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);

    /* REST 0 is a new upload. */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 0, 3), 0);
    ck_assert_int_eq(u.offset, 0);
    wr(&u, "fresh");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("f"), "fresh");
}
END_TEST

START_TEST(test_large_copy)
{
    /* Several chunks' worth, copied exactly up to the offset. */
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/big", rootdir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 300000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/big", UPLOAD_RESTART, 200001, 1), 0);
    wr(&u, "!");
    ck_assert_int_eq(upload_commit(&u), 0);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 200002);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200001; i++)
        ck_assert_int_eq(fgetc(f), 'a' + i % 26);
    ck_assert_int_eq(fgetc(f), '!');
    fclose(f);
}
END_TEST

START_TEST(test_rest_beyond_size)
{
    upload u;
    put_file("f", "0123456789");
    errno = 0;
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 11, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(upload_begin(&u, &v, "/nothing", UPLOAD_RESTART, 1, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    put_file(".ftpd-partial.f", "abc");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 20, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, -1, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* Nothing left behind, nothing damaged. */
    ck_assert_str_eq(content("f"), "0123456789");
    ck_assert_str_eq(content(".ftpd-partial.f"), "abc");
    ck_assert_int_eq(internal_files("."), 1);
}
END_TEST

START_TEST(test_concurrent_uploads)
{
    upload a, b;
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&a, &v, "/f", UPLOAD_NEW, 0, 0x1), 0);
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_NEW, 0, 0x2), 0);
    ck_assert_str_ne(a.temp, b.temp);
    wr(&a, "from a");
    wr(&b, "from b");
    ck_assert_int_eq(internal_files("."), 2);
    ck_assert_int_eq(upload_commit(&a), 0);
    ck_assert_str_eq(content("f"), "from a");
    ck_assert_int_eq(upload_commit(&b), 0);
    ck_assert_str_eq(content("f"), "from b");
    ck_assert_int_eq(internal_files("."), 0);

    /* Two resumes race for one partial: exactly one gets it, and the other is told to try
     * again while it runs, rather than built on the file's bytes ("from b"). */
    put_file(".ftpd-partial.f", "abcde");
    ck_assert_int_eq(upload_begin(&a, &v, "/f", UPLOAD_RESTART, 5, 0x1), 0);
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_RESTART, 5, 0x2), -1);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(a.offset, 5);
    wr(&a, "g");
    ck_assert_int_eq(upload_commit(&a), 0);
    ck_assert_str_eq(content("f"), "abcdeg");
    /* Once it has ended, a resume builds on the file. */
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_RESTART, 5, 0x2), 0);
    wr(&b, "!");
    ck_assert_int_eq(upload_commit(&b), 0);
    ck_assert_str_eq(content("f"), "abcde!");
    ck_assert_int_eq(internal_files("."), 0);

    /* While a plain upload of a name runs, so is a REST onto the file, and an APPE that would
     * create the name; an APPE onto the file, and uploads of other names, go ahead. */
    ck_assert_int_eq(upload_begin(&a, &v, "/f", UPLOAD_NEW, 0, 0x1), 0);
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_RESTART, 3, 0x2), -1);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_APPEND, 0, 0x2), 0);
    upload_abort(&b, false);
    ck_assert_int_eq(upload_begin(&b, &v, "/g", UPLOAD_RESTART, 0, 0x2), 0);
    upload_abort(&b, false);
    ck_assert_int_eq(upload_begin(&b, &v, "/f2", UPLOAD_APPEND, 0, 0x2), 0);
    upload_abort(&b, false);
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/f", rootdir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(upload_begin(&b, &v, "/f", UPLOAD_APPEND, 0, 0x2), -1);
    ck_assert_int_eq(errno, EBUSY);
    upload_abort(&a, false);
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

START_TEST(test_resume_size)
{
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
    ck_assert_int_eq(upload_resume_size(&v, "/nodir/f"), -1);
    ck_assert_int_eq(upload_resume_size(&v, "/"), -1);
    put_file("sub/.ftpd-partial.f", "12345");
    ck_assert_int_eq(upload_resume_size(&v, "/sub/f"), 5);
    ck_assert_int_eq(upload_resume_size(&v, "/f"), -1);
}
END_TEST

START_TEST(test_bad_targets)
{
    upload u;
    errno = 0;
    ck_assert_int_eq(upload_begin(&u, &v, "/sub", UPLOAD_NEW, 0, 1), -1);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_int_eq(upload_begin(&u, &v, "/sub", UPLOAD_APPEND, 0, 1), -1);
    ck_assert_int_eq(errno, EISDIR);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/sublink", rootdir);
    ck_assert_int_eq(symlink("sub", p), 0);
    ck_assert_int_eq(upload_begin(&u, &v, "/sublink", UPLOAD_NEW, 0, 1), -1);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_int_eq(upload_begin(&u, &v, "/nodir/f", UPLOAD_NEW, 0, 1), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(upload_begin(&u, &v, "/", UPLOAD_NEW, 0, 1), -1);
    ck_assert_int_eq(errno, EINVAL);

    char name[260];
    name[0] = '/';
    memset(name + 1, 'n', 256);
    name[257] = '\0';
    ck_assert_int_eq(upload_begin(&u, &v, name, UPLOAD_NEW, 0, ~0UL), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    name[201] = '\0'; /* 200 bytes: its hidden names hold it, even with the longest tag */
    ck_assert_int_eq(upload_begin(&u, &v, name, UPLOAD_NEW, 0, ~0UL), 0);
    ck_assert_int_eq(strncmp(u.temp, ".ftpd-up.nnn", 12), 0);
    wr(&u, "x");
    upload_abort(&u, true);
    ck_assert_int_eq(upload_resume_size(&v, name), 1);
    ck_assert_int_eq(internal_files("."), 1);
}
END_TEST

/* Names of 201 to 255 bytes (70 CJK characters are 210) are uploaded, kept and resumed like
 * any other: their hidden names carry a digest of the name instead of the name. */
START_TEST(test_longest_names)
{
    upload u;
    char a[260], b[260];
    a[0] = b[0] = '/';
    memset(a + 1, 'a', 255);
    a[256] = '\0';
    memcpy(b, a, sizeof a);
    b[255] = 'b'; /* same length, last byte differs */
    ck_assert_int_eq(upload_begin(&u, &v, a, UPLOAD_NEW, 0, ~0UL), 0);
    ck_assert_int_eq(strncmp(u.temp, ".ftpd-up.#", 10), 0);
    ck_assert_uint_le(strlen(u.temp), 255);
    wr(&u, "first half");
    upload_abort(&u, true);
    ck_assert_int_eq(upload_resume_size(&v, a), 10);
    ck_assert_int_eq(upload_resume_size(&v, b), -1); /* another name: another partial */
    ck_assert_int_eq(upload_begin(&u, &v, a, UPLOAD_RESTART, 10, 2), 0);
    ck_assert(u.claimed);
    wr(&u, ", second");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content(a + 1), "first half, second");
    ck_assert_int_eq(internal_files("."), 0);

    ck_assert_int_eq(upload_begin(&u, &v, b, UPLOAD_NEW, 0, 3), 0);
    wr(&u, "b");
    upload_abort(&u, true);
    ck_assert_int_eq(upload_discard_partial(&v, b), 1);
    ck_assert_int_eq(internal_files("."), 0);
}
END_TEST

START_TEST(test_hidden_names)
{
    upload u;
    struct stat st;
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 0xab), 0);
    /* ".ftpd-up.", the target, '.', the process's salt and the session's tag in hex */
    ck_assert_uint_eq(strlen(u.temp), strlen(".ftpd-up.f.") + 8 + 2);
    ck_assert_int_eq(strncmp(u.temp, ".ftpd-up.f.", 11), 0);
    ck_assert_str_eq(u.temp + strlen(u.temp) - 2, "ab");
    wr(&u, "abc");
    char temp_path[320];
    snprintf(temp_path, sizeof temp_path, "/%s", u.temp);
    errno = 0;
    ck_assert_int_eq(vfs_open(&v, temp_path, O_RDONLY, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_stat(&v, temp_path, &st), -1);
    upload_abort(&u, true);
    ck_assert(exists(".ftpd-partial.f"));
    ck_assert_int_eq(vfs_open(&v, "/.ftpd-partial.f", O_RDONLY, 0), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(vfs_unlink(&v, "/.ftpd-partial.f"), -1);
    /* Nor can a client upload to an internal name. */
    ck_assert_int_eq(upload_begin(&u, &v, "/.ftpd-partial.f", UPLOAD_NEW, 0, 1), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(upload_begin(&u, &v, "/.ftpd-up.f.ab", UPLOAD_APPEND, 0, 1), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(upload_resume_size(&v, "/.ftpd-partial.f"), -1);
}
END_TEST

START_TEST(test_mode_kept)
{
    upload u;
    struct stat st;
    char p[PATH_MAX * 2];
    put_file("f", "old");
    snprintf(p, sizeof(p), "%s/f", rootdir);
    ck_assert_int_eq(chmod(p, 0600), 0);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 1), 0);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    /* Never setuid. */
    ck_assert_int_eq(chmod(p, 04755), 0);
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);
    /* New files: 0644 under umask 022. */
    ck_assert_int_eq(upload_begin(&u, &v, "/g", UPLOAD_NEW, 0, 1), 0);
    ck_assert_int_eq(upload_commit(&u), 0);
    snprintf(p, sizeof(p), "%s/g", rootdir);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0644);
}
END_TEST

START_TEST(test_symlink_target_stays_inside)
{
    upload u;
    char p[PATH_MAX * 2], outside[PATH_MAX * 2];
    snprintf(outside, sizeof(outside), "%s/outside/file", base);
    FILE *f = fopen(outside, "w");
    ck_assert_ptr_nonnull(f);
    fputs("outside", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/link", rootdir);
    ck_assert_int_eq(symlink("../outside/file", p), 0);
    /* Resuming would read outside the root: refused. */
    errno = 0;
    ck_assert_int_eq(upload_begin(&u, &v, "/link", UPLOAD_APPEND, 0, 1), -1);
    ck_assert_int_eq(errno, EACCES);
    ck_assert_int_eq(upload_begin(&u, &v, "/link", UPLOAD_RESTART, 3, 1), -1);
    ck_assert_int_eq(errno, EACCES);
    /* A new upload replaces the link itself; the outside file is untouched. */
    ck_assert_int_eq(upload_begin(&u, &v, "/link", UPLOAD_NEW, 0, 1), 0);
    wr(&u, "inside");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("link"), "inside");
    snprintf(p, sizeof(p), "%s/outside/file", base);
    f = fopen(p, "r");
    char buf[16] = {0};
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
    fclose(f);
    ck_assert_str_eq(buf, "outside");
}
END_TEST

START_TEST(test_commit_failure)
{
    upload u;
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_NEW, 0, 1), 0);
    wr(&u, "data");
    /* A directory appeared where the file was going. */
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/f", rootdir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    errno = 0;
    ck_assert_int_eq(upload_commit(&u), -1);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_int_eq(internal_files("."), 0);
    ck_assert_int_eq(u.fd, -1);
    ck_assert_int_eq(u.dir_fd, -1);
}
END_TEST

/* An upload that builds on what its name held (APPE, REST from the target, STOU) replaces
 * nothing when the name changed meanwhile: renaming over it would undo another session's
 * STOR, DELE or rename. */
START_TEST(test_guarded_commit_refuses_a_changed_target)
{
    upload u;
    char p[PATH_MAX * 2], q[PATH_MAX * 2];
    put_file("f", "old");
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_APPEND, 0, 1), 0);
    wr(&u, "new");
    put_file("other", "stored");
    snprintf(p, sizeof(p), "%s/other", rootdir);
    snprintf(q, sizeof(q), "%s/f", rootdir);
    ck_assert_int_eq(rename(p, q), 0); /* as a STOR's commit, or RNTO, would */
    errno = 0;
    ck_assert_int_eq(upload_commit(&u), -1);
    ck_assert_int_eq(errno, ESTALE);
    ck_assert_str_eq(content("f"), "stored");
    ck_assert_int_eq(internal_files("."), 0);

    /* deleted meanwhile: stays deleted */
    ck_assert_int_eq(upload_begin(&u, &v, "/f", UPLOAD_RESTART, 3, 1), 0);
    wr(&u, "more");
    ck_assert_int_eq(unlink(q), 0);
    ck_assert_int_eq(upload_commit(&u), -1);
    ck_assert_int_eq(errno, ESTALE);
    ck_assert(!exists("f"));

    /* an APPE that creates the file, and a STOU, never replace a file stored meanwhile */
    ck_assert_int_eq(upload_begin(&u, &v, "/g", UPLOAD_APPEND, 0, 1), 0);
    wr(&u, "appended");
    put_file("g", "first");
    ck_assert_int_eq(upload_commit(&u), -1);
    ck_assert_int_eq(errno, ESTALE);
    ck_assert_str_eq(content("g"), "first");
    ck_assert_int_eq(upload_begin(&u, &v, "/h", UPLOAD_UNIQUE, 0, 1), 0);
    wr(&u, "unique");
    put_file("h", "mine");
    ck_assert_int_eq(upload_commit(&u), -1);
    ck_assert_int_eq(errno, ESTALE);
    ck_assert_str_eq(content("h"), "mine");
    ck_assert_int_eq(upload_begin(&u, &v, "/i", UPLOAD_UNIQUE, 0, 1), 0);
    wr(&u, "unique");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("i"), "unique");
    ck_assert_int_eq(internal_files("."), 0);

    /* unchanged, through a symlink beneath the root: the append goes in */
    put_file("t", "old");
    snprintf(p, sizeof(p), "%s/ln", rootdir);
    ck_assert_int_eq(symlink("t", p), 0);
    ck_assert_int_eq(upload_begin(&u, &v, "/ln", UPLOAD_APPEND, 0, 1), 0);
    wr(&u, "new");
    ck_assert_int_eq(upload_commit(&u), 0);
    ck_assert_str_eq(content("ln"), "oldnew");
}
END_TEST

static Suite *upload_suite(void)
{
    Suite *s = suite_create("upload");
    TCase *tc = tcase_create("upload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_commit_atomic);
    tcase_add_test(tc, test_abort_without_keep);
    tcase_add_test(tc, test_abort_with_keep);
    tcase_add_test(tc, test_abort_detach_hands_back_the_unlinked_file);
    tcase_add_test(tc, test_copied_prefix_alone_is_not_kept);
    tcase_add_test(tc, test_staged_copy_in_steps);
    tcase_add_test(tc, test_staged_copy_of_a_shrinking_target);
    tcase_add_test(tc, test_rest_from_partial);
    tcase_add_test(tc, test_rest_at_the_files_size);
    tcase_add_test(tc, test_rest_from_partial_fails_again);
    tcase_add_test(tc, test_appe_from_partial);
    tcase_add_test(tc, test_appe_to_file_beside_partial);
    tcase_add_test(tc, test_appe_from_target);
    tcase_add_test(tc, test_rest_from_target);
    tcase_add_test(tc, test_large_copy);
    tcase_add_test(tc, test_rest_beyond_size);
    tcase_add_test(tc, test_concurrent_uploads);
    tcase_add_test(tc, test_resume_size);
    tcase_add_test(tc, test_bad_targets);
    tcase_add_test(tc, test_longest_names);
    tcase_add_test(tc, test_hidden_names);
    tcase_add_test(tc, test_mode_kept);
    tcase_add_test(tc, test_symlink_target_stays_inside);
    tcase_add_test(tc, test_commit_failure);
    tcase_add_test(tc, test_guarded_commit_refuses_a_changed_target);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(upload_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
