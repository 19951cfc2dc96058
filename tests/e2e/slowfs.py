"""A read-only FUSE file system over a directory whose every read of a file or of a
directory's entries waits DELAY seconds: a disk that is slow to answer, for tests of a
server that must not wait for it. Runs in the
foreground until SIGTERM. Needs fusepy (Debian: python3-fusepy) and /dev/fuse.

    slowfs.py SOURCE MOUNTPOINT DELAY
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
    def __init__(self, source, delay):
        self.source, self.delay = source, delay

    def _path(self, path):
        return os.path.join(self.source, path.lstrip("/"))

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._path(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in STAT_KEYS}

    def readdir(self, path, fh):
        time.sleep(self.delay)
        return [".", ".."] + os.listdir(self._path(path))

    def open(self, path, flags):
        return os.open(self._path(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        time.sleep(self.delay)
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        os.close(fh)


if __name__ == "__main__":
    source, mountpoint, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    FUSE(SlowFs(source, delay), mountpoint, foreground=True, ro=True, allow_other=True)
