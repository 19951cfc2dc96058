"""End-to-end tests of `ftpc put -c` after a segmented upload (put --segments N) that was
killed: its temporary file .NAME.ftpc-up stays on the server, since nothing could delete it.

- With -c and --segments, the bytes in it are checked with HASH over RANG against the local
  file's first bytes and the rest is sent after them; the file ends in place, byte for byte,
  and the temporary file is gone.
- Bytes that are not the local file's (another version of it) are not resumed: the file is
  sent from the start over them, and the temporary file goes too.
- The rest goes in ranges over the --segments connections, each with REST, as a new upload's
  ranges go, when it is large enough to be split: a scripted server that writes REST+STOR in
  place and has HASH over RANG sees several connections send it. (ftpd refuses
  REST+STOR ranges beyond the end of its file: the rest then goes sequentially.)
- A server without HASH (vsftpd writes the ranges in place, leaving holes where a killed
  upload had not reached) cannot tell whether the bytes are right: the file is sent from the
  start, and the temporary file goes.
- An ordinary put -c (no --segments) deletes it once the file is in place.
- A resumed upload that fails deletes its temporary file only once the server has ended the
  range on ftpc's own connection too: a server that writes each REST+STOR aside (pure-ftpd)
  puts that range's file in place of the name when its STOR ends, which would undo a DELE
  sent before. A server that answers that cut STOR twice (426, then 226) has the second
  reply dropped, not taken for the DELE's, and the connection is not reused for the next
  file. One that never answers it after resetting its data connection costs the 5 s wait
  for that reply, not the --timeout wait on top.
"""
import hashlib
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

from ftpd_harness import data_bytes, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FtpcCase, MiB
from test_ftpc_segput import wait_stopped


def work_files(directory):
    """ftpc's segmented-upload temporary files (.NAME.ftpc-up) in directory."""
    return [n for n in os.listdir(directory) if n.endswith(".ftpc-up")]


