"""A FUSE file system over a directory whose every read of a file or of a directory's
entries waits DELAY seconds: a disk that is slow to answer, for tests of a server that must
not wait for it. Read-only, unless META_DELAY is given: then every metadata call (a lookup,
a stat, mkdir, rmdir, unlink, rename, a link, a file's creation, a time set) on a path with
a component that starts with "meta" waits META_DELAY seconds, those calls may change the
source, files may be written (without a wait), and the kernel caches no answer (each lookup
reaches this program). With HOLD_FILE as well, such a call instead waits while HOLD_FILE
exists, META_DELAY seconds at most: a file system that stops answering (a dead NFS server, a
stuck FUSE daemon) from the moment the file is made until it is removed. Runs in the
foreground until SIGTERM.
Needs fusepy (Debian: python3-fusepy) and /dev/fuse.

    slowfs.py SOURCE MOUNTPOINT DELAY [META_DELAY [HOLD_FILE]]
"""
import os
import sys
import time

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's module name
except ImportError:
    from fuse import FUSE, FuseOSError, Operations

STAT_KEYS = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
             "st_uid")


class SlowFs(Operations):
    def __init__(self, source, delay, meta_delay, hold_file=None):
        self.source, self.delay, self.meta_delay = source, delay, meta_delay
        self.hold_file = hold_file

    def _path(self, path):
        return os.path.join(self.source, path.lstrip("/"))

    def _meta(self, *paths):
        """Waits, if any of paths lies in a "meta..." directory, and returns their sources."""
        if self.meta_delay and any(c.startswith("meta") for p in paths for c in p.split("/")):
            if self.hold_file is None:
                time.sleep(self.meta_delay)
            deadline = time.monotonic() + self.meta_delay
            while self.hold_file and os.path.exists(self.hold_file) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
        return [self._path(p) for p in paths]

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            raise FuseOSError(e.errno)

    def getattr(self, path, fh=None):
        st = self._call(os.lstat, *self._meta(path))
        return {k: getattr(st, k) for k in STAT_KEYS}

    def mkdir(self, path, mode):
        return self._call(os.mkdir, *self._meta(path), mode)

    def rmdir(self, path):
        return self._call(os.rmdir, *self._meta(path))

    def unlink(self, path):
        return self._call(os.unlink, *self._meta(path))

    def rename(self, old, new):
        return self._call(os.rename, *self._meta(old, new))

    def chmod(self, path, mode):
        return self._call(os.chmod, *self._meta(path), mode)

    def utimens(self, path, times=None):
        return self._call(os.utime, *self._meta(path), times)

    def readdir(self, path, fh):
        time.sleep(self.delay)
        return [".", ".."] + os.listdir(self._path(path))

    def link(self, target, source):
        new, old = self._meta(target, source)
        return self._call(os.link, old, new)

    def create(self, path, mode, fi=None):
        return self._call(os.open, *self._meta(path), os.O_RDWR | os.O_CREAT, mode)

    def open(self, path, flags):
        return self._call(os.open, self._path(path), flags & (os.O_ACCMODE | os.O_APPEND))

    def write(self, path, data, offset, fh):
        return self._call(os.pwrite, fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            return self._call(os.ftruncate, fh, length)
        return self._call(os.truncate, *self._meta(path), length)

    def fsync(self, path, datasync, fh):
        return self._call(os.fsync, fh)

    def read(self, path, size, offset, fh):
        time.sleep(self.delay)
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        os.close(fh)


if __name__ == "__main__":
    source, mountpoint, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    meta_delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    hold_file = sys.argv[5] if len(sys.argv) > 5 else None
    if meta_delay:
        FUSE(SlowFs(source, delay, meta_delay, hold_file), mountpoint, foreground=True, allow_other=True,
             attr_timeout=0, entry_timeout=0, negative_timeout=0)
    else:
        FUSE(SlowFs(source, delay, 0.0), mountpoint, foreground=True, ro=True,
             allow_other=True)
