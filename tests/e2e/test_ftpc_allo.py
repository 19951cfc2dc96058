"""ftpc announces a put's size with ALLO before its STOR/APPE (the bytes it will send: the
file's size, less a resume's offset; a --segments range's length), so that ftpd commits the
upload as soon as those bytes are in. Not for standard input (size unknown) or TYPE A; a
server that refuses ALLO still gets the upload."""
import os
import re
import subprocess
import unittest

from ftpd_harness import data_bytes
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB


class RecordingFtp(ScriptedFtp):
    """Records every command line; SIZE says what `remote` holds, STOR/APPE take the upload.
    ALLO gets `allo_reply` (the default, 502, as from a server that does not know it)."""

    def __init__(self, remote=None, allo_reply=None):
        super().__init__(sessions=1, timeout=20)
        self.remote, self.allo_reply = remote, allo_reply
        self.lines, self.uploads = [], []

    def command(self, s, verb, arg):
        self.lines.append((verb + " " + arg).strip())
        if verb == "SIZE":
            s.send("213 %d" % len(self.remote) if self.remote is not None else "550 no such file")
        elif verb == "ALLO" and self.allo_reply:
            s.send(self.allo_reply)
        elif verb in ("STOR", "APPE"):
            data = bytes(s.receive_upload())
            self.uploads.append((verb, s.rest, data))
            kept = (self.remote or b"") if verb == "APPE" else (self.remote or b"")[:s.rest]
            self.remote = kept + data  # what SIZE says next
            s.rest = 0
            s.send("226 stored")
        else:
            return super().command(s, verb, arg)
        return True


class TestFtpcAllo(FtpcCase):
    def run_put(self, server, src, extra=(), source="f.bin", stdin=None):
        with open(os.path.join(self.tmp, "f.bin"), "wb") as fh:
            fh.write(src)
        server.start()
        self.addCleanup(server.stop)
        url = "ftp://u:p@127.0.0.1:%d/f.bin" % server.port
        r = subprocess.run([FTPC_BIN] + list(extra) + ["put", source, url], cwd=self.tmp,
                           input=stdin, capture_output=True, timeout=60, env=self.env())
        self.check_output(r)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
        server.stop()
        return server

    def allo_lines(self, server):
        return [line for line in server.lines if line.startswith("ALLO")]

    def test_a_put_announces_its_size_and_a_refusal_changes_nothing(self):
        src = data_bytes(12345, 1)
        srv = self.run_put(RecordingFtp(), src)  # ALLO answered 502
        self.assertEqual(self.allo_lines(srv), ["ALLO 12345"])
        verbs = [line.split()[0] for line in srv.lines]
        self.assertLess(verbs.index("ALLO"), verbs.index("STOR"))
        self.assertEqual(srv.uploads, [("STOR", 0, src)])

    def test_a_put_to_a_server_that_takes_allo(self):
        src = data_bytes(777, 2)
        srv = self.run_put(RecordingFtp(allo_reply="200 noted"), src)
        self.assertEqual(self.allo_lines(srv), ["ALLO 777"])
        self.assertEqual(srv.uploads, [("STOR", 0, src)])

    def test_a_resumed_put_announces_the_bytes_it_sends(self):
        src = data_bytes(5000, 3)
        srv = self.run_put(RecordingFtp(remote=src[:1200], allo_reply="202 whatever"), src,
                           extra=["-c"])
        self.assertEqual(self.allo_lines(srv), ["ALLO 3800"])
        self.assertEqual(srv.uploads, [("STOR", 1200, src[1200:])])

    def test_no_allo_for_standard_input_or_type_a(self):
        srv = self.run_put(RecordingFtp(), b"", source="-", stdin=b"from stdin\n")
        self.assertEqual(self.allo_lines(srv), [])
        self.assertEqual(srv.uploads, [("STOR", 0, b"from stdin\n")])
        srv = RecordingFtp()
        with open(os.path.join(self.tmp, "f.bin"), "wb") as fh:
            fh.write(b"a\nb\n")
        srv.start()
        self.addCleanup(srv.stop)
        r = subprocess.run([FTPC_BIN, "-a", "put", "f.bin",
                            "ftp://u:p@127.0.0.1:%d/f.bin" % srv.port], cwd=self.tmp,
                           capture_output=True, timeout=60, env=self.env())
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        srv.stop()
        self.assertEqual(self.allo_lines(srv), [])
        self.assertEqual(srv.uploads, [("STOR", 0, b"a\r\nb\r\n")])

    def test_ftpd_hears_the_size_and_commits(self):
        src = data_bytes(54321, 4)
        with open(os.path.join(self.tmp, "g.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("put", "g.bin", self.srv.url("g.bin"))
        self.assertEqual(self.srv.read("g.bin"), src)
        self.assertIsNotNone(self.srv.wait_log(r"-> ALLO 54321$"), self.srv.log_text()[-2000:])

    def test_segmented_put_announces_each_range(self):
        src = data_bytes(3 * MiB, 5)
        with open(os.path.join(self.tmp, "s.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("--segments", "3", "put", "s.bin", self.srv.url("s.bin"))
        self.assertEqual(self.srv.read("s.bin"), src)
        self.srv.wait_log(r"-> ALLO \d+$")
        counts = [int(m) for m in re.findall(r"-> ALLO (\d+)$", self.srv.log_text(), re.M)]
        # the first range's STOR is a third of the file; what follows covers the rest
        self.assertTrue(counts, self.srv.log_text()[-2000:])
        self.assertEqual(counts[0], len(src) // 3)
        self.assertTrue(all(0 < n <= len(src) for n in counts), counts)


if __name__ == "__main__":
    unittest.main()
