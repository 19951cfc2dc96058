/* listfmt: exact LIST and MLSx lines. */
#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "listfmt.h"
#include "users.h"

#define NOW ((time_t)1700000000) /* Tue Nov 14 22:13:20 2023 UTC */
#define NOBODY_UID 3999999       /* ids no test machine names */
#define NOBODY_GID 3999998

static struct stat mkstat(mode_t mode, nlink_t nlink, uid_t uid, gid_t gid, off_t size,
                          time_t mtime)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_mode = mode;
    st.st_nlink = nlink;
    st.st_uid = uid;
    st.st_gid = gid;
    st.st_size = size;
    st.st_mtime = mtime;
    st.st_dev = 0x803;
    st.st_ino = 0x1a;
    return st;
}

/* "root root" on every Linux; looked up rather than assumed. */
static const char *root_user(void)
{
    struct passwd *pw = getpwuid(0);
    return pw ? pw->pw_name : "0";
}

static const char *root_group(void)
{
    struct group *gr = getgrgid(0);
    return gr ? gr->gr_name : "0";
}

/* The line listfmt_ls should give, its columns padded as ls -l pads them. */
static void ls_line(char *out, size_t size, const char *mode, int nlink, const char *owner,
                    const char *group, long long bytes, const char *date, const char *name)
{
    snprintf(out, size, "%s %4d %-8s %-8s %12lld %s %s\r\n", mode, nlink, owner, group, bytes, date,
             name);
}

static void check_ls(const struct stat *st, const char *name, time_t now, const char *want)
{
    char out[512];
    int n = listfmt_ls(out, sizeof(out), name, st, now);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(n, (int)strlen(want));
}

START_TEST(test_ls_file_recent)
{
    struct stat st = mkstat(S_IFREG | 0644, 1, 0, 0, 1234, NOW - 86400);
    char want[512];
    ls_line(want, sizeof(want), "-rw-r--r--", 1, root_user(), root_group(), 1234, "Nov 13 22:13",
            "file.txt");
    check_ls(&st, "file.txt", NOW, want);
}
END_TEST

START_TEST(test_ls_dir_old)
{
    struct stat st = mkstat(S_IFDIR | 0755, 3, 0, 0, 4096, 1600000000);
    char want[512];
    ls_line(want, sizeof(want), "drwxr-xr-x", 3, root_user(), root_group(), 4096, "Sep 13  2020",
            "dir");
    check_ls(&st, "dir", NOW, want);
}
END_TEST

START_TEST(test_ls_dates)
{
    char want[256];
    struct stat st = mkstat(S_IFREG | 0600, 1, NOBODY_UID, NOBODY_GID, 0, 1699142400);
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "Nov 05 00:00", "f");
    check_ls(&st, "f", NOW, want);
    /* Up to an hour in the future still shows the time; beyond, the year. */
    st.st_mtime = NOW + 1800;
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "Nov 14 22:43", "f");
    check_ls(&st, "f", NOW, want);
    st.st_mtime = NOW + 7200;
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "Nov 15  2023", "f");
    check_ls(&st, "f", NOW, want);
    /* Six months back is the edge. */
    st.st_mtime = NOW - 15778476 + 60;
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "May 16 07:19", "f");
    check_ls(&st, "f", NOW, want);
    st.st_mtime = NOW - 15778476;
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "May 16  2023", "f");
    check_ls(&st, "f", NOW, want);
    st.st_mtime = 0;
    ls_line(want, sizeof(want), "-rw-------", 1, "3999999", "3999998", 0, "Jan 01  1970", "f");
    check_ls(&st, "f", NOW, want);
}
END_TEST

