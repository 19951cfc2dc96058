#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "strutil.h"
#include "net.h"
#include "users.h"

#define DEFAULT_LISTEN "127.0.0.1:2121"
#define DEFAULT_PORT 2121
#define DEFAULT_IMPLICIT_PORT 990

/* Where a setting comes from, so that the first `listen` of a source replaces the list the
 * previous source built (flags over file over defaults) while later ones add to it. */
typedef struct set_ctx {
    const char *base_dir;  /* relative paths resolve here; NULL: the working directory */
    bool listen_started;   /* this source already replaced the listen list */
    bool implicit_started; /* ...and the listen-implicit list */
    bool append_listen;    /* false: every `listen` replaces (the one-shot config_set) */
    bool *users_set;       /* config_load's record of explicit settings; may be NULL */
    bool *anon_set;
} set_ctx;

__attribute__((format(printf, 3, 4))) static int set_error(char *err, size_t err_size,
                                                           const char *fmt, ...)
{
    if (err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void config_defaults(ftpd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    socklen_t len;
    int rc = net_parse_hostport(DEFAULT_LISTEN, DEFAULT_PORT, &cfg->listen[0], &len);
    cfg->listen_count = rc == 0 ? 1 : 0;
    cfg->idle_timeout = 300;
    cfg->login_timeout = 60;
    cfg->data_timeout = 120;
    cfg->max_sessions = 2000;
    cfg->max_per_ip = 200;
    cfg->max_login_failures = 3;
    cfg->login_failure_delay_ms = 1000;
    cfg->login_ban_failures = 10;
    cfg->login_ban_window = 60;
    cfg->login_ban_time = 60;
    cfg->login_ban_max = 3600;
    cfg->inline_hash_max_us = 250;
    cfg->log_level = LOG_INFO;
    cfg->worker_threads = 0;
    cfg->tls_require_reuse = true;
    cfg->anon_max_rate = -1;
    cfg->umask = 022;
    cfg->partial_max_age = DEFAULT_PARTIAL_MAX_AGE;
    snprintf(cfg->local_congestion, sizeof cfg->local_congestion, "%s", DEFAULT_LOCAL_CONGESTION);
}

void config_free(ftpd_config *cfg)
{
    free(cfg->users_file);
    free(cfg->anon_root);
    free(cfg->pasv_address);
    free(cfg->run_as_user);
    free(cfg->xferlog_file);
    free(cfg->config_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->state_dir);
    free(cfg->banner);
    cfg->banner = NULL;
    cfg->users_file = cfg->anon_root = cfg->pasv_address = NULL;
    cfg->run_as_user = cfg->xferlog_file = cfg->config_file = NULL;
    cfg->tls_cert = cfg->tls_key = cfg->state_dir = NULL;
}

/* Strict decimal: optional '-', digits, nothing else (strtol alone would take " 12", "+1",
 * "12abc"). */
static int parse_int(const char *s, long min, long max, long *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Absolute form of a path named in a setting, relative to base_dir (or the working
 * directory). Returns a malloc'd string or NULL. */
static char *absolute_path(const set_ctx *ctx, const char *value)
{
    if (value[0] == '/')
        return strdup(value);
    char cwd[PATH_MAX];
    const char *base = ctx->base_dir;
    if (!base) {
        if (!getcwd(cwd, sizeof(cwd)))
            return NULL;
        base = cwd;
    }
    size_t n = strlen(base) + 1 + strlen(value) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", base, value);
    return p;
}

/* Resolves a path that must exist and be a directory (want_dir) or a regular file. */
static int existing_path(const set_ctx *ctx, const char *key, const char *value, bool want_dir,
                         char **out, char *err, size_t err_size)
{
    if (*value == '\0')
        return set_error(err, err_size, "%s: expected a path, got an empty value", key);
    char *abs = absolute_path(ctx, value);
    if (!abs)
        return set_error(err, err_size, "%s: '%s': %s", key, value, strerror(errno));
    char *real = realpath(abs, NULL);
    int e = errno;
    free(abs);
    if (!real)
        return set_error(err, err_size, "%s: '%s': %s", key, value, strerror(e));
    struct stat st;
    if (stat(real, &st) != 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
        free(real);
        return set_error(err, err_size, "%s: '%s' is not a %s", key, value,
                         want_dir ? "directory" : "regular file");
    }
    *out = real;
    return 0;
}

static void replace_str(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

#define LOGIN_BAN_MAX_FAILURES 100000
#define LOGIN_BAN_MAX_TIME (7LL * 86400)

/* login-ban: FAILURES/WINDOW/BAN[/MAXBAN] (times as partial-max-age takes them) or off.
 * Without MAXBAN a repeated ban doubles up to an hour, or not at all when BAN is longer. */
static int set_login_ban(ftpd_config *cfg, const char *value, char *err, size_t err_size)
{
    if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0) {
        cfg->login_ban_failures = 0;
        return 0;
    }
    char copy[64];
    long failures;
    long long window, ban, max = 3600;
    char *slash1, *slash2, *slash3;
    if (strlen(value) >= sizeof copy)
        goto bad;
    memcpy(copy, value, strlen(value) + 1);
    slash1 = strchr(copy, '/');
    slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
    if (!slash2)
        goto bad;
    slash3 = strchr(slash2 + 1, '/');
    *slash1 = *slash2 = '\0';
    if (slash3)
        *slash3 = '\0';
    if (parse_int(copy, 1, LOGIN_BAN_MAX_FAILURES, &failures) != 0 ||
        str_parse_duration(slash1 + 1, LOGIN_BAN_MAX_TIME, &window) != 0 || window < 1 ||
        str_parse_duration(slash2 + 1, LOGIN_BAN_MAX_TIME, &ban) != 0 || ban < 1)
        goto bad;
    if (slash3 && (str_parse_duration(slash3 + 1, LOGIN_BAN_MAX_TIME, &max) != 0 || max < ban))
        goto bad;
    cfg->login_ban_failures = (int)failures;
    cfg->login_ban_window = window;
    cfg->login_ban_time = ban;
    cfg->login_ban_max = max > ban ? max : ban;
    return 0;
bad:
    return set_error(err, err_size,
                     "login-ban: expected FAILURES/WINDOW/BAN[/MAXBAN] such as 10/60s/5m or "
                     "10/60s/1m/1d (1 to 100000 failures, times from 1s to 7d, plain seconds "
                     "without a unit, MAXBAN not below BAN), or off; got '%s'",
                     value);
}

typedef struct int_key {
    const char *key;
    size_t offset;
    long min, max;
} int_key;

static const int_key int_keys[] = {
    {"max-sessions", offsetof(ftpd_config, max_sessions), 1, 100000},
    {"max-per-ip", offsetof(ftpd_config, max_per_ip), 1, 100000},
    {"idle-timeout", offsetof(ftpd_config, idle_timeout), 1, 86400},
    {"login-timeout", offsetof(ftpd_config, login_timeout), 1, 3600},
    {"data-timeout", offsetof(ftpd_config, data_timeout), 1, 86400},
    {"max-login-failures", offsetof(ftpd_config, max_login_failures), 1, 1000},
    {"login-failure-delay", offsetof(ftpd_config, login_failure_delay_ms), 0, 60000},
    {"workers", offsetof(ftpd_config, worker_threads), 0, 1024},
    {"inline-hash-max", offsetof(ftpd_config, inline_hash_max_us), 0, 100000},
    {"local-download-slots", offsetof(ftpd_config, local_download_slots), 0, 100000},
};

/* 0 when ss can be bound beside the listeners of list, else -1 with the reason: the bind would
 * fail with a misleading "Address already in use" (or "Invalid argument"), and --check, which
 * binds nothing, would pass a configuration that cannot start. */
static int unbindable_beside(const struct sockaddr_storage *list, size_t n,
                             const struct sockaddr_storage *ss, const char *key, const char *value,
                             char *err, size_t err_size)
{
    if (net_is_v4_mapped(ss)) /* the bind would fail with a bare "Invalid argument" */
        return set_error(err, err_size,
                         "%s: '%s' is an IPv4-mapped address, which an IPv6 listener (they "
                         "are IPv6-only) cannot take: give the IPv4 address as it is",
                         key, value);
    for (size_t i = 0; i < n; i++) {
        if (!net_binds_clash(&list[i], ss))
            continue;
        char other[NET_ADDR_STRLEN];
        net_addr_str(&list[i], other, sizeof other);
        if (net_same_host(&list[i], ss))
            return set_error(err, err_size, "%s: '%s' is given twice", key, value);
        return set_error(err, err_size,
                         "%s: '%s' and '%s' take the same port (a wildcard address holds it on "
                         "every address of its family)",
                         key, other, value);
    }
    return 0;
}

int config_check_listeners(const ftpd_config *cfg, char *err, size_t err_size)
{
    for (size_t i = 0; i < cfg->listen_implicit_count; i++)
        for (size_t k = 0; k < cfg->listen_count; k++) {
            if (!net_binds_clash(&cfg->listen[k], &cfg->listen_implicit[i]))
                continue;
            char a[NET_ADDR_STRLEN], b[NET_ADDR_STRLEN];
            net_addr_str(&cfg->listen[k], a, sizeof a);
            net_addr_str(&cfg->listen_implicit[i], b, sizeof b);
            return set_error(err, err_size,
                             "listen '%s' and listen-implicit '%s' take the same port: a "
                             "listener is either plain FTP (STARTTLS with --tls) or implicit "
                             "FTPS",
                             a, b);
        }
    return 0;
}

static int set_listen(ftpd_config *cfg, set_ctx *ctx, const char *value, char *err, size_t err_size)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_hostport(value, DEFAULT_PORT, &ss, &len) != 0)
        return set_error(err, err_size,
                         "listen: expected ADDR:PORT or [IPV6-ADDR]:PORT with a numeric "
                         "address, got '%s'",
                         value);
    if (!ctx->append_listen || !ctx->listen_started) {
        cfg->listen_count = 0;
        ctx->listen_started = true;
    }
    if (cfg->listen_count >= CONFIG_MAX_LISTEN)
        return set_error(err, err_size, "listen: at most %d addresses, got one more: '%s'",
                         CONFIG_MAX_LISTEN, value);
    if (unbindable_beside(cfg->listen, cfg->listen_count, &ss, "listen", value, err, err_size) != 0)
        return -1;
    cfg->listen[cfg->listen_count++] = ss;
    return 0;
}

/* An implicit-FTPS listener: like `listen`, but no default, and its port defaults to 990. */
static int set_listen_implicit(ftpd_config *cfg, set_ctx *ctx, const char *value, char *err,
                               size_t err_size)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_hostport(value, DEFAULT_IMPLICIT_PORT, &ss, &len) != 0)
        return set_error(err, err_size,
                         "listen-implicit: expected ADDR:PORT or [IPV6-ADDR]:PORT with a numeric "
                         "address, got '%s'",
                         value);
    if (!ctx->append_listen || !ctx->implicit_started) {
        cfg->listen_implicit_count = 0;
        ctx->implicit_started = true;
    }
    if (cfg->listen_implicit_count >= CONFIG_MAX_LISTEN)
        return set_error(err, err_size, "listen-implicit: at most %d addresses, got one more: '%s'",
                         CONFIG_MAX_LISTEN, value);
    if (unbindable_beside(cfg->listen_implicit, cfg->listen_implicit_count, &ss, "listen-implicit",
                          value, err, err_size) != 0)
        return -1;
    cfg->listen_implicit[cfg->listen_implicit_count++] = ss;
    return 0;
}

