"""An upload's commit on a slow disk (slowfs.py with META_DELAY, as test_slow_metadata.py):
under a root on FUSE or NFS the rename into place, a guarded upload's checks and the drop of
a superseded partial run on a worker thread (ftpd/upcommit.c), and another session is
answered meanwhile; an ABOR, the session's end or the server's stop during the commit leave
it standing. Its own module so that ctest runs it beside the other slow-disk modules.
"""
import os
import time
import unittest

from ftpd_harness import wait_for
from test_slow_metadata import SlowMetadataCase


class TestSlowCommit(SlowMetadataCase):
    def test_an_upload_is_committed_on_a_worker(self):
        # The commit renames the upload over its name, looks up the file it replaces and
        # drops a superseded partial: over a second on this disk, during which a loop that
        # made it answered nobody. Measured from the data's end to the 226.
        c = self.slow_control()
        fast = self.srv.ftp("fast", "pw-fast", timeout=30)
        trips = []
        names = ("meta/f.bin", "meta/new.bin", "meta/f.bin")
        for i, name in enumerate(names):
            ds = c.pasv()
            self.assertEqual(c.cmd("STOR " + name, timeout=30)[0], 150)
            ds.sendall(b"body %d\n" % i * 1000)
            ds.close()
            got, more = self.noops_until(c, 1, fast)
            trips += more
            self.assertEqual(got[0][0], 226, got)
        for name, i in (("meta/f.bin", 2), ("meta/new.bin", 1)):
            with open(os.path.join(self.source, name), "rb") as fh:
                self.assertEqual(fh.read(), b"body %d\n" % i * 1000)
        self.assertEqual(sorted(os.listdir(os.path.join(self.source, "meta"))),
                         ["f.bin", "gone.txt", "new.bin"])
        self.assertLogged(r"STOR /meta/new.bin ok: 7000 bytes")
        # the longest alone is not counted, as in download_meanwhile
        trips.sort()
        self.assertLess(trips[-2], self.meta_delay / 2,
                        "NOOPs waited %s s (%d sent)" % (trips[-3:], len(trips)))

    def test_an_append_whose_file_changed_meanwhile_is_refused_from_a_worker(self):
        # The guard's check of the name, made with the rename on the worker, finds it gone.
        c = self.slow_control()
        ds = c.pasv()
        self.assertEqual(c.cmd("APPE meta/f.bin", timeout=30)[0], 150)
        ds.sendall(b"more\n")
        other = self.slow_control()
        self.assertEqual(other.cmd("DELE meta/f.bin", timeout=15)[0], 250)
        ds.close()
        self.assertEqual(c.reply(timeout=30),
                         (451, "451 /meta/f.bin changed while the APPE ran; nothing was "
                          "replaced, send it again."))
        self.assertEqual(c.cmd("NOOP")[0], 200)
        # FUSE keeps the deleted file as .fuse_hidden* until its last descriptor is released
        names = lambda: sorted(os.listdir(os.path.join(self.source, "meta")))
        self.assertEqual(wait_for(lambda: names() == ["gone.txt"], timeout=15) and names(),
                         ["gone.txt"])

    def start_commit(self, name, body):
        """A slow user's STOR of name whose data has all come: its commit runs (for over a
        second) when this returns. The control connection."""
        c = self.slow_control()
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR " + name, timeout=30)[0], 150)
        ds.sendall(body)
        ds.close()
        time.sleep(0.3)  # the data's end is seen in 3 ms, and the commit takes 1.5 s
        return c

    def test_abor_during_an_uploads_commit_is_answered_after_its_226(self):
        # The data had all come: the ABOR finds the transfer over, and cuts nothing.
        c = self.start_commit("meta/abor.bin", b"kept\n" * 500)
        c.send("ABOR\r\nNOOP\r\n")
        got = [c.reply(timeout=30) for _ in range(3)]
        self.assertEqual([code for code, _ in got], [226, 226, 200], got)
        self.assertEqual(got[0][1], "226 Transfer complete.")
        with open(os.path.join(self.source, "meta/abor.bin"), "rb") as fh:
            self.assertEqual(fh.read(), b"kept\n" * 500)
        self.assertLogged(r"STOR /meta/abor.bin ok: 2500 bytes")

    def test_session_that_ends_during_an_uploads_commit(self):
        # The commit stands, and the log says so; the session goes once it is made.
        c = self.start_commit("meta/left.bin", b"left\n" * 500)
        c.sock.close()
        self.assertLogged(r"STOR /meta/left.bin ok: 2500 bytes", timeout=15)
        with open(os.path.join(self.source, "meta/left.bin"), "rb") as fh:
            self.assertEqual(fh.read(), b"left\n" * 500)
        c2 = self.slow_control()
        self.assertEqual(c2.cmd("SIZE meta/left.bin", timeout=15), (213, "213 2500"))

    def test_server_stops_during_an_uploads_commit(self):
        c = self.start_commit("meta/stop.bin", b"stop\n" * 500)
        # stop() fails on an exit status other than 0 or on a sanitizer's report (a leak)
        self.srv.stop()
        c.close()
        with open(os.path.join(self.source, "meta/stop.bin"), "rb") as fh:
            self.assertEqual(fh.read(), b"stop\n" * 500)
        self.assertIn("STOR /meta/stop.bin ok: 2500 bytes", self.srv.log_text())


if __name__ == "__main__":
    unittest.main()
