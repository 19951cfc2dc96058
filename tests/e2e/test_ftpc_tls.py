"""ftpc over FTPS against the real ftpd: explicit TLS (ftpes:// and --tls), implicit TLS
(ftps://), 100 MiB both ways with bytes compared, listings under PROT P, certificate
verification (the system store refuses ftpd's self-signed certificate; --cacert, --pin and
--insecure), TLS 1.2 and TLS 1.3, resume, active mode, parallel and segmented transfers, and
--tls against a server without TLS (a clean failure, USER never sent in clear text); and
interop with vsftpd requiring TLS and session reuse, and with pure-ftpd requiring TLS, under
TLS 1.3 and 1.2 (skipped, saying why, where bench/peers has not installed them).

ftpd requires data connections to resume the control connection's TLS session (its default),
so every transfer that passes here proves ftpc's session reuse.
"""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

import test_ftpc_interop as interop

from ftpd_harness import FtpdServer, data_bytes, free_port
from test_ftpc import FtpcCase, MiB

EXIT_TLS = 9
PIN_RE = re.compile(r"public key pin (sha256//\S+)")


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class TlsCase(FtpcCase):
    """A TLS-enabled ftpd per test (self.srv, its certificate in self.srv.cafile)."""

    tls_args = ["--tls"]

    def start_server(self, **kw):
        srv = FtpdServer(**kw)
        state = os.path.join(srv.base, "state")
        srv.args += list(self.tls_args) + ["--state-dir", state]
        srv.start()
        self.addCleanup(srv.stop)
        srv.cafile = os.path.join(state, "tls-cert.pem")
        m = srv.wait_log(PIN_RE.pattern)
        srv.pin = m.group(1) if m else None
        return srv

    def url(self, path="", scheme="ftpes", srv=None):
        return (srv or self.srv).url(path).replace("ftp://", scheme + "://", 1)

    def tls(self, *args, **kw):
        """ftpc with the server's certificate as the only trusted one."""
        return self.ftpc("--cacert", self.srv.cafile, *args, **kw)


