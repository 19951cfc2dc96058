#include "listfmt.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "users.h"

/* ls's notion of "recent": half a Gregorian year. */
#define SIX_MONTHS ((time_t)(365.2425 * 24 * 60 * 60 / 2))
#define FUTURE_SLACK ((time_t)60 * 60)

#define NAME_CACHE_SIZE 32
#define NAME_LEN 64

/* uid/gid -> name. A process-wide cache (the one static of this module) because names
 * practically never change while the server runs, while a getpwuid_r() may go to NSS (LDAP,
 * sssd) and take milliseconds, and a LIST repeats the same few owners for every line.
 * Failed lookups are cached too (as the number), so a missing name costs one lookup. */
typedef struct name_entry {
    unsigned long id;
    bool used;
    char name[NAME_LEN];
} name_entry;

typedef struct name_cache {
    pthread_mutex_t lock;
    name_entry e[NAME_CACHE_SIZE];
    unsigned next; /* round-robin victim */
} name_cache;

static name_cache uid_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};
static name_cache gid_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool cache_get(name_cache *c, unsigned long id, char *out)
{
    bool found = false;
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < NAME_CACHE_SIZE; i++) {
        if (c->e[i].used && c->e[i].id == id) {
            memcpy(out, c->e[i].name, NAME_LEN);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void cache_put(name_cache *c, unsigned long id, const char *name)
{
    pthread_mutex_lock(&c->lock);
    name_entry *e = &c->e[c->next];
    c->next = (c->next + 1) % NAME_CACHE_SIZE;
    e->id = id;
    e->used = true;
    snprintf(e->name, sizeof(e->name), "%s", name);
    pthread_mutex_unlock(&c->lock);
}

/* Looks a name up; the lookup itself runs outside the cache lock so one slow NSS answer
 * does not hold up other threads' cache hits. */
static void id_name(bool group, unsigned long id, char *out)
{
    name_cache *c = group ? &gid_cache : &uid_cache;
    if (cache_get(c, id, out))
        return;

    char stackbuf[1024];
    char *buf = stackbuf, *heap = NULL;
    size_t size = sizeof(stackbuf);
    const char *found = NULL;
    for (;;) {
        int rc;
        if (group) {
            struct group gr, *res = NULL;
            rc = getgrgid_r((gid_t)id, &gr, buf, size, &res);
            if (rc == 0 && res)
                found = res->gr_name;
        } else {
            struct passwd pw, *res = NULL;
            rc = getpwuid_r((uid_t)id, &pw, buf, size, &res);
            if (rc == 0 && res)
                found = res->pw_name;
        }
        if (rc != ERANGE || size >= 1 << 20)
            break;
        size *= 4;
        char *n = realloc(heap, size);
        if (!n)
            break;
        heap = buf = n;
    }
    /* A name that does not fit, or would break the line format, is shown as the number. */
    if (found && found[0] && strlen(found) < NAME_LEN && !strpbrk(found, " \r\n"))
        snprintf(out, NAME_LEN, "%s", found);
    else
        snprintf(out, NAME_LEN, "%lu", id);
    free(heap);
    cache_put(c, id, out);
}

/* Bounded appending: every piece goes through here, so the -1 for a small buffer is decided
 * in one place. */
typedef struct outbuf {
    char *p;
    size_t size;
    size_t len;
    bool overflow;
} outbuf;

__attribute__((format(printf, 2, 3))) static void put(outbuf *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

static int finish(outbuf *o)
{
    if (o->overflow) {
        if (o->size > 0)
            o->p[0] = '\0';
        return -1;
    }
    return (int)o->len;
}

static char type_char(mode_t m)
{
    if (S_ISDIR(m))
        return 'd';
    if (S_ISLNK(m))
        return 'l';
    if (S_ISCHR(m))
        return 'c';
    if (S_ISBLK(m))
        return 'b';
    if (S_ISFIFO(m))
        return 'p';
    if (S_ISSOCK(m))
        return 's';
    return '-';
}

static void mode_string(mode_t m, char out[11])
{
    out[0] = type_char(m);
    out[1] = (m & S_IRUSR) ? 'r' : '-';
    out[2] = (m & S_IWUSR) ? 'w' : '-';
    out[3] = (m & S_ISUID) ? ((m & S_IXUSR) ? 's' : 'S') : ((m & S_IXUSR) ? 'x' : '-');
    out[4] = (m & S_IRGRP) ? 'r' : '-';
    out[5] = (m & S_IWGRP) ? 'w' : '-';
    out[6] = (m & S_ISGID) ? ((m & S_IXGRP) ? 's' : 'S') : ((m & S_IXGRP) ? 'x' : '-');
    out[7] = (m & S_IROTH) ? 'r' : '-';
    out[8] = (m & S_IWOTH) ? 'w' : '-';
    out[9] = (m & S_ISVTX) ? ((m & S_IXOTH) ? 't' : 'T') : ((m & S_IXOTH) ? 'x' : '-');
    out[10] = '\0';
}

/* UTC rather than localtime_r(): the server often runs with TZ unset or in a container
 * whose zone has nothing to do with the client's, and UTC makes listings deterministic and
 * consistent with MDTM and MLSx, which RFC 3659 defines in UTC. */
static void utc(time_t t, struct tm *tm)
{
    if (!gmtime_r(&t, tm)) {
        time_t zero = 0;
        gmtime_r(&zero, tm);
    }
}

int listfmt_ls(char *out, size_t out_size, const char *name, const struct stat *st, time_t now)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    outbuf o = {out, out_size, 0, out_size == 0};
    char mode[11], owner[NAME_LEN], group[NAME_LEN];
    struct tm tm;

    mode_string(st->st_mode, mode);
    id_name(false, (unsigned long)st->st_uid, owner);
    id_name(true, (unsigned long)st->st_gid, group);
    /* Columns as vsftpd and ls -l line them up, at widths that suit most trees: parsers split
     * on blanks either way, and a listing read by eye is not ragged. */
    put(&o, "%s %4llu %-8s %-8s %12lld ", mode, (unsigned long long)st->st_nlink, owner, group,
        (long long)st->st_size);

    time_t t = st->st_mtime;
    utc(t, &tm);
    const char *mon = months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0];
    /* Zero-padded day as vsftpd writes it ("Mar 05"); parsers split on blanks either way.
     * The year takes the width of "HH:MM", hence two spaces before it. */
    if (t > now - SIX_MONTHS && t <= now + FUTURE_SLACK)
        put(&o, "%s %02d %02d:%02d ", mon, tm.tm_mday, tm.tm_hour, tm.tm_min);
    else
        put(&o, "%s %02d  %d ", mon, tm.tm_mday, tm.tm_year + 1900);
    put(&o, "%s\r\n", name);
    return finish(&o);
}

void listfmt_mdtm(char *out, size_t out_size, time_t t)
{
    struct tm tm;
    utc(t, &tm);
    snprintf(out, out_size, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int listfmt_parse_mdtm(const char *s, struct timespec *out)
{
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    int f[6];
    for (int i = 0, at = 0; i < 6; at += width[i], i++)
        if (!digits(s + at, width[i], &f[i]))
            return -1;
    long nsec = 0;
    const char *p = s + 14;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9' && n < 9; p++, n++)
            nsec = nsec * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 9; n++)
            nsec *= 10;
    }
    if (*p != '\0' || f[0] < 1970)
        return -1;
    struct tm tm = {.tm_year = f[0] - 1900,
                    .tm_mon = f[1] - 1,
                    .tm_mday = f[2],
                    .tm_hour = f[3],
                    .tm_min = f[4],
                    .tm_sec = f[5]};
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm() rolls 31 February over into March: a date it had to change was not real. */
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_year != f[0] - 1900 ||
        back.tm_mon != f[1] - 1 || back.tm_mday != f[2] || back.tm_hour != f[3] ||
        back.tm_min != f[4] || back.tm_sec != f[5])
        return -1;
    out->tv_sec = t;
    out->tv_nsec = nsec;
    return 0;
}

