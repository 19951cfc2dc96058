"""End-to-end tests of `ftpc get --segments N` against the built ftpd: the file split over
several connections (REST 4 KiB before each later segment's offset, checked in the server's log), written in
place and identical to the source; small files use fewer segments; the cases that fall back to
one ordinary transfer (standard output, a device, -c with a part file) still work.
"""
import glob
import os
import re
import signal
import stat
import subprocess
import tempfile
import shutil
import socket
import time
import unittest

from ftpd_harness import data_bytes, reset_close, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB

# Each range after the first starts this much early: ftpc checks that those bytes match what
# its neighbour wrote (a server that ignores REST is caught).
OVERLAP = 4096


class ShortFtp(ScriptedFtp):
    """Serves sessions (bounded) for a file SIZE says has `size` bytes, but the RETR of the
    range that starts at `short_at` sends only 1000 bytes: one segment comes up short."""

    FEATURES = ("SIZE", "REST STREAM")
    UNKNOWN = "500 no"

    def __init__(self, size, short_at, sessions=8):
        super().__init__(sessions, timeout=10)
        self.size, self.short_at = size, short_at

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % self.size)
        elif verb == "RETR":
            s.send_download(b"z" * (1000 if s.rest == self.short_at - OVERLAP else
                                    self.size - s.rest))
        else:
            return super().command(s, verb, arg)
        return True


class TestSegmentsPerAddressLimit(FtpcCase):
    """Connections the server refuses (421 at the greeting) leave their ranges to the
    connections that are in."""
    server_kwargs = {"args": ["--max-per-ip", "2"]}

    def test_refused_connections_ranges_taken_over(self):
        size = 8 * MiB + 7
        data = self.srv.make_file("big.bin", size, seed=30)
        self.ftpc("--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        log = self.srv.settled_log_text()
        self.assertIn("421", log)
        rests = sorted(int(n) for n in re.findall(r"-> REST (\d+)", log))
        self.assertEqual(rests, [size * i // 4 - OVERLAP for i in range(1, 4)])
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])

    def test_later_files_ask_for_what_got_in(self):
        # The first file's refusals show the limit: the later files open no more connections
        # than it lets in (two refusals in all, not two a file).
        want = {"s%d.bin" % i: self.srv.make_file("s%d.bin" % i, 4 * MiB + i, seed=40 + i)
                for i in range(4)}
        self.ftpc("--segments", "4", "get", *[self.srv.url(n) for n in sorted(want)])
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)
        refused = len(re.findall(r"refused: Too many", self.srv.settled_log_text()))
        self.assertTrue(1 <= refused <= 4, refused)  # 8 when every file tries 4


class RestIgnoredFtp(ScriptedFtp):
    """Answers REST with 350 but sends every RETR from the start of the file."""

    FEATURES = ("SIZE", "REST STREAM")
    UNKNOWN = "500 no"

    def __init__(self, data, sessions=8):
        super().__init__(sessions, timeout=10)
        self.data = data

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "RETR":
            s.send_download(self.data)  # whatever REST said
        else:
            return super().command(s, verb, arg)
        return True


class RestRefusedFtp(RestIgnoredFtp):
    """Offers REST STREAM in FEAT but refuses REST before RETR; RETR without it sends the
    file."""

    def command(self, s, verb, arg):
        if verb == "REST":
            s.send("502 REST not allowed here")
            return True
        return super().command(s, verb, arg)


class RestartRefusedFtp(RestIgnoredFtp):
    """ProFTPD with AllowRetrieveRestart off: accepts REST, then answers the RETR after it
    with "451 NAME: Restart not permitted, try again", resetting the data connection first
    (reset_first) or after the reply; a RETR from the start sends the file."""

    def __init__(self, data, reset_first, sessions=8):
        super().__init__(data, sessions)
        self.reset_first = reset_first

    def command(self, s, verb, arg):
        if verb == "RETR" and s.rest > 0:
            s.rest = 0
            d = s.accept_data()
            if not self.reset_first:
                s.send("451 %s: Restart not permitted, try again" % arg)
            reset_close(d)
            if self.reset_first:
                s.send("451 %s: Restart not permitted, try again" % arg)
            return True
        return super().command(s, verb, arg)


