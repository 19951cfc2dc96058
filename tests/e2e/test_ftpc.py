"""End-to-end tests of the ftpc client: the real binary against the real ftpd (and, for
misbehaviour ftpd never shows, a small scripted server in this file).

Every command with bytes compared, -j, resume after a killed transfer in both directions,
--retry across a server restart, exit codes, active mode, IPv6, and the progress display in
a pseudo-terminal (tmux) and as plain text.

FTPC_BIN defaults to the ftpc beside $FTPD_BIN. Everything runs on loopback; every wait is
bounded.
"""
import os
import pty
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from ftpd_harness import (FTPD_BIN, SANITIZER_MARKERS, FtpdServer, ServerTestCase, data_bytes,
                          free_port, have_ipv6, read_pty, wait_for)
from scripted_ftp import ScriptedFtp

FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(os.path.dirname(FTPD_BIN), "ftpc")
MiB = 1024 * 1024
# The hint after an interrupted put whose name may or may not have had a file (jobs.c).
PUT_HINT_UNKNOWN = (b"put -c resumes it if the server kept the part sent; if it was replacing "
                    b"a file that the server kept until the upload completed, as ftpd does, it "
                    b"sends it all again")
# get -c asks for this much before its offset again, to compare with the bytes kept
OVERLAP = 4096


class FtpcCase(ServerTestCase):
    """A server per test (self.srv) and a scratch directory (self.tmp) where ftpc runs."""

    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def check_output(self, r):
        err = r.stderr.decode("utf-8", "replace") if isinstance(r.stderr, bytes) else r.stderr
        for marker in SANITIZER_MARKERS:
            if marker in (err or ""):
                self.fail("sanitizer report in ftpc output:\n" + err[-6000:])

    def env(self, **extra):
        """The environment for ftpc: no netrc file of the person running the tests."""
        env = dict(os.environ)
        env["NETRC"] = os.path.join(self.tmp, "no-such-netrc")
        env.update(extra)
        return env

    def ftpc(self, *args, rc=0, timeout=60, cwd=None, env=None):
        """Runs ftpc with args in self.tmp; asserts the exit code (None: any)."""
        env = env or self.env()
        r = subprocess.run([FTPC_BIN] + [str(a) for a in args], cwd=cwd or self.tmp,
                           capture_output=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
        self.check_output(r)
        if rc is not None:
            self.assertEqual(r.returncode, rc,
                             "ftpc %s: exit %d, expected %d\nstderr:\n%s"
                             % (" ".join(map(str, args)), r.returncode, rc,
                                r.stderr.decode("utf-8", "replace")[-3000:]))
        return r

    def popen(self, *args, **kw):
        kw.setdefault("env", self.env())
        p = subprocess.Popen([FTPC_BIN] + [str(a) for a in args], cwd=self.tmp,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, **kw)

        def reap():
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=10)
        self.addCleanup(reap)
        return p

    def on_terminal(self, *args, cols=80, rows=24, timeout=60, **env):
        """Runs ftpc with standard output and error on a pseudo-terminal of cols x rows (and
        TERM=xterm, a UTF-8 locale, env on top); returns (exit status, what it wrote)."""
        import fcntl
        import struct
        import termios
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full = self.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        full.pop("COLUMNS", None)
        full.update(env)
        p = subprocess.Popen([FTPC_BIN] + [str(a) for a in args], cwd=self.tmp,
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=full)
        os.close(slave)
        try:
            data = read_pty(master, timeout, proc=p)
        finally:
            os.close(master)
            if p.poll() is None:
                p.kill()
        return p.wait(10), data

    @staticmethod
    def screen_of(data, cols=80, rows=24):
        """The non-empty rows a terminal of cols x rows shows after data (test_liveview's
        model of one)."""
        from test_liveview import Terminal
        term = Terminal(cols, rows)
        term.feed(data.decode("utf-8", "replace"))
        return [r for r in term.screen() if r.strip()]

    def local(self, name):
        return os.path.join(self.tmp, name)

    def read_local(self, name):
        with open(self.local(name), "rb") as fh:
            return fh.read()

    def write_local(self, name, data):
        with open(self.local(name), "wb") as fh:
            fh.write(data)
        return self.local(name)

    def anon_url(self, path=""):
        return "ftp://%s:%d/%s" % (self.srv.host, self.srv.port, path)


    def tmux(self, cmd, width=120, height=30):
        """Starts cmd in a detached tmux session of its own server (a private socket);
        returns a function that captures the screen. Skips when tmux is missing."""
        if shutil.which("tmux") is None:
            self.skipTest("tmux not installed")
        sock = "ftpc-e2e-%d-%d" % (os.getpid(), id(self) % 100000)
        cmd = "NETRC=%s %s" % (os.path.join(self.tmp, "no-such-netrc"), cmd)
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x",
                        str(width), "-y", str(height), "-c", self.tmp, cmd], check=True,
                       timeout=20)
        self.addCleanup(subprocess.run, ["tmux", "-L", sock, "kill-server"], timeout=20,
                        capture_output=True)

        def capture():
            r = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True,
                               timeout=20)
            return r.stdout.decode("utf-8", "replace")

        def keys(*k):
            subprocess.run(["tmux", "-L", sock, "send-keys"] + list(k), check=True, timeout=20)
        capture.keys = keys
        return capture

    def wait_file(self, path, timeout=30):
        """Waits for a non-empty file; returns its stripped text ("" on timeout)."""
        def read():
            try:
                with open(path) as fh:
                    return fh.read().strip()
            except OSError:
                return ""
        return wait_for(read, timeout=timeout) or ""


# ------------------------------------------------------------------ get / put

class TestGet(FtpcCase):
    def test_get_file(self):
        data = self.srv.make_file("a.bin", 300000, seed=1)
        r = self.ftpc("get", self.srv.url("a.bin"))
        self.assertEqual(self.read_local("a.bin"), data)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin"])  # no part file left
        self.assertIn("a.bin: ", r.stderr.decode())  # a summary line
        self.assertEqual(r.stdout, b"")

    def test_get_empty_file(self):
        self.srv.write("empty", b"")
        self.ftpc("get", self.srv.url("empty"))
        self.assertEqual(self.read_local("empty"), b"")

    def test_get_large_file(self):
        data = self.srv.make_file("large.bin", 24 * MiB + 17, seed=2)
        self.ftpc("-q", "get", self.srv.url("large.bin"))
        self.assertEqual(self.read_local("large.bin"), data)

    def test_output_ending_in_a_slash_is_a_directory(self):
        # -o DIR/ as -O DIR: made when missing, several URLs allowed; before, a missing
        # directory failed the download once under way (6) and two URLs were refused (2)
        a = self.srv.make_file("a.bin", 1000, seed=1)
        b = self.srv.make_file("d/b.bin", 2000, seed=2)
        self.ftpc("get", "-o", "new/sub/", self.srv.url("a.bin"))
        self.assertEqual(os.listdir(self.local("new/sub")), ["a.bin"])
        self.assertEqual(self.read_local("new/sub/a.bin"), a)
        self.ftpc("get", "-o", "two/", self.srv.url("a.bin"), self.srv.url("d/b.bin"))
        self.assertEqual(sorted(os.listdir(self.local("two"))), ["a.bin", "b.bin"])
        self.assertEqual(self.read_local("two/b.bin"), b)
        r = self.ftpc("get", "-o", "x/", "-O", "y", self.srv.url("a.bin"), rc=2)
        self.assertIn("cannot be combined", r.stderr.decode())

    def test_a_directory_ending_in_a_slash_is_not_doubled_in_names(self):
        self.srv.make_file("a.bin", 1000, seed=1)
        os.mkdir(self.local("out"))
        self.write_local("out/a.bin", b"keep")
        os.chmod(self.local("out/a.bin"), 0o444)
        r = self.ftpc("get", "-O", "out/", self.srv.url("a.bin"), rc=6)
        err = r.stderr.decode()
        self.assertIn("out/a.bin", err)
        self.assertNotIn("out//a.bin", err)

    def test_get_several_into_dir(self):
        files = {"d/one.bin": 1000, "d/two.bin": 70000, "three.bin": 1}
        want = {n: self.srv.make_file(n, s, seed=i) for i, (n, s) in enumerate(files.items())}
        os.mkdir(self.local("out"))
        r = self.ftpc("get", "-O", "out", *[self.srv.url(n) for n in files])
        for n, data in want.items():
            self.assertEqual(self.read_local(os.path.join("out", os.path.basename(n))), data)
        # one line for the whole run after the files' own lines
        last = r.stderr.decode().splitlines()[-1]
        self.assertRegex(last, r"^Total: 3 files, 69\.3 KiB in [\d.:]+ s? ?\([\d.]+ [KMG]?i?B/s\)$")
        r = self.ftpc("get", "-O", "out", self.srv.url("three.bin"))
        self.assertNotIn("Total:", r.stderr.decode())

    def test_get_into_a_dir_that_is_not_there_yet(self):
        data = self.srv.make_file("one.bin", 3000, seed=5)
        self.ftpc("get", "-O", "new/deeper", self.srv.url("one.bin"))
        self.assertEqual(self.read_local("new/deeper/one.bin"), data)

    def test_get_output_file(self):
        data = self.srv.make_file("src.bin", 5000)
        self.ftpc("get", self.srv.url("src.bin"), "-o", "renamed.bin")
        self.assertEqual(self.read_local("renamed.bin"), data)
        self.assertFalse(os.path.exists(self.local("src.bin")))

    def test_get_onto_a_local_directory_is_refused_before_the_transfer(self):
        self.srv.make_file("big.bin", 3 * MiB, seed=9)
        os.makedirs(self.local("d/big.bin"))
        r = self.ftpc("get", "-O", "d", self.srv.url("big.bin"), rc=6)
        self.assertIn(b"d/big.bin is a directory", r.stderr)
        self.assertEqual(os.listdir(self.local("d")), ["big.bin"])  # no part file left
        self.assertNotIn("RETR", self.srv.log_text())

    def test_get_into_fifo(self):
        # A destination that is not a regular file (a FIFO here, /dev/null in real use) is
        # written directly: no part file beside it, and never renamed over.
        data = self.srv.make_file("f.bin", 3 * MiB + 1, seed=8)
        fifo = self.local("fifo")
        os.mkfifo(fifo)
        got = []
        reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
        reader.start()
        try:
            self.ftpc("get", "-o", "fifo", self.srv.url("f.bin"))
        finally:
            if reader.is_alive():  # unblock the reader if ftpc never opened the FIFO
                with open(fifo, "wb"):
                    pass
            reader.join(10)
        self.assertEqual(got, [data])
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["fifo"])

    def test_get_overwrites_existing(self):
        data = self.srv.make_file("o.bin", 5000)
        self.write_local("o.bin", b"old contents that are longer than nothing" * 500)
        self.ftpc("get", self.srv.url("o.bin"))
        self.assertEqual(self.read_local("o.bin"), data)

    def test_get_to_stdout(self):
        a = self.srv.make_file("a", 70000, seed=1)
        b = self.srv.make_file("b", 30000, seed=2)
        r = self.ftpc("get", "-o", "-", self.srv.url("a"), self.srv.url("b"))
        self.assertEqual(r.stdout, a + b)  # in command-line order
        self.assertEqual(os.listdir(self.tmp), [])

    def test_get_escaped_names(self):
        data = self.srv.make_file("with space %25 \u00e9.txt", 1234)
        r = self.ftpc("get", self.srv.url("with space %25 \u00e9.txt"))
        self.assertEqual(self.read_local("with space %25 \u00e9.txt"), data, r.stderr)

    def test_get_and_put_a_name_with_byte_ff(self):
        # 0xFF is Telnet's IAC: ftpc must send it doubled, or the server reads a Telnet
        # command there and the name loses bytes
        data = self.srv.make_file("x\udcffy.bin", 3000, seed=4)
        self.ftpc("get", self.srv.url("") + "x%FFy.bin")
        self.assertEqual(self.read_local("x\udcffy.bin"), data)
        self.ftpc("put", "x\udcffy.bin", self.srv.url("") + "p%FFq.bin")
        self.assertEqual(self.srv.read("p\udcffq.bin"), data)

    def test_get_absolute_path_url(self):
        # "//path" is an absolute server path; ftpd's root is "/" for alice.
        data = self.srv.make_file("abs/f.bin", 100)
        url = self.srv.url("").rstrip("/") + "//abs/f.bin"
        self.ftpc("get", url)
        self.assertEqual(self.read_local("f.bin"), data)

    def test_get_anonymous(self):
        data = self.srv.make_file("pub.bin", 4000, base=self.srv.anon_root)
        self.ftpc("get", self.anon_url("pub.bin"))
        self.assertEqual(self.read_local("pub.bin"), data)

    def test_get_localhost_name(self):
        # A host name (resolved before the loop runs; ::1 may be tried first and refused).
        data = self.srv.make_file("n.bin", 100)
        url = self.srv.url("n.bin").replace("127.0.0.1", "localhost")
        self.ftpc("get", url)
        self.assertEqual(self.read_local("n.bin"), data)


class TestPut(FtpcCase):
    def test_put_named(self):
        data = data_bytes(400000, 3)
        self.write_local("up.bin", data)
        self.ftpc("put", "up.bin", self.srv.url("dest.bin"))
        self.assertEqual(self.srv.read("dest.bin"), data)

    def test_put_into_dir(self):
        self.srv.mkdir("incoming")
        data = data_bytes(5000, 4)
        self.write_local("x.bin", data)
        self.ftpc("put", self.local("x.bin"), self.srv.url("incoming/"))
        self.assertEqual(self.srv.read("incoming/x.bin"), data)

    def test_a_file_named_like_options_is_named_in_the_error(self):
        # "ftpc put * URL" where * holds -dash: getopt reads -d -a -s -h; the error says which
        # argument that was and how to name the file, as rm does
        self.write_local("-dash", b"d")
        self.write_local("plain", b"p")
        r = self.ftpc("put", "-dash", "plain", self.srv.url("in/"), rc=2)
        self.assertIn(b"unknown option -d (from -dash; to name the file -dash, write ./-dash, "
                      b"or -- before the files)", r.stderr)
        self.ftpc("put", "--create-dirs", "--", "-dash", "plain", self.srv.url("in/"))
        self.assertEqual(self.srv.read("in/-dash"), b"d")
        # an unknown option that is no file stays as it was
        r = self.ftpc("-x", "put", "plain", self.srv.url("in/"), rc=2)
        self.assertIn(b"unknown option -x\n", r.stderr)

    def test_put_of_two_files_of_one_name_is_refused(self):
        # the second would replace the first on the server: refused before connecting, as
        # cp refuses it
        os.makedirs(self.local("o1"))
        os.makedirs(self.local("o2"))
        self.write_local("o1/x.bin", b"first")
        self.write_local("o2/x.bin", b"second")
        self.write_local("y.bin", b"y")
        r = self.ftpc("put", "o1/x.bin", "y.bin", "o2/x.bin", self.srv.url(""), rc=2)
        self.assertIn(b"o1/x.bin and o2/x.bin would both be uploaded as x.bin", r.stderr)
        self.assertEqual(os.listdir(self.srv.root), [])
        self.assertNotIn("STOR", self.srv.log_text())

    def test_put_of_one_file_named_twice_sends_it_once(self):
        # a pattern and a name of one file ("*.bin x.bin"), as cp takes them: not two files
        # of one name, and one upload of it, not two racing for the same target
        self.write_local("x.bin", b"x" * 5000)
        self.write_local("y.bin", b"y" * 6000)
        self.ftpc("-j", "2", "put", "*.bin", "x.bin", "x.bin", self.srv.url(""))
        self.assertEqual(self.srv.read("x.bin"), b"x" * 5000)
        self.assertEqual(self.srv.read("y.bin"), b"y" * 6000)
        log = self.srv.settled_log_text()
        self.assertEqual(len(re.findall(r"-> STOR x\.bin$", log, re.M)), 1, log)

    def test_put_of_a_pattern_that_matches_nothing(self):
        # said as such, not as a file that cannot be opened; the other files still go up
        data = data_bytes(3000, 6)
        self.write_local("real.bin", data)
        r = self.ftpc("put", "*.nomatch", "real.bin", "missing.bin", self.srv.url(""), rc=6)
        err = r.stderr.decode()
        self.assertIn("no local file matches *.nomatch", err)
        self.assertIn("cannot open missing.bin: No such file or directory", err)
        self.assertEqual(self.srv.read("real.bin"), data)

    def test_put_of_several_patterns_that_match_nothing(self):
        # each pattern that matches nothing is said as such, not only the last one
        self.write_local("real.bin", data_bytes(3000, 6))
        r = self.ftpc("put", "*.none1", "real.bin", "*.none2", "*.none3", self.srv.url(""),
                      rc=6)
        err = r.stderr.decode()
        for p in ("*.none1", "*.none2", "*.none3"):
            self.assertIn("no local file matches %s" % p, err)
        self.assertNotIn("cannot open", err)

    def test_put_into_dir_named_without_slash(self):
        # as cp and scp do: the server refuses the STOR, MLST says directory, and the file
        # goes into it; a refusal for any other reason is reported as it was
        self.srv.mkdir("incoming")
        data = data_bytes(6000, 5)
        self.write_local("y.bin", data)
        r = self.ftpc("-v", "put", "y.bin", self.srv.url("incoming"))
        err = r.stderr.decode()
        self.assertIn("y.bin: incoming is a directory on the server: uploading into it", err)
        self.assertIn("> MLST incoming", err)
        self.assertEqual(self.srv.read("incoming/y.bin"), data)
        self.assertRegex(err, r"(?m)^y\.bin: .*, verified sha256$")
        srv = self.start_server(users=[("ro2", "ro2-Pw-1", "elr")])
        r = self.ftpc("put", "y.bin", srv.url("nodir", user="ro2", pw="ro2-Pw-1"), rc=5)
        self.assertRegex(r.stderr.decode(), r"STOR: the server replied 550 ")
        self.assertNotIn(b"is a directory", r.stderr)

    def test_put_into_dir_where_the_name_is_a_directory(self):
        # "put y.bin URL/" names the file URL/y.bin; a directory y.bin there is refused, as
        # cp refuses it, not gone into (which left URL/y.bin/y.bin)
        self.srv.mkdir("incoming/y.bin")
        self.write_local("y.bin", data_bytes(6000, 5))
        self.write_local("z.bin", data_bytes(7000, 6))
        for args in (["y.bin", self.srv.url("incoming/")],
                     ["y.bin", "z.bin", self.srv.url("incoming")]):
            r = self.ftpc("put", *args, rc=5)
            err = r.stderr.decode()
            self.assertRegex(err, r"STOR: the server replied 550 .*Is a directory", err)
            self.assertNotIn("uploading into it", err)
            self.assertEqual(os.listdir(self.srv.local("incoming/y.bin")), [])
        self.assertEqual(self.srv.read("incoming/z.bin"), self.read_local("z.bin"))

    def test_put_of_a_name_with_a_line_break(self):
        # FTP cannot carry the name: say so before connecting, not "cannot send STOR" (7)
        # with a hint to resume; a remote name given instead is fine
        data = data_bytes(100, 7)
        self.write_local("two\nlines", data)
        r = self.ftpc("--retry", "2", "put", "two\nlines", self.srv.url(""), rc=2)
        self.assertIn("'two?lines': a line break in a file name cannot be sent over FTP",
                      r.stderr.decode())
        self.assertEqual(self.srv.internal_files(), [])
        self.ftpc("put", "two\nlines", self.srv.url("one-line"))
        self.assertEqual(self.srv.read("one-line"), data)

    def test_put_several(self):
        self.srv.mkdir("many")
        want = {}
        for i in range(4):
            want["f%d.bin" % i] = self.write_local("f%d.bin" % i, data_bytes(1000 * i + 1, i))
        self.ftpc("put", *sorted(want), self.srv.url("many"))
        for name in want:
            self.assertEqual(self.srv.read("many/" + name), self.read_local(name))

    def test_put_empty_and_large(self):
        self.write_local("empty", b"")
        big = data_bytes(20 * MiB + 5, 9)
        self.write_local("big", big)
        self.ftpc("put", "empty", "big", self.srv.url(""))
        self.assertEqual(self.srv.read("empty"), b"")
        self.assertEqual(self.srv.read("big"), big)

    def test_put_escaped_name(self):
        data = data_bytes(100, 5)
        self.write_local("local.txt", data)
        self.ftpc("put", "local.txt", self.srv.url("a b#c.txt"))
        self.assertEqual(self.srv.read("a b#c.txt"), data)


