/* Permission bits from MLST and STAT replies about one file. */
#include "rmode.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "mirror_modes.h"
#include "mlstopts.h"

/* The facts of one MLST line (" fact=v;fact=v; path", leading space gone): the mode, or -1. */
static int mode_of_facts(const char *f, size_t n)
{
    const char *sp = memchr(f, ' ', n);
    if (sp == NULL)
        return -1;
    bool file = true;
    int mode = -1;
    ftpc_mlst_fact fact;
    while (ftpc_mlst_next_fact(&f, sp, &fact)) {
        if (fact.name_len == 4 && strncasecmp(fact.name, "type", 4) == 0)
            file = fact.value_len == 4 && strncasecmp(fact.value, "file", 4) == 0;
        else if (fact.name_len == 9 && strncasecmp(fact.name, "UNIX.mode", 9) == 0)
            mode = ftpc_mode_from_fact(fact.value, fact.value_len);
    }
    return file ? mode : -1;
}

int ftpc_rmode_from_mlst(const char *text)
{
    /* The fact line is the one that starts with a space (RFC 3659 7.2). */
    for (const char *l = text; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n > 0 && l[n - 1] == '\r')
            n--;
        if (n > 1 && l[0] == ' ')
            return mode_of_facts(l + 1, n - 1);
        if (nl == NULL)
            break;
        l = nl + 1;
    }
    return -1;
}

/* Where the name starts in a Unix-style listing line (n bytes): after the date, which is a
 * month, a day and a time or year, and one space; NULL when the line has no such date. The
 * columns before it vary (a group left out), and the name may hold spaces. */
static const char *listed_name(const char *l, size_t n)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    const char *tok[8];
    size_t len[8];
    size_t i = 0;
    int nt = 0;
    while (nt < 8) {
        while (i < n && l[i] == ' ')
            i++;
        size_t st = i;
        while (i < n && l[i] != ' ')
            i++;
        if (i == st)
            return NULL;
        tok[nt] = l + st;
        len[nt] = i - st;
        nt++;
        if (nt < 6)
            continue;
        /* tok[nt - 3..nt - 1]: "Dec" "07" "01:49" or "Jan" "1" "2020"? */
        const char *mon = tok[nt - 3], *day = tok[nt - 2], *ty = tok[nt - 1];
        bool is_month = false;
        for (int m = 0; len[nt - 3] == 3 && m < 12; m++)
            is_month |= strncasecmp(mon, months + 3 * m, 3) == 0;
        bool is_day = len[nt - 2] <= 2 && isdigit((unsigned char)day[0]) &&
                      isdigit((unsigned char)day[len[nt - 2] - 1]);
        bool is_ty = (len[nt - 1] == 5 && ty[2] == ':') ||
                     (len[nt - 1] == 4 && isdigit((unsigned char)ty[0]));
        if (is_month && is_day && is_ty)
            return i + 1 < n && l[i] == ' ' ? l + i + 1 : NULL;
    }
    return NULL;
}

/* The line of text that lists name's last component, its length in *len; NULL when there
 * is none. type: '-' a regular file, 'd' a directory; 0 any entry but a directory, a link
 * ("name -> target", ls -l) by its own name. */
static const char *entry_line(const char *text, const char *name, char type, size_t *len)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t bl = strlen(base);
    if (bl == 0)
        return NULL;
    for (const char *l = text; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n > 0 && l[n - 1] == '\r')
            n--;
        /* "-rw-r--r-- 1 u g 3 Dec 07 01:49 name": a line of that type, for that name */
        bool typed = n > 0 && (type != 0 ? l[0] == type : l[0] != 'd');
        const char *ln = typed ? listed_name(l, n) : NULL;
        size_t rest = ln != NULL ? (size_t)(l + n - ln) : 0;
        bool link = type == 0 && l[0] == 'l' && rest > bl + 4 && memcmp(ln + bl, " -> ", 4) == 0;
        if (ln != NULL && rest >= bl && memcmp(ln, base, bl) == 0 && (rest == bl || link)) {
            *len = n;
            return l;
        }
        if (nl == NULL)
            break;
        l = nl + 1;
    }
    return NULL;
}

int ftpc_rmode_from_stat(const char *text, const char *name)
{
    size_t n;
    const char *l = entry_line(text, name, '-', &n);
    return l != NULL ? ftpc_mode_from_perms(l + 1, n - 1) : -1;
}

bool ftpc_rlist_names_dir(const char *text, const char *name)
{
    size_t n;
    return entry_line(text, name, 'd', &n) != NULL;
}

/* A link's name in its line is "name -> target" (ls -l): the entry is name, whatever the
 * target says. Any type but a directory's: a directory is listed by what it holds. */
const char *ftpc_rlist_entry_line(const char *text, const char *name, size_t *len)
{
    return entry_line(text, name, 0, len);
}
