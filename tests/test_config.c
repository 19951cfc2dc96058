#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "users.h"

static char tmpdir[256]; /* short, so formats into fixed buffers cannot truncate */
static char users_path[sizeof(tmpdir) + 16];
static char pub_path[sizeof(tmpdir) + 16];
static char conf_path[sizeof(tmpdir) + 16];

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char *real = realpath(tmpdir, NULL);
    ck_assert_ptr_nonnull(real);
    snprintf(tmpdir, sizeof(tmpdir), "%s", real);
    free(real);
    snprintf(users_path, sizeof(users_path), "%s/users", tmpdir);
    snprintf(pub_path, sizeof(pub_path), "%s/pub", tmpdir);
    snprintf(conf_path, sizeof(conf_path), "%s/ftpd.conf", tmpdir);
    FILE *f = fopen(users_path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(mkdir(pub_path, 0755), 0);
}

static void teardown(void)
{
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_conf(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Redirects fd (1 or 2) into a temporary file until capture_end(). */
typedef struct capture {
    int fd, saved;
    FILE *tmp;
} capture;

static void capture_begin(capture *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    c->saved = dup(fd);
    c->tmp = tmpfile();
    ck_assert_ptr_nonnull(c->tmp);
    ck_assert_int_ge(dup2(fileno(c->tmp), fd), 0);
}

static void capture_end(capture *c, char *out, size_t out_size)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    rewind(c->tmp);
    size_t n = fread(out, 1, out_size - 1, c->tmp);
    out[n] = '\0';
    fclose(c->tmp);
}

/* Runs config_load on "ftpd" followed by the NULL-terminated arguments, with stderr
 * captured into err. */
static config_result load_args(ftpd_config *cfg, char *err, size_t err_size, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "ftpd";
    va_list ap;
    va_start(ap, err_size);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    capture c;
    capture_begin(&c, 2);
    config_result r = config_load(cfg, argc, argv);
    capture_end(&c, err, err_size);
    return r;
}

static int port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void assert_v4(const struct sockaddr_storage *ss, const char *addr, int port)
{
    ck_assert_int_eq(ss->ss_family, AF_INET);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, sizeof(buf));
    ck_assert_str_eq(buf, addr);
    ck_assert_int_eq(port_of(ss), port);
}

static void assert_v6(const struct sockaddr_storage *ss, const char *addr, int port)
{
    ck_assert_int_eq(ss->ss_family, AF_INET6);
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, sizeof(buf));
    ck_assert_str_eq(buf, addr);
    ck_assert_int_eq(port_of(ss), port);
}

START_TEST(test_defaults)
{
    ftpd_config cfg;
    config_defaults(&cfg);
    ck_assert_uint_eq(cfg.listen_count, 1);
    assert_v4(&cfg.listen[0], "127.0.0.1", 2121);
    ck_assert_int_eq(cfg.idle_timeout, 300);
    ck_assert_int_eq(cfg.login_timeout, 60);
    ck_assert_int_eq(cfg.data_timeout, 120);
    ck_assert_int_eq(cfg.max_sessions, 2000);
    ck_assert_int_eq(cfg.max_per_ip, 200);
    ck_assert_int_eq(cfg.max_login_failures, 3);
    ck_assert_int_eq(cfg.login_failure_delay_ms, 1000);
    ck_assert_int_eq(cfg.login_ban_failures, 10);
    ck_assert_int_eq(cfg.login_ban_window, 60);
    ck_assert_int_eq(cfg.login_ban_time, 60);
    ck_assert_int_eq(cfg.log_level, LOG_INFO);
    ck_assert_int_eq(cfg.worker_threads, 0);
    ck_assert_int_eq(cfg.pasv_first, 0);
    ck_assert_int_eq(cfg.pasv_last, 0);
    ck_assert_ptr_null(cfg.pasv_address);
    ck_assert_ptr_null(cfg.run_as_user);
    ck_assert_ptr_null(cfg.xferlog_file);
    ck_assert_ptr_null(cfg.config_file);
    ck_assert(!cfg.demo_account_warning);
    config_free(&cfg);
}
END_TEST

