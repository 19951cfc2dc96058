"""ftpc over FTPS when a data connection ends without TLS close_notify: a bare FIN, which
anyone on the path can forge to cut a download or a listing short (a truncation attack; the
226 on the control connection only says that the server handed the data to its kernel).

Where nothing else proves the data whole (SIZE, the 150 reply's "(N bytes)", the end of a
MODE Z stream), such an end is a failure (exit status 7) that keeps the part file for get -c;
where one of them does, there is no message at all. ftpd, vsftpd, pure-ftpd and ProFTPD all
send close_notify on their data connections, so nothing changes against them (the ftpd case
is checked here).
"""
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import unittest
import zlib

from scripted_ftp import ScriptedFtp
from test_ftpc import FtpcCase, FTPC_BIN
from test_ftpc_tls import TlsCase

EXIT_XFER = 7
EXIT_VERIFY = 8
DATA = bytes(range(256)) * 400 + b"tail"  # 102404 bytes, several TLS records
LISTING = b"-rw-r--r-- 1 u g 102404 Jan 01 00:00 f.bin\r\n"
CUT_MSG = "without TLS close_notify"


def assert_silent(case, err):
    """No word about how the data connection ended (the summary lines may be there)."""
    for word in ("close_notify", "cut short", "warning"):
        case.assertNotIn(word, err)


class TlsScriptedFtp(ScriptedFtp):
    """Explicit FTPS (AUTH TLS, PROT P) whose data connections end as `end` says: "ragged"
    closes the socket without close_notify, "clean" sends close_notify first. RETR sends
    DATA from REST's offset, cut to `cut` bytes when given; with `size` SIZE is offered, with
    `announce` the 150 says "(N bytes)"; `mode_z` offers MODE Z."""

    UNKNOWN = "502 no"

    def __init__(self, ctx, end, size=False, announce=False, cut=None, mode_z=False,
                 sessions=1):
        super().__init__(sessions=sessions, timeout=20)
        self.ctx, self.end, self.cut = ctx, end, cut
        self.size, self.announce, self.mode_z = size, announce, mode_z
        self.zon = False
        feats = ["AUTH TLS", "PBSZ", "PROT", "REST STREAM"]
        if size:
            feats.append("SIZE")
        if mode_z:
            feats.append("MODE Z")
        self.FEATURES = tuple(feats)

    def tls_download(self, s, first, data):
        s.send(first)
        d = s.accept_data()
        d.settimeout(self.timeout)
        try:
            d = self.ctx.wrap_socket(d, server_side=True)
            d.sendall(data)
            if self.end == "clean":
                d = d.unwrap()  # close_notify out, and the client's awaited
        except (OSError, ValueError):
            pass
        d.close()  # the "ragged" end: a FIN and nothing before it
        s.send("226 done")

    def command(self, s, verb, arg):
        if verb == "AUTH":
            s.send("234 go ahead")
            s.conn = self.ctx.wrap_socket(s.conn, server_side=True)
            s.f = s.conn.makefile("rwb")
        elif verb in ("PBSZ", "PROT"):
            s.send("200 ok")
        elif verb == "PWD":
            s.send('257 "/" is the current directory')
        elif verb == "CWD":
            s.send("250 ok")
        elif verb == "SIZE" and self.size:
            s.send("213 %d" % len(DATA))
        elif verb == "MODE" and self.mode_z:
            self.zon = arg.upper() == "Z"
            s.send("200 ok")
        elif verb == "RETR":
            data = DATA[s.rest:]
            s.rest = 0
            if self.cut is not None:
                data = data[:self.cut]
            if self.zon:
                data = zlib.compress(data)
            first = "150 here (%d bytes)" % len(DATA) if self.announce else "150 here"
            self.tls_download(s, first, data)
        elif verb in ("LIST", "NLST", "MLSD"):
            self.tls_download(s, "150 listing", zlib.compress(LISTING) if self.zon else LISTING)
        else:
            return super().command(s, verb, arg)
        return True


