/* Check suite for ftpc/mirror: MLSD and LIST parsing (modes too), excludes, the transfer
 * decision. */
#include <check.h>
#include <string.h>
#include <time.h>

#include "mirror.h"
#include "mirror_modes.h"

static const ftpc_mentry *find(const ftpc_mtree *t, const char *rel)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].rel, rel) == 0)
            return &t->v[i];
    return NULL;
}

START_TEST(test_mlsd)
{
    const char *l = "type=cdir;modify=20200101000000; .\r\n"
                    "type=pdir; ..\r\n"
                    "type=file;size=123;modify=20240229123456.789;perm=r; a file.txt\r\n"
                    "Type=DIR;Modify=20230102030405; sub\r\n"
                    "type=OS.unix=symlink;size=3; link\r\n"
                    "type=file;size=7; bad/name\r\n"
                    "garbage\r\n"
                    "type=file;size=0; \r\n";
    ftpc_mtree t = {0};
    ck_assert_int_eq(ftpc_mirror_parse(l, strlen(l), true, 0, &t), 2);
    const ftpc_mentry *f = find(&t, "a file.txt");
    ck_assert_ptr_nonnull(f);
    ck_assert(!f->dir);
    ck_assert_int_eq(f->size, 123);
    ck_assert_int_eq(f->mtime, 1709210096); /* 2024-02-29 12:34:56 UTC */
    ck_assert_int_eq(f->prec, 1);
    const ftpc_mentry *d = find(&t, "sub");
    ck_assert_ptr_nonnull(d);
    ck_assert(d->dir);
    ck_assert_int_eq(d->mtime, 1672628645);
    ftpc_mtree_free(&t);
}
END_TEST

START_TEST(test_list)
{
    /* now: 2026-11-23 12:00 UTC */
    time_t now = 1795435200;
    const char *l = "total 12\n"
                    "-rw-r--r--    1 ftp      ftp        300000 Nov 23 10:05 a.bin\n"
                    "drwxr-xr-x    2 ftp      ftp          4096 Dec 24  2025 old dir\n"
                    "-rw-r--r--    1 1000     1000            5 Dec 31 23:59 last year\n"
                    "lrwxrwxrwx    1 ftp      ftp             4 Nov 23 10:05 ln -> a.bin\n"
                    "drwxr-xr-x    2 ftp      ftp          4096 Nov 23 10:05 .\n"
                    "-rw-r--r-- 1 owner 77 Jan  5  2020  two spaces\r\n";
    ftpc_mtree t = {0};
    ck_assert_int_eq(ftpc_mirror_parse(l, strlen(l), false, now, &t), 4);
    const ftpc_mentry *a = find(&t, "a.bin");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->size, 300000);
    ck_assert_int_eq(a->mtime, 1795428300); /* 2026-11-23 10:05 */
    ck_assert_int_eq(a->prec, 60);
    const ftpc_mentry *d = find(&t, "old dir");
    ck_assert_ptr_nonnull(d);
    ck_assert(d->dir);
    ck_assert_int_eq(d->mtime, 1766534400); /* 2025-12-24 */
    ck_assert_int_eq(d->prec, 86400);
    const ftpc_mentry *y = find(&t, "last year");
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->mtime, 1767225540); /* 2025-12-31 23:59 */
    const ftpc_mentry *s = find(&t, " two spaces");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->size, 77);
    ftpc_mtree_free(&t);
}
END_TEST

