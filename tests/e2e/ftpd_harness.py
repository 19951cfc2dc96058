"""End-to-end test harness: starts the built ftpd on a free loopback port and drives it.

    with FtpdServer() as srv:                 # temp root, users file, ftpd on 127.0.0.1:0
        data = srv.make_file("a.bin", 1000)   # deterministic bytes, written under the root
        f = srv.ftp()                         # logged-in ftplib.FTP (timeout 10 s)
        ...
    # leaving the block stops the server and FAILS if it did not exit 0 after SIGTERM or if
    # its output holds a sanitizer report (AddressSanitizer, LeakSanitizer, "runtime error:")

The binary is $FTPD_BIN (ctest sets it), else ../../build/ftpd relative to this file.
Running as root (CI does), the server is started with `--user nobody` (override with
$FTPD_RUN_AS; empty disables) and the temp tree is owned by that user, so the tests also
exercise the privilege drop. $FTPD_E2E_KEEP=1 keeps the temp trees and prints where.
Everything here talks to loopback only and every wait is bounded.
"""
import ftplib
import hashlib
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FTPD_BIN = os.environ.get("FTPD_BIN") or os.path.normpath(os.path.join(HERE, "..", "..", "build", "ftpd"))

DEFAULT_USER = "alice"
DEFAULT_PASSWORD = "alice-Pw-4711"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")
INTERNAL_PREFIXES = (".ftpd-up.", ".ftpd-partial.")
LISTEN_RE = re.compile(r"listening on (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)")

_hash_cache = {}
_hash_lock = threading.Lock()


# make_dense's byte: not zero, so that it cannot be taken for a hole read back
DENSE_BYTE = 0xA5