/* yes/no settings; a flag without a value (value NULL) means yes. */
typedef struct bool_key {
    const char *key;
    size_t offset;
    size_t also; /* a second field set alike (require-tls sets login and data); 0: none */
} bool_key;

static const bool_key bool_keys[] = {
    {"tls", offsetof(ftpd_config, tls), 0},
    {"require-tls", offsetof(ftpd_config, require_tls_login),
     offsetof(ftpd_config, require_tls_data)},
    {"require-tls-login", offsetof(ftpd_config, require_tls_login), 0},
    {"require-tls-data", offsetof(ftpd_config, require_tls_data), 0},
    {"require-tls-anonymous", offsetof(ftpd_config, require_tls_anonymous), 0},
    {"tls-require-reuse", offsetof(ftpd_config, tls_require_reuse), 0},
};

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "on", "true", "1"};
    static const char *const no[] = {"no", "off", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

static int set_pasv_ports(ftpd_config *cfg, const char *value, char *err, size_t err_size)
{
    const char *dash = strchr(value, '-');
    long first, last;
    char a[16];
    size_t n = dash ? (size_t)(dash - value) : 0;
    if (!dash || n == 0 || n >= sizeof(a))
        goto bad;
    memcpy(a, value, n);
    a[n] = '\0';
    if (parse_int(a, 1024, 65535, &first) != 0 || parse_int(dash + 1, 1024, 65535, &last) != 0 ||
        first > last)
        goto bad;
    cfg->pasv_first = (int)first;
    cfg->pasv_last = (int)last;
    return 0;
bad:
    return set_error(err, err_size,
                     "pasv-ports: expected FIRST-LAST with 1024 <= FIRST <= LAST <= 65535, "
                     "got '%s'",
                     value);
}

/* A kernel congestion control name ("reno", "cubic", "bbr"...), or "system". Whether the
 * kernel has it and lets this user pick it is checked once the server runs as that user. */
static int set_local_congestion(ftpd_config *cfg, const char *value, char *err, size_t err_size)
{
    cfg->local_congestion_given = true;
    if (strcmp(value, "system") == 0) {
        cfg->local_congestion[0] = '\0';
        return 0;
    }
    size_t n = strlen(value);
    bool ok = n > 0 && n < sizeof cfg->local_congestion;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)value[i]) || value[i] == '_' || value[i] == '-';
    if (!ok)
        return set_error(err, err_size,
                         "local-congestion: expected an algorithm name such as reno or cubic "
                         "(at most %zu letters, digits, '_' or '-'), or system; got '%s'",
                         sizeof cfg->local_congestion - 1, value);
    memcpy(cfg->local_congestion, value, n + 1);
    return 0;
}

