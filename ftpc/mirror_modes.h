/* The permission bits a mirror carries from the source tree to the target, as lftp's mirror
 * does: a remote entry's come from MLSD's UNIX.mode fact (ftpd, ProFTPD, pure-ftpd) or the
 * permission string of a LIST line, a local one's from lstat. They are masked by the process
 * umask, as a file created here would be, and set-user-ID, set-group-ID and sticky bits are
 * never carried. Downloads set them with chmod, uploads with SITE CHMOD (fsops.c); an entry
 * whose mode is unknown keeps what it got when it was created. */
#ifndef FTPC_MIRROR_MODES_H
#define FTPC_MIRROR_MODES_H

#include <stddef.h>

#include "ctx.h"

#define FTPC_MODE_BITS 0777

/* A UNIX.mode fact's value ("0755", "644", pyftpdlib's "0o755"): its permission bits, or -1 when it
 * is not an octal mode. */
int ftpc_mode_from_fact(const char *v, size_t n);

/* The nine characters after a LIST line's type ("rwxr-x--x", "rwsr-S--t"): their permission
 * bits, or -1 when they are not a permission string. */
int ftpc_mode_from_perms(const char *p, size_t n);

/* The process umask, read without changing it where the system shows it (Linux), else
 * changed for no longer than the call, one thread at a time. */
unsigned ftpc_mode_umask(void);

/* The bits the target of an entry of mode (-1: unknown) is to get: -1, or mode masked. */
int ftpc_mode_wanted(int mode, unsigned umask_bits);

/* Sets the permission bits of the local file or directory path, never through a symbolic
 * link; a directory keeps its own set-user-ID and set-group-ID bits (as chmod(1) keeps
 * them) and its sticky bit. Returns 0, or -1 with errno set. */
int ftpc_mode_set_local(const char *path, unsigned mode);

/* The local modes a run could not set: the first named, the rest counted, and said once at
 * the end, so that a file system without modes (FAT) costs one line, not one per file. */
typedef struct ftpc_mode_failures {
    size_t n;
    char first[200];
} ftpc_mode_failures;

void ftpc_mode_failed(ftpc_mode_failures *f, const char *path, int err);
void ftpc_mode_say_failures(ftpc_ctx *ctx, const ftpc_mode_failures *f);

#endif