# ------------------------------------------------------------------ other commands

class TestCommands(FtpcCase):
    def test_ls_names(self):
        self.srv.make_file("dir/a.txt", 10)
        self.srv.make_file("dir/b.txt", 20)
        self.srv.mkdir("dir/sub")
        r = self.ftpc("ls", self.srv.url("dir/"))
        self.assertEqual(sorted(r.stdout.decode().splitlines()), ["a.txt", "b.txt", "sub"])
        self.assertNotIn(b"\r", r.stdout)

    def test_ls_long(self):
        self.srv.make_file("dir/a.txt", 12345)
        r = self.ftpc("ls", "-l", self.srv.url("dir"))
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertRegex(lines[0], r"^-.*12345 .*a\.txt$")

    def test_ls_root(self):
        self.srv.make_file("top.bin", 1)
        r = self.ftpc("ls", self.srv.url(""))
        self.assertIn("top.bin", r.stdout.decode().splitlines())

    def test_ls_of_an_empty_directory_by_an_account_that_may_not_enter_it(self):
        # ftpd lets an account list (perm l) without entering (e): every CWD is refused, so
        # the refused CWD that checks an empty listing proves nothing and the listing stays
        # empty, with or without the trailing / (ls asks again with one)
        srv = self.start_server(users=[("bob", "bob-Pw-1", "l")])
        srv.mkdir("empty")
        for path in ("empty/", "empty"):
            for opt in ([], ["-l"]):
                r = self.ftpc("ls", *opt, srv.url(path, user="bob", pw="bob-Pw-1"))
                self.assertEqual((r.stdout, r.stderr), (b"", b""))
        self.assertRegex(srv.settled_log_text(), r"-> CWD empty/\n(?:.*refused: .*\n)?.*<- 550 ")

    def test_ls_of_names_with_spaces(self):
        # LIST of a directory whose name holds a space is asked from inside it (pure-ftpd
        # splits the argument, test_ftpc_interop.py): ftpd lists it the same, and a file of
        # such a name is listed by name, as before
        self.srv.make_file("d sp/in file", 5)
        self.srv.make_file("d sp/f1", 7)
        self.srv.make_file("d/x", 1)
        for path in ("d sp", "d sp/"):
            r = self.ftpc("ls", self.srv.url(path))
            self.assertEqual(sorted(os.path.basename(n) for n in r.stdout.decode().splitlines()),
                             ["f1", "in file"])
            r = self.ftpc("ls", "-l", self.srv.url(path))
            self.assertEqual(sorted(ln.split(None, 8)[8] for ln in r.stdout.decode().splitlines()),
                             ["f1", "in file"], r.stdout)
        r = self.ftpc("ls", self.srv.url("d sp/in file"))
        self.assertEqual(r.stdout, b"d sp/in file\n")
        r = self.ftpc("ls", "-l", self.srv.url("d sp/in file"))
        self.assertRegex(r.stdout.decode(), r"^-\S+ .* 5 .* d sp/in file\n$")
        self.assertEqual(r.stderr, b"")
        # one ftpd may enter but not read: its LIST refusal is the answer, not an MLST of the
        # relative path asked from inside it (review: it was, from the wrong place)
        self.srv.make_file("u sp/u sp/x", 1)
        os.chmod(self.srv.local("u sp"), 0o311)
        self.addCleanup(os.chmod, self.srv.local("u sp"), 0o755)
        r = self.ftpc("ls", "-l", self.srv.url("u sp"), rc=5)
        self.assertRegex(r.stderr.decode(), r"LIST: the server replied 550")
        log = self.srv.settled_log_text()
        self.assertNotIn("MLST", log[log.index("-> CWD u sp"):])

    def test_cat(self):
        a = self.srv.make_file("c1", 100000, seed=1)
        b = self.srv.make_file("c2", 10, seed=2)
        r = self.ftpc("cat", self.srv.url("c1"), self.srv.url("c2"))
        self.assertEqual(r.stdout, a + b)

    def test_cat_into_a_reader_that_leaves(self):
        # ftpc cat f | head -c 10: ends as cat does, by SIGPIPE and without a word
        data = self.srv.make_file("long.bin", 8 * MiB, seed=3)
        p = self.popen("cat", self.srv.url("long.bin"))
        self.assertEqual(p.stdout.read(10), data[:10])
        p.stdout.close()
        err = p.stderr.read()
        p.wait(timeout=20)
        self.assertEqual(p.returncode, -signal.SIGPIPE, err)
        self.assertEqual(err, b"")

    def test_rm(self):
        self.srv.make_file("r1", 1)
        self.srv.make_file("r2", 1)
        self.srv.make_file("keep", 1)
        self.ftpc("rm", self.srv.url("r1"), self.srv.url("r2"))
        self.assertFalse(self.srv.exists("r1"))
        self.assertFalse(self.srv.exists("r2"))
        self.assertTrue(self.srv.exists("keep"))

    def test_mkdir(self):
        self.ftpc("mkdir", self.srv.url("newdir"))
        self.assertTrue(os.path.isdir(self.srv.local("newdir")))
        r = self.ftpc("mkdir", self.srv.url("newdir"), rc=5)
        self.assertIn("550", r.stderr.decode())

    def test_mkdir_parents(self):
        self.ftpc("mkdir", "-p", self.srv.url("p1/p2/p3/"))
        self.assertTrue(os.path.isdir(self.srv.local("p1/p2/p3")))
        # existing: no error with -p
        self.ftpc("mkdir", "-p", self.srv.url("p1/p2"))
        # a file in the way is still an error
        self.srv.make_file("p1/file", 1)
        self.ftpc("mkdir", "-p", self.srv.url("p1/file"), rc=5)

    def test_rmdir(self):
        self.srv.mkdir("gone")
        self.srv.make_file("full/x", 1)
        self.ftpc("rmdir", self.srv.url("gone"))
        self.assertFalse(self.srv.exists("gone"))
        r = self.ftpc("rmdir", self.srv.url("full"), rc=5)
        self.assertIn("RMD", r.stderr.decode())
        self.assertTrue(self.srv.exists("full/x"))

    def test_mv_relative(self):
        data = self.srv.make_file("d/old.txt", 77)
        self.ftpc("mv", self.srv.url("d/old.txt"), "new.txt")
        self.assertFalse(self.srv.exists("d/old.txt"))
        self.assertEqual(self.srv.read("d/new.txt"), data)

    def test_mv_absolute_and_url(self):
        data = self.srv.make_file("d/m.txt", 7)
        self.srv.mkdir("e")
        self.ftpc("mv", self.srv.url("d/m.txt"), "/e/m2.txt")
        self.assertEqual(self.srv.read("e/m2.txt"), data)
        self.ftpc("mv", self.srv.url("e/m2.txt"), self.srv.url("m3 x.txt"))
        self.assertEqual(self.srv.read("m3 x.txt"), data)

    def test_mv_missing(self):
        r = self.ftpc("mv", self.srv.url("nope"), "x", rc=5)
        self.assertIn("RNFR", r.stderr.decode())


# ------------------------------------------------------------------ exit codes and messages

class TestExitCodes(FtpcCase):
    # The refused logins here test how ftpc takes a 530, not ftpd's delay before it
    # (test_session.py does): 50 ms instead of the default 1 s.
    server_kwargs = {"args": ["--login-failure-delay", "50"]}

    def test_usage_errors(self):
        # (no command at all starts the interactive shell: test_ftpc_shell.py)
        for args in (["get"], ["frobnicate", self.srv.url("x")], ["get", "http://x/y"],
                     ["get", self.srv.url("dir/")], ["put", "onlyone"],
                     ["get", "-o", "f", self.srv.url("a"), self.srv.url("b")],
                     ["ls", "-p", self.srv.url("")], ["--bogus"], ["-j", "0", "get", "x"],
                     ["get", "--limit-rate", "fast", self.srv.url("a")],
                     ["get", "ftp://127.0.0.1:%d/a%%0d%%0aDELE%%20b" % self.srv.port]):
            r = self.ftpc(*args, rc=2)
            self.assertIn(b"ftpc: ", r.stderr, args)
        # a URL quoted in a message never shows its password, parsed or not
        for url in ("ftp://u:Secret-9@127.0.0.1:99999/x", "ftp://u:Secret-9@[::1/x",
                    "ftp://u:Secret-9@127.0.0.1:%d/dir/" % self.srv.port):
            r = self.ftpc("get", url, rc=2)
            self.assertNotIn(b"Secret-9", r.stderr, url)
            self.assertIn(b"ftp://u@", r.stderr, url)
        r = subprocess.run([FTPC_BIN, "stress", "http://u:Secret-9@127.0.0.1/"],
                           capture_output=True, timeout=30)
        self.assertIn(b"http://u@127.0.0.1/", r.stderr)
        self.assertNotIn(b"Secret-9", r.stderr)
        # put -r, as scp -r: mirror is named
        r = self.ftpc("put", "-r", "somedir", self.srv.url(""), rc=2)
        self.assertIn(b"'mirror -R DIR URL' uploads one", r.stderr)
        # an empty -o or -O is named as such, not taken for the URL's lack of a name (-o) or a
        # directory to make (-O, status 6)
        r = self.ftpc("get", "-o", "", self.srv.url("a"), rc=2)
        self.assertIn(b"ftpc: -o needs a file name (or - for standard output)", r.stderr)
        r = self.ftpc("get", "-O", "", self.srv.url("a"), rc=2)
        self.assertIn(b"ftpc: -O needs a directory name", r.stderr)
        # a misspelt long option is named with the one meant
        r = self.ftpc("get", "--limt-rate", "1M", self.srv.url("a"), rc=2)
        self.assertIn(b"unknown option --limt-rate (did you mean --limit-rate?)", r.stderr)

    def test_closed_standard_descriptors_take_no_connection(self):
        """Started with standard output and error closed, ftpc's first socket took number 2:
        -v wrote the dialogue into the control connection as commands (the login failed,
        status 4), and -o - wrote into the event loop's descriptor ("Invalid argument")."""
        data = self.srv.make_file("c.bin", 3000, seed=5)

        def closed(*fds):
            return lambda: [os.close(fd) for fd in fds]
        r = subprocess.run([FTPC_BIN, "-v", "get", self.srv.url("c.bin")], cwd=self.tmp,
                           env=self.env(), stdin=subprocess.DEVNULL, timeout=60,
                           preexec_fn=closed(1, 2))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.read_local("c.bin"), data)
        r = subprocess.run([FTPC_BIN, "get", self.srv.url("c.bin"), "-o", "-"], cwd=self.tmp,
                           env=self.env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=60, preexec_fn=closed(1))
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn(b"writing to standard output: Bad file descriptor", r.stderr)

    def test_connection_refused(self):
        # bound but never listening for the whole run: refused, and no test beside it takes it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            r = self.ftpc("get", "ftp://127.0.0.1:%d/x" % port, rc=3)
        err = r.stderr.decode()
        self.assertIn("cannot connect to 127.0.0.1:%d" % port, err)
        self.assertIn("refused", err)

    def test_unknown_host(self):
        self.ftpc("get", "ftp://no-such-host.invalid/x", rc=3)

    def test_bad_login(self):
        self.srv.make_file("a", 1)
        r = self.ftpc("get", self.srv.url("a", pw="wrong"), rc=4)
        err = r.stderr.decode()
        self.assertIn("logging in", err)
        self.assertIn("530", err)  # the server's reply is quoted
        self.assertNotIn("wrong", err)  # the password is not
        self.assertEqual(os.listdir(self.tmp), [])

    def test_missing_remote_file(self):
        r = self.ftpc("get", self.srv.url("missing.bin"), rc=5)
        err = r.stderr.decode()
        self.assertIn("downloading", err)
        self.assertIn("missing.bin", err)
        self.assertRegex(err, r"550 .*No such file")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_remote_directory_named_without_slash(self):
        # SIZE is refused for a directory; the message says what the name is and what
        # downloads one, rather than quote the refusal; the next file still goes on the same
        # connection, and nothing is left locally
        self.srv.mkdir("tree")
        data = self.srv.make_file("after.bin", 1000)
        r = self.ftpc("get", self.srv.url("tree"), self.srv.url("after.bin"), rc=5)
        err = r.stderr.decode()
        self.assertIn("tree is a directory, not a file (mirror URL DIR downloads a tree", err)
        self.assertNotIn("SIZE", err)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["after.bin"])
        self.assertEqual(self.read_local("after.bin"), data)

    def test_cat_of_a_remote_directory(self):
        # as for get: named as a directory, not as the server's refusal of SIZE, and the
        # next file still comes
        self.srv.mkdir("tree")
        data = self.srv.make_file("after.bin", 1000)
        r = self.ftpc("cat", self.srv.url("tree"), self.srv.url("after.bin"), rc=5)
        err = r.stderr.decode()
        self.assertIn("tree is a directory, not a file (cat URL/* writes its files)", err)
        self.assertNotIn("SIZE", err)
        self.assertEqual(r.stdout, data)

    def test_put_of_a_local_directory(self):
        os.makedirs(self.local("tree/sub"))
        r = self.ftpc("put", "tree", self.srv.url("/"), rc=6)
        self.assertIn(b"tree is a directory, not a file (mirror -R DIR URL uploads a tree)",
                      r.stderr)
        self.assertFalse(self.srv.exists("tree"))

    def test_first_failure_decides(self):
        self.srv.make_file("ok", 10)
        # missing (5) first, bad local file (6) second
        self.write_local("exists", b"x")
        r = self.ftpc("rm", self.srv.url("nope1"), self.srv.url("nope2"), rc=5)
        self.assertEqual(r.stderr.decode().count("ftpc: removing"), 2)
        r = self.ftpc("get", self.srv.url("ok"), self.srv.url("nope"), rc=5)
        self.assertEqual(self.read_local("ok"), self.srv.read("ok"))

    def test_local_errors(self):
        self.ftpc("put", "no-such-local-file", self.srv.url("x"), rc=6)
        self.srv.make_file("a", 1)
        with open(self.local("plain-file"), "wb") as fh:
            fh.write(b"x")
        self.ftpc("get", "-O", "plain-file/sub", self.srv.url("a"), rc=6)
        self.ftpc("get", "-O", "plain-file", self.srv.url("a"), rc=6)
        r = self.ftpc("get", "-o", "no-such-dir/f", self.srv.url("a"), rc=6)
        # named as given, not by the part file ftpc writes first
        self.assertIn(b"cannot write no-such-dir/f: No such file or directory", r.stderr)
        self.assertNotIn(b"ftpc-part", r.stderr)

    def test_part_file_that_cannot_be_made_is_said(self):
        """The message named the target as if it could not be written when the part file
        beside it was the trouble: a directory of the part file's name, or a directory that
        does not let the part file be made around a target file the user may write."""
        data = self.srv.make_file("a", 5000, seed=90)
        os.mkdir(self.local(".a.ftpc-part"))
        r = self.ftpc("get", self.srv.url("a"), rc=6)
        self.assertIn(b"cannot write a: .a.ftpc-part, where the download goes first, is a "
                      b"directory", r.stderr)
        # a writable file in a directory that is not: ftpc (not root) cannot make the part
        os.chmod(self.tmp, 0o755)
        box = self.local("box")
        os.mkdir(box)
        target = os.path.join(box, "f")
        with open(target, "wb") as fh:
            fh.write(b"old")
        as_user = {}
        if os.geteuid() == 0:
            uid = pwd.getpwnam(os.environ.get("FTPD_RUN_AS", "nobody")).pw_uid
            os.chown(target, uid, -1)
            as_user = {"user": uid}
        os.chmod(box, 0o555)
        self.addCleanup(os.chmod, box, 0o755)
        r = subprocess.run([FTPC_BIN, "get", "-o", target, self.srv.url("a")], cwd=self.tmp,
                           capture_output=True, timeout=60, env=self.env(),
                           stdin=subprocess.DEVNULL, **as_user)
        self.check_output(r)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn(("cannot write %s: the part file a download goes into before it "
                       "replaces the file, %s/.f.ftpc-part, cannot be created there: "
                       "Permission denied (ftpc get -o - URL > %s writes in place)"
                       % (target, box, target)).encode(), r.stderr)
        with open(target, "rb") as fh:
            self.assertEqual(fh.read(), b"old")
        # what the message offers works
        r = subprocess.run("%s get -o - %s > %s" % (shlex.quote(FTPC_BIN),
                                                    shlex.quote(self.srv.url("a")),
                                                    shlex.quote(target)),
                           shell=True, cwd=self.tmp, capture_output=True, timeout=60,
                           env=self.env(), stdin=subprocess.DEVNULL, **as_user)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(target, "rb") as fh:
            self.assertEqual(fh.read(), data)

    def test_part_file_symlink_is_not_followed(self):
        """A symbolic link where the part file goes (planted in a shared directory) had
        ftpc truncate and write the file it points to, then rename the link into place as
        the download; with -c, the check read through it too."""
        self.srv.make_file("a", 5000, seed=94)
        victim = self.write_local("victim", b"precious")
        os.symlink(victim, self.local(".a.ftpc-part"))
        for opts in ([], ["-c"]):
            r = self.ftpc(*opts, "get", self.srv.url("a"), rc=6)
            self.assertIn(b"cannot write a: .a.ftpc-part, where the download goes first, is a "
                          b"symbolic link, which ftpc does not follow (remove it)", r.stderr)
            self.assertNotIn(b"kept", r.stderr)
            self.assertEqual(self.read_local("victim"), b"precious")
            self.assertFalse(os.path.lexists(self.local("a")))
            self.assertTrue(os.path.islink(self.local(".a.ftpc-part")))

    def test_permission_denied(self):
        srv = self.start_server(users=[("ro", "ro-Pw-1", "elr")])
        srv.make_file("f", 10)
        self.write_local("up", b"data")
        r = self.ftpc("put", "up", srv.url("f2", user="ro", pw="ro-Pw-1"), rc=5)
        self.assertRegex(r.stderr.decode(), r"STOR: the server replied 5\d\d")
        self.ftpc("rm", srv.url("f", user="ro", pw="ro-Pw-1"), rc=5)
        self.assertTrue(srv.exists("f"))


