/* The status file of a segmented download: a few text lines.
 *
 *   ftpc-seg-state 1
 *   url ftp://host/dir/na%20me
 *   size 67108864
 *   mdtm 20261206121000
 *   range 0 16777216 5242880
 *   ...
 */
#include "segstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partname.h"

#define STATE_MAGIC "ftpc-seg-state 1"

int ftpc_segstate_name(const char *seg_path, char *out, size_t out_size)
{
    int n = snprintf(out, out_size, "%s%s", seg_path, FTPC_SEG_STATE_EXT);
    return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

/* Bytes that would end the line or are hard to read go as %XX. */
static void escape_into(const char *s, char *out, size_t out_size)
{
    size_t k = 0;
    for (; *s != '\0' && k + 4 < out_size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch == 0x7f || ch == '%')
            k += (size_t)snprintf(out + k, out_size - k, "%%%02X", ch);
        else
            out[k++] = (char)ch;
    }
    out[k] = '\0';
}

/* Every range's progress is written with the same number of digits, so that every state of
 * one download has the same length and ftpc_segstate_overwrite can put it over the last. */
static void write_lines(FILE *f, const ftpc_segstate *st)
{
    fprintf(f, "%s\nurl %s\nsize %" PRId64 "\nmdtm %s\n", STATE_MAGIC, st->url, st->size,
            st->mdtm[0] ? st->mdtm : "-");
    for (int i = 0; i < st->n; i++)
        fprintf(f, "range %" PRIu64 " %" PRIu64 " %020" PRIu64 "\n", st->r[i].start, st->r[i].end,
                st->r[i].pos);
}

int ftpc_segstate_save(const char *path, const ftpc_segstate *st)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s%s", path, FTPC_SEG_STATE_TMP_EXT) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    write_lines(f, st);
    bool bad = fflush(f) != 0 || ferror(f) || fdatasync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = true;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

static int bad(char *why, size_t why_size, const char *what)
{
    snprintf(why, why_size, "%s", what);
    return -2;
}

int ftpc_segstate_load(const char *path, ftpc_segstate *st, char *why, size_t why_size)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return errno == ENOENT ? -1 : bad(why, why_size, strerror(errno));
    memset(st, 0, sizeof(*st));
    st->size = -1;
    char line[FTPC_SEGSTATE_URL_MAX + 16];
    bool magic = false, have_url = false, have_mdtm = false;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            rc = bad(why, why_size, "a line is cut off or too long");
            break;
        }
        line[--len] = '\0';
        uint64_t a, b, c;
        int64_t sz;
        int used = 0;
        if (!magic) {
            if (strcmp(line, STATE_MAGIC) != 0)
                rc = bad(why, why_size, "not an ftpc segment state");
            magic = true;
        } else if (strncmp(line, "url ", 4) == 0 && !have_url && len - 4 < sizeof(st->url)) {
            memcpy(st->url, line + 4, len - 4 + 1);
            have_url = true;
        } else if (sscanf(line, "size %" SCNd64 "%n", &sz, &used) == 1 && used == (int)len &&
                   sz >= 0 && st->size < 0) {
            st->size = sz;
        } else if (strncmp(line, "mdtm ", 5) == 0 && !have_mdtm && len - 5 < sizeof(st->mdtm)) {
            if (strcmp(line + 5, "-") != 0)
                memcpy(st->mdtm, line + 5, len - 5 + 1);
            have_mdtm = true;
        } else if (sscanf(line, "range %" SCNu64 " %" SCNu64 " %" SCNu64 "%n", &a, &b, &c, &used) ==
                       3 &&
                   used == (int)len && st->n < FTPC_SEGSTATE_RANGES_MAX) {
            st->r[st->n++] = (ftpc_segrange){a, b, c};
        } else {
            rc = bad(why, why_size, "a line is not understood");
        }
    }
    if (rc == 0 && ferror(f))
        rc = bad(why, why_size, strerror(errno));
    fclose(f);
    if (rc != 0)
        return rc;
    if (!magic || !have_url || !have_mdtm || st->size < 0 || st->n < 2)
        return bad(why, why_size, "a line is missing");
    uint64_t at = 0;
    for (int i = 0; i < st->n; i++) {
        const ftpc_segrange *r = &st->r[i];
        if (r->start != at || r->end < r->start || r->pos < r->start || r->pos > r->end)
            return bad(why, why_size, "its ranges do not fit together");
        at = r->end;
    }
    if (at != (uint64_t)st->size)
        return bad(why, why_size, "its ranges do not cover the file");
    return 0;
}

/* The URL as it is stored, for comparing with a loaded state's. */
void ftpc_segstate_set_url(ftpc_segstate *st, const char *url)
{
    escape_into(url, st->url, sizeof(st->url));
}

int ftpc_segstate_overwrite(const char *path, const ftpc_segstate *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return -1;
    write_lines(mem, st);
    if (fclose(mem) != 0) {
        free(text);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    int rc = -1;
    if (fd < 0) {
        free(text);
        return -1;
    }
    if (fstat(fd, &sb) < 0) {
        /* errno set */
    } else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != len) {
        errno = EINVAL; /* not the same download's: the old state stays */
    } else if (pwrite(fd, text, len, 0) == (ssize_t)len && fdatasync(fd) == 0) {
        rc = 0;
    } else if (errno == 0) {
        errno = EIO;
    }
    int e = errno;
    close(fd);
    free(text);
    errno = e;
    return rc;
}