def hash_password(password, method="6"):
    """A crypt hash of password, cached: SHA-512-crypt (method "6") or MD5-crypt ("1"), made
    by openssl passwd, else Python's crypt."""
    key = (password, method)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = None
    prefix = "$%s$" % method
    if shutil.which("openssl"):
        r = subprocess.run(["openssl", "passwd", "-" + method, "-stdin"], input=password + "\n",
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and r.stdout.startswith(prefix):
            h = r.stdout.strip()
    if h is None:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # removed in Python 3.13; openssl is the first choice
        h = crypt.crypt(password, crypt.mksalt(
            crypt.METHOD_MD5 if method == "1" else crypt.METHOD_SHA512))
    with _hash_lock:
        _hash_cache[key] = h
    return h


def data_bytes(size, seed=0):
    """size deterministic pseudo-random bytes for seed."""
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def run_as_user():
    """Name of the user the server drops to when the tests run as root, or None."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("FTPD_RUN_AS", "nobody")
    return name or None


# ------------------------------------------------------------------ ftplib helpers

def reply(f, line):
    """Sends one command on an ftplib.FTP and returns (code, full reply text); no exceptions
    for 4xx/5xx replies."""
    f.putcmd(line)
    resp = f.getmultiline()
    return int(resp[:3]), resp


def retr(f, path, blocksize=65536, rest=None):
    """Downloads path (binary) and returns the bytes."""
    f.voidcmd("TYPE I")
    out = []
    f.retrbinary("RETR " + path, out.append, blocksize, rest)
    return b"".join(out)


def stor(f, path, data, cmd="STOR", blocksize=65536, rest=None):
    """Uploads data to path with STOR (or APPE/STOU) and returns the final reply."""
    f.voidcmd("TYPE I")
    conn = f.transfercmd(cmd + " " + path if path else cmd, rest)
    try:
        view = memoryview(data)
        for i in range(0, len(view), blocksize):
            conn.sendall(view[i:i + blocksize])
    finally:
        conn.close()
    return f.voidresp()


def nlst(f, path=None):
    names = []
    f.retrlines("NLST" + (" " + path if path else ""), names.append)
    return names


def listing(f, path=None, cmd="LIST"):
    lines = []
    f.retrlines(cmd + (" " + path if path else ""), lines.append)
    return lines


def internal_names(names):
    return [n for n in names if any(p in n for p in INTERNAL_PREFIXES)]


# ------------------------------------------------------------------ raw control connection

class Control:
    """A raw control connection, for what ftplib cannot send (split lines, over-long lines,
    Telnet bytes) or when replies must be read one by one."""

    def __init__(self, host, port, timeout=10, source=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.host = host
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("control connection closed; pending %r" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, timeout=None):
        """Reads one (possibly multi-line) reply; returns (code, text with all lines)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        first = self._line()
        if len(first) < 3 or not first[:3].isdigit():
            raise AssertionError("malformed reply line %r" % first)
        lines = [first]
        if len(first) > 3 and first[3] == "-":
            end = first[:3] + " "
            while True:
                line = self._line()
                lines.append(line)
                if line.startswith(end) or line == first[:3]:
                    break
        return int(first[:3]), "\n".join(lines)

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def greeting(self):
        code, text = self.reply()
        assert code == 220, text
        return text

    def login(self, user=DEFAULT_USER, password=DEFAULT_PASSWORD):
        code, text = self.cmd("USER " + user)
        if code == 331:
            code, text = self.cmd("PASS " + password)
        assert code == 230, text
        return text

    def closed(self, timeout=5):
        """True when the server closes the connection within timeout (any pending bytes are
        read and dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def pasv(self, timeout=10):
        """PASV and connect; returns the data socket."""
        code, text = self.cmd("PASV")
        assert code == 227, text
        return socket.create_connection((self.host, pasv_port(text)), timeout=timeout)

    def epsv(self, timeout=10):
        """EPSV and connect; returns the data socket."""
        code, text = self.cmd("EPSV")
        assert code == 229, text
        port = int(re.search(r"\(\|\|\|(\d+)\|\)", text).group(1))
        return socket.create_connection((self.host, port), timeout=timeout)


def pasv_port(text):
    """The port a 227 reply (h1,h2,h3,h4,p1,p2) announces."""
    nums = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", text).groups()
    return int(nums[4]) * 256 + int(nums[5])


def recv_all(sock, limit=1 << 30, timeout=20):
    sock.settimeout(timeout)
    out = []
    total = 0
    while total < limit:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        out.append(chunk)
        total += len(chunk)
    return b"".join(out)


def recv_exactly(sock, n, timeout=20):
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(1 << 20, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def reset_close(sock):
    """Closes a socket with a TCP RST (SO_LINGER 0): the peer sees an error, not an EOF."""
    import struct
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def read_pty(master, timeout, done=None, proc=None):
    """What arrives on a pseudo-terminal's master side, read until done(data) holds, the other
    side is closed, proc (if given) has exited with nothing more to read, or timeout seconds
    have passed."""
    import select
    data = b""
    deadline = time.monotonic() + timeout
    exited = False
    while time.monotonic() < deadline:
        # Once proc has exited, only what it wrote before is left: take it without waiting.
        r, _, _ = select.select([master], [], [], 0 if exited else 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            data += chunk
            if done is not None and done(data):
                break
        elif exited:
            break
        elif proc is not None and proc.poll() is not None:
            # The quiet select may have ended long before this poll (a loaded machine
            # runs the reader late): proc may have written its last lines and exited
            # meanwhile, so look once more before giving up.
            exited = True
    return data


def fill_pipe(wr):
    """Fills the pipe whose write end is wr until it holds no more, through a file description
    of its own: wr itself stays blocking, as the program handed it finds its stdout/stderr."""
    fill = os.open("/proc/self/fd/%d" % wr, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(fill, b"x" * 65536)
    except BlockingIOError:
        pass
    finally:
        os.close(fill)


def free_port(count=1):
    """The first of `count` consecutive ports free now on 127.0.0.1, for a server or a
    passive range a test sets up later. They are taken below the ephemeral range: there
    another test's outgoing connection may take them meanwhile, and the late bind then fails
    (EADDRINUSE). 30000 up keeps clear of the peers' passive ports (10000-29999)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low - count <= 30000:
        raise AssertionError("no room below the ephemeral range (%d)" % low)
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(30000, low - count + 1)
        if all(port_is_free(p) for p in range(first, first + count)):
            return first
    raise AssertionError("no %d free ports below %d" % (count, low))


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for(pred, timeout=10.0, interval=0.02):
    """Polls pred() until it returns a true value (returned) or timeout (returns the last)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ------------------------------------------------------------------ the server

class FtpdServer:
    """One ftpd process on a temp tree.

    users: list of (name, password, perms) or (name, password, perms, home) where home is a
           path relative to the root (created) or absolute; default: alice with elradfmwTM and
           the root as home.
    hash_method: the users file's crypt method: "6" SHA-512-crypt (default) or "1" MD5-crypt.
    anonymous: True: anonymous logins served from self.anon_root; False: --no-anonymous.
    args: extra command-line arguments.
    listen: the --listen value (default 127.0.0.1:0).
    config: if a dict, the base settings (and these keys) are written to a config file
            passed with -c instead of flags.
    bare: pass only --listen (and --user when root) and args: ftpd's defaults for the rest.
    """

    def __init__(self, users=None, anonymous=True, args=(), listen="127.0.0.1:0",
                 config=None, start_timeout=10.0, log_level="debug", bare=False,
                 hash_method="6"):
        self.hash_method = hash_method
        self.users = users if users is not None else [(DEFAULT_USER, DEFAULT_PASSWORD, "elradfmwTM")]
        self.user = self.users[0][0] if self.users else None
        self.password = self.users[0][1] if self.users else None
        self.anonymous = anonymous
        self.args = list(args)
        self.listen = listen
        self.config = config
        self.start_timeout = start_timeout
        self.log_level = log_level
        self.bare = bare  # only --listen (and --user): ftpd's own defaults for the rest
        self.run_as = run_as_user()
        self.uid = self.gid = None
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.base = tempfile.mkdtemp(prefix="ftpd-e2e-")
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "root")
        self.anon_root = os.path.join(self.base, "anon")
        self.users_file = os.path.join(self.base, "users")
        os.mkdir(self.root)
        os.mkdir(self.anon_root)
        self.proc = None
        self.port = None
        self.host = None
        self._lines = []
        self._lines_lock = threading.Lock()
        self._reader = None
        self._stopped = False
        self.returncode = None
        self._clients = []

    # -- set-up helpers (all paths relative to the root unless absolute) --

    def local(self, path, base=None):
        if os.path.isabs(path):
            return path
        return os.path.join(base or self.root, path)

    def chown(self, path):
        if self.uid is not None:
            os.lchown(path, self.uid, self.gid)

    def mkdir(self, path, base=None):
        p = self.local(path, base)
        os.makedirs(p, exist_ok=True)
        # own every component we may have created below the base
        top = os.path.realpath(self.base)
        cur = os.path.realpath(p)
        while cur.startswith(top) and cur != top:
            self.chown(cur)
            cur = os.path.dirname(cur)
        return p

    def write(self, path, data, base=None, mtime=None):
        p = self.local(path, base)
        self.mkdir(os.path.dirname(p))
        with open(p, "wb") as fh:
            fh.write(data)
        self.chown(p)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return p

    def make_file(self, path, size, seed=0, base=None):
        """Writes size deterministic pseudo-random bytes to path; returns them."""
        data = data_bytes(size, seed)
        self.write(path, data, base)
        return data

    def make_sparse(self, path, size, base=None):
        """A file of size zero bytes that takes no disk space (truncate)."""
        p = self.local(path, base)
        self.mkdir(os.path.dirname(p))
        with open(p, "wb") as fh:
            fh.truncate(size)
        self.chown(p)
        return p

    def make_dense(self, path, size, base=None):
        """A file of size DENSE_BYTE bytes, every block of it on the disk: copying it costs
        what copying data costs, where the server skips make_sparse's holes."""
        p = self.local(path, base)
        self.mkdir(os.path.dirname(p))
        block = bytes([DENSE_BYTE]) * (1 << 20)
        with open(p, "wb") as fh:
            for _ in range(size // len(block)):
                fh.write(block)
            fh.write(block[:size % len(block)])
        self.chown(p)
        return p

    def read(self, path, base=None):
        with open(self.local(path, base), "rb") as fh:
            return fh.read()

    def exists(self, path, base=None):
        return os.path.lexists(self.local(path, base))

    def internal_files(self, directory=""):
        """Names of server-internal upload files (.ftpd-up.*, .ftpd-partial.*) in directory."""
        return [n for n in os.listdir(self.local(directory) if directory else self.root)
                if n.startswith(INTERNAL_PREFIXES)]

    # -- start / stop --

    def _users_text(self):
        lines = []
        for u in self.users:
            name, password, perms = u[0], u[1], u[2]
            home = u[3] if len(u) > 3 else ""
            home = self.mkdir(home) if home else self.root
            lines.append("%s:%s:%s:%s" % (name, hash_password(password, self.hash_method),
                                          home, perms))
        return "\n".join(lines) + "\n"

    def command_line(self):
        cmd = [FTPD_BIN]
        if self.bare:
            cmd += ["--listen", self.listen]
        elif self.config is not None:
            cfg = {"listen": self.listen, "users": self.users_file, "log-level": self.log_level}
            if self.anonymous:
                cfg["anonymous"] = self.anon_root
            else:
                cfg["anonymous"] = "off"
            cfg.update(self.config)
            conf = os.path.join(self.base, "ftpd.conf")
            with open(conf, "w") as fh:
                fh.write("# written by the e2e harness\n")
                for k, v in cfg.items():
                    fh.write("%s = %s\n" % (k, v))
            self.chown(conf)
            cmd += ["-c", conf]
        else:
            cmd += ["--listen", self.listen, "--users", self.users_file]
            cmd += ["--anonymous", self.anon_root] if self.anonymous else ["--no-anonymous"]
            cmd += ["--log-level", self.log_level]
        if self.run_as:
            cmd += ["--user", self.run_as]
        return cmd + self.args

    def start(self):
        if not os.access(FTPD_BIN, os.X_OK):
            raise AssertionError("ftpd binary not found: %s (set FTPD_BIN)" % FTPD_BIN)
        with open(self.users_file, "w") as fh:
            fh.write(self._users_text())
        os.chmod(self.users_file, 0o644)
        for p in (self.base, self.root, self.anon_root, self.users_file):
            self.chown(p)
        cmd = self.command_line()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=self.base)
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = self._find_listen()
            if m:
                host, port = m
                self.host = host.strip("[]")
                self.port = int(port)
                return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                break
            time.sleep(0.01)
        out = self.log_text()
        self._kill()
        self._cleanup()
        raise AssertionError("ftpd did not report 'listening on ADDR:PORT' within %.0f s "
                             "(exit %s)\ncommand: %s\noutput:\n%s"
                             % (self.start_timeout, self.proc.returncode, " ".join(cmd), out[-4000:]))

    def crash_and_restart(self):
        """SIGKILL, so the server cleans up nothing, then starts it again on the same files
        (on a new port)."""
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        self.proc.stdout.close()
        self._close_clients()
        with self._lines_lock:
            self._lines = []
        return self.start()

    def _find_listen(self):
        with self._lines_lock:
            for line in self._lines:
                m = LISTEN_RE.search(line)
                if m:
                    return m.group(1), m.group(2)
        return None

    def listen_addresses(self):
        """Every (host, port) the server reported listening on."""
        # start() returns at the first "listening on" line; the others precede the
        # "ready" line, which the reader thread may not have collected yet.
        self.wait_log(r" ready \(", timeout=10)
        out = []
        with self._lines_lock:
            for line in self._lines:
                m = LISTEN_RE.search(line)
                if m:
                    out.append((m.group(1).strip("[]"), int(m.group(2))))
        return out

    def _read_output(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lines_lock:
                self._lines.append(line)
            if os.environ.get("FTPD_E2E_ECHO"):
                sys.stderr.write("[ftpd] " + line + "\n")

    def logs(self):
        with self._lines_lock:
            return list(self._lines)

    def log_text(self):
        return "\n".join(self.logs())

    def settled_log_text(self, timeout=5.0, sessions=0):
        """The log once every session in it has ended, and at least `sessions` began. It
        reaches the harness through a reader thread, possibly after a client has exited: a
        client's last lines may still be on their way, or all of them (on a loaded machine
        a log read at once held none of the session a test had just run)."""
        def settled():
            text = self.log_text()
            # a refused connection (421) logs "refused" and its end, but no "connected"
            began = text.count(": connected") + text.count(": refused: ")
            return began >= sessions and text.count(": disconnected") >= began
        wait_for(settled, timeout)
        return self.log_text()

    def wait_log(self, pattern, timeout=5.0):
        """Waits for a log line matching the regex; returns the match or None."""
        rx = re.compile(pattern)

        def find():
            for line in self.logs():
                m = rx.search(line)
                if m:
                    return m
            return None
        return wait_for(find, timeout)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def sanitized(self):
        """True when the running ftpd is an ASan build (its RSS then includes the allocator's
        quarantine of freed memory, so RSS checks do not apply)."""
        try:
            with open("/proc/%d/maps" % self.proc.pid) as fh:
                return "libasan" in fh.read()
        except OSError:
            return False

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def _close_clients(self):
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients = []

    def _cleanup(self):
        if self.proc is not None and self.proc.stdout is not None:
            if self._reader is not None:
                self._reader.join(5)
            try:
                self.proc.stdout.close()
            except OSError:
                pass
        self._close_clients()
        if os.environ.get("FTPD_E2E_KEEP"):
            sys.stderr.write("[harness] kept %s\n" % self.base)
            with open(os.path.join(self.base, "ftpd.log"), "w") as fh:
                fh.write(self.log_text())
        else:
            shutil.rmtree(self.base, ignore_errors=True)

    def stop(self, check=True, expect_rc=0):
        """SIGTERM, wait up to 10 s (then SIGKILL). With check, raises AssertionError if the
        exit status is not expect_rc or the output holds a sanitizer report."""
        if self._stopped:
            return self.returncode
        self._stopped = True
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        problem = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                problem = "ftpd did not exit within 10 s of SIGTERM; killed"
                self._kill()
        elif check:
            problem = "ftpd exited on its own before stop() (status %s)" % self.proc.returncode
        if self._reader:
            self._reader.join(10)
        self.returncode = self.proc.returncode
        text = self.log_text()
        if problem is None and self.returncode != expect_rc:
            problem = "ftpd exited with status %s after SIGTERM (expected %s)" % (self.returncode, expect_rc)
        if problem is None:
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    problem = "sanitizer report in ftpd output (%s)" % marker
                    break
        self._cleanup()
        if check and problem:
            # show the report itself, or the tail of the log
            idx = min([text.find(m) for m in SANITIZER_MARKERS if m in text] or [-1])
            excerpt = text[max(0, idx - 500): idx + 6000] if idx >= 0 else text[-4000:]
            raise AssertionError(problem + "\n--- ftpd output ---\n" + excerpt)
        return self.returncode

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        # a failing test keeps its own exception; a clean one fails on a bad server exit
        self.stop(check=exc_type is None)
        return False

    # -- clients --

    def ftp(self, user=None, pw=None, login=True, passive=True, timeout=10, host=None):
        """A connected (and by default logged-in) ftplib.FTP; closed by stop()."""
        f = ftplib.FTP(timeout=timeout, encoding="utf-8")
        f.connect(host or self.host, self.port)
        self._clients.append(f)
        f.set_pasv(passive)
        if login:
            f.login(user if user is not None else self.user,
                    pw if pw is not None else self.password)
        return f

    def control(self, timeout=10, source=None, greet=True, host=None):
        """A raw Control connection (greeting already read by default); closed by stop()."""
        c = Control(host or self.host, self.port, timeout, source)
        self._clients.append(c)
        if greet:
            c.greeting()
        return c

    def url(self, path="", user=None, pw=None, typecode=None):
        user = user if user is not None else self.user
        pw = pw if pw is not None else self.password
        host = "[%s]" % self.host if ":" in self.host else self.host
        q = urllib.parse.quote
        u = "ftp://%s:%s@%s:%d/%s" % (q(user, safe=""), q(pw, safe=""), host, self.port,
                                      q(path.lstrip("/")))
        if typecode:
            u += ";type=" + typecode
        return u


class ServerTestCase(unittest.TestCase):
    """Starts one server per test with server_kwargs; self.srv. Stopping it (and its
    sanitizer/exit-status check) is a cleanup, so a bad exit fails the test."""

    server_kwargs = {}

    def setUp(self):
        self.srv = self.start_server(**self.server_kwargs)

    def start_server(self, **kw):
        srv = FtpdServer(**kw)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def begin_transfer(self, line, rest=None):
        """A logged-in binary session on a passive data connection whose `line` (RETR,
        STOR, APPE, STOU ..., after REST rest if given) got its 150, so the transfer has
        begun: (control, data socket, the 150's text)."""
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        if rest is not None:
            self.assertEqual(c.cmd("REST %d" % rest)[0], 350)
        code, text = c.cmd(line, timeout=20)
        self.assertEqual(code, 150, text)
        return c, ds, text

    def assertLogged(self, pattern, timeout=5.0):
        """The server's log has a line matching the regex `pattern`. Waits for it: a reader
        thread collects the log, and a client that has just exited may have read the 226
        before that thread has the line written just ahead of it."""
        if self.srv.wait_log(pattern, timeout) is None:
            self.fail("no log line matches %r; log tail:\n%s" % (pattern, self.srv.log_text()[-3000:]))

    def assertCode(self, got, expected, msg=None):
        """got is (code, text); expected an int, a tuple of ints, or a class like '5xx'."""
        code, text = got
        if isinstance(expected, str):
            ok = str(code)[0] == expected[0]
        elif isinstance(expected, int):
            ok = code == expected
        else:
            ok = code in expected
        if not ok:
            self.fail("expected %s, got %r%s" % (expected, text, (": " + msg) if msg else ""))
        return text