START_TEST(test_modes_from_listings)
{
    const char *mlsd = "type=file;size=1;UNIX.mode=0755; run.sh\r\n"
                       "type=file;size=1;unix.mode=4750; suid\r\n"
                       "type=dir;UNIX.mode=700; priv\r\n"
                       "type=file;size=1;UNIX.mode=0x1ff; odd\r\n"
                       "type=file;size=1; none\r\n";
    ftpc_mtree t = {0};
    ck_assert_int_eq(ftpc_mirror_parse(mlsd, strlen(mlsd), true, 0, &t), 5);
    ck_assert_int_eq(find(&t, "run.sh")->mode, 0755);
    ck_assert_int_eq(find(&t, "suid")->mode, 0750); /* never a set-ID bit */
    ck_assert_int_eq(find(&t, "priv")->mode, 0700);
    ck_assert_int_eq(find(&t, "odd")->mode, -1);
    ck_assert_int_eq(find(&t, "none")->mode, -1);
    ftpc_mtree_free(&t);
    const char *list = "-rwxr-x--x 1 ftp ftp 1 Jan  1  2025 x\n"
                       "-rw------- 1 ftp ftp 1 Jan  1  2025 secret\n"
                       "drwsr-S--T 2 ftp ftp 1 Jan  1  2025 special\n"
                       "-rw-r--r--+ 1 ftp ftp 1 Jan  1  2025 acl\n"
                       "-rwqr--r-- 1 ftp ftp 1 Jan  1  2025 odd\n";
    ck_assert_int_eq(ftpc_mirror_parse(list, strlen(list), false, 0, &t), 5);
    ck_assert_int_eq(find(&t, "x")->mode, 0751);
    ck_assert_int_eq(find(&t, "secret")->mode, 0600);
    ck_assert_int_eq(find(&t, "special")->mode, 0740);
    ck_assert_int_eq(find(&t, "acl")->mode, 0644);
    ck_assert_int_eq(find(&t, "odd")->mode, -1);
    ftpc_mtree_free(&t);
    ck_assert_int_eq(ftpc_mode_wanted(0755, 022), 0755);
    ck_assert_int_eq(ftpc_mode_wanted(0666, 027), 0640);
    ck_assert_int_eq(ftpc_mode_wanted(-1, 022), -1);
}
END_TEST

START_TEST(test_exclude)
{
    char *pats[] = {"*.log", "tmp", "a/b/*"};
    ck_assert(ftpc_mirror_excluded("x.log", pats, 3));
    ck_assert(ftpc_mirror_excluded("d/e/x.log", pats, 3));
    ck_assert(ftpc_mirror_excluded("d/tmp", pats, 3));
    ck_assert(ftpc_mirror_excluded("a/b/c", pats, 3));
    ck_assert(!ftpc_mirror_excluded("a/c", pats, 3));
    ck_assert(!ftpc_mirror_excluded("tmpx", pats, 3));
    ck_assert(!ftpc_mirror_excluded("x.log", pats, 0));
}
END_TEST

START_TEST(test_include)
{
    char *pats[] = {"*.iso", "photos", "a/b"};
    ck_assert(ftpc_mirror_included("x.iso", pats, 3));
    ck_assert(ftpc_mirror_included("d/e/x.iso", pats, 3));
    ck_assert(ftpc_mirror_included("photos/2026/x.jpg", pats, 3)); /* below a named dir */
    ck_assert(ftpc_mirror_included("d/photos/x.jpg", pats, 3));    /* by its name */
    ck_assert(ftpc_mirror_included("a/b/c/d.txt", pats, 3));       /* by its path */
    ck_assert(!ftpc_mirror_included("x/a/b/d.txt", pats, 3));      /* "a/b" is a path */
    ck_assert(!ftpc_mirror_included("photos.txt", pats, 3));
    ck_assert(!ftpc_mirror_included("d/x.isox", pats, 3));
    ck_assert(ftpc_mirror_included("anything", pats, 0)); /* no --include: every file */
}
END_TEST

START_TEST(test_want)
{
    ftpc_mentry src = {.size = 10, .mtime = 1000};
    ftpc_mentry same = {.size = 10, .mtime = 1000};
    ftpc_mentry older = {.size = 10, .mtime = 900};
    ftpc_mentry newer = {.size = 12, .mtime = 1100};
    ftpc_mentry other = {.size = 11, .mtime = 1000};
    ck_assert(ftpc_mirror_want(&src, NULL, false));
    ck_assert(ftpc_mirror_want(&src, NULL, true));
    ck_assert(!ftpc_mirror_want(&src, &same, false));
    ck_assert(!ftpc_mirror_want(&src, &same, true));
    ck_assert(ftpc_mirror_want(&src, &older, false));
    ck_assert(ftpc_mirror_want(&src, &older, true));
    ck_assert(ftpc_mirror_want(&src, &newer, false));
    ck_assert(!ftpc_mirror_want(&src, &newer, true));
    ck_assert(ftpc_mirror_want(&src, &other, false));
    ck_assert(ftpc_mirror_want(&src, &other, true));
}
END_TEST

