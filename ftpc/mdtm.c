/* Modification times as FTP gives them (mdtm.h). */
#include "mdtm.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int64_t ftpc_parse_mdtm(const char *s, size_t n)
{
    if (n < 14)
        return -1;
    for (int i = 0; i < 14; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = digits(s, 4) - 1900;
    tm.tm_mon = digits(s + 4, 2) - 1;
    tm.tm_mday = digits(s + 6, 2);
    tm.tm_hour = digits(s + 8, 2);
    tm.tm_min = digits(s + 10, 2);
    tm.tm_sec = digits(s + 12, 2);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    return (int64_t)timegm(&tm);
}

int64_t ftpc_parse_mdtm_reply(const char *text)
{
    while (*text == ' ')
        text++;
    return ftpc_parse_mdtm(text, strspn(text, "0123456789."));
}

int ftpc_format_mdtm(int64_t when, char *out, size_t out_size)
{
    time_t t = (time_t)when;
    struct tm tm;
    if (out_size < 15 || gmtime_r(&t, &tm) == NULL ||
        strftime(out, out_size, "%Y%m%d%H%M%S", &tm) != 14)
        return -1;
    return 0;
}