/* --umask: octal, as umask(1) takes it; set-id and sticky bits are not the client's to get. */
static int set_umask(ftpd_config *cfg, const char *value, char *err, size_t err_size)
{
    size_t n = strlen(value);
    bool ok = n >= 1 && n <= 4 && strspn(value, "01234567") == n;
    long v = ok ? strtol(value, NULL, 8) : -1;
    if (!ok || v > 0777)
        return set_error(err, err_size,
                         "umask: expected an octal mask from 000 to 777 such as 022 or 002, "
                         "got '%s'",
                         value);
    cfg->umask = (int)v;
    return 0;
}

/* --banner: one line of printable text; a CR or LF would end the reply early and let the
 * rest pose as another reply. */
static int set_banner(ftpd_config *cfg, const char *value, char *err, size_t err_size)
{
    size_t n = strlen(value);
    if (n == 0 || n > 200)
        return set_error(err, err_size, "banner: expected 1 to 200 characters, got %zu", n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return set_error(err, err_size,
                             "banner: control characters (such as a line break) are not "
                             "allowed; the greeting is one line");
    char *p = strdup(value);
    if (!p)
        return set_error(err, err_size, "banner: out of memory");
    replace_str(&cfg->banner, p);
    return 0;
}

/* --max-rate, --anon-max-rate: ftpc's --limit-rate syntax (str_parse_rate), 0 for none. */
static int set_rate(const char *key, const char *value, unsigned long long *out, char *err,
                    size_t err_size)
{
    if (str_parse_rate(value, out) != 0)
        return set_error(err, err_size,
                         "%s: expected bytes per second such as 800k, 10M or 1.5G (k, M, G: "
                         "1024, 1024^2, 1024^3), or 0 for no limit; got '%s'",
                         key, value);
    return 0;
}

static const char *nearest_setting(const char *key);

static int set_value(ftpd_config *cfg, set_ctx *ctx, const char *key, const char *value, char *err,
                     size_t err_size)
{
    for (size_t i = 0; i < sizeof(bool_keys) / sizeof(bool_keys[0]); i++) {
        const bool_key *k = &bool_keys[i];
        if (strcmp(key, k->key) != 0)
            continue;
        bool v = true;
        if (value && parse_bool(value, &v) != 0)
            return set_error(err, err_size, "%s: expected yes or no, got '%s'", key, value);
        *(bool *)(void *)((char *)cfg + k->offset) = v;
        if (k->also)
            *(bool *)(void *)((char *)cfg + k->also) = v;
        return 0;
    }
    if (!value)
        return set_error(err, err_size, "%s: expected a value", key);
    for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
        const int_key *k = &int_keys[i];
        if (strcmp(key, k->key) != 0)
            continue;
        long v;
        if (parse_int(value, k->min, k->max, &v) != 0)
            return set_error(err, err_size, "%s: expected a number from %ld to %ld, got '%s'", key,
                             k->min, k->max, value);
        *(int *)(void *)((char *)cfg + k->offset) = (int)v;
        return 0;
    }

    if (strcmp(key, "listen") == 0)
        return set_listen(cfg, ctx, value, err, err_size);
    if (strcmp(key, "pasv-ports") == 0)
        return set_pasv_ports(cfg, value, err, err_size);
    if (strcmp(key, "listen-implicit") == 0)
        return set_listen_implicit(cfg, ctx, value, err, err_size);
    if (strcmp(key, "tls-cert") == 0 || strcmp(key, "tls-key") == 0) {
        char *p;
        if (existing_path(ctx, key, value, false, &p, err, err_size) != 0)
            return -1;
        replace_str(key[4] == 'c' ? &cfg->tls_cert : &cfg->tls_key, p);
        return 0;
    }
    if (strcmp(key, "state-dir") == 0) {
        if (*value == '\0')
            return set_error(err, err_size, "state-dir: expected a path, got an empty value");
        /* Created at start-up when missing, so it need not exist yet. */
        char *p = absolute_path(ctx, value);
        if (!p)
            return set_error(err, err_size, "state-dir: '%s': %s", value, strerror(errno));
        replace_str(&cfg->state_dir, p);
        return 0;
    }
    if (strcmp(key, "users") == 0) {
        char *p;
        if (existing_path(ctx, key, value, false, &p, err, err_size) != 0)
            return -1;
        replace_str(&cfg->users_file, p);
        if (ctx->users_set)
            *ctx->users_set = true;
        return 0;
    }
    if (strcmp(key, "anonymous") == 0) {
        /* "off" is how a file says --no-anonymous; a directory really named "off" can
         * still be given as "./off". */
        char *p = NULL;
        if (strcmp(value, "off") != 0 &&
            existing_path(ctx, key, value, true, &p, err, err_size) != 0)
            return -1;
        replace_str(&cfg->anon_root, p);
        if (ctx->anon_set)
            *ctx->anon_set = true;
        return 0;
    }
    if (strcmp(key, "pasv-address") == 0) {
        struct sockaddr_storage ss;
        socklen_t len;
        /* 227 replies can only carry IPv4; EPSV needs no address at all. */
        if (net_parse_addr(value, &ss, &len) != 0 || ss.ss_family != AF_INET)
            return set_error(err, err_size,
                             "pasv-address: expected a numeric IPv4 address, got '%s'", value);
        char *p = strdup(value);
        if (!p)
            return set_error(err, err_size, "pasv-address: out of memory");
        replace_str(&cfg->pasv_address, p);
        return 0;
    }
    if (strcmp(key, "user") == 0) {
        if (*value == '\0')
            return set_error(err, err_size, "user: expected a user name, got an empty value");
        /* Caught here rather than after binding, when the error would be harder to read. */
        const struct passwd *pw = getpwnam(value);
        if (!pw)
            return set_error(err, err_size, "user: no such user '%s'", value);
        /* dropping to uid 0 drops nothing: the reason to refuse root stands */
        if (pw->pw_uid == 0)
            return set_error(err, err_size,
                             "user: '%s' has uid 0; name an unprivileged account such as nobody",
                             value);
        char *p = strdup(value);
        if (!p)
            return set_error(err, err_size, "user: out of memory");
        replace_str(&cfg->run_as_user, p);
        return 0;
    }
    if (strcmp(key, "xferlog") == 0) {
        if (*value == '\0')
            return set_error(err, err_size, "xferlog: expected a path, got an empty value");
        /* Absolute now: the file is opened later, maybe after the working directory is gone
         * from view (the server drops privileges). */
        char *p = absolute_path(ctx, value);
        if (!p)
            return set_error(err, err_size, "xferlog: '%s': %s", value, strerror(errno));
        replace_str(&cfg->xferlog_file, p);
        return 0;
    }
    if (strcmp(key, "umask") == 0)
        return set_umask(cfg, value, err, err_size);
    if (strcmp(key, "partial-max-age") == 0) {
        if (str_parse_duration(value, PARTIAL_MAX_AGE_MAX, &cfg->partial_max_age) != 0)
            return set_error(err, err_size,
                             "partial-max-age: expected a time such as 7d, 12h, 30m or 90s "
                             "(plain seconds without a unit; at most 3650d), or 0 to keep "
                             "partial uploads for ever; got '%s'",
                             value);
        return 0;
    }
    if (strcmp(key, "login-ban") == 0)
        return set_login_ban(cfg, value, err, err_size);
    if (strcmp(key, "banner") == 0)
        return set_banner(cfg, value, err, err_size);
    if (strcmp(key, "local-congestion") == 0)
        return set_local_congestion(cfg, value, err, err_size);
    if (strcmp(key, "max-rate") == 0)
        return set_rate(key, value, &cfg->max_rate, err, err_size);
    if (strcmp(key, "anon-max-rate") == 0) {
        unsigned long long v;
        if (set_rate(key, value, &v, err, err_size) != 0)
            return -1;
        cfg->anon_max_rate = (long long)v; /* at most 1e15: fits */
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        if (log_parse_level(value, &cfg->log_level) != 0)
            return set_error(err, err_size,
                             "log-level: expected error, warn, info or debug, got '%s'", value);
        return 0;
    }
    if (strcmp(key, "progress") == 0) {
        static const char *const modes[] = {"auto", "on", "off"};
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
            if (strcmp(value, modes[i]) == 0) {
                cfg->view = (ftpd_view_mode)i;
                return 0;
            }
        return set_error(err, err_size, "progress: expected auto, on or off, got '%s'", value);
    }
    if (strcmp(key, "no-anonymous") == 0)
        return set_error(err, err_size,
                         "no-anonymous: a command-line flag only; write 'anonymous = off'");
    const char *near = nearest_setting(key);
    if (near != NULL)
        return set_error(err, err_size, "unknown setting '%s' (did you mean '%s'?)", key, near);
    return set_error(err, err_size, "unknown setting '%s'", key);
}

