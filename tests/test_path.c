/* Check suite for common/path. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

typedef struct {
    const char *cwd;
    const char *arg;
    const char *want;
} resolve_case;

static const resolve_case cases[] = {
    /* empty arg gives cwd */
    {"/", "", "/"},
    {"/a/b", "", "/a/b"},
    {"/a/b", NULL, "/a/b"},
    /* relative */
    {"/", "a", "/a"},
    {"/a", "b/c", "/a/b/c"},
    {"/a/b", "c", "/a/b/c"},
    /* absolute args ignore cwd */
    {"/a/b", "/x", "/x"},
    {"/a/b", "/", "/"},
    {"/a/b", "//x//y//", "/x/y"},
    /* '.' */
    {"/a", ".", "/a"},
    {"/a", "./b/./c/.", "/a/b/c"},
    {"/", "./", "/"},
    /* '..' */
    {"/a/b", "..", "/a"},
    {"/a/b", "../..", "/"},
    {"/a/b", "../c", "/a/c"},
    {"/a", "b/../c", "/a/c"},
    {"/a", "b/c/../../d", "/a/d"},
    /* never above root */
    {"/", "..", "/"},
    {"/", "../../..", "/"},
    {"/a", "../../../etc/passwd", "/etc/passwd"},
    {"/a/b", "/../x", "/x"},
    {"/", "/..", "/"},
    /* '//' and trailing slashes */
    {"/a", "b//c", "/a/b/c"},
    {"/a", "b/", "/a/b"},
    {"/a", "b///", "/a/b"},
    {"/", "///", "/"},
    /* names that merely look special */
    {"/", "...", "/..."},
    {"/", "..a/.b/a..", "/..a/.b/a.."},
    {"/a", " b ", "/a/ b "},
    /* a non-normalised cwd is normalised too */
    {"//a/./b/../c/", "d", "/a/c/d"},
    {"/a/b", "../../../..", "/"},
};

START_TEST(test_resolve_table)
{
    const resolve_case *c = &cases[_i];
    char out[PATH_VMAX];
    memset(out, 'Z', sizeof(out));
    ck_assert_msg(path_resolve(c->cwd, c->arg, out, sizeof(out)) == 0, "cwd=%s arg=%s", c->cwd,
                  c->arg ? c->arg : "(null)");
    ck_assert_msg(strcmp(out, c->want) == 0, "cwd=%s arg=%s: got %s want %s", c->cwd,
                  c->arg ? c->arg : "(null)", out, c->want);
}
END_TEST

START_TEST(test_resolve_errors)
{
    char out[PATH_VMAX];
    errno = 0;
    ck_assert_int_eq(path_resolve("a", "b", out, sizeof(out)), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(path_resolve("", "/b", out, sizeof(out)), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_resolve_too_long)
{
    char out[8];
    /* "/abcdef" needs 8 bytes with its NUL */
    ck_assert_int_eq(path_resolve("/", "abcdef", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/abcdef");
    memset(out, 'Z', sizeof(out));
    errno = 0;
    ck_assert_int_eq(path_resolve("/", "abcdefg", out, sizeof(out)), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    ck_assert_int_eq(path_resolve("/abc", "defg", out, sizeof(out)), -1);
    /* nothing beyond out was needed to find out */
    ck_assert_int_eq(path_resolve("/", "", out, 1), -1);
    ck_assert_int_eq(path_resolve("/", "", out, 0), -1);
    ck_assert_int_eq(path_resolve("/", "", out, 2), 0);
    ck_assert_str_eq(out, "/");

    /* a long intermediate path that '..' shortens still fits */
    size_t n = 3 * PATH_VMAX;
    char *arg = malloc(n + 16);
    memset(arg, 'x', n);
    memcpy(arg + n, "/../y", 6);
    ck_assert_int_eq(path_resolve("/", arg, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/y");
    /* and the unshortened one does not */
    arg[n] = '\0';
    char big[PATH_VMAX];
    errno = 0;
    ck_assert_int_eq(path_resolve("/", arg, big, sizeof(big)), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    free(arg);
}
END_TEST

START_TEST(test_rel)
{
    ck_assert_str_eq(path_rel("/"), ".");
    ck_assert_str_eq(path_rel("/a"), "a");
    ck_assert_str_eq(path_rel("/a/b"), "a/b");
}
END_TEST

START_TEST(test_basename)
{
    ck_assert_str_eq(path_basename("/"), "");
    ck_assert_str_eq(path_basename("/a"), "a");
    ck_assert_str_eq(path_basename("/a/bc"), "bc");
    const char *p = "/x/y";
    ck_assert_ptr_eq(path_basename(p), p + 3);
}
END_TEST

START_TEST(test_dirname)
{
    char out[8];
    ck_assert_int_eq(path_dirname("/", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(path_dirname("/a", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(path_dirname("/a/b", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "/a");
    ck_assert_int_eq(path_dirname("/abc/de/g", out, sizeof(out)), 0); /* exact fit */
    ck_assert_str_eq(out, "/abc/de");
    errno = 0;
    ck_assert_int_eq(path_dirname("/abcdefgh/i", out, sizeof(out)), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    ck_assert_int_eq(path_dirname("/a", out, 1), -1);
    ck_assert_int_eq(path_dirname("/a/b", out, 2), -1);
    ck_assert_int_eq(path_dirname("/a/b", out, 3), 0);
    ck_assert_str_eq(out, "/a");
}
END_TEST

static Suite *path_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_resolve_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_resolve_errors);
    tcase_add_test(tc, test_resolve_too_long);
    tcase_add_test(tc, test_rel);
    tcase_add_test(tc, test_basename);
    tcase_add_test(tc, test_dirname);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(path_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
