/* Path handling for the protocol side: every client path becomes a normalised virtual path
 * that starts with '/', has no empty, '.' or '..' component, and never climbs above '/'.
 * The kernel still resolves it beneath the user's root (ftpd/vfs), so this is hygiene, not
 * the security boundary.
 */
#ifndef PATH_H
#define PATH_H

#include <stddef.h>

#define PATH_VMAX 4096

/* Resolves arg (absolute, or relative to cwd, which must be normalised) into out.
 * An empty arg gives cwd. Returns 0, or -1 with errno ENAMETOOLONG (out too small) or EINVAL
 * (arg contains a NUL-free but invalid sequence, or cwd is not absolute). */
int path_resolve(const char *cwd, const char *arg, char *out, size_t out_size);
/* The path relative to the root for *at() calls: "/" gives ".", "/a/b" gives "a/b". */
const char *path_rel(const char *vpath);
/* The last component ("" for "/"); points into vpath. */
const char *path_basename(const char *vpath);
/* The parent of vpath into out ("/" for "/" and "/a"). Returns 0 or -1 (ENAMETOOLONG). */
int path_dirname(const char *vpath, char *out, size_t out_size);

#endif