class TestFtpcTls(TlsCase):
    def test_explicit_100mib_put_and_get(self):
        src = self.local("big.bin")
        with open(src, "wb") as fh:
            for i in range(100):
                fh.write(data_bytes(MiB, 1000 + i))
        want = sha_file(src)
        r = self.tls("-v", "put", "big.bin", self.url("big.bin"))
        err = r.stderr.decode()
        # AUTH TLS before USER; PBSZ 0 and PROT P after the login
        self.assertLess(err.index("> AUTH TLS"), err.index("> USER"))
        self.assertLess(err.index("> PASS"), err.index("> PBSZ 0"))
        self.assertLess(err.index("> PBSZ 0"), err.index("> PROT P"))
        self.assertRegex(err, r"\* TLS with .*TLSv1\.3")
        self.assertEqual(sha_file(self.srv.local("big.bin")), want)
        os.unlink(src)
        self.tls("get", self.url("big.bin"))
        self.assertEqual(sha_file(src), want)

    def test_tls_flag_with_ftp_url(self):
        data = self.srv.make_file("t.bin", 3 * MiB + 17, seed=2)
        r = self.tls("-v", "--tls", "get", self.srv.url("t.bin"))
        self.assertIn("> PROT P", r.stderr.decode())
        self.assertEqual(self.read_local("t.bin"), data)
        data2 = data_bytes(2 * MiB + 5, 3)
        self.write_local("up.bin", data2)
        self.tls("--tls", "put", "up.bin", self.srv.url("up.bin"))
        self.assertEqual(self.srv.read("up.bin"), data2)

    def test_listing_and_cat_under_prot_p(self):
        self.srv.make_file("dir/one.txt", 10, seed=4)
        self.srv.make_file("dir/two.txt", 20, seed=5)
        r = self.tls("ls", self.url("dir/"))
        self.assertEqual(sorted(r.stdout.decode().split()), ["one.txt", "two.txt"])
        r = self.tls("ls", "-l", self.url("dir/"))
        self.assertIn("two.txt", r.stdout.decode())
        self.assertNotIn("\r", r.stdout.decode())
        data = self.srv.make_file("c.bin", 70000, seed=6)
        r = self.tls("cat", self.url("c.bin"))
        self.assertEqual(r.stdout, data)

    def test_active_mode(self):
        data = self.srv.make_file("a.bin", 1 * MiB, seed=7)
        self.tls("--active", "get", self.url("a.bin"))
        self.assertEqual(self.read_local("a.bin"), data)
        self.write_local("b.bin", data[::-1])
        self.tls("--active", "put", "b.bin", self.url("b.bin"))
        self.assertEqual(self.srv.read("b.bin"), data[::-1])

    def test_parallel_segmented_and_mirror(self):
        files = {"p%d.bin" % i: self.srv.make_file("m/p%d.bin" % i, 300000 + i, seed=10 + i)
                 for i in range(4)}
        self.tls("-j", "4", "get", *[self.url("m/" + n) for n in files])
        for n, d in files.items():
            self.assertEqual(self.read_local(n), d)
        big = self.srv.make_file("seg.bin", 8 * MiB + 3, seed=20)
        self.tls("--segments", "4", "-o", "seg.out", "get", self.url("seg.bin"))
        self.assertEqual(self.read_local("seg.out"), big)
        self.tls("mirror", self.url("m/"), "mirrored")
        for n, d in files.items():
            self.assertEqual(self.read_local(os.path.join("mirrored", n)), d)

    def test_segmented_put_over_a_private_file(self):
        # before the data, the temporary file is made with an empty STOR (a TLS data
        # connection that carries no byte) and given the old mode (segput.c)
        self.srv.make_file("s.bin", MiB, seed=22)
        os.chmod(self.srv.local("s.bin"), 0o604)
        data = data_bytes(8 * MiB + 5, 23)
        self.write_local("s.bin", data)
        r = self.tls("-v", "--segments", "4", "put", "s.bin", self.url("s.bin"))
        self.assertEqual(self.srv.read("s.bin"), data)
        self.assertEqual(os.stat(self.srv.local("s.bin")).st_mode & 0o7777, 0o604)
        err = r.stderr.decode()
        self.assertLess(err.index("> SITE CHMOD 604 .s.bin.ftpc-up"), err.index("> REST"))

    def test_resume_over_tls(self):
        data = self.srv.make_file("r.bin", 2 * MiB, seed=21)
        self.write_local(".r.bin.ftpc-part", data[:700001])
        r = self.tls("-v", "-c", "get", self.url("r.bin"))
        self.assertIn("> REST %d" % (700001 - 4096), r.stderr.decode())  # 4 KiB early
        self.assertEqual(self.read_local("r.bin"), data)
        up = data_bytes(MiB + 9, 22)
        self.write_local("u.bin", up)
        self.srv.write("u.bin", up[:300000])
        r = self.tls("-v", "-c", "put", "u.bin", self.url("u.bin"))
        err = r.stderr.decode()
        self.assertTrue("> REST 300000" in err or "> APPE" in err, err)
        self.assertEqual(self.srv.read("u.bin"), up)

    def test_tls12_and_tls13(self):
        data = self.srv.make_file("v.bin", 2 * MiB + 1, seed=23)
        for version in ("1.2", "1.3"):
            os.path.exists(self.local("v.bin")) and os.unlink(self.local("v.bin"))
            r = self.tls("-vv", "--tls-max", version, "get", self.url("v.bin"))
            err = r.stderr.decode()
            self.assertRegex(err, r"\* TLS with .*TLSv%s" % re.escape(version))
            # -vv shows the data connection's handshake: it resumed the session
            self.assertRegex(err, r"\* data connection: TLSv%s .*session resumed"
                             % re.escape(version))
            self.assertEqual(self.read_local("v.bin"), data)
            up = data[::-1]
            self.write_local("w.bin", up)
            self.tls("--tls-max", version, "put", "w.bin", self.url("w%s.bin" % version))
            self.assertEqual(self.srv.read("w%s.bin" % version), up)

    # ------------------------------------------------------------------ trust

    def test_self_signed_refused_without_cacert(self):
        self.srv.make_file("x.bin", 100, seed=24)
        r = self.ftpc("-v", "get", self.url("x.bin"), rc=EXIT_TLS)
        err = r.stderr.decode()
        self.assertIn("certificate failed verification", err)
        self.assertIn("self-signed", err)
        self.assertIn("--cacert", err)
        # a pin alone is checked on top of the chain: it takes --insecure to stand in for it
        self.assertRegex(err, r"accept only its key with --insecure --pin, or skip")
        self.assertNotIn("> USER", err)
        self.assertFalse(os.path.exists(self.local("x.bin")))

    def test_cacert_and_host_name(self):
        data = self.srv.make_file("y.bin", 1000, seed=25)
        # the certificate names localhost, 127.0.0.1 and ::1
        u = self.url("y.bin").replace("127.0.0.1", "localhost")
        self.tls("get", u)
        self.assertEqual(self.read_local("y.bin"), data)
        # another CA file: refused
        other = os.path.join(self.tmp, "other.pem")
        r = __import__("subprocess").run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", os.path.join(self.tmp, "k.pem"), "-out", other, "-days", "1",
             "-subj", "/CN=localhost"], capture_output=True, timeout=30)
        if r.returncode == 0:
            r = self.ftpc("--cacert", other, "get", self.url("y.bin"), rc=EXIT_TLS)
            # the refusal names the --cacert given, not "trust it with --cacert FILE"
            self.assertRegex(r.stderr.decode(), r"failed verification: .*\(--cacert %s holds "
                             r"neither it nor its issuer; accept only its key with --insecure "
                             r"--pin, or skip the check with --insecure\)" % re.escape(other))
        r = self.ftpc("--cacert", os.path.join(self.tmp, "missing.pem"), "get",
                      self.url("y.bin"), rc=2)
        self.assertIn("--cacert", r.stderr.decode())

    def test_pin(self):
        self.assertIsNotNone(self.srv.pin, "ftpd did not log its public key pin")
        data = self.srv.make_file("z.bin", 5000, seed=26)
        self.ftpc("--insecure", "--pin", self.srv.pin, "get", self.url("z.bin"))
        self.assertEqual(self.read_local("z.bin"), data)
        os.unlink(self.local("z.bin"))
        self.tls("--pin", self.srv.pin, "get", self.url("z.bin"))
        self.assertEqual(self.read_local("z.bin"), data)
        os.unlink(self.local("z.bin"))
        wrong = "sha256//" + "A" * 43 + "="
        for extra in (["--insecure"], ["--cacert", self.srv.cafile]):
            r = self.ftpc(*extra, "-v", "--pin", wrong, "get", self.url("z.bin"), rc=EXIT_TLS)
            err = r.stderr.decode()
            self.assertIn("does not match --pin", err)
            self.assertNotIn("> USER", err)
        self.assertFalse(os.path.exists(self.local("z.bin")))
        r = self.ftpc("--pin", "sha256//short", "get", self.url("z.bin"), rc=2)
        self.assertIn("--pin", r.stderr.decode())

    def test_insecure(self):
        data = self.srv.make_file("i.bin", 4000, seed=27)
        self.ftpc("--insecure", "get", self.url("i.bin"))
        self.assertEqual(self.read_local("i.bin"), data)


