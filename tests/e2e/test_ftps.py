"""FTPS (RFC 4217) end to end: curl, Python's ftplib and lftp over explicit TLS (AUTH TLS) and
implicit TLS, TLS 1.3 and TLS 1.2, 100 MiB transfers both ways, the session-reuse requirement
on data connections, --require-tls and its anonymous exemption, the generated certificate and
its fingerprint, and the protocol corner cases (PBSZ/PROT/CCC, plain text after AUTH, a stalled
handshake, commands pipelined in one TLS record, ABOR, active mode)."""
import ftplib
import hashlib
import io
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import (DEFAULT_PASSWORD, DEFAULT_USER, FtpdServer, ServerTestCase, data_bytes,
                          sha)

CURL = shutil.which("curl")
LFTP = shutil.which("lftp")
BIG = 100 << 20
FP_RE = re.compile(r"TLS certificate (\S+) \(([^)]*)\): SHA-256 fingerprint ([0-9A-F:]{95})")
IMPLICIT_RE = re.compile(r"listening on (\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+) \(implicit FTPS\)")


def tls_context(cafile, version=None):
    """A verifying client context trusting cafile; version "1.2" or "1.3" pins the protocol."""
    ctx = ssl.create_default_context(cafile=cafile)
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session, the
    subclass ftplib users write for servers that require session reuse."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


class TlsServerMixin:
    """Starts ftpd with TLS on and the state directory inside the test's temp tree."""

    tls_args = ["--tls"]

    def start_tls_server(self, args=(), state_dir=None, **kw):
        srv = FtpdServer(**kw)
        state = state_dir or os.path.join(srv.base, "state")
        srv.args += list(self.tls_args) + ["--state-dir", state] + list(args)
        srv.start()
        self.addCleanup(srv.stop)
        srv.cafile = os.path.join(state, "tls-cert.pem")
        return srv

    def setUp(self):
        self.srv = self.start_tls_server(**getattr(self, "server_kwargs", {}))
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-ftps-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def ftps(self, cls=ReuseFTP_TLS, version=None, user=None, pw=None, prot_p=True, srv=None,
             context=None):
        srv = srv or self.srv
        f = cls(context=context or tls_context(srv.cafile, version), timeout=20, encoding="utf-8")
        f.connect(srv.host, srv.port)
        srv._clients.append(f)
        f.auth()
        f.login(user or srv.user, pw or srv.password)
        if prot_p:
            f.prot_p()
        return f

    def tls_control(self, srv=None, version=None):
        """A raw control connection upgraded with AUTH TLS (commands not yet logged in)."""
        srv = srv or self.srv
        c = srv.control()
        code, text = c.cmd("AUTH TLS")
        self.assertEqual(code, 234, text)
        c.ctx = tls_context(srv.cafile, version)
        c.sock = c.ctx.wrap_socket(c.sock, server_hostname=srv.host)
        return c


