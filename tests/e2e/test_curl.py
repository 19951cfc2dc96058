"""curl as the client: downloads (binary and ;type=a), uploads, resume in both directions
(including an interrupted upload of a new file), active mode, listings, --ftp-create-dirs,
-Q quote commands, the three --ftp-method modes and parallel transfers."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import (INTERNAL_PREFIXES, ServerTestCase, data_bytes, reset_close, sha,
                          wait_for)

CURL = shutil.which("curl")


@unittest.skipIf(CURL is None, "curl is not installed")
class TestCurl(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-curl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def curl(self, *args, ok=True, timeout=60):
        cmd = [CURL, "-sS", "--max-time", "60", "--connect-timeout", "10"] + list(args)
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if ok and r.returncode != 0:
            self.fail("%s -> exit %d: %s\nserver log tail:\n%s" % (
                " ".join(cmd), r.returncode, r.stderr.decode(errors="replace"),
                "\n".join(self.srv.logs()[-30:])))
        return r

    def tmpfile(self, name, data=None):
        p = os.path.join(self.tmp, name)
        if data is not None:
            with open(p, "wb") as fh:
                fh.write(data)
        return p

    def readtmp(self, name):
        with open(os.path.join(self.tmp, name), "rb") as fh:
            return fh.read()

    def test_download_binary(self):
        data = self.srv.make_file("dir/b.bin", 3 << 20, seed=1)
        r = self.curl(self.srv.url("dir/b.bin"))
        self.assertEqual(sha(r.stdout), sha(data))

    def test_download_ascii(self):
        data = b"first line\nsecond\n\nlast\n" * 1000
        self.srv.write("t.txt", data)
        trace = self.tmpfile("trace.txt")
        r = self.curl("--trace-ascii", trace, self.srv.url("t.txt", typecode="a"))
        # the wire carries CRLF (curl turns it back into LF when it writes the file)
        with open(trace, "rb") as fh:
            got = sum(int(n) for n in re.findall(rb"<= Recv data, (\d+) bytes", fh.read()))
        self.assertEqual(got, len(data.replace(b"\n", b"\r\n")))
        self.assertEqual(r.stdout, data)

    def test_upload(self):
        data = data_bytes(2 << 20, 2)
        src = self.tmpfile("up.bin", data)
        self.curl("-T", src, self.srv.url("up.bin"))
        self.assertEqual(sha(self.srv.read("up.bin")), sha(data))

    def test_upload_ascii_crlf(self):
        data = b"alpha\nbeta\ngamma\n" * 500
        src = self.tmpfile("a.txt", data)
        # --crlf sends CRLF line ends; TYPE A makes the server store LF
        self.curl("--crlf", "-T", src, self.srv.url("a.txt", typecode="a"))
        self.assertEqual(self.srv.read("a.txt"), data)

    def test_resume_upload_of_partial_file(self):
        full = data_bytes(1 << 20, 3)
        self.srv.write("r.bin", full[:300000])
        src = self.tmpfile("r.bin", full)
        self.curl("-C", "-", "-T", src, self.srv.url("r.bin"))
        self.assertEqual(sha(self.srv.read("r.bin")), sha(full))

    def test_resume_interrupted_new_upload(self):
        full = data_bytes(900000, 4)
        # an upload of a new file dies half way
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR fresh.bin")[0], 150)
        ds.sendall(full[:400000])
        wait_for(lambda: any(
            n.startswith(".ftpd-up.") and os.stat(self.srv.local(n)).st_size >= 400000
            for n in os.listdir(self.srv.root)), 10)
        c.close()
        time.sleep(0.3)
        reset_close(ds)
        wait_for(lambda: any(n.startswith(".ftpd-partial.") for n in os.listdir(self.srv.root)), 5)
        self.assertFalse(self.srv.exists("fresh.bin"))
        # curl -C - asks SIZE and continues from there
        src = self.tmpfile("fresh.bin", full)
        self.curl("-C", "-", "-T", src, self.srv.url("fresh.bin"))
        self.assertEqual(sha(self.srv.read("fresh.bin")), sha(full))
        self.assertEqual([n for n in os.listdir(self.srv.root) if n.startswith(INTERNAL_PREFIXES)], [])

    def test_resume_download(self):
        data = self.srv.make_file("d.bin", 2 << 20, seed=5)
        out = self.tmpfile("d.bin", data[:777777])
        self.curl("-C", "-", "-o", out, self.srv.url("d.bin"))
        self.assertEqual(sha(self.readtmp("d.bin")), sha(data))

    def test_active_mode(self):
        data = self.srv.make_file("act.bin", 1 << 20, seed=6)
        for extra in ([], ["--disable-eprt"]):
            r = self.curl("--ftp-port", "127.0.0.1", *extra, self.srv.url("act.bin"))
            self.assertEqual(sha(r.stdout), sha(data), extra)
            up = data_bytes(500000, 7)
            src = self.tmpfile("act-up.bin", up)
            self.curl("--ftp-port", "127.0.0.1", *extra, "-T", src, self.srv.url("act-up.bin"))
            self.assertEqual(self.srv.read("act-up.bin"), up)

    def test_pasv_only(self):
        data = self.srv.make_file("p.bin", 100000, seed=8)
        r = self.curl("--disable-epsv", self.srv.url("p.bin"))
        self.assertEqual(r.stdout, data)

    def test_listings(self):
        self.srv.write("ls/one.txt", b"1")
        self.srv.write("ls/two.txt", b"22")
        self.srv.mkdir("ls/sub")
        r = self.curl("-l", self.srv.url("ls/"))
        self.assertEqual(sorted(r.stdout.decode().split()), ["one.txt", "sub", "two.txt"])
        r = self.curl(self.srv.url("ls/"))
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(any(l.startswith("d") and l.endswith(" sub") for l in lines), lines)
        self.assertTrue(any(l.startswith("-") and l.endswith(" two.txt") for l in lines), lines)

    def test_create_dirs(self):
        src = self.tmpfile("c.txt", b"deep")
        self.curl("--ftp-create-dirs", "-T", src, self.srv.url("a/b/c/c.txt"))
        self.assertEqual(self.srv.read("a/b/c/c.txt"), b"deep")

    def test_quote_dele(self):
        self.srv.write("victim.txt", b"v")
        self.srv.write("stay.txt", b"s")
        self.curl("-Q", "DELE victim.txt", "-l", self.srv.url(""))
        self.assertFalse(self.srv.exists("victim.txt"))
        self.assertTrue(self.srv.exists("stay.txt"))
        # a refused quote command fails curl
        r = self.curl("-Q", "DELE nosuch.txt", self.srv.url(""), ok=False)
        self.assertNotEqual(r.returncode, 0)

    def test_ftp_methods(self):
        data = self.srv.make_file("x/y/z/m.bin", 50000, seed=9)
        for method in ("multicwd", "singlecwd", "nocwd"):
            r = self.curl("--ftp-method", method, self.srv.url("x/y/z/m.bin"))
            self.assertEqual(r.stdout, data, method)

    def test_listing_of_a_directory_named_like_an_option(self):
        # nocwd sends "NLST -d" and "LIST -d", which name the directory -d
        self.srv.make_file("-d/in.bin", 5)
        self.srv.make_file("top.bin", 1)
        for method in ("multicwd", "singlecwd", "nocwd"):
            r = self.curl("--ftp-method", method, "-l", self.srv.url("-d/"))
            self.assertEqual(r.stdout.split(), [b"in.bin"], method)
            r = self.curl("--ftp-method", method, self.srv.url("-d/"))
            self.assertEqual(r.stdout.split()[-1:], [b"in.bin"], method)

    def test_wrong_password(self):
        r = self.curl(self.srv.url("", pw="wrong"), ok=False, timeout=30)
        self.assertEqual(r.returncode, 67, r.stderr)

    def test_anonymous(self):
        self.srv.write("pub.txt", b"public", base=self.srv.anon_root)
        r = self.curl("ftp://%s:%d/pub.txt" % (self.srv.host, self.srv.port))
        self.assertEqual(r.stdout, b"public")
        src = self.tmpfile("nope.txt", b"nope")
        r = self.curl("-T", src, "ftp://%s:%d/nope.txt" % (self.srv.host, self.srv.port), ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(self.srv.exists("nope.txt", base=self.srv.anon_root))

    def test_parallel(self):
        files = {}
        for i in range(16):
            files["par/f%02d.bin" % i] = self.srv.make_file("par/f%02d.bin" % i, 300000 + i, seed=i)
        args = ["-Z", "--parallel-max", "16"]
        for name in files:
            args += ["-o", os.path.join(self.tmp, os.path.basename(name)), self.srv.url(name)]
        self.curl(*args)
        for name, data in files.items():
            self.assertEqual(sha(self.readtmp(os.path.basename(name))), sha(data), name)


if __name__ == "__main__":
    unittest.main()
