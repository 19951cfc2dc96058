"""How an upload ends, over TLS and in plain FTP, as the client sees it on the control
connection and in the server's directory:

- commands that arrive together right after an upload's data connection ended (ABOR and
  NOOP in one write, while the server settles the upload) are answered in order: the
  transfer's 226, ABOR's 226, then NOOP's 200 (RFC 959: ABOR's replies come before those of
  anything sent later);
- a PROT P upload is complete only when the client's TLS close_notify ends it: a TCP FIN
  without it, or a reset, is a truncation (RFC 4217 section 10, RFC 8446 section 6.1) that
  ends in 426 with the data kept as a resumable partial, never committed;
- DELE of a name also removes its kept partial upload, and DELE of a name that only has a
  partial removes that.
"""
import ftplib
import os
import socket
import ssl
import time
import unittest

from ftpd_harness import ServerTestCase, data_bytes, reset_close, sha, wait_for
import test_ftps
from test_ftps import CURL, LFTP, ReuseFTP_TLS, TlsServerMixin, tls_context

ROUNDS = 8  # each round is one chance for the misordering (it showed in every round)


def read_replies(sock, count, timeout=5.0):
    """Reads `count` single-line replies from a (TLS or plain) socket; returns them as
    strings, fewer if the time runs out."""
    sock.settimeout(0.2)
    buf = b""
    deadline = time.monotonic() + timeout
    while buf.count(b"\n") < count and time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        if not chunk:
            break
        buf += chunk
    sock.settimeout(10)
    return [line.decode("utf-8", "replace") for line in buf.splitlines()]


def raw_twin(sock):
    """A plain socket on sock's connection (so it can be closed without close_notify) and
    sock itself closed without a TLS alert."""
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    sock.close()  # SSLSocket.close sends no close_notify
    return raw


class TlsUploadBase(TlsServerMixin, unittest.TestCase):
    def client(self):
        f = ReuseFTP_TLS(context=tls_context(self.srv.cafile), timeout=20, encoding="utf-8")
        f.connect(self.srv.host, self.srv.port)
        self.srv._clients.append(f)
        f.auth()
        f.login(self.srv.user, self.srv.password)
        f.prot_p()
        f.voidcmd("TYPE I")
        return f

    def start_upload(self, f, name, data):
        conn, _ = ftplib.FTP.ntransfercmd(f, "STOR " + name)
        d = f.context.wrap_socket(conn, server_hostname=f.host, session=f.sock.session)
        d.sendall(data)
        return d

    def partial(self, name):
        return os.path.join(self.srv.root, ".ftpd-partial." + name)

    def assert_cut(self, name, replies, data):
        self.assertTrue(replies and replies[0].startswith("426"), replies)
        self.assertFalse(os.path.exists(self.srv.local(name)), "a cut upload was committed")
        # the bytes that arrived stay for a resume
        self.assertTrue(wait_for(lambda: os.path.exists(self.partial(name)), 5))
        with open(self.partial(name), "rb") as fh:
            kept = fh.read()
        self.assertEqual(kept, data[:len(kept)])


class TestAbortOrder(TlsUploadBase):
    def test_abor_and_noop_after_tls_upload_end_in_order(self):
        f = self.client()
        for i in range(ROUNDS):
            data = data_bytes(5000, i)
            d = self.start_upload(f, "o%d.bin" % i, data)
            d.unwrap()  # close_notify both ways: the server now settles the upload
            f.sock.sendall(b"ABOR\r\nNOOP\r\n")
            d.close()
            got = read_replies(f.sock, 3)
            codes = [r[:3] for r in got]
            self.assertIn(codes, (["226", "226", "200"], ["426", "226", "200"]),
                          "round %d: %r" % (i, got))
            if codes[0] == "226":
                self.assertEqual(self.srv.read("o%d.bin" % i), data)