# ------------------------------------------------------------------ a scripted server

class FakeFtp(threading.Thread):
    """One scripted session: the misbehaviour ftpd never shows (a SIZE that lies, no EPSV,
    multi-line replies everywhere). Bounded: every socket has a timeout."""

    def __init__(self, size_reply="213 100", payload=b"x" * 50, epsv=True):
        super().__init__(daemon=True)
        self.size_reply = size_reply
        self.payload = payload
        self.epsv = epsv
        self.commands = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(20)
        self.port = self.lsock.getsockname()[1]
        self.dsock = None

    def _data_listener(self):
        self.dsock = socket.socket()
        self.dsock.bind(("127.0.0.1", 0))
        self.dsock.listen(1)
        self.dsock.settimeout(10)
        return self.dsock.getsockname()[1]

    def run(self):
        try:
            conn, _ = self.lsock.accept()
        except OSError:
            return
        conn.settimeout(10)
        f = conn.makefile("rwb")

        def send(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        try:
            send("220-Welcome to the fake\r\n220 ready")
            for raw in f:
                line = raw.decode().rstrip("\r\n")
                self.commands.append(line)
                verb = line.split(" ")[0].upper()
                if verb == "USER":
                    send("331 pw")
                elif verb == "PASS":
                    send("230-Hello\r\n more text\r\n230 in")
                elif verb == "FEAT":
                    send("211-Features:\r\n SIZE\r\n REST STREAM\r\n211 End")
                elif verb == "TYPE":
                    send("200 ok")
                elif verb == "SIZE":
                    send(self.size_reply)
                elif verb == "EPSV" and self.epsv:
                    send("229 Entering Extended Passive Mode (|||%d|)" % self._data_listener())
                elif verb == "PASV":
                    p = self._data_listener()
                    send("227 Entering Passive Mode (127,0,0,1,%d,%d)" % (p >> 8, p & 255))
                elif verb == "RETR":
                    send("150 here it comes")
                    d, _ = self.dsock.accept()
                    d.sendall(self.payload)
                    d.close()
                    send("226 done")
                elif verb == "QUIT":
                    send("221 bye")
                    break
                else:
                    send("500 not understood")
        except OSError:
            pass
        finally:
            conn.close()
            self.lsock.close()
            if self.dsock:
                self.dsock.close()


class TestScripted(unittest.TestCase):
    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        self.tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_ftpc(self, *args):
        return subprocess.run([FTPC_BIN] + list(args), cwd=self.tmp, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def test_size_mismatch_is_verification_failure(self):
        fake = FakeFtp(size_reply="213 100", payload=b"y" * 50)
        fake.start()
        r = self.run_ftpc("get", "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port)
        fake.join(20)
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"size mismatch", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "f.bin")))
        # the bytes stay in the part file for a later resume
        with open(os.path.join(self.tmp, ".f.bin.ftpc-part"), "rb") as fh:
            self.assertEqual(fh.read(), b"y" * 50)

    def test_pasv_fallback_and_multiline(self):
        fake = FakeFtp(size_reply="213 5", payload=b"hello", epsv=False)
        fake.start()
        r = self.run_ftpc("get", "ftp://u:p@127.0.0.1:%d/h.txt" % fake.port)
        fake.join(20)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp, "h.txt"), "rb") as fh:
            self.assertEqual(fh.read(), b"hello")
        verbs = [c.split(" ")[0] for c in fake.commands]
        self.assertLess(verbs.index("EPSV"), verbs.index("PASV"))
        self.assertIn("PASS p", fake.commands)


# ------------------------------------------------------------------ globs

class TestGlobs(FtpcCase):
    def test_remote_glob(self):
        want = {n: self.srv.make_file("logs/" + n, 1000 + i, seed=i)
                for i, n in enumerate(["a.gz", "b.gz", "c.gz"])}
        self.srv.make_file("logs/skip.txt", 5)
        self.srv.make_file("logs/.hidden.gz", 5)
        self.srv.mkdir("logs/dir.gz")  # a directory is no file to fetch
        r = self.ftpc("-j", "2", "get", self.srv.url("logs/*.gz"))
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(want))
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)
        lines = r.stderr.decode().splitlines()
        # three summaries, each ending with its HASH check (--verify, the default), and the
        # run's total
        self.assertEqual(len([l for l in lines if l.endswith(", verified sha256")]), 3, lines)
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(lines[-1].startswith("Total: 3 files, "), lines)

    def test_remote_glob_order_and_other_urls(self):
        a = self.srv.make_file("x1", 10, seed=1)
        b = self.srv.make_file("x2", 20, seed=2)
        c = self.srv.make_file("single", 30, seed=3)
        r = self.ftpc("cat", self.srv.url("single"), self.srv.url("x?"))
        self.assertEqual(r.stdout, c + a + b)

    def test_remote_glob_no_match(self):
        self.srv.make_file("d/a.txt", 1)
        r = self.ftpc("get", self.srv.url("d/*.gz"), rc=5)
        self.assertIn("no file matches", r.stderr.decode())
        r = self.ftpc("get", self.srv.url("missing-dir/*.gz"), rc=5)
        self.assertIn("550", r.stderr.decode())

    def test_remote_glob_with_o_file(self):
        self.srv.make_file("g1", 1)
        self.srv.make_file("g2", 1)
        self.ftpc("get", "-o", "one", self.srv.url("g*"), rc=2)
        data = self.srv.make_file("h1", 5)
        self.ftpc("get", "-o", "one", self.srv.url("h*"))
        self.assertEqual(self.read_local("one"), data)

    def test_no_glob(self):
        data = self.srv.make_file("star*name", 7)
        self.srv.make_file("starXname", 1)
        self.ftpc("--no-glob", "get", "-o", "out", self.srv.url("star*name"))
        self.assertEqual(self.read_local("out"), data)

    def test_escaped_glob_characters_are_part_of_the_name(self):
        # as fnmatch reads a pattern: star\*name is the file star*name, fetched by its name
        # (no listing), and a missing one is the server's 550, not "no file matches"
        data = self.srv.make_file("star*name", 7)
        self.srv.make_file("starXname", 1)
        self.ftpc("get", self.srv.url("star\\*name"))
        self.assertEqual(os.listdir(self.tmp), ["star*name"])
        self.assertEqual(self.read_local("star*name"), data)
        r = self.ftpc("get", self.srv.url("nothing\\?here"), rc=5)
        err = r.stderr.decode()
        self.assertIn("nothing?here: No such file", err)
        self.assertNotIn("no file matches", err)

    def test_a_name_with_glob_characters_is_fetched_by_its_name(self):
        # "report [final].txt" is a pattern that matches "report f.txt" and the like, not
        # itself: before, the file named so could not be fetched ("no file matches", 5)
        data = self.srv.make_file("d/report [final].txt", 9, seed=1)
        self.srv.make_file("d/other.txt", 3, seed=2)
        r = self.ftpc("get", self.srv.url("d/report [final].txt"))
        self.assertEqual(os.listdir(self.tmp), ["report [final].txt"])
        self.assertEqual(self.read_local("report [final].txt"), data)
        self.assertNotIn("no file matches", r.stderr.decode())
        r = self.ftpc("cat", self.srv.url("d/report [final].txt"))
        self.assertEqual(r.stdout, data)

    def test_names_left_out_are_counted_when_nothing_else_matches(self):
        # The pattern matched one name that cannot be fetched (a CR in it); the second
        # search, for the pattern's own name, must not wipe that count from the message.
        self.srv.make_file("d/x\ry.txt", 1)
        r = self.ftpc("get", self.srv.url("d/x*"), rc=5)
        err = r.stderr.decode()
        self.assertIn("1 matching name left out: a '/', CR or LF in the name", err)
        self.assertIn("no file matches", err)

    def test_a_pattern_that_matches_other_names_still_means_them(self):
        # sh(1)'s rule: the name stands for itself only where the pattern matches nothing
        self.srv.make_file("d/[ab].txt", 9, seed=1)
        a = self.srv.make_file("d/a.txt", 3, seed=2)
        self.ftpc("get", self.srv.url("d/[ab].txt"))
        self.assertEqual(os.listdir(self.tmp), ["a.txt"])
        self.assertEqual(self.read_local("a.txt"), a)

    def test_local_glob_for_put(self):
        self.srv.mkdir("up")
        for i in range(3):
            self.write_local("f%d.log" % i, data_bytes(100 + i, i))
        self.write_local("other.txt", b"no")
        self.ftpc("put", "f*.log", self.srv.url("up"))  # quoted: no shell expanded it
        self.assertEqual(sorted(os.listdir(self.srv.local("up"))), ["f0.log", "f1.log", "f2.log"])
        self.ftpc("put", "nothing*.log", self.srv.url("up/"), rc=6)


# ------------------------------------------------------------------ modes

class TestModes(FtpcCase):
    def test_active_get_put(self):
        data = self.srv.make_file("act.bin", 2 * MiB + 3, seed=5)
        r = self.ftpc("-v", "--active", "get", self.srv.url("act.bin"))
        self.assertEqual(self.read_local("act.bin"), data)
        self.assertRegex(r.stderr.decode(), r"> (EPRT|PORT) ")
        self.assertNotIn("> EPSV", r.stderr.decode())
        self.ftpc("--active", "put", "act.bin", self.srv.url("back.bin"))
        self.assertEqual(self.srv.read("back.bin"), data)
        r = self.ftpc("--active", "ls", self.srv.url(""))
        self.assertIn("back.bin", r.stdout.decode().splitlines())

    def test_passive_uses_epsv(self):
        self.srv.make_file("p.bin", 10)
        r = self.ftpc("-v", "get", self.srv.url("p.bin"))
        err = r.stderr.decode()
        self.assertIn("> EPSV", err)
        self.assertIn("> TYPE I", err)
        self.assertIn("> PASS ****", err)
        self.assertNotIn(self.srv.password, err)

    def test_verbose_numbers_the_connections_of_parallel_transfers(self):
        # -j 2: two dialogues interleave on standard error; each line says whose it is
        a = self.srv.make_file("va.bin", 300000, seed=7)
        b = self.srv.make_file("vb.bin", 300000, seed=8)
        r = self.ftpc("-v", "-j", "2", "--no-verify", "get", self.srv.url("va.bin"),
                      self.srv.url("vb.bin"))
        self.assertEqual((self.read_local("va.bin"), self.read_local("vb.bin")), (a, b))
        dialogue = [l for l in r.stderr.decode().splitlines() if re.search(r"[<>] ", l)]
        tags = {}
        for line in dialogue:
            m = re.match(r"\[(\d+)\] ([<>]) (.*)", line)
            self.assertIsNotNone(m, "untagged: %r in\n%s" % (line, r.stderr.decode()))
            tags.setdefault(m.group(1), []).append(m.group(2) + " " + m.group(3))
        self.assertEqual(sorted(tags), ["1", "2"], r.stderr.decode())
        for lines in tags.values():
            # each connection's own dialogue reads in order: its RETR, then that file's 150
            i = next(i for i, l in enumerate(lines) if l.startswith("> RETR "))
            self.assertTrue(lines[i + 1].startswith("< 150 "), lines)
            self.assertIn(lines[i][len("> RETR "):], lines[i + 1])
        # one connection: the lines as they were, untagged
        r = self.ftpc("-v", "get", "-o", "again.bin", self.srv.url("va.bin"))
        self.assertRegex(r.stderr.decode(), r"(?m)^> RETR va\.bin$")
        self.assertNotRegex(r.stderr.decode(), r"(?m)^\[\d+\] ")

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_ipv6(self):
        srv = self.start_server(listen="[::1]:0")
        data = srv.make_file("six.bin", 100000, seed=6)
        url = srv.url("six.bin")
        self.assertIn("[::1]", url)
        self.ftpc("get", url)
        self.assertEqual(self.read_local("six.bin"), data)
        self.ftpc("put", "six.bin", srv.url("six-up.bin"))
        self.assertEqual(srv.read("six-up.bin"), data)
        self.ftpc("--active", "get", "-o", "six-active.bin", url)
        self.assertEqual(self.read_local("six-active.bin"), data)

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_active_to_an_ipv4_mapped_address(self):
        """[::ffff:127.0.0.1] reaches the IPv4 server through an IPv6 socket, so ftpc's own
        end is the mapped address too: the active listener must take it as IPv4 (an IPv6-only
        socket cannot bind it) and announce it with EPRT |1|."""
        data = self.srv.make_file("mapped.bin", 100000, seed=9)
        url = self.srv.url("mapped.bin").replace("@127.0.0.1:", "@[::ffff:127.0.0.1]:")
        r = self.ftpc("-v", "--active", "get", url)
        self.assertEqual(self.read_local("mapped.bin"), data)
        self.assertIn("> EPRT |1|127.0.0.1|", r.stderr.decode())
        self.ftpc("--active", "put", "mapped.bin", url.replace("mapped.bin", "mapped-up.bin"))
        self.assertEqual(self.srv.read("mapped-up.bin"), data)


# ------------------------------------------------------------------ parallel

