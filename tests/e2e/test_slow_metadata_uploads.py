"""Logins and uploads on a slow disk (slowfs.py with META_DELAY, as test_slow_metadata.py):
the home's open at login, APPE's lock lookup, STOU's search for a free name and the check of
an upload's "name/" run on worker threads, and a slow rename elsewhere holds no upload of a
fast disk; another session is answered meanwhile. Its own module so that ctest runs it
beside test_slow_metadata, each well within its time limit.
"""
import ftplib
import io
import os
import time
import unittest

from test_slow_metadata import SlowMetadataCase


class TestSlowMetadataUploads(SlowMetadataCase):
    def test_login_opens_a_home_on_a_slow_disk_on_a_worker(self):
        # The home's open looks up every part of its path, and on NFS or FUSE each may wait
        # for the server: it was made on the loop.
        srv = self.start_server(users=[("fast", "pw-fast", "elr"),
                                       ("far", "pw-far", "elr",
                                        os.path.join(self.mnt, "meta"))])

        def logins(f):
            out = []
            for _ in range(3):
                g = srv.ftp("far", "pw-far", timeout=30)
                out.append((g.pwd(), g.size("f.bin")))
                g.quit()
            return out
        out, worst, count = self.download_meanwhile(
            logins, srv=srv, slow=srv.ftp("fast", "pw-fast", timeout=30))
        self.assertEqual(out, [("/", 50000)] * 3)
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))
        # A session that ends while its home is opened: the worker's answer finds it gone.
        c = srv.control(timeout=30)
        self.assertEqual(c.cmd("USER far")[0], 331)
        c.send("PASS pw-far\r\n")
        time.sleep(0.2)
        c.sock.close()
        c = srv.control(timeout=30)
        c.login("far", "pw-far")
        self.assertEqual(c.cmd("SIZE f.bin", timeout=15), (213, "213 50000"))

    def test_an_append_takes_its_lock_without_the_loop_waiting(self):
        # An APPE (or REST+STOR) locks its file's name, keyed by its folder, whose lookup
        # was made on the loop. Measured until the 150: the upload's commit is not yet done
        # on a worker.
        c = self.slow_control()
        fast = self.srv.ftp("fast", "pw-fast", timeout=30)
        trips = []
        for i in range(3):
            ds = c.pasv()
            c.send("APPE meta/f.bin\r\n")
            got, more = self.noops_until(c, 1, fast)
            trips += more
            self.assertEqual(got[0][0], 150, got)
            ds.sendall(b"more %d\n" % i)
            ds.close()
            self.assertEqual(c.reply(timeout=30)[0], 226)
        with open(os.path.join(self.source, "meta/f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), self.data[:50000] + b"more 0\nmore 1\nmore 2\n")
        # Each command waits for the disk once or more: a server that made those calls on
        # its loop held a NOOP in each round (the longest alone is not counted, as in
        # download_meanwhile).
        trips.sort()
        self.assertLess(trips[-2], self.meta_delay / 2,
                        "NOOPs waited %s s (%d sent)" % (trips[-3:], len(trips)))

    def test_stou_looks_for_a_free_name_on_a_worker(self):
        c = self.slow_control()
        fast = self.srv.ftp("fast", "pw-fast", timeout=30)
        names, trips = [], []
        for i in range(3):
            ds = c.pasv()
            c.send("STOU meta/up\r\n")
            got, more = self.noops_until(c, 1, fast)
            trips += more
            self.assertEqual(got[0][0], 150, got)
            names.append(got[0][1].split("FILE: ", 1)[1])
            ds.sendall(b"body %d\n" % i)
            ds.close()
            self.assertEqual(c.reply(timeout=30)[0], 226)
        self.assertEqual(names[0], "/meta/up")
        self.assertEqual(len(set(names)), 3, names)
        for i, name in enumerate(names):
            with open(os.path.join(self.source, name.lstrip("/")), "rb") as fh:
                self.assertEqual(fh.read(), b"body %d\n" % i)
        # Each command waits for the disk once or more: a server that made those calls on
        # its loop held a NOOP in each round (the longest alone is not counted, as in
        # download_meanwhile).
        trips.sort()
        self.assertLess(trips[-2], self.meta_delay / 2,
                        "NOOPs waited %s s (%d sent)" % (trips[-3:], len(trips)))
        # An ABOR during the search is for the upload it leads to.
        c.send("PASV\r\nSTOU meta/cut\r\nABOR\r\n")
        self.assertEqual([c.reply(timeout=15)[0] for _ in range(3)], [227, 426, 226])
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertFalse(os.path.exists(os.path.join(self.source, "meta/cut")))

    def test_an_upload_to_a_name_ending_in_a_slash_is_refused_from_a_worker(self):
        # "STOR name/" names a directory: whether it is one (550) or not (553) took a stat
        # on the loop.
        def commands(f):
            out = []
            for line in ("STOR meta/", "APPE meta/f.bin/", "STOU meta/none/"):
                try:
                    f.storbinary(line, io.BytesIO(b"x"))
                except ftplib.error_perm as e:
                    out.append(str(e))
            return out
        out, worst, count = self.download_meanwhile(commands)
        self.assertEqual(out, ["550 meta/: Is a directory.", "550 meta/f.bin/: Not a directory.",
                               "553 meta/none/: A file name cannot end in '/'."])
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))

    def test_a_slow_rename_elsewhere_holds_no_upload_of_a_fast_disk(self):
        # A DELE on the slow disk holds the names lock on its worker for over a second; an
        # APPE on an ordinary disk that is cut (ABOR) or committed meanwhile must not wait
        # for it on the loop, nor must anyone else (a NOOP waited 3.75 s when the cut
        # upload's partial took the lock).
        srv = self.start_server(users=[("w", "pw-w", "elradfmw"),
                                       ("slow", "pw-slow", self.slow_perms, self.mnt)])
        for name in ("cut.bin", "done.bin"):
            srv.write(name, b"old\n" * 1000)
        w = srv.control(timeout=30)
        w.login("w", "pw-w")
        self.assertEqual(w.cmd("TYPE I")[0], 200)
        probe = srv.control(timeout=30)
        probe.login("w", "pw-w")
        slow = self.slow_control(srv)
        for end in ("ABOR", "commit"):
            ds = w.pasv()
            name = "cut.bin" if end == "ABOR" else "done.bin"
            self.assertEqual(w.cmd("APPE " + name)[0], 150)
            ds.sendall(b"new\n" * 1000)
            slow.send("DELE meta/%s\r\n" % ("gone.txt" if end == "ABOR" else "f.bin"))
            time.sleep(0.3)  # the worker holds the lock now
            t = time.monotonic()
            ds.close()
            if end == "ABOR":
                first = w.cmd("ABOR")[0]  # 426 and 226, or 226 if the data was all in
                if first == 426:
                    self.assertEqual(w.reply(timeout=15)[0], 226)
            else:
                self.assertEqual(w.reply(timeout=15)[0], 226)
            self.assertEqual(probe.cmd("NOOP")[0], 200)
            waited = time.monotonic() - t
            self.assertLess(waited, self.meta_delay / 2, "%s: %.2f s" % (end, waited))
            self.assertEqual(slow.reply(timeout=15)[0], 250)
        self.assertEqual(srv.read("done.bin"), b"old\n" * 1000 + b"new\n" * 1000)


if __name__ == "__main__":
    unittest.main()