def send_range(s, data):
    """Sends data on the session's data connection and waits until the client closes it
    (all read, or cut short)."""
    d = s.accept_data()
    try:
        d.sendall(data)
        d.shutdown(socket.SHUT_WR)
        d.settimeout(10)
        d.recv(1)
    except OSError:
        pass
    finally:
        d.close()


class PureLikeFtp(ScriptedFtp):
    """Ends every RETR, once its data connection is closed, as pure-ftpd 1.0.50 answers a
    client that closed it early: with one more 150 line (its figures for the transfer) and no
    final reply. With silent=True it sends nothing at all then, nor to any later command on
    that connection (ABOR included). It does so however the data connection ended: ftpc,
    after its ABOR, usually reads the whole rest of the file before the server sees that ABOR,
    and a 226 then would end every range before the reply under test.

    `answered` lists the REST offsets of the RETRs that ended so; `silences`, for each
    connection left without a reply, the seconds until the client closed it."""

    FEATURES = ("SIZE", "REST STREAM")
    UNKNOWN = "500 no"

    def __init__(self, data, silent=False, sessions=8):
        super().__init__(sessions, timeout=20)
        self.data, self.silent = data, silent
        self.answered, self.silences = [], []

    def command(self, s, verb, arg):
        if getattr(s, "silent_since", None) is not None:
            pass  # this server has stopped answering on this connection
        elif verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "RETR":
            s.send("150-Accepted data connection\r\n150 %.1f kbytes to download"
                   % ((len(self.data) - s.rest) / 1024))
            send_range(s, self.data[s.rest:])
            self.answered.append(s.rest)
            if self.silent:
                s.silent_since = time.monotonic()
            else:
                s.send("150 0.003 seconds (measured here), 364.05 Mbytes per second")
        else:
            return super().command(s, verb, arg)
        return True

    def ended(self, s):
        if getattr(s, "silent_since", None) is not None:
            self.silences.append(time.monotonic() - s.silent_since)


class ScriptedCase(unittest.TestCase):
    """ftpc against a scripted server, in a scratch directory."""

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def get_in_four(self, fake, *opts):
        fake.start()
        r = subprocess.run([FTPC_BIN, *opts, "--segments", "4", "get",
                            "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port], cwd=self.tmp,
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NETRC=os.path.join(self.tmp, "none")))
        fake.stop()
        return r