class TestParallel(FtpcCase):
    def most_at_once(self, in_flight, *args):
        """Runs ftpc with args to its successful end, looking every 10 ms at in_flight(), the
        files of the transfers under way; returns the most seen at once. Counted so, not
        timed: a loaded machine (a sanitizer build, tests beside it) stretched the 2 s of
        four at once past a time limit."""
        p = self.popen(*args)
        most = 0
        while p.poll() is None:
            most = max(most, len(in_flight()))
            time.sleep(0.01)
        out, err = p.communicate(timeout=60)
        self.check_output(subprocess.CompletedProcess(args, p.returncode, out, err))
        self.assertEqual(p.returncode, 0, err.decode("utf-8", "replace")[-3000:])
        return most

    def test_get_j4(self):
        names = ["par%d.bin" % i for i in range(8)]
        want = {n: self.srv.make_file(n, 256 * 1024 + i, seed=i) for i, n in enumerate(names)}
        # 8 files of 256 KiB at 256 KiB/s each: each part file is there for a second
        parts = lambda: [n for n in os.listdir(self.tmp) if n.endswith(".ftpc-part")]
        most = self.most_at_once(parts, "-j", "4", "--limit-rate", "256k", "get",
                                 *[self.srv.url(n) for n in names])
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)
        self.assertEqual(most, 4, "-j 4 did not run transfers at once")

    def test_put_j4(self):
        # 8 files at 200 KiB/s each: each upload's temp file is on the server for a second
        names = ["up%d.bin" % i for i in range(8)]
        for i, n in enumerate(names):
            self.write_local(n, data_bytes(200 * 1024 + i, 10 + i))
        most = self.most_at_once(self.srv.internal_files, "-j", "4", "--limit-rate", "200k",
                                 "put", *names, self.srv.url(""))
        for n in names:
            self.assertEqual(self.srv.read(n), self.read_local(n))
        self.assertEqual(most, 4, "-j 4 did not run uploads at once")

    def test_same_destination_not_at_once(self):
        # Two downloads to one file must not share the part file at the same time: one URL
        # named again is fetched once (another URL of the same name is refused, before
        # anything is fetched: test_ftpc_dest).
        data = self.srv.make_file("dup.bin", 2 * MiB, seed=40)
        self.ftpc("-j", "4", "get", self.srv.url("dup.bin"), self.srv.url("dup.bin"),
                  self.srv.url("dup.bin"))
        self.assertEqual(self.read_local("dup.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["dup.bin"])
        log = self.srv.settled_log_text(sessions=1)
        self.assertEqual(len(re.findall(r"-> RETR dup\.bin$", log, re.M)), 1, log)

    def test_get_j4_many_small_files(self):
        # More files than jobs, on reused connections.
        want = {"s%02d" % i: self.srv.make_file("s%02d" % i, i * 100, seed=i) for i in range(30)}
        self.ftpc("-j", "4", "get", *[self.srv.url(n) for n in want])
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)


class TestParallelConnLimit(FtpcCase):
    """Two sessions per address: of -j 8's connections six are turned away (421 at the
    greeting). Their files wait for the two that got in, nothing fails, the limit is said
    once, and no connection is tried again beyond the first burst."""
    server_kwargs = {"args": ["--max-per-ip", "2"]}

    def check_limit_run(self, r, most_refused):
        err = r.stderr.decode()
        self.assertEqual(len(re.findall(r"turned away connections beyond 2 \(421 ", err)), 1,
                         err)
        self.assertIn("going on with 2 at once", err)
        self.assertNotIn("retrying", err.lower())
        refused = len(re.findall(r"refused: Too many", self.srv.settled_log_text()))
        self.assertTrue(1 <= refused <= most_refused, refused)

    def test_get_j8(self):
        want = {"c%02d.bin" % i: self.srv.make_file("c%02d.bin" % i, 50000 + i, seed=i)
                for i in range(20)}
        r = self.ftpc("-j", "8", "get", *[self.srv.url(n) for n in sorted(want)])
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(want))
        self.assertRegex(r.stderr.decode(), r"(?m)^Total: 20 files, ")
        self.check_limit_run(r, 6)

    def test_put_j8(self):
        names = ["u%02d.bin" % i for i in range(12)]
        for i, n in enumerate(names):
            self.write_local(n, data_bytes(40000 + i, 80 + i))
        r = self.ftpc("-j", "8", "put", *names, self.srv.url(""))
        for n in names:
            self.assertEqual(self.srv.read(n), self.read_local(n))
        self.assertEqual(self.srv.internal_files(), [])
        self.check_limit_run(r, 6)


    def test_limit_learned_while_others_were_in_rises_again(self):
        # another client holds a session while -j 3 starts: ftpc learns 1 at once; once that
        # client has gone, a later attempt (after FTPC_CONN_LIMIT_PROBE_S) finds room again
        names = ["r%02d.bin" % i for i in range(10)]
        want = {n: self.srv.make_file(n, 512 * 1024, seed=60 + i) for i, n in enumerate(names)}
        other = self.srv.ftp()
        p = self.popen("-j", "3", "--limit-rate", "400k", "get",
                       *[self.srv.url(n) for n in names])
        self.assertTrue(wait_for(lambda: "refused: Too many" in self.srv.log_text(), 10))
        other.quit()
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)
        self.assertIn(b"going on with 1 at once", err)
        log = self.srv.settled_log_text()
        sessions = set(re.findall(r"\[(\d+)\] [^\n]*: RETR /r\d\d\.bin ok", log))
        self.assertGreaterEqual(len(sessions), 2, log[-3000:])


class NoHashMdtmFtp(ScriptedFtp):
    """Serves one file (SIZE, MDTM, REST, RETR) and has no HASH, as vsftpd; records the
    offset of each RETR."""

    FEATURES = ("SIZE", "MDTM", "REST STREAM")

    def __init__(self, data, mtime, sessions):
        super().__init__(sessions)
        self.data, self.mtime, self.rests = data, mtime, []

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "MDTM":
            s.send("213 " + time.strftime("%Y%m%d%H%M%S", time.gmtime(self.mtime)))
        elif verb == "RETR":
            rest, s.rest = s.rest, 0
            self.rests.append(rest)
            s.send_download(self.data[rest:])
        else:
            return super().command(s, verb, arg)
        return True


class ReplacedAfterCutFtp(NoHashMdtmFtp):
    """The first RETR sends the start of the file and hangs up (a server killed); the file
    is then replaced by another of the same size, changed after the cut."""

    def __init__(self, old, new, mtime):
        super().__init__(old, mtime, sessions=4)
        self.new = new

    def command(self, s, verb, arg):
        if verb == "RETR" and not self.rests:
            self.rests.append(s.rest)
            s.send("150 here")
            d = s.accept_data()
            d.sendall(self.data[:100000])
            d.close()
            self.data, self.mtime = self.new, time.time() + 5
            return False
        return super().command(s, verb, arg)


class RestartRefusedFtp(NoHashMdtmFtp):
    """Accepts REST but refuses the RETR after it, as ProFTPD with AllowRetrieveRestart off
    does; a RETR from the start sends the file."""

    def command(self, s, verb, arg):
        if verb == "RETR" and s.rest > 0:
            self.rests.append(s.rest)
            s.rest = 0
            s.send("451 %s: Restart not permitted, try again" % arg)
            return True
        return super().command(s, verb, arg)


class NoRestCutFtp(ScriptedFtp):
    """Has SIZE but refuses REST; each RETR sends the first 1000 bytes of data and ends with
    426 (a transfer cut off)."""

    FEATURES = ("SIZE",)

    def __init__(self, data):
        super().__init__(2)
        self.data = data

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "REST":
            s.send("502 no REST here")
        elif verb == "RETR":
            s.send("150 here")
            d = s.accept_data()
            d.sendall(self.data[:1000])
            d.close()
            s.send("426 cut")
        else:
            return super().command(s, verb, arg)
        return True


class OptionWordFtp(ScriptedFtp):
    """vsftpd without MLSD: LIST or NLST of a word starting with - lists the login directory
    (the word read as ls options), which holds the directory -d; ./-d/ lists -d."""

    TREE = {"": ["drwxr-xr-x 2 ftp ftp 4096 Jan  1  2025 -d",
                 "-rw-r--r-- 1 ftp ftp 3 Jan  1  2025 top.bin"],
            "-d": ["-rw-r--r-- 1 ftp ftp 5 Jan  1  2025 in.bin"]}
    DATA = {"top.bin": b"top", "-d/in.bin": b"inner"}

    def __init__(self):
        super().__init__(sessions=8)
        self.args = []

    def command(self, s, verb, arg):
        if verb in ("LIST", "NLST"):
            self.args.append(arg)
            path = "" if arg.startswith("-") else arg.strip("/")
            if path.startswith("./"):
                path = path[2:]
            lines = self.TREE[path] if verb == "LIST" else \
                [l.split()[-1] for l in self.TREE[path]]
            s.send_download("".join(l + "\r\n" for l in lines).encode())
        elif verb == "SIZE" and arg.lstrip("./") in self.DATA:
            s.send("213 %d" % len(self.DATA[arg.lstrip("./")]))
        elif verb == "RETR":
            s.send_download(self.DATA[arg.lstrip("./")])
        else:
            return super().command(s, verb, arg)
        return True


class NlstOnlyFtp(ScriptedFtp):
    """vsftpd without MLSD: NLST lists the directory "[zz]" beside a file; CWD tells which
    is the directory."""

    def __init__(self):
        super().__init__(sessions=8)
        self.sent = []

    def command(self, s, verb, arg):
        self.sent.append((verb, arg))
        if verb == "NLST":
            s.send_download(b"[zz]\r\na.txt\r\n")
        elif verb == "PWD":
            s.send('257 "/"')
        elif verb == "CWD":
            s.send("250 ok" if arg.strip("/") in ("", "[zz]") else "550 Failed to change directory.")
        elif verb in ("SIZE", "RETR", "MDTM"):
            s.send("550 Could not get file size." if verb != "RETR" else "550 Failed to open file.")
        else:
            return super().command(s, verb, arg)
        return True


class TestPatternAsNameWithoutMlsd(FtpcCase):
    def test_a_directory_named_by_a_pattern_fails_as_a_directory(self):
        # "[zz]" matches no name, so it stands for itself; in an NLST listing (directories
        # too) it names the directory "[zz]", which must fail as "get DIR" does, not be
        # passed over with status 0 as a directory a pattern happened to match.
        fake = NlstOnlyFtp()
        fake.start()
        try:
            r = self.ftpc("--no-verify", "get", "ftp://u:p@127.0.0.1:%d/[zz]" % fake.port, rc=5)
        finally:
            fake.stop()
        self.assertRegex(r.stderr.decode(), r"\[zz\] is a directory, not a file")
        self.assertEqual(os.listdir(self.tmp), [])


class TestOptionWordPaths(FtpcCase):
    """A path that starts with - goes out as ./-path in LIST and NLST: read as ls options,
    it would list the login directory (ls shows the wrong one, and a mirror walks
    -d/-d/-d/... down to its depth limit)."""

    def scripted(self, *args, rc=0):
        fake = OptionWordFtp()
        fake.start()
        r = self.ftpc("--no-verify", *[a.replace("URL", "ftp://u:p@127.0.0.1:%d" % fake.port)
                                       for a in args], rc=rc)
        fake.stop()
        return r, fake.args

    def test_ls(self):
        r, sent = self.scripted("ls", "URL/-d/")
        self.assertEqual(r.stdout.decode().splitlines(), ["in.bin"])
        self.assertEqual(sent, ["./-d/"])
        r, sent = self.scripted("ls", "-l", "URL/-d")
        self.assertEqual(r.stdout.decode().split()[-1:], ["in.bin"])

    def test_mirror_without_mlsd(self):
        r, sent = self.scripted("mirror", "URL/", "out")
        self.assertEqual(sorted(sent), ["", "./-d/"])
        self.assertEqual(self.read_local("out/-d/in.bin"), b"inner")
        self.assertEqual(self.read_local("out/top.bin"), b"top")
        self.assertEqual(sorted(os.listdir(self.local("out"))), ["-d", "top.bin"])


class Max530Ftp(ScriptedFtp):
    """ProFTPD's MaxClientsPerHost: two sessions logged in at once; a third is refused at PASS
    with 530, and only once both are through their login (TYPE answered on each), as a
    server that counts sessions as they log in would answer a client slower than these two.
    (Refused once only one was through, ftpc would see one session in and learn a limit of
    one: the test would depend on which reply comes first.)"""

    def __init__(self, files, sessions=40):
        super().__init__(sessions, timeout=10)
        self.files = files
        self.lock = threading.Lock()
        self.inside = 0
        self.typed = threading.Condition(self.lock)
        self.sessions_typed = 0
        self.refused = 0

    def command(self, s, verb, arg):
        if verb == "PASS":
            with self.lock:
                full = self.inside >= 2
                if not full:
                    self.inside += 1
                    s.counted = True
            if full:
                with self.typed:  # both are through
                    self.typed.wait_for(lambda: self.sessions_typed >= 2, timeout=10)
                    self.refused += 1
                s.send("530 Sorry, the maximum number of clients (2) from your host are "
                       "already connected.")
                return False
            s.send("230 in")
        elif verb == "TYPE":
            s.send("200 ok")
            with self.typed:
                if not getattr(s, "typed", False):
                    s.typed = True
                    self.sessions_typed += 1
                    self.typed.notify_all()
        elif verb == "SIZE":
            name = arg.lstrip("/")
            s.send("213 %d" % len(self.files[name]) if name in self.files else "550 no")
        elif verb == "RETR":
            s.send_download(self.files[arg.lstrip("/")])
        else:
            return super().command(s, verb, arg)
        return True

    def ended(self, s):
        if getattr(s, "counted", False):
            with self.lock:
                self.inside -= 1


class TestParallelLogin530(FtpcCase):
    """A 530 to PASS on one connection while another with the same account is in is the
    server's limit, not a bad password: the file waits for a connection that got in."""

    def test_get_j4_530_limit(self):
        files = {"p%d.bin" % i: data_bytes(30000 + i, 90 + i) for i in range(8)}
        srv = Max530Ftp(files)
        srv.start()
        self.addCleanup(srv.stop)
        base = "ftp://u:pw@127.0.0.1:%d/" % srv.port
        r = self.ftpc("-j", "4", "get", *[base + n for n in sorted(files)])
        for n, data in files.items():
            self.assertEqual(self.read_local(n), data)
        err = r.stderr.decode()
        self.assertIn("turned away connections beyond 2 (530 Sorry, the maximum", err)
        self.assertLessEqual(srv.refused, 2)

    def test_bad_password_still_fails(self):
        # No connection gets in: every 530 is a refused login, as before.
        r = self.ftpc("-j", "4", "get", *[self.srv.url("nope%d" % i, user="alice",
                                                       pw="wrong") for i in range(4)],
                      rc=4)
        self.assertNotIn("turned away", r.stderr.decode())


class OneFilePerSessionFtp(ScriptedFtp):
    """Ends every session after one download, as a server with an idle timeout or a limit on
    files per session does: with "421" right after the 226 and a close (unasked=True), or
    with 421 to the next command."""

    def __init__(self, files, unasked, sessions=40):
        super().__init__(sessions, timeout=10)
        self.files, self.unasked = files, unasked

    def command(self, s, verb, arg):
        if getattr(s, "done", False):
            s.send("421 Timeout (no operation for 1 seconds)")
            return False
        if verb == "SIZE":
            name = arg.lstrip("/")
            s.send("213 %d" % len(self.files[name]) if name in self.files else "550 no")
        elif verb == "RETR":
            s.send_download(self.files[arg.lstrip("/")])
            s.done = True
            if self.unasked:
                s.send("421 Timeout (no operation for 1 seconds)")
                return False
        else:
            return super().command(s, verb, arg)
        return True


class TestReusedConnectionClosed(FtpcCase):
    """-j reuses a finished task's connection; one the server closed meanwhile (421, then the
    close) costs a new connection, not the next file nor the check of the last one."""

    def test_get_j4(self):
        files = {"s%d.bin" % i: data_bytes(20000 + i, 120 + i) for i in range(10)}
        for unasked in (True, False):
            srv = OneFilePerSessionFtp(files, unasked)
            srv.start()
            self.addCleanup(srv.stop)
            base = "ftp://u:pw@127.0.0.1:%d/" % srv.port
            r = self.ftpc("-j", "4", "get", *[base + n for n in sorted(files)])
            for n, data in files.items():
                self.assertEqual(self.read_local(n), data)
                os.unlink(self.local(n))
            # the server's 421 is never reported (a rate such as "421 KiB/s" is no reply)
            self.assertNotIn(b"421 Timeout", r.stderr)
            self.assertIn(b"Total: 10 files,", r.stderr)