class TestFtps(TlsServerMixin, unittest.TestCase):

    # ------------------------------------------------------------------ certificate

    def test_certificate_generated_and_fingerprint_logged(self):
        m = self.srv.wait_log(FP_RE.pattern)
        self.assertIsNotNone(m, "no fingerprint line in the log")
        path, how, fp = m.group(1), m.group(2), m.group(3)
        self.assertEqual(path, self.srv.cafile)
        self.assertIn("generated", how)
        with open(path) as fh:
            der = ssl.PEM_cert_to_DER_cert(fh.read())
        want = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
        self.assertEqual(fp, want)
        key = os.path.join(os.path.dirname(path), "tls-key.pem")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        # subject and names as documented
        text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", path],
                              capture_output=True, text=True).stdout if shutil.which("openssl") else ""
        if text:
            self.assertIn("CN = localhost", text)
            self.assertRegex(text, r"DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1")
        # a second server on the same state directory loads it, same fingerprint
        srv2 = self.start_tls_server(state_dir=os.path.dirname(path))
        m2 = srv2.wait_log(FP_RE.pattern)
        self.assertEqual(m2.group(2), "loaded")
        self.assertEqual(m2.group(3), fp)

    def test_named_certificate(self):
        """--tls-cert/--tls-key: the named files are used and no certificate is generated."""
        certdir = os.path.dirname(self.srv.cafile)
        empty_state = os.path.join(self.tmp, "unused-state")
        srv2 = self.start_tls_server(args=["--tls-cert", os.path.join(certdir, "tls-cert.pem"),
                                           "--tls-key", os.path.join(certdir, "tls-key.pem")],
                                     state_dir=empty_state)
        self.assertEqual(srv2.wait_log(FP_RE.pattern).group(2), "loaded")
        self.assertFalse(os.path.exists(empty_state))
        srv2.cafile = self.srv.cafile
        f = self.ftps(srv=srv2)
        self.assertIsInstance(f.nlst(), list)

    # ------------------------------------------------------------------ protocol

    def test_feat_and_protocol_replies(self):
        c = self.srv.control()
        code, text = c.cmd("FEAT")
        self.assertEqual(code, 211)
        for feat in ("AUTH TLS", "PBSZ", "PROT"):
            self.assertIn("\n " + feat + "\n", text + "\n")
        self.assertEqual(c.cmd("PBSZ 0")[0], 503)  # before AUTH
        self.assertEqual(c.cmd("PROT P")[0], 503)
        self.assertEqual(c.cmd("CCC")[0], 533)  # RFC 2228: a CCC sent in clear
        self.assertEqual(c.cmd("AUTH KERBEROS")[0], 504)
        c.close()
        c = self.tls_control()
        self.assertEqual(c.cmd("AUTH TLS")[0], 503)  # already
        for bad in ("x", "-1", "+0", " 0", "0x", "1 2"):  # a decimal integer (RFC 2228)
            self.assertEqual(c.cmd("PBSZ " + bad)[0], 501, bad)
        code, text = c.cmd("PBSZ 1024")
        self.assertEqual(code, 200)
        self.assertIn("PBSZ=0", text)
        self.assertEqual(c.cmd("PROT S")[0], 536)
        self.assertEqual(c.cmd("PROT E")[0], 536)
        self.assertEqual(c.cmd("PROT Q")[0], 504)
        self.assertEqual(c.cmd("PROT C")[0], 200)
        self.assertEqual(c.cmd("PROT P")[0], 200)
        self.assertEqual(c.cmd("CCC")[0], 534)
        c.login()
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertEqual(c.cmd("QUIT")[0], 221)
        # the server ends the TLS connection with close_notify: a clean end, not a cut
        c.sock.settimeout(5)
        self.assertEqual(c.sock.recv(100), b"")

    def test_blanks_after_a_keyword_argument(self):
        """"PROT P " is PROT P, as ProFTPD (which splits arguments on blanks) takes it: a 504
        may read to a client as "no protection here", and it could go on in clear."""
        c = self.srv.control()
        self.assertEqual(c.cmd("AUTH TLS ")[0], 234)
        c.sock = tls_context(self.srv.cafile).wrap_socket(c.sock, server_hostname=self.srv.host)
        self.assertEqual(c.cmd("PBSZ 0 ")[0], 200)
        self.assertEqual(c.cmd("PROT P ")[0], 200)
        c.login()
        self.assertIn("protected (PROT P)", c.cmd("STAT")[1])
        self.assertEqual(c.cmd("PROT C  ")[0], 200)
        self.assertIn("in clear (PROT C)", c.cmd("STAT")[1])
        self.assertEqual(c.cmd("PROT  ")[0], 501)  # blanks alone are no argument
        self.assertEqual(c.cmd("PROT P x")[0], 504)

    def test_pipelined_replies_wait_for_a_slow_reader(self):
        # replies far larger than the server's reply buffer, to a TLS client that reads late
        d = os.path.join(self.srv.root, "big")
        os.mkdir(d)
        for i in range(1500):
            open(os.path.join(d, "file-with-a-longish-name-%04d.txt" % i), "wb").close()
        c = self.tls_control()
        c.login()
        c.send("STAT big\r\n" * 250 + "NOOP\r\n")
        time.sleep(2)
        for i in range(250):
            code, text = c.reply(timeout=20)
            self.assertEqual(code, 212, "reply %d: %s" % (i, text[:200]))
        self.assertEqual(c.reply()[0], 200)
        self.assertEqual(c.cmd("PWD")[0], 257)

    def test_plaintext_after_auth_is_discarded(self):
        """Commands sent in plain text behind AUTH TLS must not run under TLS (CVE-2011-0411)."""
        c = self.srv.control()
        c.send("AUTH TLS\r\nUSER " + DEFAULT_USER + "\r\n")
        code, text = c.reply()
        self.assertEqual(code, 234, text)
        c.sock = tls_context(self.srv.cafile).wrap_socket(c.sock, server_hostname=self.srv.host)
        code, text = c.cmd("PASS " + DEFAULT_PASSWORD)
        self.assertEqual(code, 503, text)  # the USER never counted
        self.assertTrue(self.srv.wait_log(r"dropping \d+ bytes sent after AUTH"))
        c.login()

    def test_options_chosen_in_clear_do_not_survive_auth(self):
        """OPTS sent before AUTH TLS went in clear, where anyone on the path could have sent
        them: under TLS the MLST facts, the HASH algorithm and the MODE Z level are the
        defaults again, as a USER sent in clear no longer counts."""
        self.srv.make_file("m.txt", 10)
        c = self.srv.control()
        self.assertEqual(c.cmd("OPTS MLST type;")[0], 200)
        self.assertEqual(c.cmd("OPTS HASH MD5")[0], 200)
        self.assertEqual(c.cmd("OPTS MODE Z LEVEL 9")[0], 200)
        self.assertEqual(c.cmd("CLNT injected-name")[0], 200)
        self.assertEqual(c.cmd("AUTH TLS")[0], 234)
        c.sock = tls_context(self.srv.cafile).wrap_socket(c.sock, server_hostname=self.srv.host)
        # the client's own CLNT under TLS is logged, not only the one sent in clear
        self.assertEqual(c.cmd("CLNT real-client 1.0")[0], 200)
        self.assertTrue(self.srv.wait_log(r"client: real-client 1\.0"))
        c.login()
        self.assertRegex(c.cmd("OPTS HASH")[1], r"^200 SHA-256")
        self.assertRegex(c.cmd("OPTS MODE Z")[1], r"LEVEL 1$")
        code, text = c.cmd("MLST m.txt")
        self.assertEqual(code, 250, text)
        self.assertRegex(text, r"size=10;")
        # chosen under TLS, they hold
        self.assertEqual(c.cmd("OPTS HASH MD5")[0], 200)
        self.assertRegex(c.cmd("OPTS HASH")[1], r"^200 MD5")

    def test_pipelined_commands_in_one_tls_record(self):
        """Hundreds of commands in one TLS record behind a transfer: the server must drain what
        OpenSSL holds after the transfer, with no socket event to say so."""
        c = self.tls_control()
        c.login()
        self.assertEqual(c.cmd("PBSZ 0")[0], 200)
        self.assertEqual(c.cmd("PROT P")[0], 200)
        self.srv.make_file("l/a.txt", 10)
        session = c.sock.session
        data = c.epsv()
        n = 700
        c.send("LIST l\r\n" + "TYPE I\r\n" * n)  # > the 4 KiB input buffer, one record
        code, text = c.reply()
        self.assertEqual(code, 150, text)
        d = c.ctx.wrap_socket(data, server_hostname=self.srv.host, session=session)
        listing = b""
        while True:
            chunk = d.recv(65536)
            if not chunk:
                break
            listing += chunk
        self.assertIn(b"a.txt", listing)
        d.close()
        self.assertEqual(c.reply()[0], 226)
        for i in range(n):
            code, text = c.reply(timeout=10)
            self.assertEqual(code, 200, "reply %d: %s" % (i, text))

    def test_abort_tls_download_then_continue(self):
        self.srv.make_sparse("big.bin", 1 << 30)
        f = self.ftps()
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big.bin")
        self.assertEqual(len(conn.recv(65536)) > 0, True)
        f.putcmd("ABOR")
        conn.close()
        resp = f.getmultiline()
        if resp.startswith("426"):
            resp = f.getmultiline()
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        # the session stays resumable: the next data connection is accepted
        self.assertEqual(f.nlst("big.bin"), ["big.bin"])

    def test_data_close_notify(self):
        """A PROT P download ends with close_notify before the 226 (the client can tell a
        complete file from a cut one)."""
        data = self.srv.make_file("c.bin", 300000, seed=5)
        f = self.ftps()
        f.voidcmd("TYPE I")
        conn, _ = ftplib.FTP.ntransfercmd(f, "RETR c.bin")
        d = f.context.wrap_socket(conn, server_hostname=f.host, session=f.sock.session,
                                  suppress_ragged_eofs=False)
        got = b""
        while True:
            chunk = d.recv(65536)  # raises SSLEOFError on an end without close_notify
            if not chunk:
                break
            got += chunk
        d.unwrap()
        d.close()
        self.assertEqual(got, data)
        self.assertTrue(f.voidresp().startswith("226"))

    def test_control_close_notify_is_answered(self):
        """A client that ends the control connection with close_notify (no QUIT) gets the
        server's close_notify back (RFC 5246 section 7.2.1), not a bare close: its unwrap
        completes instead of reporting a truncated connection."""
        c = self.tls_control()
        c.login()
        c.sock.settimeout(10)
        plain = c.sock.unwrap()  # raises SSLEOFError when the server just closes
        self.assertEqual(plain.recv(100), b"")
        plain.close()
        self.assertTrue(self.srv.wait_log(r"alice: disconnected"))

    # ------------------------------------------------------------------ ftplib

    def ftplib_roundtrip(self, version):
        data = data_bytes(3 << 20, 11)
        f = self.ftps(version=version)
        self.assertEqual(f.sock.version(), "TLSv1.3" if version == "1.3" else "TLSv1.2")
        f.storbinary("STOR up-%s.bin" % version, io.BytesIO(data))
        self.assertEqual(sha(self.srv.read("up-%s.bin" % version)), sha(data))
        out = io.BytesIO()
        f.retrbinary("RETR up-%s.bin" % version, out.write)
        self.assertEqual(sha(out.getvalue()), sha(data))
        lines = []
        f.retrlines("LIST", lines.append)
        self.assertTrue(any(("up-%s.bin" % version) in l for l in lines), lines)
        self.assertIn("up-%s.bin" % version, f.nlst())
        lines = []
        f.retrlines("MLSD", lines.append)
        self.assertTrue(any(l.endswith("up-%s.bin" % version) for l in lines), lines)
        f.quit()
        self.assertTrue(self.srv.wait_log(r"data connection TLS: %s .*session resumed" %
                                          ("TLSv1.3" if version == "1.3" else "TLSv1.2")))

    def test_ftplib_tls13(self):
        self.ftplib_roundtrip("1.3")

    def test_ftplib_tls12(self):
        self.ftplib_roundtrip("1.2")

    def test_prot_p_without_pbsz_protects_the_data(self):
        """PROT P with no PBSZ before it is taken as PBSZ 0 and PROT P (vsftpd's and
        pure-ftpd's way): a client that then starts TLS on its data connection must find a
        protected one, not have its handshake stored as the file."""
        data = data_bytes(100000, 5)
        f = self.ftps(prot_p=False)
        self.assertTrue(f.voidcmd("PROT P").startswith("200"))
        f._prot_p = True  # what ftplib's prot_p() sets after its PBSZ 0 and PROT P
        f.storbinary("STOR nopbsz.bin", io.BytesIO(data))
        self.assertEqual(self.srv.read("nopbsz.bin"), data)
        out = io.BytesIO()
        f.retrbinary("RETR nopbsz.bin", out.write)
        self.assertEqual(out.getvalue(), data)
        f.quit()

    def test_ftplib_active_mode(self):
        data = self.srv.make_file("act.bin", 200000, seed=3)
        f = self.ftps()
        f.set_pasv(False)
        out = io.BytesIO()
        f.retrbinary("RETR act.bin", out.write)
        self.assertEqual(out.getvalue(), data)

    def test_data_without_session_reuse_is_refused(self):
        """Plain FTP_TLS starts a new TLS session on each data connection: refused with 522,
        and the control connection carries on."""
        for version in ("1.3", "1.2"):
            f = self.ftps(cls=ftplib.FTP_TLS, version=version)
            with self.assertRaises((ftplib.error_perm, ssl.SSLError, OSError)) as cm:
                f.nlst()
            if isinstance(cm.exception, ftplib.error_perm):
                resp = str(cm.exception)
            else:  # the data connection failed first; the 522 is still to be read
                with self.assertRaises(ftplib.error_perm) as cm2:
                    f.getresp()
                resp = str(cm2.exception)
            self.assertTrue(resp.startswith("522"), resp)
            self.assertEqual(f.voidcmd("NOOP")[:3], "200")
        self.assertTrue(self.srv.wait_log(r"refused a data connection: its TLS session is new"))

    def test_data_session_from_another_connection_is_refused(self):
        """A data connection resuming another client's TLS session (a stolen data connection)
        is refused: resumption alone does not prove it is the same client."""
        ctx = tls_context(self.srv.cafile)  # Python resumes only sessions of the same context
        victim = self.ftps(context=ctx)
        other = self.ftps(context=ctx)
        other.nlst()  # other's session is established
        victim.voidcmd("TYPE I")
        self.srv.make_file("v.bin", 1000)
        conn, _ = ftplib.FTP.ntransfercmd(victim, "RETR v.bin")
        d = victim.context.wrap_socket(conn, server_hostname=victim.host,
                                       session=other.sock.session)
        try:
            self.assertEqual(d.recv(100), b"")
        except (ssl.SSLError, OSError):
            pass
        d.close()
        with self.assertRaises(ftplib.error_perm) as cm:
            victim.voidresp()
        self.assertTrue(str(cm.exception).startswith("522"), str(cm.exception))
        self.assertTrue(self.srv.wait_log(r"refused a data connection: its TLS session was "
                                          r"resumed from another connection"))

    # ------------------------------------------------------------------ curl

    def curl(self, *args, timeout=120):
        cmd = [CURL, "-sS", "--max-time", "100", "--ssl-reqd", "--cacert", self.srv.cafile]
        cmd += list(args)
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            self.fail("%s -> exit %d: %s\nserver log tail:\n%s" % (
                " ".join(cmd), r.returncode, r.stderr.decode(errors="replace"),
                "\n".join(self.srv.logs()[-30:])))
        return r

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_curl_listing_and_100mib_both_ways_tls13(self):
        self.srv.make_file("d/x.txt", 100)
        r = self.curl("--tlsv1.3", self.srv.url("d/"))
        self.assertIn(b"x.txt", r.stdout)
        data = data_bytes(BIG, 21)
        src = os.path.join(self.tmp, "up.bin")
        with open(src, "wb") as fh:
            fh.write(data)
        want = sha(data)
        del data
        self.curl("--tlsv1.3", "-T", src, self.srv.url("big.bin"))
        self.assertEqual(sha(self.srv.read("big.bin")), want)
        dst = os.path.join(self.tmp, "down.bin")
        self.curl("--tlsv1.3", "-o", dst, self.srv.url("big.bin"))
        with open(dst, "rb") as fh:
            self.assertEqual(sha(fh.read()), want)
        self.assertTrue(self.srv.wait_log(r"data connection TLS: TLSv1\.3 .*session resumed"))

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_curl_tls12(self):
        data = self.srv.make_file("t12.bin", 5 << 20, seed=4)
        r = self.curl("--tlsv1.2", "--tls-max", "1.2", self.srv.url("t12.bin"))
        self.assertEqual(sha(r.stdout), sha(data))
        r = self.curl("--tlsv1.2", "--tls-max", "1.2", self.srv.url(""))
        self.assertIn(b"t12.bin", r.stdout)
        self.assertTrue(self.srv.wait_log(r"data connection TLS: TLSv1\.2 .*session resumed"))

    # ------------------------------------------------------------------ lftp

    def lftp(self, commands, extra=""):
        script = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
                  "set net:reconnect-interval-base 1; set net:persist-retries 0; "
                  "set xfer:clobber on; set cmd:interactive no; "
                  "set ssl:ca-file %s; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
                  "set ssl:verify-certificate yes; %s %s; bye" % (self.srv.cafile, extra, commands))
        env = dict(os.environ, HOME=self.tmp, LC_ALL="C.UTF-8")
        env.pop("LFTP_HOME", None)
        cmd = [LFTP, "-u", "%s,%s" % (self.srv.user, self.srv.password), "-p", str(self.srv.port),
               "-e", script, self.srv.host]
        r = subprocess.run(cmd, capture_output=True, timeout=90, cwd=self.tmp, env=env,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            self.fail("lftp -e %r -> exit %d\nstdout: %s\nstderr: %s\nserver log tail:\n%s" % (
                commands, r.returncode, r.stdout.decode(errors="replace")[-2000:],
                r.stderr.decode(errors="replace")[-2000:], "\n".join(self.srv.logs()[-30:])))
        return r

    def lftp_roundtrip(self, extra, tag):
        data = self.srv.make_file("lf-%s.bin" % tag, 4 << 20, seed=7)
        local = os.path.join(self.tmp, "got-%s.bin" % tag)
        r = self.lftp("ls; get lf-%s.bin -o %s; put %s -o back-%s.bin" % (tag, local, local, tag),
                      extra)
        self.assertIn(("lf-%s.bin" % tag).encode(), r.stdout)
        with open(local, "rb") as fh:
            self.assertEqual(sha(fh.read()), sha(data))
        self.assertEqual(sha(self.srv.read("back-%s.bin" % tag)), sha(data))

    @unittest.skipIf(LFTP is None, "lftp is not installed")
    def test_lftp_tls13(self):
        self.lftp_roundtrip("", "13")
        self.assertTrue(self.srv.wait_log(r"data connection TLS: TLSv1\.3 .*session resumed"))

    @unittest.skipIf(LFTP is None, "lftp is not installed")
    def test_lftp_tls12(self):
        self.lftp_roundtrip('set ssl:priority "NORMAL:-VERS-ALL:+VERS-TLS1.2";', "12")
        self.assertTrue(self.srv.wait_log(r"data connection TLS: TLSv1\.2 .*session resumed"))


class TestStalledHandshake(TlsServerMixin, unittest.TestCase):
    server_kwargs = {"args": ["--login-timeout", "1"]}

    def test_stalled_handshake_times_out(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("AUTH TLS")[0], 234)
        t0 = time.monotonic()
        self.assertTrue(c.closed(timeout=6))
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(self.srv.wait_log(r"TLS handshake timeout"))

    def test_garbage_instead_of_handshake(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("AUTH TLS")[0], 234)
        c.send("USER alice\r\n")
        self.assertTrue(c.closed(timeout=5))
        self.assertTrue(self.srv.wait_log(r"TLS handshake failed"))



class TestStalledDataHandshake(TlsServerMixin, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-ftps-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o777)  # the xferlog's directory, for a server run as nobody
        self.xferlog = os.path.join(self.tmp, "xferlog")
        self.srv = self.start_tls_server(args=["--data-timeout", "1", "--xferlog", self.xferlog])

    def test_stalled_data_handshake_ends_the_transfer_with_its_log_lines(self):
        """A client that opens a PROT P data connection and never starts (or never finishes)
        its TLS handshake: other sessions are served meanwhile, the data timeout ends the
        transfer with a reply naming the handshake, and the log and the xferlog have the
        transfer's line, as for a handshake that fails."""
        self.srv.write("a.bin", data_bytes(300000, 5))
        c = self.tls_control()
        c.login()
        self.assertEqual(c.cmd("PBSZ 0")[0], 200)
        self.assertEqual(c.cmd("PROT P")[0], 200)
        for hello in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):  # none, a part
            ds = c.pasv()
            self.assertEqual(c.cmd("RETR a.bin")[0], 150)
            ds.sendall(hello)
            code, text = c.cmd("STAT")  # tells where the transfer stands
            self.assertEqual(code, 211, text)
            self.assertRegex(text, r"RETR /a\.bin: waiting for the data connection's TLS handshake")
            probe = self.srv.control()
            self.assertEqual(probe.cmd("NOOP")[0], 200)
            probe.close()
            code, text = c.reply(timeout=10)
            self.assertEqual(code, 425, text)
            self.assertIn("TLS handshake timed out", text)
            ds.close()
            self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertTrue(self.srv.wait_log(r"RETR /a\.bin failed.*425 .*TLS handshake timed out"))
        with open(self.xferlog) as fh:
            self.assertEqual(fh.read().count(" 0 /a.bin b _ o r alice ftp 0 * i\n"), 2)

