"""ftpc against a server that answers at random: right replies mixed with wrong codes,
malformed and endless lines, unterminated multi-line replies, silly sizes and hashes, PASV
and EPSV ports that lead nowhere, active data connections (PORT, EPRT), listings naming
paths outside the target, data that stops short or runs long, and connections dropped at
any point.

Every ftpc command must end within its timeout with one of its documented exit statuses (no
crash, no hang, no sanitizer report), and mirror must never write outside its target. The
seeds are fixed; FUZZ_SEED shifts them and FUZZ_RUNS sets how many ftpc runs each test makes
(default 12), for longer runs by hand; FUZZ_VERBOSE=1 prints each run's status and last
message.
"""
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from test_ftpc import FTPC_BIN

RUNS = int(os.environ.get("FUZZ_RUNS", "12"))
VERBOSE = bool(os.environ.get("FUZZ_VERBOSE"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
# 2 (usage error) is left out: every command here is well formed
EXIT_STATUSES = {0, 3, 4, 5, 6, 7, 8, 9}

FEATURES = ["SIZE", "MDTM", "REST STREAM", "MLST type*;size*;modify*;", "EPSV", "UTF8",
            "HASH SHA-256*;SHA-1", "MODE Z", "RANG STREAM", "AUTH TLS", "TVFS"]
BAD_REPLIES = [b"2", b"abc", b"22 x", b"", b"\x00\xff\xfe", b"999 what", b"099 low", b"2xx x",
               b"200-open and never closed", b"150 wait", b"421 going away", b"500 " + b"x" * 9000,
               b"226 done", b"550 no", b"331 again", b"110 MARK yes = mark"]
NAMES = [b"f.bin", b"a b.txt", b"../escape.txt", b"/abs.txt", b"sub/../../up.txt", b"..", b".",
         b"d", b"x" * 300, b"\xff\xfe.bin", b"nul\x00name", b"ok.txt"]


class ActiveTarget:
    """The client's side of an active data connection (PORT or EPRT): accept() connects to
    it, so the server's code is the same as for a passive one."""

    def __init__(self, port):
        self.port = port

    @classmethod
    def parse(cls, verb, arg):
        try:
            if verb == b"PORT":
                p = [int(x) for x in arg.split(b",")]
                return cls(p[4] * 256 + p[5])
            return cls(int(arg.split(arg[:1])[3]))
        except (ValueError, IndexError):
            return None

    def accept(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=3), None

    def close(self):
        pass


class RandomFtp:
    """Serves sessions until stopped, each on its own thread, answering at random."""

    def __init__(self, seed, tls=None):
        self.seed = seed
        self.tls = tls  # a server-side SSLContext: AUTH TLS and PROT P are offered
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopping = threading.Event()
        self.sessions = 0
        self.handshakes = 0  # control connections switched to TLS
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.thread.join(10)
        self.lsock.close()

    def serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                continue
            self.sessions += 1
            rnd = random.Random(self.seed * 1000 + self.sessions)
            threading.Thread(target=self.session, args=(conn, rnd), daemon=True).start()

    # -- one session --

    def session(self, conn, rnd):
        conn.settimeout(5)
        dsock = None
        self.prot = False
        try:
            f = conn.makefile("rb")
            self.reply(conn, rnd, b"220 random ftp", wrong=0.05)
            for _ in range(200):
                line = f.readline(20000)
                if not line or self.stopping.is_set():
                    break
                verb, _, arg = line.strip().partition(b" ")
                verb = verb.upper()
                if rnd.random() < 0.02:
                    break  # drop the connection at any command
                if verb == b"AUTH" and self.tls is not None and rnd.random() < 0.9:
                    self.send(conn, b"234 go ahead")
                    if rnd.random() < 0.05:
                        conn.sendall(os.urandom(100))  # garbage instead of a handshake
                        break
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    self.handshakes += 1
                    f = conn.makefile("rb")
                elif verb == b"PROT" and self.tls is not None:
                    self.prot = arg.upper() == b"P"
                    self.reply(conn, rnd, b"200 PROT ok")
                elif verb in (b"EPSV", b"PASV"):
                    if dsock is not None:
                        dsock.close()
                    dsock = socket.socket()
                    dsock.bind(("127.0.0.1", 0))
                    dsock.listen(4)
                    dsock.settimeout(3)
                    self.passive(conn, rnd, verb, dsock.getsockname()[1])
                elif verb in (b"PORT", b"EPRT"):
                    if dsock is not None:
                        dsock.close()
                    dsock = ActiveTarget.parse(verb, arg)
                    self.reply(conn, rnd, b"200 ok" if dsock else b"501 what address?")
                elif verb in (b"RETR", b"LIST", b"NLST", b"MLSD"):
                    self.download(conn, rnd, verb, dsock)
                elif verb in (b"STOR", b"APPE"):
                    self.upload(conn, rnd, dsock)
                elif verb == b"QUIT":
                    self.reply(conn, rnd, b"221 bye", wrong=0.1)
                    break
                else:
                    self.reply(conn, rnd, self.good(rnd, verb))
        except (OSError, ssl.SSLError):
            pass
        finally:
            if dsock is not None:
                dsock.close()
            conn.close()

    def accept(self, rnd, dsock):
        """The data connection, under TLS when PROT P asked for it (mostly)."""
        d, _ = dsock.accept()
        if self.prot and rnd.random() < 0.9:
            d = self.tls.wrap_socket(d, server_side=True)
        return d

    def send(self, conn, data):
        conn.sendall(data + b"\r\n")

    def reply(self, conn, rnd, good, wrong=0.15):
        if rnd.random() >= wrong:
            self.send(conn, good)
        else:
            self.send(conn, rnd.choice(BAD_REPLIES))

    def good(self, rnd, verb):
        if verb == b"USER":
            return rnd.choice([b"331 password", b"230 in already"])
        if verb == b"PASS":
            return b"230 in"
        if verb == b"FEAT":
            feats = rnd.sample(FEATURES, rnd.randrange(len(FEATURES) + 1))
            lines = b"".join(b" %s\r\n" % x.encode() for x in feats)
            return b"211-Features:\r\n" + lines + b"211 End"
        if verb == b"SIZE":
            return b"213 %d" % rnd.choice([0, 1, 1000, 70000, 2 ** 40, -5, 2 ** 64 + 1])
        if verb == b"MDTM":
            return rnd.choice([b"213 20260101120000", b"213 99999999999999", b"213 1"])
        if verb == b"HASH":
            return b"213 SHA-256 0-%d %s f.bin" % (rnd.randrange(100000),
                                                   bytes(rnd.choice(b"0123456789abcdef")
                                                         for _ in range(64)))
        if verb in (b"PWD", b"XPWD", b"MKD"):
            return rnd.choice([b'257 "/" here', b'257 "/d/e" made', b'257 no quotes'])
        if verb == b"MLST":
            return (b"250-Listing\r\n type=%s;size=%d; %s\r\n250 End" %
                    (rnd.choice([b"file", b"dir", b"cdir", b"weird"]), rnd.randrange(10 ** 6),
                     rnd.choice(NAMES)))
        if verb == b"REST":
            return b"350 restarting"
        if verb in (b"TYPE", b"MODE", b"OPTS", b"PBSZ", b"PROT", b"RANG"):
            return b"200 ok"
        if verb in (b"CWD", b"DELE", b"RMD", b"RNTO", b"MFMT", b"SITE"):
            return b"250 ok"
        if verb == b"RNFR":
            return b"350 go on"
        if verb == b"AUTH":
            return b"534 no TLS now"
        return b"502 not here"

    def passive(self, conn, rnd, verb, port):
        if rnd.random() < 0.15:
            port = rnd.choice([0, 1, 65535, 70000])
        if verb == b"EPSV":
            self.reply(conn, rnd, b"229 Entering Extended Passive Mode (|||%d|)" % port)
        else:
            self.reply(conn, rnd, b"227 Entering Passive Mode (127,0,0,1,%d,%d)" %
                       (port // 256, port % 256))

    def listing(self, rnd, verb):
        lines = []
        for _ in range(rnd.randrange(8)):
            name = rnd.choice(NAMES)
            if verb == b"MLSD":
                lines.append(b"type=%s;size=%d;modify=20260101000000; %s" %
                             (rnd.choice([b"file", b"dir", b"cdir", b"pdir", b"os.unix=slink"]),
                              rnd.randrange(5000), name))
            elif verb == b"LIST":
                lines.append(b"%s 1 u g %d Jan 01 00:00 %s" %
                             (rnd.choice([b"-rw-r--r--", b"drwxr-xr-x", b"lrwxrwxrwx", b"?"]),
                              rnd.randrange(5000), name))
            else:
                lines.append(name)
        return b"\r\n".join(lines) + rnd.choice([b"\r\n", b"", b"\n"])

    def open_transfer(self, conn, rnd, dsock, refuse):
        """The 150 and the data connection, or a 425 and None."""
        if dsock is None or rnd.random() < refuse:
            self.reply(conn, rnd, b"425 no data connection")
            return None
        self.reply(conn, rnd, b"150 here", wrong=0.1)
        try:
            return self.accept(rnd, dsock)
        except (OSError, ssl.SSLError):
            self.send(conn, b"425 you never came")
            return None

    def download(self, conn, rnd, verb, dsock):
        d = self.open_transfer(conn, rnd, dsock, 0.1)
        if d is None:
            return
        try:
            if verb == b"RETR":
                data = os.urandom(rnd.choice([0, 1, 999, 1000, 1001, 70000]))
            else:
                data = self.listing(rnd, verb)
            d.sendall(data[:rnd.randrange(len(data) + 1)] if rnd.random() < 0.2 else data)
            if isinstance(d, ssl.SSLSocket) and rnd.random() < 0.7:
                d = d.unwrap()  # close_notify, as a careful server sends
        except (OSError, ssl.SSLError):
            pass
        finally:
            if rnd.random() < 0.1:
                d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            d.close()
        if rnd.random() < 0.9:
            self.reply(conn, rnd, rnd.choice([b"226 done", b"226 done", b"426 cut", b"451 oops"]))

    def upload(self, conn, rnd, dsock):
        d = self.open_transfer(conn, rnd, dsock, 0.0)
        if d is None:
            return
        try:
            d.settimeout(3)
            for _ in range(1000):
                if rnd.random() < 0.01 or not d.recv(65536):
                    break
        except (OSError, ssl.SSLError):
            pass
        d.close()
        self.reply(conn, rnd, rnd.choice([b"226 stored", b"226 stored", b"452 disk full"]))


class TestFtpcAgainstRandomServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpc-fuzz-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.upfile = os.path.join(self.tmp, "up.bin")
        with open(self.upfile, "wb") as fh:
            fh.write(os.urandom(70000))

    def run_ftpc(self, server, args, cwd):
        url = "ftp://u:p@127.0.0.1:%d/" % server.port
        args = [a.replace("URL/", url) for a in args]
        if args[0] == "stress":  # its own options, after the word
            cmd = [FTPC_BIN] + args + ["--timeout", "3", "--no-view"]
        else:
            cmd = [FTPC_BIN, "--timeout", "3", "--progress", "none"] + args
        try:
            p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("ftpc hung: %s" % cmd)
        err = p.stderr.decode("utf-8", "replace")
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, err, "%s\n%s" % (cmd, err[-6000:]))
        self.assertIn(p.returncode, EXIT_STATUSES, "%s exited %d:\n%s" % (cmd, p.returncode,
                                                                          err[-3000:]))
        if VERBOSE:
            last = err.strip().splitlines()[-1:] or [""]
            print("%d %s: %s" % (p.returncode, " ".join(args), last[0][:150]))
        return p.returncode

    def tls_context(self):
        cert, key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def fuzz(self, seed, commands, tls=False, runs=RUNS):
        server = RandomFtp(SEED * 7919 + seed, self.tls_context() if tls else None)
        self.server = server
        self.addCleanup(server.close)
        statuses = set()
        rnd = random.Random(seed)
        for i in range(runs):
            work = os.path.join(self.tmp, "run%d" % i)
            target = os.path.join(work, "target")
            os.makedirs(target)
            with open(os.path.join(target, "f.bin"), "wb") as fh:
                fh.write(b"partial")  # for -c
            args = [a.replace("UP", self.upfile) for a in rnd.choice(commands)]
            statuses.add(self.run_ftpc(server, args, target))
            # nothing written outside the run's target folder
            self.assertEqual(os.listdir(work), ["target"], args)
        return statuses

    def test_downloads(self):
        statuses = self.fuzz(1, [
            ["get", "URL/f.bin"], ["get", "-c", "URL/f.bin"],
            ["get", "--segments", "3", "URL/f.bin"], ["get", "-z", "URL/f.bin"],
            ["get", "-a", "URL/f.bin"], ["get", "--verify", "URL/f.bin"], ["get", "URL/*.txt"],
            ["cat", "URL/f.bin"], ["get", "--retry", "1", "--retry-delay", "0.1", "URL/f.bin"],
            ["--active", "get", "URL/f.bin"], ["--active", "ls", "-l", "URL/"]])
        self.assertTrue(statuses - {0}, "no run failed: the server was not random enough")

    def test_listings_and_mirror(self):
        statuses = self.fuzz(2, [
            ["ls", "URL/"], ["ls", "-l", "URL/d/"], ["mirror", "URL/d", "."],
            ["mirror", "--delete", "URL/", "."], ["mkdir", "-p", "URL/a/b"], ["rm", "URL/f.bin"],
            ["mv", "URL/f.bin", "g.bin"]])
        self.assertTrue(statuses - {0})

    def test_uploads(self):
        statuses = self.fuzz(3, [
            ["put", "UP", "URL/up.bin"], ["put", "-c", "UP", "URL/up.bin"],
            ["put", "--segments", "2", "UP", "URL/up.bin"], ["put", "-z", "UP", "URL/"],
            ["mirror", "-R", ".", "URL/d"], ["--active", "put", "UP", "URL/up.bin"]])
        self.assertTrue(statuses - {0})

    def test_stress(self):
        stress = ["stress", "URL/", "--clients", "6", "--duration", "2", "--files", "2",
                  "--size", "1K-70K"]
        statuses = self.fuzz(5, [
            stress, stress + ["--mix", "login"], stress + ["--mix", "put", "--verify-put", "hash"],
            stress + ["--abort-fraction", "0.3", "--drop-fraction", "0.3"],
            stress + ["--compress", "--ramp-up", "1"]], runs=max(2, RUNS // 3))
        self.assertTrue(statuses - {0})

    def test_over_tls(self):
        tls = ["--tls", "--insecure"]
        statuses = self.fuzz(4, [
            tls + ["get", "URL/f.bin"], tls + ["get", "-c", "URL/f.bin"],
            tls + ["get", "--segments", "2", "URL/f.bin"], tls + ["ls", "-l", "URL/"],
            tls + ["put", "UP", "URL/up.bin"], tls + ["mirror", "URL/d", "."],
            tls + ["cat", "URL/f.bin"], tls + ["--active", "get", "URL/f.bin"]], tls=True)
        self.assertTrue(statuses - {0})
        self.assertGreater(self.server.handshakes, 0, "no session got as far as TLS")


if __name__ == "__main__":
    unittest.main()