class TestPutResumeAfterKill(FtpcCase):
    # Each transfer at 2 MiB/s: the upload takes seconds, and a kill finds it under way.
    server_kwargs = {"args": ("--max-rate", "2M")}

    def setUp(self):
        super().setUp()
        self.old = self.srv.make_file("big.bin", 1 * MiB, seed=140)
        self.src = data_bytes(8 * MiB + 3, 141)
        self.write_local("big.bin", self.src)
        self.work = self.srv.local(".big.bin.ftpc-up")

    def settled(self):
        """Waits until ftpd has seen the killed client's transfers end: no upload is live
        (.ftpd-up.*), what each received is committed or kept as a partial."""
        self.assertTrue(wait_for(lambda: not any(n.startswith(".ftpd-up.")
                                                 for n in self.srv.internal_files()),
                                 timeout=30))

    def kill_mid_upload(self, sig=signal.SIGKILL):
        """Starts a segmented upload and kills ftpc once its first range is on the server
        (.big.bin.ftpc-up holds bytes: before the data ftpc may make it empty, to learn the
        mode a new file gets, and delete it again) and before it is renamed into place."""
        p = self.popen("--segments", "4", "put", "big.bin", self.srv.url("big.bin"))

        def first_range():
            try:
                return os.path.getsize(self.work) > 0
            except FileNotFoundError:
                return False
        self.assertTrue(wait_for(lambda: first_range() or p.poll() is not None, timeout=60))
        p.send_signal(sig)
        p.wait(30)
        self.assertNotEqual(p.returncode, 0, "ftpc ended before it was killed")
        self.settled()
        self.assertEqual(self.srv.read("big.bin"), self.old)
        self.assertTrue(os.path.exists(self.work))
        # what the server holds of the upload now: the rerun starts there
        return os.path.getsize(self.work)

    def kill_in_first_range(self):
        """Kills ftpc while its first range is still under way: ftpd, which writes every
        upload aside, then keeps what arrived as the temporary name's partial upload, and
        .big.bin.ftpc-up itself is not there."""
        p = self.popen("--segments", "4", "put", "big.bin", self.srv.url("big.bin"))

        def sending():
            return any(os.path.getsize(self.srv.local(n)) > 0
                       for n in self.srv.internal_files())
        self.assertTrue(wait_for(lambda: sending() or p.poll() is not None, timeout=60))
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        self.assertEqual(p.returncode, -signal.SIGKILL, "ftpc ended before it was killed")
        self.settled()
        self.assertFalse(os.path.exists(self.work))
        partial = self.srv.local(".ftpd-partial..big.bin.ftpc-up")
        self.assertTrue(wait_for(lambda: os.path.exists(partial), timeout=30))
        return os.path.getsize(partial)

    def log_after(self, mark):
        """The server's log lines since the rerun began."""
        return self.srv.settled_log_text()[mark:]

    def test_resumed_with_segments(self):
        held = self.kill_mid_upload()
        self.assertGreater(held, 0)
        self.assertLess(held, len(self.src))
        mark = len(self.srv.settled_log_text())
        r = self.ftpc("-c", "--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(self.srv.internal_files(), [])
        self.assertIn("resuming the interrupted upload in .big.bin.ftpc-up at byte %d" % held,
                      err)
        log = self.log_after(mark)
        # the bytes held were not sent again: the upload went on after them, into the
        # temporary file, which was then renamed into place (ftpd refuses the ranges beyond
        # its file's end, so the rest goes on one connection after the first range)
        self.assertNotIn("-> REST 0", log)
        rests = [int(n) for n in re.findall(r"-> REST (\d+)", log)]
        self.assertEqual(min(rests), held, log[-3000:])
        stors = set(re.findall(r"-> (STOR|APPE) (\S+)", log))
        self.assertEqual(stors, {("STOR", ".big.bin.ftpc-up")}, log[-3000:])
        self.assertRegex(log, r"RENAME /\.big\.bin\.ftpc-up -> /big\.bin")

    def test_resumed_from_the_partial_of_the_first_range(self):
        held = self.kill_in_first_range()
        self.assertGreater(held, 0)
        r = self.ftpc("-c", "--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        self.assertIn("resuming the interrupted upload in .big.bin.ftpc-up at byte %d" % held,
                      r.stderr.decode())
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(self.srv.internal_files(), [])

    def test_resumed_after_ctrl_c(self):
        held = self.kill_mid_upload(signal.SIGINT)
        r = self.ftpc("-c", "--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(self.srv.internal_files(), [])
        self.assertIn("resuming the interrupted upload in .big.bin.ftpc-up at byte %d" % held,
                      r.stderr.decode())

    def test_other_bytes_are_not_resumed(self):
        self.kill_mid_upload()
        # the local file changed since: its first bytes are no longer those on the server
        self.src = data_bytes(8 * MiB + 3, 142)
        self.write_local("big.bin", self.src)
        r = self.ftpc("-c", "--segments", "4", "put", "big.bin", self.srv.url("big.bin"))
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(self.srv.internal_files(), [])
        self.assertIn("cannot be resumed (they differ from the local file's); uploading it "
                      "from the start", r.stderr.decode())

    def test_ordinary_resume_removes_it(self):
        self.kill_mid_upload()
        mark = len(self.srv.settled_log_text())
        self.ftpc("-c", "put", "big.bin", self.srv.url("big.bin"))
        self.assertEqual(self.srv.read("big.bin"), self.src)
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(self.srv.internal_files(), [])
        self.assertIn("-> DELE .big.bin.ftpc-up", self.log_after(mark))


class TestPutResumeNoTemporaryFile(FtpcCase):
    def test_target_resumed_as_before(self):
        # Without a temporary file, put -c --segments continues the target from its size,
        # as it did before: nothing is sent again.
        src = data_bytes(5 * MiB, 143)
        self.srv.write("t.bin", src[:3 * MiB])
        self.write_local("t.bin", src)
        self.ftpc("-c", "--segments", "4", "put", "t.bin", self.srv.url("t.bin"))
        self.assertEqual(self.srv.read("t.bin"), src)
        log = self.srv.settled_log_text()
        self.assertIn("-> REST %d" % (3 * MiB), log)
        self.assertNotIn("ftpc-up", "".join(re.findall(r"-> (?:STOR|APPE) .*", log)))
        self.assertEqual(work_files(self.srv.root), [])


class InPlaceFtp(ScriptedFtp):
    """Writes REST+STOR in place, as vsftpd does, renames and deletes, and offers no HASH
    (with_hash: HASH over RANG, SHA-256)."""

    FEATURES = ("SIZE", "REST STREAM", "EPSV")

    def __init__(self, files, with_hash=False):
        super().__init__(20, timeout=15, accept_timeout=30)
        self.files = {k: bytearray(v) for k, v in files.items()}
        self.lock = threading.Lock()
        self.log = []  # (session, "VERB arg")
        if with_hash:
            self.FEATURES = self.FEATURES + ("HASH SHA-256*", "RANG STREAM")

    def stors(self):
        """(session, REST offset) of each STOR, in order."""
        out, rest = [], {}
        with self.lock:
            for sid, line in self.log:
                verb, _, arg = line.partition(" ")
                if verb == "REST":
                    rest[sid] = int(arg)
                elif verb in ("STOR", "APPE"):
                    out.append((sid, rest.pop(sid, 0)))
        return out

    def command(self, s, verb, arg):
        name = arg.lstrip("/")
        with self.lock:
            self.log.append((id(s), "%s %s" % (verb, arg)))
        if verb == "RANG":
            s.rang = tuple(int(x) for x in arg.split())
            s.send("350 range set")
        elif verb == "HASH" and "HASH SHA-256*" in self.FEATURES:
            first, last = getattr(s, "rang", (0, None))
            s.rang = (0, None)
            with self.lock:
                data = bytes(self.files.get(name, b""))
            last = len(data) - 1 if last is None else last
            s.send("213 SHA-256 %d-%d %s %s" % (
                first, last, hashlib.sha256(data[first:last + 1]).hexdigest(), name))
        elif verb == "SIZE":
            with self.lock:
                n = len(self.files[name]) if name in self.files else -1
            s.send("213 %d" % n if n >= 0 else "550 no such file")
        elif verb in ("STOR", "APPE"):
            got = s.receive_upload()
            with self.lock:
                if verb == "APPE":
                    s.rest = len(self.files.get(name, b""))
                data = self.files.get(name, bytearray()) if s.rest else bytearray()
                if len(data) < s.rest:
                    data += bytes(s.rest - len(data))
                data[s.rest:s.rest + len(got)] = got
                self.files[name] = data
            s.rest = 0
            s.send("226 done")
        elif verb == "RNFR":
            s.rnfr = name
            s.send("350 ok")
        elif verb == "RNTO":
            with self.lock:
                self.files[name] = self.files.pop(s.rnfr)
            s.send("250 renamed")
        elif verb == "DELE":
            with self.lock:
                found = self.files.pop(name, None) is not None
            s.send("250 deleted" if found else "550 no such file")
        else:
            return super().command(s, verb, arg)
        return True


class TestPutResumeNoHash(FtpcCase):
    def test_sent_from_the_start(self):
        size = 8 * MiB + 5
        src = data_bytes(size, 144)
        self.write_local("x.bin", src)
        # what a killed upload leaves on a server that writes in place: the first range
        # and the start of the second, then a hole, then the start of the last one
        work = bytearray(src[:3 * MiB]) + bytes(3 * MiB) + src[6 * MiB:7 * MiB]
        srv = InPlaceFtp({".x.bin.ftpc-up": work})
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-c", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % srv.port)
        with srv.lock:
            self.assertEqual(sorted(srv.files), ["x.bin"])
            self.assertEqual(bytes(srv.files["x.bin"]), src)
        self.assertIn("x.bin: .x.bin.ftpc-up on the server has %d bytes that cannot be resumed "
                      "(the server offers no HASH); uploading it from the start" % len(work),
                      r.stderr.decode())


class TestPutResumeInRanges(FtpcCase):
    def test_rest_in_ranges_with_hash(self):
        size = 8 * MiB + 5
        src = data_bytes(size, 148)
        self.write_local("x.bin", src)
        held = 3 * MiB + 11
        srv = InPlaceFtp({".x.bin.ftpc-up": src[:held]}, with_hash=True)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-c", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % srv.port)
        with srv.lock:
            self.assertEqual(sorted(srv.files), ["x.bin"])
            self.assertEqual(bytes(srv.files["x.bin"]), src)
        self.assertIn("resuming the interrupted upload in .x.bin.ftpc-up at byte %d in 4 ranges"
                      % held, r.stderr.decode())
        # nothing before the kept end was sent again, and the rest went in 4 ranges on 4
        # connections, each with REST
        stors = srv.stors()
        starts = sorted(at for _, at in stors)
        self.assertEqual(len(starts), 4, stors)
        self.assertEqual(starts[0], held, stors)
        self.assertEqual(len(set(starts)), 4, stors)
        self.assertEqual(len({sid for sid, _ in stors}), 4)

    def test_small_rest_on_one_connection(self):
        # less than two minimum ranges left: one REST+STOR, as before
        size = 4 * MiB
        src = data_bytes(size, 149)
        self.write_local("x.bin", src)
        held = size - MiB
        srv = InPlaceFtp({".x.bin.ftpc-up": src[:held]}, with_hash=True)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-c", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % srv.port)
        with srv.lock:
            self.assertEqual(bytes(srv.files["x.bin"]), src)
        self.assertIn("resuming the interrupted upload in .x.bin.ftpc-up at byte %d\n" % held,
                      r.stderr.decode())
        self.assertEqual([at for _, at in srv.stors()], [held])


class AsideOnMainFtp(InPlaceFtp):
    """InPlaceFtp with HASH over RANG, whose first session (ftpc's own connection, which
    carries the first range) writes a REST+STOR aside as pure-ftpd does and reads none of it
    until the client stops it: the copy of the file cut at the offset goes in place of the
    name when that STOR ends, a moment after the client's reset (once a DELE came on another
    connection, or after 2 s), just before its 426. With die_from, the session of a
    REST+STOR from that offset on dies mid-STOR once the first session's is under way.
    on_main_stor() runs as the first session's STOR comes, before its 150. `events` records
    ("aside",) and ("dele",) in order."""

    def __init__(self, files, die_from=None):
        super().__init__(files, with_hash=True)
        self.die_from = die_from
        self.main = None
        self.main_sending = threading.Event()
        self.dele_seen = threading.Event()
        self.events = []

    def on_main_stor(self):
        pass

    def command(self, s, verb, arg):
        with self.lock:
            if self.main is None:
                self.main = s
        if verb == "STOR" and s is self.main and s.rest > 0:
            return self.stor_aside(s, arg.lstrip("/"))
        if verb == "STOR" and self.die_from is not None and s.rest >= self.die_from:
            s.send("150 go")
            d = s.accept_data()
            self.main_sending.wait(10)
            d.close()
            return False
        if verb == "DELE":
            with self.lock:
                self.events.append(("dele",))
            self.dele_seen.set()
        return super().command(s, verb, arg)

    def stor_aside(self, s, name):
        with self.lock:
            self.log.append((id(s), "STOR " + name))
            aside = bytearray(self.files.get(name, b"")[:s.rest])
        self.on_main_stor()
        s.send("150 go")
        d = s.accept_data()
        self.main_sending.set()
        wait_stopped(s, d)
        d.close()
        self.dele_seen.wait(2)
        with self.lock:
            self.files[name] = aside
            self.events.append(("aside",))
        s.rest = 0
        s.send("426 Connection closed; transfer aborted.")
        return True


class TestPutResumeFailedCleanUp(FtpcCase):
    """A resumed upload fails while its range on ftpc's own connection is mid-send: the
    temporary file goes only after the server has ended that STOR, so none is left, and the
    file it was to replace is as it was."""

    def run_failing(self, srv, rc):
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-c", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % srv.port, rc=rc)
        err = r.stderr.decode()
        self.assertIn("ftpc: uploading ftp://u@127.0.0.1:%d/x.bin: " % srv.port, err)
        self.assertNotIn("stays on the server", err)
        # that STOR's end, whenever it comes, leaves nothing behind
        self.assertTrue(wait_for(lambda: ("aside",) in srv.events, timeout=10))
        with srv.lock:
            self.assertEqual(sorted(srv.files), ["x.bin"], srv.events)
            self.assertEqual(bytes(srv.files["x.bin"]), self.old)
            self.assertEqual(srv.events, [("aside",), ("dele",)])
        return err

    def setUp(self):
        super().setUp()
        self.old = data_bytes(MiB, 152)

    def test_another_range_lost(self):
        # 64 MiB, 3 kept: ranges of about 15 MiB, more than the sockets hold, and the last
        # range's connection dies while the first is under way
        size = 64 * MiB
        src = data_bytes(size, 150)
        self.write_local("x.bin", src)
        held = 3 * MiB
        srv = AsideOnMainFtp({"x.bin": self.old, ".x.bin.ftpc-up": src[:held]},
                             die_from=held + 3 * (size - held) // 4)
        err = self.run_failing(srv, 7)
        self.assertIn("resuming the interrupted upload in .x.bin.ftpc-up at byte %d in 4 "
                      "ranges" % held, err)

    def test_local_file_shrank_in_the_sequential_range(self):
        # less than two ranges left: one REST+STOR on ftpc's own connection, and the local
        # file loses its end as it begins
        size = 4 * MiB
        src = data_bytes(size, 151)
        self.write_local("x.bin", src)
        held = size - MiB
        srv = AsideOnMainFtp({"x.bin": self.old, ".x.bin.ftpc-up": src[:held]})
        srv.on_main_stor = lambda: os.truncate(self.local("x.bin"), MiB)
        err = self.run_failing(srv, 6)
        self.assertIn("x.bin shrank while being uploaded", err)


class TwoFinalsFtp(AsideOnMainFtp):
    """AsideOnMainFtp whose first session answers the client's cut of its REST+STOR twice, as
    some servers answer an ABOR: 426, then 226, gap seconds later (None: in the same write).
    The temporary file is left as it was."""

    def __init__(self, files, gap):
        super().__init__(files)
        self.gap = gap

    def stor_aside(self, s, name):
        with self.lock:
            self.log.append((id(s), "STOR " + name))
        self.on_main_stor()
        s.send("150 go")
        d = s.accept_data()
        wait_stopped(s, d)
        d.close()
        s.rest = 0
        if self.gap is None:
            s.send("426 Connection closed; transfer aborted.\r\n226 Abort successful")
        else:
            s.send("426 Connection closed; transfer aborted.")
            time.sleep(self.gap)
            s.send("226 Abort successful")
        return True


class TestPutFailedTwoFinalReplies(FtpcCase):
    """The failed resumed upload's DELE goes on ftpc's own connection after the cut STOR's
    426; the 226 that follows is not the DELE's reply. Taken for it, the connection went on
    one reply behind: the next file's SIZE got the DELE's 250, its EPSV the SIZE's 550."""

    def run_case(self, gap):
        size = 4 * MiB
        src = data_bytes(size, 151)
        old = data_bytes(MiB, 152)
        self.write_local("x.bin", src)
        self.write_local("y.bin", b"hello")
        srv = TwoFinalsFtp({"x.bin": old, ".x.bin.ftpc-up": src[:size - MiB]}, gap)
        # one REST+STOR on ftpc's own connection, which fails as the local file shrinks
        srv.on_main_stor = lambda: os.truncate(self.local("x.bin"), MiB)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-v", "-j", "1", "-c", "--segments", "4", "put", "x.bin", "y.bin",
                      "ftp://u:p@127.0.0.1:%d/" % srv.port, rc=6)
        err = r.stderr.decode()
        self.assertIn("ftpc: uploading ftp://u@127.0.0.1:%d/x.bin: " % srv.port, err)
        self.assertNotIn("/y.bin: ", err)
        self.assertNotIn("stays on the server", err)
        with srv.lock:
            self.assertEqual(sorted(srv.files), ["x.bin", "y.bin"], srv.events)
            self.assertEqual(bytes(srv.files["x.bin"]), old)
            self.assertEqual(bytes(srv.files["y.bin"]), b"hello")
        tail = err[err.rindex("> STOR .x.bin.ftpc-up"):]
        self.assertEqual(re.findall(r"\[(\d+)\] > DELE ", tail), ["1"], tail)
        # not reused: a late reply could still come on it
        self.assertNotIn("[1] > STOR y.bin", err)

    def test_second_reply_after_the_dele(self):
        self.run_case(0.3)

    def test_both_replies_at_once(self):
        self.run_case(None)


class ResetsMainSilentFtp(AsideOnMainFtp):
    """AsideOnMainFtp whose first session resets the data connection of its REST+STOR once
    bytes come, and then never answers that STOR."""

    def __init__(self, files):
        super().__init__(files)
        self.release = threading.Event()

    def stor_aside(self, s, name):
        s.send("150 go")
        d = s.accept_data()
        d.recv(65536)
        d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        d.close()
        self.release.wait(60)
        return False


class TestPutFailedSilentRange(FtpcCase):
    def test_no_second_wait(self):
        # The range on ftpc's own connection has its data connection reset and no reply for
        # the 5 s ftpc waits for one: the upload fails then, and the clean-up does not wait
        # for that STOR's end once more for --timeout (30 s here) before its DELE.
        size = 64 * MiB
        src = data_bytes(size, 153)
        old = data_bytes(MiB, 154)
        self.write_local("x.bin", src)
        srv = ResetsMainSilentFtp({"x.bin": old, ".x.bin.ftpc-up": src[:3 * MiB]})
        srv.start()
        self.addCleanup(srv.stop)
        self.addCleanup(srv.release.set)
        t0 = time.monotonic()
        r = self.ftpc("--timeout", "30", "-c", "--segments", "4", "put", "x.bin",
                      "ftp://u:p@127.0.0.1:%d/x.bin" % srv.port, rc=7)
        elapsed = time.monotonic() - t0
        err = r.stderr.decode()
        self.assertIn("the server sent no reply to STOR within 5 s", err)
        self.assertNotIn("stays on the server", err)
        self.assertLess(elapsed, 20, err)
        with srv.lock:
            self.assertEqual(sorted(srv.files), ["x.bin"], srv.events)
            self.assertEqual(bytes(srv.files["x.bin"]), old)


if __name__ == "__main__":
    unittest.main()