class TestRaggedTlsEnd(FtpcCase):
    """ftpc against the scripted server: no ftpd is needed."""

    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="ftpc-tls-eof-")
        cls.cert = os.path.join(cls.base, "cert.pem")
        key = os.path.join(cls.base, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                            cls.cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=IP:127.0.0.1"], capture_output=True, timeout=30)
        if r.returncode != 0:
            shutil.rmtree(cls.base, True)
            raise unittest.SkipTest("openssl could not make a certificate: %r" % r.stderr[-300:])
        cls.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cls.ctx.load_cert_chain(cls.cert, key)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.base, True)

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        # FtpcCase's scratch directory, without ServerTestCase's ftpd
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def serve(self, end, **kw):
        srv = TlsScriptedFtp(self.ctx, end, **kw)
        srv.start()
        self.addCleanup(srv.stop)
        return "ftpes://u:p@127.0.0.1:%d/" % srv.port

    def run_ftpc(self, *args, rc):
        r = self.ftpc("--cacert", self.cert, "--timeout", "10", *args, rc=rc)
        return r, r.stderr.decode("utf-8", "replace")

    def local(self, name):
        return os.path.join(self.tmp, name)

    def test_get_without_size_ending_ragged_fails_and_keeps_part(self):
        for cut in (None, 50000):  # the whole file, or a cut one: ftpc cannot tell
            with self.subTest(cut=cut):
                url = self.serve("ragged", cut=cut)
                r, err = self.run_ftpc("get", url + "f.bin", rc=EXIT_XFER)
                self.assertIn(CUT_MSG, err)
                self.assertIn("cut short", err)
                self.assertIn(".f.bin.ftpc-part kept: get -c resumes it", err)
                self.assertFalse(os.path.exists(self.local("f.bin")))
                part = self.local(".f.bin.ftpc-part")
                with open(part, "rb") as fh:
                    self.assertEqual(fh.read(), DATA[:cut])
                os.unlink(part)

    def test_get_c_resumes_the_part_from_a_clean_server(self):
        url = self.serve("ragged", cut=50000)
        self.run_ftpc("get", url + "f.bin", rc=EXIT_XFER)
        url = self.serve("clean")
        r, err = self.run_ftpc("get", "-c", url + "f.bin", rc=0)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)
        assert_silent(self, err)
        self.assertFalse(os.path.exists(self.local(".f.bin.ftpc-part")))

    def test_get_without_size_ending_clean_succeeds_silently(self):
        url = self.serve("clean")
        r, err = self.run_ftpc("get", url + "f.bin", rc=0)
        assert_silent(self, err)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)

    def test_size_that_matches_proves_a_ragged_end_whole(self):
        url = self.serve("ragged", size=True)
        r, err = self.run_ftpc("get", url + "f.bin", rc=0)
        assert_silent(self, err)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)

    def test_size_that_does_not_match_is_the_size_mismatch(self):
        url = self.serve("ragged", size=True, cut=50000)
        r, err = self.run_ftpc("get", url + "f.bin", rc=EXIT_VERIFY)
        self.assertIn("size mismatch: received 50000 bytes of %d" % len(DATA), err)

    def test_150_announced_size_proves_or_disproves_a_ragged_end(self):
        url = self.serve("ragged", announce=True)
        r, err = self.run_ftpc("get", url + "f.bin", rc=0)
        assert_silent(self, err)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)
        os.unlink(self.local("f.bin"))
        url = self.serve("ragged", announce=True, cut=50000)
        r, err = self.run_ftpc("get", url + "f.bin", rc=EXIT_XFER)
        self.assertIn(CUT_MSG, err)
        self.assertIn("50000 of the %d bytes" % len(DATA), err)
        self.assertTrue(os.path.exists(self.local(".f.bin.ftpc-part")))

    def test_cat_ending_ragged_fails(self):
        url = self.serve("ragged")
        r, err = self.run_ftpc("cat", url + "f.bin", rc=EXIT_XFER)
        self.assertIn(CUT_MSG, err)
        self.assertEqual(r.stdout, DATA)

    def test_listing_ending_ragged_fails_and_clean_succeeds(self):
        url = self.serve("ragged")
        r, err = self.run_ftpc("ls", "-l", url, rc=EXIT_XFER)
        self.assertIn(CUT_MSG, err)
        self.assertRegex(err, r"listing .*cut short")
        url = self.serve("clean")
        r, err = self.run_ftpc("ls", "-l", url, rc=0)
        assert_silent(self, err)
        self.assertIn(b"f.bin", r.stdout)

    def test_mode_z_stream_end_proves_a_ragged_end_whole(self):
        # The deflate stream's end marker travels inside the authenticated records.
        url = self.serve("ragged", mode_z=True)
        r, err = self.run_ftpc("-z", "get", url + "f.bin", rc=0)
        assert_silent(self, err)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)


class TestFtpdTlsEnd(TlsCase):
    """ftpd sends close_notify on every data connection: not a word from ftpc, with or
    without a size to compare (a listing has none)."""

    def test_get_cat_and_ls_are_silent(self):
        with open(os.path.join(self.srv.root, "f.bin"), "wb") as fh:
            fh.write(DATA)
        os.mkdir(os.path.join(self.srv.root, "empty"))
        r = self.tls("get", self.url("f.bin"))
        assert_silent(self, r.stderr.decode())
        with open(os.path.join(self.tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)
        r = self.tls("cat", self.url("f.bin"))
        self.assertEqual(r.stdout, DATA)
        assert_silent(self, r.stderr.decode())
        for path in ("", "empty/"):
            r = self.tls("ls", "-l", self.url(path))
            assert_silent(self, r.stderr.decode())
        self.assertTrue(re.search(rb"f\.bin", self.tls("ls", self.url("")).stdout))


if __name__ == "__main__":
    unittest.main()
