/* Local directories the client writes into. */
#ifndef FTPC_LOCALDIR_H
#define FTPC_LOCALDIR_H

/* Creates directory path and any missing parents (as mkdir -p); an existing directory is
 * success. Returns 0, or -1 with errno (ENOTDIR when path or a parent is not a directory). */
int ftpc_mkdir_p(const char *path);

#endif
