"""ftpc put - URL: an upload from standard input, read once to its end.

Against ftpd: random bytes through a pipe (with pauses, so ftpc waits for its producer, and
with --timeout shorter than a pause), an empty input, a regular file redirected (from an
offset a script already read to), a terminal, MODE Z, TLS and --limit-rate; --verify with the
SHA-256 taken on the way; the progress display of an input of unknown length; the usage
errors (a URL ending in /, - among files, -c, --segments); and the failures: a read error
midway, an interrupt and a server that dies all leave the target as it was (ftpc resets the
data connection, so ftpd never takes the bytes so far for the whole file), and --retry does
not send a truncated input again. Against a scripted server: the wire bytes of -a (LF to
CRLF), and a HASH that differs or uses another algorithm.
"""
import hashlib
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from ftpd_harness import FtpdServer, data_bytes, free_port, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB
from test_ftpc_ascii import TEXT, to_wire
from test_ftpc_tls import TlsCase

USAGE, LOCAL, XFER, VERIFY = 2, 6, 7, 8
# Not a multiple of any buffer size ftpc or the kernel uses.
ODD = 3 * MiB + 12345


class StdinCase(FtpcCase):
    def put_stdin(self, data, *args, rc=0, chunk=None, pause=0.0, timeout=60):
        """ftpc ARGS... with data written to its standard input through a pipe, in chunks
        with a pause between them when asked. Returns (exit code, stderr text)."""
        p = subprocess.Popen([FTPC_BIN] + [str(a) for a in args], cwd=self.tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=self.env())

        def feed():
            try:
                step = chunk or max(len(data), 1)
                for i in range(0, len(data), step):
                    p.stdin.write(data[i:i + step])
                    p.stdin.flush()
                    if pause:
                        time.sleep(pause)
                p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        err = self.finish(p, timeout)
        code = p.returncode
        feeder.join(10)
        self.check_output(subprocess.CompletedProcess(args, code, b"", err.encode()))
        if rc is not None:
            self.assertEqual(code, rc, "ftpc %s: exit %d\n%s" % (" ".join(map(str, args)),
                                                               code, err[-3000:]))
        return code, err

    def finish(self, p, timeout=30):
        """The stderr text of p once it has exited (killed after timeout seconds)."""
        try:
            t = threading.Timer(timeout, p.kill)
            t.start()
            err = p.stderr.read().decode("utf-8", "replace")
            p.wait(10)
            t.cancel()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            for f in (p.stdin, p.stderr):
                try:
                    if f:
                        f.close()
                except (BrokenPipeError, ValueError):
                    pass
        return err

    def fail_input_midway(self, args, data, started):
        """ftpc ARGS... reading a socket, reset by its peer (a real read error, which no pipe
        gives) once data was sent and started() says the upload is under way. Returns the
        stderr text of ftpc, which must have failed with status LOCAL."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ours = socket.create_connection(ls.getsockname())
        peer, _ = ls.accept()
        ls.close()
        self.addCleanup(peer.close)
        p = subprocess.Popen([FTPC_BIN] + args, cwd=self.tmp, stdin=ours,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env())
        ours.close()
        try:
            peer.sendall(data)
            self.assertTrue(started())
            time.sleep(0.3)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.close()
        finally:
            err = self.finish(p)
        self.assertEqual(p.returncode, LOCAL, err)
        return err

    def hash_cmds(self):
        return re.findall(r"-> HASH (.*)", self.srv.settled_log_text())


class TestStdinFtpd(StdinCase):
    def test_pipe_of_random_bytes(self):
        data = os.urandom(ODD)
        _, err = self.put_stdin(data, "put", "-", self.srv.url("backup.tar"),
                                chunk=700001, pause=0.05)
        self.assertEqual(self.srv.read("backup.tar"), data)
        # the line is named after the remote file (standard input has no name)
        self.assertRegex(err, r"(?m)^backup\.tar: 3\.01 MiB in .*, verified sha256$")
        self.assertEqual(self.hash_cmds(), ["backup.tar"])
        self.assertEqual(self.srv.internal_files(), [])

    def test_empty_input_makes_an_empty_file(self):
        self.srv.write("e1", b"old")
        r = self.ftpc("put", "-", self.srv.url("e1"))  # /dev/null
        self.assertEqual(self.srv.read("e1"), b"")
        self.assertRegex(r.stderr.decode(), r"(?m)^e1: 0 B in ")
        self.put_stdin(b"", "put", "-", self.srv.url("e2"))  # an empty pipe
        self.assertEqual(self.srv.read("e2"), b"")

    def test_redirected_regular_file(self):
        data = data_bytes(2 * MiB + 333, 61)
        path = self.write_local("src.bin", data)
        # from where a script already read to: the rest of the file, and a total for the
        # progress display
        with open(path, "rb") as fh:
            fh.seek(1000)
            r = subprocess.run([FTPC_BIN, "--progress=plain", "--limit-rate", "1M", "put", "-",
                                self.srv.url("red.bin")], stdin=fh, capture_output=True,
                               cwd=self.tmp, env=self.env(), timeout=60)
        self.check_output(r)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(self.srv.read("red.bin"), data[1000:])
        self.assertRegex(err, r"(?m)^red\.bin: \d+% \(.* of 2\.00 MiB\), .*/s, ETA \d+:\d\d$")
        self.assertRegex(err, r"(?m)^red\.bin: 2\.00 MiB in .*, verified sha256$")

    def test_progress_of_unknown_length(self):
        data = data_bytes(2 * MiB + 512 * 1024 + 7, 62)
        _, err = self.put_stdin(data, "--progress=plain", "--limit-rate", "1M", "put", "-",
                                self.srv.url("plain.bin"))
        self.assertNotIn("\r", err)
        progress = [l for l in err.splitlines() if l.startswith("plain.bin: ") and " in " not in l]
        self.assertGreaterEqual(len(progress), 1, err)
        for line in progress:
            # bytes and rate: no percentage, no total, no ETA
            self.assertRegex(line, r"^plain\.bin: [\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)/s$")
        self.assertRegex(err, r"(?m)^plain\.bin: 2\.50 MiB in .*, verified sha256$")
        self.assertEqual(self.srv.read("plain.bin"), data)

    def test_bar_of_unknown_length_moves_while_bytes_arrive(self):
        # An empty bar would read as nothing done: a block moves a cell each redraw bytes came
        data = data_bytes(1 * MiB + 3, 64)
        _, err = self.put_stdin(data, "--progress=bar", "put", "-", self.srv.url("busy.bin"),
                                chunk=64 * 1024, pause=0.1)
        self.assertEqual(self.srv.read("busy.bin"), data)
        places = set()
        for m in re.finditer(r"busy\.bin +-- \[( *)(?:<=+>|\u2588+)( *)\]", err):
            places.add(len(m.group(1)))
        self.assertGreaterEqual(len(places), 4, err[-3000:])
        self.assertNotRegex(err, r"busy\.bin +-- \[ +\]")

    def test_slow_producer_is_not_a_timeout(self):
        # the producer is silent for longer than --timeout: not the server's fault (1 s
        # leaves a loaded sanitizer build time for each reply)
        data = data_bytes(300000, 63)
        _, err = self.put_stdin(data, "--timeout", "1", "put", "-", self.srv.url("slow.bin"),
                                chunk=150000, pause=1.6)
        self.assertEqual(self.srv.read("slow.bin"), data)

    def test_terminal(self):
        master, slave = pty.openpty()
        p = subprocess.Popen([FTPC_BIN, "-q", "put", "-", self.srv.url("typed.txt")],
                             cwd=self.tmp, stdin=slave, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=self.env())
        os.close(slave)
        try:
            os.write(master, b"first line\nsecond\n")
            time.sleep(0.3)
            os.write(master, b"\x04")  # Ctrl-D at the start of a line: the end
            err = self.finish(p)
        finally:
            os.close(master)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.srv.read("typed.txt"), b"first line\nsecond\n")

    def test_mode_z(self):
        data = data_bytes(MiB + 99, 64) + b"compressible " * 50000
        _, err = self.put_stdin(data, "-v", "-z", "put", "-", self.srv.url("z.bin"),
                                chunk=200000)
        self.assertIn("> MODE Z", err)
        self.assertRegex(err, r"(?m)^z\.bin: .*\(MODE Z\), verified sha256$")
        self.assertEqual(self.srv.read("z.bin"), data)

    def test_ascii_round_trip(self):
        _, err = self.put_stdin(TEXT, "-v", "-a", "put", "-", self.srv.url("t.txt"))
        self.assertIn("> TYPE A", err)
        self.assertEqual(self.srv.read("t.txt"), TEXT)

    def test_no_verify(self):
        self.put_stdin(b"abc" * 1000, "--no-verify", "put", "-", self.srv.url("nv"))
        self.assertEqual(self.srv.read("nv"), b"abc" * 1000)
        self.assertEqual(self.hash_cmds(), [])

    def test_a_file_named_dash(self):
        self.write_local("-", b"the file named dash")
        self.ftpc("put", "./-", self.srv.url("dash"))
        self.assertEqual(self.srv.read("dash"), b"the file named dash")

    def test_usage_errors(self):
        self.write_local("a.bin", b"a")
        cases = [
            (["put", "-", self.srv.url("dir/")], r"names a directory; standard input has no name"),
            (["put", "-", self.anon_url("")], r"names a directory"),
            (["put", "a.bin", "-", self.srv.url("d/")], r"'-' \(standard input\) is an upload of "
                                                        r"its own"),
            (["-c", "put", "-", self.srv.url("c.bin")], r"-c cannot resume standard input"),
            (["--segments", "2", "put", "-", self.srv.url("s.bin")],
             r"--segments needs a file to read"),
        ]
        for args, msg in cases:
            r = self.ftpc(*args, rc=USAGE)
            self.assertRegex(r.stderr.decode(), msg)
            self.assertNotIn("alice-Pw", r.stderr.decode())  # the password stays hidden
        # nothing reached the server
        self.assertNotIn("STOR", self.srv.settled_log_text())

    def test_a_directory_as_input(self):
        fd = os.open(self.tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            r = subprocess.run([FTPC_BIN, "put", "-", self.srv.url("d.bin")], stdin=fd,
                               capture_output=True, cwd=self.tmp, env=self.env(), timeout=60)
        finally:
            os.close(fd)
        self.check_output(r)
        self.assertEqual(r.returncode, LOCAL, r.stderr.decode())
        self.assertIn("standard input is a directory", r.stderr.decode())
        self.assertFalse(self.srv.exists("d.bin"))

    def put_from_fd_name(self, data, *args, rc=0):
        """ftpc ARGS... where {fd} stands for /dev/fd/N, the read end of a pipe that a thread
        fills with data and closes, as bash's <(command) hands one over. Returns stderr."""
        r_fd, w_fd = os.pipe()
        args = [a.replace("{fd}", "/dev/fd/%d" % r_fd) for a in map(str, args)]
        p = subprocess.Popen([FTPC_BIN] + args, cwd=self.tmp, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env(),
                             pass_fds=(r_fd,))
        os.close(r_fd)

        def feed():
            try:
                with os.fdopen(w_fd, "wb") as w:
                    for i in range(0, len(data), 500000):
                        w.write(data[i:i + 500000])
                        w.flush()
                        time.sleep(0.02)
            except (BrokenPipeError, OSError):
                pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        p.stdin = None
        err = self.finish(p)
        feeder.join(10)
        self.check_output(subprocess.CompletedProcess(args, p.returncode, b"", err.encode()))
        self.assertEqual(p.returncode, rc, err[-3000:])
        return err

    def test_a_pipe_named_as_a_file(self):
        # ftpc put <(tar c dir) URL: the pipe is read to its end as standard input is, and
        # checked with the SHA-256 taken on the way
        data = os.urandom(ODD)
        err = self.put_from_fd_name(data, "put", "{fd}", self.srv.url("procsub.tar"))
        self.assertEqual(self.srv.read("procsub.tar"), data)
        self.assertRegex(err, r"(?m)^procsub\.tar: 3\.01 MiB in .*, verified sha256$")
        # a producer that is done before ftpc reads: its bytes still wait in the pipe
        err = self.put_from_fd_name(b"quick\n", "put", "{fd}", self.srv.url("quick.txt"))
        self.assertEqual(self.srv.read("quick.txt"), b"quick\n")

    def test_a_named_fifo(self):
        # the writer comes after ftpc has opened the FIFO; its close is the end of the file
        fifo = os.path.join(self.tmp, "feed")
        os.mkfifo(fifo)
        data = data_bytes(MiB + 17, 5)

        def writer():
            time.sleep(0.5)
            with open(fifo, "wb") as w:
                w.write(data)
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        self.ftpc("put", "feed", self.srv.url("up/"), "--create-dirs")
        th.join(10)
        self.assertEqual(self.srv.read("up/feed"), data)

    def test_a_kernel_file_is_read_to_its_end(self):
        # Files of /proc and /sys have no size before they are read (/proc says 0, /sys a
        # page): sent with the size stat gave, /proc/version went up empty and "verified",
        # and a /sys file failed as one that "shrank while being uploaded".
        for path, name in [("/proc/version", "version"),
                           ("/sys/devices/system/cpu/online", "online")]:
            if not os.path.exists(path):
                continue
            with open(path, "rb") as fh:
                want = fh.read()
            self.assertGreater(len(want), 0)
            self.ftpc("put", path, self.srv.url(name))
            self.assertEqual(self.srv.read(name), want, path)
        r = self.ftpc("-c", "put", "/proc/version", self.srv.url("v2"), rc=USAGE)
        self.assertIn("-c cannot resume /proc/version", r.stderr.decode())
        self.ftpc("--segments", "4", "put", "/proc/version", self.srv.url("v3"))
        self.assertEqual(self.srv.read("v3"), self.srv.read("version"))

    def test_a_kernel_file_into_a_directory_there(self):
        # put /proc/version URL/sub, sub a directory on the server: it goes in as
        # sub/version, as put /proc/version URL/sub/ does, whole and verified (the name was
        # read from memory the move into sub had freed; the digest begun twice leaked)
        if not os.path.exists("/proc/version"):
            self.skipTest("no /proc/version")
        self.srv.mkdir("sub")
        with open("/proc/version", "rb") as fh:
            want = fh.read()
        r = self.ftpc("put", "/proc/version", self.srv.url("sub"))
        self.assertEqual(self.srv.read("sub/version"), want)
        self.assertFalse(self.srv.exists("sub/sub"))
        self.assertRegex(r.stderr.decode(), r"(?m)^version: .*, verified sha256$")
        # a pipe known only by its descriptor has no name to go under: the server's refusal
        err = self.put_from_fd_name(b"piped\n", "put", "{fd}", self.srv.url("sub"), rc=5)
        self.assertRegex(err, r"STOR: the server replied 550")
        self.assertEqual(sorted(os.listdir(self.srv.local("sub"))), ["version"])
        # a regular file named by its descriptor is no pipe: it goes in under that name, by
        # one connection or by ranges (a review found these refused, or sent as sub2/sub2)
        data = data_bytes(3 * MiB, 9)
        src = self.write_local("reg.bin", data)
        for d, extra in (("sub1", []), ("sub2", ["--segments", "2"])):
            self.srv.mkdir(d)
            with open(src, "rb") as fh:
                fd = fh.fileno()
                r = subprocess.run([FTPC_BIN] + extra + ["put", "/dev/fd/%d" % fd,
                                                         self.srv.url(d)],
                                   cwd=self.tmp, stdin=subprocess.DEVNULL, capture_output=True,
                                   env=self.env(), timeout=60, pass_fds=(fd,))
            self.check_output(r)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(os.listdir(self.srv.local(d)), [str(fd)], d)
            self.assertEqual(self.srv.read("%s/%d" % (d, fd)), data, d)

    def test_a_pipe_named_as_a_file_refuses_what_stdin_refuses(self):
        r_fd, w_fd = os.pipe()
        self.addCleanup(os.close, r_fd)
        self.addCleanup(os.close, w_fd)
        name = "/dev/fd/%d" % r_fd
        for args, msg in [(["put", name, self.srv.url("dir/")], r"no name of its own"),
                          (["-c", "put", name, self.srv.url("c.bin")], r"-c cannot resume"),
                          (["--segments", "2", "put", name, self.srv.url("s.bin")],
                           r"--segments needs a file")]:
            r = subprocess.run([FTPC_BIN] + args, cwd=self.tmp, stdin=subprocess.DEVNULL,
                               capture_output=True, env=self.env(), timeout=60,
                               pass_fds=(r_fd,))
            self.check_output(r)
            self.assertEqual(r.returncode, USAGE, r.stderr.decode())
            self.assertRegex(r.stderr.decode(), msg)
        self.assertNotIn("STOR", self.srv.settled_log_text())

    def test_closed_input(self):
        r = subprocess.run([FTPC_BIN, "put", "-", self.srv.url("c.bin")], stdin=subprocess.DEVNULL,
                           capture_output=True, cwd=self.tmp, env=self.env(), timeout=60,
                           preexec_fn=lambda: os.close(0))
        self.check_output(r)
        self.assertEqual(r.returncode, USAGE, r.stderr.decode())
        self.assertIn("standard input is closed", r.stderr.decode())

    def test_read_error_midway_leaves_the_target(self):
        # a socket as standard input, reset by its peer: a real read error, after bytes
        self.srv.write("keep.bin", b"the previous version")
        err = self.fail_input_midway(["--retry", "3", "put", "-", self.srv.url("keep.bin")],
                                     data_bytes(400000, 65),
                                     lambda: wait_for(lambda: "STOR keep.bin"
                                                      in self.srv.log_text(), 20))
        self.assertIn("reading standard input: Connection reset by peer", err)
        self.assertNotIn("retrying", err.lower())
        self.assertTrue(wait_for(lambda: "aborted" in self.srv.log_text()
                                 or "failed" in self.srv.log_text(), 10))
        self.assertEqual(self.srv.read("keep.bin"), b"the previous version")

    def test_interrupt_leaves_the_target(self):
        self.srv.write("int.bin", b"the previous version")
        p = subprocess.Popen([FTPC_BIN, "put", "-", self.srv.url("int.bin")], cwd=self.tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=self.env())
        try:
            p.stdin.write(data_bytes(500000, 66))
            p.stdin.flush()
            self.assertTrue(wait_for(lambda: "STOR int.bin" in self.srv.log_text(), 20))
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
        finally:
            err = self.finish(p)
        self.assertEqual(p.returncode, XFER, err)
        self.assertIn("interrupted", err)
        self.assertNotIn("put -c", err)  # nothing to resume from
        time.sleep(0.5)
        self.assertEqual(self.srv.read("int.bin"), b"the previous version")

    def test_server_dies_midway_no_retry(self):
        srv = FtpdServer(args=["--max-rate", "256k"]).start()
        self.addCleanup(srv.stop, False)  # it is killed below
        p = subprocess.Popen([FTPC_BIN, "--retry", "3", "--retry-delay", "0.1", "put", "-",
                              srv.url("cut.bin")], cwd=self.tmp, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env())

        def feed():
            try:
                p.stdin.write(data_bytes(3 * MiB, 67))
                p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        threading.Thread(target=feed, daemon=True).start()
        try:
            self.assertTrue(wait_for(lambda: "STOR cut.bin" in srv.log_text(), 20))
            time.sleep(0.5)
            srv.proc.kill()
        finally:
            err = self.finish(p)
        self.assertEqual(p.returncode, XFER, err)
        self.assertIn("not retried: standard input cannot be read again", err)
        self.assertNotIn("retrying", err.lower())
        self.assertFalse(srv.exists("cut.bin"))

    def test_retry_before_anything_was_read(self):
        port = free_port()
        _, err = self.put_stdin(b"abc", "--retry", "1", "--retry-delay", "0.1", "put", "-",
                                "ftp://127.0.0.1:%d/x" % port, rc=3)
        self.assertIn("retrying in 0.1 s (attempt 2 of 2)", err)