class TestSegmentCutReplies(ScriptedCase):
    """What a server answers when ftpc closes a range's data connection: pure-ftpd sends a
    further 1xx and nothing after it, and a server may send nothing at all."""

    def test_a_second_1xx_ends_the_range(self):
        data = os.urandom(16 * MiB + 5)
        fake = PureLikeFtp(data, sessions=4)
        t0 = time.monotonic()
        r = self.get_in_four(fake, "--timeout", "20")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t0, 10, "waited for a reply that never comes")
        self.assertEqual(sorted(fake.answered), self.range_rests(len(data)))
        with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])

    def test_no_reply_after_the_close_costs_the_timeout_not_the_file(self):
        data = os.urandom(16 * MiB + 5)
        # no range's connection hears from the server after its data: each is lost at the
        # timeout, the operation's own too (the check of the finished file, HASH or not, logs
        # in again)
        fake = PureLikeFtp(data, silent=True, sessions=5)
        t0 = time.monotonic()
        r = self.get_in_four(fake, "--timeout", "1")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(fake.answered), self.range_rests(len(data)))
        self.assertGreaterEqual(took, 1, "a range ended before its connection timed out")
        # each silent connection is closed by the timeout, once: its wait counts from the
        # range's last bytes, a little before the server saw its data connection close
        self.assertTrue(wait_for(lambda: len(fake.silences) == 4, 5), fake.silences)
        self.assertLess(max(fake.silences), 2, "a silent connection was kept past the timeout")
        with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])

    @staticmethod
    def range_rests(size):
        """The REST offset of each of four ranges' RETRs (0: no REST)."""
        return [0] + [size * i // 4 - OVERLAP for i in range(1, 4)]


class CutFtp(ScriptedFtp):
    """Serves `data`, but the first RETR of the range that starts at `cut_at` sends 1000 bytes,
    closes its data connection and then, a moment later, either answers `reply` or (None)
    hangs up the control connection, as a server killed or restarted mid-transfer does. Every
    later RETR is whole. `cut_len` bytes go before the cut; `rests` lists each RETR's
    offset."""

    FEATURES = ("SIZE", "REST STREAM")
    UNKNOWN = "500 no"

    def __init__(self, data, cut_at, reply=None, sessions=8, cut_len=1000):
        super().__init__(sessions, timeout=10)
        self.data, self.cut_at, self.reply = data, cut_at, reply
        self.cut, self.cut_len, self.rests = False, cut_len, []

    def command(self, s, verb, arg):
        if verb == "RETR":
            self.rests.append(s.rest)
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "RETR" and not self.cut and s.rest == self.cut_at - OVERLAP:
            self.cut = True
            s.send("150 here")
            d = s.accept_data()
            d.sendall(self.data[s.rest:s.rest + self.cut_len])
            d.close()
            time.sleep(0.3)  # the client sees the data's end first
            if self.reply is None:
                return False
            s.send(self.reply)
        elif verb == "RETR":
            s.send_download(self.data[s.rest:])
        else:
            return super().command(s, verb, arg)
        return True


class TestSegmentFailure(ScriptedCase):
    def test_range_cut_off_is_an_interrupted_transfer(self):
        # A range whose data ends early and whose server then hangs up or answers 426 was cut
        # off, not changed on the server: status 7, which --retry tries again.
        size = 4 * MiB
        data = os.urandom(size)
        for reply in (None, "426 Connection closed; transfer aborted."):
            r = self.get_in_four(CutFtp(data, size // 2, reply, sessions=4))
            self.assertEqual(r.returncode, 7, r.stderr)
            self.assertNotIn(b"changed on the server", r.stderr)
            # what arrived is kept for -c (the next run, without it, starts over)
            self.assertEqual(sorted(os.listdir(self.tmp)),
                             [".f.bin.ftpc-seg", ".f.bin.ftpc-seg.state"])
            r = self.get_in_four(CutFtp(data, size // 2, reply), "--retry", "1",
                                 "--retry-delay", "0")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"retrying", r.stderr.lower())
            with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(os.listdir(self.tmp), ["f.bin"])
            os.unlink(os.path.join(self.tmp, "f.bin"))

    def test_retry_resumes_the_range_cut_off(self):
        # the range cut off after 1 MiB of its own goes on from there (4 KiB early)
        size = 8 * MiB
        data = os.urandom(size)
        fake = CutFtp(data, size // 2, cut_len=OVERLAP + MiB)
        r = self.get_in_four(fake, "--retry", "1", "--retry-delay", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"retrying", r.stderr.lower())
        with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])
        self.assertIn(size // 2 + MiB - OVERLAP, fake.rests[4:])
        self.assertNotIn(size // 2 - OVERLAP, fake.rests[4:])

    def test_short_segment_fails_and_leaves_nothing(self):
        size = 4 * MiB
        r = self.get_in_four(ShortFtp(size, short_at=size // 4 * 2, sessions=4))
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"short of", r.stderr)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_rest_refused_keeps_nothing_that_would_fail_again(self):
        # the ranges of a server that refuses REST cannot be resumed from it: kept, they
        # made every get -c run segmented into the same refusal
        data = os.urandom(4 * MiB)
        r = self.get_in_four(RestRefusedFtp(data, sessions=4))
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"the server replied 502 REST not allowed here: it does not send a file "
                      b"from an offset, so the file cannot be split into ranges (download it "
                      b"without --segments)", r.stderr)
        self.assertNotIn(b"kept", r.stderr)
        self.assertEqual(os.listdir(self.tmp), [])
        fake = RestRefusedFtp(data, sessions=2)
        fake.start()
        r = subprocess.run([FTPC_BIN, "-c", "get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port],
                           cwd=self.tmp, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NETRC=os.path.join(self.tmp, "none")))
        fake.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_restart_refused_after_rest_keeps_nothing(self):
        # the reset of the data connection came first and failed the download as cut off
        # (status 7, "kept: get -c resumes it"), which --retry and every -c met again
        data = os.urandom(4 * MiB)
        for reset_first in (True, False):
            r = self.get_in_four(RestartRefusedFtp(data, reset_first, sessions=4), "--retry",
                                 "2", "--retry-delay", "0")
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertIn(b": the server replied 451 f.bin: Restart not permitted, try again: "
                          b"it does not send a file from an offset, so the file cannot be "
                          b"split into ranges (download it without --segments)", r.stderr)
            self.assertNotIn(b"retrying", r.stderr.lower())
            self.assertEqual(os.listdir(self.tmp), [])

    def test_rest_ignored_leaves_the_old_file(self):
        with open(os.path.join(self.tmp, "f.bin"), "wb") as f:
            f.write(b"old and good")
        r = self.get_in_four(RestIgnoredFtp(os.urandom(4 * MiB), sessions=4))
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"the segments do not fit together", r.stderr)
        self.assertEqual(os.listdir(self.tmp), ["f.bin"])
        with open(os.path.join(self.tmp, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), b"old and good")


class TestSegments(FtpcCase):
    def settled_log(self):
        # ftpd's log reaches the harness through a reader thread: wait until it has been
        # quiet for a moment, so the last commands ftpc sent are counted too.
        text, deadline = self.srv.log_text(), time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.srv.log_text()
            if now == text:
                break
            text = now
        return text

    def rests(self):
        return sorted(int(n) for n in re.findall(r"-> REST (\d+)", self.settled_log()))

    def retrs(self, name):
        return len(re.findall(r"-> RETR %s\b" % re.escape(name), self.settled_log()))

    def test_four_segments(self):
        size = 20 * MiB + 3
        data = self.srv.make_file("big.bin", size, seed=11)
        r = self.ftpc("--progress=plain", "--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(self.retrs("big.bin"), 4)
        self.assertEqual(self.rests(), [size * i // 4 - OVERLAP for i in range(1, 4)])
        # one line for the file, its check in it, and no segment file left; a run longer
        # than a second (a loaded machine) also has plain progress lines, of the whole file
        lines = [l for l in r.stderr.splitlines() if l.startswith(b"big.bin:")]
        progress = rb"^big\.bin: \d+% \([\d.]+ \S+ of 20\.0 MiB\), "
        self.assertEqual(len([l for l in lines if not re.match(progress, l)]), 1, r.stderr)
        self.assertRegex(r.stderr, rb"(?m)^big\.bin: 20\.0 MiB in .*, verified sha256 "
                                   rb"\(4 segments\)$")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["big.bin"])

    def test_ranges_end_with_abor_not_a_reset(self):
        # a range that is in ends its RETR with ABOR (RFC 959 4.1.3): the server logs the
        # transfer as aborted by the client, not as a connection reset by the peer. A range
        # whose rest of the file fits in the socket buffers (tcp_rmem allows 32 MiB on CI's
        # machines) may be all sent before the ABOR comes and logged "ok"; the first range
        # leaves 48 MiB, which is too much, so at least it must be aborted.
        data = self.srv.make_file("ab.bin", 64 * MiB, seed=12)
        self.ftpc("--segments", "4", "get", self.srv.url("ab.bin"))
        self.assertEqual(self.read_local("ab.bin"), data)

        def ended():
            return re.findall(r"RETR /ab\.bin(?: from byte \d+)? "
                              r"(ok|failed|aborted by the client \(ABOR\)): ",
                              self.srv.log_text(), re.M)
        # (the four lines may come after ftpc is gone: their count is waited for)
        self.assertTrue(wait_for(lambda: len(ended()) == 4, 10), self.srv.log_text())
        # a range ended so is the client's choice, not a failure ("failed: ...: aborted by
        # the client (ABOR)" read as one in the log and the live view's count)
        self.assertNotIn("failed", ended(), self.srv.log_text())
        self.assertIn("aborted by the client (ABOR)", ended(), self.srv.log_text())
        self.assertNotIn("Connection reset", self.srv.log_text())

    def test_a_killed_attempts_segment_file_goes_with_the_next_download(self):
        # SIGKILL leaves ".NAME.ftpc-seg"; the next download of NAME, segmented or not,
        # removes it once the file is in place
        data = self.srv.make_file("k.bin", 3 * MiB, seed=14)
        for opts in ([], ["--segments", "4"], ["-c"]):
            self.write_local(".k.bin.ftpc-seg", b"\0" * 4096)
            self.ftpc(*opts, "get", self.srv.url("k.bin"))
            self.assertEqual(self.read_local("k.bin"), data)
            self.assertEqual(sorted(os.listdir(self.tmp)), ["k.bin"], opts)
            os.unlink(self.local("k.bin"))

    def test_small_files_use_fewer_segments(self):
        d3 = self.srv.make_file("three.bin", 3 * MiB + 100, seed=12)
        d1 = self.srv.make_file("one.bin", MiB + 5, seed=13)
        self.ftpc("--segments", "8", "get", self.srv.url("three.bin"), self.srv.url("one.bin"))
        self.assertEqual(self.read_local("three.bin"), d3)
        self.assertEqual(self.read_local("one.bin"), d1)
        self.assertEqual(self.retrs("three.bin"), 3)
        self.assertEqual(self.retrs("one.bin"), 1)

    def test_parallel_and_active(self):
        want = {}
        for i in range(3):
            want["f%d" % i] = self.srv.make_file("f%d" % i, 4 * MiB + i, seed=20 + i)
        self.ftpc("-j", "3", "--segments", "3", "--active", "get",
                  *[self.srv.url(n) for n in sorted(want)])
        for n, d in want.items():
            self.assertEqual(self.read_local(n), d)
            self.assertEqual(self.retrs(n), 3)

    def test_fallbacks(self):
        data = self.srv.make_file("big.bin", 6 * MiB, seed=14)
        r = self.ftpc("--segments", "4", "get", "-o", "-", self.srv.url("big.bin"))
        self.assertEqual(r.stdout, data)
        self.ftpc("--segments", "4", "get", "-o", "/dev/null", self.srv.url("big.bin"))
        self.assertTrue(stat.S_ISCHR(os.stat("/dev/null").st_mode))
        # -c continues an ordinary part file (a prefix) with one transfer
        self.write_local(".big.bin.ftpc-part", data[:1000000])
        self.ftpc("-c", "--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertLogged(r"-> REST %d\b" % (1000000 - OVERLAP))

    def test_missing_file(self):
        self.ftpc("--segments", "4", "get", self.srv.url("nope.bin"), rc=5)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_replaces_existing(self):
        data = self.srv.make_file("big.bin", 5 * MiB, seed=15)
        self.write_local("big.bin", data_bytes(9 * MiB, 1))
        self.write_local(".big.bin.ftpc-part", b"stale")  # no -c: not continued, removed
        self.ftpc("--segments", "5", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(self.retrs("big.bin"), 5)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])

    def test_mirror_segments(self):
        data = self.srv.make_file("tree/sub/big.bin", 4 * MiB, seed=16)
        self.ftpc("--segments", "4", "mirror", self.srv.url("tree"), "out")
        self.assertEqual(self.read_local("out/sub/big.bin"), data)
        self.assertEqual(self.retrs("tree/sub/big.bin"), 4)

    def test_usage(self):
        self.ftpc("--segments", "0", "get", self.srv.url("x"), rc=2)
        self.ftpc("--segments", "4", "ls", self.srv.url("x"), rc=2)
        self.ftpc("--segments", "4", "cat", self.srv.url("x"), rc=2)


class TestSegmentsResume(FtpcCase):
    """An interrupted segmented download keeps .NAME.ftpc-seg and its status file; -c resumes
    every range from what was written. The server holds each transfer to 1 MiB/s, so a
    download of 8 MiB in four ranges takes two seconds and can be stopped half-way."""
    server_kwargs = {"args": ["--max-rate", "1M"]}
    SIZE = 8 * MiB + 5

    def seg_file(self, name, ext=""):
        """The local path of name's .NAME.ftpc-seg (+ ext); for a name too long to take in
        whole, the only one of that kind in its directory (a digest stands for its end)."""
        d, base = os.path.split(name)
        if len((".%s.ftpc-seg.state.new" % base).encode()) <= 255:
            return self.local(os.path.join(d, ".%s.ftpc-seg%s" % (base, ext)))
        found = glob.glob(os.path.join(glob.escape(self.local(d)), ".*~*.ftpc-seg" + ext))
        return found[0] if len(found) == 1 else os.path.join(self.local(d), "(none)")

    def state(self, name="big.bin"):
        """The ranges of the status file: [(start, end, pos)], or None while there is none."""
        try:
            with open(self.seg_file(name, ".state")) as fh:
                return [tuple(map(int, l.split()[1:])) for l in fh if l.startswith("range ")]
        except FileNotFoundError:
            return None

    def stop_half_way(self, p, sig, name):
        """Stops p with sig once the status file of name shows bytes of every range."""
        def half_way():
            st = self.state(name)
            return st is not None and all(pos > start for start, _, pos in st)
        self.assertTrue(wait_for(half_way, 20), self.srv.log_text())
        p.send_signal(sig)
        _, err = p.communicate(timeout=20)
        self.assertTrue(os.path.exists(self.seg_file(name)), err)
        return p.returncode, err.decode()

    def interrupt(self, sig, name="big.bin", remote=None):
        """Starts a download in four ranges and stops it with sig half-way. Returns once the
        server has logged the end of the four RETRs: the server sees a client's end after
        the client has gone, and a test that counts the RETRs of the next run must not count
        one of these among them."""
        remote = remote or name
        before = len(self.sent(remote))
        if remote == name:
            p = self.popen("--segments", "4", "get", self.srv.url(name))
        else:
            p = self.popen("--segments", "4", "mirror", self.srv.url(os.path.dirname(remote)),
                           os.path.dirname(name))
        rc, err = self.stop_half_way(p, sig, name)
        self.assertTrue(wait_for(lambda: len(self.sent(remote)) >= before + 4, 20),
                        self.srv.log_text()[-3000:])
        return rc, err

    def sent(self, name="big.bin"):
        """[(offset REST asked for, bytes sent)] of the server's RETRs of name so far."""
        return [(int(f or 0), int(n)) for f, n in re.findall(
            r"RETR /%s(?: from byte (\d+))? (?:ok|failed|aborted by the client \(ABOR\)): "
            r"(\d+) bytes" % re.escape(name),
            self.srv.settled_log_text())]

    @staticmethod
    def resume_offsets(saved):
        """The REST offsets a resume of the ranges saved asks for: 4 KiB before where each
        range stopped, none for a range that was complete. A busy machine may start the last
        range late, after the first ones finished, so the test cannot expect all four."""
        return sorted(pos - min(pos, OVERLAP) for _, end, pos in saved if pos < end)

    def fresh_rests(self):
        return [self.SIZE * i // 4 - OVERLAP for i in range(1, 4)]

    def test_segmented_put_of_a_file_that_grows_meanwhile(self):
        # as for a plain put: the bytes it had at the start are sent, then the file is longer:
        # a clear error (status 6), not a success that left the server its first bytes only
        data = data_bytes(4 * MiB, 19)
        self.write_local("grow.bin", data)
        p = self.popen("-q", "--segments", "2", "put", "grow.bin", self.srv.url("grow.bin"))

        def uploading():
            for d, _, names in os.walk(self.srv.root):
                for n in names:
                    try:
                        if os.path.getsize(os.path.join(d, n)) >= 200 * 1024:
                            return True
                    except OSError:
                        pass
            return False
        self.assertTrue(wait_for(uploading, 15), self.srv.log_text())
        with open(self.local("grow.bin"), "ab") as fh:
            fh.write(b"appended while it was being sent\n")
        _, err = p.communicate(timeout=60)
        err = err.decode()
        self.assertEqual(p.returncode, 6, err)
        self.assertIn("grow.bin grew while being uploaded (%d bytes when the upload began, %d "
                      "now)" % (len(data), len(data) + 33), err)

    def test_interrupt_then_continue_fetches_the_rest_only(self):
        data = self.srv.make_file("big.bin", self.SIZE, seed=50)
        rc, err = self.interrupt(signal.SIGINT)
        self.assertEqual(rc, 7, err)
        self.assertIn("big.bin: interrupted (.big.bin.ftpc-seg kept: get -c resumes it)", err)
        saved = self.state()
        first = self.sent()
        r = self.ftpc("-c", "--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])
        self.assertNotIn(b"starting over", r.stderr)
        second = self.sent()[len(first):]
        # every range went on from what it had (4 KiB early, checked against those bytes)
        self.assertEqual(sorted(off for off, _ in second), self.resume_offsets(saved))
        # in all, about the file once: not the saved bytes again
        total = sum(n for _, n in first + second)
        self.assertLess(total, self.SIZE + self.SIZE // 8, (first, second))
        self.assertLess(sum(n for _, n in second),
                        self.SIZE - sum(pos - start for start, _, pos in saved) + MiB)

    def test_a_second_download_into_the_same_place_leaves_the_first_alone(self):
        """A second ftpc --segments of the same file into the same directory truncated the
        first's .NAME.ftpc-seg under it: the first then put in place a file with a hole where
        its early bytes had been, "verified", since its ranges were checked as they arrived.
        The first is held still (SIGSTOP, its lock kept) while the others run, so that they
        meet it half-way however slow the machine; it is let go before their time could
        pass its own --timeout or the server's data timeout (120 s)."""
        data = self.srv.make_file("big.bin", self.SIZE, seed=54)
        p = self.popen("--timeout", "300", "--segments", "4", "get", self.srv.url("big.bin"))

        def half_way():
            st = self.state()
            return st is not None and all(pos > start for start, _, pos in st)
        self.assertTrue(wait_for(half_way, 20), self.srv.log_text())
        p.send_signal(signal.SIGSTOP)
        try:
            for args in (["--segments", "4"], ["-c", "--segments", "4"]):
                r = self.ftpc(*(args + ["get", self.srv.url("big.bin")]), rc=6)
                self.assertIn(b"big.bin: another transfer is writing .big.bin.ftpc-seg",
                              r.stderr)
                self.assertNotIn(b"kept", r.stderr)
        finally:
            p.send_signal(signal.SIGCONT)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])

    def test_continue_without_segments_resumes_the_ranges(self):
        # the message says "get -c resumes it": a rerun with -c alone fetched the whole file
        # anew with one ordinary transfer and then dropped the bytes kept; it resumes every
        # range (as many as the status file has) from what it had
        data = self.srv.make_file("big.bin", self.SIZE, seed=53)
        rc, err = self.interrupt(signal.SIGINT)
        self.assertIn("big.bin: interrupted (.big.bin.ftpc-seg kept: get -c resumes it)", err)
        saved = self.state()
        first = self.sent()
        r = self.ftpc("-c", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])
        self.assertNotIn(b"starting over", r.stderr)
        # ranges complete before the stop are not fetched again, so not checked again: the
        # whole file is then checked at once
        if len(self.resume_offsets(saved)) == 4:
            self.assertIn(b"(4 segments)", r.stderr)
        else:
            self.assertIn(b"verified sha256\n", r.stderr)
        second = self.sent()[len(first):]
        self.assertEqual(sorted(off for off, _ in second), self.resume_offsets(saved))

    def test_killed_ftpc_resumes_from_the_last_saved_state(self):
        data = self.srv.make_file("big.bin", self.SIZE, seed=51)
        rc, err = self.interrupt(signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL, err)
        saved = self.state()
        self.assertTrue(all(pos > start for start, _, pos in saved), saved)
        first = len(self.sent())
        self.ftpc("-c", "--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])
        rests = sorted(off for off, _ in self.sent()[first:])
        self.assertGreater(rests[0], 0)
        for got, fresh in zip(rests[1:], self.fresh_rests()):
            self.assertGreater(got, fresh)

    def test_name_near_the_limit_resumes(self):
        # ".NAME.ftpc-seg.state.new" passes 255 bytes long before ".NAME.ftpc-part" does: the
        # work files of such a name take the digest form, or no state could be saved
        for name in ("n" * 236 + ".bin", "é" * 120 + ".bin"):
            with self.subTest(length=len(name.encode())):
                data = self.srv.make_file(name, self.SIZE, seed=len(name))
                rc, err = self.interrupt(signal.SIGINT, name)
                self.assertEqual(rc, 7, err)
                self.assertIn("get -c resumes it", err)
                first = len(self.sent(name))
                r = self.ftpc("-c", "--segments", "4", "get", self.srv.url(name))
                self.assertNotIn(b"starting over", r.stderr)
                self.assertEqual(self.read_local(name), data)
                self.assertEqual(os.listdir(self.tmp), [name])
                self.assertGreater(min(off for off, _ in self.sent(name)[first:]), 0)
                os.unlink(self.local(name))

    def test_changed_remote_file_starts_over(self):
        for change in ("size", "time"):
            os.makedirs(self.tmp, exist_ok=True)
            self.srv.make_file("big.bin", self.SIZE, seed=52)
            self.interrupt(signal.SIGINT)
            if change == "size":
                data = self.srv.make_file("big.bin", self.SIZE + 1, seed=53)
            else:
                data = self.srv.make_file("big.bin", self.SIZE, seed=54)
                t = os.path.getmtime(self.srv.local("big.bin")) + 3600
                os.utime(self.srv.local("big.bin"), (t, t))
            first = len(self.sent())
            r = self.ftpc("-c", "--segments", "4", "get", self.srv.url("big.bin"))
            self.assertRegex(r.stderr, rb"big\.bin: cannot resume the segments \(the remote "
                                       rb"file changed \(%s" % change.encode())
            self.assertIn(b"starting over", r.stderr)
            self.assertEqual(self.read_local("big.bin"), data)
            self.assertEqual(os.listdir(self.tmp), ["big.bin"])
            size = len(data)
            self.assertEqual(sorted(off for off, _ in self.sent()[first:]),
                             [0] + [size * i // 4 - OVERLAP for i in range(1, 4)])
            os.unlink(self.local("big.bin"))

    def test_corrupt_status_file_starts_over(self):
        data = self.srv.make_file("big.bin", self.SIZE, seed=55)
        self.interrupt(signal.SIGINT)
        self.write_local(".big.bin.ftpc-seg.state", b"ftpc-seg-state 1\nrange 1 2\n")
        first = len(self.sent())
        r = self.ftpc("-c", "--segments", "4", "get", self.srv.url("big.bin"))
        self.assertIn(b".big.bin.ftpc-seg.state is unusable", r.stderr)
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])
        self.assertEqual(sorted(off for off, _ in self.sent()[first:]), [0] + self.fresh_rests())

    def test_without_c_a_rerun_starts_over(self):
        # as beside a .NAME.ftpc-part: only -c continues
        data = self.srv.make_file("big.bin", self.SIZE, seed=56)
        self.interrupt(signal.SIGINT)
        first = len(self.sent())
        self.ftpc("--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["big.bin"])
        self.assertEqual(sorted(off for off, _ in self.sent()[first:]), [0] + self.fresh_rests())

    def test_mirror_c_resumes(self):
        self.srv.mkdir("tree")
        data = self.srv.make_file("tree/m.bin", self.SIZE, seed=57)
        _, err = self.interrupt(signal.SIGINT, "out/m.bin", remote="tree/m.bin")
        self.assertIn("m.bin: interrupted (out/.m.bin.ftpc-seg kept: mirror -c resumes it)",
                      err)
        first = len(self.sent("tree/m.bin"))
        r = self.ftpc("--segments", "4", "mirror", "-c", self.srv.url("tree"), "out")
        self.assertNotIn(b"starting over", r.stderr)
        self.assertEqual(self.read_local("out/m.bin"), data)
        self.assertEqual(sorted(os.listdir(self.local("out"))), ["m.bin"])
        self.assertGreater(min(off for off, _ in self.sent("tree/m.bin")[first:]), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
