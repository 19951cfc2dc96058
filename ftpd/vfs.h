/* File access beneath a user's root. Every path is a normalised virtual path (common/path.h)
 * and is resolved by the kernel beneath the root directory fd: openat2() with
 * RESOLVE_BENEATH where the kernel has it, otherwise a component-by-component walk with
 * O_NOFOLLOW that resolves symlinks itself and refuses any that leave the root. So '..',
 * absolute paths and symlinks cannot escape. All functions return 0 (or an fd) on success and
 * -1 with errno on failure; an escape attempt fails with EACCES.
 */
#ifndef VFS_H
#define VFS_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/* How long a call on a file system may wait (fsjob.h). */
typedef enum {
    VFS_REMOTE = 0, /* FUSE, NFS, CIFS, anything not known: any call may wait for a server */
    VFS_LOCAL,      /* a local disk (ext4, XFS, btrfs, F2FS): a call that finds its path and
                     * inode in memory does not wait (vfs_open_cached) */
    VFS_MEMORY,     /* tmpfs, ramfs: nothing ever waits */
} vfs_speed;

typedef struct vfs {
    int root_fd;     /* O_PATH | O_DIRECTORY */
    vfs_speed speed; /* of the root's file system */
} vfs;

int vfs_open_root(vfs *v, const char *dir);
/* As vfs_open_root, but only when that cannot wait for a disk or a server: every component
 * of dir in the kernel's lookup cache (RESOLVE_CACHED) and the file system a local disk or
 * memory (tmpfs: one a home was found on before). Otherwise -1 with EAGAIN, nothing open;
 * any other failure is vfs_open_root's. */
int vfs_open_root_cached(vfs *v, const char *dir);
void vfs_close(vfs *v);

/* openat() beneath the root; flags as open(2) (O_CLOEXEC is added). */
int vfs_open(const vfs *v, const char *vpath, int flags, mode_t mode);
/* stat() following symlinks (beneath the root). */
int vfs_stat(const vfs *v, const char *vpath, struct stat *st);
/* Opens a directory for listing. The DIR owns its fd. */
DIR *vfs_opendir(const vfs *v, const char *vpath);
/* Opens the parent directory of vpath (O_PATH|O_DIRECTORY) and returns its fd; *base points
 * at the last component inside vpath. Fails with EINVAL for "/". */
int vfs_open_parent(const vfs *v, const char *vpath, const char **base);
int vfs_mkdir(const vfs *v, const char *vpath, mode_t mode);
int vfs_rmdir(const vfs *v, const char *vpath);
int vfs_unlink(const vfs *v, const char *vpath);
int vfs_rename(const vfs *v, const char *from, const char *to);
/* chmod() and the modification time of vpath (links followed beneath the root), whatever its
 * own permission bits: a file chmod 000 can be given its bits back. */
int vfs_chmod(const vfs *v, const char *vpath, mode_t mode);
int vfs_set_mtime(const vfs *v, const char *vpath, const struct timespec *mtime);

/* Whether fd's file system keeps everything in memory (tmpfs, ramfs): reading it never waits
 * for a disk. */
bool vfs_fd_in_memory(int fd);
/* As vfs_open, but only when every component of the path is in the kernel's lookup cache
 * (openat2's RESOLVE_CACHED): otherwise -1 with EAGAIN, as where openat2 or the flag is
 * missing. Not for O_CREAT or O_TRUNC. On a local disk (VFS_LOCAL) such an open and an fstat
 * of what it opened do not wait for the disk. */
int vfs_open_cached(const vfs *v, const char *vpath, int flags);

/* Names the server uses for uploads in progress and kept partial uploads. Clients never see
 * them in listings and cannot open them by name. */
bool vfs_is_internal_name(const char *name);

#endif
