"""ftpc's report of an upload that the server stops while ftpc is still sending.

A server that refuses the rest of an upload (552 past a quota or its file size limit, 452 for a
full disk, 426) replies on the control connection and closes or resets the data connection, in
either order; ftpc's send then fails with EPIPE or ECONNRESET. The reason ftpc reports is that
reply, with the exit status of its code (5 for a refusal, not retried; 7 for an aborted
transfer, which --retry tries again), for a plain put and for each range of put --segments
alike. Only when no reply comes within a few seconds is the socket's error the reason.

ftpd under a file size limit (prlimit, as in test_file_size_limit) shows the real case; a
scripted server shows the orders ftpd does not: the reset first and the reply after it, a
reply that never comes, a parallel range cut past a quota.
"""
import os
import shutil
import socket
import struct
import threading
import time
import unittest

from ftpd_harness import data_bytes
from scripted_ftp import ScriptedFtp
from test_file_size_limit import LimitedServer
from test_ftpc import FtpcCase, MiB


class CutsUploadsFtp(ScriptedFtp):
    """Writes uploads in place (REST+STOR, APPE), with SIZE and without HASH, into one file
    whatever the name, and holds at most `limit` bytes of it (a quota). An upload that reaches
    the limit has its data connection reset (the bytes before the limit kept) and `delay`
    seconds later gets the reply `reply`; with reply None it gets none, and the session stays
    silent until the client leaves. The data sockets take 64 KiB at a time, so that ftpc is
    still sending when the reset comes."""

    FEATURES = ("SIZE", "REST STREAM", "EPSV")

    def __init__(self, limit, reply="552 Exceeded storage allocation (quota)", delay=0.3):
        super().__init__(24, timeout=30, accept_timeout=60)
        self.limit, self.reply, self.delay = limit, reply, delay
        self.data = bytearray()
        self.lock = threading.Lock()
        self.cut = 0  # uploads cut at the limit

    def command(self, s, verb, arg):
        if verb == "EPSV":
            super().command(s, verb, arg)
            s.dsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        elif verb == "SIZE":
            with self.lock:
                s.send("213 %d" % len(self.data))
        elif verb in ("STOR", "APPE"):
            return self.upload(s, verb)
        elif verb in ("DELE", "RNTO"):
            s.send("250 ok")
        elif verb == "RNFR":
            s.send("350 ok")
        else:
            return super().command(s, verb, arg)
        return True

    def upload(self, s, verb):
        with self.lock:
            if verb == "APPE":
                at = len(self.data)
            else:
                at = s.rest
                if at == 0:
                    del self.data[:]
        s.rest = 0
        s.send("150 go")
        d = s.accept_data()
        d.settimeout(30)
        cut = False
        while True:
            chunk = d.recv(65536)
            if not chunk:
                break
            room = max(0, self.limit - at)
            with self.lock:
                if len(self.data) < at:
                    self.data += bytes(at - len(self.data))
                self.data[at:at + min(room, len(chunk))] = chunk[:room]
            at += len(chunk)
            if at > self.limit:
                cut = True
                break
        if not cut:
            d.close()
            s.send("226 done")
            return True
        d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        d.close()
        with self.lock:
            self.cut += 1
        time.sleep(self.delay)
        if self.reply is not None:
            s.send(self.reply)
            return True
        try:  # silent until the client's end of the control connection
            while s.conn.recv(1, socket.MSG_PEEK):
                time.sleep(0.05)
        except OSError:
            pass
        return False


