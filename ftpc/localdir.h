/* Local directories the client writes into. */
#ifndef FTPC_LOCALDIR_H
#define FTPC_LOCALDIR_H

#include <sys/types.h>

/* Creates directory path and any missing parents (as mkdir -p); an existing directory is
 * success. Returns 0, or -1 with errno (ENOTDIR when path or a parent is not a directory). */
int ftpc_mkdir_p(const char *path);

/* The same, creating the missing directories with mode (less the umask). */
int ftpc_mkdir_p_mode(const char *path, mode_t mode);

#endif