int config_set(ftpd_config *cfg, const char *key, const char *value, char *err, size_t err_size)
{
    set_ctx ctx = {0};
    return set_value(cfg, &ctx, key, value, err, err_size);
}

/* The line each key of a file was first set on. A key set twice is most likely one edited
 * in one place and forgotten in the other, where the edit has no effect: worth a warning. */
#define KEYS_TRACKED 64
typedef struct first_lines {
    struct {
        char key[32]; /* the longest key has 21 characters */
        size_t line;
    } v[KEYS_TRACKED];
    size_t n;
} first_lines;

/* Records key's first line; returns it if key was set before (0 if not). listen and
 * listen-implicit add a listener each time, so they are no repeat. */
static size_t note_first_line(first_lines *f, const char *key, size_t line)
{
    if (strcmp(key, "listen") == 0 || strcmp(key, "listen-implicit") == 0)
        return 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].key, key) == 0)
            return f->v[i].line;
    if (f->n < KEYS_TRACKED && strlen(key) < sizeof f->v[0].key) {
        snprintf(f->v[f->n].key, sizeof f->v[0].key, "%s", key);
        f->v[f->n++].line = line;
    }
    return 0;
}

/* A value wrapped whole in a pair of double or single quotes, as many configuration files
 * write a text (banner = "Welcome"), is what lies between them: the quotes would otherwise
 * show in every greeting, or make a path that does not exist. A quote anywhere else, or one
 * of that kind inside the pair ("a" and "b"), leaves the value as it is. */
static char *unquote(char *value)
{
    size_t n = strlen(value);
    if (n < 2 || (value[0] != '"' && value[0] != '\'') || value[n - 1] != value[0] ||
        memchr(value + 1, value[0], n - 2) != NULL)
        return value;
    value[n - 1] = '\0';
    return value + 1;
}

