"""ftpc's live progress bars under a pseudo-terminal, for what the other tests do not watch:
whether the numbers a bar shows are true while the transfer runs. The server holds each
transfer to a known rate (--max-rate), so a bar that runs ahead of the bytes that reached the
server shows itself by a rate above that limit and a percentage far ahead of the time.
"""
import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
import unittest

from ftpd_harness import read_pty
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB

LIMIT = 512 * 1024  # bytes a second the server lets each transfer move
# A frame's line: percent, sizes and rate ("u.bin  12% [...]  250 KiB / 2.00 MiB  1.06 MiB/s").
LINE_RE = re.compile(r"u\.bin +(\d+)% .*? ([\d.]+) (B|KiB|MiB|GiB)/s ")
UNIT = {"B": 1, "KiB": 1024, "MiB": MiB, "GiB": 1024 * MiB}


class TestUploadBarsFollowTheServer(FtpcCase):
    server_kwargs = {"args": ["--max-rate", "512k"]}

    def frames_of_put(self, *opts, size=2 * MiB, cols=80):
        """The (percent, rate in bytes a second) of each frame of `ftpc put` of size bytes, on
        a terminal cols wide."""
        self.write_local("u.bin", os.urandom(size))
        rc, out = self.on_terminal("put", *opts, "u.bin", self.srv.url(""), cols=cols,
                                   timeout=60)
        text = out.decode("utf-8", "replace")
        self.assertEqual(rc, 0, text[-2000:])
        self.assertEqual(self.srv.read("u.bin"), self.read_local("u.bin"))
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        frames = [(int(m.group(1)), float(m.group(2)) * UNIT[m.group(3)])
                  for m in LINE_RE.finditer(plain)]
        self.assertGreater(len(frames), 10, text[-2000:])
        return frames, text

    def assert_bar_follows_the_server(self, frames, text):
        # The first frame comes a tenth of a second in: the bytes that reached the server by
        # then are a fraction of the file, not all of it sitting in ftpc's buffers and socket.
        self.assertLess(frames[0][0], 50, text[:1500])
        # A rate is what the server takes, at most the burst its socket's buffer swallows at
        # the start: never several times its limit.
        fastest = max(rate for _, rate in frames)
        self.assertLess(fastest, 4 * LIMIT, text[:3000])

    def test_compressed_upload(self):
        # MODE Z: the file bytes are read, compressed and queued ahead of the wire
        frames, text = self.frames_of_put("-z", cols=120)  # room for the wire bytes
        self.assert_bar_follows_the_server(frames, text)
        # The wire bytes beside them are those that arrived too: random bytes do not
        # compress, so they stay close to the file's ("470 KiB / 2.00 MiB (wire 2.00 MiB)"
        # said the whole file was on the wire at 22%).
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        pairs = re.findall(r"u\.bin +\d+% (?:\[[^\]]*\] +)?([\d.]+) (B|KiB|MiB) / [\d.]+ MiB "
                           r"\(wire ([\d.]+) (B|KiB|MiB)\)", plain)
        self.assertGreater(len(pairs), 10, text[-2000:])
        for done, unit, wire, wire_unit in pairs:
            done_bytes, wire_bytes = float(done) * UNIT[unit], float(wire) * UNIT[wire_unit]
            self.assertLess(wire_bytes, done_bytes * 1.1 + 64 * 1024, text[:2000])

    def test_ascii_upload(self):
        frames, text = self.frames_of_put("-a")
        self.assert_bar_follows_the_server(frames, text)

    def test_segmented_upload(self):
        # --segments sends its first range with sendfile: 4 MiB calls filled the socket
        frames, text = self.frames_of_put("--segments", "2", size=4 * MiB)
        self.assert_bar_follows_the_server(frames, text)



class TestCompressedBars(FtpcCase):
    server_kwargs = {"args": ["--max-rate", "1M"]}

    def test_a_compressed_download_keeps_its_bar_on_80_columns(self):
        # "(wire 1.03 MiB)" beside the sizes left the bar no room on the commonest width:
        # a -z download's bar came and went as the counts' digits changed
        self.srv.make_file("z.bin", 2 * MiB)
        rc, out = self.on_terminal("get", "-z", self.srv.url("z.bin"), cols=80)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode("utf-8", "replace"))
        self.assertEqual(rc, 0, text[-2000:])
        lines = re.findall(r"z\.bin +\d+%[^\r\n]*", text)
        self.assertGreater(len(lines), 5, text[-2000:])
        for line in lines:
            self.assertLess(len(line), 80, line)
        # in every frame, not only while the sizes are short
        for line in lines:
            self.assertIn("[", line, "\n".join(lines))
        # the summary still gives the wire bytes
        self.assertRegex(text, r"z\.bin: 2\.00 MiB in [\d.]+ s \([^)]*\), "
                               r"wire [\d.]+ MiB \(MODE Z\)")


