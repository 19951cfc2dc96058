"""A full disk: an upload that runs out of space is answered 452 (or 552), the previous version
of the file stays exactly as it was, and the space the failed upload used is given back; an
ftpc download that fills the local disk says which hidden part file it kept.
Runs on a 2 MiB tmpfs mounted for the test (needs root; skipped otherwise)."""
import ftplib
import os
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import FtpdServer, data_bytes, free_port, internal_names, retr, stor

SIZE = "2m"
FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(
    os.path.dirname(os.environ.get("FTPD_BIN", "")), "ftpc")


class TestDiskFull(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        self.mnt = tempfile.mkdtemp(prefix="ftpd-full-")
        self.addCleanup(os.rmdir, self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0777" % SIZE, "tmpfs",
                            self.mnt], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", self.mnt], timeout=30)
        self.old = data_bytes(512 * 1024, seed=7)
        with open(os.path.join(self.mnt, "keep.bin"), "wb") as fh:
            fh.write(self.old)
        os.chmod(os.path.join(self.mnt, "keep.bin"), 0o666)
        self.srv = FtpdServer(users=[("alice", "secret", "elradfmw", self.mnt),
                                     ("bob", "secret", "elr")], anonymous=False)
        self.srv.start()
        self.addCleanup(self.srv.stop)

    def upload_expecting_full(self, f, cmd, name, data, rest=None):
        """Sends data with cmd (after REST rest if given); the server may close the data
        connection early, so a send error is expected. Returns the final reply code."""
        f.voidcmd("TYPE I")
        conn = f.transfercmd("%s %s" % (cmd, name), rest)
        try:
            view = memoryview(data)
            for i in range(0, len(view), 65536):
                conn.sendall(view[i:i + 65536])
        except OSError:
            pass
        finally:
            conn.close()
        try:
            resp = f.getresp()
        except (ftplib.error_temp, ftplib.error_perm) as e:
            resp = str(e)
        return int(resp[:3])

    def assert_space_back_and_old_intact(self, f):
        self.assertEqual(self.srv.read(os.path.join(self.mnt, "keep.bin")), self.old)
        self.assertEqual(internal_names(os.listdir(self.mnt)), [])
        # the failed upload's space is free again when its failure is answered: a 1 MiB
        # upload fits
        small = data_bytes(1024 * 1024, seed=9)
        st = os.statvfs(self.mnt)
        self.assertGreaterEqual(st.f_bavail * st.f_frsize, len(small))
        self.assertTrue(stor(f, "small.bin", small).startswith("226"))
        self.assertEqual(retr(f, "small.bin"), small)

    def test_replacing_upload_too_big(self):
        f = self.srv.ftp()
        code = self.upload_expecting_full(f, "STOR", "keep.bin", data_bytes(3 << 20, seed=8))
        self.assertIn(code, (452, 552))
        self.assert_space_back_and_old_intact(f)

    def test_new_upload_too_big(self):
        f = self.srv.ftp()
        code = self.upload_expecting_full(f, "STOR", "new.bin", data_bytes(3 << 20, seed=8))
        self.assertIn(code, (452, 552))
        self.assertFalse(os.path.exists(os.path.join(self.mnt, "new.bin")))
        self.assert_space_back_and_old_intact(f)

    def test_ftpc_put_onto_a_full_disk_says_whose_disk_is_full(self):
        # "452 Local error: ..." read, in ftpc's message, as if the user's own disk were full
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        with tempfile.TemporaryDirectory(prefix="ftpc-src-") as tmp:
            src = os.path.join(tmp, "big.bin")
            with open(src, "wb") as fh:
                fh.write(data_bytes(3 << 20, seed=9))
            url = "ftp://alice:secret@%s:%d/big.bin" % (self.srv.host, self.srv.port)
            r = subprocess.run([FTPC_BIN, "put", src, url], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("452 Insufficient storage space", r.stderr)
        self.assertNotIn("Local error", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.mnt, "big.bin")))
        self.assert_space_back_and_old_intact(self.srv.ftp())

    def test_append_too_big(self):
        f = self.srv.ftp()
        code = self.upload_expecting_full(f, "APPE", "keep.bin", data_bytes(3 << 20, seed=8))
        self.assertIn(code, (452, 552))
        self.assert_space_back_and_old_intact(f)

    def test_a_resume_that_fills_the_disk_keeps_its_resume_point(self):
        """The bytes an interrupted upload kept were there before the resume that ran out of
        space: they stay, and only what the resume added is given back."""
        first = data_bytes(1 << 20, seed=10)
        partial = os.path.join(self.mnt, ".ftpd-partial.big.bin")
        with open(partial, "wb") as fh:
            fh.write(first)
        self.srv.chown(partial)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("big.bin"), len(first))
        code = self.upload_expecting_full(f, "STOR", "big.bin", data_bytes(3 << 20, seed=11),
                                          rest=len(first))
        self.assertIn(code, (452, 552))
        self.assertEqual(f.size("big.bin"), len(first))
        with open(partial, "rb") as fh:
            self.assertEqual(fh.read(), first)
        self.assertEqual(internal_names(os.listdir(self.mnt)), [".ftpd-partial.big.bin"])
        self.assertFalse(os.path.exists(os.path.join(self.mnt, "big.bin")))
        # and the resume completes once what it needs fits
        rest = data_bytes(256 * 1024, seed=12)
        self.assertTrue(stor(f, "big.bin", rest, rest=len(first)).startswith("226"))
        self.assertEqual(retr(f, "big.bin"), first + rest)
        self.assertEqual(internal_names(os.listdir(self.mnt)), [])

    def test_space_is_free_when_the_failure_is_answered(self):
        """The 452 waits for the failed upload's file to be closed, which frees its space, even
        while the one worker that closes it is busy: a client retrying at once must find the
        space it was told is free again."""
        big = tempfile.mkdtemp(prefix="ftpd-hash-")
        self.addCleanup(subprocess.run, ["rm", "-rf", big])
        with open(os.path.join(big, "sparse.bin"), "wb") as fh:
            fh.truncate(16 << 30)  # minutes of SHA-256 on the worker, in 16 MiB slices
        os.chmod(big, 0o755)
        srv = FtpdServer(users=[("alice", "secret", "elradfmw", self.mnt),
                                ("carol", "secret", "elr", big)], anonymous=False,
                         args=["--workers", "1"])
        srv.start()
        self.addCleanup(srv.stop)
        hasher = srv.control()
        hasher.send("USER carol\r\nPASS secret\r\nHASH sparse.bin\r\n")
        self.assertTrue(srv.wait_log(r"-> HASH sparse\.bin"), srv.log_text())
        f = srv.ftp("alice", "secret")
        for _ in range(3):
            code = self.upload_expecting_full(f, "STOR", "new.bin", data_bytes(3 << 20, seed=8))
            self.assertIn(code, (452, 552))
            st = os.statvfs(self.mnt)
            self.assertGreaterEqual(st.f_bavail * st.f_frsize, 1 << 20)
        # the worker was hashing throughout: no reply to the HASH yet
        self.assertNotIn("carol: HASH", srv.log_text())

    def segmented_get_kept_on_full_disk(self, url, name, data, env):
        """Runs ftpc --segments 4 get of url into the full disk: it fails with status 6 and
        keeps .NAME.ftpc-seg and its status, whose four ranges hold data's bytes. Returns the
        bytes kept."""
        r = subprocess.run([FTPC_BIN, "--segments", "4", "get", url], cwd=self.mnt,
                           capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("No space left on device", r.stderr)
        self.assertIn("(.%s.ftpc-seg kept: get -c resumes it)" % name, r.stderr)
        return self.segment_bytes_kept(name, data)

    def segment_bytes_kept(self, name, data):
        """The bytes .NAME.ftpc-seg's status says are in, checked against data's."""
        seg = os.path.join(self.mnt, ".%s.ftpc-seg" % name)
        with open(seg + ".state") as fh:
            ranges = [l.split()[1:] for l in fh if l.startswith("range ")]
        self.assertEqual(len(ranges), 4)
        with open(seg, "rb") as fh:
            for start, _end, pos in ranges:
                fh.seek(int(start))
                self.assertEqual(fh.read(int(pos) - int(start)), data[int(start):int(pos)])
        return sum(int(p) - int(s) for s, _e, p in ranges)

    def test_ftpc_download_fills_local_disk(self):
        """ftpc keeps what it received in .NAME.ftpc-part; on a full disk the message must name
        that hidden file (it holds the space) and how to go on, as for a cut connection."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        self.srv.make_file("big.bin", 3 << 20, seed=5)
        env = dict(os.environ, NETRC=os.path.join(self.mnt, "no-netrc"))
        r = subprocess.run([FTPC_BIN, "get", self.srv.url("big.bin", user="bob")],
                           cwd=self.mnt, capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("No space left on device", r.stderr)
        self.assertIn("(.big.bin.ftpc-part kept: get -c resumes it)", r.stderr)
        self.assertTrue(os.path.getsize(os.path.join(self.mnt, ".big.bin.ftpc-part")) > 0)
        self.assertFalse(os.path.exists(os.path.join(self.mnt, "big.bin")))


    def test_ftpc_segmented_download_fills_local_disk(self):
        """A segmented download that fills the disk once its status file was written kept
        nothing: the last status could not be saved, so both files went, and seconds (or
        gigabytes) of bytes with them. The status written a moment before still fits the
        file (its ranges reach no further than the bytes in): both stay, said as for a cut
        connection, and get -c --segments resumes from them."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        # 4 ranges at 160 KiB/s each fill the 1.5 MiB left in about 2.4 s: past the first
        # save of the status, a second after the ranges began
        data = data_bytes(8 << 20, seed=6)
        when = time.time() - 3600

        def server(args):
            srv = FtpdServer(users=[("bob", "secret", "elr")], anonymous=False, args=args,
                             listen="127.0.0.1:%d" % port)
            srv.write("seg.bin", data, mtime=when)
            srv.start()
            self.addCleanup(srv.stop)
            return srv
        port = free_port()
        srv = server(["--max-rate", "160k"])
        env = dict(os.environ, NETRC=os.path.join(self.mnt, "no-netrc"))
        kept = self.segmented_get_kept_on_full_disk(srv.url("seg.bin", user="bob"), "seg.bin",
                                                    data, env)
        self.assertGreater(kept, 0)
        # with room again, the rerun resumes the ranges and completes the file (from the same
        # file, served at full speed: the same URL, size and time)
        os.unlink(os.path.join(self.mnt, "keep.bin"))
        subprocess.run(["mount", "-o", "remount,size=32m", self.mnt], check=True, timeout=30)
        srv.stop()
        srv = server([])
        r = subprocess.run([FTPC_BIN, "-c", "--segments", "4", "get",
                            srv.url("seg.bin", user="bob")], cwd=self.mnt, capture_output=True,
                           text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("starting over", r.stderr)
        with open(os.path.join(self.mnt, "seg.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        self.assertEqual(sorted(os.listdir(self.mnt)), ["seg.bin"])

    def test_ftpc_segmented_download_that_fills_the_disk_at_once(self):
        """A segmented download that filled the disk before its first save of the status (a
        second in) kept nothing of what arrived, where a plain get keeps its part file: the
        status is written before the first byte, and its last state goes over it in place,
        which needs no new space."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        data = data_bytes(8 << 20, seed=8)
        self.srv.write("fast.bin", data)
        env = dict(os.environ, NETRC=os.path.join(self.mnt, "no-netrc"))
        url = self.srv.url("fast.bin", user="bob")
        kept = self.segmented_get_kept_on_full_disk(url, "fast.bin", data, env)
        # much of the 1.5 MiB that was free holds bytes the status keeps (before, nothing;
        # under load the last saved state lags the bytes written by up to a few hundred KiB)
        self.assertGreater(kept, 256 << 10)
        os.unlink(os.path.join(self.mnt, "keep.bin"))
        subprocess.run(["mount", "-o", "remount,size=32m", self.mnt], check=True, timeout=30)
        r = subprocess.run([FTPC_BIN, "-c", "--segments", "4", "get", url], cwd=self.mnt,
                           capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("starting over", r.stderr)
        with open(os.path.join(self.mnt, "fast.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        self.assertEqual(sorted(os.listdir(self.mnt)), ["fast.bin"])

    def test_ftpc_segmented_resume_on_a_disk_still_full_keeps_what_it_had(self):
        """get -c --segments on a disk that is still full failed as it should, but removed
        the bytes the first attempt had kept: its status could not be written anew, and the
        one it had loaded (which fits the file, and can be written over in place) did not
        count as saved."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        data = data_bytes(8 << 20, seed=13)
        self.srv.write("again.bin", data)
        env = dict(os.environ, NETRC=os.path.join(self.mnt, "no-netrc"))
        url = self.srv.url("again.bin", user="bob")
        kept = self.segmented_get_kept_on_full_disk(url, "again.bin", data, env)
        self.assertGreater(kept, 0)
        for _ in range(2):  # a second try on the full disk, and a third
            r = subprocess.run([FTPC_BIN, "-c", "--segments", "4", "get", url], cwd=self.mnt,
                               capture_output=True, text=True, timeout=60, env=env,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 6, r.stderr)
            self.assertIn("(.again.bin.ftpc-seg kept: get -c resumes it)", r.stderr)
            self.assertGreaterEqual(self.segment_bytes_kept("again.bin", data), kept)
        os.unlink(os.path.join(self.mnt, "keep.bin"))
        subprocess.run(["mount", "-o", "remount,size=32m", self.mnt], check=True, timeout=30)
        r = subprocess.run([FTPC_BIN, "-c", "--segments", "4", "get", url], cwd=self.mnt,
                           capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("starting over", r.stderr)
        with open(os.path.join(self.mnt, "again.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)

if __name__ == "__main__":
    unittest.main()
