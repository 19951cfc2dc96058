"""ftpc --ascii (TYPE A): CRLF on the wire, LF in local files.

Against ftpd (which converts on its side too) a text with LF line ends round-trips byte for
byte (a CRLF in the local file comes back as LF: ftpd keeps it in the file and sends it
without doubling its CR, as ProFTPD does); against a
small scripted server that records and serves the raw wire bytes, the client's own conversion
is checked: LF -> CRLF on the way out, CRLF -> LF on the way in, a lone CR kept, and CRs split
across reads.
"""
import os
import socket
import threading
import unittest

from ftpd_harness import data_bytes
from test_ftpc import FTPC_BIN, FtpcCase

TEXT = (b"first line\nsecond line\r\nthird with a lone \r in it\n\nlast line without end"
        + b"\n".join(b"line %d of a longer text" % i for i in range(20000)) + b"\r\n")


def to_wire(b):
    return b.replace(b"\n", b"\r\n")


def from_wire(b):
    return b.replace(b"\r\n", b"\n")


class RawFtp(threading.Thread):
    """A scripted server session that keeps the bytes of a STOR and sends payload for RETR
    exactly as given, whatever the TYPE; records the commands. feat: the FEAT lines."""

    def __init__(self, payload=b"", feat=("REST STREAM",), sessions=1):
        super().__init__(daemon=True)
        self.payload = payload
        self.feat = feat
        self.sessions = sessions
        self.commands = []
        self.stored = b""
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(20)
        self.port = self.lsock.getsockname()[1]
        self.dsock = None

    def _session(self, conn):
        conn.settimeout(10)
        f = conn.makefile("rwb")

        def send(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        send("220 raw")
        for raw in f:
            line = raw.decode().rstrip("\r\n")
            self.commands.append(line)
            verb = line.split(" ")[0].upper()
            if verb == "USER":
                send("331 pw")
            elif verb == "PASS":
                send("230 in")
            elif verb == "FEAT":
                send("211-Features:\r\n" + "".join(" %s\r\n" % x for x in self.feat) + "211 End")
            elif verb in ("TYPE", "MODE"):
                send("200 ok")
            elif verb == "SIZE":
                send("550 no size here")
            elif verb == "EPSV":
                self.dsock = socket.socket()
                self.dsock.bind(("127.0.0.1", 0))
                self.dsock.listen(1)
                self.dsock.settimeout(10)
                send("229 Entering Extended Passive Mode (|||%d|)" % self.dsock.getsockname()[1])
            elif verb == "RETR":
                send("150 here")
                d, _ = self.dsock.accept()
                # in small pieces, so CRLF pairs are split between reads
                for i in range(0, len(self.payload), 7):
                    d.sendall(self.payload[i:i + 7])
                d.close()
                send("226 done")
            elif verb == "STOR":
                send("150 go")
                d, _ = self.dsock.accept()
                d.settimeout(10)
                chunks = []
                while True:
                    c = d.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
                d.close()
                self.stored = b"".join(chunks)
                send("226 stored")
            elif verb == "QUIT":
                send("221 bye")
                break
            else:
                send("500 not understood")

    def run(self):
        try:
            for _ in range(self.sessions):
                conn, _ = self.lsock.accept()
                try:
                    self._session(conn)
                except OSError:
                    pass
                finally:
                    conn.close()
        except OSError:
            pass
        finally:
            self.lsock.close()
            if self.dsock:
                self.dsock.close()


class TestAsciiFtpd(FtpcCase):
    def test_round_trip(self):
        self.write_local("t.txt", TEXT)
        r = self.ftpc("-v", "--ascii", "put", "t.txt", self.srv.url("t.txt"))
        self.assertIn("> TYPE A", r.stderr.decode())
        # ftpd (Unix) stores what a Unix client had: the wire's CRLF back to LF
        self.assertEqual(self.srv.read("t.txt"), from_wire(to_wire(TEXT)))
        os.unlink(self.local("t.txt"))
        r = self.ftpc("-v", "-a", "get", self.srv.url("t.txt"))
        self.assertIn("> TYPE A", r.stderr.decode())
        self.assertEqual(self.read_local("t.txt"), TEXT.replace(b"\r\n", b"\n"))
        r = self.ftpc("-a", "cat", self.srv.url("t.txt"))
        self.assertEqual(r.stdout, TEXT.replace(b"\r\n", b"\n"))
        # a text with Unix line ends comes back exactly
        unix = TEXT.replace(b"\r\n", b"\n")
        self.write_local("u.txt", unix)
        self.ftpc("-a", "put", "u.txt", self.srv.url("u.txt"))
        self.assertEqual(self.srv.read("u.txt"), unix)
        os.unlink(self.local("u.txt"))
        self.ftpc("-a", "get", self.srv.url("u.txt"))
        self.assertEqual(self.read_local("u.txt"), unix)

    def test_resume_in_ascii_mode_says_the_file_goes_whole(self):
        """-c with -a cannot resume (an offset in the converted bytes is not one in the file):
        the transfer goes whole, and says so, where it would otherwise have resumed."""
        unix = b"".join(b"line %d\n" % i for i in range(1000))
        note = r"(?m)^%s: not resumed in ASCII mode \(TYPE A\).*: %s it whole$"
        self.write_local("u.txt", unix)
        self.srv.write("u.txt", unix[:3000])
        r = self.ftpc("-c", "-a", "put", "u.txt", self.srv.url("u.txt"))
        self.assertRegex(r.stderr.decode(), note % ("u.txt", "uploading"))
        self.assertEqual(self.srv.read("u.txt"), unix)
        self.write_local("g.txt", unix[:3000])
        self.srv.write("g.txt", unix)
        r = self.ftpc("-c", "-a", "get", self.srv.url("g.txt"))
        self.assertRegex(r.stderr.decode(), note % ("g.txt", "downloading"))
        self.assertEqual(self.read_local("g.txt"), unix)
        # nothing here to resume: nothing to say
        r = self.ftpc("-c", "-a", "get", self.srv.url("g.txt"), "-o", "new.txt")
        self.assertNotIn("not resumed", r.stderr.decode())
        self.assertEqual(self.read_local("new.txt"), unix)

    def test_binary_default_and_switch_per_transfer(self):
        data = data_bytes(100000, 5)
        self.srv.write("b.bin", data)
        r = self.ftpc("-v", "get", self.srv.url("b.bin"))
        self.assertNotIn("> TYPE A", r.stderr.decode())
        self.assertEqual(self.read_local("b.bin"), data)


    def test_url_type_chooses_the_type_of_its_file(self):
        """The URL form ftp://host/path;type=a|i (RFC 1738, in the man page's URLS) was
        parsed, the ;type= left out of the name, and then ignored: the file came in TYPE I,
        its CRLFs kept, and "verified"."""
        self.srv.write("c.txt", b"one\ntwo\n")
        data = data_bytes(5000, 6)
        self.srv.write("b.bin", data)
        r = self.ftpc("-v", "get", self.srv.url("c.txt") + ";type=a", "-O", "o1")
        self.assertIn("> TYPE A", r.stderr.decode())
        self.assertNotIn("verified", r.stderr.decode())
        self.assertEqual(self.read_local("o1/c.txt"), b"one\ntwo\n")
        # ;type=i holds a file to TYPE I under -a, beside one that -a moves as text
        r = self.ftpc("-v", "-a", "get", self.srv.url("b.bin") + ";type=i", self.srv.url("c.txt"),
                      "-O", "o2")
        err = r.stderr.decode()
        self.assertIn("> TYPE I", err)
        self.assertIn("> TYPE A", err)
        self.assertIn("b.bin: 4.88 KiB in", err)
        self.assertRegex(err, r"b\.bin: .*, verified sha256")
        self.assertEqual(self.read_local("o2/b.bin"), data)
        self.assertEqual(self.read_local("o2/c.txt"), b"one\ntwo\n")
        # on a pattern's files too
        r = self.ftpc("-v", "get", self.srv.url("c*.txt") + ";type=a", "-O", "o3")
        self.assertIn("> TYPE A", r.stderr.decode())
        # and on an upload's target
        self.write_local("up.txt", b"x\ny\n")
        r = self.ftpc("-v", "put", "up.txt", self.srv.url("up.txt") + ";type=a")
        self.assertIn("> TYPE A", r.stderr.decode())
        self.assertEqual(self.srv.read("up.txt"), b"x\ny\n")


class TestAsciiWire(unittest.TestCase):
    """The client's conversion, seen on the wire."""

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        import tempfile
        import shutil
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-ascii-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_ftpc(self, *args):
        import subprocess
        return subprocess.run([FTPC_BIN] + list(args), cwd=self.tmp, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def test_put_sends_crlf(self):
        fake = RawFtp()
        fake.start()
        with open(os.path.join(self.tmp, "t.txt"), "wb") as fh:
            fh.write(TEXT)
        r = self.run_ftpc("--ascii", "put", "t.txt", "ftp://u:p@127.0.0.1:%d/t.txt" % fake.port)
        fake.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TYPE A", fake.commands)
        self.assertEqual(fake.stored, to_wire(TEXT))

    def test_get_receives_lf(self):
        wire = b"a\r\nb\r\r\nc\rd\r\n" * 5000 + b"end\r"
        fake = RawFtp(payload=wire)
        fake.start()
        r = self.run_ftpc("--ascii", "get", "ftp://u:p@127.0.0.1:%d/w.txt" % fake.port)
        fake.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TYPE A", fake.commands)
        with open(os.path.join(self.tmp, "w.txt"), "rb") as fh:
            self.assertEqual(fh.read(), from_wire(wire))

    def test_binary_untouched(self):
        wire = b"a\r\nb\r\n"
        fake = RawFtp(payload=wire)
        fake.start()
        r = self.run_ftpc("get", "ftp://u:p@127.0.0.1:%d/w.bin" % fake.port)
        fake.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TYPE I", fake.commands)
        self.assertNotIn("TYPE A", fake.commands)
        with open(os.path.join(self.tmp, "w.bin"), "rb") as fh:
            self.assertEqual(fh.read(), wire)


if __name__ == "__main__":
    unittest.main()
