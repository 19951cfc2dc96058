"""End-to-end tests of `ftpc stress` against the ways pyftpdlib (1.5.x) loses a transfer
under load, so that a simulated client never sits out --timeout on them. A scripted server
(scripted_ftp.py) behaves as pyftpdlib does, on cue: pyftpdlib itself shows it only when
its event loop happens to see the events in one order.
"""
import select
import socket
import threading
import time
import unittest

from scripted_ftp import ScriptedFtp
from test_stress import FTPC_BIN, StressCase, have_ftpc


class EagerDataFtp(ScriptedFtp):
    """Keeps uploads in memory. Like pyftpdlib, it accepts a passive data connection as soon
    as it comes, and takes one that turns readable before its transfer command has been read
    for a client gone: it closes it without a reply, answers the STOR that follows with 150
    and then nothing, as it waits for a data connection it will never accept. Here the STOR
    is read a moment after it came (a busy server), so that bytes a client sent with it are
    seen first."""

    BUSY_S = 0.5

    def __init__(self, **kw):
        super().__init__(**kw)
        self.files = {}
        self.lost = 0  # data connections closed for bytes that came before their STOR
        self.lock = threading.Lock()

    def command(self, s, verb, arg):
        if verb == "STOR":
            d = s.accept_data()
            if select.select([d], [], [], self.BUSY_S)[0]:
                with self.lock:
                    self.lost += 1
                d.close()
                s.send("150 File status okay. About to open data connection.")
                time.sleep(self.timeout)
                return False
            s.send("125 Data connection already open. Transfer starting.")
            got = bytearray()
            while True:
                chunk = d.recv(65536)
                if not chunk:
                    break
                got += chunk
            d.close()
            with self.lock:
                self.files[arg] = bytes(got)
            s.send("226 Transfer complete.")
        elif verb == "RETR":
            with self.lock:
                data = self.files.get(arg)
            if data is None:
                s.send("550 No such file or directory.")
            else:
                s.send_download(data)
        elif verb == "DELE":
            with self.lock:
                gone = self.files.pop(arg, None)
            s.send("250 File removed." if gone is not None else "550 No such file.")
        else:
            return super().command(s, verb, arg)
        return True


@unittest.skipUnless(have_ftpc(), "ftpc binary not found: %s" % FTPC_BIN)
class TestStressUploadWaitsForPreliminaryReply(StressCase):
    def test_no_upload_byte_before_the_1xx(self):
        # The client wrote an upload as soon as its data connection was up, before the
        # server had read the STOR: pyftpdlib lost the connection and the STOR, and the
        # client waited out --timeout for a reply that never came (ETIMEDOUT).
        srv = EagerDataFtp(sessions=10, timeout=30)
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress("ftp://u:p@127.0.0.1:%d/" % srv.port, "--clients", 2,
                                    "--iterations", 2, "--mix", "put", "--size", "4K-32K",
                                    "--timeout", 10, "--no-view", timeout=120)
        self.assertEqual(srv.lost, 0, out + err)
        self.assertEqual(rep["errors_by_code"], {}, out + err)
        self.assertEqual(rep["ops"]["put"], {"count": 4, "errors": 0}, out + err)
        self.assertEqual(rep["verify_failures"], 0, out + err)
        self.assertEqual(srv.files, {}, "every upload read back and deleted")