START_TEST(test_every_flag)
{
    ftpd_config cfg;
    char err[2048];
    config_result r =
        load_args(&cfg, err, sizeof(err), "--listen", "0.0.0.0:21", "--users", users_path,
                  "--anonymous", pub_path, "--pasv-ports", "50000-50100", "--pasv-address",
                  "203.0.113.5", "--max-sessions", "10", "--max-per-ip", "3", "--idle-timeout",
                  "30", "--login-timeout", "7", "--data-timeout", "9", "--max-login-failures", "5",
                  "--login-failure-delay", "0", "--user", "nobody", "--xferlog", "/var/log/xferlog",
                  "--log-level", "debug", "--workers", "4", "--inline-hash-max", "0", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(cfg.listen_count, 1);
    assert_v4(&cfg.listen[0], "0.0.0.0", 21);
    ck_assert_str_eq(cfg.users_file, users_path);
    ck_assert_str_eq(cfg.anon_root, pub_path);
    ck_assert_int_eq(cfg.pasv_first, 50000);
    ck_assert_int_eq(cfg.pasv_last, 50100);
    ck_assert_str_eq(cfg.pasv_address, "203.0.113.5");
    ck_assert_int_eq(cfg.max_sessions, 10);
    ck_assert_int_eq(cfg.max_per_ip, 3);
    ck_assert_int_eq(cfg.idle_timeout, 30);
    ck_assert_int_eq(cfg.login_timeout, 7);
    ck_assert_int_eq(cfg.data_timeout, 9);
    ck_assert_int_eq(cfg.max_login_failures, 5);
    ck_assert_int_eq(cfg.login_failure_delay_ms, 0);
    ck_assert_str_eq(cfg.run_as_user, "nobody");
    ck_assert_str_eq(cfg.xferlog_file, "/var/log/xferlog");
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_int_eq(cfg.worker_threads, 4);
    ck_assert_int_eq(cfg.inline_hash_max_us, 0);
    ck_assert(!cfg.demo_account_warning);
    ck_assert_ptr_null(cfg.config_file);
    config_free(&cfg);
}
END_TEST

START_TEST(test_equals_form_and_relative_paths)
{
    ck_assert_int_eq(chdir(tmpdir), 0);
    ftpd_config cfg;
    char err[2048];
    config_result r = load_args(&cfg, err, sizeof(err), "--users=users", "--anonymous=./pub",
                                "--xferlog=xfer.log", "--no-anonymous", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_str_eq(cfg.users_file, users_path);
    ck_assert_ptr_null(cfg.anon_root); /* --no-anonymous came later */
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/xfer.log", tmpdir);
    ck_assert_str_eq(cfg.xferlog_file, want);
    config_free(&cfg);
}
END_TEST

typedef struct bad_flag {
    const char *flag, *value, *want;
} bad_flag;

static const bad_flag bad_flags[] = {
    {"--max-sessions", "x", "ftpd: --max-sessions: expected a number from 1 to 100000, got 'x'\n"},
    {"--max-sessions", "0", "ftpd: --max-sessions: expected a number from 1 to 100000, got '0'\n"},
    {"--max-sessions", "100001",
     "ftpd: --max-sessions: expected a number from 1 to 100000, got '100001'\n"},
    {"--max-sessions", "12abc",
     "ftpd: --max-sessions: expected a number from 1 to 100000, got '12abc'\n"},
    {"--max-sessions", " 12",
     "ftpd: --max-sessions: expected a number from 1 to 100000, got ' 12'\n"},
    {"--max-sessions", "+12",
     "ftpd: --max-sessions: expected a number from 1 to 100000, got '+12'\n"},
    {"--max-sessions", "", "ftpd: --max-sessions: expected a number from 1 to 100000, got ''\n"},
    {"--max-sessions", "99999999999999999999",
     "ftpd: --max-sessions: expected a number from 1 to 100000, got '99999999999999999999'\n"},
    {"--max-per-ip", "-1", "ftpd: --max-per-ip: expected a number from 1 to 100000, got '-1'\n"},
    {"--idle-timeout", "0", "ftpd: --idle-timeout: expected a number from 1 to 86400, got '0'\n"},
    {"--login-timeout", "3601",
     "ftpd: --login-timeout: expected a number from 1 to 3600, got '3601'\n"},
    {"--data-timeout", "1.5",
     "ftpd: --data-timeout: expected a number from 1 to 86400, got '1.5'\n"},
    {"--max-login-failures", "0",
     "ftpd: --max-login-failures: expected a number from 1 to 1000, got '0'\n"},
    {"--login-failure-delay", "60001",
     "ftpd: --login-failure-delay: expected a number from 0 to 60000, got '60001'\n"},
    {"--workers", "-2", "ftpd: --workers: expected a number from 0 to 1024, got '-2'\n"},
    {"--inline-hash-max", "100001",
     "ftpd: --inline-hash-max: expected a number from 0 to 100000, got '100001'\n"},
    {"--local-download-slots", "many",
     "ftpd: --local-download-slots: expected a number from 0 to 100000, got 'many'\n"},
    {"--log-level", "loud", "ftpd: --log-level: expected error, warn, info or debug, got 'loud'\n"},
    {"--pasv-ports", "100-200",
     "ftpd: --pasv-ports: expected FIRST-LAST with 1024 <= FIRST <= LAST <= 65535, got "
     "'100-200'\n"},
    {"--pasv-ports", "60000-50000",
     "ftpd: --pasv-ports: expected FIRST-LAST with 1024 <= FIRST <= LAST <= 65535, got "
     "'60000-50000'\n"},
    {"--pasv-ports", "50000", "ftpd: --pasv-ports: expected FIRST-LAST"},
    {"--pasv-ports", "50000-", "ftpd: --pasv-ports: expected FIRST-LAST"},
    {"--pasv-ports", "-50000", "ftpd: --pasv-ports: expected FIRST-LAST"},
    {"--pasv-ports", "50000-65536", "ftpd: --pasv-ports: expected FIRST-LAST"},
    {"--pasv-address", "example.com",
     "ftpd: --pasv-address: expected a numeric IPv4 address, got 'example.com'\n"},
    {"--pasv-address", "::1", "ftpd: --pasv-address: expected a numeric IPv4 address, got '::1'\n"},
    {"--listen", "localhost:21",
     "ftpd: --listen: expected ADDR:PORT or [IPV6-ADDR]:PORT with a numeric address, got "
     "'localhost:21'\n"},
    {"--listen", "1.2.3.4:99999", "ftpd: --listen: expected ADDR:PORT"},
    {"--users", "/nonexistent/users",
     "ftpd: --users: '/nonexistent/users': No such file or directory\n"},
    {"--users", "/tmp", "ftpd: --users: '/tmp' is not a regular file\n"},
    {"--anonymous", "/nonexistent/pub",
     "ftpd: --anonymous: '/nonexistent/pub': No such file or directory\n"},
    {"--anonymous", "/etc/passwd", "ftpd: --anonymous: '/etc/passwd' is not a directory\n"},
    {"--user", "no-such-user-xyzzy", "ftpd: --user: no such user 'no-such-user-xyzzy'\n"},
    {"--user", "", "ftpd: --user: expected a user name"},
    {"--user", "root", "ftpd: --user: 'root' has uid 0; name an unprivileged account"},
    {"--xferlog", "", "ftpd: --xferlog: expected a path"},
    {"--bogus", "1", "ftpd: unrecognized option '--bogus'\nTry 'ftpd --help'"},
    {"--max-sesions", "1",
     "ftpd: unrecognized option '--max-sesions'\nDid you mean '--max-sessions'?\nTry 'ftpd "
     "--help'"},
    {"stray", NULL, "ftpd: unexpected argument 'stray'\n"},
    {"--config", "/nonexistent/ftpd.conf",
     "ftpd: /nonexistent/ftpd.conf: No such file or directory\n"},
};

START_TEST(test_bad_flag)
{
    const bad_flag *b = &bad_flags[_i];
    ftpd_config cfg;
    char err[2048];
    config_result r =
        load_args(&cfg, err, sizeof(err), "--users", users_path, b->flag, b->value, NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_msg(strncmp(err, b->want, strlen(b->want)) == 0, "got '%s', want '%s'", err, b->want);
}
END_TEST

START_TEST(test_listen_twice)
{
    ftpd_config cfg;
    char err[2048];
    ck_assert_int_eq(load_args(&cfg, err, sizeof(err), "--users", users_path, "--listen",
                               "127.0.0.1:2100", "--listen", "[::1]:2100", "--listen",
                               "127.0.0.1:2100", NULL),
                     CONFIG_ERROR);
    ck_assert_msg(strstr(err, "--listen: '127.0.0.1:2100' is given twice") != NULL, "%s", err);
    /* port 0 asks the kernel for any port: twice is two listeners */
    ck_assert_int_eq(load_args(&cfg, err, sizeof(err), "--users", users_path, "--listen",
                               "127.0.0.1:0", "--listen", "127.0.0.1:0", NULL),
                     CONFIG_OK);
    config_free(&cfg);
}
END_TEST

START_TEST(test_missing_argument)
{
    ftpd_config cfg;
    char err[2048];
    ck_assert_int_eq(load_args(&cfg, err, sizeof(err), "--users", users_path, "--workers", NULL),
                     CONFIG_ERROR);
    ck_assert_msg(strstr(err, "'--workers' requires an argument") != NULL, "%s", err);
}
END_TEST

START_TEST(test_config_file)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "# sample\n"
             "\n"
             "   # indented comment\n"
             "listen = 0.0.0.0:2100\n"
             "\tlisten=[::]:2100   \n"
             "users = %s\n"
             "anonymous = pub\n"
             "pasv-ports = 40000 - 40010\n"
             "max-sessions = 77\n"
             "log-level=warn\r\n"
             "xferlog = logs/xferlog\n",
             users_path);
    /* Spaces around '-' are not allowed in pasv-ports: fix the line after checking. */
    write_conf(text);
    ftpd_config cfg;
    char err[2048];
    config_result r = load_args(&cfg, err, sizeof(err), "-c", conf_path, NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof(want), "ftpd: %s:8: pasv-ports: expected FIRST-LAST", conf_path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

    char *p = strstr(text, "40000 - 40010");
    memcpy(p, "40000-40010  ", 13);
    write_conf(text);
    r = load_args(&cfg, err, sizeof(err), "--config", conf_path, NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.listen_count, 2);
    assert_v4(&cfg.listen[0], "0.0.0.0", 2100);
    assert_v6(&cfg.listen[1], "::", 2100);
    ck_assert_str_eq(cfg.users_file, users_path);
    /* Relative paths in a file are relative to the file. */
    ck_assert_str_eq(cfg.anon_root, pub_path);
    ck_assert_int_eq(cfg.pasv_first, 40000);
    ck_assert_int_eq(cfg.pasv_last, 40010);
    ck_assert_int_eq(cfg.max_sessions, 77);
    ck_assert_int_eq(cfg.log_level, LOG_WARN);
    char xl[PATH_MAX + 32];
    snprintf(xl, sizeof(xl), "%s/logs/xferlog", tmpdir);
    ck_assert_str_eq(cfg.xferlog_file, xl);
    ck_assert_str_eq(cfg.config_file, conf_path);
    ck_assert_int_eq(cfg.max_per_ip, 200); /* untouched default */
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_file_errors)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"# c\n\nfoo = 1\n", ":3: unknown setting 'foo'"},
        {"idle-timout = 5\n", ":1: unknown setting 'idle-timout' (did you mean 'idle-timeout'?)"},
        {"max-sessions = 5\njust some words\n",
         ":2: expected 'key = value', got 'just some words'"},
        {"= 5\n", ":1: expected 'key = value', missing the key"},
        {"idle-timeout =\n", ":1: idle-timeout: expected a number from 1 to 86400, got ''"},
        {"no-anonymous = yes\n", ":1: no-anonymous: a command-line flag only"},
        {"max-sessions = 10 # ten\n", ":1: max-sessions: expected a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_conf(cases[i].text);
        ftpd_config cfg;
        config_defaults(&cfg);
        char err[1024];
        ck_assert_int_eq(config_read_file(&cfg, conf_path, err, sizeof(err)), -1);
        char want[PATH_MAX + 200];
        snprintf(want, sizeof(want), "%s%s", conf_path, cases[i].want);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s', want '%s'", err, want);
        config_free(&cfg);
    }
    /* an editor's byte order mark before the first key is no part of it */
    {
        write_conf("\xEF\xBB\xBFmax-sessions = 12\n");
        ftpd_config bom;
        config_defaults(&bom);
        char e[1024] = "";
        ck_assert_msg(config_read_file(&bom, conf_path, e, sizeof(e)) == 0, "%s", e);
        ck_assert_int_eq(bom.max_sessions, 12);
        config_free(&bom);
    }
    /* a directory named as the config file says what it is */
    {
        ftpd_config dir;
        config_defaults(&dir);
        char e[1024] = "", want[PATH_MAX + 64];
        ck_assert_int_eq(config_read_file(&dir, tmpdir, e, sizeof(e)), -1);
        snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
        ck_assert_str_eq(e, want);
        config_free(&dir);
    }
    /* a flag that is no setting is not suggested for one */
    write_conf("helpp = 1\n");
    ftpd_config cfg;
    config_defaults(&cfg);
    char err[1024];
    ck_assert_int_eq(config_read_file(&cfg, conf_path, err, sizeof(err)), -1);
    ck_assert_str_eq(err + strlen(conf_path), ":1: unknown setting 'helpp'");
    config_free(&cfg);
}
END_TEST

