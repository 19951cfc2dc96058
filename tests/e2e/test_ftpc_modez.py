"""ftpc -z (MODE Z) against ftpd: compressible and random files both ways with bytes compared,
listings, the same under TLS, the wire bytes shown beside the file bytes, a server without
MODE Z (a warning, then a plain transfer), and corrupt or truncated streams.

The ftpd side of MODE Z is required: when ftpd's FEAT does not list MODE Z the ftpd tests skip
and say so.
"""
import os
import re
import resource
import socket
import unittest

from ftpd_harness import data_bytes
from test_ftpc import FTPC_BIN, FtpcCase, MiB
from test_ftpc_ascii import RawFtp
from test_ftpc_tls import TlsCase


def text_bytes(size, seed=0):
    """Compressible text: log-like lines with a little variety."""
    lines = []
    n = 0
    total = 0
    while total < size:
        line = b"2026-12-02T03:%02d:%02d host%d ftpd[%d]: session %d: RETR /pub/file-%d.bin ok\n" % (
            n % 60, (n * 7) % 60, seed, 1000 + n % 17, n, n % 101)
        lines.append(line)
        total += len(line)
        n += 1
    return b"".join(lines)[:size]


def feat_has_mode_z(srv):
    with socket.create_connection((srv.host, srv.port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()
        f.write(b"FEAT\r\n")
        f.flush()
        lines = []
        while True:
            line = f.readline().decode()
            lines.append(line.strip())
            if line[:4] in ("211 ", "500 ", "502 ") or not line:
                break
    return any(x.upper() == "MODE Z" for x in lines)


def wire_bytes(stderr):
    m = re.search(r"wire ([\d.]+) ?([KMG]i?B|B|bytes)", stderr)
    return m.group(0) if m else None


class ModeZMixin:
    def require_mode_z(self):
        if not feat_has_mode_z(self.srv):
            self.skipTest("ftpd's FEAT does not list MODE Z (server side not built yet)")

    def round_trip(self, data, name, url_of, run):
        self.write_local(name, data)
        r = run("-v", "-z", "put", name, url_of(name))
        err = r.stderr.decode()
        self.assertIn("> MODE Z", err)
        self.assertEqual(self.srv.read(name), data)
        self.assertIsNotNone(wire_bytes(err), err)
        os.unlink(self.local(name))
        r = run("-v", "-z", "get", url_of(name))
        self.assertEqual(self.read_local(name), data)
        return r.stderr.decode()


class TestModeZ(ModeZMixin, FtpcCase):
    def setUp(self):
        super().setUp()
        self.require_mode_z()

    def test_compressible(self):
        data = text_bytes(20 * MiB, 1)
        err = self.round_trip(data, "log.txt", self.srv.url, self.ftpc)
        self.assertIn("> MODE Z", err)
        # far fewer bytes on the wire than in the file
        m = re.search(r"log\.txt: .* wire ([\d.]+) (KiB|MiB)", err)
        self.assertIsNotNone(m, err)
        wire = float(m.group(1)) * (1024 if m.group(2) == "KiB" else MiB)
        self.assertLess(wire, len(data) / 5)

    def test_random(self):
        data = data_bytes(6 * MiB + 11, 2)
        self.round_trip(data, "rand.bin", self.srv.url, self.ftpc)

    def children_cpu(self):
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def test_random_upload_is_stored_not_searched(self):
        """-z covers every file of a put or a mirror, archives too: past its first MiB, data
        that does not compress goes in stored blocks, not through deflate's search for matches
        that are not there. Before, 32 MiB of random data cost ftpc about 1 CPU-second more
        than without -z (24 MiB/s); now under a tenth of that."""
        data = data_bytes(32 * MiB, 7)
        self.write_local("noise.bin", data)
        t0 = self.children_cpu()
        self.ftpc("put", "noise.bin", self.srv.url("plain.bin"))
        plain = self.children_cpu() - t0
        t0 = self.children_cpu()
        r = self.ftpc("-z", "put", "noise.bin", self.srv.url("z.bin"))
        z = self.children_cpu() - t0
        self.assertEqual(self.srv.read("z.bin"), data)
        self.assertIn("(MODE Z)", r.stderr.decode())
        self.assertLess(z - plain, 0.4, "-z cost %.2f CPU-s, without %.2f" % (z, plain))

    def test_empty_and_small(self):
        self.round_trip(b"", "empty.bin", self.srv.url, self.ftpc)
        self.round_trip(b"x", "one.bin", self.srv.url, self.ftpc)

    def test_listing_and_cat(self):
        for i in range(50):
            self.srv.write("d/file-%02d.txt" % i, b"x" * i)
        r = self.ftpc("-z", "ls", self.srv.url("d/"))
        self.assertEqual(sorted(r.stdout.decode().split()), ["file-%02d.txt" % i for i in range(50)])
        r = self.ftpc("-z", "ls", "-l", self.srv.url("d/"))
        self.assertEqual(len(r.stdout.decode().splitlines()), 50)
        data = text_bytes(300000, 3)
        self.srv.write("c.txt", data)
        r = self.ftpc("-z", "cat", self.srv.url("c.txt"))
        self.assertEqual(r.stdout, data)

    def test_parallel_and_mirror(self):
        files = {"m%d.txt" % i: text_bytes(400000 + i, i) for i in range(4)}
        for n, d in files.items():
            self.srv.write("tree/" + n, d)
        self.ftpc("-z", "-j", "4", "mirror", self.srv.url("tree/"), "out")
        for n, d in files.items():
            self.assertEqual(self.read_local(os.path.join("out", n)), d)

    def test_resume_download(self):
        data = text_bytes(3 * MiB, 4)
        self.srv.write("r.txt", data)
        self.write_local(".r.txt.ftpc-part", data[:1000003])
        r = self.ftpc("-v", "-z", "-c", "get", self.srv.url("r.txt"))
        # 4 KiB early, compared with the bytes kept (inflated: REST counts file bytes)
        self.assertIn("> REST %d" % (1000003 - 4096), r.stderr.decode())
        self.assertEqual(self.read_local("r.txt"), data)


class TestModeZTls(ModeZMixin, TlsCase):
    def setUp(self):
        super().setUp()
        self.require_mode_z()

    def test_compressible_and_random_over_tls(self):
        url = lambda n: self.url(n)
        self.round_trip(text_bytes(8 * MiB, 5), "t.txt", url, self.tls)
        self.round_trip(data_bytes(3 * MiB, 6), "r.bin", url, self.tls)
        self.srv.write("l/a.txt", b"a")
        r = self.tls("-z", "ls", self.url("l/"))
        self.assertEqual(r.stdout.decode().split(), ["a.txt"])


class TestScriptedServer(unittest.TestCase):
    """A scripted server: one whose FEAT has no MODE Z (a warning, and the transfer goes
    uncompressed), and one that sends corrupt, truncated or overlong deflate streams (a clean
    failure, exit status 7, no file)."""

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        import tempfile
        import shutil
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-z-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_warning_and_plain(self):
        import subprocess
        payload = b"plain bytes " * 1000
        fake = RawFtp(payload=payload)
        fake.start()
        r = subprocess.run([FTPC_BIN, "-z", "get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                           cwd=self.tmp, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        fake.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"does not offer MODE Z", r.stderr)
        self.assertNotIn("MODE Z", fake.commands)
        with open(os.path.join(self.tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), payload)

    def run_z_get(self, payload):
        import subprocess
        fake = RawFtp(payload=payload, feat=("MODE Z", "REST STREAM"))
        fake.start()
        r = subprocess.run([FTPC_BIN, "-z", "get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                           cwd=self.tmp, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        fake.join(20)
        self.assertIn("MODE Z", fake.commands)
        return r

    def test_corrupt_and_truncated_streams(self):
        import zlib
        r = self.run_z_get(b"this is not a zlib stream at all" * 10)
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"corrupt compressed data (MODE Z)", r.stderr)
        good = zlib.compress(b"some text " * 5000)
        r = self.run_z_get(good[:len(good) // 2])
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"ended early", r.stderr)
        r = self.run_z_get(good + b"trailing junk")
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"after the end of the compressed stream", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "f.bin")))
        r = self.run_z_get(good)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), b"some text " * 5000)


if __name__ == "__main__":
    unittest.main()
