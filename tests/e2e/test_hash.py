"""HASH (draft-bryan-ftpext-hash-02), OPTS HASH and RANG: the digests equal hashlib's for
empty, small and large files; errors; FEAT; and a long hash runs on a worker, so other
sessions are answered at once while it runs."""
import hashlib
import os
import re
import select
import socket
import time
import unittest

from ftpd_harness import (DEFAULT_PASSWORD, DEFAULT_USER, ServerTestCase, reply, retr,
                          run_as_user, stor, wait_for)

HASH_RE = re.compile(r"^213 (\S+) (\d+)-(\d+) ([0-9a-f]+) (.+)$")


def parse_hash(text):
    m = HASH_RE.match(text)
    if not m:
        raise AssertionError("malformed HASH reply %r" % text)
    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5)


def file_digest(path, algo, start=0, end=None):
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        fh.seek(start)
        left = None if end is None else end - start + 1
        while left is None or left > 0:
            chunk = fh.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


class TestHash(ServerTestCase):
    server_kwargs = {"users": [(DEFAULT_USER, DEFAULT_PASSWORD, "elradfmw"),
                               ("bob", "bob-Pw-0815", "el"),
                               ("carol", "carol-Pw-0815", "elr")]}

    def hash(self, f, path):
        code, text = reply(f, "HASH " + path)
        self.assertEqual(code, 213, text)
        return parse_hash(text)

    def test_digests_match_hashlib(self):
        self.srv.write("empty.bin", b"")
        self.srv.make_file("small.bin", 1000, seed=1)
        self.srv.make_file("sub/big.bin", 64 << 20, seed=2)
        f = self.srv.ftp()
        for algo, name in (("sha256", None), ("sha1", "SHA-1"), ("md5", "MD5"),
                           ("sha256", "sha-256")):
            if name:
                code, text = reply(f, "OPTS HASH " + name)
                self.assertEqual(code, 200, text)
                self.assertEqual(text, "200 " + name.upper())
            for path, size in (("empty.bin", 0), ("small.bin", 1000), ("sub/big.bin", 64 << 20)):
                got_algo, start, end, digest, echoed = self.hash(f, path)
                self.assertEqual(got_algo, {"sha256": "SHA-256", "sha1": "SHA-1", "md5": "MD5"}[algo])
                self.assertEqual(start, 0)
                self.assertEqual(end, max(size - 1, 0))  # an empty file is reported as 0-0
                self.assertEqual(digest, file_digest(self.srv.local(path), algo), path)
                self.assertEqual(echoed, path)

    def test_relative_and_spaced_paths(self):
        data = self.srv.make_file("a dir/my file.txt", 5000, seed=3)
        f = self.srv.ftp()
        f.cwd("a dir")
        _, _, _, digest, echoed = self.hash(f, "my file.txt")
        self.assertEqual(digest, hashlib.sha256(data).hexdigest())
        self.assertEqual(echoed, "my file.txt")
        _, _, _, digest, echoed = self.hash(f, "/a dir/my file.txt")
        self.assertEqual(digest, hashlib.sha256(data).hexdigest())
        self.assertEqual(echoed, "/a dir/my file.txt")
        # what the client downloads hashes the same
        self.assertEqual(hashlib.sha256(retr(f, "my file.txt")).hexdigest(), digest)

    def test_feat_and_opts(self):
        f = self.srv.ftp()
        feat = f.sendcmd("FEAT")
        self.assertIn("\n HASH SHA-256*;SHA-1;MD5;\n", feat)
        self.assertNotIn("RANG STREAM", feat)  # RANG works with HASH only
        self.assertEqual(reply(f, "OPTS HASH"), (200, "200 SHA-256"))
        self.assertEqual(reply(f, "OPTS HASH md5"), (200, "200 MD5"))
        self.assertIn("\n HASH SHA-256;SHA-1;MD5*;\n", f.sendcmd("FEAT"))
        # draft section 3.2: an unknown algorithm is a 501 and changes nothing
        code, text = reply(f, "OPTS HASH CRC-37")
        self.assertEqual(code, 501, text)
        self.assertEqual(reply(f, "OPTS HASH"), (200, "200 MD5"))
        # the choice is per session
        g = self.srv.ftp()
        self.assertEqual(reply(g, "OPTS HASH"), (200, "200 SHA-256"))

    def test_errors(self):
        self.srv.mkdir("adir")
        self.srv.write("f.txt", b"hello")
        f = self.srv.ftp()
        self.assertCode(reply(f, "HASH nosuch.bin"), 550)
        self.assertCode(reply(f, "HASH adir/nosuch"), 550)
        # draft section 3.5: the hash of a directory is not defined, a 553
        self.assertCode(reply(f, "HASH adir"), 553)
        self.assertCode(reply(f, "HASH /"), 553)
        self.assertCode(reply(f, "HASH"), 501)
        self.assertCode(reply(f, "HASH ../../../etc/passwd"), 550)
        # the session is still fine
        self.assertEqual(self.hash(f, "f.txt")[3], hashlib.sha256(b"hello").hexdigest())
        # not logged in
        c = self.srv.control()
        self.assertCode(c.cmd("HASH f.txt"), 530)

    def test_no_permission(self):
        self.srv.write("f.txt", b"secret")
        f = self.srv.ftp(user="bob", pw="bob-Pw-0815")  # "el": may list, may not read
        code, text = reply(f, "HASH f.txt")
        self.assertEqual(code, 550, text)
        self.assertNotIn("213", text)

    def test_name_with_only_a_partial_hashes_the_partial(self):
        """SIZE of a name whose first upload was cut reports the partial to a session that may
        resume it; HASH must agree, or a client checking the kept bytes before it resumes
        (ftpc put -c) gets 550 and appends to bytes of another file unchecked."""
        kept = b"kept bytes of a cut upload\n" * 1000
        self.srv.chown(self.srv.write(".ftpd-partial.cut.bin", kept))
        f = self.srv.ftp()
        self.assertEqual(f.size("cut.bin"), len(kept))
        _, first, last, digest, echoed = self.hash(f, "cut.bin")
        self.assertEqual((first, last, echoed), (0, len(kept) - 1, "cut.bin"))
        self.assertEqual(digest, hashlib.sha256(kept).hexdigest())
        self.assertCode(reply(f, "RANG 0 %d" % (len(kept) - 1)), 350)
        self.assertEqual(self.hash(f, "cut.bin")[3], hashlib.sha256(kept).hexdigest())
        # but never a part of it: the partial may be another user's cut upload, which no one
        # may read, and digests of single bytes would give it away byte by byte
        for first, last in ((0, 0), (5, 5), (0, len(kept) - 2), (1, len(kept) - 1)):
            self.assertCode(reply(f, "RANG %d %d" % (first, last)), 350)
            code, text = reply(f, "HASH cut.bin")
            self.assertEqual(code, 550, text)
            self.assertIn("hashed whole", text)
        # a session that may not upload is told of no such file, as SIZE tells it
        g = self.srv.ftp(user="carol", pw="carol-Pw-0815")
        self.assertCode(reply(g, "HASH cut.bin"), 550)
        self.assertCode(reply(g, "SIZE cut.bin"), 550)
        # once the name has a file, HASH is the file's
        stor(f, "cut.bin", b"complete\n")
        self.assertEqual(self.hash(f, "cut.bin")[3], hashlib.sha256(b"complete\n").hexdigest())

    @unittest.skipIf(os.geteuid() == 0 and not run_as_user(), "root reads any file")
    def test_unreadable_file(self):
        p = self.srv.write("locked.bin", b"x" * 100)
        os.chmod(p, 0)
        f = self.srv.ftp()
        self.assertCode(reply(f, "HASH locked.bin"), 550)

    def test_hash_changes_with_the_file(self):
        self.srv.write("v.txt", b"version 1\n")
        f = self.srv.ftp()
        h1 = self.hash(f, "v.txt")[3]
        self.assertEqual(h1, hashlib.sha256(b"version 1\n").hexdigest())
        self.srv.write("v.txt", b"version 2\n")  # changed behind the server's back
        h2 = self.hash(f, "v.txt")[3]
        self.assertEqual(h2, hashlib.sha256(b"version 2\n").hexdigest())
        stor(f, "v.txt", b"version 3, uploaded\n")  # and by an upload
        h3 = self.hash(f, "v.txt")
        self.assertEqual(h3[3], hashlib.sha256(b"version 3, uploaded\n").hexdigest())
        self.assertEqual(h3[2], len(b"version 3, uploaded\n") - 1)
        self.assertEqual(len({h1, h2, h3[3]}), 3)

    def test_rang(self):
        data = self.srv.make_file("r.bin", 100000, seed=4)
        f = self.srv.ftp()
        self.assertCode(reply(f, "RANG 10 99"), 350)
        algo, start, end, digest, _ = self.hash(f, "r.bin")
        self.assertEqual((algo, start, end), ("SHA-256", 10, 99))
        self.assertEqual(digest, hashlib.sha256(data[10:100]).hexdigest())
        # a range applies to one HASH
        self.assertEqual(self.hash(f, "r.bin")[1:4], (0, 99999, hashlib.sha256(data).hexdigest()))
        # blanks after the numbers are dropped, as after REST's
        self.assertCode(reply(f, "RANG 10 99 "), 350)
        self.assertEqual(self.hash(f, "r.bin")[3], hashlib.sha256(data[10:100]).hexdigest())
        # RANG 0 0 is the first byte; an end beyond the file is clamped to its last byte
        self.assertCode(reply(f, "RANG 0 0"), 350)
        self.assertEqual(self.hash(f, "r.bin")[1:4], (0, 0, hashlib.sha256(data[:1]).hexdigest()))
        self.assertCode(reply(f, "RANG 99990 5000000000"), 350)
        self.assertEqual(self.hash(f, "r.bin")[1:4],
                         (99990, 99999, hashlib.sha256(data[99990:]).hexdigest()))
        # other commands in between keep the range for the next HASH
        self.assertCode(reply(f, "RANG 5 6"), 350)
        self.assertCode(reply(f, "NOOP"), 200)
        self.assertEqual(self.hash(f, "r.bin")[1:3], (5, 6))
        # RANG 1 0 resets; start > end is a 501 and resets
        self.assertCode(reply(f, "RANG 5 6"), 350)
        self.assertCode(reply(f, "RANG 1 0"), 350)
        self.assertEqual(self.hash(f, "r.bin")[1:3], (0, 99999))
        self.assertCode(reply(f, "RANG 5 6"), 350)
        self.assertCode(reply(f, "RANG 7 6"), 501)
        self.assertEqual(self.hash(f, "r.bin")[1:3], (0, 99999))
        # a start beyond the end of the file
        self.assertCode(reply(f, "RANG 100000 100001"), 350)
        self.assertCode(reply(f, "HASH r.bin"), 554)
        self.srv.write("empty", b"")
        self.assertCode(reply(f, "RANG 0 0"), 350)
        self.assertCode(reply(f, "HASH empty"), 554)
        # syntax
        for bad in ("RANG", "RANG 1", "RANG a b", "RANG -1 5", "RANG 1 2 3", "RANG 1  2",
                    "RANG 99999999999999999999999 1"):
            self.assertCode(reply(f, bad), 501, bad)
        # RANG is for HASH only: a transfer after it is refused, not silently widened
        self.assertCode(reply(f, "RANG 0 9"), 350)
        f.voidcmd("TYPE I")
        self.assertCode(reply(f, "RETR r.bin"), 504)
        self.assertEqual(retr(f, "r.bin"), data)  # and the range is gone

    def test_pipelined_commands_wait_for_the_hash(self):
        self.srv.make_sparse("big.sparse", 64 << 20)
        c = self.srv.control()
        c.login()
        c.send("HASH big.sparse\r\nNOOP\r\nHASH big.sparse\r\n")
        code, text = c.reply(timeout=60)
        self.assertEqual(code, 213, text)
        self.assertEqual(parse_hash(text)[3], hashlib.sha256(bytes(64 << 20)).hexdigest())
        self.assertEqual(c.reply(timeout=60)[0], 200)
        self.assertEqual(c.reply(timeout=60)[0], 213)

    def test_long_hash_does_not_block_other_sessions(self):
        size = 256 << 20
        self.srv.make_sparse("huge.sparse", size)
        a = self.srv.control(timeout=120)
        a.login()
        b = self.srv.control()
        b.login()
        t0 = time.monotonic()
        a.send("HASH huge.sparse\r\n")
        latencies, during = [], 0
        while True:
            pending = not select.select([a.sock], [], [], 0)[0]
            if not pending or time.monotonic() - t0 > 120:
                break
            t = time.monotonic()
            self.assertEqual(b.cmd("NOOP")[0], 200)
            latencies.append(time.monotonic() - t)
            during += 1
            # a new session can log in meanwhile (its password check also uses the workers)
            if during == 1:
                c = self.srv.control()
                t = time.monotonic()
                c.login()
                login_time = time.monotonic() - t
                c.close()
            time.sleep(0.005)
        code, text = a.reply(timeout=120)
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 213, text)
        self.assertEqual(parse_hash(text)[2], size - 1)
        self.assertEqual(parse_hash(text)[3], hashlib.sha256(bytes(size)).hexdigest())
        # Hashing on the loop thread would leave one NOOP waiting for the whole hash.
        self.assertGreaterEqual(during, 2, "the hash ended before other sessions could be "
                                           "served (%.3f s)" % elapsed)
        self.assertLess(max(latencies), min(0.5, elapsed / 3),
                        "NOOP latencies while hashing for %.3f s: %r" % (elapsed, latencies[:20]))
        self.assertLess(login_time, 2.0)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.srv.proc.pid) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_abor_stops_a_long_hash(self):
        """ABOR during a HASH stops it within a slice: 426 for the HASH, then 226 for the
        ABOR (RFC 959's reply to an ABOR of a command still in progress), and the session
        goes on. The input used not to be read while the hash ran: the ABOR waited for all
        of the file (minutes for 8 GiB here)."""
        self.srv.make_sparse("huge.sparse", 8 << 30)
        self.srv.write("x", b"x")
        c = self.srv.control()
        c.login()
        # the ABOR in the HASH's read, and in a read of its own with a Telnet IP and Synch
        # before it, as clients send it (the pause only puts it in a later segment)
        for abor, pause in (("ABOR\r\n", 0), ("\xff\xf4\xff\xf2ABOR\r\n", 0.2)):
            c.send("HASH huge.sparse\r\n")
            if pause:
                time.sleep(pause)
            t0 = time.monotonic()
            c.send(abor.encode("latin-1"))
            code, text = c.reply(timeout=10)
            self.assertEqual(code, 426, text)
            self.assertEqual(c.reply(timeout=5)[0], 226)
            self.assertLess(time.monotonic() - t0, 5)
        self.assertLogged(r"HASH \S*huge.sparse aborted by the client \(ABOR\)")
        self.assertCode(c.cmd("NOOP"), 200)
        self.assertEqual(parse_hash(c.cmd("HASH x")[1])[3], hashlib.sha256(b"x").hexdigest())
        # an ABOR with no HASH running has nothing to abort
        self.assertCode(c.cmd("ABOR"), 226)

    def test_client_gone_during_hash(self):
        """A client that closes its control connection during a long HASH ends its session
        at once and its hash within a slice: it used to be noticed only after the whole
        file, its hash burning a core meanwhile."""
        self.srv.make_sparse("huge.sparse", 8 << 30)
        a = self.srv.control()
        a.login()
        a.send("HASH huge.sparse\r\n")
        time.sleep(0.1)  # not for sync: the close then comes while the hash runs
        a.close()
        self.assertTrue(wait_for(lambda: re.search(r"\[\d+\] \S+ alice: disconnected",
                                                   self.srv.log_text()), 5),
                        "the session outlived its client")
        before = self.cpu_seconds()
        time.sleep(1)
        self.assertLess(self.cpu_seconds() - before, 0.5, "still hashing")
        # the server serves others meanwhile
        f = self.srv.ftp()
        self.srv.write("x", b"x")
        self.assertEqual(self.hash(f, "x")[3], hashlib.sha256(b"x").hexdigest())

    def test_hash_then_quit_then_end_of_input(self):
        """"HASH f; QUIT" and then a half-close (nc -N, a script's here-document) still gets
        the digest and the 221, as "RETR f; QUIT" gets its transfer: the end of input with a
        QUIT waiting is not a client gone. The session ending at the close lost both."""
        data = os.urandom(1 << 20) * 48  # 48 MiB: three slices, the close comes mid-hash
        self.srv.write("mid.bin", data)
        a = self.srv.control()
        a.login()
        a.send("HASH mid.bin\r\nQUIT\r\n")
        a.sock.shutdown(socket.SHUT_WR)
        code, text = a.reply(timeout=30)
        self.assertEqual(code, 213, text)
        self.assertIn(hashlib.sha256(data).hexdigest(), text.lower())
        self.assertEqual(a.reply()[0], 221)
        self.assertTrue(a.closed())
        a.close()
    def test_client_gone_after_hash_then_quit(self):
        """"HASH f; QUIT" and then a close of the whole connection, not a half-close: no one
        reads the digest, and the hash stops within a slice. A read sees the same end of
        input either way; the server's probe (one urgent byte, which a client reading as
        usual never sees: the half-close test above reads every reply byte for byte) is
        answered with a reset only by a closed socket. Before, a 128 GiB sparse file was
        hashed whole for nobody, a core busy for a minute or more."""
        self._assert_hash_stops_for_closed_client("HASH huge.sparse\r\nQUIT\r\n")
        self.assertLogged(r"alice: the client closed the connection during its HASH")

    def test_client_gone_after_noop_hash_then_quit(self):
        """As above with a reply before the HASH: the 200 reaches a closed socket, whose
        reset makes the probe's own send fail (EPIPE). The connection is reset all the same,
        and each slice must still ask; before, the failed send left the probe unmarked and
        the hash ran on for nobody."""
        self._assert_hash_stops_for_closed_client("NOOP\r\nHASH huge.sparse\r\nQUIT\r\n")

    def test_client_gone_with_input_full_behind_hash_then_quit(self):
        """"HASH f; QUIT", then a partial line longer than the input buffer, then a close:
        the server never reads to the end of input (the buffer stays full behind the QUIT),
        so only the hang-up event tells it; that event must probe too. Before, it only noted
        the hang-up, and the hash ran on for nobody."""
        self._assert_hash_stops_for_closed_client("HASH huge.sparse\r\nQUIT\r\n" + "X" * 9000)

    def _assert_hash_stops_for_closed_client(self, commands):
        self.srv.make_sparse("huge.sparse", 128 << 30)
        self.srv.write("x", b"x")
        a = self.srv.control()
        a.login()
        a.send(commands)
        a.close()
        self.assertTrue(wait_for(lambda: re.search(r"\[\d+\] \S+ alice: disconnected",
                                                   self.srv.log_text()), 20),
                        "the session outlived its client")
        before = self.cpu_seconds()
        time.sleep(1)
        self.assertLess(self.cpu_seconds() - before, 0.5, "still hashing")
        # the next session is served at once
        b = self.srv.control()
        b.login()
        code, text = b.cmd("HASH x", timeout=5)
        self.assertEqual(code, 213, text)
        self.assertEqual(parse_hash(text)[3], hashlib.sha256(b"x").hexdigest())
        self.assertEqual(b.cmd("QUIT")[0], 221)
        b.close()

    def test_stop_during_hash(self):
        """SIGTERM while a hash is on the workers: a clean exit, no leak reports (the job
        dropped from the stopped pool is freed with its session)."""
        for delay in (0.0, 0.1):
            srv = self.start_server()
            srv.make_sparse("huge.sparse", 1 << 30)
            a = srv.control()
            a.login()
            a.send("HASH huge.sparse\r\n")
            time.sleep(delay)
            srv.stop()  # raises on a bad exit status or a sanitizer report


if __name__ == "__main__":
    unittest.main()
