"""End-to-end tests of get -c against servers whose bytes after REST are not the rest of
what is kept: one that answers REST with 350 and sends the file from its start anyway, and a
file that changed on the server. A resume asks for the 4096 bytes before its offset again
and compares them with those kept, as each range of get --segments does; a difference must
never leave a file of the right size with wrong bytes that a later get -c takes as
complete.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import unittest

from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN

OVERLAP = 4096


def data_bytes(n, seed):
    out, block = bytearray(), hashlib.sha256(b"%d" % seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


class ResumeFtp(ScriptedFtp):
    """Serves `data` as f.bin: with SIZE unless no_size, with HASH over RANG if hashes, and
    RETR from the REST offset unless ignore_rest (then always from byte 0)."""

    def __init__(self, data, ignore_rest=False, no_size=False, hashes=False, sessions=2):
        super().__init__(sessions, timeout=20)
        self.data, self.ignore_rest = data, ignore_rest
        self.FEATURES = tuple(f for f in ("SIZE", "REST STREAM") if f != "SIZE" or not no_size)
        if hashes:
            self.FEATURES += ("HASH SHA-256*",)
        self.rests = []

    def command(self, s, verb, arg):
        if verb == "SIZE" and "SIZE" in self.FEATURES:
            s.send("213 %d" % len(self.data))
        elif verb == "RETR":
            rest, s.rest = s.rest, 0
            self.rests.append(rest)
            s.send_download(self.data if self.ignore_rest else self.data[rest:])
        elif verb == "RANG" and any(f.startswith("HASH") for f in self.FEATURES):
            s.rang = tuple(int(x) for x in arg.split())
            s.send("350 range set")
        elif verb == "HASH" and any(f.startswith("HASH") for f in self.FEATURES):
            a, b = getattr(s, "rang", None) or (0, len(self.data) - 1)
            s.rang = None
            s.send("213 SHA-256 %d-%d %s %s"
                   % (a, b, hashlib.sha256(self.data[a:b + 1]).hexdigest(), arg))
        else:
            return super().command(s, verb, arg)
        return True


class TestResumeOverlap(unittest.TestCase):
    SIZE = 300000
    KEPT = 100000

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        self.tmp = tempfile.mkdtemp(prefix="ftpc-overlap-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = data_bytes(self.SIZE, 1)
        self.dest = os.path.join(self.tmp, "f.bin")
        self.part = os.path.join(self.tmp, ".f.bin.ftpc-part")

    def get_c(self, fake, *opts):
        fake.start()
        try:
            return subprocess.run(
                [FTPC_BIN, "--timeout", "10", *opts, "-c", "get",
                 "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                cwd=self.tmp, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                env=dict(os.environ, NETRC=os.path.join(self.tmp, "none")))
        finally:
            fake.stop()

    def keep(self, path, content):
        with open(path, "wb") as f:
            f.write(content)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def assert_whole_file(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.read(self.dest), self.data)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])

    def test_rest_ignored_part_file_is_downloaded_again(self):
        # the bug: the whole file went after the kept bytes, cut at SIZE (exit 8), and the
        # next get -c renamed that part file into place as complete
        for opts in ((), ("--no-verify",)):
            self.keep(self.part, self.data[:self.KEPT])
            fake = ResumeFtp(self.data, ignore_rest=True)
            r = self.get_c(fake, *opts)
            self.assert_whole_file(r)
            self.assertIn(b"f.bin: the server accepted REST %d but sent the file from its "
                          b"start: downloading it all again" % (self.KEPT - OVERLAP), r.stderr)
            self.assertEqual(fake.rests, [self.KEPT - OVERLAP])
            os.remove(self.dest)

    def test_rest_ignored_in_place_is_downloaded_again(self):
        self.keep(self.dest, self.data[:self.KEPT])
        r = self.get_c(ResumeFtp(self.data, ignore_rest=True))
        self.assert_whole_file(r)

    def test_rest_ignored_without_size(self):
        # without SIZE nothing stopped the whole file going after the kept bytes: exit 0,
        # and a file longer than the server's
        self.keep(self.part, self.data[:self.KEPT])
        r = self.get_c(ResumeFtp(self.data, ignore_rest=True, no_size=True))
        self.assert_whole_file(r)

    def test_rest_ignored_with_hash(self):
        self.keep(self.part, self.data[:self.KEPT])
        fake = ResumeFtp(self.data, ignore_rest=True, hashes=True)
        r = self.get_c(fake)
        self.assert_whole_file(r)
        self.assertIn(b"verified sha256", r.stderr)

    def test_kept_bytes_of_another_version_are_not_appended_to(self):
        # the server honours REST, but its file is not the one the kept bytes came from
        # (no HASH, no MDTM to tell): they were spliced to its rest, and get -c said 0
        old = data_bytes(self.SIZE, 2)
        self.keep(self.part, old[:self.KEPT])
        r = self.get_c(ResumeFtp(self.data))
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"the 4096 bytes the server sent after REST %d differ from those kept "
                      b"before byte %d" % (self.KEPT - OVERLAP, self.KEPT), r.stderr)
        self.assertIn(b"nothing appended, .f.bin.ftpc-part is dropped (get -c downloads it "
                      b"all again)", r.stderr)
        self.assertEqual(os.listdir(self.tmp), [])
        self.assert_whole_file(self.get_c(ResumeFtp(self.data)))

    def test_changed_file_resumed_in_place_is_left_as_it_was(self):
        old = data_bytes(self.KEPT, 2)
        self.keep(self.dest, old)
        r = self.get_c(ResumeFtp(self.data))
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"nothing appended, f.bin is left as it was (get without -c downloads "
                      b"it again)", r.stderr)
        self.assertEqual(self.read(self.dest), old)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])

    def test_part_file_of_full_size_is_checked_before_it_is_taken(self):
        # what the REST-ignoring server left before the fix: the server's size, wrong bytes;
        # get -c renamed it into place, exit 0
        bad = (self.data[:self.KEPT] + self.data)[:self.SIZE]
        self.keep(self.part, bad)
        r = self.get_c(ResumeFtp(self.data))
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"nothing appended, .f.bin.ftpc-part is dropped", r.stderr)
        self.assertEqual(os.listdir(self.tmp), [])
        # a good one is taken after its last bytes are compared
        self.keep(self.part, self.data)
        fake = ResumeFtp(self.data)
        self.assert_whole_file(self.get_c(fake))
        self.assertEqual(fake.rests, [self.SIZE - OVERLAP])

    def test_part_file_of_full_size_from_a_rest_ignoring_server(self):
        self.keep(self.part, (self.data[:self.KEPT] + self.data)[:self.SIZE])
        r = self.get_c(ResumeFtp(self.data, ignore_rest=True))
        self.assert_whole_file(r)

    def test_short_kept_file_asks_from_zero(self):
        # fewer bytes kept than the overlap: all of them are asked for again
        self.keep(self.part, self.data[:1000])
        fake = ResumeFtp(self.data)
        self.assert_whole_file(self.get_c(fake))
        self.assertEqual(fake.rests, [0])


if __name__ == "__main__":
    unittest.main()