START_TEST(test_put_want)
{
    const int64_t now = 100000;
    ftpc_mentry l = {.size = 10, .mtime = now - 500};
    ftpc_mentry up = {.size = 10, .mtime = now - 400, .prec = 1}; /* uploaded since */
    ftpc_mentry old = {.size = 10, .mtime = now - 600, .prec = 1};
    ftpc_mentry other = {.size = 11, .mtime = now - 400, .prec = 1};
    ftpc_mentry minute = {.size = 10, .mtime = now - 540, .prec = 60}; /* a LIST line's */
    ck_assert(ftpc_mirror_put_want(&l, NULL, false, now));
    ck_assert(!ftpc_mirror_put_want(&l, &up, false, now));
    ck_assert(ftpc_mirror_put_want(&l, &old, false, now));
    ck_assert(ftpc_mirror_put_want(&l, &other, false, now));
    ck_assert(!ftpc_mirror_put_want(&l, &minute, false, now));
    ck_assert(!ftpc_mirror_put_want(&l, &other, true, now)); /* --only-newer: older here */
    /* a local time in the future against an upload's (the server set none): the time the
     * file last changed here decides, with the listing's precision */
    ftpc_mentry fut = {.size = 10, .mtime = now + 3600, .ctime = now - 500};
    ck_assert(!ftpc_mirror_put_want(&fut, &up, false, now));
    ck_assert(!ftpc_mirror_put_want(&fut, &up, true, now));
    ck_assert(ftpc_mirror_put_want(&fut, &other, false, now));
    ck_assert(!ftpc_mirror_put_want(&fut, &other, true, now)); /* changed before the upload */
    ck_assert(!ftpc_mirror_put_want(&fut, &minute, false, now));
    /* ... changed here since the upload (cp -p, tar over it): sent though the size is same */
    ftpc_mentry fut_changed = {.size = 10, .mtime = now + 3600, .ctime = now - 300};
    ck_assert(ftpc_mirror_put_want(&fut_changed, &up, false, now));
    ck_assert(ftpc_mirror_put_want(&fut_changed, &up, true, now));
    ck_assert(ftpc_mirror_put_want(&fut_changed, &minute, false, now));
    ftpc_mentry in_minute = {.size = 10, .mtime = now + 3600, .ctime = now - 481};
    ck_assert(!ftpc_mirror_put_want(&in_minute, &minute, false, now)); /* within its 60 s */
    /* ... with no ctime known, only the sizes tell */
    ftpc_mentry fut_unknown = {.size = 10, .mtime = now + 3600, .ctime = -1};
    ck_assert(!ftpc_mirror_put_want(&fut_unknown, &old, false, now));
    ck_assert(ftpc_mirror_put_want(&fut_unknown, &other, false, now));
    /* ... but the server's time in the future too was set from ours (MFMT): compared */
    ftpc_mentry set = {.size = 10, .mtime = now + 3600, .prec = 1};
    ftpc_mentry set_before = {.size = 10, .mtime = now + 60, .prec = 1};
    ck_assert(!ftpc_mirror_put_want(&fut, &set, false, now));
    ck_assert(ftpc_mirror_put_want(&fut, &set_before, false, now));
    /* once that time has come, the upload's time is older: sent once more */
    ck_assert(ftpc_mirror_put_want(&fut, &up, false, now + 3600));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ftpc_mirror");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mlsd);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_modes_from_listings);
    tcase_add_test(tc, test_exclude);
    tcase_add_test(tc, test_include);
    tcase_add_test(tc, test_want);
    tcase_add_test(tc, test_put_want);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
