"""Random sessions against ftpd: malformed and out-of-order commands, and transfers cut short
in every way a client can (early closes, resets, ABOR and QUIT mid-transfer, wrong MODE Z
data, REST past the end), in plain text and under TLS. Several clients at once, for a few
seconds each. The server must answer throughout, serve a clean download afterwards, and stop
without a sanitizer report (the harness checks that at stop).

The seeds are fixed so a run can be repeated; FUZZ_SEED shifts them and FUZZ_SECONDS sets
how long each test runs (default 5), for longer runs by hand:
    FUZZ_SECONDS=120 FUZZ_SEED=7 python3 -m unittest test_fuzz
"""
import os
import random
import re
import socket
import ssl
import threading
import time
import unittest

from ftpd_harness import DEFAULT_PASSWORD, DEFAULT_USER, ServerTestCase, data_bytes, retr, sha

SECONDS = float(os.environ.get("FUZZ_SECONDS", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
CLIENTS = 4

VERBS = ("USER PASS QUIT NOOP SYST FEAT OPTS HELP STAT TYPE MODE STRU PWD CWD CDUP MKD RMD DELE "
         "RNFR RNTO SIZE MDTM MLST MLSD LIST NLST RETR STOR STOU APPE REST ABOR ALLO PASV EPSV "
         "PORT EPRT HASH RANG AUTH PBSZ PROT CCC SITE XPWD XCWD XMKD XRMD CLNT MFMT").split()
ARGS = ["", "a.txt", "b.bin", "d", "d/e", "..", "../..", "/", "/etc/passwd", "out/passwd",
        "out/new", "sp ace.txt", "x" * 5000, "\xff\xfe", "I", "A", "A N", "E", "L 8", "Z", "S",
        "B", "F", "P", "C", "0", "-1", "99999999999999999999", "1,2,3,4,5,6", "127,0,0,1,4,1",
        "|1|127.0.0.1|1025|", "|2|::1|1025|", "ALL", "UTF8 ON", "MLST type;size;", "HASH SHA-1",
        "0-10", "10-0", "*", "-la", "new", "d/new", "20260101000000 a.txt", "%s%n", "\x00"]
ENDINGS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r\n\xff\xf4\xff\xf2", b""]
DATA_VERBS = [b"RETR b.bin", b"RETR t.txt", b"RETR a.txt", b"RETR d", b"RETR nope", b"STOR up0",
              b"STOR up1", b"APPE up0", b"APPE up1", b"STOU", b"LIST", b"NLST", b"MLSD",
              b"LIST d", b"MLSD a.txt", b"STOR d"]
PASV_RE = re.compile(rb"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)|\(\|\|\|(\d+)\|\)")
NET_ERRORS = (OSError, ssl.SSLError)


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def quiet_recv(sock, n=65536):
    try:
        return sock.recv(n)
    except NET_ERRORS:
        return b""


def quiet_close(sock):
    try:
        sock.close()
    except NET_ERRORS:
        pass


class Fuzzer:
    def __init__(self, srv, seed, tls=False):
        self.srv = srv
        self.seed = seed
        self.tls = tls
        self.ctx = tls_context() if tls else None
        self.sessions = 0

    def connect(self):
        s = socket.create_connection((self.srv.host, self.srv.port), timeout=3)
        s.settimeout(2)
        quiet_recv(s, 1000)
        return s

    def login(self, rnd, s):
        """Logs in (as the user, anonymously or not at all); under TLS mostly after AUTH TLS.
        Returns the control socket and whether data connections are to be protected."""
        prot = False
        if self.tls and rnd.random() < 0.8:
            s.sendall(b"AUTH TLS\r\n")
            quiet_recv(s, 1000)
            s = self.ctx.wrap_socket(s, server_hostname="localhost")
            if rnd.random() < 0.8:
                s.sendall(b"PBSZ 0\r\nPROT P\r\n")
                prot = True
        r = rnd.random()
        if r < 0.6:
            s.sendall(("USER %s\r\nPASS %s\r\n" % (DEFAULT_USER, DEFAULT_PASSWORD)).encode())
        elif r < 0.8:
            s.sendall(b"USER anonymous\r\nPASS x@y\r\n")
        time.sleep(0.01)
        s.settimeout(0.3)
        quiet_recv(s)
        return s, prot

    def random_line(self, rnd):
        if rnd.random() < 0.05:
            return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))) + b"\r\n"
        verb = rnd.choice(VERBS)
        if rnd.random() < 0.1:
            verb = verb.lower()
        arg = rnd.choice(ARGS)
        text = verb + (" " + arg if arg else "")
        return text.encode("latin-1", "replace") + rnd.choice(ENDINGS)

    def protect(self, rnd, d, prot):
        """d under TLS when PROT P was asked for (mostly: now and then left plain)."""
        if prot and rnd.random() < 0.9:
            try:
                return self.ctx.wrap_socket(d, server_hostname="localhost")
            except NET_ERRORS:
                quiet_close(d)
                return None
        return d

    def open_data(self, rnd, reply, prot):
        m = PASV_RE.search(reply)
        if not m:
            return None
        port = int(m.group(7)) if m.group(7) else int(m.group(5)) * 256 + int(m.group(6))
        try:
            d = socket.create_connection((self.srv.host, port), timeout=2)
        except OSError:
            return None
        return self.protect(rnd, d, prot)

    def active_data(self, rnd, s, pre, verb, prot):
        """PORT or EPRT to a listener of ours, then the data command; the server's data
        connection, if it comes (None otherwise)."""
        with socket.create_server((self.srv.host, 0)) as lsock:
            lsock.settimeout(1)
            port = lsock.getsockname()[1]
            if rnd.random() < 0.5:
                cmd = b"PORT 127,0,0,1,%d,%d" % (port // 256, port % 256)
            else:
                cmd = b"EPRT |1|127.0.0.1|%d|" % port
            s.sendall(pre + cmd + b"\r\n" + verb + b"\r\n")
            try:
                d, _ = lsock.accept()
            except OSError:
                return None
        return self.protect(rnd, d, prot)

    def command_session(self, rnd):
        """Any verb with any argument, in any order; data connections opened on a whim."""
        s, prot = self.login(rnd, self.connect())
        datas = []
        try:
            for _ in range(rnd.randrange(1, 40)):
                s.sendall(self.random_line(rnd))
                reply = quiet_recv(s)
                d = self.open_data(rnd, reply, prot)
                if d is not None:
                    datas.append(d)
                    if rnd.random() < 0.5:
                        d.sendall(os.urandom(rnd.randrange(0, 200000)))
                for d in list(datas):
                    if rnd.random() < 0.3:
                        d.setblocking(False)
                        quiet_recv(d, 1 << 20)
                    if rnd.random() < 0.2:
                        quiet_close(d)
                        datas.remove(d)
        finally:
            for d in datas:
                quiet_close(d)
            quiet_close(s)

    def transfer_session(self, rnd):
        """Transfers with random settings, cut short at random."""
        s, prot = self.login(rnd, self.connect())
        try:
            for _ in range(rnd.randrange(1, 12)):
                pre = rnd.choice([b"", b"TYPE A\r\n", b"TYPE I\r\n", b"MODE Z\r\n", b"MODE S\r\n",
                                  b"REST %d\r\n" % rnd.choice([0, 1, 99, 299999, 300000, 900000])])
                verb = rnd.choice(DATA_VERBS)
                if rnd.random() < 0.25:
                    d = self.active_data(rnd, s, pre, verb, prot)
                else:
                    s.sendall(pre + rnd.choice([b"PASV\r\n", b"EPSV\r\n"]))
                    time.sleep(0.01)
                    reply = quiet_recv(s, 4000)
                    connect_first = rnd.random() < 0.5
                    d = self.open_data(rnd, reply, prot) if connect_first else None
                    s.sendall(verb + b"\r\n")
                    if not connect_first and rnd.random() < 0.9:
                        d = self.open_data(rnd, reply, prot)
                try:
                    if d is not None and verb[:4] in (b"STOR", b"APPE", b"STOU"):
                        for _ in range(rnd.randrange(0, 30)):
                            d.sendall(os.urandom(rnd.choice([1, 1000, 65536])))
                    elif d is not None:
                        d.settimeout(0.2)
                        for _ in range(rnd.randrange(0, 30)):
                            if not d.recv(rnd.choice([1, 4096, 1 << 20])):
                                break
                    if rnd.random() < 0.3:
                        s.sendall(rnd.choice([b"ABOR\r\n", b"\xff\xf4\xff\xf2ABOR\r\n",
                                              b"STAT\r\n", b"NOOP\r\n", b"QUIT\r\n"]))
                    if d is not None and rnd.random() < 0.2:  # close with a reset
                        d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                except NET_ERRORS:
                    pass
                finally:
                    if d is not None:
                        quiet_close(d)
                quiet_recv(s, 8000)
        finally:
            quiet_close(s)

    def run(self, session, seconds):
        end = time.monotonic() + seconds

        def client(i):
            rnd = random.Random(self.seed * 100 + i)
            while time.monotonic() < end and self.srv.proc.poll() is None:
                try:
                    session(rnd)
                except NET_ERRORS:
                    pass
                self.sessions += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 60)
        return not any(t.is_alive() for t in threads)


