#include "strutil.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int str_to_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int str_parse_octal(const char *s, size_t n, size_t max_digits, unsigned max, unsigned *out)
{
    if (n == 0 || n > max_digits || max_digits > 10)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7')
            return -1;
        v = v * 8 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int str_parse_rate(const char *s, unsigned long long *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0.0))
        return -1;
    double mul = 1.0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1024.0;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024.0 * 1024.0;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024.0 * 1024.0 * 1024.0;
        end++;
        break;
    default:
        return -1;
    }
    /* Accept an optional "B" or "B/s" suffix: "200kB", "1MB/s". */
    if (*end == 'b' || *end == 'B')
        end++;
    if (end[0] == '/' && (end[1] == 's' || end[1] == 'S') && end[2] == '\0')
        end += 2;
    if (*end != '\0')
        return -1;
    v *= mul;
    if ((v != 0.0 && v < 1.0) || v > 1e15)
        return -1;
    *out = (unsigned long long)v;
    return 0;
}

char *str_format_duration(long long secs, char *out, size_t size)
{
    static const struct {
        long long secs;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (secs > 0 && secs % units[i].secs == 0) {
            snprintf(out, size, "%lld%c", secs / units[i].secs, units[i].unit);
            return out;
        }
    snprintf(out, size, "%llds", secs);
    return out;
}

int str_parse_duration(const char *s, long long max, long long *out)
{
    long long v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > max)
            return -1;
    }
    long long unit = 1;
    switch (*p) {
    case '\0':
        break;
    case 's':
        p++;
        break;
    case 'm':
        unit = 60;
        p++;
        break;
    case 'h':
        unit = 3600;
        p++;
        break;
    case 'd':
        unit = 86400;
        p++;
        break;
    default:
        return -1;
    }
    if (*p != '\0' || v > max / unit)
        return -1;
    *out = v * unit;
    return 0;
}

unsigned str_distance(const char *a, const char *b, unsigned cap)
{
    enum { MAXLEN = 63 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return cap + 1;
    unsigned row[MAXLEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0], best = (unsigned)i;
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1; /* every later row only grows */
    }
    return row[lb] > cap ? cap + 1 : row[lb];
}

const char *str_nearest_option(const char *word, const struct option *opts)
{
    char w[64];
    if (word[0] == '-' && word[1] == '-')
        word += 2;
    size_t n = strcspn(word, "=");
    if (n == 0 || n >= sizeof(w))
        return NULL;
    /* Options are lower case: compared so, a word typed in capitals (MAX-SESSIONS in a
     * configuration file) finds its option instead of being too far from every one. */
    for (size_t i = 0; i < n; i++)
        w[i] = (char)tolower((unsigned char)word[i]);
    w[n] = '\0';
    unsigned cap = n < 5 ? 1 : 2, best = cap + 1;
    const char *found = NULL;
    for (const struct option *o = opts; o->name != NULL; o++) {
        unsigned d = str_distance(w, o->name, cap);
        if (d == 0) /* the word itself, or it in other capitals */
            return strncmp(word, o->name, n) == 0 ? NULL : o->name;
        if (d < best) {
            best = d;
            found = o->name;
        }
    }
    return found;
}
