#include "users.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt_scratch.h"
#include "strutil.h"

#define USER_NAME_MAX 64

/* A SHA-512-crypt hash of a random string nobody knows (made once with `openssl passwd -6`).
 * Unknown users are checked against it so they cost the same time as a wrong password. */
static const char dummy_hash[] = "$6$.OXf0Xf5IS5nvuUg$tIB1LSUS2ACKjdNwPpAkwz9lLseFqrhQcn14ZI/0zuH6k"
                                 "R8JVnYehAdsCn/Kh2yU747ajTWkcflL21EsQMSOq/";

static const char perm_letters[] = "elradfmwSTM";

int users_parse_perms(const char *s, unsigned *perms)
{
    unsigned p = 0;
    for (; *s; s++) {
        const char *l = strchr(perm_letters, *s);
        if (!l)
            return -1;
        p |= 1u << (l - perm_letters);
    }
    *perms = p;
    return 0;
}

void users_format_perms(unsigned perms, char *out)
{
    size_t n = 0;
    for (size_t i = 0; perm_letters[i]; i++)
        if (perms & (1u << i))
            out[n++] = perm_letters[i];
    out[n] = '\0';
}

void users_free(ftpd_users *users)
{
    for (size_t i = 0; i < users->n; i++) {
        free(users->v[i].name);
        free(users->v[i].hash);
        free(users->v[i].home);
    }
    free(users->v);
    free(users->by_name);
    users->v = NULL;
    users->by_name = NULL;
    users->n = 0;
}

bool users_is_anonymous_name(const char *name)
{
    /* Any case, as vsftpd and ProFTPD take it: "ANONYMOUS" is no one's account name. */
    return strcasecmp(name, "anonymous") == 0 || strcasecmp(name, "ftp") == 0;
}

const ftpd_user *users_find(const ftpd_users *users, const char *name)
{
    if (!users->by_name) {
        for (size_t i = 0; i < users->n; i++)
            if (strcmp(users->v[i].name, name) == 0)
                return &users->v[i];
        return NULL;
    }
    size_t lo = 0, hi = users->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(users->by_name[mid]->name, name);
        if (c == 0)
            return users->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* By name, then by place in v: the file's order among accounts of one name. */
static int by_name_then_line(const void *a, const void *b)
{
    const ftpd_user *ua = *(const ftpd_user *const *)a, *ub = *(const ftpd_user *const *)b;
    int c = strcmp(ua->name, ub->name);
    if (c != 0)
        return c;
    return (ua > ub) - (ua < ub);
}

__attribute__((format(printf, 5, 6))) static int
load_error(char *err, size_t err_size, const char *path, size_t line, const char *fmt, ...)
{
    int n = line ? snprintf(err, err_size, "%s:%zu: ", path, line)
                 : snprintf(err, err_size, "%s: ", path);
    if (n >= 0 && (size_t)n < err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > USER_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return false;
    return true;
}

static bool is_crypt64(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '/';
}

static bool valid_hash(const char *h)
{
    size_t n = strlen(h);
    if (h[0] == '$')
        return n > 1;
    if (n != 13)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_crypt64(h[i]))
            return false;
    return true;
}

/* For the common methods, the length of the checksum that ends a complete hash: a hash cut
 * short (a pasting accident) still has a valid prefix, and would load an account that no
 * password can open. 0 for a method not listed here, which is left to crypt(3). */
static size_t checksum_len(const char *h)
{
    static const struct {
        const char *prefix;
        size_t len;
    } methods[] = {
        {"$1$", 22}, {"$5$", 43}, {"$6$", 86}, {"$y$", 43}, {"$gy$", 43}, {"$7$", 43},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strncmp(h, methods[i].prefix, strlen(methods[i].prefix)) == 0)
            return methods[i].len;
    return 0;
}

/* Whether a hash of a method checksum_len knows is whole: its last '$' field has the
 * checksum's length in crypt's alphabet (bcrypt, "$2b$NN$" and 53 more, is whole at 60). */
static bool hash_complete(const char *h)
{
    if (h[0] == '$' && h[1] == '2' && h[2] != '\0' && h[3] == '$')
        return strlen(h) == 60;
    size_t want = checksum_len(h);
    if (want == 0)
        return true;
    const char *sum = strrchr(h, '$') + 1;
    if (strlen(sum) != want || sum - h <= (ptrdiff_t)strlen("$x$"))
        return false;
    for (const char *p = sum; *p; p++)
        if (!is_crypt64(*p))
            return false;
    return true;
}

/* Resolves home (relative to the users file's directory) to an absolute path. */
static char *resolve_home(const char *file_dir, const char *home, int *err_no)
{
    char joined[PATH_MAX];
    if (home[0] != '/') {
        int n = snprintf(joined, sizeof(joined), "%s/%s", file_dir, home);
        if (n < 0 || (size_t)n >= sizeof(joined)) {
            *err_no = ENAMETOOLONG;
            return NULL;
        }
        home = joined;
    }
    char *real = realpath(home, NULL);
    if (!real && (errno == ENOENT || errno == EACCES)) {
        /* A home removed, not made yet, or behind a folder the loader may not search (a
         * SIGHUP reads the file as --user) costs its account the logins, not the server its
         * start or the other accounts their reload: it loads under the path as written,
         * homecheck warns of it, and it serves once the folder is there. */
        real = strdup(home);
    }
    if (!real) {
        *err_no = errno;
        return NULL;
    }
    struct stat st;
    if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode)) {
        *err_no = ENOTDIR;
        free(real);
        return NULL;
    }
    return real;
}