class TestRandomSessions(ServerTestCase):
    # Random USER/PASS lines are failed logins: neither limit on them is under test here.
    server_kwargs = {"args": ["--login-failure-delay", "0", "--max-login-failures", "1000",
                              "--login-ban", "off",
                              "--idle-timeout", "5", "--data-timeout", "3", "--tls"],
                     "hash_method": "1", "log_level": "info"}

    def setUp(self):
        super().setUp()
        self.srv.make_file("a.txt", 100, seed=1)
        self.srv.make_file("b.bin", 300000, seed=2)
        self.srv.write("t.txt", b"line\r\nx\n\r" * 20000)
        self.srv.make_file("d/c.txt", 5, seed=3)
        self.srv.mkdir("d/e")
        self.srv.write("sp ace.txt", b"ten bytes!")
        os.symlink("/etc", self.srv.local("out"))
        self.check = data_bytes(2 << 20, seed=9)
        self.srv.write("check.bin", self.check)

    def fuzz(self, kind, seed, tls=False):
        f = Fuzzer(self.srv, SEED + seed, tls)
        session = f.command_session if kind == "commands" else f.transfer_session
        self.assertTrue(f.run(session, SECONDS), "a client thread hung")
        self.assertIsNone(self.srv.proc.poll(), "ftpd died:\n" + self.srv.log_text()[-4000:])
        self.assertGreater(f.sessions, 10)
        # still serving, and serving the right bytes
        ftp = self.srv.ftp()
        self.assertEqual(sha(retr(ftp, "check.bin")), sha(self.check))
        ftp.quit()
        self.assertFalse(os.path.exists("/etc/new"))
        return self.srv.log_text()

    def test_random_commands(self):
        log = self.fuzz("commands", 1)
        self.assertRegex(log, r"logged in")

    def test_random_transfers(self):
        log = self.fuzz("transfers", 2)
        # the sessions got as far as moving data, finished and cut short
        self.assertRegex(log, r"(RETR|STOR|APPE|STOU) \S+ .*ok: ")
        self.assertRegex(log, r"failed: ")

    def test_random_transfers_over_tls(self):
        log = self.fuzz("transfers", 3, tls=True)
        self.assertRegex(log, r"TLS on the control connection")
        self.assertRegex(log, r"(RETR|STOR|APPE|STOU|LIST|NLST|MLSD) \S+ .*ok: ")


if __name__ == "__main__":
    unittest.main()