static int read_file(ftpd_config *cfg, const char *path, set_ctx *ctx, char *err, size_t err_size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return set_error(err, err_size, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        memset(&st, 0, sizeof st);
    if (S_ISDIR(st.st_mode)) {
        fclose(f);
        return set_error(err, err_size, "%s: %s", path, strerror(EISDIR));
    }
    /* Paths inside the file are relative to the file, as a reader of the file expects. */
    char *real = realpath(path, NULL);
    if (real) {
        char *slash = strrchr(real, '/');
        if (slash == real)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    ctx->base_dir = real;

    char *line = NULL;
    size_t cap = 0;
    size_t lineno = 0;
    int rc = 0;
    char msg[512];
    first_lines firsts = {0};
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        /* Everything past a NUL would be dropped without a word: a banner cut short, a path
         * that names another file. A file saved as UTF-16 has one in every line. */
        if (memchr(line, '\0', (size_t)len) != NULL) {
            rc = set_error(err, err_size,
                           "%s:%zu: the line holds a NUL byte, which would cut its value "
                           "short: the file must be plain text (UTF-8 or ASCII, not UTF-16)",
                           path, lineno);
            break;
        }
        char *s = line;
        /* a byte order mark some editors write would otherwise join the first key */
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s = str_trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = set_error(err, err_size, "%s:%zu: expected 'key = value', got '%s'", path, lineno,
                           s);
            break;
        }
        *eq = '\0';
        char *key = str_trim(s);
        char *value = unquote(str_trim(eq + 1));
        if (*key == '\0') {
            rc = set_error(err, err_size, "%s:%zu: expected 'key = value', missing the key", path,
                           lineno);
            break;
        }
        if (set_value(cfg, ctx, key, value, msg, sizeof(msg)) != 0) {
            rc = set_error(err, err_size, "%s:%zu: %s", path, lineno, msg);
            break;
        }
        size_t first = note_first_line(&firsts, key, lineno);
        if (first != 0)
            log_warn("%s:%zu: %s is set again (first on line %zu): the value here counts", path,
                     lineno, key, first);
    }
    if (rc == 0 && ferror(f))
        rc = set_error(err, err_size, "%s: read error", path);
    free(line);
    free(real);
    ctx->base_dir = NULL;
    fclose(f);
    if (rc == 0) {
        char *p = strdup(path);
        if (p)
            replace_str(&cfg->config_file, p);
        cfg->config_stat = st;
    }
    return rc;
}

int config_read_file(ftpd_config *cfg, const char *path, char *err, size_t err_size)
{
    set_ctx ctx = {.append_listen = true};
    return read_file(cfg, path, &ctx, err, err_size);
}

/* ---- command line ---- */

enum {
    OPT_LISTEN = 256,
    OPT_USERS,
    OPT_ANONYMOUS,
    OPT_NO_ANONYMOUS,
    OPT_PASV_PORTS,
    OPT_PASV_ADDRESS,
    OPT_MAX_SESSIONS,
    OPT_MAX_PER_IP,
    OPT_IDLE_TIMEOUT,
    OPT_LOGIN_TIMEOUT,
    OPT_DATA_TIMEOUT,
    OPT_MAX_LOGIN_FAILURES,
    OPT_LOGIN_FAILURE_DELAY,
    OPT_LOGIN_BAN,
    OPT_USER,
    OPT_XFERLOG,
    OPT_LOG_LEVEL,
    OPT_PROGRESS,
    OPT_WORKERS,
    OPT_INLINE_HASH_MAX,
    OPT_HASH_PASSWORD,
    OPT_CHECK,
    OPT_TLS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_REQUIRE_TLS,
    OPT_REQUIRE_TLS_LOGIN,
    OPT_REQUIRE_TLS_DATA,
    OPT_REQUIRE_TLS_ANONYMOUS,
    OPT_TLS_REQUIRE_REUSE,
    OPT_LISTEN_IMPLICIT,
    OPT_STATE_DIR,
    OPT_LOCAL_CONGESTION,
    OPT_LOCAL_DOWNLOAD_SLOTS,
    OPT_MAX_RATE,
    OPT_ANON_MAX_RATE,
    OPT_UMASK,
    OPT_BANNER,
    OPT_PARTIAL_MAX_AGE,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"hash-password", no_argument, NULL, OPT_HASH_PASSWORD},
    {"check", no_argument, NULL, OPT_CHECK},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"users", required_argument, NULL, OPT_USERS},
    {"anonymous", required_argument, NULL, OPT_ANONYMOUS},
    {"no-anonymous", no_argument, NULL, OPT_NO_ANONYMOUS},
    {"pasv-ports", required_argument, NULL, OPT_PASV_PORTS},
    {"pasv-address", required_argument, NULL, OPT_PASV_ADDRESS},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"login-timeout", required_argument, NULL, OPT_LOGIN_TIMEOUT},
    {"data-timeout", required_argument, NULL, OPT_DATA_TIMEOUT},
    {"max-login-failures", required_argument, NULL, OPT_MAX_LOGIN_FAILURES},
    {"login-failure-delay", required_argument, NULL, OPT_LOGIN_FAILURE_DELAY},
    {"login-ban", required_argument, NULL, OPT_LOGIN_BAN},
    {"user", required_argument, NULL, OPT_USER},
    {"xferlog", required_argument, NULL, OPT_XFERLOG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"inline-hash-max", required_argument, NULL, OPT_INLINE_HASH_MAX},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"require-tls", no_argument, NULL, OPT_REQUIRE_TLS},
    {"require-tls-login", no_argument, NULL, OPT_REQUIRE_TLS_LOGIN},
    {"require-tls-data", no_argument, NULL, OPT_REQUIRE_TLS_DATA},
    {"require-tls-anonymous", no_argument, NULL, OPT_REQUIRE_TLS_ANONYMOUS},
    {"tls-require-reuse", required_argument, NULL, OPT_TLS_REQUIRE_REUSE},
    {"listen-implicit", required_argument, NULL, OPT_LISTEN_IMPLICIT},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"local-congestion", required_argument, NULL, OPT_LOCAL_CONGESTION},
    {"local-download-slots", required_argument, NULL, OPT_LOCAL_DOWNLOAD_SLOTS},
    {"max-rate", required_argument, NULL, OPT_MAX_RATE},
    {"anon-max-rate", required_argument, NULL, OPT_ANON_MAX_RATE},
    {"umask", required_argument, NULL, OPT_UMASK},
    {"banner", required_argument, NULL, OPT_BANNER},
    {"partial-max-age", required_argument, NULL, OPT_PARTIAL_MAX_AGE},
    {NULL, 0, NULL, 0},
};
/* '+' is not used: GNU permutation lets options follow stray words so they can be
 * reported; the leading ':' is absent so getopt itself explains a missing argument. */