START_TEST(test_ls_mode_bits)
{
    static const struct {
        mode_t mode;
        const char *str;
    } cases[] = {
        {S_IFREG | 04755, "-rwsr-xr-x"}, {S_IFREG | 04644, "-rwSr--r--"},
        {S_IFREG | 02755, "-rwxr-sr-x"}, {S_IFREG | 02745, "-rwxr-Sr-x"},
        {S_IFDIR | 01777, "drwxrwxrwt"}, {S_IFDIR | 01776, "drwxrwxrwT"},
        {S_IFREG | 07000, "---S--S--T"}, {S_IFREG | 07777, "-rwsrwsrwt"},
        {S_IFLNK | 0777, "lrwxrwxrwx"},  {S_IFCHR | 0620, "crw--w----"},
        {S_IFBLK | 0660, "brw-rw----"},  {S_IFIFO | 0644, "prw-r--r--"},
        {S_IFSOCK | 0755, "srwxr-xr-x"}, {S_IFREG | 0, "----------"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stat st = mkstat(cases[i].mode, 2, NOBODY_UID, NOBODY_GID, 7, NOW);
        char want[256];
        ls_line(want, sizeof(want), cases[i].str, 2, "3999999", "3999998", 7, "Nov 14 22:13", "x");
        check_ls(&st, "x", NOW, want);
    }
}
END_TEST

START_TEST(test_ls_cache)
{
    /* Repeated lookups (cache hits) and more ids than the cache holds give the same. */
    char want[256];
    for (int round = 0; round < 2; round++) {
        for (unsigned id = 0; id < 100; id++) {
            struct stat st = mkstat(S_IFREG | 0644, 1, NOBODY_UID - id, NOBODY_GID - id, 1, NOW);
            char owner[16], group[16];
            snprintf(owner, sizeof(owner), "%u", NOBODY_UID - id);
            snprintf(group, sizeof(group), "%u", NOBODY_GID - id);
            ls_line(want, sizeof(want), "-rw-r--r--", 1, owner, group, 1, "Nov 14 22:13", "n");
            check_ls(&st, "n", NOW, want);
        }
    }
}
END_TEST

START_TEST(test_mlsx_file)
{
    struct stat st = mkstat(S_IFREG | 0644, 1, 0, 0, 10, NOW);
    char out[256];
    const char *want =
        "type=file;size=10;modify=20231114221320;perm=rw;unique=803g1a;UNIX.mode=0644; name\r\n";
    int n = listfmt_mlsx(out, sizeof(out), "name", &st, PERM_READ | PERM_WRITE, NULL, 0);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(n, (int)strlen(want));

    n = listfmt_mlsx(out, sizeof(out), "my file", &st, 0xff, NULL, 1);
    ck_assert_str_eq(out, " type=file;size=10;modify=20231114221320;perm=rwadf;unique=803g1a;UNIX."
                          "mode=0644; my file\r\n");
    listfmt_mlsx(out, sizeof(out), "f", &st, PERM_DEFAULT, NULL, 0);
    ck_assert_str_eq(
        out, "type=file;size=10;modify=20231114221320;perm=r;unique=803g1a;UNIX.mode=0644; f\r\n");
    listfmt_mlsx(out, sizeof(out), "f", &st, 0, NULL, 0);
    ck_assert_str_eq(
        out, "type=file;size=10;modify=20231114221320;perm=;unique=803g1a;UNIX.mode=0644; f\r\n");
}
END_TEST

START_TEST(test_mlsx_dir)
{
    struct stat st = mkstat(S_IFDIR | 0755, 2, 0, 0, 4096, 1600000000);
    char out[256];
    listfmt_mlsx(out, sizeof(out), "sub", &st, 0xff, NULL, 0);
    ck_assert_str_eq(
        out, "type=dir;modify=20200913122640;perm=elcmdfp;unique=803g1a;UNIX.mode=0755; sub\r\n");
    listfmt_mlsx(out, sizeof(out), "sub", &st, PERM_DEFAULT, NULL, 0);
    ck_assert_str_eq(
        out, "type=dir;modify=20200913122640;perm=el;unique=803g1a;UNIX.mode=0755; sub\r\n");
    int n = listfmt_mlsx(out, sizeof(out), "/pub", &st, PERM_DEFAULT, "cdir", 1);
    const char *want =
        " type=cdir;modify=20200913122640;perm=el;unique=803g1a;UNIX.mode=0755; /pub\r\n";
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(n, (int)strlen(want));
    listfmt_mlsx(out, sizeof(out), "..", &st, PERM_CWD | PERM_LIST | PERM_MKDIR, "pdir", 0);
    ck_assert_str_eq(
        out, "type=pdir;modify=20200913122640;perm=elm;unique=803g1a;UNIX.mode=0755; ..\r\n");
}
END_TEST

START_TEST(test_mlsx_special_files)
{
    /* Neither downloadable nor uploadable: an OS.unix type, and only delete and rename. */
    struct stat st = mkstat(S_IFIFO | 0644, 1, 0, 0, 0, NOW);
    char out[256];
    listfmt_mlsx(out, sizeof(out), "pipe", &st, 0xff, NULL, 0);
    ck_assert_str_eq(out, "type=OS.unix=fifo;size=0;modify=20231114221320;perm=df;unique=803g1a;"
                          "UNIX.mode=0644; pipe\r\n");
    st.st_mode = S_IFSOCK | 0755;
    listfmt_mlsx(out, sizeof(out), "s", &st, PERM_DEFAULT, NULL, 0);
    ck_assert_str_eq(out, "type=OS.unix=socket;size=0;modify=20231114221320;perm=;unique=803g1a;"
                          "UNIX.mode=0755; s\r\n");
    st.st_mode = S_IFCHR | 0644;
    listfmt_mlsx(out, sizeof(out), "c", &st, PERM_DEFAULT, NULL, 0);
    ck_assert_ptr_nonnull(strstr(out, "type=OS.unix=chr;"));
    st.st_mode = S_IFBLK | 0644;
    listfmt_mlsx(out, sizeof(out), "b", &st, PERM_DEFAULT, NULL, 0);
    ck_assert_ptr_nonnull(strstr(out, "type=OS.unix=blk;"));
}
END_TEST

/* What the server itself cannot do takes its letters away, whatever the user's allow. */
static const char *perm_fact(mode_t type, unsigned perms)
{
    static char out[256];
    struct stat st = mkstat(type | 0755, 1, 0, 0, 10, NOW);
    listfmt_mlsx_facts(out, sizeof(out), "x", &st, perms, NULL, 0, MLSX_PERM);
    return out;
}

START_TEST(test_mlsx_server_access)
{
    ck_assert_str_eq(perm_fact(S_IFREG, 0xff | LISTFMT_NO_READ), "perm=wdf; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFREG, 0xff | LISTFMT_NO_WRITE), "perm=rdf; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFREG, 0xff | LISTFMT_NO_NAMES), "perm=r; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFREG, 0xff | LISTFMT_NO_SEARCH), "perm=rwadf; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFDIR, 0xff | LISTFMT_NO_SEARCH), "perm=df; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFDIR, 0xff | LISTFMT_NO_READ), "perm=ecmdfp; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFDIR, 0xff | LISTFMT_NO_WRITE), "perm=eldf; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFDIR, 0xff | LISTFMT_NO_NAMES), "perm=elcmp; x\r\n");
    ck_assert_str_eq(perm_fact(S_IFDIR, PERM_DEFAULT | LISTFMT_NO_WRITE), "perm=el; x\r\n");
}
END_TEST

