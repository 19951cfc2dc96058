/* Check suite for ftpc/rglob: matching remote listings (NLST and MLSD) against patterns. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rglob.h"

START_TEST(test_magic)
{
    ck_assert(ftpc_glob_magic("*.gz"));
    ck_assert(ftpc_glob_magic("a?c"));
    ck_assert(ftpc_glob_magic("[ab].txt"));
    ck_assert(!ftpc_glob_magic("plain.txt"));
    ck_assert(!ftpc_glob_magic(""));
}
END_TEST

START_TEST(test_escaped_magic)
{
    /* A backslash makes the glob character after it part of the name, as fnmatch reads it. */
    ck_assert(!ftpc_glob_unescaped_magic("a\\*b.txt"));
    ck_assert(!ftpc_glob_unescaped_magic("\\[x].txt"));
    ck_assert(!ftpc_glob_unescaped_magic("plain\\"));
    ck_assert(ftpc_glob_unescaped_magic("a\\**"));
    ck_assert(ftpc_glob_unescaped_magic("b\\\\*")); /* an escaped backslash, then a bare '*' */
    ck_assert(ftpc_glob_unescaped_magic("[x]"));
    char s[] = "a\\*b\\\\c\\";
    ftpc_glob_unescape(s);
    ck_assert_str_eq(s, "a*b\\c\\");
    /* what the unescaped pattern matches is the name it becomes */
    char **names = NULL;
    size_t refused = 0;
    const char *list = "a*b.txt\naxb.txt\n";
    ck_assert_int_eq(ftpc_glob_match(list, strlen(list), false, "a\\*b.txt", &names, &refused), 1);
    ck_assert_str_eq(names[0], "a*b.txt");
    ftpc_glob_free(names, 1);
}
END_TEST

START_TEST(test_nlst)
{
    const char *l = "b.gz\nA.gz\n.hidden.gz\nc.txt\nsub/d.gz\r\n\n";
    char **names;
    size_t refused;
    int n = ftpc_glob_match(l, strlen(l), false, "*.gz", &names, &refused);
    ck_assert_int_eq(n, 3);
    /* sorted, dot files left out, directories stripped from NLST names */
    ck_assert_str_eq(names[0], "A.gz");
    ck_assert_str_eq(names[1], "b.gz");
    ck_assert_str_eq(names[2], "d.gz");
    ftpc_glob_free(names, n);

    n = ftpc_glob_match(l, strlen(l), false, ".*", &names, &refused);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(names[0], ".hidden.gz");
    ftpc_glob_free(names, n);

    n = ftpc_glob_match(l, strlen(l), false, "[bc].*", &names, &refused);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "b.gz");
    ck_assert_str_eq(names[1], "c.txt");
    ftpc_glob_free(names, n);

    n = ftpc_glob_match(l, strlen(l), false, "*.zip", &names, &refused);
    ck_assert_int_eq(n, 0);
    ftpc_glob_free(names, n);
}
END_TEST

START_TEST(test_mlsd_files_only)
{
    const char *l = "type=file;size=10;modify=20240101000000; one.log\n"
                    "type=dir;modify=20240101000000; logs.log\n"
                    "type=cdir; .\n"
                    "type=pdir; ..\n"
                    "Type=File;Size=3; two words.log\n"
                    "size=5;type=OS.unix=symlink; link.log\n"
                    "no facts line.log\n";
    char **names;
    size_t refused;
    int n = ftpc_glob_match(l, strlen(l), true, "*.log", &names, &refused);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "one.log");
    ck_assert_str_eq(names[1], "two words.log");
    ftpc_glob_free(names, n);
}
END_TEST

/* A hostile server's MLSD names a file outside the directory being fetched into. */
START_TEST(test_unsafe_names_left_out)
{
    const char *l = "type=file;size=1; /tmp/victim.txt\n"
                    "type=file;size=1; sub/../../up.txt\n"
                    "type=file;size=1; esc\033[2J.txt\n" /* shown as '?', but a name */
                    "type=file;size=1; good.txt\n"
                    "type=file;size=1; other.bin\n";
    char **names;
    size_t refused;
    int n = ftpc_glob_match(l, strlen(l), true, "*.txt", &names, &refused);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "esc\033[2J.txt");
    ck_assert_str_eq(names[1], "good.txt");
    ck_assert_uint_eq(refused, 2);
    ftpc_glob_free(names, n);
    /* NLST "dir/name" lines keep only the name, as before */
    const char *nl = "dir/a.txt\n../b.txt\n";
    n = ftpc_glob_match(nl, strlen(nl), false, "*.txt", &names, &refused);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(names[0], "a.txt");
    ck_assert_str_eq(names[1], "b.txt");
    ck_assert_uint_eq(refused, 0);
    ftpc_glob_free(names, n);
}
END_TEST

START_TEST(test_empty)
{
    char **names;
    size_t refused;
    ck_assert_int_eq(ftpc_glob_match("", 0, false, "*", &names, &refused), 0);
    ftpc_glob_free(names, 0);
    ck_assert_int_eq(ftpc_glob_match("\n\n", 2, true, "*", &names, &refused), 0);
    ftpc_glob_free(names, 0);
}
END_TEST

/* Each match's size follows it through the sort; a missing or malformed fact is -1. */
START_TEST(test_sizes)
{
    const char *l = "type=file;size=300; c.bin\n"
                    "Size=7;Type=File; a.bin\n"
                    "type=file;modify=20240101000000; b.bin\n"
                    "type=file;size=12x; d.bin\n"
                    "type=file;size=99999999999999999999; e.bin\n"
                    "type=dir;size=4096; f.bin\n";
    char **names;
    int64_t *sizes;
    size_t refused;
    int n = ftpc_glob_match_sized(l, strlen(l), true, "*.bin", &names, &sizes, &refused);
    ck_assert_int_eq(n, 5);
    const char *want[] = {"a.bin", "b.bin", "c.bin", "d.bin", "e.bin"};
    const int64_t want_size[] = {7, -1, 300, -1, -1};
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(names[i], want[i]);
        ck_assert_int_eq(sizes[i], want_size[i]);
    }
    ftpc_glob_free(names, n);
    free(sizes);
    /* NLST has no sizes */
    const char *nl = "b.bin\na.bin\n";
    n = ftpc_glob_match_sized(nl, strlen(nl), false, "*.bin", &names, &sizes, &refused);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(sizes[0], -1);
    ck_assert_int_eq(sizes[1], -1);
    ftpc_glob_free(names, n);
    free(sizes);
    ck_assert_int_eq(ftpc_glob_match_sized("", 0, true, "*", &names, &sizes, &refused), 0);
    ck_assert_ptr_null(sizes);
    ftpc_glob_free(names, 0);
}
END_TEST

static Suite *rglob_suite(void)
{
    Suite *s = suite_create("ftpc_rglob");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_magic);
    tcase_add_test(tc, test_escaped_magic);
    tcase_add_test(tc, test_nlst);
    tcase_add_test(tc, test_mlsd_files_only);
    tcase_add_test(tc, test_unsafe_names_left_out);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_sizes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rglob_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