static const char short_opts[] = "c:hV";

/* The flags that are no setting of a config file. */
static const struct option flag_only[] = {
    {"config", 0, NULL, 0},        {"help", 0, NULL, 0},  {"version", 0, NULL, 0},
    {"hash-password", 0, NULL, 0}, {"check", 0, NULL, 0}, {NULL, 0, NULL, 0},
};

static const char *nearest_setting(const char *key)
{
    const char *near = str_nearest_option(key, long_opts);
    if (near == NULL)
        return NULL;
    for (const struct option *o = flag_only; o->name != NULL; o++)
        if (strcmp(near, o->name) == 0)
            return NULL;
    return near;
}

static const char *long_name(int c)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

static void print_help(void)
{
    fputs("Usage: ftpd [OPTION]...\n"
          "An FTP server for local accounts (a users file) and anonymous read access.\n"
          "\n"
          "Every long option but --config, --no-anonymous (anonymous = off), --check,\n"
          "--hash-password, --help and --version is also a key of the configuration\n"
          "file (`key = value`); options on the command line override the file whatever\n"
          "their order.\n"
          "\n"
          "  -c, --config FILE         read settings from FILE first\n"
          "      --listen ADDR:PORT    listen on ADDR:PORT, e.g. 0.0.0.0:21 or [::1]:2121\n"
          "                            (ADDR alone: port 2121); up to 8 times (default\n"
          "                            " DEFAULT_LISTEN ")\n"
          "      --users FILE          accounts, lines of name:crypt-hash:home[:perms]\n"
          "                            (default, when neither --users nor --anonymous is\n"
          "                            given: the shipped sample_data/users)\n"
          "      --anonymous DIR       allow anonymous read-only access to DIR\n"
          "                            (default: as for --users, the shipped\n"
          "                            sample_data/pub)\n"
          "      --no-anonymous        refuse anonymous logins (file: anonymous = off)\n"
          "      --pasv-ports FIRST-LAST\n"
          "                            passive data ports, 1024..65535 (default: any)\n"
          "      --pasv-address ADDR   IPv4 address to announce in 227 replies\n"
          "                            (default: the control connection's address)\n"
          "      --max-sessions N      sessions at once, 1..100000 (default 2000)\n"
          "      --max-per-ip N        sessions at once from one address (default 200)\n"
          "      --idle-timeout SECS   close an idle session after SECS (default 300)\n"
          "      --login-timeout SECS  time to log in after connecting (default 60)\n"
          "      --data-timeout SECS   abort a transfer stalled for SECS (default 120)\n"
          "      --max-login-failures N\n"
          "                            close a session after N failed logins (default 3)\n"
          "      --login-failure-delay MS\n"
          "                            wait before \"530 Login incorrect\" (default 1000)\n"
          "      --login-ban FAILURES/WINDOW/BAN[/MAXBAN]\n"
          "                            refuse logins from an address (an IPv6 /64) for BAN\n"
          "                            after FAILURES failed logins within WINDOW; a ban\n"
          "                            soon after the last doubles, up to MAXBAN (1h), e.g.\n"
          "                            10/60s/5m/1d; off for never (default 10/60s/60s/1h)\n"
          "      --user NAME           after binding, switch to user NAME (needed as root)\n"
          "      --xferlog FILE        append an xferlog line per transfer (default: off)\n"
          "      --umask MASK          octal mask for files and folders ftpd creates, from\n"
          "                            0666 and 0777: 002 makes uploads group-writable\n"
          "                            (default 022: files 644, folders 755)\n"
          "      --banner TEXT         the greeting after 220\n"
          "                            (default: ftpd VERSION ready.)\n"
          "      --partial-max-age TIME\n"
          "                            remove the bytes of a cut upload kept for a resume\n"
          "                            once unwritten for TIME, e.g. 12h, 30d (s, m, h, d);\n"
          "                            0 keeps them for ever (default 7d)\n"
          "      --log-level LEVEL     error, warn, info or debug (default info)\n"
          "      --progress auto|on|off\n"
          "                            a live view of sessions and transfers (bars, rates)\n"
          "                            below the log; auto: when standard error is a\n"
          "                            terminal (default auto)\n"
          "      --workers N           threads for password checks and slow file work,\n"
          "                            0..1024; 0 means one per CPU (default 0); as\n"
          "                            many threads write large uploads into files\n"
          "      --inline-hash-max US  check hash methods measured cheaper than US\n"
          "                            microseconds of CPU on the event loop, not on a\n"
          "                            worker; 0..100000, 0 never (default 250)\n"
          "      --local-congestion NAME\n"
          "                            TCP congestion control for a large download that\n"
          "                            runs alone to a client on this host, or system for\n"
          "                            the system's default (default " DEFAULT_LOCAL_CONGESTION
          ")\n"
          "      --local-download-slots N\n"
          "                            downloads to clients on this host fed at once, the\n"
          "                            rest waiting in line; 0 for no limit (default 0)\n"
          "      --max-rate RATE       bytes a second any one transfer (download, upload or\n"
          "                            listing) may move on its data connection, e.g. 800k,\n"
          "                            10M, 1.5G (k = 1024); 0 for no limit (default 0)\n"
          "      --anon-max-rate RATE  the same for anonymous sessions, instead of\n"
          "                            --max-rate; 0 for no limit (default: --max-rate)\n"
          "\n"
          "FTPS (TLS, RFC 4217):\n"
          "      --tls                 offer AUTH TLS on the control connection\n"
          "      --tls-cert FILE       PEM certificate (chain) for TLS (default: a\n"
          "                            self-signed one, generated at first start in the\n"
          "                            state directory)\n"
          "      --tls-key FILE        PEM private key (default: the --tls-cert file)\n"
          "      --require-tls         logins and data connections must be protected\n"
          "                            (= --require-tls-login --require-tls-data)\n"
          "      --require-tls-login   USER/PASS only after AUTH TLS\n"
          "      --require-tls-data    data connections only under PROT P\n"
          "      --require-tls-anonymous\n"
          "                            hold anonymous sessions to the two rules above too\n"
          "                            (default: anonymous sessions are exempt)\n"
          "      --tls-require-reuse yes|no\n"
          "                            a PROT P data connection must resume the control\n"
          "                            connection's TLS session (default yes)\n"
          "      --listen-implicit ADDR:PORT\n"
          "                            also listen for implicit FTPS (TLS from the first\n"
          "                            byte), e.g. 0.0.0.0:990; up to 8 times\n"
          "      --state-dir DIR       where the generated certificate is kept (default:\n"
          "                            /var/lib/ftpd as root, else $XDG_STATE_HOME/ftpd or\n"
          "                            ~/.local/state/ftpd)\n"
          "      --require-tls, --require-tls-login, --require-tls-data and\n"
          "      --listen-implicit turn --tls on.\n"
          "\n"
          "      --hash-password       read a password from standard input (twice from a\n"
          "                            terminal), print its SHA-512-crypt hash for a\n"
          "                            users file, and exit\n"
          "      --check               read and check the settings, users file, TLS\n"
          "                            certificate and transfer log, print a summary and\n"
          "                            exit: 0 if ftpd would start with them\n"
          "  -h, --help                show this help and exit\n"
          "  -V, --version             show the version and exit\n"
          "\n"
          "Exit status: 0 on a clean stop, 1 when start-up fails, 2 on a bad option,\n"
          "configuration or users file, or as root without --user. --check exits as a\n"
          "start would.\n",
          stdout);
}