class TestStdinTls(TlsCase):
    def test_explicit_tls(self):
        data = data_bytes(MiB + 4097, 68)
        r = subprocess.run([FTPC_BIN, "--cacert", self.srv.cafile, "--tls", "put", "-",
                            self.srv.url("tls.bin")], input=data, capture_output=True,
                           cwd=self.tmp, env=self.env(), timeout=60)
        self.check_output(r)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(self.srv.read("tls.bin"), data)
        self.assertRegex(r.stderr.decode(), r"(?m)^tls\.bin: .*, verified sha256$")


class StoreFtp(ScriptedFtp):
    """Keeps the wire bytes of each STOR and answers HASH over them, in the one algorithm
    FEAT lists, or with a digest of other bytes when lie is set."""

    def __init__(self, algo="SHA-256", lie=False, sessions=4):
        super().__init__(sessions)
        self.FEATURES = ("SIZE", "REST STREAM", "HASH %s*;" % algo)
        self.algo, self.lie = algo, lie
        self.stored = None
        self.stor_seen = threading.Event()
        self.data_end = None  # how the last upload's data connection ended: "eof" or "reset"
        self.ended_event = threading.Event()

    def receive(self, s):
        s.send("150 go")
        self.stor_seen.set()
        d = s.accept_data()
        got = bytearray()
        try:
            while True:
                chunk = d.recv(65536)
                if not chunk:
                    self.data_end = "eof"
                    break
                got += chunk
        except ConnectionResetError:
            self.data_end = "reset"
        finally:
            d.close()
            self.ended_event.set()
        return bytes(got)

    def command(self, s, verb, arg):
        if verb == "STOR":
            self.stored = self.receive(s)
            s.send("226 stored" if self.data_end == "eof" else "426 connection reset")
        elif verb == "SIZE":
            s.send("213 %d" % len(self.stored) if self.stored is not None else "550 none")
        elif verb == "HASH":
            data = self.stored + (b"!" if self.lie else b"")
            h = hashlib.new(self.algo.replace("-", "").lower(), data).hexdigest()
            s.send("213 %s 0-%d %s %s" % (self.algo, max(len(data) - 1, 0), h, arg))
        else:
            return super().command(s, verb, arg)
        return True