START_TEST(test_mlsx_root)
{
    /* The root: files in it may go (p), the root itself neither goes nor moves (d, f). */
    struct stat st = mkstat(S_IFDIR | 0755, 2, 0, 0, 4096, 1600000000);
    char out[256];
    listfmt_mlsx(out, sizeof(out), "/", &st, 0xff | LISTFMT_ROOT, NULL, 0);
    ck_assert_str_eq(
        out, "type=dir;modify=20200913122640;perm=elcmp;unique=803g1a;UNIX.mode=0755; /\r\n");
}
END_TEST

START_TEST(test_mdtm)
{
    char out[15];
    listfmt_mdtm(out, sizeof(out), NOW);
    ck_assert_str_eq(out, "20231114221320");
    listfmt_mdtm(out, sizeof(out), 0);
    ck_assert_str_eq(out, "19700101000000");
}
END_TEST

START_TEST(test_parse_mdtm)
{
    struct timespec ts = {1, 2};
    ck_assert_int_eq(listfmt_parse_mdtm("20231114221320", &ts), 0);
    ck_assert_int_eq(ts.tv_sec, NOW);
    ck_assert_int_eq(ts.tv_nsec, 0);
    ck_assert_int_eq(listfmt_parse_mdtm("19700101000000.25", &ts), 0);
    ck_assert_int_eq(ts.tv_sec, 0);
    ck_assert_int_eq(ts.tv_nsec, 250000000);
    ck_assert_int_eq(listfmt_parse_mdtm("20240229235959.123456789", &ts), 0);
    ck_assert_int_eq(ts.tv_nsec, 123456789);

    static const char *bad[] = {"",
                                "2023111422132",
                                "202311142213200",
                                "20231114221320.",
                                "20231114221320.1234567890",
                                "20231114221320 ",
                                " 20231114221320",
                                "2023111422132x",
                                "+2023111422132",
                                "20230229120000",
                                "20231131120000",
                                "20231314120000",
                                "20231114241320",
                                "20231114226020",
                                "20231114221360",
                                "19691231235959"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ts.tv_sec = 7;
        ck_assert_msg(listfmt_parse_mdtm(bad[i], &ts) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(ts.tv_sec, 7);
    }
}
END_TEST

START_TEST(test_too_small)
{
    struct stat st = mkstat(S_IFREG | 0644, 1, NOBODY_UID, NOBODY_GID, 10, NOW);
    char out[256];
    int n = listfmt_ls(out, sizeof(out), "name", &st, NOW);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(listfmt_ls(out, (size_t)n + 1, "name", &st, NOW), n);
    ck_assert_int_eq(listfmt_ls(out, (size_t)n, "name", &st, NOW), -1);
    ck_assert_int_eq(listfmt_ls(out, 5, "name", &st, NOW), -1);
    ck_assert_int_eq(listfmt_ls(out, 0, "name", &st, NOW), -1);

    n = listfmt_mlsx(out, sizeof(out), "name", &st, 0xff, NULL, 1);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(listfmt_mlsx(out, (size_t)n + 1, "name", &st, 0xff, NULL, 1), n);
    ck_assert_int_eq(listfmt_mlsx(out, (size_t)n, "name", &st, 0xff, NULL, 1), -1);
    ck_assert_int_eq(listfmt_mlsx(out, 1, "name", &st, 0xff, NULL, 1), -1);
    ck_assert_int_eq(listfmt_mlsx(out, 0, "name", &st, 0xff, NULL, 1), -1);
}
END_TEST

START_TEST(test_mlsx_fact_selection)
{
    unsigned f = listfmt_parse_facts("Type;SIZE;bogus;unique;");
    ck_assert_uint_eq(f, MLSX_TYPE | MLSX_SIZE | MLSX_UNIQUE);
    ck_assert_uint_eq(listfmt_parse_facts(""), 0);
    char names[128];
    listfmt_format_facts(f, false, names, sizeof(names));
    ck_assert_str_eq(names, "type;size;unique;");
    listfmt_format_facts(f, true, names, sizeof(names));
    ck_assert_str_eq(names, "type*;size*;modify;perm;unique*;UNIX.mode;");

    struct stat st = mkstat(S_IFREG | 0644, 1, 0, 0, 42, NOW);
    char out[256];
    int n =
        listfmt_mlsx_facts(out, sizeof(out), "f", &st, PERM_READ, NULL, 0, MLSX_TYPE | MLSX_SIZE);
    ck_assert_str_eq(out, "type=file;size=42; f\r\n");
    ck_assert_int_eq(n, (int)strlen(out));
    listfmt_mlsx_facts(out, sizeof(out), "f", &st, PERM_READ, NULL, 0, 0);
    ck_assert_str_eq(out, " f\r\n");
}
END_TEST

static Suite *listfmt_suite(void)
{
    Suite *s = suite_create("listfmt");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_ls_file_recent);
    tcase_add_test(tc, test_ls_dir_old);
    tcase_add_test(tc, test_ls_dates);
    tcase_add_test(tc, test_ls_mode_bits);
    tcase_add_test(tc, test_ls_cache);
    tcase_add_test(tc, test_mlsx_file);
    tcase_add_test(tc, test_mlsx_dir);
    tcase_add_test(tc, test_mlsx_special_files);
    tcase_add_test(tc, test_mlsx_root);
    tcase_add_test(tc, test_mlsx_server_access);
    tcase_add_test(tc, test_mdtm);
    tcase_add_test(tc, test_parse_mdtm);
    tcase_add_test(tc, test_too_small);
    tcase_add_test(tc, test_mlsx_fact_selection);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(listfmt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