class RefusesAtTheEndFtp(ScriptedFtp):
    """Fails transfers once their bytes have moved: an upload of a name starting with "big"
    is read whole and then refused (552, a quota), a download of one starting with "cut"
    sends half the file and ends with 426. Other names go through."""

    def __init__(self, files):
        super().__init__(sessions=20, timeout=10)
        self.files = dict(files)
        self.lock = threading.Lock()

    def command(self, s, verb, arg):
        name = arg.lstrip("/")
        if verb == "SIZE":
            with self.lock:
                data = self.files.get(name)
            s.send("550 no" if data is None else "213 %d" % len(data))
        elif verb == "RETR":
            data = self.files[name]
            if name.startswith("cut"):
                s.send("150 here")
                d = s.accept_data()
                d.sendall(data[:len(data) // 2])
                d.close()
                s.send("426 cut")
            else:
                s.send_download(data)
        elif verb == "STOR":
            got = s.receive_upload()
            if name.startswith("big"):
                s.send("552 quota exceeded")
            else:
                with self.lock:
                    self.files[name] = bytes(got)
                s.send("226 stored")
        else:
            return super().command(s, verb, arg)
        return True


class TestTotalLine(FtpcCase):
    """The run's Total line adds up what the files that arrived took, in both directions:
    the bytes of a failed upload (refused once sent) or download (cut off) arrived nowhere,
    and "2 of 4 files, SIZE" reads as the size of the two."""

    def scripted(self, files):
        srv = RefusesAtTheEndFtp(files)
        srv.start()
        self.addCleanup(srv.stop)
        return srv, "ftp://u:p@127.0.0.1:%d/" % srv.port

    def test_failed_uploads_are_not_counted(self):
        srv, base = self.scripted({})
        names = {"ok1.bin": MiB, "big1.bin": MiB // 2, "ok2.bin": MiB, "big2.bin": MiB // 2}
        for i, (n, size) in enumerate(names.items()):
            self.write_local(n, data_bytes(size, 30 + i))
        r = self.ftpc("--no-verify", "put", *names, base, rc=5)
        err = r.stderr.decode()
        self.assertIn("552 quota exceeded", err)
        self.assertEqual(srv.files["ok1.bin"], self.read_local("ok1.bin"))
        self.assertRegex(err, r"(?m)^Total: 2 of 4 files, 2\.00 MiB in ")

    def test_failed_downloads_are_not_counted(self):
        files = {"ok1.bin": data_bytes(MiB, 40), "cut.bin": data_bytes(MiB, 41),
                 "ok2.bin": data_bytes(MiB, 42)}
        srv, base = self.scripted(files)
        r = self.ftpc("--no-verify", "get", *[base + n for n in files], rc=7)
        err = r.stderr.decode()
        self.assertIn("426 cut", err)
        self.assertEqual(self.read_local("ok2.bin"), files["ok2.bin"])
        self.assertRegex(err, r"(?m)^Total: 2 of 3 files, 2\.00 MiB in ")


class TestSummaryNamesTheCopy(FtpcCase):
    """A copy given another name says where it went: "SOURCE -> NAME", a put as a get."""

    def test_put_under_another_name(self):
        data = data_bytes(3000, 89)
        self.write_local("f.bin", data)
        r = self.ftpc("put", "f.bin", self.srv.url("other.bin"))
        self.assertEqual(self.srv.read("other.bin"), data)
        self.assertRegex(r.stderr.decode(), r"(?m)^f\.bin -> other\.bin: 2\.93 KiB in ")
        # a segmented put names its copy the same way
        data = data_bytes(4 * MiB, 92)
        self.write_local("g.bin", data)
        r = self.ftpc("--segments", "2", "put", "g.bin", self.srv.url("other2.bin"))
        self.assertEqual(self.srv.read("other2.bin"), data)
        self.assertRegex(r.stderr.decode(), r"(?m)^g\.bin -> other2\.bin: 4\.00 MiB in ")

    def test_get_to_another_name(self):
        self.srv.make_file("other.bin", 3000, seed=90)
        for opts in ([], ["--segments", "2"]):
            r = self.ftpc(*opts, "get", self.srv.url("other.bin"), "-o", "g.bin")
            self.assertRegex(r.stderr.decode(), r"(?m)^other\.bin -> g\.bin: 2\.93 KiB in ")

    def test_same_name_is_said_once(self):
        self.write_local("f.bin", data_bytes(3000, 91))
        r = self.ftpc("put", "f.bin", self.srv.url(""))
        self.assertRegex(r.stderr.decode(), r"(?m)^f\.bin: 2\.93 KiB in ")
        r = self.ftpc("get", self.srv.url("f.bin"), "-O", "sub")
        self.assertRegex(r.stderr.decode(), r"(?m)^f\.bin: 2\.93 KiB in ")


# ------------------------------------------------------------------ resume and retry

class TestResume(FtpcCase):
    def _kill_when(self, p, pred, what):
        ok = wait_for(pred, timeout=15)
        if not ok:
            p.kill()
            out, err = p.communicate(timeout=10)
            self.fail("%s never happened; ftpc exit %s, stderr %r" % (what, p.returncode, err))
        p.kill()  # SIGKILL: no chance to clean anything up
        p.communicate(timeout=10)

    def test_resume_killed_download(self):
        data = self.srv.make_file("big.bin", 3 * MiB, seed=11)
        part = self.local(".big.bin.ftpc-part")
        p = self.popen("-q", "--limit-rate", "1M", "get", self.srv.url("big.bin"))
        self._kill_when(p, lambda: os.path.exists(part) and os.path.getsize(part) >= 400 * 1024,
                        "a partial download")
        have = os.path.getsize(part)
        self.assertLess(have, len(data))
        self.assertFalse(os.path.exists(self.local("big.bin")))
        self.assertEqual(self.read_local(".big.bin.ftpc-part"), data[:have])
        r = self.ftpc("-v", "-c", "get", self.srv.url("big.bin"))
        # asked from 4 KiB early: those bytes are compared with the ones kept
        self.assertRegex(r.stderr.decode(), r"> REST %d\b" % (have - OVERLAP))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assertFalse(os.path.exists(part))

    def test_resume_killed_download_of_a_long_name(self):
        # 252 bytes: ".NAME.ftpc-part" would not fit in a file name, so the part file
        # keeps the name's start and a digest of all of it, and -c finds it again
        name = "\u00e9" * 124 + ".bin"
        data = self.srv.make_file(name, 3 * MiB, seed=12)
        p = self.popen("-q", "--limit-rate", "1M", "get", self.srv.url(name))

        def part():
            parts = [n for n in os.listdir(self.tmp) if n.endswith(".ftpc-part")]
            if parts and os.path.getsize(self.local(parts[0])) >= 400 * 1024:
                return parts[0]
            return None
        self._kill_when(p, part, "a partial download")
        parts = [n for n in os.listdir(self.tmp) if n.endswith(".ftpc-part")]
        self.assertEqual(len(parts), 1, parts)
        self.assertRegex(parts[0], r"^\.\u00e9{100}\u00e9*~[0-9a-f]{16}\.ftpc-part$")
        self.assertLessEqual(len(parts[0].encode()), 255)
        have = os.path.getsize(self.local(parts[0]))
        r = self.ftpc("-v", "-c", "get", self.srv.url(name))
        self.assertRegex(r.stderr.decode(), r"> REST %d\b" % (have - OVERLAP))
        self.assertEqual(self.read_local(name), data)
        self.assertEqual(os.listdir(self.tmp), [name])

    def test_resume_existing_file_in_place(self):
        data = self.srv.make_file("inplace.bin", 100000, seed=12)
        self.write_local("inplace.bin", data[:30000])
        r = self.ftpc("-v", "-c", "get", self.srv.url("inplace.bin"))
        self.assertIn("> REST %d" % (30000 - OVERLAP), r.stderr.decode())
        self.assertEqual(self.read_local("inplace.bin"), data)

    def test_resume_complete_file_transfers_nothing(self):
        data = self.srv.make_file("done.bin", 5000, seed=13)
        self.write_local("done.bin", data)
        r = self.ftpc("-v", "-c", "get", self.srv.url("done.bin"))
        err = r.stderr.decode()
        self.assertNotIn("> RETR", err)
        self.assertEqual(self.read_local("done.bin"), data)
        # the check before found the whole file equal: it is not hashed a second time after
        # it, whether the file is there under its name or whole in its part file
        self.assertRegex(err, r"(?m)^done\.bin: verified sha256$")
        self.assertEqual(err.count("> HASH done.bin"), 1, err)
        os.rename(self.local("done.bin"), self.local(".done.bin.ftpc-part"))
        r = self.ftpc("-v", "-c", "get", self.srv.url("done.bin"))
        err = r.stderr.decode()
        self.assertNotIn("> RETR", err)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["done.bin"])
        self.assertEqual(self.read_local("done.bin"), data)
        self.assertRegex(err, r"(?m)^done\.bin: verified sha256$")
        self.assertEqual(err.count("> HASH done.bin"), 1, err)

    def test_without_c_starts_over(self):
        data = self.srv.make_file("fresh.bin", 5000, seed=14)
        self.write_local(".fresh.bin.ftpc-part", b"garbage" * 10)
        r = self.ftpc("-v", "get", self.srv.url("fresh.bin"))
        self.assertNotIn("> REST", r.stderr.decode())
        self.assertEqual(self.read_local("fresh.bin"), data)

    def test_resume_killed_upload(self):
        data = data_bytes(3 * MiB, 15)
        self.write_local("up.bin", data)
        p = self.popen("-q", "--limit-rate", "1M", "put", "up.bin", self.srv.url("up.bin"))

        def uploading():
            for n in self.srv.internal_files():
                try:
                    if os.path.getsize(self.srv.local(n)) >= 400 * 1024:
                        return True
                except OSError:
                    pass
            return False
        self._kill_when(p, uploading, "a partial upload")
        # The server settles: in stream mode the end of the data connection may look like the
        # end of the file (a truncated up.bin), or the upload is aborted and kept as a partial
        # file. Either way SIZE tells where to resume.
        def settled():
            names = self.srv.internal_files()
            if any(n.startswith(".ftpd-up.") for n in names):
                return False
            return self.srv.exists("up.bin") or any(n.startswith(".ftpd-partial.")
                                                    for n in names)
        self.assertTrue(wait_for(settled, 10), self.srv.internal_files())
        if self.srv.exists("up.bin"):
            self.assertLess(len(self.srv.read("up.bin")), len(data))
        r = self.ftpc("-v", "-c", "put", "up.bin", self.srv.url("up.bin"))
        err = r.stderr.decode()
        m = re.search(r"> REST (\d+)", err)
        self.assertTrue(m or "> APPE" in err, err)
        if m:
            self.assertGreater(int(m.group(1)), 0)
        self.assertEqual(self.srv.read("up.bin"), data)

    def test_resume_upload_checks_the_kept_partial(self):
        # the partial a cut first upload left holds bytes of another file: put -c must see
        # that (HASH of the kept range) and start over, not append to them
        kept = data_bytes(300000, 16)
        self.srv.chown(self.srv.write(".ftpd-partial.other.bin", kept))
        data = data_bytes(700000, 17)
        self.write_local("other.bin", data)
        r = self.ftpc("-v", "-c", "put", "other.bin", self.srv.url("other.bin"))
        err = r.stderr.decode()
        self.assertIn("the 300000 bytes already on the server differ from the start of "
                      "other.bin: uploading it all again", err)
        self.assertNotIn("> REST 300000", err)
        self.assertEqual(self.srv.read("other.bin"), data)
        self.assertEqual(self.srv.internal_files(), [])

    def test_put_of_a_file_that_grows_meanwhile(self):
        # the bytes it had at the start are sent; then the file is longer: a clear error (not
        # a failed verification that looks like corruption), and the old version stays
        self.srv.write("grow.bin", b"previous version\n")
        data = data_bytes(2 * MiB, 18)
        self.write_local("grow.bin", data)
        p = self.popen("-q", "--limit-rate", "1M", "put", "grow.bin", self.srv.url("grow.bin"))

        def uploading():
            for n in self.srv.internal_files():
                try:
                    if os.path.getsize(self.srv.local(n)) >= 200 * 1024:
                        return True
                except OSError:
                    pass
            return False
        self.assertTrue(wait_for(uploading, 15), self.srv.internal_files())
        with open(self.local("grow.bin"), "ab") as fh:
            fh.write(b"appended while it was being sent\n")
        _, err = p.communicate(timeout=30)
        err = err.decode()
        self.assertEqual(p.returncode, 6, err)
        self.assertIn("grow.bin grew while being uploaded (%d bytes when the upload began, %d "
                      "now)" % (len(data), len(data) + 33), err)
        self.assertNotIn("verification failed", err)
        self.assertEqual(self.srv.read("grow.bin"), b"previous version\n")

    def test_resumed_download_keeps_to_the_rate_limit(self):
        # the check of 48 MiB kept by -c takes a while: the limit's allowance must not fill
        # up meanwhile and let the rest start ahead of the rate
        data = self.srv.make_file("rl.bin", 48 * MiB + MiB, seed=80)
        self.write_local(".rl.bin.ftpc-part", data[:48 * MiB])
        r = self.ftpc("-c", "--limit-rate", "1M", "get", self.srv.url("rl.bin"))
        m = re.search(r"rl\.bin: 1\.00 MiB in [\d.]+ s \(([\d.]+) (KiB|MiB)/s\), resumed",
                      r.stderr.decode())
        self.assertTrue(m, r.stderr)
        rate = float(m.group(1)) / (1024 if m.group(2) == "KiB" else 1)
        self.assertLessEqual(rate, 1.03, r.stderr)
        self.assertEqual(self.read_local("rl.bin"), data)

    def test_second_fetch_into_the_same_place_leaves_the_first_alone(self):
        data = self.srv.make_file("same.bin", 2 * MiB, seed=79)
        part = self.local(".same.bin.ftpc-part")
        # slow enough that it still runs when the second ftpc has started on a loaded machine
        first = self.popen("-q", "--limit-rate", "256k", "get", self.srv.url("same.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and os.path.getsize(part) > 0, 10))
        r = self.ftpc("get", self.srv.url("same.bin"), rc=6)
        self.assertIn("same.bin: another transfer is writing .same.bin.ftpc-part", r.stderr.decode())
        # the part file is the other transfer's: no "kept: get -c resumes it" for it
        self.assertNotIn("kept", r.stderr.decode())
        out, err = first.communicate(timeout=30)
        self.assertEqual(first.returncode, 0, err)
        self.assertEqual(self.read_local("same.bin"), data)

    def test_resume_refused_without_append_right_uploads_whole(self):
        # ftpd wants the append right (a) for REST+STOR: without it the upload starts over
        srv = self.start_server(users=[("noapp", "pw", "elrw")])
        data = data_bytes(200000, 78)
        self.write_local("na.bin", data)
        srv.write("na.bin", data[:50000])
        r = self.ftpc("-v", "-c", "put", "na.bin", srv.url("na.bin"))
        err = r.stderr.decode()
        self.assertIn("> REST 50000", err)
        self.assertIn("na.bin: the server refused to resume after 50000 bytes (STOR 550 ", err)
        self.assertIn("uploading it all again", err)
        self.assertEqual(srv.read("na.bin"), data)
        self.assertEqual(len(re.findall(r"> STOR na\.bin", err)), 2, err)

    def test_resume_of_a_complete_upload_says_nothing_was_sent(self):
        # a file -c finds complete gets no transfer and so no summary line: one says why
        data = data_bytes(20000, 88)
        self.write_local("done.bin", data)
        self.write_local("new.bin", b"new")
        self.srv.write("done.bin", data)
        r = self.ftpc("-v", "-c", "put", "done.bin", "new.bin", self.srv.url(""))
        err = r.stderr.decode()
        self.assertIn("done.bin: already on the server (19.5 KiB), nothing sent\n", err)
        self.assertRegex(err, r"(?m)^done\.bin: verified sha256$")
        self.assertNotIn("STOR done.bin", err)
        # the check before found the whole file equal: not hashed a second time after it
        self.assertEqual(err.count("> HASH done.bin"), 1, err)
        self.assertNotIn("new.bin: already", err)
        self.assertEqual(self.srv.read("new.bin"), b"new")
        r = self.ftpc("-q", "-c", "put", "done.bin", self.srv.url("done.bin"))
        self.assertEqual(r.stderr, b"")

    def test_resume_longer_remote_file_uploads_whole_and_says_so(self):
        data = data_bytes(20000, 86)
        self.write_local("lr.bin", data)
        self.srv.write("lr.bin", data_bytes(30000, 87))
        r = self.ftpc("-c", "put", "lr.bin", self.srv.url("lr.bin"))
        self.assertIn("lr.bin: the 30000 bytes already on the server are more than lr.bin's "
                      "20000: uploading it all again", r.stderr.decode())
        self.assertEqual(self.srv.read("lr.bin"), data)

    # -c checks the bytes it would keep against the server's (HASH over RANG) before resuming
    def test_resume_changed_partial_starts_over(self):
        data = self.srv.make_file("chg.bin", 300000, seed=71)
        self.write_local(".chg.bin.ftpc-part", data_bytes(100000, 72))
        r = self.ftpc("-v", "-c", "get", self.srv.url("chg.bin"))
        err = r.stderr.decode()
        self.assertLogged(r"-> RANG 0 99999")
        self.assertIn("the 100000 bytes already in .chg.bin.ftpc-part differ from the server's: "
                      "downloading it all again", err)
        self.assertNotIn("> REST", err)
        self.assertRegex(err, r"(?m)^chg\.bin: .*, verified sha256$")
        self.assertEqual(self.read_local("chg.bin"), data)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["chg.bin"])

    def test_resume_changed_partial_says_so_once(self):
        """Bytes kept from before the server's file changed: the HASH check found them
        different, and the MDTM check after it said the same once more."""
        data = self.srv.make_file("chg.bin", 300000, seed=71)
        part = self.write_local(".chg.bin.ftpc-part", data_bytes(100000, 72))
        os.utime(part, (time.time() - 3600, time.time() - 3600))
        r = self.ftpc("-v", "-c", "get", self.srv.url("chg.bin"))
        err = r.stderr.decode()
        self.assertIn("differ from the server's: downloading it all again", err)
        self.assertEqual(err.count("downloading it all again"), 1, err)
        self.assertNotIn("> MDTM", err)
        self.assertEqual(self.read_local("chg.bin"), data)

    def test_resume_matching_partial_continues(self):
        data = self.srv.make_file("ok.bin", 300000, seed=73)
        self.write_local(".ok.bin.ftpc-part", data[:120000])
        r = self.ftpc("-v", "-c", "get", self.srv.url("ok.bin"))
        err = r.stderr.decode()
        self.assertLogged(r"-> RANG 0 119999")
        self.assertIn("> REST %d" % (120000 - OVERLAP), err)
        self.assertNotIn("differ", err)
        self.assertEqual(self.read_local("ok.bin"), data)

    def test_resume_changed_file_in_place_kept_until_replaced(self):
        data = self.srv.make_file("inp.bin", 200000, seed=74)
        old = data_bytes(50000, 75)
        self.write_local("inp.bin", old)
        # killed while it fetches the file anew: the old file must survive
        p = self.popen("-q", "-c", "--limit-rate", "64K", "get", self.srv.url("inp.bin"))
        part = self.local(".inp.bin.ftpc-part")
        self._kill_when(p, lambda: os.path.exists(part) and os.path.getsize(part) > 0,
                        "a new part file")
        self.assertEqual(self.read_local("inp.bin"), old)
        os.unlink(part)
        r = self.ftpc("-c", "get", self.srv.url("inp.bin"))
        self.assertIn("differ from the server's", r.stderr.decode())
        self.assertEqual(self.read_local("inp.bin"), data)

    def test_resume_longer_local_file_fetches_again_and_says_so(self):
        data = self.srv.make_file("lg.bin", 20000, seed=84)
        self.write_local("lg.bin", data_bytes(30000, 85))
        r = self.ftpc("-c", "get", self.srv.url("lg.bin"))
        self.assertIn("lg.bin: the 30000 bytes already in lg.bin are more than the server's "
                      "20000: downloading it all again", r.stderr.decode())
        self.assertEqual(self.read_local("lg.bin"), data)

    def test_resume_same_size_but_different_fetches_again(self):
        data = self.srv.make_file("ss.bin", 40000, seed=76)
        self.write_local("ss.bin", data_bytes(40000, 77))
        r = self.ftpc("-v", "-c", "get", self.srv.url("ss.bin"))
        err = r.stderr.decode()
        self.assertIn("> RETR", err)
        self.assertNotIn("> REST", err)
        self.assertEqual(self.read_local("ss.bin"), data)

    def test_resume_without_verify_trusts_the_partial(self):
        # no HASH of the kept bytes; only the 4 KiB before the offset, fetched again, are
        # compared with theirs: where they differ nothing is appended, and the part file
        # goes, so that the next -c fetches the file whole
        data = self.srv.make_file("nv.bin", 30000, seed=78)
        self.write_local(".nv.bin.ftpc-part", data[:10000])
        r = self.ftpc("-v", "-c", "--no-verify", "get", self.srv.url("nv.bin"))
        self.assertIn("> REST %d" % (10000 - OVERLAP), r.stderr.decode())
        self.assertNotIn("-> RANG", self.srv.log_text())
        self.assertEqual(self.read_local("nv.bin"), data)
        os.unlink(self.local("nv.bin"))
        self.write_local(".nv.bin.ftpc-part", data_bytes(10000, 79))
        r = self.ftpc("-c", "--no-verify", "get", self.srv.url("nv.bin"), rc=8)
        self.assertIn("nothing appended, .nv.bin.ftpc-part is dropped", r.stderr.decode())
        self.assertEqual(os.listdir(self.tmp), [])

    def test_resume_where_server_cannot_hash_checks_mdtm(self):
        """A server without HASH (vsftpd, pure-ftpd, pyftpdlib): -c must not splice the bytes
        kept from one version of a file onto the rest of another. MDTM newer than the part
        file's last write means the file changed since: it is downloaded again whole (and
        the size check afterwards could not have told). An older MDTM resumes as before."""
        new = data_bytes(300000, 88)
        srv = NoHashMdtmFtp(new, time.time() - 3600, sessions=4)
        srv.start()
        self.addCleanup(srv.stop)
        url = "ftp://127.0.0.1:%d/v.bin" % srv.port
        part = self.write_local(".v.bin.ftpc-part", data_bytes(100000, 89))
        os.utime(part, (time.time() - 7200,) * 2)  # cut before the server's file changed
        r = self.ftpc("-v", "-c", "get", url)
        err = r.stderr.decode()
        self.assertIn("> MDTM v.bin", err)
        self.assertIn("v.bin: the server's file changed (MDTM) after the 100000 bytes in "
                      ".v.bin.ftpc-part were written: downloading it all again", err)
        self.assertNotIn("> REST", err)
        self.assertEqual(self.read_local("v.bin"), new)
        # bytes written after the server's last change are its file's: resumed
        os.unlink(self.local("v.bin"))
        self.write_local(".v.bin.ftpc-part", new[:120000])
        r = self.ftpc("-v", "-c", "get", url)
        err = r.stderr.decode()
        self.assertIn("> REST %d" % (120000 - OVERLAP), err)
        self.assertNotIn("downloading it all again", err)
        self.assertEqual(self.read_local("v.bin"), new)
        self.assertEqual(srv.rests, [0, 120000 - OVERLAP])

    def test_retry_after_the_file_changed_starts_over(self):
        """A retry resumes after the bytes the cut attempt wrote, unchecked by HASH; a server
        restarted with another version of the file (newer MDTM) must not get its rest
        spliced onto them: the file is downloaded again whole."""
        old, new = data_bytes(300000, 91), data_bytes(300000, 92)
        srv = ReplacedAfterCutFtp(old, new, time.time() - 3600)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("--retry", "2", "--retry-delay", "0.1", "get",
                      "ftp://127.0.0.1:%d/v.bin" % srv.port)
        self.assertIn("v.bin: the server's file changed (MDTM) after the 100000 bytes in "
                      ".v.bin.ftpc-part were written: downloading it all again",
                      r.stderr.decode())
        self.assertEqual(srv.rests, [0, 0])
        self.assertEqual(self.read_local("v.bin"), new)

    def test_resume_the_server_refuses_fetches_it_whole(self):
        """A server that accepts REST and refuses the RETR after it (ProFTPD's
        AllowRetrieveRestart off) ended -c with status 7 and "kept: get -c resumes it",
        which met the same refusal every time: the file is fetched from its start."""
        data = data_bytes(300000, 93)
        srv = RestartRefusedFtp(data, time.time() - 3600, sessions=4)
        srv.start()
        self.addCleanup(srv.stop)
        self.write_local(".v.bin.ftpc-part", data[:100000])
        r = self.ftpc("-c", "get", "ftp://127.0.0.1:%d/v.bin" % srv.port)
        self.assertIn("v.bin: the server refused to resume after 100000 bytes (RETR 451 v.bin: "
                      "Restart not permitted, try again): downloading it all again",
                      r.stderr.decode())
        self.assertEqual(srv.rests, [100000 - OVERLAP, 0])
        self.assertEqual(self.read_local("v.bin"), data)
        self.assertEqual(os.listdir(self.tmp), ["v.bin"])
        # a file continued in place the same way, through the part file
        self.write_local("w.bin", data[:100000])
        r = self.ftpc("-c", "get", "ftp://127.0.0.1:%d/w.bin" % srv.port)
        self.assertIn("downloading it all again", r.stderr.decode())
        self.assertEqual(srv.rests, [100000 - OVERLAP, 0, 100000 - OVERLAP, 0])
        self.assertEqual(self.read_local("w.bin"), data)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["v.bin", "w.bin"])

    def test_resume_in_place_on_a_server_without_rest_keeps_the_file(self):
        """-c continues an existing file in place; a server that refuses REST made ftpc
        truncate that file and write the new download into it, so that a cut left 1000
        bytes where a good file of 200000 had been. The download starts over in the part
        file, and the file stays until it is complete."""
        old = data_bytes(200000, 95)
        self.write_local("v.bin", old)
        srv = NoRestCutFtp(data_bytes(300000, 96))
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-c", "get", "ftp://127.0.0.1:%d/v.bin" % srv.port, rc=7)
        self.assertIn("(.v.bin.ftpc-part kept: get -c resumes it)", r.stderr.decode())
        self.assertEqual(self.read_local("v.bin"), old)
        self.assertEqual(self.read_local(".v.bin.ftpc-part"), srv.data[:1000])

    def test_resume_upload_changed_remote_starts_over(self):
        data = data_bytes(200000, 80)
        self.write_local("upc.bin", data)
        self.srv.write("upc.bin", data_bytes(70000, 81))
        r = self.ftpc("-v", "-c", "put", "upc.bin", self.srv.url("upc.bin"))
        err = r.stderr.decode()
        self.assertIn("the 70000 bytes already on the server differ from the start of upc.bin: "
                      "uploading it all again", err)
        self.assertIn("> STOR upc.bin", err)
        self.assertNotIn("> REST", err)
        self.assertNotIn("> APPE", err)
        self.assertRegex(err, r"(?m)^upc\.bin: .*, verified sha256$")
        self.assertEqual(self.srv.read("upc.bin"), data)

    def test_resume_upload_same_size_but_different_uploads_again(self):
        data = data_bytes(5000, 82)
        self.write_local("ssu.bin", data)
        self.srv.write("ssu.bin", data_bytes(5000, 83))
        r = self.ftpc("-v", "-c", "put", "ssu.bin", self.srv.url("ssu.bin"))
        self.assertIn("> STOR ssu.bin", r.stderr.decode())
        self.assertEqual(self.srv.read("ssu.bin"), data)

    def test_resume_upload_complete_transfers_nothing(self):
        data = data_bytes(5000, 16)
        self.write_local("same.bin", data)
        self.srv.write("same.bin", data)
        r = self.ftpc("-v", "-c", "put", "same.bin", self.srv.url("same.bin"))
        self.assertNotIn("> STOR", r.stderr.decode())

    def get_from_a_late_server(self, opts, seed):
        """get late.bin with --retry from a port whose server starts only after the first
        attempts failed; asserts success after a retry and returns (data served, stderr)."""
        port = free_port()
        url = "ftp://alice:alice-Pw-4711@127.0.0.1:%d/late.bin" % port
        p = self.popen("--retry", "8", "--retry-delay", "0.3", *opts, "get", url)
        time.sleep(0.8)
        srv = FtpdServer(listen="127.0.0.1:%d" % port)
        data = srv.make_file("late.bin", 50000, seed=seed)
        srv.start()
        self.addCleanup(srv.stop)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(b"retrying in", err)
        return data, err

    def test_retry_until_server_starts(self):
        data, _ = self.get_from_a_late_server([], seed=17)
        self.assertEqual(self.read_local("late.bin"), data)

    def test_retry_checks_a_partial_no_attempt_wrote(self):
        # the first attempts never reach the file: the stale part file is still checked,
        # and a retry without -c does not continue it at all
        for opts, part_note in ((["-c"], True), ([], False)):
            self.write_local(".late.bin.ftpc-part", data_bytes(20000, 86))
            data, err = self.get_from_a_late_server(opts, seed=87)
            self.assertEqual(b"differ from the server's" in err, part_note, err)
            self.assertEqual(self.read_local("late.bin"), data)
            os.unlink(self.local("late.bin"))

    def test_retry_resumes_after_server_dies(self):
        port = free_port()
        srv1 = FtpdServer(listen="127.0.0.1:%d" % port)
        data = srv1.make_file("r.bin", 3 * MiB, seed=18)
        # the restarted server has the same file: its time too, or -c would see a newer
        # file (MDTM) whenever the restart crosses a second, and fetch it all again
        mtime = os.stat(srv1.local("r.bin")).st_mtime

        def same_file(srv):
            srv.make_file("r.bin", 3 * MiB, seed=18)
            os.utime(srv.local("r.bin"), (mtime, mtime))
        srv1.start()
        url = srv1.url("r.bin")
        part = self.local(".r.bin.ftpc-part")
        p = self.popen("-v", "--retry", "10", "--retry-delay", "0.3", "--limit-rate", "1M",
                       "get", url)
        if not wait_for(lambda: os.path.exists(part) and os.path.getsize(part) >= 400 * 1024,
                        timeout=15):
            srv1.stop(check=False)
            self.fail("no partial download")
        srv1.proc.kill()
        srv1.stop(check=False)
        srv2 = FtpdServer(listen="127.0.0.1:%d" % port)
        same_file(srv2)
        # the port may take a moment to be free again
        for _ in range(50):
            try:
                srv2.start()
                break
            except AssertionError:
                srv2 = FtpdServer(listen="127.0.0.1:%d" % port)
                same_file(srv2)
                time.sleep(0.1)
        self.addCleanup(srv2.stop)
        out, err = p.communicate(timeout=60)
        err = err.decode()
        self.assertEqual(p.returncode, 0, err[-3000:])
        self.assertIn("retrying in", err)
        m = re.search(r"> REST (\d+)", err)
        self.assertTrue(m and int(m.group(1)) > 0, err[-3000:])
        self.assertEqual(self.read_local("r.bin"), data)

    def test_interrupt_keeps_part(self):
        data = self.srv.make_file("int.bin", 2 * MiB, seed=19)
        part = self.local(".int.bin.ftpc-part")
        p = self.popen("--limit-rate", "512k", "get", self.srv.url("int.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and os.path.getsize(part) > 0, 10))
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 7, err)
        self.assertIn(b"int.bin: interrupted (.int.bin.ftpc-part kept: get -c resumes it)", err)
        self.assertTrue(os.path.exists(part))
        self.ftpc("-c", "get", self.srv.url("int.bin"))
        self.assertEqual(self.read_local("int.bin"), data)

    def test_interrupted_put_hints_put_c_only_once_it_began(self):
        self.write_local("ip.bin", data_bytes(2 * MiB, 21))
        p = self.popen("--limit-rate", "512k", "put", "ip.bin", self.srv.url("ip.bin"))
        self.assertTrue(wait_for(lambda: any(
            n.startswith(".ftpd-up.") for n in self.srv.internal_files()), 10))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 7, err)
        # whether the name had a file is not known: the hint says what happens either way
        self.assertIn(b"ip.bin: interrupted (%s)" % PUT_HINT_UNKNOWN, err)
        # stopped while its log-in waits out a refusal: nothing to resume, no hint
        srv = self.start_server(args=["--login-failure-delay", "10000"])  # ms
        p = self.popen("put", "ip.bin", srv.url("ip.bin", pw="wrong"))
        self.assertTrue(srv.wait_log(r"login failed for 'alice'", 10), srv.log_text())
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
        self.assertIn(b"interrupted", err)
        self.assertNotIn(b"resumes it", err)

    def interrupt_upload(self, directory, *args):
        """Runs ftpc with args, rate-limited, and stops it with SIGINT once ftpd holds bytes of
        the upload into directory; returns its standard error once ftpd has kept them aside."""
        p = self.popen("--limit-rate", "512k", *args)

        def receiving():
            return any(n.startswith(".ftpd-up.") and
                       os.path.getsize(os.path.join(self.srv.local(directory), n)) > 0
                       for n in self.srv.internal_files(directory))
        self.assertTrue(wait_for(lambda: receiving() or p.poll() is not None, 20))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 7, err)
        self.assertTrue(wait_for(lambda: not any(
            n.startswith(".ftpd-up.") for n in self.srv.internal_files(directory)), 20))
        return err

    def test_interrupted_replacing_put_is_not_promised_a_resume(self):
        # ftpd writes an upload aside: cut, it keeps the old file and the part aside, and
        # SIZE reports the old file, so put -c finds it differs and sends it all again; the
        # hint says so rather than promise a resume
        old = self.srv.make_file("rp.bin", 2 * MiB, seed=22)
        new = data_bytes(2 * MiB + 5, 23)
        self.write_local("rp.bin", new)
        err = self.interrupt_upload("", "put", "rp.bin", self.srv.url("rp.bin"))
        self.assertIn(b"rp.bin: interrupted (%s)" % PUT_HINT_UNKNOWN, err)
        self.assertEqual(self.srv.read("rp.bin"), old)
        mark = len(self.srv.settled_log_text())
        r = self.ftpc("-c", "put", "rp.bin", self.srv.url("rp.bin"))
        self.assertIn(b"differ from the start of rp.bin: uploading it all again", r.stderr)
        self.assertEqual(self.srv.read("rp.bin"), new)
        log = self.srv.settled_log_text()[mark:]
        self.assertNotIn("-> REST", log)
        self.assertRegex(log, r"STOR /rp\.bin ok: %d bytes" % len(new))

    def test_put_c_of_a_grown_file_beside_another_uploads_partial(self):
        # a cut upload of another file over gx.log left its part beside the file, longer
        # than the file: put -c of the file grown checks the server's file with HASH and
        # resumes from its size, which must not splice the rest onto that part; ftpd
        # refuses the resume and ftpc sends the file whole
        old = self.srv.make_file("gx.log", 64 * 1024, seed=31)
        self.write_local("other.bin", data_bytes(4 * MiB, 32))
        p = self.popen("--limit-rate", "512k", "put", "other.bin", self.srv.url("gx.log"))

        def received():
            for n in self.srv.internal_files():
                try:
                    if n.startswith(".ftpd-up.") and \
                            os.path.getsize(self.srv.local(n)) >= 256 * 1024:
                        return True
                except FileNotFoundError:
                    pass
            return p.poll() is not None
        self.assertTrue(wait_for(received, 30))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 7, err)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.gx.log"], 20), self.srv.internal_files())
        self.assertEqual(self.srv.read("gx.log"), old)
        grown = old + data_bytes(100000, 33)
        self.write_local("gx.log", grown)
        r = self.ftpc("-c", "put", "gx.log", self.srv.url("gx.log"))
        self.assertIn(b"the server refused to resume after %d bytes" % len(old), r.stderr)
        self.assertEqual(self.srv.read("gx.log"), grown)
        self.assertEqual(self.srv.internal_files(), [])

    def test_interrupted_put_c_of_a_new_file_is_resumed(self):
        # with -c, SIZE found no file under the name: the part ftpd keeps is what put -c
        # resumes, as the hint says
        data = data_bytes(2 * MiB + 9, 27)
        self.write_local("nw.bin", data)
        err = self.interrupt_upload("", "-c", "put", "nw.bin", self.srv.url("nw.bin"))
        self.assertIn(b"nw.bin: interrupted (put -c resumes it if the server kept the part "
                      b"sent)", err)
        mark = len(self.srv.settled_log_text())
        self.ftpc("-c", "put", "nw.bin", self.srv.url("nw.bin"))
        self.assertEqual(self.srv.read("nw.bin"), data)
        rest = re.search(r"-> REST (\d+)", self.srv.settled_log_text()[mark:])
        self.assertTrue(rest and int(rest.group(1)) > 0)

    def test_interrupted_mirror_put_hint_tells_new_from_replaced(self):
        # mirror -R knows from the server's listing whether a file was there
        os.mkdir(self.local("up"))
        self.write_local("up/r.bin", data_bytes(2 * MiB, 24))
        self.srv.make_file("dst/r.bin", MiB, seed=25)
        err = self.interrupt_upload("dst", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertIn(b"r.bin: interrupted (it was replacing a file: mirror -R -c resumes it "
                      b"where the server wrote over that file, and sends it all again where "
                      b"the server kept it until the upload completed, as ftpd does)", err)
        os.remove(self.local("up/r.bin"))
        self.write_local("up/n.bin", data_bytes(2 * MiB, 26))
        err = self.interrupt_upload("dst", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertIn(b"n.bin: interrupted (mirror -R -c resumes it if the server kept the "
                      b"part sent)", err)
        mark = len(self.srv.settled_log_text())
        self.ftpc("mirror", "-R", "-c", "up", self.srv.url("dst"))
        self.assertEqual(self.srv.read("dst/n.bin"), self.read_local("up/n.bin"))
        rest = re.search(r"-> REST (\d+)", self.srv.settled_log_text()[mark:])
        self.assertTrue(rest and int(rest.group(1)) > 0)

    def test_interrupted_mirror_names_mirror_c(self):
        # a plain mirror starts its files over: the hint names the command that resumes
        self.srv.mkdir("tree")
        data = self.srv.make_file("tree/m.bin", 2 * MiB, seed=20)
        part = self.local("out/.m.bin.ftpc-part")
        p = self.popen("--limit-rate", "512k", "mirror", self.srv.url("tree"), "out")
        self.assertTrue(wait_for(lambda: os.path.exists(part) and os.path.getsize(part) > 0, 10))
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
        self.assertIn(b"m.bin: interrupted (out/.m.bin.ftpc-part kept: mirror -c resumes it)",
                      err)
        r = self.ftpc("mirror", "-c", self.srv.url("tree"), "out")
        self.assertIn(b"mirror: 1 file transferred", r.stdout)
        self.assertEqual(self.read_local("out/m.bin"), data)


class ShutsDownOnceFtp(ScriptedFtp):
    """Its first session is turned away at USER with the 421 ftpd sends while it shuts down,
    a sentence ending in a period; later sessions serve one file (SIZE, RETR)."""
    BYE = "421 Server shutting down; closing control connection."

    def __init__(self, data):
        super().__init__(sessions=4, timeout=10)
        self.data, self.turned_away = data, False
        self.lock = threading.Lock()

    def command(self, s, verb, arg):
        if verb == "USER":
            with self.lock:
                first, self.turned_away = not self.turned_away, True
            if first:
                s.send(self.BYE)
                return False
        if verb == "SIZE":
            s.send("213 %d" % len(self.data))
        elif verb == "RETR":
            s.send_download(self.data)
        else:
            return super().command(s, verb, arg)
        return True


class TestRetryNotice(FtpcCase):
    def test_notice_after_a_sentence_reads_as_one(self):
        # "...connection.; retrying" read as a typo: after a full stop the notice is a
        # sentence of its own
        data = data_bytes(3000, 88)
        srv = ShutsDownOnceFtp(data)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("--retry", "2", "--retry-delay", "0.1", "--no-verify", "get",
                      "ftp://u:p@127.0.0.1:%d/one.bin" % srv.port)
        err = r.stderr.decode()
        self.assertEqual(self.read_local("one.bin"), data)
        self.assertIn("closing control connection. Retrying in 0.1 s (attempt 2 of 3)", err)
        self.assertNotIn(".; retrying", err)


# ------------------------------------------------------------------ progress display

class TestProgress(FtpcCase):
    def test_dumb_terminal_gets_plain_lines(self):
        # TERM=dumb cannot move the cursor: plain progress lines, no escape sequences
        self.srv.make_file("d.bin", 2 * MiB, seed=34)
        master, slave = pty.openpty()
        env = self.env(TERM="dumb")
        env.pop("NO_COLOR", None)
        p = subprocess.Popen([FTPC_BIN, "get", "--limit-rate", "1M", self.srv.url("d.bin")],
                             cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             env=env)
        os.close(slave)
        data = read_pty(master, 30, proc=p)
        os.close(master)
        self.assertEqual(p.wait(30), 0)
        text = data.decode("utf-8", "replace")
        self.assertNotIn("\x1b", text)
        self.assertRegex(text, r"d\.bin: 2\.00 MiB in [\d.]+ s")
        self.assertRegex(text, r"(?m)^d\.bin: \d+% \(")  # a plain progress line on its way
        self.assertEqual(self.read_local("d.bin"), self.srv.read("d.bin"))

    def test_narrow_terminal_drops_whole_fields(self):
        # 20 columns: no room for every field; those that go, go whole (a rate cut to
        # "39.9 MiB" would read as a size), and no colour is reset that was not set
        import fcntl
        import struct
        import termios
        self.srv.make_file("n.bin", 3 * MiB, seed=35)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 20, 0, 0))
        env = self.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        env.pop("NO_COLOR", None)
        env.pop("COLUMNS", None)
        p = subprocess.Popen([FTPC_BIN, "get", "--limit-rate", "1M", self.srv.url("n.bin")],
                             cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             env=env)
        os.close(slave)
        data = read_pty(master, 30, proc=p)
        os.close(master)
        self.assertEqual(p.wait(30), 0, data)
        text = data.decode("utf-8", "replace").replace("\r", "\n")
        field = (r"^\S+ +(\d+%|--)( \[[^\]]*\])?( +[\d.]+ \S*B / [\d.]+ \S*B)?"
                 r"( +([\d.]+ \S*B/s|--|verifying))?( +ETA \S+)?$")
        live = 0
        for raw in text.split("\x1b[2K")[1:]:
            line = raw.split("\n")[0]
            self.assertEqual(line.count("\x1b[0m"), line.count("\x1b[32m"), repr(line))
            shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
            if "%" not in shown:
                continue  # the summary line
            live += 1
            self.assertLessEqual(len(shown), 19, repr(shown))
            self.assertRegex(shown, field)
        self.assertGreater(live, 0, text)
        self.assertEqual(self.read_local("n.bin"), self.srv.read("n.bin"))

    def test_hostile_name_reaches_the_terminal_only_as_marks(self):
        # a name with U+009B (CSI to xterm, even in UTF-8), a byte that is not UTF-8 and a
        # right-to-left override: none of them may reach the terminal, in the live line or
        # the summary, and the file keeps its name on disk
        name = os.fsdecode(b"h\xc2\x9b" b"31mX\xff\xe2\x80\xae" b"nib.bin")
        data = self.srv.make_file(name, 1 * MiB, seed=36)
        os.mkdir(self.local("hn"))
        master, slave = pty.openpty()
        env = self.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        p = subprocess.Popen([FTPC_BIN, "get", "--limit-rate", "2M", "-O", self.local("hn"),
                              self.srv.url("h*")], cwd=self.tmp, stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=slave, env=env)
        os.close(slave)
        data_seen = read_pty(master, 30, proc=p)
        os.close(master)
        self.assertEqual(p.wait(30), 0, data_seen)
        for bad in (b"\xc2\x9b", b"\xff", b"\xe2\x80\xae"):
            self.assertNotIn(bad, data_seen)
        text = data_seen.decode("utf-8")  # strict: every byte shown is well-formed
        self.assertRegex(text, r"h\?31mX\?\?nib\.bin: 1\.00 MiB in [\d.]+ s")
        with open(os.path.join(self.local("hn"), name), "rb") as fh:
            self.assertEqual(fh.read(), data)

    def test_narrower_window_leaves_no_old_bars(self):
        # bars drawn 100 columns wide, then the window narrows to 40: the terminal rewraps
        # the old lines onto three rows each, and the next frame must take all of them away
        import fcntl
        import struct
        import termios
        from test_liveview import Terminal
        for n in ("w1.bin", "w2.bin"):
            self.srv.make_file(n, 3 * MiB, seed=37)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = self.env(TERM="xterm", LANG="C.UTF-8", LC_ALL="C.UTF-8", NO_COLOR="1")
        env.pop("COLUMNS", None)
        p = subprocess.Popen([FTPC_BIN, "get", "-j", "2", "--limit-rate", "1M",
                              self.srv.url("w1.bin"), self.srv.url("w2.bin")], cwd=self.tmp,
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        term = Terminal(100, 30)
        try:
            out = read_pty(master, 10, done=lambda d: re.search(rb"Total 0/2 .*ETA", d))
            term.feed(out.decode())
            self.assertTrue([r for r in term.screen() if len(r.rstrip()) > 80], term.screen())
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 40, 0, 0))
            term.resize(40, 30)
            p.send_signal(signal.SIGWINCH)  # the pty told the foreground group, if any
            # a frame drawn 40 wide
            out = read_pty(master, 10, done=lambda d: re.search(rb"\x1b\[2KTotal 0/2[^\n]{0,30}\n", d))
            term.feed(out.decode())
            screen = [r for r in term.screen() if r.strip()]
            self.assertEqual(len(screen), 3, "\n".join(screen))
            self.assertRegex(screen[-1], r"^Total 0/2 ")
        finally:
            p.kill()
            p.wait(10)
            os.close(master)

    def test_bars_at_the_top_of_the_screen_leave_no_copy_in_the_history(self):
        # Bars at the top of the screen (a new tmux window, or after `clear`): the first
        # summary line was written after "clear to the end of the screen" from the screen's
        # top-left corner, which tmux takes for a clear screen, keeping a copy of it, bars
        # and all, in the history (scroll-on-clear)
        from test_liveview import Terminal
        names = ["h%d.bin" % i for i in range(1, 4)]
        for i, n in enumerate(names):
            self.srv.make_file(n, MiB, seed=90 + i)
        rc, out = self.on_terminal("get", "-j", "2", "--limit-rate", "2M",
                                   *[self.srv.url(n) for n in names], NO_COLOR="1")
        self.assertEqual(rc, 0, out)
        text = out.decode("utf-8")
        self.assertRegex(text, r"\x1b\[2Kh1\.bin +\d+% ")  # live lines were drawn
        term = Terminal(80, 24)  # what the pty shows, from its top-left corner
        term.feed(text)
        self.assertEqual(term.history, [], "\n".join(term.history))
        screen = [r for r in term.screen() if r.strip()]
        self.assertEqual(len(screen), 4, "\n".join(screen))  # the summaries and the total
        for n in names:
            self.assertEqual(len([r for r in screen if r.startswith(n + ": 1.00 MiB in ")]), 1,
                             "\n".join(screen))
            self.assertEqual(self.read_local(n), self.srv.read(n))

    def test_bars_in_tmux(self):
        names = ["t%d.bin" % i for i in range(1, 4)]
        want = {n: self.srv.make_file(n, 3 * MiB, seed=20 + i) for i, n in enumerate(names)}
        done = self.local("exit-status")
        capture = self.tmux("%s get -j 3 --limit-rate 1M %s; echo $? > %s; sleep 30" % (
            FTPC_BIN, " ".join(self.srv.url(n) for n in names), done))
        bar_re = r"^t\d\.bin\s+\d+% .*(B|KiB|MiB) / 3\.00 MiB .*/s\s+ETA \d+:\d\d"
        seen = {}

        def all_lines():
            screen = capture()
            bars = [l for l in screen.splitlines() if re.match(bar_re, l)]
            total = [l for l in screen.splitlines() if re.match(r"^Total 0/3\s+\d+%", l)]
            if len(bars) == 3 and len(total) == 1:
                seen["screen"] = screen
                return True
            seen["last"] = screen
            return False
        self.assertTrue(wait_for(all_lines, timeout=8, interval=0.1),
                        "no 3 bars + total line on screen:\n" + seen.get("last", ""))
        for line in seen["screen"].splitlines():
            self.assertLessEqual(len(line), 120)
        self.assertEqual(self.wait_file(done), "0")
        final = capture()
        for n in names:
            self.assertRegex(final, r"%s: 3\.00 MiB in [\d.]+ s" % re.escape(n))
            self.assertEqual(self.read_local(n), want[n])
        self.assertNotRegex(final, r"(?m)^t\d\.bin\s+\d+%")  # no live lines left

    def test_summary_wider_than_the_terminal_leaves_no_bar_behind(self):
        # a summary wraps onto the row below it, where a live bar was drawn
        long_name = "a-rather-long-name-so-the-summary-wraps.bin"
        want = {long_name: self.srv.make_file(long_name, MiB, seed=30),
                "slow.bin": self.srv.make_file("slow.bin", 3 * MiB, seed=31)}
        done = self.local("exit-status")
        capture = self.tmux("%s get -j 2 --limit-rate 1M %s %s; echo $? > %s; sleep 30" % (
            FTPC_BIN, self.srv.url(long_name), self.srv.url("slow.bin"), done), width=60)
        self.assertEqual(self.wait_file(done), "0")
        final = capture()
        self.assertIn(long_name + ": 1.00 MiB in", final.replace("\n", ""))
        self.assertRegex(final, r"slow\.bin: 3\.00 MiB in [\d.]+ s")
        self.assertNotIn("ETA", final, final)  # no remnant of a live line
        for n, data in want.items():
            self.assertEqual(self.read_local(n), data)

    def test_total_eta_waits_for_the_slowest_transfer(self):
        # each transfer is held to 1 MiB/s: the run ends with the 4 MiB file, not when
        # 5 MiB at 2 MiB/s would
        self.srv.make_file("small.bin", MiB, seed=33)
        self.srv.make_file("large.bin", 4 * MiB, seed=34)
        done = self.local("exit-status")
        capture = self.tmux("%s get -j 2 --limit-rate 1M %s %s; echo $? > %s; sleep 30" % (
            FTPC_BIN, self.srv.url("small.bin"), self.srv.url("large.bin"), done))

        def secs(line):
            m = re.search(r"ETA (\d+):(\d\d)", line)
            return int(m.group(1)) * 60 + int(m.group(2)) if m else None
        seen = {}

        def both():
            lines = capture().splitlines()
            large = [secs(l) for l in lines if l.startswith("large.bin ")]
            total = [secs(l) for l in lines if l.startswith("Total ")]
            if large and total and large[0] is not None and total[0] is not None \
                    and large[0] >= 2:
                seen["large"], seen["total"] = large[0], total[0]
                return True
            return False
        self.assertTrue(wait_for(both, timeout=8, interval=0.05), capture())
        self.assertGreaterEqual(seen["total"], seen["large"], seen)
        self.assertEqual(self.wait_file(done), "0")

    def test_total_goes_on_after_a_file_fails(self):
        # a file that fails is no longer waiting: the Total line sums the others and has its
        # percentage and ETA again, rather than "--" to the end of the run
        want = self.srv.make_file("big.bin", 3 * MiB, seed=36)
        done = self.local("exit-status")
        capture = self.tmux("%s get -j 2 --limit-rate 1M %s %s; echo $? > %s; sleep 30" % (
            FTPC_BIN, self.srv.url("missing.bin"), self.srv.url("big.bin"), done))
        seen = {}

        def total_with_percent():
            screen = capture()
            seen["last"] = screen
            return re.search(r"(?m)^Total 0/2\s+\d+% .*ETA \d+:\d\d", screen) is not None
        self.assertTrue(wait_for(total_with_percent, timeout=8, interval=0.1), seen.get("last"))
        self.assertEqual(self.wait_file(done), "5")
        final = capture()
        self.assertIn("missing.bin", final)
        self.assertRegex(final, r"big\.bin: 3\.00 MiB in [\d.]+ s")
        self.assertEqual(self.read_local("big.bin"), want)

    def test_upload_total_known_while_files_wait(self):
        # the local files' sizes are known before they start: with -j 1 and three files the
        # Total line has its percentage and ETA from the first file on, over all 6 MiB
        names = ["u%d.bin" % i for i in range(1, 4)]
        for i, n in enumerate(names):
            with open(self.local(n), "wb") as fh:
                fh.write(data_bytes(2 * MiB, seed=40 + i))
        done = self.local("exit-status")
        capture = self.tmux("%s put --limit-rate 2M %s %s; echo $? > %s; sleep 30" % (
            FTPC_BIN, " ".join(names), self.srv.url("/"), done))
        seen = {}

        def total_with_percent():
            screen = capture()
            seen["last"] = screen
            return re.search(r"(?m)^Total 0/3\s+\d+% .* / 6\.00 MiB .*ETA \d+:\d\d",
                             screen) is not None
        self.assertTrue(wait_for(total_with_percent, timeout=8, interval=0.1), seen.get("last"))
        self.assertEqual(self.wait_file(done), "0")
        for n in names:
            self.assertEqual(self.srv.read(n), self.read_local(n))

    def test_pattern_total_known_while_files_wait(self):
        # the MLSD listing a pattern is matched against gives each file's size: with -j 1
        # and three files the Total line has its percentage and ETA from the first file on,
        # over all 6 MiB, not "--" until the last file has started
        for i in range(1, 4):
            self.srv.make_file("g%d.bin" % i, 2 * MiB, seed=44 + i)
        rc, out = self.on_terminal("get", "--limit-rate", "4M", self.srv.url("g*.bin"),
                                   NO_COLOR="1")
        self.assertEqual(rc, 0, out)
        text = out.decode("utf-8")
        self.assertRegex(text, r"\x1b\[2KTotal 0/3 +\d+% .* / 6\.00 MiB .*ETA \d+:\d\d")
        for i in range(1, 4):
            self.assertEqual(self.read_local("g%d.bin" % i), self.srv.read("g%d.bin" % i))

    def test_file_complete_already_counts_in_the_total(self):
        # get -c of a pattern whose first file is here whole: nothing moves for it and it
        # has no line, but it is done: the Total line counts it (its percentage reached 66%
        # at most, and the run ended in "Total: 2 of 3 files", as if one had failed)
        data = {}
        for i in range(1, 4):
            data[i] = self.srv.make_file("k%d.bin" % i, 2 * MiB, seed=64 + i)
        self.write_local("k1.bin", data[1])
        rc, out = self.on_terminal("get", "-c", "--limit-rate", "4M", self.srv.url("k*.bin"),
                                   NO_COLOR="1")
        self.assertEqual(rc, 0, out)
        text = out.decode("utf-8")
        self.assertRegex(text, r"(?m)^Total: 3 files, 4\.00 MiB in ")
        # a frame with the last file on its way: the Total line has the two files before it
        size = r"([\d.]+) MiB"
        frames = re.findall(r"\x1b\[2Kk3\.bin +\d+% .*? " + size + r" / 2\.00 MiB.*\r\n"
                            r"\x1b\[2KTotal 2/3 +\d+% .*? " + size + r" / 6\.00 MiB", text)
        self.assertTrue(frames, text[-3000:])
        for last, total in frames:
            self.assertAlmostEqual(float(total) - float(last), 4.0, delta=0.02)
        for i in range(1, 4):
            self.assertEqual(self.read_local("k%d.bin" % i), data[i])

    def test_bar_for_standard_output_sent_to_a_file(self):
        data = self.srv.make_file("so.bin", 2 * MiB, seed=32)
        done = self.local("exit-status")
        capture = self.tmux("%s get --limit-rate 1M %s -o - > out.bin; echo $? > %s; sleep 30" % (
            FTPC_BIN, self.srv.url("so.bin"), done))
        seen = wait_for(lambda: re.search(r"(?m)^so\.bin\s+\d+% .*/ 2\.00 MiB", capture()),
                        timeout=8, interval=0.1)
        self.assertTrue(seen, capture())
        self.assertEqual(self.wait_file(done), "0")
        self.assertRegex(capture(), r"(?m)^so\.bin: 2\.00 MiB in [\d.]+ s")
        self.assertEqual(self.read_local("out.bin"), data)

    def test_wide_characters_take_two_cells(self):
        # CJK characters are two cells wide: counted as one, the bar line overflowed an
        # 80-column terminal and wrapped, and the redraw left stale lines behind
        name = "\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb\u540d\u3067\u3059.bin"
        data = self.srv.make_file(name, 2 * MiB, seed=32)
        done = self.local("rc")
        capture = self.tmux("env LC_ALL=C.UTF-8 %s get --limit-rate 700k %s; echo $? > %s; "
                            "sleep 30" % (FTPC_BIN, shlex.quote(self.srv.url(name)), done),
                            width=80)
        seen = wait_for(lambda: re.search(r"(?m)^\u65e5\u672c.*\d+% .*ETA", capture()),
                        timeout=8, interval=0.1)
        self.assertTrue(seen, capture())
        for row in capture().splitlines():
            self.assertLessEqual(sum(2 if ord(ch) >= 0x3000 else 1 for ch in row), 80, row)
        self.assertEqual(self.wait_file(done), "0", capture())
        self.assertEqual(self.read_local(name), data)

    def test_bars_keep_their_column_when_the_count_gains_a_digit(self):
        # "Total 10/12" is a cell wider than "Total 9/12": the name column of the frame is
        # as wide as its widest name, so every bar moved a column when the tenth file ended
        names = ["c%02d.bin" % i for i in range(12)]
        for i, n in enumerate(names):
            self.srv.make_file(n, 256 * 1024, seed=60 + i)
        rc, out = self.on_terminal("get", "-j", "2", "--limit-rate", "1M",
                                   *[self.srv.url(n) for n in names], NO_COLOR="1")
        self.assertEqual(rc, 0, out)
        text = out.decode("utf-8")
        ends = {}  # where the percentage field ends, by the count of finished files
        for raw in text.split("\x1b[2K")[1:]:
            line = raw.split("\r\n")[0]
            m = re.match(r"^Total +(\d+)/12 +(\d+%|--)", line)
            if m:
                ends.setdefault(int(m.group(1)), set()).add(m.end())
        self.assertTrue(any(k < 10 for k in ends) and any(k >= 10 for k in ends), ends)
        self.assertEqual(len(set().union(*ends.values())), 1, ends)
        for n in names:
            self.assertEqual(self.read_local(n), self.srv.read(n))

    def test_total_line_on_a_narrow_terminal_keeps_its_count(self):
        # 30 columns leave the name column 8 cells: "Total  3/12" lost its middle, the count
        # of finished files ("Tot...12"); the count alone fits
        names = ["n%02d.bin" % i for i in range(12)]
        for i, n in enumerate(names):
            self.srv.make_file(n, 256 * 1024, seed=80 + i)
        rc, out = self.on_terminal("get", "-j", "2", "--limit-rate", "1M",
                                   *[self.srv.url(n) for n in names], cols=30, NO_COLOR="1")
        self.assertEqual(rc, 0, out)
        lines = [raw.split("\r\n")[0] for raw in out.decode("utf-8").split("\x1b[2K")[1:]]
        counts = [int(m.group(1)) for m in (re.match(r"^ *(\d+)/12 ", l) for l in lines) if m]
        self.assertTrue(counts and max(counts) >= 2, lines)
        self.assertFalse([l for l in lines if l.startswith("Tot")], lines)
        for n in names:
            self.assertEqual(self.read_local(n), self.srv.read(n))

    def test_plain_when_not_a_tty(self):
        data = self.srv.make_file("plain.bin", 2 * MiB + 512 * 1024, seed=30)
        r = self.ftpc("--progress=plain", "--limit-rate", "1M", "get", self.srv.url("plain.bin"))
        err = r.stderr.decode()
        self.assertNotIn("\r", err)
        self.assertNotIn("\x1b", err)
        progress = re.findall(r"^plain\.bin: \d+% \(.* of 2\.50 MiB\), .*/s, ETA \d+:\d\d$", err,
                              re.M)
        self.assertGreaterEqual(len(progress), 1, err)
        self.assertRegex(err, r"(?m)^plain\.bin: 2\.50 MiB in [\d.]+ s \(.*/s\), verified sha256$")
        self.assertEqual(self.read_local("plain.bin"), data)

    def test_server_names_cannot_drive_the_terminal(self):
        # a file name is the server's to choose: an escape sequence in it is shown as '?'
        # in every line that names the file
        name = "red\x1b[31mX\x1b[0m.bin"
        self.srv.make_file(name, 3000, seed=31)
        os.mkdir(self.local("ev"))
        r = self.ftpc("get", "-O", self.local("ev"), self.srv.url("red*"))
        err = r.stderr.decode()
        self.assertNotIn("\x1b", err)
        self.assertRegex(err, r"(?m)^red\?\[31mX\?\[0m\.bin: .*, verified sha256$")
        self.assertEqual(os.listdir(self.local("ev")), [name])

    def test_listing_on_a_terminal_shows_control_characters_as_marks(self):
        self.srv.make_file("red\x1b[31mX\x1b[0m.bin", 10, seed=32)
        self.srv.make_file("c1\u009b31mY.bin", 10, seed=33)  # U+009B: CSI to xterm
        # the byte 0x9B alone is CSI to a terminal in an 8-bit locale
        self.srv.make_file(os.fsdecode(b"lone\x9b" b"31mZ.bin"), 10, seed=34)
        self.srv.make_file(os.fsdecode(b"two\xc2\x9b\x9b" b"31mW.bin"), 10, seed=35)
        master, slave = pty.openpty()
        p = subprocess.Popen([FTPC_BIN, "ls", self.srv.url("")], cwd=self.tmp,
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             env=self.env())
        os.close(slave)
        data = read_pty(master, 30, proc=p)
        os.close(master)
        self.assertEqual(p.wait(30), 0, data)
        self.assertIn(b"red?[31mX?[0m.bin", data)
        self.assertNotIn(b"\x1b", data)
        self.assertIn(b"c1??31mY.bin", data)
        self.assertNotIn(b"\x9b", data)
        self.assertIn(b"lone?31mZ.bin", data)
        self.assertIn(b"two???31mW.bin", data)
        # into a pipe or a file the names stay as the server sent them
        r = self.ftpc("ls", self.srv.url(""))
        self.assertIn(b"red\x1b[31mX\x1b[0m.bin", r.stdout)

    def test_default_not_a_tty_summary_only(self):
        self.srv.make_file("s.bin", 100000)
        r = self.ftpc("get", self.srv.url("s.bin"))
        err = r.stderr.decode()
        self.assertNotIn("\r", err)
        self.assertNotIn("\x1b", err)
        # one line: the summary, with the HASH check's outcome (--verify, the default)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^s\.bin: 97\.7 KiB in [\d.]+ s \(.*/s\), verified sha256\n$")

    def test_quiet(self):
        self.srv.make_file("q.bin", 100000)
        r = self.ftpc("-q", "get", self.srv.url("q.bin"))
        self.assertEqual(r.stderr, b"")
        r = self.ftpc("-q", "get", self.srv.url("nope"), rc=5)
        self.assertIn(b"550", r.stderr)  # errors are still shown