START_TEST(test_flags_override_file)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "max-sessions = 10\nidle-timeout = 11\nlisten = 10.0.0.1:21\nlisten = 10.0.0.2:21\n"
             "anonymous = %s\nusers = %s\n",
             pub_path, users_path);
    write_conf(text);
    ftpd_config cfg;
    char err[2048];
    /* The flag comes before -c and still wins. */
    config_result r = load_args(&cfg, err, sizeof(err), "--max-sessions", "5", "--listen",
                                "[::1]:2121", "--no-anonymous", "-c", conf_path, NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_int_eq(cfg.max_sessions, 5);
    ck_assert_int_eq(cfg.idle_timeout, 11);
    ck_assert_ptr_null(cfg.anon_root);
    ck_assert_uint_eq(cfg.listen_count, 1);
    assert_v6(&cfg.listen[0], "::1", 2121);
    config_free(&cfg);

    /* Without a --listen flag the file's list stays. */
    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.listen_count, 2);
    assert_v4(&cfg.listen[0], "10.0.0.1", 21);
    assert_v4(&cfg.listen[1], "10.0.0.2", 21);
    ck_assert_str_eq(cfg.anon_root, pub_path);
    config_free(&cfg);

    /* "-cFILE" attached form. */
    char attached[PATH_MAX + 32];
    snprintf(attached, sizeof(attached), "-c%s", conf_path);
    r = load_args(&cfg, err, sizeof(err), attached, "--idle-timeout", "12", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_int_eq(cfg.idle_timeout, 12);
    ck_assert_int_eq(cfg.max_sessions, 10);
    config_free(&cfg);

    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, "-c", conf_path, NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_str_eq(err, "ftpd: --config: given more than once\n");
}
END_TEST