/* Parses one non-comment line into u. Returns 0, or -1 with the error in err. */
static int parse_line(char *s, const char *path, size_t lineno, const char *file_dir, ftpd_user *u,
                      char *err, size_t err_size)
{
    /* Hashes from crypt(3) never hold ':', but a home directory may: so the name and the
     * hash end at the first two colons, the permissions follow the last one, and whatever
     * lies between is the home. */
    char *c1 = strchr(s, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return load_error(err, err_size, path, lineno,
                          "expected 'name:hash:home[:perms]', found too few fields");
    *c1 = '\0';
    *c2 = '\0';
    const char *name = s, *hash = c1 + 1;
    char *home = c2 + 1;
    const char *perms_s = NULL;
    char *c3 = strrchr(home, ':');
    if (c3) {
        *c3 = '\0';
        perms_s = c3 + 1;
    }

    if (!valid_name(name))
        return load_error(err, err_size, path, lineno,
                          "bad user name '%s' (1 to %d printable characters, no spaces)", name,
                          USER_NAME_MAX);
    if (!valid_hash(hash))
        return load_error(err, err_size, path, lineno,
                          "user '%s': the password field is not a crypt(3) hash "
                          "(make one with `ftpd --hash-password`)",
                          name);
    if (hash[0] == '$' && !hash_complete(hash))
        return load_error(err, err_size, path, lineno,
                          "user '%s': the password hash is cut short or malformed (its "
                          "checksum after the last '$' is incomplete)",
                          name);
#ifdef CRYPT_CHECKSALT_AVAILABLE
    if (crypt_checksalt(hash) == CRYPT_SALT_INVALID)
        return load_error(err, err_size, path, lineno,
                          "user '%s': this system's crypt(3) does not support the hash method",
                          name);
#endif
    unsigned perms = PERM_DEFAULT;
    if (perms_s) {
        if (*perms_s == '\0')
            return load_error(err, err_size, path, lineno,
                              "user '%s': empty permissions (omit the field for the default "
                              "'elr')",
                              name);
        if (users_parse_perms(perms_s, &perms) != 0)
            return load_error(err, err_size, path, lineno,
                              "user '%s': bad permissions '%s' (letters from 'elradfmwSTM')", name,
                              perms_s);
    }
    if (*home == '\0')
        return load_error(err, err_size, path, lineno, "user '%s': empty home directory", name);
    int e = 0;
    char *real = resolve_home(file_dir, home, &e);
    if (!real)
        return load_error(err, err_size, path, lineno, "user '%s': home '%s': %s", name, home,
                          strerror(e));
    u->name = strdup(name);
    u->hash = strdup(hash);
    u->home = real;
    u->perms = perms;
    if (!u->name || !u->hash) {
        free(u->name);
        free(u->hash);
        free(u->home);
        return load_error(err, err_size, path, lineno, "out of memory");
    }
    return 0;
}

/* Sorts the accounts by name into users->by_name, where a name given twice lies next to
 * itself. The one to report is the repeat that comes first in the file, as a reader going
 * down the file would meet it. Returns 0, or -1 with the error in err. */
static int index_by_name(ftpd_users *users, const size_t *line_of, const char *path, char *err,
                         size_t err_size)
{
    users->by_name = malloc(users->n * sizeof *users->by_name);
    if (!users->by_name)
        return load_error(err, err_size, path, 0, "out of memory");
    for (size_t i = 0; i < users->n; i++)
        users->by_name[i] = &users->v[i];
    qsort(users->by_name, users->n, sizeof *users->by_name, by_name_then_line);
    const ftpd_user *first = NULL, *repeat = NULL;
    for (size_t i = 1; i < users->n; i++) {
        const ftpd_user *a = users->by_name[i - 1], *b = users->by_name[i];
        if (strcmp(a->name, b->name) == 0 && (!repeat || b < repeat)) {
            first = a;
            repeat = b;
        }
    }
    if (!repeat)
        return 0;
    /* first is the name's first line in the file: a line of it between first and repeat
     * would be an earlier repeat. */
    return load_error(err, err_size, path, line_of[repeat - users->v],
                      "duplicate user '%s' (first on line %zu)", repeat->name,
                      line_of[first - users->v]);
}

int users_load(const char *path, ftpd_users *users, char *err, size_t err_size)
{
    users->v = NULL;
    users->by_name = NULL;
    users->n = 0;
    /* Non-blocking until it is known to be a file: a FIFO put in its place would hold the
     * open (on a worker, at SIGHUP) until someone wrote to it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return load_error(err, err_size, path, 0, "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return load_error(err, err_size, path, 0, "%s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return load_error(err, err_size, path, 0, "%s",
                          S_ISDIR(st.st_mode) ? "a directory, not a users file"
                                              : "not a regular file, not a users file");
    }
    FILE *f = fcntl(fd, F_SETFL, 0) == 0 ? fdopen(fd, "re") : NULL;
    if (!f) {
        int e = errno;
        close(fd);
        return load_error(err, err_size, path, 0, "%s", strerror(e));
    }

    /* Homes are relative to the file, not to wherever the server happens to start. */
    char file_dir[PATH_MAX];
    char *real_file = realpath(path, NULL);
    if (!real_file) {
        int e = errno;
        fclose(f);
        return load_error(err, err_size, path, 0, "%s", strerror(e));
    }
    snprintf(file_dir, sizeof(file_dir), "%s", real_file);
    free(real_file);
    char *slash = strrchr(file_dir, '/');
    if (slash == file_dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';

    size_t *first_line = NULL; /* line of each user, for the duplicate message */
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    size_t lineno = 0;
    int rc = 0;
    while (getline(&line, &line_cap, f) >= 0) {
        lineno++;
        char *s = line;
        /* the byte order mark some editors write (Notepad) would join the first name, and
         * "bad user name 'alice'" would not show why */
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s = str_trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        ftpd_user u;
        if (parse_line(s, path, lineno, file_dir, &u, err, err_size) != 0) {
            rc = -1;
            break;
        }
        if (users->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ftpd_user *nv = realloc(users->v, ncap * sizeof(*nv));
            size_t *nl = nv ? realloc(first_line, ncap * sizeof(*nl)) : NULL;
            if (nv)
                users->v = nv;
            if (nl)
                first_line = nl;
            if (!nv || !nl) {
                load_error(err, err_size, path, lineno, "out of memory");
                rc = -1;
            } else {
                cap = ncap;
            }
        }
        if (rc != 0) {
            free(u.name);
            free(u.hash);
            free(u.home);
            break;
        }
        first_line[users->n] = lineno;
        users->v[users->n++] = u;
    }
    if (rc == 0 && ferror(f))
        rc = load_error(err, err_size, path, 0, "read error");
    /* Every account read so far lies above the line of any error that stopped the reading,
     * so a duplicate among them is the first thing wrong with the file. */
    if (users->n > 0 && index_by_name(users, first_line, path, err, err_size) != 0)
        rc = -1;
    free(line);
    free(first_line);
    fclose(f);
    if (rc != 0)
        users_free(users);
    return rc;
}

/* Time depends only on the lengths, never on where the strings first differ. */
static bool const_time_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    size_t n = na > nb ? na : nb;
    unsigned diff = (unsigned)(na ^ nb);
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < na ? (unsigned char)a[i] : 0;
        unsigned char cb = i < nb ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(ca ^ cb);
    }
    return diff == 0;
}

