"""End-to-end tests of `ftpc put --segments N`: STOR of the first range, then REST+STOR of the
others at once on their own connections.

- vsftpd writes REST+STOR in place: the file is assembled from N parallel connections. A small
  control-connection relay in front of vsftpd records what each connection sent and when, so
  the test sees N connections, the REST offsets, and STORs that overlapped in time; the bytes
  are compared.
- ftpd writes uploads aside and lets REST+STOR continue only at the end of what is there, so
  the ranges beyond are refused (554): ftpc finishes sequentially, the bytes are right, no
  internal upload file is left, and the result is verified with HASH.
- A scripted server that accepts REST but ignores it (writes every STOR from offset 0) is found
  out by the check after the first parallel range and the file is uploaded again from the
  start. One that, like pure-ftpd, puts each stopped range's file in place when its STOR
  ends, a moment after the client's reset, gets the upload from the start only after that.
"""
import os
import re
import socket
import threading
import time
import unittest

from ftpd_harness import data_bytes, wait_for
from scripted_ftp import ScriptedFtp, recv_all
from test_ftpc import FtpcCase, MiB
import test_ftpc_interop as interop
import test_ftpc_tls as tlstests


class ControlRelay(threading.Thread):
    """Relays control connections from a local port to (host, port) and records, per
    connection, the client's command lines and the server's reply lines with times. Data
    connections do not pass through it: ftpc connects them to the control connection's peer
    address, which is the same loopback host.

    With barrier=N, the server's "150" to a STOR that follows a REST at an offset is held
    until N such STORs were sent (or 10 s passed), and ftpc sends no data before the 150: a
    client that runs the ranges at once gets them all going, a sequential one would stall
    at the first. So overlap does not depend on how fast the machine is.

    With cut=f, a connection whose client sends a line for which f(line) is true is closed
    there, both ways, the line not passed on: a connection lost at that command."""

    def __init__(self, host, port, barrier=0, cut=None):
        super().__init__(daemon=True)
        self.target = (host, port)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.conns = []  # list of lists of (time, "C"|"S", line)
        self.lock = threading.Lock()
        self.stopping = False
        self.barrier = barrier
        self.ranged_stors = 0
        self.cond = threading.Condition()
        self.cut = cut
        self.cuts = 0

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            s = socket.create_connection(self.target, timeout=10)
            log = []
            with self.lock:
                self.conns.append(log)
            state = {"rest": 0, "ranged": False}
            for a, b, tag in ((c, s, "C"), (s, c, "S")):
                threading.Thread(target=self.pump, args=(a, b, tag, log, state),
                                 daemon=True).start()
        self.lsock.close()

    def pump(self, src, dst, tag, log, state):
        pending = b""
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                pending += chunk
                hold = False
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    text = line.decode(errors="replace").strip()
                    with self.lock:
                        log.append((time.monotonic(), tag, text))
                    if tag == "C" and self.cut is not None and self.cut(text):
                        with self.lock:
                            self.cuts += 1
                        return  # finally: both ends closed
                    if tag == "C" and text.startswith("REST "):
                        state["rest"] = int(text[5:])
                    elif tag == "C" and text.startswith("STOR "):
                        state["ranged"] = state["rest"] > 0
                        state["rest"] = 0
                        if state["ranged"]:
                            with self.cond:
                                self.ranged_stors += 1
                                self.cond.notify_all()
                    elif tag == "S" and text.startswith("150") and state["ranged"]:
                        hold = True
                if hold and self.barrier:
                    with self.cond:
                        self.cond.wait_for(lambda: self.ranged_stors >= self.barrier, 10)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()

    def stop(self):
        self.stopping = True
        self.join(5)