/* The terminal's settings while --hash-password reads with echo off, for a signal to put
 * back: Ctrl-C at the prompt would otherwise leave the shell typing blind. */
static struct termios echo_saved;

static void restore_echo_and_die(int sig)
{
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &echo_saved);
    (void)!write(STDERR_FILENO, "\n", 1); /* the prompt's line ends, as a typed newline would */
    signal(sig, SIG_DFL);
    raise(sig); /* the status the shell expects of a program that Ctrl-C ended */
}

/* Those that end the program (Ctrl-Z stops it, and the shell keeps a stopped job's terminal
 * settings apart from its own). */
static const int echo_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
#define ECHO_SIGNALS (sizeof echo_signals / sizeof echo_signals[0])
static struct sigaction echo_signals_before[ECHO_SIGNALS];

static void catch_echo_signals(bool on)
{
    struct sigaction sa = {0};
    sa.sa_handler = restore_echo_and_die;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ECHO_SIGNALS; i++)
        sigaddset(&sa.sa_mask, echo_signals[i]);
    for (size_t i = 0; i < ECHO_SIGNALS; i++) {
        if (!on)
            sigaction(echo_signals[i], &echo_signals_before[i], NULL);
        else if (sigaction(echo_signals[i], NULL, &echo_signals_before[i]) == 0 &&
                 echo_signals_before[i].sa_handler != SIG_IGN) /* nohup's stay ignored */
            sigaction(echo_signals[i], &sa, NULL);
    }
}

/* One line of standard input, after prompt on a terminal, without its line end; -1 at the
 * end of the input. */
static ssize_t read_password_line(bool tty, const char *prompt, char **line, size_t *cap)
{
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
    }
    ssize_t n = getline(line, cap, stdin);
    if (n < 0) {
        if (tty) /* Ctrl-D echoes no newline: the message must not follow the prompt */
            fputc('\n', stderr);
        return -1;
    }
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = '\0';
    return n;
}

static void free_password(char *line, size_t cap)
{
    if (line) {
        explicit_bzero(line, cap);
        free(line);
    }
}

static config_result hash_password(void)
{
    /* main holds SIGHUP for a server's reload; a hangup here must end the prompt and give
     * the terminal its echo back, as before */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &hup, NULL);
    bool tty = isatty(STDIN_FILENO);
    struct termios noecho;
    bool restore = false;
    if (tty && tcgetattr(STDIN_FILENO, &echo_saved) == 0) {
        noecho = echo_saved;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        noecho.c_lflag |= ECHONL;
        catch_echo_signals(true);
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == 0;
        if (!restore)
            catch_echo_signals(false);
    }
    char *line = NULL, *again = NULL;
    size_t cap = 0, again_cap = 0;
    ssize_t n = read_password_line(tty, "Password: ", &line, &cap);
    /* Typed without echo, a slip of a finger would hash a password nobody knows, found out
     * only when the account cannot log in: a terminal is asked twice. A pipe is not, as
     * its sender knows what it sent. */
    ssize_t m = tty && n > 0 ? read_password_line(tty, "Again: ", &again, &again_cap) : 0;
    if (restore) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &echo_saved);
        catch_echo_signals(false);
    }

    config_result res = CONFIG_ERROR;
    char hash[256];
    if (n < 0)
        fputs("ftpd: --hash-password: no password on standard input\n", stderr);
    else if (n == 0)
        fputs("ftpd: --hash-password: empty password\n", stderr);
    else if (tty && m < 0)
        fputs("ftpd: --hash-password: no second entry of the password; nothing was hashed\n",
              stderr);
    else if (tty && (m != n || memcmp(line, again, (size_t)n) != 0))
        fputs("ftpd: --hash-password: the two passwords do not match; nothing was hashed\n",
              stderr);
    else if (users_hash_password(line, hash, sizeof(hash)) != 0)
        fputs("ftpd: --hash-password: hashing failed\n", stderr);
    else {
        printf("%s\n", hash);
        fflush(stdout);
        res = CONFIG_EXIT_OK;
    }
    free_password(line, cap);
    free_password(again, again_cap);
    return res;
}

/* The source tree this ftpd was built from, when it runs from its own build directory (a
 * build directory outside the tree, as `cmake -B /tmp/build` makes). An installed copy never
 * looks there: the path was the build machine's, and anyone may have created it since. */