class TestCredentials(FtpcCase):
    # The refused logins here test how ftpc takes a 530, not ftpd's delay before it
    # (test_session.py does): 50 ms instead of the default 1 s.
    server_kwargs = {"args": ["--login-failure-delay", "50"]}

    def write_netrc(self, text):
        path = self.local("netrc")
        with open(path, "w") as fh:
            fh.write(text)
        os.chmod(path, 0o600)
        return path

    def test_netrc_file(self):
        data = self.srv.make_file("n.bin", 1000)
        netrc = self.write_netrc("machine other login x password y\n"
                                 "machine %s login %s password %s\n"
                                 % (self.srv.host, self.srv.user, self.srv.password))
        url = "ftp://%s:%d/n.bin" % (self.srv.host, self.srv.port)
        self.ftpc("--netrc-file", netrc, "get", url)
        self.assertEqual(self.read_local("n.bin"), data)
        os.unlink(self.local("n.bin"))
        # $NETRC names the file too
        self.ftpc("get", url, env=self.env(NETRC=netrc))
        self.assertEqual(self.read_local("n.bin"), data)
        # --no-netrc: anonymous, where n.bin does not exist
        self.ftpc("--no-netrc", "get", "-o", "x", url, env=self.env(NETRC=netrc), rc=5)

    def test_netrc_faults_are_named(self):
        data = self.srv.make_file("q.bin", 10)
        url = "ftp://%s:%d/q.bin" % (self.srv.host, self.srv.port)
        # a quote left open would take the next lines into the password: the file is not used
        netrc = self.write_netrc("# mine\nmachine %s login %s password \"%s\nmachine x\n"
                                 % (self.srv.host, self.srv.user, self.srv.password))
        r = self.ftpc("--netrc-file", netrc, "get", "-o", "x", url, rc=5)  # anonymous: no q.bin
        self.assertIn(b"%s line 2: a quoted token has no closing quote; the file is not used"
                      % netrc.encode(), r.stderr)
        # a good file that others can read is used, with a warning, once
        netrc = self.write_netrc("machine %s login %s password %s\n"
                                 % (self.srv.host, self.srv.user, self.srv.password))
        os.chmod(netrc, 0o644)
        r = self.ftpc("--netrc-file", netrc, "get", url, url)
        self.assertEqual(self.read_local("q.bin"), data)
        self.assertEqual(r.stderr.count(b"holds passwords and others can read it"), 1, r.stderr)
        # a --netrc-file that cannot be read (mistyped, a directory) is said, once, rather
        # than leave an anonymous 530 unexplained; a NETRC naming no file stays quiet
        for bad in (self.local("no-such-file"), self.tmp):
            r = self.ftpc("--netrc-file", bad, "cat", url, url, rc=5)
            self.assertEqual(r.stderr.count(b"ftpc: warning: cannot read the netrc file %s ("
                                            % bad.encode()), 1, r.stderr)
            self.assertIn(b"); no credentials from it\n", r.stderr)
        r = self.ftpc("get", "-o", "x", url, rc=5)  # self.env(): NETRC names no file
        self.assertNotIn(b"netrc", r.stderr)

    def test_netrc_password_for_url_user(self):
        data = self.srv.make_file("u.bin", 10)
        netrc = self.write_netrc("machine %s login someone password nope\n"
                                 "machine %s login %s password %s\n"
                                 % (self.srv.host, self.srv.host, self.srv.user,
                                    self.srv.password))
        url = "ftp://%s@%s:%d/u.bin" % (self.srv.user, self.srv.host, self.srv.port)
        self.ftpc("--netrc-file", netrc, "get", url)
        self.assertEqual(self.read_local("u.bin"), data)

    def test_password_prompt_without_echo(self):
        data = self.srv.make_file("p.bin", 10)
        done = self.local("exit-status")
        url = "ftp://%s@%s:%d/p.bin" % (self.srv.user, self.srv.host, self.srv.port)
        capture = self.tmux("%s get %s; echo $? > %s; sleep 30" % (FTPC_BIN, url, done))
        prompt = "Password for %s@%s:" % (self.srv.user, self.srv.host)
        self.assertTrue(wait_for(lambda: prompt in capture(), timeout=10), capture())
        capture.keys(self.srv.password, "Enter")
        self.assertEqual(self.wait_file(done), "0", capture())
        self.assertEqual(self.read_local("p.bin"), data)
        self.assertNotIn(self.srv.password, capture())  # not echoed

    def test_no_terminal_no_prompt(self):
        # No terminal to ask on: an empty password, refused by the server.
        self.srv.make_file("p.bin", 10)
        url = "ftp://%s@%s:%d/p.bin" % (self.srv.user, self.srv.host, self.srv.port)
        hint = b"(no password was given: put it in the URL%s, or run ftpc where"

        def refused(*opts, **env):
            r = subprocess.run(["setsid", FTPC_BIN, *opts, "get", url], cwd=self.tmp,
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                               env=self.env(**env))
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn(b"530", r.stderr)
            return r.stderr
        # the hint names the netrc file ftpc reads: $NETRC's, --netrc-file's, ~/.netrc
        netrc = self.env()["NETRC"]
        self.assertIn(hint % (b" or " + netrc.encode()), refused())
        other = self.write_netrc("machine elsewhere login x password y\n")
        self.assertIn(hint % (b" or " + other.encode()), refused("--netrc-file", other))
        self.assertIn(hint % b"", refused("--no-netrc"))
        env = self.env(HOME=self.tmp)
        del env["NETRC"]
        r = subprocess.run(["setsid", FTPC_BIN, "get", url], cwd=self.tmp, capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL, env=env)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(hint % b" or ~/.netrc", r.stderr)
        # a wrong password given is just refused
        url = "ftp://%s:wrong@%s:%d/p.bin" % (self.srv.user, self.srv.host, self.srv.port)
        r = subprocess.run([FTPC_BIN, "get", url], cwd=self.tmp, capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL, env=self.env())
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertNotIn(b"no password", r.stderr)