class TestScriptedCut(FtpcCase):
    """The reset comes before the reply (or alone), so ftpc's send fails first."""

    def put(self, fake, size, *opts, rc, timeout=60):
        self.write_local("big.bin", data_bytes(size, seed=21))
        fake.start()
        self.addCleanup(fake.stop)
        url = "ftp://u:p@127.0.0.1:%d/big.bin" % fake.port
        t0 = time.monotonic()
        r = self.ftpc("--retry", "1", "--retry-delay", "0", *opts, "put", "big.bin", url,
                      rc=rc, timeout=timeout)
        return r.stderr.decode("utf-8", "replace"), time.monotonic() - t0

    def assert_refused(self, err, reply):
        self.assertIn("the server replied " + reply, err)
        self.assertNotIn("retrying", err.lower())  # a lasting refusal is not tried again
        self.assertNotIn("put -c", err)

    def test_plain_put_reports_the_reply_that_follows_the_reset(self):
        err, _ = self.put(CutsUploadsFtp(1 * MiB), 16 * MiB, rc=5)
        self.assert_refused(err, "552 Exceeded storage allocation (quota)")

    def test_segmented_put_reports_the_reply_that_follows_the_reset(self):
        # The first range (0-8 MiB) passes the quota: the upload is refused there.
        err, _ = self.put(CutsUploadsFtp(1 * MiB), 16 * MiB, "--segments", "2", rc=5)
        self.assert_refused(err, "552 Exceeded storage allocation (quota)")

    def test_parallel_ranges_cut_past_a_quota_end_in_its_reply(self):
        # 4 ranges of 10 MiB under a quota of 15 MiB: the first is stored, the second is cut
        # at 15 MiB and the others at their first bytes, all while being sent. The reply
        # decides as if it had come before the reset: the ranges count as refused, the rest
        # goes sequentially, and that stops at the quota with the same 552.
        fake = CutsUploadsFtp(15 * MiB, delay=0.2)
        err, _ = self.put(fake, 40 * MiB, "--segments", "4", rc=5, timeout=120)
        self.assert_refused(err, "552 Exceeded storage allocation (quota)")
        self.assertIn("uploading the rest sequentially", err)
        self.assertGreaterEqual(fake.cut, 4)  # three ranges, then the sequential upload

    def test_an_aborted_transfer_stays_one_to_retry(self):
        # 426 is the server's word for a cut transfer: status 7, and --retry tries again.
        fake = CutsUploadsFtp(1 * MiB, reply="426 Connection closed; transfer aborted.")
        err, _ = self.put(fake, 16 * MiB, rc=7)
        self.assertIn("the server replied 426 Connection closed; transfer aborted.", err)
        self.assertIn("retrying in 0.0 s (attempt 2 of 2)", err)
        self.assertEqual(fake.cut, 2)

    def test_a_segmented_aborted_range_stays_one_to_retry(self):
        fake = CutsUploadsFtp(1 * MiB, reply="426 Connection closed; transfer aborted.")
        err, _ = self.put(fake, 16 * MiB, "--segments", "2", rc=7)
        self.assertIn("the server replied 426 Connection closed; transfer aborted.", err)
        self.assertIn("retrying in 0.0 s (attempt 2 of 2)", err)

    def test_full_disk_452_is_the_reason(self):
        fake = CutsUploadsFtp(1 * MiB, reply="452 Insufficient storage space: No space left "
                              "on device.")
        err, _ = self.put(fake, 16 * MiB, "--segments", "2", rc=5)
        self.assert_refused(err, "452 Insufficient storage space: No space left on device.")

    def check_no_reply(self, *opts):
        # --timeout 20: the control connection's own timeout is not what ends the wait.
        err, took = self.put(CutsUploadsFtp(1 * MiB, reply=None), 16 * MiB, "--retry", "0",
                             "--timeout", "20", *opts, rc=7)
        self.assertRegex(err, r"data connection[^:]*: (Connection reset by peer|Broken pipe); "
                              r"the server sent no reply to STOR within 5 s")
        self.assertNotIn("timed out", err)
        self.assertLess(took, 15)

    def test_plain_put_without_a_reply_reports_the_reset_after_a_few_seconds(self):
        self.check_no_reply()

    def test_segmented_put_without_a_reply_reports_the_reset_after_a_few_seconds(self):
        self.check_no_reply("--segments", "2")


class TestFileSizeLimitCut(FtpcCase):
    """ftpd under a file size limit: its 552 and its reset come while ftpc sends."""

    LIMIT = 1 * MiB

    def setUp(self):
        if not shutil.which("prlimit"):
            self.skipTest("prlimit is not installed")
        super().setUp()

    def start_server(self, **kw):
        srv = LimitedServer(self.LIMIT, **kw)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def check(self, *opts):
        self.write_local("big.bin", data_bytes(32 * MiB, seed=22))
        url = "ftp://%s:%s@%s:%d/new.bin" % (self.srv.user, self.srv.password, self.srv.host,
                                              self.srv.port)
        r = self.ftpc("--retry", "2", "--retry-delay", "0", *opts, "put", "big.bin", url, rc=5)
        err = r.stderr.decode("utf-8", "replace")
        self.assertRegex(err, r"uploading \S+new.bin: STOR: the server replied 552 Exceeded "
                              r"storage allocation: File too large \(the server's limit\)\.")
        self.assertNotIn("retrying", err.lower())
        self.assertNotIn("put -c", err)
        self.assertFalse(self.srv.exists("new.bin"))
        self.assertEqual([n for n in os.listdir(self.srv.root) if "new.bin" in n], [])
        self.assertEqual(self.srv.internal_files(), [])

    def test_plain_put(self):
        self.check()

    def test_segmented_put(self):
        self.check("--segments", "4")


if __name__ == "__main__":
    unittest.main()