class QueueKeepingFtp(ScriptedFtp):
    """Like pyftpdlib when its data connection never came: a transfer command is answered
    150 and queued until the data connection is accepted. ABOR closes the passive socket
    and answers 225, but, as pyftpdlib's does, leaves the transfer queued: the next data
    connection of the session is taken for it, so that the LIST that came with that
    connection gets 125 and then nothing at all (pyftpdlib reads it into the aborted
    upload's file, or sends the aborted download, and never the listing).

    Here a STOR's data connection is never accepted before the client's ABOR (pyftpdlib's
    loop busy with others). With dead_port, the first session's first EPSV names a port where
    nothing listens, and the LIST sent with it is answered 150 only after a moment (a busy
    server), when the client has seen its connect refused."""

    def __init__(self, dead_port=False, **kw):
        super().__init__(**kw)
        self.dead_port = dead_port
        self.dead = []          # bound, never listening: a connect is refused
        self.lock = threading.Lock()
        self.abors = 0
        self.hijacked = 0       # transfers answered 125 for a queued one, then left hanging
        self.after_abor = []    # what each session did after a 225 left a transfer queued

    def command(self, s, verb, arg):
        queued = getattr(s, "queued", None)
        if getattr(s, "after", None) == "pending" and verb not in ("NOOP", "DELE"):
            s.after = verb
            with self.lock:
                self.after_abor.append(verb)
        if verb == "EPSV" and self.dead_port and not self.dead:
            s.on_dead = True
            d = socket.socket()
            d.bind(("127.0.0.1", 0))
            with self.lock:
                self.dead.append(d)
            s.send("229 Entering extended passive mode (|||%d|)." % d.getsockname()[1])
        elif (verb == "STOR" or getattr(s, "on_dead", False)) and not queued:
            s.on_dead = False
            if verb != "STOR":
                time.sleep(0.3)
            s.queued = verb
            s.send("150 File status okay. About to open data connection.")
        elif verb == "ABOR":
            with self.lock:
                self.abors += 1
            if s.dsock:
                s.dsock.close()
                s.dsock = None
            s.after = "pending" if queued else None
            s.send("225 ABOR command successful; data channel closed.")
        elif verb in ("NOOP", "DELE"):
            s.send("200 I successfully did nothing'." if verb == "NOOP" else "550 No such file.")
        elif verb in ("LIST", "RETR", "STOR") and queued:
            s.accept_data()
            with self.lock:
                self.hijacked += 1
            s.send("125 Data connection already open. Transfer starting.")
            time.sleep(self.timeout)
            return False
        elif verb == "LIST":
            s.send_download(b"-rw-r--r-- 1 u g 0 Jan 1 00:00 x\r\n")
        else:
            return super().command(s, verb, arg)
        return True

    def ended(self, s):
        if getattr(s, "after", None) == "pending":  # QUIT came next (or the client left)
            with self.lock:
                self.after_abor.append("QUIT")

    def stop(self, timeout=20):
        super().stop(timeout)
        for d in self.dead:
            d.close()


@unittest.skipUnless(have_ftpc(), "ftpc binary not found: %s" % FTPC_BIN)
class TestStressSessionAfterAborOfAnUnstartedTransfer(StressCase):
    """After an ABOR answered 225 ("no transfer in progress") for a transfer the server had
    announced with 150, the client went on in that session: its next LIST got 125 and then
    nothing, and the client waited out --timeout (ETIMEDOUT)."""

    def check_next_ops_had_new_sessions(self, srv, rep, out, err):
        self.assertGreater(srv.abors, 0, out + err)
        self.assertEqual(srv.hijacked, 0, out + err)
        self.assertEqual(set(srv.after_abor), {"QUIT"}, out + err)

    def test_after_an_injected_abor(self):
        srv = QueueKeepingFtp(sessions=40, timeout=30)
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress("ftp://u:p@127.0.0.1:%d/" % srv.port, "--clients", 1,
                                    "--iterations", 8, "--mix", "put=1,list=1", "--size",
                                    "8K", "--abort-fraction", 1, "--seed", 3, "--timeout", 5,
                                    "--no-view", timeout=120)
        self.check_next_ops_had_new_sessions(srv, rep, out, err)
        self.assertEqual(rep["errors_by_code"], {}, out + err)
        self.assertEqual(rep["ops"]["list"]["errors"], 0, out + err)
        self.assertGreater(rep["ops"]["list"]["count"], 0, out + err)

    def test_after_a_refused_data_connection(self):
        # the 150 came after the ABOR that the refused connect brought
        srv = QueueKeepingFtp(dead_port=True, sessions=40, timeout=30)
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress("ftp://u:p@127.0.0.1:%d/" % srv.port, "--clients", 1,
                                    "--iterations", 3, "--mix", "list", "--timeout", 5,
                                    "--no-view", timeout=120)
        self.check_next_ops_had_new_sessions(srv, rep, out, err)
        self.assertEqual(rep["errors_by_code"], {"ECONNREFUSED": 1}, out + err)
        self.assertEqual(rep["ops"]["list"], {"count": 3, "errors": 1}, out + err)

if __name__ == "__main__":
    unittest.main()