class TestFtpcCertificateNames(TlsCase):
    """A certificate that does not name the host connected to: the refusal says which names
    it has, so the user knows what to connect by."""
    subject = "/CN=files.example"
    san = "DNS:files.example,IP:192.0.2.7"

    def setUp(self):
        certdir = tempfile.mkdtemp(prefix="ftpc-e2e-cert-")
        self.addCleanup(shutil.rmtree, certdir, True)
        self.cert = os.path.join(certdir, "cert.pem")
        key = os.path.join(certdir, "key.pem")
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", self.cert, "-days", "1",
             "-subj", self.subject, "-addext", "subjectAltName=" + self.san],
            capture_output=True, timeout=30)
        if r.returncode != 0:
            self.skipTest("openssl cannot make a certificate: %s" % r.stderr.decode()[-300:])
        self.tls_args = ["--tls", "--tls-cert", self.cert, "--tls-key", key]
        super().setUp()

    def test_mismatch_names_the_certificates_names(self):
        self.srv.make_file("n.bin", 100, seed=31)
        for host, what in (("127.0.0.1", "IP address mismatch"),
                           ("localhost", "[Hh]ostname mismatch")):
            u = self.url("n.bin").replace("127.0.0.1", host)
            r = self.ftpc("--cacert", self.cert, "-v", "get", u, rc=EXIT_TLS)
            err = r.stderr.decode()
            self.assertRegex(
                err, what + r" \(it is for files\.example, 192\.0\.2\.7; .*--insecure\)")
            self.assertNotIn("> USER", err)
        self.assertFalse(os.path.exists(self.local("n.bin")))


