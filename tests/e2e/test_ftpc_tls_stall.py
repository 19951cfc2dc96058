"""ftpc over FTPS when a data connection's TLS handshake never completes: the server (after
PROT P) accepts the data connection, answers 150, and then says nothing on either
connection. ftpc reported that as its control connection's timeout ("timed out after 1 s
waiting for 127.0.0.1:N (RETR f.bin)"), as if the server had stopped answering commands.
It is the data connection's: the message says so and names the file, and the failure is a
cut transfer as other data-connection timeouts are (exit status 7, retried by --retry).

Only the message changes, not when ftpc gives up (the control connection's --timeout, which
the 150 restarts): a server that never answers RETR is still reported as that, and one that
answers late and completes the handshake late, each within the timeout, is still waited for.
"""
import threading
import time
import unittest

import test_ftpc_tls_eof as eof
from test_ftpc import FtpcCase
from test_ftpc_tls_eof import DATA, EXIT_XFER, TlsScriptedFtp

STALL_MSG = "the TLS handshake of the data connection timed out after 1 s"
SEG_SIZE = 64 << 20  # SIZE says so: large enough for two ranges of --segments 2


class StallingTlsFtp(TlsScriptedFtp):
    """Explicit FTPS whose data connections are accepted and then left silent: no TLS
    handshake, no final reply, until the client closes the data connection."""

    def __init__(self, ctx, sessions=1, size=None, answer="stall"):
        super().__init__(ctx, "clean", size=size is not None, sessions=sessions)
        self.size_reply = size
        self.answer = answer  # "stall"; "silent": no 150 either; "late": see late()
        self.stalled = 0  # data connections taken and left silent
        self.lock = threading.Lock()

    def stall(self, s):
        s.send("150 here")
        d = s.accept_data()
        with self.lock:
            self.stalled += 1
        try:
            while d.recv(65536):  # a ClientHello, then the client's close
                pass
        except OSError:
            pass
        d.close()

    def silent(self, s):
        """No reply to the command; the data connection is taken and read to its close."""
        d = s.accept_data()
        try:
            while d.recv(65536):
                pass
        except OSError:
            pass
        d.close()

    def late(self, s):
        """150 after 0.8 s, the handshake 0.4 s after it, then DATA: each wait within a
        --timeout of 1 s counted from the last thing the server said."""
        time.sleep(0.8)
        s.send("150 here")
        d = s.accept_data()
        d.settimeout(self.timeout)
        time.sleep(0.4)
        try:
            d = self.ctx.wrap_socket(d, server_side=True)
            d.sendall(DATA)
            d = d.unwrap()
        except (OSError, ValueError):
            pass
        d.close()
        s.send("226 done")

    def command(self, s, verb, arg):
        if verb == "SIZE" and self.size_reply is not None:
            s.send("213 %d" % self.size_reply)
        elif verb in ("RETR", "STOR", "LIST", "NLST", "MLSD"):
            getattr(self, self.answer)(s)
        else:
            return super().command(s, verb, arg)
        return True


class TestDataHandshakeStall(FtpcCase):
    """Against the scripted server, with test_ftpc_tls_eof's certificate; no ftpd."""

    # imported as methods, not as the class: its tests would run here too
    setUpClass = classmethod(eof.TestRaggedTlsEnd.setUpClass.__func__)
    tearDownClass = classmethod(eof.TestRaggedTlsEnd.tearDownClass.__func__)
    setUp = eof.TestRaggedTlsEnd.setUp
    local = eof.TestRaggedTlsEnd.local

    def serve_stalling(self, **kw):
        srv = StallingTlsFtp(self.ctx, **kw)
        srv.start()
        self.addCleanup(srv.stop)
        return srv, "ftpes://u:p@127.0.0.1:%d/" % srv.port

    def stalled_run(self, *args, sessions=1, size=None, answer="stall", rc=EXIT_XFER):
        srv, url = self.serve_stalling(sessions=sessions, size=size, answer=answer)
        r = self.ftpc("--cacert", self.cert, "--timeout", "1", *[a.replace("URL/", url)
                                                                  for a in args], rc=rc)
        return srv, r.stderr.decode("utf-8", "replace")

    def assert_data_stall(self, err, action, name):
        self.assertRegex(err, r"ftpc: %s ftpes://u@127\.0\.0\.1:\d+/%s: %s"
                         % (action, name.replace(".", r"\."), STALL_MSG))
        self.assertNotIn("waiting for", err)

    def test_get_says_the_data_handshake_timed_out(self):
        srv, err = self.stalled_run("get", "URL/f.bin")
        self.assert_data_stall(err, "downloading", "f.bin")
        self.assertEqual(srv.stalled, 1)

    def test_put_says_the_data_handshake_timed_out(self):
        with open(self.local("up.bin"), "wb") as fh:
            fh.write(DATA)
        srv, err = self.stalled_run("put", "up.bin", "URL/up.bin")
        self.assert_data_stall(err, "uploading", "up.bin")

    def test_ls_says_the_data_handshake_timed_out(self):
        srv, err = self.stalled_run("ls", "URL/d/")
        self.assert_data_stall(err, "listing", "d/")

    def test_each_range_of_a_segmented_get_says_so(self):
        srv, err = self.stalled_run("get", "--segments", "2", "URL/big.bin", sessions=2,
                                    size=SEG_SIZE)
        self.assert_data_stall(err, "downloading", "big.bin")
        self.assertGreaterEqual(srv.stalled, 1)

    def test_a_range_of_a_segmented_put_says_so(self):
        with open(self.local("big.bin"), "wb") as fh:
            fh.write(DATA * 41)  # 4 MiB: two ranges
        srv, err = self.stalled_run("put", "--segments", "2", "big.bin", "URL/big.bin",
                                    sessions=3)
        self.assertRegex(err, r"ftpc: uploading ftpes://u@127\.0\.0\.1:\d+/big\.bin: %s "
                         r"\(bytes \d+-\d+" % STALL_MSG)
        self.assertNotIn("waiting for", err)

    def test_retried_as_a_cut_transfer(self):
        srv, err = self.stalled_run("--retry", "1", "--retry-delay", "0.1", "get", "URL/f.bin",
                                    sessions=2)
        self.assertRegex(err, r"%s; retrying in 0\.1 s \(attempt 2 of 2\)" % STALL_MSG)
        self.assert_data_stall(err, "downloading", "f.bin")
        self.assertEqual(srv.stalled, 2)

    def test_no_150_is_the_commands_timeout(self):
        # the server never answered RETR: the wait was for its reply, not for a handshake
        srv, err = self.stalled_run("get", "URL/f.bin", answer="silent")
        self.assertRegex(err, r"ftpc: downloading ftpes://u@127\.0\.0\.1:\d+/f\.bin: "
                         r"timed out after 1 s waiting for 127\.0\.0\.1:\d+ \(RETR [./]*f\.bin\)")
        self.assertNotIn("handshake", err)

    def test_late_150_and_late_handshake_within_the_timeout_succeed(self):
        # 1.2 s from RETR to the handshake, but never 1 s without a word from the server
        srv, err = self.stalled_run("get", "URL/f.bin", answer="late", rc=0)
        with open(self.local("f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), DATA)
        self.assertNotIn("timed out", err)


if __name__ == "__main__":
    unittest.main()
