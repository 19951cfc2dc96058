"""End-to-end tests of `ftpc stress` against the ways pyftpdlib (1.5.x) loses a transfer
under load, so that a simulated client never sits out --timeout on them. A scripted server
(scripted_ftp.py) behaves as pyftpdlib does, on cue: pyftpdlib itself shows it only when
its event loop happens to see the events in one order.
"""
import select
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


if __name__ == "__main__":
    unittest.main()
