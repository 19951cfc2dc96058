/* Check suite for ftpd/dirlist: NLST/LIST/MLSD lines of a directory in name order, dot files
 * out of LIST unless asked for and the server's own files out of every listing, a file listing
 * as itself, wildcard listings that name each match with the client's own prefix, a large
 * directory produced through a small buffer, and a huge one in bounded runs; recursive
 * listings (LIST -R) in ls -R's order, links not entered, the depth limit noted. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dirlist.h"
#include "listfmt.h"
#include "users.h"
#include "vfs.h"

static char base[PATH_MAX];
static vfs v;

static void touch(const char *rel, const char *content)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void mkd(const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/test_dirlist_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_int_eq(vfs_open_root(&v, base), 0);
    touch("b.txt", "bb");
    touch("a.txt", "a");
    touch("c.bin", "ccc");
    touch(".hidden", "h");
    touch(".ftpd-partial.a.txt", "internal");
    mkd("sub");
    touch("sub/x.txt", "x");
    touch("sub/y.dat", "y");
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    vfs_close(&v);
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every line of a listing, produced through a buffer of `cap` bytes. */
static char *all_lines(dirlist *d, size_t cap)
{
    ck_assert_ptr_nonnull(d);
    size_t size = 0, len = 0;
    char *out = NULL;
    buf b;
    buf_init(&b, cap);
    int more;
    do {
        more = dirlist_fill(d, &b);
        size_t n = buf_len(&b);
        ck_assert_uint_le(n, cap);
        out = realloc(out, size = size + n + 1);
        ck_assert_ptr_nonnull(out);
        memcpy(out + len, buf_head(&b), n);
        len += n;
        buf_clear(&b);
    } while (more);
    out[len] = '\0';
    buf_free(&b);
    dirlist_free(d);
    return out;
}

START_TEST(test_names_sorted_internal_never_shown)
{
    /* NLST gives every name, dot files too, in byte order; the server's own files never. */
    char *s = all_lines(dirlist_open(&v, "/", DL_NLST, PERM_DEFAULT, 0, false), 4096);
    ck_assert_str_eq(s, ".hidden\r\na.txt\r\nb.txt\r\nc.bin\r\nsub\r\n");
    free(s);
    /* LIST hides dot files, as ls does, unless asked to show them (LIST -a). */
    s = all_lines(dirlist_open(&v, "/", DL_LIST, PERM_DEFAULT, 0, false), 4096);
    ck_assert_ptr_null(strstr(s, ".hidden"));
    ck_assert_ptr_nonnull(strstr(s, " a.txt\r\n"));
    free(s);
    s = all_lines(dirlist_open(&v, "/", DL_LIST, PERM_DEFAULT, 0, true), 4096);
    ck_assert_ptr_nonnull(strstr(s, " .hidden\r\n"));
    ck_assert_ptr_null(strstr(s, ".ftpd-"));
    free(s);
}
END_TEST

