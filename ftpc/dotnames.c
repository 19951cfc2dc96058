/* Lines are held until their end, since "dir/.." shows what it is only at its last byte. */
#include "dotnames.h"

#include <string.h>

static bool is_dot_entry(const char *line, size_t len)
{
    const char *slash = memrchr(line, '/', len);
    const char *base = slash ? slash + 1 : line;
    size_t blen = len - (size_t)(base - line);
    return (blen == 1 && base[0] == '.') || (blen == 2 && base[0] == '.' && base[1] == '.');
}

/* The held line, ended by its LF (or by the end of the listing when nl is false). */
static int flush_line(ftpc_dotnames *f, bool nl, ftpc_dotnames_out out, void *ud)
{
    size_t len = f->len;
    f->len = 0;
    if (is_dot_entry(f->line, len))
        return 0;
    if (len > 0 && out(ud, f->line, len) < 0)
        return -1;
    return nl ? out(ud, "\n", 1) : 0;
}

int ftpc_dotnames_feed(ftpc_dotnames *f, const char *p, size_t len, ftpc_dotnames_out out, void *ud)
{
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        if (f->passing) {
            if (out(ud, p, nl ? n + 1 : n) < 0)
                return -1;
            f->passing = nl == NULL;
        } else if (f->len + n > sizeof(f->line)) {
            /* too long for a dot entry: out with what was held */
            if ((f->len > 0 && out(ud, f->line, f->len) < 0) || out(ud, p, nl ? n + 1 : n) < 0)
                return -1;
            f->len = 0;
            f->passing = nl == NULL;
        } else {
            memcpy(f->line + f->len, p, n);
            f->len += n;
            if (nl != NULL && flush_line(f, true, out, ud) < 0)
                return -1;
        }
        if (nl == NULL)
            break;
        p += n + 1;
        len -= n + 1;
    }
    return 0;
}

int ftpc_dotnames_end(ftpc_dotnames *f, ftpc_dotnames_out out, void *ud)
{
    if (f->passing) {
        f->passing = false;
        return 0;
    }
    return flush_line(f, false, out, ud);
}
