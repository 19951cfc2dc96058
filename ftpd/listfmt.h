/* Directory listing lines: LIST in the `ls -l` form common clients parse, NLST names, and
 * RFC 3659 MLSx facts. Pure formatting: no I/O beyond the uid/gid name cache. */
#ifndef LISTFMT_H
#define LISTFMT_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* "drwxr-xr-x 1 owner group 4096 Nov 23 18:17 name\r\n". Dates within six months of `now`
 * show the time, older ones the year. Returns the length written (excluding NUL), or -1 if
 * out_size is too small. */
int listfmt_ls(char *out, size_t out_size, const char *name, const struct stat *st, time_t now);
/* MLSx facts "type=file;size=10;modify=20261123181700;perm=rw;unique=803g1a; name\r\n".
 * `perms` holds users.h PERM_ bits, mapped to RFC 3659 perm letters; `type_override` is
 * "cdir"/"pdir" or NULL. `leading_space` adds the single space MLST's reply line needs.
 * Returns length or -1. */
int listfmt_mlsx(char *out, size_t out_size, const char *name, const struct stat *st,
                 unsigned perms, const char *type_override, int leading_space);
/* "YYYYMMDDHHMMSS" in UTC for MDTM and the modify fact. out_size >= 15. */
void listfmt_mdtm(char *out, size_t out_size, time_t t);

#endif
