"""End-to-end tests of ftpc's transfer verification (--verify, the default; --no-verify): after
a download or upload ftpc asks the server for HASH and compares it with the SHA-256 of the
local bytes. Against the built ftpd: get and put end their lines with "verified sha256"; a file changed on the
server during a download (same size, bytes already sent) and a source changed during an
upload are caught with exit code 8 and both digests named; --no-verify sends no HASH; a
segmented get checks every segment with HASH over RANG. Against vsftpd (no HASH): the
transfers work and say "not verified".
"""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import SANITIZER_MARKERS, data_bytes, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB
import test_ftpc_interop as interop

VERIFY_EXIT = 8


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class TestVerifyFtpd(FtpcCase):
    def no_sanitizer(self, err):
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, err)

    def hash_cmds(self):
        return re.findall(r"-> HASH (.*)", self.srv.settled_log_text())

    def test_get_verified(self):
        data = self.srv.make_file("a.bin", 3 * MiB + 11, seed=41)
        r = self.ftpc("get", self.srv.url("a.bin"))
        self.assertEqual(self.read_local("a.bin"), data)
        self.assertRegex(r.stderr.decode(), r"(?m)^a\.bin: .*, verified sha256$")
        self.assertEqual(self.hash_cmds(), ["a.bin"])

    def test_one_feat_for_many_verified_files(self):
        """Each file's check sent FEAT again, a round trip per file and a line in the server's
        log: the connection keeps what its login's FEAT said of HASH."""
        data = [self.srv.make_file("f%d.bin" % i, 5000 + i, seed=60 + i) for i in range(3)]
        r = self.ftpc("-j", "1", "get", *[self.srv.url("f%d.bin" % i) for i in range(3)])
        for i in range(3):
            self.assertEqual(self.read_local("f%d.bin" % i), data[i])
            self.assertRegex(r.stderr.decode(), r"(?m)^f%d\.bin: .*, verified sha256$" % i)
        log = self.srv.settled_log_text()
        self.assertEqual(len(self.hash_cmds()), 3)
        self.assertEqual(len(re.findall(r"-> FEAT\b", log)), 1)

    def test_put_verified(self):
        up = data_bytes(2 * MiB + 5, 42)
        self.write_local("up.bin", up)
        r = self.ftpc("put", "up.bin", self.srv.url("up.bin"))
        self.assertEqual(self.srv.read("up.bin"), up)
        self.assertRegex(r.stderr.decode(), r"(?m)^up\.bin: .*, verified sha256$")
        self.assertEqual(self.hash_cmds(), ["up.bin"])

    def test_empty_and_several(self):
        self.srv.write("empty", b"")
        d1 = self.srv.make_file("one.bin", 70000, seed=43)
        r = self.ftpc("-j", "2", "get", self.srv.url("empty"), self.srv.url("one.bin"))
        err = r.stderr.decode()
        self.assertRegex(err, r"(?m)^empty: 0 B in .*, verified sha256$")
        self.assertRegex(err, r"(?m)^one\.bin: 68\.4 KiB in .*, verified sha256$")
        self.assertEqual(self.read_local("empty"), b"")
        self.assertEqual(self.read_local("one.bin"), d1)

    def test_no_verify(self):
        data = self.srv.make_file("a.bin", 100000, seed=44)
        r = self.ftpc("--no-verify", "get", self.srv.url("a.bin"))
        self.assertEqual(self.read_local("a.bin"), data)
        self.assertNotIn("verified", r.stderr.decode())
        self.write_local("u.bin", data)
        self.ftpc("--no-verify", "put", "u.bin", self.srv.url("u.bin"))
        self.assertEqual(self.hash_cmds(), [])

    def test_quiet_says_nothing(self):
        self.srv.make_file("a.bin", 1000, seed=45)
        r = self.ftpc("-q", "get", self.srv.url("a.bin"))
        self.assertEqual(r.stderr, b"")
        self.assertEqual(self.hash_cmds(), ["a.bin"])

    def test_file_changed_on_server_during_get(self):
        """The server's file changes (same size) after its head was sent: the download is
        complete by size but not what the server now holds."""
        size = 2 * MiB
        old = self.srv.make_file("live.bin", size, seed=46)
        new_head = bytes(255 - b for b in old[:65536])
        part = self.local(".live.bin.ftpc-part")
        p = self.popen("--limit-rate", "1M", "get", self.srv.url("live.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and
                                 os.path.getsize(part) > 256 * 1024, timeout=20))
        with open(self.srv.local("live.bin"), "r+b") as fh:
            fh.write(new_head)
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.no_sanitizer(err)
        self.assertEqual(p.returncode, VERIFY_EXIT, err)
        now = new_head + old[65536:]
        self.assertIn("verification failed", err)
        self.assertIn(sha256(old), err)   # what arrived (the local file)
        self.assertIn(sha256(now), err)   # what the server has now
        self.assertIn("kept as live.bin", err)
        self.assertEqual(self.read_local("live.bin"), old)

    def test_file_grown_on_server_during_get(self):
        """A file still being written (a log): the server sends the size it had when the RETR
        began, and hashes more by the time it is asked. Said as growth, not as a corrupt
        download; -c then fetches the rest."""
        size = 2 * MiB
        old = self.srv.make_file("log.bin", size, seed=47)
        more = data_bytes(100000, 48)
        part = self.local(".log.bin.ftpc-part")
        p = self.popen("--limit-rate", "1M", "get", self.srv.url("log.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and
                                 os.path.getsize(part) > 256 * 1024, timeout=20))
        with open(self.srv.local("log.bin"), "ab") as fh:
            fh.write(more)
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.no_sanitizer(err)
        self.assertEqual(p.returncode, VERIFY_EXIT, err)
        self.assertIn("the server's file is larger than when the download began (it grew, or "
                      "was replaced; its HASH covers bytes "
                      "0-%d, %d came)" % (size + 99999, size), err)
        self.assertIn("the downloaded file is kept as log.bin; get -c fetches the rest, or all "
                      "of it again if its first bytes changed", err)
        self.assertEqual(self.read_local("log.bin"), old)
        r = self.ftpc("get", "-c", self.srv.url("log.bin"))
        self.assertIn(b"verified sha256", r.stderr)
        self.assertEqual(self.read_local("log.bin"), old + more)

    def test_failed_check_does_not_replace_the_old_file(self):
        """As above, over a file already there: that file stays, the download waits in its part
        file."""
        size = 2 * MiB
        old = self.srv.make_file("live2.bin", size, seed=48)
        self.write_local("live2.bin", b"the good old copy")
        part = self.local(".live2.bin.ftpc-part")
        p = self.popen("--limit-rate", "1M", "get", self.srv.url("live2.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and
                                 os.path.getsize(part) > 256 * 1024, timeout=20))
        with open(self.srv.local("live2.bin"), "r+b") as fh:
            fh.write(bytes(255 - b for b in old[:65536]))
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.no_sanitizer(err)
        self.assertEqual(p.returncode, VERIFY_EXIT, err)
        self.assertIn("the download is kept as .live2.bin.ftpc-part, not put in place of "
                      "live2.bin", err)
        self.assertEqual(self.read_local("live2.bin"), b"the good old copy")
        self.assertEqual(self.read_local(".live2.bin.ftpc-part"), old)
        # once the server's file is whole again, -c takes the part file up and checks it
        with open(self.srv.local("live2.bin"), "r+b") as fh:
            fh.write(old[:65536])
        r = self.ftpc("get", "-c", self.srv.url("live2.bin"))
        self.assertIn(b"verified sha256", r.stderr)
        self.assertEqual(self.read_local("live2.bin"), old)
        self.assertFalse(os.path.exists(part))

    def test_failed_rename_after_the_check_prints_no_summary(self):
        """A verified download over a file that cannot be replaced (immutable): the error says
        why, and no summary line reads as if the file had arrived."""
        data = self.srv.make_file("imm.bin", 100000, seed=49)
        self.write_local("imm.bin", b"old")
        target = self.local("imm.bin")
        if subprocess.run(["chattr", "+i", target], capture_output=True).returncode != 0:
            self.skipTest("chattr +i is not available here")
        try:
            p = self.popen("get", self.srv.url("imm.bin"))
            out, err = p.communicate(timeout=60)
        finally:
            subprocess.run(["chattr", "-i", target], capture_output=True)
        err = err.decode()
        self.no_sanitizer(err)
        self.assertEqual(p.returncode, 6, err)
        self.assertRegex(err, r"renaming \.imm\.bin\.ftpc-part to imm\.bin: Operation not permitted")
        self.assertNotIn("verified", err)
        self.assertNotRegex(err, r"(?m)^imm\.bin: ")
        self.assertEqual(self.read_local("imm.bin"), b"old")
        self.assertEqual(self.read_local(".imm.bin.ftpc-part"), data)

    def test_source_changed_during_put(self):
        size = 2 * MiB
        src = data_bytes(size, 47)
        self.write_local("src.bin", src)
        p = self.popen("--limit-rate", "1M", "put", "src.bin", self.srv.url("dst.bin"))
        # the head is changed once the server has it (not after a fixed time: a loaded
        # machine may not have logged in by then); the rest takes about 2 s
        def uploading():
            for n in self.srv.internal_files():
                try:
                    if os.path.getsize(self.srv.local(n)) >= 65536:
                        return True
                except OSError:  # committed meanwhile
                    pass
            return False
        self.assertTrue(wait_for(uploading, 20), "the upload never began")
        with open(self.local("src.bin"), "r+b") as fh:
            fh.write(b"\0" * 4096)
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.no_sanitizer(err)
        self.assertEqual(p.returncode, VERIFY_EXIT, err)
        self.assertIn("verification failed", err)
        self.assertIn(sha256(src), err)  # the server got the original head

    def test_source_removed_or_replaced_during_put(self):
        # the upload reads the file it opened, as cp does; the check reads that same file, not
        # whatever has the name afterwards (nothing: status 6; a new file: a false mismatch)
        size = 2 * MiB
        src = data_bytes(size, 48)
        for name, swap in (("gone.bin", lambda path: os.unlink(path)),
                           ("swapped.bin", lambda path: self.replace_by_rename(path))):
            self.write_local(name, src)
            p = self.popen("--limit-rate", "1M", "put", name, self.srv.url(name))

            def uploading():
                for n in self.srv.internal_files():
                    try:
                        if os.path.getsize(self.srv.local(n)) >= 65536:
                            return True
                    except OSError:  # committed meanwhile
                        pass
                return False
            self.assertTrue(wait_for(uploading, 20), "the upload never began")
            swap(self.local(name))
            out, err = p.communicate(timeout=60)
            err = err.decode()
            self.no_sanitizer(err)
            self.assertEqual(p.returncode, 0, err)
            self.assertRegex(err, r"(?m)^%s: 2\.00 MiB in .*, verified sha256$" % re.escape(name))
            self.assertEqual(self.srv.read(name), src)

    def replace_by_rename(self, path):
        """An editor's save: a new file renamed over the old one."""
        with open(path + ".new", "wb") as fh:
            fh.write(b"the next version")
        os.rename(path + ".new", path)

    def test_segmented_get_verified_per_segment(self):
        size = 8 * MiB + 3
        data = self.srv.make_file("big.bin", size, seed=48)
        r = self.ftpc("--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertRegex(r.stderr.decode(),
                         r"(?m)^big\.bin: 8\.00 MiB in .*, verified sha256 \(4 segments\)$")
        log = self.srv.settled_log_text()
        rangs = sorted(tuple(int(x) for x in m)
                       for m in re.findall(r"-> RANG (\d+) (\d+)", log))
        bounds = [size * i // 4 for i in range(5)]
        self.assertEqual(rangs, [(bounds[i], bounds[i + 1] - 1) for i in range(4)])
        self.assertEqual(len(self.hash_cmds()), 4)


class RangeHashFtp(ScriptedFtp):
    """Serves `data` (SIZE, REST, RETR) and HASH over RANG, with a wrong digest for the range
    starting at bad_start: one segment of a segmented get does not match."""

    FEATURES = ("SIZE", "REST STREAM", "HASH SHA-256*;MD5;")

    def __init__(self, data, bad_start, sessions=8, hash_delay=0.0):
        super().__init__(sessions, timeout=15)
        self.data, self.bad_start = data, bad_start
        self.hash_delay = hash_delay  # seconds before each HASH reply (a slow server)
        self.hashes = []

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "RETR":
            rest, s.rest = s.rest, 0
            s.send_download(self.data[rest:])
        elif verb == "RANG":
            s.rang = tuple(int(x) for x in arg.split())
            s.send("350 range set")
        elif verb == "HASH":
            a, b = getattr(s, "rang", None) or (0, len(self.data) - 1)
            s.rang = None
            part = self.data[a:b + 1]
            if a == self.bad_start:
                part = b"not " + part
            self.hashes.append((a, b))
            time.sleep(self.hash_delay)
            s.send("213 SHA-256 %d-%d %s %s" % (a, b, hashlib.sha256(part).hexdigest(), arg))
        else:
            return super().command(s, verb, arg)
        return True


def get_f_bin(fake, tmp, *opts):
    """Runs `ftpc [opts] get` of f.bin from the started scripted server fake, in tmp."""
    return subprocess.run([FTPC_BIN, *opts, "get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                          cwd=tmp, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, NETRC=os.path.join(tmp, "none")))


class TestSegmentMismatch(unittest.TestCase):
    def test_bad_segment_fails(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        size = 4 * MiB
        data = data_bytes(size, 50)
        fake = RangeHashFtp(data, bad_start=size // 4 * 2)
        fake.start()
        r = get_f_bin(fake, tmp, "--segments", "4")
        err = r.stderr.decode()
        self.assertEqual(r.returncode, VERIFY_EXIT, err)
        self.assertIn("verification failed", err)
        self.assertIn("bytes %d-%d" % (size // 2, size // 4 * 3 - 1), err)
        self.assertIn(hashlib.sha256(data[size // 2:size // 4 * 3]).hexdigest(), err)
        self.assertFalse(os.path.exists(os.path.join(tmp, "f.bin")))


class NoRangeHashFtp(RangeHashFtp):
    """HASH of whole files only (RANG unknown), with a wrong digest: a segmented get is
    checked once it is complete."""

    def command(self, s, verb, arg):
        if verb == "RANG":
            s.send("500 RANG not understood")
            return True
        return super().command(s, verb, arg)


class TestSegmentedWholeFileMismatch(unittest.TestCase):
    def test_the_file_it_would_replace_stays(self):
        # the check of the whole file follows the ranges: until it matches, the download
        # must not take the place of the file already here
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = data_bytes(4 * MiB, 53)
        old = b"the good copy already here\n"
        with open(os.path.join(tmp, "f.bin"), "wb") as fh:
            fh.write(old)
        fake = NoRangeHashFtp(data, bad_start=0)
        fake.start()
        r = get_f_bin(fake, tmp, "--segments", "4")
        fake.stop()
        err = r.stderr.decode()
        self.assertEqual(r.returncode, VERIFY_EXIT, err)
        self.assertIn("verification failed", err)
        with open(os.path.join(tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), old)
        # and with a matching digest it goes in place
        fake = NoRangeHashFtp(data, bad_start=-1)
        fake.start()
        r = get_f_bin(fake, tmp, "--segments", "4")
        fake.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        self.assertEqual(sorted(os.listdir(tmp)), ["f.bin"])


class ProftpdHashFtp(RangeHashFtp):
    """Answers HASH as ProFTPD's mod_digest does, in two lines: "213-Computing SHA-256
    digest", then "213 SHA-256 0-N HEX PATH"."""

    FEATURES = ("SIZE", "REST STREAM", "HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;")

    def command(self, s, verb, arg):
        if verb == "OPTS" and arg.upper().startswith("HASH "):
            s.send("200 " + arg[5:].upper())
        elif verb == "HASH":
            s.send("213-Computing SHA-256 digest")
            s.send("213 SHA-256 0-%d %s %s" % (len(self.data), hashlib.sha256(self.data).hexdigest(),
                                                arg))
        else:
            return super().command(s, verb, arg)
        return True


class CountingProftpdHashFtp(ProftpdHashFtp):
    """ProftpdHashFtp that counts the commands it is sent, by verb."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.verbs = []

    def command(self, s, verb, arg):
        self.verbs.append(verb)
        return super().command(s, verb, arg)


class TestHashFeaturesKept(unittest.TestCase):
    def test_one_opts_hash_per_connection(self):
        """A server whose FEAT stars SHA-1 is asked OPTS HASH SHA-256 once on a connection,
        not FEAT and OPTS again for each file's check."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        fake = CountingProftpdHashFtp(data_bytes(20000, 54), bad_start=-1, sessions=2)
        fake.start()
        self.addCleanup(fake.stop)
        urls = ["ftp://u:p@127.0.0.1:%d/f%d.bin" % (fake.port, i) for i in range(3)]
        r = subprocess.run([FTPC_BIN, "-j", "1", "get", *urls], cwd=tmp, capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NETRC=os.path.join(tmp, "none")))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(rb"(?m)^f\d\.bin: .*, verified sha256$", r.stderr)), 3)
        self.assertEqual(fake.verbs.count("HASH"), 3)
        self.assertEqual(fake.verbs.count("FEAT"), 1)
        self.assertEqual(fake.verbs.count("OPTS"), 1)


class TestMultiLineHashReply(unittest.TestCase):
    def test_proftpd_style_reply_verifies(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = data_bytes(300000, 53)
        fake = ProftpdHashFtp(data, bad_start=-1, sessions=2)
        fake.start()
        r = get_f_bin(fake, tmp)
        fake.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, rb"(?m)^f\.bin: .*, verified sha256$")


class TestSlowHash(unittest.TestCase):
    """A server takes a while to hash a large file: ftpc waits beyond --timeout, by an
    allowance of one second per 32 MiB of the file, and no longer."""

    def run_get(self, data, delay):
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        fake = RangeHashFtp(data, bad_start=-1, sessions=2, hash_delay=delay)
        fake.start()
        t = time.monotonic()
        r = get_f_bin(fake, tmp, "--timeout", "1")
        return r, time.monotonic() - t

    def test_allowance(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        data = data_bytes(64 * MiB, 51)  # allowance: 1 s + 64 MiB / 32 MiB/s = 3 s
        r, _ = self.run_get(data, 2.0)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, rb"(?m)^f\.bin: .*, verified sha256$")
        r, took = self.run_get(data, 8.0)
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"timed out", r.stderr)
        self.assertIn(b"HASH f.bin", r.stderr)
        self.assertLess(took, 7.5)


class TestInterruptedCheck(unittest.TestCase):
    def test_interrupt_during_the_check_says_the_file_is_complete(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = data_bytes(300000, 52)
        fake = RangeHashFtp(data, bad_start=-1, sessions=2, hash_delay=8.0)
        fake.start()
        p = subprocess.Popen([FTPC_BIN, "get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                             cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, NETRC=os.path.join(tmp, "none")))
        self.assertTrue(wait_for(lambda: fake.hashes, timeout=10))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
        err = err.decode()
        self.assertEqual(p.returncode, 7, err)
        self.assertIn("f.bin: complete, but not verified: the check was interrupted", err)
        with open(os.path.join(tmp, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)


@unittest.skipIf(interop.why_not() is not None, interop.why_not() or "")
class TestVerifyVsftpd(interop.PeerMixin, unittest.TestCase):
    """vsftpd has no HASH: transfers work and say they were not verified."""

    SERVER = "vsftpd"

    def test_not_verified(self):
        data = self.srv_write("a.bin", data_bytes(MiB + 3, 49))
        r = self.ftpc("get", self.url("a.bin"))
        with open(os.path.join(self.tmp, "a.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        self.assertIn("a.bin: not verified (the server offers no HASH, so no file from it is)",
                      r.stderr.decode())
        r = self.ftpc("put", os.path.join(self.tmp, "a.bin"), self.url("b.bin"))
        self.assertEqual(self.srv_read("b.bin"), data)
        self.assertIn("a.bin: not verified", r.stderr.decode())

    def test_said_once_per_server(self):
        for n in ("x1", "x2", "x3"):
            self.srv_write(n, data_bytes(1000, 53))
        r = self.ftpc("-j", "2", "get", "-O", "several", self.url("x1"), self.url("x2"),
                      self.url("x3"))
        self.assertEqual(r.stderr.decode().count("not verified"), 1, r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
