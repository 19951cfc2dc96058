"""End-to-end tests of a download to standard output whose reader does not keep up (a pager
not scrolled, `| (sleep 5; cat)`): ftpc waits for the output through its event loop, so its
progress lines, its timers and an interrupt go on while the pipe, socket or terminal is full,
and it leaves standard output's shared file description as it found it (no O_NONBLOCK).

Each test fills standard output until it holds as much as it can take, then watches what
ftpc does meanwhile, then reads everything and compares it with the file.
"""
import fcntl
import os
import pty
import re
import select
import signal
import socket
import subprocess
import termios
import time

from ftpd_harness import data_bytes, fill_pipe, run_as_user, wait_for
from test_ftpc import FTPC_BIN, MiB, FtpcCase

SIZE = 24 * MiB + 5
PLAIN_LINE = re.compile(rb"^\S.* \d+%", re.M)


def queued(fd):
    """Bytes waiting to be read in a pipe, socket or terminal."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


def read_all(fd, proc, limit, timeout=120):
    """Everything fd delivers until its end (or proc exited and nothing is left, for a
    terminal's master side), at most timeout seconds."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(data) <= limit:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            if proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
                break
            continue
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError:  # EIO: a terminal's other side is closed
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


class StdoutStallCase(FtpcCase):
    def start(self, out, *args, size=SIZE, data=None, command=None, **kw):
        """ftpc get -o - (or command, e.g. cat) of a large file into out (a descriptor),
        standard error a pipe."""
        self.data = data if data is not None else data_bytes(size, 77)
        self.srv.write("big.bin", self.data)
        kw.setdefault("cwd", self.tmp)
        verb = [command] if command else ["get", "-o", "-"]
        p = subprocess.Popen([FTPC_BIN, *args, *verb, self.srv.url("big.bin")],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                             env=self.env(), **kw)
        self.reap_later(p)
        return p

    def reap_later(self, p):
        """Kills p at the test's end if it still runs, and closes its stderr pipe."""
        def reap():
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
            p.stderr.close()
        self.addCleanup(reap)

    def wait_full(self, p, rd):
        """Until the reader's side holds what it can and stops growing (ftpc is waiting)."""
        last = [-1]

        def settled():
            n = queued(rd)
            same = n == last[0] and n > 0
            last[0] = n
            return same or p.poll() is not None
        self.assertTrue(wait_for(settled, timeout=60, interval=0.5), "standard output never filled")
        self.assertIsNone(p.poll(), "ftpc ended before the reader read")

    def interrupt_while_full(self, p, rd, rc=7):
        """SIGINT once ftpc's output is full must end it, with status rc (None: any but 0)."""
        self.wait_full(p, rd)
        p.send_signal(signal.SIGINT)
        try:
            got = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("SIGINT was not honoured while standard output was full")
        err = p.stderr.read().decode("utf-8", "replace")
        self.check_output(type("R", (), {"stderr": err})())
        if rc is None:
            self.assertNotEqual(got, 0, err)
        else:
            self.assertEqual(got, rc, err)
        self.assertIn("interrupted", err)


class TestStdoutStall(StdoutStallCase):
    def pipe(self):
        rd, wr = os.pipe()
        self.addCleanup(os.close, rd)
        return rd, wr

    def test_interrupt_is_honoured_while_a_pipe_is_full(self):
        rd, wr = self.pipe()
        p = self.start(wr)
        self.interrupt_while_full(p, rd)
        # What came out is the file's beginning, nothing else.
        os.close(wr)
        got = read_all(rd, p, SIZE)
        self.assertEqual(got, self.data[:len(got)])
        self.assertLess(len(got), SIZE)

    def test_interrupt_is_honoured_while_a_socket_is_full(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        with b:
            p = self.start(b.fileno())
        self.interrupt_while_full(p, a.fileno())

    def test_interrupt_is_honoured_while_a_terminal_is_full(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # raw output: bytes compared as they are
        attrs[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        p = self.start(slave)
        os.close(slave)
        self.interrupt_while_full(p, master)

    def test_interrupt_is_honoured_while_a_blocking_write_waits(self):
        # Another user's pipe cannot be opened again through /proc (its mode is 0600): ftpc
        # writes fd 1 itself, blocking, as sudo -u someone ftpc ... | less would. The
        # signal still ends it.
        if os.geteuid() != 0:
            self.skipTest("needs root to run ftpc as another user")
        rd, wr = self.pipe()
        p = self.start(wr, user=run_as_user() or "nobody", cwd="/")
        os.close(wr)
        self.interrupt_while_full(p, rd)

    def test_the_shells_cat_is_interrupted_while_a_blocking_write_waits(self):
        # The same in the shell: its cat runs in a worker thread, which takes no signal; the
        # interrupt comes to the shell's thread, which must end the worker's blocked write.
        if os.geteuid() != 0:
            self.skipTest("needs root to run ftpc as another user")
        self.data = data_bytes(SIZE, 77)
        self.srv.write("big.bin", self.data)
        rd, wr = self.pipe()
        p = subprocess.Popen([FTPC_BIN, self.srv.url()], stdin=subprocess.PIPE, stdout=wr,
                             stderr=subprocess.PIPE, env=self.env(), cwd="/",
                             user=run_as_user() or "nobody")
        self.reap_later(p)
        os.close(wr)
        p.stdin.write(b"cat big.bin\n")
        p.stdin.close()
        self.interrupt_while_full(p, rd, rc=None)

    def test_interrupt_is_honoured_while_standard_error_is_full(self):
        # 2>&1 | a pager not scrolled: the progress lines wait for the reader (the run waits
        # with them), but an interrupt still ends the wait.
        if os.uname().machine != "x86_64":
            self.skipTest("reads /proc/PID/syscall by x86-64's numbers")
        self.srv.write("big.bin", data_bytes(SIZE, 77))
        rd, wr = self.pipe()
        fill_pipe(wr)
        p = subprocess.Popen([FTPC_BIN, "--progress", "plain", "--limit-rate", "4M", "get", "-o",
                              os.path.join(self.tmp, "big.bin"), self.srv.url("big.bin")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=wr,
                             env=self.env(), cwd=self.tmp)
        os.close(wr)
        self.addCleanup(lambda: p.poll() is None and p.kill())

        def writing_fd2():  # x86-64: write(2) is system call 1
            try:
                with open("/proc/%d/syscall" % p.pid) as f:
                    return f.read().split()[:2] == ["1", "0x2"]
            except OSError:
                return False
        self.assertTrue(wait_for(writing_fd2, timeout=20, interval=0.05),
                        "ftpc never waited to write its progress")
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("SIGINT was not honoured while standard error was full")
        self.assertEqual(rc, 7)

    def progress_lines_while_full(self, p, rd, want):
        """Waits for want plain progress lines written after standard output filled."""
        self.wait_full(p, rd)
        os.set_blocking(p.stderr.fileno(), False)
        seen = b""

        def more():
            nonlocal seen
            try:
                seen += os.read(p.stderr.fileno(), 65536)
            except BlockingIOError:
                pass
            return len(PLAIN_LINE.findall(seen)) >= want or p.poll() is not None
        wait_for(more, timeout=60, interval=0.2)
        return seen

    def test_progress_goes_on_while_the_reader_stalls(self):
        rd, wr = self.pipe()
        p = self.start(wr, "--progress", "plain")
        os.close(wr)
        seen = self.progress_lines_while_full(p, rd, 3)
        self.assertGreaterEqual(len(PLAIN_LINE.findall(seen)), 3,
                                "no progress while standard output was full: %r" % seen)
        self.assertIsNone(p.poll())
        got = read_all(rd, p, SIZE)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertEqual(got, self.data)

    def test_a_slow_reader_is_no_timeout(self):
        # The reader stalls for longer than --timeout: neither the control connection's
        # inactivity timeout nor the data connection's fires, the server is not the slow one.
        self.slow_reader(SIZE)

    def test_a_slow_reader_after_the_final_reply_is_no_timeout(self):
        # All of a small file is in ftpc's queue and the sockets' buffers: the server has
        # sent its 226, and the data connection is silent because ftpc does not read it.
        self.slow_reader(300 * 1024)

    def test_mode_z_inflates_no_further_than_the_reader_takes(self):
        # Each read of compressed bytes inflates into many times more: what the reader has
        # not taken waits, and the rest of the read with it, until it has.
        data = b"the same line, again and again\n" * (SIZE // 31)
        self.slow_reader(SIZE, "-z", data=data)

    def slow_reader(self, size, *args, data=None):
        rd, wr = self.pipe()
        p = self.start(wr, "--timeout", "2", "--progress", "plain", *args, size=size, data=data)
        os.close(wr)
        self.progress_lines_while_full(p, rd, 5)  # about 5 s, over twice the timeout
        got = read_all(rd, p, SIZE)
        rc = p.wait(timeout=60)
        err = p.stderr.read().decode("utf-8", "replace")
        self.assertEqual(rc, 0, err)
        self.assertEqual(got, self.data)

    def test_standard_output_is_left_blocking(self):
        # The description is the test's own write end too: O_NONBLOCK on it would be ours.
        rd, wr = self.pipe()
        p = self.start(wr)
        self.wait_full(p, rd)
        self.assertFalse(fcntl.fcntl(wr, fcntl.F_GETFL) & os.O_NONBLOCK)
        got = read_all(rd, p, SIZE)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertFalse(fcntl.fcntl(wr, fcntl.F_GETFL) & os.O_NONBLOCK)
        os.close(wr)
        self.assertEqual(got, self.data)

    def test_a_regular_file_as_output_takes_the_whole_file(self):
        path = os.path.join(self.tmp, "out.bin")
        with open(path, "wb") as f:
            p = self.start(f.fileno())
        self.assertEqual(p.wait(timeout=60), 0)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.data)


class TestStdoutStallServerHangsUp(StdoutStallCase):
    # The server's idle timeout runs while ftpc waits for its reader after the 226 (a file
    # small enough for the pipe and the sockets' first buffers to take what ftpc has not read:
    # the server is done, 226 sent, and idle).
    server_kwargs = {"args": ["--idle-timeout", "2"]}

    def test_a_server_hanging_up_after_its_226_loses_nothing(self):
        self.hang_up_after_226()

    def test_cat_whose_server_hung_up_after_its_226_loses_nothing(self):
        self.hang_up_after_226("cat")

    def test_a_listing_whose_server_hung_up_after_its_226_loses_nothing(self):
        # ls DIR/ | a reader paused past the server's idle timeout: about 110 KB of names,
        # more than the pipe holds, all of it sent and the 226 with it.
        got = self.list_past_hang_up("d/")
        self.assertEqual(sorted(got.splitlines()), self.names)

    def test_a_listing_from_inside_whose_server_hung_up_loses_nothing(self):
        # ls -l of a path with a space is listed from inside it (CWD, LIST, CWD back): with
        # the connection gone there is nowhere to go back to, and nothing waits for it.
        got = self.list_past_hang_up("d x/", "-l")
        self.assertEqual(sorted(line.split()[-1] for line in got.splitlines()), self.names)

    def list_past_hang_up(self, path, *args):
        """ftpc ls args path of 1000 long names into a pipe read only after the server's idle
        timeout; asserts status 0 and returns what it printed."""
        self.names = sorted("n%04d-%s" % (i, "x" * 100) for i in range(1000))
        for n in self.names:
            self.srv.write(path + n, b"")
        rd, wr = os.pipe()
        self.addCleanup(os.close, rd)
        p = subprocess.Popen([FTPC_BIN, "ls", *args, self.srv.url(path)],
                             stdin=subprocess.DEVNULL, stdout=wr, stderr=subprocess.PIPE,
                             env=self.env(), cwd=self.tmp)
        self.reap_later(p)
        os.close(wr)
        self.wait_full(p, rd)
        self.assertLogged(r"idle timeout", timeout=20)
        got = read_all(rd, p, 1 << 20)
        rc = p.wait(timeout=60)
        err = p.stderr.read().decode("utf-8", "replace")
        self.check_output(type("R", (), {"stderr": err})())
        self.assertEqual(rc, 0, err)
        return got.decode()

    def hang_up_after_226(self, command=None):
        rd, wr = os.pipe()
        self.addCleanup(os.close, rd)
        p = self.start(wr, size=96 * 1024, command=command)
        os.close(wr)
        self.wait_full(p, rd)
        self.assertLogged(r"idle timeout", timeout=20)
        got = read_all(rd, p, 96 * 1024)
        rc = p.wait(timeout=60)
        err = p.stderr.read().decode("utf-8", "replace")
        self.assertEqual(rc, 0, err)
        self.assertEqual(got, self.data)
