"""An upload larger than the server's file size limit (RLIMIT_FSIZE: ulimit -f, systemd's
LimitFSIZE=) fails alone, with 552, and the previous version of the file stays: the limit's
SIGXFSZ must not end the server and every other session with it. ftpc reports the refusal
as final (status 5), not as a cut connection to resume or retry."""
import ftplib
import os
import shutil
import socket
import subprocess
import unittest

from ftpd_harness import FtpdServer, data_bytes, retr

FTPD_BIN = os.environ.get("FTPD_BIN", "")
FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(os.path.dirname(FTPD_BIN), "ftpc")
LIMIT = 100000


class LimitedServer(FtpdServer):
    """ftpd started under prlimit with a file size limit of limit bytes."""

    def __init__(self, limit=LIMIT, **kw):
        super().__init__(**kw)
        self.limit = limit

    def command_line(self):
        return ["prlimit", "--fsize=%d" % self.limit, "--"] + super().command_line()


class TestFileSizeLimit(unittest.TestCase):
    def setUp(self):
        if not shutil.which("prlimit"):
            self.skipTest("prlimit is not installed")
        self.start_server(LIMIT)

    def start_server(self, limit):
        self.srv = LimitedServer(limit)
        self.srv.start()
        self.addCleanup(self.srv.stop)
        self.old = data_bytes(1000, seed=3)
        self.srv.write("keep.bin", self.old)

    def stor_expecting_refusal(self, f, name, data):
        f.voidcmd("TYPE I")
        conn = f.transfercmd("STOR " + name)
        try:
            conn.sendall(data)
        except OSError:
            pass  # the server may stop reading once the write failed
        finally:
            conn.close()
        with self.assertRaises(ftplib.error_perm) as cm:
            f.voidresp()
        return str(cm.exception)

    def assert_server_serves(self):
        f = self.srv.ftp()
        self.assertEqual(retr(f, "keep.bin"), self.old)
        f.quit()
        self.assertEqual(self.srv.internal_files(), [])

    def test_upload_over_the_limit_is_refused_and_the_server_lives(self):
        other = self.srv.ftp()  # a session that the failing upload must not take down
        f = self.srv.ftp()
        resp = self.stor_expecting_refusal(f, "keep.bin", data_bytes(3 * LIMIT, seed=4))
        self.assertTrue(resp.startswith("552"), resp)
        self.assertIn("too large", resp.lower())
        f.quit()
        self.assertEqual(other.sendcmd("NOOP")[:3], "200")
        other.quit()
        self.assert_server_serves()

    def test_large_upload_past_the_limit_on_a_writer_thread(self):
        # Past its first 256 KiB a binary upload is written by a writer thread.
        self.srv.stop()
        self.start_server(1 << 20)
        self.srv.write("keep.bin", self.old)
        f = self.srv.ftp()
        resp = self.stor_expecting_refusal(f, "new.bin", data_bytes(4 << 20, seed=5))
        self.assertTrue(resp.startswith("552"), resp)
        f.quit()
        self.assertFalse(self.srv.exists("new.bin"))
        self.assert_server_serves()

    def test_ftpc_says_the_file_is_too_large_and_does_not_hint_at_a_resume(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        src = os.path.join(self.srv.base, "src.bin")
        with open(src, "wb") as fh:
            fh.write(data_bytes(3 * LIMIT, seed=6))
        url = "ftp://%s:%s@%s:%d/keep.bin" % (self.srv.user, self.srv.password,
                                               self.srv.host, self.srv.port)
        r = subprocess.run([FTPC_BIN, "--retry", "2", "--retry-delay", "0", "put", src, url],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("552", r.stderr)
        self.assertNotIn("put -c", r.stderr)
        self.assertEqual(r.stderr.count("STOR"), 1, r.stderr)  # not retried
        self.assert_server_serves()


class TestClientFileSizeLimit(unittest.TestCase):
    """ftpc under a file size limit: a download past it fails with a message and status 6,
    and the run's other files go on, rather than SIGXFSZ ending ftpc without a word."""

    def test_download_past_the_limit_fails_alone(self):
        if not shutil.which("prlimit") or not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("prlimit or ftpc not found")
        srv = FtpdServer()
        srv.start()
        self.addCleanup(srv.stop)
        srv.write("big.bin", data_bytes(3 * LIMIT, seed=8))
        small = srv.make_file("small.bin", 1000, seed=9)
        out = os.path.join(srv.base, "out")
        os.mkdir(out)
        url = "ftp://%s:%s@%s:%d/" % (srv.user, srv.password, srv.host, srv.port)
        r = subprocess.run(["prlimit", "--fsize=%d" % LIMIT, "--", FTPC_BIN, "-j", "1", "get",
                            url + "big.bin", url + "small.bin"], cwd=out,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("File too large", r.stderr)
        with open(os.path.join(out, "small.bin"), "rb") as fh:
            self.assertEqual(fh.read(), small)
        self.assertFalse(os.path.exists(os.path.join(out, "big.bin")))


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    unittest.main()
