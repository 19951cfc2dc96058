#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users.h"

static char tmpdir[256]; /* short, so formats into fixed buffers cannot truncate */
static char users_path[sizeof(tmpdir) + 16];
static char hash_secret[256];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_users.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* mkdtemp may sit beneath a symlink (/tmp); homes are stored resolved. */
    char *real = realpath(tmpdir, NULL);
    ck_assert_ptr_nonnull(real);
    snprintf(tmpdir, sizeof(tmpdir), "%s", real);
    free(real);
    snprintf(users_path, sizeof(users_path), "%s/users", tmpdir);
    char d[PATH_MAX + 16];
    snprintf(d, sizeof(d), "%s/home1", tmpdir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    snprintf(d, sizeof(d), "%s/a:b", tmpdir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    snprintf(d, sizeof(d), "%s/plainfile", tmpdir);
    FILE *f = fopen(d, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(users_hash_password("secret", hash_secret, sizeof(hash_secret)), 0);
}

static void teardown(void)
{
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_users(const char *content)
{
    FILE *f = fopen(users_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

/* Loads a file whose text is fmt with every "%H" replaced by the "secret" hash. */
static int load_text(const char *text, ftpd_users *u, char *err, size_t err_size)
{
    char buf[8192];
    size_t n = 0;
    for (const char *p = text; *p && n + 300 < sizeof(buf); p++) {
        if (p[0] == '%' && p[1] == 'H') {
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", hash_secret);
            p++;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    write_users(buf);
    return users_load(users_path, u, err, err_size);
}

START_TEST(test_parse_good)
{
    char abs_home[sizeof(tmpdir) + 16];
    snprintf(abs_home, sizeof(abs_home), "%s/home1", tmpdir);
    char text[2048];
    snprintf(text, sizeof(text),
             "# a comment\n"
             "\n"
             "   \n"
             "alice:%%H:home1:elradfmw\n"
             "  # indented comment\n"
             "bob:%%H:%s\n"
             "carol:%%H:a:b:el\r\n"
             "dave:%%H:./home1/../home1:w\n",
             abs_home);
    ftpd_users u;
    char err[512] = "";
    ck_assert_msg(load_text(text, &u, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(u.n, 4);

    const ftpd_user *a = users_find(&u, "alice");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->hash, hash_secret);
    ck_assert_str_eq(a->home, abs_home);
    ck_assert_uint_eq(a->perms, 0xff);

    const ftpd_user *b = users_find(&u, "bob");
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->home, abs_home);
    ck_assert_uint_eq(b->perms, PERM_DEFAULT);

    /* A ':' in the home: perms come after the last one. */
    const ftpd_user *c = users_find(&u, "carol");
    ck_assert_ptr_nonnull(c);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/a:b", tmpdir);
    ck_assert_str_eq(c->home, want);
    ck_assert_uint_eq(c->perms, PERM_CWD | PERM_LIST);

    const ftpd_user *d = users_find(&u, "dave");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->home, abs_home);
    ck_assert_uint_eq(d->perms, PERM_WRITE);

    ck_assert_ptr_null(users_find(&u, "eve"));
    ck_assert_ptr_null(users_find(&u, "Alice"));
    users_free(&u);
    ck_assert_uint_eq(u.n, 0);
    ck_assert_ptr_null(u.v);
}
END_TEST

START_TEST(test_empty_file)
{
    ftpd_users u;
    char err[512];
    ck_assert_int_eq(load_text("# nobody\n", &u, err, sizeof(err)), 0);
    ck_assert_uint_eq(u.n, 0);
    users_free(&u);
}
END_TEST

typedef struct bad_case {
    const char *text;
    const char *want; /* expected after "FILE:" */
} bad_case;

static const bad_case bad_cases[] = {
    {"alice:%H:home1:elrx\n", "1: user 'alice': bad permissions 'elrx'"},
    /* Duplicates: the first repeat down the file is named, with its name's first line,
     * wherever the two lie and however the names sort. */
    {"alice:%H:home1\nalice:%H:home1\n", "2: duplicate user 'alice' (first on line 1)"},
    {"zed:%H:home1\nbob:%H:home1\ncarol:%H:home1\nzed:%H:home1\n",
     "4: duplicate user 'zed' (first on line 1)"},
    {"zed:%H:home1\namy:%H:home1\nzed:%H:home1\namy:%H:home1\n",
     "3: duplicate user 'zed' (first on line 1)"},
    {"amy:%H:home1\nzed:%H:home1\nzed:%H:home1\namy:%H:home1\n",
     "3: duplicate user 'zed' (first on line 2)"},
    {"bob:%H:home1\nx:%H:home1\nbob:%H:home1\nbob:%H:home1\n",
     "3: duplicate user 'bob' (first on line 1)"},
    {"bob:%H:home1\nbob:%H:home1\nbad:%H:home1:elrx\n",
     "2: duplicate user 'bob' (first on line 1)"},
    {"bob:%H:home1\nbad:%H:home1:elrx\nbob:%H:home1\n", "2: user 'bad': bad permissions"},
    {"alice:%H:home1:\n", "1: user 'alice': empty permissions"},
    {"# c\nalice:%H:home1\nbob:%H:home1\nalice:%H:home1:elr\n",
     "4: duplicate user 'alice' (first on line 2)"},
    {"alice:%H:plainfile\n", "1: user 'alice': home 'plainfile': Not a directory"},
    {"alice:%H:\n", "1: user 'alice': empty home directory"},
    {"alice:%H\n", "1: expected 'name:hash:home[:perms]'"},
    {"alice\n", "1: expected 'name:hash:home[:perms]'"},
    {":%H:home1\n", "1: bad user name ''"},
    {"al ice:%H:home1\n", "1: bad user name 'al ice'"},
    {"al\x01ice:%H:home1\n", "1: bad user name"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:%H:home1\n",
     "1: bad user name"},
    {"alice:secret:home1\n", "1: user 'alice': the password field is not a crypt(3) hash"},
    {"alice::home1\n", "1: user 'alice': the password field is not a crypt(3) hash"},
    {"alice:$:home1\n", "1: user 'alice': the password field is not a crypt(3) hash"},
    /* whole prefixes, cut checksums */
    {"alice:$6$abc:home1\n", "1: user 'alice': the password hash is cut short or malformed"},
    {"alice:$6$saltsalt$tooShort:home1\n", "1: user 'alice': the password hash is cut short"},
    {"alice:$1$ZIt8zV6n$0msLWSeRYrIysS27gJAx9:home1\n",
     "1: user 'alice': the password hash is cut"},
    {"alice:$y$j9T$DiizdIb7sIT4zKv10kL0I0$DT5.nSwKutTivVV1x8F8uNzslAViwl:home1\n",
     "1: user 'alice': the password hash is cut short"},
    {"alice:$2b$05$7IiVAS1J/mMz68aAA8Jxb.AnaR4BzmZFiTwq:home1\n",
     "1: user 'alice': the password hash is cut short"},
    {"alice:$5$salt$6eXrr12EytmEqM0ilclwGyW9jVetzYWmt3huvvKNPX*:home1\n",
     "1: user 'alice': the password hash is cut short or malformed"},
};

/* A byte order mark (Notepad writes one) starts the file, not the first name; CRLF line ends
 * are whitespace. */
START_TEST(test_byte_order_mark_and_crlf)
{
    ftpd_users u;
    char err[512];
    ck_assert_msg(load_text("\xEF\xBB\xBF"
                            "alice:%H:home1:elr\r\n# c\r\nbob:%H:home1\r\n",
                            &u, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(u.n, 2);
    ck_assert_ptr_nonnull(users_find(&u, "alice"));
    ck_assert_ptr_nonnull(users_find(&u, "bob"));
    users_free(&u);
    /* only at the start of the file */
    ck_assert_int_eq(load_text("alice:%H:home1\n\xEF\xBB\xBF"
                               "bob:%H:home1\n",
                               &u, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, ":2: bad user name") != NULL, "%s", err);
}
END_TEST

START_TEST(test_parse_bad)
{
    const bad_case *bc = &bad_cases[_i];
    ftpd_users u = {(ftpd_user *)1, 99, (const ftpd_user **)1};
    char err[512] = "";
    ck_assert_int_eq(load_text(bc->text, &u, err, sizeof(err)), -1);
    char want[PATH_MAX + 600];
    snprintf(want, sizeof(want), "%s:%s", users_path, bc->want);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want prefix '%s'", err, want);
    ck_assert_uint_eq(u.n, 0);
    ck_assert_ptr_null(u.v);
    ck_assert_ptr_null(u.by_name);
}
END_TEST

START_TEST(test_missing_file)
{
    ftpd_users u;
    char err[512];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/nope", tmpdir);
    ck_assert_int_eq(users_load(path, &u, err, sizeof(err)), -1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* A home that is not there (yet) costs its account the logins only: it loads under its path. */
START_TEST(test_missing_home_loads_as_written)
{
    ftpd_users u;
    char err[512] = "";
    ck_assert_msg(load_text("alice:%H:nosuchdir:elr\nbob:%H:home1\n", &u, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(u.n, 2);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/nosuchdir", tmpdir);
    ck_assert_str_eq(users_find(&u, "alice")->home, want);
    users_free(&u);
}
END_TEST

START_TEST(test_whole_hashes_accepted)
{
    /* one of each method whose checksum length is checked, made by openssl passwd -1/-5 and
     * mkpasswd -m yescrypt/bcrypt with the password "pw" */
    const char *hashes[] = {
        "$1$ZIt8zV6n$0msLWSeRYrIysS27gJAx90",
        "$5$UhUUFZsuaZ5ZhPG/$6eXrr12EytmEqM0ilclwGyW9jVetzYWmt3huvvKNPX4",
        "$y$j9T$DiizdIb7sIT4zKv10kL0I0$DT5.nSwKutTivVV1x8F8uNzslAViwlcVYK77KNJGjy2",
        "$2b$05$7IiVAS1J/mMz68aAA8Jxb.AnaR4BzmZFiTwqphIJMuYBpaV0LNzIy",
    };
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "u:%s:home1\n", hashes[i]);
        ftpd_users u;
        char err[512] = "";
        int rc = load_text(text, &u, err, sizeof(err));
        ck_assert_msg(rc == 0, "%s: %s", hashes[i], err);
        ck_assert_msg(users_check_password(u.v[0].hash, "pw"), "%s", hashes[i]);
        users_free(&u);
    }
}
END_TEST

/* Many accounts, names differing in case and in length: each is found, and nothing else,
 * and one repeat at the very end is still seen. */
START_TEST(test_many_accounts)
{
    enum { N = 3000 };
    FILE *f = fopen(users_path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = N - 1; i >= 0; i--)
        fprintf(f, "%s%d:%s:home1\n", i % 2 ? "U" : "u", i, hash_secret);
    fclose(f);
    ftpd_users u;
    char err[512] = "";
    ck_assert_msg(users_load(users_path, &u, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(u.n, N);
    for (int i = 0; i < N; i++) {
        char name[32], other[32];
        snprintf(name, sizeof(name), "%s%d", i % 2 ? "U" : "u", i);
        snprintf(other, sizeof(other), "%s%d", i % 2 ? "u" : "U", i);
        const ftpd_user *found = users_find(&u, name);
        ck_assert_ptr_nonnull(found);
        ck_assert_str_eq(found->name, name);
        ck_assert_ptr_eq(found, &u.v[N - 1 - i]);
        ck_assert_ptr_null(users_find(&u, other));
    }
    ck_assert_ptr_null(users_find(&u, ""));
    ck_assert_ptr_null(users_find(&u, "u30000"));
    users_free(&u);

    f = fopen(users_path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "u1234:%s:home1\n", hash_secret);
    fclose(f);
    ck_assert_int_eq(users_load(users_path, &u, err, sizeof(err)), -1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s:%d: duplicate user 'u1234' (first on line %d)", users_path,
             N + 1, N - 1234);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_des_hash_accepted)
{
    /* A traditional 13-character DES hash (`mkpasswd -m des -S ab test`) passes the
     * format check. */
    ftpd_users u;
    char err[512] = "";
    int rc = load_text("old:abgOeLfPimXQo:home1\n", &u, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(u.n, 1);
    ck_assert(users_check_password(u.v[0].hash, "test"));
    ck_assert(!users_check_password(u.v[0].hash, "tesT"));
    users_free(&u);
}
END_TEST

START_TEST(test_check_password)
{
    ck_assert(users_check_password(hash_secret, "secret"));
    ck_assert(!users_check_password(hash_secret, "Secret"));
    ck_assert(!users_check_password(hash_secret, "secret "));
    ck_assert(!users_check_password(hash_secret, ""));
    ck_assert(!users_check_password(hash_secret, NULL));
    /* Unknown user: no hash, still false. */
    ck_assert(!users_check_password(NULL, "secret"));
    ck_assert(!users_check_password(NULL, ""));
    /* Garbage hash: crypt fails, never true. */
    ck_assert(!users_check_password("$6$", "secret"));
    ck_assert(!users_check_password("*", "secret"));
    /* A hash from `openssl passwd -6 -salt saltsalt demo`. */
    ck_assert(users_check_password("$6$saltsalt$..2OS7YQ9H8nOZV3zrRCC2W6gKqvDdWTzallpPfaVczvmUWzyI"
                                   "YqU0TarsE5PYaJ7eNXes2cIPl//BAZe0z3F1",
                                   "demo"));
    ck_assert(!users_check_password("$6$saltsalt$..2OS7YQ9H8nOZV3zrRCC2W6gKqvDdWTzallpPfaVczvmUWzyI"
                                    "YqU0TarsE5PYaJ7eNXes2cIPl//BAZe0z3F1",
                                    "demo2"));
}
END_TEST

START_TEST(test_hash_password)
{
    char h1[256], h2[256];
    ck_assert_int_eq(users_hash_password("pw", h1, sizeof(h1)), 0);
    ck_assert_int_eq(users_hash_password("pw", h2, sizeof(h2)), 0);
    ck_assert_str_ne(h1, h2); /* random salts */
    ck_assert(strncmp(h1, "$6$", 3) == 0);
    const char *salt_end = strchr(h1 + 3, '$');
    ck_assert_ptr_nonnull(salt_end);
    ck_assert_int_eq((int)(salt_end - (h1 + 3)), 16);
    for (const char *p = h1 + 3; p < salt_end; p++)
        ck_assert(strchr("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", *p));
    ck_assert(users_check_password(h1, "pw"));
    ck_assert(users_check_password(h2, "pw"));
    ck_assert(!users_check_password(h1, "pw2"));
    ck_assert_int_eq(users_hash_password("pw", h1, 20), -1);
}
END_TEST

START_TEST(test_perms_round_trip)
{
    char out[16];
    for (unsigned p = 0; p < 2048; p++) {
        users_format_perms(p, out);
        unsigned back = 999;
        ck_assert_int_eq(users_parse_perms(out, &back), 0);
        ck_assert_uint_eq(back, p);
    }
    users_format_perms(PERM_DEFAULT, out);
    ck_assert_str_eq(out, "elr");
    users_format_perms(0xff, out);
    ck_assert_str_eq(out, "elradfmw");
    users_format_perms(0xff | PERM_MTIME, out);
    ck_assert_str_eq(out, "elradfmwT");
    users_format_perms(PERM_CHMOD | PERM_READ, out);
    ck_assert_str_eq(out, "rM");
    users_format_perms(0, out);
    ck_assert_str_eq(out, "");

    unsigned p = 7;
    ck_assert_int_eq(users_parse_perms("wmfdarle", &p), 0);
    ck_assert_uint_eq(p, 0xff);
    ck_assert_int_eq(users_parse_perms("rr", &p), 0);
    ck_assert_uint_eq(p, PERM_READ);
    p = 7;
    ck_assert_int_eq(users_parse_perms("elx", &p), -1);
    ck_assert_uint_eq(p, 7); /* untouched on error */
    ck_assert_int_eq(users_parse_perms("E", &p), -1);
    ck_assert_int_eq(users_parse_perms(" e", &p), -1);
}
END_TEST

static Suite *users_suite(void)
{
    Suite *s = suite_create("users");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_byte_order_mark_and_crlf);
    tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_missing_home_loads_as_written);
    tcase_add_test(tc, test_many_accounts);
    tcase_add_test(tc, test_des_hash_accepted);
    tcase_add_test(tc, test_whole_hashes_accepted);
    suite_add_tcase(s, tc);

    TCase *tp = tcase_create("password");
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_set_timeout(tp, 30);
    tcase_add_test(tp, test_check_password);
    tcase_add_test(tp, test_hash_password);
    tcase_add_test(tp, test_perms_round_trip);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(users_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