static const char *own_source_dir(const char *exe_dir)
{
#if defined(FTPD_SOURCE_DIR) && defined(FTPD_BUILD_DIR)
    char *build = realpath(FTPD_BUILD_DIR, NULL);
    if (!build)
        return NULL;
    size_t n = strlen(build);
    bool inside = strncmp(exe_dir, build, n) == 0 && (exe_dir[n] == '\0' || exe_dir[n] == '/');
    free(build);
    return inside ? FTPD_SOURCE_DIR : NULL;
#else
    (void)exe_dir;
    return NULL;
#endif
}

/* A file or directory of the shipped sample_data/, looked for in the working directory, then
 * beside the executable (../ and ../../ of its directory cover build/ftpd and deeper build
 * trees), then in the source tree of the build directory it runs from. Returns a malloc'd
 * real path or NULL. */
static char *find_sample(const char *rel, bool want_dir)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char exe_dir[PATH_MAX] = "";
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(exe_dir, sizeof(exe_dir), "%s", exe);
        }
    }
    const char *source_dir = exe_dir[0] ? own_source_dir(exe_dir) : NULL;
    const char *prefixes[] = {".", exe_dir[0] ? exe_dir : NULL, source_dir};
    const char *ups[] = {"", "/..", "/../.."};
    for (size_t p = 0; p < 3; p++) {
        if (!prefixes[p])
            continue;
        for (size_t u = 0; u < 3; u++) {
            /* The working directory and the source tree at their own level, the
             * executable's directory one and two levels up. */
            if ((u != 0) != (p == 1))
                continue;
            char cand[PATH_MAX * 2];
            snprintf(cand, sizeof(cand), "%s%s/sample_data/%s", prefixes[p], ups[u], rel);
            char *real = realpath(cand, NULL);
            if (!real)
                continue;
            struct stat st;
            if (stat(real, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
                return real;
            free(real);
        }
    }
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

config_result config_load(ftpd_config *cfg, int argc, char **argv)
{
    config_defaults(cfg);

    /* First pass: only what must happen before the other flags (-c, so that flags override
     * the file whatever their order) or instead of them (--help, --version,
     * --hash-password). Errors are left to the second pass, which reports each once. */
    const char *config_path = NULL;
    bool help = false, version = false, hash = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (config_path) {
                fputs("ftpd: --config: given more than once\n", stderr);
                return CONFIG_ERROR;
            }
            config_path = optarg;
            break;
        case 'h':
            help = true;
            break;
        case 'V':
            version = true;
            break;
        case OPT_HASH_PASSWORD:
            hash = true;
            break;
        default:
            break;
        }
    }
    if (help) {
        print_help();
        return CONFIG_EXIT_OK;
    }
    if (version) {
        puts("ftpd " FTP_VERSION);
        return CONFIG_EXIT_OK;
    }
    if (hash && optind < argc) {
        /* `ftpd --hash-password secret` would ignore the word and wait for standard input;
         * the word is not repeated here, as it may be the password */
        fputs("ftpd: --hash-password takes no argument: it reads the password from standard "
              "input (after a prompt on a terminal), so a password typed on the command line "
              "stays in the shell's history\n",
              stderr);
        return CONFIG_ERROR;
    }
    if (hash)
        return hash_password();

    bool users_set = false, anon_set = false;
    char err[1024];
    if (config_path) {
        set_ctx fctx = {.append_listen = true, .users_set = &users_set, .anon_set = &anon_set};
        if (read_file(cfg, config_path, &fctx, err, sizeof(err)) != 0) {
            fprintf(stderr, "ftpd: %s\n", err);
            config_free(cfg);
            return CONFIG_ERROR;
        }
    }

    set_ctx actx = {.append_listen = true, .users_set = &users_set, .anon_set = &anon_set};
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        const char *key = NULL, *value = optarg;
        switch (c) {
        case 'c':
        case 'h':
        case 'V':
        case OPT_HASH_PASSWORD:
            continue;
        case OPT_CHECK:
            cfg->check_only = true;
            continue;
        case OPT_NO_ANONYMOUS:
            key = "anonymous";
            value = "off";
            break;
        case '?': {
            /* getopt named the option; a long one that is a typo gets a suggestion */
            const char *bad = argv[optind - 1];
            const char *near = optopt == 0 && strncmp(bad, "--", 2) == 0
                                   ? str_nearest_option(bad, long_opts)
                                   : NULL;
            if (near != NULL)
                fprintf(stderr, "Did you mean '--%s'?\n", near);
            fputs("Try 'ftpd --help' for more information.\n", stderr);
            config_free(cfg);
            return CONFIG_ERROR;
        }
        default:
            key = long_name(c);
            break;
        }
        if (set_value(cfg, &actx, key, value, err, sizeof(err)) != 0) {
            /* err begins with the key; the user typed it as a flag. */
            fprintf(stderr, "ftpd: --%s\n", err);
            config_free(cfg);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ftpd: unexpected argument '%s'\nTry 'ftpd --help' for more information.\n",
                argv[optind]);
        config_free(cfg);
        return CONFIG_ERROR;
    }

    /* The shipped sample data stands in only for a server given no accounts at all: once an
     * administrator names either, the other is not filled in behind their back. */
    if (!users_set && !anon_set) {
        cfg->users_file = find_sample("users", false);
        cfg->anon_root = find_sample("pub", true);
    }
    if (!cfg->users_file && !cfg->anon_root) {
        /* Only anonymous = off gets here with the sample data looked for or not: it is not
         * looked for then, and "not found" would send the operator after a folder that may
         * be right there. */
        if (anon_set)
            fputs("ftpd: no accounts configured: anonymous logins are off (--no-anonymous "
                  "or anonymous = off) and no users file is given: give --users FILE (the "
                  "shipped sample_data/ stands in only when neither is set)\n",
                  stderr);
        else
            fputs("ftpd: no accounts configured: give --users FILE and/or --anonymous DIR "
                  "(the shipped sample_data/ was not found)\n",
                  stderr);
        config_free(cfg);
        return CONFIG_ERROR;
    }
    if (config_check_listeners(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "ftpd: %s\n", err);
        config_free(cfg);
        return CONFIG_ERROR;
    }
    cfg->demo_account_warning = cfg->users_file && ends_with(cfg->users_file, "sample_data/users");
    if (cfg->require_tls_login || cfg->require_tls_data || cfg->listen_implicit_count > 0)
        cfg->tls = true;
    return CONFIG_OK;
}