START_TEST(test_repeated_listen)
{
    ftpd_config cfg;
    char err[2048];
    config_result r = load_args(&cfg, err, sizeof(err), "--users", users_path, "--listen",
                                "192.0.2.1:2121", "--listen", "[::1]:2122", "--listen",
                                "[2001:db8::1]:0", "--listen", "127.0.0.2", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.listen_count, 4);
    assert_v4(&cfg.listen[0], "192.0.2.1", 2121);
    assert_v6(&cfg.listen[1], "::1", 2122);
    assert_v6(&cfg.listen[2], "2001:db8::1", 0);
    assert_v4(&cfg.listen[3], "127.0.0.2", 2121);
    config_free(&cfg);

    char *argv[2 * CONFIG_MAX_LISTEN + 8];
    int argc = 0;
    argv[argc++] = "ftpd";
    argv[argc++] = "--users";
    argv[argc++] = users_path;
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        argv[argc++] = "--listen";
        argv[argc++] = "127.0.0.1:0";
    }
    argv[argc] = NULL;
    capture c;
    capture_begin(&c, 2);
    r = config_load(&cfg, argc, argv);
    capture_end(&c, err, sizeof(err));
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_str_eq(err, "ftpd: --listen: at most 8 addresses, got one more: '127.0.0.1:0'\n");
}
END_TEST