int listfmt_mlsx(char *out, size_t out_size, const char *name, const struct stat *st,
                 unsigned perms, const char *type_override, int leading_space)
{
    return listfmt_mlsx_facts(out, out_size, name, st, perms, type_override, leading_space,
                              MLSX_ALL);
}

/* The type fact of what is not a directory: "file", or for anything else RFC 3659 7.5.1's
 * "OS.name=type" form, so a client does not take a FIFO for a file it could download. */
static const char *nondir_type(mode_t mode)
{
    if (S_ISREG(mode))
        return "file";
    if (S_ISFIFO(mode))
        return "OS.unix=fifo";
    if (S_ISSOCK(mode))
        return "OS.unix=socket";
    if (S_ISCHR(mode))
        return "OS.unix=chr";
    if (S_ISBLK(mode))
        return "OS.unix=blk";
    return "OS.unix=other";
}

int listfmt_mlsx_facts(char *out, size_t out_size, const char *name, const struct stat *st,
                       unsigned perms, const char *type_override, int leading_space, unsigned facts)
{
    outbuf o = {out, out_size, 0, out_size == 0};
    bool dir = type_override != NULL || S_ISDIR(st->st_mode);
    const char *type = type_override ? type_override : dir ? "dir" : nondir_type(st->st_mode);
    bool special = !dir && !S_ISREG(st->st_mode); /* RETR and STOR refuse it */
    char modify[32], perm[16];
    size_t n = 0;

    /* A letter needs the user's permission and the server's own access alike (listfmt.h). */
    bool no_read = perms & LISTFMT_NO_READ, no_write = perms & LISTFMT_NO_WRITE;
    bool no_search = perms & LISTFMT_NO_SEARCH, no_names = perms & LISTFMT_NO_NAMES;
    if (dir) {
        bool fixed = no_names || (perms & LISTFMT_ROOT);
        bool changes = !no_search && !no_write; /* names in it can be added and removed */
        if ((perms & PERM_CWD) && !no_search)
            perm[n++] = 'e';
        if ((perms & PERM_LIST) && !no_search && !no_read)
            perm[n++] = 'l';
        if ((perms & PERM_WRITE) && changes)
            perm[n++] = 'c';
        if ((perms & PERM_MKDIR) && changes)
            perm[n++] = 'm';
        if ((perms & PERM_DELETE) && !fixed)
            perm[n++] = 'd';
        if ((perms & PERM_RENAME) && !fixed)
            perm[n++] = 'f';
        if ((perms & PERM_DELETE) && changes)
            perm[n++] = 'p';
    } else {
        bool storable = !special && !no_write && !no_names;
        if ((perms & PERM_READ) && !special && !no_read)
            perm[n++] = 'r';
        if ((perms & PERM_WRITE) && storable)
            perm[n++] = 'w';
        if ((perms & PERM_APPEND) && storable && !no_read)
            perm[n++] = 'a';
        if ((perms & PERM_DELETE) && !no_names)
            perm[n++] = 'd';
        if ((perms & PERM_RENAME) && !no_names)
            perm[n++] = 'f';
    }
    perm[n] = '\0';
    listfmt_mdtm(modify, sizeof(modify), st->st_mtime);

    if (leading_space)
        put(&o, " ");
    if (facts & MLSX_TYPE)
        put(&o, "type=%s;", type);
    if (!dir && (facts & MLSX_SIZE))
        put(&o, "size=%lld;", (long long)st->st_size);
    if (facts & MLSX_MODIFY)
        put(&o, "modify=%s;", modify);
    if (facts & MLSX_PERM)
        put(&o, "perm=%s;", perm);
    if (facts & MLSX_UNIQUE)
        put(&o, "unique=%llxg%llx;", (unsigned long long)st->st_dev,
            (unsigned long long)st->st_ino);
    if (facts & MLSX_UNIX_MODE)
        put(&o, "UNIX.mode=%04o;", (unsigned)(st->st_mode & 07777));
    put(&o, " %s\r\n", name);
    return finish(&o);
}

static const char *const fact_names[] = {"type", "size", "modify", "perm", "unique", "UNIX.mode"};

unsigned listfmt_parse_facts(const char *list)
{
    unsigned facts = 0;
    while (*list) {
        size_t len = strcspn(list, ";");
        for (size_t i = 0; i < sizeof fact_names / sizeof fact_names[0]; i++) {
            if (strlen(fact_names[i]) == len && strncasecmp(list, fact_names[i], len) == 0)
                facts |= 1u << i;
        }
        list += len;
        if (*list == ';')
            list++;
    }
    return facts;
}

void listfmt_format_facts(unsigned facts, bool starred, char *out, size_t out_size)
{
    size_t len = 0;
    if (out_size)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof fact_names / sizeof fact_names[0] && len < out_size; i++) {
        bool on = facts & (1u << i);
        if (!on && !starred)
            continue;
        int n =
            snprintf(out + len, out_size - len, "%s%s;", fact_names[i], on && starred ? "*" : "");
        if (n < 0)
            break;
        len += (size_t)n;
    }
}