class TestSummaryRates(FtpcCase):
    def test_a_quick_transfer_has_a_measured_rate(self):
        # The time was taken in whole milliseconds of the event loop, at least one: every
        # small file's summary gave its bytes over one millisecond ("97.7 KiB in 0.0 s
        # (95.4 MiB/s)", "6 B in 0.0 s (5.86 KiB/s)"), whatever the transfer took.
        size, names = 100000, ["s%d.bin" % i for i in range(5)]
        for n in names:
            self.srv.make_file(n, size)
        r = self.ftpc("get", *[self.srv.url(n) for n in names], rc=0)
        rates = re.findall(r"s\d\.bin: 97\.7 KiB in [\d.]+ s \(([\d.]+) (B|KiB|MiB|GiB)/s\)",
                           r.stderr.decode())
        self.assertEqual(len(rates), len(names), r.stderr)
        whole_ms = []
        for value, unit in rates:
            ms = size * 1000.0 / (float(value) * UNIT[unit])
            whole_ms.append(abs(ms - round(ms)) <= 0.006 * ms)
        self.assertFalse(all(whole_ms), r.stderr)
        # and its time is given to the millisecond, not as "0.0 s", no time at all
        times = re.findall(r"s\d\.bin: 97\.7 KiB in ([\d.]+) s ", r.stderr.decode())
        self.assertEqual(len(times), len(names), r.stderr)
        self.assertNotIn("0.0", times, r.stderr)


class TestAsciiSummaries(FtpcCase):
    """-a converts line ends: a summary counts the bytes of the local file, both ways."""

    TEXT = b"".join(b"line %06d of some text\n" % i for i in range(40000))  # 1000000 bytes

    def summary_size(self, stderr):
        m = re.search(r"t\.txt: ([\d.]+ (?:B|KiB|MiB)) in ", stderr.decode())
        self.assertTrue(m, stderr)
        return m.group(1)

    def test_download_counts_the_bytes_written(self):
        # the server sends CRLF, 1040000 bytes (1016 KiB); the file gets LF, 1000000 (977 KiB)
        self.srv.write("t.txt", self.TEXT)
        r = self.ftpc("get", "-a", self.srv.url("t.txt"), rc=0)
        self.assertEqual(self.read_local("t.txt"), self.TEXT)
        self.assertEqual(self.summary_size(r.stderr), "977 KiB")

    def test_upload_counts_the_bytes_read(self):
        self.write_local("t.txt", self.TEXT)
        r = self.ftpc("put", "-a", "t.txt", self.srv.url(""), rc=0)
        self.assertEqual(self.srv.read("t.txt"), self.TEXT)
        self.assertEqual(self.summary_size(r.stderr), "977 KiB")


class TestStoppedAndContinued(FtpcCase):
    """Ctrl-Z, then fg: while ftpc is stopped the job-control shell writes below its live lines
    ("[1]+ Stopped", the prompt, the command it continues)."""
    server_kwargs = {"args": ["--max-rate", "512k"]}

    def test_the_lines_the_shell_wrote_meanwhile_stay(self):
        import signal
        from ftpd_harness import wait_for
        self.srv.make_file("s.bin", 2 * MiB)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = self.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        env.pop("COLUMNS", None)
        p = subprocess.Popen([FTPC_BIN, "get", self.srv.url("s.bin")], cwd=self.tmp,
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        self.addCleanup(os.close, master)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait(10)))
        # a frame is drawn, then the "shell" stops ftpc and writes its lines
        out = read_pty(master, 30, done=lambda d: re.search(rb"s\.bin +\d+%", d))
        self.assertRegex(out, rb"s\.bin +\d+%")
        os.kill(p.pid, signal.SIGSTOP)

        def stopped():
            with open("/proc/%d/stat" % p.pid) as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] == "T"
        self.assertTrue(wait_for(stopped, timeout=10))
        os.write(slave, b"\n[1]+  Stopped    ftpc get\n$ fg\nftpc get\n")
        os.kill(p.pid, signal.SIGCONT)
        os.close(slave)
        out += read_pty(master, 60, proc=p)
        self.assertEqual(p.wait(10), 0, out[-2000:])
        screen = self.screen_of(out)
        text = "\n".join(screen)
        # nothing drawn over them: both lines, in order, above the summary
        self.assertIn("$ fg", screen, text)
        self.assertIn("ftpc get", screen, text)
        self.assertLess(screen.index("$ fg"), screen.index("ftpc get"), text)
        summary = [i for i, row in enumerate(screen) if row.startswith("s.bin: 2.00 MiB in ")]
        self.assertEqual(len(summary), 1, text)
        self.assertGreater(summary[0], screen.index("ftpc get"), text)
        # and no live line is left below the summary
        self.assertEqual(summary[0], len(screen) - 1, text)


