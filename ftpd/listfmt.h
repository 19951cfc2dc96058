/* Directory listing lines: LIST in the `ls -l` form common clients parse, NLST names, and
 * RFC 3659 MLSx facts. Pure formatting: no I/O beyond the uid/gid name cache. */
#ifndef LISTFMT_H
#define LISTFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* "drwxr-xr-x 1 owner group 4096 Nov 23 18:17 name\r\n". Dates within six months of `now`
 * show the time, older ones the year. Returns the length written (excluding NUL), or -1 if
 * out_size is too small. */
int listfmt_ls(char *out, size_t out_size, const char *name, const struct stat *st, time_t now);
/* MLSx facts "type=file;size=10;modify=20261123181700;perm=rw;unique=803g1a;UNIX.mode=0644;
 * name\r\n".
 * `perms` holds users.h PERM_ bits, mapped to RFC 3659 perm letters; `type_override` is
 * "cdir"/"pdir" or NULL. `leading_space` adds the single space MLST's reply line needs.
 * Returns length or -1. */
int listfmt_mlsx(char *out, size_t out_size, const char *name, const struct stat *st,
                 unsigned perms, const char *type_override, int leading_space);
/* The RFC 3659 facts a client may select with OPTS MLST. */
enum {
    MLSX_TYPE = 1 << 0,
    MLSX_SIZE = 1 << 1,
    MLSX_MODIFY = 1 << 2,
    MLSX_PERM = 1 << 3,
    MLSX_UNIQUE = 1 << 4,
    /* The permission bits, in octal as ProFTPD and pure-ftpd give them: lftp's mirror reads
     * them from MLSD to give the copies the same modes (an executable stays executable, a
     * private file private), as it does from a LIST line. */
    MLSX_UNIX_MODE = 1 << 5,
    MLSX_ALL = (1 << 6) - 1,
};
/* Or'ed into perms: the entry is the user's root, which no one may remove or rename, so its
 * perm fact offers neither (RFC 3659 7.5.5: perm tells what the client may do). */
#define LISTFMT_ROOT (1u << 31)
/* Or'ed into perms: what the server itself may not do to the entry, whatever the user's letters
 * allow (its mode bits, an ACL, a read-only mount: factaccess.h). The perm fact then offers only
 * what would succeed, as ProFTPD's and pure-ftpd's do: a client that trusts an r on a file the
 * server cannot read gets a 550 for it. */
#define LISTFMT_NO_READ (1u << 30)   /* file: no r, nor a (APPE copies the file); dir: no l */
#define LISTFMT_NO_WRITE (1u << 29)  /* file: no w, a; directory: no c, m, p */
#define LISTFMT_NO_SEARCH (1u << 28) /* directory: no e, l, c, m, p (no name in it can be used) */
/* The names of the entry's directory cannot change: no d or f, and for a file no w or a either,
 * since an upload is written aside and renamed into place. */
#define LISTFMT_NO_NAMES (1u << 27)
/* As listfmt_mlsx, with only the facts in `facts` (MLSX_ bits). */
int listfmt_mlsx_facts(char *out, size_t out_size, const char *name, const struct stat *st,
                       unsigned perms, const char *type_override, int leading_space,
                       unsigned facts);
/* Parses "type;size;" (any case, unknown facts ignored) into MLSX_ bits. */
unsigned listfmt_parse_facts(const char *list);
/* Writes "type;size;..." for the bits into out; with stars (FEAT's form) when `starred`. */
void listfmt_format_facts(unsigned facts, bool starred, char *out, size_t out_size);
/* "YYYYMMDDHHMMSS" in UTC for MDTM and the modify fact. out_size >= 15. */
void listfmt_mdtm(char *out, size_t out_size, time_t t);
/* Reads MFMT's time, "YYYYMMDDHHMMSS" in UTC with an optional fraction of a second
 * (".s" to ".sssssssss"), a real date and time from 1970 on and nothing else. Returns 0,
 * or -1 and leaves *out alone. */
int listfmt_parse_mdtm(const char *s, struct timespec *out);

#endif