bool users_check_password(const char *hash, const char *password)
{
    /* struct crypt_data is 32 KiB: too big for a worker thread's stack, so it lives on the
     * heap. Zeroed, as libxcrypt asks before first use. */
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return false;
    const char *setting = hash ? hash : dummy_hash;
    crypt_scratch_begin();
    const char *out = crypt_r(password ? password : "", setting, cd);
    crypt_scratch_end();
    /* crypt_r reports failure as NULL or a string starting with '*'. */
    bool ok = out && out[0] != '*' && const_time_equal(out, setting);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok && hash != NULL;
}

static int random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int users_hash_password(const char *password, char *out, size_t out_size)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    /* libxcrypt turns 16 random bytes into the 16 salt characters SHA-512-crypt allows
     * (fewer bytes give a shorter salt). */
    unsigned char rnd[16];
    if (random_bytes(rnd, sizeof(rnd)) != 0)
        return -1;
#if defined(CRYPT_GENSALT_IMPLEMENTS_AUTO_ENTROPY)
    if (!crypt_gensalt_rn("$6$", 0, (const char *)rnd, (int)sizeof(rnd), setting,
                          (int)sizeof(setting)))
        return -1;
#else
    static const char alphabet[] =
        "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    memcpy(setting, "$6$", 3);
    for (size_t i = 0; i < 16; i++)
        setting[3 + i] = alphabet[rnd[i] & 63];
    setting[19] = '\0';
#endif
    explicit_bzero(rnd, sizeof(rnd));

    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return -1;
    const char *h = crypt_r(password, setting, cd);
    int rc = -1;
    if (h && h[0] != '*' && strlen(h) < out_size) {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}