START_TEST(test_config_set)
{
    ftpd_config cfg;
    config_defaults(&cfg);
    char err[512];
    ck_assert_int_eq(config_set(&cfg, "listen", "[::1]:21", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.listen_count, 1); /* one-shot set replaces */
    assert_v6(&cfg.listen[0], "::1", 21);
    ck_assert_int_eq(config_set(&cfg, "pasv-ports", "1024-65535", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.pasv_first, 1024);
    ck_assert_int_eq(cfg.pasv_last, 65535);
    ck_assert_int_eq(config_set(&cfg, "pasv-ports", "2000-2000", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.pasv_first, 2000);
    ck_assert_int_eq(cfg.pasv_last, 2000);
    ck_assert_int_eq(config_set(&cfg, "anonymous", pub_path, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.anon_root, pub_path);
    ck_assert_int_eq(config_set(&cfg, "anonymous", "off", err, sizeof(err)), 0);
    ck_assert_ptr_null(cfg.anon_root);
    ck_assert_int_eq(config_set(&cfg, "pasv-address", "192.0.2.9", err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(&cfg, "pasv-address", "192.0.2.10", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.pasv_address, "192.0.2.10");
    ck_assert_int_eq(config_set(&cfg, "log-level", "error", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.log_level, LOG_ERROR);
    ck_assert_int_eq(config_set(&cfg, "nope", "1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "unknown setting 'nope'");
    ck_assert_int_eq(config_set(&cfg, "workers", "1025", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "workers: expected a number from 0 to 1024, got '1025'");
    ck_assert_int_eq(cfg.worker_threads, 0);
    ck_assert_int_eq(cfg.inline_hash_max_us, 250); /* the default */
    ck_assert_int_eq(config_set(&cfg, "inline-hash-max", "1000", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.inline_hash_max_us, 1000);
    ck_assert_int_eq(cfg.partial_max_age, 7 * 86400); /* the default: a week */
    ck_assert_int_eq(config_set(&cfg, "partial-max-age", "12h", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.partial_max_age, 43200);
    ck_assert_int_eq(config_set(&cfg, "partial-max-age", "0", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.partial_max_age, 0);
    ck_assert_int_eq(config_set(&cfg, "partial-max-age", "3651d", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&cfg, "partial-max-age", "1w", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "partial-max-age: expected a time such as 7d, 12h, 30m or 90s (plain "
                          "seconds without a unit; at most 3650d), or 0 to keep partial "
                          "uploads for ever; got '1w'");
    ck_assert_int_eq(cfg.partial_max_age, 0);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1h", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.login_ban_failures, 5);
    ck_assert_int_eq(cfg.login_ban_window, 120);
    ck_assert_int_eq(cfg.login_ban_time, 3600);
    ck_assert_int_eq(cfg.login_ban_max, 3600); /* doubling up to an hour: none here */
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1m/1d", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.login_ban_time, 60);
    ck_assert_int_eq(cfg.login_ban_max, 86400);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1h", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.login_ban_max, 3600); /* a value without MAXBAN resets it */
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/2h", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.login_ban_max, 7200);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/8d", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "login-ban: expected FAILURES/WINDOW/BAN[/MAXBAN] such as 10/60s/5m or "
                          "10/60s/1m/1d (1 to 100000 failures, times from 1s to 7d, plain seconds "
                          "without a unit, MAXBAN not below BAN), or off; got '5/2m/8d'");
    ck_assert_int_eq(cfg.login_ban_time, 7200); /* a refused value changes nothing */
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1h/30m", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1h/8d", err, sizeof(err)), -1);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "5/2m/1h/1d/2d", err, sizeof(err)), -1);
    ck_assert_int_eq(cfg.login_ban_max, 7200);
    ck_assert_int_eq(config_set(&cfg, "login-ban", "off", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.login_ban_failures, 0);
    ck_assert_int_eq(cfg.local_download_slots, 0); /* the default: no limit */
    ck_assert_int_eq(config_set(&cfg, "local-download-slots", "4", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.local_download_slots, 4);
    ck_assert_int_eq(config_set(&cfg, "local-download-slots", "-1", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "local-download-slots: expected a number from 0 to 100000, got '-1'");
    config_free(&cfg);
    ck_assert_ptr_null(cfg.pasv_address);
}
END_TEST

START_TEST(test_rates)
{
    ftpd_config cfg;
    char err[2048];
    /* defaults: no limit, and anonymous sessions follow max-rate */
    config_defaults(&cfg);
    ck_assert_uint_eq(cfg.max_rate, 0);
    ck_assert_int_eq(cfg.anon_max_rate, -1);
    config_free(&cfg);
    /* ftpc's --limit-rate syntax; k = 1024 */
    config_result r =
        load_args(&cfg, err, sizeof(err), "--max-rate", "512k", "--anon-max-rate", "1.5M", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.max_rate, 512 * 1024);
    ck_assert_int_eq(cfg.anon_max_rate, 1536 * 1024);
    config_free(&cfg);
    /* an explicit 0 exempts anonymous sessions from max-rate */
    r = load_args(&cfg, err, sizeof(err), "--max-rate=2G", "--anon-max-rate=0", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.max_rate, 2ULL << 30);
    ck_assert_int_eq(cfg.anon_max_rate, 0);
    config_free(&cfg);
    /* file keys of the same names; flags win */
    write_conf("max-rate = 100K\nanon-max-rate = 20kB/s\n");
    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, "--max-rate", "0", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert_uint_eq(cfg.max_rate, 0);
    ck_assert_int_eq(cfg.anon_max_rate, 20 * 1024);
    config_free(&cfg);
    /* bad values: a clear error naming the flag or the file's line */
    r = load_args(&cfg, err, sizeof(err), "--max-rate", "fast", NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_str_eq(err, "ftpd: --max-rate: expected bytes per second such as 800k, 10M or "
                          "1.5G (k, M, G: 1024, 1024^2, 1024^3), or 0 for no limit; got 'fast'\n");
    r = load_args(&cfg, err, sizeof(err), "--anon-max-rate", "-1", NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_msg(strstr(err, "--anon-max-rate: expected bytes per second") != NULL, "%s", err);
    write_conf("max-rate = 10 M\n");
    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof(want), "ftpd: %s:1: max-rate: expected bytes per second", conf_path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(test_help_and_version)
{
    ftpd_config cfg;
    char *argv[] = {"ftpd", "--max-sessions", "bad", "--help", NULL};
    char out[8192];
    capture c;
    capture_begin(&c, 1);
    config_result r = config_load(&cfg, 4, argv);
    capture_end(&c, out, sizeof(out));
    ck_assert_int_eq(r, CONFIG_EXIT_OK);
    static const char *const flags[] = {
        "--config",
        "--listen",
        "--users",
        "--anonymous",
        "--no-anonymous",
        "--pasv-ports",
        "--pasv-address",
        "--max-sessions",
        "--max-per-ip",
        "--idle-timeout",
        "--login-timeout",
        "--data-timeout",
        "--max-login-failures",
        "--login-failure-delay",
        "--user ",
        "--xferlog",
        "--log-level",
        "--workers",
        "--tls ",
        "--tls-cert",
        "--tls-key",
        "--require-tls ",
        "--require-tls-login",
        "--require-tls-data",
        "--require-tls-anonymous",
        "--tls-require-reuse",
        "--listen-implicit",
        "--state-dir",
        "--max-rate",
        "--anon-max-rate",
        "--hash-password",
        "--help",
        "--version",
        "127.0.0.1:2121",
        "default 2000",
        "default 300",
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        ck_assert_msg(strstr(out, flags[i]) != NULL, "help lacks %s", flags[i]);

    char *argv2[] = {"ftpd", "-V", NULL};
    capture_begin(&c, 1);
    r = config_load(&cfg, 2, argv2);
    capture_end(&c, out, sizeof(out));
    ck_assert_int_eq(r, CONFIG_EXIT_OK);
    ck_assert_str_eq(out, "ftpd " FTP_VERSION "\n");
}
END_TEST

/* FTPS settings: flags, file keys, implications and errors. */
START_TEST(test_tls_settings)
{
    ftpd_config cfg;
    char err[2048];
    config_result r = load_args(&cfg, err, sizeof(err), "--users", users_path, NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert(!cfg.tls);
    ck_assert(cfg.tls_require_reuse); /* on by default */
    ck_assert(!cfg.require_tls_login && !cfg.require_tls_data && !cfg.require_tls_anonymous);
    ck_assert_uint_eq(cfg.listen_implicit_count, 0);
    ck_assert_ptr_null(cfg.state_dir);
    config_free(&cfg);

    r = load_args(&cfg, err, sizeof(err), "--users", users_path, "--require-tls",
                  "--tls-require-reuse", "no", "--tls-cert", users_path, "--state-dir", "st",
                  "--listen-implicit", "127.0.0.1", "--listen-implicit", "[::1]:9990", NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert(cfg.tls); /* implied */
    ck_assert(cfg.require_tls_login && cfg.require_tls_data && !cfg.require_tls_anonymous);
    ck_assert(!cfg.tls_require_reuse);
    ck_assert_str_eq(cfg.tls_cert, users_path);
    ck_assert_ptr_null(cfg.tls_key);
    ck_assert_uint_eq(cfg.listen_implicit_count, 2);
    assert_v4(&cfg.listen_implicit[0], "127.0.0.1", 990);
    assert_v6(&cfg.listen_implicit[1], "::1", 9990);
    ck_assert_uint_eq(cfg.listen_count, 1); /* the plain default stays */
    char cwd[PATH_MAX], want[PATH_MAX + 8];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/st", cwd);
    ck_assert_str_eq(cfg.state_dir, want);
    config_free(&cfg);

    char text[1024];
    snprintf(text, sizeof(text),
             "users = %s\n"
             "tls = yes\n"
             "require-tls-data = on\n"
             "require-tls-anonymous = true\n"
             "tls-key = users\n"
             "state-dir = state\n",
             users_path);
    write_conf(text);
    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, NULL);
    ck_assert_msg(r == CONFIG_OK, "%s", err);
    ck_assert(cfg.tls && cfg.require_tls_data && !cfg.require_tls_login);
    ck_assert(cfg.require_tls_anonymous);
    ck_assert_str_eq(cfg.tls_key, users_path);
    snprintf(want, sizeof(want), "%s/state", tmpdir);
    ck_assert_str_eq(cfg.state_dir, want);
    config_free(&cfg);

    static const struct {
        const char *flag, *value, *want;
    } bad[] = {
        {"--tls-require-reuse", "maybe", "ftpd: --tls-require-reuse: expected yes or no"},
        {"--tls-cert", "/nonexistent.pem", "ftpd: --tls-cert: '/nonexistent.pem'"},
        {"--listen-implicit", "localhost:990", "ftpd: --listen-implicit: expected ADDR:PORT"},
        {"--state-dir", "", "ftpd: --state-dir: expected a path"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = load_args(&cfg, err, sizeof(err), "--users", users_path, bad[i].flag, bad[i].value,
                      NULL);
        ck_assert_int_eq(r, CONFIG_ERROR);
        ck_assert_msg(strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "%s", err);
    }
    write_conf("tls = perhaps\n");
    r = load_args(&cfg, err, sizeof(err), "-c", conf_path, "--users", users_path, NULL);
    ck_assert_int_eq(r, CONFIG_ERROR);
    ck_assert_msg(strstr(err, ":1: tls: expected yes or no") != NULL, "%s", err);
}
END_TEST

static config_result hash_with_stdin(const char *input, char *out, size_t out_size, char *err,
                                     size_t err_size)
{
    FILE *in = tmpfile();
    ck_assert_ptr_nonnull(in);
    fputs(input, in);
    fflush(in);
    rewind(in);
    int saved_in = dup(0);
    dup2(fileno(in), 0);
    clearerr(stdin);
    ftpd_config cfg;
    char *argv[] = {"ftpd", "--hash-password", NULL};
    capture co, ce;
    capture_begin(&co, 1);
    capture_begin(&ce, 2);
    config_result r = config_load(&cfg, 2, argv);
    capture_end(&ce, err, err_size);
    capture_end(&co, out, out_size);
    dup2(saved_in, 0);
    close(saved_in);
    fclose(in);
    return r;
}

START_TEST(test_hash_password_flag)
{
    char out[512], err[512];
    ck_assert_int_eq(hash_with_stdin("hunter2\n", out, sizeof(out), err, sizeof(err)),
                     CONFIG_EXIT_OK);
    ck_assert_str_eq(err, ""); /* no prompt when stdin is not a terminal */
    size_t n = strlen(out);
    ck_assert_uint_gt(n, 4);
    ck_assert_int_eq(out[n - 1], '\n');
    out[n - 1] = '\0';
    ck_assert(strncmp(out, "$6$", 3) == 0);
    ck_assert(users_check_password(out, "hunter2"));
    ck_assert(!users_check_password(out, "hunter2\n"));
}
END_TEST

START_TEST(test_hash_password_empty)
{
    char out[512], err[512];
    ck_assert_int_eq(hash_with_stdin("\n", out, sizeof(out), err, sizeof(err)), CONFIG_ERROR);
    ck_assert_str_eq(err, "ftpd: --hash-password: empty password\n");
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(hash_with_stdin("", out, sizeof(out), err, sizeof(err)), CONFIG_ERROR);
    ck_assert_str_eq(err, "ftpd: --hash-password: no password on standard input\n");
}
END_TEST

START_TEST(test_sample_data_fallback)
{
    /* The test binary sits in the build directory, so ../sample_data beside it is the
     * shipped one when the build directory is inside the source tree. */
    ck_assert_int_eq(chdir(tmpdir), 0);
    ftpd_config cfg;
    char err[2048];
    config_result r = load_args(&cfg, err, sizeof(err), NULL);
    if (r == CONFIG_ERROR) {
        ck_assert_msg(strstr(err, "ftpd: no accounts configured") == err, "%s", err);
        return;
    }
    ck_assert_int_eq(r, CONFIG_OK);
    ck_assert_ptr_nonnull(cfg.users_file);
    ck_assert_msg(strstr(cfg.users_file, "sample_data/users") != NULL, "%s", cfg.users_file);
    ck_assert(cfg.demo_account_warning);
    ck_assert_ptr_nonnull(cfg.anon_root);
    ck_assert_str_eq(cfg.anon_root + strlen(cfg.anon_root) - 15, "sample_data/pub");
    config_free(&cfg);

    /* An explicit users file turns the warning off, and the shipped public folder is not
     * opened to anonymous users behind the administrator's back. */
    r = load_args(&cfg, err, sizeof(err), "--users", users_path, NULL);
    ck_assert_int_eq(r, CONFIG_OK);
    ck_assert(!cfg.demo_account_warning);
    ck_assert_str_eq(cfg.users_file, users_path);
    ck_assert_ptr_null(cfg.anon_root);
    config_free(&cfg);

    /* A local sample_data/ in the working directory wins over the one by the binary. */
    ck_assert_int_eq(mkdir("sample_data", 0755), 0);
    ck_assert_int_eq(mkdir("sample_data/pub", 0755), 0);
    r = load_args(&cfg, err, sizeof(err), NULL);
    ck_assert_int_eq(r, CONFIG_OK);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/sample_data/pub", tmpdir);
    ck_assert_str_eq(cfg.anon_root, want);
    config_free(&cfg);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_every_flag);
    tcase_add_test(tc, test_equals_form_and_relative_paths);
    tcase_add_loop_test(tc, test_bad_flag, 0, (int)(sizeof(bad_flags) / sizeof(bad_flags[0])));
    tcase_add_test(tc, test_missing_argument);
    tcase_add_test(tc, test_listen_twice);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_config_file_errors);
    tcase_add_test(tc, test_flags_override_file);
    tcase_add_test(tc, test_repeated_listen);
    tcase_add_test(tc, test_config_set);
    tcase_add_test(tc, test_rates);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_hash_password_flag);
    tcase_add_test(tc, test_hash_password_empty);
    tcase_add_test(tc, test_sample_data_fallback);
    tcase_add_test(tc, test_tls_settings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