class TestRequireTls(TlsServerMixin, unittest.TestCase):
    tls_args = ["--require-tls"]  # implies --tls

    def test_plain_login_refused(self):
        c = self.srv.control()
        code, text = c.cmd("USER " + DEFAULT_USER)
        self.assertEqual(code, 530, text)
        self.assertIn("AUTH TLS", text)
        self.assertEqual(c.cmd("PASS " + DEFAULT_PASSWORD)[0], 503)
        # ftplib's plain FTP fails to log in as well
        with self.assertRaises(ftplib.error_perm):
            self.srv.ftp()

    def test_tls_login_and_protected_data(self):
        f = self.ftps()
        self.assertIsInstance(f.nlst(), list)

    def test_clear_data_refused(self):
        f = self.ftps(prot_p=False)
        with self.assertRaises(ftplib.error_perm) as cm:
            f.nlst()
        self.assertTrue(str(cm.exception).startswith("521"), str(cm.exception))
        f.prot_p()
        self.assertIsInstance(f.nlst(), list)

    def test_anonymous_exempt(self):
        self.srv.write("pub.txt", b"hello\n", base=self.srv.anon_root)
        f = self.srv.ftp(user="anonymous", pw="guest@")
        self.assertEqual(f.nlst(), ["pub.txt"])