class TestFtpcCertificateLongNames(TestFtpcCertificateNames):
    """Names too long for one message are cut, marked, and the advice still ends it."""
    subject = "/CN=cn-only.example"
    san = ",".join(["IP:192.0.2.8"] + ["DNS:%s.example" % (c * 70) for c in "abc"])

    def test_mismatch_names_the_certificates_names(self):
        r = self.ftpc("--cacert", self.cert, "get", self.url("n.bin"), rc=EXIT_TLS)
        err = r.stderr.decode()
        self.assertRegex(err, r"\(it is for 192\.0\.2\.8, a{45}\.\.\., b{45}\.\.\., c{45}\.\.\.; "
                              r"connect by one of its names, or skip the check with --insecure\)")
        self.assertNotIn("cn-only", err)  # DNS names given: the common name does not count



class TestFtpcCertificateIpNamesOnly(TestFtpcCertificateNames):
    """With no DNS name among the subjectAltNames the common name is listed too: OpenSSL's
    host check then goes by it, so it is a name to connect by."""
    subject = "/CN=cn-only.example"
    san = "IP:192.0.2.8"

    def test_mismatch_names_the_certificates_names(self):
        r = self.ftpc("--cacert", self.cert, "get",
                      self.url("n.bin").replace("127.0.0.1", "localhost"), rc=EXIT_TLS)
        self.assertRegex(r.stderr.decode(), r"\(it is for 192\.0\.2\.8, cn-only\.example; ")


class TestFtpcImplicit(TlsCase):
    def setUp(self):
        self.implicit_port = free_port()
        self.tls_args = ["--tls", "--listen-implicit", "127.0.0.1:%d" % self.implicit_port]
        super().setUp()

    def test_ftps_url(self):
        data = self.srv.make_file("imp.bin", 5 * MiB + 3, seed=30)
        u = self.srv.url("imp.bin").replace(
            "ftp://", "ftps://", 1).replace(":%d/" % self.srv.port, ":%d/" % self.implicit_port)
        r = self.tls("-v", "get", u)
        err = r.stderr.decode()
        self.assertNotIn("> AUTH TLS", err)
        self.assertIn("> PROT P", err)
        self.assertEqual(self.read_local("imp.bin"), data)
        up = data[::-1]
        self.write_local("back.bin", up)
        self.tls("put", "back.bin", u.replace("imp.bin", "back.bin"))
        self.assertEqual(self.srv.read("back.bin"), up)
        r = self.tls("ls", u.replace("imp.bin", ""))
        self.assertIn("imp.bin", r.stdout.decode().split())

    def test_ftps_against_plain_port_fails_cleanly(self):
        # implicit TLS to the explicit (plain greeting) port: the handshake fails
        u = self.srv.url("x").replace("ftp://", "ftps://", 1)
        r = self.tls("--timeout", "5", "get", u, rc=EXIT_TLS)
        self.assertIn("not speaking TLS", r.stderr.decode())
        self.assertIn("(a plain FTP port? try ftpes:// or ftp://)", r.stderr.decode())

    def test_plain_url_against_implicit_port_says_what_it_may_be(self):
        # the implicit port says nothing until TLS starts: the wait for a greeting times out
        u = self.srv.url("x").replace(":%d/" % self.srv.port, ":%d/" % self.implicit_port)
        r = self.ftpc("--timeout", "1", "get", u, rc=3)
        self.assertIn("(its greeting); an implicit FTPS port? try ftps://", r.stderr.decode())


