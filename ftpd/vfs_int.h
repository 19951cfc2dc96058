/* Private to ftpd/vfs.c and its tests. */
#ifndef VFS_INT_H
#define VFS_INT_H

#include <stdbool.h>

/* Forces the component-by-component walk (on) or goes back to openat2() (off; a kernel
 * without openat2 still falls back). Overrides FTPD_VFS_FORCE_FALLBACK. Process-wide: for
 * tests, which call it before each case. */
void vfs_force_fallback(bool on);
/* True while the walk is in use instead of openat2(). */
bool vfs_using_fallback(void);

#endif