class TestPerAccountTls(TlsServerMixin, unittest.TestCase):
    """The S letter in an account's permissions requires TLS for that account only."""
    server_kwargs = {"users": [(DEFAULT_USER, DEFAULT_PASSWORD, "elradfmw"),
                               ("secure", "secure-Pw-1", "elrS")]}

    def test_account_with_s_needs_tls(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("USER secure")[0], 530)
        c.login()  # others may still log in in clear
        f = self.ftps(user="secure", pw="secure-Pw-1", prot_p=False)
        with self.assertRaises(ftplib.error_perm) as cm:
            f.nlst()
        self.assertTrue(str(cm.exception).startswith("521"), str(cm.exception))
        f.prot_p()
        self.assertIsInstance(f.nlst(), list)
        self.assertIsInstance(self.srv.ftp().nlst(), list)  # alice: clear data allowed


class TestRequireTlsAnonymous(TlsServerMixin, unittest.TestCase):
    tls_args = ["--require-tls", "--require-tls-anonymous"]

    def test_anonymous_refused_without_tls(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("USER anonymous")[0], 530)
        f = self.ftps(user="anonymous", pw="guest@")
        self.assertIsInstance(f.nlst(), list)


class TestReuseNotRequired(TlsServerMixin, unittest.TestCase):
    tls_args = ["--tls", "--tls-require-reuse", "no"]

    def test_fresh_session_accepted(self):
        f = self.ftps(cls=ftplib.FTP_TLS)
        self.srv.make_file("n.bin", 1000, seed=9)
        out = io.BytesIO()
        f.retrbinary("RETR n.bin", out.write)
        self.assertEqual(len(out.getvalue()), 1000)