@unittest.skipIf(interop.why_not() is not None, interop.why_not() or "")
class TestSegputVsftpd(interop.PeerMixin, unittest.TestCase):
    SERVER = "vsftpd"

    def relay_url(self, relay, path):
        return "ftp://%s:%s@127.0.0.1:%d/%s/%s" % (interop.USER, interop.PASS, relay.port,
                                                   self.d, path)

    def test_parallel_ranges_in_place(self):
        size = 16 * MiB + 9
        src = data_bytes(size, 61)
        with open(os.path.join(self.tmp, "big.bin"), "wb") as fh:
            fh.write(src)
        relay = ControlRelay("127.0.0.1", self.port, barrier=3)
        relay.start()
        self.addCleanup(relay.stop)
        r = self.ftpc("--segments", "4", "put", "big.bin", self.relay_url(relay, "big.bin"))
        self.assertEqual(self.srv_read("big.bin"), src)
        self.assertEqual(work_files(self.srv_dir), [])
        err = r.stderr.decode()
        self.assertNotIn("sequentially", err)
        self.assertIn("big.bin: not verified (the server offers no HASH; size matches)", err)
        bounds = [size * i // 4 for i in range(5)]
        stors = []  # (rest offset, time STOR sent, time of its final reply)
        for log in relay.conns:
            rest = 0
            for i, (t, tag, line) in enumerate(log):
                if tag == "C" and line.startswith("REST "):
                    rest = int(line[5:])
                if tag == "C" and line.startswith("STOR "):
                    end = next((t2 for t2, tag2, l2 in log[i + 1:]
                                if tag2 == "S" and re.match(r"^[2-5]\d\d ", l2)), None)
                    stors.append((rest, t, end))
                    rest = 0
        self.assertEqual(sorted(s[0] for s in stors), bounds[:4])
        conns_with_stor = [log for log in relay.conns
                           if any(tag == "C" and l.startswith("STOR ") for _, tag, l in log)]
        self.assertEqual(len(conns_with_stor), 4)
        # the three REST+STOR ranges ran at the same time: all were sent before any ended
        par = sorted(s for s in stors if s[0] > 0)
        self.assertLess(max(s[1] for s in par), min(s[2] for s in par), par)

    def test_small_file_not_segmented(self):
        src = data_bytes(MiB, 62)
        with open(os.path.join(self.tmp, "s.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("--segments", "4", "put", "s.bin", self.url("s.bin"))
        self.assertEqual(self.srv_read("s.bin"), src)

    url = interop.TestVsftpd.url


@unittest.skipIf(interop.why_not("pure-ftpd") is not None, interop.why_not("pure-ftpd") or "")
class TestSegputPureftpd(interop.PeerMixin, unittest.TestCase):
    SERVER = "pure-ftpd"

    def test_failed_sequential_range_ends_before_the_dele(self):
        # The second connection never logs in, so the rest after the first range goes as
        # one REST+STOR on the first connection, which pure-ftpd writes aside and puts in
        # place of the temporary name when that STOR ends; the local file shrinks as it
        # begins. The DELE of the temporary file waits for the server's end of that STOR
        # and goes on the same connection: sent at once on another, it could come first.
        old = self.srv_write("big.bin", data_bytes(MiB, 25))
        path = os.path.join(self.tmp, "big.bin")
        with open(path, "wb") as fh:
            fh.write(data_bytes(64 * MiB + 5, 26))
        seen = {"users": 0, "rest": False}

        def cut(line):
            if line.startswith("USER "):
                seen["users"] += 1
                return seen["users"] == 2
            seen["rest"] = seen["rest"] or line.startswith("REST ")
            if line.startswith("STOR ") and seen["rest"]:
                os.truncate(path, MiB)
            return False
        relay = ControlRelay("127.0.0.1", self.port, cut=cut)
        relay.start()
        self.addCleanup(relay.stop)
        r = self.ftpc("-v", "--segments", "2", "put", "big.bin", self.relay_url(relay), rc=6)
        err = r.stderr.decode()
        # said as sendfile finds it, or as a read into the buffer does
        self.assertRegex(err, r"big\.bin shrank while being uploaded|"
                         r"reading big\.bin: it shrank while being uploaded")
        self.assertNotIn("stays on the server", err)
        tail = err[err.rindex("[1] > STOR "):]
        self.assertEqual(re.findall(r"\[(\d+)\] > DELE ", tail), ["1"], tail)
        self.assertRegex(tail, r"\[1\] < [2-5]\d\d [^\n]*\n(?:[^\n]*\n)*?\[1\] > DELE ")
        self.assertEqual(self.srv_read("big.bin"), old)
        self.assertEqual(sorted(os.listdir(self.srv_dir)), ["big.bin"])

    def relay_url(self, relay):
        return "ftp://%s:%s@127.0.0.1:%d/%s/big.bin" % (interop.USER, interop.PASS, relay.port,
                                                         self.d)


class TestSegputFtpd(FtpcCase):
    def test_falls_back_and_verifies(self):
        size = 12 * MiB + 5
        src = data_bytes(size, 63)
        self.write_local("big.bin", src)
        # an older version of the file is replaced
        self.srv.make_file("big.bin", 3 * MiB, seed=64)
        r = self.ftpc("--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("big.bin"), src)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertEqual(work_files(self.srv.root), [])
        # verified whole after a fallback, or range by range where every range chained (below)
        self.assertRegex(err, r"(?m)^big\.bin: .* in .*, verified sha256( \(4 segments\))?$")
        log = self.srv.settled_log_text()
        rests = sorted(int(n) for n in re.findall(r"-> REST (\d+)", log))
        bounds = [size * i // 4 for i in range(1, 4)]
        # every range was tried in parallel at its offset ...
        self.assertTrue(set(bounds) <= set(rests), rests)
        # ... and ftpd refused those beyond the end of what it had committed (554), unless
        # the range before had already been committed when the REST+STOR came (then ftpd
        # continues from it: the ranges end up chained); refused ranges are sent sequentially.
        if "554" in log:
            self.assertIn("uploading the rest sequentially", err)

    def test_into_a_directory_named_without_slash(self):
        # put --segments f URL/incoming, incoming a directory: the ranges go beside it and
        # the rename over it is refused; the file goes into it (as a plain put puts it),
        # renamed there, not sent all over again.
        size = 5 * MiB + 3
        src = data_bytes(size, 60)
        self.write_local("big.bin", src)
        self.srv.mkdir("incoming")
        r = self.ftpc("--segments", "3", "put", "big.bin", self.srv.url("incoming"))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("incoming/big.bin"), src)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertEqual(work_files(self.srv.root), [])
        self.assertIn("incoming is a directory on the server: uploading into it", err)
        self.assertNotIn("again", err)
        self.assertRegex(err, r"(?m)^big\.bin: .* in .*, verified sha256( \(3 segments\))?$")
        log = self.srv.settled_log_text()
        received = sum(int(n) for n in re.findall(r": (?:STOR|APPE) .* ok: (\d+) bytes", log))
        self.assertLess(received, 2 * size, "the file was sent twice")
        # the directory's mode is not the file's
        self.assertEqual(os.stat(self.srv.local("incoming/big.bin")).st_mode & 0o111, 0)

    def test_onto_a_directory_of_the_files_own_name(self):
        # put --segments f URL/dir/, dir/f a directory: refused as cp refuses it, without
        # sending the file a second time as an ordinary upload that meets the same refusal
        size = 5 * MiB + 3
        self.write_local("big.bin", data_bytes(size, 61))
        self.srv.mkdir("dir/big.bin")
        r = self.ftpc("--segments", "3", "put", "big.bin", self.srv.url("dir/"), rc=5)
        err = r.stderr.decode()
        self.assertIn("dir/big.bin is a directory on the server", err)
        self.assertNotIn("again", err)
        self.assertEqual(os.listdir(self.srv.local("dir/big.bin")), [])
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(work_files(self.srv.local("dir")), [])
        log = self.srv.settled_log_text()
        received = sum(int(n) for n in re.findall(r": (?:STOR|APPE) .* ok: (\d+) bytes", log))
        self.assertLess(received, 2 * size, "the file was sent twice")

    def test_falls_back_without_verify(self):
        size = 6 * MiB + 1
        src = data_bytes(size, 65)
        self.write_local("b.bin", src)
        r = self.ftpc("--no-verify", "--segments", "3", "put", "b.bin", self.srv.url("b.bin"))
        self.assertEqual(self.srv.read("b.bin"), src)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertNotIn("verified", r.stderr.decode())

    def test_several_files(self):
        a = data_bytes(5 * MiB, 66)
        b = data_bytes(300000, 67)
        self.write_local("a.bin", a)
        self.write_local("b.bin", b)
        self.srv.mkdir("d")
        self.ftpc("-j", "2", "--segments", "4", "put", "a.bin", "b.bin", self.srv.url("d/"))
        self.assertEqual(self.srv.read("d/a.bin"), a)
        self.assertEqual(self.srv.read("d/b.bin"), b)
        self.assertEqual(self.srv.internal_files("d"), [])
        self.assertEqual(work_files(self.srv.local("d")), [])


def work_files(directory):
    """ftpc's segmented-upload temporary files (.NAME.ftpc-up) in directory."""
    return [n for n in os.listdir(directory) if n.endswith(".ftpc-up")]


class TestSegputKeepsTheOldFile(FtpcCase):
    """The ranges go to .NAME.ftpc-up, renamed over NAME only once complete and checked: an
    upload that fails after its first range leaves the old NAME byte for byte."""

    def setUp(self):
        super().setUp()
        self.old = self.srv.make_file("big.bin", 3 * MiB, seed=90)
        self.src = data_bytes(8 * MiB + 3, 91)
        self.write_local("big.bin", self.src)

    def relay_url(self, relay):
        return "ftp://%s:%s@127.0.0.1:%d/big.bin" % (self.srv.user, self.srv.password,
                                                      relay.port)

    def relay(self, cut):
        relay = ControlRelay("127.0.0.1", self.srv.port, cut=cut)
        relay.start()
        self.addCleanup(relay.stop)
        return relay

    def check_old_file_kept(self):
        self.assertEqual(self.srv.read("big.bin"), self.old)
        self.assertEqual(work_files(self.srv.root), [])

    def test_a_range_cut_off(self):
        # Every connection that sends REST at an offset (the ranges after the first) is cut
        # there: the upload fails once the first range is on the server.
        relay = self.relay(lambda line: re.match(r"REST [1-9]", line) is not None)
        r = self.ftpc("--segments", "4", "put", "big.bin", self.relay_url(relay), rc=None)
        self.assertNotEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        self.assertGreater(relay.cuts, 0)
        self.check_old_file_kept()
        log = self.srv.settled_log_text()
        self.assertIn("-> STOR .big.bin.ftpc-up", log)  # the first range went there
        self.assertIn("-> DELE .big.bin.ftpc-up", log)

    def test_connection_lost_at_the_rename(self):
        # The first connection is lost at RNFR: the temporary file is deleted on a new one.
        relay = self.relay(lambda line: line.startswith("RNFR "))
        r = self.ftpc("--segments", "4", "put", "big.bin", self.relay_url(relay), rc=7)
        self.assertEqual(relay.cuts, 1)
        self.check_old_file_kept()
        self.assertIn("renaming .big.bin.ftpc-up into place", r.stderr.decode())

    def test_done_leaves_no_temporary_file(self):
        self.ftpc("--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        log = self.srv.settled_log_text()
        self.assertRegex(log, r"RENAME /\.big\.bin\.ftpc-up -> /big\.bin")


class TestSegputRefusedRange(FtpcCase):
    """An account without the a permission: ftpd refuses every STOR after a REST, the
    parallel ranges' and the sequential rest's. The file goes once more from its first byte,
    as a plain put would send it, and replaces the old one only when it is all there."""
    server_kwargs = {"users": [("bob", "pw", "elrdfmwT")]}

    def test_sent_again_from_the_start(self):
        self.srv.make_file("big.bin", 3 * MiB, seed=92)
        src = data_bytes(8 * MiB + 1, 93)
        self.write_local("big.bin", src)
        r = self.ftpc("-v", "--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        err = r.stderr.decode()
        self.assertIn("resuming needs append", err)
        self.assertIn("uploading it from the start", err)
        self.assertEqual(self.srv.read("big.bin"), src)
        self.assertEqual(work_files(self.srv.root), [])


class TestSegputNoRename(FtpcCase):
    """An account without the f permission: the rename of the temporary file is refused, so
    it is deleted and the file sent again as one ordinary upload (which ftpd writes aside
    itself); the run's later files go the ordinary way at once."""
    server_kwargs = {"users": [("bob", "pw", "elradmwT")]}

    def test_ordinary_uploads_instead(self):
        self.srv.make_file("a.bin", MiB, seed=94)
        a = data_bytes(5 * MiB + 1, 95)
        b = data_bytes(4 * MiB + 7, 96)
        self.write_local("a.bin", a)
        self.write_local("b.bin", b)
        r = self.ftpc("--segments", "4", "put", "a.bin", "b.bin", self.srv.url(""))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("a.bin"), a)
        self.assertEqual(self.srv.read("b.bin"), b)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(err.count("the server refused to rename the upload into place"), 1, err)
        self.assertIn("uploading it again as one ordinary transfer", err)
        log = self.srv.settled_log_text()
        self.assertEqual(len(re.findall(r"-> RNFR ", log)), 1, log[-3000:])
        self.assertNotIn(".b.bin.ftpc-up", log)  # b went the ordinary way from the start
        # one summary line each, both verified
        self.assertEqual(len(re.findall(r"(?m)^a\.bin: .*, verified sha256$", err)), 1, err)
        self.assertEqual(len(re.findall(r"(?m)^b\.bin: .*, verified sha256$", err)), 1, err)


class TestSegputNoRenameNoDelete(FtpcCase):
    """Neither f nor d: the temporary file cannot go either; the message names it."""
    server_kwargs = {"users": [("bob", "pw", "elramwT")]}

    def test_the_file_left_is_named(self):
        src = data_bytes(5 * MiB + 1, 97)
        self.write_local("a.bin", src)
        r = self.ftpc("--segments", "4", "put", "a.bin", self.srv.url("a.bin"))
        self.assertEqual(self.srv.read("a.bin"), src)
        self.assertIn("the temporary file .a.bin.ftpc-up stays on the server",
                      r.stderr.decode())
        self.assertEqual(work_files(self.srv.root), [".a.bin.ftpc-up"])


class TestSegputFtpdLimit(FtpcCase):
    """Two connections per address: two of the three parallel ranges are refused at login
    (421), so the fallback runs every time: the range that got in finishes, then the rest
    goes sequentially from the end of the complete ranges (REST+STOR there)."""
    server_kwargs = {"args": ["--max-per-ip", "2"]}

    def test_refused_ranges_sent_sequentially(self):
        size = 8 * MiB + 1
        src = data_bytes(size, 69)
        self.write_local("c.bin", src)
        r = self.ftpc("--segments", "4", "put", "c.bin", self.srv.url("c.bin"))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("c.bin"), src)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertIn("c.bin: the server refused parallel ranges", err)
        self.assertIn("uploading the rest sequentially", err)
        # one summary for the whole file, from its start, ending with the check's outcome
        self.assertRegex(err, r"(?m)^c\.bin: 8\.00 MiB in [\d.]+ s \([^)]*\), verified sha256$")
        self.assertNotIn("resumed at", err)
        log = self.srv.settled_log_text()
        self.assertIn("421", log)
        # REST only at range bounds: the parallel ranges', and the sequential part's where
        # the complete ranges ended
        rests = [int(n) for n in re.findall(r"-> REST (\d+)", log)]
        self.assertTrue(rests and set(rests) <= set(size * i // 4 for i in range(1, 4)), rests)

    def test_later_files_ask_for_what_got_in(self):
        # The first file's refusals show the limit: the later files open no more connections
        # than it lets in (two refusals in all, not two a file).
        names = ["p%d.bin" % i for i in range(4)]
        for i, n in enumerate(names):
            self.write_local(n, data_bytes(4 * MiB + i, 80 + i))
        self.ftpc("--segments", "4", "put", *names, self.srv.url(""))
        for n in names:
            self.assertEqual(self.srv.read(n), self.read_local(n))
        self.assertEqual(self.srv.internal_files(), [])
        refused = len(re.findall(r"refused: Too many", self.srv.settled_log_text()))
        self.assertTrue(1 <= refused <= 4, refused)  # 8 when every file tries 4


class TestSegputTls(tlstests.TlsCase):
    """Over FTPS (PROT P): every range's data connection is TLS, resuming its control
    connection's session, which ftpd requires."""

    def test_ftpd_over_tls(self):
        size = 8 * MiB + 7
        src = data_bytes(size, 70)
        self.write_local("t.bin", src)
        r = self.tls("-v", "--segments", "4", "put", "t.bin", self.url("t.bin"))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("t.bin"), src)
        self.assertEqual(self.srv.internal_files(), [])
        # Every range checked by its own HASH says "(4 segments)"; a range whose check did not
        # happen (the server busy hashing, say) leaves it to the whole file's check.
        self.assertRegex(err, r"(?m)^t\.bin: .* in .*, verified sha256( \(4 segments\))?$")
        self.assertEqual(err.count("> PROT P"), err.count("> USER"))
        self.assertGreaterEqual(len(re.findall(r"> REST \d+", err)), 3)


@unittest.skipIf(interop.why_not() is not None, interop.why_not() or "")
class TestSegputVsftpdTls(unittest.TestCase):
    """vsftpd with TLS required for logins and data, and session reuse required: the ranges
    go in parallel, each data connection resuming its own control connection's session."""

    peer = tlstests.TestVsftpdTls.peer

    @classmethod
    def setUpClass(cls):
        tlstests.TestVsftpdTls.setUpClass.__func__(cls)

    @classmethod
    def tearDownClass(cls):
        tlstests.TestVsftpdTls.tearDownClass.__func__(cls)

    setUp = tlstests.TestVsftpdTls.setUp
    url = tlstests.TestVsftpdTls.url
    ftpc = tlstests.TestVsftpdTls.ftpc

    def test_parallel_over_tls(self):
        size = 16 * MiB + 3
        src = data_bytes(size, 71)
        with open(os.path.join(self.tmp, "v.bin"), "wb") as fh:
            fh.write(src)
        r = self.ftpc("-v", "--segments", "4", "put", "v.bin", self.url("v.bin"))
        err = r.stderr.decode()
        with open(os.path.join(self.root, "v.bin"), "rb") as fh:
            self.assertEqual(fh.read(), src)
        self.assertNotIn("sequentially", err)
        rests = sorted(int(n) for n in re.findall(r"> REST (\d+)", err))
        self.assertEqual(rests, [size * i // 4 for i in range(1, 4)])
        self.assertIn("v.bin: not verified (the server offers no HASH; size matches)", err)


class IgnoresRestFtp(ScriptedFtp):
    """A server that answers REST with 350 but writes every STOR from offset 0 (as a server
    that ignored the offset would), with SIZE and no HASH."""

    FEATURES = ("SIZE", "REST STREAM", "EPSV")

    def __init__(self, sessions=12):
        super().__init__(sessions, timeout=15, accept_timeout=30)
        self.data = bytearray()
        self.lock = threading.Lock()
        self.stors = []

    def command(self, s, verb, arg):
        if verb == "SIZE":
            with self.lock:
                s.send("213 %d" % len(self.data))
        elif verb in ("STOR", "APPE"):
            got = s.receive_upload()
            # A range the client stopped (its control connection closed with the data
            # connection) is dropped, as a server would discard an aborted upload.
            time.sleep(0.05)
            s.conn.setblocking(False)
            try:
                alive = s.conn.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive = True
            except OSError:
                alive = False
            s.conn.settimeout(15)
            if not alive:
                return False
            with self.lock:
                self.stors.append((s.rest, len(got)))
                if s.rest == 0 and verb == "STOR":
                    self.data = bytearray(got)   # truncates, as STOR does
                else:
                    # the bug: the offset is ignored, bytes land at 0
                    self.data[0:len(got)] = got
            s.rest = 0
            s.send("226 done")
        elif verb in ("RNFR", "RNTO"):  # one file, whatever its name: the rename is a no-op
            s.send("350 ok" if verb == "RNFR" else "250 renamed")
        else:
            return super().command(s, verb, arg)
        return True


class TestSegputBadServer(FtpcCase):
    def test_ignored_rest_is_detected(self):
        fake = IgnoresRestFtp()
        fake.start()
        size = 8 * MiB + 3
        src = data_bytes(size, 68)
        self.write_local("x.bin", src)
        r = self.ftpc("--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port)
        err = r.stderr.decode()
        self.assertIn("does not write REST+STOR ranges in place", err)
        self.assertEqual(bytes(fake.data), src)
        # the last STOR was the whole file from offset 0
        self.assertEqual(fake.stors[-1], (0, size))


def wait_stopped(s, d, timeout=15):
    """Reads nothing until the client stops the upload on data connection d: d reset or
    closed (no longer ESTABLISHED), or the control connection of session s closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != 1:  # TCP_ESTABLISHED
            return
        s.conn.setblocking(False)
        try:
            if s.conn.recv(1, socket.MSG_PEEK) == b"":
                return
        except BlockingIOError:
            pass
        except OSError:
            return
        finally:
            s.conn.settimeout(15)
        time.sleep(0.02)


class StallsRangesFtp(IgnoresRestFtp):
    """Ignores REST as IgnoresRestFtp does, and reads nothing of the ranges after the second
    (their data connections take 64 KiB) until the client stops them: the client finds the
    server out after the second range, with the later ones mid-send. Records how each of
    those data connections ended: "eof" (a FIN: to a server, the end of the file) or "reset"
    (an interrupted upload), and answers 426."""

    def __init__(self, stall_from):
        super().__init__()
        self.stall_from = stall_from
        self.ends = []

    def command(self, s, verb, arg):
        if verb == "EPSV":
            super().command(s, verb, arg)
            s.dsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            return True
        if verb != "STOR" or s.rest < self.stall_from:
            return super().command(s, verb, arg)
        s.send("150 go")
        d = s.accept_data()
        d.settimeout(15)
        wait_stopped(s, d)
        try:
            while d.recv(65536):
                pass
            end = "eof"
        except ConnectionResetError:
            end = "reset"
        except OSError as e:
            end = repr(e)
        d.close()
        self.range_stopped(s)
        with self.lock:
            self.ends.append(end)
        s.send("426 Connection closed; transfer aborted.")
        return False

    def range_stopped(self, s):
        """Called once a stalled range's data connection is over, before its reply."""


class TestSegputStoppedRanges(FtpcCase):
    def test_reset_not_ended(self):
        # Ranges of 16 MiB, more than the socket buffers hold: the two stalled ones are
        # mid-send when the check of the second finds that the server ignored REST.
        size = 64 * MiB
        fake = StallsRangesFtp(size // 2)
        fake.start()
        self.addCleanup(fake.stop)
        src = data_bytes(size, 111)
        self.write_local("x.bin", src)
        r = self.ftpc("--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port)
        self.assertIn("does not write REST+STOR ranges in place", r.stderr.decode())
        self.assertEqual(bytes(fake.data), src)
        wait_for(lambda: len(fake.ends) == 2, timeout=20)
        self.assertEqual(fake.ends, ["reset", "reset"])


class PutsAsideLateFtp(StallsRangesFtp):
    """StallsRangesFtp, and like pure-ftpd, which writes each REST+STOR aside (a copy of the
    file cut at the offset) and puts that file in place of the name when the STOR ends,
    complete or cut, just before its reply: a stalled range's STOR ends a moment after the
    client stopped it, once the whole file has come with a STOR from 0 (or after 2 s), and
    leaves the file as it was before that range plus none of its bytes. Such a STOR of the
    whole file answers only once the stalled ranges have ended (or after 5 s). `events`
    records, in order, ("aside", offset) as a range's file goes in place and ("whole",) as a
    STOR of the whole file begins."""

    def __init__(self, stall_from, size):
        super().__init__(stall_from)
        self.size = size
        self.stalled = 0
        self.whole = threading.Event()
        self.events = []

    def command(self, s, verb, arg):
        if verb == "STOR" and s.rest >= self.stall_from:
            with self.lock:
                s.aside = bytes(self.data[:s.rest])
                self.stalled += 1
            return super().command(s, verb, arg)
        if verb != "STOR" or s.rest != 0:
            return super().command(s, verb, arg)
        s.send("150 go")
        d = s.accept_data()
        with self.lock:
            whole = not self.whole.is_set() and self.stors != []
            if whole:
                self.events.append(("whole",))
        got = recv_all(d)
        with self.lock:
            self.stors.append((0, len(got)))
            self.data = got
        if len(got) == self.size:
            self.whole.set()
            wait_for(lambda: self.stalled == 0, timeout=5)
        s.send("226 done")
        return True

    def range_stopped(self, s):
        self.whole.wait(2)
        with self.lock:
            self.data = bytearray(s.aside)
            self.events.append(("aside", s.rest))
            self.stalled -= 1


class CutsARangeAsideFtp(PutsAsideLateFtp):
    """PutsAsideLateFtp, where the second range's session dies mid-STOR (its data and
    control connections closed) once the two later ranges are under way: the upload fails
    with them mid-send, and the client deletes the temporary file. DELE removes the file;
    `events` records ("dele",)."""

    def command(self, s, verb, arg):
        if verb == "STOR" and 0 < s.rest < self.stall_from:
            s.send("150 go")
            d = s.accept_data()
            wait_for(lambda: self.stalled == 2, timeout=10)
            d.close()
            return False
        if verb == "DELE":
            with self.lock:
                self.data = None
                self.events.append(("dele",))
            s.send("250 deleted")
            return True
        return super().command(s, verb, arg)


class TestSegputAsideRangesEnd(FtpcCase):
    def test_fallback_waits_for_the_stopped_ranges(self):
        # The check of the second range finds that the server does not write in place, with
        # the two later ranges mid-send: they are stopped, and the sequential upload of the
        # whole file starts only once the server has ended their STORs, whose files it puts
        # in place of the temporary name then (pure-ftpd), not over the upload.
        size = 64 * MiB
        fake = PutsAsideLateFtp(size // 2, size)
        fake.start()
        self.addCleanup(fake.stop)
        src = data_bytes(size, 112)
        self.write_local("x.bin", src)
        r = self.ftpc("--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port, rc=None)
        err = r.stderr.decode()
        self.assertIn("does not write REST+STOR ranges in place", err)
        self.assertEqual(r.returncode, 0, err[-2000:])
        self.assertEqual(bytes(fake.data), src)
        self.assertEqual(sorted(fake.events[:2]), [("aside", size // 2), ("aside", 3 * size // 4)])
        self.assertEqual(fake.events[2:], [("whole",)])
        self.assertEqual(fake.ends, ["reset", "reset"])

    def test_temporary_file_deleted_after_the_stopped_ranges(self):
        # A range cut off fails the upload with two others mid-send: the temporary file is
        # deleted only once the server has ended their STORs, which put their files in
        # place, so that none is left on the server.
        size = 64 * MiB
        fake = CutsARangeAsideFtp(size // 2, size)
        fake.start()
        self.addCleanup(fake.stop)
        self.write_local("x.bin", data_bytes(size, 113))
        r = self.ftpc("--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port, rc=7)
        self.assertNotIn("stays on the server", r.stderr.decode())
        wait_for(lambda: len(fake.events) == 3, timeout=10)
        self.assertEqual(sorted(fake.events[:2]), [("aside", size // 2), ("aside", 3 * size // 4)])
        self.assertEqual(fake.events[2:], [("dele",)])
        self.assertIsNone(fake.data)


class SizeOffOnceFtp(ScriptedFtp):
    """Writes REST+STOR in place, offers no HASH, and the first time the whole file is there
    SIZE says one byte more: the final size check fails once, and the client uploads again
    from the start."""

    FEATURES = ("SIZE", "REST STREAM", "EPSV")

    def __init__(self, want):
        super().__init__(20, timeout=15, accept_timeout=30)
        self.want = want
        self.data = bytearray()
        self.lock = threading.Lock()
        self.full_stors = 0

    def command(self, s, verb, arg):
        if verb == "SIZE":
            with self.lock:
                n = len(self.data)
                if self.full_stors == 1 and n == self.want:
                    n += 1
            s.send("213 %d" % n)
        elif verb == "STOR":
            got = s.receive_upload()
            with self.lock:
                if s.rest == 0:
                    self.full_stors += 1
                    self.data = bytearray(got)
                else:
                    if len(self.data) < s.rest:
                        self.data += bytes(s.rest - len(self.data))
                    self.data[s.rest:s.rest + len(got)] = got
            s.rest = 0
            s.send("226 done")
        elif verb in ("RNFR", "RNTO"):
            s.send("350 ok" if verb == "RNFR" else "250 renamed")
        else:
            return super().command(s, verb, arg)
        return True


class TestSegputFailedCheck(FtpcCase):
    def test_failed_final_check_goes_again_on_the_same_line(self):
        size = 4 * MiB + 3
        fake = SizeOffOnceFtp(size)
        fake.start()
        src = data_bytes(size, 70)
        self.write_local("x.bin", src)
        r = self.ftpc("--progress", "bar", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port)
        err = r.stderr.decode()
        self.assertEqual(bytes(fake.data), src)
        self.assertEqual(fake.full_stors, 2)
        # the line that waited for the check moved on with the second upload and ended in
        # one summary; no bar of the file is drawn after it (a line left held stayed up)
        self.assertEqual(err.count("x.bin: 4.00 MiB in "), 1, err[-800:])
        self.assertNotIn("100%", err.split("x.bin: 4.00 MiB in ")[1], err[-800:])


class NoDotFilesFtp(ScriptedFtp):
    """Writes REST+STOR in place, file by name, but refuses to store a name that starts with a
    dot (as pure-ftpd does with -x): a segmented upload's temporary file is refused."""

    FEATURES = ("SIZE", "REST STREAM", "EPSV")

    def __init__(self):
        super().__init__(12, timeout=15, accept_timeout=30)
        self.files = {}
        self.refused = []
        self.lock = threading.Lock()

    def command(self, s, verb, arg):
        if verb == "SIZE":
            with self.lock:
                f = self.files.get(arg)
            s.send("213 %d" % len(f) if f is not None else "550 no such file")
        elif verb == "STOR":
            if arg.rsplit("/", 1)[-1].startswith("."):
                self.refused.append(arg)
                s.rest = 0
                s.send("553 no dot files here")
                return True
            self.store(s, arg)
        else:
            return super().command(s, verb, arg)
        return True

    def store(self, s, arg):
        """Takes a STOR's data into files[arg], in place at a REST offset."""
        got = s.receive_upload()
        with self.lock:
            if s.rest == 0:
                self.files[arg] = bytearray(got)
            else:
                f = self.files.setdefault(arg, bytearray())
                f[s.rest:s.rest + len(got)] = got
        s.rest = 0
        s.send("226 done")


class TestSegputNoDotFiles(FtpcCase):
    def test_ordinary_upload_when_the_temporary_name_is_refused(self):
        fake = NoDotFilesFtp()
        fake.start()
        self.addCleanup(fake.stop)
        src = data_bytes(4 * MiB + 5, 98)
        self.write_local("x.bin", src)
        self.ftpc("--segments", "4", "put", "x.bin", "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port)
        self.assertEqual({k: bytes(v) for k, v in fake.files.items()}, {"x.bin": src})
        self.assertEqual(fake.refused, [".x.bin.ftpc-up"])


class BusyFtp(NoDotFilesFtp):
    """Takes dot files, but answers the first `busy` STORs of a temporary name with a passing
    refusal (reply), as a server short of room or busy for a while does."""

    def __init__(self, busy, reply):
        super().__init__()
        self.busy = busy
        self.reply = reply
        self.stored = []

    def command(self, s, verb, arg):
        if verb == "STOR":
            with self.lock:
                refuse = arg.startswith(".") and self.busy > 0
                self.busy -= refuse
            if refuse:
                self.refused.append(arg)
                s.rest = 0
                s.send(self.reply)
                return True
            self.stored.append(arg)
            self.store(s, arg)
        elif verb in ("RNFR", "RNTO"):
            with self.lock:
                if verb == "RNFR":
                    s.rnfr = arg
                else:
                    self.files[arg] = self.files.pop(s.rnfr)
            s.send("350 go on" if verb == "RNFR" else "250 renamed")
        else:
            return super().command(s, verb, arg)
        return True


class TestSegputPassingRefusal(FtpcCase):
    """A 4xx to the temporary name's STOR is a passing refusal, not one of the name: the
    upload fails as an ordinary one would (451: status 7, which --retry tries again the same
    way), rather than going on as an ordinary upload."""

    def upload(self, fake, *args, rc=0):
        fake.start()
        self.addCleanup(fake.stop)
        self.src = data_bytes(4 * MiB + 5, 110)
        self.write_local("x.bin", self.src)
        return self.ftpc(*args, "--segments", "4", "put", "x.bin",
                         "ftp://u:p@127.0.0.1:%d/x.bin" % fake.port, rc=rc)

    def test_retried_segmented(self):
        fake = BusyFtp(1, "451 busy, try again later")
        r = self.upload(fake, "--retry", "1", "--retry-delay", "0.1")
        self.assertEqual({k: bytes(v) for k, v in fake.files.items()}, {"x.bin": self.src})
        self.assertEqual(fake.refused, [".x.bin.ftpc-up"])
        self.assertNotIn("x.bin", fake.stored)  # no ordinary upload
        self.assertIn(".x.bin.ftpc-up", fake.stored)
        self.assertIn("451 busy, try again later", r.stderr.decode())
        self.assertIn("retrying", r.stderr.decode().lower())

    def test_fails_as_an_ordinary_upload(self):
        fake = BusyFtp(100, "452 no room for now")
        r = self.upload(fake, rc=5)
        self.assertEqual(fake.files, {})
        self.assertEqual(fake.stored, [])
        self.assertIn("452 no room for now", r.stderr.decode())


class NoRenameOverFtp(NoDotFilesFtp):
    """Takes dot files, but will not rename onto a name that exists (as IIS and FileZilla
    Server answer RNTO): every segmented put over an existing file is refused at its end."""

    def __init__(self):
        super().__init__()
        self.stored = []

    def command(self, s, verb, arg):
        if verb == "STOR":
            self.stored.append(arg)
            self.store(s, arg)
        elif verb == "RNFR":
            s.rnfr = arg
            s.send("350 go on" if arg in self.files else "550 no such file")
        elif verb == "RNTO":
            with self.lock:
                if arg in self.files:
                    s.send("553 %s exists" % arg)
                else:
                    self.files[arg] = self.files.pop(s.rnfr)
                    s.send("250 renamed")
        elif verb == "DELE":
            with self.lock:
                found = self.files.pop(arg, None) is not None
            s.send("250 deleted" if found else "550 no such file")
        else:
            return super().command(s, verb, arg)
        return True


class TestSegputNoRenameOver(FtpcCase):
    def test_later_files_go_the_ordinary_way_at_once(self):
        # The first file learns that its rename is refused and is sent again; the next file
        # to that server goes as one ordinary upload at once, not twice over.
        fake = NoRenameOverFtp()
        for name in ("a.bin", "b.bin"):
            fake.files[name] = bytearray(b"old " + name.encode())
        fake.start()
        self.addCleanup(fake.stop)
        src = {name: data_bytes(4 * MiB + 5, 99 + i) for i, name in enumerate(("a.bin", "b.bin"))}
        for name, data in src.items():
            self.write_local(name, data)
        self.ftpc("--segments", "4", "put", "a.bin", "b.bin",
                  "ftp://u:p@127.0.0.1:%d/" % fake.port)
        self.assertEqual({k: bytes(v) for k, v in fake.files.items()}, src)
        self.assertEqual([n for n in fake.stored if n.startswith(".b.bin")], [], fake.stored)


if __name__ == "__main__":
    unittest.main()
