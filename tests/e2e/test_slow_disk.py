"""Downloads and listings from a slow disk: ftpd reads a file ahead, and fills a listing, on
worker threads, so while one session waits for a disk that takes a second per read, every
other session is answered at once, and the bytes still arrive whole (binary with sendfile,
TYPE A through the buffer, a REST offset, LIST/NLST/MLSD lines). The slow disk is a FUSE file system (slowfs.py) whose every read
sleeps; the test is skipped where FUSE cannot be mounted (no fusepy, no /dev/fuse, not root).
"""
import ftplib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from ftpd_harness import ServerTestCase, data_bytes, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
READ_DELAY = 1.0  # seconds each read of the slow disk takes


def fuse_python():
    """A Python that can run slowfs.py, or None."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        return None
    for py in ("python3", "/usr/bin/python3"):
        ok = subprocess.run([py, "-c", "import fusepy"], capture_output=True).returncode == 0
        if ok or subprocess.run([py, "-c", "import fuse; fuse.FUSE"],
                                capture_output=True).returncode == 0:
            return py
    return None


class TestSlowDisk(ServerTestCase):
    def setUp(self):
        py = fuse_python()
        if py is None:
            self.skipTest("FUSE is not available here (root, /dev/fuse and fusepy needed)")
        self.tmp = tempfile.mkdtemp(prefix="ftpd-slowdisk-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.source = os.path.join(self.tmp, "source")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.source)
        os.mkdir(self.mnt)
        os.chmod(self.tmp, 0o755)
        os.chmod(self.source, 0o755)
        self.data = data_bytes(512 * 1024, seed=7)
        self.text = b"".join(b"line %d of a text file\n" % i for i in range(12000))
        for name, body in (("cold.bin", self.data), ("cold.txt", self.text)):
            with open(os.path.join(self.source, name), "wb") as fh:
                fh.write(body)
            os.chmod(os.path.join(self.source, name), 0o644)
        fuse = subprocess.Popen([py, os.path.join(HERE, "slowfs.py"), self.source, self.mnt,
                                 str(READ_DELAY)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.addCleanup(self.unmount, fuse)
        if not wait_for(lambda: os.path.ismount(self.mnt), timeout=10):
            self.skipTest("the FUSE file system did not mount: %s"
                          % fuse.stderr.read1(4096).decode(errors="replace"))
        self.srv = self.start_server(users=[("fast", "pw-fast", "elr"),
                                            ("slow", "pw-slow", "elr", self.mnt)])

    def unmount(self, fuse):
        fuse.send_signal(signal.SIGTERM)
        try:
            fuse.wait(10)
        except subprocess.TimeoutExpired:
            fuse.kill()
            fuse.wait()
        fuse.stderr.close()
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)

    def download_meanwhile(self, retrieve):
        """Runs retrieve(ftp of the slow user) in a thread while another session sends NOOP
        after NOOP: (what retrieve returned, the longest NOOP round trip, NOOPs sent)."""
        slow = self.srv.ftp("slow", "pw-slow", timeout=60)
        fast = self.srv.ftp("fast", "pw-fast", timeout=30)
        out, done = [], threading.Event()

        def run():
            try:
                out.append(retrieve(slow))
            finally:
                done.set()
        th = threading.Thread(target=run)
        th.start()
        worst, count = 0.0, 0
        while not done.is_set():
            t = time.monotonic()
            fast.voidcmd("NOOP")
            worst = max(worst, time.monotonic() - t)
            count += 1
            time.sleep(0.02)
        th.join()
        self.assertTrue(out, "the download failed")
        return out[0], worst, count

    def test_other_sessions_answered_while_a_download_waits_for_the_disk(self):
        def retrieve(f):
            chunks = []
            f.retrbinary("RETR cold.bin", chunks.append)
            return b"".join(chunks)
        got, worst, count = self.download_meanwhile(retrieve)
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(self.data).digest())
        # Every read takes READ_DELAY: a server that read on its loop answered the NOOP that
        # met such a read only when it ended.
        self.assertLess(worst, READ_DELAY / 2, "a NOOP waited %.2f s (%d sent)" % (worst, count))
        self.assertGreater(count, 5)

    def test_text_and_resumed_downloads_from_a_slow_disk(self):
        def retrieve(f):
            lines = []
            f.retrlines("RETR cold.txt", lines.append)
            chunks = []
            f.retrbinary("RETR cold.bin", chunks.append, rest=300000)
            return lines, b"".join(chunks)
        (lines, tail), worst, _ = self.download_meanwhile(retrieve)
        self.assertEqual(lines, self.text.decode().splitlines())
        self.assertEqual(tail, self.data[300000:])
        self.assertLess(worst, READ_DELAY / 2)

    def test_other_sessions_answered_while_a_listing_waits_for_the_disk(self):
        def retrieve(f):
            lines = []
            f.retrlines("LIST", lines.append)
            return sorted(l.rsplit(" ", 1)[1] for l in lines), f.nlst(), list(f.mlsd())
        (listed, names, facts), worst, count = self.download_meanwhile(retrieve)
        self.assertEqual(listed, ["cold.bin", "cold.txt"])
        self.assertEqual(sorted(names), ["cold.bin", "cold.txt"])
        self.assertEqual(sorted(n for n, _ in facts), ["cold.bin", "cold.txt"])
        self.assertLess(worst, READ_DELAY / 2, "a NOOP waited %.2f s (%d sent)" % (worst, count))


if __name__ == "__main__":
    unittest.main()