class TestImplicit(TlsServerMixin, unittest.TestCase):
    tls_args = ["--listen-implicit", "127.0.0.1:0"]  # implies --tls

    def implicit_port(self):
        m = self.srv.wait_log(IMPLICIT_RE.pattern)
        self.assertIsNotNone(m, "no implicit listener in the log")
        return int(m.group(2))

    def test_implicit_tls(self):
        port = self.implicit_port()
        raw = socket.create_connection((self.srv.host, port), timeout=10)
        s = tls_context(self.srv.cafile).wrap_socket(raw, server_hostname=self.srv.host)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220"))
        s.sendall(b"USER %s\r\n" % DEFAULT_USER.encode())
        self.assertTrue(f.readline().startswith(b"331"))
        s.sendall(b"PASS %s\r\n" % DEFAULT_PASSWORD.encode())
        self.assertTrue(f.readline().startswith(b"230"))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(f.readline().startswith(b"221"))
        s.close()
        # the explicit listener still speaks plain text first
        c = self.srv.control()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_curl_implicit(self):
        port = self.implicit_port()
        data = self.srv.make_file("imp.bin", 2 << 20, seed=8)
        url = "ftps://%s:%s@%s:%d/" % (self.srv.user, self.srv.password, self.srv.host, port)
        base = [CURL, "-sS", "--max-time", "30", "--cacert", self.srv.cafile]
        r = subprocess.run(base + [url], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"imp.bin", r.stdout)
        r = subprocess.run(base + [url + "imp.bin"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha(r.stdout), sha(data))

    def test_plain_client_on_implicit_port(self):
        port = self.implicit_port()
        with socket.create_connection((self.srv.host, port), timeout=10) as s:
            s.sendall(b"USER alice\r\n")
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertTrue(self.srv.wait_log(r"TLS handshake failed"))


class TestTlsOff(ServerTestCase):
    def test_no_auth_without_tls(self):
        c = self.srv.control()
        code, text = c.cmd("FEAT")
        self.assertNotIn("AUTH", text)
        self.assertNotIn("PROT", text)
        self.assertEqual(c.cmd("AUTH TLS")[0], 502)
        self.assertEqual(c.cmd("PBSZ 0")[0], 503)
        self.assertEqual(c.cmd("CCC")[0], 533)


if __name__ == "__main__":
    unittest.main()
