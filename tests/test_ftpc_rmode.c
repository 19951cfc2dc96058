/* Check suite for ftpc/rmode: a remote file's permission bits from MLST and STAT replies. */
#include <check.h>
#include <string.h>

#include "rmode.h"

START_TEST(test_mlst)
{
    /* ftpd's and pure-ftpd's replies, as the reply parser joins them (codes gone) */
    ck_assert_int_eq(ftpc_rmode_from_mlst("Listing a.bin\n type=file;size=3;modify=20261207014955;"
                                          "UNIX.mode=0604;UNIX.uid=999; a.bin\nEnd"),
                     0604);
    ck_assert_int_eq(ftpc_rmode_from_mlst("Begin\r\n Type=File;unix.mode=755; d/x y\r\nEnd."),
                     0755);
    /* the set-ID and sticky bits are not carried */
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=file;UNIX.mode=4755; x\nE"), 0755);
    /* pyftpdlib's octal */
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=file;unix.mode=0o640; x\nE"), 0640);
}
END_TEST

START_TEST(test_mlst_no_mode)
{
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=file;size=3; x\nE"), -1);
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=dir;UNIX.mode=0755; x\nE"), -1);
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=OS.unix=symlink;UNIX.mode=0777; x\nE"), -1);
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=file;UNIX.mode=08; x\nE"), -1);
    /* a one-line reply carries no facts; nor does a line without the path's space */
    ck_assert_int_eq(ftpc_rmode_from_mlst("No such file"), -1);
    ck_assert_int_eq(ftpc_rmode_from_mlst("L\n type=file;UNIX.mode=0644;\nE"), -1);
    ck_assert_int_eq(ftpc_rmode_from_mlst(""), -1);
}
END_TEST

START_TEST(test_stat)
{
    /* vsftpd's STAT of one file */
    const char *v = "Status follows:\n"
                    "-rw----r--    1 999      995             3 Dec 07 01:49 f b.bin\n"
                    "End of status";
    ck_assert_int_eq(ftpc_rmode_from_stat(v, "dir/f b.bin"), 0604);
    ck_assert_int_eq(ftpc_rmode_from_stat(v, "f b.bin"), 0604);
    ck_assert_int_eq(ftpc_rmode_from_stat("S\r\n-rwsr-x--T 1 u g 3 Jan 1 2020 run\r\nE", "run"),
                     0750);
    /* no group column; a name with spaces of its own */
    ck_assert_int_eq(
        ftpc_rmode_from_stat("S\n-rw-r----- 1 u 3 Jan 1 2020  two  spaces\nE", " two  spaces"),
        0640);
    /* another name's line, a name that only ends like it, or none */
    ck_assert_int_eq(ftpc_rmode_from_stat(v, "b.bin"), -1);
    ck_assert_int_eq(ftpc_rmode_from_stat(v, "g b.bin"), -1);
    ck_assert_int_eq(ftpc_rmode_from_stat("Status follows:\nEnd of status", "x"), -1);
    ck_assert_int_eq(ftpc_rmode_from_stat(v, "dir/"), -1);
    /* a directory's listing names what is in it: its lines are not the file's */
    ck_assert_int_eq(ftpc_rmode_from_stat("S\ndrwxr-xr-x 2 u g 4096 Jan 1 2020 x\nE", "x"), -1);
    ck_assert_int_eq(ftpc_rmode_from_stat("S\n-rwxq-xr-x 1 u g 3 Jan 1 2020 x\nE", "x"), -1);
}
END_TEST

START_TEST(test_names_dir)
{
    /* vsftpd's LIST (and STAT) of a directory it cannot open: the directory's own line */
    const char *own = "d---------    2 999      995          4096 Dec 07 07:07 locked\n";
    ck_assert(ftpc_rlist_names_dir(own, "top/locked"));
    ck_assert(ftpc_rlist_names_dir(own, "locked"));
    ck_assert(!ftpc_rlist_names_dir(own, "top/lock"));
    ck_assert(!ftpc_rlist_names_dir(own, "top/"));
    /* STAT of a directory lists it: ".", "..", and a directory named as it inside */
    const char *st = "Status follows:\r\n"
                     "drwxr-xr-x 3 u g 4096 Dec 07 07:16 .\r\n"
                     "drwxr-xr-x 4 u g 4096 Dec 07 07:16 ..\r\n"
                     "drwxr-xr-x 2 u g 4096 Dec 07 07:16 a\r\n"
                     "End of status";
    ck_assert(ftpc_rlist_names_dir(st, "x/a"));
    ck_assert(!ftpc_rlist_names_dir(st, "x/b"));
    /* a file's line, or a line without a date */
    ck_assert(!ftpc_rlist_names_dir("-rw-r--r-- 1 u g 1 Dec 07 07:16 f.txt\n", "f.txt"));
    ck_assert(!ftpc_rlist_names_dir("d locked\n", "locked"));
    ck_assert(!ftpc_rlist_names_dir("", "locked"));
}
END_TEST

START_TEST(test_entry_line)
{
    /* vsftpd's LIST of a directory: the entry for a name is a file's line or a link's */
    const char *ls = "drwxr-xr-x    2 999      995          4096 Dec 07 09:06 dir\r\n"
                     "-rw-r--r--    1 999      995             6 Dec 07 09:06 file.txt\r\n"
                     "lrwxrwxrwx    1 999      995             3 Dec 07 09:06 lnd -> dir\r\n"
                     "lrwxrwxrwx    1 999      995             8 Dec 07 09:06 lnf -> file.txt\r\n"
                     "lrwxrwxrwx    1 999      995             7 Dec 07 09:06 lnx -> no where\r\n"
                     "-rw-r--r--    1 999      995             1 Dec 07 09:06 a -> b\r\n";
    size_t n = 0;
    const char *l = ftpc_rlist_entry_line(ls, "lnf", &n);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(n, strlen("lrwxrwxrwx    1 999      995             8 Dec 07 09:06 lnf -> "
                               "file.txt"));
    ck_assert(strncmp(l, "lrwxrwxrwx", 10) == 0);
    l = ftpc_rlist_entry_line(ls, "top/to/lnx", &n);
    ck_assert_ptr_nonnull(l);
    ck_assert(n > 15 && memcmp(l + n - 15, "lnx -> no where", 15) == 0);
    ck_assert_ptr_nonnull(ftpc_rlist_entry_line(ls, "lnd", &n));
    ck_assert_ptr_nonnull(ftpc_rlist_entry_line(ls, "file.txt", &n));
    /* a file named "a -> b" is that name; a link is not named by a prefix of its name */
    ck_assert_ptr_nonnull(ftpc_rlist_entry_line(ls, "a -> b", &n));
    ck_assert_ptr_null(ftpc_rlist_entry_line(ls, "a", &n));
    ck_assert_ptr_null(ftpc_rlist_entry_line(ls, "ln", &n));
    /* a directory is not an entry listed this way; nor is a name not there */
    ck_assert_ptr_null(ftpc_rlist_entry_line(ls, "dir", &n));
    ck_assert_ptr_null(ftpc_rlist_entry_line(ls, "missing", &n));
    ck_assert_ptr_null(ftpc_rlist_entry_line(ls, "top/", &n));
    ck_assert_ptr_null(ftpc_rlist_entry_line("", "lnf", &n));
}
END_TEST

static Suite *rmode_suite(void)
{
    Suite *s = suite_create("ftpc_rmode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_mlst);
    tcase_add_test(tc, test_mlst_no_mode);
    tcase_add_test(tc, test_stat);
    tcase_add_test(tc, test_names_dir);
    tcase_add_test(tc, test_entry_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rmode_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