class TestFtpcPlainRefused(TlsCase):
    """A server that wants TLS refuses a plain login: the message says how to get in."""
    tls_args = ["--require-tls"]

    def test_plain_login_refused_names_the_way_in(self):
        self.srv.make_file("r.bin", 100, seed=32)
        r = self.ftpc("get", self.srv.url("r.bin"), rc=4)
        self.assertIn(b"(it wants TLS: use ftpes:// or --tls)", r.stderr)
        self.tls("--tls", "get", self.srv.url("r.bin"))
        self.assertTrue(os.path.exists(self.local("r.bin")))


class TestFtpcTlsRequired(FtpcCase):
    """A server without TLS: --tls and ftpes:// fail with their own exit code and never send
    USER or PASS."""

    def test_refused_auth_tls(self):
        self.srv.make_file("s.bin", 100, seed=31)
        for args in (["--tls", "get", self.srv.url("s.bin")],
                     ["get", self.srv.url("s.bin").replace("ftp://", "ftpes://", 1)]):
            r = self.ftpc("-v", *args, rc=EXIT_TLS)
            err = r.stderr.decode()
            self.assertIn("refused AUTH TLS", err)
            self.assertIn("did not log in", err)
            self.assertNotIn("> USER", err)
            self.assertNotIn("> PASS", err)
        self.assertFalse(os.path.exists(self.local("s.bin")))