class HeldFtp(ScriptedFtp):
    """Serves two files of SIZE bytes: "held.bin" sends its first 256 KiB, then nothing until
    release is set; "slow.bin" trickles until then. Then both send the rest."""

    SIZE = 2 * MiB
    FEATURES = ("SIZE", "REST STREAM")

    def __init__(self):
        super().__init__(sessions=4, timeout=60)
        self.release = threading.Event()

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % self.SIZE)
        elif verb == "RETR":
            s.send("150 here")
            d = s.accept_data()
            sent = 0
            try:
                if arg == "held.bin":
                    d.sendall(b"h" * (256 * 1024))
                    sent = 256 * 1024
                    self.release.wait(60)
                else:
                    while not self.release.is_set() and sent < self.SIZE - 4096:
                        d.sendall(b"s" * 4096)
                        sent += 4096
                        time.sleep(0.05)
                d.sendall(b"x" * (self.SIZE - sent))
            except OSError:
                pass
            d.close()
            s.send("226 done")
        else:
            return super().command(s, verb, arg)
        return True


def start_on_pty(case, args):
    """Starts ftpc with args on a 100x24 pty, as a terminal shows it; returns the process and
    the pty's master side, both cleaned up with the test."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = case.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8", NO_COLOR="1")
    env.pop("COLUMNS", None)
    p = subprocess.Popen([FTPC_BIN] + args, cwd=case.tmp, stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=slave, env=env)
    os.close(slave)
    case.addCleanup(os.close, master)
    case.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait(10)))
    return p, master


class TestTotalWhileAFileStalls(FtpcCase):
    def test_the_total_has_no_eta_while_a_file_stalls(self):
        # the Total line gave the other transfers' ETA ("ETA 0:46") beside a file that had
        # had no byte for seconds, and might never have another
        srv = HeldFtp()
        srv.start()
        self.addCleanup(srv.stop)
        self.addCleanup(srv.release.set)
        url = "ftp://127.0.0.1:%d/" % srv.port
        p, master = start_on_pty(self, ["get", "-j", "2", url + "held.bin", url + "slow.bin"])
        # a frame with held.bin stalled and its Total line
        frame = re.compile(rb"held\.bin [^\n]* stalled[^\n]*\n"
                           rb"(?:[^\n]*\n)*?[^\n]*?(Total [^\n]*)\n")
        out = read_pty(master, 40, done=lambda d: frame.search(d))
        srv.release.set()
        m = frame.search(out)
        self.assertTrue(m, out[-3000:])
        total = m.group(1).decode("utf-8", "replace").rstrip("\r")
        # (slow.bin still runs: the ETA would be its own)
        self.assertRegex(total, r"^Total 0/2 +\d+% .* ETA --:--$", total)
        out += read_pty(master, 60, proc=p)
        self.assertEqual(p.wait(10), 0, out[-2000:])
        self.assertEqual(os.path.getsize(self.local("held.bin")), HeldFtp.SIZE)


class PausedFtp(ScriptedFtp):
    """Serves files of SIZE bytes at a steady pace (PACE bytes every 50 ms), with a pause:
    after PAUSE_AT bytes, nothing until resume is set; then the rest at the same pace."""

    SIZE = 3 * MiB
    PACE = 16 * 1024
    PAUSE_AT = 512 * 1024
    FEATURES = ("SIZE", "REST STREAM")

    def __init__(self):
        super().__init__(sessions=4, timeout=90)
        self.resume = threading.Event()

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % self.SIZE)
        elif verb == "RETR":
            s.send("150 here")
            d = s.accept_data()
            sent = 0
            try:
                while sent < self.SIZE:
                    if sent == self.PAUSE_AT:
                        self.resume.wait(60)
                    n = min(self.PACE, self.SIZE - sent)
                    d.sendall(b"p" * n)
                    sent += n
                    time.sleep(0.05)
            except OSError:
                pass
            d.close()
            s.send("226 done")
        else:
            return super().command(s, verb, arg)
        return True


class TestTotalRateAfterAStall(FtpcCase):
    def test_the_total_rate_is_what_the_lines_add_up_to(self):
        # After both files had stalled for longer than the rate's window, each line measured
        # its rate from the first bytes after the stall while the Total line still counted
        # the stall: "a.bin 1.07 MiB/s ETA 0:14" and "b.bin 1.03 MiB/s ETA 0:16" over
        # "Total 471 KiB/s ETA 1:07", for seconds.
        srv = PausedFtp()
        srv.start()
        self.addCleanup(srv.stop)
        self.addCleanup(srv.resume.set)
        url = "ftp://127.0.0.1:%d/" % srv.port
        p, master = start_on_pty(self, ["get", "-j", "2", "--no-verify", url + "a.bin",
                                        url + "b.bin"])
        # the two lines come in the order their transfers started, which either may win
        both_stalled = re.compile(rb"[ab]\.bin [^\n]* stalled[^\n]*\n[^\n]*[ab]\.bin [^\n]* stalled")
        out = read_pty(master, 40, done=lambda d: both_stalled.search(d))
        self.assertTrue(both_stalled.search(out), out[-3000:])
        srv.resume.set()
        after = read_pty(master, 60, proc=p)
        self.assertEqual(p.wait(10), 0, after[-2000:])
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", after.decode("utf-8", "replace"))
        rate = r"([\d.]+) (B|KiB|MiB)/s"
        frames = re.findall(r"[ab]\.bin +\d+%% [^\n]*? %s [^\n]*\n"
                            r"[ab]\.bin +\d+%% [^\n]*? %s [^\n]*\n"
                            r"Total [^\n]*? %s " % (rate, rate, rate), text)
        self.assertGreater(len(frames), 10, text[-3000:])
        for a, au, b, bu, t, tu in frames:
            lines = float(a) * UNIT[au] + float(b) * UNIT[bu]
            total = float(t) * UNIT[tu]
            self.assertGreaterEqual(total, 0.6 * lines, "\n".join(
                "%s %s + %s %s, Total %s %s" % f for f in frames))


class CutOnceFtp(PausedFtp):
    """Serves files of SIZE bytes at PausedFtp's pace, from REST's offset; the first RETR of
    "b.bin" stops at CUT_AT with a 426, so that ftpc --retry fetches the rest again."""

    SIZE = 4 * MiB
    CUT_AT = MiB

    def __init__(self):
        super().__init__()
        self.cut = False

    def command(self, s, verb, arg):
        if verb != "RETR":
            return super().command(s, verb, arg)
        s.send("150 here")
        d = s.accept_data()
        sent, s.rest = s.rest, 0
        try:
            while sent < self.SIZE:
                if arg == "b.bin" and sent >= self.CUT_AT and not self.cut:
                    self.cut = True
                    d.close()
                    s.send("426 cut")
                    return True
                n = min(self.PACE, self.SIZE - sent)
                d.sendall(b"p" * n)
                sent += n
                time.sleep(0.05)
        except OSError:
            pass
        d.close()
        s.send("226 done")
        return True


class TestRetriedLine(FtpcCase):
    def test_a_retried_line_waits_in_place_and_the_total_keeps_up(self):
        # A line cut and fetched again (--retry) went from the screen for the wait, its bytes
        # and the Total's percentage with it ("Total 0/2 -- [<=>] 1.06 MiB" after 2.00 MiB);
        # then its next attempt measured its rate afresh while the Total still counted the
        # wait: "a.bin 319 KiB/s" and "b.bin 321 KiB/s" over "Total 572 KiB/s" for seconds.
        srv = CutOnceFtp()
        srv.start()
        self.addCleanup(srv.stop)
        url = "ftp://127.0.0.1:%d/" % srv.port
        p, master = start_on_pty(self, ["--retry", "1", "--retry-delay", "3", "get", "-j", "2",
                                        "--no-verify", url + "a.bin", url + "b.bin"])
        out = read_pty(master, 90, proc=p)
        self.assertEqual(p.wait(10), 0, out[-2000:])
        self.assertEqual(os.path.getsize(self.local("b.bin")), CutOnceFtp.SIZE)
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", out.decode("utf-8", "replace"))
        self.assertIn("retrying in 3.0 s", text)
        # while it waits: its line, at the bytes it has, and the Total's with them
        waiting = re.findall(r"b\.bin +(\d+)% [^\n]* ([\d.]+ MiB) / 4\.00 MiB +retrying\n"
                             r"(?:[^\n]*\n)?Total 0/2 +(\d+)% ", text)
        self.assertGreater(len(waiting), 5, text[-3000:])
        for percent, size, total_percent in waiting:
            self.assertEqual((percent, size), ("25", "1.00 MiB"), waiting)
            self.assertGreaterEqual(int(total_percent), 25, waiting)
        # once it goes again: the Total is what the lines add up to
        after = text[text.index("retrying in 3.0 s"):]
        rate = r"([\d.]+) (B|KiB|MiB)/s"
        frames = re.findall(r"[ab]\.bin +\d+%% [^\n]*? %s [^\n]*\n"
                            r"[ab]\.bin +\d+%% [^\n]*? %s [^\n]*\n"
                            r"Total [^\n]*? %s " % (rate, rate, rate), after)
        self.assertGreater(len(frames), 10, after[-3000:])
        for a, au, b, bu, t, tu in frames:
            lines = float(a) * UNIT[au] + float(b) * UNIT[bu]
            total = float(t) * UNIT[tu]
            self.assertGreaterEqual(total, 0.85 * lines, "\n".join(
                "%s %s + %s %s, Total %s %s" % f for f in frames))
        # its summary counts both attempts, and so does the run's
        self.assertRegex(text, r"(?m)^b\.bin: 4\.00 MiB in [\d.]+ s \([^)]*\), 2 attempts$")
        self.assertRegex(text, r"(?m)^Total: 2 files, 8\.00 MiB in ")


class TestTwoRowTerminal(FtpcCase):
    server_kwargs = {"args": ["--max-rate", "512k"]}

    def test_no_frame_scrolls_into_the_history(self):
        # Four transfers on a terminal of two rows: each frame was "... and 4 more" and the
        # Total line, two lines with the cursor on a third row below them, so every frame
        # scrolled its first line into the history, a copy a tenth of a second.
        from test_liveview import Terminal
        names = ["t%d.bin" % i for i in range(4)]
        for n in names:
            self.srv.make_file(n, MiB)
        rc, out = self.on_terminal("get", "-j", "4", *[self.srv.url(n) for n in names],
                                   cols=60, rows=2, NO_COLOR="1")
        text = out.decode("utf-8", "replace")
        self.assertEqual(rc, 0, text[-2000:])
        self.assertGreater(text.count("Total 0/4"), 5, text[-2000:])
        term = Terminal(60, 2)
        term.feed(re.sub(r"\x1b\[\d*m", "", text))
        stale = [r for r in term.history + term.screen()
                 if re.match(r"(\.\.\. and|\+)\d* ?\d* more|Total +\d/4 |t\d\.bin +\d+%", r)]
        self.assertEqual(stale, [], "\n".join(term.history + term.screen()))

    def test_one_row_draws_no_live_line(self):
        # On a terminal of one row each frame's line sat above the cursor's row: every frame
        # scrolled a copy into the history, for one transfer as for several.
        from test_liveview import Terminal
        for count in (1, 3):
            names = ["r%d_%d.bin" % (count, i) for i in range(count)]
            for n in names:
                self.srv.make_file(n, MiB)
            rc, out = self.on_terminal("get", "-j", "3", *[self.srv.url(n) for n in names],
                                       cols=60, rows=1, NO_COLOR="1")
            text = out.decode("utf-8", "replace")
            self.assertEqual(rc, 0, text[-2000:])
            term = Terminal(60, 1)
            term.feed(re.sub(r"\x1b\[\d*m", "", text))
            rows = term.history + term.screen()
            live = [r for r in rows if re.search(r"\d+% |\.\.\. and|Total +\d+/\d+ ", r)]
            self.assertEqual(live, [], "\n".join(rows))
            for n in names:  # each file's summary line is still written
                self.assertTrue(any(r.startswith(n) for r in rows) or n in text,
                                "\n".join(rows))


if __name__ == "__main__":
    unittest.main()