class TestHelp(unittest.TestCase):
    def test_command_help(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        whole = subprocess.run([FTPC_BIN, "--help"], capture_output=True, timeout=10).stdout
        whole_lines = set(whole.decode().splitlines())
        wants = {"get": "--output", "put": "--continue", "ls": "--long", "cat": "--ascii",
                 "mkdir": "--parents", "mirror": "--reverse", "rm": "--jobs"}
        for cmd in ("get", "put", "ls", "cat", "rm", "mkdir", "rmdir", "mv", "mirror"):
            for form in ([cmd, "--help"], ["-h", cmd]):
                r = subprocess.run([FTPC_BIN] + form, capture_output=True, timeout=10)
                self.assertEqual(r.returncode, 0, r.stderr)
                out = r.stdout.decode()
                self.assertTrue(out.startswith("Usage: ftpc [OPTIONS] %s" % cmd), out)
                self.assertNotEqual(r.stdout, whole)
                # each option line is the whole help's own line
                for line in out.splitlines():
                    if line.startswith("  -") or line.startswith("      --"):
                        self.assertIn(line, whole_lines, cmd)
                if cmd in wants:
                    self.assertIn(wants[cmd], out)
        self.assertNotIn("--reverse", subprocess.run([FTPC_BIN, "get", "--help"],
                                                     capture_output=True).stdout.decode())
        # an unknown command: the whole help
        r = subprocess.run([FTPC_BIN, "frobnicate", "--help"], capture_output=True, timeout=10)
        self.assertEqual(r.stdout, whole)

    def test_help_and_version(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        r = subprocess.run([FTPC_BIN, "--help"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for word in ("get", "put", "ls", "cat", "rm", "mkdir", "rmdir", "mv", "--jobs",
                     "--continue", "--retry", "--limit-rate", "--active", "--progress",
                     "Exit status"):
            self.assertIn(word, out)
        for code in range(2, 9):
            self.assertRegex(out, r"(?m)^  %d  " % code)
        # every long option of --help is in the manual page
        src = os.environ.get("FTP_SOURCE_DIR") or os.path.join(os.path.dirname(__file__),
                                                               "..", "..")
        man = os.path.join(src, "man", "ftpc.1")
        if os.path.exists(man):
            with open(man) as fh:
                text = fh.read().replace("\\-", "-")
            for opt in set(re.findall(r"--[a-z][a-z-]+", out)):
                self.assertTrue(opt in text, "%s is not in ftpc.1" % opt)
            for code in range(2, 9):
                self.assertTrue(".B %d\n" % code in text, "exit status %d not in ftpc.1" % code)
        r = subprocess.run([FTPC_BIN, "--version"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^ftpc \d+\.\d+")


if __name__ == "__main__":
    unittest.main()
