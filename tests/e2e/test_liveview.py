"""The server's live view (--progress): a block below the log with a line per running
transfer and a total line, drawn by the real binary while real transfers run. On by itself
when standard error is a terminal; never on a pipe unless asked for."""
import fcntl
import ftplib
import os
import pty
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import termios
import time
import unittest

from ftpd_harness import (FTPD_BIN, ServerTestCase, data_bytes, pasv_port, read_pty, recv_all,
                          recv_exactly, run_as_user, wait_for)

BIG = 64 << 20  # sparse: costs no disk
ERASE = "\r\x1b["


class TestLiveViewOn(ServerTestCase):
    server_kwargs = {"args": ["--progress", "on"]}

    def setUp(self):
        super().setUp()
        self.srv.make_sparse("big.bin", BIG)

    def test_download_line_moves_then_counts_as_done(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        code, text = c.cmd("RETR big.bin")
        self.assertEqual(code, 150, text)
        recv_exactly(ds, 1 << 20)
        # the client reads no more: the line stands at what it took, with its percent
        line = self.srv.wait_log(r"\[\d+\] alice RETR /big\.bin +(\d+)% (?:\[[=> ]+\] )? *"
                                 r"[\d.]+ [KM]iB/64\.0 MiB +[\d.]+ [KMG]?i?B/s ETA ", timeout=5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertLess(int(line.group(1)), 100)
        self.assertTrue(self.srv.wait_log(r"ftpd: 1 session, 1 transfer \(in 0 B/s, out "
                                          r"[^)]*\), 0 done", timeout=5))
        recv_all(ds)
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)
        # the log line comes above the block: drawn over the block's first row, the rest of
        # its row cleared, then the block again
        ok = self.srv.wait_log(r"\r(?:\x1b\[\d+A)?[^\x1b]*RETR /big\.bin ok[^\x1b]*\x1b\[K$",
                               timeout=5)
        self.assertTrue(ok, self.srv.log_text()[-3000:])
        # The block's last line ends in no newline: the next log line (NOOP's, at debug level)
        # lets the line reader see the frame the next tick drew.
        time.sleep(0.6)
        c.cmd("NOOP")
        self.assertTrue(self.srv.wait_log(r"ftpd: 1 session, 0 transfers \(in 0 B/s, out 0 B/s\),"
                                          r" 1 done", timeout=5), self.srv.log_text()[-3000:])

    def test_an_aborted_transfer_counts_as_aborted_not_done_nor_failed(self):
        # The client's ABOR is its own choice (each range of ftpc --segments ends so once its
        # bytes are in): counted and logged as a failure, a segmented download of four
        # ranges read "1 done, 3 failed" and three "failed" log lines.
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.assertEqual(c.cmd("RETR big.bin")[0], 150)
        recv_exactly(ds, 1 << 20)
        self.assertEqual(c.cmd("ABOR")[0], 426)
        self.assertEqual(c.reply(timeout=10)[0], 226)
        ds.close()
        self.assertTrue(self.srv.wait_log(r"RETR /big\.bin aborted by the client \(ABOR\): \d+ "
                                          r"bytes in [\d.]+ s \(", timeout=5),
                        self.srv.log_text()[-3000:])
        time.sleep(0.6)  # a frame drawn after the end; NOOP's log line shows it (see above)
        c.cmd("NOOP")
        self.assertTrue(self.srv.wait_log(r"ftpd: 1 session, 0 transfers \(in 0 B/s, out 0 B/s\),"
                                          r" 0 done, 1 aborted(?!, )", timeout=5),
                        self.srv.log_text()[-3000:])
        # a transfer cut short otherwise (its session gone) is still a failure
        c2 = self.srv.control()
        c2.login()
        c2.cmd("TYPE I")
        ds2 = c2.pasv()
        ds2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.assertEqual(c2.cmd("RETR big.bin")[0], 150)
        recv_exactly(ds2, 1 << 20)
        c2.sock.close()
        self.assertTrue(self.srv.wait_log(r"RETR /big\.bin failed: \d+ bytes .*: the session ended",
                                          timeout=10), self.srv.log_text()[-3000:])
        ds2.close()
        time.sleep(0.6)
        c.cmd("NOOP")
        self.assertTrue(self.srv.wait_log(r"ftpd: 1 session, 0 transfers \(in 0 B/s, out 0 B/s\),"
                                          r" 0 done, 1 aborted, 1 failed", timeout=5),
                        self.srv.log_text()[-3000:])

    def test_a_download_its_client_stopped_reading_says_stalled(self):
        # A client that reads no more: its line showed "0 B/s ETA --:--", as a transfer only
        # just begun did too; ftpc's bars say "stalled", and so does the view now.
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.assertEqual(c.cmd("RETR big.bin")[0], 150)
        recv_exactly(ds, 1 << 20)
        line = self.srv.wait_log(r"\[\d+\] alice RETR /big\.bin +\d+% .* stalled ETA --:--",
                                 timeout=20)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertNotIn("B/s", line.group(0))
        ds.close()
        c.close()

    def test_transfer_waiting_for_its_data_connection_is_not_done(self):
        # RETR came and its data connection has not (a client that connects after the
        # command, a firewall in the way): nothing has moved and the size to move is not set
        # yet, and the line read "100% [=========] 0 B/0 B 0 B/s ETA 0:00", a transfer done
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227, text)
        c.send("RETR big.bin\r\n")
        line = self.srv.wait_log(r"\[\d+\] alice RETR /big\.bin .*connecting", timeout=5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertNotRegex(line.group(0), r"%|ETA|=")
        ds = socket.create_connection((self.srv.host, pasv_port(text)), timeout=10)
        self.assertEqual(c.reply(timeout=10)[0], 150)
        recv_exactly(ds, 1 << 20)
        # once it has its data connection, the line has its percent
        self.assertTrue(self.srv.wait_log(r"\[\d+\] alice RETR /big\.bin +\d+% ", timeout=5),
                        self.srv.log_text()[-3000:])
        ds.close()
        self.assertIn(c.reply(timeout=10)[0], (226, 426))
        shown = [l for l in self.srv.logs() if "alice RETR /big.bin" in l and " ok" not in l]
        self.assertFalse([l for l in shown if "100%" in l], shown)

    def test_rate_of_a_bursty_reader_reads_steadily(self):
        # A client that takes 1 MiB at a time, then nothing for a second: the rate shown was
        # the average of each frame's bytes over its quarter second, and swung with every
        # burst (0.3 to 2.1 times the real rate, the ETA with it). Over the last seconds it
        # stays near what the client takes.
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227, text)
        ds = socket.socket()
        # a small window from the start: the server's bytes follow the client's reads
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        ds.settimeout(10)
        ds.connect((self.srv.host, pasv_port(text)))
        self.assertEqual(c.cmd("RETR big.bin")[0], 150)
        rate = re.compile(r"\[\d+\] alice RETR /big\.bin +\d+% .* ([\d.]+) (B|KiB|MiB|GiB)/s ETA")
        unit = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
        got, t0, mark, shown = 0, time.monotonic(), None, []
        while time.monotonic() - t0 < 10:
            got += len(recv_exactly(ds, 1 << 20))
            time.sleep(1.0)
            if mark is None and time.monotonic() - t0 >= 6.0:
                # from here on the rate's window holds only bursts, not the start, when the
                # server's socket took megabytes at once
                mark = (len(self.srv.logs()), got, time.monotonic())
        got_end, t_end = got, time.monotonic()
        for line in self.srv.logs()[mark[0]:]:
            m = rate.search(line)
            if m:
                shown.append(float(m.group(1)) * unit[m.group(2)])
        ds.close()
        self.assertIn(c.reply(timeout=10)[0], (226, 426))
        real = (got_end - mark[1]) / (t_end - mark[2])
        self.assertGreaterEqual(len(shown), 4, self.srv.log_text()[-3000:])
        low, high = min(shown) / real, max(shown) / real
        self.assertGreater(low, 0.5, (real, shown))
        self.assertLess(high, 2.0, (real, shown))

    def test_resumed_download_shows_its_place_in_the_file(self):
        # REST 48 MiB of a 64 MiB file: the line read "0% 1.00 MiB/16.0 MiB", a transfer
        # barely begun and a file a quarter of its size, while the client's bar said 76%
        # of 64 MiB
        c, ds, _ = self.begin_transfer("RETR big.bin", rest=48 << 20)
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        recv_exactly(ds, 1 << 20)
        line = self.srv.wait_log(r"\[\d+\] alice RETR /big\.bin +(\d+)%.*? "
                                 r"([\d.]+) MiB/([\d.]+) MiB ", timeout=5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertEqual(line.group(3), "64.0", line.group(0))
        self.assertGreaterEqual(int(line.group(1)), 75, line.group(0))
        self.assertGreaterEqual(float(line.group(2)), 48.0, line.group(0))
        ds.close()
        c.reply(timeout=10)

    def test_upload_line_has_bytes_but_no_percent(self):
        c, ds, _ = self.begin_transfer("STOR up.bin")
        data = data_bytes(3 << 20, seed=5)
        ds.sendall(data)
        line = self.srv.wait_log(r"\[\d+\] alice STOR /up\.bin +-- +3\.00 MiB ", timeout=5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertNotIn("%", line.string[line.start():])
        self.assertTrue(self.srv.wait_log(r"ftpd: 1 session, 1 transfer \(in ", timeout=5))
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)
        self.assertEqual(self.srv.read("up.bin"), data)
        self.srv.stop()
        self.assertIn("served 1 transfer: 3145728 bytes in, 0 bytes out", self.srv.log_text())

    def test_hostile_names_cannot_reach_the_terminal(self):
        c, ds, _ = self.begin_transfer("STOR evil\x1b[2Jname.bin")
        ds.sendall(b"x" * 100000)
        line = self.srv.wait_log(r"alice STOR /evil\?\[2Jname\.bin ", timeout=5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertNotIn("\x1b[2J", self.srv.log_text())
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)

    def test_view_is_gone_after_shutdown(self):
        self.srv.stop()
        text = self.srv.log_text()
        self.assertIn("ftpd: 0 sessions, 0 transfers", text)
        # the last thing written takes the block away; the final log line follows alone
        tail = text[text.rindex(ERASE):]
        self.assertIn("served 0 transfers", tail)
        self.assertNotIn("ftpd: 0 sessions", tail)


class TestLiveViewAuto(ServerTestCase):
    def test_no_view_on_a_pipe(self):
        self.srv.make_file("a.bin", 200000)
        f = self.srv.ftp()
        f.retrbinary("RETR a.bin", lambda b: None)
        f.quit()
        self.assertTrue(self.srv.wait_log(r"RETR /a\.bin ok", timeout=5))
        self.assertNotIn("\x1b", self.srv.log_text())
        self.assertNotIn("ftpd: 1 session", self.srv.log_text())

    def test_bad_mode_is_refused(self):
        r = subprocess.run([FTPD_BIN, "--progress", "sometimes"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("progress: expected auto, on or off, got 'sometimes'", r.stderr)


def stalled_download(port, socks, name="big.bin"):
    """Starts a RETR of name and reads none of it; its sockets go to socks, to close."""
    f = ftplib.FTP()
    f.connect("127.0.0.1", port, timeout=10)
    socks.append(f)
    f.login()
    f.voidcmd("TYPE I")
    socks.append(f.transfercmd("RETR " + name))


def stop_pty_server(proc, master, socks):
    """Closes the test's sockets (None stands for one not opened), stops ftpd and returns its
    last output."""
    for s in socks:
        if s is not None:
            s.close()
    proc.terminate()
    proc.wait(10)
    out = read_pty(master, 5)
    os.close(master)
    return out


class Terminal:
    """The little of a terminal the view needs, as tmux behaves (and, for the rewrap, VTE,
    Konsole, kitty): rows that autowrap at the width and remember it, so that a narrower
    window rewraps each line whole, the cursor keeping its place in the text; a shorter one
    drops empty rows below the cursor, then moves rows from the top into the history; and
    "clear to the end of the screen" from the top-left corner keeps a copy of the screen in
    the history (tmux's scroll-on-clear)."""

    def __init__(self, cols, height):
        self.cols, self.height = cols, height
        self.rows = [["", False]]  # the screen: [text, continues on the next row]
        self.history = []
        self.y = self.x = 0
        self.pending = False  # the last column was written: the next character wraps

    def _down(self):
        self.y += 1
        if self.y == len(self.rows):
            self.rows.append(["", False])
            if len(self.rows) > self.height:
                self.history.append(self.rows.pop(0)[0])
                self.y -= 1

    def resize(self, cols, height):
        lines, at = [], None  # whole lines; the cursor's (line, offset)
        for i, (text, wrapped) in enumerate(self.rows):
            if i == 0 or not self.rows[i - 1][1]:
                lines.append("")
            if i == self.y:
                at = (len(lines) - 1, len(lines[-1]) + self.x + (1 if self.pending else 0))
            lines[-1] += text.ljust(self.cols) if wrapped else text
        self.cols, self.height, self.rows = cols, height, []
        for n, line in enumerate(lines):
            chunks = [line[i:i + cols] for i in range(0, len(line), cols)] or [""]
            for k, chunk in enumerate(chunks):
                if n == at[0] and (at[1] // cols == k or (k == len(chunks) - 1 and
                                                         at[1] // cols > k)):
                    self.y = len(self.rows)
                    self.x = min(at[1] - k * cols, cols - 1)
                    self.pending = at[1] - k * cols == cols
                self.rows.append([chunk, k < len(chunks) - 1])
        while len(self.rows) > height and self.y < len(self.rows) - 1 and \
                not self.rows[-1][0].strip():
            self.rows.pop()
        while len(self.rows) > height:
            self.history.append(self.rows.pop(0)[0])
            self.y -= 1

    def feed(self, text):
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[(\d*)([A-Za-z])", text[i:])
                assert m, repr(text[i:i + 10])
                i += m.end()
                if m.group(2) == "A":
                    self.y = max(0, self.y - int(m.group(1) or 1))
                    self.pending = False
                elif m.group(2) in "JK":
                    if m.group(2) == "J" and self.y == 0 and self.x == 0:
                        self.history += [r[0] for r in self.rows if r[0].strip()]
                    self.rows[self.y] = [self.rows[self.y][0][:self.x], False]
                    if m.group(2) == "J":
                        del self.rows[self.y + 1:]
                continue
            if ch == "\r":
                self.x, self.pending = 0, False
            elif ch == "\t":  # to the next stop, writing nothing, never past the margin
                self.x = min((self.x // 8 + 1) * 8, self.cols - 1)
                self.pending = False
            elif ch == "\n":
                self._down()
                self.pending = False
            else:
                if self.pending:
                    self.rows[self.y][1] = True
                    self._down()
                    self.x, self.pending = 0, False
                row = self.rows[self.y][0].ljust(self.x)
                self.rows[self.y][0] = row[:self.x] + ch + row[self.x + 1:]
                if self.x == self.cols - 1:
                    self.pending = True
                else:
                    self.x += 1
            i += 1

    def screen(self):
        return [text for text, _ in self.rows]


class TestLiveViewTerminal(unittest.TestCase):
    """Default settings with standard error on a pseudo-terminal: the view draws itself, in
    the terminal's width."""

    def test_view_on_a_terminal(self):
        master, slave = pty.openpty()
        # 50 columns: every line the view draws must fit in 49
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 50, 0, 0))
        root = os.path.dirname(os.path.abspath(__file__))
        users = tempfile.NamedTemporaryFile("w", prefix="ftpd-e2e-users-", delete=False)
        users.close()
        os.chmod(users.name, 0o644)
        self.addCleanup(os.unlink, users.name)
        cmd = [FTPD_BIN, "--listen", "127.0.0.1:0", "--no-anonymous", "--users", users.name]
        if run_as_user():
            cmd += ["--user", run_as_user()]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                cwd=root)
        os.close(slave)
        s = None
        out = b""
        try:
            out = read_pty(master, 10, done=lambda d: b"listening on" in d)
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", out)
            self.assertTrue(m, out[-2000:])
            s = socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=5)
            out += read_pty(master, 10, done=lambda d: b"ftpd: 1 session, 0 transfers" in d)
            self.assertIn(b"ftpd: 1 session, 0 transfers", out, out[-2000:])
        finally:
            out += stop_pty_server(proc, master, [s])
        text = out.decode("utf-8", "replace")
        for frame_line in re.findall(r"ftpd: \d+ sessions?[^\r\n\x1b]*", text):
            self.assertLessEqual(len(frame_line), 49, frame_line)
        self.assertEqual(proc.returncode, 0, text[-2000:])

    def test_a_narrow_terminal_shows_fields_whole(self):
        # 32 columns leave "[1] anonymous RETR " room for its percent but not for its rate:
        # the rate goes whole, never cut to a number that misreads ("0" of "0 B/s")
        proc, master, out, port = self.serve_big_file_on_pty(cols=32)
        socks = []
        try:
            stalled_download(port, socks)  # the line stays up
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR +\d+%", d))
            out += read_pty(master, 1)  # a few more frames, the rate falling to 0 B/s
        finally:
            out += stop_pty_server(proc, master, socks)
        text = out.decode("utf-8", "replace")
        lines = re.findall(r"\[1\] anonymous RETR[^\r\n\x1b]*", text)
        self.assertTrue(lines, text[-2000:])
        for line in lines:
            self.assertLessEqual(len(line), 31, line)
            self.assertRegex(line.rstrip(), r"RETR( +\d+%)?$")
        self.assertEqual(proc.returncode, 0, text[-2000:])

    def serve_big_file_on_pty(self, cols=80, big_name="big.bin", extra=None):
        """ftpd serving big_name (and the files of extra, name: bytes) anonymously, its
        output on a pty of 30 rows, once it listens: (process, pty master, output so far,
        port)."""
        pub = tempfile.mkdtemp(prefix="ftpd-e2e-pub-")
        self.addCleanup(shutil.rmtree, pub, True)
        os.chmod(pub, 0o755)
        with open(os.path.join(pub, big_name), "wb") as fh:
            fh.truncate(BIG)
        os.chmod(os.path.join(pub, big_name), 0o644)
        for name, data in (extra or {}).items():
            with open(os.path.join(pub, name), "wb") as fh:
                fh.write(data)
            os.chmod(os.path.join(pub, name), 0o644)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, cols, 0, 0))
        cmd = [FTPD_BIN, "--listen", "127.0.0.1:0", "--anonymous", pub]
        if run_as_user():
            cmd += ["--user", run_as_user()]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                cwd=pub)
        os.close(slave)
        out = read_pty(master, 10, done=lambda d: b"listening on" in d)
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", out)
        if not m:
            stop_pty_server(proc, master, [])
        self.assertTrue(m, out[-2000:])
        return proc, master, out, int(m.group(1))

    def test_a_log_line_with_a_tab_leaves_nothing_of_the_block_in_its_gap(self):
        # A tab moves the cursor without writing: the cells it skips would keep what the
        # block had drawn there, here the B's of a stalled download's name.
        proc, master, out, port = self.serve_big_file_on_pty(
            big_name="B" * 70, extra={"tab\there.txt": b"tabbed"})
        term = Terminal(80, 30)
        socks = []
        try:
            stalled_download(port, socks, name="B" * 70)
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR \S*B{10}.*\n?.*ftpd: 1 "
                                                                 rb"session, 1 transfer", d))
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=10)
            socks.append(f)
            f.login()
            got = []
            f.retrbinary("RETR tab\there.txt", got.append)
            self.assertEqual(b"".join(got), b"tabbed")
            # (the tab as ftpd wrote it: itself, or the spaces it moves over)
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR /tab\s+here\.txt ok", d))
            term.feed(out.decode())
            rows = [r for r in term.history + term.screen() if "RETR /tab" in r]
            self.assertEqual(len(rows), 1, "\n".join(term.history + term.screen()))
            self.assertRegex(rows[0], r"anonymous: RETR /tab +here\.txt")
            self.assertNotIn("B", rows[0])
        finally:
            stop_pty_server(proc, master, socks)
        self.assertEqual(proc.returncode, 0)

    def test_a_narrower_window_leaves_no_old_lines(self):
        # The block is drawn 80 columns wide, then the window narrows to 40: the terminal
        # rewraps the old lines onto twice the rows, and the next frame must take all of
        # them away, not only as many rows as the block had lines.
        proc, master, out, port = self.serve_big_file_on_pty()
        term = Terminal(80, 30)
        socks = []
        try:
            stalled_download(port, socks)  # the line stays up
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR .{40}.*\n?.*ftpd: 1 "
                                                                 rb"session, 1 transfer \(in", d))
            term.feed(out.decode())
            wide = [row for row in term.screen() if "anonymous RETR" in row]
            self.assertEqual(len(wide), 1, "\n".join(term.screen()))
            self.assertGreater(len(wide[0].rstrip()), 60, wide)

            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 40, 0, 0))
            term.resize(40, 30)
            # the first frame drawn 40 wide: its total line has no room for the rates
            out = read_pty(master, 10, done=lambda d: re.search(rb"ftpd: 1 session, 1 "
                                                                rb"transfer(?! \()", d))
            term.feed(out.decode())
            screen = term.screen()
            self.assertEqual(len([r for r in screen if "anonymous RETR" in r]), 1,
                             "\n".join(screen))
            self.assertEqual(len([r for r in screen if "session" in r]), 1, "\n".join(screen))
            self.assertRegex(screen[-1], r"^ftpd: 1 session, 1 transfer")
        finally:
            stop_pty_server(proc, master, socks)
        self.assertEqual(proc.returncode, 0)

    def test_the_block_after_a_stop_leaves_the_shells_lines(self):
        # Ctrl-Z, then fg: the job-control shell wrote below the block meanwhile ("[1]+
        # Stopped", the prompt, the command it continued); the next log line and frame went
        # up over the rows the block had, wiping the shell's lines.
        import signal
        proc, master, out, port = self.serve_big_file_on_pty()
        socks = []
        try:
            stalled_download(port, socks)  # the line stays up
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR .*\n?.*ftpd: 1 "
                                                                 rb"session, 1 transfer \(in", d))
            os.kill(proc.pid, signal.SIGSTOP)

            def stopped():
                with open("/proc/%d/stat" % proc.pid) as fh:
                    return fh.read().rsplit(")", 1)[1].split()[0] == "T"
            self.assertTrue(wait_for(stopped, timeout=10))
            tty = os.open("/proc/%d/fd/2" % proc.pid, os.O_WRONLY | os.O_NOCTTY)
            try:  # the block ends on its last line: "^Z" lands after it
                os.write(tty, b"^Z\n[1]+  Stopped    ftpd\n$ fg\nftpd --anonymous\n")
            finally:
                os.close(tty)
            os.kill(proc.pid, signal.SIGCONT)
            # a log line (the second session's) and a frame with it
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=10)
            socks.append(f)
            f.login()
            out += read_pty(master, 10, done=lambda d: re.search(
                rb"ftpd --anonymous\r?\n[^\x00]*ftpd: 2 sessions, 1 transfer \(in", d))
            seen = out  # the screen then, before the server's stop takes the block away
        finally:
            stop_pty_server(proc, master, socks)
        term = Terminal(80, 30)
        term.feed(seen.decode())
        screen = [r for r in term.history + term.screen() if r.strip()]
        text = "\n".join(screen)
        self.assertIn("$ fg", screen, text)
        self.assertIn("ftpd --anonymous", screen, text)
        fg = screen.index("ftpd --anonymous")
        self.assertLess(screen.index("$ fg"), fg, text)
        self.assertTrue(any("ftpd: 2 sessions" in r for r in screen[fg + 1:]), text)
        self.assertEqual(proc.returncode, 0)

    def test_a_continue_with_nothing_written_meanwhile_garbles_no_row(self):
        # A stop and continue by another program (kill -STOP, kill -CONT; a supervisor),
        # with no shell to write below the block: the cursor was still at the end of the
        # block's last line, and the next frame began there, its first line in the same row
        # as the old total ("... 0 done2026-12-08T00:15:22.462Z INFO [2] ...").
        import signal
        proc, master, out, port = self.serve_big_file_on_pty()
        socks = []
        try:
            stalled_download(port, socks)  # the line stays up
            out += read_pty(master, 10, done=lambda d: re.search(rb"RETR .*\n?.*ftpd: 1 "
                                                                 rb"session, 1 transfer \(in", d))
            os.kill(proc.pid, signal.SIGCONT)
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=10)
            socks.append(f)
            f.login()
            out += read_pty(master, 10, done=lambda d: re.search(
                rb"ftpd: 2 sessions, 1 transfer \(in", d))
            seen = out
        finally:
            stop_pty_server(proc, master, socks)
        term = Terminal(80, 30)
        term.feed(seen.decode())
        screen = [r for r in term.history + term.screen() if r.strip()]
        text = "\n".join(screen)
        self.assertTrue(any(r.startswith("ftpd: 2 sessions") for r in screen), text)
        # (nothing after a total line in its row: neither a log line nor a transfer's)
        self.assertEqual([r for r in screen if re.search(r"ftpd: \d+ sessions?, .*(\d{4}-\d\d-"
                                                         r"\d\dT|\[\d+\] \S+ RETR )", r)],
                         [], text)

    def test_a_shorter_window_keeps_no_copies_of_the_block(self):
        # Eight transfers make a block of nine lines; the window then gets 8 rows, so the
        # block is cut to four transfers and sits at the top of the screen. Clearing from
        # there (tmux keeps the screen it clears in the history) would leave a copy of the
        # block in the history at every frame.
        proc, master, out, port = self.serve_big_file_on_pty()
        term = Terminal(80, 30)
        socks = []
        try:
            for _ in range(8):
                stalled_download(port, socks)
            out += read_pty(master, 10, done=lambda d: re.search(rb"\[8\] anonymous RETR[^\n]*\n"
                                                                 rb"ftpd: 8 sessions", d))
            term.feed(out.decode())

            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 8, 80, 0, 0))
            term.resize(80, 8)
            # frames drawn 8 rows high, the rates still falling
            out = read_pty(master, 10, done=lambda d: d.count(b"; 4 shown") >= 4)
            term.feed(out.decode())
            self.assertGreaterEqual(out.count(b"; 4 shown"), 4)
            text = "\n".join(term.history + term.screen())
            self.assertEqual(len(re.findall(r"ftpd: 8 sessions", text)), 1, text)
            self.assertRegex(term.screen()[-1], r"^ftpd: 8 sessions, 8 transfers .*; 4 shown")
            self.assertLessEqual(len(term.screen()), 8)
        finally:
            stop_pty_server(proc, master, socks)
        self.assertEqual(proc.returncode, 0)


class TestReadPty(unittest.TestCase):
    """The tests' pty reader (read_pty) against a process that writes after a quiet spell
    and exits at once: a reader the machine runs late must still get those lines."""

    def test_lines_written_just_before_exit_are_read(self):
        import select
        real = select.select

        def late(r, w, x, timeout=None):
            got = real(r, w, x, timeout)
            if not got[0] and timeout:
                # the reader descheduled between a quiet select and its look at the process:
                # meanwhile the process writes its last line and exits
                time.sleep(0.5)
            return got
        master, slave = pty.openpty()
        p = subprocess.Popen(["sh", "-c", "sleep 0.3; printf 'the last line\\n'"],
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        select.select = late
        try:
            out = read_pty(master, 10, proc=p)
        finally:
            select.select = real
            os.close(master)
            p.wait(10)
        self.assertEqual(out, b"the last line\r\n")


if __name__ == "__main__":
    unittest.main()