class TestPlainAbortOrder(ServerTestCase):
    def test_abor_and_noop_after_plain_upload_end_in_order(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        for i in range(ROUNDS):
            data = data_bytes(5000, i)
            ds = c.pasv()
            c.send("STOR p%d.bin\r\n" % i)
            self.assertEqual(c.reply()[0], 150)
            ds.sendall(data)
            ds.shutdown(socket.SHUT_WR)
            self.assertEqual(ds.recv(10), b"")  # the server saw the end and closed
            c.send("ABOR\r\nNOOP\r\n")
            ds.close()
            got = [c.reply() for _ in range(3)]
            codes = [code for code, _ in got]
            self.assertIn(codes, ([226, 226, 200], [426, 226, 200]), "round %d: %r" % (i, got))

    def test_appe_aborted_before_its_data_connection_leaves_nothing(self):
        # APPE starts from a copy of the target; aborted before a byte of its own arrived,
        # that copy is no resume point and must not stay behind as one
        data = data_bytes(300000, 7)
        self.srv.write("a.bin", data)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(c.cmd("PASV")[0], 227)
        c.send("APPE a.bin\r\nABOR\r\nNOOP\r\n")
        self.assertEqual([c.reply(timeout=5)[0] for _ in range(3)], [426, 226, 200])
        self.assertEqual(self.srv.read("a.bin"), data)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertEqual(c.cmd("SIZE a.bin"), (213, "213 %d" % len(data)))


class TestTlsUploadEnd(TlsUploadBase):
    def test_close_notify_commits(self):
        data = data_bytes(300000, 1)
        f = self.client()
        d = self.start_upload(f, "ok.bin", data)
        d.unwrap()
        d.close()
        self.assertTrue(f.voidresp().startswith("226"))
        self.assertEqual(sha(self.srv.read("ok.bin")), sha(data))
        self.assertFalse(os.path.exists(self.partial("ok.bin")))

    def test_fin_without_close_notify_is_truncation(self):
        data = data_bytes(300000, 2)
        f = self.client()
        d = self.start_upload(f, "cut.bin", data)
        raw = raw_twin(d)
        raw.shutdown(socket.SHUT_WR)  # a clean TCP end, but no TLS close_notify
        got = read_replies(f.sock, 1)
        raw.close()
        self.assert_cut("cut.bin", got, data)
        self.assertIn("close_notify", got[0])
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")

    def test_reset_is_not_committed(self):
        data = data_bytes(300000, 3)
        f = self.client()
        for i in range(ROUNDS):
            name = "rst%d.bin" % i
            d = self.start_upload(f, name, data)
            reset_close(raw_twin(d))
            got = read_replies(f.sock, 1)
            self.assert_cut(name, got, data)
        self.assertEqual(f.voidcmd("NOOP")[:3], "200")

    @unittest.skipIf(CURL is None, "curl is not installed")
    def test_curl_uploads_in_one_session(self):
        """curl sends close_notify after each upload, and its second data connection resumes
        a session from the first (tickets issued on data connections must keep working)."""
        src = os.path.join(self.tmp, "src.bin")
        data = data_bytes(3 << 20, 7)
        with open(src, "wb") as fh:
            fh.write(data)
        test_ftps.TestFtps.curl(self, "--tlsv1.3", "-T", src, self.srv.url("c1.bin"), "-T", src,
                      self.srv.url("c2.bin"))
        for name in ("c1.bin", "c2.bin"):
            self.assertEqual(sha(self.srv.read(name)), sha(data))

    @unittest.skipIf(LFTP is None, "lftp is not installed")
    def test_lftp_uploads_in_one_session(self):
        src = os.path.join(self.tmp, "src.bin")
        data = data_bytes(3 << 20, 8)
        with open(src, "wb") as fh:
            fh.write(data)
        back = os.path.join(self.tmp, "back.bin")
        test_ftps.TestFtps.lftp(self, "put %s -o l1.bin; put %s -o l2.bin; get l1.bin -o %s"
                      % (src, src, back))
        for name in ("l1.bin", "l2.bin"):
            self.assertEqual(sha(self.srv.read(name)), sha(data))
        with open(back, "rb") as fh:
            self.assertEqual(sha(fh.read()), sha(data))

    def test_ftplib_storbinary_commits(self):
        """ftplib's storbinary ends a PROT P upload with unwrap() (close_notify)."""
        import io
        data = data_bytes(1 << 20, 4)
        f = self.client()
        self.assertTrue(f.storbinary("STOR lib.bin", io.BytesIO(data)).startswith("226"))
        self.assertEqual(sha(self.srv.read("lib.bin")), sha(data))


class TestDelePartial(ServerTestCase):
    def cut_upload(self, name, data):
        """Uploads data to name and resets the data connection: a partial stays."""
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send("STOR %s\r\n" % name)
        self.assertEqual(c.reply()[0], 150)
        ds.sendall(data)
        partial = os.path.join(self.srv.root, ".ftpd-partial." + name)
        temps = lambda: [n for n in os.listdir(self.srv.root) if n.startswith(".ftpd-up.")
                         and os.path.getsize(os.path.join(self.srv.root, n)) >= len(data)]
        self.assertTrue(wait_for(temps, 10))
        reset_close(ds)
        self.assertEqual(c.reply()[0], 426)
        self.assertTrue(wait_for(lambda: os.path.exists(partial), 5))
        c.close()
        return partial

    def test_dele_removes_the_partial_too(self):
        self.srv.make_file("both.bin", 1000, seed=1)
        partial = self.cut_upload("both.bin", data_bytes(70000, 2))
        f = self.srv.ftp()
        self.assertTrue(f.delete("both.bin").startswith("250"))
        self.assertFalse(os.path.exists(self.srv.local("both.bin")))
        self.assertFalse(os.path.exists(partial), "DELE left the partial upload behind")
        # nothing to resume from any more: SIZE says the name is gone
        with self.assertRaises(ftplib.error_perm):
            f.size("both.bin")

    def test_dele_of_only_a_partial(self):
        partial = self.cut_upload("only.bin", data_bytes(70000, 3))
        f = self.srv.ftp()
        self.assertTrue(f.delete("only.bin").startswith("250"))
        self.assertFalse(os.path.exists(partial))
        with self.assertRaises(ftplib.error_perm) as cm:
            f.delete("only.bin")  # now there is nothing at all
        self.assertTrue(str(cm.exception).startswith("550"), str(cm.exception))

    def test_dele_of_a_plain_file_still_works(self):
        self.srv.make_file("plain.bin", 10, seed=4)
        f = self.srv.ftp()
        self.assertTrue(f.delete("plain.bin").startswith("250"))
        self.assertFalse(os.path.exists(self.srv.local("plain.bin")))


if __name__ == "__main__":
    unittest.main()