class TestStdinScripted(StdinCase):
    def scripted(self, **kw):
        srv = StoreFtp(**kw)
        srv.start()
        return srv, "ftp://u:p@127.0.0.1:%d/f.bin" % srv.port

    def test_ascii_sends_crlf(self):
        srv, url = self.scripted()
        self.put_stdin(TEXT, "-a", "put", "-", url, chunk=4093)
        self.assertEqual(srv.stored, to_wire(TEXT))

    def test_verified_against_the_streamed_digest(self):
        data = data_bytes(MiB + 3, 69)
        srv, url = self.scripted()
        _, err = self.put_stdin(data, "put", "-", url)
        self.assertEqual(srv.stored, data)
        self.assertRegex(err, r"(?m)^f\.bin: .*, verified sha256$")

    def test_a_differing_hash_fails(self):
        data = data_bytes(200000, 70)
        srv, url = self.scripted(lie=True)
        _, err = self.put_stdin(data, "put", "-", url, rc=VERIFY)
        self.assertIn("verification failed", err)
        self.assertIn("local sha256 %s (standard input, 200000 bytes)"
                      % hashlib.sha256(data).hexdigest(), err)

    def test_read_error_resets_the_data_connection(self):
        # to a server a FIN on the data connection is the end of the file: an upload that
        # stops because standard input failed must end with a reset instead
        srv, url = self.scripted()
        self.fail_input_midway(["put", "-", url], b"partial " * 10000,
                               lambda: srv.stor_seen.wait(20))
        self.assertTrue(srv.ended_event.wait(10))
        self.assertEqual(srv.data_end, "reset")

    def interrupt_upload(self, srv, args, stdin, data=b""):
        """Runs ftpc ARGS..., writes data to its standard input, interrupts it once its
        upload is under way, and returns how the data connection ended."""
        p = subprocess.Popen([FTPC_BIN] + args, cwd=self.tmp, stdin=stdin,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env())
        try:
            if data:
                p.stdin.write(data)
                p.stdin.flush()
            self.assertTrue(srv.stor_seen.wait(20))
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
        finally:
            err = self.finish(p)
        self.assertEqual(p.returncode, XFER, err)
        self.assertTrue(srv.ended_event.wait(10))
        return srv.data_end

    def test_interrupt_resets_the_data_connection(self):
        srv, url = self.scripted()
        ended = self.interrupt_upload(srv, ["put", "-", url], subprocess.PIPE, b"partial " * 10000)
        self.assertEqual(ended, "reset")

    def test_an_interrupted_file_upload_resets_too(self):
        # the same for a file: its upload, cut, must not look complete to the server
        self.write_local("big.bin", data_bytes(4 * MiB, 71))
        srv, url = self.scripted()
        ended = self.interrupt_upload(srv, ["--limit-rate", "1M", "put", "big.bin", url],
                                      subprocess.DEVNULL)
        self.assertEqual(ended, "reset")

    def test_another_algorithm_is_not_verified(self):
        srv, url = self.scripted(algo="MD5")
        _, err = self.put_stdin(b"x" * 5000, "put", "-", url)
        self.assertIn("f.bin: not verified (the server hashes with md5, and standard input was "
                      "hashed with sha256 as it was read)", err)


if __name__ == "__main__":
    unittest.main()