START_TEST(test_list_and_mlsd_lines)
{
    dirlist *d = dirlist_open(&v, "/sub", DL_LIST, PERM_DEFAULT, 0, false);
    ck_assert(dirlist_is_dir(d));
    char *s = all_lines(d, 4096);
    /* ls -l form: a mode string first, the name last. */
    ck_assert_msg(strncmp(s, "-rw-r--r-- ", 11) == 0, "%s", s);
    ck_assert_ptr_nonnull(strstr(s, " x.txt\r\n"));
    ck_assert(strstr(s, " x.txt\r\n") < strstr(s, " y.dat\r\n"));
    free(s);
    s = all_lines(dirlist_open(&v, "/", DL_MLSD, PERM_DEFAULT, MLSX_TYPE | MLSX_SIZE, false), 4096);
    ck_assert_ptr_nonnull(strstr(s, "type=file;size=2; b.txt\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "type=dir;"));
    free(s);
}
END_TEST

START_TEST(test_file_lists_as_itself)
{
    dirlist *d = dirlist_open(&v, "/sub/x.txt", DL_NLST, PERM_DEFAULT, 0, false);
    ck_assert_ptr_nonnull(d);
    ck_assert(!dirlist_is_dir(d));
    char *s = all_lines(d, 4096);
    ck_assert_ptr_nonnull(strstr(s, "x.txt\r\n"));
    free(s);
    errno = 0;
    ck_assert_ptr_null(dirlist_open(&v, "/sub/x.txt", DL_MLSD, PERM_DEFAULT, MLSX_ALL, false));
    ck_assert_int_eq(errno, ENOTDIR);
    errno = 0;
    ck_assert_ptr_null(dirlist_open(&v, "/nothing", DL_NLST, PERM_DEFAULT, 0, false));
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_glob)
{
    char *s = all_lines(dirlist_open_glob(&v, "/", "*.txt", "", DL_NLST, PERM_DEFAULT), 4096);
    ck_assert_str_eq(s, "a.txt\r\nb.txt\r\n");
    free(s);
    /* The client's directory part names each match, as its mget will fetch it. */
    s = all_lines(dirlist_open_glob(&v, "/sub", "?.*", "sub/", DL_NLST, PERM_DEFAULT), 4096);
    ck_assert_str_eq(s, "sub/x.txt\r\nsub/y.dat\r\n");
    free(s);
    s = all_lines(dirlist_open_glob(&v, "/", "[ac]*", "", DL_NLST, PERM_DEFAULT), 4096);
    ck_assert_str_eq(s, "a.txt\r\nc.bin\r\n");
    free(s);
    /* A leading dot only by a pattern that starts with one; internal names never. */
    s = all_lines(dirlist_open_glob(&v, "/", ".*", "", DL_NLST, PERM_DEFAULT), 4096);
    ck_assert_str_eq(s, ".hidden\r\n");
    free(s);
    errno = 0;
    ck_assert_ptr_null(dirlist_open_glob(&v, "/", "*.none", "", DL_NLST, PERM_DEFAULT));
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_large_directory_small_buffer)
{
    mkd("many");
    char rel[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(rel, sizeof rel, "many/f%05d", i);
        touch(rel, "");
    }
    char *s = all_lines(dirlist_open(&v, "/many", DL_LIST, PERM_DEFAULT, 0, false), 512);
    int lines = 0;
    const char *prev = NULL;
    for (char *p = s; (p = strstr(p, "\r\n")) != NULL; p += 2) {
        lines++;
        /* Names ascend: f00000 before f00001 ... */
        char *name = p;
        while (name > s && name[-1] != ' ')
            name--;
        if (prev)
            ck_assert_int_lt(strncmp(prev, name, 6), 0);
        prev = name;
    }
    ck_assert_int_eq(lines, 3000);
    free(s);
}
END_TEST

/* A directory whose names take more than one run lists every entry exactly once, in runs
 * each in name order, rather than holding all its names at once. */
START_TEST(test_huge_directory_lists_in_runs)
{
    enum { FILES = 9000, NAME = 250 };
    mkd("huge");
    char rel[NAME + 16], pad[NAME];
    memset(pad, 'x', sizeof pad);
    for (int i = 0; i < FILES; i++) {
        /* out of order: a file system that lists in creation order must not list sorted */
        snprintf(rel, sizeof rel, "huge/%05d%.*s", i * 7919 % FILES, NAME - 5, pad);
        touch(rel, "");
    }
    /* Twice the run's size in names alone: at least two runs. */
    ck_assert_int_gt(FILES * (NAME + 1), 2 * DIRLIST_RUN_BYTES);
    for (int glob = 0; glob < 2; glob++) {
        dirlist *d = glob ? dirlist_open_glob(&v, "/huge", "[01]*", "", DL_NLST, PERM_DEFAULT)
                          : dirlist_open(&v, "/huge", DL_NLST, PERM_DEFAULT, 0, false);
        char *s = all_lines(d, 64 * 1024);
        static bool seen[FILES];
        memset(seen, 0, sizeof seen);
        int lines = 0, descents = 0, prev = -1;
        /* Not strstr: under ASan it measures the whole rest of the text at every line. */
        for (char *p = s, *e; *(e = p + strcspn(p, "\r")) == '\r'; p = e + 2) {
            ck_assert_int_eq(e - p, NAME);
            int i = -1;
            ck_assert_int_eq(sscanf(p, "%5d", &i), 1);
            ck_assert(i >= 0 && i < FILES);
            ck_assert_msg(!seen[i], "%d listed twice", i);
            seen[i] = true;
            descents += i < prev;
            prev = i;
            lines++;
        }
        ck_assert_int_eq(lines, FILES);
        ck_assert_int_ge(descents, 1);
        free(s);
    }
}
END_TEST

START_TEST(test_recursive_through_a_small_buffer)
{
    /* ls -R's order through a buffer that takes a line or two at a time: a header that does
     * not fit waits for the next fill, whole. A link to a directory is listed, not entered. */
    mkd("sub/deeper");
    touch("sub/deeper/z", "z");
    ck_assert_int_eq(symlinkat("sub", v.root_fd, "lnk"), 0);
    dirlist *d = dirlist_open_recursive(&v, "/", ".", DL_NLST, PERM_DEFAULT, false);
    ck_assert_ptr_nonnull(d);
    ck_assert(!dirlist_in_memory(d)); /* a subdirectory may be a slower mount: off the loop */
    char *s = all_lines(d, 24);
    ck_assert_str_eq(s, ".hidden\r\na.txt\r\nb.txt\r\nc.bin\r\nlnk\r\nsub\r\nsub/deeper\r\n"
                        "sub/x.txt\r\nsub/y.dat\r\nsub/deeper/z\r\n");
    free(s);
    d = dirlist_open_recursive(&v, "/sub", "sub/", DL_LIST, PERM_DEFAULT, false);
    char note[256];
    ck_assert(!dirlist_note(d, note, sizeof note)); /* nothing left out */
    s = all_lines(d, 100);
    const char *head = strstr(s, " y.dat\r\n\r\nsub/deeper:\r\n-rw-r--r-- ");
    ck_assert_msg(head && strstr(s, " deeper\r\n") < head, "%s", s);
    ck_assert_msg(strncmp(s + strlen(s) - 4, " z\r\n", 4) == 0, "%s", s);
    free(s);
}
END_TEST

START_TEST(test_recursive_depth_limit_noted)
{
    char rel[256] = "sub";
    for (int i = 0; i <= DIRLIST_MAX_DEPTH; i++) {
        strcat(rel, "/d");
        mkd(rel);
    }
    dirlist *d = dirlist_open_recursive(&v, "/", ".", DL_NLST, PERM_DEFAULT, false);
    buf b;
    buf_init(&b, 1 << 16);
    ck_assert_int_eq(dirlist_fill(d, &b), 0);
    buf_append_all(&b, "", 1);
    /* sub is level 1, its d level 2 ... the d five levels down is listed, not entered */
    ck_assert_ptr_nonnull(strstr(buf_head(&b), "\nsub/d/d/d/d/d\r\n"));
    ck_assert_ptr_null(strstr(buf_head(&b), "sub/d/d/d/d/d/"));
    char note[256];
    ck_assert(dirlist_note(d, note, sizeof note));
    ck_assert_str_eq(note, "directories more than 5 levels down not listed");
    buf_free(&b);
    dirlist_free(d);
}
END_TEST

static Suite *dirlist_suite(void)
{
    Suite *s = suite_create("dirlist");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_names_sorted_internal_never_shown);
    tcase_add_test(tc, test_list_and_mlsd_lines);
    tcase_add_test(tc, test_file_lists_as_itself);
    tcase_add_test(tc, test_glob);
    tcase_add_test(tc, test_large_directory_small_buffer);
    tcase_add_test(tc, test_recursive_through_a_small_buffer);
    tcase_add_test(tc, test_recursive_depth_limit_noted);
    suite_add_tcase(s, tc);
    /* Thousands of files to make and remove: more than the default 4 s on a busy machine. */
    TCase *huge = tcase_create("huge");
    tcase_add_checked_fixture(huge, setup, teardown);
    tcase_set_timeout(huge, 60);
    tcase_add_test(huge, test_huge_directory_lists_in_runs);
    suite_add_tcase(s, huge);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dirlist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
