/* What the server process itself may do to a file, for the perm fact of MLSD and MLST: the
 * kernel is asked (faccessat as the user ftpd runs as, so mode bits, ACLs and read-only mounts
 * all count), and the answer is in listfmt.h's LISTFMT_NO_ bits. File-system calls: on a
 * worker, or from the kernel's caches (fsjob.h). */
#ifndef FACTACCESS_H
#define FACTACCESS_H

#include <stdbool.h>
#include <sys/stat.h>

/* The LISTFMT_NO_READ, _WRITE and _SEARCH bits for the entry that faccessat(fd, name, ...,
 * at_flags) names (AT_SYMLINK_NOFOLLOW for a name that is no link; "" and AT_EMPTY_PATH for an
 * fd of the entry itself), whose stat is st. Only what the user's PERM_ bits (perms) would
 * offer is asked. */
unsigned factaccess_entry(int fd, const char *name, int at_flags, const struct stat *st,
                          unsigned perms);
/* LISTFMT_NO_NAMES when no name in directory dir_fd (an fd of it, O_PATH will do) can be added,
 * removed or renamed by the server (no write or search permission); FACTACCESS_OWN_NAMES_ONLY
 * when only the server's own can be removed or replaced (a sticky directory); else 0. */
unsigned factaccess_names(int dir_fd, unsigned perms);
#define FACTACCESS_OWN_NAMES_ONLY (1u << 26) /* never in a listfmt call: factaccess_name */
/* The LISTFMT_NO_NAMES bit of one entry, name in directory dir_fd, from its directory's
 * factaccess_names: in a sticky directory the name's owner decides, from own (the name's
 * own lstat) or, when that is NULL, from an fstatat. */
unsigned factaccess_name(unsigned names, int dir_fd, const char *name, const struct stat *own);

#endif