class PeerTls:
    """ftpc against a peer server (`peer`) with explicit FTPS, TLS required for login and
    data: TLS 1.3 and TLS 1.2, bytes compared; under the versions in `resumes` the data
    connections must resume the control connection's session. The peer is started and
    stopped by bench/peers' scripts."""

    @classmethod
    def setUpClass(cls):
        why = interop.why_not(cls.peer)
        if why is not None:
            raise unittest.SkipTest(why)
        cls.base = tempfile.mkdtemp(prefix="ftpc-%s-tls-" % cls.peer)
        os.chmod(cls.base, 0o755)
        cls.root = os.path.join(cls.base, "root")
        cls.cert = os.path.join(cls.base, "cert.pem")
        key = os.path.join(cls.base, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                            cls.cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            shutil.rmtree(cls.base, True)
            raise unittest.SkipTest("openssl could not make a certificate: %r" % r.stderr[-300:])
        os.chmod(cls.cert, 0o644)
        os.chmod(key, 0o644)
        cls.port = free_port()
        cls.env = dict(os.environ, BENCH_RUN=os.path.join(cls.base, "run"),
                       PEERS_PREFIX=interop.PEERS_PREFIX, TLS_CERT=cls.cert, TLS_KEY=key)
        r = subprocess.run([os.path.join(interop.PEERS, "start-server.sh"), cls.peer,
                            str(cls.port), cls.root], env=cls.env, capture_output=True,
                           timeout=30)
        if r.returncode != 0:
            shutil.rmtree(cls.base, True)
            raise unittest.SkipTest("%s did not start: %s"
                                    % (cls.peer, r.stderr.decode(errors="replace")[-500:]))

    @classmethod
    def tearDownClass(cls):
        subprocess.run([os.path.join(interop.PEERS, "stop-server.sh"), cls.peer], env=cls.env,
                       capture_output=True, timeout=30)
        shutil.rmtree(cls.base, True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpc-%s-tls-c-" % self.peer)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def url(self, path=""):
        return "ftpes://%s:%s@127.0.0.1:%d/%s" % (interop.USER, interop.PASS, self.port, path)

    def ftpc(self, *args, rc=0):
        env = dict(os.environ, NETRC=os.path.join(self.tmp, "no-netrc"))
        r = subprocess.run([interop.FTPC_BIN, "--cacert", self.cert] + list(args), cwd=self.tmp,
                           capture_output=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        for m in interop.SANITIZER_MARKERS:
            self.assertNotIn(m, err)
        self.assertEqual(r.returncode, rc, "ftpc %s: exit %d\n%s"
                         % (" ".join(args), r.returncode, err[-3000:]))
        return r

    def test_tls13_and_tls12(self):
        for version in ("1.3", "1.2"):
            name = "v%s.bin" % version
            data = data_bytes(5 * MiB + 1, 40)
            with open(os.path.join(self.tmp, name), "wb") as fh:
                fh.write(data)
            r = self.ftpc("-vv", "--tls-max", version, "put", name, self.url(name))
            err = r.stderr.decode()
            self.assertRegex(err, r"\* data connection: TLSv%s .*%s"
                             % (re.escape(version),
                                "session resumed" if version in self.resumes else ""))
            with open(os.path.join(self.root, name), "rb") as fh:
                self.assertEqual(fh.read(), data)
            os.unlink(os.path.join(self.tmp, name))
            self.ftpc("--tls-max", version, "get", self.url(name))
            with open(os.path.join(self.tmp, name), "rb") as fh:
                self.assertEqual(fh.read(), data)
            r = self.ftpc("--tls-max", version, "ls", self.url(""))
            self.assertIn(name, [os.path.basename(n) for n in r.stdout.decode().split()])


class TestVsftpdTls(PeerTls, unittest.TestCase):
    """vsftpd with require_ssl_reuse=YES (its default, known to break clients under TLS 1.3):
    every data connection resumes the control connection's session."""

    peer = "vsftpd"
    resumes = ("1.3", "1.2")


class TestPureFtpdTls(PeerTls, unittest.TestCase):
    """pure-ftpd with -Y 3 (TLS for control and data); 1.0.50 resumes TLS 1.2 sessions on data
    connections, and under TLS 1.3 makes a full handshake on each."""

    peer = "pure-ftpd"
    resumes = ("1.2",)


class PlainDataServer(threading.Thread):
    """One FTPS session whose certificate names localhost only, and whose data connection
    then answers the TLS handshake with plain text."""

    def __init__(self, tmp):
        super().__init__(daemon=True)
        cert, key = os.path.join(tmp, "lc.pem"), os.path.join(tmp, "lk.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.lsock.settimeout(20)
        self.port = self.lsock.getsockname()[1]
        self.start()

    def run(self):
        try:
            conn, _ = self.lsock.accept()
            conn.settimeout(20)
            dsock = None
            send = lambda c, t: c.sendall(t.encode() + b"\r\n")  # noqa: E731
            send(conn, "220 hello")
            f = conn.makefile("rb")
            for line in iter(lambda: f.readline(4096), b""):
                verb = line.split()[0].upper().decode() if line.split() else ""
                if verb == "AUTH":
                    send(conn, "234 go ahead")
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                elif verb == "EPSV":
                    dsock = socket.create_server(("127.0.0.1", 0))
                    dsock.settimeout(20)
                    send(conn, "229 Extended Passive Mode (|||%d|)" % dsock.getsockname()[1])
                elif verb == "RETR":
                    send(conn, "150 here")
                    d, _ = dsock.accept()
                    d.sendall(b"this is no TLS handshake\r\n")
                    d.close()
                    send(conn, "426 data connection failed")
                elif verb == "QUIT":
                    send(conn, "221 bye")
                    break
                else:
                    send(conn, {"USER": "331 password", "PASS": "230 in", "SIZE": "213 10",
                                "PBSZ": "200 ok", "PROT": "200 ok", "TYPE": "200 ok"}.get(
                                    verb, "502 not here"))
            conn.close()
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.lsock.close()


class TestInsecureDataHandshake(FtpcCase):
    def test_failure_names_its_cause_not_the_skipped_check(self):
        # Under --insecure the name check is skipped, yet OpenSSL records that 127.0.0.1 is
        # not the certificate's name; a data handshake that fails for another reason must not
        # be reported as that.
        srv = PlainDataServer(self.tmp)
        r = self.ftpc("--tls", "--insecure", "get", "ftp://u:p@127.0.0.1:%d/f.bin" % srv.port,
                      rc=None)
        err = r.stderr.decode("utf-8", "replace")
        self.assertIn(r.returncode, (7, EXIT_TLS), err)
        self.assertIn("data connection", err)
        self.assertNotIn("failed verification", err)
        self.assertNotIn("mismatch", err)
        self.assertIn("not speaking TLS", err)
        srv.join(10)


if __name__ == "__main__":
    unittest.main()
